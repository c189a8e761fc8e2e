// PosixCommandRunner: runs a program found on PATH with posix_spawnp and captures its stdout; its
// stderr is kept for the error message (the last lines) when it fails. With show_output, the
// command's stdout and stderr go to the agent's stderr instead (package managers in build mode,
// whose progress the operator wants to see) and run() returns "".
#pragma once
#include <chrono>

#include "agent/ports/command_runner.h"

namespace agent::platform {

class PosixCommandRunner final : public CommandRunner {
 public:
  explicit PosixCommandRunner(std::chrono::milliseconds timeout = std::chrono::seconds(30),
                              bool show_output = false)
      : timeout_(timeout), show_output_(show_output) {}
  Result<std::string> run(const std::vector<std::string>& argv) override;

 private:
  std::chrono::milliseconds timeout_;
  bool show_output_;
};

// Addresses of a host name via getaddrinfo (numeric strings, sorted, unique); empty on failure.
std::vector<std::string> resolve_host(const std::string& host);

}  // namespace agent::platform
