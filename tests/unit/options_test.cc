#include "agent/cli/options.h"

#include <doctest/doctest.h>

#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

using agent::Errc;
using agent::IpFamily;
using agent::Result;
using agent::cli::bootstrap_help;
using agent::cli::Options;
using agent::cli::parse_bootstrap_args;
using agent::cli::ServiceMode;

namespace {

using Args = std::vector<std::string>;
using Env = std::map<std::string, std::string>;

// An injected environment that also records which variables were looked up.
struct FakeEnv {
  Env vars;
  std::set<std::string> asked;
  agent::cli::Getenv getenv() {
    return [this](const char* name) -> const char* {
      asked.insert(name);
      auto it = vars.find(name);
      return it == vars.end() ? nullptr : it->second.c_str();
    };
  }
};

Result<Options> parse(const Args& args, Env env = {}) {
  FakeEnv e{std::move(env), {}};
  return parse_bootstrap_args(args, e.getenv());
}

Options parsed(const Args& args, Env env = {}) {
  auto r = parse(args, std::move(env));
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

agent::Error failure(const Args& args, Env env = {}) {
  auto r = parse(args, std::move(env));
  REQUIRE_MESSAGE(!r.has_value(), "expected an error");
  return r.error();
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

bool has(const std::vector<std::string>& v, const std::string& x) {
  return std::find(v.begin(), v.end(), x) != v.end();
}

std::string opt(const std::optional<std::string>& o) { return o ? *o : "<unset>"; }

// One bootstrap.sh flag, a value for it, and how that value shows up in Options.
struct FlagCase {
  std::string flag;
  std::string env;  // "" for agent-only flags
  std::string value;
  std::string expected;                                // what `field` must render
  std::function<std::string(const Options&)> field;
  Args extra = {};                                     // other args the flag needs to be valid
};

std::vector<FlagCase> flag_cases() {
  return {
      {"--apiserver-endpoint", "APISERVER_ENDPOINT", "https://ABC.gr7.us-east-1.eks.amazonaws.com",
       "https://ABC.gr7.us-east-1.eks.amazonaws.com",
       [](const Options& o) { return opt(o.node.apiserver_endpoint); }},
      {"--b64-cluster-ca", "B64_CLUSTER_CA", "dGVzdA==", "dGVzdA==",
       [](const Options& o) { return opt(o.node.b64_cluster_ca); }},
      {"--use-max-pods", "USE_MAX_PODS", "false", "false",
       [](const Options& o) { return std::string(o.node.use_max_pods ? "true" : "false"); }},
      {"--kubelet-extra-args", "KUBELET_EXTRA_ARGS", "--node-labels=a=b --max-pods=17",
       "--node-labels=a=b --max-pods=17", [](const Options& o) { return o.node.kubelet_extra_args; }},
      {"--dns-cluster-ip", "DNS_CLUSTER_IP", "10.0.0.10, 10.0.0.11", "10.0.0.10|10.0.0.11",
       [](const Options& o) {
         std::string s;
         for (const auto& ip : o.node.dns_cluster_ip) s += (s.empty() ? "" : "|") + ip;
         return s;
       }},
      {"--ip-family", "IP_FAMILY", "ipv6", "ipv6",
       [](const Options& o) {
         return std::string(!o.node.ip_family                       ? "<unset>"
                            : *o.node.ip_family == IpFamily::Ipv6 ? "ipv6"
                                                                  : "ipv4");
       }},
      {"--service-ipv4-cidr", "SERVICE_IPV4_CIDR", "192.168.0.0/16", "192.168.0.0/16",
       [](const Options& o) { return opt(o.node.service_ipv4_cidr); }},
      {"--service-ipv6-cidr", "SERVICE_IPV6_CIDR", "fd12:3456:789a::/108", "fd12:3456:789a::/108",
       [](const Options& o) { return opt(o.node.service_ipv6_cidr); }},
      {"--pause-container-account", "PAUSE_CONTAINER_ACCOUNT", "123456789012", "123456789012",
       [](const Options& o) { return opt(o.node.pause_container_account); }},
      {"--pause-container-version", "PAUSE_CONTAINER_VERSION", "3.10", "3.10",
       [](const Options& o) { return o.node.pause_container_version; }},
      {"--containerd-config-file", "CONTAINERD_CONFIG_FILE", "/etc/eks/my-containerd.toml",
       "/etc/eks/my-containerd.toml", [](const Options& o) { return opt(o.node.containerd_config_file); }},
      {"--container-runtime", "CONTAINER_RUNTIME", "containerd", "accepted",
       [](const Options&) { return std::string("accepted"); }},
      {"--enable-local-outpost", "ENABLE_LOCAL_OUTPOST", "true", "true",
       [](const Options& o) { return std::string(o.node.enable_local_outpost ? "true" : "false"); },
       {"--cluster-id", "0123abcd"}},
      {"--cluster-id", "CLUSTER_ID", "0123abcd-4567", "0123abcd-4567",
       [](const Options& o) { return opt(o.node.cluster_id); }},
      {"--mount-bpf-fs", "MOUNT_BPF_FS", "false", "false",
       [](const Options& o) { return std::string(o.node.mount_bpf_fs ? "true" : "false"); }},
      {"--local-disks", "LOCAL_DISKS", "raid10", "raid10",
       [](const Options& o) { return opt(o.node.local_disks); }},
      {"--aws-api-retry-attempts", "API_RETRY_ATTEMPTS", "7", "7",
       [](const Options& o) { return std::to_string(o.node.aws_api_retry_attempts); }},
      {"--enable-docker-bridge", "ENABLE_DOCKER_BRIDGE", "true", "1 warning",
       [](const Options& o) { return std::to_string(o.warnings.size()) + " warning"; }},
      {"--docker-config-json", "DOCKER_CONFIG_JSON", "{\"bridge\": \"none\"}", "1 warning",
       [](const Options& o) { return std::to_string(o.warnings.size()) + " warning"; }},
      // The agent's own options (no environment variable).
      {"--root", "", "/mnt/image", "/mnt/image", [](const Options& o) { return o.root; }},
      {"--imds-endpoint", "", "http://127.0.0.1:1338", "http://127.0.0.1:1338",
       [](const Options& o) { return opt(o.imds_endpoint); }},
      {"--service-manager", "", "offline", "offline",
       [](const Options& o) {
         return std::string(o.service_mode == ServiceMode::Offline ? "offline" : "other");
       }},
      {"--timeout", "", "30", "30", [](const Options& o) { return std::to_string(o.timeout.count()); }},
      {"--hostname-source", "", "instance-id", "instance-id",
       [](const Options& o) {
         return std::string(o.node.hostname_source == agent::HostnameSource::InstanceId ? "instance-id" : "other");
       }},
      {"--kubelet-settle-ms", "", "0", "0",
       [](const Options& o) { return std::to_string(o.kubelet_settle.count()); }},
  };
}

// bootstrap-sh.md section 1.2: every variable bootstrap.sh reads from the environment.
const std::set<std::string> kBootstrapEnv = {
    "USE_MAX_PODS",        "B64_CLUSTER_CA",          "APISERVER_ENDPOINT",      "KUBELET_EXTRA_ARGS",
    "ENABLE_DOCKER_BRIDGE", "API_RETRY_ATTEMPTS",     "DOCKER_CONFIG_JSON",      "CONTAINERD_CONFIG_FILE",
    "PAUSE_CONTAINER_ACCOUNT", "PAUSE_CONTAINER_VERSION", "PAUSE_CONTAINER_IMAGE", "DNS_CLUSTER_IP",
    "CONTAINER_RUNTIME",   "IP_FAMILY",               "SERVICE_IPV4_CIDR",       "SERVICE_IPV6_CIDR",
    "ENABLE_LOCAL_OUTPOST", "CLUSTER_ID",             "MOUNT_BPF_FS",            "LOCAL_DISKS",
};

}  // namespace

TEST_CASE("every flag is accepted as --flag value and as --flag=value") {
  for (const auto& c : flag_cases()) {
    CAPTURE(c.flag);
    SUBCASE("separate value") {
      Args args = {c.flag, c.value};
      args.insert(args.end(), c.extra.begin(), c.extra.end());
      args.push_back("my-cluster");
      Options o = parsed(args);
      CHECK(c.field(o) == c.expected);
      CHECK(has(o.sources, c.flag));
      CHECK(o.node.cluster_name == "my-cluster");
    }
    SUBCASE("joined with =") {
      Args args = {c.flag + "=" + c.value};
      args.insert(args.end(), c.extra.begin(), c.extra.end());
      args.push_back("my-cluster");
      Options o = parsed(args);
      CHECK(c.field(o) == c.expected);
      CHECK(has(o.sources, c.flag));
    }
  }
}

TEST_CASE("the cluster name is taken from --cluster or from the single positional argument") {
  SUBCASE("positional") { CHECK(parsed({"my-cluster"}).node.cluster_name == "my-cluster"); }
  SUBCASE("--cluster NAME") { CHECK(parsed({"--cluster", "my-cluster"}).node.cluster_name == "my-cluster"); }
  SUBCASE("--cluster=NAME") { CHECK(parsed({"--cluster=my-cluster"}).node.cluster_name == "my-cluster"); }
  SUBCASE("positional between flags") {
    Options o = parsed({"--use-max-pods", "false", "my-cluster", "--mount-bpf-fs", "false"});
    CHECK(o.node.cluster_name == "my-cluster");
    CHECK_FALSE(o.node.use_max_pods);
    CHECK_FALSE(o.node.mount_bpf_fs);
  }
  SUBCASE("--cluster and the same positional name agree") {
    CHECK(parsed({"--cluster", "my-cluster", "my-cluster"}).node.cluster_name == "my-cluster");
  }
}

TEST_CASE("a flag value may itself start with --") {
  SUBCASE("kubelet extra args") {
    Options o = parsed({"--kubelet-extra-args", "--node-labels=a=b", "my-cluster"});
    CHECK(o.node.kubelet_extra_args == "--node-labels=a=b");
  }
  SUBCASE("a value that looks like an agent switch is still a value") {
    Options o = parsed({"--kubelet-extra-args", "--dry-run", "my-cluster"});
    CHECK(o.node.kubelet_extra_args == "--dry-run");
    CHECK_FALSE(o.dry_run);
  }
  SUBCASE("a value that looks like --help is still a value") {
    Options o = parsed({"--kubelet-extra-args", "--help", "my-cluster"});
    CHECK(o.node.kubelet_extra_args == "--help");
    CHECK_FALSE(o.help);
  }
  SUBCASE("--flag=value keeps every later = in the value") {
    Options o = parsed({"--kubelet-extra-args=--node-labels=a=b,c=d", "my-cluster"});
    CHECK(o.node.kubelet_extra_args == "--node-labels=a=b,c=d");
  }
}

TEST_CASE("the last of a repeated flag wins, whatever form each occurrence takes") {
  struct Row {
    Args args;
    std::string expected;
  };
  const std::vector<Row> rows = {
      {{"--pause-container-version", "3.1", "--pause-container-version", "3.9"}, "3.9"},
      {{"--pause-container-version=3.1", "--pause-container-version", "3.9"}, "3.9"},
      {{"--pause-container-version", "3.1", "--pause-container-version=3.10"}, "3.10"},
  };
  for (const auto& row : rows) {
    Args args = row.args;
    args.push_back("c");
    CHECK(parsed(args).node.pause_container_version == row.expected);
  }
  CHECK(parsed({"--use-max-pods", "false", "--use-max-pods", "true", "c"}).node.use_max_pods);
  CHECK(parsed({"--cluster", "a", "--cluster", "b"}).node.cluster_name == "b");
}

TEST_CASE("every bootstrap.sh environment variable is read when its flag is absent") {
  for (const auto& c : flag_cases()) {
    if (c.env.empty()) continue;
    CAPTURE(c.env);
    Env env = {{c.env, c.value}};
    if (c.env == "ENABLE_LOCAL_OUTPOST") env["CLUSTER_ID"] = "0123abcd";
    Options o = parsed({"my-cluster"}, env);
    CHECK(c.field(o) == c.expected);
    CHECK(has(o.sources, c.env));
    CHECK_FALSE(has(o.sources, c.flag));
  }
}

TEST_CASE("PAUSE_CONTAINER_IMAGE can only come from the environment") {
  Options o = parsed({"my-cluster"}, {{"PAUSE_CONTAINER_IMAGE", "registry.example.com/pause"}});
  CHECK(o.node.pause_container_image == "registry.example.com/pause");
  CHECK(has(o.sources, "PAUSE_CONTAINER_IMAGE"));

  CHECK_FALSE(parsed({"my-cluster"}).node.pause_container_image.has_value());
  CHECK(failure({"--pause-container-image", "x", "my-cluster"}).code == Errc::Usage);
}

TEST_CASE("the parser looks up exactly bootstrap.sh's environment variables") {
  FakeEnv env;
  auto r = parse_bootstrap_args({"my-cluster"}, env.getenv());
  REQUIRE(r.has_value());
  CHECK(env.asked == kBootstrapEnv);
}

TEST_CASE("an empty environment variable counts as unset") {
  Env env;
  for (const auto& name : kBootstrapEnv) env[name] = "";
  Options o = parsed({"my-cluster"}, env);
  CHECK(o.node == agent::NodeConfig{.cluster_name = "my-cluster"});
  CHECK(o.sources == std::vector<std::string>{"--cluster"});
  CHECK(o.warnings.empty());
}

TEST_CASE("a flag wins over its environment variable") {
  for (const auto& c : flag_cases()) {
    if (c.env.empty() || c.flag == "--container-runtime" || c.flag == "--enable-docker-bridge" ||
        c.flag == "--docker-config-json") {
      continue;
    }
    CAPTURE(c.flag);
    // An environment value that would be invalid proves it was never consulted.
    Env env = {{c.env, "\x01not-a-valid-value"}};
    Args args = {c.flag, c.value};
    args.insert(args.end(), c.extra.begin(), c.extra.end());
    args.push_back("my-cluster");
    Options o = parsed(args, env);
    CHECK(c.field(o) == c.expected);
    CHECK(has(o.sources, c.flag));
    CHECK_FALSE(has(o.sources, c.env));
  }
}

TEST_CASE("command-line mistakes are usage errors") {
  struct Row {
    std::string what;
    Args args;
    std::string mentions;
  };
  const std::vector<Row> rows = {
      {"unknown long option", {"--max-pods", "30", "c"}, "--max-pods"},
      {"unknown option with =", {"--bogus=1", "c"}, "--bogus"},
      {"unknown short option", {"-x", "c"}, "-x"},
      {"missing value at the end", {"c", "--kubelet-extra-args"}, "--kubelet-extra-args needs a value"},
      {"extra positional", {"c", "d"}, "'d'"},
      {"unquoted extra args leave a stray positional", {"--kubelet-extra-args", "--a", "--b", "c"}, "--b"},
      {"no cluster name", {"--use-max-pods", "false"}, "no cluster name"},
      {"empty --cluster", {"--cluster="}, "no cluster name"},
      {"--cluster and a different positional", {"--cluster", "a", "b"}, "cluster name given twice"},
      {"relative --root", {"--root", "mnt", "c"}, "--root"},
      {"bad --service-manager", {"--service-manager", "systemctl", "c"}, "--service-manager"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    agent::Error e = failure(row.args);
    CHECK(e.code == Errc::Usage);
    CHECK_MESSAGE(contains(e.message, row.mentions), e.message);
  }
}

TEST_CASE("values that cannot be right are invalid and name their flag") {
  struct Row {
    Args args;
    std::string flag;
  };
  const std::vector<Row> rows = {
      {{"--use-max-pods", "yes"}, "--use-max-pods"},
      {{"--use-max-pods", "TRUE"}, "--use-max-pods"},
      {{"--enable-local-outpost", "1", "--cluster-id", "x"}, "--enable-local-outpost"},
      {{"--mount-bpf-fs", "no"}, "--mount-bpf-fs"},
      {{"--ip-family", "ipv5"}, "--ip-family"},
      {{"--ip-family", "dual"}, "--ip-family"},
      {{"--container-runtime", "dockerd"}, "--container-runtime"},
      {{"--container-runtime", "cri-o"}, "--container-runtime"},
      {{"--local-disks", "raid5"}, "--local-disks"},
      {{"--local-disks", "RAID0"}, "--local-disks"},
      {{"--aws-api-retry-attempts", "three"}, "--aws-api-retry-attempts"},
      {{"--aws-api-retry-attempts", "-1"}, "--aws-api-retry-attempts"},
      {{"--aws-api-retry-attempts", "3x"}, "--aws-api-retry-attempts"},
      {{"--aws-api-retry-attempts", "101"}, "--aws-api-retry-attempts"},
      {{"--aws-api-retry-attempts", ""}, "--aws-api-retry-attempts"},
      {{"--timeout", "0"}, "--timeout"},
      {{"--kubelet-settle-ms", "soon"}, "--kubelet-settle-ms"},
      // With the endpoint and CA given no DescribeCluster runs, so nothing else supplies the id.
      {{"--enable-local-outpost", "true", "--apiserver-endpoint", "https://x", "--b64-cluster-ca", "dGVzdA=="},
       "--cluster-id"},
      {{"--hostname-source", "dns"}, "--hostname-source"},
  };
  for (const auto& row : rows) {
    Args args = row.args;
    args.push_back("my-cluster");
    CAPTURE(args);
    agent::Error e = failure(args);
    CHECK(e.code == Errc::Invalid);
    CHECK_MESSAGE(contains(e.message, row.flag), e.message);
  }
}

TEST_CASE("an invalid environment value names both the variable and its flag") {
  struct Row {
    std::string env;
    std::string value;
    std::string flag;
  };
  const std::vector<Row> rows = {
      {"USE_MAX_PODS", "yes", "--use-max-pods"},
      {"IP_FAMILY", "ipv5", "--ip-family"},
      {"CONTAINER_RUNTIME", "dockerd", "--container-runtime"},
      {"LOCAL_DISKS", "raid5", "--local-disks"},
      {"API_RETRY_ATTEMPTS", "many", "--aws-api-retry-attempts"},
      {"MOUNT_BPF_FS", "maybe", "--mount-bpf-fs"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.env);
    agent::Error e = failure({"my-cluster"}, {{row.env, row.value}});
    CHECK(e.code == Errc::Invalid);
    CHECK_MESSAGE(contains(e.message, row.env), e.message);
    CHECK_MESSAGE(contains(e.message, row.flag), e.message);
  }
}

TEST_CASE("--aws-api-retry-attempts accepts 0 through 100") {
  CHECK(parsed({"--aws-api-retry-attempts", "0", "c"}).node.aws_api_retry_attempts == 0);
  CHECK(parsed({"--aws-api-retry-attempts", "100", "c"}).node.aws_api_retry_attempts == 100);
  CHECK(parsed({"c"}).node.aws_api_retry_attempts == 3);
}

TEST_CASE("--ip-family is case-insensitive") {
  const std::vector<std::pair<std::string, IpFamily>> rows = {
      {"ipv4", IpFamily::Ipv4}, {"IPv4", IpFamily::Ipv4}, {"IPV4", IpFamily::Ipv4},
      {"ipv6", IpFamily::Ipv6}, {"IPv6", IpFamily::Ipv6}, {"Ipv6", IpFamily::Ipv6},
  };
  for (const auto& [value, family] : rows) {
    const auto& row = value;  // clang 14: no lambda capture of a structured binding
    CAPTURE(row);
    CHECK(parsed({"--ip-family", value, "c"}).node.ip_family == family);
    CHECK(parsed({"c"}, {{"IP_FAMILY", value}}).node.ip_family == family);
  }
  CHECK_FALSE(parsed({"c"}).node.ip_family.has_value());
}

TEST_CASE("--service-ipv6-cidr implies ipv6 and contradicts an explicit ipv4") {
  SUBCASE("no family given: ipv6") {
    CHECK(parsed({"--service-ipv6-cidr", "fd00::/108", "c"}).node.ip_family == IpFamily::Ipv6);
  }
  SUBCASE("from the environment: ipv6") {
    CHECK(parsed({"c"}, {{"SERVICE_IPV6_CIDR", "fd00::/108"}}).node.ip_family == IpFamily::Ipv6);
  }
  SUBCASE("explicit ipv6 agrees") {
    CHECK(parsed({"--ip-family", "IPv6", "--service-ipv6-cidr", "fd00::/108", "c"}).node.ip_family ==
          IpFamily::Ipv6);
  }
  SUBCASE("explicit ipv4 conflicts") {
    agent::Error e = failure({"--ip-family", "ipv4", "--service-ipv6-cidr", "fd00::/108", "c"});
    CHECK(e.code == Errc::Invalid);
    CHECK(contains(e.message, "--ip-family"));
    CHECK(contains(e.message, "--service-ipv6-cidr"));
  }
  SUBCASE("ipv4 from the environment conflicts too") {
    CHECK(failure({"--service-ipv6-cidr", "fd00::/108", "c"}, {{"IP_FAMILY", "ipv4"}}).code ==
          Errc::Invalid);
  }
}

TEST_CASE("docker-only flags are accepted with a warning and change nothing else") {
  for (const std::string flag : {"--enable-docker-bridge", "--docker-config-json"}) {
    CAPTURE(flag);
    Options o = parsed({flag, "true", "c"});
    REQUIRE(o.warnings.size() == 1);
    CHECK(contains(o.warnings[0], flag));
    CHECK(contains(o.warnings[0], "ignored"));
    CHECK(o.node == agent::NodeConfig{.cluster_name = "c"});
  }
  Options both = parsed({"c"}, {{"ENABLE_DOCKER_BRIDGE", "true"}, {"DOCKER_CONFIG_JSON", "{}"}});
  CHECK(both.warnings.size() == 2);
  CHECK(parsed({"c"}).warnings.empty());
}

TEST_CASE("--help, -h and --version short-circuit parsing") {
  struct Row {
    Args args;
    bool help;
    bool version;
  };
  const std::vector<Row> rows = {
      {{"--help"}, true, false},
      {{"-h"}, true, false},
      {{"--version"}, false, true},
      {{"--use-max-pods", "false", "--help"}, true, false},
      {{"--help", "--bogus", "a", "b"}, true, false},
      {{"-h", "--use-max-pods", "maybe"}, true, false},
      {{"--version", "--kubelet-extra-args"}, false, true},
  };
  for (const auto& row : rows) {
    CAPTURE(row.args);
    Options o = parsed(row.args);
    CHECK(o.help == row.help);
    CHECK(o.version == row.version);
  }
}

TEST_CASE("the agent's switches take no value") {
  Options o = parsed({"--dry-run", "c", "--quiet"});
  CHECK(o.dry_run);
  CHECK(o.quiet);
  CHECK(o.node.cluster_name == "c");
}

TEST_CASE("defaults are left for compute to apply") {
  Options o = parsed({"c"});
  CHECK(o.node == agent::NodeConfig{.cluster_name = "c"});
  CHECK(o.root == "/");
  CHECK(o.service_mode == ServiceMode::Auto);
  CHECK(o.timeout == std::chrono::seconds(240));
  CHECK(o.kubelet_settle == std::chrono::milliseconds(1500));
  CHECK_FALSE(o.dry_run);
}

TEST_CASE("the help text mentions every flag and every environment variable") {
  const std::string help = bootstrap_help("/usr/bin/eks-node-agent");
  CHECK(contains(help, "usage: /usr/bin/eks-node-agent"));
  const std::vector<std::string> flags = {
      "--apiserver-endpoint",   "--aws-api-retry-attempts", "--b64-cluster-ca",
      "--cluster-id",           "--container-runtime",      "--containerd-config-file",
      "--dns-cluster-ip",       "--docker-config-json",     "--enable-docker-bridge",
      "--enable-local-outpost", "--ip-family",              "--kubelet-extra-args",
      "--local-disks",          "--mount-bpf-fs",           "--pause-container-account",
      "--pause-container-version", "--service-ipv4-cidr",   "--service-ipv6-cidr",
      "--use-max-pods",         "--cluster",                "--help",
      "-h",                     "--version",                "--dry-run",
      "--quiet",                "--root",                   "--imds-endpoint",
      "--service-manager",      "--timeout",                "--kubelet-settle-ms",
  };
  for (const std::string& f : flags) {
    CAPTURE(f);
    CHECK(contains(help, f));
  }
  for (const auto& env : kBootstrapEnv) {
    CAPTURE(env);
    CHECK(contains(help, "[" + env + "]"));
  }
  // Every flag the parser accepts is documented (a flag the test table knows that help lacks
  // would fail above; this catches the reverse: each documented flag really parses).
  for (const auto& c : flag_cases()) {
    CAPTURE(c.flag);
    CHECK(contains(help, c.flag + " VALUE"));
  }
}

TEST_CASE("--platform and --kube-reserved-max-pods take their documented values") {
  CHECK(parsed({"c", "--platform", "al2023"}).node.platform == agent::Platform::Al2023);
  CHECK(parsed({"c", "--platform=al2"}).node.platform == agent::Platform::Al2);
  CHECK(parsed({"c"}).node.platform == std::nullopt);
  CHECK(parsed({"c", "--kube-reserved-max-pods", "effective"}).node.kube_reserved_for_effective_max_pods);
  CHECK_FALSE(parsed({"c", "--kube-reserved-max-pods", "eni"}).node.kube_reserved_for_effective_max_pods);
  CHECK_FALSE(parsed({"c"}).node.kube_reserved_for_effective_max_pods);
  auto bad = parse({"c", "--platform", "al3"});
  REQUIRE_FALSE(bad.has_value());
  CHECK(bad.error().message.find("--platform must be al2 or al2023") != std::string::npos);
  auto bad2 = parse({"c", "--kube-reserved-max-pods", "all"});
  REQUIRE_FALSE(bad2.has_value());
  CHECK(bad2.error().message.find("--kube-reserved-max-pods") != std::string::npos);
}

TEST_CASE("an enumerated flag's bad value names every choice, and the variable it came from") {
  const Args base = {"my-cluster", "--b64-cluster-ca", "Q0E=", "--apiserver-endpoint", "https://x"};
  auto with = [&](Args more) {
    Args a = base;
    a.insert(a.end(), more.begin(), more.end());
    return a;
  };
  CHECK(failure(with({"--local-disks", "raid5"})).message ==
        "--local-disks must be raid0, raid10, mount or none, got 'raid5'");
  CHECK(failure(with({"--hostname-source", "dns"})).message ==
        "--hostname-source must be imds, ec2 or instance-id, got 'dns'");
  auto sm = failure(with({"--service-manager", "upstart"}));
  CHECK(sm.code == Errc::Usage);  // an agent option: usage, not input
  CHECK(sm.message == "--service-manager must be auto, dbus or offline, got 'upstart'");
  CHECK(failure(with({"--ip-family", "ipv5"})).message == "--ip-family must be ipv4 or ipv6, got 'ipv5'");
  CHECK(parsed(with({"--ip-family", "IPv6", "--service-ipv6-cidr", "fd00::/108"})).node.ip_family ==
        IpFamily::Ipv6);  // bootstrap.sh lower-cases it
  auto env = failure(base, {{"LOCAL_DISKS", "raid5"}});
  CHECK(env.message.find("environment variable LOCAL_DISKS") != std::string::npos);
  CHECK(failure(with({"--use-max-pods", "yes"})).message == "--use-max-pods must be true or false, got 'yes'");
}
