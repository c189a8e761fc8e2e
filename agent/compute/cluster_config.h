// The configuration after EKS DescribeCluster: what bootstrap.sh took from `aws eks
// describe-cluster` (bootstrap-sh.md sections 2.3, 3.11), with the flags winning. Pure.
#pragma once
#include <optional>

#include "agent/model/aws_types.h"
#include "agent/model/node_config.h"
#include "agent/model/result.h"

namespace agent::compute {

// DescribeCluster is needed only when the API server endpoint or the CA is missing (as in
// bootstrap.sh); a bootstrap with both makes no AWS call.
bool needs_describe_cluster(const NodeConfig& config);

// `config` completed from the cluster: the endpoint and CA when missing; the service IPv4/IPv6
// CIDRs, the IP family and the cluster id when not given; the local-Outpost path when the cluster
// runs on an Outpost (outpostConfig.outpostArns). Unlike bootstrap.sh, a given --service-ipv4-cidr
// or --service-ipv6-cidr is never overwritten (its unconditional overwrite was a bug, reference
// section 7.7), and neither is a given endpoint when only the CA was missing. nullopt: `config`.
NodeConfig with_cluster(const NodeConfig& config, const std::optional<ClusterInfo>& cluster);

// Checks what DescribeCluster returned before it is used. Errors: AwsApi naming the cluster when
// it has no endpoint or CA (bootstrap.sh wrote them empty).
Status check_cluster(const ClusterInfo& cluster);

}  // namespace agent::compute
