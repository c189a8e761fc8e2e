// OfflineServiceManager against a real scratch root (PosixRootFs), with `systemctl --root` as the
// oracle for the symlinks it must create.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>

#include "agent/platform/offline_service_manager.h"
#include "agent/platform/posix_root_fs.h"

namespace fs = std::filesystem;
using agent::Errc;
using agent::platform::InstallSection;
using agent::platform::OfflineServiceManager;
using agent::platform::parse_install_section;
using agent::platform::PosixRootFs;

namespace {

class TempRoot {
 public:
  TempRoot() {
    std::string tmpl = (fs::temp_directory_path() / "offline-root.XXXXXX").string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
    auto r = PosixRootFs::open(path_.string());
    REQUIRE(r.has_value());
    fs_ = std::move(r).value();
  }
  ~TempRoot() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  PosixRootFs& fs() { return *fs_; }
  void put(const std::string& node_path, const std::string& text) {
    REQUIRE(fs_->write_atomic(node_path, text, 0644).has_value());
  }

 private:
  fs::path path_;
  std::unique_ptr<PosixRootFs> fs_;
};

// Every symlink under <root>/etc/systemd/system: relative path -> target.
std::map<std::string, std::string> links_under(const fs::path& root) {
  std::map<std::string, std::string> out;
  const fs::path base = root / "etc/systemd/system";
  if (!fs::exists(base)) return out;
  for (const auto& e : fs::recursive_directory_iterator(base))
    if (e.is_symlink()) out[fs::relative(e.path(), base).string()] = fs::read_symlink(e.path()).string();
  return out;
}

const char* const kKubeletUnit = R"([Unit]
Description=Kubernetes Kubelet
# WantedBy= in a comment must not count
[Service]
ExecStart=/usr/bin/kubelet

[Install]
WantedBy=multi-user.target
Alias=kubelet-alias.service
RequiredBy=containerd.service \
           sandbox.target
)";

}  // namespace

TEST_CASE("offline enable creates the [Install] symlinks and is idempotent") {
  TempRoot root;
  root.put("/etc/systemd/system/kubelet.service", kKubeletUnit);
  OfflineServiceManager sm(root.fs());

  REQUIRE(sm.reload().has_value());
  auto r = sm.enable("kubelet.service");
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  const std::map<std::string, std::string> expected = {
      {"multi-user.target.wants/kubelet.service", "/etc/systemd/system/kubelet.service"},
      {"containerd.service.requires/kubelet.service", "/etc/systemd/system/kubelet.service"},
      {"sandbox.target.requires/kubelet.service", "/etc/systemd/system/kubelet.service"},
      {"kubelet-alias.service", "/etc/systemd/system/kubelet.service"},
  };
  CHECK(links_under(root.path()) == expected);

  struct stat before {};
  const fs::path wants = root.path() / "etc/systemd/system/multi-user.target.wants/kubelet.service";
  REQUIRE(::lstat(wants.c_str(), &before) == 0);
  REQUIRE(sm.enable("kubelet.service").has_value());
  struct stat after {};
  REQUIRE(::lstat(wants.c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);
  CHECK(links_under(root.path()) == expected);
}

TEST_CASE("offline enable links to the unit file where it was found, following Also=") {
  TempRoot root;
  root.put("/usr/lib/systemd/system/containerd.service",
           "[Service]\nExecStart=/usr/bin/containerd\n[Install]\nWantedBy=multi-user.target\nAlso=sandbox.socket\n");
  root.put("/lib/systemd/system/sandbox.socket", "[Socket]\n[Install]\nWantedBy=sockets.target\nAlso=containerd.service\n");
  OfflineServiceManager sm(root.fs());
  REQUIRE(sm.enable("containerd.service").has_value());
  CHECK(links_under(root.path()) == std::map<std::string, std::string>{
                                        {"multi-user.target.wants/containerd.service",
                                         "/usr/lib/systemd/system/containerd.service"},
                                        {"sockets.target.wants/sandbox.socket",
                                         "/lib/systemd/system/sandbox.socket"},
                                    });
}

TEST_CASE("offline enable matches systemctl --root on the same tree") {
  if (::access("/usr/bin/systemctl", X_OK) != 0 && ::access("/bin/systemctl", X_OK) != 0) {
    MESSAGE("systemctl not installed, skipped");
    return;
  }
  TempRoot ours;
  TempRoot theirs;
  for (TempRoot* r : {&ours, &theirs}) r->put("/etc/systemd/system/kubelet.service", kKubeletUnit);
  OfflineServiceManager sm(ours.fs());
  REQUIRE(sm.enable("kubelet.service").has_value());

  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    const std::string root_arg = "--root=" + theirs.path().string();
    int devnull = ::open("/dev/null", O_WRONLY);
    ::dup2(devnull, 1);
    ::dup2(devnull, 2);
    ::execlp("systemctl", "systemctl", root_arg.c_str(), "enable", "kubelet.service", nullptr);
    ::_exit(127);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 0);
  CHECK(links_under(ours.path()) == links_under(theirs.path()));
}

TEST_CASE("offline enable reports missing, template and malformed units") {
  TempRoot root;
  OfflineServiceManager sm(root.fs());
  auto missing = sm.enable("nope.service");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK(missing.error().message.find("nope.service") != std::string::npos);

  CHECK(sm.enable("getty@tty1.service").error().code == Errc::Unsupported);
  CHECK(sm.enable("../escape.service").error().code == Errc::Parse);

  root.put("/etc/systemd/system/bad.service", "[Install]\nWantedBy=../x.target\n");
  CHECK(sm.enable("bad.service").error().code == Errc::Parse);
  root.put("/etc/systemd/system/alias.service", "[Install]\nAlias=alias.socket\n");
  CHECK(sm.enable("alias.service").error().code == Errc::Parse);

  root.put("/etc/systemd/system/static.service", "[Service]\nExecStart=/bin/true\n");
  CHECK(sm.enable("static.service").has_value());
  CHECK(links_under(root.path()).empty());
}

TEST_CASE("offline run_job is Unsupported and state reflects unit file presence") {
  TempRoot root;
  root.put("/usr/lib/systemd/system/kubelet.service", kKubeletUnit);
  OfflineServiceManager sm(root.fs());

  auto job = sm.run_job("kubelet.service", "start", std::chrono::steady_clock::now() + std::chrono::seconds(5));
  REQUIRE_FALSE(job.has_value());
  CHECK(job.error().code == Errc::Unsupported);
  CHECK(job.error().message ==
        "unit kubelet.service cannot be started in an offline root; boot the image to start it");

  CHECK(sm.state("kubelet.service").value() == agent::UnitState{"loaded", "inactive", "dead", "", 0});
  CHECK(sm.state("other.service").value() == agent::UnitState{"not-found", "inactive", "dead", "", 0});
  CHECK(sm.recent_logs("kubelet.service", 10).empty());
}

TEST_CASE("parse_install_section follows systemd's list rules") {
  CHECK(parse_install_section("[Unit]\nWantedBy=not-here.target\n") == InstallSection{});
  CHECK(parse_install_section("[Install]\nWantedBy=a.target b.target\nWantedBy=c.target\n").wanted_by ==
        std::vector<std::string>{"a.target", "b.target", "c.target"});
  CHECK(parse_install_section("[Install]\nWantedBy=a.target\nWantedBy=\nWantedBy=d.target\n").wanted_by ==
        std::vector<std::string>{"d.target"});
  auto s = parse_install_section(
      "[Install]\r\n  ; comment\nRequiredBy = x.target \\\n y.target\nAlias=z.service\n[X-Other]\nWantedBy=no.target\n");
  CHECK(s.present);
  CHECK(s.required_by == std::vector<std::string>{"x.target", "y.target"});
  CHECK(s.alias == std::vector<std::string>{"z.service"});
  CHECK(s.wanted_by.empty());
}
