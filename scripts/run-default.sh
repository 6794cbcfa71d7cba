#!/usr/bin/env bash
# `make run`: the main job on the default model. The model is $LLAMAC_MODEL when set, else stories260K.gguf from
# the test model directory ($LLAMAC_TEST_MODELS, default ../shared/models beside the checkout).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
bin="${LLAMAC_BUILD:-$root/build}/bin/llamac"
model=${LLAMAC_MODEL:-}
if [ -z "$model" ]; then
  model="${LLAMAC_TEST_MODELS:-$root/../shared/models}/stories260K.gguf"
fi
if [ ! -f "$model" ]; then
  echo "make run: no model at '$model'; set LLAMAC_MODEL=/path/to/model.gguf" >&2
  exit 1
fi
prompt=${PROMPT:-Once upon a time}
echo "llamac run -m $model -p \"$prompt\" -n ${N_PREDICT:-128}" >&2
"$bin" run -m "$model" -p "$prompt" -n "${N_PREDICT:-128}" ${RUN_ARGS:-}
echo
