// Kubelet command-line arguments: what the user's --kubelet-extra-args say, and the systemd
// drop-ins that carry arguments to kubelet.service. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"

namespace agent::compute {

// Splits on whitespace, as systemd does when it expands an unbraced $VAR in ExecStart.
std::vector<std::string> split_args(std::string_view args);

// Facts about the user's extra args that change what the agent computes.
struct ExtraArgsInfo {
  std::optional<int> max_pods;  // the LAST --max-pods (kubelet's pflag takes the last one)
  bool reserved_cpus = false;   // --reserved-cpus: no kube/system-reserved cgroups
  bool kube_reserved = false;   // --kube-reserved: the user's reservation wins
  bool hostname_override = false;
  bool operator==(const ExtraArgsInfo&) const = default;
};
// Errors: Invalid when --max-pods has a value that is not a positive integer.
Result<ExtraArgsInfo> inspect_extra_args(std::string_view args);

// A drop-in "[Service]\nEnvironment='KEY=value'\n". The value is quoted for systemd: backslash
// and single quote escaped, '%' doubled (specifier expansion). Errors: Invalid for newlines or
// other control characters, which would corrupt the unit file.
Result<std::string> environment_dropin(std::string_view key, std::string_view value);

}  // namespace agent::compute
