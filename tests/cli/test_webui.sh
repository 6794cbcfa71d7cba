# The chat page of `llamac serve` in a real browser: headless Chromium (Debian's chromium package) driven by
# puppeteer-core (tests/webui/, pinned by version and hash in its package-lock.json) against two servers on loopback,
# one without and one with --api-key. tests/webui/chat.test.mjs says what it checks; it also writes the light and
# dark screenshots, which LLAMAC_WEBUI_SCREENSHOTS=DIR copies into DIR (make screenshots: the README's images).
# Skipped (77) without chromium, node or the npm registry.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
M="$MODELS/stories260K-chatml.gguf"
CHROMIUM=${LLAMAC_CHROMIUM:-/usr/bin/chromium}
[ -x "$CHROMIUM" ] || { echo "SKIP: no chromium at $CHROMIUM (apt-get install chromium)" >&2; exit 77; }
command -v node > /dev/null && command -v npm > /dev/null || { echo "SKIP: node and npm are needed" >&2; exit 77; }

# ChatML with a thinking section whose generation prompt leaves the block to the model, so that the server reads a
# <think> the model writes as reasoning, as llama-server does only for templates that think
think_template "$TMP/think.jinja" --model-opens
start_server A -m "$M" -np 2 -t 1 --chat-template-file "$TMP/think.jinja"
if [ "$(curl -s -o /dev/null -w '%{http_code}' "$A_URL/")" != 200 ]; then
  echo "SKIP: this llamac was built without the chat page (LLAMAC_WEBUI=OFF)" >&2
  stop_server "$A_PID"
  exit 77
fi

# puppeteer-core as the lock file pins it, installed once per lock file beside the test directories
src="$LLAMAC_SOURCE_DIR/tests/webui"
lock_hash=$(sha256sum "$src/package-lock.json" | cut -c1-16)
deps=$(cd "$TMP/.." && pwd)/webui_node_$lock_hash
if [ ! -f "$deps/node_modules/puppeteer-core/package.json" ]; then
  rm -rf "$deps" && mkdir -p "$deps"
  cp "$src/package.json" "$src/package-lock.json" "$deps/"
  if ! (cd "$deps" && timeout 240 npm ci --ignore-scripts --no-audit --no-fund --loglevel=error > npm.log 2>&1); then
    echo "SKIP: npm ci of tests/webui failed (no registry?): $(tail -3 "$deps/npm.log")" >&2
    rm -rf "$deps"
    stop_server "$A_PID"
    exit 77
  fi
fi
cp "$src"/*.mjs "$deps/"

start_server K -m "$M" -np 1 -t 1 --api-key webui-test-key
# a server with a projector, where the page offers its image button
media_fixtures
start_server V -m "$M" --mmproj "$V" -np 1 -t 1 -c 1024

out="$TMP/out"
rm -rf "$out" && mkdir -p "$out"
rc=0
(cd "$deps" && timeout 280 node chat.test.mjs "$A_URL" "$K_URL" webui-test-key "$out" "$V_URL" \
  "$FX/gradient-32x32.png") || rc=$?
expect_eq "browser test exit status" "$rc" 0
expect_contains "the log says where to open the page" "$(cat "$TMP/A.log")" "llamac serve: open $A_URL/ in a browser to chat"

stop_server "$A_PID"
expect_eq "server A stops cleanly" "$stop_rc" 0
stop_server "$K_PID"
expect_eq "server K stops cleanly" "$stop_rc" 0
stop_server "$V_PID"
expect_eq "server V stops cleanly" "$stop_rc" 0

if [ -n "${LLAMAC_WEBUI_SCREENSHOTS:-}" ] && [ "$rc" -eq 0 ]; then
  mkdir -p "$LLAMAC_WEBUI_SCREENSHOTS"
  cp "$out/webui-light.png" "$out/webui-dark.png" "$LLAMAC_WEBUI_SCREENSHOTS/"
  echo "screenshots written to $LLAMAC_WEBUI_SCREENSHOTS" >&2
fi
finish
