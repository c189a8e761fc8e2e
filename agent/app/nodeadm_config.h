// nodeadm's config resolution with its cache (README "nodeadm command line"): the sources are
// read and merged as by resolve_config; --config-cache PATH keeps the spec and the instance
// details enrichment found, so that the run phase (another process, after cloud-init) neither asks
// IMDS for the identity nor EC2 for the node name again when nothing changed.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include <nlohmann/json.hpp>

#include "agent/model/facts.h"
#include "agent/model/result.h"
#include "agent/ports/imds.h"
#include "agent/ports/root_fs.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::app {

// The marker the run phase leaves for nodeadm-internal udev-net-manager (and the image's units).
inline constexpr const char* kNodeadmMarkerPath = "/run/nodeadm/init";
inline constexpr const char* kCloudInitResultPath = "/run/cloud-init/result.json";

// The cache's status: what enrichment learnt (nodeadm's internal status).
struct CachedStatus {
  std::string instance_id, region, instance_type, availability_zone, mac, private_dns_name;
  std::string kubelet_version;
  bool operator==(const CachedStatus&) const = default;
};

struct NodeadmConfig {
  userdata::NodeConfigDoc doc;
  std::vector<std::string> warnings;  // unknown fields, MIME leniencies, an unreadable cache
  std::vector<std::string> notes;     // what each source held, whether the cache was used
  bool from_cache = false;  // no source held a NodeConfig: the cached one is used
  bool changed = false;     // a cache was loaded and the sources' spec differs from it
  bool enrich = true;       // false: `cached` holds the instance details (same spec as the cache)
  std::optional<CachedStatus> cached;
};

// Reads `cache_path` ("" for none; a missing or unreadable cache is a warning, not an error) and
// the sources (resolve_config). Errors: those of resolve_config; Invalid "no NodeConfig in ..."
// when no source holds one and there is no cache.
Result<NodeadmConfig> resolve_nodeadm_config(const std::vector<std::string>& sources, const std::string& cache_path,
                                             Imds& imds, const RootFsReader& fs);

// The cache file: compact JSON, apiVersion node.eks.aws/__internal, metadata, spec, status. Pure.
std::string cache_document(const userdata::NodeConfigSpec& spec, const CachedStatus& status);

// The status to cache after a gather.
CachedStatus cached_status_from(const Facts& facts);

// `nodeadm config dump`: the spec as a compact v1alpha1 NodeConfig, newline-terminated. Pure.
std::string dump_document(const userdata::NodeConfigSpec& spec);

// nodeadm never asks EKS DescribeCluster: the NodeConfig itself must carry the API server
// endpoint and the CA. Errors: Invalid naming the field (and where the cluster section is).
Status check_nodeadm_cluster(const userdata::NodeConfigDoc& doc);

// `nodeadm config check`: the sources read and merged (no cache), then every check a run makes
// before gathering. Errors: as resolve_nodeadm_config, check_with_node_config.
Status nodeadm_config_check(const std::vector<std::string>& sources, Imds& imds, const RootFsReader& fs);

}  // namespace agent::app
