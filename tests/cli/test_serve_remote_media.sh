# `llamac serve --remote-media`: image_url parts with http(s) URLs, fetched from a web server on loopback (Python's
# http.server, below): the fetched image gives the text the same image as a data: URI gives, and every way a fetch
# can go wrong is a 400 that says what happened, soon: a server that answers too slowly (--remote-media-timeout), an
# answer over 10 MiB (with a Content-Length, and streamed without one), more than 5 redirects, a redirect to
# another scheme, HTTP errors, nothing listening. Without the flag an http(s) URL is refused.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v jq > /dev/null || { echo "jq is needed" >&2; exit 77; }
media_fixtures
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export no_proxy='*' NO_PROXY='*'

# The web server: /img.png the gradient image, /slow.png that image after 5 s, /big.png 11 MiB with a length,
# /stream.png 11 MiB without one, /redir/N N redirects before /img.png, /to-file a redirect to file://, /gone a 404,
# /empty a 200 with no body. It writes its port to $TMP/web.port.
cat > "$TMP/web.py" << 'EOF'
import http.server, sys, time
img = open(sys.argv[1], "rb").read()
class H(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    def log_message(self, *a): pass
    def send(self, code, body, headers=()):
        self.send_response(code)
        for k, v in headers: self.send_header(k, v)
        if body is not None: self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if body: self.wfile.write(body)
    def do_GET(self):
        p = self.path
        if p == "/img.png": self.send(200, img, [("Content-Type", "image/png")])
        elif p == "/slow.png":
            time.sleep(5)
            self.send(200, img)
        elif p == "/big.png": self.send(200, b"\0" * (11 << 20))
        elif p == "/stream.png":
            self.send_response(200); self.send_header("Transfer-Encoding", "chunked"); self.end_headers()
            for _ in range(11 * 16):
                self.wfile.write(b"10000\r\n" + b"\0" * 65536 + b"\r\n")
            self.wfile.write(b"0\r\n\r\n")
        elif p.startswith("/redir/"):
            n = int(p[7:])
            self.send(302, b"", [("Location", "/redir/%d" % (n - 1) if n > 1 else "/img.png")])
        elif p == "/to-file": self.send(302, b"", [("Location", "file:///etc/passwd")])
        elif p == "/empty": self.send(200, b"")
        else: self.send(404, b"not here")
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), H)
open(sys.argv[2], "w").write(str(s.server_address[1]))
s.serve_forever()
EOF
rm -f "$TMP/web.port"
python3 "$TMP/web.py" "$FX/gradient-32x32.png" "$TMP/web.port" 2> "$TMP/web.err" &
web_pid=$!
trap 'kill $web_pid 2> /dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMP/web.port" ] && break; sleep 0.1; done
[ -s "$TMP/web.port" ] || { echo "the web server did not start: $(cat "$TMP/web.err")" >&2; exit 1; }
WEB="http://127.0.0.1:$(cat "$TMP/web.port")"
expect_eq "the web server serves the image" "$(curl -s "$WEB/img.png" | sha256sum)" \
  "$(sha256sum < "$FX/gradient-32x32.png")"

same=(-fa off -t 2)
chat_body() {
  jq -nc --arg url "$1" '{messages: [{role: "user", content: [{type: "image_url", image_url: {url: $url}},
    {type: "text", text: "Describe it"}]}], temperature: 0, max_tokens: 24}'
}
err() { # err NAME BODY MESSAGE
  req POST "$V_URL/v1/chat/completions" "$2"
  expect_eq "$1: status" "$code" 400
  expect_contains "$1: message" "$(jqr .error.message)" "$3"
}

# Without --remote-media: refused, and nothing is fetched.
start_server V -m "$M" --mmproj "$V" -np 1 -c 1024 "${same[@]}"
err "without --remote-media" "$(chat_body "$WEB/img.png")" \
  "messages[0].content[0]: remote media URLs are not fetched by this server (start it with --remote-media)"
stop_server "$V_PID"

run_llamac "$TMP/o" "$TMP/e" serve --port 0 -m "$M" --remote-media-timeout 0
expect_eq "--remote-media-timeout 0" "$rc" 2

start_server V -m "$M" --mmproj "$V" -np 1 -c 1024 --remote-media --remote-media-timeout 1 "${same[@]}"
# The fetched image is the image: the same text as the data: URI, and the same image again is cached.
req POST "$V_URL/v1/chat/completions" "$(chat_body "data:image/png;base64,$(base64 -w0 "$FX/gradient-32x32.png")")"
expect_eq "data: URI" "$code" 200
want=$(jqr '.choices[0].message.content')
req POST "$V_URL/v1/chat/completions" "$(chat_body "$WEB/img.png")"
expect_eq "http image = data: image" "$code:$(jqr '.choices[0].message.content')" "200:$want"
expect_eq "http image: the cache knows it by its bytes" "$(jqr .usage.prompt_tokens_details.cached_tokens)" \
  "$(($(jqr .usage.prompt_tokens) - 1))"
req POST "$V_URL/v1/chat/completions" "$(chat_body "$WEB/redir/5")"
expect_eq "five redirects" "$code:$(jqr '.choices[0].message.content')" "200:$want"
# Ollama's and Anthropic's URL forms go the same way.
req POST "$V_URL/v1/messages" "$(jq -nc --arg u "$WEB/img.png" '{model: "m", max_tokens: 24, temperature: 0,
  messages: [{role: "user", content: [{type: "image", source: {type: "url", url: $u}},
  {type: "text", text: "Describe it"}]}]}')"
expect_eq "Anthropic url source" "$code:$(jqr '.content[0].text')" "200:$want"

# Failures: a 400 each, soon.
t0=$(date +%s%N)
err "slow server" "$(chat_body "$WEB/slow.png")" "Failed to download image: $WEB/slow.png: no whole answer within 1000 ms"
ms=$((($(date +%s%N) - t0) / 1000000))
[ "$ms" -lt 4000 ] && pass || fail "slow server: the request took $ms ms, not about 1 s"
err "too large (Content-Length)" "$(chat_body "$WEB/big.png")" \
  "Failed to download image: $WEB/big.png: the answer is larger than 10485760 bytes"
err "too large (streamed)" "$(chat_body "$WEB/stream.png")" \
  "Failed to download image: $WEB/stream.png: the answer is larger than 10485760 bytes"
err "six redirects" "$(chat_body "$WEB/redir/6")" "Failed to download image: $WEB/redir/6: more than 5 redirects"
err "redirect to file://" "$(chat_body "$WEB/to-file")" \
  "Failed to download image: $WEB/to-file redirects to file:///etc/passwd: only http and https URLs are fetched"
err "HTTP 404" "$(chat_body "$WEB/gone")" "Failed to download image: $WEB/gone answered HTTP 404"
err "empty answer" "$(chat_body "$WEB/empty")" "Failed to load image or audio file"
err "nothing listening" "$(chat_body "http://127.0.0.1:1/x.png")" \
  "Failed to download image: cannot fetch http://127.0.0.1:1/x.png"
err "another scheme" "$(chat_body "httpx://127.0.0.1/x.png")" \
  "Failed to download image: httpx://127.0.0.1/x.png: only http and https URLs are fetched (httpx)"
# The server is still well: a good request after all of them.
req POST "$V_URL/v1/chat/completions" "$(chat_body "$WEB/img.png")"
expect_eq "after the failures" "$code:$(jqr '.choices[0].message.content')" "200:$want"
stop_server "$V_PID"
expect_eq "server exit" "$stop_rc" 0
finish
