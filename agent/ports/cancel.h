// CancelToken: how SIGTERM/SIGINT reaches code that is working or waiting.
//
// main owns one token and a signal thread that calls cancel(signo); everything else only reads it:
// run checks it between phases, apply between files and unit jobs, and every wait (IMDS backoff
// and requests, a systemd job, kubelet's settle window, the run lock) looks at it at least every
// kCancelPoll. Code that sees it set stops at the next point where nothing is half done and
// returns interrupted() (Errc::Interrupted), which main turns into exit status 130.
//
// Thread-safe: cancel() may be called from any thread (it is one atomic store); the readers never
// block. A token is never reset. A null `const CancelToken*` means "cannot be cancelled" (tests,
// subcommands).
#pragma once
#include <signal.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <string>

#include "agent/model/result.h"
#include "agent/ports/clock.h"

namespace agent {

// How often a wait looks at the token: the bound on how late a cancellation is noticed.
inline constexpr std::chrono::milliseconds kCancelPoll{100};

class CancelToken {
 public:
  // Records the first cancellation; `signo` names it in messages (0: not a signal).
  void cancel(int signo) noexcept {
    int expected = kNone;
    signo_.compare_exchange_strong(expected, signo);
  }
  bool cancelled() const noexcept { return signo_.load() != kNone; }
  // "SIGTERM", "SIGINT", "signal N" or "a cancellation"; "" when not cancelled.
  std::string cause() const {
    const int s = signo_.load();
    if (s == kNone) return "";
    if (s == SIGTERM) return "SIGTERM";
    if (s == SIGINT) return "SIGINT";
    if (s == 0) return "a cancellation";
    return fmt::format("signal {}", s);
  }
  // The Interrupted error for code that noticed the cancellation: "interrupted by SIGTERM <while>".
  Error interrupted(std::string_view while_doing) const {
    return make_error(Errc::Interrupted, "interrupted by {} {}", cause(), while_doing);
  }

 private:
  static constexpr int kNone = -1;
  std::atomic<int> signo_{kNone};
};

inline bool is_cancelled(const CancelToken* token) { return token != nullptr && token->cancelled(); }

// Sleeps on `clock` until `t`, in steps of at most kCancelPoll, and returns false as soon as the
// token is cancelled (true when `t` was reached). With a null token it is clock.sleep_until(t).
inline bool sleep_until(Clock& clock, const CancelToken* token, std::chrono::steady_clock::time_point t) {
  if (token == nullptr) {
    clock.sleep_until(t);
    return true;
  }
  while (!token->cancelled()) {
    const auto now = clock.now();
    if (now >= t) return true;
    clock.sleep_until(std::min(t, now + kCancelPoll));
  }
  return false;
}

}  // namespace agent
