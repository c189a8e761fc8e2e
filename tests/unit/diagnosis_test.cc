#include "agent/compute/diagnosis.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

using agent::UnitState;
using agent::compute::diagnose_unit_failure;

namespace {

const UnitState kFailed{"loaded", "failed", "failed", "exit-code", 0};

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("a unit failure is diagnosed from its state and journal lines") {
  struct Row {
    std::string what;
    UnitState state;
    std::vector<std::string> logs;
    std::vector<std::string> mentions;
  };
  const std::vector<Row> rows = {
      {"unit not installed", {"not-found", "inactive", "dead", "", 0}, {}, {"not installed"}},
      {"binary missing (systemd status)",
       kFailed,
       {"kubelet.service: Main process exited, code=exited, status=203/EXEC"},
       {"203/EXEC", "missing or not executable"}},
      {"binary missing (executor message)",
       kFailed,
       {"kubelet.service: Failed to locate executable /usr/bin/kubelet: No such file or directory"},
       {"203/EXEC"}},
      {"binary missing (step EXEC)", kFailed, {"Failed at step EXEC spawning /usr/bin/kubelet"}, {"203/EXEC"}},
      {"bad kubelet config",
       kFailed,
       {"E0101 run.go:74] \"command failed\" err=\"failed to load kubelet config file, path: "
        "/etc/kubernetes/kubelet/kubelet-config.json\""},
       {"kubelet-config.json", "--kubelet-extra-args"}},
      {"unknown flag", kFailed, {"Error: unknown flag: --max-podz"}, {"command-line flag", "--kubelet-extra-args"}},
      {"unknown shorthand flag", kFailed, {"Error: unknown shorthand flag: 'x' in -x"}, {"--kubelet-extra-args"}},
      {"kubeconfig trouble",
       kFailed,
       {"failed to run Kubelet: invalid kubeconfig: stat /var/lib/kubelet/kubeconfig: no such file"},
       {"/var/lib/kubelet/kubeconfig", "CA"}},
      {"kubeconfig named only in kubelet's command line and FLAG lines is no diagnosis",
       kFailed,
       {"fake-kubelet: started with: --kubeconfig /var/lib/kubelet/kubeconfig",
        "FLAG: --kubeconfig=\"/var/lib/kubelet/kubeconfig\""},
       {"exited with an error"}},
      {"port taken", kFailed, {"listen tcp 0.0.0.0:10250: bind: address already in use"}, {"could not bind"}},
      {"generic exit code", kFailed, {"something went wrong"}, {"exited with an error", "exit-code", "journalctl -u kubelet.service"}},
      {"restarting", {"loaded", "activating", "auto-restart", "", 0}, {}, {"exited with an error", "unknown"}},
      {"other state", {"loaded", "inactive", "dead", "success", 0}, {}, {"inactive (dead)", "journalctl -u kubelet.service"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const std::string d = diagnose_unit_failure("kubelet.service", row.state, row.logs);
    CHECK(d.find('\n') == std::string::npos);
    for (const std::string& m : row.mentions) {
      CAPTURE(m);
      CHECK_MESSAGE(contains(d, m), d);
    }
  }
}

TEST_CASE("the more specific cause wins when several journal lines match") {
  const std::vector<std::string> logs = {
      "Error: unknown flag: --foo",
      "kubelet.service: Main process exited, code=exited, status=203/EXEC",
  };
  CHECK(contains(diagnose_unit_failure("kubelet.service", kFailed, logs), "203/EXEC"));
}

TEST_CASE("the diagnosis names the unit it is about") {
  const std::string d = diagnose_unit_failure("containerd.service", kFailed, {});
  CHECK(contains(d, "containerd.service"));
  CHECK_FALSE(contains(d, "kubelet"));
}
