#include "agent/compute/diff.h"

#include <algorithm>
#include <vector>

#include <fmt/format.h>

namespace agent::compute {
namespace {

std::vector<std::string_view> lines_of(std::string_view s) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (start < s.size()) {
    size_t nl = s.find('\n', start);
    size_t end = nl == std::string_view::npos ? s.size() : nl + 1;
    out.push_back(s.substr(start, end - start));
    start = end;
  }
  return out;
}

struct Op {
  char kind;  // ' ', '-', '+'
  std::string_view line;
  size_t a, b;  // line index in before/after at this op
};

}  // namespace

std::string unified_diff(std::string_view before, std::string_view after, std::string_view path) {
  if (before == after) return "";
  auto a = lines_of(before);
  auto b = lines_of(after);
  const size_t n = a.size(), m = b.size();
  // lcs[i][j]: LCS length of a[i..] and b[j..].
  std::vector<std::vector<unsigned>> lcs(n + 1, std::vector<unsigned>(m + 1, 0));
  for (size_t i = n; i-- > 0;) {
    for (size_t j = m; j-- > 0;) {
      lcs[i][j] = a[i] == b[j] ? lcs[i + 1][j + 1] + 1 : std::max(lcs[i + 1][j], lcs[i][j + 1]);
    }
  }
  std::vector<Op> ops;
  size_t i = 0, j = 0;
  while (i < n || j < m) {
    if (i < n && j < m && a[i] == b[j]) {
      ops.push_back({' ', a[i], i, j});
      ++i, ++j;
    } else if (i < n && (j == m || lcs[i + 1][j] >= lcs[i][j + 1])) {
      // On a tie, removals go first, so a changed line reads "-old" then "+new" as in diff -u.
      ops.push_back({'-', a[i], i, j});
      ++i;
    } else {
      ops.push_back({'+', b[j], i, j});
      ++j;
    }
  }
  std::string out = fmt::format("--- a{}\n+++ b{}\n", path, path);
  constexpr size_t kContext = 3;
  size_t k = 0;
  while (k < ops.size()) {
    if (ops[k].kind == ' ') {
      ++k;
      continue;
    }
    // Grow a hunk from the first change until a run of more than 2*context unchanged lines.
    size_t start = k >= kContext ? k - kContext : 0;
    size_t end = k;
    size_t quiet = 0;
    for (size_t x = k; x < ops.size(); ++x) {
      if (ops[x].kind == ' ') {
        if (++quiet > 2 * kContext) break;
      } else {
        quiet = 0;
        end = x;
      }
    }
    size_t stop = std::min(ops.size(), end + 1 + kContext);
    size_t a_count = 0, b_count = 0;
    for (size_t x = start; x < stop; ++x) {
      if (ops[x].kind != '+') ++a_count;
      if (ops[x].kind != '-') ++b_count;
    }
    size_t a_start = ops[start].a + (a_count ? 1 : 0);
    size_t b_start = ops[start].b + (b_count ? 1 : 0);
    out += fmt::format("@@ -{},{} +{},{} @@\n", a_start, a_count, b_start, b_count);
    for (size_t x = start; x < stop; ++x) {
      out += ops[x].kind;
      out += ops[x].line;
      if (ops[x].line.empty() || ops[x].line.back() != '\n') out += "\n\\ No newline at end of file\n";
    }
    k = stop;
  }
  return out;
}

}  // namespace agent::compute
