#!/bin/bash
# /etc/eks/max-pods-calculator.sh as eks-node-agent installs it (README "Install layout"): Amazon
# Linux 2's calculator CLI (--instance-type T | --instance-type-from-imds, --cni-version X.Y.Z,
# --cni-custom-networking-enabled, --cni-prefix-delegation-enabled, --cni-max-eni N,
# --show-max-allowed), answered by `eks-node-agent max-pods` from its built-in networking table.
# User data calls it as `--max-pods=$(/etc/eks/max-pods-calculator.sh ...)`; the exit status is
# the agent's.
set -o errexit
exec /etc/eks/eks-node-agent max-pods "$@"
