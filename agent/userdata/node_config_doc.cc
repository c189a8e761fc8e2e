#include "agent/userdata/node_config_doc.h"

#include <initializer_list>

#include <fmt/format.h>
#include <toml++/toml.h>

#include "agent/compute/base64.h"
#include "agent/compute/max_pods_expression.h"

namespace agent::userdata {
namespace {

using json = nlohmann::json;

std::string kind_of(const json& v) {
  switch (v.type()) {
    case json::value_t::null: return "null";
    case json::value_t::boolean: return "a boolean";
    case json::value_t::string: return "a string";
    case json::value_t::object: return "a mapping";
    case json::value_t::array: return "a list";
    default: return "a number";
  }
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

class Reader {
 public:
  Reader(const Document& d, const Origin& where, ParsedNodeConfig& out)
      : d_(d), where_(where), out_(out) {}

  Origin origin(const std::string& ptr) const { return where_.at(d_.at(ptr)); }

  Error error(const std::string& ptr, const std::string& what) const {
    return make_error(Errc::Invalid, "{}: {}", origin(ptr).str(), what);
  }
  void warn(const std::string& ptr, const std::string& what) {
    out_.warnings.push_back(fmt::format("{}: {}", origin(ptr).str(), what));
  }
  void record(const std::string& ptr) { out_.doc.fields[display_path(ptr)] = origin(ptr); }

  // Warns about each key of `obj` that is not in `known` (a case-insensitive match is named).
  void unknown_keys(const json& obj, const std::string& ptr, std::initializer_list<std::string_view> known) {
    for (auto it = obj.begin(); it != obj.end(); ++it) {
      bool found = false;
      std::string hint;
      for (auto k : known) {
        if (it.key() == k) found = true;
        if (lower(it.key()) == lower(std::string(k))) hint = k;
      }
      if (found) continue;
      const std::string child = pointer_append(ptr, it.key());
      warn(child, fmt::format("unknown field {} (ignored{})", display_path(child),
                              hint.empty() ? "" : fmt::format("; field names are case-sensitive: did you mean {}?", hint)));
    }
  }

  // The member `key` of `obj` (at `ptr`) as a mapping; nullptr when absent or null.
  Result<const json*> object(const json& obj, const std::string& ptr, const char* key) {
    const std::string child = pointer_append(ptr, key);
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return static_cast<const json*>(nullptr);
    if (!it->is_object()) {
      return error(child, fmt::format("{} must be a mapping, not {}", display_path(child), kind_of(*it)));
    }
    record(child);
    return &*it;
  }

  Result<std::optional<std::string>> string(const json& obj, const std::string& ptr, const char* key) {
    const std::string child = pointer_append(ptr, key);
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<std::string>();
    record(child);
    AGENT_TRY(std::string text, scalar_text(*it, child));
    return std::optional<std::string>(std::move(text));
  }

  // A scalar as text: YAML that reads as a number or boolean where text is expected is taken
  // as written (sigs.k8s.io/yaml does the same for string fields).
  Result<std::string> scalar_text(const json& v, const std::string& ptr) {
    if (v.is_string()) return v.get<std::string>();
    if (v.is_number() || v.is_boolean()) return v.dump();
    return error(ptr, fmt::format("{} must be a string, not {}", display_path(ptr), kind_of(v)));
  }

  Result<std::optional<bool>> boolean(const json& obj, const std::string& ptr, const char* key) {
    const std::string child = pointer_append(ptr, key);
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<bool>();
    if (!it->is_boolean()) {
      return error(child, fmt::format("{} must be true or false, not {}", display_path(child),
                                      it->is_string() ? fmt::format("'{}'", it->get<std::string>()) : kind_of(*it)));
    }
    record(child);
    return std::optional<bool>(it->get<bool>());
  }

  Result<std::optional<std::vector<std::string>>> strings(const json& obj, const std::string& ptr,
                                                          const char* key) {
    const std::string child = pointer_append(ptr, key);
    auto it = obj.find(key);
    if (it == obj.end() || it->is_null()) return std::optional<std::vector<std::string>>();
    if (!it->is_array()) {
      return error(child, fmt::format("{} must be a list, not {}", display_path(child), kind_of(*it)));
    }
    record(child);
    std::vector<std::string> out;
    for (size_t i = 0; i < it->size(); ++i) {
      AGENT_TRY(std::string s, scalar_text((*it)[i], pointer_append(child, std::to_string(i))));
      out.push_back(std::move(s));
    }
    return std::optional<std::vector<std::string>>(std::move(out));
  }

 private:
  const Document& d_;
  const Origin& where_;
  ParsedNodeConfig& out_;
};

Status read_cluster(Reader& r, const json& cluster, NodeConfigSpec& s) {
  const std::string p = "/spec/cluster";
  r.unknown_keys(cluster, p, {"name", "apiServerEndpoint", "certificateAuthority", "cidr", "enableOutpost", "id"});
  AGENT_TRY(s.name, r.string(cluster, p, "name"));
  AGENT_TRY(s.api_server_endpoint, r.string(cluster, p, "apiServerEndpoint"));
  AGENT_TRY(s.certificate_authority, r.string(cluster, p, "certificateAuthority"));
  if (s.certificate_authority && !s.certificate_authority->empty()) {
    if (auto ca = compute::base64_decode(*s.certificate_authority); !ca) {
      return r.error(p + "/certificateAuthority",
                     fmt::format("spec.cluster.certificateAuthority must be the base64 of the CA bundle "
                                 "(as `aws eks describe-cluster` prints it): {}",
                                 ca.error().message));
    }
  }
  AGENT_TRY(s.cidr, r.string(cluster, p, "cidr"));
  if (s.cidr && !s.cidr->empty() && s.cidr->find('/') == std::string::npos) {
    return r.error(p + "/cidr", fmt::format("spec.cluster.cidr must be a CIDR such as 10.100.0.0/16, not '{}'", *s.cidr));
  }
  AGENT_TRY(s.enable_outpost, r.boolean(cluster, p, "enableOutpost"));
  AGENT_TRY(s.id, r.string(cluster, p, "id"));
  return {};
}

Status read_kubelet(Reader& r, const json& kubelet, NodeConfigSpec& s) {
  const std::string p = "/spec/kubelet";
  r.unknown_keys(kubelet, p, {"config", "flags", "maxPodsExpression"});
  AGENT_TRY(const json* config, r.object(kubelet, p, "config"));
  if (config != nullptr) s.kubelet_config = *config;
  AGENT_TRY(auto flags, r.strings(kubelet, p, "flags"));
  if (flags) {
    for (size_t i = 0; i < flags->size(); ++i) {
      const std::string& f = (*flags)[i];
      for (char c : f) {
        if (std::isspace(static_cast<unsigned char>(c)) || static_cast<unsigned char>(c) < 0x20) {
          return r.error(pointer_append(p + "/flags", std::to_string(i)),
                         fmt::format("spec.kubelet.flags[{}] '{}' contains whitespace; kubelet's command line is "
                                     "split on whitespace, so write one flag per entry without spaces",
                                     i, f));
        }
      }
      if (!f.starts_with("-")) {
        r.warn(pointer_append(p + "/flags", std::to_string(i)),
               fmt::format("spec.kubelet.flags[{}] '{}' does not start with '-'; kubelet reads it as an argument", i, f));
      }
    }
    s.kubelet_flags = std::move(*flags);
  }
  AGENT_TRY(s.max_pods_expression, r.string(kubelet, p, "maxPodsExpression"));
  if (s.max_pods_expression && !s.max_pods_expression->empty()) {
    // Compiled now with sample values, so that a typo is reported with its document position
    // instead of surfacing as a warning at bootstrap.
    auto probe = compute::evaluate_max_pods_expression(*s.max_pods_expression,
                                                       {.default_enis = 3, .ips_per_eni = 10, .max_pods = 29});
    if (!probe && probe.error().message.starts_with("failed to compile")) {
      return r.error(p + "/maxPodsExpression",
                     fmt::format("spec.kubelet.maxPodsExpression: {}", probe.error().message));
    }
  }
  return {};
}

Status read_containerd(Reader& r, const json& containerd, NodeConfigSpec& s) {
  const std::string p = "/spec/containerd";
  r.unknown_keys(containerd, p, {"config", "baseRuntimeSpec"});
  AGENT_TRY(s.containerd_config, r.string(containerd, p, "config"));
  if (s.containerd_config && !s.containerd_config->empty()) {
    try {
      (void)toml::parse(*s.containerd_config);
    } catch (const toml::parse_error& e) {
      return r.error(p + "/config", fmt::format("spec.containerd.config is not valid TOML: TOML line {}, column {}: {}",
                                                e.source().begin.line, e.source().begin.column, e.description()));
    }
  }
  AGENT_TRY(const json* spec, r.object(containerd, p, "baseRuntimeSpec"));
  if (spec != nullptr) s.base_runtime_spec = *spec;
  return {};
}

Status read_instance(Reader& r, const json& instance, NodeConfigSpec& s) {
  const std::string p = "/spec/instance";
  r.unknown_keys(instance, p, {"localStorage", "environment", "network"});
  AGENT_TRY(const json* storage, r.object(instance, p, "localStorage"));
  if (storage != nullptr) {
    const std::string sp = p + "/localStorage";
    r.unknown_keys(*storage, sp, {"strategy", "mountPath", "disabledMounts"});
    AGENT_TRY(s.local_storage_strategy, r.string(*storage, sp, "strategy"));
    if (s.local_storage_strategy && *s.local_storage_strategy != "RAID0" &&
        *s.local_storage_strategy != "RAID10" && *s.local_storage_strategy != "Mount") {
      return r.error(sp + "/strategy",
                     fmt::format("spec.instance.localStorage.strategy must be RAID0, RAID10 or Mount, not '{}'",
                                 *s.local_storage_strategy));
    }
    AGENT_TRY(s.local_storage_mount_path, r.string(*storage, sp, "mountPath"));
    AGENT_TRY(s.local_storage_disabled_mounts, r.strings(*storage, sp, "disabledMounts"));
    if (s.local_storage_disabled_mounts) {
      for (size_t i = 0; i < s.local_storage_disabled_mounts->size(); ++i) {
        const std::string& m = (*s.local_storage_disabled_mounts)[i];
        if (m != "Containerd" && m != "PodLogs" && m != "SOCI") {
          r.warn(pointer_append(sp + "/disabledMounts", std::to_string(i)),
                 fmt::format("spec.instance.localStorage.disabledMounts[{}] '{}' is not Containerd, PodLogs or SOCI "
                             "(ignored)",
                             i, m));
        }
      }
    }
  }
  AGENT_TRY(const json* env, r.object(instance, p, "environment"));
  if (env != nullptr) {
    const std::string ep = p + "/environment";
    for (auto it = env->begin(); it != env->end(); ++it) {
      const std::string unit_ptr = pointer_append(ep, it.key());
      if (it->is_null()) continue;
      if (!it->is_object()) {
        return r.error(unit_ptr, fmt::format("{} must be a mapping of variable names to values, not {}",
                                             display_path(unit_ptr), kind_of(*it)));
      }
      if (it.key() != "default" && it.key().find_first_of("/ \t\n") != std::string::npos) {
        return r.error(unit_ptr, fmt::format("{}: '{}' is not a service name", display_path(unit_ptr), it.key()));
      }
      auto& vars = s.environment[it.key()];
      for (auto v = it->begin(); v != it->end(); ++v) {
        const std::string var_ptr = pointer_append(unit_ptr, v.key());
        if (v.key().empty() || v.key().find_first_of("= \t\n") != std::string::npos) {
          return r.error(var_ptr, fmt::format("{}: '{}' is not an environment variable name",
                                              display_path(var_ptr), v.key()));
        }
        AGENT_TRY(vars[v.key()], v->is_null() ? Result<std::string>(std::string()) : r.scalar_text(*v, var_ptr));
      }
    }
  }
  AGENT_TRY(const json* network, r.object(instance, p, "network"));
  if (network != nullptr) {
    const std::string np = p + "/network";
    r.unknown_keys(*network, np, {"nameservers", "domains"});
    AGENT_TRY(s.nameservers, r.strings(*network, np, "nameservers"));
    AGENT_TRY(s.domains, r.strings(*network, np, "domains"));
  }
  return {};
}

// metadata.annotations: only the agent's own keys mean anything; others are Kubernetes metadata.
Status read_annotations(Reader& r, const json& doc, NodeConfigSpec& s) {
  AGENT_TRY(const json* meta, r.object(doc, "", "metadata"));
  if (meta == nullptr) return {};
  AGENT_TRY(const json* notes, r.object(*meta, "/metadata", "annotations"));
  if (notes == nullptr) return {};
  const std::string p = pointer_append("/metadata/annotations", kKubeReservedAnnotation);
  AGENT_TRY(s.kube_reserved_max_pods, r.string(*notes, "/metadata/annotations", kKubeReservedAnnotation));
  if (s.kube_reserved_max_pods && *s.kube_reserved_max_pods != "eni" && *s.kube_reserved_max_pods != "effective") {
    return r.error(p, fmt::format("{} must be eni or effective, not '{}'", kKubeReservedAnnotation,
                                  *s.kube_reserved_max_pods));
  }
  return {};
}

Status read_feature_gates(Reader& r, const json& gates, NodeConfigSpec& s) {
  const std::string p = "/spec/featureGates";
  for (auto it = gates.begin(); it != gates.end(); ++it) {
    const std::string gp = pointer_append(p, it.key());
    if (!it->is_boolean()) {
      return r.error(gp, fmt::format("{} must be true or false, not {}", display_path(gp), kind_of(*it)));
    }
    if (it.key() == "InstanceIdNodeName") {
      s.feature_gates[it.key()] = it->get<bool>();
    } else if (it.key() == "FastImagePull") {
      s.feature_gates[it.key()] = it->get<bool>();
    } else {
      r.warn(gp, fmt::format("unknown feature gate {} (ignored; known: InstanceIdNodeName, FastImagePull)", it.key()));
    }
  }
  return {};
}

}  // namespace

std::string Origin::str() const {
  std::string out = source.empty() ? "NodeConfig" : source;
  if (!part.empty()) out += ", " + part;
  if (document > 0) out += fmt::format(", document {}", document);
  if (mark.line > 0) out += fmt::format(", line {}, column {}", mark.line, mark.column);
  return out;
}

Origin Origin::at(Mark m) const {
  Origin o = *this;
  o.mark = m;
  return o;
}

bool looks_like_node_config(const json& v) {
  if (!v.is_object()) return false;
  auto api = v.find("apiVersion");
  if (api != v.end() && api->is_string() && api->get<std::string>().starts_with("node.eks.aws/")) return true;
  auto kind = v.find("kind");
  return kind != v.end() && kind->is_string() && kind->get<std::string>() == kKind;
}

Result<ParsedNodeConfig> node_config_from(const Document& document, const Origin& where) {
  ParsedNodeConfig out;
  out.doc.origin = where.at(document.start);
  Reader r(document, where, out);
  const json& v = document.value;
  if (!v.is_object()) {
    return r.error("", fmt::format("a NodeConfig must be a mapping, not {}", kind_of(v)));
  }
  auto api = v.find("apiVersion");
  auto kind = v.find("kind");
  if (api == v.end() || !api->is_string()) {
    return r.error("", fmt::format("apiVersion is missing: a NodeConfig starts with apiVersion: {} and kind: {}",
                                   kApiVersion, kKind));
  }
  if (*api != kApiVersion) {
    return r.error("/apiVersion", fmt::format("apiVersion '{}' is not supported (only {})", api->get<std::string>(),
                                              kApiVersion));
  }
  if (kind == v.end() || !kind->is_string()) {
    return r.error("", fmt::format("kind is missing (kind: {})", kKind));
  }
  if (*kind != kKind) {
    return r.error("/kind", fmt::format("kind '{}' is not {}", kind->get<std::string>(), kKind));
  }
  r.unknown_keys(v, "", {"apiVersion", "kind", "metadata", "spec", "status"});
  if (v.contains("status")) r.warn("/status", "status is computed on the node and is ignored in a NodeConfig");
  AGENT_TRY_STATUS(read_annotations(r, v, out.doc.spec));
  AGENT_TRY(const json* spec, r.object(v, "", "spec"));
  if (spec == nullptr) {
    r.warn("", "the NodeConfig has no spec");
    return out;
  }
  NodeConfigSpec& s = out.doc.spec;
  r.unknown_keys(*spec, "/spec", {"cluster", "kubelet", "containerd", "instance", "featureGates"});
  AGENT_TRY(const json* cluster, r.object(*spec, "/spec", "cluster"));
  if (cluster != nullptr) AGENT_TRY_STATUS(read_cluster(r, *cluster, s));
  AGENT_TRY(const json* kubelet, r.object(*spec, "/spec", "kubelet"));
  if (kubelet != nullptr) AGENT_TRY_STATUS(read_kubelet(r, *kubelet, s));
  AGENT_TRY(const json* containerd, r.object(*spec, "/spec", "containerd"));
  if (containerd != nullptr) AGENT_TRY_STATUS(read_containerd(r, *containerd, s));
  AGENT_TRY(const json* instance, r.object(*spec, "/spec", "instance"));
  if (instance != nullptr) AGENT_TRY_STATUS(read_instance(r, *instance, s));
  AGENT_TRY(const json* gates, r.object(*spec, "/spec", "featureGates"));
  if (gates != nullptr) AGENT_TRY_STATUS(read_feature_gates(r, *gates, s));
  return out;
}

nlohmann::ordered_json to_document(const NodeConfigSpec& s) {
  using oj = nlohmann::ordered_json;
  oj cluster = oj::object();
  if (s.name) cluster["name"] = *s.name;
  if (s.api_server_endpoint) cluster["apiServerEndpoint"] = *s.api_server_endpoint;
  if (s.certificate_authority) cluster["certificateAuthority"] = *s.certificate_authority;
  if (s.cidr) cluster["cidr"] = *s.cidr;
  if (s.enable_outpost) cluster["enableOutpost"] = *s.enable_outpost;
  if (s.id) cluster["id"] = *s.id;
  oj kubelet = oj::object();
  if (!s.kubelet_config.empty()) kubelet["config"] = oj::parse(s.kubelet_config.dump());
  if (!s.kubelet_flags.empty()) kubelet["flags"] = s.kubelet_flags;
  oj containerd = oj::object();
  if (s.containerd_config) containerd["config"] = *s.containerd_config;
  if (s.base_runtime_spec) containerd["baseRuntimeSpec"] = oj::parse(s.base_runtime_spec->dump());
  oj instance = oj::object();
  oj storage = oj::object();
  if (s.local_storage_strategy) storage["strategy"] = *s.local_storage_strategy;
  if (s.local_storage_mount_path) storage["mountPath"] = *s.local_storage_mount_path;
  if (s.local_storage_disabled_mounts) storage["disabledMounts"] = *s.local_storage_disabled_mounts;
  if (!storage.empty()) instance["localStorage"] = storage;
  if (!s.environment.empty()) instance["environment"] = s.environment;
  oj network = oj::object();
  if (s.nameservers) network["nameservers"] = *s.nameservers;
  if (s.domains) network["domains"] = *s.domains;
  if (!network.empty()) instance["network"] = network;
  oj spec = oj::object();
  if (!cluster.empty()) spec["cluster"] = cluster;
  if (!kubelet.empty()) spec["kubelet"] = kubelet;
  if (!containerd.empty()) spec["containerd"] = containerd;
  if (!instance.empty()) spec["instance"] = instance;
  if (!s.feature_gates.empty()) spec["featureGates"] = s.feature_gates;
  oj out{{"apiVersion", kApiVersion}, {"kind", kKind}};
  if (s.kube_reserved_max_pods) out["metadata"]["annotations"][kKubeReservedAnnotation] = *s.kube_reserved_max_pods;
  out["spec"] = spec;
  return out;
}

}  // namespace agent::userdata
