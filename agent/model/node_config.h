// NodeConfig: what the user asked for, from bootstrap.sh-style flags/environment and NodeConfig
// documents (user data, drop-ins). Every field that the user may leave unset is a std::optional; defaults
// are applied by compute, never here, so that "unset" and "set to the default" stay distinct.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

namespace agent {

enum class IpFamily { Ipv4, Ipv6 };

// Where --hostname-override comes from: IMDS local-hostname (no AWS call), EC2 DescribeInstances'
// PrivateDnsName (bootstrap.sh's private-dns-name helper), or the instance id.
enum class HostnameSource { Imds, Ec2, InstanceId };

// The node layout a run writes: Amazon Linux 2 (bootstrap.sh's files) or Amazon Linux 2023
// (nodeadm's files). One decision per run: --platform, else the image (gather: /etc/os-release;
// the program name `nodeadm` implies Al2023).
enum class Platform { Al2, Al2023 };
std::string_view platform_name(Platform p);  // "al2" | "al2023"

struct NodeConfig {
  std::string cluster_name;
  std::optional<std::string> apiserver_endpoint;
  std::optional<std::string> b64_cluster_ca;
  std::optional<std::string> cluster_id;
  std::optional<IpFamily> ip_family;
  std::optional<std::string> service_ipv4_cidr;
  std::optional<std::string> service_ipv6_cidr;
  std::vector<std::string> dns_cluster_ip;  // empty: derived (bootstrap.sh section 3.5)
  bool use_max_pods = true;
  std::string kubelet_extra_args;            // verbatim, as bootstrap.sh passes it
  std::optional<std::string> pause_container_account;
  std::string pause_container_version = "3.5";
  std::optional<std::string> pause_container_image;  // repository part, env PAUSE_CONTAINER_IMAGE
  std::optional<std::string> containerd_config_file;  // node path of a user TOML file
  bool enable_local_outpost = false;
  bool mount_bpf_fs = true;
  std::optional<std::string> local_disks;    // raid0 | raid10 | mount | none
  int aws_api_retry_attempts = 3;
  HostnameSource hostname_source = HostnameSource::Imds;  // --hostname-source
  std::optional<Platform> platform;                       // --platform; unset: from the image
  // kubeReserved memory for the effective max pods (--kube-reserved-max-pods effective, or the
  // NodeConfig annotation node-agent.eks.aws/kube-reserved-max-pods: effective) instead of the
  // ENI-based max pods that bootstrap.sh, nodeadm and Karpenter use.
  bool kube_reserved_for_effective_max_pods = false;

  // --- what NodeConfig documents add (README "NodeConfig user data"); empty without them ---
  nlohmann::json kubelet_config = nlohmann::json::object();  // KubeletConfiguration fields; win
                                                            // over the computed ones
  std::vector<std::string> kubelet_flags;            // kubelet flags after the agent's own
  std::optional<std::string> max_pods_expression;    // spec.kubelet.maxPodsExpression (CEL subset)
  std::vector<std::string> nameservers;              // spec.instance.network: systemd-resolved DNS=
  std::vector<std::string> dns_domains;              //   and Domains=
  std::optional<std::string> containerd_config_toml;  // TOML merged over the generated config
  std::optional<nlohmann::json> base_runtime_spec;    // merged over the default OCI runtime spec
  std::optional<std::string> local_disks_mount_path;  // localStorage.mountPath
  std::vector<std::string> local_disks_disabled_mounts;  // Containerd | PodLogs | SOCI
  // systemd environment: "default" -> every unit (DefaultEnvironment=); else a service name.
  std::map<std::string, std::map<std::string, std::string>> environment;
  // Run as `nodeadm`: kubelet is not enabled (nodeadm-run.service starts it every boot), EKS is
  // never asked for the endpoint or CA.
  bool nodeadm = false;
  bool instance_id_node_name = false;
  bool fast_image_pull = false;  // featureGates.FastImagePull: SOCI on large enough AL2023 nodes  // featureGates.InstanceIdNodeName: node name = instance id

  bool operator==(const NodeConfig&) const = default;
};

void to_json(nlohmann::json& j, const NodeConfig& c);

}  // namespace agent
