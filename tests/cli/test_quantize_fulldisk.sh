# A real full disk: quantize, split and merge into a 200 KiB tmpfs must fail with exit 1 and the system's reason,
# and leave nothing behind (no partial output, no temporary file). Needs permission to mount; skipped (77) without.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
disk="$TMP/fulldisk"
mkdir -p "$disk"
mountpoint -q "$disk" 2>/dev/null && umount "$disk"
if ! mount -t tmpfs -o size=200k tmpfs "$disk" 2>/dev/null; then
  echo "SKIP: cannot mount a tmpfs here (needs root)" >&2
  exit 77
fi
trap 'umount "$disk" 2>/dev/null' EXIT

run_llamac "$TMP/o" "$TMP/e" quantize "$M" "$disk/out.gguf" Q8_0
expect_eq "quantize onto a full disk: status" "$rc" 1
expect_eq "quantize onto a full disk: message" "$(cat "$TMP/e")" \
  "llamac quantize: cannot write '$disk/out.gguf': No space left on device"
expect_eq "quantize onto a full disk: nothing left" "$(ls -A "$disk")" ""

run_llamac "$TMP/o" "$TMP/e" split --split-max-tensors 20 "$M" "$disk/shard"
expect_eq "split onto a full disk: status" "$rc" 1
expect_contains "split onto a full disk: message" "$(cat "$TMP/e")" "No space left on device"
expect_eq "split onto a full disk: one line" "$(wc -l < "$TMP/e")" 1
expect_eq "split onto a full disk: nothing left" "$(ls -A "$disk")" ""

"$LLAMAC" split -q --split-max-tensors 20 "$M" "$TMP/shard" < /dev/null
run_llamac "$TMP/o" "$TMP/e" merge "$TMP/shard-00001-of-00003.gguf" "$disk/merged.gguf"
expect_eq "merge onto a full disk: status" "$rc" 1
expect_eq "merge onto a full disk: message" "$(cat "$TMP/e")" \
  "llamac merge: cannot write '$disk/merged.gguf': No space left on device"
expect_eq "merge onto a full disk: nothing left" "$(ls -A "$disk")" ""

finish
