#include "agent/aws/s3.h"
#include "agent/model/text.h"

#include <fmt/format.h>

#include <algorithm>
#include <cctype>
#include <initializer_list>

namespace agent::aws {
namespace {

std::string cause_of(const ApiError& e) {
  std::string cause = e.code.empty() ? fmt::format("HTTP {}", e.http_status)
                                     : fmt::format("HTTP {} {}", e.http_status, e.code);
  if (!e.message.empty()) cause += ": " + e.message;
  return cause;
}

bool is_lower_alnum(char c) { return (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9'); }

}  // namespace

Result<std::optional<std::string>> s3_endpoint_override(
    const AwsEnv& env, const std::optional<std::string>& endpoint_url_s3) {
  if (env.ignore_configured_endpoint_urls || (!endpoint_url_s3 && !env.endpoint_url)) {
    return std::optional<std::string>();
  }
  const char* name = endpoint_url_s3 ? "AWS_ENDPOINT_URL_S3" : "AWS_ENDPOINT_URL";
  std::string url = endpoint_url_s3 ? *endpoint_url_s3 : *env.endpoint_url;
  while (url.size() > 1 && url.back() == '/') url.pop_back();
  std::string scheme = url.substr(0, std::min<size_t>(url.size(), 8));
  std::transform(scheme.begin(), scheme.end(), scheme.begin(),
                 [](unsigned char c) { return std::tolower(c); });
  if ((!scheme.starts_with("http://") && !scheme.starts_with("https://")) ||
      url_host(url).empty()) {
    return make_error(Errc::Invalid, "{} must be an http:// or https:// URL, got '{}'", name, url);
  }
  return std::optional<std::string>(std::move(url));
}

Status check_s3_location(const S3Location& where) {
  const std::string& b = where.bucket;
  const bool name_ok = b.size() >= 3 && b.size() <= 63 && is_lower_alnum(b.front()) &&
                       is_lower_alnum(b.back()) && std::all_of(b.begin(), b.end(), [](char c) {
                         return is_lower_alnum(c) || c == '.' || c == '-';
                       });
  if (!name_ok) {
    return make_error(Errc::Invalid,
                      "'{}' is not an S3 bucket name (3-63 of a-z, 0-9, '.', '-', starting "
                      "and ending with a letter or digit)",
                      b);
  }
  const bool region_ok =
      !where.region.empty() && std::all_of(where.region.begin(), where.region.end(),
                                           [](char c) { return is_lower_alnum(c) || c == '-'; });
  if (!region_ok)
    return make_error(Errc::Invalid, "'{}' is not an AWS region name (bucket {})", where.region, b);
  return {};
}

Status check_s3_key(std::string_view key) {
  if (key.empty()) return make_error(Errc::Invalid, "an S3 object key is empty");
  if (key.front() == '/')
    return make_error(Errc::Invalid, "S3 object key '{}' starts with '/'", key);
  if (key.size() > 1024)
    return make_error(Errc::Invalid, "S3 object key '{}...' is over 1024 bytes", key.substr(0, 64));
  if (std::any_of(key.begin(), key.end(), [](unsigned char c) { return c < 0x20 || c == 0x7f; })) {
    return make_error(Errc::Invalid, "S3 object key '{}' holds a control character", key);
  }
  return {};
}

std::string s3_bucket_url(const S3Location& where) {
  if (where.endpoint) return fmt::format("{}/{}", *where.endpoint, where.bucket);
  const std::string& domain = where.domain.empty() ? std::string("amazonaws.com") : where.domain;
  const char* s3 = where.fips ? "s3-fips" : "s3";
  if (where.bucket.find('.') != std::string::npos) {
    return fmt::format("https://{}.{}.{}/{}", s3, where.region, domain, where.bucket);
  }
  return fmt::format("https://{}.{}.{}.{}", where.bucket, s3, where.region, domain);
}

std::string s3_key_path(std::string_view key) {
  std::string out;
  for (;;) {
    const auto slash = key.find('/');
    out += form_encode(key.substr(0, slash));  // RFC 3986: unreserved kept, the rest %XX
    if (slash == std::string_view::npos) return out;
    out += '/';
    key.remove_prefix(slash + 1);
  }
}

std::string s3_object_url(const S3Location& where, std::string_view key) {
  return s3_bucket_url(where) + "/" + s3_key_path(key);
}

std::string s3_uri(std::string_view bucket, std::string_view key) {
  return fmt::format("s3://{}/{}", bucket, key);
}

std::string arn_partition(std::string_view region) {
  if (region.starts_with("cn-")) return "aws-cn";
  if (region.starts_with("us-gov-")) return "aws-us-gov";
  if (region.starts_with("us-isob-")) return "aws-iso-b";
  if (region.starts_with("us-isof-")) return "aws-iso-f";
  if (region.starts_with("us-iso-")) return "aws-iso";
  if (region.starts_with("eu-isoe-")) return "aws-iso-e";
  return "aws";
}

std::string s3_object_arn(std::string_view region, std::string_view bucket, std::string_view key) {
  return fmt::format("arn:{}:s3:::{}/{}", arn_partition(region), bucket, key);
}

ApiError parse_s3_error(int http_status, std::string_view body) {
  // S3's <Error><Code>..</Code><Message>..</Message></Error> is the document EC2 front ends also
  // answer with; one parser reads both.
  ApiError e = parse_api_error(Service::Ec2, http_status, "", body);
  if (e.code.empty()) {
    // No document (a HEAD answer, a proxy's page): what S3 would have said.
    if (http_status == 404) e.code = "NoSuchKey";
    if (http_status == 403) e.code = "AccessDenied";
    if (http_status == 503) e.code = "SlowDown";
  }
  return e;
}

Error s3_final_error(const ApiError& e, const S3Location& where, std::string_view key,
                     const S3Requester& who, std::string_view bucket_region_header) {
  const std::string uri = s3_uri(where.bucket, key);
  const std::string cause = cause_of(e);
  if (e.code == "NoSuchKey" || (e.http_status == 404 && e.code != "NoSuchBucket")) {
    return make_error(Errc::NotFound, "{} does not exist ({})", uri, cause);
  }
  if (e.code == "NoSuchBucket") {
    return make_error(Errc::AwsApi, "S3 bucket '{}' does not exist (asked for {} in {}; {})",
                      where.bucket, uri, where.region, cause);
  }
  const bool wrong_region = e.http_status == 301 ||
                            one_of(e.code, {"PermanentRedirect", "AuthorizationHeaderMalformed",
                                            "IllegalLocationConstraintException"}) ||
                            (!bucket_region_header.empty() && bucket_region_header != where.region);
  if (wrong_region) {
    return make_error(
        Errc::AwsApi, "S3 bucket '{}' is not in {}{} (for {}; {})", where.bucket, where.region,
        bucket_region_header.empty() ? "" : fmt::format(" but in {}", bucket_region_header), uri,
        cause);
  }
  const std::string arn = s3_object_arn(where.region, where.bucket, key);
  if (e.code == "AccessDenied" || (e.code.empty() && e.http_status == 403)) {
    // S3 also answers 403 for a key that does not exist when the caller may not list the bucket.
    if (who.anonymous) {
      return make_error(
          Errc::AwsApi,
          "s3:GetObject on {} was denied to an anonymous request ({}): the "
          "object is not public; requests are anonymous because {}; give the node "
          "credentials (an instance profile, or AWS_ACCESS_KEY_ID) allowed s3:GetObject on "
          "it ({})",
          arn, uri, who.anonymous_reason, cause);
    }
    return make_error(
        Errc::AwsApi,
        "the credentials from {} lack s3:GetObject on {} ({}): allow it in "
        "their IAM policy and the bucket policy; S3 answers the same for a key that does not "
        "exist unless s3:ListBucket is allowed too ({})",
        who.credential_source, arn, uri, cause);
  }
  if (one_of(e.code, {"InvalidAccessKeyId", "SignatureDoesNotMatch", "InvalidToken", "ExpiredToken",
                      "TokenRefreshRequired", "InvalidSecurity", "MissingSecurityHeader"})) {
    return make_error(Errc::AwsApi, "S3 rejected the credentials from {} for {} ({})",
                      who.anonymous ? "nowhere (anonymous)" : who.credential_source, uri, cause);
  }
  return make_error(Errc::AwsApi, "GetObject {} failed ({})", uri, cause);
}

}  // namespace agent::aws
