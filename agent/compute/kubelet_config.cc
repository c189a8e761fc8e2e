#include "agent/compute/kubelet_config.h"

#include <nlohmann/json.hpp>

#include "agent/model/embedded.h"

namespace agent::compute {

using json = nlohmann::ordered_json;

Result<std::string> kubelet_config_for(const KubeletConfigInput& in) {
  std::string_view text = in.current ? std::string_view(*in.current)
                                     : embedded::file("config/kubelet-config.json");
  json cfg = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (cfg.is_discarded() || !cfg.is_object()) {
    // Re-parse with exceptions only to get nlohmann's line/column message.
    std::string detail = "not a JSON object";
    try {
      json probe = json::parse(text);
      detail = probe.is_object() ? "" : "not a JSON object";
    } catch (const json::parse_error& e) {
      detail = e.what();
    }
    return make_error(Errc::Parse,
                      "/etc/kubernetes/kubelet/kubelet-config.json: {}; fix the file or delete it to "
                      "start from the built-in default",
                      detail);
  }

  cfg["cgroupDriver"] = "systemd";
  cfg["clusterDNS"] = in.cluster_dns;
  // bootstrap.sh only fills these in for 1.22 <= kubelet < 1.27, and keeps values already there.
  if (in.kubelet_version >= Version{1, 22, 0} && in.kubelet_version < Version{1, 27, 0}) {
    if (!cfg.contains("kubeAPIQPS") || cfg["kubeAPIQPS"].is_null()) cfg["kubeAPIQPS"] = 10;
    if (!cfg.contains("kubeAPIBurst") || cfg["kubeAPIBurst"].is_null()) cfg["kubeAPIBurst"] = 20;
  }
  cfg["evictionHard"] = json{{"memory.available", "100Mi"},
                             {"nodefs.available", "10%"},
                             {"nodefs.inodesFree", "5%"}};
  if (in.kube_reserved_cpu && in.kube_reserved_memory) {
    cfg["kubeReserved"] = json{{"cpu", *in.kube_reserved_cpu},
                               {"ephemeral-storage", "1Gi"},
                               {"memory", *in.kube_reserved_memory}};
  } else {
    cfg.erase("kubeReserved");
  }
  if (in.max_pods) {
    cfg["maxPods"] = *in.max_pods;
  } else {
    cfg.erase("maxPods");
  }
  cfg["providerID"] = in.provider_id;
  if (in.reserved_cgroups) {
    cfg["systemReservedCgroup"] = "/system";
    cfg["kubeReservedCgroup"] = "/runtime";
  } else {
    cfg.erase("systemReservedCgroup");
    cfg.erase("kubeReservedCgroup");
  }
  return cfg.dump(2) + "\n";
}

}  // namespace agent::compute
