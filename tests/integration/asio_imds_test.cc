// AsioImds against the loopback IMDS emulator (real HTTP, no fakes), plus a canned-reply server
// for what the emulator never does: chunked bodies, odd header case, truncated, oversized or
// non-HTTP answers, connections closed under a kept-alive client, IPv6.
#include "agent/platform/asio_imds.h"

#include <arpa/inet.h>
#include <doctest/doctest.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "agent/platform/steady_clock.h"
#include "tests/integration/imds_fixture.h"
#include "tests/support/manual_clock.h"

using agent::Errc;
using agent::platform::AsioImds;
using agent::platform::resolve_imds_endpoint;
using agent::platform::SteadyClock;
using agent::test::ImdsEmulator;
using agent::testing::ManualClock;
using namespace std::chrono_literals;

namespace {

constexpr const char* kMac = "02:4d:8a:1f:3c:5e";
constexpr const char* kCannedToken = "AQAEAcannedTOKENvalue==";

AsioImds::Options options_for(const std::string& endpoint) {
  AsioImds::Options o;
  o.endpoint = endpoint;
  o.jitter_seed = 42;
  return o;
}

AsioImds::Options options_for(const ImdsEmulator& imds) { return options_for(imds.endpoint()); }

int gets(ImdsEmulator& imds, const std::string& path) {
  auto s = imds.stats();
  return s["gets"].contains(path) ? s["gets"][path].get<int>() : 0;
}

nlohmann::json fault(const std::string& path, int status, int count = -1) {
  return {{"action", "fault"}, {"path", path}, {"status", status}, {"count", count}};
}

bool contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
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

// A loopback HTTP server that answers each request (read up to its blank line; the client sends
// no bodies) with the bytes a test chooses. One thread per connection; connections stay open for
// further requests unless the reply says otherwise.
class CannedServer {
 public:
  struct Reply {
    std::vector<std::string> parts;  // written in order, 20 ms apart, to split the client's reads
    bool close = false;  // close the connection after writing (whatever the headers say)
  };
  using Handler = std::function<Reply(const std::string& request_head)>;

  explicit CannedServer(Handler handler, bool ipv6 = false)
      : handler_(std::move(handler)), ipv6_(ipv6) {
    listen_fd_ = socket(ipv6 ? AF_INET6 : AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    REQUIRE(listen_fd_ >= 0);
    sockaddr_storage storage{};
    socklen_t len = 0;
    if (ipv6) {
      auto* a = reinterpret_cast<sockaddr_in6*>(&storage);
      a->sin6_family = AF_INET6;
      a->sin6_addr = in6addr_loopback;
      len = sizeof(sockaddr_in6);
    } else {
      auto* a = reinterpret_cast<sockaddr_in*>(&storage);
      a->sin_family = AF_INET;
      a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
      len = sizeof(sockaddr_in);
    }
    auto* addr = reinterpret_cast<sockaddr*>(&storage);
    REQUIRE(bind(listen_fd_, addr, len) == 0);
    REQUIRE(getsockname(listen_fd_, addr, &len) == 0);
    REQUIRE(listen(listen_fd_, 64) == 0);
    port_ = ntohs(ipv6 ? reinterpret_cast<sockaddr_in6*>(&storage)->sin6_port
                       : reinterpret_cast<sockaddr_in*>(&storage)->sin_port);
    acceptor_ = std::thread([this] { accept_loop(); });
  }

  ~CannedServer() {
    shutdown(listen_fd_, SHUT_RDWR);  // wakes accept()
    acceptor_.join();
    {
      std::lock_guard lock(mu_);
      for (int fd : open_fds_) shutdown(fd, SHUT_RDWR);
    }
    for (auto& t : workers_) t.join();
    close(listen_fd_);
  }

  std::string endpoint() const {
    return std::string(ipv6_ ? "http://[::1]:" : "http://127.0.0.1:") + std::to_string(port_);
  }
  int port() const { return port_; }
  int connections() {
    std::lock_guard lock(mu_);
    return accepted_;
  }
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }

  // Helpers for handlers.
  static Reply http(int status, const std::string& body, const std::string& extra_headers = "") {
    return {{"HTTP/1.1 " + std::to_string(status) + " X\r\nContent-Length: " +
             std::to_string(body.size()) + "\r\n" + extra_headers + "\r\n" + body}};
  }
  static bool is_token_put(const std::string& head) {
    return head.rfind("PUT /latest/api/token ", 0) == 0;
  }
  static Reply token() { return http(200, kCannedToken); }

 private:
  void accept_loop() {
    for (;;) {
      int fd = accept4(listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
      if (fd < 0) return;
      std::lock_guard lock(mu_);
      ++accepted_;
      open_fds_.push_back(fd);
      workers_.emplace_back([this, fd] { serve(fd); });
    }
  }

  void close_fd(int fd) {
    std::lock_guard lock(mu_);
    open_fds_.erase(std::remove(open_fds_.begin(), open_fds_.end(), fd), open_fds_.end());
    close(fd);
  }

  void serve(int fd) {
    std::string buf;
    char chunk[4096];
    for (;;) {
      size_t end;
      while ((end = buf.find("\r\n\r\n")) == std::string::npos) {
        ssize_t n = recv(fd, chunk, sizeof chunk, 0);
        if (n <= 0) return close_fd(fd);
        buf.append(chunk, static_cast<size_t>(n));
      }
      std::string head = buf.substr(0, end + 4);
      buf.erase(0, end + 4);
      {
        std::lock_guard lock(mu_);
        requests_.push_back(head);
      }
      Reply reply = handler_(head);
      for (size_t i = 0; i < reply.parts.size(); ++i) {
        if (i > 0) std::this_thread::sleep_for(20ms);
        const std::string& part = reply.parts[i];
        for (size_t off = 0; off < part.size();) {
          ssize_t n = send(fd, part.data() + off, part.size() - off, MSG_NOSIGNAL);
          if (n <= 0) return close_fd(fd);
          off += static_cast<size_t>(n);
        }
      }
      if (reply.close) return close_fd(fd);
    }
  }

  Handler handler_;
  bool ipv6_;
  int listen_fd_ = -1;
  int port_ = 0;
  std::thread acceptor_;
  std::mutex mu_;
  std::vector<std::thread> workers_;  // appended by the acceptor only; joined after it
  std::vector<int> open_fds_;
  std::vector<std::string> requests_;
  int accepted_ = 0;
};

using Reply = CannedServer::Reply;

}  // namespace

TEST_CASE("AsioImds returns the values IMDS serves") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);

  auto id = client.get("latest/meta-data/instance-id");
  REQUIRE(id.has_value());
  CHECK(*id == "i-0123456789abcdef0");
  CHECK(client.get("/latest/meta-data/instance-type").value() ==
        "m5.large");  // one leading '/' is fine
  auto doc = client.get("latest/dynamic/instance-identity/document");
  REQUIRE(doc.has_value());
  CHECK(nlohmann::json::parse(*doc)["region"] == "us-west-2");
  auto cidrs = client.get(std::string("latest/meta-data/network/interfaces/macs/") + kMac +
                          "/vpc-ipv4-cidr-blocks");
  REQUIRE(cidrs.has_value());
  CHECK(*cidrs == "10.0.0.0/16");
  auto listing = client.get("latest/meta-data/");
  REQUIRE(listing.has_value());
  CHECK(listing->find("instance-id\n") != std::string::npos);
}

TEST_CASE("AsioImds returns user data byte for byte") {
  ImdsEmulator imds;
  std::string user_data =
      "MIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=\"B\"\r\n\r\n--B--\r\n\n";
  imds.control({{"action", "set_values"}, {"values", {{"latest/user-data", user_data}}}});
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get("latest/user-data");
  REQUIRE(got.has_value());
  CHECK(*got == user_data);
}

TEST_CASE("AsioImds fetches one token and reuses it for every request") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
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

TEST_CASE("AsioImds refreshes an expired token once and succeeds") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
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

TEST_CASE("AsioImds refreshes the token shortly before its TTL runs out, without a 401") {
  ImdsEmulator imds;
  ManualClock clock;
  auto o = options_for(imds);
  o.overall = 1h;  // the manual clock jumps minutes; keep the budget out of the way
  AsioImds client(o, clock);
  REQUIRE(client.get("latest/meta-data/mac").has_value());
  clock.advance(260s);  // 300 s TTL: still comfortably valid
  REQUIRE(client.get("latest/meta-data/mac").has_value());
  CHECK(client.stats().token_fetches == 1);
  clock.advance(15s);  // 275 s: within the last 10% of the TTL
  REQUIRE(client.get("latest/meta-data/mac").has_value());
  CHECK(client.stats().token_fetches == 2);
  auto s = imds.stats();
  CHECK(s["token_puts"] == 2);
  CHECK_FALSE(s["statuses"].contains("401"));
}

TEST_CASE("AsioImds reports Denied when a fresh token is rejected too") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 401));
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Denied);
  CHECK(imds.stats()["token_puts"] == 2);
  CHECK(gets(imds, "latest/meta-data/mac") == 2);
}

TEST_CASE("AsioImds maps 404 to NotFound, naming the path and endpoint") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get("latest/user-data");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::NotFound);
  CHECK(got.error().message.find("latest/user-data") != std::string::npos);
  CHECK(got.error().message.find(imds.endpoint()) != std::string::npos);
  CHECK(gets(imds, "latest/user-data") == 1);  // 404 is final, not retried

  imds.control(fault("latest/meta-data/mac", 404));
  CHECK(client.get("latest/meta-data/mac").error().code == Errc::NotFound);
}

TEST_CASE("AsioImds retries 404 only on the paths it is told to, then gives up as NotFound") {
  ImdsEmulator imds;
  const std::string doc = "latest/dynamic/instance-identity/document";
  imds.control(fault(doc, 404, 2));
  imds.control(fault("latest/meta-data/mac", 404, 1));
  SteadyClock clock;
  auto o = options_for(imds);
  o.retry_not_found = {doc};
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  AsioImds client(o, clock);
  auto got = client.get_many({doc, "latest/meta-data/mac"});
  CHECK(got[0].has_value());
  CHECK(contains(got[0].value(), "instanceId"));
  CHECK(gets(imds, doc) == 3);  // 404, 404, 200
  REQUIRE_FALSE(got[1].has_value());
  CHECK(got[1].error().code == Errc::NotFound);  // not listed: the 404 is final
  CHECK(gets(imds, "latest/meta-data/mac") == 1);

  imds.control(fault(doc, 404));  // a 404 that never goes away ends as NotFound
  o.max_attempts = 4;
  AsioImds persistent(o, clock);
  auto missing = persistent.get(doc);
  REQUIRE_FALSE(missing.has_value());
  CHECK(missing.error().code == Errc::NotFound);
  CHECK(contains(missing.error().message, "after 4 attempts"));
  CHECK(gets(imds, doc) == 3 + 4);
}

TEST_CASE("AsioImds maps the token PUT's 404 and 405 to Unsupported and its 403 to Denied") {
  struct Row {
    int status;
    Errc want;
  };
  for (Row r : {Row{404, Errc::Unsupported}, Row{405, Errc::Unsupported}, Row{403, Errc::Denied}}) {
    CAPTURE(r.status);
    ImdsEmulator imds;
    imds.control(fault("latest/api/token", r.status));
    SteadyClock clock;
    AsioImds client(options_for(imds), clock);
    auto got = client.get("latest/meta-data/mac");
    REQUIRE_FALSE(got.has_value());
    CHECK(got.error().code == r.want);
    CHECK(contains(got.error().message, "latest/meta-data/mac"));
    CHECK(contains(got.error().message, imds.endpoint()));
    CHECK(imds.stats()["token_puts"] == 1);  // final, not retried
    CHECK(gets(imds, "latest/meta-data/mac") == 0);
  }
}

TEST_CASE("AsioImds get_many keeps the order of paths and mixes values and errors") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get_many(
      {"latest/meta-data/instance-type", "latest/user-data", "bad path", "latest/meta-data/mac"});
  REQUIRE(got.size() == 4);
  CHECK(got[0].value() == "m5.large");
  CHECK(got[1].error().code == Errc::NotFound);
  CHECK(got[2].error().code == Errc::Invalid);
  CHECK(got[3].value() == kMac);
  CHECK(imds.stats()["requests"] == 4);  // the malformed path never reached IMDS
}

TEST_CASE("AsioImds refuses paths that could alter the request line") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got =
      client.get_many({"", "/", "latest/meta-data/mac?x=1", "latest/meta-data/mac HTTP/1.1\r\nX: y",
                       "latest/meta-data/%2e%2e", "latest/meta-data/mac#frag"});
  for (auto& r : got) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
  }
  CHECK(imds.stats()["requests"] == 0);
  CHECK(client.stats().requests == 0);
}

TEST_CASE("AsioImds retries 5xx and 429 with backoff") {
  ImdsEmulator imds;
  imds.control(fault("latest/api/token", 503, 2));
  imds.control(fault("latest/meta-data/local-ipv4", 500, 2));
  imds.control(fault("latest/meta-data/instance-type", 429, 1));
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);

  auto got = client.get_many({"latest/meta-data/local-ipv4", "latest/meta-data/instance-type"});
  CHECK(got[0].value() == "10.0.12.34");
  CHECK(got[1].value() == "m5.large");
  CHECK(imds.stats()["token_puts"] == 3);  // 503, 503, then a token
  CHECK(client.stats().token_fetches == 1);
  CHECK(gets(imds, "latest/meta-data/local-ipv4") == 3);     // 500, 500, 200
  CHECK(gets(imds, "latest/meta-data/instance-type") == 2);  // 429, 200
  CHECK(client.stats().round_trips == 6);  // 3 token attempts, then 3 rounds for the batch
}

TEST_CASE("AsioImds backs off with capped full jitter between retries") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 503, 4));
  ManualClock clock;
  auto o = options_for(imds);
  o.backoff_base = 100ms;
  o.backoff_cap = 250ms;
  AsioImds client(o, clock);
  auto start = clock.now();
  REQUIRE(client.get("latest/meta-data/mac").value() == kMac);
  REQUIRE(clock.sleeps().size() == 4);
  auto prev = start;
  const std::chrono::milliseconds ceilings[] = {100ms, 200ms, 250ms, 250ms};
  for (size_t i = 0; i < 4; ++i) {
    CAPTURE(i);
    auto slept = clock.sleeps()[i] - prev;
    CHECK(slept >= 0ms);
    CHECK(slept <= ceilings[i]);
    prev = clock.sleeps()[i];
  }
}

TEST_CASE("AsioImds gives up with Unavailable when 5xx persists for every attempt") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 503));
  SteadyClock clock;
  auto o = options_for(imds);
  o.max_attempts = 3;
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  AsioImds client(o, clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Unavailable);
  CHECK(got.error().message.find("HTTP 503") != std::string::npos);
  CHECK(gets(imds, "latest/meta-data/mac") == 3);
}

TEST_CASE("AsioImds maps 403 to Denied without retrying") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 403));
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Denied);
  CHECK(got.error().message.find("HttpTokens") != std::string::npos);
  CHECK(gets(imds, "latest/meta-data/mac") == 1);
}

TEST_CASE("AsioImds maps other 4xx to a final error and 400 to Invalid") {
  ImdsEmulator imds;
  imds.control(fault("latest/meta-data/mac", 400));
  imds.control(fault("latest/meta-data/instance-id", 418));
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].error().code == Errc::Invalid);
  CHECK(got[1].error().code == Errc::Unavailable);
  CHECK(contains(got[1].error().message, "HTTP 418"));
  CHECK(gets(imds, "latest/meta-data/mac") == 1);
  CHECK(gets(imds, "latest/meta-data/instance-id") == 1);
}

TEST_CASE("AsioImds reports a token TTL IMDS rejects as Invalid") {
  ImdsEmulator imds;
  SteadyClock clock;
  auto o = options_for(imds);
  o.token_ttl_seconds = 0;
  AsioImds client(o, clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].error().code == Errc::Invalid);
  CHECK(got[1].error().code == Errc::Invalid);
  CHECK(got[0].error().message.find("latest/meta-data/mac") != std::string::npos);
  CHECK(imds.stats()["token_puts"] == 1);
}

TEST_CASE("AsioImds times out on a hung IMDS within the overall deadline") {
  ImdsEmulator imds;
  imds.control({{"action", "fault"}, {"path", "latest/meta-data/mac"}, {"hang", true}});
  SteadyClock clock;
  auto o = options_for(imds);
  o.overall = 1000ms;
  o.request_timeout = 400ms;
  AsioImds client(o, clock);
  auto t0 = std::chrono::steady_clock::now();
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  auto took = std::chrono::steady_clock::now() - t0;
  REQUIRE_FALSE(got[0].has_value());
  CHECK(got[0].error().code == Errc::Timeout);
  CHECK(got[0].error().message.find("1000 ms") != std::string::npos);
  CHECK(got[1].value() == "i-0123456789abcdef0");  // the other path is not held up
  CHECK(gets(imds, "latest/meta-data/mac") >= 2);  // timed-out attempts are retried
  CHECK(gets(imds, "latest/meta-data/instance-id") == 1);
  CHECK(took < 1500ms);  // the deadline holds (with slack for a loaded machine)
}

TEST_CASE("AsioImds keeps one budget across calls: once spent, nothing more is sent") {
  ImdsEmulator imds;
  ManualClock clock;
  auto o = options_for(imds);
  o.overall = 10s;
  AsioImds client(o, clock);
  REQUIRE(client.get("latest/meta-data/mac").has_value());
  int requests = client.stats().requests;
  clock.advance(11s);
  auto got = client.get("latest/meta-data/instance-id");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Timeout);
  CHECK(contains(got.error().message, "10000 ms"));
  CHECK(client.stats().requests == requests);
}

TEST_CASE("AsioImds reports Unavailable with a clear message when nothing listens") {
  ClosedPort closed;
  SteadyClock clock;
  AsioImds::Options o;
  o.endpoint = closed.endpoint();
  o.max_attempts = 3;
  o.backoff_base = 1ms;
  o.backoff_cap = 5ms;
  o.jitter_seed = 7;
  AsioImds client(o, clock);
  auto got = client.get("latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Unavailable);
  const std::string& m = got.error().message;
  CHECK(m.find(closed.endpoint()) != std::string::npos);
  CHECK(m.find("could not connect after 3 attempt(s)") != std::string::npos);
  CHECK(m.find("Connection refused") != std::string::npos);
  CHECK(m.find("HttpTokens") != std::string::npos);
  CHECK(client.stats().requests == 3);
  CHECK(client.stats().token_fetches == 0);
}

TEST_CASE("AsioImds get_many fetches independent paths concurrently in one round trip") {
  ImdsEmulator imds({.latency_ms = 50});
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  std::vector<std::string> paths = {
      "latest/meta-data/instance-id",
      "latest/meta-data/instance-type",
      "latest/meta-data/local-ipv4",
      "latest/meta-data/local-hostname",
      "latest/meta-data/mac",
      "latest/meta-data/placement/availability-zone",
      "latest/meta-data/services/domain",
      "latest/dynamic/instance-identity/document",
  };
  auto t0 = std::chrono::steady_clock::now();
  auto got = client.get_many(paths);
  auto took = std::chrono::steady_clock::now() - t0;
  for (auto& r : got) CHECK(r.has_value());
  CHECK(imds.stats()["max_in_flight"].get<int>() >= 4);
  CHECK(client.stats().round_trips <= 2);
  CHECK(client.stats().requests == 9);
  CHECK(took < 400ms);  // 2 x 50 ms of latency, not 9 x 50 ms
}

TEST_CASE("AsioImds ignores proxy variables and never sends X-Forwarded-For") {
  ImdsEmulator imds;
  EnvGuard env;
  for (const char* name :
       {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"}) {
    env.set(name, "http://127.0.0.1:9");
  }
  env.set("no_proxy", "");
  env.set("NO_PROXY", "");
  SteadyClock clock;
  AsioImds client(options_for(imds), clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].value() == kMac);
  CHECK(got[1].value() == "i-0123456789abcdef0");
  auto s = imds.stats();
  CHECK(s["forwarded_rejected"] == 0);
  CHECK_FALSE(s["statuses"].contains("403"));
}

TEST_CASE("AsioImds resolves a host name endpoint") {
  ImdsEmulator imds;
  SteadyClock clock;
  AsioImds client(options_for("http://localhost:" + std::to_string(imds.port())), clock);
  auto got = client.get_many({"latest/meta-data/mac", "latest/meta-data/instance-id"});
  CHECK(got[0].value() == kMac);
  CHECK(got[1].value() == "i-0123456789abcdef0");
  CHECK(client.get("latest/meta-data/instance-type").value() == "m5.large");
}

TEST_CASE("AsioImds sends a plain IMDSv2 request and keeps the token out of errors") {
  CannedServer server([](const std::string& head) {
    if (CannedServer::is_token_put(head)) return CannedServer::token();
    return CannedServer::http(500, "boom\n");
  });
  SteadyClock clock;
  auto o = options_for(server.endpoint());
  o.max_attempts = 2;
  o.backoff_base = 1ms;
  o.token_ttl_seconds = 21600;
  AsioImds client(o, clock);
  auto got = client.get("/latest/meta-data/mac");
  REQUIRE_FALSE(got.has_value());
  CHECK(got.error().code == Errc::Unavailable);
  CHECK(contains(got.error().message, "HTTP 500"));
  CHECK_FALSE(contains(got.error().message, kCannedToken));

  auto reqs = server.requests();
  REQUIRE(reqs.size() == 3);
  std::string host = "Host: 127.0.0.1:" + std::to_string(server.port()) + "\r\n";
  CHECK(reqs[0].rfind("PUT /latest/api/token HTTP/1.1\r\n", 0) == 0);
  CHECK(contains(reqs[0], "\r\nX-aws-ec2-metadata-token-ttl-seconds: 21600\r\n"));
  CHECK(contains(reqs[0], "\r\nContent-Length: 0\r\n"));
  CHECK_FALSE(contains(reqs[0], "X-aws-ec2-metadata-token:"));
  for (const auto& r : reqs) {
    CHECK(contains(r, host));
    CHECK_FALSE(contains(r, "X-Forwarded-For"));
  }
  CHECK(reqs[1].rfind("GET /latest/meta-data/mac HTTP/1.1\r\n", 0) == 0);
  CHECK(contains(reqs[1], std::string("\r\nX-aws-ec2-metadata-token: ") + kCannedToken + "\r\n"));
  CHECK(reqs[2] == reqs[1]);  // the retry is the same request
}

TEST_CASE("AsioImds reads chunked bodies, header names in any case and split reads") {
  CannedServer server([](const std::string& head) -> Reply {
    if (CannedServer::is_token_put(head)) {
      return {{"HTTP/1.1 200 OK\r\ncontent-LENGTH:  ",
               std::to_string(std::string(kCannedToken).size()), "\r\n\r\n", kCannedToken}};
    }
    if (contains(head, "/chunked ")) {
      return {
          {"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTRANSFER-encoding: "
           "Chunked\r\n\r\n5;ext=1\r\nhel",
           "lo\r\n7\r", "\n, world\r\n0\r\nX-Trailer: y\r\n\r\n"}};
    }
    if (contains(head, "/split "))
      return {{"HTT", "P/1.1 200 OK\r\nConte", "nt-Length: 5\r\n\r", "\nval", "ue"}};
    if (contains(head, "/empty ")) return CannedServer::http(200, "");
    return CannedServer::http(404, "");
  });
  SteadyClock clock;
  AsioImds client(options_for(server.endpoint()), clock);
  auto got = client.get_many({"chunked", "split", "empty"});
  CHECK(got[0].value() == "hello, world");
  CHECK(got[1].value() == "value");
  CHECK(got[2].value() == "");
  CHECK(client.stats().token_fetches == 1);
}

TEST_CASE("AsioImds refuses bodies over 1 MiB, however they are framed, without retrying") {
  const std::string mib(std::size_t{1} << 20, 'x');
  std::atomic<int> gets{0};
  CannedServer server([&](const std::string& head) -> Reply {
    if (CannedServer::is_token_put(head)) return CannedServer::token();
    ++gets;
    if (contains(head, "/exact ")) return CannedServer::http(200, mib);
    if (contains(head, "/length "))
      return {{"HTTP/1.1 200 OK\r\nContent-Length: 1048577\r\n\r\nxx"}};
    if (contains(head, "/chunked ")) {
      return {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n80000\r\n" +
               mib.substr(0, 0x80000) + "\r\n80001\r\n" + mib + "x"}};
    }
    return {{"HTTP/1.1 200 OK\r\n\r\n" + mib + "x"}, true};  // delimited by closing
  });
  SteadyClock clock;
  AsioImds client(options_for(server.endpoint()), clock);
  auto got = client.get_many({"exact", "length", "chunked", "until-close"});
  REQUIRE(got[0].has_value());
  CHECK(got[0]->size() == mib.size());
  for (size_t i = 1; i < got.size(); ++i) {
    CAPTURE(i);
    REQUIRE_FALSE(got[i].has_value());
    CHECK(got[i].error().code == Errc::Invalid);
    CHECK(contains(got[i].error().message, "larger than 1048576 bytes"));
    CHECK(contains(got[i].error().message, server.endpoint()));
  }
  CHECK(gets == 4);
}

TEST_CASE("AsioImds reports an answer that is not HTTP as Unavailable without retrying") {
  std::atomic<int> gets{0};
  CannedServer server([&](const std::string& head) -> Reply {
    if (CannedServer::is_token_put(head)) return CannedServer::token();
    ++gets;
    if (contains(head, "/ssh ")) return {{"SSH-2.0-OpenSSH_9.2\r\n\r\n"}};
    if (contains(head, "/status ")) return {{"HTTP/1.1 2000 OK\r\nContent-Length: 0\r\n\r\n"}};
    if (contains(head, "/length "))
      return {{"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab"}};
    if (contains(head, "/coding "))
      return {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nab"}};
    return {{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nab\r\n0\r\n\r\n"}};
  });
  SteadyClock clock;
  AsioImds client(options_for(server.endpoint()), clock);
  auto got = client.get_many({"ssh", "status", "length", "coding", "chunk"});
  for (auto& r : got) {
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Unavailable);
    CHECK(contains(r.error().message, "malformed HTTP response"));
  }
  CHECK(gets == 5);
}

TEST_CASE("AsioImds retries an answer cut short or a connection closed without one") {
  std::atomic<int> gets{0};
  CannedServer server([&](const std::string& head) -> Reply {
    if (CannedServer::is_token_put(head)) return CannedServer::token();
    int n = ++gets;
    if (n == 1) return {{"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nabc"}, true};
    if (n == 2) return {{}, true};
    return CannedServer::http(200, "whole");
  });
  SteadyClock clock;
  auto o = options_for(server.endpoint());
  o.backoff_base = 1ms;
  AsioImds client(o, clock);
  CHECK(client.get("latest/meta-data/mac").value() == "whole");
  CHECK(gets == 3);
  CHECK(client.stats().requests == 4);  // token + three attempts
}

TEST_CASE(
    "AsioImds keeps connections alive, and replaces one IMDS closed without losing an attempt") {
  std::atomic<bool> close_after_reply{false};
  CannedServer server([&](const std::string& head) -> Reply {
    Reply r =
        CannedServer::is_token_put(head) ? CannedServer::token() : CannedServer::http(200, "v");
    r.close = close_after_reply;  // closes without saying so in a header
    if (contains(head, "/say-close ")) r = CannedServer::http(200, "v", "Connection: close\r\n");
    if (contains(head, "/http10 ")) r = {{"HTTP/1.0 200 OK\r\nContent-Length: 1\r\n\r\nv"}};
    if (contains(head, "/then-408 ")) {  // some servers say why they close an idle connection
      r.parts.push_back("HTTP/1.1 408 Request Timeout\r\nContent-Length: 0\r\n\r\n");
      r.close = true;
    }
    return r;
  });
  SteadyClock clock;
  auto o = options_for(server.endpoint());
  o.max_attempts = 1;  // a stale kept connection must not cost an attempt
  AsioImds client(o, clock);
  for (int i = 0; i < 3; ++i) CHECK(client.get("a").value() == "v");
  CHECK(server.connections() == 1);  // token and three GETs on one connection

  CHECK(client.get("say-close").value() == "v");
  CHECK(client.get("a").value() == "v");
  CHECK(server.connections() == 2);
  CHECK(client.get("http10").value() == "v");
  CHECK(client.get("a").value() == "v");
  CHECK(server.connections() == 3);
  CHECK(client.get("then-408").value() == "v");
  std::this_thread::sleep_for(100ms);  // the 408 follows 20 ms after the answer
  CHECK(client.get("a").value() == "v");
  CHECK(server.connections() == 4);

  close_after_reply = true;
  for (int i = 0; i < 3; ++i) CHECK(client.get("a").value() == "v");
  CHECK(server.connections() == 6);      // the first reuses connection 4, still open
  CHECK(client.stats().requests == 13);  // one per get() (and the token): reconnects are free
  CHECK(client.stats().round_trips == 13);
}

TEST_CASE("AsioImds talks to a bracketed IPv6 endpoint") {
  CannedServer server(
      [](const std::string& head) {
        if (CannedServer::is_token_put(head)) return CannedServer::token();
        return CannedServer::http(200, kMac);
      },
      /*ipv6=*/true);
  SteadyClock clock;
  AsioImds client(options_for(server.endpoint()), clock);
  CHECK(client.get("latest/meta-data/mac").value() == kMac);
  auto reqs = server.requests();
  REQUIRE(reqs.size() == 2);
  CHECK(contains(reqs[1], "\r\nHost: [::1]:" + std::to_string(server.port()) + "\r\n"));
}

TEST_CASE("AsioImds sends requests under the endpoint's path prefix") {
  CannedServer server([](const std::string& head) {
    if (head.rfind("PUT /imds/latest/api/token ", 0) == 0) return CannedServer::token();
    if (head.rfind("GET /imds/latest/meta-data/mac ", 0) == 0) return CannedServer::http(200, kMac);
    return CannedServer::http(404, "");
  });
  SteadyClock clock;
  AsioImds client(options_for(server.endpoint() + "/imds/"), clock);
  CHECK(client.get("latest/meta-data/mac").value() == kMac);
}

TEST_CASE("AsioImds refuses an endpoint it cannot use, without sending anything") {
  const std::vector<std::string> bad = {
      "https://169.254.169.254", "ftp://169.254.169.254",
      "169.254.169.254",         "http://",
      "http://[fd00:ec2::254",   "http://[fd00:ec2::254]x",
      "http://[not-v6]",         "http://fd00:ec2::254",
      "http://127.0.0.1:0",      "http://127.0.0.1:65536",
      "http://127.0.0.1:x",      "http://user@127.0.0.1",
      "http://bad host",
  };
  for (const auto& ep : bad) {
    CAPTURE(ep);
    SteadyClock clock;
    AsioImds client(options_for(ep), clock);
    auto got = client.get_many({"latest/meta-data/mac", "bad path"});
    REQUIRE_FALSE(got[0].has_value());
    CHECK(got[0].error().code == Errc::Invalid);
    CHECK(contains(got[0].error().message, "latest/meta-data/mac"));
    CHECK(contains(got[0].error().message, ep));
    CHECK(got[1].error().code == Errc::Invalid);
    CHECK(client.stats().requests == 0);
  }
}

TEST_CASE(
    "resolve_imds_endpoint: flag, then AWS_EC2_METADATA_SERVICE_ENDPOINT, then IMDS_ENDPOINT") {
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
      {std::nullopt, nullptr, "[fd00:ec2::254]", "http://[fd00:ec2::254]"},
      {std::nullopt, "http://[fd00:ec2::254]/", "127.0.0.1:1338", "http://[fd00:ec2::254]"},
      {std::nullopt, "http://10.0.0.1:8080//", nullptr, "http://10.0.0.1:8080"},
      {"http://localhost:9000/", "http://[fd00:ec2::254]", "127.0.0.1:1338",
       "http://localhost:9000"},
      {"localhost:9000", nullptr, nullptr, "http://localhost:9000"},
      {"", "http://10.0.0.1", nullptr, "http://10.0.0.1"},
  };
  for (const auto& r : rows) {
    CAPTURE(r.want);
    CHECK(resolve_imds_endpoint(r.flag, r.aws_env, r.imds_env) == r.want);
  }
}
