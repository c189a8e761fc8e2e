#include "agent/compute/user_config.h"

#include <fmt/format.h>

#include "agent/model/embedded.h"
#include "agent/userdata/merge.h"

namespace agent::compute {
namespace {

// Quotes one assignment for a systemd Environment=/DefaultEnvironment= line: single-quoted,
// backslash and quote escaped; '%' doubled in unit files (specifier expansion), not in
// system.conf (which has none).
Result<std::string> quoted_assignment(std::string_view key, std::string_view value, bool unit_file) {
  std::string out = "'";
  for (char c : std::string(key) + "=" + std::string(value)) {
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u == 0x7f) {
      return make_error(Errc::Invalid,
                        "spec.instance.environment: the value of {} contains a control character (newline?)", key);
    }
    if (c == '\\' || c == '\'') out += '\\';
    if (c == '%' && unit_file) out += '%';
    out += c;
  }
  return out + "'";
}

}  // namespace

bool kubelet_has_config_dir(const Version& kubelet) { return kubelet >= Version{1, 28, 0}; }
bool kubelet_config_dir_is_alpha(const Version& kubelet) {
  return kubelet_has_config_dir(kubelet) && kubelet < Version{1, 30, 0};
}

Result<std::optional<int>> user_max_pods(const nlohmann::json& kubelet_config) {
  auto it = kubelet_config.find("maxPods");
  if (it == kubelet_config.end() || it->is_null()) return std::optional<int>();
  if (it->is_number_integer()) {
    const auto v = it->get<int64_t>();
    if (v >= 1 && v <= 2147483647) return std::optional<int>(static_cast<int>(v));
  }
  return make_error(Errc::Invalid, "spec.kubelet.config.maxPods must be a whole number from 1 to 2147483647, not {}",
                    it->dump());
}

std::string kubelet_config_dropin(const nlohmann::json& user) {
  nlohmann::json doc = {{"apiVersion", "kubelet.config.k8s.io/v1beta1"}, {"kind", "KubeletConfiguration"}};
  userdata::merge_json(doc, user);
  return doc.dump(2) + "\n";
}

Result<std::string> kubelet_config_with_user(std::string_view computed, const nlohmann::json& user) {
  auto cfg = nlohmann::ordered_json::parse(computed, nullptr, false);
  if (!cfg.is_object()) return make_error(Errc::Parse, "the computed kubelet config is not a JSON object");
  userdata::merge_json(cfg, nlohmann::ordered_json::parse(user.dump()));
  return cfg.dump(2) + "\n";
}

Result<std::string> containerd_with_user(std::string_view computed, std::string_view user, ContainerdSchema schema,
                                         std::vector<Diagnostic>& diagnostics) {
  const bool v3_names = user.find("io.containerd.cri.v1.") != std::string_view::npos;
  const bool v2_names = user.find("io.containerd.grpc.v1.cri") != std::string_view::npos;
  if (schema == ContainerdSchema::V2 && v3_names) {
    return make_error(Errc::Invalid,
                      "spec.containerd.config uses containerd config version 3 plugin names "
                      "(io.containerd.cri.v1.*), which this node's containerd 1.x cannot read; use "
                      "io.containerd.grpc.v1.cri");
  }
  if (schema == ContainerdSchema::V3 && v2_names) {
    diagnostics.push_back({Diagnostic::Level::Warning, "CONTAINERD_USER_CONFIG_V2",
                           "spec.containerd.config uses version 2 plugin names (io.containerd.grpc.v1.cri) but this "
                           "node's containerd 2.x reads version 3 (io.containerd.cri.v1.images, "
                           "io.containerd.cri.v1.runtime); those settings have no effect"});
  }
  return userdata::merge_toml(computed, user, "the generated containerd config", "spec.containerd.config");
}

std::string base_runtime_spec_for(const nlohmann::json& user) {
  nlohmann::ordered_json spec = nlohmann::ordered_json::parse(embedded::file("config/base-runtime-spec.json"));
  userdata::merge_json(spec, nlohmann::ordered_json::parse(user.dump()));
  return spec.dump(2) + "\n";
}

std::string base_runtime_spec_toml(ContainerdSchema schema, const std::optional<std::string>& extra_runtime) {
  const char* plugin = schema == ContainerdSchema::V3 ? "io.containerd.cri.v1.runtime" : "io.containerd.grpc.v1.cri";
  std::string out;
  for (const std::string& runtime : {std::string("runc"), extra_runtime.value_or("")}) {
    if (runtime.empty()) continue;
    out += fmt::format("[plugins.\"{}\".containerd.runtimes.{}]\nbase_runtime_spec = \"{}\"\n", plugin, runtime,
                       kBaseRuntimeSpecPath);
  }
  return out;
}

Result<std::vector<FileWrite>> environment_files(
    const std::map<std::string, std::map<std::string, std::string>>& env) {
  std::vector<FileWrite> out;
  for (const auto& [unit, vars] : env) {
    if (vars.empty()) continue;
    const bool manager = unit == "default";
    std::string text = manager ? "[Manager]\n" : "[Service]\n";
    for (const auto& [k, v] : vars) {
      AGENT_TRY(std::string a, quoted_assignment(k, v, !manager));
      text += fmt::format("{}={}\n", manager ? "DefaultEnvironment" : "Environment", a);
    }
    FileWrite w{.path = manager ? kDefaultEnvironmentPath : "", .bytes = std::move(text), .mode = 0644, .unit_file = true};
    if (manager) {
      w.restarts = {"containerd.service", "kubelet.service"};
    } else {
      const std::string service = unit.ends_with(".service") ? unit : unit + ".service";
      w.path = fmt::format("/etc/systemd/system/{}.d/40-eks-node-agent-environment.conf", service);
      if (service == "kubelet.service" || service == "containerd.service") w.restarts = {service};
    }
    out.push_back(std::move(w));
  }
  return out;
}

}  // namespace agent::compute
