# The examples build and do what the README says: examples/simple.c prints llama.cpp's greedy text.
. "$(dirname "$0")/lib.sh"
bin="$(dirname "$LLAMAC")/example_simple"
rc=0; "$bin" "$MODELS/stories260K.gguf" "Once upon a time" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_simple status" "$rc" 0
if cmp -s "$TMP/o" "$REF/greedy/1.txt"; then pass; else fail "example_simple output differs from llama.cpp's"; fi
expect_contains "example_simple reports the finish" "$(cat "$TMP/e")" "[length after 48 tokens"
rc=0; "$bin" "$TMP/none.gguf" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_simple missing model status" "$rc" 1
expect_contains "example_simple missing model message" "$(cat "$TMP/e")" "cannot open model"
finish
