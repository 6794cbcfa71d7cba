# `llamac serve`: a client that disconnects during a long prefill frees its slot within a fraction of a second, not
# after the chunk being decoded (issue 30, defect 10): the engine's abort callback stops the decode between ggml's
# graph nodes, and the sequence goes back to what it held before the step. A request decoded beside it is unharmed.
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/serve_lib.sh"
M="$MODELS/stories260K.gguf"
# a model whose 2,000-token prefill takes seconds on one thread
serve_work cancel "$M" --layers 4 --embd 512 --heads 8 --seed 7
start_server S -m "$W/slow.gguf" -np 2 -c 8192 -b 2048 -ub 2048 --prefill-chunk 2048 -t 1 --metrics --slots
prompt=$(seq 3 2002 | awk '{ printf "%s%d", (NR > 1 ? "," : ""), $1 % 500 + 3 }')

# how long one 2,000-token prefill takes here (and its greedy text, for after the cancel)
t0=$(date +%s%N)
req POST "$S_URL/v1/completions" "{\"prompt\":[$prompt],\"max_tokens\":4,\"temperature\":0,\"cache_prompt\":false}"
prefill_ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "a full prefill: status" "$code" 200
before=$(jqr '.choices[0].text')
echo "one 2,000-token prefill: $prefill_ms ms" >&2
if [ "$prefill_ms" -lt 1500 ]; then
  echo "SKIP: the prefill takes $prefill_ms ms here, too short to tell a cancel mid-chunk" >&2
  stop_server "$S_PID"
  exit 77
fi

# a client that goes away 0.4 s into the same prefill (another prompt, so nothing is cached)
prompt2=$(seq 3 2002 | awk '{ printf "%s%d", (NR > 1 ? "," : ""), ($1 * 7) % 500 + 3 }')
curl -s --max-time 0.4 "$S_URL/v1/completions" -H 'Content-Type: application/json' \
  -d "{\"prompt\":[$prompt2],\"max_tokens\":1}" > /dev/null
t0=$(date +%s%N)
for _ in $(seq 100); do
  req GET "$S_URL/slots"
  [ "$(jqr 'map(select(.state == "idle")) | length')" = 2 ] && break
  sleep 0.05
done
freed_ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "the slot is idle again" "$(jqr 'map(select(.state == "idle")) | length')" 2
echo "slot free $freed_ms ms after the disconnect (the prefill takes $prefill_ms ms)" >&2
[ "$freed_ms" -lt $((prefill_ms / 3)) ] && pass ||
  fail "the slot was freed $freed_ms ms after the disconnect: not before the chunk ($prefill_ms ms) ended"
req GET "$S_URL/metrics"
expect_contains "counted as cancelled" "$(cat "$TMP/body")" "llamac:requests_cancelled_total 1"

# the first request again gives the same greedy text as before the cancel: the engine and its cache are consistent
req POST "$S_URL/v1/completions" "{\"prompt\":[$prompt],\"max_tokens\":4,\"temperature\":0,\"cache_prompt\":false}"
expect_eq "greedy text after the cancel" "$(jqr '.choices[0].text')" "$before"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
