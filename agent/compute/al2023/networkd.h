// nodeadm-internal's networking decisions and files (reference nodeadm.md 3.12-3.13): which
// manager owns an ENI (systemd-networkd or the CNI), the systemd-networkd .network file for an ENI
// networkd owns, and the boot hook's check of `networkctl list --json=pretty`. Pure: the caller
// gathers sysfs, IMDS and the cache (agent/app/nodeadm_internal) and applies the result.
#pragma once
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "agent/model/plan.h"
#include "agent/model/result.h"

namespace agent::compute::al2023 {

// The two managers an interface can have, as nodeadm spells them in its cache files.
inline constexpr const char* kManagerNetworkd = "io.systemd.Network";
inline constexpr const char* kManagerCni = "cni";
// Created by `nodeadm init`'s run phase (and by eks-node-agent on AL2023): after it, an ENI that
// appears belongs to the CNI unless the cache says otherwise.
inline constexpr const char* kInitMarkerPath = "/run/nodeadm/init";
inline constexpr const char* kManagerCacheDir = "/etc/eks/nodeadm/udev-net-manager";
// Turns off AL2023's own 80-ec2.network for the primary ENI ([Match] Name=none matches nothing).
inline constexpr const char* kEc2NetworkDisablePath = "/run/systemd/network/80-ec2.network.d/10-eks-disable.conf";
inline constexpr std::string_view kEc2NetworkDisableBytes = "[Match]\nName=none";
// Source-based policy rules sit just before the main table's rule (32766).
inline constexpr int kPolicyRulePriority = 32765;

// /etc/eks/nodeadm/udev-net-manager/<instance-id>/<iface>
std::string manager_cache_path(std::string_view instance_id, std::string_view iface);
// /run/systemd/network/70-eks-<iface>.network
std::string network_file_path(std::string_view iface);

// Who manages a new interface: the cached value (trimmed) when there is a non-empty one, else
// systemd-networkd before the init marker exists (ENIs present at boot), else the CNI (ENIs the
// CNI attached while the node runs).
std::string manager_for(const std::optional<std::string>& cached, bool init_marker_present);

// Route metric and table of an ENI: 512 + 100*card + index, 10000 + 100*card + index.
int route_metric(int network_card, int device_index);
int route_table(int network_card, int device_index);

// Everything needed to render one ENI's .network file.
struct EniFacts {
  std::string iface;       // "eth1"
  std::string mac;         // from /sys/class/net/<iface>/address, lower case
  bool primary = false;    // mac == IMDS meta-data/mac
  int device_index = 0;    // IMDS macs/<mac>/device-number
  int network_card = 0;    // IMDS macs/<mac>/network-card (0 when IMDS has none)
  std::string ipv4;        // first line of macs/<mac>/local-ipv4s; secondary ENIs only
  bool operator==(const EniFacts&) const = default;
};

// The .network file's bytes (README "nodeadm-internal" shows them). Secondary ENIs also get their
// own route table and a policy rule sending traffic from their address to it.
std::string network_file_for(const EniFacts& eni);

// What `udev-net-manager --action add` writes: the cache entry (always, mode 0644), and for
// networkd-managed interfaces the .network file plus, for the primary, the 80-ec2 drop-in.
// `eni` is needed only when manager == kManagerNetworkd.
std::vector<FileWrite> add_interface_files(std::string_view instance_id, std::string_view iface,
                                           std::string_view manager, const std::optional<EniFacts>& eni);

// One link from `networkctl list --json=pretty`.
struct NetworkLink {
  std::string name;
  std::string administrative_state;  // "configured", "unmanaged", "configuring", ...
  bool operator==(const NetworkLink&) const = default;
};
// Parses {"Interfaces": [{"Name": ..., "AdministrativeState": ...}, ...]}. Errors: Parse.
Result<std::vector<NetworkLink>> parse_networkctl_list(std::string_view json);
// Empty when `primary` is "configured" and every other link "unmanaged"; otherwise why not
// ("eth1 is configured, want unmanaged"; "eth0 is not listed").
std::string primary_only_problem(const std::vector<NetworkLink>& links, std::string_view primary);

}  // namespace agent::compute::al2023
