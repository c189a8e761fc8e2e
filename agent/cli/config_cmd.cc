#include "agent/cli/config_cmd.h"

#include <algorithm>
#include <ostream>

#include <fmt/format.h>
#include <fmt/ranges.h>

#include "agent/app/resolve_config.h"
#include "agent/cli/config_sources.h"
#include "agent/compute/kubelet_args.h"
#include "agent/userdata/node_config_doc.h"

namespace agent::cli {
namespace {

constexpr const char* kAnnotationPrefix = "node-agent.eks.aws/source.";

// Which source set each field of `spec`, down to spec.<section>.<field>.
std::map<std::string, std::string> field_sources(const userdata::NodeConfigDoc& doc) {
  std::map<std::string, std::string> out;
  for (const auto& [path, origin] : doc.fields) {
    if (std::count(path.begin(), path.end(), '.') > 2 || path.find('[') != std::string::npos) continue;
    out[path] = origin.str();
  }
  return out;
}

// The effective spec: the documents' fields, with those a flag won replaced by the flag's value.
userdata::NodeConfigSpec effective_spec(const Options& o, userdata::NodeConfigSpec s,
                                        std::map<std::string, std::string>& sources) {
  auto flag = [&](const char* name, const char* field) {
    if (o.given.count(name) == 0) return false;
    sources[field] = name;
    return true;
  };
  const NodeConfig& n = o.node;
  if (flag("--cluster", "spec.cluster.name")) s.name = n.cluster_name;
  if (flag("--apiserver-endpoint", "spec.cluster.apiServerEndpoint")) s.api_server_endpoint = n.apiserver_endpoint;
  if (flag("--b64-cluster-ca", "spec.cluster.certificateAuthority")) s.certificate_authority = n.b64_cluster_ca;
  if (flag("--service-ipv4-cidr", "spec.cluster.cidr")) s.cidr = n.service_ipv4_cidr;
  if (flag("--service-ipv6-cidr", "spec.cluster.cidr")) s.cidr = n.service_ipv6_cidr;
  if (flag("--enable-local-outpost", "spec.cluster.enableOutpost")) s.enable_outpost = n.enable_local_outpost;
  if (flag("--cluster-id", "spec.cluster.id")) s.id = n.cluster_id;
  if (flag("--local-disks", "spec.instance.localStorage")) s.local_storage_strategy = n.local_disks;
  s.kubelet_config = n.kubelet_config;  // without a clusterDNS that --dns-cluster-ip overrode
  if (o.given.count("--containerd-config-file")) s.containerd_config.reset();
  return s;
}

}  // namespace

Result<ConfigCommand> parse_config_args(const std::vector<std::string>& args, const Getenv& getenv) {
  ConfigCommand c;
  if (args.empty() || args[0] == "-h" || args[0] == "--help") {
    c.help = true;
    if (args.empty()) return make_error(Errc::Usage, "config needs a verb: check or dump");
    return c;
  }
  if (args[0] == "check") {
    c.verb = ConfigCommand::Verb::Check;
  } else if (args[0] == "dump") {
    c.verb = ConfigCommand::Verb::Dump;
  } else {
    return make_error(Errc::Usage, "config: unknown verb '{}' (check or dump)", args[0]);
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  bool has_source = false;
  for (const auto& a : rest) {
    if (a == "-h" || a == "--help") {
      c.help = true;
      return c;
    }
    if (a == "--config-source" || a.starts_with("--config-source=")) has_source = true;
  }
  if (!has_source) {
    for (const auto& s : boot_config_sources()) {
      rest.push_back("--config-source");
      rest.push_back(s);
    }
  }
  AGENT_TRY(c.options, parse_bootstrap_args(rest, getenv));
  for (const auto& uri : c.options.config_sources) AGENT_TRY_STATUS(parse_config_source(uri));
  return c;
}

std::string config_help(const std::string& program) {
  return fmt::format(
      "usage: {0} config check [--config-source URI]... [--root DIR] [bootstrap flags]\n"
      "       {0} config dump  [--config-source URI]... [--root DIR] [bootstrap flags]\n\n"
      "Reads NodeConfig documents (apiVersion node.eks.aws/v1alpha1, kind NodeConfig) from the\n"
      "sources, later ones winning: imds://user-data (EC2 user data: plain, MIME multipart, base64\n"
      "and/or gzip) and file:///path (a file, or a directory whose *.yaml, *.yml, *.json files are\n"
      "read in lexical order). Default: imds://user-data, then file://{1}.\n"
      "bootstrap.sh flags win over the fields they map to, exactly as in a run.\n\n"
      "  check  validate; exit 0 when valid (or when there is no NodeConfig), else print where the\n"
      "         problem is (source, MIME part, line, column) and exit non-zero (see --help)\n"
      "  dump   print the effective NodeConfig as JSON; metadata.annotations names each field's source\n",
      program, kDropInDir);
}

Status run_config_command(const ConfigCommand& c, Imds& imds, const RootFsReader& fs, std::ostream& out,
                          std::ostream& err) {
  Options o = c.options;
  AGENT_TRY(app::ResolvedConfig resolved, app::resolve_config(o.config_sources, imds, fs));
  for (const auto& w : resolved.warnings) err << "warning: " << w << "\n";
  const std::string sources = fmt::format("{}", fmt::join(o.config_sources, ", "));
  if (!resolved.merged) {
    if (o.node.cluster_name.empty() && resolved.all_tolerant) {
      for (const auto& n : resolved.notes) err << "note: " << n << "\n";
      out << "no NodeConfig in user data; nothing to do\n";
      return {};
    }
    AGENT_TRY_STATUS(check_node_config(o));
    if (c.verb == ConfigCommand::Verb::Check) out << "no NodeConfig in " << sources << "; the flags are valid\n";
    return {};
  }
  std::vector<std::string> overridden;
  AGENT_TRY_STATUS(apply_node_config(o, *resolved.merged, overridden));
  for (const auto& w : overridden) err << "note: " << w << "\n";
  AGENT_TRY_STATUS(check_with_node_config(o, *resolved.merged));
  // What compute would reject in the kubelet flags (a bad --max-pods), before any run.
  std::string flags = fmt::format("{}", fmt::join(o.node.kubelet_flags, " "));
  if (auto info = compute::inspect_extra_args(flags + " " + o.node.kubelet_extra_args); !info) {
    return info.error();
  }
  if (c.verb == ConfigCommand::Verb::Check) {
    out << fmt::format("NodeConfig from {} is valid ({} warning{})\n", sources, resolved.warnings.size(),
                       resolved.warnings.size() == 1 ? "" : "s");
    return {};
  }
  std::map<std::string, std::string> by_field = field_sources(*resolved.merged);
  userdata::NodeConfigSpec spec = effective_spec(o, resolved.merged->spec, by_field);
  nlohmann::ordered_json doc = userdata::to_document(spec);
  nlohmann::ordered_json annotations = nlohmann::ordered_json::object();
  for (const auto& [field, source] : by_field) annotations[kAnnotationPrefix + field] = source;
  nlohmann::ordered_json ordered = {{"apiVersion", doc["apiVersion"]},
                                    {"kind", doc["kind"]},
                                    {"metadata", {{"annotations", annotations}}},
                                    {"spec", doc["spec"]}};
  out << ordered.dump(2) << "\n";
  return {};
}

}  // namespace agent::cli
