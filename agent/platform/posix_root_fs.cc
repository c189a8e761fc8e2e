#include "agent/platform/posix_root_fs.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <deque>

#if defined(SYS_openat2) && __has_include(<linux/openat2.h>)
#include <linux/openat2.h>
#define AGENT_HAVE_OPENAT2 1
#else
#define AGENT_HAVE_OPENAT2 0
#endif

namespace agent::platform {
namespace {

constexpr int kMaxSymlinks = 40;  // the kernel's MAXSYMLINKS

// Owns one file descriptor; -1 is empty.
class UniqueFd {
 public:
  UniqueFd() = default;
  explicit UniqueFd(int fd) : fd_(fd) {}
  UniqueFd(UniqueFd&& o) noexcept : fd_(std::exchange(o.fd_, -1)) {}
  UniqueFd& operator=(UniqueFd&& o) noexcept {
    reset(std::exchange(o.fd_, -1));
    return *this;
  }
  ~UniqueFd() { reset(); }
  int get() const { return fd_; }
  int release() { return std::exchange(fd_, -1); }
  void reset(int fd = -1) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_ = -1;
};

Errc errc_for(int err) {
  switch (err) {
    case ENOENT: return Errc::NotFound;
    case EACCES:
    case EPERM:
    case EROFS: return Errc::Denied;
    default: return Errc::Io;
  }
}

// Splits a node path into components, dropping empty and "." ones.
Result<std::vector<std::string>> split_node_path(const std::string& path) {
  if (path.empty() || path.front() != '/')
    return make_error(Errc::Invalid, "path is not absolute: '{}'", path);
  if (path.find('\0') != std::string::npos)
    return make_error(Errc::Invalid, "path contains a NUL byte: '{}'", path);
  std::vector<std::string> out;
  size_t i = 0;
  while (i < path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    std::string c = path.substr(i, j - i);
    if (c == "..") return make_error(Errc::Invalid, "path contains '..': '{}'", path);
    if (!c.empty() && c != ".") out.push_back(std::move(c));
    i = j + 1;
  }
  return out;
}

// readlinkat(2) into a string; returns -errno on failure.
int readlink_at(int dir_fd, const char* name, std::string& out) {
  std::string buf(256, '\0');
  for (;;) {
    ssize_t n = ::readlinkat(dir_fd, name, buf.data(), buf.size());
    if (n < 0) return -errno;
    if (static_cast<size_t>(n) < buf.size()) {
      buf.resize(static_cast<size_t>(n));
      out = std::move(buf);
      return 0;
    }
    buf.resize(buf.size() * 2);
  }
}

int read_all(int fd, std::string& out) {
  out.clear();
  char buf[65536];
  for (;;) {
    ssize_t n = ::read(fd, buf, sizeof buf);
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    if (n == 0) return 0;
    out.append(buf, static_cast<size_t>(n));
  }
}

int write_all(int fd, std::string_view bytes) {
  while (!bytes.empty()) {
    ssize_t n = ::write(fd, bytes.data(), bytes.size());
    if (n < 0) {
      if (errno == EINTR) continue;
      return -errno;
    }
    bytes.remove_prefix(static_cast<size_t>(n));
  }
  return 0;
}

// ".<name>.tmp.XXXXXX" with six random alphanumerics.
std::string temp_name(const std::string& name) {
  static constexpr char kAlphabet[] =
      "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
  unsigned char rnd[6] = {};
  if (::getrandom(rnd, sizeof rnd, GRND_NONBLOCK) != static_cast<ssize_t>(sizeof rnd)) {
    // No entropy yet (very early boot): fall back to pid and a counter; O_EXCL catches clashes.
    static unsigned counter = 0;
    unsigned v = static_cast<unsigned>(::getpid()) * 2654435761u + ++counter;
    for (auto& b : rnd) b = static_cast<unsigned char>(v >>= 5);
  }
  std::string out = "." + name + ".tmp.";
  for (unsigned char b : rnd) out += kAlphabet[b % (sizeof kAlphabet - 1)];
  return out;
}

#if AGENT_HAVE_OPENAT2
std::string join(const std::vector<std::string>& components) {
  if (components.empty()) return ".";
  std::string out;
  for (const auto& c : components) {
    if (!out.empty()) out += '/';
    out += c;
  }
  return out;
}

long sys_openat2(int dir_fd, const char* path, int flags) {
  struct open_how how = {};
  how.flags = static_cast<uint64_t>(flags | O_CLOEXEC);
  how.resolve = RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS;
  return ::syscall(SYS_openat2, dir_fd, path, &how, sizeof how);
}
#endif

}  // namespace

Result<std::unique_ptr<PosixRootFs>> PosixRootFs::open(const std::string& root_dir,
                                                       Resolver resolver) {
  UniqueFd fd(::open(root_dir.c_str(), O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (fd.get() < 0) {
    int e = errno;
    return make_error(errc_for(e), "opening root directory {}: {}", root_dir, std::strerror(e));
  }
  Resolver chosen = Resolver::Userspace;
  if (resolver != Resolver::Userspace) {
#if AGENT_HAVE_OPENAT2
    long probe = sys_openat2(fd.get(), ".", O_PATH);
    if (probe >= 0) {
      ::close(static_cast<int>(probe));
      chosen = Resolver::Openat2;
    } else if (resolver == Resolver::Openat2) {
      int e = errno;
      return make_error(Errc::Unsupported, "openat2 with RESOLVE_IN_ROOT is not available: {}",
                        std::strerror(e));
    }
    // Auto: ENOSYS (kernel < 5.6) or a seccomp filter's EPERM/ENOSYS -> the userspace walk.
#else
    if (resolver == Resolver::Openat2)
      return make_error(Errc::Unsupported, "openat2 was not available at build time");
#endif
  }
  return std::unique_ptr<PosixRootFs>(new PosixRootFs(fd.release(), root_dir, chosen));
}

PosixRootFs::~PosixRootFs() { ::close(root_fd_); }

namespace {
// Builds the error for a failed syscall on a node path; mentions the root unless it is "/".
Error fs_error(int err, std::string_view what, const std::string& path, const std::string& root) {
  if (root == "/")
    return make_error(errc_for(err), "{} {}: {}", what, path, std::strerror(err));
  return make_error(errc_for(err), "{} {} (under {}): {}", what, path, root, std::strerror(err));
}
}  // namespace

int PosixRootFs::open_in_root(const std::vector<std::string>& components, int flags) const {
#if AGENT_HAVE_OPENAT2
  if (resolver_ == Resolver::Openat2) {
    const std::string rel = join(components);
    // EAGAIN: a concurrent rename elsewhere in the tree made the kernel refuse to vouch for
    // containment; retrying is what the man page recommends.
    for (int attempt = 0;; ++attempt) {
      long fd = sys_openat2(root_fd_, rel.c_str(), flags);
      if (fd >= 0) return static_cast<int>(fd);
      if ((errno == EAGAIN || errno == EINTR) && attempt < 16) continue;
      return -errno;
    }
  }
#endif
  return walk_userspace(components, flags);
}

int PosixRootFs::walk_userspace(const std::vector<std::string>& components, int flags) const {
  // stack.front() is the root; stack.back() the directory resolved so far. ".." pops (never past
  // the root) and an absolute link target truncates to the root: RESOLVE_IN_ROOT's rules.
  std::vector<UniqueFd> stack;
  stack.emplace_back(::openat(root_fd_, ".", O_PATH | O_DIRECTORY | O_CLOEXEC));
  if (stack.back().get() < 0) return -errno;
  std::deque<std::string> todo(components.begin(), components.end());
  int links = 0;
  while (!todo.empty()) {
    std::string c = std::move(todo.front());
    todo.pop_front();
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (stack.size() > 1) stack.pop_back();
      continue;
    }
    const bool last = todo.empty();
    UniqueFd fd(::openat(stack.back().get(), c.c_str(), O_PATH | O_NOFOLLOW | O_CLOEXEC));
    if (fd.get() < 0) return -errno;
    struct stat st;
    if (::fstat(fd.get(), &st) < 0) return -errno;
    if (S_ISLNK(st.st_mode) && !(last && (flags & O_NOFOLLOW))) {
      if (++links > kMaxSymlinks) return -ELOOP;
      std::string target;
      if (int r = readlink_at(fd.get(), "", target); r < 0) return r;
      if (target.empty()) return -ENOENT;
      if (target.front() == '/') stack.resize(1);
      std::vector<std::string> parts;
      size_t i = 0;
      while (i <= target.size()) {
        size_t j = target.find('/', i);
        if (j == std::string::npos) j = target.size();
        parts.push_back(target.substr(i, j - i));
        i = j + 1;
      }
      todo.insert(todo.begin(), parts.begin(), parts.end());
      continue;
    }
    if (last) {
      // O_NOFOLLOW: the component was just seen not to be a link (or must not be followed).
      int r = ::openat(stack.back().get(), c.c_str(), flags | O_NOFOLLOW | O_CLOEXEC);
      return r < 0 ? -errno : r;
    }
    if (!S_ISDIR(st.st_mode)) return -ENOTDIR;
    stack.push_back(std::move(fd));
  }
  // The path resolved to a directory already on the stack (empty path, or a trailing link).
  int r = ::openat(stack.back().get(), ".", flags | O_CLOEXEC);
  return r < 0 ? -errno : r;
}

int PosixRootFs::open_parent(const std::vector<std::string>& components, bool create,
                             bool sync_new_dirs) const {
  const std::vector<std::string> parent(components.begin(), components.end() - 1);
  const int dir_flags = O_RDONLY | O_DIRECTORY;
  int fd = open_in_root(parent, dir_flags);
  if (fd >= 0 || fd != -ENOENT || !create) return fd;
  // mkdir -p, one component at a time, each resolved in the root like any other path.
  UniqueFd cur(open_in_root({}, dir_flags));
  if (cur.get() < 0) return cur.get();
  std::vector<std::string> prefix;
  for (const auto& c : parent) {
    prefix.push_back(c);
    int next = open_in_root(prefix, dir_flags);
    if (next == -ENOENT) {
      if (::mkdirat(cur.get(), c.c_str(), 0755) == 0) {
        // Exactly 0755 whatever the umask; fsync so the new entry survives a crash.
        if (::fchmodat(cur.get(), c.c_str(), 0755, 0) < 0) return -errno;
        if (sync_new_dirs && ::fsync(cur.get()) < 0) return -errno;
      } else if (errno != EEXIST) {
        return -errno;
      }
      next = open_in_root(prefix, dir_flags);
    }
    if (next < 0) return next;
    cur.reset(next);
  }
  return cur.release();
}

Result<std::string> PosixRootFs::read(const std::string& path) const {
  AGENT_TRY(auto components, split_node_path(path));
  UniqueFd fd(open_in_root(components, O_RDONLY | O_NOCTTY));
  if (fd.get() < 0) return fs_error(-fd.get(), "reading", path, root_dir_);
  std::string out;
  if (int r = read_all(fd.get(), out); r < 0) return fs_error(-r, "reading", path, root_dir_);
  return out;
}

Status PosixRootFs::read_chunks(const std::string& path,
                               const std::function<void(std::string_view)>& sink) const {
  AGENT_TRY(auto components, split_node_path(path));
  UniqueFd fd(open_in_root(components, O_RDONLY | O_NOCTTY));
  if (fd.get() < 0) return fs_error(-fd.get(), "reading", path, root_dir_);
  std::string buf(1 << 20, '\0');
  while (true) {
    ssize_t n = ::read(fd.get(), buf.data(), buf.size());
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) return fs_error(errno, "reading", path, root_dir_);
    if (n == 0) return {};
    sink(std::string_view(buf.data(), static_cast<size_t>(n)));
  }
}

bool PosixRootFs::exists(const std::string& path) const {
  auto components = split_node_path(path);
  if (!components) return false;
  if (components->empty()) return true;
  UniqueFd dir(open_parent(*components, /*create=*/false));
  if (dir.get() < 0) return false;
  struct stat st;
  return ::fstatat(dir.get(), components->back().c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0;
}

Result<std::string> PosixRootFs::read_link(const std::string& path) const {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return make_error(Errc::Invalid, "reading the link {}: the root is not a link", path);
  UniqueFd dir(open_parent(components, /*create=*/false));
  if (dir.get() < 0) return fs_error(-dir.get(), "reading the link", path, root_dir_);
  std::string out;
  if (int r = readlink_at(dir.get(), components.back().c_str(), out); r < 0) {
    if (r == -EINVAL) return make_error(Errc::Invalid, "reading the link {}: not a symlink", path);
    return fs_error(-r, "reading the link", path, root_dir_);
  }
  return out;
}

Result<std::vector<std::string>> PosixRootFs::list(const std::string& path) const {
  AGENT_TRY(auto components, split_node_path(path));
  int fd = open_in_root(components, O_RDONLY | O_DIRECTORY);
  if (fd < 0) return fs_error(-fd, "listing", path, root_dir_);
  DIR* dir = ::fdopendir(fd);
  if (dir == nullptr) {
    int e = errno;
    ::close(fd);
    return fs_error(e, "listing", path, root_dir_);
  }
  std::vector<std::string> names;
  errno = 0;
  while (struct dirent* ent = ::readdir(dir)) {
    std::string_view n = ent->d_name;
    if (n != "." && n != "..") names.emplace_back(n);
  }
  int e = errno;
  ::closedir(dir);
  if (e != 0) return fs_error(e, "listing", path, root_dir_);
  std::sort(names.begin(), names.end());
  return names;
}

struct PosixRootFs::Staged {
  std::string path;
  std::string name;
  std::string tmp;  // empty: nothing to rename (Unchanged)
  UniqueFd dir;
  WriteOutcome outcome = WriteOutcome::Created;
};

Result<PosixRootFs::Staged> PosixRootFs::stage(const std::string& path, std::string_view bytes,
                                               unsigned mode, bool sync) {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return make_error(Errc::Invalid, "cannot write to the root directory");
  Staged st_out;
  st_out.path = path;
  st_out.name = components.back();
  const std::string& name = st_out.name;
  mode &= 07777;
  st_out.dir.reset(open_parent(components, /*create=*/true, /*sync_new_dirs=*/sync));
  const int dir = st_out.dir.get();
  if (dir < 0) return fs_error(-dir, "creating the parent directories of", path, root_dir_);

  struct stat st;
  if (::fstatat(dir, name.c_str(), &st, AT_SYMLINK_NOFOLLOW) == 0) {
    st_out.outcome = WriteOutcome::Updated;
    if (S_ISREG(st.st_mode) && static_cast<size_t>(st.st_size) == bytes.size()) {
      UniqueFd cur(::openat(dir, name.c_str(), O_RDONLY | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC));
      std::string current;
      if (cur.get() >= 0 && read_all(cur.get(), current) == 0 && current == bytes) {
        // Same bytes: leave the file (and its mtime) alone, only correct the mode.
        if ((st.st_mode & 07777) != mode && ::fchmod(cur.get(), mode) < 0)
          return fs_error(errno, "changing the mode of", path, root_dir_);
        st_out.outcome = WriteOutcome::Unchanged;
        return st_out;
      }
    }
  } else if (errno != ENOENT) {
    return fs_error(errno, "inspecting", path, root_dir_);
  }

  std::string tmp;
  UniqueFd out;
  for (int attempt = 0; attempt < 100 && out.get() < 0; ++attempt) {
    tmp = temp_name(name);
    out.reset(::openat(dir, tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0 && errno != EEXIST) return fs_error(errno, "creating a temp file for", path, root_dir_);
  }
  if (out.get() < 0) return fs_error(EEXIST, "creating a temp file for", path, root_dir_);

  auto fail = [&](int err, std::string_view what) {
    out.reset();
    ::unlinkat(dir, tmp.c_str(), 0);
    return fs_error(err, what, path, root_dir_);
  };
  if (int r = write_all(out.get(), bytes); r < 0) return fail(-r, "writing");
  // fchmod before fsync (the contract lists it after) so the fsync also makes the mode durable.
  if (::fchmod(out.get(), mode) < 0) return fail(errno, "setting the mode of");
  if (sync && ::fsync(out.get()) < 0) return fail(errno, "syncing");
  if (::close(out.release()) < 0) return fail(errno, "closing");
  st_out.tmp = tmp;
  return st_out;
}

Status PosixRootFs::commit(Staged& s) {
  if (s.tmp.empty()) return {};
  if (::renameat(s.dir.get(), s.tmp.c_str(), s.dir.get(), s.name.c_str()) < 0) {
    int err = errno;
    ::unlinkat(s.dir.get(), s.tmp.c_str(), 0);
    s.tmp.clear();
    return fs_error(err, "replacing", s.path, root_dir_);
  }
  s.tmp.clear();
  return {};
}

Result<WriteOutcome> PosixRootFs::write_atomic(const std::string& path, std::string_view bytes,
                                               unsigned mode) {
  AGENT_TRY(Staged s, stage(path, bytes, mode, /*sync=*/true));
  if (s.outcome == WriteOutcome::Unchanged) return s.outcome;
  AGENT_TRY_STATUS(commit(s));
  if (::fsync(s.dir.get()) < 0) return fs_error(errno, "syncing the directory of", path, root_dir_);
  return s.outcome;
}

namespace {

// PosixRootFs's StagedFile: an open temp file in the target's directory.
class PosixStagedFile final : public RootFs::StagedFile {
 public:
  PosixStagedFile(std::string path, std::string name, std::string tmp, UniqueFd dir, UniqueFd fd,
                  std::string root_dir)
      : path_(std::move(path)), name_(std::move(name)), tmp_(std::move(tmp)), dir_(std::move(dir)),
        fd_(std::move(fd)), root_dir_(std::move(root_dir)) {}
  ~PosixStagedFile() override {
    fd_.reset();
    if (!tmp_.empty()) ::unlinkat(dir_.get(), tmp_.c_str(), 0);
  }
  Status write(std::string_view piece) override {
    if (fd_.get() < 0) return make_error(Errc::Internal, "{}: staged file already handed over", path_);
    if (int r = write_all(fd_.get(), piece); r < 0) return fs_error(-r, "writing", path_, root_dir_);
    return {};
  }
  Status truncate() override {
    if (fd_.get() < 0) return make_error(Errc::Internal, "{}: staged file already handed over", path_);
    if (::ftruncate(fd_.get(), 0) < 0 || ::lseek(fd_.get(), 0, SEEK_SET) < 0)
      return fs_error(errno, "truncating the temp file of", path_, root_dir_);
    return {};
  }
  // Gives the temp file to a batch: closed, no longer removed by this object.
  Status hand_over(std::string& name, std::string& tmp, UniqueFd& dir) {
    if (::close(fd_.release()) < 0) return fs_error(errno, "closing the temp file of", path_, root_dir_);
    name = name_;
    tmp = std::exchange(tmp_, std::string());
    dir = std::move(dir_);
    return {};
  }

 private:
  std::string path_, name_, tmp_;
  UniqueFd dir_, fd_;
  std::string root_dir_;
};

}  // namespace

Result<std::unique_ptr<RootFs::StagedFile>> PosixRootFs::stage_file(const std::string& path, unsigned mode) {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return make_error(Errc::Invalid, "cannot write to the root directory");
  UniqueFd dir(open_parent(components, /*create=*/true));
  if (dir.get() < 0) return fs_error(-dir.get(), "creating the parent directories of", path, root_dir_);
  const std::string& name = components.back();
  std::string tmp;
  UniqueFd out;
  for (int attempt = 0; attempt < 100 && out.get() < 0; ++attempt) {
    tmp = temp_name(name);
    out.reset(::openat(dir.get(), tmp.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_NOFOLLOW | O_CLOEXEC, 0600));
    if (out.get() < 0 && errno != EEXIST) return fs_error(errno, "creating a temp file for", path, root_dir_);
  }
  if (out.get() < 0) return fs_error(EEXIST, "creating a temp file for", path, root_dir_);
  if (::fchmod(out.get(), mode) < 0) {
    int e = errno;
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return fs_error(e, "setting the mode of", path, root_dir_);
  }
  return std::unique_ptr<StagedFile>(
      std::make_unique<PosixStagedFile>(path, name, tmp, std::move(dir), std::move(out), root_dir_));
}

Result<std::vector<WriteOutcome>> PosixRootFs::write_atomic_all(const std::vector<FileContent>& files,
                                                                const CancelToken* cancel) {
  std::vector<Staged> staged;
  staged.reserve(files.size());
  // Every early return below drops the temp files not yet renamed.
  auto drop_temps = [&staged]() {
    for (auto& s : staged) {
      if (!s.tmp.empty()) ::unlinkat(s.dir.get(), s.tmp.c_str(), 0);
    }
  };
  // One syncfs per file system the batch touches (a root may have /var on another mount).
  auto sync_all = [&staged, this]() -> Status {
    std::vector<dev_t> done;
    for (const auto& s : staged) {
      struct stat st;
      if (s.outcome == WriteOutcome::Unchanged) continue;
      if (::fstat(s.dir.get(), &st) < 0) return fs_error(errno, "inspecting the directory of", s.path, root_dir_);
      if (std::find(done.begin(), done.end(), st.st_dev) != done.end()) continue;
      if (::syncfs(s.dir.get()) < 0) return fs_error(errno, "syncing the file system of", s.path, root_dir_);
      done.push_back(st.st_dev);
    }
    return {};
  };
  for (const auto& f : files) {
    if (f.staged != nullptr) {
      auto* p = dynamic_cast<PosixStagedFile*>(f.staged);
      if (p == nullptr) {
        drop_temps();
        return make_error(Errc::Internal, "{}: staged by another RootFs", f.path);
      }
      Staged st;
      st.path = f.path;
      if (auto handed = p->hand_over(st.name, st.tmp, st.dir); !handed) {
        drop_temps();
        return handed.error();
      }
      struct stat existing;
      st.outcome = ::fstatat(st.dir.get(), st.name.c_str(), &existing, AT_SYMLINK_NOFOLLOW) == 0
                       ? WriteOutcome::Updated
                       : WriteOutcome::Created;
      staged.push_back(std::move(st));
      continue;
    }
    auto s = stage(f.path, f.bytes, f.mode, /*sync=*/false);
    if (!s) {
      drop_temps();
      return s.error();
    }
    staged.push_back(std::move(s).value());
    if (is_cancelled(cancel)) {  // nothing renamed yet: the node is as it was
      drop_temps();
      return cancel->interrupted("before the node's files were replaced (none was changed)");
    }
  }
  if (auto st = sync_all(); !st) {  // the new contents are durable before any rename
    drop_temps();
    return st.error();
  }
  if (is_cancelled(cancel)) {  // the flush can take a while on a busy disk; look once more
    drop_temps();
    return cancel->interrupted("before the node's files were replaced (none was changed)");
  }
  // From here on the batch completes: renames take microseconds and cannot be half done.
  std::vector<WriteOutcome> out;
  for (auto& s : staged) {
    if (auto st = commit(s); !st) {
      drop_temps();
      return st.error();
    }
    out.push_back(s.outcome);
  }
  AGENT_TRY_STATUS(sync_all());  // and so are the renames
  return out;
}

Result<bool> PosixRootFs::remove(const std::string& path) {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return make_error(Errc::Invalid, "cannot remove the root directory");
  UniqueFd dir(open_parent(components, /*create=*/false));
  if (dir.get() == -ENOENT) return false;
  if (dir.get() < 0) return fs_error(-dir.get(), "removing", path, root_dir_);
  if (::unlinkat(dir.get(), components.back().c_str(), 0) < 0) {
    if (errno == ENOENT) return false;
    return fs_error(errno, "removing", path, root_dir_);
  }
  if (::fsync(dir.get()) < 0) return fs_error(errno, "syncing the directory of", path, root_dir_);
  return true;
}

Result<WriteOutcome> PosixRootFs::make_directory(const std::string& path, unsigned mode) {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return WriteOutcome::Unchanged;
  if (UniqueFd existing(open_in_root(components, O_RDONLY | O_DIRECTORY)); existing.get() >= 0) {
    return WriteOutcome::Unchanged;
  } else if (existing.get() != -ENOENT) {
    return fs_error(-existing.get(), "creating the directory", path, root_dir_);
  }
  UniqueFd dir(open_parent(components, /*create=*/true));
  if (dir.get() < 0) return fs_error(-dir.get(), "creating the parent directories of", path, root_dir_);
  const std::string& name = components.back();
  if (::mkdirat(dir.get(), name.c_str(), mode) < 0) {
    if (errno == EEXIST) return fs_error(ENOTDIR, "creating the directory", path, root_dir_);
    return fs_error(errno, "creating the directory", path, root_dir_);
  }
  if (::fchmodat(dir.get(), name.c_str(), mode, 0) < 0) return fs_error(errno, "setting the mode of", path, root_dir_);
  if (::fsync(dir.get()) < 0) return fs_error(errno, "syncing the directory of", path, root_dir_);
  return WriteOutcome::Created;
}

Result<WriteOutcome> PosixRootFs::symlink(const std::string& target, const std::string& link) {
  AGENT_TRY(auto components, split_node_path(link));
  if (components.empty()) return make_error(Errc::Invalid, "cannot replace the root directory");
  if (target.empty() || target.find('\0') != std::string::npos)
    return make_error(Errc::Invalid, "invalid symlink target '{}' for {}", target, link);
  const std::string& name = components.back();
  UniqueFd dir(open_parent(components, /*create=*/true));
  if (dir.get() < 0) return fs_error(-dir.get(), "creating the parent directories of", link, root_dir_);

  WriteOutcome outcome = WriteOutcome::Created;
  std::string current;
  if (int r = readlink_at(dir.get(), name.c_str(), current); r == 0) {
    if (current == target) return WriteOutcome::Unchanged;
    outcome = WriteOutcome::Updated;
  } else if (r == -EINVAL) {
    outcome = WriteOutcome::Updated;  // something else than a link; rename decides if replaceable
  } else if (r != -ENOENT) {
    return fs_error(-r, "inspecting", link, root_dir_);
  }

  std::string tmp;
  int made = -1;
  for (int attempt = 0; attempt < 100 && made < 0; ++attempt) {
    tmp = temp_name(name);
    made = ::symlinkat(target.c_str(), dir.get(), tmp.c_str());
    if (made < 0 && errno != EEXIST) return fs_error(errno, "creating a temp link for", link, root_dir_);
  }
  if (made < 0) return fs_error(EEXIST, "creating a temp link for", link, root_dir_);
  if (::renameat(dir.get(), tmp.c_str(), dir.get(), name.c_str()) < 0) {
    int e = errno;
    ::unlinkat(dir.get(), tmp.c_str(), 0);
    return fs_error(e, "replacing", link, root_dir_);
  }
  if (::fsync(dir.get()) < 0) return fs_error(errno, "syncing the directory of", link, root_dir_);
  return outcome;
}

namespace {

// Holds an flock(2) on an open file; closing the descriptor releases it.
class FlockLock final : public RootFs::Lock {
 public:
  explicit FlockLock(UniqueFd fd) : fd_(std::move(fd)) {}

 private:
  UniqueFd fd_;
};

}  // namespace

Result<std::unique_ptr<RootFs::Lock>> PosixRootFs::try_lock(const std::string& path, std::string_view note) {
  AGENT_TRY(auto components, split_node_path(path));
  if (components.empty()) return make_error(Errc::Invalid, "cannot lock the root directory");
  UniqueFd dir(open_parent(components, /*create=*/true));
  if (dir.get() < 0) return fs_error(-dir.get(), "creating the parent directories of", path, root_dir_);
  UniqueFd fd(::openat(dir.get(), components.back().c_str(),
                       O_RDWR | O_CREAT | O_NOFOLLOW | O_NOCTTY | O_CLOEXEC, 0644));
  if (fd.get() < 0) return fs_error(errno, "opening the lock file", path, root_dir_);
  if (::flock(fd.get(), LOCK_EX | LOCK_NB) < 0) {
    if (errno == EWOULDBLOCK) return std::unique_ptr<RootFs::Lock>();
    return fs_error(errno, "locking", path, root_dir_);
  }
  // Informational only (whom a waiter waits for), so a failed write does not fail the lock.
  if (::ftruncate(fd.get(), 0) == 0) (void)write_all(fd.get(), note);
  return std::unique_ptr<RootFs::Lock>(new FlockLock(std::move(fd)));
}

}  // namespace agent::platform
