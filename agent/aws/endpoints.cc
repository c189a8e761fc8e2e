#include "agent/aws/endpoints.h"
#include "agent/model/text.h"

#include <arpa/inet.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cstdint>

#include <fmt/format.h>

namespace agent::aws {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  std::transform(out.begin(), out.end(), out.begin(), [](unsigned char c) { return std::tolower(c); });
  return out;
}

std::optional<uint32_t> parse_ipv4(std::string_view s) {
  in_addr a{};
  std::string z(s);
  if (inet_pton(AF_INET, z.c_str(), &a) != 1) return std::nullopt;
  return ntohl(a.s_addr);
}

// One NO_PROXY entry against a host (both lower-case).
bool entry_matches(std::string_view host, std::string_view entry) {
  if (entry == "*") return true;
  // "10.0.0.0/8": an IPv4 CIDR block.
  if (auto slash = entry.find('/'); slash != std::string_view::npos) {
    auto net = parse_ipv4(entry.substr(0, slash));
    auto ip = parse_ipv4(host);
    int bits = -1;
    std::string_view b = entry.substr(slash + 1);
    auto [p, ec] = std::from_chars(b.data(), b.data() + b.size(), bits);
    if (!net || !ip || ec != std::errc() || p != b.data() + b.size() || bits < 0 || bits > 32) {
      return false;
    }
    const uint32_t mask = bits == 0 ? 0 : ~uint32_t{0} << (32 - bits);
    return (*net & mask) == (*ip & mask);
  }
  // Strip a port ("host:443") but not the colons of a bare IPv6 address.
  if (entry.front() == '[') {
    auto close = entry.find(']');
    entry = entry.substr(1, close == std::string_view::npos ? std::string_view::npos : close - 1);
  } else if (std::count(entry.begin(), entry.end(), ':') == 1) {
    entry = entry.substr(0, entry.find(':'));
  }
  if (entry.starts_with('.')) entry.remove_prefix(1);
  if (entry.starts_with("*.")) entry.remove_prefix(2);
  if (entry.empty()) return false;
  if (host == entry) return true;
  return host.size() > entry.size() && host.ends_with(entry) &&
         host[host.size() - entry.size() - 1] == '.';
}

}  // namespace

std::string effective_region(const AwsEnv& env, const std::string& imds_region) {
  return env.region.value_or(imds_region);
}

std::string partition_domain(const std::string& region, const std::string& imds_region,
                             const std::string& imds_domain) {
  if (region == imds_region && !imds_domain.empty()) return imds_domain;
  if (region.starts_with("cn-")) return "amazonaws.com.cn";
  if (region.starts_with("us-isob-")) return "sc2s.sgov.gov";
  if (region.starts_with("us-isof-")) return "csp.hci.ic.gov";
  if (region.starts_with("us-iso-")) return "c2s.ic.gov";
  if (region.starts_with("eu-isoe-")) return "cloud.adc-e.uk";
  return "amazonaws.com";
}

const char* signing_name(Service service) {
  switch (service) {
    case Service::Eks: return "eks";
    case Service::Ec2: return "ec2";
    case Service::Ecr: return "ecr";
  }
  return "ec2";
}

Result<std::string> service_endpoint(Service service, const std::string& region,
                                     const std::string& domain, const AwsEnv& env) {
  const char* specific_name = service == Service::Eks   ? "AWS_ENDPOINT_URL_EKS"
                              : service == Service::Ecr ? "AWS_ENDPOINT_URL_ECR"
                                                        : "AWS_ENDPOINT_URL_EC2";
  const auto& specific = service == Service::Eks   ? env.endpoint_url_eks
                         : service == Service::Ecr ? env.endpoint_url_ecr
                                                   : env.endpoint_url_ec2;
  if (!env.ignore_configured_endpoint_urls && (specific || env.endpoint_url)) {
    const char* name = specific ? specific_name : "AWS_ENDPOINT_URL";
    std::string url = specific ? *specific : *env.endpoint_url;
    while (url.size() > 1 && url.back() == '/') url.pop_back();
    const std::string l = lower(url);
    if ((!l.starts_with("http://") && !l.starts_with("https://")) || url_host(url).empty()) {
      return make_error(Errc::Invalid, "{} must be an http:// or https:// URL, got '{}'", name, url);
    }
    return url;
  }
  if (region.empty()) {
    return make_error(Errc::Invalid, "no AWS region: set AWS_REGION or run on an EC2 instance");
  }
  for (char c : region) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-') {
      return make_error(Errc::Invalid, "'{}' is not an AWS region name", region);
    }
  }
  const std::string suffix = domain.empty() ? "amazonaws.com" : domain;
  if (env.use_fips) {
    const bool gov = region.rfind("us-gov-", 0) == 0;
    if (service != Service::Ecr && gov) return fmt::format("https://{}.{}.{}", signing_name(service), region, suffix);
    return fmt::format("https://{}-fips.{}.{}", signing_name(service), region, suffix);
  }
  // ECR's API lives under "api.ecr." (plain "ecr." is not its API host).
  return fmt::format("https://{}{}.{}.{}", service == Service::Ecr ? "api." : "", signing_name(service),
                     region, suffix);
}

std::string url_host(std::string_view url) {
  auto scheme = url.find("://");
  if (scheme == std::string_view::npos) return "";
  std::string_view rest = url.substr(scheme + 3);
  rest = rest.substr(0, rest.find_first_of("/?#"));
  if (auto at = rest.rfind('@'); at != std::string_view::npos) rest.remove_prefix(at + 1);
  if (rest.starts_with('[')) {
    auto close = rest.find(']');
    return close == std::string_view::npos ? "" : lower(rest.substr(1, close - 1));
  }
  return lower(rest.substr(0, rest.find(':')));
}

bool no_proxy_matches(std::string_view host_in, std::string_view list) {
  const std::string host = lower(host_in);
  while (!list.empty()) {
    auto comma = list.find_first_of(", ");
    std::string entry = lower(trim(list.substr(0, comma)));
    list = comma == std::string_view::npos ? std::string_view{} : list.substr(comma + 1);
    if (!entry.empty() && entry_matches(host, entry)) return true;
  }
  return false;
}

std::string proxy_for(std::string_view url, const AwsEnv& env) {
  const bool https = lower(url.substr(0, 8)) == "https://";
  const auto& proxy = https ? env.https_proxy : env.http_proxy;
  if (!proxy) return "";
  if (env.no_proxy && no_proxy_matches(url_host(url), *env.no_proxy)) return "";
  std::string p = *proxy;
  if (p.find("://") == std::string::npos) p = "http://" + p;
  return p;
}

}  // namespace agent::aws
