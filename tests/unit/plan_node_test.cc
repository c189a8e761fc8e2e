#include "agent/compute/plan_node.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <functional>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "agent/compute/credential_provider.h"
#include "agent/compute/kubeconfig.h"
#include "agent/model/embedded.h"

using agent::Diagnostic;
using agent::Errc;
using agent::Facts;
using agent::FileWrite;
using agent::InstanceFacts;
using agent::IpFamily;
using agent::NodeConfig;
using agent::Plan;
using agent::UnitIntent;
using agent::Version;
using agent::compute::plan_node;
using json = nlohmann::ordered_json;
namespace c = agent::compute;

namespace {

// "test", base64: the sandbox run of bootstrap-sh.md section 8 used it as the CA.
constexpr const char* kCaB64 = "dGVzdA==";
// A PEM-looking CA, so that plans without other warnings stay warning-free.
const std::string kPem = "-----BEGIN CERTIFICATE-----\nMIIB\n-----END CERTIFICATE-----\n";
const std::string kPemB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";
constexpr const char* kPause = "602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5";

NodeConfig config() {
  return NodeConfig{
      .cluster_name = "ipv4-cluster",
      .apiserver_endpoint = "http://my-api-endpoint",
      .b64_cluster_ca = kPemB64,
  };
}

// bootstrap-sh.md section 8 (aemm defaults, nproc 2), with a VPC that is not in 10.0.0.0/8.
Facts facts() {
  return Facts{
      .instance =
          InstanceFacts{
              .region = "us-east-1",
              .domain = "amazonaws.com",
              .instance_id = "i-1234567890abcdef0",
              .instance_type = "m4.xlarge",
              .availability_zone = "us-east-1a",
              .local_hostname = "ip-10-0-0-157.us-east-2.compute.internal",
              .local_ipv4 = "172.16.34.43",
              .mac = "0e:49:61:0f:c3:11",
              .vpc_ipv4_cidrs = {"192.168.0.0/16"},
          },
      .kubelet_version = Version{1, 27, 0},
      .kubelet_version_source = "/etc/eks/kubelet-version.txt",
      .vcpus = 2,
  };
}

Plan plan(const NodeConfig& cfg, const Facts& f) {
  auto r = plan_node(cfg, f);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
  return std::move(r).value();
}

agent::Error plan_error(const NodeConfig& cfg, const Facts& f) {
  auto r = plan_node(cfg, f);
  REQUIRE_MESSAGE(!r.has_value(), "expected plan_node to fail");
  return r.error();
}

const FileWrite* find_file(const Plan& p, const std::string& path) {
  for (const auto& w : p.files) {
    if (w.path == path) return &w;
  }
  return nullptr;
}

const FileWrite& file(const Plan& p, const std::string& path) {
  const FileWrite* w = find_file(p, path);
  REQUIRE_MESSAGE(w != nullptr, "plan has no file " << path);
  return *w;
}

std::vector<std::string> paths(const Plan& p) {
  std::vector<std::string> out;
  for (const auto& w : p.files) out.push_back(w.path);
  return out;
}

json kubelet_config(const Plan& p) { return json::parse(file(p, c::kKubeletConfigPath).bytes); }

std::string kubelet_args_line(const Plan& p) {
  const std::string& bytes = file(p, c::kKubeletArgsDropin).bytes;
  const std::string prefix = "[Service]\nEnvironment='KUBELET_ARGS=";
  REQUIRE(bytes.rfind(prefix, 0) == 0);
  REQUIRE(bytes.size() > prefix.size() + 2);
  return bytes.substr(prefix.size(), bytes.size() - prefix.size() - 2);  // drop "'\n"
}

bool has_diag(const Plan& p, const std::string& id, Diagnostic::Level level) {
  return std::any_of(p.diagnostics.begin(), p.diagnostics.end(),
                     [&](const Diagnostic& d) { return d.id == id && d.level == level; });
}
bool has_diag(const Plan& p, const std::string& id) {
  return std::any_of(p.diagnostics.begin(), p.diagnostics.end(),
                     [&](const Diagnostic& d) { return d.id == id; });
}

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

std::string sandbox_line(const std::string& image) { return "\nsandbox_image = \"" + image + "\"\n"; }

}  // namespace

TEST_CASE("the AL2 golden node (m4.xlarge, 2 vCPUs, kubelet 1.27) plans the section 8.2 values") {
  const Plan p = plan(config(), facts());

  SUBCASE("kubelet config") {
    const json cfg = kubelet_config(p);
    CHECK(cfg["clusterDNS"] == json::array({"10.100.0.10"}));
    CHECK(cfg["kubeReserved"] == json{{"cpu", "70m"}, {"ephemeral-storage", "1Gi"}, {"memory", "893Mi"}});
    CHECK(cfg["maxPods"] == 58);
    CHECK(cfg["providerID"] == "aws:///us-east-1a/i-1234567890abcdef0");
    CHECK(cfg["cgroupDriver"] == "systemd");
    CHECK(cfg["systemReservedCgroup"] == "/system");
    CHECK(cfg["kubeReservedCgroup"] == "/runtime");
    CHECK_FALSE(cfg.contains("kubeAPIQPS"));
  }
  SUBCASE("kubelet arguments") {
    CHECK(file(p, c::kKubeletArgsDropin).bytes ==
          "[Service]\n"
          "Environment='KUBELET_ARGS=--node-ip=172.16.34.43 "
          "--pod-infra-container-image=602401143452.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.5 --v=2 "
          "--hostname-override=ip-10-0-0-157.us-east-2.compute.internal --cloud-provider=external'\n");
  }
  SUBCASE("CA, kubeconfig, credential provider and containerd") {
    const FileWrite& ca = file(p, c::kCaPath);
    CHECK(ca.bytes == kPem);
    CHECK(ca.secret);
    CHECK(ca.restarts == std::vector<std::string>{"kubelet.service"});
    CHECK(file(p, c::kKubeconfigPath).bytes == c::kubeconfig_for("http://my-api-endpoint", "ipv4-cluster", "us-east-1"));
    CHECK(file(p, c::kCredentialProviderPath).bytes == c::credential_provider_config_for({1, 27, 0}, std::nullopt));
    const FileWrite& containerd = file(p, c::kContainerdConfigPath);
    CHECK(contains(containerd.bytes, sandbox_line(kPause)));
    CHECK(containerd.restarts == std::vector<std::string>{"containerd.service"});
  }
  SUBCASE("the files, their modes and what they restart") {
    CHECK(paths(p) == std::vector<std::string>{c::kCaPath, c::kKubeconfigPath, c::kKubeletConfigPath,
                                               c::kCredentialProviderPath, c::kContainerdConfigPath,
                                               c::kKubeletUnitPath, c::kKubeletArgsDropin,
                                               c::kBpfMountUnitPath});
    for (const auto& w : p.files) {
      CAPTURE(w.path);
      CHECK(w.mode == 0644);
      CHECK(w.unit_file == w.path.starts_with("/etc/systemd/"));
      CHECK(w.only_if_absent == (w.path == c::kKubeletUnitPath || w.path == c::kBpfMountUnitPath));
      CHECK(w.secret == (w.path == c::kCaPath));
    }
    CHECK(file(p, c::kKubeletUnitPath).bytes == agent::embedded::file("config/kubelet.service"));
    CHECK(file(p, c::kBpfMountUnitPath).bytes == agent::embedded::file("config/sys-fs-bpf.mount"));
    CHECK(file(p, c::kBpfMountUnitPath).restarts.empty());
    // No extra args: a stale drop-in from an earlier run is removed.
    REQUIRE(p.removals.size() == 1);
    CHECK(p.removals[0].path == c::kKubeletExtraArgsDropin);
    CHECK(p.removals[0].unit_file);
    CHECK(p.removals[0].restarts == std::vector<std::string>{"kubelet.service"});
  }
  SUBCASE("unit intents, in the order they are acted on") {
    CHECK(p.units == std::vector<UnitIntent>{
                         {.unit = "sys-fs-bpf.mount", .enable = true, .start_if_inactive = true, .optional = true},
                         {.unit = "containerd.service", .restart_on_change = true},
                         {.unit = "kubelet.service",
                          .enable = true,
                          .start_if_inactive = true,
                          .restart_on_change = true,
                          .check_stays_up = true},
                     });
  }
  SUBCASE("summary values and no warnings") {
    CHECK(p.values["maxPods"] == 58);
    CHECK(p.values["kubeReservedCPU"] == "70m");
    CHECK(p.values["kubeReservedMemory"] == "893Mi");
    CHECK(p.values["nodeIP"] == "172.16.34.43");
    CHECK(p.values["pauseImage"] == kPause);
    CHECK(p.values["ipFamily"] == "ipv4");
    CHECK(p.values["kubeletVersion"] == "1.27.0");
    for (const auto& d : p.diagnostics) {
      CAPTURE(d.id);
      CHECK(d.level != Diagnostic::Level::Warning);
    }
  }
}

TEST_CASE("spec.kubelet.maxPodsExpression replaces max pods, and kubeReserved memory follows it") {
  NodeConfig cfg = config();
  // m4.xlarge: 4 ENIs x 15 IPv4; the table says 58.
  cfg.max_pods_expression = "(default_enis - 1) * (ips_per_eni - 1) + 2";
  const Plan p = plan(cfg, facts());
  auto k = nlohmann::json::parse(file(p, c::kKubeletConfigPath).bytes);
  CHECK(k["maxPods"] == 44);
  CHECK(k["kubeReserved"]["memory"] == "739Mi");  // 11 * 44 + 255
  CHECK(p.values["maxPodsSource"] == "spec.kubelet.maxPodsExpression");

  cfg.max_pods_expression = "max_pods < 30 ? max_pods : 30";
  CHECK(nlohmann::json::parse(file(plan(cfg, facts()), c::kKubeletConfigPath).bytes)["maxPods"] == 30);

  // A failing expression keeps the computed value, with a warning.
  cfg.max_pods_expression = "max_pods - 58";
  const Plan bad = plan(cfg, facts());
  CHECK(nlohmann::json::parse(file(bad, c::kKubeletConfigPath).bytes)["maxPods"] == 58);
  bool warned = false;
  for (const auto& d : bad.diagnostics) warned = warned || d.id == "MAXPODS_EXPRESSION_FAILED";
  CHECK(warned);

  // An explicit --max-pods in the extra args still wins over the expression.
  cfg.max_pods_expression = "max_pods + 2";
  cfg.kubelet_extra_args = "--max-pods=20";
  const Plan extra = plan(cfg, facts());
  CHECK(extra.values["maxPods"] == 20);
}

TEST_CASE("spec.instance.network: nodeadm's systemd-resolved drop-in, restarted before containerd") {
  NodeConfig cfg = config();
  cfg.nameservers = {"8.8.8.8", "8.8.4.4"};
  Facts f = facts();
  f.resolved_unit_present = true;
  const Plan p = plan(cfg, f);
  CHECK(file(p, c::kResolvedDropinPath).bytes == "[Resolve]\nDNS=8.8.8.8 8.8.4.4\n\n");
  CHECK(file(p, c::kResolvedDropinPath).restarts == std::vector<std::string>{"systemd-resolved.service"});
  REQUIRE(p.units.size() >= 2);
  CHECK(p.units[p.units.size() - 3].unit == "systemd-resolved.service");  // then containerd, kubelet
  CHECK(p.units[p.units.size() - 3].restart_on_change);

  cfg.dns_domains = {"corp.example", "svc.example"};
  CHECK(file(plan(cfg, f), c::kResolvedDropinPath).bytes ==
        "[Resolve]\nDNS=8.8.8.8 8.8.4.4\nDomains=corp.example svc.example\n");
  cfg.nameservers.clear();
  CHECK(file(plan(cfg, f), c::kResolvedDropinPath).bytes == "[Resolve]\n\nDomains=corp.example svc.example\n");

  // Without the setting, an earlier drop-in is removed (nodeadm leaves it).
  const Plan none = plan(config(), f);
  CHECK(find_file(none, c::kResolvedDropinPath) == nullptr);
  bool removes = false;
  for (const auto& r : none.removals) removes = removes || r.path == c::kResolvedDropinPath;
  CHECK(removes);

  // No systemd-resolved (Amazon Linux 2): a warning, nothing written.
  cfg.nameservers = {"10.0.0.2"};
  const Plan al2 = plan(cfg, facts());
  CHECK(find_file(al2, c::kResolvedDropinPath) == nullptr);
  bool warned = false;
  for (const auto& d : al2.diagnostics) warned = warned || d.id == "NETWORK_NOT_APPLIED";
  CHECK(warned);

  cfg.nameservers = {"8.8.8.8\nDNSSEC=no"};
  CHECK(plan_error(cfg, f).message.find("not a single nameserver address") != std::string::npos);
}

TEST_CASE("plan_node is deterministic and idempotent over its own kubelet config") {
  const Plan first = plan(config(), facts());
  CHECK(plan(config(), facts()) == first);
  Facts after = facts();
  after.kubelet_config = file(first, c::kKubeletConfigPath).bytes;
  after.credential_provider_config = file(first, c::kCredentialProviderPath).bytes;
  CHECK(plan(config(), after) == first);
}

TEST_CASE("kubelet 1.23 gets the QPS keys and v1alpha1 credential provider") {
  Facts f = facts();
  f.kubelet_version = {1, 23, 9};
  const Plan p = plan(config(), f);
  const json cfg = kubelet_config(p);
  CHECK(cfg["kubeAPIQPS"] == 10);
  CHECK(cfg["kubeAPIBurst"] == 20);
  CHECK(contains(file(p, c::kCredentialProviderPath).bytes, "v1alpha1"));
}

TEST_CASE("clusterDNS follows the VPC, the service CIDR or the explicit list") {
  struct Row {
    std::string what;
    std::vector<std::string> vpc;
    std::optional<std::string> service_cidr;
    std::vector<std::string> dns_flag;
    json expected;
  };
  const std::vector<Row> rows = {
      {"VPC outside 10/8", {"192.168.0.0/16"}, {}, {}, {"10.100.0.10"}},
      {"VPC with a 10/8 block", {"192.0.2.0/24", "10.0.0.0/16"}, {}, {}, {"172.20.0.10"}},
      {"no VPC blocks known", {}, {}, {}, {"10.100.0.10"}},
      {"service CIDR", {"10.0.0.0/16"}, "192.168.0.0/16", {}, {"192.168.0.10"}},
      {"--dns-cluster-ip list", {"10.0.0.0/16"}, "192.168.0.0/16", {"10.0.0.10", "10.0.0.11"},
       {"10.0.0.10", "10.0.0.11"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    NodeConfig cfg = config();
    cfg.service_ipv4_cidr = row.service_cidr;
    cfg.dns_cluster_ip = row.dns_flag;
    Facts f = facts();
    f.instance.vpc_ipv4_cidrs = row.vpc;
    const Plan p = plan(cfg, f);
    CHECK(kubelet_config(p)["clusterDNS"] == row.expected);
    CHECK(p.values["clusterDNS"] == row.expected);
  }
}

TEST_CASE("an IPv6 node uses its first IPv6 address and the service CIDR's DNS address") {
  NodeConfig cfg = config();
  cfg.cluster_name = "ipv6-cluster";
  cfg.ip_family = IpFamily::Ipv6;
  cfg.service_ipv6_cidr = "fd12:3456:789a::/108";
  Facts f = facts();
  f.instance.ipv6s = {"2001:db8:8:4::2"};
  const Plan p = plan(cfg, f);
  CHECK(kubelet_config(p)["clusterDNS"] == json::array({"fd12:3456:789a::a"}));
  CHECK(kubelet_args_line(p).starts_with("--node-ip=2001:db8:8:4::2 --pod-infra-container-image="));
  CHECK(p.values["ipFamily"] == "ipv6");
  CHECK_FALSE(has_diag(p, "NODE_IP_FIRST_IPV6"));

  SUBCASE("several addresses: the first, with a note") {
    f.instance.ipv6s = {"2001:db8:8:4::2", "2001:db8:8:4::3"};
    const Plan q = plan(cfg, f);
    CHECK(q.values["nodeIP"] == "2001:db8:8:4::2");
    CHECK(has_diag(q, "NODE_IP_FIRST_IPV6", Diagnostic::Level::Info));
  }
  SUBCASE("--dns-cluster-ip instead of the service CIDR") {
    cfg.service_ipv6_cidr.reset();
    cfg.dns_cluster_ip = {"fd00::a"};
    CHECK(kubelet_config(plan(cfg, f))["clusterDNS"] == json::array({"fd00::a"}));
  }
}

TEST_CASE("--use-max-pods false leaves maxPods out but still sizes kubeReserved by it") {
  NodeConfig cfg = config();
  cfg.use_max_pods = false;
  cfg.dns_cluster_ip = {"10.0.0.10", "10.0.0.11"};
  cfg.pause_container_account = "123456789012";
  cfg.pause_container_version = "3.10";
  const Plan p = plan(cfg, facts());
  const json kc = kubelet_config(p);
  CHECK_FALSE(kc.contains("maxPods"));
  CHECK(kc["kubeReserved"]["memory"] == "893Mi");
  CHECK(kc["clusterDNS"] == json::array({"10.0.0.10", "10.0.0.11"}));
  CHECK(p.values["maxPodsWritten"] == false);
  const std::string image = "123456789012.dkr.ecr.us-east-1.amazonaws.com/eks/pause:3.10";
  CHECK(contains(kubelet_args_line(p), "--pod-infra-container-image=" + image + " "));
  CHECK(contains(file(p, c::kContainerdConfigPath).bytes, sandbox_line(image)));
}

TEST_CASE("max pods follows the user's flags; kubeReserved memory the ENI-based value unless opted in") {
  // Karpenter models kube-reserved memory as 11 x ENI max pods + 255 Mi (UsesENILimitedMemoryOverhead),
  // as bootstrap.sh and nodeadm reserve it, whatever --max-pods says.
  struct Row {
    std::string what;
    std::string type;
    int vcpus;
    std::string extra;
    bool effective;  // --kube-reserved-max-pods effective
    int max_pods;
    std::string cpu;
    std::string memory;
  };
  const std::vector<Row> rows = {
      {"m5.8xlarge", "m5.8xlarge", 32, "", false, 234, "150m", "2829Mi"},
      {"--max-pods in extra args wins, memory stays ENI-based", "m4.xlarge", 2, "--max-pods=30", false, 30, "70m", "893Mi"},
      {"Karpenter's --max-pods=110 on m4.xlarge reserves 893Mi", "m4.xlarge", 2, "--max-pods=110", false, 110, "70m", "893Mi"},
      {"opt-in: memory follows --max-pods", "m4.xlarge", 2, "--max-pods=110", true, 110, "70m", "1465Mi"},
      {"opt-in: the last of two --max-pods", "m4.xlarge", 2, "--max-pods=58 --max-pods 17", true, 17, "70m", "442Mi"},
      {"the last of two --max-pods wins", "m4.xlarge", 2, "--max-pods=58 --max-pods 17", false, 17, "70m", "893Mi"},
      {"opt-in without a user value changes nothing", "m4.xlarge", 2, "", true, 58, "70m", "893Mi"},
      {"one vCPU", "m4.xlarge", 1, "", false, 58, "60m", "893Mi"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    NodeConfig cfg = config();
    cfg.kubelet_extra_args = row.extra;
    cfg.kube_reserved_for_effective_max_pods = row.effective;
    Facts f = facts();
    f.instance.instance_type = row.type;
    f.vcpus = row.vcpus;
    const Plan p = plan(cfg, f);
    const json kc = kubelet_config(p);
    CHECK(kc["maxPods"] == row.max_pods);
    CHECK(kc["kubeReserved"]["cpu"] == row.cpu);
    CHECK(kc["kubeReserved"]["memory"] == row.memory);
    CHECK(p.values["kubeReservedRule"] == (row.effective ? "effective" : "eni"));
    CHECK(has_diag(p, "MAXPODS_FROM_EXTRA_ARGS") == !row.extra.empty());
  }
}

TEST_CASE("a user kubeReserved still wins over both rules") {
  NodeConfig cfg = config();
  cfg.kubelet_extra_args = "--max-pods=110 --kube-reserved=memory=2Gi";
  const json kc = kubelet_config(plan(cfg, facts()));
  CHECK_FALSE(kc.contains("kubeReserved"));
}

TEST_CASE("an instance type in no table falls back to 110 pods with a warning") {
  Facts f = facts();
  f.instance.instance_type = "x9.large";
  const Plan p = plan(config(), f);
  CHECK(kubelet_config(p)["maxPods"] == 110);
  CHECK(has_diag(p, "MAXPODS_FALLBACK", Diagnostic::Level::Warning));
}

TEST_CASE("an eni-max-pods.txt override wins, and a malformed one is reported and ignored") {
  Facts f = facts();
  f.eni_max_pods_override = "# mine\nm4.xlarge 20\n";
  CHECK(kubelet_config(plan(config(), f))["maxPods"] == 20);
  f.eni_max_pods_override = "m4.xlarge twenty\n";
  const Plan p = plan(config(), f);
  CHECK(kubelet_config(p)["maxPods"] == 58);
  CHECK(has_diag(p, "MAXPODS_TABLE_INVALID", Diagnostic::Level::Warning));
}

TEST_CASE("--kube-reserved and --reserved-cpus in the extra args switch off what they replace") {
  SUBCASE("--kube-reserved") {
    NodeConfig cfg = config();
    cfg.kubelet_extra_args = "--kube-reserved=cpu=1,memory=2Gi";
    const Plan p = plan(cfg, facts());
    CHECK_FALSE(kubelet_config(p).contains("kubeReserved"));
    CHECK(kubelet_config(p).contains("systemReservedCgroup"));
    CHECK(has_diag(p, "KUBE_RESERVED_FROM_EXTRA_ARGS"));
  }
  SUBCASE("--reserved-cpus") {
    NodeConfig cfg = config();
    cfg.kubelet_extra_args = "--reserved-cpus=0-1";
    const Plan p = plan(cfg, facts());
    CHECK_FALSE(kubelet_config(p).contains("systemReservedCgroup"));
    CHECK_FALSE(kubelet_config(p).contains("kubeReservedCgroup"));
    CHECK(kubelet_config(p).contains("kubeReserved"));
    CHECK(has_diag(p, "RESERVED_CPUS"));
  }
}

TEST_CASE("extra args go to their own drop-in, verbatim") {
  NodeConfig cfg = config();
  cfg.kubelet_extra_args = "--node-labels=team=a --register-with-taints=k=v:NoSchedule";
  const Plan p = plan(cfg, facts());
  const FileWrite& w = file(p, c::kKubeletExtraArgsDropin);
  CHECK(w.bytes ==
        "[Service]\nEnvironment='KUBELET_EXTRA_ARGS=--node-labels=team=a "
        "--register-with-taints=k=v:NoSchedule'\n");
  CHECK(w.unit_file);
  CHECK(w.restarts == std::vector<std::string>{"kubelet.service"});
  CHECK(p.removals.empty());
}

TEST_CASE("the pause image registry follows the region, the account flag, the environment and FIPS") {
  struct Row {
    std::string what;
    std::string region;
    std::string domain;
    std::optional<std::string> account;
    std::optional<std::string> image_repo;
    bool fips;
    std::string image;
  };
  const std::vector<Row> rows = {
      {"us-east-1", "us-east-1", "amazonaws.com", {}, {}, false, kPause},
      {"cn-north-1", "cn-north-1", "amazonaws.com.cn", {}, {}, false,
       "918309763551.dkr.ecr.cn-north-1.amazonaws.com.cn/eks/pause:3.5"},
      {"us-gov-east-1", "us-gov-east-1", "amazonaws.com", {}, {}, false,
       "151742754352.dkr.ecr.us-gov-east-1.amazonaws.com/eks/pause:3.5"},
      {"FIPS endpoint", "us-east-1", "amazonaws.com", {}, {}, true,
       "602401143452.dkr.ecr-fips.us-east-1.amazonaws.com/eks/pause:3.5"},
      {"FIPS in GovCloud", "us-gov-west-1", "amazonaws.com", {}, {}, true,
       "013241004608.dkr.ecr-fips.us-gov-west-1.amazonaws.com/eks/pause:3.5"},
      {"account flag keeps the region", "eu-west-1", "amazonaws.com", "123456789012", {}, false,
       "123456789012.dkr.ecr.eu-west-1.amazonaws.com/eks/pause:3.5"},
      {"PAUSE_CONTAINER_IMAGE replaces the repository", "us-east-1", "amazonaws.com", {},
       "registry.example.com/pause", false, "registry.example.com/pause:3.5"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    NodeConfig cfg = config();
    cfg.pause_container_account = row.account;
    cfg.pause_container_image = row.image_repo;
    Facts f = facts();
    f.instance.region = row.region;
    f.instance.domain = row.domain;
    f.fips_ecr_endpoint = row.fips;
    const Plan p = plan(cfg, f);
    CHECK(p.values["pauseImage"] == row.image);
    CHECK(contains(kubelet_args_line(p), "--pod-infra-container-image=" + row.image + " "));
    CHECK(contains(file(p, c::kContainerdConfigPath).bytes, sandbox_line(row.image)));
  }
}

TEST_CASE("a user containerd config is used with the sandbox image substituted") {
  NodeConfig cfg = config();
  cfg.containerd_config_file = "/etc/eks/my-containerd.toml";
  Facts f = facts();
  f.containerd_config_user = "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nsandbox_image = \"SANDBOX_IMAGE\"\n";
  CHECK(file(plan(cfg, f), c::kContainerdConfigPath).bytes ==
        "version = 2\n[plugins.\"io.containerd.grpc.v1.cri\"]\nsandbox_image = \"" + std::string(kPause) + "\"\n");

  f.containerd_config_user = "version = 2\n[plugins\n";
  agent::Error e = plan_error(cfg, f);
  CHECK(e.code == Errc::Parse);
  CHECK(contains(e.message, "/etc/eks/my-containerd.toml"));
}

TEST_CASE("a local Outpost cluster bootstraps from a bootstrap kubeconfig with the cluster id") {
  NodeConfig cfg = config();
  cfg.apiserver_endpoint = "https://my-outpost.example.com:6443/";
  cfg.enable_local_outpost = true;
  cfg.cluster_id = "0123abcd-4567-89ef";
  cfg.kubelet_extra_args = "--node-labels=a=b";
  Facts f = facts();
  f.outpost_host_addresses = {"10.1.2.3", "10.1.2.4"};
  f.etc_hosts = "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n";
  const Plan p = plan(cfg, f);

  SUBCASE("bootstrap kubeconfig instead of kubeconfig") {
    CHECK(find_file(p, c::kKubeconfigPath) == nullptr);
    const FileWrite& bk = file(p, c::kBootstrapKubeconfigPath);
    CHECK(bk.bytes == c::kubeconfig_for("https://my-outpost.example.com:6443/", "0123abcd-4567-89ef", "us-east-1"));
    CHECK(contains(bk.bytes, "        - \"0123abcd-4567-89ef\"\n"));
    CHECK_FALSE(contains(bk.bytes, "ipv4-cluster"));
    CHECK(bk.restarts == std::vector<std::string>{"kubelet.service"});
  }
  SUBCASE("extra args are prefixed with --bootstrap-kubeconfig") {
    CHECK(file(p, c::kKubeletExtraArgsDropin).bytes ==
          "[Service]\nEnvironment='KUBELET_EXTRA_ARGS=--bootstrap-kubeconfig "
          "/var/lib/kubelet/bootstrap-kubeconfig --node-labels=a=b'\n");
    cfg.kubelet_extra_args.clear();
    const Plan q = plan(cfg, f);
    CHECK(file(q, c::kKubeletExtraArgsDropin).bytes ==
          "[Service]\nEnvironment='KUBELET_EXTRA_ARGS=--bootstrap-kubeconfig "
          "/var/lib/kubelet/bootstrap-kubeconfig'\n");
    CHECK(q.removals.empty());
  }
  SUBCASE("/etc/hosts gets a marked block for the API host, keeping existing lines") {
    const FileWrite& hosts = file(p, c::kEtcHostsPath);
    CHECK(hosts.bytes ==
          "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n"
          "# BEGIN eks-node-agent: local cluster API endpoint\n"
          "10.1.2.3\tmy-outpost.example.com\n"
          "10.1.2.4\tmy-outpost.example.com\n"
          "# END eks-node-agent\n");
    CHECK(hosts.restarts.empty());
  }
  SUBCASE("/etc/hosts is idempotent: planning over its own output changes nothing") {
    Facts again = f;
    again.etc_hosts = file(p, c::kEtcHostsPath).bytes;
    CHECK(file(plan(cfg, again), c::kEtcHostsPath).bytes == again.etc_hosts);
    again.outpost_host_addresses = {"10.9.9.9"};
    const std::string moved = file(plan(cfg, again), c::kEtcHostsPath).bytes;
    CHECK(moved ==
          "127.0.0.1   localhost localhost.localdomain\n::1         localhost6\n"
          "# BEGIN eks-node-agent: local cluster API endpoint\n"
          "10.9.9.9\tmy-outpost.example.com\n"
          "# END eks-node-agent\n");
  }
  SUBCASE("/etc/hosts lines added after the block survive, and a missing newline is supplied") {
    Facts again = f;
    again.etc_hosts = "127.0.0.1 localhost\n"
                      "# BEGIN eks-node-agent: local cluster API endpoint\n"
                      "10.0.0.1\told\n"
                      "# END eks-node-agent\n"
                      "192.0.2.1 added-by-user";
    const std::string once = file(plan(cfg, again), c::kEtcHostsPath).bytes;
    CHECK(once ==
          "127.0.0.1 localhost\n192.0.2.1 added-by-user\n"
          "# BEGIN eks-node-agent: local cluster API endpoint\n"
          "10.1.2.3\tmy-outpost.example.com\n10.1.2.4\tmy-outpost.example.com\n"
          "# END eks-node-agent\n");
    again.etc_hosts = once;
    CHECK(file(plan(cfg, again), c::kEtcHostsPath).bytes == once);
  }
  SUBCASE("an unresolved API host leaves /etc/hosts alone with a warning") {
    f.outpost_host_addresses.clear();
    const Plan q = plan(cfg, f);
    CHECK(find_file(q, c::kEtcHostsPath) == nullptr);
    CHECK(has_diag(q, "OUTPOST_HOST_UNRESOLVED", Diagnostic::Level::Warning));
  }
}

TEST_CASE("the bpf mount unit is planned only when needed") {
  SUBCASE("already mounted: no unit, a note") {
    Facts f = facts();
    f.bpf_mounted = true;
    const Plan p = plan(config(), f);
    CHECK(find_file(p, c::kBpfMountUnitPath) == nullptr);
    CHECK(std::none_of(p.units.begin(), p.units.end(),
                       [](const UnitIntent& u) { return u.unit == "sys-fs-bpf.mount"; }));
    CHECK(has_diag(p, "BPF_ALREADY_MOUNTED", Diagnostic::Level::Info));
    CHECK(p.units.size() == 2);
  }
  SUBCASE("--mount-bpf-fs false: no unit and no note") {
    NodeConfig cfg = config();
    cfg.mount_bpf_fs = false;
    const Plan p = plan(cfg, facts());
    CHECK(find_file(p, c::kBpfMountUnitPath) == nullptr);
    CHECK_FALSE(has_diag(p, "BPF_ALREADY_MOUNTED"));
    CHECK(p.units.size() == 2);
    CHECK(p.units.front().unit == "containerd.service");
  }
}

TEST_CASE("--hostname-override in the extra args replaces the IMDS hostname") {
  NodeConfig cfg = config();
  cfg.kubelet_extra_args = "--hostname-override=my-node";
  Facts f = facts();
  f.instance.local_hostname.clear();
  const Plan p = plan(cfg, f);
  CHECK(kubelet_args_line(p) ==
        "--node-ip=172.16.34.43 --pod-infra-container-image=" + std::string(kPause) +
            " --v=2 --cloud-provider=external");
  CHECK(p.values["hostname"] == "(from --kubelet-extra-args)");
}

TEST_CASE("a CA that is not PEM is written with a warning") {
  NodeConfig cfg = config();
  cfg.b64_cluster_ca = kCaB64;
  const Plan p = plan(cfg, facts());
  CHECK(file(p, c::kCaPath).bytes == "test");
  CHECK(has_diag(p, "CA_NOT_PEM", Diagnostic::Level::Warning));
}

TEST_CASE("inputs plan_node cannot work with are errors") {
  struct Row {
    std::string what;
    std::function<void(NodeConfig&, Facts&)> change;
    Errc code;
    std::string mentions;
  };
  const std::vector<Row> rows = {
      {"no endpoint", [](NodeConfig& n, Facts&) { n.apiserver_endpoint.reset(); }, Errc::Invalid,
       "--apiserver-endpoint"},
      {"empty endpoint", [](NodeConfig& n, Facts&) { n.apiserver_endpoint = ""; }, Errc::Invalid,
       "--apiserver-endpoint"},
      {"no CA", [](NodeConfig& n, Facts&) { n.b64_cluster_ca.reset(); }, Errc::Invalid, "--b64-cluster-ca"},
      {"bad CA", [](NodeConfig& n, Facts&) { n.b64_cluster_ca = "not*base64"; }, Errc::Invalid,
       "--b64-cluster-ca"},
      {"ipv6 without an address",
       [](NodeConfig& n, Facts&) {
         n.ip_family = IpFamily::Ipv6;
         n.service_ipv6_cidr = "fd00::/108";
       },
       Errc::Invalid, "IPv6 address"},
      {"ipv6 without DNS input", [](NodeConfig& n, Facts& f) {
         n.ip_family = IpFamily::Ipv6;
         f.instance.ipv6s = {"2001:db8::1"};
       },
       Errc::Invalid, "--service-ipv6-cidr"},
      {"ipv4 without an address", [](NodeConfig&, Facts& f) { f.instance.local_ipv4.clear(); },
       Errc::Invalid, "local-ipv4"},
      {"no local hostname", [](NodeConfig&, Facts& f) { f.instance.local_hostname.clear(); },
       Errc::Invalid, "--hostname-override"},
      {"bad --max-pods in extra args", [](NodeConfig& n, Facts&) { n.kubelet_extra_args = "--max-pods=lots"; },
       Errc::Invalid, "--max-pods"},
      {"newline in extra args", [](NodeConfig& n, Facts&) { n.kubelet_extra_args = "--a\n--b"; },
       Errc::Invalid, "KUBELET_EXTRA_ARGS"},
      {"malformed kubelet config", [](NodeConfig&, Facts& f) { f.kubelet_config = "{\"a\": }"; },
       Errc::Parse, "kubelet-config.json"},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    NodeConfig cfg = config();
    Facts f = facts();
    row.change(cfg, f);
    agent::Error e = plan_error(cfg, f);
    CHECK(e.code == row.code);
    CHECK_MESSAGE(contains(e.message, row.mentions), e.message);
  }
}

TEST_CASE("a bad CA error does not echo the CA") {
  NodeConfig cfg = config();
  cfg.b64_cluster_ca = "c2VjcmV0LWNh!!";
  agent::Error e = plan_error(cfg, facts());
  CHECK_FALSE(contains(e.message, "c2VjcmV0"));
}

TEST_CASE("an unusable credential provider config is replaced with a warning") {
  Facts f = facts();
  f.credential_provider_config = "{ nope";
  const Plan p = plan(config(), f);
  CHECK(has_diag(p, "CREDENTIAL_CONFIG_REPLACED", Diagnostic::Level::Warning));
  CHECK(file(p, c::kCredentialProviderPath).bytes == c::credential_provider_config_for({1, 27, 0}, std::nullopt));
}

TEST_CASE("endpoint_host takes the host from an endpoint URL, IPv6 literals included") {
  CHECK(agent::compute::endpoint_host("https://ABC.gr7.us-west-2.eks.amazonaws.com") ==
        "ABC.gr7.us-west-2.eks.amazonaws.com");
  CHECK(agent::compute::endpoint_host("https://api.local:6443/path") == "api.local");
  CHECK(agent::compute::endpoint_host("https://[fd00::1]:443") == "fd00::1");
  CHECK(agent::compute::endpoint_host("10.0.0.5") == "10.0.0.5");
}
