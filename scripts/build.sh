#!/bin/bash
# Configures and builds into build/: Release (-O3, what users and packagers build) with debug info,
# warnings as errors (AGENT_WERROR is off by default for everyone else). ccache when installed.
set -euo pipefail
cd "$(dirname "$0")/.."
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S . -B build -G Ninja -DCMAKE_BUILD_TYPE=Release -DCMAKE_C_FLAGS=-g -DCMAKE_CXX_FLAGS=-g \
  -DAGENT_WERROR=ON "${launcher[@]}" >/dev/null
cmake --build build --parallel "$(nproc)"
