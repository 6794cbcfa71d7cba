# `llamac serve`'s connections (issue 30, defect 1, in part): one client address that opens --max-connections idle
# connections takes at most its share (--max-connections-per-client, default half), so a client from another
# address — and /health — still gets through at once. (Used to: every connection taken, /health unanswered until
# --timeout.)
. "$(dirname "$0")/../cli/lib.sh"
. "$(dirname "$0")/../cli/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
command -v curl > /dev/null && command -v python3 > /dev/null || { echo "curl and python3 are needed" >&2; exit 77; }
start_server S -m "$M" -np 1 -t 1 --max-connections 8
port=${S_URL##*:}

# hold N connections from 127.0.0.1, idle, for 20 s (or until killed); prints how many the server kept open
python3 - "$port" 8 > "$TMP/held" << 'PY' &
import socket, sys, time
port, n = int(sys.argv[1]), int(sys.argv[2])
socks = []
for _ in range(n):
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    s.connect(("127.0.0.1", port))
    socks.append(s)
time.sleep(1)
kept = 0
for s in socks:
    s.setblocking(False)
    try:
        kept += s.recv(1) != b""  # b"": closed by the server
    except BlockingIOError:
        kept += 1  # still open, nothing to read
    except OSError:
        pass
print(kept, flush=True)
time.sleep(19)
PY
holder=$!
for _ in $(seq 50); do [ -s "$TMP/held" ] && break; sleep 0.1; done
expect_eq "connections kept from one address (half of 8)" "$(cat "$TMP/held")" 4
t0=$(date +%s%N)
code=$(curl -s -o "$TMP/body" -w '%{http_code}' --interface 127.0.0.2 --max-time 5 "$S_URL/health")
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "/health from another address while one holds its share" "$code" 200
[ "$ms" -lt 1000 ] && pass || fail "/health from another address took $ms ms"
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$S_URL/health")
expect_eq "the holding address gets no more" "$code" 000
kill "$holder" 2> /dev/null
wait "$holder" 2> /dev/null
for _ in $(seq 20); do
  code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 "$S_URL/health")
  [ "$code" = 200 ] && break
  sleep 0.1
done
expect_eq "its connections closed, the address is served again" "$code" 200
stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
