// nodeadm-internal's entry point: argv (after the program name, or after `nodeadm-internal` when
// called as `eks-node-agent nodeadm-internal ...`) -> the real adapters -> exit status. Beside
// main.cc because it constructs platform adapters, which agent_app (agent/cli) does not link.
#pragma once
#include <string>
#include <vector>

namespace agent {

// Exit status: 0; 1 when the command failed (logged); 2 for a usage error.
int nodeadm_internal_main(const std::vector<std::string>& args);

}  // namespace agent
