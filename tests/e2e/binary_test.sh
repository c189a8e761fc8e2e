#!/bin/bash
# The agent binary end to end: a scratch root (--root), the project's IMDS emulator over loopback
# HTTP, the offline service manager (the scratch root is not a running system). Usage:
#   binary_test.sh PATH/TO/eks-node-agent
set -u
AGENT=$(realpath "$1")
source "$(dirname "$0")/lib.sh"
start_emulator

BASE=(--cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64")

# --- a full bootstrap ---------------------------------------------------------------------------
R=$(new_root full 2)
agent "$R" "${BASE[@]}" --kubelet-extra-args '--node-labels=team=a --register-with-taints=t=v:NoSchedule'
check "bootstrap exits 0" expect_rc 0
K=$R/etc/kubernetes/kubelet/kubelet-config.json
check "clusterDNS from the 10.x VPC CIDR" json_eq "$K" 'd["clusterDNS"]' '["172.20.0.10"]'
check "maxPods from the built-in table (m5.large)" json_eq "$K" 'd["maxPods"]' '29'
check "kubeReserved for 2 vCPUs and 29 pods" json_eq "$K" 'd["kubeReserved"]' '{"cpu":"70m","ephemeral-storage":"1Gi","memory":"574Mi"}'
check "evictionHard" json_eq "$K" 'd["evictionHard"]' '{"memory.available":"100Mi","nodefs.available":"10%","nodefs.inodesFree":"5%"}'
check "providerID" json_eq "$K" 'd["providerID"]' '"aws:///us-west-2a/i-0123456789abcdef0"'
check "cgroupDriver systemd and reserved cgroups" json_eq "$K" '[d["cgroupDriver"], d["systemReservedCgroup"], d["kubeReservedCgroup"]]' '["systemd","/system","/runtime"]'
check "no kubeAPIQPS for kubelet 1.30" json_eq "$K" '"kubeAPIQPS" in d' 'false'
check "template keys preserved" json_eq "$K" '[d["clusterDomain"], d["readOnlyPort"]]' '["cluster.local", 0]'
check "CA decoded" cmp -s <(printf '%s\n' "$CA_PEM") "$R/etc/kubernetes/pki/ca.crt"
check "kubeconfig server and cluster" contains "$R/var/lib/kubelet/kubeconfig" "server: \"$ENDPOINT\""
check "kubeconfig region" contains "$R/var/lib/kubelet/kubeconfig" '- "us-west-2"'
A=$R/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf
check "KUBELET_ARGS as bootstrap.sh writes them" contains "$A" "Environment='KUBELET_ARGS=--node-ip=10.0.12.34 --pod-infra-container-image=602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5 --v=2 --hostname-override=ip-10-0-12-34.us-west-2.compute.internal --cloud-provider=external'"
check "extra args drop-in" contains "$R/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf" "Environment='KUBELET_EXTRA_ARGS=--node-labels=team=a --register-with-taints=t=v:NoSchedule'"
check "containerd sandbox image" contains "$R/etc/containerd/config.toml" 'sandbox_image = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5"'
check "credential provider v1 with public.ecr.aws" json_eq "$R/etc/eks/image-credential-provider/config.json" '[d["apiVersion"], d["providers"][0]["matchImages"][-1]]' '["kubelet.config.k8s.io/v1","public.ecr.aws"]'
check "kubelet.service installed" contains "$R/etc/systemd/system/kubelet.service" 'ExecStart=/usr/bin/kubelet'
check "kubelet enabled offline" test -L "$R/etc/systemd/system/multi-user.target.wants/kubelet.service"
check "bpf mount unit written and enabled" test -L "$R/etc/systemd/system/multi-user.target.wants/sys-fs-bpf.mount"
check "summary line" contains "$WORK/err" 'cluster=my-cluster instance=m5.large max-pods=29 (built-in table) reserved cpu=70m memory=574Mi'
check "status file" json_eq "$R/run/eks-node-agent/status.json" '[d["result"], d["values"]["maxPods"]]' '["configured-offline", 29]'
check "IMDS in 3 round trips" contains "$WORK/err" 'in 3 round trips'
check "no CA body in the logs" lacks "$WORK/err" "MIIBdummyCAforTests"
check "no CA body in the status file" lacks "$R/run/eks-node-agent/status.json" "MIIBdummyCAforTests"

# --- idempotency ------------------------------------------------------------------------------
snapshot "$R" >"$WORK/snap1"
agent "$R" "${BASE[@]}" --kubelet-extra-args '--node-labels=team=a --register-with-taints=t=v:NoSchedule'
snapshot "$R" >"$WORK/snap2"
check "second run exits 0" expect_rc 0
check "second run: same bytes, inodes and mtimes" cmp -s "$WORK/snap1" "$WORK/snap2"
check "second run reports no change" contains "$WORK/err" 'files changed=0/'
check "second run does not reload" json_eq "$R/run/eks-node-agent/status.json" '[a["verb"] for a in d["unitActions"] if a["verb"] in ("reload","restart")]' '[]'

# A changed input rewrites exactly what depends on it.
agent "$R" "${BASE[@]}"
check "dropping the extra args exits 0" expect_rc 0
check "30-kubelet-extra-args.conf removed" test ! -e "$R/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf"
check "only the drop-in changed" json_eq "$R/run/eks-node-agent/status.json" '[f["path"] for f in d["files"] if f["outcome"] not in ("unchanged","kept")]' '["/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf"]'
check "a unit file change reloads systemd" json_eq "$R/run/eks-node-agent/status.json" '[a["verb"] for a in d["unitActions"]][0]' '"reload"'

# --- dry run ------------------------------------------------------------------------------------
D=$(new_root dry 2)
snapshot "$D" >"$WORK/dry1"
agent "$D" "${BASE[@]}" --dry-run
snapshot "$D" >"$WORK/dry2"
check "dry run exits 0" expect_rc 0
check "dry run changes nothing" cmp -s "$WORK/dry1" "$WORK/dry2"
check "dry run writes no status file" test ! -e "$D/run/eks-node-agent/status.json"
check "dry run shows a diff" contains "$WORK/out" '+++ b/etc/kubernetes/kubelet/kubelet-config.json'
check "dry run shows unit actions" contains "$WORK/out" 'start kubelet.service'
check "dry run hides the CA" lacks "$WORK/out" "MIIBdummyCAforTests"
agent "$R" "${BASE[@]}" --use-max-pods false --dry-run
check "dry run diff of a change" contains "$WORK/out" '-  "maxPods": 29,'

# --- bootstrap.sh compatibility -----------------------------------------------------------------
ln -sf "$AGENT" "$WORK/bootstrap.sh"
C=$(new_root compat 2)
"$WORK/bootstrap.sh" --root "$C" --imds-endpoint "$IMDS_URL" --b64-cluster-ca "$CA_B64" \
  --apiserver-endpoint "$ENDPOINT" --use-max-pods false --dns-cluster-ip 10.0.0.10,10.0.0.11 \
  --pause-container-account 123456789012 --pause-container-version 3.10 compat-cluster >"$WORK/out" 2>"$WORK/err"
RC=$?
K=$C/etc/kubernetes/kubelet/kubelet-config.json
check "invoked as bootstrap.sh with a positional cluster name" expect_rc 0
check "use-max-pods false: no maxPods" json_eq "$K" '"maxPods" in d' 'false'
check "use-max-pods false: kubeReserved memory still from max pods" json_eq "$K" 'd["kubeReserved"]["memory"]' '"574Mi"'
check "dns-cluster-ip list" json_eq "$K" 'd["clusterDNS"]' '["10.0.0.10","10.0.0.11"]'
check "pause account and version" contains "$C/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf" '--pod-infra-container-image=123456789012.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.10'
check "no extra-args drop-in without extra args" test ! -e "$C/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf"

E=$(new_root env 2)
USE_MAX_PODS=false KUBELET_EXTRA_ARGS="--node-labels=env=1" SERVICE_IPV4_CIDR=192.168.0.0/16 \
  agent "$E" "${BASE[@]}" --use-max-pods=true
K=$E/etc/kubernetes/kubelet/kubelet-config.json
check "environment variables are read" contains "$E/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf" 'env=1'
check "the flag wins over its environment variable" json_eq "$K" 'd["maxPods"]' '29'
check "--service-ipv4-cidr from the environment" json_eq "$K" 'd["clusterDNS"]' '["192.168.0.10"]'

# --- values that bootstrap.sh got wrong -------------------------------------------------------
M=$(new_root maxpods 4)
agent "$M" "${BASE[@]}" --use-max-pods false --kubelet-extra-args '--node-labels=x=y --max-pods=58 --max-pods=30'
K=$M/etc/kubernetes/kubelet/kubelet-config.json
check "kubeReserved memory is the ENI-based value whatever --max-pods says" json_eq "$K" 'd["kubeReserved"]' '{"cpu":"80m","ephemeral-storage":"1Gi","memory":"574Mi"}'
agent "$M" "${BASE[@]}" --kubelet-extra-args '--max-pods=110' 2>"$WORK/err"
check "Karpenter's --max-pods=110: maxPods 110, memory for the m5.large's 29 pods" json_eq "$K" '[d["maxPods"], d["kubeReserved"]["memory"]]' '[110, "574Mi"]'
check "the summary line says max pods 110 and 574Mi" contains "$WORK/err" 'max-pods=110 (--max-pods in --kubelet-extra-args) reserved cpu=80m memory=574Mi'
agent "$M" "${BASE[@]}" --use-max-pods false --kube-reserved-max-pods effective --kubelet-extra-args '--node-labels=x=y --max-pods=58 --max-pods=30'
check "opt-in: the last --max-pods drives kubeReserved memory" json_eq "$K" 'd["kubeReserved"]' '{"cpu":"80m","ephemeral-storage":"1Gi","memory":"585Mi"}'
agent "$M" "${BASE[@]}" --kubelet-extra-args '--kube-reserved=cpu=1,memory=1Gi --reserved-cpus=0'
check "a user --kube-reserved wins" json_eq "$K" '"kubeReserved" in d' 'false'
check "--reserved-cpus drops the reserved cgroups" json_eq "$K" '["systemReservedCgroup" in d, "kubeReservedCgroup" in d]' '[false, false]'

# --- instance types -----------------------------------------------------------------------------
T=$(new_root types 32)
imds_set '{"latest/meta-data/instance-type": "m5.8xlarge"}'
agent "$T" "${BASE[@]}"
check "m5.8xlarge: 234 pods, 150m cpu" json_eq "$T/etc/kubernetes/kubelet/kubelet-config.json" '[d["maxPods"], d["kubeReserved"]["cpu"], d["kubeReserved"]["memory"]]' '[234, "150m", "2829Mi"]'
printf '# local table\nm5.8xlarge 17\n' >"$T/etc/eks/eni-max-pods.txt"
agent "$T" "${BASE[@]}"
check "/etc/eks/eni-max-pods.txt overrides the built-in table" json_eq "$T/etc/kubernetes/kubelet/kubelet-config.json" 'd["maxPods"]' '17'
rm "$T/etc/eks/eni-max-pods.txt"
imds_set '{"latest/meta-data/instance-type": "x9.large"}'
agent "$T" "${BASE[@]}"
check "unknown type: exits 0" expect_rc 0
check "unknown type: 110 pods and kubeReserved still set" json_eq "$T/etc/kubernetes/kubelet/kubelet-config.json" '[d["maxPods"], d["kubeReserved"]["memory"]]' '[110, "1465Mi"]'
check "unknown type: a logged fallback" contains "$WORK/err" 'MAXPODS_FALLBACK'
imds_reset

# --- IPv6 -------------------------------------------------------------------------------------
V=$(new_root v6 2)
imds_set '{"latest/meta-data/network/interfaces/macs/02:4d:8a:1f:3c:5e/ipv6s": "2001:db8:8:4::2"}'
agent "$V" "${BASE[@]}" --ip-family IPv6 --service-ipv6-cidr fd12:3456:789a::/108
check "ipv6 exits 0" expect_rc 0
check "ipv6 clusterDNS" json_eq "$V/etc/kubernetes/kubelet/kubelet-config.json" 'd["clusterDNS"]' '["fd12:3456:789a::a"]'
check "ipv6 node ip" contains "$V/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf" '--node-ip=2001:db8:8:4::2'
imds_reset

# --- bad input: exit codes, messages, and nothing written -------------------------------------
bad() {  # bad NAME RC MESSAGE ARGS...
  local name=$1 rc=$2 msg=$3
  shift 3
  local B
  B=$(new_root "bad$PASSED$FAILED" 2)
  agent "$B" "$@"
  if [ "$RC" -ne "$rc" ]; then not_ok "$name" "rc $RC, expected $rc"; return; fi
  if ! grep -qF -- "$msg" "$WORK/err"; then not_ok "$name" "stderr lacks '$msg'"; return; fi
  if [ -e "$B/etc/kubernetes" ] || [ -e "$B/var" ]; then not_ok "$name" "files were written"; return; fi
  ok "$name"
}
bad "empty cluster name" 2 "no cluster name" --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" --cluster ""
bad "unknown flag" 2 "unknown option '--bogus'" "${BASE[@]}" --bogus 1
bad "extra positional" 2 "unexpected argument 'two'" --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" one two
bad "flag without value" 2 "--b64-cluster-ca needs a value" --cluster c --b64-cluster-ca
bad "bad --ip-family" 3 "--ip-family must be ipv4 or ipv6, got 'ipv5'" "${BASE[@]}" --ip-family ipv5
bad "ipv6 without a CIDR" 3 "--service-ipv6-cidr" "${BASE[@]}" --ip-family ipv6
bad "ipv4 with an ipv6 CIDR" 3 "--ip-family should be ipv6 when --service-ipv6-cidr is specified" "${BASE[@]}" --ip-family ipv4 --service-ipv6-cidr fd00::/108
bad "bad base64 CA" 3 "--b64-cluster-ca: not valid base64" --cluster c --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca 'not*base64'
bad "docker runtime" 3 "containerd is the only container runtime" "${BASE[@]}" --container-runtime dockerd
bad "bad --use-max-pods" 3 "--use-max-pods must be true or false" "${BASE[@]}" --use-max-pods yes
bad "unreadable --containerd-config-file" 3 "--containerd-config-file /etc/nope.toml: cannot read it" "${BASE[@]}" --containerd-config-file /etc/nope.toml
BT=$(new_root badtoml 2)
printf 'version = 2\n[plugins\nfoo = 1\n' >"$BT/etc/eks/bad.toml"
agent "$BT" "${BASE[@]}" --containerd-config-file /etc/eks/bad.toml
check "malformed TOML: exit 3 naming file and line" bash -c "[ $RC -eq 3 ] && grep -q '/etc/eks/bad.toml: line 2' '$WORK/err'"
check "malformed TOML: nothing written" test ! -e "$BT/etc/kubernetes"
GT=$(new_root goodtoml 2)
printf 'version = 2\n[plugins."io.containerd.grpc.v1.cri"]\nsandbox_image = "SANDBOX_IMAGE"\n' >"$GT/etc/eks/custom.toml"
agent "$GT" "${BASE[@]}" --containerd-config-file /etc/eks/custom.toml
check "--containerd-config-file used with the pause image filled in" contains "$GT/etc/containerd/config.toml" 'sandbox_image = "602401143452.dkr.ecr.us-west-2.amazonaws.com/eks/pause:3.5"'
check "--containerd-config-file does not replace the built-in default" test ! -e "$GT/etc/eks/containerd/containerd-config.toml"
bad "outpost without a cluster id" 3 "--cluster-id is required" "${BASE[@]}" --enable-local-outpost true

# docker-only flags are accepted with a warning.
W=$(new_root warn 2)
agent "$W" "${BASE[@]}" --enable-docker-bridge true --docker-config-json '{}'
check "docker-only flags: exit 0 with warnings" bash -c "[ $RC -eq 0 ] && grep -q 'enable-docker-bridge was set but is ignored' '$WORK/err'"

# --- help, version, IMDS failures ---------------------------------------------------------------
agent "$W" --help
check "--help exits 0" expect_rc 0
check "--help lists bootstrap.sh flags and env vars" contains "$WORK/out" '--kubelet-extra-args VALUE [KUBELET_EXTRA_ARGS]'
# The /etc/eks/bootstrap.sh shim must know which flags take a value (so a value is never taken
# for --kubelet-extra-args): its VALUE_FLAGS list is exactly --help's "--flag VALUE" lines.
sed -nE 's/^  (--[a-z0-9-]+) VALUE.*/\1/p' "$WORK/out" | sort >"$WORK/help-value-flags"
sed -n '/^VALUE_FLAGS="/,/"$/p' "$REPO/config/bootstrap.sh" | tr -d '"' | sed 's/^VALUE_FLAGS=//' |
  tr ' ' '\n' | grep -- '^--' | sort >"$WORK/shim-value-flags"
check "config/bootstrap.sh's VALUE_FLAGS match --help" diff "$WORK/help-value-flags" "$WORK/shim-value-flags"
check "--help has value flags to compare" test "$(wc -l <"$WORK/help-value-flags")" -gt 20
if command -v setpriv >/dev/null; then
  setpriv --reuid=65534 --regid=65534 --clear-groups "$AGENT" --help >/dev/null 2>&1
  check "--help needs no root" test $? -eq 0
fi
U=$(new_root unreachable 2)
"$AGENT" --root "$U" --imds-endpoint http://127.0.0.1:9 --timeout 2 "${BASE[@]}" >"$WORK/out" 2>"$WORK/err"
RC=$?
check "IMDS unreachable: exit 4 naming IMDS" bash -c "[ $RC -eq 4 ] && grep -q 'IMDS' '$WORK/err'"
check "IMDS unreachable: nothing written" test ! -e "$U/etc/kubernetes"

finish
