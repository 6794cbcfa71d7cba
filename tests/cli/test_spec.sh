# `llamac run`, `llamac chat` and `llamac serve` with speculative decoding (llama-server's flags): the greedy output
# is exactly the output without it, with a layer-skip draft of stories260K (made here with llamac quantize
# --prune-layers), with n-gram lookup, at several draft lengths and with a stop string; the server's n-gram drafts
# in parallel slots give `llamac run`'s text over HTTP, with llama-server's timings.draft_n / draft_n_accepted; bad
# settings and a draft model of another vocabulary are refused with the flag or the difference named.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
D="$TMP/skip.gguf"
"$LLAMAC" quantize -q --prune-layers 2-4 "$M" "$D" F32 > /dev/null 2>&1 || fail "making the layer-skip draft"
COMMON=(-m "$M" -n 120 --temp 0 -t 1 -q -p "Once upon a time")

run_llamac "$TMP/base" "$TMP/e" run "${COMMON[@]}"
expect_eq "run without a draft" "$rc" 0
for args in "-md $D" "-md $D --spec-draft-n-max 1" "-md $D --draft-max 3 --draft-p-min 0" \
  "-md $D --spec-draft-n-max 12 --spec-draft-n-min 2 -cd 512 -td 1 -ngld 0 -ctkd f32 -ctvd f32" "--spec-type ngram-simple" \
  "--spec-type ngram-simple,draft-simple -md $D --spec-ngram-size-n 4" \
  "--spec-type ngram-simple --spec-ngram-size-n-min 2 --spec-ngram-size-n 12 --spec-draft-n-max 8"; do
  # shellcheck disable=SC2086
  run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" $args -v
  expect_eq "run $args: status" "$rc" 0
  expect_eq "run $args: the same text" "$(cat "$TMP/o")" "$(cat "$TMP/base")"
done
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$D" --draft-p-min 0 -v
expect_contains "run -v reports the drafts" "$(cat "$TMP/e")" "llamac run: drafted "

# a stop string, with and without drafts
run_llamac "$TMP/base" "$TMP/e" run "${COMMON[@]}" -r "red ball"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -r "red ball" -md "$D" --draft-p-min 0
expect_eq "run with a stop string: the same text" "$(cat "$TMP/o")" "$(cat "$TMP/base")"

# chat: the same answers, turn after turn
C="$MODELS/stories260K-chatml.gguf"
printf 'Hello\nTell me more.\n' | "$LLAMAC" chat -m "$C" -n 48 --temp 0 -t 1 -q > "$TMP/cbase" 2> "$TMP/e" || fail "chat"
for args in "-md $C --draft-p-min 0" "--spec-type ngram-simple"; do
  # shellcheck disable=SC2086
  printf 'Hello\nTell me more.\n' | "$LLAMAC" chat -m "$C" -n 48 --temp 0 -t 1 -q $args > "$TMP/o" 2> "$TMP/e" ||
    fail "chat $args"
  expect_eq "chat $args: the same answers" "$(cat "$TMP/o")" "$(cat "$TMP/cbase")"
done

# bad settings: usage errors naming the flag
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$D" --spec-draft-n-max 0
expect_eq "draft-max 0: usage error" "$rc" 2
expect_contains "draft-max 0: named" "$(cat "$TMP/e")" "invalid value '0' for --spec-draft-n-max"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$D" --draft-max 65
expect_eq "draft-max 65: usage error" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$D" --draft-p-min 2
expect_contains "draft-p-min 2: named" "$(cat "$TMP/e")" "for --draft-p-min (expected a probability from 0 to 1)"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$D" --spec-draft-n-max 4 --spec-draft-n-min 5
expect_contains "n-min above n-max" "$(cat "$TMP/e")" "--spec-draft-n-min 5 exceeds --spec-draft-n-max 4"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" --spec-type ngram-simple --spec-ngram-size-n-min 5
expect_eq "ngram min above the size: usage error" "$rc" 2
expect_contains "ngram min above the size: named" "$(cat "$TMP/e")" "--spec-ngram-size-n-min 5 exceeds --spec-ngram-size-n 3"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" --spec-type draft-simple
expect_eq "draft-simple without -md: usage error" "$rc" 2
expect_contains "draft-simple without -md: said" "$(cat "$TMP/e")" "needs a draft model (-md FILE)"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" --spec-type eagle
expect_contains "unknown --spec-type" "$(cat "$TMP/e")" "unknown --spec-type 'eagle'"
rc=0
"$LLAMAC" chat --live -m "$MODELS/stories260K-chatml.gguf" --spec-type ngram-simple > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "chat --live with speculation: usage error" "$rc" 2
expect_contains "chat --live with speculation: said" "$(cat "$TMP/e")" "works without --live"
run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$TMP/missing.gguf"
expect_eq "a missing draft model fails" "$rc" 1
expect_contains "a missing draft model: named" "$(cat "$TMP/e")" "draft model: "
expect_eq "a missing draft model: nothing generated" "$(cat "$TMP/o")" ""

VOCAB="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-llama-bpe.gguf"
if [ -f "$VOCAB" ]; then
  "$LLAMAC" synth -q -o "$TMP/bpe.gguf" --vocab-from "$VOCAB" --layers 1 --embd 32 --heads 2
  run_llamac "$TMP/o" "$TMP/e" run "${COMMON[@]}" -md "$TMP/bpe.gguf"
  expect_eq "a draft of another vocabulary fails" "$rc" 1
  expect_contains "another vocabulary: said" "$(cat "$TMP/e")" "cannot draft for"
  expect_contains "another vocabulary: why" "$(cat "$TMP/e")" "another type"
  expect_eq "another vocabulary: nothing generated" "$(cat "$TMP/o")" ""
fi
# serve: n-gram drafts per slot, four requests at once at several draft lengths, each `llamac run`'s text
if command -v curl > /dev/null && command -v jq > /dev/null; then
  CP="Tom had a red ball. Tom had a red ball and a big dog. Tom had a red ball and a big dog. Tom had a red ball and"
  run_llamac "$TMP/sbase" "$TMP/e" run -m "$M" -n 100 --temp 0 -t 1 -q -p "$CP"
  want=$(cat "$TMP/sbase")
  run_llamac "$TMP/sbase2" "$TMP/e" run -m "$M" -n 100 --temp 0 -t 1 -q -p "Once upon a time"
  want2=$(cat "$TMP/sbase2")
  start_server S -m "$M" -np 5 -t 1 --metrics --spec-type ngram-simple --spec-ngram-size-n 6 --spec-ngram-size-n-min 2 --spec-draft-n-max 8 --spec-batch-max 64
  body() { jq -cn --arg p "$1" --argjson n "$2" '{prompt: $p, n_predict: 100, temperature: 0, "speculative.n_max": $n}'; }
  pids=()
  for n in 1 3 8 16; do
    curl -s --data-binary "$(body "$CP" $n)" "$S_URL/completion" > "$TMP/c$n" &
    pids+=($!)
  done
  curl -s --data-binary "$(body "Once upon a time" 8)" "$S_URL/completion" > "$TMP/c0" &
  pids+=($!)
  wait "${pids[@]}"
  for n in 1 3 8 16; do
    expect_eq "serve, speculative.n_max $n: run's text" "$(jqr .content "$TMP/c$n")" "$want"
    expect_eq "serve, n_max $n: predicted_n" "$(jqr .timings.predicted_n "$TMP/c$n")" 100
    expect_eq "serve, n_max $n: drafted and accepted" \
      "$(jqr '.timings | .draft_n > 0 and .draft_n_accepted > 0 and .draft_n_accepted <= .draft_n' "$TMP/c$n")" true
  done
  expect_eq "serve, another prompt beside them: run's text" "$(jqr .content "$TMP/c0")" "$want2"
  expect_eq "serve, n_max 1: one token per draft at most" \
    "$(jqr '.timings.draft_n <= .timings.predicted_n' "$TMP/c1")" true
  # a stop string and a grammar, as without speculation
  run_llamac "$TMP/o" "$TMP/e" run -m "$M" -n 100 --temp 0 -t 1 -q -p "$CP" -r "saw the ball"
  req POST "$S_URL/completion" "$(jq -cn --arg p "$CP" '{prompt: $p, n_predict: 100, temperature: 0,
    stop: ["saw the ball"]}')"
  expect_eq "serve with a stop string: run's text" "$(jqr .content)" "$(cat "$TMP/o")"
  expect_eq "serve with a stop string: stopping_word" "$(jqr .stopping_word)" "saw the ball"
  run_llamac "$TMP/o" "$TMP/e" run -m "$M" -n 60 --temp 0 -t 1 -q -p "$CP" --grammar 'root ::= [a-z ]+'
  req POST "$S_URL/completion" "$(jq -cn --arg p "$CP" '{prompt: $p, n_predict: 60, temperature: 0,
    grammar: "root ::= [a-z ]+"}')"
  expect_eq "serve with a grammar: run's text" "$(jqr .content)" "$(cat "$TMP/o")"
  req GET "$S_URL/metrics"
  expect_eq "metrics: drafted tokens counted" \
    "$(sed -n 's/^llamacpp:spec_decode_num_draft_tokens_total //p' "$TMP/body" | awk '{print ($1 > 0)}')" 1
  # bad per-request settings: 400 naming the field
  req POST "$S_URL/completion" '{"prompt": "Once", "n_predict": 4, "speculative.n_max": 0}'
  expect_eq "speculative.n_max 0: 400" "$code" 400
  expect_contains "speculative.n_max 0: named" "$(jqr .error.message)" "'speculative.n_max' is 0"
  req POST "$S_URL/completion" '{"prompt": "Once", "n_predict": 4, "speculative.n_max": 2, "speculative.n_min": 3}'
  expect_eq "n_min above n_max: 400" "$code" 400
  expect_contains "n_min above n_max: named" "$(jqr .error.message)" "must not exceed 'speculative.n_max' (2)"
  stop_server "$S_PID"
  # without speculation the timings have no draft counts (as llama-server's)
  start_server S -m "$M" -np 2 -t 1
  req POST "$S_URL/completion" "$(body "$CP" 8)"
  expect_eq "serve without speculation: run's text" "$(jqr .content)" "$want"
  expect_eq "serve without speculation: no draft_n" "$(jqr '.timings | has("draft_n")')" false
  stop_server "$S_PID"
  # the layer-skip draft model, a sequence per slot: three requests at once, run's text, drafts partly accepted
  start_server S -m "$M" -np 3 -t 1 -md "$D" --spec-draft-p-min 0 -ctkd f32 -ctvd f32 -td 1 -cd 2048
  pids=()
  for n in 2 5 9; do
    curl -s --data-binary "$(body "$CP" $n)" "$S_URL/completion" > "$TMP/d$n" &
    pids+=($!)
  done
  wait "${pids[@]}"
  for n in 2 5 9; do
    expect_eq "serve -md, speculative.n_max $n: run's text" "$(jqr .content "$TMP/d$n")" "$want"
    expect_eq "serve -md, n_max $n: drafted, some rejected" \
      "$(jqr '.timings | .draft_n > 0 and .draft_n_accepted < .draft_n' "$TMP/d$n")" true
  done
  stop_server "$S_PID"
  if [ -f "$VOCAB" ]; then
    rc=0
    "$LLAMAC" serve -m "$M" --port 0 -md "$TMP/bpe.gguf" > "$TMP/o" 2> "$TMP/e" || rc=$?
    expect_eq "serve, a draft of another vocabulary: fails at startup" "$rc" 1
    expect_contains "serve, another vocabulary: said" "$(cat "$TMP/e")" "cannot draft for"
    expect_contains "serve, another vocabulary: why" "$(cat "$TMP/e")" "another type"
  fi
  # bad flags as for run
  rc=0
  "$LLAMAC" serve -m "$M" --port 0 --spec-type ngram-simple --spec-draft-n-max 0 > "$TMP/o" 2> "$TMP/e" || rc=$?
  expect_eq "serve --spec-draft-n-max 0: usage error" "$rc" 2
  expect_contains "serve --spec-draft-n-max 0: named" "$(cat "$TMP/e")" "for --spec-draft-n-max"
fi
finish
