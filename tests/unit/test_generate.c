/*
 * test_generate.c - llamac_generate end to end on stories260K: greedy text, stop strings, limits, cancellation.
 *
 * The reference continuation is llama.cpp's greedy output for "Once upon a time" (48 tokens). Every test collects
 * the callback's chunks one by one, so it can tell not only what text arrived but how: no chunk may hold half a
 * character or any byte of a stop string, and nothing may arrive after the caller asked to stop.
 */
#include "helpers.h"

#include <pthread.h>

static llamac_model *model;
static llamac_context *ctx;

static const char prompt[] = "Once upon a time";
static const char reference[] = ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                                "she saw a big, red ball. She wanted to play with it,";

static void setup(void) {
    test_model_ctx("stories260K.gguf", 0, &model, &ctx);
}

/* Everything the callback saw: the text, the chunk count, and whether any chunk broke a rule. */
struct sink {
    char text[8192];
    size_t len;
    int chunks;
    int invalid_chunks; /* chunks that are not valid UTF-8 by themselves */
    int stop_after;     /* return false after this many chunks (0: never) */
    int cancel_after;   /* call llamac_ctx_cancel after this many chunks (0: never) */
    llamac_context *cancel_ctx;
    const char *forbidden; /* a string no chunk may contain */
    int forbidden_chunks;
};

static bool on_text(const char *s, size_t len, void *user_data) {
    struct sink *k = user_data;
    k->chunks++;
    if (len == 0 || !llamac_utf8_valid(s, len, NULL)) {
        k->invalid_chunks++;
    }
    if (k->len + len < sizeof k->text) {
        memcpy(k->text + k->len, s, len);
        k->len += len;
    }
    k->text[k->len] = '\0';
    if (k->forbidden) {
        char chunk[512];
        size_t n = len < sizeof chunk - 1 ? len : sizeof chunk - 1;
        memcpy(chunk, s, n);
        chunk[n] = '\0';
        if (strstr(chunk, k->forbidden)) {
            k->forbidden_chunks++;
        }
    }
    if (k->cancel_after && k->chunks == k->cancel_after) {
        llamac_ctx_cancel(k->cancel_ctx);
    }
    return !(k->stop_after && k->chunks >= k->stop_after);
}

/* Greedy parameters delivering into `k`. */
static llamac_generate_params greedy(struct sink *k, int32_t max_tokens) {
    memset(k, 0, sizeof *k);
    return test_greedy_params(max_tokens, on_text, k);
}

static llamac_status run(llamac_context *c, const llamac_generate_params *gp, llamac_generate_result *res) {
    return llamac_generate(c, prompt, strlen(prompt), gp, res);
}

static void test_greedy_reference(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(res.n_prompt_tokens, 5);
    CHECK_INT(res.n_generated_tokens, 48);
    CHECK_INT(k.invalid_chunks, 0);
    CHECK_INT(k.chunks, 48); /* streamed: one chunk per token, none held back */
    CHECK_STR(llamac_last_error(), "");
    CHECK_STR(llamac_finish_reason_str(res.finish_reason), "length");

    /* The sequence is cleared before each call: the same call gives the same text. */
    gp = greedy(&k, 48);
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    /* Without a callback only the counts come back. */
    gp = greedy(&k, 48);
    gp.on_text = NULL;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(res.n_generated_tokens, 48);
    CHECK_INT(k.chunks, 0);
}

static void test_generate_tokens(void) {
    static const llamac_token p[] = { 1, 403, 407, 261, 378 };
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    llamac_generate_result res;
    CHECK_OK(llamac_generate_tokens(ctx, p, 5, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK_INT(res.n_prompt_tokens, 5);
    CHECK_INT(res.n_generated_tokens, 48);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);

    static const llamac_token bad[] = { 1, 403, 600 };
    gp = greedy(&k, 8);
    CHECK_STATUS(llamac_generate_tokens(ctx, bad, 3, &gp, &res), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("600");
    CHECK_ERROR_HAS("index 2");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK_INT(k.chunks, 0);
    CHECK_STATUS(llamac_generate_tokens(ctx, NULL, 0, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("empty");
    CHECK_STATUS(llamac_generate_tokens(ctx, NULL, 3, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
}

/* Generates greedily with `stops` and checks the delivered text, the finish reason and every chunk. */
static void expect_stop(const char *const *stops, size_t n_stops, const char *want, llamac_finish_reason finish,
                        const char *forbidden, int line) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    gp.stop = stops;
    gp.n_stop = n_stops;
    k.forbidden = forbidden;
    llamac_generate_result res;
    llamac_status st = run(ctx, &gp, &res);
    bool ok = st == LLAMAC_OK && strcmp(k.text, want) == 0 && res.finish_reason == finish && k.invalid_chunks == 0 &&
              k.forbidden_chunks == 0;
    if (ok) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr,
                "%s:%d: stop \"%s\": %s, finish %s, %d bad chunks, %d chunks with \"%s\"\n  got      \"%s\"\n"
                "  expected \"%s\"\n",
                __FILE__, line, stops[0], llamac_status_str(st), llamac_finish_reason_str(res.finish_reason),
                k.invalid_chunks, k.forbidden_chunks, forbidden ? forbidden : "", k.text, want);
    }
}
#define EXPECT_STOP(stops, want, finish, forbidden)                                                                    \
    expect_stop(stops, sizeof(stops) / sizeof(stops[0]), want, finish, forbidden, __LINE__)

static void test_stop_strings(void) {
    /* " Lily" is one token: the text ends right before it, and no chunk ever carried any of it. */
    static const char *const lily[] = { "Lily" };
    EXPECT_STOP(lily, ", there was a little girl named ", LLAMAC_FINISH_STOP, "L");

    /* "girl" is three tokens (" g", "ir", "l"): check the split, then stop strings across those boundaries. */
    llamac_token *toks = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(model, " little girl named", 18, 0, &toks, &n));
    CHECK(n >= 4 && toks[1] == 376 && toks[2] == 298 && toks[3] == 315);
    llamac_free(toks);
    static const char *const ttle_gi[] = { "ttle gi" };
    EXPECT_STOP(ttle_gi, ", there was a li", LLAMAC_FINISH_STOP, "tt");
    static const char *const girl_named[] = { "girl named" };
    EXPECT_STOP(girl_named, ", there was a little ", LLAMAC_FINISH_STOP, "g");
    static const char *const ily_dot[] = { "ily. She" };
    EXPECT_STOP(ily_dot, ", there was a little girl named L", LLAMAC_FINISH_STOP, "ily");

    /* A prefix that appears ("Lily") but never completes: everything held back is released, nothing is lost. */
    static const char *const lily_bang[] = { "Lily!!" };
    EXPECT_STOP(lily_bang, reference, LLAMAC_FINISH_LENGTH, NULL);
    static const char *const tail[] = { "play with it, and" };
    EXPECT_STOP(tail, reference, LLAMAC_FINISH_LENGTH, NULL);

    /* Several stop strings: the earliest in the text wins, whatever the order given. */
    static const char *const two[] = { "red ball", "day," };
    EXPECT_STOP(two, ", there was a little girl named Lily. She loved to play outside in the park. One ",
                LLAMAC_FINISH_STOP, "day");
    /* A stop string at the very start: nothing at all is delivered. */
    static const char *const comma[] = { ", there" };
    EXPECT_STOP(comma, "", LLAMAC_FINISH_STOP, ",");
}

static void test_stop_chunks(void) {
    /* With a stop string whose start keeps appearing, the text still streams (it is not all held to the end). */
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    static const char *const stops[] = { "She went" };
    gp.stop = stops;
    gp.n_stop = 1;
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK(k.chunks >= 30);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
}

static void test_max_tokens_zero(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 0);
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(k.chunks, 0);
    CHECK_INT(k.len, 0);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(res.n_prompt_tokens, 5);
    CHECK_INT(res.n_generated_tokens, 0);
}

static void test_callback_stops(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    k.stop_after = 1;
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CALLBACK);
    CHECK_INT(k.chunks, 1);
    CHECK_STR(k.text, ",");
    CHECK_INT(res.n_generated_tokens, 1);

    /* The same with a stop string holding text back: nothing is delivered after the refusal. */
    gp = greedy(&k, 48);
    k.stop_after = 2;
    static const char *const stops[] = { "Lily!!" };
    gp.stop = stops;
    gp.n_stop = 1;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CALLBACK);
    CHECK_INT(k.chunks, 2);
    CHECK_STR(k.text, ", there");
}

static void test_cancel_from_callback(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    k.cancel_after = 3;
    k.cancel_ctx = ctx;
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_STR(llamac_finish_reason_str(res.finish_reason), "cancelled");
    CHECK_INT(k.chunks, 3);
    CHECK_STR(k.text, ", there was");
    CHECK_INT(res.n_generated_tokens, 3);

    /* The request was consumed: the next call runs to the end. */
    gp = greedy(&k, 48);
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
}

static void test_cancel_before(void) {
    /* A cancel with nothing running stops the next call at once, and only that one. */
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    llamac_generate_result res;
    llamac_ctx_cancel(ctx);
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(k.chunks, 0);
    CHECK_INT(res.n_generated_tokens, 0);
    gp = greedy(&k, 48);
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
    llamac_ctx_cancel(NULL); /* a no-op */
}

/* The other thread waits until generation has delivered text, cancels, and lets the callback return. */
struct canceller {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    bool started;
    bool cancelled;
    int chunks;
};

static bool on_text_blocking(const char *s, size_t len, void *user_data) {
    (void)s;
    (void)len;
    struct canceller *c = user_data;
    pthread_mutex_lock(&c->lock);
    c->chunks++;
    if (c->chunks == 2) {
        c->started = true;
        pthread_cond_broadcast(&c->cond);
        while (!c->cancelled) {
            pthread_cond_wait(&c->cond, &c->lock);
        }
    }
    pthread_mutex_unlock(&c->lock);
    return true;
}

static void *cancel_thread(void *arg) {
    struct canceller *c = arg;
    pthread_mutex_lock(&c->lock);
    while (!c->started) {
        pthread_cond_wait(&c->cond, &c->lock);
    }
    llamac_ctx_cancel(ctx);
    c->cancelled = true;
    pthread_cond_broadcast(&c->cond);
    pthread_mutex_unlock(&c->lock);
    return NULL;
}

static void test_cancel_from_thread(void) {
    struct canceller c = { .started = false };
    pthread_mutex_init(&c.lock, NULL);
    pthread_cond_init(&c.cond, NULL);
    pthread_t th;
    CHECK(pthread_create(&th, NULL, cancel_thread, &c) == 0);
    llamac_generate_params gp = test_greedy_params(-1, on_text_blocking, &c);
    gp.sampling.ignore_eos = true;
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    pthread_join(th, NULL);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(c.chunks, 2);
    CHECK_INT(res.n_generated_tokens, 2);
    pthread_cond_destroy(&c.cond);
    pthread_mutex_destroy(&c.lock);

    struct sink k;
    gp = greedy(&k, 48);
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, reference);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
}

static void test_context_limits(void) {
    /* llama.cpp rounds a context up to a multiple of 256 cells; the checks use the size the context really has. */
    llamac_ctx_params cp = test_ctx_params(32);
    llamac_context *small = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &small));
    if (!small) {
        return;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(small, &info));
    CHECK(info.n_ctx >= 32);
    uint32_t n_ctx = info.n_ctx;

    /* A prompt longer than the context: refused before anything is decoded, with both sizes in the message. */
    size_t n_long = n_ctx + 44;
    llamac_token *longp = malloc(n_long * sizeof *longp);
    CHECK(longp != NULL);
    if (!longp) {
        llamac_ctx_free(small);
        return;
    }
    longp[0] = 1;
    for (size_t i = 1; i < n_long; i++) {
        longp[i] = 403;
    }
    struct sink k;
    llamac_generate_params gp = greedy(&k, 8);
    llamac_generate_result res;
    char sizes[64];
    CHECK_STATUS(llamac_generate_tokens(small, longp, n_long, &gp, &res), LLAMAC_E_CONTEXT_FULL);
    snprintf(sizes, sizeof sizes, "%zu tokens", n_long);
    CHECK_ERROR_HAS(sizes);
    snprintf(sizes, sizeof sizes, "holds %u", n_ctx);
    CHECK_ERROR_HAS(sizes);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK_INT(k.chunks, 0);
    /* Exactly n_ctx tokens leave no room to generate. */
    CHECK_STATUS(llamac_generate_tokens(small, longp, n_ctx, &gp, &res), LLAMAC_E_CONTEXT_FULL);
    /* The same through a text prompt, counted by the tokenizer. */
    size_t reps = n_ctx / 4 + 1;
    char *text = malloc(reps * 17 + 1);
    CHECK(text != NULL);
    if (text) {
        for (size_t i = 0; i < reps; i++) {
            memcpy(text + i * 17, "Once upon a time ", 17);
        }
        llamac_token *toks = NULL;
        size_t n_toks = 0;
        CHECK_OK(llamac_tokenize(model, text, reps * 17, LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n_toks));
        llamac_free(toks);
        CHECK(n_toks > n_ctx);
        CHECK_STATUS(llamac_generate(small, text, reps * 17, &gp, &res), LLAMAC_E_CONTEXT_FULL);
        snprintf(sizes, sizeof sizes, "%zu tokens", n_toks);
        CHECK_ERROR_HAS(sizes);
        snprintf(sizes, sizeof sizes, "holds %u", n_ctx);
        CHECK_ERROR_HAS(sizes);
        free(text);
    }

    /* A prompt that fills all but one cell: every position is used, and the last token is sampled from the final
     * logits without needing a cell of its own. */
    gp = greedy(&k, -1);
    gp.sampling.ignore_eos = true;
    CHECK_OK(llamac_generate_tokens(small, longp, n_ctx - 1, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CONTEXT_FULL);
    CHECK_INT(res.n_generated_tokens, 2);
    free(longp);
    llamac_ctx_free(small);

    /* Running into the end of the context from a short prompt. */
    cp.n_ctx = 64;
    CHECK_OK(llamac_ctx_new(model, &cp, &small));
    if (!small) {
        return;
    }
    CHECK_OK(llamac_ctx_get_info(small, &info));
    gp = greedy(&k, -1);
    gp.sampling.ignore_eos = true;
    CHECK_OK(run(small, &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_CONTEXT_FULL);
    CHECK_STR(llamac_finish_reason_str(res.finish_reason), "context_full");
    CHECK_INT(res.n_prompt_tokens + res.n_generated_tokens, info.n_ctx + 1);
    CHECK(strncmp(k.text, reference, strlen(reference)) == 0);
    CHECK_INT(k.invalid_chunks, 0);
    /* The context is usable again at once. */
    gp = greedy(&k, 48);
    CHECK_OK(run(small, &gp, &res));
    CHECK_STR(k.text, reference);
    llamac_ctx_free(small);
}

static void test_bad_arguments(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 8);
    llamac_generate_result res;

    /* An empty prompt is fine when the model adds BOS, and an error without it. */
    CHECK_OK(llamac_generate(ctx, "", 0, &gp, &res));
    CHECK_INT(res.n_prompt_tokens, 1);
    CHECK(res.n_generated_tokens > 0);
    gp = greedy(&k, 8);
    gp.tokenize_flags = 0;
    CHECK_STATUS(llamac_generate(ctx, "", 0, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("empty");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);

    gp = greedy(&k, 8);
    static const char bad_prompt[] = "Once \xE2\x82 upon";
    CHECK_STATUS(llamac_generate(ctx, bad_prompt, sizeof bad_prompt - 1, &gp, &res), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("offset 5");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK_INT(k.chunks, 0);

    static const char *const empty_stop[] = { "Lily", "" };
    gp.stop = empty_stop;
    gp.n_stop = 2;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("stop string 1");
    static const char *const null_stop[] = { NULL };
    gp.stop = null_stop;
    gp.n_stop = 1;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("stop string 0");
    gp.stop = NULL;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("stop is NULL");
    static const char *const bad_utf8_stop[] = { "Li\xFFly" };
    gp.stop = bad_utf8_stop;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("stop string 0");

    gp = greedy(&k, -2);
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_tokens -2");
    gp = greedy(&k, 8);
    gp.seq = 1;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    gp = greedy(&k, 8);
    gp.tokenize_flags = 0x40;
    CHECK_STATUS(run(ctx, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("0x40");
    gp = greedy(&k, 8);
    CHECK_STATUS(llamac_generate(NULL, prompt, strlen(prompt), &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_generate(ctx, prompt, strlen(prompt), NULL, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_generate(ctx, NULL, 4, &gp, &res), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(k.chunks, 0);
    /* The result may be NULL. */
    CHECK_OK(run(ctx, &gp, NULL));
    CHECK_STR(k.text, ", there was a little girl");
}

static void test_utf8_gate(void) {
    /* A grammar that forces an emoji and two accented letters: the model can only spell the emoji with four
     * byte-fallback tokens, yet every chunk is whole characters. */
    struct sink k;
    llamac_generate_params gp = greedy(&k, 16);
    gp.sampling.grammar = "root ::= \"\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC\"";
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, "\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC");
    CHECK_INT(k.invalid_chunks, 0);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);
    CHECK(res.n_generated_tokens >= 7); /* 4 bytes, é, € and EOS at least */

    /* Force byte tokens that never make a character: each becomes U+FFFD, the unfinished last one at the end. */
    llamac_logit_bias force = { 243, 100.0f }; /* <0xF0>, a 4-byte lead */
    gp = greedy(&k, 3);
    gp.sampling.logit_bias = &force;
    gp.sampling.n_logit_bias = 1;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, "\xEF\xBF\xBD\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK_INT(k.invalid_chunks, 0);
    CHECK_INT(res.n_generated_tokens, 3);
    force.token = 131; /* <0x80>, a stray continuation byte */
    gp = greedy(&k, 2);
    gp.sampling.logit_bias = &force;
    gp.sampling.n_logit_bias = 1;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK_STR(k.text, "\xEF\xBF\xBD\xEF\xBF\xBD");
    CHECK_INT(k.chunks, 2);

    /* Hot sampling over many seeds: whatever comes out, every chunk is valid UTF-8. */
    int invalid = 0;
    for (uint32_t seed = 1; seed <= 4; seed++) {
        gp = greedy(&k, 64);
        gp.sampling.temp = 2.0f;
        gp.sampling.top_k = 0;
        gp.sampling.top_p = 1.0f;
        gp.sampling.min_p = 0.0f;
        gp.sampling.seed = seed;
        CHECK_OK(run(ctx, &gp, &res));
        invalid += k.invalid_chunks;
    }
    CHECK_INT(invalid, 0);
}

static void test_timings(void) {
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    llamac_generate_result res;
    CHECK_OK(run(ctx, &gp, &res));
    CHECK(res.ttft_ms > 0.0);
    CHECK(res.prompt_ms >= 0.0);
    CHECK(res.prompt_ms <= res.ttft_ms);
    CHECK(res.generation_ms > 0.0);
    CHECK(res.tokens_per_s > 0.0);
    CHECK(res.prompt_tokens_per_s >= 0.0);
    CHECK(res.load_ms > 0.0);
    llamac_model_info mi;
    CHECK_OK(llamac_model_get_info(model, &mi));
    CHECK(res.load_ms == mi.load_ms);
    /* Generation speed agrees with its own figures: 47 tokens after the first in generation_ms. */
    double expect = 47.0 * 1000.0 / res.generation_ms;
    CHECK(res.tokens_per_s > expect * 0.999 && res.tokens_per_s < expect * 1.001);
}

static void test_user_chain(void) {
    /* A seeded chain passed by the caller is reset before each use: two calls give the same text. */
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_top_k(s, 40));
    CHECK_OK(llamac_sampler_add_temp(s, 1.0f));
    CHECK_OK(llamac_sampler_add_dist(s, 7));
    struct sink a, b;
    llamac_generate_params gp = greedy(&a, 32);
    gp.sampler = s;
    CHECK_OK(run(ctx, &gp, NULL));
    gp = greedy(&b, 32);
    gp.sampler = s;
    CHECK_OK(run(ctx, &gp, NULL));
    CHECK(a.len > 0);
    CHECK_STR(b.text, a.text);
    llamac_sampler_free(s);

    /* A chain with a grammar is reset too: a finished grammar would refuse everything on the second call. */
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_grammar(s, "root ::= \"yes\" | \"no\"", NULL));
    CHECK_OK(llamac_sampler_add_greedy(s));
    for (int i = 0; i < 2; i++) {
        llamac_generate_result res;
        gp = greedy(&a, 16);
        gp.sampler = s;
        CHECK_OK(run(ctx, &gp, &res));
        CHECK(strcmp(a.text, "yes") == 0 || strcmp(a.text, "no") == 0);
        CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);
    }
    llamac_sampler_free(s);
}

static void test_other_sequence(void) {
    /* Generation in sequence 1 of a two-sequence context leaves sequence 0 alone and gives the same text. */
    llamac_ctx_params cp = test_ctx_params(512);
    cp.n_seq_max = 2;
    llamac_context *two = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &two));
    if (!two) {
        return;
    }
    static const llamac_token p[] = { 1, 403 };
    CHECK_OK(llamac_ctx_decode(two, 0, p, 2));
    struct sink k;
    llamac_generate_params gp = greedy(&k, 48);
    gp.seq = 1;
    CHECK_OK(run(two, &gp, NULL));
    CHECK_STR(k.text, reference);
    llamac_pos max0 = -5;
    CHECK_OK(llamac_ctx_seq_pos_max(two, 0, &max0));
    CHECK_INT(max0, 1);
    llamac_ctx_free(two);
}

int main(void) {
    setup();
    RUN(test_greedy_reference);
    RUN(test_generate_tokens);
    RUN(test_stop_strings);
    RUN(test_stop_chunks);
    RUN(test_max_tokens_zero);
    RUN(test_callback_stops);
    RUN(test_cancel_from_callback);
    RUN(test_cancel_before);
    RUN(test_cancel_from_thread);
    RUN(test_context_limits);
    RUN(test_bad_arguments);
    RUN(test_utf8_gate);
    RUN(test_timings);
    RUN(test_user_chain);
    RUN(test_other_sequence);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    TESTS_DONE();
}
