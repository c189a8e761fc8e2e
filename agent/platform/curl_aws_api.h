// CurlAwsApi: the real AwsApi. HTTPS (or plain HTTP to an AWS_ENDPOINT_URL_* override, as tests
// use) through libcurl, which signs each request with AWS Signature Version 4 itself
// (CURLOPT_AWS_SIGV4); no AWS CLI, no SDK.
//
// libcurl is loaded with dlopen on the first call (CurlLibrary), so constructing this object costs
// nothing and a run that makes no AWS call never maps libcurl.
//
// Per call (contract in agent/ports/aws_api.h):
//   endpoint  service_endpoint(): AWS_ENDPOINT_URL_EKS / _EC2 / _ECR / AWS_ENDPOINT_URL, else
//             https://{eks|ec2|api.ecr}.{region}.{partition domain}; region AWS_REGION, else
//             `where`.
//   proxy     proxy_for(): HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches, set explicitly on
//             each request (libcurl's own environment lookup is switched off).
//   signing   the credentials from AwsCredentialProvider; a session token travels in
//             X-Amz-Security-Token.
//   retries   next_retry(options.retry): throttling until the deadline, 5xx / connection errors /
//             timed-out attempts up to retry.max_attempts; an "expired token" answer refreshes the
//             credentials once without counting as an attempt.
//   bounds    each attempt: connect_timeout, request_timeout, both clamped to the deadline;
//             answers over 16 MiB are cut off (Failure); DescribeAddonVersions follows at most
//             kMaxAddonPages pages.
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
#include "agent/platform/aws_call.h"
#include "agent/platform/aws_credentials.h"
#include "agent/platform/curl_http.h"
#include "agent/ports/aws_api.h"
#include "agent/ports/cancel.h"

namespace agent::platform {

class CurlAwsApi final : public AwsApi {
 public:
  // Told about each retry: operation, the attempt that failed (1-based), the backoff before the
  // next one, and why. main logs it; tests may record it.
  using RetryObserver = AwsRetryObserver;

  struct Options {
    aws::AwsEnv env;
    RetryPolicy retry = aws_retry_policy(3);
    std::chrono::milliseconds request_timeout{20000};  // one attempt, connect included
    std::chrono::milliseconds connect_timeout{5000};
    std::optional<std::uint64_t> jitter_seed;          // unset: seeded from the clock
    std::string user_agent = "eks-node-agent";
    std::string curl_soname = "libcurl.so.4";
    RetryObserver on_retry;
    // How an error names the retry limit ("" : "--aws-api-retry-attempts allows N retries").
    std::string retry_limit_text;
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
  Result<std::vector<AddonVersionInfo>> describe_addon_versions(const AwsWhere& where, const std::string& addon,
                                                                const std::string& kubernetes_minor) override;
  Result<EcrAuthorization> ecr_authorization(const AwsWhere& where) override;
  Result<std::vector<std::string>> describe_regions(const AwsWhere& where) override;
  AwsApiStats stats() const override;

  // Replaces options.env (main re-reads it after applying NodeConfig's instance.environment.default
  // to the process): the next call's region, endpoints, proxy and environment keys follow it.
  void set_environment(aws::AwsEnv env);

  static constexpr int kMaxAddonPages = 100;

  // Whether libcurl has been loaded (for tests of the lazy load).
  bool curl_loaded() const { return session_.loaded(); }

 private:
  using Builder = std::function<Result<aws::HttpRequest>(const std::string& endpoint)>;

  // Endpoint, credentials, signing, retries (call_with_retries): the body of a 2xx answer.
  Result<std::string> call(const AwsWhere& where, aws::Service service, const Builder& build);
  // One HTTP exchange (curl_exchange and its errors; an oversized answer is Unavailable here).
  Result<CurlAnswer> perform(const aws::HttpRequest& request, const aws::Credentials& creds,
                             const std::string& region, std::chrono::steady_clock::time_point deadline);

  Options options_;
  Clock& clock_;
  const CancelToken* cancel_;
  AwsCredentialProvider credentials_;
  CurlSession session_;
  SplitMix jitter_;
  AwsApiStats stats_;
};

}  // namespace agent::platform
