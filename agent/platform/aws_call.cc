#include "agent/platform/aws_call.h"

#include <fmt/format.h>

namespace agent::platform {
namespace {

std::string seconds_text(std::chrono::steady_clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

// Transport errors worth another attempt: the connection, or the attempt's time.
bool retryable(const Error& e) { return e.code == Errc::Unavailable || e.code == Errc::Timeout; }

}  // namespace

Result<CurlAnswer> call_with_retries(const AwsCall& call, const AwsCallHooks& hooks, Clock& clock,
                                     SplitMix& jitter, const CancelToken* cancel) {
  const auto started = clock.now();
  RetryState state;
  bool refreshed = false;
  std::string last_cause;
  for (;;) {
    if (is_cancelled(cancel)) return cancel->interrupted(fmt::format("before {}", call.operation));
    if (clock.now() >= call.deadline) {
      return make_error(
          Errc::AwsApi, "{} for {} at {}: the deadline passed after {} attempt(s) in {}{}",
          call.operation, call.subject, call.endpoint, state.attempts,
          seconds_text(clock.now() - started), last_cause.empty() ? "" : "; last: " + last_cause);
    }
    AGENT_TRY(MaybeCredentials creds, hooks.credentials(false));

    AttemptOutcome outcome = AttemptOutcome::Failure;
    auto answer = hooks.attempt(creds);
    if (!answer) {
      if (!retryable(answer.error())) return answer.error();
      last_cause = answer.error().message;
    } else if (is_success(answer->status)) {
      return answer;
    } else {
      AnswerVerdict verdict = hooks.judge(*answer, creds);
      if (verdict.credentials_expired && creds && !refreshed) {
        // The cached instance-profile credentials expired under us: fetch fresh ones once and
        // try again at once; this is not the service failing.
        refreshed = true;
        AGENT_TRY_STATUS(hooks.credentials(true));
        last_cause = verdict.cause;
        continue;
      }
      outcome = verdict.outcome;
      if (outcome == AttemptOutcome::Permanent) return verdict.error;
      last_cause = verdict.cause;
    }

    auto delay = next_retry(call.retry, state, outcome, jitter.next());
    if (!delay) {
      return make_error(Errc::AwsApi, "{} for {} at {} failed {} time(s) in {} ({}): {}",
                        call.operation, call.subject, call.endpoint, state.failures,
                        seconds_text(clock.now() - started), call.retry_limit, last_cause);
    }
    const auto wake = clock.now() + *delay;
    if (wake >= call.deadline) {
      return make_error(Errc::AwsApi,
                        "{} for {} at {}: gave up after {} attempt(s) in {} ({} throttled), "
                        "the next retry would pass the deadline; last: {}",
                        call.operation, call.subject, call.endpoint, state.attempts,
                        seconds_text(clock.now() - started), state.throttled, last_cause);
    }
    if (hooks.on_retry) hooks.on_retry(call.operation, state.attempts, *delay, last_cause);
    if (!sleep_until(clock, cancel, wake)) {
      return cancel->interrupted(fmt::format("while retrying {}", call.operation));
    }
  }
}

}  // namespace agent::platform
