# LoRA adapters and control vectors on the command line: `llamac synth --lora / --control-vector` write adapters that
# llama.cpp loads, with the same bytes for the same flags, and refuse bad flags with exit 2 and no file left behind.
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K.gguf"
rm -f "$TMP"/*.gguf

# --- synth --lora / --control-vector ---
run_llamac "$TMP/o" "$TMP/e" synth --lora -m "$M" -o "$TMP/a.gguf" --targets all --seed 1 --init-std 0.07
expect_eq "synth --lora status" "$rc" 0
expect_contains "synth --lora summary" "$(cat "$TMP/o")" "LoRA adapter for $M"
run_llamac "$TMP/o" "$TMP/e" synth -q --lora -m "$M" -o "$TMP/a2.gguf" --targets all --seed 1 --init-std 0.07
if cmp -s "$TMP/a.gguf" "$TMP/a2.gguf"; then pass; else fail "synth --lora: same flags, different bytes"; fi
run_llamac "$TMP/o" "$TMP/e" synth -q --control-vector -m "$M" -o "$TMP/cv.gguf" --seed 2 --init-std 0.5
expect_eq "synth --control-vector status" "$rc" 0
run_llamac "$TMP/o" "$TMP/e" synth --help
expect_contains "synth --help lists --lora" "$(cat "$TMP/o")" "llamac synth --lora -m BASE.gguf"

# bad flags: exit 2, a message naming the problem, no file
bad() { # NAME NEEDLE ARGS...
  local name=$1 needle=$2
  shift 2
  run_llamac "$TMP/o" "$TMP/e" synth "$@"
  expect_eq "$name status" "$rc" 2
  expect_contains "$name message" "$(cat "$TMP/e")" "$needle"
  if [ -e "$TMP/bad.gguf" ]; then fail "$name left bad.gguf behind"; rm -f "$TMP/bad.gguf"; else pass; fi
}
bad "no base" "no base model" --lora -o "$TMP/bad.gguf"
bad "unknown target" "target 'attn_x' matches no matrix" --lora -m "$M" -o "$TMP/bad.gguf" --targets attn_q,attn_x
bad "rank too large" "rank 100" --lora -m "$M" -o "$TMP/bad.gguf" --rank 100
bad "bad rank" "invalid value" --lora -m "$M" -o "$TMP/bad.gguf" --rank x
bad "model flag" "does not apply to synth --lora" --lora -m "$M" -o "$TMP/bad.gguf" --arch qwen2
bad "lora flag on a cvec" "does not apply to synth --control-vector" --control-vector -m "$M" -o "$TMP/bad.gguf" --rank 4
bad "token outside the vocabulary" "outside the base's vocabulary" --lora -m "$M" -o "$TMP/bad.gguf" \
  --alora-invocation-tokens 1,99999
run_llamac "$TMP/o" "$TMP/e" synth --lora -m "$TMP/missing.gguf" -o "$TMP/bad.gguf"
expect_eq "missing base status" "$rc" 1
expect_contains "missing base message" "$(cat "$TMP/e")" "missing.gguf"
finish
