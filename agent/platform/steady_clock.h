// SteadyClock: the real Clock.
#pragma once
#include "agent/ports/clock.h"

namespace agent::platform {

class SteadyClock final : public Clock {
 public:
  std::chrono::steady_clock::time_point now() override;
  void sleep_until(std::chrono::steady_clock::time_point t) override;
};

}  // namespace agent::platform
