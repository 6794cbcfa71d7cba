/*
 * test_memory.c - the KV cache by sequence: positions, removal, copy, keep, shift, clear, and invalid arguments.
 *
 * Each operation is checked through what it should change (the positions a sequence holds) and, where the cache
 * content matters, through the logits of a later decode compared with a context that computed the same tokens
 * from scratch.
 */
#include "helpers.h"

#include <math.h>

#define STORIES "stories260K.gguf"
#define STORY_TEXT "Once upon a time, there was a little girl named Lily. She loved to play outside."

static llamac_model *model;
static llamac_token *story;
static size_t n_story;

static llamac_context *new_ctx(uint32_t n_seq_max) {
    llamac_ctx_params cp = test_ctx_params(512);
    cp.n_seq_max = n_seq_max;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
    return ctx;
}

static llamac_pos pos_min(llamac_context *ctx, llamac_seq_id seq) {
    llamac_pos p = -2;
    CHECK_OK(llamac_ctx_seq_pos_min(ctx, seq, &p));
    return p;
}

static llamac_pos pos_max(llamac_context *ctx, llamac_seq_id seq) {
    llamac_pos p = -2;
    CHECK_OK(llamac_ctx_seq_pos_max(ctx, seq, &p));
    return p;
}

/* The stories260K model's 512 logits of the last token into out[512]. */
static void last_logits(llamac_context *ctx, float *out) {
    test_last_logits(ctx, out, 512);
}

/* After seq_rm [5, end), decoding the removed tokens again reproduces the full decode. */
static void test_positions_and_rm(void) {
    llamac_context *ctx = new_ctx(1);
    if (!ctx) {
        return;
    }
    static float full[512], again[512];
    CHECK_INT(pos_min(ctx, 0), -1);
    CHECK_INT(pos_max(ctx, 0), -1);
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_INT(pos_min(ctx, 0), 0);
    CHECK_INT(pos_max(ctx, 0), 9);
    last_logits(ctx, full);

    CHECK_OK(llamac_ctx_seq_rm(ctx, 0, 5, -1));
    CHECK_INT(pos_min(ctx, 0), 0);
    CHECK_INT(pos_max(ctx, 0), 4);
    CHECK_OK(llamac_ctx_decode(ctx, 0, story + 5, 5));
    CHECK_INT(pos_max(ctx, 0), 9);
    last_logits(ctx, again);
    CHECK(test_logits_close(full, again, 512, 1e-4f));

    /* Removing from the front leaves the tail in place. */
    CHECK_OK(llamac_ctx_seq_rm(ctx, 0, -1, 3));
    CHECK_INT(pos_min(ctx, 0), 3);
    CHECK_INT(pos_max(ctx, 0), 9);
    /* seq -1 removes from every sequence. */
    CHECK_OK(llamac_ctx_seq_rm(ctx, -1, -1, -1));
    CHECK_INT(pos_min(ctx, 0), -1);
    CHECK_INT(pos_max(ctx, 0), -1);
    llamac_ctx_free(ctx);
}

/* A prefix copied into sequence 1 serves as its cache: continuing there matches a fresh full decode. */
static void test_seq_cp_and_keep(void) {
    llamac_context *ctx = new_ctx(2);
    llamac_context *ref = new_ctx(1);
    if (!ctx || !ref) {
        llamac_ctx_free(ctx);
        llamac_ctx_free(ref);
        return;
    }
    static float want[512], got[512];
    CHECK_OK(llamac_ctx_decode(ref, 0, story, 11));
    last_logits(ref, want);

    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_INT(pos_max(ctx, 1), -1);
    CHECK_OK(llamac_ctx_seq_cp(ctx, 0, 1, -1, -1));
    CHECK_INT(pos_min(ctx, 1), 0);
    CHECK_INT(pos_max(ctx, 1), 9);
    CHECK_OK(llamac_ctx_decode(ctx, 1, story + 10, 1));
    CHECK_INT(pos_max(ctx, 1), 10);
    CHECK_INT(pos_max(ctx, 0), 9);
    last_logits(ctx, got);
    CHECK(test_logits_close(want, got, 512, 1e-4f));

    /* Copying a sequence onto itself changes nothing. */
    CHECK_OK(llamac_ctx_seq_cp(ctx, 1, 1, -1, -1));
    CHECK_INT(pos_max(ctx, 1), 10);

    CHECK_OK(llamac_ctx_seq_keep(ctx, 1));
    CHECK_INT(pos_max(ctx, 0), -1);
    CHECK_INT(pos_min(ctx, 1), 0);
    CHECK_INT(pos_max(ctx, 1), 10);
    llamac_ctx_free(ctx);
    llamac_ctx_free(ref);
}

/* Every sequence has a KV stream of its own, and llama.cpp copies only whole sequences between streams (it asserts
 * on anything else): a partial copy must be refused, not crash the process. */
static void test_seq_cp_ranges(void) {
    llamac_context *ctx = new_ctx(2);
    if (!ctx) {
        return;
    }
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_STATUS(llamac_ctx_seq_cp(ctx, 0, 1, 2, 5), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[2, 5)");
    CHECK_ERROR_HAS("whole sequence");
    CHECK_STATUS(llamac_ctx_seq_cp(ctx, 0, 1, 3, -1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_seq_cp(ctx, 0, 1, 0, 9), LLAMAC_E_INVALID_ARGUMENT); /* position 9 left out */
    CHECK_INT(pos_max(ctx, 1), -1);
    /* An empty range copies nothing. */
    CHECK_OK(llamac_ctx_seq_cp(ctx, 0, 1, 4, 4));
    CHECK_OK(llamac_ctx_seq_cp(ctx, 0, 1, 0, 0));
    CHECK_INT(pos_max(ctx, 1), -1);
    /* A range that covers every position the sequence holds is a whole copy, which replaces what the target held. */
    CHECK_OK(llamac_ctx_decode(ctx, 1, story, 11));
    CHECK_INT(pos_max(ctx, 1), 10);
    CHECK_OK(llamac_ctx_seq_cp(ctx, 0, 1, 0, 10));
    CHECK_INT(pos_min(ctx, 1), 0);
    CHECK_INT(pos_max(ctx, 1), 9);
    CHECK_INT(pos_max(ctx, 0), 9);
    llamac_ctx_free(ctx);
}

/* With a unified cache, a shared prefix is decoded once, a part of it copied into another sequence, and a token
 * can belong to two sequences; each sequence then continues exactly as if decoded on its own. */
static void test_unified_cache(void) {
    llamac_ctx_params cp = test_ctx_params(512);
    cp.n_seq_max = 2;
    cp.kv_unified = true;
    llamac_context *ctx = NULL, *ref = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
    ref = new_ctx(1);
    if (!ctx || !ref) {
        llamac_ctx_free(ctx);
        llamac_ctx_free(ref);
        return;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    CHECK(info.kv_unified);
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_OK(llamac_ctx_seq_cp(ctx, 0, 1, 0, 6)); /* the first 6 positions only */
    CHECK_INT(pos_min(ctx, 1), 0);
    CHECK_INT(pos_max(ctx, 1), 5);
    CHECK_INT(pos_max(ctx, 0), 9);
    /* sequence 1 continues from position 6 with the story's tokens 6.. : the same as a fresh decode of 0..8 */
    CHECK_OK(llamac_ctx_decode(ctx, 1, story + 6, 3));
    float got[512], want[512];
    last_logits(ctx, got);
    CHECK_OK(llamac_ctx_decode(ref, 0, story, 9));
    last_logits(ref, want);
    CHECK(test_logits_close(got, want, 512, 1e-4f));
    /* one token in both sequences: allowed with a unified cache */
    llamac_batch *b = NULL;
    CHECK_OK(llamac_batch_new(4, 2, &b));
    llamac_seq_id both[2] = { 0, 1 };
    CHECK_OK(llamac_ctx_seq_rm(ctx, 0, 9, -1));
    CHECK_OK(llamac_ctx_seq_rm(ctx, 1, 9, -1));
    CHECK_OK(llamac_batch_add(b, story[9], 9, both, 2, true));
    CHECK_OK(llamac_ctx_decode_batch(ctx, b));
    CHECK_INT(pos_max(ctx, 0), 9);
    CHECK_INT(pos_max(ctx, 1), 9);
    llamac_batch_free(b);
    llamac_ctx_free(ref);
    llamac_ctx_free(ctx);
}

/* A context shift: drop the first 3 positions and move the rest down by 3. */
static void test_seq_add(void) {
    llamac_context *ctx = new_ctx(1);
    if (!ctx) {
        return;
    }
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_OK(llamac_ctx_seq_add(ctx, 0, 5, -1, 3));
    CHECK_INT(pos_min(ctx, 0), 0);
    CHECK_INT(pos_max(ctx, 0), 12);
    CHECK_OK(llamac_ctx_seq_add(ctx, 0, 8, -1, -3));
    CHECK_INT(pos_max(ctx, 0), 9);

    CHECK_OK(llamac_ctx_seq_rm(ctx, 0, 0, 3));
    CHECK_OK(llamac_ctx_seq_add(ctx, 0, 3, -1, -3));
    CHECK_INT(pos_min(ctx, 0), 0);
    CHECK_INT(pos_max(ctx, 0), 6);
    /* The next decode continues right after the shifted cache. */
    CHECK_OK(llamac_ctx_decode(ctx, 0, story + 10, 1));
    CHECK_INT(pos_max(ctx, 0), 7);
    const float *l = NULL;
    size_t n = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &n));
    bool finite = l != NULL && n == 512;
    for (size_t i = 0; l && i < n; i++) {
        finite = finite && isfinite(l[i]);
    }
    CHECK(finite);
    llamac_ctx_free(ctx);
}

static void test_invalid_arguments(void) {
    llamac_context *ctx = new_ctx(1);
    if (!ctx) {
        return;
    }
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));

    CHECK_STATUS(llamac_ctx_seq_rm(ctx, 0, 5, 3), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[5, 3)");
    CHECK_STATUS(llamac_ctx_seq_rm(ctx, 0, -2, 3), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[-2, 3)");
    CHECK_STATUS(llamac_ctx_seq_rm(ctx, 0, 0, -5), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[0, -5)");
    CHECK_STATUS(llamac_ctx_seq_rm(ctx, 1, 0, -1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    CHECK_STATUS(llamac_ctx_seq_rm(ctx, -2, 0, -1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id -2");
    CHECK_STATUS(llamac_ctx_seq_rm(NULL, 0, 0, -1), LLAMAC_E_INVALID_ARGUMENT);

    CHECK_STATUS(llamac_ctx_seq_cp(ctx, 0, 1, -1, -1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    CHECK_STATUS(llamac_ctx_seq_cp(ctx, -1, 0, -1, -1), LLAMAC_E_INVALID_ARGUMENT); /* -1 is not "all" here */
    CHECK_ERROR_HAS("sequence id -1");
    CHECK_STATUS(llamac_ctx_seq_cp(ctx, 0, 0, 4, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[4, 2)");
    CHECK_STATUS(llamac_ctx_seq_cp(NULL, 0, 0, -1, -1), LLAMAC_E_INVALID_ARGUMENT);

    CHECK_STATUS(llamac_ctx_seq_keep(ctx, 3), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 3");
    CHECK_STATUS(llamac_ctx_seq_keep(ctx, -1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_seq_keep(NULL, 0), LLAMAC_E_INVALID_ARGUMENT);

    CHECK_STATUS(llamac_ctx_seq_add(ctx, 0, 6, 2, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("[6, 2)");
    CHECK_STATUS(llamac_ctx_seq_add(ctx, 0, -2, -1, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_seq_add(ctx, 1, 0, -1, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    CHECK_STATUS(llamac_ctx_seq_add(NULL, 0, 0, -1, 1), LLAMAC_E_INVALID_ARGUMENT);

    llamac_pos p = 77;
    CHECK_STATUS(llamac_ctx_seq_pos_max(ctx, 1, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    CHECK_INT(p, -1);
    p = 77;
    CHECK_STATUS(llamac_ctx_seq_pos_min(ctx, -1, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(p, -1);
    CHECK_STATUS(llamac_ctx_seq_pos_min(ctx, 0, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_seq_pos_max(NULL, 0, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_kv_clear(NULL), LLAMAC_E_INVALID_ARGUMENT);

    /* None of the rejected calls touched the cache. */
    CHECK_INT(pos_min(ctx, 0), 0);
    CHECK_INT(pos_max(ctx, 0), 9);
    llamac_ctx_free(ctx);
}

static void test_kv_clear(void) {
    llamac_context *ctx = new_ctx(2);
    if (!ctx) {
        return;
    }
    static float first[512], second[512];
    CHECK_OK(llamac_ctx_decode(ctx, 0, story, 10));
    CHECK_OK(llamac_ctx_decode(ctx, 1, story, 4));
    last_logits(ctx, first);
    CHECK_OK(llamac_ctx_kv_clear(ctx));
    CHECK_INT(pos_max(ctx, 0), -1);
    CHECK_INT(pos_min(ctx, 0), -1);
    CHECK_INT(pos_max(ctx, 1), -1);
    /* The outputs went with the cache. */
    const float *l = NULL;
    size_t n = 0;
    CHECK_STATUS(llamac_ctx_logits(ctx, -1, &l, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("nothing has been decoded");
    /* Decoding starts again at position 0 and gives the same result. */
    CHECK_OK(llamac_ctx_decode(ctx, 1, story, 4));
    CHECK_INT(pos_min(ctx, 1), 0);
    CHECK_INT(pos_max(ctx, 1), 3);
    last_logits(ctx, second);
    CHECK(test_logits_close(first, second, 512, 1e-4f));
    llamac_ctx_free(ctx);
}

int main(void) {
    CHECK_OK(llamac_model_load(test_model(STORIES), NULL, &model));
    if (!model) {
        TESTS_DONE();
    }
    CHECK_OK(llamac_tokenize(model, STORY_TEXT, strlen(STORY_TEXT), LLAMAC_TOKENIZE_ADD_SPECIAL, &story, &n_story));
    CHECK(n_story >= 11);
    if (n_story >= 11) {
        RUN(test_positions_and_rm);
        RUN(test_seq_cp_and_keep);
        RUN(test_seq_cp_ranges);
        RUN(test_unified_cache);
        RUN(test_seq_add);
        RUN(test_invalid_arguments);
        RUN(test_kv_clear);
    }
    llamac_free(story);
    llamac_model_free(model);
    TESTS_DONE();
}
