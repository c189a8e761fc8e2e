#include "agent/compute/plan_node.h"

#include <algorithm>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/compute/accelerator.h"
#include "agent/compute/base64.h"
#include "agent/compute/cluster_config.h"
#include "agent/compute/instance_types.h"
#include "agent/compute/cluster_dns.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/credential_provider.h"
#include "agent/compute/ecr.h"
#include "agent/compute/kubeconfig.h"
#include "agent/compute/kubelet_args.h"
#include "agent/compute/kubelet_config.h"
#include "agent/compute/max_pods.h"
#include "agent/compute/max_pods_expression.h"
#include "agent/compute/reserved.h"
#include "agent/compute/user_config.h"
#include "agent/userdata/merge.h"
#include "agent/model/embedded.h"

namespace agent::compute {
namespace {

constexpr const char* kKubelet = "kubelet.service";
constexpr const char* kContainerd = "containerd.service";
constexpr const char* kResolved = "systemd-resolved.service";
constexpr const char* kBpfMount = "sys-fs-bpf.mount";

void warn(Plan& p, std::string id, std::string msg) {
  p.diagnostics.push_back({Diagnostic::Level::Warning, std::move(id), std::move(msg)});
}
void note(Plan& p, std::string id, std::string msg) {
  p.diagnostics.push_back({Diagnostic::Level::Info, std::move(id), std::move(msg)});
}

// /etc/hosts with the agent's marked block replaced by `entries` (idempotent, unlike
// bootstrap.sh's append-on-every-run).
std::string hosts_with_block(const std::string& current, const std::vector<std::string>& addresses,
                             const std::string& host) {
  constexpr std::string_view kBegin = "# BEGIN eks-node-agent: local cluster API endpoint\n";
  constexpr std::string_view kEnd = "# END eks-node-agent\n";
  std::string out = current;
  if (auto b = out.find(kBegin); b != std::string::npos) {
    auto e = out.find(kEnd, b);
    out.erase(b, e == std::string::npos ? std::string::npos : e + kEnd.size() - b);
  }
  if (!out.empty() && out.back() != '\n') out += '\n';
  out += kBegin;
  for (const auto& a : addresses) out += fmt::format("{}\t{}\n", a, host);
  out += kEnd;
  return out;
}

// The config layout for the containerd version the image ships (build-time fact file): version 3
// for containerd 2.x, version 2 otherwise.
ContainerdSchema containerd_schema(const std::optional<std::string>& containerd_version, Plan& p) {
  if (!containerd_version) return ContainerdSchema::V2;
  auto v = parse_version(*containerd_version);
  if (!v) {
    warn(p, "CONTAINERD_VERSION_UNKNOWN",
         fmt::format("{} holds no version (expected e.g. 1.7.27); writing the version 2 "
                     "containerd config",
                     kContainerdVersionPath));
    return ContainerdSchema::V2;
  }
  return v->major >= 2 ? ContainerdSchema::V3 : ContainerdSchema::V2;
}

// What was found on a GPU node and what containerd was given for it.
void gpu_diagnostics(const AcceleratorFacts& gpu, const ContainerdConfig& containerd,
                     const std::string& user_file, Plan& p) {
  const std::string found = fmt::format("{} NVIDIA GPU(s) found ({})", gpu.nvidia_gpus,
                                        fmt::join(gpu.nvidia_pci_addresses, ", "));
  if (!gpu.nvidia_runtime_installed) {
    warn(p, "GPU_NO_RUNTIME",
         fmt::format("{}, but {} is not installed, so pods cannot use the GPUs (containerd's "
                     "default runtime stays {}); install the NVIDIA container toolkit in the image",
                     found, kNvidiaRuntimePath, containerd.default_runtime));
  } else if (containerd.nvidia_default) {
    const std::string rewritten =
        containerd.user_rewritten
            ? fmt::format(", added to {} (re-serialized: comments are not kept)", user_file)
            : "";
    note(p, "GPU_CONFIGURED",
         fmt::format("{}; containerd's default runtime is nvidia ({}){}", found,
                     kNvidiaRuntimePath, rewritten));
  } else {
    warn(p, "GPU_USER_CONFIG_UNSUPPORTED",
         fmt::format("{}, but {} is a version {} containerd config, to which the nvidia runtime "
                     "cannot be added; containerd's default runtime stays {}; use a version 2 or "
                     "3 config",
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
                       .mode = 0644, .restarts = {"containerd.service"}});
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

}  // namespace

std::string endpoint_host(const std::string& endpoint) {
  std::string rest = endpoint;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

Result<Plan> plan_node(const NodeConfig& config, const Facts& f) {
  Plan plan;
  const InstanceFacts& in = f.instance;

  // --- cluster identity --------------------------------------------------------------------
  // What EKS DescribeCluster said fills in what the flags left unset (gather asked only then).
  const NodeConfig effective = with_cluster(config, f.cluster);
  const NodeConfig& c = effective;
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
    note(plan, "DESCRIBED_CLUSTER",
         fmt::format("EKS DescribeCluster: cluster {} is {}, endpoint {}{}", c.cluster_name, f.cluster->status,
                     *c.apiserver_endpoint,
                     f.cluster->outpost_arn ? fmt::format(", on Outpost {} (id {})", *f.cluster->outpost_arn, *c.cluster_id)
                                            : ""));
  }
  auto ca = base64_decode(*c.b64_cluster_ca);
  if (!ca) return ca.error().wrap("--b64-cluster-ca");
  if (ca->find("-----BEGIN CERTIFICATE-----") == std::string::npos) {
    warn(plan, "CA_NOT_PEM",
         "--b64-cluster-ca does not decode to a PEM certificate; kubelet will not trust the API server");
  }
  const IpFamily family = c.ip_family.value_or(IpFamily::Ipv4);

  // NodeConfig kubelet.flags reach kubelet before --kubelet-extra-args, so both are inspected in
  // that order (kubelet takes the last of a repeated flag).
  const std::string user_flags = fmt::format("{}", fmt::join(c.kubelet_flags, " "));
  AGENT_TRY(ExtraArgsInfo extra, inspect_extra_args(user_flags + " " + c.kubelet_extra_args));
  AGENT_TRY(std::optional<int> config_max_pods, user_max_pods(c.kubelet_config));
  if (c.kubelet_config.contains("reservedSystemCPUs")) extra.reserved_cpus = true;

  // --- max pods and reservations -----------------------------------------------------------
  std::string override_error;
  MaxPodsDecision mp = max_pods_for(in.instance_type, f.eni_max_pods_override, &override_error);
  if (!override_error.empty()) {
    warn(plan, "MAXPODS_TABLE_INVALID",
         fmt::format("{} is malformed and was ignored: {}", kEniMaxPodsPath, override_error));
  }
  if (mp.source == "default" && f.instance_type_info) {
    // bootstrap.sh's calculator fallback, on what EC2 DescribeInstanceTypes said.
    if (auto pods = max_pods_from_ec2(*f.instance_type_info)) {
      const NetworkingFacts net = networking_facts_from(*f.instance_type_info);
      mp = {.value = *pods, .source = "EC2 DescribeInstanceTypes", .fallback = false};
      note(plan, "MAXPODS_FROM_EC2",
           fmt::format("instance type '{}' is in no max-pods table; EC2 says {} ENIs x ({} IPv4 - 1) + 2 = {} "
                       "pods; add it to {} to skip the call",
                       in.instance_type, net.max_enis, net.ipv4_per_eni, *pods, kEniMaxPodsPath));
    }
  }
  if (mp.fallback) {
    const std::string why = f.instance_type_lookup_error.empty()
                                ? ""
                                : fmt::format(" (EC2 DescribeInstanceTypes failed too: {})", f.instance_type_lookup_error);
    warn(plan, "MAXPODS_FALLBACK",
         fmt::format("instance type '{}' is in no max-pods table; using {} ({}){}; add it to {} to pin it",
                     in.instance_type, mp.value, mp.source, why, kEniMaxPodsPath));
  }
  int max_pods = mp.value;
  std::string max_pods_source = mp.source;
  if (c.max_pods_expression && !c.max_pods_expression->empty()) {
    // nodeadm's spec.kubelet.maxPodsExpression: evaluated over the type's networking facts with
    // the computed value as max_pods; on any failure the computed value stands (with a warning),
    // and without networking facts it is not evaluated at all, as nodeadm does.
    std::optional<NetworkingFacts> net = builtin_networking(in.instance_type);
    if (!net && f.instance_type_info) net = networking_facts_from(*f.instance_type_info);
    if (!net || net->max_enis <= 0) {
      warn(plan, "MAXPODS_EXPRESSION_SKIPPED",
           fmt::format("spec.kubelet.maxPodsExpression not evaluated: no networking facts for '{}'; using {}",
                       in.instance_type, max_pods));
    } else if (auto v = evaluate_max_pods_expression(
                   *c.max_pods_expression,
                   {.default_enis = net->max_enis, .ips_per_eni = net->ipv4_per_eni, .max_pods = max_pods})) {
      note(plan, "MAXPODS_FROM_EXPRESSION",
           fmt::format("spec.kubelet.maxPodsExpression '{}' = {} (default_enis {}, ips_per_eni {}, max_pods {})",
                       *c.max_pods_expression, *v, net->max_enis, net->ipv4_per_eni, max_pods));
      max_pods = *v;
      max_pods_source = "spec.kubelet.maxPodsExpression";
    } else {
      warn(plan, "MAXPODS_EXPRESSION_FAILED",
           fmt::format("{}; using the computed max pods {}", v.error().message, max_pods));
    }
  }
  if (extra.max_pods) {
    // kubelet takes the last --max-pods on its command line, and it wins over maxPods in the
    // config; kubeReserved must follow the value kubelet will really use (eksctl#7946).
    max_pods = *extra.max_pods;
    max_pods_source = "--max-pods in --kubelet-extra-args";
    note(plan, "MAXPODS_FROM_EXTRA_ARGS",
         fmt::format("--kubelet-extra-args sets --max-pods={}; kubeReserved memory follows it", max_pods));
  } else if (config_max_pods) {
    max_pods = *config_max_pods;
    max_pods_source = "spec.kubelet.config.maxPods";
    note(plan, "MAXPODS_FROM_NODECONFIG",
         fmt::format("the NodeConfig sets kubelet maxPods {}; kubeReserved memory follows it", max_pods));
  }
  const int cpu_m = cpu_reserved_millicores(f.vcpus);
  const int mem_mi = memory_reserved_mebibytes(max_pods);
  if (extra.kube_reserved) {
    note(plan, "KUBE_RESERVED_FROM_EXTRA_ARGS",
         "--kubelet-extra-args sets --kube-reserved; the computed kubeReserved is not written");
  }
  if (extra.reserved_cpus) {
    note(plan, "RESERVED_CPUS",
         "--kubelet-extra-args includes --reserved-cpus, so kube/system-reserved cgroups are not used");
  }

  // --- cluster DNS ---------------------------------------------------------------------------
  auto dns = cluster_dns_for(DnsInput{
      .dns_cluster_ip = c.dns_cluster_ip,
      .ip_family = family,
      .service_ipv4_cidr = c.service_ipv4_cidr,
      .service_ipv6_cidr = c.service_ipv6_cidr,
      .vpc_ipv4_cidrs = in.vpc_ipv4_cidrs,
  });
  if (!dns) return dns.error();

  // --- node identity -------------------------------------------------------------------------
  std::string node_ip;
  if (family == IpFamily::Ipv4) {
    if (in.local_ipv4.empty()) {
      return make_error(Errc::Invalid,
                        "IMDS has no meta-data/local-ipv4 for this instance; for an IPv6 cluster pass "
                        "--ip-family ipv6");
    }
    node_ip = in.local_ipv4;
  } else {
    if (in.ipv6s.empty()) {
      return make_error(Errc::Invalid,
                        "--ip-family ipv6 but the primary interface ({}) has no IPv6 address in IMDS; "
                        "assign one to the instance or use ipv4",
                        in.mac);
    }
    node_ip = in.ipv6s.front();
    if (in.ipv6s.size() > 1) {
      note(plan, "NODE_IP_FIRST_IPV6",
           fmt::format("the primary interface has {} IPv6 addresses; using the first, {}",
                       in.ipv6s.size(), node_ip));
    }
  }
  const bool by_instance_id = c.instance_id_node_name || c.hostname_source == HostnameSource::InstanceId;
  if (!extra.hostname_override && c.hostname_source == HostnameSource::Ec2 &&
      (!f.ec2_private_dns_name || f.ec2_private_dns_name->empty())) {
    return make_error(Errc::Invalid,
                      "--hostname-source ec2 but EC2 DescribeInstances gave no PrivateDnsName for {}",
                      in.instance_id);
  }
  if (!extra.hostname_override && !by_instance_id && c.hostname_source == HostnameSource::Imds &&
      in.local_hostname.empty()) {
    return make_error(Errc::Invalid,
                      "IMDS has no meta-data/local-hostname for this instance; pass "
                      "--hostname-override=NAME in --kubelet-extra-args");
  }
  const std::string provider_id = fmt::format("aws:///{}/{}", in.availability_zone, in.instance_id);

  // --- pause image ---------------------------------------------------------------------------
  EcrRegistry ecr = ecr_registry_for(in.region, in.domain, c.pause_container_account);
  const std::string registry = f.fips_ecr_endpoint ? ecr.fips_host : ecr.host;
  const std::string pause_image =
      fmt::format("{}:{}", c.pause_container_image.value_or(registry + "/eks/pause"),
                  c.pause_container_version);

  // --- kubelet arguments -----------------------------------------------------------------------
  std::string kubelet_args = fmt::format("--node-ip={} --pod-infra-container-image={} --v=2",
                                         node_ip, pause_image);
  // featureGates.InstanceIdNodeName: the node is named after its instance id, as in nodeadm.
  const std::string hostname = by_instance_id                              ? in.instance_id
                               : c.hostname_source == HostnameSource::Ec2 ? f.ec2_private_dns_name.value_or("")
                                                                          : in.local_hostname;
  if (!extra.hostname_override) kubelet_args += " --hostname-override=" + hostname;
  kubelet_args += " --cloud-provider=external";
  // The user's kubelet config: a drop-in kubelet merges itself (1.28+), else merged below.
  const bool config_dropin = !c.kubelet_config.empty() && kubelet_has_config_dir(f.kubelet_version);
  if (config_dropin) kubelet_args += fmt::format(" --config-dir={}", kKubeletConfigDir);
  if (!user_flags.empty()) kubelet_args += " " + user_flags;
  std::string extra_args = c.kubelet_extra_args;
  if (c.enable_local_outpost) {
    extra_args = "--bootstrap-kubeconfig " + std::string(kBootstrapKubeconfigPath) +
                 (extra_args.empty() ? "" : " " + extra_args);
  }

  // --- files ---------------------------------------------------------------------------------
  auto add = [&plan](FileWrite w) { plan.files.push_back(std::move(w)); };
  add({.path = kCaPath, .bytes = *ca, .mode = 0644, .restarts = {kKubelet}, .secret = true});

  const std::string kubeconfig_cluster = c.enable_local_outpost ? *c.cluster_id : c.cluster_name;
  const std::string kubeconfig = kubeconfig_for(*c.apiserver_endpoint, kubeconfig_cluster, in.region);
  if (c.enable_local_outpost) {
    // kubelet TLS-bootstraps from this file and then writes its own kubeconfig, which the agent
    // must leave alone on later runs.
    add({.path = kBootstrapKubeconfigPath, .bytes = kubeconfig, .mode = 0644, .restarts = {kKubelet}});
    const std::string host = endpoint_host(*c.apiserver_endpoint);
    if (f.outpost_host_addresses.empty()) {
      warn(plan, "OUTPOST_HOST_UNRESOLVED",
           fmt::format("could not resolve {}; /etc/hosts is left without an entry for it", host));
    } else {
      add({.path = kEtcHostsPath,
           .bytes = hosts_with_block(f.etc_hosts.value_or(""), f.outpost_host_addresses, host),
           .mode = 0644});
    }
  } else {
    add({.path = kKubeconfigPath, .bytes = kubeconfig, .mode = 0644, .restarts = {kKubelet}});
  }

  auto kubelet_config = kubelet_config_for(KubeletConfigInput{
      .current = f.kubelet_config,
      .cluster_dns = dns->servers,
      .kubelet_version = f.kubelet_version,
      .max_pods = c.use_max_pods ? std::optional<int>(max_pods) : std::nullopt,
      .kube_reserved_cpu = extra.kube_reserved ? std::nullopt
                                               : std::optional(fmt::format("{}m", cpu_m)),
      .kube_reserved_memory = extra.kube_reserved ? std::nullopt
                                                  : std::optional(fmt::format("{}Mi", mem_mi)),
      .provider_id = provider_id,
      .reserved_cgroups = !extra.reserved_cpus,
  });
  if (!kubelet_config) return kubelet_config.error();
  if (!c.kubelet_config.empty() && !config_dropin) {
    AGENT_TRY(*kubelet_config, kubelet_config_with_user(*kubelet_config, c.kubelet_config));
  }
  add({.path = kKubeletConfigPath, .bytes = *kubelet_config, .mode = 0644, .restarts = {kKubelet}});
  if (config_dropin) {
    add({.path = kKubeletConfigDropinPath, .bytes = kubelet_config_dropin(c.kubelet_config), .mode = 0644,
         .restarts = {kKubelet}});
  } else if (f.kubelet_config_dropin_present) {
    plan.removals.push_back({.path = kKubeletConfigDropinPath, .restarts = {kKubelet}});
  }
  const char* user_kubelet_config = c.kubelet_config.empty() ? nullptr
                                    : config_dropin           ? kKubeletConfigDropinPath
                                                              : kKubeletConfigPath;

  bool cred_unparsable = false;
  add({.path = kCredentialProviderPath,
       .bytes = credential_provider_config_for(f.kubelet_version, f.credential_provider_config,
                                               &cred_unparsable),
       .mode = 0644,
       .restarts = {kKubelet}});
  if (cred_unparsable) {
    warn(plan, "CREDENTIAL_CONFIG_REPLACED",
         fmt::format("{} was not a valid CredentialProviderConfig and was replaced", kCredentialProviderPath));
  }

  // containerd: the config layout follows the containerd the image ships; on GPU nodes with the
  // NVIDIA container toolkit installed, nvidia becomes the default runtime (what bootstrap.sh's GPU
  // helper did with nvidia-ctk, and nodeadm's template does).
  const AcceleratorFacts& gpu = f.accelerators;
  const bool want_nvidia = gpu.nvidia_gpus > 0 && gpu.nvidia_runtime_installed;
  const ContainerdSchema schema = containerd_schema(f.containerd_version, plan);
  auto containerd = containerd_config_for(ContainerdConfigInput{
      .sandbox_image = pause_image,
      .user_config = f.containerd_config_user,
      .user_source = c.containerd_config_file.value_or(""),
      .schema = schema,
      .nvidia_runtime_binary =
          want_nvidia ? std::optional<std::string>(kNvidiaRuntimePath) : std::nullopt,
  });
  if (!containerd) return containerd.error();
  AGENT_TRY_STATUS(add_user_containerd_config(c, schema, *containerd, plan));
  add({.path = kContainerdConfigPath,
       .bytes = containerd->toml,
       .mode = 0644,
       .restarts = {kContainerd}});
  if (gpu.nvidia_gpus > 0) {
    gpu_diagnostics(gpu, *containerd, c.containerd_config_file.value_or(""), plan);
  }

  add({.path = kKubeletUnitPath,
       .bytes = std::string(embedded::file("config/kubelet.service")),
       .mode = 0644,
       .unit_file = true,
       .restarts = {kKubelet},
       .only_if_absent = true});
  AGENT_TRY(std::string args_dropin, environment_dropin("KUBELET_ARGS", kubelet_args));
  if (config_dropin && kubelet_config_dir_is_alpha(f.kubelet_version)) {
    args_dropin += "Environment='KUBELET_CONFIG_DROPIN_DIR_ALPHA=on'\n";
  }
  add({.path = kKubeletArgsDropin, .bytes = args_dropin, .mode = 0644, .unit_file = true,
       .restarts = {kKubelet}});
  AGENT_TRY(std::vector<FileWrite> environment, environment_files(c.environment));
  for (auto& w : environment) add(std::move(w));
  if (extra_args.empty()) {
    plan.removals.push_back({.path = kKubeletExtraArgsDropin, .unit_file = true, .restarts = {kKubelet}});
  } else {
    AGENT_TRY(std::string extra_dropin, environment_dropin("KUBELET_EXTRA_ARGS", extra_args));
    add({.path = kKubeletExtraArgsDropin, .bytes = extra_dropin, .mode = 0644, .unit_file = true,
         .restarts = {kKubelet}});
  }

  // --- local disks: set up by app::setup_local_disks between compute and apply (run.cc) --------

  // --- DNS (spec.instance.network): a systemd-resolved drop-in, as nodeadm writes it -----------
  if (!c.nameservers.empty() || !c.dns_domains.empty()) {
    for (const auto* list : {&c.nameservers, &c.dns_domains}) {
      for (const auto& v : *list) {
        if (v.empty() || v.find_first_of(" \t\r\n") != std::string::npos) {
          return make_error(Errc::Invalid, "spec.instance.network: '{}' is not a single {}", v,
                            list == &c.nameservers ? "nameserver address" : "search domain");
        }
      }
    }
    if (!f.resolved_unit_present) {
      warn(plan, "NETWORK_NOT_APPLIED",
           "spec.instance.network is not applied: systemd-resolved is not installed (Amazon Linux 2 does not "
           "run it); set DNS in the VPC's DHCP options instead");
    } else {
      add({.path = kResolvedDropinPath,
           .bytes = fmt::format("[Resolve]\n{}\n{}\n",
                                c.nameservers.empty() ? "" : "DNS=" + fmt::format("{}", fmt::join(c.nameservers, " ")),
                                c.dns_domains.empty() ? "" : "Domains=" + fmt::format("{}", fmt::join(c.dns_domains, " "))),
           .mode = 0644,
           .restarts = {kResolved}});
    }
  } else if (f.resolved_unit_present) {
    // Unlike nodeadm, a drop-in from an earlier configuration does not outlive it.
    plan.removals.push_back({.path = kResolvedDropinPath, .restarts = {kResolved}});
  }

  // --- units, in the order they are acted on -------------------------------------------------
  if (c.mount_bpf_fs) {
    if (f.bpf_mounted) {
      note(plan, "BPF_ALREADY_MOUNTED", "a bpf filesystem is already mounted at /sys/fs/bpf");
    } else {
      add({.path = kBpfMountUnitPath,
           .bytes = std::string(embedded::file("config/sys-fs-bpf.mount")),
           .mode = 0644,
           .unit_file = true,
           .only_if_absent = true});
      plan.units.push_back({.unit = kBpfMount, .enable = true, .start_if_inactive = true});
    }
  }
  if (f.resolved_unit_present) plan.units.push_back({.unit = kResolved, .restart_on_change = true});
  plan.units.push_back({.unit = kContainerd, .restart_on_change = true});
  plan.units.push_back({.unit = kKubelet,
                        .enable = true,
                        .start_if_inactive = true,
                        .restart_on_change = true,
                        .check_stays_up = true});

  // --- values for the summary and the status file ------------------------------------------
  plan.values = {
      {"cluster", c.cluster_name},
      {"instanceType", in.instance_type},
      {"region", in.region},
      {"kubeletVersion", f.kubelet_version.str()},
      {"ipFamily", family == IpFamily::Ipv4 ? "ipv4" : "ipv6"},
      {"nodeIP", node_ip},
      {"hostname", extra.hostname_override ? "(from --kubelet-extra-args)" : hostname},
      {"providerID", provider_id},
      {"clusterDNS", dns->servers},
      {"clusterDNSReason", dns->reason},
      {"maxPods", max_pods},
      {"maxPodsSource", max_pods_source},
      {"maxPodsWritten", c.use_max_pods},
      {"vcpus", f.vcpus},
      {"kubeReservedCPU", fmt::format("{}m", cpu_m)},
      {"kubeReservedMemory", fmt::format("{}Mi", mem_mi)},
      {"pauseImage", pause_image},
      {"nvidiaGPUs", gpu.nvidia_gpus},
      {"containerdDefaultRuntime", containerd->default_runtime},
  };
  if (user_kubelet_config != nullptr) plan.values["userKubeletConfig"] = user_kubelet_config;
  return plan;
}

}  // namespace agent::compute
