// CurlAwsApi: the real AwsApi. HTTPS (or plain HTTP to an AWS_ENDPOINT_URL_* override, as tests
// use) through libcurl, which signs each request with AWS Signature Version 4 itself
// (CURLOPT_AWS_SIGV4); no AWS CLI, no SDK.
//
// libcurl is loaded with dlopen on the first call (CurlLibrary), so constructing this object costs
// nothing and a run that makes no AWS call never maps libcurl.
//
// Per call (contract in agent/ports/aws_api.h):
//   endpoint  service_endpoint(): AWS_ENDPOINT_URL_EKS / _EC2 / AWS_ENDPOINT_URL, else
//             https://{eks|ec2}.{region}.{partition domain}; region AWS_REGION, else `where`.
//   proxy     proxy_for(): HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches, set explicitly on
//             each request (libcurl's own environment lookup is switched off).
//   signing   the credentials from AwsCredentialProvider; a session token travels in
//             X-Amz-Security-Token.
//   retries   next_retry(options.retry): throttling until the deadline, 5xx / connection errors /
//             timed-out attempts up to retry.max_attempts; an "expired token" answer refreshes the
//             credentials once without counting as an attempt.
//   bounds    each attempt: connect_timeout, request_timeout, both clamped to the deadline;
//             answers over 16 MiB are cut off (Failure).
// Not thread-safe; one easy handle is reused so that retries and pages share a connection.
#pragma once
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>

#include "agent/aws/endpoints.h"
#include "agent/aws/protocol.h"
#include "agent/model/retry_policy.h"
#include "agent/platform/aws_credentials.h"
#include "agent/platform/curl_library.h"
#include "agent/ports/aws_api.h"
#include "agent/ports/cancel.h"

namespace agent::platform {

class CurlAwsApi final : public AwsApi {
 public:
  // Told about each retry: operation, the attempt that failed (1-based), the backoff before the
  // next one, and why. main logs it; tests may record it.
  using RetryObserver = std::function<void(const std::string& operation, int attempt,
                                           std::chrono::milliseconds delay, const std::string& why)>;

  struct Options {
    aws::AwsEnv env;
    RetryPolicy retry = aws_retry_policy(3);
    std::chrono::milliseconds request_timeout{20000};  // one attempt, connect included
    std::chrono::milliseconds connect_timeout{5000};
    std::optional<std::uint64_t> jitter_seed;          // unset: seeded from the clock
    std::string user_agent = "eks-node-agent";
    std::string curl_soname = "libcurl.so.4";
    RetryObserver on_retry;
  };

  // `imds` (credentials), `clock` (deadline, backoff) must outlive this object.
  CurlAwsApi(Options options, Imds& imds, Clock& clock, WallClock wall,
             const CancelToken* cancel = nullptr);
  ~CurlAwsApi() override;

  Result<ClusterInfo> describe_cluster(const AwsWhere& where, const std::string& name) override;
  Result<InstanceTypesPage> describe_instance_types(const AwsWhere& where,
                                                    const std::vector<std::string>& types,
                                                    const std::string& next_token,
                                                    int max_results) override;
  Result<InstanceDescription> describe_instance(const AwsWhere& where,
                                                const std::string& instance_id) override;
  AwsApiStats stats() const override;

  // Whether libcurl has been loaded (for tests of the lazy load).
  bool curl_loaded() const { return lib_ != nullptr; }

 private:
  struct Answer {
    int status = 0;
    std::string body;
    std::string error_type;  // x-amzn-ErrorType
  };
  using Builder = std::function<Result<aws::HttpRequest>(const std::string& endpoint)>;

  // Endpoint, credentials, signing, retries: the body of a 2xx answer.
  Result<std::string> call(const AwsWhere& where, aws::Service service, const Builder& build);
  // One HTTP exchange. Errors: Unavailable (connection-level, retryable), Timeout (the attempt's
  // time ran out, retryable), Interrupted, Invalid (a request libcurl refuses).
  Result<Answer> perform(const aws::HttpRequest& request, const aws::Credentials& creds,
                         const std::string& region, std::chrono::steady_clock::time_point deadline);
  Status ensure_curl();

  Options options_;
  Clock& clock_;
  const CancelToken* cancel_;
  AwsCredentialProvider credentials_;
  std::unique_ptr<CurlLibrary> lib_;
  CurlEasy easy_{nullptr, CurlEasyDeleter{nullptr}};
  SplitMix jitter_;
  AwsApiStats stats_;
};

}  // namespace agent::platform
