// apply: executes a Plan through the RootFs and ServiceManager ports, and describes what it would
// do for --dry-run. Files first (each atomically; unchanged files untouched), then one
// daemon-reload if a unit file changed, then units in plan order: enable, start what is not
// running, restart what had an input change, and check that kubelet stays up.
//
// A run that replaces files but stops before the unit actions they call for (SIGTERM, a failed
// job, a crash) must not leave them owed forever: the next run finds the files already up to date
// and would see no change. So the owed actions are recorded in kPendingPath before the first file
// is replaced, merged into every later run's changes, and the record is removed once all unit
// actions are done. /run is a tmpfs; after a reboot every unit starts afresh anyway.
#pragma once
#include <chrono>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/model/plan.h"
#include "agent/model/result.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"
#include "agent/ports/command_runner.h"
#include "agent/ports/mounter.h"
#include "agent/ports/root_fs.h"
#include "agent/ports/service_manager.h"

namespace agent::app {

// One line per owed action: "daemon-reload" or the name of a unit to restart.
inline constexpr const char* kPendingPath = "/run/eks-node-agent/pending-units";

struct FileChange {
  std::string path;
  std::string outcome;  // created, updated, unchanged, kept (existing, only-if-absent), removed, absent
  bool operator==(const FileChange&) const = default;
};

struct UnitAction {
  std::string unit;
  std::string verb;    // reload, enable, start, restart; "then PROGRAM" for a then_run command
  std::string result;  // done, failed, ..., or "skipped: offline root"
  bool operator==(const UnitAction&) const = default;
};

struct ApplyReport {
  std::vector<FileChange> files;
  std::vector<UnitAction> actions;
  bool offline = false;  // units could not be started (offline root)
  // Optional steps that failed (the node works without them), each with its reason; also logged.
  std::vector<Diagnostic> warnings;
  int changed() const;
};

struct ApplyOptions {
  Deadline deadline;
  std::chrono::milliseconds settle{1500};
  const CancelToken* cancel = nullptr;  // SIGTERM/SIGINT; null: cannot be interrupted
  // Mounts what a mount unit says when systemd refuses the unit (null: no such fallback).
  Mounter* mounter = nullptr;
  // Units whose jobs this apply leaves to a later one (nodeadm's config phase defers containerd
  // and kubelet to its run phase, which may be another process): their intents are skipped and the
  // restarts they are owed stay recorded in kPendingPath.
  std::set<std::string> deferred;
  // Runs a unit's then_run command (null: such commands are skipped with a warning).
  CommandRunner* commands = nullptr;
};

// Errors: Io/Denied from the file system (the file named; files written before it stay written,
// each one complete), Service when a unit job fails or kubelet does not stay up (the message holds
// the unit's last journal lines and a diagnosis), Timeout when the deadline passes, NotFound for a
// unit systemd does not know, Interrupted when options.cancel is set: before any file is replaced
// (nothing changed), or after the files, between unit actions or inside a job wait or the settle
// window (the rest is recorded in kPendingPath for the next run). Never with a file half written.
//
// An optional unit (UnitIntent::optional) that fails any other way is not an error: a mount unit
// that systemd will not run is mounted directly from its [Mount] section through
// options.mounter; when that is not possible either, the run goes on and report.warnings says
// why (the action's result starts with "failed:"). Timeout and Interrupted stay errors.
// A unit's then_run command runs once the unit is active (not when its job was skipped on an
// offline root); its failure is a warning (THEN_RUN_FAILED) and the action's result "failed: ...".
Result<ApplyReport> apply_plan(const Plan& plan, RootFs& fs, ServiceManager& services, Clock& clock,
                               const ApplyOptions& options, ApplyReport* partial = nullptr);

// The --dry-run text: each file with a unified diff against what is there (secret files by size
// only), each removal, and the unit actions a real run would take given the units' current state
// (including those an interrupted run left in kPendingPath). `offline`: the service manager cannot
// run jobs (they are shown as skipped). A unit action that would fail after the files are written
// is marked "-- WOULD FAIL: why": a unit systemd does not know and the plan does not write
// (NotFound), one it cannot load (bad-setting, error, masked: Service). For a required unit the
// first such error is stored in *would_fail (when given), so that the dry run can end with the real
// run's exit status; an optional unit's is marked as the warning it would be. `deferred` as in ApplyOptions.
std::string describe_plan(const Plan& plan, const RootFsReader& fs, ServiceManager& services,
                          bool offline = false, std::optional<Error>* would_fail = nullptr,
                          const std::set<std::string>& deferred = {});

}  // namespace agent::app
