#!/usr/bin/env bash
# Regenerates tests/reference/tool_parse/<template>.json: how llama.cpp's chat layer reads the model replies of
# tests/reference/tool_parse/replies.json (plain text, reasoning, tool calls of each family written in the family's
# own syntax, malformed calls) for every template llama.cpp ships, through scripts/reference/tool_parse.cpp (built
# against the pinned build's libllama-common). replies.json's "templates" names the family whose replies each
# template is given besides the "common" ones. Review the diff and commit it:
#
#     scripts/reference/tool-parse.sh [LLAMA_REF_BIN]   # default build/reference/bin (cmake --build build
#                                                       # --target reference-tools), or $LLAMA_REF_BIN
set -euo pipefail

root=$(cd "$(dirname "$0")/../.." && pwd)
src="$root/.deps/llama.cpp"
bin=${1:-${LLAMA_REF_BIN:-"$root/build/reference/bin"}}
out="$root/tests/reference/tool_parse"
[ -e "$bin/libllama-common.so" ] || { echo "tool-parse: $bin/libllama-common.so not found (build the reference-tools target)" >&2; exit 1; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

"${CXX:-g++}" -std=c++17 -O1 -I"$src/common" -I"$src/include" -I"$src/ggml/include" -I"$src/vendor" \
    "$root/scripts/reference/tool_parse.cpp" -L"$bin" -lllama-common -lllama -Wl,-rpath,"$bin" -o "$tmp/tool_parse"
find "$out" -name '*.json' ! -name replies.json -delete
export TZ=UTC
for tmpl in "$src"/models/templates/*.jinja; do
  name=$(basename "$tmpl" .jinja)
  LLAMA_LOG_VERBOSITY=-1 "$tmp/tool_parse" "$tmpl" "$name" "$out/replies.json" "$out/$name.json" 2> "$tmp/log" || {
    echo "tool-parse: $name failed:" >&2
    tail -5 "$tmp/log" >&2
    exit 1
  }
done
echo "tool-parse: $(ls "$out"/*.json | grep -vc replies.json) templates into $out" >&2
