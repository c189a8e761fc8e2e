#include "agent/app/apply.h"

#include <set>

#include <fmt/format.h>

#include "agent/app/log.h"
#include "agent/compute/diagnosis.h"
#include "agent/compute/diff.h"

namespace agent::app {
namespace {

constexpr int kJournalLines = 20;

// Which units had an input change, and whether any unit file changed, given the changed paths.
struct ChangeSet {
  std::set<std::string> units;
  bool unit_files = false;
};

ChangeSet change_set(const Plan& plan, const std::set<std::string>& changed_paths) {
  ChangeSet cs;
  for (const auto& w : plan.files) {
    if (!changed_paths.count(w.path)) continue;
    cs.unit_files |= w.unit_file;
    cs.units.insert(w.restarts.begin(), w.restarts.end());
  }
  for (const auto& r : plan.removals) {
    if (!changed_paths.count(r.path)) continue;
    cs.unit_files |= r.unit_file;
    cs.units.insert(r.restarts.begin(), r.restarts.end());
  }
  return cs;
}

bool is_active(const UnitState& s) { return s.active_state == "active" || s.active_state == "reloading"; }

// The job a unit needs: "" (none), "start" or "restart".
std::string job_for(const UnitIntent& u, bool inputs_changed, const UnitState& s) {
  const bool active = is_active(s);
  if (u.restart_on_change && inputs_changed) return active ? "restart" : "start";
  if (u.start_if_inactive && !active) return "start";
  return "";
}

Error unit_failure(ServiceManager& services, const std::string& unit, const std::string& what) {
  UnitState st = services.state(unit).value_or(UnitState{});
  std::vector<std::string> logs = services.recent_logs(unit, kJournalLines);
  std::string msg = fmt::format("{} {} (state {}/{}, result {})", unit, what, st.active_state,
                                st.sub_state, st.result.empty() ? "-" : st.result);
  if (!logs.empty()) {
    msg += fmt::format("\nlast {} journal lines of {}:", logs.size(), unit);
    for (const auto& l : logs) msg += "\n  | " + l;
  }
  msg += "\ndiagnosis: " + compute::diagnose_unit_failure(unit, st, logs);
  return Error{Errc::Service, msg};
}

// After a job, a simple service may still die a moment later (systemd reports the job "done" once
// the process is forked). Watch it for `settle`, or until the deadline.
Status check_stays_up(ServiceManager& services, Clock& clock, const std::string& unit,
                      std::chrono::milliseconds settle, Deadline deadline) {
  auto until = std::min(clock.now() + settle, deadline);
  while (true) {
    AGENT_TRY(UnitState st, services.state(unit));
    if (st.active_state == "failed" || st.sub_state == "auto-restart" ||
        st.active_state == "inactive") {
      return unit_failure(services, unit, "did not stay running after it started");
    }
    if (clock.now() >= until) return {};
    clock.sleep_until(std::min(until, clock.now() + std::chrono::milliseconds(100)));
  }
}

}  // namespace

int ApplyReport::changed() const {
  int n = 0;
  for (const auto& f : files) {
    if (f.outcome == "created" || f.outcome == "updated" || f.outcome == "removed") ++n;
  }
  return n;
}

Result<ApplyReport> apply_plan(const Plan& plan, RootFs& fs, ServiceManager& services, Clock& clock,
                               const ApplyOptions& options, ApplyReport* partial) {
  ApplyReport scratch;
  ApplyReport& report = partial != nullptr ? *partial : scratch;
  std::set<std::string> changed;

  // All files in one batch, so that they are made durable together (one flush, not one per file).
  std::vector<RootFs::FileContent> batch;
  for (const auto& w : plan.files) {
    if (w.only_if_absent && fs.exists(w.path)) continue;
    batch.push_back({w.path, w.bytes, w.mode});
  }
  auto outcomes = fs.write_atomic_all(batch);
  if (!outcomes) return outcomes.error().wrap("writing the node's files");
  size_t next = 0;
  for (const auto& w : plan.files) {
    if (next < batch.size() && batch[next].path == w.path) {
      const WriteOutcome o = (*outcomes)[next++];
      report.files.push_back({w.path, outcome_name(o)});
      if (o != WriteOutcome::Unchanged) changed.insert(w.path);
    } else {
      report.files.push_back({w.path, "kept"});
    }
  }
  for (const auto& r : plan.removals) {
    auto removed = fs.remove(r.path);
    if (!removed) return removed.error().wrap("removing {}", r.path);
    report.files.push_back({r.path, *removed ? "removed" : "absent"});
    if (*removed) changed.insert(r.path);
  }

  const ChangeSet cs = change_set(plan, changed);
  if (cs.unit_files) {
    AGENT_TRY_STATUS(services.reload());
    report.actions.push_back({"", "reload", "done"});
  }

  for (const auto& u : plan.units) {
    if (u.enable) {
      auto en = services.enable(u.unit);
      if (!en) return en.error().wrap("enabling {}", u.unit);
      report.actions.push_back({u.unit, "enable", "done"});
    }
    AGENT_TRY(UnitState st, services.state(u.unit));
    const std::string verb = job_for(u, cs.units.count(u.unit) > 0, st);
    if (verb.empty()) continue;
    auto result = services.run_job(u.unit, verb, options.deadline);
    if (!result && result.error().code == Errc::Unsupported) {
      report.offline = true;
      report.actions.push_back({u.unit, verb, "skipped: offline root"});
      continue;
    }
    if (!result && result.error().code == Errc::NotFound) {
      return make_error(Errc::NotFound, "{} needs a {}, but systemd has no such unit; is it installed?",
                        u.unit, verb);
    }
    if (!result) return result.error().wrap("{} {}", verb, u.unit);
    report.actions.push_back({u.unit, verb, *result});
    if (*result != "done") return unit_failure(services, u.unit, fmt::format("{} job {}", verb, *result));
    if (u.check_stays_up) {
      AGENT_TRY_STATUS(check_stays_up(services, clock, u.unit, options.settle, options.deadline));
    }
  }
  return report;
}

std::string describe_plan(const Plan& plan, const RootFsReader& fs, ServiceManager& services) {
  std::string out;
  std::set<std::string> changed;
  for (const auto& w : plan.files) {
    auto current = fs.read(w.path);
    if (w.only_if_absent && current) {
      out += fmt::format("keep    {} (exists; only written when absent)\n", w.path);
      continue;
    }
    const bool same = current && *current == w.bytes;
    if (same) {
      out += fmt::format("same    {}\n", w.path);
      continue;
    }
    changed.insert(w.path);
    out += fmt::format("{} {} (mode {:04o}, {} bytes)\n", current ? "update " : "create ", w.path,
                       w.mode, w.bytes.size());
    if (w.secret) {
      out += "        (content not shown)\n";
    } else {
      out += compute::unified_diff(current ? std::string_view(*current) : std::string_view(),
                                   w.bytes, w.path);
    }
  }
  for (const auto& r : plan.removals) {
    if (fs.exists(r.path)) {
      changed.insert(r.path);
      out += fmt::format("remove  {}\n", r.path);
    }
  }
  const ChangeSet cs = change_set(plan, changed);
  out += "units:\n";
  if (cs.unit_files) out += "  daemon-reload\n";
  for (const auto& u : plan.units) {
    if (u.enable) out += fmt::format("  enable {}\n", u.unit);
    UnitState st = services.state(u.unit).value_or(UnitState{});
    const std::string verb = job_for(u, cs.units.count(u.unit) > 0, st);
    if (!verb.empty()) {
      out += fmt::format("  {} {} (now {})\n", verb, u.unit,
                         st.active_state.empty() ? "unknown" : st.active_state);
    } else {
      out += fmt::format("  leave {} as it is ({})\n", u.unit,
                         st.active_state.empty() ? "no input changed" : st.active_state);
    }
  }
  for (const auto& d : plan.diagnostics) {
    out += fmt::format("{} [{}] {}\n", d.level == Diagnostic::Level::Warning ? "warning:" : "note:",
                       d.id, d.message);
  }
  return out;
}

}  // namespace agent::app
