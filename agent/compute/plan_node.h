// plan_node: the whole bootstrap computation, (NodeConfig, Facts) -> Plan. Pure: no I/O, no
// clock, no logging. Everything bootstrap.sh computed (reference sections 3.1-3.13) is here.
#pragma once
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

// Host part of an endpoint URL: https://HOST[:port]/path -> HOST; [v6]:port -> v6. Used by gather
// (to resolve it) and by plan_node (the /etc/hosts entries), so both agree on the name.
std::string endpoint_host(const std::string& endpoint);

// Errors: Invalid (missing endpoint/CA, bad base64 CA, DNS rule violations, no node IP, a bad
// --max-pods in the extra args), Parse (malformed kubelet-config.json or containerd TOML),
// Unsupported (--local-disks setup on a node that has instance-store disks).
Result<Plan> plan_node(const NodeConfig& config, const Facts& facts);

}  // namespace agent::compute
