# `llamac serve`'s llama-server-native endpoints with the real stories260K: POST /completion (and /completions) in
# llama-server's shape - content, tokens, stop_type, stopping_word, timings, generation_settings, n_probs (also after
# sampling: post_sampling_probs), a list of prompts, mixed prompts, response_fields, the per-token stream, and
# prompt_progress events (return_progress, native and chat); GET /props; system_fingerprint and timings in the OpenAI
# responses; the Process-Start-Time-Unix header of /metrics; --host with two addresses; and a 400 naming the field
# for each bad input.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

start_server S -m "$M" -c 512 -np 2 -n 64 --seed 42 -t 1 --metrics

# --- 1. a completion: llama-server's fields, counts that add up ---
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":8,"temperature":0,"return_tokens":true}'
expect_eq "completion status" "$code" 200
cp "$TMP/body" "$TMP/c1"
expect_eq "timings.predicted_n" "$(jqr .timings.predicted_n)" 8
expect_eq "tokens_predicted" "$(jqr .tokens_predicted)" 8
expect_eq "tokens: 8 ids" "$(jqr '[.tokens[] | numbers] | length')" 8
expect_eq "prompt_n + cache_n = the prompt" "$(jqr '.timings.prompt_n + .timings.cache_n')" "$(jqr .tokens_evaluated)"
expect_eq "stop_type limit" "$(jqr .stop_type)" limit
expect_eq "not truncated, stop true" "$(jqr '"\(.truncated) \(.stop)"')" "false true"
expect_eq "prompt shown with its BOS" "$(jqr .prompt)" "<s> Once upon a time"
expect_eq "generation_settings" "$(jqr '"\(.generation_settings.n_predict) \(.generation_settings.seed)"')" "8 42"
expect_eq "timings finite, not negative" "$(jqr '[.timings[] | select(. < 0)] | length')" 0
# the detokenized ids are the content
ids=$(jq -c .tokens "$TMP/body")
req POST "$S_URL/detokenize" "{\"tokens\":$ids}"
expect_eq "tokens are the content's" "$(jqr .content)" "$(jqr .content "$TMP/c1")"
# without return_tokens: none
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":2}'
expect_eq "tokens [] without return_tokens" "$(jq -c .tokens "$TMP/body")" "[]"
# /completions is the same API (as in llama-server)
req POST "$S_URL/completions" '{"prompt":"Once upon a time","n_predict":8,"temperature":0}'
expect_eq "/completions: same content" "$(jqr .content)" "$(jqr .content "$TMP/c1")"
# as llama-server at the pin: a request's n_predict wins over the server's -n (64), -1 takes the server's
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":100,"temperature":0,"ignore_eos":true}'
expect_eq "n_predict 100 over -n 64" "$(jqr '"\(.generation_settings.n_predict) \(.timings.predicted_n)"')" "100 100"
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":-1,"temperature":0,"ignore_eos":true}'
expect_eq "n_predict -1: the server's -n" "$(jqr '"\(.generation_settings.n_predict) \(.timings.predicted_n)"')" "64 64"

# --- 2. the stream: one event per token with its id, then the final object; same text as without stream ---
curl -s -N --data-binary '{"prompt":"Once upon a time","n_predict":8,"temperature":0,"stream":true}' \
  "$S_URL/completion" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "SSE lines are data events" "$sse_bad" 0
expect_eq "8 token events, 1 tokens each" "$(jq '[.[] | select(.stop == false) | .tokens | length] | "\(length) \(add)"' -r "$TMP/events")" "8 8"
expect_eq "streamed text = non-streamed" "$(jq -r '[.[] | select(.stop == false) | .content] | join("")' "$TMP/events")" \
  "$(jqr .content "$TMP/c1")"
expect_eq "last event: stop, limit, timings" \
  "$(jq -r '.[-1] | "\(.stop) \(.stop_type) \(.timings.predicted_n) \(.generation_settings.stream)"' "$TMP/events")" \
  "true limit 8 true"

# --- 3. stop word, end of generation ---
word=$(jqr '.content | split(" ") | map(select(length > 2)) | .[1]' "$TMP/c1")
req POST "$S_URL/completion" "$(jq -nc --arg w "$word" '{prompt: "Once upon a time", n_predict: 8, temperature: 0,
  stop: [$w]}')"
expect_eq "stop_type word, stopping_word" "$(jqr '"\(.stop_type) \(.stopping_word)"')" "word $word"
req POST "$S_URL/tokenize" '{"content":"</s>","parse_special":true}'
eos=$(jqr '.tokens[0]')
req POST "$S_URL/completion" "{\"prompt\":\"Once upon a time\",\"n_predict\":8,\"logit_bias\":[[$eos,100]]}"
expect_eq "stop_type eos" "$(jqr '"\(.stop_type) [\(.content)]"')" "eos []"
# ignore_eos shows the end-of-generation tokens' -inf biases (null)
req POST "$S_URL/completion" '{"prompt":"Once","n_predict":2,"ignore_eos":true}'
expect_eq "ignore_eos: EOG biases null" "$(jqr "[.generation_settings.logit_bias[] | select(.token == $eos) | .bias]" | jq -c .)" "[null]"
req POST "$S_URL/completion" '{"prompt":"Once","n_predict":2}'
expect_eq "no ignore_eos: no biases" "$(jq -c .generation_settings.logit_bias "$TMP/body")" "[]"

# --- 4. n_probs ---
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":4,"temperature":0,"n_probs":3}'
expect_eq "n_probs: one entry per token" "$(jqr '.completion_probabilities | length')" 4
expect_eq "n_probs: 3 alternatives each" "$(jqr '[.completion_probabilities[].top_logprobs | length] | unique | .[0]')" 3
expect_eq "greedy: the token is the most likely" \
  "$(jqr '[.completion_probabilities[] | .id == .top_logprobs[0].id] | all')" true
expect_eq "logprobs <= 0" "$(jqr '[.completion_probabilities[] | .logprob <= 0] | all')" true

# post_sampling_probs: the distribution the token was drawn from (after top-k 40, top-p, min-p, temperature)
req POST "$S_URL/completion" '{"prompt":"Today was the day. Today I would finally become a","n_predict":5,
  "temperature":1,"n_probs":10,"post_sampling_probs":true,"seed":7}'
expect_eq "post_sampling_probs: 200, an entry per token" "$code $(jqr '.completion_probabilities | length')" "200 5"
expect_eq "probabilities (prob, top_probs), not log-probabilities" \
  "$(jqr '[.completion_probabilities[] | has("prob") and has("top_probs") and (has("logprob") | not)] | all')" true
expect_eq "every probability in (0, 1]" \
  "$(jqr '[.completion_probabilities[] | .prob, .top_probs[].prob | . > 0 and . <= 1] | all')" true
expect_eq "at most 10 alternatives, best first" \
  "$(jqr '[.completion_probabilities[].top_probs | length <= 10 and (map(.prob) == (map(.prob) | sort | reverse))] | all')" true
expect_eq "fewer than 10 only when they are the whole distribution" \
  "$(jqr '[.completion_probabilities[].top_probs | select(length < 10) | (map(.prob) | add) - 1 | fabs < 0.001] | all')" true
expect_eq "the sampled token is among them with its probability" \
  "$(jqr '[.completion_probabilities[] | .id as $i | .prob as $p | .top_probs | map(select(.id == $i)) |
    (length == 0 or (.[0].prob - $p | fabs) < 1e-6)] | all')" true
expect_eq "generation_settings.post_sampling_probs" "$(jqr .generation_settings.post_sampling_probs)" true
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":3,"temperature":0,"n_probs":3,
  "post_sampling_probs":true}'
expect_eq "greedy: one candidate left, probability 1" \
  "$(jqr '[.completion_probabilities[] | .prob == 1 and (.top_probs | length) == 1] | all')" true
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":3,"backend_sampling":true}'
expect_eq "backend_sampling accepted (llamac samples on the CPU)" "$code" 200

# --- 5. prompts: a list answers a list; ids, mixed, prompt_string give the same text ---
req POST "$S_URL/tokenize" '{"content":"Once upon a time","add_special":true}'
ids=$(jq -c .tokens "$TMP/body")
req POST "$S_URL/completion" "{\"prompt\":[$ids,\"Once upon a time\",{\"prompt_string\":\"Once upon a time\"}],
  \"n_predict\":8,\"temperature\":0}"
expect_eq "list of prompts: 3 answers" "$(jqr 'length')" 3
expect_eq "same text from ids, string, prompt_string" "$(jqr '[.[].content] | unique | length')" 1
expect_eq "indexes" "$(jq -c '[.[].index]' "$TMP/body")" "[0,1,2]"
# mixed strings and ids: concatenated, the BOS only before a leading string
n_ids=$(jq length <<< "$ids")
req POST "$S_URL/completion" "{\"prompt\":[\"Once upon a time\",$(jq '.[1]' <<< "$ids")],\"n_predict\":1}"
expect_eq "mixed, string first: BOS + text + id" "$(jqr .tokens_evaluated)" $((n_ids + 1))
req POST "$S_URL/completion" "{\"prompt\":[$(jq '.[1]' <<< "$ids"),\"Once upon a time\"],\"n_predict\":1}"
expect_eq "mixed, id first: no BOS" "$(jqr .tokens_evaluated)" "$n_ids"
# response_fields: only those, flattened
req POST "$S_URL/completion" '{"prompt":"Once","n_predict":3,"response_fields":["content","generation_settings/n_predict"]}'
expect_eq "response_fields" "$(jq -c 'keys' "$TMP/body")" '["content","generation_settings/n_predict"]'

# id_slot: the request runs on that slot and reuses that slot's cache only
P='{"prompt":"The little dog ran to the park","n_predict":2,"temperature":0,"id_slot":1}'
req POST "$S_URL/completion" "$P"
expect_eq "id_slot 1: served by slot 1" "$(jqr .id_slot)" 1
req POST "$S_URL/completion" "$(jq -c '.id_slot = 0' <<< "$P")"
expect_eq "id_slot 0: slot 0, none of the prompt cached (at most the BOS an earlier prompt left)" \
  "$(jqr '"\(.id_slot) \(.timings.cache_n <= 1)"')" "0 true"
req POST "$S_URL/completion" "$P"
expect_eq "id_slot 1 again: the prompt comes from its cache" "$(jqr '.timings.prompt_n')" 1

# --- 6. /props, OpenAI's system_fingerprint and timings, /metrics' start time ---
req GET "$S_URL/props"
expect_eq "props: n_ctx per slot, slots" "$(jqr '"\(.default_generation_settings.n_ctx) \(.total_slots)"')" "256 2"
expect_eq "props: seed, model_path" "$(jqr '"\(.default_generation_settings.params.seed) \(.model_path)"')" "42 $M"
req POST "$S_URL/v1/completions" '{"prompt":"Once","max_tokens":3}'
expect_contains "system_fingerprint" "$(jqr .system_fingerprint)" "b"
expect_eq "OpenAI response timings" "$(jqr .timings.predicted_n)" 3
curl -s -N --data-binary '{"prompt":"Once","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}' \
  "$S_URL/v1/completions" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "usage chunk has timings" "$(jq '[.[] | select(.usage != null) | .timings.predicted_n] | .[0]' "$TMP/events")" 3
# a request's "verbose": llama-server's __verbose, the prompt as the model saw it
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Say hi"}],"max_tokens":2,"verbose":true}'
expect_eq "verbose: __verbose with the rendered prompt, BOS shown" \
  "$(jqr '.__verbose | "\(.prompt | startswith("<s>")) \(.prompt | contains("Say hi")) \(.tokens_predicted)"')" "true true 2"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Say hi"}],"max_tokens":2}'
expect_eq "no verbose: no __verbose" "$(jqr 'has("__verbose")')" false
start=$(curl -s -D - -o /dev/null "$S_URL/metrics" | tr -d '\r' | sed -n 's/^Process-Start-Time-Unix: //Ip')
now=$(date +%s)
expect_eq "metrics: Process-Start-Time-Unix within the last 10 minutes" \
  "$([ -n "$start" ] && [ "$start" -le "$now" ] && [ "$start" -gt $((now - 600)) ] && echo ok)" ok

# --- 7. bad input: 400 naming the field ---
bad() { # NAME BODY PARAM
  req POST "$S_URL/completion" "$2"
  expect_eq "$1: 400 naming $3" "$code $(jqr .error.param)" "400 $3"
}
bad "n_probs over 20" '{"prompt":"x","n_probs":21}' n_probs
bad "n_probs a string" '{"prompt":"x","n_probs":"3"}' n_probs
bad "post_sampling_probs a string" '{"prompt":"x","n_probs":2,"post_sampling_probs":"yes"}' post_sampling_probs
bad "return_progress a number" '{"prompt":"x","return_progress":1}' return_progress
bad "id_slot past the slots" '{"prompt":"x","id_slot":2}' id_slot
bad "id_slot -2" '{"prompt":"x","id_slot":-2}' id_slot
bad "adaptive_target" '{"prompt":"x","adaptive_target":0.5}' adaptive_target
bad "response_fields not strings" '{"prompt":"x","response_fields":[1]}' response_fields
bad "prompt object without prompt_string" '{"prompt":{"text":"x"}}' prompt
bad "multimodal_data without a projector" '{"prompt":{"prompt_string":"x <__media__>","multimodal_data":["AAAA"]}}' prompt
bad "mixed prompt with a bad id" '{"prompt":["x",99999]}' prompt
bad "empty prompt list" '{"prompt":[]}' prompt
bad "no prompt" '{"n_predict":2}' prompt
bad "logit_bias pair of 3" '{"prompt":"x","logit_bias":[["the",-1,2]]}' logit_bias
bad "logit_bias text with a bad bias" '{"prompt":"x","logit_bias":[["the","low"]]}' logit_bias
long=$(printf 'Once upon a time %.0s' $(seq 1 80))
req POST "$S_URL/completion" "{\"prompt\":\"$long\",\"cache_prompt\":false}"
expect_eq "prompt over the slot's context: 400" "$code" 400
expect_contains "the message says so" "$(jqr .error.message)" "exceeds the available context size"

stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0

# --- 8. return_progress: prompt_progress events while the prompt is decoded (-b 32: several chunks) ---
hosts=127.0.0.1
python3 -c 'import socket; socket.socket(socket.AF_INET6).bind(("::1", 0))' 2> /dev/null && hosts="127.0.0.1,::1"
start_server P -m "$M" -c 512 -np 2 -b 32 --seed 42 -t 1 --host "$hosts"
prompt=$(printf 'the quick brown fox jumps over the lazy dog %.0s' $(seq 1 8))
curl -s -N --data-binary "{\"prompt\":\"$prompt\",\"n_predict\":4,\"stream\":true,\"return_progress\":true,
  \"timings_per_token\":true}" "$P_URL/completion" > "$TMP/sse"
sse_json "$TMP/sse"
jq '[.[] | select(.prompt_progress)]' "$TMP/events" > "$TMP/progress"
n_prompt=$(jq '.[-1].tokens_evaluated' "$TMP/events")
expect_eq "progress events, then 4 tokens and the end" \
  "$(jq '"\(length > 2) \([.[] | .prompt_progress.total] | unique)"' -r "$TMP/progress") $(jq '[.[] | select(.prompt_progress | not)] | length' "$TMP/events")" \
  "true [$n_prompt] 5"
expect_eq "the first before anything is decoded, the last with all of it" \
  "$(jq -r '"\(.[0].prompt_progress.processed) \(.[0].timings.prompt_n) \(.[0].timings.prompt_ms) \(.[-1].prompt_progress.processed)"' "$TMP/progress")" \
  "0 0 0 $n_prompt"
expect_eq "processed grows by at most a batch, prompt_ms never goes back" \
  "$(jq '[range(1; length) as $i | .[$i].prompt_progress.processed - .[$i - 1].prompt_progress.processed |
    . > 0 and . <= 32] + [range(1; length) as $i | .[$i].timings.prompt_ms >= .[$i - 1].timings.prompt_ms] | all' \
    "$TMP/progress")" true
expect_eq "progress comes before the first token" \
  "$(jq '(map(has("prompt_progress")) | index(false)) == (map(select(has("prompt_progress"))) | length)' "$TMP/events")" true
# a cached prompt: the first report has the cache, and one chunk is left
curl -s -N --data-binary "{\"prompt\":\"$prompt\",\"n_predict\":4,\"stream\":true,\"return_progress\":true}" \
  "$P_URL/completion" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "cached: the cache reported, two reports" \
  "$(jq -r '[.[] | select(.prompt_progress) | .prompt_progress] | "\(length) \(.[0].cache == .[0].processed) \(.[0].cache + 1 == .[0].total)"' "$TMP/events")" \
  "2 true true"
# the chat stream has them too, as llama-server's chunks with the role
curl -s -N --data-binary '{"messages":[{"role":"user","content":"Tell me a story about a dog"}],"max_tokens":2,
  "stream":true,"return_progress":true}' "$P_URL/v1/chat/completions" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "chat: progress chunks with the role, the last one complete" \
  "$(jq -r '[.[] | select(.prompt_progress)] | "\(length > 0) \(.[0].choices[0].delta.role) \(.[-1].prompt_progress | .processed == .total)"' "$TMP/events")" \
  "true assistant true"
# --host with two addresses: both serve
if [ "$hosts" != 127.0.0.1 ]; then
  port=${P_URL##*:}
  req POST "http://[::1]:$port/completion" '{"prompt":"Once","n_predict":2}'
  expect_eq "--host 127.0.0.1,::1: ::1 serves" "$code $(jqr .tokens_predicted)" "200 2"
  req POST "http://127.0.0.1:$port/completion" '{"prompt":"Once","n_predict":2}'
  expect_eq "--host 127.0.0.1,::1: 127.0.0.1 serves" "$code $(jqr .tokens_predicted)" "200 2"
  expect_eq "a listening line per address" "$(grep -c 'listening on' "$TMP/P.log")" 2
fi
stop_server "$P_PID"
expect_eq "server exit" "$stop_rc" 0
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --host "127.0.0.1,,::1"
expect_eq "--host with an empty address: refused" "$rc $(grep -c 'empty address' "$TMP/e")" "1 1"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --host /tmp/llamac.sock
expect_contains "--host a UNIX socket: refused, saying so" "$(cat "$TMP/e")" "UNIX sockets are not supported"
finish
