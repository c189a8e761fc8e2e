// Golden containerd configs for accelerated nodes: both config versions the agent writes, each with
// no GPU, GPUs and the NVIDIA runtime, and GPUs without it, computed by plan_node from Facts.
// Goldens live in tests/golden/containerd/; after a deliberate change regenerate them with
//   UPDATE_GOLDENS=1 ./unit_tests -tc='*golden*'
// and review the diff.
#include <doctest/doctest.h>
#include <fmt/format.h>
#include <toml++/toml.h>

#include <cstdlib>
#include <fstream>
#include <sstream>
#include <string>

#include "agent/compute/accelerator.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/plan_node.h"

using agent::Diagnostic;
using agent::Facts;
using agent::NodeConfig;
using agent::Plan;
using agent::compute::containerd_config_for;
using agent::compute::ContainerdConfigInput;
using agent::compute::ContainerdSchema;
using agent::compute::kContainerdConfigPath;
using agent::compute::kNvidiaRuntimePath;
using agent::compute::plan_node;

namespace {

constexpr const char* kPause = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5";
constexpr const char* kCaB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUJkdW1teQotLS0tLUVORCBDRVJUSUZJQ0FURS0tLS0tCg==";

std::string golden_path(const std::string& name) {
  return std::string(AGENT_SOURCE_DIR) + "/tests/golden/containerd/" + name;
}

// Compares `actual` with the golden file, or rewrites the file when UPDATE_GOLDENS=1.
void check_golden(const std::string& name, const std::string& actual) {
  const std::string path = golden_path(name);
  if (const char* update = std::getenv("UPDATE_GOLDENS"); update && std::string(update) == "1") {
    std::ofstream(path, std::ios::binary) << actual;
    MESSAGE("updated " << path);
    return;
  }
  std::ifstream in(path, std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden " << path << " (run with UPDATE_GOLDENS=1)");
  std::ostringstream want;
  want << in.rdbuf();
  CHECK_MESSAGE(actual == want.str(), "golden " << path << " differs (UPDATE_GOLDENS=1 to accept)");
}

NodeConfig node_config() {
  NodeConfig c;
  c.cluster_name = "gpu-cluster";
  c.apiserver_endpoint = "https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com";
  c.b64_cluster_ca = kCaB64;
  return c;
}

// The H100 node of shared/data/fixtures/h100-node.txt (16 vCPUs, one GPU at 0000:00:06.0).
Facts h100_facts(int gpus, bool runtime, std::optional<std::string> containerd_version) {
  Facts f;
  f.instance = {.region = "us-west-2",
                .domain = "amazonaws.com",
                .instance_id = "i-0123456789abcdef0",
                .instance_type = "p5.4xlarge",
                .availability_zone = "us-west-2a",
                .local_hostname = "ip-10-0-12-34.us-west-2.compute.internal",
                .local_ipv4 = "10.0.12.34",
                .mac = "02:4d:8a:1f:3c:5e",
                .vpc_ipv4_cidrs = {"10.0.0.0/16"}};
  f.kubelet_version = {1, 30, 4};
  f.kubelet_version_source = "/etc/eks/kubelet-version.txt";
  f.vcpus = 16;
  f.containerd_version = std::move(containerd_version);
  f.accelerators.nvidia_gpus = gpus;
  for (int i = 0; i < gpus; ++i) {
    f.accelerators.nvidia_pci_addresses.push_back(fmt::format("0000:00:{:02x}.0", 6 + i));
  }
  f.accelerators.nvidia_runtime_installed = runtime;
  return f;
}

Plan plan_for(const NodeConfig& c, const Facts& f) {
  auto plan = plan_node(c, f);
  REQUIRE_MESSAGE(plan.has_value(), plan.error().message);
  return *plan;
}

std::string containerd_file(const Plan& p) {
  for (const auto& w : p.files) {
    if (w.path == kContainerdConfigPath) {
      CHECK(w.restarts == std::vector<std::string>{"containerd.service"});
      return w.bytes;
    }
  }
  FAIL("the plan writes no " << kContainerdConfigPath);
  return "";
}

const Diagnostic* find_diag(const Plan& p, const std::string& id) {
  for (const auto& d : p.diagnostics) {
    if (d.id == id) return &d;
  }
  return nullptr;
}

std::string cri_runtime_plugin(int version) {
  return version == 3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri";
}

// What containerd will read from the file: default runtime and the nvidia runtime's settings.
struct Parsed {
  int64_t version = 0;
  std::string default_runtime;
  std::optional<std::string> nvidia_type, nvidia_binary;
  std::optional<bool> nvidia_systemd_cgroup;
  std::optional<std::string> sandbox;
};

Parsed parse(const std::string& text) {
  toml::table doc;
  try {
    doc = toml::parse(text);
  } catch (const toml::parse_error& e) {
    FAIL("invalid TOML: " << e.description());
  }
  Parsed p;
  p.version = doc["version"].value_or<int64_t>(1);
  auto ctr = doc["plugins"][cri_runtime_plugin(static_cast<int>(p.version))]["containerd"];
  p.default_runtime = ctr["default_runtime_name"].value_or<std::string>("");
  p.nvidia_type = ctr["runtimes"]["nvidia"]["runtime_type"].value<std::string>();
  p.nvidia_binary = ctr["runtimes"]["nvidia"]["options"]["BinaryName"].value<std::string>();
  p.nvidia_systemd_cgroup = ctr["runtimes"]["nvidia"]["options"]["SystemdCgroup"].value<bool>();
  p.sandbox =
      p.version == 3
          ? doc["plugins"]["io.containerd.cri.v1.images"]["pinned_images"]["sandbox"]
                .value<std::string>()
          : doc["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"].value<std::string>();
  return p;
}

}  // namespace

TEST_CASE("golden containerd configs for v2 and v3, with and without GPUs and the NVIDIA runtime") {
  struct Case {
    const char* golden;
    std::optional<std::string> containerd_version;
    int gpus;
    bool runtime;
    int version;
    const char* default_runtime;
  };
  const Case cases[] = {
      {"v2-no-gpu.toml", std::nullopt, 0, false, 2, "runc"},
      {"v2-gpu-nvidia.toml", std::nullopt, 1, true, 2, "nvidia"},
      {"v2-gpu-no-runtime.toml", std::nullopt, 1, false, 2, "runc"},
      {"v3-no-gpu.toml", "2.0.5", 0, false, 3, "runc"},
      {"v3-gpu-nvidia.toml", "2.0.5", 1, true, 3, "nvidia"},
      {"v3-gpu-no-runtime.toml", "2.0.5", 1, false, 3, "runc"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.golden);
    const Plan plan = plan_for(node_config(), h100_facts(c.gpus, c.runtime, c.containerd_version));
    const std::string toml = containerd_file(plan);
    check_golden(c.golden, toml);

    const Parsed p = parse(toml);
    CHECK(p.version == c.version);
    CHECK(p.default_runtime == c.default_runtime);
    CHECK(p.sandbox == std::optional<std::string>(kPause));
    if (std::string(c.default_runtime) == "nvidia") {
      CHECK(p.nvidia_type == std::optional<std::string>("io.containerd.runc.v2"));
      CHECK(p.nvidia_binary == std::optional<std::string>(kNvidiaRuntimePath));
      CHECK(p.nvidia_systemd_cgroup == std::optional<bool>(true));
    } else {
      CHECK_FALSE(p.nvidia_type);
    }
    CHECK(plan.values["nvidiaGPUs"] == c.gpus);
    CHECK(plan.values["containerdDefaultRuntime"] == c.default_runtime);

    // Deterministic: computing again gives the same bytes.
    CHECK(containerd_file(plan_for(node_config(),
                                   h100_facts(c.gpus, c.runtime, c.containerd_version))) == toml);
  }
}

TEST_CASE("GPUs without the NVIDIA runtime leave the no-GPU config and warn") {
  for (const auto& version : {std::optional<std::string>(), std::optional<std::string>("2.1.0")}) {
    const Plan none = plan_for(node_config(), h100_facts(0, false, version));
    const Plan bare = plan_for(node_config(), h100_facts(1, false, version));
    CHECK(containerd_file(bare) == containerd_file(none));
    const Diagnostic* d = find_diag(bare, "GPU_NO_RUNTIME");
    REQUIRE(d != nullptr);
    CHECK(d->level == Diagnostic::Level::Warning);
    CHECK(d->message.find("1 NVIDIA GPU(s) found (0000:00:06.0)") != std::string::npos);
    CHECK(d->message.find(kNvidiaRuntimePath) != std::string::npos);
    CHECK(find_diag(bare, "GPU_CONFIGURED") == nullptr);
  }
}

TEST_CASE("no GPU changes nothing, even with the NVIDIA runtime installed") {
  const Plan without = plan_for(node_config(), h100_facts(0, false, std::nullopt));
  const Plan with_runtime = plan_for(node_config(), h100_facts(0, true, std::nullopt));
  CHECK(containerd_file(with_runtime) == containerd_file(without));
  for (const char* id : {"GPU_NO_RUNTIME", "GPU_CONFIGURED", "GPU_USER_CONFIG_UNSUPPORTED"}) {
    CHECK(find_diag(with_runtime, id) == nullptr);
  }
  // The no-GPU config is the AL2 one, unchanged by this feature (no spurious containerd restart
  // after an agent upgrade).
  auto legacy = containerd_config_for(kPause, std::nullopt, "");
  REQUIRE(legacy.has_value());
  CHECK(containerd_file(without) == *legacy);
}

TEST_CASE("GPUs with the NVIDIA runtime are reported as configured") {
  const Plan p = plan_for(node_config(), h100_facts(4, true, std::nullopt));
  const Diagnostic* d = find_diag(p, "GPU_CONFIGURED");
  REQUIRE(d != nullptr);
  CHECK(d->level == Diagnostic::Level::Info);
  CHECK(d->message ==
        "4 NVIDIA GPU(s) found (0000:00:06.0, 0000:00:07.0, 0000:00:08.0, 0000:00:09.0); "
        "containerd's "
        "default runtime is nvidia (/usr/bin/nvidia-container-runtime)");
  CHECK(p.values["nvidiaGPUs"] == 4);
  CHECK(p.values["containerdDefaultRuntime"] == "nvidia");
}

TEST_CASE("the containerd version file picks the config layout") {
  struct Case {
    std::optional<std::string> text;
    int version;
    bool warns;
  };
  const Case cases[] = {
      {std::nullopt, 2, false}, {"1.7.27", 2, false}, {"1.6.0-1.amzn2", 2, false},
      {"2.0.5", 3, false},      {"2.1.4", 3, false},  {"not a version", 2, true},
  };
  for (const auto& c : cases) {
    CAPTURE(c.text.value_or("(absent)"));
    const Plan p = plan_for(node_config(), h100_facts(0, false, c.text));
    CHECK(parse(containerd_file(p)).version == c.version);
    CHECK((find_diag(p, "CONTAINERD_VERSION_UNKNOWN") != nullptr) == c.warns);
  }
}

TEST_CASE("a user containerd config of version 2 or 3 gets the nvidia runtime as its default") {
  struct Case {
    const char* golden;
    const char* user;
  };
  const Case cases[] = {
      {"user-v2-gpu-nvidia.toml",
       "version = 2\n"
       "# a comment that re-serialization drops\n"
       "[plugins.\"io.containerd.grpc.v1.cri\"]\n"
       "sandbox_image = \"SANDBOX_IMAGE\"\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
       "default_runtime_name = \"runc\"\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc]\n"
       "runtime_type = \"io.containerd.runc.v2\"\n"
       "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.runc.options]\n"
       "SystemdCgroup = true\n"},
      {"user-v3-gpu-nvidia.toml",
       "version = 3\n"
       "[plugins.'io.containerd.cri.v1.images'.pinned_images]\n"
       "sandbox = \"SANDBOX_IMAGE\"\n"
       "[plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.nvidia.options]\n"
       "BinaryName = \"/opt/old/nvidia-container-runtime\"\n"
       "NoPivotRoot = false\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.golden);
    auto out =
        containerd_config_for(ContainerdConfigInput{.sandbox_image = kPause,
                                                    .user_config = std::string(c.user),
                                                    .user_source = "/etc/eks/user.toml",
                                                    .nvidia_runtime_binary = kNvidiaRuntimePath});
    REQUIRE_MESSAGE(out.has_value(), out.error().message);
    check_golden(c.golden, out->toml);
    CHECK(out->nvidia_default);
    CHECK(out->user_rewritten);
    CHECK(out->default_runtime == "nvidia");
    const Parsed p = parse(out->toml);
    CHECK(p.default_runtime == "nvidia");
    CHECK(p.nvidia_binary == std::optional<std::string>(kNvidiaRuntimePath));
    CHECK(p.nvidia_type == std::optional<std::string>("io.containerd.runc.v2"));
    CHECK(p.nvidia_systemd_cgroup == std::optional<bool>(true));
    CHECK(p.sandbox == std::optional<std::string>(kPause));
  }
  SUBCASE("the user's other runtime options survive") {
    auto out =
        containerd_config_for(ContainerdConfigInput{.sandbox_image = kPause,
                                                    .user_config = std::string(cases[1].user),
                                                    .user_source = "/etc/eks/user.toml",
                                                    .nvidia_runtime_binary = kNvidiaRuntimePath});
    REQUIRE(out.has_value());
    CHECK(out->toml.find("NoPivotRoot = false") != std::string::npos);
    CHECK(out->toml.find("/opt/old/") == std::string::npos);
  }
  SUBCASE("re-running on the result is a fixed point") {
    auto once =
        containerd_config_for(ContainerdConfigInput{.sandbox_image = kPause,
                                                    .user_config = std::string(cases[0].user),
                                                    .user_source = "/etc/eks/user.toml",
                                                    .nvidia_runtime_binary = kNvidiaRuntimePath});
    REQUIRE(once.has_value());
    auto twice =
        containerd_config_for(ContainerdConfigInput{.sandbox_image = kPause,
                                                    .user_config = once->toml,
                                                    .user_source = "/etc/eks/user.toml",
                                                    .nvidia_runtime_binary = kNvidiaRuntimePath});
    REQUIRE(twice.has_value());
    CHECK_FALSE(twice->user_rewritten);
    CHECK(twice->toml == once->toml);
  }
}

TEST_CASE("a user config that already makes nvidia the default is kept byte for byte") {
  const std::string user =
      "version = 2\n"
      "# keep me\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
      "default_runtime_name = \"nvidia\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia]\n"
      "runtime_type = \"io.containerd.runc.v2\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd.runtimes.nvidia.options]\n"
      "BinaryName = \"/usr/bin/nvidia-container-runtime\"\n";
  auto out =
      containerd_config_for(ContainerdConfigInput{.sandbox_image = kPause,
                                                  .user_config = user,
                                                  .user_source = "/etc/eks/user.toml",
                                                  .nvidia_runtime_binary = kNvidiaRuntimePath});
  REQUIRE(out.has_value());
  CHECK(out->toml == user);
  CHECK(out->nvidia_default);
  CHECK_FALSE(out->user_rewritten);
}

TEST_CASE("a user config of version 1 is kept as given and the plan warns") {
  NodeConfig c = node_config();
  c.containerd_config_file = "/etc/eks/containerd/old.toml";
  Facts f = h100_facts(1, true, std::nullopt);
  f.containerd_config_user = "[plugins.cri]\nsandbox_image = \"SANDBOX_IMAGE\"\n";
  const Plan p = plan_for(c, f);
  CHECK(containerd_file(p) == "[plugins.cri]\nsandbox_image = \"" + std::string(kPause) + "\"\n");
  const Diagnostic* d = find_diag(p, "GPU_USER_CONFIG_UNSUPPORTED");
  REQUIRE(d != nullptr);
  CHECK(d->level == Diagnostic::Level::Warning);
  CHECK(d->message.find("/etc/eks/containerd/old.toml is a version 1 containerd config") !=
        std::string::npos);
  CHECK(p.values["containerdDefaultRuntime"] == "runc");
}

TEST_CASE("a user config whose runtimes entry is not a table is refused with Invalid") {
  auto out = containerd_config_for(ContainerdConfigInput{
      .sandbox_image = kPause,
      .user_config = std::string("version = 2\n[plugins.\"io.containerd.grpc.v1.cri\".containerd]\n"
                                 "runtimes = \"oops\"\n"),
      .user_source = "/etc/eks/user.toml",
      .nvidia_runtime_binary = kNvidiaRuntimePath});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == agent::Errc::Invalid);
  CHECK(out.error().message.find("/etc/eks/user.toml") != std::string::npos);
}

TEST_CASE("a runtime path that would break the TOML string is refused") {
  auto out = containerd_config_for(
      ContainerdConfigInput{.sandbox_image = kPause, .nvidia_runtime_binary = "/usr/bin/a\"b"});
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == agent::Errc::Invalid);
}
