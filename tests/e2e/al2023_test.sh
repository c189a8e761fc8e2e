#!/bin/bash
# End-to-end: the AL2023 (nodeadm) layout. The binary runs into scratch roots that look like an
# Amazon Linux 2023 image (/etc/os-release), against the IMDS emulator, from bootstrap.sh flags
# (the migration path) and from NodeConfig user data; the files are compared with what
# nodeadm.md says nodeadm writes (expected texts written here from the reference).
#   usage: al2023_test.sh /path/to/eks-node-agent
AGENT=${1:?usage: al2023_test.sh /path/to/eks-node-agent}
AGENT=$(cd "$(dirname "$AGENT")" && pwd)/$(basename "$AGENT")
# shellcheck source=tests/e2e/lib.sh
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"

KCFG=/etc/kubernetes/kubelet/config.json
DROPIN=/etc/kubernetes/kubelet/config.json.d/40-nodeadm.conf
ENVF=/etc/eks/kubelet/environment
CRED_BIN=/etc/eks/image-credential-provider/ecr-credential-provider

nodeconfig() {
  printf 'apiVersion: node.eks.aws/v1alpha1\nkind: NodeConfig\nspec:\n  cluster:\n    name: %s\n    apiServerEndpoint: %s\n    certificateAuthority: %s\n    cidr: 10.100.0.0/16\n%s' \
    "$1" "$ENDPOINT" "$CA_B64" "${2:-}"
}
no_file() { [ ! -e "$1" ] || { echo "    ($1 exists)"; return 1; }; }
same_bytes() { cmp -s "$1" "$2" || { echo "    ($1 differs from the expected text:)"; diff "$2" "$1" | head -20; return 1; }; }
env_args() { sed -n 's/^NODEADM_KUBELET_ARGS=//p' "$1$ENVF"; }
env_has() { [[ " $(env_args "$1") " == *" $2 "* ]] || { echo "    (NODEADM_KUBELET_ARGS lacks $2)"; return 1; }; }
env_ends() { [[ "$(env_args "$1")" == *"$2" ]] || { echo "    (NODEADM_KUBELET_ARGS does not end with $2)"; return 1; }; }

start_emulator

# --- bootstrap.sh user data on an AL2023 image: the migration path ------------------------------
R=$(al2023_root flags)
agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" \
  --dns-cluster-ip 10.100.0.10 --kubelet-extra-args '--node-labels=team=a,tier=web --register-with-taints=dedicated=x:NoSchedule'
check "flags: exit 0" expect_rc 0
check "flags: the platform is al2023 (from /etc/os-release)" json_eq "$R/run/eks-node-agent/status.json" \
  'd["values"]["platform"]' '"al2023"'
check "flags: no AL2 kubelet-config.json" no_file "$R/etc/kubernetes/kubelet/kubelet-config.json"
check "flags: no AL2 KUBELET_ARGS drop-in" no_file "$R/etc/systemd/system/kubelet.service.d/10-kubelet-args.conf"
check "flags: config.json is 4-space JSON without a trailing newline" \
  bash -c '[ "$(tail -c1 "$1")" = "}" ] && grep -q "^    \"address\": \"0.0.0.0\",$" "$1"' _ "$R$KCFG"
check "flags: clusterDNS from --dns-cluster-ip" json_eq "$R$KCFG" 'd["clusterDNS"]' '["10.100.0.10"]'
check "flags: maxPods 29 for the m5.large" json_eq "$R$KCFG" 'd["maxPods"]' 29
check "flags: kubeReserved as nodeadm (70m, 574Mi)" json_eq "$R$KCFG" \
  '[d["kubeReserved"]["cpu"], d["kubeReserved"]["memory"], d["kubeReserved"]["ephemeral-storage"]]' '["70m", "574Mi", "1Gi"]'
check "flags: providerID" json_eq "$R$KCFG" 'd["providerID"]' '"aws:///us-west-2a/i-0123456789abcdef0"'
check "flags: no 1.33+ feature gates on kubelet 1.31" json_eq "$R$KCFG" 'sorted(d["featureGates"])' '["RotateKubeletServerCertificate"]'
check "flags: node-ip" env_has "$R" --node-ip=10.0.12.34
check "flags: hostname-override from IMDS local-hostname, as bootstrap.sh" env_has "$R" \
  --hostname-override=ip-10-0-12-34.us-west-2.compute.internal
check "flags: runtime-cgroups" env_has "$R" --runtime-cgroups=/runtime.slice/containerd.service
check "flags: credential provider flags" env_has "$R" --image-credential-provider-bin-dir=/etc/eks/image-credential-provider
check "flags: the extra args last, verbatim" env_ends "$R" \
  "--node-labels=team=a,tier=web --register-with-taints=dedicated=x:NoSchedule"
check "flags: no --pod-infra-container-image (nodeadm passes none)" lacks "$R$ENVF" pod-infra-container-image
check "flags: the environment file has no trailing newline" bash -c '[ "$(tail -c1 "$1" | od -An -c | tr -d " ")" != "\\n" ]' _ "$R$ENVF"
cat >"$WORK/kubeconfig.expected" <<KEOF
---
apiVersion: v1
kind: Config
clusters:
  - name: kubernetes
    cluster:
      certificate-authority: /etc/kubernetes/pki/ca.crt
      server: $ENDPOINT
current-context: kubelet
contexts:
  - name: kubelet
    context:
      cluster: kubernetes
      user: kubelet
users:
  - name: kubelet
    user:
      exec:
        apiVersion: client.authentication.k8s.io/v1beta1
        command: aws
        args:
          - "eks"
          - "get-token"
          - "--cluster-name"
          - "my-cluster"
          - "--region"
          - "us-west-2"
KEOF
check "flags: kubeconfig is nodeadm's template" same_bytes "$R/var/lib/kubelet/kubeconfig" "$WORK/kubeconfig.expected"
check "flags: CA decoded" contains "$R/etc/kubernetes/pki/ca.crt" "BEGIN CERTIFICATE"
check "flags: credential provider v1 with ecr-public.aws.com from 1.32 only" json_eq \
  "$R/etc/eks/image-credential-provider/config.json" \
  '[d["apiVersion"], "ecr-public.aws.com" in d["providers"][0]["matchImages"], d["providers"][0]["defaultCacheDuration"]]' \
  '["kubelet.config.k8s.io/v1", false, "12h0m0s"]'
check "flags: containerd sandbox is the image's cached pause" contains "$R/etc/containerd/config.toml" \
  'localhost/kubernetes/pause:latest'
check "flags: base runtime spec" json_eq "$R/etc/containerd/base-runtime-spec.json" 'd["ociVersion"]' '"1.1.0"'
check "flags: kubelet.service is nodeadm's" contains "$R/etc/systemd/system/kubelet.service" \
  'ExecStart=/usr/bin/kubelet $NODEADM_KUBELET_ARGS'
check "flags: kubelet enabled (bootstrap.sh's user data runs once)" test -L \
  "$R/etc/systemd/system/multi-user.target.wants/kubelet.service"

S1=$(snapshot "$R")
agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" \
  --dns-cluster-ip 10.100.0.10 --kubelet-extra-args '--node-labels=team=a,tier=web --register-with-taints=dedicated=x:NoSchedule'
check "flags: re-run exit 0" expect_rc 0
check "flags: re-run changes nothing (bytes, inodes, mtimes)" equals "$(snapshot "$R")" "$S1"

# --- the same flags through the installed bootstrap.sh shim ---------------------------------------
R2=$(al2023_root shim)
agent "$R2" --platform al2023 --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64" \
  --dns-cluster-ip 10.100.0.10 --kubelet-extra-args '--node-labels=team=a,tier=web --register-with-taints=dedicated=x:NoSchedule'
for f in $KCFG $ENVF /var/lib/kubelet/kubeconfig /etc/containerd/config.toml; do
  check "--platform al2023 gives the same $f" same_bytes "$R2$f" "$R$f"
done

# --- a kubelet newer than the agent knows -------------------------------------------------------
R=$(al2023_root new v1.36.0-eks-1)
agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64"
check "kubelet 1.36: exit 0" expect_rc 0
check "kubelet 1.36: a warning" contains "$WORK/err" KUBELET_VERSION_UNKNOWN
check "kubelet 1.36: 1.34+ settings" json_eq "$R$KCFG" '[d["shutdownGracePeriod"], d["featureGates"]["MutableCSINodeAllocatableCount"]]' '["2m30s", true]'

# --- NodeConfig: kubelet config, flags, maxPodsExpression, environment (proxy) --------------------
nodeconfig nc-cluster "  kubelet:
    config:
      registryPullQPS: 10
      clusterDNS: [10.100.0.53]
    flags:
    - --v=5
    - --node-labels=foo=bar
    maxPodsExpression: \"default_enis * (ips_per_eni - 1) + 2 > 20 ? 20 : max_pods\"
  instance:
    environment:
      default:
        HTTPS_PROXY: http://proxy.internal:3128
        NO_PROXY: 169.254.169.254,localhost
      kubelet:
        GODEBUG: x509ignoreCN=0
" >"$WORK/nc.yaml"
set_user_data "$WORK/nc.yaml"
R=$(al2023_root nc v1.29.3-eks-1)
agent "$R" --config-source imds://user-data
check "nodeconfig: exit 0" expect_rc 0
check "nodeconfig: drop-in is the user's config over kind/apiVersion, sorted" json_eq "$R$DROPIN" \
  'list(d)' '["apiVersion", "clusterDNS", "kind", "registryPullQPS"]'
check "nodeconfig: --config-dir" env_has "$R" --config-dir=/etc/kubernetes/kubelet/config.json.d
check "nodeconfig: KUBELET_CONFIG_DROPIN_DIR_ALPHA=on below 1.30" contains "$R$ENVF" $'\nKUBELET_CONFIG_DROPIN_DIR_ALPHA=on'
check "nodeconfig: the user's flags last" env_ends "$R" "--v=5 --node-labels=foo=bar"
check "nodeconfig: maxPodsExpression's result in config.json" json_eq "$R$KCFG" 'd["maxPods"]' 20
check "nodeconfig: kubeReserved memory for the expression's result" json_eq "$R$KCFG" 'd["kubeReserved"]["memory"]' '"475Mi"'
check "nodeconfig: the proxy for every unit" same_bytes "$R/etc/systemd/system.conf.d/environment.conf" \
  <(printf '[Manager]\nDefaultEnvironment="HTTPS_PROXY=http://proxy.internal:3128"\nDefaultEnvironment="NO_PROXY=169.254.169.254,localhost"\n')
check "nodeconfig: kubelet's own environment" same_bytes "$R/etc/systemd/system/kubelet.service.d/environment.conf" \
  <(printf '[Service]\nEnvironment="GODEBUG=x509ignoreCN=0"\n')

# dropping kubelet.config removes the drop-in and the flag
nodeconfig nc-cluster >"$WORK/nc2.yaml"
set_user_data "$WORK/nc2.yaml"
agent "$R" --config-source imds://user-data
check "nodeconfig without kubelet.config: exit 0" expect_rc 0
check "nodeconfig without kubelet.config: drop-in removed" no_file "$R$DROPIN"
check "nodeconfig without kubelet.config: no --config-dir" lacks "$R$ENVF" config-dir

# --- containerd: nodeadm's templates for 1.7 and 2.x, a user TOML merged into V3 -----------------
# The expected files are the goldens the unit tests hold against nodeadm.md's templates.
GOLD=$REPO/tests/golden/al2023/containerd
for row in "1.7.27 v1.31.2 v2-no-cdi" "1.7.27 v1.32.0 v2-cdi" "2.0.5 v1.31.7 v3-no-cdi" "2.0.5 v1.32.0 v3-cdi"; do
  read -r cv kv gold <<<"$row"
  R=$(al2023_root "ctd-$gold" "$kv-eks-1")
  echo "$cv" >"$R/etc/eks/containerd-version.txt"
  agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64"
  check "containerd $cv, kubelet $kv: exit 0" expect_rc 0
  check "containerd $cv, kubelet $kv: nodeadm's template ($gold)" same_bytes "$R/etc/containerd/config.toml" "$GOLD/$gold.toml"
done
nodeconfig ctd-cluster "  containerd:
    config: |
      version = 3

      [plugins.'io.containerd.cri.v1.images']
      max_concurrent_downloads = 8

      [plugins.\"io.containerd.cri.v1.runtime\".containerd.runtimes.runc.options]
      SystemdCgroup = false

      [[plugins.\"io.containerd.transfer.v1.local\".unpack_config]]
      platform = \"linux/amd64\"
      snapshotter = \"overlayfs\"

      [[plugins.\"io.containerd.transfer.v1.local\".unpack_config]]
      platform = \"linux/arm64\"
      snapshotter = \"overlayfs\"
" >"$WORK/ctd.yaml"
set_user_data "$WORK/ctd.yaml"
R=$(al2023_root ctd-user v1.33.2-eks-1)
echo 2.1.0 >"$R/etc/eks/containerd-version.txt"
agent "$R" --config-source imds://user-data
check "containerd 2.1 with a user V3 TOML: exit 0" expect_rc 0
check "containerd 2.1 with a user V3 TOML: merged and formatted as nodeadm (v3-user)" same_bytes \
  "$R/etc/containerd/config.toml" "$GOLD/v3-user.toml"

# --- Outposts ---------------------------------------------------------------------------------
R=$(al2023_root outpost)
echo "127.0.0.1 localhost" >"$R/etc/hosts"
agent "$R" --cluster my-cluster --apiserver-endpoint https://127.0.0.1 --b64-cluster-ca "$CA_B64" \
  --enable-local-outpost true --cluster-id 0123abcd-cluster
check "outpost: exit 0" expect_rc 0
check "outpost: the bootstrap kubeconfig names the cluster id" contains "$R/var/lib/kubelet/bootstrap-kubeconfig" '"0123abcd-cluster"'
check "outpost: no kubeconfig (kubelet writes it)" no_file "$R/var/lib/kubelet/kubeconfig"
check "outpost: --bootstrap-kubeconfig" env_has "$R" --bootstrap-kubeconfig=/var/lib/kubelet/bootstrap-kubeconfig
check "outpost: /etc/hosts has the API host" contains "$R/etc/hosts" $'127.0.0.1\t127.0.0.1'

# --- failures ---------------------------------------------------------------------------------
R=$(al2023_root nocred)
rm "$R$CRED_BIN"
agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64"
check "no credential provider: fails" bash -c '[ "$1" -ne 0 ]' _ "$RC"
check "no credential provider: names the binary" contains "$WORK/err" "$CRED_BIN"
check "no credential provider: nothing written" no_file "$R$KCFG"
R=$(al2023_root envbin)
mkdir -p "$R/opt/ecr" && cp "$AGENT" "$R/opt/ecr/my-provider" 2>/dev/null || touch "$R/opt/ecr/my-provider"
rm "$R$CRED_BIN"
ECR_CREDENTIAL_PROVIDER_BIN_PATH=/opt/ecr/my-provider agent "$R" --cluster my-cluster --apiserver-endpoint "$ENDPOINT" --b64-cluster-ca "$CA_B64"
check "ECR_CREDENTIAL_PROVIDER_BIN_PATH: exit 0" expect_rc 0
check "ECR_CREDENTIAL_PROVIDER_BIN_PATH: provider named after it" json_eq \
  "$R/etc/eks/image-credential-provider/config.json" 'd["providers"][0]["name"]' '"my-provider"'
check "ECR_CREDENTIAL_PROVIDER_BIN_PATH: bin dir flag" env_has "$R" --image-credential-provider-bin-dir=/opt/ecr

finish
