#!/bin/bash
# with-systemd.sh: runs one command as root inside a throw-away systemd (PID 1) and exits with its status.
#
#   tests/e2e/with-systemd.sh CMD [ARGS...]
#
# The container is systemd-nspawn booting the host's own /usr (-D / --volatile=yes: the root, /etc and /var are
# a tmpfs that vanish with it) with a fresh machine-id bound read-only (no first boot, no host presets),
# systemd-machine-id-commit masked, no network (--private-network), and dbus.socket pulled in so the system bus
# is up. The repository (the directory two levels above this script) is bound read-write at the same path, so
# build outputs under it run unchanged. CMD runs as root against the container's real system bus and journal;
# it may write /etc/systemd/system/*, start units, and so on. Nothing it does reaches the host's /etc or /var.
#
# How CMD is run, and why: after the boot finishes (systemctl is-system-running --wait), CMD is started with
# `nsenter -t <container PID 1> -a -r`. Compared with systemd.run= on the container's command line this keeps
# argv exact (no kernel-command-line quoting), passes stdout/stderr straight through (no pty, no \r, no colour,
# no "unit[pid]:" prefixes), returns CMD's exit status directly, inherits the caller's environment (minus the
# D-Bus address variables, which would point at the host) and lets the wrapper time CMD independently of the
# boot. CMD is in the container's namespaces but not in one of its units; use systemd-run inside if that matters.
#
# Environment knobs (all optional):
#   WITH_SYSTEMD_BIND="SRC[:DST] ..."     extra read-write binds, space-separated, nspawn --bind= syntax
#   WITH_SYSTEMD_BIND_RO="SRC[:DST] ..."  extra read-only binds
#   WITH_SYSTEMD_ARGS="..."               extra arguments for the container's systemd, e.g.
#                                         "systemd.wants=multi-user.target" for a fuller system
#   WITH_SYSTEMD_ROOT=DIR                 boot DIR (a writable tree the caller set up, e.g. an overlay of the host's
#                                         root for a package manager) instead of the host's /usr with a tmpfs root
#   WITH_SYSTEMD_HOST_NETWORK=1           share the host's network (to reach an emulator on the host's loopback)
#   WITH_SYSTEMD_TIMEOUT=200              seconds CMD may run (then SIGTERM, SIGKILL 10 s later; exit 124).
#                                         Keep it below the caller's own timeout so teardown still runs.
#   WITH_SYSTEMD_BOOT_TIMEOUT=30          seconds to wait for the container to finish booting
#   WITH_SYSTEMD_CONSOLE=FILE             keep the container's console log in FILE (default: a temp file that is
#                                         printed to stderr only when the boot fails)
#   WITH_SYSTEMD_VERBOSE=1                print boot/run/teardown timings to stderr
#
# Exit status: CMD's; 124 if CMD timed out; 125 if the container could not be set up or booted (the reason is
# printed to stderr). Teardown always runs (EXIT/INT/TERM/HUP trap): SIGTERM to nspawn for an orderly poweroff,
# then cgroup.kill on the container's own cgroup (or SIGKILL of every process in it) as a fallback, then the
# cgroup directories are removed. Only a SIGKILL of this script itself can leave a container behind; ctest
# sends one when a test exceeds its TIMEOUT, which is why CMD gets 200 s by default (systemd_nspawn has 300 s).
#
# Requirements: root, systemd-container (systemd-nspawn), util-linux nsenter, dbus; a host whose PID 1 is not
# systemd (a CI VM or container), which is why --register=no --keep-unit are used. Several instances may run at
# once: each one gets its own cgroup, name and machine-id.
set -uo pipefail

log() { printf 'with-systemd: %s\n' "$*" >&2; }
die() { log "$*"; exit 125; }
now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

[ $# -ge 1 ] || die "usage: $0 CMD [ARGS...]"
[ "$(id -u)" = 0 ] || die "must run as root (systemd-nspawn needs it)"
command -v systemd-nspawn >/dev/null || die "systemd-nspawn not found (apt-get install systemd-container)"
command -v nsenter >/dev/null || die "nsenter not found (util-linux)"
command -v systemd-id128 >/dev/null || die "systemd-id128 not found (systemd)"

REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd -P)
CMD_TIMEOUT=${WITH_SYSTEMD_TIMEOUT:-200}
BOOT_TIMEOUT=${WITH_SYSTEMD_BOOT_TIMEOUT:-30}
VERBOSE=${WITH_SYSTEMD_VERBOSE:-0}
NAME="agent-ct-$$-$RANDOM"
CG_LEAF="nspawn-$NAME"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/with-systemd.XXXXXX") || die "mktemp failed"
MID="$WORK/machine-id"
CONSOLE=${WITH_SYSTEMD_CONSOLE:-$WORK/console.log}
NSPAWN_PID=""
CMD_PID=""
CT=""
T0=$(now)

# --- cgroups: one per container, as a child of our own cgroup in every hierarchy nspawn uses -----------------
# (nspawn --keep-unit puts payload/ and supervisor/ under the caller's cgroup; two containers in one cgroup would
# share payload/.)
CG_DIRS=()
own_cgroup() { # $1: hierarchy match in /proc/self/cgroup ("0:" for cgroup2, "name=systemd" for the v1 tree)
  awk -F: -v h="$1" '($1 ":" == h) || ($2 == h) { print $3; exit }' /proc/self/cgroup
}
if [ -f /sys/fs/cgroup/cgroup.controllers ]; then                        # pure cgroup2
  CG_DIRS+=("/sys/fs/cgroup$(own_cgroup 0:)/$CG_LEAF")
else
  [ -d /sys/fs/cgroup/unified ] && CG_DIRS+=("/sys/fs/cgroup/unified$(own_cgroup 0:)/$CG_LEAF")
  [ -d /sys/fs/cgroup/systemd ] && CG_DIRS+=("/sys/fs/cgroup/systemd$(own_cgroup name=systemd)/$CG_LEAF")
fi
[ ${#CG_DIRS[@]} -gt 0 ] || die "no cgroup hierarchy found under /sys/fs/cgroup"
CG_DIRS=("${CG_DIRS[@]/\/\//\/}")

cgroup_procs() { # every PID in the container's cgroup trees
  local d
  for d in "${CG_DIRS[@]}"; do
    [ -d "$d" ] && find "$d" -name cgroup.procs -exec cat {} + 2>/dev/null
  done | sort -u
}

# nsenter stays outside the container as CMD's parent and stops itself when its child is stopped (WUNTRACED). The
# container's final killing spree SIGSTOPs every process it still sees, so an nsenter whose CMD outlives the
# command phase would stay stopped forever, never reap CMD, and the container's PID 1 would hang in exit waiting
# for that zombie. Hence: end CMD first, and keep nsenter running (SIGCONT) until the container is gone.
stop_cmd() {
  local child
  [ -n "$CMD_PID" ] && kill -0 "$CMD_PID" 2>/dev/null || return 0
  for child in $(pgrep -P "$CMD_PID"); do kill -TERM "$child" 2>/dev/null; done
  for _ in $(seq 50); do kill -0 "$CMD_PID" 2>/dev/null || return 0; kill -CONT "$CMD_PID" 2>/dev/null; sleep 0.1; done
}
nudge_cmd() { [ -n "$CMD_PID" ] && kill -CONT "$CMD_PID" 2>/dev/null; }

TORN_DOWN=0
teardown() {
  [ "$TORN_DOWN" = 1 ] && return
  TORN_DOWN=1
  local t d pids
  t=$(now)
  stop_cmd
  if [ -n "$NSPAWN_PID" ] && kill -0 "$NSPAWN_PID" 2>/dev/null; then
    kill -TERM "$NSPAWN_PID" 2>/dev/null                     # orderly poweroff of the container
    for _ in $(seq 150); do kill -0 "$NSPAWN_PID" 2>/dev/null || break; nudge_cmd; sleep 0.1; done
  fi
  if [ -n "$(cgroup_procs)" ]; then                           # nspawn stuck or gone without its container
    log "container did not stop on SIGTERM; killing its cgroup"
    for d in "${CG_DIRS[@]}"; do [ -f "$d/cgroup.kill" ] && echo 1 >"$d/cgroup.kill" 2>/dev/null; done
    for _ in $(seq 50); do
      nudge_cmd
      pids=$(cgroup_procs)
      [ -z "$pids" ] && break
      # shellcheck disable=SC2086  # one PID per word
      kill -KILL $pids 2>/dev/null
      sleep 0.1
    done
  fi
  [ -n "$NSPAWN_PID" ] && wait "$NSPAWN_PID" 2>/dev/null
  if [ -n "$CMD_PID" ]; then
    nudge_cmd
    kill -0 "$CMD_PID" 2>/dev/null && sleep 0.2
    kill -KILL "$CMD_PID" 2>/dev/null                          # last resort; normally long gone
    wait "$CMD_PID" 2>/dev/null
  fi
  for d in "${CG_DIRS[@]}"; do [ -d "$d" ] && find "$d" -depth -type d -exec rmdir {} + 2>/dev/null; done
  [ "$VERBOSE" = 1 ] && log "teardown took $(elapsed "$t") s"
  if [ -n "${WITH_SYSTEMD_CONSOLE:-}" ]; then rm -f "$MID"; rmdir "$WORK" 2>/dev/null; else rm -rf "$WORK"; fi
}
trap teardown EXIT
trap 'teardown; exit 130' INT
trap 'teardown; exit 143' TERM
trap 'teardown; exit 129' HUP

boot_failed() {
  log "$*"
  if [ -s "$CONSOLE" ]; then
    log "container console (last 40 lines):"
    tail -n 40 "$CONSOLE" | tr -d '\r' >&2
  fi
  exit 125
}

# --- boot --------------------------------------------------------------------------------------------------------
systemd-id128 new >"$MID" || die "systemd-id128 new failed"
BINDS=(--bind="$REPO:$REPO" --bind-ro="$MID:/etc/machine-id")
for b in ${WITH_SYSTEMD_BIND:-}; do BINDS+=(--bind="$b"); done
for b in ${WITH_SYSTEMD_BIND_RO:-}; do BINDS+=(--bind-ro="$b"); done
# shellcheck disable=SC2206  # word splitting of the extra systemd arguments is intended
EXTRA_ARGS=(${WITH_SYSTEMD_ARGS:-})
if [ -n "${WITH_SYSTEMD_ROOT:-}" ]; then ROOT_ARGS=(-D "$WITH_SYSTEMD_ROOT"); else ROOT_ARGS=(-D / --volatile=yes); fi
if [ "${WITH_SYSTEMD_HOST_NETWORK:-}" = 1 ]; then NET_ARGS=(); else NET_ARGS=(--private-network); fi

(
  for d in "${CG_DIRS[@]}"; do
    if ! { mkdir -p "$d" && echo "$BASHPID" >"$d/cgroup.procs"; }; then echo "cannot join cgroup $d" >&2; exit 125; fi
  done
  # setsid: a Ctrl-C to the caller's process group must reach our trap, not nspawn directly.
  exec setsid systemd-nspawn -q -b "${ROOT_ARGS[@]}" -M "$NAME" \
    --register=no --keep-unit "${NET_ARGS[@]}" "${BINDS[@]}" \
    systemd.show_status=no systemd.wants=dbus.socket systemd.mask=systemd-machine-id-commit.service \
    "${EXTRA_ARGS[@]}"
) </dev/null >"$CONSOLE" 2>&1 &
NSPAWN_PID=$!

# The container's PID 1 is a grandchild of nspawn (nspawn forks an intermediate child first).
deadline=$(( $(date +%s) + BOOT_TIMEOUT ))
until CT=$(pgrep -P "$NSPAWN_PID" -x systemd 2>/dev/null); do
  kill -0 "$NSPAWN_PID" 2>/dev/null || { wait "$NSPAWN_PID"; boot_failed "systemd-nspawn exited with status $? before systemd started"; }
  [ "$(date +%s)" -lt "$deadline" ] || boot_failed "systemd did not start within ${BOOT_TIMEOUT}s"
  sleep 0.02
done
CT=$(head -n1 <<<"$CT")

# Wait for the boot job queue to drain; "degraded" is fine (a failed unit we do not care about). systemctl fails
# at once while PID 1 has not created /run/systemd/private yet, hence the loop around --wait.
state=""
while :; do
  left=$(( deadline - $(date +%s) ))
  [ "$left" -ge 1 ] || boot_failed "container did not finish booting within ${BOOT_TIMEOUT}s (state '${state:-none}')"
  kill -0 "$NSPAWN_PID" 2>/dev/null || boot_failed "systemd-nspawn exited during boot"
  state=$(env -u DBUS_SYSTEM_BUS_ADDRESS nsenter -t "$CT" -a -r \
          /usr/bin/timeout -k 2 "$left" /bin/systemctl is-system-running --wait 2>/dev/null </dev/null)
  case "$state" in
    running|degraded) break;;
    initializing|starting|"") sleep 0.02;;
    *) boot_failed "container did not boot (state '$state')";;
  esac
done
[ "$VERBOSE" = 1 ] && log "booted in $(elapsed "$T0") s (state $state, PID 1 = $CT on the host)"

# --- run CMD -----------------------------------------------------------------------------------------------------
# The timeout runs *inside* (nsenter -> timeout -> CMD): killing nsenter itself would orphan CMD to the host's
# init, which may never reap it, and the container's shutdown would then wait for the zombie. CMD runs in the
# background with our stdin so that `wait` (unlike a foreground command) lets the signal traps run at once.
T1=$(now)
rc=0
exec 3<&0
# shellcheck disable=SC2016  # $0/$@ belong to the inner shell
env -u DBUS_SYSTEM_BUS_ADDRESS -u DBUS_SESSION_BUS_ADDRESS nsenter -t "$CT" -a -r \
  /usr/bin/timeout -k 10 "$CMD_TIMEOUT" \
  /bin/sh -c 'cd "$0" 2>/dev/null || cd /; exec "$@"' "$PWD" "$@" <&3 3<&- &
CMD_PID=$!
wait "$CMD_PID" || rc=$?
[ "$rc" = 124 ] && log "command timed out after ${CMD_TIMEOUT}s"
[ "$VERBOSE" = 1 ] && log "command exited $rc after $(elapsed "$T1") s"
teardown
[ "$VERBOSE" = 1 ] && log "total $(elapsed "$T0") s"
exit "$rc"
