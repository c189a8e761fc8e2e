// Operator-facing log lines: stderr, one line each, with a syslog priority prefix ("<4>") that
// journald understands when stderr is the journal, a stable event id, and never a secret (callers
// pass values, not documents). Only gather, apply and main log; compute returns Diagnostics.
#pragma once
#include <string_view>

#include <fmt/format.h>

namespace agent::log {

enum class Level { Error = 3, Warning = 4, Notice = 5, Info = 6, Debug = 7 };

// Emits "<N>eks-node-agent[EVENT_ID]: message" (the prefix only when stderr is not a terminal).
void emit(Level level, std::string_view event_id, std::string_view message);
// Suppresses Info/Debug lines (--quiet) or enables Debug (--verbose).
void set_threshold(Level max_level);

template <typename... Args>
void info(std::string_view id, fmt::format_string<Args...> f, Args&&... args) {
  emit(Level::Info, id, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void warn(std::string_view id, fmt::format_string<Args...> f, Args&&... args) {
  emit(Level::Warning, id, fmt::format(f, std::forward<Args>(args)...));
}
template <typename... Args>
void error(std::string_view id, fmt::format_string<Args...> f, Args&&... args) {
  emit(Level::Error, id, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace agent::log
