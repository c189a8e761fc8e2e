// PosixRootFs against real files in a scratch directory. Every behaviour that depends on symlink
// resolution runs twice: with openat2(RESOLVE_IN_ROOT) and with the userspace fallback walk.
#include <doctest/doctest.h>
#include <fcntl.h>
#include <csignal>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>

#include "agent/platform/posix_root_fs.h"

namespace fs = std::filesystem;
using agent::CancelToken;
using agent::Errc;
using agent::WriteOutcome;
using agent::platform::PosixRootFs;

namespace {

// A mkdtemp directory, removed with everything in it.
class TempDir {
 public:
  explicit TempDir(const char* tag) {
    std::string tmpl = (fs::temp_directory_path() / (std::string(tag) + ".XXXXXX")).string();
    REQUIRE(::mkdtemp(tmpl.data()) != nullptr);
    path_ = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path_, ec);
  }
  const fs::path& path() const { return path_; }
  fs::path operator/(const std::string& rel) const { return path_ / rel; }

 private:
  fs::path path_;
};

std::string slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

struct stat lstat_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::lstat(p.c_str(), &st) == 0);
  return st;
}

bool has_temp_files(const fs::path& dir) {
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) return true;
  return false;
}

// Opens `root` with the resolver chosen by the current SUBCASE; null when openat2 is unavailable.
std::unique_ptr<PosixRootFs> open_with(const fs::path& root, PosixRootFs::Resolver resolver) {
  auto r = PosixRootFs::open(root.string(), resolver);
  if (!r && r.error().code == Errc::Unsupported) {
    MESSAGE("openat2 unavailable here, skipping: " << r.error().message);
    return nullptr;
  }
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  return std::move(r).value();
}

#define FOR_EACH_RESOLVER(resolver)                                         \
  PosixRootFs::Resolver resolver = PosixRootFs::Resolver::Userspace;       \
  SUBCASE("openat2") { resolver = PosixRootFs::Resolver::Openat2; }        \
  SUBCASE("userspace walk") { resolver = PosixRootFs::Resolver::Userspace; }

// Runs fn in a forked child with a private mount namespace (mounts vanish with it). Returns fn's
// exit code, or 77 when the namespace cannot be created (not root).
int in_private_mount_ns(const std::function<int()>& fn) {
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    if (::unshare(CLONE_NEWNS) != 0 || ::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0)
      ::_exit(77);
    ::_exit(fn());
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
}

}  // namespace

TEST_CASE("PosixRootFs opens a directory and picks openat2 on this kernel") {
  TempDir root("rootfs");
  auto fs = PosixRootFs::open(root.path().string());
  REQUIRE(fs.has_value());
  const std::string name = (*fs)->resolver() == PosixRootFs::Resolver::Openat2 ? "openat2" : "userspace";
  MESSAGE("resolver: " << name);
  CHECK((*fs)->resolver() != PosixRootFs::Resolver::Auto);

  auto missing = PosixRootFs::open((root / "nope").string());
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK(missing.error().message.find("nope") != std::string::npos);
}

TEST_CASE("write_atomic creates, leaves identical bytes untouched, and replaces changed bytes") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  const fs::path host = root / "etc/eks/config.json";

  auto first = fs->write_atomic("/etc/eks/config.json", "{\"a\":1}\n", 0644);
  REQUIRE(first.has_value());
  CHECK(*first == WriteOutcome::Created);
  CHECK(slurp(host) == "{\"a\":1}\n");
  CHECK((lstat_of(host).st_mode & 07777) == 0644);

  // Backdate the file so that any rewrite would show in mtime.
  struct timespec old[2] = {{946684800, 0}, {946684800, 0}};
  REQUIRE(::utimensat(AT_FDCWD, host.c_str(), old, 0) == 0);
  const struct stat before = lstat_of(host);

  auto same = fs->write_atomic("/etc/eks/config.json", "{\"a\":1}\n", 0644);
  REQUIRE(same.has_value());
  CHECK(*same == WriteOutcome::Unchanged);
  const struct stat after = lstat_of(host);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_sec == 946684800);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);

  auto changed = fs->write_atomic("/etc/eks/config.json", "{\"a\":2}\n", 0600);
  REQUIRE(changed.has_value());
  CHECK(*changed == WriteOutcome::Updated);
  CHECK(slurp(host) == "{\"a\":2}\n");
  CHECK(lstat_of(host).st_ino != before.st_ino);  // replaced by rename, not rewritten in place
  CHECK((lstat_of(host).st_mode & 07777) == 0600);
  CHECK_FALSE(has_temp_files(root / "etc/eks"));

  // Same length, different bytes: must not be mistaken for Unchanged.
  auto same_size = fs->write_atomic("/etc/eks/config.json", "{\"a\":3}\n", 0600);
  REQUIRE(same_size.has_value());
  CHECK(*same_size == WriteOutcome::Updated);

  auto empty = fs->write_atomic("/etc/eks/empty", "", 0644);
  REQUIRE(empty.has_value());
  CHECK(*empty == WriteOutcome::Created);
  CHECK(*fs->write_atomic("/etc/eks/empty", "", 0644) == WriteOutcome::Unchanged);
}

TEST_CASE("Unchanged content still gets its mode corrected, without a rewrite") {
  TempDir root("rootfs");
  auto fs = open_with(root.path(), PosixRootFs::Resolver::Auto);
  const fs::path host = root / "etc/kubernetes/pki/ca.crt";
  REQUIRE(fs->write_atomic("/etc/kubernetes/pki/ca.crt", "CERT", 0644).has_value());
  const struct stat before = lstat_of(host);

  auto r = fs->write_atomic("/etc/kubernetes/pki/ca.crt", "CERT", 0400);
  REQUIRE(r.has_value());
  CHECK(*r == WriteOutcome::Unchanged);
  const struct stat after = lstat_of(host);
  CHECK((after.st_mode & 07777) == 0400);
  CHECK(after.st_ino == before.st_ino);
  CHECK(after.st_mtim.tv_sec == before.st_mtim.tv_sec);
  CHECK(after.st_mtim.tv_nsec == before.st_mtim.tv_nsec);
}

TEST_CASE("missing parent directories are created 0755 whatever the umask") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  mode_t saved = ::umask(077);
  auto r = fs->write_atomic("/var/lib/kubelet/deep/er/file", "x", 0640);
  ::umask(saved);
  REQUIRE_MESSAGE(r.has_value(), r.error().message);
  for (const char* d : {"var", "var/lib", "var/lib/kubelet", "var/lib/kubelet/deep", "var/lib/kubelet/deep/er"}) {
    CAPTURE(d);
    const struct stat st = lstat_of(root / d);
    CHECK(S_ISDIR(st.st_mode));
    CHECK((st.st_mode & 07777) == 0755);
  }
  CHECK((lstat_of(root / "var/lib/kubelet/deep/er/file").st_mode & 07777) == 0640);

  // "." and repeated slashes are harmless.
  auto dotted = fs->write_atomic("/var//lib/./kubelet/other", "y", 0644);
  REQUIRE(dotted.has_value());
  CHECK(slurp(root / "var/lib/kubelet/other") == "y");
}

TEST_CASE("relative paths and '..' components are rejected as Invalid") {
  TempDir root("rootfs");
  auto fs = open_with(root.path(), PosixRootFs::Resolver::Auto);
  for (const char* bad : {"etc/x", "", "/etc/../x", "/..", "/../etc/passwd", "/a/b/.."}) {
    CAPTURE(bad);
    auto w = fs->write_atomic(bad, "x", 0644);
    REQUIRE_FALSE(w.has_value());
    CHECK(w.error().code == Errc::Invalid);
    CHECK(fs->read(bad).error().code == Errc::Invalid);
    CHECK(fs->list(bad).error().code == Errc::Invalid);
    CHECK(fs->remove(bad).error().code == Errc::Invalid);
    CHECK(fs->symlink("/x", bad).error().code == Errc::Invalid);
    CHECK_FALSE(fs->exists(bad));
  }
  CHECK(fs->write_atomic("/", "x", 0644).error().code == Errc::Invalid);
  CHECK(fs::is_empty(root.path()));
}

TEST_CASE("symlinks are resolved inside the root, never escaping it") {
  TempDir root("rootfs");
  TempDir outside("outside");
  { std::ofstream(outside / "secret") << "host secret"; }
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;

  // An absolute link to a host directory means that directory *under the root*.
  fs::create_directories(root / "real");
  REQUIRE(::symlink(outside.path().c_str(), (root / "abs").c_str()) == 0);
  CHECK(fs->read("/abs/secret").error().code == Errc::NotFound);
  // ".." in link targets stops at the root.
  REQUIRE(::symlink("../../../../../../..", (root / "up").c_str()) == 0);
  const std::string via_up = "/up" + (outside / "secret").string();
  CHECK(fs->read(via_up).error().code == Errc::NotFound);
  // A final-component link to a host file reads <root>/<target>.
  REQUIRE(::symlink((outside / "secret").c_str(), (root / "real/file-link").c_str()) == 0);
  CHECK(fs->read("/real/file-link").error().code == Errc::NotFound);
  fs::create_directories(root / outside.path().relative_path());
  { std::ofstream(root / outside.path().relative_path() / "secret") << "in-root copy"; }
  CHECK(fs->read("/real/file-link").value() == "in-root copy");
  CHECK(fs->read("/abs/secret").value() == "in-root copy");

  // Writing through a link that points outside creates the file under the root instead.
  auto w = fs->write_atomic("/abs/planted", "x", 0644);
  REQUIRE_MESSAGE(w.has_value(), w.error().message);
  CHECK_FALSE(fs::exists(outside / "planted"));
  CHECK(fs::exists(root / outside.path().relative_path() / "planted"));
  CHECK(slurp(outside / "secret") == "host secret");

  // In-root links work as on a booted node: /etc/alt -> /real.
  REQUIRE(::symlink("/real", (root / "alt").c_str()) == 0);
  REQUIRE(fs->write_atomic("/alt/through", "ok", 0644).has_value());
  CHECK(slurp(root / "real/through") == "ok");
  CHECK(fs->list("/alt").value() == std::vector<std::string>{"file-link", "through"});

  // Link loops end with an error rather than spinning.
  REQUIRE(::symlink("/loop2", (root / "loop1").c_str()) == 0);
  REQUIRE(::symlink("/loop1", (root / "loop2").c_str()) == 0);
  auto loop = fs->read("/loop1/x");
  REQUIRE_FALSE(loop.has_value());
  CHECK(loop.error().code == Errc::Io);
}

TEST_CASE("write_atomic over a final-component symlink replaces the link, not its target") {
  TempDir root("rootfs");
  auto fs = open_with(root.path(), PosixRootFs::Resolver::Auto);
  REQUIRE(fs->write_atomic("/etc/target", "target", 0644).has_value());
  REQUIRE(::symlink("/etc/target", (root / "etc/link").c_str()) == 0);
  auto r = fs->write_atomic("/etc/link", "target", 0644);
  REQUIRE(r.has_value());
  CHECK(*r == WriteOutcome::Updated);  // a link is never "the same bytes"
  CHECK(fs::is_regular_file(fs::symlink_status(root / "etc/link")));
  CHECK(slurp(root / "etc/target") == "target");
}

TEST_CASE("a failed write leaves the old file intact and no temp file behind") {
  TempDir root("rootfs");
  auto fs = open_with(root.path(), PosixRootFs::Resolver::Auto);

  SUBCASE("the target is a directory") {
    fs::create_directories(root / "etc/kubelet.conf/inner");
    auto r = fs->write_atomic("/etc/kubelet.conf", "bytes", 0644);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Io);
    CHECK(r.error().message.find("/etc/kubelet.conf") != std::string::npos);
    CHECK(r.error().message.find("Is a directory") != std::string::npos);
    CHECK(fs::is_directory(root / "etc/kubelet.conf/inner"));
    CHECK_FALSE(has_temp_files(root / "etc"));
  }

  SUBCASE("a parent is a regular file") {
    REQUIRE(fs->write_atomic("/etc/file", "old", 0644).has_value());
    auto r = fs->write_atomic("/etc/file/child", "bytes", 0644);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Io);
    CHECK(slurp(root / "etc/file") == "old");
  }

  SUBCASE("the directory is a read-only bind mount") {
    REQUIRE(fs->write_atomic("/etc/ro/file", "old", 0644).has_value());
    const std::string dir = (root / "etc/ro").string();
    int rc = in_private_mount_ns([&] {
      if (::mount(dir.c_str(), dir.c_str(), nullptr, MS_BIND, nullptr) != 0) return 77;
      if (::mount(nullptr, dir.c_str(), nullptr, MS_REMOUNT | MS_BIND | MS_RDONLY, nullptr) != 0) return 77;
      // A root fd opened before the mount still sees the parent namespace's mounts; reopen.
      auto inner = PosixRootFs::open(root.path().string());
      if (!inner) return 10;
      auto r = (*inner)->write_atomic("/etc/ro/file", "new", 0644);
      if (r.has_value()) return 1;
      if (r.error().code != Errc::Denied) return 2;
      if (r.error().message.find("Read-only file system") == std::string::npos) return 3;
      return 0;
    });
    if (rc == 77) {
      MESSAGE("cannot create a mount namespace here (not root?), skipped");
    } else {
      CHECK(rc == 0);
    }
    CHECK(slurp(root / "etc/ro/file") == "old");
    CHECK_FALSE(has_temp_files(root / "etc/ro"));
  }

  SUBCASE("the filesystem fills up mid-write (tmpfs of 64 KiB)") {
    const fs::path small = root / "small";
    fs::create_directories(small);
    int rc = in_private_mount_ns([&] {
      if (::mount("tmpfs", small.c_str(), "tmpfs", 0, "size=64k") != 0) return 77;
      auto inner = PosixRootFs::open(root.path().string());
      if (!inner) return 10;
      if (!(*inner)->write_atomic("/small/file", "old", 0644).has_value()) return 1;
      auto r = (*inner)->write_atomic("/small/file", std::string(1 << 20, 'x'), 0644);
      if (r.has_value()) return 2;
      if (r.error().code != Errc::Io) return 3;
      if (slurp(small / "file") != "old") return 4;
      if (has_temp_files(small)) return 5;
      return 0;
    });
    if (rc == 77) {
      MESSAGE("cannot create a mount namespace here (not root?), skipped");
    } else {
      CHECK(rc == 0);
    }
  }
}

TEST_CASE("symlink creates parents, is Unchanged when already right, and replaces atomically") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  const std::string link = "/etc/systemd/system/multi-user.target.wants/kubelet.service";
  const fs::path host = root / link.substr(1);

  auto c = fs->symlink("/etc/systemd/system/kubelet.service", link);
  REQUIRE_MESSAGE(c.has_value(), c.error().message);
  CHECK(*c == WriteOutcome::Created);
  CHECK(fs::read_symlink(host) == "/etc/systemd/system/kubelet.service");
  const struct stat before = lstat_of(host);

  CHECK(*fs->symlink("/etc/systemd/system/kubelet.service", link) == WriteOutcome::Unchanged);
  CHECK(lstat_of(host).st_ino == before.st_ino);
  CHECK(fs->exists(link));  // dangling inside the scratch root, still present

  CHECK(*fs->symlink("/usr/lib/systemd/system/kubelet.service", link) == WriteOutcome::Updated);
  CHECK(fs::read_symlink(host) == "/usr/lib/systemd/system/kubelet.service");

  REQUIRE(fs->write_atomic("/etc/plain", "file", 0644).has_value());
  CHECK(*fs->symlink("target", "/etc/plain") == WriteOutcome::Updated);
  CHECK(fs::read_symlink(root / "etc/plain") == "target");

  fs::create_directories(root / "etc/dir/sub");
  auto onto_dir = fs->symlink("target", "/etc/dir");
  REQUIRE_FALSE(onto_dir.has_value());
  CHECK(onto_dir.error().code == Errc::Io);
  CHECK_FALSE(has_temp_files(root / "etc"));
  CHECK_FALSE(has_temp_files(host.parent_path()));
  CHECK(fs->symlink("", "/etc/x").error().code == Errc::Invalid);
}

TEST_CASE("remove is idempotent and unlinks links rather than their targets") {
  TempDir root("rootfs");
  auto fs = open_with(root.path(), PosixRootFs::Resolver::Auto);
  REQUIRE(fs->write_atomic("/etc/a", "a", 0644).has_value());
  CHECK(fs->remove("/etc/a").value() == true);
  CHECK_FALSE(fs::exists(root / "etc/a"));
  CHECK(fs->remove("/etc/a").value() == false);
  CHECK(fs->remove("/no/such/dir/a").value() == false);

  REQUIRE(fs->write_atomic("/etc/t", "t", 0644).has_value());
  REQUIRE(fs->symlink("/etc/t", "/etc/l").has_value());
  CHECK(fs->remove("/etc/l").value() == true);
  CHECK(fs::exists(root / "etc/t"));

  fs::create_directories(root / "etc/d");
  auto d = fs->remove("/etc/d");
  REQUIRE_FALSE(d.has_value());
  CHECK(d.error().code == Errc::Io);
}

TEST_CASE("read, exists and list report missing things with the node path") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  REQUIRE(fs->write_atomic("/etc/b", "B", 0644).has_value());
  REQUIRE(fs->write_atomic("/etc/a", "A", 0644).has_value());
  REQUIRE(fs->write_atomic("/etc/c/d", "D", 0644).has_value());
  REQUIRE(::symlink("/nowhere", (root / "etc/dangling").c_str()) == 0);

  CHECK(fs->read("/etc/a").value() == "A");
  auto missing = fs->read("/etc/missing");
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK(missing.error().message.find("/etc/missing") != std::string::npos);
  CHECK(missing.error().message.find("No such file or directory") != std::string::npos);
  CHECK(fs->read("/etc").error().code == Errc::Io);
  CHECK(fs->read("/etc/dangling").error().code == Errc::NotFound);

  CHECK(fs->exists("/"));
  CHECK(fs->exists("/etc"));
  CHECK(fs->exists("/etc/a"));
  CHECK(fs->exists("/etc/dangling"));
  CHECK_FALSE(fs->exists("/etc/missing"));
  CHECK_FALSE(fs->exists("/missing/deeper"));

  CHECK(fs->list("/etc").value() == std::vector<std::string>{"a", "b", "c", "dangling"});
  CHECK(fs->list("/").value() == std::vector<std::string>{"etc"});
  CHECK(fs->list("/etc/nope").error().code == Errc::NotFound);
  CHECK(fs->list("/etc/a").error().code == Errc::Io);
}

TEST_CASE("outcome_name spells the three outcomes") {
  CHECK(std::string(agent::outcome_name(WriteOutcome::Created)) == "created");
  CHECK(std::string(agent::outcome_name(WriteOutcome::Updated)) == "updated");
  CHECK(std::string(agent::outcome_name(WriteOutcome::Unchanged)) == "unchanged");
}

TEST_CASE("read_chunks streams a file larger than its buffer, in order, resolved in the root") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  std::string big;
  for (int i = 0; i < (3 << 20) + 17; ++i) big.push_back(static_cast<char>('a' + i % 26));
  REQUIRE(fs->write_atomic("/usr/bin/kubelet", big, 0755));
  std::string joined;
  int pieces = 0;
  REQUIRE(fs->read_chunks("/usr/bin/kubelet", [&](std::string_view p) {
    joined.append(p);
    ++pieces;
  }));
  CHECK(joined == big);
  CHECK(pieces >= 4);  // 1 MiB at a time: never the whole file in one piece
  auto missing = fs->read_chunks("/usr/bin/absent", [](std::string_view) {});
  REQUIRE_FALSE(missing);
  CHECK(missing.error().code == Errc::NotFound);
}

TEST_CASE("stage_file: written in pieces, renamed by the batch with its mode; dropped if never committed") {
  TempDir root("rootfs");
  FOR_EACH_RESOLVER(resolver);
  auto fs = open_with(root.path(), resolver);
  if (!fs) return;
  auto temps = [&] {
    int n = 0;
    for (const auto& e : fs::recursive_directory_iterator(root.path())) {
      if (e.path().filename().string().find(".tmp") != std::string::npos) ++n;
    }
    return n;
  };
  {
    auto dropped = fs->stage_file("/usr/bin/kubectl", 0755);
    REQUIRE(dropped);
    REQUIRE((*dropped)->write("half a download"));
    CHECK(temps() == 1);
  }
  CHECK(temps() == 0);  // destroyed without a batch: nothing left behind
  CHECK_FALSE(fs::exists(root / "usr/bin/kubectl"));

  auto staged = fs->stage_file("/usr/bin/kubelet", 0755);
  REQUIRE(staged);
  REQUIRE((*staged)->write("first attempt, cut off"));
  REQUIRE((*staged)->truncate());
  REQUIRE((*staged)->write("#!/bin/sh\n"));
  REQUIRE((*staged)->write("echo kubelet\n"));
  CHECK_FALSE(fs::exists(root / "usr/bin/kubelet"));  // not before the batch
  std::vector<agent::RootFs::FileContent> batch = {
      {.path = "/usr/bin/kubelet", .mode = 0755, .staged = staged->get()},
      {.path = "/etc/eks/kubelet-version.txt", .bytes = "v1.30.4\n", .mode = 0644}};
  auto out = fs->write_atomic_all(batch, nullptr);
  REQUIRE_MESSAGE(out, (out ? "" : out.error().message));
  CHECK((*out)[0] == WriteOutcome::Created);
  CHECK(slurp(root / "usr/bin/kubelet") == "#!/bin/sh\necho kubelet\n");
  CHECK((lstat_of(root / "usr/bin/kubelet").st_mode & 07777) == 0755);
  staged->reset();  // the batch took the temp file over: nothing to remove, nothing removed
  CHECK(fs::exists(root / "usr/bin/kubelet"));
  CHECK(temps() == 0);

  // A cancelled batch removes the staged temp file too.
  auto again = fs->stage_file("/usr/bin/kubelet", 0755);
  REQUIRE(again);
  REQUIRE((*again)->write("new bytes"));
  CancelToken cancel;
  cancel.cancel(SIGTERM);
  std::vector<agent::RootFs::FileContent> cancelled = {{.path = "/usr/bin/kubelet", .mode = 0755, .staged = again->get()}};
  auto c = fs->write_atomic_all(cancelled, &cancel);
  REQUIRE_FALSE(c);
  CHECK(c.error().code == Errc::Interrupted);
  again->reset();
  CHECK(temps() == 0);
  CHECK(slurp(root / "usr/bin/kubelet") == "#!/bin/sh\necho kubelet\n");
}
