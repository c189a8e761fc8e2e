// One NodeConfig document (apiVersion node.eks.aws/v1alpha1, kind NodeConfig: nodeadm's
// configuration format) -> typed fields, with where each was written. Pure.
//
// Fields nodeadm reads and that make sense on this node are typed below; free-form objects
// (kubelet.config, containerd.baseRuntimeSpec) stay JSON. Unknown fields are not dropped silently:
// each one is a warning naming its path and position. Type errors are errors at the position.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/result.h"
#include "agent/userdata/documents.h"

namespace agent::userdata {

inline constexpr const char* kApiVersion = "node.eks.aws/v1alpha1";
inline constexpr const char* kKind = "NodeConfig";
inline constexpr const char* kNodeConfigMediaType = "application/node.eks.aws";
// metadata.annotations key: "effective" reserves kubeReserved memory for the effective max pods.
inline constexpr const char* kKubeReservedAnnotation = "node-agent.eks.aws/kube-reserved-max-pods";

// Where a document or a field came from, for messages.
struct Origin {
  std::string source;  // "imds://user-data", "file:///etc/eks/eks-node-agent.d/10-a.yaml"
  std::string part;    // "MIME part 2 (application/node.eks.aws)"; "" when not MIME
  int document = 0;    // 1-based position in a YAML stream of several documents; 0: the only one
  Mark mark;           // line/column within the document (the part body when MIME)
  // "imds://user-data, MIME part 2 (application/node.eks.aws), line 5, column 3"
  std::string str() const;
  // The same origin at another position in the same document.
  Origin at(Mark m) const;
  bool operator==(const Origin&) const = default;
};

struct NodeConfigSpec {
  // spec.cluster
  std::optional<std::string> name;
  std::optional<std::string> api_server_endpoint;
  std::optional<std::string> certificate_authority;  // base64 of the CA bundle, as written
  std::optional<std::string> cidr;                   // the service CIDR
  std::optional<bool> enable_outpost;
  std::optional<std::string> id;
  // spec.kubelet
  nlohmann::json kubelet_config = nlohmann::json::object();  // KubeletConfiguration fields
  std::vector<std::string> kubelet_flags;
  std::optional<std::string> max_pods_expression;    // an integer CEL expression (max_pods_expression.h)
  // spec.containerd
  std::optional<std::string> containerd_config;      // TOML, merged over the generated config
  std::optional<nlohmann::json> base_runtime_spec;   // OCI spec fields, merged over the default
  // spec.instance
  std::optional<std::string> local_storage_strategy;  // RAID0 | RAID10 | Mount
  std::optional<std::string> local_storage_mount_path;
  std::optional<std::vector<std::string>> local_storage_disabled_mounts;  // Containerd|PodLogs|SOCI
  // "default" -> systemd's DefaultEnvironment; any other key is a service name.
  std::map<std::string, std::map<std::string, std::string>> environment;
  std::optional<std::vector<std::string>> nameservers;  // instance.network: systemd-resolved drop-in
  std::optional<std::vector<std::string>> domains;
  // spec.featureGates
  std::map<std::string, bool> feature_gates;
  // Our own options, as annotations (nodeadm ignores metadata): kKubeReservedAnnotation.
  std::optional<std::string> kube_reserved_max_pods;  // "eni" | "effective"

  bool operator==(const NodeConfigSpec&) const = default;
};

struct NodeConfigDoc {
  NodeConfigSpec spec;
  Origin origin;                          // where the document starts
  std::map<std::string, Origin> fields;   // "spec.cluster.name" -> where it was set (also
                                          // "spec.cluster", "spec.kubelet.config", ...)
  bool operator==(const NodeConfigDoc&) const = default;
};

struct ParsedNodeConfig {
  NodeConfigDoc doc;
  std::vector<std::string> warnings;  // "<origin>: unknown field spec.cluster.nmae (ignored)"
};

// True when the value is meant as a NodeConfig: an object whose apiVersion is in the
// node.eks.aws group or whose kind is NodeConfig.
bool looks_like_node_config(const nlohmann::json& value);

// Errors (Invalid, message "<origin>: <what>"): wrong or missing apiVersion/kind; a field of the
// wrong type; certificateAuthority that is not base64; a kubelet flag with whitespace or a
// newline (the kubelet command line is split on whitespace); containerd.config that is not TOML
// (with the TOML line and column); an unknown localStorage strategy.
Result<ParsedNodeConfig> node_config_from(const Document& document, const Origin& where);

// The spec as a v1alpha1 NodeConfig document (for `config dump`); unset fields are left out.
nlohmann::ordered_json to_document(const NodeConfigSpec& spec);

}  // namespace agent::userdata
