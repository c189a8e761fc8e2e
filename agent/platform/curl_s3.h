// CurlS3: the real ObjectStore. S3 GetObject over HTTPS (or plain HTTP to an endpoint override, as
// tests and emulators use) through the same dlopen'ed libcurl, exchange and retry loop as
// CurlAwsApi (curl_http.h, aws_call.h); no AWS CLI, no SDK, no wget.
//
// Per get() (contract in agent/ports/object_store.h):
//   url        aws::s3_object_url(): https://BUCKET.s3.REGION.DOMAIN/KEY, or path-style
//              ENDPOINT/BUCKET/KEY under AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL (emulators and
//              MinIO-style servers answer on one host, not per-bucket names). See agent/aws/s3.h.
//   proxy      aws::proxy_for(): HTTPS_PROXY / HTTP_PROXY unless NO_PROXY matches, set per request.
//   signing    SigV4 by libcurl (CURLOPT_AWS_SIGV4 "aws:amz:REGION:s3") with the credentials from
//              AwsCredentialProvider (environment, else the instance profile through IMDS). libcurl
//              7.88 does not add S3's mandatory x-amz-content-sha256 header (8.x does, and takes
//              ours when present): we send the SHA-256 of the empty body, which libcurl then also
//              uses as the payload hash it signs.
//   anonymous  with Options::anonymous, or when there are no credentials at all (no environment
//              keys, and IMDS has no instance profile or cannot be reached): unsigned requests,
//              which public buckets such as amazon-eks answer (install-worker.sh used plain wget).
//              Decided once per CurlS3 and told once through Options::on_notice; one that
//              had credentials never falls back.
//   retries    call_with_retries(): 503 SlowDown / 429 until the deadline, 5xx, RequestTimeout,
//              connection errors, stalled or timed-out attempts up to retry.max_attempts; an
//              ExpiredToken answer refreshes the credentials once.
//   bounds     each attempt: connect_timeout, stall_timeout (no data), attempt_timeout, all within
//              Options::deadline; objects over max_object_bytes are refused (by Content-Length
//              before the body is read).
//   progress   FetchProgress sees the body of the 2xx answer as it arrives (bytes, Content-Length);
//              after a retried attempt it starts again from 0. The CancelToken is looked at from
//              libcurl's progress callback (about once a second while idle, at every chunk).
// Credentials are never logged: messages name their source ("environment", "instance profile
// ROLE"), never a key.
//
// Not thread-safe: one easy handle is reused so that successive objects share a connection.
#pragma once
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <optional>
#include <string>

#include "agent/aws/endpoints.h"
#include "agent/aws/s3.h"
#include "agent/model/retry_policy.h"
#include "agent/platform/aws_call.h"
#include "agent/platform/aws_credentials.h"
#include "agent/platform/curl_http.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"
#include "agent/ports/imds.h"
#include "agent/ports/object_store.h"

namespace agent::platform {

class CurlS3 final : public ObjectStore {
 public:
  struct Options {
    std::string bucket = "amazon-eks";
    std::string region = "us-west-2";      // the bucket's region: host and signing scope
    std::string domain = "amazonaws.com";  // the partition's DNS suffix (amazonaws.com.cn, ...)
    aws::AwsEnv env;                       // AWS_ENDPOINT_URL, proxies, environment credentials
    std::optional<std::string> endpoint_url_s3;  // AWS_ENDPOINT_URL_S3: wins over env.endpoint_url
    bool anonymous = false;                      // never sign, never look for credentials
    RetryPolicy retry = aws_retry_policy(3);
    std::chrono::milliseconds connect_timeout{5000};
    std::chrono::seconds stall_timeout{30};  // an attempt that receives nothing this long
    std::chrono::milliseconds attempt_timeout{15 * 60 * 1000};  // one attempt, the whole object
    // Bounds every get(), retries included; nullopt: none (each attempt is still bounded).
    std::optional<std::chrono::steady_clock::time_point> deadline;
    std::size_t max_object_bytes = std::size_t{1} << 30;  // 1 GiB
    std::optional<std::uint64_t> jitter_seed;             // unset: seeded from the clock
    std::string user_agent = "eks-node-agent";
    std::string curl_soname = "libcurl.so.4";
    AwsRetryObserver on_retry;                          // each retry (main logs it)
    std::function<void(const std::string&)> on_notice;  // once: why requests go anonymously
  };

  struct Stats {
    int gets = 0;
    int requests = 0;   // HTTP requests sent, retries included
    int throttled = 0;  // 503 SlowDown / 429 answers
    int credential_fetches = 0;
    std::uint64_t bytes = 0;  // object bytes returned
    bool anonymous = false;   // requests are being sent unsigned
  };

  // `imds` (instance-profile credentials; untouched with `anonymous` or environment keys) and
  // `clock` (deadline, backoff) must outlive this object. `wall` tells UTC time for credential
  // expiry. Nothing is loaded or asked until the first get().
  CurlS3(Options options, Imds& imds, Clock& clock, WallClock wall,
         const CancelToken* cancel = nullptr);
  ~CurlS3() override;

  // Errors as in ObjectStore, plus Errc::Invalid (before any request) for a malformed key, bucket
  // name, region or endpoint override.
  Result<std::string> get(const std::string& key, const FetchProgress& progress) override;
  // Streams the 2xx body into sink.write through libcurl's write callback (never held whole);
  // sink.restart before each attempt.
  Status get_to(const std::string& key, const Sink& sink, const FetchProgress& progress) override;
  std::string url_of(const std::string& key) const override;

  Stats stats() const;
  bool curl_loaded() const { return session_.loaded(); }

 private:
  Result<MaybeCredentials> credentials(bool force);
  Result<CurlAnswer> attempt(const std::string& key, const MaybeCredentials& creds,
                             const FetchProgress& progress,
                             const std::function<Status(std::string_view)>* sink);
  // get() and get_to(): the retried GetObject; with `sink`, the body goes there.
  Result<CurlAnswer> fetch(const std::string& key, const FetchProgress& progress, const Sink* sink);

  Options options_;
  Clock& clock_;
  const CancelToken* cancel_;
  AwsCredentialProvider provider_;
  Result<aws::S3Location> location_;             // the bucket, or why it cannot be used
  std::optional<std::string> anonymous_reason_;  // set once requests go unsigned
  bool had_credentials_ = false;
  CurlSession session_;
  SplitMix jitter_;
  Stats stats_;
};

}  // namespace agent::platform
