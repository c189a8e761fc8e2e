// AsioImds: the real Imds, IMDSv2 over plain HTTP/1.1 on Boost.Asio sockets.
//
// IMDS is unencrypted HTTP to a link-local address, with no proxy and no redirects, so a small
// hand-written client is enough; it keeps the boot path free of libcurl and the ~30 shared
// libraries (TLS, Kerberos, LDAP) that libcurl loads at process start.
#pragma once

#include <chrono>
#include <cstdint>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"
#include "agent/ports/imds.h"

namespace agent::platform {

namespace imds_detail {
struct Job;  // one path's retry bookkeeping across rounds (asio_imds.cc)
}  // namespace imds_detail

// Talks to IMDS with one session token (PUT latest/api/token), kept in memory only, reused for
// every GET and refreshed when IMDS answers 401 or when it is about to expire. get_many() puts all
// its paths in flight at once (one TCP connection each), so a batch costs one round trip (plus
// retry rounds). Connections whose response allows it are kept open and reused by later requests;
// a kept connection that turns out to be closed by IMDS is replaced without costing an attempt.
//
// Endpoint: "http://host[:port][/base]", parsed once at construction. host is an IPv4 address, a
// bracketed IPv6 address ("http://[fd00:ec2::254]") or a name, which is resolved (once, then
// cached) before the first connect. Any other scheme, a malformed authority or a port outside
// 1..65535 fails every request with Invalid, without touching the network.
//
// Retries: connection errors (refused, reset, closed early, timed out), HTTP 429 and 5xx are
// retried with capped exponential backoff and full jitter, at most `max_attempts` times per path.
// A 401 refreshes the token once per call and retries without backoff. 404, 403 and other 4xx are
// final, except a 404 on a path listed in `retry_not_found`: IMDS answers 404 for some paths while
// the instance is still coming up, and nodeadm's client retries those (it is given up as NotFound
// once the attempts are used up).
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
//   Unavailable  no connection could ever be established, 429/5xx persisted for every attempt, or
//                the answer was not HTTP
//   Invalid      a malformed path or endpoint, a token request IMDS rejected with 400 (bad TTL), a
//                body over 1 MiB
//   Unsupported  the endpoint does not issue IMDSv2 tokens (404/405 on the token PUT)
//
// Never goes through a proxy: it reads no proxy variables at all.
// Not thread-safe: one AsioImds is used by one thread at a time. It runs its own io_context inside
// get()/get_many() and leaves no work pending when they return.
class AsioImds final : public Imds {
 public:
  struct Options {
    std::string endpoint = "http://169.254.169.254";  // http://host[:port], no trailing slash
    std::chrono::milliseconds request_timeout{2000};  // one HTTP attempt, connect included
    std::chrono::milliseconds connect_timeout{1000};
    std::chrono::milliseconds overall{60000};  // the whole IMDS budget, from the first request
    int token_ttl_seconds = 300;               // 1..21600, sent with the token PUT
    int max_attempts = 10;                     // per path (and for the token), first try included
    std::chrono::milliseconds backoff_base{50}, backoff_cap{1000};
    std::vector<std::string> retry_not_found;  // paths whose 404 is retried like a 503
    // Seeds the jitter generator; unset seeds it from clock.now(). Tests may pin it.
    std::optional<std::uint32_t> jitter_seed;
  };

  // `clock` must outlive this object; it measures the deadline and sleeps the backoff. Per-attempt
  // timeouts run on the real steady clock. `cancel` (may be null; must outlive this object) is
  // looked at every kCancelPoll while requests are in flight and during backoff: once it is set,
  // requests in flight are abandoned and every unanswered path fails with Interrupted.
  AsioImds(Options options, Clock& clock, const CancelToken* cancel = nullptr);
  ~AsioImds() override;
  AsioImds(const AsioImds&) = delete;
  AsioImds& operator=(const AsioImds&) = delete;

  Result<std::string> get(const std::string& path) override;
  std::vector<Result<std::string>> get_many(const std::vector<std::string>& paths) override;
  ImdsStats stats() const override { return stats_; }

  const Options& options() const { return options_; }

 private:
  struct Net;      // io_context, parsed endpoint, resolved addresses, idle connections
  class Exchange;  // one HTTP attempt (asio_imds.cc)

  // One attempt at `path`, with `header` (the token or the TTL) and the headers every IMDS
  // request needs; its timeout is clamped to the deadline.
  std::unique_ptr<Exchange> make_exchange(const std::string& path, bool put,
                                          const std::string& header);
  // One round trip: runs every exchange concurrently until all have finished.
  void run_round(const std::vector<Exchange*>& exchanges);
  // Makes sure token_ holds a usable token, fetching one (with retries) if needed.
  Status ensure_token();
  std::chrono::milliseconds backoff_for(int attempt);  // attempt >= 1
  std::chrono::steady_clock::time_point deadline();    // starts the budget on first use
  bool retries_not_found(const std::string& path) const;
  using Answers = std::vector<std::optional<Result<std::string>>>;
  // One round trip for `pending` (answers into `out`), then the wait before the next; returns the
  // jobs to ask again (empty when all are answered, or when the call must stop: they are then
  // answered with the reason).
  std::vector<imds_detail::Job> get_round(std::vector<imds_detail::Job>& pending, bool& token_refreshed,
                                          Answers& out);
  // Sleeps the backoff before a retry round; false (with `next` answered) when it would pass the
  // deadline or the run is cancelled.
  bool wait_for_retry(const std::vector<imds_detail::Job>& next, int backoff_attempt, Answers& out);

  Options options_;
  Clock& clock_;
  const CancelToken* cancel_;
  std::unique_ptr<Net> net_;
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
// An IPv6 host must be bracketed ("[fd00:ec2::254]:80"). Pure: the caller passes getenv() results
// (or nullptr).
std::string resolve_imds_endpoint(const std::optional<std::string>& flag,
                                  const char* aws_ec2_metadata_service_endpoint_env,
                                  const char* imds_endpoint_env);

}  // namespace agent::platform
