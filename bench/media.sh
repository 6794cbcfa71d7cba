#!/usr/bin/env bash
# Multimodal: an image's encode and the first token after it, `llamac run` against llama.cpp's `llama-mtmd-cli`
# (from `cmake --build build --target reference-tools`, or $LLAMA_MTMD_CLI) on the same model, projector, image,
# prompt, threads and settings, runs interleaved; and what the media cache saves on a second chat turn.
#
# Each run is a whole process from start to the first generated token (-n 1): loading the model and the projector
# (with its warm-up encode, on for both), decoding and preprocessing the image, encoding it, decoding the prompt
# and sampling one token. The projector is a synthesized CLIP ViT big enough for the encode to count (224x224 images
# in 14x14 patches, 256 tokens, 256 wide, 6 blocks) over stories260K-chatml; the image is a fixture of
# test_media_fidelity. Prints medians (ms) and llama-mtmd-cli's time over llamac's (above 1: llamac is faster).
# The chat part runs `llamac chat` with the image and two questions, and prints each turn's first-token time and
# how many prompt tokens it decoded and reused: the second turn reuses the image from the sequence.
#
# The serve part starts `llamac serve --mmproj` and the pinned `llama-server --mmproj` ($LLAMA_SERVER, default beside
# llama-mtmd-cli) on the same files and settings (-np 1, -fa off), one after the other, and sends each the same chat
# requests, one at a time: for each of the fixture images a request with it (max_tokens 1: the time to the first
# token, the image decoded and encoded), then the same request again (the image from the prompt cache), and prints
# the medians of the client's wall time and of the server's timings.prompt_ms, with the cached tokens.
#
# Usage: bench/media.sh [REPEATS] [THREADS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-8}
threads=${2:-$(nproc)}
build=${LLAMAC_BUILD:-"$root/build"}
llamac=${LLAMAC_BIN:-"$build/bin/llamac"}
. "$root/bench/lib.sh"
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
ref=${LLAMA_MTMD_CLI:-"$build/reference/bin/llama-mtmd-cli"}
server_ref=${LLAMA_SERVER:-"$(dirname "$ref")/llama-server"}
[ -x "$ref" ] || { echo "media.sh: build llama-mtmd-cli first (cmake --build build --target reference-tools)" >&2; exit 1; }
model="$models/stories260K-chatml.gguf"

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
env -u LLAMAC_LLAMA_SOURCE LLAMAC_TEST_MODELS="$models" "$build/bin/test_media_fidelity" --write-fixtures "$work" \
  > /dev/null
"$llamac" synth --mmproj vision -m "$model" -o "$work/mmproj.gguf" --embd 256 --heads 8 --layers 6 --ffn 1024 \
  --image-size 224 --patch-size 14 -q
img="$work/rings-48x40.png"
# The prompt llama-mtmd-cli renders for -p "<__media__>Describe it" with this model's template.
printf '<|im_start|>user\n<__media__>Describe it<|im_end|>\n<|im_start|>assistant\n' > "$work/prompt"
same=(-m "$model" --mmproj "$work/mmproj.gguf" --image "$img" -n 1 --temp 0 -t "$threads" -c 2048 -fa off)

now_ms() { echo $(($(date +%s%N) / 1000000)); }
run_llamac() { "$llamac" run "${same[@]}" -f "$work/prompt" --parse-special > /dev/null 2>&1; }
run_ref() { "$ref" "${same[@]}" -p "<__media__>Describe it" --jinja --no-warmup < /dev/null > /dev/null 2>&1; }
median() { sort -n | awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }'; }

run_llamac # warm the page cache for both
run_ref
: > "$work/a"
: > "$work/b"
for i in $(seq 1 "$reps"); do
  for who in a b; do
    # alternate which goes first
    if [ $((i % 2)) = 0 ]; then [ "$who" = a ] && w=b || w=a; else w=$who; fi
    t0=$(now_ms)
    if [ "$w" = a ]; then run_llamac; else run_ref; fi
    echo $(($(now_ms) - t0)) >> "$work/$w"
  done
done
a=$(median < "$work/a")
b=$(median < "$work/b")
echo "image + first token, whole process, median of $reps (ms, $threads threads):"
echo "  llamac run      $a"
echo "  llama-mtmd-cli  $b"
echo "  llama-mtmd-cli / llamac = $(awk -v a="$a" -v b="$b" 'BEGIN { printf "%.3f", b / a }')"

# The media cache: two turns about one image.
: > "$work/t1"
: > "$work/t2"
for i in $(seq 1 "$reps"); do
  printf 'Describe it\nAnd then?\n' | "$llamac" chat -m "$model" --mmproj "$work/mmproj.gguf" --image "$img" -n 8 \
    --temp 0 -t "$threads" -c 2048 -fa off > /dev/null 2> "$work/chat.err"
  grep -o 'first token [0-9]* ms | [^|]*| prompt: [0-9]* new, [0-9]* cached' "$work/chat.err" |
    sed 's/first token \([0-9]*\) ms.*prompt: \([0-9]*\) new, \([0-9]*\) cached/\1 \2 \3/' > "$work/turns"
  sed -n 1p "$work/turns" >> "$work/t1"
  sed -n 2p "$work/turns" >> "$work/t2"
done
echo "chat, first-token time per turn, median of $reps (ms; prompt tokens decoded / reused):"
echo "  turn 1 (image encoded)     $(cut -d' ' -f1 "$work/t1" | median)  ($(head -1 "$work/t1" | cut -d' ' -f2) / $(head -1 "$work/t1" | cut -d' ' -f3))"
echo "  turn 2 (image from cache)  $(cut -d' ' -f1 "$work/t2" | median)  ($(head -1 "$work/t2" | cut -d' ' -f2) / $(head -1 "$work/t2" | cut -d' ' -f3))"

# The server: a first request with an image and the same request again, llamac serve and llama-server.
[ -x "$server_ref" ] || { echo "media.sh: no llama-server at $server_ref: the serve part is skipped" >&2; exit 0; }
command -v jq > /dev/null || { echo "media.sh: jq is needed for the serve part" >&2; exit 1; }
images=("$work"/*.png)
serve_case() { # serve_case NAME COMMAND...: starts the server, sends the requests, writes NAME.first / NAME.again
  local name=$1
  shift
  local port
  port=$(free_port)
  "$@" --host 127.0.0.1 --port "$port" -m "$model" --mmproj "$work/mmproj.gguf" -np 1 -t "$threads" -c 2048 \
    -fa off > "$work/$name.log" 2>&1 &
  local pid=$! i img turn
  wait_health "$port" "$pid" "$work/$name.log"
  : > "$work/$name.first"
  : > "$work/$name.again"
  for i in $(seq 1 "$reps"); do
    for img in "${images[@]}"; do
      # a text of its own per repetition before the image, so that the first request of each finds nothing
      # cached: llama-server keeps earlier prompts in its RAM cache (--cache-ram), and a prompt that begins with the
      # image would find it there from the previous repetition
      jq -nc --arg url "data:image/png;base64,$(base64 -w0 "$img")" --arg t "Picture $i." '{messages: [{role:
        "user", content: [{type: "text", text: $t}, {type: "image_url", image_url: {url: $url}}, {type: "text",
        text: "Describe it"}]}], max_tokens: 1, temperature: 0}' > "$work/body.json"
      for turn in first again; do
        curl -s -o "$work/reply.json" -w '%{time_total}' -H 'Content-Type: application/json' \
          --data-binary @"$work/body.json" "http://127.0.0.1:$port/v1/chat/completions" > "$work/wall"
        printf '%s %s %s\n' "$(awk '{ printf "%d", $1 * 1000 }' "$work/wall")" \
          "$(jq -r '.timings.prompt_ms // 0 | floor' "$work/reply.json")" \
          "$(jq -r '.usage.prompt_tokens_details.cached_tokens // 0' "$work/reply.json")" >> "$work/$name.$turn"
      done
    done
  done
  kill "$pid"
  wait "$pid" 2> /dev/null || true
}
serve_case llamac "$llamac" serve
serve_case ref "$server_ref"
echo "serve, a chat request with an image (max_tokens 1), ${#images[@]} images x $reps, median (ms wall / server's prompt_ms; cached tokens):"
for turn in first again; do
  for who in llamac ref; do
    label=$([ "$who" = llamac ] && echo "llamac serve" || echo "llama-server")
    printf '  %-6s %-13s %6s / %6s  (%s cached)\n' "$turn" "$label" "$(cut -d' ' -f1 "$work/$who.$turn" | median)" \
      "$(cut -d' ' -f2 "$work/$who.$turn" | median)" "$(cut -d' ' -f3 "$work/$who.$turn" | median)"
  done
done
