#include "agent/compute/build_plan.h"

#include <fmt/format.h>

#include "agent/aws/endpoints.h"
#include "agent/aws/s3.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/credential_provider.h"
#include "agent/compute/ecr.h"
#include "agent/compute/kubeconfig.h"
#include "agent/compute/plan_node.h"
#include "agent/model/embedded.h"

namespace agent::compute {
namespace {

// Settings install-worker.sh appended to files in /etc (reference section 4.2 steps 7, 8, 20).
// Here each set is a whole file of ours, so a re-run rewrites nothing and adds no duplicate line.
constexpr const char* kModulesLoad = "/etc/modules-load.d/containerd.conf";
constexpr const char* kModulesLoadBody = "overlay\nbr_netfilter\n";
constexpr const char* kCriSysctl = "/etc/sysctl.d/99-kubernetes-cri.conf";
constexpr const char* kCriSysctlBody =
    "net.bridge.bridge-nf-call-ip6tables = 1\n"
    "net.bridge.bridge-nf-call-iptables = 1\n"
    "net.ipv4.ip_forward = 1\n";
constexpr const char* kNodeSysctl = "/etc/sysctl.d/99-eks-node.conf";
constexpr const char* kNodeSysctlBody =
    "# kubelet's protectKernelDefaults=true expects these three\n"
    "vm.overcommit_memory = 1\n"
    "kernel.panic = 10\n"
    "kernel.panic_on_oops = 1\n"
    "# room for many pods and their watches\n"
    "fs.inotify.max_user_watches = 524288\n"
    "fs.inotify.max_user_instances = 8192\n"
    "vm.max_map_count = 524288\n"
    "kernel.pid_max = 4194304\n";
constexpr const char* kNoDummies = "/etc/modprobe.d/10-no-dummies.conf";
constexpr const char* kRuntimeSlice = "/etc/systemd/system/runtime.slice";
constexpr const char* kRuntimeSliceBody =
    "[Unit]\n"
    "Description=Kubernetes and container runtime slice\n"
    "Documentation=man:systemd.special(7)\n"
    "Before=slices.target\n";
constexpr const char* kContainerdSliceDropin = "/etc/systemd/system/containerd.service.d/00-runtime-slice.conf";
constexpr const char* kKubeProxyLogrotate = "/etc/logrotate.d/kube-proxy";
constexpr const char* kKubeProxyLogrotateBody =
    "/var/log/kube-proxy.log {\n"
    "    copytruncate\n"
    "    missingok\n"
    "    rotate 5\n"
    "    daily\n"
    "    compress\n"
    "}\n";

std::vector<PackageStep> package_steps(const BuildVars& v, PackageManager pm, std::vector<Diagnostic>& notes) {
  const std::string kernel = fmt::format("kernel-{}*", v.kernel_version);
  const std::string runc = fmt::format("runc-{}", v.runc_version);
  const std::string containerd = fmt::format("containerd-{}", v.containerd_version);
  std::vector<PackageStep> s;
  switch (pm) {
    case PackageManager::Yum:
      s.push_back({"version lock plugin", {"yum", "install", "-y", "yum-plugin-versionlock"}});
      if (v.kernel_version != "4.14") {
        s.push_back({"kernel series " + v.kernel_version,
                     {"amazon-linux-extras", "enable", "kernel-" + v.kernel_version}});
      }
      s.push_back({"kernel " + v.kernel_version, {"yum", "install", "-y", kernel}});
      s.push_back({"runc " + v.runc_version, {"yum", "install", "-y", runc}});
      s.push_back({"containerd " + v.containerd_version, {"yum", "install", "-y", containerd}});
      s.push_back({"lock kernel, runc, containerd", {"yum", "versionlock", "add", kernel, runc, containerd}});
      break;
    case PackageManager::Dnf:
      s.push_back({"version lock plugin", {"dnf", "install", "-y", "dnf-command(versionlock)"}});
      s.push_back({"kernel " + v.kernel_version, {"dnf", "install", "-y", kernel}});
      s.push_back({"runc " + v.runc_version, {"dnf", "install", "-y", runc}});
      s.push_back({"containerd " + v.containerd_version, {"dnf", "install", "-y", containerd}});
      s.push_back({"lock kernel, runc, containerd", {"dnf", "versionlock", "add", kernel, runc, containerd}});
      break;
    case PackageManager::Apt: {
      const std::vector<std::string> apt = {"env", "DEBIAN_FRONTEND=noninteractive", "apt-get"};
      auto with = [&](std::vector<std::string> rest) {
        std::vector<std::string> argv = apt;
        argv.insert(argv.end(), rest.begin(), rest.end());
        return argv;
      };
      s.push_back({"package lists", with({"update"})});
      s.push_back({"runc " + v.runc_version + ", containerd " + v.containerd_version,
                   with({"install", "-y", "--no-install-recommends", "runc=" + v.runc_version,
                         "containerd=" + v.containerd_version})});
      s.push_back({"hold runc, containerd", {"apt-mark", "hold", "runc", "containerd"}});
      notes.push_back({Diagnostic::Level::Info, "BUILD_KERNEL_KEPT",
                       fmt::format("kernel_version={} applies to Amazon Linux (yum/dnf); with apt the "
                                   "image's kernel is kept", v.kernel_version)});
      break;
    }
    case PackageManager::None:
      break;
  }
  return s;
}

std::string quote_if_needed(const std::string& word) {
  if (word.find_first_of(" *()'\"$") == std::string::npos) return word;
  return "'" + word + "'";
}

}  // namespace

const char* package_manager_name(PackageManager pm) {
  switch (pm) {
    case PackageManager::Dnf: return "dnf";
    case PackageManager::Yum: return "yum";
    case PackageManager::Apt: return "apt";
    case PackageManager::None: return "none";
  }
  return "none";
}

namespace {

// The binaries from the bucket.
void add_downloads(const BuildVars& v, BuildPlan& plan) {
  const std::string prefix = fmt::format("{}/{}/bin/linux/{}/", v.kubernetes_version_text,
                                         v.kubernetes_build_date, v.arch);
  plan.downloads = {
      {"kubelet", prefix + "kubelet", "/usr/bin/kubelet", 0755, false},
      {"kubectl", prefix + "kubectl", "/usr/bin/kubectl", 0755, false},
      {"ecr-credential-provider", prefix + "ecr-credential-provider", kEcrCredentialProviderPath, 0755, false},
      // The kubeconfig's exec plugin; newer releases may not ship it in the layout.
      {"aws-iam-authenticator", prefix + "aws-iam-authenticator", "/usr/bin/aws-iam-authenticator", 0755, true},
  };
}

// containerd, runc and the kernel from the image's package manager (or a note that they are not).
void add_packages(const BuildVars& v, const BuildFacts& facts, BuildPlan& plan) {
  if (v.install_packages) {
    if (facts.package_manager == PackageManager::None) {
      plan.blocked = make_error(Errc::Unsupported,
                                "install_packages=true but the image has no package manager (looked for dnf, yum "
                                "and apt-get in /usr/bin and /bin); install containerd {} and runc {} yourself and "
                                "pass install_packages=false",
                                v.containerd_version, v.runc_version);
    } else {
      plan.packages = package_steps(v, facts.package_manager, plan.notes);
    }
  } else {
    plan.notes.push_back({Diagnostic::Level::Info, "BUILD_PACKAGES_SKIPPED",
                          "install_packages=false: containerd, runc and the kernel are left as the image has them"});
  }
}

// kubelet's files: its version, the max pods table, its config, kubeconfig, credential provider
// config and unit.
void add_kubelet_files(const BuildVars& v, const BuildFacts& facts, BuildPlan& plan) {
  auto add = [&](FileWrite w) { plan.files.push_back(std::move(w)); };
  add({.path = kKubeletVersionPath, .bytes = "v" + v.kubernetes_version_text + "\n"});
  add({.path = kEniMaxPodsPath, .bytes = std::string(embedded::file("data/eni-max-pods.txt"))});
  add({.path = kKubeletConfigPath, .bytes = std::string(embedded::file("config/kubelet-config.json"))});
  // Boot mode replaces it; the placeholders say so to anyone who looks at an unbooted image.
  add({.path = kKubeconfigPath,
       .bytes = kubeconfig_for("https://APISERVER_ENDPOINT", "CLUSTER_NAME", "AWS_REGION"),
       .mode = 0644});
  add({.path = kCredentialProviderPath,
       .bytes = credential_provider_config_for(v.kubernetes_version, facts.credential_provider_config)});
  add({.path = kKubeletUnitPath, .bytes = std::string(embedded::file("config/kubelet.service")), .unit_file = true});
}

// containerd's config for the build itself (image caching needs a CRI-ready containerd), the
// runtime slice, kernel modules and sysctls, logrotate and (unpackaged) the agent's unit.
Status add_runtime_files(const BuildVars& v, const BuildFacts& facts, BuildPlan& plan) {
  const std::string domain = aws::partition_domain(v.binary_bucket_region, "", "");
  auto add = [&](FileWrite w) { plan.files.push_back(std::move(w)); };
  // containerd's config: boot mode rewrites it with the node's own region and options.
  const EcrRegistry ecr = ecr_registry_for(v.binary_bucket_region, domain, std::nullopt);
  plan.sandbox_image = fmt::format("{}/eks/pause:{}", ecr.host, v.pause_container_version);
  const bool containerd2 = v.containerd_version.rfind("2.", 0) == 0 || v.containerd_version.rfind("2*", 0) == 0;
  AGENT_TRY(ContainerdConfig containerd,
            containerd_config_for({.sandbox_image = plan.sandbox_image,
                                   .schema = containerd2 ? ContainerdSchema::V3 : ContainerdSchema::V2}));
  add({.path = kContainerdConfigPath, .bytes = containerd.toml});
  if (v.kubernetes_version >= Version{1, 24, 0}) {
    add({.path = kContainerdSliceDropin, .bytes = "[Service]\nSlice=runtime.slice\n", .unit_file = true});
  }
  add({.path = kRuntimeSlice, .bytes = kRuntimeSliceBody, .unit_file = true});
  add({.path = kModulesLoad, .bytes = kModulesLoadBody});
  add({.path = kCriSysctl, .bytes = kCriSysctlBody});
  add({.path = kNodeSysctl, .bytes = kNodeSysctlBody});
  add({.path = kNoDummies, .bytes = "options dummy numdummies=0\n"});
  add({.path = kKubeProxyLogrotate, .bytes = kKubeProxyLogrotateBody});
  if (!facts.agent_unit_packaged) {
    add({.path = std::string("/etc/systemd/system/") + kAgentUnit,
         .bytes = std::string(embedded::file("units/eks-node-agent.service")),
         .unit_file = true});
  }
  return {};
}

// The agent at the paths user data calls. bootstrap.sh and max-pods-calculator.sh are scripts that
// exec the agent, not links to it: user data edits bootstrap.sh with sed (README "Install layout").
// The same layout as the packages'.
void add_agent_paths(BuildPlan& plan) {
  auto add = [&](FileWrite w) { plan.files.push_back(std::move(w)); };
  const std::string shim_dir = kShimDir;
  add({.path = shim_dir + "/bootstrap.sh", .bytes = std::string(embedded::file("config/bootstrap.sh")), .mode = 0755});
  add({.path = shim_dir + "/max-pods-calculator.sh",
       .bytes = std::string(embedded::file("config/max-pods-calculator.sh")),
       .mode = 0755});
  plan.links = {{kAgentBinaryPath, kAgentEksPath},
                {shim_dir + "/bootstrap.sh", kBootstrapShPath},
                {shim_dir + "/max-pods-calculator.sh", kMaxPodsCalculatorPath}};
  // Both enabled in the image. kubelet.service's ConditionPathExists on the CA keeps it from
  // starting before boot mode has written the node's configuration (README "Build mode").
  plan.enable_units = {"kubelet.service", kAgentUnit};
}

}  // namespace

Result<BuildPlan> plan_build(const BuildVars& v, const BuildFacts& facts) {
  BuildPlan plan;
  add_downloads(v, plan);
  add_packages(v, facts, plan);
  plan.directories = {"/etc/kubernetes/manifests", "/var/lib/kubernetes", "/var/lib/kubelet", "/opt/cni/bin",
                      "/etc/kubernetes/kubelet", "/etc/systemd/system/kubelet.service.d",
                      "/etc/containerd/config.d"};
  add_kubelet_files(v, facts, plan);
  AGENT_TRY_STATUS(add_runtime_files(v, facts, plan));
  add_agent_paths(plan);
  plan.cache_container_images = v.cache_container_images;
  plan.refresh_instance_types = v.refresh_instance_types;
  return plan;
}

std::string render_build_plan(const BuildVars& v, const BuildFacts& facts, const BuildPlan& plan,
                              const std::string& root) {
  std::string out = fmt::format("build plan: Kubernetes {} ({}, {}) into {}\n", v.kubernetes_version_text,
                                v.kubernetes_build_date, v.arch, root);
  out += "variables:\n";
  for (const auto& var : v.all) {
    std::string shown = var.value;
    if (var.name == "arch" && shown.empty()) shown = v.machine + " (build host)";
    if (var.name == "kernel_version" && v.kernel_version_derived) {
      shown = v.kernel_version + " (from kubernetes_version)";
    }
    out += fmt::format("  {:<24} {:<34} {}\n", var.name, shown.empty() ? "\"\"" : shown, var.origin);
  }
  int n = 0;
  auto step = [&](const std::string& text) { out += fmt::format("{:>3}. {}\n", ++n, text); };
  out += "steps:\n";
  const std::string bucket = "s3://" + v.binary_bucket_name + "/";
  for (const auto& d : plan.downloads) {
    step(fmt::format("fetch {}{} and .sha256, verify{}", bucket, d.key, d.optional ? " (optional)" : ""));
  }
  out += fmt::format("     (nothing below runs unless every fetched checksum matches)\n");
  if (v.install_packages && facts.package_manager == PackageManager::None && plan.blocked) {
    step(fmt::format("package (none): containerd {}, runc {}, kernel {} -- WOULD FAIL: {}", v.containerd_version,
                     v.runc_version, v.kernel_version, plan.blocked->message));
  }
  for (const auto& p : plan.packages) {
    std::string cmd;
    for (const auto& w : p.argv) cmd += (cmd.empty() ? "" : " ") + quote_if_needed(w);
    step(fmt::format("package ({}): {}  # {}", package_manager_name(facts.package_manager), cmd, p.why));
  }
  if (v.install_packages) step("record containerd's version in " + std::string(kContainerdVersionPath));
  for (const auto& d : plan.downloads) step(fmt::format("install {} {:o}", d.path, d.mode));
  step(fmt::format("install {} 755 (this binary)", kAgentBinaryPath));
  for (const auto& d : plan.directories) step("directory " + d);
  for (const auto& f : plan.files) step(fmt::format("write {} {:o}", f.path, f.mode));
  step("write " + std::string(kBuildInfoPath) + " 644 (variables and installed checksums)");
  for (const auto& l : plan.links) step(fmt::format("link {} -> {}", l.link, l.target));
  for (const auto& u : plan.enable_units) step("enable " + u + " (offline: [Install] symlinks)");
  if (plan.refresh_instance_types) {
    step(fmt::format("refresh {} from EC2 DescribeInstanceTypes", kEniMaxPodsPath));
  }
  if (plan.cache_container_images) {
    step("cache images with containerd (ctr): " + plan.sandbox_image +
         ", kube-proxy and VPC CNI (EKS DescribeAddonVersions), tagged for every region");
  }
  for (const auto& d : plan.notes) out += fmt::format("note: {}\n", d.message);
  if (plan.blocked) {
    out += "the real run would stop before changing anything, at the step marked WOULD FAIL\n";
  }
  return out;
}

nlohmann::ordered_json build_iam_policy(const BuildVars& v) {
  const std::string partition = aws::arn_partition(v.binary_bucket_region);
  const std::string domain = aws::partition_domain(v.binary_bucket_region, "", "");
  const EcrRegistry ecr = ecr_registry_for(v.binary_bucket_region, domain, std::nullopt);
  std::vector<std::string> actions = {
      "ec2:AttachVolume", "ec2:AuthorizeSecurityGroupIngress", "ec2:CopyImage", "ec2:CreateImage",
      "ec2:CreateKeypair", "ec2:CreateSecurityGroup", "ec2:CreateSnapshot", "ec2:CreateTags",
      "ec2:CreateVolume", "ec2:DeleteKeyPair", "ec2:DeleteSecurityGroup", "ec2:DeleteSnapshot",
      "ec2:DeleteVolume", "ec2:DeregisterImage", "ec2:DescribeImageAttribute", "ec2:DescribeImages",
      "ec2:DescribeInstances", "ec2:DescribeInstanceStatus", "ec2:DescribeRegions",
      "ec2:DescribeSecurityGroups", "ec2:DescribeSnapshots", "ec2:DescribeSubnets", "ec2:DescribeTags",
      "ec2:DescribeVolumes", "ec2:DetachVolume", "ec2:GetPasswordData", "ec2:ModifyImageAttribute",
      "ec2:ModifyInstanceAttribute", "ec2:ModifySnapshotAttribute", "ec2:RegisterImage",
      "ec2:RunInstances", "ec2:StopInstances", "ec2:TerminateInstances", "eks:DescribeAddonVersions",
      "ecr:GetAuthorizationToken"};
  if (v.refresh_instance_types) actions.push_back("ec2:DescribeInstanceTypes");
  nlohmann::ordered_json statements = nlohmann::ordered_json::array();
  statements.push_back({{"Effect", "Allow"}, {"Action", actions}, {"Resource", "*"}});
  statements.push_back(
      {{"Effect", "Allow"},
       {"Action", {"ecr:BatchGetImage", "ecr:BatchCheckLayerAvailability", "ecr:GetDownloadUrlForLayer"}},
       {"Resource", fmt::format("arn:{}:ecr:{}:{}:repository/*", partition, ecr.region, ecr.account)}});
  statements.push_back({{"Effect", "Allow"},
                        {"Action", {"s3:GetObject"}},
                        {"Resource", fmt::format("arn:{}:s3:::{}/*", partition, v.binary_bucket_name)}});
  return {{"Version", "2012-10-17"}, {"Statement", statements}};
}

}  // namespace agent::compute
