#include "agent/app/apply.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "agent/compute/plan_node.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_commands.h"
#include "tests/support/recording_mounter.h"
#include "tests/support/recording_service_manager.h"

using agent::Errc;
using agent::Facts;
using agent::FileWrite;
using agent::InstanceFacts;
using agent::NodeConfig;
using agent::Plan;
using agent::Result;
using agent::ServiceManager;
using agent::UnitState;
using agent::Version;
using agent::app::apply_plan;
using agent::app::ApplyOptions;
using agent::app::ApplyReport;
using agent::app::describe_plan;
using agent::app::FileChange;
using agent::app::UnitAction;
using agent::testing::ManualClock;
using agent::testing::MemRootFs;
using agent::testing::RecordingServiceManager;
using namespace std::chrono_literals;
namespace c = agent::compute;

namespace {

using Calls = std::vector<std::string>;

const std::string kPemB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
const UnitState kRunning{"loaded", "active", "running", "success", 1};

NodeConfig config() {
  return NodeConfig{
      .cluster_name = "my-cluster",
      .apiserver_endpoint = "https://ABC.gr7.us-east-1.eks.amazonaws.com",
      .b64_cluster_ca = kPemB64,
  };
}

Facts facts() {
  return Facts{
      .instance =
          InstanceFacts{
              .region = "us-east-1",
              .domain = "amazonaws.com",
              .instance_id = "i-1234567890abcdef0",
              .instance_type = "m4.xlarge",
              .availability_zone = "us-east-1a",
              .local_hostname = "ip-172-16-34-43.ec2.internal",
              .local_ipv4 = "172.16.34.43",
              .mac = "0e:49:61:0f:c3:11",
              .vpc_ipv4_cidrs = {"192.168.0.0/16"},
          },
      .kubelet_version = Version{1, 29, 3},
      .vcpus = 2,
  };
}

Plan plan(const NodeConfig& cfg = config(), const Facts& f = facts()) {
  auto r = c::plan_node(cfg, f);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

FileWrite& file(Plan& p, const std::string& path) {
  auto it = std::find_if(p.files.begin(), p.files.end(), [&](const FileWrite& w) { return w.path == path; });
  REQUIRE_MESSAGE(it != p.files.end(), "plan has no file " << path);
  return *it;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

// The node: an in-memory root, a recording systemd, a manual clock. containerd is running, as it
// is on an AMI by the time the agent runs; everything else is inactive.
struct Node {
  MemRootFs fs;
  RecordingServiceManager services;
  ManualClock clock;
  std::chrono::milliseconds settle = 1500ms;

  Node() { services.set_state("containerd.service", kRunning); }

  ApplyOptions options() { return ApplyOptions{clock.now() + 240s, settle}; }

  Result<ApplyReport> apply(const Plan& p, ServiceManager* sm = nullptr, ApplyReport* partial = nullptr) {
    return apply_plan(p, fs, sm != nullptr ? *sm : services, clock, options(), partial);
  }
  ApplyReport applied(const Plan& p) {
    auto r = apply(p);
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
    return std::move(r).value();
  }
  // Applies `p` and forgets what that did, to set up a node that has already been bootstrapped.
  void bootstrapped(const Plan& p) {
    (void)applied(p);
    fs.clear_ops();
    services.clear_calls();
  }
  bool wrote_anything() const {
    return std::any_of(fs.ops().begin(), fs.ops().end(), [](const std::string& op) {
      return contains(op, " created") || contains(op, " updated") || contains(op, " removed") ||
             contains(op, "failed");
    });
  }
};

// Delegates to a RecordingServiceManager, but after a successful job of `unit` the unit turns
// `after` once `delay` has passed on the clock: a service that forks fine and then dies.
class DiesAfterJob final : public ServiceManager {
 public:
  DiesAfterJob(RecordingServiceManager& inner, ManualClock& clock, std::string unit, UnitState after,
               std::chrono::milliseconds delay)
      : inner_(inner), clock_(clock), unit_(std::move(unit)), after_(std::move(after)), delay_(delay) {}

  agent::Status reload() override { return inner_.reload(); }
  agent::Status enable(const std::string& unit) override { return inner_.enable(unit); }
  Result<std::string> run_job(const std::string& unit, const std::string& verb,
                              agent::Deadline deadline) override {
    auto r = inner_.run_job(unit, verb, deadline);
    if (unit == unit_ && r && *r == "done") dies_at_ = clock_.now() + delay_;
    return r;
  }
  Result<UnitState> state(const std::string& unit) override {
    if (unit == unit_ && dies_at_ && clock_.now() >= *dies_at_) {
      inner_.set_state(unit, after_);
      ++polls_after_death_;
    }
    return inner_.state(unit);
  }
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override {
    return inner_.recent_logs(unit, lines);
  }
  int polls_after_death() const { return polls_after_death_; }

 private:
  RecordingServiceManager& inner_;
  ManualClock& clock_;
  std::string unit_;
  UnitState after_;
  std::chrono::milliseconds delay_;
  std::optional<agent::Deadline> dies_at_;
  int polls_after_death_ = 0;
};

}  // namespace

TEST_CASE("the first run writes every file, reloads once, and enables and starts kubelet") {
  Node node;
  const Plan p = plan();
  const auto start = node.clock.now();
  const ApplyReport report = node.applied(p);

  CHECK(node.services.calls() == Calls{"reload", "enable sys-fs-bpf.mount", "start sys-fs-bpf.mount",
                                       "restart containerd.service", "enable kubelet.service",
                                       "start kubelet.service"});
  CHECK(report.actions == std::vector<UnitAction>{{"", "reload", "done"},
                                                  {"sys-fs-bpf.mount", "enable", "done"},
                                                  {"sys-fs-bpf.mount", "start", "done"},
                                                  {"containerd.service", "restart", "done"},
                                                  {"kubelet.service", "enable", "done"},
                                                  {"kubelet.service", "start", "done"}});
  CHECK_FALSE(report.offline);
  for (const auto& w : p.files) {
    CAPTURE(w.path);
    auto n = node.fs.node(w.path);
    REQUIRE(n.has_value());
    CHECK(n->data == w.bytes);
    CHECK(n->mode == w.mode);
  }
  std::vector<FileChange> expected;
  for (const auto& w : p.files) expected.push_back({w.path, "created"});
  expected.push_back({c::kKubeletExtraArgsDropin, "absent"});
  CHECK(report.files == expected);
  CHECK(report.changed() == static_cast<int>(p.files.size()));
  CHECK(node.services.enabled("kubelet.service"));
  // kubelet was watched for the whole settle window, which a manual clock passes instantly.
  CHECK(node.clock.now() - start >= 1500ms);
  CHECK(node.services.last_deadline() == start + 240s);
}

TEST_CASE("a second identical run writes nothing and starts or restarts nothing") {
  Node node;
  const Plan p = plan();
  node.bootstrapped(p);
  const ApplyReport report = node.applied(p);
  CHECK_FALSE(node.wrote_anything());
  CHECK(report.changed() == 0);
  // Enabling is idempotent and always asked for; nothing else happens.
  CHECK(node.services.calls() == Calls{"enable sys-fs-bpf.mount", "enable kubelet.service"});
  for (const auto& f : report.files) {
    CAPTURE(f.path);
    CHECK((f.outcome == "unchanged" || f.outcome == "kept" || f.outcome == "absent"));
  }
}

TEST_CASE("a change to a kubelet input restarts kubelet once and leaves containerd alone") {
  Node node;
  node.bootstrapped(plan());

  SUBCASE("the kubelet config") {
    NodeConfig cfg = config();
    cfg.use_max_pods = false;
    (void)node.applied(plan(cfg));
    CHECK(node.services.calls() ==
          Calls{"enable sys-fs-bpf.mount", "enable kubelet.service", "restart kubelet.service"});
  }
  SUBCASE("several inputs at once, one of them a drop-in") {
    NodeConfig cfg = config();
    cfg.kubelet_extra_args = "--max-pods=30 --node-labels=a=b";
    cfg.apiserver_endpoint = "https://other.example.com";
    const ApplyReport report = node.applied(plan(cfg));
    CHECK(report.changed() == 3);
    CHECK(node.services.calls() == Calls{"reload", "enable sys-fs-bpf.mount", "enable kubelet.service",
                                         "restart kubelet.service"});
  }
  SUBCASE("kubelet not running: started instead of restarted") {
    node.services.set_state("kubelet.service", UnitState{"loaded", "inactive", "dead", "success", 0});
    NodeConfig cfg = config();
    cfg.use_max_pods = false;
    (void)node.applied(plan(cfg));
    CHECK(node.services.calls() ==
          Calls{"enable sys-fs-bpf.mount", "enable kubelet.service", "start kubelet.service"});
  }
}

TEST_CASE("a containerd config change restarts containerd only") {
  Node node;
  Plan p = plan();
  node.bootstrapped(p);
  file(p, c::kContainerdConfigPath).bytes += "# tuned\n";
  const ApplyReport report = node.applied(p);
  CHECK(report.changed() == 1);
  CHECK(node.services.calls() ==
        Calls{"enable sys-fs-bpf.mount", "restart containerd.service", "enable kubelet.service"});
}

TEST_CASE("removing the extra-args drop-in reloads systemd and restarts kubelet") {
  Node node;
  NodeConfig with_args = config();
  with_args.kubelet_extra_args = "--node-labels=a=b";
  node.bootstrapped(plan(with_args));
  REQUIRE(node.fs.exists(c::kKubeletExtraArgsDropin));

  const ApplyReport report = node.applied(plan());
  CHECK_FALSE(node.fs.exists(c::kKubeletExtraArgsDropin));
  CHECK(std::find(report.files.begin(), report.files.end(),
                  FileChange{c::kKubeletExtraArgsDropin, "removed"}) != report.files.end());
  CHECK(node.services.calls() == Calls{"reload", "enable sys-fs-bpf.mount", "enable kubelet.service",
                                       "restart kubelet.service"});
}

TEST_CASE("files written only when absent are kept as they are") {
  Node node;
  node.fs.put(c::kKubeletUnitPath, "[Service]\nExecStart=/usr/local/bin/my-kubelet\n");
  node.fs.put(c::kBpfMountUnitPath, "# site-specific\n");
  const ApplyReport report = node.applied(plan());
  CHECK(node.fs.read(c::kKubeletUnitPath).value() == "[Service]\nExecStart=/usr/local/bin/my-kubelet\n");
  CHECK(node.fs.read(c::kBpfMountUnitPath).value() == "# site-specific\n");
  CHECK(std::find(report.files.begin(), report.files.end(), FileChange{c::kKubeletUnitPath, "kept"}) !=
        report.files.end());
  CHECK(std::find(report.files.begin(), report.files.end(), FileChange{c::kBpfMountUnitPath, "kept"}) !=
        report.files.end());
  for (const auto& op : node.fs.ops()) {
    CAPTURE(op);
    CHECK_FALSE(contains(op, std::string(" ") + c::kKubeletUnitPath + " "));
    CHECK_FALSE(contains(op, std::string(" ") + c::kBpfMountUnitPath + " "));
  }
}

TEST_CASE("a kubelet that fails to start is a service error with its journal and a diagnosis") {
  Node node;
  node.services.script_jobs(
      "kubelet.service",
      {{.result = "failed",
        .logs = {"Started kubelet.service - Kubernetes Kubelet.",
                 "kubelet.service: Main process exited, code=exited, status=203/EXEC"}}});
  ApplyReport partial;
  auto r = node.apply(plan(), nullptr, &partial);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Service);
  const std::string& m = r.error().message;
  CHECK_MESSAGE(contains(m, "kubelet.service start job failed"), m);
  CHECK(contains(m, "  | Started kubelet.service - Kubernetes Kubelet."));
  CHECK(contains(m, "  | kubelet.service: Main process exited, code=exited, status=203/EXEC"));
  CHECK(contains(m, "\ndiagnosis: "));
  CHECK(contains(m, "203/EXEC"));
  // What was done before the failure is in the partial report.
  CHECK(partial.files.size() == plan().files.size() + 1);
  REQUIRE_FALSE(partial.actions.empty());
  CHECK(partial.actions.back() == UnitAction{"kubelet.service", "start", "failed"});
}

TEST_CASE("a kubelet that dies during the settle window is detected") {
  struct Row {
    std::string what;
    UnitState after;
  };
  const std::vector<Row> rows = {
      {"restarting", {"loaded", "activating", "auto-restart", "exit-code", 1}},
      {"failed", {"loaded", "failed", "failed", "exit-code", 1}},
      {"stopped", {"loaded", "inactive", "dead", "success", 1}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    Node node;
    node.services.add_logs("kubelet.service", {"E0101 server.go:1] \"unknown flag: --max-podz\""});
    DiesAfterJob dying(node.services, node.clock, "kubelet.service", row.after, 300ms);
    const auto start = node.clock.now();
    auto r = node.apply(plan(), &dying);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Service);
    CHECK_MESSAGE(contains(r.error().message, "did not stay running"), r.error().message);
    CHECK(contains(r.error().message, "unknown flag: --max-podz"));
    CHECK(contains(r.error().message, "diagnosis: "));
    // Found while polling, well before the settle window ended.
    CHECK(dying.polls_after_death() >= 1);
    CHECK(node.clock.now() - start < 1500ms);
    CHECK(node.clock.now() - start >= 300ms);
  }
}

TEST_CASE("a kubelet that stays up passes after the settle window, however short") {
  Node node;
  node.settle = 0ms;
  const auto start = node.clock.now();
  (void)node.applied(plan());
  CHECK(node.clock.now() == start);
}

TEST_CASE("an offline root skips unit jobs and says so") {
  Node node;
  for (const std::string call : {"start sys-fs-bpf.mount", "restart containerd.service", "start kubelet.service"}) {
    node.services.fail_call(call, agent::make_error(Errc::Unsupported, "offline root: cannot run jobs"));
  }
  const ApplyReport report = node.applied(plan());
  CHECK(report.offline);
  CHECK(report.actions == std::vector<UnitAction>{{"", "reload", "done"},
                                                  {"sys-fs-bpf.mount", "enable", "done"},
                                                  {"sys-fs-bpf.mount", "start", "skipped: offline root"},
                                                  {"containerd.service", "restart", "skipped: offline root"},
                                                  {"kubelet.service", "enable", "done"},
                                                  {"kubelet.service", "start", "skipped: offline root"}});
  CHECK(report.changed() == static_cast<int>(plan().files.size()));
}

TEST_CASE("a file that cannot be written stops apply before any unit is touched") {
  Node node;
  node.fs.fail_writes_to(c::kKubeletConfigPath, Errc::Denied);
  ApplyReport partial;
  auto r = node.apply(plan(), nullptr, &partial);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Denied);
  CHECK(contains(r.error().message, c::kKubeletConfigPath));
  CHECK(node.services.calls().empty());
  // The files before it in the batch are complete, and the kubelet start they call for is owed to
  // the next run (agent::app::kPendingPath).
  CHECK(node.fs.read(c::kCaPath).has_value());
  CHECK_FALSE(node.fs.exists(c::kKubeletConfigPath));
  CHECK(contains(node.fs.read(agent::app::kPendingPath).value_or(""), "kubelet.service\n"));
}

TEST_CASE("unit job errors keep their codes") {
  SUBCASE("a job that outlives the deadline is a timeout") {
    Node node;
    node.services.script_jobs("kubelet.service", {{.timeout = true}});
    auto r = node.apply(plan());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Timeout);
    CHECK(contains(r.error().message, "kubelet.service"));
  }
  SUBCASE("a unit systemd does not know is NotFound") {
    Node node;
    node.services.set_unknown("containerd.service");
    auto r = node.apply(plan());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::NotFound);
    CHECK(contains(r.error().message, "containerd.service"));
  }
  SUBCASE("a failing daemon-reload stops apply") {
    Node node;
    node.services.fail_call("reload", agent::make_error(Errc::Unavailable, "bus gone"));
    auto r = node.apply(plan());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Unavailable);
    CHECK(node.services.calls() == Calls{"reload"});
  }
}

TEST_CASE("describe_plan on an empty node predicts every creation and start, writing nothing") {
  Node node;
  NodeConfig cfg = config();
  cfg.b64_cluster_ca = "dGVzdA==";  // "test": not PEM, so a warning is listed too
  const Plan p = plan(cfg);
  const std::string out = describe_plan(p, node.fs, node.services);

  CHECK(node.fs.ops().empty());
  CHECK(node.services.calls().empty());
  CHECK(node.fs.nodes().empty());
  CHECK(contains(out, "create  /etc/kubernetes/pki/ca.crt (mode 0644, 4 bytes)\n        (content not shown)\n"));
  CHECK_FALSE(contains(out, "+test"));
  CHECK(contains(out, "create  /var/lib/kubelet/kubeconfig (mode 0644, "));
  CHECK(contains(out, "+++ b/var/lib/kubelet/kubeconfig\n@@ -0,0 +1,"));
  CHECK_FALSE(contains(out, "remove  "));
  CHECK(contains(out, "units:\n"
                      "  daemon-reload\n"
                      "  enable sys-fs-bpf.mount\n"
                      "  start sys-fs-bpf.mount (now inactive)\n"
                      "  restart containerd.service (now active)\n"
                      "  enable kubelet.service\n"
                      "  start kubelet.service (now inactive)\n"));
  CHECK(contains(out, "warning: [CA_NOT_PEM] "));
}

TEST_CASE("describe_plan on a bootstrapped node shows same, update, keep and remove") {
  Node node;
  NodeConfig with_args = config();
  with_args.kubelet_extra_args = "--node-labels=a=b";
  node.bootstrapped(plan(with_args));

  NodeConfig cfg = config();
  cfg.use_max_pods = false;
  const Plan p = plan(cfg);
  const std::string out = describe_plan(p, node.fs, node.services);

  CHECK(node.fs.ops().empty());
  CHECK(node.services.calls().empty());
  CHECK(contains(out, "same    /etc/kubernetes/pki/ca.crt\n"));
  CHECK(contains(out, "same    /var/lib/kubelet/kubeconfig\n"));
  CHECK(contains(out, "update  /etc/kubernetes/kubelet/kubelet-config.json (mode 0644, "));
  CHECK(contains(out, "\n-  \"maxPods\": 58,\n"));
  CHECK(contains(out, "keep    /etc/systemd/system/kubelet.service (exists; only written when absent)\n"));
  CHECK(contains(out, "keep    /etc/systemd/system/sys-fs-bpf.mount (exists; only written when absent)\n"));
  CHECK(contains(out, "remove  /etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf\n"));
  CHECK(contains(out, "units:\n"
                      "  daemon-reload\n"
                      "  enable sys-fs-bpf.mount\n"
                      "  leave sys-fs-bpf.mount as it is (active)\n"
                      "  leave containerd.service as it is (active)\n"
                      "  enable kubelet.service\n"
                      "  restart kubelet.service (now active)\n"));

  SUBCASE("and a node that matches the plan shows only same and keep") {
    node.bootstrapped(p);
    const std::string again = describe_plan(p, node.fs, node.services);
    CHECK_FALSE(contains(again, "create "));
    CHECK_FALSE(contains(again, "update "));
    CHECK_FALSE(contains(again, "remove "));
    CHECK_FALSE(contains(again, "daemon-reload"));
    CHECK(contains(again, "  leave kubelet.service as it is (active)\n"));
  }
}

TEST_CASE("a bpf mount unit systemd refuses is mounted directly, and kubelet still starts") {
  Node node;
  agent::testing::RecordingMounter mounter;
  node.services.fail_call("start sys-fs-bpf.mount",
                          agent::make_error(Errc::Service, "Unit sys-fs-bpf.mount has a bad unit file setting."));
  ApplyOptions o = node.options();
  o.mounter = &mounter;
  auto r = apply_plan(plan(), node.fs, node.services, node.clock, o);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  // What the node's copy of the unit says, with its options as written.
  CHECK(mounter.calls() == std::vector<agent::MountSpec>{
                               {"bpffs", "/sys/fs/bpf", "bpf", "rw,nosuid,nodev,noexec,relatime,mode=700"}});
  CHECK(r->actions == std::vector<UnitAction>{
                          {"", "reload", "done"},
                          {"sys-fs-bpf.mount", "enable", "done"},
                          {"sys-fs-bpf.mount", "start",
                           "failed: start sys-fs-bpf.mount: Unit sys-fs-bpf.mount has a bad unit file setting."},
                          {"sys-fs-bpf.mount", "mount", "done"},
                          {"containerd.service", "restart", "done"},
                          {"kubelet.service", "enable", "done"},
                          {"kubelet.service", "start", "done"}});
  REQUIRE(r->warnings.size() == 1);
  CHECK(r->warnings[0].id == "MOUNTED_DIRECTLY");
  CHECK_MESSAGE(contains(r->warnings[0].message, "bad unit file setting"), r->warnings[0].message);
  CHECK(contains(r->warnings[0].message, "mounted bpf at /sys/fs/bpf directly"));
}

TEST_CASE("an optional unit that fails and cannot be mounted either is a warning, not an error") {
  SUBCASE("the mount point is missing (a container's read-only /sys)") {
    Node node;
    agent::testing::RecordingMounter mounter;
    mounter.fail_with(agent::make_error(Errc::NotFound, "mount -t bpf bpffs /sys/fs/bpf: the mount point does not exist"));
    node.services.script_jobs("sys-fs-bpf.mount", {{.result = "failed", .service_result = "exit-code"}});
    ApplyOptions o = node.options();
    o.mounter = &mounter;
    auto r = apply_plan(plan(), node.fs, node.services, node.clock, o);
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
    CHECK(mounter.calls().size() == 1);
    REQUIRE(r->warnings.size() == 1);
    CHECK(r->warnings[0].id == "OPTIONAL_UNIT_FAILED");
    CHECK_MESSAGE(contains(r->warnings[0].message, "sys-fs-bpf.mount start job failed"), r->warnings[0].message);
    CHECK(contains(r->warnings[0].message, "the mount point does not exist"));
    CHECK(r->actions.back() == UnitAction{"kubelet.service", "start", "done"});
    CHECK(std::count(r->actions.begin(), r->actions.end(),
                     UnitAction{"sys-fs-bpf.mount", "start", "failed: sys-fs-bpf.mount start job failed (state "
                                                             "failed/failed, result exit-code)"}) == 1);
  }
  SUBCASE("no mounter (an offline root, or no fallback): only the warning") {
    Node node;
    node.services.set_unknown("sys-fs-bpf.mount");
    auto r = node.apply(plan());
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
    REQUIRE(r->warnings.size() == 1);
    CHECK(contains(r->warnings[0].message, "sys-fs-bpf.mount"));
    CHECK(contains(r->warnings[0].message, "carrying on without it"));
    CHECK(node.services.state("kubelet.service")->active_state == "active");
  }
  SUBCASE("a required unit's failure is still an error") {
    Node node;
    agent::testing::RecordingMounter mounter;
    node.services.script_jobs("kubelet.service", {{.result = "failed"}});
    ApplyOptions o = node.options();
    o.mounter = &mounter;
    auto r = apply_plan(plan(), node.fs, node.services, node.clock, o);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Service);
    CHECK(mounter.calls().empty());
  }
  SUBCASE("an optional unit's job that outlives the deadline is still a timeout") {
    Node node;
    node.services.script_jobs("sys-fs-bpf.mount", {{.timeout = true}});
    auto r = node.apply(plan());
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Timeout);
  }
}

TEST_CASE("describe_plan marks a unit action that would fail late, and says which error it would be") {
  SUBCASE("a required unit systemd does not know: the real run's NotFound") {
    Node node;
    node.services.set_unknown("containerd.service");
    std::optional<agent::Error> would_fail;
    const std::string text = describe_plan(plan(), node.fs, node.services, false, &would_fail);
    CHECK_MESSAGE(contains(text, "  start containerd.service (now inactive) -- WOULD FAIL: systemd has no unit "
                                 "containerd.service; is it installed? (exit status of the real run)"),
                  text);
    // The whole plan is still there: files and the units after the failing one.
    CHECK(contains(text, "create  /etc/kubernetes/pki/ca.crt"));
    CHECK(contains(text, "  start kubelet.service"));
    REQUIRE(would_fail.has_value());
    CHECK(would_fail->code == Errc::NotFound);
    CHECK_FALSE(node.wrote_anything());
  }
  SUBCASE("an optional unit systemd cannot load is marked as the warning it would be") {
    Node node;
    node.services.set_state("sys-fs-bpf.mount", UnitState{"bad-setting", "inactive", "dead", "", 0});
    std::optional<agent::Error> would_fail;
    const std::string text = describe_plan(plan(), node.fs, node.services, false, &would_fail);
    CHECK_MESSAGE(contains(text, "  start sys-fs-bpf.mount (now inactive) -- WOULD FAIL: systemd cannot load "
                                 "sys-fs-bpf.mount (load state bad-setting); optional: a warning (and a direct "
                                 "mount), not an error"),
                  text);
    CHECK_FALSE(would_fail.has_value());
  }
  SUBCASE("a unit the plan writes is not unknown, and an offline root's jobs are skipped") {
    Node node;
    node.services.set_unknown("kubelet.service");
    node.services.set_unknown("containerd.service");
    std::optional<agent::Error> would_fail;
    const std::string text = describe_plan(plan(), node.fs, node.services, true, &would_fail);
    CHECK_MESSAGE(contains(text, "  enable kubelet.service\n"), text);
    CHECK(contains(text, "  start containerd.service (now inactive) -- skipped: offline root"));
    CHECK_FALSE(would_fail.has_value());
  }
}

TEST_CASE("a unit's then_run command runs once it is active, every run; its failure is a warning") {
  Node node;
  agent::testing::RecordingCommands commands;
  Plan p = plan();
  auto containerd = std::find_if(p.units.begin(), p.units.end(), [](const auto& u) { return u.unit == "containerd.service"; });
  REQUIRE(containerd != p.units.end());
  containerd->then_run = {"ctr", "images", "import", "/etc/eks/pause.tar"};
  ApplyOptions o = node.options();
  o.commands = &commands;

  commands.answers.insert_or_assign("ctr", std::string("unpacking localhost/kubernetes/pause:latest...done\n"));
  auto first = apply_plan(p, node.fs, node.services, node.clock, o);
  REQUIRE(first.has_value());
  REQUIRE(commands.calls.size() == 1);
  CHECK(commands.calls[0] == containerd->then_run);
  CHECK(std::find(first->actions.begin(), first->actions.end(),
                  UnitAction{"containerd.service", "then ctr", "done"}) != first->actions.end());
  CHECK(first->warnings.empty());

  // Nothing changed, containerd is left running, and the import still runs (nodeadm's PostLaunch).
  commands.answers.insert_or_assign("ctr", agent::make_error(Errc::Invalid, "ctr: exit status 1: content digest not found\nmore"));
  node.services.clear_calls();
  auto second = apply_plan(p, node.fs, node.services, node.clock, o);
  REQUIRE(second.has_value());
  CHECK(commands.calls.size() == 2);
  CHECK(std::find(second->actions.begin(), second->actions.end(),
                  UnitAction{"containerd.service", "then ctr", "failed: ctr: exit status 1: content digest not found"}) !=
        second->actions.end());
  REQUIRE(second->warnings.size() == 1);
  CHECK(second->warnings[0].id == "THEN_RUN_FAILED");
  CHECK(contains(second->warnings[0].message, "`ctr images import /etc/eks/pause.tar` after containerd.service"));
  CHECK(node.services.state("kubelet.service").value().active_state == "active");  // the node still joins

  // An offline root runs no unit, so nothing runs after one.
  Node offline;
  offline.services.fail_call("restart containerd.service", agent::make_error(Errc::Unsupported, "offline root"));
  offline.services.fail_call("start kubelet.service", agent::make_error(Errc::Unsupported, "offline root"));
  offline.services.fail_call("start sys-fs-bpf.mount", agent::make_error(Errc::Unsupported, "offline root"));
  REQUIRE(apply_plan(p, offline.fs, offline.services, offline.clock, o).has_value());
  CHECK(commands.calls.size() == 2);
}

TEST_CASE("describe_plan shows a unit's then_run command") {
  Node node;
  Plan p = plan();
  for (auto& u : p.units) {
    if (u.unit == "containerd.service") u.then_run = {"ctr", "images", "import", "/etc/eks/pause.tar"};
  }
  const std::string text = describe_plan(p, node.fs, node.services);
  CHECK(contains(text, "  then run ctr images import /etc/eks/pause.tar\n"));
  CHECK(contains(describe_plan(p, node.fs, node.services, /*offline=*/true),
                 "  then run ctr images import /etc/eks/pause.tar -- skipped: offline root\n"));
}
