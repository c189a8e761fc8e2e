#include "agent/compute/node_settings.h"

#include <doctest/doctest.h>

using agent::Platform;
using agent::compute::platform_for;

TEST_CASE("the platform comes from --platform, else from os-release") {
  const std::string al2023 = "NAME=\"Amazon Linux\"\nVERSION=\"2023\"\nID=\"amzn\"\nID_LIKE=\"fedora\"\nVERSION_ID=\"2023\"\n";
  const std::string al2 = "NAME=\"Amazon Linux\"\nVERSION=\"2\"\nID=\"amzn\"\nVERSION_ID=\"2\"\n";
  const std::string debian = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nID=debian\nVERSION_ID=\"12\"\n";
  CHECK(platform_for(std::nullopt, al2023) == Platform::Al2023);
  CHECK(platform_for(std::nullopt, al2) == Platform::Al2);
  CHECK(platform_for(std::nullopt, debian) == Platform::Al2);
  CHECK(platform_for(std::nullopt, std::nullopt) == Platform::Al2);
  CHECK(platform_for(Platform::Al2, al2023) == Platform::Al2);
  CHECK(platform_for(Platform::Al2023, debian) == Platform::Al2023);
  // Unquoted values, CRLF, and a key that only starts like ID are read right.
  CHECK(platform_for(std::nullopt, "IDX=amzn\r\nID=amzn\r\nVERSION_ID=2023\r\n") == Platform::Al2023);
  CHECK(platform_for(std::nullopt, "ID=amzn\nVERSION_ID=2023.6\n") == Platform::Al2023);
  CHECK(platform_for(std::nullopt, "ID=fedora\nVERSION_ID=2023\n") == Platform::Al2);
}

#include "agent/model/facts.h"

TEST_CASE("a kubelet newer than the agent knows is a warning, not a failure") {
  agent::NodeConfig c;
  c.cluster_name = "c";
  c.apiserver_endpoint = "https://x.example.com";
  c.b64_cluster_ca = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCg==";
  c.service_ipv4_cidr = "10.100.0.0/16";
  agent::Facts f;
  f.instance = {.region = "us-west-2", .domain = "amazonaws.com", .instance_id = "i-1", .instance_type = "m5.large",
                .availability_zone = "us-west-2a", .local_hostname = "ip-10-0-0-1.us-west-2.compute.internal",
                .local_ipv4 = "10.0.0.1"};
  f.vcpus = 2;
  auto warned = [&](agent::Version v) {
    f.kubelet_version = v;
    auto s = agent::compute::node_settings_for(c, f);
    REQUIRE(s.has_value());
    for (const auto& d : s->diagnostics) {
      if (d.id == "KUBELET_VERSION_UNKNOWN") return true;
    }
    return false;
  };
  CHECK_FALSE(warned({1, 35, 4}));
  CHECK_FALSE(warned({1, 23, 17}));
  CHECK(warned({1, 36, 0}));
  CHECK(warned({2, 0, 0}));
}
