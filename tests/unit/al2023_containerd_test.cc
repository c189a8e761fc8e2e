#include <doctest/doctest.h>

#include <fstream>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "agent/compute/al2023/containerd.h"

using agent::Errc;
using agent::Version;
using namespace agent::compute::al2023;

namespace {

std::string golden(const std::string& name) {
  std::ifstream in(std::string(AGENT_SOURCE_DIR) + "/tests/golden/al2023/containerd/" + name,
                   std::ios::binary);
  REQUIRE_MESSAGE(in.good(), "missing golden " << name);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

ContainerdInput input(Version containerd, Version kubelet) {
  ContainerdInput in;
  in.containerd = containerd;
  in.kubelet = kubelet;
  return in;
}

std::string rendered(const ContainerdInput& in) {
  auto out = containerd_config(in);
  REQUIRE_MESSAGE(out.has_value(), (out.has_value() ? std::string() : out.error().message));
  return out->toml;
}

constexpr Version kContainerd1{1, 7, 27};
constexpr Version kContainerd2{2, 0, 5};
constexpr Version kKubelet131{1, 31, 7};
constexpr Version kKubelet132{1, 32, 0};

}  // namespace

TEST_CASE("al2023 containerd: default configs are nodeadm's templates rendered verbatim") {
  struct Row {
    Version containerd, kubelet;
    const char* golden;
    ContainerdTemplate tmpl;
  };
  const Row rows[] = {
      {kContainerd1, kKubelet131, "v2-no-cdi.toml", ContainerdTemplate::V2},
      {kContainerd1, kKubelet132, "v2-cdi.toml", ContainerdTemplate::V2},
      {kContainerd1, Version{1, 35, 1}, "v2-cdi.toml", ContainerdTemplate::V2},
      {kContainerd2, kKubelet131, "v3-no-cdi.toml", ContainerdTemplate::V3},
      {kContainerd2, kKubelet132, "v3-cdi.toml", ContainerdTemplate::V3},
      {Version{2, 1, 3}, Version{1, 33, 0}, "v3-cdi.toml", ContainerdTemplate::V3},
  };
  for (const Row& r : rows) {
    CAPTURE(r.golden);
    auto out = containerd_config(input(r.containerd, r.kubelet));
    REQUIRE(out.has_value());
    CHECK(out->toml == golden(r.golden));
    CHECK(out->template_used == r.tmpl);
    CHECK_FALSE(out->v2_on_containerd2);
  }
}

TEST_CASE("al2023 containerd: an empty user TOML is no user TOML") {
  ContainerdInput in = input(kContainerd2, kKubelet132);
  in.user_toml = "";
  auto out = containerd_config(in);
  REQUIRE(out.has_value());
  CHECK(out->template_used == ContainerdTemplate::V3);
  CHECK(out->toml == golden("v3-cdi.toml"));
}

TEST_CASE(
    "al2023 containerd: SOCI adds the snapshotter and a proxy plugin, without a final newline") {
  ContainerdInput v2 = input(kContainerd1, kKubelet132);
  v2.soci = true;
  CHECK(rendered(v2) == golden("v2-soci.toml"));
  ContainerdInput v3 = input(kContainerd2, kKubelet132);
  v3.soci = true;
  const std::string text = rendered(v3);
  CHECK(text == golden("v3-soci.toml"));
  CHECK(text.back() == '"');
}

TEST_CASE("al2023 containerd: the nvidia runtime replaces runc by name and binary") {
  for (const bool v3 : {false, true}) {
    ContainerdInput in = input(v3 ? kContainerd2 : kContainerd1, kKubelet132);
    in.runtime_name = "nvidia";
    in.runtime_binary = "/usr/bin/nvidia-container-runtime";
    CHECK(rendered(in) == golden(v3 ? "v3-nvidia.toml" : "v2-nvidia.toml"));
  }
}

TEST_CASE("al2023 containerd: the sandbox image is the caller's") {
  ContainerdInput in = input(kContainerd2, kKubelet132);
  in.sandbox_image = "registry.k8s.io/pause:3.10";
  const std::string text = rendered(in);
  CHECK(text.find("sandbox = \"registry.k8s.io/pause:3.10\"\n") != std::string::npos);
  CHECK(text.find("localhost/kubernetes/pause") == std::string::npos);
}

TEST_CASE("al2023 containerd: a V2 user TOML on containerd 1.7 is merged and re-serialized") {
  ContainerdInput in = input(kContainerd1, kKubelet131);
  in.user_toml = R"([grpc]
address = "/run/foo/foo.sock"

[plugins."io.containerd.grpc.v1.cri".containerd]
discard_unpacked_layers = false

[plugins."io.containerd.grpc.v1.cri".registry.mirrors."docker.io"]
endpoint = ["https://mirror.example.com", "https://registry-1.docker.io"]
)";
  auto out = containerd_config(in);
  REQUIRE(out.has_value());
  CHECK(out->template_used == ContainerdTemplate::V2);
  CHECK_FALSE(out->v2_on_containerd2);
  CHECK(out->toml == golden("v2-user-containerd1.toml"));
}

TEST_CASE(
    "al2023 containerd: a V2-style user TOML on containerd 2 keeps the V2 template and says so") {
  ContainerdInput in = input(kContainerd2, kKubelet132);
  in.user_toml =
      "[plugins.\"io.containerd.grpc.v1.cri\".containerd]\ndiscard_unpacked_layers = false\n";
  auto out = containerd_config(in);
  REQUIRE(out.has_value());
  CHECK(out->template_used == ContainerdTemplate::V2);
  CHECK(out->v2_on_containerd2);
  CHECK(out->toml == golden("v2-user-containerd2.toml"));
}

TEST_CASE("al2023 containerd: a V3 user TOML on containerd 2 merges into the V3 template") {
  ContainerdInput in = input(Version{2, 1, 0}, Version{1, 33, 2});
  in.user_toml = R"(version = 3

[plugins.'io.containerd.cri.v1.images']
max_concurrent_downloads = 8

[plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
SystemdCgroup = false

[[plugins."io.containerd.transfer.v1.local".unpack_config]]
platform = "linux/amd64"
snapshotter = "overlayfs"

[[plugins."io.containerd.transfer.v1.local".unpack_config]]
platform = "linux/arm64"
snapshotter = "overlayfs"
)";
  auto out = containerd_config(in);
  REQUIRE(out.has_value());
  CHECK(out->template_used == ContainerdTemplate::V3);
  CHECK_FALSE(out->v2_on_containerd2);
  CHECK(out->toml == golden("v3-user.toml"));
}

TEST_CASE("al2023 containerd: V3 plugin names on containerd 1.x are an Invalid error") {
  for (const char* user : {"[plugins.'io.containerd.cri.v1.images']\nsnapshotter = 'soci'\n",
                           "[plugins.\"io.containerd.cri.v1.runtime\"]\nenable_cdi = false\n"}) {
    ContainerdInput in = input(kContainerd1, kKubelet132);
    in.user_toml = user;
    auto out = containerd_config(in);
    REQUIRE_FALSE(out.has_value());
    CHECK(out.error().code == Errc::Invalid);
    CHECK(out.error().message.find("spec.containerd.config") != std::string::npos);
    CHECK(out.error().message.find("1.7.27") != std::string::npos);
  }
}

TEST_CASE("al2023 containerd: template choice follows the V3 markers (3.9.2)") {
  CHECK(*containerd_template_for(kContainerd1, "") == ContainerdTemplate::V2);
  CHECK(*containerd_template_for(kContainerd1, "[grpc]\naddress = 'x'\n") ==
        ContainerdTemplate::V2);
  CHECK(*containerd_template_for(kContainerd2, "") == ContainerdTemplate::V3);
  CHECK(*containerd_template_for(kContainerd2, "[grpc]\naddress = 'x'\n") ==
        ContainerdTemplate::V2);
  // The marker is a substring test, as in nodeadm: a comment naming a V3 plugin counts.
  CHECK(*containerd_template_for(kContainerd2, "# io.containerd.cri.v1.runtime\n[grpc]\n") ==
        ContainerdTemplate::V3);
  CHECK(containerd_template_for(kContainerd1, "# io.containerd.cri.v1.images\n").error().code ==
        Errc::Invalid);
}

TEST_CASE("al2023 containerd: a malformed user TOML is a Parse error naming the line") {
  ContainerdInput in = input(kContainerd1, kKubelet132);
  in.user_toml = "[grpc]\naddress = \"/run/foo.sock\"\n\n[plugins\nx = 1\n";
  auto out = containerd_config(in);
  REQUIRE_FALSE(out.has_value());
  CHECK(out.error().code == Errc::Parse);
  const std::string& msg = out.error().message;
  CHECK(msg.rfind("NodeConfig spec.containerd.config line 4", 0) == 0);
}

TEST_CASE("go_toml_format: nodeadm's merge unit-test pin") {
  auto merged = go_toml_merge("[a.b.c.d]\nf = 0", "[a.b.c.d]\ne = 0");
  REQUIRE(merged.has_value());
  CHECK(*merged == "[a]\n[a.b]\n[a.b.c]\n[a.b.c.d]\ne = 0\nf = 0\n");
}

TEST_CASE("go_toml_format: keys, strings and numbers as go-toml v2 writes them") {
  SUBCASE("bare keys only for [A-Za-z0-9_-], else literal, else basic") {
    auto out = go_toml_format("\"a.b\" = 1\nplain_key-1 = 2\n\"it's\" = 3\n\"\" = 4\n", "t");
    REQUIRE(out.has_value());
    CHECK(*out == "'' = 4\n'a.b' = 1\n\"it's\" = 3\nplain_key-1 = 2\n");
  }
  SUBCASE("strings fall back to a basic string for a quote or a control character") {
    auto out = go_toml_format(
        "a = \"it's\"\nb = \"x\\ny\"\nc = \"tab\\there\"\nd = \"q\\\"\\\\\"\ne = \"\\u0001\"\n",
        "t");
    REQUIRE(out.has_value());
    CHECK(*out == "a = \"it's\"\nb = \"x\\ny\"\nc = 'tab\there'\nd = 'q\"\\'\ne = \"\\u0001\"\n");
  }
  SUBCASE("ints and bools bare, floats with a decimal point") {
    auto out =
        go_toml_format("i = -42\nb = false\nf = 2.0\ng = 0.25\nh = 1e3\nn = nan\np = -inf\n", "t");
    REQUIRE(out.has_value());
    CHECK(*out == "b = false\nf = 2.0\ng = 0.25\nh = 1000.0\ni = -42\nn = nan\np = -inf\n");
  }
  SUBCASE("dates and times") {
    auto out = go_toml_format(
        "a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.5-07:00\nc = 1979-05-27\nd = 07:32:00\n",
        "t");
    REQUIRE(out.has_value());
    CHECK(*out ==
          "a = 1979-05-27T07:32:00Z\nb = 1979-05-27T00:32:00.5-07:00\nc = 1979-05-27\nd = "
          "07:32:00\n");
  }
}

TEST_CASE("go_toml_format: arrays inline, tables in arrays inline, all-table arrays as [[...]]") {
  auto out = go_toml_format(R"(e = []
m = [1, "two", [3]]
t = [{b = 1, a = "x"}, 2]
[[srv]]
name = "a"
[srv.opts]
k = 1
[[srv]]
name = "b"
[empty]
)",
                            "t");
  REQUIRE(out.has_value());
  CHECK(*out ==
        "e = []\nm = [1, 'two', [3]]\nt = [{a = 'x', b = 1}, 2]\n"
        "\n[empty]\n"
        "\n[[srv]]\nname = 'a'\n\n[srv.opts]\nk = 1\n"
        "\n[[srv]]\nname = 'b'\n");
}

TEST_CASE("go_toml_format: a document without top-level values starts with its first header") {
  auto out = go_toml_format("[x]\n[y.z]\nv = true\n", "t");
  REQUIRE(out.has_value());
  CHECK(*out == "[x]\n\n[y]\n[y.z]\nv = true\n");
}

TEST_CASE("go_toml_merge: arrays and values are replaced, a table over a value wins") {
  auto out = go_toml_merge("a = [1, 2]\nb = 1\n[t]\nx = 1\ny = 2\n",
                           "a = [3]\nb = { c = 1 }\n[t]\ny = 'z'\n");
  REQUIRE(out.has_value());
  CHECK(*out == "a = [3]\n\n[b]\nc = 1\n\n[t]\nx = 1\ny = 'z'\n");
  auto bad = go_toml_merge("a = 1\n", "a = \n");
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().code == Errc::Parse);
  CHECK(bad.error().message.rfind("NodeConfig spec.containerd.config line 1", 0) == 0);
}

TEST_CASE("al2023 base runtime spec: the default is nodeadm's embedded document verbatim") {
  const std::string text = base_runtime_spec(std::nullopt);
  CHECK(text == base_runtime_spec(nlohmann::json::object()));
  REQUIRE(text.size() > 2);
  CHECK(text.substr(0, 13) == "{\n  \"linux\": ");
  CHECK(text.back() == '\n');
  const auto spec = nlohmann::json::parse(text);
  CHECK(spec["ociVersion"] == "1.1.0");
  for (const char* set : {"bounding", "effective", "permitted"}) {
    const auto& caps = spec["process"]["capabilities"][set];
    REQUIRE(caps.size() == 14);
    CHECK(caps.front() == "CAP_AUDIT_WRITE");
    CHECK(caps.back() == "CAP_SYS_CHROOT");
  }
  CHECK(spec["process"]["rlimits"] ==
        nlohmann::json::parse(R"([{"type":"RLIMIT_NOFILE","soft":65536,"hard":1048576}])"));
  CHECK(spec["process"]["noNewPrivileges"] == true);
  CHECK(spec["process"]["cwd"] == "/");
  CHECK(spec["process"]["user"] == nlohmann::json::parse(R"({"uid":0,"gid":0})"));
  CHECK(spec["root"]["path"] == "rootfs");
  CHECK(spec["linux"]["maskedPaths"].size() == 10);
  CHECK(spec["linux"]["readonlyPaths"].size() == 5);
  CHECK(spec["linux"]["namespaces"].size() == 5);
  CHECK(spec["linux"]["resources"]["devices"] ==
        nlohmann::json::parse(R"([{"allow":false,"access":"rwm"}])"));
  REQUIRE(spec["mounts"].size() == 5);
  CHECK(spec["mounts"][0]["destination"] == "/dev");
  CHECK(spec["mounts"][4]["options"].back() == "ro");
}

TEST_CASE("al2023 base runtime spec: a user spec is merged and written as Go MarshalIndent") {
  const auto user = nlohmann::json::parse(R"({
    "process": {"rlimits": [{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 4096}], "user": {"uid": 1000}},
    "linux": {"maskedPaths": []},
    "hostname": "node"})");
  const std::string text = base_runtime_spec(user);
  CHECK(text == golden("base-runtime-spec-merged.json"));
  CHECK(text.back() == '}');
}

TEST_CASE("al2023 base runtime spec: null replaces, HTML characters are escaped") {
  const auto user = nlohmann::json::parse(R"({"root": null, "annotations": {"a": "<&>"}})");
  const std::string text = base_runtime_spec(user);
  CHECK(text.find("\n    \"root\": null\n}") != std::string::npos);
  CHECK(text.find("\"a\": \"\\u003c\\u0026\\u003e\"") != std::string::npos);
}

TEST_CASE("al2023 SOCI: static snapshotter config and the containerd drop-in") {
  const std::string soci = soci_snapshotter_config();
  CHECK(soci.find("[pull_modes.parallel_pull_unpack]\nenable = true\n") != std::string::npos);
  CHECK(soci.find("concurrent_download_chunk_size = \"16mb\"\n") != std::string::npos);
  CHECK(soci.find("max_concurrent_downloads_per_image = 20\n") != std::string::npos);
  CHECK(soci.find("max_concurrent_unpacks_per_image = 12\n") != std::string::npos);
  CHECK(soci.find("path = '/usr/bin/unpigz'\n") != std::string::npos);
  CHECK(soci.find("[cri_keychain]\nenable_keychain = true\n") != std::string::npos);
  CHECK(go_toml_format(soci, "soci").has_value());
  CHECK(soci_containerd_dropin() ==
        "[Unit]\nRequires=soci-snapshotter.service\nAfter=soci-snapshotter.service\n");
}

TEST_CASE("al2023 SOCI: enabled only with the gate, 4 CPUs and 7 GiB (3.11 matrix)") {
  constexpr unsigned long long kGiB = 1ULL << 30;
  CHECK_FALSE(soci_enabled(false, 4000, 7 * kGiB));
  CHECK_FALSE(soci_enabled(true, 2000, 4 * kGiB));
  CHECK_FALSE(soci_enabled(true, 4000, 6 * kGiB));
  CHECK(soci_enabled(true, 4000, 8 * kGiB));
  CHECK(soci_enabled(true, 4000, 7 * kGiB));
  CHECK_FALSE(soci_enabled(true, 3999, 8 * kGiB));
  CHECK_FALSE(soci_enabled(true, 4000, 7 * kGiB - 1));
}

TEST_CASE("al2023 containerd: SOCI with a user TOML keeps the proxy plugin, re-serialized") {
  ContainerdInput in = input(kContainerd1, kKubelet132);
  in.soci = true;
  in.user_toml = "[grpc]\naddress = '/run/foo/foo.sock'\n";
  const std::string text = rendered(in);
  CHECK(text.find("[plugins.'io.containerd.grpc.v1.cri'.containerd]\n"
                  "default_runtime_name = 'runc'\n"
                  "disable_snapshot_annotations = false\n"
                  "discard_unpacked_layers = true\n"
                  "snapshotter = 'soci'\n") != std::string::npos);
  const std::string tail =
      "\n[proxy_plugins]\n[proxy_plugins.soci]\n"
      "address = '/run/soci-snapshotter-grpc/soci-snapshotter-grpc.sock'\ntype = 'snapshot'\n"
      "\n[proxy_plugins.soci.exports]\nroot = '/var/lib/soci-snapshotter-grpc'\n";
  REQUIRE(text.size() > tail.size());
  CHECK(text.substr(text.size() - tail.size()) == tail);
}

TEST_CASE("go_toml_format: formatting its own output changes nothing") {
  for (const char* name : {"v2-cdi.toml", "v3-soci.toml", "v3-user.toml"}) {
    CAPTURE(name);
    auto once = go_toml_format(golden(name), name);
    REQUIRE(once.has_value());
    auto twice = go_toml_format(*once, name);
    REQUIRE(twice.has_value());
    CHECK(*twice == *once);
  }
}
