#include "agent/compute/cluster_config.h"

namespace agent::compute {
namespace {

bool unset(const std::optional<std::string>& v) { return !v || v->empty() || *v == "None"; }

}  // namespace

bool needs_describe_cluster(const NodeConfig& c) {
  return unset(c.apiserver_endpoint) || unset(c.b64_cluster_ca);
}

NodeConfig with_cluster(const NodeConfig& config, const std::optional<ClusterInfo>& cluster) {
  if (!cluster) return config;
  NodeConfig c = config;
  const ClusterInfo& k = *cluster;
  if (unset(c.apiserver_endpoint) && !k.endpoint.empty()) c.apiserver_endpoint = k.endpoint;
  if (unset(c.b64_cluster_ca) && !k.certificate_authority.empty()) c.b64_cluster_ca = k.certificate_authority;
  if (unset(c.service_ipv4_cidr) && k.service_ipv4_cidr) c.service_ipv4_cidr = k.service_ipv4_cidr;
  if (unset(c.service_ipv6_cidr) && k.service_ipv6_cidr) c.service_ipv6_cidr = k.service_ipv6_cidr;
  if (!c.ip_family && k.ip_family) {
    if (*k.ip_family == "ipv6") c.ip_family = IpFamily::Ipv6;
    if (*k.ip_family == "ipv4") c.ip_family = IpFamily::Ipv4;
  }
  if (unset(c.cluster_id) && !k.id.empty()) c.cluster_id = k.id;
  // bootstrap.sh: the flag if given, else "an Outpost ARN was returned". A local cluster can only
  // be joined through bootstrap-kubeconfig with its id, so the detection also wins over a default.
  if (k.outpost_arn) c.enable_local_outpost = true;
  return c;
}

Status check_cluster(const ClusterInfo& k) {
  if (k.endpoint.empty() || k.certificate_authority.empty()) {
    return make_error(Errc::AwsApi,
                      "EKS cluster '{}' (status {}) has no {}: DescribeCluster returned none; pass "
                      "--apiserver-endpoint and --b64-cluster-ca",
                      k.name, k.status.empty() ? "unknown" : k.status,
                      k.endpoint.empty() ? "API server endpoint" : "certificate authority");
  }
  return {};
}

}  // namespace agent::compute
