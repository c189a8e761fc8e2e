#!/bin/bash
# nodeadm-internal's networkd files read by a real systemd-networkd: PID 1 of a throw-away
# systemd-nspawn container (tests/e2e/with-systemd.sh, its own network namespace) with two veth
# links named and addressed as an instance's primary and secondary ENIs, the IMDS emulator inside,
# and `nodeadm-internal udev-net-manager` run for each link as the AL2023 udev rule runs it.
# Usage (as root; ctest "e2e_networkd"): tests/e2e/networkd_test.sh PATH/TO/eks-node-agent
#
# Asserted: networkd picks our 70-eks-IFACE.network for each link (networkctl's "Network File"),
# logs no complaint about them (unknown section or key, bad value), applies the secondary's
# RoutingPolicyRule (From=its IP, table 10101, priority 32765) and the route metric; every other
# link (lo, the peers) stays unmanaged, as the boot hook expects; `remove` then a reload leaves the
# secondary unmanaged. Not asserted: DHCP (no server here), so the primary stays "configuring" and
# boot-hook, which waits for "configured", is covered by e2e_nodeadm_internal's fake networkctl.
set -u

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
[ "${EKS_BOOT_TEST_INSIDE:-}" = 1 ] || modprobe veth 2>/dev/null || true  # the container cannot load it
in_systemd "$@"

# ---------------------------------------------------------------------------------------------- inside
AGENT_BUILD=$1
PY=/usr/bin/python3
PRIMARY=02:4d:8a:1f:3c:5e  # the emulator's meta-data/mac (tests/support/imds-default.json)
SECOND=02:aa:bb:cc:dd:01
MACS=latest/meta-data/network/interfaces/macs
NET=/run/systemd/network

mkdir -p "$WORK/bin"
ln -s "$AGENT_BUILD" "$WORK/bin/nodeadm-internal"
ip link set lo up
start_emulator
imds_set "{\"$MACS/$SECOND/device-number\": \"1\", \"$MACS/$SECOND/network-card\": \"1\",
           \"$MACS/$SECOND/local-ipv4s\": \"10.0.40.7\\n10.0.40.9\\n\"}"

# The two ENIs: veth ends named eth0/eth1 with the ENIs' MACs; their peers stay unconfigured.
if ! ip link add eth0 address "$PRIMARY" type veth peer name peer0 ||
   ! ip link add eth1 address "$SECOND" type veth peer name peer1; then
  not_ok "veth links" "cannot create veth links (is the kernel's veth module available?)"
  finish
fi
for l in eth0 eth1 peer0 peer1; do ip link set "$l" up; done

ni() { "$WORK/bin/nodeadm-internal" --imds-endpoint "$IMDS_URL" udev-net-manager "$@" >"$WORK/out" 2>"$WORK/err"; RC=$?; }
ni -i eth0 -a add
check "udev-net-manager add eth0: exit 0" expect_rc 0
ni -i eth1 -a add
check "udev-net-manager add eth1: exit 0" expect_rc 0
check "both files written" test -f "$NET/70-eks-eth0.network" -a -f "$NET/70-eks-eth1.network"

systemctl start systemd-networkd.service
check "systemd-networkd runs" systemctl is-active --quiet systemd-networkd.service
networkctl reload

# setup STATE of LINK from `networkctl list --json=pretty` (AdministrativeState, as the boot hook reads it)
admin_state() {
  networkctl list --json=pretty | "$PY" -c '
import json, sys
for i in json.load(sys.stdin)["Interfaces"]:
    if i["Name"] == sys.argv[1]:
        print(i.get("AdministrativeState", "")); break' "$1"
}
network_file() { networkctl status "$1" 2>/dev/null | sed -n 's/^ *Network File: //p'; }
# wait_state LINK STATE...: until LINK's administrative state is one of STATE (10 s at most)
wait_state() {
  local link=$1
  shift
  for _ in $(seq 200); do
    local s
    s=$(admin_state "$link")
    for want in "$@"; do [ "$s" = "$want" ] && return 0; done
    sleep 0.05
  done
  echo "    ($link is '$(admin_state "$link")', expected one of: $*)"
  return 1
}

check "eth0 managed by networkd (configuring: no DHCP server here)" wait_state eth0 configuring configured
check "eth1 managed by networkd" wait_state eth1 configuring configured
check "eth0 uses 70-eks-eth0.network" equals "$(network_file eth0)" "$NET/70-eks-eth0.network"
check "eth1 uses 70-eks-eth1.network" equals "$(network_file eth1)" "$NET/70-eks-eth1.network"
for l in lo peer0 peer1; do
  check "$l stays unmanaged" wait_state "$l" unmanaged
done
journalctl -q -u systemd-networkd.service -o cat >"$WORK/journal"
check "networkd parsed our files without a complaint" bash -c \
  '! grep -E "70-eks-eth[01]\.network.*(Unknown|Failed|[Ii]nvalid|ignoring)" "$1"' _ "$WORK/journal"

# The secondary's policy rule, as networkd applies it once the link has an address (static here,
# as DHCP would give it): From=10.0.40.7 lookup 10101, priority 32765.
ip addr add 10.0.40.7/24 dev eth1
rule_applied() { ip rule show | grep -q "^32765:.*from 10.0.40.7 lookup 10101"; }
check "eth1: RoutingPolicyRule from 10.0.40.7 lookup 10101 priority 32765" wait_for 10 rule_applied

ni -i eth1 -a remove
check "udev-net-manager remove eth1: exit 0" expect_rc 0
networkctl reload
networkctl reconfigure eth1 2>/dev/null
check "after remove and reload, eth1 is unmanaged" wait_state eth1 unmanaged
check "eth0 still uses its file" equals "$(network_file eth0)" "$NET/70-eks-eth0.network"

finish
