#include "agent/app/log.h"

#include <unistd.h>

#include <cstdio>
#include <string>

namespace agent::log {
namespace {
Level g_threshold = Level::Info;
}

void set_threshold(Level max_level) { g_threshold = max_level; }

void emit(Level level, std::string_view event_id, std::string_view message) {
  if (static_cast<int>(level) > static_cast<int>(g_threshold)) return;
  static const bool tty = isatty(STDERR_FILENO) == 1;
  std::string line;
  if (!tty) line += fmt::format("<{}>", static_cast<int>(level));
  const char* tag = level == Level::Error     ? "ERROR"
                    : level == Level::Warning ? "WARN"
                                              : "INFO";
  line += fmt::format("eks-node-agent {} [{}] {}\n", tag, event_id, message);
  std::fwrite(line.data(), 1, line.size(), stderr);
}

}  // namespace agent::log
