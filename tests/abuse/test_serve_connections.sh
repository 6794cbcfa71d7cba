# `llamac serve`'s connections (issue 30, defect 1, in part): one client address that opens --max-connections idle
# connections takes at most its share (--max-connections-per-client, default half), so a client from another
# address — and /health — still gets through at once. (Used to: every connection taken, /health unanswered until
# --timeout.) And the deadline for a request's arrival (--request-timeout), which a client that trickles cannot push
# back: a slowloris client is closed at the deadline though it sends a byte every half second (used to: held until
# it stopped sending); a large body sent slowly but steadily still arrives; a kept-alive connection may idle past it;
# a URI of 2,000 query arguments, on which libmicrohttpd 0.9.75 stalls without a reply, is closed by the deadline.
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

start_server D -m "$M" -np 1 -t 1 --request-timeout 2
port=${D_URL##*:}
python3 - "$port" > "$TMP/deadline" << 'PY'
import socket, sys, threading, time
port = int(sys.argv[1])

def slowloris():
    # a request line, then a header byte every 0.5 s: the time until the server closes it
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ")
    t0 = time.monotonic()
    s.settimeout(0.5)
    while time.monotonic() - t0 < 10:
        try:
            if s.recv(1024) == b"":
                break
        except socket.timeout:
            try:
                s.sendall(b"a")
            except OSError:
                break
        except OSError:
            break
    return time.monotonic() - t0

def slow_body():
    # 320 KiB (mostly white space) at about 100 KiB/s: 3 s, past the 2 s deadline; its bytes add 5 s. The status
    body = b'{"content": "Once upon a time"' + b" " * (320 * 1024) + b"}"
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /tokenize HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nConnection: close\r\n"
              b"Content-Length: %d\r\n\r\n" % len(body))
    for i in range(0, len(body), 10 * 1024):
        s.sendall(body[i:i + 10 * 1024])
        time.sleep(0.1)
    data = b""
    s.settimeout(10)
    while True:
        got = s.recv(65536)
        if not got:
            break
        data += got
    return data.split(b" ", 2)[1].decode() if data else "none"

def kept_alive():
    # one request, 3 s idle (past the 2 s deadline), a second request on the same connection: its status
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    s.recv(4096)
    time.sleep(3)
    s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
    s.settimeout(5)
    data = s.recv(4096)
    return data.split(b" ", 2)[1].decode() if data else "closed"

def many_args():
    # a URI of 2,000 query arguments (4 KiB): libmicrohttpd 0.9.75 runs out of the connection's memory while parsing
    # them and loses its error reply; the connection stalls until other work wakes its thread or the deadline closes
    # it, whichever is first. The time until closed, and the reply's status
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"GET /health?" + b"&".join([b"a"] * 2000) + b" HTTP/1.1\r\nHost: x\r\n\r\n")
    t0 = time.monotonic()
    s.settimeout(10)
    data = b""
    try:
        while True:
            got = s.recv(65536)
            if not got:
                break
            data += got
    except OSError:
        pass
    return "%.1f:%s" % (time.monotonic() - t0, data.split(b" ", 2)[1].decode() if data else "none")

out = {}
threads = [threading.Thread(target=lambda f=f: out.__setitem__(f.__name__, f()))
           for f in (slowloris, slow_body, kept_alive, many_args)]
for t in threads:
    t.start()
for t in threads:
    t.join()
print("%.1f %s %s %s" % (out["slowloris"], out["slow_body"], out["kept_alive"], out["many_args"]))
PY
read -r closed_s body_status alive_status args_out < "$TMP/deadline"
echo "slowloris closed after $closed_s s (--request-timeout 2)" >&2
echo "2,000 query arguments: closed after ${args_out%%:*} s, reply: ${args_out#*:}" >&2
python3 -c 'import sys; sys.exit(0 if float(sys.argv[1]) <= 3.5 else 1)' "${args_out%%:*}" && pass ||
  fail "a URI of 2,000 query arguments held its connection for ${args_out%%:*} s (deadline 2 s)"
python3 -c 'import sys; t = float(sys.argv[1]); sys.exit(0 if 1.9 <= t <= 3.5 else 1)' "$closed_s" && pass ||
  fail "a client trickling a byte every 0.5 s was closed after $closed_s s (deadline 2 s)"
expect_eq "a slow but steady body arrives past the deadline" "$body_status" 200
expect_eq "a kept-alive connection idles past the deadline" "$alive_status" 200
stop_server "$D_PID"
expect_eq "server exit" "$stop_rc" 0
finish
