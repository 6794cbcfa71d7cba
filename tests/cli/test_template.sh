# `llamac template`: the prompt printed byte for byte as llama.cpp's own engine renders it (references from
# scripts/gen-reference.sh, with the template and BOS/EOS texts taken from the model), the options, and every error
# a user can provoke giving one line on stderr and the documented exit status (1 failure, 2 usage).
. "$(dirname "$0")/lib.sh"
M="$MODELS/stories260K-chatml.gguf"
T="$MODELS/stories260K-chatml.template.jinja"
R="$REF/templates/model"
[ -f "$M" ] || { echo "SKIP: $M not found" >&2; exit 77; }

# -m: every messages file there gives exactly llama.cpp's bytes (cmp, so no trailing newline can hide)
for msgs in "$R"/*.json; do
  name=$(basename "$msgs" .json)
  run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$msgs"
  expect_eq "template -m ($name) status" "$rc" 0
  if cmp -s "$TMP/o" "$R/stories260K-chatml__$name.txt"; then pass; else fail "template -m ($name): bytes differ"; fi
  expect_eq "template -m ($name) is quiet" "$(cat "$TMP/e")" ""
done

# the same template from a file, and the messages from standard input
rc=0
"$LLAMAC" template --chat-template-file "$T" --messages - < "$R/multi_turn.json" > "$TMP/o" 2> "$TMP/e" || rc=$?
expect_eq "template --chat-template-file status" "$rc" 0
if cmp -s "$TMP/o" "$R/stories260K-chatml__multi_turn.txt"; then pass; else fail "template from a file: bytes differ"; fi

# --no-generation-prompt drops exactly the assistant header
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$R/system_user.json" --no-generation-prompt
expect_eq "--no-generation-prompt status" "$rc" 0
head -c -"$(printf '<|im_start|>assistant\n' | wc -c)" "$R/stories260K-chatml__system_user.txt" > "$TMP/want"
if cmp -s "$TMP/o" "$TMP/want"; then pass; else fail "--no-generation-prompt: bytes differ"; fi

# tools, kwargs, and the model's BOS/EOS texts given to a template from a file
printf '%s' '{{ bos_token }}|{{ eos_token }}|{{ tools | length }} {{ tools[0].function.name }}|{{ flag }}|{{ add_generation_prompt }}' \
  > "$TMP/t.jinja"
printf '%s' '[{"type": "function", "function": {"name": "get_weather"}}]' > "$TMP/tools.json"
printf '%s' '[{"role": "user", "content": "hi"}]' > "$TMP/m.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --chat-template-file "$TMP/t.jinja" --messages "$TMP/m.json" \
  --tools "$TMP/tools.json" --chat-template-kwargs '{"flag": true}'
expect_eq "tools and kwargs status" "$rc" 0
# (the BOS text is dropped: the model's tokenizer adds the BOS itself, as llama-server drops it)
expect_eq "tools and kwargs" "$(cat "$TMP/o")" "|</s>|1 get_weather|True|True"
run_llamac "$TMP/o" "$TMP/e" template --chat-template-file "$TMP/t.jinja" --messages "$TMP/m.json" --no-generation-prompt
# (add_generation_prompt is left undefined when false, as llama.cpp leaves it)
expect_eq "no model: empty BOS/EOS, no tools" "$(cat "$TMP/o")" "||0 ||"

run_llamac "$TMP/o" "$TMP/e" template --help
expect_eq "template --help status" "$rc" 0
expect_contains "template --help lists --messages" "$(cat "$TMP/o")" "--messages FILE"
run_llamac "$TMP/o" "$TMP/e" --help
expect_contains "llamac --help lists template" "$(cat "$TMP/o")" "template"

# usage errors: exit 2, one line
run_llamac "$TMP/o" "$TMP/e" template -m "$M"
expect_eq "no --messages status" "$rc" 2
expect_eq "no --messages message" "$(cat "$TMP/e")" "llamac template: no conversation given: pass --messages FILE.json or --request FILE.json"
rc=0
env -u LLAMAC_MODEL "$LLAMAC" template --messages "$TMP/m.json" > "$TMP/o" 2> "$TMP/e" < /dev/null || rc=$?
expect_eq "no template status" "$rc" 2
expect_contains "no template message" "$(cat "$TMP/e")" "no template given: pass -m MODEL, --chat-template-file FILE or --chat-template NAME"
run_llamac "$TMP/o" "$TMP/e" template --frobnicate
expect_eq "unknown option status" "$rc" 2
expect_contains "unknown option message" "$(cat "$TMP/e")" "unknown option '--frobnicate'"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages
expect_eq "missing value status" "$rc" 2

# failures: exit 1, one line naming the problem
printf '%s' '[{"role": "user", "content": "hi"' > "$TMP/bad.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$TMP/bad.json"
expect_eq "invalid JSON status" "$rc" 1
expect_contains "invalid JSON message" "$(cat "$TMP/e")" "llamac template: messages: invalid JSON at line 1"
expect_eq "invalid JSON prints nothing" "$(cat "$TMP/o")" ""
printf '%s' '{"role": "user"}' > "$TMP/obj.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$TMP/obj.json"
expect_eq "not an array status" "$rc" 1
expect_contains "not an array message" "$(cat "$TMP/e")" "messages must be a JSON array"
printf '%s\n%s' 'ok' "{{ raise_exception('no system role here') }}" > "$TMP/raise.jinja"
run_llamac "$TMP/o" "$TMP/e" template --chat-template-file "$TMP/raise.jinja" --messages "$TMP/m.json"
expect_eq "raise_exception status" "$rc" 1
expect_eq "raise_exception message" "$(cat "$TMP/e")" \
  "llamac template: chat template line 2, column 19: raise_exception: no system role here"
printf '%s' '{% for m in messages %}{{ m.role' > "$TMP/syntax.jinja"
run_llamac "$TMP/o" "$TMP/e" template --chat-template-file "$TMP/syntax.jinja" --messages "$TMP/m.json"
expect_eq "syntax error status" "$rc" 1
expect_contains "syntax error message" "$(cat "$TMP/e")" "syntax.jinja: chat template line 1"
expect_eq "syntax error is one line" "$(wc -l < "$TMP/e")" "1"
run_llamac "$TMP/o" "$TMP/e" template --chat-template-file "$TMP/missing.jinja" --messages "$TMP/m.json"
expect_eq "missing template file status" "$rc" 1
expect_contains "missing template file message" "$(cat "$TMP/e")" "cannot open"
run_llamac "$TMP/o" "$TMP/e" template -m "$MODELS/stories260K.gguf" --messages "$TMP/m.json"
expect_eq "model without a template (ChatML, as llama-server) status" "$rc" 0
expect_eq "model without a template: ChatML" "$(cat "$TMP/o")" $'<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant'

# request bodies as posted to /apply-template: one prints the prompt, several print one JSON line each
printf '%s' '{"messages": [{"role": "user", "content": "hi"}, {"role": "assistant", "content": "Hel"}]}' \
  > "$TMP/r1.json"
printf '%s' '{"messages": [{"role": "user"}]}' > "$TMP/r2.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$MODELS/stories260K.gguf" --request "$TMP/r1.json"
expect_eq "--request: a trailing assistant message is continued" "$(cat "$TMP/o")" \
  $'<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\nHel'
run_llamac "$TMP/o" "$TMP/e" template -m "$MODELS/stories260K.gguf" --request "$TMP/r1.json" --request "$TMP/r2.json"
expect_eq "two --request status (one refused)" "$rc" 1
expect_eq "two --request: prompt line" "$(jq -r .prompt < "$TMP/o" | head -1)" "<|im_start|>user"
expect_eq "two --request: error line" "$(sed -n 2p "$TMP/o" | jq -r .error)" \
  "messages[0]: all non-assistant messages must contain 'content'"
run_llamac "$TMP/o" "$TMP/e" template -m "$MODELS/stories260K.gguf" --request "$TMP/r2.json"
expect_eq "refused --request status" "$rc" 1
expect_contains "refused --request message" "$(cat "$TMP/e")" "r2.json: messages[0]"
printf '%s' '[1]' > "$TMP/r3.json"
run_llamac "$TMP/o" "$TMP/e" template -m "$MODELS/stories260K.gguf" --request "$TMP/r3.json"
expect_eq "--request not an object status" "$rc" 1
expect_contains "--request not an object message" "$(cat "$TMP/e")" "must be a JSON object"
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --request "$TMP/r1.json" --messages "$TMP/m.json"
expect_eq "--request with --messages status" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" template -m "$M" --messages "$TMP/m.json" --reasoning maybe
expect_eq "--reasoning maybe status" "$rc" 2
expect_contains "--reasoning maybe message" "$(cat "$TMP/e")" "expected on, off or auto"
# --reasoning on|off|auto as llama-server's: Qwen3's template closes an empty thinking block when thinking is off; a
# request's enable_thinking wins over the flag
QWEN3="${LLAMAC_LLAMA_SOURCE:-}/models/templates/Qwen-Qwen3-0.6B.jinja"
if [ -f "$QWEN3" ]; then
  for mode in on auto off; do
    run_llamac "$TMP/o.$mode" "$TMP/e" template --chat-template-file "$QWEN3" --messages "$TMP/m.json" --reasoning "$mode"
    expect_eq "--reasoning $mode status" "$rc" 0
  done
  # tails_as NAME FILE TEXT: FILE ends with TEXT (printf-escaped), trailing newlines included
  tails_as() {
    printf "$3" > "$TMP/want"
    [ "$(tail -c "$(wc -c < "$TMP/want")" "$2" | od -An -c)" = "$(od -An -c < "$TMP/want")" ] && pass || fail "$1"
  }
  tails_as "--reasoning on: no empty thinking block" "$TMP/o.on" '<|im_end|>\n<|im_start|>assistant\n'
  cmp -s "$TMP/o.on" "$TMP/o.auto" && pass || fail "--reasoning auto differs from on for a thinking template"
  tails_as "--reasoning off: an empty thinking block" "$TMP/o.off" 'assistant\n<think>\n\n</think>\n\n'
  printf '%s' '{"messages": [{"role": "user", "content": "hi"}], "chat_template_kwargs": {"enable_thinking": true}}' \
    > "$TMP/think.json"
  run_llamac "$TMP/o" "$TMP/e" template --chat-template-file "$QWEN3" --request "$TMP/think.json" --reasoning off
  cmp -s "$TMP/o" "$TMP/o.on" && pass || fail "a request's enable_thinking does not win over --reasoning off"
fi
# --chat-template NAME: llama.cpp's built-in formats (fidelity: test_chat_layer.sh); a wrong name lists the right ones
run_llamac "$TMP/o" "$TMP/e" template --chat-template llama3 --messages "$TMP/m.json"
expect_eq "--chat-template llama3" "$rc:$(cat "$TMP/o")" \
  "0:<|start_header_id|>user<|end_header_id|>"$'\n\n'"hi<|eot_id|><|start_header_id|>assistant<|end_header_id|>"
run_llamac "$TMP/o" "$TMP/e" template --chat-template llama-9 --messages "$TMP/m.json"
expect_eq "--chat-template unknown: status, nothing printed" "$rc:$(cat "$TMP/o")" "2:"
expect_contains "--chat-template unknown: names the valid ones" "$(cat "$TMP/e")" \
  "llamac template: --chat-template: \"llama-9\" is not one of llama.cpp's built-in chat templates (bailing,"
expect_contains "--chat-template unknown: llama3 among them" "$(cat "$TMP/e")" ", llama3, "
# --chat-template TEXT (a blank or a '{' in it): the template's own text, as llama-server takes it; one that does not
# parse is refused as a file's would be
run_llamac "$TMP/o" "$TMP/e" template --chat-template '{% for m in messages %}[{{ m.role }}] {{ m.content }}{% endfor %}' \
  --messages "$TMP/m.json"
expect_eq "--chat-template TEXT" "$rc:$(cat "$TMP/o")" "0:[user] hi"
run_llamac "$TMP/o" "$TMP/e" template --chat-template 'This is not a chat template, it is' --messages "$TMP/m.json"
expect_eq "--chat-template TEXT without markup: the text itself" "$rc:$(cat "$TMP/o")" \
  "0:This is not a chat template, it is"
run_llamac "$TMP/o" "$TMP/e" template --chat-template '{% for m in messages %}' --messages "$TMP/m.json"
expect_eq "--chat-template TEXT that does not parse: status" "$rc:$(cat "$TMP/o")" "2:"
expect_contains "--chat-template TEXT that does not parse: message" "$(cat "$TMP/e")" "llamac template: --chat-template: "
run_llamac "$TMP/o" "$TMP/e" template --chat-template chatml --chat-template-file "$TMP/raise.jinja" \
  --messages "$TMP/m.json"
expect_eq "--chat-template with --chat-template-file" "$rc:$(cat "$TMP/e")" \
  "2:llamac template: give at most one of --chat-template and --chat-template-file"
for cmd in serve chat; do
  run_llamac "$TMP/o" "$TMP/e" "$cmd" -m "$MODELS/stories260K.gguf" --chat-template nope
  expect_eq "$cmd --chat-template unknown: usage error" "$rc:$(grep -c 'is not one of llama.cpp' "$TMP/e")" "2:1"
done
run_llamac "$TMP/o" "$TMP/e" template -m "$TMP/nonexistent.gguf" --messages "$TMP/m.json"
expect_eq "missing model status" "$rc" 1

finish
