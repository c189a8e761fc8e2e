#!/bin/bash
# `systemd-analyze verify` on every unit the project installs or writes, as systemd would load them:
#   units/*.service                         (installed by CMake)
#   kubelet.service + its drop-ins          as the agent writes them (10-kubelet-args.conf and
#                                           30-kubelet-extra-args.conf, with values that need escaping)
#   config/kubelet.service                  the embedded template, on its own
# Usage: units_verify.sh PATH/TO/eks-node-agent
#
# verify needs every ExecStart binary to exist and every dependency (sysinit.target, ...) to load,
# so it runs with --root on a staged root: the host's systemd unit directory copied in, the agent's
# files written by the agent itself (offline, against the IMDS emulator), and an executable stub at
# every absolute Exec*= path. Nothing is relaxed: any output from verify is a failure, and a unit
# with a known error must fail, which proves the check is live.
# sys-fs-bpf.mount is not verified: systemd >= 233 mounts /sys/fs/bpf itself and refuses a mount
# unit for it ("API file system"); the agent writes that unit only where no bpffs is mounted (AL2).
set -u
AGENT=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
command -v systemd-analyze >/dev/null || { echo "not ok - systemd-analyze not found"; exit 1; }
start_emulator

UNITDIR=$(pkg-config --variable=systemdsystemunitdir systemd 2>/dev/null)
[ -d "${UNITDIR:-}" ] || UNITDIR=/lib/systemd/system
UNITDIR=$(realpath "$UNITDIR")

# A node root with the agent's own files, then the pieces systemd needs to load units in it.
R=$(new_root node 2)
agent "$R" --service-manager offline --mount-bpf-fs false --cluster my-cluster \
  --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" \
  --kubelet-extra-args "--node-labels=team=a,cost=50% --register-with-taints=t=v:NoSchedule --v='2' --x=a\\b"
check "the agent writes kubelet.service and its drop-ins" expect_rc 0
mkdir -p "$R$(dirname "$UNITDIR")" "$R/usr/bin" "$R/usr/sbin" "$R/usr/lib" "$R/usr/lib64"
cp -a "$UNITDIR" "$R$UNITDIR"
for l in bin sbin lib lib64; do [ -L "/$l" ] && ln -sfn "$(readlink "/$l")" "$R/$l"; done
cp "$REPO"/units/*.service "$R/etc/systemd/system/"
# The template under another name (verify finds units only on the unit search path).
cp "$REPO/config/kubelet.service" "$R/etc/systemd/system/kubelet-template.service"

# Stub executables at every absolute Exec*= path (prefixes -@:+! stripped), in the staged root only.
grep -hoE '^Exec[A-Za-z]*=[-@:+!]*/[^ ]+' "$R"/etc/systemd/system/*.service |
  sed -E 's/^Exec[A-Za-z]*=[-@:+!]*//' | sort -u | while read -r exe; do
    [ -e "$R$exe" ] && continue
    mkdir -p "$R$(dirname "$exe")" && printf '#!/bin/sh\nexit 0\n' >"$R$exe" && chmod 0755 "$R$exe"
  done

# verify UNIT-PATH-IN-ROOT: passes only when verify exits 0 and prints nothing.
verify() {
  systemd-analyze verify --root="$R" "$1" >"$WORK/verify.out" 2>&1
  local rc=$?
  if [ "$rc" -ne 0 ] || [ -s "$WORK/verify.out" ]; then
    sed 's/^/    verify: /' "$WORK/verify.out"
    echo "    (systemd-analyze verify exited $rc)"
    return 1
  fi
}
for u in "$REPO"/units/*.service; do
  check "verify $(basename "$u")" verify "/etc/systemd/system/$(basename "$u")"
done
check "the drop-ins are in place" test -f "$R/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf"
check "verify kubelet.service with the agent's drop-ins" verify /etc/systemd/system/kubelet.service
check "verify config/kubelet.service (the embedded template)" verify /etc/systemd/system/kubelet-template.service

# The check is live: a unit whose ExecStart does not exist, next to the others, must fail it.
printf '[Service]\nType=oneshot\nExecStart=/usr/bin/does-not-exist\n' >"$R/etc/systemd/system/broken.service"
broken_fails() {
  ! verify /etc/systemd/system/broken.service >/dev/null && grep -q 'does-not-exist' "$WORK/verify.out"
}
check "a unit with a missing ExecStart binary fails verify" broken_fails

finish
