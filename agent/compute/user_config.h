// What NodeConfig documents add to the plan: the user's kubelet config (a drop-in or merged),
// containerd TOML merged over the generated config, the base OCI runtime spec, systemd
// environment drop-ins. Pure; plan_node calls these.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/compute/containerd_config.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"
#include "agent/model/version.h"

namespace agent::compute {

// kubelet's drop-in directory (--config-dir, KEP-3983) and the agent's file in it. Priority 40,
// as nodeadm, so that other tools can layer before or after.
inline constexpr const char* kKubeletConfigDir = "/etc/kubernetes/kubelet/config.json.d";
inline constexpr const char* kKubeletConfigDropinPath = "/etc/kubernetes/kubelet/config.json.d/40-eks-node-agent.conf";
inline constexpr const char* kBaseRuntimeSpecPath = "/etc/containerd/base-runtime-spec.json";
// systemd's manager configuration drop-in for environment.default.
inline constexpr const char* kDefaultEnvironmentPath = "/etc/systemd/system.conf.d/40-eks-node-agent-environment.conf";

// kubelet reads --config-dir from 1.28 (alpha until 1.30: KUBELET_CONFIG_DROPIN_DIR_ALPHA=on).
bool kubelet_has_config_dir(const Version& kubelet);
bool kubelet_config_dir_is_alpha(const Version& kubelet);

// maxPods from the user's kubelet config. Errors: Invalid when it is not a whole number from 1
// to 2147483647.
Result<std::optional<int>> user_max_pods(const nlohmann::json& kubelet_config);

// The drop-in: {"apiVersion", "kind"} with the user's fields over them, 2-space JSON, sorted keys.
std::string kubelet_config_dropin(const nlohmann::json& user);

// The main kubelet config (text, as kubelet_config_for wrote it) with the user's fields merged
// over it (objects recurse, lists and values replaced), for kubelet < 1.28. Key order is kept;
// new keys go last. Errors: Parse if `computed` is not a JSON object (never, in practice).
Result<std::string> kubelet_config_with_user(std::string_view computed, const nlohmann::json& user);

// The generated containerd config with the user's TOML merged over it. A user config that names
// the other layout's CRI plugin is a mistake worth an error (version 3 names on containerd 1.x,
// which cannot read them, as nodeadm says) or a warning (version 2 names on containerd 2.x).
Result<std::string> containerd_with_user(std::string_view computed, std::string_view user, ContainerdSchema schema,
                                         std::vector<Diagnostic>& diagnostics);

// The default OCI runtime spec (config/base-runtime-spec.json) with the user's fields merged over
// it (objects recurse, lists replaced), 2-space JSON.
std::string base_runtime_spec_for(const nlohmann::json& user);

// TOML that points containerd's runc runtime (and `extra_runtime`, when given) at
// kBaseRuntimeSpecPath, for `schema`'s plugin layout.
std::string base_runtime_spec_toml(ContainerdSchema schema, const std::optional<std::string>& extra_runtime);

// instance.environment as systemd drop-ins: "default" -> kDefaultEnvironmentPath
// ([Manager] DefaultEnvironment=); a service S -> /etc/systemd/system/S.service.d/
// 40-eks-node-agent-environment.conf ([Service] Environment=). Each restarts its service when it
// is kubelet or containerd ("default": both). Errors: Invalid for a value with a control
// character.
Result<std::vector<FileWrite>> environment_files(const std::map<std::string, std::map<std::string, std::string>>& env);

}  // namespace agent::compute
