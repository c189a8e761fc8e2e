// The kubelet-side files of the AL2023 (nodeadm) layout, rendered from plain values, byte for byte
// as nodeadm writes them (reference nodeadm.md 3.3, 3.5-3.8) except where a comment names a
// deliberate difference (README "AL2023"). Pure: no I/O, no Facts or NodeConfig.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute::al2023 {

inline constexpr const char* kKubeletConfigPath = "/etc/kubernetes/kubelet/config.json";
inline constexpr const char* kKubeletConfigDir = "/etc/kubernetes/kubelet/config.json.d";
inline constexpr const char* kKubeletDropinPath = "/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf";
inline constexpr const char* kKubeletEnvironmentPath = "/etc/eks/kubelet/environment";
inline constexpr const char* kKubeletUnitPath = "/etc/systemd/system/kubelet.service";
inline constexpr const char* kCredentialProviderBin = "/etc/eks/image-credential-provider/ecr-credential-provider";
inline constexpr const char* kCredentialProviderConfig = "/etc/eks/image-credential-provider/config.json";
inline constexpr const char* kDefaultEnvironmentPath = "/etc/systemd/system.conf.d/environment.conf";
inline constexpr const char* kSociImageEndpoint = "unix:///run/soci-snapshotter-grpc/soci-snapshotter-grpc.sock";

struct KubeletBaseInput {
  std::vector<std::string> cluster_dns;             // ["10.100.0.10"]
  std::optional<int> max_pods;                      // nullopt: left out (--use-max-pods false)
  std::optional<std::string> kube_reserved_cpu;     // "70m"; kubeReserved is left out unless both set
  std::optional<std::string> kube_reserved_memory;  // "893Mi"
  bool reserved_cgroups = true;                     // kube/systemReservedCgroup (off with --reserved-cpus)
  std::string provider_id;                          // "aws:///us-west-2f/i-..."; empty: left out
  Version kubelet;
  bool soci = false;                                // imageServiceEndpoint = the SOCI socket
};

// /etc/kubernetes/kubelet/config.json: nodeadm's fields in its order, maps sorted, 4-space JSON,
// no trailing newline. Version gates: DynamicResourceAllocation from 1.33; MutableCSINode-
// AllocatableCount and shutdownGracePeriod 2m30s / 30s from 1.34.
std::string kubelet_base_config(const KubeletBaseInput& in);

// kubelet reads --config-dir from 1.28 (alpha below 1.30). Older kubelets get the user's
// kubelet.config merged into config.json instead (nodeadm supports no kubelet that old).
bool kubelet_reads_config_dir(const Version& kubelet);

// config.json with the user's kubelet.config merged over it (objects recurse, arrays and values
// replaced; new keys last), for kubelets without --config-dir.
std::string kubelet_base_config_with_user(const KubeletBaseInput& in, const nlohmann::json& user_config);

// 40-nodeadm.conf: {"kind", "apiVersion"} with the user's kubelet.config merged over them
// (objects recurse, arrays and scalars replaced), sorted keys, 4-space Go JSON, no trailing newline.
std::string kubelet_config_dropin(const nlohmann::json& user_config);

struct KubeletFlagsInput {
  std::string node_ip;
  std::optional<std::string> hostname_override;  // nullopt: the user's flags set it
  bool user_config = false;                      // kubelet.config non-empty: --config-dir
  bool outpost = false;                          // the bootstrap kubeconfig as well
  Version kubelet;
  bool nvidia_gpu = false;                       // from 1.35: --node-labels=nvidia.com/gpu.present=true
  std::string credential_provider_bin = kCredentialProviderBin;
};

// The flags nodeadm passes to kubelet (3.6.2) as (name without "--", value), in a fixed order;
// --config-dir only when the kubelet reads it; below 1.27 --container-runtime-endpoint (and below
// 1.24 --container-runtime=remote), which newer kubelets read from config.json
// (nodeadm's is Go map order, i.e. random; only "user flags last" is a contract).
std::vector<std::pair<std::string, std::string>> kubelet_flags(const KubeletFlagsInput& in);

// /etc/eks/kubelet/environment: NODEADM_KUBELET_ARGS=<our flags as --k=v> <the user's flags
// verbatim, in order>, then KUBELET_CONFIG_DROPIN_DIR_ALPHA=on below 1.30 with a user config.
// Lines joined by "\n", no trailing newline, no quoting. Errors: Invalid for a user flag with a
// newline (it would end the variable).
Result<std::string> kubelet_environment(const std::vector<std::pair<std::string, std::string>>& flags,
                                        const std::vector<std::string>& user_flags, const Version& kubelet,
                                        bool user_config);

// The kubeconfig (normal: /var/lib/kubelet/kubeconfig; Outpost: the same bytes at the bootstrap
// kubeconfig). `cluster` is the cluster name, or its id on an Outpost. Values are spliced verbatim
// as nodeadm's template does. Errors: Invalid for a value with a newline or a double quote.
Result<std::string> kubeconfig(std::string_view server, std::string_view cluster, std::string_view region);

// /etc/eks/image-credential-provider/config.json: 2-space JSON, no trailing newline; the provider is
// named after the binary's basename; ecr-public.aws.com from kubelet 1.32. Below 1.27 the API
// versions are v1alpha1 (nodeadm writes v1, which those kubelets reject).
std::string credential_provider_config(std::string_view provider_binary, const Version& kubelet);

struct DropinFile {
  std::string path;
  std::string bytes;
  std::string service;  // the service it configures ("" for the manager's default environment)
  bool operator==(const DropinFile&) const = default;
};

// instance.environment as nodeadm writes it: "default" -> kDefaultEnvironmentPath ([Manager]
// DefaultEnvironment=), service S -> /etc/systemd/system/S.service.d/environment.conf ([Service]
// Environment=); keys sorted, one "KEY=ESCAPED" per line. Services with no variables are skipped.
std::vector<DropinFile> environment_dropins(const std::map<std::string, std::map<std::string, std::string>>& env);

// ESCAPED: Go's strconv.Quote of the value, '%' doubled, then exactly one quote removed at each
// end (nodeadm's strings.Trim removes more and corrupts a value ending in '"'; fixed here).
std::string systemd_escape(std::string_view value);

}  // namespace agent::compute::al2023
