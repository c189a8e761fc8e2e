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

// "a, b or c".
std::string choice_list(const std::vector<std::string_view>& names) {
  std::string out;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += i + 1 == names.size() ? " or " : ", ";
    out += names[i];
  }
  return out;
}

// A value that is only checked, not mapped (--local-disks, --kube-reserved-max-pods).
Status check_choice(const std::string& flag, const std::string& v, const std::vector<std::string_view>& choices) {
  if (std::find(choices.begin(), choices.end(), v) != choices.end()) return {};
  return make_error(Errc::Invalid, "{} must be {}, got '{}'", flag, choice_list(choices), v);
}

// The value of an enumerated flag, from `choices` (compared after `normalize`); anything else is
// `code`, naming every choice: "--platform must be al2 or al2023, got 'x'".
template <typename T>
Result<T> pick(const std::string& flag, const std::string& v,
               std::initializer_list<std::pair<std::string_view, T>> choices, Errc code = Errc::Invalid,
               std::string (*normalize)(std::string) = nullptr) {
  const std::string key = normalize ? normalize(v) : v;
  std::vector<std::string_view> names;
  for (const auto& [name, value] : choices) {
    if (key == name) return value;
    names.push_back(name);
  }
  return make_error(code, "{} must be {}, got '{}'", flag, choice_list(names), v);
}

// bootstrap.sh's flags that are plain strings: where each one goes in NodeConfig.
std::string* string_field(NodeConfig& n, const std::string& flag) {
  if (flag == "--cluster") return &n.cluster_name;
  if (flag == "--kubelet-extra-args") return &n.kubelet_extra_args;
  if (flag == "--pause-container-version") return &n.pause_container_version;
  return nullptr;
}
std::optional<std::string>* optional_field(NodeConfig& n, const std::string& flag) {
  if (flag == "--apiserver-endpoint") return &n.apiserver_endpoint;
  if (flag == "--b64-cluster-ca") return &n.b64_cluster_ca;
  if (flag == "--service-ipv4-cidr") return &n.service_ipv4_cidr;
  if (flag == "--service-ipv6-cidr") return &n.service_ipv6_cidr;
  if (flag == "--pause-container-account") return &n.pause_container_account;
  if (flag == "--containerd-config-file") return &n.containerd_config_file;
  if (flag == "--cluster-id") return &n.cluster_id;
  if (flag == "--local-disks-dir") return &n.local_disks_mount_path;
  return nullptr;
}
bool* bool_field(NodeConfig& n, const std::string& flag) {
  if (flag == "--use-max-pods") return &n.use_max_pods;
  if (flag == "--enable-local-outpost") return &n.enable_local_outpost;
  if (flag == "--mount-bpf-fs") return &n.mount_bpf_fs;
  return nullptr;
}

// The flags with their own rules: enumerations, lists, numbers, and the ones only checked.
Status apply_node_value(NodeConfig& n, const std::string& flag, const std::string& v) {
  if (flag == "--dns-cluster-ip") {
    n.dns_cluster_ip = split_csv(v);
  } else if (flag == "--ip-family") {
    AGENT_TRY(n.ip_family, pick<IpFamily>(flag, v, {{"ipv4", IpFamily::Ipv4}, {"ipv6", IpFamily::Ipv6}},
                                         Errc::Invalid, lower));
  } else if (flag == "--container-runtime") {
    if (v != "containerd") {
      return make_error(Errc::Invalid,
                        "--container-runtime '{}' is not supported: containerd is the only container "
                        "runtime since Kubernetes 1.24; drop the flag or pass containerd",
                        v);
    }
  } else if (flag == "--local-disks") {
    AGENT_TRY_STATUS(check_choice(flag, v, {"raid0", "raid10", "mount", "none"}));
    n.local_disks = v;
  } else if (flag == "--aws-api-retry-attempts") {
    AGENT_TRY(n.aws_api_retry_attempts, parse_int(flag, v, 0, 100));
  } else if (flag == "--hostname-source") {
    AGENT_TRY(n.hostname_source, pick<HostnameSource>(flag, v, {{"imds", HostnameSource::Imds},
                                                                {"ec2", HostnameSource::Ec2},
                                                                {"instance-id", HostnameSource::InstanceId}}));
  } else if (flag == "--kube-reserved-max-pods") {
    AGENT_TRY_STATUS(check_choice(flag, v, {"eni", "effective"}));
    n.kube_reserved_for_effective_max_pods = v == "effective";
  } else if (flag == "--platform") {
    AGENT_TRY(n.platform, pick<Platform>(flag, v, {{"al2", Platform::Al2}, {"al2023", Platform::Al2023}}));
  }
  return {};
}

// The agent's own options (where it runs, how long, how it reaches IMDS and systemd).
Status apply_agent_value(Options& o, const std::string& flag, const std::string& v) {
  if (flag == "--root") {
    if (v.empty() || v[0] != '/') {
      return make_error(Errc::Usage, "--root needs an absolute directory path, got '{}'", v);
    }
    o.root = v;
  } else if (flag == "--imds-endpoint") {
    o.imds_endpoint = v;
  } else if (flag == "--service-manager") {
    AGENT_TRY(o.service_mode, pick<ServiceMode>(flag, v, {{"auto", ServiceMode::Auto},
                                                          {"dbus", ServiceMode::Dbus},
                                                          {"offline", ServiceMode::Offline}},
                                                Errc::Usage));
  } else if (flag == "--timeout") {
    AGENT_TRY(int s, parse_int(flag, v, 1, 3600));
    o.timeout = std::chrono::seconds(s);
  } else if (flag == "--kubelet-settle-ms") {
    AGENT_TRY(int ms, parse_int(flag, v, 0, 600000));
    o.kubelet_settle = std::chrono::milliseconds(ms);
  }
  return {};
}

// Applies one resolved value (from a flag or its environment variable) to Options.
Status apply_value(Options& o, const std::string& flag, const std::string& v) {
  NodeConfig& n = o.node;
  if (std::string* field = string_field(n, flag)) {
    *field = v;
  } else if (std::optional<std::string>* opt = optional_field(n, flag)) {
    *opt = v;
  } else if (bool* b = bool_field(n, flag)) {
    AGENT_TRY(*b, parse_bool(flag, v));
  } else if (flag == "--enable-docker-bridge" || flag == "--docker-config-json") {
    o.warnings.push_back(fmt::format(
        "{} was set but is ignored: it only applies to the docker runtime, and this node uses containerd",
        flag));
  } else {
    AGENT_TRY_STATUS(apply_node_value(n, flag, v));
    AGENT_TRY_STATUS(apply_agent_value(o, flag, v));
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

// The command line's words: switches set on `o` (--help and --version end the scan), flag values
// into `given` (the last one wins, as in bootstrap.sh), --config-source values in order, the rest
// into `positional`.
Status scan_args(const std::vector<std::string>& args, Options& o, std::map<std::string, std::string>& given,
                 std::vector<std::string>& positional) {
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-h" || a == "--help") {
      o.help = true;
      return {};
    }
    if (a == "--version") {
      o.version = true;
      return {};
    }
    if (a == "--dry-run" || a == "--quiet") {
      (a == "--dry-run" ? o.dry_run : o.quiet) = true;
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
    if (a.size() < 2 || a[0] != '-') {
      positional.push_back(a);
      continue;
    }
    const size_t eq = a.find('=');
    const std::string name = a.substr(0, eq);
    if (find_flag(name) == nullptr) {
      return make_error(Errc::Usage, "unknown option '{}' (see --help for the accepted flags)", name);
    }
    if (eq == std::string::npos && i + 1 >= args.size()) return make_error(Errc::Usage, "{} needs a value", name);
    std::string value = eq != std::string::npos ? a.substr(eq + 1) : args[++i];
    if (name == "--config-source") {  // repeatable: every value counts, in order
      o.config_sources.push_back(std::move(value));
    } else {
      given[name] = std::move(value);
    }
  }
  return {};
}

// The cluster name given as the one positional argument (bootstrap.sh's form) joins `given`.
Status take_positional(const std::vector<std::string>& positional, std::map<std::string, std::string>& given) {
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
  return {};
}

// Each flag's value: the command line first, then its environment variable (empty = unset); an
// error about a value from a variable names the variable.
Status resolve_flags(Options& o, const std::map<std::string, std::string>& given, const Getenv& getenv) {
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
  return {};
}

}  // namespace

Result<Options> parse_bootstrap_args(const std::vector<std::string>& args, const Getenv& getenv) {
  Options o;
  std::map<std::string, std::string> given;  // flag -> last value
  std::vector<std::string> positional;
  AGENT_TRY_STATUS(scan_args(args, o, given, positional));
  if (o.help || o.version) return o;
  AGENT_TRY_STATUS(take_positional(positional, given));
  AGENT_TRY_STATUS(resolve_flags(o, given, getenv));
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
