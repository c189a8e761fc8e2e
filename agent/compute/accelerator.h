// Accelerator detection from the PCI attributes sysfs exposes. Pure: gather reads
// /sys/bus/pci/devices/*/{vendor,class} under the root and hands the strings to these functions.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

namespace agent::compute {

// Where gather looks (node paths, resolved under the root).
inline constexpr const char* kPciDevicesDir = "/sys/bus/pci/devices";
// The NVIDIA container runtime shim containerd runs GPU pods with (NVIDIA container toolkit).
// nodeadm switches containerd's default runtime to it exactly when this file exists.
inline constexpr const char* kNvidiaRuntimePath = "/usr/bin/nvidia-container-runtime";

inline constexpr unsigned kPciVendorNvidia = 0x10de;
inline constexpr unsigned kPciBaseClassDisplay = 0x03;  // VGA 0x0300, 3D 0x0302, other 0x0380

// Parses a sysfs hex attribute as the kernel prints it ("0x10de\n", "0x030200\n"): optional
// surrounding whitespace, an optional 0x/0X prefix, 1 to 8 hex digits. nullopt for anything else.
std::optional<unsigned> parse_sysfs_hex(std::string_view text);

// True when a PCI function whose `vendor` and `class` attributes hold these texts is an NVIDIA GPU:
// vendor 0x10de and base class 0x03 (display controller). Other NVIDIA functions on the same card
// (HDMI audio 0x0403, USB 0x0c03, bridges 0x0604), other vendors' GPUs and unparsable attributes
// are not.
bool is_nvidia_gpu(std::string_view vendor, std::string_view pci_class);

// One entry of /sys/bus/pci/devices: its name (the PCI address) and the raw attribute texts
// (empty when unreadable).
struct PciFunction {
  std::string address;    // e.g. "0000:00:06.0"
  std::string vendor;     // contents of .../vendor
  std::string pci_class;  // contents of .../class
  bool operator==(const PciFunction&) const = default;
};

// The addresses of the NVIDIA GPUs among `functions`, sorted, without duplicates.
std::vector<std::string> nvidia_gpu_addresses(const std::vector<PciFunction>& functions);

}  // namespace agent::compute
