#include "agent/platform/curl_s3.h"

#include <fmt/format.h>

#include <algorithm>

namespace agent::platform {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

// SHA-256 of the empty body: the x-amz-content-sha256 value of a GET, and the payload hash libcurl
// signs when it finds the header.
constexpr const char* kEmptyPayloadSha256 =
    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855";

Result<aws::S3Location> location_from(const CurlS3::Options& o) {
  AGENT_TRY(std::optional<std::string> endpoint,
            aws::s3_endpoint_override(o.env, o.endpoint_url_s3));
  aws::S3Location where{
      .bucket = o.bucket, .region = o.region, .domain = o.domain, .endpoint = std::move(endpoint),
      .fips = o.env.use_fips};
  AGENT_TRY_STATUS(aws::check_s3_location(where));
  return where;
}

}  // namespace

CurlS3::CurlS3(Options options, Imds& imds, Clock& clock, WallClock wall, const CancelToken* cancel)
    : options_(std::move(options)),
      clock_(clock),
      cancel_(cancel),
      provider_(options_.env, imds, clock, std::move(wall)),
      location_(location_from(options_)),
      jitter_(options_.jitter_seed.value_or(
          static_cast<std::uint64_t>(clock.now().time_since_epoch().count()))) {}

CurlS3::~CurlS3() = default;

std::string CurlS3::url_of(const std::string& key) const {
  return aws::s3_uri(options_.bucket, key);
}

CurlS3::Stats CurlS3::stats() const {
  Stats s = stats_;
  s.credential_fetches = provider_.fetches();
  s.anonymous = options_.anonymous || anonymous_reason_.has_value();
  return s;
}

Result<MaybeCredentials> CurlS3::credentials(bool force) {
  if (options_.anonymous || anonymous_reason_) return MaybeCredentials();
  auto creds = provider_.get(force);
  if (creds) {
    had_credentials_ = true;
    return MaybeCredentials(std::move(creds).value());
  }
  const Error& e = creds.error();
  // Half-set environment keys are a mistake to report, not a reason to go anonymous; neither is
  // losing credentials this object had (a failed refresh), nor a cancellation.
  if (force || had_credentials_ || e.code == Errc::Invalid || e.code == Errc::Interrupted) {
    return e.wrap("{} credentials for s3:GetObject", force ? "refreshing" : "getting");
  }
  anonymous_reason_ = e.message;
  if (options_.on_notice) {
    options_.on_notice(
        fmt::format("no AWS credentials for S3 ({}); fetching from s3://{} with anonymous "
                    "requests, which only a public bucket answers",
                    e.message, options_.bucket));
  }
  return MaybeCredentials();
}

Result<CurlAnswer> CurlS3::attempt(const std::string& key, const MaybeCredentials& creds,
                                   const FetchProgress& progress,
                                   const std::function<Status(std::string_view)>* sink) {
  const aws::S3Location& where = *location_;
  const std::string url = aws::s3_object_url(where, key);
  const auto deadline = options_.deadline.value_or(steady_clock::time_point::max());
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_.now());
  CurlRequest request{.method = "GET",
                      .url = url,
                      .proxy = aws::proxy_for(url, options_.env),
                      .user_agent = options_.user_agent,
                      .timeout = std::min(options_.attempt_timeout, left),
                      .connect_timeout = options_.connect_timeout,
                      .stall_timeout = options_.stall_timeout,
                      .max_body = options_.max_object_bytes,
                      .progress = &progress,
                      .sink = sink,
                      .cancel = cancel_,
                      .what = "GetObject " + aws::s3_uri(where.bucket, key)};
  if (creds) {
    request.sigv4 = fmt::format("aws:amz:{}:s3", where.region);
    request.credentials = &*creds;
    request.headers.push_back(fmt::format("x-amz-content-sha256: {}", kEmptyPayloadSha256));
  }
  ++stats_.requests;
  return curl_exchange(session_, request);
}

Result<std::string> CurlS3::get(const std::string& key, const FetchProgress& progress) {
  AGENT_TRY(CurlAnswer answer, fetch(key, progress, nullptr));
  stats_.bytes += answer.body.size();
  return std::move(answer.body);
}

Status CurlS3::get_to(const std::string& key, const Sink& sink, const FetchProgress& progress) {
  std::uint64_t bytes = 0;
  const std::function<Status(std::string_view)> counted = [&](std::string_view piece) {
    bytes += piece.size();
    return sink.write(piece);
  };
  const Sink wrapped{.write = counted, .restart = [&] {
                       bytes = 0;
                       return sink.restart();
                     }};
  AGENT_TRY(CurlAnswer answer, fetch(key, progress, &wrapped));
  (void)answer;
  stats_.bytes += bytes;
  return {};
}

Result<CurlAnswer> CurlS3::fetch(const std::string& key, const FetchProgress& progress, const Sink* sink) {
  ++stats_.gets;
  if (!location_) return location_.error();
  AGENT_TRY_STATUS(aws::check_s3_key(key));
  const aws::S3Location& where = *location_;
  const std::string uri = aws::s3_uri(where.bucket, key);
  if (auto loaded = session_.open(options_.curl_soname); !loaded) {
    return make_error(Errc::AwsApi, "s3:GetObject on {} cannot be called: {}", uri,
                      loaded.error().message);
  }

  const AwsCall spec{.operation = "GetObject",
                     .subject = uri,
                     .endpoint = aws::s3_bucket_url(where),
                     .deadline = options_.deadline.value_or(steady_clock::time_point::max()),
                     .retry = options_.retry,
                     .retry_limit = fmt::format("the retry policy allows {} retries",
                                                options_.retry.max_attempts - 1)};
  AwsCallHooks hooks;
  hooks.credentials = [this](bool force) { return credentials(force); };
  hooks.attempt = [&](const MaybeCredentials& creds) -> Result<CurlAnswer> {
    if (sink == nullptr) return attempt(key, creds, progress, nullptr);
    AGENT_TRY_STATUS(sink->restart());  // every attempt starts from byte 0
    return attempt(key, creds, progress, &sink->write);
  };
  hooks.judge = [&](const CurlAnswer& a, const MaybeCredentials& creds) {
    const aws::ApiError err = aws::parse_s3_error(a.status, a.body);
    AnswerVerdict v{.outcome = aws::classify(err),
                    .cause = err.code.empty()
                                 ? fmt::format("HTTP {}", err.http_status)
                                 : fmt::format("HTTP {} {}", err.http_status, err.code),
                    .credentials_expired = creds.has_value() && aws::credentials_expired(err)};
    if (v.outcome == AttemptOutcome::Permanent) {
      const aws::S3Requester who{
          .anonymous = !creds.has_value(),
          .credential_source = creds ? creds->source : "",
          .anonymous_reason = anonymous_reason_.value_or("anonymous requests were asked for")};
      v.error = aws::s3_final_error(err, where, key, who, a.header("x-amz-bucket-region"));
    }
    if (v.outcome == AttemptOutcome::Throttled) ++stats_.throttled;
    return v;
  };
  hooks.on_retry = options_.on_retry;
  auto answer = call_with_retries(spec, hooks, clock_, jitter_, cancel_);
  if (!answer) {
    if (answer.error().code == Errc::Unsupported) {
      // Over the cap: the port's contract has no such code; for the operator it is a failed fetch.
      return make_error(Errc::AwsApi, "GetObject {}: {} (the limit is {} MiB)", uri,
                        answer.error().message, options_.max_object_bytes >> 20);
    }
    return answer.error();
  }
  return answer;
}

}  // namespace agent::platform
