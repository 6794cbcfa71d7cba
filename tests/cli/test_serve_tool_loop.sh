# A complete OpenAI tool loop with the official `openai` SDK (pinned in tests/npm), unchanged, against `llamac serve`
# on synthesized models with real templates and vocabularies: Qwen3 (qwen3 arch, Qwen2 vocabulary, Qwen3-0.6B's
# template), Llama 3.1 (llama arch, Llama 3 BPE vocabulary, Llama-3.1-8B-Instruct's template), Gemma 4 (qwen3 arch,
# Gemma 4's vocabulary and template: calls in its own notation, <|tool_call>call:f{k:<|"|>v<|"|>}<tool_call|>) and
# LFM2.5 (qwen3 arch, Qwen2 vocabulary - llama.cpp ships no LFM2 one - and LFM2.5-8B-A1B's template: Python-style
# calls, <|tool_call_start|>[f(k="v")]<|tool_call_end|>), Command R+ (qwen3 arch, Command R's vocabulary, the tool_use
# template: Action:\n```json\n[{"tool_name", "parameters"}]```), GigaChat 3.1 (qwen3 arch, Qwen2 vocabulary, its
# template: <|function_call|>{"name", "arguments"}), MiniMax M3 (qwen3 arch, Qwen2 vocabulary, its template: parameters
# as elements behind its namespace token, ]<]minimax[>[<city>..]<]minimax[>[</city>), Hy3, Muse Glimmer and Solar Open
# (qwen3 arch, Qwen2 vocabulary: their markers are plain text there, so a call takes up to ~200 tokens of a byte or two;
# hence turn 1's max_tokens).
#
# Turn 1 offers a tool and names it in tool_choice: a random-weights model would never call a tool by itself, so the
# server's tool grammar (what tool_choice asks for) makes it write a call, which the server parses into tool_calls
# (name, an id, arguments as a JSON string fitting the schema). Turn 2 sends the conversation back as the SDK keeps
# it (the assistant message with its tool_calls and string arguments, then the tool's result) and gets a final
# answer. The prompt of turn 2 is checked: llamac serve's /apply-template of the messages the SDK sent tokenizes to
# exactly the prompt_tokens turn 2 reported, and - when the pinned llama-server is at hand ($LLAMA_SERVER, or the
# reference-tools build) - equals llama-server's /apply-template of the same request, byte for byte (dates
# normalised). Without it, tests/cli/test_chat_layer.sh covers the same template with OpenAI-shaped tool loops.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
SRC=${LLAMAC_LLAMA_SOURCE:-}
[ -d "$SRC/models/templates" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }
npm_clients
LLAMA_SERVER=${LLAMA_SERVER:-"$LLAMAC_SOURCE_DIR/build/reference/bin/llama-server"}

cat > "$TMP/loop.js" << 'JS'
const { OpenAI } = require(process.argv[2]);
const client = new OpenAI({ baseURL: process.argv[3] + "/v1", apiKey: "none", maxRetries: 0 });
const tools = [{ type: "function", function: { name: "get_weather", description: "The weather in a city today",
  parameters: { type: "object", properties: { city: { type: "string", maxLength: 12 } }, required: ["city"],
                additionalProperties: false } } }];
(async () => {
  const messages = [{ role: "system", content: "You answer with the tools you have." },
                    { role: "user", content: "What is the weather in Paris?" }];
  const r1 = await client.chat.completions.create({ model: "m", messages, tools, temperature: 0, max_tokens: 400,
    tool_choice: { type: "function", function: { name: "get_weather" } }, parallel_tool_calls: false });
  const m1 = r1.choices[0].message;
  messages.push(m1);
  for (const call of m1.tool_calls || []) {
    messages.push({ role: "tool", tool_call_id: call.id, content: JSON.stringify({ city: "Paris", sky: "sunny" }) });
  }
  const r2 = await client.chat.completions.create({ model: "m", messages, tools, temperature: 0, max_tokens: 6 });
  console.log(JSON.stringify({ finish1: r1.choices[0].finish_reason, calls: m1.tool_calls, messages,
    answer: r2.choices[0].message, finish2: r2.choices[0].finish_reason, prompt_tokens2: r2.usage.prompt_tokens }));
})().catch((e) => { console.log(JSON.stringify({ error: String(e) })); process.exit(1); });
JS

# The date llama-server and llamac put in a prompt (Llama 3.1's "Today Date"), for the comparison only.
normalise_dates() { sed -E 's/[0-9]{2} [A-Z][a-z]{2} [0-9]{4}/<DATE>/g'; }

loop() { # NAME ARCH VOCAB TEMPLATE SHOWN (how the template shows the call's arguments in turn 2's prompt)
  local name=$1
  "$LLAMAC" synth -q -o "$TMP/$name.gguf" --arch "$2" --vocab-from "$SRC/models/$3" --layers 1 --embd 32 --heads 2
  start_server L -m "$TMP/$name.gguf" --chat-template-file "$SRC/models/templates/$4" -np 1 -t 1
  node "$TMP/loop.js" "$CLIENTS/openai" "$L_URL" > "$TMP/$name.json"
  expect_eq "$name: the SDK's loop ran" "$?:$(jq -r '.error // "ok"' "$TMP/$name.json")" "0:ok"
  # turn 1: one call of the named tool, parsed: an id, arguments a JSON string of an object fitting the schema
  expect_eq "$name: turn 1 finish_reason" "$(jq -r .finish1 "$TMP/$name.json")" tool_calls
  expect_eq "$name: one tool call" "$(jq '.calls | length' "$TMP/$name.json")" 1
  expect_eq "$name: the call" "$(jq -r '.calls[0] | "\(.type):\(.function.name):\(.id | type):\(.id | length > 0)"' \
    "$TMP/$name.json")" "function:get_weather:string:true"
  expect_eq "$name: arguments fit the schema" "$(jq -r '.calls[0].function.arguments | type' "$TMP/$name.json"):$(
    jq -r '.calls[0].function.arguments | fromjson | (keys == ["city"]) and (.city | type == "string")' \
    "$TMP/$name.json")" "string:true"
  # turn 2: a final answer to the tool's result
  expect_eq "$name: turn 2 answers" "$(jq -r '"\(.answer.role):\(.answer.content | type):\(.answer.tool_calls // [] |
    length):\(.finish2)"' "$TMP/$name.json")" "assistant:string:0:length"
  # turn 2's prompt: /apply-template of what the SDK sent, tokenized as the server does (BOS added, specials parsed)
  jq -c '{messages, tools: [{type: "function", function: {name: "get_weather", description:
    "The weather in a city today", parameters: {type: "object", properties: {city: {type: "string", maxLength: 12}},
    required: ["city"], additionalProperties: false}}}]}' "$TMP/$name.json" > "$TMP/$name.turn2"
  req POST "$L_URL/apply-template" "@$TMP/$name.turn2"
  jq -j .prompt "$TMP/body" > "$TMP/$name.prompt"
  expect_eq "$name: /apply-template of turn 2" "$code" 200
  # the SDK's string arguments reach the template as the object it reads (not a double-encoded string), and the
  # tool's result is in the prompt
  expect_contains "$name: arguments shown as an object" "$(cat "$TMP/$name.prompt")" "$5"
  expect_contains "$name: the tool result" "$(cat "$TMP/$name.prompt")" 'sunny'
  req POST "$L_URL/tokenize" "$(jq -Rs '{content: ., add_special: true, parse_special: true}' "$TMP/$name.prompt")"
  expect_eq "$name: turn 2 evaluated exactly that prompt" "$(jqr '.tokens | length')" \
    "$(jq .prompt_tokens2 "$TMP/$name.json")"
  stop_server "$L_PID"
  if [ -x "$LLAMA_SERVER" ]; then
    local port
    port=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    "$LLAMA_SERVER" -m "$TMP/$name.gguf" --jinja --chat-template-file "$SRC/models/templates/$4" --host 127.0.0.1 \
      --port "$port" -c 256 -np 1 -t 1 --no-warmup > "$TMP/ref-$name.log" 2>&1 &
    local pid=$!
    for _ in $(seq 1 300); do
      curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
      sleep 0.1
    done
    curl -s -H 'Content-Type: application/json' --data-binary "@$TMP/$name.turn2" \
      "http://127.0.0.1:$port/apply-template" | jq -j .prompt > "$TMP/$name.ref"
    kill "$pid"
    wait "$pid" 2> /dev/null
    if [ "$(normalise_dates < "$TMP/$name.prompt" | od -c)" = "$(normalise_dates < "$TMP/$name.ref" | od -c)" ]; then
      pass
    else
      fail "$name: turn 2's prompt differs from llama-server's: $(diff <(normalise_dates < "$TMP/$name.ref") \
        <(normalise_dates < "$TMP/$name.prompt") | head -5)"
    fi
  else
    echo "note: $LLAMA_SERVER not built (cmake --build build --target reference-tools): turn 2's prompt is not" \
      "compared with llama-server's here" >&2
  fi
}

loop qwen3 qwen3 ggml-vocab-qwen2.gguf Qwen-Qwen3-0.6B.jinja '{"city": "'
loop llama3 llama ggml-vocab-llama-bpe.gguf meta-llama-Llama-3.1-8B-Instruct.jinja '{"city": "'
loop gemma4 qwen3 ggml-vocab-gemma-4.gguf google-gemma-4-31B-it.jinja '<|tool_call>call:get_weather{city:<|"|>'
loop lfm2 qwen3 ggml-vocab-qwen2.gguf LFM2.5-8B-A1B.jinja "<|tool_call_start|>[get_weather(city='"
loop command-r-plus qwen3 ggml-vocab-command-r.gguf CohereForAI-c4ai-command-r-plus-tool_use.jinja '"city": "'
loop gigachat3.1 qwen3 ggml-vocab-qwen2.gguf GigaChat3.1-10B-A1.8B.jinja '"arguments": {"city":'
loop minimax-m3 qwen3 ggml-vocab-qwen2.gguf MiniMax-M3.jinja '<invoke name="get_weather">]<]minimax[>[<city>'
loop hy3 qwen3 ggml-vocab-qwen2.gguf tencent-Hy3.jinja \
  $'<tool_call:opensource>get_weather<tool_sep:opensource>\n<arg_key:opensource>city</arg_key:opensource>\n'
loop muse qwen3 ggml-vocab-qwen2.gguf muse-glimmer.jinja '<atem:invoke name="get_weather">'
loop solar qwen3 ggml-vocab-qwen2.gguf upstage-Solar-Open-100B.jinja '<|tool_call:args|>{"city": "'
finish
