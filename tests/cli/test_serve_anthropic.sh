# `llamac serve` with the official Anthropic SDK (@anthropic-ai/sdk, pinned in tests/npm), unchanged: messages.create,
# messages.stream with .on('text') (the streamed text = the whole message, Anthropic's event order), a tool_use /
# tool_result round trip (named tool_choice, streamed input_json_delta = non-streamed input), count_tokens, thinking
# (a template that opens <think>: thinking blocks and thinking_delta; thinking enabled vs disabled in count_tokens),
# usage, and errors in Anthropic's shape (bad key, bad JSON, missing model field, a prompt over the context) - on
# stories260K-chatml and on a synthesized Qwen3 with Qwen3's tool-capable template. A client that goes away
# mid-stream frees its slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
npm_clients
dialect_servers --api-key sdk-key

cat > "$TMP/sdk.js" << 'EOF'
const Anthropic = require(process.argv[2]).default;
const [baseURL, mode] = [process.argv[3], process.argv[4]];
const client = new Anthropic({ baseURL, apiKey: "sdk-key", maxRetries: 0 });
const messages = [{ role: "user", content: "Tell me a story about a cat." }];
const tools = [{ name: "add", description: "Add two numbers", input_schema: { type: "object", properties: {
  a: { type: "integer", minimum: 0, maximum: 100 }, b: { type: "integer", minimum: 0, maximum: 100 } },
  required: ["a", "b"], additionalProperties: false } }];
const err = (e) => `${e.constructor.name}:${e.status}:${e.error && e.error.type}:${e.error && e.error.error && e.error.error.type}`;
(async () => {
  const out = {};
  if (mode === "think") {
    // every token is thinking (the template opened <think>): a thinking block, streamed as thinking_delta
    const req = { model: "m", max_tokens: 12, temperature: 0, messages };
    const r = await client.messages.create(req);
    out.content_types = r.content.map((b) => b.type);
    out.thinking = r.content[0].thinking;
    const events = [];
    const s = client.messages.stream(req);
    let thinking = "";
    s.on("thinking", (delta) => { thinking += delta; });
    s.on("streamEvent", (e) => events.push(e.type + (e.delta && e.delta.type ? "/" + e.delta.type : "") +
                                           (e.content_block ? "/" + e.content_block.type : "")));
    const final = await s.finalMessage();
    out.stream_thinking = thinking;
    out.stream_final = final.content.map((b) => b.type).join(",");
    out.events = [...new Set(events)];
    console.log(JSON.stringify(out));
    return;
  }
  if (mode === "full") {
    const r = await client.messages.create({ model: "m", max_tokens: 16, temperature: 0, messages,
                                             system: "You are a storyteller." });
    out.create = r;
    // the SDK's stream helper: .on('text') deltas, the events in order, the assembled final message
    let text = "";
    const events = [];
    const s = client.messages.stream({ model: "m", max_tokens: 16, temperature: 0, messages,
                                       system: [{ type: "text", text: "You are a storyteller." }] });
    s.on("text", (delta) => { text += delta; });
    s.on("streamEvent", (e) => events.push(e.type));
    const final = await s.finalMessage();
    out.stream_text = text;
    out.stream_final = final;
    out.events = events;
    // count_tokens of the same conversation, and with one more message
    out.count = (await client.messages.countTokens({ model: "m", messages, system: "You are a storyteller." })).input_tokens;
    out.count_more = (await client.messages.countTokens({ model: "m", system: "You are a storyteller.",
      messages: [...messages, { role: "assistant", content: "Once" }, { role: "user", content: "More!" }] })).input_tokens;
    // stop_sequences: the text of the unstopped reply up to the sequence
    const stop = r.content[0].text.trim().split(" ")[1];
    const st = await client.messages.create({ model: "m", max_tokens: 16, temperature: 0, messages,
                                              system: "You are a storyteller.", stop_sequences: [stop] });
    out.stop = { seq: stop, reason: st.stop_reason, stop_sequence: st.stop_sequence, text: st.content[0] ? st.content[0].text : "" };
    try {
      await new Anthropic({ baseURL, apiKey: "wrong", maxRetries: 0 }).messages.create({ model: "m", max_tokens: 4, messages });
      out.bad_key = "accepted";
    } catch (e) { out.bad_key = err(e); }
    try {
      await client.messages.create({ max_tokens: 4, messages });
      out.no_model = "accepted";
    } catch (e) { out.no_model = err(e); }
    try {
      await client.messages.create({ model: "m", max_tokens: 4,
                                     messages: [{ role: "user", content: "Once upon a time ".repeat(700) }] });
      out.too_long = "accepted";
    } catch (e) { out.too_long = err(e) + ":" + (e.error && e.error.error && e.error.error.message); }
  }
  // tool use round trip: a named tool with one call, then its result back
  const treq = { model: "m", max_tokens: 400, temperature: 0, tools, messages: [{ role: "user", content: "What is 2 plus 3?" }],
                 tool_choice: { type: "tool", name: "add", disable_parallel_tool_use: true } };
  const t = await client.messages.create(treq);
  out.tool = { stop_reason: t.stop_reason, content: t.content, usage: t.usage };
  const ts = await client.messages.stream(treq).finalMessage();
  out.tool_stream = { stop_reason: ts.stop_reason, content: ts.content };
  const use = t.content.find((b) => b.type === "tool_use");
  if (use) {
    const back = [...treq.messages, { role: "assistant", content: t.content },
                  { role: "user", content: [{ type: "tool_result", tool_use_id: use.id,
                                              content: String(use.input.a + use.input.b) }] }];
    const f = await client.messages.create({ model: "m", max_tokens: 8, temperature: 0, tools, messages: back,
                                             tool_choice: { type: "none" } });
    out.after_tool = { stop_reason: f.stop_reason, types: f.content.map((b) => b.type), usage: f.usage };
    out.count_after_tool = (await client.messages.countTokens({ model: "m", tools, messages: back })).input_tokens;
    out.count_before_tool = (await client.messages.countTokens({ model: "m", tools, messages: treq.messages })).input_tokens;
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
EOF
sdk() { # sdk NAME URL MODE : runs the script, its JSON into $TMP/NAME.json
  sdk_run "$1" @anthropic-ai/sdk "$2" "$3"
}

# --- stories260K-chatml: everything ---
sdk s "$S_URL" full
F="$TMP/s.json"
text=$(jqr '.create.content[0].text' "$F")
[ -n "$text" ] && pass || fail "create: empty text"
expect_eq "create: message shape" "$(jqr '.create | "\(.type):\(.role):\(.id | startswith("msg_")):\(.content | length):\(.content[0].type)"' "$F")" \
  "message:assistant:true:1:text"
expect_eq "create: stop_reason, usage" "$(jqr '.create | "\(.stop_reason):\(.stop_sequence):\(.usage.output_tokens)"' "$F")" "max_tokens:null:16"
expect_eq "create: input tokens = count_tokens" "$(jqr '.create.usage | .input_tokens + .cache_read_input_tokens' "$F")" "$(jqr .count "$F")"
expect_eq "count_tokens grows with the conversation" "$(jqr '.count_more > .count' "$F")" true
expect_eq "stream .on(text) = create's text" "$(jqr .stream_text "$F")" "$text"
expect_eq "stream final message" "$(jqr '.stream_final | "\(.content[0].text):\(.stop_reason):\(.usage.output_tokens)"' "$F")" "$text:max_tokens:16"
expect_eq "stream event order" "$(jqr '.events | map(select(. != "content_block_delta")) | join(",")' "$F")" \
  "message_start,content_block_start,content_block_stop,message_delta,message_stop"
expect_eq "stream: text deltas" "$(jqr '.events | map(select(. == "content_block_delta")) | length > 0' "$F")" true
expect_eq "stop_sequences" "$(jqr '.stop | .seq as $s | "\(.reason):\(.stop_sequence == $s):\(.text | contains($s))"' "$F")" "stop_sequence:true:false"
expect_eq "stop_sequences: the text before it" "$(jqr '.stop.text' "$F")" "$(jqr '.create.content[0].text as $t | .stop.seq as $s | $t | .[0:index($s)]' "$F")"
expect_eq "bad key" "$(jqr .bad_key "$F")" "AuthenticationError:401:error:authentication_error"
expect_eq "missing model" "$(jqr .no_model "$F")" "BadRequestError:400:error:invalid_request_error"
expect_eq "prompt over the context" "$(jqr '.too_long | split(":")[0:4] | join(":")' "$F")" "BadRequestError:400:error:invalid_request_error"
expect_contains "prompt over the context: message" "$(jqr .too_long "$F")" "context"

# tool round trip (both models)
tool_checks() { # tool_checks NAME
  local F="$TMP/$1.json"
  expect_eq "$1 tool_use: one call of add" "$(jqr '.tool | "\(.stop_reason):\([.content[] | select(.type == "tool_use") | .name] | join(","))"' "$F")" "tool_use:add"
  expect_eq "$1 tool_use: input fits the schema" \
    "$(jqr '.tool.content[] | select(.type == "tool_use") | .input | "\(keys | join(",")):\([.a, .b] | all(type == "number" and . == floor and . >= 0 and . <= 100))"' "$F")" "a,b:true"
  expect_eq "$1 tool_use: id" "$(jqr '.tool.content[] | select(.type == "tool_use") | .id | startswith("call_") or startswith("toolu_")' "$F")" true
  expect_eq "$1 tool_use: streamed = non-streamed" \
    "$(jqr '.tool_stream | [.stop_reason, [.content[] | del(.id)]] | tojson' "$F")" "$(jqr '.tool | [.stop_reason, [.content[] | del(.id)]] | tojson' "$F")"
  expect_eq "$1 tool_result: a text answer" "$(jqr '.after_tool | "\(.types | join(",")):\(.usage.output_tokens > 0)"' "$F")" "text:true"
  expect_eq "$1 tool_result: in the prompt" "$(jqr '.count_after_tool > .count_before_tool' "$F")" true
}
tool_checks s

# --- the synthesized Qwen3 with its tool-capable template: the tool round trip ---
sdk q "$Q_URL" tools
tool_checks q

# --- thinking: a template that opens <think>, so the whole reply is thinking ---
sdk r "$R_URL" think
F="$TMP/r.json"
expect_eq "thinking: a thinking block" "$(jqr '.content_types | join(",")' "$F")" "thinking"
[ -n "$(jqr .thinking "$F")" ] && pass || fail "thinking: empty"
expect_eq "thinking: streamed thinking_delta = thinking" "$(jqr .stream_thinking "$F")" "$(jqr .thinking "$F")"
expect_eq "thinking: stream events" "$(jqr '.events | join(",")' "$F")" \
  "message_start,content_block_start/thinking,content_block_delta/thinking_delta,content_block_delta/signature_delta,content_block_stop,message_delta,message_stop"
# the Qwen3 template: thinking disabled adds an empty think block to the prompt; a thinking block in the history
# reaches the template
th() { jq -nc --argjson t "$1" '{model: "m", messages: [{role: "user", content: "Hi"}], thinking: $t}'; }
req POST "$Q_URL/v1/messages/count_tokens" "$(th '{"type":"enabled","budget_tokens":1024}')"
on=$(jqr .input_tokens)
req POST "$Q_URL/v1/messages/count_tokens" "$(th '{"type":"disabled"}')"
expect_eq "thinking disabled: an empty think block" "$(jqr ".input_tokens > $on")" true
H='{"model":"m","messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":[{"type":"thinking","thinking":"THOUGHTS ABOUT IT","signature":""},{"type":"text","text":"Hello"}]},{"role":"user","content":"Again"}]}'
req POST "$Q_URL/v1/messages/count_tokens" "$H"
with=$(jqr .input_tokens)
req POST "$Q_URL/v1/messages/count_tokens" "$(echo "$H" | jq -c 'del(.messages[1].content[0])')"
expect_eq "thinking history: counted" "$code:$(jqr ".input_tokens <= $with")" "200:true"

# --- errors in Anthropic's shape, with curl ---
AUTH=sdk-key
err() { # err LABEL STATUS BODY [PATH]
  req POST "$S_URL${4:-/v1/messages}" "$3"
  expect_eq "$1" "$code:$(jqr '"\(.type):\(.error.type):\(.error.message | type)"')" "$2:error:invalid_request_error:string"
}
err "bad JSON" 400 '{"model": "m", "max_tokens": 4,'
err "body not an object" 400 '[1]'
err "missing messages" 400 '{"model":"m","max_tokens":4}'
err "missing model" 400 '{"max_tokens":4,"messages":[{"role":"user","content":"Hi"}]}'
err "count_tokens: model not a string" 400 '{"model":7,"messages":[{"role":"user","content":"Hi"}]}' /v1/messages/count_tokens
req POST "$S_URL/v1/messages/count_tokens" '{"messages":[{"role":"user","content":"Hi"}]}'
expect_eq "count_tokens: no model needed (llama-server's)" "$code:$(jqr '.input_tokens > 0')" "200:true"
err "content block of an unknown type" 400 '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":[{"type":"video"}]}]}'
err "bad role" 400 '{"model":"m","max_tokens":4,"messages":[{"role":"robot","content":"Hi"}]}'
err "max_tokens 0" 400 '{"model":"m","max_tokens":0,"messages":[{"role":"user","content":"Hi"}]}'
err "temperature a string" 400 '{"model":"m","max_tokens":4,"temperature":"hot","messages":[{"role":"user","content":"Hi"}]}'
err "unknown tool_choice" 400 '{"model":"m","max_tokens":4,"tool_choice":{"type":"maybe"},"messages":[{"role":"user","content":"Hi"}]}'
err "tool_choice names no tool" 400 '{"model":"m","max_tokens":4,"tool_choice":{"type":"tool","name":"nope"},"tools":[{"name":"add","input_schema":{"type":"object"}}],"messages":[{"role":"user","content":"Hi"}]}'
err "server tool" 400 '{"model":"m","max_tokens":4,"tools":[{"type":"web_search_20250305","name":"web_search"}],"messages":[{"role":"user","content":"Hi"}]}'
err "tool without input_schema" 400 '{"model":"m","max_tokens":4,"tools":[{"name":"add"}],"messages":[{"role":"user","content":"Hi"}]}'
err "tools not an array" 400 '{"model":"m","max_tokens":4,"tools":{"name":"add"},"messages":[{"role":"user","content":"Hi"}]}'
err "bad thinking" 400 '{"model":"m","max_tokens":4,"thinking":{"type":"sometimes"},"messages":[{"role":"user","content":"Hi"}]}'
err "count_tokens: bad JSON" 400 '{"model"' /v1/messages/count_tokens
long=$(jq -nc '{model: "m", max_tokens: 4, stream: true, messages: [{role: "user", content: ("Once upon a time " * 700)}]}')
err "stream: prompt over the context" 400 "$long"
req POST "$S_URL/v1/messages" '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"Hi"}]}' -H 'x-api-key: sdk-key'
expect_eq "x-api-key" "$code" 200
AUTH=
req POST "$S_URL/v1/messages" '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"Hi"}]}'
expect_eq "no key" "$code:$(jqr '"\(.type):\(.error.type)"')" "401:error:authentication_error"
AUTH=sdk-key

# --- a client that goes away mid-stream frees its slot ---
disconnect_frees_slot /v1/messages '{"model":"m","max_tokens":1500,"stream":true,"messages":[{"role":"user","content":"Once upon a time"}]}' -H 'x-api-key: sdk-key'

stop_dialect_servers
finish
