#!/usr/bin/env bash
# Regenerates tests/reference/json_schema/*.gbnf: llama.cpp's own JSON-Schema-to-grammar output for each case of
# tests/reference/json_schema/cases.json, built from the pinned source (only the converter's few files, linked with
# the prebuilt ggml-base). Review the diff and commit it:
#
#     scripts/reference/json-schema.sh [LLAMA_PREFIX]   # default .deps/llama-prefix
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/.deps/llama.cpp"
prefix=${1:-"$root/.deps/llama-prefix"}
out="$root/tests/reference/json_schema"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"${CXX:-g++}" -std=c++17 -O1 -I"$src/common" -I"$src/include" -I"$src/ggml/include" -I"$src/vendor" \
    "$root/scripts/reference/json_schema_to_grammar.cpp" "$src/common/json-schema-to-grammar.cpp" \
    "$src/common/json-schema.cpp" "$src/common/json.cpp" "$src/common/unicode.cpp" "$src/common/trie.cpp" \
    -L"$prefix/lib" -lggml-base -Wl,-rpath,"$prefix/lib" -o "$tmp/json_schema_to_grammar"
rm -f "$out"/*.gbnf "$out"/*.error
"$tmp/json_schema_to_grammar" "$out/cases.json" "$out"
echo "wrote $(ls "$out"/*.gbnf "$out"/*.error 2> /dev/null | wc -l) grammars into $out"
