#!/usr/bin/env bash
# Regenerates tests/reference/kv/ppl.txt: the perplexity llama-perplexity (built from the pinned llama.cpp source)
# reports for each case below, which `llamac kv --quality` must reproduce (tests/cli/test_kv.sh): stories260K with
# an F16 cache, and a synthesized llama with head size 64 (written by llamac synth, $LLAMAC or build/bin/llamac,
# byte-for-byte reproducible) with F16 and with quantized caches, which llama.cpp rotates.
#
#     scripts/reference/kv-perplexity.sh            # builds llama-perplexity into .deps/build-ref
#     LLAMA_PERPLEXITY=path/to/llama-perplexity scripts/reference/kv-perplexity.sh
#
# Each line: MODEL CHUNK TYPE PPL (MODEL h64 is the synthesized one), where PPL is llama-perplexity's "Final
# estimate" (4 decimals). The runs use one sequence per decode (-b equal to -c), as llamac kv evaluates its chunks.
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
text="$root/tests/reference/kv/story.txt"
out="$root/tests/reference/kv/ppl.txt"
bin=${LLAMA_PERPLEXITY:-}
if [ -z "$bin" ]; then
  . "$root/scripts/reference/lib.sh"
  ref_tools llama-perplexity
  bin="$ref_bin/llama-perplexity"
fi

: > "$out.tmp"
llamac=${LLAMAC:-"$root/build/bin/llamac"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
"$llamac" synth -q --arch llama --layers 2 --embd 128 --heads 2 --ffn 256 --untied-output --seed 5 --init-std 0.1 \
    --vocab-from "$models/stories260K.gguf" -o "$work/h64.gguf"
for c in "stories260K.gguf 128 f16" "stories260K.gguf 64 f16" "h64 128 f16" "h64 128 q8_0" "h64 128 q4_0"; do
  set -- $c
  model="$models/$1"
  [ "$1" != h64 ] || model="$work/h64.gguf"
  ppl=$("$bin" -m "$model" -f "$text" -c "$2" -b "$2" -t 1 -fa on -ctk "$3" -ctv "$3" 2>&1 |
        sed -n 's/.*Final estimate: PPL = \([0-9.]*\).*/\1/p')
  [ -n "$ppl" ] || { echo "llama-perplexity gave no estimate for $c" >&2; exit 1; }
  echo "$1 $2 $3 $ppl" >> "$out.tmp"
done
mv "$out.tmp" "$out"
cat "$out"
