#!/usr/bin/env bash
# Embedding throughput: `llamac embed` against llama.cpp's `llama-embedding` (built from the pinned source in
# .deps/build-ref by scripts/gen-reference.sh or `cmake --build .deps/build-ref --target llama-embedding`, or into
# build/reference by `cmake --build build --target reference-tools`), on the same model, texts, threads and settings,
# runs interleaved. Prints texts/s and tokens/s and the ratio. LLAMAC_BIN and LLAMA_EMBEDDING name other binaries.
#
# Usage: bench/embed.sh [MODEL] [N_TEXTS] [THREADS] [REPEATS]
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
model=${1:-"${LLAMAC_TEST_MODELS:-$root/../shared/models}/stories260K.gguf"}
n=${2:-1000}
threads=${3:-$(nproc)}
reps=${4:-3}
llamac=${LLAMAC_BIN:-"$root/build/bin/llamac"}
ref=${LLAMA_EMBEDDING:-"$root/.deps/build-ref/bin/llama-embedding"}
[ -x "$ref" ] || [ -n "${LLAMA_EMBEDDING:-}" ] || ref="$root/build/reference/bin/llama-embedding"
[ -x "$ref" ] || { echo "embed.sh: build llama-embedding first (cmake --build .deps/build-ref --target llama-embedding)" >&2; exit 1; }

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
words=(the little dog ran to park and saw a big red ball she wanted play with it one day happy girl named lily)
for i in $(seq 1 "$n"); do
  len=$((4 + i % 9))
  line=""
  for j in $(seq 1 "$len"); do line+="${words[$(((i * 7 + j * 13) % ${#words[@]}))]} "; done
  echo "${line% }"
done > "$work/texts.txt"
n_tokens=$(awk '{ t += NF + 2 } END { print t }' "$work/texts.txt") # words + BOS/EOS, an estimate for tokens/s

# Both on their defaults for packing: llama-embedding packs up to 256 texts (and 2048 tokens) per decode into a
# unified cache; llamac embed gives texts of up to 256 tokens a KV stream each (up to 256 streams, within 256 MiB of
# cache) and decodes all texts of one length together (see llamac_embed). Both without flash attention, with
# n_batch = n_ubatch = n_ctx.
common=(-m "$model" -t "$threads" --pooling mean -b 2048 -ub 2048 -c 2048 -fa off)
best() { sort -n | head -1; }
ours=() theirs=()
for r in $(seq 1 "$reps"); do
  s=$(date +%s.%N); "$llamac" embed "${common[@]}" -q --format array < "$work/texts.txt" > "$work/a.txt"; e=$(date +%s.%N)
  ours+=("$(echo "$e - $s" | bc)")
  s=$(date +%s.%N); "$ref" "${common[@]}" -f "$work/texts.txt" --embd-output-format array > "$work/b.txt" 2>/dev/null; e=$(date +%s.%N)
  theirs+=("$(echo "$e - $s" | bc)")
done
t_ours=$(printf '%s\n' "${ours[@]}" | best)
t_theirs=$(printf '%s\n' "${theirs[@]}" | best)
[ "$(wc -l < "$work/a.txt")" -eq "$n" ] || { echo "embed.sh: llamac printed $(wc -l < "$work/a.txt") vectors, expected $n" >&2; exit 1; }
awk -v n="$n" -v tok="$n_tokens" -v a="$t_ours" -v b="$t_theirs" -v th="$threads" -v m="$(basename "$model")" 'BEGIN {
  printf "| model | texts | threads | llamac texts/s | llama-embedding texts/s | llamac tokens/s | ratio |\n"
  printf "| --- | ---: | ---: | ---: | ---: | ---: | ---: |\n"
  printf "| %s | %d | %d | %.0f | %.0f | %.0f | %.2f |\n", m, n, th, n / a, n / b, tok / a, b / a
  printf "{\"bench\":\"embed\",\"model\":\"%s\",\"texts\":%d,\"threads\":%d,\"llamac_s\":%.4f,\"llama_s\":%.4f,\"ratio\":%.3f}\n", m, n, th, a, b, b / a
}'
