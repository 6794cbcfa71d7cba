# `llamac serve -hf` against the fake Hugging Face Hub (tests/hub/fake_hub.js): the model id in /v1/models and in
# responses is the repository as given (llama-server's name), /health answers 503 while a slow download and the load
# are under way and 200 after, --reasoning-format none leaves <think> in the content, and -hfd takes the draft model
# from the Hub.
. "$(dirname "$0")/lib.sh" || exit 1
. "$(dirname "$0")/serve_lib.sh"
M2="$MODELS/stories260K-chatml.gguf"
# a model of a few MB, so that the slow download (64 KiB every 25 ms) takes a second or two
SERVE_WORK_NODE=1 serve_work hub "$M2" --layers 2 --embd 192 --heads 4 --seed 3
cat > "$W/config.json" << JSON
{"repos": {
  "test/chat-GGUF": {"commit": "1111111111111111111111111111111111111111", "files": [
    {"path": "chat-Q8_0.gguf", "src": "$M2", "lfs": true}]},
  "test/slow-GGUF": {"commit": "2222222222222222222222222222222222222222", "files": [
    {"path": "big-Q8_0.gguf", "src": "$W/slow.gguf", "lfs": true, "mode": "slow"}]}
}}
JSON
fake_hub "$W"

# -hf: the model id is the repository as given
start_server H -hf test/chat-GGUF:Q8_0 --reasoning-format none -t 1
req GET "$H_URL/v1/models"
expect_eq "-hf model id" "$code:$(jqr '.data[0].id')" "200:test/chat-GGUF:Q8_0"
req POST "$H_URL/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":40,
  "grammar":"root ::= \"<think>x</think>y\""}'
expect_eq "-hf: model in the response" "$(jqr .model)" "test/chat-GGUF:Q8_0"
expect_eq "--reasoning-format none: think stays in content" \
  "$(jqr '.choices[0].message | "\(.reasoning_content)|\(.content)"')" "null|<think>x</think>y"
stop_server "$H_PID"
expect_eq "-hf server exit" "$stop_rc" 0
# -hfd: the draft model from the Hub as -hf takes the model (here the model itself: every draft accepted)
start_server H -hf test/chat-GGUF:Q8_0 -hfd test/chat-GGUF:Q8_0 --spec-draft-p-min 0 -t 1
req POST "$H_URL/completion" '{"prompt": "Once upon a time", "n_predict": 32, "temperature": 0}'
expect_eq "-hfd: drafts, all accepted" "$code:$(jqr '.timings | .draft_n > 0 and .draft_n_accepted == .draft_n')" \
  "200:true"
stop_server "$H_PID"
run_llamac "$TMP/o" "$TMP/e" serve -hf test/chat-GGUF:Q8_0 -hfd test/none-GGUF --offline -t 1 --port 0
expect_eq "-hfd of an unknown repository: fails" "$rc" 1
expect_contains "-hfd of an unknown repository: named" "$(cat "$TMP/e")" "draft model test/none-GGUF: "
run_llamac "$TMP/o" "$TMP/e" serve -m "$M2" --reasoning-format r1
expect_eq "bad --reasoning-format" "$rc:$(grep -c 'expected deepseek, auto or none' "$TMP/e")" "2:1"

# /health while the model downloads and loads: 503 (code "loading", Retry-After), then 200. The server's template
# opens the thinking block for the model, so its reply is reasoning until </think>.
think_template "$W/think.jinja"
"$LLAMAC" serve --port 0 -hf test/slow-GGUF -t 1 --chat-template-file "$W/think.jinja" > "$TMP/slow.out" \
  2> "$TMP/slow.log" &
slow_pid=$!
port=""
for _ in $(seq 200); do
  port=$(sed -n 's/^llamac serve: loading the model; port \([0-9]*\) .*/\1/p' "$TMP/slow.log")
  [ -n "$port" ] && break
  sleep 0.05
done
[ -n "$port" ] && pass || fail "no port before loading: $(cat "$TMP/slow.log")"
code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' "http://127.0.0.1:$port/health")
expect_eq "health while loading" "$code:$(jqr .error.code)" "503:loading"
expect_contains "health while loading: Retry-After" "$(cat "$TMP/headers")" "Retry-After"
for _ in $(seq 600); do
  grep -q '^llamac serve: listening on' "$TMP/slow.log" && break
  sleep 0.05
done
req GET "http://127.0.0.1:$port/health"
expect_eq "health once loaded" "$code:$(jqr .status)" "200:ok"
req POST "http://127.0.0.1:$port/v1/chat/completions" '{"messages":[{"role":"user","content":"Hi"}],"max_tokens":40,
  "grammar":"root ::= \"x</think>y\""}'
expect_eq "thinking opened by the template" "$(jqr '.choices[0].message | "\(.reasoning_content)|\(.content)"')" "x|y"
stop_server "$slow_pid"
expect_eq "slow server exit" "$stop_rc" 0
finish
