#include "agent/compute/max_pods.h"
#include "agent/model/text.h"

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstdlib>
#include <nlohmann/json.hpp>
#include <utility>

#include "agent/model/embedded.h"

namespace agent::compute {
namespace {

using Table = std::map<std::string, int, std::less<>>;

constexpr std::string_view kBlanks = " \t\r";

// A strictly decimal, non-negative int: no sign, no spaces, no overflow (from_chars alone would
// accept "12abc" as 12).
std::optional<int> parse_count(std::string_view s) {
  int v = 0;
  if (s.empty() || s.size() > 9) return std::nullopt;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), v);
  if (ec != std::errc() || end != s.data() + s.size() || v < 0) return std::nullopt;
  return v;
}

// The embedded files are produced by scripts/build-data.py and checked by the unit tests, so a
// malformed one is a build bug, not a runtime condition.
[[noreturn]] void embedded_data_bug(std::string_view file, const std::string& why) {
  std::fprintf(stderr, "BUG: embedded %.*s is malformed: %s\n", static_cast<int>(file.size()),
               file.data(), why.c_str());
  std::abort();
}

using NetworkingTable = std::map<std::string, NetworkingFacts, std::less<>>;

// Field names are the ones scripts/build-data.py writes.
NetworkingTable parse_networking(std::string_view text) {
  constexpr std::string_view kFile = "data/instance-networking.jsonl";
  NetworkingTable table;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view line = trim(text.substr(0, nl));
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    if (line.empty()) continue;
    auto j = nlohmann::json::parse(line, nullptr, /*allow_exceptions=*/false);
    auto where = [&] { return "line " + std::to_string(line_no); };
    if (!j.is_object() || !j.contains("instanceType") || !j["instanceType"].is_string() ||
        !j.contains("maxEnis") || !j["maxEnis"].is_number_integer() || !j.contains("ipv4PerEni") ||
        !j["ipv4PerEni"].is_number_integer()) {
      embedded_data_bug(kFile, where() + ": missing instanceType, maxEnis or ipv4PerEni");
    }
    NetworkingFacts f;
    f.instance_type = j["instanceType"].get<std::string>();
    f.max_enis = j["maxEnis"].get<int>();
    f.ipv4_per_eni = j["ipv4PerEni"].get<int>();
    if (auto it = j.find("hypervisor"); it != j.end() && it->is_string()) {
      f.hypervisor = it->get<std::string>();
    }
    if (auto it = j.find("bareMetal"); it != j.end() && it->is_boolean()) {
      f.bare_metal = it->get<bool>();
    }
    std::string key = f.instance_type;
    if (!table.emplace(std::move(key), std::move(f)).second) {
      embedded_data_bug(kFile, where() + ": duplicate instance type");
    }
  }
  return table;
}

// max-pods-calculator.sh's "otherwise" formula (and bootstrap.sh's fallback): the first address
// of each ENI is the ENI's own; +2 for aws-node and kube-proxy, which use host networking.
int secondary_ip_max_pods(int enis, int ipv4_per_eni) { return enis * (ipv4_per_eni - 1) + 2; }

}  // namespace

Result<Table> parse_eni_max_pods(std::string_view text) {
  Table table;
  int line_no = 0;
  while (!text.empty()) {
    ++line_no;
    auto nl = text.find('\n');
    std::string_view raw = text.substr(0, nl);
    text = nl == std::string_view::npos ? std::string_view{} : text.substr(nl + 1);
    std::string_view line = trim(raw);
    if (line.empty() || line.front() == '#') continue;

    auto gap = line.find_first_of(kBlanks);
    std::string_view type = line.substr(0, gap);
    std::string_view rest =
        gap == std::string_view::npos ? std::string_view{} : trim(line.substr(gap));
    auto pods = parse_count(rest);
    if (type.empty() || rest.empty() || !pods || *pods == 0) {
      return make_error(Errc::Parse,
                        "line {}: expected \"<instance-type> <max-pods>\" with a positive "
                        "integer, got \"{}\"",
                        line_no, line);
    }
    // A second line for the same type would make the answer depend on which one wins; the shell
    // lookup printed both, which is the bug history (bootstrap-sh.md section 6) warns about.
    if (!table.emplace(std::string(type), *pods).second) {
      return make_error(Errc::Parse, "line {}: instance type {} is listed twice", line_no, type);
    }
  }
  return table;
}

const Table& builtin_max_pods() {
  static const Table table = [] {
    constexpr std::string_view kFile = "data/eni-max-pods.txt";
    auto parsed = parse_eni_max_pods(embedded::file(kFile));
    if (!parsed) embedded_data_bug(kFile, parsed.error().message);
    return std::move(parsed).value();
  }();
  return table;
}

const std::map<std::string, NetworkingFacts, std::less<>>& builtin_networking_table() {
  static const NetworkingTable table =
      parse_networking(embedded::file("data/instance-networking.jsonl"));
  return table;
}

std::optional<NetworkingFacts> builtin_networking(std::string_view instance_type) {
  const auto& table = builtin_networking_table();
  auto it = table.find(instance_type);
  if (it == table.end()) return std::nullopt;
  return it->second;
}

std::optional<int> vcpus_from_size(std::string_view instance_type) {
  auto dot = instance_type.find('.');
  if (dot == std::string_view::npos || dot == 0) return std::nullopt;
  std::string_view family = instance_type.substr(0, dot);
  std::string_view size = instance_type.substr(dot + 1);

  // Families whose vCPU count does not follow the size name: HPC types run one vCPU per core
  // (hpc7a.12xlarge has 24, not 48), and the first-generation c1/m2/hs1 predate the convention
  // (c1.xlarge has 8). The 110/250 cap depends on the count, so better to ask than to guess.
  if (family.starts_with("hpc") || family == "c1" || family == "m2" || family == "hs1") {
    return std::nullopt;
  }

  if (size == "large") return 2;
  if (size == "xlarge") return 4;
  std::string_view digits;
  if (size.ends_with("xlarge")) {
    digits = size.substr(0, size.size() - 6);
  } else if (size.starts_with("metal-") && size.ends_with("xl")) {
    // "metal-48xl" is the bare-metal twin of "48xlarge" (m7i.metal-48xl has 192 vCPUs).
    digits = size.substr(6, size.size() - 8);
  } else {
    return std::nullopt;
  }
  if (digits.empty() || digits.size() > 4 || digits.front() == '0') return std::nullopt;
  auto n = parse_count(digits);
  if (!n) return std::nullopt;
  return 4 * *n;
}

Result<int> calculate_max_pods(const CalculatorInput& in) {
  const auto& net = in.net;
  if (net.max_enis < 1 || net.ipv4_per_eni < 1) {
    return make_error(Errc::Invalid,
                      "networking facts for {} are unusable ({} ENIs, {} IPv4 addresses per ENI)",
                      net.instance_type, net.max_enis, net.ipv4_per_eni);
  }
  int enis = net.max_enis;
  if (in.max_eni) {
    if (*in.max_eni < 1) {
      return make_error(Errc::Invalid, "--cni-max-eni must be at least 1, got {}", *in.max_eni);
    }
    enis = std::min(enis, *in.max_eni);
  }
  // With custom networking the primary ENI stays on the node's subnet and carries no pods.
  if (in.custom_networking) enis = std::max(0, enis - 1);

  // Prefix delegation needs VPC CNI 1.9.0 and a Nitro instance; each secondary slot then holds a
  // /28 prefix of 16 addresses. Older CNIs and Xen instances silently ignore the flag.
  bool pd_supported = in.cni_version >= Version{1, 9, 0};
  bool nitro = net.hypervisor == "nitro";
  int max = in.prefix_delegation && pd_supported && nitro
                ? enis * ((net.ipv4_per_eni - 1) * 16) + 2
                : secondary_ip_max_pods(enis, net.ipv4_per_eni);
  if (in.show_max_allowed) return max;

  if (!in.vcpus) {
    return make_error(Errc::Invalid,
                      "the vCPU count of {} is needed to choose the 110 or 250 pod cap, and its "
                      "size does not imply one",
                      net.instance_type);
  }
  // EKS recommends at most 110 pods on nodes with 30 vCPUs or fewer and 250 above that.
  int cap = *in.vcpus > 30 ? 250 : 110;
  return std::min(cap, max);
}

MaxPodsDecision max_pods_for(std::string_view instance_type,
                             const std::optional<std::string>& override_table,
                             std::string* override_parse_error) {
  if (override_table) {
    auto parsed = parse_eni_max_pods(*override_table);
    if (parsed) {
      if (auto it = parsed->find(instance_type); it != parsed->end()) {
        return {.value = it->second, .source = "/etc/eks/eni-max-pods.txt", .fallback = false};
      }
    } else if (override_parse_error) {
      *override_parse_error = parsed.error().message;
    }
  }
  const auto& builtin = builtin_max_pods();
  if (auto it = builtin.find(instance_type); it != builtin.end()) {
    return {.value = it->second, .source = "built-in table", .fallback = false};
  }
  // bootstrap.sh's fallback runs the calculator with --show-max-allowed and a pre-1.9 CNI: the
  // uncapped secondary-IP formula.
  if (auto net = builtin_networking(instance_type);
      net && net->max_enis > 0 && net->ipv4_per_eni > 0) {
    return {.value = secondary_ip_max_pods(net->max_enis, net->ipv4_per_eni),
            .source = "networking facts",
            .fallback = true};
  }
  return {.value = 110, .source = "default", .fallback = true};
}

}  // namespace agent::compute
