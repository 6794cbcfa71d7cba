# `llamac chat --live` driven in tmux as a person would use it: typing with a cursor edit, Up recalling the last
# message, Ctrl-U, Alt+Enter, the answer equal to `llamac chat`'s for the same messages, the status line, Ctrl-C
# stopping an answer, Ctrl-C twice and Ctrl-D quitting, the terminal's settings restored (stty -g before and
# after), --session, chat's flags accepted with --live, and the refusal to run without a terminal.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K-chatml.gguf"
[ -f "$M" ] || { echo "SKIP: $M not found" >&2; exit 77; }
COMMON=(-m "$M" -n 16 --temp 0 -t 1)

# without a terminal: a usage error
rc=0
echo hi | "$LLAMAC" chat --live "${COMMON[@]}" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "no tty: status" "$rc" 2
expect_contains "no tty: message" "$(cat "$TMP/e")" "needs a terminal"
rc=0
"$LLAMAC" chat --live "${COMMON[@]}" --attn-rot maybe > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "bad --attn-rot: status" "$rc" 2
# the flags of chat work with --live (here the terminal check refuses to go on after parsing them)
rc=0
"$LLAMAC" chat --live "${COMMON[@]}" --json --session "$TMP/x.chat" --ignore-eos -l 1+1 -ctk q8_0 -ctv f16 \
  -r stop > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "chat flags with --live: status" "$rc" 2
expect_contains "chat flags with --live: only the terminal is missing" "$(cat "$TMP/e")" "needs a terminal"
rc=0
"$LLAMAC" chat "${COMMON[@]}" --debounce-ms 5 > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "live-only flag without --live: status" "$rc" 2
expect_contains "live-only flag without --live: message" "$(cat "$TMP/e")" "--debounce-ms works with --live"


TMUX_WAIT_S=15
. "$(dirname "$0")/tmux_lib.sh"
start() {
  local name=$1
  shift
  rm -f "$TMP/$name.exit" "$TMP/$name.before" "$TMP/$name.after"
  "${T[@]}" new-session -d -s "$name" -x 120 -y 40 \
    "stty -g > $TMP/$name.before; $(printf '%q ' "$LLAMAC" chat --live "$@"); echo \$? > $TMP/$name.exit.tmp; stty -g > $TMP/$name.after; mv $TMP/$name.exit.tmp $TMP/$name.exit; sleep 60"
}

rm -f "$TMP/live.chat"
start a "${COMMON[@]}" --debounce-ms 10 --session "$TMP/live.chat" --system-prompt "You tell stories."
wait_for a "Enter sends"
# "Hello wrld", three steps left, "o": "Hello world"
"${T[@]}" send-keys -t a "Hello wrld" Left Left Left "o" End
wait_for a "> Hello world"
"${T[@]}" send-keys -t a Enter
wait_for a "first token" && pass
expect_contains "tmux: the status line" "$(pane a)" "tokens/s"
# Up on the empty line recalls the message sent (as in `llamac chat`); Ctrl-U clears it again
"${T[@]}" send-keys -t a Up
wait_for a "> Hello world" 2 && pass
"${T[@]}" send-keys -t a C-u
# typed text thrown away with Ctrl-U, a word removed with Ctrl-W, a second line with Alt+Enter
"${T[@]}" send-keys -t a "garbage text" C-u "Tell me more" C-w "again"
wait_for a "> Tell me again"
"${T[@]}" send-keys -t a M-Enter "please"
wait_for a "  please"
"${T[@]}" send-keys -t a Enter
wait_for a "first token" 2 && pass
ready=$(pane a | grep 'first token' | tail -1 | sed -n 's/.*prompt: \([0-9]*\) tokens ready.*/\1/p')
if [ "${ready:-0}" -gt 30 ]; then pass; else fail "tmux: only ${ready:-?} prompt tokens were ready at Enter"; fi
"${T[@]}" send-keys -t a C-d
wait_exit a && expect_eq "tmux: Ctrl-D exit status" "$(cat "$TMP/a.exit")" 0
expect_eq "tmux: terminal restored after Ctrl-D" "$(cat "$TMP/a.after")" "$(cat "$TMP/a.before")"
[ -f "$TMP/live.chat" ] && pass || fail "--session: no file written at exit"

# the same system prompt and message in line mode give the same first answer
printf 'Hello world\n' | "$LLAMAC" chat "${COMMON[@]}" --system "You tell stories." -q > "$TMP/ref2" 2> /dev/null
expect_contains "tmux: answer == llamac chat's" "$(pane a)" "$(head -n 1 "$TMP/ref2")"

# a second start loads the conversation from the session file (and runs without speculation: typing, then Enter,
# still answers, with the earlier turns' tokens ready)
start c "${COMMON[@]}" --session "$TMP/live.chat" --system-prompt "You tell stories." --no-speculate
wait_for c "[session $TMP/live.chat: 5 messages]"
wait_for c "Enter sends"
"${T[@]}" send-keys -t c "Hello world" Enter
wait_for c "first token" && pass
ready=$(pane c | grep 'first token' | tail -1 | sed -n 's/.*prompt: \([0-9]*\) tokens ready.*/\1/p')
if [ "${ready:-0}" -gt 60 ]; then pass; else fail "tmux: --session: only ${ready:-?} prompt tokens were ready"; fi
"${T[@]}" send-keys -t c C-c C-c
wait_exit c && expect_eq "tmux: Ctrl-C twice exit status" "$(cat "$TMP/c.exit")" 130
expect_eq "tmux: terminal restored after Ctrl-C twice" "$(cat "$TMP/c.after")" "$(cat "$TMP/c.before")"

# Ctrl-C stops a long answer (a synthesized model that never ends its turn, with a q8_0 KV cache); SIGTERM restores
# the terminal
VOCAB="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-qwen2.gguf"
if [ -f "$VOCAB" ]; then
  "$LLAMAC" synth -q -o "$TMP/long.gguf" --arch qwen2 --vocab-from "$VOCAB" --layers 1 --embd 64 --heads 2 --ctx 16384
  # head size 32: a q8_0 KV cache fits, with its rotation on
  start b -m "$TMP/long.gguf" -c 16384 -n -1 --temp 0 -t 1 -ctk q8_0 -ctv q8_0 --attn-rot on
  wait_for b "Enter sends"
  "${T[@]}" send-keys -t b "Hi" Enter
  for _ in $(seq 100); do
    [ "$(pane b | grep -A1 -F '> Hi' | tail -1 | tr -d ' \n')" != "" ] && break
    sleep 0.1
  done
  "${T[@]}" send-keys -t b C-c
  wait_for b "[stopped]" && pass
  wait_for b "first token" && pass
  "${T[@]}" send-keys -t b "abc"
  wait_for b "> abc"
  shell=$("${T[@]}" list-panes -t b -F '#{pane_pid}')
  pid=$(pgrep -P "$shell" || true) # the llamac this test started, child of the pane's shell
  if [ -n "$pid" ]; then kill -TERM "$pid"; fi
  wait_exit b && expect_eq "tmux: SIGTERM exit status" "$(cat "$TMP/b.exit")" 143
  expect_eq "tmux: terminal restored after SIGTERM" "$(cat "$TMP/b.after")" "$(cat "$TMP/b.before")"
else
  echo "no qwen2 vocabulary: the Ctrl-C part is skipped" >&2
fi
finish
