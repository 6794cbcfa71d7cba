# `llamac serve` with the official Ollama JavaScript client (ollama, pinned in tests/npm), unchanged: list, show, ps,
# version, chat (non-streamed, streamed: the pieces add up to the whole reply), generate (its context continues a
# conversation), embed, options (num_predict, temperature, seed, stop), format (json and a JSON schema), a tool call
# round trip (tool_choice is llamac's extension, as Ollama's own models decide themselves), think (a template that
# opens <think>), counts and durations, and errors in Ollama's shape {"error": "..."} (bad JSON, missing and unknown
# model, a prompt over the context; a pull of a name that is not a Hugging Face model, a delete of the served model;
# test_serve_ollama_models.sh pulls and deletes, and runs the router) - on
# stories260K-chatml and on a synthesized Qwen3 with Qwen3's tool-capable template. A client that goes away
# mid-stream frees its slot.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
npm_clients
dialect_servers --embedding --pooling mean

cat > "$TMP/sdk.js" << 'EOF'
const { Ollama } = require(process.argv[2]);
const [host, mode, schema] = [process.argv[3], process.argv[4], process.argv[5]];
const ollama = new Ollama({ host });
const messages = [{ role: "user", content: "Tell me a story about a cat." }];
const tools = [{ type: "function", function: { name: "add", description: "Add two numbers", parameters: {
  type: "object", properties: { a: { type: "integer", minimum: 0, maximum: 100 },
                                b: { type: "integer", minimum: 0, maximum: 100 } },
  required: ["a", "b"], additionalProperties: false } } }];
const err = (e) => `${e.name}:${e.status_code}:${e.error}`;
(async () => {
  const out = {};
  const list = await ollama.list();
  out.list = list.models;
  const model = list.models[0].name;
  const options = { temperature: 0, num_predict: 16 };
  if (mode === "think") {
    const r = await ollama.chat({ model, messages, options: { temperature: 0, num_predict: 12 }, think: true });
    out.think = { content: r.message.content, thinking: r.message.thinking };
    let thinking = "";
    for await (const p of await ollama.chat({ model, messages, options: { temperature: 0, num_predict: 12 },
                                              think: true, stream: true })) thinking += p.message.thinking || "";
    out.stream_thinking = thinking;
    const g = await ollama.generate({ model, prompt: "Tell me a story.", options: { temperature: 0, num_predict: 12 }, think: true });
    out.generate_thinking = g.thinking;
    console.log(JSON.stringify(out));
    return;
  }
  if (mode === "full") {
    out.show = await ollama.show({ model });
    out.ps = await ollama.ps();
    out.version = await ollama.version();
    const r = await ollama.chat({ model, messages, options });
    out.chat = r;
    let text = "", pieces = 0, last = null;
    for await (const p of await ollama.chat({ model, messages, options, stream: true })) {
      text += p.message.content;
      pieces++;
      last = p;
    }
    out.stream = { text, pieces, last };
    const g = await ollama.generate({ model, prompt: "Once upon a time", options: { temperature: 0, num_predict: 8 } });
    out.generate = g;
    let gtext = "";
    for await (const p of await ollama.generate({ model, prompt: "Once upon a time", stream: true,
                                                  options: { temperature: 0, num_predict: 8 } })) gtext += p.response;
    out.generate_stream = gtext;
    const g2 = await ollama.generate({ model, prompt: "And then?", context: g.context, options: { temperature: 0, num_predict: 4 } });
    out.generate_context = { prefix: JSON.stringify(g2.context.slice(0, g.context.length)) === JSON.stringify(g.context),
                             longer: g2.context.length > g.context.length + g2.eval_count };
    const raw = await ollama.generate({ model, prompt: "Once upon a time", raw: true, options: { temperature: 0, num_predict: 8 } });
    out.raw = raw.response;
    const word = r.message.content.trim().split(" ")[1];
    const st = await ollama.chat({ model, messages, options: { ...options, stop: [word] } });
    out.stop = { word, text: st.message.content, reason: st.done_reason };
    const j = await ollama.chat({ model, messages: [{ role: "user", content: "A person, please." }], stream: false,
                                  format: JSON.parse(require("fs").readFileSync(schema, "utf8")),
                                  options: { temperature: 0, num_predict: 400 } });
    out.json_schema = j.message.content;
    const jo = await ollama.generate({ model, prompt: "JSON:", format: "json", options: { temperature: 0, num_predict: 200 } });
    out.json = { text: jo.response, done_reason: jo.done_reason };
    const e = await ollama.embed({ model, input: ["Once upon a time", "The little dog"] });
    out.embed = { n: e.embeddings.length, dim: e.embeddings[0].length, norm: Math.hypot(...e.embeddings[0]),
                  prompt_eval_count: e.prompt_eval_count };
    const e1 = await ollama.embeddings({ model, prompt: "Once upon a time" });
    out.embeddings_dim = e1.embedding.length;
    const cases = {
      unknown_model: () => ollama.chat({ model: "nope:latest", messages }),
      unknown_model_stream: async () => { for await (const p of await ollama.chat({ model: "nope:latest", messages, stream: true })) void p; },
      no_model: () => ollama.chat({ model: "", messages }),
      too_long: () => ollama.chat({ model, messages: [{ role: "user", content: "Once upon a time ".repeat(700) }] }),
      too_long_stream: async () => { for await (const p of await ollama.generate({ model, prompt: "Once upon a time ".repeat(700), stream: true })) void p; },
      bad_option: () => ollama.chat({ model, messages, options: { temperature: "hot" } }),
      bad_format: () => ollama.chat({ model, messages, format: "yaml" }),
      show_unknown: () => ollama.show({ model: "nope" }),
    };
    out.errors = {};
    for (const [k, f] of Object.entries(cases)) {
      try { await f(); out.errors[k] = "accepted"; } catch (x) { out.errors[k] = err(x); }
    }
  }
  // a tool call and its result back
  const treq = { model, tools, messages: [{ role: "user", content: "What is 2 plus 3?" }], tool_choice: "required",
                 parallel_tool_calls: false, options: { temperature: 0, num_predict: 400 } };
  const t = await ollama.chat(treq);
  out.tool = { calls: t.message.tool_calls, content: t.message.content, done_reason: t.done_reason };
  const calls = [];
  for await (const p of await ollama.chat({ ...treq, stream: true })) calls.push(...(p.message.tool_calls || []));
  out.tool_stream = calls;
  if (t.message.tool_calls) {
    const c = t.message.tool_calls[0].function;
    const back = [...treq.messages, t.message, { role: "tool", tool_name: c.name, content: String(c.arguments.a + c.arguments.b) }];
    const f = await ollama.chat({ model, tools, messages: back, options: { temperature: 0, num_predict: 8 } });
    out.after_tool = { content: f.message.content, done: f.done };
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
EOF
sdk() { # sdk NAME URL MODE : runs the script, its JSON into $TMP/NAME.json
  sdk_run "$1" ollama "$2" "$3" "$LLAMAC_SOURCE_DIR/tests/schema/person.schema.json"
}

# --- stories260K-chatml: everything ---
sdk s "$S_URL" full
F="$TMP/s.json"
expect_eq "list" "$(jqr '.list | map("\(.name):\(.details.format):\(.details.family):\(.size > 0)") | join(",")' "$F")" \
  "stories260K-chatml.gguf:latest:gguf:llama:true"
expect_eq "show" "$(jqr '.show | "\(.details.family):\(.model_info["general.architecture"]):\(.template | contains("im_start")):\(.capabilities | index("completion") != null)"' "$F")" \
  "llama:llama:true:true"
expect_eq "ps" "$(jqr '.ps.models | map("\(.name):\(.context_length > 0)") | join(",")' "$F")" "stories260K-chatml.gguf:latest:true"
expect_eq "version" "$(jqr '.version.version | test("^[0-9]+\\.[0-9]+\\.[0-9]+$")' "$F")" true
text=$(jqr .chat.message.content "$F")
[ -n "$text" ] && pass || fail "chat: empty"
expect_eq "chat: shape" "$(jqr '.chat | "\(.model):\(.message.role):\(.done):\(.done_reason):\(.eval_count):\(.prompt_eval_count > 0)"' "$F")" \
  "stories260K-chatml.gguf:latest:assistant:true:length:16:true"
expect_eq "chat: durations in nanoseconds" "$(jqr '.chat | (.total_duration >= .eval_duration) and .eval_duration > 1000 and (.created_at | test("^[0-9-]+T"))' "$F")" true
expect_eq "chat stream: pieces = reply" "$(jqr .stream.text "$F")" "$text"
expect_eq "chat stream: the last piece" "$(jqr '.stream | "\(.pieces > 2):\(.last.done):\(.last.done_reason):\(.last.eval_count)"' "$F")" "true:true:length:16"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 8 --temp 0
expect_eq "generate raw = llamac run" "$(jqr .raw "$F")" "$(cat "$TMP/o")"
g=$(jqr .generate.response "$F")
[ -n "$g" ] && pass || fail "generate: empty"
expect_eq "generate stream = generate" "$(jqr .generate_stream "$F")" "$g"
expect_eq "generate: context continues" "$(jqr '.generate_context | "\(.prefix):\(.longer)"' "$F")" "true:true"
expect_eq "options stop" "$(jqr '.stop | .word as $w | "\(.reason):\(.text | contains($w))"' "$F")" "stop:false"
expect_eq "options stop: the text before it" "$(jqr .stop.text "$F")" "$(jqr '.chat.message.content as $t | .stop.word as $w | $t | .[0:index($w)]' "$F")"
jqr .json_schema "$F" > "$TMP/person.json"
if node "$LLAMAC_SOURCE_DIR/tests/schema/check_person.js" "$TMP/person.json" 2> "$TMP/why"; then pass; else
  fail "format schema: $(cat "$TMP/why")"; fi
# the grammar holds the text to a JSON object: whole when the model ended it, its beginning when cut by num_predict
expect_eq "format json: an object" "$(jqr '.json | if .done_reason == "stop" then (.text | fromjson | type) else (.text | ltrimstr(" ") | .[0:1] == "{" | if . then "object" else "not JSON" end) end' "$F")" object
expect_eq "embed" "$(jqr '.embed | "\(.n):\(.dim):\((.norm - 1) | fabs < 1e-4):\(.prompt_eval_count > 0)"' "$F")" "2:64:true:true"
expect_eq "embeddings (the older endpoint)" "$(jqr .embeddings_dim "$F")" 64
expect_eq "unknown model" "$(jqr .errors.unknown_model "$F")" "ResponseError:404:model 'nope:latest' not found"
expect_eq "unknown model, streamed" "$(jqr .errors.unknown_model_stream "$F")" "ResponseError:404:model 'nope:latest' not found"
expect_eq "no model" "$(jqr .errors.no_model "$F")" "ResponseError:400:model is required"
expect_eq "prompt over the context" "$(jqr '.errors.too_long | split(":")[0:2] | join(":")' "$F")" "ResponseError:400"
expect_eq "prompt over the context, streamed" "$(jqr '.errors.too_long_stream | split(":")[0:2] | join(":")' "$F")" "ResponseError:400"
expect_eq "bad option" "$(jqr '.errors.bad_option | split(":")[0:2] | join(":")' "$F")" "ResponseError:400"
expect_eq "bad format" "$(jqr '.errors.bad_format | split(":")[0:2] | join(":")' "$F")" "ResponseError:400"
expect_eq "show unknown" "$(jqr '.errors.show_unknown | split(":")[0:2] | join(":")' "$F")" "ResponseError:404"

tool_checks() { # tool_checks NAME
  local F="$TMP/$1.json"
  expect_eq "$1 tool call: one call of add" "$(jqr '.tool | "\(.done_reason):\(.content):\([.calls[].function.name] | join(","))"' "$F")" "stop::add"
  expect_eq "$1 tool call: arguments an object that fits" \
    "$(jqr '.tool.calls[0].function.arguments | "\(keys | join(",")):\([.a, .b] | all(type == "number" and . == floor and . >= 0 and . <= 100))"' "$F")" "a,b:true"
  expect_eq "$1 tool call: streamed = non-streamed" "$(jqr '.tool_stream | tojson' "$F")" "$(jqr '.tool.calls | tojson' "$F")"
  expect_eq "$1 tool result: an answer" "$(jqr '.after_tool | "\(.done):\(.content | length > 0)"' "$F")" "true:true"
}
tool_checks s

# --- the synthesized Qwen3 with its tool-capable template: the tool round trip ---
sdk q "$Q_URL" tools
tool_checks q
# think false: the Qwen3 template's empty think block
# (prompt_eval_count leaves out the cached prefix, as Ollama's does: after a think-false request, one with think
# true evaluates less than the think-false one did, since its prompt lacks the empty think block)
TH='{"model":"qwen3.gguf","stream":false,"messages":[{"role":"user","content":"Hi"}],"options":{"num_predict":1}}'
req POST "$Q_URL/api/chat" "$(echo "$TH" | jq -c '.think = true')"
req POST "$Q_URL/api/chat" "$(echo "$TH" | jq -c '.think = false')"
off=$(jqr .prompt_eval_count)
req POST "$Q_URL/api/chat" "$(echo "$TH" | jq -c '.think = true')"
expect_eq "think false: an empty think block" "$code:$(jqr ".prompt_eval_count < $off")" "200:true"

# --- think: a template that opens <think>, so the whole reply is thinking ---
sdk r "$R_URL" think
F="$TMP/r.json"
expect_eq "think: all thinking" "$(jqr '.think | "\(.content):\(.thinking | length > 0)"' "$F")" ":true"
expect_eq "think: streamed = non-streamed" "$(jqr .stream_thinking "$F")" "$(jqr .think.thinking "$F")"
[ -n "$(jqr .generate_thinking "$F")" ] && pass || fail "think: generate's thinking empty"

# --- errors in Ollama's shape, with curl ---
err() { # err LABEL STATUS BODY [PATH]
  req POST "$S_URL${4:-/api/chat}" "$3"
  expect_eq "$1" "$code:$(jqr '"\(keys | join(",")):\(.error | type)"')" "$2:error:string"
}
err "bad JSON" 400 '{"model": "stories260K-chatml.gguf", "messages": ['
err "body not an object" 400 '"hello"'
err "messages not an array" 400 '{"model":"stories260K-chatml.gguf","messages":"Hi"}'
err "tool_calls malformed" 400 '{"model":"stories260K-chatml.gguf","messages":[{"role":"assistant","content":"","tool_calls":[{"function":{"arguments":{}}}]}]}'
err "bad keep_alive" 400 '{"model":"stories260K-chatml.gguf","keep_alive":"soon","messages":[{"role":"user","content":"Hi"}]}'
err "bad think" 400 '{"model":"stories260K-chatml.gguf","think":"very","messages":[{"role":"user","content":"Hi"}]}'
err "images (no multimodal model)" 400 '{"model":"stories260K-chatml.gguf","messages":[{"role":"user","content":"Hi","images":["AAAA"]}]}'
err "generate: missing model" 400 '{"prompt":"Hi"}' /api/generate
err "embed: no input" 400 '{"model":"stories260K-chatml.gguf"}' /api/embed
err "show: missing model" 400 '{}' /api/show
req POST "$S_URL/api/pull" '{"model":"llama3.2:1b"}'
expect_eq "pull: only Hugging Face models" "$code:$(jqr '.error | contains("hf.co/OWNER/REPO")')" "400:true"
req POST "$S_URL/api/pull" '{}'
expect_eq "pull: no model" "$code:$(jqr .error)" "400:model is required"
req DELETE "$S_URL/api/delete" '{"model":"stories260K-chatml.gguf"}'
expect_eq "delete: the served model is not removable" "$code:$(jqr '.error | contains("this server serves")')" "403:true"
req DELETE "$S_URL/api/delete" '{"model":"nope"}'
expect_eq "delete: an unknown model" "$code:$(jqr .error)" "404:model 'nope' not found"
req POST "$S_URL/api/chat" '{"model":"stories260K-chatml.gguf"}'
expect_eq "chat without messages: loads" "$code:$(jqr '"\(.done):\(.done_reason)"')" "200:true:load"

# --- a client that goes away mid-stream frees its slot ---
disconnect_frees_slot /api/chat '{"model":"stories260K-chatml.gguf","options":{"num_predict":1500},"messages":[{"role":"user","content":"Once upon a time"}]}'

stop_dialect_servers
finish
