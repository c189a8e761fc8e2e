// Plan: the output of compute. Files with their exact bytes and modes, files to remove, unit
// intentions, diagnostics and the computed values for the summary. apply executes it; --dry-run
// prints it; golden tests compare it.
#pragma once
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace agent {

struct FileWrite {
  std::string path;    // node-absolute, e.g. /etc/kubernetes/pki/ca.crt
  std::string bytes;
  unsigned mode = 0644;
  bool unit_file = false;              // a systemd unit or drop-in: a change needs daemon-reload
  std::vector<std::string> restarts;   // units that read this file and must restart on change
  bool only_if_absent = false;         // never replace an existing file (kubelet.service)
  bool secret = false;                 // never print its bytes (dry-run shows a size only)
  // The daemon whose configuration this is, in nodeadm's sense (its daemon's Configure writes
  // it): "kubelet.service" or "containerd.service"; empty for the node's own files. `nodeadm
  // init --daemon` configures only the daemons it names.
  std::string configures;
  bool operator==(const FileWrite&) const = default;
};

struct FileRemoval {
  std::string path;
  bool unit_file = false;
  std::vector<std::string> restarts;
  std::string configures;  // as FileWrite::configures
  bool operator==(const FileRemoval&) const = default;
};

// What must be true of a unit after apply. apply turns these into Start/Restart/Enable calls
// from what changed and the unit's current state.
struct UnitIntent {
  std::string unit;
  bool enable = false;             // EnableUnitFiles (idempotent)
  bool start_if_inactive = false;  // start it when it is not active
  bool restart_on_change = false;  // restart it when a file listing it in `restarts` changed
  bool check_stays_up = false;     // after a job, watch that it stays active (kubelet)
  bool optional = false;           // kubelet runs without it: a failure is a warning, not an error
  // Run once the unit is active, every run (nodeadm's PostLaunch: SOCI's pause image import). The
  // unit is needed, this is not: a failure is a warning.
  std::vector<std::string> then_run;
  bool operator==(const UnitIntent&) const = default;
};

struct Diagnostic {
  enum class Level { Info, Warning };
  Level level = Level::Info;
  std::string id;       // stable event id, e.g. "MAXPODS_FALLBACK"
  std::string message;
  bool operator==(const Diagnostic&) const = default;
};

struct Plan {
  std::vector<FileWrite> files;
  std::vector<FileRemoval> removals;
  std::vector<UnitIntent> units;   // in order: bpf mount, containerd, kubelet
  std::vector<Diagnostic> diagnostics;
  nlohmann::ordered_json values;   // computed values for the summary and status file
  bool operator==(const Plan&) const = default;
};

void to_json(nlohmann::json& j, const Plan& p);

}  // namespace agent
