#include "agent/app/run.h"

#include <unistd.h>

#include <fmt/format.h>

#include "agent/app/local_disks.h"
#include "agent/app/log.h"
#include "agent/app/resolve_config.h"
#include "agent/cli/config_sources.h"
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
  nlohmann::ordered_json warnings = nlohmann::ordered_json::array();
  for (const auto& w : out.report.warnings) warnings.push_back({{"id", w.id}, {"message", w.message}});
  nlohmann::ordered_json doc = {
      {"result", !result                    ? "failed"
                 : !out.nothing_to_do.empty() ? "nothing-to-do"
                 : out.report.offline         ? "configured-offline"
                                              : "success"},
      {"inputs", {{"sources", o.sources}, {"root", o.root}}},
      {"facts", nlohmann::json(out.facts)},
      {"values", out.plan.values},
      {"files", files},
      {"unitActions", actions},
      {"diagnostics", diags},
      {"warnings", warnings},
      {"phasesMs", out.phases_ms},
      {"elapsedMs", out.elapsed_ms},
  };
  if (!result) {
    doc["error"] = {{"code", errc_name(result.error().code)}, {"message", result.error().message}};
  }
  return doc.dump(2) + "\n";
}

// The config phase: NodeConfig documents from --config-source, under the flags. Returns false
// when there is nothing to do: no source held a NodeConfig, the flags name no cluster, and every
// source may legitimately hold none (user data that is an AL2 shell script, an empty drop-in dir).
Result<bool> apply_config_sources(cli::Options& o, RunPorts& ports, RunOutcome& out) {
  AGENT_TRY(ResolvedConfig resolved, resolve_config(o.config_sources, ports.imds, ports.fs));
  for (const auto& n : resolved.notes) log::info("NODECONFIG_SOURCE", "{}", n);
  for (const auto& w : resolved.warnings) log::warn("NODECONFIG_WARNING", "{}", w);
  if (!resolved.merged) {
    if (o.node.cluster_name.empty() && resolved.all_tolerant) {
      out.nothing_to_do = "no NodeConfig in user data; nothing to do";
      return false;
    }
    AGENT_TRY_STATUS(cli::check_node_config(o));
    return true;
  }
  std::vector<std::string> overridden;
  AGENT_TRY_STATUS(cli::apply_node_config(o, *resolved.merged, overridden));
  for (const auto& w : overridden) log::warn("NODECONFIG_OVERRIDDEN", "{}", w);
  AGENT_TRY_STATUS(cli::check_with_node_config(o, *resolved.merged));
  return true;
}

// Takes kLockPath, polling every kCancelPoll while another run holds it.
Result<std::unique_ptr<RootFs::Lock>> take_run_lock(RunPorts& ports, Deadline deadline) {
  const std::string note = fmt::format("pid {}\n", ::getpid());
  bool said = false;
  const auto since = ports.clock.now();
  for (;;) {
    AGENT_TRY(auto lock, ports.fs.try_lock(kLockPath, note));
    if (lock) {
      if (said) {
        log::info("LOCK_TAKEN", "took {} after waiting {} ms", kLockPath, ms_between(since, ports.clock.now()));
      }
      return lock;
    }
    std::string holder = ports.fs.read(kLockPath).value_or("");
    while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
    if (holder.empty()) holder = "unknown pid";
    if (!said) {
      log::emit(log::Level::Notice, "LOCK_WAIT",
                fmt::format("another eks-node-agent run ({}) holds {}; waiting for it to finish", holder,
                            kLockPath));
      said = true;
    }
    const auto now = ports.clock.now();
    if (now >= deadline) {
      return make_error(Errc::Timeout, "another eks-node-agent run ({}) held {} until this run's deadline", holder,
                        kLockPath);
    }
    if (!sleep_until(ports.clock, ports.cancel, std::min(deadline, now + kCancelPoll))) {
      return ports.cancel->interrupted(fmt::format("while waiting for {}", kLockPath));
    }
  }
}

}  // namespace

Status run_bootstrap(const cli::Options& given, RunPorts& ports, RunOutcome& out) {
  cli::Options o = given;  // NodeConfig documents fill in what the flags left unset
  const auto start = ports.clock.now();
  const Deadline deadline = start + o.timeout;
  auto phase_done = [&](const char* name, std::chrono::steady_clock::time_point since) {
    out.phases_ms[name] = ms_between(since, ports.clock.now());
  };

  // Between phases: stop before starting the next one.
  auto check_cancel = [&](std::string_view before) -> Status {
    if (!is_cancelled(ports.cancel)) return {};
    return ports.cancel->interrupted(fmt::format("before {}", before));
  };
  std::unique_ptr<RootFs::Lock> lock;  // released after the status file is written

  auto run = [&]() -> Status {
    auto t = ports.clock.now();
    if (!o.config_sources.empty()) {
      AGENT_TRY(bool proceed, apply_config_sources(o, ports, out));
      phase_done("config", t);
      if (!proceed) return {};
      t = ports.clock.now();
    }
    if (!o.dry_run) {
      AGENT_TRY_STATUS(check_cancel("taking the run lock"));
      AGENT_TRY(lock, take_run_lock(ports, deadline));
      phase_done("lock", t);
      t = ports.clock.now();
    }
    AGENT_TRY_STATUS(check_cancel("gathering facts"));
    AGENT_TRY(out.facts, gather(o.node, GatherPorts{ports.imds, ports.fs, ports.commands, ports.resolve,
                                                    ports.host_vcpus, ports.aws, &ports.clock, ports.cancel,
                                                    deadline}));
    phase_done("gather", t);
    log::info("GATHERED", "instance {} ({}) in {}, kubelet {} (from {}), {} vCPUs",
              out.facts.instance.instance_id, out.facts.instance.instance_type,
              out.facts.instance.availability_zone, out.facts.kubelet_version.str(),
              out.facts.kubelet_version_source, out.facts.vcpus);

    AGENT_TRY_STATUS(check_cancel("computing the plan"));
    t = ports.clock.now();
    AGENT_TRY(out.plan, compute::plan_node(o.node, out.facts));
    phase_done("compute", t);
    for (const auto& d : out.plan.diagnostics) {
      log::emit(d.level == Diagnostic::Level::Warning ? log::Level::Warning : log::Level::Info, d.id,
                d.message);
    }

    // Local instance storage before apply writes kubelet's and containerd's state and (re)starts
    // them, so that they never start on the root disk and then move.
    AGENT_TRY_STATUS(check_cancel("setting up local disks"));
    t = ports.clock.now();
    LocalDiskPorts disk_ports{ports.fs, ports.disk_commands ? *ports.disk_commands : ports.commands, ports.services,
                              deadline, ports.cancel};
    AGENT_TRY(std::string disks_text, setup_local_disks(o.node, disk_ports, o.dry_run, o.root == "/"));
    phase_done("disks", t);

    t = ports.clock.now();
    if (o.dry_run) {
      std::optional<Error> would_fail;
      out.dry_run = disks_text + describe_plan(out.plan, ports.fs, ports.services, ports.offline_services, &would_fail);
      phase_done("describe", t);
      if (would_fail) return *would_fail;  // the text is printed all the same
      return {};
    }
    auto applied = apply_plan(out.plan, ports.fs, ports.services, ports.clock,
                              ApplyOptions{deadline, o.kubelet_settle, ports.cancel, ports.mounter}, &out.report);
    phase_done("apply", t);
    if (!applied) return applied.error();
    return {};
  };

  Status result = run();
  if (!result && result.error().code == Errc::Interrupted) {
    result = make_error(Errc::Interrupted,
                        "interrupted by {}; no file was left half-written; re-run to finish (stopped: {})",
                        ports.cancel != nullptr ? ports.cancel->cause() : "a cancellation", result.error().message);
  }
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
  std::string warnings;
  for (const auto& w : o.report.warnings) {
    warnings += fmt::format("{} [{}] {}", warnings.empty() ? " warnings:" : ";", w.id, w.message);
  }
  return fmt::format(
      "cluster={} instance={} max-pods={} ({}) reserved cpu={} memory={} files changed={}/{} {}{} "
      "elapsed={}ms{}",
      v.value("cluster", ""), v.value("instanceType", ""), v.value("maxPods", 0),
      v.value("maxPodsSource", ""), v.value("kubeReservedCPU", ""), v.value("kubeReservedMemory", ""),
      o.report.changed(), o.report.files.size(), kubelet, gpus, o.elapsed_ms, warnings);
}

}  // namespace agent::app
