#!/bin/bash
# eks-node-agent at boot, on a real systemd: PID 1 of a throw-away systemd-nspawn container
# (tests/e2e/with-systemd.sh), with the unit from units/, the project's IMDS emulator and a fake
# kubelet. Usage (as root; ctest "e2e_boot"):
#   tests/e2e/boot_test.sh PATH/TO/eks-node-agent
# From the host it re-runs itself inside the container; everything below "inside" runs there.
#
# Inside the container:
#   /usr is the host's /usr, read-only. The agent (/usr/bin/eks-node-agent, the unit's ExecStart)
#     and the fake kubelet (/usr/bin/kubelet, kubelet.service's ExecStart) are put there with a
#     read-only overlay mount over /usr/bin: lower layers "our files" and the host's /usr/bin, no
#     upper layer. It lives in the container's mount namespace, which every unit shares, and goes
#     away with the container; the host's /usr is never written.
#   /etc/eks/eks-node-agent is a symlink to it, the path AL2 user data scripts call.
#   containerd.service is `sleep infinity`; the IMDS emulator runs on the container's loopback
#     (private network) under the host's /usr/bin/python3; the unit reaches it through a test-only
#     drop-in (AWS_EC2_METADATA_SERVICE_ENDPOINT). bpffs is left on (the default): the container
#     has no /sys/fs/bpf and systemd 252 refuses a mount unit for it, which is what a node in a
#     container meets; the agent must say so and carry on.
#
# Boot flows and what is asserted (each "ok"/"not ok" line, then "N passed, M failed"):
#   f1  the unit with AL2 script user data: succeeds, says there is no NodeConfig, starts nothing
#   a   the AL2 script (what cloud-init's cloud-final runs): kubelet.service active with our
#       drop-ins, which reach kubelet's command line; bpffs not pre-mounted and sys-fs-bpf.mount
#       refused by systemd is a warning in the summary line and the status file, not a failure
#   b   a second run changes nothing: same files, inodes and mtimes; no daemon-reload; kubelet's
#       invocation and start timestamp unchanged
#   c   a changed input restarts kubelet exactly once, containerd not at all
#   d   a failing kubelet: exit 7, kubelet's own journal line and a diagnosis in the agent's output;
#       once fixed, a re-run starts it (the start was recorded as owed)
#   e   SIGTERM while IMDS hangs: exit 130 within 1 s, a clear message, no file touched, no temp file
#   g   two agents at once: the second waits for the lock; SIGTERM to the first during kubelet's
#       restart job ends it within 1 s with complete files; the second then finishes the restart
#   h   --dry-run with containerd's unit broken and an input it reads changed: the whole plan, the restart
#       marked WOULD FAIL, exit 7 as the real run then has, nothing changed by the dry run
#   f2  the unit with NodeConfig user data: kubelet configured and started by the unit
set -u

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
in_systemd "$@"

# ---------------------------------------------------------------------------------------------- inside
AGENT_BUILD=$1
PY=/usr/bin/python3
T_START=$(date +%s%N)

# --- the node -------------------------------------------------------------------------------------
install_binaries "$AGENT_BUILD"
echo "v1.30.4-eks-1234567" >/etc/eks/kubelet-version.txt
printf '[Unit]\nDescription=containerd (e2e stand-in)\n[Service]\nExecStart=/bin/sleep infinity\n' \
  >/etc/systemd/system/containerd.service
cp "$REPO/units/eks-node-agent.service" /etc/systemd/system/
start_emulator
mkdir -p /etc/systemd/system/eks-node-agent.service.d
printf '[Service]\nEnvironment=AWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n' "$IMDS_URL" \
  >/etc/systemd/system/eks-node-agent.service.d/50-e2e.conf
systemctl daemon-reload
systemctl enable --quiet eks-node-agent.service
export AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL  # for the scripts, as IMDS would be at 169.254.169.254

STATUS=/run/eks-node-agent/status.json
DROPINS=/etc/systemd/system/kubelet.service.d
FAIL_MARKER=/etc/eks/fake-kubelet-fail

# set_user_data TEXT: what IMDS serves as latest/user-data.
set_user_data() {
  imds_set "$("$PY" -c 'import json, sys; print(json.dumps({"latest/user-data": sys.argv[1]}))' "$1")"
}
# al2_script EXTRA_ARGS: writes the AL2-style user data script (and serves it as user data).
al2_script() {
  cat >"$WORK/user-data.sh" <<EOF
#!/bin/bash
set -e
/etc/eks/eks-node-agent --cluster my-cluster --apiserver-endpoint $ENDPOINT --b64-cluster-ca $CA_B64 \\
  --kubelet-extra-args '$1'
EOF
  set_user_data "$(cat "$WORK/user-data.sh")"
}
# run_script: runs the user data script as cloud-final would; stdout/stderr/RC in $WORK.
run_script() {
  bash "$WORK/user-data.sh" >"$WORK/out" 2>"$WORK/err"
  RC=$?
}
reloads() { journalctl -q _PID=1 -o cat | grep -cx 'Reloading.'; }
no_temp_files() {
  local found
  found=$(find /etc /var/lib/kubelet -name '.*.tmp.*' 2>/dev/null)
  [ -z "$found" ] || { echo "    (temp files left: $found)"; return 1; }
}
ms_since() { echo $(( ($(date +%s%N) - $1) / 1000000 )); }
under_ms() { [ "$1" -lt "$2" ] || { echo "    (took $1 ms, limit $2 ms)"; return 1; }; }
unit_log() { journalctl -q -u eks-node-agent.service -o cat >"$WORK/unit.log"; }

# --- f1: the boot unit with an AL2 script as user data ------------------------------------------------
al2_script '--node-labels=team=a'
systemctl start eks-node-agent.service
RC=$?
unit_log
check "f1: the boot unit succeeds with AL2 script user data" expect_rc 0
check "f1: it stays active (RemainAfterExit)" is eks-node-agent.service ActiveState active
check "f1: it says there is no NodeConfig" contains "$WORK/unit.log" "no NodeConfig in user data"
check "f1: it starts nothing" is kubelet.service ActiveState inactive

# --- a: the AL2 script flow ---------------------------------------------------------------------------
run_script
check "a: the AL2 script exits 0" expect_rc 0
check "a: kubelet.service is active" is kubelet.service ActiveState active
check "a: kubelet.service is enabled" is kubelet.service UnitFileState enabled
check "a: containerd is active" is containerd.service ActiveState active
check "a: systemd loaded both drop-ins" bash -c "systemctl show -p DropInPaths --value kubelet.service |
  grep -q '$DROPINS/10-kubelet-args.conf $DROPINS/30-kubelet-extra-args.conf'"
check "a: 10-kubelet-args.conf" contains "$DROPINS/10-kubelet-args.conf" "Environment='KUBELET_ARGS=--node-ip=10.0.12.34 --pod-infra-container-image=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5 --v=2 --hostname-override=ip-10-0-12-34.us-west-2.compute.internal --cloud-provider=external'"
check "a: 30-kubelet-extra-args.conf" contains "$DROPINS/30-kubelet-extra-args.conf" "Environment='KUBELET_EXTRA_ARGS=--node-labels=team=a'"
wait_for 3 bash -c "journalctl -q -u kubelet.service -o cat | grep -q '^fake-kubelet: started'"
journalctl -q -u kubelet.service -o cat >"$WORK/kubelet.log"
check "a: kubelet got the config, the drop-ins' args and the extra args" contains "$WORK/kubelet.log" \
  "fake-kubelet: started with: --config /etc/kubernetes/kubelet/kubelet-config.json --kubeconfig /var/lib/kubelet/kubeconfig --container-runtime-endpoint unix:///run/containerd/containerd.sock --image-credential-provider-config /etc/eks/image-credential-provider/config.json --image-credential-provider-bin-dir /etc/eks/image-credential-provider --node-ip=10.0.12.34"
check "a: ...ending with the extra args" contains "$WORK/kubelet.log" "--cloud-provider=external --node-labels=team=a"
check "a: summary line" contains "$WORK/err" "cluster=my-cluster instance=m5.large max-pods=29 (built-in table)"
check "a: status file says success" json_eq "$STATUS" 'd["result"]' '"success"'
# bpffs: nothing at /sys/fs/bpf before the run, systemd refuses the mount unit, mount(2) has no
# mount point (sysfs is read-only here): a warning with both reasons, and kubelet runs.
check "bpf: /sys/fs/bpf was not mounted" json_eq "$STATUS" 'd["facts"]["bpfMounted"]' 'false'
check "bpf: systemd refused sys-fs-bpf.mount" bash -c "systemctl show -p LoadState --value sys-fs-bpf.mount | grep -qx bad-setting"
check "bpf: the start is recorded as failed, with systemd's reason" json_eq "$STATUS" '[a["result"].startswith("failed: ") and "bad unit file setting" in a["result"] for a in d["unitActions"] if a["unit"] == "sys-fs-bpf.mount" and a["verb"] == "start"]' '[true]'
check "bpf: the direct mount is recorded as failed, with its reason" json_eq "$STATUS" '[a["result"] for a in d["unitActions"] if a["verb"] == "mount"]' '["failed: mount -t bpf bpffs /sys/fs/bpf -o rw,nosuid,nodev,noexec,relatime,mode=700: the mount point does not exist"]'
check "bpf: the status file has the warning" json_eq "$STATUS" '[w["id"] for w in d["warnings"] if "sys-fs-bpf.mount" in w["message"] and "carrying on" in w["message"]]' '["OPTIONAL_UNIT_FAILED"]'
check "bpf: the summary line has it" bash -c "grep SUMMARY '$WORK/err' | grep -q 'warnings: \[OPTIONAL_UNIT_FAILED\] sys-fs-bpf.mount failed'"
check "bpf: ...and kubelet is active regardless" is kubelet.service ActiveState active
/usr/bin/eks-node-agent status >"$WORK/status.txt" 2>&1
check "a: eks-node-agent status prints it" contains "$WORK/status.txt" "result:   success"

# --- b: a second run changes nothing ------------------------------------------------------------------
node_snapshot >"$WORK/snap1"
INV1=$(prop kubelet.service InvocationID)
TS1=$(prop kubelet.service ActiveEnterTimestampMonotonic)
R1=$(reloads)
run_script
node_snapshot >"$WORK/snap2"
check "b: second run exits 0" expect_rc 0
check "b: same files, inodes and mtimes" cmp -s "$WORK/snap1" "$WORK/snap2"
check "b: kubelet not restarted (same invocation)" is kubelet.service InvocationID "$INV1"
check "b: kubelet start timestamp unchanged" is kubelet.service ActiveEnterTimestampMonotonic "$TS1"
check "b: no daemon-reload (systemd's journal)" test "$(reloads)" = "$R1"
check "b: status: no reload, start or restart (but the refused bpf mount, tried again)" json_eq "$STATUS" '[a["verb"] for a in d["unitActions"] if a["verb"] != "enable" and a["unit"] != "sys-fs-bpf.mount"]' '[]'
check "b: summary says nothing changed" contains "$WORK/err" "files changed=0/"

# --- c: a changed input restarts kubelet once ----------------------------------------------------------
STARTS=$(kubelet_starts)
CINV=$(prop containerd.service InvocationID)
al2_script '--node-labels=team=b'
run_script
check "c: changed extra args exit 0" expect_rc 0
check "c: only the extra-args drop-in changed" json_eq "$STATUS" '[f["path"] for f in d["files"] if f["outcome"] not in ("unchanged","kept","absent")]' "[\"$DROPINS/30-kubelet-extra-args.conf\"]"
check "c: one reload and one kubelet restart" json_eq "$STATUS" '[a["verb"] + " " + a["unit"] for a in d["unitActions"] if a["verb"] != "enable" and a["unit"] != "sys-fs-bpf.mount"]' '["reload ", "restart kubelet.service"]'
wait_for 3 test "$(kubelet_starts)" -ge $((STARTS + 1)); sleep 0.3
check "c: kubelet started exactly once more" test "$(kubelet_starts)" -eq $((STARTS + 1))
check "c: kubelet is a new invocation" bash -c "[ '$(prop kubelet.service InvocationID)' != '$INV1' ]"
check "c: containerd untouched" is containerd.service InvocationID "$CINV"
check "c: kubelet runs with the new label" bash -c "journalctl -q -u kubelet.service -o cat | tail -n 3 | grep -q 'node-labels=team=b'"

# --- d: a failing kubelet ------------------------------------------------------------------------------
touch "$FAIL_MARKER"
al2_script '--node-labels=team=c'
T0=$(date +%s%N)
run_script
D_MS=$(ms_since "$T0")
grep -E 'E_service|diagnosis:|\| ' "$WORK/err" | sed 's/^/# d: /'
check "d: a failing kubelet makes the agent exit 7" expect_rc 7
check "d: kubelet's own journal line is in the agent's output" contains "$WORK/err" "fake-kubelet: E0101 refusing to start on purpose"
check "d: only the lines of the failed start (no earlier run's)" lacks "$WORK/err" "fake-kubelet: started with"
check "d: with a one-line diagnosis" contains "$WORK/err" "diagnosis: kubelet.service exited with an error right after starting"
check "d: ...within 5 s" under_ms "$D_MS" 5000
check "d: the status file says failed" json_eq "$STATUS" '[d["result"], d["error"]["code"]]' '["failed", "service"]'
rm -f "$FAIL_MARKER"
run_script
check "d: once fixed, a re-run starts kubelet (its start was owed)" expect_rc 0
check "d: kubelet active again" is kubelet.service ActiveState active
check "d: nothing is owed any more" test ! -e /run/eks-node-agent/pending-units

# --- e: SIGTERM while IMDS hangs -----------------------------------------------------------------------
node_snapshot >"$WORK/snap1"
imds_control '{"action":"fault","path":"*","hang":true}'
al2_script '--node-labels=team=d'
bash "$WORK/user-data.sh" >"$WORK/out" 2>"$WORK/err" &
PID=$!
sleep 0.3
T0=$(date +%s%N)
kill -TERM "$(pgrep -P "$PID" -x eks-node-agent || echo "$PID")"
wait "$PID"
RC=$?
E_MS=$(ms_since "$T0")
imds_control '{"action":"clear_faults"}'
node_snapshot >"$WORK/snap2"
grep -E 'E_interrupted' "$WORK/err" | sed "s/^/# e: after $E_MS ms: /"
check "e: SIGTERM while IMDS hangs exits 130" expect_rc 130
check "e: ...within 1 s" under_ms "$E_MS" 1000
check "e: with a clear message" contains "$WORK/err" "interrupted by SIGTERM; no file was left half-written; re-run to finish"
check "e: no file was touched" cmp -s "$WORK/snap1" "$WORK/snap2"
check "e: no temp file under /etc or /var/lib/kubelet" no_temp_files

# --- g: two agents; SIGTERM to the first in kubelet's restart job; the second finishes -------------------
mkdir -p "$DROPINS"
printf '[Service]\nExecStartPre=/bin/sleep 2\n' >"$DROPINS/05-e2e-slow-start.conf"
systemctl daemon-reload
al2_script '--node-labels=team=e'
bash "$WORK/user-data.sh" >"$WORK/out" 2>"$WORK/err" &
PID_A=$!
wait_for 5 is kubelet.service ActiveState activating >/dev/null
bash "$WORK/user-data.sh" >"$WORK/out_b" 2>"$WORK/err_b" &
PID_B=$!
wait_for 3 grep -q LOCK_WAIT "$WORK/err_b"
check "g: the second agent waits for the first's lock, and says so" contains "$WORK/err_b" "holds /run/eks-node-agent/lock; waiting for it to finish"
T0=$(date +%s%N)
kill -TERM "$(pgrep -P "$PID_A" -x eks-node-agent || echo "$PID_A")"
wait "$PID_A"
RC=$?
G_MS=$(ms_since "$T0")
grep -E 'E_interrupted' "$WORK/err" | sed "s/^/# g: after $G_MS ms: /"
check "g: SIGTERM during the restart job exits 130" expect_rc 130
check "g: ...within 1 s" under_ms "$G_MS" 1000
check "g: ...saying so" contains "$WORK/err" "interrupted by SIGTERM; no file was left half-written; re-run to finish"
check "g: the drop-in the first run wrote is complete" contains "$DROPINS/30-kubelet-extra-args.conf" "Environment='KUBELET_EXTRA_ARGS=--node-labels=team=e'"
check "g: no temp file under /etc or /var/lib/kubelet" no_temp_files
INV_G=$(prop kubelet.service InvocationID)
wait "$PID_B"
RC=$?
cp "$WORK/err_b" "$WORK/err"
check "g: the second agent succeeds" expect_rc 0
check "g: ...finishing the restart the first one owed" contains "$WORK/err_b" "finishing what an earlier run or phase left owed"
# kubelet is still in the start the first run's restart job began, so the owed job is a start
# (systemd merges it into the running one) rather than a second restart.
check "g: ...with one kubelet job and no reload" json_eq "$STATUS" '[a["unit"] for a in d["unitActions"] if a["verb"] != "enable" and a["unit"] != "sys-fs-bpf.mount"]' '["kubelet.service"]'
check "g: kubelet active" is kubelet.service ActiveState active
check "g: nothing is owed any more" test ! -e /run/eks-node-agent/pending-units
rm -f "$DROPINS/05-e2e-slow-start.conf"
systemctl daemon-reload

# --- h: a dry run whose real run would fail late shows the whole plan, marked, and exits as it would ------
# containerd's unit broken (a drop-in that clears ExecStart=: load state bad-setting) and a changed pause
# image that needs its restart: the real run writes the files and then fails the restart (exit 7). The
# dry run must say so without changing anything.
mkdir -p /etc/systemd/system/containerd.service.d
printf '[Service]\nExecStart=\n' >/etc/systemd/system/containerd.service.d/99-e2e-broken.conf
systemctl daemon-reload
H_ARGS=(--cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64"
        --kubelet-extra-args '--node-labels=team=e' --pause-container-version 3.6)
node_snapshot >"$WORK/snap1"
/usr/bin/eks-node-agent "${H_ARGS[@]}" --dry-run >"$WORK/out" 2>"$WORK/err"
RC=$?
node_snapshot >"$WORK/snap2"
grep 'WOULD FAIL' "$WORK/out" | sed 's/^/# h: /'
check "h: the dry run exits 7, as the real run will" expect_rc 7
check "h: it marks containerd's restart" contains "$WORK/out" "restart containerd.service (now active) -- WOULD FAIL: systemd cannot load containerd.service (load state bad-setting) (exit status of the real run)"
check "h: it marks the refused bpf mount as the warning it will be" contains "$WORK/out" "start sys-fs-bpf.mount (now inactive) -- WOULD FAIL: systemd cannot load sys-fs-bpf.mount (load state bad-setting); optional"
check "h: the whole plan is printed (the config diff, kubelet after containerd)" bash -c "grep -q '^update  /etc/containerd/config.toml' '$WORK/out' && grep -q 'kubelet.service' <(sed -n '/containerd.service (now active)/,\$p' '$WORK/out')"
check "h: the error is on stderr" contains "$WORK/err" "predicted by --dry-run: systemd cannot load containerd.service"
check "h: the dry run changed nothing" cmp -s "$WORK/snap1" "$WORK/snap2"
/usr/bin/eks-node-agent "${H_ARGS[@]}" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "h: the real run exits 7 indeed" expect_rc 7
rm /etc/systemd/system/containerd.service.d/99-e2e-broken.conf && systemctl daemon-reload
/usr/bin/eks-node-agent "${H_ARGS[@]}" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "h: repaired, a re-run finishes (containerd's restart was owed)" expect_rc 0

# --- f2: the boot unit with NodeConfig user data --------------------------------------------------------
if /usr/bin/eks-node-agent --help 2>&1 | grep -q -- '--config-source'; then
  set_user_data "$(printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: nodeconfig-cluster\n    apiServerEndpoint: %s\n    certificateAuthority: %s\n    cidr: 10.100.0.0/16\n  kubelet:\n    flags:\n      - --node-labels=from=nodeconfig\n' "$ENDPOINT" "$CA_B64")"
  STARTS=$(kubelet_starts)
  systemctl restart eks-node-agent.service
  RC=$?
  unit_log
  check "f2: the boot unit succeeds with NodeConfig user data" expect_rc 0
  check "f2: the unit configured the node from it" json_eq "$STATUS" '[d["result"], d["values"]["cluster"]]' '["success", "nodeconfig-cluster"]'
  check "f2: clusterDNS from spec.cluster.cidr" json_eq /etc/kubernetes/kubelet/kubelet-config.json 'd["clusterDNS"]' '["10.100.0.10"]'
  check "f2: kubelet active" is kubelet.service ActiveState active
  wait_for 3 test "$(kubelet_starts)" -ge $((STARTS + 1))
  check "f2: kubelet restarted with the NodeConfig's flags" bash -c "journalctl -q -u kubelet.service -o cat | tail -n 3 | grep -q 'node-labels=from=nodeconfig'"
  check "f2: the unit's log has the summary line" contains "$WORK/unit.log" "cluster=nodeconfig-cluster"
else
  echo "ok - f2: skipped: this build has no --config-source (NodeConfig user data support has not landed)"
fi

echo "# boot tests took $(ms_since "$T_START") ms"
finish
