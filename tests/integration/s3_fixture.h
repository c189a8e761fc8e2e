// S3Emulator: runs tests/support/s3_emulator.py (path-style GetObject/HeadObject with botocore
// SigV4 verification) as a child process for one test.
//
//   agent::test::S3Emulator s3({"--private-bucket", "private-bucket"});
//   options.endpoint_url_s3 = s3.endpoint();
//   s3.put("amazon-eks", "1.30.4/2024-07-10/bin/linux/amd64/kubelet", "#!/bin/sh\n");
//   s3.control({{"action", "fault"}, {"key", "*"}, {"status", 503}, {"code", "SlowDown"}, {"count",
//   2}}); CHECK(s3.stats()["signature_failed"] == 0);
//
// Runs under /usr/bin/python3 like AwsEmulator (BotocoreEmulator: startup, shutdown, control
// plane). The control actions and stats fields are documented at the top of s3_emulator.py.
#pragma once

#include <string>
#include <vector>

#include "tests/integration/emulator_process.h"

namespace agent::test {

class S3Emulator : public BotocoreEmulator {
 public:
  explicit S3Emulator(std::vector<std::string> extra_args = {});

  // The "put" action with a text body.
  void put(const std::string& bucket, const std::string& key, const std::string& text);

  static std::string script_path();
};

}  // namespace agent::test
