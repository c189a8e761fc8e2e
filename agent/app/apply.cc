#include "agent/app/apply.h"

#include <algorithm>
#include <optional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/app/log.h"
#include "agent/compute/diagnosis.h"
#include "agent/compute/diff.h"
#include "agent/compute/mount_unit.h"

namespace agent::app {
namespace {

constexpr int kJournalLines = 20;

// Which units had an input change, and whether any unit file changed, given the changed paths.
struct ChangeSet {
  std::set<std::string> units;
  bool unit_files = false;
  bool empty() const { return units.empty() && !unit_files; }
  bool operator==(const ChangeSet&) const = default;
  ChangeSet& operator|=(const ChangeSet& o) {
    units.insert(o.units.begin(), o.units.end());
    unit_files |= o.unit_files;
    return *this;
  }
};

constexpr std::string_view kReloadLine = "daemon-reload";

// The actions a previous run left owed (kPendingPath); none when the file is absent or unreadable.
ChangeSet read_pending(const RootFsReader& fs) {
  ChangeSet owed;
  auto text = fs.read(kPendingPath);
  if (!text) return owed;
  std::string_view rest = *text;
  while (!rest.empty()) {
    const size_t nl = rest.find('\n');
    std::string_view line = rest.substr(0, nl);
    rest = nl == std::string_view::npos ? std::string_view() : rest.substr(nl + 1);
    if (line == kReloadLine) {
      owed.unit_files = true;
    } else if (!line.empty()) {
      owed.units.emplace(line);
    }
  }
  return owed;
}

std::string pending_text(const ChangeSet& cs) {
  std::string out;
  if (cs.unit_files) out += std::string(kReloadLine) + "\n";
  for (const auto& u : cs.units) out += u + "\n";
  return out;
}

// "daemon-reload, kubelet.service", for messages.
std::string pending_summary(const ChangeSet& cs) {
  std::vector<std::string> items;
  if (cs.unit_files) items.emplace_back(kReloadLine);
  items.insert(items.end(), cs.units.begin(), cs.units.end());
  return fmt::format("{}", fmt::join(items, ", "));
}

// The paths of `batch` and `plan.removals` whose bytes would change.
std::set<std::string> paths_that_would_change(const Plan& plan, const RootFsReader& fs,
                                              const std::vector<RootFs::FileContent>& batch) {
  std::set<std::string> out;
  for (const auto& f : batch) {
    auto current = fs.read(f.path);
    if (!current || *current != f.bytes) out.insert(f.path);
  }
  for (const auto& r : plan.removals) {
    if (fs.exists(r.path)) out.insert(r.path);
  }
  return out;
}

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
                      std::chrono::milliseconds settle, Deadline deadline, const CancelToken* cancel) {
  auto until = std::min(clock.now() + settle, deadline);
  while (true) {
    AGENT_TRY(UnitState st, services.state(unit));
    if (st.active_state == "failed" || st.sub_state == "auto-restart" ||
        st.active_state == "inactive") {
      return unit_failure(services, unit, "did not stay running after it started");
    }
    if (clock.now() >= until) return {};
    if (!sleep_until(clock, cancel, std::min(until, clock.now() + std::chrono::milliseconds(100)))) {
      return cancel->interrupted(fmt::format("while watching {} stay up after its start", unit));
    }
  }
}

std::string first_line(const std::string& s) { return s.substr(0, s.find('\n')); }

// Mounts what the plan's unit file for `unit` (as it is on the node now: it may have been kept)
// says, through `mounter`. Returns the "TYPE at WHERE" that was mounted. Errors: Unsupported when
// there is no mounter or `unit` is not a mount unit of the plan's, else the parse or mount error.
Result<std::string> mount_directly(const Plan& plan, const RootFsReader& fs, Mounter* mounter,
                                   const std::string& unit) {
  if (mounter == nullptr || !unit.ends_with(".mount")) {
    return make_error(Errc::Unsupported, "{} is not mounted by the agent itself", unit);
  }
  for (const auto& w : plan.files) {
    if (!w.unit_file || !w.path.ends_with("/" + unit)) continue;
    AGENT_TRY(std::string text, fs.read(w.path));
    AGENT_TRY(MountSpec spec, compute::mount_spec_from_unit(text));
    AGENT_TRY_STATUS(mounter->mount(spec));
    return fmt::format("{} at {}", spec.type.empty() ? spec.what : spec.type, spec.where);
  }
  return make_error(Errc::Unsupported, "the plan has no unit file for {}", unit);
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
  const CancelToken* cancel = options.cancel;
  if (is_cancelled(cancel)) return cancel->interrupted("before any file was written");

  // All files in one batch, so that they are made durable together (one flush, not one per file).
  std::vector<RootFs::FileContent> batch;
  for (const auto& w : plan.files) {
    if (w.only_if_absent && fs.exists(w.path)) continue;
    batch.push_back({w.path, w.bytes, w.mode});
  }

  // Record what this run will owe systemd before replacing anything (see kPendingPath), and keep
  // the record current as the owed actions get done.
  const ChangeSet owed = read_pending(fs);
  ChangeSet recorded = owed;
  auto record = [&](const ChangeSet& now) -> Status {
    if (now == recorded) return {};
    if (now.empty()) {
      auto removed = fs.remove(kPendingPath);
      if (!removed) return removed.error();
    } else {
      auto written = fs.write_atomic(kPendingPath, pending_text(now), 0644);
      if (!written) return written.error();
    }
    recorded = now;
    return {};
  };
  // After a step is done the record only shrinks; failing to shrink it makes a later run repeat
  // that step, which is safe, so it is not an error.
  auto record_progress = [&](const ChangeSet& now) {
    if (auto st = record(now); !st) {
      log::warn("PENDING_NOT_UPDATED", "{}; a later run may repeat a step", st.error().message);
    }
  };
  ChangeSet pending = owed;
  pending |= change_set(plan, paths_that_would_change(plan, fs, batch));
  if (auto st = record(pending); !st) return st.error().wrap("recording the unit actions this run owes");

  auto outcomes = fs.write_atomic_all(batch, cancel);
  if (!outcomes && outcomes.error().code == Errc::Interrupted) {
    record_progress(owed);  // nothing was replaced, so nothing new is owed
  }
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

  ChangeSet cs = owed;
  cs |= change_set(plan, changed);
  ChangeSet owed_now = owed;  // what this apply does of it: the deferred units' restarts stay owed
  for (const auto& unit : options.deferred) owed_now.units.erase(unit);
  if (!owed_now.empty()) {
    log::info("PENDING_ACTIONS", "finishing what an earlier run or phase left owed ({}): {}", kPendingPath,
              pending_summary(owed_now));
  }
  auto check_cancel = [&](std::string_view before) -> Status {
    if (!is_cancelled(cancel)) return {};
    return cancel->interrupted(fmt::format("before {} (the files are written; {} records what is left)",
                                           before, kPendingPath));
  };
  if (cs.unit_files) {
    AGENT_TRY_STATUS(check_cancel("daemon-reload"));
    AGENT_TRY_STATUS(services.reload());
    report.actions.push_back({"", "reload", "done"});
    pending.unit_files = false;
    record_progress(pending);
  }
  auto unit_done = [&](const std::string& unit) {
    if (pending.units.erase(unit) > 0) record_progress(pending);
  };

  std::string job;  // the job `act` asked for, for an optional unit's failure record
  auto act = [&](const UnitIntent& u) -> Status {
    job.clear();
    if (u.enable) {
      auto en = services.enable(u.unit);
      if (!en) return en.error().wrap("enabling {}", u.unit);
      report.actions.push_back({u.unit, "enable", "done"});
    }
    AGENT_TRY(UnitState st, services.state(u.unit));
    job = job_for(u, cs.units.count(u.unit) > 0, st);
    if (job.empty()) return {};
    auto result = services.run_job(u.unit, job, options.deadline);
    if (!result && result.error().code == Errc::Unsupported) {
      report.offline = true;
      report.actions.push_back({u.unit, job, "skipped: offline root"});
      return {};  // an offline root is started by its own boot, not by us
    }
    if (!result && result.error().code == Errc::NotFound) {
      return make_error(Errc::NotFound, "{} needs a {}, but systemd has no such unit; is it installed?",
                        u.unit, job);
    }
    if (!result) return result.error().wrap("{} {}", job, u.unit);
    report.actions.push_back({u.unit, job, *result});
    if (*result != "done") return unit_failure(services, u.unit, fmt::format("{} job {}", job, *result));
    if (u.check_stays_up) {
      AGENT_TRY_STATUS(check_stays_up(services, clock, u.unit, options.settle, options.deadline, cancel));
    }
    return {};
  };
  // An optional unit that failed: record why, mount a mount unit directly, and carry on.
  auto tolerate = [&](const UnitIntent& u, const Error& e) {
    const std::string why = first_line(e.message);
    const std::string verb = job.empty() ? "enable" : job;
    if (!report.actions.empty() && report.actions.back().unit == u.unit && report.actions.back().verb == verb) {
      report.actions.back().result = "failed: " + why;
    } else {
      report.actions.push_back({u.unit, verb, "failed: " + why});
    }
    std::string outcome = "carrying on without it (kubelet does not need it)";
    if (auto mounted = mount_directly(plan, fs, options.mounter, u.unit)) {
      report.actions.push_back({u.unit, "mount", "done"});
      report.warnings.push_back({Diagnostic::Level::Warning, "MOUNTED_DIRECTLY",
                                 fmt::format("{} failed ({}); mounted {} directly", u.unit, why, *mounted)});
    } else {
      if (mounted.error().code != Errc::Unsupported) {
        report.actions.push_back({u.unit, "mount", "failed: " + first_line(mounted.error().message)});
        outcome = fmt::format("mounting it directly failed too ({}); {}", first_line(mounted.error().message),
                              outcome);
      }
      report.warnings.push_back({Diagnostic::Level::Warning, "OPTIONAL_UNIT_FAILED",
                                 fmt::format("{} failed ({}); {}", u.unit, why, outcome)});
    }
    log::warn(report.warnings.back().id, "{}", report.warnings.back().message);
  };

  // A unit's follow-up command, once the unit is active: optional, so a failure is a warning.
  auto then_run = [&](const UnitIntent& u) {
    if (u.then_run.empty() || report.offline) return;  // an offline root's units are not running
    const std::string what = fmt::format("{}", fmt::join(u.then_run, " "));
    Result<std::string> ran = options.commands != nullptr
                                  ? options.commands->run(u.then_run)
                                  : Result<std::string>(make_error(Errc::Unsupported, "no command runner"));
    if (ran) {
      report.actions.push_back({u.unit, "then " + u.then_run.front(), "done"});
      return;
    }
    const std::string why = first_line(ran.error().message);
    report.actions.push_back({u.unit, "then " + u.then_run.front(), "failed: " + why});
    report.warnings.push_back({Diagnostic::Level::Warning, "THEN_RUN_FAILED",
                               fmt::format("`{}` after {} failed ({}); carrying on without it", what, u.unit, why)});
    log::warn(report.warnings.back().id, "{}", report.warnings.back().message);
  };

  for (const auto& u : plan.units) {
    if (options.deferred.count(u.unit) > 0) continue;
    AGENT_TRY_STATUS(check_cancel(u.unit));
    Status done = act(u);
    if (!done && u.optional && done.error().code != Errc::Timeout && done.error().code != Errc::Interrupted) {
      tolerate(u, done.error());
      done = {};
    } else if (done) {
      then_run(u);
    }
    if (!done) return done.error();
    unit_done(u.unit);
  }
  // Everything owed is done (a unit no longer planned included), except the deferred units' restarts.
  ChangeSet left;
  for (const auto& unit : pending.units) {
    if (options.deferred.count(unit) > 0) left.units.insert(unit);
  }
  record_progress(left);
  return report;
}

std::string describe_plan(const Plan& plan, const RootFsReader& fs, ServiceManager& services, bool offline,
                          std::optional<Error>* would_fail, const std::set<std::string>& deferred) {
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
  ChangeSet cs = read_pending(fs);
  if (!cs.empty()) out += fmt::format("owed    {} (left by an earlier run)\n", pending_summary(cs));
  cs |= change_set(plan, changed);
  out += "units:\n";
  if (cs.unit_files) out += "  daemon-reload\n";
  // A unit systemd will not know or load fails the real run late, after the files: say so here.
  auto will_fail = [&](const UnitIntent& u, const UnitState& st) -> std::optional<Error> {
    const bool written = std::any_of(plan.files.begin(), plan.files.end(), [&](const FileWrite& w) {
      return w.unit_file && w.path.ends_with("/" + u.unit);
    });
    if (st.load_state == "not-found" && !written) {
      return Error{Errc::NotFound, fmt::format("systemd has no unit {}; is it installed?", u.unit)};
    }
    if (st.load_state == "bad-setting" || st.load_state == "error" || st.load_state == "masked") {
      return Error{Errc::Service, fmt::format("systemd cannot load {} (load state {})", u.unit, st.load_state)};
    }
    return std::nullopt;
  };
  auto mark = [&](const UnitIntent& u, const std::optional<Error>& e) -> std::string {
    if (!e) return "";
    if (u.optional) {
      return fmt::format(" -- WOULD FAIL: {}; optional: a warning{}, not an error", e->message,
                         u.unit.ends_with(".mount") ? " (and a direct mount)" : "");
    }
    if (would_fail != nullptr && !*would_fail) *would_fail = e->wrap("predicted by --dry-run");
    return fmt::format(" -- WOULD FAIL: {} (exit status of the real run)", e->message);
  };
  for (const auto& u : plan.units) {
    if (deferred.count(u.unit) > 0) {
      out += fmt::format("  defer {} to the run phase{}\n", u.unit, cs.units.count(u.unit) ? " (restart owed)" : "");
      continue;
    }
    UnitState st = services.state(u.unit).value_or(UnitState{});
    const std::string verb = job_for(u, cs.units.count(u.unit) > 0, st);
    // Enabling needs the unit file, not a loaded unit, so only a missing file fails it.
    std::optional<Error> failure = will_fail(u, st);
    if (u.enable) {
      out += fmt::format("  enable {}{}\n", u.unit,
                         failure && failure->code == Errc::NotFound ? mark(u, failure) : "");
      if (failure && failure->code == Errc::NotFound) continue;
    }
    if (!verb.empty()) {
      out += fmt::format("  {} {} (now {}){}{}\n", verb, u.unit,
                         st.active_state.empty() ? "unknown" : st.active_state,
                         offline ? " -- skipped: offline root (started by its own boot)" : "",
                         offline ? "" : mark(u, failure));
    } else {
      out += fmt::format("  leave {} as it is ({})\n", u.unit,
                         st.active_state.empty() ? "no input changed" : st.active_state);
    }
    if (!u.then_run.empty()) {
      out += fmt::format("  then run {}{}\n", fmt::join(u.then_run, " "),
                         offline ? " -- skipped: offline root" : "");
    }
  }
  for (const auto& d : plan.diagnostics) {
    out += fmt::format("{} [{}] {}\n", d.level == Diagnostic::Level::Warning ? "warning:" : "note:",
                       d.id, d.message);
  }
  return out;
}

}  // namespace agent::app
