// nodeadm-internal's two commands (reference nodeadm.md 3.12-3.13), over the ports: gather sysfs,
// IMDS and the manager cache, decide and render with compute/al2023/networkd, write through RootFs.
//   udev-net-manager  run by udev-net-manager@IFACE.service when udev sees an ENI come or go
//   boot-hook         run once per boot (nodeadm-boot-hook.service) after systemd-networkd starts
#pragma once
#include <chrono>
#include <string>
#include <utility>
#include <vector>

#include "agent/model/result.h"
#include "agent/ports/clock.h"
#include "agent/ports/command_runner.h"
#include "agent/ports/imds.h"
#include "agent/ports/root_fs.h"

namespace agent::app {

struct NodeadmInternalPorts {
  Imds& imds;
  RootFs& fs;               // /sys/class/net is read through it too (under --root)
  CommandRunner& commands;  // networkctl
  Clock& clock;             // 404 retries and the boot hook's polling
};

// GETs an IMDS path, retrying a 404 (metadata that is not there yet early in boot or right after an
// ENI is attached), like nodeadm's 404-retrying client: up to 60 attempts, waits doubling from 50 ms
// to at most 1 s. Other errors are returned at once (AsioImds has already retried them).
Result<std::string> imds_get_retrying_404(Imds& imds, Clock& clock, const std::string& path);

enum class NetAction { Add, Remove };

struct UdevNetResult {
  std::string manager;                                       // Add only
  std::vector<std::pair<std::string, WriteOutcome>> written;  // path, outcome (Add)
  bool removed = false;                                      // Remove: the .network file existed
};

// Add: MAC from /sys/class/net/IFACE/address, the primary MAC and instance id from IMDS, the
// manager from the cache or the init marker; writes the cache entry and, for networkd, the .network
// file (and the 80-ec2 drop-in for the primary). Remove: deletes 70-eks-IFACE.network (idempotent;
// needs no IMDS). Unchanged files are not touched. Errors: NotFound (no such interface, an ENI IMDS
// does not know), Parse (identity document), IMDS and RootFs errors, each naming what it was doing.
Result<UdevNetResult> run_udev_net_manager(NodeadmInternalPorts& ports, const std::string& iface, NetAction action);

struct BootHookOptions {
  std::chrono::milliseconds timeout{std::chrono::minutes(1)};
  std::chrono::milliseconds poll{50};
};

// Marks every interface in /sys/class/net (but lo) as networkd's in the manager cache, then polls
// `networkctl list --json=pretty` every `poll` until the primary interface (the one whose address is
// IMDS meta-data/mac) is "configured" and every other link "unmanaged". A failing networkctl counts
// as "not yet". Errors: Timeout "failed to ensure primary ENI only configuration: ..." with the last
// state seen; NotFound when no interface has the primary MAC; IMDS and RootFs errors.
Status run_boot_hook(NodeadmInternalPorts& ports, const BootHookOptions& options);

}  // namespace agent::app
