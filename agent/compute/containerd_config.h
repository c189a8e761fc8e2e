// containerd's /etc/containerd/config.toml. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent::compute {

// The built-in config (config/containerd-config.toml) with the sandbox image filled in, or, when
// `user_config` is given (the contents of --containerd-config-file named `user_source`), that file
// with any SANDBOX_IMAGE placeholder replaced, as bootstrap.sh did. The result is parsed as TOML.
// Errors: Invalid for a sandbox image that cannot be a TOML basic string; Parse for malformed
// TOML, naming the source file, line and column.
Result<std::string> containerd_config_for(std::string_view sandbox_image,
                                          const std::optional<std::string>& user_config,
                                          std::string_view user_source);

}  // namespace agent::compute
