#include "agent/app/resolve_config.h"

#include <algorithm>

#include <fmt/format.h>

#include "agent/cli/config_sources.h"
#include "agent/userdata/merge.h"
#include "agent/userdata/user_data.h"

namespace agent::app {
namespace {

constexpr const char* kUserDataPath = "latest/user-data";

Status add_source(std::string_view bytes, const std::string& name, const userdata::Limits& limits,
                  std::vector<userdata::NodeConfigDoc>& docs, ResolvedConfig& out, bool required) {
  AGENT_TRY(userdata::SourceConfigs parsed, userdata::parse_source(bytes, name, limits));
  if (required && parsed.docs.empty()) {
    std::string why = parsed.notes.empty() ? "" : fmt::format(" ({})", parsed.notes.back());
    return make_error(Errc::Invalid, "{}: no NodeConfig document in the file{}", name, why);
  }
  for (auto& d : parsed.docs) docs.push_back(std::move(d));
  for (auto& w : parsed.warnings) out.warnings.push_back(std::move(w));
  for (auto& n : parsed.notes) out.notes.push_back(std::move(n));
  return {};
}

std::string join_path(const std::string& dir, const std::string& name) {
  return dir.ends_with("/") ? dir + name : dir + "/" + name;
}

}  // namespace

bool is_config_file_name(std::string_view name) {
  std::string lower(name);
  std::transform(lower.begin(), lower.end(), lower.begin(), [](unsigned char c) { return std::tolower(c); });
  for (const char* ext : {".yaml", ".yml", ".json"}) {
    const std::string_view e(ext);
    if (lower.size() > e.size() && lower.ends_with(e)) return true;
  }
  return false;
}

Result<ResolvedConfig> resolve_config(const std::vector<std::string>& sources, Imds& imds, const RootFsReader& fs,
                                      const userdata::Limits& limits) {
  ResolvedConfig out;
  std::vector<userdata::NodeConfigDoc> docs;
  for (const auto& uri : sources) {
    AGENT_TRY(cli::ConfigSource src, cli::parse_config_source(uri));
    if (!cli::tolerates_no_node_config(src)) out.all_tolerant = false;
    if (src.kind == cli::ConfigSource::Kind::UserData) {
      auto bytes = imds.get(kUserDataPath);
      if (!bytes) {
        if (bytes.error().code == Errc::NotFound) {
          out.notes.push_back(fmt::format("{}: the instance has no user data", uri));
          continue;
        }
        Error e = bytes.error().wrap("reading IMDS {} for {}", kUserDataPath, uri);
        if (e.code == Errc::Timeout) e.code = Errc::Unavailable;
        return e;
      }
      AGENT_TRY_STATUS(add_source(*bytes, cli::kUserDataSource, limits, docs, out, /*required=*/false));
      continue;
    }
    // A file, or a directory of drop-ins.
    auto names = fs.list(src.path);
    if (names) {
      int used = 0;
      for (const auto& name : *names) {
        if (!is_config_file_name(name)) continue;
        const std::string path = join_path(src.path, name);
        if (fs.list(path)) continue;  // a directory that happens to be called x.yaml
        auto bytes = fs.read(path);
        if (!bytes) return bytes.error().wrap("reading {}", path);
        AGENT_TRY_STATUS(add_source(*bytes, "file://" + path, limits, docs, out, /*required=*/false));
        ++used;
      }
      if (used == 0) out.notes.push_back(fmt::format("{}: no *.yaml, *.yml or *.json files", uri));
      continue;
    }
    if (src.directory) {
      if (names.error().code == Errc::NotFound) {
        out.notes.push_back(fmt::format("{}: no such directory", uri));
        continue;
      }
      return names.error().wrap("reading directory {}", src.path);
    }
    auto bytes = fs.read(src.path);
    if (!bytes) {
      if (bytes.error().code == Errc::NotFound) {
        return make_error(Errc::NotFound, "--config-source {}: no such file", uri);
      }
      return bytes.error().wrap("reading {}", src.path);
    }
    AGENT_TRY_STATUS(add_source(*bytes, uri, limits, docs, out, /*required=*/true));
  }
  if (!docs.empty()) {
    AGENT_TRY(userdata::NodeConfigDoc merged, userdata::merge_all(docs));
    out.merged = std::move(merged);
  }
  return out;
}

}  // namespace agent::app
