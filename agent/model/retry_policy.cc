#include "agent/model/retry_policy.h"

namespace agent {

RetryPolicy aws_retry_policy(int retry_attempts) {
  return RetryPolicy{.max_attempts = std::max(0, retry_attempts) + 1,
                     .base = std::chrono::milliseconds(1000),
                     .cap = std::chrono::milliseconds(20000)};
}

std::chrono::milliseconds backoff_window(const RetryPolicy& policy, int retry) {
  using std::chrono::milliseconds;
  if (retry < 1 || policy.base.count() <= 0) return milliseconds(0);
  // Doubling past the cap is pointless and, past 62 doublings, undefined.
  milliseconds window = policy.base;
  for (int i = 1; i < retry && window < policy.cap; ++i) window *= 2;
  return std::min(window, policy.cap);
}

std::optional<std::chrono::milliseconds> next_retry(const RetryPolicy& policy, RetryState& state,
                                                    AttemptOutcome outcome, double jitter) {
  ++state.attempts;
  switch (outcome) {
    case AttemptOutcome::Success:
    case AttemptOutcome::Permanent:
      return std::nullopt;
    case AttemptOutcome::Failure:
      ++state.failures;
      if (state.failures >= policy.max_attempts) return std::nullopt;
      break;
    case AttemptOutcome::Throttled:
      ++state.throttled;
      break;
  }
  jitter = std::clamp(jitter, 0.0, 1.0);
  const auto window = backoff_window(policy, state.attempts);
  return std::chrono::milliseconds(static_cast<long long>(static_cast<double>(window.count()) * jitter));
}

}  // namespace agent
