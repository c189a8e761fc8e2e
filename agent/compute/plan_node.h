// plan_node: the whole bootstrap computation, (NodeConfig, Facts) -> Plan. Pure: no I/O, no
// clock, no logging. The node's settings are decided once (node_settings.h), then rendered by the
// layout of Facts::platform: al2_layout.h (bootstrap.sh's files) or al2023_layout.h (nodeadm's).
#pragma once
#include <optional>
#include <string>

#include "agent/model/facts.h"
#include "agent/model/node_config.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

// Node paths the plan writes (the AL2 layout).
inline constexpr const char* kKubeletConfigPath = "/etc/kubernetes/kubelet/kubelet-config.json";
inline constexpr const char* kCaPath = "/etc/kubernetes/pki/ca.crt";
inline constexpr const char* kKubeconfigPath = "/var/lib/kubelet/kubeconfig";
inline constexpr const char* kBootstrapKubeconfigPath = "/var/lib/kubelet/bootstrap-kubeconfig";
inline constexpr const char* kCredentialProviderPath = "/etc/eks/image-credential-provider/config.json";
inline constexpr const char* kKubeletUnitPath = "/etc/systemd/system/kubelet.service";
inline constexpr const char* kKubeletArgsDropin = "/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf";
inline constexpr const char* kKubeletExtraArgsDropin = "/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf";
inline constexpr const char* kContainerdConfigPath = "/etc/containerd/config.toml";
inline constexpr const char* kBpfMountUnitPath = "/etc/systemd/system/sys-fs-bpf.mount";
inline constexpr const char* kEtcHostsPath = "/etc/hosts";
inline constexpr const char* kKubeletVersionPath = "/etc/eks/kubelet-version.txt";
inline constexpr const char* kEniMaxPodsPath = "/etc/eks/eni-max-pods.txt";
// nodeadm's path for spec.instance.network (under /run: rewritten every boot).
inline constexpr const char* kResolvedDropinPath = "/run/systemd/resolved.conf.d/40-eks.conf";
inline constexpr const char* kResolvedUnit = "systemd-resolved.service";

// Host part of an endpoint URL: https://HOST[:port]/path -> HOST; [v6]:port -> v6. Used by gather
// (to resolve it) and by plan_node (the /etc/hosts entries), so both agree on the name.
std::string endpoint_host(const std::string& endpoint);

// Shared by both layouts. The /etc/hosts file of a local Outpost cluster: the agent's marked block
// with the API host's addresses (nullopt and a warning when it did not resolve).
std::optional<FileWrite> outpost_hosts_file(const NodeConfig& config, const Facts& facts, Plan& plan);
// spec.instance.network: nodeadm's systemd-resolved drop-in (a warning where systemd-resolved is
// not installed), or its removal once the setting is gone. Errors: Invalid for a value with
// whitespace.
Status add_resolved_dropin(const NodeConfig& config, const Facts& facts, Plan& plan);

// Errors: Invalid (missing endpoint/CA, bad base64 CA, DNS rule violations, no node IP, a bad
// --max-pods in the extra args), Parse (malformed kubelet-config.json or containerd TOML),
// Unsupported (--local-disks setup on a node that has instance-store disks).
Result<Plan> plan_node(const NodeConfig& config, const Facts& facts);

}  // namespace agent::compute
