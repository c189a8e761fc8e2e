#include "agent/cli/max_pods_cli.h"

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cctype>
#include <optional>

#include "agent/compute/instance_types.h"
#include "agent/compute/max_pods.h"
#include "agent/model/version.h"

namespace agent::cli {
namespace {

constexpr const char* kProgram = "eks-node-agent max-pods";
constexpr int kUsage = 2;
constexpr int kFailure = 1;

struct MaxPodsArgs {
  std::string instance_type;
  bool from_imds = false;
  std::string cni_version;
  bool custom_networking = false;
  bool prefix_delegation = false;
  int max_eni = 0;
  int vcpus = 0;
  bool show_max_allowed = false;
};

// The calculator split on "." and compared integers; we also accept a leading "v" and an
// "-eksbuild.N" suffix, as the add-on versions are usually written, but nothing else around it.
std::optional<Version> parse_cni_version(std::string_view text) {
  std::string_view s = text;
  if (s.starts_with('v')) s.remove_prefix(1);
  if (s.empty() || !std::isdigit(static_cast<unsigned char>(s.front()))) return std::nullopt;
  auto end = s.find_first_not_of("0123456789.");
  if (end != std::string_view::npos && s[end] != '-') return std::nullopt;
  std::string_view numeric = s.substr(0, end);
  if (std::count(numeric.begin(), numeric.end(), '.') > 2 || numeric.ends_with('.')) {
    return std::nullopt;
  }
  return parse_version(numeric);
}

int usage_error(std::ostream& err, std::string_view message) {
  err << "max-pods: " << message << "\nRun '" << kProgram << " --help' for usage.\n";
  return kUsage;
}

}  // namespace

int max_pods_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                  std::function<Result<std::string>()> imds_instance_type, int local_vcpus,
                  const DescribeType& describe_type) {
  CLI::App app{
      "Prints the maximum number of pods the Amazon VPC CNI supports on an instance type, as "
      "max-pods-calculator.sh does, from the built-in networking table; EC2 DescribeInstanceTypes "
      "is asked only for what the table and the flags leave unknown.",
      kProgram};
  app.footer(
      "Without --show-max-allowed the result is capped at 110, or at 250 above 30 vCPUs. The "
      "vCPU count comes from --vcpus, else from this machine with --instance-type-from-imds, else "
      "from the size name (large=2, xlarge=4, Nxlarge=4N), else from EC2 DescribeInstanceTypes. "
      "EC2 is asked with the credentials of the environment (AWS_ACCESS_KEY_ID, "
      "AWS_SECRET_ACCESS_KEY, AWS_SESSION_TOKEN) in AWS_REGION, or, with "
      "--instance-type-from-imds, those of the instance profile in the instance's region; "
      "without either, pass --vcpus.");
  MaxPodsArgs a;
  auto* type_opt =
      app.add_option("--instance-type", a.instance_type, "EC2 instance type, e.g. m5.large");
  auto* imds_opt = app.add_flag("--instance-type-from-imds", a.from_imds,
                                "Use this machine's instance type (from IMDS)");
  type_opt->excludes(imds_opt);
  app.add_option("--cni-version", a.cni_version,
                 "Amazon VPC CNI version, e.g. 1.18.0 (prefix delegation needs 1.9.0 or later)");
  app.add_flag("--cni-custom-networking-enabled", a.custom_networking,
               "Custom networking is on: the primary ENI carries no pods");
  app.add_flag("--cni-prefix-delegation-enabled", a.prefix_delegation,
               "Prefix delegation is on (counts only on Nitro instances)");
  auto* max_eni_opt =
      app.add_option("--cni-max-eni", a.max_eni, "Use at most N ENIs")->check(CLI::Range(1, 1000));
  app.add_flag("--show-max-allowed", a.show_max_allowed,
               "Print the uncapped maximum instead of the 110/250-capped value");
  auto* vcpus_opt = app.add_option("--vcpus", a.vcpus, "vCPU count of the instance type")
                        ->check(CLI::Range(1, 100000));

  // CLI11 consumes a vector from the back.
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return usage_error(err, e.what());
  }

  if (!a.from_imds && a.instance_type.empty()) {
    return usage_error(err, "pass --instance-type TYPE or --instance-type-from-imds");
  }
  if (a.cni_version.empty()) {
    return usage_error(err,
                       "--cni-version is required (the Amazon VPC CNI version, e.g. 1.18.0): "
                       "prefix delegation needs 1.9.0 or later");
  }
  auto cni_version = parse_cni_version(a.cni_version);
  if (!cni_version) {
    return usage_error(err, "--cni-version \"" + a.cni_version +
                                "\" is not a version; write it as X.Y.Z, e.g. 1.18.0");
  }

  std::optional<int> vcpus;
  if (vcpus_opt->count() > 0) vcpus = a.vcpus;
  if (a.from_imds) {
    auto type = imds_instance_type();
    if (!type) {
      err << "max-pods: reading the instance type from IMDS: " << type.error().message << "\n";
      return kFailure;
    }
    // Exact-match lookup ahead: drop any stray whitespace around the IMDS body.
    std::string_view t = *type;
    auto first = t.find_first_not_of(" \t\r\n");
    a.instance_type = first == std::string_view::npos
                          ? std::string()
                          : std::string(t.substr(first, t.find_last_not_of(" \t\r\n") - first + 1));
    // This machine is the instance, so its own CPU count is authoritative.
    if (!vcpus && local_vcpus > 0) vcpus = local_vcpus;
  }
  if (!vcpus) vcpus = compute::vcpus_from_size(a.instance_type);

  auto net = compute::builtin_networking(a.instance_type);
  // EC2, once, for what is still unknown (the script asks it for everything).
  std::optional<Result<InstanceTypeInfo>> described;
  auto describe = [&]() -> const Result<InstanceTypeInfo>& {
    if (!described) {
      described = describe_type ? describe_type(a.instance_type, a.from_imds)
                                : Result<InstanceTypeInfo>(make_error(Errc::Unavailable, "no AWS calls here"));
    }
    return *described;
  };
  if (!net && describe()) net = compute::networking_facts_from(describe().value());
  if (!net) {
    err << "max-pods: instance type \"" << a.instance_type
        << "\" is not in the built-in networking table, and EC2 DescribeInstanceTypes could not "
           "answer (" << describe().error().message << "). "
           "On a node, set its value in /etc/eks/eni-max-pods.txt (which overrides the built-in "
           "table), or regenerate that file from EC2 with `eks-node-agent max-pods "
           "--generate-table --output /etc/eks/eni-max-pods.txt`; a bootstrap asks EC2 "
           "DescribeInstanceTypes by itself.\n";
    return kFailure;
  }
  if (!a.show_max_allowed && !vcpus && describe() && describe()->default_vcpus > 0) {
    vcpus = describe()->default_vcpus;
  }
  if (!a.show_max_allowed && !vcpus) {
    const std::string why = describe() ? "EC2 DescribeInstanceTypes gave no vCPU count"
                                       : "EC2 DescribeInstanceTypes could not be asked: " + describe().error().message;
    return usage_error(err, "the vCPU count of " + a.instance_type + " is not implied by its size, and " + why +
                                "; pass --vcpus N (it decides the 110 or 250 cap) or --show-max-allowed");
  }

  compute::CalculatorInput in{
      .net = *net,
      .vcpus = vcpus,
      .cni_version = *cni_version,
      .custom_networking = a.custom_networking,
      .prefix_delegation = a.prefix_delegation,
      .max_eni = max_eni_opt->count() > 0 ? std::optional<int>(a.max_eni) : std::nullopt,
      .show_max_allowed = a.show_max_allowed,
  };
  auto pods = compute::calculate_max_pods(in);
  if (!pods) {
    err << "max-pods: " << pods.error().message << "\n";
    return kFailure;
  }
  out << *pods << "\n";
  return 0;
}

int generate_table_main(const std::vector<std::string>& args, std::ostream& out, std::ostream& err,
                        const TypeLister& lister) {
  CLI::App app{
      "Lists every instance type of the region with EC2 DescribeInstanceTypes (signed with the "
      "node's credentials) and writes the max-pods table: ENIs x (IPv4 per ENI - 1) + 2 on the "
      "default network card.",
      "eks-node-agent max-pods --generate-table"};
  app.footer(
      "Region: AWS_REGION, else this instance's (IMDS). Credentials: AWS_ACCESS_KEY_ID/"
      "AWS_SECRET_ACCESS_KEY[/AWS_SESSION_TOKEN], else the instance profile. Endpoint: "
      "AWS_ENDPOINT_URL_EC2 or AWS_ENDPOINT_URL to override.");
  bool generate = false;
  std::string output, networking_output;
  int page_size = 100;
  app.add_flag("--generate-table", generate, "Generate the table (this mode)")->required();
  app.add_option("--output", output, "Write eni-max-pods.txt here (atomically) instead of stdout");
  app.add_option("--networking-output", networking_output,
                 "Also write the networking facts as instance-networking.jsonl here");
  app.add_option("--page-size", page_size, "DescribeInstanceTypes page size")->check(CLI::Range(5, 100));
  std::vector<std::string> reversed(args.rbegin(), args.rend());
  try {
    app.parse(reversed);
  } catch (const CLI::CallForHelp&) {
    out << app.help();
    return 0;
  } catch (const CLI::ParseError& e) {
    return usage_error(err, e.what());
  }

  std::string source;
  auto types = lister.list_types(page_size, source, [&err](int page, size_t n) {
    err << "max-pods: page " << page << ": " << n << " instance types so far\n";
  });
  if (!types) {
    err << "max-pods: " << types.error().message << "\n";
    return 5;
  }
  const compute::GeneratedTables tables = compute::generate_tables(std::move(types).value(), source);
  for (const auto& t : tables.skipped) {
    err << "max-pods: skipped " << t << ": EC2 reports no usable ENI or IPv4 limits\n";
  }
  auto write = [&](const std::string& path, const std::string& bytes) -> bool {
    if (auto w = lister.write_file(path, bytes); !w) {
      err << "max-pods: writing " << path << ": " << w.error().message << "\n";
      return false;
    }
    return true;
  };
  if (output.empty()) {
    out << tables.eni_max_pods;
  } else if (!write(output, tables.eni_max_pods)) {
    return 6;
  }
  if (!networking_output.empty() && !write(networking_output, tables.networking)) return 6;
  const auto written = std::count(tables.networking.begin(), tables.networking.end(), '\n');
  err << "max-pods: " << written << " instance types from " << source << "\n";
  return 0;
}

}  // namespace agent::cli
