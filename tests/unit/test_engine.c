/*
 * test_engine.c - the multi-sequence engine on stories260K: fidelity with llamac_generate, parallel slots,
 * chunked prefill next to running streams, prompt cache, cancellation, the queue bound, stop strings, grammars,
 * log-probabilities, and the errors a caller gets at submit.
 *
 * Every request delivers into a `sink` that keeps the text, the step of each token and the completion; the test
 * thread waits for completions on one condition variable. Where a test needs the engine held at a known point, a
 * token callback blocks until the test thread releases it, so nothing depends on timing.
 */
#include "helpers.h"

#include <math.h>
#include <pthread.h>
#ifdef __linux__
#    include <dirent.h>
#endif

static llamac_model *model;

static const char prompt[] = "Once upon a time";
static const char reference[] = ", there was a little girl named Lily. She loved to play outside in the park. One day, "
                                "she saw a big, red ball. She wanted to play with it,";

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct sink {
    char text[8192];
    size_t len;
    int calls;
    int tokens;            /* calls with a real token */
    int invalid;           /* chunks that are not valid UTF-8 on their own */
    const char *forbidden; /* no chunk may contain it */
    int forbidden_chunks;
    uint64_t steps[1024]; /* step of each token */
    /* log-probability checks (n_probs > 0) */
    int bad_probs;
    /* control */
    int block_at; /* the token callback blocks at this token index until `released` (0: never) */
    bool blocked; /* set while it waits */
    bool released;
    int cancel_at; /* the callback cancels its own request at this token index (0: never) */
    int submit_at; /* the callback submits `follow` at this token index (0: never) */
    llamac_engine *engine;
    uint64_t id;
    const llamac_engine_request *follow;
    uint64_t follow_id;
    /* completion */
    bool done;
    int done_calls;
    llamac_engine_result res;
    char stop[64];
    char error[512];
};

static bool on_token(const llamac_engine_token *t, void *user_data) {
    struct sink *k = user_data;
    pthread_mutex_lock(&mu);
    k->calls++;
    if (t->len > 0 && !llamac_utf8_valid(t->text, t->len, NULL)) {
        k->invalid++;
    }
    if (k->len + t->len < sizeof k->text) {
        memcpy(k->text + k->len, t->text, t->len);
        k->len += t->len;
        k->text[k->len] = '\0';
    }
    if (k->forbidden && t->len > 0) {
        char chunk[512];
        size_t n = t->len < sizeof chunk - 1 ? t->len : sizeof chunk - 1;
        memcpy(chunk, t->text, n);
        chunk[n] = '\0';
        k->forbidden_chunks += strstr(chunk, k->forbidden) != NULL;
    }
    if (t->token >= 0) {
        if (t->index != k->tokens) {
            k->bad_probs += 1000; /* indexes must count up from 0 */
        }
        if (k->tokens < 1024) {
            k->steps[k->tokens] = t->step;
        }
        k->tokens++;
        if (t->n_top > 0) {
            double sum = 0;
            for (size_t i = 0; i < t->n_top; i++) {
                sum += exp((double)t->top[i].logprob);
                if (t->top[i].logprob > 0 || (i > 0 && t->top[i].logprob > t->top[i - 1].logprob)) {
                    k->bad_probs++;
                }
            }
            /* Greedy: the chosen token is the most likely one, with its log-probability. */
            if (sum > 1.0 + 1e-4 || t->top[0].token != t->token || fabsf(t->top[0].logprob - t->logprob) > 1e-6f) {
                k->bad_probs++;
            }
        }
    }
    int index = t->index;
    bool block = k->block_at && index == k->block_at;
    if (block) {
        k->blocked = true;
        pthread_cond_broadcast(&cv);
        while (!k->released) {
            pthread_cond_wait(&cv, &mu);
        }
    }
    pthread_mutex_unlock(&mu);
    if (k->cancel_at && index == k->cancel_at) {
        CHECK_OK(llamac_engine_cancel(k->engine, k->id));
    }
    if (k->submit_at && index == k->submit_at) {
        CHECK_OK(llamac_engine_submit(k->engine, k->follow, &k->follow_id));
    }
    return true;
}

static void on_done(const llamac_engine_result *r, void *user_data) {
    struct sink *k = user_data;
    pthread_mutex_lock(&mu);
    k->res = *r;
    snprintf(k->stop, sizeof k->stop, "%s", r->stop ? r->stop : "");
    snprintf(k->error, sizeof k->error, "%s", r->error ? r->error : "(null)");
    k->res.stop = NULL;
    k->res.error = NULL;
    k->done = true;
    k->done_calls++;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static void wait_done(struct sink *k) {
    pthread_mutex_lock(&mu);
    while (!k->done) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
}

static void wait_blocked(struct sink *k) {
    pthread_mutex_lock(&mu);
    while (!k->blocked) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
}

static void release(struct sink *k) {
    pthread_mutex_lock(&mu);
    k->released = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

/* An engine for the tests: one thread (a 260K model gains nothing from more). */
static llamac_engine *engine_new(uint32_t n_slots, uint32_t n_ctx, uint32_t chunk, uint32_t max_queued) {
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = n_slots;
    ep.n_ctx = n_ctx;
    ep.n_prefill_chunk = chunk;
    ep.max_queued = max_queued;
    ep.n_threads = 1;
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(model, &ep, &e));
    if (!e) {
        fprintf(stderr, "cannot create an engine: %s\n", llamac_last_error());
        exit(1);
    }
    return e;
}

/* A greedy request delivering into `k`. */
static llamac_engine_request greedy(struct sink *k, int32_t max_tokens) {
    memset(k, 0, sizeof *k);
    llamac_engine_request r = llamac_engine_request_default();
    r.sampling.temp = 0.0f;
    r.max_tokens = max_tokens;
    r.on_token = on_token;
    r.on_done = on_done;
    r.user_data = k;
    return r;
}

/* Submits a greedy request for `prompt` into `k` and waits for it to finish. */
static void submit_wait(llamac_engine *e, struct sink *k, const llamac_token *tokens, size_t n, int32_t max_tokens) {
    llamac_engine_request r = greedy(k, max_tokens);
    r.prompt = tokens;
    r.n_prompt = n;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(k);
}

static size_t common_len(const llamac_token *a, size_t na, const llamac_token *b, size_t nb) {
    size_t n = 0;
    while (n < na && n < nb && a[n] == b[n]) {
        n++;
    }
    return n;
}

static llamac_token *tokens_of(const char *text, size_t *n) {
    llamac_token *t = NULL;
    CHECK_OK(llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &t, n));
    return t;
}

/* llamac_generate's greedy text for `text` on a context of its own. */
static void generate_ref(const char *text, int32_t max_tokens, char *out, size_t cap);

struct ref_sink {
    char *out;
    size_t len, cap;
};

static bool ref_text(const char *s, size_t len, void *user_data) {
    struct ref_sink *r = user_data;
    if (r->len + len < r->cap) {
        memcpy(r->out + r->len, s, len);
        r->len += len;
        r->out[r->len] = '\0';
    }
    return true;
}

/* As generate_ref, with the LoRA set `set` (n entries) applied to the context. */
static void generate_ref_lora(const char *text, int32_t max_tokens, const llamac_adapter_scale *set, size_t n,
                              char *out, size_t cap) {
    llamac_ctx_params cp = test_ctx_params(0);
    llamac_context *c = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &c));
    CHECK_OK(llamac_ctx_set_adapters(c, set, n));
    struct ref_sink r = { out, 0, cap };
    out[0] = '\0';
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = max_tokens;
    gp.sampling.temp = 0.0f;
    gp.on_text = ref_text;
    gp.user_data = &r;
    CHECK_OK(llamac_generate(c, text, strlen(text), &gp, NULL));
    llamac_ctx_free(c);
}

static void generate_ref(const char *text, int32_t max_tokens, char *out, size_t cap) {
    generate_ref_lora(text, max_tokens, NULL, 0, out, cap);
}

static void test_greedy_matches_generate(void) {
    char want[4096];
    generate_ref(prompt, 48, want, sizeof want);
    CHECK_STR(want, reference);
    llamac_engine *e = engine_new(4, 0, 512, 8);
    struct sink k;
    llamac_engine_request r = greedy(&k, 48);
    uint64_t id = 0;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &id));
    CHECK(id != 0);
    wait_done(&k);
    CHECK_STR(k.text, want);
    CHECK_INT(k.res.request_id, id);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(k.res.status, LLAMAC_OK);
    CHECK_STR(k.error, "");
    CHECK_INT(k.res.usage.prompt_tokens, 5);
    CHECK_INT(k.res.usage.cached_tokens, 0);
    CHECK_INT(k.res.usage.generated_tokens, 48);
    CHECK_INT(k.tokens, 48);
    CHECK_INT(k.invalid, 0);
    CHECK(k.res.slot >= 0 && k.res.slot < 4);
    CHECK(k.res.usage.prompt_ms >= 0 && k.res.usage.generation_ms >= 0);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.n_slots, 4);
    CHECK_INT(st.n_ctx_slot, st.n_ctx / 4);
    CHECK_INT(st.requests_submitted, 1);
    CHECK_INT(st.requests_finished, 1);
    CHECK_INT(st.prompt_tokens, 5);
    CHECK_INT(st.generated_tokens, 48);
    /* One step for the prompt, then one per token but the last, which is sampled and never decoded. */
    CHECK_INT(st.steps, 48);
    llamac_engine_free(e);
}

static const char *const prompts[4] = { "Once upon a time", "The little dog", "Tom and Sue went to the", "One day," };

static void test_parallel_equals_sequential(void) {
    char want[4][4096];
    for (int i = 0; i < 4; i++) {
        generate_ref(prompts[i], 32, want[i], sizeof want[i]);
    }
    llamac_engine *e = engine_new(4, 0, 512, 8);
    static struct sink k[4];
    uint64_t ids[4];
    for (int i = 0; i < 4; i++) {
        llamac_engine_request r = greedy(&k[i], 32);
        r.cache_prompt = false;
        CHECK_OK(
            llamac_engine_submit_text(e, prompts[i], strlen(prompts[i]), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &ids[i]));
    }
    for (int i = 0; i < 4; i++) {
        wait_done(&k[i]);
        CHECK_STR(k[i].text, want[i]);
        CHECK_INT(k[i].res.usage.generated_tokens, 32);
        CHECK_INT(k[i].res.finish_reason, LLAMAC_FINISH_LENGTH);
    }
    /* Distinct slots, and the streams shared steps: far fewer decodes than 4 runs one after another. */
    CHECK(k[0].res.slot != k[1].res.slot && k[2].res.slot != k[3].res.slot && k[0].res.slot != k[3].res.slot);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK(st.steps < 4 * 32);
    CHECK_INT(st.generated_tokens, 4 * 32);
    for (uint32_t i = 0; i < 4; i++) {
        llamac_engine_slot sl;
        CHECK_OK(llamac_engine_slot_get(e, i, &sl));
        CHECK_INT(sl.state, LLAMAC_SLOT_IDLE);
        CHECK_INT(sl.request_id, 0);
        CHECK_INT(sl.requests_served, 1);
        CHECK(sl.n_cached > 0);
    }
    llamac_engine_slot sl;
    CHECK_STATUS(llamac_engine_slot_get(e, 4, &sl), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(llamac_slot_state_name(LLAMAC_SLOT_GENERATING), "generating");
    llamac_engine_free(e);
}

/* A long prompt is admitted while another stream generates: the prompt goes in 8-token chunks, and the running
 * stream gets a token at every step meanwhile. */
static void test_chunked_prefill(void) {
    llamac_engine *e = engine_new(2, 0, 8, 8);
    llamac_engine_stats st0;
    CHECK_OK(llamac_engine_get_stats(e, &st0));
    /* A prompt of ~100 tokens from repeated text, well within a slot. */
    char longp[2048] = "";
    while (strlen(longp) < 380) {
        strcat(longp, "The cat sat on the mat. ");
    }
    size_t n_long = 0;
    llamac_token *lt = tokens_of(longp, &n_long);
    CHECK(n_long > 60 && n_long + 8 < st0.n_ctx_slot);

    struct sink a, b;
    llamac_engine_request rb = greedy(&b, 4);
    rb.prompt = lt;
    rb.n_prompt = n_long;
    llamac_engine_request ra = greedy(&a, 40);
    a.engine = e;
    a.submit_at = 2; /* A submits B from its callback once it is generating */
    a.follow = &rb;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &ra, &a.id));
    wait_done(&a);
    wait_done(&b);
    CHECK_INT(a.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(b.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(a.tokens, 40);
    char want[4096];
    generate_ref(prompt, 40, want, sizeof want);
    CHECK_STR(a.text, want);
    /* A got a token at every step of its life: consecutive steps. */
    int gaps = 0;
    for (int i = 1; i < a.tokens; i++) {
        gaps += a.steps[i] != a.steps[i - 1] + 1;
    }
    CHECK_INT(gaps, 0);
    /* B's prompt took ceil(n/8) steps, all inside A's run. */
    uint64_t chunks = (n_long + 7) / 8;
    uint64_t b_first = b.steps[0];
    CHECK(b_first >= a.steps[0] + chunks);
    CHECK(b_first <= a.steps[a.tokens - 1]);
    CHECK_INT(b_first - a.steps[2], chunks); /* B, submitted at A's third token, started at the next step */
    char want_b[4096];
    generate_ref(longp, 4, want_b, sizeof want_b);
    CHECK_STR(b.text, want_b);
    CHECK_INT(b.res.usage.prompt_tokens, (int)n_long);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.prompt_tokens, 5 + n_long);
    llamac_free(lt);
    llamac_engine_free(e);
}

static void test_prompt_cache(void) {
    llamac_engine *e = engine_new(2, 0, 512, 8);
    const char *p1 = "Once upon a time, there was a big dog";
    const char *p2 = "Once upon a time, there was a big dog named Max. He";
    char want2[4096];
    generate_ref(p2, 24, want2, sizeof want2);
    size_t n1 = 0, n2 = 0;
    llamac_token *t1 = tokens_of(p1, &n1);
    llamac_token *t2 = tokens_of(p2, &n2);
    size_t lcp = common_len(t1, n1, t2, n2);
    CHECK(lcp > 5);

    struct sink a, b, c;
    submit_wait(e, &a, t1, n1, 8);
    CHECK_INT(a.res.usage.cached_tokens, 0);

    submit_wait(e, &b, t2, n2, 24);
    CHECK_STR(b.text, want2);
    CHECK_INT(b.res.slot, a.res.slot); /* the slot holding the prefix */
    CHECK((size_t)b.res.usage.cached_tokens >= lcp);
    CHECK((size_t)b.res.usage.cached_tokens < n2);

    /* The same prompt again: all but the last token come from the cache, and the text is the same. */
    submit_wait(e, &c, t2, n2, 24);
    CHECK_STR(c.text, want2);
    CHECK_INT(c.res.usage.cached_tokens, (int)n2 - 1);
    CHECK_INT(c.res.slot, a.res.slot);

    /* cache_prompt false decodes everything again. */
    llamac_engine_request r = greedy(&c, 24);
    r.prompt = t2;
    r.n_prompt = n2;
    r.cache_prompt = false;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&c);
    CHECK_STR(c.text, want2);
    CHECK_INT(c.res.usage.cached_tokens, 0);

    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.cached_tokens, (uint64_t)b.res.usage.cached_tokens + n2 - 1);
    llamac_free(t1);
    llamac_free(t2);
    llamac_engine_free(e);
}

/* A request may name its slot (llama-server's id_slot): it runs there and reuses that slot's cache only; a slot out
 * of range is refused. The stats count the slots of each decode and the longest sequence a slot held. */
static void test_pinned_slot(void) {
    llamac_engine *e = engine_new(2, 0, 512, 8);
    const char *p = "Once upon a time, there was a big dog";
    size_t n = 0;
    llamac_token *t = tokens_of(p, &n);
    struct sink a, b, c;
    llamac_engine_request r = greedy(&a, 4);
    r.prompt = t;
    r.n_prompt = n;
    r.slot = 1;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&a);
    CHECK_INT(a.res.slot, 1);
    CHECK_INT(a.res.usage.cached_tokens, 0);
    /* slot 0 has none of it, although slot 1 has it all */
    r = greedy(&b, 4);
    r.prompt = t;
    r.n_prompt = n;
    r.slot = 0;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&b);
    CHECK_INT(b.res.slot, 0);
    CHECK_INT(b.res.usage.cached_tokens, 0);
    CHECK_STR(b.text, a.text);
    r = greedy(&c, 4);
    r.prompt = t;
    r.n_prompt = n;
    r.slot = 1;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&c);
    CHECK_INT(c.res.slot, 1);
    CHECK_INT(c.res.usage.cached_tokens, (int)n - 1);
    r.slot = 2;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("slot 2 must be -1 (any) or from 0 to 1");
    r.slot = -2;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.busy_slot_steps, st.steps);     /* one request at a time: one busy slot per decode */
    CHECK_INT(st.n_tokens_max, (uint32_t)n + 3); /* the prompt and the 3 tokens decoded after it */
    llamac_free(t);
    llamac_engine_free(e);
}

/* While another slot works, an idle slot's cache is parked in host memory (out of the KV cache) and comes back
 * for a request that reuses it, with the same reuse and the same text; park_limit_mib 0 keeps it in place. */
static void test_parked_cache(void) {
    const char *p1 = "Once upon a time, there was a big dog";
    const char *p2 = "Once upon a time, there was a big dog named Max. He";
    char want2[4096];
    generate_ref(p2, 24, want2, sizeof want2);
    size_t n1 = 0, n2 = 0, nb = 0;
    llamac_token *t1 = tokens_of(p1, &n1);
    llamac_token *t2 = tokens_of(p2, &n2);
    llamac_token *tb = tokens_of("The little dog", &nb);
    for (int limit = 8192; limit >= 0; limit -= 8192) {
        llamac_engine_params ep = llamac_engine_params_default();
        ep.n_slots = 2;
        ep.n_threads = 1;
        ep.park_limit_mib = limit;
        llamac_engine *e = NULL;
        CHECK_OK(llamac_engine_new(model, &ep, &e));
        struct sink a, b, c;
        submit_wait(e, &a, t1, n1, 8);
        int32_t x = a.res.slot;

        /* Another request on the other slot (no prefix to pick the first one for), held at its fifth token. */
        llamac_engine_request r = greedy(&b, 16);
        r.prompt = tb;
        r.n_prompt = nb;
        r.cache_prompt = false;
        b.block_at = 5;
        CHECK_OK(llamac_engine_submit(e, &r, NULL));
        wait_blocked(&b);
        llamac_engine_slot info;
        CHECK_OK(llamac_engine_slot_get(e, (uint32_t)x, &info));
        CHECK_INT(info.parked, limit > 0);
        CHECK_INT(info.n_cached, (uint32_t)n1 + 7); /* held, parked or not (the last token is never decoded) */
        CHECK_OK(llamac_engine_slot_get(e, (uint32_t)(1 - x), &info));
        CHECK_INT(info.parked, false);
        release(&b);
        wait_done(&b);
        CHECK_INT(b.res.slot, 1 - x);

        submit_wait(e, &c, t2, n2, 24);
        CHECK_INT(c.res.slot, x);
        CHECK_STR(c.text, want2);
        CHECK(c.res.usage.cached_tokens > 5 && (size_t)c.res.usage.cached_tokens < n2);
        CHECK_OK(llamac_engine_slot_get(e, (uint32_t)x, &info));
        CHECK_INT(info.parked, false);
        llamac_engine_stats st;
        CHECK_OK(llamac_engine_get_stats(e, &st));
        CHECK_INT(st.slots_restored, limit > 0 ? 1 : 0);
        CHECK(limit > 0 ? st.slots_parked >= 1 : st.slots_parked == 0);
        llamac_engine_free(e);
    }
    llamac_engine_params ep = llamac_engine_params_default();
    ep.park_limit_mib = -2;
    llamac_engine *e = NULL;
    CHECK_STATUS(llamac_engine_new(model, &ep, &e), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("park_limit_mib -2");
    CHECK(e == NULL);
    llamac_free(t1);
    llamac_free(t2);
    llamac_free(tb);
}

/* A request sharing only a little of its prompt with a slot's cache (under slot_similarity of it) leaves that slot
 * to the conversation it holds and takes the least recently used one; with slot_similarity 0 the longest prefix
 * always wins. */
static void test_slot_similarity(void) {
    const char *p1 = "Once upon a time, there was a big dog named Max. He liked to run in the park with his friends "
                     "every day, and he was very happy.";
    const char *p2 = "Once upon a sunny morning, a little girl named Lily found a shiny red ball under the old tree "
                     "behind her house and smiled.";
    size_t n1 = 0, n2 = 0;
    llamac_token *t1 = tokens_of(p1, &n1);
    llamac_token *t2 = tokens_of(p2, &n2);
    size_t lcp = common_len(t1, n1, t2, n2);
    CHECK(lcp >= 2 && lcp * 10 < n2); /* some shared prefix, under a tenth of the prompt */
    for (int k = 0; k < 2; k++) {
        llamac_engine_params ep = llamac_engine_params_default();
        ep.n_slots = 2;
        ep.n_threads = 1;
        if (k == 1) {
            ep.slot_similarity = 0.0f;
        }
        llamac_engine *e = NULL;
        CHECK_OK(llamac_engine_new(model, &ep, &e));
        struct sink a, b;
        submit_wait(e, &a, t1, n1, 4);
        submit_wait(e, &b, t2, n2, 4);
        if (k == 0) {
            CHECK(b.res.slot != a.res.slot);
            CHECK_INT(b.res.usage.cached_tokens, 0);
        } else {
            CHECK_INT(b.res.slot, a.res.slot);
            CHECK_INT(b.res.usage.cached_tokens, (int)lcp);
        }
        llamac_engine_free(e);
    }
    llamac_engine_params ep = llamac_engine_params_default();
    ep.slot_similarity = 1.5f;
    llamac_engine *e = NULL;
    CHECK_STATUS(llamac_engine_new(model, &ep, &e), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("slot_similarity 1.5");
    llamac_free(t1);
    llamac_free(t2);
}

static void test_cancel(void) {
    llamac_engine *e = engine_new(1, 0, 512, 4);
    /* From another thread, while the request is held inside its callback. */
    struct sink a;
    llamac_engine_request r = greedy(&a, -1);
    r.sampling.ignore_eos = true;
    a.block_at = 3;
    uint64_t id = 0;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &id));
    wait_blocked(&a);
    llamac_engine_slot sl;
    CHECK_OK(llamac_engine_slot_get(e, 0, &sl));
    CHECK_INT(sl.request_id, id);
    CHECK_INT(sl.state, LLAMAC_SLOT_GENERATING);
    CHECK_OK(llamac_engine_cancel(e, id));
    release(&a);
    wait_done(&a);
    CHECK_INT(a.res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(a.res.usage.generated_tokens, 4);
    CHECK_INT(a.tokens, 4);
    CHECK_STATUS(llamac_engine_cancel(e, id), LLAMAC_E_NOT_FOUND);
    CHECK_OK(llamac_engine_slot_get(e, 0, &sl));
    CHECK_INT(sl.state, LLAMAC_SLOT_IDLE);
    CHECK_INT(sl.request_id, 0);

    /* From its own callback. */
    struct sink b;
    r = greedy(&b, -1);
    r.sampling.ignore_eos = true;
    b.engine = e;
    b.cancel_at = 5;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &b.id));
    wait_done(&b);
    CHECK_INT(b.res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(b.tokens, 6);

    /* A queued request cancelled before it gets a slot. */
    struct sink c, d;
    r = greedy(&c, 16);
    c.block_at = 1;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &c.id));
    wait_blocked(&c);
    r = greedy(&d, 16);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &d.id));
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.n_queued, 1);
    CHECK_INT(st.n_processing, 1);
    CHECK_OK(llamac_engine_cancel(e, d.id));
    release(&c);
    wait_done(&d);
    wait_done(&c);
    CHECK_INT(d.res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(d.res.slot, -1);
    CHECK_INT(d.tokens, 0);
    CHECK_INT(c.res.finish_reason, LLAMAC_FINISH_LENGTH);
    /* The slot serves the next request in full after all that. */
    char want[4096];
    generate_ref(prompt, 16, want, sizeof want);
    CHECK_STR(c.text, want);
    CHECK_STATUS(llamac_engine_cancel(e, 999), LLAMAC_E_NOT_FOUND);
    CHECK_STATUS(llamac_engine_cancel(e, 0), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.requests_cancelled, 3);
    CHECK_INT(st.requests_finished, 4);
    llamac_engine_free(e);
}

static void test_queue_full(void) {
    llamac_engine *e = engine_new(1, 0, 512, 1);
    struct sink a, b, c;
    llamac_engine_request r = greedy(&a, 8);
    a.block_at = 1;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_blocked(&a);
    r = greedy(&b, 8);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    r = greedy(&c, 8);
    uint64_t id = 7;
    CHECK_STATUS(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, &id),
                 LLAMAC_E_BUSY);
    CHECK_ERROR_HAS("queue limit 1");
    CHECK_INT(id, 0);
    release(&a);
    wait_done(&a);
    wait_done(&b);
    CHECK_STR(b.text, a.text);
    CHECK_INT(c.done_calls, 0);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.requests_rejected, 1);
    CHECK_INT(st.requests_submitted, 2);
    /* Room again. */
    r = greedy(&c, 8);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&c);
    CHECK_STR(c.text, a.text);
    llamac_engine_free(e);
}

static void test_submit_errors(void) {
    llamac_engine *e = engine_new(4, 256, 512, 4);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.n_ctx_slot, 64);
    struct sink k;
    llamac_engine_request r = greedy(&k, 8);
    /* A prompt as long as the slot's context: both counts in the message. */
    llamac_token longp[64];
    for (int i = 0; i < 64; i++) {
        longp[i] = i == 0 ? 1 : 300 + i;
    }
    r.prompt = longp;
    r.n_prompt = 64;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_CONTEXT_FULL);
    CHECK_ERROR_HAS("64 tokens");
    CHECK_ERROR_HAS("holds 64");
    r.n_prompt = 63;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.usage.prompt_tokens, 63);

    r = greedy(&k, 8);
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("empty");
    llamac_token bad[2] = { 1, 100000 };
    r.prompt = bad;
    r.n_prompt = 2;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("100000");
    bad[1] = 400;
    r.n_probs = 101;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_probs 101");
    r.n_probs = 0;
    r.max_tokens = -2;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    r.max_tokens = 8;
    r.sampling.grammar = "root ::= \"a\" |";
    r.sampling.grammar = "root ::= [a-";
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_GRAMMAR);
    r.sampling.grammar = "root ::= \"a\"";
    const char *words[] = { "girl" };
    r.sampling.trigger_words = words;
    r.sampling.n_trigger_words = 1;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("grammar_lazy");
    const char *bad_stop[] = { "\xff" };
    r = greedy(&k, 8);
    r.prompt = bad;
    r.n_prompt = 2;
    r.stop = bad_stop;
    r.n_stop = 1;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_UTF8);
    CHECK_STATUS(llamac_engine_submit(NULL, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_submit_text(e, "\xff", 1, 0, &r, NULL), LLAMAC_E_UTF8);
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.requests_submitted, 1);

    /* Parameters. */
    llamac_engine_params ep = llamac_engine_params_default();
    llamac_engine *x = (llamac_engine *)&ep;
    ep.n_slots = 0;
    CHECK_STATUS(llamac_engine_new(model, &ep, &x), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(x == NULL);
    ep = llamac_engine_params_default();
    ep.n_batch = 4;
    CHECK_STATUS(llamac_engine_new(model, &ep, &x), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_batch 4");
    ep = llamac_engine_params_default();
    ep.n_ctx = 100000;
    CHECK_STATUS(llamac_engine_new(model, &ep, &x), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("training context");
    CHECK_STATUS(llamac_engine_new(NULL, &ep, &x), LLAMAC_E_INVALID_ARGUMENT);
    llamac_engine_free(NULL);
    llamac_engine_shutdown(NULL, 0);
    CHECK_STATUS(llamac_engine_get_stats(NULL, &st), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_get_stats(e, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_slot_get(NULL, 0, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_submit(e, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(llamac_engine_model(e) == model);
    CHECK(llamac_engine_model(NULL) == NULL);
    llamac_engine_free(e);
}

static void test_stop_strings(void) {
    llamac_engine *e = engine_new(2, 0, 512, 4);
    struct sink k;
    llamac_engine_request r = greedy(&k, 48);
    const char *stops[] = { "red ball", "Lily" };
    r.stop = stops;
    r.n_stop = 2;
    k.forbidden = "L";
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, ", there was a little girl named ");
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_STOP);
    CHECK_STR(k.stop, "Lily");
    CHECK_INT(k.forbidden_chunks, 0);

    /* Across token boundaries ("girl" is three tokens), and a prefix that never completes is released. */
    const char *split[] = { "ttle gi" };
    r = greedy(&k, 48);
    r.stop = split;
    r.n_stop = 1;
    k.forbidden = "tt";
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, ", there was a li");
    CHECK_INT(k.forbidden_chunks, 0);
    const char *never[] = { "play with it, and" };
    r = greedy(&k, 48);
    r.stop = never;
    r.n_stop = 1;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, reference);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK(k.calls == 49); /* 48 tokens, then the final call releasing the held-back tail */
    llamac_engine_free(e);
}

static void test_grammar(void) {
    llamac_engine *e = engine_new(2, 0, 512, 4);
    struct sink k;
    llamac_engine_request r = greedy(&k, 20);
    r.sampling.grammar = "root ::= (\"yes\" | \"no\") \" \" [a-z]+ \".\"";
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.status, LLAMAC_OK);
    bool shaped = (strncmp(k.text, "yes ", 4) == 0 || strncmp(k.text, "no ", 3) == 0);
    size_t i = k.text[0] == 'y' ? 4 : 3;
    size_t letters = 0;
    while (k.text[i] >= 'a' && k.text[i] <= 'z') {
        i++;
        letters++;
    }
    if (k.res.finish_reason == LLAMAC_FINISH_EOG) {
        shaped = shaped && letters > 0 && strcmp(k.text + i, ".") == 0;
    } else {
        shaped = shaped && k.text[i] == '\0';
    }
    CHECK(shaped);
    if (!shaped) {
        fprintf(stderr, "  grammar output: \"%s\" (%s)\n", k.text, llamac_finish_reason_str(k.res.finish_reason));
    }

    /* A grammar that forces an emoji and two accented letters, which the model spells with byte tokens: every
     * chunk is whole characters. */
    r = greedy(&k, 20);
    r.sampling.grammar = "root ::= \"\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC\"";
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, "\xF0\x9F\x98\x80\xC3\xA9\xE2\x82\xAC");
    CHECK_INT(k.invalid, 0);
    CHECK(k.tokens > 3);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_EOG);

    /* A lazy grammar: free text until the trigger word, then the grammar decides the rest. */
    r = greedy(&k, 40);
    r.sampling.grammar = "root ::= \"girl named Tom.\"";
    r.sampling.grammar_lazy = true;
    const char *words[] = { "girl" };
    r.sampling.trigger_words = words;
    r.sampling.n_trigger_words = 1;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, ", there was a little girl named Tom.");
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_EOG);

    /* A trigger that fires on text the grammar rejects: the request ends with the grammar's error, not a crash. */
    r = greedy(&k, 40);
    r.sampling.grammar = "root ::= \"xyz\"";
    r.sampling.grammar_lazy = true;
    r.sampling.trigger_words = words;
    r.sampling.n_trigger_words = 1;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.status, LLAMAC_E_GRAMMAR);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK(strstr(k.error, "grammar") != NULL);
    CHECK(k.len > 0 && strncmp(k.text, reference, k.len) == 0);
    /* The engine goes on serving. */
    r = greedy(&k, 48);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, reference);
    llamac_engine_free(e);
}

static void test_logprobs(void) {
    llamac_engine *e = engine_new(2, 0, 512, 4);
    struct sink k;
    llamac_engine_request r = greedy(&k, 24);
    r.n_probs = 5;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.tokens, 24);
    CHECK_INT(k.bad_probs, 0);
    char want[4096];
    generate_ref(prompt, 24, want, sizeof want);
    CHECK_STR(k.text, want);
    llamac_engine_free(e);
}

static void *shutdown_now(void *arg) {
    llamac_engine_shutdown(arg, 0);
    return NULL;
}

/* Shutdown lets running and queued requests finish within the grace period, then refuses new ones. */
static void test_shutdown(void) {
    llamac_engine *e = engine_new(1, 0, 512, 4);
    struct sink a, b, c;
    llamac_engine_request r = greedy(&a, 16);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    r = greedy(&b, 16);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    llamac_engine_shutdown(e, 60000);
    CHECK(a.done && b.done);
    CHECK_INT(a.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(b.res.finish_reason, LLAMAC_FINISH_LENGTH);
    r = greedy(&c, 16);
    CHECK_STATUS(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL),
                 LLAMAC_E_BUSY);
    CHECK_ERROR_HAS("shutting down");
    llamac_engine_shutdown(e, 0);
    llamac_engine_free(e);

    /* No grace, from another thread while a request is held in its callback and another is queued: both are
     * cancelled. Once submit says "shutting down", the cancellation is decided. */
    e = engine_new(1, 0, 512, 1);
    r = greedy(&a, -1);
    r.sampling.ignore_eos = true;
    a.block_at = 2;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    r = greedy(&b, 8);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_blocked(&a);
    pthread_t t;
    pthread_create(&t, NULL, shutdown_now, e);
    for (;;) {
        r = greedy(&c, 8);
        CHECK_STATUS(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL),
                     LLAMAC_E_BUSY);
        if (strstr(llamac_last_error(), "shutting down")) {
            break;
        }
    }
    release(&a);
    pthread_join(t, NULL);
    CHECK_INT(a.done_calls, 1);
    CHECK_INT(b.done_calls, 1);
    CHECK_INT(a.res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(a.tokens, 3);
    CHECK_INT(b.res.finish_reason, LLAMAC_FINISH_CANCELLED);
    CHECK_INT(b.res.slot, -1);
    llamac_engine_free(e);
}

#ifdef __linux__
/* Threads of this process named `name` (from /proc/self/task/TID/comm). */
static int threads_named(const char *name) {
    DIR *d = opendir("/proc/self/task");
    CHECK(d != NULL);
    if (!d) {
        return -1;
    }
    int n = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (de->d_name[0] == '.') {
            continue;
        }
        char path[300], comm[64] = "";
        snprintf(path, sizeof path, "/proc/self/task/%s/comm", de->d_name);
        FILE *f = fopen(path, "r");
        if (f) {
            if (fgets(comm, sizeof comm, f)) {
                comm[strcspn(comm, "\n")] = '\0';
            }
            fclose(f);
        }
        n += strcmp(comm, name) == 0;
    }
    closedir(d);
    return n;
}
#endif

/* The worker thread carries the name the header gives it, so that tools (and bench-serve's CPU placement) find it;
 * it goes with the engine. */
/* As llama-server: a request ends when the token it just sampled would fill the slot (prompt + generated = the
 * slot's context); with context_shift it goes on past it, the slot's cache halved after the kept tokens. */
static void test_context_end_and_shift(void) {
    llamac_engine *e = engine_new(1, 64, 512, 4);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st)); /* llama.cpp rounds the context up (to 256) */
    int slot_ctx = (int)st.n_ctx_slot;
    size_t n = 0;
    llamac_token *t = tokens_of(prompt, &n);
    struct sink k;
    llamac_engine_request r = greedy(&k, -1);
    r.prompt = t;
    r.n_prompt = n;
    r.sampling.ignore_eos = true;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_CONTEXT_FULL);
    CHECK_INT(k.res.usage.generated_tokens, slot_ctx - (int)n);
    CHECK_INT(k.res.usage.discarded_tokens, 0);
    llamac_engine_free(e);

    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 1;
    ep.n_ctx = 64;
    ep.n_threads = 1;
    ep.context_shift = true;
    CHECK_OK(llamac_engine_new(model, &ep, &e));
    int32_t want = slot_ctx * 2;
    r = greedy(&k, want);
    r.prompt = t;
    r.n_prompt = n;
    r.sampling.ignore_eos = true;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(k.tokens, want);
    CHECK(k.res.usage.discarded_tokens > 0);
    CHECK_INT(k.invalid, 0);
    llamac_engine_slot sl;
    CHECK_OK(llamac_engine_slot_get(e, 0, &sl));
    /* What the cache holds: every token but the discarded ones and the last sampled one. */
    CHECK_INT(sl.n_cached, (int)n + want - 1 - k.res.usage.discarded_tokens);
    CHECK((int)sl.n_cached < slot_ctx);
    r.n_keep = -2;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_keep");
    llamac_free(t);
    llamac_engine_free(e);
}

/* kv_unified: a slot may hold the whole context; slots that outgrow the cache together fail with llama-server's
 * words. */
static void test_kv_unified(void) {
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 2;
    ep.n_ctx = 128;
    ep.n_threads = 1;
    ep.kv_unified = true;
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(model, &ep, &e));
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK_INT(st.n_ctx_slot, st.n_ctx);        /* llama.cpp rounds 128 up to 256 */
    int32_t half = (int32_t)st.n_ctx / 2 + 16; /* two of these overflow the cache, one alone fits */
    size_t n = 0;
    llamac_token *t = tokens_of(prompt, &n);
    struct sink a, b;
    llamac_engine_request ra = greedy(&a, -1);
    ra.prompt = t;
    ra.n_prompt = n;
    ra.sampling.ignore_eos = true;
    CHECK_OK(llamac_engine_submit(e, &ra, NULL));
    wait_done(&a);
    CHECK_INT(a.res.usage.generated_tokens, (int)st.n_ctx - (int)n);
    /* Two at once: together more than the cache's cells. */
    llamac_engine_request rb = greedy(&b, half);
    rb.prompt = t;
    rb.n_prompt = n;
    rb.sampling.ignore_eos = true;
    rb.cache_prompt = false;
    ra = greedy(&a, half);
    ra.prompt = t;
    ra.n_prompt = n;
    ra.sampling.ignore_eos = true;
    ra.cache_prompt = false;
    a.engine = e;
    a.submit_at = 2;
    a.follow = &rb;
    CHECK_OK(llamac_engine_submit(e, &ra, NULL));
    wait_done(&a);
    wait_done(&b);
    CHECK_INT(a.res.status, LLAMAC_E_CONTEXT_FULL);
    CHECK_INT(b.res.status, LLAMAC_E_CONTEXT_FULL);
    CHECK(strstr(a.error, "context size has been exceeded") != NULL);
    /* The engine goes on: one request alone fits. */
    submit_wait(e, &a, t, n, 8);
    CHECK_INT(a.res.status, LLAMAC_OK);
    CHECK_INT(a.tokens, 8);
    llamac_free(t);
    llamac_engine_free(e);
}

struct progress_sink {
    int calls;
    int tokens_before; /* tokens delivered when the last progress came */
    llamac_engine_progress first, last;
    int bad; /* reports out of order */
    struct sink *k;
};

static void on_progress(const llamac_engine_progress *p, void *user_data) {
    struct progress_sink *ps = user_data;
    pthread_mutex_lock(&mu);
    if (ps->calls == 0) {
        ps->first = *p;
    } else if (p->n_processed <= ps->last.n_processed || p->prompt_ms < ps->last.prompt_ms ||
               p->n_prompt != ps->last.n_prompt || p->n_cached != ps->last.n_cached) {
        ps->bad++;
    }
    ps->last = *p;
    ps->calls++;
    ps->tokens_before = ps->k->tokens;
    pthread_mutex_unlock(&mu);
}

static bool progress_token(const llamac_engine_token *t, void *user_data) {
    struct progress_sink *ps = user_data;
    return on_token(t, ps->k);
}

static void progress_done(const llamac_engine_result *r, void *user_data) {
    struct progress_sink *ps = user_data;
    on_done(r, ps->k);
}

/* Progress through a prompt: a report when it gets a slot, one after each chunk, the last before the first token. */
static void test_progress(void) {
    llamac_engine *e = engine_new(1, 0, 8, 4);
    char longp[512] = "";
    while (strlen(longp) < 120) {
        strcat(longp, "The cat sat on the mat. ");
    }
    size_t n = 0;
    llamac_token *t = tokens_of(longp, &n);
    struct sink k;
    struct progress_sink ps = { .k = &k };
    llamac_engine_request r = greedy(&k, 4);
    r.prompt = t;
    r.n_prompt = n;
    r.on_token = progress_token;
    r.on_done = progress_done;
    r.on_progress = on_progress;
    r.user_data = &ps;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(ps.calls, 1 + (int)((n + 7) / 8));
    CHECK_INT(ps.bad, 0);
    CHECK_INT(ps.first.n_processed, 0);
    CHECK_INT(ps.first.n_cached, 0);
    CHECK(ps.first.prompt_ms == 0.0);
    CHECK_INT(ps.last.n_processed, (int)n);
    CHECK(ps.last.prompt_ms > 0.0);
    CHECK_INT(ps.tokens_before, 0);
    CHECK_INT(k.tokens, 4);
    /* Again: all but the last token from the cache, one chunk left. */
    memset(&ps, 0, sizeof ps);
    ps.k = &k;
    memset(&k, 0, sizeof k);
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(ps.calls, 2);
    CHECK_INT(ps.first.n_cached, (int)n - 1);
    CHECK_INT(ps.first.n_processed, (int)n - 1);
    CHECK_INT(ps.last.n_processed, (int)n);
    llamac_free(t);
    llamac_engine_free(e);
}

struct post_sink {
    int tokens, bad, short_lists;
    struct sink *k;
};

static bool post_token(const llamac_engine_token *t, void *user_data) {
    struct post_sink *ps = user_data;
    if (t->token >= 0) {
        double sum = 0;
        bool chosen = false;
        for (size_t i = 0; i < t->n_top; i++) {
            double p = exp((double)t->top[i].logprob);
            sum += p;
            if (!(p > 0.0) || t->top[i].logprob > 0 || (i > 0 && t->top[i].logprob > t->top[i - 1].logprob)) {
                ps->bad++;
            }
            if (t->top[i].token == t->token) {
                chosen = fabsf(t->top[i].logprob - t->logprob) < 1e-6f;
            }
        }
        if (t->n_top == 0 || sum > 1.0 + 1e-4 || !(chosen || t->n_top == 10)) {
            ps->bad++;
        }
        if (t->n_top < 10) {
            ps->short_lists++;
            ps->bad += fabs(sum - 1.0) > 1e-4; /* fewer than asked: they are the whole distribution */
        }
        ps->tokens++;
    }
    return true;
}

static void post_done(const llamac_engine_result *r, void *user_data) {
    struct post_sink *ps = user_data;
    on_done(r, ps->k);
}

/* post_sampling_probs: the distribution the chain left; top-k 3 leaves at most 3 candidates, which sum to 1. */
static void test_post_sampling_probs(void) {
    llamac_engine *e = engine_new(1, 0, 512, 4);
    struct sink k;
    struct post_sink ps = { .k = &k };
    llamac_engine_request r = greedy(&k, 12);
    r.sampling.temp = 1.0f;
    r.sampling.top_k = 3;
    r.sampling.seed = 11;
    r.n_probs = 10;
    r.post_sampling_probs = true;
    r.on_token = post_token;
    r.on_done = post_done;
    r.user_data = &ps;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL));
    wait_done(&k);
    CHECK_INT(ps.tokens, 12);
    CHECK_INT(ps.bad, 0);
    CHECK_INT(ps.short_lists, 12);
    llamac_engine_free(e);
}

/* A slot saved to a file and restored into another serves the same prompt from the cache with the same text; erase
 * forgets; each bad file is refused with the slot left empty and usable. */
static void test_slot_files(void) {
    llamac_engine *e = engine_new(2, 0, 512, 4);
    size_t n = 0;
    llamac_token *t = tokens_of(prompt, &n);
    struct sink a, b;
    llamac_engine_request r = greedy(&a, 8);
    r.prompt = t;
    r.n_prompt = n;
    r.slot = 0;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&a);
    const char *path = test_tmp("slot0.bin");
    size_t n_tokens = 0, n_bytes = 0;
    CHECK_OK(llamac_engine_slot_save(e, 0, path, &n_tokens, &n_bytes));
    CHECK_INT(n_tokens, n + 8 - 1);
    CHECK(n_bytes > n_tokens * sizeof(llamac_token));
    size_t n_restored = 0, n_read = 0;
    CHECK_OK(llamac_engine_slot_restore(e, 1, path, &n_restored, &n_read));
    CHECK_INT(n_restored, n_tokens);
    CHECK_INT(n_read, n_bytes);
    llamac_engine_slot sl;
    CHECK_OK(llamac_engine_slot_get(e, 1, &sl));
    CHECK_INT(sl.n_cached, n_tokens);
    r = greedy(&b, 8);
    r.prompt = t;
    r.n_prompt = n;
    r.slot = 1;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&b);
    CHECK_INT(b.res.usage.cached_tokens, (int)n - 1);
    CHECK_STR(b.text, a.text);
    size_t n_erased = 0;
    CHECK_OK(llamac_engine_slot_erase(e, 1, &n_erased));
    CHECK_INT(n_erased, n_tokens);
    CHECK_OK(llamac_engine_slot_get(e, 1, &sl));
    CHECK_INT(sl.n_cached, 0);
    /* Bad files and arguments. */
    CHECK_STATUS(llamac_engine_slot_restore(e, 1, test_tmp("no-such-slot.bin"), NULL, NULL), LLAMAC_E_IO);
    CHECK_ERROR_HAS("no-such-slot.bin");
    FILE *f = fopen(test_tmp("junk.bin"), "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a sequence state at all", f);
        fclose(f);
    }
    CHECK_STATUS(llamac_engine_slot_restore(e, 1, test_tmp("junk.bin"), NULL, NULL), LLAMAC_E_STATE);
    /* A file cut short (llama.cpp's own loader would abort on it), and one with bytes after its state. */
    size_t len = 0;
    char *saved = test_read_file(path, &len);
    CHECK(saved != NULL && len == n_bytes);
    for (int cut = 0; saved && cut < 2; cut++) {
        f = fopen(test_tmp("cut.bin"), "wb");
        CHECK(f != NULL);
        if (f) {
            fwrite(saved, 1, cut ? len / 2 : 30, f);
            fclose(f);
        }
        CHECK_STATUS(llamac_engine_slot_restore(e, 1, test_tmp("cut.bin"), NULL, NULL), LLAMAC_E_STATE);
    }
    f = fopen(test_tmp("long.bin"), "wb");
    CHECK(f != NULL);
    if (f && saved) {
        fwrite(saved, 1, len, f);
        fputs("more", f);
        fclose(f);
    }
    CHECK_STATUS(llamac_engine_slot_restore(e, 1, test_tmp("long.bin"), NULL, NULL), LLAMAC_E_STATE);
    CHECK_ERROR_HAS("trailing");
    free(saved);
    CHECK_STATUS(llamac_engine_slot_restore(e, 1, test_tmp("."), NULL, NULL), LLAMAC_E_IO);
    CHECK_STATUS(llamac_engine_slot_save(e, 0, test_tmp("no-such-dir/x.bin"), NULL, NULL), LLAMAC_E_IO);
    CHECK_STATUS(llamac_engine_slot_save(e, 2, path, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_slot_save(e, 0, NULL, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_slot_erase(NULL, 0, NULL), LLAMAC_E_INVALID_ARGUMENT);
    /* The slot still serves, from nothing. */
    submit_wait(e, &b, t, n, 8);
    CHECK_STR(b.text, a.text);
    llamac_free(t);
    llamac_engine_free(e);
}

static void test_worker_thread_named(void) {
#ifdef __linux__
    CHECK_INT(threads_named("llamac-engine"), 0);
    llamac_engine *e = engine_new(2, 512, 64, 0);
    CHECK_INT(threads_named("llamac-engine"), 1);
    llamac_engine_free(e);
    CHECK_INT(threads_named("llamac-engine"), 0);
#endif
}

/* Whether requests a and b were ever decoded in the same step. */
static bool share_step(const struct sink *a, const struct sink *b) {
    for (int i = 0; i < a->tokens && i < 1024; i++) {
        for (int j = 0; j < b->tokens && j < 1024; j++) {
            if (a->steps[i] == b->steps[j]) {
                return true;
            }
        }
    }
    return false;
}

/* A LoRA adapter for stories260K that changes its greedy text (under the test folder). */
static llamac_adapter *lora_load(const char *name, uint64_t seed) {
    llamac_synth_lora_params lp = llamac_synth_lora_params_default();
    lp.base = test_model("stories260K.gguf");
    lp.targets = "all";
    lp.seed = seed;
    lp.init_std = 0.15f; /* enough to change the text at every scale used here */
    CHECK_OK(llamac_synth_lora_write(test_tmp(name), &lp));
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(model, test_tmp(name), &a));
    if (!a) {
        fprintf(stderr, "cannot load the adapter: %s\n", llamac_last_error());
        exit(1);
    }
    return a;
}

/* Four requests at scales 0, 0.5, 1 and 0.5 in four slots at once: each gets the text llamac_generate gives at its
 * scale; no step decodes requests of different scales together, the two at 0.5 are batched together, every scale is
 * served before any request ends (no set waits for another to finish), and the sets take turns of several steps. A
 * cached prefix is reused only by a request at the scale that computed it. */
static void test_lora_per_request(void) {
    llamac_adapter *a = lora_load("engine-lora.gguf", 1);
    const float scales[4] = { 0.0f, 0.5f, 1.0f, 0.5f };
    static char want[4][4096];
    for (int i = 0; i < 4; i++) {
        llamac_adapter_scale set = { a, scales[i] };
        generate_ref_lora(prompt, 32, &set, 1, want[i], sizeof want[i]);
    }
    CHECK(strcmp(want[0], want[1]) != 0 && strcmp(want[1], want[2]) != 0 && strcmp(want[0], want[2]) != 0);
    char base[4096];
    generate_ref(prompt, 32, base, sizeof base);
    CHECK_STR(want[0], base);

    llamac_engine *e = engine_new(4, 0, 512, 8);
    static struct sink k[4];
    llamac_adapter_scale sets[4];
    llamac_engine_request r[4];
    size_t n = 0;
    llamac_token *t = tokens_of(prompt, &n);
    for (int i = 0; i < 4; i++) {
        r[i] = greedy(&k[i], 32);
        r[i].prompt = t;
        r[i].n_prompt = n;
        sets[i].adapter = a;
        sets[i].scale = scales[i];
        r[i].adapters = &sets[i];
        r[i].n_adapters = 1;
    }
    /* The first request holds the engine at its second token until the others are queued, so all four run at once. */
    k[0].block_at = 1;
    CHECK_OK(llamac_engine_submit(e, &r[0], NULL));
    wait_blocked(&k[0]);
    for (int i = 1; i < 4; i++) {
        CHECK_OK(llamac_engine_submit(e, &r[i], NULL));
    }
    release(&k[0]);
    uint64_t last_first = 0, first_last = UINT64_MAX;
    for (int i = 0; i < 4; i++) {
        wait_done(&k[i]);
        CHECK_STR(k[i].text, want[i]);
        CHECK_INT(k[i].tokens, 32);
        last_first = k[i].steps[0] > last_first ? k[i].steps[0] : last_first;
        first_last = k[i].steps[31] < first_last ? k[i].steps[31] : first_last;
    }
    CHECK(!share_step(&k[0], &k[1]) && !share_step(&k[0], &k[2]) && !share_step(&k[1], &k[2]));
    CHECK(!share_step(&k[0], &k[3]) && !share_step(&k[2], &k[3]));
    CHECK(share_step(&k[1], &k[3]));
    CHECK(last_first < first_last); /* every scale got going before any request ended */
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK(st.adapter_swaps >= 3);
    /* A set keeps the context for turns of 8 steps (engine_step.c's ENG_SET_TURN): 32 tokens of three sets take about
     * 4 turns each, not a switch per step. */
    CHECK(st.adapter_swaps <= 3 * (32 / 8 + 1) + 1);

    /* The prompt cache: at scale 1 the slot that computed it at scale 1 is reused, at a new scale nothing is. */
    struct sink again;
    r[2] = greedy(&again, 32);
    r[2].prompt = t;
    r[2].n_prompt = n;
    r[2].adapters = &sets[2];
    r[2].n_adapters = 1;
    CHECK_OK(llamac_engine_submit(e, &r[2], NULL));
    wait_done(&again);
    CHECK_STR(again.text, want[2]);
    CHECK_INT(again.res.usage.cached_tokens, (int)n - 1);
    llamac_adapter_scale other = { a, 0.25f };
    r[2] = greedy(&again, 32);
    r[2].prompt = t;
    r[2].n_prompt = n;
    r[2].adapters = &other;
    r[2].n_adapters = 1;
    CHECK_OK(llamac_engine_submit(e, &r[2], NULL));
    wait_done(&again);
    CHECK_INT(again.res.usage.cached_tokens, 0);
    char want_quarter[4096];
    generate_ref_lora(prompt, 32, &other, 1, want_quarter, sizeof want_quarter);
    CHECK_STR(again.text, want_quarter);
    llamac_engine_free(e);
    llamac_free(t);
    llamac_adapter_free(a);
}

/* llamac_engine_set_adapters: requests that name no set take the engine's set when they are submitted, so a change
 * applies to the requests after it while a running one keeps its own; bad sets are refused and change nothing. */
static void test_lora_engine_set(void) {
    llamac_adapter *a = lora_load("engine-lora-set.gguf", 2);
    llamac_adapter_scale one = { a, 1.0f }, zero = { a, 0.0f };
    char want1[4096], want0[4096];
    generate_ref_lora(prompt, 32, &one, 1, want1, sizeof want1);
    generate_ref(prompt, 32, want0, sizeof want0);
    CHECK(strcmp(want1, want0) != 0);
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 2;
    ep.n_threads = 1;
    ep.adapters = &one;
    ep.n_adapters = 1;
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(model, &ep, &e));
    static struct sink k1, k0;
    llamac_engine_request r1 = greedy(&k1, 32), r0 = greedy(&k0, 32);
    k1.block_at = 2;
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r1, NULL));
    wait_blocked(&k1);
    CHECK_OK(llamac_engine_set_adapters(e, &zero, 1));
    llamac_adapter_scale got[2];
    CHECK_INT(llamac_engine_adapters(e, got, 2), 1);
    CHECK(got[0].adapter == a && got[0].scale == 0.0f);
    CHECK_OK(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r0, NULL));
    release(&k1);
    wait_done(&k1);
    wait_done(&k0);
    CHECK_STR(k1.text, want1); /* submitted before the change */
    CHECK_STR(k0.text, want0); /* after it: scale 0, the base model */

    /* refused sets, the engine's set kept */
    llamac_adapter_scale bad[2] = { { a, NAN }, { a, 1.0f } };
    CHECK_STATUS(llamac_engine_set_adapters(e, bad, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("llamac_engine_set_adapters: adapter 0");
    CHECK_ERROR_HAS("finite");
    bad[0].scale = 0.5f;
    CHECK_STATUS(llamac_engine_set_adapters(e, bad, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("adapters 0 and 1 are the same");
    CHECK_STATUS(llamac_engine_set_adapters(e, NULL, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_set_adapters(NULL, &one, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(llamac_engine_adapters(e, got, 2), 1);
    CHECK(got[0].adapter == a && got[0].scale == 0.0f);
    struct sink k;
    llamac_engine_request r = greedy(&k, 4);
    r.adapters = bad;
    r.n_adapters = 2;
    CHECK_STATUS(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("llamac_engine_submit: adapters 0 and 1 are the same");
    r.adapters = NULL;
    CHECK_STATUS(llamac_engine_submit_text(e, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &r, NULL),
                 LLAMAC_E_INVALID_ARGUMENT);
    /* an adapter loaded for another model */
    llamac_model *m2 = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &m2));
    llamac_adapter *a2 = NULL;
    CHECK_OK(llamac_adapter_load(m2, test_tmp("engine-lora-set.gguf"), &a2));
    llamac_adapter_scale foreign = { a2, 1.0f };
    CHECK_STATUS(llamac_engine_set_adapters(e, &foreign, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("was loaded for another model");
    /* the engine's set outlives the caller's references; removing it is allowed */
    llamac_adapter_free(a);
    CHECK_OK(llamac_engine_set_adapters(e, NULL, 0));
    CHECK_INT(llamac_engine_adapters(e, got, 2), 0);
    llamac_engine_free(e);
    llamac_adapter_free(a2);
    llamac_model_free(m2);
}

int main(void) {
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &model));
    if (!model) {
        fprintf(stderr, "cannot load the model: %s\n", llamac_last_error());
        return 1;
    }
    RUN(test_greedy_matches_generate);
    RUN(test_parallel_equals_sequential);
    RUN(test_chunked_prefill);
    RUN(test_prompt_cache);
    RUN(test_parked_cache);
    RUN(test_pinned_slot);
    RUN(test_slot_similarity);
    RUN(test_cancel);
    RUN(test_queue_full);
    RUN(test_submit_errors);
    RUN(test_stop_strings);
    RUN(test_grammar);
    RUN(test_logprobs);
    RUN(test_shutdown);
    RUN(test_context_end_and_shift);
    RUN(test_kv_unified);
    RUN(test_progress);
    RUN(test_post_sampling_probs);
    RUN(test_slot_files);
    RUN(test_worker_thread_named);
    RUN(test_lora_per_request);
    RUN(test_lora_engine_set);
    llamac_model_free(model);
    TESTS_DONE();
}
