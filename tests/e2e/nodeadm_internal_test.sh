#!/bin/bash
# End-to-end: nodeadm-internal (README "nodeadm-internal"), the binary called through a
# `nodeadm-internal` symlink as the AL2023 units call it, into scratch roots with fake
# /sys/class/net/*/address files, against the IMDS emulator. boot-hook runs a fake `networkctl`
# found first on PATH. No real udev or systemd-networkd is involved: the files are compared with
# the texts README documents (written out again here), and the fake networkctl stands in for
# networkd's link states.
#   usage: nodeadm_internal_test.sh /path/to/eks-node-agent
AGENT=${1:?usage: nodeadm_internal_test.sh /path/to/eks-node-agent}
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

mkdir -p "$WORK/bin" "$WORK/fakebin"
NI=$WORK/bin/nodeadm-internal
ln -s "$AGENT" "$NI"

PRIMARY=02:4d:8a:1f:3c:5e  # the emulator's meta-data/mac (tests/support/imds-default.json)
SECOND=02:aa:bb:cc:dd:01
THIRD=02:aa:bb:cc:dd:02
IID=i-0123456789abcdef0
MACS=latest/meta-data/network/interfaces/macs
CACHE=/etc/eks/nodeadm/udev-net-manager/$IID
DROPIN=/run/systemd/network/80-ec2.network.d/10-eks-disable.conf

# ni ROOT ARGS...: nodeadm-internal into ROOT against the emulator; output and rc in $WORK.
ni() {
  local root=$1
  shift
  "$NI" --root "$root" --imds-endpoint "$IMDS_URL" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
}
# net_root NAME: a scratch root with lo, eth0 (primary), eth1 and eth2 in /sys/class/net.
net_root() {
  local r
  r=$(new_root "$1")
  for link in lo:00:00:00:00:00:00 eth0:$PRIMARY eth1:$SECOND eth2:$THIRD; do
    mkdir -p "$r/sys/class/net/${link%%:*}"
    echo "${link#*:}" >"$r/sys/class/net/${link%%:*}/address"
  done
  echo "$r"
}
same_text() { cmp -s "$1" "$2" || { echo "    ($1 differs:)"; diff "$2" "$1" | head -20; return 1; }; }
no_file() { [ ! -e "$1" ] || { echo "    ($1 exists)"; return 1; }; }
file_is() { [ "$(cat "$1" 2>/dev/null)" = "$2" ] || { echo "    ($1 holds '$(cat "$1" 2>/dev/null)', want '$2')"; return 1; }; }
stamp() { stat -c '%i %.9Y' "$@"; }

start_emulator
imds_set "{\"$MACS/$SECOND/device-number\": \"1\", \"$MACS/$SECOND/network-card\": \"1\",
           \"$MACS/$SECOND/local-ipv4s\": \"10.0.40.7\\n10.0.40.9\\n\",
           \"$MACS/$THIRD/device-number\": \"2\", \"$MACS/$THIRD/local-ipv4s\": \"10.0.40.11\"}"

cat >"$WORK/eth0.network" <<'EOF'
# eth0: device 0 on network card 0, configured by systemd-networkd for EKS
# (written by nodeadm-internal udev-net-manager; removed when the interface goes away).
[Match]
MACAddress=02:4d:8a:1f:3c:5e
Name=eth0

[Network]
DHCP=yes

[DHCPv4]
RouteMetric=512

[IPv6AcceptRA]
RouteMetric=512
EOF
cat >"$WORK/eth1.network" <<'EOF'
# eth1: device 1 on network card 1, configured by systemd-networkd for EKS
# (written by nodeadm-internal udev-net-manager; removed when the interface goes away).
[Match]
MACAddress=02:aa:bb:cc:dd:01
Name=eth1

[Network]
DHCP=yes

[DHCPv4]
RouteMetric=613

[IPv6AcceptRA]
RouteMetric=613

[Route]
Gateway=_ipv6ra
Table=10101

[Route]
Gateway=_dhcp4
Table=10101

[RoutingPolicyRule]
From=10.0.40.7
Table=10101
Priority=32765
EOF
printf '[Match]\nName=none' >"$WORK/disable.conf"

# --- udev-net-manager add, as udev-net-manager@.service calls it --------------------------------
R=$(net_root udev)
ni "$R" udev-net-manager --action add --interface eth0
check "add eth0 (primary): exit 0" expect_rc 0
check "add eth0: 70-eks-eth0.network as documented (metric 512, no table)" same_text "$R/run/systemd/network/70-eks-eth0.network" "$WORK/eth0.network"
check "add eth0: 80-ec2.network disabled by [Match] Name=none, no trailing newline" same_text "$R$DROPIN" "$WORK/disable.conf"
check "add eth0: the cache says io.systemd.Network" file_is "$R$CACHE/eth0" io.systemd.Network
check "add eth0: the files are 0644" [ "$(stat -c %a "$R/run/systemd/network/70-eks-eth0.network" "$R$DROPIN" "$R$CACHE/eth0" | sort -u)" = 644 ]

BEFORE=$(stamp "$R/run/systemd/network/70-eks-eth0.network" "$R$DROPIN" "$R$CACHE/eth0")
ni "$R" udev-net-manager -a add -i eth0
check "add eth0 again (short flags): exit 0" expect_rc 0
check "add eth0 again: no file rewritten (same inodes and mtimes)" equals "$(stamp "$R/run/systemd/network/70-eks-eth0.network" "$R$DROPIN" "$R$CACHE/eth0")" "$BEFORE"

ni "$R" -i eth1 -a add udev-net-manager
check "add eth1 (secondary, card 1, flags before the command): exit 0" expect_rc 0
check "add eth1: metric 613, table 10101, the first local IPv4 in the policy rule" same_text "$R/run/systemd/network/70-eks-eth1.network" "$WORK/eth1.network"
check "add eth1: the cache says io.systemd.Network" file_is "$R$CACHE/eth1" io.systemd.Network

# --- the init marker: an ENI that appears after nodeadm ran belongs to the CNI -------------------
mkdir -p "$R/run/nodeadm" && : >"$R/run/nodeadm/init"
ni "$R" udev-net-manager --action add --interface eth2
check "marker present, add eth2: exit 0" expect_rc 0
check "marker present: eth2 is cached as cni" file_is "$R$CACHE/eth2" cni
check "marker present: no .network file for eth2" no_file "$R/run/systemd/network/70-eks-eth2.network"
rm "$R/run/systemd/network/70-eks-eth1.network"
ni "$R" udev-net-manager --action add --interface eth1
check "marker present, eth1 again: the cached io.systemd.Network wins" same_text "$R/run/systemd/network/70-eks-eth1.network" "$WORK/eth1.network"
rm "$R/run/nodeadm/init" "$R$CACHE/eth2"
ni "$R" udev-net-manager --action add --interface eth2
check "marker gone, cache cleared: eth2 is networkd's (card 0: table 10002)" \
  grep -qxF 'Table=10002' "$R/run/systemd/network/70-eks-eth2.network"

# --- remove ---------------------------------------------------------------------------------------
ni "$R" udev-net-manager --action remove --interface eth1
check "remove eth1: exit 0" expect_rc 0
check "remove eth1: 70-eks-eth1.network is gone" no_file "$R/run/systemd/network/70-eks-eth1.network"
check "remove eth1: the cache entry stays" file_is "$R$CACHE/eth1" io.systemd.Network
check "remove eth1: the other interfaces' files stay" test -f "$R/run/systemd/network/70-eks-eth0.network"
ni "$R" udev-net-manager --action remove --interface eth1
check "remove eth1 again: exit 0 (idempotent)" expect_rc 0

# --- other ways in, and errors --------------------------------------------------------------------
R2=$(net_root env)
AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL "$AGENT" nodeadm-internal --root "$R2" udev-net-manager -i eth0 -a add \
  >"$WORK/out" 2>"$WORK/err"
RC=$?
check "eks-node-agent nodeadm-internal, IMDS from AWS_EC2_METADATA_SERVICE_ENDPOINT: exit 0" expect_rc 0
check "eks-node-agent nodeadm-internal: the same file" same_text "$R2/run/systemd/network/70-eks-eth0.network" "$WORK/eth0.network"
ni "$R" udev-net-manager --action change --interface eth1
check "--action change: usage error, exit 2" expect_rc 2
ni "$R" udev-net-manager --action add --interface eth7
check "an interface without /sys/class/net/IFACE: exit 1" expect_rc 1
check "an interface without /sys/class/net/IFACE: the error names it" contains "$WORK/err" "MAC address of eth7"
"$NI" --help >"$WORK/out" 2>&1
check "--help names both commands" sh -c "grep -q udev-net-manager '$WORK/out' && grep -q boot-hook '$WORK/out'"

# --- boot-hook, with a fake networkctl on PATH ---------------------------------------------------
# The fake answers $WORK/networkctl.N.json on its Nth call (the last one present repeats) and
# records its arguments.
cat >"$WORK/fakebin/networkctl" <<EOF
#!/bin/bash
echo "\$*" >>"$WORK/networkctl.calls"
n=\$(wc -l <"$WORK/networkctl.calls")
while [ "\$n" -gt 1 ] && [ ! -e "$WORK/networkctl.\$n.json" ]; do n=\$((n - 1)); done
cat "$WORK/networkctl.\$n.json"
EOF
chmod +x "$WORK/fakebin/networkctl"
links() {  # links ETH0-STATE ETH1-STATE: networkctl list --json=pretty's shape
  printf '{\n  "Interfaces" : [\n    { "Index" : 1, "Name" : "lo", "AdministrativeState" : "unmanaged" },\n    { "Index" : 2, "Name" : "eth0", "AdministrativeState" : "%s" },\n    { "Index" : 3, "Name" : "eth1", "AdministrativeState" : "%s" }\n  ]\n}\n' "$1" "$2"
}
# boot_hook ROOT ARGS...: nodeadm-internal boot-hook with the fake networkctl first on PATH.
boot_hook() {
  local root=$1
  shift
  rm -f "$WORK/networkctl.calls"
  PATH="$WORK/fakebin:$PATH" "$NI" boot-hook --root "$root" --imds-endpoint "$IMDS_URL" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
}

R3=$(net_root boot)
rm -r "$R3/sys/class/net/eth2"
links configuring unmanaged >"$WORK/networkctl.1.json"
links configured unmanaged >"$WORK/networkctl.4.json"
boot_hook "$R3"
check "boot-hook: exit 0 once eth0 is configured and the rest unmanaged" expect_rc 0
check "boot-hook: networkctl polled until settled (4 calls)" equals "$(wc -l <"$WORK/networkctl.calls")" 4
check "boot-hook: it runs networkctl list --json=pretty" equals "$(head -1 "$WORK/networkctl.calls")" "list --json=pretty"
check "boot-hook: eth0 cached as io.systemd.Network" file_is "$R3$CACHE/eth0" io.systemd.Network
check "boot-hook: eth1 cached as io.systemd.Network" file_is "$R3$CACHE/eth1" io.systemd.Network
check "boot-hook: no cache entry for lo" no_file "$R3$CACHE/lo"

rm -f "$WORK"/networkctl.*.json
links configured configured >"$WORK/networkctl.1.json"
boot_hook "$R3" --timeout-ms 400
check "boot-hook, eth1 configured too: exit 1 after the (hidden --timeout-ms) timeout" expect_rc 1
check "boot-hook timeout: nodeadm's message" contains "$WORK/err" "failed to ensure primary ENI only configuration"
check "boot-hook timeout: says which link is wrong" contains "$WORK/err" "eth1 is configured, want unmanaged"
check "boot-hook timeout: polled again and again, at most every 50 ms (3..9 calls in 400 ms)" \
  bash -c '(( $(wc -l <"$1") >= 3 && $(wc -l <"$1") <= 9 ))' _ "$WORK/networkctl.calls"
PATH="$WORK/emptybin" "$NI" boot-hook --root "$R3" --imds-endpoint "$IMDS_URL" --timeout-ms 200 >"$WORK/out" 2>"$WORK/err"
RC=$?
check "boot-hook without networkctl on PATH: exit 1 with the timeout error" expect_rc 1
check "boot-hook without networkctl: the error says why" contains "$WORK/err" "failed to ensure primary ENI only configuration"

finish
