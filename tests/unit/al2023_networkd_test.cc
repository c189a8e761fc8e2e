// nodeadm-internal (reference nodeadm.md 3.13): the pure networkd decisions and files
// (compute/al2023/networkd), then udev-net-manager and boot-hook against FakeImds, MemRootFs, a
// scripted networkctl and a ManualClock (app/nodeadm_internal), then the command line.
#include "agent/compute/al2023/networkd.h"

#include <doctest/doctest.h>

#include <deque>

#include "agent/app/nodeadm_internal.h"
#include "agent/cli/nodeadm_internal_cli.h"
#include "tests/support/fake_imds.h"
#include "tests/support/manual_clock.h"
#include "tests/support/mem_root_fs.h"

namespace c = agent::compute::al2023;
using agent::Errc;
using agent::WriteOutcome;

namespace {

const std::string kPrimaryMac = "02:4d:8a:1f:3c:5e";
const std::string kSecondMac = "02:aa:bb:cc:dd:01";
const std::string kIid = "i-0123456789abcdef0";
const std::string kMd = "latest/meta-data/";
const std::string kMacs = kMd + "network/interfaces/macs/";

const char* kPrimaryFile =
    "# eth0: device 0 on network card 0, configured by systemd-networkd for EKS\n"
    "# (written by nodeadm-internal udev-net-manager; removed when the interface goes away).\n"
    "[Match]\n"
    "MACAddress=02:4d:8a:1f:3c:5e\n"
    "Name=eth0\n"
    "\n"
    "[Network]\n"
    "DHCP=yes\n"
    "\n"
    "[DHCPv4]\n"
    "RouteMetric=512\n"
    "\n"
    "[IPv6AcceptRA]\n"
    "RouteMetric=512\n";

const char* kSecondaryFile =
    "# eth1: device 1 on network card 1, configured by systemd-networkd for EKS\n"
    "# (written by nodeadm-internal udev-net-manager; removed when the interface goes away).\n"
    "[Match]\n"
    "MACAddress=02:aa:bb:cc:dd:01\n"
    "Name=eth1\n"
    "\n"
    "[Network]\n"
    "DHCP=yes\n"
    "\n"
    "[DHCPv4]\n"
    "RouteMetric=613\n"
    "\n"
    "[IPv6AcceptRA]\n"
    "RouteMetric=613\n"
    "\n"
    "[Route]\n"
    "Gateway=_ipv6ra\n"
    "Table=10101\n"
    "\n"
    "[Route]\n"
    "Gateway=_dhcp4\n"
    "Table=10101\n"
    "\n"
    "[RoutingPolicyRule]\n"
    "From=10.0.40.7\n"
    "Table=10101\n"
    "Priority=32765\n";

}  // namespace

TEST_CASE("al2023 networkd: metric and table numbers follow nodeadm's formulas") {
  CHECK(c::route_metric(0, 0) == 512);  // the primary
  CHECK(c::route_metric(0, 1) == 513);  // a secondary ENI on card 0
  CHECK(c::route_metric(1, 2) == 614);  // card 1, index 2
  CHECK(c::route_table(0, 1) == 10001);
  CHECK(c::route_table(1, 2) == 10102);
  CHECK(c::route_table(3, 0) == 10300);
}

TEST_CASE("al2023 networkd: paths of the files") {
  CHECK(c::network_file_path("eth1") == "/run/systemd/network/70-eks-eth1.network");
  CHECK(c::manager_cache_path(kIid, "ens5") == "/etc/eks/nodeadm/udev-net-manager/i-0123456789abcdef0/ens5");
}

TEST_CASE("al2023 networkd: the primary's .network file, byte for byte") {
  CHECK(c::network_file_for({.iface = "eth0", .mac = kPrimaryMac, .primary = true}) == kPrimaryFile);
}

TEST_CASE("al2023 networkd: a secondary ENI on card 1 gets its own table and a policy rule") {
  const c::EniFacts eni{.iface = "eth1", .mac = kSecondMac, .device_index = 1, .network_card = 1, .ipv4 = "10.0.40.7"};
  CHECK(c::network_file_for(eni) == kSecondaryFile);
}

TEST_CASE("al2023 networkd: a secondary on card 0 uses table 10000 + index") {
  const c::EniFacts eni{.iface = "eth2", .mac = kSecondMac, .device_index = 2, .ipv4 = "10.0.40.8"};
  const std::string text = c::network_file_for(eni);
  CHECK(text.find("RouteMetric=514\n") != std::string::npos);
  CHECK(text.find("Table=10002\n") != std::string::npos);
  CHECK(text.find("From=10.0.40.8\nTable=10002\nPriority=32765\n") != std::string::npos);
}

TEST_CASE("al2023 networkd: the manager decision table") {
  SUBCASE("the cache wins over the marker, trimmed") {
    CHECK(c::manager_for(std::string("io.systemd.Network\n"), true) == "io.systemd.Network");
    CHECK(c::manager_for(std::string("cni"), false) == "cni");
  }
  SUBCASE("no cache, no marker: networkd (an ENI present at boot)") { CHECK(c::manager_for(std::nullopt, false) == "io.systemd.Network"); }
  SUBCASE("no cache, marker present: the CNI (attached after nodeadm ran)") { CHECK(c::manager_for(std::nullopt, true) == "cni"); }
  SUBCASE("an empty cache file counts as none") { CHECK(c::manager_for(std::string(" \n"), true) == "cni"); }
}

TEST_CASE("al2023 networkd: the files of an add") {
  const c::EniFacts primary{.iface = "eth0", .mac = kPrimaryMac, .primary = true};
  SUBCASE("networkd primary: cache, .network, and the 80-ec2 drop-in without a trailing newline") {
    auto files = c::add_interface_files(kIid, "eth0", c::kManagerNetworkd, primary);
    REQUIRE(files.size() == 3);
    CHECK(files[0].path == c::manager_cache_path(kIid, "eth0"));
    CHECK(files[0].bytes == "io.systemd.Network");
    CHECK(files[1].bytes == kPrimaryFile);
    CHECK(files[2].path == "/run/systemd/network/80-ec2.network.d/10-eks-disable.conf");
    CHECK(files[2].bytes == "[Match]\nName=none");
    for (const auto& f : files) CHECK(f.mode == 0644);
  }
  SUBCASE("cni: the cache entry only") {
    auto files = c::add_interface_files(kIid, "eth3", c::kManagerCni, std::nullopt);
    REQUIRE(files.size() == 1);
    CHECK(files[0].bytes == "cni");
  }
}

TEST_CASE("al2023 networkd: reading networkctl list --json and the primary-only check") {
  const char* json = R"({"Interfaces": [
      {"Index": 1, "Name": "lo", "AdministrativeState": "unmanaged"},
      {"Index": 2, "Name": "eth0", "AdministrativeState": "configured"},
      {"Index": 3, "Name": "eth1", "AdministrativeState": "configuring"}]})";
  auto links = c::parse_networkctl_list(json);
  REQUIRE(links.has_value());
  REQUIRE(links->size() == 3);
  CHECK((*links)[1] == c::NetworkLink{"eth0", "configured"});
  CHECK(c::primary_only_problem(*links, "eth0") == "eth1 is configuring, want unmanaged");
  (*links)[2].administrative_state = "unmanaged";
  CHECK(c::primary_only_problem(*links, "eth0").empty());
  CHECK(c::primary_only_problem(*links, "eth1") == "eth0 is configured, want unmanaged; eth1 is unmanaged, want configured");
  CHECK(c::primary_only_problem({{"lo", "unmanaged"}}, "eth0") == "the primary interface eth0 is not listed");
  CHECK(c::parse_networkctl_list("[]").error().code == Errc::Parse);
  CHECK(c::parse_networkctl_list("{\"Interfaces\": [{\"Index\": 1}]}").error().code == Errc::Parse);
}

// --- app: udev-net-manager and boot-hook over fakes ----------------------------------------------

namespace {

// networkctl's answers, one per call; the last one repeats.
struct ScriptedNetworkctl final : agent::CommandRunner {
  std::deque<agent::Result<std::string>> answers;
  std::vector<std::vector<std::string>> calls;
  agent::Result<std::string> run(const std::vector<std::string>& argv) override {
    calls.push_back(argv);
    auto answer = answers.front();
    if (answers.size() > 1) answers.pop_front();
    return answer;
  }
};

// IMDS 404s a path for the first `misses` requests (metadata that appears late).
struct LateImds final : agent::Imds {
  agent::testing::FakeImds& inner;
  std::string path;
  int misses;
  LateImds(agent::testing::FakeImds& i, std::string p, int m) : inner(i), path(std::move(p)), misses(m) {}
  agent::Result<std::string> get(const std::string& p) override {
    if (p == path && misses-- > 0) return agent::make_error(Errc::NotFound, "404 {}", p);
    return inner.get(p);
  }
  std::vector<agent::Result<std::string>> get_many(const std::vector<std::string>& paths) override {
    std::vector<agent::Result<std::string>> out;
    for (const auto& p : paths) out.push_back(get(p));
    return out;
  }
  agent::ImdsStats stats() const override { return {}; }
};

struct Node {
  agent::testing::FakeImds imds;
  agent::testing::MemRootFs fs;
  ScriptedNetworkctl networkctl;
  agent::testing::ManualClock clock;
  agent::app::NodeadmInternalPorts ports{imds, fs, networkctl, clock};

  Node() {
    imds.set(kMd + "mac", kPrimaryMac + "\n");
    imds.set("latest/dynamic/instance-identity/document", R"({"instanceId": "i-0123456789abcdef0", "region": "us-west-2"})");
    imds.set(kMacs + kPrimaryMac + "/device-number", "0");
    imds.set(kMacs + kPrimaryMac + "/local-ipv4s", "10.0.12.34\n");
    imds.set(kMacs + kSecondMac + "/device-number", "1");
    imds.set(kMacs + kSecondMac + "/network-card", "1");
    imds.set(kMacs + kSecondMac + "/local-ipv4s", "10.0.40.7\n10.0.40.9\n");
    fs.put("/sys/class/net/lo/address", "00:00:00:00:00:00\n");
    fs.put("/sys/class/net/eth0/address", "02:4D:8A:1F:3C:5E\n");
    fs.put("/sys/class/net/eth1/address", kSecondMac + "\n");
  }
  std::string file(const std::string& path) { return fs.read(path).value_or("<absent>"); }
};

using agent::app::NetAction;

}  // namespace

TEST_CASE("al2023 networkd: udev-net-manager add: the primary ENI is networkd's, with the 80-ec2 drop-in") {
  Node n;
  auto r = agent::app::run_udev_net_manager(n.ports, "eth0", NetAction::Add);
  REQUIRE(r.has_value());
  CHECK(r->manager == "io.systemd.Network");
  CHECK(n.file(c::manager_cache_path(kIid, "eth0")) == "io.systemd.Network");
  CHECK(n.file("/run/systemd/network/70-eks-eth0.network") == kPrimaryFile);
  CHECK(n.file(c::kEc2NetworkDisablePath) == "[Match]\nName=none");
  SUBCASE("a second add touches nothing") {
    n.fs.clear_ops();
    auto again = agent::app::run_udev_net_manager(n.ports, "eth0", NetAction::Add);
    REQUIRE(again.has_value());
    for (const auto& [path, outcome] : again->written) CHECK(outcome == WriteOutcome::Unchanged);
    for (const auto& op : n.fs.ops()) CHECK(op.find(" unchanged") != std::string::npos);
  }
}

TEST_CASE("al2023 networkd: udev-net-manager add: a secondary ENI on card 1, first local IPv4 only") {
  Node n;
  REQUIRE(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add).has_value());
  CHECK(n.file("/run/systemd/network/70-eks-eth1.network") == kSecondaryFile);
  CHECK_FALSE(n.fs.exists(c::kEc2NetworkDisablePath));
}

TEST_CASE("al2023 networkd: udev-net-manager add: no network-card in IMDS means card 0") {
  Node n;
  n.imds.erase(kMacs + kSecondMac + "/network-card");
  REQUIRE(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add).has_value());
  CHECK(n.file("/run/systemd/network/70-eks-eth1.network").find("Table=10001\n") != std::string::npos);
}

TEST_CASE("al2023 networkd: udev-net-manager add: after the init marker a new ENI is the CNI's, unless cached") {
  Node n;
  n.fs.put(c::kInitMarkerPath, "");
  REQUIRE(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add).has_value());
  CHECK(n.file(c::manager_cache_path(kIid, "eth1")) == "cni");
  CHECK_FALSE(n.fs.exists("/run/systemd/network/70-eks-eth1.network"));
  n.fs.put(c::manager_cache_path(kIid, "eth1"), "io.systemd.Network\n");
  auto r = agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add);
  REQUIRE(r.has_value());
  CHECK(r->manager == "io.systemd.Network");
  CHECK(n.fs.exists("/run/systemd/network/70-eks-eth1.network"));
}

TEST_CASE("al2023 networkd: udev-net-manager: errors name what was missing") {
  Node n;
  auto r = agent::app::run_udev_net_manager(n.ports, "eth9", NetAction::Add);
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::NotFound);
  CHECK(r.error().message.find("MAC address of eth9") != std::string::npos);
  n.imds.erase(kMacs + kSecondMac + "/local-ipv4s");
  CHECK(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add).error().code == Errc::NotFound);
}

TEST_CASE("al2023 networkd: udev-net-manager remove deletes the .network file, idempotently, without IMDS") {
  Node n;
  REQUIRE(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Add).has_value());
  n.imds.clear_calls();
  auto r = agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Remove);
  REQUIRE(r.has_value());
  CHECK(r->removed);
  CHECK_FALSE(n.fs.exists("/run/systemd/network/70-eks-eth1.network"));
  CHECK(n.fs.exists(c::manager_cache_path(kIid, "eth1")));  // the decision is kept
  CHECK(n.imds.calls().empty());
  CHECK_FALSE(agent::app::run_udev_net_manager(n.ports, "eth1", NetAction::Remove)->removed);
}

TEST_CASE("al2023 networkd: imds_get_retrying_404 waits for metadata that appears late, and gives up after 60 tries") {
  Node n;
  LateImds late(n.imds, kMd + "mac", 3);
  auto mac = agent::app::imds_get_retrying_404(late, n.clock, kMd + "mac");
  REQUIRE(mac.has_value());
  CHECK(n.clock.sleeps().size() == 3);
  LateImds never(n.imds, kMd + "mac", 1000);
  CHECK(agent::app::imds_get_retrying_404(never, n.clock, kMd + "mac").error().code == Errc::NotFound);
  CHECK(never.misses == 1000 - 60);
}

namespace {
const char* kSettled = R"({"Interfaces": [{"Name": "lo", "AdministrativeState": "unmanaged"},
    {"Name": "eth0", "AdministrativeState": "configured"}, {"Name": "eth1", "AdministrativeState": "unmanaged"}]})";
const char* kConfiguring = R"({"Interfaces": [{"Name": "lo", "AdministrativeState": "unmanaged"},
    {"Name": "eth0", "AdministrativeState": "configuring"}, {"Name": "eth1", "AdministrativeState": "unmanaged"}]})";
}  // namespace

TEST_CASE("al2023 networkd: boot-hook marks the interfaces and waits for the primary-only state") {
  Node n;
  n.networkctl.answers = {agent::make_error(Errc::Invalid, "networkctl: networkd is not running"), std::string(kConfiguring),
                          std::string(kSettled)};
  const auto start = n.clock.now();
  REQUIRE(agent::app::run_boot_hook(n.ports, {}).has_value());
  CHECK(n.networkctl.calls.size() == 3);
  CHECK(n.networkctl.calls[0] == std::vector<std::string>{"networkctl", "list", "--json=pretty"});
  CHECK(n.clock.now() - start == std::chrono::milliseconds(100));  // two 50 ms polls
  CHECK(n.file(c::manager_cache_path(kIid, "eth0")) == "io.systemd.Network");
  CHECK(n.file(c::manager_cache_path(kIid, "eth1")) == "io.systemd.Network");
  CHECK_FALSE(n.fs.exists(c::manager_cache_path(kIid, "lo")));
}

TEST_CASE("al2023 networkd: boot-hook times out with nodeadm's message and the last state") {
  Node n;
  n.networkctl.answers = {std::string(kConfiguring)};
  const auto start = n.clock.now();
  auto r = agent::app::run_boot_hook(n.ports, {.timeout = std::chrono::seconds(1)});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::Timeout);
  CHECK(r.error().message.rfind("failed to ensure primary ENI only configuration: ", 0) == 0);
  CHECK(r.error().message.find("eth0 is configuring, want configured") != std::string::npos);
  CHECK(n.clock.now() - start == std::chrono::seconds(1));
  CHECK(n.networkctl.calls.size() == 21);  // at 0, 50, ..., 1000 ms
}

TEST_CASE("al2023 networkd: boot-hook: no interface with the primary MAC is an error") {
  Node n;
  n.imds.set(kMd + "mac", "02:00:00:00:00:99");
  n.networkctl.answers = {std::string(kSettled)};
  auto r = agent::app::run_boot_hook(n.ports, {});
  REQUIRE_FALSE(r.has_value());
  CHECK(r.error().code == Errc::NotFound);
}

// --- the command line ----------------------------------------------------------------------------

TEST_CASE("al2023 networkd: nodeadm-internal flags: short and long forms, before or after the command") {
  using agent::cli::parse_nodeadm_internal_args;
  using Cmd = agent::cli::NodeadmInternalArgs::Command;
  auto a = parse_nodeadm_internal_args({"udev-net-manager", "--action", "add", "--interface", "eth1"});
  REQUIRE(a.has_value());
  CHECK(a->command == Cmd::UdevNetManager);
  CHECK(a->interface == "eth1");
  CHECK(a->action == NetAction::Add);
  auto b = parse_nodeadm_internal_args({"-i", "ens6", "-a", "remove", "udev-net-manager", "--root=/tmp/r"});
  REQUIRE(b.has_value());
  CHECK(b->interface == "ens6");
  CHECK(b->action == NetAction::Remove);
  CHECK(b->root == "/tmp/r");
  auto c = parse_nodeadm_internal_args({"boot-hook", "--timeout-ms", "250", "--imds-endpoint", "http://127.0.0.1:1"});
  REQUIRE(c.has_value());
  CHECK(c->command == Cmd::BootHook);
  CHECK(c->boot_hook_timeout == std::chrono::milliseconds(250));
  CHECK(*c->imds_endpoint == "http://127.0.0.1:1");
  CHECK(parse_nodeadm_internal_args({"--help"})->help);
}

TEST_CASE("al2023 networkd: nodeadm-internal flags: usage errors") {
  using agent::cli::parse_nodeadm_internal_args;
  for (const auto& args : std::vector<std::vector<std::string>>{
           {},
           {"frobnicate"},
           {"udev-net-manager"},
           {"udev-net-manager", "-i", "eth1", "-a", "change"},
           {"udev-net-manager", "-i", "../etc"},
           {"udev-net-manager", "-i"},
           {"boot-hook", "--bogus"},
           {"boot-hook", "udev-net-manager"}}) {
    CAPTURE(args.size());
    auto r = parse_nodeadm_internal_args(args);
    REQUIRE_FALSE(r.has_value());
    CHECK(r.error().code == Errc::Usage);
  }
}
