# The reasoning budget end to end: `llamac serve`'s fields in every dialect that has one (chat completions'
# reasoning_budget_tokens / thinking_budget_tokens and reasoning_budget_message, the Responses API's, Anthropic's
# thinking.budget_tokens), the server's --reasoning-budget, the raw tags of /completion, `llamac chat` and `llamac run`'s
# flags, and the bad values a client would send.
#
# The model is synthesized (qwen3 arch, Gemma 4's vocabulary, whose "<|channel>" and "<channel|>" are single special
# tokens) and served with QwQ's template with its "<think>" and "</think>" written as those two: a template whose
# generation prompt opens the thinking block ("<|channel>\n"), so the budget counts from the prompt's "\n" on and,
# when spent, forces the message and "<channel|>". (In the small vocabularies at hand "<think>" is plain text, and
# "<think>\n" tokenizes with ">\n" as one token, which never matches the tag's ">": llama.cpp's budget would not see
# that block open either.) The replies must be byte-identical to the pinned llama-server's, kept in
# tests/reference/reasoning_budget (scripts/reference/reasoning-budget.sh makes them).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
SRC=${LLAMAC_LLAMA_SOURCE:-}
[ -d "$SRC/models/templates" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }
TPL="$TMP/think.jinja"
sed 's|</think>|<channel\|>|g; s|<think>|<\|channel>|g' "$SRC/models/templates/Qwen-QwQ-32B.jinja" > "$TPL"

"$LLAMAC" synth -q -o "$TMP/m.gguf" --arch qwen3 --vocab-from "$SRC/models/ggml-vocab-gemma-4.gguf" --layers 1 \
  --embd 32 --heads 2
start_server L -m "$TMP/m.gguf" --chat-template-file "$TPL" -np 1 -t 1 -c 512

chat_body() { # EXTRA-FIELDS
  printf '{"messages":[{"role":"user","content":"Think about it."}],"temperature":0,"max_tokens":20%s}' "$1"
}
message() { jq -c '.choices[0].message | {reasoning_content, content}' "$TMP/body"; }

# --- without a reference: what the budget does to the reply ---
req POST "$L_URL/v1/chat/completions" "$(chat_body '')"
expect_eq "no budget: 200" "$code" 200
free=$(message)
req POST "$L_URL/v1/chat/completions" "$(chat_body ',"reasoning_budget_tokens":-1')"
expect_eq "budget -1 is no budget" "$(message)" "$free"
req POST "$L_URL/v1/chat/completions" "$(chat_body ',"reasoning_budget_tokens":6,"reasoning_budget_message":"Time is up."')"
expect_eq "budget 6: 200" "$code" 200
budget6=$(message)
expect_contains "budget 6: the message ends the reasoning verbatim" "$(jqr '.choices[0].message.reasoning_content')" \
  "Time is up."
if [ "$budget6" != "$free" ]; then pass; else fail "budget 6 changed nothing: $budget6"; fi
req POST "$L_URL/v1/chat/completions" "$(chat_body ',"thinking_budget_tokens":6,"reasoning_budget_message":"Time is up."')"
expect_eq "thinking_budget_tokens is reasoning_budget_tokens" "$(message)" "$budget6"
# the reasoning is the prompt's "\n" (the template's, after the tag), the model's own 5 tokens (the 6th of the budget
# was that "\n"), then the message: the model's 5 tokens are what /completion greedily writes after the same prompt
req POST "$L_URL/apply-template" '{"messages":[{"role":"user","content":"Think about it."}]}'
jq -j .prompt "$TMP/body" > "$TMP/prompt"
req POST "$L_URL/completion" "$(jq -Rs '{prompt: ., n_predict: 5, temperature: 0}' "$TMP/prompt")"
c5=$(jq -j .content "$TMP/body"; echo x) # (x keeps trailing newlines)
c5=${c5%x}
r6=$(jq -j .reasoning_content <<< "$budget6")
expect_eq "budget 6: the prompt's newline, 5 tokens of the model's, the message" "$r6" $'\n'"${c5}Time is up."
# budget 1: the prompt's "\n" after the tag is the one token (as llama.cpp counts its generation prompt), so the end
# tag comes first. (Budget 0 forces nothing here, in llama-server as in llamac: the budget is spent at the tag, and
# the prompt's "\n" then takes the place of the one forced token.)
req POST "$L_URL/v1/chat/completions" "$(chat_body ',"reasoning_budget_tokens":1')"
budget1=$(message)
if [ "$budget1" != "$free" ]; then pass; else fail "budget 1 changed nothing: $budget1"; fi
expect_eq "budget 1: no reasoning" "$(jqr '.choices[0].message.reasoning_content // ""')" ""
req POST "$L_URL/v1/chat/completions" "$(chat_body ',"reasoning_budget_tokens":0')"
expect_eq "budget 0: the forced tag went to the prompt's newline" "$(message)" "$free"

# the Responses API takes the same fields; Anthropic's thinking.budget_tokens is the budget
req POST "$L_URL/v1/responses" '{"model":"m","input":"Think about it.","temperature":0,"max_output_tokens":20,
  "reasoning_budget_tokens":6,"reasoning_budget_message":"Time is up."}'
expect_eq "responses: 200" "$code" 200
expect_eq "responses: the same reasoning" "$(jqr '[.output[] | select(.type == "reasoning") | .content[0].text][0]')" \
  "$r6"
req POST "$L_URL/v1/messages" '{"model":"m","max_tokens":20,"temperature":0,"messages":[{"role":"user",
  "content":"Think about it."}],"thinking":{"type":"enabled","budget_tokens":1}}'
expect_eq "anthropic: 200" "$code" 200
expect_eq "anthropic: budget_tokens 1, no thinking block text" \
  "$(jqr '[.content[] | select(.type == "thinking") | .thinking] | join("")')" ""
expect_eq "anthropic: the text is chat's with budget 1" "$(jqr '[.content[] | select(.type == "text") | .text] |
  join("")')" "$(jq -r .content <<< "$budget1")"

# bad values
for bad in '"reasoning_budget_tokens":-2' '"reasoning_budget_tokens":"5"' '"thinking_budget_tokens":1.5' \
  '"reasoning_budget_message":5'; do
  req POST "$L_URL/v1/chat/completions" "$(chat_body ",$bad")"
  expect_eq "chat $bad: 400" "$code" 400
  expect_contains "chat $bad: names the field" "$(jqr .error.message)" "$(cut -d'"' -f2 <<< "$bad")"
done
req POST "$L_URL/v1/messages" '{"model":"m","max_tokens":4,"messages":[{"role":"user","content":"x"}],
  "thinking":{"type":"enabled","budget_tokens":"many"}}'
expect_eq "anthropic budget_tokens \"many\": 400" "$code" 400
expect_contains "anthropic: names budget_tokens" "$(jqr .error.message)" "budget_tokens"
req POST "$L_URL/completion" '{"prompt":"x","n_predict":2,"reasoning_budget_tokens":3,
  "reasoning_budget_start_tag":"<|channel>","reasoning_budget_end_tags":"<channel|>"}'
expect_eq "/completion end tags not an array: 400" "$code" 400
expect_contains "/completion: names the field" "$(jqr .error.message)" "reasoning_budget_end_tags"

# /completion with its own tags: the prompt is the rendered chat, which opened the block; a completion has no
# prefill, so the budget waits for a start tag the model never writes and nothing changes (as llama-server)
req POST "$L_URL/completion" "$(jq -Rs '{prompt: ., n_predict: 12, temperature: 0}' "$TMP/prompt")"
plain=$(jqr .content)
req POST "$L_URL/completion" "$(jq -Rs '{prompt: ., n_predict: 12, temperature: 0, reasoning_budget_tokens: 0,
  reasoning_budget_start_tag: "<|channel>", reasoning_budget_end_tags: ["<channel|>"]}' "$TMP/prompt")"
expect_eq "/completion with tags: 200" "$code" 200
expect_eq "/completion: no start tag written, nothing forced" "$(jqr .content)" "$plain"

# the server's --reasoning-budget and --reasoning-budget-message are every request's default
start_server D -m "$TMP/m.gguf" --chat-template-file "$TPL" -np 1 -t 1 -c 512 --reasoning-budget 6 \
  --reasoning-budget-message "Time is up."
req POST "$D_URL/v1/chat/completions" "$(chat_body '')"
expect_eq "serve --reasoning-budget 6: as the field" "$(message)" "$budget6"
req POST "$D_URL/v1/chat/completions" "$(chat_body ',"reasoning_budget_tokens":1,"reasoning_budget_message":""')"
expect_eq "a request's budget wins over the server's" "$(message)" "$budget1"
stop_server "$D_PID"

# --- the CLI: chat's and run's flags. run takes the tags from the model's own template, the vocabulary's Gemma 4
# one ("<|channel>thought" and "<channel|>"), so its prompt opens that block; run warns when the template does not
# think ---
printf 'Think about it.\n' | "$LLAMAC" chat -m "$TMP/m.gguf" --chat-template-file "$TPL" -n 20 --temp 0 -t 1 -q \
  --reasoning-budget 6 --reasoning-budget-message "Time is up." > "$TMP/chat.out" 2> "$TMP/chat.err"
expect_contains "chat --reasoning-budget: the message" "$(cat "$TMP/chat.out")" "Time is up."
expect_eq "chat: the model's 5 tokens, then the message" "$(head -c $((${#c5} + 11)) "$TMP/chat.out")" \
  "${c5}Time is up."
printf '<|turn>user\nThink about it.<turn|>\n<|turn>model\n<|channel>thought\n' > "$TMP/gemma.prompt"
run_llamac "$TMP/run0.out" "$TMP/run.err" run -m "$TMP/m.gguf" -f "$TMP/gemma.prompt" -n 20 --temp 0 -t 1 \
  --parse-special
run_llamac "$TMP/run.out" "$TMP/run.err" run -m "$TMP/m.gguf" -f "$TMP/gemma.prompt" -n 20 --temp 0 -t 1 \
  --parse-special --reasoning-budget 6 --reasoning-budget-message "Time is up."
expect_eq "run --reasoning-budget: status" "$rc" 0
expect_contains "run --reasoning-budget: the message" "$(cat "$TMP/run.out")" "Time is up."
run_text=$(cat "$TMP/run.out")
head_run=${run_text%%Time is up.*}
free_run=$(cat "$TMP/run0.out"; echo x)
expect_eq "run: the thinking before the message is the model's own" "${free_run:0:${#head_run}}" "$head_run"
if [ -f "$MODELS/stories260K.gguf" ]; then
  run_llamac "$TMP/run.out" "$TMP/run.err" run -m "$MODELS/stories260K.gguf" -p x -n 4 --temp 0 -t 1 \
    --reasoning-budget 2
  expect_eq "run, a model that does not think: status" "$rc" 0
  expect_contains "run: warns that nothing is counted" "$(cat "$TMP/run.err")" "no thinking section"
fi
run_llamac "$TMP/run.out" "$TMP/run.err" run -m "$TMP/m.gguf" -p x -n 4 --reasoning-budget -2
expect_eq "run --reasoning-budget -2: usage error" "$rc" 2
expect_contains "run --reasoning-budget -2: says why" "$(cat "$TMP/run.err")" "reasoning"

# --- against the pinned llama-server: the same requests, the same bytes (its replies in
# tests/reference/reasoning_budget/replies.tsv, made by scripts/reference/reasoning-budget.sh; replies that stay inside
# the thinking block are left out: llama-server reads whitespace there as content, a reply-parser difference of its own)
REPLIES="$REF/reasoning_budget/replies.tsv"
while IFS=$'\t' read -r extra ref; do
  case "$extra" in
    anthropic:*)
      body='{"model":"m","max_tokens":20,"temperature":0,"messages":[{"role":"user","content":"Think about it."}],
        "thinking":{"type":"enabled","budget_tokens":4}}'
      req POST "$L_URL/v1/messages" "$body"
      expect_eq "llama-server's Anthropic reply with budget_tokens 4" \
        "$(jq -c '[.content[] | {type, thinking, text}]' "$TMP/body")" "$ref"
      ;;
    *)
      req POST "$L_URL/v1/chat/completions" "$(chat_body "$extra")"
      expect_eq "llama-server's reply with {$extra}" "$(message)" "$ref"
      ;;
  esac
done < "$REPLIES"
expect_eq "every reference reply compared" "$(wc -l < "$REPLIES" | tr -d ' ')" 6
stop_server "$L_PID"
finish
