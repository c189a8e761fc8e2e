#include "agent/platform/steady_clock.h"

#include <thread>

namespace agent::platform {

std::chrono::steady_clock::time_point SteadyClock::now() { return std::chrono::steady_clock::now(); }

void SteadyClock::sleep_until(std::chrono::steady_clock::time_point t) { std::this_thread::sleep_until(t); }

}  // namespace agent::platform
