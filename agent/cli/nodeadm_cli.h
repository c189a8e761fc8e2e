// nodeadm's command line (README "nodeadm command line"): the same binary invoked as `nodeadm` (a
// link) or as `eks-node-agent nodeadm ...`. Parsing is pure: argv in, a
// command value or a Usage error out; main runs the command.
#pragma once
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "agent/cli/options.h"
#include "agent/model/result.h"

namespace agent::cli {

// The AL2023 image's paths, as nodeadm's units name them.
inline constexpr const char* kNodeadmDropInDir = "/etc/eks/nodeadm.d/";
inline constexpr const char* kNodeadmCachePath = "/run/eks/nodeadm/config.json";

struct NodeadmCommand {
  enum class Verb { Help, Version, Init, ConfigCheck, ConfigDump };
  Verb verb = Verb::Help;
  std::string help_topic;                    // Help: "", "init" or "config"
  bool development = false;                  // -d/--development (before a subcommand, or anywhere but init's -d)
  std::vector<std::string> config_sources;   // -c/--config-source as given; empty: imds://user-data
  std::string config_cache;                  // --config-cache PATH ("" none)
  std::set<std::string> skip;                // -s/--skip: "config", "run" (other values ignored)
  std::optional<std::vector<std::string>> daemons;  // -d/--daemon under init; unset: every daemon
  std::string config_output;                 // config dump -o/--config-output ("" stdout)
  // The agent's own options, for tests and image roots (not nodeadm's).
  std::string root = "/";
  bool dry_run = false;
  std::optional<std::string> imds_endpoint;
  ServiceMode service_mode = ServiceMode::Auto;
};

// `args` excludes argv[0] (and the "nodeadm" word of `eks-node-agent nodeadm`). No subcommand,
// -h/--help or `help` give Verb::Help. Errors: Usage (an unknown subcommand or option, a missing
// value), as nodeadm's parser exits 2 on them.
Result<NodeadmCommand> parse_nodeadm_args(const std::vector<std::string>& args);

// The --help text for `topic` ("", "init", "config").
std::string nodeadm_help(const std::string& program, std::string_view topic);

// What `init` runs, in the run's Options: the sources (default imds://user-data), phases, cache,
// daemons (unit names), platform AL2023, the deadline. `aws_max_attempts` is nodeadm_aws_attempts().
Options nodeadm_init_options(const NodeadmCommand& command, int aws_max_attempts);

// A source URI as nodeadm reads it (host + path of a file:// URL), made node-absolute:
// file://config.yaml and file://a/b are relative to `cwd` (a host path); with a `root` other than
// "/" the result must lie under it and is given relative to it. imds:// and absolute file:///
// URIs are returned as they are. Errors: Usage for another scheme or a relative path outside root.
Result<std::string> absolute_config_source(std::string_view uri, const std::string& cwd, const std::string& root);

// nodeadm's attempt budget for an AWS call: AWS_MAX_ATTEMPTS when it is a positive integer, else 30.
int nodeadm_aws_attempts(const char* aws_max_attempts_env);

// Per-attempt connect timeout for EC2 (nodeadm's SDK transport), and IMDS's budget when it comes
// up late (about 60 attempts, at most 1 s apart).
inline constexpr std::chrono::seconds kNodeadmAwsConnectTimeout{30};
inline constexpr std::chrono::seconds kNodeadmImdsBudget{120};
inline constexpr int kNodeadmImdsAttempts = 60;
// DescribeInstances waits for PrivateDnsName for at most this long (nodeadm's waiter: 10 min).
inline constexpr std::chrono::seconds kNodeadmPrivateDnsWait{600};
// What files and units need after enrichment (the AL2 run's whole budget).
inline constexpr std::chrono::seconds kNodeadmApplyBudget{300};

// The run's deadline, so that it never cuts the budgets above short: IMDS + attempts x connect
// timeout + the PrivateDnsName wait + files and units.
std::chrono::seconds nodeadm_deadline(int aws_max_attempts);

}  // namespace agent::cli
