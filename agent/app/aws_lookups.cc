#include "agent/app/aws_lookups.h"

#include <fmt/format.h>

#include "agent/app/log.h"

namespace agent::app {
namespace {

using std::chrono::milliseconds;

// Sleeps the equal-jitter wait before look number `n` (1-based) of a polling loop. Returns false
// (with `err` set) when the deadline would pass or the run is cancelled.
bool wait_before(AwsContext& aws, SplitMix& rng, int n, const AwsWhere& where, const std::string& what,
                 Error& err) {
  const milliseconds window = backoff_window(aws.poll, n);
  const milliseconds wait = window / 2 + milliseconds(static_cast<long long>(
                                              static_cast<double>(window.count() / 2) * rng.next()));
  const auto wake = aws.clock.now() + wait;
  if (wake >= where.deadline) {
    err = make_error(Errc::AwsApi, "{}, and the run's deadline (--timeout) leaves no time to wait", what);
    return false;
  }
  if (!sleep_until(aws.clock, aws.cancel, wake)) {
    err = aws.cancel->interrupted("while waiting: " + what);
    return false;
  }
  return true;
}

}  // namespace

Result<ClusterInfo> describe_active_cluster(AwsContext& aws, const AwsWhere& where, const std::string& name) {
  SplitMix rng(aws.jitter_seed);
  for (int look = 1;; ++look) {
    AGENT_TRY(ClusterInfo cluster, aws.api.describe_cluster(where, name));
    if (cluster.status == "ACTIVE" || cluster.status == "UPDATING" || cluster.status.empty()) return cluster;
    if (cluster.status == "DELETING" || cluster.status == "FAILED") {
      return make_error(Errc::AwsApi, "EKS cluster '{}' is {}: nodes cannot join it", name, cluster.status);
    }
    const std::string what = fmt::format("EKS cluster '{}' is {} (not ACTIVE yet)", name, cluster.status);
    if (look == 1) log::info("CLUSTER_NOT_ACTIVE", "{}; waiting for it", what);
    Error err;
    if (!wait_before(aws, rng, look, where, what, err)) return err;
  }
}

Result<InstanceTypeInfo> describe_instance_type(AwsContext& aws, const AwsWhere& where, const std::string& type) {
  AGENT_TRY(InstanceTypesPage page, aws.api.describe_instance_types(where, {type}, "", 100));
  for (auto& t : page.types) {
    if (t.instance_type == type) return std::move(t);
  }
  return make_error(Errc::AwsApi, "{}instance type '{}': DescribeInstanceTypes answered without it",
                    kAwsNotFoundPrefix, type);
}

Result<std::string> ec2_private_dns_name(AwsContext& aws, const AwsWhere& where, const std::string& instance_id) {
  SplitMix rng(aws.jitter_seed);
  const int attempts = std::max(1, aws.poll.max_attempts);
  const auto started = aws.clock.now();
  auto out_of_tries = [&](int look) {
    if (aws.keep_asking_for.count() > 0) return aws.clock.now() - started >= aws.keep_asking_for;
    return look >= attempts;
  };
  std::string last;
  for (int look = 1;; ++look) {
    auto d = aws.api.describe_instance(where, instance_id);
    if (d && !d->private_dns_name.empty()) return d->private_dns_name;
    if (!d && !is_aws_not_found(d.error())) return d.error();
    last = d ? "PrivateDnsName is empty" : d.error().message;
    const std::string what =
        fmt::format("EC2 has no PrivateDnsName for {} after {} DescribeInstances call(s) ({})", instance_id, look, last);
    if (out_of_tries(look)) {
      return make_error(Errc::AwsApi, "{}; use --hostname-source imds (IMDS local-hostname) instead", what);
    }
    if (look == 1) log::info("PRIVATE_DNS_WAIT", "{}; asking again", what);
    Error err;
    if (!wait_before(aws, rng, look, where, what, err)) return err;
  }
}

Result<std::vector<InstanceTypeInfo>> list_instance_types(AwsContext& aws, const AwsWhere& where, int page_size,
                                                          const std::function<void(int, size_t)>& on_page) {
  std::vector<InstanceTypeInfo> all;
  std::string token;
  for (int page = 1; page <= 1000; ++page) {
    AGENT_TRY(InstanceTypesPage p, aws.api.describe_instance_types(where, {}, token, page_size));
    all.insert(all.end(), std::make_move_iterator(p.types.begin()), std::make_move_iterator(p.types.end()));
    if (on_page) on_page(page, all.size());
    if (p.next_token.empty()) return all;
    if (p.next_token == token) {
      return make_error(Errc::AwsApi, "DescribeInstanceTypes returned the same NextToken twice (page {})", page);
    }
    token = std::move(p.next_token);
  }
  return make_error(Errc::AwsApi, "DescribeInstanceTypes did not finish within 1000 pages");
}

}  // namespace agent::app
