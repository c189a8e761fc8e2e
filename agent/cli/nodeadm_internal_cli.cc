#include "agent/cli/nodeadm_internal_cli.h"

#include <algorithm>
#include <cctype>
#include <charconv>

#include "agent/app/log.h"

namespace agent::cli {

namespace {

using Args = NodeadmInternalArgs;

// A kernel interface name: at most 15 bytes, no '/', no white space, not "." or "..". Anything else
// must not become part of a path under /run and /etc.
bool plain_interface_name(const std::string& name) {
  if (name.empty() || name.size() > 15 || name == "." || name == "..") return false;
  return std::all_of(name.begin(), name.end(), [](unsigned char ch) {
    return std::isalnum(ch) || ch == '-' || ch == '_' || ch == '.' || ch == '@' || ch == ':';
  });
}

// The value of flag `arg` at args[i]: "--flag=value", or the next token (i advances).
Result<std::string> flag_value(const std::vector<std::string>& args, size_t& i, const std::string& flag) {
  const std::string& arg = args[i];
  if (arg.size() > flag.size() && arg.compare(0, flag.size() + 1, flag + "=") == 0) return arg.substr(flag.size() + 1);
  if (i + 1 >= args.size()) return make_error(Errc::Usage, "{} needs a value", flag);
  return args[++i];
}

// The long name of a flag that takes a value ("-i" -> "--interface"), or "" if `arg` is none.
std::string value_flag(const std::string& arg) {
  static const std::pair<const char*, const char*> kFlags[] = {
      {"-i", "--interface"}, {"-a", "--action"}, {"", "--root"}, {"", "--imds-endpoint"}, {"", "--timeout-ms"}};
  for (const auto& [short_name, long_name] : kFlags) {
    const std::string l = long_name;
    if ((*short_name && arg == short_name) || arg == l || arg.rfind(l + "=", 0) == 0) return l;
  }
  return "";
}

Status set_flag(Args& out, const std::string& flag, const std::string& value) {
  if (flag == "--interface") {
    out.interface = value;
  } else if (flag == "--action") {
    if (value != "add" && value != "remove") return make_error(Errc::Usage, "--action must be add or remove, not '{}'", value);
    out.action = value == "add" ? app::NetAction::Add : app::NetAction::Remove;
  } else if (flag == "--root") {
    out.root = value;
  } else if (flag == "--imds-endpoint") {
    out.imds_endpoint = value;
  } else {  // --timeout-ms
    long long ms = 0;
    auto [end, ec] = std::from_chars(value.data(), value.data() + value.size(), ms);
    if (ec != std::errc() || end != value.data() + value.size() || ms < 0) {
      return make_error(Errc::Usage, "--timeout-ms takes milliseconds, not '{}'", value);
    }
    out.boot_hook_timeout = std::chrono::milliseconds(ms);
  }
  return {};
}

Status set_command(Args& out, const std::string& word) {
  if (out.command != Args::Command::None) return make_error(Errc::Usage, "unexpected argument '{}'", word);
  if (word == "udev-net-manager") {
    out.command = Args::Command::UdevNetManager;
  } else if (word == "boot-hook") {
    out.command = Args::Command::BootHook;
  } else {
    return make_error(Errc::Usage, "unknown command '{}' (udev-net-manager, boot-hook)", word);
  }
  return {};
}

}  // namespace

Result<NodeadmInternalArgs> parse_nodeadm_internal_args(const std::vector<std::string>& args) {
  Args out;
  for (size_t i = 0; i < args.size(); ++i) {
    const std::string& arg = args[i];
    if (arg == "-h" || arg == "--help") {
      out.help = true;
    } else if (arg == "-d" || arg == "--development") {
      // nodeadm's development logger; our log lines are the same either way.
    } else if (const std::string flag = value_flag(arg); !flag.empty()) {
      const bool short_form = arg.size() == 2;
      AGENT_TRY(std::string value, flag_value(args, i, short_form ? arg : flag));
      AGENT_TRY_STATUS(set_flag(out, flag, value));
    } else if (!arg.empty() && arg[0] == '-') {
      return make_error(Errc::Usage, "unknown flag '{}'", arg);
    } else {
      AGENT_TRY_STATUS(set_command(out, arg));
    }
  }
  if (out.help) return out;
  if (out.command == Args::Command::None) return make_error(Errc::Usage, "no command (udev-net-manager, boot-hook)");
  if (out.command == Args::Command::UdevNetManager) {
    if (out.interface.empty()) return make_error(Errc::Usage, "udev-net-manager needs -i/--interface IFACE");
    if (!plain_interface_name(out.interface)) {
      return make_error(Errc::Usage, "'{}' is not an interface name", out.interface);
    }
  }
  return out;
}

std::string nodeadm_internal_help() {
  return "usage: nodeadm-internal [flags] COMMAND\n"
         "Networking helpers the Amazon Linux 2023 EKS image's units call.\n"
         "WARNING: There is no command-line stability guarantee!\n"
         "\n"
         "commands:\n"
         "  udev-net-manager -i IFACE -a add|remove\n"
         "                   add: decide who manages IFACE (systemd-networkd or the CNI) and, for\n"
         "                   networkd, write /run/systemd/network/70-eks-IFACE.network;\n"
         "                   remove: delete that file\n"
         "  boot-hook        mark the interfaces present at boot as networkd's, then wait until\n"
         "                   networkd configures the primary interface and no other\n"
         "\n"
         "flags:\n"
         "  -i, --interface IFACE   the interface (udev-net-manager)\n"
         "  -a, --action ACTION     add or remove (udev-net-manager; default add)\n"
         "      --root DIR          the node's root directory (default /)\n"
         "      --imds-endpoint URL IMDS (default AWS_EC2_METADATA_SERVICE_ENDPOINT, else\n"
         "                          http://169.254.169.254)\n"
         "  -d, --development       accepted for nodeadm compatibility; no effect\n"
         "  -h, --help              this text\n";
}

int run_nodeadm_internal(const NodeadmInternalArgs& args, app::NodeadmInternalPorts& ports) {
  Status result;
  if (args.command == Args::Command::UdevNetManager) {
    auto done = app::run_udev_net_manager(ports, args.interface, args.action);
    if (!done) result = done.error();
  } else {
    result = app::run_boot_hook(ports, {.timeout = args.boot_hook_timeout});
  }
  if (result) return 0;
  log::error(fmt::format("E_{}", errc_name(result.error().code)), "{}", result.error().message);
  return 1;
}

}  // namespace agent::cli
