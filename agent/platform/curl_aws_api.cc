#include "agent/platform/curl_aws_api.h"

#include <algorithm>
#include <cctype>

#include <fmt/format.h>

namespace agent::platform {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t kMaxAnswerBytes = 16u << 20;

struct Transfer {
  std::string body;
  std::string error_type;
  bool too_big = false;
  const CancelToken* cancel = nullptr;
};

size_t on_body(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  const size_t bytes = size * n;
  if (t->body.size() + bytes > kMaxAnswerBytes) {
    t->too_big = true;
    return 0;  // aborts the transfer (CURLE_WRITE_ERROR)
  }
  t->body.append(data, bytes);
  return bytes;
}

size_t on_header(char* data, size_t size, size_t n, void* user) {
  auto* t = static_cast<Transfer*>(user);
  std::string_view line(data, size * n);
  constexpr std::string_view kName = "x-amzn-errortype:";
  if (line.size() > kName.size()) {
    std::string head(line.substr(0, kName.size()));
    std::transform(head.begin(), head.end(), head.begin(),
                   [](unsigned char c) { return std::tolower(c); });
    if (head == kName) {
      std::string_view v = line.substr(kName.size());
      while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
      while (!v.empty() && (v.back() == '\r' || v.back() == '\n' || v.back() == ' ')) v.remove_suffix(1);
      t->error_type = std::string(v);
    }
  }
  return size * n;
}

int on_progress(void* user, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  auto* t = static_cast<Transfer*>(user);
  return is_cancelled(t->cancel) ? 1 : 0;
}

bool is_success(int status) { return status >= 200 && status < 300; }

std::string seconds_text(steady_clock::duration d) {
  return fmt::format("{:.1f} s", std::chrono::duration<double>(d).count());
}

}  // namespace

CurlAwsApi::CurlAwsApi(Options options, Imds& imds, Clock& clock, WallClock wall,
                       const CancelToken* cancel)
    : options_(std::move(options)),
      clock_(clock),
      cancel_(cancel),
      credentials_(options_.env, imds, clock, std::move(wall)),
      jitter_(options_.jitter_seed.value_or(
          static_cast<std::uint64_t>(clock.now().time_since_epoch().count()))) {}

CurlAwsApi::~CurlAwsApi() = default;

AwsApiStats CurlAwsApi::stats() const {
  AwsApiStats s = stats_;
  s.credential_fetches = credentials_.fetches();
  return s;
}

Status CurlAwsApi::ensure_curl() {
  if (lib_) return {};
  AGENT_TRY(lib_, CurlLibrary::load(options_.curl_soname));
  easy_ = CurlEasy(lib_->easy_init(), CurlEasyDeleter{lib_.get()});
  if (!easy_) return make_error(Errc::Unavailable, "curl_easy_init failed");
  return {};
}

Result<CurlAwsApi::Answer> CurlAwsApi::perform(const aws::HttpRequest& r, const aws::Credentials& creds,
                                               const std::string& region,
                                               steady_clock::time_point deadline) {
  const CurlLibrary& c = *lib_;
  CURL* h = easy_.get();
  c.easy_reset(h);

  CurlSlist headers(nullptr, CurlSlistDeleter{&c});
  auto add_header = [&](const std::string& line) -> bool {
    curl_slist* next = c.slist_append(headers.get(), line.c_str());
    if (next == nullptr) return false;
    (void)headers.release();
    headers.reset(next);
    return true;
  };
  for (const auto& line : r.headers) {
    if (!add_header(line)) return make_error(Errc::Internal, "out of memory building headers");
  }
  if (!creds.session_token.empty() && !add_header("X-Amz-Security-Token: " + creds.session_token)) {
    return make_error(Errc::Internal, "out of memory building headers");
  }
  // No "Expect:" suppression header: libcurl 7.88 would sign that empty header although it is never
  // sent. Its automatic "Expect: 100-continue" only applies to bodies over 1 MiB, which these are not.

  const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_.now());
  const long timeout_ms = std::max<long>(1, std::min(options_.request_timeout, left).count());
  const long connect_ms = std::max<long>(1, std::min<long>(options_.connect_timeout.count(), timeout_ms));
  const std::string sigv4 = fmt::format("aws:amz:{}:{}", region, aws::signing_name(r.service));
  const std::string proxy = aws::proxy_for(r.url, options_.env);

  Transfer t;
  t.cancel = cancel_;
  bool ok = true;
  auto set = [&](CURLoption o, auto v) { ok = ok && c.easy_setopt(h, o, v) == CURLE_OK; };
  set(CURLOPT_URL, r.url.c_str());
  set(CURLOPT_HTTPHEADER, headers.get());
  if (r.method == "POST") {
    set(CURLOPT_POST, 1L);
    set(CURLOPT_POSTFIELDS, r.body.c_str());
    set(CURLOPT_POSTFIELDSIZE, static_cast<long>(r.body.size()));
  } else {
    set(CURLOPT_HTTPGET, 1L);
  }
  set(CURLOPT_AWS_SIGV4, sigv4.c_str());
  set(CURLOPT_USERNAME, creds.access_key_id.c_str());
  set(CURLOPT_PASSWORD, creds.secret_access_key.c_str());
  // Our decision, not libcurl's environment lookup: "" means no proxy.
  set(CURLOPT_PROXY, proxy.c_str());
  set(CURLOPT_NOPROXY, "");
  set(CURLOPT_TIMEOUT_MS, timeout_ms);
  set(CURLOPT_CONNECTTIMEOUT_MS, connect_ms);
  set(CURLOPT_NOSIGNAL, 1L);
  set(CURLOPT_FOLLOWLOCATION, 0L);
  set(CURLOPT_USERAGENT, options_.user_agent.c_str());
  set(CURLOPT_WRITEFUNCTION, &on_body);
  set(CURLOPT_WRITEDATA, static_cast<void*>(&t));
  set(CURLOPT_HEADERFUNCTION, &on_header);
  set(CURLOPT_HEADERDATA, static_cast<void*>(&t));
  set(CURLOPT_XFERINFOFUNCTION, &on_progress);
  set(CURLOPT_XFERINFODATA, static_cast<void*>(&t));
  set(CURLOPT_NOPROGRESS, 0L);
  if (!ok) return make_error(Errc::Invalid, "libcurl {} refused an option for {}", c.version(), r.url);

  ++stats_.requests;
  const CURLcode rc = c.easy_perform(h);
  if (rc == CURLE_ABORTED_BY_CALLBACK && is_cancelled(cancel_)) {
    return cancel_->interrupted(fmt::format("during {} at {}", r.operation, r.url));
  }
  if (t.too_big) {
    return make_error(Errc::Unavailable, "the answer is over {} bytes", kMaxAnswerBytes);
  }
  if (rc == CURLE_OPERATION_TIMEDOUT) {
    return make_error(Errc::Timeout, "no answer within {} ms", timeout_ms);
  }
  if (rc != CURLE_OK) {
    const std::string via = proxy.empty() ? "" : fmt::format(" via proxy {}", aws::url_host(proxy));
    return make_error(Errc::Unavailable, "{}{}", c.easy_strerror(rc), via);
  }
  long status = 0;
  c.easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
  return Answer{static_cast<int>(status), std::move(t.body), std::move(t.error_type)};
}

Result<std::string> CurlAwsApi::call(const AwsWhere& where, aws::Service service, const Builder& build) {
  ++stats_.calls;
  const auto started = clock_.now();
  const std::string region = aws::effective_region(options_.env, where.region);
  const std::string domain = aws::partition_domain(region, where.region, where.domain);
  AGENT_TRY(std::string endpoint, aws::service_endpoint(service, region, domain, options_.env));
  AGENT_TRY(aws::HttpRequest request, build(endpoint));
  // Credentials before libcurl: a node without any never maps the library.
  if (auto creds = credentials_.get(); !creds) {
    return creds.error().wrap("credentials for {}", request.iam_action);
  }
  if (auto loaded = ensure_curl(); !loaded) {
    // For the operator this is an AWS API failure: the call cannot be made.
    return make_error(Errc::AwsApi, "{} cannot be called: {}", request.iam_action, loaded.error().message);
  }

  RetryState state;
  bool refreshed = false;
  std::string last_cause;
  for (;;) {
    if (is_cancelled(cancel_)) return cancel_->interrupted(fmt::format("before {}", request.operation));
    if (clock_.now() >= where.deadline) {
      return make_error(Errc::AwsApi, "{} for {} at {}: the deadline passed after {} attempt(s) in {}{}",
                        request.operation, request.subject, endpoint, state.attempts,
                        seconds_text(clock_.now() - started),
                        last_cause.empty() ? "" : "; last: " + last_cause);
    }
    auto creds = credentials_.get();
    if (!creds) return creds.error().wrap("credentials for {}", request.iam_action);

    AttemptOutcome outcome = AttemptOutcome::Failure;
    auto answer = perform(request, *creds, region, where.deadline);
    if (!answer) {
      if (answer.error().code == Errc::Interrupted || answer.error().code == Errc::Invalid ||
          answer.error().code == Errc::Internal) {
        return answer.error();
      }
      last_cause = answer.error().message;
    } else if (is_success(answer->status)) {
      return std::move(answer->body);
    } else {
      aws::ApiError err = aws::parse_api_error(service, answer->status, answer->error_type, answer->body);
      if (aws::credentials_expired(err) && !refreshed) {
        // The cached instance-profile credentials expired under us: fetch fresh ones once and
        // try again at once; this is not the service failing.
        refreshed = true;
        auto fresh = credentials_.get(/*force=*/true);
        if (!fresh) return fresh.error().wrap("refreshing credentials for {}", request.iam_action);
        last_cause = fmt::format("HTTP {} {}", err.http_status, err.code);
        continue;
      }
      outcome = aws::classify(err);
      if (outcome == AttemptOutcome::Permanent) {
        return aws::final_error(request, err, region, creds->source);
      }
      if (outcome == AttemptOutcome::Throttled) ++stats_.throttled;
      last_cause = err.code.empty() ? fmt::format("HTTP {}", err.http_status)
                                    : fmt::format("HTTP {} {}", err.http_status, err.code);
    }

    auto delay = next_retry(options_.retry, state, outcome, jitter_.next());
    if (!delay) {
      return make_error(Errc::AwsApi, "{} for {} at {} failed {} time(s) in {} (--aws-api-retry-attempts "
                        "allows {} retries): {}",
                        request.operation, request.subject, endpoint, state.failures,
                        seconds_text(clock_.now() - started), options_.retry.max_attempts - 1, last_cause);
    }
    const auto wake = clock_.now() + *delay;
    if (wake >= where.deadline) {
      return make_error(Errc::AwsApi, "{} for {} at {}: gave up after {} attempt(s) in {} ({} throttled), "
                        "the next retry would pass the deadline; last: {}",
                        request.operation, request.subject, endpoint, state.attempts,
                        seconds_text(clock_.now() - started), state.throttled, last_cause);
    }
    if (options_.on_retry) options_.on_retry(request.operation, state.attempts, *delay, last_cause);
    if (!sleep_until(clock_, cancel_, wake)) {
      return cancel_->interrupted(fmt::format("while retrying {}", request.operation));
    }
  }
}

Result<ClusterInfo> CurlAwsApi::describe_cluster(const AwsWhere& where, const std::string& name) {
  AGENT_TRY(std::string body, call(where, aws::Service::Eks, [&](const std::string& endpoint) {
              return aws::describe_cluster_request(endpoint, name);
            }));
  auto info = aws::parse_describe_cluster(body);
  if (!info) return make_error(Errc::AwsApi, "DescribeCluster {}: {}", name, info.error().message);
  return info;
}

Result<InstanceTypesPage> CurlAwsApi::describe_instance_types(const AwsWhere& where,
                                                              const std::vector<std::string>& types,
                                                              const std::string& next_token,
                                                              int max_results) {
  AGENT_TRY(std::string body, call(where, aws::Service::Ec2, [&](const std::string& endpoint) {
              return aws::describe_instance_types_request(endpoint, types, next_token, max_results);
            }));
  auto page = aws::parse_describe_instance_types(body);
  if (!page) return make_error(Errc::AwsApi, "DescribeInstanceTypes: {}", page.error().message);
  return page;
}

Result<InstanceDescription> CurlAwsApi::describe_instance(const AwsWhere& where,
                                                          const std::string& instance_id) {
  AGENT_TRY(std::string body, call(where, aws::Service::Ec2, [&](const std::string& endpoint) {
              return aws::describe_instances_request(endpoint, instance_id);
            }));
  auto d = aws::parse_describe_instances(body, instance_id);
  if (!d) return make_error(Errc::AwsApi, "DescribeInstances {}: {}", instance_id, d.error().message);
  return d;
}

}  // namespace agent::platform
