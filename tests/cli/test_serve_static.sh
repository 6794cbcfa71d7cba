# The files `llamac serve` answers outside the API, over real HTTP with curl: the embedded chat page (every file it
# loads, byte-identical to its source or to the npm package it comes from; gzip when asked for; ETag and 304;
# Content-Security-Policy; no API key needed for the page), --no-webui, and --path DIR (its files; '..', hidden
# names and symbolic links out of the folder refused; a missing or non-folder DIR is a clear startup error).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
WEBUI="$LLAMAC_SOURCE_DIR/server/webui"
NPM_DIR="$(dirname "$LLAMAC_BIN")/../server/webui/npm/node_modules"

# head_of NAME : a response header's value (from $TMP/headers), without the CR
head_of() {
  sed -n "s/^$1: //Ip" "$TMP/headers" | tr -d '\r' | head -n 1
}
# get PATH [curl args...] : GET into $TMP/body with headers in $TMP/headers; status in $code
get() {
  local p=$1
  shift
  : > "$TMP/body"
  code=$(curl -s -D "$TMP/headers" -o "$TMP/body" -w '%{http_code}' "$@" "$URL$p")
}

start_server S -m "$M" -np 1 -t 1 --api-key static-key
URL=$S_URL
expect_contains "log: where to open the page" "$(cat "$TMP/S.log")" "llamac serve: open $URL/ in a browser to chat"

# The embedded page's checks (a build with -DLLAMAC_WEBUI=OFF has no page: / says so, and they are left out).
page_checks() {
  # --- the page, without a key (the API itself still needs one)
  get /
  expect_eq "GET / status" "$code" 200
  expect_eq "GET / type" "$(head_of Content-Type)" "text/html; charset=utf-8"
  cmp -s "$TMP/body" "$WEBUI/index.html"
  expect_eq "GET / is index.html" "$?" 0
  csp=$(head_of Content-Security-Policy)
  expect_contains "CSP: nothing by default" "$csp" "default-src 'none'"
  expect_contains "CSP: own scripts only" "$csp" "script-src 'self';"
  expect_contains "CSP: own connections only" "$csp" "connect-src 'self';"
  expect_contains "CSP: Trusted Types" "$csp" "require-trusted-types-for 'script'"
  expect_contains "CSP: no framing" "$csp" "frame-ancestors 'none'"
  case "$csp" in *unsafe-inline* | *unsafe-eval* | *http:* | *https:*) fail "CSP allows too much: $csp" ;; *) pass ;; esac
  expect_eq "nosniff" "$(head_of X-Content-Type-Options)" "nosniff"
  expect_eq "revalidate each time" "$(head_of Cache-Control)" "no-cache"
  expect_eq "Vary" "$(head_of Vary)" "Accept-Encoding"
  etag=$(head_of ETag)
  case "$etag" in \"*\") pass ;; *) fail "ETag not a quoted strong tag: [$etag]" ;; esac
  expect_eq "no inline script in the page" "$(grep -c '<script>\|<script type="module">' "$TMP/body")" 0
  expect_eq "nothing from another origin" "$(grep -Ec '(src|href)="(https?:)?//' "$TMP/body")" 0
  get /index.html
  expect_eq "GET /index.html" "$code:$(head_of ETag)" "200:$etag"
  get /v1/models
  expect_eq "the API still needs the key" "$code" 401

  # --- every file the page loads: the page's own as written, the libraries as their npm packages ship them
  files=$(sed -n 's/.*\(src\|href\)="\([^":]*\)".*/\2/p' "$WEBUI/index.html")
  files="$files $(cd "$WEBUI" && sed -n 's/.*from "\.\/\([^"]*\)".*/js\/\1/p; s/.*from "\.\.\/\([^"]*\)".*/\1/p; s/.*import("\.\.\/\([^"]*\)").*/\1/p' js/*.js)"
  n=0
  for f in $files; do
    get "/$f"
    n=$((n + 1))
    case "$f" in
      vendor/*) src="$NPM_DIR/$(sed -n "s|^    \"$f=\(.*\)\"\$|\1|p; s|^    \"$f=\(.*\)\")\$|\1|p" "$WEBUI/CMakeLists.txt")" ;;
      *) src="$WEBUI/$f" ;;
    esac
    if [ "$code" != 200 ] || ! cmp -s "$TMP/body" "$src"; then
      fail "/$f: status $code, or not the bytes of $src"
    else
      pass
    fi
    case "$f" in
      *.js | *.mjs) expect_eq "/$f type" "$(head_of Content-Type)" "text/javascript; charset=utf-8" ;;
      *.css) expect_eq "/$f type" "$(head_of Content-Type)" "text/css; charset=utf-8" ;;
      *.svg) expect_eq "/$f type" "$(head_of Content-Type)" "image/svg+xml" ;;
    esac
  done
  [ "$n" -ge 11 ] && pass || fail "only $n files found to check: $files"
  get /vendor/licenses/dompurify.txt
  expect_eq "the libraries' licences are served" "$code:$(head_of Content-Type)" "200:text/plain; charset=utf-8"

  # --- gzip when the client takes it, the same bytes once decompressed; its own ETag
  get /vendor/temml.mjs -H 'Accept-Encoding: gzip, deflate'
  expect_eq "gzip: encoding" "$(head_of Content-Encoding)" "gzip"
  gz_etag=$(head_of ETag)
  gz_len=$(wc -c < "$TMP/body")
  gzip -dc < "$TMP/body" > "$TMP/unzipped"
  get /vendor/temml.mjs
  expect_eq "identity without Accept-Encoding" "$(head_of Content-Encoding)" ""
  cmp -s "$TMP/body" "$TMP/unzipped"
  expect_eq "gzip decompresses to the file" "$?" 0
  [ "$gz_len" -lt $(($(wc -c < "$TMP/body") / 3)) ] && pass || fail "gzip body $gz_len bytes is not small"
  [ "$gz_etag" != "$(head_of ETag)" ] && pass || fail "gzip and identity share an ETag"
  get /vendor/temml.mjs -H 'Accept-Encoding: gzip;q=0, deflate'
  expect_eq "gzip;q=0 refuses gzip" "$(head_of Content-Encoding)" ""
  get /vendor/temml.mjs -H 'Accept-Encoding: br;q=1.0, *;q=0.5'
  expect_eq "* takes gzip" "$(head_of Content-Encoding)" "gzip"
  get /vendor/temml.mjs -H 'Accept-Encoding: X-GZIP'
  expect_eq "x-gzip" "$(head_of Content-Encoding)" "gzip"

  # --- revalidation
  get / -H "If-None-Match: $etag"
  expect_eq "304 for the same ETag" "$code:$(wc -c < "$TMP/body")" "304:0"
  expect_eq "304 keeps the ETag" "$(head_of ETag)" "$etag"
  get / -H "If-None-Match: \"other\", W/$etag"
  expect_eq "304 for a weak tag in a list" "$code" 304
  get / -H 'If-None-Match: *'
  expect_eq "304 for *" "$code" 304
  get / -H 'If-None-Match: "other"'
  expect_eq "200 for another ETag" "$code" 200
  get /vendor/temml.mjs -H "If-None-Match: $gz_etag"
  expect_eq "gzip ETag not valid for identity" "$code" 200
  code=$(curl -s -I -o "$TMP/headers" -w '%{http_code}' "$URL/")
  expect_eq "HEAD /" "$code:$(head_of Content-Length)" "200:$(wc -c < "$WEBUI/index.html" | tr -d ' ')"

  # --- what is not a file of the page
  get /nope.js
  expect_eq "unknown file: 404" "$code:$(jqr .error.code)" "404:not_found"
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X POST "$URL/")
  expect_eq "POST /: 404" "$code" 404
  get /js/../index.html --path-as-is
  expect_eq "embedded files have no '..'" "$code" 404
}
have_page=0
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$URL/")" = 200 ]; then
  have_page=1
  page_checks
else
  req GET "$URL/"
  expect_contains "no page in this build: / says why" "$(jqr .error.message)" "LLAMAC_WEBUI=OFF"
  echo "page checks skipped: this llamac was built without the chat page" >&2
fi
stop_server "$S_PID"
expect_eq "stops" "$stop_rc" 0

# --- --no-webui
start_server N -m "$M" -np 1 -t 1 --no-webui
URL=$N_URL
get /
expect_eq "--no-webui: / is 404" "$code" 404
expect_contains "--no-webui: says why" "$(jqr .error.message)" "--no-webui"
get /js/app.js
expect_eq "--no-webui: no assets" "$code" 404
get /health
expect_eq "--no-webui: API works" "$code" 200
case "$(cat "$TMP/N.log")" in *"in a browser"*) fail "--no-webui still prints the page URL" ;; *) pass ;; esac
stop_server "$N_PID"

# --- --path DIR
D="$TMP/site"
rm -rf "$D" "$TMP/outside"
mkdir -p "$D/sub" "$D/.git" "$D/deep/er" "$TMP/outside"
printf '<h1>mine</h1>\n' > "$D/index.html"
printf 'plain\n' > "$D/sub/page.txt"
printf '<p>sub</p>\n' > "$D/sub/index.html"
printf 'LEAKED-ENV\n' > "$D/.env"
printf 'LEAKED-GIT\n' > "$D/.git/config"
printf 'LEAKED-OUTSIDE\n' > "$TMP/outside/secret.txt"
printf 'p{}\n' > "$D/deep/er/a.css"
ln -s "$TMP/outside/secret.txt" "$D/leak.txt"
ln -s "$TMP/outside" "$D/leakdir"
ln -s sub/page.txt "$D/alias.txt"
start_server P -m "$M" -np 1 -t 1 --path "$D"
URL=$P_URL
expect_contains "--path: log" "$(cat "$TMP/P.log")" "in a browser to see --path's files"
get /
expect_eq "--path: / is DIR/index.html" "$code:$(cat "$TMP/body")" "200:<h1>mine</h1>"
expect_eq "--path: html type" "$(head_of Content-Type)" "text/html; charset=utf-8"
expect_eq "--path: no page CSP on the user's files" "$(head_of Content-Security-Policy)" ""
get /sub/page.txt
expect_eq "--path: a file" "$code:$(cat "$TMP/body"):$(head_of Content-Type)" "200:plain:text/plain; charset=utf-8"
get /sub/
expect_eq "--path: a folder's index.html" "$code:$(cat "$TMP/body")" "200:<p>sub</p>"
get /sub
expect_eq "--path: a folder without /" "$code:$(cat "$TMP/body")" "200:<p>sub</p>"
get /deep/er/a.css
expect_eq "--path: nested" "$code:$(head_of Content-Type)" "200:text/css; charset=utf-8"
get /alias.txt
expect_eq "--path: a link inside DIR" "$code:$(cat "$TMP/body")" "200:plain"
get /deep/
expect_eq "--path: a folder without index.html" "$code" 404
for p in /.env /.git/config /sub/.hidden /leak.txt /leakdir/secret.txt /missing.html; do
  get "$p"
  expect_eq "--path: $p refused" "$code" 404
  case "$(cat "$TMP/body")" in *LEAKED*) fail "--path: $p leaked" ;; *) pass ;; esac
done
for p in '/../outside/secret.txt' '/sub/../../outside/secret.txt' '/%2e%2e/outside/secret.txt' '/sub/..%2f..%2foutside%2fsecret.txt' '/./index.html'; do
  get "$p" --path-as-is
  expect_eq "--path: $p is a bad path" "$code:$(jqr .error.code)" "400:invalid_path"
  case "$(cat "$TMP/body")" in *LEAKED*) fail "--path: $p leaked" ;; *) pass ;; esac
done
get "/$(printf 'abcdefgh/%.0s' $(seq 1 520))x.txt"
expect_eq "--path: a path too long" "$code:$(jqr .error.code)" "414:uri_too_long"
get /sub/page.txt
pe=$(head_of ETag)
get /sub/page.txt -H "If-None-Match: $pe"
expect_eq "--path: 304" "$code" 304
sleep 0.01
printf 'changed\n' > "$D/sub/page.txt"
get /sub/page.txt -H "If-None-Match: $pe"
expect_eq "--path: a changed file is sent again" "$code:$(cat "$TMP/body")" "200:changed"
get /health
expect_eq "--path: API works" "$code" 200
stop_server "$P_PID"

# --- make run's script: the URL it prints gives the chat page
# (the log emptied first: the background job's redirection may happen after the loop's first read, which would
# find an earlier run's URL in a work folder used again)
: > "$TMP/run.log"
LLAMAC_BUILD=$(cd "$(dirname "$LLAMAC")/.." && pwd) PORT=0 SERVE_ARGS="-np 1 -t 1" \
  "$LLAMAC_SOURCE_DIR/scripts/run-default.sh" > "$TMP/run.out" 2> "$TMP/run.log" &
run_pid=$!
page=""
# up to 90 s: under load the script's start takes long (it failed once at 20 s on the 2-core machine at load 16)
for _ in $(seq 1 900); do
  page=$(sed -n 's/^llamac serve: open \(http:[^ ]*\) in a browser to chat$/\1/p' "$TMP/run.log")
  [ -n "$page" ] && break
  kill -0 "$run_pid" 2> /dev/null || break
  sleep 0.1
done
code=$(curl -s -o "$TMP/body" -w '%{http_code}' "$page")
if [ "$have_page" = 0 ] || { [ "$code" = 200 ] && cmp -s "$TMP/body" "$WEBUI/index.html"; }; then
  pass
else
  fail "make run: [$page] gave $code: $(cat "$TMP/run.log")"
fi
stop_server "$run_pid"

# --- a --path that is no folder: a clear error at startup
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --path "$TMP/no-such-dir"
expect_eq "--path missing: exit 1" "$rc" 1
expect_contains "--path missing: message" "$(cat "$TMP/e")" "--path $TMP/no-such-dir: No such file or directory"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --path "$D/index.html"
expect_eq "--path file: exit 1" "$rc" 1
expect_contains "--path file: message" "$(cat "$TMP/e")" "not a directory"
run_llamac "$TMP/o" "$TMP/e" serve -m "$M" --port 0 --path
expect_eq "--path without a value: usage error" "$rc" 2
finish
