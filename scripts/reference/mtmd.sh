#!/usr/bin/env bash
# Regenerates tests/reference/mtmd/: what llama.cpp's llama-mtmd-cli (built from the pinned source) makes of each case
# of tests/reference/mtmd/cases.tsv, which tests/unit/test_media_fidelity.c must reproduce:
#   <name>.embd  the medium's embeddings, as llama-mtmd-cli dumps them with MTMD_DEBUG_EMBEDDINGS=FILE
#                ([int32 n_tokens][int32 n_embd][float32 data])
#   <name>.txt   its greedy answer (--temp 0) to the case's user text, through the model's chat template (--jinja: the
#                template itself, as llamac renders it, not llama.cpp's built-in imitation of it)
# The projectors, the synthesized text model of the M-RoPE cases (a qwen2vl with the vocabulary of llama.cpp's source
# tree) and the media files come from the test program itself (test_media_fidelity --write-fixtures DIR, which
# llamac's build makes: $LLAMAC_BUILD, default build/), so both sides read the same bytes. Both run with flash
# attention off, 2 threads and a 1024-token context.
#
#     scripts/reference/mtmd.sh                       # builds llama-mtmd-cli into .deps/build-ref
#     LLAMA_MTMD_CLI=path/to/llama-mtmd-cli scripts/reference/mtmd.sh
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
build=${LLAMAC_BUILD:-"$root/build"}
out="$root/tests/reference/mtmd"
cli=${LLAMA_MTMD_CLI:-}
if [ -z "$cli" ]; then
  . "$root/scripts/reference/lib.sh"
  ref_tools llama-mtmd-cli
  cli="$ref_bin/llama-mtmd-cli"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
LLAMAC_TEST_MODELS="$models" LLAMAC_LLAMA_SOURCE="${LLAMAC_LLAMA_SOURCE:-$root/.deps/llama.cpp}" \
  "$build/bin/test_media_fidelity" --write-fixtures "$work"

rm -f "$out"/*.embd "$out"/*.txt
while IFS=$'\t' read -r name model proj file n text; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  flag=--image
  case "$file" in *.wav) flag=--audio ;; esac
  m="$models/$model"
  [ -f "$m" ] || m="$work/$model"
  # llama-mtmd-cli prints a newline after evaluating the prompt and two after the answer; drop exactly those. Its
  # log thread can lose the end of the output at exit: run it again until the output ends as it should.
  for try in 1 2 3 4 5 6 7 8; do
    MTMD_DEBUG_EMBEDDINGS="$out/$name.embd" "$cli" -m "$m" --mmproj "$work/$proj" "$flag" "$work/$file" -p "$text" \
        -n "$n" --temp 0 -fa off -t 2 -c 1024 --jinja --no-warmup < /dev/null > "$work/out.raw" 2>/dev/null
    [ "$(tail -c 2 "$work/out.raw" | od -An -c | tr -d ' ')" = '\n\n' ] && break
    [ "$try" = 8 ] && { echo "mtmd: $name: llama-mtmd-cli's output is cut short" >&2; exit 1; }
  done
  tail -c +2 "$work/out.raw" | head -c -2 > "$out/$name.txt"
  echo "mtmd: $name ($(wc -c < "$out/$name.embd") bytes of embeddings, $(wc -c < "$out/$name.txt") of text)" >&2
done < "$out/cases.tsv"
