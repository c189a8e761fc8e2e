// Local instance storage (--local-disks raid0|raid10|mount|none, NodeConfig
// spec.instance.localStorage): from facts about the instance-store disks, the md array, the
// mounts and the units to the ordered steps that set them up, as bootstrap.sh's
// setup-local-disks does (reference bootstrap-sh.md section 3.14). PURE: no I/O; app/local_disks
// gathers the facts and executes the steps.
#pragma once
#include <optional>
#include <set>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/node_config.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

inline constexpr std::string_view kLocalDisksDefaultDir = "/mnt/k8s-disks";
inline constexpr std::string_view kMdadmConfPath = "/.aws/mdadm.conf";
inline constexpr std::string_view kArrayDevice = "/dev/md/kubernetes";
inline constexpr std::string_view kInstanceStoreModel = "Amazon EC2 NVMe Instance Storage";
inline constexpr std::string_view kUnitDir = "/etc/systemd/system";
inline constexpr std::string_view kWantsDir = "/etc/systemd/system/multi-user.target.wants";

// One directory that may be bind-mounted onto the array (DIR/0/<name>) and the services that
// use it, which are stopped while it moves.
struct BindTarget {
  std::string path;                   // /var/lib/kubelet
  std::string name;                   // kubelet (DIR/0/kubelet)
  std::vector<std::string> services;  // stopped before and started after the move
  bool operator==(const BindTarget&) const = default;
};

struct LocalDiskSettings {
  std::string mode;  // raid0 | raid10 | mount | none ("" = none)
  std::string dir = std::string(kLocalDisksDefaultDir);
  std::vector<BindTarget> binds;  // the enabled bind mounts, in the helper's order
  bool operator==(const LocalDiskSettings&) const = default;
};

// The settings from the NodeConfig: mode, directory (local_disks_mount_path, trailing '/'
// dropped) and the bind mounts minus local_disks_disabled_mounts ("Kubelet", "Containerd",
// "PodLogs", "SOCI"; unknown entries are ignored, as nodeadm does). Errors: Invalid for a
// directory that is not absolute, is "/", or holds whitespace or "..".
Result<LocalDiskSettings> local_disk_settings(const NodeConfig& config);

// A block device and what is on it.
struct BlockDevice {
  std::string path;         // /dev/nvme1n1, /dev/md/kubernetes_0 (the link as found)
  std::string fs_type;      // first signature wipefs found ("" = none: a blank device)
  std::string uuid;         // the filesystem UUID ("" = none)
  std::string mountpoint;   // where it is mounted now ("" = not mounted)
  bool operator==(const BlockDevice&) const = default;
};

struct LocalDiskFacts {
  bool by_id_present = false;       // /dev/disk/by-id exists
  std::vector<BlockDevice> disks;   // EC2 instance-store NVMe disks, sorted by path, unique
  std::optional<std::string> mdadm_conf;  // /.aws/mdadm.conf (nullopt: absent)
  bool scan_lists_array = false;    // `mdadm --detail --scan` printed an ARRAY line
  std::optional<BlockDevice> array;  // the last /dev/md/kubernetes* link, probed
  std::map<std::string, std::string> unit_files;  // unit file path -> current contents
  std::set<std::string> enabled;    // units with a multi-user.target.wants link
  std::set<std::string> active;     // units whose ActiveState is "active"
  bool operator==(const LocalDiskFacts&) const = default;
};

// A mount unit's contents. When uuid_of is set, What= is "UUID=" plus the UUID that device has
// when the unit is written (after mkfs.xfs, which makes it); otherwise `what` is used.
struct MountUnit {
  std::string description;
  std::string what;
  std::string uuid_of;
  std::string where;
  std::string type;
  std::string options;
  std::string requires_mounts_for;  // "" = none
  bool operator==(const MountUnit&) const = default;
};

struct DiskStep {
  enum class Kind {
    CreateArray,     // run argv (mdadm --create ...)
    RecordArray,     // mdadm --detail --scan -> path (/.aws/mdadm.conf), atomically
    MakeFilesystem,  // run argv (mkfs.xfs ...) on device, unless it has a signature by then
    WriteUnit,       // render `mount` (probing the UUID of mount.uuid_of) and write it at path
    Reload,          // daemon-reload
    Enable,          // enable unit
    Start,           // start unit (job, JobRemoved)
    Stop,            // stop unit
    CopyState,       // copy the directory path to target, unless target exists by then
  };
  Kind kind = Kind::Reload;
  std::string description;        // one line, for --dry-run and the logs
  std::vector<std::string> argv;  // CreateArray, MakeFilesystem
  std::string device;             // CreateArray (the array), MakeFilesystem
  std::string path;               // RecordArray, WriteUnit: the file; CopyState: the source
  std::string target;             // CopyState: the destination
  std::string unit;               // Enable, Start, Stop; WriteUnit: the unit's name
  MountUnit mount;                // WriteUnit
  bool operator==(const DiskStep&) const = default;
};

struct DiskPlan {
  std::vector<std::string> disks;      // the disks found (paths), for the log and dry-run
  std::vector<DiskStep> steps;         // in order; empty when everything is in place
  std::vector<Diagnostic> diagnostics; // notes and warnings for the log
  bool operator==(const DiskPlan&) const = default;
};

// The steps that bring the node to the settings from the facts. Idempotent: facts gathered after
// the steps ran give no steps. "none" (or "") and "no disks" give no steps and a note. Errors:
// Invalid for raid10 with fewer than 4 disks (before any step) and for an unknown mode.
Result<DiskPlan> plan_local_disks(const LocalDiskSettings& settings, const LocalDiskFacts& facts);

// systemd's path escaping (systemd-escape --path): "/mnt/k8s-disks/0" -> "mnt-k8s\x2ddisks-0".
std::string escape_unit_path(std::string_view path);
// escape_unit_path(path) + ".mount".
std::string mount_unit_name(std::string_view path);

// The unit file text; `uuid` fills What=UUID= when unit.uuid_of is set.
std::string mount_unit_text(const MountUnit& unit, std::string_view uuid);

// The --dry-run text: the disks found and each step.
std::string describe_disk_plan(const LocalDiskSettings& settings, const DiskPlan& plan);

// True when `mdadm --detail --scan` output lists an array ("ARRAY ..." line).
bool scan_lists_array(std::string_view scan_output);

}  // namespace agent::compute
