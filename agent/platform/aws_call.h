// call_with_retries: the retry loop every AWS request of the agent goes through (the EKS/EC2 API in
// CurlAwsApi, S3 GetObject in CurlS3), so that the retry policy, the deadline, the one credential
// refresh after an "expired token" answer, cancellation and the messages are the same everywhere.
//
// Per attempt: look at the cancel token and the deadline, get credentials (hooks.credentials),
// make the attempt (hooks.attempt: one curl_exchange), then
//   2xx                          the answer is returned
//   transport error              Unavailable / Timeout are retryable Failures; anything else
//                                (Interrupted, Invalid, Unsupported, Internal) is returned as is
//   other status                 hooks.judge says what it is: Throttled and Failure are retried
//                                per next_retry(call.retry) with capped exponential backoff and
//                                full jitter; Permanent returns the judge's error; an "expired
//                                credentials" verdict fetches credentials again (force) once and
//                                retries at once, not counted as an attempt.
// No backoff is started that would end after call.deadline. Errors of the loop itself are
// Errc::AwsApi naming the operation, subject, endpoint, attempts, elapsed time and last cause;
// Errc::Interrupted when cancelled (before an attempt or during a backoff).
#pragma once
#include <chrono>
#include <functional>
#include <optional>
#include <string>

#include "agent/aws/credentials.h"
#include "agent/model/result.h"
#include "agent/model/retry_policy.h"
#include "agent/platform/curl_http.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"

namespace agent::platform {

// Told about each retry: operation, the attempt that failed (1-based), the backoff before the next
// one, and why. main logs it; tests may record it.
using AwsRetryObserver =
    std::function<void(const std::string& operation, int attempt, std::chrono::milliseconds delay,
                       const std::string& why)>;

struct AwsCall {
  std::string operation;  // "DescribeCluster", "GetObject"
  std::string subject;    // "EKS cluster 'x'", "s3://bucket/key"
  std::string endpoint;   // where the requests go
  std::chrono::steady_clock::time_point deadline;
  RetryPolicy retry;
  std::string retry_limit;  // names the policy's limit: "--aws-api-retry-attempts allows 3 retries"
};

// The caller's reading of an answer that is not 2xx.
struct AnswerVerdict {
  AttemptOutcome outcome = AttemptOutcome::Permanent;  // Throttled, Failure or Permanent
  std::string cause;                 // "HTTP 503 SlowDown": for retry notes and the last-cause text
  bool credentials_expired = false;  // fetch credentials again once and retry at once
  Error error;                       // what the call returns when the outcome is Permanent
};

// nullopt: send the request anonymously (unsigned).
using MaybeCredentials = std::optional<aws::Credentials>;

struct AwsCallHooks {
  // The credentials for the next attempt; `force` after an "expired" answer. Errors end the call
  // as they are (the hook adds its context).
  std::function<Result<MaybeCredentials>(bool force)> credentials;
  // One HTTP exchange with these credentials.
  std::function<Result<CurlAnswer>(const MaybeCredentials&)> attempt;
  std::function<AnswerVerdict(const CurlAnswer&, const MaybeCredentials&)> judge;
  AwsRetryObserver on_retry;  // may be empty
};

// The first 2xx answer, or the error described above. `clock` (deadline, backoff), `jitter` and
// `cancel` (may be null) are the caller's.
Result<CurlAnswer> call_with_retries(const AwsCall& call, const AwsCallHooks& hooks, Clock& clock,
                                     SplitMix& jitter, const CancelToken* cancel);

}  // namespace agent::platform
