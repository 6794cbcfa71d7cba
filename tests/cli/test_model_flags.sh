# llama.cpp's model and context flags (RoPE/YaRN, -ot, -cmoe/-ncmoe/-ncffn, --override-kv lists, -nkvo, ...):
# `llamac run --temp 0` with a flag prints exactly what llama.cpp's llama-completion printed with the same flag
# (references from scripts/reference/greedy-flags.sh); a bad value exits 2 naming the flag before any work, and a
# placement llama.cpp cannot make exits 1 naming the flag.
. "$(dirname "$0")/lib.sh"

i=0
while IFS=$'\t' read -r model n flags prompt; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  i=$((i + 1))
  read -ra extra <<< "$flags"
  run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/$model" -p "$prompt" -n "$n" --temp 0 "${extra[@]}"
  expect_eq "case $i ($flags) exit status" "$rc" 0
  if cmp -s "$TMP/out.txt" "$REF/greedy_flags/$i.txt"; then
    pass
  else
    fail "case $i ($model, $flags, '$prompt'): output differs from llama.cpp's"
    diff <(cat "$REF/greedy_flags/$i.txt"; echo) <(cat "$TMP/out.txt"; echo) >&2 || true
    head -5 "$TMP/err.txt" >&2
  fi
done < "$REF/greedy_flags/cases.tsv"
expect_eq "cases run" "$i" 12
# the flags change the output: a reference that equals the plain greedy text would prove nothing
expect_eq "--rope-freq-base changes the text" "$(cmp -s "$REF/greedy_flags/1.txt" "$REF/greedy/1.txt" && echo same)" ""
expect_eq "--rope-scale changes the text" "$(cmp -s "$REF/greedy_flags/3.txt" "$REF/greedy/1.txt" && echo same)" ""
expect_eq "yarn changes the text" "$(cmp -s "$REF/greedy_flags/6.txt" "$REF/greedy/1.txt" && echo same)" ""
expect_eq "-ot to CPU leaves it" "$(cmp -s "$REF/greedy_flags/8.txt" "$REF/greedy/1.txt" && echo same)" same

# serve gives them to its engine's context: its greedy /completion equals llama-completion's too
. "$(dirname "$0")/serve_lib.sh"
start_server s -m "$MODELS/stories260K.gguf" -np 1 -c 512 --rope-freq-base 5000 -ot 'output=CPU' -nkvo
curl -s "$s_URL/completion" -d '{"prompt": "Once upon a time", "n_predict": 48, "temperature": 0}' |
  jq -j .content > "$TMP/serve.txt"
expect_eq "serve --rope-freq-base: the reference text" "$(cmp -s "$TMP/serve.txt" "$REF/greedy_flags/1.txt" && echo same)" \
  same
kill "$s_PID" && wait "$s_PID" 2> /dev/null

# chat and serve take the same rows (one shared table): parse-only checks
for cmd in chat serve; do
  rc=0
  LLAMAC_PARSE_ONLY=1 "$LLAMAC" "$cmd" --rope-scaling yarn --rope-scale 2 --yarn-orig-ctx 512 -ot 'x=CPU' -cmoe \
    --numa distribute -nkvo > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
  expect_eq "$cmd takes the RoPE and placement flags" "$rc:$(cat "$TMP/e")" "0:"
done

# llamac does not fit -c and -ngl to device memory: -fit off is what it does, -fit on and the fit's settings refused
rc=0
LLAMAC_PARSE_ONLY=1 "$LLAMAC" serve -fit off > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "serve -fit off" "$rc:$(cat "$TMP/e")" "0:"
run_llamac "$TMP/out.txt" "$TMP/err.txt" serve -m "$MODELS/stories260K.gguf" -fit on
expect_eq "serve -fit on exits 2" "$rc" 2
expect_contains "serve -fit on says why" "$(cat "$TMP/err.txt")" "-fit on: llamac serve does not fit -c and -ngl"
run_llamac "$TMP/out.txt" "$TMP/err.txt" serve -m "$MODELS/stories260K.gguf" -fitc 4096
expect_eq "serve -fitc exits 2" "$rc" 2
expect_contains "serve -fitc says why" "$(cat "$TMP/err.txt")" "-fitc is llama-server's, not offered by llamac serve"

# --list-devices lists them (the CPU is not one: none here) and exits before anything else
run_llamac "$TMP/out.txt" "$TMP/err.txt" serve --list-devices --no-such-flag
expect_eq "--list-devices" "$rc:$(head -n 1 "$TMP/out.txt")" "0:Available devices:"
run_llamac "$TMP/out.txt" "$TMP/err.txt" run -lzm off -p "Once upon a time" -n 48 --temp 0 -m "$MODELS/stories260K.gguf"
expect_eq "-lzm off" "$rc:$(cmp -s "$TMP/out.txt" "$REF/greedy/1.txt" && echo same)" "0:same"

# bad values: exit 2, the flag named, nothing loaded
bad() { # EXPECTED_TEXT ARGS...
  local want=$1
  shift
  run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/stories260K.gguf" -p hi -n 1 "$@"
  expect_eq "$* exits 2" "$rc" 2
  expect_contains "$* names the flag" "$(cat "$TMP/err.txt")" "$want"
  expect_eq "$* prints nothing" "$(cat "$TMP/out.txt")" ""
}
bad "invalid value '0' for --rope-scale" --rope-scale 0
bad "invalid value '-2' for --rope-scale" --rope-scale -2
bad "invalid value '1e39' for --rope-scale" --rope-scale 1e39
bad "invalid value '-1' for --rope-freq-base" --rope-freq-base -1
bad "invalid value 'nan' for --rope-freq-scale" --rope-freq-scale nan
bad "invalid value 'cubic' for --rope-scaling (expected none, linear or yarn)" --rope-scaling cubic
bad "invalid value 'inf' for --yarn-ext-factor" --yarn-ext-factor inf
bad "--yarn-orig-ctx" --yarn-orig-ctx -5
bad "-ot: 'output' is not PATTERN=BUFFER_TYPE" -ot output
bad "-ot: 'output=' is not PATTERN=BUFFER_TYPE" -ot 'blk=CPU,output='
bad "--n-cpu-moe" --n-cpu-moe -1
bad "-ncffn" -ncffn 99999
bad "invalid value 'all' for --numa (expected distribute, isolate or numactl)" --numa all
bad "invalid bool 'maybe' in --override-kv" --override-kv 'a.b=bool:true,c.d=bool:maybe'
bad "invalid --override-kv 'junk'" --override-kv 'a.b=int:1,junk'
bad "-mg" -mg -1
bad "invalid value 'lazy' for -lzm (expected auto, on or off)" -lzm lazy
# a quoted item keeps its comma: the value reaches the library whole (a key the model does not have is ignored)
run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/stories260K.gguf" -p "Once upon a time" -n 38 --temp 0 \
  --override-kv '"general.name=str:a,b",tokenizer.ggml.add_bos_token=bool:false'
expect_eq "a quoted --override-kv item" "$rc:$(cmp -s "$TMP/out.txt" "$REF/greedy_flags/10.txt" && echo same)" "0:same"

# what only loading can tell: exit 1, the flag named
run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/stories260K.gguf" -p hi -n 1 -ot 'blk\.[0-=CPU'
expect_eq "an invalid -ot pattern fails the load" "$rc" 1
expect_contains "an invalid -ot pattern is named" "$(cat "$TMP/err.txt")" "-ot[0]: 'blk\.[0-' is not a valid regular expression"
run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/stories260K.gguf" -p hi -n 1 -ot 'output=CPU,blk=NOPE0'
expect_eq "an unknown -ot buffer type fails the load" "$rc" 1
expect_contains "an unknown -ot buffer type is named, with those there are" "$(cat "$TMP/err.txt")" \
  "-ot[1] (blk=NOPE0): no buffer type named 'NOPE0' (available: CPU"
finish
