// MemRootFs: an in-memory RootFs for orchestration and scenario tests.
//
// Same path rules as PosixRootFs (absolute, no "..", "." and "//" ignored -> Errc::Invalid) and
// the same outcomes: a write of identical bytes is Unchanged (the mode is still corrected), a
// symlink already pointing at the target is Unchanged. Directories are implicit: a directory
// exists while something lies under it (or after mkdir()). read() and list() follow symlinks
// (absolute targets from the root, relative ones from the link's directory); mutations act on the
// link itself, as PosixRootFs does.
//
// Every mutation is appended to ops(), including Unchanged and failed ones:
//   "write /etc/x 0644 created"          (created | updated | unchanged | failed)
//   "remove /etc/x removed"              (removed | absent | failed)
//   "symlink /etc/l -> /etc/x created"   (created | updated | unchanged | failed)
//   "mkdir /etc/x 0755 created"          (created | unchanged | failed)
//   "lock /run/x/lock held"              (held | busy | failed)
// try_lock behaves like flock between separate opens: a second try_lock of a path whose lock
// object is alive answers busy (nullptr), whoever asks; destroying the lock frees it. A test
// simulates another process by holding a lock itself. Locks must not outlive the MemRootFs.
// Seeding with put()/put_symlink()/mkdir() is not logged.
#pragma once
#include <map>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "agent/ports/root_fs.h"

namespace agent::testing {

class MemRootFs final : public RootFs {
 public:
  struct Node {
    enum class Kind { File, Symlink, Dir };
    Kind kind = Kind::File;
    std::string data;  // file bytes, or the link target
    unsigned mode = 0644;
    bool operator==(const Node&) const = default;
  };

  // --- seeding (not logged) ---
  void put(const std::string& path, std::string bytes, unsigned mode = 0644);
  void put_symlink(const std::string& target, const std::string& link);
  void mkdir(const std::string& path);
  // Makes every later write_atomic/symlink/remove of exactly `path` fail with `code` (the state is
  // not touched, the op is logged as "failed"). Pass Errc::Io, Errc::Denied, ...
  void fail_writes_to(const std::string& path, Errc code = Errc::Io);
  void clear_failures();

  // --- inspection ---
  const std::vector<std::string>& ops() const { return ops_; }
  void clear_ops() { ops_.clear(); }
  // The node stored at exactly this (normalized) path, without following links.
  std::optional<Node> node(const std::string& path) const;
  // All explicit nodes keyed by normalized path (implicit parent directories are not listed).
  const std::map<std::string, Node>& nodes() const { return nodes_; }

  // --- RootFs ---
  Result<std::string> read(const std::string& path) const override;
  bool exists(const std::string& path) const override;
  Result<std::vector<std::string>> list(const std::string& path) const override;
  Result<std::string> read_link(const std::string& path) const override;
  Result<WriteOutcome> write_atomic(const std::string& path, std::string_view bytes,
                                    unsigned mode) override;
  Result<bool> remove(const std::string& path) override;
  Result<WriteOutcome> symlink(const std::string& target, const std::string& link) override;
  Result<WriteOutcome> make_directory(const std::string& path, unsigned mode) override;
  Result<std::unique_ptr<Lock>> try_lock(const std::string& path, std::string_view note) override;

 private:
  bool is_dir(const std::string& norm) const;
  // Follows symlinks (bounded); returns the normalized final path or an error.
  Result<std::string> resolve(const std::string& norm) const;
  // Checks that no parent of `norm` is a file or link; Io "Not a directory" otherwise.
  Status check_parents(const std::string& norm, const std::string& path) const;

  std::map<std::string, Node> nodes_;
  std::map<std::string, Errc> failures_;
  std::vector<std::string> ops_;
  std::set<std::string> held_locks_;
};

}  // namespace agent::testing
