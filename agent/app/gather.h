// gather: the only code that reads the world (IMDS, the root filesystem, kubelet --version, DNS)
// into an immutable Facts value. It reads only what the NodeConfig makes necessary.
#pragma once
#include <functional>
#include <string>
#include <vector>

#include "agent/model/facts.h"
#include "agent/model/node_config.h"
#include "agent/model/result.h"
#include "agent/ports/command_runner.h"
#include "agent/ports/imds.h"
#include "agent/ports/root_fs.h"

namespace agent::app {

// Resolves a host name to its addresses (empty when it does not resolve).
using Resolver = std::function<std::vector<std::string>(const std::string& host)>;

struct GatherPorts {
  Imds& imds;
  const RootFsReader& fs;
  CommandRunner& commands;
  Resolver resolve;
  int host_vcpus = 0;  // fallback when the root has no /sys/devices/system/cpu/online
};

// IMDS in three round trips at most: token, then every MAC-independent path at once, then the
// MAC-dependent paths this config needs. Errors: IMDS errors wrapped with the path (Unavailable,
// Timeout, Denied, NotFound for a required path), NotFound when no kubelet version can be found,
// Invalid for an unreadable --containerd-config-file.
Result<Facts> gather(const NodeConfig& config, const GatherPorts& ports);

// NVIDIA GPUs on the PCI bus (/sys/bus/pci/devices/*/{vendor,class} under the root) and whether
// the NVIDIA container runtime is installed. No sysfs (an image root) means no GPUs; a device whose
// attributes cannot be read is skipped. Never fails; runs no program.
AcceleratorFacts gather_accelerators(const RootFsReader& fs);

// Counts CPUs in a sysfs cpu list such as "0-3,8,10-11" (0 if malformed).
int count_cpu_list(std::string_view list);

}  // namespace agent::app
