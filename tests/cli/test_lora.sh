# LoRA adapters and control vectors on the command line: `llamac synth --lora / --control-vector` write adapters that
# llama.cpp loads, with the same bytes for the same flags, and refuse bad flags with exit 2 and no file left behind;
# `llamac run --lora / --lora-scaled / --control-vector...` prints what llama.cpp's llama-completion printed with the
# same flags and files (tests/reference/lora/, scripts/reference/lora.sh), on stories260K and on a synthesized model,
# and what it printed on the model llama-export-lora merged; bad adapter files and flags get a clear error.
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

# --- run with adapters: the files scripts/reference/lora.sh writes, the same way ---
"$LLAMAC" synth -q --arch llama --layers 2 --embd 128 --heads 2 --ffn 256 --untied-output --seed 5 --init-std 0.1 \
    --vocab-from "$M" -o "$TMP/synth.gguf"
"$LLAMAC" synth -q --lora -m "$M" -o "$TMP/stories-lora.gguf" --targets all --seed 1 --init-std 0.07
"$LLAMAC" synth -q --lora -m "$TMP/synth.gguf" -o "$TMP/synth-lora.gguf" --targets all --rank 4 --seed 3 \
    --init-std 0.1
"$LLAMAC" synth -q --control-vector -m "$M" -o "$TMP/stories-cvec.gguf" --seed 2 --init-std 0.1
L="$REF/lora"
n=0
while IFS=$'\t' read -r name model flags; do
  [ -z "$name" ] || [ "${name:0:1}" = "#" ] && continue
  m="$M"
  [ "$model" != synth ] || m="$TMP/synth.gguf"
  case "$flags" in
    merged:*) IFS=: read -r _ file scale <<< "$flags"; args=(--lora-scaled "$TMP/$file:$scale") ;;
    *) read -r -a args <<< "${flags//@/$TMP/}" ;;
  esac
  run_llamac "$TMP/out.txt" "$TMP/err.txt" run -m "$m" "${args[@]}" -p "Once upon a time" -n 48 --temp 0 -t 1
  expect_eq "$name status" "$rc" 0
  n=$((n + 1))
  if cmp -s "$TMP/out.txt" "$L/$name.txt"; then
    pass
    continue
  fi
  case "$flags" in
    merged:*)
      # A merged model rounds differently from the adapter applied at run time. On random weights the greedy
      # choice can tip: llamac must then agree with the merged model at least as long as llama.cpp's own run-time
      # adapter does (the reference of the same adapter and scale, named NAME with merged -> lora).
      same=$(cmp "$TMP/out.txt" "$L/$name.txt" 2>/dev/null | sed -n 's/.*byte \([0-9]*\).*/\1/p')
      theirs=$(cmp "$L/${name/merged/lora}.txt" "$L/$name.txt" 2>/dev/null | sed -n 's/.*byte \([0-9]*\).*/\1/p')
      if [ -n "$same" ] && [ -n "$theirs" ] && [ "$same" -ge "$theirs" ]; then
        pass
      else
        fail "$name: differs from the merged model's text at byte ${same:-?}, llama.cpp at ${theirs:-none}"
      fi
      ;;
    *)
      fail "$name ($flags): output differs from llama-completion's"
      diff <(cat "$L/$name.txt"; echo) <(cat "$TMP/out.txt"; echo) >&2 || true
      ;;
  esac
done < "$L/cases.tsv"
expect_eq "cases run" "$n" 12
# the adapters change the text, and scale 0 is the base model exactly
if cmp -s "$L/stories-lora-1.txt" "$L/stories-base.txt"; then fail "the adapter changes nothing"; else pass; fi
if cmp -s "$L/stories-lora-0.txt" "$L/stories-base.txt"; then pass; else fail "scale 0 is not the base model"; fi
if cmp -s "$L/stories-base.txt" "$REF/greedy/1.txt"; then pass; else fail "stories-base is not greedy case 1"; fi

# chat takes the same flags
printf 'Hello\n' > "$TMP/in.txt"
"$LLAMAC" chat -m "$MODELS/stories260K-chatml.gguf" --temp 0 -t 1 -n 16 < "$TMP/in.txt" > "$TMP/c0.txt" 2>/dev/null
"$LLAMAC" synth -q --lora -m "$MODELS/stories260K-chatml.gguf" -o "$TMP/chat-lora.gguf" --targets all --seed 1 \
    --init-std 0.07
rc=0
"$LLAMAC" chat -m "$MODELS/stories260K-chatml.gguf" --temp 0 -t 1 -n 16 --lora "$TMP/chat-lora.gguf" < "$TMP/in.txt" \
    > "$TMP/c1.txt" 2> "$TMP/e" || rc=$?
expect_eq "chat --lora status" "$rc" 0
if cmp -s "$TMP/c0.txt" "$TMP/c1.txt"; then fail "chat --lora: the same reply as without it"; else pass; fi
"$LLAMAC" chat -m "$MODELS/stories260K-chatml.gguf" --temp 0 -t 1 -n 16 --lora-scaled "$TMP/chat-lora.gguf:0" \
    < "$TMP/in.txt" > "$TMP/c2.txt" 2>/dev/null
if cmp -s "$TMP/c0.txt" "$TMP/c2.txt"; then pass; else fail "chat at scale 0: another reply than without it"; fi

# bad adapters and flags
runbad() { # NAME STATUS NEEDLE ARGS...
  local name=$1 status=$2 needle=$3
  shift 3
  run_llamac "$TMP/o" "$TMP/e" run -m "$M" -p "Once" -n 4 -t 1 "$@"
  expect_eq "$name status" "$rc" "$status"
  expect_contains "$name message" "$(cat "$TMP/e")" "$needle"
  expect_eq "$name stdout" "$(cat "$TMP/o")" ""
}
runbad "missing adapter" 1 "missing.gguf" --lora "$TMP/missing.gguf"
runbad "adapter of another model" 1 "made for another base model" --lora "$TMP/synth-lora.gguf"
runbad "model as adapter" 1 "(it is a model)" --lora "$M"
runbad "cvec as adapter" 1 "is a control vector, not a LoRA adapter" --lora "$TMP/stories-cvec.gguf"
runbad "adapter as cvec" 1 "is a LoRA adapter, not a control vector" --control-vector "$TMP/stories-lora.gguf"
head -c -100 "$TMP/stories-lora.gguf" > "$TMP/cut.gguf"
runbad "truncated adapter" 1 "truncated" --lora "$TMP/cut.gguf"
runbad "no scale" 2 "expected FNAME:SCALE" --lora-scaled "$TMP/stories-lora.gguf"
runbad "bad scale" 2 "invalid value 'x'" --lora-scaled "$TMP/stories-lora.gguf:x"
runbad "infinite scale" 2 "invalid value 'inf'" --lora-scaled "$TMP/stories-lora.gguf:inf"
runbad "empty name" 2 "an empty file name" --lora "$TMP/stories-lora.gguf,"
runbad "no value" 2 "needs a value" --lora
runbad "bad layer range" 1 "layer range 2 to 9" --control-vector "$TMP/stories-cvec.gguf" \
    --control-vector-layer-range 2 9
runbad "layer range alone" 1 "needs a --control-vector" --control-vector-layer-range 1 2
# START,END as one value means the same as two arguments
runbad "bad layer range, one value" 1 "layer range 2 to 9" --control-vector "$TMP/stories-cvec.gguf" \
    --control-vector-layer-range 2,9
runbad "layer range without END" 2 "needs two values" --control-vector "$TMP/stories-cvec.gguf" \
    --control-vector-layer-range 2
runbad "layer range not a number" 2 "invalid value 'x'" --control-vector-layer-range 2,x

# synth: the adapter flags and the model flags do not mix
synthbad() { # NAME NEEDLE ARGS...
  local name=$1 needle=$2
  shift 2
  run_llamac "$TMP/o" "$TMP/e" synth -o "$TMP/bad.gguf" "$@"
  expect_eq "synth $name status" "$rc" 2
  expect_contains "synth $name message" "$(cat "$TMP/e")" "$needle"
  [ ! -e "$TMP/bad.gguf" ] && pass || fail "synth $name: wrote a file"
}
synthbad "cvec with --rank" "'--rank' does not apply to synth --control-vector" --control-vector -m "$M" --rank 2
synthbad "lora with --layers" "'--layers' does not apply to synth --lora" --lora -m "$M" --layers 2
synthbad "model with --rank" "'--rank' applies to synth --lora or --control-vector only" --rank 2
synthbad "lora without base" "no base model" --lora
synthbad "bad invocation tokens" "invalid value 'a'" --lora -m "$M" --alora-invocation-tokens 1,a
finish
