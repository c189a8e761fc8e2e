// Config resolution against fakes: user data from IMDS, files and drop-in directories.
#include "agent/app/resolve_config.h"

#include <doctest/doctest.h>

#include <string>

#include "tests/support/fake_imds.h"
#include "tests/support/mem_root_fs.h"
#include "tests/unit/userdata_test_util.h"

using agent::Errc;
using agent::app::is_config_file_name;
using agent::app::resolve_config;
using agent::app::ResolvedConfig;
using agent::testing::FakeImds;
using agent::testing::MemRootFs;

namespace {

const std::string kUd = "latest/user-data";

ResolvedConfig resolved(const std::vector<std::string>& sources, FakeImds& imds, const MemRootFs& fs) {
  auto r = resolve_config(sources, imds, fs);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

std::string doc(const std::string& spec) {
  return "apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n" + spec;
}

}  // namespace

TEST_CASE("drop-in file names: *.yaml, *.yml, *.json only (nodeadm file_test.go)") {
  for (const char* ok : {"a.yaml", "b.yml", "c.json", "D.YAML", "10-x.Json"}) CHECK(is_config_file_name(ok));
  for (const char* no : {"config.yaml.bak", "config.txt", "00-systemd-lookin-dropin.conf", "readme.md", "yaml", "config",
                         ".yaml"}) {
    CAPTURE(no);
    CHECK_FALSE(is_config_file_name(no));
  }
}

TEST_CASE("a directory's files merge in lexical order (nodeadm file_test.go)") {
  FakeImds imds;
  MemRootFs fs;
  fs.put("/etc/eks/eks-node-agent.d/a.yaml", doc("  cluster:\n    name: first\n  kubelet:\n    flags: [--v=2]\n"));
  fs.put("/etc/eks/eks-node-agent.d/b.yml", doc("  cluster:\n    name: test-cluster\n    cidr: 10.100.0.0/16\n"));
  fs.put("/etc/eks/eks-node-agent.d/c.json",
         R"({"apiVersion":"node.eks.aws/v1alpha1","kind":"NodeConfig","spec":{"kubelet":{"flags":["--node-labels=env=test"]}}})");
  for (const char* ignored : {"config.yaml.bak", "config.txt", "00-systemd-lookin-dropin.conf", "readme.md", "yaml", "config"}) {
    fs.put(std::string("/etc/eks/eks-node-agent.d/") + ignored, "garbage: [");
  }
  ResolvedConfig r = resolved({"file:///etc/eks/eks-node-agent.d/"}, imds, fs);
  REQUIRE(r.merged.has_value());
  CHECK(r.merged->spec.name == "test-cluster");
  CHECK(r.merged->spec.cidr == "10.100.0.0/16");
  CHECK(r.merged->spec.kubelet_flags == std::vector<std::string>{"--v=2", "--node-labels=env=test"});
  CHECK(r.merged->fields.at("spec.cluster.name").source == "file:///etc/eks/eks-node-agent.d/b.yml");
  CHECK(imds.calls().empty());
}

TEST_CASE("user data then drop-ins: the drop-ins win") {
  FakeImds imds;
  imds.set(kUd, agent::testing::gzip(doc("  cluster:\n    name: from-user-data\n    cidr: 10.100.0.0/16\n")));
  MemRootFs fs;
  fs.put("/etc/eks/eks-node-agent.d/90-name.yaml", doc("  cluster:\n    name: from-drop-in\n"));
  ResolvedConfig r = resolved({"imds://user-data", "file:///etc/eks/eks-node-agent.d/"}, imds, fs);
  REQUIRE(r.merged.has_value());
  CHECK(r.merged->spec.name == "from-drop-in");
  CHECK(r.merged->spec.cidr == "10.100.0.0/16");
  CHECK(imds.calls() == std::vector<std::string>{kUd});
}

TEST_CASE("no user data (404) and no drop-in directory: no NodeConfig, not an error (nodeadm: fatal 404)") {
  FakeImds imds;
  MemRootFs fs;
  ResolvedConfig r = resolved({"imds://user-data", "file:///etc/eks/eks-node-agent.d/"}, imds, fs);
  CHECK_FALSE(r.merged.has_value());
  CHECK(r.all_tolerant);
  REQUIRE(r.notes.size() == 2);
  CHECK(r.notes[0] == "imds://user-data: the instance has no user data");
  CHECK(r.notes[1] == "file:///etc/eks/eks-node-agent.d/: no such directory");
}

TEST_CASE("an AL2 shell script as user data: no NodeConfig, tolerated") {
  FakeImds imds;
  imds.set(kUd, "#!/bin/bash\n/etc/eks/bootstrap.sh my-cluster\n");
  MemRootFs fs;
  ResolvedConfig r = resolved({"imds://user-data"}, imds, fs);
  CHECK_FALSE(r.merged.has_value());
  CHECK(r.all_tolerant);
}

TEST_CASE("source errors") {
  FakeImds imds;
  MemRootFs fs;
  SUBCASE("IMDS down is an error naming the path") {
    imds.fail(kUd, agent::Error{Errc::Timeout, "deadline passed"});
    auto r = resolve_config({"imds://user-data"}, imds, fs);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Unavailable);
    CHECK(r.error().message.find("reading IMDS latest/user-data") != std::string::npos);
  }
  SUBCASE("a named file must exist") {
    auto r = resolve_config({"file:///etc/eks/missing.yaml"}, imds, fs);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::NotFound);
  }
  SUBCASE("a named file must hold a NodeConfig") {
    fs.put("/etc/eks/x.yaml", "just: yaml\n");
    auto r = resolve_config({"file:///etc/eks/x.yaml"}, imds, fs);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    CHECK(r.error().message.find("file:///etc/eks/x.yaml: no NodeConfig document") != std::string::npos);
  }
  SUBCASE("a broken drop-in names its file and line") {
    fs.put("/etc/eks/eks-node-agent.d/10-a.yaml", doc("  cluster:\n    name: [\n"));
    auto r = resolve_config({"file:///etc/eks/eks-node-agent.d/"}, imds, fs);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.starts_with("file:///etc/eks/eks-node-agent.d/10-a.yaml: line "));
  }
  SUBCASE("an unsupported URI") {
    auto r = resolve_config({"s3://bucket/x"}, imds, fs);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Usage);
  }
}
