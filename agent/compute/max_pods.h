// Max pods: the ENI table, the networking facts behind it, and max-pods-calculator.sh's formula.
// Pure: no I/O. The embedded tables come from data/ (cmake/embed.cmake).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute {

// One row of data/instance-networking.jsonl: the default network card's limits.
struct NetworkingFacts {
  std::string instance_type;
  int max_enis = 0;          // networkCards[defaultNetworkCardIndex].maximumNetworkInterfaces
  int ipv4_per_eni = 0;      // ipv4AddressesPerInterface
  std::string hypervisor;    // "nitro", "xen", "" or "unknown"
  bool bare_metal = false;
  bool operator==(const NetworkingFacts&) const = default;
};

// Parses the eni-max-pods.txt format: "# comment" lines, blank lines, "<type> <int>" lines.
// Exact keys (no prefix or regex matching). Errors: Parse naming the 1-based line and its text.
Result<std::map<std::string, int, std::less<>>> parse_eni_max_pods(std::string_view text);

// The built-in table (data/eni-max-pods.txt, embedded).
const std::map<std::string, int, std::less<>>& builtin_max_pods();

// The built-in networking facts (data/instance-networking.jsonl, embedded), exact match.
std::optional<NetworkingFacts> builtin_networking(std::string_view instance_type);

// All built-in networking facts, keyed by instance type (parsed once, on first use).
const std::map<std::string, NetworkingFacts, std::less<>>& builtin_networking_table();

// vCPUs implied by an instance size for the common sizes (large=2, xlarge=4, Nxlarge=4N,
// metal-Nxl=4N); nullopt for sizes whose count varies (nano, micro, small, medium, metal, ...) and
// for families that do not follow the naming (hpc*, c1, m2, hs1).
std::optional<int> vcpus_from_size(std::string_view instance_type);

// max-pods-calculator.sh (bootstrap-sh.md section 3.2).
struct CalculatorInput {
  NetworkingFacts net;
  std::optional<int> vcpus;          // needed unless show_max_allowed
  Version cni_version;
  bool custom_networking = false;
  bool prefix_delegation = false;
  std::optional<int> max_eni;        // --cni-max-eni
  bool show_max_allowed = false;
};
// Errors: Invalid when vcpus is needed but unknown, or when the facts are unusable (0 ENIs).
Result<int> calculate_max_pods(const CalculatorInput& in);

// How the node's max pods was decided.
struct MaxPodsDecision {
  int value = 110;
  std::string source;   // "/etc/eks/eni-max-pods.txt", "built-in table", "networking facts", "default"
  bool fallback = false;  // true when the type was in no table (a warning is due)
  bool operator==(const MaxPodsDecision&) const = default;
};

// Exact-match lookup: the override table (contents of /etc/eks/eni-max-pods.txt, when present and
// parseable) wins over the built-in one; a type in neither is computed from the built-in
// networking facts (ENIs x (IPs-1) + 2, uncapped, as bootstrap.sh's fallback), else 110.
// `override_parse_error` receives the parse error of a malformed override (which is then ignored).
MaxPodsDecision max_pods_for(std::string_view instance_type,
                             const std::optional<std::string>& override_table,
                             std::string* override_parse_error = nullptr);

}  // namespace agent::compute
