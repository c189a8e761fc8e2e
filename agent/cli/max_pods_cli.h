// `eks-node-agent max-pods`: max-pods-calculator.sh's command line over the built-in networking
// table (bootstrap-sh.md section 3.2), asking EC2 only for what the table and the flags leave
// unknown; and `max-pods --generate-table`, which builds the table itself from EC2
// DescribeInstanceTypes.
#pragma once
#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "agent/model/aws_types.h"
#include "agent/model/result.h"

namespace agent::cli {

// Runs the subcommand. `args` are the words after "max-pods" (argv[0] and the subcommand name
// excluded). Accepts the calculator's flags (--instance-type T, --instance-type-from-imds,
// --cni-version X.Y.Z, --cni-custom-networking-enabled, --cni-prefix-delegation-enabled,
// --cni-max-eni N, --show-max-allowed, -h/--help) plus --vcpus N, which decides the 110/250 cap
// when the instance size does not imply a vCPU count. `imds_instance_type` is called only for
// --instance-type-from-imds, and then `local_vcpus` (when > 0) is the default for --vcpus.
//
// `describe_type(type, on_instance)` is EC2 DescribeInstanceTypes for one type, as the script asks
// it; `on_instance` says the type came from IMDS (the instance profile and region can be used).
// It is called only when the answer needs it: the vCPU count (without --vcpus and
// --show-max-allowed, a size that implies none: t3.nano, m5.metal) or the networking facts of a
// type the built-in table does not know. It returns Unavailable when no call can be made (no
// credentials, no region); null means never.
//
// Prints just the number on `out` and returns 0; -h/--help prints the help on `out` and returns 0.
// Usage errors (unknown or malformed flags, no instance type, no CNI version, a vCPU count that is
// needed but neither given nor available from EC2) return 2, anything else (IMDS failure, a type
// neither the table nor EC2 knows) returns 1; both explain themselves on `err`, with the reason EC2
// could not answer. Unlike the script, unknown flags are rejected.
using DescribeType = std::function<Result<InstanceTypeInfo>(const std::string& type, bool on_instance)>;
int max_pods_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                  std::function<Result<std::string>()> imds_instance_type, int local_vcpus,
                  const DescribeType& describe_type = nullptr);

// `eks-node-agent max-pods --generate-table [--output FILE] [--networking-output FILE]
// [--page-size N]`: every instance type of the region from EC2 DescribeInstanceTypes, written in
// the eni-max-pods.txt format (to FILE, else stdout) and, with --networking-output, as
// instance-networking.jsonl (the networking facts data/ embeds). `args` are the words after
// "max-pods". `list_types(page_size, source, on_page)` makes the calls and names where the list
// came from in `source` ("EC2 DescribeInstanceTypes in us-west-2"); `write_file(path, bytes)`
// replaces a file atomically. Returns 0, 2 for usage errors, 5 when the AWS calls fail, 6 when a
// file cannot be written; progress and errors go to `err`.
struct TypeLister {
  std::function<Result<std::vector<InstanceTypeInfo>>(int page_size, std::string& source,
                                                      const std::function<void(int, size_t)>& on_page)>
      list_types;
  std::function<Status(const std::string& path, const std::string& bytes)> write_file;
};
int generate_table_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                        const TypeLister& lister);

}  // namespace agent::cli
