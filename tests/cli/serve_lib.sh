# Helpers for the `llamac serve` tests (sourced after lib.sh): start a server on a free loopback port, talk HTTP
# to it with curl, read JSON with jq.

# start_server NAME ARGS... : starts `llamac serve --port 0 ARGS` in the background; sets ${NAME}_URL and
# ${NAME}_PID, or fails the test and exits when it does not come up within 20 s.
start_server() {
  local name=$1
  shift
  "$LLAMAC" serve --port 0 "$@" > "$TMP/$name.out" 2> "$TMP/$name.log" &
  local pid=$!
  local url=""
  for _ in $(seq 1 200); do
    url=$(sed -n 's/^llamac serve: listening on \(http:[^ ]*\)$/\1/p' "$TMP/$name.log")
    [ -n "$url" ] && break
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if [ -z "$url" ]; then
    fail "server $name did not start: $(cat "$TMP/$name.log")"
    kill "$pid" 2> /dev/null
    finish
    exit 1
  fi
  eval "${name}_URL=$url"
  eval "${name}_PID=$pid"
}

# stop_server PID : SIGTERM, then wait; sets $stop_rc.
stop_server() {
  stop_rc=0
  kill -TERM "$1" 2> /dev/null
  wait "$1" || stop_rc=$?
}

# req METHOD URL [JSON] [curl args...] : the body goes to $TMP/body, the status into $code.
req() {
  local method=$1 url=$2
  shift 2
  local data=()
  if [ $# -gt 0 ]; then
    data=(--data-binary "$1")
    shift
  fi
  code=$(curl -s -o "$TMP/body" -w '%{http_code}' -X "$method" -H 'Content-Type: application/json' \
    ${AUTH:+-H "Authorization: Bearer $AUTH"} "${data[@]}" "$@" "$url")
}

# jqr FILTER [FILE] : jq -r FILTER over the JSON in FILE (default $TMP/body).
jqr() {
  jq -r "$1" "${2:-$TMP/body}"
}

# sse_json FILE : the data events of an SSE stream (without [DONE]) as one JSON array, into $TMP/events; sets
# $sse_bad to the number of non-empty lines that are not "data: " events.
sse_json() {
  sed -n 's/^data: //p' "$1" | grep -v '^\[DONE\]$' | jq -s . > "$TMP/events"
  sse_bad=$(grep -v '^data: ' "$1" | grep -c -v '^$')
}
