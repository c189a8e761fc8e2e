#include "agent/compute/al2023_layout.h"

#include <fmt/format.h>

#include "agent/compute/al2023/kubelet_files.h"
#include "agent/compute/kubelet_args.h"
#include "agent/compute/plan_node.h"
#include "agent/model/embedded.h"

namespace agent::compute {
namespace {

namespace nd = al2023;
constexpr const char* kKubelet = "kubelet.service";
constexpr const char* kContainerd = "containerd.service";
constexpr const char* kKubeconfig = "/var/lib/kubelet/kubeconfig";
constexpr const char* kBootstrapKubeconfig = "/var/lib/kubelet/bootstrap-kubeconfig";

FileWrite kubelet_file(std::string path, std::string bytes) {
  return FileWrite{.path = std::move(path), .bytes = std::move(bytes), .mode = 0644, .restarts = {kKubelet},
                   .configures = kKubelet};
}

// The CA and the kubeconfig (on a local Outpost cluster, the bootstrap kubeconfig kubelet
// TLS-bootstraps from, and /etc/hosts).
Status add_cluster_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  FileWrite ca = kubelet_file(kCaPath, s.ca);
  ca.secret = true;
  plan.files.push_back(std::move(ca));
  const std::string cluster = c.enable_local_outpost ? *c.cluster_id : c.cluster_name;
  AGENT_TRY(std::string kubeconfig, nd::kubeconfig(*c.apiserver_endpoint, cluster, f.instance.region));
  plan.files.push_back(kubelet_file(c.enable_local_outpost ? kBootstrapKubeconfig : kKubeconfig, std::move(kubeconfig)));
  if (c.enable_local_outpost) {
    if (auto hosts = outpost_hosts_file(c, f, plan)) {
      hosts->configures = kKubelet;  // nodeadm's kubelet Configure edits /etc/hosts on Outposts
      plan.files.push_back(std::move(*hosts));
    }
  }
  return {};
}

// config.json (nodeadm's base), the user's kubelet.config as 40-nodeadm.conf, the credential
// provider config.
Status add_kubelet_config_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  const bool reserve = !s.user_args.kube_reserved;
  const nd::KubeletBaseInput base{
      .cluster_dns = s.dns.servers,
      .max_pods = c.use_max_pods ? std::optional<int>(s.base_max_pods) : std::nullopt,
      .kube_reserved_cpu = reserve ? std::optional(fmt::format("{}m", s.reserved_cpu_m)) : std::nullopt,
      .kube_reserved_memory = reserve ? std::optional(fmt::format("{}Mi", s.reserved_memory_mi)) : std::nullopt,
      .reserved_cgroups = !s.user_args.reserved_cpus,
      .provider_id = s.provider_id,
      .kubelet = f.kubelet_version,
      .soci = al2023_soci(s, f),
  };
  // The user's kubelet.config: 40-nodeadm.conf where kubelet reads drop-ins, else merged.
  const bool user = !c.kubelet_config.empty();
  const bool dropin = user && nd::kubelet_reads_config_dir(f.kubelet_version);
  plan.files.push_back(kubelet_file(nd::kKubeletConfigPath, user && !dropin
                                                                ? nd::kubelet_base_config_with_user(base, c.kubelet_config)
                                                                : nd::kubelet_base_config(base)));
  if (user && !dropin) plan.values["userKubeletConfig"] = nd::kKubeletConfigPath;
  if (dropin) {
    plan.files.push_back(kubelet_file(nd::kKubeletDropinPath, nd::kubelet_config_dropin(c.kubelet_config)));
    plan.values["userKubeletConfig"] = nd::kKubeletDropinPath;
  } else if (f.nodeadm_dropin_present) {
    // Unlike nodeadm, a drop-in from an earlier configuration does not outlive it (nor stays
    // beside a kubelet too old to read it).
    plan.removals.push_back({.path = nd::kKubeletDropinPath, .restarts = {kKubelet}, .configures = kKubelet});
  }
  if (!f.credential_provider_bin_present) {
    return make_error(Errc::NotFound,
                      "the image credential provider binary {} does not exist; install ecr-credential-provider "
                      "there or point ECR_CREDENTIAL_PROVIDER_BIN_PATH at it",
                      f.credential_provider_bin);
  }
  plan.files.push_back(kubelet_file(nd::kCredentialProviderConfig,
                                    nd::credential_provider_config(f.credential_provider_bin, f.kubelet_version)));
  return {};
}

// The user's flags after ours: NodeConfig kubelet.flags, then bootstrap.sh's --kubelet-extra-args
// (on an Outpost, bootstrap.sh's --bootstrap-kubeconfig is one of our flags already).
std::vector<std::string> user_flags(const NodeSettings& s) {
  std::vector<std::string> out = s.config.kubelet_flags;
  for (auto& a : split_args(s.config.kubelet_extra_args)) out.push_back(std::move(a));
  return out;
}

// /etc/eks/kubelet/environment, kubelet.service (only when the image has none) and the
// NodeConfig's environment drop-ins.
Status add_kubelet_unit_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  const auto flags = nd::kubelet_flags({
      .node_ip = s.node_ip,
      .hostname_override = s.user_args.hostname_override ? std::nullopt : std::optional(s.hostname),
      .user_config = !c.kubelet_config.empty(),
      .outpost = c.enable_local_outpost,
      .kubelet = f.kubelet_version,
      .nvidia_gpu = f.accelerators.nvidia_gpus > 0,
      .credential_provider_bin = f.credential_provider_bin,
  });
  AGENT_TRY(std::string environment,
            nd::kubelet_environment(flags, user_flags(s), f.kubelet_version, !c.kubelet_config.empty()));
  plan.files.push_back(kubelet_file(nd::kKubeletEnvironmentPath, std::move(environment)));
  plan.files.push_back({.path = nd::kKubeletUnitPath,
                        .bytes = std::string(embedded::file("config/al2023/kubelet.service")),
                        .mode = 0644,
                        .unit_file = true,
                        .restarts = {kKubelet},
                        .only_if_absent = true,
                        .configures = kKubelet});
  for (auto& d : nd::environment_dropins(c.environment)) {
    FileWrite w{.path = std::move(d.path), .bytes = std::move(d.bytes), .mode = 0644, .unit_file = true};
    if (d.service.empty()) {
      w.restarts = {kContainerd, kKubelet};
    } else if (d.service == kKubelet || d.service == kContainerd) {
      w.restarts = {d.service};
    }
    plan.files.push_back(std::move(w));
  }
  return {};
}

}  // namespace

Status add_al2023_layout(const NodeSettings& s, const Facts& f, Plan& plan) {
  AGENT_TRY_STATUS(add_cluster_files(s, f, plan));
  AGENT_TRY_STATUS(add_kubelet_config_files(s, f, plan));
  AGENT_TRY_STATUS(add_al2023_containerd_files(s, f, plan));
  AGENT_TRY_STATUS(add_kubelet_unit_files(s, f, plan));
  AGENT_TRY_STATUS(add_resolved_dropin(s.config, f, plan));

  // Units, in the order nodeadm acts on them: containerd fully before kubelet. nodeadm leaves
  // kubelet disabled (nodeadm-run.service starts it every boot); bootstrap.sh's user data runs
  // once, so in that flow kubelet is enabled, as on AL2.
  if (f.resolved_unit_present) plan.units.push_back({.unit = kResolvedUnit, .restart_on_change = true});
  if (al2023_soci(s, f)) {
    // containerd's drop-in Requires= it; optional: without it images are still pulled, by containerd.
    plan.units.push_back({.unit = "soci-snapshotter.service", .restart_on_change = true, .optional = true});
  }
  plan.units.push_back(al2023_containerd_unit(s.config, f));
  plan.units.push_back({.unit = kKubelet,
                        .enable = !s.config.nodeadm,
                        .start_if_inactive = true,
                        .restart_on_change = true,
                        .check_stays_up = true});
  return {};
}

}  // namespace agent::compute
