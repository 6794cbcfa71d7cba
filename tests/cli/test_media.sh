# `llamac run` and `llamac chat` with a projector and media (--mmproj, --image, --audio, /image, /audio): on the
# projectors and files test_media_fidelity writes, the greedy answers equal llama-mtmd-cli's
# (tests/reference/mtmd/, flash attention off, 2 threads, as scripts/reference/mtmd.sh ran it); the image reaches the
# model (other images, other text); and every command-line error gets its message and exit status.
. "$(dirname "$0")/lib.sh"
media_fixtures
same=(--temp 0 -n 24 -fa off -t 2 -c 1024)

# run: the chat prompt llama-mtmd-cli renders, with special tokens parsed, gives its answer.
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/gradient-32x32.png" \
  -f "$(chatml '<__media__>Describe it')" --parse-special "${same[@]}"
expect_eq "run --image status" "$rc" 0
expect_eq "run --image = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/gradient32.txt")"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/checker-32x32.png" \
  -f "$(chatml '<__media__>Describe it')" --parse-special "${same[@]}"
expect_eq "run, another image = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/checker32.txt")"
[ "$(cat "$REF/mtmd/checker32.txt")" != "$(cat "$REF/mtmd/gradient32.txt")" ] && pass ||
  fail "two images give the same text: the image does not reach the model"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$A" --audio "$FX/tone-1s.wav" \
  -f "$(chatml '<__media__>What do you hear?')" --parse-special "${same[@]}" --no-mmproj-offload
expect_eq "run --audio = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/tone1s.txt")"
# A prompt without a marker gets one per medium in front, as llama-mtmd-cli does.
run_llamac "$TMP/a" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/dot-1x1.png" --image "$FX/rings-48x40.png" \
  -p "Once upon a time" "${same[@]}"
run_llamac "$TMP/b" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/dot-1x1.png" --image "$FX/rings-48x40.png" \
  -p "<__media__><__media__>Once upon a time" "${same[@]}"
expect_eq "markers in front" "$rc:$(cat "$TMP/a")" "0:$(cat "$TMP/b")"
[ -s "$TMP/a" ] && pass || fail "markers in front: no text"

# -fa is the encoder's too (as llama.cpp's tools pass it): libmtmd says so in its log at load.
for fa in on:enabled off:disabled; do
  run_llamac "$TMP/o" "$TMP/e" run -v -m "$M" --mmproj "$V" --image "$FX/dot-1x1.png" -p "Once" -n 1 -fa "${fa%%:*}" \
    -t 2 -c 1024
  expect_eq "run -v -fa ${fa%%:*}: status" "$rc" 0
  expect_contains "run -fa ${fa%%:*}: the encoder's attention" "$(cat "$TMP/e")" "flash attention is ${fa#*:}"
done

# --mmproj-url: the projector from a web server on loopback, downloaded once into the cache folder's urls/.
unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY ALL_PROXY all_proxy
export HF_HOME="$TMP/hf" no_proxy='*' NO_PROXY='*'
rm -rf "$HF_HOME" "$TMP/web.port"
(cd "$FX" && exec python3 -c 'import http.server, sys
s = http.server.ThreadingHTTPServer(("127.0.0.1", 0), http.server.SimpleHTTPRequestHandler)
open(sys.argv[1], "w").write(str(s.server_address[1])); s.serve_forever()' "$TMP/web.port" 2> "$TMP/web.err") &
web_pid=$!
trap 'kill $web_pid 2> /dev/null' EXIT
for _ in $(seq 100); do [ -s "$TMP/web.port" ] && break; sleep 0.1; done
WEB="http://127.0.0.1:$(cat "$TMP/web.port")"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "$WEB/mmproj-vision.gguf" --image "$FX/gradient-32x32.png" \
  -f "$(chatml '<__media__>Describe it')" --parse-special "${same[@]}"
expect_eq "--mmproj-url = llama-mtmd-cli" "$rc:$(cat "$TMP/o")" "0:$(cat "$REF/mtmd/gradient32.txt")"
cached=("$HF_HOME"/hub/urls/*-mmproj-vision.gguf)
expect_eq "--mmproj-url: the download is the file" "$(cmp "${cached[0]}" "$V" && echo same)" "same"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "$WEB/nope.gguf" --image "$FX/dot-1x1.png" -p x -n 1
expect_eq "--mmproj-url 404" "$rc:$(tail -1 "$TMP/e")" \
  "1:llamac run: --mmproj-url $WEB/nope.gguf: $WEB/nope.gguf answered HTTP 404"
expect_eq "--mmproj-url 404: nothing kept" "$(ls "$HF_HOME/hub/urls" | grep -v '\.lock$' | grep -c nope)" 0
kill "$web_pid" && wait "$web_pid" 2> /dev/null
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "$WEB/mmproj-vision.gguf" --image "$FX/gradient-32x32.png" \
  -f "$(chatml '<__media__>Describe it')" --parse-special "${same[@]}"
expect_eq "--mmproj-url again: from the cache, the server gone" "$rc:$(cat "$TMP/o")" \
  "0:$(cat "$REF/mtmd/gradient32.txt")"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "$WEB/other.gguf" --image "$FX/dot-1x1.png" -p x -n 1
expect_eq "--mmproj-url, nothing listening" "$rc" 1
expect_contains "--mmproj-url, nothing listening: message" "$(cat "$TMP/e")" \
  "llamac run: --mmproj-url $WEB/other.gguf: "
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "ftp://127.0.0.1/x.gguf" --image "$FX/dot-1x1.png" -p x -n 1
expect_eq "--mmproj-url ftp://" "$rc:$(tail -1 "$TMP/e")" \
  "1:llamac run: --mmproj-url ftp://127.0.0.1/x.gguf: ftp://127.0.0.1/x.gguf: only http and https URLs are downloaded (ftp)"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --mmproj-url "$WEB/x.gguf" -p x -n 1
expect_eq "--mmproj with --mmproj-url" "$rc:$(tail -1 "$TMP/e")" \
  "2:llamac run: pass either --mmproj FILE or --mmproj-url URL, not both"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj-url "$WEB/x.gguf" --no-mmproj -p x -n 1
expect_eq "--mmproj-url with --no-mmproj" "$rc:$(tail -1 "$TMP/e")" \
  "2:llamac run: --mmproj-url and --no-mmproj contradict each other"
unset HF_HOME

# chat: --image goes with the first message, /image with the next; the answers are llama-mtmd-cli's.
printf 'Describe it\n' > "$TMP/in"
"$LLAMAC" chat -m "$M" --mmproj "$V" --image "$FX/gradient-32x32.png" -q "${same[@]}" < "$TMP/in" > "$TMP/o" \
  2> "$TMP/e"
expect_eq "chat --image status" "$?" 0
expect_eq "chat --image = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/gradient32.txt")"
printf '/image %s\nWhat is this?\n' "$FX/rings-48x40.png" > "$TMP/in"
"$LLAMAC" chat -m "$M" --mmproj "$V" "${same[@]}" < "$TMP/in" > "$TMP/o" 2> "$TMP/e"
expect_eq "chat /image = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/rings48x40.txt")"
expect_contains "chat /image says so" "$(cat "$TMP/e")" "rings-48x40.png loaded: it goes with the next message"
printf '/audio %s\nWhat do you hear?\n' "$FX/tone-1s.wav" > "$TMP/in"
"$LLAMAC" chat -m "$M" --mmproj "$A" -q "${same[@]}" < "$TMP/in" > "$TMP/o" 2> "$TMP/e"
expect_eq "chat /audio = llama-mtmd-cli" "$(cat "$TMP/o")" "$(cat "$REF/mtmd/tone1s.txt")"
# Errors in the REPL are reported and the chat goes on.
printf '/image\n/image %s/nope.png\n/audio %s\nhi\n' "$FX" "$FX/tone-1s.wav" > "$TMP/in"
"$LLAMAC" chat -m "$M" --mmproj "$V" -q "${same[@]}" < "$TMP/in" > "$TMP/o" 2> "$TMP/e"
expect_eq "chat errors: the chat goes on" "$?" 0
expect_contains "/image without a file" "$(cat "$TMP/e")" "/image needs a file name"
expect_contains "/image missing file" "$(cat "$TMP/e")" "llamac chat: /image: cannot open media file '$FX/nope.png'"
expect_contains "/audio for a vision projector" "$(cat "$TMP/e")" "the projector takes no audio"
[ -s "$TMP/o" ] && pass || fail "chat errors: no answer to 'hi'"
printf '/image %s\nhi\n' "$FX/dot-1x1.png" > "$TMP/in"
"$LLAMAC" chat -m "$M" -q "${same[@]}" < "$TMP/in" > "$TMP/o" 2> "$TMP/e"
expect_contains "/image without a projector" "$(cat "$TMP/e")" \
  "/image needs a projector: start llamac chat with --mmproj FILE"

# Command-line errors: usage (2) before anything loads, else 1 with the reason.
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --image "$FX/dot-1x1.png" -p x
expect_eq "--image without --mmproj" "$rc:$(cat "$TMP/e")" \
  "2:llamac run: --image and --audio need a projector: pass --mmproj FILE (or --mmproj-url URL, or -hf a repo that has one)"
run_llamac "$TMP/o" "$TMP/e" chat -m "$M" --mmproj "$V" --no-mmproj
expect_eq "--mmproj with --no-mmproj" "$rc:$(cat "$TMP/e")" "2:llamac chat: --mmproj and --no-mmproj contradict each other"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" -mm "$V" --no-mmproj-auto -p x
expect_eq "-mm with --no-mmproj-auto" "$rc:$(cat "$TMP/e")" "2:llamac run: --mmproj and --no-mmproj contradict each other"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --no-mmproj --mmproj-auto --image "$FX/dot-1x1.png" -p x
expect_eq "--mmproj-auto undoes --no-mmproj" "$rc:$(cat "$TMP/e")" "2:llamac run: --image and --audio need a projector: pass --mmproj FILE (or --mmproj-url URL, or -hf a repo that has one)"
run_llamac "$TMP/o" "$TMP/e" chat --live -m "$M" --mmproj "$V"
expect_eq "chat --live with --mmproj" "$rc:$(cat "$TMP/e")" "2:llamac chat: media (--mmproj, --image, --audio) work without --live"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image-max-tokens 0 -p x
expect_eq "--image-max-tokens 0" "$rc" 2
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image
expect_eq "--image without a value" "$rc:$(cat "$TMP/e")" "2:llamac run: option --image needs a value (FILE)"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$M" --image "$FX/dot-1x1.png" -p x -q
expect_eq "a text model as projector: status" "$rc" 1
expect_contains "a text model as projector: message" "$(cat "$TMP/e")" "llamac run: projector $M: "
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$TMP/none.gguf" -p x -q
expect_eq "a missing projector" "$rc" 1
expect_contains "a missing projector: message" "$(cat "$TMP/e")" "projector $TMP/none.gguf: "
"$LLAMAC" synth --mmproj vision,audio -m "$M" -o "$FX/mmproj-both.gguf" -q
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$FX/mmproj-both.gguf" --image "$FX/tone-1s.wav" -p x -q
expect_eq "--image of a WAV" "$rc:$(cat "$TMP/e")" \
  "1:llamac run: --image $FX/tone-1s.wav: the file is audio, not an image"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$FX/mmproj-both.gguf" --audio "$FX/dot-1x1.png" -p x -q
expect_eq "--audio of a PNG" "$rc:$(cat "$TMP/e")" \
  "1:llamac run: --audio $FX/dot-1x1.png: the file is an image, not audio"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/../media/mmproj-vision.gguf" -p x -q
expect_eq "--image of a GGUF file" "$rc" 1
expect_contains "--image of a GGUF file: message" "$(cat "$TMP/e")" "llamac run: --image: "
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --audio "$FX/tone-1s.wav" -p x -q
expect_contains "--audio for a vision projector" "$(cat "$TMP/e")" "the projector takes no audio"
run_llamac "$TMP/o" "$TMP/e" run -m "$M" --mmproj "$V" --image "$FX/dot-1x1.png" -p "<__media__><__media__>x" -q
expect_eq "two markers, one image: status" "$rc" 1
expect_contains "two markers, one image" "$(cat "$TMP/e")" "the prompt has 2 media markers"
run_llamac "$TMP/o" "$TMP/e" run --help
expect_contains "run --help lists --image" "$(cat "$TMP/o")" "--image FILE"
expect_contains "run --help lists --audio" "$(cat "$TMP/o")" "--audio FILE"
expect_contains "run --help lists --mmproj" "$(cat "$TMP/o")" "-mm, --mmproj FILE"
run_llamac "$TMP/o" "$TMP/e" chat --help
expect_contains "chat --help lists /image" "$(cat "$TMP/o")" "/image FILE, /audio FILE"

finish
