#include <fmt/format.h>

#include "agent/compute/accelerator.h"
#include "agent/compute/al2023_layout.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/user_config.h"

namespace agent::compute {

std::string al2023_sandbox_image(const NodeSettings& s) {
  const NodeConfig& c = s.config;
  if (c.pause_container_account || c.pause_container_image) return s.pause_image;
  return "localhost/kubernetes/pause:latest";
}

Status add_al2023_containerd_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const bool v3 = f.containerd_version && parse_version(*f.containerd_version) &&
                  parse_version(*f.containerd_version)->major >= 2;
  const std::string sandbox = al2023_sandbox_image(s);
  const bool nvidia = f.accelerators.nvidia_runtime_installed;
  AGENT_TRY(ContainerdConfig containerd,
            containerd_config_for(ContainerdConfigInput{
                .sandbox_image = sandbox,
                .schema = v3 ? ContainerdSchema::V3 : ContainerdSchema::V2,
                .nvidia_runtime_binary = nvidia ? std::optional<std::string>(kNvidiaRuntimePath) : std::nullopt,
            }));
  plan.files.push_back({.path = kContainerdConfigPath, .bytes = containerd.toml, .mode = 0644,
                        .restarts = {"containerd.service"}});
  plan.files.push_back({.path = kBaseRuntimeSpecPath,
                        .bytes = base_runtime_spec_for(s.config.base_runtime_spec.value_or(nlohmann::json::object())),
                        .mode = 0644,
                        .restarts = {"containerd.service"}});
  plan.values["containerdDefaultRuntime"] = containerd.default_runtime;
  plan.values["sandboxImage"] = sandbox;
  return {};
}

}  // namespace agent::compute
