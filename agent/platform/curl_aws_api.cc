#include "agent/platform/curl_aws_api.h"

#include <algorithm>

#include <fmt/format.h>

namespace agent::platform {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

constexpr size_t kMaxAnswerBytes = 16u << 20;

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

Result<CurlAnswer> CurlAwsApi::perform(const aws::HttpRequest& r, const aws::Credentials& creds,
                                       const std::string& region, steady_clock::time_point deadline) {
  const auto left = std::chrono::duration_cast<milliseconds>(deadline - clock_.now());
  CurlRequest request{.method = r.method,
                      .url = r.url,
                      .headers = r.headers,
                      .body = r.body,
                      .sigv4 = fmt::format("aws:amz:{}:{}", region, aws::signing_name(r.service)),
                      .credentials = &creds,
                      .proxy = aws::proxy_for(r.url, options_.env),
                      .user_agent = options_.user_agent,
                      .timeout = std::min(options_.request_timeout, left),
                      .connect_timeout = options_.connect_timeout,
                      .max_body = kMaxAnswerBytes,
                      .cancel = cancel_,
                      .what = fmt::format("{} at {}", r.operation, r.url)};
  ++stats_.requests;
  auto answer = curl_exchange(session_, request);
  // An answer over the cap stays a retryable failure for the API calls (the exchange calls it
  // Unsupported, which would end the call at once).
  if (!answer && answer.error().code == Errc::Unsupported) return Error{Errc::Unavailable, answer.error().message};
  return answer;
}

void CurlAwsApi::set_environment(aws::AwsEnv env) {
  credentials_.set_environment(env);
  options_.env = std::move(env);
}

Result<std::string> CurlAwsApi::call(const AwsWhere& where, aws::Service service, const Builder& build) {
  ++stats_.calls;
  const std::string region = aws::effective_region(options_.env, where.region);
  const std::string domain = aws::partition_domain(region, where.region, where.domain);
  AGENT_TRY(std::string endpoint, aws::service_endpoint(service, region, domain, options_.env));
  AGENT_TRY(aws::HttpRequest request, build(endpoint));
  // Credentials before libcurl: a node without any never maps the library.
  if (auto creds = credentials_.get(); !creds) {
    return creds.error().wrap("credentials for {}", request.iam_action);
  }
  if (auto loaded = session_.open(options_.curl_soname); !loaded) {
    // For the operator this is an AWS API failure: the call cannot be made.
    return make_error(Errc::AwsApi, "{} cannot be called: {}", request.iam_action, loaded.error().message);
  }

  const AwsCall spec{.operation = request.operation,
                     .subject = request.subject,
                     .endpoint = endpoint,
                     .deadline = where.deadline,
                     .retry = options_.retry,
                     .retry_limit = !options_.retry_limit_text.empty()
                                        ? options_.retry_limit_text
                                        : fmt::format("--aws-api-retry-attempts allows {} retries",
                                                      options_.retry.max_attempts - 1)};
  AwsCallHooks hooks;
  hooks.credentials = [&](bool force) -> Result<MaybeCredentials> {
    auto creds = credentials_.get(force);
    if (!creds) {
      return force ? creds.error().wrap("refreshing credentials for {}", request.iam_action)
                   : creds.error().wrap("credentials for {}", request.iam_action);
    }
    return MaybeCredentials(std::move(creds).value());
  };
  hooks.attempt = [&](const MaybeCredentials& creds) {
    return perform(request, *creds, region, where.deadline);
  };
  hooks.judge = [&](const CurlAnswer& a, const MaybeCredentials& creds) {
    const aws::ApiError err = aws::parse_api_error(service, a.status, a.header("x-amzn-errortype"), a.body);
    AnswerVerdict v{.outcome = aws::classify(err),
                    .cause = err.code.empty() ? fmt::format("HTTP {}", err.http_status)
                                              : fmt::format("HTTP {} {}", err.http_status, err.code),
                    .credentials_expired = aws::credentials_expired(err)};
    if (v.outcome == AttemptOutcome::Permanent) {
      v.error = aws::final_error(request, err, region, creds ? creds->source : "");
    }
    if (v.outcome == AttemptOutcome::Throttled) ++stats_.throttled;
    return v;
  };
  hooks.on_retry = options_.on_retry;
  AGENT_TRY(CurlAnswer answer, call_with_retries(spec, hooks, clock_, jitter_, cancel_));
  return std::move(answer.body);
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

Result<std::vector<AddonVersionInfo>> CurlAwsApi::describe_addon_versions(const AwsWhere& where,
                                                                          const std::string& addon,
                                                                          const std::string& kubernetes_minor) {
  std::vector<AddonVersionInfo> versions;
  std::string token;
  for (int page_no = 1;; ++page_no) {
    if (page_no > kMaxAddonPages) {
      return make_error(Errc::AwsApi, "DescribeAddonVersions {} {}: still more pages after {}", addon,
                        kubernetes_minor, kMaxAddonPages);
    }
    AGENT_TRY(std::string body, call(where, aws::Service::Eks, [&](const std::string& endpoint) {
                return aws::describe_addon_versions_request(endpoint, addon, kubernetes_minor, token);
              }));
    auto page = aws::parse_describe_addon_versions(body);
    if (!page) {
      return make_error(Errc::AwsApi, "DescribeAddonVersions {} {}: {}", addon, kubernetes_minor,
                        page.error().message);
    }
    versions.insert(versions.end(), std::make_move_iterator(page->versions.begin()),
                    std::make_move_iterator(page->versions.end()));
    if (page->next_token.empty()) return versions;
    if (page->next_token == token) {
      return make_error(Errc::AwsApi, "DescribeAddonVersions {} {}: page {} repeats the previous nextToken",
                        addon, kubernetes_minor, page_no);
    }
    token = std::move(page->next_token);
  }
}

Result<EcrAuthorization> CurlAwsApi::ecr_authorization(const AwsWhere& where) {
  AGENT_TRY(std::string body, call(where, aws::Service::Ecr, [&](const std::string& endpoint) {
              return aws::ecr_authorization_request(endpoint);
            }));
  // The body holds the password: only the parser sees it, and its errors never quote it.
  auto auth = aws::parse_ecr_authorization(body);
  if (!auth) return make_error(Errc::AwsApi, "GetAuthorizationToken: {}", auth.error().message);
  return auth;
}

Result<std::vector<std::string>> CurlAwsApi::describe_regions(const AwsWhere& where) {
  AGENT_TRY(std::string body, call(where, aws::Service::Ec2, [&](const std::string& endpoint) {
              return aws::describe_regions_request(endpoint);
            }));
  auto regions = aws::parse_describe_regions(body);
  if (!regions) return make_error(Errc::AwsApi, "DescribeRegions: {}", regions.error().message);
  return regions;
}

}  // namespace agent::platform
