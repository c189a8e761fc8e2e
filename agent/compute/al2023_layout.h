// al2023_layout: the Amazon Linux 2023 rendering of a node's settings, the files nodeadm writes
// where it writes them (reference nodeadm.md 3.5-3.14), and the units its run phase acts on. Pure.
#pragma once
#include "agent/compute/node_settings.h"
#include "agent/model/facts.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

Status add_al2023_layout(const NodeSettings& settings, const Facts& facts, Plan& plan);

}  // namespace agent::compute

namespace agent::compute {

// The containerd part of the AL2023 layout (al2023_containerd.cc): config.toml from nodeadm's
// templates, the base runtime spec, SOCI. Errors: Invalid (V3 names on containerd 1.x), Parse.
Status add_al2023_containerd_files(const NodeSettings& settings, const Facts& facts, Plan& plan);

// The sandbox image on AL2023: the image's pre-cached localhost/kubernetes/pause:latest, unless
// the user named a pause image (--pause-container-account or PAUSE_CONTAINER_IMAGE).
std::string al2023_sandbox_image(const NodeSettings& settings);

// SOCI (FastImagePull): the gate on, 4 vCPUs or more and 7 GiB of online memory or more.
bool al2023_soci(const NodeConfig& config, const Facts& facts);
inline bool al2023_soci(const NodeSettings& settings, const Facts& facts) { return al2023_soci(settings.config, facts); }

// Where the image keeps the pause image as an archive (its cache-pause-container step).
inline constexpr const char* kPauseTarPath = "/etc/eks/pause.tar";

// containerd as nodeadm's run phase treats it: started when inactive, restarted on a changed input;
// with SOCI and the image's pause.tar, the pause image is imported into SOCI's snapshotter once
// containerd is up, every run (nodeadm's PostLaunch; without it containerd would pull it again).
UnitIntent al2023_containerd_unit(const NodeConfig& config, const Facts& facts);

}  // namespace agent::compute
