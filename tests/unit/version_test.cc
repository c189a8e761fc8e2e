#include <doctest/doctest.h>

#include "agent/model/version.h"

using agent::parse_version;
using agent::Version;

TEST_CASE("kubelet version strings parse to major.minor.patch") {
  CHECK(parse_version("Kubernetes v1.23.9-eks-ba74326") == Version{1, 23, 9});
  CHECK(parse_version("v1.30.0") == Version{1, 30, 0});
  CHECK(parse_version("1.29\n") == Version{1, 29, 0});
  CHECK_FALSE(parse_version("no version here").has_value());
  CHECK(Version{1, 27, 0} > Version{1, 26, 99});
}
