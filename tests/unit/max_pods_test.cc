#include "agent/compute/max_pods.h"

#include <doctest/doctest.h>

#include <optional>
#include <string>

using agent::Errc;
using agent::Version;
using agent::compute::builtin_max_pods;
using agent::compute::builtin_networking;
using agent::compute::builtin_networking_table;
using agent::compute::calculate_max_pods;
using agent::compute::CalculatorInput;
using agent::compute::max_pods_for;
using agent::compute::MaxPodsDecision;
using agent::compute::NetworkingFacts;
using agent::compute::parse_eni_max_pods;
using agent::compute::vcpus_from_size;

TEST_CASE("the eni-max-pods parser skips comments and blank lines and reads exact keys") {
  auto table = parse_eni_max_pods(
      "# header\n"
      "\n"
      "   # indented comment\n"
      "m5.large 29\n"
      "m5.xlarge\t58\r\n"
      "  t3.nano 4  \n"
      "c6in.32xlarge 394");  // no final newline
  REQUIRE(table.has_value());
  CHECK(table->size() == 4);
  CHECK(table->at("m5.large") == 29);
  CHECK(table->at("m5.xlarge") == 58);
  CHECK(table->at("t3.nano") == 4);
  CHECK(table->at("c6in.32xlarge") == 394);
}

TEST_CASE("the eni-max-pods parser accepts an empty or comment-only file") {
  CHECK(parse_eni_max_pods("").has_value());
  CHECK(parse_eni_max_pods("# nothing\n\n")->empty());
}

TEST_CASE("a malformed eni-max-pods line is a Parse error naming its line number and text") {
  struct Case {
    const char* text;
    const char* line;
  };
  const Case cases[] = {
      {"# ok\nm5.large\n", "line 2: "},                // no count
      {"m5.large 29\nm5.xlarge fifty\n", "line 2: "},  // not a number
      {"\n\nm5.large 29 30\n", "line 3: "},            // extra field
      {"m5.large -1\n", "line 1: "},                   // negative
      {"m5.large 0\n", "line 1: "},                    // zero pods is not a limit
      {"m5.large 12abc\n", "line 1: "},                // trailing garbage
      {"m5.large 99999999999\n", "line 1: "},          // overflow
  };
  for (const auto& c : cases) {
    CAPTURE(c.text);
    auto r = parse_eni_max_pods(c.text);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Parse);
    CHECK(r.error().message.starts_with(c.line));
  }
  auto r = parse_eni_max_pods("m5.large twenty-nine\n");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().message.find("m5.large twenty-nine") != std::string::npos);
}

TEST_CASE("a type listed twice in eni-max-pods is a Parse error rather than a silent choice") {
  auto r = parse_eni_max_pods("m5.large 29\nm5.large 30\n");
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Parse);
  CHECK(r.error().message.starts_with("line 2: "));
}

TEST_CASE("the built-in table holds every known value from the reference data") {
  const auto& t = builtin_max_pods();
  CHECK(t.size() == 1391);
  CHECK(t.at("m4.xlarge") == 58);
  CHECK(t.at("m5.large") == 29);
  CHECK(t.at("m5.8xlarge") == 234);
  CHECK(t.at("c6in.32xlarge") == 394);
  CHECK(t.at("t3.nano") == 4);
}

TEST_CASE("every built-in max-pods row equals ENIs x (IPs - 1) + 2 from the built-in facts") {
  const auto& pods = builtin_max_pods();
  const auto& nets = builtin_networking_table();
  CHECK(pods.size() == nets.size());
  for (const auto& [type, value] : pods) {
    const std::string& row = type;  // clang 14: no lambda capture of a structured binding
    CAPTURE(row);
    auto net = builtin_networking(type);
    REQUIRE(net.has_value());
    CHECK(net->instance_type == type);
    CHECK(value == net->max_enis * (net->ipv4_per_eni - 1) + 2);
  }
}

TEST_CASE("the built-in networking facts use the default network card") {
  // c6in.32xlarge has two cards of 8 ENIs each; only card 0 serves pods.
  CHECK(builtin_networking("c6in.32xlarge") == NetworkingFacts{.instance_type = "c6in.32xlarge",
                                                               .max_enis = 8,
                                                               .ipv4_per_eni = 50,
                                                               .hypervisor = "nitro",
                                                               .bare_metal = false});
  CHECK(builtin_networking("m4.xlarge") == NetworkingFacts{.instance_type = "m4.xlarge",
                                                           .max_enis = 4,
                                                           .ipv4_per_eni = 15,
                                                           .hypervisor = "xen",
                                                           .bare_metal = false});
  auto metal = builtin_networking("m5.metal");
  REQUIRE(metal.has_value());
  CHECK(metal->bare_metal);
}

TEST_CASE("lookups are exact: no prefix, regex or case-insensitive matches") {
  CHECK_FALSE(builtin_networking("m5").has_value());
  CHECK_FALSE(builtin_networking("m5.").has_value());
  CHECK_FALSE(builtin_networking("m5.8xlarg").has_value());
  CHECK_FALSE(builtin_networking("m5x8xlarge").has_value());  // "." is not a wildcard
  CHECK_FALSE(builtin_networking("M5.LARGE").has_value());
  CHECK_FALSE(builtin_networking("").has_value());
  // Whitespace is not trimmed away from a lookup key either.
  CHECK(max_pods_for("m5.8xlarge ", std::nullopt).source == "default");
  CHECK(max_pods_for("m5.8xlarg", std::nullopt).value == 110);
  CHECK(max_pods_for("", std::nullopt) ==
        MaxPodsDecision{.value = 110, .source = "default", .fallback = true});
}

TEST_CASE("an override table only matches its exact keys too") {
  auto d = max_pods_for("m5.large", std::string("m5.large2 7\nm5.larg 8\n"));
  CHECK(d == MaxPodsDecision{.value = 29, .source = "built-in table", .fallback = false});
}

TEST_CASE("max_pods_for prefers the override table, then the built-in table") {
  std::string override_table = "# custom\nm5.large 17\nx9.large 42\n";
  CHECK(max_pods_for("m5.large", override_table) ==
        MaxPodsDecision{.value = 17, .source = "/etc/eks/eni-max-pods.txt", .fallback = false});
  CHECK(max_pods_for("x9.large", override_table) ==
        MaxPodsDecision{.value = 42, .source = "/etc/eks/eni-max-pods.txt", .fallback = false});
  // Types the override does not list still come from the built-in table.
  CHECK(max_pods_for("m4.xlarge", override_table) ==
        MaxPodsDecision{.value = 58, .source = "built-in table", .fallback = false});
  CHECK(max_pods_for("m5.8xlarge", std::nullopt) ==
        MaxPodsDecision{.value = 234, .source = "built-in table", .fallback = false});
}

TEST_CASE("a malformed override is ignored and its parse error is reported") {
  std::string error;
  auto d = max_pods_for("m5.large", std::string("m5.large 17\nbroken\n"), &error);
  CHECK(d == MaxPodsDecision{.value = 29, .source = "built-in table", .fallback = false});
  CHECK(error.starts_with("line 2: "));
  // Without an out-parameter the error is just dropped.
  CHECK(max_pods_for("m5.large", std::string("broken\n")).value == 29);
  // A well-formed override leaves the out-parameter alone.
  std::string untouched = "unchanged";
  (void)max_pods_for("m5.large", std::string("m5.large 17\n"), &untouched);
  CHECK(untouched == "unchanged");
}

TEST_CASE("a type in no table falls back to 110 with a warning due") {
  auto d = max_pods_for("x9.large", std::nullopt);
  CHECK(d == MaxPodsDecision{.value = 110, .source = "default", .fallback = true});
}

TEST_CASE("vcpus_from_size knows the regular sizes and refuses to guess the rest") {
  CHECK(vcpus_from_size("m5.large") == 2);
  CHECK(vcpus_from_size("m5.xlarge") == 4);
  CHECK(vcpus_from_size("m5.2xlarge") == 8);
  CHECK(vcpus_from_size("m5.8xlarge") == 32);
  CHECK(vcpus_from_size("c5.9xlarge") == 36);
  CHECK(vcpus_from_size("c6in.32xlarge") == 128);
  CHECK(vcpus_from_size("u-6tb1.112xlarge") == 448);
  CHECK(vcpus_from_size("m7i.metal-48xl") == 192);
  CHECK(vcpus_from_size("r8g.metal-24xl") == 96);
  for (const char* t :
       {"t3.nano", "t3.micro", "t3.small", "t3.medium", "m5.metal", "m5", "m5.", ".large",
        "m5.0xlarge", "m5.xxlarge", "m5.12345xlarge", "m7i.metal-xl", "hpc7a.12xlarge",
        "hpc6a.48xlarge", "c1.xlarge", "m2.4xlarge", "hs1.8xlarge"}) {
    CAPTURE(t);
    CHECK_FALSE(vcpus_from_size(t).has_value());
  }
}

namespace {

const NetworkingFacts kM5_8xlarge{.instance_type = "m5.8xlarge",
                                  .max_enis = 8,
                                  .ipv4_per_eni = 30,
                                  .hypervisor = "nitro",
                                  .bare_metal = false};
const NetworkingFacts kM4Xlarge{.instance_type = "m4.xlarge",
                                .max_enis = 4,
                                .ipv4_per_eni = 15,
                                .hypervisor = "xen",
                                .bare_metal = false};
const NetworkingFacts kC6in32xlarge{.instance_type = "c6in.32xlarge",
                                    .max_enis = 8,
                                    .ipv4_per_eni = 50,
                                    .hypervisor = "nitro",
                                    .bare_metal = false};

int calc(CalculatorInput in) {
  auto r = calculate_max_pods(in);
  REQUIRE(r.has_value());
  return *r;
}

}  // namespace

TEST_CASE("the calculator reproduces max-pods-calculator.sh's verified values") {
  CalculatorInput m5{.net = kM5_8xlarge, .vcpus = 32, .cni_version = Version{1, 11, 2}};
  CHECK(calc(m5) == 234);

  auto pd = m5;
  pd.prefix_delegation = true;
  CHECK(calc(pd) == 250);
  pd.show_max_allowed = true;
  CHECK(calc(pd) == 3714);

  auto old_pd = m5;
  old_pd.cni_version = Version{1, 8, 0};
  old_pd.prefix_delegation = true;
  CHECK(calc(old_pd) == 234);

  auto custom = m5;
  custom.custom_networking = true;
  CHECK(calc(custom) == 205);

  auto two_enis = m5;
  two_enis.max_eni = 2;
  CHECK(calc(two_enis) == 60);

  CalculatorInput m4{.net = kM4Xlarge, .vcpus = 4, .cni_version = Version{1, 7, 5}};
  CHECK(calc(m4) == 58);
  m4.prefix_delegation = true;
  m4.cni_version = Version{1, 18, 0};
  CHECK(calc(m4) == 58);  // Xen: prefix delegation does not apply

  CalculatorInput c6in{.net = kC6in32xlarge, .vcpus = 128, .cni_version = Version{1, 18, 0}};
  CHECK(calc(c6in) == 250);
  c6in.show_max_allowed = true;
  CHECK(calc(c6in) == 394);
}

TEST_CASE("prefix delegation starts at CNI 1.9.0") {
  CalculatorInput in{.net = kM5_8xlarge,
                     .vcpus = 32,
                     .cni_version = Version{1, 9, 0},
                     .prefix_delegation = true,
                     .show_max_allowed = true};
  CHECK(calc(in) == 3714);
  in.cni_version = Version{1, 8, 99};
  CHECK(calc(in) == 234);
  in.cni_version = Version{2, 0, 0};
  CHECK(calc(in) == 3714);
}

TEST_CASE("the cap is 110 up to 30 vCPUs and 250 above") {
  CalculatorInput in{.net = kC6in32xlarge, .vcpus = 30, .cni_version = Version{1, 18, 0}};
  CHECK(calc(in) == 110);
  in.vcpus = 31;
  CHECK(calc(in) == 250);
  // Below the cap the formula's value stands.
  in.net = kM4Xlarge;
  CHECK(calc(in) == 58);
}

TEST_CASE("--cni-max-eni larger than the instance's ENIs changes nothing") {
  CalculatorInput in{.net = kM5_8xlarge, .vcpus = 32, .cni_version = Version{1, 11, 2}};
  in.max_eni = 100;
  CHECK(calc(in) == 234);
}

TEST_CASE("custom networking with a single usable ENI leaves only host-network pods") {
  CalculatorInput in{.net = kM5_8xlarge,
                     .vcpus = 32,
                     .cni_version = Version{1, 11, 2},
                     .custom_networking = true,
                     .max_eni = 1};
  CHECK(calc(in) == 2);
}

TEST_CASE("the calculator reports what it cannot compute as Invalid") {
  CalculatorInput no_vcpus{.net = kM5_8xlarge, .cni_version = Version{1, 11, 2}};
  auto r = calculate_max_pods(no_vcpus);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Invalid);
  CHECK(r.error().message.find("vCPU") != std::string::npos);
  // --show-max-allowed needs no vCPU count.
  no_vcpus.show_max_allowed = true;
  CHECK(calc(no_vcpus) == 234);

  CalculatorInput zero{.net = NetworkingFacts{.instance_type = "x.large"},
                       .vcpus = 2,
                       .cni_version = Version{1, 11, 2}};
  CHECK(calculate_max_pods(zero).error().code == Errc::Invalid);

  CalculatorInput bad_max{.net = kM5_8xlarge, .vcpus = 32, .cni_version = Version{1, 11, 2}};
  bad_max.max_eni = 0;
  auto e = calculate_max_pods(bad_max);
  REQUIRE_FALSE(e.has_value());
  CHECK(e.error().message.find("--cni-max-eni") != std::string::npos);
}
