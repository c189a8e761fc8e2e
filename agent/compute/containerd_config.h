// containerd's /etc/containerd/config.toml. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent::compute {

// Build-time fact: the containerd version the image ships ("1.7.27", "2.0.5"). gather reads it.
inline constexpr const char* kContainerdVersionPath = "/etc/eks/containerd-version.txt";

// The config file layout: version 2 for containerd 1.x, version 3 for containerd 2.x.
enum class ContainerdSchema { V2 = 2, V3 = 3 };

struct ContainerdConfigInput {
  std::string_view sandbox_image;
  // The contents of --containerd-config-file (named `user_source`); nullopt for the built-in one.
  std::optional<std::string> user_config;
  std::string_view user_source;
  // Layout of the built-in config (config/containerd-config.toml or containerd-config-v3.toml).
  // A user config keeps its own `version`.
  ContainerdSchema schema = ContainerdSchema::V2;
  // When set, an "nvidia" runtime (runc v2 shim, this BinaryName, SystemdCgroup) is added and made
  // containerd's default runtime.
  std::optional<std::string> nvidia_runtime_binary;
};

struct ContainerdConfig {
  std::string toml;             // the file's bytes
  int version = 2;              // its `version` key (1 when absent, as containerd reads it)
  std::string default_runtime;  // default_runtime_name in effect ("runc" when unset)
  bool nvidia_default = false;  // an nvidia runtime with the requested binary is the default
  bool user_rewritten = false;  // the user config was re-serialized to add the nvidia runtime
  bool operator==(const ContainerdConfig&) const = default;
};

// The built-in config for `schema` with the sandbox image (and, if asked, the nvidia runtime)
// filled in; or, when `user_config` is given, that file with any SANDBOX_IMAGE placeholder
// replaced, as bootstrap.sh did. To add the nvidia runtime to a user config of version 2 or 3 it is
// parsed and re-serialized (as nvidia-ctk does: comments are lost, keys sorted); a user config that
// already has that runtime as its default is kept byte for byte; one of another version is kept
// as given and nvidia_default is false. Deterministic: the same input gives the same bytes.
// Errors: Invalid for a sandbox image or runtime path that cannot be a TOML basic string; Parse
// for malformed TOML, naming the source file, line and column.
Result<ContainerdConfig> containerd_config_for(const ContainerdConfigInput& input);

// The same, for the built-in version 2 layout without extra runtimes: just the bytes.
Result<std::string> containerd_config_for(std::string_view sandbox_image,
                                          const std::optional<std::string>& user_config,
                                          std::string_view user_source);

}  // namespace agent::compute
