// A one-line diagnosis of a unit that failed, from its state and last journal lines. Pure.
#pragma once
#include <string>
#include <vector>

#include "agent/ports/service_manager.h"

namespace agent::compute {

// E.g. "kubelet's binary is missing or not executable (status 203/EXEC): check /usr/bin/kubelet".
// Falls back to a generic hint naming the unit and `journalctl -u`.
std::string diagnose_unit_failure(const std::string& unit, const UnitState& state,
                                  const std::vector<std::string>& logs);

}  // namespace agent::compute
