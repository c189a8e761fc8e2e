// CurlImds: the real Imds, IMDSv2 over libcurl's multi interface.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/ports/clock.h"
#include "agent/ports/imds.h"

namespace agent::platform {

// Talks to IMDS with one session token (PUT latest/api/token), kept in memory only, reused for
// every GET and refreshed when IMDS answers 401 or when it is about to expire. get_many() puts all
// its paths in flight at once, so a batch costs one round trip (plus retry rounds).
//
// Retries: connection errors (refused, reset, timed out), HTTP 429 and 5xx are retried with capped
// exponential backoff and full jitter, at most `max_attempts` times per path. A 401 refreshes the
// token once per call and retries without backoff. 404, 403 and other 4xx are final.
//
// Deadline: `overall` starts at the first request (get/get_many), not at construction, and covers
// every later call on this object: an agent run has one IMDS budget. Each HTTP attempt is further
// bounded by `request_timeout` (and `connect_timeout` for the TCP connect).
//
// Errors (the message names the path and the endpoint, never the token):
//   NotFound     404: the path is absent (expected for optional paths)
//   Denied       403 (IMDS disabled for the instance, or the request looked proxied), or a
//                freshly issued token rejected again with 401
//   Timeout      the overall deadline passed after IMDS had been reached at least once
//   Unavailable  no connection could ever be established, or 429/5xx persisted for every attempt
//   Invalid      a malformed path, a token request IMDS rejected with 400 (bad TTL), a body over 1 MiB
//   Unsupported  the endpoint does not issue IMDSv2 tokens (404/405 on the token PUT)
//
// Never goes through a proxy, whatever http_proxy/HTTPS_PROXY/ALL_PROXY/NO_PROXY say.
// Does not call curl_global_init: main (or the test fixture) does it once.
// Not thread-safe: one CurlImds is used by one thread at a time.
class CurlImds final : public Imds {
 public:
  struct Options {
    std::string endpoint = "http://169.254.169.254";  // scheme://host[:port], no trailing slash
    std::chrono::milliseconds request_timeout{2000};  // one HTTP attempt, connect included
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds overall{60000};  // the whole IMDS budget, from the first request
    int token_ttl_seconds = 300;               // 1..21600, sent with the token PUT
    int max_attempts = 10;                     // per path (and for the token), first try included
    std::chrono::milliseconds backoff_base{50}, backoff_cap{1000};
    // Seeds the jitter generator; unset seeds it from clock.now(). Tests may pin it.
    std::optional<std::uint32_t> jitter_seed;
  };

  // `clock` must outlive this object; it measures the deadline and sleeps the backoff.
  CurlImds(Options options, Clock& clock);
  ~CurlImds() override;
  CurlImds(const CurlImds&) = delete;
  CurlImds& operator=(const CurlImds&) = delete;

  Result<std::string> get(const std::string& path) override;
  std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) override;
  ImdsStats stats() const override { return stats_; }

  const Options& options() const { return options_; }

 private:
  struct Transfer;  // one HTTP attempt (curl_imds.cc)
  struct Multi;     // the CURLM* and its connection cache, shared by every attempt

  // One attempt at `path`, with `header` (the token or the TTL) and the options every IMDS request
  // needs; its timeout is clamped to the deadline.
  Result<std::unique_ptr<Transfer>> make_transfer(const std::string& path, bool put, const std::string& header);
  // One round trip: runs every transfer concurrently until all have finished.
  void run_round(std::vector<Transfer*>& transfers);
  // Makes sure token_ holds a usable token, fetching one (with retries) if needed.
  Status ensure_token();
  std::chrono::milliseconds backoff_for(int attempt);  // attempt >= 1
  std::chrono::steady_clock::time_point deadline();     // starts the budget on first use

  Options options_;
  Clock& clock_;
  std::unique_ptr<Multi> multi_;
  std::optional<std::chrono::steady_clock::time_point> deadline_;
  std::string token_;  // empty: none yet or dropped after a 401
  std::chrono::steady_clock::time_point token_refresh_at_{};
  std::minstd_rand jitter_;
  ImdsStats stats_;
};

// Which IMDS endpoint to use, first match wins:
//   1. `flag` (the --imds-endpoint option), a URL or host[:port]
//   2. AWS_EC2_METADATA_SERVICE_ENDPOINT, a URL (the AWS SDK variable)
//   3. IMDS_ENDPOINT, host[:port] (the bootstrap.sh helper variable), used as http://host[:port]
//   4. http://169.254.169.254
// Empty values count as unset. Trailing slashes are stripped; a value without "://" gets "http://".
// Pure: the caller passes getenv() results (or nullptr).
std::string resolve_imds_endpoint(const std::optional<std::string>& flag,
                                  const char* aws_ec2_metadata_service_endpoint_env,
                                  const char* imds_endpoint_env);

}  // namespace agent::platform
