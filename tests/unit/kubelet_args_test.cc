#include "agent/compute/kubelet_args.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>
#include <vector>

using agent::Errc;
using agent::compute::environment_dropin;
using agent::compute::ExtraArgsInfo;
using agent::compute::inspect_extra_args;
using agent::compute::split_args;

namespace {

ExtraArgsInfo inspect(const std::string& args) {
  auto r = inspect_extra_args(args);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return *r;
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("extra args are split on any whitespace, as systemd splits an unbraced $VAR") {
  CHECK(split_args("").empty());
  CHECK(split_args(" \t ").empty());
  CHECK(split_args("--a=1") == std::vector<std::string>{"--a=1"});
  CHECK(split_args("  --a=1\t--b 2\n--c  ") == std::vector<std::string>{"--a=1", "--b", "2", "--c"});
}

TEST_CASE("the last --max-pods in the extra args wins, in either form") {
  struct Row {
    std::string args;
    std::optional<int> max_pods;
  };
  const std::vector<Row> rows = {
      {"", std::nullopt},
      {"--node-labels=a=b", std::nullopt},
      {"--max-pods=30", 30},
      {"--max-pods 30", 30},
      // eksctl#7946: MNG user data plus eksctl's appended flag.
      {"--node-labels=test=duplicate --max-pods=58 --max-pods=30", 30},
      {"--max-pods=58 --max-pods 30", 30},
      {"--max-pods 30 --max-pods=58", 58},
      {"--max-pods 17 --node-labels=a=b --max-pods 110 --v=2", 110},
      // Look-alikes are not --max-pods.
      {"--max-pods-per-core=10", std::nullopt},
      {"--node-labels=--max-pods=3", std::nullopt},
      {"--max-pods", std::nullopt},  // no value: left for kubelet to reject
  };
  for (const auto& row : rows) {
    CAPTURE(row.args);
    CHECK(inspect(row.args).max_pods == row.max_pods);
  }
}

TEST_CASE("a --max-pods value that is not a positive whole number is invalid") {
  for (const std::string args : {"--max-pods=abc", "--max-pods=0", "--max-pods=-1", "--max-pods=12x",
                           "--max-pods 1.5", "--max-pods=", "--max-pods=30 --max-pods=bad",
                           "--max-pods=99999999999999"}) {
    CAPTURE(args);
    auto r = inspect_extra_args(args);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    CHECK(contains(r.error().message, "--max-pods"));
    CHECK(contains(r.error().message, "--kubelet-extra-args"));
  }
}

TEST_CASE("reserved-cpus, kube-reserved and hostname-override are detected in both forms") {
  struct Row {
    std::string args;
    ExtraArgsInfo info;
  };
  const std::vector<Row> rows = {
      {"--reserved-cpus=0-1", {.reserved_cpus = true}},
      {"--reserved-cpus 0-1", {.reserved_cpus = true}},
      {"--kube-reserved=cpu=1,memory=1Gi", {.kube_reserved = true}},
      {"--kube-reserved cpu=1", {.kube_reserved = true}},
      {"--hostname-override=node-1", {.hostname_override = true}},
      {"--hostname-override node-1", {.hostname_override = true}},
      {"--kube-reserved-cgroup=/runtime", {}},
      {"--node-labels=hostname-override=x", {}},
      {"--max-pods=20 --reserved-cpus=0 --kube-reserved=cpu=1 --hostname-override=n",
       {.max_pods = 20, .reserved_cpus = true, .kube_reserved = true, .hostname_override = true}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.args);
    CHECK(inspect(row.args) == row.info);
  }
}

TEST_CASE("an environment drop-in quotes its value for systemd") {
  struct Row {
    std::string value;
    std::string line;
  };
  const std::vector<Row> rows = {
      {"--v=2", "Environment='KUBELET_ARGS=--v=2'"},
      {"", "Environment='KUBELET_ARGS='"},
      {"--node-labels=team='a b'", R"(Environment='KUBELET_ARGS=--node-labels=team=\'a b\'')"},
      {R"(--path=C:\dir)", R"(Environment='KUBELET_ARGS=--path=C:\\dir')"},
      {"--eviction-hard=memory.available<5%", "Environment='KUBELET_ARGS=--eviction-hard=memory.available<5%%'"},
      {"%h %%", "Environment='KUBELET_ARGS=%%h %%%%'"},
      {R"(a\'b)", R"(Environment='KUBELET_ARGS=a\\\'b')"},
      {"--node-labels=\"x\"", "Environment='KUBELET_ARGS=--node-labels=\"x\"'"},
      {"\xc3\xa9t\xc3\xa9", "Environment='KUBELET_ARGS=\xc3\xa9t\xc3\xa9'"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.value);
    auto r = environment_dropin("KUBELET_ARGS", row.value);
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
    CHECK(*r == std::string("[Service]\n") + row.line + "\n");
  }
}

TEST_CASE("an environment drop-in refuses newlines and other control characters") {
  for (const std::string value : {"--a\n--b", "--a\r", "--a\t--b", "\x01", "x\x7f"}) {
    CAPTURE(value);
    auto r = environment_dropin("KUBELET_EXTRA_ARGS", value);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Invalid);
    CHECK(contains(r.error().message, "KUBELET_EXTRA_ARGS"));
  }
}
