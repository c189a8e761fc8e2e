#include "agent/userdata/merge.h"
#include "agent/userdata/toml_merge.h"

#include <sstream>

#include <fmt/format.h>
#include <toml++/toml.h>

namespace agent::userdata {
namespace {

Result<toml::table> parse_toml(std::string_view text, std::string_view name) {
  try {
    return toml::parse(text, name);
  } catch (const toml::parse_error& e) {
    return make_error(Errc::Parse, "{}: TOML line {}, column {}: {}", name, e.source().begin.line,
                      e.source().begin.column, e.description());
  }
}

template <typename T>
void take(std::optional<T>& dst, const std::optional<T>& src) {
  if (src) dst = src;
}

template <typename Json>
void merge_json_impl(Json& dst, const Json& src) {
  if (!src.is_object() || !dst.is_object()) {
    dst = src;
    return;
  }
  for (auto it = src.begin(); it != src.end(); ++it) {
    if (it->is_null()) {
      dst.erase(it.key());
    } else if (it->is_object() && dst.contains(it.key()) && dst[it.key()].is_object()) {
      merge_json_impl(dst[it.key()], *it);
    } else {
      dst[it.key()] = *it;
    }
  }
}

}  // namespace

void merge_toml_tables(toml::table& dst, const toml::table& src) {
  for (const auto& [key, value] : src) {
    const toml::table* src_table = value.as_table();
    toml::node* existing = dst.get(key);
    if (src_table != nullptr && existing != nullptr && existing->is_table()) {
      merge_toml_tables(*existing->as_table(), *src_table);
    } else {
      dst.insert_or_assign(key, value);
    }
  }
}

void merge_json(nlohmann::json& dst, const nlohmann::json& src) { merge_json_impl(dst, src); }
void merge_json(nlohmann::ordered_json& dst, const nlohmann::ordered_json& src) { merge_json_impl(dst, src); }

Result<std::string> merge_toml(std::string_view base, std::string_view patch, std::string_view base_name,
                               std::string_view patch_name) {
  AGENT_TRY(toml::table b, parse_toml(base, base_name));
  AGENT_TRY(toml::table p, parse_toml(patch, patch_name));
  merge_toml_tables(b, p);
  std::ostringstream out;
  out << toml::toml_formatter(b, toml::toml_formatter::default_flags & ~toml::format_flags::indentation);
  return out.str() + "\n";
}

Result<NodeConfigDoc> merge(NodeConfigDoc base, const NodeConfigDoc& later) {
  NodeConfigSpec& d = base.spec;
  const NodeConfigSpec& s = later.spec;
  take(d.name, s.name);
  take(d.api_server_endpoint, s.api_server_endpoint);
  take(d.certificate_authority, s.certificate_authority);
  take(d.cidr, s.cidr);
  take(d.enable_outpost, s.enable_outpost);
  take(d.id, s.id);
  merge_json(d.kubelet_config, s.kubelet_config);
  d.kubelet_flags.insert(d.kubelet_flags.end(), s.kubelet_flags.begin(), s.kubelet_flags.end());
  if (s.max_pods_expression && !s.max_pods_expression->empty()) d.max_pods_expression = s.max_pods_expression;
  if (s.containerd_config) {
    if (!d.containerd_config || d.containerd_config->empty()) {
      d.containerd_config = s.containerd_config;
    } else if (!s.containerd_config->empty()) {
      AGENT_TRY(d.containerd_config,
                merge_toml(*d.containerd_config, *s.containerd_config, "spec.containerd.config",
                           later.origin.str() + " spec.containerd.config"));
    }
  }
  if (s.base_runtime_spec) {
    if (!d.base_runtime_spec) d.base_runtime_spec = nlohmann::json::object();
    merge_json(*d.base_runtime_spec, *s.base_runtime_spec);
  }
  take(d.local_storage_strategy, s.local_storage_strategy);
  take(d.local_storage_mount_path, s.local_storage_mount_path);
  take(d.kube_reserved_max_pods, s.kube_reserved_max_pods);
  take(d.local_storage_disabled_mounts, s.local_storage_disabled_mounts);
  for (const auto& [unit, vars] : s.environment) {
    auto& into = d.environment[unit];
    for (const auto& [k, v] : vars) into[k] = v;
  }
  take(d.nameservers, s.nameservers);
  take(d.domains, s.domains);
  for (const auto& [gate, on] : s.feature_gates) d.feature_gates[gate] = on;
  for (const auto& [path, origin] : later.fields) base.fields[path] = origin;
  if (base.origin.source.empty()) base.origin = later.origin;
  return base;
}

Result<NodeConfigDoc> merge_all(const std::vector<NodeConfigDoc>& docs) {
  NodeConfigDoc out;
  for (const auto& d : docs) {
    AGENT_TRY(out, merge(std::move(out), d));
  }
  return out;
}

}  // namespace agent::userdata
