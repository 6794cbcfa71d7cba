#!/usr/bin/env bash
# Regenerates tests/reference/reasoning_budget/replies.tsv: the pinned llama-server's replies to the reasoning-budget
# requests of tests/cli/test_serve_reasoning_budget.sh, which `llamac serve` must answer byte for byte. The model and
# template are made exactly as the test makes them (`llamac synth` gives the same bytes for the same flags).
#
#     scripts/reference/reasoning-budget.sh     # llama-server from $LLAMA_SERVER or build/reference/bin
#
# Each line: the extra request fields (a JSON fragment), a tab, the reply's {reasoning_content, content} (chat
# completions) or its content blocks [{type, thinking, text}] (Anthropic, the fragment starting with "anthropic:").
set -euo pipefail
root=$(cd "$(dirname "$0")/../.." && pwd)
. "$root/scripts/reference/lib.sh"
src=${LLAMAC_LLAMA_SOURCE:-"$root/.deps/llama.cpp"}
llamac=${LLAMAC:-"$root/build/bin/llamac"}
out="$root/tests/reference/reasoning_budget"
work=$(mktemp -d)
trap 'ref_server_stop 2> /dev/null; rm -rf "$work"' EXIT
tpl="$work/think.jinja"
sed 's|</think>|<channel\|>|g; s|<think>|<\|channel>|g' "$src/models/templates/Qwen-QwQ-32B.jinja" > "$tpl"
"$llamac" synth -q -o "$work/m.gguf" --arch qwen3 --vocab-from "$src/models/ggml-vocab-gemma-4.gguf" --layers 1 \
  --embd 32 --heads 2
ref_server_start "$work/ref.log" -m "$work/m.gguf" --jinja --chat-template-file "$tpl" -c 512 -np 1 -t 1 --no-warmup
url="http://127.0.0.1:$ref_port"
mkdir -p "$out"
: > "$out/replies.tsv.new"
while IFS= read -r extra; do
  body=$(printf '{"messages":[{"role":"user","content":"Think about it."}],"temperature":0,"max_tokens":20%s}' "$extra")
  reply=$(curl -sf "$url/v1/chat/completions" -H 'Content-Type: application/json' -d "$body" |
    jq -c '.choices[0].message | {reasoning_content, content}')
  printf '%s\t%s\n' "$extra" "$reply" >> "$out/replies.tsv.new"
done < "$out/requests.txt"
body='{"model":"m","max_tokens":20,"temperature":0,"messages":[{"role":"user","content":"Think about it."}],"thinking":{"type":"enabled","budget_tokens":4}}'
reply=$(curl -sf "$url/v1/messages" -H 'Content-Type: application/json' -d "$body" |
  jq -c '[.content[] | {type, thinking, text}]')
printf 'anthropic:budget_tokens 4\t%s\n' "$reply" >> "$out/replies.tsv.new"
mv "$out/replies.tsv.new" "$out/replies.tsv"
echo "reasoning-budget: wrote $out/replies.tsv ($(wc -l < "$out/replies.tsv") replies)" >&2
