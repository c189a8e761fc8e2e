// Secret: a string that must never reach a log line, an error message, a plan or a dry run (an ECR
// registry password, for one). Printing it in any way the code base prints values (fmt, ostream,
// doctest's failure messages) shows "<redacted>"; the value itself is reachable only through
// reveal(), so every place that uses it is one grep away.
#pragma once
#include <ostream>
#include <string>
#include <string_view>
#include <utility>

#include <fmt/format.h>

namespace agent {

class Secret {
 public:
  static constexpr std::string_view kRedacted = "<redacted>";

  Secret() = default;
  explicit Secret(std::string value) : value_(std::move(value)) {}

  // The secret itself: only for the one place that must hand it on (a command's argv, a header).
  const std::string& reveal() const { return value_; }
  bool empty() const { return value_.empty(); }
  bool operator==(const Secret&) const = default;

 private:
  std::string value_;
};

inline std::ostream& operator<<(std::ostream& os, const Secret&) { return os << Secret::kRedacted; }

// `text` with every occurrence of the secret replaced by "<redacted>" (for messages that quote a
// program's output, which might echo it). An empty secret changes nothing.
inline std::string scrub(std::string text, const Secret& secret) {
  const std::string& s = secret.reveal();
  if (s.empty()) return text;
  for (size_t at = text.find(s); at != std::string::npos; at = text.find(s, at + Secret::kRedacted.size())) {
    text.replace(at, s.size(), Secret::kRedacted);
  }
  return text;
}

}  // namespace agent

template <>
struct fmt::formatter<agent::Secret> : fmt::formatter<std::string_view> {
  template <typename FormatContext>
  auto format(const agent::Secret&, FormatContext& ctx) const {
    return fmt::formatter<std::string_view>::format(agent::Secret::kRedacted, ctx);
  }
};
