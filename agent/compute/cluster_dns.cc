#include "agent/compute/cluster_dns.h"
#include "agent/model/text.h"

#include <arpa/inet.h>
#include <fmt/format.h>

#include <charconv>
#include <cstdint>
#include <string_view>

namespace agent::compute {
namespace {

// inet_pton is pure (no lookups); it needs a NUL-terminated copy.
bool parse_ipv4(std::string_view s, std::uint32_t* host_order = nullptr) {
  in_addr a{};
  if (inet_pton(AF_INET, std::string(s).c_str(), &a) != 1) return false;
  if (host_order) *host_order = ntohl(a.s_addr);
  return true;
}

bool is_ipv6(std::string_view s) {
  in6_addr a{};
  return inet_pton(AF_INET6, std::string(s).c_str(), &a) == 1;
}

// "None" is what describe-cluster prints for a family the cluster does not have.
std::optional<std::string_view> set_value(const std::optional<std::string>& v) {
  if (!v) return std::nullopt;
  std::string_view s = trim(*v);
  if (s.empty() || s == "None") return std::nullopt;
  return s;
}

struct Cidr {
  std::string_view address;
  std::optional<int> prefix;  // absent: a bare address, which bootstrap.sh also accepted
};

// Splits "<address>[/<prefix>]"; the prefix must be a decimal in [0, max_prefix].
std::optional<Cidr> split_cidr(std::string_view s, int max_prefix) {
  auto slash = s.find('/');
  if (slash == std::string_view::npos) return Cidr{s, std::nullopt};
  std::string_view p = s.substr(slash + 1);
  int prefix = -1;
  auto [end, ec] = std::from_chars(p.data(), p.data() + p.size(), prefix);
  if (p.empty() || ec != std::errc() || end != p.data() + p.size() || prefix < 0 ||
      prefix > max_prefix) {
    return std::nullopt;
  }
  return Cidr{s.substr(0, slash), prefix};
}

Result<DnsDecision> from_explicit(const std::vector<std::string>& ips) {
  DnsDecision d{.servers = {}, .reason = "from --dns-cluster-ip"};
  for (const auto& raw : ips) {
    std::string_view ip = trim(raw);
    if (ip.empty()) continue;
    // kubelet rejects a clusterDNS entry that is not an IP; fail before writing its config.
    if (!parse_ipv4(ip) && !is_ipv6(ip)) {
      return make_error(Errc::Invalid,
                        "--dns-cluster-ip: \"{}\" is not an IPv4 or IPv6 address; pass the "
                        "cluster DNS service address(es), comma-separated",
                        ip);
    }
    d.servers.emplace_back(ip);
  }
  return d;
}

// bootstrap.sh: <address part>a, so fd12:3456:789a::/108 gives fd12:3456:789a::a.
Result<DnsDecision> from_ipv6_cidr(std::string_view cidr) {
  auto parts = split_cidr(cidr, 128);
  if (!parts || !is_ipv6(parts->address)) {
    return make_error(Errc::Invalid,
                      "--service-ipv6-cidr \"{}\" is not an IPv6 CIDR (e.g. "
                      "fd12:3456:789a::/108); pass the cluster's service IPv6 range or "
                      "--dns-cluster-ip",
                      cidr);
  }
  std::string ip = std::string(parts->address) + "a";
  if (!is_ipv6(ip)) {
    return make_error(Errc::Invalid,
                      "--service-ipv6-cidr \"{}\": appending \"a\" to its address gives \"{}\", "
                      "which is not an IPv6 address; pass --dns-cluster-ip",
                      cidr, ip);
  }
  return DnsDecision{.servers = {ip}, .reason = fmt::format("from --service-ipv6-cidr {}", cidr)};
}

// bootstrap.sh's ${CIDR%.*}.10: the CIDR's address with its last octet replaced by 10.
Result<DnsDecision> from_ipv4_cidr(std::string_view cidr) {
  auto parts = split_cidr(cidr, 32);
  std::uint32_t address = 0;
  if (!parts || !parse_ipv4(parts->address, &address)) {
    return make_error(Errc::Invalid,
                      "--service-ipv4-cidr \"{}\" is not an IPv4 CIDR (e.g. 10.100.0.0/16); pass "
                      "the cluster's service IPv4 range or --dns-cluster-ip",
                      cidr);
  }
  std::uint32_t dns = (address & 0xffffff00u) | 10u;
  // With a prefix longer than /28 the .10 address can fall outside the range, where the cluster
  // DNS service cannot live. EKS only allows /12 to /24, so this catches typos.
  if (parts->prefix && *parts->prefix > 0) {
    std::uint32_t mask = *parts->prefix == 32 ? 0xffffffffu : ~(0xffffffffu >> *parts->prefix);
    if ((dns & mask) != (address & mask)) {
      return make_error(Errc::Invalid,
                        "--service-ipv4-cidr \"{}\" does not contain the derived DNS address "
                        "{}.{}.{}.10; pass --dns-cluster-ip",
                        cidr, dns >> 24, (dns >> 16) & 0xff, (dns >> 8) & 0xff);
    }
  }
  std::string ip = fmt::format("{}.{}.{}.10", dns >> 24, (dns >> 16) & 0xff, (dns >> 8) & 0xff);
  return DnsDecision{.servers = {ip}, .reason = fmt::format("from --service-ipv4-cidr {}", cidr)};
}

// EKS picks the default service range so that it does not overlap the VPC: 172.20.0.0/16 when a
// VPC CIDR is in 10.0.0.0/8, else 10.100.0.0/16. Anchored match, as fixed in 325f1ccd/38eb8a8a.
DnsDecision from_vpc_cidrs(const std::vector<std::string>& cidrs) {
  for (const auto& entry : cidrs) {
    std::string_view rest = entry;
    while (!rest.empty()) {  // an entry may still hold IMDS's newline-separated list
      auto nl = rest.find('\n');
      std::string_view line = trim(rest.substr(0, nl));
      rest = nl == std::string_view::npos ? std::string_view{} : rest.substr(nl + 1);
      if (line.starts_with("10.")) {
        return {.servers = {"172.20.0.10"},
                .reason = fmt::format("VPC CIDR {} is in 10.0.0.0/8", line)};
      }
    }
  }
  return {.servers = {"10.100.0.10"}, .reason = "no VPC CIDR in 10.0.0.0/8"};
}

}  // namespace

Result<DnsDecision> cluster_dns_for(const DnsInput& in) {
  // An explicit address wins for either family (aed6c88d: it must work for IPv6 too).
  AGENT_TRY(auto explicit_dns, from_explicit(in.dns_cluster_ip));
  if (!explicit_dns.servers.empty()) return explicit_dns;

  if (in.ip_family == IpFamily::Ipv6) {
    auto cidr = set_value(in.service_ipv6_cidr);
    if (!cidr) {
      return make_error(Errc::Invalid,
                        "--ip-family ipv6 needs --service-ipv6-cidr or --dns-cluster-ip; pass the "
                        "cluster's service IPv6 range (aws eks describe-cluster shows it) or the "
                        "DNS service address");
    }
    return from_ipv6_cidr(*cidr);
  }
  if (auto cidr = set_value(in.service_ipv4_cidr)) return from_ipv4_cidr(*cidr);
  return from_vpc_cidrs(in.vpc_ipv4_cidrs);
}

}  // namespace agent::compute
