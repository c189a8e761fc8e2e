// CurlImds against the loopback IMDS emulator: real HTTP, real libcurl, no fakes.
#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdlib>
#include <optional>
#include <string>
#include <vector>

#include "agent/platform/curl_imds.h"
#include "agent/platform/steady_clock.h"
#include "tests/integration/imds_fixture.h"

using agent::Errc;
using agent::platform::CurlImds;
using agent::platform::resolve_imds_endpoint;
using agent::platform::SteadyClock;
using agent::test::ImdsEmulator;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMac = "02:4d:8a:1f:3c:5e";

CurlImds::Options options_for(const ImdsEmulator& imds) {
  CurlImds::Options o;
  o.endpoint = imds.endpoint();
  o.jitter_seed = 42;
  return o;
}

int gets(ImdsEmulator& imds, const std::string& path) {
  auto s = imds.stats();
  return s["gets"].contains(path) ? s["gets"][path].get<int>() : 0;
}

nlohmann::json fault(const std::string& path, int status, int count = -1) {
  return {{"action", "fault"}, {"path", path}, {"status", status}, {"count", count}};
}

// A loopback port that refuses connections: bound, never listening.
class ClosedPort {
 public:
  ClosedPort() : fd_(socket(AF_INET, SOCK_STREAM, 0)) {
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof addr;
    REQUIRE(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0);
    REQUIRE(getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len) == 0);
    port_ = ntohs(addr.sin_port);
  }
  ~ClosedPort() { close(fd_); }
  std::string endpoint() const { return "http://127.0.0.1:" + std::to_string(port_); }

 private:
  int fd_;
  int port_ = 0;
};

// Sets environment variables for one test and restores them afterwards.
class EnvGuard {
 public:
  void set(const char* name, const char* value) {
    const char* old = std::getenv(name);
    saved_.push_back({name, old ? std::optional<std::string>(old) : std::nullopt});
    setenv(name, value, 1);
  }
  ~EnvGuard() {
    for (auto it = saved_.rbegin(); it != saved_.rend(); ++it) {
      if (it->second) {
        setenv(it->first.c_str(), it->second->c_str(), 1);
      } else {
        unsetenv(it->first.c_str());
      }
    }
  }

 private:
  std::vector<std::pair<std::string, std::optional<std::string>>> saved_;
};

}  // namespace

TEST_CASE("CurlImds returns the values IMDS serves") {
  ImdsEmulator imds;
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);

  auto id = client.get("latest/meta-data/instance-id");
  REQUIRE(id.has_value());
  CHECK(*id == "i-0123456789abcdef0");
  CHECK(client.get("/latest/meta-data/instance-type").value() == "m5.large");  // one leading '/' is fine
  auto doc = client.get("latest/dynamic/instance-identity/document");
  REQUIRE(doc.has_value());
  CHECK(nlohmann::json::parse(*doc)["region"] == "us-west-2");
  auto cidrs = client.get(std::string("latest/meta-data/network/interfaces/macs/") + kMac + "/vpc-ipv4-cidr-blocks");
  REQUIRE(cidrs.has_value());
  CHECK(*cidrs == "10.0.0.0/16");
  auto listing = client.get("latest/meta-data/");
  REQUIRE(listing.has_value());
  CHECK(listing->find("instance-id\n") != std::string::npos);
}

TEST_CASE("CurlImds returns user data byte for byte") {
  ImdsEmulator imds;
  std::string user_data = "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B--\r\n\n";
  imds.control({{"action", "set_values"}, {"values", {{"latest/user-data", user_data}}}});
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get("latest/user-data");
  REQUIRE(got.has_value());
  CHECK(*got == user_data);
}

TEST_CASE("CurlImds fetches one token and reuses it for every request") {
  ImdsEmulator imds;
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  CHECK(client.get("latest/meta-data/mac").has_value());
  CHECK(client.get("latest/meta-data/local-ipv4").has_value());
  auto many = client.get_many({"latest/meta-data/instance-id", "latest/meta-data/placement/region",
                               "latest/meta-data/services/domain"});
  for (auto& r : many) CHECK(r.has_value());

  CHECK(imds.stats()["token_puts"] == 1);
  CHECK(client.stats().token_fetches == 1);
  CHECK(client.stats().requests == 6);
  CHECK(client.stats().round_trips == 4);  // token, get, get, one batch
}

TEST_CASE("CurlImds refreshes an expired token once and succeeds") {
  ImdsEmulator imds;
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  REQUIRE(client.get("latest/meta-data/mac").has_value());
  imds.control({{"action", "expire_tokens"}});

  auto got = client.get("latest/meta-data/instance-id");
  REQUIRE(got.has_value());
  CHECK(*got == "i-0123456789abcdef0");
  auto s = imds.stats();
  CHECK(s["token_puts"] == 2);
  CHECK(s["statuses"]["401"] == 1);
  CHECK(client.stats().token_fetches == 2);
}

TEST_CASE("CurlImds reports Denied when a fresh token is rejected too") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 401));
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Denied);
  CHECK(imds.stats()["token_puts"] == 2);
  CHECK(gets(imds, "latest/meta-data/mac") == 2);
}

TEST_CASE("CurlImds maps 404 to NotFound, naming the path and endpoint") {
  ImdsEmulator imds;
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get("latest/user-data");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::NotFound);
  CHECK(got.error().message.find("latest/user-data") != std::string::npos);
  CHECK(got.error().message.find(imds.endpoint()) != std::string::npos);
  CHECK(gets(imds, "latest/user-data") == 1);  // 404 is final, not retried

  imds.control(fault("latest/meta-data/mac", 404));
  CHECK(client.get("latest/meta-data/mac").error().code == Errc::NotFound);
}

TEST_CASE("CurlImds get_many keeps the order of paths and mixes values and errors") {
  ImdsEmulator imds;
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get_many({"latest/meta-data/instance-type", "latest/user-data", "bad path", "latest/meta-data/mac"});
  REQUIRE(got.size() == 4);
  CHECK(got[0].value() == "m5.large");
  CHECK(got[1].error().code == Errc::NotFound);
  CHECK(got[2].error().code == Errc::Invalid);
  CHECK(got[3].value() == kMac);
  CHECK(imds.stats()["requests"] == 4);  // the malformed path never reached IMDS
}

TEST_CASE("CurlImds retries 5xx and 429 with backoff") {
  ImdsEmulator imds;
  imds.control(fault("latest/api/token", 503, 2));
  imds.control(fault("latest/meta-data/local-ipv4", 500, 2));
  imds.control(fault("latest/meta-data/instance-type", 429, 1));
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);

  auto got = client.get_many({"latest/meta-data/local-ipv4", "latest/meta-data/instance-type"});
  CHECK(got[0].value() == "10.0.12.34");
  CHECK(got[1].value() == "m5.large");
  CHECK(imds.stats()["token_puts"] == 3);  // 503, 503, then a token
  CHECK(client.stats().token_fetches == 1);
  CHECK(gets(imds, "latest/meta-data/local-ipv4") == 3);  // 500, 500, 200
  CHECK(gets(imds, "latest/meta-data/instance-type") == 2);  // 429, 200
  CHECK(client.stats().round_trips == 6);  // 3 token attempts, then 3 rounds for the batch
}

TEST_CASE("CurlImds gives up with Unavailable when 5xx persists for every attempt") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 503));
  SteadyClock clock;
  auto o = options_for(imds);
  o.max_attempts = 3;
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  CurlImds client(o, clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Unavailable);
  CHECK(got.error().message.find("HTTP 503") != std::string::npos);
  CHECK(gets(imds, "latest/meta-data/mac") == 3);
}

TEST_CASE("CurlImds maps 403 to Denied without retrying") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 403));
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Denied);
  CHECK(got.error().message.find("HttpTokens") != std::string::npos);
  CHECK(gets(imds, "latest/meta-data/mac") == 1);
}

TEST_CASE("CurlImds reports a token TTL IMDS rejects as Invalid") {
  ImdsEmulator imds;
  SteadyClock clock;
  auto o = options_for(imds);
  o.token_ttl_seconds = 0;
  CurlImds client(o, clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].error().code == Errc::Invalid);
  CHECK(got[1].error().code == Errc::Invalid);
  CHECK(got[0].error().message.find("latest/meta-data/mac") != std::string::npos);
  CHECK(imds.stats()["token_puts"] == 1);
}

TEST_CASE("CurlImds times out on a hung IMDS within the overall deadline") {
  ImdsEmulator imds;
  imds.control({{"action", "fault"}, {"path", "latest/meta-data/mac"}, {"hang", true}});
  SteadyClock clock;
  auto o = options_for(imds);
  o.overall = 1000ms;
  o.request_timeout = 400ms;
  CurlImds client(o, clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  REQUIRE_FALSE(got[0].has_value());
  CHECK(got[0].error().code == Errc::Timeout);
  CHECK(got[0].error().message.find("1000 ms") != std::string::npos);
  CHECK(got[1].value() == "i-0123456789abcdef0");  // the other path is not held up
  CHECK(gets(imds, "latest/meta-data/mac") >= 2);     // timed-out attempts are retried
  CHECK(gets(imds, "latest/meta-data/instance-id") == 1);
}

TEST_CASE("CurlImds reports Unavailable with a clear message when nothing listens") {
  ClosedPort closed;
  SteadyClock clock;
  CurlImds::Options o;
  o.endpoint = closed.endpoint();
  o.max_attempts = 3;
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  o.jitter_seed = 7;
  CurlImds client(o, clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Unavailable);
  const std::string& m = got.error().message;
  CHECK(m.find(closed.endpoint()) != std::string::npos);
  CHECK(m.find("could not connect after 3 attempt(s)") != std::string::npos);
  CHECK(m.find("HttpTokens") != std::string::npos);
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().token_fetches == 0);
}

TEST_CASE("CurlImds get_many fetches independent paths concurrently in one round trip") {
  ImdsEmulator imds({.latency_ms = 50});
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  std::vector<std::string> paths = {
      "latest/meta-data/instance-id",       "latest/meta-data/instance-type",
      "latest/meta-data/local-ipv4",        "latest/meta-data/local-hostname",
      "latest/meta-data/mac",               "latest/meta-data/placement/availability-zone",
      "latest/meta-data/services/domain",   "latest/dynamic/instance-identity/document",
  };
  auto got = client.get_many(paths);
  for (auto& r : got) CHECK(r.has_value());
  CHECK(imds.stats()["max_in_flight"].get<int>() >= 4);
  CHECK(client.stats().round_trips <= 2);
  CHECK(client.stats().requests == 9);
}

TEST_CASE("CurlImds ignores proxy variables and never sends X-Forwarded-For") {
  ImdsEmulator imds;
  EnvGuard env;
  for (const char* name : {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    env.set(name, "http://127.0.0.1:9");
  }
  env.set("no_proxy", "");
  env.set("NO_PROXY", "");
  SteadyClock clock;
  CurlImds client(options_for(imds), clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].value() == kMac);
  CHECK(got[1].value() == "i-0123456789abcdef0");
  auto s = imds.stats();
  CHECK(s["forwarded_rejected"] == 0);
  CHECK_FALSE(s["statuses"].contains("403"));
}

TEST_CASE("resolve_imds_endpoint: flag, then AWS_EC2_METADATA_SERVICE_ENDPOINT, then IMDS_ENDPOINT") {
  struct Row {
    std::optional<std::string> flag;
    const char* aws_env;
    const char* imds_env;
    std::string want;
  };
  const std::vector<Row> rows = {
      {std::nullopt, nullptr, nullptr, "http://169.254.169.254"},
      {std::nullopt, "", "", "http://169.254.169.254"},
      {std::nullopt, nullptr, "127.0.0.1:1338", "http://127.0.0.1:1338"},
      {std::nullopt, "http://[fd00:ec2::254]/", "127.0.0.1:1338", "http://[fd00:ec2::254]"},
      {std::nullopt, "http://10.0.0.1:8080//", nullptr, "http://10.0.0.1:8080"},
      {"http://localhost:9000/", "http://[fd00:ec2::254]", "127.0.0.1:1338", "http://localhost:9000"},
      {"localhost:9000", nullptr, nullptr, "http://localhost:9000"},
      {"", "http://10.0.0.1", nullptr, "http://10.0.0.1"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.want);
    CHECK(resolve_imds_endpoint(r.flag, r.aws_env, r.imds_env) == r.want);
  }
}
