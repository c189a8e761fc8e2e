#include "tests/integration/s3_fixture.h"

namespace agent::test {

std::string S3Emulator::script_path() {
  return std::string(AGENT_SOURCE_DIR) + "/tests/support/s3_emulator.py";
}

S3Emulator::S3Emulator(std::vector<std::string> extra_args)
    : BotocoreEmulator("s3 emulator", script_path(), extra_args) {}

void S3Emulator::put(const std::string& bucket, const std::string& key, const std::string& text) {
  control({{"action", "put"}, {"bucket", bucket}, {"key", key}, {"text", text}});
}

}  // namespace agent::test
