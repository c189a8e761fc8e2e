// Go encoding/json output of a value whose object members keep
// their insertion order (a Go struct's field order). Pure.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

namespace agent::compute::al2023 {

// json.MarshalIndent of a struct-shaped value: members in `value`'s order, `indent` spaces, HTML
// escaping, numbers in Go's float64 form, no trailing newline.
std::string go_json_struct_indent(const nlohmann::ordered_json& value, int indent);

// Go encoding/json MarshalIndent of a map-shaped value (keys sorted, as Go sorts map keys).
std::string go_json_marshal_indent(const nlohmann::json& value, int indent);

}  // namespace agent::compute::al2023
