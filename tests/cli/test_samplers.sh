# The sampler order and DRY sequence breakers, llama.cpp's --samplers, --sampler-seq and --dry-sequence-breaker, in
# `llamac run` and `llamac serve` (and its request fields samplers and dry_sequence_breakers), against the real
# stories260K: temperature alone at 0 is greedy; top-k 1 before XTC (which always fires here) keeps the greedy text,
# after it another one, the same with names and letters; chosen breakers change what DRY does; /props shows the
# order and the breakers (escapes processed); bad names and letters are refused with the reason.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

# --- llamac run ---
gen() { run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 32 -t 1 "$@"; cat "$TMP/o"; }
greedy=$(gen --temp 0)
[ -n "$greedy" ] && pass || fail "run: no greedy text: $(cat "$TMP/e")"
expect_eq "run --samplers temperature at --temp 0 is greedy" "$(gen --samplers temperature --temp 0 --top-k 5 -s 7)" \
  "$greedy"
xtc=(--top-k 1 --xtc-probability 1 --xtc-threshold 0.05)
expect_eq "run: top_k 1 before xtc is greedy" "$(gen --samplers "top_k;xtc" "${xtc[@]}" -s 3)" "$greedy"
after=$(gen --samplers "xtc;top_k" "${xtc[@]}" -s 3)
[ -n "$after" ] && [ "$after" != "$greedy" ] && pass || fail "run: xtc before top_k 1 gave the greedy text: $after"
expect_eq "run: the same with another seed (top-k 1 leaves one token)" \
  "$(gen --samplers "XTC;top-k" "${xtc[@]}" -s 9)" "$after"
expect_eq "run --sampler-seq xk = --samplers xtc;top_k" "$(gen --sampler-seq xk "${xtc[@]}" -s 3)" "$after"
expect_eq "run: the last of --samplers / --sampler-seq wins" "$(gen --samplers "xtc;top_k" --sampler-seq kx "${xtc[@]}" -s 3)" \
  "$greedy"
dry=(--temp 0 --dry-multiplier 3 --dry-allowed-length 1 -n 48)
dry_default=$(gen "${dry[@]}")
expect_eq "run: the default breakers given by hand" \
  "$(gen "${dry[@]}" --dry-sequence-breaker '\n' --dry-sequence-breaker : --dry-sequence-breaker '"' \
    --dry-sequence-breaker '*')" "$dry_default"
vowels=$(gen "${dry[@]}" --dry-sequence-breaker e --dry-sequence-breaker a --dry-sequence-breaker o)
[ "$vowels" != "$dry_default" ] && pass || fail "run: breakers e, a, o changed nothing: $vowels"
expect_eq "run: none, then e, a, o" \
  "$(gen "${dry[@]}" --dry-sequence-breaker none --dry-sequence-breaker e --dry-sequence-breaker a \
    --dry-sequence-breaker o)" "$vowels"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p hi --samplers "top_k;nope"
expect_eq "run: an unknown sampler: status" "$rc" 2
expect_contains "run: an unknown sampler: message" "$(cat "$TMP/e")" 'unknown sampler "nope"'

# --- llamac serve: the server's order and breakers, and a request's ---
completion() { jq -cn --argjson extra "${1:-{\}}" '{prompt: "Once upon a time", n_predict: 32, seed: 3} + $extra'; }
start_server S -m "$M" -c 256 -np 1 -t 1 --xtc-probability 1 --xtc-threshold 0.05 --samplers "xtc;top_k" \
  --dry-sequence-breaker '\n' --dry-sequence-breaker 'x'
req GET "$S_URL/props"
expect_eq "serve /props: the order" "$(jqr '.default_generation_settings.params.samplers | tojson')" '["xtc","top_k"]'
expect_eq "serve /props: the breakers, escapes processed" \
  "$(jqr '.default_generation_settings.params.dry_sequence_breakers | tojson')" '["\n","x"]'
req POST "$S_URL/completion" "$(completion '{"top_k": 1}')"
expect_eq "serve --samplers xtc;top_k: as run's" "$code:$(jqr .content)" "200:$after"
expect_eq "serve: the request's order in its settings" "$(jqr '.generation_settings.samplers | tojson')" '["xtc","top_k"]'
req POST "$S_URL/completion" "$(completion '{"top_k": 1, "samplers": ["top_k", "xtc"]}')"
expect_eq "serve: request samplers [top_k, xtc]: greedy" "$code:$(jqr .content)" "200:$greedy"
expect_eq "serve: the request's order in its settings" "$(jqr '.generation_settings.samplers | tojson')" '["top_k","xtc"]'
req POST "$S_URL/completion" "$(completion '{"top_k": 1, "samplers": "kx"}')"
expect_eq "serve: request samplers \"kx\" (letters): greedy" "$code:$(jqr .content)" "200:$greedy"
req POST "$S_URL/completion" "$(completion '{"samplers": ["temperature"], "temperature": 0}')"
expect_eq "serve: request samplers [temperature] at 0: greedy" "$code:$(jqr .content)" "200:$greedy"
req POST "$S_URL/v1/chat/completions" \
  '{"messages": [{"role": "user", "content": "hi"}], "max_tokens": 4, "samplers": ["top_k"], "dry_sequence_breakers": ["a", "b"]}'
expect_eq "serve: chat takes samplers and dry_sequence_breakers" "$code" 200
req POST "$S_URL/completion" "$(completion '{"dry_sequence_breakers": ["z"]}')"
expect_eq "serve: the request's breakers in its settings" "$code:$(jqr '.generation_settings.dry_sequence_breakers | tojson')" \
  '200:["z"]'
bad() {
  req POST "$S_URL/completion" "$(completion "$2")"
  expect_eq "serve: $1: 400 naming the field" "$code:$(jqr .error.param)" "400:$3"
  expect_contains "serve: $1: the reason" "$(jqr .error.message)" "$4"
}
bad "an unknown sampler" '{"samplers": ["top_k", "top_q"]}' samplers "'samplers[1]': unknown sampler \"top_q\""
bad "an unknown letter" '{"samplers": "kq"}' samplers "'samplers': unknown sampler letter 'q'"
bad "a sampler that is not a string" '{"samplers": [1]}' samplers "'samplers[0]' must be a string"
bad "samplers an object" '{"samplers": {}}' samplers "must be an array of sampler names or a string"
bad "no breakers" '{"dry_sequence_breakers": []}' dry_sequence_breakers "a non-empty array"
bad "an empty breaker" '{"dry_sequence_breakers": ["a", ""]}' dry_sequence_breakers \
  "'dry_sequence_breakers[1]' must be a non-empty string"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
