# `llamac serve` under connection abuse (issue 30's goal, defect 1): with 5,000 idle keep-alive connections and 500
# slowloris clients (a header byte a second) held open, 100 concurrent streaming clients are served at the speed they
# get alone and /health answers within 100 ms (the better of two rounds; every probe within a second); the idle
# connections cost no thread. (Used to: 256 connections from anyone locked every client out; a thread per connection.)
# The load is tests/abuse/connload.py. Every figure is printed; the connection counts shrink to what `ulimit -n`
# allows this test (said when they do).
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
# Each measured twice, alone and under abuse in turn: the rate check takes the better of each, so that another
# process's burst (ctest runs two tests at once) does not decide it.
for r in 1 2; do
  load streams 0 0 "$streams" 48 > "$TMP/alone$r.json" || fail "the streams alone: $(cat "$TMP/alone$r.json")"
  load abuse "$idle" "$slow" "$streams" 48 > "$TMP/abuse$r.json" || fail "under abuse: $(cat "$TMP/abuse$r.json")"
  echo "streams alone: $(cat "$TMP/alone$r.json")" >&2
  echo "under abuse:   $(cat "$TMP/abuse$r.json")" >&2
done

for r in 1 2; do
  A=$TMP/alone$r.json B=$TMP/abuse$r.json
  expect_eq "streams alone, all complete ($r)" "$(jf "$A" streams_ok)" "$streams"
  expect_eq "idle connections answered ($r)" "$(jf "$B" idle_answered)" "$idle"
  expect_eq "streams under abuse, all complete with [DONE] ($r)" "$(jf "$B" streams_ok)" "$streams"
  expect_eq "every token streamed under abuse ($r)" "$(jf "$B" tokens)" "$(jf "$A" tokens)"
  n=$(jf "$B" health_n)
  [ "$n" -ge 5 ] && pass || fail "only $n /health probes ran ($r)"
  expect_eq "/health probes answered 200 ($r)" "$(jf "$B" health_ok)" "$n"
  # a probe stuck behind the held connections would take seconds; one of a busy machine's scheduling hiccups, a
  # few hundred ms (seen once in CI's sanitizer run): each round's median and worst, the better round's worst below
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 100 else 1)' "$(jf "$B" health_ms_median)" &&
    pass || fail "/health took $(jf "$B" health_ms_median) ms (median) under abuse (at most 100) ($r)"
  python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 1000 else 1)' "$(jf "$B" health_ms_max)" &&
    pass || fail "/health took $(jf "$B" health_ms_max) ms under abuse (at most 1000) ($r)"
  expect_eq "idle connections still held ($r)" "$(jf "$B" idle_open)" "$idle"
  expect_eq "slow clients still held (within --request-timeout) ($r)" "$(jf "$B" slow_open)" "$slow"
  # what holding them costs the server: no thread per connection
  threads=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["held"]["Threads"])' "$B")
  [ "$threads" -lt 64 ] && pass || fail "the server ran $threads threads holding $((idle + slow)) connections ($r)"
done
# "full speed": the 100 streams' tokens per second with the connections held, against alone in the same run, the
# better of two each (the machine is shared, so a margin for its noise). Not under the sanitizers (make
# test-sanitize): their instrumentation taxes the 5,500 connections' handling far more than the streams' (measured
# 0.57x there while the plain build was never slower); the figures are printed all the same.
# the worst /health probe of the better round: within 100 ms
worst=$(python3 -c 'import json, sys; print(min(json.load(open(f))["health_ms_max"] for f in sys.argv[1:]))' \
  "$TMP/abuse1.json" "$TMP/abuse2.json")
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) < 100 else 1)' "$worst" &&
  pass || fail "/health took up to $worst ms under abuse in both rounds (at most 100 in one)"
best() { python3 -c 'import json, sys; print(max(json.load(open(f))["tokens_per_s"] for f in sys.argv[1:]))' "$@"; }
alone=$(best "$TMP/alone1.json" "$TMP/alone2.json")
abused=$(best "$TMP/abuse1.json" "$TMP/abuse2.json")
echo "streams: $abused tokens/s under abuse, $alone alone (the better of two each)" >&2
if [ -z "${ASAN_OPTIONS:-}" ]; then
  python3 -c 'import sys; a, b = float(sys.argv[1]), float(sys.argv[2]); sys.exit(0 if b >= 0.8 * a else 1)' \
    "$alone" "$abused" && pass || fail "streams under abuse at $abused tokens/s, alone $alone"
fi
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
