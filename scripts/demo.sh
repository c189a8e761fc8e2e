#!/bin/bash
# The demo (README "Try it"): installs dependencies, builds, then bootstraps a simulated node into a
# scratch root against the project's IMDS emulator and shows what it wrote and which unit actions
# it took. The scratch root is not a running system, so units are enabled offline (the symlinks
# `systemctl --root` would make) and start/restart are reported as skipped.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
AGENT=$PWD/build/eks-node-agent
DEMO=$(mktemp -d /tmp/eks-node-agent-demo.XXXXXX)
python3 tests/support/imds_emulator.py --port 0 --port-file "$DEMO/imds.port" >"$DEMO/imds.log" 2>&1 &
EMU=$!
trap 'kill $EMU 2>/dev/null' EXIT
for _ in $(seq 200); do [ -s "$DEMO/imds.port" ] && break; sleep 0.02; done
IMDS="http://127.0.0.1:$(cat "$DEMO/imds.port")"
ROOT=$DEMO/root
mkdir -p "$ROOT/etc/eks"
echo "v1.30.4-eks-a1b2c3d" >"$ROOT/etc/eks/kubelet-version.txt"   # what build mode leaves behind
CA=$(printf -- '-----BEGIN CERTIFICATE-----\nMIIC/demo/certificate\n-----END CERTIFICATE-----\n' | base64 -w0)
ARGS=(--root "$ROOT" --imds-endpoint "$IMDS" --cluster demo-cluster
      --apiserver-endpoint https://0123456789ABCDEF.gr7.us-west-2.eks.amazonaws.com --b64-cluster-ca "$CA"
      --kubelet-extra-args '--node-labels=team=demo --register-with-taints=dedicated=demo:NoSchedule')

section() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
section "IMDS emulator at $IMDS (an m5.large in us-west-2); scratch root $ROOT"
section "1. dry run: the plan, as diffs against the empty root"
"$AGENT" "${ARGS[@]}" --dry-run >"$DEMO/plan.txt"
head -60 "$DEMO/plan.txt"
echo "   ... ($(wc -l <"$DEMO/plan.txt") lines in all: $DEMO/plan.txt)"
section "2. bootstrap"
"$AGENT" "${ARGS[@]}"
section "3. files written"
(cd "$ROOT" && find . -path ./run -prune -o \( -type f -o -type l \) -print | sort | sed 's|^\.||')
section "/etc/kubernetes/kubelet/kubelet-config.json (computed keys)"
python3 -c 'import json,sys; d=json.load(open(sys.argv[1])); print(json.dumps({k: d[k] for k in ["cgroupDriver","clusterDNS","evictionHard","kubeReserved","maxPods","providerID","systemReservedCgroup","kubeReservedCgroup"]}, indent=2))' "$ROOT/etc/kubernetes/kubelet/kubelet-config.json"
section "kubelet.service drop-ins"
cat "$ROOT"/etc/systemd/system/kubelet.service.d/*.conf
section "4. status (eks-node-agent status)"
"$AGENT" status --root "$ROOT" || true
section "5. second run: converges, nothing rewritten, nothing restarted"
"$AGENT" "${ARGS[@]}"
echo
echo "Demo root kept at $ROOT"
