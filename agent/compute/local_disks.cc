#include "agent/compute/local_disks.h"

#include <algorithm>

#include <fmt/format.h>

namespace agent::compute {
namespace {

// The helper's bind mounts, in its order, with the services that hold them open.
// ref: awslabs/amazon-eks-ami setup-local-disks (bind mounts of kubelet, containerd, soci, pod logs)
const std::vector<BindTarget>& all_binds() {
  static const std::vector<BindTarget> kAll = {
      {"/var/lib/kubelet", "kubelet", {"kubelet.service"}},
      {"/var/lib/containerd", "containerd", {"kubelet.service", "containerd.service"}},
      {"/var/lib/soci-snapshotter-grpc", "soci-snapshotter-grpc",
       {"kubelet.service", "containerd.service", "soci-snapshotter.service"}},
      {"/var/log/pods", "pods", {"kubelet.service"}},
  };
  return kAll;
}

// Which disabledMounts entry switches off which bind mount ("Kubelet" is the agent's own, from
// --no-bind-kubelet; nodeadm has no such entry).
const char* disabled_name(const BindTarget& b) {
  if (b.name == "kubelet") return "Kubelet";
  if (b.name == "containerd") return "Containerd";
  if (b.name == "pods") return "PodLogs";
  return "SOCI";
}

// Services are started in this order after the move (containerd before what uses it).
const std::vector<std::string> kServiceOrder = {"containerd.service", "soci-snapshotter.service",
                                                "kubelet.service"};

bool is_raid(const std::string& mode) { return mode == "raid0" || mode == "raid10"; }

struct Builder {
  const LocalDiskFacts& facts;
  DiskPlan& plan;
  std::vector<std::string> to_enable;
  bool wrote = false;

  // Writes the unit when its text differs from what is there (always when the UUID is not known
  // yet). Returns true when it was (or will be) written.
  bool write_unit(const std::string& unit, const MountUnit& m) {
    const std::string path = fmt::format("{}/{}", kUnitDir, unit);
    if (m.uuid_of.empty()) {
      auto it = facts.unit_files.find(path);
      if (it != facts.unit_files.end() && it->second == mount_unit_text(m, "")) {
        if (!facts.enabled.count(unit)) to_enable.push_back(unit);
        return false;
      }
    }
    plan.steps.push_back({.kind = DiskStep::Kind::WriteUnit,
                          .description = m.uuid_of.empty()
                                             ? fmt::format("write {} (What={}, Where={})", path, m.what, m.where)
                                             : fmt::format("write {} (What=UUID of {}, Where={})", path,
                                                           m.uuid_of, m.where),
                          .path = path,
                          .unit = unit,
                          .mount = m});
    wrote = true;
    if (!facts.enabled.count(unit)) to_enable.push_back(unit);
    return true;
  }

  void flush_reload_and_enable() {
    if (wrote) {
      plan.steps.push_back({.kind = DiskStep::Kind::Reload, .description = "daemon-reload"});
      wrote = false;
    }
    for (const auto& u : to_enable) {
      plan.steps.push_back({.kind = DiskStep::Kind::Enable, .description = fmt::format("enable {}", u), .unit = u});
    }
    to_enable.clear();
  }

  void job(DiskStep::Kind kind, const std::string& unit) {
    const char* verb = kind == DiskStep::Kind::Start ? "start" : "stop";
    plan.steps.push_back({.kind = kind, .description = fmt::format("{} {}", verb, unit), .unit = unit});
  }
};

// What= for a device mount: its UUID when known, else the UUID mkfs.xfs will give it.
MountUnit device_mount(const BlockDevice& dev, bool formatted_now, const std::string& where,
                       const std::string& description) {
  MountUnit m{.description = description, .where = where, .type = "xfs", .options = "defaults,noatime"};
  if (!formatted_now && !dev.uuid.empty()) {
    m.what = "UUID=" + dev.uuid;
  } else {
    m.uuid_of = dev.path;
  }
  return m;
}

// The array's steps: create it (unless mdadm still knows it), record it, make its filesystem.
// Returns whether mkfs runs (the mount unit then waits for the new filesystem's UUID).
bool plan_array(const std::string& level, const LocalDiskFacts& f, Builder& b, BlockDevice& array) {
  // The array is trusted only when mdadm still knows it (AL2023's helper: an ARRAY in the scan),
  // whatever /.aws/mdadm.conf says; a conf without such an array is stale.
  const bool have_array = f.array.has_value() && f.scan_lists_array;
  const bool conf_recorded = f.mdadm_conf && !f.mdadm_conf->empty();
  array = have_array ? *f.array : BlockDevice{.path = std::string(kArrayDevice)};
  if (!have_array) {
    std::vector<std::string> argv = {"mdadm", "--create", "--force", "--verbose", std::string(kArrayDevice),
                                     "--level=" + level, "--name=kubernetes",
                                     fmt::format("--raid-devices={}", f.disks.size())};
    for (const auto& d : f.disks) argv.push_back(d.path);
    b.plan.steps.push_back({.kind = DiskStep::Kind::CreateArray,
                            .description = fmt::format("create RAID{} array {} from {}", level, kArrayDevice,
                                                       fmt::join(b.plan.disks, " ")),
                            .argv = argv,
                            .device = std::string(kArrayDevice)});
  }
  if (!have_array || !conf_recorded) {
    b.plan.steps.push_back({.kind = DiskStep::Kind::RecordArray,
                            .description = fmt::format("record `mdadm --detail --scan` in {}", kMdadmConfPath),
                            .path = std::string(kMdadmConfPath)});
  }
  const bool format = !have_array || array.fs_type.empty();
  if (format) {
    b.plan.steps.push_back({.kind = DiskStep::Kind::MakeFilesystem,
                            .description = fmt::format("mkfs.xfs {} (only if it still has no filesystem)", array.path),
                            .argv = {"mkfs.xfs", "-K", "-l", "su=8b", array.path},
                            .device = array.path});
  } else if (array.fs_type != "xfs") {
    b.plan.diagnostics.push_back({Diagnostic::Level::Warning, "LOCAL_DISKS_NOT_XFS",
                                  fmt::format("{} holds a {} filesystem, not xfs; it is mounted as it is",
                                              array.path, array.fs_type)});
  }
  return format;
}

// The array at DIR/0, bind mounts onto it, and the moves of state not bound yet: the services
// using it stopped (in reverse order), the state copied, the binds started, the services again.
void plan_raid(const LocalDiskSettings& s, const LocalDiskFacts& f, Builder& b) {
  const std::string level = s.mode == "raid0" ? "0" : "10";
  BlockDevice array;
  const bool format = plan_array(level, f, b, array);
  const std::string dir0 = s.dir + "/0";
  const std::string unit0 = mount_unit_name(dir0);
  MountUnit m0 = device_mount(array, format, dir0, fmt::format("EC2 instance storage RAID{} at {}", level, dir0));
  if (!format) m0.type = array.fs_type;
  b.write_unit(unit0, m0);

  // Bind mounts that are not active yet move; the others are left alone.
  std::vector<const BindTarget*> fresh;
  for (const auto& t : s.binds) {
    const std::string unit = mount_unit_name(t.path);
    MountUnit m{.description = fmt::format("{} on EC2 instance storage ({})", t.path, dir0),
                .what = dir0 + "/" + t.name,
                .where = t.path,
                .type = "none",
                .options = "bind",
                .requires_mounts_for = dir0};
    b.write_unit(unit, m);
    if (!f.active.count(unit)) fresh.push_back(&t);
  }
  b.flush_reload_and_enable();
  if (!f.active.count(unit0)) b.job(DiskStep::Kind::Start, unit0);
  if (fresh.empty()) return;

  std::set<std::string> affected;
  for (const auto* t : fresh) affected.insert(t->services.begin(), t->services.end());
  std::vector<std::string> stopped;
  for (auto it = kServiceOrder.rbegin(); it != kServiceOrder.rend(); ++it) {
    if (affected.count(*it) && f.active.count(*it)) {
      b.job(DiskStep::Kind::Stop, *it);
      stopped.push_back(*it);
    }
  }
  for (const auto* t : fresh) {
    const std::string target = dir0 + "/" + t->name;
    b.plan.steps.push_back({.kind = DiskStep::Kind::CopyState,
                            .description = fmt::format("copy {} to {} (once: skipped when {} exists)", t->path,
                                                       target, target),
                            .path = t->path,
                            .target = target});
    b.job(DiskStep::Kind::Start, mount_unit_name(t->path));
  }
  for (auto it = stopped.rbegin(); it != stopped.rend(); ++it) b.job(DiskStep::Kind::Start, *it);
}

void plan_mount(const LocalDiskSettings& s, const LocalDiskFacts& f, Builder& b) {
  // DIR/<n> follows the disk's place in the sorted list, so a disk keeps its directory across
  // re-runs even when another one is skipped (the helper counted only the disks it mounted).
  std::vector<std::string> starts;
  for (size_t i = 0; i < f.disks.size(); ++i) {
    const BlockDevice& d = f.disks[i];
    const std::string where = fmt::format("{}/{}", s.dir, i + 1);
    const std::string unit = mount_unit_name(where);
    if (!d.mountpoint.empty() && d.mountpoint != where) {
      b.plan.diagnostics.push_back({Diagnostic::Level::Info, "LOCAL_DISKS_ALREADY_MOUNTED",
                                    fmt::format("{} is already mounted at {}; left alone", d.path, d.mountpoint)});
      continue;
    }
    const bool format = d.fs_type.empty();
    if (format) {
      b.plan.steps.push_back({.kind = DiskStep::Kind::MakeFilesystem,
                              .description = fmt::format("mkfs.xfs {} (only if it still has no filesystem)", d.path),
                              .argv = {"mkfs.xfs", "-l", "su=8b", d.path},
                              .device = d.path});
    }
    MountUnit m = device_mount(d, format, where, fmt::format("EC2 instance storage {} at {}", d.path, where));
    if (!format) m.type = d.fs_type;
    b.write_unit(unit, m);
    if (d.mountpoint.empty() && !f.active.count(unit)) starts.push_back(unit);
  }
  b.flush_reload_and_enable();
  for (const auto& u : starts) b.job(DiskStep::Kind::Start, u);
}

bool has_ws_or_dotdot(std::string_view p) {
  if (p.find_first_of(" \t\r\n\\") != std::string_view::npos) return true;
  return p.find("/../") != std::string_view::npos || p.ends_with("/..") || p.find("/./") != std::string_view::npos;
}

}  // namespace

Result<LocalDiskSettings> local_disk_settings(const NodeConfig& c) {
  LocalDiskSettings s;
  s.mode = c.local_disks.value_or("");
  if (c.local_disks_mount_path && !c.local_disks_mount_path->empty()) {
    std::string d = *c.local_disks_mount_path;
    while (d.size() > 1 && d.back() == '/') d.pop_back();
    if (d.empty() || d[0] != '/' || d == "/" || has_ws_or_dotdot(d)) {
      return make_error(Errc::Invalid,
                        "local disks directory '{}' (--local-disks-dir or localStorage.mountPath) must be an "
                        "absolute path other than / without spaces, backslashes, '.' or '..' parts",
                        *c.local_disks_mount_path);
    }
    s.dir = d;
  }
  const auto& off = c.local_disks_disabled_mounts;
  for (const auto& b : all_binds()) {
    if (std::find(off.begin(), off.end(), disabled_name(b)) != off.end()) continue;
    s.binds.push_back(b);
  }
  return s;
}

Result<DiskPlan> plan_local_disks(const LocalDiskSettings& s, const LocalDiskFacts& f) {
  DiskPlan plan;
  if (s.mode.empty() || s.mode == "none") {
    if (s.mode == "none") {
      plan.diagnostics.push_back({Diagnostic::Level::Info, "LOCAL_DISKS_NONE", "--local-disks none: nothing to do"});
    }
    return plan;
  }
  if (!is_raid(s.mode) && s.mode != "mount") {
    return make_error(Errc::Invalid, "--local-disks must be raid0, raid10, mount or none, got '{}'", s.mode);
  }
  for (const auto& d : f.disks) plan.disks.push_back(d.path);
  if (f.disks.empty()) {
    plan.diagnostics.push_back(
        {Diagnostic::Level::Info, "LOCAL_DISKS_NONE",
         fmt::format("--local-disks {}: {}, nothing to do", s.mode,
                     f.by_id_present ? "no NVMe instance storage disks found" : "no ephemeral disks found")});
    return plan;
  }
  if (s.mode == "raid10" && f.disks.size() < 4) {
    return make_error(Errc::Invalid,
                      "--local-disks raid10 needs at least 4 instance storage disks, but this instance has {} ({}); "
                      "nothing was changed: use raid0 or mount, or an instance type with 4 or more disks",
                      f.disks.size(), fmt::join(plan.disks, ", "));
  }
  Builder b{f, plan};
  if (is_raid(s.mode)) {
    plan_raid(s, f, b);
  } else {
    plan_mount(s, f, b);
  }
  return plan;
}

std::string escape_unit_path(std::string_view path) {
  // systemd: collapse "//", drop leading and trailing '/', "/" alone is "-".
  std::string p;
  for (char c : path) {
    if (c == '/' && !p.empty() && p.back() == '/') continue;
    p.push_back(c);
  }
  while (!p.empty() && p.front() == '/') p.erase(p.begin());
  while (!p.empty() && p.back() == '/') p.pop_back();
  if (p.empty()) return "-";
  std::string out;
  for (size_t i = 0; i < p.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(p[i]);
    if (c == '/') {
      out.push_back('-');
    } else if (std::isalnum(c) || c == ':' || c == '_' || (c == '.' && i > 0)) {
      out.push_back(static_cast<char>(c));
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

std::string mount_unit_name(std::string_view path) { return escape_unit_path(path) + ".mount"; }

std::string mount_unit_text(const MountUnit& m, std::string_view uuid) {
  std::string what = m.uuid_of.empty() ? m.what : fmt::format("UUID={}", uuid);
  std::string unit = fmt::format("[Unit]\nDescription={}\n", m.description);
  if (!m.requires_mounts_for.empty()) unit += fmt::format("RequiresMountsFor={}\n", m.requires_mounts_for);
  return unit + fmt::format(
                    "# Written by eks-node-agent --local-disks; rewritten on each run.\n\n"
                    "[Mount]\nWhat={}\nWhere={}\nType={}\nOptions={}\n\n"
                    "[Install]\nWantedBy=multi-user.target\n",
                    what, m.where, m.type, m.options);
}

std::string describe_disk_plan(const LocalDiskSettings& s, const DiskPlan& p) {
  std::string out = fmt::format("local disks ({}, {}): ", s.mode.empty() ? "none" : s.mode, s.dir);
  out += p.disks.empty() ? "no instance storage disks\n" : fmt::format("{}\n", fmt::join(p.disks, " "));
  if (p.steps.empty() && !p.disks.empty()) out += "  in place, nothing to do\n";
  for (size_t i = 0; i < p.steps.size(); ++i) out += fmt::format("  {}. {}\n", i + 1, p.steps[i].description);
  return out;
}

bool scan_lists_array(std::string_view scan) {
  size_t pos = 0;
  while (pos < scan.size()) {
    size_t end = scan.find('\n', pos);
    if (end == std::string_view::npos) end = scan.size();
    std::string_view line = scan.substr(pos, end - pos);
    if (line.starts_with("ARRAY ")) return true;
    pos = end + 1;
  }
  return false;
}

}  // namespace agent::compute
