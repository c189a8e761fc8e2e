#!/bin/bash
# /etc/eks/bootstrap.sh as eks-node-agent installs it (README "Install layout"). Not Amazon Linux 2's
# script: a shim that hands its arguments to /etc/eks/eks-node-agent, which implements bootstrap.sh's
# flags and environment variables.
#
# It is a bash text file, not the binary, because user data edits it with sed before calling it,
# and both edits must still do what they did to the original:
#   - eksctl (maxPodsPerNode) rewrites the assignment in the --kubelet-extra-args branch below to
#     append --max-pods=N: each --kubelet-extra-args value is replaced by what that line produced;
#   - a Terraform workaround inserts `source /etc/profile.d/bootstrap.sh` after `set -o errexit`:
#     the bootstrap.sh variables set (exported or not) by then are exported to the agent.
# The agent lets a flag win over its environment variable, as bootstrap.sh did.
# Keep both anchor lines byte-identical, and nowhere else in this file: bootstrap.sh had them so.
set -o pipefail
set -o nounset
set -o errexit

# The flags that take the next argument as their value (eks-node-agent --help: "--flag VALUE"), so
# that a value is never mistaken for a flag. ctest e2e_binary compares this list with --help.
VALUE_FLAGS=" --cluster --apiserver-endpoint --b64-cluster-ca --use-max-pods --kubelet-extra-args
  --dns-cluster-ip --ip-family --service-ipv4-cidr --service-ipv6-cidr --pause-container-account
  --pause-container-version --containerd-config-file --container-runtime --enable-local-outpost
  --cluster-id --mount-bpf-fs --local-disks --aws-api-retry-attempts --hostname-source
  --enable-docker-bridge --docker-config-json --root --imds-endpoint --service-manager --timeout
  --kubelet-settle-ms --config-source --platform --kube-reserved-max-pods --local-disks-dir "
VALUE_FLAGS=${VALUE_FLAGS//$'\n'/ }

ARGS=()
while [[ $# -gt 0 ]]; do
  case $1 in
    --kubelet-extra-args=*)
      # The agent's --flag=value form: split, so that the assignment below sees it too.
      set -- --kubelet-extra-args "${1#*=}" "${@:2}"
      continue
      ;;
    --kubelet-extra-args)
      if [[ $# -lt 2 ]]; then ARGS+=("$1"); shift; continue; fi  # the agent reports the missing value
      KUBELET_EXTRA_ARGS=$2
      ARGS+=("$1" "$KUBELET_EXTRA_ARGS")
      shift 2
      ;;
    *)
      if [[ $VALUE_FLAGS == *" $1 "* && $# -ge 2 ]]; then
        ARGS+=("$1" "$2")
        shift 2
      else
        ARGS+=("$1")
        shift
      fi
      ;;
  esac
done

# bootstrap.sh read these as shell variables, so a sourced file did not need to export them.
for name in USE_MAX_PODS B64_CLUSTER_CA APISERVER_ENDPOINT KUBELET_EXTRA_ARGS ENABLE_DOCKER_BRIDGE \
  API_RETRY_ATTEMPTS DOCKER_CONFIG_JSON CONTAINERD_CONFIG_FILE PAUSE_CONTAINER_ACCOUNT \
  PAUSE_CONTAINER_VERSION PAUSE_CONTAINER_IMAGE DNS_CLUSTER_IP CONTAINER_RUNTIME IP_FAMILY \
  SERVICE_IPV4_CIDR SERVICE_IPV6_CIDR ENABLE_LOCAL_OUTPOST CLUSTER_ID MOUNT_BPF_FS LOCAL_DISKS; do
  if [[ -n ${!name+set} ]]; then export "${name?}"; fi
done

# ${ARGS[@]+...}: bash 4.2 (Amazon Linux 2) calls an empty array unbound under nounset.
exec -a "$0" /etc/eks/eks-node-agent ${ARGS[@]+"${ARGS[@]}"}
