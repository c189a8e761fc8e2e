// RetryPolicy: the capped exponential windows, full jitter, and which outcomes use up attempts.
#include "agent/model/retry_policy.h"

#include <doctest/doctest.h>

#include <set>

using agent::AttemptOutcome;
using agent::backoff_window;
using agent::next_retry;
using agent::RetryPolicy;
using agent::RetryState;
using namespace std::chrono_literals;

TEST_CASE("backoff windows double from base up to the cap") {
  const RetryPolicy p{.max_attempts = 4, .base = 1000ms, .cap = 20000ms};
  CHECK(backoff_window(p, 0) == 0ms);
  CHECK(backoff_window(p, 1) == 1000ms);
  CHECK(backoff_window(p, 2) == 2000ms);
  CHECK(backoff_window(p, 3) == 4000ms);
  CHECK(backoff_window(p, 5) == 16000ms);
  CHECK(backoff_window(p, 6) == 20000ms);
  CHECK(backoff_window(p, 1000) == 20000ms);  // no overflow far past the cap
  CHECK(backoff_window(RetryPolicy{.max_attempts = 1, .base = 0ms, .cap = 10ms}, 3) == 0ms);
}

TEST_CASE("--aws-api-retry-attempts N means N retries after failures, as in bootstrap.sh") {
  CHECK(agent::aws_retry_policy(3) == RetryPolicy{.max_attempts = 4, .base = 1000ms, .cap = 20000ms});
  CHECK(agent::aws_retry_policy(0).max_attempts == 1);
  CHECK(agent::aws_retry_policy(-5).max_attempts == 1);
}

TEST_CASE("failures use up the attempts; the last failure stops") {
  const RetryPolicy p = agent::aws_retry_policy(2);  // 3 attempts
  RetryState s;
  CHECK(next_retry(p, s, AttemptOutcome::Failure, 0.5).has_value());
  CHECK(next_retry(p, s, AttemptOutcome::Failure, 0.5).has_value());
  CHECK_FALSE(next_retry(p, s, AttemptOutcome::Failure, 0.5).has_value());
  CHECK(s.attempts == 3);
  CHECK(s.failures == 3);
}

TEST_CASE("throttling does not use up attempts but still grows the backoff") {
  const RetryPolicy p = agent::aws_retry_policy(0);  // a single attempt for failures
  RetryState s;
  for (int i = 1; i <= 30; ++i) {
    auto d = next_retry(p, s, AttemptOutcome::Throttled, 0.999);
    REQUIRE(d.has_value());
    CHECK(*d < backoff_window(p, i));
    CHECK(*d >= backoff_window(p, i) * 99 / 100);
  }
  CHECK(s.throttled == 30);
  // A failure after throttling still stops at once: only failures count against max_attempts.
  CHECK_FALSE(next_retry(p, s, AttemptOutcome::Failure, 0.5).has_value());
}

TEST_CASE("success and permanent errors stop at once") {
  const RetryPolicy p = agent::aws_retry_policy(3);
  RetryState s;
  CHECK_FALSE(next_retry(p, s, AttemptOutcome::Success, 0.5).has_value());
  RetryState t;
  CHECK_FALSE(next_retry(p, t, AttemptOutcome::Permanent, 0.5).has_value());
  CHECK(t.attempts == 1);
}

TEST_CASE("full jitter: the wait is jitter times the window, jitter clamped to [0, 1]") {
  const RetryPolicy p{.max_attempts = 10, .base = 1000ms, .cap = 20000ms};
  RetryState s;
  CHECK(*next_retry(p, s, AttemptOutcome::Failure, 0.0) == 0ms);
  CHECK(*next_retry(p, s, AttemptOutcome::Failure, 0.25) == 500ms);   // window 2 s
  CHECK(*next_retry(p, s, AttemptOutcome::Failure, 7.0) == 4000ms);   // clamped to 1
  CHECK(*next_retry(p, s, AttemptOutcome::Failure, -1.0) == 0ms);     // clamped to 0
}

TEST_CASE("SplitMix is deterministic per seed and stays in [0, 1)") {
  agent::SplitMix a(42), b(42), c(43);
  std::set<double> seen;
  for (int i = 0; i < 1000; ++i) {
    const double x = a.next();
    CHECK(x == b.next());
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
    seen.insert(x);
  }
  CHECK(seen.size() == 1000);
  CHECK(agent::SplitMix(42).next() != c.next());
}
