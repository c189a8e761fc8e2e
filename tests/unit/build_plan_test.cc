#include "agent/compute/build_plan.h"

#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include "agent/compute/plan_node.h"
#include "agent/model/embedded.h"

namespace c = agent::compute;
using agent::Errc;

namespace {

c::BuildVars vars(std::vector<std::string> extra = {}) {
  std::vector<std::string> args = {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10"};
  args.insert(args.end(), extra.begin(), extra.end());
  auto v = c::resolve_build_vars(agent::embedded::file("config/build-variables.json"), {}, args, "x86_64");
  REQUIRE(v);
  return *v;
}

c::BuildFacts facts(c::PackageManager pm = c::PackageManager::Dnf) {
  c::BuildFacts f;
  f.package_manager = pm;
  return f;
}

const agent::FileWrite* file(const c::BuildPlan& p, const std::string& path) {
  for (const auto& f : p.files) {
    if (f.path == path) return &f;
  }
  return nullptr;
}

std::string argv_line(const c::PackageStep& s) {
  std::string out;
  for (const auto& w : s.argv) out += (out.empty() ? "" : " ") + w;
  return out;
}

std::string read_golden(const std::string& name) {
  std::ifstream in(std::string(AGENT_SOURCE_DIR) + "/tests/golden/image/" + name);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

}  // namespace

TEST_CASE("build plan: binaries from the bucket layout <version>/<date>/bin/linux/<arch>/<name>") {
  auto p = c::plan_build(vars({"arch=arm64"}), facts());
  REQUIRE(p);
  REQUIRE(p->downloads.size() == 4);
  CHECK(p->downloads[0].key == "1.30.4/2024-07-10/bin/linux/arm64/kubelet");
  CHECK(p->downloads[0].path == "/usr/bin/kubelet");
  CHECK(p->downloads[1].path == "/usr/bin/kubectl");
  CHECK(p->downloads[2].path == c::kEcrCredentialProviderPath);
  CHECK(p->downloads[3].name == "aws-iam-authenticator");
  CHECK(p->downloads[3].optional);
  for (const auto& d : p->downloads) CHECK(d.mode == 0755);
}

TEST_CASE("build plan: package steps for each package manager, versions locked") {
  auto dnf = c::plan_build(vars(), facts(c::PackageManager::Dnf));
  REQUIRE(dnf);
  REQUIRE(dnf->packages.size() == 5);
  CHECK(argv_line(dnf->packages[1]) == "dnf install -y kernel-5.10*");
  CHECK(argv_line(dnf->packages[3]) == "dnf install -y containerd-1.7.*");
  CHECK(argv_line(dnf->packages[4]) == "dnf versionlock add kernel-5.10* runc-1.* containerd-1.7.*");

  auto yum = c::plan_build(vars({"kernel_version=5.4"}), facts(c::PackageManager::Yum));
  REQUIRE(yum);
  CHECK(argv_line(yum->packages[1]) == "amazon-linux-extras enable kernel-5.4");
  CHECK(argv_line(yum->packages.back()) == "yum versionlock add kernel-5.4* runc-1.* containerd-1.7.*");
  // 4.14 is the base kernel of AL2: no extras topic to enable.
  auto yum414 = c::plan_build(vars({"kernel_version=4.14"}), facts(c::PackageManager::Yum));
  REQUIRE(yum414);
  for (const auto& s : yum414->packages) CHECK(s.argv[0] != "amazon-linux-extras");

  auto apt = c::plan_build(vars({"containerd_version=1.6.20~ds1-1"}), facts(c::PackageManager::Apt));
  REQUIRE(apt);
  CHECK(argv_line(apt->packages[1]) ==
        "env DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends runc=1.* "
        "containerd=1.6.20~ds1-1");
  CHECK(argv_line(apt->packages[2]) == "apt-mark hold runc containerd");
  REQUIRE(apt->notes.size() == 1);
  CHECK(apt->notes[0].id == "BUILD_KERNEL_KEPT");
}

TEST_CASE("build plan: no package manager blocks the plan unless install_packages=false") {
  auto p = c::plan_build(vars(), facts(c::PackageManager::None));
  REQUIRE(p);
  REQUIRE(p->blocked.has_value());
  CHECK(p->blocked->code == Errc::Unsupported);
  CHECK(p->blocked->message.find("install_packages=false") != std::string::npos);
  CHECK(p->packages.empty());
  // The rest of the plan is all there, and its text marks the step that would fail.
  CHECK_FALSE(p->files.empty());
  const std::string text = c::render_build_plan(vars(), facts(c::PackageManager::None), *p, "/mnt/image");
  CHECK(text.find("package (none): containerd 1.7.*, runc 1.*, kernel 5.10 -- WOULD FAIL: install_packages=true "
                  "but the image has no package manager") != std::string::npos);
  CHECK(text.find("write /etc/kubernetes/kubelet/kubelet-config.json 644") != std::string::npos);
  CHECK(text.find("the real run would stop before changing anything") != std::string::npos);
  auto skip = c::plan_build(vars({"install_packages=false"}), facts(c::PackageManager::None));
  REQUIRE(skip);
  CHECK_FALSE(skip->blocked.has_value());
  CHECK(skip->packages.empty());
  CHECK(c::render_build_plan(vars(), facts(), *skip, "/").find("WOULD FAIL") == std::string::npos);
}

TEST_CASE("build plan: the files boot mode reads, from the same templates") {
  auto p = c::plan_build(vars(), facts());
  REQUIRE(p);
  REQUIRE(file(*p, c::kKubeletVersionPath));
  CHECK(file(*p, c::kKubeletVersionPath)->bytes == "v1.30.4\n");
  CHECK(file(*p, c::kEniMaxPodsPath)->bytes == agent::embedded::file("data/eni-max-pods.txt"));
  CHECK(file(*p, c::kKubeletConfigPath)->bytes == agent::embedded::file("config/kubelet-config.json"));
  CHECK(file(*p, c::kKubeletUnitPath)->bytes == agent::embedded::file("config/kubelet.service"));
  CHECK(file(*p, c::kKubeconfigPath) != nullptr);
  // 1.27+: public.ecr.aws is served by the provider.
  CHECK(file(*p, c::kCredentialProviderPath)->bytes.find("public.ecr.aws") != std::string::npos);
  auto old = c::plan_build(vars({"kubernetes_version=1.26.6"}), facts());
  REQUIRE(old);
  CHECK(file(*old, c::kCredentialProviderPath)->bytes.find("public.ecr.aws") == std::string::npos);
  // sysctl and modules, each a whole file of ours.
  CHECK(file(*p, "/etc/sysctl.d/99-kubernetes-cri.conf")->bytes.find("net.ipv4.ip_forward = 1") != std::string::npos);
  CHECK(file(*p, "/etc/sysctl.d/99-eks-node.conf")->bytes.find("kernel.panic_on_oops = 1") != std::string::npos);
  CHECK(file(*p, "/etc/modules-load.d/containerd.conf")->bytes == "overlay\nbr_netfilter\n");
  // The pause image of the bucket region's registry in containerd's config.
  CHECK(p->sandbox_image == "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.10");
  CHECK(file(*p, c::kContainerdConfigPath)->bytes.find(p->sandbox_image) != std::string::npos);
  CHECK(file(*p, c::kContainerdConfigPath)->bytes.find("version = 2") != std::string::npos);
  auto v3 = c::plan_build(vars({"containerd_version=2.0.*"}), facts());
  REQUIRE(v3);
  CHECK(file(*v3, c::kContainerdConfigPath)->bytes.find("version = 3") != std::string::npos);
  // runtime.slice for containerd from 1.24 only.
  CHECK(file(*p, "/etc/systemd/system/containerd.service.d/00-runtime-slice.conf") != nullptr);
  auto k123 = c::plan_build(vars({"kubernetes_version=1.23.17"}), facts());
  REQUIRE(k123);
  CHECK(file(*k123, "/etc/systemd/system/containerd.service.d/00-runtime-slice.conf") == nullptr);
}

TEST_CASE("build plan: the agent's links and unit") {
  auto p = c::plan_build(vars(), facts());
  REQUIRE(p);
  REQUIRE(p->links.size() == 3);
  CHECK(p->links[0].link == "/etc/eks/eks-node-agent");
  CHECK(p->links[0].target == "/usr/bin/eks-node-agent");
  // The AL2 script paths link to our shims (scripts, so that user data's sed edits work), which
  // are written with the embedded config/*.sh bytes, executable.
  CHECK(p->links[1].link == "/etc/eks/bootstrap.sh");
  CHECK(p->links[1].target == "/usr/libexec/eks-node-agent/bootstrap.sh");
  CHECK(p->links[2].link == "/etc/eks/max-pods-calculator.sh");
  CHECK(p->links[2].target == "/usr/libexec/eks-node-agent/max-pods-calculator.sh");
  for (const char* shim : {"/usr/libexec/eks-node-agent/bootstrap.sh", "/usr/libexec/eks-node-agent/max-pods-calculator.sh"}) {
    const auto* f = file(*p, shim);
    REQUIRE(f != nullptr);
    CHECK(f->mode == 0755);
    CHECK(f->bytes.starts_with("#!/bin/bash\n"));
    CHECK(f->bytes.find("exec") != std::string::npos);
  }
  // The anchors user data's sed edits look for (README "Install layout").
  const std::string& shim = file(*p, "/usr/libexec/eks-node-agent/bootstrap.sh")->bytes;
  CHECK(shim.find("\nset -o errexit\n") != std::string::npos);
  CHECK(shim.find(" KUBELET_EXTRA_ARGS=$2\n") != std::string::npos);
  CHECK(p->enable_units == std::vector<std::string>{"kubelet.service", "eks-node-agent.service"});
  CHECK(file(*p, "/etc/systemd/system/eks-node-agent.service") != nullptr);
  // A package already put the unit in /usr/lib/systemd/system: no shadowing copy in /etc.
  c::BuildFacts packaged = facts();
  packaged.agent_unit_packaged = true;
  auto q = c::plan_build(vars(), packaged);
  REQUIRE(q);
  CHECK(file(*q, "/etc/systemd/system/eks-node-agent.service") == nullptr);
}

TEST_CASE("build plan: other providers in the image's credential provider config are kept") {
  c::BuildFacts f = facts();
  f.credential_provider_config = R"({"apiVersion":"kubelet.config.k8s.io/v1","kind":"CredentialProviderConfig",
    "providers":[{"name":"my-provider","matchImages":["registry.example.com"],"defaultCacheDuration":"1h",
    "apiVersion":"credentialprovider.kubelet.k8s.io/v1"}]})";
  auto p = c::plan_build(vars(), f);
  REQUIRE(p);
  CHECK(file(*p, c::kCredentialProviderPath)->bytes.find("my-provider") != std::string::npos);
}

TEST_CASE("build plan: --dry-run text matches the golden file") {
  auto v = vars({"cache_container_images=true"});
  auto p = c::plan_build(v, facts());
  REQUIRE(p);
  const std::string text = c::render_build_plan(v, facts(), *p, "/mnt/image");
  const std::string golden = read_golden("dry-run-dnf.txt");
  if (text != golden) MESSAGE("actual plan:\n" << text);
  CHECK(text == golden);
}

TEST_CASE("build plan: the IAM policy names the bucket and the region's ECR account") {
  auto policy = c::build_iam_policy(vars({"binary_bucket_name=my-bins", "binary_bucket_region=eu-west-1"}));
  const auto& st = policy["Statement"];
  REQUIRE(st.size() == 3);
  CHECK(st[1]["Resource"] == "arn:aws:ecr:eu-west-1:602401143452:repository/*");
  CHECK(st[2]["Resource"] == "arn:aws:s3:::my-bins/*");
  const auto actions = st[0]["Action"].dump();
  CHECK(actions.find("eks:DescribeAddonVersions") != std::string::npos);
  CHECK(actions.find("ecr:GetAuthorizationToken") != std::string::npos);
  CHECK(actions.find("ec2:DescribeInstanceTypes") == std::string::npos);

  auto china = c::build_iam_policy(vars({"binary_bucket_name=eks-cn", "binary_bucket_region=cn-north-1",
                                         "refresh_instance_types=true"}));
  CHECK(china["Statement"][1]["Resource"] == "arn:aws-cn:ecr:cn-north-1:918309763551:repository/*");
  CHECK(china["Statement"][2]["Resource"] == "arn:aws-cn:s3:::eks-cn/*");
  CHECK(china["Statement"][0]["Action"].dump().find("ec2:DescribeInstanceTypes") != std::string::npos);
  auto gov = c::build_iam_policy(vars({"binary_bucket_region=us-gov-west-1"}));
  CHECK(gov["Statement"][2]["Resource"] == "arn:aws-us-gov:s3:::amazon-eks/*");
}
