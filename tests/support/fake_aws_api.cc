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

Result<std::vector<AddonVersionInfo>> FakeAwsApi::describe_addon_versions(const AwsWhere& where,
                                                                          const std::string& addon,
                                                                          const std::string& kubernetes_minor) {
  calls_.push_back("DescribeAddonVersions " + addon + " " + kubernetes_minor);
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  if (fail_addon_versions) return *fail_addon_versions;
  std::vector<AddonVersionInfo> out;
  auto it = addon_versions.find(addon);
  if (it == addon_versions.end()) return out;
  for (const auto& v : it->second) {
    const bool fits = std::any_of(v.compatibilities.begin(), v.compatibilities.end(),
                                  [&](const AddonCompatibility& c) { return c.cluster_version == kubernetes_minor; });
    if (fits) out.push_back(v);
  }
  return out;
}

Result<EcrAuthorization> FakeAwsApi::ecr_authorization(const AwsWhere& where) {
  calls_.push_back("GetAuthorizationToken");
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  if (ecr_authorizations.empty()) {
    return make_error(Errc::AwsApi, "GetAuthorizationToken: nothing scripted (fake)");
  }
  return ecr_authorizations[std::min(ecr_i_++, ecr_authorizations.size() - 1)];
}

Result<std::vector<std::string>> FakeAwsApi::describe_regions(const AwsWhere& where) {
  calls_.push_back("DescribeRegions");
  wheres_.push_back(where);
  ++stats_.calls;
  ++stats_.requests;
  if (regions.empty()) return std::vector<std::string>{};
  return regions[std::min(regions_i_++, regions.size() - 1)];
}

AddonVersionInfo addon_version(const std::string& addon, const std::string& version, const std::string& minor,
                               bool is_default) {
  return AddonVersionInfo{
      .addon_name = addon,
      .addon_version = version,
      .compatibilities = {AddonCompatibility{.cluster_version = minor, .default_version = is_default}},
  };
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
