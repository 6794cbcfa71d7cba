# `llamac serve` with the official OpenAI Node SDK (the `openai` npm package, unchanged): chat, streaming chat with
# usage, completions, embeddings (the SDK asks for base64 by default), tool calls (non-streamed, streamed deltas
# accumulated by index, the SDK's stream helper), models, and the SDK's error for a bad key.
# The package is the pinned one of tests/npm (serve_lib.sh npm_clients); without the registry the test is skipped.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v jq > /dev/null || { echo "jq is needed" >&2; exit 77; }
npm_clients

start_server S -m "$M" -np 2 --embedding --pooling mean --api-key sdk-key -t 1

cat > "$TMP/sdk.js" << 'EOF'
const { OpenAI } = require(process.argv[2]);
const baseURL = process.argv[3] + "/v1";
const client = new OpenAI({ baseURL, apiKey: "sdk-key", maxRetries: 0 });
const messages = [{ role: "user", content: "Tell me a story about a cat." }];
(async () => {
  const out = {};
  const r = await client.chat.completions.create({ model: "m", messages, temperature: 0, max_tokens: 16 });
  out.text = r.choices[0].message.content;
  out.finish = r.choices[0].finish_reason;
  out.usage = r.usage;
  const s = await client.chat.completions.create({ model: "m", messages, temperature: 0, max_tokens: 16, stream: true,
                                                   stream_options: { include_usage: true } });
  out.stream = "";
  for await (const chunk of s) {
    if (chunk.choices.length) out.stream += chunk.choices[0].delta.content || "";
    if (chunk.usage) out.stream_usage = chunk.usage;
  }
  const c = await client.completions.create({ model: "m", prompt: "Once upon a time", temperature: 0, max_tokens: 8 });
  out.completion = c.choices[0].text;
  const e = await client.embeddings.create({ model: "m", input: ["Once upon a time", "The little dog"] });
  out.n_embd = e.data.length;
  out.dim = e.data[0].embedding.length;
  out.norm = Math.hypot(...e.data[0].embedding);
  // content-part arrays, as the SDKs send them: text parts are joined with "\n"; an image is a 400
  const parts = [{ type: "text", text: "Tell me a story" }, { type: "text", text: "about a cat." }];
  const rp = await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: parts }],
                                                    temperature: 0, max_tokens: 16 });
  const rj = await client.chat.completions.create({ model: "m", temperature: 0, max_tokens: 16,
                                                    messages: [{ role: "user", content: "Tell me a story\nabout a cat." }] });
  out.parts = rp.choices[0].message.content;
  out.parts_joined = rj.choices[0].message.content;
  out.parts_usage = rp.usage.prompt_tokens + ":" + rj.usage.prompt_tokens;
  try {
    await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: [
      { type: "text", text: "What is this?" }, { type: "image_url", image_url: { url: "data:image/png;base64,AA==" } }] }] });
    out.image = "accepted";
  } catch (err) {
    out.image = err.constructor.name + ":" + err.status + ":" + err.param;
  }
  // tools: tool_choice "required" (the grammar makes the tiny model write a valid call); parallel_tool_calls false
  // ends the grammar after the call(s), so the reply ends with finish_reason "tool_calls"
  const tools = [{ type: "function", function: { name: "add", description: "Add two numbers", parameters: {
    type: "object", properties: { a: { type: "integer", minimum: 0, maximum: 100 },
                                  b: { type: "integer", minimum: 0, maximum: 100 } }, required: ["a", "b"],
    additionalProperties: false } } }];
  const treq = { model: "m", messages: [{ role: "user", content: "What is 2 plus 3?" }], temperature: 0, max_tokens: 400,
                 tools, tool_choice: "required", parallel_tool_calls: false };
  const tcalls = (calls) => (calls || []).map((c) => ({ id: c.id, type: c.type, name: c.function.name,
                                                         arguments: c.function.arguments }));
  const t = await client.chat.completions.create(treq);
  out.tool_finish = t.choices[0].finish_reason;
  out.tool_content = t.choices[0].message.content;
  out.tool_calls = tcalls(t.choices[0].message.tool_calls);
  // streamed: accumulate delta.tool_calls by index, as SDK users do
  const ts = await client.chat.completions.create({ ...treq, stream: true });
  const acc = [];
  for await (const chunk of ts) {
    if (!chunk.choices.length) continue;
    for (const d of chunk.choices[0].delta.tool_calls || []) {
      const c = acc[d.index] || (acc[d.index] = { id: "", type: "", name: "", arguments: "" });
      c.id += d.id || "";
      c.type += d.type || "";
      c.name += (d.function && d.function.name) || "";
      c.arguments += (d.function && d.function.arguments) || "";
    }
    if (chunk.choices[0].finish_reason) out.tool_stream_finish = chunk.choices[0].finish_reason;
  }
  out.tool_stream = acc;
  // the SDK's own stream helper assembles the message from the deltas
  if (typeof client.chat.completions.stream === "function") {
    const final = await client.chat.completions.stream(treq).finalChatCompletion();
    out.tool_helper = tcalls(final.choices[0].message.tool_calls);
    out.tool_helper_finish = final.choices[0].finish_reason;
  }
  const models = await client.models.list();
  out.models = models.data.map((m) => m.id);
  try {
    await new OpenAI({ baseURL, apiKey: "wrong", maxRetries: 0 }).models.list();
    out.bad_key = "accepted";
  } catch (err) {
    out.bad_key = err.constructor.name + ":" + err.status;
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
EOF
sdk_run sdk openai "$S_URL"
text=$(jqr .text "$TMP/sdk.json")
[ -n "$text" ] && pass || fail "SDK chat text is empty"
expect_eq "SDK chat finish" "$(jqr .finish "$TMP/sdk.json")" "length"
expect_eq "SDK chat usage" "$(jqr .usage.completion_tokens "$TMP/sdk.json")" 16
expect_eq "SDK stream = non-stream" "$(jqr .stream "$TMP/sdk.json")" "$text"
expect_eq "SDK stream usage" "$(jqr .stream_usage.completion_tokens "$TMP/sdk.json")" 16
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once upon a time" -n 8 --temp 0
expect_eq "SDK completion = llamac run" "$(jqr .completion "$TMP/sdk.json")" "$(cat "$TMP/o")"
expect_eq "SDK embeddings" "$(jqr '"\(.n_embd):\(.dim):\((.norm - 1) | fabs < 1e-4)"' "$TMP/sdk.json")" "2:64:true"
expect_eq "SDK content parts = joined text" "$(jqr .parts "$TMP/sdk.json")" "$(jqr .parts_joined "$TMP/sdk.json")"
expect_eq "SDK content parts: same prompt" "$(jqr '.parts_usage | split(":") | .[0] == .[1]' "$TMP/sdk.json")" true
expect_eq "SDK image part" "$(jqr .image "$TMP/sdk.json")" "BadRequestError:400:messages"
expect_eq "SDK tool call" "$(jqr '"\(.tool_finish):\(.tool_content):\(.tool_calls[0].name):\(.tool_calls[0].type)"' "$TMP/sdk.json")" \
  "tool_calls:null:add:function"
expect_eq "SDK tool call arguments" \
  "$(jqr '[.tool_calls[].arguments | fromjson | "\(keys | join(",")):\([.a, .b] | all(. == floor and . >= 0 and . <= 100))"] | unique | join(" ")' "$TMP/sdk.json")" \
  "a,b:true"
expect_eq "SDK tool call ids" "$(jqr '.tool_calls | all(.id | startswith("call_")) and (map(.id) | unique | length) == length' "$TMP/sdk.json")" true
expect_eq "SDK streamed tool calls = non-streamed" "$(jqr '[.tool_stream_finish, (.tool_stream | map(del(.id)))] | tojson' "$TMP/sdk.json")" \
  "$(jqr '[.tool_finish, (.tool_calls | map(del(.id)))] | tojson' "$TMP/sdk.json")"
if [ "$(jqr 'has("tool_helper")' "$TMP/sdk.json")" = true ]; then
  expect_eq "SDK stream helper tool calls = non-streamed" \
    "$(jqr '[.tool_helper_finish, (.tool_helper | map(del(.id)))] | tojson' "$TMP/sdk.json")" \
    "$(jqr '[.tool_finish, (.tool_calls | map(del(.id)))] | tojson' "$TMP/sdk.json")"
fi
expect_eq "SDK models" "$(jqr '.models | join(",")' "$TMP/sdk.json")" "stories260K-chatml.gguf"
expect_eq "SDK bad key" "$(jqr .bad_key "$TMP/sdk.json")" "AuthenticationError:401"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
