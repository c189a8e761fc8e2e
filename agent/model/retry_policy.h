// RetryPolicy: how a client retries a call that failed for a reason worth retrying, as a value
// (STYLE.md lesson 9). One pure decision function, next_retry(), is shared by the AWS API adapter
// (agent/platform/curl_aws_api) and the fleet simulation (bench/fleet_sim.cc), so the benchmark
// measures the code that runs on nodes.
//
// Backoff is capped exponential with full jitter: before retry n (n >= 1) wait
// U[0, min(cap, base * 2^(n-1))). Full jitter spreads a fleet that was throttled at the same
// instant evenly over the window instead of moving the whole herd to the same later second.
//
// Two kinds of retryable outcome count differently:
//   Failure   (HTTP 5xx, a connection error or a timed-out attempt): limited to max_attempts
//             attempts in all (the first included), as bootstrap.sh's --aws-api-retry-attempts
//             limited its retries.
//   Throttled (HTTP 429, ThrottlingException, TooManyRequestsException, RequestLimitExceeded): the
//             service is healthy and asks for less traffic. Giving up after a few throttled tries is
//             exactly how fleets of nodes failed to join (ecosystem.md P6), so throttling is
//             limited by the caller's deadline, not by max_attempts; it still grows the backoff.
// A deadline always wins: no wait is started that would end after it.
#pragma once
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <functional>
#include <optional>

namespace agent {

struct RetryPolicy {
  int max_attempts = 4;                       // attempts after Failure outcomes, first included
  std::chrono::milliseconds base{1000};       // backoff window before the first retry
  std::chrono::milliseconds cap{20000};       // largest backoff window
  bool operator==(const RetryPolicy&) const = default;
};

// The policy for --aws-api-retry-attempts N: N retries after failures (N + 1 attempts), like
// bootstrap.sh; base 1 s and cap 20 s like the AWS SDKs' standard retry mode.
RetryPolicy aws_retry_policy(int retry_attempts);

enum class AttemptOutcome { Success, Throttled, Failure, Permanent };

// What a retry loop has seen so far.
struct RetryState {
  int attempts = 0;   // attempts made
  int failures = 0;   // of which ended in Failure
  int throttled = 0;  // of which ended in Throttled
};

// A source of uniformly distributed numbers in [0, 1): the jitter. Injected so that tests and the
// simulation are reproducible.
using Jitter = std::function<double()>;

// The backoff window before retry `retry` (1-based): min(cap, base * 2^(retry-1)), in ms.
std::chrono::milliseconds backoff_window(const RetryPolicy& policy, int retry);

// Records `outcome` of the attempt just made in `state` and decides: the delay before the next
// attempt, or nullopt to stop (Success, Permanent, or Failure with max_attempts used up).
// `jitter` is in [0, 1). Pure.
std::optional<std::chrono::milliseconds> next_retry(const RetryPolicy& policy, RetryState& state,
                                                    AttemptOutcome outcome, double jitter);

// A small deterministic U[0,1) generator (splitmix64), for Jitter sources that must not depend on
// <random>'s implementation-defined distributions (the simulation's numbers are reproducible
// across standard libraries).
class SplitMix {
 public:
  explicit SplitMix(std::uint64_t seed) : s_(seed) {}
  double next() {
    std::uint64_t z = (s_ += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    z ^= z >> 31;
    return static_cast<double>(z >> 11) * 0x1.0p-53;
  }

 private:
  std::uint64_t s_;
};

}  // namespace agent
