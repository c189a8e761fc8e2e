// SIGTERM/SIGINT and the run lock, through the whole run (config -> lock -> gather -> compute ->
// apply) with the fakes: MemRootFs, FakeImds, RecordingServiceManager and a manual clock. Each
// case cancels the token at one point, the way the signal thread would, and checks that the run
// stops there with Interrupted, that no file is half written, and that what the interrupted run
// owed systemd (a daemon-reload, restarts) is done by the next run.
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <functional>
#include <memory>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/app/apply.h"
#include "agent/app/run.h"
#include "agent/compute/plan_node.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_service_manager.h"
#include "tests/support/recording_commands.h"

using agent::CancelToken;
using agent::Errc;
using agent::Error;
using agent::Result;
using agent::RootFs;
using agent::Status;
using agent::UnitState;
using agent::WriteOutcome;
using agent::app::kLockPath;
using agent::app::kPendingPath;
using agent::app::kStatusPath;
using agent::testing::FakeImds;
using agent::testing::ManualClock;
using agent::testing::MemRootFs;
using agent::testing::RecordingServiceManager;
using namespace std::chrono_literals;
namespace c = agent::compute;

namespace {

using Calls = std::vector<std::string>;

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

using NoCommands = agent::testing::RecordingCommands;  // every program: not on PATH

// A ManualClock that calls on_sleep(n) after its n-th sleep: the moment a test "sends" a signal
// or lets another process release the lock, in the middle of a wait.
class HookClock final : public agent::Clock {
 public:
  std::chrono::steady_clock::time_point now() override { return inner_.now(); }
  void sleep_until(std::chrono::steady_clock::time_point t) override {
    inner_.sleep_until(t);
    ++sleeps_;
    if (on_sleep) on_sleep(sleeps_);
  }
  std::function<void(int)> on_sleep;
  int sleeps() const { return sleeps_; }

 private:
  ManualClock inner_;
  int sleeps_ = 0;
};

// Delegates to a RecordingServiceManager; the call whose record equals `at` ("reload",
// "restart kubelet.service") first cancels the token, as a signal arriving during that call.
// With `interrupt_job`, a job call then returns Interrupted, as SdBusServiceManager's wait does.
class CancelsAt final : public agent::ServiceManager {
 public:
  CancelsAt(RecordingServiceManager& inner, CancelToken& token, std::string at, bool interrupt_job = false)
      : inner_(inner), token_(token), at_(std::move(at)), interrupt_job_(interrupt_job) {}
  Status reload() override {
    hit("reload");
    return inner_.reload();
  }
  Status enable(const std::string& unit) override {
    hit("enable " + unit);
    return inner_.enable(unit);
  }
  Result<std::string> run_job(const std::string& unit, const std::string& verb, agent::Deadline d) override {
    if (hit(verb + " " + unit) && interrupt_job_) {
      (void)inner_.run_job(unit, verb, d);  // systemd carries on with the job
      return token_.interrupted("while waiting for the " + verb + " job of " + unit);
    }
    return inner_.run_job(unit, verb, d);
  }
  Result<UnitState> state(const std::string& unit) override { return inner_.state(unit); }
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override {
    return inner_.recent_logs(unit, lines);
  }

 private:
  bool hit(const std::string& call) {
    if (call != at_) return false;
    token_.cancel(SIGTERM);
    return true;
  }
  RecordingServiceManager& inner_;
  CancelToken& token_;
  std::string at_;
  bool interrupt_job_;
};

// Delegates to a MemRootFs; the signal arrives while write_atomic_all is staging the batch.
class CancelsWhileStaging final : public RootFs {
 public:
  CancelsWhileStaging(MemRootFs& inner, CancelToken& token) : inner_(inner), token_(token) {}
  Result<std::string> read(const std::string& p) const override { return inner_.read(p); }
  bool exists(const std::string& p) const override { return inner_.exists(p); }
  Result<std::vector<std::string>> list(const std::string& p) const override { return inner_.list(p); }
  Result<WriteOutcome> write_atomic(const std::string& p, std::string_view b, unsigned m) override {
    return inner_.write_atomic(p, b, m);
  }
  Result<std::vector<WriteOutcome>> write_atomic_all(const std::vector<FileContent>& files,
                                                     const CancelToken* cancel) override {
    token_.cancel(SIGTERM);
    return inner_.write_atomic_all(files, cancel);
  }
  Result<bool> remove(const std::string& p) override { return inner_.remove(p); }
  Result<WriteOutcome> symlink(const std::string& t, const std::string& l) override { return inner_.symlink(t, l); }
  Result<WriteOutcome> make_directory(const std::string& p, unsigned m) override { return inner_.make_directory(p, m); }
  Result<std::unique_ptr<Lock>> try_lock(const std::string& p, std::string_view note) override {
    return inner_.try_lock(p, note);
  }

 private:
  MemRootFs& inner_;
  CancelToken& token_;
};

// An m5.large in us-west-2 with kubelet 1.30 and containerd running, as on an AMI at boot.
struct Node {
  MemRootFs fs;
  FakeImds imds;
  NoCommands commands;
  RecordingServiceManager services;
  HookClock clock;
  std::unique_ptr<CancelToken> token = std::make_unique<CancelToken>();
  agent::cli::Options options;

  Node() {
    fs.put("/etc/eks/kubelet-version.txt", "v1.30.4-eks-1234567\n");
    fs.put("/sys/devices/system/cpu/online", "0-1\n");
    const std::string md = "latest/meta-data/";
    imds.set("latest/dynamic/instance-identity/document", R"({"region": "us-west-2"})");
    imds.set(md + "services/domain", "amazonaws.com");
    imds.set(md + "mac", "02:4d:8a:1f:3c:5e");
    imds.set(md + "instance-type", "m5.large");
    imds.set(md + "instance-id", "i-0123456789abcdef0");
    imds.set(md + "placement/availability-zone", "us-west-2a");
    imds.set(md + "local-ipv4", "10.0.12.34");
    imds.set(md + "local-hostname", "ip-10-0-12-34.us-west-2.compute.internal");
    imds.set(md + "network/interfaces/macs/02:4d:8a:1f:3c:5e/vpc-ipv4-cidr-blocks", "10.0.0.0/16");
    options.node.cluster_name = "my-cluster";
    options.node.apiserver_endpoint = "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com";
    options.node.b64_cluster_ca =
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
    options.node.mount_bpf_fs = false;
    options.kubelet_settle = 1500ms;
    services.set_state("containerd.service", UnitState{"loaded", "active", "running", "success", 1});
  }

  Status run(agent::ServiceManager* sm = nullptr, RootFs* root = nullptr, agent::Imds* md = nullptr) {
    agent::app::RunPorts ports{md != nullptr ? *md : imds,
                               root != nullptr ? *root : fs,
                               sm != nullptr ? *sm : services,
                               commands,
                               clock,
                               nullptr,
                               0,
                               token.get()};
    agent::app::RunOutcome out;
    last = agent::app::RunOutcome{};
    Status st = agent::app::run_bootstrap(options, ports, out);
    last = std::move(out);
    return st;
  }
  void run_ok() {
    Status st = run();
    REQUIRE_MESSAGE(st.has_value(), st.error().message);
  }
  // Node files the run writes (not the agent's own records under /run).
  std::vector<std::string> node_files() const {
    std::vector<std::string> out;
    for (const auto& [path, n] : fs.nodes()) {
      if (n.kind == MemRootFs::Node::Kind::File && (path.rfind("/etc/kubernetes", 0) == 0 ||
                                                    path.rfind("/var/lib/kubelet", 0) == 0 ||
                                                    path.rfind("/etc/systemd", 0) == 0 ||
                                                    path.rfind("/etc/containerd", 0) == 0)) {
        out.push_back(path);
      }
    }
    return out;
  }
  nlohmann::json status() const { return nlohmann::json::parse(fs.read(kStatusPath).value()); }
  std::string pending() const { return fs.read(kPendingPath).value_or("<none>"); }

  agent::app::RunOutcome last;
};

void check_interrupted(const Status& st) {
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::Interrupted);
  CHECK_MESSAGE(st.error().message.rfind(
                    "interrupted by SIGTERM; no file was left half-written; re-run to finish", 0) == 0,
                st.error().message);
}

}  // namespace

TEST_CASE("a signal before the run starts stops it before IMDS, with the status file saying so") {
  Node node;
  node.token->cancel(SIGTERM);
  check_interrupted(node.run());
  CHECK(node.imds.calls().empty());
  CHECK(node.node_files().empty());
  CHECK(node.services.calls().empty());
  auto status = node.status();
  CHECK(status["result"] == "failed");
  CHECK(status["error"]["code"] == "interrupted");
}

TEST_CASE("SIGTERM while IMDS is answering ends the run with nothing written") {
  // What AsioImds does when the token is set mid-request: every path fails with Interrupted.
  struct InterruptedImds final : agent::Imds {
    CancelToken& token;
    explicit InterruptedImds(CancelToken& t) : token(t) {}
    Result<std::string> get(const std::string& p) override { return get_many({p}).front(); }
    std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) override {
      token.cancel(SIGTERM);
      return std::vector<Result<std::string>>(paths.size(), Result<std::string>(token.interrupted("while waiting for IMDS")));
    }
    agent::ImdsStats stats() const override { return {}; }
  };
  Node node;
  InterruptedImds imds(*node.token);
  Status st = node.run(nullptr, nullptr, &imds);
  check_interrupted(st);
  CHECK(contains(st.error().message, "IMDS"));
  CHECK(node.node_files().empty());
  CHECK(node.services.calls().empty());
  CHECK(node.pending() == "<none>");
}

TEST_CASE("SIGTERM just before daemon-reload leaves both the reload and the restart owed") {
  Node node;
  node.run_ok();
  node.services.clear_calls();
  node.options.node.kubelet_extra_args = "--node-labels=team=b";
  // The signal arrives while the batch is being renamed: the batch completes, and apply stops at
  // its first check after the files.
  struct CancelAfterFiles final : RootFs {
    MemRootFs& fs;
    CancelToken& token;
    CancelAfterFiles(MemRootFs& f, CancelToken& t) : fs(f), token(t) {}
    Result<std::string> read(const std::string& p) const override { return fs.read(p); }
    bool exists(const std::string& p) const override { return fs.exists(p); }
    Result<std::vector<std::string>> list(const std::string& p) const override { return fs.list(p); }
    Result<WriteOutcome> write_atomic(const std::string& p, std::string_view b, unsigned m) override {
      return fs.write_atomic(p, b, m);
    }
    Result<std::vector<WriteOutcome>> write_atomic_all(const std::vector<FileContent>& files,
                                                       const CancelToken* cancel) override {
      auto r = fs.write_atomic_all(files, cancel);
      token.cancel(SIGTERM);  // during the renames: the batch completes
      return r;
    }
    Result<bool> remove(const std::string& p) override { return fs.remove(p); }
    Result<WriteOutcome> symlink(const std::string& t, const std::string& l) override { return fs.symlink(t, l); }
    Result<WriteOutcome> make_directory(const std::string& p, unsigned m) override { return fs.make_directory(p, m); }
    Result<std::unique_ptr<Lock>> try_lock(const std::string& p, std::string_view note) override {
      return fs.try_lock(p, note);
    }
  };
  CancelAfterFiles late(node.fs, *node.token);
  Status st = node.run(nullptr, &late);
  check_interrupted(st);
  CHECK(contains(st.error().message, "before daemon-reload"));
  CHECK(node.services.calls().empty());
  CHECK(node.pending() == "daemon-reload\nkubelet.service\n");

  node.token = std::make_unique<CancelToken>();
  node.run_ok();
  CHECK(node.services.calls() == Calls{"reload", "enable kubelet.service", "restart kubelet.service"});
  CHECK(node.pending() == "<none>");
}

TEST_CASE("SIGTERM while the files are staged leaves the node as it was and owes nothing") {
  Node node;
  CancelsWhileStaging root(node.fs, *node.token);
  check_interrupted(node.run(nullptr, &root));
  CHECK(node.node_files().empty());
  CHECK(node.services.calls().empty());
  CHECK(node.pending() == "<none>");  // recorded before the batch, put back when nothing was replaced
}

TEST_CASE("SIGTERM after the files are replaced leaves the unit actions owed; the next run does them") {
  Node node;
  node.run_ok();  // a bootstrapped node: kubelet active
  node.services.clear_calls();
  node.options.node.kubelet_extra_args = "--node-labels=team=a";

  SUBCASE("the signal arrives during daemon-reload: nothing after it runs") {
    CancelsAt sm(node.services, *node.token, "reload");
    check_interrupted(node.run(&sm));
    CHECK(node.services.calls() == Calls{"reload"});
  }
  SUBCASE("the signal arrives while waiting for kubelet's restart job") {
    CancelsAt sm(node.services, *node.token, "restart kubelet.service", /*interrupt_job=*/true);
    check_interrupted(node.run(&sm));
    CHECK(node.services.calls().back() == "restart kubelet.service");
  }
  CHECK(contains(node.fs.read(c::kKubeletExtraArgsDropin).value(), "team=a"));  // complete, not partial
  CHECK(node.pending() == "kubelet.service\n");  // the daemon-reload was done

  // The re-run finds every file up to date, yet restarts kubelet once, as owed.
  node.token = std::make_unique<CancelToken>();
  node.services.clear_calls();
  node.fs.clear_ops();
  node.run_ok();
  CHECK(node.services.calls() == Calls{"enable kubelet.service", "restart kubelet.service"});
  CHECK(node.pending() == "<none>");
  for (const auto& op : node.fs.ops()) {
    CHECK_MESSAGE((contains(op, " unchanged") || contains(op, "/run/eks-node-agent/")), op);
  }

  // And then the node has converged.
  node.services.clear_calls();
  node.run_ok();
  CHECK(node.services.calls() == Calls{"enable kubelet.service"});
}

TEST_CASE("SIGTERM in kubelet's settle window stops the watch within one poll") {
  Node node;
  node.clock.on_sleep = [&](int n) {
    if (n == 2) node.token->cancel(SIGINT);
  };
  Status st = node.run();
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::Interrupted);
  CHECK(contains(st.error().message, "interrupted by SIGINT"));
  CHECK(contains(st.error().message, "kubelet.service"));
  CHECK(node.clock.sleeps() == 2);  // not the whole 1500 ms window: 100 ms steps
  CHECK(node.last.report.actions.back().unit == "kubelet.service");
  CHECK(node.pending() == "kubelet.service\n");  // started, but not yet known to stay up
}

TEST_CASE("a kubelet that fails to start leaves its start owed, and the next run retries it") {
  Node node;
  node.services.script_jobs("kubelet.service", {{.result = "failed"}, {.result = "done"}});
  Status st = node.run();
  REQUIRE_FALSE(st.has_value());
  CHECK(st.error().code == Errc::Service);
  CHECK(contains(node.pending(), "kubelet.service"));
  node.services.clear_calls();
  node.run_ok();
  CHECK(node.services.calls() == Calls{"enable kubelet.service", "start kubelet.service"});
  CHECK(node.pending() == "<none>");
}

TEST_CASE("the run lock") {
  Node node;
  SUBCASE("is taken for the run and released after the status file") {
    node.run_ok();
    CHECK(node.fs.read(kLockPath).value().rfind("pid ", 0) == 0);
    CHECK(node.last.phases_ms.contains("lock"));
    auto again = node.fs.try_lock(kLockPath, "test");
    REQUIRE(again.has_value());
    CHECK(*again != nullptr);
  }
  SUBCASE("held by another run: this one waits, then proceeds when it is released") {
    auto other = node.fs.try_lock(kLockPath, "pid 4242\n");
    REQUIRE((other.has_value() && *other != nullptr));
    std::unique_ptr<RootFs::Lock> held = std::move(other).value();
    node.clock.on_sleep = [&](int n) {
      if (n == 30) held.reset();  // the other run finishes after 3 s
    };
    node.run_ok();
    CHECK(node.last.phases_ms["lock"].get<long>() == 3000);
    CHECK_FALSE(node.node_files().empty());
  }
  SUBCASE("held past the deadline: Timeout naming the holder, before anything is written") {
    node.options.timeout = 2s;
    auto held = node.fs.try_lock(kLockPath, "pid 4242\n");
    REQUIRE((held.has_value() && *held != nullptr));
    Status st = node.run();
    REQUIRE_FALSE(st.has_value());
    CHECK(st.error().code == Errc::Timeout);
    CHECK(contains(st.error().message, "pid 4242"));
    CHECK(contains(st.error().message, kLockPath));
    CHECK(node.imds.calls().empty());
    CHECK(node.node_files().empty());
  }
  SUBCASE("SIGTERM while waiting for it ends the wait within one poll") {
    auto held = node.fs.try_lock(kLockPath, "pid 4242\n");
    REQUIRE((held.has_value() && *held != nullptr));
    node.clock.on_sleep = [&](int n) {
      if (n == 5) node.token->cancel(SIGTERM);
    };
    check_interrupted(node.run());
    CHECK(node.clock.sleeps() == 5);
    CHECK(node.node_files().empty());
  }
  SUBCASE("a dry run takes no lock") {
    auto held = node.fs.try_lock(kLockPath, "pid 4242\n");
    REQUIRE((held.has_value() && *held != nullptr));
    node.options.dry_run = true;
    node.run_ok();
    CHECK(node.clock.sleeps() == 0);
  }
}

TEST_CASE("sleep_until with a token sleeps in steps of at most kCancelPoll and stops when cancelled") {
  ManualClock clock;
  CancelToken token;
  const auto start = clock.now();
  CHECK(agent::sleep_until(clock, &token, start + 350ms));
  CHECK(clock.sleeps().size() == 4);
  CHECK(clock.now() == start + 350ms);
  token.cancel(SIGTERM);
  token.cancel(SIGINT);  // the first cause is kept
  CHECK_FALSE(agent::sleep_until(clock, &token, start + 10s));
  CHECK(token.cause() == "SIGTERM");
  CHECK(agent::sleep_until(clock, nullptr, start + 10s));
  CHECK(clock.now() == start + 10s);
}

TEST_CASE("describe_plan shows what an interrupted run left owed") {
  Node node;
  node.fs.put(kPendingPath, "daemon-reload\nkubelet.service\n");
  node.options.dry_run = true;
  agent::app::RunPorts ports{node.imds, node.fs, node.services, node.commands, node.clock, nullptr, 0,
                               node.token.get()};
  agent::app::RunOutcome out;
  auto st = agent::app::run_bootstrap(node.options, ports, out);
  REQUIRE_MESSAGE(st.has_value(), st.error().message);
  CHECK(contains(out.dry_run, "owed    daemon-reload, kubelet.service (left by an earlier run)"));
}
