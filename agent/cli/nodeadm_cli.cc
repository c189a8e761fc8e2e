#include "agent/cli/nodeadm_cli.h"

#include <charconv>
#include <filesystem>

#include <fmt/format.h>

#include "agent/cli/config_sources.h"

namespace agent::cli {
namespace {

// One option of the argument list: "-c X", "-c=X", "--config-source X", "--config-source=X".
// Returns the value when args[i] is the option (advancing i past a separate value).
struct Flag {
  const char* short_name;  // "-c" or nullptr
  const char* long_name;   // "--config-source"
};

Result<std::optional<std::string>> value_of(const Flag& f, const std::vector<std::string>& args, size_t& i) {
  const std::string& a = args[i];
  for (const char* name : {f.short_name, f.long_name}) {
    if (name == nullptr) continue;
    const std::string n(name);
    if (a == n) {
      if (i + 1 >= args.size()) return make_error(Errc::Usage, "{} needs a value", n);
      // An option is never taken as the value (nodeadm's pflag would: `-d --dry-run` would then
      // be a real run with a daemon named "--dry-run"); the NAME=VALUE form still takes anything.
      const std::string& next = args[i + 1];
      if (next.size() > 1 && next[0] == '-') {
        return make_error(Errc::Usage, "{} needs a value, not the option '{}' (write {}={} if that is the value)", n,
                          next, n, next);
      }
      return std::optional<std::string>(args[++i]);
    }
    if (a.size() > n.size() && a.compare(0, n.size(), n) == 0 && a[n.size()] == '=') {
      return std::optional<std::string>(a.substr(n.size() + 1));
    }
  }
  return std::optional<std::string>();
}

// The agent's own options, accepted by every nodeadm subcommand. True when args[i] was one.
Result<bool> agent_option(NodeadmCommand& c, const std::vector<std::string>& args, size_t& i) {
  AGENT_TRY(auto root, value_of({nullptr, "--root"}, args, i));
  if (root) {
    c.root = *root;
    return true;
  }
  AGENT_TRY(auto imds, value_of({nullptr, "--imds-endpoint"}, args, i));
  if (imds) {
    c.imds_endpoint = *imds;
    return true;
  }
  AGENT_TRY(auto mode, value_of({nullptr, "--service-manager"}, args, i));
  if (mode) {
    if (*mode == "auto") c.service_mode = ServiceMode::Auto;
    else if (*mode == "dbus") c.service_mode = ServiceMode::Dbus;
    else if (*mode == "offline") c.service_mode = ServiceMode::Offline;
    else return make_error(Errc::Usage, "--service-manager must be auto, dbus or offline, not '{}'", *mode);
    return true;
  }
  if (args[i] == "--dry-run") {
    c.dry_run = true;
    return true;
  }
  return false;
}

bool is_help(const std::string& a) { return a == "-h" || a == "--help"; }

// nodeadm's global options, before the subcommand. True when parsing is over (help, version).
Result<bool> parse_global_options(NodeadmCommand& c, const std::vector<std::string>& args, size_t& i) {
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (a == "-d" || a == "--development") {
      c.development = true;
    } else if (is_help(a)) {
      return true;
    } else if (a == "--version" || a == "version") {
      c.verb = NodeadmCommand::Verb::Version;
      return true;
    } else if (a.starts_with("-")) {
      AGENT_TRY(bool ours, agent_option(c, args, i));
      if (!ours) return make_error(Errc::Usage, "unknown option '{}'", a);
    } else {
      return false;
    }
  }
  return true;  // no subcommand: help (main exits 2, as nodeadm)
}

// The subcommand at args[i] (`init`, `config check|dump`, `help [topic]`). True when parsing is
// over (help).
Result<bool> parse_subcommand(NodeadmCommand& c, const std::vector<std::string>& args, size_t& i) {
  const std::string sub = args[i++];
  if (sub == "help") {
    c.help_topic = i < args.size() ? args[i] : "";
    return true;
  }
  if (sub == "init") {
    c.verb = NodeadmCommand::Verb::Init;
    return false;
  }
  if (sub != "config") return make_error(Errc::Usage, "unknown subcommand '{}'", sub);
  if (i == args.size() || is_help(args[i])) {
    c.help_topic = "config";
    return true;
  }
  const std::string verb = args[i++];
  if (verb == "check") c.verb = NodeadmCommand::Verb::ConfigCheck;
  else if (verb == "dump") c.verb = NodeadmCommand::Verb::ConfigDump;
  else return make_error(Errc::Usage, "config: unknown subcommand '{}' (check or dump)", verb);
  return false;
}

// One option of the subcommand's own (args[i]); false when args[i] is none of them.
Result<bool> subcommand_option(NodeadmCommand& c, const std::vector<std::string>& args, size_t& i) {
  const bool init = c.verb == NodeadmCommand::Verb::Init;
  const bool dump = c.verb == NodeadmCommand::Verb::ConfigDump;
  AGENT_TRY(auto source, value_of({"-c", "--config-source"}, args, i));
  if (source) {
    c.config_sources.push_back(*source);
    return true;
  }
  if (init || dump) {
    AGENT_TRY(auto cache, value_of({nullptr, "--config-cache"}, args, i));
    if (cache) {
      c.config_cache = *cache;
      return true;
    }
  }
  if (init) {
    AGENT_TRY(auto skip, value_of({"-s", "--skip"}, args, i));
    if (skip) {
      c.skip.insert(*skip);  // nodeadm ignores values other than config and run
      return true;
    }
    // Under init, -d is --daemon (nodeadm's flag clash); --development still works.
    AGENT_TRY(auto daemon, value_of({"-d", "--daemon"}, args, i));
    if (daemon) {
      if (!c.daemons) c.daemons.emplace();
      if (!daemon->empty()) c.daemons->push_back(*daemon);
      return true;
    }
  }
  if (dump) {
    AGENT_TRY(auto output, value_of({"-o", "--config-output"}, args, i));
    if (output) {
      c.config_output = *output;
      return true;
    }
  }
  if (args[i] == "--development" || (!init && args[i] == "-d")) {
    c.development = true;
    return true;
  }
  return false;
}

}  // namespace

Result<NodeadmCommand> parse_nodeadm_args(const std::vector<std::string>& args) {
  NodeadmCommand c;
  size_t i = 0;
  AGENT_TRY(bool done, parse_global_options(c, args, i));
  if (done) return c;
  AGENT_TRY(done, parse_subcommand(c, args, i));
  if (done) return c;
  for (; i < args.size(); ++i) {
    const std::string& a = args[i];
    if (is_help(a)) {
      c.help_topic = c.verb == NodeadmCommand::Verb::Init ? "init" : "config";
      c.verb = NodeadmCommand::Verb::Help;
      return c;
    }
    AGENT_TRY(bool known, subcommand_option(c, args, i));
    if (known) continue;
    AGENT_TRY(known, agent_option(c, args, i));
    if (known) continue;
    if (!a.starts_with("-")) return make_error(Errc::Usage, "unexpected argument '{}'", a);
    return make_error(Errc::Usage, "unknown option '{}'", a);
  }
  return c;
}

std::string nodeadm_help(const std::string& program, std::string_view topic) {
  if (topic == "init") {
    return fmt::format(
        "usage: {0} init [-c URI]... [--config-cache PATH] [-s config|run]... [-d NAME]...\n\n"
        "Joins this instance to its EKS cluster from NodeConfig documents, in two phases:\n"
        "  config  write the node's files (atomically; unchanged files are not touched), reload\n"
        "          systemd for environment drop-ins, restart systemd-resolved when its drop-in\n"
        "          changed, then write the config cache; containerd and kubelet are not restarted\n"
        "  run     write the marker {1}, set up local disks, then restart containerd\n"
        "          and kubelet where their inputs changed (also in an earlier config phase), start\n"
        "          kubelet when it is not active, and wait for each job over D-Bus\n\n"
        "  -c, --config-source URI  imds://user-data (default) or file://PATH: a file or a\n"
        "                           directory of *.yaml, *.yml, *.json (file://config.yaml is\n"
        "                           relative to the working directory); repeatable, later wins\n"
        "      --config-cache PATH  written at the end of the config phase; used when no source\n"
        "                           holds a NodeConfig; an unchanged spec reuses its instance\n"
        "                           details (no IMDS identity or EC2 call), a changed one runs the\n"
        "                           config phase even under --skip config\n"
        "  -s, --skip PHASE         config or run (repeatable; other values are ignored)\n"
        "  -d, --daemon NAME        containerd, kubelet: only these are configured and started\n"
        "                           (repeatable; --daemon=\"\" none); the environment and\n"
        "                           resolved drop-ins are written regardless\n"
        "      --development        more verbose logging\n\n"
        "Enrichment: the node name is EC2 DescribeInstances' PrivateDnsName (signed for\n"
        "AWS_REGION, AWS_ENDPOINT_URL honoured; not asked under featureGates.InstanceIdNodeName),\n"
        "with AWS_MAX_ATTEMPTS attempts (default 30) of 30 s connect timeout each, waiting up to\n"
        "10 minutes for a name EC2 has not published yet; instance.environment.default (a proxy)\n"
        "applies to that call too. EKS is never called. Requires root. The agent's own\n"
        "options: --root DIR, --dry-run, --imds-endpoint URL, --service-manager auto|dbus|offline.\n"
        "Exit status: 0 success, 1 the command failed, 2 usage.\n",
        program, "/run/nodeadm/init");
  }
  if (topic == "config") {
    return fmt::format(
        "usage: {0} config check [-c URI]...\n"
        "       {0} config dump  [-c URI]... [--config-cache PATH] [-o FILE]\n\n"
        "  check  read and merge the sources and validate the NodeConfig (exit 0 valid, 1 not)\n"
        "  dump   print the merged NodeConfig as compact v1alpha1 JSON (stdout, or -o/--config-output\n"
        "         FILE); with --config-cache, the cache is used when no source holds a NodeConfig\n"
        "  -c, --config-source URI  as for init (default imds://user-data)\n",
        program);
  }
  return fmt::format(
      "usage: {0} [-d|--development] COMMAND\n\n"
      "eks-node-agent as nodeadm: joins an Amazon Linux 2023 instance to an EKS cluster from\n"
      "NodeConfig user data.\n\n"
      "commands:\n"
      "  init          configure the node and start its daemons (see '{0} init --help')\n"
      "  config check  validate the NodeConfig\n"
      "  config dump   print the merged NodeConfig\n\n"
      "  -d, --development  more verbose logging\n"
      "Exit status: 0 success, 1 the command failed, 2 usage (also with no command).\n",
      program);
}

Options nodeadm_init_options(const NodeadmCommand& c, int aws_max_attempts) {
  Options o;
  o.node.platform = Platform::Al2023;
  o.node.nodeadm = true;
  o.root = c.root;
  o.dry_run = c.dry_run;
  o.imds_endpoint = c.imds_endpoint;
  o.service_mode = c.service_mode;
  o.timeout = nodeadm_deadline(aws_max_attempts);
  o.config_sources = c.config_sources.empty() ? std::vector<std::string>{kUserDataSource} : c.config_sources;
  NodeadmPhases p;
  p.config = c.skip.count("config") == 0;
  p.run = c.skip.count("run") == 0;
  if (c.daemons) {
    p.daemons.emplace();
    for (const auto& d : *c.daemons) p.daemons->insert(d.ends_with(".service") ? d : d + ".service");
  }
  p.cache_path = c.config_cache;
  o.nodeadm = p;
  return o;
}

Result<std::string> absolute_config_source(std::string_view uri, const std::string& cwd, const std::string& root) {
  if (!uri.starts_with("file://")) {
    if (uri.starts_with("imds://")) return std::string(uri);
    return make_error(Errc::Invalid, "--config-source {}: unsupported scheme (imds:// or file://)", uri);
  }
  std::string path(uri.substr(7));
  if (path.starts_with("/")) return std::string(uri);
  if (path.empty()) return make_error(Errc::Invalid, "--config-source {}: no path", uri);
  const bool dir = path.ends_with("/");
  namespace fs = std::filesystem;
  std::string abs = (fs::path(cwd) / path).lexically_normal().string();
  if (dir && !abs.ends_with("/")) abs += "/";
  if (root != "/" && !root.empty()) {
    std::string r = fs::path(root).lexically_normal().string();
    while (r.size() > 1 && r.ends_with("/")) r.pop_back();
    if (!abs.starts_with(r + "/")) {
      return make_error(Errc::Usage, "--config-source {}: {} is not under --root {}", uri, abs, root);
    }
    abs = abs.substr(r.size());
  }
  return "file://" + abs;
}

int nodeadm_aws_attempts(const char* env) {
  if (env == nullptr || *env == '\0') return 30;
  int n = 0;
  const std::string_view v(env);
  auto [end, ec] = std::from_chars(v.data(), v.data() + v.size(), n);
  if (ec != std::errc() || end != v.data() + v.size() || n < 1) return 30;
  return n;
}

std::chrono::seconds nodeadm_deadline(int aws_max_attempts) {
  return kNodeadmImdsBudget + aws_max_attempts * kNodeadmAwsConnectTimeout + kNodeadmPrivateDnsWait +
         kNodeadmApplyBudget;
}

}  // namespace agent::cli
