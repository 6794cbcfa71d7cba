#!/usr/bin/env bash
# `make run`: the main job on the default model: `llamac serve`, the OpenAI-compatible server, in the foreground on
# http://127.0.0.1:8080 ($HOST and $PORT change it; $SERVE_ARGS adds flags; Ctrl-C stops it). When it is ready it
# prints the URL to open in a browser for the chat page. The model is
# $LLAMAC_MODEL when set, else the Hugging Face model $LLAMAC_HF_REPO (OWNER/REPO[:QUANT], pulled into the Hub cache)
# when set, else stories260K-chatml.gguf (a tiny model with a ChatML template) from the test model directory
# ($LLAMAC_TEST_MODELS, default ../shared/models beside the checkout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${LLAMAC_BUILD:-$root/build}/bin/llamac"
model=${LLAMAC_MODEL:-}
if [ -z "$model" ] && [ -n "${LLAMAC_HF_REPO:-}" ]; then
  # OWNER/REPO[:QUANT] from the Hugging Face Hub, downloaded once into its cache (README: Downloading models)
  model=$("$bin" pull "$LLAMAC_HF_REPO" | head -n 1)
fi
if [ -z "$model" ]; then
  model="${LLAMAC_TEST_MODELS:-$root/../shared/models}/stories260K-chatml.gguf"
fi
if [ ! -f "$model" ]; then
  echo "make run: no model at '$model'; set LLAMAC_MODEL=/path/to/model.gguf" >&2
  exit 1
fi
echo "llamac serve -m $model --host ${HOST:-127.0.0.1} --port ${PORT:-8080} ${SERVE_ARGS:-}" >&2
exec "$bin" serve -m "$model" --host "${HOST:-127.0.0.1}" --port "${PORT:-8080}" ${SERVE_ARGS:-}
