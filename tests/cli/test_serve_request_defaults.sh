# llama-server's flags that set what a request leaves out, and its smaller server flags, against the real
# stories260K: each flag's server answers as a plain server answers a request that sets the same field (-r and stop,
# --no-cache-prompt and cache_prompt, --grammar / -j and grammar, --reasoning-effort / --no-reasoning-preserve and
# chat_template_kwargs, --embd-normalize and embd_normalize), or as llama-server does (--no-prefill-assistant, -sp,
# --props, --api-prefix, --reuse-port, --log-timestamps / --log-prefix); the draft model's context gets the RoPE
# settings (every draft accepted when the draft is the model itself); bad values exit 2 naming the flag, and the flags
# llamac serve refuses say why.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

# a template that shows the variables the flags set
cat > "$TMP/t.jinja" << 'EOF'
{%- for m in messages %}{{ m.role }}: {{ m.content }}
{% endfor -%}
effort={{ reasoning_effort | default('unset') }} preserve={{ 'unset' if preserve_reasoning is not defined else ('yes' if preserve_reasoning else 'no') }}
{% if add_generation_prompt %}assistant:{% endif %}
EOF
completion() { jq -cn --arg p "$1" --argjson extra "${2:-{\}}" '{prompt: $p, n_predict: 24, temperature: 0} + $extra'; }

# --- the plain server: the reference answers ---
start_server P -m "$M" -c 512 -np 1 -t 1 --embedding --chat-template-file "$TMP/t.jinja"
req POST "$P_URL/completion" "$(completion "Once upon a time")"
expect_eq "plain completion" "$code" 200
plain=$(jqr .content)
word=$(jqr '.content | split(" ") | map(select(length > 3)) | .[1]')
[ -n "$word" ] && pass || fail "no word to stop at in '$plain'"
req POST "$P_URL/completion" "$(completion "Once upon a time" "$(jq -cn --arg w "$word" '{stop: [$w]}')")"
stopped=$(jqr .content)
expect_eq "plain: a request's stop word" "$(jqr '"\(.stop_type) \(.stopping_word)"')" "word $word"
req POST "$P_URL/completion" "$(completion "Once upon a time" '{"cache_prompt": false}')"
expect_eq "plain: cache_prompt false decodes the prompt again" "$(jqr .timings.cache_n)" 0
req POST "$P_URL/completion" "$(completion "Once upon a time")"
[ "$(jqr .timings.cache_n)" -gt 0 ] && pass || fail "plain: the prompt was not reused: $(cat "$TMP/body")"
req POST "$P_URL/props" '{}'
expect_eq "POST /props without --props: 501" "$code:$(jqr .error.message)" \
  "501:This server does not support changing global properties. Start it with \`--props\`"
req POST "$P_URL/v1/embeddings" '{"input": "a cat"}'
expect_eq "plain embeddings" "$code" 200
jq -c '.data[0].embedding' "$TMP/body" > "$TMP/e_l2"
expect_eq "plain embedding: unit length" "$(jq '(map(. * .) | add | sqrt) - 1 | fabs < 0.001' "$TMP/e_l2")" true
req POST "$P_URL/v1/embeddings" '{"input": "a cat", "embd_normalize": -1}'
jq -c '.data[0].embedding' "$TMP/body" > "$TMP/e_none"
expect_eq "embd_normalize -1: not unit length" "$(jq '(map(. * .) | add | sqrt) - 1 | fabs > 0.01' "$TMP/e_none")" true
chat='{"messages": [{"role": "user", "content": "Hi"}]}'
req POST "$P_URL/apply-template" "$(jq -c '. + {chat_template_kwargs: {reasoning_effort: "high",
  preserve_reasoning: false}}' <<< "$chat")"
kw_prompt=$(jqr .prompt)
expect_contains "plain: the kwargs reach the template" "$kw_prompt" "effort=high preserve=no"
prefill='{"messages": [{"role": "user", "content": "Hi"}, {"role": "assistant", "content": "Once upon"}]}'
req POST "$P_URL/apply-template" "$prefill"
plain_prefill=$(jqr .prompt)
req POST "$P_URL/tokenize" '{"content": "a", "add_special": true}'
bos=$(jqr '.tokens[0]')
req POST "$P_URL/completion" "$(completion "Once upon a time" "{\"n_predict\": 3, \"logit_bias\": [[$bos, 100]]}")"
expect_eq "plain: a special token gives no text" "$code:$(jqr .content):$(jqr .tokens_predicted)" "200::3"
stop_server "$P_PID"

# --- the flags: the same answers without the fields --- (-r with an escape: \x6c is 'l', llama.cpp's escapes)
hex=$(printf '%s' "${word:0:1}" | od -An -tx1 | tr -d ' \n')
start_server F -m "$M" -c 512 -np 1 -t 1 --embedding --chat-template-file "$TMP/t.jinja" -r "\\x$hex${word:1}" \
  --no-cache-prompt --props --api-prefix /llm --embd-normalize -1 --reasoning-effort high --no-reasoning-preserve \
  --no-prefill-assistant -sp --log-timestamps --log-prefix --log-file "$TMP/F.logfile"
B="$F_URL/llm"
req POST "$B/completion" "$(completion "Once upon a time")"
expect_eq "-r: the stop word of a request that gives none" "$code:$(jqr '"\(.stop_type) \(.stopping_word)"')" \
  "200:word $word"
expect_eq "-r: the text a request's stop gives" "$(jqr .content)" "$stopped"
req POST "$B/completion" "$(completion "Once upon a time" '{"stop": ["zzzz"]}')"
expect_eq "-r: a request's own stop replaces it" "$(jqr '"\(.stop_type) \(.content)"')" "limit $plain"
req POST "$B/completion" "$(completion "Once upon a time")"
expect_eq "--no-cache-prompt: the prompt is decoded again" "$(jqr .timings.cache_n)" 0
req POST "$B/completion" "$(completion "Once upon a time" '{"cache_prompt": true}')"
[ "$(jqr .timings.cache_n)" -gt 0 ] && pass || fail "--no-cache-prompt: cache_prompt true did not reuse"
req POST "$B/props" '{}'
expect_eq "--props: POST /props" "$code:$(jqr .success)" "200:true"
req GET "$B/health"
expect_eq "--api-prefix: /llm/health" "$code" 200
req GET "$F_URL/health"
expect_eq "--api-prefix: /health is outside" "$code" 404
req GET "$F_URL/llmx/health"
expect_eq "--api-prefix: /llmx/health is outside" "$code" 404
req POST "$B/v1/embeddings" '{"input": "a cat"}'
expect_eq "--embd-normalize -1: the vector of embd_normalize -1" "$(jq -c '.data[0].embedding' "$TMP/body")" \
  "$(cat "$TMP/e_none")"
req POST "$B/v1/embeddings" '{"input": "a cat", "embd_normalize": 2}'
expect_eq "--embd-normalize: a request's embd_normalize wins" "$(jq -c '.data[0].embedding' "$TMP/body")" \
  "$(cat "$TMP/e_l2")"
req POST "$B/apply-template" "$chat"
expect_eq "--reasoning-effort, --no-reasoning-preserve: the kwargs' prompt" "$(jqr .prompt)" "$kw_prompt"
req POST "$B/apply-template" "$prefill"
f_prefill=$(jqr .prompt)
[ "$f_prefill" != "$plain_prefill" ] && pass || fail "--no-prefill-assistant: the same prompt as with prefill"
expect_contains "--no-prefill-assistant: a new assistant turn" "${f_prefill: -11}" "assistant:"
expect_contains "--no-prefill-assistant: the message is whole" "$f_prefill" "assistant: Once upon"
req POST "$B/completion" "$(completion "Once upon a time" "{\"n_predict\": 3, \"logit_bias\": [[$bos, 100]]}")"
expect_eq "-sp: a special token's text" "$code:$(jqr .content)" "200:<s><s><s>"
stop_server "$F_PID"
grep -Eq '^[0-9]+\.[0-9]{2}\.[0-9]{3}\.[0-9]{3} I llamac serve: ' "$TMP/F.logfile" && pass ||
  fail "--log-timestamps --log-prefix: no such line in $(head -3 "$TMP/F.logfile")"

# --- a default grammar: requests that constrain nothing get it; one with a grammar of its own does not ---
start_server G -m "$M" -c 512 -np 1 -t 1 --grammar 'root ::= "yes" | "no"'
req POST "$G_URL/completion" "$(completion "Once upon a time")"
expect_eq "--grammar: the output" "$code:$(jqr '.content == "yes" or .content == "no"')" "200:true"
req POST "$G_URL/completion" "$(completion "Once upon a time" '{"grammar": "root ::= \"maybe\""}')"
expect_eq "--grammar: a request's grammar wins" "$(jqr .content)" "maybe"
stop_server "$G_PID"
echo '{"type": "boolean"}' > "$TMP/s.json"
start_server G -m "$M" -c 512 -np 1 -t 1 -jf "$TMP/s.json"
req POST "$G_URL/v1/completions" '{"prompt": "Once upon a time", "max_tokens": 8, "temperature": 0}'
expect_eq "-jf: JSON of the schema" "$code:$(jqr '.choices[0].text | fromjson | type')" "200:boolean"
stop_server "$G_PID"

# --- the draft model's context has the RoPE settings: the model drafting for itself has its drafts accepted (here
# 43 of 47; near-ties decoded in a batch and one by one differ a little); a draft context without them had 9 of 217 ---
start_server D -m "$M" -md "$M" --spec-draft-p-min 0 -c 512 -np 1 -t 1 --rope-freq-scale 0.25
req POST "$D_URL/completion" "$(completion "Once upon a time" '{"n_predict": 48}')"
expect_eq "rope in the draft: at least 80% of the drafts accepted" \
  "$code:$(jqr '.timings | .draft_n > 0 and .draft_n_accepted * 10 >= .draft_n * 8')" "200:true"
stop_server "$D_PID"

# --- --reuse-port: two servers on one port; a third without it cannot listen there ---
port=$(free_port)
"$LLAMAC" serve -m "$M" -c 256 -np 1 -t 1 --port "$port" --reuse-port > /dev/null 2> "$TMP/R1.log" &
await_server R1 $!
"$LLAMAC" serve -m "$M" -c 256 -np 1 -t 1 --port "$port" --reuse-port > /dev/null 2> "$TMP/R2.log" &
await_server R2 $!
expect_eq "--reuse-port: one port" "$R1_URL" "$R2_URL"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -c 256 -np 1 -t 1 --port "$port"
expect_eq "without --reuse-port: the port is taken" "$rc:$(grep -c 'already in use' "$TMP/e")" "1:1"
stop_server "$R1_PID"
stop_server "$R2_PID"

# --- bad values: exit 2 naming the flag, before anything loads (or, for a grammar, once the model has) ---
bad() { # bad NAME EXPECTED-TEXT ARGS...
  local name=$1 want=$2
  shift 2
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" serve "$@" > /dev/null 2> "$TMP/e" || rc=$?
  expect_eq "$name: exit 2" "$rc" 2
  expect_contains "$name: the message" "$(cat "$TMP/e")" "$want"
}
bad "--cache-reuse 256" "--cache-reuse 256: accepted: 0" --cache-reuse 256
bad "--log-colors on" "--log-colors on: accepted: off and auto" --log-colors on
bad "--log-colors maybe" "invalid value 'maybe' for --log-colors" --log-colors maybe
bad "--sse-ping-interval 30" "--sse-ping-interval 30: accepted: -1" --sse-ping-interval 30
bad "--adaptive-target 0.5" "llamac has no adaptive-p sampler" --adaptive-target 0.5
bad "-ctxcp 8" "llamac serve makes no context checkpoints" -ctxcp 8
bad "--api-prefix llm" "--api-prefix 'llm': give a path that starts with '/'" --api-prefix llm
bad "--api-prefix /llm/" "--api-prefix '/llm/'" --api-prefix /llm/
bad "--embd-normalize -2" "--embd-normalize" --embd-normalize -2
bad "--reasoning-effort ''" "--reasoning-effort needs a level" --reasoning-effort ""
bad "-r ''" "-r must be non-empty" -r ""
bad "--samplers top_k;top_q" "--samplers 'top_k;top_q': unknown sampler \"top_q\"" --samplers "top_k;top_q"
bad "--video-fps" "not video" --video-fps 1
bad "--skip-chat-parsing" "--reasoning-format none" --skip-chat-parsing
for ok in "--cache-reuse 0" "--log-colors auto" "--log-colors off" "--sse-ping-interval -1" "--adaptive-target -1" \
  "-ctxcp 0" "--adaptive-decay 0.9" "--no-log-jsonl" "--no-skip-chat-parsing" "--prefill-assistant" "--cache-prompt" "--samplers top_k;temp" "--sampler-seq kt" \
  "--dry-sequence-breaker none"; do
  rc=0
  # shellcheck disable=SC2086
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" serve $ok > /dev/null 2> "$TMP/e" || rc=$?
  expect_eq "$ok: accepted" "$rc:$(cat "$TMP/e")" "0:"
done
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -t 1 --port 0 --grammar 'root ::= "a"' -j '{}'
expect_eq "--grammar with -j: exit 2" "$rc:$(grep -c 'give at most one of --grammar' "$TMP/e")" "2:1"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -t 1 --port 0 --grammar 'root ::= ('
expect_eq "a bad --grammar: exit 2" "$rc" 2
expect_contains "a bad --grammar: named" "$(cat "$TMP/e")" "llamac serve: --grammar: "
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -t 1 --port 0 -jf "$TMP/none.json"
expect_eq "-jf of a missing file: exit 2" "$rc:$(grep -c "cannot open '$TMP/none.json'" "$TMP/e")" "2:1"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -t 1 --port 0 -j '{"type": 5}'
expect_eq "-j of a bad schema: exit 2" "$rc" 2
expect_contains "-j of a bad schema: named" "$(cat "$TMP/e")" "--json-schema"
finish
