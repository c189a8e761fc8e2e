#include "agent/app/gather.h"
#include "agent/model/text.h"

#include <charconv>
#include <cstdlib>
#include <sstream>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/app/aws_lookups.h"
#include "agent/app/log.h"
#include "agent/compute/accelerator.h"
#include "agent/compute/al2023_layout.h"
#include "agent/compute/al2023/kubelet_files.h"
#include "agent/compute/cluster_config.h"
#include "agent/compute/instance_types.h"
#include "agent/compute/kubelet_args.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/ecr.h"
#include "agent/compute/node_settings.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/user_config.h"

namespace agent::app {
namespace {

constexpr const char* kMd = "latest/meta-data/";

std::vector<std::string> lines(const std::string& s) {
  std::vector<std::string> out;
  std::istringstream in(s);
  std::string line;
  while (std::getline(in, line)) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
    if (!line.empty()) out.push_back(line);
  }
  return out;
}

// An IMDS error as the operator should see it.
Error imds_error(const Error& e, const std::string& path) {
  Error out = e.wrap("reading IMDS {}", path);
  if (out.code == Errc::Timeout) out.code = Errc::Unavailable;
  return out;
}

std::optional<std::string> read_optional(const RootFsReader& fs, const std::string& path) {
  auto r = fs.read(path);
  if (!r) return std::nullopt;
  return std::move(r).value();
}

bool bpf_is_mounted(const RootFsReader& fs) {
  auto info = fs.read("/proc/self/mountinfo");
  if (!info) return false;
  for (const auto& line : lines(*info)) {
    // mountinfo: id parent major:minor root MOUNTPOINT options ... - FSTYPE source ...
    std::istringstream in(line);
    std::string id, parent, dev, root, mountpoint;
    in >> id >> parent >> dev >> root >> mountpoint;
    if (mountpoint == "/sys/fs/bpf") return true;
    if (auto dash = line.find(" - "); dash != std::string::npos &&
                                      line.compare(dash + 3, 4, "bpf ") == 0) {
      return true;
    }
  }
  return false;
}

// Online memory as nodeadm counts it: /sys/devices/system/memory/block_size_bytes (hex) times the
// memory*/online files that say 1. 0 when sysfs does not tell.
unsigned long long online_memory(const RootFsReader& fs) {
  constexpr const char* kDir = "/sys/devices/system/memory";
  auto block = read_optional(fs, fmt::format("{}/block_size_bytes", kDir));
  auto names = fs.list(kDir);
  if (!block || !names) return 0;
  unsigned long long size = 0;
  const std::string hex = trimmed(*block);
  if (std::from_chars(hex.data(), hex.data() + hex.size(), size, 16).ec != std::errc()) return 0;
  unsigned long long online = 0;
  for (const auto& n : *names) {
    if (!n.starts_with("memory")) continue;
    if (auto v = read_optional(fs, fmt::format("{}/{}/online", kDir, n)); v && trim(*v) == "1") ++online;
  }
  return size * online;
}

// The online CPUs from sysfs, else the host's count, at least 1.
int online_cpus(const RootFsReader& fs, int host_vcpus) {
  int n = 0;
  if (auto online = read_optional(fs, "/sys/devices/system/cpu/online")) n = count_cpu_list(*online);
  if (n <= 0) n = host_vcpus > 0 ? host_vcpus : 1;
  return n;
}

// What only the AL2023 layout reads: the credential provider binary (nodeadm's rule: the
// environment's path, else its own), its kubelet config drop-in, and the containerd version from
// `containerd --version` when the image has no fact file (as nodeadm; absent: containerd 1.x).
void gather_al2023(const GatherPorts& ports, Facts& f) {
  const char* env_bin = std::getenv("ECR_CREDENTIAL_PROVIDER_BIN_PATH");
  f.credential_provider_bin = env_bin != nullptr && *env_bin != '\0' ? env_bin : compute::al2023::kCredentialProviderBin;
  f.credential_provider_bin_present = ports.fs.exists(f.credential_provider_bin);
  f.nodeadm_dropin_present = ports.fs.exists(compute::al2023::kKubeletDropinPath);
  f.online_memory_bytes = online_memory(ports.fs);
  f.pause_tar_present = ports.fs.exists(compute::kPauseTarPath);
  if (!f.containerd_version) {
    if (auto out = ports.commands.run({"containerd", "--version"})) {
      if (auto v = parse_version(*out)) f.containerd_version = v->str();
    }
  }
}

}  // namespace

int count_cpu_list(std::string_view list) {
  int count = 0;
  size_t i = 0;
  while (i < list.size()) {
    size_t end = list.find(',', i);
    if (end == std::string_view::npos) end = list.size();
    std::string_view part = list.substr(i, end - i);
    while (!part.empty() && std::isspace(static_cast<unsigned char>(part.back()))) part.remove_suffix(1);
    int a = 0, b = 0;
    auto dash = part.find('-');
    const char* first_end = part.data() + (dash == std::string_view::npos ? part.size() : dash);
    auto [p1, e1] = std::from_chars(part.data(), first_end, a);
    if (e1 != std::errc() || p1 != first_end) return 0;  // "0x", "1.5"
    if (dash == std::string_view::npos) {
      b = a;
    } else {
      auto [p2, e2] = std::from_chars(part.data() + dash + 1, part.data() + part.size(), b);
      if (e2 != std::errc() || p2 != part.data() + part.size() || b < a) return 0;  // "0-3x"
    }
    count += b - a + 1;
    i = end + 1;
  }
  // A trailing comma ("0-3,") leaves an empty last element: malformed too.
  if (!list.empty() && list.back() == ',') return 0;
  return count;
}

AcceleratorFacts gather_accelerators(const RootFsReader& fs) {
  AcceleratorFacts out;
  std::vector<compute::PciFunction> functions;
  if (auto names = fs.list(compute::kPciDevicesDir)) {
    for (const auto& name : *names) {
      const std::string dir = fmt::format("{}/{}", compute::kPciDevicesDir, name);
      functions.push_back({.address = name,
                           .vendor = read_optional(fs, dir + "/vendor").value_or(""),
                           .pci_class = read_optional(fs, dir + "/class").value_or("")});
    }
  }
  out.nvidia_pci_addresses = compute::nvidia_gpu_addresses(functions);
  out.nvidia_gpus = static_cast<int>(out.nvidia_pci_addresses.size());
  out.nvidia_runtime_installed = fs.exists(compute::kNvidiaRuntimePath);
  return out;
}

namespace {

// Round trips 1+2 (the token, inside Imds, and every path that does not need the MAC), then round
// trip 3: only the MAC-dependent paths this configuration needs (before DescribeCluster answers,
// both families' paths: IMDS's budget is short, a wait for an ACTIVE cluster is not).
Status gather_instance(const NodeConfig& config, const GatherPorts& ports, bool describe, InstanceFacts& in) {
  const IpFamily family = config.ip_family.value_or(IpFamily::Ipv4);
  const std::vector<std::string> first = {
      "latest/dynamic/instance-identity/document",
      std::string(kMd) + "services/domain",
      std::string(kMd) + "mac",
      std::string(kMd) + "instance-type",
      std::string(kMd) + "instance-id",
      std::string(kMd) + "placement/availability-zone",
      std::string(kMd) + "local-ipv4",
      std::string(kMd) + "local-hostname",
  };
  auto got = ports.imds.get_many(first);
  for (size_t i = 0; i < 6; ++i) {
    if (!got[i]) return imds_error(got[i].error(), first[i]);
  }
  auto doc = nlohmann::json::parse(*got[0], nullptr, false);
  if (!doc.is_object() || !doc.contains("region") || !doc["region"].is_string()) {
    return make_error(Errc::Invalid, "IMDS {} has no region field", first[0]);
  }
  in.region = doc["region"].get<std::string>();
  in.domain = trimmed(*got[1]);
  in.mac = trimmed(*got[2]);
  in.instance_type = trimmed(*got[3]);
  in.instance_id = trimmed(*got[4]);
  in.availability_zone = trimmed(*got[5]);
  for (size_t i = 6; i < 8; ++i) {
    if (!got[i] && got[i].error().code != Errc::NotFound) return imds_error(got[i].error(), first[i]);
  }
  if (got[6]) in.local_ipv4 = trimmed(*got[6]);
  if (got[7]) in.local_hostname = trimmed(*got[7]);

  const std::string mac_base = fmt::format("{}network/interfaces/macs/{}/", kMd, in.mac);
  std::vector<std::string> second;
  const bool need_vpc_cidrs = (family == IpFamily::Ipv4 || describe) && config.dns_cluster_ip.empty() &&
                              (!config.service_ipv4_cidr || config.service_ipv4_cidr->empty() ||
                               *config.service_ipv4_cidr == "None");
  if (need_vpc_cidrs) second.push_back(mac_base + "vpc-ipv4-cidr-blocks");
  if (family == IpFamily::Ipv6 || describe) second.push_back(mac_base + "ipv6s");
  if (second.empty()) return {};
  auto more = ports.imds.get_many(second);
  for (size_t i = 0; i < second.size(); ++i) {
    if (!more[i]) {
      if (more[i].error().code == Errc::NotFound) continue;  // absent: treated as empty
      return imds_error(more[i].error(), second[i]);
    }
    if (second[i].ends_with("vpc-ipv4-cidr-blocks")) in.vpc_ipv4_cidrs = lines(*more[i]);
    if (second[i].ends_with("ipv6s")) in.ipv6s = lines(*more[i]);
  }
  return {};
}

// Kubelet version: the build-time fact file first (no subprocess on the boot path).
Status gather_kubelet_version(const GatherPorts& ports, Facts& f) {
  if (auto v = read_optional(ports.fs, compute::kKubeletVersionPath)) {
    auto parsed = parse_version(*v);
    if (!parsed) {
      return make_error(Errc::Invalid, "{} does not hold a version (expected e.g. v1.30.4)",
                        compute::kKubeletVersionPath);
    }
    f.kubelet_version = *parsed;
    f.kubelet_version_source = compute::kKubeletVersionPath;
    return {};
  }
  auto out = ports.commands.run({"kubelet", "--version"});
  if (!out) {
    return make_error(Errc::NotFound,
                      "cannot tell the kubelet version: {} is absent and `kubelet --version` failed "
                      "({}); install kubelet or write its version into that file",
                      compute::kKubeletVersionPath, out.error().message);
  }
  auto parsed = parse_version(*out);
  if (!parsed) return make_error(Errc::Invalid, "`kubelet --version` printed no version");
  f.kubelet_version = *parsed;
  f.kubelet_version_source = "kubelet --version";
  return {};
}

// What the image holds: CPUs, the files compute patches or consults, the units present.
Status gather_image(const NodeConfig& c, const GatherPorts& ports, Facts& f) {
  f.vcpus = online_cpus(ports.fs, ports.host_vcpus);

  f.kubelet_config = read_optional(ports.fs, compute::kKubeletConfigPath);
  f.eni_max_pods_override = read_optional(ports.fs, compute::kEniMaxPodsPath);
  f.credential_provider_config = read_optional(ports.fs, compute::kCredentialProviderPath);
  if (auto v = read_optional(ports.fs, compute::kContainerdVersionPath)) {
    f.containerd_version = trimmed(*v);
  }
  f.accelerators = gather_accelerators(ports.fs);
  f.kubelet_unit_present = ports.fs.exists(compute::kKubeletUnitPath);
  for (const char* dir : {"/etc/systemd/system/", "/usr/lib/systemd/system/", "/lib/systemd/system/"}) {
    f.resolved_unit_present = f.resolved_unit_present || ports.fs.exists(std::string(dir) + "systemd-resolved.service");
  }
  f.kubelet_config_dropin_present = ports.fs.exists(compute::kKubeletConfigDropinPath);
  f.bpf_unit_present = ports.fs.exists(compute::kBpfMountUnitPath);
  if (c.mount_bpf_fs) f.bpf_mounted = bpf_is_mounted(ports.fs);
  if (f.platform == Platform::Al2023) gather_al2023(ports, f);

  if (c.containerd_config_file && !c.containerd_config_file->empty()) {
    auto user = ports.fs.read(*c.containerd_config_file);
    if (!user) {
      return make_error(Errc::Invalid, "--containerd-config-file {}: cannot read it: {}",
                        *c.containerd_config_file, user.error().message);
    }
    f.containerd_config_user = std::move(user).value();
  }
  return {};
}

// The local Outpost cluster's API host, asked up to kOutpostLookupAttempts times 200, 400, 800 ...
// ms apart as nodeadm does (the instance's resolver may not answer yet at boot); empty when it
// never resolves (plan_node then warns). Without a clock it is asked once.
std::vector<std::string> resolve_outpost_host(const GatherPorts& ports, const std::string& host) {
  constexpr int kOutpostLookupAttempts = 6;
  std::chrono::milliseconds delay(200);
  for (int attempt = 1;; ++attempt) {
    auto addresses = ports.resolve(host);
    if (!addresses.empty() || attempt == kOutpostLookupAttempts || ports.clock == nullptr) return addresses;
    const auto wake = ports.clock->now() + delay;
    if (ports.deadline != std::chrono::steady_clock::time_point{} && wake >= ports.deadline) return addresses;
    log::info("OUTPOST_LOOKUP_RETRY", "{} does not resolve (attempt {} of {}); asking again in {} ms", host,
              attempt, kOutpostLookupAttempts, delay.count());
    if (!sleep_until(*ports.clock, ports.cancel, wake)) return addresses;
    delay *= 2;
  }
}

// FIPS (bootstrap.sh uses the ecr-fips host only when FIPS is on and that host resolves) and the
// local Outpost cluster's API host.
void gather_network(const NodeConfig& c, const GatherPorts& ports, Facts& f) {
  if (auto fips = read_optional(ports.fs, "/proc/sys/crypto/fips_enabled"); fips && trim(*fips) == "1") {
    auto ecr = compute::ecr_registry_for(f.instance.region, f.instance.domain, c.pause_container_account);
    f.fips_ecr_endpoint = ports.resolve && !ports.resolve(ecr.fips_host).empty();
  }
  if (c.enable_local_outpost && c.apiserver_endpoint) {
    const std::string host = compute::endpoint_host(*c.apiserver_endpoint);
    if (ports.resolve) f.outpost_host_addresses = resolve_outpost_host(ports, host);
    f.etc_hosts = read_optional(ports.fs, "/etc/hosts");
  }
}

}  // namespace

Facts gather_soci_facts(const RootFsReader& fs, int host_vcpus) {
  Facts f;
  f.vcpus = online_cpus(fs, host_vcpus);
  f.online_memory_bytes = online_memory(fs);
  f.pause_tar_present = fs.exists(compute::kPauseTarPath);
  return f;
}

Result<Facts> gather(const NodeConfig& config, const GatherPorts& ports, const KnownFacts& known) {
  Facts f;
  InstanceFacts& in = f.instance;
  f.platform = compute::platform_for(config.platform, read_optional(ports.fs, "/etc/os-release"));
  // DescribeCluster may change the IP family and the service CIDR, which decide the MAC paths.
  const bool describe = ports.aws != nullptr && compute::needs_describe_cluster(config);
  AGENT_TRY_STATUS(gather_instance(config, ports, describe, in));

  // AWS API fallbacks that the rest of gather depends on.
  std::optional<AwsContext> aws;
  const AwsWhere where{.region = in.region, .domain = in.domain, .deadline = ports.deadline};
  if (ports.aws != nullptr) {
    aws.emplace(AwsContext{.api = *ports.aws, .clock = *ports.clock, .cancel = ports.cancel});
    aws->jitter_seed = static_cast<std::uint64_t>(ports.clock->now().time_since_epoch().count());
    aws->keep_asking_for = ports.private_dns_wait;
  }
  if (describe) {
    log::info("DESCRIBE_CLUSTER",
              "--apiserver-endpoint or --b64-cluster-ca is not set: asking EKS DescribeCluster for "
              "cluster {} in {}",
              config.cluster_name, in.region);
    AGENT_TRY(ClusterInfo cluster, describe_active_cluster(*aws, where, config.cluster_name));
    AGENT_TRY_STATUS(compute::check_cluster(cluster));
    f.cluster = std::move(cluster);
  }
  const NodeConfig effective = compute::with_cluster(config, f.cluster);
  const NodeConfig& c = effective;
  // A --hostname-override in the extra args wins over every source (plan_node), so EC2 is not asked.
  auto extra = compute::inspect_extra_args(c.kubelet_extra_args);
  const bool user_hostname = extra && extra->hostname_override;
  if (known.ec2_private_dns_name) {
    f.ec2_private_dns_name = known.ec2_private_dns_name;
  } else if (aws && c.hostname_source == HostnameSource::Ec2 && !user_hostname) {
    AGENT_TRY(f.ec2_private_dns_name, ec2_private_dns_name(*aws, where, in.instance_id));
  }

  AGENT_TRY_STATUS(gather_kubelet_version(ports, f));
  AGENT_TRY_STATUS(gather_image(c, ports, f));
  gather_network(c, ports, f);

  // An instance type no table knows: EC2 DescribeInstanceTypes, bootstrap.sh's calculator fallback.
  // Not fatal: without an answer max pods is 110 with a warning (compute::plan_node).
  if (aws && compute::max_pods_needs_lookup(in.instance_type, f.eni_max_pods_override)) {
    log::info("MAXPODS_EC2_LOOKUP", "instance type {} is in no max-pods table: asking EC2 DescribeInstanceTypes",
              in.instance_type);
    auto t = describe_instance_type(*aws, where, in.instance_type);
    if (t) {
      f.instance_type_info = std::move(t).value();
    } else if (t.error().code == Errc::Interrupted) {
      return t.error();
    } else {
      f.instance_type_lookup_error = t.error().message;
    }
  }
  return f;
}

}  // namespace agent::app
