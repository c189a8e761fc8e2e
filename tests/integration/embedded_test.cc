#include <doctest/doctest.h>

#include "agent/model/embedded.h"

TEST_CASE("the binary embeds the max-pods table and default configs") {
  CHECK(agent::embedded::file("data/eni-max-pods.txt").find("m5.large 29") != std::string_view::npos);
  CHECK(agent::embedded::file("config/kubelet.service").find("[Service]") != std::string_view::npos);
}
