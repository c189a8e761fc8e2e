// The AWS API look-ups of a bootstrap, with their waiting policy: a cluster that is not ACTIVE yet,
// a PrivateDnsName EC2 has not published yet, a region's instance types page by page. Transport
// retries (throttling, 5xx) happen inside AwsApi; these loops wait for the *answer* to change, with
// capped exponential backoff and equal jitter (never more often than the backoff allows), until the
// deadline in `where`.
#pragma once
#include <chrono>
#include <functional>
#include <string>
#include <vector>

#include "agent/model/aws_types.h"
#include "agent/model/result.h"
#include "agent/model/retry_policy.h"
#include "agent/ports/aws_api.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"

namespace agent::app {

struct AwsContext {
  AwsApi& api;
  Clock& clock;
  const CancelToken* cancel = nullptr;
  // How often to ask again while waiting (windows 1, 2, 4, 8, 15, 15 ... s; each wait is half its
  // window plus a random part of the other half).
  RetryPolicy poll{.max_attempts = 20, .base = std::chrono::milliseconds(1000),
                   .cap = std::chrono::milliseconds(15000)};
  std::uint64_t jitter_seed = 1;
  // Non-zero: ec2_private_dns_name asks until this long after its first call (nodeadm's 10-minute
  // waiter) instead of poll.max_attempts times.
  std::chrono::milliseconds keep_asking_for{0};
};

// DescribeCluster, asked again while the cluster is CREATING or PENDING (bootstrap.sh ran `aws eks
// wait cluster-active`). ACTIVE and UPDATING clusters are used (an updating cluster serves its
// API). Errors: AwsApi at once for DELETING or FAILED, or when the deadline passes while waiting
// (naming the status); the AwsApi errors of the call itself; Interrupted.
Result<ClusterInfo> describe_active_cluster(AwsContext& aws, const AwsWhere& where, const std::string& name);

// DescribeInstanceTypes for one type. Errors: those of the call (not found for a type EC2 lacks).
Result<InstanceTypeInfo> describe_instance_type(AwsContext& aws, const AwsWhere& where, const std::string& type);

// DescribeInstances' PrivateDnsName for the instance, asked again while it is empty or the instance
// is not found yet (EC2 is eventually consistent just after launch), at most poll.max_attempts
// times (bootstrap.sh's private-dns-name: 20), or for keep_asking_for when that is set. Errors: AwsApi naming the instance and the attempt
// count when it stays empty, the errors of the call, Interrupted.
Result<std::string> ec2_private_dns_name(AwsContext& aws, const AwsWhere& where, const std::string& instance_id);

// Every instance type of the region, through DescribeInstanceTypes' pages (NextToken), at most
// 1000 pages. `on_page(page_number, types_so_far)` is told about progress. Errors: those of the
// calls.
Result<std::vector<InstanceTypeInfo>> list_instance_types(
    AwsContext& aws, const AwsWhere& where, int page_size,
    const std::function<void(int, size_t)>& on_page = nullptr);

}  // namespace agent::app
