# The sampler order and DRY sequence breakers, llama.cpp's --samplers, --sampler-seq and --dry-sequence-breaker, in
# `llamac run` and `llamac serve` (and its request fields samplers and dry_sequence_breakers), against the real
# stories260K: temperature alone at 0 is greedy; top-k 1 before XTC (which always fires here) keeps the greedy text,
# after it another one, the same with names and letters; chosen breakers change what DRY does; /props shows the
# order and the breakers (escapes processed); bad names and letters are refused with the reason. llama-server's other
# sampler fields per request (mirostat*, typical_p, top_n_sigma, xtc_*, dynatemp_*, repeat_last_n, dry_*) give what
# run's flags give, on /completion, /v1/completions and Ollama's options; wrong types and ranges are 400s naming them.
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

# --- llama-server's other sampler fields, per request: each gives what `llamac run` gives with its flag (which here
# changes the text), on /completion, the chat endpoint and Ollama's options; its generation_settings show it ---
start_server T -m "$M" -c 256 -np 1 -t 1
base=$(gen -s 3)
as_run() { # as_run NAME REQUEST-FIELDS FLAGS...
  local name=$1 fields=$2 want
  shift 2
  want=$(gen -s 3 "$@")
  [ -n "$want" ] && [ "$want" != "$base" ] && pass || fail "$name: run $* does not change the text here: $want"
  req POST "$T_URL/completion" "$(completion "$fields")"
  expect_eq "serve: $name as run $*" "$code:$(jqr .content)" "200:$want"
  expect_eq "serve: $name in generation_settings" \
    "$(jq --argjson f "$fields" '. as $b | [$f | keys[] as $k | $b.generation_settings[$k] - $f[$k] | fabs < 1e-6] | all' \
      "$TMP/body")" true
}
req POST "$T_URL/completion" "$(completion)"
expect_eq "serve: the base text is run's" "$code:$(jqr .content)" "200:$base"
as_run "mirostat 2" '{"mirostat": 2}' --mirostat 2
as_run "mirostat 1, tau, eta" '{"mirostat": 1, "mirostat_tau": 3, "mirostat_eta": 0.25}' --mirostat 1 \
  --mirostat-ent 3 --mirostat-lr 0.25
as_run "typical_p" '{"typical_p": 0.5}' --typical 0.5
as_run "top_n_sigma" '{"top_n_sigma": 0.3}' --top-nsigma 0.3
as_run "xtc" '{"xtc_probability": 1, "xtc_threshold": 0.1}' --xtc-probability 1 --xtc-threshold 0.1
as_run "dynatemp" '{"dynatemp_range": 0.7, "dynatemp_exponent": 2}' --dynatemp-range 0.7 --dynatemp-exp 2
as_run "repeat_last_n" '{"repeat_penalty": 1.5, "repeat_last_n": 4}' --repeat-penalty 1.5 --repeat-last-n 4
greedy48=$(gen --temp 0 -n 48)
req POST "$T_URL/completion" "$(completion '{"temperature": 0, "n_predict": 48, "dry_multiplier": 3, "dry_allowed_length": 1}')"
expect_eq "serve: dry_multiplier, dry_allowed_length as run's" "$code:$(jqr .content)" "200:$dry_default"
[ "$dry_default" != "$greedy48" ] && pass || fail "DRY did not change the greedy text: $dry_default"
drybase=$(gen "${dry[@]}" --dry-base 4 --dry-penalty-last-n 16)
[ "$drybase" != "$dry_default" ] && pass || fail "run: --dry-base 4 --dry-penalty-last-n 16 changed nothing"
req POST "$T_URL/completion" "$(completion '{"temperature": 0, "n_predict": 48, "dry_multiplier": 3,
  "dry_allowed_length": 1, "dry_base": 4, "dry_penalty_last_n": 16}')"
expect_eq "serve: dry_base, dry_penalty_last_n as run's" "$code:$(jqr .content)" "200:$drybase"
expect_eq "serve: the DRY settings shown" \
  "$(jqr '.generation_settings | "\(.dry_multiplier) \(.dry_base) \(.dry_allowed_length) \(.dry_penalty_last_n)"')" "3 4 1 16"
req POST "$T_URL/completion" "$(completion '{"dry_base": 0.5}')"
expect_eq "serve: dry_base below 1 keeps the server's (as llama-server)" "$code:$(jqr .generation_settings.dry_base)" \
  "200:1.75"
mirostat=$(gen -s 3 --mirostat 2 --temp 0.8)
req POST "$T_URL/v1/completions" '{"prompt": "Once upon a time", "max_tokens": 32, "seed": 3, "mirostat": 2}'
expect_eq "serve /v1/completions: mirostat" "$code:$(jqr '.choices[0].text')" "200:$mirostat"
req POST "$T_URL/api/generate" '{"model": "stories260K.gguf", "prompt": "Once upon a time", "raw": true,
  "stream": false, "options": {"seed": 3, "num_predict": 32, "mirostat": 2}}'
expect_eq "serve /api/generate: options.mirostat" "$code:$(jqr .response)" "200:$mirostat"
typical=$(gen -s 3 --typical 0.5 --mirostat 2 --mirostat-ent 2 --mirostat-lr 0.5 --repeat-last-n 8)
req POST "$T_URL/api/generate" '{"model": "stories260K.gguf", "prompt": "Once upon a time", "raw": true,
  "stream": false, "options": {"seed": 3, "num_predict": 32, "typical_p": 0.5, "mirostat": 2, "mirostat_tau": 2,
  "mirostat_eta": 0.5, "repeat_last_n": 8}}'
expect_eq "serve /api/generate: typical_p, mirostat_tau, mirostat_eta, repeat_last_n" "$code:$(jqr .response)" \
  "200:$typical"
[ "$typical" != "$mirostat" ] && pass || fail "run: mirostat tau 2, eta 0.5 changed nothing"
req POST "$T_URL/api/generate" '{"model": "stories260K.gguf", "prompt": "x", "options": {"mirostat": "2"}}'
expect_eq "serve /api/generate: a bad option" "$code:$(jqr .error)" "400:'mirostat' must be an integer"
bad() {
  req POST "$T_URL/${5:-completion}" "$(completion "$2")"
  expect_eq "serve: $1: 400 naming the field" "$code:$(jqr .error.param)" "400:$3"
  expect_contains "serve: $1: the reason" "$(jqr .error.message)" "$4"
}
bad "mirostat a string" '{"mirostat": "2"}' mirostat "'mirostat' must be an integer"
bad "mirostat 3" '{"mirostat": 3}' mirostat "'mirostat' is 3; it must be from 0 to 2"
bad "mirostat_tau 0" '{"mirostat_tau": 0}' mirostat_tau "'mirostat_tau' is 0; it must be above 0"
bad "mirostat_eta a string" '{"mirostat_eta": "x"}' mirostat_eta "'mirostat_eta' must be a number"
bad "typical_p 0" '{"typical_p": 0}' typical_p "'typical_p' is 0; it must be above 0 and at most 1"
bad "typical_p 2" '{"typical_p": 2}' typical_p "'typical_p' is 2; it must be from 0 to 1"
bad "xtc_probability 1.5" '{"xtc_probability": 1.5}' xtc_probability "it must be from 0 to 1"
bad "xtc_threshold true" '{"xtc_threshold": true}' xtc_threshold "'xtc_threshold' must be a number"
bad "top_n_sigma a string" '{"top_n_sigma": "1"}' top_n_sigma "'top_n_sigma' must be a number"
bad "dynatemp_range -1" '{"dynatemp_range": -1}' dynatemp_range "'dynatemp_range' is -1"
bad "dynatemp_exponent 0" '{"dynatemp_exponent": 0}' dynatemp_exponent "must be above 0"
bad "repeat_last_n -2" '{"repeat_last_n": -2}' repeat_last_n "'repeat_last_n' is -2"
bad "repeat_last_n 1.5" '{"repeat_last_n": 1.5}' repeat_last_n "'repeat_last_n' must be an integer"
bad "dry_multiplier -1" '{"dry_multiplier": -1}' dry_multiplier "'dry_multiplier' is -1"
bad "dry_base a string" '{"dry_base": "2"}' dry_base "'dry_base' must be a number"
bad "dry_allowed_length -1" '{"dry_allowed_length": -1}' dry_allowed_length "'dry_allowed_length' is -1"
bad "dry_penalty_last_n -2" '{"dry_penalty_last_n": -2}' dry_penalty_last_n "'dry_penalty_last_n' is -2"
bad "chat: mirostat_eta 0" '{"messages": [{"role": "user", "content": "hi"}], "mirostat_eta": 0}' mirostat_eta \
  "must be above 0" v1/chat/completions
stop_server "$T_PID"
expect_eq "server exit" "$stop_rc" 0
finish
