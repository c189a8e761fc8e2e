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
