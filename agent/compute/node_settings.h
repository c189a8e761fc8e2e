// node_settings: the values every layout shares, computed once from (NodeConfig, Facts). Pure.
//
// Both layouts (bootstrap.sh's AL2 files and nodeadm's AL2023 files) are renderings of the same
// decisions: the cluster identity and CA, max pods and where it came from, the reservations,
// cluster DNS, the node IP and name, the provider id and the pause image. They are decided here
// and only here, so that the same inputs give the same node on either platform.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/compute/cluster_dns.h"
#include "agent/compute/kubelet_args.h"
#include "agent/model/facts.h"
#include "agent/model/node_config.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

// The newest kubelet minor whose flags and config fields the agent knows (README "AL2023").
inline constexpr Version kNewestKnownKubelet{1, 35, 0};

struct NodeSettings {
  NodeConfig config;   // the effective configuration: the flags and documents, then DescribeCluster
  std::string ca;      // the decoded cluster CA bundle (secret-free, but never logged)
  IpFamily family = IpFamily::Ipv4;
  ExtraArgsInfo user_args;  // what NodeConfig kubelet.flags and --kubelet-extra-args set, in that order
  std::string user_flags;   // NodeConfig kubelet.flags, space-joined (kubelet sees them first)

  int max_pods = 110;           // what kubelet will use (the last word: flags, then the config)
  std::string max_pods_source;  // human text: "built-in table", "--max-pods in --kubelet-extra-args", ...
  int base_max_pods = 110;      // the table's (or maxPodsExpression's) value, before the user's
  int reserve_max_pods = 110;   // the max pods kubeReserved memory is computed for (see reserve_rule)
  std::string reserve_rule;     // "eni" (Karpenter's and the peers' rule) or "effective" (opt-in)
  int reserved_cpu_m = 0;
  int reserved_memory_mi = 0;

  DnsDecision dns;
  std::string node_ip;
  bool by_instance_id = false;  // the node is named after its instance id
  std::string hostname;         // --hostname-override (unused when the user's flags set one)
  std::string provider_id;      // aws:///AZ/INSTANCE
  std::string pause_image;      // REGISTRY/eks/pause:VERSION (the AL2 sandbox image)

  std::vector<Diagnostic> diagnostics;  // what deciding these said, in order
};

// The layout a run writes: `flag` (--platform, or the nodeadm program name) when set, else
// Amazon Linux 2023 when /etc/os-release says ID=amzn and VERSION_ID=2023 (or 2023.x), else Amazon Linux 2
// (also for images that are neither: bootstrap.sh's layout is the one this agent started with).
Platform platform_for(std::optional<Platform> flag, const std::optional<std::string>& os_release);

// Errors: Invalid (missing endpoint/CA, a CA that is not base64, a DNS rule violation, no node IP
// or hostname in the facts, a bad --max-pods), as plan_node documents them.
Result<NodeSettings> node_settings_for(const NodeConfig& config, const Facts& facts);

}  // namespace agent::compute
