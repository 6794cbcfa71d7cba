/*
 * helpers.h - what many model tests need besides check.h (which has the checks, test_model, test_read_file and
 * test_tmp): the context parameters of the small test models, a model with a context to test on, a text sink, greedy
 * generation parameters, a model of a foreign vocabulary, and logits compared within a tolerance.
 *
 * One thread per context: the tiny models gain nothing from more, and on a busy machine llama.cpp's thread barriers
 * make every decode slow.
 */
#ifndef LLAMAC_TEST_HELPERS_H
#define LLAMAC_TEST_HELPERS_H

#include "check.h"

#include <math.h>

/* llamac_ctx_params_default() with `n_ctx` tokens (0: the default) and one thread. */
static inline llamac_ctx_params test_ctx_params(uint32_t n_ctx) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = n_ctx;
    cp.n_threads = 1;
    return cp;
}

/* Loads test model `name` and a context of `n_ctx` tokens on it (test_ctx_params); exits with 1 when either fails
 * (77 when the model is missing, as test_model does). */
static inline void test_model_ctx(const char *name, uint32_t n_ctx, llamac_model **model, llamac_context **ctx) {
    *model = NULL;
    *ctx = NULL;
    CHECK_OK(llamac_model_load(test_model(name), NULL, model));
    llamac_ctx_params cp = test_ctx_params(n_ctx);
    if (*model) {
        CHECK_OK(llamac_ctx_new(*model, &cp, ctx));
    }
    if (!*model || !*ctx) {
        fprintf(stderr, "cannot set up %s: %s\n", name, llamac_last_error());
        exit(1);
    }
}

/* Collects streamed text (an on_text callback's user_data): up to 4 KiB, NUL-terminated; more is dropped. */
struct test_sink {
    char text[4096];
    size_t len;
};

static inline bool test_on_text(const char *s, size_t len, void *user_data) {
    struct test_sink *k = user_data;
    if (k->len + len < sizeof k->text) {
        memcpy(k->text + k->len, s, len);
        k->len += len;
        k->text[k->len] = '\0';
    }
    return true;
}

/* Generation parameters for at most max_tokens tokens, the text going to on_text with user_data: the default
 * sampling (test_gen_params), or greedy, temperature 0 (test_greedy_params: what the tests that compare generated
 * texts start from). */
static inline llamac_generate_params test_gen_params(int32_t max_tokens, llamac_text_fn on_text, void *user_data) {
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = max_tokens;
    gp.on_text = on_text;
    gp.user_data = user_data;
    return gp;
}

static inline llamac_generate_params test_greedy_params(int32_t max_tokens, llamac_text_fn on_text, void *user_data) {
    llamac_generate_params gp = test_gen_params(max_tokens, on_text, user_data);
    gp.sampling.temp = 0.0f;
    return gp;
}

/* Writes to `path` a one-layer model over llama 3's BPE vocabulary (of the llama.cpp source tree `src`): a model of
 * another vocabulary type than the test models', for the checks that refuse one. */
static inline llamac_status test_synth_bpe(const char *src, const char *path) {
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-llama-bpe.gguf", src);
    llamac_synth_params sp = llamac_synth_params_default();
    sp.vocab_from = vocab;
    sp.n_layer = 1;
    sp.n_embd = 32;
    sp.n_head = 2;
    return llamac_synth_write(path, &sp);
}

/* Writes to `path` a layer-skip draft of stories260K (llamac_quantize keeping 4 of its 5 layers): a real draft that
 * is right about half of the time, for the speculative decoding tests. */
static inline llamac_status test_skip_draft(const char *path) {
    llamac_quantize_params qp = llamac_quantize_params_default();
    int32_t prune[] = { 4 };
    qp.ftype = LLAMAC_FTYPE_F32;
    qp.prune_layers = prune;
    qp.n_prune_layers = 1;
    qp.n_threads = 1;
    return llamac_quantize(test_model("stories260K.gguf"), path, &qp, NULL);
}

/* Writes to `path` a one-layer model with random weights over stories260K's vocabulary: a draft that is always
 * wrong, for the speculative decoding tests. */
static inline llamac_status test_random_draft(const char *path) {
    llamac_synth_params sp = llamac_synth_params_default();
    sp.vocab_from = test_model("stories260K.gguf");
    sp.n_layer = 1;
    sp.untied_output = true; /* varied text: its guesses are not the target's */
    sp.seed = 7;
    return llamac_synth_write(path, &sp);
}

/* Copies the last logits of `ctx` into out[n], checking that there are n (NaN where there are not). */
static inline void test_last_logits(llamac_context *ctx, float *out, size_t n) {
    const float *l = NULL;
    size_t got = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &got));
    CHECK_INT(got, n);
    for (size_t i = 0; i < n; i++) {
        out[i] = l && got == n ? l[i] : NAN;
    }
}

/* Whether a[n] and b[n] differ by less than `tol` everywhere (a NaN never does); prints the largest difference
 * when not. */
static inline bool test_logits_close(const float *a, const float *b, size_t n, float tol) {
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) {
            worst = d;
        }
    }
    if (!(worst < tol)) {
        fprintf(stderr, "  max logit difference %g (tolerance %g)\n", (double)worst, (double)tol);
    }
    return worst < tol;
}

/* The tokens of `model` that stand for single bytes (any token whose text is exactly that byte) into
 * byte_token[256], -1 where there is none: the grammar tests feed a grammar text byte by byte with them. */
static inline void test_byte_tokens(const llamac_model *model, llamac_token byte_token[256]) {
    for (int b = 0; b < 256; b++) {
        byte_token[b] = -1;
    }
    int32_t n = llamac_vocab_n_tokens(model);
    for (llamac_token t = 0; t < n; t++) {
        char piece[8];
        size_t need = 0;
        if (llamac_token_to_piece(model, t, false, piece, sizeof piece, &need) == LLAMAC_OK && need == 1 &&
            byte_token[(unsigned char)piece[0]] < 0) {
            byte_token[(unsigned char)piece[0]] = t;
        }
    }
}

#endif /* LLAMAC_TEST_HELPERS_H */
