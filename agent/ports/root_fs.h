// RootFs: the node's filesystem, every path node-absolute ("/etc/eks/x") and resolved under one
// root directory (/ on a node, a scratch dir in tests, the image root in build mode).
#pragma once
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/result.h"
#include "agent/ports/cancel.h"

namespace agent {

enum class WriteOutcome { Created, Updated, Unchanged };
// "created", "updated" or "unchanged". Inline so that agent_app (apply) needs no platform code.
inline const char* outcome_name(WriteOutcome o) {
  switch (o) {
    case WriteOutcome::Created: return "created";
    case WriteOutcome::Updated: return "updated";
    case WriteOutcome::Unchanged: return "unchanged";
  }
  return "unknown";
}

// The read-only half, for gather and dry-run.
class RootFsReader {
 public:
  virtual ~RootFsReader() = default;
  // Whole file contents. Errors: NotFound if absent, Denied, Io.
  virtual Result<std::string> read(const std::string& path) const = 0;
  // True if anything (file, dir, symlink) exists at path; never fails.
  virtual bool exists(const std::string& path) const = 0;
  // Names in a directory, sorted, without "." and "..". Errors: NotFound, Io.
  virtual Result<std::vector<std::string>> list(const std::string& path) const = 0;
  // The target of the symlink at `path` as stored (relative to the link's directory, or absolute
  // meaning under the root); the link itself is not followed, its parents are. Errors: NotFound
  // if absent, Invalid if it is not a symlink, Unsupported where links cannot be read (the
  // default). Local disk discovery resolves /dev/disk/by-id and /dev/md links with it.
  virtual Result<std::string> read_link(const std::string& path) const {
    return make_error(Errc::Unsupported, "reading the link {}: not supported by this root", path);
  }
  // The file's contents in pieces, in order, for files too big to hold (build mode hashes
  // installed binaries this way). Errors as read(). The default reads the whole file once.
  virtual Status read_chunks(const std::string& path,
                             const std::function<void(std::string_view)>& sink) const {
    AGENT_TRY(std::string all, read(path));
    sink(all);
    return {};
  }
};

class RootFs : public RootFsReader {
 public:
  // Replaces path with bytes atomically: temp file in the same directory, write, fsync, fchmod,
  // rename, fsync of the directory; missing parent directories are created 0755. If the file
  // already holds exactly these bytes it is not touched (mode is still corrected) and the result
  // is Unchanged. On any failure the temp file is removed and the old file is intact.
  virtual Result<WriteOutcome> write_atomic(const std::string& path, std::string_view bytes,
                                            unsigned mode) = 0;
  // A file written piece by piece into a temp file beside its target (mode already set), which
  // only write_atomic_all renames over the target. Destroying it without that removes the temp
  // file. For contents too big to hold in memory (build mode's downloads).
  class StagedFile {
   public:
    virtual ~StagedFile() = default;
    virtual Status write(std::string_view piece) = 0;
    virtual Status truncate() = 0;  // start again from empty (a retried download)
  };
  // Errors: as write_atomic's when it creates its temp file. The default keeps the bytes in memory.
  virtual Result<std::unique_ptr<StagedFile>> stage_file(const std::string& path, unsigned mode);

  // One file of a batch for write_atomic_all: `bytes`, or, when `staged` is set, the contents of
  // that staged file of this RootFs (then `bytes` is ignored, the file always counts as Created or
  // Updated, and the batch takes its temp file over).
  struct FileContent {
    std::string path;
    std::string_view bytes;
    unsigned mode = 0644;
    StagedFile* staged = nullptr;
  };
  // Writes several files, each with write_atomic's guarantees (never a partial file; unchanged
  // bytes not touched), but lets the implementation make them durable together: PosixRootFs writes
  // every temp file, flushes them with one syncfs, renames them all, and flushes again, instead of
  // two fsyncs per file. Returns one outcome per file, in order. On failure no temp file remains;
  // files renamed before the failure are complete. The default writes them one by one.
  // Cancellation (`cancel` may be null): a token cancelled before the first rename makes the call
  // return Errc::Interrupted with no file changed and no temp file left (PosixRootFs looks after
  // staging each file and after the flush); once renaming has begun the batch completes, since
  // renames take microseconds. The default looks once, before the first write.
  virtual Result<std::vector<WriteOutcome>> write_atomic_all(const std::vector<FileContent>& files,
                                                             const CancelToken* cancel) {
    if (is_cancelled(cancel)) return cancel->interrupted("before writing the node's files");
    std::vector<WriteOutcome> out;
    for (const auto& f : files) {
      AGENT_TRY(WriteOutcome o, write_atomic(f.path, f.staged ? buffered_bytes(*f.staged) : f.bytes, f.mode));
      out.push_back(o);
    }
    return out;
  }

 protected:
  // The bytes of a StagedFile made by the default stage_file (for the default write_atomic_all).
  static std::string_view buffered_bytes(const StagedFile& f);

 public:
  // Removes a file. Returns false if it did not exist (idempotent).
  virtual Result<bool> remove(const std::string& path) = 0;
  // mkdir -p: creates the directory (and missing parents) with exactly `mode` (parents 0755).
  // Unchanged if a directory is already there (its mode is left alone: an image builder may have
  // set it on purpose). Errors: Io when a non-directory is in the way, Denied, naming the path.
  virtual Result<WriteOutcome> make_directory(const std::string& path, unsigned mode) = 0;
  // Makes `link` a symlink to `target` (created, replaced atomically, or Unchanged). Missing
  // parent directories are created 0755, as for write_atomic.
  virtual Result<WriteOutcome> symlink(const std::string& target, const std::string& link) = 0;

  // An exclusive lock, held until the object is destroyed.
  class Lock {
   public:
    virtual ~Lock() = default;
  };
  // Tries once, without waiting, to take an exclusive advisory lock (flock) on the file at `path`,
  // creating it 0644 (missing parents 0755) if needed; the file is never removed. Returns the held
  // lock, or nullptr when someone else holds it (another process, or another open of the same
  // file). Once held, the file's content is replaced by `note` (e.g. "pid 1234"), which a waiter
  // can read to say whom it waits for. Errors: Denied, Io, naming the path.
  virtual Result<std::unique_ptr<Lock>> try_lock(const std::string& path, std::string_view note) = 0;
};

// The default staging: the bytes in memory, written by write_atomic_all like any other file.
class BufferedStagedFile final : public RootFs::StagedFile {
 public:
  Status write(std::string_view piece) override {
    bytes.append(piece);
    return {};
  }
  Status truncate() override {
    bytes.clear();
    return {};
  }
  std::string bytes;
};

inline Result<std::unique_ptr<RootFs::StagedFile>> RootFs::stage_file(const std::string&, unsigned) {
  return std::unique_ptr<StagedFile>(std::make_unique<BufferedStagedFile>());
}

inline std::string_view RootFs::buffered_bytes(const StagedFile& f) {
  return static_cast<const BufferedStagedFile&>(f).bytes;
}

}  // namespace agent
