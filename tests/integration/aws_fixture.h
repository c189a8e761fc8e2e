// AwsEmulator: runs tests/support/aws_emulator.py (EKS + EC2 with botocore SigV4 verification) as a
// child process for one test.
//
//   agent::test::AwsEmulator aws;
//   options.env.endpoint_url = aws.endpoint();
//   aws.control({{"action", "fault"}, {"operation", "DescribeCluster"}, {"status", 429}, {"count", 2}});
//   CHECK(aws.stats()["signature_failed"] == 0);
//
// The emulator needs botocore, so it always runs under /usr/bin/python3 (Debian's python3-botocore;
// a pyenv python3 on PATH would lack it). The constructor returns once it listens (at most 10 s)
// and throws std::runtime_error otherwise; the destructor stops it (SIGTERM, then SIGKILL) and
// removes its temp dir. Control requests go over a plain loopback socket (no libcurl, no proxy).
#pragma once

#include <sys/types.h>

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace agent::test {

class AwsEmulator {
 public:
  explicit AwsEmulator(std::vector<std::string> extra_args = {});
  ~AwsEmulator();
  AwsEmulator(const AwsEmulator&) = delete;
  AwsEmulator& operator=(const AwsEmulator&) = delete;

  // "http://127.0.0.1:<port>", for AWS_ENDPOINT_URL.
  const std::string& endpoint() const { return endpoint_; }
  int port() const { return port_; }

  // POSTs one action to /_control; throws unless the answer is HTTP 200.
  nlohmann::json control(const nlohmann::json& action);
  // GETs /_stats.
  nlohmann::json stats();

  static std::string script_path();

 private:
  pid_t pid_ = -1;
  std::string dir_;
  std::string endpoint_;
  int port_ = 0;
};

// A blocking HTTP/1.1 exchange with 127.0.0.1:port ("Connection: close"); returns {status, body}.
// Throws std::runtime_error on a socket error. Used by the emulator fixtures' control planes.
std::pair<int, std::string> loopback_http(int port, const std::string& method, const std::string& path,
                                          const std::string& body = "");

}  // namespace agent::test
