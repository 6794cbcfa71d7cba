#!/usr/bin/env bash
# Connection abuse, llamac serve against the pinned llama-server in the same run: the load of
# tests/abuse/test_serve_capacity.sh (tests/abuse/connload.py) on each in turn, same model and settings (-np 100,
# 128 tokens a slot, one thread): N streaming completions alone, then with IDLE keep-alive connections and SLOW
# slowloris clients held open and /health probed every 100 ms on a new connection. Prints per server: the streams'
# tokens/s alone and held, /health's median and worst time, how many of the idle and slow connections it still held
# after the streams, its threads and RSS before and while holding them; then a JSON line per server.
#
# Usage: [IDLE=5000] [SLOW=500] [STREAMS=100] bench/capacity.sh [MODEL]
# LLAMAC_BIN and LLAMA_SERVER name other binaries (default build/bin/llamac and the pinned llama-server).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
. "$root/bench/lib.sh"
model=${1:-"${LLAMAC_TEST_MODELS:-$root/../shared/models}/stories260K-chatml.gguf"}
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
idle=${IDLE:-5000} slow=${SLOW:-500} streams=${STREAMS:-100}
[ -x "$llamac" ] || { echo "capacity.sh: build llamac first ($llamac)" >&2; exit 1; }
bench_server capacity.sh
ulimit -n "$(ulimit -Hn)"
need=$((idle + slow + streams + 400))
[ "$(ulimit -n)" -ge "$need" ] || { echo "capacity.sh: ulimit -n $(ulimit -n) is below the $need sockets needed" >&2; exit 1; }
bench_tmp

common=(-m "$model" -np "$streams" -c $((streams * 128)) -t 1 --host 127.0.0.1)
load() { python3 "$root/tests/abuse/connload.py" "$@"; }
out=()
for name in llamac llama-server; do
  port=$(free_port)
  if [ "$name" = llamac ]; then
    "$llamac" serve "${common[@]}" --port "$port" > "$tmp/$name.log" 2>&1 &
  else
    "$server" "${common[@]}" --port "$port" > "$tmp/$name.log" 2>&1 &
  fi
  pid=$!
  pids+=("$pid")
  wait_health "$port" "$pid" "$tmp/$name.log"
  load "$port" streams 0 0 "$streams" 48 "$pid" > /dev/null # warm-up
  load "$port" streams 0 0 "$streams" 48 "$pid" > "$tmp/$name-alone.json"
  load "$port" abuse "$idle" "$slow" "$streams" 48 "$pid" > "$tmp/$name-abuse.json"
  kill "$pid"
  wait "$pid" 2> /dev/null || true
  out+=("$name")
done

python3 - "$tmp" "$idle" "$slow" "$streams" "${out[@]}" << 'EOF'
import json, sys
tmp, idle, slow, streams, names = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), sys.argv[5:]
print("| server | streams complete held | streams alone tok/s | held tok/s | /health median (ms) | /health worst (ms) | idle held | slow held "
      "| threads held | RSS before -> held (MiB) |")
print("| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |")
rows = {}
for n in names:
    a = json.load(open("%s/%s-alone.json" % (tmp, n)))
    b = json.load(open("%s/%s-abuse.json" % (tmp, n)))
    rows[n] = {"alone": a, "abuse": b}
    ms = lambda v: "-" if v is None else "%.1f" % v
    print("| %s | %d of %d | %.0f | %.0f | %s | %s | %d of %d | %d of %d | %d | %.0f -> %.0f |" % (
        n, b["streams_ok"], streams, a["tokens_per_s"], b["tokens_per_s"], ms(b["health_ms_median"]), ms(b["health_ms_max"]), b["idle_open"], idle,
        b["slow_open"], slow, b["held"]["Threads"], b["before"]["VmRSS"] / 1024, b["held"]["VmRSS"] / 1024))
print(json.dumps({"bench": "capacity", "idle": idle, "slow": slow, "servers": rows}))
EOF
