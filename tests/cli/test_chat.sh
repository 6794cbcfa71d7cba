# `llamac chat`: piped mode (one message per line, answers only on stdout), the greedy answer equal to `llamac run`
# on the same rendered prompt, --session reuse across runs, errors, and the interactive REPL driven in tmux as a
# person would use it: a turn, a continued line, /save, /clear, /load, Ctrl-C stopping an answer, Ctrl-C twice and
# Ctrl-D quitting.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K-chatml.gguf"
[ -f "$M" ] || { echo "SKIP: $M not found" >&2; exit 77; }
COMMON=(-m "$M" -n 16 --temp 0 -t 1)

# --- piped mode ---
rc=0
printf 'Hello\nTell me more.\n' | "$LLAMAC" chat "${COMMON[@]}" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "piped status" "$rc" 0
expect_eq "piped: two answers with timings" "$(grep -c 'tokens/s' "$TMP/e")" 2
if grep -q $'\e' "$TMP/o" || grep -q '^> ' "$TMP/o"; then fail "piped: prompts or escape codes on stdout"; else pass; fi
cached=$(sed -n 's/.*prompt: [0-9]* new, \([0-9]*\) cached.*/\1/p' "$TMP/e" | tail -1)
if [ "${cached:-0}" -gt 40 ]; then pass; else fail "piped: turn 2 reused only ${cached:-?} cached tokens"; fi

# the first answer is the greedy completion of the rendered prompt, as `llamac run` gives it
printf '%s' '[{"role":"user","content":"Hello"}]' > "$TMP/m.json"
run_llamac "$TMP/prompt" "$TMP/e2" template -m "$M" --messages "$TMP/m.json"
run_llamac "$TMP/run" "$TMP/e2" run -m "$M" -f "$TMP/prompt" -n 16 --temp 0 -t 1 -r '<|im_end|>' --parse-special
expect_eq "run status" "$rc" 0
rc=0
printf 'Hello\n' | "$LLAMAC" chat "${COMMON[@]}" -q > "$TMP/o1" 2> "$TMP/e" || rc=$?
expect_eq "piped -q status" "$rc" 0
expect_eq "chat answer == llamac run on the rendered prompt" "$(cat "$TMP/o1")" "$(cat "$TMP/run")"
expect_eq "-q: nothing on stderr" "$(cat "$TMP/e")" ""

# structured output: every answer is JSON valid under the schema (two turns), checked by node
schema='{"type":"object","properties":{"ok":{"type":"boolean"},"n":{"type":"integer","minimum":0,"maximum":99}},"required":["ok","n"],"additionalProperties":false}'
rc=0
printf 'Hello\nAgain\n' | "$LLAMAC" chat -m "$M" -n 64 --temp 0 -t 1 -q -j "$schema" > "$TMP/oj" 2> "$TMP/e" || rc=$?
expect_eq "chat --json-schema status" "$rc" 0
if command -v node > /dev/null; then
  check=$(node -e '
    const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(l => l.length);
    const ok = lines.length === 2 && lines.every(l => { const v = JSON.parse(l);
      return Object.keys(v).sort().join() === "n,ok" && typeof v.ok === "boolean" && Number.isInteger(v.n) &&
             v.n >= 0 && v.n <= 99; });
    console.log(ok ? "valid" : "invalid: " + JSON.stringify(lines));' "$TMP/oj" 2>&1)
  expect_eq "chat --json-schema: answers valid under the schema" "$check" "valid"
fi
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" --json --grammar 'root ::= "x"'
expect_eq "chat: two constraints is a usage error" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" -j '{"type":"nope"}'
expect_eq "chat: an invalid schema fails" "$rc" 1
expect_contains "chat: the schema error names the flag" "$(cat "$TMP/e")" "--json-schema"

# --session: saved at exit, loaded at start; the second run decodes only the new message
rm -f "$TMP/s.chat"
rc=0
printf 'Hello\n' | "$LLAMAC" chat "${COMMON[@]}" --system "Be kind." --session "$TMP/s.chat" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "--session (new) status" "$rc" 0
[ -s "$TMP/s.chat" ] && pass || fail "--session: no file written"
rc=0
printf 'More.\n' | "$LLAMAC" chat "${COMMON[@]}" --session "$TMP/s.chat" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "--session (load) status" "$rc" 0
expect_contains "--session: loaded" "$(cat "$TMP/e")" "3 messages"
cached=$(sed -n 's/.*prompt: [0-9]* new, \([0-9]*\) cached.*/\1/p' "$TMP/e")
if [ "${cached:-0}" -gt 40 ]; then pass; else fail "--session: reused only ${cached:-?} cached tokens"; fi

# errors: one line on stderr, exit 1 (failure) or 2 (usage)
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" --keep-turns 0
expect_eq "--keep-turns 0 status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" --bogus
expect_eq "unknown flag status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" --chat-template-file "$TMP/missing.jinja"
expect_eq "missing template file status" "$rc" 1
expect_contains "missing template file message" "$(cat "$TMP/e")" "missing.jinja"
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" -n x
expect_eq "bad -n status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" chat -m "$TMP/missing.gguf"
expect_eq "missing model status" "$rc" 1
# /save names the file asked for when it cannot be written, not the temporary file behind it
rc=0
printf '/save %s\n' "$TMP/no/such/dir/s.chat" | "$LLAMAC" chat "${COMMON[@]}" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_contains "/save error names the file" "$(cat "$TMP/e")" "cannot save the chat session to '$TMP/no/such/dir/s.chat'"
expect_eq "/save error: no temporary name" "$(grep -c '\.tmp\.' "$TMP/e")" 0

# a model without a chat template gets ChatML (as llama-server), with a note; the answer is the ChatML prompt's
rc=0
printf 'Hello\n' | "$LLAMAC" chat "$MODELS/stories260K.gguf" -n 8 --temp 0 -t 1 > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "model without a template status" "$rc" 0
expect_contains "model without a template note" "$(cat "$TMP/e")" "the model has no chat template: using ChatML"
rc=0
printf '<|im_start|>user\nHello<|im_end|>\n<|im_start|>assistant\n' |
  "$LLAMAC" run "$MODELS/stories260K.gguf" -n 8 --temp 0 -t 1 -r '<|im_end|>' > "$TMP/ref" 2> /dev/null || rc=$?
expect_eq "model without a template: the ChatML answer" "$(cat "$TMP/o")" "$(cat "$TMP/ref")"
head -c 100 "$TMP/s.chat" > "$TMP/bad.chat"
run_llamac "$TMP/o" "$TMP/e" chat "${COMMON[@]}" --session "$TMP/bad.chat"
expect_eq "corrupt session status" "$rc" 1
expect_contains "corrupt session message" "$(cat "$TMP/e")" "bad.chat"
expect_eq "corrupt session: one line" "$(wc -l < "$TMP/e")" 1

# --- interactive, in tmux ---
. "$(dirname "$0")/tmux_lib.sh"
start() {
  local name=$1
  shift
  rm -f "$TMP/$name.exit"
  "${T[@]}" new-session -d -s "$name" -x 120 -y 40 \
    "$(printf '%q ' "$LLAMAC" chat "$@"); echo \$? > $TMP/$name.exit; sleep 60"
}

first=$(head -n 1 "$TMP/o1")
start a "${COMMON[@]}"
wait_for a "/help for commands"
"${T[@]}" send-keys -t a "Hello" Enter
wait_for a "tokens/s" && pass
expect_contains "tmux: the answer" "$(pane a)" "$first"
# a line ending in \ continues on the next one
"${T[@]}" send-keys -t a 'First line\' Enter 'second line.' Enter
wait_for a "tokens/s" 2 && pass
expect_contains "tmux: continuation prompt" "$(pane a)" "... second line."
"${T[@]}" send-keys -t a "/save $TMP/tmux.chat" Enter
wait_for a "[saved to" && pass
"${T[@]}" send-keys -t a "/clear" Enter
wait_for a "[conversation cleared]" && pass
"${T[@]}" send-keys -t a "After clear." Enter
wait_for a "tokens/s" 3
cached=$(pane a | grep 'tokens/s' | tail -1 | sed -n 's/.*new, \([0-9]*\) cached.*/\1/p')
if [ "${cached:-99}" -lt 20 ]; then pass; else fail "tmux: after /clear ${cached:-?} tokens were reused"; fi
"${T[@]}" send-keys -t a "/load $TMP/tmux.chat" Enter
wait_for a "[loaded" && pass
"${T[@]}" send-keys -t a "And then?" Enter
wait_for a "tokens/s" 4
cached=$(pane a | grep 'tokens/s' | tail -1 | sed -n 's/.*new, \([0-9]*\) cached.*/\1/p')
if [ "${cached:-0}" -gt 80 ]; then pass; else fail "tmux: after /load only ${cached:-?} tokens were reused"; fi
"${T[@]}" send-keys -t a "/help" Enter
wait_for a "/load FILE" && pass
"${T[@]}" send-keys -t a C-d
wait_exit a && expect_eq "tmux: Ctrl-D exit status" "$(cat "$TMP/a.exit")" 0

# Ctrl-C stops a long answer (a synthesized model with a 16k context that never ends its turn), then Ctrl-C twice
# quits. The vocabulary comes from llama.cpp's source tree.
VOCAB="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-qwen2.gguf"
if [ -f "$VOCAB" ]; then
  "$LLAMAC" synth -q -o "$TMP/long.gguf" --arch qwen2 --vocab-from "$VOCAB" --layers 1 --embd 32 --heads 2 --ctx 16384
  start b -m "$TMP/long.gguf" -c 16384 -n -1 --temp 0 -t 1
  wait_for b "/help for commands"
  "${T[@]}" send-keys -t b "Hi" Enter
  for _ in $(seq 100); do
    [ "$(pane b | grep -A1 -F '> Hi' | tail -1 | tr -d ' \n')" != "" ] && break
    sleep 0.1
  done
  # keys typed while the answer streams are not echoed into it; they wait at the next prompt
  "${T[@]}" send-keys -t b "typed-ahead"
  sleep 0.5
  "${T[@]}" send-keys -t b C-c
  wait_for b "[stopped]" && pass
  wait_for b "tokens/s" && pass
  wait_for b "> typed-ahead" && pass
  expect_eq "tmux: type-ahead is not in the answer" "$(pane b | grep -c 'typed-ahead')" 1
  "${T[@]}" send-keys -t b C-u
  gen=$(pane b | grep 'tokens/s' | tail -1 | sed -n 's/^\[\([0-9]*\) tokens.*/\1/p')
  if [ "${gen:-99999}" -lt 10000 ]; then pass; else fail "tmux: Ctrl-C did not stop the answer (${gen:-?} tokens)"; fi
  "${T[@]}" send-keys -t b C-c
  wait_for b "Ctrl-C again" && pass
  "${T[@]}" send-keys -t b C-c
  wait_exit b && expect_eq "tmux: Ctrl-C twice exit status" "$(cat "$TMP/b.exit")" 130
else
  echo "no qwen2 vocabulary: the Ctrl-C part is skipped" >&2
fi
finish
