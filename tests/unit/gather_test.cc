#include "agent/app/gather.h"

#include <doctest/doctest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "agent/compute/plan_node.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"

using agent::Errc;
using agent::Facts;
using agent::IpFamily;
using agent::NodeConfig;
using agent::Result;
using agent::Version;
using agent::app::count_cpu_list;
using agent::app::gather;
using agent::app::GatherPorts;
using agent::testing::FakeImds;
using agent::testing::MemRootFs;
namespace c = agent::compute;

namespace {

using Paths = std::vector<std::string>;

const std::string kMd = "latest/meta-data/";
const std::string kDoc = "latest/dynamic/instance-identity/document";
const std::string kMac = "0e:49:61:0f:c3:11";
const std::string kMacBase = kMd + "network/interfaces/macs/" + kMac + "/";

// The MAC-independent paths gather asks for in its first batch, in order.
const Paths kFirstBatch = {
    kDoc,
    kMd + "services/domain",
    kMd + "mac",
    kMd + "instance-type",
    kMd + "instance-id",
    kMd + "placement/availability-zone",
    kMd + "local-ipv4",
    kMd + "local-hostname",
};

// `kubelet --version` and anything else gather might run.
struct FakeCommands final : agent::CommandRunner {
  Result<std::string> output = agent::make_error(Errc::NotFound, "kubelet: not on PATH");
  std::vector<std::vector<std::string>> calls;
  Result<std::string> run(const std::vector<std::string>& argv) override {
    calls.push_back(argv);
    return output;
  }
};

struct World {
  FakeImds imds;
  MemRootFs fs;
  FakeCommands commands;
  std::vector<std::string> resolved;  // hosts the resolver was asked for
  std::vector<std::string> addresses = {"10.1.2.3"};
  int host_vcpus = 0;

  World() {
    imds.set(kDoc, R"({"accountId": "123456789012", "region": "us-east-1", "instanceId": "i-1234567890abcdef0"})");
    imds.set(kMd + "services/domain", "amazonaws.com");
    imds.set(kMd + "mac", kMac);
    imds.set(kMd + "instance-type", "m4.xlarge");
    imds.set(kMd + "instance-id", "i-1234567890abcdef0");
    imds.set(kMd + "placement/availability-zone", "us-east-1a");
    imds.set(kMd + "local-ipv4", "172.16.34.43");
    imds.set(kMd + "local-hostname", "ip-172-16-34-43.ec2.internal");
    imds.set(kMacBase + "vpc-ipv4-cidr-blocks", "192.0.2.0/24\n10.0.0.0/16\n");
    imds.set(kMacBase + "ipv6s", "2001:db8:8:4::2\n2001:db8:8:4::3");
    fs.put(c::kKubeletVersionPath, "v1.29.3-eks-ae9a62a\n");
    fs.put("/sys/devices/system/cpu/online", "0-1\n");
  }

  Result<Facts> run(const NodeConfig& cfg) {
    GatherPorts ports{imds, fs, commands,
                      [this](const std::string& host) {
                        resolved.push_back(host);
                        return addresses;
                      },
                      host_vcpus};
    return gather(cfg, ports);
  }
  Facts facts(const NodeConfig& cfg) {
    auto r = run(cfg);
    REQUIRE_MESSAGE(r.has_value(), (r.has_value() ? std::string() : r.error().message));
    return std::move(r).value();
  }
  agent::Error error(const NodeConfig& cfg) {
    auto r = run(cfg);
    REQUIRE_MESSAGE(!r.has_value(), "expected gather to fail");
    return r.error();
  }
};

NodeConfig config() { return NodeConfig{.cluster_name = "my-cluster"}; }

bool contains(const std::string& s, const std::string& part) { return s.find(part) != std::string::npos; }

}  // namespace

TEST_CASE("gather reads the instance from IMDS into Facts") {
  World w;
  const Facts f = w.facts(config());
  CHECK(f.instance == agent::InstanceFacts{
                          .region = "us-east-1",
                          .domain = "amazonaws.com",
                          .instance_id = "i-1234567890abcdef0",
                          .instance_type = "m4.xlarge",
                          .availability_zone = "us-east-1a",
                          .local_hostname = "ip-172-16-34-43.ec2.internal",
                          .local_ipv4 = "172.16.34.43",
                          .mac = kMac,
                          .vpc_ipv4_cidrs = {"192.0.2.0/24", "10.0.0.0/16"},
                      });
  CHECK(f.kubelet_version == Version{1, 29, 3});
  CHECK(f.kubelet_version_source == c::kKubeletVersionPath);
  CHECK(f.vcpus == 2);
  CHECK_FALSE(f.kubelet_config.has_value());
  CHECK_FALSE(f.fips_ecr_endpoint);
  CHECK(f.outpost_host_addresses.empty());
  CHECK(w.resolved.empty());
}

TEST_CASE("IMDS values are trimmed of surrounding whitespace") {
  World w;
  w.imds.set(kMd + "instance-type", "m4.xlarge\n");
  w.imds.set(kMd + "mac", " " + kMac + "\r\n");
  w.imds.set(kMd + "local-hostname", "ip-172-16-34-43.ec2.internal\n");
  const Facts f = w.facts(config());
  CHECK(f.instance.instance_type == "m4.xlarge");
  CHECK(f.instance.mac == kMac);
  CHECK(f.instance.local_hostname == "ip-172-16-34-43.ec2.internal");
}

TEST_CASE("gather asks IMDS for the MAC-independent paths at once, then only what the config needs") {
  struct Row {
    std::string what;
    NodeConfig cfg;
    Paths second;  // empty: no second batch
  };
  NodeConfig service_cidr = config();
  service_cidr.service_ipv4_cidr = "10.100.0.0/16";
  NodeConfig none_cidr = config();
  none_cidr.service_ipv4_cidr = "None";
  NodeConfig dns = config();
  dns.dns_cluster_ip = {"10.100.0.10"};
  NodeConfig ipv6 = config();
  ipv6.ip_family = IpFamily::Ipv6;
  ipv6.service_ipv6_cidr = "fd00::/108";
  NodeConfig explicit_ipv4 = config();
  explicit_ipv4.ip_family = IpFamily::Ipv4;
  const std::vector<Row> rows = {
      {"ipv4, DNS from the VPC", config(), {kMacBase + "vpc-ipv4-cidr-blocks"}},
      {"explicit ipv4, DNS from the VPC", explicit_ipv4, {kMacBase + "vpc-ipv4-cidr-blocks"}},
      {"service CIDR 'None' counts as unset", none_cidr, {kMacBase + "vpc-ipv4-cidr-blocks"}},
      {"ipv4 with a service CIDR", service_cidr, {}},
      {"ipv4 with --dns-cluster-ip", dns, {}},
      {"ipv6", ipv6, {kMacBase + "ipv6s"}},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    World w;
    const Facts f = w.facts(row.cfg);
    const auto& batches = w.imds.batches();
    REQUIRE(batches.size() == (row.second.empty() ? 1u : 2u));
    CHECK(batches[0] == kFirstBatch);
    for (const auto& p : batches[0]) CHECK_FALSE(contains(p, "/macs/"));
    if (!row.second.empty()) CHECK(batches[1] == row.second);
    // Token, first batch, and the MAC batch when there is one: three round trips at most.
    CHECK(w.imds.stats().round_trips == static_cast<int>(batches.size()) + 1);
    CHECK(f.instance.ipv6s.empty() == (row.cfg.ip_family != IpFamily::Ipv6));
    CHECK(f.instance.vpc_ipv4_cidrs.empty() ==
          (row.second.empty() || !row.second[0].ends_with("vpc-ipv4-cidr-blocks")));
  }
}

TEST_CASE("an IPv6 node's addresses are read one per line") {
  World w;
  NodeConfig cfg = config();
  cfg.ip_family = IpFamily::Ipv6;
  CHECK(w.facts(cfg).instance.ipv6s == std::vector<std::string>{"2001:db8:8:4::2", "2001:db8:8:4::3"});
  SUBCASE("absent ipv6s is an empty list, for compute to explain") {
    World none;
    none.imds.erase(kMacBase + "ipv6s");
    CHECK(none.facts(cfg).instance.ipv6s.empty());
  }
}

TEST_CASE("the kubelet version file is preferred and kubelet is then never run") {
  World w;
  w.commands.output = std::string("Kubernetes v1.31.0");
  const Facts f = w.facts(config());
  CHECK(f.kubelet_version == Version{1, 29, 3});
  CHECK(w.commands.calls.empty());
}

TEST_CASE("without the version file, kubelet --version tells the version") {
  World w;
  (void)w.fs.remove(c::kKubeletVersionPath);
  w.fs.clear_ops();
  w.commands.output = std::string("Kubernetes v1.28.11-eks-1552ad0\n");
  const Facts f = w.facts(config());
  CHECK(f.kubelet_version == Version{1, 28, 11});
  CHECK(f.kubelet_version_source == "kubelet --version");
  CHECK(w.commands.calls == std::vector<std::vector<std::string>>{{"kubelet", "--version"}});
}

TEST_CASE("no kubelet version from either source is an error") {
  SUBCASE("neither the file nor the program: NotFound") {
    World w;
    (void)w.fs.remove(c::kKubeletVersionPath);
    agent::Error e = w.error(config());
    CHECK(e.code == Errc::NotFound);
    CHECK(contains(e.message, c::kKubeletVersionPath));
    CHECK(contains(e.message, "kubelet --version"));
  }
  SUBCASE("a version file without a version: Invalid") {
    World w;
    w.fs.put(c::kKubeletVersionPath, "unknown\n");
    agent::Error e = w.error(config());
    CHECK(e.code == Errc::Invalid);
    CHECK(contains(e.message, c::kKubeletVersionPath));
  }
  SUBCASE("kubelet printing no version: Invalid") {
    World w;
    (void)w.fs.remove(c::kKubeletVersionPath);
    w.commands.output = std::string("flag provided but not defined\n");
    CHECK(w.error(config()).code == Errc::Invalid);
  }
}

TEST_CASE("IMDS 404 on local-hostname or local-ipv4 is tolerated") {
  World w;
  w.imds.erase(kMd + "local-hostname");
  w.imds.erase(kMd + "local-ipv4");
  const Facts f = w.facts(config());
  CHECK(f.instance.local_hostname.empty());
  CHECK(f.instance.local_ipv4.empty());
}

TEST_CASE("an IMDS error on a required path is an error naming the path") {
  struct Row {
    std::string path;
    Errc injected;
    Errc reported;
  };
  const std::vector<Row> rows = {
      {kMd + "instance-type", Errc::Unavailable, Errc::Unavailable},
      {kMd + "instance-type", Errc::NotFound, Errc::NotFound},
      {kMd + "mac", Errc::Denied, Errc::Denied},
      {kDoc, Errc::Timeout, Errc::Unavailable},
      {kMd + "placement/availability-zone", Errc::Unavailable, Errc::Unavailable},
      // Optional paths tolerate only a 404.
      {kMd + "local-hostname", Errc::Unavailable, Errc::Unavailable},
      {kMd + "local-ipv4", Errc::Denied, Errc::Denied},
      // The MAC batch: a 404 is an empty list, anything else fails.
      {kMacBase + "vpc-ipv4-cidr-blocks", Errc::Unavailable, Errc::Unavailable},
  };
  for (const auto& row : rows) {
    CAPTURE(row.path);
    World w;
    w.imds.fail(row.path, agent::make_error(row.injected, "GET {}: scripted failure", row.path));
    agent::Error e = w.error(config());
    CHECK(e.code == row.reported);
    CHECK_MESSAGE(contains(e.message, "reading IMDS " + row.path), e.message);
  }
  SUBCASE("a 404 on the VPC CIDR blocks is an empty list") {
    World w;
    w.imds.erase(kMacBase + "vpc-ipv4-cidr-blocks");
    CHECK(w.facts(config()).instance.vpc_ipv4_cidrs.empty());
  }
}

TEST_CASE("an identity document without a region is invalid") {
  for (const std::string doc : {"{}", "not json", R"({"region": 5})"}) {
    CAPTURE(doc);
    World w;
    w.imds.set(kDoc, doc);
    agent::Error e = w.error(config());
    CHECK(e.code == Errc::Invalid);
    CHECK(contains(e.message, "region"));
  }
}

TEST_CASE("sysfs CPU lists are counted, and malformed ones count 0") {
  struct Row {
    std::string list;
    int count;
  };
  const std::vector<Row> rows = {
      {"0-3,8,10-11", 7}, {"0", 1},     {"0-1\n", 2},  {"0-63", 64}, {"0,2,4,6", 4}, {"5-5", 1},
      {"", 0},            {"a", 0},     {"3-1", 0},    {"0-", 0},    {"-3", 0},      {"0,,1", 0},
      {"0-3x", 0},        {"0x,1", 0},  {"1.5", 0},    {"0-3,", 0},
  };
  for (const auto& row : rows) {
    CAPTURE(row.list);
    CHECK(count_cpu_list(row.list) == row.count);
  }
}

TEST_CASE("vCPUs come from sysfs, then the host count, then 1") {
  struct Row {
    std::string what;
    std::optional<std::string> online;
    int host;
    int vcpus;
  };
  const std::vector<Row> rows = {
      {"sysfs", "0-7\n", 2, 8},
      {"no sysfs: host count", std::nullopt, 4, 4},
      {"malformed sysfs: host count", "garbage\n", 4, 4},
      {"nothing known: 1", std::nullopt, 0, 1},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    World w;
    if (row.online) {
      w.fs.put("/sys/devices/system/cpu/online", *row.online);
    } else {
      (void)w.fs.remove("/sys/devices/system/cpu/online");
    }
    w.host_vcpus = row.host;
    CHECK(w.facts(config()).vcpus == row.vcpus);
  }
}

TEST_CASE("files compute patches or consults are read when present") {
  World w;
  w.fs.put(c::kKubeletConfigPath, "{\"kind\": \"KubeletConfiguration\"}\n");
  w.fs.put(c::kEniMaxPodsPath, "m4.xlarge 20\n");
  w.fs.put(c::kCredentialProviderPath, "{}\n");
  w.fs.put(c::kKubeletUnitPath, "[Unit]\n");
  w.fs.put(c::kBpfMountUnitPath, "[Unit]\n");
  const Facts f = w.facts(config());
  CHECK(f.kubelet_config == "{\"kind\": \"KubeletConfiguration\"}\n");
  CHECK(f.eni_max_pods_override == "m4.xlarge 20\n");
  CHECK(f.credential_provider_config == "{}\n");
  CHECK(f.kubelet_unit_present);
  CHECK(f.bpf_unit_present);
  CHECK(w.fs.ops().empty());  // gather never writes
}

TEST_CASE("--containerd-config-file is read, and an unreadable one is invalid") {
  NodeConfig cfg = config();
  cfg.containerd_config_file = "/etc/eks/my-containerd.toml";
  SUBCASE("readable") {
    World w;
    w.fs.put("/etc/eks/my-containerd.toml", "version = 2\n");
    CHECK(w.facts(cfg).containerd_config_user == "version = 2\n");
  }
  SUBCASE("missing") {
    World w;
    agent::Error e = w.error(cfg);
    CHECK(e.code == Errc::Invalid);
    CHECK(contains(e.message, "--containerd-config-file /etc/eks/my-containerd.toml"));
  }
  SUBCASE("a directory") {
    World w;
    w.fs.mkdir("/etc/eks/my-containerd.toml");
    CHECK(w.error(cfg).code == Errc::Invalid);
  }
  SUBCASE("not given: nothing read") {
    World w;
    CHECK_FALSE(w.facts(config()).containerd_config_user.has_value());
  }
}

TEST_CASE("a mounted bpf filesystem is detected from /proc/self/mountinfo") {
  const std::string root = "22 1 259:1 / / rw,relatime shared:1 - ext4 /dev/nvme0n1p1 rw\n";
  const std::string sysfs = "23 22 0:21 / /sys rw,nosuid,nodev,noexec,relatime shared:2 - sysfs sysfs rw\n";
  struct Row {
    std::string what;
    std::optional<std::string> mountinfo;
    bool mounted;
  };
  const std::vector<Row> rows = {
      {"bpffs at /sys/fs/bpf",
       root + sysfs + "40 23 0:34 / /sys/fs/bpf rw,nosuid,nodev,noexec,relatime shared:15 - bpf bpffs rw,mode=700\n",
       true},
      {"something else mounted at /sys/fs/bpf",
       root + sysfs + "40 23 0:34 / /sys/fs/bpf rw,relatime shared:15 - tmpfs tmpfs rw\n", true},
      {"a bpf filesystem elsewhere", root + "41 22 0:35 / /run/bpf rw,relatime - bpf none rw\n", true},
      {"no bpf mount", root + sysfs, false},
      {"a path that only starts like it", root + "40 23 0:34 / /sys/fs/bpf2 rw - tmpfs tmpfs rw\n", false},
      {"no mountinfo (an image root)", std::nullopt, false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    World w;
    if (row.mountinfo) w.fs.put("/proc/self/mountinfo", *row.mountinfo);
    CHECK(w.facts(config()).bpf_mounted == row.mounted);
  }
  SUBCASE("not consulted with --mount-bpf-fs false") {
    World w;
    w.fs.put("/proc/self/mountinfo", root + "41 22 0:35 / /sys/fs/bpf rw - bpf none rw\n");
    NodeConfig cfg = config();
    cfg.mount_bpf_fs = false;
    CHECK_FALSE(w.facts(cfg).bpf_mounted);
  }
}

TEST_CASE("the FIPS ECR endpoint is used only when FIPS is on and the host resolves") {
  struct Row {
    std::string what;
    std::optional<std::string> fips_enabled;
    std::vector<std::string> addresses;
    bool fips;
    bool resolver_asked;
  };
  const std::vector<Row> rows = {
      {"FIPS on, resolves", "1\n", {"10.0.0.1"}, true, true},
      {"FIPS on, does not resolve", "1\n", {}, false, true},
      {"FIPS off", "0\n", {"10.0.0.1"}, false, false},
      {"no FIPS file", std::nullopt, {"10.0.0.1"}, false, false},
  };
  for (const auto& row : rows) {
    CAPTURE(row.what);
    World w;
    if (row.fips_enabled) w.fs.put("/proc/sys/crypto/fips_enabled", *row.fips_enabled);
    w.addresses = row.addresses;
    CHECK(w.facts(config()).fips_ecr_endpoint == row.fips);
    if (row.resolver_asked) {
      CHECK(w.resolved == std::vector<std::string>{"602401143452.dkr.ecr-fips.us-east-1.amazonaws.com"});
    } else {
      CHECK(w.resolved.empty());
    }
  }
}

TEST_CASE("an Outpost API host that does not resolve yet is asked again, as nodeadm does, then left") {
  World w;
  agent::testing::ManualClock clock;
  NodeConfig cfg = config();
  cfg.enable_local_outpost = true;
  cfg.cluster_id = "0123abcd";
  cfg.apiserver_endpoint = "https://my-outpost.example.com";
  int asked = 0;
  auto resolver = [&](const std::string&) {
    ++asked;
    return asked < 3 ? std::vector<std::string>{} : std::vector<std::string>{"10.9.9.9"};
  };
  GatherPorts ports{w.imds, w.fs, w.commands, resolver, 0, nullptr, &clock};
  auto f = gather(cfg, ports);
  REQUIRE(f);
  CHECK(asked == 3);
  CHECK(f->outpost_host_addresses == std::vector<std::string>{"10.9.9.9"});
  REQUIRE(clock.sleeps().size() == 2);
  const auto start = clock.sleeps()[0] - std::chrono::milliseconds(200);
  CHECK(clock.sleeps()[1] - start == std::chrono::milliseconds(600));  // 200 ms, then 400 ms

  asked = -100;  // never resolves: six lookups, then no address (plan_node warns)
  auto never = gather(cfg, ports);
  REQUIRE(never);
  CHECK(asked == -94);
  CHECK(never->outpost_host_addresses.empty());
}

TEST_CASE("an Outpost node resolves the API host and reads /etc/hosts") {
  World w;
  w.addresses = {"10.1.2.3", "10.1.2.4"};
  w.fs.put("/etc/hosts", "127.0.0.1 localhost\n");
  NodeConfig cfg = config();
  cfg.enable_local_outpost = true;
  cfg.cluster_id = "0123abcd";
  cfg.apiserver_endpoint = "https://my-outpost.example.com:6443/path";
  const Facts f = w.facts(cfg);
  CHECK(w.resolved == std::vector<std::string>{"my-outpost.example.com"});
  CHECK(f.outpost_host_addresses == std::vector<std::string>{"10.1.2.3", "10.1.2.4"});
  CHECK(f.etc_hosts == "127.0.0.1 localhost\n");
}

