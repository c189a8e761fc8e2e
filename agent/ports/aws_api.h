// AwsApi: the AWS API operations the agent may need, signed with the node's credentials.
//
// None of them is on the path of a bootstrap with complete flags: DescribeCluster runs only when
// the API endpoint or the CA is missing, DescribeInstanceTypes only for an instance type that no
// table knows, DescribeInstances only with --hostname-source ec2. DescribeAddonVersions, ECR
// GetAuthorizationToken and DescribeRegions run only in build mode, when it caches container
// images (cache_container_images=true).
//
// Semantics shared by every method:
//   - All of them are read-only (GetAuthorizationToken issues a fresh token each time and changes
//     nothing), so every attempt is idempotent and may be repeated freely.
//   - `where` names the instance's region and partition domain as IMDS reports them; the
//     implementation may override them (AWS_REGION, AWS_ENDPOINT_URL_*). `where.deadline` bounds
//     the whole call, retries, pages and credential look-ups included: no attempt or backoff
//     outlives it.
//   - Retries happen inside the call, per RetryPolicy (agent/model/retry_policy.h): throttling
//     until the deadline, 5xx and connection errors up to the policy's attempts, with capped
//     exponential backoff and full jitter. An answer that says the credentials expired makes the
//     implementation fetch fresh credentials once and retry.
//   - Errors are Errc::AwsApi with a message that names the operation, the endpoint and the cause:
//     the IAM action for an access denial ("eks:DescribeCluster", "ecr:GetAuthorizationToken"),
//     the cluster for a ResourceNotFound, the attempt count when retries ran out. "Not found" (see
//     each method) is never retried and is recognisable with is_aws_not_found(). Errc::Interrupted
//     when cancelled. Errc::Invalid for an argument that cannot be sent (a malformed cluster name),
//     before any network traffic. No message ever contains a credential or a registry password.
#pragma once
#include <chrono>
#include <string>
#include <vector>

#include "agent/model/aws_types.h"
#include "agent/model/result.h"

namespace agent {

struct AwsWhere {
  std::string region;  // from IMDS (the instance's region)
  std::string domain;  // from IMDS services/domain: amazonaws.com, amazonaws.com.cn, ...
  std::chrono::steady_clock::time_point deadline;
};

struct AwsApiStats {
  int calls = 0;      // method calls
  int requests = 0;   // HTTP requests sent, retries included
  int throttled = 0;  // answers that were throttling
  int credential_fetches = 0;
};

class AwsApi {
 public:
  virtual ~AwsApi() = default;

  // EKS DescribeCluster (GET /clusters/NAME). Returns the cluster whatever its status: waiting
  // for ACTIVE is the caller's policy. Not found: the cluster does not exist in that region.
  virtual Result<ClusterInfo> describe_cluster(const AwsWhere& where, const std::string& name) = 0;

  // EC2 DescribeInstanceTypes: one page. `types` empty lists every type the region offers;
  // `next_token` continues a listing (empty for the first page); `max_results` 5..100 per page
  // (ignored by EC2 when `types` is given). Not found: a named type EC2 does not know.
  virtual Result<InstanceTypesPage> describe_instance_types(const AwsWhere& where,
                                                            const std::vector<std::string>& types,
                                                            const std::string& next_token,
                                                            int max_results) = 0;

  // EC2 DescribeInstances for one instance id. An empty private_dns_name is a value, not an error
  // (EC2 publishes it with a delay); waiting for it is the caller's policy. Not found: no such
  // instance (yet: EC2 is eventually consistent right after launch).
  virtual Result<InstanceDescription> describe_instance(const AwsWhere& where,
                                                        const std::string& instance_id) = 0;

  // EKS DescribeAddonVersions (GET /addons/supported-versions?addonName=A&kubernetesVersion=M):
  // every version of add-on `addon` ("kube-proxy", "vpc-cni") EKS lists for Kubernetes minor
  // `kubernetes_minor` ("1.30"), all pages followed (nextToken), in the order EKS lists them. An
  // add-on EKS does not know is an empty list, not an error. Errors also: Invalid for an add-on
  // name or minor that cannot be sent; AwsApi when the pages do not end (a repeated nextToken).
  virtual Result<std::vector<AddonVersionInfo>> describe_addon_versions(const AwsWhere& where,
                                                                        const std::string& addon,
                                                                        const std::string& kubernetes_minor) = 0;

  // ECR GetAuthorizationToken for the registries of `where.region` (a token is valid for one
  // region, 12 hours). The password is a Secret: never logged, never in an error.
  virtual Result<EcrAuthorization> ecr_authorization(const AwsWhere& where) = 0;

  // EC2 DescribeRegions with AllRegions=true: the names of every region of the partition the
  // call goes to, opted in or not, in the order EC2 lists them.
  virtual Result<std::vector<std::string>> describe_regions(const AwsWhere& where) = 0;

  virtual AwsApiStats stats() const = 0;
};

}  // namespace agent
