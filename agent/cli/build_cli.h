// `eks-node-agent build-mode`: the command line (README "Build mode").
#pragma once
#include <optional>
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent::cli {

struct BuildArgs {
  std::vector<std::string> var_files;    // --var-file FILE, in order
  std::vector<std::string> assignments;  // name=value, in order
  std::string root = "/";
  bool dry_run = false;
  bool print_iam_policy = false;
  bool help = false;
  std::optional<std::string> imds_endpoint;
};

// `args` are the words after "build-mode". Errors: Usage, naming the argument.
Result<BuildArgs> parse_build_args(const std::vector<std::string>& args);

std::string build_help(const std::string& program);

}  // namespace agent::cli
