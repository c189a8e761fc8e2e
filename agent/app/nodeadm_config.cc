#include "agent/app/nodeadm_config.h"

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/app/resolve_config.h"
#include "agent/cli/config_sources.h"
#include "agent/userdata/merge.h"
#include "agent/userdata/user_data.h"

namespace agent::app {
namespace {

constexpr const char* kInternalApiVersion = "node.eks.aws/__internal";
constexpr const char* kApiVersion = "node.eks.aws/v1alpha1";

nlohmann::ordered_json spec_json(const userdata::NodeConfigSpec& spec) {
  nlohmann::ordered_json doc = userdata::to_document(spec);
  return doc.contains("spec") ? doc["spec"] : nlohmann::ordered_json::object();
}

struct Cache {
  nlohmann::ordered_json spec;
  CachedStatus status;
};

// The cache's spec and status; nullopt (with `why`) when it is not one of ours.
std::optional<Cache> parse_cache(std::string_view text, std::string& why) {
  auto j = nlohmann::ordered_json::parse(text, nullptr, false);
  if (!j.is_object() || j.value("apiVersion", "") != kInternalApiVersion || !j.contains("spec") ||
      !j["spec"].is_object()) {
    why = fmt::format("not a {} NodeConfig", kInternalApiVersion);
    return std::nullopt;
  }
  Cache c{.spec = j["spec"], .status = {}};
  const auto status = j.value("status", nlohmann::ordered_json::object());
  const auto inst = status.value("instance", nlohmann::ordered_json::object());
  auto str = [](const nlohmann::ordered_json& o, const char* k) {
    return o.contains(k) && o[k].is_string() ? o[k].get<std::string>() : std::string();
  };
  c.status = CachedStatus{.instance_id = str(inst, "id"),
                          .region = str(inst, "region"),
                          .instance_type = str(inst, "type"),
                          .availability_zone = str(inst, "availabilityZone"),
                          .mac = str(inst, "mac"),
                          .private_dns_name = str(inst, "privateDnsName"),
                          .kubelet_version = str(status, "kubeletVersion")};
  return c;
}

// The cached spec as a document again, through the same parser as any source.
Result<userdata::NodeConfigDoc> doc_from_cache(const nlohmann::ordered_json& spec, const std::string& path) {
  nlohmann::ordered_json doc = {{"apiVersion", kApiVersion}, {"kind", "NodeConfig"}, {"spec", spec}};
  AGENT_TRY(userdata::SourceConfigs parsed, userdata::parse_source(doc.dump(), "file://" + path));
  if (parsed.docs.empty()) return make_error(Errc::Invalid, "{}: the cached spec is not a NodeConfig", path);
  return userdata::merge_all(parsed.docs);
}

}  // namespace

Result<NodeadmConfig> resolve_nodeadm_config(const std::vector<std::string>& sources, const std::string& cache_path,
                                             Imds& imds, const RootFsReader& fs) {
  NodeadmConfig out;
  std::optional<Cache> cache;
  if (!cache_path.empty()) {
    auto text = fs.read(cache_path);
    std::string why;
    if (text) {
      cache = parse_cache(*text, why);
    } else if (text.error().code != Errc::NotFound) {
      why = text.error().message;
    }
    if (!why.empty()) out.warnings.push_back(fmt::format("failed to load cached config {}: {}", cache_path, why));
  }
  AGENT_TRY(ResolvedConfig resolved, resolve_config(sources, imds, fs));
  out.warnings.insert(out.warnings.end(), resolved.warnings.begin(), resolved.warnings.end());
  out.notes = resolved.notes;
  if (!resolved.merged) {
    if (!cache) {
      return make_error(Errc::Invalid, "no NodeConfig in {} (no config in chain){}", fmt::join(sources, ", "),
                        cache_path.empty() ? "" : fmt::format(", and no cache at {}", cache_path));
    }
    out.notes.push_back(fmt::format("no source holds a NodeConfig: falling back to the cached one ({})", cache_path));
    AGENT_TRY(out.doc, doc_from_cache(cache->spec, cache_path));
    out.from_cache = true;
    out.enrich = false;
    out.cached = cache->status;
    return out;
  }
  out.doc = std::move(*resolved.merged);
  if (cache && spec_json(out.doc.spec) == cache->spec) {
    out.notes.push_back(fmt::format("the NodeConfig is the one cached in {}: its instance details are reused", cache_path));
    out.enrich = false;
    out.cached = cache->status;
    return out;
  }
  out.changed = cache.has_value();
  return out;
}

std::string cache_document(const userdata::NodeConfigSpec& spec, const CachedStatus& s) {
  nlohmann::ordered_json doc = {
      {"apiVersion", kInternalApiVersion},
      {"kind", "NodeConfig"},
      {"metadata", nlohmann::ordered_json::object()},
      {"spec", spec_json(spec)},
      {"status",
       {{"instance",
         {{"id", s.instance_id},
          {"region", s.region},
          {"type", s.instance_type},
          {"availabilityZone", s.availability_zone},
          {"mac", s.mac},
          {"privateDnsName", s.private_dns_name}}},
        {"default", {{"sandboxImage", "localhost/kubernetes/pause:latest"}}},
        {"kubeletVersion", s.kubelet_version}}},
  };
  return doc.dump() + "\n";
}

CachedStatus cached_status_from(const Facts& f) {
  return CachedStatus{.instance_id = f.instance.instance_id,
                      .region = f.instance.region,
                      .instance_type = f.instance.instance_type,
                      .availability_zone = f.instance.availability_zone,
                      .mac = f.instance.mac,
                      .private_dns_name = f.ec2_private_dns_name.value_or(""),
                      .kubelet_version = "v" + f.kubelet_version.str()};
}

std::string dump_document(const userdata::NodeConfigSpec& spec) {
  nlohmann::ordered_json doc = {{"kind", "NodeConfig"},
                                {"apiVersion", kApiVersion},
                                {"metadata", nlohmann::ordered_json::object()},
                                {"spec", spec_json(spec)}};
  return doc.dump() + "\n";
}

Status check_nodeadm_cluster(const userdata::NodeConfigDoc& doc) {
  auto missing = [&](const char* field) -> Status {
    auto where = doc.fields.find("spec.cluster");
    const std::string at = where != doc.fields.end() ? where->second.str() + ": " : "";
    return make_error(Errc::Invalid, "{}{} is required: as nodeadm, the agent never asks EKS DescribeCluster for it",
                      at, field);
  };
  const auto& s = doc.spec;
  if (!s.api_server_endpoint || s.api_server_endpoint->empty()) return missing("spec.cluster.apiServerEndpoint");
  if (!s.certificate_authority || s.certificate_authority->empty()) return missing("spec.cluster.certificateAuthority");
  return {};
}

Status nodeadm_config_check(const std::vector<std::string>& sources, Imds& imds, const RootFsReader& fs) {
  AGENT_TRY(NodeadmConfig nc, resolve_nodeadm_config(sources, "", imds, fs));
  AGENT_TRY_STATUS(check_nodeadm_cluster(nc.doc));
  cli::Options o;
  o.node.platform = Platform::Al2023;
  o.config_sources = sources;
  std::vector<std::string> overridden;
  AGENT_TRY_STATUS(cli::apply_node_config(o, nc.doc, overridden));
  return cli::check_with_node_config(o, nc.doc);
}

}  // namespace agent::app
