#!/usr/bin/env bash
# ggml RPC on loopback: prompt and generation speed of a model run locally and split over two RPC servers, llamac
# (`llamac-bench` over two `llamac rpc-server`s) against llama.cpp (`llama-bench` over two `ggml-rpc-server`s, from
# `cmake --build build --target reference-tools`), the four cases interleaved in every repetition.
#
# The servers listen on addresses of their own (127.0.0.2 and 127.0.0.3), each with one CPU thread, and are started
# once per model and kind; every run loads the model anew (its tensors travel to the servers each time, as they
# would for a client starting up). The client uses one thread. Prints, per model, the medians (tokens/s) and the
# median of the ratios paired within each repetition (llamac / llama.cpp; above 1: llamac is faster).
#
# Usage: bench/rpc.sh [REPEATS] [MODEL...]
#   default models: stories260K and the 0.5B-shaped Q8_0 of `make bench` (build/bench-models; run `make bench`
#   once to make it)
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-4}
shift || true
build=${LLAMAC_BUILD:-"$root/build"}
models_dir=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
ref="$build/reference/bin"
for tool in "$build/bin/llamac" "$build/bin/llamac-bench" "$ref/llama-bench" "$ref/ggml-rpc-server"; do
  [ -x "$tool" ] || { echo "rpc.sh: $tool is missing (cmake --build build --target reference-tools)" >&2; exit 1; }
done
models=("$@")
if [ ${#models[@]} = 0 ]; then
  models=("$models_dir/stories260K.gguf" "$build/bench-models/qwen2.5-0.5b-q8_0.gguf")
fi
for m in "${models[@]}"; do
  [ -f "$m" ] || { echo "rpc.sh: $m is missing (make bench synthesizes the 0.5B-shaped models)" >&2; exit 1; }
done

pp=128
tg=64
base_port=$((50100 + RANDOM % 800))
work=$(mktemp -d)
pids=()
stop_servers() {
  for pid in "${pids[@]}"; do kill "$pid" 2> /dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2> /dev/null || true; done
  pids=()
}
trap 'stop_servers; rm -rf "$work"' EXIT

# serve KIND PORT: one RPC server of KIND (llamac or ref) on each of 127.0.0.2 and 127.0.0.3, port PORT; waits until
# both accept connections.
serve() {
  local kind=$1 port=$2 host
  for host in 127.0.0.2 127.0.0.3; do
    if [ "$kind" = llamac ]; then
      "$build/bin/llamac" rpc-server -q -H "$host" -p "$port" -t 1 > "$work/$kind-$host.log" 2>&1 &
    else
      "$ref/ggml-rpc-server" -H "$host" -p "$port" -t 1 > "$work/$kind-$host.log" 2>&1 &
    fi
    pids+=($!)
  done
  for host in 127.0.0.2 127.0.0.3; do
    for _ in $(seq 1 100); do
      (exec 3<> "/dev/tcp/$host/$port") 2> /dev/null && break
      sleep 0.1
    done
  done
}

# speed KIND MODEL [RPC]: "PP TG" tokens/s of one run.
speed() {
  local kind=$1 model=$2 rpc=${3:-}
  if [ "$kind" = llamac ]; then
    "$build/bin/llamac-bench" -m "$model" --mode speed -t 1 -p "$pp" -n "$tg" -r 1 ${rpc:+--rpc "$rpc"} \
      2> /dev/null > "$work/out"
    printf '%s %s\n' "$(jq -r 'select(.test == "pp") | .avg_ts' "$work/out")" \
      "$(jq -r 'select(.test == "tg") | .avg_ts' "$work/out")"
  else
    "$ref/llama-bench" -m "$model" -t 1 -p "$pp" -n "$tg" -r 1 -o jsonl ${rpc:+--rpc "$rpc" -ngl 99} \
      2> /dev/null > "$work/out"
    printf '%s %s\n' "$(jq -r 'select(.n_gen == 0) | .avg_ts' "$work/out")" \
      "$(jq -r 'select(.n_prompt == 0) | .avg_ts' "$work/out")"
  fi
}

median() { sort -g | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "ggml RPC on loopback: pp$pp / tg$tg tokens/s, one client thread, two servers of one thread each, $reps" \
  "repetitions, medians; ratio = median of paired llamac / llama.cpp. $(date -u '+%Y-%m-%d %H:%M UTC');" \
  "load average $(cut -d' ' -f1-3 /proc/loadavg) before."
echo
echo "| model | case | llamac | llama.cpp | ratio | split / local, llamac / llama.cpp |"
echo "| --- | --- | ---: | ---: | ---: | ---: |"
for model in "${models[@]}"; do
  name=$(basename "$model" .gguf)
  lport=$base_port
  rport=$((base_port + 1))
  base_port=$((base_port + 2))
  serve llamac "$lport"
  serve ref "$rport"
  : > "$work/rows"
  for rep in $(seq 1 "$reps"); do
    read -r a b <<< "$(speed llamac "$model")"
    read -r c d <<< "$(speed ref "$model")"
    read -r e f <<< "$(speed llamac "$model" "127.0.0.2:$lport,127.0.0.3:$lport")"
    read -r g h <<< "$(speed ref "$model" "127.0.0.2:$rport,127.0.0.3:$rport")"
    echo "$a $b $c $d $e $f $g $h" >> "$work/rows"
    echo "rpc.sh: $name, repetition $rep of $reps" >&2
  done
  stop_servers
  col() { awk -v i="$1" '{ print $i }' "$work/rows" | median; }
  ratio() { awk -v i="$1" -v j="$2" '{ print $i / $j }' "$work/rows" | median; }
  row() { # LABEL LLAMAC_COLUMN REF_COLUMN LOCAL_LLAMAC_COLUMN LOCAL_REF_COLUMN
    local split=""
    if [ -n "${4:-}" ]; then
      split=$(printf '%.2f / %.2f' "$(ratio "$2" "$4")" "$(ratio "$3" "$5")")
    fi
    printf '| %s | %s | %.1f | %.1f | %.2f | %s |\n' "$name" "$1" "$(col "$2")" "$(col "$3")" "$(ratio "$2" "$3")" \
      "$split"
  }
  row "local CPU, prompt" 1 3
  row "local CPU, generation" 2 4
  row "2 RPC servers, prompt" 5 7 1 3
  row "2 RPC servers, generation" 6 8 2 4
done
