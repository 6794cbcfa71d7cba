# `llamac info`, `llamac split` and `llamac merge`: what info reports (text, JSON, tensor table) and how it reports
# malformed files; split and merge byte-for-byte against llama-gguf-split (tests/reference/split/sha256.txt); a
# split -> merge round trip that keeps every metadata value and tensor; every command accepting a first shard.
. "$(dirname "$0")/lib.sh"
. "$REF/quantize/inputs.sh"
work="$TMP/gguf-tools"
rm -rf "$work" && mkdir -p "$work"
st=$(ref_input stories260K "$work")

# info, text
run_llamac "$TMP/o" "$TMP/e" info "$st"
expect_eq "info status" "$rc" 0
out=$(cat "$TMP/o")
expect_contains "info: format" "$out" "format         GGUF v3, 1.13 MiB in 1 file, metadata 14176 bytes, data aligned to 32"
expect_contains "info: architecture" "$out" "architecture   llama"
expect_contains "info: parameters" "$out" "parameters     292.80 K (292800), 1.12 MiB of tensor data, 48 tensors"
expect_contains "info: context" "$out" "context        2048"
expect_contains "info: layers" "$out" "layers         5"
expect_contains "info: heads" "$out" "heads          8, kv heads 4, head size 8 (k) / 8 (v)"
expect_contains "info: tokenizer" "$out" "tokenizer      llama, 512 tokens"
expect_contains "info: no chat template" "$out" "chat template  (none)"
expect_contains "info: metadata count" "$out" "metadata (19 keys):"
expect_contains "info: a u32 key" "$out" "llama.block_count                        u32              5"
expect_contains "info: an array, shortened" "$out" \
  'tokenizer.ggml.tokens                    arr[str,512]     ["<unk>", "<s>", "</s>", "<0x00>", "<0x01>", "<0x02>", "<0x03>", "<0x04>", ... (504 more)]'
expect_eq "info: no tensor table by default" "$(grep -c '^tensors' "$TMP/o")" 0
run_llamac "$TMP/o" "$TMP/e" info --tensors "$st"
expect_eq "info --tensors: one row per tensor" "$(grep -cE '^ +[0-9]+  ' "$TMP/o")" 48
expect_contains "info --tensors: a row" "$(cat "$TMP/o")" "token_embd.weight                        f32      64 x 512                       131072          14176"
chat="$MODELS/stories260K-chatml.gguf"
run_llamac "$TMP/o" "$TMP/e" info "$chat"
expect_contains "info: chat template size" "$(cat "$TMP/o")" "chat template  $(wc -c < "$MODELS/stories260K-chatml.template.jinja" | tr -d ' ') bytes: "

# info --json: valid JSON holding every metadata value in full
run_llamac "$TMP/o" "$TMP/e" info --json --tensors "$st"
expect_eq "info --json status" "$rc" 0
if command -v python3 > /dev/null; then
  summary=$(python3 -c '
import json, sys
d = json.load(open(sys.argv[1]))
m = d["metadata"]
print(d["architecture"], d["n_layer"], d["n_head_kv"], d["n_vocab"], len(m), len(m["tokenizer.ggml.tokens"]),
      m["tokenizer.ggml.tokens"][1], m["llama.block_count"], len(d["tensors"]), d["tensors"][0]["name"],
      d["tensors"][0]["shape"], d["chat_template"])' "$TMP/o")
  expect_eq "info --json content" "$summary" "llama 5 4 512 19 512 <s> 5 48 token_embd.weight [64, 512] None"
fi

# malformed files: exit 1, one line naming the field and its offset
check_info_error() { # NAME NEEDLE FILE
  run_llamac "$TMP/o" "$TMP/e" info "$3"
  expect_eq "$1: status" "$rc" 1
  expect_contains "$1: message" "$(cat "$TMP/e")" "$2"
  expect_eq "$1: one line" "$(wc -l < "$TMP/e")" 1
}
head -c 100000 "$st" > "$work/trunc.gguf"
check_info_error "info truncated" "malformed GGUF '$work/trunc.gguf': tensor 0 ('token_embd.weight') data at offset 14176: 131072 bytes end at offset 145248, past the end of the file (100000 bytes): the file is truncated" "$work/trunc.gguf"
head -c 3000 "$st" > "$work/trunc-meta.gguf"
check_info_error "info truncated metadata" "metadata entry 0 ('tokenizer.ggml.tokens') value at offset 69: an array of 512 strings needs at least 4096 bytes, only 2931 left in the file" "$work/trunc-meta.gguf"
{ printf 'GGUF\003\000\000\000'; head -c +1000 /dev/zero; } > "$work/zeros.gguf"
run_llamac "$TMP/o" "$TMP/e" info "$work/zeros.gguf"
expect_eq "info of a header without entries: status" "$rc" 0
{ printf 'GGUF\003\000\000\000\000\000\000\000\000\000\000\000\001\000\000\000\000\000\000\000\377\377\377\377\377\377\377\177'
  head -c 100 /dev/zero; } > "$work/hugekey.gguf"
check_info_error "info key length" "metadata entry 0 key at offset 24: string length 9223372036854775807 is more than GGUF's limit" "$work/hugekey.gguf"
check_info_error "info not GGUF" "is not a GGUF file" "$REF/quantize/inputs.sh"
check_info_error "info missing" "No such file or directory" "$work/none.gguf"
check_info_error "info directory" "it is a directory" "$work"

# split and merge: byte-identical to llama-gguf-split
while IFS=$'\t' read -r id input flags; do
  [ -z "$id" ] || [ "${id:0:1}" = "#" ] && continue
  model=$(ref_input "$input" "$work" < /dev/null)
  read -r -a args <<< "$flags"
  rm -f "$work"/shard-* "$work"/merged.gguf
  run_llamac "$TMP/o" "$TMP/e" split -q "${args[@]}" "$model" "$work/shard-$id"
  expect_eq "split $id: status" "$rc" 0
  n_ref=0
  while read -r rid part sum; do
    [ "$rid" = "$id" ] && [ "$part" != merged ] || continue
    n_ref=$((n_ref + 1))
    expect_eq "split $id: shard $part byte-identical" "$(sha256sum < "$work/shard-$id-$part.gguf" | cut -d' ' -f1)" "$sum"
  done < "$REF/split/sha256.txt"
  expect_eq "split $id: as many shards as llama-gguf-split" "$(ls "$work"/shard-"$id"-*.gguf | wc -l)" "$n_ref"
  first=$(ls "$work"/shard-"$id"-*.gguf | sort | head -n 1)
  run_llamac "$TMP/o" "$TMP/e" merge -q "$first" "$work/merged.gguf"
  expect_eq "merge $id: status" "$rc" 0
  expect_eq "merge $id: byte-identical" "$(sha256sum < "$work/merged.gguf" | cut -d' ' -f1)" \
    "$(awk -v id="$id" '$1 == id && $2 == "merged" { print $3 }' "$REF/split/sha256.txt")"
done < "$REF/split/cases.tsv"

# round trip: every metadata value and tensor of the original, the split.* bookkeeping keys aside
rm -f "$work"/shard-* "$work"/merged.gguf
run_llamac "$TMP/o" "$TMP/e" split --split-max-size 1M "$st" "$work/shard.gguf"
expect_eq "split summary" "$(head -n 1 "$TMP/o")" "split $st into 2 shards:"
expect_contains "split drops .gguf from the prefix" "$(cat "$TMP/o")" "$work/shard-00002-of-00002.gguf"
run_llamac "$TMP/o" "$TMP/e" merge "$work/shard-00001-of-00002.gguf" "$work/merged.gguf"
expect_eq "merge summary" "$(cat "$TMP/o")" "merged $work/shard-00001-of-00002.gguf into $work/merged.gguf (1.13 MiB)"
"$LLAMAC" info --json --tensors "$st" > "$TMP/a.json"
"$LLAMAC" info --json --tensors "$work/merged.gguf" > "$TMP/b.json"
if command -v python3 > /dev/null; then
  verdict=$(python3 -c '
import json, sys
a, b = json.load(open(sys.argv[1])), json.load(open(sys.argv[2]))
extra = {k: v for k, v in b["metadata"].items() if k not in a["metadata"]}
same_kv = all(b["metadata"][k] == v for k, v in a["metadata"].items())
ta = [(t["name"], t["type"], t["shape"], t["size"]) for t in a["tensors"]]
tb = [(t["name"], t["type"], t["shape"], t["size"]) for t in b["tensors"]]
print(same_kv, sorted(extra.items()), ta == tb)' "$TMP/a.json" "$TMP/b.json")
  expect_eq "round trip keeps metadata and tensor table" "$verdict" \
    "True [('split.count', 0), ('split.no', 0), ('split.tensors.count', 48)] True"
fi
# tensor data: the data section of the original equals that of the merged file
off_a=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata_size"])' "$TMP/a.json")
off_b=$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["metadata_size"])' "$TMP/b.json")
expect_eq "round trip keeps every tensor's bytes" "$(tail -c +$((off_a + 1)) "$st" | sha256sum)" \
  "$(tail -c +$((off_b + 1)) "$work/merged.gguf" | sha256sum)"

# every command takes the first shard of a split model
run_llamac "$TMP/o" "$TMP/e" info "$work/shard-00001-of-00002.gguf"
expect_contains "info of a first shard covers the model" "$(cat "$TMP/o")" "1.13 MiB in 2 files"
expect_contains "info of a first shard: all tensors" "$(cat "$TMP/o")" "48 tensors"
run_llamac "$TMP/o" "$TMP/e" run -m "$work/shard-00001-of-00002.gguf" -p "Once upon a time" -n 48 --temp 0
expect_eq "run from a first shard" "$(cat "$TMP/o")" "$(cat "$REF/greedy/1.txt")"
run_llamac "$TMP/o" "$TMP/e" tokenize -m "$work/shard-00001-of-00002.gguf" "Once upon a time"
expect_eq "tokenize from a first shard" "$(cat "$TMP/o")" "[1, 403, 407, 261, 378]"
run_llamac "$TMP/o" "$TMP/e" quantize -q "$work/shard-00001-of-00002.gguf" "$work/q.gguf" Q8_0
expect_eq "quantize from a first shard: same bytes as from the whole file" \
  "$(sha256sum < "$work/q.gguf" | cut -d' ' -f1)" "$(awk '$1 == "st-q8_0" { print $4 }' "$REF/quantize/sha256.txt")"
run_llamac "$TMP/o" "$TMP/e" split -q --split-max-tensors 10 "$work/shard-00001-of-00002.gguf" "$work/resplit"
expect_eq "split from a first shard" "$(ls "$work"/resplit-*.gguf | wc -l)" 5

# split and merge errors
check_error() { # NAME STATUS NEEDLE ARGS...
  local name=$1 status=$2 needle=$3
  shift 3
  run_llamac "$TMP/o" "$TMP/e" "$@"
  expect_eq "$name: status" "$rc" "$status"
  expect_contains "$name: message" "$(cat "$TMP/e")" "$needle"
  expect_eq "$name: one line" "$(wc -l < "$TMP/e")" 1
  expect_eq "$name: no temporary file" "$(ls "$work" | grep -c '\.tmp\.')" 0
}
check_error "split: both limits" 2 "give --split-max-size or --split-max-tensors, not both" split \
  --split-max-size 1M --split-max-tensors 3 "$st" "$work/x"
check_error "split: bad size" 2 "invalid value '1X' for --split-max-size" split --split-max-size 1X "$st" "$work/x"
check_error "split: onto its input" 1 "refusing to overwrite the input" split --split-max-size 1M \
  "$work/shard-00001-of-00002.gguf" "$work/shard"
check_error "split: missing input" 1 "No such file or directory" split "$work/none.gguf" "$work/x"
check_error "merge: not a shard" 1 "is not a shard of a split model (it has no split.count)" merge "$st" \
  "$work/m.gguf"
check_error "merge: not the first shard" 1 "is shard 2 of a split model; merge from the first shard" merge \
  "$work/shard-00002-of-00002.gguf" "$work/m.gguf"
check_error "merge: onto a shard" 1 "refusing to overwrite the input" merge "$work/shard-00001-of-00002.gguf" \
  "$work/shard-00002-of-00002.gguf"
mv "$work/shard-00002-of-00002.gguf" "$work/moved.gguf"
check_error "merge: a shard missing" 1 "shard 2 of 2 of '$work/shard-00001-of-00002.gguf' is missing" merge \
  "$work/shard-00001-of-00002.gguf" "$work/m.gguf"
check_error "run: a shard missing" 1 "cannot load model" run -m "$work/shard-00001-of-00002.gguf" -p x
expect_eq "failed merges write nothing" "$(ls "$work/m.gguf" 2>/dev/null)" ""

finish
