// --config-source parsing, NodeConfig documents under bootstrap.sh flags, and the checks after.
#include "agent/cli/config_sources.h"

#include <doctest/doctest.h>

#include <map>
#include <string>

using agent::Errc;
using agent::IpFamily;
using agent::cli::Options;
using namespace agent::cli;
namespace ud = agent::userdata;

namespace {

Options parse(const std::vector<std::string>& args, std::map<std::string, std::string> env = {}) {
  auto r = parse_bootstrap_args(args, [&env](const char* n) -> const char* {
    auto it = env.find(n);
    return it == env.end() ? nullptr : it->second.c_str();
  });
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  return std::move(r).value();
}

ud::NodeConfigDoc doc(ud::NodeConfigSpec spec) {
  ud::NodeConfigDoc d;
  d.spec = std::move(spec);
  d.origin = ud::Origin{.source = "imds://user-data", .part = "MIME part 2 (application/node.eks.aws)", .mark = {1, 1}};
  d.fields["spec.cluster"] = d.origin.at({4, 3});
  d.fields["spec.cluster.name"] = d.origin.at({5, 5});
  return d;
}

ud::NodeConfigSpec full() {
  ud::NodeConfigSpec s;
  s.name = "doc-cluster";
  s.api_server_endpoint = "https://doc";
  s.certificate_authority = "ZG9j";
  s.cidr = "10.100.0.0/16";
  return s;
}

Options applied(Options o, const ud::NodeConfigDoc& d, std::vector<std::string>* warnings = nullptr) {
  std::vector<std::string> w;
  auto r = apply_node_config(o, d, w);
  REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? "" : r.error().message));
  if (warnings != nullptr) *warnings = w;
  return o;
}

bool has(const std::vector<std::string>& v, const std::string& part) {
  for (const auto& s : v) {
    if (s.find(part) != std::string::npos) return true;
  }
  return false;
}

}  // namespace

TEST_CASE("config sources parse from their URI") {
  auto u = parse_config_source("imds://user-data");
  REQUIRE(u.has_value());
  CHECK(u->kind == ConfigSource::Kind::UserData);
  CHECK(tolerates_no_node_config(*u));
  auto f = parse_config_source("file:///etc/eks/x.yaml");
  REQUIRE(f.has_value());
  CHECK(f->kind == ConfigSource::Kind::File);
  CHECK(f->path == "/etc/eks/x.yaml");
  CHECK_FALSE(f->directory);
  CHECK_FALSE(tolerates_no_node_config(*f));
  auto d = parse_config_source("file:///etc/eks/eks-node-agent.d/");
  REQUIRE(d.has_value());
  CHECK(d->directory);
  CHECK(tolerates_no_node_config(*d));
  CHECK(parse_config_source("file://relative.yaml").error().code == Errc::Usage);
  CHECK(parse_config_source("https://example.com/x").error().message.find("unsupported source") != std::string::npos);
  CHECK(boot_config_sources() == std::vector<std::string>{"imds://user-data", "file:///etc/eks/eks-node-agent.d/"});
}

TEST_CASE("--config-source repeats and defers the cluster name check") {
  Options o = parse({"--config-source", "imds://user-data", "--config-source=file:///etc/eks/eks-node-agent.d/"});
  CHECK(o.config_sources == std::vector<std::string>{"imds://user-data", "file:///etc/eks/eks-node-agent.d/"});
  CHECK(o.node.cluster_name.empty());
  auto r = check_node_config(o);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Usage);
  CHECK(r.error().message == "no cluster name: pass --cluster NAME or the name as the positional argument");
  SUBCASE("without --config-source the check is immediate, as before") {
    auto p = parse_bootstrap_args({"--apiserver-endpoint", "x"}, [](const char*) -> const char* { return nullptr; });
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().code == Errc::Usage);
  }
  SUBCASE("a missing value") {
    auto p = parse_bootstrap_args({"--config-source"}, [](const char*) -> const char* { return nullptr; });
    REQUIRE_FALSE(p.has_value());
    CHECK(p.error().message == "--config-source needs a value");
  }
}

TEST_CASE("document fields fill in what the flags left unset") {
  Options o = applied(parse({"--config-source", "imds://user-data"}), doc(full()));
  CHECK(o.node.cluster_name == "doc-cluster");
  CHECK(o.node.apiserver_endpoint == "https://doc");
  CHECK(o.node.b64_cluster_ca == "ZG9j");
  CHECK(o.node.service_ipv4_cidr == "10.100.0.0/16");
  CHECK(o.node.ip_family == IpFamily::Ipv4);
  CHECK(has(o.sources, "spec.cluster.name (imds://user-data, MIME part 2 (application/node.eks.aws))"));
  CHECK(check_with_node_config(o, doc(full())).has_value());
}

TEST_CASE("flags and their environment variables win over the fields they map to") {
  std::vector<std::string> warnings;
  ud::NodeConfigSpec s = full();
  s.enable_outpost = true;
  s.id = "doc-id";
  s.local_storage_strategy = "RAID0";
  s.containerd_config = "[grpc]\n";
  s.kubelet_config = {{"clusterDNS", {"10.100.0.10"}}, {"maxPods", 50}};
  Options o = applied(parse({"--config-source", "imds://user-data", "--apiserver-endpoint", "https://flag",
                             "--enable-local-outpost", "false", "--local-disks", "none", "--containerd-config-file",
                             "/etc/my.toml", "--dns-cluster-ip", "172.20.0.10", "flag-cluster"},
                            {{"B64_CLUSTER_CA", "ZW52"}}),
                      doc(s), &warnings);
  CHECK(o.node.cluster_name == "flag-cluster");
  CHECK(o.node.apiserver_endpoint == "https://flag");
  CHECK(o.node.b64_cluster_ca == "ZW52");
  CHECK(o.node.enable_local_outpost == false);
  CHECK(o.node.cluster_id == "doc-id");
  CHECK(o.node.local_disks == "none");
  CHECK_FALSE(o.node.containerd_config_toml.has_value());
  CHECK(o.node.kubelet_config == nlohmann::json{{"maxPods", 50}});  // clusterDNS: --dns-cluster-ip
  CHECK(has(warnings, "line 5, column 5: spec.cluster.name is overridden by the cluster name on the command line"));
  CHECK(has(warnings, "spec.cluster.apiServerEndpoint is overridden by --apiserver-endpoint"));
  CHECK(has(warnings, "spec.cluster.certificateAuthority is overridden by --b64-cluster-ca"));
  CHECK(has(warnings, "spec.kubelet.config.clusterDNS is overridden by --dns-cluster-ip"));
  CHECK(has(warnings, "spec.containerd.config is overridden by --containerd-config-file"));
}

TEST_CASE("the cidr's family sets the service CIDR and the IP family") {
  ud::NodeConfigSpec s = full();
  s.cidr = "fd00:10:100::/108";
  Options o = applied(parse({"--config-source", "imds://user-data"}), doc(s));
  CHECK(o.node.service_ipv6_cidr == "fd00:10:100::/108");
  CHECK_FALSE(o.node.service_ipv4_cidr.has_value());
  CHECK(o.node.ip_family == IpFamily::Ipv6);
  SUBCASE("contradicting --ip-family is an error naming both") {
    Options p = parse({"--config-source", "imds://user-data", "--ip-family", "ipv4"});
    std::vector<std::string> w;
    auto r = apply_node_config(p, doc(s), w);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().message.find("spec.cluster.cidr fd00:10:100::/108 is an IPv6 CIDR but --ip-family is ipv4") !=
          std::string::npos);
  }
  SUBCASE("--service-ipv4-cidr wins over cidr entirely") {
    Options p = applied(parse({"--config-source", "imds://user-data", "--service-ipv4-cidr", "172.20.0.0/16"}), doc(s));
    CHECK(p.node.service_ipv4_cidr == "172.20.0.0/16");
    CHECK_FALSE(p.node.service_ipv6_cidr.has_value());
  }
}

TEST_CASE("NodeConfig-only fields pass through") {
  ud::NodeConfigSpec s = full();
  s.kubelet_flags = {"--v=4"};
  s.base_runtime_spec = nlohmann::json{{"process", nlohmann::json::object()}};
  s.local_storage_strategy = "RAID10";
  s.local_storage_mount_path = "/mnt/x";
  s.environment = {{"default", {{"A", "1"}}}};
  s.feature_gates = {{"InstanceIdNodeName", true}};
  Options o = applied(parse({"--config-source", "imds://user-data", "--kubelet-extra-args", "--v=2"}), doc(s));
  CHECK(o.node.kubelet_flags == std::vector<std::string>{"--v=4"});
  CHECK(o.node.kubelet_extra_args == "--v=2");  // both kept; the extra args come last
  CHECK(o.node.base_runtime_spec.has_value());
  CHECK(o.node.local_disks == "raid10");
  CHECK(o.node.local_disks_mount_path == "/mnt/x");
  CHECK(o.node.environment.at("default").at("A") == "1");
  CHECK(o.node.instance_id_node_name);
}

TEST_CASE("what a NodeConfig requires is named with the document's position") {
  auto failure = [](ud::NodeConfigSpec s, std::vector<std::string> args = {}) {
    args.insert(args.begin(), {"--config-source", "imds://user-data"});
    Options o = applied(parse(args), doc(s));
    auto r = check_with_node_config(o, doc(s));
    REQUIRE_MESSAGE(!r.has_value(), "expected a failure");
    CHECK(r.error().code == Errc::Invalid);
    return r.error().message;
  };
  const std::string at = "imds://user-data, MIME part 2 (application/node.eks.aws), line 4, column 3: ";
  ud::NodeConfigSpec s = full();
  s.name.reset();
  CHECK(failure(s) == at + "spec.cluster.name is required (or pass --cluster NAME)");
  s = full();
  s.api_server_endpoint.reset();
  CHECK(failure(s) == at + "spec.cluster.apiServerEndpoint is required (or pass --apiserver-endpoint)");
  s = full();
  s.certificate_authority = "";
  CHECK(failure(s) == at + "spec.cluster.certificateAuthority is required (or pass --b64-cluster-ca)");
  s = full();
  s.cidr.reset();
  CHECK(failure(s) == at + "spec.cluster.cidr is required unless --dns-cluster-ip is given");
  s = full();
  s.enable_outpost = true;
  CHECK(failure(s).find("spec.cluster.id is required when spec.cluster.enableOutpost is true") != std::string::npos);
  SUBCASE("cidr is not needed with a DNS address from a flag or the kubelet config") {
    ud::NodeConfigSpec t = full();
    t.cidr.reset();
    Options o = applied(parse({"--config-source", "imds://user-data", "--dns-cluster-ip", "10.100.0.10"}), doc(t));
    CHECK(check_with_node_config(o, doc(t)).has_value());
    t.kubelet_config = {{"clusterDNS", {"10.100.0.10"}}};
    Options p = applied(parse({"--config-source", "imds://user-data"}), doc(t));
    CHECK(check_with_node_config(p, doc(t)).has_value());
  }
}
