// Region, partition, endpoint and proxy decisions, and credential rules: values in, values out.
#include "agent/aws/credentials.h"
#include "agent/aws/endpoints.h"

#include <doctest/doctest.h>

#include <map>
#include <vector>

using agent::Errc;
using namespace agent::aws;
using namespace std::chrono_literals;

namespace {

AwsEnv env_of(const std::map<std::string, std::string>& vars) {
  return aws_env_from([&](const char* name) -> const char* {
    auto it = vars.find(name);
    return it == vars.end() ? nullptr : it->second.c_str();
  });
}

}  // namespace

TEST_CASE("AWS_REGION wins over the instance's region") {
  CHECK(effective_region(env_of({}), "us-west-2") == "us-west-2");
  CHECK(effective_region(env_of({{"AWS_REGION", "eu-west-1"}}), "us-west-2") == "eu-west-1");
  CHECK(effective_region(env_of({{"AWS_REGION", ""}}), "us-west-2") == "us-west-2");  // empty = unset
}

TEST_CASE("endpoints follow the partition's domain") {
  struct Row {
    std::string region, imds_region, imds_domain, eks, ec2;
  };
  const std::vector<Row> rows = {
      {"us-west-2", "us-west-2", "amazonaws.com", "https://eks.us-west-2.amazonaws.com", "https://ec2.us-west-2.amazonaws.com"},
      {"cn-north-1", "cn-north-1", "amazonaws.com.cn", "https://eks.cn-north-1.amazonaws.com.cn", "https://ec2.cn-north-1.amazonaws.com.cn"},
      {"us-gov-west-1", "us-gov-west-1", "amazonaws.com", "https://eks.us-gov-west-1.amazonaws.com", "https://ec2.us-gov-west-1.amazonaws.com"},
      {"us-iso-east-1", "us-iso-east-1", "c2s.ic.gov", "https://eks.us-iso-east-1.c2s.ic.gov", "https://ec2.us-iso-east-1.c2s.ic.gov"},
      {"us-isob-east-1", "us-isob-east-1", "sc2s.sgov.gov", "https://eks.us-isob-east-1.sc2s.sgov.gov", "https://ec2.us-isob-east-1.sc2s.sgov.gov"},
      // AWS_REGION names another region than the instance's: the domain follows its prefix.
      {"cn-northwest-1", "us-west-2", "amazonaws.com", "https://eks.cn-northwest-1.amazonaws.com.cn", ""},
      {"us-isof-south-1", "us-east-1", "amazonaws.com", "https://eks.us-isof-south-1.csp.hci.ic.gov", ""},
      {"eu-isoe-west-1", "us-east-1", "amazonaws.com", "https://eks.eu-isoe-west-1.cloud.adc-e.uk", ""},
      {"eu-west-1", "cn-north-1", "amazonaws.com.cn", "https://eks.eu-west-1.amazonaws.com", ""},
  };
  for (const auto& r : rows) {
    CAPTURE(r.region);
    const std::string domain = partition_domain(r.region, r.imds_region, r.imds_domain);
    CHECK(*service_endpoint(Service::Eks, r.region, domain, {}) == r.eks);
    if (!r.ec2.empty()) CHECK(*service_endpoint(Service::Ec2, r.region, domain, {}) == r.ec2);
  }
  CHECK(service_endpoint(Service::Eks, "", "amazonaws.com", {}).error().code == Errc::Invalid);
  CHECK(service_endpoint(Service::Eks, "us-west-2/../x", "amazonaws.com", {}).error().code == Errc::Invalid);
}

TEST_CASE("AWS_ENDPOINT_URL_EKS/_EC2 win over AWS_ENDPOINT_URL, which wins over the partition") {
  auto all = env_of({{"AWS_ENDPOINT_URL", "http://127.0.0.1:9000/"},
                     {"AWS_ENDPOINT_URL_EKS", "https://eks.local:8443"}});
  CHECK(*service_endpoint(Service::Eks, "us-west-2", "amazonaws.com", all) == "https://eks.local:8443");
  CHECK(*service_endpoint(Service::Ec2, "us-west-2", "amazonaws.com", all) == "http://127.0.0.1:9000");
  auto ec2 = env_of({{"AWS_ENDPOINT_URL_EC2", "http://ec2.local"}});
  CHECK(*service_endpoint(Service::Ec2, "us-west-2", "amazonaws.com", ec2) == "http://ec2.local");
  CHECK(*service_endpoint(Service::Eks, "us-west-2", "amazonaws.com", ec2) == "https://eks.us-west-2.amazonaws.com");
  auto ignored = env_of({{"AWS_ENDPOINT_URL", "http://x"}, {"AWS_IGNORE_CONFIGURED_ENDPOINT_URLS", "true"}});
  CHECK(*service_endpoint(Service::Eks, "us-west-2", "amazonaws.com", ignored) == "https://eks.us-west-2.amazonaws.com");
  auto bad = service_endpoint(Service::Eks, "us-west-2", "amazonaws.com", env_of({{"AWS_ENDPOINT_URL_EKS", "eks.local"}}));
  REQUIRE_FALSE(bad);
  CHECK(bad.error().message.find("AWS_ENDPOINT_URL_EKS") != std::string::npos);
}

TEST_CASE("AWS_USE_FIPS_ENDPOINT=true: FIPS endpoints; GovCloud's EKS and EC2 are FIPS already") {
  auto fips = env_of({{"AWS_USE_FIPS_ENDPOINT", "true"}});
  CHECK(fips.use_fips);
  CHECK(*service_endpoint(Service::Eks, "us-east-1", "amazonaws.com", fips) == "https://eks-fips.us-east-1.amazonaws.com");
  CHECK(*service_endpoint(Service::Ec2, "us-west-2", "amazonaws.com", fips) == "https://ec2-fips.us-west-2.amazonaws.com");
  CHECK(*service_endpoint(Service::Ecr, "us-east-2", "amazonaws.com", fips) == "https://ecr-fips.us-east-2.amazonaws.com");
  CHECK(*service_endpoint(Service::Eks, "us-gov-west-1", "amazonaws.com", fips) == "https://eks.us-gov-west-1.amazonaws.com");
  CHECK(*service_endpoint(Service::Ec2, "us-gov-east-1", "amazonaws.com", fips) == "https://ec2.us-gov-east-1.amazonaws.com");
  CHECK(*service_endpoint(Service::Ecr, "us-gov-west-1", "amazonaws.com", fips) == "https://ecr-fips.us-gov-west-1.amazonaws.com");
  // Off unless exactly true; an explicit endpoint still wins.
  CHECK_FALSE(env_of({{"AWS_USE_FIPS_ENDPOINT", "false"}}).use_fips);
  CHECK_FALSE(env_of({{"AWS_USE_FIPS_ENDPOINT", "1"}}).use_fips);
  auto both = env_of({{"AWS_USE_FIPS_ENDPOINT", "true"}, {"AWS_ENDPOINT_URL_EKS", "http://127.0.0.1:1"}});
  CHECK(*service_endpoint(Service::Eks, "us-east-1", "amazonaws.com", both) == "http://127.0.0.1:1");
}

TEST_CASE("the proxy: HTTPS_PROXY for https, HTTP_PROXY for http, NO_PROXY exempts") {
  auto e = env_of({{"HTTPS_PROXY", "proxy.corp:3128"}, {"http_proxy", "http://plain:80"},
                   {"NO_PROXY", "localhost, .internal.corp,10.0.0.0/8,eks.us-east-1.amazonaws.com:443"}});
  CHECK(proxy_for("https://eks.us-west-2.amazonaws.com", e) == "http://proxy.corp:3128");
  CHECK(proxy_for("http://127.0.0.1:8080", e) == "http://plain:80");
  CHECK(proxy_for("https://api.internal.corp/x", e).empty());
  CHECK(proxy_for("https://internal.corp", e).empty());
  CHECK(proxy_for("https://notinternal.corp", e) == "http://proxy.corp:3128");
  CHECK(proxy_for("https://10.1.2.3:443", e).empty());
  CHECK(proxy_for("https://11.1.2.3", e) == "http://proxy.corp:3128");
  CHECK(proxy_for("https://eks.us-east-1.amazonaws.com", e).empty());
  CHECK(proxy_for("https://localhost:8443", e).empty());
  CHECK(proxy_for("https://x", env_of({})).empty());
  CHECK(proxy_for("https://x", env_of({{"HTTPS_PROXY", "http://p"}, {"NO_PROXY", "*"}})).empty());
  // Uppercase wins over lowercase.
  CHECK(proxy_for("https://x", env_of({{"HTTPS_PROXY", "http://upper"}, {"https_proxy", "http://lower"}})) == "http://upper");
}

TEST_CASE("NO_PROXY entries") {
  CHECK(no_proxy_matches("a.example.com", "example.com"));
  CHECK(no_proxy_matches("example.com", ".example.com"));
  CHECK(no_proxy_matches("A.Example.COM", "*.example.com"));
  CHECK_FALSE(no_proxy_matches("badexample.com", "example.com"));
  CHECK(no_proxy_matches("::1", "::1"));
  CHECK(no_proxy_matches("::1", "[::1]:80"));
  CHECK(no_proxy_matches("192.168.1.7", "192.168.0.0/16"));
  CHECK_FALSE(no_proxy_matches("192.169.1.7", "192.168.0.0/16"));
  CHECK_FALSE(no_proxy_matches("host", "10.0.0.0/8"));
  CHECK_FALSE(no_proxy_matches("host", ""));
  CHECK(url_host("https://user:pw@[fd00:ec2::254]:80/x") == "fd00:ec2::254");
  CHECK(url_host("http://H.example:1/p?q") == "h.example");
  CHECK(url_host("nourl").empty());
}

TEST_CASE("environment credentials need both halves") {
  auto none = credentials_from_env(env_of({}));
  REQUIRE(none);
  CHECK_FALSE(none->has_value());
  auto both = credentials_from_env(env_of({{"AWS_ACCESS_KEY_ID", "AKIA1"}, {"AWS_SECRET_ACCESS_KEY", "s"},
                                           {"AWS_SESSION_TOKEN", "t"}}));
  REQUIRE(both);
  REQUIRE(both->has_value());
  CHECK((*both)->session_token == "t");
  CHECK((*both)->source == "environment");
  CHECK_FALSE((*both)->expiration);
  auto half = credentials_from_env(env_of({{"AWS_ACCESS_KEY_ID", "AKIA1"}}));
  REQUIRE_FALSE(half);
  CHECK(half.error().code == Errc::Invalid);
}

TEST_CASE("instance-profile credentials from IMDS") {
  CHECK(*role_from_listing("eks-node-role\n") == "eks-node-role");
  CHECK(*role_from_listing("\n  role-a/\r\nrole-b") == "role-a");
  CHECK_FALSE(role_from_listing("\n \n"));
  auto c = parse_imds_credentials(R"({"Code":"Success","LastUpdated":"2024-05-01T12:00:00Z","Type":"AWS-HMAC",
      "AccessKeyId":"ASIA1","SecretAccessKey":"sec","Token":"tok","Expiration":"2024-05-01T18:00:00Z"})",
                                  "node-role");
  REQUIRE(c);
  CHECK(c->access_key_id == "ASIA1");
  CHECK(c->session_token == "tok");
  CHECK(c->source == "instance profile node-role");
  REQUIRE(c->expiration);
  CHECK(std::chrono::duration_cast<std::chrono::seconds>(c->expiration->time_since_epoch()).count() == 1714586400);
  auto failed = parse_imds_credentials(R"({"Code":"AssumeRoleUnauthorizedAccess","Message":"denied"})", "r");
  REQUIRE_FALSE(failed);
  CHECK(failed.error().message.find("AssumeRoleUnauthorizedAccess: denied") != std::string::npos);
  CHECK_FALSE(parse_imds_credentials(R"({"Code":"Success","AccessKeyId":"A"})", "r"));
  CHECK_FALSE(parse_imds_credentials(R"({"AccessKeyId":"A","SecretAccessKey":"s","Expiration":"tomorrow"})", "r"));
  CHECK(parse_imds_credentials("not json", "r").error().code == Errc::Parse);
}

TEST_CASE("ISO 8601 UTC times") {
  auto secs = [](const char* s) {
    auto t = parse_iso8601_utc(s);
    REQUIRE(t);
    return std::chrono::duration_cast<std::chrono::seconds>(t->time_since_epoch()).count();
  };
  CHECK(secs("1970-01-01T00:00:00Z") == 0);
  CHECK(secs("2000-03-01T00:00:00Z") == 951868800);
  CHECK(secs("2024-02-29T23:59:59.123Z") == 1709251199);
  CHECK(secs("2099-01-01T00:00:00z") == 4070908800);
  for (const char* bad : {"", "2024-05-01", "2024-05-01T18:00:00", "2024-05-01T18:00:00+02:00", "2024-13-01T00:00:00Z",
                          "2024-05-01 18:00:00Z", "2024-05-01T18:00:00ZZ"}) {
    CAPTURE(bad);
    CHECK_FALSE(parse_iso8601_utc(bad));
  }
}

TEST_CASE("credentials are refreshed five minutes before they expire, on the steady clock") {
  const auto wall = std::chrono::system_clock::time_point(std::chrono::hours(480000));
  const auto steady = std::chrono::steady_clock::time_point(std::chrono::hours(1));
  CHECK(refresh_at(wall + 6h, wall, steady) == steady + 6h - 5min);
  CHECK(refresh_at(wall + 5min + 1s, wall, steady) == steady + 1s);
  // Already inside the margin: still valid, checked again every 10 s (or at expiry if sooner).
  CHECK(refresh_at(wall + 3min, wall, steady) == steady + 10s);
  CHECK(refresh_at(wall + 4s, wall, steady) == steady + 4s);
  CHECK(refresh_at(wall - 1s, wall, steady) == steady);
}
