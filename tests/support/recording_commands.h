// RecordingCommands: a CommandRunner for unit tests. Records every argv and answers from a table
// keyed by the program's name; a program with no answer is "not on PATH" (NotFound), as on a node
// without it.
#pragma once
#include <map>
#include <string>
#include <vector>

#include "agent/model/result.h"
#include "agent/ports/command_runner.h"

namespace agent::testing {

class RecordingCommands final : public CommandRunner {
 public:
  Result<std::string> run(const std::vector<std::string>& argv) override {
    calls.push_back(argv);
    if (auto it = answers.find(argv.at(0)); it != answers.end()) return it->second;
    return make_error(Errc::NotFound, "{}: not on PATH", argv.at(0));
  }
  std::map<std::string, Result<std::string>> answers;  // program -> its stdout or its error
  std::vector<std::vector<std::string>> calls;
};

}  // namespace agent::testing
