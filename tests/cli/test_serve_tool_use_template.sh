# A model carrying two chat templates, its default (tokenizer.chat_template) and a tool_use variant
# (tokenizer.chat_template.tool_use), as Hermes and Command R ship them: `llamac serve` renders a request that offers
# tools with the variant and every other request with the default, as llama-server's chat layer picks them; a
# --chat-template-file replaces both. The model is synthesized from a vocabulary GGUF to which this test adds the
# variant (a small template that shows which one rendered); with the pinned llama-server at hand, its /apply-template
# gives the same prompts.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
SRC=${LLAMAC_LLAMA_SOURCE:-}
[ -f "$SRC/models/ggml-vocab-qwen2.gguf" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }
LLAMA_SERVER=${LLAMA_SERVER:-"$LLAMAC_SOURCE_DIR/build/reference/bin/llama-server"}

# the vocabulary with one more metadata entry: GGUF v3, key-value pairs after the counts, appended after the last
python3 - "$SRC/models/ggml-vocab-qwen2.gguf" "$TMP/vocab.gguf" << 'PY'
import struct, sys
data = open(sys.argv[1], "rb").read()
assert data[:4] == b"GGUF" and struct.unpack_from("<I", data, 4)[0] == 3
n_tensors, n_kv = struct.unpack_from("<QQ", data, 8)
assert n_tensors == 0
sizes = {0: 1, 1: 1, 2: 2, 3: 2, 4: 4, 5: 4, 6: 4, 7: 1, 10: 8, 11: 8, 12: 8}
def skip_value(t, at):
    if t == 8:
        return at + 8 + struct.unpack_from("<Q", data, at)[0]
    if t == 9:
        et, n = struct.unpack_from("<IQ", data, at)
        at += 12
        for _ in range(n):
            at = skip_value(et, at)
        return at
    return at + sizes[t]
at = 24
for _ in range(n_kv):
    at += 8 + struct.unpack_from("<Q", data, at)[0]
    t = struct.unpack_from("<I", data, at)[0]
    at = skip_value(t, at + 4)
key = b"tokenizer.chat_template.tool_use"
tmpl = (b"TOOL_USE {{ tools | length }} tools\n{% for m in messages %}<|im_start|>{{ m.role }}\n"
        b"{{ m.content }}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}")
kv = struct.pack("<Q", len(key)) + key + struct.pack("<IQ", 8, len(tmpl)) + tmpl
out = data[:16] + struct.pack("<Q", n_kv + 1) + data[24:at] + kv + data[at:]
open(sys.argv[2], "wb").write(out)
PY
"$LLAMAC" synth -q -o "$TMP/m.gguf" --arch qwen2 --vocab-from "$TMP/vocab.gguf" --layers 1 --embd 32 --heads 2
start_server L -m "$TMP/m.gguf" -np 1 -t 1 -c 512

TOOLS='[{"type":"function","function":{"name":"get_weather","description":"The weather","parameters":{"type":"object",
  "properties":{"city":{"type":"string"}},"required":["city"]}}}]'
with_tools=$(jq -nc --argjson t "$TOOLS" '{messages: [{role: "user", content: "Weather in Paris?"}], tools: $t}')
without=$(jq -nc '{messages: [{role: "user", content: "Weather in Paris?"}]}')

req POST "$L_URL/apply-template" "$with_tools"
expect_eq "with tools: 200" "$code" 200
jq -j .prompt "$TMP/body" > "$TMP/tools.prompt"
expect_eq "with tools: the tool_use variant renders" "$(head -1 "$TMP/tools.prompt")" "TOOL_USE 1 tools"
req POST "$L_URL/apply-template" "$without"
jq -j .prompt "$TMP/body" > "$TMP/plain.prompt"
expect_contains "without tools: the default renders" "$(cat "$TMP/plain.prompt")" "<|im_start|>user"
if grep -q TOOL_USE "$TMP/plain.prompt"; then fail "without tools: the tool_use variant rendered"; else pass; fi
req POST "$L_URL/apply-template" "$(jq -c '.tools = []' <<< "$with_tools")"
expect_eq "an empty tools array is no tools" "$(jqr .prompt)" "$(cat "$TMP/plain.prompt")"

# a chat completion with tools evaluates the variant's prompt
req POST "$L_URL/v1/chat/completions" "$(jq -c '. + {max_tokens: 2, temperature: 0}' <<< "$with_tools")"
expect_eq "chat with tools: 200" "$code" 200
n=$(jqr .usage.prompt_tokens)
req POST "$L_URL/tokenize" "$(jq -Rs '{content: ., add_special: true, parse_special: true}' "$TMP/tools.prompt")"
expect_eq "chat with tools: its prompt is the variant's" "$(jqr '.tokens | length')" "$n"
stop_server "$L_PID"

# --chat-template-file replaces both (llama-server keeps no tool_use variant then)
printf '%s' '{% for m in messages %}FILE {{ m.content }}{% endfor %}' > "$TMP/file.jinja"
start_server F -m "$TMP/m.gguf" -np 1 -t 1 -c 512 --chat-template-file "$TMP/file.jinja"
req POST "$F_URL/apply-template" "$with_tools"
expect_eq "--chat-template-file: with tools too" "$(jqr .prompt)" "FILE Weather in Paris?"
stop_server "$F_PID"

if [ -x "$LLAMA_SERVER" ]; then
  port=$(free_port)
  "$LLAMA_SERVER" -m "$TMP/m.gguf" --jinja --host 127.0.0.1 --port "$port" -c 512 -np 1 -t 1 --no-warmup \
    > "$TMP/ref.log" 2>&1 &
  ref_pid=$!
  for _ in $(seq 1 300); do
    curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1 && break
    sleep 0.1
  done
  req POST "http://127.0.0.1:$port/apply-template" "$with_tools"
  expect_eq "llama-server's prompt with tools" "$(jqr .prompt)" "$(cat "$TMP/tools.prompt")"
  req POST "http://127.0.0.1:$port/apply-template" "$without"
  expect_eq "llama-server's prompt without tools" "$(jqr .prompt)" "$(cat "$TMP/plain.prompt")"
  kill "$ref_pid"
  wait "$ref_pid" 2> /dev/null
else
  echo "note: $LLAMA_SERVER not built: the prompts are not compared with llama-server's here" >&2
fi
finish
