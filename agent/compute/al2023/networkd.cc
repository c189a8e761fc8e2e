#include "agent/compute/al2023/networkd.h"

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "agent/model/text.h"

namespace agent::compute::al2023 {

std::string manager_cache_path(std::string_view instance_id, std::string_view iface) {
  return fmt::format("{}/{}/{}", kManagerCacheDir, instance_id, iface);
}

std::string network_file_path(std::string_view iface) {
  return fmt::format("/run/systemd/network/70-eks-{}.network", iface);
}

std::string manager_for(const std::optional<std::string>& cached, bool init_marker_present) {
  if (cached && !trim(*cached).empty()) return trimmed(*cached);
  return init_marker_present ? kManagerCni : kManagerNetworkd;
}

int route_metric(int network_card, int device_index) { return 512 + 100 * network_card + device_index; }
int route_table(int network_card, int device_index) { return 10000 + 100 * network_card + device_index; }

namespace {

// A secondary ENI answers from its own address: replies and connections it originates leave
// through it (its own default routes in its own table), not through the primary's default route.
std::string policy_routing_sections(const EniFacts& eni) {
  const int table = route_table(eni.network_card, eni.device_index);
  return fmt::format(
      "\n"
      "[Route]\n"
      "Gateway=_ipv6ra\n"
      "Table={0}\n"
      "\n"
      "[Route]\n"
      "Gateway=_dhcp4\n"
      "Table={0}\n"
      "\n"
      "[RoutingPolicyRule]\n"
      "From={1}\n"
      "Table={0}\n"
      "Priority={2}\n",
      table, eni.ipv4, kPolicyRulePriority);
}

}  // namespace

std::string network_file_for(const EniFacts& eni) {
  const int metric = route_metric(eni.network_card, eni.device_index);
  std::string out = fmt::format(
      "# {0}: device {1} on network card {2}, configured by systemd-networkd for EKS\n"
      "# (written by nodeadm-internal udev-net-manager; removed when the interface goes away).\n"
      "[Match]\n"
      "MACAddress={3}\n"
      "Name={0}\n"
      "\n"
      "[Network]\n"
      "DHCP=yes\n"
      "\n"
      "[DHCPv4]\n"
      "RouteMetric={4}\n"
      "\n"
      "[IPv6AcceptRA]\n"
      "RouteMetric={4}\n",
      eni.iface, eni.device_index, eni.network_card, eni.mac, metric);
  if (!eni.primary) out += policy_routing_sections(eni);
  return out;
}

std::vector<FileWrite> add_interface_files(std::string_view instance_id, std::string_view iface,
                                           std::string_view manager, const std::optional<EniFacts>& eni) {
  std::vector<FileWrite> out;
  out.push_back({.path = manager_cache_path(instance_id, iface), .bytes = std::string(manager), .mode = 0644});
  if (manager != kManagerNetworkd || !eni) return out;
  out.push_back({.path = network_file_path(iface), .bytes = network_file_for(*eni), .mode = 0644});
  if (eni->primary) {
    out.push_back({.path = kEc2NetworkDisablePath, .bytes = std::string(kEc2NetworkDisableBytes), .mode = 0644});
  }
  return out;
}

Result<std::vector<NetworkLink>> parse_networkctl_list(std::string_view json) {
  const auto doc = nlohmann::json::parse(json, nullptr, false);
  if (!doc.is_object() || !doc.contains("Interfaces") || !doc["Interfaces"].is_array()) {
    return make_error(Errc::Parse, "networkctl list --json: no \"Interfaces\" array");
  }
  std::vector<NetworkLink> links;
  for (const auto& item : doc["Interfaces"]) {
    if (!item.is_object() || !item.contains("Name") || !item["Name"].is_string()) {
      return make_error(Errc::Parse, "networkctl list --json: an interface without a \"Name\"");
    }
    NetworkLink link{.name = item["Name"].get<std::string>()};
    if (auto it = item.find("AdministrativeState"); it != item.end() && it->is_string()) {
      link.administrative_state = it->get<std::string>();
    }
    links.push_back(std::move(link));
  }
  return links;
}

std::string primary_only_problem(const std::vector<NetworkLink>& links, std::string_view primary) {
  std::string problems;
  auto note = [&](std::string text) { problems += (problems.empty() ? "" : "; ") + text; };
  bool seen_primary = false;
  for (const auto& link : links) {
    const bool is_primary = link.name == primary;
    seen_primary = seen_primary || is_primary;
    const char* want = is_primary ? "configured" : "unmanaged";
    if (link.administrative_state != want) {
      note(fmt::format("{} is {}, want {}", link.name,
                       link.administrative_state.empty() ? "without a state" : link.administrative_state, want));
    }
  }
  if (!seen_primary) note(fmt::format("the primary interface {} is not listed", primary));
  return problems;
}

}  // namespace agent::compute::al2023
