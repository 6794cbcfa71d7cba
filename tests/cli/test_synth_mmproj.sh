# `llamac synth --mmproj`: writes vision, audio and two-encoder projectors for a text model, byte-for-byte
# reproducibly, that load in libmtmd (checked through the library in test_media, and by `llamac run --mmproj` in
# test_media.sh); every command-line error with its exit status and no file left behind.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K-chatml.gguf"
rm -f "$TMP"/*.gguf "$TMP"/*.tmp.*

run_llamac "$TMP/o" "$TMP/e" synth --help
expect_contains "synth --help lists --mmproj" "$(cat "$TMP/o")" "--mmproj vision|audio|vision,audio"

run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision -m "$M" -o "$TMP/v.gguf"
expect_eq "vision status" "$rc" 0
expect_eq "vision summary" "$(cat "$TMP/o")" "wrote $TMP/v.gguf: mmproj vision (mlp) for $M"
run_llamac "$TMP/o" "$TMP/e" synth --mmproj audio -m "$M" -o "$TMP/a.gguf" -q
expect_eq "audio status" "$rc" 0
expect_eq "-q prints nothing" "$(cat "$TMP/o")" ""
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision,audio -m "$M" -o "$TMP/va.gguf" --embd 64 --heads 8 --layers 3 \
  --image-size 48 --patch-size 16 --stack-factor 2 --type f16 --seed 5
expect_eq "vision,audio status" "$rc" 0
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision --projector gemma3 --merge 4 -m "$M" -o "$TMP/g.gguf"
expect_eq "gemma3 summary" "$(cat "$TMP/o")" "wrote $TMP/g.gguf: mmproj vision (gemma3) for $M"
run_llamac "$TMP/o" "$TMP/e" info --json "$TMP/g.gguf"
expect_contains "gemma3 type" "$(tr -s ' ' < "$TMP/o" | tr -d '\n')" '"clip.projector_type": "gemma3"'
expect_contains "gemma3 merge" "$(tr -s ' ' < "$TMP/o" | tr -d '\n')" '"clip.vision.projector.scale_factor": 4'
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision --projector qwen2vl -m "$M" -o "$TMP/q.gguf"
run_llamac "$TMP/o" "$TMP/e" info --json "$TMP/q.gguf"
expect_contains "qwen2vl type" "$(tr -s ' ' < "$TMP/o" | tr -d '\n')" '"clip.projector_type": "qwen2vl_merger"'

# What the files hold, read back by `llamac info`.
run_llamac "$TMP/o" "$TMP/e" info --json "$TMP/va.gguf"
expect_eq "info status" "$rc" 0
info=$(cat "$TMP/o")
for kv in '"clip.vision.projector_type": "mlp"' '"clip.audio.projector_type": "ultravox"' \
          '"clip.vision.embedding_length": 64' '"clip.vision.image_size": 48' '"clip.vision.patch_size": 16' \
          '"clip.audio.projector.stack_factor": 2' '"clip.vision.projection_dim": 64' '"general.file_type": 1'; do
  expect_contains "info shows $kv" "$(tr -s ' ' <<< "$info" | tr -d '\n')" "$kv"
done

# Same flags, same bytes; another seed, other bytes.
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision -m "$M" -o "$TMP/v2.gguf"
if cmp -s "$TMP/v.gguf" "$TMP/v2.gguf"; then pass; else fail "same flags gave different bytes"; fi
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision -m "$M" -o "$TMP/v3.gguf" --seed 9
if cmp -s "$TMP/v.gguf" "$TMP/v3.gguf"; then fail "another seed gave the same bytes"; else pass; fi

# Errors: usage (2) before anything is written; a model that cannot be read (1).
check_usage() { # NAME EXPECTED_MESSAGE ARGS...
  local name=$1 msg=$2
  shift 2
  run_llamac "$TMP/o" "$TMP/e" synth "$@"
  expect_eq "$name status" "$rc" 2
  expect_contains "$name message" "$(cat "$TMP/e")" "$msg"
}
check_usage "unknown kind" "invalid value 'video' for --mmproj" --mmproj video -m "$M" -o "$TMP/x.gguf"
check_usage "no model" "no text model" --mmproj vision -o "$TMP/x.gguf"
check_usage "no output" "no output file" --mmproj vision -m "$M"
check_usage "heads" "n_head 5 does not divide n_embd 32" --mmproj vision -m "$M" -o "$TMP/x.gguf" --heads 5
check_usage "patch" "patch_size 5 does not divide image_size 32" --mmproj vision -m "$M" -o "$TMP/x.gguf" --patch-size 5
check_usage "type" "invalid value 'q8' for --type" --mmproj audio -m "$M" -o "$TMP/x.gguf" --type q8
check_usage "projector" "vision projector 'pixtral' is not mlp, gemma3 or qwen2vl" --mmproj vision -m "$M" \
  -o "$TMP/x.gguf" --projector pixtral
check_usage "merge" "n_merge 2 applies to the gemma3 projector only" --mmproj vision -m "$M" -o "$TMP/x.gguf" --merge 2
check_usage "merge too large" "n_merge 8 is more than the 4 patches per side" --mmproj vision --projector gemma3 \
  -m "$M" -o "$TMP/x.gguf" --merge 8
check_usage "text-model flag" "'--arch' does not apply to synth --mmproj" --mmproj audio -m "$M" -o "$TMP/x.gguf" --arch llama
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision -m "$TMP/missing.gguf" -o "$TMP/x.gguf"
expect_eq "missing model status" "$rc" 1
expect_contains "missing model message" "$(cat "$TMP/e")" "missing.gguf"
run_llamac "$TMP/o" "$TMP/e" synth --mmproj vision -m "$M" -o "$TMP/no/such/dir/x.gguf"
expect_eq "unwritable output status" "$rc" 1
if [ -e "$TMP/x.gguf" ] || ls "$TMP"/*.tmp.* >/dev/null 2>&1; then fail "a file was left behind"; else pass; fi
finish
