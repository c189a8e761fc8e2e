# Shared helpers for the end-to-end shell tests: a loopback IMDS emulator, scratch roots, and
# assertions that count passes and failures. Source it; call finish at the end.
# Every test prints "ok - NAME" or "not ok - NAME: why"; finish prints "N passed, M failed".

E2E_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
REPO=$(cd "$E2E_DIR/../.." && pwd)
PY=$(command -v python3 || echo /usr/bin/python3)
PASSED=0
FAILED=0
WORK=$(mktemp -d /tmp/eks-e2e.XXXXXX)
EMULATOR_PID=""

SERVER_PIDS=()
cleanup_e2e() {
  [ -n "$EMULATOR_PID" ] && kill "$EMULATOR_PID" 2>/dev/null
  for pid in "${SERVER_PIDS[@]}"; do kill "$pid" 2>/dev/null; done
  rm -rf "$WORK"
}
trap cleanup_e2e EXIT

# start_emulator [extra args]: starts the IMDS emulator on an ephemeral port; sets IMDS_URL.
start_emulator() {
  rm -f "$WORK/imds.port"
  "$PY" "$REPO/tests/support/imds_emulator.py" --port 0 --port-file "$WORK/imds.port" "$@" \
    >"$WORK/emulator.log" 2>&1 &
  EMULATOR_PID=$!
  for _ in $(seq 200); do [ -s "$WORK/imds.port" ] && break; sleep 0.02; done
  IMDS_URL="http://127.0.0.1:$(cat "$WORK/imds.port")"
}

# start_server NAME SCRIPT [ARGS...]: tests/support/SCRIPT (an emulator taking --port 0
# --port-file F) under Debian's python3 (botocore), on an ephemeral port; sets ${NAME}_URL and
# ${NAME}_PID; stopped by cleanup_e2e (or stop_server NAME).
start_server() {
  local name=$1 script=$2
  shift 2
  rm -f "$WORK/$name.port"
  /usr/bin/python3 "$REPO/tests/support/$script" --port 0 --port-file "$WORK/$name.port" "$@" \
    >"$WORK/$name.log" 2>&1 &
  local pid=$!
  SERVER_PIDS+=("$pid")
  for _ in $(seq 300); do [ -s "$WORK/$name.port" ] && break; sleep 0.02; done
  printf -v "${name}_URL" 'http://127.0.0.1:%s' "$(cat "$WORK/$name.port")"
  printf -v "${name}_PID" '%s' "$pid"
}
stop_server() {
  local pid_var="${1}_PID"
  [ -n "${!pid_var:-}" ] && kill "${!pid_var}" 2>/dev/null && wait "${!pid_var}" 2>/dev/null
  printf -v "$pid_var" '%s' ""
}

# post_control URL JSON: posts one control action to an emulator (never through a proxy).
post_control() {
  "$PY" - "$1" "$2" <<'PYEOF'
import sys, urllib.request
req = urllib.request.Request(sys.argv[1], data=sys.argv[2].encode(), method="POST",
                             headers={"Content-Type": "application/json"})
urllib.request.build_opener(urllib.request.ProxyHandler({})).open(req, timeout=5).read()
PYEOF
}
# get_stat URL PYEXPR: evaluates PYEXPR over the JSON at URL (an emulator's /_stats, as `s`).
get_stat() {
  "$PY" - "$1" "$2" <<'PYEOF'
import json, sys, urllib.request
s = json.load(urllib.request.build_opener(urllib.request.ProxyHandler({})).open(sys.argv[1], timeout=5))
print(json.dumps(eval(sys.argv[2], {"s": s})))
PYEOF
}
equals() { [ "$1" = "$2" ] || { echo "    (got $1, expected $2)"; return 1; }; }

# imds_control JSON: posts to the IMDS emulator's control plane.
imds_control() { post_control "$IMDS_URL/_control" "$1"; }
imds_stat() { get_stat "$IMDS_URL/_stats" "$1"; }

# role_doc N: the instance-profile document IMDS serves for the AWS emulators' role key N;
# give_role N makes the IMDS emulator serve it for the role eks-node-role.
role_doc() {
  printf '{"Code":"Success","LastUpdated":"2024-05-01T12:00:00Z","Type":"AWS-HMAC","AccessKeyId":"ASIAEMULATORROLE000%s","SecretAccessKey":"role-secret-key-0000000000000000000000000%s","Token":"role-session-token-%s","Expiration":"2099-01-01T00:00:00Z"}' "$1" "$1" "$1"
}
json_str() { "$PY" -c 'import json,sys; print(json.dumps(sys.argv[1]))' "$1"; }
give_role() {
  imds_set "{\"latest/meta-data/iam/security-credentials/eks-node-role\": $(json_str "$(role_doc "$1")")}"
}

imds_set() { imds_control "{\"action\":\"set_values\",\"values\":$1}"; }
imds_reset() { imds_control '{"action":"reset"}'; }

# new_root NAME [VCPUS]: a scratch root with the build-time facts a node has.
new_root() {
  local r="$WORK/$1"
  mkdir -p "$r/etc/eks" "$r/sys/devices/system/cpu"
  echo "v1.30.4-eks-1234567" >"$r/etc/eks/kubelet-version.txt"
  echo "0-$(( ${2:-2} - 1 ))" >"$r/sys/devices/system/cpu/online"
  echo "$r"
}

# al2023_root NAME [KUBELET-VERSION]: a scratch root with AL2023's os-release, kubelet version
# file and credential provider binary.
al2023_root() {
  local r
  r=$(new_root "$1")
  printf 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n' >"$r/etc/os-release"
  echo "${2:-v1.31.2-eks-1234567}" >"$r/etc/eks/kubelet-version.txt"
  mkdir -p "$r/etc/eks/image-credential-provider"
  printf '#!/bin/sh\n' >"$r/etc/eks/image-credential-provider/ecr-credential-provider"
  chmod 755 "$r/etc/eks/image-credential-provider/ecr-credential-provider"
  echo "$r"
}
# set_user_data FILE: the IMDS emulator serves FILE's bytes (binary safe) as latest/user-data.
set_user_data() {
  imds_control "$("$PY" -c 'import base64,json,sys; print(json.dumps({"action": "set_values", "encoding": "base64",
    "values": {"latest/user-data": base64.b64encode(open(sys.argv[1], "rb").read()).decode()}}))' "$1")"
}

CA_PEM=$(printf -- '-----BEGIN CERTIFICATE-----\nMIIBdummyCAforTests\n-----END CERTIFICATE-----\n')
CA_B64=$(printf '%s\n' "$CA_PEM" | base64 -w0)
ENDPOINT=https://ABCDEF0123456789.gr7.us-west-2.eks.amazonaws.com

# agent ROOT ARGS...: runs the agent into ROOT against the emulator; stdout/stderr/rc in $WORK.
agent() {
  local root=$1
  shift
  "$AGENT" --root "$root" --imds-endpoint "$IMDS_URL" "$@" >"$WORK/out" 2>"$WORK/err"
  RC=$?
  return 0
}

ok() { PASSED=$((PASSED + 1)); echo "ok - $1"; }
not_ok() {
  FAILED=$((FAILED + 1))
  echo "not ok - $1: $2"
  sed 's/^/    stderr: /' "$WORK/err" 2>/dev/null | tail -15
}
# check NAME CONDITION-COMMAND...
check() {
  local name=$1
  shift
  if "$@"; then ok "$name"; else not_ok "$name" "failed: $*"; fi
}
expect_rc() { [ "$RC" -eq "$1" ] || { echo "    (rc was $RC, expected $1)"; return 1; }; }
contains() { grep -qF -- "$2" "$1" || { echo "    ($1 lacks: $2)"; return 1; }; }
lacks() { ! grep -qF -- "$2" "$1" || { echo "    ($1 has: $2)"; return 1; }; }
# json_eq FILE PYEXPR EXPECTED: evaluates PYEXPR over the JSON in FILE (as `d`), compares as JSON.
json_eq() {
  "$PY" - "$@" <<'PYEOF'
import json, sys
d = json.load(open(sys.argv[1]))
got = eval(sys.argv[2], {"d": d})
want = json.loads(sys.argv[3])
if got != want:
    print(f"    ({sys.argv[2]} = {json.dumps(got)}, expected {sys.argv[3]})")
    sys.exit(1)
PYEOF
}
# snapshot ROOT: path, inode, mtime (ns) and sha256 of every file under ROOT except /run.
snapshot() {
  (cd "$1" && find . -path ./run -prune -o \( -type f -o -type l \) -print | sort | while read -r f; do
    printf '%s %s %s\n' "$f" "$(stat -c '%i %.9Y' "$f")" "$( [ -L "$f" ] && readlink "$f" || sha256sum <"$f" | cut -c1-16)"
  done)
}

finish() {
  echo "$PASSED passed, $FAILED failed"
  [ "$FAILED" -eq 0 ]
}
