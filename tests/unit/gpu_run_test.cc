// The whole run (gather -> plan_node -> apply) on a fake H100 node: MemRootFs with a sysfs built
// from tests/support/h100-node.txt, FakeImds, RecordingServiceManager. containerd is restarted only
// when its config changed; the summary line and the status file say what was found and configured.
#include <doctest/doctest.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/app/run.h"
#include "agent/compute/accelerator.h"
#include "tests/support/fake_imds.h"
#include "tests/support/fake_sysfs.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_service_manager.h"
#include "tests/support/recording_commands.h"

using agent::Result;
using agent::compute::kNvidiaRuntimePath;
using agent::testing::FakeImds;
using agent::testing::MemRootFs;

namespace {

constexpr const char* kContainerdConfig = "/etc/containerd/config.toml";

using NoCommands = agent::testing::RecordingCommands;  // every program: not on PATH

// A p5.4xlarge-like node: one H100 (the fixture's bus), 16 CPUs, kubelet 1.30.
struct GpuNode {
  MemRootFs fs;
  FakeImds imds;
  NoCommands commands;
  agent::testing::RecordingServiceManager services;
  agent::testing::ManualClock clock;
  agent::cli::Options options;

  GpuNode() {
    fs.put("/etc/eks/kubelet-version.txt", "v1.30.4-eks-1234567\n");
    fs.put("/sys/devices/system/cpu/online", "0-15\n");
    agent::testing::put_pci_bus(fs, agent::testing::h100_fixture_bus());
    const std::string md = "latest/meta-data/";
    imds.set("latest/dynamic/instance-identity/document", R"({"region": "us-west-2"})");
    imds.set(md + "services/domain", "amazonaws.com");
    imds.set(md + "mac", "02:4d:8a:1f:3c:5e");
    imds.set(md + "instance-type", "p5.4xlarge");
    imds.set(md + "instance-id", "i-0123456789abcdef0");
    imds.set(md + "placement/availability-zone", "us-west-2a");
    imds.set(md + "local-ipv4", "10.0.12.34");
    imds.set(md + "local-hostname", "ip-10-0-12-34.us-west-2.compute.internal");
    imds.set(md + "network/interfaces/macs/02:4d:8a:1f:3c:5e/vpc-ipv4-cidr-blocks", "10.0.0.0/16");
    options.node.cluster_name = "gpu-cluster";
    options.node.apiserver_endpoint = "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com";
    options.node.b64_cluster_ca =
        "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
  }

  agent::app::RunOutcome run() {
    services.clear_calls();
    agent::app::RunPorts ports{imds, fs, services, commands, clock, nullptr, 0};
    agent::app::RunOutcome out;
    auto st = agent::app::run_bootstrap(options, ports, out);
    REQUIRE_MESSAGE(st.has_value(), st.error().message);
    return out;
  }

  long containerd_jobs() const {
    const auto& c = services.calls();
    return std::count(c.begin(), c.end(), "start containerd.service") +
           std::count(c.begin(), c.end(), "restart containerd.service");
  }

  nlohmann::json status() const {
    return nlohmann::json::parse(fs.read(agent::app::kStatusPath).value());
  }
};

bool has_diagnostic(const nlohmann::json& status, const std::string& id) {
  for (const auto& d : status["diagnostics"]) {
    if (d["id"] == id) return true;
  }
  return false;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE(
    "a GPU node with the NVIDIA runtime gets nvidia as containerd's default, restarting only on "
    "change") {
  GpuNode node;
  node.fs.put(kNvidiaRuntimePath, "", 0755);

  auto first = node.run();
  CHECK(node.containerd_jobs() == 1);
  const std::string config = node.fs.read(kContainerdConfig).value();
  CHECK(contains(config, "default_runtime_name = \"nvidia\"\n"));
  CHECK(contains(config, "BinaryName = \"/usr/bin/nvidia-container-runtime\"\n"));
  CHECK(contains(agent::app::summary_line(first), " gpus=1 runtime=nvidia "));
  auto status = node.status();
  CHECK(status["values"]["nvidiaGPUs"] == 1);
  CHECK(status["values"]["containerdDefaultRuntime"] == "nvidia");
  CHECK(status["facts"]["accelerators"]["nvidiaPCIAddresses"] == nlohmann::json{"0000:00:06.0"});
  CHECK(status["facts"]["accelerators"]["nvidiaRuntimeInstalled"] == true);
  CHECK(has_diagnostic(status, "GPU_CONFIGURED"));

  SUBCASE("a second run changes nothing and restarts nothing") {
    node.run();
    CHECK(node.containerd_jobs() == 0);
    CHECK(node.fs.read(kContainerdConfig).value() == config);
  }
  SUBCASE("removing the toolkit returns to runc with one restart and a warning") {
    REQUIRE(node.fs.remove(kNvidiaRuntimePath).has_value());
    auto third = node.run();
    CHECK(node.containerd_jobs() == 1);
    CHECK(contains(node.fs.read(kContainerdConfig).value(), "default_runtime_name = \"runc\"\n"));
    CHECK(contains(agent::app::summary_line(third), " gpus=1 runtime=runc "));
    CHECK(has_diagnostic(node.status(), "GPU_NO_RUNTIME"));
  }
}

TEST_CASE("a node without GPUs keeps runc and says nothing about GPUs") {
  GpuNode node;
  node.fs = MemRootFs();  // no sysfs PCI tree at all
  node.fs.put("/etc/eks/kubelet-version.txt", "v1.30.4-eks-1234567\n");
  node.fs.put(kNvidiaRuntimePath, "", 0755);
  auto out = node.run();
  CHECK(contains(node.fs.read(kContainerdConfig).value(), "default_runtime_name = \"runc\"\n"));
  CHECK_FALSE(contains(agent::app::summary_line(out), "gpus="));
  auto status = node.status();
  CHECK(status["values"]["nvidiaGPUs"] == 0);
  CHECK(status["values"]["containerdDefaultRuntime"] == "runc");
  CHECK_FALSE(has_diagnostic(status, "GPU_CONFIGURED"));
  CHECK_FALSE(has_diagnostic(status, "GPU_NO_RUNTIME"));
}

TEST_CASE("the summary line mentions GPUs only when there are some") {
  agent::app::RunOutcome out;
  out.plan.values = {{"cluster", "c"}, {"nvidiaGPUs", 0}, {"containerdDefaultRuntime", "runc"}};
  CHECK_FALSE(contains(agent::app::summary_line(out), "gpus="));
  out.plan.values["nvidiaGPUs"] = 8;
  out.plan.values["containerdDefaultRuntime"] = "nvidia";
  CHECK(contains(agent::app::summary_line(out), " gpus=8 runtime=nvidia "));
}
