// Facts: everything gather read from the world, as one immutable value. compute never reads
// anything else. Optional fields are "absent" (IMDS 404, file missing), not errors.
#pragma once
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/aws_types.h"
#include "agent/model/node_config.h"
#include "agent/model/version.h"

namespace agent {

struct InstanceFacts {
  std::string region;             // dynamic/instance-identity/document .region
  std::string domain;             // meta-data/services/domain, e.g. amazonaws.com
  std::string instance_id;
  std::string instance_type;
  std::string availability_zone;
  std::string local_hostname;     // meta-data/local-hostname
  std::string local_ipv4;
  std::string mac;
  std::vector<std::string> ipv6s;          // macs/<mac>/ipv6s (empty when absent)
  std::vector<std::string> vpc_ipv4_cidrs;  // macs/<mac>/vpc-ipv4-cidr-blocks
  bool operator==(const InstanceFacts&) const = default;
};

// Accelerators found in sysfs and the container runtime that can drive them.
struct AcceleratorFacts {
  int nvidia_gpus = 0;                            // PCI functions: vendor 0x10de, class 0x03xxxx
  std::vector<std::string> nvidia_pci_addresses;  // their PCI addresses, sorted
  bool nvidia_runtime_installed = false;          // /usr/bin/nvidia-container-runtime exists
  bool operator==(const AcceleratorFacts&) const = default;
};

struct Facts {
  Platform platform = Platform::Al2;  // the layout to write (NodeConfig::platform, else the image)
  InstanceFacts instance;
  Version kubelet_version;
  std::string kubelet_version_source;  // "/etc/eks/kubelet-version.txt" or "kubelet --version"
  int vcpus = 0;
  // Current contents of files compute patches or consults (nullopt: absent).
  std::optional<std::string> kubelet_config;         // /etc/kubernetes/kubelet/kubelet-config.json
  std::optional<std::string> eni_max_pods_override;  // /etc/eks/eni-max-pods.txt
  std::optional<std::string> containerd_config_user; // contents of --containerd-config-file
  std::optional<std::string> credential_provider_config;  // /etc/eks/image-credential-provider/config.json
  bool kubelet_unit_present = false;   // /etc/systemd/system/kubelet.service exists
  bool resolved_unit_present = false;  // systemd-resolved.service is installed
  bool kubelet_config_dropin_present = false;  // the agent's kubelet config drop-in exists
  bool bpf_mounted = false;            // a bpf filesystem is mounted at /sys/fs/bpf
  bool bpf_unit_present = false;       // /etc/systemd/system/sys-fs-bpf.mount exists
  // AL2023 only: the image credential provider binary ($ECR_CREDENTIAL_PROVIDER_BIN_PATH, else
  // nodeadm's path) and whether it exists; whether nodeadm's 40-nodeadm.conf drop-in exists.
  std::string credential_provider_bin;
  bool credential_provider_bin_present = false;
  bool nodeadm_dropin_present = false;
  bool pause_tar_present = false;              // /etc/eks/pause.tar (SOCI imports it after containerd starts)
  unsigned long long online_memory_bytes = 0;  // memory block size x online blocks (SOCI's threshold)
  bool fips_ecr_endpoint = false;      // FIPS mode on and the ecr-fips host resolves
  std::vector<std::string> outpost_host_addresses;  // resolved API host (outpost only)
  std::optional<std::string> etc_hosts;              // /etc/hosts (outpost only)
  AcceleratorFacts accelerators;
  std::optional<std::string> containerd_version;     // /etc/eks/containerd-version.txt, trimmed

  // AWS API answers, each asked for only when needed (README "AWS API fallbacks").
  std::optional<ClusterInfo> cluster;               // EKS DescribeCluster: endpoint or CA missing
  std::optional<InstanceTypeInfo> instance_type_info;  // EC2 DescribeInstanceTypes: type in no table
  std::string instance_type_lookup_error;           // why that lookup gave nothing ("" if not tried)
  std::optional<std::string> ec2_private_dns_name;  // EC2 DescribeInstances: --hostname-source ec2

  bool operator==(const Facts&) const = default;
};

void to_json(nlohmann::json& j, const Facts& f);

}  // namespace agent
