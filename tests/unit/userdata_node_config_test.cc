#include "agent/userdata/node_config_doc.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/unit/userdata_test_util.h"

using agent::Errc;
using agent::Result;
using nlohmann::json;
using namespace agent::userdata;

namespace {

const Origin kWhere{.source = "file:///etc/eks/eks-node-agent.d/10-test.yaml"};

Result<ParsedNodeConfig> read(const std::string& text) {
  auto d = parse_documents(text);
  REQUIRE_MESSAGE(d.has_value(), (d.has_value() ? "" : d.error().message));
  REQUIRE(d->size() == 1);
  return node_config_from((*d)[0], kWhere);
}

ParsedNodeConfig ok(const std::string& text) {
  auto r = read(text);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

std::string error(const std::string& text) {
  auto r = read(text);
  REQUIRE_MESSAGE(!r.has_value(), "expected an error");
  CHECK(r.error().code == Errc::Invalid);
  return r.error().message;
}

// The envelope; `kHead + "..."` is a document with that spec. (A function rather than std::string
// operator+, which trips GCC 12's -Wrestrict false positive, GCC bug 105329.)
struct Head {};
constexpr Head kHead;
std::string operator+(Head, std::string_view spec) {
  std::string out = "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n";
  out.append(spec.data(), spec.size());
  return out;
}

}  // namespace

TEST_CASE("nodeadm's minimal NodeConfig reads into typed fields") {
  ParsedNodeConfig p = ok(std::string(agent::testing::kMinimalNodeConfig));
  const NodeConfigSpec& s = p.doc.spec;
  CHECK(s.name == "my-cluster");
  CHECK(s.api_server_endpoint == "https://example.com");
  CHECK(s.certificate_authority == "Y2VydGlmaWNhdGVBdXRob3JpdHk=");
  CHECK(s.cidr == "10.100.0.0/16");
  CHECK_FALSE(s.enable_outpost.has_value());
  CHECK(s.kubelet_config.empty());
  CHECK(p.warnings.empty());
  CHECK(p.doc.fields.at("spec.cluster.name").mark == Mark{6, 5});
  CHECK(p.doc.fields.at("spec.cluster.name").str() ==
        "file:///etc/eks/eks-node-agent.d/10-test.yaml, line 6, column 5");
}

TEST_CASE("every supported field is read") {
  ParsedNodeConfig p = ok(kHead +
                          "  cluster:\n    name: c\n    enableOutpost: true\n    id: 0123-abcd\n"
                          "  kubelet:\n    config:\n      maxPods: 150\n      systemReserved: {cpu: 150m}\n"
                          "    flags: [--v=2, --node-labels=a=b]\n"
                          "  containerd:\n    config: |\n      [grpc]\n      address = \"/run/x.sock\"\n"
                          "    baseRuntimeSpec:\n      process:\n        rlimits: []\n"
                          "  instance:\n    localStorage:\n      strategy: RAID0\n      mountPath: /mnt/k8s\n"
                          "      disabledMounts: [Containerd, PodLogs]\n"
                          "    environment:\n      default:\n        HTTPS_PROXY: http://proxy:3128\n"
                          "      kubelet:\n        GOMAXPROCS: 4\n"
                          "  featureGates:\n    InstanceIdNodeName: true\n");
  const NodeConfigSpec& s = p.doc.spec;
  CHECK(s.enable_outpost == true);
  CHECK(s.id == "0123-abcd");
  CHECK(s.kubelet_config == json{{"maxPods", 150}, {"systemReserved", {{"cpu", "150m"}}}});
  CHECK(s.kubelet_flags == std::vector<std::string>{"--v=2", "--node-labels=a=b"});
  CHECK(s.containerd_config == "[grpc]\naddress = \"/run/x.sock\"\n");
  CHECK(s.base_runtime_spec == json{{"process", {{"rlimits", json::array()}}}});
  CHECK(s.local_storage_strategy == "RAID0");
  CHECK(s.local_storage_mount_path == "/mnt/k8s");
  CHECK(s.local_storage_disabled_mounts == std::vector<std::string>{"Containerd", "PodLogs"});
  CHECK(s.environment.at("default").at("HTTPS_PROXY") == "http://proxy:3128");
  CHECK(s.environment.at("kubelet").at("GOMAXPROCS") == "4");
  CHECK(s.feature_gates.at("InstanceIdNodeName") == true);
  CHECK(p.warnings.empty());
}

TEST_CASE("unknown fields are warnings with their path and position") {
  // nodeadm's config-check e2e: "name-not-real" is silently dropped there.
  ParsedNodeConfig p = ok(kHead + "  cluster:\n    name-not-real: my-cluster\n    apiserverEndpoint: https://x\n"
                                  "  kublet: {}\nextra: 1\n");
  REQUIRE(p.warnings.size() == 4);
  auto has = [&](const std::string& s) {
    for (const auto& w : p.warnings) {
      if (w.find(s) != std::string::npos) return true;
    }
    return false;
  };
  CHECK(has("line 5, column 5: unknown field spec.cluster.name-not-real (ignored)"));
  CHECK(has("unknown field spec.cluster.apiserverEndpoint (ignored; field names are case-sensitive: did you mean "
            "apiServerEndpoint?)"));
  CHECK(has("line 7, column 3: unknown field spec.kublet"));
  CHECK(has("line 8, column 1: unknown field extra"));
  CHECK_FALSE(p.doc.spec.name.has_value());
}

TEST_CASE("unknown gates are warnings that say what to do") {
  ParsedNodeConfig p = ok(kHead + "  kubelet:\n    maxPodsExpression: max_pods + 2\n"
                                  "  instance:\n    network:\n      nameservers: [8.8.8.8]\n"
                                  "  featureGates:\n    FastImagePull: true\n    SomethingNew: true\n");
  // FastImagePull is supported (SOCI on AL2023, nodeadm's thresholds): only the unknown gate warns.
  REQUIRE(p.warnings.size() == 1);
  CHECK(p.warnings[0].find("unknown feature gate SomethingNew") != std::string::npos);
  CHECK(p.doc.spec.feature_gates.at("FastImagePull"));
  CHECK(p.doc.spec.max_pods_expression == "max_pods + 2");
  CHECK(p.doc.spec.nameservers == std::vector<std::string>{"8.8.8.8"});
}

TEST_CASE("a maxPodsExpression that does not compile is an error at its position") {
  const std::string e = error(kHead + "  kubelet:\n    maxPodsExpression: default_enis + fake_variable\n");
  CHECK(e.find("line 5") != std::string::npos);
  CHECK(e.find("failed to compile custom max pods expression") != std::string::npos);
  CHECK(e.find("fake_variable") != std::string::npos);
}

TEST_CASE("the envelope is checked") {
  CHECK(error("kind: NodeConfig\nspec: {}\n").find("apiVersion is missing") != std::string::npos);
  CHECK(error("apiVersion: node.eks.aws/v1beta9\nkind: NodeConfig\n") ==
        "file:///etc/eks/eks-node-agent.d/10-test.yaml, line 1, column 1: apiVersion 'node.eks.aws/v1beta9' is not "
        "supported (only node.eks.aws/v1alpha1)");
  CHECK(error("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfigs\n").find("line 2, column 1: kind 'NodeConfigs' is "
                                                                            "not NodeConfig") != std::string::npos);
  CHECK(error("- a\n- b\n").find("must be a mapping, not a list") != std::string::npos);
}

TEST_CASE("type errors name the field, its position and what was found") {
  CHECK(error(kHead + "  cluster:\n    name: [a]\n") ==
        "file:///etc/eks/eks-node-agent.d/10-test.yaml, line 5, column 5: spec.cluster.name must be a string, not a list");
  CHECK(error(kHead + "  cluster:\n    enableOutpost: \"yes\"\n").find("spec.cluster.enableOutpost must be true or false, "
                                                                      "not 'yes'") != std::string::npos);
  CHECK(error(kHead + "  kubelet:\n    config: [maxPods]\n").find("spec.kubelet.config must be a mapping") !=
        std::string::npos);
  CHECK(error(kHead + "  kubelet:\n    flags: --v=2\n").find("spec.kubelet.flags must be a list") != std::string::npos);
  CHECK(error(kHead + "  featureGates:\n    InstanceIdNodeName: 1\n").find("must be true or false") != std::string::npos);
}

TEST_CASE("numbers and booleans where text is expected are taken as written") {
  ParsedNodeConfig p = ok(kHead + "  cluster:\n    name: 12345\n    id: true\n");
  CHECK(p.doc.spec.name == "12345");
  CHECK(p.doc.spec.id == "true");
}

TEST_CASE("values are validated where nodeadm would fail later or never") {
  SUBCASE("certificateAuthority must be base64 (nodeadm #17: the whole document was skipped)") {
    CHECK(error(kHead + "  cluster:\n    certificateAuthority: \"-----BEGIN CERTIFICATE-----\"\n")
              .find("line 5, column 5: spec.cluster.certificateAuthority must be the base64") != std::string::npos);
  }
  SUBCASE("kubelet flags with whitespace cannot reach kubelet intact") {
    CHECK(error(kHead + "  kubelet:\n    flags:\n      - --v=2\n      - \"--node-labels=a=b c=d\"\n")
              .find("line 7, column 9: spec.kubelet.flags[1] '--node-labels=a=b c=d' contains whitespace") !=
          std::string::npos);
  }
  SUBCASE("containerd.config must be TOML") {
    std::string e = error(kHead + "  containerd:\n    config: |\n      [grpc\n      address = 1\n");
    CHECK(e.find("line 5, column 5: spec.containerd.config is not valid TOML: TOML line 1") != std::string::npos);
  }
  SUBCASE("localStorage.strategy is an enum") {
    CHECK(error(kHead + "  instance:\n    localStorage:\n      strategy: raid5\n")
              .find("must be RAID0, RAID10 or Mount, not 'raid5'") != std::string::npos);
  }
  SUBCASE("cidr must look like a CIDR") {
    CHECK(error(kHead + "  cluster:\n    cidr: 10.100.0.10\n").find("must be a CIDR") != std::string::npos);
  }
}

TEST_CASE("to_document writes only what is set") {
  NodeConfigSpec s;
  s.name = "c";
  s.kubelet_flags = {"--v=2"};
  auto d = to_document(s);
  CHECK(d.dump() ==
        R"({"apiVersion":"node.eks.aws/v1alpha1","kind":"NodeConfig","spec":{"cluster":{"name":"c"},"kubelet":{"flags":["--v=2"]}}})");
}

TEST_CASE("looks_like_node_config recognises the envelope") {
  CHECK(looks_like_node_config(json{{"apiVersion", "node.eks.aws/v1alpha1"}}));
  CHECK(looks_like_node_config(json{{"kind", "NodeConfig"}}));
  CHECK_FALSE(looks_like_node_config(json{{"runcmd", json::array()}}));
  CHECK_FALSE(looks_like_node_config("text"));
}

TEST_CASE("the kube-reserved-max-pods annotation is read, checked and written back") {
  const std::string doc =
      "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nmetadata:\n  annotations:\n"
      "    node-agent.eks.aws/kube-reserved-max-pods: effective\n    team: a\nspec: {}\n";
  const ParsedNodeConfig p = ok(doc);
  CHECK(p.doc.spec.kube_reserved_max_pods == std::optional<std::string>("effective"));
  CHECK(to_document(p.doc.spec)["metadata"]["annotations"][kKubeReservedAnnotation] == "effective");
  CHECK(ok("apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec: {}\n").doc.spec.kube_reserved_max_pods ==
        std::nullopt);
  const std::string bad = error(
      "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nmetadata:\n  annotations:\n"
      "    node-agent.eks.aws/kube-reserved-max-pods: always\nspec: {}\n");
  CHECK(bad.find("must be eni or effective, not 'always'") != std::string::npos);
  CHECK(bad.find("line 5") != std::string::npos);
}
