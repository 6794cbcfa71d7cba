#!/usr/bin/env bash
# Regenerates tests/reference/render/: the prompts `llamac serve`'s /apply-template gives for each conversation of
# tests/reference/render/conversations/ on each model below, one file <model>__<conversation>.txt (the prompt's
# bytes) or .err (the error message). They pinned the server's own rendering (BOS/EOS stripping, content parts)
# before it moved into the library (llamac_template_apply); test_render checks the library against them. The models
# are synthesized with the vocabulary and chat template of llama.cpp's vocab-only GGUFs (plus stories260K-chatml),
# and two templates of tests/reference/render/templates/ are given with --chat-template-file.
#
#     scripts/reference/render-prompts.sh [build/bin/llamac]
#
# Needs curl and jq, llama.cpp's source (.deps/llama.cpp) and the test models ($LLAMAC_TEST_MODELS).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
llamac=${1:-"$root/build/bin/llamac"}
vocabs="$root/.deps/llama.cpp/models"
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
out="$root/tests/reference/render"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# name | model | extra serve arguments
cases=(
  "stories260K-chatml|$models/stories260K-chatml.gguf|"
  "phi-3|vocab:phi-3|"
  "command-r|vocab:command-r|"
  "qwen2|vocab:qwen2|"
  "gemma-4|vocab:gemma-4|"
  "phi-3-bare|vocab:phi-3|--chat-template-file $out/templates/bare.jinja"
  "phi-3-bos_eos|vocab:phi-3|--chat-template-file $out/templates/bos_eos.jinja"
)

rm -f "$out"/*.txt "$out"/*.err
for c in "${cases[@]}"; do
  IFS='|' read -r name model extra <<< "$c"
  if [[ $model == vocab:* ]]; then
    v=${model#vocab:}
    model="$work/$v.gguf"
    [ -f "$model" ] || "$llamac" synth -q --layers 1 --embd 16 --heads 2 --vocab-from "$vocabs/ggml-vocab-$v.gguf" \
      -o "$model"
  fi
  # shellcheck disable=SC2086
  "$llamac" serve --port 0 -m "$model" -c 256 -np 1 $extra > /dev/null 2> "$work/log" &
  pid=$!
  url=""
  for _ in $(seq 1 300); do
    url=$(sed -n 's/^llamac serve: listening on \(http:[^ ]*\)$/\1/p' "$work/log")
    [ -n "$url" ] && break
    sleep 0.1
  done
  [ -n "$url" ] || { cat "$work/log" >&2; kill "$pid"; exit 1; }
  for conv in "$out"/conversations/*.json; do
    base="$out/${name}__$(basename "$conv" .json)"
    curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$conv" \
      "$url/apply-template" > "$work/code"
    if [ "$(cat "$work/code")" = 200 ]; then
      jq -j .prompt "$work/body" > "$base.txt"
    else
      jq -j .error.message "$work/body" > "$base.err"
    fi
  done
  kill -TERM "$pid"
  wait "$pid" || true
done
