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

#include "tests/integration/emulator_process.h"

namespace agent::test {

class AwsEmulator : public BotocoreEmulator {
 public:
  explicit AwsEmulator(std::vector<std::string> extra_args = {});

  static std::string script_path();
};

}  // namespace agent::test
