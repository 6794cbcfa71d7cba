#!/usr/bin/env bash
# scripts/fuzz.sh [SECONDS] (make fuzz): every libFuzzer target of tests/fuzz/ explores for SECONDS (default
# $FUZZ_SECONDS, else 30) from its committed corpus, then the inputs it found that add coverage are merged into
# tests/fuzz/corpus/<target> (libFuzzer's -merge=1, which keeps only those), so the corpus grows with each run and
# ctest's replay covers them. A crash, leak or sanitizer report fails the run: the target's output, and the
# reproducer (its path, a command that replays it, its bytes in base64) are printed, and the run goes on to the
# other targets before failing. Builds the targets with clang into $FUZZ_BUILD (default build-fuzz), against the
# llama.cpp that $BUILD (default build) uses (its prebuilt prefix, or its own llama.cpp installed to one).
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build}
FUZZ_BUILD=${FUZZ_BUILD:-build-fuzz}
secs=${1:-${FUZZ_SECONDS:-30}}
targets=(text state template gguf schema toolcall chat request media)
command -v clang > /dev/null || { echo "fuzz: clang is needed (scripts/setup.sh clang)" >&2; exit 1; }
[ -f "$BUILD/CMakeCache.txt" ] || { echo "fuzz: build $BUILD first (make build)" >&2; exit 1; }
cache() { sed -n "s/^$1:[A-Z]*=//p" "$BUILD/CMakeCache.txt"; }
prefix=$(cache LLAMA_PREBUILT_DIR)
if [ -z "$prefix" ]; then
  prefix=$PWD/$BUILD/llama-prefix
  cmake --install "$BUILD/llama.cpp" --prefix "$prefix" > /dev/null
fi
src=$(cache LLAMA_CPP_DIR)
# warnings are gcc's build's business (-DLLAMAC_WERROR there): clang warns of other things
cmake -S . -B "$FUZZ_BUILD" -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++ -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLLAMAC_FUZZ=ON -DLLAMAC_WERROR=OFF -DLLAMA_PREBUILT_DIR="$prefix" ${src:+-DLLAMA_CPP_DIR="$src"} > /dev/null
cmake --build "$FUZZ_BUILD" -j"${JOBS:-$(nproc)}" --target "${targets[@]/#/fuzz_}" > "$FUZZ_BUILD/fuzz-build.log" ||
  { tail -40 "$FUZZ_BUILD/fuzz-build.log" >&2; exit 1; }

failed=()
for t in "${targets[@]}"; do
  bin=$FUZZ_BUILD/bin/fuzz_$t
  corpus=tests/fuzz/corpus/$t
  work=$FUZZ_BUILD/fuzz/$t
  rm -rf "$work"
  mkdir -p "$work/new" "$work/artifacts"
  before=$(find "$corpus" -type f | wc -l)
  rc=0
  LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp" "$bin" -max_total_time="$secs" -rss_limit_mb=2048 -timeout=20 -artifact_prefix="$work/artifacts/" \
    "$work/new" "$corpus" > "$work/log" 2>&1 || rc=$?
  runs=$(sed -n 's/^#\([0-9]*\)\tDONE.*/\1/p' "$work/log" | tail -1)
  if [ "$rc" -ne 0 ]; then
    failed+=("fuzz_$t")
    echo "fuzz_$t: FAILED (exit $rc) after ${runs:-?} runs; its output's end:" >&2
    tail -60 "$work/log" >&2
    for f in "$work/artifacts"/*; do
      [ -f "$f" ] || continue
      echo "fuzz_$t: reproducer $f ($(stat -c %s "$f") bytes): $bin $f" >&2
      echo "fuzz_$t: its bytes (base64):" >&2
      base64 "$f" | head -100 >&2
    done
    continue
  fi
  # only the new inputs that add coverage join the committed corpus
  "$bin" -merge=1 -rss_limit_mb=2048 -timeout=20 "$corpus" "$work/new" > "$work/merge.log" 2>&1 ||
    { failed+=("fuzz_$t (merge)"); tail -20 "$work/merge.log" >&2; continue; }
  echo "fuzz_$t: ${runs:-?} runs in ${secs} s, corpus $before -> $(find "$corpus" -type f | wc -l) inputs"
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${failed[*]} failed" >&2
  exit 1
fi
