#include "agent/cli/config_sources.h"

#include <algorithm>

#include <fmt/format.h>

namespace agent::cli {
namespace {

bool given(const Options& o, const char* flag) { return o.given.count(flag) > 0; }

std::string origin_of(const userdata::NodeConfigDoc& doc, const std::string& field) {
  // The closest recorded field: "spec.cluster.cidr", else "spec.cluster", else the document.
  std::string f = field;
  while (true) {
    if (auto it = doc.fields.find(f); it != doc.fields.end()) {
      userdata::Origin o = it->second;
      return o.str();
    }
    auto dot = f.rfind('.');
    if (dot == std::string::npos) break;
    f = f.substr(0, dot);
  }
  return doc.origin.str();
}

// Where a field came from, without the line: for options.sources and the status file.
std::string provenance(const userdata::NodeConfigDoc& doc, const std::string& field) {
  userdata::Origin o = doc.origin;
  if (auto it = doc.fields.find(field); it != doc.fields.end()) o = it->second;
  o.mark = {};
  return fmt::format("{} ({})", field, o.str());
}

}  // namespace

std::vector<std::string> boot_config_sources() {
  return {kUserDataSource, std::string("file://") + kDropInDir};
}

Result<ConfigSource> parse_config_source(std::string_view uri) {
  ConfigSource s;
  s.uri = std::string(uri);
  if (uri.starts_with("imds://")) {
    s.kind = ConfigSource::Kind::UserData;
    return s;
  }
  if (uri.starts_with("file://")) {
    s.kind = ConfigSource::Kind::File;
    s.path = std::string(uri.substr(7));
    if (s.path.empty() || s.path[0] != '/') {
      return make_error(Errc::Usage,
                        "--config-source {}: a file source needs an absolute path, as in file:///etc/eks/x.yaml",
                        uri);
    }
    s.directory = s.path.back() == '/';
    return s;
  }
  return make_error(Errc::Usage,
                    "--config-source {}: unsupported source (use imds://user-data or file:///path)", uri);
}

bool tolerates_no_node_config(const ConfigSource& s) {
  return s.kind == ConfigSource::Kind::UserData || s.directory;
}

namespace {

// Maps one merged NodeConfig onto the options, field by field, recording where each value came
// from (o.sources) and which fields the command line overrode (warnings).
struct FieldMapper {
  Options& o;
  const userdata::NodeConfigDoc& merged;
  std::vector<std::string>& warnings;

  void overridden(const char* field, const char* by) {
    warnings.push_back(fmt::format("{}: {} is overridden by {}", origin_of(merged, field), field, by));
  }
  void took(const std::string& field) { o.sources.push_back(provenance(merged, field)); }
  // A field the command line can also set: the flag wins (and a warning says so), else the field.
  template <typename T, typename U>
  void unless_flag(const std::optional<T>& value, const char* field, const char* flag, U& target) {
    if (!value) return;
    if (given(o, flag)) return overridden(field, flag);
    target = *value;
    took(field);
  }

  Status cluster(const userdata::NodeConfigSpec& s);
  void kubelet(const userdata::NodeConfigSpec& s);
  void containerd(const userdata::NodeConfigSpec& s);
  void instance(const userdata::NodeConfigSpec& s);
  void feature_gates(const userdata::NodeConfigSpec& s);
};

Status FieldMapper::cluster(const userdata::NodeConfigSpec& s) {
  NodeConfig& n = o.node;
  if (s.name) {
    if (given(o, "--cluster")) {
      if (*s.name != n.cluster_name) overridden("spec.cluster.name", "the cluster name on the command line");
    } else {
      n.cluster_name = *s.name;
      took("spec.cluster.name");
    }
  }
  unless_flag(s.api_server_endpoint, "spec.cluster.apiServerEndpoint", "--apiserver-endpoint", n.apiserver_endpoint);
  unless_flag(s.certificate_authority, "spec.cluster.certificateAuthority", "--b64-cluster-ca", n.b64_cluster_ca);
  if (s.cidr && !s.cidr->empty()) {
    if (given(o, "--service-ipv4-cidr") || given(o, "--service-ipv6-cidr")) {
      overridden("spec.cluster.cidr", given(o, "--service-ipv4-cidr") ? "--service-ipv4-cidr" : "--service-ipv6-cidr");
    } else {
      const bool v6 = s.cidr->find(':') != std::string::npos;
      if (given(o, "--ip-family") && n.ip_family == (v6 ? IpFamily::Ipv4 : IpFamily::Ipv6)) {
        return make_error(Errc::Invalid, "{}: spec.cluster.cidr {} is an {} CIDR but --ip-family is {}",
                          origin_of(merged, "spec.cluster.cidr"), *s.cidr, v6 ? "IPv6" : "IPv4",
                          v6 ? "ipv4" : "ipv6");
      }
      (v6 ? n.service_ipv6_cidr : n.service_ipv4_cidr) = *s.cidr;
      if (!given(o, "--ip-family")) n.ip_family = v6 ? IpFamily::Ipv6 : IpFamily::Ipv4;
      took("spec.cluster.cidr");
    }
  }
  unless_flag(s.enable_outpost, "spec.cluster.enableOutpost", "--enable-local-outpost", n.enable_local_outpost);
  unless_flag(s.id, "spec.cluster.id", "--cluster-id", n.cluster_id);
  return {};
}

void FieldMapper::kubelet(const userdata::NodeConfigSpec& s) {
  NodeConfig& n = o.node;
  if (!s.kubelet_config.empty()) {
    n.kubelet_config = s.kubelet_config;
    if (given(o, "--dns-cluster-ip") && n.kubelet_config.contains("clusterDNS")) {
      n.kubelet_config.erase("clusterDNS");
      overridden("spec.kubelet.config.clusterDNS", "--dns-cluster-ip");
    }
    took("spec.kubelet.config");
  }
  if (!s.kubelet_flags.empty()) {
    // Both reach kubelet: the document's flags first, --kubelet-extra-args after them, so that
    // a flag given in both takes the command line's value (kubelet keeps the last).
    n.kubelet_flags = s.kubelet_flags;
    took("spec.kubelet.flags");
  }
  if (s.max_pods_expression && !s.max_pods_expression->empty()) {
    n.max_pods_expression = *s.max_pods_expression;
    took("spec.kubelet.maxPodsExpression");
  }
  if (s.kube_reserved_max_pods) {
    if (given(o, "--kube-reserved-max-pods")) {
      overridden("metadata.annotations.node-agent.eks.aws/kube-reserved-max-pods", "--kube-reserved-max-pods");
    } else {
      n.kube_reserved_for_effective_max_pods = *s.kube_reserved_max_pods == "effective";
    }
  }
}

void FieldMapper::containerd(const userdata::NodeConfigSpec& s) {
  NodeConfig& n = o.node;
  if (s.containerd_config && !s.containerd_config->empty()) {
    unless_flag(s.containerd_config, "spec.containerd.config", "--containerd-config-file", n.containerd_config_toml);
  }
  if (s.base_runtime_spec) {
    n.base_runtime_spec = *s.base_runtime_spec;
    took("spec.containerd.baseRuntimeSpec");
  }
}

void FieldMapper::instance(const userdata::NodeConfigSpec& s) {
  NodeConfig& n = o.node;
  if ((s.nameservers && !s.nameservers->empty()) || (s.domains && !s.domains->empty())) {
    n.nameservers = s.nameservers.value_or(std::vector<std::string>{});
    n.dns_domains = s.domains.value_or(std::vector<std::string>{});
    took("spec.instance.network");
  }
  if (s.local_storage_strategy) {
    std::string v = *s.local_storage_strategy;
    for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    unless_flag(std::optional<std::string>(v), "spec.instance.localStorage.strategy", "--local-disks", n.local_disks);
  }
  if (s.local_storage_mount_path && !given(o, "--local-disks-dir")) n.local_disks_mount_path = *s.local_storage_mount_path;
  if (s.local_storage_disabled_mounts) {  // added to what --no-bind-* switched off
    for (const auto& m : *s.local_storage_disabled_mounts) {
      auto& list = n.local_disks_disabled_mounts;
      if (std::find(list.begin(), list.end(), m) == list.end()) list.push_back(m);
    }
  }
  if (!s.environment.empty()) {
    n.environment = s.environment;
    took("spec.instance.environment");
  }
}

void FieldMapper::feature_gates(const userdata::NodeConfigSpec& s) {
  NodeConfig& n = o.node;
  if (auto it = s.feature_gates.find("InstanceIdNodeName"); it != s.feature_gates.end()) {
    n.instance_id_node_name = it->second;
    took("spec.featureGates.InstanceIdNodeName");
  }
  if (auto it = s.feature_gates.find("FastImagePull"); it != s.feature_gates.end()) {
    n.fast_image_pull = it->second;
    took("spec.featureGates.FastImagePull");
  }
}

}  // namespace

Status apply_node_config(Options& o, const userdata::NodeConfigDoc& merged, std::vector<std::string>& warnings) {
  FieldMapper map{o, merged, warnings};
  const userdata::NodeConfigSpec& s = merged.spec;
  AGENT_TRY_STATUS(map.cluster(s));
  map.kubelet(s);
  map.containerd(s);
  map.instance(s);
  map.feature_gates(s);
  return {};
}

Status check_with_node_config(Options& o, const userdata::NodeConfigDoc& merged) {
  const NodeConfig& n = o.node;
  auto missing = [&](const char* field, const std::string& what) {
    return make_error(Errc::Invalid, "{}: {} {}", origin_of(merged, "spec.cluster"), field, what);
  };
  if (n.cluster_name.empty()) return missing("spec.cluster.name", "is required (or pass --cluster NAME)");
  if (!n.apiserver_endpoint || n.apiserver_endpoint->empty()) {
    return missing("spec.cluster.apiServerEndpoint", "is required (or pass --apiserver-endpoint)");
  }
  if (!n.b64_cluster_ca || n.b64_cluster_ca->empty()) {
    return missing("spec.cluster.certificateAuthority", "is required (or pass --b64-cluster-ca)");
  }
  const bool has_cidr = (n.service_ipv4_cidr && !n.service_ipv4_cidr->empty()) ||
                        (n.service_ipv6_cidr && !n.service_ipv6_cidr->empty());
  if (!has_cidr && n.dns_cluster_ip.empty() && !n.kubelet_config.contains("clusterDNS")) {
    return missing("spec.cluster.cidr", "is required unless --dns-cluster-ip is given");
  }
  if (n.enable_local_outpost && (!n.cluster_id || n.cluster_id->empty())) {
    return make_error(Errc::Invalid, "{}: spec.cluster.id is required when spec.cluster.enableOutpost is true "
                      "(or pass --cluster-id)", origin_of(merged, "spec.cluster.enableOutpost"));
  }
  return check_node_config(o);
}

}  // namespace agent::cli
