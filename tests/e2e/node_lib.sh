# Shared by the real-systemd node tests (boot_test.sh, al2023_boot_test.sh): the re-run inside a
# throw-away systemd (with-systemd.sh), the node's binaries, and helpers over systemd's view.
# Source it after lib.sh.

# in_systemd "$@": on the host, re-runs the calling script inside with-systemd.sh (returns only
# inside the container, where EKS_BOOT_TEST_INSIDE=1); refuses to go on outside a systemd container.
in_systemd() {
  if [ "${EKS_BOOT_TEST_INSIDE:-}" != 1 ]; then
    [ $# -eq 1 ] || { echo "usage: $0 PATH/TO/eks-node-agent" >&2; exit 2; }
    local agent
    agent=$(realpath "$1")
    case "$agent" in
      "$REPO"/*) ;;
      *) export WITH_SYSTEMD_BIND_RO="${WITH_SYSTEMD_BIND_RO:-} $(dirname "$agent")";;
    esac
    export EKS_BOOT_TEST_INSIDE=1 WITH_SYSTEMD_TIMEOUT=${WITH_SYSTEMD_TIMEOUT:-300}
    rm -rf "$WORK"  # lib.sh made it for this (host) side, which exec ends without its trap
    exec bash "$E2E_DIR/with-systemd.sh" bash "$(realpath "$0")" "$agent"
  fi
  if [ ! -e /run/systemd/container ] || [ "$(cat /proc/1/comm)" != systemd ]; then
    echo "not ok - not inside a throw-away systemd container (run through tests/e2e/with-systemd.sh)"
    exit 1
  fi
}

# install_binaries AGENT: the agent at /usr/bin/eks-node-agent and the fake kubelet at
# /usr/bin/kubelet (and /usr/bin/nodeadm linking to the agent), by a read-only overlay over /usr/bin (the host's /usr is never written), and
# /etc/eks/eks-node-agent linking to the agent.
install_binaries() {
  local bin=$WORK/usr-bin
  mkdir -p "$bin" /etc/eks /etc/systemd/system
  cp "$1" "$bin/eks-node-agent"
  cp "$E2E_DIR/fake-kubelet/kubelet" "$bin/kubelet"
  mount -t overlay e2e-usr-bin -o "lowerdir=$bin:/usr/bin" /usr/bin ||
    { echo "not ok - cannot overlay /usr/bin"; exit 1; }
  ln -s eks-node-agent "$bin/nodeadm"  # the AL2023 units' name for it
  ln -s /usr/bin/eks-node-agent /etc/eks/eks-node-agent
}

prop() { systemctl show -p "$2" --value "$1"; }
is() { [ "$(prop "$1" "$2")" = "$3" ] || { echo "    ($1 $2 is $(prop "$1" "$2"), expected $3)"; return 1; }; }
kubelet_starts() { journalctl -q -u kubelet.service -o cat | grep -c '^fake-kubelet: started'; }
# node_snapshot: path, inode, mtime (ns) and hash of every file the agent may write.
node_snapshot() {
  find /etc/kubernetes /etc/systemd/system /etc/containerd /etc/eks /var/lib/kubelet \
    \( -type f -o -type l \) 2>/dev/null | sort | while read -r f; do
    printf '%s %s %s\n' "$f" "$(stat -c '%i %.9Y' "$f")" "$([ -L "$f" ] && readlink "$f" || sha256sum <"$f" | cut -c1-16)"
  done
}
# wait_for SECONDS CMD...: polls CMD every 20 ms.
wait_for() {
  local until=$(( $(date +%s%N) + $1 * 1000000000 ))
  shift
  until "$@"; do
    [ "$(date +%s%N)" -lt "$until" ] || return 1
    sleep 0.02
  done
}
