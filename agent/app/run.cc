#include "agent/app/run.h"

#include <unistd.h>

#include <functional>
#include <set>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/app/local_disks.h"
#include "agent/app/log.h"
#include "agent/app/nodeadm_config.h"
#include "agent/app/resolve_config.h"
#include "agent/cli/config_sources.h"
#include "agent/cli/nodeadm_cli.h"
#include "agent/app/gather.h"
#include "agent/compute/al2023_layout.h"
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

// nodeadm's nodeadm-environment aspect: instance.environment.default into the agent's own
// environment, before anything is asked of AWS. Names only are logged (values may hold credentials).
void apply_own_environment(const NodeConfig& n, RunPorts& ports) {
  const auto it = n.environment.find("default");
  if (it == n.environment.end() || it->second.empty() || !ports.set_own_environment) return;
  std::vector<std::string> names;
  for (const auto& [name, value] : it->second) names.push_back(name);
  log::info("OWN_ENVIRONMENT", "instance.environment.default sets {} for this run too (its AWS calls and commands)",
            fmt::join(names, ", "));
  ports.set_own_environment(it->second);
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
  apply_own_environment(o.node, ports);
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

// The steps both flows share (gather -> compute -> disks -> apply), each timed as a phase and
// preceded by a cancellation check. The bootstrap flow runs them once; nodeadm's splits them into
// its config phase (gather, compute, the files) and run phase (disks, containerd, kubelet).
struct Pipeline {
  cli::Options& o;
  RunPorts& ports;
  RunOutcome& out;
  Deadline deadline;

  void phase_done(const char* name, std::chrono::steady_clock::time_point since) {
    out.phases_ms[name] = ms_between(since, ports.clock.now());
  }
  Status check_cancel(std::string_view before) {
    if (!is_cancelled(ports.cancel)) return {};
    return ports.cancel->interrupted(fmt::format("before {}", before));
  }

  Status lock(std::unique_ptr<RootFs::Lock>& held) {
    if (o.dry_run) return {};  // a dry run takes no lock
    AGENT_TRY_STATUS(check_cancel("taking the run lock"));
    const auto t = ports.clock.now();
    AGENT_TRY(held, take_run_lock(ports, deadline));
    phase_done("lock", t);
    return {};
  }

  // Facts (the AWS fallbacks through `aws`, null: none; `known`: what need not be asked) and the plan.
  Status gather_and_compute(AwsApi* aws, const KnownFacts& known = {}) {
    AGENT_TRY_STATUS(check_cancel("gathering facts"));
    auto t = ports.clock.now();
    GatherPorts gather_ports{ports.imds, ports.fs, ports.commands, ports.resolve, ports.host_vcpus,
                             aws, &ports.clock, ports.cancel, deadline};
    if (o.nodeadm) gather_ports.private_dns_wait = cli::kNodeadmPrivateDnsWait;
    AGENT_TRY(out.facts, gather(o.node, gather_ports, known));
    phase_done("gather", t);
    log::info("GATHERED", "instance {} ({}) in {}, kubelet {} (from {}), {} vCPUs", out.facts.instance.instance_id,
              out.facts.instance.instance_type, out.facts.instance.availability_zone, out.facts.kubelet_version.str(),
              out.facts.kubelet_version_source, out.facts.vcpus);
    return compute();
  }
  Status compute() {
    AGENT_TRY_STATUS(check_cancel("computing the plan"));
    const auto t = ports.clock.now();
    AGENT_TRY(out.plan, compute::plan_node(o.node, out.facts));
    phase_done("compute", t);
    for (const auto& d : out.plan.diagnostics) {
      log::emit(d.level == Diagnostic::Level::Warning ? log::Level::Warning : log::Level::Info, d.id, d.message);
    }
    return {};
  }

  // Local instance storage, before kubelet and containerd are (re)started on it. Appends the dry
  // run's text.
  Status disks() {
    AGENT_TRY_STATUS(check_cancel("setting up local disks"));
    const auto t = ports.clock.now();
    LocalDiskPorts disk_ports{ports.fs, ports.disk_commands ? *ports.disk_commands : ports.commands, ports.services,
                              deadline, ports.cancel};
    AGENT_TRY(std::string text, setup_local_disks(o.node, disk_ports, o.dry_run, o.root == "/"));
    out.dry_run += text;
    phase_done("disks", t);
    return {};
  }

  // Applies (or describes) `plan`, leaving the jobs of `deferred` units owed (ApplyOptions).
  Status apply(const Plan& plan, const char* phase, const std::set<std::string>& deferred = {}) {
    const auto t = ports.clock.now();
    if (o.dry_run) {
      std::optional<Error> would_fail;
      out.dry_run += describe_plan(plan, ports.fs, ports.services, ports.offline_services, &would_fail, deferred);
      phase_done(phase, t);
      if (would_fail) return *would_fail;  // the text is printed all the same
      return {};
    }
    auto applied = apply_plan(plan, ports.fs, ports.services, ports.clock,
                              ApplyOptions{deadline, o.kubelet_settle, ports.cancel, ports.mounter, deferred, &ports.commands},
                              &out.report);
    phase_done(phase, t);
    if (!applied) return applied.error();
    return {};
  }
};

// The bootstrap flow: config sources, lock, gather, compute, disks, apply.
Status run_bootstrap_flow(Pipeline& p, std::unique_ptr<RootFs::Lock>& held) {
  if (!p.o.config_sources.empty()) {
    const auto t = p.ports.clock.now();
    AGENT_TRY(bool proceed, apply_config_sources(p.o, p.ports, p.out));
    p.phase_done("config", t);
    if (!proceed) return {};
  }
  AGENT_TRY_STATUS(p.lock(held));
  AGENT_TRY_STATUS(p.gather_and_compute(p.ports.aws));
  AGENT_TRY_STATUS(p.disks());
  return p.apply(p.out.plan, p.o.dry_run ? "describe" : "apply");
}

constexpr const char* kContainerdUnit = "containerd.service";
constexpr const char* kKubeletUnit = "kubelet.service";

// nodeadm's config resolution (with the cache) applied to the options. nodeadm names the node
// after EC2's PrivateDnsName unless the InstanceIdNodeName gate is on, and never asks EKS.
Result<NodeadmConfig> nodeadm_config_phase_inputs(Pipeline& p) {
  const auto t = p.ports.clock.now();
  AGENT_TRY(NodeadmConfig nc, resolve_nodeadm_config(p.o.config_sources, p.o.nodeadm->cache_path, p.ports.imds,
                                                     p.ports.fs));
  for (const auto& n : nc.notes) log::info("NODECONFIG_SOURCE", "{}", n);
  for (const auto& w : nc.warnings) log::warn("NODECONFIG_WARNING", "{}", w);
  AGENT_TRY_STATUS(check_nodeadm_cluster(nc.doc));
  std::vector<std::string> overridden;
  AGENT_TRY_STATUS(cli::apply_node_config(p.o, nc.doc, overridden));
  AGENT_TRY_STATUS(cli::check_with_node_config(p.o, nc.doc));
  apply_own_environment(p.o.node, p.ports);
  if (!p.o.node.instance_id_node_name) p.o.node.hostname_source = HostnameSource::Ec2;
  p.phase_done("config", t);
  return nc;
}

// nodeadm configures only the daemons --daemon names: the files of the others are left as they
// are (no owed restart either); the node's own files (environment and resolved drop-ins) are
// written whatever it names, as nodeadm's aspects are.
void keep_named_daemons(Plan& plan, const std::optional<std::set<std::string>>& only) {
  if (!only) return;
  std::set<std::string> skipped;
  auto skip = [&](const std::string& daemon) {
    if (daemon.empty() || only->count(daemon) != 0) return false;
    skipped.insert(daemon);
    return true;
  };
  std::erase_if(plan.files, [&](const FileWrite& w) { return skip(w.configures); });
  std::erase_if(plan.removals, [&](const FileRemoval& r) { return skip(r.configures); });
  if (!skipped.empty()) {
    log::info("DAEMON_NOT_CONFIGURED", "--daemon does not name {}: its configuration is left as it is",
              fmt::join(skipped, ", "));
  }
}

// nodeadm's config phase: the files (of the daemons --daemon names), daemon-reload and
// systemd-resolved; containerd and kubelet are deferred (their owed restarts stay in kPendingPath
// for the run phase, which may be another process). An unchanged spec reuses the cached instance
// details: no EC2 call. Then the cache.
Status nodeadm_config_phase(Pipeline& p, const NodeadmConfig& nc) {
  KnownFacts known;
  if (!nc.enrich && nc.cached && !nc.cached->private_dns_name.empty()) {
    known.ec2_private_dns_name = nc.cached->private_dns_name;
  }
  AGENT_TRY_STATUS(p.gather_and_compute(nc.enrich ? p.ports.aws : nullptr, known));
  keep_named_daemons(p.out.plan, p.o.nodeadm->daemons);
  AGENT_TRY_STATUS(p.apply(p.out.plan, "apply", {kContainerdUnit, kKubeletUnit}));
  const std::string& cache = p.o.nodeadm->cache_path;
  if (p.o.dry_run || cache.empty()) return {};
  const CachedStatus status = nc.enrich || !nc.cached ? cached_status_from(p.out.facts) : *nc.cached;
  auto wrote = p.ports.fs.write_atomic(cache, cache_document(nc.doc.spec, status), 0644);
  if (!wrote) log::warn("CACHE_NOT_WRITTEN", "failed to cache config in {}: {}", cache, wrote.error().message);
  return {};
}

// containerd's intent in the run phase: the config phase's when it ran in this process, else
// decided again from the host (SOCI's pause image import depends on its size), as nodeadm does.
UnitIntent containerd_run_intent(Pipeline& p) {
  for (const auto& u : p.out.plan.units) {
    if (u.unit == kContainerdUnit) return u;
  }
  return compute::al2023_containerd_unit(p.o.node, gather_soci_facts(p.ports.fs, p.ports.host_vcpus));
}

// nodeadm's run phase: the marker, local disks, then containerd and kubelet (those --daemon names):
// restarted when an input changed (now or in an earlier config phase), started when inactive.
Status nodeadm_run_phase(Pipeline& p) {
  if (!p.ports.fs.exists(kCloudInitResultPath)) {
    log::warn("NO_CLOUD_INIT_RESULT", "cloud-init result file {} does not exist; do not call nodeadm by hand "
              "from user data", kCloudInitResultPath);
  }
  Plan run;
  run.files.push_back({.path = kNodeadmMarkerPath, .bytes = "", .mode = 0644});
  AGENT_TRY_STATUS(p.apply(run, "marker", {kContainerdUnit, kKubeletUnit}));  // keeps their owed restarts
  AGENT_TRY_STATUS(p.disks());
  run.files.clear();
  std::set<std::string> deferred;
  const auto& only = p.o.nodeadm->daemons;
  for (const char* unit : {kContainerdUnit, kKubeletUnit}) {
    if (only && only->count(unit) == 0) {
      deferred.insert(unit);
      continue;
    }
    if (std::string_view(unit) == kContainerdUnit) {
      run.units.push_back(containerd_run_intent(p));
    } else {
      run.units.push_back({.unit = unit, .start_if_inactive = true, .restart_on_change = true,
                           .check_stays_up = true});
    }
  }
  return p.apply(run, "run", deferred);
}

// nodeadm init (README "nodeadm command line"): resolution, lock, the config phase unless
// skipped (or forced: the spec differs from the cache, nodeadm's needsRecache), the run phase
// unless skipped.
Status run_nodeadm_flow(Pipeline& p, std::unique_ptr<RootFs::Lock>& held) {
  AGENT_TRY(NodeadmConfig nc, nodeadm_config_phase_inputs(p));
  AGENT_TRY_STATUS(p.lock(held));
  const cli::NodeadmPhases& phases = *p.o.nodeadm;
  const bool forced = !phases.config && !phases.cache_path.empty() && nc.changed;
  if (forced) {
    log::info("NODEADM_CONFIG_CHANGED", "the NodeConfig differs from the one cached in {}: running the config "
              "phase despite --skip config", phases.cache_path);
  }
  if (phases.config || forced) AGENT_TRY_STATUS(nodeadm_config_phase(p, nc));
  if (phases.run) AGENT_TRY_STATUS(nodeadm_run_phase(p));
  return {};
}

}  // namespace

Status run_bootstrap(const cli::Options& given, RunPorts& ports, RunOutcome& out) {
  cli::Options o = given;  // NodeConfig documents fill in what the flags left unset
  const auto start = ports.clock.now();
  std::unique_ptr<RootFs::Lock> lock;  // released after the status file is written
  Pipeline pipeline{o, ports, out, start + o.timeout};
  Status result = o.nodeadm ? run_nodeadm_flow(pipeline, lock) : run_bootstrap_flow(pipeline, lock);
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
  std::string kubelet = "kubelet unchanged";
  for (const auto& a : o.report.actions) {
    if (a.unit == "kubelet.service" && (a.verb == "start" || a.verb == "restart")) {
      kubelet = fmt::format("kubelet {} {}", a.verb, a.result);
    }
  }
  if (v.empty() && !o.report.files.empty()) {  // nodeadm's run phase alone: no plan was computed
    return fmt::format("run phase: files changed={}/{} {} elapsed={}ms", o.report.changed(), o.report.files.size(),
                       kubelet, o.elapsed_ms);
  }
  if (v.empty()) return fmt::format("no plan (failed after {} ms)", o.elapsed_ms);
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
