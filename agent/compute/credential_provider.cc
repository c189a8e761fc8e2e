#include "agent/compute/credential_provider.h"

#include <nlohmann/json.hpp>

namespace agent::compute {

using json = nlohmann::ordered_json;

std::vector<std::string> ecr_match_images(const Version& kubelet) {
  std::vector<std::string> m = {
      "*.dkr.ecr.*.amazonaws.com",         "*.dkr-ecr.*.on.aws",
      "*.dkr.ecr.*.amazonaws.com.cn",      "*.dkr-ecr.*.on.amazonwebservices.com.cn",
      "*.dkr.ecr-fips.*.amazonaws.com",    "*.dkr-ecr-fips.*.on.aws",
      "*.dkr.ecr.*.c2s.ic.gov",            "*.dkr.ecr.*.sc2s.sgov.gov",
      "*.dkr.ecr.*.cloud.adc-e.uk",        "*.dkr.ecr.*.csp.hci.ic.gov",
      "*.dkr.ecr.*.amazonaws.eu",
  };
  if (kubelet >= Version{1, 27, 0}) m.push_back("public.ecr.aws");
  return m;
}

std::string credential_provider_config_for(const Version& kubelet,
                                           const std::optional<std::string>& current,
                                           bool* current_unparsable) {
  const bool v1 = kubelet >= Version{1, 27, 0};
  json ours = {
      {"name", "ecr-credential-provider"},
      {"matchImages", ecr_match_images(kubelet)},
      {"defaultCacheDuration", "12h"},
      {"apiVersion", v1 ? "credentialprovider.kubelet.k8s.io/v1"
                        : "credentialprovider.kubelet.k8s.io/v1alpha1"},
  };
  json providers = json::array({ours});
  if (current) {
    json cur = json::parse(*current, nullptr, false);
    if (cur.is_object() && cur.contains("providers") && cur["providers"].is_array()) {
      for (const auto& p : cur["providers"]) {
        if (p.is_object() && p.value("name", "") != "ecr-credential-provider") providers.push_back(p);
      }
    } else if (current_unparsable != nullptr) {
      *current_unparsable = true;
    }
  }
  json cfg = {
      {"apiVersion", v1 ? "kubelet.config.k8s.io/v1" : "kubelet.config.k8s.io/v1alpha1"},
      {"kind", "CredentialProviderConfig"},
      {"providers", providers},
  };
  return cfg.dump(2) + "\n";
}

}  // namespace agent::compute
