# Helpers for the interactive tests that drive `llamac chat` in a tmux pane (sourced after lib.sh). Without tmux the
# test finishes here with what it has checked so far. TMUX_WAIT_S (default 10) bounds every wait.
if ! command -v tmux > /dev/null; then
  echo "tmux not installed: interactive part skipped" >&2
  finish
  exit $?
fi
SOCK="llamac-$(basename "$0" .sh)-$$"
T=(tmux -L "$SOCK" -f /dev/null)
trap '"${T[@]}" kill-server 2> /dev/null' EXIT
TICKS=$((${TMUX_WAIT_S:-10} * 10))
pane() { "${T[@]}" capture-pane -p -J -S -200 -t "$1" 2> /dev/null; }
# wait_for SESSION PATTERN [COUNT]: polls the pane until PATTERN (fixed string) appears COUNT times
wait_for() {
  local want=${3:-1}
  for _ in $(seq "$TICKS"); do
    [ "$(pane "$1" | grep -cF -- "$2")" -ge "$want" ] && return 0
    sleep 0.1
  done
  fail "tmux $1: timed out waiting for [$2] x$want; the pane shows:"
  pane "$1" >&2
  return 1
}
# wait_exit SESSION: waits for the command in the pane to have written its exit status to $TMP/SESSION.exit
wait_exit() {
  for _ in $(seq "$TICKS"); do
    [ -s "$TMP/$1.exit" ] && return 0
    sleep 0.1
  done
  fail "tmux $1: did not exit"
  return 1
}
