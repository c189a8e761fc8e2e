#include "agent/compute/cluster_dns.h"

#include <doctest/doctest.h>

#include <string>

using agent::Errc;
using agent::IpFamily;
using agent::compute::cluster_dns_for;
using agent::compute::DnsDecision;
using agent::compute::DnsInput;

namespace {

std::vector<std::string> servers(const DnsInput& in) {
  auto r = cluster_dns_for(in);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return r->servers;
}

std::string error_of(const DnsInput& in) {
  auto r = cluster_dns_for(in);
  REQUIRE(!r.has_value());
  CHECK(r.error().code == Errc::Invalid);
  return r.error().message;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("an explicit --dns-cluster-ip wins over every derivation, as a list") {
  DnsInput in{.dns_cluster_ip = {"10.0.0.10", "10.0.0.11"},
              .service_ipv4_cidr = "192.168.0.0/16",
              .vpc_ipv4_cidrs = {"10.0.0.0/16"}};
  auto r = cluster_dns_for(in);
  REQUIRE(r.has_value());
  CHECK(*r ==
        DnsDecision{.servers = {"10.0.0.10", "10.0.0.11"}, .reason = "from --dns-cluster-ip"});
}

TEST_CASE("an explicit --dns-cluster-ip also wins for IPv6, even without a service CIDR") {
  CHECK(servers({.dns_cluster_ip = {"fd00::a"}, .ip_family = IpFamily::Ipv6}) ==
        std::vector<std::string>{"fd00::a"});
  // The family of the address is the user's business.
  CHECK(servers({.dns_cluster_ip = {"10.0.0.10"},
                 .ip_family = IpFamily::Ipv6,
                 .service_ipv6_cidr = "fd12:3456:789a::/108"}) ==
        std::vector<std::string>{"10.0.0.10"});
}

TEST_CASE("empty --dns-cluster-ip entries are dropped, and an all-empty list counts as unset") {
  CHECK(servers({.dns_cluster_ip = {" 10.0.0.10 ", ""}}) == std::vector<std::string>{"10.0.0.10"});
  CHECK(servers({.dns_cluster_ip = {""}, .service_ipv4_cidr = "192.168.0.0/16"}) ==
        std::vector<std::string>{"192.168.0.10"});
}

TEST_CASE("a --dns-cluster-ip entry that is not an address is an error naming the flag") {
  auto msg = error_of({.dns_cluster_ip = {"10.0.0.10", "kube-dns"}});
  CHECK(contains(msg, "--dns-cluster-ip"));
  CHECK(contains(msg, "kube-dns"));
  CHECK(contains(error_of({.dns_cluster_ip = {"10.0.0.10/32"}}), "--dns-cluster-ip"));
}

TEST_CASE("IPv6 derives the address part of the service CIDR followed by 'a'") {
  DnsInput in{.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = "fd12:3456:789a::/108"};
  auto r = cluster_dns_for(in);
  REQUIRE(r.has_value());
  CHECK(*r == DnsDecision{.servers = {"fd12:3456:789a::a"},
                          .reason = "from --service-ipv6-cidr fd12:3456:789a::/108"});
  // bootstrap.sh also accepted a bare address (its describe-cluster golden shows fe80::1a).
  CHECK(servers({.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = "fe80::1"}) ==
        std::vector<std::string>{"fe80::1a"});
}

TEST_CASE("IPv6 without a service CIDR or DNS address is an error that says what to pass") {
  auto msg = error_of({.ip_family = IpFamily::Ipv6});
  CHECK(contains(msg, "--ip-family ipv6 needs --service-ipv6-cidr or --dns-cluster-ip"));
  // An IPv4 service CIDR does not help an IPv6 cluster.
  CHECK(contains(error_of({.ip_family = IpFamily::Ipv6, .service_ipv4_cidr = "10.100.0.0/16"}),
                 "--service-ipv6-cidr"));
}

TEST_CASE("an IPv6 service CIDR of 'None' or blank counts as unset rather than giving 'Nonea'") {
  CHECK(contains(error_of({.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = "None"}),
                 "--ip-family ipv6 needs"));
  CHECK(contains(error_of({.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = ""}),
                 "--ip-family ipv6 needs"));
}

TEST_CASE("an IPv6 service CIDR that is not IPv6 is an error naming the flag") {
  for (const char* bad : {"10.100.0.0/16", "fd12::/129", "fd12::/", "fd12::/x", "garbage"}) {
    CAPTURE(bad);
    auto msg = error_of({.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = bad});
    CHECK(contains(msg, "--service-ipv6-cidr"));
    CHECK(contains(msg, "is not an IPv6 CIDR"));
  }
}

TEST_CASE("an IPv6 service CIDR whose address cannot take an 'a' suffix is an error") {
  auto msg = error_of({.ip_family = IpFamily::Ipv6, .service_ipv6_cidr = "fd00::abcd/112"});
  CHECK(contains(msg, "fd00::abcda"));
  CHECK(contains(msg, "--dns-cluster-ip"));
}

TEST_CASE("IPv4 replaces the last octet of the service CIDR with 10") {
  auto r = cluster_dns_for({.service_ipv4_cidr = "10.100.0.0/16"});
  REQUIRE(r.has_value());
  CHECK(*r == DnsDecision{.servers = {"10.100.0.10"},
                          .reason = "from --service-ipv4-cidr 10.100.0.0/16"});
  CHECK(servers({.service_ipv4_cidr = "192.168.0.0/16"}) ==
        std::vector<std::string>{"192.168.0.10"});
  CHECK(servers({.service_ipv4_cidr = "172.16.5.0/24"}) == std::vector<std::string>{"172.16.5.10"});
  CHECK(servers({.service_ipv4_cidr = "10.100.0.0"}) == std::vector<std::string>{"10.100.0.10"});
  // The service CIDR wins over the VPC rule.
  CHECK(servers({.service_ipv4_cidr = "192.168.0.0/16", .vpc_ipv4_cidrs = {"10.0.0.0/16"}}) ==
        std::vector<std::string>{"192.168.0.10"});
}

TEST_CASE("an IPv4 service CIDR that is not IPv4 is an error naming the flag") {
  for (const char* bad : {"fd12::/108", "10.100.0/16", "10.100.0.0/33", "10.100.0.0/-1",
                          "10.100.0.0/", "300.1.1.0/16", "ten"}) {
    CAPTURE(bad);
    auto msg = error_of({.service_ipv4_cidr = bad});
    CHECK(contains(msg, "--service-ipv4-cidr"));
    CHECK(contains(msg, "is not an IPv4 CIDR"));
  }
}

TEST_CASE("an IPv4 service CIDR too small to hold the .10 address is an error") {
  auto msg = error_of({.service_ipv4_cidr = "10.100.0.16/28"});
  CHECK(contains(msg, "10.100.0.10"));
  CHECK(contains(msg, "--dns-cluster-ip"));
  CHECK(servers({.service_ipv4_cidr = "10.100.0.0/28"}) == std::vector<std::string>{"10.100.0.10"});
}

TEST_CASE("an IPv4 service CIDR of 'None' falls through to the VPC rule") {
  CHECK(servers({.service_ipv4_cidr = "None", .vpc_ipv4_cidrs = {"10.0.0.0/16"}}) ==
        std::vector<std::string>{"172.20.0.10"});
  CHECK(servers({.service_ipv4_cidr = "", .vpc_ipv4_cidrs = {}}) ==
        std::vector<std::string>{"10.100.0.10"});
}

TEST_CASE("a VPC CIDR in 10.0.0.0/8 moves the DNS address to 172.20.0.10") {
  auto r = cluster_dns_for({.vpc_ipv4_cidrs = {"192.0.2.0/24", "10.0.0.0/16"}});
  REQUIRE(r.has_value());
  CHECK(*r ==
        DnsDecision{.servers = {"172.20.0.10"}, .reason = "VPC CIDR 10.0.0.0/16 is in 10.0.0.0/8"});
  // IMDS's newline-separated form in a single entry works too.
  CHECK(servers({.vpc_ipv4_cidrs = {"192.0.2.0/24\n10.0.0.0/16\n"}}) ==
        std::vector<std::string>{"172.20.0.10"});
}

TEST_CASE("without a VPC CIDR in 10.0.0.0/8 the DNS address is 10.100.0.10") {
  auto r = cluster_dns_for({.vpc_ipv4_cidrs = {"192.168.0.0/16"}});
  REQUIRE(r.has_value());
  CHECK(*r == DnsDecision{.servers = {"10.100.0.10"}, .reason = "no VPC CIDR in 10.0.0.0/8"});
  CHECK(servers({}) == std::vector<std::string>{"10.100.0.10"});
}

TEST_CASE("the 10.x VPC match is anchored at the start of the CIDR") {
  CHECK(servers({.vpc_ipv4_cidrs = {"110.0.0.0/16", "192.10.0.0/16", "100.64.0.0/16"}}) ==
        std::vector<std::string>{"10.100.0.10"});
}
