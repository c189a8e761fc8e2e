// Build mode's variables (README "Build mode"): the built-in defaults (config/build-variables.json,
// embedded), then each --var-file in order, then each name=value argument, as the AMI template's
// defaults file < PACKER_VARIABLE_FILE < make arguments did (seed USER_GUIDE "AMI template
// variables"). Pure: files arrive as text.
#pragma once
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute {

// One variable's value and where it came from: "defaults", the var file's name, or
// "command line".
struct BuildVariable {
  std::string name;
  std::string value;
  std::string origin;
  bool operator==(const BuildVariable&) const = default;
};

struct BuildVars {
  std::vector<BuildVariable> all;  // every known variable, in the defaults file's order

  Version kubernetes_version;       // 1.30.4
  std::string kubernetes_version_text;  // "1.30.4", as in the bucket layout
  std::string kubernetes_build_date;    // "2024-07-10"
  std::string arch;                 // amd64 | arm64 (the bucket layout's name)
  std::string machine;              // x86_64 | aarch64 (uname -m, package names)
  std::string binary_bucket_name;
  std::string binary_bucket_region;
  std::string pause_container_version;
  std::string kernel_version;       // "5.10"; derived from kubernetes_version when not given
  bool kernel_version_derived = false;
  std::string containerd_version;   // a package version or glob: "1.7.*"
  std::string runc_version;
  bool cache_container_images = false;
  bool install_packages = true;
  bool refresh_instance_types = false;

  const BuildVariable* find(std::string_view name) const;
};

struct VarFile {
  std::string name;     // as given on the command line, for messages
  std::string content;  // JSON object of name -> string (or bool/number)
};

// Resolves the variables. `host_machine` is uname -m of the build host (the default arch).
// Errors (Errc::Usage for a malformed argument, Errc::Invalid otherwise), each naming the variable
// and where its value came from: an unknown variable (with the closest known name), a var file
// that is not a JSON object of scalars (with its line), a missing kubernetes_version or
// kubernetes_build_date, and each value that fails its check (format shown in the message).
Result<BuildVars> resolve_build_vars(std::string_view defaults_json, const std::vector<VarFile>& files,
                                     const std::vector<std::string>& assignments,
                                     std::string_view host_machine);

// The kernel the seed guide picks when kernel_version is not set: 5.4 up to Kubernetes 1.23,
// 5.10 from 1.24.
std::string default_kernel_for(const Version& kubernetes);

}  // namespace agent::compute
