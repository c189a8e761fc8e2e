// The wire format of the AWS operations, without signing or transport: request building, answer
// parsing, and what an error answer means. Pure; the adapter (agent/platform/curl_aws_api) sends
// what these build, and libcurl signs it (CURLOPT_AWS_SIGV4).
//
//   EKS DescribeCluster        REST-JSON   GET  {endpoint}/clusters/{name}
//   EKS DescribeAddonVersions  REST-JSON   GET  {endpoint}/addons/supported-versions?addonName=..&kubernetesVersion=..
//   EC2 DescribeInstanceTypes  Query API   POST {endpoint}/  Action=DescribeInstanceTypes&Version=2016-11-15&...
//   EC2 DescribeInstances      Query API   POST {endpoint}/  Action=DescribeInstances&Version=2016-11-15&InstanceId.1=...
//   EC2 DescribeRegions        Query API   POST {endpoint}/  Action=DescribeRegions&Version=2016-11-15&AllRegions=true
//   ECR GetAuthorizationToken  JSON 1.1    POST {endpoint}/  X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken
//
// EC2 parameters travel in a form-encoded body rather than the query string, so the signed
// canonical request has no query string to canonicalise. DescribeAddonVersions does have one: it
// is built already canonical (parameters sorted by name, values percent-encoded with upper-case
// hex, RFC 3986 unreserved characters kept), so whether or not a signer re-sorts it, the string
// signed and the string sent are the same.
#pragma once
#include <string>
#include <string_view>
#include <vector>

#include "agent/aws/endpoints.h"
#include "agent/model/aws_types.h"
#include "agent/model/result.h"
#include "agent/model/retry_policy.h"

namespace agent::aws {

inline constexpr const char* kEc2ApiVersion = "2016-11-15";

struct HttpRequest {
  std::string method;                // GET | POST
  std::string url;
  std::vector<std::string> headers;  // "Name: value", besides Host and the signature's own
  std::string body;
  Service service = Service::Eks;
  std::string operation;             // "DescribeCluster"
  std::string iam_action;            // "eks:DescribeCluster"
  std::string subject;               // what a "not found" is about: "EKS cluster 'x'"
  bool operator==(const HttpRequest&) const = default;
};

// Errors: Invalid when `name` is not an EKS cluster name (1-100 of [A-Za-z0-9_-], starting with
// a letter or digit), so it can never change the request path.
Result<HttpRequest> describe_cluster_request(const std::string& endpoint, const std::string& name);
// Errors: Invalid for a type that is not [a-z0-9.-]+ or max_results outside 5..1000.
Result<HttpRequest> describe_instance_types_request(const std::string& endpoint,
                                                    const std::vector<std::string>& types,
                                                    const std::string& next_token, int max_results);
// Errors: Invalid for an id that is not i-<hex>.
Result<HttpRequest> describe_instances_request(const std::string& endpoint, const std::string& instance_id);
// One page (100 add-ons at most); `next_token` empty for the first. Errors: Invalid for an add-on
// name that is not 1-100 of [A-Za-z0-9._-] or a minor that is not "N.N".
Result<HttpRequest> describe_addon_versions_request(const std::string& endpoint, const std::string& addon,
                                                    const std::string& kubernetes_minor,
                                                    const std::string& next_token);
HttpRequest ecr_authorization_request(const std::string& endpoint);
HttpRequest describe_regions_request(const std::string& endpoint);

// application/x-www-form-urlencoded value encoding (RFC 3986 unreserved characters kept).
std::string form_encode(std::string_view s);

// Answers. Errors: Parse naming what is missing or malformed.
Result<ClusterInfo> parse_describe_cluster(std::string_view json);
Result<InstanceTypesPage> parse_describe_instance_types(std::string_view xml);
// The instance with `instance_id` from the reservation set. Errors also: Parse when it is absent.
Result<InstanceDescription> parse_describe_instances(std::string_view xml, const std::string& instance_id);
// Every addons[].addonVersions[] entry, with the addon's name, and nextToken.
Result<AddonVersionsPage> parse_describe_addon_versions(std::string_view json);
// authorizationData[0]: the token base64-decoded and split into user and password. The errors
// never quote the answer (it holds the password).
Result<EcrAuthorization> parse_ecr_authorization(std::string_view json);
// regionInfo/item/regionName, in order.
Result<std::vector<std::string>> parse_describe_regions(std::string_view xml);

// A non-2xx answer, as much as can be told from it.
struct ApiError {
  int http_status = 0;
  std::string code;     // "AccessDeniedException", "RequestLimitExceeded", ...; "" if unknown
  std::string message;  // the service's message; "" if none
  bool operator==(const ApiError&) const = default;
};

// EKS and ECR name the error in the x-amzn-ErrorType header ("Code:http://...") or the body's
// "__type" ("com.amazonaws.ecr#Code") or "code"; EC2 in <Response><Errors><Error><Code>. Never fails: an unparseable body leaves code
// empty and keeps a bounded excerpt of the body as the message.
ApiError parse_api_error(Service service, int http_status, std::string_view error_type_header,
                         std::string_view body);

// Throttled (429 or a throttling code), Failure (5xx, or a retryable code on another status), or
// Permanent (every other 4xx: access denied, not found, validation, bad credentials).
AttemptOutcome classify(const ApiError& e);

// The answer says the credentials' session token has expired (refresh and try once more).
bool credentials_expired(const ApiError& e);

// The resource does not exist.
bool resource_not_found(const ApiError& e);

// The operator-facing error for a final answer: Errc::AwsApi. An access denial names the IAM
// action to allow; a missing resource starts with kAwsNotFoundPrefix and names it and the region;
// rejected credentials name their source.
Error final_error(const HttpRequest& request, const ApiError& e, const std::string& region,
                  const std::string& credential_source);

}  // namespace agent::aws
