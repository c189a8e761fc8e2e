// S3 GetObject without transport: where an object is, how messages name it, and what an error
// answer means. Pure; the adapter (agent/platform/curl_s3) sends the request and libcurl signs it.
//
// Addressing:
//   default            virtual-hosted  https://BUCKET.s3.REGION.DOMAIN/KEY (what S3 recommends;
//                      path-style is deprecated for new buckets)
//   bucket with a '.'  path-style      https://s3.REGION.DOMAIN/BUCKET/KEY (the wildcard
//   certificate
//                      *.s3.REGION.DOMAIN does not cover "a.b.s3...")
//   endpoint override  path-style      ENDPOINT/BUCKET/KEY: emulators and MinIO-style servers
//   listen
//                      on one host (often 127.0.0.1:PORT) and cannot answer per-bucket host names
// Keys are percent-encoded per RFC 3986 (unreserved characters and '/' kept), which is also the
// canonical URI S3's SigV4 expects (S3 does not double-encode), so what is signed is what is sent.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "agent/aws/endpoints.h"
#include "agent/aws/protocol.h"
#include "agent/model/result.h"

namespace agent::aws {

struct S3Location {
  std::string bucket;
  std::string region;                    // the bucket's region: signing scope and host
  std::string domain = "amazonaws.com";  // the partition's DNS suffix (amazonaws.com.cn, ...)
  std::optional<std::string> endpoint;   // an override (s3_endpoint_override): path-style
  bool fips = false;                     // AWS_USE_FIPS_ENDPOINT: s3-fips.REGION.DOMAIN
  bool operator==(const S3Location&) const = default;
};

// The endpoint override for S3: `endpoint_url_s3` (AWS_ENDPOINT_URL_S3), else env.endpoint_url
// (AWS_ENDPOINT_URL), neither when env.ignore_configured_endpoint_urls. nullopt: none. Trailing
// slashes are dropped. Errors: Invalid naming the variable when it is not an http(s) URL.
Result<std::optional<std::string>> s3_endpoint_override(
    const AwsEnv& env, const std::optional<std::string>& endpoint_url_s3);

// Errors: Invalid for a bucket name S3 does not allow (3-63 characters of [a-z0-9.-], starting and
// ending with a letter or digit) or a region that is empty or not [a-z0-9-]; names the value.
Status check_s3_location(const S3Location& where);
// Errors: Invalid for an empty key, one starting with '/', over 1024 bytes, or holding control
// characters; names the key.
Status check_s3_key(std::string_view key);

// Where requests go, for messages: "https://amazon-eks.s3.us-west-2.amazonaws.com" or
// "http://127.0.0.1:9000/amazon-eks".
std::string s3_bucket_url(const S3Location& where);
// The object's URL (see the addressing rules above). `key` must have passed check_s3_key.
std::string s3_object_url(const S3Location& where, std::string_view key);
// RFC 3986 percent-encoding (upper-case hex) keeping unreserved characters and '/'.
std::string s3_key_path(std::string_view key);

// "s3://bucket/key".
std::string s3_uri(std::string_view bucket, std::string_view key);
// The ARN partition of a region: aws, aws-cn, aws-us-gov, aws-iso, aws-iso-b, aws-iso-e, aws-iso-f.
std::string arn_partition(std::string_view region);
// "arn:aws:s3:::bucket/key" in the region's partition.
std::string s3_object_arn(std::string_view region, std::string_view bucket, std::string_view key);

// S3 answers errors as <Error><Code>NoSuchKey</Code><Message>...</Message></Error>; a HEAD answer
// or a proxy's page has none, and then the code follows from the status (404 NoSuchKey, 403
// AccessDenied, 503 SlowDown). Never fails.
ApiError parse_s3_error(int http_status, std::string_view body);

// Who sent a request, for messages.
struct S3Requester {
  bool anonymous = false;
  std::string credential_source;  // "environment", "instance profile ROLE" when signed
  std::string
      anonymous_reason;  // why unsigned: "anonymous requests were asked for", "no credentials: ..."
};

// The operator-facing error for a final (non-retryable) GetObject answer:
//   NoSuchKey (404)              Errc::NotFound "s3://bucket/key does not exist (...)"
//   AccessDenied (403)           Errc::AwsApi naming s3:GetObject and the object's ARN, and who
//   asked
//                                (the credentials' source, or anonymous and why)
//   NoSuchBucket, wrong region   Errc::AwsApi naming the bucket and the region (x-amz-bucket-region
//   (301 / AuthorizationHeaderMalformed)   is passed as `bucket_region_header`)
//   rejected credentials         Errc::AwsApi naming their source
//   anything else                Errc::AwsApi with the status, code and message
Error s3_final_error(const ApiError& e, const S3Location& where, std::string_view key,
                     const S3Requester& who, std::string_view bucket_region_header);

}  // namespace agent::aws
