// Fake sysfs PCI trees for accelerator tests, built from a real node's PCI bus
// (tests/support/h100-node.txt: one NVIDIA H100 among virtio devices, copied from
// shared/data/fixtures/h100-node.txt).
#pragma once
#include <string>
#include <vector>

#include "tests/support/mem_root_fs.h"

namespace agent::testing {

struct PciEntry {
  std::string address;    // "0000:00:06.0"
  std::string vendor;     // "0x10de"
  std::string device;     // "0x2330"
  std::string pci_class;  // "0x030200"
};

// The "## /sys/bus/pci/devices/*" section of h100-node.txt, in file order. Aborts the test
// binary (a broken checkout, not a test failure) when the file cannot be read.
std::vector<PciEntry> h100_fixture_bus();

// `bus` plus `count` more H100s (vendor 0x10de, device 0x2330, class 0x030200) in the slots after
// the fixture's GPU, 0000:00:07.0 onwards, as on a multi-GPU instance.
std::vector<PciEntry> with_more_h100s(std::vector<PciEntry> bus, int count);

// Lays out `bus` as the kernel does: vendor/device/class files (each ending in a newline) under
// /sys/devices/pci0000:00/ADDR and a relative symlink to that directory in /sys/bus/pci/devices.
void put_pci_bus(MemRootFs& fs, const std::vector<PciEntry>& bus);

}  // namespace agent::testing
