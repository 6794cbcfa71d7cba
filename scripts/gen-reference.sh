#!/usr/bin/env bash
# Regenerates the reference outputs that llamac's fidelity tests compare against, using llama.cpp's own tools
# built from the same pinned source. Run it after moving the pin, review the diff, and commit the result:
#
#     scripts/gen-reference.sh            # writes tests/reference/
#
# - tests/reference/tokenize/<vocab>.txt: for every tokenizer corpus llama.cpp ships (models/ggml-vocab-*.gguf with
#   a .inp file), one line per test case with the token ids llama-tokenize produces (no BOS, no special parsing,
#   no escape processing), in the order of the .inp file.
# - tests/reference/greedy/<n>.txt: the text llama-completion generates greedily (--temp 0) for each case in
#   tests/reference/greedy/cases.tsv (model file, tokens to predict, prompt), without the prompt.
#
# Needs: cmake, a C++ compiler, python3 (only to split the .inp corpora), and the test models
# ($LLAMAC_TEST_MODELS, default ../shared/models).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/.deps/llama.cpp"
ref_build="$root/.deps/build-ref"
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
out="$root/tests/reference"

"$root/scripts/fetch-llama.sh" "$src"
launcher=()
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$src" -B "$ref_build" -DCMAKE_BUILD_TYPE=Release -DLLAMA_BUILD_SERVER=OFF -DLLAMA_OPENSSL=OFF \
  "${launcher[@]}" >/dev/null
cmake --build "$ref_build" -j"$(nproc)" --target llama-completion llama-tokenize >/dev/null
bin="$ref_build/bin"

# Tokenizer corpora.
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
rm -f "$out"/tokenize/*.txt
for inp in "$src"/models/ggml-vocab-*.gguf.inp; do
  vocab=${inp%.inp}
  name=$(basename "$vocab" .gguf)
  rm -rf "$work/cases" && mkdir "$work/cases"
  python3 - "$inp" "$work/cases" <<'PY'
import sys
raw = open(sys.argv[1], 'rb').read()
sep = b'\n__ggml_vocab_test__\n'
cases, pos = [], 0
while pos < len(raw):
    nxt = raw.find(sep, pos)
    if nxt < 0:
        cases.append(raw[pos:])
        break
    cases.append(raw[pos:nxt])
    pos = nxt + len(sep)
for i, c in enumerate(cases):
    open('%s/%04d' % (sys.argv[2], i), 'wb').write(c)
PY
  : > "$out/tokenize/$name.txt"
  for case in "$work"/cases/*; do
    ids=$("$bin/llama-tokenize" -m "$vocab" --stdin --ids --no-bos --no-parse-special --no-escape --log-disable \
          < "$case" 2>/dev/null)
    ids=${ids#[}; ids=${ids%]}; ids=${ids//,/}
    echo "$ids" >> "$out/tokenize/$name.txt"
  done
  echo "tokenize: $name ($(wc -l < "$out/tokenize/$name.txt") cases)" >&2
done

# Greedy completions.
rm -f "$out"/greedy/[0-9]*.txt
i=0
while IFS=$'\t' read -r model n prompt; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  i=$((i + 1))
  "$bin/llama-completion" -m "$models/$model" -p "$prompt" -n "$n" --temp 0 -no-cnv --no-display-prompt \
      --simple-io --no-warmup -t 1 < /dev/null > "$work/greedy.raw" 2>/dev/null
  # llama-completion ends its output with "\n\n" of its own; drop exactly that.
  head -c -2 "$work/greedy.raw" > "$out/greedy/$i.txt"
  echo "greedy: case $i ($model, $n tokens)" >&2
done < "$out/greedy/cases.tsv"
