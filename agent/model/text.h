// Small text helpers shared by every layer (header-only, no I/O).
#pragma once
#include <algorithm>
#include <initializer_list>
#include <string>
#include <string_view>

namespace agent {

// ASCII white space at both ends removed (space, \t, \r, \n, \v, \f).
inline std::string_view trim(std::string_view s) {
  constexpr std::string_view kSpace = " \t\r\n\v\f";
  const auto first = s.find_first_not_of(kSpace);
  if (first == std::string_view::npos) return {};
  return s.substr(first, s.find_last_not_of(kSpace) - first + 1);
}
// The same, as an owned string (for temporaries).
inline std::string trimmed(std::string_view s) { return std::string(trim(s)); }

// `value` is one of `set`.
inline bool one_of(std::string_view value, std::initializer_list<std::string_view> set) {
  return std::find(set.begin(), set.end(), value) != set.end();
}

}  // namespace agent
