// What NodeConfig documents add to the plan (compute/user_config) and how plan_node uses it.
#include "agent/compute/user_config.h"

#include <doctest/doctest.h>

#include <toml++/toml.h>

#include <string>

#include "agent/compute/plan_node.h"

using agent::Errc;
using agent::Facts;
using agent::FileWrite;
using agent::NodeConfig;
using agent::Plan;
using agent::Version;
using nlohmann::json;
using namespace agent::compute;

namespace {

const std::string kPemB64 = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

NodeConfig config() {
  NodeConfig c;
  c.cluster_name = "doc-cluster";
  c.apiserver_endpoint = "https://api";
  c.b64_cluster_ca = kPemB64;
  c.service_ipv4_cidr = "10.100.0.0/16";
  return c;
}

Facts facts(Version kubelet = {1, 30, 4}) {
  Facts f;
  f.instance = {.region = "us-west-2",
                .domain = "amazonaws.com",
                .instance_id = "i-0123456789abcdef0",
                .instance_type = "m5.large",
                .availability_zone = "us-west-2a",
                .local_hostname = "ip-10-0-12-34.us-west-2.compute.internal",
                .local_ipv4 = "10.0.12.34",
                .mac = "02:4d:8a:1f:3c:5e"};
  f.kubelet_version = kubelet;
  f.vcpus = 2;
  return f;
}

Plan plan(const NodeConfig& c, const Facts& f) {
  auto r = plan_node(c, f);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

const FileWrite* find(const Plan& p, const std::string& path) {
  for (const auto& w : p.files) {
    if (w.path == path) return &w;
  }
  return nullptr;
}

std::string bytes(const Plan& p, const std::string& path) {
  const FileWrite* w = find(p, path);
  REQUIRE_MESSAGE(w != nullptr, "no file " << path);
  return w->bytes;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("kubelet's drop-in directory exists from 1.28 and is alpha before 1.30") {
  CHECK_FALSE(kubelet_has_config_dir({1, 27, 9}));
  CHECK(kubelet_has_config_dir({1, 28, 0}));
  CHECK(kubelet_config_dir_is_alpha({1, 29, 9}));
  CHECK_FALSE(kubelet_config_dir_is_alpha({1, 30, 0}));
}

TEST_CASE("maxPods from the user's kubelet config") {
  CHECK(user_max_pods(json::object()).value() == std::nullopt);
  CHECK(user_max_pods(json{{"maxPods", 150}}).value() == 150);
  for (const json& bad : {json{{"maxPods", 0}}, json{{"maxPods", "110"}}, json{{"maxPods", 1.5}},
                          json{{"maxPods", 4294967296LL}}}) {
    CAPTURE(bad.dump());
    auto r = user_max_pods(bad);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
  }
}

TEST_CASE("the kubelet config drop-in carries kind and apiVersion, which the user may override") {
  json d = json::parse(kubelet_config_dropin(json{{"logging", {{"verbosity", 5}}}, {"clusterDNS", {"0.0.0.0", "1.1.1.1"}}}));
  CHECK(d == json{{"apiVersion", "kubelet.config.k8s.io/v1beta1"},
                  {"kind", "KubeletConfiguration"},
                  {"clusterDNS", {"0.0.0.0", "1.1.1.1"}},
                  {"logging", {{"verbosity", 5}}}});
}

TEST_CASE("merging the user's kubelet config into the main file keeps key order and deep-merges") {
  auto r = kubelet_config_with_user("{\n  \"b\": 1,\n  \"evictionHard\": {\"memory.available\": \"100Mi\", \"nodefs.available\": \"10%\"}\n}\n",
                                    json{{"evictionHard", {{"memory.available", "5%"}}}, {"a", true}});
  REQUIRE(r.has_value());
  CHECK(*r == "{\n  \"b\": 1,\n  \"evictionHard\": {\n    \"memory.available\": \"5%\",\n    \"nodefs.available\": \"10%\"\n  },\n  \"a\": true\n}\n");
}

TEST_CASE("containerd: the user's TOML over ours, with the layout checked") {
  std::vector<agent::Diagnostic> d;
  auto r = containerd_with_user("version = 2\n[grpc]\naddress = \"/a\"\n", "[grpc]\naddress = \"/b\"\n",
                                ContainerdSchema::V2, d);
  REQUIRE(r.has_value());
  CHECK(toml::parse(*r)["grpc"]["address"].value<std::string>() == "/b");
  CHECK(d.empty());
  auto v3_on_v2 = containerd_with_user("version = 2\n", "[plugins.\"io.containerd.cri.v1.images\"]\nx = 1\n",
                                       ContainerdSchema::V2, d);
  REQUIRE_FALSE(v3_on_v2.has_value());
  CHECK(contains(v3_on_v2.error().message, "containerd 1.x cannot read"));
  auto v2_on_v3 = containerd_with_user("version = 3\n", "[plugins.\"io.containerd.grpc.v1.cri\"]\nx = 1\n",
                                       ContainerdSchema::V3, d);
  REQUIRE(v2_on_v3.has_value());
  REQUIRE(d.size() == 1);
  CHECK(d[0].id == "CONTAINERD_USER_CONFIG_V2");
}

TEST_CASE("the base runtime spec is the default OCI spec with the user's fields over it") {
  json spec = json::parse(base_runtime_spec_for(json{{"process", {{"rlimits", json::array()}}}}));
  CHECK(spec["ociVersion"] == "1.1.0");
  CHECK(spec["process"]["rlimits"] == json::array());
  CHECK(spec["process"]["capabilities"]["bounding"].size() == 14);
  CHECK(spec["linux"]["maskedPaths"].size() == 10);
  CHECK(contains(base_runtime_spec_toml(ContainerdSchema::V3, "nvidia"),
                 "[plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.nvidia]\nbase_runtime_spec = "));
}

TEST_CASE("environment drop-ins: quoted, one per service, default in system.conf.d") {
  auto r = environment_files({{"default", {{"HTTPS_PROXY", "http://p:3128"}, {"NO_PROXY", "a,b"}}},
                              {"kubelet", {{"X", "it's 100%"}}},
                              {"my-app.service", {{"Y", "1"}}}});
  REQUIRE(r.has_value());
  REQUIRE(r->size() == 3);
  CHECK((*r)[0].path == kDefaultEnvironmentPath);
  CHECK((*r)[0].bytes == "[Manager]\nDefaultEnvironment='HTTPS_PROXY=http://p:3128'\nDefaultEnvironment='NO_PROXY=a,b'\n");
  CHECK((*r)[0].restarts == std::vector<std::string>{"containerd.service", "kubelet.service"});
  CHECK((*r)[1].path == "/etc/systemd/system/kubelet.service.d/40-eks-node-agent-environment.conf");
  CHECK((*r)[1].bytes == "[Service]\nEnvironment='X=it\\'s 100%%'\n");
  CHECK((*r)[2].path == "/etc/systemd/system/my-app.service.d/40-eks-node-agent-environment.conf");
  CHECK((*r)[2].restarts.empty());
  CHECK((*r)[2].unit_file);
  CHECK_FALSE(environment_files({{"kubelet", {{"X", "a\nb"}}}}).has_value());
}

TEST_CASE("plan_node: the user's kubelet config is a drop-in on 1.30, with --config-dir and kubelet.flags last") {
  NodeConfig c = config();
  c.kubelet_config = {{"maxPods", 110}, {"registryPullQPS", 10}};
  c.kubelet_flags = {"--node-labels=a=b", "--v=4"};
  c.kubelet_extra_args = "--v=5";
  Plan p = plan(c, facts());
  const std::string args = bytes(p, kKubeletArgsDropin);
  CHECK(contains(args, "--cloud-provider=external --config-dir=/etc/kubernetes/kubelet/config.json.d --node-labels=a=b --v=4'"));
  CHECK_FALSE(contains(args, "ALPHA"));
  CHECK(contains(bytes(p, kKubeletExtraArgsDropin), "--v=5"));
  json dropin = json::parse(bytes(p, kKubeletConfigDropinPath));
  CHECK(dropin["maxPods"] == 110);
  json main = json::parse(bytes(p, kKubeletConfigPath));
  CHECK(main["maxPods"] == 110);
  // kubeReserved is for the ENI-based max pods of an m5.large (29), not the user's 110.
  CHECK(main["kubeReserved"]["memory"] == "574Mi");
  CHECK_FALSE(main.contains("registryPullQPS"));
  CHECK(p.values["maxPodsSource"] == "spec.kubelet.config.maxPods");
  CHECK(p.values["userKubeletConfig"] == kKubeletConfigDropinPath);
}

TEST_CASE("plan_node: on 1.29 the drop-in needs the alpha switch; on 1.27 the fields are merged") {
  NodeConfig c = config();
  c.kubelet_config = {{"registryPullQPS", 10}};
  Plan p129 = plan(c, facts({1, 29, 6}));
  CHECK(contains(bytes(p129, kKubeletArgsDropin), "Environment='KUBELET_CONFIG_DROPIN_DIR_ALPHA=on'\n"));
  Plan p127 = plan(c, facts({1, 27, 16}));
  CHECK(find(p127, kKubeletConfigDropinPath) == nullptr);
  CHECK_FALSE(contains(bytes(p127, kKubeletArgsDropin), "--config-dir"));
  CHECK(json::parse(bytes(p127, kKubeletConfigPath))["registryPullQPS"] == 10);
  SUBCASE("a drop-in left from a newer kubelet is removed") {
    Facts f = facts({1, 27, 16});
    f.kubelet_config_dropin_present = true;
    Plan q = plan(c, f);
    REQUIRE(q.removals.size() == 2);
    CHECK(q.removals[0].path == kKubeletConfigDropinPath);
  }
}

TEST_CASE("plan_node: a --max-pods flag wins over kubelet.config.maxPods, kubelet.flags before extra args") {
  NodeConfig c = config();
  c.kubelet_config = {{"maxPods", 110}};
  c.kubelet_flags = {"--max-pods=30"};
  CHECK(plan(c, facts()).values["maxPods"] == 30);
  c.kubelet_extra_args = "--max-pods=20";
  CHECK(plan(c, facts()).values["maxPods"] == 20);
  c.kubelet_config = {{"maxPods", "many"}};
  CHECK_FALSE(plan_node(c, facts()).has_value());
}

TEST_CASE("plan_node: InstanceIdNodeName names the node after the instance") {
  NodeConfig c = config();
  c.instance_id_node_name = true;
  Plan p = plan(c, facts());
  CHECK(contains(bytes(p, kKubeletArgsDropin), "--hostname-override=i-0123456789abcdef0"));
  CHECK(p.values["hostname"] == "i-0123456789abcdef0");
}

TEST_CASE("plan_node: containerd TOML and base runtime spec") {
  NodeConfig c = config();
  c.containerd_config_toml = "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndiscard_unpacked_layers = false\n";
  c.base_runtime_spec = json{{"process", {{"noNewPrivileges", false}}}};
  Plan p = plan(c, facts());
  toml::table t = toml::parse(bytes(p, kContainerdConfigPath));
  auto ctr = t["plugins"]["io.containerd.grpc.v1.cri"]["containerd"];
  CHECK(ctr["discard_unpacked_layers"].value<bool>() == false);
  CHECK(ctr["runtimes"]["runc"]["base_runtime_spec"].value<std::string>() == kBaseRuntimeSpecPath);
  CHECK(t["plugins"]["io.containerd.grpc.v1.cri"]["sandbox_image"].value<std::string>().has_value());
  CHECK(json::parse(bytes(p, kBaseRuntimeSpecPath))["process"]["noNewPrivileges"] == false);
  SUBCASE("--containerd-config-file is used as given") {
    NodeConfig d = c;
    d.containerd_config_file = "/etc/my.toml";
    d.containerd_config_toml.reset();
    Facts f = facts();
    f.containerd_config_user = "version = 2\n";
    Plan q = plan(d, f);
    CHECK(bytes(q, kContainerdConfigPath) == "version = 2\n");
    bool warned = false;
    for (const auto& diag : q.diagnostics) warned |= diag.id == "BASE_RUNTIME_SPEC_NOT_REFERENCED";
    CHECK(warned);
  }
}

TEST_CASE("plan_node: without NodeConfig fields nothing new appears") {
  Plan p = plan(config(), facts());
  CHECK(find(p, kKubeletConfigDropinPath) == nullptr);
  CHECK(find(p, kBaseRuntimeSpecPath) == nullptr);
  CHECK(find(p, kDefaultEnvironmentPath) == nullptr);
  CHECK_FALSE(p.values.contains("userKubeletConfig"));
  CHECK_FALSE(contains(bytes(p, kKubeletArgsDropin), "--config-dir"));
}

TEST_CASE("plan_node: clusterDNS from a NodeConfig cidr (nodeadm net_test.go values)") {
  NodeConfig c = config();
  CHECK(plan(c, facts()).values["clusterDNS"] == nlohmann::ordered_json{"10.100.0.10"});
  c.service_ipv4_cidr.reset();
  c.service_ipv6_cidr = "fc00::/7";
  c.ip_family = agent::IpFamily::Ipv6;
  Facts f = facts();
  f.instance.ipv6s = {"2600:1f14::1"};
  CHECK(plan(c, f).values["clusterDNS"] == nlohmann::ordered_json{"fc00::a"});
}
