#!/usr/bin/env bash
# Router mode: what a request for a model that is not loaded costs in `llamac serve` (no -m, --models-dir) against
# llama-server's router on the same folder and flags, both up side by side, their requests interleaved in one run
# so that the machine's load hits both alike. Prints a markdown table.
#
#   cold      a request (greedy, max_tokens 1) for an unloaded model whose file is in the page cache: the time to
#             its answer is the child's start, the load and one token; the model is unloaded (POST /models/unload)
#             before each
#   switch    --models-max 1 and requests alternating between two models (max_tokens 1): each one unloads the other
#             model and loads its own; the mean time per request
#   warm      the same request for a loaded model: what the router's forwarding leaves of the rest
#
# The models are stories260K and stories260K-chatml (../shared/models) unless MODEL_A / MODEL_B name others.
# Usage: bench/router.sh ; REPS (5), THREADS (1), LLAMAC_BIN, LLAMA_SERVER override.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
. "$root/bench/lib.sh"
bench_server router.sh
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
model_a=${MODEL_A:-"$models/stories260K.gguf"}
model_b=${MODEL_B:-"$models/stories260K-chatml.gguf"}
reps=${REPS:-5}
threads=${THREADS:-1}

bench_tmp
mkdir -p "$tmp/models" "$tmp/hf"
ln -s "$model_a" "$tmp/models/a.gguf"
ln -s "$model_b" "$tmp/models/b.gguf"
cat "$model_a" "$model_b" > /dev/null # in the page cache
# no Hugging Face cache on either side: the folder only
export HF_HUB_CACHE="$tmp/hf" HF_HOME="$tmp/hf" LLAMA_CACHE="$tmp/hf"

# start NAME MAX : both routers on the folder with --models-max MAX; sets URL_L_NAME and URL_S_NAME
start() {
  local name=$1 max=$2 url="" port
  port=$(free_port)
  local flags=(--models-dir "$tmp/models" --models-max "$max" -c 512 -np 1 -t "$threads" --host 127.0.0.1)
  "$llamac" serve "${flags[@]}" --port 0 > /dev/null 2> "$tmp/llamac-$name.log" &
  pids+=($!)
  "$server" "${flags[@]}" --port "$port" > "$tmp/server-$name.log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^llamac serve: listening on \(http:[^ ]*\)$/\1/p' "$tmp/llamac-$name.log")
    [ -n "$url" ] && curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    sleep 0.1
  done
  [ -n "$url" ] || { tail -5 "$tmp/llamac-$name.log" >&2; exit 1; }
  curl -sf "http://127.0.0.1:$port/health" > /dev/null || { tail -5 "$tmp/server-$name.log" >&2; exit 1; }
  eval "URL_L_$name=$url"
  eval "URL_S_$name=http://127.0.0.1:$port"
}

# ask URL MODEL : seconds to the answer of a one-token greedy completion
ask() {
  curl -s -o "$tmp/body" -w '%{time_total}\n' "$1/v1/completions" -H 'Content-Type: application/json' \
    -d "{\"model\":\"$2\",\"prompt\":\"Once upon a time\",\"max_tokens\":1,\"temperature\":0}"
  jq -e '.choices[0].text' "$tmp/body" > /dev/null || { echo "router.sh: $1 $2: $(cat "$tmp/body")" >&2; exit 1; }
}

# unload URL MODEL : until its status is unloaded
unload() {
  curl -s -o /dev/null "$1/models/unload" -H 'Content-Type: application/json' -d "{\"model\":\"$2\"}"
  for _ in $(seq 1 200); do
    curl -s "$1/v1/models" | jq -e --arg m "$2" '.data[] | select(.id == $m) | .status.value == "unloaded"' \
      > /dev/null && return
    sleep 0.05
  done
  echo "router.sh: $1: $2 did not unload: $(curl -s "$1/v1/models" | jq -c --arg m "$2" '.data[] | select(.id == $m) | .status')" >&2
  exit 1
}

cold() { unload "$1" a; ask "$1" a; }
warm() { ask "$1" a; }
switch() {
  local t=0 x
  for m in b a b a; do
    x=$(ask "$1" "$m")
    t=$(awk -v a="$t" -v b="$x" 'BEGIN { print a + b }')
  done
  awk -v t="$t" 'BEGIN { print t / 4 }'
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

start M 2
start S 1
ask "$URL_L_M" a > /dev/null # warm-up: both children once
ask "$URL_S_M" a > /dev/null
echo "models $(basename "$model_a"), $(basename "$model_b"); $threads thread(s), $reps runs each, load average" \
  "before: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
for r in $(seq 1 "$reps"); do
  for c in cold warm switch; do
    u=M
    [ "$c" = switch ] && u=S
    eval "l=\$URL_L_$u s=\$URL_S_$u"
    # shellcheck disable=SC2154 # set by eval
    if [ $((r % 2)) -eq 1 ]; then
      $c "$l" >> "$tmp/$c.l"
      $c "$s" >> "$tmp/$c.s"
    else
      $c "$s" >> "$tmp/$c.s"
      $c "$l" >> "$tmp/$c.l"
    fi
  done
done
echo "load average after: $(cut -d' ' -f1-3 /proc/loadavg)" >&2
echo "| case | llamac ms | llama-server ms | llamac / llama-server |"
echo "| --- | ---: | ---: | ---: |"
for c in cold warm switch; do
  l=$(median < "$tmp/$c.l")
  s=$(median < "$tmp/$c.s")
  awk -v c="$c" -v l="$l" -v s="$s" 'BEGIN { printf "| %s | %.1f | %.1f | %.2f |\n", c, l * 1000, s * 1000, l / s }'
done
