# `llamac serve --lora / --lora-scaled`: /v1/completions gives byte-for-byte llama-completion's greedy text with the
# same adapter and scale (tests/reference/lora/), in parallel slots too; a request's `lora` field picks its own scales,
# and four requests at scales 0, 0.5, 1 and 0.5 decoded at once each get the text of their scale; POST /lora-adapters
# changes the scales of the requests after it (not of one already running); GET /lora-adapters lists them as
# llama-server does; malformed lists get 400; --control-vector flags give llama-completion's text with the same
# vector, scale and layers; bad adapter files and flags stop the server at startup with a clear message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
M="$MODELS/stories260K.gguf"
L="$REF/lora"
"$LLAMAC" synth -q --lora -m "$M" -o "$TMP/stories-lora.gguf" --targets all --seed 1 --init-std 0.07
"$LLAMAC" synth -q --control-vector -m "$M" -o "$TMP/stories-cvec.gguf" --seed 2 --init-std 0.1
BODY='{"prompt": "Once upon a time", "max_tokens": 48, "temperature": 0'

# post_bg FILE JSON [URL] : POST /v1/completions to URL (default $S_URL) in the background, the reply into FILE; the
# pid goes to $bg.
post_bg() {
  curl -s -H 'Content-Type: application/json' --data-binary "$2" "${3:-$S_URL}/v1/completions" > "$1" &
  bg=$!
}

start_server S -m "$M" -np 4 -t 1 --lora-scaled "$TMP/stories-lora.gguf:0.5"
req GET "$S_URL/lora-adapters"
expect_eq "GET /lora-adapters status" "$code" 200
expect_eq "GET /lora-adapters" "$(jq -c '[.[] | {id, scale, task_name}]' "$TMP/body")" \
  '[{"id":0,"scale":0.5,"task_name":""}]'
expect_eq "adapter path" "$(jqr '.[0].path')" "$TMP/stories-lora.gguf"
req POST "$S_URL/v1/completions" "$BODY}"
expect_eq "completion status" "$code" 200
expect_eq "completion at 0.5 = llama-completion's" "$(jqr '.choices[0].text')" "$(cat "$L/stories-lora-0.5.txt")"
# four slots at once at the scales the requests ask for: each gets llama-completion's text at its scale
scales=(0 0.5 1 0.5)
pids=()
for i in 0 1 2 3; do
  post_bg "$TMP/p$i" "$BODY, \"lora\": [{\"id\": 0, \"scale\": ${scales[$i]}}]}"
  pids+=("$bg")
done
wait "${pids[@]}"
for i in 0 1 2 3; do
  expect_eq "parallel, scale ${scales[$i]}" "$(jqr '.choices[0].text' "$TMP/p$i")" \
    "$(cat "$L/stories-lora-${scales[$i]}.txt")"
done
expect_eq "scale 0 = the base model" "$(cat "$L/stories-lora-0.txt")" "$(cat "$L/stories-base.txt")"
# llama-server's rule: an adapter the list leaves out is at scale 0
req POST "$S_URL/v1/completions" "$BODY, \"lora\": []}"
expect_eq "lora list leaving the adapter out" "$code" 200
expect_eq "lora list leaving the adapter out: the base model" "$(jqr '.choices[0].text')" \
  "$(cat "$L/stories-base.txt")"
req POST "$S_URL/v1/chat/completions" \
  '{"messages": [{"role": "user", "content": "Hi"}], "max_tokens": 4, "lora": [{"id": 0, "scale": -1.5}]}'
expect_eq "chat with lora" "$code" 200
# malformed lists
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 3, \"scale\": 1}]}"
expect_eq "lora with an unknown id" "$code" 400
expect_contains "unknown id: message" "$(jqr .error.message)" "no LoRA adapter has id 3 (1 loaded)"
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": -1, \"scale\": 1}]}"
expect_eq "lora with a negative id" "$code" 400
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": \"0\", \"scale\": 1}]}"
expect_eq "lora id a string" "$code" 400
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 0, \"scale\": \"1\"}]}"
expect_eq "lora scale a string" "$code" 400
expect_contains "scale a string: message" "$(jqr .error.message)" "a finite number 'scale'"
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 0, \"scale\": 1e300}]}"
expect_eq "lora scale beyond a float" "$code" 400
req POST "$S_URL/v1/completions" "$BODY, \"lora\": \"x\"}"
expect_eq "lora not an array" "$code" 400
req POST "$S_URL/v1/chat/completions" '{"messages": [{"role": "user", "content": "Hi"}], "lora": [{"id": 0}]}'
expect_eq "lora entry without a scale" "$code" 400
req POST "$S_URL/lora-adapters" '{"id": 0}'
expect_eq "POST /lora-adapters, not an array" "$code" 400
req POST "$S_URL/lora-adapters" '[{"id": 1, "scale": 1}]'
expect_eq "POST /lora-adapters, unknown id" "$code" 400
req POST "$S_URL/lora-adapters" '[{"id": 0, "scale": null}]'
expect_eq "POST /lora-adapters, scale null" "$code" 400
req GET "$S_URL/lora-adapters"
expect_eq "refused lists change nothing" "$(jqr '.[0].scale')" "0.5"

# POST /lora-adapters: the requests after it decode at the new scale; one running keeps the scale it started with.
# The long one streams until it ends (the slot's context); the change is posted once its first tokens have come.
stream_start "$S_URL/v1/completions" '{"prompt": "Once upon a time", "max_tokens": 400, "temperature": 0,
  "stream": true}' "$TMP/long"
long=$stream_pid
req POST "$S_URL/lora-adapters" '[{"id": 0, "scale": 1}]'
expect_eq "POST /lora-adapters" "$code" 200
expect_eq "POST /lora-adapters reply" "$(jq -c . "$TMP/body")" '{"success":true}'
running=1
grep -q '^data: \[DONE\]' "$TMP/long" && running=0
echo "the long request was still running at the POST: $running" >&2
req POST "$S_URL/v1/completions" "$BODY}"
expect_eq "after POST: the new scale" "$(jqr '.choices[0].text')" "$(cat "$L/stories-lora-1.txt")"
req GET "$S_URL/lora-adapters"
expect_eq "GET after POST" "$(jqr '.[0].scale')" "1"
wait "$long"
sse_json "$TMP/long"
long_text=$(jq -r '[.[].choices[0].text] | join("")' "$TMP/events")
want05=$(cat "$L/stories-lora-0.5.txt")
expect_eq "the running request kept its scale (running at the POST: $running)" "${long_text:0:${#want05}}" "$want05"
# a request's own list still wins over the server's scales
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 0, \"scale\": 0.5}]}"
expect_eq "lora over the server's scale" "$(jqr '.choices[0].text')" "$(cat "$L/stories-lora-0.5.txt")"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0

# loaded at scale 0: the base model's text exactly
start_server Z -m "$M" -np 1 -t 1 --lora "$TMP/stories-lora.gguf" --lora-init-without-apply
req GET "$Z_URL/lora-adapters"
expect_eq "init without apply: scale" "$(jqr '.[0].scale')" "0"
req POST "$Z_URL/v1/completions" "$BODY}"
expect_eq "scale 0 = the base model" "$(jqr '.choices[0].text')" "$(cat "$L/stories-base.txt")"
stop_server "$Z_PID"
# no adapters: an empty list
start_server N -m "$M" -np 1 -t 1
req GET "$N_URL/lora-adapters"
expect_eq "no adapters" "$(jq -c . "$TMP/body")" "[]"
stop_server "$N_PID"

# control vectors apply to every request, as llama-server's flags do: llama-completion's text with the same flags,
# from parallel slots too
start_server C -m "$M" -np 2 -t 1 --control-vector "$TMP/stories-cvec.gguf"
req POST "$C_URL/v1/completions" "$BODY}"
expect_eq "control vector: llama-completion's text" "$(jqr '.choices[0].text')" "$(cat "$L/stories-cvec-1.txt")"
stop_server "$C_PID"
start_server C -m "$M" -np 2 -t 1 --control-vector-scaled "$TMP/stories-cvec.gguf:3" --control-vector-layer-range 2 3
pids=()
for i in 0 1; do
  post_bg "$TMP/c$i" "$BODY}" "$C_URL"
  pids+=("$bg")
done
wait "${pids[@]}"
for i in 0 1; do
  expect_eq "control vector scaled, layers 2-3, slot request $i" "$(jqr '.choices[0].text' "$TMP/c$i")" \
    "$(cat "$L/stories-cvec-range.txt")"
done
stop_server "$C_PID"

# startup errors
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora "$TMP/missing.gguf"
expect_eq "missing adapter: status" "$rc" 1
expect_contains "missing adapter: message" "$(cat "$TMP/e")" "missing.gguf"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora "$TMP/stories-cvec.gguf"
expect_eq "control vector as adapter: status" "$rc" 1
expect_contains "control vector as adapter: message" "$(cat "$TMP/e")" "is a control vector, not a LoRA adapter"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --control-vector "$TMP/stories-lora.gguf"
expect_eq "adapter as control vector: status" "$rc" 1
expect_contains "adapter as control vector: message" "$(cat "$TMP/e")" "stories-lora.gguf"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --reranking --control-vector "$TMP/stories-cvec.gguf"
expect_eq "control vector with --reranking: status" "$rc" 2
expect_contains "control vector with --reranking: message" "$(cat "$TMP/e")" "--reranking serves none"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --control-vector "$TMP/stories-cvec.gguf" \
  --control-vector-layer-range 3 9
expect_eq "control vector range past the layers: status" "$rc" 1
expect_contains "control vector range past the layers: message" "$(cat "$TMP/e")" "layer"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora-scaled "$TMP/stories-lora.gguf:x"
expect_eq "bad scale: status" "$rc" 2
finish
