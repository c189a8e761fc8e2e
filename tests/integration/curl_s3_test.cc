// CurlS3 against the loopback S3 emulator: real HTTP, libcurl's SigV4 signature checked by
// botocore in the emulator, retries on a manual clock, credentials from the environment or a fake
// IMDS, anonymous requests when there are none.
#include "agent/platform/curl_s3.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "tests/integration/s3_fixture.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"

using agent::CancelToken;
using agent::Errc;
using agent::platform::CurlS3;
using agent::test::S3Emulator;
using agent::testing::FakeImds;
using agent::testing::ManualClock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kBucket = "amazon-eks";
constexpr const char* kPrivate = "private-bucket";
constexpr const char* kKey = "1.30.4/2024-07-10/bin/linux/amd64/kubelet";
constexpr const char* kRole = "eks-node-role";
constexpr const char* kCredsPath = "latest/meta-data/iam/security-credentials/";

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

void serve_role(FakeImds& imds, int n) {
  imds.set(kCredsPath, kRole);
  imds.set(std::string(kCredsPath) + kRole,
           nlohmann::json{
               {"Code", "Success"},
               {"AccessKeyId", "ASIAEMULATORROLE000" + std::to_string(n)},
               {"SecretAccessKey", "role-secret-key-0000000000000000000000000" + std::to_string(n)},
               {"Token", "role-session-token-" + std::to_string(n)},
               {"Expiration", "2099-01-01T00:00:00Z"}}
               .dump());
}

// Everything a test needs: emulator, fake IMDS (no instance profile unless served), manual clock,
// and options pointed at the emulator.
struct Rig {
  S3Emulator s3;
  FakeImds imds;
  ManualClock clock;
  std::chrono::steady_clock::time_point steady_start = clock.now();
  std::chrono::system_clock::time_point wall_start = std::chrono::system_clock::now();
  std::vector<std::string> retries;
  std::vector<std::string> notices;
  CurlS3::Options options;

  explicit Rig(std::vector<std::string> args = {"--private-bucket", kPrivate})
      : s3(std::move(args)) {
    options.bucket = kBucket;
    options.region = "us-west-2";
    options.endpoint_url_s3 = s3.endpoint();
    options.jitter_seed = 7;
    options.on_retry = [this](const std::string& op, int attempt, std::chrono::milliseconds,
                              const std::string& why) {
      retries.push_back(op + " " + std::to_string(attempt) + " " + why);
    };
    options.on_notice = [this](const std::string& text) { notices.push_back(text); };
  }
  CurlS3 store(const CancelToken* cancel = nullptr) {
    return CurlS3(
        options, imds, clock,
        [this] {
          return wall_start + std::chrono::duration_cast<std::chrono::system_clock::duration>(
                                  clock.now() - steady_start);
        },
        cancel);
  }
  void static_credentials() {
    options.env.access_key_id = "AKIAEMULATORSTATIC01";
    options.env.secret_access_key = "static-secret-key-0000000000000000000000";
  }
};

}  // namespace

TEST_CASE("an anonymous GET fetches an object from a public bucket") {
  Rig r;
  r.s3.put(kBucket, kKey, "#!/bin/sh\necho kubelet\n");
  r.options.anonymous = true;
  auto store = r.store();
  CHECK_FALSE(store.curl_loaded());
  CHECK(store.url_of(kKey) == std::string("s3://amazon-eks/") + kKey);
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(*body == "#!/bin/sh\necho kubelet\n");
  CHECK(store.curl_loaded());
  auto s = r.s3.stats();
  CHECK(s["anonymous"] == 1);
  CHECK(s["signature_ok"] == 0);
  CHECK(s["by_key"][std::string("amazon-eks/") + kKey] == 1);
  CHECK(store.stats().anonymous);
  CHECK(store.stats().bytes == body->size());
  CHECK(r.imds.calls().empty());  // anonymous by request: no credential look-up
  CHECK(r.notices.empty());       // and nothing to explain
}

TEST_CASE("a signed GET from a private bucket passes botocore's S3 signature check") {
  Rig r;
  r.s3.put(kPrivate, kKey, "private bytes");
  r.static_credentials();
  r.options.bucket = kPrivate;
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(*body == "private bytes");
  auto s = r.s3.stats();
  CHECK(s["signature_ok"] == 1);
  CHECK(s["signature_failed"] == 0);
  CHECK(s["anonymous"] == 0);
  CHECK(s["access_keys"]["AKIAEMULATORSTATIC01"] == 1);
  // libcurl 7.88 does not add S3's x-amz-content-sha256; the adapter sends it, signed.
  CHECK(s["content_sha256"][0] ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  const auto signed_headers = s["signed_headers"].get<std::vector<std::string>>();
  CHECK(std::find(signed_headers.begin(), signed_headers.end(), "x-amz-content-sha256") !=
        signed_headers.end());
  CHECK_FALSE(store.stats().anonymous);
  CHECK(r.imds.calls().empty());  // environment credentials: no IMDS
}

TEST_CASE("instance-profile credentials sign S3 requests with their session token") {
  Rig r;
  serve_role(r.imds, 1);
  r.s3.put(kPrivate, kKey, "x");
  r.s3.put(kPrivate, "second", "y");
  r.options.bucket = kPrivate;
  auto store = r.store();
  REQUIRE(store.get(kKey, {}));
  REQUIRE(store.get("second", {}));
  auto s = r.s3.stats();
  CHECK(s["signature_ok"] == 2);
  CHECK(s["tokens_signed"] == 2);
  CHECK(s["access_keys"]["ASIAEMULATORROLE0001"] == 2);
  CHECK(store.stats().credential_fetches == 1);  // cached for the second object
}

TEST_CASE("a key that needs percent-encoding is sent and signed as S3 expects") {
  Rig r;
  const std::string key = "odd keys/with space+plus=eq&amp~tilde";
  r.s3.put(kPrivate, key, "odd");
  r.static_credentials();
  r.options.bucket = kPrivate;
  auto store = r.store();
  auto body = store.get(key, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(*body == "odd");
  CHECK(r.s3.stats()["signature_failed"] == 0);
  CHECK(r.s3.stats()["by_key"]["private-bucket/" + key] == 1);
}

TEST_CASE("without any credentials the store says so once and goes anonymous") {
  Rig r;  // no environment keys, and the fake IMDS has no instance profile (404)
  r.s3.put(kBucket, kKey, "public");
  r.s3.put(kBucket, "other", "public too");
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(*body == "public");
  REQUIRE(store.get("other", {}));
  REQUIRE(r.notices.size() == 1);
  CHECK(contains(r.notices[0], "no AWS credentials"));
  CHECK(contains(r.notices[0], "anonymous"));
  CHECK(contains(r.notices[0], "s3://amazon-eks"));
  CHECK(r.imds.calls().size() == 1);  // asked once, not for every object
  CHECK(r.s3.stats()["anonymous"] == 2);
  CHECK(store.stats().anonymous);
}

TEST_CASE("IMDS that cannot be reached also means anonymous requests") {
  Rig r;
  r.imds.fail(kCredsPath, agent::make_error(Errc::Unavailable, "connection refused"));
  r.s3.put(kBucket, kKey, "public");
  auto store = r.store();
  REQUIRE(store.get(kKey, {}));
  REQUIRE(r.notices.size() == 1);
  CHECK(contains(r.notices[0], "connection refused"));
}

TEST_CASE("half-set environment keys are an error, not a reason to go anonymous") {
  Rig r;
  r.options.env.access_key_id = "AKIAEMULATORSTATIC01";
  r.s3.put(kBucket, kKey, "public");
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::Invalid);
  CHECK(r.notices.empty());
  CHECK(r.s3.stats()["requests"] == 0);
}

TEST_CASE(
    "an anonymous request to a private bucket is denied, naming s3:GetObject and the object") {
  Rig r;
  r.s3.put(kPrivate, kKey, "secret");
  r.options.bucket = kPrivate;
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "s3:GetObject"));
  CHECK(contains(body.error().message, std::string("arn:aws:s3:::private-bucket/") + kKey));
  CHECK(contains(body.error().message, "anonymous"));
  CHECK(contains(body.error().message, "AccessDenied"));
  CHECK(contains(body.error().message, "instance profile"));  // why it went unsigned
  CHECK(store.stats().requests == 1);                         // final, not retried
}

TEST_CASE("a denial for signed requests names the credentials' source and the partition's ARN") {
  Rig r({"--private-bucket", kPrivate, "--region", "cn-north-1"});
  r.static_credentials();
  r.options.bucket = kPrivate;
  r.options.region = "cn-north-1";
  r.options.domain = "amazonaws.com.cn";
  r.s3.control({{"action", "fault"}, {"key", kKey}, {"status", 403}, {"code", "AccessDenied"}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message,
                 "the credentials from environment lack s3:GetObject on "
                 "arn:aws-cn:s3:::private-bucket/" +
                     std::string(kKey)));
  CHECK(r.s3.stats()["signature_ok"] == 1);
}

TEST_CASE("a missing object is NotFound naming its s3:// URL, and is not retried") {
  Rig r;
  r.options.anonymous = true;
  r.s3.put(kBucket, "1.30.4/2024-07-10/bin/linux/amd64/kubectl",
           "another object: the bucket exists");
  auto store = r.store();
  auto body = store.get("1.99.0/2099-01-01/bin/linux/amd64/kubelet", {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::NotFound);
  CHECK(
      contains(body.error().message, "s3://amazon-eks/1.99.0/2099-01-01/bin/linux/amd64/kubelet"));
  CHECK(contains(body.error().message, "NoSuchKey"));
  CHECK(store.stats().requests == 1);
  CHECK(r.retries.empty());

  r.s3.put(kBucket, kKey, "here");
  REQUIRE(store.get(kKey, {}));
  r.s3.control({{"action", "missing"}, {"bucket", kBucket}, {"key", kKey}});
  auto hidden = store.get(kKey, {});
  REQUIRE_FALSE(hidden);
  CHECK(hidden.error().code == Errc::NotFound);
}

TEST_CASE("a bucket that does not exist is an AWS API error naming it") {
  Rig r;
  r.options.anonymous = true;
  r.options.bucket = "no-such-bucket";
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "S3 bucket 'no-such-bucket' does not exist"));
}

TEST_CASE("signing for the wrong region names the bucket's region") {
  Rig r;
  r.static_credentials();
  r.options.region = "us-east-1";  // the emulator is us-west-2
  r.s3.put(kBucket, kKey, "x");
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message,
                 "S3 bucket 'amazon-eks' is not in us-east-1 but in us-west-2"));
}

TEST_CASE("503 SlowDown twice, then the object") {
  Rig r;
  r.options.anonymous = true;
  r.s3.put(kBucket, kKey, "after the slowdown");
  r.s3.control(
      {{"action", "fault"}, {"key", kKey}, {"status", 503}, {"code", "SlowDown"}, {"count", 2}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(*body == "after the slowdown");
  CHECK(store.stats().requests == 3);
  CHECK(store.stats().throttled == 2);
  REQUIRE(r.retries.size() == 2);
  CHECK(contains(r.retries[0], "GetObject 1 HTTP 503 SlowDown"));
  CHECK(contains(r.retries[1], "GetObject 2 HTTP 503 SlowDown"));
  CHECK(r.clock.sleeps().size() == 2);  // backoff on the manual clock
}

TEST_CASE("5xx answers use up the attempts and the message counts them") {
  Rig r;
  r.options.anonymous = true;
  r.options.retry = agent::aws_retry_policy(2);  // 3 attempts
  r.s3.put(kBucket, kKey, "x");
  r.s3.control({{"action", "fault"}, {"key", "*"}, {"status", 500}, {"code", "InternalError"}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "GetObject for s3://amazon-eks/"));
  CHECK(contains(body.error().message, "failed 3 time(s)"));
  CHECK(contains(body.error().message, "HTTP 500 InternalError"));
  CHECK(store.stats().requests == 3);
}

TEST_CASE("throttling stops at the deadline") {
  Rig r;
  r.options.anonymous = true;
  r.options.deadline = r.clock.now() + 20s;
  r.s3.put(kBucket, kKey, "x");
  r.s3.control({{"action", "fault"}, {"key", "*"}, {"status", 503}, {"code", "SlowDown"}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "the next retry would pass the deadline"));
  CHECK(store.stats().requests > 4);  // throttling is not limited by the attempts
}

TEST_CASE("a refused connection is retried and then reported") {
  Rig r;
  r.options.anonymous = true;
  r.options.endpoint_url_s3 = "http://127.0.0.1:1";
  r.options.retry = agent::aws_retry_policy(1);
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "failed 2 time(s)"));
  CHECK(store.stats().requests == 2);
}

TEST_CASE("progress sees the bytes grow to the total") {
  Rig r;
  r.options.anonymous = true;
  constexpr std::uint64_t kSize = 3u << 20;
  r.s3.control({{"action", "put"}, {"bucket", kBucket}, {"key", kKey}, {"size", kSize}});
  r.s3.control({{"action", "slow"}, {"key", kKey}, {"chunk_bytes", 256 * 1024}, {"chunk_ms", 20}});
  std::vector<std::pair<std::uint64_t, std::uint64_t>> seen;
  agent::FetchProgress progress = [&](std::uint64_t got, std::uint64_t total) {
    seen.emplace_back(got, total);
  };
  auto store = r.store();
  auto body = store.get(kKey, progress);
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(body->size() == kSize);
  REQUIRE(seen.size() >= 3);
  for (size_t i = 1; i < seen.size(); ++i) CHECK(seen[i].first > seen[i - 1].first);
  for (const auto& [got, total] : seen) CHECK(total == kSize);
  CHECK(seen.back().first == kSize);
}

TEST_CASE("an error document is not reported as download progress") {
  Rig r;
  r.options.anonymous = true;
  int calls = 0;
  agent::FetchProgress progress = [&](std::uint64_t, std::uint64_t) { ++calls; };
  auto store = r.store();
  REQUIRE_FALSE(store.get(kKey, progress));
  CHECK(calls == 0);
}

TEST_CASE("an empty object is an empty string") {
  Rig r;
  r.options.anonymous = true;
  r.s3.put(kBucket, "empty", "");
  std::vector<std::uint64_t> seen;
  auto store = r.store();
  auto body = store.get("empty", [&](std::uint64_t got, std::uint64_t) { seen.push_back(got); });
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(body->empty());
  CHECK(seen == std::vector<std::uint64_t>{0});
}

TEST_CASE("an object over the cap is refused from its Content-Length") {
  Rig r;
  r.options.anonymous = true;
  r.options.max_object_bytes = 1000;
  r.s3.control({{"action", "put"}, {"bucket", kBucket}, {"key", kKey}, {"size", 5000}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "over 1000 bytes"));
  CHECK(store.stats().requests == 1);  // not retried
}

TEST_CASE("cancellation stops a download that is waiting for its answer") {
  Rig r;
  r.options.anonymous = true;
  r.s3.put(kBucket, kKey, "late");
  r.s3.control({{"action", "delay"}, {"ms", 5000}});
  CancelToken cancel;
  auto store = r.store(&cancel);
  std::thread canceller([&] {
    std::this_thread::sleep_for(300ms);
    cancel.cancel(SIGTERM);
  });
  const auto started = std::chrono::steady_clock::now();
  auto body = store.get(kKey, {});
  const auto took = std::chrono::steady_clock::now() - started;
  canceller.join();
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::Interrupted);
  CHECK(contains(body.error().message, "interrupted by SIGTERM during GetObject s3://amazon-eks/"));
  CHECK(took < 2500ms);  // libcurl calls the progress callback at least once a second
}

TEST_CASE("cancellation stops a download in the middle of its body") {
  Rig r;
  r.options.anonymous = true;
  r.s3.control({{"action", "put"}, {"bucket", kBucket}, {"key", kKey}, {"size", 8u << 20}});
  r.s3.control({{"action", "slow"}, {"key", kKey}, {"chunk_bytes", 64 * 1024}, {"chunk_ms", 50}});
  CancelToken cancel;
  std::atomic<std::uint64_t> last{0};
  auto store = r.store(&cancel);
  auto body = store.get(kKey, [&](std::uint64_t got, std::uint64_t) {
    last = got;
    if (got >= 256 * 1024) cancel.cancel(SIGINT);
  });
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::Interrupted);
  CHECK(contains(body.error().message, "SIGINT"));
  CHECK(last < (8u << 20));
}

TEST_CASE("a stalled download is cut off and retried") {
  Rig r;
  r.options.anonymous = true;
  r.options.stall_timeout = 1s;
  r.options.retry = agent::aws_retry_policy(1);  // 2 attempts
  r.s3.control({{"action", "put"}, {"bucket", kBucket}, {"key", kKey}, {"size", 200000}});
  r.s3.control({{"action", "slow"},
                {"key", kKey},
                {"chunk_bytes", 65536},
                {"chunk_ms", 0},
                {"stall_after", 100000},
                {"count", 1}});
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(body->size() == 200000);
  CHECK(store.stats().requests == 2);
  REQUIRE(r.retries.size() == 1);
  CHECK(contains(r.retries[0], "stalled"));
}

TEST_CASE("credentials that expired under the store are fetched again once") {
  Rig r;
  serve_role(r.imds, 1);
  r.options.bucket = kPrivate;
  r.s3.put(kPrivate, kKey, "x");
  auto store = r.store();
  REQUIRE(store.get(kKey, {}));
  r.s3.control({{"action", "expire_credentials"}, {"access_key_id", "ASIAEMULATORROLE0001"}});
  serve_role(r.imds, 2);
  auto body = store.get(kKey, {});
  REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
  CHECK(store.stats().credential_fetches == 2);
  auto s = r.s3.stats();
  CHECK(s["access_keys"]["ASIAEMULATORROLE0001"] == 2);
  CHECK(s["access_keys"]["ASIAEMULATORROLE0002"] == 1);
  CHECK(r.retries.empty());  // a refresh is not a retry
  CHECK(r.notices.empty());
}

TEST_CASE("a wrong secret is refused by the verifier and named as the environment's") {
  Rig r;
  r.options.env.access_key_id = "AKIAEMULATORSTATIC01";
  r.options.env.secret_access_key = "not-the-secret";
  r.s3.put(kBucket, kKey, "x");
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::AwsApi);
  CHECK(contains(body.error().message, "S3 rejected the credentials from environment"));
  CHECK(contains(body.error().message, "SignatureDoesNotMatch"));
  CHECK(r.s3.stats()["signature_failed"] == 1);
}

TEST_CASE("AWS_ENDPOINT_URL_S3 wins over AWS_ENDPOINT_URL, and a bad one is Invalid") {
  Rig r;
  r.options.anonymous = true;
  r.options.env.endpoint_url = "http://127.0.0.1:1";
  r.s3.put(kBucket, kKey, "x");
  {
    auto store = r.store();
    REQUIRE(store.get(kKey, {}));
  }
  r.options.endpoint_url_s3.reset();
  r.options.env.endpoint_url = r.s3.endpoint();  // AWS_ENDPOINT_URL alone serves S3 too
  {
    auto store = r.store();
    REQUIRE(store.get(kKey, {}));
  }
  r.options.endpoint_url_s3 = "s3.example.com";
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(body.error().code == Errc::Invalid);
  CHECK(contains(body.error().message, "AWS_ENDPOINT_URL_S3"));
  CHECK_FALSE(store.curl_loaded());
}

TEST_CASE("the proxy carries S3 requests when HTTP_PROXY says so, and NO_PROXY exempts the host") {
  Rig r;
  r.static_credentials();
  r.s3.put(kBucket, kKey, "via proxy");
  // A host that does not resolve: only the proxy (the emulator) can reach it.
  r.options.endpoint_url_s3 = "http://s3.emulated.invalid";
  r.options.env.http_proxy = r.s3.endpoint();
  {
    auto store = r.store();
    auto body = store.get(kKey, {});
    REQUIRE_MESSAGE(body, (body ? "" : body.error().message));
    CHECK(*body == "via proxy");
    CHECK(r.s3.stats()["proxied"] == 1);
    CHECK(r.s3.stats()["signature_ok"] == 1);
  }
  r.options.env.no_proxy = ".emulated.invalid";
  r.options.retry = agent::aws_retry_policy(0);
  auto store = r.store();
  auto body = store.get(kKey, {});
  REQUIRE_FALSE(body);
  CHECK(contains(body.error().message, "resolve"));
  CHECK(r.s3.stats()["proxied"] == 1);
}

TEST_CASE("files under --root are served, and a corrupted checksum can be asked for") {
  const std::filesystem::path dir =
      std::filesystem::temp_directory_path() / ("s3-release-" + std::to_string(getpid()));
  std::filesystem::remove_all(dir);
  const std::string make =
      "/usr/bin/python3 " + S3Emulator::script_path() + " --make-release " + dir.string() +
      " --bucket amazon-eks --version 1.30.4 --build-date 2024-07-10 --arch amd64 >/dev/null";
  REQUIRE(std::system(make.c_str()) == 0);
  const std::filesystem::path bin = dir / "amazon-eks/1.30.4/2024-07-10/bin/linux/amd64";
  for (const char* tool :
       {"kubelet", "kubectl", "ecr-credential-provider", "aws-iam-authenticator"}) {
    CHECK(std::filesystem::exists(bin / tool));
    CHECK(std::filesystem::exists(bin / (std::string(tool) + ".sha256")));
  }
  const std::string verify = "cd " + bin.string() +
                             " && sha256sum --quiet -c kubelet.sha256 kubectl.sha256 "
                             "ecr-credential-provider.sha256 aws-iam-authenticator.sha256";
  CHECK(std::system(verify.c_str()) == 0);
  const std::string version =
      "sh " + (bin / "kubelet").string() + " --version | grep -q '^Kubernetes v1.30.4-eks-'";
  CHECK(std::system(version.c_str()) == 0);
  {
    Rig r({"--root", dir.string()});
    r.options.anonymous = true;
    auto store = r.store();
    auto kubelet = store.get(kKey, {});
    REQUIRE_MESSAGE(kubelet, (kubelet ? "" : kubelet.error().message));
    std::ifstream in(bin / "kubelet", std::ios::binary);
    std::stringstream on_disk;
    on_disk << in.rdbuf();
    CHECK(*kubelet == on_disk.str());
    auto sum = store.get(std::string(kKey) + ".sha256", {});
    REQUIRE(sum);
    CHECK(contains(*sum, "  kubelet\n"));
    r.s3.control({{"action", "corrupt_checksum"}, {"bucket", kBucket}, {"key", kKey}});
    auto bad = store.get(std::string(kKey) + ".sha256", {});
    REQUIRE(bad);
    CHECK(contains(*bad, "  kubelet\n"));
    CHECK(*bad != *sum);
  }
  std::filesystem::remove_all(dir);
}

TEST_CASE("get_to streams the body in pieces, and a retried download starts the sink again") {
  Rig r;
  r.options.anonymous = true;
  r.options.stall_timeout = 1s;
  r.options.retry = agent::aws_retry_policy(1);  // 2 attempts
  r.s3.control({{"action", "put"}, {"bucket", kBucket}, {"key", kKey}, {"size", 200000}});
  // The same bytes through get(), for comparison.
  auto whole = r.store().get(kKey, {});
  REQUIRE(whole);
  r.s3.control({{"action", "slow"},
                {"key", kKey},
                {"chunk_bytes", 65536},
                {"chunk_ms", 0},
                {"stall_after", 100000},
                {"count", 1}});
  auto store = r.store();
  std::string sunk;
  int pieces = 0, restarts = 0;
  const agent::ObjectStore::Sink sink{.write = [&](std::string_view p) -> agent::Status {
                                        sunk.append(p);
                                        ++pieces;
                                        return {};
                                      },
                                      .restart = [&]() -> agent::Status {
                                        sunk.clear();
                                        ++restarts;
                                        return {};
                                      }};
  auto st = store.get_to(kKey, sink, {});
  REQUIRE_MESSAGE(st, (st ? "" : st.error().message));
  CHECK(sunk == *whole);  // the stalled attempt's first 100000 bytes were thrown away
  CHECK(restarts == 2);   // before each attempt
  CHECK(pieces > 2);
  CHECK(store.stats().bytes == 200000);
}

TEST_CASE("an error from the sink ends get_to with that error, not retried") {
  Rig r;
  r.options.anonymous = true;
  r.s3.put(kBucket, kKey, "bytes that cannot be written");
  auto store = r.store();
  const agent::ObjectStore::Sink sink{
      .write = [](std::string_view) -> agent::Status {
        return agent::make_error(Errc::Io, "writing /usr/bin/.kubelet.tmp: No space left on device");
      },
      .restart = []() -> agent::Status { return {}; }};
  auto st = store.get_to(kKey, sink, {});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::Io);
  CHECK(contains(st.error().message, "No space left on device"));
  CHECK(store.stats().requests == 1);
}
