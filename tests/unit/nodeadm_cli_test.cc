// nodeadm's command line (cli/nodeadm_cli.h), its config cache rules (app/nodeadm_config.h,
// reference nodeadm.md 2.6 and 3.1) and the config phase's deferral of containerd and kubelet
// (ApplyOptions::deferred).
#include "agent/cli/nodeadm_cli.h"

#include <doctest/doctest.h>

#include <chrono>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/app/apply.h"
#include "agent/app/nodeadm_config.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_service_manager.h"

using agent::Errc;
using agent::Platform;
using agent::cli::NodeadmCommand;
using agent::cli::parse_nodeadm_args;
using agent::testing::FakeImds;
using agent::testing::MemRootFs;
using Verb = NodeadmCommand::Verb;
using Args = std::vector<std::string>;

namespace {

NodeadmCommand parsed(const Args& args) {
  auto r = parse_nodeadm_args(args);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

std::string usage_error(const Args& args) {
  auto r = parse_nodeadm_args(args);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Usage);
  return r.error().message;
}

std::string doc(const std::string& name) {
  return "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: " + name +
         "\n    apiServerEndpoint: https://example.com\n    certificateAuthority: Y2VydGlmaWNhdGVBdXRob3JpdHk=\n"
         "    cidr: 10.100.0.0/16\n";
}

}  // namespace

TEST_CASE("nodeadm init: repeatable -c/-s/-d, --config-cache, both value forms") {
  NodeadmCommand c = parsed({"init", "-c", "imds://user-data", "--config-source=file:///etc/eks/nodeadm.d/",
                             "--config-cache", "/run/eks/nodeadm/config.json", "-s", "config", "--skip=bogus",
                             "-d", "kubelet", "--daemon=containerd"});
  CHECK(c.verb == Verb::Init);
  CHECK(c.config_sources == Args{"imds://user-data", "file:///etc/eks/nodeadm.d/"});
  CHECK(c.config_cache == "/run/eks/nodeadm/config.json");
  CHECK(c.skip == std::set<std::string>{"config", "bogus"});
  REQUIRE(c.daemons.has_value());
  CHECK(*c.daemons == Args{"kubelet", "containerd"});
  CHECK_FALSE(c.development);
}

TEST_CASE("nodeadm init: --daemon=\"\" selects no daemon, no -d every daemon") {
  NodeadmCommand none = parsed({"init", "--daemon="});
  REQUIRE(none.daemons.has_value());
  CHECK(none.daemons->empty());
  CHECK_FALSE(parsed({"init"}).daemons.has_value());
  const auto o = agent::cli::nodeadm_init_options(none, 30);
  REQUIRE(o.nodeadm.has_value());
  REQUIRE(o.nodeadm->daemons.has_value());
  CHECK(o.nodeadm->daemons->empty());
}

TEST_CASE("nodeadm: -d before the subcommand is --development; --development anywhere") {
  CHECK(parsed({"-d", "init"}).development);
  CHECK(parsed({"--development", "config", "check"}).development);
  NodeadmCommand c = parsed({"init", "--development"});
  CHECK(c.development);
  CHECK_FALSE(c.daemons.has_value());
}

TEST_CASE("nodeadm config check and dump") {
  NodeadmCommand check = parsed({"config", "check", "-c", "file:///x.yaml"});
  CHECK(check.verb == Verb::ConfigCheck);
  CHECK(check.config_sources == Args{"file:///x.yaml"});
  NodeadmCommand dump = parsed({"config", "dump", "--config-cache", "/c.json", "-o", "/tmp/out.json"});
  CHECK(dump.verb == Verb::ConfigDump);
  CHECK(dump.config_cache == "/c.json");
  CHECK(dump.config_output == "/tmp/out.json");
}

TEST_CASE("nodeadm usage errors name the flag or word") {
  CHECK(usage_error({"init", "--bogus"}).find("--bogus") != std::string::npos);
  CHECK(usage_error({"init", "-c"}).find("-c") != std::string::npos);
  CHECK(usage_error({"init", "--config-cache"}).find("--config-cache") != std::string::npos);
  CHECK(usage_error({"frobnicate"}).find("frobnicate") != std::string::npos);
  CHECK(usage_error({"config", "lint"}).find("lint") != std::string::npos);
  // config check has no cache, skip or daemon flag
  CHECK(usage_error({"config", "check", "--config-cache", "/x"}).find("--config-cache") != std::string::npos);
  CHECK(usage_error({"config", "check", "-s", "run"}).find("-s") != std::string::npos);
  CHECK(usage_error({"init", "extra"}).find("extra") != std::string::npos);
  // an option is not a value: `-d --dry-run` is not a real run with a daemon named "--dry-run"
  CHECK(usage_error({"init", "-d", "--dry-run"}).find("--dry-run") != std::string::npos);
  CHECK(usage_error({"init", "--config-cache", "--dry-run"}).find("--config-cache") != std::string::npos);
  CHECK(usage_error({"init", "-c", "-s", "run"}).find("-c") != std::string::npos);
  auto eq = parse_nodeadm_args({"init", "--daemon=--odd"});
  REQUIRE(eq);
  CHECK(*eq->daemons == std::vector<std::string>{"--odd"});
}

TEST_CASE("nodeadm: no subcommand or --help is help") {
  CHECK(parsed({}).verb == Verb::Help);
  CHECK(parsed({"--help"}).verb == Verb::Help);
  NodeadmCommand h = parsed({"init", "--help"});
  CHECK(h.verb == Verb::Help);
  CHECK(h.help_topic == "init");
}

TEST_CASE("nodeadm init options: AL2023, nodeadm flow, default source, unit names, a deadline over the budgets") {
  NodeadmCommand c = parsed({"init", "-s", "run", "-d", "kubelet", "--config-cache", "/run/eks/nodeadm/config.json"});
  const auto o = agent::cli::nodeadm_init_options(c, 30);
  CHECK(o.node.platform == Platform::Al2023);
  CHECK(o.node.nodeadm);
  CHECK(o.config_sources == Args{"imds://user-data"});
  REQUIRE(o.nodeadm.has_value());
  CHECK(o.nodeadm->config);
  CHECK_FALSE(o.nodeadm->run);
  CHECK(o.nodeadm->cache_path == "/run/eks/nodeadm/config.json");
  CHECK(*o.nodeadm->daemons == std::set<std::string>{"kubelet.service"});
  // 30 attempts of 30 s connect timeout each must fit, and more with AWS_MAX_ATTEMPTS.
  CHECK(o.timeout >= std::chrono::seconds(30 * 30));
  CHECK(agent::cli::nodeadm_init_options(c, 60).timeout >= std::chrono::seconds(60 * 30));
}

TEST_CASE("AWS_MAX_ATTEMPTS: a positive integer, else 30") {
  using agent::cli::nodeadm_aws_attempts;
  CHECK(nodeadm_aws_attempts(nullptr) == 30);
  CHECK(nodeadm_aws_attempts("") == 30);
  CHECK(nodeadm_aws_attempts("1") == 1);
  CHECK(nodeadm_aws_attempts("45") == 45);
  CHECK(nodeadm_aws_attempts("0") == 30);
  CHECK(nodeadm_aws_attempts("x3") == 30);
}

TEST_CASE("file:// sources relative to the working directory (nodeadm: host + path)") {
  using agent::cli::absolute_config_source;
  CHECK(*absolute_config_source("file://config.yaml", "/home/u", "/") == "file:///home/u/config.yaml");
  CHECK(*absolute_config_source("file://a/b/", "/home/u", "/") == "file:///home/u/a/b/");
  CHECK(*absolute_config_source("file:///etc/eks/nodeadm.d/", "/home/u", "/") == "file:///etc/eks/nodeadm.d/");
  CHECK(*absolute_config_source("imds://user-data", "/home/u", "/") == "imds://user-data");
  // under --root: relative to the root
  CHECK(*absolute_config_source("file://c.yaml", "/tmp/root/etc", "/tmp/root") == "file:///etc/c.yaml");
  CHECK(absolute_config_source("file://c.yaml", "/elsewhere", "/tmp/root").error().code == Errc::Usage);
  auto bad = absolute_config_source("s3://bucket/x", "/", "/");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("unsupported scheme") != std::string::npos);
  CHECK(bad.error().code == Errc::Invalid);  // nodeadm: "failed to build provider", exit 1
}

// --- the config cache (nodeadm.md 2.6) ----------------------------------------------------------

TEST_CASE("config cache: written, then an unchanged spec reuses it (no enrichment)") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", doc("my-cluster"));
  const std::string cache = "/run/eks/nodeadm/config.json";
  auto first = agent::app::resolve_nodeadm_config({"imds://user-data"}, cache, imds, fs);
  REQUIRE(first.has_value());
  CHECK(first->enrich);
  CHECK_FALSE(first->changed);  // no cache was loaded
  agent::app::CachedStatus st{.instance_id = "i-1", .private_dns_name = "ip-1.ec2.internal"};
  const std::string bytes = agent::app::cache_document(first->doc.spec, st);
  auto j = nlohmann::json::parse(bytes);
  CHECK(j["apiVersion"] == "node.eks.aws/__internal");
  CHECK(j["spec"]["cluster"]["name"] == "my-cluster");
  CHECK(j["status"]["instance"]["privateDnsName"] == "ip-1.ec2.internal");
  fs.put(cache, bytes);

  auto again = agent::app::resolve_nodeadm_config({"imds://user-data"}, cache, imds, fs);
  REQUIRE(again.has_value());
  CHECK_FALSE(again->enrich);
  CHECK_FALSE(again->changed);
  REQUIRE(again->cached.has_value());
  CHECK(again->cached->private_dns_name == "ip-1.ec2.internal");
}

TEST_CASE("config cache: a changed spec is changed (needsRecache) and enriched") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", doc("my-cluster"));
  const std::string cache = "/c.json";
  auto first = agent::app::resolve_nodeadm_config({"imds://user-data"}, cache, imds, fs);
  REQUIRE(first.has_value());
  fs.put(cache, agent::app::cache_document(first->doc.spec, {}));
  imds.set("latest/user-data", doc("other-cluster"));
  auto changed = agent::app::resolve_nodeadm_config({"imds://user-data"}, cache, imds, fs);
  REQUIRE(changed.has_value());
  CHECK(changed->changed);
  CHECK(changed->enrich);
  CHECK(changed->doc.spec.name == "other-cluster");
}

TEST_CASE("config cache: used when no source holds a NodeConfig; without it that is an error") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", "#!/bin/bash\necho hi\n");
  auto none = agent::app::resolve_nodeadm_config({"imds://user-data"}, "/c.json", imds, fs);
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == Errc::Invalid);
  CHECK(none.error().message.find("no config in chain") != std::string::npos);

  FakeImds good;
  good.set("latest/user-data", doc("cached-cluster"));
  auto first = agent::app::resolve_nodeadm_config({"imds://user-data"}, "", good, fs);
  REQUIRE(first.has_value());
  fs.put("/c.json", agent::app::cache_document(first->doc.spec, {.instance_id = "i-9"}));
  auto fallback = agent::app::resolve_nodeadm_config({"imds://user-data"}, "/c.json", imds, fs);
  REQUIRE(fallback.has_value());
  CHECK(fallback->from_cache);
  CHECK_FALSE(fallback->enrich);
  CHECK(fallback->doc.spec.name == "cached-cluster");
}

TEST_CASE("config cache: an unreadable cache is a warning, not an error") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", doc("my-cluster"));
  fs.put("/c.json", "{not json");
  auto r = agent::app::resolve_nodeadm_config({"imds://user-data"}, "/c.json", imds, fs);
  REQUIRE(r.has_value());
  CHECK(r->enrich);
  CHECK_FALSE(r->changed);
  REQUIRE_FALSE(r->warnings.empty());
  CHECK(r->warnings.back().find("failed to load cached config") != std::string::npos);
}

TEST_CASE("config dump: compact v1alpha1 JSON, newline-terminated") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", doc("my-cluster"));
  auto r = agent::app::resolve_nodeadm_config({"imds://user-data"}, "", imds, fs);
  REQUIRE(r.has_value());
  const std::string out = agent::app::dump_document(r->doc.spec);
  REQUIRE_FALSE(out.empty());
  CHECK(out.back() == '\n');
  CHECK(out.find("\n") == out.size() - 1);
  auto j = nlohmann::json::parse(out);
  CHECK(j["kind"] == "NodeConfig");
  CHECK(j["apiVersion"] == "node.eks.aws/v1alpha1");
  CHECK(j["spec"]["cluster"]["apiServerEndpoint"] == "https://example.com");
}

// --- the config phase defers containerd and kubelet ---------------------------------------------

TEST_CASE("apply: deferred units get no job and keep their owed restart for a later apply") {
  using namespace std::chrono_literals;
  MemRootFs fs;
  agent::testing::RecordingServiceManager services;
  agent::testing::ManualClock clock;
  agent::Plan plan;
  plan.files.push_back({.path = "/etc/containerd/config.toml", .bytes = "x", .mode = 0644,
                        .restarts = {"containerd.service"}});
  plan.units.push_back({.unit = "containerd.service", .start_if_inactive = true, .restart_on_change = true});
  agent::app::ApplyOptions config_phase{.deadline = clock.now() + 60s, .deferred = {"containerd.service"}};
  auto first = agent::app::apply_plan(plan, fs, services, clock, config_phase);
  REQUIRE(first.has_value());
  CHECK(services.calls().empty());
  CHECK(fs.read(agent::app::kPendingPath).value_or("") == "containerd.service\n");
  const std::string described = agent::app::describe_plan(plan, fs, services, false, nullptr, {"containerd.service"});
  CHECK(described.find("defer containerd.service to the run phase (restart owed)") != std::string::npos);

  // The run phase: the file is unchanged now, but the restart is still owed.
  agent::app::ApplyOptions run_phase{.deadline = clock.now() + 60s};
  auto second = agent::app::apply_plan(plan, fs, services, clock, run_phase);
  REQUIRE(second.has_value());
  CHECK(services.calls() == std::vector<std::string>{"start containerd.service"});
  CHECK_FALSE(fs.exists(agent::app::kPendingPath));
}
