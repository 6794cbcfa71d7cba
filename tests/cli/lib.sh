# Helpers for the command-line tests: each test_*.sh sources this, calls `check ...`, and ends with `finish`.
set -u
LLAMAC=${LLAMAC_BIN:?LLAMAC_BIN is set by ctest}
MODELS=${LLAMAC_TEST_MODELS:?}
# Without the test models (../shared/models, or $LLAMAC_TEST_MODELS) a test skips, as the unit tests do; one that
# needs none sets NEEDS_MODELS=0 before sourcing this file.
if [ "${NEEDS_MODELS:-1}" != 0 ] && [ ! -f "$MODELS/stories260K.gguf" ]; then
  echo "SKIP: test models not found in $MODELS" >&2
  exit 77
fi
REF="${LLAMAC_SOURCE_DIR:?}/tests/reference"
TMP=${LLAMAC_TEST_TMP:-$(mktemp -d)}
passed=0
failed=0

pass() { passed=$((passed + 1)); }
fail() { failed=$((failed + 1)); echo "FAIL: $*" >&2; }

# expect_eq NAME GOT EXPECTED
expect_eq() {
  if [ "$2" == "$3" ]; then pass; else fail "$1: got [$2], expected [$3]"; fi
}

# expect_contains NAME HAYSTACK NEEDLE
expect_contains() {
  case "$2" in
    *"$3"*) pass ;;
    *) fail "$1: [$2] does not contain [$3]" ;;
  esac
}

# run_llamac OUT ERR ARGS... : runs llamac, storing stdout/stderr in files; returns its exit status in $rc.
run_llamac() {
  local out=$1 err=$2
  shift 2
  rc=0
  "$LLAMAC" "$@" > "$out" 2> "$err" < /dev/null || rc=$?
}

# fake_hub DIR : starts the fake Hugging Face Hub (tests/hub/fake_hub.js) with DIR/config.json, its requests logged
# to DIR/requests.log, and points the Hub clients at it: sets $hub_pid, $HUB_PORT, $CDN_PORT, HF_ENDPOINT and HF_HOME
# (DIR/hf), with the other Hub and proxy variables unset; the hub is killed when the test exits. Exits the test
# (failed) when it does not start.
fake_hub() {
  local dir=$1
  node "$LLAMAC_SOURCE_DIR/tests/hub/fake_hub.js" "$dir/config.json" "$dir/ports" "$dir/requests.log" \
    2> "$dir/node.err" &
  hub_pid=$!
  trap 'kill $hub_pid 2> /dev/null' EXIT
  for _ in $(seq 100); do [ -s "$dir/ports" ] && break; sleep 0.1; done
  [ -s "$dir/ports" ] || { echo "fake hub did not start: $(cat "$dir/node.err")" >&2; exit 1; }
  read -r HUB_PORT CDN_PORT < "$dir/ports"
  unset HF_TOKEN HUGGING_FACE_HUB_TOKEN HF_HUB_CACHE HF_HUB_OFFLINE XDG_CACHE_HOME \
    http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
  export no_proxy='*' NO_PROXY='*'
  export HF_ENDPOINT="http://127.0.0.1:$HUB_PORT" HF_HOME="$dir/hf"
}

finish() {
  echo "$passed passed, $failed failed" >&2
  [ "$failed" -eq 0 ]
}

# media_fixtures : the projectors and media files test_media_fidelity writes for stories260K-chatml (the vision and
# audio projectors, PNGs, a WAV) into $FX, with $M, $V and $A naming the model and the two projectors, and
# chatml TEXT: a file holding the chat prompt llama-mtmd-cli renders for one user message (it ends in a newline).
# Without LLAMAC_LLAMA_SOURCE the writer skips the qwen2vl model (M-RoPE, tested by test_media_fidelity).
media_fixtures() {
  M="$MODELS/stories260K-chatml.gguf"
  FX="$TMP/media"
  rm -rf "$FX"
  env -u LLAMAC_LLAMA_SOURCE "$(dirname "$LLAMAC")/test_media_fidelity" --write-fixtures "$FX" > /dev/null ||
    { echo "cannot write the media fixtures" >&2; exit 1; }
  V="$FX/mmproj-vision.gguf"
  A="$FX/mmproj-audio.gguf"
}
chatml() { printf '<|im_start|>user\n%s<|im_end|>\n<|im_start|>assistant\n' "$1" > "$TMP/prompt"; echo "$TMP/prompt"; }
