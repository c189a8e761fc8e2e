// Accelerator facts gathered from a fake sysfs (MemRootFs) built from a real H100 node's PCI bus
// (tests/support/fake_sysfs.h). The whole run on such a node is in gpu_run_test.cc.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/app/gather.h"
#include "agent/compute/accelerator.h"
#include "tests/support/fake_imds.h"
#include "tests/support/fake_sysfs.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_commands.h"

using agent::AcceleratorFacts;
using agent::NodeConfig;
using agent::Result;
using agent::app::gather;
using agent::app::gather_accelerators;
using agent::app::GatherPorts;
using agent::testing::FakeImds;
using agent::testing::h100_fixture_bus;
using agent::testing::MemRootFs;
using agent::testing::put_pci_bus;
using agent::testing::with_more_h100s;

namespace {

void put_node_basics(MemRootFs& fs) {
  fs.put("/etc/eks/kubelet-version.txt", "v1.30.4-eks-1234567\n");
  fs.put("/sys/devices/system/cpu/online", "0-15\n");
}

void set_imds(FakeImds& imds) {
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
}

using NoCommands = agent::testing::RecordingCommands;  // every program: not on PATH

NodeConfig node_config() {
  NodeConfig c;
  c.cluster_name = "gpu-cluster";
  c.apiserver_endpoint = "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com";
  c.b64_cluster_ca =
      "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";
  return c;
}

}  // namespace

TEST_CASE("the H100 fixture's bus shows one GPU") {
  REQUIRE(h100_fixture_bus().size() == 7);
  MemRootFs fs;
  put_pci_bus(fs, h100_fixture_bus());
  AcceleratorFacts a = gather_accelerators(fs);
  CHECK(a.nvidia_gpus == 1);
  CHECK(a.nvidia_pci_addresses == std::vector<std::string>{"0000:00:06.0"});
  CHECK_FALSE(a.nvidia_runtime_installed);

  SUBCASE("with the NVIDIA container runtime installed") {
    fs.put(agent::compute::kNvidiaRuntimePath, "", 0755);
    CHECK(gather_accelerators(fs).nvidia_runtime_installed);
  }
}

TEST_CASE("four H100s count four") {
  MemRootFs fs;
  put_pci_bus(fs, with_more_h100s(h100_fixture_bus(), 3));
  AcceleratorFacts a = gather_accelerators(fs);
  CHECK(a.nvidia_gpus == 4);
  CHECK(a.nvidia_pci_addresses ==
        std::vector<std::string>{"0000:00:06.0", "0000:00:07.0", "0000:00:08.0", "0000:00:09.0"});
}

TEST_CASE("a GPU's audio function does not count as a GPU") {
  MemRootFs fs;
  auto bus = h100_fixture_bus();
  bus.push_back({"0000:00:06.1", "0x10de", "0x22ba", "0x040300"});
  put_pci_bus(fs, bus);
  AcceleratorFacts a = gather_accelerators(fs);
  CHECK(a.nvidia_gpus == 1);
  CHECK(a.nvidia_pci_addresses == std::vector<std::string>{"0000:00:06.0"});
}

TEST_CASE("no NVIDIA device, no sysfs, or unreadable attributes mean no GPU") {
  SUBCASE("the fixture's bus without the GPU") {
    MemRootFs fs;
    auto bus = h100_fixture_bus();
    bus.pop_back();
    put_pci_bus(fs, bus);
    CHECK(gather_accelerators(fs) == AcceleratorFacts{});
  }
  SUBCASE("an image root has no /sys at all") {
    MemRootFs fs;
    CHECK(gather_accelerators(fs) == AcceleratorFacts{});
  }
  SUBCASE("Neuron (Inferentia, Trainium) devices are not NVIDIA GPUs: containerd keeps runc, as nodeadm") {
    MemRootFs fs;
    auto bus = h100_fixture_bus();
    bus.pop_back();
    bus.push_back({"0000:00:1e.0", "0x1d0f", "0x7164", "0x088000"});  // Amazon vendor id: a Neuron device
    bus.push_back({"0000:00:1f.0", "0x1d0f", "0x7164", "0x088000"});
    put_pci_bus(fs, bus);
    CHECK(gather_accelerators(fs) == AcceleratorFacts{});
  }
  SUBCASE("a device directory without a class attribute is skipped") {
    MemRootFs fs;
    fs.put("/sys/bus/pci/devices/0000:00:06.0/vendor", "0x10de\n");
    CHECK(gather_accelerators(fs).nvidia_gpus == 0);
  }
}

TEST_CASE("gather reports accelerators and the containerd version without running a program") {
  MemRootFs fs;
  put_node_basics(fs);
  put_pci_bus(fs, with_more_h100s(h100_fixture_bus(), 1));
  fs.put(agent::compute::kNvidiaRuntimePath, "", 0755);
  fs.put("/etc/eks/containerd-version.txt", "2.0.5\n");
  FakeImds imds;
  set_imds(imds);
  NoCommands commands;
  auto facts = gather(node_config(), GatherPorts{imds, fs, commands, nullptr, 0});
  REQUIRE_MESSAGE(facts.has_value(), facts.error().message);
  CHECK(commands.calls.empty());
  CHECK(facts->vcpus == 16);
  CHECK(facts->accelerators ==
        AcceleratorFacts{.nvidia_gpus = 2,
                         .nvidia_pci_addresses = {"0000:00:06.0", "0000:00:07.0"},
                         .nvidia_runtime_installed = true});
  CHECK(facts->containerd_version == std::optional<std::string>("2.0.5"));
  const nlohmann::json j = *facts;
  CHECK(j["accelerators"]["nvidiaGPUs"] == 2);
  CHECK(j["accelerators"]["nvidiaRuntimeInstalled"] == true);
  CHECK(j["containerdVersion"] == "2.0.5");
}
