// al2_layout: the Amazon Linux 2 rendering of a node's settings, the files bootstrap.sh wrote
// (README "Files (AL2 layout)"), and the units it acted on. Pure.
#pragma once
#include "agent/compute/node_settings.h"
#include "agent/model/facts.h"
#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute {

// Adds the AL2 files, removals, units (bpf mount, containerd, kubelet) and diagnostics to `plan`.
// Errors: Parse (a malformed kubelet-config.json or containerd TOML), Invalid (a drop-in value
// systemd cannot hold, such as a newline in the kubelet flags).
Status add_al2_layout(const NodeSettings& settings, const Facts& facts, Plan& plan);

}  // namespace agent::compute
