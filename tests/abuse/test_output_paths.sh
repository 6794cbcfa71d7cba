# Output paths (issue 30, defect 3): every command that writes a file replaces only a regular file or a new path.
# A character device, a FIFO, a socket or a directory at the output path is refused with a message naming what it
# is, and left as it was; a symbolic link is written through (its target replaced, the link kept), and a link to
# anything but a regular file is refused. Covers quantize, synth -o, split, merge and a chat session's /save (the
# context state file is the same code, core/outfile.c, and test_state checks it). The device is a private copy of
# /dev/null's numbers (mknod, as root) so that a regression cannot replace the machine's own /dev/null.
. "$(dirname "$0")/../cli/lib.sh"
M="$MODELS/stories260K.gguf"
C="$MODELS/stories260K-chatml.gguf"
W="$TMP/out"
rm -rf "$W"
mkdir -p "$W"

# make_special KIND PATH : a FIFO, socket, directory or (as root) character device at PATH; returns 1 when it cannot.
make_special() {
  rm -rf "$2"
  case "$1" in
    fifo) mkfifo "$2" ;;
    socket) python3 -c 'import socket, sys; socket.socket(socket.AF_UNIX).bind(sys.argv[1])' "$2" ;;
    directory) mkdir "$2" ;;
    device) mknod "$2" c 1 3 2> /dev/null ;;
  esac
}

# still_special KIND PATH : PATH is still what make_special made.
still_special() {
  case "$1" in
    fifo) [ -p "$2" ] ;;
    socket) [ -S "$2" ] ;;
    directory) [ -d "$2" ] ;;
    device) [ -c "$2" ] ;;
  esac
}

# refused NAME KIND PATH WHAT ARGS... : `llamac ARGS` exits 1 naming PATH and WHAT it is, and leaves PATH alone with
# no temporary file beside it.
refused() {
  local name=$1 kind=$2 path=$3 what=$4
  shift 4
  run_llamac "$TMP/o" "$TMP/e" "$@"
  expect_eq "$name over a $kind: status" "$rc" 1
  expect_contains "$name over a $kind: message" "$(cat "$TMP/e")" "'$path': it is $what"
  still_special "$kind" "$path" && pass || fail "$name over a $kind: the $kind was replaced"
  expect_eq "$name over a $kind: no temporary file" "$(find "$W" -name '*.tmp.*' | wc -l)" 0
}

declare -A WHAT=([fifo]="a FIFO (named pipe)" [socket]="a socket" [directory]="a directory"
  [device]="a character device")
for kind in fifo socket directory device; do
  t="$W/$kind.gguf"
  if ! make_special "$kind" "$t"; then
    echo "note: cannot make a $kind here (not root?); its cases are skipped" >&2
    continue
  fi
  refused quantize "$kind" "$t" "${WHAT[$kind]}" quantize "$M" "$t" Q8_0
  refused "synth -o" "$kind" "$t" "${WHAT[$kind]}" synth -q -o "$t" --arch llama --layers 1 --embd 32 --heads 2 \
    --vocab-from "$M"
  # split: the first shard's name; merge: the output
  s="$W/sh-00001-of-00002.gguf"
  make_special "$kind" "$s"
  refused split "$kind" "$s" "${WHAT[$kind]}" split -q --split-max-size 1M "$M" "$W/sh"
  rm -rf "$s"
  run_llamac "$TMP/o" "$TMP/e" split -q --split-max-size 1M "$M" "$W/ok"
  expect_eq "split for merge: status" "$rc" 0
  refused merge "$kind" "$t" "${WHAT[$kind]}" merge -q "$W/ok-00001-of-00002.gguf" "$t"
  rm -f "$W"/ok-*
  # a chat session's /save
  rc=0
  printf '/save %s\n' "$t" | "$LLAMAC" chat -m "$C" -n 4 --temp 0 -t 1 > "$TMP/o" 2> "$TMP/e" || rc=$?
  expect_contains "chat /save over a $kind: message" "$(cat "$TMP/e")" "'$t': it is ${WHAT[$kind]}"
  still_special "$kind" "$t" && pass || fail "chat /save over a $kind: the $kind was replaced"
  rm -rf "$t"
done

# A symbolic link to a regular file is written through: the target holds the new model, the link stays a link.
echo "old" > "$W/target.gguf"
ln -sfn target.gguf "$W/link.gguf"
run_llamac "$TMP/o" "$TMP/e" quantize "$M" "$W/link.gguf" Q8_0
expect_eq "quantize through a link: status" "$rc" 0
[ -L "$W/link.gguf" ] && pass || fail "quantize through a link: the link was replaced by a file"
expect_eq "quantize through a link: target is a model" "$(head -c 4 "$W/target.gguf")" "GGUF"
run_llamac "$TMP/o" "$TMP/e" info "$W/link.gguf"
expect_eq "quantize through a link: the result loads" "$rc" 0
echo "old" > "$W/target.gguf"
run_llamac "$TMP/o" "$TMP/e" synth -q -o "$W/link.gguf" --arch llama --layers 1 --embd 32 --heads 2 --vocab-from "$M"
expect_eq "synth through a link: status" "$rc" 0
[ -L "$W/link.gguf" ] && pass || fail "synth through a link: the link was replaced by a file"
expect_eq "synth through a link: target is a model" "$(head -c 4 "$W/target.gguf")" "GGUF"
expect_eq "through a link: no temporary file" "$(find "$W" -name '*.tmp.*' | wc -l)" 0

# A link to a FIFO, and a link whose target does not exist, are refused; so is a link to the input itself.
mkfifo "$W/fifo"
ln -sfn fifo "$W/to-fifo.gguf"
run_llamac "$TMP/o" "$TMP/e" quantize "$M" "$W/to-fifo.gguf" Q8_0
expect_eq "link to a FIFO: status" "$rc" 1
expect_contains "link to a FIFO: message" "$(cat "$TMP/e")" "is a symbolic link to '$W/fifo', which is a FIFO (named pipe)"
[ -p "$W/fifo" ] && [ -L "$W/to-fifo.gguf" ] && pass || fail "link to a FIFO: the link or the FIFO was replaced"
ln -sfn missing.gguf "$W/dangling.gguf"
run_llamac "$TMP/o" "$TMP/e" synth -q -o "$W/dangling.gguf" --arch llama --layers 1 --embd 32 --heads 2 --vocab-from "$M"
expect_eq "dangling link: status" "$rc" 1
expect_contains "dangling link: message" "$(cat "$TMP/e")" "is a symbolic link whose target cannot be reached"
[ -L "$W/dangling.gguf" ] && [ ! -e "$W/missing.gguf" ] && pass || fail "dangling link: something was written"
cp "$M" "$W/in.gguf"
ln -sfn in.gguf "$W/to-input.gguf"
run_llamac "$TMP/o" "$TMP/e" quantize "$W/in.gguf" "$W/to-input.gguf" Q8_0
expect_eq "link to the input: status" "$rc" 1
expect_contains "link to the input: message" "$(cat "$TMP/e")" "refusing to overwrite the input"
cmp -s "$M" "$W/in.gguf" && pass || fail "link to the input: the input changed"

finish
