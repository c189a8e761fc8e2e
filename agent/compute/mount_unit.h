// The [Mount] section of a systemd mount unit as a MountSpec, for mounting directly what systemd
// refused to mount. Pure.
#pragma once
#include <string_view>

#include "agent/model/result.h"
#include "agent/ports/mounter.h"

namespace agent::compute {

// What=, Where=, Type= and Options= of the unit's [Mount] section (the last assignment of each
// wins, as in systemd; comments and other sections are ignored). Errors: Invalid when What= or
// Where= is missing or Where= is not absolute.
Result<MountSpec> mount_spec_from_unit(std::string_view unit_text);

}  // namespace agent::compute
