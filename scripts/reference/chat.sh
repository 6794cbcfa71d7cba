# Part of scripts/gen-reference.sh (sourced; uses its root, models, out and work): the prompts llama-server's chat
# layer makes, for the chat-layer fidelity tests.
#
# For every template llama.cpp ships (models/templates/*.jinja) the pinned llama-server is started on loopback with
# --jinja --chat-template-file and stories260K.gguf (its SentencePiece vocabulary adds a BOS, so "<s>" is stripped
# from prompts that start with it, as for a real Llama 2 or Mistral model), and every request body of
# tests/reference/chat/conversations/*.json is posted to /apply-template unchanged. The answers go to
# tests/reference/chat/<template>__<conversation>.txt (the prompt, exact bytes) or, where llama-server refuses the
# conversation, .err ("STATUS MESSAGE"). llama-server passes today's date (local time; run with TZ=UTC), recorded in
# tests/reference/chat/date.txt so that the comparison can normalise it: the references keep the real dates.
# tests/reference/chat/caps.tsv has each template's capabilities as llama-server's /props reports them
# (chat_template_caps), which llamac's probes must find too.
#
# llama-server comes from the reference-tools build (cmake --build build --target reference-tools), or
# $LLAMA_SERVER.

chat_out="$out/chat"
chat_model="$models/stories260K.gguf"
export TZ=UTC
rm -f "$chat_out"/*__*.txt "$chat_out"/*__*.err
date +%Y-%m-%d > "$chat_out/date.txt"
: > "$chat_out/caps.tsv"

for tmpl in "$src"/models/templates/*.jinja; do
  name=$(basename "$tmpl" .jinja)
  ref_server_start "$work/chat-server.log" -m "$chat_model" --jinja --chat-template-file "$tmpl" -c 256 -np 1 -t 1 \
    --no-warmup || exit 1
  port=$ref_port
  curl -s "http://127.0.0.1:$port/props" > "$work/chat-props"
  printf '%s\t%s\n' "$name" "$(jq -c '.chat_template_caps | {supports_string_content, supports_typed_content,
    supports_system_role, supports_tools, supports_tool_calls, supports_parallel_tool_calls, supports_object_arguments,
    supports_preserve_reasoning, supports_reasoning_effort}' "$work/chat-props")" >> "$chat_out/caps.tsv"
  n_err=0
  for conv in "$out"/chat/conversations/*.json; do
    base="$chat_out/${name}__$(basename "$conv" .json)"
    code=$(curl -s -o "$work/chat-body" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Expect:' \
      --data-binary @"$conv" "http://127.0.0.1:$port/apply-template")
    if [ "$code" = 200 ]; then
      jq -j .prompt "$work/chat-body" > "$base.txt"
    else
      printf '%s %s\n' "$code" "$(jq -r .error.message "$work/chat-body")" > "$base.err"
      n_err=$((n_err + 1))
    fi
  done
  ref_server_stop
  echo "chat: $name ($n_err refused)" >&2
done
echo "chat: $(ls "$chat_out"/*.txt | wc -l) prompts, $(ls "$chat_out"/*.err | wc -l) refusals" >&2
