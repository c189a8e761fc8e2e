// compute::plan_local_disks and friends: from facts to the exact steps (pure), plus the
// executor against recording fakes (app::setup_local_disks).
#include "agent/compute/local_disks.h"

#include <doctest/doctest.h>

#include <map>

#include "agent/app/local_disks.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_service_manager.h"

namespace c = agent::compute;
using agent::Errc;
using agent::NodeConfig;
using Kind = c::DiskStep::Kind;

namespace {

c::LocalDiskSettings settings(std::string mode, std::vector<std::string> disabled = {}, std::string dir = "") {
  NodeConfig n;
  n.local_disks = mode;
  n.local_disks_disabled_mounts = std::move(disabled);
  if (!dir.empty()) n.local_disks_mount_path = dir;
  return c::local_disk_settings(n).value();
}

c::LocalDiskFacts disks(int n) {
  c::LocalDiskFacts f;
  f.by_id_present = true;
  for (int i = 1; i <= n; ++i) f.disks.push_back({.path = fmt::format("/dev/nvme{}n1", i)});
  return f;
}

std::vector<std::string> descriptions(const c::DiskPlan& p) {
  std::vector<std::string> out;
  for (const auto& s : p.steps) out.push_back(s.description);
  return out;
}

// Facts as they are after the plan ran (what gather sees on a re-run or after a reboot).
c::LocalDiskFacts after(const c::LocalDiskSettings& s, const c::DiskPlan& p, c::LocalDiskFacts f,
                        const std::string& array_link = "/dev/md/kubernetes") {
  for (const auto& st : p.steps) {
    switch (st.kind) {
      case Kind::CreateArray: f.array = c::BlockDevice{.path = array_link}; f.scan_lists_array = true; break;
      case Kind::RecordArray: f.mdadm_conf = "ARRAY /dev/md/kubernetes metadata=1.2 name=kubernetes\n"; break;
      case Kind::MakeFilesystem:
        // The array device mkfs ran on, whatever name its link has after a reboot.
        if (f.array && st.device.starts_with("/dev/md/")) f.array->fs_type = "xfs", f.array->uuid = "u-array";
        for (auto& d : f.disks) {
          if (d.path == st.device) d.fs_type = "xfs", d.uuid = "u-" + d.path.substr(5);
        }
        break;
      case Kind::WriteUnit: {
        std::string uuid;
        if (!st.mount.uuid_of.empty()) uuid = st.mount.uuid_of.starts_with("/dev/md") ? "u-array" : "u-" + st.mount.uuid_of.substr(5);
        f.unit_files[st.path] = c::mount_unit_text(st.mount, uuid);
        break;
      }
      case Kind::Enable: f.enabled.insert(st.unit); break;
      case Kind::Start: f.active.insert(st.unit); break;
      case Kind::Stop: f.active.erase(st.unit); break;
      default: break;
    }
  }
  // Mount mode: the disks are mounted where their units put them.
  for (size_t i = 0; i < f.disks.size(); ++i) {
    if (f.active.count(c::mount_unit_name(fmt::format("{}/{}", s.dir, i + 1)))) {
      f.disks[i].mountpoint = fmt::format("{}/{}", s.dir, i + 1);
    }
  }
  return f;
}

}  // namespace

TEST_CASE("unit names use systemd's path escaping") {
  CHECK(c::escape_unit_path("/mnt/k8s-disks/0") == "mnt-k8s\\x2ddisks-0");
  CHECK(c::mount_unit_name("/var/lib/soci-snapshotter-grpc") == "var-lib-soci\\x2dsnapshotter\\x2dgrpc.mount");
  CHECK(c::mount_unit_name("/var/log/pods") == "var-log-pods.mount");
  CHECK(c::escape_unit_path("//data//x y/") == "data-x\\x20y");
  CHECK(c::escape_unit_path("/.hidden/a.b") == "\\x2ehidden-a.b");
  CHECK(c::escape_unit_path("/") == "-");
}

TEST_CASE("settings come from the NodeConfig, with disabledMounts and a custom directory") {
  auto s = settings("raid0");
  CHECK(s.dir == "/mnt/k8s-disks");
  REQUIRE(s.binds.size() == 4);
  CHECK(s.binds[0].path == "/var/lib/kubelet");
  CHECK(s.binds[3].path == "/var/log/pods");
  s = settings("raid0", {"Containerd", "PodLogs", "Bogus"}, "/data/disks/");
  CHECK(s.dir == "/data/disks");
  REQUIRE(s.binds.size() == 2);
  CHECK(s.binds[0].name == "kubelet");
  CHECK(s.binds[1].name == "soci-snapshotter-grpc");
  NodeConfig n;
  n.local_disks = "raid0";
  for (const char* bad : {"relative", "/", "/a b", "/a/../b"}) {
    n.local_disks_mount_path = bad;
    CAPTURE(bad);
    CHECK(c::local_disk_settings(n).error().code == Errc::Invalid);
  }
}

TEST_CASE("none, and no disks, are success without steps and with a note") {
  auto p = c::plan_local_disks(settings("none"), disks(2)).value();
  CHECK(p.steps.empty());
  CHECK(p.diagnostics.at(0).id == "LOCAL_DISKS_NONE");
  p = c::plan_local_disks(settings("raid0"), disks(0)).value();
  CHECK(p.steps.empty());
  CHECK(p.diagnostics.at(0).message.find("no NVMe instance storage disks found") != std::string::npos);
  c::LocalDiskFacts nothing;
  p = c::plan_local_disks(settings("mount"), nothing).value();
  CHECK(p.diagnostics.at(0).message.find("no ephemeral disks found") != std::string::npos);
}

TEST_CASE("raid10 with 3 disks is an error before any step") {
  auto r = c::plan_local_disks(settings("raid10"), disks(3));
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Invalid);
  CHECK(r.error().message.find("at least 4") != std::string::npos);
  CHECK(r.error().message.find("/dev/nvme3n1") != std::string::npos);
  CHECK(c::plan_local_disks(settings("raid10"), disks(4)).value().steps.at(0).argv ==
        std::vector<std::string>{"mdadm", "--create", "--force", "--verbose", "/dev/md/kubernetes", "--level=10",
                                 "--name=kubernetes", "--raid-devices=4", "/dev/nvme1n1", "/dev/nvme2n1",
                                 "/dev/nvme3n1", "/dev/nvme4n1"});
}

TEST_CASE("raid0 first boot: create, record, format, mount, move the state with the services stopped") {
  const auto s = settings("raid0");
  auto f = disks(2);
  f.active = {"containerd.service"};  // enabled in the image; kubelet not started yet
  const auto p = c::plan_local_disks(s, f).value();
  CHECK(descriptions(p) == std::vector<std::string>{
      "create RAID0 array /dev/md/kubernetes from /dev/nvme1n1 /dev/nvme2n1",
      "record `mdadm --detail --scan` in /.aws/mdadm.conf",
      "mkfs.xfs /dev/md/kubernetes (only if it still has no filesystem)",
      "write /etc/systemd/system/mnt-k8s\\x2ddisks-0.mount (What=UUID of /dev/md/kubernetes, Where=/mnt/k8s-disks/0)",
      "write /etc/systemd/system/var-lib-kubelet.mount (What=/mnt/k8s-disks/0/kubelet, Where=/var/lib/kubelet)",
      "write /etc/systemd/system/var-lib-containerd.mount (What=/mnt/k8s-disks/0/containerd, Where=/var/lib/containerd)",
      "write /etc/systemd/system/var-lib-soci\\x2dsnapshotter\\x2dgrpc.mount (What=/mnt/k8s-disks/0/soci-snapshotter-grpc, Where=/var/lib/soci-snapshotter-grpc)",
      "write /etc/systemd/system/var-log-pods.mount (What=/mnt/k8s-disks/0/pods, Where=/var/log/pods)",
      "daemon-reload",
      "enable mnt-k8s\\x2ddisks-0.mount",
      "enable var-lib-kubelet.mount",
      "enable var-lib-containerd.mount",
      "enable var-lib-soci\\x2dsnapshotter\\x2dgrpc.mount",
      "enable var-log-pods.mount",
      "start mnt-k8s\\x2ddisks-0.mount",
      "stop containerd.service",
      "copy /var/lib/kubelet to /mnt/k8s-disks/0/kubelet (once: skipped when /mnt/k8s-disks/0/kubelet exists)",
      "start var-lib-kubelet.mount",
      "copy /var/lib/containerd to /mnt/k8s-disks/0/containerd (once: skipped when /mnt/k8s-disks/0/containerd exists)",
      "start var-lib-containerd.mount",
      "copy /var/lib/soci-snapshotter-grpc to /mnt/k8s-disks/0/soci-snapshotter-grpc (once: skipped when /mnt/k8s-disks/0/soci-snapshotter-grpc exists)",
      "start var-lib-soci\\x2dsnapshotter\\x2dgrpc.mount",
      "copy /var/log/pods to /mnt/k8s-disks/0/pods (once: skipped when /mnt/k8s-disks/0/pods exists)",
      "start var-log-pods.mount",
      "start containerd.service",
  });
  CHECK(p.steps.at(2).argv == std::vector<std::string>{"mkfs.xfs", "-K", "-l", "su=8b", "/dev/md/kubernetes"});
  const std::string unit = c::mount_unit_text(p.steps.at(3).mount, "1234-abcd");
  CHECK(unit.find("What=UUID=1234-abcd\nWhere=/mnt/k8s-disks/0\nType=xfs\nOptions=defaults,noatime\n") != std::string::npos);
  CHECK(unit.find("WantedBy=multi-user.target") != std::string::npos);
  const std::string bind = c::mount_unit_text(p.steps.at(4).mount, "");
  CHECK(bind.find("RequiresMountsFor=/mnt/k8s-disks/0\n") != std::string::npos);
  CHECK(bind.find("What=/mnt/k8s-disks/0/kubelet\nWhere=/var/lib/kubelet\nType=none\nOptions=bind\n") != std::string::npos);

  SUBCASE("a re-run changes nothing") {
    CHECK(c::plan_local_disks(s, after(s, p, f)).value().steps.empty());
  }
  SUBCASE("after a reboot the renamed /dev/md/kubernetes_0 is used and nothing changes") {
    auto rebooted = after(s, p, f, "/dev/md/kubernetes_0");
    const auto q = c::plan_local_disks(s, rebooted).value();
    CHECK(q.steps.empty());
    // ...and if the units were not active after the reboot, they are only started again.
    rebooted.active.clear();
    const auto r = c::plan_local_disks(s, rebooted).value();
    for (const auto& st : r.steps) {
      CAPTURE(st.description);
      CHECK((st.kind == Kind::Start || st.kind == Kind::CopyState));
    }
    CHECK(r.steps.at(0).unit == "mnt-k8s\\x2ddisks-0.mount");
  }
}

TEST_CASE("raid: a stale mdadm.conf is not trusted, a known array is not created again") {
  const auto s = settings("raid0");
  auto f = disks(2);
  f.mdadm_conf = "ARRAY /dev/md/kubernetes metadata=1.2 name=kubernetes\n";
  f.scan_lists_array = false;  // mdadm no longer knows it
  CHECK(c::plan_local_disks(s, f).value().steps.at(0).kind == Kind::CreateArray);

  f.mdadm_conf.reset();  // array known to mdadm but never recorded: only record it
  f.scan_lists_array = true;
  f.array = c::BlockDevice{.path = "/dev/md/kubernetes", .fs_type = "xfs", .uuid = "u1"};
  const auto p = c::plan_local_disks(s, f).value();
  CHECK(p.steps.at(0).kind == Kind::RecordArray);
  for (const auto& st : p.steps) CHECK(st.kind != Kind::MakeFilesystem);
  CHECK(c::mount_unit_text(p.steps.at(1).mount, "").find("What=UUID=u1\n") != std::string::npos);
}

TEST_CASE("raid: disabled bind mounts are neither written nor moved; only new binds stop services") {
  const auto s = settings("raid0", {"Kubelet", "Containerd", "SOCI", "PodLogs"});
  auto f = disks(1);
  f.active = {"kubelet.service", "containerd.service"};
  const auto p = c::plan_local_disks(s, f).value();
  for (const auto& st : p.steps) {
    CAPTURE(st.description);
    CHECK(st.kind != Kind::Stop);
    CHECK(st.kind != Kind::CopyState);
    CHECK(st.path.find("/var/") == std::string::npos);
  }
  // Only /var/log/pods new, the others already in place: only kubelet is stopped and started.
  const auto s2 = settings("raid0", {"SOCI"});
  auto g = after(s2, c::plan_local_disks(s2, f).value(), f);
  g.active.erase("var-log-pods.mount");
  g.active.insert("kubelet.service");
  CHECK(descriptions(c::plan_local_disks(s2, g).value()) ==
        std::vector<std::string>{"stop kubelet.service",
                                 "copy /var/log/pods to /mnt/k8s-disks/0/pods (once: skipped when /mnt/k8s-disks/0/pods exists)",
                                 "start var-log-pods.mount", "start kubelet.service"});
}

TEST_CASE("mount mode: blank disks formatted, each at DIR/n, mounted disks and filesystems left alone") {
  const auto s = settings("mount", {}, "/scratch");
  auto f = disks(3);
  f.disks[1].fs_type = "ext4";  // has data: never formatted, mounted as it is
  f.disks[1].uuid = "e-2";
  f.disks[2].fs_type = "xfs";
  f.disks[2].uuid = "x-3";
  f.disks[2].mountpoint = "/elsewhere";  // someone mounted it: skipped
  const auto p = c::plan_local_disks(s, f).value();
  CHECK(descriptions(p) == std::vector<std::string>{
      "mkfs.xfs /dev/nvme1n1 (only if it still has no filesystem)",
      "write /etc/systemd/system/scratch-1.mount (What=UUID of /dev/nvme1n1, Where=/scratch/1)",
      "write /etc/systemd/system/scratch-2.mount (What=UUID=e-2, Where=/scratch/2)",
      "daemon-reload", "enable scratch-1.mount", "enable scratch-2.mount",
      "start scratch-1.mount", "start scratch-2.mount"});
  CHECK(p.steps[0].argv == std::vector<std::string>{"mkfs.xfs", "-l", "su=8b", "/dev/nvme1n1"});
  CHECK(c::mount_unit_text(p.steps[2].mount, "").find("Type=ext4\n") != std::string::npos);
  CHECK(p.diagnostics.at(0).id == "LOCAL_DISKS_ALREADY_MOUNTED");
  SUBCASE("a re-run changes nothing") {
    CHECK(c::plan_local_disks(s, after(s, p, f)).value().steps.empty());
  }
}

TEST_CASE("scan output: only an ARRAY line counts") {
  CHECK(c::scan_lists_array("ARRAY /dev/md/kubernetes metadata=1.2 name=x:kubernetes UUID=a\n"));
  CHECK_FALSE(c::scan_lists_array(""));
  CHECK_FALSE(c::scan_lists_array("mdadm: no arrays\n"));
}

// --- the executor, against fakes ------------------------------------------------------------------

namespace {

struct ScriptedCommands final : agent::CommandRunner {
  std::vector<std::string> calls;
  std::map<std::string, agent::Result<std::string>> answers;  // by argv[0] + " " + argv[1]
  std::map<std::string, std::string> signatures;              // device -> wipefs line
  agent::Result<std::string> run(const std::vector<std::string>& argv) override {
    std::string line;
    for (const auto& a : argv) line += (line.empty() ? "" : " ") + a;
    calls.push_back(line);
    if (argv[0] == "wipefs") return signatures.count(argv.back()) ? signatures[argv.back()] : std::string();
    if (argv[0] == "mkfs.xfs") {
      if (auto it = answers.find("mkfs.xfs"); it != answers.end()) return it->second;
      signatures[argv.back()] = "xfs 9f2c-uuid\n";
      return std::string();
    }
    if (auto it = answers.find(argv[0] + " " + argv[1]); it != answers.end()) return it->second;
    return std::string();
  }
};

}  // namespace

TEST_CASE("the executor formats, writes units atomically and starts them; a failed mkfs mounts nothing") {
  agent::testing::MemRootFs fs;
  agent::testing::RecordingServiceManager sm;
  ScriptedCommands cmd;
  fs.put_symlink("../../loop1", "/dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1");
  fs.put_symlink("../../loop9", "/dev/disk/by-id/nvme-Amazon_Elastic_Block_Store_vol1");  // EBS: never used
  fs.put("/sys/class/block/loop1/dev", "7:1\n");
  fs.put("/proc/self/mountinfo", "1 0 0:1 / / rw - tmpfs tmpfs rw\n");
  agent::app::LocalDiskPorts ports{fs, cmd, sm, agent::Deadline::max(), nullptr};
  NodeConfig n;
  n.local_disks = "mount";

  SUBCASE("dry run lists the disk and the steps and changes nothing") {
    auto text = agent::app::setup_local_disks(n, ports, /*dry_run=*/true, true).value();
    CHECK(text.find("local disks (mount, /mnt/k8s-disks): /dev/loop1\n") != std::string::npos);
    CHECK(text.find("1. mkfs.xfs /dev/loop1") != std::string::npos);
    CHECK(fs.ops().empty());
    CHECK(sm.calls().empty());
    for (const auto& c : cmd.calls) CHECK(c.starts_with("wipefs"));
  }
  SUBCASE("a real run") {
    REQUIRE(agent::app::setup_local_disks(n, ports, false, true).has_value());
    CHECK(fs.read("/etc/systemd/system/mnt-k8s\\x2ddisks-1.mount").value().find("What=UUID=9f2c-uuid\n") !=
          std::string::npos);
    CHECK(sm.calls() == std::vector<std::string>{"reload", "enable mnt-k8s\\x2ddisks-1.mount",
                                                 "start mnt-k8s\\x2ddisks-1.mount"});
    CHECK(std::find(cmd.calls.begin(), cmd.calls.end(), "mkfs.xfs -l su=8b /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_Storage_AWS1") == cmd.calls.end());
  }
  SUBCASE("mkfs fails: the error names the step and device, and no unit is written or started") {
    cmd.answers.emplace("mkfs.xfs", agent::make_error(Errc::Invalid, "mkfs.xfs failed (status 1): bad superblock"));
    auto r = agent::app::setup_local_disks(n, ports, false, true);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Io);
    CHECK(r.error().message.find("mkfs.xfs /dev/loop1") != std::string::npos);
    CHECK(r.error().message.find("status 1): bad superblock") != std::string::npos);
    CHECK(fs.ops().empty());
    CHECK(sm.calls().empty());
  }
  SUBCASE("not on the node's root: Unsupported, nothing done") {
    auto r = agent::app::setup_local_disks(n, ports, false, false);
    CHECK(r.error().code == Errc::Unsupported);
    CHECK(fs.ops().empty());
  }
}
