#include "agent/compute/al2_layout.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/compute/accelerator.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/credential_provider.h"
#include "agent/compute/kubeconfig.h"
#include "agent/compute/kubelet_args.h"
#include "agent/compute/kubelet_config.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/user_config.h"
#include "agent/model/embedded.h"
#include "agent/userdata/merge.h"

namespace agent::compute {
namespace {

constexpr const char* kKubelet = "kubelet.service";
constexpr const char* kContainerd = "containerd.service";
constexpr const char* kBpfMount = "sys-fs-bpf.mount";

void warn(Plan& p, std::string id, std::string msg) {
  p.diagnostics.push_back({Diagnostic::Level::Warning, std::move(id), std::move(msg)});
}
void note(Plan& p, std::string id, std::string msg) {
  p.diagnostics.push_back({Diagnostic::Level::Info, std::move(id), std::move(msg)});
}

// The config layout for the containerd version the image ships (build-time fact file): version 3
// for containerd 2.x, version 2 otherwise.
ContainerdSchema containerd_schema(const std::optional<std::string>& containerd_version, Plan& p) {
  if (!containerd_version) return ContainerdSchema::V2;
  auto v = parse_version(*containerd_version);
  if (!v) {
    warn(p, "CONTAINERD_VERSION_UNKNOWN",
         fmt::format("{} holds no version (expected e.g. 1.7.27); writing the version 2 containerd config",
                     kContainerdVersionPath));
    return ContainerdSchema::V2;
  }
  return v->major >= 2 ? ContainerdSchema::V3 : ContainerdSchema::V2;
}

// What was found on a GPU node and what containerd was given for it.
void gpu_diagnostics(const AcceleratorFacts& gpu, const ContainerdConfig& containerd, const std::string& user_file,
                     Plan& p) {
  const std::string found = fmt::format("{} NVIDIA GPU(s) found ({})", gpu.nvidia_gpus,
                                        fmt::join(gpu.nvidia_pci_addresses, ", "));
  if (!gpu.nvidia_runtime_installed) {
    warn(p, "GPU_NO_RUNTIME",
         fmt::format("{}, but {} is not installed, so pods cannot use the GPUs (containerd's "
                     "default runtime stays {}); install the NVIDIA container toolkit in the image",
                     found, kNvidiaRuntimePath, containerd.default_runtime));
  } else if (containerd.nvidia_default) {
    const std::string rewritten =
        containerd.user_rewritten ? fmt::format(", added to {} (re-serialized: comments are not kept)", user_file) : "";
    note(p, "GPU_CONFIGURED",
         fmt::format("{}; containerd's default runtime is nvidia ({}){}", found, kNvidiaRuntimePath, rewritten));
  } else {
    warn(p, "GPU_USER_CONFIG_UNSUPPORTED",
         fmt::format("{}, but {} is a version {} containerd config, to which the nvidia runtime "
                     "cannot be added; containerd's default runtime stays {}; use a version 2 or 3 config",
                     found, user_file, containerd.version, containerd.default_runtime));
  }
}

// NodeConfig's containerd settings over the generated (or --containerd-config-file) config: the
// base runtime spec file and the runtime options that point at it, then the user's TOML. A
// --containerd-config-file is used as given: it wins over spec.containerd.config, and must name
// the base runtime spec itself.
Status add_user_containerd_config(const NodeConfig& c, ContainerdSchema schema, ContainerdConfig& containerd,
                                  Plan& p) {
  const bool user_file = c.containerd_config_file && !c.containerd_config_file->empty();
  if (c.base_runtime_spec) {
    p.files.push_back({.path = kBaseRuntimeSpecPath, .bytes = base_runtime_spec_for(*c.base_runtime_spec),
                       .mode = 0644, .restarts = {kContainerd}});
    if (user_file) {
      warn(p, "BASE_RUNTIME_SPEC_NOT_REFERENCED",
           fmt::format("{} is written, but --containerd-config-file {} is used as given: set base_runtime_spec "
                       "in its runtimes to use it",
                       kBaseRuntimeSpecPath, *c.containerd_config_file));
    } else {
      const auto extra = containerd.default_runtime != "runc" ? std::optional(containerd.default_runtime) : std::nullopt;
      AGENT_TRY(containerd.toml, userdata::merge_toml(containerd.toml, base_runtime_spec_toml(schema, extra),
                                                      "the generated containerd config", "base runtime spec"));
    }
  }
  if (c.containerd_config_toml && !user_file) {
    AGENT_TRY(containerd.toml, containerd_with_user(containerd.toml, *c.containerd_config_toml, schema, p.diagnostics));
  }
  return {};
}

// The CA, the kubeconfig (bootstrap-kubeconfig and /etc/hosts on a local Outpost cluster).
void add_cluster_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  plan.files.push_back({.path = kCaPath, .bytes = s.ca, .mode = 0644, .restarts = {kKubelet}, .secret = true});
  const std::string cluster = c.enable_local_outpost ? *c.cluster_id : c.cluster_name;
  const std::string kubeconfig = kubeconfig_for(*c.apiserver_endpoint, cluster, f.instance.region);
  if (!c.enable_local_outpost) {
    plan.files.push_back({.path = kKubeconfigPath, .bytes = kubeconfig, .mode = 0644, .restarts = {kKubelet}});
    return;
  }
  // kubelet TLS-bootstraps from this file and then writes its own kubeconfig, which the agent
  // must leave alone on later runs.
  plan.files.push_back({.path = kBootstrapKubeconfigPath, .bytes = kubeconfig, .mode = 0644, .restarts = {kKubelet}});
  if (auto hosts = outpost_hosts_file(c, f, plan)) plan.files.push_back(std::move(*hosts));
}

// kubelet-config.json (patched), the user's kubelet config (a drop-in from 1.28, else merged),
// and the credential provider config.
Status add_kubelet_config_files(const NodeSettings& s, const Facts& f, bool config_dropin, Plan& plan) {
  const NodeConfig& c = s.config;
  const bool reserve = !s.user_args.kube_reserved;
  AGENT_TRY(std::string kubelet_config, kubelet_config_for(KubeletConfigInput{
                                            .current = f.kubelet_config,
                                            .cluster_dns = s.dns.servers,
                                            .kubelet_version = f.kubelet_version,
                                            .max_pods = c.use_max_pods ? std::optional<int>(s.max_pods) : std::nullopt,
                                            .kube_reserved_cpu = reserve ? std::optional(fmt::format("{}m", s.reserved_cpu_m)) : std::nullopt,
                                            .kube_reserved_memory = reserve ? std::optional(fmt::format("{}Mi", s.reserved_memory_mi)) : std::nullopt,
                                            .provider_id = s.provider_id,
                                            .reserved_cgroups = !s.user_args.reserved_cpus,
                                        }));
  if (!c.kubelet_config.empty() && !config_dropin) {
    AGENT_TRY(kubelet_config, kubelet_config_with_user(kubelet_config, c.kubelet_config));
  }
  plan.files.push_back({.path = kKubeletConfigPath, .bytes = kubelet_config, .mode = 0644, .restarts = {kKubelet}});
  if (config_dropin) {
    plan.files.push_back({.path = kKubeletConfigDropinPath, .bytes = kubelet_config_dropin(c.kubelet_config),
                          .mode = 0644, .restarts = {kKubelet}});
  } else if (f.kubelet_config_dropin_present) {
    plan.removals.push_back({.path = kKubeletConfigDropinPath, .restarts = {kKubelet}});
  }
  bool cred_unparsable = false;
  plan.files.push_back({.path = kCredentialProviderPath,
                        .bytes = credential_provider_config_for(f.kubelet_version, f.credential_provider_config,
                                                                &cred_unparsable),
                        .mode = 0644,
                        .restarts = {kKubelet}});
  if (cred_unparsable) {
    warn(plan, "CREDENTIAL_CONFIG_REPLACED",
         fmt::format("{} was not a valid CredentialProviderConfig and was replaced", kCredentialProviderPath));
  }
  return {};
}

// containerd: the config layout follows the containerd the image ships; on GPU nodes with the
// NVIDIA container toolkit installed, nvidia becomes the default runtime (what bootstrap.sh's GPU
// helper did with nvidia-ctk, and nodeadm's template does).
Status add_containerd_config(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  const AcceleratorFacts& gpu = f.accelerators;
  const bool want_nvidia = gpu.nvidia_gpus > 0 && gpu.nvidia_runtime_installed;
  const ContainerdSchema schema = containerd_schema(f.containerd_version, plan);
  AGENT_TRY(ContainerdConfig containerd,
            containerd_config_for(ContainerdConfigInput{
                .sandbox_image = s.pause_image,
                .user_config = f.containerd_config_user,
                .user_source = c.containerd_config_file.value_or(""),
                .schema = schema,
                .nvidia_runtime_binary = want_nvidia ? std::optional<std::string>(kNvidiaRuntimePath) : std::nullopt,
            }));
  AGENT_TRY_STATUS(add_user_containerd_config(c, schema, containerd, plan));
  plan.files.push_back({.path = kContainerdConfigPath, .bytes = containerd.toml, .mode = 0644, .restarts = {kContainerd}});
  if (gpu.nvidia_gpus > 0) gpu_diagnostics(gpu, containerd, c.containerd_config_file.value_or(""), plan);
  plan.values["containerdDefaultRuntime"] = containerd.default_runtime;
  return {};
}

// kubelet.service (only when absent) and its drop-ins: KUBELET_ARGS, KUBELET_EXTRA_ARGS, and the
// NodeConfig's environment.
Status add_kubelet_unit_files(const NodeSettings& s, const Facts& f, bool config_dropin, Plan& plan) {
  const NodeConfig& c = s.config;
  std::string args = fmt::format("--node-ip={} --pod-infra-container-image={} --v=2", s.node_ip, s.pause_image);
  if (!s.user_args.hostname_override) args += " --hostname-override=" + s.hostname;
  args += " --cloud-provider=external";
  if (config_dropin) args += fmt::format(" --config-dir={}", kKubeletConfigDir);
  if (!s.user_flags.empty()) args += " " + s.user_flags;
  std::string extra_args = c.kubelet_extra_args;
  if (c.enable_local_outpost) {
    extra_args = "--bootstrap-kubeconfig " + std::string(kBootstrapKubeconfigPath) +
                 (extra_args.empty() ? "" : " " + extra_args);
  }
  plan.files.push_back({.path = kKubeletUnitPath,
                        .bytes = std::string(embedded::file("config/kubelet.service")),
                        .mode = 0644,
                        .unit_file = true,
                        .restarts = {kKubelet},
                        .only_if_absent = true});
  AGENT_TRY(std::string args_dropin, environment_dropin("KUBELET_ARGS", args));
  if (config_dropin && kubelet_config_dir_is_alpha(f.kubelet_version)) {
    args_dropin += "Environment='KUBELET_CONFIG_DROPIN_DIR_ALPHA=on'\n";
  }
  plan.files.push_back({.path = kKubeletArgsDropin, .bytes = args_dropin, .mode = 0644, .unit_file = true,
                        .restarts = {kKubelet}});
  AGENT_TRY(std::vector<FileWrite> environment, environment_files(c.environment));
  for (auto& w : environment) plan.files.push_back(std::move(w));
  if (extra_args.empty()) {
    plan.removals.push_back({.path = kKubeletExtraArgsDropin, .unit_file = true, .restarts = {kKubelet}});
  } else {
    AGENT_TRY(std::string extra_dropin, environment_dropin("KUBELET_EXTRA_ARGS", extra_args));
    plan.files.push_back({.path = kKubeletExtraArgsDropin, .bytes = extra_dropin, .mode = 0644, .unit_file = true,
                          .restarts = {kKubelet}});
  }
  return {};
}

void add_bpf_mount(const NodeSettings& s, const Facts& f, Plan& plan) {
  if (!s.config.mount_bpf_fs) return;
  if (f.bpf_mounted) {
    note(plan, "BPF_ALREADY_MOUNTED", "a bpf filesystem is already mounted at /sys/fs/bpf");
    return;
  }
  plan.files.push_back({.path = kBpfMountUnitPath,
                        .bytes = std::string(embedded::file("config/sys-fs-bpf.mount")),
                        .mode = 0644,
                        .unit_file = true,
                        .only_if_absent = true});
  plan.units.push_back({.unit = kBpfMount, .enable = true, .start_if_inactive = true, .optional = true});
}

}  // namespace

Status add_al2_layout(const NodeSettings& s, const Facts& f, Plan& plan) {
  // The user's kubelet config: a drop-in kubelet merges itself (1.28+), else merged into ours.
  const bool config_dropin = !s.config.kubelet_config.empty() && kubelet_has_config_dir(f.kubelet_version);
  add_cluster_files(s, f, plan);
  AGENT_TRY_STATUS(add_kubelet_config_files(s, f, config_dropin, plan));
  AGENT_TRY_STATUS(add_containerd_config(s, f, plan));
  if (!s.config.kubelet_config.empty()) {
    plan.values["userKubeletConfig"] = config_dropin ? kKubeletConfigDropinPath : kKubeletConfigPath;
  }
  AGENT_TRY_STATUS(add_kubelet_unit_files(s, f, config_dropin, plan));
  AGENT_TRY_STATUS(add_resolved_dropin(s.config, f, plan));

  // Units, in the order they are acted on.
  add_bpf_mount(s, f, plan);
  if (f.resolved_unit_present) plan.units.push_back({.unit = kResolvedUnit, .restart_on_change = true});
  plan.units.push_back({.unit = kContainerd, .restart_on_change = true});
  plan.units.push_back(
      {.unit = kKubelet, .enable = true, .start_if_inactive = true, .restart_on_change = true, .check_stays_up = true});
  return {};
}

}  // namespace agent::compute
