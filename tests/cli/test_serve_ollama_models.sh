# Ollama's model management against `llamac serve`, with the official Ollama JavaScript client (ollama, pinned in
# tests/npm) and a fake Hugging Face Hub on loopback (tests/hub/fake_hub.js): in router mode (no -m), /api/pull
# downloads hf.co/OWNER/REPO:QUANT into the Hugging Face cache with Ollama's progress objects (digests and sizes
# those of the files), the model is then listed by /api/tags and /v1/models and answers as `llamac run` does;
# /api/ps lists the loaded models with the expiry their keep_alive gives (a duration, -1 for ever); keep_alive 0
# unloads (its child process gone), at once for a request with nothing to generate; /api/delete removes the model
# from the cache (refusing a --models-dir model); a client that goes away mid-pull cancels it. Then the single-model
# server: pull and delete there, and keep_alive 0 putting a sleeping server (--sleep-idle-seconds) to sleep.
. "$(dirname "$0")/lib.sh" || exit 1
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
npm_clients
M="$MODELS/stories260K.gguf"
M2="$MODELS/stories260K-chatml.gguf"
W="$TMP/om"
rm -rf "$W"
mkdir -p "$W/models"
ln -s "$M" "$W/models/stories.gguf"
sha() { sha256sum < "$1" | cut -d' ' -f1; }
C1=1111111111111111111111111111111111111111
cat > "$W/config.json" << JSON
{"repos": {
  "test/tiny-GGUF": {"commit": "$C1", "files": [
    {"path": "README.md", "src": "$MODELS/README.md", "lfs": false},
    {"path": "tiny-Q8_0.gguf", "src": "$M2", "lfs": true},
    {"path": "tiny-Q4_K_M.gguf", "src": "$M", "lfs": true}]},
  "test/stall-GGUF": {"commit": "$C1", "files": [{"path": "m-Q8_0.gguf", "src": "$M2", "lfs": true, "mode": "stall"}]},
  "test/gated-GGUF": {"commit": "$C1", "token": "hf_sekrit", "files": [{"path": "m-Q8_0.gguf", "src": "$M", "lfs": true}]}
}}
JSON
fake_hub "$W"
CACHE="$HF_HOME/hub"
REPO="$CACHE/models--test--tiny-GGUF"

cat > "$TMP/sdk.js" << 'EOF'
const { Ollama } = require(process.argv[2]);
const [host, mode] = [process.argv[3], process.argv[4]];
const ollama = new Ollama({ host });
const err = (e) => `${e.name}:${e.status_code}:${e.error}`;
const names = (l) => l.models.map((m) => m.name).sort();
(async () => {
  const out = {};
  const model = "hf.co/test/tiny-GGUF:Q8_0";
  if (mode === "pull") {
    out.before = names(await ollama.list());
    out.events = [];
    for await (const p of await ollama.pull({ model, stream: true })) out.events.push(p);
    const list = await ollama.list();
    out.after = names(list);
    out.entry = list.models.find((m) => m.name === "test/tiny-GGUF:Q8_0");
    out.quiet = await ollama.pull({ model: "test/tiny-GGUF:Q4_K_M" }); // stream false: one object
    out.ps_none = (await ollama.ps()).models;
    const g = await ollama.generate({ model, prompt: "Once upon a time", raw: true,
                                      options: { temperature: 0, num_predict: 8 }, keep_alive: "1h" });
    out.generate = { response: g.response, model: g.model };
    out.ps_hour = (await ollama.ps()).models;
    out.now = Date.now();
    await ollama.generate({ model, prompt: "Once", raw: true, options: { num_predict: 1 }, keep_alive: -1 });
    out.ps_ever = (await ollama.ps()).models;
    const c = await ollama.chat({ model: "stories:latest", messages: [{ role: "user", content: "Hi" }],
                                  options: { temperature: 0, num_predict: 4 } });
    out.chat_stories = c.model;
    out.ps_two = names(await ollama.ps());
    const cases = {
      missing_repo: () => ollama.pull({ model: "hf.co/test/none-GGUF:Q8_0" }),
      missing_repo_stream: async () => { for await (const p of await ollama.pull({ model: "hf.co/test/none-GGUF", stream: true })) void p; },
      missing_quant: () => ollama.pull({ model: "hf.co/test/tiny-GGUF:Q2_K" }),
      gated: () => ollama.pull({ model: "hf.co/test/gated-GGUF" }),
      library_name: () => ollama.pull({ model: "llama3.2:1b" }),
      unknown_model: () => ollama.generate({ model: "nope:latest", prompt: "x" }),
    };
    out.errors = {};
    for (const [k, f] of Object.entries(cases)) {
      try { await f(); out.errors[k] = "accepted"; } catch (x) { out.errors[k] = err(x); }
    }
  } else if (mode === "unload") {
    out.unload = await ollama.generate({ model: "hf.co/test/tiny-GGUF:Q8_0", prompt: "", keep_alive: 0 });
    out.ps = names(await ollama.ps());
  } else if (mode === "keep0") {
    const g = await ollama.chat({ model: "stories", messages: [{ role: "user", content: "Hi" }],
                                  options: { num_predict: 2 }, keep_alive: 0 });
    out.done = g.done;
  } else if (mode === "delete") {
    await ollama.delete({ model: "hf.co/test/tiny-GGUF:Q8_0" });
    out.after = names(await ollama.list());
    const cases = {
      again: () => ollama.delete({ model: "hf.co/test/tiny-GGUF:Q8_0" }),
      models_dir: () => ollama.delete({ model: "stories" }),
      no_model: () => ollama.delete({ model: "" }),
    };
    out.errors = {};
    for (const [k, f] of Object.entries(cases)) {
      try { await f(); out.errors[k] = "accepted"; } catch (x) { out.errors[k] = err(x); }
    }
  }
  console.log(JSON.stringify(out));
})().catch((e) => { console.error(e); process.exit(1); });
EOF
sdk() { sdk_run "$1" ollama "$2" "$3"; }

# --- router mode: pull, list, generate, ps and keep_alive ---
start_server R --models-dir "$W/models" -c 512 -np 1 -t 1
sdk p "$R_URL" pull
F="$TMP/p.json"
expect_eq "before the pull: the folder's model" "$(jqr '.before | join(",")' "$F")" "stories:latest"
expect_eq "pull: Ollama's statuses in order" \
  "$(jqr '[.events[] | select(.digest | not) | .status] | join(",")' "$F")" \
  "pulling manifest,verifying sha256 digest,writing manifest,success"
sum=$(sha "$M2")
size=$(stat -L -c %s "$M2")
expect_eq "pull: progress of the model file, named by its digest" \
  "$(jqr '[.events[] | select(.digest) | "\(.status)|\(.digest)|\(.total)"] | unique | join(",")' "$F")" \
  "pulling ${sum:0:12}|sha256:$sum|$size"
expect_eq "pull: completed grows to the total" \
  "$(jqr '[.events[] | select(.digest) | .completed] | (. == sort) and (last == '"$size"')' "$F")" true
expect_eq "pull: the cache holds the blob" "$(sha "$REPO/blobs/$sum")" "$sum"
expect_eq "pull: linked from the snapshot" "$(readlink "$REPO/snapshots/$C1/tiny-Q8_0.gguf")" "../../blobs/$sum"
expect_eq "after the pull: listed" "$(jqr '.after | join(",")' "$F")" "stories:latest,test/tiny-GGUF:Q8_0"
expect_eq "tags: size and digest of the file" "$(jqr '.entry | "\(.size):\(.digest)"' "$F")" "$size:$sum"
expect_eq "tags: details from the GGUF" "$(jqr '.entry.details | "\(.format):\(.family):\(.parameter_size != "0")"' "$F")" \
  "gguf:llama:true"
expect_eq "pull, stream false: one object" "$(jqr '.quiet | tojson' "$F")" '{"status":"success"}'
expect_eq "the second quant too" "$(readlink "$REPO/snapshots/$C1/tiny-Q4_K_M.gguf")" "../../blobs/$(sha "$M")"
req GET "$R_URL/v1/models"
expect_eq "/v1/models lists the pulled models" \
  "$(jqr '[.data[] | select(.source == "cache") | .id] | sort | join(",")')" "test/tiny-GGUF:Q4_K_M,test/tiny-GGUF:Q8_0"
expect_eq "ps: nothing loaded" "$(jqr '.ps_none | length' "$F")" 0
run_llamac "$TMP/o" "$TMP/e" run -m "$M2" -p "Once upon a time" -n 8 --temp 0
expect_eq "the pulled model answers as llamac run" "$(jqr .generate.response "$F")" "$(cat "$TMP/o")"
expect_eq "the answer names the model as asked" "$(jqr .generate.model "$F")" "hf.co/test/tiny-GGUF:Q8_0"
expect_eq "ps: the loaded model" \
  "$(jqr '.ps_hour[] | "\(.name):\(.size_vram):\(.context_length > 0):\(.digest):\(.details.family)"' "$F")" \
  "test/tiny-GGUF:Q8_0:0:true:$sum:llama"
expect_eq "ps: keep_alive 1h expires in an hour" \
  "$(jqr '.now as $now | .ps_hour[0].expires_at | sub("\\.[0-9]+Z$"; "Z") | fromdate * 1000 - $now | . > 3590000 and . < 3610000' "$F")" true
expect_eq "ps: keep_alive -1 never expires" "$(jqr '.ps_ever[0].expires_at | startswith("2318-")' "$F")" true
expect_eq "a folder's model by its Ollama name" "$(jqr .chat_stories "$F")" "stories:latest"
expect_eq "ps: both loaded" "$(jqr '.ps_two | join(",")' "$F")" "stories:latest,test/tiny-GGUF:Q8_0"
expect_eq "pull of a missing repository" "$(jqr .errors.missing_repo "$F" | cut -d: -f1-3)" \
  "ResponseError:404:pull model manifest"
expect_eq "the same, streamed" "$(jqr .errors.missing_repo_stream "$F" | cut -d: -f1-2)" "ResponseError:404"
expect_contains "pull of a missing quant: in the stream" "$(jqr .errors.missing_quant "$F")" "Q2_K"
expect_eq "pull of a gated repository" "$(jqr .errors.gated "$F" | cut -d: -f1-2)" "ResponseError:403"
expect_eq "pull of an Ollama library name" "$(jqr .errors.library_name "$F" | cut -d: -f1-2)" "ResponseError:400"
expect_eq "unknown model: Ollama's 404" "$(jqr .errors.unknown_model "$F")" "ResponseError:404:model 'nope:latest' not found"

# keep_alive 0 with nothing to generate unloads at once: /api/ps empty of it, its process gone
tiny=$(child_pid "$R_PID" test/tiny-GGUF:Q8_0)
[ -n "$tiny" ] && pass || fail "no child process for the pulled model"
sdk u "$R_URL" unload
F="$TMP/u.json"
expect_eq "keep_alive 0: unload" "$(jqr '.unload | "\(.done):\(.done_reason)"' "$F")" "true:unload"
expect_eq "keep_alive 0: gone from ps" "$(jqr '.ps | join(",")' "$F")" "stories:latest"
kill -0 "$tiny" 2> /dev/null && fail "the unloaded model's process $tiny still runs" || pass
# keep_alive 0 on a request that generates: unloaded once it ends
stories=$(child_pid "$R_PID" stories)
[ -n "$stories" ] && pass || fail "no child process for stories"
sdk k "$R_URL" keep0
expect_eq "keep_alive 0: the answer" "$(jqr .done "$TMP/k.json")" true
for _ in $(seq 50); do kill -0 "$stories" 2> /dev/null || break; sleep 0.1; done
kill -0 "$stories" 2> /dev/null && fail "keep_alive 0: stories' process $stories still runs" || pass
# ... and not loaded again: the request's keep_alive 0 applies once it holds the loaded model (it used to be set
# before, so the router could unload the model under the request, load it again for it, and keep that one loaded:
# the static build's router did so 4 runs of 5)
expect_eq "keep_alive 0: no process for stories left" "$(child_pid "$R_PID" stories)" ""
req GET "$R_URL/api/ps"
expect_eq "keep_alive 0 on a generating request: gone from ps" "$(jqr '[.models[].name] | join(",")')" ""
req POST "$R_URL/api/generate" '{"model":"stories","prompt":"x","keep_alive":"soon"}'
expect_eq "a malformed keep_alive" "$code:$(jqr .error)" '400:time: invalid duration "soon"'
req POST "$R_URL/api/generate" '{"model":"stories","prompt":"x","keep_alive":[5]}'
expect_eq "keep_alive not a duration" "$code:$(jqr '.error | startswith("keep_alive must be")')" "400:true"
# show reaches the model's child, by Ollama's older "name" field too
req POST "$R_URL/api/show" '{"name":"stories:latest"}'
expect_eq "show by name" "$code:$(jqr '.details.family'):$(jqr '.model_info["general.architecture"]')" "200:llama:llama"
req POST "$R_URL/api/show" '{"model":"nope"}'
expect_eq "show unknown" "$code:$(jqr .error)" "404:model 'nope' not found"

# a client that goes away mid-pull cancels it: nothing linked into the cache, the partial file kept for a resume
curl -s -N --max-time 2 -H 'Content-Type: application/json' --data-binary '{"model":"hf.co/test/stall-GGUF:Q8_0"}' \
  "$R_URL/api/pull" > "$TMP/stall" 2> /dev/null
expect_eq "stalled pull: progress came" "$(grep -c '"completed":65536' "$TMP/stall" | sed 's/^[1-9][0-9]*$/some/')" some
for _ in $(seq 50); do grep -q "pull of test/stall-GGUF:Q8_0: the pull was cancelled" "$TMP/R.log" && break; sleep 0.1; done
expect_contains "stalled pull: cancelled" "$(cat "$TMP/R.log")" "pull of test/stall-GGUF:Q8_0: the pull was cancelled"
S="$CACHE/models--test--stall-GGUF"
expect_eq "cancelled: no snapshot" "$(find "$S/snapshots" -type l 2> /dev/null | wc -l)" 0
expect_eq "cancelled: only the partial blob" "$(ls "$S/blobs")" "$(sha "$M2").incomplete"
req GET "$R_URL/api/tags"
expect_eq "cancelled: not listed" "$(jqr '[.models[].name | select(startswith("test/stall"))] | length')" 0

# delete: from the cache, and the lists
sdk d "$R_URL" delete
F="$TMP/d.json"
expect_eq "delete: no longer listed" "$(jqr '.after | join(",")' "$F")" "stories:latest,test/tiny-GGUF:Q4_K_M"
[ -e "$REPO/snapshots/$C1/tiny-Q8_0.gguf" ] && fail "delete: the snapshot file is still there" || pass
[ -e "$REPO/blobs/$sum" ] && fail "delete: the blob is still there" || pass
expect_eq "delete: the other quant stays" "$(sha "$REPO/snapshots/$C1/tiny-Q4_K_M.gguf")" "$(sha "$M")"
expect_eq "delete again" "$(jqr .errors.again "$F")" "ResponseError:404:model 'hf.co/test/tiny-GGUF:Q8_0' not found"
expect_eq "delete a --models-dir model" "$(jqr .errors.models_dir "$F" | cut -d: -f1-2)" "ResponseError:403"
expect_contains "delete a --models-dir model: why" "$(jqr .errors.models_dir "$F")" "served from --models-dir"
expect_eq "delete without a model" "$(jqr .errors.no_model "$F")" "ResponseError:400:model is required"
[ -e "$W/models/stories.gguf" ] && pass || fail "the --models-dir model was removed"
stop_server "$R_PID"
expect_eq "router exit" "$stop_rc" 0

# --- --offline: no pulls; --api-key guards pull and delete as every endpoint ---
start_server O --models-dir "$W/models" --offline --api-key sekrit -t 1
req POST "$O_URL/api/pull" '{"model":"hf.co/test/tiny-GGUF:Q8_0"}'
expect_eq "pull without the key" "$code" 401
req DELETE "$O_URL/api/delete" '{"model":"test/tiny-GGUF:Q4_K_M"}'
expect_eq "delete without the key" "$code" 401
[ -e "$REPO/snapshots/$C1/tiny-Q4_K_M.gguf" ] && pass || fail "a delete without the key removed the file"
AUTH=sekrit
req POST "$O_URL/api/pull" '{"model":"hf.co/test/tiny-GGUF:Q8_0"}'
expect_eq "--offline: pull off" "$code:$(jqr '.error | contains("--offline")')" "501:true"
AUTH=""
stop_server "$O_PID"

# --- the single-model server: pull and delete over the cache; its own model is not removable ---
start_server S -m "$M2" -t 1 -np 1
req POST "$S_URL/api/pull" '{"model":"huggingface.co/test/tiny-GGUF:Q8_0","stream":false}'
expect_eq "single: pull" "$code:$(jqr .status)" "200:success"
expect_eq "single: pulled into the cache" "$(sha "$REPO/snapshots/$C1/tiny-Q8_0.gguf")" "$sum"
req DELETE "$S_URL/api/delete" '{"model":"stories260K-chatml.gguf"}'
expect_eq "single: the served model is not removable" "$code:$(jqr '.error | contains("this server serves")')" "403:true"
req DELETE "$S_URL/api/delete" '{"name":"test/tiny-GGUF:Q8_0"}'
expect_eq "single: delete (Ollama's older name field)" "$code" 200
[ -e "$REPO/snapshots/$C1/tiny-Q8_0.gguf" ] && fail "single: delete left the file" || pass
req DELETE "$S_URL/api/delete" '{"model":"test/tiny-GGUF:Q8_0"}'
expect_eq "single: delete again" "$code" 404
stop_server "$S_PID"

# --- the sleeping single-model server: keep_alive 0 puts it to sleep ---
start_server Z -m "$M2" --sleep-idle-seconds 600 -t 1 -np 1
req POST "$Z_URL/api/generate" '{"model":"stories260K-chatml.gguf","prompt":"Once upon a time","raw":true,"stream":false,"options":{"temperature":0,"num_predict":8}}'
expect_eq "sleeper: the answer" "$code:$(jqr .response)" "200:$(cat "$TMP/o")"
req GET "$Z_URL/api/ps"
expect_eq "sleeper: awake in ps" "$(jqr '[.models[].name] | join(",")')" "stories260K-chatml.gguf:latest"
req POST "$Z_URL/api/chat" '{"model":"stories260K-chatml.gguf","keep_alive":0}'
expect_eq "sleeper: keep_alive 0 unloads" "$code:$(jqr .done_reason)" "200:unload"
expect_eq "sleeper: asleep, no child" "$(pgrep -P "$Z_PID" | wc -l)" 0
req GET "$Z_URL/api/ps"
expect_eq "sleeper: ps empty" "$(jqr '.models | length')" 0
req GET "$Z_URL/api/tags"
expect_eq "sleeper: still listed" "$(jqr '[.models[].name] | join(",")')" "stories260K-chatml.gguf:latest"
req GET "$Z_URL/props"
expect_eq "sleeper: /props says so" "$(jqr .is_sleeping)" true
stop_server "$Z_PID"
finish
