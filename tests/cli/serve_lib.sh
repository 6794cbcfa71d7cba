# Helpers for the `llamac serve` tests (sourced after lib.sh): start a server on a free loopback port, talk HTTP
# to it with curl, read JSON with jq.

# start_server NAME ARGS... : starts `llamac serve --port 0 ARGS` in the background; sets ${NAME}_URL and
# ${NAME}_PID, or fails the test and exits when it does not come up within 20 s.
start_server() {
  local name=$1
  shift
  "$LLAMAC" serve --port 0 "$@" > "$TMP/$name.out" 2> "$TMP/$name.log" &
  await_server "$name" $!
}

# await_server NAME PID : waits for a `llamac serve` started in the background with its stderr in $TMP/NAME.log to
# listen; sets ${NAME}_URL (the first address of a --host list) and ${NAME}_PID, or fails the test and exits when it
# does not within 20 s.
await_server() {
  local name=$1 pid=$2
  local url=""
  for _ in $(seq 1 200); do
    url=$(sed -n 's/^llamac serve: listening on \(https\{0,1\}:[^ ]*\)$/\1/p' "$TMP/$name.log" | head -n 1)
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

# free_port : a TCP port free on loopback now.
free_port() { python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'; }

# unit_exec UNIT INSTANCE [ROOT] : what systemd runs for the instance INSTANCE of the template unit UNIT: its
# ExecStart into the array $unit_argv and the NAME=value lines of its EnvironmentFile= files (under ROOT; one named
# with a leading '-' may be missing) into the array $unit_env. As systemd does: %i is the instance, ${NAME} one word,
# an unbraced $NAME split into words at white space. Fails the test when a required file is missing.
unit_exec() {
  local unit=$1 inst=$2 root=${3:-} file line word value
  unit_env=()
  unit_argv=()
  while IFS= read -r file; do
    local optional=0
    case "$file" in -*) optional=1 file=${file#-} ;; esac
    file="$root${file//%i/$inst}"
    if [ ! -f "$file" ]; then
      [ $optional = 1 ] || fail "$unit: EnvironmentFile $file is missing"
      continue
    fi
    while IFS= read -r line; do
      case "$line" in '#'* | '') continue ;; esac
      unit_env+=("$line")
    done < "$file"
  done < <(sed -n 's/^EnvironmentFile=//p' "$unit")
  local exec
  exec=$(sed -n 's/^ExecStart=//p' "$unit")
  set -f
  for word in ${exec//%i/$inst}; do
    case "$word" in
      '${'*'}')
        value=$(printf '%s\n' "${unit_env[@]}" | sed -n "s/^${word:2:-1}=//p" | tail -1)
        unit_argv+=("$value")
        ;;
      '$'*)
        value=$(printf '%s\n' "${unit_env[@]}" | sed -n "s/^${word:1}=//p" | tail -1)
        # shellcheck disable=SC2206 # systemd's word splitting
        unit_argv+=($value)
        ;;
      *) unit_argv+=("$word") ;;
    esac
  done
  set +f
}

# child_pid ROUTER_PID MODEL_NAME : the pid of the router's child serving MODEL_NAME (--alias NAME), or nothing.
child_pid() {
  local p
  for p in $(pgrep -P "$1"); do
    if tr '\0' '\n' < "/proc/$p/cmdline" 2> /dev/null | grep -qx -- "$2"; then
      echo "$p"
      return
    fi
  done
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
# stream_start URL BODY FILE : a streaming POST of the JSON BODY to URL, its events into FILE, in the background (its
# pid in $stream_pid); returns once the first data event has come (or after 10 s: the caller checks FILE)
stream_start() {
  curl -sN -H 'Content-Type: application/json' --data-binary "$2" "$1" > "$3" &
  stream_pid=$!
  for _ in $(seq 1 200); do
    grep -q '^data: {' "$3" 2> /dev/null && return 0
    sleep 0.05
  done
}

jqr() {
  jq -r "$1" "${2:-$TMP/body}"
}

# sse_json FILE : the data events of an SSE stream (without [DONE]) as one JSON array, into $TMP/events; sets
# $sse_bad to the number of non-empty lines that are not "data: " events.
sse_json() {
  sed -n 's/^data: //p' "$1" | grep -v '^\[DONE\]$' | jq -s . > "$TMP/events"
  sse_bad=$(grep -v '^data: ' "$1" | grep -c -v '^$')
}

# npm_clients : the official API clients of tests/npm (package.json, pinned exactly by package-lock.json with its
# integrity hashes) installed with `npm ci` once per lockfile into a cache beside the test directories; sets
# $CLIENTS to its node_modules. Skips the test (77) without node and npm, or when the registry cannot be reached.
npm_clients() {
  command -v node > /dev/null && command -v npm > /dev/null || { echo "node and npm are needed" >&2; exit 77; }
  local src="$LLAMAC_SOURCE_DIR/tests/npm"
  local key
  key=$(cat "$src/package.json" "$src/package-lock.json" | sha256sum | cut -c1-16)
  local cache
  cache=$(cd "$TMP/.." && pwd)/npm_clients/$key
  mkdir -p "$cache"
  exec 9> "$cache.lock"
  flock 9 # two tests installing at once share one install
  if [ ! -f "$cache/installed" ]; then
    cp "$src/package.json" "$src/package-lock.json" "$cache/"
    if ! (cd "$cache" && timeout 300 npm ci --no-audit --no-fund --silent > npm.log 2>&1); then
      echo "npm ci of tests/npm failed (no registry?): $(tail -3 "$cache/npm.log")" >&2
      exit 77
    fi
    touch "$cache/installed"
  fi
  exec 9>&-
  CLIENTS=$cache/node_modules
}

# serve_work NAME VOCAB ARGS... : the opening of the serve tests that need a model slower than stories260K: W is a
# fresh $TMP/NAME, and $W/slow.gguf a model `llamac synth ARGS` makes with VOCAB's vocabulary (exits the test, failed,
# when synth fails). Skips (77) unless curl and jq (and node, with SERVE_WORK_NODE=1) are installed.
serve_work() {
  local name=$1 vocab=$2 tools="curl jq" tool
  shift 2
  [ "${SERVE_WORK_NODE:-0}" = 1 ] && tools="node $tools"
  for tool in $tools; do
    command -v "$tool" > /dev/null || { echo "SKIP: ${tools// /, } are needed" >&2; exit 77; }
  done
  W="$TMP/$name"
  rm -rf "$W"
  mkdir -p "$W"
  "$LLAMAC" synth -q --vocab-from "$vocab" "$@" -o "$W/slow.gguf" || { echo "llamac synth failed" >&2; exit 1; }
}

# think_template FILE [--model-opens] : a ChatML template whose generation prompt opens <think>, so that everything a
# model then writes is reasoning (until it closes the block): reasoning output from a model that was never trained for
# it. It has a real thinking section (reasoning_content in history, an empty block when enable_thinking is false):
# llama-server reads <think> as reasoning only for templates whose thinking its chat layer finds, and so does llamac.
# With --model-opens the generation prompt leaves the block to the model (as Qwen3's: it is written only when thinking
# is off), so that a <think> the model writes is read as reasoning.
think_template() {
  local open='<think>
'
  [ "${2:-}" = --model-opens ] && open=""
  cat > "$1" << JINJA
{% for m in messages %}<|im_start|>{{ m.role }}
{% if m.reasoning_content %}<think>
{{ m.reasoning_content }}
</think>

{% endif %}{{ m.content }}<|im_end|>
{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant
{% if enable_thinking is defined and enable_thinking is false %}<think>

</think>

{% else %}$open{% endif %}{% endif %}
JINJA
}

# dialect_servers ARGS... : the three servers of the dialect SDK tests: S, stories260K-chatml with -np 2, --metrics,
# --slots and ARGS; Q, a synthesized Qwen3 (llama.cpp's Qwen2 vocabulary) with Qwen3's tool-capable, thinking
# template; R, stories260K-chatml with think_template. Skips (77) without llama.cpp's source tree.
dialect_servers() {
  local template="${LLAMAC_LLAMA_SOURCE:-}/models/templates/Qwen-Qwen3-0.6B.jinja"
  local vocab="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-qwen2.gguf"
  [ -f "$template" ] && [ -f "$vocab" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }
  "$LLAMAC" synth -q -o "$TMP/qwen3.gguf" --arch qwen3 --vocab-from "$vocab" --layers 1 --embd 32 --heads 2
  think_template "$TMP/think.jinja"
  start_server S -m "$MODELS/stories260K-chatml.gguf" -np 2 --metrics --slots -t 1 "$@"
  start_server Q -m "$TMP/qwen3.gguf" --chat-template-file "$template" -np 1 -t 1
  start_server R -m "$MODELS/stories260K-chatml.gguf" --chat-template-file "$TMP/think.jinja" -np 1 -t 1
}

# stop_dialect_servers : stops dialect_servers' three servers, checking that each exits cleanly.
stop_dialect_servers() {
  for p in "$S_PID" "$Q_PID" "$R_PID"; do
    stop_server "$p"
    expect_eq "server exit" "$stop_rc" 0
  done
}

# sdk_run NAME CLIENT ARGS... : runs the test's $TMP/sdk.js with the npm client $CLIENTS/CLIENT and ARGS, its JSON
# output into $TMP/NAME.json; checks that it exited 0 (showing its stderr when not).
sdk_run() {
  local name=$1 client=$2
  shift 2
  local rc=0
  node "$TMP/sdk.js" "$CLIENTS/$client" "$@" > "$TMP/$name.json" 2> "$TMP/$name.err" || rc=$?
  expect_eq "$name: SDK script status" "$rc" 0
  [ "$rc" -eq 0 ] || cat "$TMP/$name.err" >&2
}

# expect_cancelled N NAME : waits (5 s at most) until server S's /metrics counts N cancelled requests, and checks it.
expect_cancelled() {
  for _ in $(seq 1 50); do
    req GET "$S_URL/metrics"
    grep -q "^llamac:requests_cancelled_total $1\$" "$TMP/body" && break
    sleep 0.1
  done
  expect_contains "$2" "$(cat "$TMP/body")" "llamac:requests_cancelled_total $1"
}

# disconnect_frees_slot PATH BODY [curl args...] : a client that reads the start of a long stream from server S
# (started with --metrics --slots, -np 2, no request cancelled before; $AUTH its key, if any) and goes away; the
# request is cancelled and every slot is idle again.
disconnect_frees_slot() {
  local path=$1 body=$2
  shift 2
  curl -s -N "$@" --data-binary "$body" "$S_URL$path" | head -c 3000 > /dev/null
  expect_cancelled 1 "disconnect cancels the request"
  req GET "$S_URL/slots"
  expect_eq "all slots idle" "$(jqr 'map(select(.state == "idle")) | length')" 2
}
