# README "Server" accounts for every flag of the pinned llama-server's --help (tests/reference/server_flags.txt, from
# scripts/reference/server-flags.sh): its table of llama-server's flags is what scripts/server-flags-table.py makes of
# that list and of llamac serve's own option table (implemented, accepted, refused or not yet, with llamac's help
# text), so a flag missing from the table, or a row that says what llamac serve no longer does, fails here. Needs no
# model.
NEEDS_MODELS=0
. "$(dirname "$0")/lib.sh"
command -v python3 > /dev/null || { echo "SKIP: python3 is needed" >&2; exit 77; }
list="$LLAMAC_SOURCE_DIR/tests/reference/server_flags.txt"

# the list is the pin's --help (about 250 entries), and the table has a row for each of them
n=$(grep -vc '^#' "$list")
[ "$n" -gt 200 ] && pass || fail "tests/reference/server_flags.txt has $n entries (regenerate it)"
rc=0
python3 "$LLAMAC_SOURCE_DIR/scripts/server-flags-table.py" --llamac "$LLAMAC" > "$TMP/table" 2> "$TMP/e" || rc=$?
expect_eq "the table is generated" "$rc:$(cat "$TMP/e")" "0:"
expect_eq "a row per entry" "$(($(wc -l < "$TMP/table") - 2))" "$n"
missing=""
while IFS=$'\t' read -r names _; do
  first=${names%%,*}
  grep -qF -- "| \`$first\`" "$LLAMAC_SOURCE_DIR/README.md" || missing="$missing $first"
done < <(grep -v '^#' "$list")
expect_eq "every flag of llama-server's --help has a row in README.md" "$missing" ""
rc=0
python3 "$LLAMAC_SOURCE_DIR/scripts/server-flags-table.py" --llamac "$LLAMAC" --check 2> "$TMP/e" || rc=$?
expect_eq "README.md's table is what llamac serve does" "$rc" 0
[ "$rc" -eq 0 ] || head -40 "$TMP/e" >&2
# a refused row refuses, with its reason; a row that says "not yet" is an unknown option today
rc=0
LLAMAC_PARSE_ONLY=1 "$LLAMAC" serve --tools-runtime docker:busybox > /dev/null 2> "$TMP/e" || rc=$?
expect_eq "a refused flag" "$rc:$(grep -c "^llamac serve: --tools-runtime is llama-server's, not offered by llamac serve: llamac serve runs the built-in tools" "$TMP/e")" "2:1"
flag=$(sed -n 's/^| `\([^`]*\)`.* | not yet (unknown option) |$/\1/p' "$LLAMAC_SOURCE_DIR/README.md" | head -1)
if [ -n "$flag" ]; then
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" serve "$flag" > /dev/null 2> "$TMP/e" || rc=$?
  expect_eq "a flag not there yet ($flag)" "$rc:$(grep -c "unknown option '$flag'" "$TMP/e")" "2:1"
fi
finish
