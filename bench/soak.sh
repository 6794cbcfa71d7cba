#!/usr/bin/env bash
# Soak: N mixed requests (SOAK_N, default 100,000) against `llamac serve` and the pinned llama-server, in the same
# run and on the same model and settings, interleaved in blocks of 1,000: chat completions (plain and streamed),
# completions, /tokenize with pieces, embeddings, malformed JSON, fields of the wrong type, an unknown path, and
# streams the client leaves after their first bytes. Prints each server's RSS slope in KiB per 1,000 requests (what
# a leak or an unbounded cache shows as), its first and last RSS, and its replies by kind and status, as a table and
# a JSON line (bench/soak.py). The full length took 7 minutes on the 2-core build machine (bench/results/soak.md); SOAK_N=2000
# shows that it works.
#
# Usage: [SOAK_N=N] [SOAK_CONCURRENCY=8] bench/soak.sh [MODEL]
# LLAMAC_BIN and LLAMA_SERVER name other binaries (default build/bin/llamac, and llama-server from build/reference
# or /work/main/build/reference, built by `cmake --build build --target reference-tools`).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-"${LLAMAC_TEST_MODELS:-$root/../shared/models}/stories260K-chatml.gguf"}
n=${SOAK_N:-100000}
conc=${SOAK_CONCURRENCY:-8}
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
ref=${LLAMA_SERVER:-"$root/build/reference/bin/llama-server"}
[ -x "$ref" ] || [ -n "${LLAMA_SERVER:-}" ] || ref=/work/main/build/reference/bin/llama-server
[ -x "$ref" ] || { echo "soak.sh: build llama-server first (cmake --build build --target reference-tools)" >&2; exit 1; }
[ -x "$llamac" ] || { echo "soak.sh: build llamac first ($llamac)" >&2; exit 1; }

work=$(mktemp -d)
pids=()
trap 'kill "${pids[@]}" 2> /dev/null; wait 2> /dev/null; rm -rf "$work"' EXIT
port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }
# the same settings for both: 4 slots of 512 tokens, one thread, embeddings on (mean pooling: stories260K has none)
common=(-m "$model" -np 4 -c 2048 -t 1 --embeddings --pooling mean --host 127.0.0.1)
p1=$(port)
"$llamac" serve "${common[@]}" --port "$p1" > "$work/llamac.log" 2>&1 &
pids+=($!)
p2=$(port)
"$ref" "${common[@]}" --port "$p2" > "$work/llama-server.log" 2>&1 &
pids+=($!)
for p in "$p1" "$p2"; do
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$p/health")" = 200 ] && break
    sleep 0.1
  done
done
for i in 0 1; do
  kill -0 "${pids[$i]}" 2> /dev/null || { echo "soak.sh: a server did not start:" >&2; cat "$work"/*.log >&2; exit 1; }
done
python3 "$root/bench/soak.py" "$n" "$conc" "llamac:$p1:${pids[0]}" "llama-server:$p2:${pids[1]}"
