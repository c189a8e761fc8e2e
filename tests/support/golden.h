// Golden files for the unit tests: tests/golden/<relative>, compared byte for byte, rewritten
// instead when UPDATE_GOLDENS=1 (then review `git diff tests/golden` before committing).
#pragma once
#include <doctest/doctest.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>

namespace agent::test {

inline std::string golden_path(const std::string& relative) {
  return std::string(AGENT_SOURCE_DIR) + "/tests/golden/" + relative;
}

inline bool updating_goldens() {
  const char* u = std::getenv("UPDATE_GOLDENS");
  return u != nullptr && std::string(u) == "1";
}

inline std::string read_file_or_empty(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

// One file: `actual` must equal tests/golden/<relative>.
inline void check_golden(const std::string& relative, const std::string& actual) {
  const std::string path = golden_path(relative);
  if (updating_goldens()) {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    MESSAGE("updated " << path);
    return;
  }
  REQUIRE_MESSAGE(std::filesystem::exists(path), "missing golden " << path << " (run with UPDATE_GOLDENS=1)");
  CHECK_MESSAGE(actual == read_file_or_empty(path), "golden " << path << " differs (UPDATE_GOLDENS=1 to accept)");
}

// A directory: exactly `files` (name -> bytes), no more and no fewer, in tests/golden/<relative>/.
inline void check_golden_dir(const std::string& relative, const std::map<std::string, std::string>& files) {
  const std::filesystem::path dir = golden_path(relative);
  if (updating_goldens()) std::filesystem::remove_all(dir);
  for (const auto& [name, bytes] : files) check_golden(relative + "/" + name, bytes);
  if (updating_goldens()) return;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    CHECK_MESSAGE(files.count(entry.path().filename().string()) == 1,
                  "golden " << entry.path() << " is no longer written");
  }
}

}  // namespace agent::test
