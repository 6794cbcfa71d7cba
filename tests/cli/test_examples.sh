# The examples build and do what the README says: examples/simple.c prints llama.cpp's greedy text, and
# examples/tokens.cpp (C++17) the prompt's tokens and the start of the same text. (tests/pkg/test_install.sh builds
# them again against an installed llamac.)
. "$(dirname "$0")/lib.sh"
bin="$(dirname "$LLAMAC")/example_simple"
rc=0; "$bin" "$MODELS/stories260K.gguf" "Once upon a time" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_simple status" "$rc" 0
if cmp -s "$TMP/o" "$REF/greedy/1.txt"; then pass; else fail "example_simple output differs from llama.cpp's"; fi
expect_contains "example_simple reports the finish" "$(cat "$TMP/e")" "[length after 48 tokens"
rc=0; "$bin" "$TMP/none.gguf" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_simple missing model status" "$rc" 1
expect_contains "example_simple missing model message" "$(cat "$TMP/e")" "cannot open model"
tokens="$(dirname "$LLAMAC")/example_tokens"
rc=0; "$tokens" "$MODELS/stories260K.gguf" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_tokens status" "$rc" 0
expect_eq "example_tokens version" "$(sed -n 1p "$TMP/o")" "llamac $("$LLAMAC" --version | sed -n 's/^llamac //p')"
expect_eq "example_tokens pieces" "$(sed -n 2p "$TMP/o")" \
  "5 tokens: 1='<s>' 403=' Once' 407=' upon' 261=' a' 378=' time'"
text=$(sed -n 's/^16 tokens generated (length): Once upon a time//p' "$TMP/o")
if [ "${#text}" -gt 20 ] && [ "$(head -c ${#text} "$REF/greedy/1.txt")" == "$text" ]; then pass; else
  fail "example_tokens text is not the start of llama.cpp's: $(sed -n 3p "$TMP/o")"
fi
rc=0; "$tokens" "$TMP/none.gguf" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "example_tokens missing model status" "$rc" 1
expect_contains "example_tokens missing model message" "$(cat "$TMP/e")" "load: cannot open model"
finish
