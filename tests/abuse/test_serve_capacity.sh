# `llamac serve` under connection abuse (issue 30's goal, defect 1): with 5,000 idle keep-alive connections and 500
# slowloris clients (a header byte a second) held open, 100 concurrent streaming clients are served at the speed they
# get alone and /health answers within 100 ms; the idle connections cost no thread. (Used to: 256 connections from
# anyone locked every client out; a thread per connection.) The load is tests/abuse/connload.py. Every figure is
# printed; the connection counts shrink to what `ulimit -n` allows this test (said when they do).
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v python3 > /dev/null || { echo "python3 is needed" >&2; exit 77; }
ulimit -n "$(ulimit -Hn)" 2> /dev/null
nofile=$(ulimit -n)
idle=5000 slow=500 streams=100
# this process's sockets and the server's (it raises its own limit to the same hard one): the load, plus room
room=$((nofile - 400))
if [ $((idle + slow + streams)) -gt "$room" ]; then
  idle=$((room - slow - streams))
  echo "ulimit -n is $nofile here: $idle idle connections instead of 5000" >&2
fi
[ "$idle" -ge 1000 ] || { echo "SKIP: ulimit -n $nofile leaves too few connections" >&2; exit 77; }
start_server S -m "$M" -np "$streams" -c $((streams * 128)) -t 1
port=${S_URL##*:}
load() { python3 "$LLAMAC_SOURCE_DIR/tests/abuse/connload.py" "$port" "$@" "$S_PID"; }
jf() { python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))[sys.argv[2]])' "$@"; }

load streams 0 0 "$streams" 48 > /dev/null # warm-up
load streams 0 0 "$streams" 48 > "$TMP/alone.json" || fail "the streams alone: $(cat "$TMP/alone.json")"
load abuse "$idle" "$slow" "$streams" 48 > "$TMP/abuse.json" || fail "under abuse: $(cat "$TMP/abuse.json")"
echo "streams alone: $(cat "$TMP/alone.json")" >&2
echo "under abuse:   $(cat "$TMP/abuse.json")" >&2

expect_eq "streams alone, all complete" "$(jf "$TMP/alone.json" streams_ok)" "$streams"
expect_eq "idle connections answered" "$(jf "$TMP/abuse.json" idle_answered)" "$idle"
expect_eq "streams under abuse, all complete with [DONE]" "$(jf "$TMP/abuse.json" streams_ok)" "$streams"
expect_eq "every token streamed under abuse" "$(jf "$TMP/abuse.json" tokens)" "$(jf "$TMP/alone.json" tokens)"
# "full speed": the 100 streams' tokens per second with the connections held, against alone in the same run (the
# machine is shared, so a margin for its noise)
python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b >= 0.8 * a else 1)' \
  "$(jf "$TMP/alone.json" tokens_per_s)" "$(jf "$TMP/abuse.json" tokens_per_s)" && pass ||
  fail "streams under abuse at $(jf "$TMP/abuse.json" tokens_per_s) tokens/s, alone $(jf "$TMP/alone.json" tokens_per_s)"
n=$(jf "$TMP/abuse.json" health_n)
[ "$n" -ge 5 ] && pass || fail "only $n /health probes ran"
expect_eq "/health probes answered 200" "$(jf "$TMP/abuse.json" health_ok)" "$n"
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 100 else 1)' "$(jf "$TMP/abuse.json" health_ms_max)" &&
  pass || fail "/health took $(jf "$TMP/abuse.json" health_ms_max) ms under abuse (at most 100)"
expect_eq "idle connections still held" "$(jf "$TMP/abuse.json" idle_open)" "$idle"
expect_eq "slow clients still held (within --request-timeout)" "$(jf "$TMP/abuse.json" slow_open)" "$slow"
# what holding them costs the server: no thread per connection
threads=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["held"]["Threads"])' "$TMP/abuse.json")
[ "$threads" -lt 64 ] && pass || fail "the server ran $threads threads holding $((idle + slow)) connections"
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
