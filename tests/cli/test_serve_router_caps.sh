# Router mode's GET /v1/models and GET /models say what each model can do, read from its GGUF header and its
# projector's without loading it (issue 22): a chat model completes, a BERT with mean pooling embeds, a BERT with a
# classification head reranks, a projector beside a model makes it multimodal (its encoders as llama-server's
# input_modalities), a preset's `embedding = true` adds embeddings; "meta" equals what the single-model server says
# of the loaded model; a broken model or projector is listed with nothing claimed for it. No child is started.
# Ollama's /api/tags reads the same header facts.
. "$(dirname "$0")/lib.sh" || exit 1
. "$(dirname "$0")/serve_lib.sh"
command -v curl > /dev/null && command -v jq > /dev/null || { echo "curl and jq are needed" >&2; exit 77; }
vocab_bert="${LLAMAC_LLAMA_SOURCE:-}/models/ggml-vocab-bert-bge.gguf"
[ -f "$vocab_bert" ] || { echo "llama.cpp's source tree is needed" >&2; exit 77; }

D="$TMP/models"
rm -rf "$D"
mkdir -p "$D/vis" "$D/av" "$D/badvis"
ln -s "$MODELS/stories260K.gguf" "$D/stories.gguf"
"$LLAMAC" synth -q -o "$D/bert.gguf" --arch bert --layers 2 --embd 64 --heads 4 --seed 11 --vocab-from "$vocab_bert"
"$LLAMAC" synth -q -o "$D/ranker.gguf" --arch bert --layers 2 --embd 64 --heads 4 --seed 12 --cls-out 1 \
  --vocab-from "$vocab_bert"
ln -s "$MODELS/stories260K.gguf" "$D/vis/model.gguf"
"$LLAMAC" synth -q --mmproj vision -m "$MODELS/stories260K.gguf" -o "$D/vis/mmproj-vis.gguf"
ln -s "$MODELS/stories260K.gguf" "$D/av/model.gguf"
"$LLAMAC" synth -q --mmproj vision,audio -m "$MODELS/stories260K.gguf" -o "$D/av/mmproj-av.gguf"
ln -s "$MODELS/stories260K.gguf" "$D/badvis/model.gguf"
echo "not a projector" > "$D/badvis/mmproj-bad.gguf"
head -c 4096 "$MODELS/stories260K.gguf" > "$D/broken.gguf" # a GGUF cut short
cat > "$TMP/preset.ini" << INI
[stories-embd]
model = $MODELS/stories260K.gguf
embedding = true
INI
export HF_HUB_CACHE="$TMP/no-cache"

start_server R --models-dir "$D" --models-preset "$TMP/preset.ini" -c 256 -np 1 -t 1
req GET "$R_URL/v1/models"
expect_eq "models status" "$code" 200
cp "$TMP/body" "$TMP/list"
# caps MODEL : its capabilities, then its input modalities
caps() {
  jq -r --arg m "$1" '.data[] | select(.id == $m) |
    "\(.capabilities | join(",")) \(.architecture.input_modalities | join(","))"' "$TMP/list"
}
expect_eq "chat model" "$(caps stories)" "completion text"
expect_eq "embedding model (mean pooling)" "$(caps bert)" "embedding text"
expect_eq "reranker (classification head)" "$(caps ranker)" "rerank text"
expect_eq "projector beside it: vision" "$(caps vis)" "completion,multimodal text,image"
expect_eq "projector beside it: vision and audio" "$(caps av)" "completion,multimodal text,image,audio"
expect_eq "a projector that is not one claims nothing" "$(caps badvis)" "completion text"
expect_eq "a broken model claims nothing" "$(caps broken)" " text"
expect_eq "broken: no meta" "$(jq -r '.data[] | select(.id == "broken") | .meta' "$TMP/list")" null
expect_eq "a preset's embedding = true adds embeddings" "$(caps stories-embd)" "completion,embedding text"
expect_eq "output modalities" "$(jq -r '[.data[].architecture.output_modalities | join(",")] | unique | join(";")' \
  "$TMP/list")" "text"
expect_eq "nothing was loaded" "$(jq -r '[.data[].status.value] | unique | join(",")' "$TMP/list")" "unloaded"
expect_eq "no child process" "$(pgrep -P "$R_PID" | wc -l)" 0
req GET "$R_URL/models"
expect_eq "GET /models: the same capabilities" \
  "$(jqr '[.data[] | "\(.id)=\(.capabilities | join("+"))"] | sort | join(",")')" \
  "$(jq -r '[.data[] | "\(.id)=\(.capabilities | join("+"))"] | sort | join(",")' "$TMP/list")"

# "meta" read from the header equals what the single-model server says of the model it loaded
start_server S -m "$MODELS/stories260K.gguf" -c 256 -np 1 -t 1
req GET "$S_URL/v1/models"
meta='.meta | "\(.n_vocab) \(.n_ctx_train) \(.n_params) \(.size) \(.n_embd)"'
expect_eq "meta = the loaded model's" "$(jq -r ".data[] | select(.id == \"stories\") | $meta" "$TMP/list")" \
  "$(jqr ".data[0] | $meta")"
expect_eq "meta of the BERT: its width" "$(jq -r '.data[] | select(.id == "bert") | .meta.n_embd' "$TMP/list")" 64
stop_server "$S_PID"

# Ollama's /api/tags: details from the same header facts
req GET "$R_URL/api/tags"
expect_eq "/api/tags status" "$code" 200
expect_eq "tags: the BERT's family" "$(jqr '.models[] | select(.name == "bert:latest") | .details.family')" "bert"
expect_eq "tags: stories' family" "$(jqr '.models[] | select(.name == "stories:latest") | .details.family')" "llama"
expect_eq "tags: the broken file's details are empty" \
  "$(jqr '.models[] | select(.name == "broken:latest") | .details | "\(.family)|\(.parameter_size)"')" "|0"
expect_eq "still no child process" "$(pgrep -P "$R_PID" | wc -l)" 0

# the capabilities follow the folder: a projector added beside stories is seen by GET /models?reload=1
mkdir -p "$D/late"
ln -s "$MODELS/stories260K.gguf" "$D/late/model.gguf"
ln -s "$D/vis/mmproj-vis.gguf" "$D/late/mmproj-late.gguf"
req GET "$R_URL/models?reload=1"
expect_eq "reloaded: the new folder's projector" \
  "$(jqr '.data[] | select(.id == "late") | .capabilities | join(",")')" "completion,multimodal"
stop_server "$R_PID"
expect_eq "router exit" "$stop_rc" 0
finish
