// The TOML table merge behind merge_toml, for callers that already hold parsed tables (the AL2023
// containerd config merges its template with the user's TOML the same way). Pure.
#pragma once
#include <toml++/toml.h>

namespace agent::userdata {

// `src` merged into `dst`: where both sides hold a table the two merge key by key, recursively;
// anything else in `src` (a value, an array, an array of tables, a table over a value) replaces
// what `dst` had.
void merge_toml_tables(toml::table& dst, const toml::table& src);

}  // namespace agent::userdata
