// CurlAwsApi's image cache operations against the loopback AWS emulator: EKS DescribeAddonVersions
// (a signed query string, pages), ECR GetAuthorizationToken (JSON 1.1, signing name "ecr"), EC2
// DescribeRegions (AllRegions=true); every signature recomputed by botocore in the emulator. Then
// build mode's image cache step end to end with the real adapter and a recording ctr.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <algorithm>
#include <string>
#include <vector>

#include "agent/app/image_cache.h"
#include "agent/platform/curl_aws_api.h"
#include "tests/integration/aws_fixture.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"

using agent::AwsWhere;
using agent::Errc;
using agent::platform::CurlAwsApi;
using agent::test::AwsEmulator;
using agent::testing::FakeImds;
using agent::testing::ManualClock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kEcrPassword = "emulator-ecr-password-0000000000000001";  // aws_emulator.py's

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void serve_role(FakeImds& imds) {
  const std::string base = "latest/meta-data/iam/security-credentials/";
  imds.set(base, "eks-node-role");
  imds.set(base + "eks-node-role", nlohmann::json{{"Code", "Success"},
                                                  {"Type", "AWS-HMAC"},
                                                  {"AccessKeyId", "ASIAEMULATORROLE0001"},
                                                  {"SecretAccessKey", "role-secret-key-00000000000000000000000001"},
                                                  {"Token", "role-session-token-1"},
                                                  {"Expiration", "2099-01-01T00:00:00Z"}}
                                       .dump());
}

struct Rig {
  AwsEmulator aws;
  FakeImds imds;
  ManualClock clock;
  std::vector<std::string> retries;
  CurlAwsApi::Options options;

  Rig() {
    options.env.endpoint_url = aws.endpoint();
    options.env.access_key_id = "AKIAEMULATORSTATIC01";
    options.env.secret_access_key = "static-secret-key-0000000000000000000000";
    options.jitter_seed = 7;
    options.request_timeout = 5s;
    options.on_retry = [this](const std::string& op, int attempt, std::chrono::milliseconds, const std::string& why) {
      retries.push_back(op + " " + std::to_string(attempt) + " " + why);
    };
  }
  CurlAwsApi api() {
    return CurlAwsApi(options, imds, clock, [] { return std::chrono::system_clock::now(); });
  }
  AwsWhere where() {
    return AwsWhere{.region = "us-west-2", .domain = "amazonaws.com", .deadline = clock.now() + 240s};
  }
};

}  // namespace

TEST_CASE("DescribeAddonVersions: a signed query string, every page followed") {
  Rig r;
  r.aws.control({{"action", "set_addon_versions"},
                 {"addon", "kube-proxy"},
                 {"versions", nlohmann::json::parse(R"([
                   {"addonVersion": "v1.30.0-eksbuild.3", "compatibilities": [{"clusterVersion": "1.30", "defaultVersion": true}]},
                   {"addonVersion": "v1.30.3-eksbuild.2", "compatibilities": [{"clusterVersion": "1.30", "defaultVersion": false}]},
                   {"addonVersion": "v1.29.0-eksbuild.1", "compatibilities": [{"clusterVersion": "1.29", "defaultVersion": true}]},
                   {"addonVersion": "v1.30.3-eksbuild.10", "compatibilities": [{"clusterVersion": "1.30", "defaultVersion": false},
                                                                               {"clusterVersion": "1.31", "defaultVersion": true}]}
                 ])")},
                 {"page_size", 1}});
  auto api = r.api();
  auto versions = api.describe_addon_versions(r.where(), "kube-proxy", "1.30");
  REQUIRE_MESSAGE(versions, (versions ? "" : versions.error().message));
  std::vector<std::string> names;
  for (const auto& v : *versions) names.push_back(v.addon_version);
  CHECK(names == std::vector<std::string>{"v1.30.0-eksbuild.3", "v1.30.3-eksbuild.2", "v1.30.3-eksbuild.10"});
  CHECK((*versions)[0].addon_name == "kube-proxy");
  CHECK((*versions)[0].compatibilities[0].default_version);
  CHECK((*versions)[2].compatibilities.size() == 2);
  auto s = r.aws.stats();
  CHECK(s["by_operation"]["DescribeAddonVersions"] == 3);  // one page each; tokens end in '=' (%3D)
  CHECK(s["signature_ok"] == 3);
  CHECK(s["signature_failed"] == 0);
  CHECK(api.stats().calls == 3);
}

TEST_CASE("DescribeAddonVersions of an add-on EKS does not know is an empty list") {
  Rig r;
  auto api = r.api();
  auto versions = api.describe_addon_versions(r.where(), "no-such-addon", "1.30");
  REQUIRE_MESSAGE(versions, (versions ? "" : versions.error().message));
  CHECK(versions->empty());
  auto none = api.describe_addon_versions(r.where(), "vpc-cni", "1.19");
  REQUIRE(none);
  CHECK(none->empty());
  CHECK(r.aws.stats()["signature_ok"] == 2);
}

TEST_CASE("DescribeAddonVersions denied names eks:DescribeAddonVersions without bootstrap hints") {
  Rig r;
  r.aws.control({{"action", "deny"}, {"operation", "DescribeAddonVersions"}});
  auto api = r.api();
  auto versions = api.describe_addon_versions(r.where(), "kube-proxy", "1.30");
  REQUIRE_FALSE(versions);
  CHECK(versions.error().code == Errc::AwsApi);
  CHECK(contains(versions.error().message, "eks:DescribeAddonVersions was denied for the credentials from environment"));
  CHECK_FALSE(contains(versions.error().message, "--apiserver-endpoint"));
  CHECK(api.stats().requests == 1);
}

TEST_CASE("GetAuthorizationToken with instance-profile credentials: signed for ecr, the login decoded") {
  Rig r;
  r.options.env.access_key_id.reset();
  r.options.env.secret_access_key.reset();
  serve_role(r.imds);
  auto api = r.api();
  const auto before = std::chrono::system_clock::now();
  auto auth = api.ecr_authorization(r.where());
  REQUIRE_MESSAGE(auth, (auth ? "" : auth.error().message));
  CHECK(auth->username == "AWS");
  CHECK(auth->password.reveal() == kEcrPassword);
  CHECK(auth->proxy_endpoint == "https://111122223333.dkr.ecr.us-west-2.amazonaws.com");
  CHECK(auth->expires_at > before + 11h);
  CHECK(auth->expires_at < before + 13h);
  auto s = r.aws.stats();
  CHECK(s["ecr_tokens"] == 1);
  CHECK(s["signature_ok"] == 1);
  CHECK(s["tokens_signed"] == 1);
  const auto signed_headers = s["signed_headers"].get<std::vector<std::string>>();
  CHECK(std::find(signed_headers.begin(), signed_headers.end(), "x-amz-target") != signed_headers.end());
}

TEST_CASE("GetAuthorizationToken: throttled twice, then the answer") {
  Rig r;
  r.aws.control({{"action", "fault"}, {"operation", "GetAuthorizationToken"}, {"status", 400},
                 {"code", "ThrottlingException"}, {"count", 2}});
  auto api = r.api();
  auto auth = api.ecr_authorization(r.where());
  REQUIRE_MESSAGE(auth, (auth ? "" : auth.error().message));
  CHECK(api.stats().requests == 3);
  CHECK(api.stats().throttled == 2);
  REQUIRE(r.retries.size() == 2);
  CHECK(contains(r.retries[0], "GetAuthorizationToken 1 HTTP 400 ThrottlingException"));
}

TEST_CASE("GetAuthorizationToken denied names ecr:GetAuthorizationToken and is not retried") {
  Rig r;
  r.aws.control({{"action", "deny"}, {"operation", "GetAuthorizationToken"}});
  auto api = r.api();
  auto auth = api.ecr_authorization(r.where());
  REQUIRE_FALSE(auth);
  CHECK(auth.error().code == Errc::AwsApi);
  CHECK(contains(auth.error().message, "ecr:GetAuthorizationToken was denied for the credentials from environment"));
  CHECK(contains(auth.error().message, "AccessDeniedException"));
  CHECK(api.stats().requests == 1);
}

TEST_CASE("a wrong secret is caught for ECR too") {
  Rig r;
  r.options.env.secret_access_key = "not-the-secret";
  auto api = r.api();
  auto auth = api.ecr_authorization(r.where());
  REQUIRE_FALSE(auth);
  CHECK(contains(auth.error().message, "rejected the credentials from environment"));
  CHECK(contains(auth.error().message, "InvalidSignatureException"));
  CHECK(r.aws.stats()["signature_failed"] == 1);
}

TEST_CASE("AWS_ENDPOINT_URL_ECR sends ECR calls there and nothing else") {
  Rig r;
  r.options.env.endpoint_url = "http://127.0.0.1:1";  // everything else: refused
  r.options.env.endpoint_url_ecr = r.aws.endpoint();
  r.options.retry = agent::aws_retry_policy(0);
  auto api = r.api();
  auto auth = api.ecr_authorization(r.where());
  REQUIRE_MESSAGE(auth, (auth ? "" : auth.error().message));
  auto regions = api.describe_regions(r.where());
  REQUIRE_FALSE(regions);
  CHECK(r.aws.stats()["requests"] == 1);
}

TEST_CASE("DescribeRegions asks for all regions, opted in or not") {
  Rig r;
  auto api = r.api();
  auto regions = api.describe_regions(r.where());
  REQUIRE_MESSAGE(regions, (regions ? "" : regions.error().message));
  CHECK(*regions == std::vector<std::string>{"us-east-1", "us-east-2", "us-west-1", "us-west-2", "eu-west-1",
                                             "ap-northeast-1", "af-south-1", "ap-east-1"});
  CHECK(r.aws.stats()["signature_ok"] == 1);
}

TEST_CASE("DescribeRegions denied names ec2:DescribeRegions") {
  Rig r;
  r.aws.control({{"action", "deny"}, {"operation", "DescribeRegions"}});
  auto api = r.api();
  auto regions = api.describe_regions(r.where());
  REQUIRE_FALSE(regions);
  CHECK(contains(regions.error().message, "ec2:DescribeRegions was denied"));
  CHECK(contains(regions.error().message, "UnauthorizedOperation"));
}

TEST_CASE("the image cache step with the real adapter: versions, regions and login from the emulator") {
  Rig r;
  r.aws.control({{"action", "set_regions"}, {"regions", {"us-west-2", "us-east-1", "af-south-1"}}});
  auto api = r.api();
  std::vector<std::vector<std::string>> commands;
  std::vector<std::string> progress;
  agent::app::ImageCacheRequest request{.kubernetes_version = "1.30.4", .pause_container_version = "3.9"};
  auto s = agent::app::cache_container_images(
      request, api, r.where(),
      [&](const std::vector<std::string>& argv) -> agent::Result<std::string> {
        commands.push_back(argv);
        return std::string();
      },
      r.clock, nullptr, [&](const std::string& line) { progress.push_back(line); });
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  const std::string ecr = "602401143452.dkr.ecr.us-west-2.amazonaws.com";
  CHECK(s->pulled == std::vector<std::string>{
                         ecr + "/eks/pause:3.9",
                         ecr + "/eks/kube-proxy:v1.30.0-minimal-eksbuild.3",
                         ecr + "/eks/kube-proxy:v1.30.3-minimal-eksbuild.10",
                         ecr + "/amazon-k8s-cni:v1.18.1-eksbuild.1",
                         ecr + "/amazon-k8s-cni-init:v1.18.1-eksbuild.1",
                         ecr + "/amazon-k8s-cni:v1.18.3-eksbuild.2",
                         ecr + "/amazon-k8s-cni-init:v1.18.3-eksbuild.2",
                     });
  REQUIRE(commands.size() > 8);
  CHECK(commands[1][6] == std::string("AWS:") + kEcrPassword);  // the login the emulator issued
  CHECK(s->regions == 3);
  // af-south-1 has its own account; us-east-1 and us-west-2 have FIPS twins.
  const std::string pause_tags = fmt::format("{}", fmt::join(commands, "\n"));
  CHECK(contains(pause_tags, "877085696533.dkr.ecr.af-south-1.amazonaws.com/eks/pause:3.9"));
  CHECK(contains(pause_tags, "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com/eks/pause:3.9"));
  CHECK(contains(pause_tags, "602401143452.dkr.ecr-fips.us-west-2.amazonaws.com/eks/pause:3.9"));
  for (const auto& line : progress) CHECK_FALSE(contains(line, kEcrPassword));
  auto stats = r.aws.stats();
  CHECK(stats["by_operation"]["DescribeAddonVersions"] == 2);
  CHECK(stats["by_operation"]["DescribeRegions"] == 1);
  CHECK(stats["by_operation"]["GetAuthorizationToken"] == 1);
  CHECK(stats["signature_failed"] == 0);
}
