#!/usr/bin/env bash
# scripts/reference/greedy-flags.sh - the references of tests/cli/test_model_flags.sh: for each case of
# tests/reference/greedy_flags/cases.tsv (model, tokens to predict, llama.cpp flags, prompt), the text the pinned
# llama-completion generates greedily with those flags, without the prompt, into tests/reference/greedy_flags/<n>.txt.
# Run it after moving the pin (or adding a case), review the diff, and commit the result.
#
# Needs llama-completion built from the pinned source: $LLAMA_COMPLETION, or the reference-tools build's
# (cmake --build build --target reference-tools); and the test models ($LLAMAC_TEST_MODELS, default ../shared/models).
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
models=${LLAMAC_TEST_MODELS:-"$root/../shared/models"}
completion=${LLAMA_COMPLETION:-"$root/build/reference/bin/llama-completion"}
out="$root/tests/reference/greedy_flags"
[ -x "$completion" ] || { echo "$completion not found (build the reference-tools target)" >&2; exit 1; }
raw=$(mktemp)
trap 'rm -f "$raw"' EXIT

rm -f "$out"/[0-9]*.txt
i=0
while IFS=$'\t' read -r model n flags prompt; do
  [ -z "$model" ] || [ "${model:0:1}" = "#" ] && continue
  i=$((i + 1))
  read -ra extra <<< "$flags"
  "$completion" -m "$models/$model" -p "$prompt" -n "$n" --temp 0 "${extra[@]}" -no-cnv --no-display-prompt \
    --simple-io --no-warmup -t 1 < /dev/null > "$raw" 2> /dev/null
  # llama-completion ends its output with "\n\n" of its own; drop exactly that.
  head -c -2 "$raw" > "$out/$i.txt"
  echo "greedy-flags: case $i ($flags)" >&2
done < "$out/cases.tsv"
