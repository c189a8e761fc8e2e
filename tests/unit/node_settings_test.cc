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
