// RootFs: the node's filesystem, every path node-absolute ("/etc/eks/x") and resolved under one
// root directory (/ on a node, a scratch dir in tests, the image root in build mode).
#pragma once
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent {

enum class WriteOutcome { Created, Updated, Unchanged };
const char* outcome_name(WriteOutcome o);

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
};

class RootFs : public RootFsReader {
 public:
  // Replaces path with bytes atomically: temp file in the same directory, write, fsync, fchmod,
  // rename, fsync of the directory; missing parent directories are created 0755. If the file
  // already holds exactly these bytes it is not touched (mode is still corrected) and the result
  // is Unchanged. On any failure the temp file is removed and the old file is intact.
  virtual Result<WriteOutcome> write_atomic(const std::string& path, std::string_view bytes,
                                            unsigned mode) = 0;
  // Removes a file. Returns false if it did not exist (idempotent).
  virtual Result<bool> remove(const std::string& path) = 0;
  // Makes `link` a symlink to `target` (created, replaced atomically, or Unchanged).
  virtual Result<WriteOutcome> symlink(const std::string& target, const std::string& link) = 0;
};

}  // namespace agent
