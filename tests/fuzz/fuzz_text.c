/*
 * fuzz_text.c - libFuzzer target for the text entry points: UTF-8 validation, the streaming UTF-8 gate (fed in
 * pieces), and tokenization of arbitrary bytes with the stories260K vocabulary.
 *
 * Invariants checked: validation and tokenization agree (invalid UTF-8 is always LLAMAC_E_UTF8), the stream only
 * ever emits valid UTF-8, and detokenizing what was tokenized never fails.
 */
#include "fuzz_model.h"
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static llamac_model *model;

static void load_once(void) {
    if (model) {
        return;
    }
    char path[1024];
    fuzz_model_path("stories260K.gguf", path, sizeof path);
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    if (llamac_model_load(path, &mp, &model) != LLAMAC_OK) {
        fprintf(stderr, "fuzz_text: %s\n", llamac_last_error());
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    load_once();
    const char *text = (const char *)data;
    size_t bad = 0;
    bool valid = llamac_utf8_valid(text, size, &bad);
    if (!valid && bad >= size) {
        abort();
    }

    llamac_utf8_stream *st = NULL;
    if (llamac_utf8_stream_new(&st) != LLAMAC_OK) {
        abort();
    }
    size_t split = size ? data[0] % (size + 1) : 0;
    const char *out;
    size_t out_len;
    if (llamac_utf8_stream_push(st, text, split, &out, &out_len) != LLAMAC_OK ||
        !llamac_utf8_valid(out, out_len, NULL)) {
        abort();
    }
    if (llamac_utf8_stream_push(st, text + split, size - split, &out, &out_len) != LLAMAC_OK ||
        !llamac_utf8_valid(out, out_len, NULL)) {
        abort();
    }
    if (llamac_utf8_stream_flush(st, &out, &out_len) != LLAMAC_OK || !llamac_utf8_valid(out, out_len, NULL)) {
        abort();
    }
    llamac_utf8_stream_free(st);

    llamac_token *tokens = NULL;
    size_t n = 0;
    unsigned flags = size ? (unsigned)(data[size - 1] & 3) : 0;
    llamac_status s = llamac_tokenize(model, text, size, flags, &tokens, &n);
    if (valid != (s == LLAMAC_OK) || (!valid && s != LLAMAC_E_UTF8)) {
        abort();
    }
    if (s == LLAMAC_OK && n > 0) {
        char *back = NULL;
        size_t back_len = 0;
        if (llamac_detokenize(model, tokens, n, 0, &back, &back_len) != LLAMAC_OK) {
            abort();
        }
        llamac_free(back);
    }
    llamac_free(tokens);
    return 0;
}
