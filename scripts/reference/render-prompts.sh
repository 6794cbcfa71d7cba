#!/usr/bin/env bash
# Regenerates tests/reference/render/: the prompts the pinned llama-server's /apply-template gives for each
# conversation of tests/reference/render/conversations/ on each model below, one file <model>__<conversation>.txt
# (the prompt's bytes) or .err ("STATUS MESSAGE" of a refusal). test_render checks llamac_template_apply against
# them: BOS/EOS stripping, content parts, the model's own template. The models are synthesized by `llamac synth`
# with the vocabulary and chat template of llama.cpp's vocab-only GGUFs (plus stories260K-chatml), and two templates
# of tests/reference/render/templates/ are given with --chat-template-file.
#
#     scripts/reference/render-prompts.sh [build/bin/llamac]
#
# Needs curl and jq, llama.cpp's source (.deps/llama.cpp), the test models ($LLAMAC_TEST_MODELS) and llama-server
# from the reference-tools build ($LLAMA_SERVER, default build/reference/bin/llama-server).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
llamac=${1:-"$root/build/bin/llamac"}
vocabs="$root/.deps/llama.cpp/models"
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
out="$root/tests/reference/render"
. "$root/scripts/reference/lib.sh"
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
  ref_server_start "$work/log" -m "$model" --jinja -c 256 -np 1 -t 1 --no-warmup $extra || exit 1
  url="http://127.0.0.1:$ref_port"
  for conv in "$out"/conversations/*.json; do
    base="$out/${name}__$(basename "$conv" .json)"
    curl -s -o "$work/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary "@$conv" \
      "$url/apply-template" > "$work/code"
    if [ "$(cat "$work/code")" = 200 ]; then
      jq -j .prompt "$work/body" > "$base.txt"
    else
      printf '%s %s\n' "$(cat "$work/code")" "$(jq -r .error.message "$work/body")" > "$base.err"
    fi
  done
  ref_server_stop
done
