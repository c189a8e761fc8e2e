// The containerd part of the AL2023 layout: nodeadm's templates (al2023/containerd.h) for the
// containerd the image ships, with the user's TOML and base runtime spec, and SOCI.
#include <fmt/format.h>

#include "agent/compute/accelerator.h"
#include "agent/compute/al2023/containerd.h"
#include "agent/compute/al2023_layout.h"

namespace agent::compute {
namespace {

namespace nd = al2023;
constexpr const char* kContainerd = "containerd.service";

// containerd's version: the image's fact file or `containerd --version` (gather); absent or
// unreadable is 1.7 (AL2023's containerd before 2.x became the default), with a warning.
Version containerd_version(const Facts& f, Plan& plan) {
  if (f.containerd_version) {
    if (auto v = parse_version(*f.containerd_version)) return *v;
  }
  plan.diagnostics.push_back({Diagnostic::Level::Warning, "CONTAINERD_VERSION_UNKNOWN",
                              "cannot tell containerd's version (no /etc/eks/containerd-version.txt, no "
                              "`containerd --version`); writing the containerd 1.x (version 2) config"});
  return Version{1, 7, 0};
}

}  // namespace

std::string al2023_sandbox_image(const NodeSettings& s) {
  const NodeConfig& c = s.config;
  if (c.pause_container_account || c.pause_container_image) return s.pause_image;
  return nd::kNodeadmSandboxImage;
}

bool al2023_soci(const NodeConfig& c, const Facts& f) {
  return nd::soci_enabled(c.fast_image_pull, static_cast<long long>(f.vcpus) * 1000, f.online_memory_bytes);
}

UnitIntent al2023_containerd_unit(const NodeConfig& c, const Facts& f) {
  UnitIntent u{.unit = "containerd.service", .start_if_inactive = true, .restart_on_change = true};
  if (al2023_soci(c, f) && f.pause_tar_present) {
    u.then_run = {"ctr", "--namespace", "k8s.io", "images", "import", "--snapshotter", "soci",
                  "--discard-unpacked-layers=false", "--local", kPauseTarPath};
  }
  return u;
}

Status add_al2023_containerd_files(const NodeSettings& s, const Facts& f, Plan& plan) {
  const NodeConfig& c = s.config;
  const bool nvidia = f.accelerators.nvidia_runtime_installed;
  nd::ContainerdInput in{
      .containerd = containerd_version(f, plan),
      .kubelet = f.kubelet_version,
      .sandbox_image = al2023_sandbox_image(s),
      .soci = al2023_soci(s, f),
      .user_toml = c.containerd_config_toml,
  };
  if (nvidia) {
    in.runtime_name = "nvidia";
    in.runtime_binary = kNvidiaRuntimePath;
  }
  if (c.containerd_config_file && !c.containerd_config_file->empty() && f.containerd_config_user) {
    // bootstrap.sh's --containerd-config-file: the user's whole file, merged over nodeadm's
    // template as NodeConfig's containerd.config is (a NodeConfig config goes on top of it).
    in.user_toml = *f.containerd_config_user;
    if (c.containerd_config_toml) {
      AGENT_TRY(in.user_toml, nd::go_toml_merge(*in.user_toml, *c.containerd_config_toml));
    }
  }
  AGENT_TRY(nd::ContainerdOutput out, nd::containerd_config(in));
  if (out.v2_on_containerd2) {
    plan.diagnostics.push_back(
        {Diagnostic::Level::Info, "CONTAINERD_V2_CONFIG",
         "the user's containerd config uses version 2 plugin names, so the version 2 template is written; "
         "containerd 2 reads it and migrates it in memory (nodeadm would write `containerd config migrate`'s dump)"});
  }
  plan.files.push_back({.path = nd::kBaseRuntimeSpecPath, .bytes = nd::base_runtime_spec(c.base_runtime_spec),
                        .mode = 0644, .restarts = {kContainerd}, .configures = kContainerd});
  plan.files.push_back({.path = nd::kContainerdConfigPath, .bytes = std::move(out.toml), .mode = 0644,
                        .restarts = {kContainerd}, .configures = kContainerd});
  if (in.soci) {
    plan.files.push_back({.path = nd::kSociConfigPath, .bytes = nd::soci_snapshotter_config(), .mode = 0644,
                          .restarts = {"soci-snapshotter.service"}, .configures = kContainerd});
    plan.files.push_back({.path = nd::kSociContainerdDropinPath, .bytes = nd::soci_containerd_dropin(), .mode = 0644,
                          .unit_file = true, .restarts = {kContainerd}, .configures = kContainerd});
  } else if (c.fast_image_pull) {
    plan.diagnostics.push_back({Diagnostic::Level::Info, "SOCI_NOT_APPLIED",
                                fmt::format("FastImagePull needs 4 vCPUs and 7 GiB of memory; this node has {} vCPUs and "
                                            "{} MiB, so images are pulled without SOCI",
                                            f.vcpus, f.online_memory_bytes >> 20)});
  }
  plan.values["soci"] = in.soci;
  plan.values["containerdDefaultRuntime"] = in.runtime_name;
  plan.values["containerdConfigVersion"] = static_cast<int>(out.template_used);
  plan.values["sandboxImage"] = in.sandbox_image;
  return {};
}

}  // namespace agent::compute
