#include "agent/userdata/merge.h"

#include <doctest/doctest.h>

#include <toml++/toml.h>

#include <string>

using nlohmann::json;
using namespace agent::userdata;

namespace {

NodeConfigDoc doc(const std::string& source, NodeConfigSpec spec) {
  NodeConfigDoc d;
  d.spec = std::move(spec);
  d.origin.source = source;
  return d;
}

NodeConfigDoc merged(const std::vector<NodeConfigDoc>& docs) {
  auto r = merge_all(docs);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

toml::table toml_of(const std::string& s) { return toml::parse(s); }

}  // namespace

TEST_CASE("merge_json: objects recurse, arrays and scalars are replaced, null removes") {
  // nodeadm merge_test.go: kubelet config.
  json a = {{"logging", {{"verbosity", 5}}}, {"podsPerCore", 20}, {"systemReserved", {{"cpu", "150m"}}}};
  merge_json(a, json{{"logging", {{"verbosity", 2}}}, {"maxPods", 150}});
  CHECK(a == json{{"logging", {{"verbosity", 2}}},
                  {"maxPods", 150},
                  {"podsPerCore", 20},
                  {"systemReserved", {{"cpu", "150m"}}}});
  json b = {{"list", {1, 2, 3}}, {"flag", true}, {"obj", {{"a", 1}}}, {"gone", 1}};
  merge_json(b, json{{"list", json::array()}, {"flag", false}, {"obj", "scalar"}, {"gone", nullptr}});
  CHECK(b == json{{"list", json::array()}, {"flag", false}, {"obj", "scalar"}});
}

TEST_CASE("merge_json on base runtime specs: an rlimits object merges, an rlimits list is replaced") {
  json obj = {{"process", {{"rlimits", {{"type", "RLIMIT_NOFILE"}, {"soft", 1024}}}}}};
  merge_json(obj, json{{"process", {{"rlimits", {{"type", "RLIMIT_NOFILE"}, {"hard", 1024}}}}}});
  CHECK(obj["process"]["rlimits"] == json{{"type", "RLIMIT_NOFILE"}, {"soft", 1024}, {"hard", 1024}});
  json list = {{"process", {{"rlimits", {{{"type", "RLIMIT_NOFILE"}, {"soft", 1}}}}}}};
  merge_json(list, json{{"process", {{"rlimits", {{{"type", "RLIMIT_NPROC"}, {"hard", 2}}}}}}});
  CHECK(list["process"]["rlimits"] == json::array({{{"type", "RLIMIT_NPROC"}, {"hard", 2}}}));
}

TEST_CASE("merge_toml: tables merge recursively, values are replaced") {
  // nodeadm merge_test.go: "[a.b.c.d]\nf = 0" + "[a.b.c.d]\ne = 0".
  auto r = merge_toml("[a.b.c.d]\nf = 0", "[a.b.c.d]\ne = 0", "base", "patch");
  REQUIRE(r.has_value());
  toml::table t = toml_of(*r);
  CHECK(t["a"]["b"]["c"]["d"]["e"].value<int64_t>() == 0);
  CHECK(t["a"]["b"]["c"]["d"]["f"].value<int64_t>() == 0);
  // nodeadm merge_test.go: containerd config patch.
  const std::string base =
      "version = 2\nroot = \"/var/lib/containerd\"\n[grpc]\naddress = \"/run/containerd/containerd.sock\"\n"
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndiscard_unpacked_layers = true\ndefault_runtime_name = \"runc\"\n";
  auto m = merge_toml(base,
                      "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndiscard_unpacked_layers = false\n"
                      "[grpc]\naddress = \"/run/containerd/containerd.sock.2\"\n",
                      "base", "patch");
  REQUIRE(m.has_value());
  toml::table mt = toml_of(*m);
  CHECK(mt["version"].value<int64_t>() == 2);
  CHECK(mt["root"].value<std::string>() == "/var/lib/containerd");
  CHECK(mt["grpc"]["address"].value<std::string>() == "/run/containerd/containerd.sock.2");
  auto ctr = mt["plugins"]["io.containerd.grpc.v1.cri"]["containerd"];
  CHECK(ctr["discard_unpacked_layers"].value<bool>() == false);
  CHECK(ctr["default_runtime_name"].value<std::string>() == "runc");
  SUBCASE("arrays are replaced") {
    auto a = merge_toml("x = [1, 2]\n", "x = [3]\n", "b", "p");
    REQUIRE(a.has_value());
    CHECK(toml_of(*a)["x"].as_array()->size() == 1);
  }
  SUBCASE("errors name the side and position") {
    auto e = merge_toml("x = 1\n", "[x\n", "base", "the patch");
    REQUIRE_FALSE(e.has_value());
    CHECK(e.error().message.starts_with("the patch: TOML line 1"));
  }
}

TEST_CASE("merging documents: later wins, flags append, maps merge key by key") {
  NodeConfigSpec a;
  a.name = "first";
  a.cidr = "10.100.0.0/16";
  a.kubelet_flags = {"--v=2", "--node-labels=foo=bar,nodegroup=test"};
  a.kubelet_config = {{"logging", {{"verbosity", 5}}}, {"podsPerCore", 20}, {"systemReserved", {{"cpu", "150m"}}}};
  a.feature_gates = {{"InstanceIdNodeName", true}};
  a.environment = {{"default", {{"A", "1"}, {"B", "2"}}}};
  a.local_storage_disabled_mounts = std::vector<std::string>{"Containerd"};
  NodeConfigSpec b;
  b.name = "second";
  b.kubelet_flags = {"--v=5", "--node-labels=foo=baz"};
  b.kubelet_config = {{"logging", {{"verbosity", 2}}}, {"maxPods", 150}};
  b.feature_gates = {{"InstanceIdNodeName", false}};
  b.environment = {{"default", {{"B", "3"}}}, {"kubelet", {{"C", "4"}}}};
  b.local_storage_disabled_mounts = std::vector<std::string>{};
  NodeConfigDoc m = merged({doc("one", a), doc("two", b)});
  CHECK(m.spec.name == "second");
  CHECK(m.spec.cidr == "10.100.0.0/16");
  // nodeadm merge_test.go: flags are appended (kubelet takes the last repeated flag).
  CHECK(m.spec.kubelet_flags ==
        std::vector<std::string>{"--v=2", "--node-labels=foo=bar,nodegroup=test", "--v=5", "--node-labels=foo=baz"});
  CHECK(m.spec.kubelet_config == json{{"logging", {{"verbosity", 2}}},
                                      {"maxPods", 150},
                                      {"podsPerCore", 20},
                                      {"systemReserved", {{"cpu", "150m"}}}});
  CHECK(m.spec.feature_gates.at("InstanceIdNodeName") == false);
  CHECK(m.spec.environment.at("default") == std::map<std::string, std::string>{{"A", "1"}, {"B", "3"}});
  CHECK(m.spec.environment.at("kubelet").at("C") == "4");
  CHECK(m.spec.local_storage_disabled_mounts == std::vector<std::string>{});
  CHECK(m.origin.source == "one");
}

TEST_CASE("enableOutpost can be turned off by a later document (nodeadm cannot)") {
  NodeConfigSpec on, off, unset;
  on.enable_outpost = true;
  off.enable_outpost = false;
  CHECK(merged({doc("a", on), doc("b", off)}).spec.enable_outpost == false);
  CHECK(merged({doc("a", on), doc("b", unset)}).spec.enable_outpost == true);
}

TEST_CASE("an explicitly empty string in a later document wins") {
  NodeConfigSpec a, b;
  a.local_storage_mount_path = "/mnt/a";
  b.local_storage_mount_path = "";
  CHECK(merged({doc("a", a), doc("b", b)}).spec.local_storage_mount_path == "");
}

TEST_CASE("containerd config fragments from several documents merge as TOML") {
  NodeConfigSpec a, b;
  a.containerd_config = "[grpc]\naddress = \"/a\"\nuid = 1\n";
  b.containerd_config = "[grpc]\naddress = \"/b\"\n";
  NodeConfigDoc m = merged({doc("a", a), doc("b", b)});
  REQUIRE(m.spec.containerd_config.has_value());
  toml::table t = toml_of(*m.spec.containerd_config);
  CHECK(t["grpc"]["address"].value<std::string>() == "/b");
  CHECK(t["grpc"]["uid"].value<int64_t>() == 1);
}

TEST_CASE("field origins follow the winner") {
  NodeConfigDoc a = doc("a", {}), b = doc("b", {});
  a.fields["spec.cluster.name"] = Origin{.source = "a"};
  a.fields["spec.cluster.cidr"] = Origin{.source = "a"};
  b.fields["spec.cluster.name"] = Origin{.source = "b"};
  NodeConfigDoc m = merged({a, b});
  CHECK(m.fields.at("spec.cluster.name").source == "b");
  CHECK(m.fields.at("spec.cluster.cidr").source == "a");
}
