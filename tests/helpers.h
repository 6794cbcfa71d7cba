/*
 * helpers.h - what many model tests need besides check.h (which has the checks, test_model, test_read_file and
 * test_tmp): the context parameters of the small test models, and a model with a context to test on.
 *
 * One thread per context: the tiny models gain nothing from more, and on a busy machine llama.cpp's thread barriers
 * make every decode slow.
 */
#ifndef LLAMAC_TEST_HELPERS_H
#define LLAMAC_TEST_HELPERS_H

#include "check.h"

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

#endif /* LLAMAC_TEST_HELPERS_H */
