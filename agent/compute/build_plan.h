// plan_build: build mode's whole computation, (BuildVars, BuildFacts) -> BuildPlan. Pure: no I/O.
// What it installs is exactly what boot mode reads (README "Build mode"): the same paths
// (plan_node.h), the same templates (embedded config/), and the build-time facts
// (/etc/eks/kubelet-version.txt, /etc/eks/containerd-version.txt) that spare boot mode from
// running `kubelet --version`.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/compute/build_vars.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

enum class PackageManager { None, Dnf, Yum, Apt };
const char* package_manager_name(PackageManager pm);

// Node paths build mode owns besides plan_node's.
inline constexpr const char* kAgentBinaryPath = "/usr/bin/eks-node-agent";
inline constexpr const char* kAgentEksPath = "/etc/eks/eks-node-agent";
inline constexpr const char* kBootstrapShPath = "/etc/eks/bootstrap.sh";
inline constexpr const char* kMaxPodsCalculatorPath = "/etc/eks/max-pods-calculator.sh";
// The shims those two paths link to (config/*.sh; README "Install layout"), where the packages put them.
inline constexpr const char* kShimDir = "/usr/libexec/eks-node-agent";
inline constexpr const char* kAgentUnit = "eks-node-agent.service";
inline constexpr const char* kBuildInfoPath = "/etc/eks/build-info.json";
inline constexpr const char* kEcrCredentialProviderPath = "/etc/eks/image-credential-provider/ecr-credential-provider";

struct BuildFacts {
  PackageManager package_manager = PackageManager::None;
  // The agent's unit is already installed in a package unit dir (/usr/lib or /lib/systemd/system),
  // e.g. by the RPM/deb: build mode then does not add a copy under /etc/systemd/system.
  bool agent_unit_packaged = false;
  // The image's current credential provider config, whose other providers are kept.
  std::optional<std::string> credential_provider_config;
};

// One binary from the bucket: `<key>` and `<key>.sha256`.
struct Download {
  std::string name;  // kubelet
  std::string key;   // 1.30.4/2024-07-10/bin/linux/amd64/kubelet
  std::string path;  // /usr/bin/kubelet
  unsigned mode = 0755;
  bool optional = false;  // skipped (with a note) when the bucket has neither it nor its checksum
  bool operator==(const Download&) const = default;
};

// A command run inside the image root (chroot when the root is not /).
struct PackageStep {
  std::string why;
  std::vector<std::string> argv;
  bool operator==(const PackageStep&) const = default;
};

struct LinkStep {
  std::string target;
  std::string link;
  bool operator==(const LinkStep&) const = default;
};

struct BuildPlan {
  std::vector<Download> downloads;
  std::vector<PackageStep> packages;
  std::vector<std::string> directories;  // created 0755 if absent
  std::vector<FileWrite> files;          // config, settings and facts, in install order
  std::vector<LinkStep> links;
  std::vector<std::string> enable_units;  // enabled offline ([Install] symlinks)
  bool cache_container_images = false;
  bool refresh_instance_types = false;
  std::string sandbox_image;   // the pause image for the bucket region
  std::vector<Diagnostic> notes;
  // A step that cannot run on this root (packages without a package manager): the real run stops
  // with this error before changing anything; --dry-run prints the whole plan with the step marked
  // and then exits with it.
  std::optional<Error> blocked;
  bool operator==(const BuildPlan&) const = default;
};

// Packages to be installed on a root without a package manager do not fail the planning: the plan's
// `blocked` holds that Unsupported error (the message says to set install_packages=false). Errors:
// those of the generated configs.
Result<BuildPlan> plan_build(const BuildVars& vars, const BuildFacts& facts);

// The ordered plan as --dry-run prints it (stable text: tests compare it with a golden file).
std::string render_build_plan(const BuildVars& vars, const BuildFacts& facts, const BuildPlan& plan,
                              const std::string& root);

// The IAM policy the chosen options need: the seed guide's list (Packer's EC2 actions,
// eks:DescribeAddonVersions, ecr:GetAuthorizationToken), the ECR repository ARN of the bucket
// region's registry account, s3:GetObject on the binary bucket, plus ec2:DescribeRegions (image
// cache re-tagging) and ec2:DescribeInstanceTypes (refresh_instance_types) when those are on.
nlohmann::ordered_json build_iam_policy(const BuildVars& vars);

}  // namespace agent::compute
