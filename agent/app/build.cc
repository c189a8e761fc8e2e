#include "agent/app/build.h"

#include <optional>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "agent/app/log.h"
#include "agent/compute/containerd_config.h"
#include "agent/compute/plan_node.h"
#include "agent/compute/sha256.h"

namespace agent::app {
namespace {

using compute::Download;

struct Fetched {
  const Download* download;
  std::string digest;
  // The downloaded object in a temp file beside its target; null: already installed with this
  // digest.
  std::unique_ptr<RootFs::StagedFile> staged;
};

// The SHA-256 of an installed file, hashed in pieces (a re-run must not hold every binary in
// memory); nullopt when it is absent or unreadable.
std::optional<std::string> installed_digest(const RootFsReader& fs, const std::string& path) {
  if (!fs.exists(path)) return std::nullopt;
  compute::Sha256 hash;
  if (!fs.read_chunks(path, [&](std::string_view piece) { hash.update(piece); })) return std::nullopt;
  return hash.hex_digest();
}

// Step 1 for one binary. Returns nullopt in `out` for an optional binary the bucket lacks.
Status fetch_one(const Download& d, BuildPorts& ports, std::optional<Fetched>& out, BuildReport& report) {
  const std::string sum_key = d.key + ".sha256";
  auto sum = ports.store.get(sum_key, {});
  if (!sum) {
    if (sum.error().code == Errc::NotFound && d.optional) {
      log::info("BUILD_OPTIONAL_ABSENT", "{} is not in the bucket ({}): skipped", d.name,
                ports.store.url_of(sum_key));
      ++report.skipped_optional;
      return {};
    }
    if (sum.error().code == Errc::NotFound) {
      return make_error(Errc::NotFound, "{} is missing: refusing to install {} without its published checksum; "
                        "check kubernetes_version, kubernetes_build_date and arch against the bucket",
                        ports.store.url_of(sum_key), d.name);
    }
    return sum.error().wrap("fetching the checksum of {}", d.name);
  }
  const std::string digest = compute::parse_sha256_file(*sum);
  if (digest.empty()) {
    return make_error(Errc::Invalid, "{} does not hold a SHA-256 digest (expected '<64 hex digits>  {}')",
                      ports.store.url_of(sum_key), d.name);
  }
  if (installed_digest(ports.fs, d.path) == digest) {
    ++report.verified_in_place;
    out = Fetched{&d, digest, nullptr};
    return {};
  }
  // Streamed into a temp file beside the target and hashed on the way: a release is hundreds of
  // MiB and is never held in memory. The temp file is renamed only by the install batch, after
  // every binary has matched; on any failure it is removed.
  AGENT_TRY(std::unique_ptr<RootFs::StagedFile> staged, ports.fs.stage_file(d.path, d.mode));
  compute::Sha256 hash;
  std::uint64_t size = 0;
  const ObjectStore::Sink sink{
      .write = [&](std::string_view piece) -> Status {
        hash.update(piece);
        size += piece.size();
        return staged->write(piece);
      },
      .restart = [&]() -> Status {
        hash = compute::Sha256();
        size = 0;
        return staged->truncate();
      }};
  FetchProgress progress = ports.progress ? ports.progress(d) : FetchProgress{};
  if (auto got = ports.store.get_to(d.key, sink, progress); !got) {
    if (got.error().code == Errc::NotFound) {
      return make_error(Errc::NotFound, "{} is missing (its checksum file exists); the bucket's release is "
                        "incomplete", ports.store.url_of(d.key));
    }
    return got.error().wrap("fetching {}", d.name);
  }
  const std::string actual = hash.hex_digest();
  if (actual != digest) {
    return make_error(Errc::Invalid, "checksum mismatch for {}: {} says {}, the object's SHA-256 is {}; "
                      "nothing was installed",
                      ports.store.url_of(d.key), ports.store.url_of(sum_key), digest, actual);
  }
  ++report.fetched;
  if (ports.downloaded) ports.downloaded(d, size);
  out = Fetched{&d, digest, std::move(staged)};
  return {};
}

void count(WriteOutcome o, const std::string& path, BuildReport& report) {
  switch (o) {
    case WriteOutcome::Created: ++report.created; report.changed.push_back(path); break;
    case WriteOutcome::Updated: ++report.updated; report.changed.push_back(path); break;
    case WriteOutcome::Unchanged: ++report.unchanged; break;
  }
}

bool has_containerd(const RootFsReader& fs) {
  return fs.exists("/usr/bin/containerd") || fs.exists("/usr/local/bin/containerd");
}

}  // namespace

compute::BuildFacts gather_build_facts(const RootFsReader& fs) {
  compute::BuildFacts f;
  for (const char* dir : {"/usr/bin/", "/bin/"}) {
    if (f.package_manager != compute::PackageManager::None) break;
    if (fs.exists(std::string(dir) + "dnf")) f.package_manager = compute::PackageManager::Dnf;
    else if (fs.exists(std::string(dir) + "yum")) f.package_manager = compute::PackageManager::Yum;
    else if (fs.exists(std::string(dir) + "apt-get")) f.package_manager = compute::PackageManager::Apt;
  }
  f.agent_unit_packaged = fs.exists(std::string("/usr/lib/systemd/system/") + compute::kAgentUnit) ||
                          fs.exists(std::string("/lib/systemd/system/") + compute::kAgentUnit);
  if (auto c = fs.read(compute::kCredentialProviderPath)) f.credential_provider_config = std::move(c).value();
  return f;
}

std::string build_info_json(const compute::BuildVars& vars,
                            const std::vector<std::pair<std::string, std::string>>& digests,
                            const std::string& containerd_version, const std::string& agent_version) {
  nlohmann::ordered_json doc;
  doc["agentVersion"] = agent_version;
  nlohmann::ordered_json variables = nlohmann::ordered_json::object();
  for (const auto& v : vars.all) variables[v.name] = v.value;
  doc["variables"] = variables;
  doc["kubernetesVersion"] = vars.kubernetes_version_text;
  doc["arch"] = vars.arch;
  doc["kernelVersion"] = vars.kernel_version;
  if (!containerd_version.empty()) doc["containerdVersion"] = containerd_version;
  nlohmann::ordered_json binaries = nlohmann::ordered_json::object();
  for (const auto& [path, digest] : digests) binaries[path] = {{"sha256", digest}};
  doc["binaries"] = binaries;
  return doc.dump(2) + "\n";
}

Status run_build(const compute::BuildVars& vars, const compute::BuildPlan& plan, BuildPorts& ports,
                 BuildReport& report) {
  if (plan.blocked) return *plan.blocked;  // a step that cannot run here: change nothing
  // --- 1. fetch and verify: nothing in the root changes before this is complete --------------
  std::vector<Fetched> fetched;
  for (const auto& d : plan.downloads) {
    if (is_cancelled(ports.cancel)) return ports.cancel->interrupted("while fetching binaries");
    std::optional<Fetched> one;
    AGENT_TRY_STATUS(fetch_one(d, ports, one, report));
    if (one) fetched.push_back(std::move(*one));
  }
  std::vector<FileWrite> files = plan.files;
  if (plan.refresh_instance_types) {
    if (!ports.instance_table) return make_error(Errc::Internal, "no instance type lister wired");
    AGENT_TRY(std::string table, ports.instance_table());
    for (auto& f : files) {
      if (f.path == compute::kEniMaxPodsPath) f.bytes = std::move(table);
    }
  }
  if (plan.cache_container_images && plan.packages.empty() && !has_containerd(ports.fs)) {
    return make_error(Errc::Unavailable,
                      "cache_container_images=true needs containerd in the image, and it has none "
                      "(/usr/bin/containerd) while install_packages=false; install containerd first or set "
                      "cache_container_images=false");
  }
  // This agent: staged (streamed) only when the installed copy differs, so a re-run rewrites nothing.
  compute::Sha256 self_hash;
  AGENT_TRY_STATUS(ports.read_self([&](std::string_view piece) -> Status {
    self_hash.update(piece);
    return {};
  }));
  const std::string self_digest = self_hash.hex_digest();
  std::unique_ptr<RootFs::StagedFile> self_staged;
  if (installed_digest(ports.fs, compute::kAgentBinaryPath) != self_digest) {
    AGENT_TRY(self_staged, ports.fs.stage_file(compute::kAgentBinaryPath, 0755));
    AGENT_TRY_STATUS(ports.read_self([&](std::string_view piece) { return self_staged->write(piece); }));
  }

  // --- 2. packages ---------------------------------------------------------------------------
  for (const auto& step : plan.packages) {
    if (is_cancelled(ports.cancel)) return ports.cancel->interrupted("between package steps");
    std::string cmd;
    for (const auto& w : step.argv) cmd += (cmd.empty() ? "" : " ") + w;
    log::info("BUILD_PACKAGE", "{}: {}", step.why, cmd);
    auto r = ports.run_package_step ? ports.run_package_step(step.argv) : ports.run_in_image(step.argv);
    if (!r) return r.error().wrap("package step '{}' ({}) failed", step.why, cmd);
    ++report.package_steps;
  }

  // --- 3. facts boot mode reads instead of running binaries ---------------------------------
  if (has_containerd(ports.fs)) {
    auto out = ports.run_in_image({"containerd", "--version"});
    std::optional<Version> v = out ? parse_version(*out) : std::nullopt;
    if (!v) {
      return make_error(Errc::Invalid, "cannot tell containerd's version in the image ({}); boot mode needs "
                        "it in {}", out ? "`containerd --version` printed none" : out.error().message,
                        compute::kContainerdVersionPath);
    }
    report.containerd_version = v->str();
    files.push_back({.path = compute::kContainerdVersionPath, .bytes = report.containerd_version + "\n"});
  } else {
    log::warn("BUILD_NO_CONTAINERD", "containerd is not in the image: {} not written; boot mode will assume "
              "containerd 1.x", compute::kContainerdVersionPath);
  }

  // --- 4. install ----------------------------------------------------------------------------
  if (is_cancelled(ports.cancel)) return ports.cancel->interrupted("before installing");
  for (const auto& dir : plan.directories) {
    AGENT_TRY(WriteOutcome o, ports.fs.make_directory(dir, 0755));
    count(o, dir, report);
  }
  std::vector<std::pair<std::string, std::string>> digests;
  std::vector<RootFs::FileContent> batch;
  for (const auto& f : fetched) {
    digests.emplace_back(f.download->path, f.digest);
    if (f.staged) batch.push_back({.path = f.download->path, .mode = f.download->mode, .staged = f.staged.get()});
  }
  if (self_staged) {
    batch.push_back({.path = compute::kAgentBinaryPath, .mode = 0755, .staged = self_staged.get()});
  } else {
    ++report.unchanged;
  }
  for (const auto& f : files) batch.push_back({.path = f.path, .bytes = f.bytes, .mode = f.mode});
  const std::string info = build_info_json(vars, digests, report.containerd_version, ports.agent_version);
  batch.push_back({.path = compute::kBuildInfoPath, .bytes = info, .mode = 0644});
  AGENT_TRY(std::vector<WriteOutcome> outcomes, ports.fs.write_atomic_all(batch, ports.cancel));
  for (size_t i = 0; i < outcomes.size(); ++i) count(outcomes[i], batch[i].path, report);
  for (const auto& l : plan.links) {
    AGENT_TRY(WriteOutcome o, ports.fs.symlink(l.target, l.link));
    count(o, l.link, report);
  }
  for (const auto& unit : plan.enable_units) {
    AGENT_TRY_STATUS(ports.services.enable(unit));
    ++report.units_enabled;
  }

  // --- 5. images -----------------------------------------------------------------------------
  if (plan.cache_container_images) {
    if (!ports.cache_images) return make_error(Errc::Internal, "no image cache wired");
    AGENT_TRY_STATUS(ports.cache_images(plan));
    report.images_cached = true;
  }
  return {};
}

std::string build_summary(const compute::BuildVars& vars, const BuildReport& r) {
  std::string s = fmt::format("Kubernetes {} ({}): {} binaries fetched, {} already installed and verified",
                              vars.kubernetes_version_text, vars.arch, r.fetched, r.verified_in_place);
  if (r.skipped_optional > 0) s += fmt::format(", {} optional absent", r.skipped_optional);
  s += fmt::format("; {} package steps; {} created, {} updated, {} unchanged; {} unit(s) enabled", r.package_steps,
                   r.created, r.updated, r.unchanged, r.units_enabled);
  s += r.containerd_version.empty() ? "; no containerd" : "; containerd " + r.containerd_version;
  s += r.images_cached ? "; images cached" : "";
  return s;
}

}  // namespace agent::app
