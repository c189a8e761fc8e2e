// The kubelet's config file, /etc/kubernetes/kubelet/kubelet-config.json. Pure.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute {

struct KubeletConfigInput {
  std::optional<std::string> current;  // the file as it is now; nullopt: start from config/ default
  std::vector<std::string> cluster_dns;
  Version kubelet_version;
  std::optional<int> max_pods;         // written as maxPods when set, removed when not
  std::optional<std::string> kube_reserved_cpu;     // "70m"; nullopt: leave kubeReserved out
  std::optional<std::string> kube_reserved_memory;  // "574Mi"
  std::string provider_id;
  bool reserved_cgroups = true;        // systemReservedCgroup=/system, kubeReservedCgroup=/runtime
};

// Patches the current config: keys the agent owns (cgroupDriver, clusterDNS, kubeAPIQPS/Burst for
// 1.22 <= kubelet < 1.27 when absent, evictionHard, kubeReserved, maxPods, providerID, the reserved
// cgroups) are set or removed; every other key, and the order of keys, is preserved, so a re-run
// produces the same bytes. Output: 2-space indented JSON with a trailing newline (jq's layout).
// Errors: Parse when the current file is not a JSON object (message has line and column).
Result<std::string> kubelet_config_for(const KubeletConfigInput& in);

}  // namespace agent::compute
