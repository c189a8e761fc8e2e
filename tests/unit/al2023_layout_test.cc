// The AL2023 (nodeadm) layout: the files nodeadm writes, for bootstrap.sh flags and NodeConfig
// input, and both layouts side by side for the same inputs (tests/golden/layouts/). The
// reference case's files are written by hand from nodeadm.md 3.5, 3.7 and 3.8; the others are
// goldens (UPDATE_GOLDENS=1 rewrites them; review the diff).
#include <doctest/doctest.h>

#include <algorithm>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "agent/compute/al2023/kubelet_files.h"
#include "agent/compute/plan_node.h"
#include "tests/support/golden.h"

using agent::Errc;
using agent::Facts;
using agent::NodeConfig;
using agent::Plan;
using agent::Platform;
using agent::Version;
namespace nd = agent::compute::al2023;

namespace {

const std::string kPemB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

// nodeadm.md 3.5's reference node: m4.xlarge, 2 vCPUs, service CIDR 10.100.0.0/16, kubelet 1.34.
Facts reference_facts(Platform platform = Platform::Al2023) {
  Facts f;
  f.platform = platform;
  f.instance = {.region = "us-west-2",
                .domain = "amazonaws.com",
                .instance_id = "i-1234567890abcdef0",
                .instance_type = "m4.xlarge",
                .availability_zone = "us-west-2f",
                .local_hostname = "ip-10-0-0-1.us-west-2.compute.internal",
                .local_ipv4 = "10.0.0.1",
                .mac = "0e:00:00:00:00:01"};
  f.kubelet_version = Version{1, 34, 0};
  f.kubelet_version_source = "/etc/eks/kubelet-version.txt";
  f.vcpus = 2;
  f.containerd_version = "1.7.27";
  f.credential_provider_bin = nd::kCredentialProviderBin;
  f.credential_provider_bin_present = true;
  return f;
}

NodeConfig reference_config() {
  NodeConfig c;
  c.cluster_name = "my-cluster";
  c.apiserver_endpoint = "https://example.com";
  c.b64_cluster_ca = kPemB64;
  c.service_ipv4_cidr = "10.100.0.0/16";
  return c;
}

Plan plan(const NodeConfig& c, const Facts& f) {
  auto r = agent::compute::plan_node(c, f);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

const std::string& bytes(const Plan& p, const std::string& path) {
  auto it = std::find_if(p.files.begin(), p.files.end(), [&](const auto& w) { return w.path == path; });
  REQUIRE_MESSAGE(it != p.files.end(), "plan has no file " << path);
  return it->bytes;
}

// Every file of the plan, named by its node path ('/' -> '_'), with the unit intents.
std::map<std::string, std::string> plan_files(const Plan& p) {
  std::map<std::string, std::string> out;
  for (const auto& w : p.files) {
    std::string name = w.path.substr(1);
    std::replace(name.begin(), name.end(), '/', '_');
    out[name] = w.bytes;
  }
  std::string units;
  for (const auto& u : p.units) {
    units += u.unit + (u.enable ? " enable" : "") + (u.start_if_inactive ? " start" : "") +
             (u.restart_on_change ? " restart-on-change" : "") + "\n";
  }
  for (const auto& r : p.removals) units += "remove " + r.path + "\n";
  out["(units)"] = units;
  return out;
}

}  // namespace

TEST_CASE("al2023 reference node: config.json, kubeconfig and credential provider as nodeadm.md writes them") {
  const Plan p = plan(reference_config(), reference_facts());
  agent::test::check_golden("al2023/reference/etc_kubernetes_kubelet_config.json", bytes(p, nd::kKubeletConfigPath));
  agent::test::check_golden("al2023/reference/var_lib_kubelet_kubeconfig", bytes(p, "/var/lib/kubelet/kubeconfig"));
  agent::test::check_golden("al2023/reference/etc_eks_image-credential-provider_config.json",
                            bytes(p, nd::kCredentialProviderConfig));
}

TEST_CASE("al2023: the environment file carries nodeadm's flags, then the user's, no trailing newline") {
  NodeConfig c = reference_config();
  c.kubelet_flags = {"--v=5"};
  c.kubelet_extra_args = "--node-labels=foo=bar,foo2=baz   --register-with-taints=foo=bar:NoSchedule";
  const std::string env = bytes(plan(c, reference_facts()), nd::kKubeletEnvironmentPath);
  CHECK(env.rfind("NODEADM_KUBELET_ARGS=--node-ip=10.0.0.1 --cloud-provider=external "
                  "--hostname-override=ip-10-0-0-1.us-west-2.compute.internal ",
                  0) == 0);
  CHECK(env.ends_with(" --v=5 --node-labels=foo=bar,foo2=baz --register-with-taints=foo=bar:NoSchedule"));
  CHECK(env.find("--pod-infra-container-image") == std::string::npos);
  CHECK(env.find('\n') == std::string::npos);
}

TEST_CASE("al2023: from kubelet 1.35 an NVIDIA GPU labels the node nvidia.com/gpu.present=true, as nodeadm") {
  Facts f = reference_facts();
  f.accelerators.nvidia_gpus = 1;
  f.accelerators.nvidia_pci_addresses = {"0000:00:1e.0"};
  const std::string label = "--node-labels=nvidia.com/gpu.present=true";
  f.kubelet_version = Version{1, 34, 2};
  CHECK(bytes(plan(reference_config(), f), nd::kKubeletEnvironmentPath).find(label) == std::string::npos);
  f.kubelet_version = Version{1, 35, 0};
  NodeConfig c = reference_config();
  c.kubelet_extra_args = "--node-labels=team=a";
  const std::string env = bytes(plan(c, f), nd::kKubeletEnvironmentPath);
  CHECK(env.find(" " + label + " ") != std::string::npos);
  CHECK(env.ends_with(" --node-labels=team=a"));  // the user's flags still come last
  Facts no_gpu = reference_facts();
  no_gpu.kubelet_version = Version{1, 35, 0};
  CHECK(bytes(plan(reference_config(), no_gpu), nd::kKubeletEnvironmentPath).find(label) == std::string::npos);
}

TEST_CASE("al2023: a user --hostname-override replaces ours; maxPods in config.json stays nodeadm's") {
  NodeConfig c = reference_config();
  c.kubelet_extra_args = "--hostname-override=mine --max-pods=110";
  const Plan p = plan(c, reference_facts());
  const std::string env = bytes(p, nd::kKubeletEnvironmentPath);
  CHECK(env.find("--hostname-override=ip-") == std::string::npos);
  CHECK(env.ends_with("--hostname-override=mine --max-pods=110"));
  auto cfg = nlohmann::json::parse(bytes(p, nd::kKubeletConfigPath));
  CHECK(cfg["maxPods"] == 58);
  CHECK(cfg["kubeReserved"]["memory"] == "893Mi");
}

TEST_CASE("al2023: kubelet.config becomes 40-nodeadm.conf (sorted, 4 spaces) and --config-dir") {
  NodeConfig c = reference_config();
  c.kubelet_config = nlohmann::json::parse(R"({"logging":{"verbosity":5},"clusterDNS":["0.0.0.0","1.1.1.1"]})");
  Facts f = reference_facts();
  f.kubelet_version = Version{1, 29, 3};
  const Plan p = plan(c, f);
  CHECK(bytes(p, nd::kKubeletDropinPath) ==
        "{\n    \"apiVersion\": \"kubelet.config.k8s.io/v1beta1\",\n    \"clusterDNS\": [\n        \"0.0.0.0\",\n"
        "        \"1.1.1.1\"\n    ],\n    \"kind\": \"KubeletConfiguration\",\n    \"logging\": {\n"
        "        \"verbosity\": 5\n    }\n}");
  const std::string env = bytes(p, nd::kKubeletEnvironmentPath);
  CHECK(env.find(" --config-dir=/etc/kubernetes/kubelet/config.json.d ") != std::string::npos);
  CHECK(env.ends_with("\nKUBELET_CONFIG_DROPIN_DIR_ALPHA=on"));
}

TEST_CASE("al2023: a drop-in from an earlier configuration is removed; none is written without kubelet.config") {
  Facts f = reference_facts();
  f.nodeadm_dropin_present = true;
  const Plan p = plan(reference_config(), f);
  REQUIRE(p.removals.size() >= 1);
  CHECK(std::any_of(p.removals.begin(), p.removals.end(), [](const auto& r) { return r.path == nd::kKubeletDropinPath; }));
  CHECK(bytes(p, nd::kKubeletEnvironmentPath).find("--config-dir") == std::string::npos);
}

TEST_CASE("al2023: a missing credential provider binary is an error naming it and the variable") {
  Facts f = reference_facts();
  f.credential_provider_bin_present = false;
  f.credential_provider_bin = "/opt/ecr/ecr-credential-provider";
  auto r = agent::compute::plan_node(reference_config(), f);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::NotFound);
  CHECK(r.error().message.find("/opt/ecr/ecr-credential-provider") != std::string::npos);
  CHECK(r.error().message.find("ECR_CREDENTIAL_PROVIDER_BIN_PATH") != std::string::npos);
}

TEST_CASE("al2023: Outposts write the bootstrap kubeconfig named by the cluster id, and both flags") {
  NodeConfig c = reference_config();
  c.enable_local_outpost = true;
  c.cluster_id = "0123-cluster-id";
  Facts f = reference_facts();
  f.outpost_host_addresses = {"10.0.0.5"};
  f.etc_hosts = "127.0.0.1 localhost\n";
  const Plan p = plan(c, f);
  CHECK(bytes(p, "/var/lib/kubelet/bootstrap-kubeconfig").find("\"0123-cluster-id\"") != std::string::npos);
  const std::string env = bytes(p, nd::kKubeletEnvironmentPath);
  CHECK(env.find("--kubeconfig=/var/lib/kubelet/kubeconfig") != std::string::npos);
  CHECK(env.find("--bootstrap-kubeconfig=/var/lib/kubelet/bootstrap-kubeconfig") != std::string::npos);
  CHECK(bytes(p, "/etc/hosts").find("10.0.0.5\texample.com") != std::string::npos);
}

TEST_CASE("al2023: environment drop-ins in nodeadm's format, with the trailing-quote bug fixed") {
  NodeConfig c = reference_config();
  c.environment = {{"default", {{"NO_PROXY", "localhost,169.254.169.254"}, {"HTTPS_PROXY", "http://proxy:3128"}}},
                   {"kubelet", {{"QUOTE", "a\""}, {"PCT", "50%"}}}};
  const Plan p = plan(c, reference_facts());
  CHECK(bytes(p, nd::kDefaultEnvironmentPath) ==
        "[Manager]\nDefaultEnvironment=\"HTTPS_PROXY=http://proxy:3128\"\n"
        "DefaultEnvironment=\"NO_PROXY=localhost,169.254.169.254\"\n");
  CHECK(bytes(p, "/etc/systemd/system/kubelet.service.d/environment.conf") ==
        "[Service]\nEnvironment=\"PCT=50%%\"\nEnvironment=\"QUOTE=a\\\"\"\n");
}

TEST_CASE("al2023: nodeadm leaves kubelet disabled; bootstrap.sh's flow enables it, as on AL2") {
  NodeConfig c = reference_config();
  auto kubelet = [](const Plan& p) {
    return *std::find_if(p.units.begin(), p.units.end(), [](const auto& u) { return u.unit == "kubelet.service"; });
  };
  CHECK(kubelet(plan(c, reference_facts())).enable);
  c.nodeadm = true;
  CHECK_FALSE(kubelet(plan(c, reference_facts())).enable);
}

// --- both layouts for the same inputs ----------------------------------------------------------

TEST_CASE("layouts: bootstrap.sh flags give the same node values on AL2 and AL2023") {
  NodeConfig c = reference_config();
  c.kubelet_extra_args = "--node-labels=team=a --max-pods=110";
  for (Platform p : {Platform::Al2, Platform::Al2023}) {
    Facts f = reference_facts(p);
    f.kubelet_version = Version{1, 30, 4};
    agent::test::check_golden_dir(std::string("layouts/flags/") + std::string(agent::platform_name(p)),
                                  plan_files(plan(c, f)));
  }
}

TEST_CASE("layouts: --use-max-pods false, the AL2 pause image flags and IPv6 mean the same on AL2 and AL2023") {
  NodeConfig c = reference_config();
  c.use_max_pods = false;
  c.pause_container_account = "123456789012";
  c.pause_container_version = "3.9";
  c.ip_family = agent::IpFamily::Ipv6;
  c.service_ipv4_cidr.reset();
  c.service_ipv6_cidr = "fd12:3456:789a::/108";
  const std::string pause = "123456789012.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.9";
  struct Seen {
    nlohmann::json config;
    std::string args;
    std::string containerd;
  };
  auto seen = [&](Platform p) {
    Facts f = reference_facts(p);
    f.kubelet_version = Version{1, 30, 4};
    f.instance.ipv6s = {"2001:db8:8:4::2", "2001:db8:8:4::3"};
    const Plan pl = plan(c, f);
    const bool al2 = p == Platform::Al2;
    return Seen{nlohmann::json::parse(bytes(pl, al2 ? "/etc/kubernetes/kubelet/kubelet-config.json" : nd::kKubeletConfigPath)),
                bytes(pl, al2 ? "/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf" : nd::kKubeletEnvironmentPath),
                bytes(pl, "/etc/containerd/config.toml")};
  };
  const Seen al2 = seen(Platform::Al2);
  const Seen al2023 = seen(Platform::Al2023);
  for (const Seen* s : {&al2, &al2023}) {
    CAPTURE(s->args);
    CHECK_FALSE(s->config.contains("maxPods"));  // --use-max-pods false: kubelet's own default
    CHECK(s->config["clusterDNS"] == nlohmann::json::array({"fd12:3456:789a::a"}));
    CHECK(s->args.find("--node-ip=2001:db8:8:4::2") != std::string::npos);
    CHECK(s->containerd.find(pause) != std::string::npos);
  }
  CHECK(al2.config["kubeReserved"] == al2023.config["kubeReserved"]);
}

TEST_CASE("layouts: NodeConfig kubelet config, flags, environment and DNS on AL2 and AL2023") {
  NodeConfig c = reference_config();
  c.kubelet_config = nlohmann::json::parse(R"({"maxPods":110,"registryPullQPS":10})");
  c.kubelet_flags = {"--node-labels=karpenter.sh/nodepool=default"};
  c.environment = {{"default", {{"HTTP_PROXY", "http://proxy:3128"}}}};
  c.nameservers = {"10.0.0.2"};
  for (Platform p : {Platform::Al2, Platform::Al2023}) {
    Facts f = reference_facts(p);
    f.kubelet_version = Version{1, 31, 0};
    f.resolved_unit_present = true;
    agent::test::check_golden_dir(std::string("layouts/nodeconfig/") + std::string(agent::platform_name(p)),
                                  plan_files(plan(c, f)));
  }
}

TEST_CASE("layouts: AL2023 per kubelet version, 1.23 to 1.35") {
  for (int minor = 23; minor <= 35; ++minor) {
    Facts f = reference_facts();
    f.kubelet_version = Version{1, minor, 0};
    NodeConfig c = reference_config();
    c.kubelet_config = nlohmann::json::parse(R"({"registryPullQPS":10})");
    agent::test::check_golden_dir("layouts/al2023-kubelet-1." + std::to_string(minor), plan_files(plan(c, f)));
  }
}

TEST_CASE("al2023: containerd's config follows the image's containerd, kubelet and runtime") {
  Facts f = reference_facts();  // kubelet 1.34: CDI on
  f.containerd_version = "2.0.5";
  agent::test::check_golden("al2023/containerd/v3-cdi.toml", bytes(plan(reference_config(), f), "/etc/containerd/config.toml"));
  f.containerd_version = "1.7.27";
  agent::test::check_golden("al2023/containerd/v2-cdi.toml", bytes(plan(reference_config(), f), "/etc/containerd/config.toml"));
  f.accelerators.nvidia_runtime_installed = true;
  const Plan p = plan(reference_config(), f);
  CHECK(bytes(p, "/etc/containerd/config.toml").find("BinaryName = \"/usr/bin/nvidia-container-runtime\"") != std::string::npos);
  CHECK(p.values["containerdDefaultRuntime"] == "nvidia");
}

TEST_CASE("al2023: bootstrap.sh's --containerd-config-file and NodeConfig's TOML are merged over the template") {
  NodeConfig c = reference_config();
  c.containerd_config_file = "/etc/eks/my-containerd.toml";
  c.containerd_config_toml = "[plugins.\"io.containerd.grpc.v1.cri\".registry]\nconfig_path = \"/etc/mine\"\n";
  Facts f = reference_facts();
  f.containerd_config_user = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nmax_container_log_line_size = 32768\n";
  const std::string toml = bytes(plan(c, f), "/etc/containerd/config.toml");
  CHECK(toml.find("max_container_log_line_size = 32768") != std::string::npos);
  CHECK(toml.find("config_path = '/etc/mine'") != std::string::npos);
  CHECK(toml.find("sandbox_image = 'localhost/kubernetes/pause:latest'") != std::string::npos);
}

TEST_CASE("al2023: V3 plugin names on containerd 1.x stop the plan, naming the problem") {
  NodeConfig c = reference_config();
  c.containerd_config_toml = "[plugins.'io.containerd.cri.v1.images']\nsnapshotter = 'overlayfs'\n";
  auto r = agent::compute::plan_node(c, reference_facts());
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Invalid);
  CHECK(r.error().message.find("1.7") != std::string::npos);
}

TEST_CASE("al2023: FastImagePull turns SOCI on only on nodes of 4 vCPUs and 7 GiB") {
  NodeConfig c = reference_config();
  c.fast_image_pull = true;
  Facts f = reference_facts();
  f.vcpus = 4;
  f.online_memory_bytes = 8ull << 30;
  const Plan on = plan(c, f);
  CHECK(bytes(on, "/etc/containerd/config.toml").find("[proxy_plugins.soci]") != std::string::npos);
  CHECK(nlohmann::json::parse(bytes(on, nd::kKubeletConfigPath))["imageServiceEndpoint"] == nd::kSociImageEndpoint);
  CHECK(bytes(on, "/etc/systemd/system/containerd.service.d/10-soci-snapshotter.conf").find("Requires=soci-snapshotter.service") !=
        std::string::npos);
  CHECK(!bytes(on, "/etc/soci-snapshotter-grpc/config.toml").empty());
  auto containerd = [](const Plan& p) {
    auto it = std::find_if(p.units.begin(), p.units.end(), [](const auto& u) { return u.unit == "containerd.service"; });
    REQUIRE(it != p.units.end());
    return *it;
  };
  CHECK(containerd(on).then_run.empty());  // the image has no /etc/eks/pause.tar to import
  f.pause_tar_present = true;
  CHECK(containerd(plan(c, f)).then_run ==
        std::vector<std::string>{"ctr", "--namespace", "k8s.io", "images", "import", "--snapshotter", "soci",
                                 "--discard-unpacked-layers=false", "--local", "/etc/eks/pause.tar"});
  f.online_memory_bytes = 6ull << 30;
  CHECK(containerd(plan(c, f)).then_run.empty());  // no SOCI, no import, even with the archive
  const Plan off = plan(c, f);
  CHECK(bytes(off, "/etc/containerd/config.toml").find("soci") == std::string::npos);
  CHECK(std::any_of(off.diagnostics.begin(), off.diagnostics.end(), [](const auto& d) { return d.id == "SOCI_NOT_APPLIED"; }));
}
