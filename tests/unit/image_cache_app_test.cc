// Build mode's image cache step (agent/app/image_cache) against the scripted FakeAwsApi and a
// recording "run in image": the order of AWS calls and ctr commands, the registry password kept out
// of every message, containerd missing, pulls retried then failing, an ECR access denial.
#include "agent/app/image_cache.h"

#include <doctest/doctest.h>
#include <fmt/format.h>
#include <fmt/ranges.h>

#include <functional>
#include <string>
#include <vector>

#include "agent/aws/protocol.h"
#include "tests/support/fake_aws_api.h"
#include "tests/support/manual_clock.h"

using agent::AwsWhere;
using agent::EcrAuthorization;
using agent::Errc;
using agent::Result;
using agent::Secret;
using agent::app::cache_container_images;
using agent::app::ImageCacheRequest;
using agent::testing::addon_version;
using agent::testing::FakeAwsApi;
using agent::testing::ManualClock;
using namespace std::chrono_literals;
namespace c = agent::compute;

namespace {

constexpr const char* kPassword = "ecr-secret-password-0123456789";
const std::string kUsw2 = "602401143452.dkr.ecr.us-west-2.amazonaws.com";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// "pull" / "tag" for `ctr --namespace k8s.io images VERB ...`, "" otherwise.
std::string verb(const std::vector<std::string>& argv) { return argv.size() > 4 ? argv[4] : ""; }

// Runs nothing; records each argv and answers from `fail` (nullopt: success, "").
struct RecordingRunner {
  std::vector<std::vector<std::string>> commands;
  std::function<std::optional<agent::Error>(const std::vector<std::string>&)> fail;

  Result<std::string> operator()(const std::vector<std::string>& argv) {
    commands.push_back(argv);
    if (fail) {
      if (auto e = fail(argv)) return *e;
    }
    return std::string(argv.size() > 1 && argv[1] == "version" ? "Client: v1.7.11\nServer: v1.7.11\n" : "");
  }
  std::vector<std::string> lines() const {
    std::vector<std::string> out;
    for (const auto& a : commands) out.push_back(fmt::format("{}", fmt::join(a, " ")));
    return out;
  }
  int count(const std::string& what) const {
    int n = 0;
    for (const auto& a : commands) n += a.size() > 4 && a[4] == what;
    return n;
  }
};

struct Rig {
  FakeAwsApi aws;
  ManualClock clock;
  RecordingRunner runner;
  std::vector<std::string> progress;
  ImageCacheRequest request{.kubernetes_version = "1.30.2", .pause_container_version = "3.5"};

  Rig() {
    aws.addon_versions["kube-proxy"] = {addon_version("kube-proxy", "v1.30.0-eksbuild.3", "1.30", true),
                                        addon_version("kube-proxy", "v1.30.3-eksbuild.10", "1.30")};
    aws.addon_versions["vpc-cni"] = {addon_version("vpc-cni", "v1.18.3-eksbuild.2", "1.30", true)};
    aws.regions = {std::vector<std::string>{"us-west-2", "us-east-1", "eu-west-1"}};
    aws.ecr_authorizations = {EcrAuthorization{.username = "AWS", .password = Secret(kPassword),
                                               .proxy_endpoint = "https://111122223333.dkr.ecr.us-west-2.amazonaws.com"}};
  }
  AwsWhere where(std::string region = "us-west-2") {
    return AwsWhere{.region = std::move(region), .domain = "amazonaws.com", .deadline = clock.now() + 3600s};
  }
  Result<agent::app::ImageCacheSummary> run(const AwsWhere& w, const agent::CancelToken* cancel = nullptr) {
    return cache_container_images(
        request, aws, w, [this](const std::vector<std::string>& argv) { return runner(argv); }, clock, cancel,
        [this](const std::string& line) { progress.push_back(line); });
  }
  Result<agent::app::ImageCacheSummary> run() { return run(where()); }
  // Nothing the step says or returns holds the password.
  void check_no_secret(const std::string& extra = "") {
    for (const auto& p : progress) CHECK_FALSE(contains(p, kPassword));
    CHECK_FALSE(contains(extra, kPassword));
  }
};

agent::Error failure(const std::string& message) { return agent::Error{Errc::Invalid, message}; }

}  // namespace

TEST_CASE("happy path: containerd checked, versions and regions asked, token fetched, images pulled and tagged") {
  Rig r;
  auto s = r.run();
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  CHECK(r.aws.calls() == std::vector<std::string>{"DescribeAddonVersions kube-proxy 1.30",
                                                  "DescribeAddonVersions vpc-cni 1.30", "DescribeRegions",
                                                  "GetAuthorizationToken"});
  const auto lines = r.runner.lines();
  REQUIRE(lines.size() > 6);
  CHECK(lines[0] == "ctr version");
  const std::string user = std::string("--user AWS:") + kPassword;
  CHECK(lines[1] == "ctr --namespace k8s.io images pull " + user + " " + kUsw2 + "/eks/pause:3.5");
  CHECK(lines[2] == "ctr --namespace k8s.io images pull " + user + " " + kUsw2 + "/eks/kube-proxy:v1.30.0-minimal-eksbuild.3");
  CHECK(lines[3] == "ctr --namespace k8s.io images pull " + user + " " + kUsw2 + "/eks/kube-proxy:v1.30.3-minimal-eksbuild.10");
  CHECK(lines[4] == "ctr --namespace k8s.io images pull " + user + " " + kUsw2 + "/amazon-k8s-cni:v1.18.3-eksbuild.2");
  CHECK(lines[5] == "ctr --namespace k8s.io images pull " + user + " " + kUsw2 + "/amazon-k8s-cni-init:v1.18.3-eksbuild.2");
  CHECK(lines[6] == "ctr --namespace k8s.io images tag --force " + kUsw2 + "/eks/pause:3.5 "
                    "602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.5");
  // Every pull before any tag; tags never carry credentials.
  for (size_t i = 6; i < lines.size(); ++i) {
    CHECK(contains(lines[i], " images tag --force "));
    CHECK_FALSE(contains(lines[i], kPassword));
  }
  CHECK(s->registry == kUsw2);
  CHECK(s->pulled.size() == 5);
  CHECK(r.runner.count("pull") == 5);
  // Hosts per image: eu-west-1, us-east-1 (+ fips), us-west-2's fips = 4.
  CHECK(s->tagged == 5 * 4);
  CHECK(r.runner.count("tag") == 20);
  CHECK(s->regions == 3);
  CHECK(s->pull_retries == 0);
  CHECK(s->diagnostics.empty());
  // The token was asked in the registry's region; everything else in the build region.
  for (const auto& w : r.aws.wheres()) CHECK(w.region == "us-west-2");
  REQUIRE(r.progress.size() == 6);
  CHECK(r.progress[0] == fmt::format("pulled {}/eks/pause:3.5 (1 of 5) in 0.0 s", kUsw2));
  CHECK(r.progress.back() == "tagged 5 image(s) 20 time(s) for 3 region(s)");
  r.check_no_secret();
  // What a log of the commands shows.
  CHECK(fmt::format("{}", fmt::join(c::redacted_argv(r.runner.commands[1]), " ")) ==
        "ctr --namespace k8s.io images pull --user AWS:<redacted> " + kUsw2 + "/eks/pause:3.5");
}

TEST_CASE("the registry login comes from the registry's region when the build region has no registry") {
  Rig r;
  r.aws.regions = {std::vector<std::string>{"xx-newregion-1", "us-west-2"}};
  auto s = r.run(r.where("xx-newregion-1"));
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  REQUIRE(r.aws.wheres().size() == 4);
  CHECK(r.aws.wheres()[0].region == "xx-newregion-1");
  CHECK(r.aws.wheres()[3].region == "us-west-2");  // GetAuthorizationToken
  CHECK(s->registry == kUsw2);
}

TEST_CASE("containerd absent: a clear Unavailable error before any AWS call") {
  SUBCASE("ctr not installed (the caller looked)") {
    Rig r;
    r.request.ctr_installed = false;
    auto s = r.run();
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Unavailable);
    CHECK(contains(s.error().message, "cache_container_images=true needs a running containerd in the image"));
    CHECK(contains(s.error().message, "ctr is not installed"));
    CHECK(contains(s.error().message, "install containerd (containerd_version) or set cache_container_images=false"));
    CHECK(r.runner.commands.empty());
    CHECK(r.aws.calls().empty());
  }
  SUBCASE("ctr not found when run") {
    Rig r;
    r.runner.fail = [](const auto&) { return agent::Error{Errc::NotFound, "ctr: No such file or directory"}; };
    auto s = r.run();
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Unavailable);
    CHECK(contains(s.error().message, "ctr is not installed there (ctr: No such file or directory)"));
    CHECK(r.aws.calls().empty());
  }
  SUBCASE("ctr there, daemon not running") {
    Rig r;
    r.runner.fail = [](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
      if (argv[1] == "version") return failure("ctr failed (status 1): connection refused");
      return std::nullopt;
    };
    auto s = r.run();
    REQUIRE_FALSE(s);
    CHECK(s.error().code == Errc::Unavailable);
    CHECK(contains(s.error().message, "needs a running containerd in the image, and `ctr version` failed"));
    CHECK(contains(s.error().message, "connection refused"));
    CHECK(contains(s.error().message, "or set cache_container_images=false"));
    CHECK(r.runner.commands.size() == 1);
    CHECK(r.aws.calls().empty());
  }
}

TEST_CASE("a failed pull is retried with backoff, then fails naming the image (and never the password)") {
  Rig r;
  const std::string bad = kUsw2 + "/eks/kube-proxy:v1.30.3-minimal-eksbuild.10";
  r.runner.fail = [&](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
    // A tool that echoes its arguments on failure: the step must scrub them.
    if (argv.back() == bad) return failure(fmt::format("ctr failed (status 1): {}: not found", fmt::join(argv, " ")));
    return std::nullopt;
  };
  auto s = r.run();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Unavailable);
  CHECK(contains(s.error().message, "pulling " + bad + " failed 4 time(s)"));
  CHECK(contains(s.error().message, "AWS:<redacted>"));
  CHECK_FALSE(contains(s.error().message, kPassword));
  CHECK(contains(s.error().message, "ecr:BatchGetImage"));
  CHECK(r.runner.count("pull") == 2 + 4);  // pause, default kube-proxy, then 4 attempts
  CHECK(r.runner.count("tag") == 0);       // nothing tagged after a failed pull
  CHECK(r.clock.sleeps().size() == 3);     // backoff between the attempts
  REQUIRE(r.progress.size() == 2 + 3);
  CHECK(contains(r.progress[2], "failed (attempt 1 of 4), retrying in"));
  r.check_no_secret(s.error().message);
}

TEST_CASE("a pull that fails twice and then works is counted and the step goes on") {
  Rig r;
  int failures = 0;
  r.runner.fail = [&](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
    if (argv.back() == kUsw2 + "/eks/pause:3.5" && failures < 2) {
      ++failures;
      return failure("ctr failed (status 1): i/o timeout");
    }
    return std::nullopt;
  };
  auto s = r.run();
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  CHECK(s->pull_retries == 2);
  CHECK(s->pulled.size() == 5);
  CHECK(r.runner.count("pull") == 7);
  // Full jitter inside windows of 2 s and 4 s.
  REQUIRE(r.clock.sleeps().size() == 2);
}

TEST_CASE("AccessDenied on ecr:GetAuthorizationToken is named, and nothing is pulled") {
  Rig r;
  const auto req = agent::aws::ecr_authorization_request("https://api.ecr.us-west-2.amazonaws.com");
  r.aws.ecr_authorizations = {agent::aws::final_error(
      req,
      {400, "AccessDeniedException",
       "User: arn:aws:sts::111122223333:assumed-role/builder/i-0 is not authorized to perform: ecr:GetAuthorizationToken"},
      "us-west-2", "instance profile builder")};
  auto s = r.run();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::AwsApi);
  CHECK(contains(s.error().message, "caching container images: "));
  CHECK(contains(s.error().message, "ecr:GetAuthorizationToken was denied for the credentials from instance profile builder"));
  CHECK(contains(s.error().message, "allow ecr:GetAuthorizationToken"));
  CHECK(r.runner.count("pull") == 0);
  CHECK(r.runner.commands.size() == 1);  // ctr version only
}

TEST_CASE("errors of the other AWS calls stop the step before any pull") {
  Rig r;
  r.aws.fail_addon_versions = agent::Error{Errc::AwsApi, "eks:DescribeAddonVersions was denied for the credentials"};
  auto s = r.run();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::AwsApi);
  CHECK(s.error().message == "caching container images: eks:DescribeAddonVersions was denied for the credentials");
  CHECK(r.aws.calls() == std::vector<std::string>{"DescribeAddonVersions kube-proxy 1.30"});

  Rig r2;
  r2.aws.regions = {agent::Error{Errc::AwsApi, "ec2:DescribeRegions was denied"}};
  auto s2 = r2.run();
  REQUIRE_FALSE(s2);
  CHECK(contains(s2.error().message, "ec2:DescribeRegions"));
  CHECK(r2.runner.count("pull") == 0);
}

TEST_CASE("an add-on EKS does not list is a warning in the summary, not a failure") {
  Rig r;
  r.aws.addon_versions.erase("kube-proxy");
  auto s = r.run();
  REQUIRE_MESSAGE(s, (s ? "" : s.error().message));
  CHECK(s->pulled.size() == 3);
  REQUIRE(s->diagnostics.size() == 1);
  CHECK(s->diagnostics[0].id == "IMAGE_CACHE_NO_ADDON_VERSIONS");
}

TEST_CASE("a failing tag fails the step naming both names") {
  Rig r;
  r.runner.fail = [](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
    if (verb(argv) == "tag" && contains(argv.back(), "eu-west-1")) return failure("ctr failed (status 1): boom");
    return std::nullopt;
  };
  auto s = r.run();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Unavailable);
  CHECK(contains(s.error().message, "tagging " + kUsw2 + "/eks/pause:3.5 as 602401143452.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.5 failed"));
}

TEST_CASE("a cancellation during the backoff stops the step") {
  Rig r;
  agent::CancelToken cancel;
  r.runner.fail = [&](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
    if (verb(argv) == "pull") {
      cancel.cancel(SIGTERM);
      return failure("ctr failed (status 1)");
    }
    return std::nullopt;
  };
  auto s = r.run(r.where(), &cancel);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Interrupted);
  CHECK(contains(s.error().message, "SIGTERM"));
  CHECK(r.runner.count("pull") == 1);
}

TEST_CASE("the deadline bounds the pulls") {
  Rig r;
  auto w = r.where();
  w.deadline = r.clock.now() + 5s;
  r.runner.fail = [&](const std::vector<std::string>& argv) -> std::optional<agent::Error> {
    if (verb(argv) == "pull") r.clock.advance(3s);  // each pull takes 3 s
    return std::nullopt;
  };
  auto s = r.run(w);
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Timeout);
  CHECK(contains(s.error().message, "(2 of 5 pulled)"));
}

TEST_CASE("a Kubernetes version without a minor is Invalid before any AWS call") {
  Rig r;
  r.request.kubernetes_version = "latest";
  auto s = r.run();
  REQUIRE_FALSE(s);
  CHECK(s.error().code == Errc::Invalid);
  CHECK(r.aws.calls().empty());
}
