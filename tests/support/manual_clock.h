// ManualClock: a Clock whose time moves only when the code under test sleeps (or the test calls
// advance()), so retry and settle loops finish instantly and deterministically.
#pragma once
#include <algorithm>
#include <chrono>
#include <vector>

#include "agent/ports/clock.h"

namespace agent::testing {

class ManualClock final : public Clock {
 public:
  using time_point = std::chrono::steady_clock::time_point;

  explicit ManualClock(time_point start = time_point{} + std::chrono::hours(1)) : now_(start) {}

  time_point now() override { return now_; }
  // Jumps to `t` (never backwards) and records the request.
  void sleep_until(time_point t) override {
    sleeps_.push_back(t);
    now_ = std::max(now_, t);
  }

  void advance(std::chrono::nanoseconds d) { now_ += d; }
  // Every sleep_until() argument, in order.
  const std::vector<time_point>& sleeps() const { return sleeps_; }

 private:
  time_point now_;
  std::vector<time_point> sleeps_;
};

}  // namespace agent::testing
