#include "agent/compute/kubelet_config.h"

#include <doctest/doctest.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

using agent::Errc;
using agent::Version;
using agent::compute::kubelet_config_for;
using agent::compute::KubeletConfigInput;
using json = nlohmann::ordered_json;

namespace {

// The inputs of bootstrap-sh.md section 8.2 (m4.xlarge, 2 vCPUs, kubelet 1.27.0).
KubeletConfigInput golden_input() {
  return KubeletConfigInput{
      .cluster_dns = {"10.100.0.10"},
      .kubelet_version = Version{1, 27, 0},
      .max_pods = 58,
      .kube_reserved_cpu = "70m",
      .kube_reserved_memory = "893Mi",
      .provider_id = "aws:///us-east-1a/i-1234567890abcdef0",
  };
}

std::string config(const KubeletConfigInput& in) {
  auto r = kubelet_config_for(in);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return *r;
}

json config_json(const KubeletConfigInput& in) { return json::parse(config(in)); }

std::vector<std::string> keys(const json& j) {
  std::vector<std::string> out;
  for (const auto& [k, v] : j.items()) out.push_back(k);
  return out;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("the default config patched for 1.27 has the AL2 key order and values") {
  const json cfg = config_json(golden_input());
  CHECK(keys(cfg) == std::vector<std::string>{
                         "kind", "apiVersion", "address", "authentication", "authorization",
                         "clusterDomain", "hairpinMode", "readOnlyPort", "cgroupDriver", "cgroupRoot",
                         "featureGates", "protectKernelDefaults", "serializeImagePulls",
                         "serverTLSBootstrap", "tlsCipherSuites", "clusterDNS", "evictionHard",
                         "kubeReserved", "maxPods", "providerID", "systemReservedCgroup",
                         "kubeReservedCgroup"});
  CHECK(cfg["cgroupDriver"] == "systemd");
  CHECK(cfg["clusterDNS"] == json::array({"10.100.0.10"}));
  CHECK(cfg["evictionHard"] ==
        json{{"memory.available", "100Mi"}, {"nodefs.available", "10%"}, {"nodefs.inodesFree", "5%"}});
  CHECK(cfg["kubeReserved"] == json{{"cpu", "70m"}, {"ephemeral-storage", "1Gi"}, {"memory", "893Mi"}});
  CHECK(cfg["maxPods"] == 58);
  CHECK(cfg["providerID"] == "aws:///us-east-1a/i-1234567890abcdef0");
  CHECK(cfg["systemReservedCgroup"] == "/system");
  CHECK(cfg["kubeReservedCgroup"] == "/runtime");
  CHECK(cfg["tlsCipherSuites"].size() == 8);
}

TEST_CASE("the output is 2-space indented JSON with a trailing newline") {
  const std::string out = config(golden_input());
  CHECK(out.rfind("{\n  \"kind\": \"KubeletConfiguration\",\n", 0) == 0);
  CHECK(contains(out, "\n  \"clusterDNS\": [\n    \"10.100.0.10\"\n  ],\n"));
  CHECK(out.back() == '\n');
  CHECK(out.substr(out.size() - 2) == "}\n");
}

TEST_CASE("kubeAPIQPS and kubeAPIBurst are added only for 1.22 <= kubelet < 1.27") {
  struct Row {
    Version v;
    bool present;
  };
  const std::vector<Row> rows = {
      {{1, 21, 9}, false}, {{1, 22, 0}, true}, {{1, 23, 9}, true},
      {{1, 26, 99}, true}, {{1, 27, 0}, false}, {{1, 30, 2}, false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.v.str());
    KubeletConfigInput in = golden_input();
    in.kubelet_version = row.v;
    const json cfg = config_json(in);
    CHECK(cfg.contains("kubeAPIQPS") == row.present);
    CHECK(cfg.contains("kubeAPIBurst") == row.present);
    if (row.present) {
      CHECK(cfg["kubeAPIQPS"] == 10);
      CHECK(cfg["kubeAPIBurst"] == 20);
      // bootstrap-sh.md 8.1: they follow clusterDNS.
      auto k = keys(cfg);
      auto dns = std::find(k.begin(), k.end(), "clusterDNS");
      REQUIRE(dns + 2 < k.end());
      CHECK(*(dns + 1) == "kubeAPIQPS");
      CHECK(*(dns + 2) == "kubeAPIBurst");
    }
  }
}

TEST_CASE("existing kubeAPIQPS and kubeAPIBurst values are kept") {
  for (Version v : {Version{1, 22, 0}, Version{1, 26, 99}, Version{1, 27, 0}, Version{1, 21, 9}}) {
    CAPTURE(v.str());
    KubeletConfigInput in = golden_input();
    in.kubelet_version = v;
    in.current = R"({"kind": "KubeletConfiguration", "kubeAPIQPS": 50, "kubeAPIBurst": 100})";
    const json cfg = config_json(in);
    CHECK(cfg["kubeAPIQPS"] == 50);
    CHECK(cfg["kubeAPIBurst"] == 100);
  }
  SUBCASE("a null value counts as absent") {
    KubeletConfigInput in = golden_input();
    in.kubelet_version = {1, 25, 0};
    in.current = R"({"kubeAPIQPS": null})";
    const json cfg = config_json(in);
    CHECK(cfg["kubeAPIQPS"] == 10);
    CHECK(cfg["kubeAPIBurst"] == 20);
  }
}

TEST_CASE("keys the agent owns are removed when they are not wanted") {
  KubeletConfigInput in = golden_input();
  in.current = config(golden_input());  // a config that has all of them
  in.max_pods.reset();
  SUBCASE("maxPods") {
    const json cfg = config_json(in);
    CHECK_FALSE(cfg.contains("maxPods"));
    CHECK(cfg.contains("kubeReserved"));
  }
  SUBCASE("kubeReserved when either half is unset") {
    in.kube_reserved_cpu.reset();
    CHECK_FALSE(config_json(in).contains("kubeReserved"));
    in.kube_reserved_cpu = "70m";
    in.kube_reserved_memory.reset();
    CHECK_FALSE(config_json(in).contains("kubeReserved"));
  }
  SUBCASE("the reserved cgroups") {
    in.reserved_cgroups = false;
    const json cfg = config_json(in);
    CHECK_FALSE(cfg.contains("systemReservedCgroup"));
    CHECK_FALSE(cfg.contains("kubeReservedCgroup"));
  }
}

TEST_CASE("owned keys are overwritten, not merged") {
  KubeletConfigInput in = golden_input();
  in.current = R"({
  "cgroupDriver": "cgroupfs",
  "clusterDNS": ["1.1.1.1", "8.8.8.8"],
  "evictionHard": {"memory.available": "1Gi", "pid.available": "10%"},
  "kubeReserved": {"cpu": "1", "pid": "100"},
  "maxPods": 11,
  "providerID": "aws:///old/i-0"
})";
  const json cfg = config_json(in);
  CHECK(cfg["cgroupDriver"] == "systemd");
  CHECK(cfg["clusterDNS"] == json::array({"10.100.0.10"}));
  CHECK(cfg["evictionHard"] ==
        json{{"memory.available", "100Mi"}, {"nodefs.available", "10%"}, {"nodefs.inodesFree", "5%"}});
  CHECK(cfg["kubeReserved"] == json{{"cpu", "70m"}, {"ephemeral-storage", "1Gi"}, {"memory", "893Mi"}});
  CHECK(cfg["maxPods"] == 58);
  CHECK(cfg["providerID"] == "aws:///us-east-1a/i-1234567890abcdef0");
}

TEST_CASE("unknown keys and the order of existing keys are preserved") {
  KubeletConfigInput in = golden_input();
  in.current = R"({
  "zeta": {"nested": [3, 1, 2]},
  "maxPods": 5,
  "kind": "KubeletConfiguration",
  "alpha": "first seen second",
  "registerWithTaints": [{"key": "k", "value": "v", "effect": "NoSchedule"}]
})";
  const json cfg = config_json(in);
  CHECK(keys(cfg) == std::vector<std::string>{"zeta", "maxPods", "kind", "alpha", "registerWithTaints",
                                              "cgroupDriver", "clusterDNS", "evictionHard",
                                              "kubeReserved", "providerID", "systemReservedCgroup",
                                              "kubeReservedCgroup"});
  CHECK(cfg["zeta"] == json{{"nested", {3, 1, 2}}});
  CHECK(cfg["alpha"] == "first seen second");
  CHECK(cfg["registerWithTaints"][0]["effect"] == "NoSchedule");
  CHECK(cfg["maxPods"] == 58);
}

TEST_CASE("patching the agent's own output again gives the same bytes") {
  struct Row {
    std::string what;
    KubeletConfigInput in;
  };
  KubeletConfigInput qps = golden_input();
  qps.kubelet_version = {1, 23, 9};
  KubeletConfigInput bare = golden_input();
  bare.max_pods.reset();
  bare.kube_reserved_cpu.reset();
  bare.reserved_cgroups = false;
  KubeletConfigInput user = golden_input();
  user.current = R"({"b": 1, "a": [1, 2, {"x": null}], "maxPods": 1, "unicode": "\u00e9"})";
  KubeletConfigInput dns = golden_input();
  dns.cluster_dns = {"10.0.0.10", "10.0.0.11"};
  const std::vector<Row> rows = {
      {"the default", golden_input()}, {"with QPS keys", qps}, {"without optional keys", bare},
      {"with user keys", user},        {"with two DNS servers", dns},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    const std::string first = config(row.in);
    KubeletConfigInput again = row.in;
    again.current = first;
    CHECK(config(again) == first);
  }
}

TEST_CASE("a current file that is not a JSON object is a parse error with line and column") {
  struct Row {
    std::string what;
    std::string text;
    std::string mentions;
  };
  const std::vector<Row> rows = {
      {"missing comma", "{\n  \"a\": 1\n  \"b\": 2\n}\n", "line 3"},
      {"truncated", "{\n  \"a\": [1, 2,\n", "line"},
      {"empty file", "", "line 1"},
      {"jq's empty-line failure", "\n", "line"},
      {"an array", "[1, 2]", "not a JSON object"},
      {"a string", "\"kubelet\"", "not a JSON object"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    KubeletConfigInput in = golden_input();
    in.current = row.text;
    auto r = kubelet_config_for(in);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK_MESSAGE(contains(r.error().message, row.mentions), r.error().message);
    CHECK(contains(r.error().message, "/etc/kubernetes/kubelet/kubelet-config.json"));
  }
  SUBCASE("the position is reported as line and column") {
    KubeletConfigInput in = golden_input();
    in.current = "{\n  \"a\": 1\n  \"b\": 2\n}\n";
    auto r = kubelet_config_for(in);
    REQUIRE_FALSE(r.has_value());
    CHECK(contains(r.error().message, "column"));
  }
}
