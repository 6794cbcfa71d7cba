# `llamac serve` with the official OpenAI SDK's Responses API (openai, pinned in tests/npm), unchanged:
# responses.create (a string and items, instructions), streaming (the event order, sequence numbers, deltas = the
# whole text), a function_call / function_call_output round trip (named tool_choice; streamed arguments =
# non-streamed), structured output (text.format json_schema, checked by tests/schema/check_person.js), reasoning
# items (a template that opens <think>), usage, and errors in OpenAI's shape (bad key, bad JSON, a model that is not
# a string, store and previous_response_id refused as a stateless server must, a prompt over the context) - on
# stories260K-chatml and on a synthesized Qwen3 with Qwen3's tool-capable template. A client that goes away
# mid-stream frees its slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
npm_clients
dialect_servers --api-key sdk-key

cat > "$TMP/sdk.js" << 'EOF'
const { OpenAI } = require(process.argv[2]);
const [baseURL, mode, schema] = [process.argv[3] + "/v1", process.argv[4], process.argv[5]];
const client = new OpenAI({ baseURL, apiKey: "sdk-key", maxRetries: 0 });
const input = "Tell me a story about a cat.";
const tools = [{ type: "function", name: "add", description: "Add two numbers", strict: true, parameters: {
  type: "object", properties: { a: { type: "integer", minimum: 0, maximum: 100 },
                                b: { type: "integer", minimum: 0, maximum: 100 } },
  required: ["a", "b"], additionalProperties: false } }];
const err = (e) => `${e.constructor.name}:${e.status}:${e.error && e.error.type}:${e.param}`;
const collect = async (stream) => { // every event of a stream, and the text and arguments its deltas add up to
  const ev = { types: [], seq: [], text: "", args: "", reasoning: "", final: null, done_items: [], args_done: [] };
  for await (const e of stream) {
    ev.types.push(e.type);
    ev.seq.push(e.sequence_number);
    if (e.type === "response.output_text.delta") ev.text += e.delta;
    if (e.type === "response.function_call_arguments.delta") ev.args += e.delta;
    if (e.type === "response.reasoning_text.delta") ev.reasoning += e.delta;
    if (e.type === "response.completed" || e.type === "response.incomplete") ev.final = e.response;
    if (e.type === "response.output_item.done") ev.done_items.push(e.item);
    if (e.type === "response.function_call_arguments.done") ev.args_done.push(e.name + ":" + e.arguments);
  }
  return ev;
};
(async () => {
  const out = {};
  if (mode === "think") {
    const r = await client.responses.create({ model: "m", input, max_output_tokens: 12, temperature: 0 });
    out.types = r.output.map((o) => o.type);
    out.reasoning = r.output[0].content && r.output[0].content[0].text;
    const s = await collect(await client.responses.create({ model: "m", input, max_output_tokens: 12, temperature: 0,
                                                           stream: true }));
    out.stream_reasoning = s.reasoning;
    out.stream_types = [...new Set(s.types)];
    console.log(JSON.stringify(out));
    return;
  }
  if (mode === "full") {
    const r = await client.responses.create({ model: "m", input, instructions: "You are a storyteller.",
                                              max_output_tokens: 16, temperature: 0 });
    out.create = { id: r.id, object: r.object, status: r.status, incomplete: r.incomplete_details,
                   output: r.output, output_text: r.output_text, usage: r.usage };
    // the same conversation as items
    const ri = await client.responses.create({ model: "m", max_output_tokens: 16, temperature: 0, input: [
      { role: "developer", content: "You are a storyteller." },
      { type: "message", role: "user", content: [{ type: "input_text", text: input }] }] });
    out.items_text = ri.output_text;
    const s = await collect(await client.responses.create({ model: "m", input, instructions: "You are a storyteller.",
                                                           max_output_tokens: 16, temperature: 0, stream: true }));
    const textOf = (r) => r.output.filter((o) => o.type === "message").map((o) => o.content.map((c) => c.text).join("")).join("");
    out.stream = { types: s.types, seq: s.seq, text: s.text, final_text: s.final && textOf(s.final),
                   final_status: s.final && s.final.status, final_usage: s.final && s.final.usage };
    // the SDK's stream helper
    const h = client.responses.stream({ model: "m", input, instructions: "You are a storyteller.",
                                        max_output_tokens: 16, temperature: 0 });
    let htext = "";
    h.on("response.output_text.delta", (e) => { htext += e.delta; });
    out.helper = { text: htext, final: (await h.finalResponse()).output_text };
    out.helper.text = htext;
    // structured output: text.format json_schema
    const j = await client.responses.create({ model: "m", input: "A person, please.", max_output_tokens: 400,
      temperature: 0, text: { format: { type: "json_schema", name: "person", strict: true,
                                        schema: JSON.parse(require("fs").readFileSync(schema, "utf8")) } } });
    out.json = { status: j.status, text: j.output_text };
    const cases = {
      bad_key: () => new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).responses.create({ model: "m", input }),
      model_not_string: () => client.responses.create({ model: 7, input }),
      no_input: () => client.responses.create({ model: "m" }),
      store: () => client.responses.create({ model: "m", input, store: true }),
      previous: () => client.responses.create({ model: "m", input, previous_response_id: r.id }),
      builtin_tool: () => client.responses.create({ model: "m", input, tools: [{ type: "web_search" }] }),
      too_long: () => client.responses.create({ model: "m", max_output_tokens: 4, input: "Once upon a time ".repeat(700) }),
      too_long_stream: async () => collect(await client.responses.create({ model: "m", max_output_tokens: 4, stream: true,
                                                                          input: "Once upon a time ".repeat(700) })),
    };
    out.errors = {};
    for (const [k, f] of Object.entries(cases)) {
      try { await f(); out.errors[k] = "accepted"; } catch (e) { out.errors[k] = err(e); }
    }
  }
  // function call round trip
  const treq = { model: "m", max_output_tokens: 400, temperature: 0, tools, parallel_tool_calls: false,
                 tool_choice: { type: "function", name: "add" }, input: [{ role: "user", content: "What is 2 plus 3?" }] };
  const t = await client.responses.create(treq);
  out.tool = { status: t.status, output: t.output, usage: t.usage };
  const ts = await collect(await client.responses.create({ ...treq, stream: true }));
  out.tool_stream = { args: ts.args, types: [...new Set(ts.types)], output: ts.final && ts.final.output,
                      done_items: ts.done_items, args_done: ts.args_done };
  const call = t.output.find((o) => o.type === "function_call");
  if (call) {
    const a = JSON.parse(call.arguments);
    const back = await client.responses.create({ model: "m", max_output_tokens: 8, temperature: 0, tools,
      tool_choice: "none", input: [...treq.input, ...t.output,
                                   { type: "function_call_output", call_id: call.call_id, output: String(a.a + a.b) }] });
    out.after_tool = { types: back.output.map((o) => o.type), text: back.output_text, usage: back.usage };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
EOF
sdk() { # sdk NAME URL MODE : runs the script, its JSON into $TMP/NAME.json
  sdk_run "$1" openai "$2" "$3" "$LLAMAC_SOURCE_DIR/tests/schema/person.schema.json"
}

# --- stories260K-chatml: everything ---
sdk s "$S_URL" full
F="$TMP/s.json"
text=$(jqr '.create.output_text' "$F")
[ -n "$text" ] && pass || fail "create: empty text"
expect_eq "create: response shape" \
  "$(jqr '.create | "\(.id | startswith("resp_")):\(.object):\(.status):\(.incomplete.reason):\(.output | length):\(.output[0].type):\(.output[0].role):\(.output[0].id | startswith("msg_")):\(.output[0].content[0].type)"' "$F")" \
  "true:response:incomplete:max_output_tokens:1:message:assistant:true:output_text"
expect_eq "create: usage" "$(jqr '.create.usage | "\(.output_tokens):\(.input_tokens > 0):\(.total_tokens == .input_tokens + .output_tokens)"' "$F")" "16:true:true"
expect_eq "input items = input string with instructions" "$(jqr .items_text "$F")" "$text"
expect_eq "stream: deltas = create's text" "$(jqr .stream.text "$F")" "$text"
expect_eq "stream: final response" "$(jqr '.stream | "\(.final_text):\(.final_status):\(.final_usage.output_tokens)"' "$F")" "$text:incomplete:16"
expect_eq "stream: event order" "$(jqr '.stream.types | map(select(. != "response.output_text.delta")) | join(",")' "$F")" \
  "response.created,response.in_progress,response.output_item.added,response.content_part.added,response.output_text.done,response.content_part.done,response.output_item.done,response.incomplete"
expect_eq "stream: sequence numbers 0.." "$(jqr '.stream.seq == [range(0; .stream.seq | length)]' "$F")" true
expect_eq "stream helper" "$(jqr '.helper | "\(.text):\(.final)"' "$F")" "$text:$text"
expect_eq "structured output: completed" "$(jqr .json.status "$F")" completed
jqr .json.text "$F" > "$TMP/person.json"
if node "$LLAMAC_SOURCE_DIR/tests/schema/check_person.js" "$TMP/person.json" 2> "$TMP/why"; then pass; else
  fail "structured output: $(cat "$TMP/why")"; fi
expect_eq "bad key" "$(jqr .errors.bad_key "$F")" "AuthenticationError:401:authentication_error:null"
expect_eq "model not a string" "$(jqr .errors.model_not_string "$F")" "BadRequestError:400:invalid_request_error:model"
expect_eq "no input" "$(jqr .errors.no_input "$F")" "BadRequestError:400:invalid_request_error:input"
expect_eq "store refused" "$(jqr .errors.store "$F")" "BadRequestError:400:invalid_request_error:store"
expect_eq "previous_response_id refused" "$(jqr .errors.previous "$F")" "BadRequestError:400:invalid_request_error:previous_response_id"
expect_eq "built-in tool refused" "$(jqr .errors.builtin_tool "$F")" "BadRequestError:400:invalid_request_error:tools"
expect_eq "prompt over the context" "$(jqr .errors.too_long "$F")" "BadRequestError:400:invalid_request_error:input"
expect_eq "prompt over the context, streamed" "$(jqr .errors.too_long_stream "$F")" "BadRequestError:400:invalid_request_error:input"

tool_checks() { # tool_checks NAME
  local F="$TMP/$1.json"
  expect_eq "$1 function_call: one call of add" "$(jqr '.tool | "\(.status):\([.output[] | select(.type == "function_call") | .name] | join(","))"' "$F")" "completed:add"
  expect_eq "$1 function_call: arguments fit the schema" \
    "$(jqr '.tool.output[] | select(.type == "function_call") | .arguments | fromjson | "\(keys | join(",")):\([.a, .b] | all(type == "number" and . == floor and . >= 0 and . <= 100))"' "$F")" "a,b:true"
  expect_eq "$1 function_call: ids" "$(jqr '.tool.output[] | select(.type == "function_call") | "\(.id | startswith("fc_")):\(.call_id | length > 0)"' "$F")" "true:true"
  expect_eq "$1 function_call: streamed arguments" "$(jqr .tool_stream.args "$F")" "$(jqr '.tool.output[] | select(.type == "function_call") | .arguments' "$F")"
  expect_eq "$1 function_call: streamed output = non-streamed" \
    "$(jqr '[.tool_stream.output[] | del(.id, .call_id)] | tojson' "$F")" "$(jqr '[.tool.output[] | del(.id, .call_id)] | tojson' "$F")"
  expect_eq "$1 function_call: output_item.done items = the final output" "$(jqr '.tool_stream.done_items == .tool_stream.output' "$F")" true
  expect_eq "$1 function_call: arguments.done" "$(jqr '.tool_stream.args_done | join(" ")' "$F")" "add:$(jqr .tool_stream.args "$F")"
  expect_eq "$1 function_call: stream events" "$(jqr '.tool_stream.types | map(select(startswith("response.function_call") or startswith("response.output_item"))) | join(",")' "$F")" \
    "response.output_item.added,response.function_call_arguments.delta,response.function_call_arguments.done,response.output_item.done"
  expect_eq "$1 function_call_output: a message" "$(jqr '.after_tool | "\(.types | join(",")):\(.usage.output_tokens > 0)"' "$F")" "message:true"
}
tool_checks s

# --- the synthesized Qwen3 with its tool-capable template: the function call round trip ---
sdk q "$Q_URL" tools
tool_checks q

# --- reasoning: a template that opens <think>, so the whole reply is reasoning ---
sdk r "$R_URL" think
F="$TMP/r.json"
expect_eq "reasoning: a reasoning item" "$(jqr '.types | join(",")' "$F")" "reasoning"
[ -n "$(jqr .reasoning "$F")" ] && pass || fail "reasoning: empty"
expect_eq "reasoning: streamed = non-streamed" "$(jqr .stream_reasoning "$F")" "$(jqr .reasoning "$F")"
expect_contains "reasoning: stream events" "$(jqr '.stream_types | join(",")' "$F")" \
  "response.output_item.added,response.reasoning_text.delta,response.reasoning_text.done,response.output_item.done"
# the Qwen3 template: reasoning effort "none" turns thinking off (an empty think block in the prompt)
req POST "$Q_URL/v1/responses" '{"model":"m","input":"Hi","max_output_tokens":1}'
on=$(jqr .usage.input_tokens)
req POST "$Q_URL/v1/responses" '{"model":"m","input":"Hi","max_output_tokens":1,"reasoning":{"effort":"none"}}'
expect_eq "reasoning effort none: thinking off" "$code:$(jqr ".usage.input_tokens > $on")" "200:true"

# --- errors in OpenAI's shape, with curl ---
AUTH=sdk-key
err() { # err LABEL STATUS PARAM BODY
  req POST "$S_URL/v1/responses" "$4"
  expect_eq "$1" "$code:$(jqr '"\(.error.type):\(.error.param):\(.error.message | type)"')" "$2:invalid_request_error:$3:string"
}
err "bad JSON" 400 null '{"model": "m", "input": "Hi",'
err "bad input item" 400 input '{"model":"m","input":[{"type":"computer_call"}]}'
err "bad role" 400 input '{"model":"m","input":[{"role":"robot","content":"Hi"}]}'
err "bad tool_choice" 400 tool_choice '{"model":"m","input":"Hi","tool_choice":"sometimes"}'
err "tool_choice names no tool" 400 tool_choice '{"model":"m","input":"Hi","tool_choice":{"type":"function","name":"nope"},"tools":[{"type":"function","name":"add","parameters":{"type":"object"}}]}'
err "function tool without a name" 400 tools '{"model":"m","input":"Hi","tools":[{"type":"function","parameters":{"type":"object"}}]}'
err "tool without a type" 400 tools '{"model":"m","input":"Hi","tools":[{"name":"add"}]}'
err "bad text.format" 400 text.format '{"model":"m","input":"Hi","text":{"format":{"type":"yaml"}}}'
err "max_output_tokens 0" 400 max_output_tokens '{"model":"m","input":"Hi","max_output_tokens":0}'
err "background refused" 400 background '{"model":"m","input":"Hi","background":true}'

# --- llama-server's telemetry in the stream: return_progress (response.in_progress events with prompt_progress),
# timings_per_token (timings on the text deltas); response.completed has the reply's timings ---
curl -s -N -H 'Authorization: Bearer sdk-key' -H 'Content-Type: application/json' "$S_URL/v1/responses" \
  --data-binary '{"model":"m","input":"Once upon a time","max_output_tokens":6,"temperature":0,"stream":true,
  "return_progress":true,"timings_per_token":true}' > "$TMP/rsse"
sse_json "$TMP/rsse"
expect_eq "return_progress: in_progress events, the last with the whole prompt" \
  "$(jqr '[.[] | select(.prompt_progress)] | "\(length > 0):\(all(.type == "response.in_progress")):\(last.prompt_progress | .processed == .total)"' "$TMP/events")" \
  "true:true:true"
expect_eq "timings_per_token: the deltas' timings count the tokens" \
  "$(jqr '[.[] | select(.type == "response.output_text.delta") | .timings | .predicted_n > 0 and (.prompt_per_second | type) == "number"] | all' "$TMP/events")" true
expect_eq "response.completed: the reply's timings" \
  "$(jqr '.[] | select(.type == "response.incomplete" or .type == "response.completed") | .timings.predicted_n' "$TMP/events")" 6

# --- a client that goes away mid-stream frees its slot ---
disconnect_frees_slot /v1/responses '{"model":"m","max_output_tokens":1500,"stream":true,"input":"Once upon a time"}' -H 'Authorization: Bearer sdk-key'

stop_dialect_servers
finish
