#include "agent/platform/curl_imds.h"

#include <curl/curl.h>

#include <algorithm>
#include <utility>

namespace agent::platform {
namespace {

using std::chrono::milliseconds;
using TimePoint = std::chrono::steady_clock::time_point;

constexpr const char* kTokenPath = "latest/api/token";
constexpr std::size_t kMaxBody = std::size_t{1} << 20;  // user data is capped at 16 KiB by EC2
constexpr std::size_t kMaxToken = 4096;
constexpr const char* kHint =
    "is the instance metadata service enabled with HttpTokens (IMDSv2) and reachable from this "
    "network namespace (HttpPutResponseHopLimit)?";

struct EasyDeleter {
  void operator()(CURL* e) const { curl_easy_cleanup(e); }
};
struct MultiDeleter {
  void operator()(CURLM* m) const { curl_multi_cleanup(m); }
};
struct SlistDeleter {
  void operator()(curl_slist* s) const { curl_slist_free_all(s); }
};
using EasyPtr = std::unique_ptr<CURL, EasyDeleter>;
using SlistPtr = std::unique_ptr<curl_slist, SlistDeleter>;

// What one attempt means for the caller.
enum class Outcome { Ok, NotFound, Denied, Unauthorized, Retry, Final };

// Strips one leading '/', like the bootstrap.sh helper, and refuses anything that is not a plain
// IMDS path (IMDS paths are ASCII letters, digits and -._:/ — MACs contain ':').
Result<std::string> normalize_path(const std::string& path) {
  std::string p = (!path.empty() && path.front() == '/') ? path.substr(1) : path;
  if (p.empty()) return make_error(Errc::Invalid, "IMDS path is empty");
  for (char c : p) {
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
              c == '-' || c == '.' || c == '_' || c == '/' || c == ':' || c == '~';
    if (!ok) return make_error(Errc::Invalid, "IMDS path \"{}\" has a character not allowed in a path", p);
  }
  return p;
}

// A header value must not smuggle a second header.
bool plausible_token(const std::string& t) {
  if (t.empty() || t.size() > kMaxToken) return false;
  return std::none_of(t.begin(), t.end(), [](char c) { return c < 0x21 || c > 0x7e; });
}

std::string with_scheme(std::string v) {
  while (!v.empty() && v.back() == '/') v.pop_back();
  if (v.find("://") == std::string::npos) v = "http://" + v;
  return v;
}

}  // namespace

struct CurlImds::Multi {
  std::unique_ptr<CURLM, MultiDeleter> handle{curl_multi_init()};
};

struct CurlImds::Transfer {
  std::string path;
  EasyPtr easy;
  SlistPtr headers;
  // Filled by run_round. CURLE_FAILED_INIT until curl reports the transfer done.
  CURLcode code = CURLE_FAILED_INIT;
  long http_status = 0;
  bool connected = false;  // a TCP connection to IMDS existed for this attempt
  bool too_large = false;
  std::string body;
  char errbuf[CURL_ERROR_SIZE] = {};

  static size_t on_data(char* data, size_t size, size_t n, void* self) {
    auto* t = static_cast<Transfer*>(self);
    size_t len = size * n;
    if (t->body.size() + len > kMaxBody) {
      t->too_large = true;
      return 0;  // aborts the transfer with CURLE_WRITE_ERROR
    }
    t->body.append(data, len);
    return len;
  }

  Outcome outcome() const {
    if (code == CURLE_OK) {
      if (http_status >= 200 && http_status < 300) return Outcome::Ok;
      if (http_status == 404) return Outcome::NotFound;
      if (http_status == 401) return Outcome::Unauthorized;
      if (http_status == 403) return Outcome::Denied;
      if (http_status == 429 || http_status >= 500) return Outcome::Retry;
      return Outcome::Final;
    }
    switch (code) {
      case CURLE_COULDNT_CONNECT:
      case CURLE_COULDNT_RESOLVE_HOST:
      case CURLE_OPERATION_TIMEDOUT:
      case CURLE_RECV_ERROR:
      case CURLE_SEND_ERROR:
      case CURLE_GOT_NOTHING:
      case CURLE_PARTIAL_FILE:
        return Outcome::Retry;
      default:
        return Outcome::Final;
    }
  }

  // "HTTP 503" or "Couldn't connect to server: Failed to connect to ... port 1". curl's error text
  // holds the URL's host and port at most, never request headers, so no token can leak here.
  std::string failure() const {
    if (code == CURLE_OK) return fmt::format("HTTP {}", http_status);
    if (too_large) return fmt::format("response larger than {} bytes", kMaxBody);
    if (errbuf[0] != '\0') return fmt::format("{}: {}", curl_easy_strerror(code), errbuf);
    return curl_easy_strerror(code);
  }

  // The code for an Outcome::Final failure.
  Errc final_errc() const {
    if (code == CURLE_OK) return http_status == 400 ? Errc::Invalid : Errc::Unavailable;
    if (too_large || code == CURLE_URL_MALFORMAT || code == CURLE_UNSUPPORTED_PROTOCOL) return Errc::Invalid;
    if (code == CURLE_FAILED_INIT || code == CURLE_OUT_OF_MEMORY) return Errc::Internal;
    return Errc::Unavailable;
  }
};

namespace {

// Retry bookkeeping for one path across rounds.
struct Job {
  size_t index = 0;
  std::string path;
  int attempts = 0;
  bool ever_connected = false;
  bool last_timed_out = false;
  std::string last_failure;
};

}  // namespace

CurlImds::CurlImds(Options options, Clock& clock)
    : options_(std::move(options)), clock_(clock), multi_(std::make_unique<Multi>()) {
  while (!options_.endpoint.empty() && options_.endpoint.back() == '/') options_.endpoint.pop_back();
  options_.max_attempts = std::max(1, options_.max_attempts);
  auto seed = options_.jitter_seed.value_or(
      static_cast<std::uint32_t>(clock_.now().time_since_epoch().count()));
  jitter_.seed(seed);
}

CurlImds::~CurlImds() = default;

std::chrono::steady_clock::time_point CurlImds::deadline() {
  if (!deadline_) deadline_ = clock_.now() + options_.overall;
  return *deadline_;
}

milliseconds CurlImds::backoff_for(int attempt) {
  // Full jitter (uniform in [0, min(cap, base * 2^(attempt-1))]) spreads out many nodes retrying
  // against a recovering IMDS; the shift is bounded so the product cannot overflow.
  int shift = std::clamp(attempt - 1, 0, 20);
  long long ceiling = std::min<long long>(options_.backoff_cap.count(),
                                          options_.backoff_base.count() * (1LL << shift));
  if (ceiling <= 0) return milliseconds{0};
  std::uniform_int_distribution<long long> pick(0, ceiling);
  return milliseconds{pick(jitter_)};
}

void CurlImds::run_round(std::vector<Transfer*>& transfers) {
  CURLM* multi = multi_->handle.get();
  ++stats_.round_trips;
  stats_.requests += static_cast<int>(transfers.size());
  if (multi == nullptr) return;  // every transfer stays CURLE_FAILED_INIT
  for (Transfer* t : transfers) curl_multi_add_handle(multi, t->easy.get());

  // Every transfer carries its own timeout (clamped to the deadline), so this loop ends.
  int running = 0;
  for (;;) {
    if (curl_multi_perform(multi, &running) != CURLM_OK || running == 0) break;
    if (curl_multi_poll(multi, nullptr, 0, 1000, nullptr) != CURLM_OK) break;
  }
  int left = 0;
  while (CURLMsg* msg = curl_multi_info_read(multi, &left)) {
    if (msg->msg != CURLMSG_DONE) continue;
    Transfer* t = nullptr;
    curl_easy_getinfo(msg->easy_handle, CURLINFO_PRIVATE, reinterpret_cast<char**>(&t));
    if (t != nullptr) t->code = msg->data.result;
  }
  for (Transfer* t : transfers) {
    CURL* e = t->easy.get();
    curl_easy_getinfo(e, CURLINFO_RESPONSE_CODE, &t->http_status);
    // Pretransfer time is set once a connection (new or reused) is ready to carry the request; it
    // stays 0 when the connect itself failed or timed out.
    curl_off_t connect_us = 0, pretransfer_us = 0;
    curl_easy_getinfo(e, CURLINFO_CONNECT_TIME_T, &connect_us);
    curl_easy_getinfo(e, CURLINFO_PRETRANSFER_TIME_T, &pretransfer_us);
    bool refused = t->code == CURLE_COULDNT_CONNECT || t->code == CURLE_COULDNT_RESOLVE_HOST;
    t->connected = t->http_status > 0 || (!refused && (connect_us > 0 || pretransfer_us > 0));
    curl_multi_remove_handle(multi, e);
  }
}

// Builds an attempt with everything that must hold for every IMDS request. The per-attempt
// timeout is clamped to what is left of the deadline.
Result<std::unique_ptr<CurlImds::Transfer>> CurlImds::make_transfer(const std::string& path, bool put,
                                                                    const std::string& header) {
  milliseconds left = std::chrono::ceil<milliseconds>(deadline() - clock_.now());
  milliseconds timeout = std::max(milliseconds{1}, std::min(options_.request_timeout, left));
  milliseconds connect = std::max(milliseconds{1}, std::min(options_.connect_timeout, timeout));

  auto t = std::make_unique<Transfer>();
  t->path = path;
  t->easy.reset(curl_easy_init());
  if (!t->easy) return make_error(Errc::Internal, "curl_easy_init failed");
  curl_slist* list = curl_slist_append(nullptr, header.c_str());
  if (list == nullptr) return make_error(Errc::Internal, "curl_slist_append failed");
  t->headers.reset(list);

  CURL* e = t->easy.get();
  std::string url = options_.endpoint + "/" + path;
  CURLcode rc = CURLE_OK;
  auto set = [&rc](CURLcode c) {
    if (rc == CURLE_OK) rc = c;
  };
  set(curl_easy_setopt(e, CURLOPT_URL, url.c_str()));
  // IMDS is link-local: a proxy would either fail or, worse, answer for another host. An explicit
  // empty proxy plus "*" for no_proxy overrides http_proxy/HTTPS_PROXY/ALL_PROXY from the
  // environment (nodeadm bypasses 169.254.169.254 and [fd00:ec2::254] for the same reason).
  set(curl_easy_setopt(e, CURLOPT_PROXY, ""));
  set(curl_easy_setopt(e, CURLOPT_NOPROXY, "*"));
#if LIBCURL_VERSION_NUM >= 0x075500
  set(curl_easy_setopt(e, CURLOPT_PROTOCOLS_STR, "http,https"));
#else
  set(curl_easy_setopt(e, CURLOPT_PROTOCOLS, static_cast<long>(CURLPROTO_HTTP | CURLPROTO_HTTPS)));
#endif
  set(curl_easy_setopt(e, CURLOPT_FOLLOWLOCATION, 0L));
  set(curl_easy_setopt(e, CURLOPT_NOSIGNAL, 1L));
  set(curl_easy_setopt(e, CURLOPT_USERAGENT, "eks-node-agent"));
  set(curl_easy_setopt(e, CURLOPT_HTTPHEADER, t->headers.get()));
  set(curl_easy_setopt(e, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count())));
  set(curl_easy_setopt(e, CURLOPT_CONNECTTIMEOUT_MS, static_cast<long>(connect.count())));
  set(curl_easy_setopt(e, CURLOPT_WRITEFUNCTION, &Transfer::on_data));
  set(curl_easy_setopt(e, CURLOPT_WRITEDATA, t.get()));
  set(curl_easy_setopt(e, CURLOPT_ERRORBUFFER, t->errbuf));
  set(curl_easy_setopt(e, CURLOPT_PRIVATE, t.get()));
  if (put) set(curl_easy_setopt(e, CURLOPT_CUSTOMREQUEST, "PUT"));
  if (rc != CURLE_OK) {
    return make_error(Errc::Internal, "configuring the IMDS request for {}: {}", path, curl_easy_strerror(rc));
  }
  return t;
}

namespace {

// Why a job stopped retrying. `deadline_hit` is true when the budget ran out before another try.
Error give_up(const Job& j, const char* verb, const std::string& endpoint, milliseconds overall,
              bool deadline_hit) {
  if (j.attempts > 0 && !j.ever_connected) {
    return make_error(Errc::Unavailable, "IMDS {} {} at {}: could not connect after {} attempt(s) ({}); {}",
                      verb, j.path, endpoint, j.attempts, j.last_failure, kHint);
  }
  if (deadline_hit || j.last_timed_out) {
    return make_error(Errc::Timeout,
                      "IMDS {} {} at {}: no answer within the {} ms IMDS deadline after {} attempt(s){}; {}",
                      verb, j.path, endpoint, overall.count(), j.attempts,
                      j.last_failure.empty() ? "" : " (last: " + j.last_failure + ")", kHint);
  }
  return make_error(Errc::Unavailable, "IMDS {} {} at {}: still failing after {} attempt(s) (last: {}); {}",
                    verb, j.path, endpoint, j.attempts, j.last_failure, kHint);
}

}  // namespace

Status CurlImds::ensure_token() {
  if (!token_.empty() && clock_.now() < token_refresh_at_) return {};
  token_.clear();
  const std::string& ep = options_.endpoint;
  Job job{0, kTokenPath};
  for (;;) {
    TimePoint start = clock_.now();
    if (start >= deadline()) return give_up(job, "PUT", ep, options_.overall, true);
    AGENT_TRY(auto t, make_transfer(kTokenPath, /*put=*/true,
                                    fmt::format("X-aws-ec2-metadata-token-ttl-seconds: {}",
                                                options_.token_ttl_seconds)));
    std::vector<Transfer*> round{t.get()};
    run_round(round);
    ++job.attempts;
    job.ever_connected = job.ever_connected || t->connected;
    switch (t->outcome()) {
      case Outcome::Ok:
        if (!plausible_token(t->body)) {
          return make_error(Errc::Parse, "IMDS PUT {} at {}: the answer is not a usable token ({} bytes)",
                            kTokenPath, ep, t->body.size());
        }
        token_ = std::move(t->body);
        // Refresh a little before IMDS would expire it, so a long retry loop never sends a token
        // that dies in flight.
        token_refresh_at_ = start + milliseconds{options_.token_ttl_seconds * 900LL};
        ++stats_.token_fetches;
        return {};
      case Outcome::NotFound:
        return make_error(Errc::Unsupported,
                          "IMDS PUT {} at {}: HTTP 404, the endpoint does not issue IMDSv2 tokens", kTokenPath, ep);
      case Outcome::Denied:
      case Outcome::Unauthorized:
        return make_error(Errc::Denied, "IMDS PUT {} at {}: HTTP {}, token request refused; {}", kTokenPath, ep,
                          t->http_status, kHint);
      case Outcome::Retry: {
        job.last_failure = t->failure();
        job.last_timed_out = t->code == CURLE_OPERATION_TIMEDOUT;
        if (job.attempts >= options_.max_attempts) return give_up(job, "PUT", ep, options_.overall, false);
        TimePoint wake = clock_.now() + backoff_for(job.attempts);
        if (wake >= deadline()) return give_up(job, "PUT", ep, options_.overall, true);
        clock_.sleep_until(wake);
        break;
      }
      case Outcome::Final:
        if (t->code == CURLE_OK && t->http_status == 405) {
          return make_error(Errc::Unsupported,
                            "IMDS PUT {} at {}: HTTP 405, the endpoint does not issue IMDSv2 tokens", kTokenPath, ep);
        }
        if (t->code == CURLE_OK && t->http_status == 400) {
          return make_error(Errc::Invalid,
                            "IMDS PUT {} at {}: HTTP 400, token request rejected; is the token TTL ({} s) "
                            "within 1..21600?",
                            kTokenPath, ep, options_.token_ttl_seconds);
        }
        return make_error(t->final_errc(), "IMDS PUT {} at {}: {}", kTokenPath, ep, t->failure());
    }
  }
}

Result<std::string> CurlImds::get(const std::string& path) {
  auto results = get_many({path});
  return std::move(results.front());
}

std::vector<Result<std::string>> CurlImds::get_many(const std::vector<std::string>& paths) {
  const std::string& ep = options_.endpoint;
  std::vector<std::optional<Result<std::string>>> out(paths.size());
  std::vector<Job> pending;
  for (size_t i = 0; i < paths.size(); ++i) {
    auto p = normalize_path(paths[i]);
    if (p.has_value()) {
      pending.push_back(Job{i, std::move(p).value()});
    } else {
      out[i].emplace(p.error());
    }
  }

  bool token_refreshed = false;  // a 401 refreshes the token once per call
  while (!pending.empty()) {
    if (Status s = ensure_token(); !s.has_value()) {
      for (const Job& j : pending) out[j.index].emplace(s.error().wrap("IMDS GET {}", j.path));
      break;
    }
    TimePoint start = clock_.now();
    if (start >= deadline()) {
      for (const Job& j : pending) out[j.index].emplace(give_up(j, "GET", ep, options_.overall, true));
      break;
    }
    std::string header = "X-aws-ec2-metadata-token: " + token_;

    std::vector<std::unique_ptr<Transfer>> transfers;
    std::vector<Transfer*> round;
    std::vector<Job> started;
    for (Job& j : pending) {
      auto t = make_transfer(j.path, /*put=*/false, header);
      if (!t.has_value()) {
        out[j.index].emplace(t.error());
        continue;
      }
      transfers.push_back(std::move(t).value());
      round.push_back(transfers.back().get());
      started.push_back(std::move(j));
    }
    if (round.empty()) break;
    run_round(round);

    std::vector<Job> next;
    int backoff_attempt = 0;
    bool drop_token = false;
    for (size_t k = 0; k < started.size(); ++k) {
      Job& j = started[k];
      Transfer& t = *transfers[k];
      ++j.attempts;
      j.ever_connected = j.ever_connected || t.connected;
      switch (t.outcome()) {
        case Outcome::Ok:
          out[j.index].emplace(std::move(t.body));
          break;
        case Outcome::NotFound:
          out[j.index].emplace(make_error(Errc::NotFound, "IMDS GET {} at {}: HTTP 404, not found", j.path, ep));
          break;
        case Outcome::Denied:
          out[j.index].emplace(make_error(Errc::Denied, "IMDS GET {} at {}: HTTP 403, forbidden; {}", j.path, ep, kHint));
          break;
        case Outcome::Unauthorized:
          if (token_refreshed) {
            out[j.index].emplace(make_error(
                Errc::Denied, "IMDS GET {} at {}: HTTP 401 even with a freshly issued token; {}", j.path, ep, kHint));
          } else {
            drop_token = true;
            next.push_back(std::move(j));
          }
          break;
        case Outcome::Retry:
          j.last_failure = t.failure();
          j.last_timed_out = t.code == CURLE_OPERATION_TIMEDOUT;
          if (j.attempts >= options_.max_attempts) {
            out[j.index].emplace(give_up(j, "GET", ep, options_.overall, false));
          } else {
            backoff_attempt = std::max(backoff_attempt, j.attempts);
            next.push_back(std::move(j));
          }
          break;
        case Outcome::Final:
          out[j.index].emplace(make_error(t.final_errc(), "IMDS GET {} at {}: {}", j.path, ep, t.failure()));
          break;
      }
    }
    if (drop_token) {
      token_.clear();
      token_refreshed = true;
    }
    if (backoff_attempt > 0 && !next.empty()) {
      TimePoint wake = clock_.now() + backoff_for(backoff_attempt);
      if (wake >= deadline()) {
        for (const Job& j : next) out[j.index].emplace(give_up(j, "GET", ep, options_.overall, true));
        break;
      }
      clock_.sleep_until(wake);
    }
    pending = std::move(next);
  }

  std::vector<Result<std::string>> results;
  results.reserve(out.size());
  for (auto& r : out) {
    results.push_back(r.has_value() ? std::move(*r)
                                    : Result<std::string>(make_error(Errc::Internal, "IMDS GET: no result")));
  }
  return results;
}

std::string resolve_imds_endpoint(const std::optional<std::string>& flag,
                                  const char* aws_ec2_metadata_service_endpoint_env,
                                  const char* imds_endpoint_env) {
  if (flag && !flag->empty()) return with_scheme(*flag);
  if (aws_ec2_metadata_service_endpoint_env != nullptr && *aws_ec2_metadata_service_endpoint_env != '\0') {
    return with_scheme(aws_ec2_metadata_service_endpoint_env);
  }
  if (imds_endpoint_env != nullptr && *imds_endpoint_env != '\0') return with_scheme(imds_endpoint_env);
  return "http://169.254.169.254";
}

}  // namespace agent::platform
