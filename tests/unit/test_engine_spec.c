/*
 * test_engine_spec.c - speculative decoding in the serving engine on stories260K: each of several requests decoded
 * together with n-gram drafts gives the text llamac_generate gives it alone without speculation (at several draft
 * lengths, with stop strings, a grammar and log-probabilities), drafts are really verified and partly rejected, the
 * slot's KV cache after rejected drafts serves the next request as one without speculation, the batch-width policy
 * turns drafting off under load, and bad settings are refused at submit. The same with a draft model: a layer-skip
 * draft of stories260K (llamac_quantize keeping 4 of its 5 layers), in the engine's draft context with a sequence
 * per slot; a draft that is always wrong backs off; a draft model of another vocabulary is refused when the engine
 * is created.
 */
#include "helpers.h"

#include <math.h>
#include <pthread.h>

static llamac_model *model, *skip_model;

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

struct sink {
    char text[8192];
    size_t len;
    llamac_token tokens[1024];
    float logprob[1024];
    int n_tokens;
    bool hold, held; /* the token callback waits while hold is set (held: it is waiting) */
    bool done;
    llamac_engine_result res;
    char error[512];
};

static bool on_token(const llamac_engine_token *t, void *user_data) {
    struct sink *k = user_data;
    pthread_mutex_lock(&mu);
    if (k->len + t->len < sizeof k->text) {
        memcpy(k->text + k->len, t->text, t->len);
        k->len += t->len;
        k->text[k->len] = '\0';
    }
    if (t->token >= 0 && k->n_tokens < 1024) {
        k->logprob[k->n_tokens] = t->logprob;
        k->tokens[k->n_tokens++] = t->token;
    }
    while (k->hold) {
        k->held = true;
        pthread_cond_broadcast(&cv);
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
    return true;
}

static void on_done(const llamac_engine_result *r, void *user_data) {
    struct sink *k = user_data;
    pthread_mutex_lock(&mu);
    k->res = *r;
    snprintf(k->error, sizeof k->error, "%s", r->error ? r->error : "");
    k->res.stop = NULL;
    k->res.error = NULL;
    k->done = true;
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

/* The engine's settings for stories260K: n_slots slots, one thread, the batch-width policy at spec_batch_max, and
 * `draft` as its draft model (NULL: none). */
static llamac_engine_params engine_params(uint32_t n_slots, uint32_t spec_batch_max, llamac_model *draft) {
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = n_slots;
    ep.n_threads = 1;
    ep.spec_batch_max = spec_batch_max;
    ep.draft_model = draft;
    return ep;
}

/* An engine on stories260K with these settings; the test ends when it cannot be made. */
static llamac_engine *engine_with(const llamac_engine_params *ep) {
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(model, ep, &e));
    if (!e) {
        fprintf(stderr, "cannot create an engine: %s\n", llamac_last_error());
        exit(1);
    }
    return e;
}

static llamac_engine *engine_draft(uint32_t n_slots, uint32_t spec_batch_max, llamac_model *draft) {
    llamac_engine_params ep = engine_params(n_slots, spec_batch_max, draft);
    return engine_with(&ep);
}

static llamac_engine *engine_new(uint32_t n_slots, uint32_t spec_batch_max) {
    return engine_draft(n_slots, spec_batch_max, NULL);
}

/* A greedy request into `k`, with n-gram drafts of up to n_max tokens (0: no speculation). */
static llamac_engine_request greedy(struct sink *k, int32_t max_tokens, int32_t n_max) {
    memset(k, 0, sizeof *k);
    llamac_engine_request r = llamac_engine_request_default();
    r.sampling.temp = 0.0f;
    r.max_tokens = max_tokens;
    r.on_token = on_token;
    r.on_done = on_done;
    r.user_data = k;
    if (n_max > 0) {
        r.spec.ngram = true;
        r.spec.n_max = n_max;
    }
    return r;
}

/* llamac_generate's greedy text for the token prompt on a context of its own, without speculation. */
static void generate_ref(const llamac_token *prompt, size_t n, int32_t max_tokens, const char *const *stop,
                         size_t n_stop, const char *grammar, char *out, size_t cap) {
    llamac_ctx_params cp = test_ctx_params(0);
    llamac_context *c = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &c));
    struct test_sink r;
    memset(&r, 0, sizeof r);
    llamac_generate_params gp = test_greedy_params(max_tokens, test_on_text, &r);
    gp.sampling.grammar = grammar;
    gp.stop = stop;
    gp.n_stop = n_stop;
    CHECK_OK(llamac_generate_tokens(c, prompt, n, &gp, NULL));
    snprintf(out, cap, "%s", r.text);
    llamac_ctx_free(c);
}

static llamac_token *tokens_of(const char *text, size_t *n) {
    llamac_token *t = NULL;
    CHECK_OK(llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &t, n));
    return t;
}

/* Holds the engine: a one-token request whose token callback waits until gate_open, so that the requests submitted
 * meanwhile are admitted together. */
static void gate_hold(llamac_engine *e, struct sink *gate, const llamac_token *tok) {
    llamac_engine_request g = greedy(gate, 1, 0);
    g.prompt = tok;
    g.n_prompt = 2;
    gate->hold = true;
    CHECK_OK(llamac_engine_submit(e, &g, NULL));
    pthread_mutex_lock(&mu);
    while (!gate->held) {
        pthread_cond_wait(&cv, &mu);
    }
    pthread_mutex_unlock(&mu);
}

static void gate_open(struct sink *gate) {
    pthread_mutex_lock(&mu);
    gate->hold = false;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
    wait_done(gate);
}

/* Stories that repeat themselves (n-gram lookup finds long matches in them) and one that does not. */
static const char *const prompts[4] = {
    "Tom had a red ball. Tom had a red ball and a big dog. Tom had a red ball and a big dog. Tom had a red ball and",
    "Lily saw a cat. The cat was big. Lily saw a cat. The cat was big and soft. Lily saw a cat. The cat",
    "Once upon a time",
    "One day, Sue went to the park. One day, Sue went to the park with her mom. One day, Sue went",
};

/* The four prompts' tokens, and each one's greedy text of max_tokens tokens alone, without speculation: what every
 * run of them with drafts must give. */
struct refs {
    llamac_token *tok[4]; /* refs_free frees them */
    size_t n[4];
    char want[4][4096];
};

static void refs_make(struct refs *rf, int32_t max_tokens) {
    for (int i = 0; i < 4; i++) {
        rf->tok[i] = tokens_of(prompts[i], &rf->n[i]);
        generate_ref(rf->tok[i], rf->n[i], max_tokens, NULL, 0, NULL, rf->want[i], sizeof rf->want[i]);
    }
}

static void refs_free(struct refs *rf) {
    for (int i = 0; i < 4; i++) {
        llamac_free(rf->tok[i]);
    }
}

/* A greedy request of prompt i that the engine's draft model alone drafts for (no n-gram lookup), up to n_max tokens
 * at every chance it gets (p_min 0). */
static llamac_engine_request draft_request(struct sink *k, int32_t max_tokens, int32_t n_max, const struct refs *rf,
                                           int i) {
    llamac_engine_request r = greedy(k, max_tokens, n_max);
    r.prompt = rf->tok[i];
    r.n_prompt = rf->n[i];
    r.spec.ngram = false;
    r.spec_draft = true;
    r.spec.p_min = 0;
    return r;
}

/* Four requests decoded together with drafts: each is its solo run without speculation, at every draft length;
 * drafts are made, some accepted, some rejected, and a single copy-heavy stream needs fewer steps than tokens. */
static void test_parallel_identical(void) {
    struct refs rf;
    refs_make(&rf, 80);
    const int32_t lengths[] = { 1, 3, 8, 16 };
    for (size_t li = 0; li < 4; li++) {
        llamac_engine *e = engine_new(4, 64);
        static struct sink k[4];
        for (int i = 0; i < 4; i++) {
            llamac_engine_request r = greedy(&k[i], 80, lengths[li]);
            r.prompt = rf.tok[i];
            r.n_prompt = rf.n[i];
            CHECK_OK(llamac_engine_submit(e, &r, NULL));
        }
        int32_t drafted = 0, accepted = 0;
        for (int i = 0; i < 4; i++) {
            wait_done(&k[i]);
            if (strcmp(k[i].text, rf.want[i]) != 0) {
                fprintf(stderr, "n_max %d, prompt %d differs:\n  %s\n  %s\n", lengths[li], i, rf.want[i], k[i].text);
            }
            CHECK_STR(k[i].text, rf.want[i]);
            CHECK_INT(k[i].res.finish_reason, LLAMAC_FINISH_LENGTH);
            CHECK_INT(k[i].res.usage.generated_tokens, 80);
            CHECK(k[i].res.usage.draft_accepted <= k[i].res.usage.draft_tokens);
            drafted += k[i].res.usage.draft_tokens;
            accepted += k[i].res.usage.draft_accepted;
        }
        CHECK(k[0].res.usage.draft_accepted > 0);  /* the copy-heavy story */
        CHECK(accepted > 0 && accepted < drafted); /* drafts were verified, some rejected */
        llamac_engine_stats st;
        CHECK_OK(llamac_engine_get_stats(e, &st));
        CHECK_INT(st.draft_tokens, (uint64_t)drafted);
        CHECK_INT(st.draft_accepted, (uint64_t)accepted);
        CHECK(st.drafts > 0 && st.drafts <= st.draft_tokens);
        CHECK_INT(st.generated_tokens, 4 * 80);
        llamac_engine_free(e);
    }
    /* One stream alone: every accepted draft token saves a step. */
    llamac_engine *e = engine_new(1, 64);
    struct sink one;
    llamac_engine_request r = greedy(&one, 80, 8);
    r.prompt = rf.tok[0];
    r.n_prompt = rf.n[0];
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&one);
    CHECK_STR(one.text, rf.want[0]);
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    CHECK(one.res.usage.draft_accepted > 10);
    CHECK_INT(st.steps, 80 - (uint64_t)one.res.usage.draft_accepted); /* the prompt's step, then one per token
                                                                         not accepted from a draft but the last */
    llamac_engine_free(e);
    refs_free(&rf);
}

/* Stop strings, a grammar and log-probabilities work as without speculation. */
static void test_stop_grammar_logprobs(void) {
    size_t n = 0;
    llamac_token *tok = tokens_of(prompts[0], &n);
    char want[4096];
    llamac_engine *e = engine_new(2, 64);
    const char *stops[] = { "saw the ball" };
    generate_ref(tok, n, 200, stops, 1, NULL, want, sizeof want);
    struct sink k;
    llamac_engine_request r = greedy(&k, 200, 8);
    r.prompt = tok;
    r.n_prompt = n;
    r.stop = stops;
    r.n_stop = 1;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, want);
    CHECK_INT(k.res.finish_reason, LLAMAC_FINISH_STOP);
    CHECK(k.res.usage.draft_accepted > 0);

    /* a grammar that allows lower-case words only: the n-gram drafts propose capitals and dots it must reject */
    const char *grammar = "root ::= [a-z ]+";
    generate_ref(tok, n, 60, NULL, 0, grammar, want, sizeof want);
    CHECK(strlen(want) > 0 && strspn(want, "abcdefghijklmnopqrstuvwxyz ") == strlen(want));
    r = greedy(&k, 60, 8);
    r.prompt = tok;
    r.n_prompt = n;
    r.sampling.grammar = grammar;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, want);
    CHECK(k.res.usage.draft_tokens > k.res.usage.draft_accepted);

    /* log-probabilities: the same tokens with the same values (a batch of drafts is computed with other kernels
     * than a single token: measured differences up to 0.0016) */
    struct sink base;
    r = greedy(&base, 60, 0);
    r.prompt = tok;
    r.n_prompt = n;
    r.n_probs = 3;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&base);
    r = greedy(&k, 60, 8);
    r.prompt = tok;
    r.n_prompt = n;
    r.n_probs = 3;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_STR(k.text, base.text);
    CHECK_INT(k.n_tokens, base.n_tokens);
    CHECK(k.res.usage.draft_accepted > 0);
    int far = 0;
    for (int i = 0; i < k.n_tokens && i < base.n_tokens; i++) {
        bool off = k.tokens[i] != base.tokens[i] || fabsf(k.logprob[i] - base.logprob[i]) > 1e-2f;
        if (off) {
            fprintf(stderr, "token %d: %d (%g) with drafts, %d (%g) without\n", i, k.tokens[i], (double)k.logprob[i],
                    base.tokens[i], (double)base.logprob[i]);
        }
        far += off;
    }
    CHECK_INT(far, 0);
    llamac_engine_free(e);
    llamac_free(tok);
}

/* After a request whose drafts were partly rejected, the slot's KV cache holds exactly its prompt and output but the
 * last token: a follow-up on the same slot that reuses it continues as a fresh run of the whole text. */
static void test_kv_after_rejection(void) {
    size_t n = 0;
    llamac_token *tok = tokens_of(prompts[1], &n);
    llamac_engine *e = engine_new(1, 64);
    struct sink a;
    llamac_engine_request r = greedy(&a, 37, 6);
    r.prompt = tok;
    r.n_prompt = n;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&a);
    CHECK(a.res.usage.draft_tokens > a.res.usage.draft_accepted && a.res.usage.draft_accepted > 0);
    llamac_engine_slot sl;
    CHECK_OK(llamac_engine_slot_get(e, 0, &sl));
    CHECK_INT(sl.n_cached, (uint32_t)(n + 36));
    /* the follow-up: prompt, output, and a few tokens more */
    llamac_token next[1024];
    size_t m = 0;
    memcpy(next, tok, n * sizeof *tok);
    m = n;
    memcpy(next + m, a.tokens, (size_t)a.n_tokens * sizeof *next);
    m += (size_t)a.n_tokens;
    next[m++] = 13;
    next[m++] = 13;
    char want[4096];
    generate_ref(next, m, 40, NULL, 0, NULL, want, sizeof want);
    struct sink b;
    r = greedy(&b, 40, 0);
    r.prompt = next;
    r.n_prompt = m;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&b);
    CHECK_INT(b.res.usage.cached_tokens, (int32_t)(n + 36));
    CHECK_STR(b.text, want);
    llamac_engine_free(e);
    llamac_free(tok);
}

/* The policy under load: no drafts while the generating tokens fill spec_batch_max, drafts with room left, none
 * with 0. */
static void test_batch_policy(void) {
    size_t n = 0;
    llamac_token *tok = tokens_of(prompts[0], &n);
    const uint32_t limits[] = { 4, 16, 0 };
    for (int li = 0; li < 3; li++) {
        llamac_engine *e = engine_new(4, limits[li]);
        struct sink gate; /* the four start together */
        gate_hold(e, &gate, tok);
        static struct sink k[4];
        for (int i = 0; i < 4; i++) {
            llamac_engine_request r = greedy(&k[i], 40, 8);
            r.prompt = tok;
            r.n_prompt = n;
            r.cache_prompt = false;
            CHECK_OK(llamac_engine_submit(e, &r, NULL));
        }
        gate_open(&gate);
        for (int i = 0; i < 4; i++) {
            wait_done(&k[i]);
            CHECK_STR(k[i].text, k[0].text);
        }
        llamac_engine_stats st;
        CHECK_OK(llamac_engine_get_stats(e, &st));
        /* The four prompts go in one step and the four streams generate in step with each other until the end. */
        if (limits[li] == 16) {
            CHECK(st.draft_tokens > 0);
            CHECK(st.drafts <= st.steps * 4);
        } else {
            CHECK_INT(st.draft_tokens, 0);
            CHECK_INT(st.steps, 1 + 40); /* the gate's step, then the four streams' 40 together */
        }
        llamac_engine_free(e);
    }
    llamac_free(tok);
}

/* The draft model's cost at 16 streams: a burst of 16 requests whose prompts go in over several steps (a small
 * prefill chunk), so that they start, and end, a few steps apart. The batch-width policy keeps every slot from
 * drafting, and the draft model decodes nothing at all: not the first streams' prompts while the others' go in, not
 * the stragglers' whole text while the batch narrows at the end. Each text is its solo run without speculation. With
 * room to draft everywhere (spec_batch_max 64) the same burst drafts, and the draft model decodes at least the
 * prompts: the counters count. */
static void test_burst_draft_cost(void) {
    struct refs rf;
    refs_make(&rf, 40);
    const uint32_t limits[] = { 16, 64 };
    for (int li = 0; li < 2; li++) {
        llamac_engine_params ep = engine_params(16, limits[li], skip_model);
        ep.n_prefill_chunk = 48; /* one or two prompts per step */
        llamac_engine *e = engine_with(&ep);
        struct sink gate; /* the 16 arrive together */
        gate_hold(e, &gate, rf.tok[2]);
        static struct sink k[16];
        for (int i = 0; i < 16; i++) {
            llamac_engine_request r = draft_request(&k[i], 40, 4, &rf, i % 4);
            r.cache_prompt = false;
            CHECK_OK(llamac_engine_submit(e, &r, NULL));
        }
        gate_open(&gate);
        int32_t drafted = 0, n_drafting = 0;
        size_t n_prompts = 0; /* of the streams that drafted */
        for (int i = 0; i < 16; i++) {
            wait_done(&k[i]);
            CHECK_STR(k[i].text, rf.want[i % 4]);
            CHECK_INT(k[i].res.usage.generated_tokens, 40);
            drafted += k[i].res.usage.draft_tokens;
            n_drafting += k[i].res.usage.draft_tokens > 0;
            n_prompts += k[i].res.usage.draft_tokens > 0 ? rf.n[i % 4] : 0;
        }
        llamac_engine_stats st;
        CHECK_OK(llamac_engine_get_stats(e, &st));
        fprintf(stderr,
                "16 streams, spec_batch_max %u: %llu steps, the draft model decoded %llu tokens in %llu decodes, %llu "
                "drafted by %d streams\n",
                limits[li], (unsigned long long)st.steps, (unsigned long long)st.draft_model_tokens,
                (unsigned long long)st.draft_decodes, (unsigned long long)st.draft_tokens, n_drafting);
        CHECK_INT(st.draft_tokens, (uint64_t)drafted);
        if (limits[li] == 16) {
            CHECK(st.steps > 40 + 4); /* the prompts went in over several steps: the streams started apart */
            CHECK_INT(st.draft_model_tokens, 0);
            CHECK_INT(st.draft_decodes, 0);
            CHECK_INT(st.draft_tokens, 0);
        } else {
            /* each drafting stream's prompt caught up at least once, and every drafted token but a draft's last */
            CHECK(n_drafting >= 8);
            CHECK(st.draft_model_tokens >= n_prompts + st.draft_tokens - st.drafts);
            CHECK(st.draft_decodes >= (uint64_t)n_drafting);
        }
        llamac_engine_free(e);
    }
    refs_free(&rf);
}

/* The draft model's decodes are batched across slots: four streams drafting with the model together (the target
 * drafting for itself, 2 tokens a draft) take one decode of the draft context for their catch-ups and one per draft
 * position in each step, fewer decodes than drafts (one after another, each draft would take at least one), and
 * give the text without speculation. */
static void test_batched_drafts(void) {
    struct refs rf;
    refs_make(&rf, 40);
    llamac_engine *e = engine_draft(4, 64, model);
    struct sink gate;
    gate_hold(e, &gate, rf.tok[2]);
    static struct sink k[4];
    for (int i = 0; i < 4; i++) {
        llamac_engine_request r = draft_request(&k[i], 40, 2, &rf, i);
        r.cache_prompt = false;
        CHECK_OK(llamac_engine_submit(e, &r, NULL));
    }
    gate_open(&gate);
    for (int i = 0; i < 4; i++) {
        wait_done(&k[i]);
        CHECK_STR(k[i].text, rf.want[i]);
        CHECK_INT(k[i].res.usage.draft_accepted, k[i].res.usage.draft_tokens);
    }
    llamac_engine_stats st;
    CHECK_OK(llamac_engine_get_stats(e, &st));
    fprintf(stderr, "4 streams drafting: %llu steps, %llu drafts, %llu draft-model decodes of %llu tokens\n",
            (unsigned long long)st.steps, (unsigned long long)st.drafts, (unsigned long long)st.draft_decodes,
            (unsigned long long)st.draft_model_tokens);
    CHECK(st.drafts >= 4 * 10);
    CHECK(st.draft_decodes < st.drafts);
    CHECK(st.draft_decodes <= 2 * st.steps); /* a catch-up decode and one for the second draft position */
    llamac_engine_free(e);
    refs_free(&rf);
}

/* Bad settings are refused at submit, naming the problem; a draft model is not served by the engine. */
static void test_errors(void) {
    llamac_engine *e = engine_new(1, 16);
    size_t n = 0;
    llamac_token *tok = tokens_of(prompts[2], &n);
    struct sink k;
    llamac_engine_request r = greedy(&k, 8, 8);
    r.prompt = tok;
    r.n_prompt = n;
    r.spec.n_max = 0;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.n_max 0");
    r.spec.n_max = 4;
    r.spec.n_min = 5;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.n_min 5");
    r.spec.n_min = 0;
    r.spec.ngram_min = 0;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("ngram_min");
    r.spec.ngram_min = 2;
    llamac_ctx_params cp = test_ctx_params(256);
    llamac_context *dc = NULL;
    CHECK_OK(llamac_ctx_new(model, &cp, &dc));
    r.spec.draft = dc;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("draft model");
    llamac_ctx_free(dc);
    r.spec.draft = NULL;
    CHECK_OK(llamac_engine_submit(e, &r, NULL));
    wait_done(&k);
    CHECK_INT(k.res.usage.generated_tokens, 8);
    llamac_engine_free(e);
    llamac_free(tok);
}

/* The draft model: the target drafting for itself (every draft accepted), then the layer-skip draft for requests
 * decoded together, some drafting with it, one with n-gram lookup, one without, at several draft lengths on one
 * engine (its slots' draft sequences reused): each is its solo run without speculation, the skip draft's tokens
 * verified and mostly rejected. */
static void test_draft_model(void) {
    struct refs rf;
    refs_make(&rf, 60);
    /* The model drafting for itself: every drafted token accepted, two requests at once and then two more on the
     * same slots (whose draft sequences are cleared and refilled). */
    llamac_engine *e = engine_draft(2, 64, model);
    for (int round = 0; round < 2; round++) {
        static struct sink self[2];
        for (int i = 0; i < 2; i++) {
            llamac_engine_request sr = draft_request(&self[i], 60, 3 + 3 * i, &rf, 2 + i);
            CHECK_OK(llamac_engine_submit(e, &sr, NULL));
        }
        for (int i = 0; i < 2; i++) {
            wait_done(&self[i]);
            CHECK_STR(self[i].text, rf.want[2 + i]);
            CHECK(self[i].res.usage.draft_tokens > 20);
            CHECK_INT(self[i].res.usage.draft_accepted, self[i].res.usage.draft_tokens);
        }
    }
    llamac_engine_free(e);
    e = engine_draft(4, 64, skip_model);
    const int32_t lengths[] = { 1, 4, 12 };
    int32_t drafted = 0, accepted = 0;
    for (size_t li = 0; li < 3; li++) {
        static struct sink k[4];
        for (int i = 0; i < 4; i++) {
            llamac_engine_request r = greedy(&k[i], 60, i == 3 ? 0 : lengths[li]);
            r.prompt = rf.tok[i];
            r.n_prompt = rf.n[i];
            r.spec.ngram = i == 2;
            r.spec_draft = i < 2;
            r.spec.p_min = 0; /* whatever the draft believes: more to verify and reject */
            r.cache_prompt = false;
            CHECK_OK(llamac_engine_submit(e, &r, NULL));
        }
        for (int i = 0; i < 4; i++) {
            wait_done(&k[i]);
            if (strcmp(k[i].text, rf.want[i]) != 0) {
                fprintf(stderr, "draft model, n_max %d, prompt %d differs:\n  %s\n  %s\n", lengths[li], i, rf.want[i],
                        k[i].text);
            }
            CHECK_STR(k[i].text, rf.want[i]);
            CHECK_INT(k[i].res.usage.generated_tokens, 60);
        }
        for (int i = 0; i < 2; i++) {
            CHECK(k[i].res.usage.draft_tokens > 0);
            drafted += k[i].res.usage.draft_tokens;
            accepted += k[i].res.usage.draft_accepted;
        }
        CHECK_INT(k[3].res.usage.draft_tokens, 0);
    }
    CHECK(accepted < drafted); /* the pruned draft is partly wrong: its drafts were verified and rejected */
    llamac_engine_free(e);

    /* A draft that is always wrong backs off (spec.c): after four misses in a row it skips 1, 2, 4 ... proposals,
     * so it drafts at about 9 of the 60 steps (without the back-off: all 60, 4 tokens each). */
    const char *rnd_path = test_tmp("random-draft.gguf");
    llamac_model *rnd = NULL;
    CHECK_OK(test_random_draft(rnd_path));
    CHECK_OK(llamac_model_load(rnd_path, NULL, &rnd));
    if (rnd) {
        e = engine_draft(1, 64, rnd);
        struct sink w;
        llamac_engine_request wr = draft_request(&w, 60, 4, &rf, 0);
        CHECK_OK(llamac_engine_submit(e, &wr, NULL));
        wait_done(&w);
        CHECK_STR(w.text, rf.want[0]);
        CHECK(w.res.usage.draft_tokens > 0);
        CHECK(w.res.usage.draft_tokens <= 4 * 12);
        if (w.res.usage.draft_tokens > 4 * 12) {
            fprintf(stderr, "the random draft drafted %d tokens in 60 steps\n", w.res.usage.draft_tokens);
        }
        llamac_engine_free(e);
        llamac_model_free(rnd);
    }

    /* spec_draft on an engine without a draft model, and a draft model of another vocabulary */
    e = engine_new(1, 16);
    struct sink k;
    llamac_engine_request r = greedy(&k, 8, 4);
    r.prompt = rf.tok[2];
    r.n_prompt = rf.n[2];
    r.spec_draft = true;
    CHECK_STATUS(llamac_engine_submit(e, &r, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("no draft model");
    llamac_engine_free(e);
    refs_free(&rf);
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    if (!src || !src[0]) {
        fprintf(stderr, "skip the other-vocabulary check: LLAMAC_LLAMA_SOURCE is not set\n");
        return;
    }
    const char *path = test_tmp("bpe-draft.gguf");
    CHECK_OK(test_synth_bpe(src, path));
    llamac_model *bpe = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &bpe));
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 1;
    ep.n_threads = 1;
    ep.draft_model = bpe;
    e = NULL;
    CHECK_STATUS(llamac_engine_new(model, &ep, &e), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("another type");
    CHECK(e == NULL);
    llamac_model_free(bpe);
}

int main(void) {
    const char *stories = test_model("stories260K.gguf");
    CHECK_OK(llamac_model_load(stories, NULL, &model));
    const char *skip_path = test_tmp("stories-skip.gguf");
    CHECK_OK(test_skip_draft(skip_path));
    CHECK_OK(llamac_model_load(skip_path, NULL, &skip_model));
    if (!model || !skip_model) {
        fprintf(stderr, "cannot load the models: %s\n", llamac_last_error());
        return 1;
    }
    RUN(test_parallel_identical);
    RUN(test_stop_grammar_logprobs);
    RUN(test_kv_after_rejection);
    RUN(test_batch_policy);
    RUN(test_burst_draft_cost);
    RUN(test_batched_drafts);
    RUN(test_errors);
    RUN(test_draft_model);
    llamac_model_free(skip_model);
    llamac_model_free(model);
    TESTS_DONE();
}
