#!/bin/bash
# Fuzz smoke test: builds the libFuzzer targets with clang (ASan + UBSan) in their own CMake
# configuration (AGENT_FUZZ=ON) and runs each for a bounded time over its seed corpus.
#   usage: tests/fuzz/run.sh [BUILD_DIR] [SECONDS_PER_TARGET]
# Exit status: 0 when no target crashed or reported; the reproducer is left in BUILD_DIR/artifacts.
# The seed corpus (tests/fuzz/corpus/<target>/) is read, never written: new inputs go to a scratch
# directory under BUILD_DIR.
set -euo pipefail
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
BUILD=${1:-$REPO/build-fuzz}
SECONDS_EACH=${2:-20}
CC=${CC_FUZZ:-clang}
CXX=${CXX_FUZZ:-clang++}

cmake -S "$REPO" -B "$BUILD" -G Ninja -DCMAKE_C_COMPILER="$CC" -DCMAKE_CXX_COMPILER="$CXX" \
  -DCMAKE_BUILD_TYPE=RelWithDebInfo -DAGENT_FUZZ=ON -DAGENT_BUILD_TESTS=OFF -DAGENT_WERROR=OFF >/dev/null
cmake --build "$BUILD" --target userdata_fuzz document_fuzz

mkdir -p "$BUILD/artifacts"
status=0
for target in userdata document; do
  scratch="$BUILD/corpus-$target"
  rm -rf "$scratch"
  mkdir -p "$scratch"
  echo "fuzzing ${target}_fuzz for ${SECONDS_EACH}s"
  if ! ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    "$BUILD/${target}_fuzz" -max_total_time="$SECONDS_EACH" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
    -print_final_stats=1 -artifact_prefix="$BUILD/artifacts/${target}-" \
    "$scratch" "$REPO/tests/fuzz/corpus/$target" >"$BUILD/${target}_fuzz.log" 2>&1; then
    echo "${target}_fuzz FAILED; reproducer in $BUILD/artifacts:"
    tail -40 "$BUILD/${target}_fuzz.log"
    status=1
  else
    grep -E "^stat::number_of_executed_units|^Done" "$BUILD/${target}_fuzz.log" || true
  fi
done
exit $status
