#include "tests/support/fake_sysfs.h"

#include <fmt/format.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

namespace agent::testing {

std::vector<PciEntry> h100_fixture_bus() {
  const std::string path = std::string(AGENT_SOURCE_DIR) + "/tests/support/h100-node.txt";
  std::ifstream in(path);
  if (!in) {
    std::fprintf(stderr, "cannot read %s\n", path.c_str());
    std::abort();
  }
  std::vector<PciEntry> out;
  std::string line;
  bool in_section = false;
  while (std::getline(in, line)) {
    if (line.rfind("## ", 0) == 0) {
      in_section = line.rfind("## /sys/bus/pci/devices", 0) == 0;
      continue;
    }
    if (!in_section || line.empty()) continue;
    // "ADDR vendor=0x.. device=0x.. class=0x.. driver=.. numa=.."
    std::istringstream words(line);
    PciEntry e;
    words >> e.address;
    for (std::string w; words >> w;) {
      const auto eq = w.find('=');
      if (eq == std::string::npos) continue;
      const std::string key = w.substr(0, eq);
      const std::string value = w.substr(eq + 1);
      if (key == "vendor") e.vendor = value;
      if (key == "device") e.device = value;
      if (key == "class") e.pci_class = value;
    }
    out.push_back(e);
  }
  return out;
}

std::vector<PciEntry> with_more_h100s(std::vector<PciEntry> bus, int count) {
  for (int i = 0; i < count; ++i) {
    bus.push_back({fmt::format("0000:00:{:02x}.0", 7 + i), "0x10de", "0x2330", "0x030200"});
  }
  return bus;
}

void put_pci_bus(MemRootFs& fs, const std::vector<PciEntry>& bus) {
  for (const auto& e : bus) {
    const std::string dir = "/sys/devices/pci0000:00/" + e.address;
    fs.put(dir + "/vendor", e.vendor + "\n");
    fs.put(dir + "/device", e.device + "\n");
    fs.put(dir + "/class", e.pci_class + "\n");
    fs.put_symlink("../../../devices/pci0000:00/" + e.address, "/sys/bus/pci/devices/" + e.address);
  }
}

}  // namespace agent::testing
