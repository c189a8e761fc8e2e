// The wire format of the image cache's AWS operations (EKS DescribeAddonVersions, ECR
// GetAuthorizationToken, EC2 DescribeRegions) and ECR's endpoint: values in, values out.
#include <doctest/doctest.h>
#include <fmt/format.h>

#include <map>
#include <string>
#include <vector>

#include "agent/aws/endpoints.h"
#include "agent/aws/protocol.h"

using agent::AddonCompatibility;
using agent::AttemptOutcome;
using agent::Errc;
using namespace agent::aws;

namespace {

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

AwsEnv env_of(const std::map<std::string, std::string>& vars) {
  return aws_env_from([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

// base64("AWS:ecr-password-0123456789")
constexpr const char* kToken = "QVdTOmVjci1wYXNzd29yZC0wMTIzNDU2Nzg5";

}  // namespace

TEST_CASE("the ECR API endpoint is api.ecr.REGION.DOMAIN, and AWS_ENDPOINT_URL_ECR overrides it") {
  CHECK(*service_endpoint(Service::Ecr, "us-west-2", "amazonaws.com", {}) == "https://api.ecr.us-west-2.amazonaws.com");
  CHECK(*service_endpoint(Service::Ecr, "cn-north-1", "amazonaws.com.cn", {}) ==
        "https://api.ecr.cn-north-1.amazonaws.com.cn");
  CHECK(*service_endpoint(Service::Ecr, "us-gov-west-1", "amazonaws.com", {}) ==
        "https://api.ecr.us-gov-west-1.amazonaws.com");
  CHECK(std::string(signing_name(Service::Ecr)) == "ecr");
  CHECK(std::string(signing_name(Service::Eks)) == "eks");
  CHECK(std::string(signing_name(Service::Ec2)) == "ec2");

  const auto all = env_of({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"}});
  CHECK(*service_endpoint(Service::Ecr, "us-west-2", "amazonaws.com", all) == "http://127.0.0.1:9000");
  const auto ecr = env_of({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000"}, {"AWS_ENDPOINT_URL_ECR", "http://ecr.local"}});
  CHECK(ecr.endpoint_url_ecr == std::optional<std::string>("http://ecr.local"));
  CHECK(*service_endpoint(Service::Ecr, "us-west-2", "amazonaws.com", ecr) == "http://ecr.local");
  CHECK(*service_endpoint(Service::Eks, "us-west-2", "amazonaws.com", ecr) == "http://127.0.0.1:9000");
  auto ignored = ecr;
  ignored.ignore_configured_endpoint_urls = true;
  CHECK(*service_endpoint(Service::Ecr, "us-west-2", "amazonaws.com", ignored) ==
        "https://api.ecr.us-west-2.amazonaws.com");
  auto bad = service_endpoint(Service::Ecr, "us-west-2", "amazonaws.com", env_of({{"AWS_ENDPOINT_URL_ECR", "ecr.local"}}));
  REQUIRE_FALSE(bad);
  CHECK(contains(bad.error().message, "AWS_ENDPOINT_URL_ECR"));
}

TEST_CASE("DescribeAddonVersions: a GET with a canonical query string") {
  auto r = describe_addon_versions_request("https://eks.us-west-2.amazonaws.com", "kube-proxy", "1.30", "");
  REQUIRE(r);
  CHECK(r->method == "GET");
  CHECK(r->url ==
        "https://eks.us-west-2.amazonaws.com/addons/supported-versions?addonName=kube-proxy&kubernetesVersion=1.30&maxResults=100");
  CHECK(r->service == Service::Eks);
  CHECK(r->operation == "DescribeAddonVersions");
  CHECK(r->iam_action == "eks:DescribeAddonVersions");
  CHECK(r->body.empty());
  auto next = describe_addon_versions_request("https://eks", "vpc-cni", "1.30", "a+b/c==");
  REQUIRE(next);
  CHECK(next->url.ends_with("&maxResults=100&nextToken=a%2Bb%2Fc%3D%3D"));

  CHECK(describe_addon_versions_request("https://eks", "kube proxy", "1.30", "").error().code == Errc::Invalid);
  CHECK(describe_addon_versions_request("https://eks", "a&b=c", "1.30", "").error().code == Errc::Invalid);
  CHECK(describe_addon_versions_request("https://eks", "", "1.30", "").error().code == Errc::Invalid);
  for (const char* minor : {"1.30.2", "1", "v1.30", "1.", ".30", "1.30&x=y", ""}) {
    CAPTURE(minor);
    CHECK(describe_addon_versions_request("https://eks", "kube-proxy", minor, "").error().code == Errc::Invalid);
  }
}

TEST_CASE("DescribeAddonVersions answers: every version with its compatibilities, and nextToken") {
  auto page = parse_describe_addon_versions(R"({
    "addons": [{
      "addonName": "kube-proxy", "type": "networking", "owner": "aws", "publisher": "eks",
      "addonVersions": [
        {"addonVersion": "v1.30.0-eksbuild.3", "architecture": ["amd64", "arm64"],
         "compatibilities": [{"clusterVersion": "1.30", "platformVersions": ["*"], "defaultVersion": true}],
         "requiresConfiguration": false},
        {"addonVersion": "v1.30.3-eksbuild.2",
         "compatibilities": [{"clusterVersion": "1.30", "defaultVersion": false},
                             {"clusterVersion": "1.31", "defaultVersion": true}]},
        {"addonVersion": "v1.30.4-eksbuild.1", "compatibilities": null}
      ]
    }],
    "nextToken": "page-2"
  })");
  REQUIRE_MESSAGE(page, (page ? "" : page.error().message));
  CHECK(page->next_token == "page-2");
  REQUIRE(page->versions.size() == 3);
  CHECK(page->versions[0].addon_name == "kube-proxy");
  CHECK(page->versions[0].addon_version == "v1.30.0-eksbuild.3");
  CHECK(page->versions[0].compatibilities ==
        std::vector<AddonCompatibility>{{.cluster_version = "1.30", .default_version = true}});
  CHECK(page->versions[1].compatibilities.size() == 2);
  CHECK(page->versions[1].compatibilities[1].default_version);
  CHECK(page->versions[2].compatibilities.empty());

  auto last = parse_describe_addon_versions(R"({"addons": [], "nextToken": null})");
  REQUIRE(last);
  CHECK(last->versions.empty());
  CHECK(last->next_token.empty());

  CHECK(parse_describe_addon_versions("{}").error().code == Errc::Parse);
  CHECK(parse_describe_addon_versions("<html>").error().code == Errc::Parse);
  CHECK(parse_describe_addon_versions(R"({"addons":[{"addonName":"x","addonVersions":[{"architecture":[]}]}]})")
            .error()
            .code == Errc::Parse);
}

TEST_CASE("GetAuthorizationToken: a JSON 1.1 POST with the target header") {
  const HttpRequest r = ecr_authorization_request("https://api.ecr.us-west-2.amazonaws.com");
  CHECK(r.method == "POST");
  CHECK(r.url == "https://api.ecr.us-west-2.amazonaws.com/");
  CHECK(r.body == "{}");
  CHECK(r.service == Service::Ecr);
  CHECK(r.iam_action == "ecr:GetAuthorizationToken");
  CHECK(std::find(r.headers.begin(), r.headers.end(), "Content-Type: application/x-amz-json-1.1") != r.headers.end());
  CHECK(std::find(r.headers.begin(), r.headers.end(),
                  "X-Amz-Target: AmazonEC2ContainerRegistry_V20150921.GetAuthorizationToken") != r.headers.end());
}

TEST_CASE("GetAuthorizationToken answers: user and password decoded, the password never printed") {
  auto auth = parse_ecr_authorization(fmt::format(
      R"({{"authorizationData": [{{"authorizationToken": "{}", "expiresAt": 1714608000.123,
          "proxyEndpoint": "https://111122223333.dkr.ecr.us-west-2.amazonaws.com"}}]}})",
      kToken));
  REQUIRE_MESSAGE(auth, (auth ? "" : auth.error().message));
  CHECK(auth->username == "AWS");
  CHECK(auth->password.reveal() == "ecr-password-0123456789");
  CHECK(auth->proxy_endpoint == "https://111122223333.dkr.ecr.us-west-2.amazonaws.com");
  CHECK(auth->expires_at.time_since_epoch().count() == 1714608000);
  CHECK(fmt::format("{}", auth->password) == "<redacted>");

  // Broken answers: the errors never quote the token or what it decodes to.
  for (const std::string& body : {
           std::string(R"({"authorizationData": []})"),
           std::string(R"({"authorizationData": [{"authorizationToken": ""}]})"),
           std::string(R"({"authorizationData": [{"authorizationToken": "not base64 ecr-password!"}]})"),
           // base64("ecr-password-0123456789"): no user part
           std::string(R"({"authorizationData": [{"authorizationToken": "ZWNyLXBhc3N3b3JkLTAxMjM0NTY3ODk="}]})"),
       }) {
    auto e = parse_ecr_authorization(body);
    REQUIRE_FALSE(e);
    CHECK(e.error().code == Errc::Parse);
    CHECK_FALSE(contains(e.error().message, "ecr-password"));
    CHECK_FALSE(contains(e.error().message, "ZWNy"));
  }
}

TEST_CASE("DescribeRegions: AllRegions=true, and the names in order") {
  const HttpRequest r = describe_regions_request("https://ec2.us-west-2.amazonaws.com");
  CHECK(r.method == "POST");
  CHECK(r.body == "Action=DescribeRegions&Version=2016-11-15&AllRegions=true");
  CHECK(r.iam_action == "ec2:DescribeRegions");
  CHECK(r.service == Service::Ec2);
  auto regions = parse_describe_regions(R"(<?xml version="1.0" encoding="UTF-8"?>
<DescribeRegionsResponse xmlns="http://ec2.amazonaws.com/doc/2016-11-15/">
  <requestId>r-1</requestId>
  <regionInfo>
    <item><regionName>us-west-2</regionName><regionEndpoint>ec2.us-west-2.amazonaws.com</regionEndpoint><optInStatus>opt-in-not-required</optInStatus></item>
    <item><regionName>af-south-1</regionName><regionEndpoint>ec2.af-south-1.amazonaws.com</regionEndpoint><optInStatus>not-opted-in</optInStatus></item>
  </regionInfo>
</DescribeRegionsResponse>)");
  REQUIRE_MESSAGE(regions, (regions ? "" : regions.error().message));
  CHECK(*regions == std::vector<std::string>{"us-west-2", "af-south-1"});
  CHECK(parse_describe_regions("<DescribeRegionsResponse/>")->empty());
  CHECK(parse_describe_regions("<Other/>").error().code == Errc::Parse);
  CHECK(parse_describe_regions("<DescribeRegionsResponse><regionInfo><item/></regionInfo></DescribeRegionsResponse>")
            .error()
            .code == Errc::Parse);
}

TEST_CASE("ECR errors: JSON 1.1 __type, denial names ecr:GetAuthorizationToken, throttling retried") {
  const HttpRequest r = ecr_authorization_request("https://api.ecr.us-west-2.amazonaws.com");
  auto denied = parse_api_error(Service::Ecr, 400, "",
                                R"({"__type":"com.amazonaws.ecr#AccessDeniedException","message":"not authorized"})");
  CHECK(denied.code == "AccessDeniedException");
  CHECK(classify(denied) == AttemptOutcome::Permanent);
  auto e = final_error(r, denied, "us-west-2", "instance profile eks-node-role");
  CHECK(e.code == Errc::AwsApi);
  CHECK(contains(e.message, "ecr:GetAuthorizationToken was denied for the credentials from instance profile"));
  CHECK_FALSE(contains(e.message, "--apiserver-endpoint"));  // that hint is DescribeCluster's

  auto throttled = parse_api_error(Service::Ecr, 400, "", R"({"__type":"ThrottlingException","message":"slow"})");
  CHECK(classify(throttled) == AttemptOutcome::Throttled);
  auto expired = parse_api_error(Service::Ecr, 400, "", R"({"__type":"ExpiredTokenException","message":"x"})");
  CHECK(credentials_expired(expired));
}

TEST_CASE("DescribeAddonVersions errors carry no DescribeCluster hints") {
  auto r = describe_addon_versions_request("https://eks", "kube-proxy", "1.30", "");
  REQUIRE(r);
  auto denied = final_error(*r, ApiError{.http_status = 403, .code = "AccessDeniedException", .message = "no"},
                            "us-west-2", "environment");
  CHECK(contains(denied.message, "eks:DescribeAddonVersions was denied"));
  CHECK_FALSE(contains(denied.message, "--apiserver-endpoint"));
  auto missing = final_error(*r, ApiError{.http_status = 404, .code = "ResourceNotFoundException", .message = "no"},
                             "us-west-2", "environment");
  CHECK(contains(missing.message, "add-on 'kube-proxy' for Kubernetes 1.30 does not exist in us-west-2"));
  CHECK_FALSE(contains(missing.message, "cluster name"));
}
