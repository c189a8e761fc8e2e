// A unified diff of two texts, for --dry-run. Pure.
#pragma once
#include <string>
#include <string_view>

namespace agent::compute {

// "--- a/PATH\n+++ b/PATH\n@@ ... @@\n" hunks with 3 lines of context; empty when equal.
// `before` may be empty for a new file. Longest-common-subsequence over lines; files here are
// small (hundreds of lines), so the quadratic table is cheap and simple.
std::string unified_diff(std::string_view before, std::string_view after, std::string_view path);

}  // namespace agent::compute
