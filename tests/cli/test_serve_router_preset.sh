# Router mode's --models-preset keys as llama-server's preset parser reads them (issue 22): environment-style names
# (LLAMA_ARG_CTX_SIZE, LLAMA_ARG_N_PARALLEL, whose flag is --parallel) reach the child as the flags they name, a
# switch given false as its --no- form, load-on-startup loads a model before any request names it, stop-timeout 0
# kills a child at once when it is unloaded (the default asks it to exit), and a key llamac cannot honour or a value
# it cannot take stops the start with a message naming the section and the key.
. "$(dirname "$0")/lib.sh" || exit 1
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }

D="$TMP/models"
rm -rf "$D"
mkdir -p "$D"
ln -s "$MODELS/stories260K.gguf" "$D/stories.gguf"
ln -s "$MODELS/stories260K-chatml.gguf" "$D/chatml.gguf"
export HF_HUB_CACHE="$TMP/no-cache"
cat > "$TMP/preset.ini" << INI
[stories]
LLAMA_ARG_CTX_SIZE = 256
LLAMA_ARG_N_PARALLEL = 2
load-on-startup = true
stop-timeout = 0

[chatml]
LLAMA_ARG_CONTEXT_SHIFT = false
INI

start_server R --models-dir "$D" --models-preset "$TMP/preset.ini" --models-max 2 -c 512 -np 1 -t 1 -lv 3
# status MODEL : its status.value in GET /v1/models (which names no model: it loads nothing)
status() { curl -s "$R_URL/v1/models" | jq -r --arg m "$1" '.data[] | select(.id == $m) | .status.value'; }
for _ in $(seq 100); do
  [ "$(status stories)" = loaded ] && break
  sleep 0.1
done
expect_eq "load-on-startup: loaded before any request names it" "$(status stories)" loaded
expect_eq "load-on-startup: the other is not" "$(status chatml)" unloaded
stories_pid=$(child_pid "$R_PID" stories)
[ -n "$stories_pid" ] && pass || fail "no child process for stories"
expect_contains "LLAMA_ARG_CTX_SIZE reached the child as --ctx-size" \
  "$(tr '\0' ' ' < "/proc/$stories_pid/cmdline")" "--ctx-size 256"
req GET "$R_URL/props?model=stories"
expect_eq "LLAMA_ARG_CTX_SIZE: the child's context (a slot's: 256 over 2)" "$(jqr .default_generation_settings.n_ctx)" 128
expect_eq "LLAMA_ARG_N_PARALLEL: the child's slots (--parallel)" "$(jqr .total_slots)" 2
req POST "$R_URL/v1/completions" '{"model":"chatml","prompt":"Once upon a time","max_tokens":4,"temperature":0}'
expect_eq "chatml answers" "$code" 200
chatml_pid=$(child_pid "$R_PID" chatml)
expect_contains "a switch given false: its --no- form" "$(tr '\0' ' ' < "/proc/$chatml_pid/cmdline")" \
  "--no-context-shift"

# stop-timeout 0: the child is killed at once (SIGKILL, exit status -9); without one it is asked to exit (status 0)
req POST "$R_URL/models/unload" '{"model":"stories"}'
expect_eq "unload stories" "$code" 200
req POST "$R_URL/models/unload" '{"model":"chatml"}'
expect_eq "unload chatml" "$code" 200
expect_eq "stop-timeout 0: killed" "$(grep -c 'model stories: unloaded (exit status -9)' "$TMP/R.log")" 1
expect_eq "default: it exited" "$(grep -c 'model chatml: unloaded (exit status 0)' "$TMP/R.log")" 1
stop_server "$R_PID"
expect_eq "router exit" "$stop_rc" 0

# keys and values llamac cannot honour stop the start, naming the section and the key
# bad FILE-CONTENT EXPECTED-MESSAGE NAME [FLAGS...]
bad() {
  printf '%b' "$1" > "$TMP/bad.ini"
  run_llamac "$TMP/o" "$TMP/e" serve --port 0 --models-dir "$D" --models-preset "$TMP/bad.ini" "${@:4}"
  expect_eq "$3: refused" "$([ "$rc" -ne 0 ] && echo yes)" yes
  expect_contains "$3" "$(cat "$TMP/e")" "$2"
  expect_eq "$3: nothing listens" "$(grep -c 'listening on' "$TMP/e")" 0
}
bad '[stories]\nLLAMA_ARG_WARP_DRIVE = 1\n' "option 'LLAMA_ARG_WARP_DRIVE' (--warp-drive) of [stories] is not an option" \
  "unknown environment-style key"
bad '[stories]\nLLAMA_ARG_PORT = 9\n' "option 'LLAMA_ARG_PORT' (--port) of [stories]" "the router's own key"
bad '[stories]\ndedup-cache-models = 1\n' "'dedup-cache-models' of [stories] is not supported by llamac's router" \
  "dedup-cache-models"
bad '[stories]\nstop-timeout = soon\n' "'stop-timeout' of [stories] is whole seconds (0 to 86400), not 'soon'" \
  "stop-timeout not a number"
bad '[stories]\nload-on-startup = maybe\n' "'load-on-startup' of [stories] is a switch" "load-on-startup not a switch"
bad '[*]\nload-on-startup = true\n' "2 models have load-on-startup, more than --models-max 1" \
  "more load-on-startup models than --models-max" --models-max 1
finish
