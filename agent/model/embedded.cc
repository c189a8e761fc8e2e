#include "agent/model/embedded.h"

#include <cstdio>
#include <cstdlib>

namespace agent::embedded {
std::string_view file(std::string_view name) {
  auto it = files().find(name);
  if (it == files().end()) {
    std::fprintf(stderr, "BUG: %.*s is not embedded\n", static_cast<int>(name.size()), name.data());
    std::abort();
  }
  return it->second;
}
}  // namespace agent::embedded
