// gather: the only code that reads the world (IMDS, the root filesystem, kubelet --version, DNS)
// into an immutable Facts value. It reads only what the NodeConfig makes necessary.
#pragma once
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "agent/model/facts.h"
#include "agent/model/node_config.h"
#include "agent/model/result.h"
#include "agent/ports/aws_api.h"
#include "agent/ports/cancel.h"
#include "agent/ports/clock.h"
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
  // AWS API fallbacks (null: none are made). With `aws`, `clock` is required; `deadline` bounds
  // every call and wait.
  AwsApi* aws = nullptr;
  Clock* clock = nullptr;
  const CancelToken* cancel = nullptr;
  std::chrono::steady_clock::time_point deadline{};
  // How long EC2's PrivateDnsName is waited for (0: AwsContext's attempt count, bootstrap.sh's 20
  // tries; nodeadm's flow: its 10 minutes).
  std::chrono::seconds private_dns_wait{0};
};

// What an earlier run already learnt and this one need not ask again: nodeadm's config cache
// keeps EC2's PrivateDnsName, so an unchanged NodeConfig names the node without an EC2 call.
struct KnownFacts {
  std::optional<std::string> ec2_private_dns_name;
};

// IMDS in three round trips at most: token, then every MAC-independent path at once, then the
// MAC-dependent paths this config needs. Then, with `ports.aws` and only when needed, the AWS API
// fallbacks (README "AWS API fallbacks"): EKS DescribeCluster when the endpoint or the CA is
// missing (waiting for an ACTIVE cluster; the answer completes the config for the rest of gather
// as compute::with_cluster does for plan_node), EC2 DescribeInstances with --hostname-source ec2,
// EC2 DescribeInstanceTypes for an instance type no table knows (its failure is not fatal: it is
// recorded in Facts and max pods falls back to 110). Errors: IMDS errors wrapped with the path
// (Unavailable, Timeout, Denied, NotFound for a required path), NotFound when no kubelet version
// can be found, Invalid for an unreadable --containerd-config-file, AwsApi from DescribeCluster and
// DescribeInstances, Interrupted.
// `known` values are taken as they are (a known PrivateDnsName: EC2 DescribeInstances is not asked).
Result<Facts> gather(const NodeConfig& config, const GatherPorts& ports, const KnownFacts& known = {});

// Only what decides SOCI and its pause image import (vcpus, online_memory_bytes, pause_tar_present),
// for nodeadm's run phase when it runs without the config phase: no IMDS, no commands.
Facts gather_soci_facts(const RootFsReader& fs, int host_vcpus);

// NVIDIA GPUs on the PCI bus (/sys/bus/pci/devices/*/{vendor,class} under the root) and whether
// the NVIDIA container runtime is installed. No sysfs (an image root) means no GPUs; a device whose
// attributes cannot be read is skipped. Never fails; runs no program.
AcceleratorFacts gather_accelerators(const RootFsReader& fs);

// Counts CPUs in a sysfs cpu list such as "0-3,8,10-11" (0 if malformed).
int count_cpu_list(std::string_view list);

}  // namespace agent::app
