// ServiceManager: systemd's manager, as the agent needs it.
#pragma once
#include <chrono>
#include <cstdint>
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent {

using Deadline = std::chrono::steady_clock::time_point;

struct UnitState {
  std::string load_state;    // loaded, not-found, ...
  std::string active_state;  // active, inactive, failed, activating, ...
  std::string sub_state;     // running, dead, auto-restart, ...
  std::string result;        // Service.Result: success, exit-code, ...
  uint64_t active_enter_usec = 0;  // ActiveEnterTimestamp (CLOCK_REALTIME usec), 0 if never
  bool operator==(const UnitState&) const = default;
};

class ServiceManager {
 public:
  virtual ~ServiceManager() = default;
  // daemon-reload; returns when the manager has re-read its units.
  virtual Status reload() = 0;
  // Enables a unit file (creates its [Install] symlinks). Idempotent: enabling an enabled unit
  // changes nothing. Errors: NotFound if the unit file does not exist.
  virtual Status enable(const std::string& unit) = 0;
  // Starts (verb "start"), restarts (verb "restart") or stops (verb "stop") a unit and waits for its job to finish
  // within the deadline. Returns the job result ("done", "failed", "dependency", "timeout", ...).
  // Errors: NotFound for an unknown unit, Timeout if the job outlives the deadline, Unsupported
  // when units cannot be run (offline root).
  virtual Result<std::string> run_job(const std::string& unit, const std::string& verb,
                                      Deadline deadline) = 0;
  // Current state of a unit. A unit systemd does not know is load_state "not-found".
  virtual Result<UnitState> state(const std::string& unit) = 0;
  // The last `lines` journal messages of the unit (oldest first); empty when unavailable.
  virtual std::vector<std::string> recent_logs(const std::string& unit, int lines) = 0;
};

}  // namespace agent
