#!/usr/bin/env bash
# Regenerates tests/reference/lora/: the greedy text llama.cpp's own tools (built from the pinned source) give with a
# LoRA adapter or a control vector, which `llamac run` must reproduce (tests/cli/test_lora.sh). The adapters are
# written by `llamac synth --lora` / `--control-vector` ($LLAMAC or build/bin/llamac; the same flags give the same
# bytes), for stories260K and for a synthesized llama (n_embd 128, untied output, its vocabulary from stories260K).
#
#     scripts/reference/lora.sh        # llama.cpp's tools from $LLAMA_BIN (default /work/main/build/reference/bin,
#                                      # else .deps/build-ref/bin, built here)
#
# For each case of cases.tsv (NAME MODEL FLAGS, where MODEL is stories or synth), NAME.txt is what llama-completion
# prints for "Once upon a time", 48 tokens, --temp 0, with FLAGS (adapter files named by their case-file names). A
# FLAGS of "merged:FILE:SCALE" runs llama-completion on the model llama-export-lora writes with --lora-scaled
# FILE:SCALE instead. Needs python3 (for U+FFFD, below).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
out="$root/tests/reference/lora"
bin=${LLAMA_BIN:-/work/main/build/reference/bin}
if [ ! -x "$bin/llama-completion" ] || [ ! -x "$bin/llama-export-lora" ]; then
  . "$root/scripts/reference/lib.sh"
  ref_tools llama-completion llama-export-lora
  bin="$ref_bin"
fi
llamac=${LLAMAC:-"$root/build/bin/llamac"}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The files, exactly as tests/cli/test_lora.sh writes them.
stories="$models/stories260K.gguf"
"$llamac" synth -q --arch llama --layers 2 --embd 128 --heads 2 --ffn 256 --untied-output --seed 5 --init-std 0.1 \
    --vocab-from "$stories" -o "$work/synth.gguf"
"$llamac" synth -q --lora -m "$stories" -o "$work/stories-lora.gguf" --targets all --seed 1 --init-std 0.07
"$llamac" synth -q --lora -m "$work/synth.gguf" -o "$work/synth-lora.gguf" --targets all --rank 4 --seed 3 \
    --init-std 0.1
"$llamac" synth -q --control-vector -m "$stories" -o "$work/stories-cvec.gguf" --seed 2 --init-std 0.1

rm -f "$out"/*.txt
while IFS=$'\t' read -r name model flags; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  m="$stories"
  [ "$model" != synth ] || m="$work/synth.gguf"
  case "$flags" in
    merged:*)
      IFS=: read -r _ file scale <<< "$flags"
      "$bin/llama-export-lora" -m "$m" --lora-scaled "$work/$file:$scale" -o "$work/merged.gguf" >/dev/null 2>&1
      m="$work/merged.gguf"
      args=()
      ;;
    *) read -r -a args <<< "${flags//@/$work/}" ;;
  esac
  # llama-completion ends its output with "\n\n" of its own. It prints through an asynchronous log and now and then
  # exits before the end is written: such a run is repeated.
  for try in 1 2 3 4 5 6 7 8; do
    "$bin/llama-completion" -m "$m" "${args[@]}" -p "Once upon a time" -n 48 --temp 0 -no-cnv --no-display-prompt \
        --simple-io --no-warmup -t 1 < /dev/null > "$work/raw" 2>/dev/null
    [ "$(tail -c 2 "$work/raw" | od -An -c | tr -d ' ')" != '\n\n' ] || break
    [ "$try" != 8 ] || { echo "llama-completion never finished its output for $name" >&2; exit 1; }
  done
  # Drop the "\n\n"; bytes that are not UTF-8 (random weights pick lone byte tokens) become U+FFFD, as llamac's
  # text output delivers them (llama-completion prints them raw).
  head -c -2 "$work/raw" | python3 -c 'import sys; sys.stdout.buffer.write(sys.stdin.buffer.read().decode("utf-8", "replace").encode())' > "$out/$name.txt"
  echo "lora: $name" >&2
done < "$out/cases.tsv"
