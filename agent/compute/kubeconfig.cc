#include "agent/compute/kubeconfig.h"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

namespace agent::compute {

namespace {
// A JSON string is a valid YAML double-quoted scalar.
std::string q(const std::string& s) { return nlohmann::json(s).dump(); }
}  // namespace

std::string kubeconfig_for(const std::string& endpoint, const std::string& cluster,
                           const std::string& region) {
  return fmt::format(
      "apiVersion: v1\n"
      "kind: Config\n"
      "clusters:\n"
      "- cluster:\n"
      "    certificate-authority: /etc/kubernetes/pki/ca.crt\n"
      "    server: {}\n"
      "  name: kubernetes\n"
      "contexts:\n"
      "- context:\n"
      "    cluster: kubernetes\n"
      "    user: kubelet\n"
      "  name: kubelet\n"
      "current-context: kubelet\n"
      "users:\n"
      "- name: kubelet\n"
      "  user:\n"
      "    exec:\n"
      "      apiVersion: client.authentication.k8s.io/v1beta1\n"
      "      command: /usr/bin/aws-iam-authenticator\n"
      "      args:\n"
      "        - \"token\"\n"
      "        - \"-i\"\n"
      "        - {}\n"
      "        - --region\n"
      "        - {}\n",
      q(endpoint), q(cluster), q(region));
}

}  // namespace agent::compute
