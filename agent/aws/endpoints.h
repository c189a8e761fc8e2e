// Where AWS API requests go: region, partition domain, service endpoint and proxy. Pure: main reads
// the environment once into AwsEnv; these functions decide from values.
#pragma once
#include <optional>
#include <string>
#include <string_view>

#include "agent/model/result.h"

namespace agent::aws {

enum class Service { Eks, Ec2, Ecr };

// The environment variables that steer AWS calls, as read by main (empty values count as unset).
struct AwsEnv {
  std::optional<std::string> region;             // AWS_REGION
  std::optional<std::string> endpoint_url;       // AWS_ENDPOINT_URL (every service)
  std::optional<std::string> endpoint_url_eks;   // AWS_ENDPOINT_URL_EKS
  std::optional<std::string> endpoint_url_ec2;   // AWS_ENDPOINT_URL_EC2
  std::optional<std::string> endpoint_url_ecr;   // AWS_ENDPOINT_URL_ECR
  bool ignore_configured_endpoint_urls = false;  // AWS_IGNORE_CONFIGURED_ENDPOINT_URLS=true
  bool use_fips = false;                         // AWS_USE_FIPS_ENDPOINT=true: FIPS endpoints
  std::optional<std::string> https_proxy;        // HTTPS_PROXY, else https_proxy
  std::optional<std::string> http_proxy;         // HTTP_PROXY, else http_proxy
  std::optional<std::string> no_proxy;           // NO_PROXY, else no_proxy
  std::optional<std::string> access_key_id;      // AWS_ACCESS_KEY_ID
  std::optional<std::string> secret_access_key;  // AWS_SECRET_ACCESS_KEY
  std::optional<std::string> session_token;      // AWS_SESSION_TOKEN
  bool operator==(const AwsEnv&) const = default;
};

// Reads AwsEnv through a getenv-like function (nullptr or "" = unset). Uppercase proxy names win
// over lowercase ones.
template <typename Getenv>
AwsEnv aws_env_from(Getenv&& getenv) {
  auto get = [&](const char* name) -> std::optional<std::string> {
    const char* v = getenv(name);
    if (v == nullptr || *v == '\0') return std::nullopt;
    return std::string(v);
  };
  auto either = [&](const char* upper, const char* lower) {
    auto v = get(upper);
    return v ? v : get(lower);
  };
  AwsEnv e;
  e.region = get("AWS_REGION");
  e.endpoint_url = get("AWS_ENDPOINT_URL");
  e.endpoint_url_eks = get("AWS_ENDPOINT_URL_EKS");
  e.endpoint_url_ec2 = get("AWS_ENDPOINT_URL_EC2");
  e.endpoint_url_ecr = get("AWS_ENDPOINT_URL_ECR");
  auto ignore = get("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS");
  e.ignore_configured_endpoint_urls = ignore && (*ignore == "true" || *ignore == "TRUE");
  auto fips = get("AWS_USE_FIPS_ENDPOINT");
  e.use_fips = fips && (*fips == "true" || *fips == "TRUE");
  e.https_proxy = either("HTTPS_PROXY", "https_proxy");
  e.http_proxy = either("HTTP_PROXY", "http_proxy");
  e.no_proxy = either("NO_PROXY", "no_proxy");
  e.access_key_id = get("AWS_ACCESS_KEY_ID");
  e.secret_access_key = get("AWS_SECRET_ACCESS_KEY");
  e.session_token = get("AWS_SESSION_TOKEN");
  return e;
}

// The region calls go to: AWS_REGION when set, else the instance's region from IMDS.
std::string effective_region(const AwsEnv& env, const std::string& imds_region);

// The partition's DNS suffix for `region`. IMDS services/domain is authoritative for the
// instance's own region; for another region (AWS_REGION) it follows from the region's prefix:
// cn-* amazonaws.com.cn, us-iso-* c2s.ic.gov, us-isob-* sc2s.sgov.gov, eu-isoe-* cloud.adc-e.uk,
// us-isof-* csp.hci.ic.gov, anything else (commercial and us-gov-*) amazonaws.com.
std::string partition_domain(const std::string& region, const std::string& imds_region,
                             const std::string& imds_domain);

// "https://eks.us-west-2.amazonaws.com", "https://ec2.us-west-2.amazonaws.com",
// "https://api.ecr.us-west-2.amazonaws.com", or the override: AWS_ENDPOINT_URL_EKS /
// AWS_ENDPOINT_URL_EC2 / AWS_ENDPOINT_URL_ECR, else AWS_ENDPOINT_URL (unless
// AWS_IGNORE_CONFIGURED_ENDPOINT_URLS). An override must be an http:// or https:// URL (trailing
// slashes are dropped). With AWS_USE_FIPS_ENDPOINT=true (and no override) the FIPS endpoint, by
// the SDKs' default rule SERVICE-fips.REGION.DOMAIN (ecr-fips for ECR's API), except EKS and EC2 in
// GovCloud (us-gov-*), whose standard endpoints are the FIPS ones.
// Errors: Invalid naming the variable, or an empty region.
Result<std::string> service_endpoint(Service service, const std::string& region,
                                     const std::string& domain, const AwsEnv& env);

// The SigV4 signing name of a service ("eks", "ec2", "ecr").
const char* signing_name(Service service);

// The proxy for a request to `url`: HTTPS_PROXY for https URLs, HTTP_PROXY for http URLs, unless
// NO_PROXY matches the host. "" means connect directly. NO_PROXY is a comma list of "*", host
// names (matching the host and its subdomains, with or without a leading dot), IP addresses and
// IPv4 CIDR blocks; ports in entries are ignored. A proxy value without a scheme gets http://.
// IMDS never goes through here: its client reads no proxy settings at all.
std::string proxy_for(std::string_view url, const AwsEnv& env);

// True when NO_PROXY `list` exempts `host`.
bool no_proxy_matches(std::string_view host, std::string_view list);

// The host of an http(s) URL ("[::1]" -> "::1"); "" when there is none.
std::string url_host(std::string_view url);

}  // namespace agent::aws
