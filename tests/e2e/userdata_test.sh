#!/bin/bash
# End-to-end: NodeConfig user data. The agent binary runs with --config-source imds://user-data
# (and drop-in directories) against the IMDS emulator serving user data in the shapes Karpenter,
# eksctl and bootstrap.sh users write, into scratch roots; the written files are checked.
#   usage: userdata_test.sh /path/to/eks-node-agent
AGENT=${1:?usage: userdata_test.sh /path/to/eks-node-agent}
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KCFG=/etc/kubernetes/kubelet/kubelet-config.json
DROPIN=/etc/kubernetes/kubelet/config.json.d/40-eks-node-agent.conf
ARGS=/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf
DROPIN_DIR=/etc/eks/eks-node-agent.d

clear_user_data() { imds_set '{"latest/user-data": null}'; }

# nodeconfig NAME [EXTRA-SPEC-YAML]: a NodeConfig document for cluster NAME.
nodeconfig() {
  printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: %s\n    apiServerEndpoint: %s\n    certificateAuthority: %s\n    cidr: 10.100.0.0/16\n%s' \
    "$1" "$ENDPOINT" "$CA_B64" "${2:-}"
}

# Karpenter's AL2023 user data: the user's shell part first, Karpenter's NodeConfig last.
karpenter_al2023() {
  printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n--//\nContent-Type: text/x-shellscript; charset="us-ascii"\n\n#!/bin/bash\necho "hello from the user"\n\n--//\nContent-Type: application/node.eks.aws\n\n# Karpenter Generated NodeConfig\n'
  nodeconfig karpenter-cluster "  kubelet:
    config:
      maxPods: 110
      registryPullQPS: 10
      evictionHard:
        memory.available: 5%
    flags:
    - --node-labels=karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default
"
  printf '\n--//--\n'
}

# Karpenter's AL2 user data: one shell part that calls bootstrap.sh.
karpenter_al2() {
  printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n--//\nContent-Type: text/x-shellscript; charset="us-ascii"\n\n#!/bin/bash -xe\nexec > >(tee /var/log/user-data.log|logger -t user-data -s 2>/dev/console) 2>&1\n/etc/eks/bootstrap.sh %s --apiserver-endpoint %s --b64-cluster-ca %s --use-max-pods false\n--//--\n' \
    al2-cluster "$ENDPOINT" "$CA_B64"
}

ud_agent() { agent "$1" --config-source imds://user-data "${@:2}"; }
boot_agent() { agent "$1" --config-source imds://user-data --config-source "file://$DROPIN_DIR/" "${@:2}"; }
kubeconfig_has() { contains "$1/var/lib/kubelet/kubeconfig" "$2"; }
no_file() { [ ! -e "$1" ] || { echo "    ($1 exists)"; return 1; }; }

start_emulator
mkdir -p "$WORK/ud"

# --- Karpenter AL2023 MIME, kubelet 1.30: the user's kubelet config is a drop-in -------------------
karpenter_al2023 >"$WORK/ud/karpenter-al2023"
set_user_data "$WORK/ud/karpenter-al2023"
R=$(new_root k-al2023)
ud_agent "$R"
check "karpenter AL2023: exit 0" expect_rc 0
check "karpenter AL2023: kubeconfig names the cluster" kubeconfig_has "$R" karpenter-cluster
check "karpenter AL2023: kubeconfig names the endpoint" kubeconfig_has "$R" "$ENDPOINT"
check "karpenter AL2023: CA decoded" contains "$R/etc/kubernetes/pki/ca.crt" "BEGIN CERTIFICATE"
check "karpenter AL2023: clusterDNS from cidr" json_eq "$R$KCFG" 'd["clusterDNS"]' '["10.100.0.10"]'
check "karpenter AL2023: maxPods follows the NodeConfig" json_eq "$R$KCFG" 'd["maxPods"]' 110
check "karpenter AL2023: kubeReserved memory is the ENI-based m5.large value (29 pods), as Karpenter assumes" \
  json_eq "$R$KCFG" 'd["kubeReserved"]["memory"]' '"574Mi"'
check "karpenter AL2023: drop-in has the user's fields" json_eq "$R$DROPIN" \
  '[d["kind"], d["apiVersion"], d["maxPods"], d["registryPullQPS"], d["evictionHard"]]' \
  '["KubeletConfiguration", "kubelet.config.k8s.io/v1beta1", 110, 10, {"memory.available": "5%"}]'
check "karpenter AL2023: main config keeps the agent's evictionHard" json_eq "$R$KCFG" \
  'd["evictionHard"]["memory.available"]' '"100Mi"'
check "karpenter AL2023: --config-dir passed" contains "$R$ARGS" "--config-dir=/etc/kubernetes/kubelet/config.json.d"
check "karpenter AL2023: kubelet.flags after the agent's flags" grep -q -- \
  "--cloud-provider=external --config-dir=/etc/kubernetes/kubelet/config.json.d --node-labels=karpenter.sh/capacity-type=on-demand,karpenter.sh/nodepool=default'" "$R$ARGS"
check "karpenter AL2023: no alpha gate on 1.30" lacks "$R$ARGS" KUBELET_CONFIG_DROPIN_DIR_ALPHA
check "karpenter AL2023: status names the document source" contains "$R/run/eks-node-agent/status.json" \
  "spec.cluster.name (imds://user-data, MIME part 2 (application/node.eks.aws))"
check "karpenter AL2023: the shell part is reported as skipped" contains "$WORK/err" "MIME part 1 (text/x-shellscript): skipped"
BEFORE=$(snapshot "$R")
ud_agent "$R"
check "karpenter AL2023: second run exit 0" expect_rc 0
check "karpenter AL2023: second run changes nothing" contains "$WORK/err" 'files changed=0/'
AFTER=$(snapshot "$R")
check "karpenter AL2023: same bytes, inodes, mtimes" [ "$BEFORE" = "$AFTER" ]

# --- the same user data gzip'd, and base64 of gzip ------------------------------------------------
gzip -9 -c "$WORK/ud/karpenter-al2023" >"$WORK/ud/karpenter.gz"
set_user_data "$WORK/ud/karpenter.gz"
R=$(new_root k-gzip)
ud_agent "$R"
check "gzip'd MIME: exit 0" expect_rc 0
check "gzip'd MIME: kubeconfig names the cluster" kubeconfig_has "$R" karpenter-cluster
check "gzip'd MIME: drop-in written" json_eq "$R$DROPIN" 'd["maxPods"]' 110
base64 -w 76 "$WORK/ud/karpenter.gz" >"$WORK/ud/karpenter.gz.b64"
set_user_data "$WORK/ud/karpenter.gz.b64"
R=$(new_root k-b64)
ud_agent "$R"
check "base64+gzip+MIME: exit 0" expect_rc 0
check "base64+gzip+MIME: kubeconfig names the cluster" kubeconfig_has "$R" karpenter-cluster
check "base64+gzip+MIME: layers reported" contains "$WORK/err" "decoded base64 then gzip"

# --- eksctl AL2023 (CRLF, unquoted boundary), bare YAML, bare JSON --------------------------------
{
  printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary=//\n\n--//\nContent-Type: text/x-shellscript\n\n#!/bin/bash\nyum install -y htop\n--//\nContent-Type: application/node.eks.aws\n\n'
  nodeconfig eksctl-cluster "  kubelet:
    flags:
    - --node-labels=alpha.eksctl.io/cluster-name=eksctl-cluster,alpha.eksctl.io/nodegroup-name=ng-1
"
  printf '\n--//--\n'
} | sed 's/$/\r/' >"$WORK/ud/eksctl"
set_user_data "$WORK/ud/eksctl"
R=$(new_root eksctl)
ud_agent "$R"
check "eksctl CRLF MIME: exit 0" expect_rc 0
check "eksctl CRLF MIME: kubeconfig names the cluster" kubeconfig_has "$R" eksctl-cluster
check "eksctl CRLF MIME: no drop-in without kubelet.config" no_file "$R$DROPIN"
check "eksctl CRLF MIME: no --config-dir without kubelet.config" lacks "$R$ARGS" "--config-dir"
check "eksctl CRLF MIME: labels reach kubelet" contains "$R$ARGS" "alpha.eksctl.io/nodegroup-name=ng-1"
nodeconfig bare-yaml >"$WORK/ud/bare.yaml"
set_user_data "$WORK/ud/bare.yaml"
R=$(new_root bare)
ud_agent "$R"
check "bare YAML: exit 0" expect_rc 0
check "bare YAML: kubeconfig names the cluster" kubeconfig_has "$R" bare-yaml

# --- spec.instance.network: a systemd-resolved drop-in where resolved is installed --------------------
nodeconfig dns-cluster "  instance:
    network:
      nameservers: [10.0.0.2, 10.0.0.3]
      domains: [corp.example]
" >"$WORK/ud/dns.yaml"
set_user_data "$WORK/ud/dns.yaml"
R=$(new_root dns)
mkdir -p "$R/usr/lib/systemd/system" && printf '[Unit]\nDescription=resolver\n[Service]\nExecStart=/bin/true\n' \
  >"$R/usr/lib/systemd/system/systemd-resolved.service"
ud_agent "$R" --service-manager offline
check "instance.network: exit 0" expect_rc 0
check "instance.network: nodeadm's drop-in" equals "$(cat "$R/run/systemd/resolved.conf.d/40-eks.conf")" "$(printf '[Resolve]\nDNS=10.0.0.2 10.0.0.3\nDomains=corp.example')"
R=$(new_root dns-al2)
ud_agent "$R"
check "instance.network without systemd-resolved: exit 0" expect_rc 0
check "instance.network without systemd-resolved: warned" contains "$WORK/err" "spec.instance.network is not applied"
check "instance.network without systemd-resolved: nothing written" no_file "$R/run/systemd/resolved.conf.d/40-eks.conf"

# --- spec.kubelet.maxPodsExpression (m5.large in the emulator: 3 ENIs x 10 IPv4, table 29) ---------
nodeconfig expr-cluster "  kubelet:
    maxPodsExpression: \"(default_enis - 1) * (ips_per_eni - 1) + 2\"
" >"$WORK/ud/expr.yaml"
set_user_data "$WORK/ud/expr.yaml"
R=$(new_root expr)
ud_agent "$R"
check "maxPodsExpression: exit 0" expect_rc 0
check "maxPodsExpression: maxPods is the expression's value" json_eq "$R$KCFG" 'd["maxPods"]' 20
check "maxPodsExpression: kubeReserved memory follows it" json_eq "$R$KCFG" 'd["kubeReserved"]["memory"]' '"475Mi"'
nodeconfig expr-bad "  kubelet:
    maxPodsExpression: default_enis + fake_variable
" >"$WORK/ud/expr-bad.yaml"
set_user_data "$WORK/ud/expr-bad.yaml"
R=$(new_root expr-bad)
ud_agent "$R"
check "maxPodsExpression: a typo is refused before anything is written (exit 3)" expect_rc 3
check "maxPodsExpression: ... naming the line and the undeclared name" contains "$WORK/err" "fake_variable"
check "maxPodsExpression: ... nothing written" no_file "$R$KCFG"

# --- AL2 user data (a shell script calling bootstrap.sh): nothing to do ----------------------------
karpenter_al2 >"$WORK/ud/karpenter-al2"
set_user_data "$WORK/ud/karpenter-al2"
R=$(new_root al2)
boot_agent "$R"
check "AL2 shell user data: exit 0" expect_rc 0
check "AL2 shell user data: says so" contains "$WORK/out" "no NodeConfig in user data; nothing to do"
check "AL2 shell user data: no kubeconfig written" no_file "$R/var/lib/kubelet/kubeconfig"
check "AL2 shell user data: status says nothing-to-do" json_eq "$R/run/eks-node-agent/status.json" 'd["result"]' '"nothing-to-do"'
# bootstrap.sh calling the agent under that name, with the same user data source: flags do the work.
ud_agent "$R" --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" al2-cluster
check "AL2 shell user data + flags: exit 0" expect_rc 0
check "AL2 shell user data + flags: kubeconfig from the flags" kubeconfig_has "$R" al2-cluster
clear_user_data
R=$(new_root no-ud)
boot_agent "$R"
check "no user data at all (404): exit 0, nothing to do" contains "$WORK/out" "nothing to do"

# --- drop-in directory overrides user data --------------------------------------------------------
set_user_data "$WORK/ud/karpenter-al2023"
R=$(new_root dropin)
mkdir -p "$R$DROPIN_DIR"
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 42\n    flags: [--v=4]\n' \
  >"$R$DROPIN_DIR/50-max-pods.yaml"
echo 'not: a NodeConfig drop-in, ignored by name' >"$R$DROPIN_DIR/README.md"
boot_agent "$R"
check "drop-in: exit 0" expect_rc 0
check "drop-in: maxPods from the drop-in" json_eq "$R$DROPIN" '[d["maxPods"], d["registryPullQPS"]]' '[42, 10]'
check "drop-in: kubeReserved memory stays ENI-based" json_eq "$R$KCFG" 'd["kubeReserved"]["memory"]' '"574Mi"'
check "drop-in: flags appended after user data's" grep -q -- "nodepool=default --v=4'" "$R$ARGS"
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nmetadata:\n  annotations:\n    node-agent.eks.aws/kube-reserved-max-pods: effective\nspec: {}\n' \
  >"$R$DROPIN_DIR/60-reserve.yaml"
boot_agent "$R"
check "annotation opt-in: exit 0" expect_rc 0
check "annotation opt-in: kubeReserved memory follows the drop-in's 42 pods" json_eq "$R$KCFG" 'd["kubeReserved"]["memory"]' '"717Mi"'

# --- command-line flags win over the document -----------------------------------------------------
R=$(new_root flags)
OTHER=https://FLAGWINS0000000.gr7.us-west-2.eks.amazonaws.com
ud_agent "$R" --apiserver-endpoint "$OTHER" --kubelet-extra-args '--max-pods=20' --dns-cluster-ip 172.20.0.10 flag-cluster
check "flags win: exit 0" expect_rc 0
check "flags win: cluster name" kubeconfig_has "$R" flag-cluster
check "flags win: endpoint" kubeconfig_has "$R" "$OTHER"
check "flags win: --dns-cluster-ip" json_eq "$R$KCFG" 'd["clusterDNS"]' '["172.20.0.10"]'
check "flags win: max pods from the extra args, kubeReserved ENI-based" json_eq "$R$KCFG" '[d["maxPods"], d["kubeReserved"]["memory"]]' '[20, "574Mi"]'
check "flags win: override is reported" contains "$WORK/err" "spec.cluster.apiServerEndpoint is overridden by --apiserver-endpoint"
check "flags win: extra args after the document's flags" contains "$R/etc/systemd/system/kubelet.service.d/30-kubelet-extra-args.conf" "--max-pods=20"

# --- validation errors name the source, the part, the line ------------------------------------------
{
  printf 'MIME-Version: 1.0\nContent-Type: multipart/mixed; boundary="//"\n\n--//\nContent-Type: text/x-shellscript\n\n#!/bin/bash\n--//\nContent-Type: application/node.eks.aws\n\n'
  printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: x\n    enableOutpost: maybe\n'
  printf -- '--//--\n'
} >"$WORK/ud/bad-field"
set_user_data "$WORK/ud/bad-field"
R=$(new_root bad)
ud_agent "$R"
check "bad field: exit 3" expect_rc 3
check "bad field: names source, part, line, column" contains "$WORK/err" \
  "imds://user-data, MIME part 2 (application/node.eks.aws), line 6, column 5: spec.cluster.enableOutpost must be true or false, not 'maybe'"
check "bad field: nothing written" no_file "$R/var/lib/kubelet/kubeconfig"
{
  printf 'Content-Type: multipart/mixed; boundary=B\n\n--B\nContent-Type: application/node.eks.aws\n\n'
  printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: x\n/etc/eks/bootstrap.sh x\n'
  printf -- '--B--\n'
} >"$WORK/ud/bad-yaml"
set_user_data "$WORK/ud/bad-yaml"
ud_agent "$R"
check "bad YAML: exit 3" expect_rc 3
check "bad YAML: names the part and the line" grep -q "imds://user-data, MIME part 1 (application/node.eks.aws): line [0-9]*, column [0-9]*:" "$WORK/err"
nodeconfig plain | grep -v cidr >"$WORK/ud/no-cidr"
set_user_data "$WORK/ud/no-cidr"
ud_agent "$R"
check "missing cidr: exit 3" expect_rc 3
check "missing cidr: says what is missing" contains "$WORK/err" "spec.cluster.cidr is required unless --dns-cluster-ip is given"
check "missing cidr: names where the cluster section is" contains "$WORK/err" "imds://user-data, line 4, column 3:"
ud_agent "$R" --dns-cluster-ip 10.100.0.10
check "missing cidr + --dns-cluster-ip: exit 0" expect_rc 0

# --- kubelet 1.27: the user's kubelet config is merged into the main file --------------------------
set_user_data "$WORK/ud/karpenter-al2023"
R=$(new_root k127)
echo "v1.27.16-eks-1234567" >"$R/etc/eks/kubelet-version.txt"
ud_agent "$R"
check "1.27: exit 0" expect_rc 0
check "1.27: user fields merged into the main file" json_eq "$R$KCFG" \
  '[d["maxPods"], d["registryPullQPS"], d["evictionHard"]["memory.available"], d["evictionHard"]["nodefs.available"]]' \
  '[110, 10, "5%", "10%"]'
check "1.27: no drop-in" no_file "$R$DROPIN"
check "1.27: no --config-dir" lacks "$R$ARGS" "--config-dir"
# Moving to 1.30 on the same root: the drop-in appears; back to 1.27 removes it again.
echo "v1.29.6-eks-1234567" >"$R/etc/eks/kubelet-version.txt"
ud_agent "$R"
check "1.29: drop-in written" json_eq "$R$DROPIN" 'd["maxPods"]' 110
check "1.29: alpha gate for the drop-in dir" contains "$R$ARGS" "KUBELET_CONFIG_DROPIN_DIR_ALPHA=on"
echo "v1.27.16-eks-1234567" >"$R/etc/eks/kubelet-version.txt"
ud_agent "$R"
check "back to 1.27: stale drop-in removed" no_file "$R$DROPIN"

# --- containerd config, base runtime spec, environment, InstanceIdNodeName ---------------------------
nodeconfig extras "  containerd:
    config: |
      [plugins.\"io.containerd.grpc.v1.cri\".containerd]
      discard_unpacked_layers = false
    baseRuntimeSpec:
      process:
        rlimits:
        - type: RLIMIT_NOFILE
          soft: 1024
          hard: 1024
  instance:
    environment:
      default:
        HTTPS_PROXY: http://proxy.internal:3128
      kubelet:
        GODEBUG: x509sha1=1
  featureGates:
    InstanceIdNodeName: true
" >"$WORK/ud/extras"
set_user_data "$WORK/ud/extras"
R=$(new_root extras)
ud_agent "$R"
check "extras: exit 0" expect_rc 0
check "extras: containerd TOML merged over ours" contains "$R/etc/containerd/config.toml" "discard_unpacked_layers = false"
check "extras: containerd keeps our sandbox image" contains "$R/etc/containerd/config.toml" "sandbox_image"
check "extras: runc points at the base runtime spec" contains "$R/etc/containerd/config.toml" "base_runtime_spec = '/etc/containerd/base-runtime-spec.json'"
check "extras: base runtime spec merged (rlimits replaced, rest kept)" json_eq "$R/etc/containerd/base-runtime-spec.json" \
  '[d["process"]["rlimits"], d["ociVersion"], d["process"]["noNewPrivileges"]]' \
  '[[{"type": "RLIMIT_NOFILE", "soft": 1024, "hard": 1024}], "1.1.0", true]'
check "extras: default environment" contains "$R/etc/systemd/system.conf.d/40-eks-node-agent-environment.conf" \
  "DefaultEnvironment='HTTPS_PROXY=http://proxy.internal:3128'"
check "extras: kubelet environment" contains "$R/etc/systemd/system/kubelet.service.d/40-eks-node-agent-environment.conf" \
  "Environment='GODEBUG=x509sha1=1'"
check "extras: node named after the instance id" contains "$R$ARGS" "--hostname-override=i-0123456789abcdef0"

# --- config check and config dump -----------------------------------------------------------------
set_user_data "$WORK/ud/karpenter-al2023"
R=$(new_root cfg)
mkdir -p "$R$DROPIN_DIR"
printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  kubelet:\n    config:\n      maxPods: 42\n  clustr: {}\n' \
  >"$R$DROPIN_DIR/50-max-pods.yaml"
"$AGENT" config check --root "$R" --imds-endpoint "$IMDS_URL" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "config check: valid, exit 0" expect_rc 0
check "config check: says valid" contains "$WORK/out" "is valid (1 warning)"
check "config check: unknown field warned with its place" contains "$WORK/err" \
  "file://$DROPIN_DIR/50-max-pods.yaml, line 7, column 3: unknown field spec.clustr (ignored)"
"$AGENT" config dump --root "$R" --imds-endpoint "$IMDS_URL" >"$WORK/dump.json" 2>"$WORK/err"; RC=$?
check "config dump: exit 0" expect_rc 0
check "config dump: merged values" json_eq "$WORK/dump.json" '[d["kind"], d["spec"]["cluster"]["name"], d["spec"]["kubelet"]["config"]["maxPods"]]' \
  '["NodeConfig", "karpenter-cluster", 42]'
check "config dump: sources per field" json_eq "$WORK/dump.json" \
  '[d["metadata"]["annotations"]["node-agent.eks.aws/source.spec.cluster.name"].split(", line")[0], d["metadata"]["annotations"]["node-agent.eks.aws/source.spec.kubelet.config"].split(", line")[0]]' \
  "[\"imds://user-data, MIME part 2 (application/node.eks.aws)\", \"file://$DROPIN_DIR/50-max-pods.yaml\"]"
"$AGENT" config dump --root "$R" --imds-endpoint "$IMDS_URL" --cluster from-flag >"$WORK/dump.json" 2>"$WORK/err"
check "config dump: a flag that wins is named" json_eq "$WORK/dump.json" \
  '[d["spec"]["cluster"]["name"], d["metadata"]["annotations"]["node-agent.eks.aws/source.spec.cluster.name"]]' '["from-flag", "--cluster"]'
set_user_data "$WORK/ud/bad-field"
"$AGENT" config check --root "$R" --imds-endpoint "$IMDS_URL" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "config check: invalid, exit 3" expect_rc 3
check "config check: names part and line" contains "$WORK/err" "MIME part 2 (application/node.eks.aws), line 6, column 5"
set_user_data "$WORK/ud/karpenter-al2"
"$AGENT" config check --root "$(new_root cfg2)" --imds-endpoint "$IMDS_URL" >"$WORK/out" 2>"$WORK/err"; RC=$?
check "config check: AL2 user data, exit 0" expect_rc 0
check "config check: AL2 user data, nothing to do" contains "$WORK/out" "no NodeConfig in user data; nothing to do"

# --- dry run ----------------------------------------------------------------------------------------
set_user_data "$WORK/ud/karpenter-al2023"
R=$(new_root dry)
ud_agent "$R" --dry-run
check "dry-run: exit 0" expect_rc 0
check "dry-run: shows the drop-in" contains "$WORK/out" "$DROPIN"
check "dry-run: writes nothing" no_file "$R/var/lib/kubelet/kubeconfig"

finish
