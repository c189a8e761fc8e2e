#!/bin/bash
# The time --local-disks mount adds to a boot with 2 loop disks (first boot: mkfs.xfs of one blank
# 320 MiB disk, 2 mount units written and started over D-Bus; re-run: probes only), as the agent's
# own "disks" phase in status.json phasesMs. Runs tests/e2e/disks_test.sh (root, nspawn, loop
# devices) RUNS times and prints its "bench:" lines.   bench/disks_bench.sh build/eks-node-agent [RUNS]
set -u
agent=${1:?usage: $0 PATH/TO/eks-node-agent [RUNS]}
for _ in $(seq "${2:-3}"); do
  bash "$(dirname "$0")/../tests/e2e/disks_test.sh" "$agent" | grep '^bench:'
done
