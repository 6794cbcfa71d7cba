# Part of scripts/gen-reference.sh (sourced; uses its root, src, models, out and work): the prompts llama-server makes
# with each of llama.cpp's built-in chat formats, for `--chat-template NAME`.
#
# For every name llama.cpp lists (llama_chat_builtin_templates, printed by llama-server --help) the pinned llama-server
# is started on loopback with --no-jinja --chat-template NAME and stories260K.gguf, and the conversations below (the
# ones a built-in format can take: no tools) of tests/reference/chat/conversations/ are posted to /apply-template.
# The answers go to tests/reference/chat/builtin/<name>__<conversation>.txt (the prompt, exact bytes) or .err
# ("STATUS MESSAGE"). llamac renders these formats through llama.cpp's llama_chat_apply_template (llamac_template_builtin),
# so this checks the adaptation around it: content parts, the system and developer roles, BOS stripping, prefill.
#
# llama-server comes from the reference-tools build (cmake --build build --target reference-tools), or
# $LLAMA_SERVER.

builtin_out="$out/chat/builtin"
builtin_convs="user_only system_user multi_turn_eos typed_content no_generation_prompt developer_role null_content
  continue_final prefill_assistant system_mid non_ascii_markers bad_missing_content"
mkdir -p "$builtin_out"
rm -f "$builtin_out"/*__*.txt "$builtin_out"/*__*.err

# the names, from llama-server's help for --chat-template (a comma list after "list of built-in templates:")
names=$("$llama_server" --help 2>/dev/null | sed -n '/^--chat-template JINJA_TEMPLATE/,/^--chat-template-file/p' |
  sed -n '/list of built-in templates:/,/(env:/p' | sed '1d;$d' | tr -d ' \n' | tr ',' ' ')
[ -n "$names" ] || { echo "chat-builtin: no built-in template names in llama-server --help" >&2; exit 1; }
printf '%s\n' $names > "$builtin_out/names.txt"

for name in $names; do
  ref_server_start "$work/builtin-server.log" -m "$models/stories260K.gguf" --no-jinja --chat-template "$name" \
    -c 256 -np 1 -t 1 --no-warmup || exit 1
  port=$ref_port
  for conv in $builtin_convs; do
    base="$builtin_out/${name}__$conv"
    code=$(curl -s -o "$work/builtin-body" -w '%{http_code}' -H 'Content-Type: application/json' -H 'Expect:' \
      --data-binary @"$out/chat/conversations/$conv.json" "http://127.0.0.1:$port/apply-template")
    if [ "$code" = 200 ]; then
      jq -j .prompt "$work/builtin-body" > "$base.txt"
    else
      printf '%s %s\n' "$code" "$(jq -r .error.message "$work/builtin-body")" > "$base.err"
    fi
  done
  ref_server_stop
done
echo "chat-builtin: $(wc -w <<< "$names") formats, $(ls "$builtin_out"/*.txt | wc -l) prompts," \
  "$(ls "$builtin_out"/*.err 2> /dev/null | wc -l) refusals" >&2
