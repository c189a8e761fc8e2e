// PosixRootFs: the real RootFs, resolving every node path under one root directory fd.
//
// The root is opened once (O_PATH|O_DIRECTORY); every operation is relative to it with *at()
// calls, so the agent can write into "/" on a node, into a mounted image in build mode, and into
// a scratch directory in tests with the same code. Paths must be absolute and must not contain
// ".." components (Errc::Invalid); "." and repeated slashes are ignored.
//
// Symlinks met while resolving a path are resolved *inside* the root, as if the root were "/":
// an absolute link target restarts at the root and ".." stops at it, so a link in an image root
// pointing to /etc/x reaches <root>/etc/x, never the build host's /etc/x. Two resolvers do this:
//   * Openat2: openat2(2) with RESOLVE_IN_ROOT|RESOLVE_NO_MAGICLINKS (Linux >= 5.6).
//   * Userspace: the fallback for older kernels (AL2's 5.4) and seccomp filters that reject
//     openat2 with ENOSYS/EPERM: walks the path one component at a time with
//     openat(O_PATH|O_NOFOLLOW) and readlinkat, applying the same in-root rules itself
//     (at most 40 links, like the kernel). It is correct against a static tree; unlike openat2 it
//     cannot detect a concurrent rename moving a directory out of the root mid-walk.
// The final component of a mutated path is never followed: write_atomic and symlink replace a
// symlink at `path` itself, remove unlinks the link, exists reports a dangling link as present.
//
// Errors carry the node path and strerror: ENOENT -> NotFound, EACCES/EPERM/EROFS -> Denied,
// anything else -> Io. The object owns the root fd; it is not thread-safe for concurrent
// writes to the same path (temp names are unique, renames are last-writer-wins).
#pragma once
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/ports/root_fs.h"

namespace agent::platform {

class PosixRootFs final : public RootFs {
 public:
  enum class Resolver { Auto, Openat2, Userspace };

  // Opens root_dir (which must be an existing directory) as the root. Auto picks Openat2 when the
  // kernel supports it and Userspace otherwise; Openat2 fails with Unsupported where it is not
  // available. Errors: NotFound, Denied, Io for root_dir itself.
  static Result<std::unique_ptr<PosixRootFs>> open(const std::string& root_dir,
                                                   Resolver resolver = Resolver::Auto);
  ~PosixRootFs() override;
  PosixRootFs(const PosixRootFs&) = delete;
  PosixRootFs& operator=(const PosixRootFs&) = delete;

  // The resolver actually in use (never Auto).
  Resolver resolver() const { return resolver_; }
  const std::string& root_dir() const { return root_dir_; }

  Result<std::string> read(const std::string& path) const override;
  bool exists(const std::string& path) const override;
  Result<std::vector<std::string>> list(const std::string& path) const override;
  Result<std::string> read_link(const std::string& path) const override;
  Status read_chunks(const std::string& path,
                     const std::function<void(std::string_view)>& sink) const override;
  Result<WriteOutcome> write_atomic(const std::string& path, std::string_view bytes,
                                    unsigned mode) override;
  Result<std::vector<WriteOutcome>> write_atomic_all(const std::vector<FileContent>& files,
                                                     const CancelToken* cancel) override;
  Result<bool> remove(const std::string& path) override;
  Result<WriteOutcome> symlink(const std::string& target, const std::string& link) override;
  Result<WriteOutcome> make_directory(const std::string& path, unsigned mode) override;
  // A temp file beside the target (created like write_atomic's, 0600 until fchmod to `mode`);
  // write_atomic_all takes it over, syncs it with the batch and renames it.
  Result<std::unique_ptr<StagedFile>> stage_file(const std::string& path, unsigned mode) override;
  Result<std::unique_ptr<Lock>> try_lock(const std::string& path, std::string_view note) override;

 private:
  PosixRootFs(int root_fd, std::string root_dir, Resolver resolver)
      : root_fd_(root_fd), root_dir_(std::move(root_dir)), resolver_(resolver) {}

  // Opens the node at `components` (relative to the root, symlinks resolved in the root) with
  // open(2) `flags`. Returns the fd or -errno.
  int open_in_root(const std::vector<std::string>& components, int flags) const;
  // Opens (creating missing directories 0755 when `create`) the directory holding a node.
  // Returns the fd (O_RDONLY|O_DIRECTORY, usable for fsync) or -errno.
  int open_parent(const std::vector<std::string>& components, bool create,
                  bool sync_new_dirs = true) const;
  // A temp file written next to its target but not yet renamed over it (write_atomic's first
  // half). `tmp` is empty when the target already holds the bytes (outcome Unchanged).
  struct Staged;
  Result<Staged> stage(const std::string& path, std::string_view bytes, unsigned mode, bool sync);
  Status commit(Staged& staged);
  int walk_userspace(const std::vector<std::string>& components, int flags) const;

  int root_fd_;
  std::string root_dir_;
  Resolver resolver_;
};

}  // namespace agent::platform
