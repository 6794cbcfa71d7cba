# `llamac serve --mmproj`: images and audio in /v1/chat/completions (image_url, input_audio) and llama-server's
# /completion (multimodal_data), on the projectors and files test_media_fidelity writes for stories260K-chatml.
# The greedy text of a request with an image is `llamac run --image`'s on the same files (and llama-mtmd-cli's,
# tests/reference/mtmd/), another image gives other text, the same image sent again is reused from the prompt cache
# (cached_tokens), /props and /v1/models report the modalities, the official OpenAI SDK sends a base64 image end to
# end, and every bad medium gets llama-server's message with a 400 (never a 500).
. "$(dirname "$0")/lib.sh"
. "$(dirname "$0")/serve_lib.sh"
command -v jq > /dev/null || { echo "jq is needed" >&2; exit 77; }
media_fixtures
same=(-fa off -t 2)

# What llamac run answers for each file, the reference of the server's answers.
for f in gradient-32x32 checker-32x32; do
  run_llamac "$TMP/run-$f" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/$f.png" \
    -f "$(chatml '<__media__>Describe it')" --parse-special --temp 0 -n 24 -c 1024 "${same[@]}"
  expect_eq "llamac run --image $f" "$rc" 0
done
run_llamac "$TMP/run-tone" "$TMP/e" run -m "$M" --mmproj "$A" --audio "$FX/tone-1s.wav" \
  -f "$(chatml '<__media__>What do you hear?')" --parse-special --temp 0 -n 24 -c 1024 "${same[@]}"
expect_eq "llamac run --audio" "$rc" 0

# Command-line errors: a projector that does not load (1), a --media-path that is no folder, contradicting flags (2).
run_llamac "$TMP/o" "$TMP/e" serve --port 0 -m "$M" --mmproj "$FX/nope.gguf"
expect_eq "missing projector: status" "$rc" 1
expect_contains "missing projector: message" "$(cat "$TMP/e")" "projector $FX/nope.gguf: cannot open projector"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 -m "$M" --mmproj "$V" --media-path "$V"
expect_eq "--media-path not a folder" "$rc:$(tail -1 "$TMP/e")" "2:llamac serve: --media-path $V: not a folder"
run_llamac "$TMP/o" "$TMP/e" serve --port 0 -m "$M" --mmproj "$V" --no-mmproj
expect_eq "--mmproj with --no-mmproj" "$rc:$(tail -1 "$TMP/e")" \
  "2:llamac serve: --mmproj and --no-mmproj contradict each other"

start_server V -m "$M" --mmproj "$V" -np 1 -c 1024 --media-path "$FX" "${same[@]}"
start_server N -m "$M" -np 1 -c 1024 "${same[@]}"

uri() { printf 'data:%s;base64,%s' "$2" "$(base64 -w0 "$1")"; }
# chat_body URL [TEXT] : one user message, an image part then a text part, greedy, 24 tokens.
chat_body() {
  jq -nc --arg url "$1" --arg text "${2:-Describe it}" '{messages: [{role: "user", content: [
    {type: "image_url", image_url: {url: $url}}, {type: "text", text: $text}]}], temperature: 0, max_tokens: 24}'
}

# /props and /v1/models: the modalities, and a random marker.
req GET "$V_URL/props"
expect_eq "props: modalities" "$(jqr '[.modalities.vision, .modalities.audio] | join(",")')" "true,false"
marker=$(jqr .media_marker)
[[ "$marker" =~ ^\<__media_[A-Za-z0-9]{24}__\>$ ]] && pass || fail "props: media_marker is [$marker]"
req GET "$N_URL/props"
expect_eq "props without a projector" "$(jqr '[.modalities.vision, .modalities.audio] | join(",")')" "false,false"
[ "$(jqr .media_marker)" != "$marker" ] && pass || fail "two servers have the same marker: not random"
req GET "$V_URL/v1/models"
expect_eq "models: capabilities" "$(jqr '.models[0].capabilities | join(",")')" "completion,multimodal"
expect_eq "models: OpenAI's list" "$(jqr '.data[0].object')" "model"
expect_eq "models: OpenAI's entry, for the chat page" "$(jqr '.data[0].capabilities | join(",")')" \
  "completion,multimodal"
req GET "$N_URL/v1/models"
expect_eq "models without a projector" "$(jqr '.models[0].capabilities | join(",")')" "completion"
expect_eq "models without a projector: OpenAI's entry" "$(jqr '.data[0].capabilities | join(",")')" "completion"

# The answers are llamac run's; another image, other text.
req POST "$V_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/gradient-32x32.png" image/png)")"
expect_eq "chat image: status" "$code" 200
expect_eq "chat image = llamac run --image" "$(jqr '.choices[0].message.content')" "$(cat "$TMP/run-gradient-32x32")"
expect_eq "chat image = llama-mtmd-cli" "$(jqr '.choices[0].message.content')" "$(cat "$REF/mtmd/gradient32.txt")"
n_prompt=$(jqr .usage.prompt_tokens)
expect_eq "first request: nothing cached" "$(jqr .usage.prompt_tokens_details.cached_tokens)" 0
# The same image again: all of the prompt but its last token comes from the cache, the image included.
req POST "$V_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/gradient-32x32.png" image/png)")"
expect_eq "same image: same text" "$(jqr '.choices[0].message.content')" "$(cat "$TMP/run-gradient-32x32")"
expect_eq "same image: cached_tokens" "$(jqr .usage.prompt_tokens_details.cached_tokens)" "$((n_prompt - 1))"
# A conversation that goes on re-sends the image: it is reused.
first=$(cat "$TMP/run-gradient-32x32")
body=$(jq -nc --arg url "$(uri "$FX/gradient-32x32.png" image/png)" --arg a "$first" '{messages: [
  {role: "user", content: [{type: "image_url", image_url: {url: $url}}, {type: "text", text: "Describe it"}]},
  {role: "assistant", content: $a}, {role: "user", content: "And then?"}], temperature: 0, max_tokens: 8}')
req POST "$V_URL/v1/chat/completions" "$body"
expect_eq "second turn: status" "$code" 200
cached=$(jqr .usage.prompt_tokens_details.cached_tokens)
[ "$cached" -ge "$((n_prompt - 1))" ] && pass || fail "second turn: cached_tokens $cached < $((n_prompt - 1))"
# Another image at the same place: other text, and the cache is used up to the image only.
req POST "$V_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/checker-32x32.png" image/png)")"
expect_eq "other image = llamac run --image" "$(jqr '.choices[0].message.content')" "$(cat "$TMP/run-checker-32x32")"
[ "$(cat "$TMP/run-checker-32x32")" != "$(cat "$TMP/run-gradient-32x32")" ] && pass ||
  fail "two images give the same text: the image does not reach the model"
cached=$(jqr .usage.prompt_tokens_details.cached_tokens)
req POST "$V_URL/tokenize" "$(jq -nc '{content: "<|im_start|>user\n", add_special: true}')"
expect_eq "other image: cached up to the image" "$cached" "$(jqr '.tokens | length')"
# A file under --media-path is the same image.
req POST "$V_URL/v1/chat/completions" "$(chat_body "file://gradient-32x32.png")"
expect_eq "file:// image" "$code:$(jqr '.choices[0].message.content')" "200:$(cat "$TMP/run-gradient-32x32")"
# A streamed answer is the same text.
curl -s -N -H 'Content-Type: application/json' \
  --data-binary "$(chat_body "$(uri "$FX/gradient-32x32.png" image/png)" | jq -c '. + {stream: true}')" \
  "$V_URL/v1/chat/completions" > "$TMP/sse"
sse_json "$TMP/sse"
expect_eq "streamed image" "$(jq -r '[.[].choices[0].delta.content // empty] | join("")' "$TMP/events")" \
  "$(cat "$TMP/run-gradient-32x32")"

# llama-server's /completion: prompt_string with the marker, multimodal_data with base64.
body=$(jq -nc --rawfile p "$(chatml "${marker}Describe it")" --arg d "$(base64 -w0 "$FX/checker-32x32.png")" \
  '{prompt: {prompt_string: $p, multimodal_data: [$d]}, temperature: 0, n_predict: 24}')
req POST "$V_URL/completion" "$body"
expect_eq "/completion multimodal_data" "$code:$(jqr .content)" "200:$(cat "$TMP/run-checker-32x32")"

# User text holding a marker stays text: libmtmd's default marker, and the prompt counts as on a server without media.
body=$(jq -nc '{messages: [{role: "user", content: "<__media__>Describe it"}], temperature: 0, max_tokens: 4}')
req POST "$V_URL/v1/chat/completions" "$body"
with=$(jqr .usage.prompt_tokens)
expect_eq "marker text: status" "$code" 200
req POST "$N_URL/v1/chat/completions" "$body"
expect_eq "marker text stays text" "$with" "$(jqr .usage.prompt_tokens)"

# Errors: llama-server's messages, status 400, the field named.
err() { # err NAME URL BODY MESSAGE
  req POST "$2" "$3"
  expect_eq "$1: status" "$code" 400
  expect_contains "$1: message" "$(jqr .error.message)" "$4"
}
err "no projector: image" "$N_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/dot-1x1.png" image/png)")" \
  "messages[0].content[0]: image input is not supported - hint: if this is unexpected, you may need to provide the mmproj"
expect_eq "no projector: param" "$(jqr .error.param)" "messages"
audio_body=$(jq -nc --arg d "$(base64 -w0 "$FX/tone-1s.wav")" '{messages: [{role: "user", content: [
  {type: "input_audio", input_audio: {data: $d, format: "wav"}}, {type: "text", text: "What do you hear?"}]}],
  temperature: 0, max_tokens: 24}')
err "no projector: audio" "$N_URL/v1/chat/completions" "$audio_body" "audio input is not supported - hint"
err "vision projector: audio" "$V_URL/v1/chat/completions" "$audio_body" "audio input is not supported - hint"
err "no projector: multimodal_data" "$N_URL/completion" \
  '{"prompt": {"prompt_string": "Hi <__media__>", "multimodal_data": ["AAAA"]}}' \
  "has multimodal_data, but this server has no multimodal projector"
err "bad mime type" "$V_URL/v1/chat/completions" "$(chat_body "data:text/html;base64,aGVsbG8=")" \
  "Invalid uri format: data:text/html;base64"
err "not base64 encoded" "$V_URL/v1/chat/completions" "$(chat_body "data:image/png,abc")" "uri must be base64 encoded"
err "two commas" "$V_URL/v1/chat/completions" "$(chat_body "data:image/png;base64,AA,AA")" \
  "Invalid uri-encoded base64 value"
err "not base64" "$V_URL/v1/chat/completions" "$(chat_body "data:image/png;base64,@@@@")" "Invalid base64 value"
err "bare text" "$V_URL/v1/chat/completions" "$(chat_body "malformed")" "Invalid base64 value"
err "empty url" "$V_URL/v1/chat/completions" "$(chat_body "")" "Invalid base64 value"
err "not an image" "$V_URL/v1/chat/completions" \
  "$(chat_body "data:image/png;base64,$(printf 'hello, world' | base64 -w0)")" "Failed to load image or audio file"
head -c 40 "$FX/gradient-32x32.png" > "$TMP/cut.png"
err "truncated PNG" "$V_URL/v1/chat/completions" "$(chat_body "$(uri "$TMP/cut.png" image/png)")" \
  "Failed to load image or audio file"
err "audio as image_url" "$V_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/tone-1s.wav" image/png)")" \
  "the projector takes no audio"
err "remote URL" "$V_URL/v1/chat/completions" "$(chat_body "http://127.0.0.1:1/cat.png")" \
  "remote media URLs are not fetched by this server (start it with --remote-media)"
err "file:// outside --media-path" "$V_URL/v1/chat/completions" "$(chat_body "file://../media/dot-1x1.png")" \
  "file path is not allowed: ../media/dot-1x1.png"
err "missing file" "$V_URL/v1/chat/completions" "$(chat_body "file://nope.png")" \
  "file does not exist or cannot be opened: nope.png"
err "image_url without url" "$V_URL/v1/chat/completions" \
  '{"messages": [{"role": "user", "content": [{"type": "image_url", "image_url": "x"}]}]}' \
  "messages[0].content[0] needs an object 'image_url' with a string 'url'"
err "markers and media differ" "$V_URL/completion" \
  "$(jq -nc --arg d "$(base64 -w0 "$FX/dot-1x1.png")" '{prompt: {prompt_string: "no marker", multimodal_data: [$d]}}')" \
  "media markers"
err "prompt ends with the image" "$V_URL/completion" \
  "$(jq -nc --arg m "$marker" --arg d "$(base64 -w0 "$FX/dot-1x1.png")" \
    '{prompt: {prompt_string: ("Look: " + $m), multimodal_data: [$d]}}')" "ends with a medium"
err "drafts take text" "$V_URL/v1/drafts" "$(chat_body "$(uri "$FX/dot-1x1.png" image/png)")" \
  "drafts prefill text only"
# The other dialects' image inputs reach the same prompt: Anthropic image blocks, Responses input_image, Ollama images.
b64=$(base64 -w0 "$FX/gradient-32x32.png")
req GET "$V_URL/v1/models"
model=$(jqr '.data[0].id')
req POST "$V_URL/v1/messages" "$(jq -nc --arg d "$b64" --arg m "$model" '{model: $m, max_tokens: 24, temperature: 0,
  messages: [{role: "user", content: [{type: "image", source: {type: "base64", media_type: "image/png", data: $d}},
  {type: "text", text: "Describe it"}]}]}')"
expect_eq "Anthropic image block" "$code:$(jqr '.content[0].text')" "200:$(cat "$TMP/run-gradient-32x32")"
# The token-counting endpoints count the image's tokens with the text, as the generation's usage does (they used to
# count the text alone)
a_prompt=$(jqr '.usage.input_tokens + .usage.cache_read_input_tokens')
req POST "$V_URL/v1/messages/count_tokens" "$(jq -nc --arg d "$b64" --arg m "$model" '{model: $m,
  messages: [{role: "user", content: [{type: "image", source: {type: "base64", media_type: "image/png", data: $d}},
  {type: "text", text: "Describe it"}]}]}')"
expect_eq "Anthropic count_tokens with an image" "$code:$(jqr .input_tokens)" "200:$a_prompt"
req POST "$V_URL/v1/chat/completions/input_tokens" "$(chat_body "$(uri "$FX/gradient-32x32.png" image/png)")"
expect_eq "chat input_tokens with an image" "$code:$(jqr .input_tokens)" "200:$n_prompt"
req POST "$V_URL/v1/responses" "$(jq -nc --arg u "$(uri "$FX/gradient-32x32.png" image/png)" '{temperature: 0,
  max_output_tokens: 24, input: [{role: "user", content: [{type: "input_image", image_url: $u},
  {type: "input_text", text: "Describe it"}]}]}')"
expect_eq "Responses input_image" "$code:$(jqr '.output[0].content[0].text')" "200:$(cat "$TMP/run-gradient-32x32")"
req POST "$V_URL/api/chat" "$(jq -nc --arg d "$b64" --arg m "$model" '{model: $m, stream: false,
  options: {temperature: 0, num_predict: 24}, messages: [{role: "user", content: "Describe it", images: [$d]}]}')"
expect_eq "Ollama images" "$code:$(jqr '.message.content')" "200:$(cat "$TMP/run-gradient-32x32")"
req POST "$V_URL/api/generate" "$(jq -nc --arg d "$b64" --arg m "$model" '{model: $m, stream: false,
  options: {temperature: 0, num_predict: 24}, prompt: "Describe it", images: [$d]}')"
expect_eq "Ollama generate images" "$code:$(jqr '.response')" "200:$(cat "$TMP/run-gradient-32x32")"
for bad in '{raw: true}|images with raw true are not supported' \
  '{context: [1, 2]}|context (an earlier generate'"'"'s tokens) with images is not supported' \
  '{images: "x"}|images must be an array of base64 strings' \
  '{images: [3]}|request.images[0] must be a base64 string' \
  '{images: ["bm90IGFuIGltYWdl"]}|Failed to load image or audio file'; do
  req POST "$V_URL/api/generate" "$(jq -nc --arg d "$b64" --arg m "$model" "{model: \$m, stream: false,
    prompt: \"Describe it\", images: [\$d]} + ${bad%%|*}")"
  expect_eq "Ollama generate ${bad%%|*}: status" "$code" 400
  expect_contains "Ollama generate ${bad%%|*}: message" "$(jqr .error)" "${bad#*|}"
done
req POST "$N_URL/api/generate" "$(jq -nc --arg d "$b64" --arg m "$model" '{model: $m, stream: false,
  prompt: "Describe it", images: [$d]}')"
expect_eq "Ollama generate images without a projector" "$code" 400
req POST "$V_URL/api/chat" "$(jq -nc --arg m "$model" '{model: $m, stream: false,
  messages: [{role: "user", content: "Describe it", images: ["bm90IGFuIGltYWdl"]}]}')"
expect_eq "Ollama bad image: status" "$code" 400
expect_contains "Ollama bad image: message" "$(jqr .error)" "Failed to load image or audio file"
req POST "$V_URL/v1/messages" "$(jq -nc --arg m "$model" '{model: $m, max_tokens: 4, messages: [{role: "user",
  content: [{type: "image", source: {type: "file", file_id: "x"}}]}]}')"
expect_eq "Anthropic bad source" "$code:$(jqr .error.type)" "400:invalid_request_error"
stop_server "$N_PID"

# Audio: input_audio and multimodal_data with an Ultravox projector, LLAMA_MEDIA_MARKER pinning the marker.
LLAMA_MEDIA_MARKER='<__media__>' start_server A -m "$M" --mmproj "$A" --no-mmproj-offload -np 1 -c 1024 "${same[@]}"
req GET "$A_URL/props"
expect_eq "audio props" "$(jqr '[.modalities.vision, .modalities.audio, .media_marker] | join(",")')" \
  "false,true,<__media__>"
req POST "$A_URL/v1/chat/completions" "$audio_body"
expect_eq "input_audio = llamac run --audio" "$code:$(jqr '.choices[0].message.content')" "200:$(cat "$TMP/run-tone")"
body=$(jq -nc --rawfile p "$(chatml '<__media__>What do you hear?')" --arg d "$(base64 -w0 "$FX/tone-1s.wav")" \
  '{prompt: {prompt_string: $p, multimodal_data: [$d]}, temperature: 0, n_predict: 24}')
req POST "$A_URL/completion" "$body"
expect_eq "/completion audio" "$code:$(jqr .content)" "200:$(cat "$TMP/run-tone")"
err "audio projector: image" "$A_URL/v1/chat/completions" "$(chat_body "$(uri "$FX/dot-1x1.png" image/png)")" \
  "image input is not supported - hint"
err "file:// without --media-path" "$A_URL/v1/chat/completions" \
  "$(jq -nc '{messages: [{role: "user", content: [{type: "input_audio", input_audio: {url: "file://tone-1s.wav"}}]}]}')" \
  "file:// URLs are not allowed unless --media-path is specified"
stop_server "$A_PID"
expect_eq "audio server exit" "$stop_rc" 0

# The official OpenAI SDK sends a base64 image (skipped without the npm registry).
if (npm_clients > /dev/null 2>&1); then
  npm_clients
  cat > "$TMP/sdk.js" << 'EOF'
const fs = require("fs");
const { OpenAI } = require(process.argv[2]);
const client = new OpenAI({ baseURL: process.argv[3] + "/v1", apiKey: "none", maxRetries: 0 });
const url = "data:image/png;base64," + fs.readFileSync(process.argv[4]).toString("base64");
(async () => {
  const r = await client.chat.completions.create({ model: "m", temperature: 0, max_tokens: 24, messages: [
    { role: "user", content: [{ type: "image_url", image_url: { url } }, { type: "text", text: "Describe it" }] }] });
  const out = { text: r.choices[0].message.content, cached: r.usage.prompt_tokens_details.cached_tokens };
  try {
    await client.chat.completions.create({ model: "m", messages: [{ role: "user", content: [
      { type: "image_url", image_url: { url: "data:text/plain;base64,aGk=" } }] }] });
    out.bad = "accepted";
  } catch (err) {
    out.bad = err.constructor.name + ":" + err.status;
  }
  console.log(JSON.stringify(out));
})().catch((err) => { console.error(err); process.exit(1); });
EOF
  sdk_run sdk openai "$V_URL" "$FX/gradient-32x32.png"
  expect_eq "SDK image = llamac run --image" "$(jqr .text "$TMP/sdk.json")" "$(cat "$TMP/run-gradient-32x32")"
  expect_eq "SDK bad image" "$(jqr .bad "$TMP/sdk.json")" "BadRequestError:400"
else
  echo "the OpenAI SDK test is skipped: npm clients unavailable" >&2
fi
stop_server "$V_PID"
expect_eq "server exit" "$stop_rc" 0
finish
