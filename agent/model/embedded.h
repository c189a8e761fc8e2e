// Files compiled into the binary (cmake/embed.cmake): the max-pods table, the networking facts and
// the default config files. Keys are repository-relative paths, e.g. "data/eni-max-pods.txt".
#pragma once
#include <map>
#include <string_view>

namespace agent::embedded {
const std::map<std::string_view, std::string_view>& files();
// The named file; aborts if it was not embedded (a build bug, not a runtime condition).
std::string_view file(std::string_view name);
}  // namespace agent::embedded
