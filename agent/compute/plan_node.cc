#include "agent/compute/plan_node.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/compute/al2_layout.h"
#include "agent/compute/al2023_layout.h"
#include "agent/compute/node_settings.h"

namespace agent::compute {
namespace {

// /etc/hosts with the agent's marked block replaced by `addresses` (idempotent, unlike
// bootstrap.sh's and nodeadm's append-on-every-run).
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

Status check_network_values(const NodeConfig& c) {
  for (const auto* list : {&c.nameservers, &c.dns_domains}) {
    for (const auto& v : *list) {
      if (v.empty() || v.find_first_of(" \t\r\n") != std::string::npos) {
        return make_error(Errc::Invalid, "spec.instance.network: '{}' is not a single {}", v,
                          list == &c.nameservers ? "nameserver address" : "search domain");
      }
    }
  }
  return {};
}

void add_values(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  nlohmann::ordered_json v = {
      {"platform", platform_name(f.platform)},
      {"cluster", c.cluster_name},
      {"instanceType", f.instance.instance_type},
      {"region", f.instance.region},
      {"kubeletVersion", f.kubelet_version.str()},
      {"ipFamily", s.family == IpFamily::Ipv4 ? "ipv4" : "ipv6"},
      {"nodeIP", s.node_ip},
      {"hostname", s.user_args.hostname_override ? "(from --kubelet-extra-args)" : s.hostname},
      {"providerID", s.provider_id},
      {"clusterDNS", s.dns.servers},
      {"clusterDNSReason", s.dns.reason},
      {"maxPods", s.max_pods},
      {"maxPodsSource", s.max_pods_source},
      {"maxPodsWritten", c.use_max_pods},
      {"kubeReservedMaxPods", s.reserve_max_pods},
      {"kubeReservedRule", s.reserve_rule},
      {"vcpus", f.vcpus},
      {"kubeReservedCPU", fmt::format("{}m", s.reserved_cpu_m)},
      {"kubeReservedMemory", fmt::format("{}Mi", s.reserved_memory_mi)},
      {"pauseImage", s.pause_image},
      {"nvidiaGPUs", f.accelerators.nvidia_gpus},
  };
  // What the layout recorded (containerd's default runtime, the user kubelet config's file).
  for (auto& [key, value] : plan.values.items()) v[key] = value;
  plan.values = std::move(v);
}

}  // namespace

std::string endpoint_host(const std::string& endpoint) {
  std::string rest = endpoint;
  if (auto p = rest.find("://"); p != std::string::npos) rest = rest.substr(p + 3);
  rest = rest.substr(0, rest.find('/'));
  if (!rest.empty() && rest[0] == '[') return rest.substr(1, rest.find(']') - 1);
  return rest.substr(0, rest.find(':'));
}

std::optional<FileWrite> outpost_hosts_file(const NodeConfig& c, const Facts& f, Plan& plan) {
  const std::string host = endpoint_host(*c.apiserver_endpoint);
  if (f.outpost_host_addresses.empty()) {
    plan.diagnostics.push_back({Diagnostic::Level::Warning, "OUTPOST_HOST_UNRESOLVED",
                                fmt::format("could not resolve {}; /etc/hosts is left without an entry for it", host)});
    return std::nullopt;
  }
  return FileWrite{.path = kEtcHostsPath,
                   .bytes = hosts_with_block(f.etc_hosts.value_or(""), f.outpost_host_addresses, host),
                   .mode = 0644};
}

Status add_resolved_dropin(const NodeConfig& c, const Facts& f, Plan& plan) {
  if (c.nameservers.empty() && c.dns_domains.empty()) {
    // Unlike nodeadm, a drop-in from an earlier configuration does not outlive it.
    if (f.resolved_unit_present) plan.removals.push_back({.path = kResolvedDropinPath, .restarts = {kResolvedUnit}});
    return {};
  }
  AGENT_TRY_STATUS(check_network_values(c));
  if (!f.resolved_unit_present) {
    plan.diagnostics.push_back(
        {Diagnostic::Level::Warning, "NETWORK_NOT_APPLIED",
         "spec.instance.network is not applied: systemd-resolved is not installed (Amazon Linux 2 does not "
         "run it); set DNS in the VPC's DHCP options instead"});
    return {};
  }
  const auto line = [](const char* key, const std::vector<std::string>& values) {
    return values.empty() ? std::string() : fmt::format("{}={}", key, fmt::join(values, " "));
  };
  plan.files.push_back({.path = kResolvedDropinPath,
                        .bytes = fmt::format("[Resolve]\n{}\n{}\n", line("DNS", c.nameservers),
                                             line("Domains", c.dns_domains)),
                        .mode = 0644,
                        .restarts = {kResolvedUnit}});
  return {};
}

Result<Plan> plan_node(const NodeConfig& config, const Facts& f) {
  AGENT_TRY(NodeSettings s, node_settings_for(config, f));
  Plan plan;
  plan.diagnostics = s.diagnostics;
  if (f.platform == Platform::Al2) {
    AGENT_TRY_STATUS(add_al2_layout(s, f, plan));
  } else {
    AGENT_TRY_STATUS(add_al2023_layout(s, f, plan));
  }

  // Instance-store disks (--local-disks) are set up by the run before the daemons start
  // (compute/local_disks, app/local_disks), not planned here.
  add_values(s, f, plan);
  return plan;
}

}  // namespace agent::compute
