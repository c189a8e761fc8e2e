// SdBusServiceManager against a REAL systemd 252 as PID 1, in a throw-away nspawn container.
// Run through ctest (test "systemd_nspawn") or by hand:
//   tests/e2e/with-systemd.sh build-sys/systemd_tests
// Outside such a container every case but the first is skipped, and the first fails: these tests
// write to /etc/systemd/system and start units, which must never happen on a developer's host.
#include <doctest/doctest.h>
#include <systemd/sd-daemon.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdlib>
#include <thread>

#include "agent/platform/posix_root_fs.h"
#include "agent/platform/sdbus_service_manager.h"

using agent::Errc;
using agent::UnitState;
using agent::platform::PosixRootFs;
using agent::platform::SdBusServiceManager;
using namespace std::chrono_literals;

namespace {

// systemd is PID 1 (sd_booted) and says it runs in a container (it writes /run/systemd/container).
bool in_throwaway_container() {
  return ::sd_booted() > 0 && ::access("/run/systemd/container", F_OK) == 0;
}
const bool kInContainer = in_throwaway_container();

agent::Deadline in(std::chrono::milliseconds d) { return std::chrono::steady_clock::now() + d; }

// The node's real root plus a connection to the real manager.
struct Node {
  std::unique_ptr<PosixRootFs> fs;
  std::unique_ptr<SdBusServiceManager> sm;
  Node() {
    auto f = PosixRootFs::open("/");
    REQUIRE_MESSAGE(f.has_value(), f.error().message);
    fs = std::move(f).value();
    auto s = SdBusServiceManager::connect();
    REQUIRE_MESSAGE(s.has_value(), s.error().message);
    sm = std::move(s).value();
  }
  void put_unit(const std::string& name, const std::string& text) {
    auto w = fs->write_atomic("/etc/systemd/system/" + name, text, 0644);
    REQUIRE_MESSAGE(w.has_value(), w.error().message);
    auto r = sm->reload();
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
  }
  UnitState state(const std::string& unit) {
    auto s = sm->state(unit);
    REQUIRE_MESSAGE(s.has_value(), s.error().message);
    return *s;
  }
};

bool any_contains(const std::vector<std::string>& lines, std::string_view needle) {
  return std::any_of(lines.begin(), lines.end(),
                     [&](const std::string& l) { return l.find(needle) != std::string::npos; });
}

std::string joined(const std::vector<std::string>& lines) {
  std::string out;
  for (const auto& l : lines) out += "  | " + l + "\n";
  return out;
}

}  // namespace

TEST_CASE("the systemd tier runs inside a throw-away systemd container") {
  REQUIRE_MESSAGE(kInContainer,
                  "not inside a throw-away systemd; run: tests/e2e/with-systemd.sh <this binary>");
}

TEST_CASE("a simple service is enabled, started and restarted" * doctest::skip(!kInContainer)) {
  Node node;
  const std::string unit = "agent-test-sleeper.service";
  node.put_unit(unit,
                "[Unit]\nDescription=agent test sleeper\n"
                "[Service]\nExecStart=/bin/sleep infinity\n"
                "[Install]\nWantedBy=multi-user.target\n");

  const UnitState before = node.state(unit);
  CHECK(before.load_state == "loaded");
  CHECK(before.active_state == "inactive");
  CHECK(before.active_enter_usec == 0);

  auto e = node.sm->enable(unit);
  REQUIRE_MESSAGE(e.has_value(), e.error().message);
  CHECK(node.fs->exists("/etc/systemd/system/multi-user.target.wants/" + unit));
  auto again = node.sm->enable(unit);
  CHECK_MESSAGE(again.has_value(), again.error().message);
  REQUIRE(node.sm->reload().has_value());

  auto start = node.sm->run_job(unit, "start", in(30s));
  REQUIRE_MESSAGE(start.has_value(), start.error().message);
  CHECK(*start == "done");
  const UnitState started = node.state(unit);
  CHECK(started.active_state == "active");
  CHECK(started.sub_state == "running");
  CHECK(started.result == "success");
  CHECK(started.active_enter_usec > 0);

  auto restart = node.sm->run_job(unit, "restart", in(30s));
  REQUIRE_MESSAGE(restart.has_value(), restart.error().message);
  CHECK(*restart == "done");
  const UnitState restarted = node.state(unit);
  CHECK(restarted.active_state == "active");
  CHECK(restarted.sub_state == "running");
  CHECK(restarted.active_enter_usec > started.active_enter_usec);

  auto verb = node.sm->run_job(unit, "reload-or-restart", in(30s));
  REQUIRE_FALSE(verb.has_value());
  CHECK(verb.error().code == Errc::Invalid);
}

TEST_CASE("a failing oneshot reports 'failed', a failed state and its journal" *
          doctest::skip(!kInContainer)) {
  Node node;
  const std::string unit = "agent-test-boom.service";
  node.put_unit(unit, "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'echo boom-marker; exit 3'\n");

  auto r = node.sm->run_job(unit, "start", in(30s));
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  CHECK(*r == "failed");
  const UnitState st = node.state(unit);
  CHECK(st.active_state == "failed");
  CHECK(st.sub_state == "failed");
  CHECK(st.result == "exit-code");

  // The unit's stdout reaches the journal asynchronously; give journald a moment.
  std::vector<std::string> logs;
  for (auto until = in(5s); std::chrono::steady_clock::now() < until; std::this_thread::sleep_for(50ms)) {
    logs = node.sm->recent_logs(unit, 50);
    if (any_contains(logs, "boom-marker") && any_contains(logs, "exit-code")) break;
  }
  CHECK_MESSAGE(any_contains(logs, "boom-marker"), joined(logs));  // _SYSTEMD_UNIT= (its output)
  CHECK_MESSAGE(any_contains(logs, "exit-code"), joined(logs));    // UNIT= (systemd about it)
  CHECK(node.sm->recent_logs(unit, 1).size() == 1);
  CHECK(node.sm->recent_logs(unit, 0).empty());
  CHECK(node.sm->recent_logs("agent-test-never-ran.service", 10).empty());
}

TEST_CASE("an unknown unit is NotFound for jobs and enable, and 'not-found' for state" *
          doctest::skip(!kInContainer)) {
  Node node;
  const std::string unit = "agent-test-nonexistent.service";
  auto job = node.sm->run_job(unit, "start", in(10s));
  REQUIRE_FALSE(job.has_value());
  CHECK(job.error().code == Errc::NotFound);
  CHECK_MESSAGE(job.error().message.find(unit) != std::string::npos, job.error().message);

  auto restart = node.sm->run_job(unit, "restart", in(10s));
  REQUIRE_FALSE(restart.has_value());
  CHECK(restart.error().code == Errc::NotFound);

  auto enable = node.sm->enable(unit);
  REQUIRE_FALSE(enable.has_value());
  CHECK_MESSAGE(enable.error().code == Errc::NotFound, enable.error().message);
  CHECK(enable.error().message.find(unit) != std::string::npos);

  const UnitState st = node.state(unit);
  CHECK(st.load_state == "not-found");
  CHECK(st.active_state == "inactive");
  CHECK(st.result.empty());
}

TEST_CASE("a job that outlives its deadline is a Timeout, on time" * doctest::skip(!kInContainer)) {
  Node node;
  const std::string unit = "agent-test-slow.service";
  node.put_unit(unit, "[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sleep infinity\n");

  const auto t0 = std::chrono::steady_clock::now();
  auto r = node.sm->run_job(unit, "start", t0 + 1s);
  const auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Timeout);
  CHECK_MESSAGE(r.error().message.find(unit) != std::string::npos, r.error().message);
  CHECK(took >= 1s);
  CHECK(took < 3s);
  const UnitState st = node.state(unit);
  CHECK(st.active_state == "activating");
  CHECK(st.sub_state == "start-pre");

  auto late = node.sm->run_job(unit, "start", t0);  // a deadline already in the past
  REQUIRE_FALSE(late.has_value());
  CHECK(late.error().code == Errc::Timeout);
}

TEST_CASE("connect reports an unreachable bus as Unavailable") {
  const char* saved = std::getenv("DBUS_SYSTEM_BUS_ADDRESS");
  const std::string restore = saved != nullptr ? saved : "";
  ::setenv("DBUS_SYSTEM_BUS_ADDRESS", "unix:path=/nonexistent/agent-test/system_bus_socket", 1);
  auto r = SdBusServiceManager::connect();
  if (saved != nullptr) {
    ::setenv("DBUS_SYSTEM_BUS_ADDRESS", restore.c_str(), 1);
  } else {
    ::unsetenv("DBUS_SYSTEM_BUS_ADDRESS");
  }
  REQUIRE_FALSE(r.has_value());
  CHECK_MESSAGE(r.error().code == Errc::Unavailable, r.error().message);
}

TEST_CASE("a cancelled token ends a job wait within one poll and leaves the job to systemd" *
          doctest::skip(!kInContainer)) {
  Node node;
  agent::CancelToken token;
  auto s = SdBusServiceManager::connect(&token);
  REQUIRE_MESSAGE(s.has_value(), s.error().message);
  const std::string unit = "agent-test-cancelled-wait.service";
  node.put_unit(unit, "[Service]\nExecStartPre=/bin/sleep 30\nExecStart=/bin/sleep infinity\n");

  std::thread signal([&token] {
    std::this_thread::sleep_for(300ms);
    token.cancel(SIGTERM);
  });
  const auto t0 = std::chrono::steady_clock::now();
  auto r = (*s)->run_job(unit, "start", t0 + 30s);
  const auto took = std::chrono::steady_clock::now() - t0;
  signal.join();
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Interrupted);
  CHECK_MESSAGE(r.error().message.find("interrupted by SIGTERM") != std::string::npos, r.error().message);
  CHECK(took >= 300ms);
  CHECK(took < 300ms + 2 * agent::kCancelPoll);
  CHECK(node.state(unit).active_state == "activating");  // systemd carries on with the job
}

TEST_CASE("recent_logs shows the lines of the last start only, waiting for its output to reach the journal" *
          doctest::skip(!kInContainer)) {
  Node node;
  const std::string unit = "agent-test-invocations.service";
  const std::string marker = "/run/agent-test-invocations.count";
  // Each run prints its ordinal and exits at once, so its output races systemd's exit message.
  node.put_unit(unit, "[Service]\nType=oneshot\nExecStart=/bin/sh -c 'n=$(($(cat " + marker +
                          " 2>/dev/null || echo 0) + 1)); echo $n >" + marker +
                          "; echo invocation-$n; exit 3'\n");
  for (int i = 1; i <= 3; ++i) {
    auto r = node.sm->run_job(unit, "start", in(30s));
    REQUIRE_MESSAGE(r.has_value(), r.error().message);
    CHECK(*r == "failed");
    const auto logs = node.sm->recent_logs(unit, 50);  // no retry loop: it waits by itself
    CHECK_MESSAGE(any_contains(logs, "invocation-" + std::to_string(i)), joined(logs));
    CHECK_MESSAGE(any_contains(logs, "exit-code"), joined(logs));
    for (int earlier = 1; earlier < i; ++earlier) {
      CHECK_MESSAGE(!any_contains(logs, "invocation-" + std::to_string(earlier)), joined(logs));
    }
  }
}
