#include "agent/compute/build_vars.h"

#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "agent/model/embedded.h"

namespace c = agent::compute;
using agent::Errc;

namespace {

std::string defaults() { return std::string(agent::embedded::file("config/build-variables.json")); }

agent::Result<c::BuildVars> resolve(std::vector<c::VarFile> files, std::vector<std::string> args,
                                    std::string machine = "x86_64") {
  return c::resolve_build_vars(defaults(), files, args, machine);
}

const std::vector<std::string> kRequired = {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10"};

}  // namespace

TEST_CASE("build vars: the built-in defaults, as the AMI template's defaults file had them") {
  auto v = resolve({}, kRequired);
  REQUIRE(v);
  CHECK(v->binary_bucket_name == "amazon-eks");
  CHECK(v->binary_bucket_region == "us-west-2");
  CHECK(v->pause_container_version == "3.10");
  CHECK(v->containerd_version == "1.7.*");
  CHECK(v->runc_version == "1.*");
  CHECK_FALSE(v->cache_container_images);
  CHECK(v->install_packages);
  CHECK_FALSE(v->refresh_instance_types);
  CHECK(v->arch == "amd64");
  CHECK(v->machine == "x86_64");
  CHECK(v->find("binary_bucket_name")->origin == "defaults");
  CHECK(v->find("kubernetes_version")->origin == "command line");
}

TEST_CASE("build vars: defaults < each var file in order < name=value") {
  c::VarFile a{"a.json", R"({"binary_bucket_name": "bucket-a", "pause_container_version": "3.9",
                             "kubernetes_version": "1.29.0"})"};
  c::VarFile b{"b.json", R"({"binary_bucket_name": "bucket-b", "cache_container_images": true})"};
  auto v = resolve({a, b}, {"kubernetes_build_date=2024-07-10", "pause_container_version=3.8"});
  REQUIRE(v);
  CHECK(v->binary_bucket_name == "bucket-b");
  CHECK(v->find("binary_bucket_name")->origin == "b.json");
  CHECK(v->pause_container_version == "3.8");
  CHECK(v->find("pause_container_version")->origin == "command line");
  CHECK(v->kubernetes_version_text == "1.29.0");
  CHECK(v->find("kubernetes_version")->origin == "a.json");
  CHECK(v->cache_container_images);  // a JSON boolean is accepted
  // The later name=value wins over an earlier one too.
  auto w = resolve({}, {"kubernetes_version=1.28.1", "kubernetes_build_date=2024-07-10", "kubernetes_version=1.30.4"});
  REQUIRE(w);
  CHECK(w->kubernetes_version_text == "1.30.4");
}

TEST_CASE("build vars: kernel_version follows the Kubernetes version unless given") {
  auto old = resolve({}, {"kubernetes_version=1.23.17", "kubernetes_build_date=2024-01-04"});
  REQUIRE(old);
  CHECK(old->kernel_version == "5.4");
  CHECK(old->kernel_version_derived);
  auto newer = resolve({}, kRequired);
  REQUIRE(newer);
  CHECK(newer->kernel_version == "5.10");
  auto given = resolve({}, {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10", "kernel_version=4.14"});
  REQUIRE(given);
  CHECK(given->kernel_version == "4.14");
  CHECK_FALSE(given->kernel_version_derived);
}

TEST_CASE("build vars: arch in either spelling, default from the build host") {
  auto arm = resolve({}, {"kubernetes_version=1.30.4", "kubernetes_build_date=2024-07-10", "arch=aarch64"});
  REQUIRE(arm);
  CHECK(arm->arch == "arm64");
  CHECK(arm->machine == "aarch64");
  auto host = resolve({}, kRequired, "aarch64");
  REQUIRE(host);
  CHECK(host->arch == "arm64");
  auto odd = resolve({}, kRequired, "riscv64");
  REQUIRE_FALSE(odd);
  CHECK(odd.error().message.find("arch") != std::string::npos);
  CHECK(odd.error().message.find("riscv64") != std::string::npos);
}

TEST_CASE("build vars: unknown variables are errors naming the variable, its source and a suggestion") {
  auto v = resolve({}, {"kubernetes_verison=1.30.4", "kubernetes_build_date=2024-07-10"});
  REQUIRE_FALSE(v);
  CHECK(v.error().code == Errc::Invalid);
  CHECK(v.error().message.find("'kubernetes_verison'") != std::string::npos);
  CHECK(v.error().message.find("command line") != std::string::npos);
  CHECK(v.error().message.find("did you mean 'kubernetes_version'") != std::string::npos);
  auto f = resolve({{"vars.json", R"({"source_ami_id": "ami-123"})"}}, kRequired);
  REQUIRE_FALSE(f);
  CHECK(f.error().message.find("'source_ami_id' (vars.json)") != std::string::npos);
}

TEST_CASE("build vars: invalid values name the variable, the value, the source and the format") {
  struct Case {
    std::string assignment;
    std::string expect;
  };
  for (const auto& [assignment, expect] : std::vector<Case>{
           {"kubernetes_version=1.30", "MAJOR.MINOR.PATCH"},
           {"kubernetes_version=v1.30.4", "MAJOR.MINOR.PATCH"},
           {"kubernetes_build_date=2024-13-01", "YYYY-MM-DD"},
           {"arch=ppc64le", "x86_64 (amd64) or aarch64 (arm64)"},
           {"binary_bucket_name=My_Bucket", "S3 bucket name"},
           {"binary_bucket_region=uswest2", "AWS region"},
           {"pause_container_version=3.10;rm", "image tag"},
           {"kernel_version=5", "MAJOR.MINOR"},
           {"containerd_version=1.7 --nogpgcheck", "package version"},
           {"runc_version=-1", "package version"},
           {"cache_container_images=yes", "true or false"},
           {"install_packages=1", "true or false"},
       }) {
    const std::string& row = assignment;  // clang 14: no lambda capture of a structured binding
    CAPTURE(row);
    std::vector<std::string> args = kRequired;
    args.push_back(assignment);
    auto v = resolve({}, args);
    REQUIRE_FALSE(v);
    CHECK(v.error().code == Errc::Invalid);
    const std::string name = assignment.substr(0, assignment.find('='));
    CHECK(v.error().message.find(name) != std::string::npos);
    CHECK(v.error().message.find("command line") != std::string::npos);
    CHECK(v.error().message.find(expect) != std::string::npos);
  }
}

TEST_CASE("build vars: required variables and malformed inputs") {
  auto none = resolve({}, {});
  REQUIRE_FALSE(none);
  CHECK(none.error().message.find("kubernetes_version is not set") != std::string::npos);
  auto no_date = resolve({}, {"kubernetes_version=1.30.4"});
  REQUIRE_FALSE(no_date);
  CHECK(no_date.error().message.find("kubernetes_build_date is not set") != std::string::npos);
  auto bare = resolve({}, {"kubernetes_version"});
  REQUIRE_FALSE(bare);
  CHECK(bare.error().code == Errc::Usage);
  CHECK(bare.error().message.find("name=value") != std::string::npos);
  auto bad_json = resolve({{"broken.json", "{\n  \"arch\": \"x86_64\",\n  oops\n}"}}, kRequired);
  REQUIRE_FALSE(bad_json);
  CHECK(bad_json.error().message.find("broken.json: line 3") != std::string::npos);
  auto not_object = resolve({{"list.json", "[1,2]"}}, kRequired);
  REQUIRE_FALSE(not_object);
  CHECK(not_object.error().message.find("list.json") != std::string::npos);
  auto nested = resolve({{"nested.json", R"({"arch": {"x": 1}})"}}, kRequired);
  REQUIRE_FALSE(nested);
  CHECK(nested.error().message.find("'arch'") != std::string::npos);
}
