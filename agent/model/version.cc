#include "agent/model/version.h"

#include <cctype>

#include <fmt/format.h>

namespace agent {

std::string Version::str() const { return fmt::format("{}.{}.{}", major, minor, patch); }

std::optional<Version> parse_version(std::string_view text) {
  for (size_t i = 0; i < text.size(); ++i) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) continue;
    if (i > 0 && std::isdigit(static_cast<unsigned char>(text[i - 1]))) continue;
    int parts[3] = {0, 0, 0};
    int n = 0;
    size_t j = i;
    while (n < 3) {
      if (j >= text.size() || !std::isdigit(static_cast<unsigned char>(text[j]))) break;
      int v = 0;
      while (j < text.size() && std::isdigit(static_cast<unsigned char>(text[j])) && v < 100000) {
        v = v * 10 + (text[j] - '0');
        ++j;
      }
      parts[n++] = v;
      if (n < 3 && j + 1 < text.size() && text[j] == '.' &&
          std::isdigit(static_cast<unsigned char>(text[j + 1]))) {
        ++j;
      } else {
        break;
      }
    }
    if (n >= 2) return Version{parts[0], parts[1], parts[2]};
  }
  return std::nullopt;
}

}  // namespace agent
