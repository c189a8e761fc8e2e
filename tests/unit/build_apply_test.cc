// run_build against an in-memory image root, a map-backed bucket and a recording package runner.
#include "agent/app/build.h"

#include <doctest/doctest.h>

#include <map>
#include <string>
#include <vector>

#include "agent/compute/containerd_config.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/sha256.h"
#include "agent/model/embedded.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_service_manager.h"

namespace c = agent::compute;
using agent::Errc;
using agent::Result;
using agent::testing::MemRootFs;
using agent::testing::RecordingServiceManager;

namespace {

class MapBucket final : public agent::ObjectStore {
 public:
  std::map<std::string, std::string> objects;
  std::vector<std::string> gets;
  Result<std::string> get(const std::string& key, const agent::FetchProgress& progress) override {
    gets.push_back(key);
    auto it = objects.find(key);
    if (it == objects.end()) return agent::make_error(Errc::NotFound, "{} does not exist", url_of(key));
    if (progress) progress(it->second.size(), it->second.size());
    return it->second;
  }
  std::string url_of(const std::string& key) const override { return "s3://amazon-eks/" + key; }
};

const std::string kPrefix = "1.30.4/2024-07-10/bin/linux/amd64/";

void publish(MapBucket& b, const std::string& name, const std::string& body) {
  b.objects[kPrefix + name] = body;
  b.objects[kPrefix + name + ".sha256"] = c::sha256_hex(body) + "  " + name + "\n";
}

struct Image {
  MemRootFs fs;
  MapBucket bucket;
  RecordingServiceManager services;
  std::vector<std::string> commands;
  c::BuildVars vars;
  c::BuildPlan plan;
  agent::app::BuildReport report;

  Image() {
    for (const char* name : {"kubelet", "kubectl", "ecr-credential-provider", "aws-iam-authenticator"}) {
      publish(bucket, name, std::string("#!/bin/sh\necho ") + name + "\n");
    }
    fs.put("/usr/bin/dnf", "#!/bin/sh\n", 0755);
  }

  agent::Status run(std::vector<std::string> extra = {}) {
    std::vector<std::string> args = {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10"};
    args.insert(args.end(), extra.begin(), extra.end());
    auto v = c::resolve_build_vars(agent::embedded::file("config/build-variables.json"), {}, args, "x86_64");
    REQUIRE(v);
    vars = *v;
    auto p = c::plan_build(vars, agent::app::gather_build_facts(fs));
    REQUIRE(p);
    plan = *p;
    report = {};
    agent::app::BuildPorts ports{.fs = fs, .store = bucket, .services = services};
    ports.run_in_image = [this](const std::vector<std::string>& argv) -> Result<std::string> {
      std::string line;
      for (const auto& w : argv) line += (line.empty() ? "" : " ") + w;
      commands.push_back(line);
      // The package manager "installs" containerd.
      if (line.find("install -y containerd") != std::string::npos) fs.put("/usr/bin/containerd", "bin", 0755);
      if (line == "containerd --version") return std::string("containerd github.com/containerd/containerd v1.7.20 8fc6\n");
      return std::string();
    };
    ports.read_self = [](const std::function<agent::Status(std::string_view)>& sink) {
      // In two pieces, as a real read would deliver it.
      if (auto st = sink("AGENT-"); !st) return st;
      return sink("BINARY");
    };
    ports.agent_version = "9.9.9";
    return agent::app::run_build(vars, plan, ports, report);
  }
};

}  // namespace

TEST_CASE("run_build: a full build installs binaries, packages, files, links and the unit") {
  Image img;
  REQUIRE(img.run());
  CHECK(img.fs.read("/usr/bin/kubelet").value() == "#!/bin/sh\necho kubelet\n");
  CHECK(img.fs.node("/usr/bin/kubelet")->mode == 0755);
  CHECK(img.fs.read(c::kEcrCredentialProviderPath).value() == "#!/bin/sh\necho ecr-credential-provider\n");
  CHECK(img.fs.read("/usr/bin/eks-node-agent").value() == "AGENT-BINARY");
  CHECK(img.fs.node("/usr/bin/eks-node-agent")->mode == 0755);
  CHECK(img.fs.node("/etc/eks/eks-node-agent")->data == "/usr/bin/eks-node-agent");
  CHECK(img.fs.node("/etc/eks/bootstrap.sh")->data == "/usr/libexec/eks-node-agent/bootstrap.sh");
  CHECK(img.fs.read("/etc/eks/bootstrap.sh").value() == agent::embedded::file("config/bootstrap.sh"));
  CHECK(img.fs.node("/usr/libexec/eks-node-agent/bootstrap.sh")->mode == 0755);
  CHECK(img.fs.read("/etc/eks/max-pods-calculator.sh").value() ==
        agent::embedded::file("config/max-pods-calculator.sh"));
  CHECK(img.fs.read(c::kKubeletVersionPath).value() == "v1.30.4\n");
  CHECK(img.fs.read(c::kContainerdVersionPath).value() == "1.7.20\n");
  CHECK(img.fs.node("/etc/kubernetes/manifests")->kind == MemRootFs::Node::Kind::Dir);
  CHECK(img.services.calls() ==
        std::vector<std::string>{"enable kubelet.service", "enable eks-node-agent.service"});
  REQUIRE(img.commands.size() == 6);
  CHECK(img.commands[0] == "dnf install -y dnf-command(versionlock)");
  CHECK(img.commands[5] == "containerd --version");
  const std::string info = img.fs.read(c::kBuildInfoPath).value();
  CHECK(info.find(c::sha256_hex("#!/bin/sh\necho kubelet\n")) != std::string::npos);
  CHECK(info.find("\"containerdVersion\": \"1.7.20\"") != std::string::npos);
  CHECK(img.report.fetched == 4);
  CHECK(img.report.verified_in_place == 0);
}

TEST_CASE("run_build: a re-run downloads nothing and rewrites nothing") {
  Image img;
  REQUIRE(img.run());
  img.fs.clear_ops();
  img.bucket.gets.clear();
  REQUIRE(img.run());
  CHECK(img.report.fetched == 0);
  CHECK(img.report.verified_in_place == 4);
  CHECK(img.report.created == 0);
  CHECK(img.report.updated == 0);
  // Only the four checksum files were read from the bucket.
  CHECK(img.bucket.gets.size() == 4);
  for (const auto& k : img.bucket.gets) CHECK(k.ends_with(".sha256"));
  for (const auto& op : img.fs.ops()) {
    CAPTURE(op);
    CHECK(op.ends_with("unchanged"));
  }
}

TEST_CASE("run_build: a checksum mismatch fails naming the object and leaves the root untouched") {
  Image img;
  img.bucket.objects[kPrefix + "kubectl"] = "tampered";
  auto st = img.run();
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::Invalid);
  CHECK(st.error().message.find("s3://amazon-eks/" + kPrefix + "kubectl") != std::string::npos);
  CHECK(st.error().message.find("nothing was installed") != std::string::npos);
  CHECK(img.fs.ops().empty());
  CHECK(img.commands.empty());
  CHECK(img.services.calls().empty());
}

TEST_CASE("run_build: missing objects") {
  SUBCASE("a missing checksum file is refused") {
    Image img;
    img.bucket.objects.erase(kPrefix + "kubelet.sha256");
    auto st = img.run();
    REQUIRE_FALSE(st);
    CHECK(st.error().code == Errc::NotFound);
    CHECK(st.error().message.find(kPrefix + "kubelet.sha256 is missing") != std::string::npos);
    CHECK(img.fs.ops().empty());
  }
  SUBCASE("a missing binary whose checksum exists") {
    Image img;
    img.bucket.objects.erase(kPrefix + "kubectl");
    auto st = img.run();
    REQUIRE_FALSE(st);
    CHECK(st.error().message.find(kPrefix + "kubectl is missing") != std::string::npos);
    CHECK(img.fs.ops().empty());
  }
  SUBCASE("aws-iam-authenticator is optional") {
    Image img;
    img.bucket.objects.erase(kPrefix + "aws-iam-authenticator");
    img.bucket.objects.erase(kPrefix + "aws-iam-authenticator.sha256");
    REQUIRE(img.run());
    CHECK(img.report.skipped_optional == 1);
    CHECK_FALSE(img.fs.exists("/usr/bin/aws-iam-authenticator"));
  }
}

TEST_CASE("run_build: a failing package step stops before anything is installed") {
  Image img;
  std::vector<std::string> args = {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10"};
  auto v = c::resolve_build_vars(agent::embedded::file("config/build-variables.json"), {}, args, "x86_64");
  REQUIRE(v);
  auto p = c::plan_build(*v, agent::app::gather_build_facts(img.fs));
  REQUIRE(p);
  agent::app::BuildPorts ports{.fs = img.fs, .store = img.bucket, .services = img.services};
  ports.run_in_image = [](const std::vector<std::string>& argv) -> Result<std::string> {
    if (argv.size() > 3 && argv[3].rfind("containerd-", 0) == 0) {
      return agent::make_error(Errc::Invalid, "dnf exited with status 1: No match for argument");
    }
    return std::string();
  };
  ports.read_self = [](const std::function<agent::Status(std::string_view)>& sink) { return sink("AGENT"); };
  agent::app::BuildReport report;
  auto st = agent::app::run_build(*v, *p, ports, report);
  REQUIRE_FALSE(st);
  CHECK(st.error().message.find("package step 'containerd 1.7.*'") != std::string::npos);
  CHECK(st.error().message.find("No match for argument") != std::string::npos);
  CHECK(img.fs.ops().empty());
}

TEST_CASE("run_build: images need containerd; without packages and without containerd it fails early") {
  Image img;
  auto st = img.run({"install_packages=false", "cache_container_images=true"});
  REQUIRE_FALSE(st);
  CHECK(st.error().code == Errc::Unavailable);
  CHECK(st.error().message.find("cache_container_images=true needs containerd") != std::string::npos);
  CHECK(img.fs.ops().empty());
}
