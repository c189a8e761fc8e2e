#include "agent/app/local_disks.h"
#include "agent/model/text.h"

#include <algorithm>
#include <regex>

#include <fmt/format.h>

#include "agent/app/log.h"

namespace agent::app {
namespace {

using compute::BlockDevice;
using compute::DiskStep;

// "/dev/disk/by-id" + "../../nvme1n1" -> "/dev/nvme1n1"; absolute targets stay as they are.
std::string resolve_target(const std::string& link_dir, const std::string& target) {
  std::vector<std::string> parts;
  auto push = [&](std::string_view p) {
    size_t pos = 0;
    while (pos <= p.size()) {
      size_t end = p.find('/', pos);
      if (end == std::string_view::npos) end = p.size();
      std::string_view c = p.substr(pos, end - pos);
      if (c == "..") {
        if (!parts.empty()) parts.pop_back();
      } else if (!c.empty() && c != ".") {
        parts.emplace_back(c);
      }
      pos = end + 1;
    }
  };
  if (target.empty() || target[0] != '/') push(link_dir);
  push(target);
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

// The device a link names (one level, as udev makes them), or the path itself if not a link.
std::string device_of(const RootFsReader& fs, const std::string& path) {
  auto t = fs.read_link(path);
  if (!t) return path;
  return resolve_target(path.substr(0, path.rfind('/')), *t);
}

std::string basename_of(const std::string& p) { return p.substr(p.rfind('/') + 1); }

// mountinfo escapes space, tab, newline and backslash as \ooo.
std::string unescape_mount(std::string_view s) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] == '\\' && i + 3 < s.size()) {
      auto oct = [](char c) { return c >= '0' && c <= '7'; };
      if (oct(s[i + 1]) && oct(s[i + 2]) && oct(s[i + 3])) {
        out.push_back(static_cast<char>((s[i + 1] - '0') * 64 + (s[i + 2] - '0') * 8 + (s[i + 3] - '0')));
        i += 3;
        continue;
      }
    }
    out.push_back(s[i]);
  }
  return out;
}

// Where the filesystem of device major:minor is mounted (its own root, not a bind of a subdir).
std::string mountpoint_of(const std::string& mountinfo, const std::string& dev_numbers) {
  if (dev_numbers.empty()) return "";
  size_t pos = 0;
  while (pos < mountinfo.size()) {
    size_t end = mountinfo.find('\n', pos);
    if (end == std::string::npos) end = mountinfo.size();
    std::string_view line(mountinfo.data() + pos, end - pos);
    pos = end + 1;
    std::vector<std::string_view> f;
    size_t p = 0;
    while (p < line.size() && f.size() < 5) {
      size_t e = line.find(' ', p);
      if (e == std::string_view::npos) e = line.size();
      f.push_back(line.substr(p, e - p));
      p = e + 1;
    }
    if (f.size() == 5 && f[2] == dev_numbers && f[3] == "/") return unescape_mount(f[4]);
  }
  return "";
}

Result<BlockDevice> probe(LocalDiskPorts& ports, const std::string& path, const std::string& mountinfo) {
  BlockDevice d{.path = path};
  const std::string dev = device_of(ports.fs, path);
  // One line per signature: "TYPE UUID" (UUID may be empty); any signature means "not blank".
  auto out = ports.commands.run({"wipefs", "--no-act", "--noheadings", "--output", "TYPE,UUID", dev});
  if (!out) {
    return out.error().wrap("probing {} for a filesystem (wipefs); it is left alone: check the device", path);
  }
  std::string first = trimmed(*out);
  first = first.substr(0, first.find('\n'));
  if (!first.empty()) {
    size_t sp = first.find_first_of(" \t");
    d.fs_type = first.substr(0, sp);
    if (sp != std::string::npos) d.uuid = trimmed(first.substr(sp + 1));
  }
  auto numbers = ports.fs.read("/sys/class/block/" + basename_of(dev) + "/dev");
  d.mountpoint = mountpoint_of(mountinfo, numbers ? trimmed(*numbers) : "");
  return d;
}

std::vector<std::string> find_disks(const RootFsReader& fs, bool& by_id_present) {
  std::vector<std::string> out;
  by_id_present = fs.exists("/dev/disk/by-id");
  if (auto ids = fs.list("/dev/disk/by-id")) {
    for (const auto& name : *ids) {
      if (name.find("NVMe_Instance_Storage_") == std::string::npos) continue;
      if (name.find("-part") != std::string::npos) continue;  // a partition, not the disk
      out.push_back(device_of(fs, "/dev/disk/by-id/" + name));
    }
  }
  if (auto blocks = fs.list("/sys/block")) {
    for (const auto& name : *blocks) {
      if (!name.starts_with("nvme")) continue;
      auto model = fs.read("/sys/block/" + name + "/device/model");
      if (model && trimmed(*model) == compute::kInstanceStoreModel) out.push_back("/dev/" + name);
    }
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

// The helper: find /dev/md/ -regex ".*/kubernetes_?[0-9a-z]*$" | tail -n1.
std::optional<std::string> find_array(const RootFsReader& fs) {
  static const std::regex kName("kubernetes_?[0-9a-z]*");
  auto names = fs.list("/dev/md");
  if (!names) return std::nullopt;
  std::optional<std::string> last;
  for (const auto& n : *names) {
    if (std::regex_match(n, kName)) last = "/dev/md/" + n;
  }
  return last;
}

Status step_error(const DiskStep& s, const Error& e) {
  return Error{e.code == Errc::NotFound || e.code == Errc::Invalid ? Errc::Io : e.code,
               fmt::format("local disk setup failed at step '{}': {}; the steps before it are done, nothing after "
                           "it was changed; fix the cause and re-run (the setup resumes where it stopped)",
                           s.description, e.message)};
}

Status run_step(const DiskStep& s, LocalDiskPorts& p) {
  switch (s.kind) {
    case DiskStep::Kind::CreateArray: {
      AGENT_TRY_STATUS(p.commands.run(s.argv));
      return {};
    }
    case DiskStep::Kind::RecordArray: {
      AGENT_TRY(std::string scan, p.commands.run({"mdadm", "--detail", "--scan"}));
      if (!compute::scan_lists_array(scan)) {
        return make_error(Errc::Io, "`mdadm --detail --scan` lists no ARRAY after creating {}", compute::kArrayDevice);
      }
      AGENT_TRY_STATUS(p.fs.write_atomic(std::string(compute::kMdadmConfPath), scan, 0644));
      return {};
    }
    case DiskStep::Kind::MakeFilesystem: {
      AGENT_TRY(BlockDevice d, probe(p, s.device, ""));
      if (!d.fs_type.empty()) {
        log::warn("LOCAL_DISKS_NOT_FORMATTED", "{} already holds a {} signature; not formatting it", s.device,
                  d.fs_type);
        return {};
      }
      AGENT_TRY_STATUS(p.commands.run(s.argv));
      return {};
    }
    case DiskStep::Kind::WriteUnit: {
      std::string uuid;
      if (!s.mount.uuid_of.empty()) {
        AGENT_TRY(BlockDevice d, probe(p, s.mount.uuid_of, ""));
        if (d.uuid.empty()) {
          return make_error(Errc::Io, "{} has no filesystem UUID, so it is not mounted", s.mount.uuid_of);
        }
        uuid = d.uuid;
      }
      AGENT_TRY(WriteOutcome o, p.fs.write_atomic(s.path, compute::mount_unit_text(s.mount, uuid), 0644));
      log::info("LOCAL_DISKS_UNIT", "{} {}", s.path, outcome_name(o));
      return {};
    }
    case DiskStep::Kind::Reload: return p.services.reload();
    case DiskStep::Kind::Enable: return p.services.enable(s.unit);
    case DiskStep::Kind::Start:
    case DiskStep::Kind::Stop: {
      const char* verb = s.kind == DiskStep::Kind::Start ? "start" : "stop";
      AGENT_TRY(std::string result, p.services.run_job(s.unit, verb, p.deadline));
      if (result != "done") {
        std::string logs;
        for (const auto& l : p.services.recent_logs(s.unit, 5)) logs += "\n  " + l;
        return make_error(Errc::Service, "the {} job of {} ended '{}'{}", verb, s.unit, result, logs);
      }
      return {};
    }
    case DiskStep::Kind::CopyState: {
      if (p.fs.exists(s.target)) {
        log::info("LOCAL_DISKS_COPIED", "{} exists: {} was copied before, not copying again", s.target, s.path);
        return {};
      }
      if (!p.fs.exists(s.path)) {
        AGENT_TRY_STATUS(p.fs.make_directory(s.target, 0755));
        return {};
      }
      const std::string partial = s.target + ".partial";
      AGENT_TRY_STATUS(p.commands.run({"rm", "-rf", "--one-file-system", partial}));
      AGENT_TRY_STATUS(p.commands.run({"cp", "-a", "--", s.path, partial}));
      AGENT_TRY_STATUS(p.commands.run({"mv", "-T", "--", partial, s.target}));
      return {};
    }
  }
  return make_error(Errc::Internal, "unknown local disk step");
}

}  // namespace

Result<compute::LocalDiskFacts> gather_local_disks(const compute::LocalDiskSettings& s, LocalDiskPorts& ports) {
  compute::LocalDiskFacts f;
  if (s.mode.empty() || s.mode == "none") return f;
  const std::string mountinfo = ports.fs.read("/proc/self/mountinfo").value_or("");
  for (const auto& path : find_disks(ports.fs, f.by_id_present)) {
    AGENT_TRY(BlockDevice d, probe(ports, path, mountinfo));
    f.disks.push_back(std::move(d));
  }
  if (f.disks.empty()) return f;

  std::vector<std::string> units;
  if (s.mode == "raid0" || s.mode == "raid10") {
    if (auto conf = ports.fs.read(std::string(compute::kMdadmConfPath))) f.mdadm_conf = *conf;
    auto scan = ports.commands.run({"mdadm", "--detail", "--scan"});
    if (scan) {
      f.scan_lists_array = compute::scan_lists_array(*scan);
    } else if (scan.error().code != Errc::NotFound) {
      return scan.error().wrap("asking mdadm for the arrays it knows (mdadm --detail --scan)");
    }
    if (auto a = find_array(ports.fs)) {
      AGENT_TRY(BlockDevice d, probe(ports, *a, mountinfo));
      f.array = std::move(d);
    }
    units.push_back(compute::mount_unit_name(s.dir + "/0"));
    for (const auto& b : s.binds) units.push_back(compute::mount_unit_name(b.path));
    for (const char* svc : {"kubelet.service", "containerd.service", "soci-snapshotter.service"}) units.push_back(svc);
  } else {
    for (size_t i = 0; i < f.disks.size(); ++i) units.push_back(compute::mount_unit_name(fmt::format("{}/{}", s.dir, i + 1)));
  }
  for (const auto& u : units) {
    const std::string path = fmt::format("{}/{}", compute::kUnitDir, u);
    if (auto text = ports.fs.read(path)) f.unit_files[path] = *text;
    if (ports.fs.exists(fmt::format("{}/{}", compute::kWantsDir, u))) f.enabled.insert(u);
    auto st = ports.services.state(u);
    if (st && st->active_state == "active") f.active.insert(u);
  }
  return f;
}

Status execute_disk_plan(const compute::DiskPlan& plan, LocalDiskPorts& ports) {
  for (const auto& s : plan.steps) {
    if (is_cancelled(ports.cancel)) return ports.cancel->interrupted(fmt::format("before '{}'", s.description));
    log::info("LOCAL_DISKS_STEP", "{}", s.description);
    if (auto r = run_step(s, ports); !r) {
      if (r.error().code == Errc::Interrupted) return r;
      return step_error(s, r.error());
    }
  }
  return {};
}

Result<std::string> setup_local_disks(const NodeConfig& config, LocalDiskPorts& ports, bool dry_run,
                                      bool on_node_root) {
  AGENT_TRY(compute::LocalDiskSettings settings, compute::local_disk_settings(config));
  if (settings.mode.empty()) return std::string();
  AGENT_TRY(compute::LocalDiskFacts facts, gather_local_disks(settings, ports));
  AGENT_TRY(compute::DiskPlan plan, compute::plan_local_disks(settings, facts));
  for (const auto& d : plan.diagnostics) {
    log::emit(d.level == Diagnostic::Level::Warning ? log::Level::Warning : log::Level::Info, d.id, d.message);
  }
  if (!plan.disks.empty()) {
    log::info("LOCAL_DISKS_FOUND", "--local-disks {}: {} instance storage disk(s): {}; {} step(s) to take",
              settings.mode, plan.disks.size(), fmt::join(plan.disks, " "), plan.steps.size());
  }
  if (dry_run) return compute::describe_disk_plan(settings, plan);
  if (plan.steps.empty()) return std::string();
  if (!on_node_root) {
    return make_error(Errc::Unsupported,
                      "--local-disks {}: disks and mount units can only be set up on the running node (--root /); "
                      "{} step(s) were not taken",
                      settings.mode, plan.steps.size());
  }
  AGENT_TRY_STATUS(execute_disk_plan(plan, ports));
  log::info("LOCAL_DISKS_DONE", "--local-disks {}: {} step(s) done", settings.mode, plan.steps.size());
  return std::string();
}

}  // namespace agent::app
