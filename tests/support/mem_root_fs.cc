#include "tests/support/mem_root_fs.h"

#include <set>

#include <fmt/format.h>

namespace agent::testing {
namespace {

std::vector<std::string> split(const std::string& path) {
  std::vector<std::string> out;
  size_t i = 0;
  while (i <= path.size()) {
    size_t j = path.find('/', i);
    if (j == std::string::npos) j = path.size();
    out.push_back(path.substr(i, j - i));
    i = j + 1;
  }
  return out;
}

// Lexical normalization; ".." (only possible in link targets) stops at the root.
std::string lexical(const std::string& abs) {
  std::vector<std::string> parts;
  for (auto& c : split(abs)) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      if (!parts.empty()) parts.pop_back();
      continue;
    }
    parts.push_back(std::move(c));
  }
  std::string out;
  for (const auto& p : parts) out += "/" + p;
  return out.empty() ? "/" : out;
}

Result<std::string> normalize(const std::string& path) {
  if (path.empty() || path.front() != '/')
    return make_error(Errc::Invalid, "path is not absolute: '{}'", path);
  for (const auto& c : split(path))
    if (c == "..") return make_error(Errc::Invalid, "path contains '..': '{}'", path);
  return lexical(path);
}

std::string parent_of(const std::string& norm) {
  size_t slash = norm.rfind('/');
  return slash == 0 ? "/" : norm.substr(0, slash);
}

std::string base_of(const std::string& norm) { return norm.substr(norm.rfind('/') + 1); }

std::string child(const std::string& dir, const std::string& name) {
  return dir == "/" ? "/" + name : dir + "/" + name;
}

}  // namespace

void MemRootFs::put(const std::string& path, std::string bytes, unsigned mode) {
  nodes_[normalize(path).value()] = Node{Node::Kind::File, std::move(bytes), mode & 07777};
}

void MemRootFs::put_symlink(const std::string& target, const std::string& link) {
  nodes_[normalize(link).value()] = Node{Node::Kind::Symlink, target, 0777};
}

void MemRootFs::mkdir(const std::string& path) {
  nodes_[normalize(path).value()] = Node{Node::Kind::Dir, "", 0755};
}

void MemRootFs::fail_writes_to(const std::string& path, Errc code) {
  failures_[normalize(path).value()] = code;
}

void MemRootFs::clear_failures() { failures_.clear(); }

std::optional<MemRootFs::Node> MemRootFs::node(const std::string& path) const {
  auto norm = normalize(path);
  if (!norm) return std::nullopt;
  auto it = nodes_.find(*norm);
  if (it == nodes_.end()) return std::nullopt;
  return it->second;
}

bool MemRootFs::is_dir(const std::string& norm) const {
  if (norm == "/") return true;
  if (auto it = nodes_.find(norm); it != nodes_.end()) return it->second.kind == Node::Kind::Dir;
  auto it = nodes_.lower_bound(norm + "/");
  return it != nodes_.end() && it->first.compare(0, norm.size() + 1, norm + "/") == 0;
}

Result<std::string> MemRootFs::resolve(const std::string& norm) const {
  std::string cur = norm;
  for (int hops = 0; hops < 40; ++hops) {
    // Find the first prefix of cur that is a symlink and splice its target in.
    std::string prefix;
    bool spliced = false;
    auto parts = split(cur);
    for (size_t i = 1; i < parts.size() && !spliced; ++i) {
      std::string dir = prefix.empty() ? "/" : prefix;
      prefix = child(dir, parts[i]);
      auto it = nodes_.find(prefix);
      if (it == nodes_.end() || it->second.kind != Node::Kind::Symlink) continue;
      std::string rest;
      for (size_t k = i + 1; k < parts.size(); ++k) rest += "/" + parts[k];
      const std::string& t = it->second.data;
      cur = lexical((t.front() == '/' ? t : child(dir, t)) + rest);
      spliced = true;
    }
    if (!spliced) return cur;
  }
  return make_error(Errc::Io, "resolving {}: Too many levels of symbolic links", norm);
}

Status MemRootFs::check_parents(const std::string& norm, const std::string& path) const {
  for (std::string p = parent_of(norm); p != "/"; p = parent_of(p)) {
    auto it = nodes_.find(p);
    if (it != nodes_.end() && it->second.kind != Node::Kind::Dir)
      return make_error(Errc::Io, "{}: Not a directory", path);
  }
  return {};
}

Result<std::string> MemRootFs::read(const std::string& path) const {
  AGENT_TRY(auto norm, normalize(path));
  AGENT_TRY(auto real, resolve(norm));
  auto it = nodes_.find(real);
  if (it != nodes_.end() && it->second.kind == Node::Kind::File) return it->second.data;
  if (is_dir(real)) return make_error(Errc::Io, "reading {}: Is a directory", path);
  return make_error(Errc::NotFound, "reading {}: No such file or directory", path);
}

Result<std::string> MemRootFs::read_link(const std::string& path) const {
  AGENT_TRY(auto norm, normalize(path));
  auto it = nodes_.find(norm);
  if (it == nodes_.end()) {
    if (is_dir(norm)) return make_error(Errc::Invalid, "reading the link {}: not a symlink", path);
    return make_error(Errc::NotFound, "reading the link {}: No such file or directory", path);
  }
  if (it->second.kind != Node::Kind::Symlink) return make_error(Errc::Invalid, "reading the link {}: not a symlink", path);
  return it->second.data;
}

bool MemRootFs::exists(const std::string& path) const {
  auto norm = normalize(path);
  if (!norm) return false;
  if (nodes_.count(*norm) || is_dir(*norm)) return true;
  auto real = resolve(parent_of(*norm));
  if (!real) return false;
  std::string p = child(*real, base_of(*norm));
  return nodes_.count(p) > 0 || is_dir(p);
}

Result<std::vector<std::string>> MemRootFs::list(const std::string& path) const {
  AGENT_TRY(auto norm, normalize(path));
  AGENT_TRY(auto real, resolve(norm));
  if (!is_dir(real)) {
    if (nodes_.count(real)) return make_error(Errc::Io, "listing {}: Not a directory", path);
    return make_error(Errc::NotFound, "listing {}: No such file or directory", path);
  }
  const std::string prefix = real == "/" ? "/" : real + "/";
  std::set<std::string> names;
  for (auto it = nodes_.lower_bound(prefix);
       it != nodes_.end() && it->first.compare(0, prefix.size(), prefix) == 0; ++it) {
    std::string rest = it->first.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('/')));
  }
  return std::vector<std::string>(names.begin(), names.end());
}

Result<WriteOutcome> MemRootFs::write_atomic(const std::string& path, std::string_view bytes,
                                             unsigned mode) {
  // Bound, not moved out of the Result: GCC 12 at -O3 reports moving the string out as a
  // -Wmaybe-uninitialized read of it in `norm == "/"`, a false positive of its SSO analysis.
  const Result<std::string> normalized = normalize(path);
  if (!normalized) return normalized.error();
  const std::string& norm = *normalized;
  mode &= 07777;
  auto failed = [&](Error e) {
    ops_.push_back(fmt::format("write {} {:04o} failed", norm, mode));
    return e;
  };
  if (auto f = failures_.find(norm); f != failures_.end())
    return failed(make_error(f->second, "writing {}: injected failure", path));
  if (norm == "/") return failed(make_error(Errc::Invalid, "cannot write to the root directory"));
  AGENT_TRY(auto dir, resolve(parent_of(norm)));
  const std::string real = child(dir, base_of(norm));
  if (auto st = check_parents(real, path); !st) return failed(st.error());
  if (is_dir(real)) return failed(make_error(Errc::Io, "replacing {}: Is a directory", path));

  WriteOutcome outcome = WriteOutcome::Created;
  auto it = nodes_.find(real);
  if (it != nodes_.end()) {
    outcome = WriteOutcome::Updated;
    if (it->second.kind == Node::Kind::File && it->second.data == bytes) {
      outcome = WriteOutcome::Unchanged;
      it->second.mode = mode;
    }
  }
  if (outcome != WriteOutcome::Unchanged) nodes_[real] = Node{Node::Kind::File, std::string(bytes), mode};
  ops_.push_back(fmt::format("write {} {:04o} {}", norm, mode, outcome_name(outcome)));
  return outcome;
}

Result<bool> MemRootFs::remove(const std::string& path) {
  // Bound, not moved out of the Result: GCC 12 at -O3 reports moving the string out as a
  // -Wmaybe-uninitialized read of it in `norm == "/"`, a false positive of its SSO analysis.
  const Result<std::string> normalized = normalize(path);
  if (!normalized) return normalized.error();
  const std::string& norm = *normalized;
  auto failed = [&](Error e) {
    ops_.push_back(fmt::format("remove {} failed", norm));
    return e;
  };
  if (auto f = failures_.find(norm); f != failures_.end())
    return failed(make_error(f->second, "removing {}: injected failure", path));
  if (norm == "/") return failed(make_error(Errc::Invalid, "cannot remove the root directory"));
  AGENT_TRY(auto dir, resolve(parent_of(norm)));
  const std::string real = child(dir, base_of(norm));
  if (is_dir(real)) return failed(make_error(Errc::Io, "removing {}: Is a directory", path));
  bool removed = nodes_.erase(real) > 0;
  ops_.push_back(fmt::format("remove {} {}", norm, removed ? "removed" : "absent"));
  return removed;
}

Result<WriteOutcome> MemRootFs::symlink(const std::string& target, const std::string& link) {
  AGENT_TRY(auto norm, normalize(link));
  auto failed = [&](Error e) {
    ops_.push_back(fmt::format("symlink {} -> {} failed", norm, target));
    return e;
  };
  if (auto f = failures_.find(norm); f != failures_.end())
    return failed(make_error(f->second, "linking {}: injected failure", link));
  if (norm == "/" || target.empty())
    return failed(make_error(Errc::Invalid, "invalid symlink {} -> '{}'", link, target));
  AGENT_TRY(auto dir, resolve(parent_of(norm)));
  const std::string real = child(dir, base_of(norm));
  if (auto st = check_parents(real, link); !st) return failed(st.error());
  if (is_dir(real)) return failed(make_error(Errc::Io, "replacing {}: Is a directory", link));

  WriteOutcome outcome = WriteOutcome::Created;
  auto it = nodes_.find(real);
  if (it != nodes_.end()) {
    outcome = (it->second.kind == Node::Kind::Symlink && it->second.data == target)
                  ? WriteOutcome::Unchanged
                  : WriteOutcome::Updated;
  }
  nodes_[real] = Node{Node::Kind::Symlink, target, 0777};
  ops_.push_back(fmt::format("symlink {} -> {} {}", norm, target, outcome_name(outcome)));
  return outcome;
}

Result<WriteOutcome> MemRootFs::make_directory(const std::string& path, unsigned mode) {
  AGENT_TRY(auto norm, normalize(path));
  auto failed = [&](Error e) {
    ops_.push_back(fmt::format("mkdir {} {:04o} failed", norm, mode));
    return e;
  };
  if (auto f = failures_.find(norm); f != failures_.end())
    return failed(make_error(f->second, "creating the directory {}: injected failure", path));
  AGENT_TRY(auto real, resolve(norm));
  if (is_dir(real)) {
    ops_.push_back(fmt::format("mkdir {} {:04o} unchanged", norm, mode));
    return WriteOutcome::Unchanged;
  }
  if (auto st = check_parents(real, path); !st) return failed(st.error());
  if (nodes_.count(real)) return failed(make_error(Errc::Io, "creating the directory {}: Not a directory", path));
  nodes_[real] = Node{Node::Kind::Dir, "", mode};
  ops_.push_back(fmt::format("mkdir {} {:04o} created", norm, mode));
  return WriteOutcome::Created;
}

namespace {

// Releases its path in the owning MemRootFs's lock table when destroyed.
class MemLock final : public RootFs::Lock {
 public:
  MemLock(std::set<std::string>& held, std::string path) : held_(held), path_(std::move(path)) {}
  ~MemLock() override { held_.erase(path_); }

 private:
  std::set<std::string>& held_;
  std::string path_;
};

}  // namespace

Result<std::unique_ptr<RootFs::Lock>> MemRootFs::try_lock(const std::string& path, std::string_view note) {
  AGENT_TRY(auto norm, normalize(path));
  if (auto f = failures_.find(norm); f != failures_.end()) {
    ops_.push_back(fmt::format("lock {} failed", norm));
    return make_error(f->second, "locking {}: injected failure", path);
  }
  if (held_locks_.count(norm) > 0) {
    ops_.push_back(fmt::format("lock {} busy", norm));
    return std::unique_ptr<RootFs::Lock>();
  }
  held_locks_.insert(norm);
  nodes_[norm] = Node{Node::Kind::File, std::string(note), 0644};
  ops_.push_back(fmt::format("lock {} held", norm));
  return std::unique_ptr<RootFs::Lock>(new MemLock(held_locks_, norm));
}

}  // namespace agent::testing
