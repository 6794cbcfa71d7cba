# `llamac serve --ui-mcp-proxy`: llama-server's /cors-proxy?url=URL, against a web server on loopback (Python's
# http.server, below) that records what reaches it. Only the headers named x-llama-server-proxy-header-NAME go on,
# as NAME (never the client's own Authorization, X-Api-Key or Cookie); the target's status, headers and body come
# back, a 204 without a body, an event stream as its events come; and every way it can go wrong is a JSON error
# that says what happened, soon: no or a bad url (400), nothing listening (502), too many redirects (502), a target
# that does not answer within --timeout (504), one that stalls mid-body or sends more than 64 MiB (the reply is cut
# off). Without the flag /cors-proxy answers 403; with --api-key it needs the key; a slow target holds up nothing else.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v jq > /dev/null || { echo "jq is needed" >&2; exit 77; }
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy='*' NO_PROXY='*'
M="$MODELS/stories260K.gguf"

# The target: /capture writes the request's headers (JSON) to $TMP/captured.json; /echo answers a POST with its
# body, method and Content-Type; /nocontent 204; /gone 404; /slow answers after 10 s; /big says it has 64 MiB + 1
# bytes; /bigstream streams 65 MiB without a length; /sse two events 2 s apart; /stall one event, then nothing for
# 10 s; /redir/N N redirects before /capture. It writes its port to $TMP/web.port.
cat > "$TMP/web.py" << 'EOF'
import http.server, json, sys, time
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def chunk(self, data):
        self.wfile.write(b"%x\r\n%s\r\n" % (len(data), data))
        self.wfile.flush()
    def do_GET(self):
        p = self.path
        if p.startswith("/capture"):
            with open(sys.argv[2], "w") as f:
                json.dump({k.lower(): v for k, v in self.headers.items()}, f)
            self.send(200, b"ok", [("Content-Type", "text/plain"), ("Mcp-Session-Id", "s-42"),
                                   ("Access-Control-Allow-Origin", "*"), ("Set-Cookie", "t=1")])
        elif p == "/gone": self.send(404, b"not here", [("Content-Type", "text/plain")])
        elif p.startswith("/slow"):
            time.sleep(10)
            self.send(200, b"late")
        elif p == "/big":
            self.send_response(200); self.send_header("Content-Length", str((64 << 20) + 1)); self.end_headers()
            self.wfile.write(b"\0" * 65536)
        elif p in ("/bigstream", "/sse", "/stall"):
            self.send_response(200)
            self.send_header("Transfer-Encoding", "chunked")
            self.send_header("Content-Type", "text/event-stream" if p != "/bigstream" else "application/octet-stream")
            self.end_headers()
            if p == "/bigstream":
                for _ in range(65 * 16): self.chunk(b"\0" * 65536)
            else:
                self.chunk(b"data: one\n\n")
                time.sleep(2 if p == "/sse" else 10)
                self.chunk(b"data: two\n\n")
            self.wfile.write(b"0\r\n\r\n")
        elif p.startswith("/redir/"):
            n = int(p[7:])
            self.send(302, b"", [("Location", "/redir/%d" % (n - 1) if n > 1 else "/capture")])
        else: self.send(404, b"no such page")
    def do_POST(self):
        body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
        if self.path == "/nocontent":
            self.send_response(204); self.end_headers()
        else:
            self.send(200, body, [("Content-Type", "application/json"), ("X-Method", self.command),
                                  ("X-Content-Type", self.headers.get("Content-Type", "none"))])
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[1], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
rm -f "$TMP/web.port" "$TMP/captured.json"
python3 "$TMP/web.py" "$TMP/web.port" "$TMP/captured.json" 2> "$TMP/web.err" &
web_pid=$!
trap 'kill $web_pid 2> /dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMP/web.port" ] && break; sleep 0.1; done
[ -s "$TMP/web.port" ] || { echo "the web server did not start: $(cat "$TMP/web.err")" >&2; exit 1; }
WEB="http://127.0.0.1:$(cat "$TMP/web.port")"

# Without the flag: 403 for GET and POST, and nothing is fetched.
start_server P -m "$M" -np 1 -c 256
for method in GET POST; do
  req "$method" "$P_URL/cors-proxy?url=$WEB/capture"
  expect_eq "without --ui-mcp-proxy: $method" "$code:$(jqr .error.code)" "403:feature_disabled"
done
expect_eq "without --ui-mcp-proxy: nothing fetched" "$(test -e "$TMP/captured.json" && echo fetched)" ""
stop_server "$P_PID"

start_server P -m "$M" -np 1 -c 256 --ui-mcp-proxy --timeout 3 -lv 3
expect_contains "the warning" "$(cat "$TMP/P.log")" "--ui-mcp-proxy: /cors-proxy fetches any URL this server can reach"
# Headers: the named ones go on, the client's own do not; the target's come back, less its CORS.
code=$(curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' \
  -H 'Authorization: Bearer mine' -H 'Proxy-Authorization: Basic secret' -H 'X-Api-Key: mine' \
  -H 'Cookie: session=secret' -H 'x-llama-server-proxy-header-accept: application/json' \
  -H 'X-Llama-Server-Proxy-Header-Authorization: Bearer explicit' -H 'x-llama-server-proxy-header-x-empty;' \
  -H 'x-llama-server-proxy-header-host: evil.example' "$P_URL/cors-proxy?url=$WEB/capture?a=1%26b=2")
expect_eq "GET: status and body" "$code:$(cat "$TMP/body")" "200:ok"
c=$TMP/captured.json
expect_eq "named headers forwarded" "$(jq -c '[.accept, .authorization, ."x-empty"]' "$c")" \
  '["application/json","Bearer explicit",""]'
expect_eq "the client's own headers not forwarded" \
  "$(jq -c '[has("proxy-authorization"), has("x-api-key"), has("cookie")] | any' "$c")" false
expect_eq "no prefixed header reaches the target" "$(jq -c 'keys | map(select(startswith("x-llama"))) | length' "$c")" 0
expect_eq "Host is the target's" "$(jq -r .host "$c")" "127.0.0.1:$(cat "$TMP/web.port")"
expect_contains "the target's headers back" "$(tr -d '\r' < "$TMP/h")" "Mcp-Session-Id: s-42"
expect_contains "the target's content type back" "$(tr -d '\r' < "$TMP/h")" "Content-Type: text/plain"
expect_eq "the target's CORS and cookie left out" "$(grep -ci '^access-control\|^set-cookie' "$TMP/h")" 0
# The query string of the target URL is the target's.
req GET "$P_URL/cors-proxy?url=$WEB/capture%3Fx%3D1"
expect_eq "GET with the target's query" "$code" 200
# POST: body, method and the named Content-Type pass; none is sent when none is named.
req POST "$P_URL/cors-proxy?url=$WEB/echo" '{"jsonrpc":"2.0","id":1}' -D "$TMP/h" \
  -H 'x-llama-server-proxy-header-content-type: application/json'
expect_eq "POST: body back" "$code:$(jq -c . "$TMP/body")" '200:{"jsonrpc":"2.0","id":1}'
expect_contains "POST: method and type" "$(tr -d '\r' < "$TMP/h")" "X-Method: POST"
expect_contains "POST: named Content-Type" "$(tr -d '\r' < "$TMP/h")" "X-Content-Type: application/json"
req POST "$P_URL/cors-proxy?url=$WEB/echo" 'plain'
expect_eq "POST without a named type" "$code:$(cat "$TMP/body")" "200:plain"
code=$(curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' --data-binary x "$P_URL/cors-proxy?url=$WEB/echo")
expect_contains "POST: no Content-Type of curl's own" "$(tr -d '\r' < "$TMP/h")" "X-Content-Type: none"
# 204 without a body; the target's 404 is the answer.
code=$(curl -s -D "$TMP/h" -o "$TMP/body" -w '%{http_code}' -X POST "$P_URL/cors-proxy?url=$WEB/nocontent")
expect_eq "204" "$code:$(wc -c < "$TMP/body")" "204:0"
req GET "$P_URL/cors-proxy?url=$WEB/gone"
expect_eq "the target's 404" "$code:$(cat "$TMP/body")" "404:not here"
# Redirects: five followed, a sixth refused.
rm -f "$c"
req GET "$P_URL/cors-proxy?url=$WEB/redir/5"
expect_eq "five redirects" "$code:$(cat "$TMP/body")" "200:ok"
req GET "$P_URL/cors-proxy?url=$WEB/redir/6"
expect_eq "six redirects" "$code:$(jqr .error.message)" "502:$WEB/redir/6: more than 5 redirects"
# Bad URLs: 400 naming url.
req GET "$P_URL/cors-proxy"
expect_eq "no url" "$code:$(jqr .error.param)" "400:url"
expect_contains "no url: message" "$(jqr .error.message)" "/cors-proxy needs the target as ?url="
req GET "$P_URL/cors-proxy?url=ftp://127.0.0.1/x"
expect_eq "ftp" "$code:$(jqr .error.message)" "400:ftp://127.0.0.1/x: only http and https URLs are fetched (ftp)"
req GET "$P_URL/cors-proxy?url=not%20a%20url"
expect_eq "not a URL" "$code" 400
req GET "$P_URL/cors-proxy?url=http://u:p@127.0.0.1:1/"
expect_contains "user:password" "$code:$(jqr .error.message)" "400:a user name or password in the target URL is not"
# At most 64 named headers.
hdrs=()
for i in $(seq 64); do hdrs+=(-H "x-llama-server-proxy-header-x-h$i: $i"); done
rm -f "$c"
req GET "$P_URL/cors-proxy?url=$WEB/capture" "" "${hdrs[@]}"
expect_eq "64 named headers" "$code:$(jq -r '."x-h64"' "$c")" "200:64"
req GET "$P_URL/cors-proxy?url=$WEB/capture" "" "${hdrs[@]}" -H "x-llama-server-proxy-header-x-h65: 65"
expect_eq "65 named headers" "$code:$(jqr .error.message)" "400:more than 64 x-llama-server-proxy-header-* headers"
req GET "$P_URL/cors-proxy?url=$WEB/capture" "" -H "x-llama-server-proxy-header-a(b): 1"
expect_eq "a named header that is not a header name" "$code:$(jqr .error.message)" \
  "400:'a(b)' (of x-llama-server-proxy-header-a(b)) is not a header name"
# Nothing listening: 502, at once.
req GET "$P_URL/cors-proxy?url=http://127.0.0.1:1/x"
expect_eq "nothing listening" "$code:$(jqr .error.code)" "502:proxy_error"
expect_contains "nothing listening: message" "$(jqr .error.message)" "cannot reach http://127.0.0.1:1/x"
# A target that does not answer: 504 after --timeout (3 s); meanwhile the server answers others.
t0=$(date +%s%N)
curl -s -o "$TMP/slow.body" -w '%{http_code}' "$P_URL/cors-proxy?url=$WEB/slow" > "$TMP/slow.code" &
slow_pid=$!
sleep 0.5
t1=$(date +%s%N)
req POST "$P_URL/v1/completions" '{"prompt": "Once upon a time", "max_tokens": 4}'
ms=$((($(date +%s%N) - t1) / 1000000))
expect_eq "a completion while the proxy waits" "$code" 200
[ "$ms" -lt 2000 ] && pass || fail "the completion took $ms ms while the proxy waited"
wait "$slow_pid"
ms=$((($(date +%s%N) - t0) / 1000000))
expect_eq "no answer within --timeout" "$(cat "$TMP/slow.code"):$(jqr .error.message "$TMP/slow.body")" \
  "504:$WEB/slow: no answer within 3000 ms"
[ "$ms" -ge 2900 ] && [ "$ms" -lt 6000 ] && pass || fail "the slow target's 504 came after $ms ms, not about 3 s"
# A client that gives up on the slow target: the proxy stops waiting for it (its access line: 503 after about 1 s,
# not 3).
grep -c "done request: GET /cors-proxy.* 503 " "$TMP/P.log" > "$TMP/n503" # none before
curl -s -o /dev/null --max-time 1 "$P_URL/cors-proxy?url=$WEB/slow"
for _ in $(seq 40); do grep -q "done request: GET /cors-proxy.* 503 " "$TMP/P.log" && break; sleep 0.1; done
line=$(grep "done request: GET /cors-proxy.* 503 " "$TMP/P.log")
ms=$(sed -n 's/.* time_ms=\([0-9]*\).*/\1/p' <<< "$line")
expect_eq "a client gone: one 503 line" "$(cat "$TMP/n503"):$(grep -c . <<< "$line")" "0:1"
[ -n "$ms" ] && [ "$ms" -lt 2500 ] && pass || fail "a client gone: the proxy waited on: $line"
# Too large by its Content-Length: 502 before any byte; without one, cut off at 64 MiB.
req GET "$P_URL/cors-proxy?url=$WEB/big"
expect_eq "too large (Content-Length)" "$code:$(jqr .error.message)" \
  "502:$WEB/big: the answer is larger than 67108864 bytes"
rc=0
code=$(curl -s -o "$TMP/big.body" -w '%{http_code}' "$P_URL/cors-proxy?url=$WEB/bigstream") || rc=$?
size=$(wc -c < "$TMP/big.body")
expect_eq "too large (streamed): 200, then cut off" "$code:$([ "$rc" -ne 0 ] && echo cut)" "200:cut"
[ "$size" -le $((64 << 20)) ] && pass || fail "the streamed answer passed the cap: $size bytes"
expect_contains "too large (streamed): logged" "$(cat "$TMP/P.log")" \
  "/cors-proxy: the answer was cut off: $WEB/bigstream: the answer is larger than 67108864 bytes"
# An event stream comes as it is sent: the first event before the second is written.
curl -sN "$P_URL/cors-proxy?url=$WEB/sse" > "$TMP/sse" &
sse_pid=$!
for _ in $(seq 30); do grep -q one "$TMP/sse" && break; sleep 0.05; done
expect_eq "the first event, before the second is sent" "$(cat "$TMP/sse")" "data: one"
wait "$sse_pid"
expect_eq "both events" "$(grep -c '^data: ' "$TMP/sse")" 2
# A stream that stalls longer than --timeout is cut off after its first event.
rc=0
curl -sN "$P_URL/cors-proxy?url=$WEB/stall" > "$TMP/stall" || rc=$?
expect_eq "a stalled stream: cut off" "$(cat "$TMP/stall"):$([ "$rc" -ne 0 ] && echo cut)" "data: one:cut"
expect_contains "a stalled stream: logged" "$(cat "$TMP/P.log")" "$WEB/stall: no bytes of the answer for 3000 ms"
# The server is still well after all of it.
req GET "$P_URL/cors-proxy?url=$WEB/capture"
expect_eq "after the failures" "$code:$(cat "$TMP/body")" "200:ok"
stop_server "$P_PID"
expect_eq "server exit" "$stop_rc" 0

# With --api-key: the key is needed, and it is not forwarded (neither as Authorization nor as X-Api-Key).
start_server K -m "$M" -np 1 -c 256 --ui-mcp-proxy --api-key sekrit
req GET "$K_URL/cors-proxy?url=$WEB/capture"
expect_eq "--api-key: without the key" "$code" 401
rm -f "$c"
AUTH=sekrit req GET "$K_URL/cors-proxy?url=$WEB/capture"
expect_eq "--api-key: with the key" "$code:$(cat "$TMP/body")" "200:ok"
expect_eq "--api-key: the key not forwarded" "$(jq -c '[has("authorization"), has("x-api-key")]' "$c")" \
  '[false,false]'
code=$(curl -s -o "$TMP/body" -w '%{http_code}' -H 'X-Api-Key: sekrit' "$K_URL/cors-proxy?url=$WEB/capture")
expect_eq "--api-key: X-Api-Key" "$code:$(jq -c 'has("x-api-key")' "$c")" "200:false"
stop_server "$K_PID"

# --no-ui-mcp-proxy after it turns it off again.
start_server N -m "$M" -np 1 -c 256 --ui-mcp-proxy --no-ui-mcp-proxy
req GET "$N_URL/cors-proxy?url=$WEB/capture"
expect_eq "--no-ui-mcp-proxy" "$code" 403
stop_server "$N_PID"
finish
