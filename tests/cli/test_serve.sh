# `llamac serve`: every endpoint over real HTTP on loopback with the real tiny chat model; streaming equals
# non-streaming (greedy); 4 parallel requests equal sequential ones; prompt-cache reuse; disconnect frees the slot;
# queue overflow; every error status; SIGTERM lets a request in flight finish.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

start_server S -m "$M" -np 4 --api-key secret --embedding --pooling mean --metrics --slots --max-body 100000 -t 1
AUTH=secret
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port "${S_URL##*:}"
expect_eq "port in use: status" "$rc" 1
expect_contains "port in use: message" "$(cat "$TMP/e")" \
  "cannot listen on 127.0.0.1 port ${S_URL##*:}: the address is already in use (another server?); choose another --port, or --port 0 for any free one"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --host 192.0.2.1
expect_eq "not an address of this machine: status" "$rc" 1
expect_contains "not an address of this machine: message" "$(cat "$TMP/e")" \
  "cannot listen on 192.0.2.1 port 0: 192.0.2.1 is not an address of this machine (see --host)"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 70000
expect_eq "bad --port" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --cache-ram -2
expect_eq "bad --cache-ram" "$rc" 2
expect_contains "bad --cache-ram: message" "$(cat "$TMP/e")" "--cache-ram"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" -sps 2
expect_eq "bad -sps" "$rc" 2
expect_contains "bad -sps: message" "$(cat "$TMP/e")" "from 0 to 1"

# --- health, models, 401 ---
AUTH= req GET "$S_URL/health"
expect_eq "health status" "$code" 200
expect_eq "health body" "$(jqr .status)" "ok"
AUTH= req GET "$S_URL/v1/models"
expect_eq "models without key" "$code" 401
expect_eq "401 error shape" "$(jqr .error.type)" "authentication_error"
AUTH=wrong req GET "$S_URL/v1/models"
expect_eq "models with a wrong key" "$code" 401
req GET "$S_URL/v1/models"
expect_eq "models status" "$code" 200
expect_eq "model id" "$(jqr '.data[0].id')" "stories260K-chatml.gguf"
code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -H 'X-Api-Key: secret' -H 'Origin: http://a.example' \
  "$S_URL/models")
expect_eq "X-Api-Key and /models" "$code" 200
# CORS without --cors-origins: llama-server's default, every origin (reflected) and credentials in a preflight
expect_contains "CORS default: the origin reflected" "$(cat "$TMP/headers")" "Access-Control-Allow-Origin: http://a.example"
code=$(curl -s -o /dev/null -D "$TMP/headers" -w '%{http_code}' -X OPTIONS -H 'Origin: http://a.example' \
  -H 'Access-Control-Request-Method: POST' "$S_URL/v1/chat/completions")
expect_eq "CORS default preflight: status" "$code" 200
for h in "Access-Control-Allow-Origin: http://a.example" "Access-Control-Allow-Credentials: true" \
  "Access-Control-Allow-Methods: GET, POST, DELETE, OPTIONS" "Access-Control-Allow-Headers: *"; do
  expect_contains "CORS default preflight: $h" "$(tr -d '\r' < "$TMP/headers")" "$h"
done
grep -q "CORS allows every origin" "$TMP/S.log" && fail "the CORS warning with an API key" || pass
# llama-server's /cors-proxy is off by default: 403, as llama-server's without --ui-mcp-proxy (test_serve_cors_proxy.sh)
req GET "$S_URL/cors-proxy?url=http://127.0.0.1:1/"
expect_eq "/cors-proxy: 403" "$code:$(jqr .error.code)" "403:feature_disabled"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --tools-runtime docker:busybox
expect_contains "--tools-runtime refused: why" "$(cat "$TMP/e")" \
  "llamac serve: --tools-runtime is llama-server's, not offered by llamac serve: llamac serve runs the built-in tools"
# llama-server's /chat/completions/input_tokens: the rendered prompt's length, as the chat request counts it
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Tell me a story"}],"max_tokens":1}'
n_prompt=$(jqr .usage.prompt_tokens)
for path in /chat/completions/input_tokens /v1/chat/completions/input_tokens; do
  req POST "$S_URL$path" '{"messages":[{"role":"user","content":"Tell me a story"}]}'
  expect_eq "$path" "$code:$(jqr .input_tokens)" "200:$n_prompt"
done
req POST "$S_URL/chat/completions/input_tokens" '{"messages":"hi"}'
expect_eq "input_tokens: bad messages" "$code:$(jqr .error.param)" "400:messages"

# --- chat: non-streaming vs streaming (greedy) ---
CHAT='{"model":"x","messages":[{"role":"user","content":"Tell me a story about a cat."}],"temperature":0,"max_tokens":24}'
req POST "$S_URL/v1/chat/completions" "$CHAT"
expect_eq "chat status" "$code" 200
cp "$TMP/body" "$TMP/chat1"
expect_eq "chat object" "$(jqr .object)" "chat.completion"
expect_eq "chat role" "$(jqr '.choices[0].message.role')" "assistant"
expect_eq "chat finish length" "$(jqr '.choices[0].finish_reason')" "length"
expect_eq "chat completion tokens" "$(jqr .usage.completion_tokens)" 24
text1=$(jqr '.choices[0].message.content')
[ -n "$text1" ] && pass || fail "chat content is empty"
expect_contains "chat id" "$(jqr .id)" "chatcmpl-"

# prompt_tokens = the tokens of the rendered template (from /apply-template and /tokenize)
req POST "$S_URL/apply-template" '{"messages":[{"role":"user","content":"Tell me a story about a cat."}]}'
expect_eq "apply-template status" "$code" 200
prompt=$(jqr .prompt)
expect_eq "apply-template prompt" "$prompt" "$(printf '<|im_start|>user\nTell me a story about a cat.<|im_end|>\n<|im_start|>assistant\n')"
# the same as `llamac template` renders
echo '[{"role":"user","content":"Tell me a story about a cat."}]' > "$TMP/messages.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$TMP/messages.json"
expect_eq "apply-template = llamac template" "$(jqr '.prompt + "|"')" "$(cat "$TMP/o"; echo "|")"
req POST "$S_URL/tokenize" "$(jq -c '{content: .prompt, add_special: true}' "$TMP/body")"
expect_eq "chat prompt_tokens" "$(jqr '.tokens | length')" "$(jqr .usage.prompt_tokens "$TMP/chat1")"

# the same request again: the prompt comes from the cache
req POST "$S_URL/v1/chat/completions" "$CHAT"
expect_eq "repeat: same text" "$(jqr '.choices[0].message.content')" "$text1"
cached=$(jqr .usage.prompt_tokens_details.cached_tokens)
[ "$cached" -gt 0 ] && pass || fail "prompt cache: cached_tokens is $cached"
[ "$(jqr .id)" != "$(jqr .id "$TMP/chat1")" ] && pass || fail "response ids are not unique"

STREAM=$(echo "$CHAT" | jq -c '.stream = true | .stream_options = {include_usage: true}')
curl -s -N -H 'Authorization: Bearer secret' -H 'Content-Type: application/json' --data-binary "$STREAM" \
  -D "$TMP/headers" "$S_URL/v1/chat/completions" > "$TMP/sse"
expect_contains "stream content type" "$(cat "$TMP/headers")" "text/event-stream"
expect_eq "stream ends with [DONE]" "$(tail -c 14 "$TMP/sse" | head -c 12)" "data: [DONE]"
sse_json "$TMP/sse"
expect_eq "first delta has the role, content null" "$(jqr '.[0].choices[0].delta | "\(.role) \(.content)"' "$TMP/events")" \
  "assistant null"
expect_eq "stream text = non-stream text" \
  "$(jqr '[.[] | .choices[0].delta.content // empty] | join("")' "$TMP/events")" \
  "$text1"
expect_eq "stream finish_reason" "$(jqr '[.[] | .choices[0].finish_reason // empty] | join(",")' "$TMP/events")" "length"
expect_eq "stream usage chunk" "$(jqr '.[-1] | "\(.usage.completion_tokens):\(.choices | length)"' "$TMP/events")" "24:0"
expect_eq "stream object" "$(jqr '.[1].object' "$TMP/events")" "chat.completion.chunk"
expect_eq "no malformed events" "$sse_bad" 0
# a character of two bytes, each a token of its own: the first byte's token has no text yet, and sends no chunk (an
# empty content delta breaks clients that append it; llama.cpp's server suite refuses one)
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":12,"stream":true,
  "grammar":"root ::= \"é, é.\""}'
sse_json "$TMP/body"
expect_eq "stream of two-byte characters: the text" \
  "$(jqr '[.[] | .choices[0].delta.content // empty] | join("")' "$TMP/events")" "é, é."
expect_eq "stream of two-byte characters: no empty content delta" \
  "$(jqr '[.[] | .choices[0].delta | select(.content == "")] | length' "$TMP/events")" 0

# logprobs: greedy picks the most likely token
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"temperature":0,"max_tokens":4,"logprobs":true,"top_logprobs":3}'
expect_eq "logprobs status" "$code" 200
expect_eq "logprobs entries" "$(jqr '.choices[0].logprobs.content | length')" 4
expect_eq "greedy token is the top one" \
  "$(jqr '.choices[0].logprobs.content | all(.top_logprobs | length == 3) and all(.token == .top_logprobs[0].token and .logprob <= 0)')" true

req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"temperature":0,"max_tokens":3,"logprobs":true}'
expect_eq "logprobs without top_logprobs" "$(jqr '.choices[0].logprobs.content | map((.top_logprobs | length) == 0 and .logprob < 0) | all')" true
req POST "$S_URL/v1/completions" '{"prompt":"Once upon a time","temperature":0,"max_tokens":3,"logprobs":2}'
expect_eq "completions logprobs" "$(jqr '.choices[0].logprobs | "\(.tokens | length):\(.token_logprobs | length):\(.top_logprobs[0] | length):\(.text_offset[0])"')" "3:3:2:0"

# stop string: output ends before it, finish_reason stop
word=$(echo "$text1" | tr ' ' '\n' | awk 'length > 2' | sed -n 2p)
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c --arg w "$word" '.stop = [$w]')"
expect_eq "stop finish_reason" "$(jqr '.choices[0].finish_reason')" "stop"
expect_eq "stop: text before the word" "$(jqr '.choices[0].message.content')" "${text1%%"$word"*}"

# JSON output: response_format json_schema (OpenAI) and json_object
SCHEMA='{"type":"object","properties":{"ok":{"type":"boolean"}},"required":["ok"],"additionalProperties":false}'
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c --argjson s "$SCHEMA" '.max_tokens = 48 |
  .response_format = {type: "json_schema", json_schema: {name: "t", schema: $s}}')"
expect_eq "json_schema output" "$(jqr '.choices[0].message.content | fromjson | .ok | type')" "boolean"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.response_format = {type: "json_schema", json_schema: {schema: {type: "object", minProperties: 1, properties: {a: {type: "string", pattern: "(?=x)"}}}}}')"
expect_eq "unsupported schema" "$code:$(jqr .error.param)" "400:response_format"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.response_format = {type: "xml"}')"
expect_eq "bad response_format" "$code:$(jqr .error.param)" "400:response_format"
# llama-server's json_object with a "schema": held to the schema, not just to JSON
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.response_format = {type: "json_object", schema: {const: "42"}}')"
expect_eq "json_object with a schema" "$code:$(jqr '.choices[0].message.content')" '200:"42"'
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.response_format = {type: "json_object", schema: 123}')"
expect_eq "json_object with a schema that is not one" "$code:$(jqr .error.param)" "400:response_format"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.json_schema = {const: 1} |
  .response_format = {type: "json_object", schema: {const: "42"}}')"
expect_eq "json_object with a schema, and json_schema" "$code:$(jqr .error.param)" "400:grammar"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.grammar = "root ::= \"yes\" | \"no\""')"
expect_contains "GBNF grammar" "yes no" "$(jqr '.choices[0].message.content')"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.grammar = "root ::= ("')"
expect_eq "bad grammar" "$code:$(jqr .error.param)" "400:grammar"

# tools: tool_choice "required" forces a call in the model's format (grammar), parsed into tool_calls (the generic
# format here: the call must end within max_tokens, as a reply cut inside its JSON is text, so the string is short)
TOOLS='[{"type":"function","function":{"name":"get_weather","parameters":{"type":"object","properties":{"city":{"type":"string","maxLength":8}},"required":["city"],"additionalProperties":false}}}]'
TREQ=$(jq -nc --argjson t "$TOOLS" '{messages: [{role: "user", content: "Weather in Paris?"}], temperature: 0,
  max_tokens: 120, tools: $t, tool_choice: "required", parallel_tool_calls: false}')
req POST "$S_URL/v1/chat/completions" "$TREQ"
expect_eq "tool call name" "$(jqr '.choices[0].message.tool_calls[0].function.name')" "get_weather"
expect_eq "tool call arguments are a JSON object" "$(jqr '.choices[0].message.tool_calls[0].function.arguments | fromjson | type')" "object"
expect_contains "tool call id" "$(jqr '.choices[0].message.tool_calls[0].id')" "call_"
cp "$TMP/body" "$TMP/tools1"
curl -s -N -H 'Authorization: Bearer secret' --data-binary "$(echo "$TREQ" | jq -c '.stream = true')" \
  "$S_URL/v1/chat/completions" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "streamed tool call = non-streamed" \
  "$(jqr '[.[] | .choices[0].delta.tool_calls[0]? // empty] | (map(.function.name // "") | join("")) + (map(.function.arguments) | join(""))' "$TMP/events")" \
  "$(jqr '.choices[0].message.tool_calls[0].function | .name + .arguments' "$TMP/tools1")"
req POST "$S_URL/v1/chat/completions" "$(echo "$TREQ" | jq -c '.tool_choice = "sometimes"')"
expect_eq "bad tool_choice" "$code:$(jqr .error.param)" "400:tool_choice"
req POST "$S_URL/v1/chat/completions" "$(echo "$TREQ" | jq -c '.tool_choice = {type: "function", function: {name: "nope"}}')"
expect_eq "unknown named tool" "$code:$(jqr .error.param)" "400:tool_choice"
req POST "$S_URL/v1/chat/completions" "$(echo "$TREQ" | jq -c '.tools = [{type: "function", function: {}}]')"
expect_eq "tool without a name" "$code:$(jqr .error.param)" "400:tools"

# OpenAI content-part arrays: the text parts joined with "\n" (as llama.cpp joins them); media parts are a 400
PARTS='[{"role":"user","content":[{"type":"text","text":"Tell me a story"},{"type":"text","text":"about a cat."}]}]'
req POST "$S_URL/apply-template" "{\"messages\":$PARTS}"
expect_eq "content parts: apply-template" "$(jqr .prompt)" \
  "$(printf '<|im_start|>user\nTell me a story\nabout a cat.<|im_end|>\n<|im_start|>assistant\n')"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c --argjson m "$PARTS" '.messages = $m')"
cp "$TMP/body" "$TMP/parts"
req POST "$S_URL/v1/chat/completions" \
  "$(echo "$CHAT" | jq -c '.messages = [{role: "user", content: "Tell me a story\nabout a cat."}]')"
expect_eq "content parts = joined string (chat)" "$(jqr '.choices[0].message.content' "$TMP/parts")" \
  "$(jqr '.choices[0].message.content')"
expect_eq "content parts: prompt tokens" "$(jqr .usage.prompt_tokens "$TMP/parts")" "$(jqr .usage.prompt_tokens)"
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.messages = [{role: "system", content: "Be brief."},
  {role: "user", content: [{type: "text", text: "What is this?"}, {type: "image_url", image_url: {url: "data:,"}}]}]')"
expect_eq "image part: 400" "$code:$(jqr .error.param)" "400:messages"
expect_contains "image part: message" "$(jqr .error.message)" \
  "messages[1].content[1]: image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
req POST "$S_URL/apply-template" '{"messages":[{"role":"user","content":[{"type":"input_audio","input_audio":{"data":"","format":"wav"}}]}]}'
expect_eq "audio part: 400" "$code:$(jqr .error.code)" "400:unsupported_value"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":[{"type":"text"}]}]}'
expect_eq "text part without text" "$code:$(jqr .error.message)" "400:messages[0].content[0]: 'text' must be a string"

# reasoning (--reasoning-format deepseek, the default) is read only where the template has a thinking section, as
# llama-server reads it: ChatML has none, so a <think> the model writes stays content (a grammar makes the
# random-weights model write it); the dialect tests read reasoning with a thinking template (serve_lib.sh)
THINK=$(echo "$CHAT" | jq -c '.grammar = "root ::= \"<think>x</think>y\""')
req POST "$S_URL/v1/chat/completions" "$THINK"
expect_eq "reasoning_content / content" "$(jqr '.choices[0].message | "\(.reasoning_content)|\(.content)"')" \
  "null|<think>x</think>y"
curl -s -N -H 'Authorization: Bearer secret' --data-binary "$(echo "$THINK" | jq -c '.stream = true')" \
  "$S_URL/v1/chat/completions" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "streamed reasoning_content / content" \
  "$(jqr '[.[] | .choices[0].delta.reasoning_content // empty] | join("")' "$TMP/events")|$(jqr '[.[] | .choices[0].delta.content // empty] | join("")' "$TMP/events")" \
  "|<think>x</think>y"

# n = 2 choices with greedy sampling are equal
req POST "$S_URL/v1/chat/completions" "$(echo "$CHAT" | jq -c '.n = 2')"
expect_eq "n=2 choices" "$(jqr '"\(.choices | length):\(.choices[0].message.content == .choices[1].message.content)"')" "2:true"

# --- completions: string, token ids, list, echo ---
req POST "$S_URL/v1/completions" '{"prompt":"Once upon a time","temperature":0,"max_tokens":12}'
expect_eq "completions status" "$code" 200
expect_eq "completions object" "$(jqr .object)" "text_completion"
ctext=$(jqr '.choices[0].text')
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 12 --temp 0
expect_eq "completion = llamac run (greedy)" "$ctext" "$(cat "$TMP/o")"
req POST "$S_URL/tokenize" '{"content":"Once upon a time","add_special":true}'
ids=$(jq -c .tokens "$TMP/body")
req POST "$S_URL/v1/completions" "{\"prompt\":$ids,\"temperature\":0,\"max_tokens\":12}"
expect_eq "token-id prompt" "$(jqr '.choices[0].text')" "$ctext"
req POST "$S_URL/v1/completions" '{"prompt":["Once upon a time","The dog"],"temperature":0,"max_tokens":12,"echo":true}'
expect_eq "prompt list: 2 choices" "$(jqr '.choices | length')" 2
expect_eq "echo" "$(jqr '.choices[0].text')" "Once upon a time$ctext"
req POST "$S_URL/v1/completions" "{\"prompt\":$ids,\"temperature\":0,\"max_tokens\":12,\"echo\":true}"
expect_contains "echo of token ids" "$(jqr '.choices[0].text')" "Once upon a time$ctext"
req POST "$S_URL/detokenize" "{\"tokens\":$ids}"
expect_eq "detokenize (llama-server's pieces, BOS included)" "$(jqr .content)" "<s> Once upon a time"
req POST "$S_URL/v1/completions" '{"prompt":"Once upon a time","temperature":0,"max_tokens":12,"stream":true}'
sse_json "$TMP/body"
expect_eq "completion stream = non-stream" "$(jqr '[.[] | .choices[0].text // empty] | join("")' "$TMP/events")" "$ctext"
# the same for completions: a token whose text is held back sends no chunk (only the last, with finish_reason, is "")
req POST "$S_URL/v1/completions" '{"prompt":"Hi","max_tokens":12,"stream":true,"grammar":"root ::= \"é, é.\""}'
sse_json "$TMP/body"
expect_eq "completion stream of two-byte characters: the text" \
  "$(jqr '[.[] | .choices[0].text // empty] | join("")' "$TMP/events")" "é, é."
expect_eq "completion stream of two-byte characters: no empty text chunk" \
  "$(jqr '[.[] | .choices[0] | select(.text == "" and .finish_reason == null)] | length' "$TMP/events")" 0

# --- 4 parallel requests on 4 slots give the sequential results ---
for k in 1 2 3 4; do
  P[$k]="{\"prompt\":\"Once upon a time there was a $k\",\"temperature\":0,\"max_tokens\":20,\"cache_prompt\":false}"
  req POST "$S_URL/v1/completions" "${P[$k]}"
  seq_text[$k]=$(jqr '.choices[0].text')
done
for k in 1 2 3 4; do
  curl -s -H 'Authorization: Bearer secret' --data-binary "${P[$k]}" "$S_URL/v1/completions" > "$TMP/par$k" &
done
wait $(jobs -p | grep -v "^$S_PID$") 2> /dev/null
for k in 1 2 3 4; do
  expect_eq "parallel $k = sequential" "$(jqr '.choices[0].text' "$TMP/par$k")" "${seq_text[$k]}"
done

# --- embeddings: float and base64 ---
req POST "$S_URL/v1/embeddings" '{"input":["Once upon a time","The little dog ran to the park"],"model":"x"}'
expect_eq "embeddings status" "$code" 200
expect_eq "embeddings count and size" "$(jqr '"\(.data | length):\(.data[0].embedding | length)"')" "2:64"
expect_eq "unit length" "$(jqr '[.data[0].embedding[] | . * .] | add | sqrt - 1 | fabs < 1e-4')" true
cp "$TMP/body" "$TMP/emb_float"
run_llamac "$TMP/o" "$TMP/e" embed -m "$M" --pooling mean "Once upon a time"
expect_eq "embedding = llamac embed" \
  "$(jq -r --slurpfile ref "$TMP/o" '[.data[0].embedding, $ref[0][0]] | transpose | map(.[0] - .[1] | fabs) | max < 1e-4' "$TMP/emb_float")" true
req POST "$S_URL/v1/embeddings" '{"input":"Once upon a time","encoding_format":"base64"}'
expect_eq "base64 = float" \
  "$(node -e 'const f = JSON.parse(require("fs").readFileSync(process.argv[1])).data[0].embedding;
              const s = JSON.parse(require("fs").readFileSync(process.argv[2])).data[0].embedding;
              const buf = Buffer.from(s, "base64"); const v = new Float32Array(buf.buffer, buf.byteOffset, buf.length / 4);
              process.stdout.write(String(v.length === f.length && f.every((x, i) => Math.abs(x - v[i]) < 1e-6)))' \
     "$TMP/emb_float" "$TMP/body")" true
req POST "$S_URL/v1/rerank" '{"query":"a","documents":["b"]}'
expect_eq "rerank without --reranking" "$code" 501

# --- errors ---
req POST "$S_URL/v1/nothing" '{}'
expect_eq "404" "$code" 404
expect_eq "404 shape" "$(jqr '.error | keys | join(",")')" "code,message,param,type"
req GET "$S_URL/v1/chat/completions"
expect_eq "405" "$code" 405
req POST "$S_URL/v1/chat/completions" '{"messages": [}'
expect_eq "bad JSON" "$code" 400
expect_contains "bad JSON message" "$(jqr .error.message)" "line 1"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}'
expect_eq "wrong type" "$code:$(jqr .error.param)" "400:temperature"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":0}'
expect_eq "out of range" "$code:$(jqr .error.param)" "400:max_tokens"
req POST "$S_URL/v1/chat/completions" '{"messages":"Hi"}'
expect_eq "messages not an array" "$code:$(jqr .error.param)" "400:messages"
req POST "$S_URL/v1/chat/completions" '{}'
expect_eq "messages missing" "$code:$(jqr .error.param)" "400:messages"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"stream_options":{"include_usage":true}}'
expect_eq "stream_options without stream" "$code:$(jqr .error.param)" "400:stream_options"
req POST "$S_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"logit_bias":{"99999":1}}'
expect_eq "logit_bias out of vocabulary" "$code:$(jqr .error.param)" "400:logit_bias"
req POST "$S_URL/v1/completions" '{"prompt":"Hi","suffix":"there"}'
expect_eq "suffix rejected" "$code:$(jqr .error.param)" "400:suffix"
req POST "$S_URL/v1/completions" '{"prompt":[1, 99999]}'
expect_eq "token id out of range" "$code:$(jqr .error.param)" "400:prompt"
long=$(jq -nc '{prompt: ("Once upon a time " * 700), max_tokens: 4}')
req POST "$S_URL/v1/completions" "$long"
expect_eq "prompt over the slot's context" "$code:$(jqr .error.code)" "400:context_length_exceeded"
expect_eq "llama-server's type and counts" "$(jqr '.error | "\(.type) \(.n_prompt_tokens > .n_ctx) \(.n_ctx > 0)"')" \
  "exceed_context_size_error true true"
expect_contains "overflow message has counts" "$(jqr .error.message)" "2048"
# A conversation over the slot's context in a small body (llama-server's test_context_size_exceeded: 200 short
# messages) is rendered and tokenized, then refused with its counts, streamed or not; not by the request budget's
# early refusal, which cannot count (that one is for bodies over 128 KiB: tests/abuse/test_serve_memory.sh).
many=$(jq -nc '{messages: [range(100) | {role: "system", content: "Book"}, {role: "user", content: "What is the best book"}]}')
for stream in false true; do
  req POST "$S_URL/v1/chat/completions" "$(jq -c --argjson s $stream '. + {stream: $s}' <<< "$many")"
  expect_eq "200 messages over the context (stream $stream)" "$code:$(jqr .error.code):$(jqr .error.param)" \
    "400:context_length_exceeded:messages"
  expect_eq "200 messages: llama-server's type and counts (stream $stream)" \
    "$(jqr '.error | "\(.type) \(.n_prompt_tokens > .n_ctx) \(.n_ctx)"')" "exceed_context_size_error true 2048"
  expect_contains "200 messages: the message has the count (stream $stream)" "$(jqr .error.message)" \
    "the prompt is $(jqr .error.n_prompt_tokens) tokens"
done
head -c 120000 /dev/zero | tr '\0' ' ' > "$TMP/big"
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Authorization: Bearer secret' --data-binary "@$TMP/big" "$S_URL/v1/completions")
expect_eq "413 body over --max-body" "$code" 413
req POST "$S_URL/v1/embeddings" '{"input":[]}'
expect_eq "embeddings empty input" "$code:$(jqr .error.param)" "400:input"
req POST "$S_URL/v1/embeddings" '{"input":"x","encoding_format":"hex"}'
expect_eq "embeddings bad encoding" "$code:$(jqr .error.param)" "400:encoding_format"

# --- disconnect mid-stream frees the slot ---
LONG='{"prompt":"Once upon a time","max_tokens":1500,"ignore_eos":true,"temperature":0,"stream":true}'
curl -s -N -H 'Authorization: Bearer secret' --data-binary "$LONG" "$S_URL/v1/completions" | head -c 400 > /dev/null
expect_cancelled 1 "disconnect cancels the request"
# the same without streaming: the client gives up while the server waits for the engine
curl -s -o /dev/null -m 0.5 -H 'Authorization: Bearer secret' \
  --data-binary '{"prompt":"Once upon a time","max_tokens":1500,"ignore_eos":true,"temperature":0}' "$S_URL/v1/completions"
expect_cancelled 2 "disconnect while waiting cancels the request"
req GET "$S_URL/slots"
expect_eq "all slots idle" "$(jqr 'map(select(.state == "idle")) | length')" 4
req POST "$S_URL/v1/completions" '{"prompt":"Once upon a time","temperature":0,"max_tokens":12}'
expect_eq "a new request works after the disconnect" "$(jqr '.choices[0].text')" "$ctext"
# while it ran, the idle slots' caches (from the parallel requests) were parked out of the KV cache
req GET "$S_URL/slots"
expect_eq "idle caches parked" "$(jqr '[.[] | select(.parked and .n_cached > 0)] | length > 0')" true
req GET "$S_URL/metrics"
expect_contains "metrics prompt tokens" "$(cat "$TMP/body")" "llamacpp:prompt_tokens_total"

# --- SIGTERM lets the request in flight finish, then exit 0 ---
curl -s -H 'Authorization: Bearer secret' --data-binary '{"prompt":"Once upon a time","max_tokens":150,"ignore_eos":true,"temperature":0}' \
  "$S_URL/v1/completions" > "$TMP/inflight" &
cpid=$!
for _ in $(seq 1 100); do
  req GET "$S_URL/slots"
  [ "$(jqr 'map(select(.state != "idle")) | length' 2> /dev/null)" = 1 ] && break
  sleep 0.01
done
stop_server "$S_PID"
wait "$cpid"
expect_eq "SIGTERM exit status" "$stop_rc" 0
expect_eq "in-flight request finished" "$(jqr .usage.completion_tokens "$TMP/inflight")" 150

# --- a server with one slot and no queue on every address, CORS for one origin, a model without a chat template ---
start_server Q -m "$MODELS/stories260K.gguf" -np 1 --max-queue 0 --slots -t 1 --host 0.0.0.0 --cors-origins http://a.example \
  -lv 3
AUTH=
expect_contains "warning: non-loopback without a key" "$(cat "$TMP/Q.log")" "without an API key"
# while a long request holds the one slot, another finds no room in the queue: 503 + Retry-After
curl -s --data-binary '{"prompt":"Once upon a time","max_tokens":2000,"ignore_eos":true,"temperature":0}' \
  "$Q_URL/v1/completions" > "$TMP/long" &
lpid=$!
for _ in $(seq 1 200); do
  req GET "$Q_URL/slots"
  [ "$(jqr 'map(select(.state != "idle")) | length' 2> /dev/null)" = 1 ] && break
  sleep 0.01
done
code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' --data-binary \
  '{"prompt":"Once upon a time","max_tokens":4}' "$Q_URL/v1/completions")
expect_eq "queue full: 503" "$code" 503
expect_contains "Retry-After" "$(cat "$TMP/headers")" "Retry-After: 1"
wait "$lpid"
expect_eq "the long request finished" "$(jqr .usage.completion_tokens "$TMP/long")" 2000
req POST "$Q_URL/v1/completions" '{"prompt":"Once upon a time","max_tokens":4}'
expect_eq "then a single request works" "$code" 200

# --- the access log (-lv 3, info): a line per request when its response is done, as llama-server's "done request";
# the polled endpoints are logged at debug level (-lv 5, -v) ---
# wait_log PATTERN : waits up to 5 s for a line of Q.log matching PATTERN (the line follows the response's end)
wait_log() {
  for _ in $(seq 1 50); do grep -q "$1" "$TMP/Q.log" && return 0; sleep 0.1; done
  return 1
}
tokens="prompt_tokens=$(jqr .usage.prompt_tokens) generated_tokens=$(jqr .usage.completion_tokens)"
wait_log "^llamac serve: done request: POST /v1/completions 127.0.0.1 200 $tokens time_ms=[0-9.]*$" && pass ||
  fail "access line of a completion: $(grep 'done request' "$TMP/Q.log")"
curl -s -N --data-binary '{"prompt":"The cat","max_tokens":3,"stream":true,"stream_options":{"include_usage":true}}' \
  "$Q_URL/v1/completions" > "$TMP/sse"
sse_json "$TMP/sse"
tokens="prompt_tokens=$(jqr '.[-1].usage.prompt_tokens' "$TMP/events") generated_tokens=$(jqr '.[-1].usage.completion_tokens' "$TMP/events")"
wait_log "done request: POST /v1/completions 127.0.0.1 200 $tokens time_ms=" && pass ||
  fail "access line of a stream: $(grep 'done request' "$TMP/Q.log")"
req GET "$Q_URL/no/such/path"
wait_log "done request: GET /no/such/path 127.0.0.1 404 time_ms=[0-9.]*$" && pass ||
  fail "access line of a 404: $(grep 'done request' "$TMP/Q.log")"
req GET "$Q_URL/health"
req GET "$Q_URL/no/such/path2"
wait_log "done request: GET /no/such/path2 " || fail "no access line for the second 404"
grep -q "done request: GET /health" "$TMP/Q.log" && fail "/health is logged at INFO (llama-server leaves it out)" || pass
grep -q "done request" "$TMP/S.log" && fail "access lines without -v, -lv or --log-file" || pass
# --log-file: the access lines go there, not to stderr; --log-disable: not even warnings on stderr
rm -f "$TMP/L.file"
start_server L -m "$MODELS/stories260K.gguf" -np 1 -t 1 --log-file "$TMP/L.file" --host 0.0.0.0
req POST "$L_URL/v1/completions" '{"prompt":"Once upon a time","max_tokens":2}'
for _ in $(seq 1 50); do grep -q "done request" "$TMP/L.file" && break; sleep 0.1; done
expect_contains "--log-file: the access line" "$(cat "$TMP/L.file")" "llamac serve: done request: POST /v1/completions"
expect_contains "--log-file: the warnings too" "$(cat "$TMP/L.file")" "without an API key"
expect_contains "no API key, CORS for every origin: a warning" "$(cat "$TMP/L.log")" \
  "no API key is set and CORS allows every origin (llama-server's default): any web page that a browser opens"
expect_eq "--log-file: no access line on stderr" "$(grep -c 'done request' "$TMP/L.log")" 0
stop_server "$L_PID"
start_server D -m "$MODELS/stories260K.gguf" -np 1 -t 1 --log-disable --host 0.0.0.0
expect_eq "--log-disable: no warning on stderr" "$(grep -c 'without an API key' "$TMP/D.log")" 0
stop_server "$D_PID"
# --cors-origins localhost: pages of this machine only (any port), and a listed origin; the preflight's methods and
# headers as given
start_server C -m "$MODELS/stories260K.gguf" -np 1 -t 1 --cors-origins localhost,http://b.example \
  --cors-methods "GET, POST" --cors-headers "Authorization, Content-Type" --no-cors-credentials
for origin in http://localhost http://localhost:3000 http://127.0.0.1:8080 "http://[::1]" "http://[::1]:3000" \
  http://b.example http://localhost.evil.com http://evil.com http://notlocalhost "http://localhost@evil.com" \
  "http://[::1].evil.com"; do
  curl -s -o /dev/null -D "$TMP/headers" -X OPTIONS -H "Origin: $origin" "$C_URL/v1/chat/completions"
  got=$(tr -d '\r' < "$TMP/headers" | sed -n 's/^Access-Control-Allow-Origin: //p')
  case "$origin" in
    *evil* | *notlocalhost) expect_eq "--cors-origins localhost: $origin refused" "$got" "" ;;
    *) expect_eq "--cors-origins localhost: $origin reflected" "$got" "$origin" ;;
  esac
done
curl -s -o /dev/null -D "$TMP/headers" -X OPTIONS -H "Origin: http://localhost:3000" "$C_URL/v1/chat/completions"
for h in "Access-Control-Allow-Credentials: false" "Access-Control-Allow-Methods: GET, POST" \
  "Access-Control-Allow-Headers: Authorization, Content-Type"; do
  expect_contains "--cors-methods, --cors-headers, --no-cors-credentials: $h" "$(tr -d '\r' < "$TMP/headers")" "$h"
done
grep -q "CORS allows every origin" "$TMP/C.log" && fail "the CORS warning without *" || pass
stop_server "$C_PID"
req POST "$Q_URL/v1/embeddings" '{"input":"x"}'
expect_eq "embeddings off: 501" "$code" 501
req GET "$Q_URL/metrics"
expect_eq "metrics off" "$code" 501
# a model without a chat template gets ChatML, as from llama-server
expect_contains "no chat template: a note" "$(cat "$TMP/Q.log")" "the model has no chat template: using ChatML"
req POST "$Q_URL/apply-template" '{"messages":[{"role":"user","content":"Hi"}]}'
expect_eq "no chat template: ChatML" "$code:$(jqr .prompt)" "200:$(printf '<|im_start|>user\nHi<|im_end|>\n<|im_start|>assistant\n')"
req POST "$Q_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":4}'
expect_eq "no chat template: chat completions answer" "$code" 200
curl -s -D "$TMP/headers" -o /dev/null -X OPTIONS -H 'Origin: http://a.example' "$Q_URL/v1/chat/completions"
expect_contains "CORS preflight" "$(cat "$TMP/headers")" "Access-Control-Allow-Origin: http://a.example"
curl -s -D "$TMP/headers" -o /dev/null -H 'Origin: http://b.example' "$Q_URL/v1/models"
[[ "$(cat "$TMP/headers")" != *Access-Control* ]] && pass || fail "CORS header for an origin not in the list"
code=$(curl -s -o /dev/null -w '%{http_code}' -H "X-Big: $(head -c 100000 /dev/zero | tr '\0' a)" "$Q_URL/health")
expect_eq "headers over the limit" "$code" 431
stop_server "$Q_PID"
expect_eq "second server exit" "$stop_rc" 0

# --embedding on a generative model without --pooling: mean pooling (noted in the log), so /v1/embeddings answers
start_server E -m "$MODELS/stories260K.gguf" --embedding -t 1 --metrics
req POST "$E_URL/v1/embeddings" '{"input":"Once upon a time"}'
expect_eq "embeddings of a generative model" "$code:$(jqr '.data[0].embedding | length')" "200:64"
expect_contains "embeddings of a generative model: the note" "$(cat "$TMP/E.log")" "using mean pooling"
# /metrics counts an embedding request's prompt tokens and decodes (nothing generated), as llama-server's
n_embd_tokens=$(jqr .usage.prompt_tokens)
req GET "$E_URL/metrics"
expect_eq "metrics: embedding prompt tokens, decodes, nothing predicted" \
  "$(awk '$1 == "llamacpp:prompt_tokens_total" { p = $2 } $1 == "llamacpp:n_decode_total" { d = $2 }
          $1 == "llamacpp:tokens_predicted_total" { g = $2 } END { print p ":" (d > 0) ":" g }' "$TMP/body")" \
  "$n_embd_tokens:1:0"
stop_server "$E_PID"

# --chat-template-kwargs: template variables for every request, each key overridden by the request's own
printf '%s' '{{ greeting }}{% for m in messages %}|{{ m.content }}{% endfor %}' > "$TMP/kw.jinja"
start_server K -m "$MODELS/stories260K.gguf" -t 1 --jinja --chat-template-file "$TMP/kw.jinja" \
  --chat-template-kwargs '{"greeting":"hello","other":1}'
req POST "$K_URL/apply-template" '{"messages":[{"role":"user","content":"a"}]}'
expect_eq "--chat-template-kwargs" "$code:$(jqr .prompt)" "200:hello|a"
req POST "$K_URL/apply-template" '{"messages":[{"role":"user","content":"a"}],"chat_template_kwargs":{"greeting":"hi"}}'
expect_eq "a request's kwargs override the server's" "$code:$(jqr .prompt)" "200:hi|a"
for bad in '"x"' '[1]' 1; do
  req POST "$K_URL/apply-template" '{"messages":[{"role":"user","content":"a"}],"chat_template_kwargs":'"$bad"'}'
  expect_eq "a request's chat_template_kwargs $bad: 400" "$code:$(jqr .error.param):$(jqr .error.message)" \
    "400:chat_template_kwargs:'chat_template_kwargs' must be an object"
done
req POST "$K_URL/apply-template" '{"messages":[{"role":"user","content":"a"}],"chat_template_kwargs":{"enable_thinking":"no"}}'
expect_eq "a request's enable_thinking as a string: 400" "$code:$(jqr .error.message)" \
  "400:chat_template_kwargs: invalid type for \"enable_thinking\" (expected boolean, got string)"
stop_server "$K_PID"
run_llamac "$TMP/o" "$TMP/e" serve -m "$MODELS/stories260K.gguf" --chat-template-kwargs '[1]'
expect_eq "--chat-template-kwargs not an object" "$rc:$(grep -c 'expected a JSON object' "$TMP/e")" "2:1"

# --reasoning off as llama-server's (Qwen3's template then closes an empty thinking block), in every dialect; a
# request's enable_thinking and Ollama's think win; continue_final_message continues the last message (the chat
# layer reads the request's fields in one place for every dialect)
QWEN3="${LLAMAC_LLAMA_SOURCE:-}/models/templates/Qwen-Qwen3-0.6B.jinja"
if [ -f "$QWEN3" ]; then
  # ptail N: the last N bytes of the rendered prompt (trailing newlines kept), then "."
  ptail() { jq -j '.prompt + "."' < "$TMP/body" | tail -c $(($1 + 1)); }
  start_server T -m "$MODELS/stories260K.gguf" -t 1 --chat-template-file "$QWEN3" --reasoning off
  req POST "$T_URL/apply-template" '{"messages":[{"role":"user","content":"a"}]}'
  expect_eq "--reasoning off: thinking closed" "$code:$(ptail 41)" \
    "200:"$'<|im_start|>assistant\n<think>\n\n</think>\n\n.'
  req POST "$T_URL/apply-template" \
    '{"messages":[{"role":"user","content":"a"}],"chat_template_kwargs":{"enable_thinking":true}}'
  expect_eq "a request's enable_thinking wins" "$code:$(ptail 22)" "200:"$'<|im_start|>assistant\n.'
  req POST "$T_URL/apply-template" '{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"Hel"}],
    "continue_final_message":true,"add_generation_prompt":false}'
  expect_eq "continue_final_message" "$code:$(ptail 4)" "200:"$'\nHel.'
  req POST "$T_URL/apply-template" '{"messages":[{"role":"user","content":"a"}],"continue_final_message":true}'
  expect_eq "continue_final_message with add_generation_prompt: 400" "$code:$(jqr .error.param)" "400:messages"
  # chat completions: the closed block's tokens are in the prompt, unless the request turns thinking on
  CHATQ='{"messages":[{"role":"user","content":"a"}],"max_tokens":1}'
  req POST "$T_URL/v1/chat/completions" "$CHATQ"
  closed=$(jqr .usage.prompt_tokens)
  req POST "$T_URL/v1/chat/completions" "$(echo "$CHATQ" | jq -c '.chat_template_kwargs = {enable_thinking: true}')"
  open=$(jqr .usage.prompt_tokens)
  [ "$closed" -gt "$((open + 8))" ] && pass ||
    fail "chat completions: --reasoning off should add the closed block ($closed prompt tokens, $open without)"
  stop_server "$T_PID"
fi

# --- a reranker (a synthesized bert with a classifier head): /v1/rerank equals `llamac rerank` ---
if [ -n "${LLAMAC_LLAMA_SOURCE:-}" ]; then
  "$LLAMAC" synth -q --arch bert --layers 2 --embd 64 --heads 4 --seed 12 --cls-out 1 \
    --vocab-from "$LLAMAC_LLAMA_SOURCE/models/ggml-vocab-bert-bge.gguf" -o "$TMP/rr.gguf"
  start_server R -m "$TMP/rr.gguf" --reranking -t 1
  req POST "$R_URL/v1/rerank" '{"query":"what is a panda?","top_n":2,"return_documents":true,
    "documents":["The giant panda is a bear species endemic to China.","Paris is the capital of France.","hi"]}'
  expect_eq "rerank status" "$code" 200
  run_llamac "$TMP/o" "$TMP/e" rerank -m "$TMP/rr.gguf" --query "what is a panda?" --top-n 2 --format json \
    "The giant panda is a bear species endemic to China." "Paris is the capital of France." "hi"
  expect_eq "rerank = llamac rerank" \
    "$(jq -r --slurpfile ref "$TMP/o" '[.results, $ref[0]] | transpose | map(.[0].index == .[1].index and
       ((.[0].relevance_score - .[1].score) | fabs) < 1e-5) | all and length == 2' "$TMP/body")" true
  expect_eq "rerank document text" "$(jqr '.results[0].document.text | length > 0')" true
  req POST "$R_URL/v1/rerank" '{"documents":["a"]}'
  expect_eq "rerank without query" "$code:$(jqr .error.param)" "400:query"
  req POST "$R_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}]}'
  expect_eq "no generation on a reranker" "$code" 501
  for ep in /v1/completions /v1/messages /v1/responses /api/chat /api/generate /completion; do
    req POST "$R_URL$ep" '{"model":"m","max_tokens":4,"prompt":"Hi","input":"Hi","messages":[{"role":"user","content":"Hi"}]}'
    expect_eq "no generation on a reranker: $ep" "$code" 501
  done
  stop_server "$R_PID"
  expect_eq "reranker server exit" "$stop_rc" 0
fi

finish
