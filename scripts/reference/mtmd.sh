#!/usr/bin/env bash
# Regenerates tests/reference/mtmd/: what llama.cpp's llama-mtmd-cli (built from the pinned source) makes of each case
# of tests/reference/mtmd/cases.tsv, which tests/unit/test_media_fidelity.c must reproduce:
#   <name>.embd  the medium's embeddings, as llama-mtmd-cli dumps them with MTMD_DEBUG_EMBEDDINGS=FILE
#                ([int32 n_tokens][int32 n_embd][float32 data])
#   <name>.txt   its greedy answer (--temp 0) to the case's user text, through stories260K-chatml's chat template
# The projectors and the media files come from the test program itself (test_media_fidelity --write-fixtures DIR,
# which llamac's build makes: $LLAMAC_BUILD, default build/), so both sides read the same bytes. Both run with flash
# attention off, 2 threads and a 2048-token context.
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
  src="$root/.deps/llama.cpp"
  ref_build="$root/.deps/build-ref"
  "$root/scripts/fetch-llama.sh" "$src"
  cmake -S "$src" -B "$ref_build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF >/dev/null
  cmake --build "$ref_build" -j"$(nproc)" --target llama-mtmd-cli >/dev/null
  cli="$ref_build/bin/llama-mtmd-cli"
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
LLAMAC_TEST_MODELS="$models" "$build/bin/test_media_fidelity" --write-fixtures "$work"

rm -f "$out"/*.embd "$out"/*.txt
while IFS=$'\t' read -r name proj file n text; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  flag=--image
  [ "$proj" = audio ] && flag=--audio
  MTMD_DEBUG_EMBEDDINGS="$out/$name.embd" "$cli" -m "$models/stories260K-chatml.gguf" \
      --mmproj "$work/mmproj-$proj.gguf" "$flag" "$work/$file" -p "$text" -n "$n" --temp 0 -fa off -t 2 -c 2048 \
      < /dev/null > "$work/out.raw" 2>/dev/null
  # llama-mtmd-cli prints a newline after evaluating the prompt and two after the answer; drop exactly those.
  tail -c +2 "$work/out.raw" | head -c -2 > "$out/$name.txt"
  echo "mtmd: $name ($(wc -c < "$out/$name.embd") bytes of embeddings, $(wc -c < "$out/$name.txt") of text)" >&2
done < "$out/cases.tsv"
