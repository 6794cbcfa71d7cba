# The input models of the quantize and split fidelity cases, shared by scripts/reference/gguf-tools.sh (which makes
# the references with llama.cpp's tools) and tests/cli/test_quantize.sh / test_gguf_tools.sh (which check llamac's
# output against them). Synthesized models are byte-for-byte reproducible, so the references stay valid.
#
# ref_input NAME DIR: writes model NAME into DIR and prints the path to give to the tools (for a split model, its
# first shard). Needs $LLAMAC (the llamac binary) and $MODELS (the test model directory).
ref_input() {
  local name=$1 dir=$2
  local synth=("$LLAMAC" synth -q --arch llama --layers 2 --embd 256 --ffn 512 --heads 4
               --vocab-from "$MODELS/stories260K.gguf")
  case "$name" in
    stories260K)
      cp "$MODELS/stories260K.gguf" "$dir/stories260K.gguf" && echo "$dir/stories260K.gguf" ;;
    synth)
      "${synth[@]}" --seed 7 -o "$dir/synth.gguf" && echo "$dir/synth.gguf" ;;
    synth-untied)
      "${synth[@]}" --seed 8 --untied-output -o "$dir/synth-untied.gguf" && echo "$dir/synth-untied.gguf" ;;
    synth-split)
      "${synth[@]}" --seed 7 -o "$dir/synth-whole.gguf" &&
        "$LLAMAC" split -q --split-max-tensors 8 "$dir/synth-whole.gguf" "$dir/synth-split" &&
        echo "$dir/synth-split-00001-of-00003.gguf" ;;
    *) echo "ref_input: unknown input '$name'" >&2; return 1 ;;
  esac
}
