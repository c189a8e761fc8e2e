#!/bin/bash
# End-to-end: the binary as `nodeadm` (a link named nodeadm, and `eks-node-agent nodeadm`) in
# scratch AL2023 roots against the IMDS emulator and the AWS API emulator: usage errors and exit
# statuses, config check/dump, init's phases (--skip, --daemon), the marker, the config cache
# (written, reused, the needsRecache rule, the fallback), EC2 DescribeInstances for the node name
# (and InstanceIdNodeName), AWS_MAX_ATTEMPTS, an IMDS that comes up late.
#   usage: nodeadm_test.sh /path/to/eks-node-agent
AGENT=${1:?usage: nodeadm_test.sh /path/to/eks-node-agent}
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

NODEADM=$WORK/bin/nodeadm
mkdir -p "$WORK/bin" && ln -s "$AGENT" "$NODEADM"
ENVF=/etc/eks/kubelet/environment
KCFG=/etc/kubernetes/kubelet/config.json
CACHE=/run/eks/nodeadm/config.json
MARKER=/run/nodeadm/init

# nodeconfig NAME [EXTRA-SPEC-YAML]: a NodeConfig with the InstanceIdNodeName gate unless EXTRA says otherwise.
nodeconfig() {
  printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: %s\n    apiServerEndpoint: %s\n    certificateAuthority: %s\n    cidr: 10.100.0.0/16\n%s' \
    "$1" "$ENDPOINT" "$CA_B64" "${2-  featureGates:
    InstanceIdNodeName: true
}"
}
# nodeadm ROOT ARGS...: `nodeadm ARGS... --root ROOT --imds-endpoint URL`; output in $WORK.
nodeadm() {
  local root=$1
  shift
  "$NODEADM" "$@" --root "$root" --imds-endpoint "$IMDS_URL" >"$WORK/out" 2>"$WORK/err"
  RC=$?
}
no_file() { [ ! -e "$1" ] || { echo "    ($1 exists)"; return 1; }; }
is_empty_0644() { [ -f "$1" ] && [ ! -s "$1" ] && [ "$(stat -c %a "$1")" = 644 ] || { echo "    ($1: $(stat -c '%a %s' "$1" 2>&1))"; return 1; }; }
rc_is() { expect_rc "$1"; }

start_emulator

# --- usage ------------------------------------------------------------------------------------
R=$(al2023_root usage)
"$NODEADM" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "no subcommand: exit 2 with the usage" bash -c '[ "$1" -eq 2 ] && grep -q "usage: nodeadm" "$2"' _ "$RC" "$WORK/err"
"$NODEADM" init --bogus >"$WORK/out" 2>"$WORK/err"; RC=$?
check "unknown flag: exit 2" rc_is 2
check "unknown flag: named" contains "$WORK/err" "'--bogus'"
check "unknown flag: init's usage" contains "$WORK/err" "usage: nodeadm init"
"$NODEADM" init -c >"$WORK/out" 2>"$WORK/err"; RC=$?
check "missing value: exit 2, flag named" bash -c '[ "$1" -eq 2 ] && grep -q -- "-c needs a value" "$2"' _ "$RC" "$WORK/err"
"$NODEADM" init -d --dry-run --root "$R" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "-d --dry-run: an option is not a daemon name (exit 2)" rc_is 2
check "-d --dry-run: nothing written" no_file "$R/run/eks-node-agent/status.json"
"$NODEADM" config check -c s3://bucket/nc.yaml --root "$R" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "unsupported source scheme: exit 1, as nodeadm's 'failed to build provider'" rc_is 1
check "unsupported source scheme: named" contains "$WORK/err" "s3://bucket/nc.yaml: unsupported scheme"
"$AGENT" nodeadm frobnicate >"$WORK/out" 2>"$WORK/err"; RC=$?
check "eks-node-agent nodeadm: unknown subcommand exit 2" bash -c '[ "$1" -eq 2 ] && grep -q frobnicate "$2"' _ "$RC" "$WORK/err"
"$NODEADM" init --help >"$WORK/out" 2>"$WORK/err"; RC=$?
check "init --help: exit 0 on stdout" bash -c '[ "$1" -eq 0 ] && grep -q -- "--config-cache PATH" "$2"' _ "$RC" "$WORK/out"

# --- config check / dump ------------------------------------------------------------------------
nodeconfig my-cluster >"$WORK/nc.yaml"
set_user_data "$WORK/nc.yaml"
nodeadm "$R" config check
check "config check: exit 0" rc_is 0
check "config check: Configuration is valid" contains "$WORK/err" "Configuration is valid"
nodeadm "$R" config dump
check "config dump: exit 0" rc_is 0
check "config dump: v1alpha1 JSON on stdout" json_eq "$WORK/out" '[d["kind"], d["apiVersion"], d["spec"]["cluster"]["name"]]' \
  '["NodeConfig", "node.eks.aws/v1alpha1", "my-cluster"]'
check "config dump: one line" equals "$(wc -l <"$WORK/out")" 1
nodeadm "$R" config dump -o "$WORK/dump.json"
check "config dump -o: the file" json_eq "$WORK/dump.json" 'd["spec"]["cluster"]["cidr"]' '"10.100.0.0/16"'
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: x\n    certificateAuthority: %s\n    cidr: 10.100.0.0/16\n' "$CA_B64" >"$WORK/noep.yaml"
set_user_data "$WORK/noep.yaml"
nodeadm "$R" config check
check "config check without apiServerEndpoint: exit 1" rc_is 1
check "config check without apiServerEndpoint: says EKS is never asked" contains "$WORK/err" \
  "spec.cluster.apiServerEndpoint is required: as nodeadm, the agent never asks EKS DescribeCluster"
printf '#!/bin/bash\necho hi\n' >"$WORK/script.sh"
set_user_data "$WORK/script.sh"
nodeadm "$R" config check
check "config check with a shell script: exit 1, no config in chain" bash -c '[ "$1" -eq 1 ] && grep -q "no config in chain" "$2"' _ "$RC" "$WORK/err"

# --- error positions: the source, line and column of a bad value; nothing written --------------
nodeconfig pos-cluster "  kubelet:
    flags: not-a-list
" >"$R/etc/bad.yaml"
nodeadm "$R" config check -c file:///etc/bad.yaml
check "bad value in a file: exit 1" rc_is 1
check "bad value in a file: file, line and column named" contains "$WORK/err" \
  "file:///etc/bad.yaml, line 10, column 5: spec.kubelet.flags must be a list, not a string"
set_user_data "$R/etc/bad.yaml"
R=$(al2023_root badpos)
nodeadm "$R" init
check "bad value in user data: init exits 1" rc_is 1
check "bad value in user data: user data, line and column named" contains "$WORK/err" \
  "imds://user-data, line 10, column 5: spec.kubelet.flags must be a list"
check "bad value in user data: nothing written" no_file "$R$KCFG"

# --- init: both phases -------------------------------------------------------------------------
set_user_data "$WORK/nc.yaml"
R=$(al2023_root both)
nodeadm "$R" init --config-cache $CACHE
check "init: exit 0" rc_is 0
check "init: the AL2023 layout" json_eq "$R$KCFG" 'd["maxPods"]' 29
check "init: node name is the instance id (InstanceIdNodeName)" contains "$R$ENVF" "--hostname-override=i-0123456789abcdef0"
check "init: the marker, empty, 0644" is_empty_0644 "$R$MARKER"
check "init: warns that cloud-init's result is absent" contains "$WORK/err" "/run/cloud-init/result.json does not exist"
check "init: the cache (internal apiVersion, spec)" json_eq "$R$CACHE" '[d["apiVersion"], d["spec"]["cluster"]["name"]]' \
  '["node.eks.aws/__internal", "my-cluster"]'
check "init: kubelet not enabled (nodeadm-run starts it every boot)" no_file "$R/etc/systemd/system/multi-user.target.wants/kubelet.service"
check "init: the summary line" contains "$WORK/err" "cluster=my-cluster"
check "init: the status file" json_eq "$R/run/eks-node-agent/status.json" 'd["values"]["platform"]' '"al2023"'

# --- init as the two units do: --skip run, then --skip config ------------------------------------
R=$(al2023_root units)
nodeadm "$R" init --skip run --config-source imds://user-data --config-cache $CACHE
check "config phase: exit 0" rc_is 0
check "config phase: files written" test -f "$R$KCFG"
check "config phase: no marker" no_file "$R$MARKER"
check "config phase: the cache" test -f "$R$CACHE"
check "config phase: containerd and kubelet owed to the run phase" bash -c \
  'grep -qx containerd.service "$1" && grep -qx kubelet.service "$1"' _ "$R/run/eks-node-agent/pending-units"
S1=$(snapshot "$R")
mkdir -p "$R/etc/eks/nodeadm.d"
nodeadm "$R" init --skip config --config-source imds://user-data --config-source file:///etc/eks/nodeadm.d/ --config-cache $CACHE
check "run phase: exit 0" rc_is 0
check "run phase: the marker" is_empty_0644 "$R$MARKER"
check "run phase: the cache hit, no config phase" lacks "$WORK/err" "NODEADM_CONFIG_CHANGED"
check "run phase: no file rewritten" equals "$(snapshot "$R")" "$S1"
check "run phase: containerd and kubelet started (offline: skipped)" json_eq "$R/run/eks-node-agent/status.json" \
  '[a["unit"] for a in d["unitActions"]]' '["containerd.service", "kubelet.service"]'

# a drop-in that changes the spec: the config phase runs again despite --skip config (needsRecache)
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 17\n' \
  >"$R/etc/eks/nodeadm.d/10-pods.yaml"
nodeadm "$R" init --skip config --config-source imds://user-data --config-source file:///etc/eks/nodeadm.d/ --config-cache $CACHE
check "changed spec: exit 0" rc_is 0
check "changed spec: the config phase ran (needsRecache)" contains "$WORK/err" "NODEADM_CONFIG_CHANGED"
check "changed spec: the drop-in reached kubelet" contains "$R/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf" '"maxPods": 17'
check "changed spec: cached" json_eq "$R$CACHE" 'd["spec"]["kubelet"]["config"]["maxPods"]' 17

# no NodeConfig anywhere now: the cache is used
set_user_data "$WORK/script.sh"
rm "$R/etc/eks/nodeadm.d/10-pods.yaml"
nodeadm "$R" init --skip config --config-source imds://user-data --config-source file:///etc/eks/nodeadm.d/ --config-cache $CACHE
check "no NodeConfig, cache: exit 0" rc_is 0
check "no NodeConfig, cache: falls back to it" contains "$WORK/err" "falling back to the cached one"
rm "$R$CACHE"
nodeadm "$R" init --skip config --config-source imds://user-data --config-cache $CACHE
check "no NodeConfig, no cache: exit 1" rc_is 1
check "no NodeConfig, no cache: no config in chain" contains "$WORK/err" "no config in chain"

# --- --daemon and --dry-run ----------------------------------------------------------------------
set_user_data "$WORK/nc.yaml"
R=$(al2023_root daemons)
nodeadm "$R" init --dry-run --daemon=
check "--daemon= --dry-run: exit 0" rc_is 0
check "--daemon=: containerd deferred" contains "$WORK/out" "defer containerd.service"
check "--daemon=: kubelet deferred" contains "$WORK/out" "defer kubelet.service"
check "--dry-run: writes nothing" no_file "$R$KCFG"
nodeadm "$R" init -d kubelet
check "-d kubelet: exit 0" rc_is 0
check "-d kubelet: only kubelet acted on" json_eq "$R/run/eks-node-agent/status.json" \
  '[a["unit"] for a in d["unitActions"] if a["unit"] in ("containerd.service", "kubelet.service")]' '["kubelet.service"]'
check "-d kubelet: kubelet configured" json_eq "$R$KCFG" 'd["maxPods"]' 29
check "-d kubelet: containerd's configuration left as it was (nodeadm configures named daemons only)" \
  no_file "$R/etc/containerd/config.toml"
check "-d kubelet: nothing owed to containerd" bash -c '! grep -qx containerd.service "$1" 2>/dev/null' _ \
  "$R/run/eks-node-agent/pending-units"
nodeadm "$R" init
check "then every daemon: containerd configured and acted on" bash -c '[ -s "$1" ] && python3 -c "
import json, sys; d = json.load(open(sys.argv[1]))
sys.exit(0 if \"containerd.service\" in [a[\"unit\"] for a in d[\"unitActions\"]] else 1)" "$2"' _ \
  "$R/etc/containerd/config.toml" "$R/run/eks-node-agent/status.json"

# --- file:// relative to the working directory ----------------------------------------------------
R=$(al2023_root relative)
nodeconfig rel-cluster >"$R/etc/rel.yaml"
(cd "$R/etc" && "$NODEADM" config dump -c file://rel.yaml --root "$R" --imds-endpoint "$IMDS_URL" >"$WORK/out" 2>"$WORK/err")
check "file://rel.yaml is relative to the working directory" json_eq "$WORK/out" 'd["spec"]["cluster"]["name"]' '"rel-cluster"'

# --- EC2 DescribeInstances for the node name -----------------------------------------------------
if /usr/bin/python3 -c 'import botocore' 2>/dev/null; then
  start_server AWS aws_emulator.py
  aws_control() { post_control "$AWS_URL/_control" "$1"; }
  aws_stat() { get_stat "$AWS_URL/_stats" "$1"; }
  give_role 1
  aws_control '{"action":"set_instance","id":"i-0123456789abcdef0","private_dns_names":["","ip-10-0-99-1.us-west-2.compute.internal"]}'
  nodeconfig ec2-cluster "" >"$WORK/ec2.yaml"
  set_user_data "$WORK/ec2.yaml"
  R=$(al2023_root ec2)
  AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" nodeadm "$R" init --config-cache $CACHE
  check "ec2: exit 0" rc_is 0
  check "ec2: node name is PrivateDnsName" contains "$R$ENVF" "--hostname-override=ip-10-0-99-1.us-west-2.compute.internal"
  check "ec2: asked until non-empty" equals "$(aws_stat 's["by_operation"]["DescribeInstances"]')" 2
  check "ec2: no DescribeCluster" equals "$(aws_stat 's["by_operation"].get("DescribeCluster", 0)')" 0
  check "ec2: PrivateDnsName cached" json_eq "$R$CACHE" 'd["status"]["instance"]["privateDnsName"]' \
    '"ip-10-0-99-1.us-west-2.compute.internal"'
  aws_control '{"action":"reset_stats"}'
  AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" nodeadm "$R" init --skip config --config-cache $CACHE
  check "ec2 cache hit: exit 0" rc_is 0
  check "ec2 cache hit: no EC2 call" equals "$(aws_stat 's["requests"]')" 0
  # both phases again, the NodeConfig unchanged: the config phase names the node from the cache
  AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" nodeadm "$R" init --config-cache $CACHE
  check "ec2 cache hit, both phases: exit 0" rc_is 0
  check "ec2 cache hit, both phases: no EC2 call" equals "$(aws_stat 's["requests"]')" 0
  check "ec2 cache hit, both phases: the cached name" contains "$R$ENVF" \
    "--hostname-override=ip-10-0-99-1.us-west-2.compute.internal"

  # AWS_MAX_ATTEMPTS bounds the attempts of a failing call
  aws_control '{"action":"reset_stats"}'
  aws_control '{"action":"fault","operation":"DescribeInstances","status":500,"code":"InternalError"}'
  R=$(al2023_root attempts)
  AWS_MAX_ATTEMPTS=2 AWS_REGION=us-west-2 AWS_ENDPOINT_URL="$AWS_URL" nodeadm "$R" init
  check "AWS_MAX_ATTEMPTS=2: exit 1" rc_is 1
  check "AWS_MAX_ATTEMPTS=2: two attempts" equals "$(aws_stat 's["by_operation"]["DescribeInstances"]')" 2
  check "AWS_MAX_ATTEMPTS=2: the error names AWS_MAX_ATTEMPTS" contains "$WORK/err" "AWS_MAX_ATTEMPTS allows 2 attempt(s)"
  aws_control '{"action":"clear_faults"}'

  # nodeadm's 30 s connect timeout per attempt (its e2e aws-api-connection-timeout): an endpoint
  # whose accept queue is full drops our SYNs, so the connection neither opens nor fails.
  "$PY" -c '
import socket, sys, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(0)
fill = []
for _ in range(3):
    c = socket.socket(); c.setblocking(False)
    try: c.connect(s.getsockname())
    except BlockingIOError: pass
    fill.append(c)
print(s.getsockname()[1], flush=True)
time.sleep(90)' >"$WORK/blackhole.port" &
  BLACKHOLE=$!
  for _ in $(seq 50); do [ -s "$WORK/blackhole.port" ] && break; sleep 0.1; done
  nodeconfig ec2-cluster "" >"$WORK/ec2.yaml"
  set_user_data "$WORK/ec2.yaml"
  R=$(al2023_root blackhole)
  T0=$(date +%s)
  AWS_MAX_ATTEMPTS=1 AWS_REGION=us-west-2 AWS_ENDPOINT_URL="http://127.0.0.1:$(cat "$WORK/blackhole.port")" nodeadm "$R" init
  ELAPSED=$(( $(date +%s) - T0 ))
  kill "$BLACKHOLE" 2>/dev/null; wait "$BLACKHOLE" 2>/dev/null
  check "black-holed EC2, AWS_MAX_ATTEMPTS=1: exit 1" rc_is 1
  # Not a speed check: at least the 30 s budget (not cut short), and less than a second attempt.
  check "black-holed EC2, AWS_MAX_ATTEMPTS=1: one 30 s connect timeout (took ${ELAPSED} s)" \
    bash -c '[ "$1" -ge 29 ] && [ "$1" -lt 59 ]' _ "$ELAPSED"
  check "black-holed EC2: the error says no connection opened in 30 s, once" bash -c \
    'grep -q "failed 1 time(s)" "$1" && grep -q "could not connect within 30000 ms" "$1"' _ "$WORK/err"

  # instance.environment.default reaches our own process before EC2 is asked (nodeadm's
  # nodeadm-environment aspect): the endpoint host resolves nowhere, so only the proxy gets there.
  aws_control '{"action":"reset_stats"}'
  nodeconfig proxy-cluster "  instance:
    environment:
      default:
        HTTP_PROXY: $AWS_URL
        NO_PROXY: localhost,127.0.0.1,169.254.169.254
" >"$WORK/proxy.yaml"
  set_user_data "$WORK/proxy.yaml"
  R=$(al2023_root proxy)
  AWS_REGION=us-west-2 AWS_ENDPOINT_URL=http://ec2.emulated.invalid nodeadm "$R" init
  check "proxy from environment.default: exit 0" rc_is 0
  check "proxy from environment.default: one EC2 request, through the proxy" \
    equals "$(aws_stat '[s["requests"], s["proxied"], s["signature_ok"]]')" "[1, 1, 1]"
  check "proxy from environment.default: the node name from EC2" contains "$R$ENVF" \
    "--hostname-override=ip-10-0-99-1.us-west-2.compute.internal"
  check "proxy from environment.default: the systemd default environment has it" contains \
    "$R/etc/systemd/system.conf.d/environment.conf" "HTTP_PROXY=$AWS_URL"
  check "proxy from environment.default: names logged, not values" bash -c \
    'grep -q "sets HTTP_PROXY, NO_PROXY" "$1" && ! grep -q "HTTP_PROXY=" "$1"' _ "$WORK/err"
  stop_server AWS
else
  not_ok "ec2" "python3-botocore is not installed for /usr/bin/python3 (scripts/install-deps.sh installs it)"
fi

# --- IMDS that comes up late ------------------------------------------------------------------------
set_user_data "$WORK/nc.yaml"
cp "$WORK/nc.yaml" "$WORK/late.yaml"
PORT=$("$PY" -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
R=$(al2023_root late)
"$PY" - "$REPO" "$PORT" "$WORK/late.yaml" <<'PYEOF' >/dev/null 2>&1 &
import json, subprocess, sys, time
repo, port, ud = sys.argv[1], sys.argv[2], sys.argv[3]
# The user data is in its values from the first request: set later, an early GET could miss it.
values = json.load(open(repo + "/tests/support/imds-default.json"))
values["latest/user-data"] = open(ud).read()
json.dump(values, open(ud + ".values.json", "w"))
time.sleep(3)
p = subprocess.Popen([sys.executable, repo + "/tests/support/imds_emulator.py", "--port", port,
                      "--values", ud + ".values.json"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
open(ud + ".pid", "w").write(str(p.pid))  # the test kills it: this launcher may be killed first
time.sleep(30)
p.terminate()
PYEOF
# (its output goes nowhere: a pipe left open by a stray process would keep ctest waiting)
LATE=$!
SERVER_PIDS+=("$LATE")
START=$(date +%s)
"$NODEADM" init --root "$R" --imds-endpoint "http://127.0.0.1:$PORT" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "IMDS up 3 s late: exit 0" rc_is 0
check "IMDS up 3 s late: waited for it" bash -c '[ $(( $(date +%s) - $1 )) -ge 3 ]' _ "$START"
check "IMDS up 3 s late: the node configured" test -f "$R$KCFG"
kill "$LATE" 2>/dev/null
[ -s "$WORK/late.yaml.pid" ] && kill "$(cat "$WORK/late.yaml.pid")" 2>/dev/null

# IMDS up, but the identity document still 404 (as while the instance is coming up): retried, as
# nodeadm's region lookup retries it; another path's 404 is not.
IDDOC=latest/dynamic/instance-identity/document
imds_control "{\"action\":\"fault\",\"path\":\"$IDDOC\",\"status\":404,\"count\":3}"
imds_control '{"action":"reset_stats"}'
R=$(al2023_root doc404)
nodeadm "$R" init
check "identity document 404 three times: exit 0" rc_is 0
check "identity document 404 three times: asked four times" equals "$(imds_stat "s['gets']['$IDDOC']")" 4
check "identity document 404 three times: the node configured" test -f "$R$KCFG"
imds_control '{"action":"clear_faults"}'

# --- FastImagePull: SOCI's pause image import in the run phase ---------------------------------
# An 8-CPU, 8 GiB host (its sysfs in the root) with the image's /etc/eks/pause.tar: the config phase
# writes SOCI's files; the run phase, its own process as in nodeadm-run.service, decides again from
# the host and imports the archive once containerd is up (a scratch root runs no daemon: --dry-run
# shows the command, marked skipped).
nodeconfig soci-cluster "  featureGates:
    InstanceIdNodeName: true
    FastImagePull: true
" >"$WORK/soci.yaml"
set_user_data "$WORK/soci.yaml"
R=$(al2023_root soci)
mkdir -p "$R/sys/devices/system/cpu" "$R/sys/devices/system/memory"
echo 0-7 >"$R/sys/devices/system/cpu/online"
echo 8000000 >"$R/sys/devices/system/memory/block_size_bytes"
for i in $(seq 0 63); do mkdir -p "$R/sys/devices/system/memory/memory$i" && echo 1 >"$R/sys/devices/system/memory/memory$i/online"; done
echo archive >"$R/etc/eks/pause.tar"
nodeadm "$R" init --skip run --config-cache $CACHE
check "soci: config phase exit 0" rc_is 0
check "soci: containerd drop-in" contains "$R/etc/systemd/system/containerd.service.d/10-soci-snapshotter.conf" "Requires=soci-snapshotter.service"
nodeadm "$R" init --skip config --config-cache $CACHE --dry-run
check "soci: run phase dry run exit 0" rc_is 0
check "soci: run phase imports the pause archive after containerd" contains "$WORK/out" \
  "then run ctr --namespace k8s.io images import --snapshotter soci --discard-unpacked-layers=false --local /etc/eks/pause.tar"
rm "$R/etc/eks/pause.tar"
nodeadm "$R" init --skip config --config-cache $CACHE --dry-run
check "soci: no archive, no import" lacks "$WORK/out" "images import"

finish
