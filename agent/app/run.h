// The bootstrap command: gather -> compute -> apply, timed per phase, with the status file and the
// summary line. main builds the real adapters; tests pass fakes.
#pragma once
#include <string>

#include <nlohmann/json.hpp>

#include "agent/app/apply.h"
#include "agent/app/gather.h"
#include "agent/cli/options.h"
#include "agent/model/facts.h"
#include "agent/model/plan.h"
#include "agent/ports/clock.h"

namespace agent::app {

inline constexpr const char* kStatusPath = "/run/eks-node-agent/status.json";

struct RunPorts {
  Imds& imds;
  RootFs& fs;
  ServiceManager& services;
  CommandRunner& commands;
  Clock& clock;
  Resolver resolve;
  int host_vcpus = 0;
};

struct RunOutcome {
  Facts facts;
  Plan plan;
  ApplyReport report;
  std::string dry_run;  // the --dry-run text, when dry-running
  nlohmann::ordered_json phases_ms = nlohmann::ordered_json::object();
  long elapsed_ms = 0;
};

// Runs the bootstrap. With options.dry_run nothing is written: the outcome's dry_run text says
// what would be. Otherwise the status file is written whether the run succeeds or fails.
// `outcome` is filled as far as the run got, for the caller's summary.
Status run_bootstrap(const cli::Options& options, RunPorts& ports, RunOutcome& outcome);

// One line: cluster, instance type, max pods and its source, reservations, changes, on GPU nodes
// the GPU count and containerd's default runtime, elapsed ms.
std::string summary_line(const RunOutcome& outcome);

}  // namespace agent::app
