// PosixCommandRunner: runs a program found on PATH with posix_spawnp and captures its stdout.
#pragma once
#include <chrono>

#include "agent/ports/command_runner.h"

namespace agent::platform {

class PosixCommandRunner final : public CommandRunner {
 public:
  explicit PosixCommandRunner(std::chrono::milliseconds timeout = std::chrono::seconds(30))
      : timeout_(timeout) {}
  Result<std::string> run(const std::vector<std::string>& argv) override;

 private:
  std::chrono::milliseconds timeout_;
};

// Addresses of a host name via getaddrinfo (numeric strings, sorted, unique); empty on failure.
std::vector<std::string> resolve_host(const std::string& host);

}  // namespace agent::platform
