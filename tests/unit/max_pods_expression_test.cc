// spec.kubelet.maxPodsExpression: nodeadm's own test vectors (reference nodeadm.md), then the
// corners of the CEL subset.
#include "agent/compute/max_pods_expression.h"

#include <doctest/doctest.h>

#include <string>

namespace c = agent::compute;

namespace {

agent::Result<int> eval(const char* e, std::int64_t enis, std::int64_t ips, std::int64_t max_pods) {
  return c::evaluate_max_pods_expression(e, {.default_enis = enis, .ips_per_eni = ips, .max_pods = max_pods});
}

std::string error_of(const char* e, std::int64_t enis = 3, std::int64_t ips = 6, std::int64_t max_pods = 17) {
  auto r = eval(e, enis, ips, max_pods);
  REQUIRE_FALSE(r);
  return r.error().message;
}

}  // namespace

TEST_CASE("maxPodsExpression: nodeadm's vectors") {
  CHECK(*eval("417", 3, 6, 17) == 417);
  CHECK(*eval("(default_enis * ((ips_per_eni - 1) * 16)) + 2", 3, 6, 17) == 242);
  CHECK(*eval("((default_enis - 1) * (ips_per_eni - 1)) + 2", 3, 6, 17) == 12);
  CHECK(*eval("max_pods < 30 ? max_pods : 30", 3, 6, 35) == 30);
  CHECK(*eval("max_pods", 3, 6, 7) == 7);
  CHECK(*eval("max_pods + 2", 3, 6, 7) == 9);
  CHECK(*eval("(default_enis * ((ips_per_eni - 1) * 16)) + 2 > 30 ? 30 : (default_enis * ((ips_per_eni - 1) * 16)) + 2",
              3, 6, 17) == 30);
  CHECK(error_of("default_enis + fake_variable").find("failed to compile custom max pods expression") == 0);
  CHECK(error_of("default_enis * 2", 2147483647).find("value must be a positive integer less than 2147483647") !=
        std::string::npos);
  CHECK(error_of("max_pods - 17") ==
        "max pods value 0 from custom expression evaluation is invalid: value must be a positive integer less than "
        "2147483647");
  CHECK(error_of("max_pods - 2", 3, 6, 1).find("max pods value -1 ") == 0);
  CHECK(error_of("true") ==
        "could not interpret result \"true\" from evaluation of custom max pods expression as an integer: type "
        "conversion error from 'bool' to 'int'");
}

TEST_CASE("maxPodsExpression: precedence, short circuit and the errors of the subset") {
  CHECK(*eval("2 + 3 * 4", 0, 0, 0) == 14);
  CHECK(*eval("(2 + 3) * 4", 0, 0, 0) == 20);
  CHECK(*eval("20 - 4 - 3", 0, 0, 0) == 13);  // left to right
  CHECK(*eval("17 / 5 + 17 % 5", 0, 0, 0) == 5);
  CHECK(*eval("-3 + 10", 0, 0, 0) == 7);
  CHECK(*eval("max_pods > 10 && max_pods <= 20 ? 1 : 2", 0, 0, 15) == 1);
  CHECK(*eval("!(max_pods == 15) || false ? 1 : 2", 0, 0, 15) == 2);
  CHECK(*eval("true ? 1 : false ? 2 : 3", 0, 0, 0) == 1);  // right-associative
  CHECK(*eval("false || max_pods != 3 ? 4 : 5", 0, 0, 3) == 5);
  // Short circuit: the division by zero on the right is never evaluated.
  CHECK(*eval("false && 1 / 0 == 1 ? 1 : 2", 0, 0, 0) == 2);
  CHECK(error_of("10 / (max_pods - 17)").find("division by zero") != std::string::npos);
  CHECK(error_of("9223372036854775807 + 1").find("overflow") != std::string::npos);
  CHECK(error_of("1 +").find("failed to compile") == 0);
  CHECK(error_of("(1 + 2").find("expected ')'") != std::string::npos);
  CHECK(error_of("1 ? 2 : 3").find("no such overload") != std::string::npos);
  CHECK(error_of("size(\"x\")").find("failed to compile") == 0);
  CHECK(error_of("max_pods = 3").find("failed to compile") == 0);
  // An undeclared name in a branch never taken is still a compile error.
  CHECK(error_of("true ? 1 : nope").find("undeclared reference to 'nope'") != std::string::npos);
}
