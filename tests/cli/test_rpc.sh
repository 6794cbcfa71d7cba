#!/usr/bin/env bash
# ggml RPC: `llamac rpc-server` on two loopback addresses of their own (127.0.0.2, 127.0.0.3), a model's layers split
# across them with --rpc: greedy text identical to the local CPU run for run and serve; a peer killed mid-generation
# ends the server at once (no hang); unreachable, malformed and non-RPC endpoints named in one-line errors;
# rpc-server's own errors and its warning off loopback.
source "$(dirname "$0")/lib.sh"
source "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K.gguf"
if ! "$LLAMAC" --version | grep -q '^backends:.* RPC'; then
  fail "this build has no RPC backend (LLAMAC_RPC is on by default)"
  finish
  exit 1
fi

# rpc_start NAME HOST : an rpc-server on HOST and a free port; sets ${NAME}_EP and ${NAME}_PID once it accepts
rpc_start() {
  local port
  port=$(free_port)
  "$LLAMAC" rpc-server -H "$2" -p "$port" -t 1 > "$TMP/$1.out" 2> "$TMP/$1.err" &
  eval "${1}_PID=$!"
  eval "${1}_EP=$2:$port"
  for _ in $(seq 1 100); do
    grep -q 'transport' "$TMP/$1.out" && (exec 3<> "/dev/tcp/$2/$port") 2> /dev/null && return 0
    sleep 0.1
  done
  fail "rpc-server $1 did not start: $(cat "$TMP/$1.err")"
}
rpc_start A 127.0.0.2
rpc_start B 127.0.0.3
trap 'kill $A_PID $B_PID ${C_PID:-} 2> /dev/null' EXIT
expect_contains "rpc-server banner" "$(cat "$TMP/A.out")" "$A_EP"

# --- run: split across both servers, the same greedy text as on the local CPU ---
GEN=(run -m "$M" -p "Once upon a time" -n 48 --temp 0 -t 1)
run_llamac "$TMP/local" "$TMP/err" "${GEN[@]}"
expect_eq "local run" "$rc" 0
run_llamac "$TMP/split" "$TMP/err" "${GEN[@]}" --rpc "$A_EP,$B_EP" -v
expect_eq "run --rpc" "$rc" 0
expect_eq "run --rpc: the local greedy text" "$(cat "$TMP/split")" "$(cat "$TMP/local")"
expect_contains "layers on the first server" "$(cat "$TMP/err")" "RPC0[$A_EP] model buffer size"
expect_contains "layers on the second server" "$(cat "$TMP/err")" "[$B_EP] model buffer size"
# -ts 1,0: every offloaded layer on the first; -dev picks devices by name
run_llamac "$TMP/ts" "$TMP/err" "${GEN[@]}" --rpc "$A_EP,$B_EP" -ts 1,0 -v
expect_eq "-ts 1,0: the same text" "$(cat "$TMP/ts")" "$(cat "$TMP/local")"
expect_eq "-ts 1,0: nothing on the second" "$(grep -c "\[$B_EP\] model buffer size" "$TMP/err")" 0
run_llamac "$TMP/dev" "$TMP/err" "${GEN[@]}" --rpc "$A_EP,$B_EP" -dev RPC1 -v
expect_eq "-dev RPC1: the same text" "$(cat "$TMP/dev")" "$(cat "$TMP/local")"
expect_eq "-dev RPC1: nothing on the first" "$(grep -c "\[$A_EP\] model buffer size" "$TMP/err")" 0
run_llamac "$TMP/ngl0" "$TMP/err" "${GEN[@]}" --rpc "$A_EP" -ngl 0 -v
expect_eq "-ngl 0: the same text" "$(cat "$TMP/ngl0")" "$(cat "$TMP/local")"
expect_eq "-ngl 0: CPU only" "$(grep -c "model buffer size" "$TMP/err" | tr -d ' ')" "$(grep -c "CPU.*model buffer size" "$TMP/err")"
expect_contains "-ngl 0: a note that the servers are unused" "$(cat "$TMP/err")" "--rpc servers are not used"

# --- serve: the same completion split as local ---
REQ='{"prompt":"Once upon a time","max_tokens":48,"temperature":0}'
start_server L -m "$M" -t 1 -np 1 -q
req POST "$L_URL/v1/completions" "$REQ"
local_text=$(jqr '.choices[0].text')
stop_server "$L_PID"
start_server S -m "$M" -t 1 -np 1 -q --rpc "$A_EP,$B_EP"
req POST "$S_URL/v1/completions" "$REQ"
expect_eq "serve --rpc completion" "$code" 200
expect_eq "serve --rpc: the local text" "$(jqr '.choices[0].text')" "$local_text"
stop_server "$S_PID"
expect_eq "serve --rpc exits cleanly" "$stop_rc" 0

# --- a peer that dies mid-generation: ggml's RPC client cannot go on and aborts the process (README "Scaling out":
# llamac cannot catch it at the pin). What is checked is that nothing hangs: the server ends within seconds with
# ggml's message, and the client's stream ends without [DONE] (systemd restarts the server, HAProxy sends the next
# requests to other replicas meanwhile: test_deploy_haproxy.sh) ---
rpc_start C 127.0.0.5
GGML_NO_BACKTRACE=1 start_server D -m "$M" -t 1 -np 1 -q --rpc "$C_EP"
stream_start "$D_URL/v1/completions" '{"prompt": "Once upon a time", "max_tokens": 1900, "temperature": 0,
  "stream": true}' "$TMP/dying"
kill -9 "$C_PID"
ended=0
for _ in $(seq 1 200); do
  kill -0 "$D_PID" 2> /dev/null || { ended=1; break; }
  sleep 0.1
done
expect_eq "a dead peer ends the server within 20 s (no hang)" "$ended" 1
[ "$ended" = 1 ] || kill -9 "$D_PID"
wait "$D_PID"
expect_eq "a dead peer: the server aborts" "$?" 134
expect_contains "a dead peer: ggml's message" "$(cat "$TMP/D.log")" "Remote RPC server crashed"
wait "$stream_pid"
expect_eq "a dead peer: the stream had begun" "$(grep -c '^data: {' "$TMP/dying" | awk '{ print ($1 > 0) }')" 1
expect_eq "a dead peer: the stream ends without [DONE]" "$(grep -c '^data: \[DONE\]' "$TMP/dying")" 0

# --- endpoints that are not there, not RPC, or not HOST:PORT: one line naming the endpoint ---
dead="127.0.0.4:$(free_port)"
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" --rpc "$dead"
expect_eq "unreachable server: exit 1" "$rc" 1
expect_contains "unreachable server named" "$(cat "$TMP/err")" "RPC server $dead: cannot connect: Connection refused"
expect_eq "unreachable server: one line" "$(wc -l < "$TMP/err")" 1
start_server H -m "$M" -t 1 -np 1 -q
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" --rpc "${H_URL#http://}"
expect_contains "an HTTP server is not an RPC server" "$(cat "$TMP/err")" "RPC server ${H_URL#http://}: no valid reply to the RPC hello"
stop_server "$H_PID"
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" --rpc 127.0.0.2
expect_contains "no port" "$(cat "$TMP/err")" "RPC server '127.0.0.2' is not HOST:PORT"
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" --rpc "$A_EP,"
expect_contains "an empty entry" "$(cat "$TMP/err")" "has an empty"
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" -dev NOPE -ngl 1
expect_contains "unknown device, the known ones listed" "$(cat "$TMP/err")" "no device named 'NOPE' (available: CPU"
run_llamac "$TMP/out" "$TMP/err" "${GEN[@]}" -ts 1,x
expect_eq "bad -ts: usage error" "$rc" 2
expect_contains "bad -ts named" "$(cat "$TMP/err")" "-ts: '1,x' is not a list"

# --- rpc-server's own errors ---
run_llamac "$TMP/out" "$TMP/err" rpc-server -H 127.0.0.2 -p "${A_EP##*:}"
expect_eq "port in use: exit 1" "$rc" 1
expect_contains "port in use" "$(cat "$TMP/err")" "port ${A_EP##*:} on 127.0.0.2 is in use"
run_llamac "$TMP/out" "$TMP/err" rpc-server -d NOPE
expect_contains "rpc-server: unknown device" "$(cat "$TMP/err")" "no device named 'NOPE'"
run_llamac "$TMP/out" "$TMP/err" rpc-server -p 0
expect_eq "rpc-server -p 0: usage error" "$rc" 2
port=$(free_port)
"$LLAMAC" rpc-server -H 0.0.0.0 -p "$port" -t 1 > /dev/null 2> "$TMP/open.err" &
open_pid=$!
for _ in $(seq 1 50); do grep -q WARNING "$TMP/open.err" && break; sleep 0.1; done
kill "$open_pid"
wait "$open_pid" 2> /dev/null
expect_contains "a warning off loopback" "$(cat "$TMP/open.err")" "no authentication or encryption"

finish
