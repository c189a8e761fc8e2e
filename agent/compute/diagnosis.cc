#include "agent/compute/diagnosis.h"

#include <fmt/format.h>

namespace agent::compute {

std::string diagnose_unit_failure(const std::string& unit, const UnitState& state,
                                  const std::vector<std::string>& logs) {
  auto seen = [&logs](std::string_view needle) {
    for (const auto& l : logs) {
      if (l.find(needle) != std::string::npos) return true;
    }
    return false;
  };
  if (state.load_state == "not-found") {
    return fmt::format("{} is not installed: no unit file was found", unit);
  }
  if (seen("status=203/EXEC") || seen("Failed to locate executable") || seen("Failed at step EXEC")) {
    return fmt::format("{}'s program is missing or not executable (status 203/EXEC)", unit);
  }
  if (seen("failed to load kubelet config file") || seen("failed to load Kubelet config")) {
    return "kubelet rejected /etc/kubernetes/kubelet/kubelet-config.json; check the file and any "
           "--kubelet-extra-args that conflict with it";
  }
  if (seen("unknown flag") || seen("unknown shorthand flag")) {
    return "kubelet rejected a command-line flag; check --kubelet-extra-args";
  }
  // Only an error about the kubeconfig: kubelet names it in harmless lines too (its command line,
  // "FLAG: --kubeconfig=..." at --v=2).
  auto kubeconfig_error = [&logs]() {
    for (const auto& l : logs) {
      if (l.rfind("FLAG:", 0) == 0 || l.find("kubeconfig") == std::string::npos) continue;
      for (std::string_view word : {"invalid", "unable", "failed", "error", "no such file"}) {
        if (l.find(word) != std::string::npos) return true;
      }
    }
    return false;
  };
  if (kubeconfig_error()) {
    return "kubelet could not use its kubeconfig; check /var/lib/kubelet/kubeconfig and the CA";
  }
  if (seen("address already in use")) {
    return fmt::format("{} could not bind its port: another process holds it", unit);
  }
  if (state.result == "exit-code" || state.sub_state == "auto-restart") {
    return fmt::format("{} exited with an error right after starting (result {}); its journal lines "
                       "above say why; see `journalctl -u {}`",
                       unit, state.result.empty() ? "unknown" : state.result, unit);
  }
  return fmt::format("{} is {} ({}); see `journalctl -u {}`", unit, state.active_state,
                     state.sub_state, unit);
}

}  // namespace agent::compute
