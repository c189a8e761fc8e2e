// `eks-node-agent max-pods`: max-pods-calculator.sh's command line over the built-in networking
// table (bootstrap-sh.md section 3.2), without any AWS call.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "agent/model/result.h"

namespace agent::cli {

// Runs the subcommand. `args` are the words after "max-pods" (argv[0] and the subcommand name
// excluded). Accepts the calculator's flags (--instance-type T, --instance-type-from-imds,
// --cni-version X.Y.Z, --cni-custom-networking-enabled, --cni-prefix-delegation-enabled,
// --cni-max-eni N, --show-max-allowed, -h/--help) plus --vcpus N, which decides the 110/250 cap
// when the instance size does not imply a vCPU count. `imds_instance_type` is called only for
// --instance-type-from-imds, and then `local_vcpus` (when > 0) is the default for --vcpus.
//
// Prints just the number on `out` and returns 0; -h/--help prints the help on `out` and returns 0.
// Usage errors (unknown or malformed flags, no instance type, no CNI version, a vCPU count that is
// needed but unknown) return 2, anything else (IMDS failure, a type the table does not know)
// returns 1; both explain themselves on `err`. Unlike the script, unknown flags are rejected.
int max_pods_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                  std::function<Result<std::string>()> imds_instance_type, int local_vcpus);

}  // namespace agent::cli
