#include "agent/compute/accelerator.h"

#include <algorithm>
#include <cctype>

namespace agent::compute {

std::optional<unsigned> parse_sysfs_hex(std::string_view text) {
  auto space = [](char c) { return std::isspace(static_cast<unsigned char>(c)) != 0; };
  while (!text.empty() && space(text.front())) text.remove_prefix(1);
  while (!text.empty() && space(text.back())) text.remove_suffix(1);
  if (text.size() >= 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X'))
    text.remove_prefix(2);
  if (text.empty() || text.size() > 8) return std::nullopt;
  unsigned value = 0;
  for (char c : text) {
    const auto u = static_cast<unsigned char>(c);
    if (!std::isxdigit(u)) return std::nullopt;
    const unsigned digit = std::isdigit(u) ? u - '0' : (std::tolower(u) - 'a' + 10u);
    value = value * 16 + digit;
  }
  return value;
}

bool is_nvidia_gpu(std::string_view vendor, std::string_view pci_class) {
  const auto v = parse_sysfs_hex(vendor);
  const auto c = parse_sysfs_hex(pci_class);
  // The class attribute is 24 bits: base class, subclass, programming interface.
  if (!v || !c || *v != kPciVendorNvidia || *c > 0xffffff) return false;
  return (*c >> 16) == kPciBaseClassDisplay;
}

std::vector<std::string> nvidia_gpu_addresses(const std::vector<PciFunction>& functions) {
  std::vector<std::string> out;
  for (const auto& f : functions) {
    if (is_nvidia_gpu(f.vendor, f.pci_class)) out.push_back(f.address);
  }
  std::sort(out.begin(), out.end());
  out.erase(std::unique(out.begin(), out.end()), out.end());
  return out;
}

}  // namespace agent::compute
