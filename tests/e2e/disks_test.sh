#!/bin/bash
# --local-disks on a real systemd (ctest "e2e_disks"; as root):
#   tests/e2e/disks_test.sh PATH/TO/eks-node-agent
# On the host it makes five loop devices (sparse 320 MiB files; losetup), then re-runs itself in a
# throw-away systemd-nspawn container (tests/e2e/with-systemd.sh) with the loop device nodes bound
# in (WITH_SYSTEMD_BIND=/dev/loopN: nspawn's --bind of a device node is all the container needs;
# no DeviceAllow is applied because the container is not registered with a host systemd). A trap
# detaches the loop devices and removes their files whatever happens.
#
# Stand-ins, and why:
#   - the instance-store disks are loop devices; /dev/disk/by-id/nvme-Amazon_EC2_NVMe_Instance_
#     Storage_* links naming them are made by the test (the agent finds them as on EC2). One more
#     loop device with an ext4 filesystem and data is linked as an EBS volume and must stay untouched.
#   - mdadm: this kernel has no md driver, so /usr/bin/mdadm is a recording script: --create links
#     a spare loop device as /dev/md/kubernetes, --detail --scan lists the links it made.
#   - udev: none runs in nspawn, so /usr/bin/mkfs.xfs wraps the real /usr/sbin/mkfs.xfs and then
#     makes the /dev/disk/by-uuid link udev would make (the mount units say What=UUID=...).
#   Real: mkfs.xfs (xfsprogs), wipefs, the kernel's loop/xfs/ext4, systemd mount units written by the
#   agent and started by it over D-Bus, the agent's whole bootstrap against the IMDS emulator.
#
# Asserted (ok / not ok lines, then "N passed, M failed"):
#   dry   --dry-run lists the disks and every step and changes nothing
#   r1    raid0 first boot: array created from both disks, scan in /.aws/mdadm.conf, xfs on the array,
#         DIR/0 and bind mounts active, /var/lib/kubelet's data on the array, containerd stopped and
#         started around the move, kubelet started after, the EBS volume untouched
#   r2    a re-run changes nothing (files, inodes, mtimes; no mdadm --create, no mkfs, no restart)
#   r3    a simulated reboot (units stopped, md link renamed to /dev/md/kubernetes_0, units started
#         again from their unit files) and a run after it change nothing
#   n1    the same node from NodeConfig user data (localStorage strategy RAID0, Karpenter's AL2023 form):
#         converges on the array set up by r1 without a second create or mkfs
#   m1    mount mode: the blank disk formatted and mounted at DIR/1; the disk with ext4 and data
#         mounted at DIR/2 unformatted, data intact; a re-run changes nothing
#   It also prints "bench:" lines (the disks phase in ms, first boot and re-run, mount mode with
#   2 disks) for bench/disks_bench.sh.
set -u

if [ "${EKS_DISKS_TEST_INSIDE:-}" != 1 ]; then
  [ $# -eq 1 ] || { echo "usage: $0 PATH/TO/eks-node-agent" >&2; exit 2; }
  agent=$(realpath "$1")
  repo=$(cd "$(dirname "$0")/../.." && pwd -P)
  command -v mkfs.xfs >/dev/null || { echo "not ok - mkfs.xfs missing (scripts/install-deps.sh: xfsprogs)"; exit 1; }
  img_dir=$(mktemp -d "${TMPDIR:-/tmp}/eks-disks.XXXXXX")
  loops=()
  cleanup() {
    for l in "${loops[@]}"; do losetup -d "$l" 2>/dev/null; done
    rm -rf "$img_dir"
  }
  trap cleanup EXIT
  trap 'cleanup; exit 130' INT TERM
  for name in d1 d2 array ebs d3; do
    truncate -s 320M "$img_dir/$name.img"
    l=$(losetup -f --show "$img_dir/$name.img") || { echo "not ok - losetup failed (no loop devices?)"; exit 1; }
    loops+=("$l")
  done
  mkfs.ext4 -q -F "${loops[3]}" >/dev/null
  mnt=$(mktemp -d)
  mount "${loops[3]}" "$mnt" && echo "precious" >"$mnt/data.txt" && umount "$mnt"
  rmdir "$mnt"
  case "$agent" in "$repo"/*) ;; *) export WITH_SYSTEMD_BIND_RO="${WITH_SYSTEMD_BIND_RO:-} $(dirname "$agent")";; esac
  export WITH_SYSTEMD_BIND="${WITH_SYSTEMD_BIND:-} ${loops[*]}"
  export EKS_DISKS_TEST_INSIDE=1 EKS_DISKS_LOOPS="${loops[*]}" WITH_SYSTEMD_TIMEOUT=${WITH_SYSTEMD_TIMEOUT:-250}
  bash "$(dirname "$0")/with-systemd.sh" bash "$(realpath "$0")" "$agent"
  exit $?
fi

# ---------------------------------------------------------------------------------------------- inside
AGENT_BUILD=$1
source "$(dirname "$0")/lib.sh"
read -r D1 D2 ARRAY EBS D3 <<<"$EKS_DISKS_LOOPS"
[ -e /run/systemd/container ] || { echo "not ok - not inside a throw-away systemd container"; exit 1; }

BIN=$WORK/usr-bin
mkdir -p "$BIN" /etc/eks /etc/systemd/system /dev/disk/by-id /dev/disk/by-uuid
cp "$AGENT_BUILD" "$BIN/eks-node-agent"
cp "$E2E_DIR/fake-kubelet/kubelet" "$BIN/kubelet"
cat >"$BIN/mdadm" <<EOF
#!/bin/bash
# e2e stand-in for mdadm (no md driver in this kernel): records argv, links $ARRAY as the array.
echo "mdadm \$*" >>/run/e2e-mdadm.log
case "\$1" in
  --create) mkdir -p /dev/md && ln -sfn $ARRAY /dev/md/kubernetes ;;
  --detail) for l in /dev/md/kubernetes*; do [ -L "\$l" ] && echo "ARRAY \$l metadata=1.2 name=e2e:kubernetes UUID=0e2e"; done ;;
esac
exit 0
EOF
cat >"$BIN/mkfs.xfs" <<'EOF'
#!/bin/bash
# e2e: the real mkfs.xfs, then the by-uuid link udev would make (no udev in nspawn).
echo "mkfs.xfs $*" >>/run/e2e-mkfs.log
/usr/sbin/mkfs.xfs -q "$@" || exit $?
dev=$(readlink -f "${@: -1}")
ln -sfn "$dev" "/dev/disk/by-uuid/$(blkid -p -s UUID -o value "$dev")"
EOF
chmod +x "$BIN"/*
mount -t overlay e2e-usr-bin -o "lowerdir=$BIN:/usr/bin" /usr/bin || { echo "not ok - cannot overlay /usr/bin"; exit 1; }
echo "v1.30.4-eks-1234567" >/etc/eks/kubelet-version.txt
printf '[Unit]\nDescription=containerd (e2e stand-in)\n[Service]\nExecStart=/bin/sleep infinity\n' \
  >/etc/systemd/system/containerd.service
systemctl daemon-reload && systemctl start containerd.service
start_emulator
link() { ln -sfn "$2" "/dev/disk/by-id/$1"; }
link nvme-Amazon_EC2_NVMe_Instance_Storage_AWS0000000000000001 "$D1"
link nvme-Amazon_EC2_NVMe_Instance_Storage_AWS0000000000000002 "$D2"
link nvme-Amazon_Elastic_Block_Store_vol0000000000000000e "$EBS"
ebs_uuid=$(blkid -p -s UUID -o value "$EBS")
ln -sfn "$EBS" "/dev/disk/by-uuid/$ebs_uuid"
mkdir -p /var/lib/kubelet && echo "kubelet state" >/var/lib/kubelet/e2e-marker

run_agent() {  # run_agent MODE [ARGS...]: the AL2 flow's bootstrap; stdout/stderr/RC in $WORK
  local mode=$1
  shift
  PATH=/usr/bin:$PATH eks-node-agent --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" \
    --mount-bpf-fs false --imds-endpoint "$IMDS_URL" --kubelet-settle-ms 0 --local-disks "$mode" "$@" \
    >"$WORK/out" 2>"$WORK/err"
  RC=$?
}
prop() { systemctl show -p "$2" --value "$1"; }
is_active() { [ "$(prop "$1" ActiveState)" = active ] || { echo "    ($1 is $(prop "$1" ActiveState))"; return 1; }; }
src_of() { findmnt -n -o SOURCE --target "$1" | head -n1; }
snap() {
  find /etc/systemd/system /.aws /etc/kubernetes /var/lib/kubelet \( -type f -o -type l \) 2>/dev/null | sort |
    while read -r f; do printf '%s %s\n' "$f" "$(stat -c '%i %.9Y' "$f")"; done
}
count() { [ -f "$1" ] && grep -c -e "$2" "$1" || echo 0; }
disks_ms() { "$PY" -c 'import json; print(json.load(open("/run/eks-node-agent/status.json"))["phasesMs"]["disks"])'; }
U0='mnt-k8s\x2ddisks-0.mount'

# --- dry run --------------------------------------------------------------------------------------------
run_agent raid0 --dry-run
check "dry: exit 0" expect_rc 0
check "dry: lists both disks" contains "$WORK/out" "local disks (raid0, /mnt/k8s-disks): $D1 $D2"
check "dry: lists the array creation" contains "$WORK/out" "create RAID0 array /dev/md/kubernetes from $D1 $D2"
check "dry: lists the state copy" contains "$WORK/out" "copy /var/lib/kubelet to /mnt/k8s-disks/0/kubelet"
check "dry: changes nothing" bash -c "[ ! -e /run/e2e-mdadm.log ] || ! grep -q -- --create /run/e2e-mdadm.log; \
  [ ! -e /etc/systemd/system/$U0 ] && [ ! -e /.aws/mdadm.conf ] && [ -z \"\$(blkid -p $ARRAY)\" ]"

# --- r1: raid0, first boot ---------------------------------------------------------------------------------
containerd_t0=$(prop containerd.service ActiveEnterTimestampMonotonic)
run_agent raid0
check "r1: exit 0" expect_rc 0
check "r1: mdadm --create of both disks" contains /run/e2e-mdadm.log \
  "mdadm --create --force --verbose /dev/md/kubernetes --level=0 --name=kubernetes --raid-devices=2 $D1 $D2"
check "r1: scan recorded in /.aws/mdadm.conf" contains /.aws/mdadm.conf "ARRAY /dev/md/kubernetes"
check "r1: xfs on the array" bash -c "[ \"\$(blkid -p -s TYPE -o value $ARRAY)\" = xfs ]"
check "r1: mkfs.xfs with the helper's options" contains /run/e2e-mkfs.log "mkfs.xfs -K -l su=8b /dev/md/kubernetes"
check "r1: unit What=UUID of the array" contains "/etc/systemd/system/$U0" "What=UUID=$(blkid -p -s UUID -o value "$ARRAY")"
check "r1: DIR/0 mounted from the array" bash -c "[ \"\$(findmnt -n -o SOURCE /mnt/k8s-disks/0)\" = $ARRAY ]"
for u in "$U0" var-lib-kubelet.mount var-lib-containerd.mount 'var-lib-soci\x2dsnapshotter\x2dgrpc.mount' var-log-pods.mount; do
  check "r1: $u active and enabled" bash -c "[ \"\$(systemctl is-active '$u')\" = active ] && [ \"\$(systemctl is-enabled '$u')\" = enabled ]"
done
check "r1: /var/lib/kubelet is on the array" bash -c "findmnt -n -o SOURCE /var/lib/kubelet | grep -q '^$ARRAY\[/kubelet\]'"
check "r1: kubelet's old data is on the array" contains /mnt/k8s-disks/0/kubelet/e2e-marker "kubelet state"
check "r1: the agent's kubeconfig is on the array" test -s /mnt/k8s-disks/0/kubelet/kubeconfig
check "r1: containerd restarted around the move" bash -c "[ \"\$(systemctl show -p ActiveEnterTimestampMonotonic --value containerd.service)\" != $containerd_t0 ]"
check "r1: kubelet active" is_active kubelet.service
check "r1: EBS volume untouched" bash -c "[ \"\$(blkid -p -s UUID -o value $EBS)\" = $ebs_uuid ] && ! grep -q $EBS /run/e2e-mdadm.log /run/e2e-mkfs.log"

# --- r2: a re-run ------------------------------------------------------------------------------------------
before=$(snap)
containerd_t1=$(prop containerd.service ActiveEnterTimestampMonotonic)
kubelet_t1=$(prop kubelet.service ActiveEnterTimestampMonotonic)
run_agent raid0
check "r2: exit 0" expect_rc 0
check "r2: no file changed" bash -c "[ \"\$1\" = \"\$2\" ]" _ "$before" "$(snap)"
check "r2: one mdadm --create in all" bash -c "[ $(count /run/e2e-mdadm.log "mdadm --create") = 1 ] && [ $(count /run/e2e-mkfs.log mkfs) = 1 ]"
check "r2: containerd and kubelet not restarted" bash -c "[ $(prop containerd.service ActiveEnterTimestampMonotonic) = $containerd_t1 ] && [ $(prop kubelet.service ActiveEnterTimestampMonotonic) = $kubelet_t1 ]"

# --- r3: a simulated reboot --------------------------------------------------------------------------------
systemctl stop kubelet.service containerd.service
systemctl stop var-log-pods.mount 'var-lib-soci\x2dsnapshotter\x2dgrpc.mount' var-lib-containerd.mount var-lib-kubelet.mount "$U0"
mv /dev/md/kubernetes /dev/md/kubernetes_0   # how the array comes back after a reboot
check "r3: everything unmounted" bash -c "! findmnt /mnt/k8s-disks/0 >/dev/null && ! findmnt /var/lib/kubelet >/dev/null"
systemctl daemon-reload
systemctl start multi-user.target containerd.service   # what boot does: the enabled units, from their files
check "r3: units back from their files" bash -c "[ \"\$(systemctl is-active '$U0' var-lib-kubelet.mount | sort -u)\" = active ]"
check "r3: data still on the array" contains /var/lib/kubelet/e2e-marker "kubelet state"
before=$(snap)
run_agent raid0
check "r3: exit 0" expect_rc 0
check "r3: no file changed" bash -c "[ \"\$1\" = \"\$2\" ]" _ "$before" "$(snap)"
check "r3: no second mdadm --create, no second mkfs" bash -c "[ $(count /run/e2e-mdadm.log "mdadm --create") = 1 ] && [ $(count /run/e2e-mkfs.log mkfs) = 1 ]"
check "r3: the renamed link was probed, not created" contains "$WORK/err" "0 step(s) to take"

# --- n1: the same array from Karpenter's AL2023 NodeConfig (localStorage: {strategy: RAID0}) ----------------
cat >"$WORK/nodeconfig.yaml" <<NEOF
apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: my-cluster
    apiServerEndpoint: $ENDPOINT
    certificateAuthority: $CA_B64
    cidr: 10.100.0.0/16
  instance:
    localStorage:
      strategy: RAID0
NEOF
before=$(snap)
PATH=/usr/bin:$PATH eks-node-agent --config-source "file://$WORK/nodeconfig.yaml" --mount-bpf-fs false \
  --imds-endpoint "$IMDS_URL" --kubelet-settle-ms 0 >"$WORK/out" 2>"$WORK/err"
RC=$?
check "n1: NodeConfig localStorage RAID0: exit 0" expect_rc 0
check "n1: it is the raid0 setup" contains "$WORK/err" "raid0"
check "n1: no unit file changed, no second mdadm --create or mkfs" bash -c "[ \"\$(grep -E 'mount|mdadm' <<<\"\$1\")\" = \"\$(grep -E 'mount|mdadm' <<<\"\$2\")\" ] && [ $(count /run/e2e-mdadm.log "mdadm --create") = 1 ] && [ $(count /run/e2e-mkfs.log mkfs) = 1 ]" _ "$before" "$(snap)"
check "n1: the bind mounts still active" bash -c "[ \"\$(systemctl is-active var-lib-kubelet.mount var-lib-containerd.mount | sort -u)\" = active ]"

# --- m1: mount mode, on a fresh layout ----------------------------------------------------------------------
systemctl stop kubelet.service var-log-pods.mount 'var-lib-soci\x2dsnapshotter\x2dgrpc.mount' var-lib-containerd.mount var-lib-kubelet.mount "$U0"
rm -f /etc/systemd/system/*.mount /etc/systemd/system/multi-user.target.wants/*.mount /dev/disk/by-id/*
systemctl daemon-reload
: >/run/e2e-mkfs.log
link nvme-Amazon_EC2_NVMe_Instance_Storage_AWS0000000000000003 "$D3"
link nvme-Amazon_EC2_NVMe_Instance_Storage_AWS0000000000000004 "$EBS"   # here: instance storage holding data
run_agent mount
check "m1: exit 0" expect_rc 0
bench_first=$(disks_ms)
check "m1: blank disk formatted once" bash -c "[ \"\$(cat /run/e2e-mkfs.log)\" = 'mkfs.xfs -l su=8b $D3' ]"
# DIR/n follows the sorted device paths.
if [[ "$D3" < "$EBS" ]]; then n_blank=1 n_data=2; else n_blank=2 n_data=1; fi
check "m1: blank disk at DIR/$n_blank" bash -c "[ \"\$(findmnt -n -o SOURCE,FSTYPE /mnt/k8s-disks/$n_blank)\" = '$D3 xfs' ]"
check "m1: disk with data at DIR/$n_data, still ext4" bash -c "[ \"\$(findmnt -n -o SOURCE,FSTYPE /mnt/k8s-disks/$n_data)\" = '$EBS ext4' ]"
check "m1: its data intact" contains /mnt/k8s-disks/$n_data/data.txt "precious"
before=$(snap)
run_agent mount
check "m1: re-run exit 0" expect_rc 0
bench_rerun=$(disks_ms)
check "m1: re-run changes nothing" bash -c "[ \"\$1\" = \"\$2\" ] && [ \$(wc -l </run/e2e-mkfs.log) = 1 ]" _ "$before" "$(snap)"
echo "bench: disks phase, mount mode, 2 loop disks: first boot ${bench_first} ms, re-run ${bench_rerun} ms"
finish
