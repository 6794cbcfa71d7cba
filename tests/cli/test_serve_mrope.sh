# `llamac serve` with an M-RoPE model (Qwen2-VL's positions: an image of w x h tokens advances them by max(w, h)), on
# the synthesized qwen2vl model and Qwen2-VL projector test_media_fidelity writes: a chat request with an image
# answers what `llamac run --image` answers on the prompt the server renders (/apply-template), and llama-mtmd-cli's
# reference; two requests sent at once (two slots) both do; the same image again, and a second turn that shares the
# prefix with it, reuse the cache (cached_tokens, timings.cache_n) and still answer as `llamac run` does.
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v jq > /dev/null || { echo "jq is needed" >&2; exit 77; }
if [ ! -f "${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-qwen2.gguf" ]; then
  echo "SKIP: the qwen2vl model needs Qwen2's vocabulary from llama.cpp's source tree (LLAMAC_LLAMA_SOURCE)" >&2
  exit 77
fi
FX="$TMP/media" # kept between runs: the writer keeps the 84 MB model while it is newer than the program
mkdir -p "$FX"
"$(dirname "$LLAMAC")/test_media_fidelity" --write-fixtures "$FX" > /dev/null ||
  { echo "cannot write the media fixtures" >&2; exit 1; }
Q="$FX/qwen2vl-64.gguf"
P="$FX/mmproj-qwen2vl.gguf"
same=(-fa off -t 2)
start_server S -m "$Q" --mmproj "$P" -np 2 -c 2048 "${same[@]}"

uri() { printf 'data:image/png;base64,%s' "$(base64 -w0 "$FX/$1")"; }
# messages FILE [ANSWER] : the JSON messages of a user message with the image FILE then "Describe it" (FILE "": the
# text the server makes of them, with llama.cpp's default marker for the image), with ANSWER: then that answer and
# a second question
messages() {
  local content='"<__media__>Describe it"'
  [ -n "$1" ] && content='[{type: "image_url", image_url: {url: $url}}, {type: "text", text: "Describe it"}]'
  jq -nc --arg url "$([ -n "$1" ] && uri "$1")" --arg a "${2:-}" "[{role: \"user\", content: $content}] +
    (if \$a == \"\" then [] else [{role: \"assistant\", content: \$a}, {role: \"user\", content: \"And the colours?\"}] end)"
}
chat_body() { jq -nc --argjson m "$(messages "$@")" '{messages: $m, temperature: 0, max_tokens: 16}'; }
# run_ref NAME FILE [ANSWER] : what `llamac run --image FILE` answers on the prompt the server renders, into
# $TMP/run-NAME
run_ref() {
  req POST "$S_URL/apply-template" "$(jq -nc --argjson m "$(messages "" "${3:-}")" '{messages: $m}')"
  expect_eq "apply-template $1" "$code" 200
  jq -j .prompt "$TMP/body" > "$TMP/prompt-$1"
  run_llamac "$TMP/run-$1" "$TMP/e" run -m "$Q" --mmproj "$P" --image "$FX/$2" -f "$TMP/prompt-$1" --parse-special \
    --temp 0 -n 16 -c 1024 "${same[@]}"
  expect_eq "llamac run --image $1" "$rc" 0
}
run_ref gradient gradient-32x32.png
run_ref stripes stripes-64x16.png
expect_eq "llamac run = llama-mtmd-cli" "$(cat "$TMP/run-stripes")" "$(cat "$REF/mtmd/mrope-wide.txt")"

# Two at once.
curl -s -H 'Content-Type: application/json' --data-binary "$(chat_body gradient-32x32.png)" \
  "$S_URL/v1/chat/completions" > "$TMP/a.json" &
pid_a=$!
curl -s -H 'Content-Type: application/json' --data-binary "$(chat_body stripes-64x16.png)" \
  "$S_URL/v1/chat/completions" > "$TMP/b.json" &
pid_b=$!
wait $pid_a $pid_b
expect_eq "two at once: the first" "$(jqr '.choices[0].message.content' "$TMP/a.json")" "$(cat "$TMP/run-gradient")"
expect_eq "two at once: the second" "$(jqr '.choices[0].message.content' "$TMP/b.json")" "$(cat "$TMP/run-stripes")"
n_prompt=$(jqr .usage.prompt_tokens "$TMP/a.json")
[ "$n_prompt" -gt 0 ] 2> /dev/null && pass || fail "prompt_tokens is [$n_prompt]"

# The same image again: all of the prompt but its last token comes from the cache, the image included.
req POST "$S_URL/v1/chat/completions" "$(chat_body gradient-32x32.png)"
expect_eq "again: status" "$code" 200
expect_eq "again: same answer" "$(jqr '.choices[0].message.content')" "$(cat "$TMP/run-gradient")"
expect_eq "again: cached_tokens" "$(jqr .usage.prompt_tokens_details.cached_tokens)" "$((n_prompt - 1))"
expect_eq "again: timings.cache_n" "$(jqr .timings.cache_n)" "$((n_prompt - 1))"

# A second turn re-sends the image: the first prompt is reused, and the answer is llamac run's on the whole prompt.
first=$(cat "$TMP/run-gradient")
run_ref turn2 gradient-32x32.png "$first"
req POST "$S_URL/v1/chat/completions" "$(chat_body gradient-32x32.png "$first")"
expect_eq "second turn: status" "$code" 200
expect_eq "second turn: answer" "$(jqr '.choices[0].message.content')" "$(cat "$TMP/run-turn2")"
cached=$(jqr .usage.prompt_tokens_details.cached_tokens)
[ "$cached" -ge "$n_prompt" ] && pass || fail "second turn: cached_tokens $cached < $n_prompt"

stop_server "$S_PID"
expect_eq "server exit" "$stop_rc" 0
finish
