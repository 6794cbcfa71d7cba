# `llamac run` with --json-schema, --json-schema-file, -j (inline) and --json: the generated text of a real model
# (stories260K) is valid JSON under the schema, checked by node, independently of the converter.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
T=(-t 1 -c 512)
SCHEMA="$LLAMAC_SOURCE_DIR/tests/schema/person.schema.json"
CHECK="$LLAMAC_SOURCE_DIR/tests/schema/check_person.js"
have_node=0
command -v node > /dev/null 2>&1 && have_node=1
[ $have_node -eq 1 ] || echo "node not found: outputs are checked for shape only" >&2

for seed in 1 2; do
  run_llamac "$TMP/p$seed.json" "$TMP/e" run -m "$M" "${T[@]}" -p "Once upon a time" -n 400 --seed $seed --json-schema-file "$SCHEMA"
  expect_eq "schema file seed $seed status" "$rc" 0
  expect_contains "schema file seed $seed output" "$(cat "$TMP/p$seed.json")" '"tags"'
  if [ $have_node -eq 1 ]; then
    if node "$CHECK" "$TMP/p$seed.json" 2> "$TMP/why"; then pass; else fail "seed $seed: $(cat "$TMP/why")"; fi
  fi
done

# --json-schema takes the same schema inline (and -j is its short form) or as a path: the same grammar, so the
# same text for the same seed.
run_llamac "$TMP/inline.json" "$TMP/e" run -m "$M" "${T[@]}" -p "Once upon a time" -n 400 --seed 1 -j "$(cat "$SCHEMA")"
expect_eq "inline schema status" "$rc" 0
expect_eq "inline schema = schema file" "$(cat "$TMP/inline.json")" "$(cat "$TMP/p1.json")"
run_llamac "$TMP/path.json" "$TMP/e" run -m "$M" "${T[@]}" -p "Once upon a time" -n 400 --seed 1 --json-schema "$SCHEMA"
expect_eq "--json-schema with a path = schema file" "$(cat "$TMP/path.json")" "$(cat "$TMP/p1.json")"

# A small inline schema that closes quickly: a tuple of a boolean and a bounded integer.
run_llamac "$TMP/t.json" "$TMP/e" run -m "$M" "${T[@]}" -p "Hello" -n 100 --seed 7 \
  -j '{"type":"array","prefixItems":[{"type":"boolean"},{"type":"integer","minimum":-5,"maximum":5}],"minItems":2,"items":false}'
expect_eq "tuple status" "$rc" 0
if [ $have_node -eq 1 ]; then
  node -e 'const v = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
           if (!Array.isArray(v) || v.length !== 2 || typeof v[0] !== "boolean" || !Number.isInteger(v[1]) ||
               v[1] < -5 || v[1] > 5) { console.error(JSON.stringify(v)); process.exit(1); }' "$TMP/t.json" \
    && pass || fail "tuple output $(cat "$TMP/t.json")"
fi

# --json: an object (the model may not finish it in 40 tokens; it must start as one).
run_llamac "$TMP/j.json" "$TMP/e" run -m "$M" "${T[@]}" -p "Hello" -n 40 --seed 1 --json
expect_eq "--json status" "$rc" 0
expect_eq "--json starts an object" "$(head -c 1 "$TMP/j.json")" "{"

# Errors: a bad schema names the keyword and its place; conflicting constraints; a missing file.
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Hi" -j '{"properties":{"a":{"type":"strin"}}}'
expect_eq "bad schema status" "$rc" 1
expect_contains "bad schema message" "$(cat "$TMP/e")" 'unknown type "strin" at /properties/a/type'
expect_eq "nothing generated for a bad schema" "$(cat "$TMP/o")" ""
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Hi" -j '{"type":"string","pattern":"(?<=a)b"}'
expect_eq "unsupported pattern status" "$rc" 1
expect_contains "unsupported pattern message" "$(cat "$TMP/e")" "/pattern cannot be enforced"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Hi" -j '{"type":'
expect_eq "invalid JSON status" "$rc" 1
expect_contains "invalid JSON message" "$(cat "$TMP/e")" "not valid JSON"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Hi" --json --grammar 'root ::= "a"'
expect_eq "two constraints status" "$rc" 2
expect_contains "two constraints message" "$(cat "$TMP/e")" "at most one of"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Hi" --json-schema-file "$TMP/does-not-exist.json"
expect_eq "missing schema file status" "$rc" 1
expect_contains "missing schema file message" "$(cat "$TMP/e")" "does-not-exist.json"

finish
