// Values the AWS API calls return (agent/ports/aws_api.h), as the agent uses them.
#pragma once
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/result.h"
#include "agent/model/secret.h"

namespace agent {

// Marker put at the start of an AwsApi error message when the resource does not exist
// (ResourceNotFoundException, InvalidInstanceID.NotFound, InvalidInstanceType), so callers can
// tell "absent" from "failed" without parsing prose.
inline constexpr const char* kAwsNotFoundPrefix = "not found: ";
inline bool is_aws_not_found(const Error& e) {
  return e.code == Errc::AwsApi && e.message.rfind(kAwsNotFoundPrefix, 0) == 0;
}

// EKS DescribeCluster, the fields bootstrap.sh read (bootstrap-sh.md section 2.3). Absent values
// (JSON null or missing; bootstrap.sh's "None") are empty / nullopt.
struct ClusterInfo {
  std::string name;
  std::string status;                 // CREATING, ACTIVE, DELETING, FAILED, UPDATING, PENDING
  std::string endpoint;               // https://...
  std::string certificate_authority;  // certificateAuthority.data (base64)
  std::string id;                     // cluster.id: set for local clusters on Outposts
  std::optional<std::string> service_ipv4_cidr;  // kubernetesNetworkConfig.serviceIpv4Cidr
  std::optional<std::string> service_ipv6_cidr;  // kubernetesNetworkConfig.serviceIpv6Cidr
  std::optional<std::string> ip_family;          // kubernetesNetworkConfig.ipFamily: ipv4 | ipv6
  std::optional<std::string> outpost_arn;        // outpostConfig.outpostArns[0]
  bool operator==(const ClusterInfo&) const = default;
};

// EC2 DescribeInstanceTypes, the networking and CPU facts max pods needs.
struct InstanceTypeInfo {
  std::string instance_type;
  int default_vcpus = 0;              // vCpuInfo.defaultVCpus
  std::string hypervisor;             // nitro | xen | "" (bare metal has none)
  bool bare_metal = false;
  int default_network_card_index = 0;
  int default_card_max_enis = 0;      // networkCards[defaultNetworkCardIndex].maximumNetworkInterfaces
  int max_enis = 0;                   // networkInfo.maximumNetworkInterfaces (all cards)
  int ipv4_per_eni = 0;               // networkInfo.ipv4AddressesPerInterface
  int ipv6_per_eni = 0;               // networkInfo.ipv6AddressesPerInterface
  int network_cards = 0;              // networkInfo.maximumNetworkCards
  bool operator==(const InstanceTypeInfo&) const = default;
};

struct InstanceTypesPage {
  std::vector<InstanceTypeInfo> types;
  std::string next_token;  // empty on the last page
  bool operator==(const InstanceTypesPage&) const = default;
};

// EC2 DescribeInstances for one instance.
struct InstanceDescription {
  std::string instance_id;
  std::string private_dns_name;  // empty while EC2 has not published it yet
  std::string state;             // pending, running, ...
  bool operator==(const InstanceDescription&) const = default;
};

// EKS DescribeAddonVersions: one version of an add-on and the Kubernetes minors it supports.
struct AddonCompatibility {
  std::string cluster_version;   // "1.30"
  bool default_version = false;  // the version EKS installs by default on that minor
  bool operator==(const AddonCompatibility&) const = default;
};

struct AddonVersionInfo {
  std::string addon_name;     // "kube-proxy", "vpc-cni"
  std::string addon_version;  // "v1.30.0-eksbuild.3"
  std::vector<AddonCompatibility> compatibilities;
  bool operator==(const AddonVersionInfo&) const = default;
};

// One page of DescribeAddonVersions (the adapter follows nextToken; callers see whole lists).
struct AddonVersionsPage {
  std::vector<AddonVersionInfo> versions;
  std::string next_token;  // empty on the last page
  bool operator==(const AddonVersionsPage&) const = default;
};

// ECR GetAuthorizationToken: the registry login (authorizationData[0], its token decoded). The
// password is a Secret: it prints as "<redacted>" and is reachable only through reveal().
struct EcrAuthorization {
  std::string username;        // "AWS"
  Secret password;
  std::string proxy_endpoint;  // "https://111122223333.dkr.ecr.us-west-2.amazonaws.com"
  std::chrono::sys_seconds expires_at{};  // the epoch when the answer had no expiresAt
  bool operator==(const EcrAuthorization&) const = default;
};

}  // namespace agent
