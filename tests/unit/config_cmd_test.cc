// `eks-node-agent config check|dump` against fakes.
#include "agent/cli/config_cmd.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>

#include "agent/cli/config_sources.h"
#include "tests/support/fake_imds.h"
#include "tests/support/mem_root_fs.h"

using agent::Errc;
using agent::testing::FakeImds;
using agent::testing::MemRootFs;
using namespace agent::cli;

namespace {

const std::string kDoc =
    "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: c\n"
    "    apiServerEndpoint: https://api\n    certificateAuthority: Y2E=\n    cidr: 10.100.0.0/16\n";

struct Run {
  agent::Status status;
  std::string out, err;
};

Run run(const std::vector<std::string>& args, FakeImds& imds, MemRootFs& fs) {
  auto parsed = parse_config_args(args, [](const char*) -> const char* { return nullptr; });
  REQUIRE_MESSAGE(parsed.has_value(), (parsed.has_value() ? "" : parsed.error().message));
  std::ostringstream out, err;
  agent::Status s = run_config_command(*parsed, imds, fs, out, err);
  return {s, out.str(), err.str()};
}

}  // namespace

TEST_CASE("config needs a verb, and defaults to the boot unit's sources") {
  auto none = parse_config_args({}, [](const char*) -> const char* { return nullptr; });
  REQUIRE_FALSE(none.has_value());
  CHECK(none.error().code == Errc::Usage);
  CHECK(parse_config_args({"lint"}, [](const char*) -> const char* { return nullptr; }).error().code == Errc::Usage);
  auto check = parse_config_args({"check"}, [](const char*) -> const char* { return nullptr; });
  REQUIRE(check.has_value());
  CHECK(check->options.config_sources == boot_config_sources());
  auto explicit_source = parse_config_args({"dump", "--config-source", "file:///x.yaml"},
                                           [](const char*) -> const char* { return nullptr; });
  REQUIRE(explicit_source.has_value());
  CHECK(explicit_source->verb == ConfigCommand::Verb::Dump);
  CHECK(explicit_source->options.config_sources == std::vector<std::string>{"file:///x.yaml"});
  CHECK(parse_config_args({"check", "--help"}, [](const char*) -> const char* { return nullptr; })->help);
}

TEST_CASE("config check: valid, with warnings on stderr") {
  FakeImds imds;
  imds.set("latest/user-data", kDoc + "  kubelet:\n    confg: {}\n");
  MemRootFs fs;
  Run r = run({"check"}, imds, fs);
  REQUIRE(r.status.has_value());
  CHECK(r.out == "NodeConfig from imds://user-data, file:///etc/eks/eks-node-agent.d/ is valid (1 warning)\n");
  CHECK(r.err.find("warning: imds://user-data, line 10, column 5: unknown field spec.kubelet.confg") != std::string::npos);
}

TEST_CASE("config check: invalid documents and missing fields fail with their place") {
  FakeImds imds;
  MemRootFs fs;
  imds.set("latest/user-data", "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: c\n");
  Run r = run({"check"}, imds, fs);
  REQUIRE_FALSE(r.status.has_value());
  CHECK(r.status.error().code == Errc::Invalid);
  CHECK(r.status.error().message ==
        "imds://user-data, line 4, column 3: spec.cluster.apiServerEndpoint is required (or pass --apiserver-endpoint)");
  SUBCASE("a flag supplies it") {
    Run s = run({"check", "--apiserver-endpoint", "https://x", "--b64-cluster-ca", "Y2E=", "--dns-cluster-ip",
                 "10.100.0.10"},
                imds, fs);
    CHECK(s.status.has_value());
  }
  SUBCASE("a bad --max-pods in kubelet.flags") {
    imds.set("latest/user-data", kDoc + "  kubelet:\n    flags: [--max-pods=lots]\n");
    Run s = run({"check"}, imds, fs);
    REQUIRE_FALSE(s.status.has_value());
    CHECK(s.status.error().message.find("--max-pods must be a positive whole number") != std::string::npos);
  }
}

TEST_CASE("config check: no NodeConfig anywhere is nothing to do") {
  FakeImds imds;
  imds.set("latest/user-data", "#!/bin/bash\necho hi\n");
  MemRootFs fs;
  Run r = run({"check"}, imds, fs);
  REQUIRE(r.status.has_value());
  CHECK(r.out == "no NodeConfig in user data; nothing to do\n");
}

TEST_CASE("config dump: the effective NodeConfig with each field's source") {
  FakeImds imds;
  imds.set("latest/user-data", kDoc);
  MemRootFs fs;
  fs.put("/etc/eks/eks-node-agent.d/10-kubelet.yaml",
         "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config: {maxPods: 42}\n");
  Run r = run({"dump", "--apiserver-endpoint", "https://flag"}, imds, fs);
  REQUIRE_MESSAGE(r.status.has_value(), (r.status.has_value() ? "" : r.status.error().message));
  auto d = nlohmann::json::parse(r.out);
  CHECK(d["kind"] == "NodeConfig");
  CHECK(d["spec"]["cluster"]["name"] == "c");
  CHECK(d["spec"]["cluster"]["apiServerEndpoint"] == "https://flag");
  CHECK(d["spec"]["kubelet"]["config"]["maxPods"] == 42);
  const auto& a = d["metadata"]["annotations"];
  CHECK(a["node-agent.eks.aws/source.spec.cluster.name"] == "imds://user-data, line 5, column 5");
  CHECK(a["node-agent.eks.aws/source.spec.cluster.apiServerEndpoint"] == "--apiserver-endpoint");
  CHECK(a["node-agent.eks.aws/source.spec.kubelet.config"] ==
        "file:///etc/eks/eks-node-agent.d/10-kubelet.yaml, line 5, column 5");
}
