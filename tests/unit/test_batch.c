/*
 * test_batch.c - explicit multi-sequence batches: construction limits, the checks llamac_ctx_decode_batch makes
 * before llama.cpp sees a batch, and that two sequences decoded together give what each gives alone.
 */
#include "helpers.h"

#include <math.h>

#define STORIES "stories260K.gguf"
#define TEXT_A "Once upon a time, there was a little girl named Lily."
#define TEXT_B "The cat sat in the sun and the dog ran to the big tree."

static llamac_model *model;

static llamac_context *new_ctx(uint32_t n_seq_max, uint32_t n_batch) {
    llamac_ctx_params cp = test_ctx_params(512);
    cp.n_seq_max = n_seq_max;
    cp.n_batch = n_batch;
    cp.n_ubatch = n_batch < 512 ? n_batch : 512;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
    return ctx;
}

static llamac_pos pos_max(llamac_context *ctx, llamac_seq_id seq) {
    llamac_pos p = -2;
    CHECK_OK(llamac_ctx_seq_pos_max(ctx, seq, &p));
    return p;
}

static void test_new_invalid(void) {
    int dummy = 0;
    llamac_batch *b = (llamac_batch *)&dummy;
    CHECK_STATUS(llamac_batch_new(0, 1, &b), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("capacity (0)");
    CHECK(b == NULL);
    b = (llamac_batch *)&dummy;
    CHECK_STATUS(llamac_batch_new(8, 0, &b), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_seqs_per_token (0)");
    CHECK(b == NULL);
    CHECK_STATUS(llamac_batch_new(8, 100000, &b), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_seqs_per_token (100000)");
    CHECK_STATUS(llamac_batch_new((size_t)INT32_MAX + 1, 1, &b), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_batch_new(8, 1, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_batch_free(NULL);
    llamac_batch_clear(NULL);
    CHECK_INT(llamac_batch_size(NULL), 0);
}

static void test_add(void) {
    llamac_batch *b = NULL;
    CHECK_OK(llamac_batch_new(2, 2, &b));
    if (!b) {
        return;
    }
    CHECK_INT(llamac_batch_size(b), 0);
    llamac_seq_id seqs[3] = { 0, 1, 2 };
    CHECK_OK(llamac_batch_add(b, 1, 0, seqs, 1, false));
    CHECK_OK(llamac_batch_add(b, 10, 1, seqs, 2, true));
    CHECK_INT(llamac_batch_size(b), 2);
    CHECK_STATUS(llamac_batch_add(b, 11, 2, seqs, 1, true), LLAMAC_E_BUFFER_TOO_SMALL);
    CHECK_ERROR_HAS("full (2 tokens)");
    CHECK_INT(llamac_batch_size(b), 2);

    llamac_batch_clear(b);
    CHECK_INT(llamac_batch_size(b), 0);
    CHECK_STATUS(llamac_batch_add(b, 1, -1, seqs, 1, false), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("position -1");
    CHECK_STATUS(llamac_batch_add(b, 1, 0, seqs, 0, false), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("got 0");
    CHECK_STATUS(llamac_batch_add(b, 1, 0, seqs, 3, false), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("1 to 2 sequences; got 3");
    CHECK_STATUS(llamac_batch_add(b, 1, 0, NULL, 1, false), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_batch_add(NULL, 1, 0, seqs, 1, false), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(llamac_batch_size(b), 0);
    CHECK_OK(llamac_batch_add(b, 1, 0, seqs, 1, true));
    CHECK_INT(llamac_batch_size(b), 1);
    llamac_batch_free(b);
}

/* Decoding `b` on `ctx` must fail with `expected` and `needle`, and decode nothing. */
static void expect_rejected(llamac_context *ctx, const llamac_batch *b, llamac_status expected, const char *needle) {
    CHECK_STATUS(llamac_ctx_decode_batch(ctx, b), expected);
    CHECK_ERROR_HAS(needle);
    CHECK_INT(pos_max(ctx, 0), -1);
    const float *l = NULL;
    size_t n = 0;
    CHECK_STATUS(llamac_ctx_logits(ctx, -1, &l, &n), LLAMAC_E_INVALID_ARGUMENT);
}

static void test_decode_rejects(void) {
    llamac_context *ctx = new_ctx(1, 4);
    llamac_batch *b = NULL;
    CHECK_OK(llamac_batch_new(8, 2, &b));
    if (!ctx || !b) {
        llamac_ctx_free(ctx);
        llamac_batch_free(b);
        return;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    CHECK_INT(info.n_batch, 4);
    llamac_seq_id seq0 = 0, seq1 = 1, both[2] = { 0, 1 };

    expect_rejected(ctx, b, LLAMAC_E_INVALID_ARGUMENT, "empty");

    CHECK_OK(llamac_batch_add(b, 1, 0, &seq0, 1, false));
    CHECK_OK(llamac_batch_add(b, 512, 1, &seq0, 1, true));
    expect_rejected(ctx, b, LLAMAC_E_TOKEN_RANGE, "batch entry 1: token 512");

    llamac_batch_clear(b);
    CHECK_OK(llamac_batch_add(b, -3, 0, &seq0, 1, true));
    expect_rejected(ctx, b, LLAMAC_E_TOKEN_RANGE, "token -3");

    llamac_batch_clear(b);
    CHECK_OK(llamac_batch_add(b, 1, 0, &seq0, 1, false));
    CHECK_OK(llamac_batch_add(b, 10, 1, &seq1, 1, true));
    expect_rejected(ctx, b, LLAMAC_E_INVALID_ARGUMENT, "batch entry 1: sequence id 1");

    llamac_batch_clear(b);
    CHECK_OK(llamac_batch_add(b, 1, 0, both, 2, true));
    expect_rejected(ctx, b, LLAMAC_E_INVALID_ARGUMENT, "sequence id 1");

    llamac_batch_clear(b);
    CHECK_OK(llamac_batch_add(b, 1, (llamac_pos)info.n_ctx, &seq0, 1, true));
    expect_rejected(ctx, b, LLAMAC_E_CONTEXT_FULL, "position 512");

    llamac_batch_clear(b);
    for (int i = 0; i < 5; i++) {
        CHECK_OK(llamac_batch_add(b, 1 + i, i, &seq0, 1, i == 4));
    }
    expect_rejected(ctx, b, LLAMAC_E_INVALID_ARGUMENT, "n_batch 4");

    CHECK_STATUS(llamac_ctx_decode_batch(NULL, b), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_decode_batch(ctx, NULL), LLAMAC_E_INVALID_ARGUMENT);

    /* The same batch within n_batch decodes. */
    llamac_batch_clear(b);
    for (int i = 0; i < 4; i++) {
        CHECK_OK(llamac_batch_add(b, 1 + i, i, &seq0, 1, i == 3));
    }
    CHECK_OK(llamac_ctx_decode_batch(ctx, b));
    CHECK_INT(pos_max(ctx, 0), 3);

    /* A gap after what a sequence holds is llama.cpp's to find; its reason comes back and nothing is added. */
    llamac_batch_clear(b);
    CHECK_OK(llamac_batch_add(b, 1, 7, &seq0, 1, true));
    CHECK_STATUS(llamac_ctx_decode_batch(ctx, b), LLAMAC_E_DECODE);
    CHECK_ERROR_HAS("consecutive");
    CHECK_INT(pos_max(ctx, 0), 3);
    llamac_ctx_free(ctx);
    llamac_batch_free(b);
}

static llamac_token *tokens_of(const char *text, size_t *n) {
    llamac_token *t = NULL;
    *n = 0;
    CHECK_OK(llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &t, n));
    CHECK(*n > 5);
    return t;
}

/* The last logits of `tokens` decoded alone in a fresh context, into out[512]. */
static void alone(const llamac_token *tokens, size_t n, float *out) {
    llamac_context *ctx = new_ctx(1, 2048);
    const float *l = NULL;
    size_t nv = 0;
    if (ctx) {
        CHECK_OK(llamac_ctx_decode(ctx, 0, tokens, n));
        CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &nv));
        CHECK_INT(nv, 512);
    }
    for (size_t i = 0; i < 512; i++) {
        out[i] = l && nv == 512 ? l[i] : NAN;
    }
    llamac_ctx_free(ctx);
}

static bool close_to(const float *got, const float *want) {
    float worst = 0.0f;
    for (size_t i = 0; got && i < 512; i++) {
        float d = fabsf(got[i] - want[i]);
        if (!(d <= worst)) {
            worst = d;
        }
    }
    if (!got || !(worst < 1e-4f)) {
        fprintf(stderr, "  max logit difference %g\n", (double)worst);
    }
    return got && worst < 1e-4f;
}

static void test_two_sequences(void) {
    size_t na = 0, nb = 0;
    llamac_token *a = tokens_of(TEXT_A, &na);
    llamac_token *bt = tokens_of(TEXT_B, &nb);
    static float want_a[512], want_b[512];
    llamac_context *ctx = new_ctx(2, 2048);
    llamac_batch *b = NULL;
    CHECK_OK(llamac_batch_new(na + nb, 1, &b));
    if (!a || !bt || !ctx || !b) {
        goto done;
    }
    alone(a, na, want_a);
    alone(bt, nb, want_b);

    /* A token in two sequences: each sequence has a KV stream of its own, so this is refused up front (llama.cpp
     * would fail it as a full cache). */
    llamac_seq_id both[2] = { 0, 1 };
    llamac_batch *shared = NULL;
    CHECK_OK(llamac_batch_new(4, 2, &shared));
    CHECK_OK(llamac_batch_add(shared, a[0], 0, both, 2, false));
    CHECK_OK(llamac_batch_add(shared, a[1], 1, both, 2, true));
    CHECK_STATUS(llamac_ctx_decode_batch(ctx, shared), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("batch entry 0 is in 2 sequences");
    CHECK_INT(pos_max(ctx, 0), -1);
    CHECK_INT(pos_max(ctx, 1), -1);
    llamac_batch_free(shared);

    /* Interleaved, as a server would submit them. */
    llamac_seq_id s0 = 0, s1 = 1;
    for (size_t i = 0; i < na || i < nb; i++) {
        if (i < na) {
            CHECK_OK(llamac_batch_add(b, a[i], (llamac_pos)i, &s0, 1, i == na - 1));
        }
        if (i < nb) {
            CHECK_OK(llamac_batch_add(b, bt[i], (llamac_pos)i, &s1, 1, i == nb - 1));
        }
    }
    CHECK_INT(llamac_batch_size(b), na + nb);
    CHECK_OK(llamac_ctx_decode_batch(ctx, b));
    CHECK_INT(pos_max(ctx, 0), (llamac_pos)na - 1);
    CHECK_INT(pos_max(ctx, 1), (llamac_pos)nb - 1);

    /* Outputs come in the order of the tokens that asked for them. */
    bool a_first = na <= nb;
    const float *first = NULL, *second = NULL, *last = NULL;
    size_t nv = 0;
    CHECK_OK(llamac_ctx_logits(ctx, 0, &first, &nv));
    CHECK_OK(llamac_ctx_logits(ctx, 1, &second, &nv));
    CHECK_OK(llamac_ctx_logits(ctx, -1, &last, &nv));
    CHECK_INT(nv, 512);
    CHECK(close_to(first, a_first ? want_a : want_b));
    CHECK(close_to(second, a_first ? want_b : want_a));
    CHECK(last == second);
    CHECK_STATUS(llamac_ctx_logits(ctx, 2, &first, &nv), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("has 2");
done:
    llamac_batch_free(b);
    llamac_ctx_free(ctx);
    llamac_free(a);
    llamac_free(bt);
}

int main(void) {
    CHECK_OK(llamac_model_load(test_model(STORIES), NULL, &model));
    if (!model) {
        TESTS_DONE();
    }
    RUN(test_new_invalid);
    RUN(test_add);
    RUN(test_decode_rejects);
    RUN(test_two_sequences);
    llamac_model_free(model);
    TESTS_DONE();
}
