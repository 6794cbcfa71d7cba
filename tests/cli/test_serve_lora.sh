# `llamac serve --lora / --lora-scaled`: the adapters every request decodes with, at the scales the server started
# with. /v1/completions gives byte-for-byte llama-completion's greedy text with the same adapter and scale
# (tests/reference/lora/), in parallel slots too; GET /lora-adapters lists them as llama-server does; a request's
# `lora` field or POST /lora-adapters asking for those scales is served, other scales get 501 (never a wrong
# answer), malformed ones 400; bad adapter files and flags stop the server at startup with a clear message.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
M="$MODELS/stories260K.gguf"
L="$REF/lora"
"$LLAMAC" synth -q --lora -m "$M" -o "$TMP/stories-lora.gguf" --targets all --seed 1 --init-std 0.07
"$LLAMAC" synth -q --control-vector -m "$M" -o "$TMP/stories-cvec.gguf" --seed 2 --init-std 0.1
BODY='{"prompt": "Once upon a time", "max_tokens": 48, "temperature": 0'

start_server S -m "$M" -np 2 -t 1 --lora-scaled "$TMP/stories-lora.gguf:0.5"
req GET "$S_URL/lora-adapters"
expect_eq "GET /lora-adapters status" "$code" 200
expect_eq "GET /lora-adapters" "$(jq -c '[.[] | {id, scale, task_name}]' "$TMP/body")" \
  '[{"id":0,"scale":0.5,"task_name":""}]'
expect_eq "adapter path" "$(jqr '.[0].path')" "$TMP/stories-lora.gguf"
req POST "$S_URL/v1/completions" "$BODY}"
expect_eq "completion status" "$code" 200
expect_eq "completion at 0.5 = llama-completion's" "$(jqr '.choices[0].text')" "$(cat "$L/stories-lora-0.5.txt")"
# two slots at once, each the same answer
curl -s -H 'Content-Type: application/json' --data-binary "$BODY}" "$S_URL/v1/completions" > "$TMP/p1" &
c1=$!
curl -s -H 'Content-Type: application/json' --data-binary "$BODY}" "$S_URL/v1/completions" > "$TMP/p2" &
c2=$!
wait "$c1" "$c2"
expect_eq "parallel 1" "$(jqr '.choices[0].text' "$TMP/p1")" "$(cat "$L/stories-lora-0.5.txt")"
expect_eq "parallel 2" "$(jqr '.choices[0].text' "$TMP/p2")" "$(cat "$L/stories-lora-0.5.txt")"
# the request's lora field: the server's scales are served, others refused
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 0, \"scale\": 0.5}]}"
expect_eq "lora at the server's scale" "$code" 200
expect_eq "lora at the server's scale: text" "$(jqr '.choices[0].text')" "$(cat "$L/stories-lora-0.5.txt")"
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 0, \"scale\": 1}]}"
expect_eq "lora at another scale" "$code" 501
expect_contains "lora at another scale: message" "$(jqr .error.message)" "other scales are not supported yet"
req POST "$S_URL/v1/completions" "$BODY, \"lora\": []}"
expect_eq "lora list leaving the adapter out (scale 0)" "$code" 501
req POST "$S_URL/v1/completions" "$BODY, \"lora\": [{\"id\": 3, \"scale\": 1}]}"
expect_eq "lora with an unknown id" "$code" 400
expect_contains "unknown id: message" "$(jqr .error.message)" "no LoRA adapter has id 3 (1 loaded)"
req POST "$S_URL/v1/completions" "$BODY, \"lora\": \"x\"}"
expect_eq "lora not an array" "$code" 400
req POST "$S_URL/v1/chat/completions" '{"messages": [{"role": "user", "content": "Hi"}], "lora": [{"id": 0}]}'
expect_eq "lora entry without a scale" "$code" 400
req POST "$S_URL/lora-adapters" '[{"id": 0, "scale": 0.5}]'
expect_eq "POST /lora-adapters, the same scales" "$code" 200
req POST "$S_URL/lora-adapters" '[{"id": 0, "scale": 0.25}]'
expect_eq "POST /lora-adapters, other scales" "$code" 501
req POST "$S_URL/lora-adapters" '{"id": 0}'
expect_eq "POST /lora-adapters, not an array" "$code" 400
req GET "$S_URL/lora-adapters"
expect_eq "scales unchanged" "$(jqr '.[0].scale')" "0.5"
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

# startup errors
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora "$TMP/missing.gguf"
expect_eq "missing adapter: status" "$rc" 1
expect_contains "missing adapter: message" "$(cat "$TMP/e")" "missing.gguf"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora "$TMP/stories-cvec.gguf"
expect_eq "control vector as adapter: status" "$rc" 1
expect_contains "control vector as adapter: message" "$(cat "$TMP/e")" "is a control vector, not a LoRA adapter"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --control-vector "$TMP/stories-cvec.gguf"
expect_eq "control vector: status" "$rc" 2
expect_contains "control vector: message" "$(cat "$TMP/e")" "not supported by llamac serve yet"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --lora-scaled "$TMP/stories-lora.gguf:x"
expect_eq "bad scale: status" "$rc" 2
finish
