#include "tests/integration/aws_fixture.h"

namespace agent::test {

std::string AwsEmulator::script_path() { return std::string(AGENT_SOURCE_DIR) + "/tests/support/aws_emulator.py"; }

AwsEmulator::AwsEmulator(std::vector<std::string> extra_args)
    : BotocoreEmulator("aws emulator", script_path(), extra_args) {}

}  // namespace agent::test
