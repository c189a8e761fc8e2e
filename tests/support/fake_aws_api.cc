#include "tests/support/fake_aws_api.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>

namespace agent::testing {
namespace {

template <typename T>
Result<T> next(std::vector<Result<T>>& queue, size_t& i, const std::string& what) {
  if (queue.empty()) return make_error(Errc::AwsApi, "{}{} (fake: nothing scripted)", kAwsNotFoundPrefix, what);
  const size_t at = std::min(i, queue.size() - 1);
  ++i;
  return queue[at];
}

}  // namespace

Result<ClusterInfo> FakeAwsApi::describe_cluster(const AwsWhere& where, const std::string& name) {
  calls_.push_back("DescribeCluster " + name);
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  return next(clusters, cluster_i_, "EKS cluster '" + name + "'");
}

Result<InstanceTypesPage> FakeAwsApi::describe_instance_types(const AwsWhere& where,
                                                              const std::vector<std::string>& names,
                                                              const std::string& next_token, int) {
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  if (!names.empty()) {
    calls_.push_back("DescribeInstanceTypes " + fmt::format("{}", fmt::join(names, ",")));
    if (fail_instance_types) return *fail_instance_types;
    InstanceTypesPage page;
    for (const auto& n : names) {
      auto it = types.find(n);
      if (it == types.end()) {
        return make_error(Errc::AwsApi, "{}instance type '{}' (fake)", kAwsNotFoundPrefix, n);
      }
      page.types.push_back(it->second);
    }
    return page;
  }
  const size_t index = next_token.empty() ? 0 : std::stoul(next_token);
  calls_.push_back(fmt::format("DescribeInstanceTypes page {}", index + 1));
  if (fail_instance_types) return *fail_instance_types;
  if (index >= pages.size()) return InstanceTypesPage{};
  return pages[index];
}

Result<InstanceDescription> FakeAwsApi::describe_instance(const AwsWhere& where, const std::string& instance_id) {
  calls_.push_back("DescribeInstances " + instance_id);
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  return next(instances, instance_i_, "instance " + instance_id);
}

ClusterInfo active_cluster(const std::string& name) {
  return ClusterInfo{
      .name = name,
      .status = "ACTIVE",
      .endpoint = "https://DESCRIBED0123456789.gr7.us-west-2.eks.amazonaws.com",
      // base64 of "-----BEGIN CERTIFICATE-----\nMIIBdescribed\n-----END CERTIFICATE-----\n"
      .certificate_authority =
          "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkZXNjcmliZWQKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=",
      .id = "",
      .service_ipv4_cidr = "10.100.0.0/16",
      .service_ipv6_cidr = std::nullopt,
      .ip_family = "ipv4",
      .outpost_arn = std::nullopt,
  };
}

}  // namespace agent::testing
