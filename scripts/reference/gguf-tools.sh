# Part of scripts/gen-reference.sh (sourced; uses its root, bin, models, out and work): the references for the
# GGUF tools, made with llama.cpp's own llama-quantize, llama-gguf-split and llama-imatrix.
#
# - tests/reference/quantize/sha256.txt: "id input type sha256" per case of tests/reference/quantize/cases.tsv, the
#   sha256 of the file llama-quantize writes (of its shards concatenated in order, with --keep-split).
# - tests/reference/quantize/{stories260K,synth}.imatrix.{gguf,dat}: importance matrices from llama-imatrix for the
#   cases that use one (small; committed so the cases do not depend on regenerating them).
# - tests/reference/split/sha256.txt: "id part sha256" per case of tests/reference/split/cases.tsv: each shard
#   llama-gguf-split --split writes ("00001-of-00003"), and the file llama-gguf-split --merge makes of them
#   ("merged").
# The inputs (stories260K and synthesized models) come from tests/reference/quantize/inputs.sh, with llamac synth
# ($LLAMAC, default build/bin/llamac, which must be built).

LLAMAC=${LLAMAC:-"$root/build/bin/llamac"}
MODELS=$models
. "$out/quantize/inputs.sh"
qdir="$out/quantize"
gwork="$work/gguf-tools"
rm -rf "$gwork" && mkdir -p "$gwork"

# Importance matrices: llama-imatrix over a fixed pseudo-random text made of the stories' words.
python3 - "$gwork/imatrix-text.txt" <<'PY'
import random, sys
random.seed(1)
words = ('once upon a time there was a little girl named lily she liked to play in the park with her friend tom '
         'one day they saw a big dog and the dog was happy').split()
open(sys.argv[1], 'w').write(' '.join(random.choice(words) for _ in range(3000)) + '\n')
PY
for name in stories260K synth; do
  model=$(ref_input "$name" "$gwork")
  for fmt in gguf dat; do
    # the text's path is recorded in the file: give it relative, so that the file does not depend on $work
    (cd "$gwork" && "$bin/llama-imatrix" -m "$model" -f imatrix-text.txt -c 128 --no-ppl -t 1 \
        --output-format "$fmt" -o "$qdir/$name.imatrix.$fmt" </dev/null >/dev/null 2>&1)
  done
  echo "imatrix: $name" >&2
done

# Quantize: run in a folder holding the importance matrices, so that flags name them as the tests do (the path is
# recorded in the output's quantize.imatrix.file).
cp "$qdir"/*.imatrix.* "$gwork/"
: > "$qdir/sha256.txt"
while IFS=$'\t' read -r id input type flags; do
  [ -z "$id" ] || [ "${id:0:1}" = "#" ] && continue
  model=$(ref_input "$input" "$gwork")
  read -r -a args <<< "$flags"
  rm -f "$gwork"/out-*
  (cd "$gwork" && "$bin/llama-quantize" "${args[@]}" "$model" "out-$id.gguf" "$type" 1 </dev/null >/dev/null 2>&1)
  sum=$(cat $(ls "$gwork"/out-"$id"*.gguf | sort) | sha256sum | cut -d' ' -f1)
  echo "$id $input $type $sum" >> "$qdir/sha256.txt"
  echo "quantize: $id" >&2
done < "$qdir/cases.tsv"

# Split and merge.
sdir="$out/split"
: > "$sdir/sha256.txt"
while IFS=$'\t' read -r id input flags; do
  [ -z "$id" ] || [ "${id:0:1}" = "#" ] && continue
  model=$(ref_input "$input" "$gwork")
  read -r -a args <<< "$flags"
  rm -f "$gwork"/shard-* "$gwork"/merged.gguf
  "$bin/llama-gguf-split" --split "${args[@]}" "$model" "$gwork/shard-$id" >/dev/null 2>&1
  for shard in $(ls "$gwork"/shard-"$id"-*.gguf | sort); do
    part=${shard#"$gwork/shard-$id-"}
    echo "$id ${part%.gguf} $(sha256sum < "$shard" | cut -d' ' -f1)" >> "$sdir/sha256.txt"
  done
  first=$(ls "$gwork"/shard-"$id"-*.gguf | sort | head -n 1)
  "$bin/llama-gguf-split" --merge "$first" "$gwork/merged.gguf" >/dev/null 2>&1
  echo "$id merged $(sha256sum < "$gwork/merged.gguf" | cut -d' ' -f1)" >> "$sdir/sha256.txt"
  echo "split: $id" >&2
done < "$sdir/cases.tsv"
