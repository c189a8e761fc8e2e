#include "agent/compute/node_settings.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/compute/base64.h"
#include "agent/compute/cluster_config.h"
#include "agent/compute/ecr.h"
#include "agent/compute/instance_types.h"
#include "agent/compute/max_pods.h"
#include "agent/compute/max_pods_expression.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/reserved.h"
#include "agent/compute/user_config.h"

namespace agent::compute {
namespace {

void warn(NodeSettings& s, std::string id, std::string msg) {
  s.diagnostics.push_back({Diagnostic::Level::Warning, std::move(id), std::move(msg)});
}
void note(NodeSettings& s, std::string id, std::string msg) {
  s.diagnostics.push_back({Diagnostic::Level::Info, std::move(id), std::move(msg)});
}

Status check_cluster_identity(const NodeConfig& c, const Facts& f, NodeSettings& s) {
  if (!c.apiserver_endpoint || c.apiserver_endpoint->empty() || !c.b64_cluster_ca ||
      c.b64_cluster_ca->empty()) {
    return make_error(Errc::Invalid,
                      "the API server endpoint and CA of cluster {} are unknown: pass --apiserver-endpoint "
                      "and --b64-cluster-ca, or let the agent ask EKS DescribeCluster for them",
                      c.cluster_name);
  }
  if (c.enable_local_outpost && (!c.cluster_id || c.cluster_id->empty())) {
    return make_error(Errc::Invalid,
                      "--cluster-id is required for a local cluster on an Outpost (DescribeCluster returned "
                      "no id for {})",
                      c.cluster_name);
  }
  if (f.cluster) {
    note(s, "DESCRIBED_CLUSTER",
         fmt::format("EKS DescribeCluster: cluster {} is {}, endpoint {}{}", c.cluster_name, f.cluster->status,
                     *c.apiserver_endpoint,
                     f.cluster->outpost_arn ? fmt::format(", on Outpost {} (id {})", *f.cluster->outpost_arn, *c.cluster_id)
                                            : ""));
  }
  auto ca = base64_decode(*c.b64_cluster_ca);
  if (!ca) return ca.error().wrap("--b64-cluster-ca");
  if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    warn(s, "CA_NOT_PEM", "--b64-cluster-ca does not decode to a PEM certificate; kubelet will not trust the API server");
  }
  s.ca = std::move(ca).value();
  return {};
}

// The ENI-based max pods: the tables, then EC2's answer, then 110 (with a warning); then
// spec.kubelet.maxPodsExpression over it, as nodeadm evaluates it.
void eni_max_pods(const NodeConfig& c, const Facts& f, NodeSettings& s) {
  const InstanceFacts& in = f.instance;
  std::string override_error;
  MaxPodsDecision mp = max_pods_for(in.instance_type, f.eni_max_pods_override, &override_error);
  if (!override_error.empty()) {
    warn(s, "MAXPODS_TABLE_INVALID", fmt::format("{} is malformed and was ignored: {}", kEniMaxPodsPath, override_error));
  }
  if (mp.source == "default" && f.instance_type_info) {
    // bootstrap.sh's calculator fallback, on what EC2 DescribeInstanceTypes said.
    if (auto pods = max_pods_from_ec2(*f.instance_type_info)) {
      const NetworkingFacts net = networking_facts_from(*f.instance_type_info);
      mp = {.value = *pods, .source = "EC2 DescribeInstanceTypes", .fallback = false};
      note(s, "MAXPODS_FROM_EC2",
           fmt::format("instance type '{}' is in no max-pods table; EC2 says {} ENIs x ({} IPv4 - 1) + 2 = {} "
                       "pods; add it to {} to skip the call",
                       in.instance_type, net.max_enis, net.ipv4_per_eni, *pods, kEniMaxPodsPath));
    }
  }
  if (mp.fallback) {
    const std::string why = f.instance_type_lookup_error.empty()
                                ? ""
                                : fmt::format(" (EC2 DescribeInstanceTypes failed too: {})", f.instance_type_lookup_error);
    warn(s, "MAXPODS_FALLBACK",
         fmt::format("instance type '{}' is in no max-pods table; using {} ({}){}; add it to {} to pin it",
                     in.instance_type, mp.value, mp.source, why, kEniMaxPodsPath));
  }
  s.max_pods = mp.value;
  s.max_pods_source = mp.source;
  if (!c.max_pods_expression || c.max_pods_expression->empty()) return;
  // Without networking facts the expression is not evaluated at all, as nodeadm does; a failing
  // evaluation keeps the computed value (with a warning).
  std::optional<NetworkingFacts> net = builtin_networking(in.instance_type);
  if (!net && f.instance_type_info) net = networking_facts_from(*f.instance_type_info);
  if (!net || net->max_enis <= 0) {
    warn(s, "MAXPODS_EXPRESSION_SKIPPED",
         fmt::format("spec.kubelet.maxPodsExpression not evaluated: no networking facts for '{}'; using {}",
                     in.instance_type, s.max_pods));
  } else if (auto v = evaluate_max_pods_expression(
                 *c.max_pods_expression,
                 {.default_enis = net->max_enis, .ips_per_eni = net->ipv4_per_eni, .max_pods = s.max_pods})) {
    note(s, "MAXPODS_FROM_EXPRESSION",
         fmt::format("spec.kubelet.maxPodsExpression '{}' = {} (default_enis {}, ips_per_eni {}, max_pods {})",
                     *c.max_pods_expression, *v, net->max_enis, net->ipv4_per_eni, s.max_pods));
    s.max_pods = *v;
    s.max_pods_source = "spec.kubelet.maxPodsExpression";
  } else {
    warn(s, "MAXPODS_EXPRESSION_FAILED", fmt::format("{}; using the computed max pods {}", v.error().message, s.max_pods));
  }
}

// The user's last word on max pods (kubelet takes the last --max-pods, and a flag wins over the
// config file), and the reservations. kubeReserved memory is 11 x the ENI-based max pods + 255 Mi
// whatever the user's max pods, as bootstrap.sh and nodeadm reserve and as Karpenter models the
// node's allocatable memory; following the effective max pods instead is an opt-in.
Status max_pods_and_reservations(const NodeConfig& c, const Facts& f, NodeSettings& s) {
  AGENT_TRY(std::optional<int> config_max_pods, user_max_pods(c.kubelet_config));
  s.base_max_pods = s.max_pods;
  s.reserve_max_pods = s.max_pods;
  if (s.user_args.max_pods) {
    s.max_pods = *s.user_args.max_pods;
    s.max_pods_source = "--max-pods in --kubelet-extra-args";
  } else if (config_max_pods) {
    s.max_pods = *config_max_pods;
    s.max_pods_source = "spec.kubelet.config.maxPods";
  }
  const bool user_value = s.user_args.max_pods || config_max_pods;
  s.reserve_rule = c.kube_reserved_for_effective_max_pods ? "effective" : "eni";
  if (c.kube_reserved_for_effective_max_pods) s.reserve_max_pods = s.max_pods;
  if (user_value) {
    note(s, s.user_args.max_pods ? "MAXPODS_FROM_EXTRA_ARGS" : "MAXPODS_FROM_NODECONFIG",
         fmt::format("{} sets max pods {}; kubeReserved memory is computed for {} pods ({})",
                     s.user_args.max_pods ? "--kubelet-extra-args" : "the NodeConfig's kubelet config", s.max_pods,
                     s.reserve_max_pods,
                     c.kube_reserved_for_effective_max_pods
                         ? "--kube-reserved-max-pods effective"
                         : "the ENI-based value, as bootstrap.sh, nodeadm and Karpenter; "
                           "--kube-reserved-max-pods effective follows the user's value"));
  }
  s.reserved_cpu_m = cpu_reserved_millicores(f.vcpus);
  s.reserved_memory_mi = memory_reserved_mebibytes(s.reserve_max_pods);
  if (s.user_args.kube_reserved) {
    note(s, "KUBE_RESERVED_FROM_EXTRA_ARGS", "--kubelet-extra-args sets --kube-reserved; the computed kubeReserved is not written");
  }
  if (s.user_args.reserved_cpus) {
    note(s, "RESERVED_CPUS", "--kubelet-extra-args includes --reserved-cpus, so kube/system-reserved cgroups are not used");
  }
  return {};
}

Status node_identity(const NodeConfig& c, const Facts& f, NodeSettings& s) {
  const InstanceFacts& in = f.instance;
  if (s.family == IpFamily::Ipv4) {
    if (in.local_ipv4.empty()) {
      return make_error(Errc::Invalid,
                        "IMDS has no meta-data/local-ipv4 for this instance; for an IPv6 cluster pass --ip-family ipv6");
    }
    s.node_ip = in.local_ipv4;
  } else {
    if (in.ipv6s.empty()) {
      return make_error(Errc::Invalid,
                        "--ip-family ipv6 but the primary interface ({}) has no IPv6 address in IMDS; "
                        "assign one to the instance or use ipv4",
                        in.mac);
    }
    s.node_ip = in.ipv6s.front();
    if (in.ipv6s.size() > 1) {
      note(s, "NODE_IP_FIRST_IPV6",
           fmt::format("the primary interface has {} IPv6 addresses; using the first, {}", in.ipv6s.size(), s.node_ip));
    }
  }
  const bool user_hostname = s.user_args.hostname_override;
  s.by_instance_id = c.instance_id_node_name || c.hostname_source == HostnameSource::InstanceId;
  if (!user_hostname && !s.by_instance_id && c.hostname_source == HostnameSource::Ec2 &&
      (!f.ec2_private_dns_name || f.ec2_private_dns_name->empty())) {
    return make_error(Errc::Invalid, "--hostname-source ec2 but EC2 DescribeInstances gave no PrivateDnsName for {}",
                      in.instance_id);
  }
  if (!user_hostname && !s.by_instance_id && c.hostname_source == HostnameSource::Imds && in.local_hostname.empty()) {
    return make_error(Errc::Invalid,
                      "IMDS has no meta-data/local-hostname for this instance; pass "
                      "--hostname-override=NAME in --kubelet-extra-args");
  }
  s.hostname = s.by_instance_id                              ? in.instance_id
               : c.hostname_source == HostnameSource::Ec2 ? f.ec2_private_dns_name.value_or("")
                                                          : in.local_hostname;
  s.provider_id = fmt::format("aws:///{}/{}", in.availability_zone, in.instance_id);
  return {};
}

// The value of KEY=value or KEY="value" in an os-release file ("" when absent).
std::string os_release_value(std::string_view text, std::string_view key) {
  while (!text.empty()) {
    const auto eol = text.find('\n');
    std::string_view line = text.substr(0, eol);
    text = eol == std::string_view::npos ? std::string_view() : text.substr(eol + 1);
    if (line.size() <= key.size() || !line.starts_with(key) || line[key.size()] != '=') continue;
    std::string_view v = line.substr(key.size() + 1);
    while (!v.empty() && (v.back() == '\r' || v.back() == ' ')) v.remove_suffix(1);
    if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
    return std::string(v);
  }
  return "";
}

}  // namespace

Platform platform_for(std::optional<Platform> flag, const std::optional<std::string>& os_release) {
  if (flag) return *flag;
  if (!os_release) return Platform::Al2;
  const bool amazon = os_release_value(*os_release, "ID") == "amzn";
  return amazon && os_release_value(*os_release, "VERSION_ID").starts_with("2023") ? Platform::Al2023 : Platform::Al2;
}

Result<NodeSettings> node_settings_for(const NodeConfig& config, const Facts& f) {
  NodeSettings s;
  // What EKS DescribeCluster said fills in what the flags left unset (gather asked only then).
  s.config = with_cluster(config, f.cluster);
  const NodeConfig& c = s.config;
  AGENT_TRY_STATUS(check_cluster_identity(c, f, s));
  if (f.kubelet_version.major > kNewestKnownKubelet.major ||
      (f.kubelet_version.major == kNewestKnownKubelet.major && f.kubelet_version.minor > kNewestKnownKubelet.minor)) {
    warn(s, "KUBELET_VERSION_UNKNOWN",
         fmt::format("kubelet {} is newer than {}.{}, the newest this agent knows: the node is configured as for "
                     "{}.{}; check the agent's release notes for a newer build",
                     f.kubelet_version.str(), kNewestKnownKubelet.major, kNewestKnownKubelet.minor,
                     kNewestKnownKubelet.major, kNewestKnownKubelet.minor));
  }
  s.family = c.ip_family.value_or(IpFamily::Ipv4);

  // NodeConfig kubelet.flags reach kubelet before --kubelet-extra-args, so both are inspected in
  // that order (kubelet takes the last of a repeated flag).
  s.user_flags = fmt::format("{}", fmt::join(c.kubelet_flags, " "));
  AGENT_TRY(s.user_args, inspect_extra_args(s.user_flags + " " + c.kubelet_extra_args));
  if (c.kubelet_config.contains("reservedSystemCPUs")) s.user_args.reserved_cpus = true;

  eni_max_pods(c, f, s);
  AGENT_TRY_STATUS(max_pods_and_reservations(c, f, s));
  AGENT_TRY(s.dns, cluster_dns_for(DnsInput{
                       .dns_cluster_ip = c.dns_cluster_ip,
                       .ip_family = s.family,
                       .service_ipv4_cidr = c.service_ipv4_cidr,
                       .service_ipv6_cidr = c.service_ipv6_cidr,
                       .vpc_ipv4_cidrs = f.instance.vpc_ipv4_cidrs,
                   }));
  AGENT_TRY_STATUS(node_identity(c, f, s));

  const EcrRegistry ecr = ecr_registry_for(f.instance.region, f.instance.domain, c.pause_container_account);
  const std::string registry = f.fips_ecr_endpoint ? ecr.fips_host : ecr.host;
  s.pause_image = fmt::format("{}:{}", c.pause_container_image.value_or(registry + "/eks/pause"),
                              c.pause_container_version);
  return s;
}

}  // namespace agent::compute
