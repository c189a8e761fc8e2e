// Accelerator detection on the raw sysfs attribute texts (compute/accelerator.h).
#include "agent/compute/accelerator.h"

#include <doctest/doctest.h>

using agent::compute::is_nvidia_gpu;
using agent::compute::nvidia_gpu_addresses;
using agent::compute::parse_sysfs_hex;
using agent::compute::PciFunction;

TEST_CASE("sysfs hex attributes parse as the kernel prints them") {
  CHECK(parse_sysfs_hex("0x10de\n") == 0x10deu);
  CHECK(parse_sysfs_hex("0x030200\n") == 0x030200u);
  CHECK(parse_sysfs_hex("0X10DE") == 0x10deu);
  CHECK(parse_sysfs_hex("  10de  ") == 0x10deu);
  CHECK(parse_sysfs_hex("0xffffffff") == 0xffffffffu);
  CHECK_FALSE(parse_sysfs_hex(""));
  CHECK_FALSE(parse_sysfs_hex("0x"));
  CHECK_FALSE(parse_sysfs_hex("\n"));
  CHECK_FALSE(parse_sysfs_hex("0x10dg"));
  CHECK_FALSE(parse_sysfs_hex("0x1ffffffff"));  // more than 32 bits
  CHECK_FALSE(parse_sysfs_hex("-0x10de"));
  CHECK_FALSE(parse_sysfs_hex("0x10 de"));
}

TEST_CASE("an NVIDIA function counts as a GPU only with a display-controller class") {
  struct Case {
    const char* vendor;
    const char* pci_class;
    bool gpu;
    const char* what;
  };
  const Case cases[] = {
      {"0x10de\n", "0x030200\n", true, "3D controller (H100, A100, T4)"},
      {"0x10de\n", "0x030000\n", true, "VGA controller (A10G, L4 as VGA)"},
      {"0x10de\n", "0x038000\n", true, "other display controller"},
      {"0x10de\n", "0x040300\n", false, "HD audio function of a GPU card"},
      {"0x10de\n", "0x0c0330\n", false, "USB controller of a GPU card"},
      {"0x10de\n", "0x068000\n", false, "NVSwitch bridge"},
      {"0x1002\n", "0x030000\n", false, "AMD GPU"},
      {"0x8086\n", "0x030000\n", false, "Intel GPU"},
      {"0x1d0f\n", "0x030200\n", false, "another vendor's 3D controller"},
      {"0x10de\n", "", false, "unreadable class"},
      {"", "0x030200\n", false, "unreadable vendor"},
      {"0x10de\n", "garbage", false, "malformed class"},
      {"0x10de\n", "0x03000000", false, "class wider than 24 bits"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    CHECK(is_nvidia_gpu(c.vendor, c.pci_class) == c.gpu);
  }
}

TEST_CASE("GPU addresses come out sorted, de-duplicated and without non-GPU functions") {
  // The H100 fixture's bus (shared/data/fixtures/h100-node.txt) plus a second card's audio
  // function.
  const std::vector<PciFunction> h100 = {
      {"0000:00:00.0", "0x8086\n", "0x060000\n"}, {"0000:00:01.0", "0x1af4\n", "0x018000\n"},
      {"0000:00:03.0", "0x1af4\n", "0x020000\n"}, {"0000:00:04.0", "0x1af4\n", "0xffff00\n"},
      {"0000:00:06.0", "0x10de\n", "0x030200\n"},
  };
  CHECK(nvidia_gpu_addresses(h100) == std::vector<std::string>{"0000:00:06.0"});

  std::vector<PciFunction> several = {
      {"0000:00:1f.0", "0x10de\n", "0x030200\n"}, {"0000:00:1d.0", "0x10de\n", "0x030000\n"},
      {"0000:00:1d.1", "0x10de\n", "0x040300\n"}, {"0000:00:1e.0", "0x10de\n", "0x030200\n"},
      {"0000:00:1e.0", "0x10de\n", "0x030200\n"},
  };
  CHECK(nvidia_gpu_addresses(several) ==
        std::vector<std::string>{"0000:00:1d.0", "0000:00:1e.0", "0000:00:1f.0"});
  CHECK(nvidia_gpu_addresses({}).empty());
  CHECK(nvidia_gpu_addresses({{"0000:00:1d.1", "0x10de\n", "0x040300\n"}}).empty());
}
