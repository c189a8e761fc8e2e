#include "agent/app/nodeadm_internal.h"

#include <algorithm>
#include <cctype>
#include <charconv>
#include <optional>

#include <nlohmann/json.hpp>

#include "agent/app/log.h"
#include "agent/compute/al2023/networkd.h"
#include "agent/model/text.h"

namespace agent::app {

namespace c = compute::al2023;

namespace {

constexpr const char* kMacPath = "latest/meta-data/mac";
constexpr const char* kIdentityPath = "latest/dynamic/instance-identity/document";
constexpr const char* kSysClassNet = "/sys/class/net";

std::string mac_path(const std::string& mac, const char* leaf) {
  return "latest/meta-data/network/interfaces/macs/" + mac + "/" + leaf;
}

std::string lower(std::string_view s) {
  std::string out(trim(s));
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char ch) { return std::tolower(ch); });
  return out;
}

Result<int> parse_int(std::string_view text, const std::string& what) {
  const std::string_view t = trim(text);
  int value = 0;
  auto [end, ec] = std::from_chars(t.data(), t.data() + t.size(), value);
  if (ec != std::errc() || end != t.data() + t.size() || value < 0) {
    return make_error(Errc::Parse, "{}: '{}' is not a number", what, t);
  }
  return value;
}

Result<std::string> interface_mac(const RootFsReader& fs, const std::string& iface) {
  const std::string path = std::string(kSysClassNet) + "/" + iface + "/address";
  auto text = fs.read(path);
  if (!text) return text.error().wrap("reading the MAC address of {}", iface);
  return lower(*text);
}

Result<std::string> instance_id(Imds& imds, Clock& clock) {
  AGENT_TRY(std::string doc, imds_get_retrying_404(imds, clock, kIdentityPath));
  const auto j = nlohmann::json::parse(doc, nullptr, false);
  if (!j.is_object() || !j.contains("instanceId") || !j["instanceId"].is_string() ||
      j["instanceId"].get<std::string>().empty()) {
    return make_error(Errc::Parse, "the instance identity document has no instanceId");
  }
  return j["instanceId"].get<std::string>();
}

Result<std::string> primary_mac(Imds& imds, Clock& clock) {
  AGENT_TRY(std::string mac, imds_get_retrying_404(imds, clock, kMacPath));
  return lower(mac);
}

// Device index, network card (IMDS has none on single-card types: 0) and, for a secondary ENI, its
// first private IPv4 address.
Result<c::EniFacts> eni_facts(NodeadmInternalPorts& p, const std::string& iface, const std::string& mac,
                              bool primary) {
  c::EniFacts eni{.iface = iface, .mac = mac, .primary = primary};
  AGENT_TRY(std::string index, imds_get_retrying_404(p.imds, p.clock, mac_path(mac, "device-number")));
  AGENT_TRY(eni.device_index, parse_int(index, "device-number of " + mac));
  auto card = p.imds.get(mac_path(mac, "network-card"));
  if (card) {
    AGENT_TRY(eni.network_card, parse_int(*card, "network-card of " + mac));
  } else if (card.error().code != Errc::NotFound) {
    return card.error();
  }
  if (!primary) {
    AGENT_TRY(std::string ips, imds_get_retrying_404(p.imds, p.clock, mac_path(mac, "local-ipv4s")));
    eni.ipv4 = trimmed(std::string_view(ips).substr(0, ips.find('\n')));
    if (eni.ipv4.empty()) return make_error(Errc::NotFound, "IMDS lists no IPv4 address for {} ({})", iface, mac);
  }
  return eni;
}

Status write_files(RootFs& fs, const std::vector<FileWrite>& files, UdevNetResult& result) {
  for (const auto& f : files) {
    AGENT_TRY(WriteOutcome o, fs.write_atomic(f.path, f.bytes, f.mode));
    log::info("NETWORK_FILE", "{} {}", outcome_name(o), f.path);
    result.written.emplace_back(f.path, o);
  }
  return {};
}

Result<UdevNetResult> add_interface(NodeadmInternalPorts& p, const std::string& iface) {
  AGENT_TRY(std::string mac, interface_mac(p.fs, iface));
  AGENT_TRY(std::string primary, primary_mac(p.imds, p.clock));
  AGENT_TRY(std::string iid, instance_id(p.imds, p.clock));
  const std::string cache_path = c::manager_cache_path(iid, iface);
  std::optional<std::string> cached;
  if (auto text = p.fs.read(cache_path)) {
    cached = std::move(text).value();
  } else if (text.error().code != Errc::NotFound) {
    return text.error().wrap("reading the manager cache");
  }
  UdevNetResult result{.manager = c::manager_for(cached, p.fs.exists(c::kInitMarkerPath))};
  log::info("NETWORK_MANAGER", "{} ({}, {}): managed by {}{}", iface, mac, mac == primary ? "primary" : "secondary",
            result.manager, cached ? " (cached)" : "");
  std::optional<c::EniFacts> eni;
  if (result.manager == c::kManagerNetworkd) {
    AGENT_TRY(eni, eni_facts(p, iface, mac, mac == primary));
  }
  AGENT_TRY_STATUS(write_files(p.fs, c::add_interface_files(iid, iface, result.manager, eni), result));
  return result;
}

}  // namespace

Result<std::string> imds_get_retrying_404(Imds& imds, Clock& clock, const std::string& path) {
  constexpr int kMaxAttempts = 60;
  std::chrono::milliseconds wait{50};
  for (int attempt = 1;; ++attempt) {
    auto answer = imds.get(path);
    if (answer || answer.error().code != Errc::NotFound || attempt == kMaxAttempts) return answer;
    clock.sleep_until(clock.now() + wait);
    wait = std::min<std::chrono::milliseconds>(wait * 2, std::chrono::seconds(1));
  }
}

Result<UdevNetResult> run_udev_net_manager(NodeadmInternalPorts& ports, const std::string& iface, NetAction action) {
  if (action == NetAction::Add) return add_interface(ports, iface);
  UdevNetResult result;
  AGENT_TRY(result.removed, ports.fs.remove(c::network_file_path(iface)));
  log::info("NETWORK_FILE", "{} {}", result.removed ? "removed" : "absent", c::network_file_path(iface));
  return result;
}

namespace {

// Writes the cache entry of every interface but lo; returns the primary interface's name.
Result<std::string> mark_interfaces(NodeadmInternalPorts& p, const std::string& iid, const std::string& primary) {
  AGENT_TRY(std::vector<std::string> names, p.fs.list(kSysClassNet));
  std::string primary_name;
  for (const auto& name : names) {
    if (name == "lo") continue;
    auto mac = interface_mac(p.fs, name);
    if (!mac) continue;  // not a network device with an address (bonding_masters, ...)
    if (*mac == primary) primary_name = name;
    AGENT_TRY(WriteOutcome o, p.fs.write_atomic(c::manager_cache_path(iid, name), c::kManagerNetworkd, 0644));
    log::info("NETWORK_MANAGER", "{}: {} cache entry {}", name, c::kManagerNetworkd, outcome_name(o));
  }
  if (primary_name.empty()) {
    return make_error(Errc::NotFound, "no interface in {} has the primary MAC address {}", kSysClassNet, primary);
  }
  return primary_name;
}

// One look at networkctl: empty when settled, else what is not yet as it should be.
std::string networkd_problem(CommandRunner& commands, const std::string& primary) {
  auto out = commands.run({"networkctl", "list", "--json=pretty"});
  if (!out) return out.error().message;
  auto links = c::parse_networkctl_list(*out);
  if (!links) return links.error().message;
  return c::primary_only_problem(*links, primary);
}

}  // namespace

Status run_boot_hook(NodeadmInternalPorts& ports, const BootHookOptions& options) {
  AGENT_TRY(std::string iid, instance_id(ports.imds, ports.clock));
  AGENT_TRY(std::string mac, primary_mac(ports.imds, ports.clock));
  AGENT_TRY(std::string primary, mark_interfaces(ports, iid, mac));
  const auto deadline = ports.clock.now() + options.timeout;
  for (;;) {
    const std::string problem = networkd_problem(ports.commands, primary);
    if (problem.empty()) {
      log::info("BOOT_HOOK", "systemd-networkd configures only the primary interface {}", primary);
      return {};
    }
    const auto next = ports.clock.now() + options.poll;
    if (next > deadline) {
      return make_error(Errc::Timeout, "failed to ensure primary ENI only configuration: not settled within {} ms: {}",
                        options.timeout.count(), problem);
    }
    ports.clock.sleep_until(next);
  }
}

}  // namespace agent::app
