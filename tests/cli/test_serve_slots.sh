# `llamac serve`'s llama-server slot and context features with the real stories260K: POST /slots/N?action=save|
# restore|erase with --slot-save-path (a slot saved and restored into another slot serves the same prompt from its
# cache and gives the same text; llama-server's packed token list and a plain one both restore; erase forgets; each
# bad request a 400 or 501 with its reason, the slot usable afterwards); where a request ends at a full context
# (prompt + generated = the slot's context, as llama-server); --kv-unified (a slot holds the whole -c); and
# --context-shift (generation past the slot's context, truncated); --alias lists and --tags in /v1/models.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
command -v curl > /dev/null && command -v jq > /dev/null && command -v python3 > /dev/null ||
  { echo "curl, jq and python3 are needed" >&2; exit 77; }

D="$TMP/slotfiles"
rm -rf "$D"
mkdir -p "$D"
start_server S -m "$M" -c 512 -np 2 -n 64 --seed 42 -t 1 --slot-save-path "$D"

# --- 1. save slot 1, restore it into slot 0: the prompt comes from the cache there, with the same text ---
P='{"prompt":"What is the capital of France?","id_slot":1,"cache_prompt":true,"temperature":0}'
req POST "$S_URL/completion" "$P"
expect_eq "completion on slot 1" "$code $(jqr .id_slot)" "200 1"
n_prompt=$(jqr .tokens_evaluated)
n_gen=$(jqr .timings.predicted_n)
content=$(jqr .content)
req POST "$S_URL/slots/1?action=save" '{"filename":"slot1.bin"}'
expect_eq "save: the slot's tokens (the last one sampled is never decoded)" "$code $(jqr .n_saved)" \
  "200 $((n_prompt + n_gen - 1))"
n_saved=$(jqr .n_saved)
expect_eq "save: n_written is the file's size" "$(jqr .n_written)" "$(stat -c %s "$D/slot1.bin")"
expect_eq "save: id_slot, filename, save_ms" "$(jqr '"\(.id_slot) \(.filename) \(.timings.save_ms >= 0)"')" \
  "1 slot1.bin true"
expect_eq "save: owner-only file, no temporary file left" "$(stat -c %a "$D/slot1.bin") $(ls "$D" | wc -l)" "600 1"
req POST "$S_URL/slots/0?action=restore" '{"filename":"slot1.bin"}'
expect_eq "restore into slot 0" "$code $(jqr .n_restored) $(jqr .n_read)" "200 $n_saved $(stat -c %s "$D/slot1.bin")"
req POST "$S_URL/completion" "$(jq -c '.id_slot = 0' <<< "$P")"
expect_eq "slot 0 serves the prompt from the restored cache" \
  "$(jqr '"\(.id_slot) \(.timings.prompt_n) \(.timings.cache_n)"')" "0 1 $((n_prompt - 1))"
expect_eq "and gives the same text" "$(jqr .content)" "$content"
# the ids are in the file as llama-server packs them: LLAMA_TOKEN_NULL, version 1, the count, the tokens, 0 media
expect_eq "file: llama.cpp's sequence state with llama-server's packed token list" "$(python3 -c '
import struct, sys
d = open(sys.argv[1], "rb").read()
magic, version, n_words = struct.unpack_from("=III", d, 0)
w = struct.unpack_from("=%di" % n_words, d, 12)
print(hex(magic), w[0], w[1], w[2] == n_words - 4, w[-1])' "$D/slot1.bin")" "0x67677371 -1 1 True 0"

# --- 2. a plain token list (what older llama-server versions wrote) restores too ---
python3 -c '
import struct, sys
d = bytearray(open(sys.argv[1], "rb").read())
n_words = struct.unpack_from("=I", d, 8)[0]
n = struct.unpack_from("=I", d, 20)[0]
d = d[:12] + d[24:24 + 4 * n] + d[12 + 4 * n_words:]
struct.pack_into("=I", d, 8, n)
open(sys.argv[2], "wb").write(d)' "$D/slot1.bin" "$D/plain.bin"
req POST "$S_URL/slots/1?action=restore" '{"filename":"plain.bin"}'
expect_eq "plain token list restores" "$code $(jqr .n_restored)" "200 $n_saved"
req POST "$S_URL/completion" "$P"
expect_eq "and serves the prompt from the cache" \
  "$(jq -r --arg c "$content" '"\(.timings.prompt_n) \(.content == $c)"' "$TMP/body")" "1 true"

# --- 3. erase: the next request decodes its whole prompt ---
req POST "$S_URL/slots/0?action=erase"
expect_eq "erase" "$code $(jqr '"\(.id_slot) \(.n_erased > 0)"')" "200 0 true"
req POST "$S_URL/completion" "$(jq -c '.id_slot = 0' <<< "$P")"
expect_eq "after erase: the whole prompt decoded" "$(jqr '"\(.timings.prompt_n) \(.timings.cache_n)"')" "$n_prompt 0"

# --- 4. bad requests: a 400 naming the problem, nothing written outside the directory ---
bad_name() { # NAME FILENAME-JSON
  req POST "$S_URL/slots/0?action=save" "{\"filename\":$2}"
  expect_eq "save $1: 400 naming filename" "$code $(jqr .error.param)" "400 filename"
}
bad_name "a path out of the directory" '"../escape.bin"'
bad_name "a subdirectory" '"sub/x.bin"'
bad_name "an empty name" '""'
bad_name "a dot" '"."'
bad_name "a trailing dot" '"x."'
bad_name "a leading space" '" x"'
bad_name "a colon" '"a:b"'
bad_name "a control character" '"a\u0001b"'
bad_name "a number" '7'
expect_eq "nothing written outside the directory" "$(ls "$TMP" | grep -c escape)" 0
req POST "$S_URL/slots/0?action=save" '{}'
expect_eq "no filename: 400" "$code $(jqr .error.param)" "400 filename"
req POST "$S_URL/slots/0?action=save" 'not json'
expect_eq "a body that is not JSON: 400" "$code" 400
req POST "$S_URL/slots/0?action=restore" '{"filename":"missing.bin"}'
expect_eq "restore a missing file: 400" "$code" 400
expect_contains "the message names the file" "$(jqr .error.message)" "missing.bin"
expect_eq "the message does not show the server's directory" "$(jqr .error.message | grep -c "$D")" 0
head -c 100 /dev/urandom > "$D/junk.bin"
req POST "$S_URL/slots/0?action=restore" '{"filename":"junk.bin"}'
expect_eq "restore a file that is no state: 400" "$code" 400
expect_contains "the message says why" "$(jqr .error.message)" "sequence state"
head -c 2000 "$D/slot1.bin" > "$D/cut.bin"
req POST "$S_URL/slots/0?action=restore" '{"filename":"cut.bin"}'
expect_eq "restore a truncated file: 400" "$code" 400
req POST "$S_URL/completion" "$(jq -c '.id_slot = 0' <<< "$P")"
expect_eq "the slot works after a failed restore, its cache empty" "$code $(jqr .timings.cache_n) $(jqr .content)" \
  "200 0 $content"
req POST "$S_URL/slots/0?action=fly" '{"filename":"x.bin"}'
expect_eq "an unknown action: 400" "$code $(jqr .error.param)" "400 action"
req POST "$S_URL/slots/0" '{"filename":"x.bin"}'
expect_eq "no action: 400" "$code $(jqr .error.param)" "400 action"
req POST "$S_URL/slots/2?action=erase"
expect_eq "a slot that does not exist: 400" "$code $(jqr .error.param)" "400 id_slot"
req POST "$S_URL/slots/x?action=erase"
expect_eq "a slot id that is no number: 400" "$code $(jqr .error.param)" "400 id_slot"
req GET "$S_URL/slots/0?action=erase"
expect_eq "GET /slots/0: 405" "$code" 405

# --- 5. a request ends where llama-server's does: prompt + generated = the slot's context (256) ---
req POST "$S_URL/completion" '{"prompt":"Once upon a time","n_predict":300,"ignore_eos":true}'
expect_eq "n_predict 300 over -n 64: the request's wins, up to the slot's end" \
  "$(jqr '"\(.tokens_evaluated + .timings.predicted_n) \(.truncated) \(.stop_type)"')" "256 true limit"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0

# --- 6. without --slot-save-path: 501; with a path that is no directory: refused at startup ---
start_server N -m "$M" -c 256 -np 2 -t 1 --kv-unified --alias "tiny,code, fim" --tags "chat,,small "
req GET "$N_URL/v1/models"
expect_eq "an alias list: the first in byte order is the id; aliases and tags listed" \
  "$(jq -c '.data[0] | [.id, .aliases, .tags]' "$TMP/body")" '["code",["tiny","code","fim"],["chat","small"]]'
req POST "$N_URL/slots/0?action=erase"
expect_eq "no --slot-save-path: 501" "$code" 501
expect_contains "the message names the flag" "$(jqr .error.message)" "--slot-save-path"

# --- 7. --kv-unified: each slot may hold the whole -c ---
req GET "$N_URL/props"
expect_eq "props: a slot's context is the whole -c" "$(jqr .default_generation_settings.n_ctx)" 256
long=$(printf 'Once upon a time %.0s' $(seq 1 40))
req POST "$N_URL/completion" "{\"prompt\":\"$long\",\"n_predict\":4}"
expect_eq "a prompt longer than -c / -np is served" "$code $(jqr '.tokens_evaluated > 128')" "200 true"
req POST "$N_URL/completion" '{"prompt":"Once upon a time","n_predict":-1,"ignore_eos":true}'
expect_eq "generation runs to the whole context" "$(jqr '"\(.tokens_evaluated + .timings.predicted_n) \(.truncated)"')" \
  "256 true"
stop_server "$N_PID"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --slot-save-path "$TMP/no-such-dir"
expect_eq "--slot-save-path to nothing: exit 2" "$rc" 2
expect_contains "the message names the flag" "$(cat "$TMP/e")" "--slot-save-path"

# --- 8. --context-shift: generation goes on past the slot's context, and says it was truncated ---
start_server C -m "$M" -c 512 -np 2 -t 1 --context-shift
req POST "$C_URL/completion" '{"prompt":"Once upon a time","n_predict":400,"ignore_eos":true}'
expect_eq "400 tokens in a 256-token slot" "$code $(jqr '"\(.timings.predicted_n) \(.truncated) \(.stop_type)"')" \
  "200 400 true limit"
req POST "$C_URL/completion" '{"prompt":"Once upon a time","n_predict":8,"ignore_eos":true}'
expect_eq "a request that fits is not truncated" "$(jqr '"\(.timings.predicted_n) \(.truncated)"')" "8 false"
req POST "$C_URL/completion" '{"prompt":"Once upon a time","n_predict":8,"n_keep":-2}'
expect_eq "n_keep -2: 400" "$code $(jqr .error.param)" "400 n_keep"
stop_server "$C_PID"
expect_eq "server exit" "$stop_rc" 0
finish
