# `llamac embed` and `llamac rerank`: output formats, input from arguments and stdin, and errors.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"

# json: an array of arrays whose first vector equals llama.cpp's (first reference line) to 1e-5
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling mean "Once upon a time" "The little dog ran to the park"
expect_eq "embed status" "$rc" 0
python_free_check() {
  # compare the first vector of a json output with the first line of a reference, component by component
  awk -v ref="$2" 'BEGIN { getline line < ref; n = split(line, r, " ") }
       { gsub(/^\[\[/, ""); split($0, v, "],"); m = split(v[1], c, ","); bad = (m != n);
         for (i = 1; i <= m && !bad; i++) { d = c[i] - r[i]; if (d < 0) d = -d; if (d > 1e-5) bad = 1 } }
       END { exit bad }' "$1"
}
if python_free_check "$TMP/o" "$REF/embed/stories-mean.txt"; then pass; else fail "embed json differs from llama.cpp"; fi
expect_eq "two vectors" "$(grep -o '\],\[' "$TMP/o" | wc -l)" 1

printf 'Once upon a time\n\nThe little dog ran to the park\n' | "$LLAMAC" embed -m "$M" --pooling mean --format array > "$TMP/a" 2> "$TMP/e"
expect_eq "stdin lines, blank skipped" "$(wc -l < "$TMP/a")" 2
expect_eq "array format: 64 numbers" "$(head -1 "$TMP/a" | wc -w)" 64

run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling mean --format table "Once upon a time" "The little dog" "Once upon a time"
expect_contains "table" "$(cat "$TMP/o")" "cosine similarity matrix"
expect_contains "identical texts have similarity 1" "$(sed -n 4p "$TMP/o")" "1.00"

run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling none --format array "Once upon a time"
expect_eq "pooling none: one vector per token" "$(wc -l < "$TMP/o")" 5
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling none --format array "Once upon a time" "Once"
expect_eq "pooling none, two texts: a blank line between them" "$(grep -c '^$' "$TMP/o"):$(wc -l < "$TMP/o")" "1:8"
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling none --format table "a" "b"
expect_eq "pooling none and a table: usage" "$rc" 1
expect_contains "pooling none and a table: message" "$(cat "$TMP/e")" "--format table needs one vector per text"

# a generative model (its pooling is none) without --pooling: mean pooling, with a note, in every format
run_llamac "$TMP/o" "$TMP/e" embed "$M" "Once upon a time" "The little dog ran to the park"
expect_eq "generative model: status" "$rc" 0
expect_contains "generative model: a note" "$(cat "$TMP/e")" "using mean pooling"
run_llamac "$TMP/ref" "$TMP/e2" embed -m "$M" --pooling mean "Once upon a time" "The little dog ran to the park"
expect_eq "generative model: the mean-pooled vectors" "$(cat "$TMP/o")" "$(cat "$TMP/ref")"
run_llamac "$TMP/o" "$TMP/e" embed "$M" --format table "Once upon a time" "Once upon a time"
expect_contains "generative model: a table" "$(sed -n 4p "$TMP/o")" "1.00"
run_llamac "$TMP/o" "$TMP/e" embed "$M" --format array "Once upon a time" "The little dog"
expect_eq "generative model: an array, one line per text" "$(wc -l < "$TMP/o")" 2

run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling bogus "x"
expect_eq "bad pooling status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --format xml "x"
expect_eq "bad format status" "$rc" 2
rc=0; "$LLAMAC" embed -m "$M" < /dev/null > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "no texts status" "$rc" 1
expect_contains "no texts message" "$(cat "$TMP/e")" "no texts to embed"
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" -b 8 -ub 8 --pooling mean "Once upon a time there was a little girl named Lily"
expect_eq "too long status" "$rc" 1
expect_contains "too long message" "$(cat "$TMP/e")" "set --truncate"
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" -b 8 -ub 8 --pooling mean --truncate "Once upon a time there was a little girl named Lily"
expect_eq "--truncate status" "$rc" 0

# -np must divide the micro-batch for mean pooling (llama.cpp aborts otherwise): an error, and a default that does
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" -np 24 --pooling mean "Once upon a time"
expect_eq "-np 24 status" "$rc" 1
expect_contains "-np 24 message" "$(cat "$TMP/e")" "-np (24) must divide the micro-batch (2048 tokens"
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" -b 100 --pooling mean --format array "Once upon a time" "The little dog"
expect_eq "-b 100 status" "$rc" 0
expect_eq "-b 100: two vectors" "$(wc -l < "$TMP/o")" 2

# rerank needs a reranker (rank pooling)
run_llamac "$TMP/o" "$TMP/e" rerank -m "$M" --query "q" "doc"
expect_eq "rerank on a non-reranker status" "$rc" 1
expect_contains "rerank on a non-reranker message" "$(cat "$TMP/e")" "rank"
run_llamac "$TMP/o" "$TMP/e" rerank -m "$M" "doc"
expect_eq "rerank without --query" "$rc" 2

# default flags on both sides: `llamac embed MODEL TEXTS...` gives llama-server's /v1/embeddings vectors (its
# default flags, one request per text; tests/reference/embed/server-bert-default.jsonl) to 1e-6, on the synthesized
# BERT of the references (same flags, same bytes). Flash attention auto on both: -fa off moves them by ~3e-6.
if [ -n "${LLAMAC_LLAMA_SOURCE:-}" ] && command -v jq > /dev/null; then
  "$LLAMAC" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 11 \
      --vocab-from "$LLAMAC_LLAMA_SOURCE/models/ggml-vocab-bert-bge.gguf" -o "$TMP/bert.gguf"
  IFS='|' read -r -a texts < <(awk -F'\t' '$1 == "bert-default" { print $5 }' "$REF/embed/cases.tsv")
  run_llamac "$TMP/o" "$TMP/e" embed "$TMP/bert.gguf" "${texts[@]}"
  expect_eq "default flags: status, ${#texts[@]} texts" "$rc:${#texts[@]}" "0:3"
  # the largest difference of any component
  worst=$(jq -s -r '.[0] as $mine | .[1:] as $server | [range(0; $server | length) as $i |
    range(0; $server[$i] | length) as $k | (($mine[$i][$k] - $server[$i][$k]) | fabs)] |
    if length == 3 * 64 then max else "wrong shape" end' "$TMP/o" "$REF/embed/server-bert-default.jsonl")
  awk -v w="$worst" 'BEGIN { exit !(w + 0 == w && w <= 1e-6) }' && pass ||
    fail "llamac embed vs llama-server /v1/embeddings, default flags: largest difference $worst (limit 1e-6)"
  # and -fa off, the old default, is measurably not theirs: the check can fail
  run_llamac "$TMP/o" "$TMP/e" embed "$TMP/bert.gguf" -fa off "${texts[@]}"
  worst_off=$(jq -s -r '.[0] as $mine | .[1:] as $server | [range(0; 3) as $i | range(0; 64) as $k |
    (($mine[$i][$k] - $server[$i][$k]) | fabs)] | max' "$TMP/o" "$REF/embed/server-bert-default.jsonl")
  awk -v w="$worst_off" 'BEGIN { exit !(w > 1e-6) }' && pass || fail "-fa off unexpectedly within 1e-6 ($worst_off)"
fi

if [ -n "${LLAMAC_LLAMA_SOURCE:-}" ]; then
  "$LLAMAC" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 12 --cls-out 1 \
      --vocab-from "$LLAMAC_LLAMA_SOURCE/models/ggml-vocab-bert-bge.gguf" -o "$TMP/rr.gguf"
  run_llamac "$TMP/o" "$TMP/e" rerank -m "$TMP/rr.gguf" --query "what is a panda?" --top-n 2 \
      "The giant panda is a bear species endemic to China." "Paris is the capital of France." "hi"
  expect_eq "rerank status" "$rc" 0
  expect_eq "rerank --top-n 2" "$(wc -l < "$TMP/o")" 2
  # scores are sorted, highest first, and equal llama.cpp's
  s1=$(sed -n 1p "$TMP/o" | cut -f2); s2=$(sed -n 2p "$TMP/o" | cut -f2)
  expect_eq "sorted" "$(awk -v a="$s1" -v b="$s2" 'BEGIN { print (a >= b) }')" 1
  i1=$(sed -n 1p "$TMP/o" | cut -f1)
  want=$(sed -n "$((i1 + 1))p" "$REF/embed/bert-rerank.txt" | cut -d' ' -f1)
  expect_eq "best score equals llama.cpp's" "$(awk -v a="$s1" -v b="$want" 'BEGIN { d = a - b; if (d < 0) d = -d; print (d < 1e-5) }')" 1
  printf 'doc one\ndoc two\n' | "$LLAMAC" rerank -m "$TMP/rr.gguf" --query q --format json > "$TMP/o" 2> "$TMP/e"
  expect_contains "rerank json from stdin" "$(cat "$TMP/o")" '"index":'
fi
finish
