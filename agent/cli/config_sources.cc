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

Status apply_node_config(Options& o, const userdata::NodeConfigDoc& merged, std::vector<std::string>& warnings) {
  const userdata::NodeConfigSpec& s = merged.spec;
  NodeConfig& n = o.node;
  auto overridden = [&](const char* field, const char* flag) {
    warnings.push_back(fmt::format("{}: {} is overridden by {}", origin_of(merged, field), field, flag));
  };
  auto took = [&](const std::string& field) { o.sources.push_back(provenance(merged, field)); };

  if (s.name) {
    if (given(o, "--cluster")) {
      if (*s.name != n.cluster_name) overridden("spec.cluster.name", "the cluster name on the command line");
    } else {
      n.cluster_name = *s.name;
      took("spec.cluster.name");
    }
  }
  if (s.api_server_endpoint) {
    if (given(o, "--apiserver-endpoint")) {
      overridden("spec.cluster.apiServerEndpoint", "--apiserver-endpoint");
    } else {
      n.apiserver_endpoint = *s.api_server_endpoint;
      took("spec.cluster.apiServerEndpoint");
    }
  }
  if (s.certificate_authority) {
    if (given(o, "--b64-cluster-ca")) {
      overridden("spec.cluster.certificateAuthority", "--b64-cluster-ca");
    } else {
      n.b64_cluster_ca = *s.certificate_authority;
      took("spec.cluster.certificateAuthority");
    }
  }
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
  if (s.enable_outpost) {
    if (given(o, "--enable-local-outpost")) {
      overridden("spec.cluster.enableOutpost", "--enable-local-outpost");
    } else {
      n.enable_local_outpost = *s.enable_outpost;
      took("spec.cluster.enableOutpost");
    }
  }
  if (s.id) {
    if (given(o, "--cluster-id")) {
      overridden("spec.cluster.id", "--cluster-id");
    } else {
      n.cluster_id = *s.id;
      took("spec.cluster.id");
    }
  }
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
  if ((s.nameservers && !s.nameservers->empty()) || (s.domains && !s.domains->empty())) {
    n.nameservers = s.nameservers.value_or(std::vector<std::string>{});
    n.dns_domains = s.domains.value_or(std::vector<std::string>{});
    took("spec.instance.network");
  }
  if (s.max_pods_expression && !s.max_pods_expression->empty()) {
    n.max_pods_expression = *s.max_pods_expression;
    took("spec.kubelet.maxPodsExpression");
  }
  if (s.containerd_config && !s.containerd_config->empty()) {
    if (given(o, "--containerd-config-file")) {
      overridden("spec.containerd.config", "--containerd-config-file");
    } else {
      n.containerd_config_toml = *s.containerd_config;
      took("spec.containerd.config");
    }
  }
  if (s.base_runtime_spec) {
    n.base_runtime_spec = *s.base_runtime_spec;
    took("spec.containerd.baseRuntimeSpec");
  }
  if (s.local_storage_strategy) {
    if (given(o, "--local-disks")) {
      overridden("spec.instance.localStorage.strategy", "--local-disks");
    } else {
      std::string v = *s.local_storage_strategy;
      for (char& c : v) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
      n.local_disks = v;
      took("spec.instance.localStorage.strategy");
    }
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
  if (s.kube_reserved_max_pods) {
    if (given(o, "--kube-reserved-max-pods")) {
      overridden("metadata.annotations.node-agent.eks.aws/kube-reserved-max-pods", "--kube-reserved-max-pods");
    } else {
      n.kube_reserved_for_effective_max_pods = *s.kube_reserved_max_pods == "effective";
    }
  }
  if (auto it = s.feature_gates.find("InstanceIdNodeName"); it != s.feature_gates.end()) {
    n.instance_id_node_name = it->second;
    took("spec.featureGates.InstanceIdNodeName");
  }
  if (auto it = s.feature_gates.find("FastImagePull"); it != s.feature_gates.end()) {
    n.fast_image_pull = it->second;
    took("spec.featureGates.FastImagePull");
  }
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
