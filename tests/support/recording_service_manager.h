// RecordingServiceManager: a ServiceManager fake that records calls and keeps per-unit state.
//
// calls() holds one string per mutating call, in order, including failed ones:
//   "reload", "enable kubelet.service", "start kubelet.service", "restart containerd.service"
// (state() and recent_logs() are queries and are not recorded).
//
// Every unit is known (load_state "loaded", inactive/dead) unless set_unknown() says otherwise;
// an unknown unit makes enable/run_job fail with NotFound and state() report "not-found".
// A job's outcome comes from script_jobs(); without a script it is "done":
//   done    -> active/running, Service.Result "success"; active_enter_usec is bumped by restart
//              always and by start only when the unit was not active (systemd's no-op start).
//   failed (or any other result) -> failed/failed, Service.Result from the script
//              ("exit-code" by default), the script's log lines appended to recent_logs().
//   timeout -> run_job returns Errc::Timeout, as if the deadline passed; state activating/start.
// The deadline itself is only recorded (last_deadline()), never compared with a clock, so tests
// using a ManualClock stay deterministic.
#pragma once
#include <map>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/ports/service_manager.h"

namespace agent::testing {

class RecordingServiceManager final : public ServiceManager {
 public:
  struct JobScript {
    std::string result = "done";          // JobRemoved result: done, failed, dependency, ...
    bool timeout = false;                 // run_job returns Errc::Timeout instead
    std::string service_result = "exit-code";  // Service.Result when the job did not succeed
    std::vector<std::string> logs;        // appended to the unit's journal when the job runs
  };

  // --- scripting ---
  void set_unknown(const std::string& unit);
  // The next jobs of `unit` take these scripts in order; the last one then repeats.
  void script_jobs(const std::string& unit, std::vector<JobScript> scripts);
  // Makes the call whose record equals `call` (e.g. "reload", "enable kubelet.service") fail
  // with `error` every time; the call is still recorded.
  void fail_call(const std::string& call, Error error);
  void set_state(const std::string& unit, UnitState state);
  void add_logs(const std::string& unit, const std::vector<std::string>& lines);

  // --- inspection ---
  const std::vector<std::string>& calls() const { return calls_; }
  void clear_calls() { calls_.clear(); }
  bool enabled(const std::string& unit) const { return enabled_.count(unit) > 0; }
  std::optional<Deadline> last_deadline() const { return last_deadline_; }

  // --- ServiceManager ---
  Status reload() override;
  Status enable(const std::string& unit) override;
  Result<std::string> run_job(const std::string& unit, const std::string& verb,
                              Deadline deadline) override;
  Result<UnitState> state(const std::string& unit) override;
  std::vector<std::string> recent_logs(const std::string& unit, int lines) override;

 private:
  // Records `call` and returns its scripted failure, if any.
  std::optional<Error> record(const std::string& call);
  UnitState& unit_state(const std::string& unit);

  std::vector<std::string> calls_;
  std::map<std::string, Error> failures_;
  std::set<std::string> unknown_;
  std::set<std::string> enabled_;
  std::map<std::string, std::vector<JobScript>> scripts_;
  std::map<std::string, UnitState> states_;
  std::map<std::string, std::vector<std::string>> logs_;
  std::optional<Deadline> last_deadline_;
  uint64_t clock_usec_ = 1'700'000'000'000'000;  // fake CLOCK_REALTIME for active_enter_usec
};

}  // namespace agent::testing
