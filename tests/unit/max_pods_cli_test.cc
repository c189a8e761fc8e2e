#include "agent/cli/max_pods_cli.h"

#include <doctest/doctest.h>

#include <sstream>
#include <string>
#include <vector>

using agent::Errc;
using agent::make_error;
using agent::Result;
using agent::cli::max_pods_main;

namespace {

struct Run {
  int rc = -1;
  std::string out, err;
  int imds_calls = 0;
};

// Runs the subcommand with an IMDS that answers `imds_type` (or fails when it is empty).
Run run(const std::vector<std::string>& args, const std::string& imds_type = "m5.8xlarge",
        int local_vcpus = 0) {
  Run r;
  std::ostringstream out, err;
  auto imds = [&]() -> Result<std::string> {
    ++r.imds_calls;
    if (imds_type.empty()) return make_error(Errc::Unavailable, "IMDS did not answer");
    return imds_type;
  };
  r.rc = max_pods_main(args, out, err, imds, local_vcpus);
  r.out = out.str();
  r.err = err.str();
  return r;
}

bool contains(const std::string& s, const std::string& part) {
  return s.find(part) != std::string::npos;
}

}  // namespace

TEST_CASE("max-pods prints max-pods-calculator.sh's verified values") {
  struct Case {
    std::vector<std::string> args;
    const char* out;
  };
  const Case cases[] = {
      {{"--instance-type", "m5.8xlarge", "--cni-version", "1.11.2"}, "234\n"},
      {{"--instance-type", "m5.8xlarge", "--cni-version", "1.11.2",
        "--cni-prefix-delegation-enabled"},
       "250\n"},
      {{"--instance-type", "m5.8xlarge", "--cni-version", "1.8.0",
        "--cni-prefix-delegation-enabled"},
       "234\n"},
      {{"--instance-type", "m5.8xlarge", "--cni-version", "1.11.2",
        "--cni-custom-networking-enabled"},
       "205\n"},
      {{"--instance-type", "m5.8xlarge", "--cni-version", "1.11.2", "--cni-max-eni", "2"}, "60\n"},
      {{"--instance-type", "m4.xlarge", "--cni-version", "1.7.5"}, "58\n"},
      {{"--instance-type", "m4.xlarge", "--cni-version", "1.11.2",
        "--cni-prefix-delegation-enabled"},
       "58\n"},
      {{"--instance-type", "c6in.32xlarge", "--cni-version", "1.18.0", "--show-max-allowed"},
       "394\n"},
      {{"--instance-type", "c6in.32xlarge", "--cni-version", "1.18.0"}, "250\n"},
      {{"--instance-type=m5.8xlarge", "--cni-version=v1.18.0-eksbuild.1",
        "--cni-prefix-delegation-enabled", "--show-max-allowed"},
       "3714\n"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.args.size());
    CAPTURE(c.args.back());
    auto r = run(c.args);
    CHECK(r.rc == 0);
    CHECK(r.out == c.out);
    CHECK(r.err.empty());
    CHECK(r.imds_calls == 0);
  }
}

TEST_CASE("--instance-type-from-imds asks IMDS and uses this machine's vCPU count") {
  auto r = run({"--instance-type-from-imds", "--cni-version", "1.18.0"}, "c6in.32xlarge", 16);
  CHECK(r.rc == 0);
  CHECK(r.out == "110\n");  // 16 local vCPUs: the 110 cap, whatever the size name implies
  CHECK(r.imds_calls == 1);

  // An explicit --vcpus still wins over the local count.
  r = run({"--instance-type-from-imds", "--cni-version", "1.18.0", "--vcpus", "128"},
          "c6in.32xlarge", 16);
  CHECK(r.out == "250\n");

  // Without a local count the size name decides.
  r = run({"--instance-type-from-imds", "--cni-version", "1.18.0"}, "c6in.32xlarge", 0);
  CHECK(r.out == "250\n");
}

TEST_CASE("--vcpus decides the cap for sizes that do not imply a vCPU count") {
  auto r = run({"--instance-type", "m5.metal", "--cni-version", "1.18.0", "--vcpus", "96"});
  CHECK(r.rc == 0);
  CHECK(r.out == "250\n");
  r = run({"--instance-type", "m5.metal", "--cni-version", "1.18.0", "--vcpus", "8"});
  CHECK(r.out == "110\n");
  r = run({"--instance-type", "m5.metal", "--cni-version", "1.18.0", "--show-max-allowed"});
  CHECK(r.rc == 0);
  CHECK(r.out == "737\n");
}

TEST_CASE("a vCPU count that is needed but unknown is a usage error pointing at --vcpus") {
  auto r = run({"--instance-type", "m5.metal", "--cni-version", "1.18.0"});
  CHECK(r.rc == 2);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "--vcpus"));
}

TEST_CASE("usage errors return 2 and explain themselves on stderr") {
  const std::vector<std::vector<std::string>> cases = {
      {"--cni-version", "1.18.0"},                                 // no instance type
      {"--instance-type", "m5.large"},                             // no CNI version
      {"--instance-type", "", "--cni-version", "1.18.0"},          // empty type
      {"--instance-type", "m5.large", "--cni-version", "latest"},  // not a version
      {"--instance-type", "m5.large", "--cni-version", "1.18.0", "--bogus"},
      {"--instance-type", "m5.large", "--cni-version", "1.18.0", "extra"},
      {"--instance-type", "m5.large", "--cni-version", "1.18.0", "--cni-max-eni", "0"},
      {"--instance-type", "m5.large", "--cni-version", "1.18.0", "--cni-max-eni", "two"},
      {"--instance-type", "m5.large", "--cni-version", "1.18.0", "--vcpus", "0"},
      {"--instance-type", "m5.large", "--cni-version"},  // missing value
      {"--instance-type", "m5.large", "--instance-type-from-imds", "--cni-version", "1.18.0"},
  };
  for (const auto& args : cases) {
    CAPTURE(args.back());
    auto r = run(args);
    CHECK(r.rc == 2);
    CHECK(r.out.empty());
    CHECK(contains(r.err, "max-pods: "));
    CHECK(contains(r.err, "--help"));
  }
  CHECK(contains(run({"--instance-type", "m5.large"}).err, "--cni-version is required"));
  CHECK(contains(run({"--cni-version", "1.18.0"}).err, "--instance-type"));
}

TEST_CASE("an instance type missing from the built-in table fails with advice") {
  auto r = run({"--instance-type", "x9.large", "--cni-version", "1.18.0"});
  CHECK(r.rc == 1);
  CHECK(r.out.empty());
  CHECK(contains(r.err, "x9.large"));
  CHECK(contains(r.err, "/etc/eks/eni-max-pods.txt"));
  CHECK(contains(r.err, "DescribeInstanceTypes"));
}

TEST_CASE("an IMDS failure is reported and returns 1") {
  auto r = run({"--instance-type-from-imds", "--cni-version", "1.18.0"}, "");
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "IMDS did not answer"));
}

TEST_CASE("--help prints the flags on stdout and returns 0") {
  for (const char* flag : {"-h", "--help"}) {
    auto r = run({flag});
    CHECK(r.rc == 0);
    CHECK(r.err.empty());
    for (const char* opt : {"--instance-type", "--instance-type-from-imds", "--cni-version",
                            "--cni-custom-networking-enabled", "--cni-prefix-delegation-enabled",
                            "--cni-max-eni", "--show-max-allowed", "--vcpus"}) {
      CHECK(contains(r.out, opt));
    }
  }
}

namespace {

// Runs the subcommand with an EC2 that answers `answer` for DescribeInstanceTypes, recording the
// types asked for (and whether each was read from IMDS).
Run run_with_ec2(const std::vector<std::string>& args, const Result<agent::InstanceTypeInfo>& answer,
                 std::vector<std::string>& asked) {
  Run r;
  std::ostringstream out, err;
  auto imds = [&]() -> Result<std::string> { return std::string("m5.metal"); };
  auto describe = [&](const std::string& type, bool on_instance) -> Result<agent::InstanceTypeInfo> {
    asked.push_back(type + (on_instance ? " (on instance)" : ""));
    return answer;
  };
  r.rc = max_pods_main(args, out, err, imds, 0, describe);
  r.out = out.str();
  r.err = err.str();
  return r;
}

agent::InstanceTypeInfo ec2_type(const std::string& name, int vcpus, int enis, int ips) {
  return {.instance_type = name, .default_vcpus = vcpus, .hypervisor = "nitro",
          .default_card_max_enis = enis, .max_enis = enis, .ipv4_per_eni = ips, .network_cards = 1};
}

}  // namespace

TEST_CASE("without --vcpus, the vCPU count comes from EC2 DescribeInstanceTypes, as the script asks it") {
  std::vector<std::string> asked;
  // m5.metal's networking is in the table; only its vCPU count is asked, and EC2's answer decides.
  auto r = run_with_ec2({"--instance-type", "m5.metal", "--cni-version", "1.18.0"},
                        ec2_type("m5.metal", 96, 15, 50), asked);
  CHECK(r.rc == 0);
  CHECK(r.out == "250\n");
  r = run_with_ec2({"--instance-type", "m5.metal", "--cni-version", "1.18.0"}, ec2_type("m5.metal", 8, 15, 50),
                   asked);
  CHECK(r.out == "110\n");
  CHECK(asked == std::vector<std::string>{"m5.metal", "m5.metal"});
  // The example: t3.nano with prefix delegation (the table's 2 ENIs, 2 IPs: 2 * 16 + 2).
  asked.clear();
  r = run_with_ec2({"--instance-type", "t3.nano", "--cni-version", "1.11.2", "--cni-prefix-delegation-enabled"},
                   ec2_type("t3.nano", 2, 3, 2), asked);
  CHECK(r.rc == 0);
  CHECK(r.out == "34\n");
  CHECK(asked == std::vector<std::string>{"t3.nano"});
  // From IMDS: the call says it is on the instance.
  asked.clear();
  r = run_with_ec2({"--instance-type-from-imds", "--cni-version", "1.18.0"}, ec2_type("m5.metal", 96, 15, 50),
                   asked);
  CHECK(r.out == "250\n");
  CHECK(asked == std::vector<std::string>{"m5.metal (on instance)"});
}

TEST_CASE("EC2 is not asked when the flags and the table already answer") {
  std::vector<std::string> asked;
  auto r = run_with_ec2({"--instance-type", "m5.metal", "--cni-version", "1.18.0", "--vcpus", "8"},
                        ec2_type("m5.metal", 96, 15, 50), asked);
  CHECK(r.out == "110\n");
  r = run_with_ec2({"--instance-type", "m5.8xlarge", "--cni-version", "1.11.2"}, ec2_type("m5.8xlarge", 1, 1, 1),
                   asked);
  CHECK(r.out == "234\n");
  r = run_with_ec2({"--instance-type", "m5.metal", "--cni-version", "1.18.0", "--show-max-allowed"},
                   ec2_type("m5.metal", 96, 1, 1), asked);
  CHECK(r.out == "737\n");
  CHECK(asked.empty());
}

TEST_CASE("a type the table does not know takes its networking facts from EC2") {
  std::vector<std::string> asked;
  auto r = run_with_ec2({"--instance-type", "x9.large", "--cni-version", "1.18.0"}, ec2_type("x9.large", 2, 3, 12),
                        asked);
  CHECK(r.rc == 0);
  CHECK(r.out == "35\n");
  CHECK(asked == std::vector<std::string>{"x9.large"});
}

TEST_CASE("offline, a needed vCPU count is a usage error that says why EC2 could not answer") {
  std::vector<std::string> asked;
  auto r = run_with_ec2({"--instance-type", "t3.nano", "--cni-version", "1.11.2", "--cni-prefix-delegation-enabled"},
                        make_error(Errc::Unavailable, "no AWS credentials in the environment"), asked);
  CHECK(r.rc == 2);
  CHECK(r.out.empty());
  CHECK_MESSAGE(contains(r.err, "EC2 DescribeInstanceTypes could not be asked: no AWS credentials in the environment"),
                r.err);
  CHECK(contains(r.err, "pass --vcpus N"));
  r = run_with_ec2({"--instance-type", "x9.large", "--cni-version", "1.18.0"},
                   make_error(Errc::AwsApi, "DescribeInstanceTypes: denied"), asked);
  CHECK(r.rc == 1);
  CHECK(contains(r.err, "DescribeInstanceTypes: denied"));
}
