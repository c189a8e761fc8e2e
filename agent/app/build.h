// Build mode's gather and apply (README "Build mode"): facts from the image root, then the plan
// from compute::plan_build applied in an order that keeps the root intact on failure:
//
//   1. fetch    every binary's .sha256, then each binary not already installed with that digest;
//               the optional instance-type table refresh. Nothing in the root changes before
//               every checksum has matched.
//   2. packages the package manager steps, inside the image (chroot for a root other than /)
//   3. facts    containerd's version, read once here so that boot mode never runs a binary
//   4. install  directories, then every file (binaries, this agent, config, settings, facts,
//               build-info.json) in one atomic batch (write_atomic_all), links, units enabled
//               offline
//   5. images   the container image cache, when asked for
#pragma once
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "agent/compute/build_plan.h"
#include "agent/ports/cancel.h"
#include "agent/ports/object_store.h"
#include "agent/ports/root_fs.h"
#include "agent/ports/service_manager.h"

namespace agent::app {

// Package managers are looked for in this order; the first found wins.
compute::BuildFacts gather_build_facts(const RootFsReader& fs);

struct BuildPorts {
  RootFs& fs;
  ObjectStore& store;
  ServiceManager& services;  // offline: enabling writes the [Install] symlinks
  // Runs argv inside the image and returns its stdout (main: chroot ROOT when ROOT is not /).
  std::function<Result<std::string>(const std::vector<std::string>& argv)> run_in_image;
  // The same for package steps, whose output the operator should see (main: straight to stderr).
  // Empty: run_in_image.
  std::function<Result<std::string>(const std::vector<std::string>& argv)> run_package_step;
  // This program's own bytes (installed as /usr/bin/eks-node-agent), in pieces: a binary with
  // debug info is tens of MiB.
  std::function<Status(const std::function<Status(std::string_view)>& sink)> read_self;
  // A progress observer for one download (may be empty, or return an empty function).
  std::function<FetchProgress(const compute::Download&)> progress;
  // Told when that download completed and matched its checksum (may be empty).
  std::function<void(const compute::Download&, std::uint64_t bytes)> downloaded;
  // refresh_instance_types: the eni-max-pods.txt bytes for the build region.
  std::function<Result<std::string>()> instance_table;
  // cache_container_images: pulls and tags the images (after the install step).
  std::function<Status(const compute::BuildPlan&)> cache_images;
  const CancelToken* cancel = nullptr;
  std::string agent_version;  // recorded in build-info.json
};

struct BuildReport {
  int fetched = 0;             // binaries downloaded and verified
  int verified_in_place = 0;   // binaries already installed with the published digest
  int skipped_optional = 0;    // optional binaries the bucket does not have
  int package_steps = 0;
  int created = 0, updated = 0, unchanged = 0;  // files, links and directories
  int units_enabled = 0;
  bool images_cached = false;
  std::string containerd_version;  // "" when containerd is not in the image
  std::vector<std::string> changed;  // paths created or updated, in order
};

Status run_build(const compute::BuildVars& vars, const compute::BuildPlan& plan, BuildPorts& ports,
                 BuildReport& report);

// One line for the log: "Kubernetes 1.30.4 (amd64): 3 binaries fetched, ...".
std::string build_summary(const compute::BuildVars& vars, const BuildReport& report);

// /etc/eks/build-info.json: the variables and the installed binaries' digests (no timestamps, so
// a re-run with the same inputs leaves it unchanged).
std::string build_info_json(const compute::BuildVars& vars,
                            const std::vector<std::pair<std::string, std::string>>& digests,
                            const std::string& containerd_version, const std::string& agent_version);

}  // namespace agent::app
