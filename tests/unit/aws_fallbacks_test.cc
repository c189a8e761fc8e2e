// The AWS API fallbacks from gather to plan: when each call is made, how its answer completes the
// configuration (flags win), the waiting loops on a manual clock, max pods from EC2, the hostname
// sources, and the generated tables. The AwsApi is the scripted FakeAwsApi.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "agent/app/aws_lookups.h"
#include "agent/app/gather.h"
#include "agent/compute/cluster_config.h"
#include "agent/compute/instance_types.h"
#include "agent/compute/plan_node.h"
#include "tests/support/fake_aws_api.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"
#include "tests/support/recording_commands.h"

using agent::ClusterInfo;
using agent::Errc;
using agent::Facts;
using agent::HostnameSource;
using agent::InstanceDescription;
using agent::InstanceTypeInfo;
using agent::InstanceTypesPage;
using agent::IpFamily;
using agent::NodeConfig;
using agent::Plan;
using agent::Result;
using agent::testing::active_cluster;
using agent::testing::FakeAwsApi;
using agent::testing::FakeImds;
using agent::testing::ManualClock;
using agent::testing::MemRootFs;
using namespace std::chrono_literals;
namespace c = agent::compute;
namespace app = agent::app;

namespace {

const std::string kMd = "latest/meta-data/";
const std::string kMac = "0e:49:61:0f:c3:11";
const std::string kMacBase = kMd + "network/interfaces/macs/" + kMac + "/";
const std::string kPemB64 =
    "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1JSUIKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo=";

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

using NoCommands = agent::testing::RecordingCommands;  // every program: not on PATH

InstanceTypeInfo x9_large() {
  return InstanceTypeInfo{.instance_type = "x9.large", .default_vcpus = 2, .hypervisor = "nitro",
                          .default_card_max_enis = 3, .max_enis = 3, .ipv4_per_eni = 12, .network_cards = 1};
}

// A node whose IMDS, files and AWS API are all fakes.
struct Node {
  FakeImds imds;
  MemRootFs fs;
  NoCommands commands;
  FakeAwsApi aws;
  ManualClock clock;
  std::vector<std::string> resolved;

  Node() {
    imds.set("latest/dynamic/instance-identity/document", R"({"region": "us-west-2"})");
    imds.set(kMd + "services/domain", "amazonaws.com");
    imds.set(kMd + "mac", kMac);
    imds.set(kMd + "instance-type", "m5.large");
    imds.set(kMd + "instance-id", "i-0123456789abcdef0");
    imds.set(kMd + "placement/availability-zone", "us-west-2a");
    imds.set(kMd + "local-ipv4", "10.0.12.34");
    imds.set(kMd + "local-hostname", "ip-10-0-12-34.us-west-2.compute.internal");
    imds.set(kMacBase + "vpc-ipv4-cidr-blocks", "10.0.0.0/16");
    imds.set(kMacBase + "ipv6s", "2600:1f14::1");
    fs.put(c::kKubeletVersionPath, "v1.30.4\n");
    fs.put("/sys/devices/system/cpu/online", "0-1\n");
  }
  Result<Facts> gather(const NodeConfig& cfg, const app::KnownFacts& known = {}) {
    app::GatherPorts ports{imds, fs, commands,
                           [this](const std::string& host) {
                             resolved.push_back(host);
                             return std::vector<std::string>{"192.0.2.10"};
                           },
                           2, &aws, &clock, nullptr, clock.now() + 240s};
    return app::gather(cfg, ports, known);
  }
  Facts facts(const NodeConfig& cfg) {
    auto f = gather(cfg);
    REQUIRE_MESSAGE(f, (f ? "" : f.error().message));
    return std::move(f).value();
  }
  Plan plan(const NodeConfig& cfg) {
    auto p = c::plan_node(cfg, facts(cfg));
    REQUIRE_MESSAGE(p, (p ? "" : p.error().message));
    return std::move(p).value();
  }
};

NodeConfig flagless() { return NodeConfig{.cluster_name = "my-cluster"}; }
NodeConfig complete() {
  return NodeConfig{.cluster_name = "my-cluster", .apiserver_endpoint = "https://given", .b64_cluster_ca = kPemB64};
}

const agent::FileWrite& file(const Plan& p, const std::string& path) {
  for (const auto& f : p.files) {
    if (f.path == path) return f;
  }
  FAIL("no file " << path);
  throw 0;
}
nlohmann::json kubelet_config(const Plan& p) { return nlohmann::json::parse(file(p, c::kKubeletConfigPath).bytes); }
bool has_file(const Plan& p, const std::string& path) {
  for (const auto& f : p.files) {
    if (f.path == path) return true;
  }
  return false;
}
std::string args_dropin(const Plan& p) { return file(p, c::kKubeletArgsDropin).bytes; }
bool has_diag(const Plan& p, const std::string& id) {
  for (const auto& d : p.diagnostics) {
    if (d.id == id) return true;
  }
  return false;
}
std::string diag(const Plan& p, const std::string& id) {
  for (const auto& d : p.diagnostics) {
    if (d.id == id) return d.message;
  }
  return "";
}

}  // namespace

// --- when calls are made --------------------------------------------------------------------

TEST_CASE("a bootstrap with the endpoint and CA makes no AWS call") {
  Node n;
  Plan p = n.plan(complete());
  CHECK(n.aws.calls().empty());
  CHECK(contains(file(p, c::kKubeconfigPath).bytes, "https://given"));
  CHECK_FALSE(has_diag(p, "DESCRIBED_CLUSTER"));
}

TEST_CASE("DescribeCluster runs when the endpoint or the CA is missing, in the instance's region") {
  for (NodeConfig cfg : {flagless(), NodeConfig{.cluster_name = "my-cluster", .apiserver_endpoint = "https://given"},
                         NodeConfig{.cluster_name = "my-cluster", .b64_cluster_ca = kPemB64}}) {
    Node n;
    n.aws.clusters = {active_cluster()};
    n.facts(cfg);
    REQUIRE(n.aws.calls() == std::vector<std::string>{"DescribeCluster my-cluster"});
    CHECK(n.aws.wheres()[0].region == "us-west-2");
    CHECK(n.aws.wheres()[0].domain == "amazonaws.com");
    CHECK(n.aws.wheres()[0].deadline == n.clock.now() + 240s);
  }
}

TEST_CASE("the flag-less bootstrap takes the endpoint, CA and service CIDR from DescribeCluster") {
  Node n;
  n.aws.clusters = {active_cluster()};
  Plan p = n.plan(flagless());
  CHECK(contains(file(p, c::kKubeconfigPath).bytes, "https://DESCRIBED0123456789.gr7.us-west-2.eks.amazonaws.com"));
  CHECK(file(p, c::kCaPath).bytes == "-----BEGIN CERTIFICATE-----\nMIIBdescribed\n-----END CERTIFICATE-----\n");
  CHECK(kubelet_config(p)["clusterDNS"] == nlohmann::json::array({"10.100.0.10"}));
  CHECK(has_diag(p, "DESCRIBED_CLUSTER"));
  // gather did not need the VPC CIDRs' 10.x rule, but fetched them before it knew (same round trip).
  CHECK(n.imds.batches().size() == 2);
}

TEST_CASE("flags win over DescribeCluster (bootstrap.sh's CIDR overwrite is not reproduced)") {
  ClusterInfo k = active_cluster();
  k.service_ipv6_cidr = "fd00:10::/108";
  NodeConfig cfg{.cluster_name = "my-cluster",
                 .apiserver_endpoint = "https://mine",
                 .ip_family = IpFamily::Ipv4,
                 .service_ipv4_cidr = "192.168.0.0/16"};
  NodeConfig eff = c::with_cluster(cfg, k);
  CHECK(eff.apiserver_endpoint == std::optional<std::string>("https://mine"));
  CHECK(eff.b64_cluster_ca == std::optional<std::string>(k.certificate_authority));
  CHECK(eff.service_ipv4_cidr == std::optional<std::string>("192.168.0.0/16"));
  CHECK(eff.service_ipv6_cidr == std::optional<std::string>("fd00:10::/108"));
  CHECK(eff.ip_family == IpFamily::Ipv4);
  CHECK_FALSE(eff.enable_local_outpost);
  CHECK(c::with_cluster(cfg, std::nullopt) == cfg);
  CHECK(c::needs_describe_cluster(cfg));
  CHECK_FALSE(c::needs_describe_cluster(complete()));
  CHECK(c::needs_describe_cluster(NodeConfig{.cluster_name = "x", .apiserver_endpoint = "None", .b64_cluster_ca = "x"}));
}

TEST_CASE("an IPv6 cluster from DescribeCluster makes an IPv6 node") {
  Node n;
  ClusterInfo k = active_cluster();
  k.ip_family = "ipv6";
  k.service_ipv4_cidr.reset();
  k.service_ipv6_cidr = "fd12:3456:789a::/108";
  n.aws.clusters = {k};
  Plan p = n.plan(flagless());
  CHECK(kubelet_config(p)["clusterDNS"] == nlohmann::json::array({"fd12:3456:789a::a"}));
  CHECK(contains(args_dropin(p), "--node-ip=2600:1f14::1"));
}

TEST_CASE("a local Outpost cluster found by DescribeCluster takes the bootstrap-kubeconfig path") {
  Node n;
  ClusterInfo k = active_cluster("local");
  k.id = "0123abcd-4567";
  k.outpost_arn = "arn:aws:outposts:us-west-2:111122223333:outpost/op-1";
  n.aws.clusters = {k};
  n.fs.put("/etc/hosts", "127.0.0.1 localhost\n");
  Plan p = n.plan(NodeConfig{.cluster_name = "local"});
  CHECK(contains(file(p, c::kBootstrapKubeconfigPath).bytes, "0123abcd-4567"));
  CHECK_FALSE(has_file(p, c::kKubeconfigPath));
  CHECK(contains(file(p, c::kEtcHostsPath).bytes, "192.0.2.10\tDESCRIBED0123456789.gr7.us-west-2.eks.amazonaws.com"));
  CHECK(n.resolved == std::vector<std::string>{"DESCRIBED0123456789.gr7.us-west-2.eks.amazonaws.com"});
  // A given --cluster-id wins; an Outpost cluster without any id cannot be joined.
  NodeConfig with_id{.cluster_name = "local", .cluster_id = "mine"};
  CHECK(c::with_cluster(with_id, k).cluster_id == std::optional<std::string>("mine"));
  k.id.clear();
  Node m;
  m.aws.clusters = {k};
  auto f = m.facts(NodeConfig{.cluster_name = "local"});
  auto err = c::plan_node(NodeConfig{.cluster_name = "local"}, f);
  REQUIRE_FALSE(err);
  CHECK(contains(err.error().message, "--cluster-id"));
}

TEST_CASE("DescribeCluster errors stop gather; an answer without endpoint or CA too") {
  Node n;
  n.aws.clusters = {agent::make_error(Errc::AwsApi, "eks:DescribeCluster was denied")};
  auto f = n.gather(flagless());
  REQUIRE_FALSE(f);
  CHECK(f.error().code == Errc::AwsApi);
  Node m;
  ClusterInfo k = active_cluster();
  k.certificate_authority.clear();
  m.aws.clusters = {k};
  auto g = m.gather(flagless());
  REQUIRE_FALSE(g);
  CHECK(contains(g.error().message, "has no certificate authority"));
}

// --- waiting for the answer to change -----------------------------------------------------------

TEST_CASE("a CREATING cluster is asked again with growing, jittered waits until ACTIVE") {
  FakeAwsApi api;
  ClusterInfo creating = active_cluster();
  creating.status = "CREATING";
  api.clusters = {creating, creating, creating, active_cluster()};
  ManualClock clock;
  app::AwsContext ctx{.api = api, .clock = clock};
  const auto start = clock.now();
  auto k = app::describe_active_cluster(ctx, {.region = "r", .domain = "d", .deadline = start + 240s}, "my-cluster");
  REQUIRE(k);
  CHECK(k->status == "ACTIVE");
  CHECK(api.calls().size() == 4);
  REQUIRE(clock.sleeps().size() == 3);
  // Equal jitter: wait n is in [window/2, window) for windows 1, 2, 4 s.
  auto prev = start;
  std::chrono::milliseconds window = 1000ms;
  for (auto t : clock.sleeps()) {
    CHECK(t - prev >= window / 2);
    CHECK(t - prev < window);
    prev = t;
    window *= 2;
  }
}

TEST_CASE("a cluster that stays CREATING fails at the deadline; DELETING and FAILED fail at once") {
  FakeAwsApi api;
  ClusterInfo creating = active_cluster();
  creating.status = "CREATING";
  api.clusters = {creating};
  ManualClock clock;
  app::AwsContext ctx{.api = api, .clock = clock};
  auto k = app::describe_active_cluster(ctx, {.region = "r", .domain = "d", .deadline = clock.now() + 60s}, "c");
  REQUIRE_FALSE(k);
  CHECK(k.error().code == Errc::AwsApi);
  CHECK(contains(k.error().message, "is CREATING"));
  CHECK(contains(k.error().message, "deadline"));
  CHECK(clock.now() < clock.sleeps().front() + 60s);
  for (const char* status : {"DELETING", "FAILED"}) {
    FakeAwsApi a;
    ClusterInfo bad = active_cluster();
    bad.status = status;
    a.clusters = {bad};
    app::AwsContext x{.api = a, .clock = clock};
    auto r = app::describe_active_cluster(x, {.region = "r", .domain = "d", .deadline = clock.now() + 60s}, "c");
    REQUIRE_FALSE(r);
    CHECK(contains(r.error().message, std::string("is ") + status));
    CHECK(a.calls().size() == 1);
  }
  FakeAwsApi u;
  ClusterInfo updating = active_cluster();
  updating.status = "UPDATING";
  u.clusters = {updating};
  app::AwsContext y{.api = u, .clock = clock};
  CHECK(app::describe_active_cluster(y, {.region = "r", .domain = "d", .deadline = clock.now() + 60s}, "c"));
}

TEST_CASE("PrivateDnsName is asked for again while empty or not found, within max attempts") {
  FakeAwsApi api;
  api.instances = {agent::make_error(Errc::AwsApi, "{}instance i-1", agent::kAwsNotFoundPrefix),
                   InstanceDescription{.instance_id = "i-1"},
                   InstanceDescription{.instance_id = "i-1", .private_dns_name = "ip-1.ec2.internal"}};
  ManualClock clock;
  app::AwsContext ctx{.api = api, .clock = clock};
  auto name = app::ec2_private_dns_name(ctx, {.region = "r", .domain = "d", .deadline = clock.now() + 240s}, "i-1");
  REQUIRE(name);
  CHECK(*name == "ip-1.ec2.internal");
  CHECK(api.calls().size() == 3);

  FakeAwsApi empty;
  empty.instances = {InstanceDescription{.instance_id = "i-1"}};
  app::AwsContext few{.api = empty, .clock = clock};
  few.poll.max_attempts = 3;
  auto none = app::ec2_private_dns_name(few, {.region = "r", .domain = "d", .deadline = clock.now() + 240s}, "i-1");
  REQUIRE_FALSE(none);
  CHECK(contains(none.error().message, "after 3 DescribeInstances call(s)"));
  CHECK(contains(none.error().message, "--hostname-source imds"));
  CHECK(empty.calls().size() == 3);

  FakeAwsApi denied;
  denied.instances = {agent::make_error(Errc::AwsApi, "ec2:DescribeInstances was denied")};
  app::AwsContext d{.api = denied, .clock = clock};
  auto e = app::ec2_private_dns_name(d, {.region = "r", .domain = "d", .deadline = clock.now() + 240s}, "i-1");
  REQUIRE_FALSE(e);
  CHECK(denied.calls().size() == 1);  // a final error is not waited on
}

TEST_CASE("nodeadm's flow waits for PrivateDnsName for a duration, not an attempt count") {
  FakeAwsApi empty;
  empty.instances = {InstanceDescription{.instance_id = "i-1"}};
  ManualClock clock;
  app::AwsContext ctx{.api = empty, .clock = clock};
  ctx.keep_asking_for = 600s;
  const auto start = clock.now();
  auto none = app::ec2_private_dns_name(ctx, {.region = "r", .domain = "d", .deadline = clock.now() + 900s}, "i-1");
  REQUIRE_FALSE(none);
  CHECK(clock.now() - start >= 600s);  // nodeadm's 10 minutes, then the error
  CHECK(clock.now() - start < 620s);   // one wait (at most 15 s) past them
  CHECK(empty.calls().size() > 20);    // more than bootstrap.sh's 20 tries
  CHECK(contains(none.error().message, "PrivateDnsName is empty"));

  // The run's deadline still bounds it.
  FakeAwsApi again;
  again.instances = {InstanceDescription{.instance_id = "i-1"}};
  app::AwsContext short_run{.api = again, .clock = clock};
  short_run.keep_asking_for = 600s;
  auto cut = app::ec2_private_dns_name(short_run, {.region = "r", .domain = "d", .deadline = clock.now() + 30s}, "i-1");
  REQUIRE_FALSE(cut);
  CHECK(contains(cut.error().message, "deadline"));
}

TEST_CASE("listing instance types follows NextToken to the last page") {
  FakeAwsApi api;
  api.pages = {InstanceTypesPage{.types = {x9_large()}, .next_token = "1"},
               InstanceTypesPage{.types = {x9_large(), x9_large()}, .next_token = "2"},
               InstanceTypesPage{.types = {x9_large()}, .next_token = ""}};
  ManualClock clock;
  app::AwsContext ctx{.api = api, .clock = clock};
  std::vector<std::pair<int, size_t>> progress;
  auto all = app::list_instance_types(ctx, {.region = "r", .domain = "d", .deadline = clock.now() + 60s}, 100,
                                      [&](int page, size_t n) { progress.emplace_back(page, n); });
  REQUIRE(all);
  CHECK(all->size() == 4);
  CHECK(progress == std::vector<std::pair<int, size_t>>{{1, 1}, {2, 3}, {3, 4}});
  api.pages[1].next_token = "1";  // a service that repeats itself is not followed forever
  auto loop = app::list_instance_types(ctx, {.region = "r", .domain = "d", .deadline = clock.now() + 60s}, 100);
  REQUIRE_FALSE(loop);
  CHECK(contains(loop.error().message, "same NextToken"));
}

// --- max pods from EC2 -----------------------------------------------------------------------

TEST_CASE("an instance type no table knows is looked up with DescribeInstanceTypes") {
  Node n;
  n.imds.set(kMd + "instance-type", "x9.large");
  n.aws.types["x9.large"] = x9_large();
  Plan p = n.plan(complete());
  CHECK(n.aws.calls() == std::vector<std::string>{"DescribeInstanceTypes x9.large"});
  CHECK(kubelet_config(p)["maxPods"] == 35);  // 3 x (12 - 1) + 2
  CHECK(kubelet_config(p)["kubeReserved"]["memory"] == "640Mi");
  CHECK(p.values["maxPodsSource"] == "EC2 DescribeInstanceTypes");
  CHECK(has_diag(p, "MAXPODS_FROM_EC2"));
  CHECK_FALSE(has_diag(p, "MAXPODS_FALLBACK"));
}

TEST_CASE("known instance types, and types in eni-max-pods.txt, make no EC2 call") {
  Node n;
  n.plan(complete());  // m5.large: built-in table
  n.imds.set(kMd + "instance-type", "x9.large");
  n.fs.put(c::kEniMaxPodsPath, "x9.large 17\n");
  Plan p = n.plan(complete());
  CHECK(n.aws.calls().empty());
  CHECK(kubelet_config(p)["maxPods"] == 17);
  CHECK(c::max_pods_needs_lookup("x9.large", std::nullopt));
  CHECK_FALSE(c::max_pods_needs_lookup("m5.large", std::nullopt));
  CHECK_FALSE(c::max_pods_needs_lookup("x9.large", std::string("x9.large 5\n")));
  CHECK_FALSE(c::max_pods_needs_lookup("", std::nullopt));
}

TEST_CASE("when DescribeInstanceTypes fails too, max pods is 110 with a warning that says why") {
  Node n;
  n.imds.set(kMd + "instance-type", "x9.large");
  n.aws.fail_instance_types = agent::make_error(Errc::AwsApi, "ec2:DescribeInstanceTypes was denied");
  Plan p = n.plan(complete());
  CHECK(kubelet_config(p)["maxPods"] == 110);
  CHECK(kubelet_config(p)["kubeReserved"]["memory"] == "1465Mi");
  CHECK(contains(diag(p, "MAXPODS_FALLBACK"), "EC2 DescribeInstanceTypes failed too: ec2:DescribeInstanceTypes was denied"));
}

TEST_CASE("max pods from EC2 facts: the default card, uncapped as bootstrap.sh's fallback") {
  InstanceTypeInfo t{.instance_type = "x9.48xlarge", .default_vcpus = 192, .hypervisor = "nitro",
                     .default_network_card_index = 1, .default_card_max_enis = 8, .max_enis = 15,
                     .ipv4_per_eni = 50, .network_cards = 2};
  CHECK(c::max_pods_from_ec2(t) == 394);
  CHECK(c::networking_facts_from(t).max_enis == 8);
  t.ipv4_per_eni = 0;
  CHECK_FALSE(c::max_pods_from_ec2(t));
}

// --- hostname ---------------------------------------------------------------------------------

TEST_CASE("--hostname-source: IMDS by default, EC2 PrivateDnsName, or the instance id") {
  Node n;
  NodeConfig cfg = complete();
  CHECK(contains(args_dropin(n.plan(cfg)), "--hostname-override=ip-10-0-12-34.us-west-2.compute.internal"));
  CHECK(n.aws.calls().empty());
  cfg.hostname_source = HostnameSource::InstanceId;
  CHECK(contains(args_dropin(n.plan(cfg)), "--hostname-override=i-0123456789abcdef0"));
  CHECK(n.aws.calls().empty());
  cfg.hostname_source = HostnameSource::Ec2;
  n.aws.instances = {InstanceDescription{.instance_id = "i-0123456789abcdef0", .private_dns_name = "ip-9.ec2.internal"}};
  CHECK(contains(args_dropin(n.plan(cfg)), "--hostname-override=ip-9.ec2.internal"));
  CHECK(n.aws.calls() == std::vector<std::string>{"DescribeInstances i-0123456789abcdef0"});
}

TEST_CASE("--hostname-source ec2 with a known PrivateDnsName (nodeadm's cache) asks EC2 nothing") {
  Node n;
  NodeConfig cfg = complete();
  cfg.hostname_source = HostnameSource::Ec2;
  n.aws.instances = {InstanceDescription{.instance_id = "i-0123456789abcdef0", .private_dns_name = "ip-9.ec2.internal"}};
  auto f = n.gather(cfg, app::KnownFacts{.ec2_private_dns_name = "ip-10-0-99-1.us-west-2.compute.internal"});
  REQUIRE_MESSAGE(f, (f ? "" : f.error().message));
  CHECK(f->ec2_private_dns_name == "ip-10-0-99-1.us-west-2.compute.internal");
  CHECK(n.aws.calls().empty());
  auto p = c::plan_node(cfg, *f);
  REQUIRE(p);
  CHECK(contains(args_dropin(*p), "--hostname-override=ip-10-0-99-1.us-west-2.compute.internal"));
}

TEST_CASE("--hostname-source ec2 with a --hostname-override in the extra args asks EC2 nothing") {
  Node n;
  NodeConfig cfg = complete();
  cfg.hostname_source = HostnameSource::Ec2;
  cfg.kubelet_extra_args = "--node-labels=a=b --hostname-override=my-node.example";
  const std::string dropin = args_dropin(n.plan(cfg));
  CHECK_FALSE(contains(dropin, "--hostname-override="));  // the user's, in the extra args, stands
  CHECK(n.aws.calls().empty());
}

// --- generated tables ------------------------------------------------------------------------

TEST_CASE("generated tables: sorted, deduplicated, in data/'s formats, unusable types skipped") {
  InstanceTypeInfo m4{.instance_type = "m4.xlarge", .default_vcpus = 4, .hypervisor = "xen",
                      .default_card_max_enis = 4, .max_enis = 4, .ipv4_per_eni = 15};
  InstanceTypeInfo broken{.instance_type = "u-0.metal", .default_vcpus = 4};
  auto t = c::generate_tables({x9_large(), m4, broken, m4}, "EC2 DescribeInstanceTypes in us-west-2");
  CHECK(contains(t.eni_max_pods, "# Generated by `eks-node-agent max-pods --generate-table` from EC2 "
                                 "DescribeInstanceTypes in us-west-2."));
  CHECK(contains(t.eni_max_pods, "\nm4.xlarge 58\nx9.large 35\n"));
  CHECK(t.networking ==
        "{\"instanceType\":\"m4.xlarge\",\"maxEnis\":4,\"ipv4PerEni\":15,\"hypervisor\":\"xen\",\"bareMetal\":false}\n"
        "{\"instanceType\":\"x9.large\",\"maxEnis\":3,\"ipv4PerEni\":12,\"hypervisor\":\"nitro\",\"bareMetal\":false}\n");
  CHECK(t.skipped == std::vector<std::string>{"u-0.metal"});
  // The agent reads what it generates.
  auto parsed = c::parse_eni_max_pods(t.eni_max_pods);
  REQUIRE(parsed);
  CHECK(parsed->at("x9.large") == 35);
}
