// Command line of the bootstrap (default) command: bootstrap.sh's flags, their environment
// variables, and the agent's own options. Parsing is pure: argv and an environment lookup in,
// Options or a usage/invalid Error out.
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/model/node_config.h"
#include "agent/model/result.h"

namespace agent::cli {

enum class ServiceMode { Auto, Dbus, Offline };

// `nodeadm init` (cli/nodeadm_cli.h): its phases and config cache. Unset for the bootstrap command.
struct NodeadmPhases {
  bool config = true;                           // cleared by --skip config
  bool run = true;                              // cleared by --skip run
  std::optional<std::set<std::string>> daemons;  // --daemon, as unit names; unset: containerd and kubelet
  std::string cache_path;                       // --config-cache (node path), "" for none
  bool operator==(const NodeadmPhases&) const = default;
};

struct Options {
  NodeConfig node;
  std::string root = "/";
  bool dry_run = false;
  bool help = false;
  bool version = false;
  bool quiet = false;
  std::optional<std::string> imds_endpoint;
  ServiceMode service_mode = ServiceMode::Auto;
  std::chrono::seconds timeout{240};            // whole run, matches the unit's TimeoutStartSec
  std::chrono::milliseconds kubelet_settle{1500};  // how long kubelet must stay up after start
  std::vector<std::string> warnings;             // accepted-but-ignored flags
  std::vector<std::string> sources;              // "--flag" or "ENV_VAR" per set field, for status
  std::set<std::string> given;                   // flags set on the command line or by their variable
  std::vector<std::string> config_sources;       // --config-source URIs, in order (later wins)
  std::optional<NodeadmPhases> nodeadm;          // set: nodeadm's init flow (app::run_bootstrap)
};

using Getenv = std::function<const char*(const char*)>;

// Parses the bootstrap command line. `args` excludes argv[0]. Every bootstrap.sh flag takes
// exactly one value (`--flag value` or `--flag=value`; the value may start with "--", as
// --kubelet-extra-args does); when a flag is absent its bootstrap.sh environment variable is used
// (empty counts as unset); the flag wins. --config-source may repeat. Errors: Usage (unknown
// option, missing value, extra positional, no cluster name) and Invalid (a value that cannot be
// right, naming the flag). With --config-source the cluster-wide checks (cluster name, IP family,
// Outpost id) wait for check_node_config, after the NodeConfig documents are applied.
Result<Options> parse_bootstrap_args(const std::vector<std::string>& args, const Getenv& getenv);

// The checks that need the whole configuration: a cluster name (Usage, "no cluster name: ..."),
// --service-ipv6-cidr implying ipv6, --cluster-id with an Outpost (Invalid). Sets ip_family to
// ipv6 when an IPv6 service CIDR is given.
Status check_node_config(Options& options);

// The --help text (also the source of the man page and completion).
std::string bootstrap_help(const std::string& program);

}  // namespace agent::cli
