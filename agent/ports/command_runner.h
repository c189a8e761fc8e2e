// CommandRunner: the one place the agent may run a program (kubelet --version when
// /etc/eks/kubelet-version.txt is absent).
#pragma once
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent {

class CommandRunner {
 public:
  virtual ~CommandRunner() = default;
  // Runs argv[0] (looked up on PATH) and returns its stdout. Errors: NotFound if the program is not
  // on PATH, Invalid if it exits non-zero (message includes its stderr), Timeout.
  virtual Result<std::string> run(const std::vector<std::string>& argv) = 0;
};

}  // namespace agent
