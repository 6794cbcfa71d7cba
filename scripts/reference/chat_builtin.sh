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

llama_server=${LLAMA_SERVER:-"$root/build/reference/bin/llama-server"}
[ -x "$llama_server" ] || { echo "chat-builtin: $llama_server not found (build the reference-tools target)" >&2; exit 1; }
builtin_out="$out/chat/builtin"
builtin_convs="user_only system_user multi_turn_eos typed_content no_generation_prompt developer_role null_content
  continue_final prefill_assistant system_mid non_ascii_markers bad_missing_content"
mkdir -p "$builtin_out"
rm -f "$builtin_out"/*__*.txt "$builtin_out"/*__*.err

free_port() {
  python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])'
}

# the names, from llama-server's help for --chat-template (a comma list after "list of built-in templates:")
names=$("$llama_server" --help 2>/dev/null | sed -n '/^--chat-template JINJA_TEMPLATE/,/^--chat-template-file/p' |
  sed -n '/list of built-in templates:/,/(env:/p' | sed '1d;$d' | tr -d ' \n' | tr ',' ' ')
[ -n "$names" ] || { echo "chat-builtin: no built-in template names in llama-server --help" >&2; exit 1; }
printf '%s\n' $names > "$builtin_out/names.txt"

for name in $names; do
  port=$(free_port)
  "$llama_server" -m "$models/stories260K.gguf" --no-jinja --chat-template "$name" --host 127.0.0.1 --port "$port" \
    -c 256 -np 1 -t 1 --no-warmup > "$work/builtin-server.log" 2>&1 &
  pid=$!
  up=0
  for _ in $(seq 1 300); do
    if curl -sf "http://127.0.0.1:$port/health" > /dev/null 2>&1; then
      up=1
      break
    fi
    kill -0 "$pid" 2> /dev/null || break
    sleep 0.1
  done
  if [ "$up" != 1 ]; then
    echo "chat-builtin: llama-server did not start with $name:" >&2
    tail -5 "$work/builtin-server.log" >&2
    kill "$pid" 2> /dev/null || true
    exit 1
  fi
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
  kill "$pid"
  wait "$pid" 2> /dev/null || true
done
echo "chat-builtin: $(wc -w <<< "$names") formats, $(ls "$builtin_out"/*.txt | wc -l) prompts," \
  "$(ls "$builtin_out"/*.err 2> /dev/null | wc -l) refusals" >&2
