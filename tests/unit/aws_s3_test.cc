// S3 addressing, names and error meanings (agent/aws/s3), as plain values.
#include <doctest/doctest.h>

#include <string>

#include "agent/aws/s3.h"

using agent::Errc;
using agent::aws::ApiError;
using agent::aws::AwsEnv;
using agent::aws::S3Location;
using agent::aws::S3Requester;

namespace {

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

const S3Location kEks{.bucket = "amazon-eks", .region = "us-west-2", .domain = "amazonaws.com"};
constexpr const char* kKey = "1.30.4/2024-07-10/bin/linux/amd64/kubelet";

}  // namespace

TEST_CASE("object URLs are virtual-hosted by default and path-style under an endpoint override") {
  CHECK(agent::aws::s3_object_url(kEks, kKey) ==
        "https://amazon-eks.s3.us-west-2.amazonaws.com/1.30.4/2024-07-10/bin/linux/amd64/kubelet");
  CHECK(agent::aws::s3_bucket_url(kEks) == "https://amazon-eks.s3.us-west-2.amazonaws.com");

  S3Location china{.bucket = "amazon-eks", .region = "cn-north-1", .domain = "amazonaws.com.cn"};
  CHECK(agent::aws::s3_object_url(china, "k") ==
        "https://amazon-eks.s3.cn-north-1.amazonaws.com.cn/k");

  S3Location fips = kEks;
  fips.fips = true;
  CHECK(agent::aws::s3_bucket_url(fips) == "https://amazon-eks.s3-fips.us-west-2.amazonaws.com");

  S3Location dotted{.bucket = "my.bucket", .region = "eu-west-1"};
  CHECK(agent::aws::s3_object_url(dotted, "k") == "https://s3.eu-west-1.amazonaws.com/my.bucket/k");

  S3Location local = kEks;
  local.endpoint = "http://127.0.0.1:9000";
  CHECK(agent::aws::s3_object_url(local, kKey) ==
        "http://127.0.0.1:9000/amazon-eks/1.30.4/2024-07-10/bin/linux/amd64/kubelet");
  CHECK(agent::aws::s3_bucket_url(local) == "http://127.0.0.1:9000/amazon-eks");
}

TEST_CASE("keys are percent-encoded once, keeping '/' and the unreserved characters") {
  CHECK(agent::aws::s3_key_path("a b/c+d=e/~f_g-h.i") == "a%20b/c%2Bd%3De/~f_g-h.i");
  CHECK(agent::aws::s3_key_path("dir/") == "dir/");
  CHECK(agent::aws::s3_key_path("\xc3\xa9") == "%C3%A9");
}

TEST_CASE("the endpoint override: AWS_ENDPOINT_URL_S3, else AWS_ENDPOINT_URL, unless ignored") {
  AwsEnv env;
  CHECK_FALSE(*agent::aws::s3_endpoint_override(env, std::nullopt));
  env.endpoint_url = "http://127.0.0.1:4566/";
  CHECK(*agent::aws::s3_endpoint_override(env, std::nullopt) ==
        std::optional<std::string>("http://127.0.0.1:4566"));
  CHECK(*agent::aws::s3_endpoint_override(env, std::string("https://minio.local:9000")) ==
        std::optional<std::string>("https://minio.local:9000"));
  env.ignore_configured_endpoint_urls = true;
  CHECK_FALSE(*agent::aws::s3_endpoint_override(env, std::string("https://minio.local:9000")));
  env.ignore_configured_endpoint_urls = false;
  auto bad = agent::aws::s3_endpoint_override(env, std::string("minio.local"));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().code == Errc::Invalid);
  CHECK(contains(bad.error().message, "AWS_ENDPOINT_URL_S3"));
}

TEST_CASE("bucket names, regions and keys are checked before any request") {
  CHECK(agent::aws::check_s3_location(kEks));
  for (const char* name : {"ab", "Amazon-EKS", "-eks", "eks-", "a_b", "bucket/x"}) {
    S3Location where = kEks;
    where.bucket = name;
    auto s = agent::aws::check_s3_location(where);
    CHECK_MESSAGE(!s, name);
  }
  S3Location bad_region = kEks;
  bad_region.region = "us-west-2/../x";
  CHECK_FALSE(agent::aws::check_s3_location(bad_region));
  CHECK(agent::aws::check_s3_key(kKey));
  CHECK_FALSE(agent::aws::check_s3_key(""));
  CHECK_FALSE(agent::aws::check_s3_key("/abs"));
  CHECK_FALSE(agent::aws::check_s3_key("a\nb"));
  CHECK_FALSE(agent::aws::check_s3_key(std::string(1025, 'k')));
}

TEST_CASE("names: s3:// URIs and ARNs in the region's partition") {
  CHECK(agent::aws::s3_uri("amazon-eks", kKey) ==
        "s3://amazon-eks/1.30.4/2024-07-10/bin/linux/amd64/kubelet");
  CHECK(agent::aws::s3_object_arn("us-west-2", "b", "k") == "arn:aws:s3:::b/k");
  CHECK(agent::aws::s3_object_arn("cn-northwest-1", "b", "k") == "arn:aws-cn:s3:::b/k");
  CHECK(agent::aws::s3_object_arn("us-gov-west-1", "b", "k") == "arn:aws-us-gov:s3:::b/k");
  CHECK(agent::aws::arn_partition("us-iso-east-1") == "aws-iso");
  CHECK(agent::aws::arn_partition("us-isob-east-1") == "aws-iso-b");
  CHECK(agent::aws::arn_partition("us-isof-south-1") == "aws-iso-f");
  CHECK(agent::aws::arn_partition("eu-isoe-west-1") == "aws-iso-e");
}

TEST_CASE("S3 error documents are read, and bodiless answers get S3's code for their status") {
  const ApiError e = agent::aws::parse_s3_error(
      404,
      "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The specified key does not "
      "exist.</Message><Key>k</Key></Error>");
  CHECK(e.code == "NoSuchKey");
  CHECK(e.message == "The specified key does not exist.");
  CHECK(agent::aws::parse_s3_error(404, "").code == "NoSuchKey");
  CHECK(agent::aws::parse_s3_error(403, "").code == "AccessDenied");
  CHECK(agent::aws::parse_s3_error(503, "").code == "SlowDown");
  CHECK(agent::aws::parse_s3_error(502, "<html>bad gateway</html>").code.empty());
}

TEST_CASE("final errors: NotFound for a missing key, AwsApi naming s3:GetObject for a denial") {
  const S3Requester signed_by{.credential_source = "instance profile eks-node-role"};
  const S3Requester anonymous{.anonymous = true,
                              .anonymous_reason = "no AWS credentials: no instance profile"};

  auto missing = agent::aws::s3_final_error({.http_status = 404, .code = "NoSuchKey"}, kEks, kKey,
                                            signed_by, "");
  CHECK(missing.code == Errc::NotFound);
  CHECK(contains(missing.message,
                 "s3://amazon-eks/1.30.4/2024-07-10/bin/linux/amd64/kubelet does not exist"));

  auto denied = agent::aws::s3_final_error(
      {.http_status = 403, .code = "AccessDenied", .message = "Access Denied"}, kEks, kKey,
      signed_by, "");
  CHECK(denied.code == Errc::AwsApi);
  CHECK(contains(denied.message,
                 "the credentials from instance profile eks-node-role lack s3:GetObject on "
                 "arn:aws:s3:::amazon-eks/1.30.4/2024-07-10/bin/linux/amd64/kubelet"));
  CHECK(contains(denied.message, "s3:ListBucket"));

  auto anon = agent::aws::s3_final_error({.http_status = 403, .code = "AccessDenied"}, kEks, kKey,
                                         anonymous, "");
  CHECK(anon.code == Errc::AwsApi);
  CHECK(contains(anon.message, "s3:GetObject on arn:aws:s3:::amazon-eks/"));
  CHECK(contains(anon.message, "anonymous"));
  CHECK(contains(anon.message, "no instance profile"));

  auto no_bucket = agent::aws::s3_final_error({.http_status = 404, .code = "NoSuchBucket"}, kEks,
                                              kKey, anonymous, "");
  CHECK(no_bucket.code == Errc::AwsApi);
  CHECK(contains(no_bucket.message, "S3 bucket 'amazon-eks' does not exist"));

  auto moved = agent::aws::s3_final_error({.http_status = 301, .code = "PermanentRedirect"}, kEks,
                                          kKey, anonymous, "eu-central-1");
  CHECK(contains(moved.message, "is not in us-west-2 but in eu-central-1"));

  auto bad_key =
      agent::aws::s3_final_error({.http_status = 403, .code = "InvalidAccessKeyId"}, kEks, kKey,
                                 S3Requester{.credential_source = "environment"}, "");
  CHECK(contains(bad_key.message, "S3 rejected the credentials from environment"));

  auto other = agent::aws::s3_final_error(
      {.http_status = 400, .code = "InvalidArgument", .message = "x"}, kEks, kKey, anonymous, "");
  CHECK(other.code == Errc::AwsApi);
  CHECK(contains(other.message, "GetObject s3://amazon-eks/"));
  CHECK(contains(other.message, "HTTP 400 InvalidArgument: x"));
}

TEST_CASE("S3's retryable answers classify as the AWS API's do") {
  using agent::AttemptOutcome;
  CHECK(agent::aws::classify(agent::aws::parse_s3_error(
            503, "<Error><Code>SlowDown</Code></Error>")) == AttemptOutcome::Throttled);
  CHECK(agent::aws::classify(agent::aws::parse_s3_error(
            500, "<Error><Code>InternalError</Code></Error>")) == AttemptOutcome::Failure);
  CHECK(agent::aws::classify(agent::aws::parse_s3_error(
            400, "<Error><Code>RequestTimeout</Code></Error>")) == AttemptOutcome::Failure);
  CHECK(agent::aws::classify(agent::aws::parse_s3_error(404, "")) == AttemptOutcome::Permanent);
  CHECK(agent::aws::credentials_expired(
      agent::aws::parse_s3_error(400, "<Error><Code>ExpiredToken</Code></Error>")));
}
