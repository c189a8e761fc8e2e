// What EC2 DescribeInstanceTypes says about an instance type, turned into max pods and into the
// eni-max-pods.txt / instance-networking.jsonl formats of data/. Pure.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/compute/max_pods.h"
#include "agent/model/aws_types.h"

namespace agent::compute {

// The networking facts max pods needs: the default network card's ENIs (not the instance-wide
// figure, which overstates multi-card types), IPv4 addresses per ENI, hypervisor, bare metal.
NetworkingFacts networking_facts_from(const InstanceTypeInfo& t);

// bootstrap.sh's fallback for a type missing from eni-max-pods.txt, on DescribeInstanceTypes'
// facts: max-pods-calculator.sh --cni-version 1.10.0 --show-max-allowed, i.e. the uncapped
// ENIs * (IPv4 per ENI - 1) + 2. nullopt when the facts are unusable (0 ENIs or addresses).
std::optional<int> max_pods_from_ec2(const InstanceTypeInfo& t);

// True when no table and no built-in networking facts know `instance_type`, so max_pods_for
// would answer the 110 default: only then is DescribeInstanceTypes worth a call.
bool max_pods_needs_lookup(std::string_view instance_type, const std::optional<std::string>& override_table);

struct GeneratedTables {
  std::string eni_max_pods;  // eni-max-pods.txt: header, then "<type> <max pods>" sorted
  std::string networking;    // instance-networking.jsonl rows, sorted (data/'s field names)
  std::vector<std::string> skipped;  // types without usable networking facts
};

// The two data files for the types a region offers (`source` is named in the header, e.g.
// "EC2 DescribeInstanceTypes in us-west-2"). Duplicates (by name) are kept once.
GeneratedTables generate_tables(std::vector<InstanceTypeInfo> types, std::string_view source);

}  // namespace agent::compute
