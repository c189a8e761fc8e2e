#include "agent/cli/options.h"

#include <algorithm>
#include <charconv>
#include <map>

#include <fmt/format.h>

namespace agent::cli {
namespace {

// A bootstrap.sh flag: its name, its environment variable, and where its value goes.
struct FlagSpec {
  const char* flag;
  const char* env;  // nullptr: no environment fallback
  const char* help;
};

// Order here is the order of --help.
constexpr FlagSpec kFlags[] = {
    {"--cluster", nullptr, "Cluster name (or give it as the single positional argument)."},
    {"--apiserver-endpoint", "APISERVER_ENDPOINT", "The cluster's API server endpoint (https://...). Without it or the CA, EKS DescribeCluster is asked (IAM eks:DescribeCluster)."},
    {"--b64-cluster-ca", "B64_CLUSTER_CA", "The base64-encoded cluster CA certificate."},
    {"--use-max-pods", "USE_MAX_PODS", "Write maxPods into the kubelet config: true|false (default true)."},
    {"--kubelet-extra-args", "KUBELET_EXTRA_ARGS", "Extra kubelet flags, e.g. '--node-labels=a=b --register-with-taints=k=v:NoSchedule'."},
    {"--dns-cluster-ip", "DNS_CLUSTER_IP", "Cluster DNS address(es), comma separated (default: derived from the service CIDR or the VPC)."},
    {"--ip-family", "IP_FAMILY", "ipv4|ipv6 (default ipv4; ipv6 when --service-ipv6-cidr is given)."},
    {"--service-ipv4-cidr", "SERVICE_IPV4_CIDR", "The cluster's IPv4 service CIDR (clusterDNS = its .10 address)."},
    {"--service-ipv6-cidr", "SERVICE_IPV6_CIDR", "The cluster's IPv6 service CIDR (implies --ip-family ipv6)."},
    {"--pause-container-account", "PAUSE_CONTAINER_ACCOUNT", "AWS account of the ECR registry holding the pause image."},
    {"--pause-container-version", "PAUSE_CONTAINER_VERSION", "Tag of the pause image (default 3.5)."},
    {"--containerd-config-file", "CONTAINERD_CONFIG_FILE", "A containerd config.toml to use instead of the built-in one (used as given each run; the built-in default is not replaced)."},
    {"--container-runtime", "CONTAINER_RUNTIME", "Only 'containerd' is supported."},
    {"--enable-local-outpost", "ENABLE_LOCAL_OUTPOST", "true|false: join a local cluster on an Outpost (needs --cluster-id)."},
    {"--cluster-id", "CLUSTER_ID", "The cluster id (required with --enable-local-outpost true)."},
    {"--mount-bpf-fs", "MOUNT_BPF_FS", "Mount a bpffs at /sys/fs/bpf: true|false (default true)."},
    {"--local-disks", "LOCAL_DISKS", "Instance-store NVMe setup: raid0|raid10 (one xfs array at DIR/0, with kubelet's, containerd's, SOCI's and pod log state bind-mounted onto it), mount (each disk at DIR/1..N) or none."},
    {"--local-disks-dir", nullptr, "DIR for --local-disks (default /mnt/k8s-disks; NodeConfig localStorage.mountPath)."},
    {"--aws-api-retry-attempts", "API_RETRY_ATTEMPTS", "Retries of an AWS API call after a 5xx answer or a connection error (default 3); throttling is retried until --timeout."},
    {"--hostname-source", nullptr, "imds|ec2|instance-id: where --hostname-override comes from (default imds: IMDS local-hostname, no AWS call; ec2: EC2 DescribeInstances PrivateDnsName; instance-id: the instance id)."},
    {"--enable-docker-bridge", "ENABLE_DOCKER_BRIDGE", "Accepted for compatibility; ignored (docker only)."},
    {"--docker-config-json", "DOCKER_CONFIG_JSON", "Accepted for compatibility; ignored (docker only)."},
    // The agent's own options.
    {"--kube-reserved-max-pods", nullptr, "eni|effective: the max pods kubeReserved memory (11 x pods + 255 Mi) is computed for (default eni: the ENI-based value, as bootstrap.sh, nodeadm and Karpenter, whatever --max-pods says; effective: the max pods kubelet uses)."},
    {"--platform", nullptr, "al2|al2023: the node layout to write, bootstrap.sh's (AL2) or nodeadm's (AL2023) (default: from /etc/os-release under --root)."},
    {"--root", nullptr, "Resolve every path the agent reads or writes under DIR (default /)."},
    {"--imds-endpoint", nullptr, "IMDS base URL (default: $AWS_EC2_METADATA_SERVICE_ENDPOINT, then http://$IMDS_ENDPOINT, then http://169.254.169.254)."},
    {"--service-manager", nullptr, "auto|dbus|offline: how units are enabled and started (auto: dbus when --root is /, else offline)."},
    {"--timeout", nullptr, "Seconds the whole run may take (default 240)."},
    {"--kubelet-settle-ms", nullptr, "Milliseconds kubelet must stay up after starting before success is declared (default 1500)."},
    {"--config-source", nullptr, "Read NodeConfig documents from imds://user-data or file:///path (a file, or a directory of *.yaml, *.yml, *.json); repeatable, later sources win, flags win over both."},
};

// Value-less switches.
constexpr FlagSpec kSwitches[] = {
    {"--dry-run", nullptr, "Print the plan (each file as a diff, each unit action) and change nothing; a unit action that would fail is marked WOULD FAIL and the exit status is the real run's."},
    {"--no-bind-kubelet", nullptr, "--local-disks raid0|raid10: do not bind-mount /var/lib/kubelet onto the array."},
    {"--no-bind-containerd", nullptr, "... nor /var/lib/containerd (NodeConfig disabledMounts: Containerd)."},
    {"--no-bind-soci", nullptr, "... nor /var/lib/soci-snapshotter-grpc (disabledMounts: SOCI)."},
    {"--no-bind-pods-logs", nullptr, "... nor /var/log/pods (disabledMounts: PodLogs)."},
    {"--no-bind-mounts", nullptr, "... none of them: the array is only mounted at DIR/0."},
    {"--quiet", nullptr, "Only warnings, errors and the summary line."},
    {"--version", nullptr, "Print the version and exit."},
    {"--help", nullptr, "Print this help and exit (also -h)."},
};

// The environment-only variable bootstrap.sh reads.
constexpr const char* kPauseImageEnv = "PAUSE_CONTAINER_IMAGE";

Result<bool> parse_bool(const std::string& flag, const std::string& v) {
  if (v == "true") return true;
  if (v == "false") return false;
  return make_error(Errc::Invalid, "{} must be true or false, got '{}'", flag, v);
}

std::string lower(std::string s) {
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return std::tolower(c); });
  return s;
}

std::vector<std::string> split_csv(const std::string& s) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= s.size()) {
    size_t end = s.find(',', start);
    if (end == std::string::npos) end = s.size();
    std::string part = s.substr(start, end - start);
    part.erase(0, part.find_first_not_of(" \t"));
    part.erase(part.find_last_not_of(" \t") + 1);
    if (!part.empty()) out.push_back(part);
    start = end + 1;
  }
  return out;
}

Result<int> parse_int(const std::string& flag, const std::string& v, int min, int max) {
  int out = 0;
  auto [p, ec] = std::from_chars(v.data(), v.data() + v.size(), out);
  if (ec != std::errc() || p != v.data() + v.size() || out < min || out > max) {
    return make_error(Errc::Invalid, "{} must be a whole number from {} to {}, got '{}'", flag, min,
                      max, v);
  }
  return out;
}

// Applies one resolved value (from a flag or its environment variable) to Options.
Status apply_value(Options& o, const std::string& flag, const std::string& v) {
  NodeConfig& n = o.node;
  if (flag == "--cluster") {
    n.cluster_name = v;
  } else if (flag == "--apiserver-endpoint") {
    n.apiserver_endpoint = v;
  } else if (flag == "--b64-cluster-ca") {
    n.b64_cluster_ca = v;
  } else if (flag == "--use-max-pods") {
    AGENT_TRY(n.use_max_pods, parse_bool(flag, v));
  } else if (flag == "--kubelet-extra-args") {
    n.kubelet_extra_args = v;
  } else if (flag == "--dns-cluster-ip") {
    n.dns_cluster_ip = split_csv(v);
  } else if (flag == "--ip-family") {
    std::string f = lower(v);
    if (f == "ipv4") {
      n.ip_family = IpFamily::Ipv4;
    } else if (f == "ipv6") {
      n.ip_family = IpFamily::Ipv6;
    } else {
      return make_error(Errc::Invalid, "--ip-family must be ipv4 or ipv6, got '{}'", v);
    }
  } else if (flag == "--service-ipv4-cidr") {
    n.service_ipv4_cidr = v;
  } else if (flag == "--service-ipv6-cidr") {
    n.service_ipv6_cidr = v;
  } else if (flag == "--pause-container-account") {
    n.pause_container_account = v;
  } else if (flag == "--pause-container-version") {
    n.pause_container_version = v;
  } else if (flag == "--containerd-config-file") {
    n.containerd_config_file = v;
  } else if (flag == "--container-runtime") {
    if (v != "containerd") {
      return make_error(Errc::Invalid,
                        "--container-runtime '{}' is not supported: containerd is the only container "
                        "runtime since Kubernetes 1.24; drop the flag or pass containerd",
                        v);
    }
  } else if (flag == "--enable-local-outpost") {
    AGENT_TRY(n.enable_local_outpost, parse_bool(flag, v));
  } else if (flag == "--cluster-id") {
    n.cluster_id = v;
  } else if (flag == "--mount-bpf-fs") {
    AGENT_TRY(n.mount_bpf_fs, parse_bool(flag, v));
  } else if (flag == "--local-disks") {
    if (v != "raid0" && v != "raid10" && v != "mount" && v != "none") {
      return make_error(Errc::Invalid, "--local-disks must be raid0, raid10, mount or none, got '{}'", v);
    }
    n.local_disks = v;
  } else if (flag == "--local-disks-dir") {
    n.local_disks_mount_path = v;
  } else if (flag == "--aws-api-retry-attempts") {
    AGENT_TRY(n.aws_api_retry_attempts, parse_int(flag, v, 0, 100));
  } else if (flag == "--hostname-source") {
    if (v == "imds") {
      n.hostname_source = HostnameSource::Imds;
    } else if (v == "ec2") {
      n.hostname_source = HostnameSource::Ec2;
    } else if (v == "instance-id") {
      n.hostname_source = HostnameSource::InstanceId;
    } else {
      return make_error(Errc::Invalid, "--hostname-source must be imds, ec2 or instance-id, got '{}'", v);
    }
  } else if (flag == "--kube-reserved-max-pods") {
    if (v != "eni" && v != "effective") {
      return make_error(Errc::Invalid, "--kube-reserved-max-pods must be eni or effective, got '{}'", v);
    }
    n.kube_reserved_for_effective_max_pods = v == "effective";
  } else if (flag == "--platform") {
    if (v == "al2") {
      n.platform = Platform::Al2;
    } else if (v == "al2023") {
      n.platform = Platform::Al2023;
    } else {
      return make_error(Errc::Invalid, "--platform must be al2 or al2023, got '{}'", v);
    }
  } else if (flag == "--enable-docker-bridge" || flag == "--docker-config-json") {
    o.warnings.push_back(fmt::format(
        "{} was set but is ignored: it only applies to the docker runtime, and this node uses containerd",
        flag));
  } else if (flag == "--root") {
    if (v.empty() || v[0] != '/') {
      return make_error(Errc::Usage, "--root needs an absolute directory path, got '{}'", v);
    }
    o.root = v;
  } else if (flag == "--imds-endpoint") {
    o.imds_endpoint = v;
  } else if (flag == "--service-manager") {
    if (v == "auto") {
      o.service_mode = ServiceMode::Auto;
    } else if (v == "dbus") {
      o.service_mode = ServiceMode::Dbus;
    } else if (v == "offline") {
      o.service_mode = ServiceMode::Offline;
    } else {
      return make_error(Errc::Usage, "--service-manager must be auto, dbus or offline, got '{}'", v);
    }
  } else if (flag == "--timeout") {
    AGENT_TRY(int s, parse_int(flag, v, 1, 3600));
    o.timeout = std::chrono::seconds(s);
  } else if (flag == "--kubelet-settle-ms") {
    AGENT_TRY(int ms, parse_int(flag, v, 0, 600000));
    o.kubelet_settle = std::chrono::milliseconds(ms);
  }
  return {};
}

// The disabledMounts entries a --no-bind-* switch stands for (empty: not such a switch).
std::vector<const char*> no_bind_mounts(std::string_view a) {
  if (a == "--no-bind-kubelet") return {"Kubelet"};
  if (a == "--no-bind-containerd") return {"Containerd"};
  if (a == "--no-bind-soci") return {"SOCI"};
  if (a == "--no-bind-pods-logs") return {"PodLogs"};
  if (a == "--no-bind-mounts") return {"Kubelet", "Containerd", "SOCI", "PodLogs"};
  return {};
}

const FlagSpec* find_flag(std::string_view name) {
  for (const auto& f : kFlags) {
    if (name == f.flag) return &f;
  }
  return nullptr;
}

}  // namespace

Result<Options> parse_bootstrap_args(const std::vector<std::string>& args, const Getenv& getenv) {
  Options o;
  std::map<std::string, std::string> given;  // flag -> last value (bootstrap.sh: last one wins)
  std::vector<std::string> positional;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return o;
    }
    if (a == "--version") {
      o.version = true;
      return o;
    }
    if (a == "--dry-run") {
      o.dry_run = true;
      continue;
    }
    if (a == "--quiet") {
      o.quiet = true;
      continue;
    }
    if (auto off = no_bind_mounts(a); !off.empty()) {  // setup-local-disks' --no-bind-* switches
      auto& list = o.node.local_disks_disabled_mounts;
      for (const char* m : off) {
        if (std::find(list.begin(), list.end(), m) == list.end()) list.emplace_back(m);
      }
      o.given.insert(a);
      continue;
    }
    if (a.size() > 1 && a[0] == '-') {
      size_t eq = a.find('=');
      std::string name = a.substr(0, eq);
      const FlagSpec* spec = find_flag(name);
      if (spec == nullptr) {
        return make_error(Errc::Usage, "unknown option '{}' (see --help for the accepted flags)", name);
      }
      if (name == "--config-source") {  // repeatable: every value counts, in order
        if (eq == std::string::npos && i + 1 >= args.size()) return make_error(Errc::Usage, "{} needs a value", name);
        o.config_sources.push_back(eq != std::string::npos ? a.substr(eq + 1) : args[++i]);
        continue;
      }
      if (eq != std::string::npos) {
        given[name] = a.substr(eq + 1);
      } else if (i + 1 < args.size()) {
        given[name] = args[++i];
      } else {
        return make_error(Errc::Usage, "{} needs a value", name);
      }
      continue;
    }
    positional.push_back(a);
  }
  if (positional.size() > 1) {
    return make_error(Errc::Usage,
                      "unexpected argument '{}': only one cluster name may be given (quote "
                      "--kubelet-extra-args values that contain spaces)",
                      positional[1]);
  }
  if (positional.size() == 1) {
    auto it = given.find("--cluster");
    if (it != given.end() && it->second != positional[0]) {
      return make_error(Errc::Usage, "cluster name given twice: --cluster '{}' and positional '{}'",
                        it->second, positional[0]);
    }
    given["--cluster"] = positional[0];
  }

  // Resolve each flag: command line first, then its environment variable (empty = unset).
  for (const auto& spec : kFlags) {
    std::string value;
    std::string source;
    if (auto it = given.find(spec.flag); it != given.end()) {
      value = it->second;
      source = spec.flag;
    } else if (spec.env != nullptr) {
      const char* e = getenv(spec.env);
      if (e == nullptr || *e == '\0') continue;
      value = e;
      source = spec.env;
    } else {
      continue;
    }
    if (auto applied = apply_value(o, spec.flag, value); !applied) {
      // Name the variable the operator actually set, not only the flag they never passed.
      if (source == spec.flag) return applied.error();
      return applied.error().wrap("environment variable {}", spec.env);
    }
    o.sources.push_back(source);
    o.given.insert(spec.flag);
  }
  if (const char* img = getenv(kPauseImageEnv); img != nullptr && *img != '\0') {
    o.node.pause_container_image = img;
    o.sources.push_back(kPauseImageEnv);
  }
  if (!o.config_sources.empty()) return o;  // checked after the NodeConfig is applied
  AGENT_TRY_STATUS(check_node_config(o));
  return o;
}

Status check_node_config(Options& o) {
  NodeConfig& n = o.node;
  if (n.cluster_name.empty()) {
    return make_error(Errc::Usage,
                      "no cluster name: pass --cluster NAME or the name as the positional argument");
  }
  // bootstrap.sh: --service-ipv6-cidr implies ipv6 and contradicts an explicit ipv4.
  if (n.service_ipv6_cidr && !n.service_ipv6_cidr->empty()) {
    if (n.ip_family == IpFamily::Ipv4) {
      return make_error(Errc::Invalid,
                        "--ip-family should be ipv6 when --service-ipv6-cidr is specified");
    }
    n.ip_family = IpFamily::Ipv6;
  }
  // Without the endpoint or the CA, DescribeCluster runs and supplies the id (bootstrap.sh too).
  const bool describes = !n.apiserver_endpoint || n.apiserver_endpoint->empty() || !n.b64_cluster_ca ||
                         n.b64_cluster_ca->empty();
  if (n.enable_local_outpost && (!n.cluster_id || n.cluster_id->empty()) && !describes) {
    return make_error(Errc::Invalid,
                      "--cluster-id is required when --enable-local-outpost is true (the local "
                      "cluster's id, from DescribeCluster .cluster.id)");
  }
  return {};
}

std::string bootstrap_help(const std::string& program) {
  std::string out = fmt::format(
      "usage: {0} [options] <cluster-name>\n"
      "       {0} max-pods [calculator options]   (see {0} max-pods --help)\n"
      "       {0} status\n"
      "       {0} config check|dump [--config-source URI]...   (see {0} config --help)\n"
      "       {0} build-mode [NAME=VALUE]... [--var-file FILE]... [--root DIR] [--dry-run]\n"
      "                            (AMI build: see {0} build-mode --help)\n\n"
      "Configures this instance as a node of an Amazon EKS cluster: writes kubelet's config,\n"
      "kubeconfig, CA and drop-ins atomically, then enables and starts kubelet over D-Bus.\n"
      "Accepts bootstrap.sh's flags; each can also come from its environment variable\n"
      "(shown in brackets), and the flag wins. Values may be given as --flag value or --flag=value.\n\n"
      "Options:\n",
      program);
  auto add = [&out](const FlagSpec& f, bool takes_value) {
    std::string left = f.flag;
    if (takes_value) left += " VALUE";
    if (f.env != nullptr) left += fmt::format(" [{}]", f.env);
    out += fmt::format("  {}\n      {}\n", left, f.help);
  };
  for (const auto& f : kFlags) add(f, true);
  for (const auto& f : kSwitches) add(f, false);
  out += fmt::format(
      "  [{}]\n      Environment only: repository of the pause image (default <ecr>/eks/pause).\n\n",
      kPauseImageEnv);
  out +=
      "Exit status: 0 success, 2 usage error, 3 invalid input, 4 IMDS unreachable, 5 AWS API error,\n"
      "6 local file system error, 7 a service failed (kubelet's journal is printed), 8 unsupported,\n"
      "124 timeout, 130 interrupted, 70 internal error.\n";
  return out;
}

}  // namespace agent::cli
