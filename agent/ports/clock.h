// Clock: time as a dependency, so retries and deadlines are testable with a manual clock.
#pragma once
#include <chrono>

namespace agent {

class Clock {
 public:
  virtual ~Clock() = default;
  virtual std::chrono::steady_clock::time_point now() = 0;
  virtual void sleep_until(std::chrono::steady_clock::time_point t) = 0;
};

}  // namespace agent
