// ImdsEmulator: runs tests/support/imds_emulator.py as a child process for one test.
//
//   agent::test::ImdsEmulator imds;                         // default m5.large values
//   AsioImds client({.endpoint = imds.endpoint()}, clock);
//   imds.control({{"action", "fault"}, {"path", "latest/meta-data/mac"}, {"status", 503}, {"count", 2}});
//   CHECK(imds.stats()["token_puts"] == 1);
//
// The constructor starts `python3` (from PATH, else /usr/bin/python3) on an ephemeral loopback
// port and returns once the emulator listens (at most 10 s); it throws std::runtime_error when the
// emulator cannot start, which doctest reports as a failed test. The destructor stops the child
// (SIGTERM, then SIGKILL after 2 s) and removes its temp dir. The control actions and the stats
// fields are documented at the top of imds_emulator.py.
//
// The control requests go through libcurl (test-only; the agent itself no longer links it): the
// fixture calls curl_global_init once per process, and ignores proxy variables, so tests may set
// http_proxy freely.
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace agent::test {

class ImdsEmulator {
 public:
  struct Options {
    std::string values_file;  // empty: tests/support/imds-default.json
    int latency_ms = 0;       // added to every IMDS answer; also settable with set_latency
    std::vector<std::string> extra_args;  // e.g. {"--token-ttl-max", "60"}
  };

  ImdsEmulator();
  explicit ImdsEmulator(Options options);
  ~ImdsEmulator();
  ImdsEmulator(const ImdsEmulator&) = delete;
  ImdsEmulator& operator=(const ImdsEmulator&) = delete;

  // "http://127.0.0.1:<port>", ready for AsioImds::Options::endpoint.
  const std::string& endpoint() const { return endpoint_; }
  int port() const { return port_; }

  // POSTs one action to /_control and returns the emulator's answer; throws if it is not HTTP 200.
  nlohmann::json control(const nlohmann::json& action);
  // GETs /_stats.
  nlohmann::json stats();

  // Path of the emulator script and of the default values file, for tests that run it themselves.
  static std::string script_path();
  static std::string default_values_path();

 private:
  pid_t pid_ = -1;
  std::string dir_;  // temp dir holding the port file
  std::string endpoint_;
  int port_ = 0;
};

}  // namespace agent::test
