# `llamac serve`'s memory under requests built to amplify it (issue 30, defect 2): the peak resident memory of the
# server (VmHWM) may grow by at most twice the request body or 64 MiB, whichever is larger, for /tokenize with
# pieces (of a 4 MiB text, refused, and of the largest text a slot can take, answered), a conversation of 100,000
# messages, a 4 MiB prompt, chat message and draft: refused (400 context_length_exceeded) before the work; bodies
# of 128 KiB (3,700 messages, one long message): rendered and tokenized, refused with their counts; and the server
# answers normally afterwards.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v jq > /dev/null && command -v python3 > /dev/null ||
  { echo "curl, jq and python3 are needed" >&2; exit 77; }
start_server S -m "$M" -np 2 --max-body $((5 * 1024 * 1024)) -t 1
U="$S_URL"
hwm() { awk '/^VmHWM:/ { print $2 * 1024 }' "/proc/$S_PID/status"; }
req POST "$U/v1/chat/completions" '{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}' # warm up
expect_eq "warm-up" "$code" 200

# within_budget NAME FILE : POSTs FILE; the server's peak memory grew by at most max(2 x body, 64 MiB).
within_budget() {
  local name=$1 path=$2 file=$3 before after size budget
  echo 5 > "/proc/$S_PID/clear_refs" 2> /dev/null # the peak restarts from the current resident size (Linux >= 4.0)
  before=$(awk '/^VmRSS:/ { print $2 * 1024 }' "/proc/$S_PID/status")
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'Content-Type: application/json' --data-binary @"$file" \
    --max-time 120 "$U$path")
  after=$(hwm)
  size=$(stat -c %s "$file")
  budget=$((2 * size > 64 * 1024 * 1024 ? 2 * size : 64 * 1024 * 1024))
  echo "$name: body $size bytes, peak memory +$(((after - before) / 1024)) KiB (budget $((budget / 1024)) KiB)" >&2
  if [ -n "${ASAN_OPTIONS:-}" ]; then
    return # under the sanitizers (make test-sanitize) shadow memory and quarantine multiply every figure
  fi
  [ $((after - before)) -le "$budget" ] && pass ||
    fail "$name: peak memory grew by $((after - before)) bytes, more than $budget"
}

# the most a body can hold and still be rendered and tokenized (128 KiB: server/request.h REQUEST_CHEAP_BYTES), in many
# messages and in one: refused with the counts, within the budget (first, before larger requests leave freed memory
# in the server's heap for these to reuse)
python3 -c 'import json; print(json.dumps({"messages": [{"role": "user", "content": "hi"}] * 3700, "max_tokens": 1}))' \
  > "$TMP/cheap-many.json"
within_budget "3,700 messages (128 KiB)" /v1/chat/completions "$TMP/cheap-many.json"
expect_eq "3,700 messages: counted" "$code:$(jqr '.error | "\(.code) \(.n_prompt_tokens > .n_ctx)"')" \
  "400:context_length_exceeded true"
python3 -c 'import json; print(json.dumps({"messages": [{"role": "user", "content": ("Once upon a time. " * 7250)[:130000]}]}))' \
  > "$TMP/cheap-one.json"
within_budget "a 127 KiB chat message" /v1/chat/completions "$TMP/cheap-one.json"
expect_eq "a 127 KiB chat message: counted" "$code:$(jqr '.error | "\(.code) \(.n_prompt_tokens > .n_ctx)"')" \
  "400:context_length_exceeded true"


python3 -c 'import json; print(json.dumps({"content": "Once upon a time, a cat. " * 170000, "with_pieces": True}))' \
  > "$TMP/tokenize.json"
within_budget "/tokenize with_pieces, 4 MiB" /tokenize "$TMP/tokenize.json"
expect_eq "/tokenize with_pieces, 4 MiB: status" "$code:$(jqr .error.code)" "400:context_length_exceeded"
# the largest text a slot can take, with pieces: answered, within the budget
max=$(sed -n "s/.*can hold in any tokenization (\([0-9]*\) bytes).*/\1/p" "$TMP/body")
python3 -c 'import json, sys; n = int(sys.argv[1]); print(json.dumps({"content": ("Once upon a time, a cat. " * (n // 25 + 1))[:n], "with_pieces": True}))' \
  "$max" > "$TMP/tokenize-max.json"
within_budget "/tokenize with_pieces, the largest text" /tokenize "$TMP/tokenize-max.json"
expect_eq "/tokenize with_pieces, the largest text: status" "$code" 200
expect_eq "/tokenize with_pieces: a piece" "$(jqr '.tokens[1] | has("id") and has("piece")')" true
expect_eq "/tokenize with_pieces: the pieces make the text" "$(jqr '[.tokens[].piece | strings] | join("") | ltrimstr(" ")' | head -c 24)" \
  "Once upon a time, a cat."

python3 -c 'import json; print(json.dumps({"messages": [{"role": "user", "content": "hi"}] * 100000, "max_tokens": 1}))' \
  > "$TMP/many.json"
within_budget "100,000 messages" /v1/chat/completions "$TMP/many.json"
expect_eq "100,000 messages: status" "$code:$(jqr .error.code)" "400:context_length_exceeded"
expect_eq "100,000 messages: refused before counting" "$(jqr '.error | has("n_prompt_tokens")')" false
python3 -c 'import json; print(json.dumps({"prompt": "Once upon a time. " * 230000, "max_tokens": 1}))' \
  > "$TMP/prompt.json"
within_budget "a 4 MiB prompt" /v1/completions "$TMP/prompt.json"
expect_eq "a 4 MiB prompt: status" "$code:$(jqr .error.code)" "400:context_length_exceeded"

python3 -c 'import json; print(json.dumps({"messages": [{"role": "user", "content": "Once upon a time. " * 230000}]}))' \
  > "$TMP/chat.json"
within_budget "a 4 MiB chat message" /v1/chat/completions "$TMP/chat.json"
expect_eq "a 4 MiB chat message: status" "$code:$(jqr .error.code)" "400:context_length_exceeded"
within_budget "a 4 MiB draft" /v1/drafts "$TMP/chat.json"
expect_eq "a 4 MiB draft: status" "$code:$(jqr .error.code)" "400:context_length_exceeded"

req POST "$U/v1/chat/completions" '{"messages":[{"role":"user","content":"hi"}],"max_tokens":4}'
expect_eq "served normally afterwards" "$code" 200
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
