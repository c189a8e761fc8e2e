#!/bin/bash
# The test command (README "Tests"; .ci/run calls it): installs dependencies, builds, and runs every
# test tier with ctest: unit (doctest), integration (real IMDS emulator over loopback HTTP, real
# files), end-to-end (the binary in scratch roots) and the real-systemd tier (systemd as PID 1 in
# systemd-nspawn).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
ctest --test-dir build --output-on-failure --timeout 600 -j2 "$@"
