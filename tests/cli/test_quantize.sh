# `llamac quantize`: byte-for-byte fidelity with llama-quantize on every case of tests/reference/quantize/cases.tsv
# (sha256 of llama-quantize's output from scripts/gen-reference.sh), then the command's behaviour: --list-types,
# --dry-run, the derived output name, the summary, and every error a user can provoke giving one line on stderr,
# the documented exit status, no file left behind and the input untouched.
. "$(dirname "$0")/lib.sh"
. "$REF/quantize/inputs.sh"
MODELS=$MODELS
work="$TMP/quantize"
rm -rf "$work" && mkdir -p "$work"
cp "$REF"/quantize/*.imatrix.* "$work/"

# no temporary or partial file may remain in the work folder
expect_no_tmp() {
  local left
  left=$(ls "$work" | grep -c '\.tmp\.' || true)
  expect_eq "$1: no temporary file left" "$left" 0
}

# Fidelity. The cases run in the folder holding the importance matrices, as the references were made, because the
# path given to --imatrix is recorded in the output.
while IFS=$'\t' read -r id input type flags; do
  [ -z "$id" ] || [ "${id:0:1}" = "#" ] && continue
  expected=$(awk -v id="$id" '$1 == id { print $4 }' "$REF/quantize/sha256.txt")
  model=$(ref_input "$input" "$work" < /dev/null)
  read -r -a args <<< "$flags"
  rm -f "$work"/out-*
  rc=0
  (cd "$work" && "$LLAMAC" quantize -q "${args[@]}" "$model" "out-$id.gguf" "$type" < /dev/null > "$TMP/o" 2> "$TMP/e") || rc=$?
  expect_eq "quantize $id: status" "$rc" 0
  [ "$rc" -eq 0 ] || cat "$TMP/e" >&2
  got=$(cat $(ls "$work"/out-"$id"*.gguf 2>/dev/null | sort) /dev/null | sha256sum | cut -d' ' -f1)
  expect_eq "quantize $id: byte-identical to llama-quantize" "$got" "$expected"
done < "$REF/quantize/cases.tsv"
expect_no_tmp "fidelity cases"
n_cases=$(grep -vc '^#' "$REF/quantize/cases.tsv")
expect_eq "every case has a reference" "$(wc -l < "$REF/quantize/sha256.txt")" "$n_cases"

st=$(ref_input stories260K "$work")
syn=$(ref_input synth "$work")
st_sum=$(sha256sum < "$st")

# --list-types
run_llamac "$TMP/o" "$TMP/e" quantize --list-types
expect_eq "--list-types status" "$rc" 0
expect_contains "--list-types lists Q4_K_M with its id" "$(cat "$TMP/o")" "Q4_K_M       15  Q4_K - Medium"
expect_contains "--list-types lists COPY" "$(cat "$TMP/o")" "COPY"
expect_eq "--list-types: one line per type plus header, blank and aliases" "$(wc -l < "$TMP/o")" 39

# output name derived from the input, summary on stdout, nothing on stderr off a terminal
run_llamac "$TMP/o" "$TMP/e" quantize "$st" q8_0
expect_eq "derived name: status" "$rc" 0
expect_eq "derived name: file" "$(ls "$work"/stories260K-Q8_0.gguf 2>/dev/null)" "$work/stories260K-Q8_0.gguf"
expect_eq "derived name: same bytes as llama-quantize" "$(sha256sum < "$work/stories260K-Q8_0.gguf" | cut -d' ' -f1)" \
  "$(awk '$1 == "st-q8_0" { print $4 }' "$REF/quantize/sha256.txt")"
expect_contains "summary names both files" "$(cat "$TMP/o")" "quantized $st to $work/stories260K-Q8_0.gguf as Q8_0"
expect_contains "summary: size before" "$(cat "$TMP/o")" "before        1.13 MiB file,       1.12 MiB of tensors,  32.00 bits per weight"
expect_contains "summary: size after" "$(cat "$TMP/o")" "after         0.36 MiB file,       0.35 MiB of tensors,   9.97 bits per weight"
expect_contains "summary: time" "$(cat "$TMP/o")" " ms, 48 tensors, 5 fell back"
expect_eq "no progress bar off a terminal" "$(cat "$TMP/e")" ""
cp "$syn" "$work/model-f16.gguf"
run_llamac "$TMP/o" "$TMP/e" quantize -q "$work/model-f16.gguf" Q4_K
expect_eq "derived name replaces the type suffix (alias Q4_K is Q4_K_M)" "$(ls "$work"/model-Q4_K_M.gguf 2>/dev/null)" \
  "$work/model-Q4_K_M.gguf"
expect_eq "-q prints nothing" "$(cat "$TMP/o" "$TMP/e")" ""

# --dry-run: the size per tensor type and the total, nothing written
run_llamac "$TMP/o" "$TMP/e" quantize --dry-run "$st" Q4_K_M
expect_eq "--dry-run status" "$rc" 0
expect_contains "--dry-run table header" "$(cat "$TMP/o")" "dry run: $st as Q4_K_M (nothing written)"
expect_contains "--dry-run: q5_0 row (Q4_K falls back on 64-wide rows)" "$(cat "$TMP/o")" "q5_0           29       0.76 MiB       0.13 MiB"
expect_contains "--dry-run: total" "$(cat "$TMP/o")" "total          48       1.12 MiB       0.28 MiB  (32.00 -> 7.92 bits per weight)"
expect_eq "--dry-run writes nothing" "$(ls "$work" | grep -c Q4_K_M)" 1 # only model-Q4_K_M.gguf from above
run_llamac "$TMP/o" "$TMP/e" quantize --dry-run "$syn" IQ2_XXS
expect_eq "--dry-run of a type needing an imatrix fails without one" "$rc" 1
expect_contains "--dry-run imatrix message" "$(cat "$TMP/e")" "IQ2_XXS needs an importance matrix"

# Errors: exit 2 for a command line that cannot be read, 1 for everything else; one line each; no output file.
check_error() { # NAME STATUS NEEDLE ARGS...
  local name=$1 status=$2 needle=$3
  shift 3
  rm -f "$work/bad.gguf"
  run_llamac "$TMP/o" "$TMP/e" quantize "$@"
  expect_eq "$name: status" "$rc" "$status"
  expect_contains "$name: message" "$(cat "$TMP/e")" "$needle"
  expect_eq "$name: one line" "$(wc -l < "$TMP/e")" 1
  expect_eq "$name: llamac quantize prefix" "$(cut -c1-17 < "$TMP/e")" "llamac quantize: "
  expect_eq "$name: no output" "$(ls "$work/bad.gguf" 2>/dev/null)" ""
  expect_no_tmp "$name"
}
check_error "unknown type" 2 "unknown quantization type 'Q9_9' (valid: Q1_0, Q2_0, Q4_0" "$st" "$work/bad.gguf" Q9_9
check_error "missing type" 2 "expected IN.gguf [OUT.gguf] TYPE" "$st"
check_error "unknown option" 2 "unknown option '--frobnicate'" --frobnicate "$st" "$work/bad.gguf" Q8_0
check_error "malformed --tensor-type" 2 "invalid --tensor-type 'output'" --tensor-type output "$st" "$work/bad.gguf" Q4_0
check_error "unknown tensor type" 2 "unknown tensor type 'q9'" --tensor-type output=q9 "$st" "$work/bad.gguf" Q4_0
check_error "bad pattern" 1 "'blk[' is not a valid regular expression" --tensor-type 'blk[=q8_0' "$st" "$work/bad.gguf" Q4_0
check_error "malformed prune range" 2 "invalid --prune-layers '3-1'" --prune-layers 3-1 "$st" "$work/bad.gguf" Q8_0
check_error "prune range past the model" 1 "cannot prune layer 31: the model has 5 layers (0 to 4)" \
  --prune-layers 28-31 "$st" "$work/bad.gguf" Q8_0
check_error "prune every layer" 1 "pruning all 5 layers would leave an empty model" --prune-layers 0-4 "$st" \
  "$work/bad.gguf" Q8_0
check_error "missing input" 1 "cannot open model '$work/missing.gguf': No such file or directory" \
  "$work/missing.gguf" "$work/bad.gguf" Q8_0
check_error "input is output" 1 "refusing to overwrite the input" "$st" "$st" Q8_0
ln -f "$st" "$work/hardlink.gguf"
check_error "input is output under another name" 1 "refusing to overwrite the input" "$st" "$work/hardlink.gguf" Q8_0
rm -f "$work/hardlink.gguf"
check_error "output directory missing" 1 "cannot write '$work/nodir/out.gguf': directory '$work/nodir': No such file" \
  "$st" "$work/nodir/out.gguf" Q8_0
head -c 100000 "$st" > "$work/trunc.gguf"
check_error "truncated input" 1 "tensor 0 ('token_embd.weight') data at offset 14176: 131072 bytes end at offset 145248, past the end of the file (100000 bytes): the file is truncated" \
  "$work/trunc.gguf" "$work/bad.gguf" Q8_0
echo "not a model" > "$work/text.gguf"
check_error "not a GGUF file" 1 "is not a GGUF file" "$work/text.gguf" "$work/bad.gguf" Q8_0
check_error "imatrix required" 1 "IQ2_XXS needs an importance matrix: tensor 'blk.0.attn_k.weight' becomes iq2_xxs" \
  "$syn" "$work/bad.gguf" IQ2_XXS
check_error "imatrix of another model" 1 "the importance matrix has 64 values for 'blk.0.attn_k.weight', which needs 256" \
  --imatrix "$work/stories260K.imatrix.gguf" "$syn" "$work/bad.gguf" IQ2_XXS
check_error "missing imatrix" 1 "cannot open importance matrix" --imatrix "$work/none.dat" "$st" "$work/bad.gguf" Q4_0
check_error "forced type that cannot hold the rows" 1 "tensor 'output.weight' has rows of 64 elements; q4_K stores blocks of 256" \
  --output-tensor-type q4_k "$st" "$work/bad.gguf" Q8_0
check_error "COPY with tensor types" 1 "COPY copies every tensor unchanged, so tensor_types would have no effect" \
  --tensor-type output=q8_0 "$st" "$work/bad.gguf" COPY
(cd "$work" && "$LLAMAC" quantize -q "$st" "$work/q8.gguf" Q8_0)
check_error "requantize without --allow-requantize" 1 "tensor 'token_embd.weight' is already quantized (q8_0); converting it to q4_0 needs allow_requantize" \
  "$work/q8.gguf" "$work/bad.gguf" Q4_0
expect_eq "the input is never written" "$(sha256sum < "$st")" "$st_sum"

# An existing output is replaced only by a complete new one: a failure leaves it as it was.
echo "previous" > "$work/existing.gguf"
run_llamac "$TMP/o" "$TMP/e" quantize --prune-layers 9 "$st" "$work/existing.gguf" Q8_0
expect_eq "failed run keeps the existing output" "$(cat "$work/existing.gguf")" "previous"
run_llamac "$TMP/o" "$TMP/e" quantize -q "$st" "$work/existing.gguf" Q8_0
expect_eq "successful run replaces it" "$(sha256sum < "$work/existing.gguf" | cut -d' ' -f1)" \
  "$(awk '$1 == "st-q8_0" { print $4 }' "$REF/quantize/sha256.txt")"

# A full disk, simulated with a file-size limit (SIGXFSZ ignored, so writes fail with EFBIG): exit 1, one line,
# nothing left behind. (test_quantize_fulldisk.sh fills a real filesystem when mounting is allowed.)
rc=0
(trap '' XFSZ; ulimit -f 200; "$LLAMAC" quantize "$st" "$work/big.gguf" Q8_0 < /dev/null > "$TMP/o" 2> "$TMP/e") || rc=$?
expect_eq "file size limit: status" "$rc" 1
expect_eq "file size limit: message" "$(cat "$TMP/e")" "llamac quantize: cannot write '$work/big.gguf': File too large"
expect_eq "file size limit: no output" "$(ls "$work/big.gguf" 2>/dev/null)" ""
expect_no_tmp "file size limit"

# Ctrl-C: nothing written, exit 130. The run is slow enough to interrupt (IQ2_XXS with an importance matrix).
"$LLAMAC" quantize -q --imatrix "$work/synth.imatrix.gguf" "$syn" "$work/int.gguf" IQ2_XXS < /dev/null \
  > "$TMP/o" 2> "$TMP/e" &
pid=$!
sleep 0.3
kill -INT "$pid" 2>/dev/null
rc=0
wait "$pid" || rc=$?
if [ "$rc" -eq 0 ]; then
  echo "note: the quantization finished before the interrupt; the cancel path is covered by test_quantize" >&2
  pass
else
  expect_eq "interrupted: status" "$rc" 130
  expect_eq "interrupted: message" "$(cat "$TMP/e")" "llamac quantize: interrupted; nothing was written"
  expect_eq "interrupted: no output" "$(ls "$work/int.gguf" 2>/dev/null)" ""
fi
expect_no_tmp "interrupted"

finish
