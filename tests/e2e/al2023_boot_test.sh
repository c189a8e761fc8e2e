#!/bin/bash
# The AL2023 layout on a real systemd: PID 1 of a throw-away systemd-nspawn container
# (tests/e2e/with-systemd.sh) made to look like Amazon Linux 2023 (/etc/os-release, the
# credential provider binary, no kubelet.service of its own), with the project's IMDS emulator
# and a fake kubelet that records its argv. Usage (as root; ctest "e2e_al2023_boot"):
#   tests/e2e/al2023_boot_test.sh PATH/TO/eks-node-agent
#
# Flows and what is asserted:
#   n   nodeadm's two units (nodeadm-config, nodeadm-run) enabled and started by their dependencies,
#       NodeConfig user data through the `nodeadm` link: config before run, the cache and the marker,
#       kubelet active (not enabled) with the NodeConfig's flags; a second boot changes nothing and
#       restarts nothing; a drop-in in /etc/eks/nodeadm.d/ reaches kubelet through the run phase
#   s   AL2 user data on the AL2023 image (/etc/eks/bootstrap.sh my-cluster ... --kubelet-extra-args):
#       nodeadm's files, kubelet.service active with NODEADM_KUBELET_ARGS on its command line
#   r   a second run changes nothing: same files, inodes and mtimes; kubelet not restarted
#   c   a changed extra arg restarts kubelet exactly once, containerd not at all
set -u

source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/node_lib.sh"
in_systemd "$@"

# ---------------------------------------------------------------------------------------------- inside
AGENT_BUILD=$1
PY=/usr/bin/python3

# --- the node: an AL2023-like root ----------------------------------------------------------------
install_binaries "$AGENT_BUILD"
mkdir -p /etc/eks/image-credential-provider
cp "$REPO/config/bootstrap.sh" /etc/eks/bootstrap.sh
chmod 755 /etc/eks/bootstrap.sh
rm -f /etc/os-release
printf 'NAME="Amazon Linux"\nVERSION="2023"\nID="amzn"\nID_LIKE="fedora"\nVERSION_ID="2023"\n' >/etc/os-release
echo "v1.31.2-eks-1234567" >/etc/eks/kubelet-version.txt
printf '#!/bin/sh\nexit 0\n' >/etc/eks/image-credential-provider/ecr-credential-provider
chmod 755 /etc/eks/image-credential-provider/ecr-credential-provider
rm -f /etc/systemd/system/kubelet.service
printf '[Unit]\nDescription=containerd (e2e stand-in)\n[Service]\nExecStart=/bin/sleep infinity\n' \
  >/etc/systemd/system/containerd.service
systemctl daemon-reload
start_emulator
export AWS_EC2_METADATA_SERVICE_ENDPOINT=$IMDS_URL  # for the scripts, as IMDS would be at 169.254.169.254

ENVF=/etc/eks/kubelet/environment
# user_data EXTRA_ARGS: the AL2 user data script, as an AL2 launch template has it.
user_data() {
  cat >"$WORK/user-data.sh" <<UEOF
#!/bin/bash
set -ex
/etc/eks/bootstrap.sh my-cluster --apiserver-endpoint $ENDPOINT --b64-cluster-ca $CA_B64 \\
  --dns-cluster-ip 10.100.0.10 --kubelet-extra-args '$1'
UEOF
}
run_script() { bash "$WORK/user-data.sh" >"$WORK/out" 2>"$WORK/err"; RC=$?; }

# --- n: nodeadm's two units on boot, NodeConfig user data -----------------------------------------
# The AL2023 image's boot: nodeadm-config.service and nodeadm-run.service enabled (as the AMI
# enables nodeadm's), started as boot starts them (nodeadm-run requires nodeadm-config), reading NodeConfig user data through the
# `nodeadm` link; then a user data script's drop-in in /etc/eks/nodeadm.d/ and nodeadm-run again.
cat >"$WORK/nodeconfig.yaml" <<NEOF
apiVersion: node.eks.aws/v1alpha1
kind: NodeConfig
spec:
  cluster:
    name: n-cluster
    apiServerEndpoint: $ENDPOINT
    certificateAuthority: $CA_B64
    cidr: 10.100.0.0/16
  kubelet:
    flags:
    - --node-labels=boot=nodeadm
  featureGates:
    InstanceIdNodeName: true  # no EC2 here (DescribeInstances is covered by e2e_nodeadm's AWS emulator)
NEOF
imds_set "$("$PY" -c 'import json,sys; print(json.dumps({"latest/user-data": open(sys.argv[1]).read()}))' "$WORK/nodeconfig.yaml")"
for u in nodeadm-config nodeadm-run; do
  cp "$REPO/units/$u.service" /etc/systemd/system/
  mkdir -p "/etc/systemd/system/$u.service.d"
  printf '[Service]\nEnvironment=AWS_EC2_METADATA_SERVICE_ENDPOINT=%s\n' "$IMDS_URL" >"/etc/systemd/system/$u.service.d/50-e2e.conf"
done
mkdir -p /etc/eks/nodeadm.d
systemctl daemon-reload
systemctl enable --quiet nodeadm-config.service nodeadm-run.service
check "n: both units enabled" bash -c '[ "$(systemctl is-enabled nodeadm-config.service nodeadm-run.service | sort -u)" = enabled ]'
# cloud-init's stand-ins record what a user data script would find: cloud-init.service (which runs
# after nodeadm-config) whether config.json is there, cloud-final.service (user scripts; before
# nodeadm-run) whether kubelet is running yet.
cat >/etc/systemd/system/cloud-init.service <<'CEOF'
[Unit]
Description=cloud-init (e2e stand-in)
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'if [ -f /etc/kubernetes/kubelet/config.json ]; then echo config-present; else echo config-missing; fi >/run/e2e-cloud-init.log'
CEOF
cat >/etc/systemd/system/cloud-final.service <<'CEOF'
[Unit]
Description=cloud-final (e2e stand-in: user data scripts)
After=cloud-init.service
[Service]
Type=oneshot
RemainAfterExit=yes
ExecStart=/bin/sh -c 'echo "kubelet-$(systemctl is-active kubelet.service)" >/run/e2e-cloud-final.log'
CEOF
systemctl daemon-reload
# What boot does with them: one transaction; nodeadm-run's Requires= pulls nodeadm-config in, and
# the units' After=/Before= order the four.
systemctl start nodeadm-run.service cloud-init.service cloud-final.service
journalctl -q -u nodeadm-config.service -u nodeadm-run.service -o cat >"$WORK/nodeadm.log"
check "n: nodeadm-config.service succeeded" is nodeadm-config.service Result success
[ "$(prop nodeadm-config.service Result)" = success ] || sed 's/^/    nodeadm: /' "$WORK/nodeadm.log" | tail -20
check "n: nodeadm-run.service succeeded" is nodeadm-run.service Result success
check "n: the config phase ran before the run phase" bash -c \
  '[ "$(systemctl show -p ExecMainExitTimestampMonotonic --value nodeadm-config.service)" -le "$(systemctl show -p ExecMainStartTimestampMonotonic --value nodeadm-run.service)" ]'
check "n: cloud-init ran after the config phase (config.json was there)" equals "$(cat /run/e2e-cloud-init.log 2>&1)" config-present
check "n: user data scripts ran before the run phase (kubelet not started yet)" equals \
  "$(cat /run/e2e-cloud-final.log 2>&1)" kubelet-inactive
check "n: the run phase started after cloud-final" bash -c \
  '[ "$(systemctl show -p ExecMainExitTimestampMonotonic --value cloud-final.service)" -le "$(systemctl show -p ExecMainStartTimestampMonotonic --value nodeadm-run.service)" ]'
check "n: the config cache" test -s /run/eks/nodeadm/config.json
check "n: the marker /run/nodeadm/init" test -f /run/nodeadm/init
check "n: nodeadm's config.json" json_eq /etc/kubernetes/kubelet/config.json '[d["clusterDNS"], d["maxPods"]]' '[["10.100.0.10"], 29]'
check "n: kubelet.service is active" is kubelet.service ActiveState active
check "n: kubelet.service is not enabled (nodeadm-run starts it every boot)" is kubelet.service UnitFileState disabled
check "n: containerd is active" is containerd.service ActiveState active
wait_for 3 bash -c "journalctl -q -u kubelet.service -o cat | grep -q '^fake-kubelet: started'"
check "n: kubelet's argv ends with the NodeConfig's flags" bash -c \
  "journalctl -q -u kubelet.service -o cat | grep '^fake-kubelet: started' | tail -1 | grep -q -- ' --node-labels=boot=nodeadm$'"
check "n: no log line holds the CA" lacks "$WORK/nodeadm.log" "$CA_B64"

# the same boot again: nothing changes, nothing restarts
node_snapshot >"$WORK/nsnap1"
NINV=$(prop kubelet.service InvocationID)
systemctl restart nodeadm-config.service && systemctl restart nodeadm-run.service
check "n: a second boot's units succeed" is nodeadm-run.service Result success
node_snapshot >"$WORK/nsnap2"
check "n: a second boot changes no file" cmp -s "$WORK/nsnap1" "$WORK/nsnap2"
check "n: ...and does not restart kubelet" equals "$(prop kubelet.service InvocationID)" "$NINV"

# a user data script's drop-in (after the config phase, before the run phase): the run phase
# sees a changed spec, configures again and restarts kubelet with it
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      registryPullQPS: 7\n' \
  >/etc/eks/nodeadm.d/50-user.yaml
systemctl restart nodeadm-run.service
check "n: the drop-in reaches 40-nodeadm.conf" json_eq /etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf 'd["registryPullQPS"]' 7
check "n: kubelet restarted for it" bash -c "[ \"\$(systemctl show -p InvocationID --value kubelet.service)\" != '$NINV' ]"
rm /etc/eks/nodeadm.d/50-user.yaml
systemctl stop kubelet.service

# --- s: AL2 user data on the AL2023 image -----------------------------------------------------------
user_data '--node-labels=team=a --register-with-taints=dedicated=x:NoSchedule'
run_script
check "s: the AL2 script exits 0" expect_rc 0
check "s: the platform is al2023" json_eq /run/eks-node-agent/status.json 'd["values"]["platform"]' '"al2023"'
check "s: nodeadm's config.json" json_eq /etc/kubernetes/kubelet/config.json '[d["kind"], d["clusterDNS"], d["maxPods"]]' \
  '["KubeletConfiguration", ["10.100.0.10"], 29]'
check "s: nodeadm's kubelet.service written (the image had none)" contains /etc/systemd/system/kubelet.service \
  'EnvironmentFile=/etc/eks/kubelet/environment'
check "s: kubelet.service is active" is kubelet.service ActiveState active
check "s: kubelet.service is enabled" is kubelet.service UnitFileState enabled
check "s: containerd is active" is containerd.service ActiveState active
wait_for 3 bash -c "journalctl -q -u kubelet.service -o cat | grep -q '^fake-kubelet: started'"
journalctl -q -u kubelet.service -o cat >"$WORK/kubelet.log"
ARGS=$(sed -n 's/^NODEADM_KUBELET_ARGS=//p' "$ENVF")
check "s: kubelet's argv is NODEADM_KUBELET_ARGS, split at spaces" contains "$WORK/kubelet.log" "fake-kubelet: started with: $ARGS"
check "s: ...starting with nodeadm's flags" contains "$WORK/kubelet.log" \
  "started with: --node-ip=10.0.12.34 --cloud-provider=external --hostname-override=ip-10-0-12-34.us-west-2.compute.internal"
check "s: ...ending with the extra args" bash -c "grep -q -- '--node-labels=team=a --register-with-taints=dedicated=x:NoSchedule$' '$WORK/kubelet.log'"
check "s: the summary line" contains "$WORK/err" "cluster=my-cluster instance=m5.large max-pods=29"

# --- r: a second run changes nothing ----------------------------------------------------------------
node_snapshot >"$WORK/snap1"
INV1=$(prop kubelet.service InvocationID)
run_script
check "r: exit 0" expect_rc 0
node_snapshot >"$WORK/snap2"
check "r: same files, inodes and mtimes" cmp -s "$WORK/snap1" "$WORK/snap2"
check "r: kubelet not restarted" equals "$(prop kubelet.service InvocationID)" "$INV1"

# --- c: a changed extra arg restarts kubelet once, containerd not at all -----------------------------
CINV=$(prop containerd.service InvocationID)
STARTS=$(kubelet_starts)
user_data '--node-labels=team=b'
run_script
check "c: exit 0" expect_rc 0
wait_for 3 bash -c "[ \$(journalctl -q -u kubelet.service -o cat | grep -c '^fake-kubelet: started') -gt $STARTS ]"
check "c: kubelet restarted exactly once" equals "$(kubelet_starts)" "$((STARTS + 1))"
check "c: containerd not restarted" equals "$(prop containerd.service InvocationID)" "$CINV"
check "c: the new args reach kubelet" bash -c "journalctl -q -u kubelet.service -o cat | tail -1 | grep -q -- '--node-labels=team=b$'"

finish
