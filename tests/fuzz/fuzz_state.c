/*
 * fuzz_state.c - libFuzzer target for llamac_ctx_state_set, the parser of saved states (untrusted files).
 *
 * Any input must be rejected with LLAMAC_E_STATE (or accepted, if it happens to be a valid state), and a rejected
 * input must leave the context exactly as it was: the position of the sequence is checked after every input.
 */
#include "fuzz_model.h"
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static llamac_model *model;
static llamac_context *ctx;
static void *good;
static size_t good_size;

static void setup_once(void) {
    if (ctx) {
        return;
    }
    char path[1024];
    fuzz_model_path("stories260K.gguf", path, sizeof path);
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 64;
    static const llamac_token prompt[] = { 1, 403, 407, 261, 378 };
    if (llamac_model_load(path, NULL, &model) != LLAMAC_OK || llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK ||
        llamac_ctx_decode(ctx, 0, prompt, 5) != LLAMAC_OK ||
        llamac_ctx_state_get(ctx, prompt, 5, &good, &good_size) != LLAMAC_OK) {
        fprintf(stderr, "fuzz_state: %s\n", llamac_last_error());
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    /* Inputs starting with 'P' patch the fuzz bytes into a valid state, to reach past the header checks. */
    uint8_t *buf = NULL;
    size_t len = size;
    if (size > 9 && data[0] == 'P') {
        len = good_size;
        buf = malloc(len);
        memcpy(buf, good, len);
        size_t at = ((size_t)data[1] << 8 | data[2]) % len;
        size_t n = size - 3 < len - at ? size - 3 : len - at;
        memcpy(buf + at, data + 3, n);
    } else {
        buf = malloc(size ? size : 1);
        memcpy(buf, data, size);
    }
    llamac_token *tokens = NULL;
    size_t n_tokens = 0;
    llamac_status s = llamac_ctx_state_set(ctx, buf, len, &tokens, &n_tokens);
    free(buf);
    if (s != LLAMAC_OK && s != LLAMAC_E_STATE && s != LLAMAC_E_INVALID_ARGUMENT) {
        abort();
    }
    llamac_pos max = -2;
    if (llamac_ctx_seq_pos_max(ctx, 0, &max) != LLAMAC_OK || max != 4) {
        abort(); /* rejected input changed the context, or an accepted one is not the saved state */
    }
    llamac_free(tokens);
    return 0;
}
