#!/usr/bin/env bash
# Speculative decoding: single-stream generation speed of `llamac run` without speculation, with n-gram lookup and
# with draft models, against llama-server (the pinned llama.cpp's, started with the same flags; its /completion
# timings give tokens/s and drafted/accepted counts), runs interleaved in the same session. Prints tokens/s, the
# acceptance rate, the speed-up over no speculation and the ratio to llama-server, as a markdown table.
#
# The settings (rows): none; ngram, llama.cpp's ngram-simple (n-grams of exactly NGRAM_N = 6 tokens, drafts of up to
# DRAFT_MAX = 12) in both; ngram-longest, llamac's lookup of the longest n-gram of 16 down to 4 tokens that occurred
# before (`--spec-ngram-size-n 16 --spec-ngram-size-n-min 4`), which llama-server has not (its columns: -); draft,
# the target's first 4 layers as its draft (a layer-skip draft: llamac synth makes the layers, embeddings and head a
# smaller model shares with a larger one equal), and draft-small (MODEL=copy), a small model of the same vocabulary
# that does the target's job (1 layer, 256 wide: a tenth of the target's bytes), each with drafts of up to DRAFT_MAX
# while its top token is at least 0.75 likely. All models are synthesized in Q4_K_M (cached in build/bench-models).
# The prompt is copy-heavy (code to be repeated with a change), the case n-gram lookup is for.
#
# MODEL=copy (the default): the target is a copy model (`llamac synth --copy-period K`), whose greedy continuation
# repeats the input with period K, as a trained model asked to repeat code copies it; K is the distance in tokens
# between the prompt's two `def area(` headers, so after the second header it writes the first function's body, the
# second function, the comment and the header again, and so on. Its layers after the first add damped random outputs
# (--copy-noise, NOISE, default 0.5) that change a token now and then, so the drafts (which copy without them) agree
# with it on most tokens, not all. Same tensors, shapes and types as the random model: the same cost per token.
# MODEL=random: the random-weight target and its 4-layer draft (their output copies nothing, so n-gram lookup finds
# little to draft; no draft-small row).
#
# The server case follows: `llamac serve` with the same flags, one stream on /completion against llama-server's
# (from the table above), and STREAMS (16) streams at once of STREAM_N (128) tokens each (aggregate tokens/s: all
# generated tokens over the wall time of the burst; llamac serve's --spec-batch-max policy), every setting once per
# round, REPS rounds, the median of each.
#
# Usage: bench/spec.sh [TARGET.gguf DRAFT.gguf [SMALL.gguf]] ; MODEL (copy|random), NOISE (0.5), N_PREDICT (256),
# NGRAM_N (6), DRAFT_MAX (12), THREADS, REPS (3), CTX (2048), STREAMS (16), STREAM_N (128), SERVER (1; 0 skips the
# server case), LLAMAC_BIN, LLAMA_SERVER override.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
. "$root/bench/lib.sh"
bench_server spec.sh
work="$root/build/bench-models"
vocab="${LLAMAC_VOCAB_DIR:-$root/.deps/llama.cpp/models}/ggml-vocab-qwen2.gguf"
[ -f "$vocab" ] || vocab=/work/main/.deps/llama.cpp/models/ggml-vocab-qwen2.gguf
n=${N_PREDICT:-256}
threads=${THREADS:-$(nproc)}
reps=${REPS:-3}
port=${PORT:-18473}
ctx=${CTX:-2048}
model=${MODEL:-copy}
noise=${NOISE:-0.5}
ngram_n=${NGRAM_N:-6}
dmax=${DRAFT_MAX:-12}
prompt='def area(shape, w, h):
    if shape == "rect":
        return w * h
    if shape == "tri":
        return w * h / 2
    return 0

def perimeter(shape, w, h):
    if shape == "rect":
        return 2 * (w + h)
    return 0

# The same two functions again, with `shape` renamed to `kind`:
def area(kind, w, h):
'
case $model in
  random)
    target=${1:-"$work/qwen2.5-0.5b-q4_k_m.gguf"}
    draft=${2:-"$work/draft-q4_k_m.gguf"}
    bench_qwen05b "$target"
    if [ ! -f "$draft" ]; then
      "$llamac" synth -q -o "$work/draft-f16.gguf" --like qwen2.5-0.5b --layers 4 --type f16 --vocab-from "$vocab"
      "$llamac" quantize -q "$work/draft-f16.gguf" "$draft" Q4_K_M > /dev/null
    fi
    ;;
  copy)
    # K: from the prompt's first token (the first header's `def`) to its last occurrence (the second header's).
    k=$(printf '%s' "$prompt" | "$llamac" tokenize -m "$vocab" --no-bos |
      python3 -c 'import json,sys; t=json.load(sys.stdin); print(max(i for i in range(1, len(t)) if t[i] == t[0]))')
    target=${1:-"$work/qwen2.5-0.5b-copy$k-noise$noise-q4_k_m.gguf"}
    draft=${2:-"$work/draft-copy$k-noise$noise-q4_k_m.gguf"}
    small=${3:-"$work/small-copy$k-q4_k_m.gguf"}
    mkdir -p "$work"
    # file:synth flags: the target, its 4-layer cut, and the small model (1 layer, 256 wide: ~10% of the target's bytes)
    for f in "$target:--layers 24" "$draft:--layers 4" \
      "$small:--layers 1 --embd 256 --heads 4 --kv-heads 2 --head-dim 64 --ffn 512"; do
      [ -f "${f%%:*}" ] && continue
      # shellcheck disable=SC2086
      "$llamac" synth -q -o "$work/copy-f16.gguf" --like qwen2.5-0.5b ${f#*:} --type f16 \
        --copy-period "$k" --copy-noise "$noise" --vocab-from "$vocab"
      "$llamac" quantize -q "$work/copy-f16.gguf" "${f%%:*}" Q4_K_M > /dev/null
      rm -f "$work/copy-f16.gguf"
    done
    ;;
  *) echo "MODEL must be copy or random, not '$model'" >&2; exit 2 ;;
esac

tmp=$(mktemp -d)
srv_pid=
cleanup() {
  [ -n "$srv_pid" ] && kill "$srv_pid" 2> /dev/null && wait "$srv_pid" 2> /dev/null
  rm -rf "$tmp"
}
trap cleanup EXIT
printf '%s' "$prompt" > "$tmp/prompt.txt"
python3 -c 'import json,sys; print(json.dumps({"prompt": open(sys.argv[1]).read(), "n_predict": int(sys.argv[2]),
  "temperature": 0, "ignore_eos": True, "cache_prompt": False}))' "$tmp/prompt.txt" "$n" > "$tmp/req.json"
python3 -c 'import json,sys; print(json.dumps({"prompt": open(sys.argv[1]).read(), "n_predict": int(sys.argv[2]),
  "temperature": 0, "ignore_eos": True, "cache_prompt": False}))' "$tmp/prompt.txt" "${STREAM_N:-128}" > "$tmp/req16.json"

# name | llamac flags | llama-server flags (the same settings under llama-server's names)
draft_flags() { echo "-md $1 --spec-draft-n-max $dmax --spec-draft-p-min 0.75"; }
configs=(
  "none||"
  "ngram|--spec-type ngram-simple --spec-ngram-size-n $ngram_n --spec-draft-n-max $dmax|--spec-type ngram-simple --spec-ngram-simple-size-n $ngram_n --spec-ngram-simple-size-m $dmax"
  "ngram-longest|--spec-type ngram-simple --spec-ngram-size-n 16 --spec-ngram-size-n-min 4 --spec-draft-n-max $dmax|-"
  "draft|$(draft_flags "$draft")|$(draft_flags "$draft") --spec-type draft-simple -ngld 0"
)
[ -n "${small:-}" ] && configs+=("draft-small|$(draft_flags "$small")|$(draft_flags "$small") --spec-type draft-simple -ngld 0")

# llamac run: "tok/s drafted accepted"
run_llamac() {
  # shellcheck disable=SC2086
  "$llamac" run -m "$target" -f "$tmp/prompt.txt" -n "$n" --temp 0 --ignore-eos -t "$threads" -c "$ctx" -q -v $1 \
    > /dev/null 2> "$tmp/err" || { cat "$tmp/err" >&2; return 1; }
  awk '/tokens generated at/ { for (i = 1; i <= NF; i++) if ($i == "at") s = $(i + 1) }
       / drafted [0-9]+ tokens, accepted / { d = $5; a = $8 } END { printf "%s %d %d\n", s, d, a }' "$tmp/err"
}

# llama-server (or llamac serve): one /completion, "tok/s drafted accepted"
run_server() {
  curl -sf "http://127.0.0.1:${1:-$port}/completion" -H 'Content-Type: application/json' -d @"$tmp/req.json" |
    python3 -c 'import json,sys; t=json.load(sys.stdin)["timings"]
print(t["predicted_per_second"], t.get("draft_n", 0), t.get("draft_n_accepted", 0))'
}

median() { sort -g | awk '{ v[NR] = $1 } END { if (NR) print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

echo "target $(basename "$target"), draft $(basename "$draft"), $n tokens, $threads threads, $reps runs each" >&2
echo "model: $model${k:+ (copy period $k, noise $noise)}"
declare -A tps acc
for cfg in "${configs[@]}"; do
  IFS='|' read -r name lflags sflags <<< "$cfg"
  : > "$tmp/l" && : > "$tmp/s"
  if [ "$sflags" = - ]; then # llamac's own setting, which llama-server has not
    for _ in $(seq 1 "$reps"); do run_llamac "$lflags" >> "$tmp/l"; done
  else
    # shellcheck disable=SC2086
    "$server" -m "$target" $sflags -c "$ctx" -np 1 -t "$threads" --port "$port" --host 127.0.0.1 > "$tmp/srv.log" 2>&1 &
    srv_pid=$!
    wait_health "$port" "$srv_pid" "$tmp/srv.log"
    run_server > /dev/null # warm-up
    for r in $(seq 1 "$reps"); do
      if [ $((r % 2)) -eq 1 ]; then
        run_llamac "$lflags" >> "$tmp/l"; run_server >> "$tmp/s"
      else
        run_server >> "$tmp/s"; run_llamac "$lflags" >> "$tmp/l"
      fi
    done
    kill "$srv_pid" && wait "$srv_pid" 2> /dev/null || true
    srv_pid=
  fi
  for side in l s; do
    tps[$name$side]=$(awk '{ print $1 }' "$tmp/$side" | median)
    acc[$name$side]=$(awk '{ d += $2; a += $3 } END { printf "%s", d ? sprintf("%.1f%% (%d/%d)", 100 * a / d, a, d) : "-" }' "$tmp/$side")
  done
  echo "$name: llamac ${tps[${name}l]} tok/s ${acc[${name}l]}, llama-server ${tps[${name}s]} tok/s ${acc[${name}s]}" >&2
done

echo "| speculation | llamac tok/s | accepted | vs none | llama-server tok/s | accepted | vs none | llamac / llama-server |"
echo "| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: |"
for cfg in "${configs[@]}"; do
  name=${cfg%%|*}
  awk -v name="$name" -v l="${tps[${name}l]}" -v s="${tps[${name}s]}" -v l0="${tps[nonel]}" -v s0="${tps[nones]}" \
    -v al="${acc[${name}l]}" -v as="${acc[${name}s]}" \
    'BEGIN { if (s == "") printf "| %s | %.1f | %s | %.2fx | - | - | - | - |\n", name, l, al, l / l0
             else printf "| %s | %.1f | %s | %.2fx | %.1f | %s | %.2fx | %.2f |\n", name, l, al, l / l0, s, as, s / s0, l / s }'
done

[ "${SERVER:-1}" = 1 ] || exit 0

# The server case. start_llamac_serve FLAGS NP: `llamac serve` on port+1, waiting for /health.
sport=$((port + 1))
start_llamac_serve() {
  # shellcheck disable=SC2086
  "$llamac" serve -m "$target" $1 -c "$((ctx * $2))" -np "$2" -t "$threads" --port "$sport" > "$tmp/lsrv.log" 2>&1 &
  srv_pid=$!
  wait_health "$sport" "$srv_pid" "$tmp/lsrv.log"
}
stop_llamac_serve() { kill "$srv_pid" && wait "$srv_pid" 2> /dev/null || true; srv_pid=; }

# 16 streams: all at once, aggregate tokens/s over the wall time. burst FILE: one burst, "tok/s drafted accepted".
streams=${STREAMS:-16}
burst() {
  local t0 t1 pids=() i
  t0=$(date +%s.%N)
  for i in $(seq 1 "$streams"); do
    curl -sf "http://127.0.0.1:$sport/completion" -H 'Content-Type: application/json' -d @"$tmp/req16.json" \
      > "$tmp/out$i" &
    pids+=($!)
  done
  wait "${pids[@]}"
  t1=$(date +%s.%N)
  python3 -c 'import json,sys
d = a = n = 0
for f in sys.argv[3:]:
    t = json.load(open(f))["timings"]; n += t["predicted_n"]; d += t.get("draft_n", 0); a += t.get("draft_n_accepted", 0)
print(n / (float(sys.argv[2]) - float(sys.argv[1])), d, a)' "$t0" "$t1" "$tmp"/out*
  rm -f "$tmp"/out*
}
warm_up() { curl -sf "http://127.0.0.1:$sport/completion" -d '{"prompt": "def", "n_predict": 8}' > /dev/null; }

# Round by round, every setting once per round (a server for one stream, then one with $streams slots for a burst),
# so that the machine's drift from minute to minute reaches all settings alike.
for cfg in "${configs[@]}"; do : > "$tmp/v_${cfg%%|*}" && : > "$tmp/m_${cfg%%|*}"; done
for r in $(seq 1 "$reps"); do
  for cfg in "${configs[@]}"; do
    IFS='|' read -r name lflags _ <<< "$cfg"
    echo "server round $r: $name" >&2
    start_llamac_serve "$lflags" 1
    warm_up
    run_server "$sport" >> "$tmp/v_$name"
    stop_llamac_serve
    start_llamac_serve "$lflags" "$streams"
    warm_up
    burst >> "$tmp/m_$name"
    stop_llamac_serve
  done
done
accepted() { awk '{ d += $2; a += $3 } END { printf "%s", d ? sprintf("%.1f%% (%d/%d)", 100 * a / d, a, d) : "-" }' "$1"; }

echo
echo "| server, 1 stream | llamac serve tok/s | accepted | vs none | llama-server (above) tok/s | llamac / llama-server |"
echo "| --- | ---: | ---: | ---: | ---: | ---: |"
v0=$(awk '{ print $1 }' "$tmp/v_none" | median)
for cfg in "${configs[@]}"; do
  name=${cfg%%|*}
  awk -v name="$name" -v v="$(awk '{ print $1 }' "$tmp/v_$name" | median)" -v v0="$v0" -v s="${tps[${name}s]}" \
    -v a="$(accepted "$tmp/v_$name")" \
    'BEGIN { if (s == "") printf "| %s | %.1f | %s | %.2fx | - | - |\n", name, v, a, v / v0
             else printf "| %s | %.1f | %s | %.2fx | %.1f | %.2f |\n", name, v, a, v / v0, s, v / s }'
done

echo
echo "| server, $streams streams | aggregate tok/s | accepted | vs none |"
echo "| --- | ---: | ---: | ---: |"
m0=$(awk '{ print $1 }' "$tmp/m_none" | median)
for cfg in "${configs[@]}"; do
  name=${cfg%%|*}
  awk -v name="$name" -v v="$(awk '{ print $1 }' "$tmp/m_$name" | median)" -v v0="$m0" -v a="$(accepted "$tmp/m_$name")" \
    'BEGIN { printf "| %s | %.1f | %s | %.2fx |\n", name, v, a, v / v0 }'
done
