// The `nodeadm-internal` command line (reference nodeadm.md 2.7, 3.13), as the AL2023 image's units
// call it: the binary under the name nodeadm-internal (a symlink), or `eks-node-agent
// nodeadm-internal ...`. Like nodeadm, its flags are global: they may come before or after the
// command, and there is no command-line stability guarantee.
//   nodeadm-internal udev-net-manager -i|--interface IFACE -a|--action add|remove
//   nodeadm-internal boot-hook
// Common flags: --root DIR (default /), --imds-endpoint URL (else AWS_EC2_METADATA_SERVICE_ENDPOINT,
// IMDS_ENDPOINT, 169.254.169.254), -d/--development (accepted, no effect). Hidden: --timeout-ms N,
// the boot hook's settle timeout (default 60000), for tests.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/app/nodeadm_internal.h"
#include "agent/model/result.h"

namespace agent::cli {

struct NodeadmInternalArgs {
  enum class Command { None, UdevNetManager, BootHook };
  Command command = Command::None;
  std::string interface;
  app::NetAction action = app::NetAction::Add;
  std::string root = "/";
  std::optional<std::string> imds_endpoint;
  std::chrono::milliseconds boot_hook_timeout{std::chrono::minutes(1)};
  bool help = false;
};

// Errors: Usage (unknown flag or command, a missing value, udev-net-manager without an interface
// or with an action other than add/remove, an interface name that is not a plain name).
Result<NodeadmInternalArgs> parse_nodeadm_internal_args(const std::vector<std::string>& args);

std::string nodeadm_internal_help();

// Runs the parsed command against the ports. Returns the exit status: 0, or 1 after logging the
// error (as nodeadm exits 1 on any failure).
int run_nodeadm_internal(const NodeadmInternalArgs& args, app::NodeadmInternalPorts& ports);

}  // namespace agent::cli
