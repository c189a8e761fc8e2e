#include "agent/app/run.h"

#include <fmt/format.h>

#include "agent/app/log.h"
#include "agent/compute/plan_node.h"

namespace agent::app {
namespace {

long ms_between(std::chrono::steady_clock::time_point a, std::chrono::steady_clock::time_point b) {
  return static_cast<long>(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
}

std::string status_document(const cli::Options& o, const RunOutcome& out, const Status& result) {
  nlohmann::ordered_json files = nlohmann::ordered_json::array();
  for (const auto& f : out.report.files) files.push_back({{"path", f.path}, {"outcome", f.outcome}});
  nlohmann::ordered_json actions = nlohmann::ordered_json::array();
  for (const auto& a : out.report.actions) {
    actions.push_back({{"unit", a.unit}, {"verb", a.verb}, {"result", a.result}});
  }
  nlohmann::ordered_json diags = nlohmann::ordered_json::array();
  for (const auto& d : out.plan.diagnostics) diags.push_back({{"id", d.id}, {"message", d.message}});
  nlohmann::ordered_json doc = {
      {"result", result ? (out.report.offline ? "configured-offline" : "success") : "failed"},
      {"inputs", {{"sources", o.sources}, {"root", o.root}}},
      {"facts", nlohmann::json(out.facts)},
      {"values", out.plan.values},
      {"files", files},
      {"unitActions", actions},
      {"diagnostics", diags},
      {"phasesMs", out.phases_ms},
      {"elapsedMs", out.elapsed_ms},
  };
  if (!result) {
    doc["error"] = {{"code", errc_name(result.error().code)}, {"message", result.error().message}};
  }
  return doc.dump(2) + "\n";
}

}  // namespace

Status run_bootstrap(const cli::Options& o, RunPorts& ports, RunOutcome& out) {
  const auto start = ports.clock.now();
  const Deadline deadline = start + o.timeout;
  auto phase_done = [&](const char* name, std::chrono::steady_clock::time_point since) {
    out.phases_ms[name] = ms_between(since, ports.clock.now());
  };

  auto run = [&]() -> Status {
    auto t = ports.clock.now();
    AGENT_TRY(out.facts, gather(o.node, GatherPorts{ports.imds, ports.fs, ports.commands,
                                                    ports.resolve, ports.host_vcpus}));
    phase_done("gather", t);
    log::info("GATHERED", "instance {} ({}) in {}, kubelet {} (from {}), {} vCPUs",
              out.facts.instance.instance_id, out.facts.instance.instance_type,
              out.facts.instance.availability_zone, out.facts.kubelet_version.str(),
              out.facts.kubelet_version_source, out.facts.vcpus);

    t = ports.clock.now();
    AGENT_TRY(out.plan, compute::plan_node(o.node, out.facts));
    phase_done("compute", t);
    for (const auto& d : out.plan.diagnostics) {
      log::emit(d.level == Diagnostic::Level::Warning ? log::Level::Warning : log::Level::Info, d.id,
                d.message);
    }

    t = ports.clock.now();
    if (o.dry_run) {
      out.dry_run = describe_plan(out.plan, ports.fs, ports.services);
      phase_done("describe", t);
      return {};
    }
    auto applied = apply_plan(out.plan, ports.fs, ports.services, ports.clock,
                              ApplyOptions{deadline, o.kubelet_settle}, &out.report);
    phase_done("apply", t);
    if (!applied) return applied.error();
    return {};
  };

  Status result = run();
  out.elapsed_ms = ms_between(start, ports.clock.now());
  if (!o.dry_run) {
    auto wrote = ports.fs.write_atomic(kStatusPath, status_document(o, out, result), 0644);
    if (!wrote) log::warn("STATUS_NOT_WRITTEN", "{}: {}", kStatusPath, wrote.error().message);
  }
  return result;
}

std::string summary_line(const RunOutcome& o) {
  const auto& v = o.plan.values;
  if (v.empty()) return fmt::format("no plan (failed after {} ms)", o.elapsed_ms);
  std::string kubelet = "kubelet unchanged";
  for (const auto& a : o.report.actions) {
    if (a.unit == "kubelet.service" && (a.verb == "start" || a.verb == "restart")) {
      kubelet = fmt::format("kubelet {} {}", a.verb, a.result);
    }
  }
  std::string gpus;
  if (const int n = v.value("nvidiaGPUs", 0); n > 0) {
    gpus = fmt::format(" gpus={} runtime={}", n, v.value("containerdDefaultRuntime", ""));
  }
  return fmt::format(
      "cluster={} instance={} max-pods={} ({}) reserved cpu={} memory={} files changed={}/{} {}{} "
      "elapsed={}ms",
      v.value("cluster", ""), v.value("instanceType", ""), v.value("maxPods", 0),
      v.value("maxPodsSource", ""), v.value("kubeReservedCPU", ""), v.value("kubeReservedMemory", ""),
      o.report.changed(), o.report.files.size(), kubelet, gpus, o.elapsed_ms);
}

}  // namespace agent::app
