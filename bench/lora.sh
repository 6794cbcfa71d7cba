#!/usr/bin/env bash
# LoRA: the generation speed cost of an applied adapter in `llamac serve` against llama-server's with the same
# --lora, both servers up side by side on the same model and flags, their requests interleaved in one run so that
# the machine's load hits both alike. Prints a markdown table.
#
# The model is the Qwen2.5-0.5B-shaped synthesized one (Q4_K_M, cached in build/bench-models, as bench/spec.sh makes
# it) and the adapter a synthesized one for it (`llamac synth --lora`, rank RANK on every attention and FFN matrix;
# F16 like a converted adapter). Both servers load it with --lora-init-without-apply, and each request picks its
# scale with the `lora` field, so one server process serves every case:
#   single     one stream of N_PREDICT tokens (ignore_eos, greedy) at scale 0 (the base model: llama.cpp leaves an
#              adapter at scale 0 out of the graph) and at scale 1; tokens/s from the server's /completion timings
#   4 streams  four concurrent requests, all at scale 1, then at scales 0, 0.5, 1, 0.5 (three sets: decoded in
#              separate batches by both servers); aggregate tokens/s = 4 * N_PREDICT / wall time
#
# Usage: bench/lora.sh [MODEL.gguf] ; N_PREDICT (64), THREADS (nproc), REPS (3), RANK (16), CTX (4096), LLAMAC_BIN,
# LLAMA_SERVER override.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
. "$root/bench/lib.sh"
bench_server lora.sh
work="$root/build/bench-models"
model=${1:-"$work/qwen2.5-0.5b-q4_k_m.gguf"}
n=${N_PREDICT:-64}
threads=${THREADS:-$(nproc)}
reps=${REPS:-3}
rank=${RANK:-16}
ctx=${CTX:-4096}
bench_qwen05b "$model"
adapter="$work/$(basename "$model" .gguf)-lora-r$rank.gguf"
[ -f "$adapter" ] || "$llamac" synth -q --lora -m "$model" -o "$adapter" --targets all --rank "$rank" --seed 1

bench_tmp

# Both servers: the same model, adapter, context, slots and threads.
flags=(-m "$model" --lora "$adapter" --lora-init-without-apply -c "$ctx" -np 4 -t "$threads" --host 127.0.0.1)
"$llamac" serve "${flags[@]}" --port 0 > /dev/null 2> "$tmp/llamac.log" &
pids+=($!)
"$server" "${flags[@]}" --port "${PORT:-18474}" > "$tmp/server.log" 2>&1 &
pids+=($!)
url_l=""
for _ in $(seq 1 600); do
  url_l=$(sed -n 's/^llamac serve: listening on \(http:[^ ]*\)$/\1/p' "$tmp/llamac.log")
  [ -n "$url_l" ] && curl -sf "http://127.0.0.1:${PORT:-18474}/health" > /dev/null 2>&1 && break
  sleep 0.2
done
[ -n "$url_l" ] || { tail -5 "$tmp/llamac.log" >&2; exit 1; }
url_s="http://127.0.0.1:${PORT:-18474}"

# body SCALE I : a /completion body at lora scale SCALE whose prompt differs by I (no prompt cache across runs)
body() {
  printf '{"prompt": "Request %s: once upon a time, in a land far away,", "n_predict": %d, "temperature": 0, ' "$2" "$n"
  printf '"ignore_eos": true, "cache_prompt": false, "lora": [{"id": 0, "scale": %s}]}' "$1"
}

seq_no=0
# single URL SCALE : tokens/s of one stream (the server's own timing)
single() {
  seq_no=$((seq_no + 1))
  curl -sf "$1/completion" -H 'Content-Type: application/json' -d "$(body "$2" "$seq_no")" |
    jq -r '.timings.predicted_per_second'
}

# parallel URL SCALE... : aggregate tokens/s of one request per SCALE, all at once
parallel() {
  local url=$1 t0 t1 p=()
  shift
  t0=$(date +%s.%N)
  for sc in "$@"; do
    seq_no=$((seq_no + 1))
    curl -sf "$url/completion" -H 'Content-Type: application/json' -d "$(body "$sc" "$seq_no")" > /dev/null &
    p+=($!)
  done
  wait "${p[@]}"
  t1=$(date +%s.%N)
  awk -v a="$t0" -v b="$t1" -v k=$# -v n="$n" 'BEGIN { printf "%.2f\n", k * n / (b - a) }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

# name | how
cases=(
  "single, scale 0|single URL 0"
  "single, scale 1|single URL 1"
  "4 streams, scale 1|parallel URL 1 1 1 1"
  "4 streams, scales 0/0.5/1/0.5|parallel URL 0 0.5 1 0.5"
)
single "$url_l" 1 > /dev/null # warm-up
single "$url_s" 1 > /dev/null
load=$(cut -d' ' -f1-3 /proc/loadavg)
echo "model $(basename "$model"), adapter rank $rank (all matrices), $n tokens, $threads threads, $reps runs each," \
  "load average before: $load" >&2
declare -A res
# Rounds outermost, so that every case and both servers see the same drift in the machine's load.
for r in $(seq 1 "$reps"); do
  for i in "${!cases[@]}"; do
    how=${cases[$i]#*|}
    key=case$i
    # shellcheck disable=SC2086 # $how is words
    if [ $((r % 2)) -eq 1 ]; then
      ${how/URL/$url_l} >> "$tmp/$key.l"
      ${how/URL/$url_s} >> "$tmp/$key.s"
    else
      ${how/URL/$url_s} >> "$tmp/$key.s"
      ${how/URL/$url_l} >> "$tmp/$key.l"
    fi
  done
done
for i in "${!cases[@]}"; do
  name=${cases[$i]%%|*}
  key=case$i
  res[$name l]=$(median < "$tmp/$key.l")
  res[$name s]=$(median < "$tmp/$key.s")
  echo "$name: llamac ${res[$name l]} tok/s, llama-server ${res[$name s]} tok/s" >&2
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2

echo "| case | llamac tok/s | vs scale 0 / scale 1 | llama-server tok/s | vs scale 0 / scale 1 | llamac / llama-server |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
for c in "${cases[@]}"; do
  name=${c%%|*}
  case "$name" in
    single*) ref="single, scale 0" ;;
    *) ref="4 streams, scale 1" ;;
  esac
  awk -v name="$name" -v l="${res[$name l]}" -v s="${res[$name s]}" -v l0="${res[$ref l]}" -v s0="${res[$ref s]}" \
    'BEGIN { printf "| %s | %.1f | %.2fx | %.1f | %.2fx | %.2f |\n", name, l, l / l0, s, s / s0, l / s }'
done
