# `llamac run` and `llamac chat` with speculative decoding (llama-server's flags): the greedy output is exactly the
# output without it, with a layer-skip draft of stories260K (made here with llamac quantize --prune-layers), with
# n-gram lookup, at several draft lengths and with a stop string; bad settings and a draft model of another
# vocabulary are refused with the flag or the difference named.
source "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
D="$TMP/skip.gguf"
"$LLAMAC" quantize -q --prune-layers 2-4 "$M" "$D" F32 > /dev/null 2>&1 || fail "making the layer-skip draft"
COMMON=(-m "$M" -n 120 --temp 0 -t 1 -q -p "Once upon a time")

run_llamac "$TMP/base" "$TMP/e" run "${COMMON[@]}"
expect_eq "run without a draft" "$rc" 0
for args in "-md $D" "-md $D --spec-draft-n-max 1" "-md $D --draft-max 3 --draft-p-min 0" \
  "-md $D --spec-draft-n-max 12 --spec-draft-n-min 2 -cd 512 -td 1 -ngld 0" "--spec-type ngram-simple" \
  "--spec-type ngram-simple,draft-simple -md $D --spec-ngram-size-n 4"; do
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
finish
