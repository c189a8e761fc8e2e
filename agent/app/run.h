// The bootstrap command: gather -> compute -> apply, timed per phase, with the status file and the
// summary line. main builds the real adapters; tests pass fakes.
#pragma once
#include <functional>
#include <map>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/app/apply.h"
#include "agent/app/gather.h"
#include "agent/cli/options.h"
#include "agent/model/facts.h"
#include "agent/model/plan.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"

namespace agent::app {

inline constexpr const char* kStatusPath = "/run/eks-node-agent/status.json";
// Held (flock) from gather to the status file, so that two agents (the boot unit and a user data
// script, or a person at a shell) never interleave; the second one waits, within its deadline.
inline constexpr const char* kLockPath = "/run/eks-node-agent/lock";

struct RunPorts {
  Imds& imds;
  RootFs& fs;
  ServiceManager& services;
  CommandRunner& commands;
  Clock& clock;
  Resolver resolve;
  int host_vcpus = 0;
  // SIGTERM/SIGINT (null: cannot be interrupted). Looked at between phases, by apply between files
  // and unit actions, and by the lock wait; the adapters that wait take the same token from main.
  const CancelToken* cancel = nullptr;
  // The AWS API fallbacks (null: none are made); bounded by the run's deadline.
  AwsApi* aws = nullptr;
  // Mounts bpffs where systemd refuses sys-fs-bpf.mount (null: none; an offline root never has one).
  Mounter* mounter = nullptr;
  // The service manager cannot run jobs (an offline root): --dry-run shows them as skipped.
  bool offline_services = false;
  // mdadm, mkfs.xfs and the state copy of --local-disks, which may outlast `commands`' timeout
  // (null: `commands`).
  CommandRunner* disk_commands = nullptr;
  // Puts NodeConfig's instance.environment["default"] into this process's own environment, as
  // nodeadm's nodeadm-environment aspect does before enrichment: the AWS calls then honour an
  // HTTPS_PROXY/NO_PROXY given there, and the commands run see it (null: not done).
  std::function<void(const std::map<std::string, std::string>&)> set_own_environment;
};

struct RunOutcome {
  Facts facts;
  Plan plan;
  ApplyReport report;
  std::string dry_run;  // the --dry-run text, when dry-running
  std::string nothing_to_do;  // why the run stopped early with success (no NodeConfig), or empty
  nlohmann::ordered_json phases_ms = nlohmann::ordered_json::object();
  long elapsed_ms = 0;
};

// Runs the bootstrap. Unless dry-running, the run takes kLockPath after the config phase and
// holds it to the end (waiting, with a log line, while another run holds it; Timeout if that
// lasts past the deadline). A cancellation ends the run at the next safe point with Interrupted
// ("interrupted by SIGTERM; no file was left half-written; re-run to finish ..."). With options.config_sources, a config phase first reads and applies the
// NodeConfig documents (flags win); when there are none and the flags name no cluster, the run
// stops with success and outcome.nothing_to_do says so. With options.dry_run nothing is written:
// the outcome's dry_run text says what would be, and when it marks a step that would fail the run
// returns that step's error (the real run's exit status) with the text still in the outcome.
// Otherwise the status file is written whether the run succeeds or fails.
// With options.nodeadm, nodeadm's init instead (README "nodeadm command line"): its config
// resolution with the cache, its config phase (containerd and kubelet deferred through
// kPendingPath) and run phase (the /run/nodeadm/init marker, local disks, the daemons), each
// unless skipped; no NodeConfig and no cache is an Invalid error, not "nothing to do".
// `outcome` is filled as far as the run got, for the caller's summary.
Status run_bootstrap(const cli::Options& options, RunPorts& ports, RunOutcome& outcome);

// One line: cluster, instance type, max pods and its source, reservations, changes, on GPU nodes
// the GPU count and containerd's default runtime, elapsed ms, then any apply warnings
// (" warnings: [ID] message; [ID] message").
std::string summary_line(const RunOutcome& outcome);

}  // namespace agent::app
