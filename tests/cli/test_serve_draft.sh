# `llamac serve` drafts (POST /v1/drafts, incremental prefill over HTTP): drafts posted as a user types (with a
# backspace edit) keep the stable prefix of the prompt in a slot; the final chat request reuses it (cached_tokens)
# and answers exactly as the same request on a server that saw no drafts (greedy); bad drafts are 4xx.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

FINAL_TEXT="Tell me a story about a cat."
chat_body() { # chat_body TEXT : the conversation with TEXT as the user's last message
  jq -cn --arg t "$1" '{messages: [{role: "system", content: "You tell short stories."}, {role: "user", content: $t}],
    temperature: 0, max_tokens: 24}'
}

# the reference: the final request on a server that has seen no drafts
start_server B -m "$M" -np 2 -t 1
req POST "$B_URL/v1/chat/completions" "$(chat_body "$FINAL_TEXT")"
expect_eq "reference chat status" "$code" 200
ref_text=$(jqr '.choices[0].message.content')
ref_prompt=$(jqr .usage.prompt_tokens)
stop_server "$B_PID"

start_server S -m "$M" -np 2 -t 1 --api-key secret
AUTH=secret

# --- typing: each draft reuses what the previous one decoded ---
prev=0
for t in "Tell" "Tell me a st" "Tell me a story ab" "Tell me a sto" "Tell me a story about a ca" "$FINAL_TEXT"; do
  req POST "$S_URL/v1/drafts" "$(chat_body "$t")"
  expect_eq "draft '$t': status" "$code" 200
  expect_eq "draft '$t': object" "$(jqr .object)" "chat.completion.draft"
  p=$(jqr .prompt_tokens)
  c=$(jqr .cached_tokens)
  d=$(jqr .decoded_tokens)
  [ "$p" -gt 0 ] && [ "$c" -le "$p" ] && [ $((c + d)) -eq "$p" ] && pass ||
    fail "draft '$t': prompt $p, cached $c, decoded $d"
  if [ "$t" = "Tell me a sto" ]; then
    # a backspace: the cache is cut where the text changed, nothing new is decoded beyond the new prefix
    [ "$p" -lt "$prev" ] && [ "$c" -ge $((p - 1)) ] && pass || fail "backspace draft: prompt $p (was $prev), cached $c"
  elif [ "$prev" -gt 0 ]; then
    # typing on: everything the previous draft decoded is reused
    [ "$p" -gt "$prev" ] && [ "$c" -eq "$prev" ] && pass || fail "draft '$t': prompt $p, cached $c, previous $prev"
  else
    expect_eq "first draft decodes all" "$c" 0
  fi
  prev=$p
done
last_draft=$prev
expect_eq "draft of the final text: prompt + pending = the final prompt" \
  "$((last_draft + $(jqr .pending_tokens)))" "$ref_prompt"

# --- the final request reuses the draft and answers as without drafts ---
req POST "$S_URL/v1/chat/completions" "$(chat_body "$FINAL_TEXT")"
expect_eq "final chat status" "$code" 200
expect_eq "final answer equals the answer without drafts" "$(jqr '.choices[0].message.content')" "$ref_text"
expect_eq "final prompt tokens" "$(jqr .usage.prompt_tokens)" "$ref_prompt"
cached=$(jqr .usage.prompt_tokens_details.cached_tokens)
[ "$cached" -ge "$last_draft" ] && pass || fail "final cached_tokens $cached < the draft's $last_draft"

# --- an empty message so far: the template's text before it is stable ---
req POST "$S_URL/v1/drafts" "$(chat_body "")"
expect_eq "empty draft status" "$code" 200
[ "$(jqr .prompt_tokens)" -gt 0 ] && [ "$(jqr .pending_tokens)" -gt 0 ] && pass || fail "empty draft: $(cat "$TMP/body")"

# --- errors ---
req POST "$S_URL/v1/drafts" '{"messages": [' # invalid JSON
expect_eq "invalid JSON: status" "$code" 400
expect_eq "invalid JSON: error type" "$(jqr .error.type)" "invalid_request_error"
req POST "$S_URL/v1/drafts" '{}'
expect_eq "no messages: status" "$code" 400
expect_eq "no messages: param" "$(jqr .error.param)" "messages"
req POST "$S_URL/v1/drafts" '{"messages":[{"role":"user","content":"Hi"},{"role":"assistant","content":"Hello"}]}'
expect_eq "last message not from the user: status" "$code" 400
expect_contains "last message not from the user: message" "$(jqr .error.message)" "user message being typed"
req POST "$S_URL/v1/drafts" '{"messages":[{"role":"user","content":[{"type":"text","text":"Hi"}]}]}'
expect_eq "content parts in the typed message: status" "$code" 400
req POST "$S_URL/v1/drafts" '{"messages":[{"role":"user","content":"Hi"}],"temperature":"hot"}'
expect_eq "a bad field fails as in the final request: status" "$code" 400
expect_eq "a bad field: param" "$(jqr .error.param)" "temperature"
long=$(head -c 3000 /dev/zero | tr '\0' 'a')
req POST "$S_URL/v1/drafts" "$(chat_body "$long")"
expect_eq "a draft over the slot's context: status" "$code" 400
expect_eq "a draft over the slot's context: code" "$(jqr .error.code)" "context_length_exceeded"
AUTH= req POST "$S_URL/v1/drafts" "$(chat_body "Hi")"
expect_eq "no key: status" "$code" 401
req GET "$S_URL/v1/drafts"
expect_eq "GET: status" "$code" 405

stop_server "$S_PID"
expect_eq "server exit status" "$stop_rc" 0
finish
