// nodeadm's run phase with the FastImagePull gate (SOCI): once containerd is up, the image's
// /etc/eks/pause.tar is imported into SOCI's snapshotter (nodeadm's PostLaunch), before kubelet
// starts, also when the run phase is its own process (nodeadm-run.service) and decides from the
// host again. In-memory root, fake IMDS, a recording systemd and a recording command runner.
#include <doctest/doctest.h>

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "agent/app/run.h"
#include "agent/cli/nodeadm_cli.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_commands.h"
#include "tests/support/recording_service_manager.h"

namespace {

using agent::testing::FakeImds;
using agent::testing::MemRootFs;

const std::vector<std::string> kImport = {"ctr",      "--namespace", "k8s.io",
                                          "images",   "import",      "--snapshotter",
                                          "soci",     "--discard-unpacked-layers=false",
                                          "--local",  "/etc/eks/pause.tar"};

struct SociNode {
  MemRootFs fs;
  FakeImds imds;
  agent::testing::RecordingCommands commands;
  agent::testing::RecordingServiceManager services;
  agent::testing::ManualClock clock;

  // An AL2023 root on 8 CPUs with 16 GiB online, the pause archive, and NodeConfig user data.
  explicit SociNode(bool fast_image_pull) {
    fs.put("/etc/os-release", "NAME=\"Amazon Linux\"\nVERSION_ID=\"2023\"\nID=\"amzn\"\n");
    fs.put("/etc/eks/kubelet-version.txt", "v1.31.2-eks-1234567\n");
    fs.put("/sys/devices/system/cpu/online", "0-7\n");
    fs.put("/sys/devices/system/memory/block_size_bytes", "8000000\n");  // 128 MiB
    for (int i = 0; i < 128; ++i) fs.put("/sys/devices/system/memory/memory" + std::to_string(i) + "/online", "1\n");
    fs.put("/etc/eks/pause.tar", "archive");
    fs.put("/etc/eks/image-credential-provider/ecr-credential-provider", "", 0755);
    const std::string md = "latest/meta-data/";
    imds.set("latest/dynamic/instance-identity/document",
             R"({"region": "us-west-2", "instanceId": "i-0123456789abcdef0", "instanceType": "m5.2xlarge",
                 "availabilityZone": "us-west-2a"})");
    imds.set(md + "services/domain", "amazonaws.com");
    imds.set(md + "mac", "02:4d:8a:1f:3c:5e");
    imds.set(md + "instance-type", "m5.2xlarge");
    imds.set(md + "instance-id", "i-0123456789abcdef0");
    imds.set(md + "placement/availability-zone", "us-west-2a");
    imds.set(md + "local-ipv4", "10.0.12.34");
    imds.set(md + "local-hostname", "ip-10-0-12-34.us-west-2.compute.internal");
    imds.set(md + "network/interfaces/macs/02:4d:8a:1f:3c:5e/vpc-ipv4-cidr-blocks", "10.0.0.0/16");
    imds.set("latest/user-data",
             std::string("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n"
                         "    name: soci\n    apiServerEndpoint: https://ABC.gr7.us-west-2.eks.amazonaws.com\n"
                         "    certificateAuthority: LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==\n"
                         "    cidr: 10.100.0.0/16\n  featureGates:\n    InstanceIdNodeName: true\n") +
                 (fast_image_pull ? "    FastImagePull: true\n" : ""));
    commands.answers.insert_or_assign("ctr", std::string("unpacking localhost/kubernetes/pause:latest\n"));
  }

  // `nodeadm init ARGS...` in this root.
  agent::app::RunOutcome init(std::vector<std::string> args) {
    args.insert(args.begin(), "init");
    auto parsed = agent::cli::parse_nodeadm_args(args);
    REQUIRE_MESSAGE(parsed.has_value(), parsed.error().message);
    const agent::cli::Options o = agent::cli::nodeadm_init_options(*parsed, 30);
    agent::app::RunPorts ports{imds, fs, services, commands, clock, nullptr, 8};
    agent::app::RunOutcome out;
    auto st = agent::app::run_bootstrap(o, ports, out);
    REQUIRE_MESSAGE(st.has_value(), st.error().message);
    return out;
  }

  // The ctr commands run (gather also runs `containerd --version`).
  std::vector<std::vector<std::string>> ctr_calls() const {
    std::vector<std::vector<std::string>> out;
    for (const auto& c : commands.calls) {
      if (c.at(0) == "ctr") out.push_back(c);
    }
    return out;
  }

  // Index of `call` in the service manager's calls, or -1.
  long at(const std::string& call) const {
    const auto& c = services.calls();
    auto it = std::find(c.begin(), c.end(), call);
    return it == c.end() ? -1 : it - c.begin();
  }
};

}  // namespace

TEST_CASE("nodeadm run phase: SOCI's pause import after containerd, before kubelet, in its own process") {
  SociNode node(/*fast_image_pull=*/true);
  node.init({"--skip", "run"});
  CHECK(node.ctr_calls().empty());  // the config phase starts no daemon and runs no ctr
  CHECK(node.fs.read("/etc/systemd/system/containerd.service.d/10-soci-snapshotter.conf").has_value());

  node.services.clear_calls();
  node.init({"--skip", "config"});  // nodeadm-run.service: decides SOCI from the host again
  REQUIRE(node.ctr_calls().size() == 1);
  CHECK(node.ctr_calls()[0] == kImport);
  CHECK(node.at("start containerd.service") >= 0);
  CHECK(node.at("start kubelet.service") > node.at("start containerd.service"));

  // Every boot's run phase imports again (idempotent for ctr), as nodeadm's PostLaunch does.
  node.init({"--skip", "config"});
  CHECK(node.ctr_calls().size() == 2);

  // A failing import is a warning: kubelet still starts.
  node.commands.answers.insert_or_assign("ctr", agent::make_error(agent::Errc::Invalid, "ctr: exit status 1"));
  node.services.set_state("kubelet.service", {});
  node.services.clear_calls();
  node.init({"--skip", "config"});
  CHECK(node.ctr_calls().size() == 3);
  CHECK(node.at("start kubelet.service") >= 0);
}

TEST_CASE("nodeadm run phase: without FastImagePull, or without the archive, nothing is imported") {
  SociNode off(/*fast_image_pull=*/false);
  off.init({});
  CHECK(off.ctr_calls().empty());
  CHECK(off.at("start kubelet.service") >= 0);

  SociNode no_tar(/*fast_image_pull=*/true);
  REQUIRE(no_tar.fs.remove("/etc/eks/pause.tar").has_value());
  no_tar.init({});  // both phases in one process: the config phase's plan decides
  CHECK(no_tar.ctr_calls().empty());
  CHECK(no_tar.at("start kubelet.service") >= 0);
}

TEST_CASE("nodeadm run phase: local disks (localStorage) after the marker, before containerd and kubelet") {
  SociNode node(/*fast_image_pull=*/false);
  auto ud = node.imds.get("latest/user-data");
  REQUIRE(ud);
  node.imds.set("latest/user-data", *ud + "  instance:\n    localStorage:\n      strategy: RAID0\n");
  auto phase_names = [](const agent::app::RunOutcome& out) {
    std::vector<std::string> names;
    for (const auto& [name, ms] : out.phases_ms.items()) names.push_back(name);
    return names;
  };
  // The config phase (nodeadm-config.service) never touches disks: nodeadm's local-disk aspect is
  // a run-phase aspect.
  auto config = phase_names(node.init({"--skip", "run"}));
  CHECK(std::find(config.begin(), config.end(), "disks") == config.end());

  auto run = phase_names(node.init({"--skip", "config"}));
  auto at = [&](const char* name) { return std::find(run.begin(), run.end(), name) - run.begin(); };
  REQUIRE(at("disks") < static_cast<long>(run.size()));
  CHECK(at("marker") < at("disks"));
  CHECK(at("disks") < at("run"));  // "run": containerd, then kubelet

  // The dry run shows the same order: the disk plan, then the daemons.
  auto dry = node.init({"--skip", "config", "--dry-run"}).dry_run;
  const auto disks = dry.find("local disks (raid0");
  const auto containerd = dry.find("containerd.service");
  INFO(dry);
  REQUIRE(disks != std::string::npos);
  REQUIRE(containerd != std::string::npos);
  CHECK(disks < containerd);
}

TEST_CASE("nodeadm config phase: --daemon configures only the daemons it names; the node's files always") {
  auto node_with_env = [] {
    auto node = std::make_unique<SociNode>(/*fast_image_pull=*/false);
    auto ud = node->imds.get("latest/user-data");
    REQUIRE(ud);
    node->imds.set("latest/user-data",
                   *ud + "  instance:\n    environment:\n      default:\n        HTTPS_PROXY: http://proxy:3128\n");
    return node;
  };
  const std::string env_dropin = "/etc/systemd/system.conf.d/environment.conf";
  {
    auto node = node_with_env();
    node->init({"--skip", "run", "-d", "kubelet"});
    CHECK(node->fs.read("/etc/kubernetes/kubelet/config.json").has_value());
    CHECK(node->fs.read("/etc/eks/kubelet/environment").has_value());
    CHECK_FALSE(node->fs.read("/etc/containerd/config.toml").has_value());
    CHECK_FALSE(node->fs.read("/etc/containerd/base-runtime-spec.json").has_value());
    CHECK(node->fs.read(env_dropin).has_value());  // its DefaultEnvironment= still owes containerd a restart
  }
  {
    auto node = node_with_env();
    node->init({"--skip", "run", "-d", "containerd"});
    CHECK(node->fs.read("/etc/containerd/config.toml").has_value());
    CHECK_FALSE(node->fs.read("/etc/kubernetes/kubelet/config.json").has_value());
    CHECK_FALSE(node->fs.read("/var/lib/kubelet/kubeconfig").has_value());
    CHECK(node->fs.read(env_dropin).has_value());
  }
  {
    auto node = node_with_env();
    node->init({"--skip", "run", "--daemon="});
    CHECK_FALSE(node->fs.read("/etc/containerd/config.toml").has_value());
    CHECK_FALSE(node->fs.read("/etc/kubernetes/kubelet/config.json").has_value());
    CHECK(node->fs.read(env_dropin).has_value());
  }
}
