// FakeAwsApi: a scripted AwsApi for gather, lookup and scenario tests. It records every call
// ("DescribeCluster my-cluster", "DescribeInstanceTypes m5.large", "DescribeInstanceTypes page 2",
// "DescribeInstances i-...", "DescribeAddonVersions kube-proxy 1.30", "GetAuthorizationToken",
// "DescribeRegions"), never sleeps and never retries; the `where` of each call is kept so tests can
// check the region, domain and deadline passed in.
//
// Answers: each operation has a queue, answered in order, whose last entry repeats (an empty
// queue answers a "not found" AwsApi error, as the real API does for unknown resources).
// describe_instance_types answers a type query from `types` (by name) and a listing from `pages`.
// describe_addon_versions answers from `addon_versions` by add-on name (an absent name: an empty
// list, as EKS answers) filtered to the versions with a compatibility for the minor asked, unless
// `fail_addon_versions` is set; ecr_authorizations and regions are queues like the others (an
// empty `regions` queue answers an empty list).
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "agent/ports/aws_api.h"

namespace agent::testing {

class FakeAwsApi final : public AwsApi {
 public:
  std::vector<Result<ClusterInfo>> clusters;        // DescribeCluster answers, in order
  std::map<std::string, InstanceTypeInfo> types;   // DescribeInstanceTypes by name
  std::vector<InstanceTypesPage> pages;            // DescribeInstanceTypes listing, page i = token "i"
  std::vector<Result<InstanceDescription>> instances;  // DescribeInstances answers, in order
  std::optional<Error> fail_instance_types;        // every DescribeInstanceTypes fails with this
  std::map<std::string, std::vector<AddonVersionInfo>> addon_versions;  // DescribeAddonVersions by add-on
  std::optional<Error> fail_addon_versions;        // every DescribeAddonVersions fails with this
  std::vector<Result<EcrAuthorization>> ecr_authorizations;  // GetAuthorizationToken answers, in order
  std::vector<Result<std::vector<std::string>>> regions;     // DescribeRegions answers, in order

  const std::vector<std::string>& calls() const { return calls_; }
  const std::vector<AwsWhere>& wheres() const { return wheres_; }

  Result<ClusterInfo> describe_cluster(const AwsWhere& where, const std::string& name) override;
  Result<InstanceTypesPage> describe_instance_types(const AwsWhere& where, const std::vector<std::string>& names,
                                                    const std::string& next_token, int max_results) override;
  Result<InstanceDescription> describe_instance(const AwsWhere& where, const std::string& instance_id) override;
  Result<std::vector<AddonVersionInfo>> describe_addon_versions(const AwsWhere& where, const std::string& addon,
                                                                const std::string& kubernetes_minor) override;
  Result<EcrAuthorization> ecr_authorization(const AwsWhere& where) override;
  Result<std::vector<std::string>> describe_regions(const AwsWhere& where) override;
  AwsApiStats stats() const override { return stats_; }

 private:
  std::vector<std::string> calls_;
  std::vector<AwsWhere> wheres_;
  size_t cluster_i_ = 0, instance_i_ = 0, ecr_i_ = 0, regions_i_ = 0;
  AwsApiStats stats_;
};

// A ClusterInfo like the emulator's default cluster: ACTIVE, endpoint, CA (base64 PEM), service
// IPv4 CIDR 10.100.0.0/16, family ipv4.
ClusterInfo active_cluster(const std::string& name = "my-cluster");

// An add-on version as DescribeAddonVersions lists it: compatible with `minor`, the default there
// when `is_default`.
AddonVersionInfo addon_version(const std::string& addon, const std::string& version, const std::string& minor,
                               bool is_default = false);

}  // namespace agent::testing
