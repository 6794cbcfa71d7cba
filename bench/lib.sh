# shellcheck shell=bash disable=SC2154 # root, llamac and work are the sourcing script's
# What the bench/ scripts share: sourced after `root` (the source tree) and `llamac` are set, under set -euo pipefail.

# bench_server NAME: sets $server to the pinned llama-server (LLAMA_SERVER, this tree's reference-tools, the main
# checkout's), or exits naming how to build it; NAME is the script's, for the message.
bench_server() {
  server=${LLAMA_SERVER:-"$root/build/reference/bin/llama-server"}
  [ -x "$server" ] || server=/work/main/build/reference/bin/llama-server
  [ -x "$server" ] || { echo "$1: no llama-server (cmake --build build --target reference-tools)" >&2; exit 1; }
}

# bench_qwen05b MODEL: writes the Qwen2.5-0.5B-shaped model (synthesized f16, then Q4_K_M) to MODEL unless it exists;
# the f16 file is kept beside it in $work (build/bench-models) for the other quantizations.
bench_qwen05b() {
  local vocab="${LLAMAC_VOCAB_DIR:-$root/.deps/llama.cpp/models}/ggml-vocab-qwen2.gguf"
  [ -f "$vocab" ] || vocab=/work/main/.deps/llama.cpp/models/ggml-vocab-qwen2.gguf
  mkdir -p "$work"
  [ -f "$1" ] && return 0
  [ -f "$work/qwen2.5-0.5b-f16.gguf" ] ||
    "$llamac" synth -q -o "$work/qwen2.5-0.5b-f16.gguf" --like qwen2.5-0.5b --type f16 --vocab-from "$vocab"
  "$llamac" quantize -q "$work/qwen2.5-0.5b-f16.gguf" "$1" Q4_K_M > /dev/null
}

# bench_tmp: a temporary folder in $tmp, and an EXIT trap that stops the processes in $pids (add with pids+=($!))
# and removes it.
bench_tmp() {
  tmp=$(mktemp -d)
  pids=()
  trap bench_cleanup EXIT
}
bench_cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2> /dev/null && wait "$p" 2> /dev/null; done
  rm -rf "$tmp"
}

# free_port: a TCP port free on 127.0.0.1 now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# wait_health PORT PID LOG: waits (up to 2 minutes) until the server on PORT answers /health; exits with LOG's tail
# when process PID has ended or the time is up.
wait_health() {
  for _ in $(seq 1 600); do
    curl -sf "http://127.0.0.1:$1/health" > /dev/null 2>&1 && return 0
    kill -0 "$2" 2> /dev/null || break
    sleep 0.2
  done
  echo "the server on port $1 did not start:" >&2
  tail -5 "$3" >&2
  exit 1
}
