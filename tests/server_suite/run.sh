#!/usr/bin/env bash
# Runs llama.cpp's own server test suite (tools/server/tests of the pinned source, pytest) offline against either
# server, and checks `llamac serve` against what the pinned llama-server passes:
#
#     tests/server_suite/run.sh [--server llamac|reference|PATH] [--out FILE.tsv] [MODULE...]
#     tests/server_suite/run.sh --check             # the ctest check (server_suite): llamac against must-pass.txt
#     tests/server_suite/run.sh --write-must-pass   # must-pass.txt := the reference list of the target modules AND
#                                                   # what passes against llamac now (in two runs out of two)
#
# MODULE is a test module's name without test_ (basic, completion, ...); the default is every module. --server
# llamac (the default) is `$LLAMAC_BIN serve` (default build/bin/llamac); reference is $LLAMA_SERVER, default
# build/reference/bin/llama-server (`cmake --build build --target reference-tools`); a PATH is any llama-server.
# --out writes the outcome of every test (node id, passed/failed/error/skipped, the reason's first line), FILE.jsonl
# the captured output (the server's log) of those that did not pass, and FILE.log pytest's own output.
# The reference list, tests/reference/server_suite/passing.txt, comes from scripts/reference/server-suite.sh; --check
# fails when a test of must-pass.txt fails, and counts the reference-passing tests of the target modules (issue 20:
# those llamac must pass in the end) that still fail against llamac, apart from those of differences.txt, which llamac
# fails by design (each with its reason).
#
# How it runs the suite as it is at the pin, offline: the suite's folder is copied into a scratch tree laid out
# like llama.cpp's (its tests open ../../../models/templates/...), and started with
# - LLAMA_SERVER_BIN_PATH = tests/server_suite/llama-server, a stand-in that turns the Hugging Face models the suite
#   names into local files (stories260K from $LLAMAC_TEST_MODELS, BERT embedding and reranking models made with
#   `llamac synth`) and execs the real server;
# - tests/server_suite/suite_plugin.py (no downloads, a free port per server, a time limit per test);
# - a stand-in `openai` module when the package is missing: tests that need the OpenAI SDK are skipped.
# For gap analysis, LLAMAC_SUITE_DROP makes the stand-in leave options out (see there); --check ignores it.
# Tests run one at a time (the suite starts one server per test, on a port of its own); `slow` ones are deselected,
# as the suite's own tests.sh does. Needs Debian's python3 (not a pyenv one) with python3-pytest python3-requests
# python3-aiohttp python3-numpy python3-wget python3-filelock python3-prometheus-client (scripts/setup.sh installs
# them); without them, or without the llama.cpp source tree or stories260K, it exits 77 (skipped).
set -euo pipefail

here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
reference_list="$root/tests/reference/server_suite/passing.txt"
must_pass="$here/must-pass.txt"
differences="$here/differences.txt" # reference-passing tests llamac fails by design, with why
# The modules issue 20 asks `llamac serve` to pass (their reference-passing tests), with its proxy (--ui-mcp-proxy)
# and the built-in agent tools of --tools (tools_builtin), issue 23's two of the Anthropic Messages and OpenAI
# Responses dialects, issue 25's lora and issue 22's router and sleep; the check runs these.
target_modules="basic chat_completion completion ctx_shift ignore_eos kv_keep_only_active metrics security template lora
tokenize tool_call slot_save compat_anthropic compat_oai_responses router sleep proxy tools_builtin"

server=llamac
out=""
mode=run
modules=()
while [ $# -gt 0 ]; do
  case "$1" in
    --server) server=$2; shift 2 ;;
    --out) out=$2; shift 2 ;;
    --check) mode=check; shift ;;
    --write-must-pass) mode="write"; shift ;;
    -h | --help) awk 'NR > 1 && !/^#/ { exit } NR > 1 { sub(/^# ?/, ""); print }' "$0"; exit 0 ;;
    -*) echo "run.sh: unknown option $1" >&2; exit 2 ;;
    *) modules+=("$1"); shift ;;
  esac
done
if [ "$mode" != run ]; then
  server=llamac
  unset LLAMAC_SUITE_DROP # an analysis aid of the stand-in; the check runs the suite as it is
  # shellcheck disable=SC2206
  modules=($target_modules)
fi

skip() {
  echo "server_suite: skipped: $*" >&2
  exit 77
}

src=${LLAMAC_LLAMA_SOURCE:-"$root/.deps/llama.cpp"}
[ -f "$src/tools/server/tests/utils.py" ] || skip "no llama.cpp source tree with tools/server/tests ($src)"
python=${LLAMAC_SUITE_PYTHON:-/usr/bin/python3} # Debian's, for its packages (a pyenv python3 may come first in PATH)
[ -x "$python" ] || skip "no $python"
if ! "$python" -c 'import pytest, requests, aiohttp, numpy, wget, filelock, prometheus_client' 2> /dev/null; then
  skip "$python lacks the suite's packages; install python3-pytest python3-requests python3-aiohttp python3-numpy" \
    "python3-wget python3-filelock python3-prometheus-client (scripts/setup.sh)"
fi
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
[ -f "$models/stories260K.gguf" ] || skip "no $models/stories260K.gguf"
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
[ -x "$llamac" ] || { echo "run.sh: no llamac binary at $llamac (set LLAMAC_BIN)" >&2; exit 1; }

case "$server" in
  llamac) server_bin=$llamac subcommand=serve ;;
  reference) server_bin=${LLAMA_SERVER:-"$root/build/reference/bin/llama-server"} subcommand="" ;;
  *) server_bin=$server subcommand="" ;;
esac
[ -x "$server_bin" ] || {
  echo "run.sh: no server binary at $server_bin (reference: cmake --build build --target reference-tools, or set" \
    "LLAMA_SERVER)" >&2
  exit 1
}

# The scratch tree: $tree/tools/server/tests is a copy (the tests write into tmp/ there), the rest links to the source.
scratch="" hub_pid=""
cleanup() {
  if [ -n "$hub_pid" ]; then kill "$hub_pid" 2> /dev/null || true; fi
  if [ -n "$scratch" ]; then rm -rf "$scratch"; fi
}
trap cleanup EXIT
work=${LLAMAC_TEST_TMP:-}
if [ -n "$work" ]; then
  work="$work/server_suite"
  rm -rf "$work"
  mkdir -p "$work"
else
  work=$(mktemp -d)
  scratch=$work
fi
tree="$work/llama.cpp"
mkdir -p "$tree/tools/server"
ln -s "$src/models" "$tree/models"
for dir in "$src"/tools/*/; do
  name=$(basename "$dir")
  [ "$name" = server ] || ln -s "$dir" "$tree/tools/$name"
done
cp -r "$src/tools/server/tests" "$tree/tools/server/tests"
rm -rf "$tree/tools/server/tests/tmp"
mkdir -p "$tree/tools/server/tests/tmp"

# Local stand-ins for the suite's models (see the stand-in's table); all are small and made in well under a second.
local_models="$work/models"
mkdir -p "$local_models"
ln -s "$models/stories260K.gguf" "$local_models/stories260K.gguf"
vocab="$src/models/ggml-vocab-bert-bge.gguf"
"$llamac" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 11 --vocab-from "$vocab" \
  -o "$local_models/bert-bge-small.gguf"
"$llamac" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 12 --cls-out 1 --vocab-from "$vocab" \
  -o "$local_models/jina-reranker.gguf"
# test_lora's adapter (moe_shakespeare15M.gguf, which the suite's download_file finds in tests/tmp and so does not
# fetch): a synthesized LoRA for stories260K, whose seed is one with which the pinned llama-server's greedy texts
# contain the words test_lora looks for at each scale (what the test then shows is that a server gives llama-server's
# text at every scale, per request and after POST /lora-adapters; not Shakespeare).
"$llamac" synth -q --lora -m "$models/stories260K.gguf" --targets all --seed 5 --init-std 0.07 \
  -o "$tree/tools/server/tests/tmp/moe_shakespeare15M.gguf"

# test_router's downloads (POST /models of ggml-org/test-model-router-download:F16, then DELETE /models): a fake
# Hugging Face Hub on loopback (tests/hub/fake_hub.js, node) serves that repository, a synthesized F16 model; the
# servers' Hugging Face cache is a scratch folder (never the user's), empty at the start of every run.
hub="$work/hub"
mkdir -p "$hub/hf"
"$llamac" synth -q --arch llama --vocab-from "$src/models/ggml-vocab-llama-spm.gguf" --layers 1 --embd 32 --heads 2 \
  --type f16 --seed 21 -o "$hub/test-model-router-download-F16.gguf"
cat > "$hub/config.json" << JSON
{"repos": {"ggml-org/test-model-router-download": {"commit": "2121212121212121212121212121212121212121",
  "files": [{"path": "test-model-router-download-F16.gguf", "src": "$hub/test-model-router-download-F16.gguf",
             "lfs": true}]}}}
JSON
hub_env=()
if command -v node > /dev/null; then
  node "$root/tests/hub/fake_hub.js" "$hub/config.json" "$hub/ports" "$hub/requests.log" 2> "$hub/node.err" &
  hub_pid=$!
  for _ in $(seq 100); do [ -s "$hub/ports" ] && break; sleep 0.1; done
  [ -s "$hub/ports" ] || { echo "run.sh: the fake Hugging Face Hub did not start: $(cat "$hub/node.err")" >&2; exit 1; }
  read -r hub_port _ < "$hub/ports"
  hub_env=(HF_ENDPOINT="http://127.0.0.1:$hub_port") # llamac's and llama.cpp's
else
  echo "run.sh: no node: test_router's downloads go nowhere (the Hub is not reachable offline)" >&2
fi

files=()
if [ ${#modules[@]} -eq 0 ]; then
  for f in "$tree"/tools/server/tests/unit/test_*.py; do files+=("unit/$(basename "$f")"); done
else
  for m in "${modules[@]}"; do
    [ -f "$tree/tools/server/tests/unit/test_$m.py" ] || { echo "run.sh: no module test_$m.py" >&2; exit 2; }
    files+=("unit/test_$m.py")
  done
fi

# Per module: passed / run.
summary() {
  awk -F'\t' '{ split($1, a, "::"); m = a[1]; sub(/^unit\/test_/, "", m); sub(/\.py$/, "", m);
                n[m]++; if ($2 == "passed") p[m]++ }
              END { for (m in n) printf "  %-24s %4d passed of %4d\n", m, p[m], n[m] }' "$1" | sort
}

pythonpath=$here
"$python" -c 'import openai' 2> /dev/null || pythonpath="$pythonpath:$here/shim"

# run_suite RESULTS: one run of the chosen modules; the outcome of each test goes to RESULTS.
run_suite() {
  local results log rc=0 start
  results=$(cd "$(dirname "$1")" && pwd)/$(basename "$1")
  log="${results%.tsv}.log"
  echo "server_suite: ${#files[@]} modules against $server_bin${subcommand:+ $subcommand} (log: $log)" >&2
  start=$(date +%s)
  (
    cd "$tree/tools/server/tests"
    # what the suite reads from the environment, pinned: no debug/external server/slow tests, CPU only
    unset DEBUG DEBUG_EXTERNAL PORT SLOW_TESTS N_GPU_LAYERS LLAMA_SERVER_BIN_PATH
    for v in $(env | sed -n 's/^\(LLAMA_ARG_[A-Za-z0-9_]*\)=.*/\1/p'); do unset "$v"; done
    unset HF_HOME HF_HUB_OFFLINE HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_ENDPOINT MODEL_ENDPOINT
    rm -rf "$work/cache" "$hub/hf"
    export LLAMA_SERVER_BIN_PATH="$here/llama-server" LLAMAC_SUITE_SERVER="$server_bin" \
      LLAMAC_SUITE_SUBCOMMAND="$subcommand" LLAMAC_SUITE_MODELS="$local_models" LLAMAC_SUITE_RESULTS="$results" \
      LLAMA_CACHE="$work/cache" HF_HUB_CACHE="$hub/hf" PYTHONPATH="$pythonpath" PYTHONDONTWRITEBYTECODE=1 \
      ${hub_env[@]+"${hub_env[@]}"}
    exec "$python" -m pytest -p suite_plugin -p no:cacheprovider -m "not slow" -q -rN --tb=short --durations=20 \
      "${files[@]}" > "$log" 2>&1
  ) &
  pytest_pid=$!
  # passed on, so that pytest stops its servers (a background job ignores SIGINT, hence TERM)
  trap 'kill -TERM "$pytest_pid" 2> /dev/null; wait "$pytest_pid"; exit 1' TERM INT
  wait "$pytest_pid" || rc=$?
  trap - TERM INT
  # pytest: 0 all passed, 1 some failed; anything else (a usage or collection error) is the runner's failure
  if [ "$rc" -gt 1 ] || [ ! -s "$results" ]; then
    tail -n 40 "$log" >&2
    echo "server_suite: pytest did not run the suite (exit $rc)" >&2
    exit 1
  fi
  echo "server_suite: $(awk -F'\t' '$2 == "passed"' "$results" | wc -l) of $(wc -l < "$results") tests passed" \
    "in $(($(date +%s) - start)) s; per module:" >&2
  summary "$results" >&2
}

passed() { awk -F'\t' '$2 == "passed" { print $1 }' "$1" | LC_ALL=C sort; }
module_counts() { # ids on stdin -> "  MODULE  N WHAT" per module
  awk -F'::' -v what="$1" '{ m = $1; sub(/^unit\/test_/, "", m); sub(/\.py$/, "", m); n[m]++ }
    END { for (m in n) printf "  %-24s %4d %s\n", m, n[m], what }' | LC_ALL=C sort
}

if [ "$mode" = run ]; then
  run_suite "${out:-"$work/results.tsv"}"
  exit 0
fi

# The reference-passing tests of the target modules.
[ -f "$reference_list" ] || { echo "run.sh: no reference list $reference_list" >&2; exit 1; }
# shellcheck disable=SC2086 # a list of words
pattern=$(printf 'unit/test_%s.py::\n' $target_modules)
{ grep -v '^#' "$reference_list" || true; } | { grep -F "$pattern" || true; } | LC_ALL=C sort > "$work/reference-targets"
{ grep -v '^#' "$differences" || true; } | cut -f1 | LC_ALL=C sort > "$work/differences"

if [ "$mode" = write ]; then
  # Twice, keeping what passes both times, so that a test that passes only sometimes is never required.
  run_suite "$work/results1.tsv"
  run_suite "$work/results2.tsv"
  {
    sed -n '/^#/p' "$must_pass"
    LC_ALL=C comm -12 <(passed "$work/results1.tsv") <(passed "$work/results2.tsv") |
      LC_ALL=C comm -12 "$work/reference-targets" - | LC_ALL=C comm -23 - "$work/differences"
  } > "$must_pass.tmp"
  mv "$must_pass.tmp" "$must_pass"
  echo "server_suite: wrote $(grep -vc '^#' "$must_pass") tests to $must_pass" >&2
  exit 0
fi

results="$work/results.tsv"
run_suite "$results"
passed "$results" > "$work/passing"
{ grep -v '^#' "$must_pass" || true; } | LC_ALL=C sort > "$work/must-pass"
failed=$(LC_ALL=C comm -23 "$work/must-pass" "$work/passing")
# Tests that llama-server passes and llamac does not yet: the gap (issue 20), shown but not failing the check; those
# of differences.txt apart.
LC_ALL=C comm -23 "$work/reference-targets" "$work/passing" | LC_ALL=C comm -23 - "$work/differences" > "$work/gap"
by_design=$(LC_ALL=C comm -23 "$work/reference-targets" "$work/passing" | LC_ALL=C comm -12 - "$work/differences" |
  wc -l)
echo "server_suite: $(wc -l < "$work/must-pass") must pass; $(wc -l < "$work/reference-targets") pass on" \
  "llama-server in the target modules, of which $by_design fail against llamac serve by design (differences.txt)" \
  "and $(wc -l < "$work/gap") still fail:" >&2
module_counts "still failing" < "$work/gap" >&2
both=$(LC_ALL=C comm -12 "$work/must-pass" "$work/differences")
if [ -n "$both" ]; then
  echo "server_suite: on both must-pass.txt and differences.txt (a test llamac fails by design cannot be required):" \
    "$both" >&2
  exit 1
fi
if [ -n "$failed" ]; then
  echo "server_suite: must pass, but did not (log: ${results%.tsv}.log):" >&2
  while read -r id; do
    grep -F "$id	" "$results" | cut -f1-3 | sed 's/\t/  /g; s/^/  /' >&2 ||
      echo "  $id  (not run: renamed or removed from the suite?)" >&2
  done <<< "$failed"
  exit 1
fi
echo "server_suite: all must-pass tests passed" >&2
