// CurlAwsApi against the loopback AWS emulator: real HTTP, libcurl's SigV4 signature checked by
// botocore in the emulator, retries on a manual clock, credentials from a fake IMDS.
#include "agent/platform/curl_aws_api.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <doctest/doctest.h>
#include <fmt/chrono.h>

#include <string>
#include <vector>

#include "tests/integration/aws_fixture.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"

using agent::AwsWhere;
using agent::Errc;
using agent::RetryPolicy;
using agent::platform::CurlAwsApi;
using agent::test::AwsEmulator;
using agent::testing::FakeImds;
using agent::testing::ManualClock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kRole = "eks-node-role";
constexpr const char* kCredsPath = "latest/meta-data/iam/security-credentials/";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

std::string role_document(int n, const std::string& expiration = "2099-01-01T00:00:00Z") {
  return nlohmann::json{{"Code", "Success"},
                        {"LastUpdated", "2024-05-01T12:00:00Z"},
                        {"Type", "AWS-HMAC"},
                        {"AccessKeyId", "ASIAEMULATORROLE000" + std::to_string(n)},
                        {"SecretAccessKey", "role-secret-key-0000000000000000000000000" + std::to_string(n)},
                        {"Token", "role-session-token-" + std::to_string(n)},
                        {"Expiration", expiration}}
      .dump();
}

void serve_role(FakeImds& imds, int n, const std::string& expiration = "2099-01-01T00:00:00Z") {
  imds.set(kCredsPath, kRole);
  imds.set(std::string(kCredsPath) + kRole, role_document(n, expiration));
}

// Everything a test needs: emulator, fake IMDS, manual clock, and an adapter pointed at them.
struct Rig {
  AwsEmulator aws;
  FakeImds imds;
  ManualClock clock;
  std::chrono::steady_clock::time_point steady_start = clock.now();
  std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::now();
  std::vector<std::string> retries;
  CurlAwsApi::Options options;

  Rig() {
    options.env.endpoint_url = aws.endpoint();
    options.jitter_seed = 7;
    options.request_timeout = 5s;
    options.on_retry = [this](const std::string& op, int attempt, std::chrono::milliseconds, const std::string& why) {
      retries.push_back(op + " " + std::to_string(attempt) + " " + why);
    };
  }
  CurlAwsApi api() {
    return CurlAwsApi(options, imds, clock, [this] {
      return wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(clock.now() - steady_start);
    });
  }
  AwsWhere where(std::chrono::seconds budget = 240s) {
    return AwsWhere{.region = "us-west-2", .domain = "amazonaws.com", .deadline = clock.now() + budget};
  }
  void static_credentials() {
    options.env.access_key_id = "AKIAEMULATORSTATIC01";
    options.env.secret_access_key = "static-secret-key-0000000000000000000000";
  }
};

}  // namespace

TEST_CASE("DescribeCluster is signed with environment credentials that botocore accepts") {
  Rig r;
  r.static_credentials();
  auto api = r.api();
  CHECK_FALSE(api.curl_loaded());
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(api.curl_loaded());
  CHECK(c->status == "ACTIVE");
  CHECK(contains(c->endpoint, "https://EMULATED0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com"));
  CHECK(c->service_ipv4_cidr == std::optional<std::string>("10.100.0.0/16"));
  CHECK(c->ip_family == std::optional<std::string>("ipv4"));
  CHECK_FALSE(c->outpost_arn);
  auto s = r.aws.stats();
  CHECK(s["signature_ok"] == 1);
  CHECK(s["signature_failed"] == 0);
  CHECK(s["access_keys"]["AKIAEMULATORSTATIC01"] == 1);
  CHECK(api.stats().requests == 1);
  CHECK(r.imds.calls().empty());  // environment credentials: no IMDS
}

TEST_CASE("a wrong secret is caught by the independent verifier") {
  Rig r;
  r.options.env.access_key_id = "AKIAEMULATORSTATIC01";
  r.options.env.secret_access_key = "not-the-secret";
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "rejected the credentials from environment"));
  CHECK(contains(c.error().message, "InvalidSignatureException"));
  CHECK(r.aws.stats()["signature_failed"] == 1);
  CHECK(api.stats().requests == 1);  // not retried
}

TEST_CASE("instance-profile credentials come from IMDS and their session token is sent") {
  Rig r;
  serve_role(r.imds, 1);
  auto api = r.api();
  auto page = api.describe_instance_types(r.where(), {"m5.large"}, "", 100);
  REQUIRE_MESSAGE(page, (page ? "" : page.error().message));
  REQUIRE(page->types.size() == 1);
  CHECK(page->types[0].ipv4_per_eni == 10);
  CHECK(page->types[0].default_card_max_enis == 3);
  CHECK(page->types[0].default_vcpus == 2);
  CHECK(page->types[0].hypervisor == "nitro");
  auto again = api.describe_instance(r.where(), "i-0123456789abcdef0");
  REQUIRE_MESSAGE(again, (again ? "" : again.error().message));
  CHECK(again->private_dns_name == "ip-10-0-12-34.us-west-2.compute.internal");
  CHECK(api.stats().credential_fetches == 1);  // cached for the second call
  auto s = r.aws.stats();
  CHECK(s["signature_ok"] == 2);
  CHECK(s["access_keys"]["ASIAEMULATORROLE0001"] == 2);
}

TEST_CASE("no credentials anywhere is an AWS API error before any request") {
  Rig r;
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "no AWS credentials"));
  CHECK(r.aws.stats()["requests"] == 0);
}

TEST_CASE("throttled twice, then the answer") {
  Rig r;
  r.static_credentials();
  r.aws.control({{"action", "fault"}, {"operation", "DescribeCluster"}, {"status", 429},
                 {"code", "TooManyRequestsException"}, {"count", 2}});
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(api.stats().requests == 3);
  CHECK(api.stats().throttled == 2);
  REQUIRE(r.retries.size() == 2);
  CHECK(contains(r.retries[0], "DescribeCluster 1 HTTP 429 TooManyRequestsException"));
  // Full jitter: every wait is inside its window (1 s, then 2 s).
  REQUIRE(r.clock.sleeps().size() >= 2);
}

TEST_CASE("throttling is retried past --aws-api-retry-attempts, until the deadline") {
  Rig r;
  r.static_credentials();
  r.options.retry = RetryPolicy{.max_attempts = 2, .base = 1000ms, .cap = 4000ms};
  r.aws.control({{"action", "fault"}, {"operation", "*"}, {"status", 503}, {"code", "RequestLimitExceeded"}});
  auto api = r.api();
  auto c = api.describe_instance_types(r.where(30s), {"m5.large"}, "", 100);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "the next retry would pass the deadline"));
  CHECK(contains(c.error().message, "RequestLimitExceeded"));
  CHECK(api.stats().requests > 2);  // more than max_attempts: throttling does not use them up
}

TEST_CASE("5xx answers use up --aws-api-retry-attempts") {
  Rig r;
  r.static_credentials();
  r.options.retry = agent::aws_retry_policy(2);  // 3 attempts
  r.aws.control({{"action", "fault"}, {"operation", "DescribeCluster"}, {"status", 500}, {"code", "ServerException"}});
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "failed 3 time(s)"));
  CHECK(contains(c.error().message, "HTTP 500 ServerException"));
  CHECK(api.stats().requests == 3);
}

TEST_CASE("ResourceNotFound is final and names the cluster and the region") {
  Rig r;
  r.static_credentials();
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "no-such-cluster");
  REQUIRE_FALSE(c);
  CHECK(agent::is_aws_not_found(c.error()));
  CHECK(contains(c.error().message, "EKS cluster 'no-such-cluster' does not exist in us-west-2"));
  CHECK(api.stats().requests == 1);
}

TEST_CASE("AccessDenied is final and names the IAM action") {
  Rig r;
  serve_role(r.imds, 1);
  r.aws.control({{"action", "deny"}, {"operation", "DescribeCluster"}});
  r.aws.control({{"action", "deny"}, {"operation", "DescribeInstances"}});
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "eks:DescribeCluster was denied for the credentials from instance profile eks-node-role"));
  CHECK(contains(c.error().message, "--apiserver-endpoint"));
  auto i = api.describe_instance(r.where(), "i-0123456789abcdef0");
  REQUIRE_FALSE(i);
  CHECK(contains(i.error().message, "ec2:DescribeInstances was denied"));
  CHECK(contains(i.error().message, "UnauthorizedOperation"));
  CHECK(api.stats().requests == 2);
}

TEST_CASE("credentials that expired under the agent are fetched again once") {
  Rig r;
  serve_role(r.imds, 1);
  auto api = r.api();
  REQUIRE(api.describe_cluster(r.where(), "my-cluster"));
  // IMDS has rotated to new credentials; the emulator now calls the cached ones expired.
  r.aws.control({{"action", "expire_credentials"}, {"access_key_id", "ASIAEMULATORROLE0001"}});
  serve_role(r.imds, 2);
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(api.stats().credential_fetches == 2);
  auto s = r.aws.stats();
  CHECK(s["access_keys"]["ASIAEMULATORROLE0001"] == 2);
  CHECK(s["access_keys"]["ASIAEMULATORROLE0002"] == 1);
  CHECK(r.retries.empty());  // a refresh is not a retry
}

TEST_CASE("instance-profile credentials are refreshed before they expire") {
  Rig r;
  const auto exp = std::chrono::floor<std::chrono::seconds>(r.wall_start + 10min);
  const std::string exp_text =
      fmt::format("{:%Y-%m-%dT%H:%M:%S}Z", fmt::gmtime(std::chrono::system_clock::to_time_t(exp)));
  serve_role(r.imds, 1, exp_text);
  auto api = r.api();
  REQUIRE(api.describe_cluster(r.where(), "my-cluster"));
  r.clock.advance(4min);  // 6 min left: still good
  REQUIRE(api.describe_cluster(r.where(), "my-cluster"));
  CHECK(api.stats().credential_fetches == 1);
  serve_role(r.imds, 2);
  r.clock.advance(2min);  // 4 min left: inside the 5 min margin
  REQUIRE(api.describe_cluster(r.where(), "my-cluster"));
  CHECK(api.stats().credential_fetches == 2);
  CHECK(r.aws.stats()["access_keys"]["ASIAEMULATORROLE0002"] == 1);
}

TEST_CASE("DescribeInstanceTypes pages through the region with NextToken") {
  Rig r;
  r.static_credentials();
  r.aws.control({{"action", "set_instance_types"},
                 {"types", nlohmann::json::parse(R"([
                   {"instanceType":"a.large","vcpus":2,"maxEnis":3,"ipv4PerEni":10,"ipv6PerEni":10,"hypervisor":"nitro","bareMetal":false,"cards":[3],"defaultCard":0},
                   {"instanceType":"b.large","vcpus":2,"maxEnis":3,"ipv4PerEni":10,"ipv6PerEni":10,"hypervisor":"xen","bareMetal":false,"cards":[3],"defaultCard":0},
                   {"instanceType":"c.large","vcpus":2,"maxEnis":3,"ipv4PerEni":10,"ipv6PerEni":10,"hypervisor":"nitro","bareMetal":false,"cards":[3],"defaultCard":0},
                   {"instanceType":"d.metal","vcpus":96,"maxEnis":15,"ipv4PerEni":50,"ipv6PerEni":50,"hypervisor":"","bareMetal":true,"cards":[7,8],"defaultCard":1},
                   {"instanceType":"e.large","vcpus":2,"maxEnis":3,"ipv4PerEni":10,"ipv6PerEni":10,"hypervisor":"nitro","bareMetal":false,"cards":[3],"defaultCard":0}
                 ])")},
                 {"page_size", 2}});
  auto api = r.api();
  std::vector<std::string> names;
  std::string token;
  int pages = 0;
  do {
    auto page = api.describe_instance_types(r.where(), {}, token, 100);
    REQUIRE_MESSAGE(page, (page ? "" : page.error().message));
    for (const auto& t : page->types) names.push_back(t.instance_type);
    if (!page->types.empty() && page->types.back().instance_type == "d.metal") {
      CHECK(page->types.back().default_card_max_enis == 8);
      CHECK(page->types.back().bare_metal);
      CHECK(page->types.back().hypervisor.empty());
    }
    token = page->next_token;
    ++pages;
  } while (!token.empty() && pages < 10);
  CHECK(pages == 3);
  CHECK(names == std::vector<std::string>{"a.large", "b.large", "c.large", "d.metal", "e.large"});
}

TEST_CASE("an unknown instance type is 'not found'") {
  Rig r;
  r.static_credentials();
  auto api = r.api();
  auto page = api.describe_instance_types(r.where(), {"zz9.plural"}, "", 100);
  REQUIRE_FALSE(page);
  CHECK(agent::is_aws_not_found(page.error()));
  CHECK(contains(page.error().message, "instance type 'zz9.plural'"));
}

TEST_CASE("the proxy carries API requests when HTTP(S)_PROXY says so, and NO_PROXY exempts hosts") {
  Rig r;
  r.static_credentials();
  // An endpoint host that does not resolve: only the proxy (the emulator) can reach it.
  r.options.env.endpoint_url = "http://eks.emulated.invalid";
  r.options.env.http_proxy = r.aws.endpoint();
  {
    auto api = r.api();
    auto c = api.describe_cluster(r.where(), "my-cluster");
    REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
    CHECK(r.aws.stats()["proxied"] == 1);
    CHECK(r.aws.stats()["signature_ok"] == 1);
  }
  r.options.env.no_proxy = "localhost,.emulated.invalid";
  r.options.retry = agent::aws_retry_policy(0);
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(contains(c.error().message, "resolve"));
  CHECK(r.aws.stats()["proxied"] == 1);
}

TEST_CASE("set_environment: a proxy given after construction carries the next call") {
  Rig r;
  r.static_credentials();
  r.options.env.endpoint_url = "http://eks.emulated.invalid";  // reachable only through the proxy
  r.options.retry = agent::aws_retry_policy(0);
  auto api = r.api();
  auto direct = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(direct);
  CHECK(r.aws.stats()["proxied"] == 0);
  agent::aws::AwsEnv env = r.options.env;
  env.http_proxy = r.aws.endpoint();
  api.set_environment(env);
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_MESSAGE(c, (c ? "" : c.error().message));
  CHECK(r.aws.stats()["proxied"] == 1);
  CHECK(r.aws.stats()["signature_ok"] == 1);
}

TEST_CASE("a refused connection is retried up to the attempts and then reported") {
  Rig r;
  r.static_credentials();
  r.options.env.endpoint_url = "http://127.0.0.1:1";
  r.options.retry = agent::aws_retry_policy(2);
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::AwsApi);
  CHECK(contains(c.error().message, "failed 3 time(s)"));
  CHECK(api.stats().requests == 3);
}

// A loopback port whose accept queue is full: the kernel drops further SYNs, so a connection
// neither opens nor fails (a black-holed endpoint, as nodeadm's e2e makes one).
struct BlackHole {
  int listener = -1;
  std::vector<int> fillers;
  int port = 0;
  BlackHole() {
    listener = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(bind(listener, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    REQUIRE(listen(listener, 0) == 0);
    socklen_t len = sizeof a;
    getsockname(listener, reinterpret_cast<sockaddr*>(&a), &len);
    port = ntohs(a.sin_port);
    for (int i = 0; i < 3; ++i) {
      int c = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK, 0);
      connect(c, reinterpret_cast<sockaddr*>(&a), sizeof a);
      fillers.push_back(c);
    }
  }
  ~BlackHole() {
    for (int c : fillers) close(c);
    close(listener);
  }
};

TEST_CASE("a black-holed endpoint: the connect timeout ends each attempt, and the error says so") {
  BlackHole hole;
  Rig r;
  r.static_credentials();
  r.options.env.endpoint_url = fmt::format("http://127.0.0.1:{}", hole.port);
  r.options.connect_timeout = 300ms;
  r.options.request_timeout = 5s;
  r.options.retry = agent::aws_retry_policy(0);
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "my-cluster");
  REQUIRE_FALSE(c);
  // Said only when no connection opened and the request's own 5 s had not run out.
  CHECK(contains(c.error().message, "could not connect within 300 ms"));
  CHECK(contains(c.error().message, "failed 1 time(s)"));
}

TEST_CASE("a malformed cluster name never reaches the network") {
  Rig r;
  r.static_credentials();
  auto api = r.api();
  auto c = api.describe_cluster(r.where(), "../x");
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::Invalid);
  CHECK_FALSE(api.curl_loaded());
}

TEST_CASE("a request body over 1 KiB is signed correctly too (no Expect header games)") {
  Rig r;
  serve_role(r.imds, 1);
  auto api = r.api();
  // A 3 KiB NextToken: the emulator checks the signature first, then rejects the token itself.
  auto page = api.describe_instance_types(r.where(), {}, std::string(3000, 'A'), 100);
  REQUIRE_FALSE(page);
  CHECK(contains(page.error().message, "InvalidParameterValue"));
  auto s = r.aws.stats();
  CHECK(s["signature_ok"] == 1);
  CHECK(s["signature_failed"] == 0);
  // The session token is part of the signature.
  CHECK(s["tokens_signed"] == 1);
  const auto signed_headers = s["signed_headers"].get<std::vector<std::string>>();
  CHECK(std::find(signed_headers.begin(), signed_headers.end(), "x-amz-security-token") != signed_headers.end());
  CHECK(std::find(signed_headers.begin(), signed_headers.end(), "host") != signed_headers.end());
}
