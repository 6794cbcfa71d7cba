# `llamac serve` and SIGTERM (issue 30, defect 4): a signal while the model downloads from a stalled Hub stops the
# server at once (it used to wait for the download's 60 s stall timeout, then the load); a stream still running when
# --grace ends gets an error event and `data: [DONE]` before its connection closes (it used to be cut bare).
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/serve_lib.sh"
M="$MODELS/stories260K.gguf"
# a model big enough to generate for many seconds on one thread (~25 MB)
SERVE_WORK_NODE=1 serve_work shutdown "$M" --layers 2 --embd 512 --heads 8 --seed 5

# --- SIGTERM during a stalled download ---
cat > "$W/config.json" << JSON
{"repos": {"test/stall-GGUF": {"commit": "3333333333333333333333333333333333333333", "files": [
  {"path": "slow-Q8_0.gguf", "src": "$W/slow.gguf", "lfs": true, "mode": "stall"}]}}}
JSON
fake_hub "$W"
"$LLAMAC" serve --port 0 -hf test/stall-GGUF:Q8_0 -t 1 > "$W/hf.out" 2> "$W/hf.log" &
pid=$!
# wait until the download has begun (the CDN served the blob's first bytes), then a second more
for _ in $(seq 100); do grep -q '"server":"cdn"' "$W/requests.log" 2> /dev/null && break; sleep 0.1; done
sleep 1
t0=$(date +%s%N)
kill -TERM "$pid"
rc=0
timeout 15 tail --pid="$pid" -f /dev/null || kill -KILL "$pid" 2> /dev/null # bounded: a server that ignores it
wait "$pid" || rc=$?
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "SIGTERM during a stalled download: status" "$rc" 0
[ "$ms" -lt 3000 ] && pass || fail "SIGTERM during a stalled download: exited after $ms ms (at most 3000)"
expect_contains "SIGTERM during a stalled download: message" "$(cat "$W/hf.log")" \
  "SIGTERM while the model was downloading: stopped"
kill $hub_pid 2> /dev/null

# --- a stream cut when --grace ends: an error event, then [DONE] ---
start_server S -m "$W/slow.gguf" -np 1 -t 1 --grace 1
stream_start "$S_URL/v1/completions" '{"prompt":"Once upon a time","max_tokens":100000,"ignore_eos":true,
  "stream":true}' "$W/cut.sse"
curl_pid=$stream_pid
grep -q '^data: {' "$W/cut.sse" && pass || fail "the stream did not start"
stop_server "$S_PID"
expect_eq "server exit after the grace period" "$stop_rc" 0
wait "$curl_pid"
last_event=$(grep '^data: ' "$W/cut.sse" | tail -2 | head -1)
expect_contains "a cut stream's last event is an error" "$last_event" '"error"'
expect_contains "a cut stream's error says why" "$last_event" "shutting down"
expect_eq "a cut stream ends with [DONE]" "$(grep '^data: ' "$W/cut.sse" | tail -1)" "data: [DONE]"
expect_contains "the log says a request was ended" "$(cat "$TMP/S.log")" "were still running after the grace period"
finish
