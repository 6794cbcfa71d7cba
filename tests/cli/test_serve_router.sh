# `llamac serve` without -m: router mode (issue 22). Models in a --models-dir (a file, a folder, a synthesized BERT
# embedding model, a broken file) and in a fake Hugging Face cache, each run as a child `llamac serve` when a request
# names it: answers by name equal `llamac run` greedy on that model, --models-max evicts the least recently used
# (its process is gone), --sleep-idle-seconds unloads, a broken model fails only its own requests, concurrent first
# requests load a model once, --no-models-autoload and POST /models/load|unload, --api-key on the router, a preset's
# per-model flags.
. "$(dirname "$0")/lib.sh" || exit 1
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
vocab_qwen="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-qwen2.gguf"
vocab_bert="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-bert-bge.gguf"
[ -f "$vocab_qwen" ] && [ -f "$vocab_bert" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }

D="$TMP/models"
rm -rf "$D" "$TMP/hf"
mkdir -p "$D/qwen"
ln -s "$MODELS/stories260K.gguf" "$D/stories.gguf"
# a folder: the model named by the folder (a second vocabulary and template: Qwen2's)
"$LLAMAC" synth -q -o "$D/qwen/qwen3-tiny.gguf" --arch qwen3 --vocab-from "$vocab_qwen" --layers 1 --embd 32 --heads 2
"$LLAMAC" synth -q -o "$D/bert.gguf" --arch bert --layers 2 --embd 64 --heads 4 --seed 11 --vocab-from "$vocab_bert"
head -c 4096 "$MODELS/stories260K.gguf" > "$D/broken.gguf" # a GGUF cut short
echo "not a model" > "$D/notes.txt"
# the fake Hugging Face cache: one repository, its file a blob linked from the snapshot, as huggingface_hub lays it out
commit=1111111111111111111111111111111111111111
repo="$TMP/hf/hub/models--test--tiny-GGUF"
mkdir -p "$repo/blobs" "$repo/snapshots/$commit" "$repo/refs"
cp "$MODELS/stories260K-chatml.gguf" "$repo/blobs/aaaa"
ln -s ../../blobs/aaaa "$repo/snapshots/$commit/tiny-Q8_0.gguf"
echo -n "$commit" > "$repo/refs/main"
export HF_HUB_CACHE="$TMP/hf/hub"
# per-model flags: the BERT serves embeddings; stories gets a smaller context than the others; "huge" is stories with
# a context whose KV cache (640 bytes a token) no machine here has the memory for
cat > "$TMP/preset.ini" << INI
; per-model flags, llama-server's format
[bert]
embedding = true

[stories]
ctx-size = 256   ; a comment after the value

[qwen]
alias = q3, tiny-qwen

[huge]
model = $MODELS/stories260K.gguf
ctx-size = 1000000000
INI

# completion MODEL_URL MODEL : the greedy text of 12 tokens after "Once upon a time" through the router
completion() {
  req POST "$1/v1/completions" "{\"model\":\"$2\",\"prompt\":\"Once upon a time\",\"temperature\":0,\"max_tokens\":12}"
  jqr '.choices[0].text'
}
# greedy FILE : the same with `llamac run`
greedy() {
  "$LLAMAC" run -m "$1" -p "Once upon a time" -n 12 --temp 0 -t 1 2> /dev/null
}
# status URL MODEL : the model's status.value in GET /v1/models
status() {
  curl -s ${AUTH:+-H "Authorization: Bearer $AUTH"} "$1/v1/models" |
    jq -r --arg m "$2" '.data[] | select(.id == $m) | .status.value'
}
# wait_status URL MODEL STATUS : up to 10 s
wait_status() {
  for _ in $(seq 100); do
    [ "$(status "$1" "$2")" = "$3" ] && break
    sleep 0.1
  done
  expect_eq "$2 becomes $3" "$(status "$1" "$2")" "$3"
}

start_server R --models-dir "$D" --models-preset "$TMP/preset.ini" --models-max 2 -c 512 -np 1 -t 1 -lv 3

# --- the list: every model of the folder and the cache, none loaded ---
req GET "$R_URL/v1/models"
expect_eq "models status" "$code" 200
expect_eq "models listed" "$(jqr '[.data[].id] | sort | join(",")')" \
  "bert,broken,huge,qwen,stories,test/tiny-GGUF:Q8_0"
expect_eq "all unloaded" "$(jqr '[.data[].status.value] | unique | join(",")')" "unloaded"
expect_eq "sources" "$(jqr '[.data[] | "\(.id)=\(.source)"] | sort | join(",")')" \
  "bert=models_dir,broken=models_dir,huge=preset,qwen=models_dir,stories=models_dir,test/tiny-GGUF:Q8_0=cache"
expect_eq "size of stories" "$(jqr '.data[] | select(.id == "stories") | .size')" \
  "$(stat -L -c %s "$MODELS/stories260K.gguf")"
req GET "$R_URL/models"
expect_eq "/models too" "$code:$(jqr '.data | length')" "200:6"
req GET "$R_URL/props"
expect_eq "router /props" "$(jqr '"\(.role):\(.max_instances):\(.models_autoload):\(.build_info | startswith("b"))"')" \
  "router:2:true:true"
req GET "$R_URL/health"
expect_eq "router /health" "$code:$(jqr .status)" "200:ok"

# --- alternating requests by name: each answer is `llamac run` greedy on that model ---
expect_eq "stories = llamac run" "$(completion "$R_URL" stories)" "$(greedy "$MODELS/stories260K.gguf")"
expect_eq "first request loads it" "$(status "$R_URL" stories)" "loaded"
expect_eq "tiny (cache) = llamac run" "$(completion "$R_URL" test/tiny-GGUF:Q8_0)" \
  "$(greedy "$MODELS/stories260K-chatml.gguf")"
expect_eq "stories again" "$(completion "$R_URL" stories)" "$(greedy "$MODELS/stories260K.gguf")"
expect_eq "the response names the model" "$(jqr .model)" "stories"
req GET "$R_URL/props?model=stories"
expect_eq "the preset's ctx-size reached stories' child" "$(jqr .default_generation_settings.n_ctx)" 256
req GET "$R_URL/props?model=test/tiny-GGUF:Q8_0"
expect_eq "the router's -c reached tiny's child" "$(jqr .default_generation_settings.n_ctx)" 512
tiny_pid=$(child_pid "$R_PID" test/tiny-GGUF:Q8_0)
[ -n "$tiny_pid" ] && pass || fail "no child process for tiny"
# the children's API key is not on their command line, which every local user can read: they read it from a pipe
expect_contains "child: its key from a pipe" "$(tr '\0' ' ' < "/proc/$tiny_pid/cmdline")" "--api-key-file /dev/fd/3"
expect_eq "child: no key on its command line" \
  "$(tr '\0' '\n' < "/proc/$tiny_pid/cmdline" | grep -cE -- '^--api-key$|^[0-9a-f]{32}$')" 0
tiny_port=$(sed -n 's|^llamac serve: model test/tiny-GGUF:Q8_0: listening on http://127.0.0.1:\([0-9]*\)$|\1|p' \
  "$TMP/R.log" | tail -1)
req GET "http://127.0.0.1:$tiny_port/v1/models"
expect_eq "child: it has a key (a request without it is refused)" "$code" 401

# --- --models-max 2: qwen evicts the least recently used idle model (tiny); its process is gone ---
expect_eq "qwen (folder) = llamac run" "$(completion "$R_URL" qwen)" "$(greedy "$D/qwen/qwen3-tiny.gguf")"
expect_eq "tiny evicted" "$(status "$R_URL" test/tiny-GGUF:Q8_0)" "unloaded"
expect_eq "stories kept" "$(status "$R_URL" stories)" "loaded"
kill -0 "$tiny_pid" 2> /dev/null && fail "tiny's process $tiny_pid still runs" || pass
expect_eq "two children" "$(pgrep -P "$R_PID" | wc -l)" 2
expect_eq "by a preset's alias" "$(completion "$R_URL" tiny-qwen)" "$(greedy "$D/qwen/qwen3-tiny.gguf")"
req GET "$R_URL/v1/models"
expect_eq "aliases listed" "$(jqr '.data[] | select(.id == "qwen") | .aliases | join(",")')" "q3,tiny-qwen"

# --- streaming goes through as it comes: the events' text equals the non-streamed answer ---
curl -s -N -H 'Content-Type: application/json' --data-binary '{"model":"stories","messages":[{"role":"user",
  "content":"Hi"}],"temperature":0,"max_tokens":16,"stream":true}' "$R_URL/v1/chat/completions" > "$TMP/sse"
sse_json "$TMP/sse"
req POST "$R_URL/v1/chat/completions" '{"model":"stories","messages":[{"role":"user","content":"Hi"}],
  "temperature":0,"max_tokens":16}'
expect_eq "stream = non-stream" "$(jq -r '[.[] | .choices[0].delta.content // empty] | join("")' "$TMP/events")" \
  "$(jqr '.choices[0].message.content')"
expect_eq "stream: only events" "$sse_bad" 0
expect_contains "stream ends with [DONE]" "$(tail -c 20 "$TMP/sse")" "[DONE]"

# --- the embedding model: /v1/embeddings equals llamac embed ---
req POST "$R_URL/v1/embeddings" '{"model":"bert","input":"Once upon a time"}'
expect_eq "bert embeddings status" "$code" 200
cp "$TMP/body" "$TMP/emb"
run_llamac "$TMP/o" "$TMP/e" embed -m "$D/bert.gguf" "Once upon a time"
expect_eq "bert = llamac embed" "$(jq -r --slurpfile ref "$TMP/o" \
  '[.data[0].embedding, $ref[0][0]] | transpose | map(.[0] - .[1] | fabs) | max < 1e-5' "$TMP/emb")" true

# --- a broken model fails its own requests only, with the child's reason; the others go on ---
req POST "$R_URL/v1/completions" '{"model":"broken","prompt":"x","max_tokens":2}'
expect_eq "broken: 500 model_load_failed" "$code:$(jqr .error.code)" "500:model_load_failed"
expect_contains "broken: the reason" "$(jqr .error.message)" "model 'broken' failed to load"
expect_eq "broken listed as failed" "$(status "$R_URL" broken)" "failed"
req GET "$R_URL/v1/models"
expect_eq "failed status has the exit code" "$(jqr '.data[] | select(.id == "broken") | .status.exit_code != 0')" true
expect_eq "others still serve" "$(completion "$R_URL" stories)" "$(greedy "$MODELS/stories260K.gguf")"

# --- a model that does not fit the memory available: 503 with Retry-After and the figures, nothing else touched ---
code=$(curl -s -o "$TMP/body" -D "$TMP/headers" -w '%{http_code}' -H 'Content-Type: application/json' \
  --data-binary '{"model":"huge","prompt":"x","max_tokens":2}' "$R_URL/v1/completions")
expect_eq "huge: 503 insufficient_memory" "$code:$(jqr .error.code)" "503:insufficient_memory"
expect_contains "huge: Retry-After" "$(tr -d '\r' < "$TMP/headers")" "Retry-After: 10"
expect_contains "huge: the figures" "$(jqr .error.message)" \
  "model 'huge' cannot be loaded now: not enough memory for this model now: it needs"
expect_contains "huge: MemAvailable" "$(jqr .error.message)" "MiB are available (MemAvailable)"
expect_eq "after it, stories still serves" "$(completion "$R_URL" stories)" "$(greedy "$MODELS/stories260K.gguf")"

# --- requests that name no model, or an unknown one ---
req POST "$R_URL/v1/completions" '{"model":"nope","prompt":"x"}'
expect_eq "unknown model" "$code:$(jqr .error.message)" \
  "400:model 'nope' not found (GET /v1/models lists them)"
req POST "$R_URL/v1/completions" '{"prompt":"x"}'
expect_eq "no model" "$code:$(jqr .error.param)" "400:model"
req POST "$R_URL/v1/completions" '{"model":'
expect_eq "bad JSON" "$code:$(jqr .error.code)" "400:invalid_json"
req POST "$R_URL/v1/completions" '{"model":7,"prompt":"x"}'
expect_eq "model not a string" "$code:$(jqr .error.param)" "400:model"
req POST "$R_URL/api/generate" '{"model":"nope","prompt":"x"}'
expect_eq "unknown model, Ollama's error shape and status" "$code:$(jqr .error)" "404:model 'nope' not found"

# --- POST /models/unload and /models/load ---
stories_pid=$(child_pid "$R_PID" stories)
req POST "$R_URL/models/unload" '{"model":"stories"}'
expect_eq "unload" "$code:$(jqr .success)" "200:true"
expect_eq "unloaded" "$(status "$R_URL" stories)" "unloaded"
kill -0 "$stories_pid" 2> /dev/null && fail "stories' process still runs" || pass
req POST "$R_URL/models/unload" '{"model":"stories"}'
expect_eq "unload again" "$code:$(jqr .error.message)" "400:model 'stories' is not running"
req POST "$R_URL/models/load" '{"model":"nope"}'
expect_eq "load unknown" "$code" 404
req POST "$R_URL/models/load" '{"model":"stories"}'
expect_eq "load" "$code:$(jqr .success):$(status "$R_URL" stories)" "200:true:loaded"
req POST "$R_URL/models/load" '{"model":"stories"}'
expect_eq "load again" "$code" 400
stop_server "$R_PID"
expect_eq "router exit" "$stop_rc" 0
sleep 0.2
expect_eq "no child left" "$(pgrep -P "$R_PID" | wc -l)" 0

# --- concurrent first requests load the model once; other models serve meanwhile ---
start_server C --models-dir "$D" -np 4 -t 1 -lv 3
for i in 1 2 3 4; do
  curl -s -o "$TMP/c$i" -H 'Content-Type: application/json' --data-binary \
    '{"model":"stories","prompt":"Once upon a time","temperature":0,"max_tokens":12}' "$C_URL/v1/completions" &
done
wait $(jobs -p | grep -v "^$C_PID\$") 2> /dev/null
expect_eq "four answers, all equal" \
  "$(for i in 1 2 3 4; do jq -r '.choices[0].text' "$TMP/c$i"; done | sort -u)" "$(greedy "$MODELS/stories260K.gguf")"
expect_eq "one load" "$(grep -c 'model stories: loading (pid' "$TMP/C.log")" 1
expect_eq "one child" "$(pgrep -P "$C_PID" | wc -l)" 1
stop_server "$C_PID"

# --- requests waiting for room under --models-max are served in the order they came: a long generation holds the
# one model running (a), requests for b, c, d and e come 0.3 s apart meanwhile, and are answered in that order ---
QD="$TMP/queue"
rm -rf "$QD"
mkdir -p "$QD"
for n in a b c d e; do ln -s "$MODELS/stories260K.gguf" "$QD/$n.gguf"; done
start_server Q --models-dir "$QD" --models-max 1 -np 1 -t 1 -c 2048
req POST "$Q_URL/models/load" '{"model":"a"}'
( curl -s -o "$TMP/qa" -H 'Content-Type: application/json' --data-binary \
  '{"model":"a","prompt":"Once","n_predict":1600,"ignore_eos":true,"temperature":0}' "$Q_URL/completion"
  date +%s%N > "$TMP/qa.t" ) &
sleep 0.3
for n in b c d e; do
  ( curl -s -o "$TMP/q$n" -H 'Content-Type: application/json' --data-binary \
    "{\"model\":\"$n\",\"prompt\":\"x\",\"max_tokens\":1}" "$Q_URL/v1/completions"
    date +%s%N > "$TMP/q$n.t" ) &
  sleep 0.3
done
last_came=$(date +%s%N)
wait $(jobs -p | grep -v "^$Q_PID\$") 2> /dev/null
expect_eq "a was busy while they came" "$(($(cat "$TMP/qa.t") > last_came))" 1
expect_eq "all answered" "$(for n in b c d e; do jq -r '.choices | length' "$TMP/q$n"; done | tr -d '\n')" 1111
expect_eq "answered in the order they came" \
  "$(for n in b c d e; do echo "$(cat "$TMP/q$n.t") $n"; done | sort -n | cut -d' ' -f2 | tr -d '\n')" bcde
stop_server "$Q_PID"

# --- --no-models-autoload; --api-key on the router; --sleep-idle-seconds ---
start_server N --models-dir "$D" --no-models-autoload --api-key sekrit --sleep-idle-seconds 1 -t 1 -np 1
req POST "$N_URL/v1/completions" '{"model":"stories","prompt":"x","max_tokens":2}'
expect_eq "no key" "$code" 401
AUTH=sekrit
req POST "$N_URL/v1/completions" '{"model":"stories","prompt":"x","max_tokens":2}'
expect_eq "not loaded, no autoload" "$code:$(jqr .error.code)" "400:model_not_loaded"
req GET "$N_URL/props"
expect_eq "props: models_autoload" "$(jqr .models_autoload)" false
req POST "$N_URL/models/load" '{"model":"stories"}'
expect_eq "explicit load" "$code" 200
expect_eq "then it answers" "$(completion "$N_URL" stories)" "$(greedy "$MODELS/stories260K.gguf")"
pid=$(child_pid "$N_PID" stories)
wait_status "$N_URL" stories unloaded
kill -0 "$pid" 2> /dev/null && fail "idle child still runs" || pass
AUTH=""
stop_server "$N_PID"

# --- -m with --sleep-idle-seconds: the model sleeps (its process ends) when idle; /health, /props, /v1/models and
# /metrics (the snapshot taken as it fell asleep) answer while it sleeps, and a request wakes it ---
# (3 s: the scrapes "awake" must come before it sleeps, on a loaded machine too; llamac run's answer is made first)
start_server Z -m "$MODELS/stories260K.gguf" --sleep-idle-seconds 3 -a storyteller -t 1 -np 1 --metrics
expected=$(greedy "$MODELS/stories260K.gguf")
expect_eq "awake: the answer" "$(completion "$Z_URL" whatever)" "$expected"
expect_eq "awake: the model's name" "$(jqr .model)" "storyteller"
req GET "$Z_URL/props"
expect_eq "awake: not sleeping" "$code:$(jqr .is_sleeping)" "200:false"
awake_metrics=$(curl -s "$Z_URL/metrics")
predicted=$(grep '^llamacpp:tokens_predicted_total ' <<< "$awake_metrics")
expect_eq "awake: /metrics counts the tokens" "$(grep -c ' [1-9][0-9]*$' <<< "$predicted")" 1
# wait_sleep URL : until /props says the server sleeps (up to 15 s)
wait_sleep() {
  for _ in $(seq 150); do
    [ "$(curl -s "$1/props" | jq -r .is_sleeping)" = true ] && break
    sleep 0.1
  done
}
wait_sleep "$Z_URL"
req GET "$Z_URL/metrics"
expect_eq "asleep: /metrics is the snapshot taken as it fell asleep" "$code:$(cat "$TMP/body")" "200:$awake_metrics"
expect_eq "asleep: then no throughput (nothing runs)" \
  "$(curl -s "$Z_URL/metrics" | grep -E '^llamacpp:(predicted|prompt)_tokens_seconds ' | tr '\n' ' ')" \
  "llamacpp:prompt_tokens_seconds 0.000 llamacpp:predicted_tokens_seconds 0.000 "
expect_eq "asleep: the same counters" "$(curl -s "$Z_URL/metrics" | grep '^llamacpp:tokens_predicted_total ')" \
  "$predicted"
# children PID : how many child processes PID has, once one on its way out has gone (up to 2 s)
children() {
  for _ in $(seq 20); do
    [ "$(pgrep -P "$1" | wc -l)" = 0 ] && break
    sleep 0.1
  done
  pgrep -P "$1" | wc -l
}
expect_eq "asleep: /metrics did not wake it" "$(children "$Z_PID")" 0
# the token counting endpoints wake it (llama-server's), and count as the chat endpoint does
req POST "$Z_URL/v1/responses/input_tokens" '{"input":"Hello world"}'
expect_eq "responses input_tokens" "$code:$(jqr .object):$(jqr '.input_tokens > 0')" "200:response.input_tokens:true"
n_resp=$(jqr .input_tokens)
req POST "$Z_URL/chat/completions/input_tokens" '{"messages":[{"role":"user","content":"Hello world"}]}'
expect_eq "responses input_tokens = chat input_tokens" "$n_resp" "$(jqr .input_tokens)"
req GET "$Z_URL/props"
expect_eq "a token count woke it" "$(jqr .is_sleeping)" false
req POST "$Z_URL/v1/responses/input_tokens" '{"input":7}'
expect_eq "responses input_tokens: bad input" "$code:$(jqr .error.param)" "400:input"
wait_sleep "$Z_URL"
req GET "$Z_URL/props"
expect_eq "asleep: /props" "$code:$(jqr .is_sleeping):$(jqr .model_alias)" "200:true:storyteller"
expect_eq "asleep: no child process" "$(children "$Z_PID")" 0
req GET "$Z_URL/health"
expect_eq "asleep: /health" "$code" 200
req GET "$Z_URL/v1/models"
expect_eq "asleep: /v1/models" "$code:$(jqr '.data | length'):$(jqr '.data[0].id')" "200:1:storyteller"
req POST "$Z_URL/models/load" '{"model":"storyteller"}'
expect_eq "no router endpoints with -m" "$code" 404
req DELETE "$Z_URL/models?model=storyteller"
expect_eq "no DELETE /models with -m" "$code:$(jqr .error.code)" "404:not_found"
expect_eq "a request wakes it" "$(completion "$Z_URL" storyteller)" "$(greedy "$MODELS/stories260K.gguf")"
req GET "$Z_URL/props"
expect_eq "awake again" "$(jqr .is_sleeping)" false
stop_server "$Z_PID"
expect_eq "sleeping server exit" "$stop_rc" 0

# --- POST /models downloads a model into the Hugging Face cache (from a fake Hub), its progress on /models/sse;
# DELETE /models removes it (its process ends first); the errors of both ---
# (with -hf and --sleep-idle-seconds, /health is 503 while the model downloads and loads at start, and says why
# once that failed)
rm -rf "$TMP/hubw" # a ports file left from an earlier run would be read as this one's
mkdir -p "$TMP/hubw"
vocab_spm="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-llama-spm.gguf"
"$LLAMAC" synth -q -o "$TMP/dl-F16.gguf" --vocab-from "$vocab_spm" --type f16 --layers 1 --embd 32 --heads 2 --seed 5
cat > "$TMP/hubw/config.json" << JSON
{"repos": {
  "test/dl-GGUF": {"commit": "3333333333333333333333333333333333333333", "files": [
    {"path": "dl-F16.gguf", "src": "$TMP/dl-F16.gguf", "lfs": true}]},
  "test/slow-GGUF": {"commit": "4444444444444444444444444444444444444444", "files": [
    {"path": "slow-F16.gguf", "src": "$TMP/dl-F16.gguf", "lfs": true, "mode": "slow"}]},
  "test/bad-GGUF": {"commit": "5555555555555555555555555555555555555555", "files": [
    {"path": "bad-F16.gguf", "src": "$TMP/dl-F16.gguf", "lfs": true, "mode": "wrong"}]}
}}
JSON
if command -v node > /dev/null; then
  fake_hub "$TMP/hubw"
  export HF_HUB_CACHE="$TMP/hf/hub" # the test's cache, not the one fake_hub points HF_HOME at
  # a 4 MB model the Hub trickles (64 KiB every 25 ms): /health is 503 until it is there and loaded
  start_server F -hf test/slow-GGUF:F16 --sleep-idle-seconds 5 -t 1
  req GET "$F_URL/health"
  expect_eq "loading at start: /health" "$code:$(jqr .error.code)" "503:loading"
  for _ in $(seq 300); do
    [ "$(curl -s -o /dev/null -w '%{http_code}' "$F_URL/health")" = 200 ] && break
    sleep 0.1
  done
  req GET "$F_URL/health"
  expect_eq "loaded: /health" "$code:$(jqr .status)" "200:ok"
  stop_server "$F_PID"
  # a download whose bytes are wrong (the sha256 check fails): the child fails at start
  start_server G -hf test/bad-GGUF:F16 --sleep-idle-seconds 5 -t 1
  for _ in $(seq 100); do
    [ "$(curl -s "$G_URL/health" | jq -r .error.code)" = model_load_failed ] && break
    sleep 0.1
  done
  req GET "$G_URL/health"
  expect_eq "failed at start: /health" "$code:$(jqr .error.code)" "503:model_load_failed"
  expect_contains "failed at start: why" "$(jqr .error.message)" "the model failed to load: "
  stop_server "$G_PID"
  start_server H --models-dir "$D" -t 1 -np 1
  curl -s -N "$H_URL/models/sse" > "$TMP/events" &
  sse_pid=$!
  for _ in $(seq 50); do # subscribed once it hears the reload's event
    curl -s -o /dev/null "$H_URL/models?reload=1"
    grep -q models_reload "$TMP/events" && break
    sleep 0.1
  done
  events() { sed -n 's/^data: //p' "$TMP/events" | jq -r --arg m "$1" 'select(.model == $m) | .event' | sort -u | tr '\n' ,; }
  req POST "$H_URL/models" '{"model":"test/dl-GGUF:F16"}'
  expect_eq "POST /models" "$code:$(jqr .success)" "200:true"
  for _ in $(seq 100); do
    grep -q download_finished "$TMP/events" && break
    sleep 0.1
  done
  expect_eq "download events" "$(events test/dl-GGUF:F16)" "download_finished,download_progress,"
  expect_eq "downloaded: listed from the cache" \
    "$(curl -s "$H_URL/v1/models" | jq -r '.data[] | select(.id == "test/dl-GGUF:F16") | "\(.source):\(.status.value)"')" \
    "cache:unloaded"
  expect_eq "downloaded: it serves (= llamac run)" "$(completion "$H_URL" test/dl-GGUF:F16)" "$(greedy "$TMP/dl-F16.gguf")"
  dl_pid=$(child_pid "$H_PID" test/dl-GGUF:F16)
  req POST "$H_URL/models" '{"model":"test/dl-GGUF:F16"}'
  expect_eq "POST /models: exists" "$code:$(jqr .error.code)" "400:model_exists"
  req POST "$H_URL/models" '{"model":"test/none-GGUF"}'
  expect_eq "POST /models: no such repository" "$code:$(jqr .error.code)" "404:download_refused"
  req POST "$H_URL/models" '{"model":"stories"}'
  expect_eq "POST /models: not a repository" "$code:$(jqr .error.code)" "400:invalid_model"
  req POST "$H_URL/models" '{}'
  expect_eq "POST /models: no model" "$code:$(jqr .error.param)" "400:model"
  req DELETE "$H_URL/models?model=stories"
  expect_eq "DELETE /models: not from the cache" "$code:$(jqr .error.code)" "400:model_not_removable"
  req DELETE "$H_URL/models?model=nope/nothing"
  expect_eq "DELETE /models: unknown" "$code:$(jqr .error.code)" "404:model_not_found"
  req DELETE "$H_URL/models?model=test/dl-GGUF:F16"
  expect_eq "DELETE /models" "$code:$(jqr .success)" "200:true"
  kill -0 "$dl_pid" 2> /dev/null && fail "the removed model's process still runs" || pass
  expect_eq "removed: not listed" "$(curl -s "$H_URL/v1/models" | jq '[.data[] | select(.id == "test/dl-GGUF:F16")] | length')" 0
  expect_eq "removed: no file left" "$(find "$HF_HUB_CACHE/models--test--dl-GGUF" -name '*.gguf' 2> /dev/null | wc -l)" 0
  sleep 0.2
  expect_contains "model_remove event" "$(events test/dl-GGUF:F16)" "model_remove"
  expect_eq "the other cache model stays" "$(status "$H_URL" test/tiny-GGUF:Q8_0)" "unloaded"
  kill "$sse_pid" 2> /dev/null
  stop_server "$H_PID"
  expect_eq "router with a /models/sse listener exits" "$stop_rc" 0
fi

# --- command-line errors ---
run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-dir "$TMP/none"
expect_eq "missing --models-dir" "$rc:$(grep -c "models-dir $TMP/none: No such file" "$TMP/e")" "1:1"
printf '[x]\nctx-size = 5\n' > "$TMP/bad.ini"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-preset "$TMP/bad.ini"
expect_contains "preset section without model" "$(cat "$TMP/e")" "[x] names no model"
printf '[stories]\nwarp-drive = 1\n' > "$TMP/bad.ini"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-dir "$D" --models-preset "$TMP/bad.ini"
expect_contains "preset unknown option" "$(cat "$TMP/e")" "option 'warp-drive' of [stories] is not an option"
printf '[stories]\nport = 9\n' > "$TMP/bad.ini"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-dir "$D" --models-preset "$TMP/bad.ini"
expect_contains "preset router option" "$(cat "$TMP/e")" "option 'port' of [stories]"
printf '[stories\n' > "$TMP/bad.ini"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-preset "$TMP/bad.ini"
expect_contains "preset syntax" "$(cat "$TMP/e")" "line 1: a section header without ']'"
run_llamac "$TMP/o" "$TMP/e" serve -m "$MODELS/stories260K.gguf" --models-dir "$D"
expect_eq "--models-dir with -m" "$rc:$(grep -c 'is for router mode' "$TMP/e")" "2:1"
finish
