#!/usr/bin/env bash
# Regenerates the reference outputs that llamac's fidelity tests compare against, using llama.cpp's own tools
# built from the same pinned source. Run it after moving the pin, review the diff, and commit the result:
#
#     scripts/gen-reference.sh [tokenize] [greedy] [greedy-flags] [embed] [gguf] [mtmd] [templates] [chat] [chat-builtin]
#                              [tool-parse]   (all parts by default)
#
# - tests/reference/tokenize/<vocab>.txt: for every tokenizer corpus llama.cpp ships (models/ggml-vocab-*.gguf with
#   a .inp file), one line per test case with the token ids llama-tokenize produces (no BOS, no special parsing,
#   no escape processing), in the order of the .inp file.
# - tests/reference/embed/<case>.txt: the vectors llama-embedding prints (one per line, components separated by
#   spaces) for each case of tests/reference/embed/cases.tsv, on stories260K and on synthesized BERT models, both
#   tools with their default flash attention (auto); server-bert-default.jsonl: llama-server's /v1/embeddings for
#   the bert-default texts, with its default flags
#   (written with build/bin/llamac synth, which must be built: the files are byte-for-byte reproducible).
# - tests/reference/quantize/ and tests/reference/split/ (part "gguf"): sha256 sums of what llama-quantize and
#   llama-gguf-split write for the cases listed there, and importance matrices from llama-imatrix; see
#   scripts/reference/gguf-tools.sh.
# - tests/reference/mtmd/ (part "mtmd"): llama-mtmd-cli's embeddings and greedy answers for the multimodal cases of
#   tests/reference/mtmd/cases.tsv; see scripts/reference/mtmd.sh (needs llamac's build for its test program).
# - tests/reference/greedy/<n>.txt: the text llama-completion generates greedily (--temp 0) for each case in
#   tests/reference/greedy/cases.tsv (model file, tokens to predict, prompt), without the prompt.
# - tests/reference/greedy_flags/<n>.txt (part "greedy-flags"): the same with llama.cpp's model and context flags
#   (RoPE/YaRN, -ot, --override-kv, ...) of each case of tests/reference/greedy_flags/cases.tsv; see
#   scripts/reference/greedy-flags.sh.
# - tests/reference/templates/ (part "templates"): see the end of this file.
# - tests/reference/chat/ (part "chat"): the prompts llama-server's /apply-template makes of the conversations
#   there, for every shipped template; see scripts/reference/chat.sh. It uses the reference-tools build's
#   llama-server (cmake --build build --target reference-tools) and needs curl and jq.
# - tests/reference/chat/builtin/ (part "chat-builtin"): the same with llama.cpp's built-in formats (llama-server
#   --no-jinja --chat-template NAME); see scripts/reference/chat_builtin.sh.
# - tests/reference/tool_parse/ (part "tool-parse"): how llama.cpp's chat layer (common_chat_parse) reads the model
#   replies there, for every shipped template; see scripts/reference/tool-parse.sh (the reference-tools build's
#   libllama-common).
#
# Needs: cmake, a C++ compiler, python3 (only to split the .inp corpora), and the test models
# ($LLAMAC_TEST_MODELS, default ../shared/models).
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
src="$root/.deps/llama.cpp"
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
out="$root/tests/reference"

. "$root/scripts/reference/lib.sh"
"$root/scripts/fetch-llama.sh" "$src"
parts=${*:-tokenize greedy greedy-flags embed gguf mtmd templates chat chat-builtin tool-parse}
wants() { case " $parts " in *" $1 "*) return 0 ;; *) return 1 ;; esac; }
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

# The chat parts need only the reference-tools build (llama-server, libllama-common), not the tools built below.
if wants tool-parse; then
  "$root/scripts/reference/tool-parse.sh"
fi
if wants chat; then
  . "$root/scripts/reference/chat.sh"
fi
if wants chat-builtin; then
  . "$root/scripts/reference/chat_builtin.sh"
fi
if ! wants tokenize && ! wants greedy && ! wants greedy-flags && ! wants embed && ! wants gguf && ! wants mtmd && ! wants templates; then
  exit 0
fi

ref_tools llama-completion llama-tokenize llama-embedding llama-quantize llama-gguf-split llama-imatrix llama-mtmd-cli
bin="$ref_bin"

# Tokenizer corpora.
if wants tokenize; then
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

fi

# Greedy completions.
if wants greedy; then
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
fi

if wants greedy-flags; then
  LLAMA_COMPLETION="$bin/llama-completion" LLAMAC_TEST_MODELS="$models" "$root/scripts/reference/greedy-flags.sh"
fi

# Embeddings and rerank scores.
if wants embed; then
llamac="$root/build/bin/llamac"
vocab_dir="$src/models"
"$llamac" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 11 \
    --vocab-from "$vocab_dir/ggml-vocab-bert-bge.gguf" -o "$work/bert.gguf"
"$llamac" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 12 --cls-out 1 \
    --vocab-from "$vocab_dir/ggml-vocab-bert-bge.gguf" -o "$work/bert-rerank.gguf"
rm -f "$out"/embed/*.txt
while IFS=$'\t' read -r name model pooling normalize texts; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  case "$model" in
    bert.gguf|bert-rerank.gguf) path="$work/$model" ;;
    *) path="$models/$model" ;;
  esac
  # texts: '|' separates prompts; in a rerank case '>' separates the query from the document
  prompt=$(printf '%s' "$texts" | tr '|>' '\n\t')
  # raw: one line per vector ("%1.7f" components); for rank pooling only the classifier outputs
  # flash attention as both tools default to (auto)
  "$bin/llama-embedding" -m "$path" --pooling "$pooling" --embd-normalize "$normalize" -p "$prompt" \
      --embd-output-format raw -t 1 2>/dev/null < /dev/null | grep -v '^$' > "$out/embed/$name.txt"
  echo "embed: $name ($(wc -l < "$out/embed/$name.txt") vectors)" >&2
done < "$out/embed/cases.tsv"
# llama-server's /v1/embeddings with its default flags (only --embedding) on the synthesized BERT: one request per
# text of the bert-default case, one vector per line as JSON, for `llamac embed` with its default flags
# (tests/cli/test_embed.sh). llama-server comes from the reference-tools build, or $LLAMA_SERVER.
ref_server_start "$work/embed-server.log" -m "$work/bert.gguf" --embedding || exit 1
port=$ref_port
: > "$out/embed/server-bert-default.jsonl"
while IFS= read -r text; do
  curl -sf "http://127.0.0.1:$port/v1/embeddings" -H 'Content-Type: application/json' \
    -d "$(jq -nc --arg t "$text" '{input: $t}')" | jq -c '.data[0].embedding' >> "$out/embed/server-bert-default.jsonl"
done < <(awk -F'\t' '$1 == "bert-default" { print $5 }' "$out/embed/cases.tsv" | tr '|' '\n')
ref_server_stop
echo "embed: llama-server /v1/embeddings ($(wc -l < "$out/embed/server-bert-default.jsonl") vectors)" >&2
fi

# Quantize, split and merge (llama-quantize, llama-gguf-split, llama-imatrix).
if wants gguf; then
  . "$root/scripts/reference/gguf-tools.sh"
fi

# Multimodal: llama-mtmd-cli on synthesized projectors.
if wants mtmd; then
  LLAMA_MTMD_CLI="$bin/llama-mtmd-cli" "$root/scripts/reference/mtmd.sh"
fi

# Chat templates: every template llama.cpp ships (models/templates/*.jinja), rendered by llama.cpp's own Jinja engine
# (common/jinja, through scripts/reference/render_template.cpp) for every conversation in
# tests/reference/templates/conversations/: tests/reference/templates/<template>__<conversation>.txt, or .err with
# llama.cpp's message where its engine fails. The clock is fixed (LLAMAC_REF_NOW in UTC) so that templates printing
# today's date are reproducible. templates/model/ holds what `llamac template -m` must print for the messages arrays
# there, with the template and the BOS/EOS texts taken from a test model.
if wants templates; then
ref_tools llama-common
c++ -std=c++17 -O1 -I "$src/common" -I "$src/include" -I "$src/ggml/include" \
  "$root/scripts/reference/render_template.cpp" -o "$work/render_template" -L "$bin" -lllama-common -lllama \
  -Wl,-rpath,"$bin"
export TZ=UTC LLAMAC_REF_NOW=1721995200
rm -f "$out"/templates/*.txt "$out"/templates/*.err "$out"/templates/model/*.txt
for tmpl in "$src"/models/templates/*.jinja; do
  name=$(basename "$tmpl" .jinja)
  for conv in "$out"/templates/conversations/*.json; do
    "$work/render_template" "$tmpl" "$conv" "$out/templates/${name}__$(basename "$conv" .json)"
  done
done
for msgs in "$out"/templates/model/*.json; do
  "$work/render_template" --model "$models/stories260K-chatml.gguf" "$msgs" \
    "$out/templates/model/stories260K-chatml__$(basename "$msgs" .json)"
done
echo "templates: $(ls "$out"/templates/*.txt | wc -l) renderings, $(ls "$out"/templates/*.err | wc -l) errors" >&2
fi
