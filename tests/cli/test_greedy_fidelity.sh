# `llamac run --temp 0` prints exactly what llama.cpp's llama-completion printed for the same model, prompt and
# length (references from scripts/gen-reference.sh), and nothing else on stdout.
. "$(dirname "$0")/lib.sh"

i=0
while IFS=$'\t' read -r model n prompt; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  i=$((i + 1))
  run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$MODELS/$model" -p "$prompt" -n "$n" --temp 0
  expect_eq "case $i exit status" "$rc" 0
  if cmp -s "$TMP/out.txt" "$REF/greedy/$i.txt"; then
    pass
  else
    fail "case $i ($model, '$prompt', $n tokens): output differs from llama.cpp's"
    diff <(cat "$REF/greedy/$i.txt"; echo) <(cat "$TMP/out.txt"; echo) >&2 || true
  fi
done < "$REF/greedy/cases.tsv"
expect_eq "cases run" "$i" 6
finish
