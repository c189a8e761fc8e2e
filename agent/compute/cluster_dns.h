// clusterDNS (bootstrap-sh.md section 3.5). Pure.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/model/node_config.h"
#include "agent/model/result.h"

namespace agent::compute {

struct DnsInput {
  std::vector<std::string> dns_cluster_ip;        // --dns-cluster-ip, already split on ","
  IpFamily ip_family = IpFamily::Ipv4;
  std::optional<std::string> service_ipv4_cidr;   // "None" is treated as unset
  std::optional<std::string> service_ipv6_cidr;
  std::vector<std::string> vpc_ipv4_cidrs;        // from IMDS (empty if unknown)
};

struct DnsDecision {
  std::vector<std::string> servers;
  std::string reason;   // human text for the log, e.g. "from --service-ipv4-cidr 10.100.0.0/16"
  bool operator==(const DnsDecision&) const = default;
};

// Errors (Invalid): ipv6 without --service-ipv6-cidr or --dns-cluster-ip; a CIDR that is not an
// address of the right family followed by /prefix.
Result<DnsDecision> cluster_dns_for(const DnsInput& in);

}  // namespace agent::compute
