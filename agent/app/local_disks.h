// Local instance storage, the run's "disks" phase: gathers the facts compute::plan_local_disks
// needs (instance-store disks, md array, filesystems, mounts, units) and executes its steps
// through the ports: CommandRunner (mdadm, mkfs.xfs, wipefs, cp/mv), RootFs (unit files and
// /.aws/mdadm.conf, atomically) and ServiceManager (daemon-reload, enable, start/stop jobs).
#pragma once
#include <string>

#include "agent/compute/local_disks.h"
#include "agent/model/node_config.h"
#include "agent/ports/cancel.h"
#include "agent/ports/command_runner.h"
#include "agent/ports/root_fs.h"
#include "agent/ports/service_manager.h"

namespace agent::app {

struct LocalDiskPorts {
  RootFs& fs;
  CommandRunner& commands;  // mdadm, mkfs.xfs and cp may run for minutes: give it a long timeout
  ServiceManager& services;
  Deadline deadline;
  const CancelToken* cancel = nullptr;
};

// Reads the world for the plan. Disks: the /dev/disk/by-id links named *NVMe_Instance_Storage_*
// (not their -partN links) and every /sys/block/nvme* whose controller model is "Amazon EC2 NVMe
// Instance Storage"; EBS volumes carry another model and link name, so they are never listed. Each
// disk and the array (the last /dev/md/kubernetes* link) is probed with `wipefs` (any signature,
// partition tables included, counts as "not blank") and looked up in /proc/self/mountinfo by its
// major:minor. Errors: Io/Invalid from a probe that fails (a disk that cannot be probed is never
// formatted), naming the device.
Result<compute::LocalDiskFacts> gather_local_disks(const compute::LocalDiskSettings& settings, LocalDiskPorts& ports);

// Runs the steps in order and stops at the first failure (so an array whose mkfs failed is never
// mounted). MakeFilesystem probes again and skips a device that has a signature by then;
// CopyState skips a target that exists (state is copied once) and copies through a ".partial"
// directory renamed into place. Errors: the failing step's Errc (Io for a command: its exit status
// and last stderr lines; Service for a unit job that did not finish "done"), the message naming
// the step and device.
Status execute_disk_plan(const compute::DiskPlan& plan, LocalDiskPorts& ports);

// The phase: settings -> facts -> plan -> execute, logging the disks found and each step. With
// dry_run nothing is changed and the returned text lists the disks and the steps; otherwise it
// returns "". `on_node_root` is false when --root is not "/": then any step is Unsupported
// (disks and units belong to the running node). A failure is fatal for the run (the user asked
// for the setup); the message says which step failed and that the node is as far as that step.
Result<std::string> setup_local_disks(const NodeConfig& config, LocalDiskPorts& ports, bool dry_run,
                                      bool on_node_root);

}  // namespace agent::app
