#include "tests/support/recording_service_manager.h"

#include <algorithm>

namespace agent::testing {

void RecordingServiceManager::set_unknown(const std::string& unit) { unknown_.insert(unit); }

void RecordingServiceManager::script_jobs(const std::string& unit, std::vector<JobScript> scripts) {
  scripts_[unit] = std::move(scripts);
}

void RecordingServiceManager::fail_call(const std::string& call, Error error) {
  failures_.insert_or_assign(call, std::move(error));
}

void RecordingServiceManager::set_state(const std::string& unit, UnitState state) {
  states_[unit] = std::move(state);
}

void RecordingServiceManager::add_logs(const std::string& unit,
                                       const std::vector<std::string>& lines) {
  auto& log = logs_[unit];
  log.insert(log.end(), lines.begin(), lines.end());
}

std::optional<Error> RecordingServiceManager::record(const std::string& call) {
  calls_.push_back(call);
  if (auto it = failures_.find(call); it != failures_.end()) return it->second;
  return std::nullopt;
}

UnitState& RecordingServiceManager::unit_state(const std::string& unit) {
  auto [it, inserted] = states_.try_emplace(unit);
  if (inserted) it->second = UnitState{"loaded", "inactive", "dead", "success", 0};
  return it->second;
}

Status RecordingServiceManager::reload() {
  if (auto e = record("reload")) return *e;
  return {};
}

Status RecordingServiceManager::enable(const std::string& unit) {
  if (auto e = record("enable " + unit)) return *e;
  if (unknown_.count(unit)) return make_error(Errc::NotFound, "enabling {}: Unit file {} does not exist.", unit, unit);
  enabled_.insert(unit);
  return {};
}

Result<std::string> RecordingServiceManager::run_job(const std::string& unit,
                                                     const std::string& verb, Deadline deadline) {
  if (auto e = record(verb + " " + unit)) return *e;
  last_deadline_ = deadline;
  if (verb != "start" && verb != "restart" && verb != "stop")
    return make_error(Errc::Invalid, "unsupported job verb '{}' for {}", verb, unit);
  if (unknown_.count(unit)) return make_error(Errc::NotFound, "{} {}: Unit {} not found.", verb, unit, unit);
  if (verb == "stop") {  // systemd: stopping a stopped unit is a job that is done at once
    UnitState& st = unit_state(unit);
    st.active_state = "inactive";
    st.sub_state = "dead";
    return std::string("done");
  }

  JobScript script;
  if (auto it = scripts_.find(unit); it != scripts_.end() && !it->second.empty()) {
    script = it->second.front();
    if (it->second.size() > 1) it->second.erase(it->second.begin());
  }
  add_logs(unit, script.logs);
  UnitState& st = unit_state(unit);
  if (script.timeout) {
    st.active_state = "activating";
    st.sub_state = "start";
    return make_error(Errc::Timeout, "{} {}: job did not finish before the deadline", verb, unit);
  }
  if (script.result == "done") {
    if (verb == "restart" || st.active_state != "active") st.active_enter_usec = (clock_usec_ += 1'000'000);
    st.active_state = "active";
    st.sub_state = "running";
    st.result = "success";
  } else {
    st.active_state = "failed";
    st.sub_state = "failed";
    st.result = script.service_result;
  }
  return script.result;
}

Result<UnitState> RecordingServiceManager::state(const std::string& unit) {
  if (unknown_.count(unit)) return UnitState{"not-found", "inactive", "dead", "", 0};
  return unit_state(unit);
}

std::vector<std::string> RecordingServiceManager::recent_logs(const std::string& unit, int lines) {
  auto it = logs_.find(unit);
  if (it == logs_.end() || lines <= 0) return {};
  const auto& log = it->second;
  size_t n = std::min(log.size(), static_cast<size_t>(lines));
  return std::vector<std::string>(log.end() - static_cast<std::ptrdiff_t>(n), log.end());
}

}  // namespace agent::testing
