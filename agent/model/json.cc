// JSON mappings of the value types (status file, --dry-run, golden tests). Secrets (the CA) are
// never serialized: FileWrite of a secret file shows its size only.
#include <nlohmann/json.hpp>

#include "agent/model/facts.h"
#include "agent/model/node_config.h"
#include "agent/model/plan.h"

namespace agent {

void to_json(nlohmann::json& j, const NodeConfig& c) {
  j = nlohmann::json{
      {"clusterName", c.cluster_name},
      {"apiServerEndpoint", c.apiserver_endpoint.value_or("")},
      {"certificateAuthority", c.b64_cluster_ca ? "(set)" : ""},
      {"useMaxPods", c.use_max_pods},
      {"kubeletExtraArgs", c.kubelet_extra_args},
      {"dnsClusterIP", c.dns_cluster_ip},
      {"serviceIPv4CIDR", c.service_ipv4_cidr.value_or("")},
      {"serviceIPv6CIDR", c.service_ipv6_cidr.value_or("")},
      {"pauseContainerVersion", c.pause_container_version},
      {"enableLocalOutpost", c.enable_local_outpost},
      {"mountBpfFs", c.mount_bpf_fs},
  };
  if (c.ip_family) j["ipFamily"] = *c.ip_family == IpFamily::Ipv4 ? "ipv4" : "ipv6";
  if (c.cluster_id) j["clusterID"] = *c.cluster_id;
  if (c.containerd_config_file) j["containerdConfigFile"] = *c.containerd_config_file;
  if (c.local_disks) j["localDisks"] = *c.local_disks;
  // What NodeConfig documents add, only when set (so flag-only configs serialize as before).
  if (!c.kubelet_config.empty()) j["kubeletConfig"] = c.kubelet_config;
  if (!c.kubelet_flags.empty()) j["kubeletFlags"] = c.kubelet_flags;
  if (c.containerd_config_toml) j["containerdConfig"] = *c.containerd_config_toml;
  if (c.base_runtime_spec) j["baseRuntimeSpec"] = *c.base_runtime_spec;
  if (c.local_disks_mount_path) j["localDisksMountPath"] = *c.local_disks_mount_path;
  if (!c.local_disks_disabled_mounts.empty()) j["localDisksDisabledMounts"] = c.local_disks_disabled_mounts;
  if (!c.environment.empty()) j["environment"] = c.environment;
  if (c.instance_id_node_name) j["instanceIdNodeName"] = true;
  if (c.fast_image_pull) j["fastImagePull"] = true;
  if (c.hostname_source != HostnameSource::Imds) {
    j["hostnameSource"] = c.hostname_source == HostnameSource::Ec2 ? "ec2" : "instance-id";
  }
  if (c.platform) j["platform"] = platform_name(*c.platform);
  if (c.kube_reserved_for_effective_max_pods) j["kubeReservedMaxPods"] = "effective";
}

std::string_view platform_name(Platform p) { return p == Platform::Al2 ? "al2" : "al2023"; }

void to_json(nlohmann::json& j, const Facts& f) {
  const InstanceFacts& i = f.instance;
  j = nlohmann::json{
      {"platform", platform_name(f.platform)},
      {"region", i.region},
      {"domain", i.domain},
      {"instanceId", i.instance_id},
      {"instanceType", i.instance_type},
      {"availabilityZone", i.availability_zone},
      {"localHostname", i.local_hostname},
      {"localIPv4", i.local_ipv4},
      {"mac", i.mac},
      {"ipv6s", i.ipv6s},
      {"vpcIPv4CIDRs", i.vpc_ipv4_cidrs},
      {"kubeletVersion", f.kubelet_version.str()},
      {"kubeletVersionSource", f.kubelet_version_source},
      {"vcpus", f.vcpus},
      {"bpfMounted", f.bpf_mounted},
      {"fipsEcrEndpoint", f.fips_ecr_endpoint},
      {"accelerators",
       {{"nvidiaGPUs", f.accelerators.nvidia_gpus},
        {"nvidiaPCIAddresses", f.accelerators.nvidia_pci_addresses},
        {"nvidiaRuntimeInstalled", f.accelerators.nvidia_runtime_installed}}},
  };
  if (f.containerd_version) j["containerdVersion"] = *f.containerd_version;
  if (f.cluster) {
    // Not the CA: the status file never carries it.
    const ClusterInfo& k = *f.cluster;
    nlohmann::json cj = {{"name", k.name}, {"status", k.status}, {"endpoint", k.endpoint}};
    if (!k.id.empty()) cj["id"] = k.id;
    if (k.service_ipv4_cidr) cj["serviceIPv4CIDR"] = *k.service_ipv4_cidr;
    if (k.service_ipv6_cidr) cj["serviceIPv6CIDR"] = *k.service_ipv6_cidr;
    if (k.ip_family) cj["ipFamily"] = *k.ip_family;
    if (k.outpost_arn) cj["outpostArn"] = *k.outpost_arn;
    j["describeCluster"] = cj;
  }
  if (f.instance_type_info) {
    const InstanceTypeInfo& t = *f.instance_type_info;
    j["describeInstanceTypes"] = {{"instanceType", t.instance_type},   {"vcpus", t.default_vcpus},
                                  {"hypervisor", t.hypervisor},        {"defaultCardEnis", t.default_card_max_enis},
                                  {"ipv4PerEni", t.ipv4_per_eni},      {"bareMetal", t.bare_metal}};
  }
  if (!f.instance_type_lookup_error.empty()) j["describeInstanceTypesError"] = f.instance_type_lookup_error;
  if (f.ec2_private_dns_name) j["ec2PrivateDnsName"] = *f.ec2_private_dns_name;
}

void to_json(nlohmann::json& j, const Plan& p) {
  nlohmann::json files = nlohmann::json::array();
  for (const auto& w : p.files) {
    nlohmann::json fj = {{"path", w.path}, {"mode", w.mode}, {"size", w.bytes.size()}};
    if (!w.secret) fj["bytes"] = w.bytes;
    if (w.only_if_absent) fj["onlyIfAbsent"] = true;
    if (!w.restarts.empty()) fj["restarts"] = w.restarts;
    files.push_back(fj);
  }
  nlohmann::json removals = nlohmann::json::array();
  for (const auto& r : p.removals) removals.push_back(r.path);
  nlohmann::json units = nlohmann::json::array();
  for (const auto& u : p.units) {
    units.push_back({{"unit", u.unit},
                     {"enable", u.enable},
                     {"startIfInactive", u.start_if_inactive},
                     {"restartOnChange", u.restart_on_change}});
    if (!u.then_run.empty()) units.back()["thenRun"] = u.then_run;
  }
  nlohmann::json diags = nlohmann::json::array();
  for (const auto& d : p.diagnostics) {
    diags.push_back({{"level", d.level == Diagnostic::Level::Warning ? "warning" : "info"},
                     {"id", d.id},
                     {"message", d.message}});
  }
  j = nlohmann::json{{"files", files},
                     {"removals", removals},
                     {"units", units},
                     {"diagnostics", diags},
                     {"values", p.values}};
}

}  // namespace agent
