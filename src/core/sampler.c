/*
 * sampler.c - sampler chains: every sampler llama.cpp offers, with checked parameters, and safe grammars.
 *
 * The chain is llama.cpp's own; the grammar is kept beside it, as llama.cpp's tools do, because a grammar must
 * judge the token that is finally selected: we sample with the chain, check the choice against the grammar, and
 * only if it is rejected sample again with the grammar applied first. A token the grammar cannot accept (which
 * makes llama.cpp abort or throw) is refused before it reaches llama.cpp, and the reason a grammar does not parse,
 * which llama.cpp prints to stderr, is captured into the error message instead. A reasoning budget
 * (sampler_budget.c) is kept beside them too and consulted first, as llama.cpp's common sampler does.
 */
#include "internal.h"

#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

llamac_status llamac_sampler_new(llamac_model *model, llamac_sampler **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_new: %s is NULL", model ? "out" : "model");
    }
    llamac_sampler *s = llamac__calloc(1, sizeof *s);
    if (!s) {
        return LLAMAC_E_NO_MEMORY;
    }
    struct llama_sampler_chain_params cp = llama_sampler_chain_default_params();
    cp.no_perf = true;
    s->chain = llama_sampler_chain_init(cp);
    s->cur = llamac__calloc((size_t)model->info.n_vocab, sizeof *s->cur);
    if (!s->chain || !s->cur) {
        llama_sampler_free(s->chain);
        free(s->cur);
        free(s);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory creating a sampler chain");
    }
    s->model = model;
    llamac__model_ref(model);
    *out = s;
    return llamac__ok();
}

void llamac_sampler_free(llamac_sampler *s) {
    if (!s) {
        return;
    }
    llama_sampler_free(s->chain);
    llama_sampler_free(s->grammar);
    llamac__budget_free(s->budget);
    free(s->cur);
    llamac__topk_free(s);
    llamac__model_unref(s->model);
    free(s);
}

static llamac_status can_add(llamac_sampler *s, const char *what) {
    if (!s) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_add_%s: sampler is NULL", what);
    }
    if (s->has_selector) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "cannot add %s: the chain already ends in a sampler that selects the token", what);
    }
    return LLAMAC_OK;
}

/* Adds smpl to the chain. `topk` tells the top-k shortcut (sampler_topk.c) what the sampler does to the
 * candidates: LLAMAC__TOPK_BREAKS, LLAMAC__TOPK_NEUTRAL (nothing), or k > 0 for a top-k of k. */
static llamac_status push(llamac_sampler *s, struct llama_sampler *smpl, const char *what, bool selects, int32_t topk) {
    if (!smpl) {
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp could not create the %s sampler", what);
    }
    llama_sampler_chain_add(s->chain, smpl);
    s->has_selector = selects;
    s->count++;
    llamac__topk_note(s, topk, llama_sampler_chain_n(s->chain));
    return llamac__ok();
}

static bool finite(float x) {
    return isfinite(x) != 0;
}

#define CHECK(cond, ...)                                                                                               \
    do {                                                                                                               \
        if (!(cond)) {                                                                                                 \
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, __VA_ARGS__);                                               \
        }                                                                                                              \
    } while (0)

llamac_status llamac_sampler_add_greedy(llamac_sampler *s) {
    llamac_status st = can_add(s, "greedy");
    return st ? st : push(s, llama_sampler_init_greedy(), "greedy", true, LLAMAC__TOPK_TAKES_BEST);
}

llamac_status llamac_sampler_add_dist(llamac_sampler *s, uint32_t seed) {
    llamac_status st = can_add(s, "dist");
    return st ? st : push(s, llama_sampler_init_dist(seed), "dist", true, LLAMAC__TOPK_DRAWS);
}

llamac_status llamac_sampler_add_top_k(llamac_sampler *s, int32_t k) {
    llamac_status st = can_add(s, "top_k");
    return st ? st : push(s, llama_sampler_init_top_k(k), "top-k", false, k > 0 ? k : LLAMAC__TOPK_NEUTRAL);
}

llamac_status llamac_sampler_add_top_p(llamac_sampler *s, float p, size_t min_keep) {
    llamac_status st = can_add(s, "top_p");
    if (st) {
        return st;
    }
    CHECK(p > 0.0f && p <= 1.0f, "top_p %g must be in (0, 1]", (double)p);
    return push(s, llama_sampler_init_top_p(p, min_keep), "top-p", false, LLAMAC__TOPK_KEEPS_BEST);
}

llamac_status llamac_sampler_add_min_p(llamac_sampler *s, float p, size_t min_keep) {
    llamac_status st = can_add(s, "min_p");
    if (st) {
        return st;
    }
    CHECK(p >= 0.0f && p <= 1.0f, "min_p %g must be in [0, 1]", (double)p);
    return push(s, llama_sampler_init_min_p(p, min_keep), "min-p", false, LLAMAC__TOPK_KEEPS_BEST);
}

llamac_status llamac_sampler_add_typical(llamac_sampler *s, float p, size_t min_keep) {
    llamac_status st = can_add(s, "typical");
    if (st) {
        return st;
    }
    CHECK(p > 0.0f && p <= 1.0f, "typical_p %g must be in (0, 1]", (double)p);
    /* llama.cpp returns early at p >= 1; below, typical sampling may drop the most probable token */
    return push(s, llama_sampler_init_typical(p, min_keep), "typical", false,
                p >= 1.0f ? LLAMAC__TOPK_KEEPS_BEST : LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_temp(llamac_sampler *s, float t) {
    llamac_status st = can_add(s, "temp");
    if (st) {
        return st;
    }
    CHECK(finite(t) && t >= 0.0f, "temperature %g must be >= 0", (double)t);
    /* t = 0 leaves the best candidate alone; t > 0 scales every logit alike */
    return push(s, llama_sampler_init_temp(t), "temperature", false,
                t > 0.0f ? LLAMAC__TOPK_KEEPS_BEST : LLAMAC__TOPK_TAKES_BEST);
}

llamac_status llamac_sampler_add_temp_ext(llamac_sampler *s, float t, float delta, float exponent) {
    llamac_status st = can_add(s, "temp_ext");
    if (st) {
        return st;
    }
    CHECK(finite(t) && t >= 0.0f, "temperature %g must be >= 0", (double)t);
    CHECK(finite(delta) && delta >= 0.0f, "dynamic temperature range %g must be >= 0", (double)delta);
    CHECK(finite(exponent) && exponent > 0.0f, "dynamic temperature exponent %g must be > 0", (double)exponent);
    /* without a range it is the plain temperature; with one, the temperature may come out 0 or not, by entropy */
    int32_t what = delta > 0.0f ? LLAMAC__TOPK_BREAKS : t > 0.0f ? LLAMAC__TOPK_KEEPS_BEST : LLAMAC__TOPK_TAKES_BEST;
    return push(s, llama_sampler_init_temp_ext(t, delta, exponent), "dynamic temperature", false, what);
}

llamac_status llamac_sampler_add_xtc(llamac_sampler *s, float p, float t, size_t min_keep, uint32_t seed) {
    llamac_status st = can_add(s, "xtc");
    if (st) {
        return st;
    }
    CHECK(p >= 0.0f && p <= 1.0f, "xtc probability %g must be in [0, 1]", (double)p);
    CHECK(t >= 0.0f && t <= 1.0f, "xtc threshold %g must be in [0, 1]", (double)t);
    /* llama.cpp returns at once (drawing nothing) when p is 0 or t above 0.5; otherwise it may drop the best */
    return push(s, llama_sampler_init_xtc(p, t, min_keep, seed), "xtc", false,
                p <= 0.0f || t > 0.5f ? LLAMAC__TOPK_KEEPS_BEST : LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_top_n_sigma(llamac_sampler *s, float n) {
    llamac_status st = can_add(s, "top_n_sigma");
    if (st) {
        return st;
    }
    CHECK(finite(n) && n > 0.0f, "top_n_sigma %g must be > 0", (double)n);
    return push(s, llama_sampler_init_top_n_sigma(n), "top-n-sigma", false, LLAMAC__TOPK_KEEPS_BEST);
}

llamac_status llamac_sampler_add_mirostat(llamac_sampler *s, uint32_t seed, float tau, float eta, int32_t m) {
    llamac_status st = can_add(s, "mirostat");
    if (st) {
        return st;
    }
    CHECK(finite(tau) && tau > 0.0f, "mirostat tau %g must be > 0", (double)tau);
    CHECK(finite(eta) && eta > 0.0f, "mirostat eta %g must be > 0", (double)eta);
    CHECK(m > 0, "mirostat m %d must be > 0", m);
    return push(s, llama_sampler_init_mirostat(s->model->info.n_vocab, seed, tau, eta, m), "mirostat", true,
                LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_mirostat_v2(llamac_sampler *s, uint32_t seed, float tau, float eta) {
    llamac_status st = can_add(s, "mirostat_v2");
    if (st) {
        return st;
    }
    CHECK(finite(tau) && tau > 0.0f, "mirostat tau %g must be > 0", (double)tau);
    CHECK(finite(eta) && eta > 0.0f, "mirostat eta %g must be > 0", (double)eta);
    return push(s, llama_sampler_init_mirostat_v2(seed, tau, eta), "mirostat v2", true, LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_penalties(llamac_sampler *s, int32_t last_n, float repeat, float freq, float present) {
    llamac_status st = can_add(s, "penalties");
    if (st) {
        return st;
    }
    CHECK(last_n >= -1, "penalty last_n %d must be >= -1", last_n);
    CHECK(finite(repeat) && repeat > 0.0f, "repeat penalty %g must be > 0", (double)repeat);
    CHECK(finite(freq) && finite(present), "frequency and presence penalties must be finite");
    /* llama.cpp's tools map -1 ("the whole context") to n_ctx; a chain has no context, so use a generous window. */
    int32_t n = last_n == -1 ? 1 << 20 : last_n;
    bool neutral = n == 0 || (repeat == 1.0f && freq == 0.0f && present == 0.0f); /* llama.cpp returns early */
    return push(s, llama_sampler_init_penalties(s->model->info.n_vocab, n, repeat, freq, present), "penalties", false,
                neutral ? LLAMAC__TOPK_NEUTRAL : LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_dry(llamac_sampler *s, float multiplier, float base, int32_t allowed_length,
                                     int32_t last_n, const char *const *breakers, size_t n_breakers) {
    llamac_status st = can_add(s, "dry");
    if (st) {
        return st;
    }
    CHECK(finite(multiplier) && multiplier >= 0.0f, "DRY multiplier %g must be >= 0", (double)multiplier);
    CHECK(finite(base) && base >= 1.0f, "DRY base %g must be >= 1", (double)base);
    CHECK(allowed_length >= 0, "DRY allowed length %d must be >= 0", allowed_length);
    CHECK(last_n >= -1, "DRY last_n %d must be >= -1", last_n);
    CHECK(n_breakers == 0 || breakers, "n_breakers is %zu but breakers is NULL", n_breakers);
    static const char *const defaults[] = { "\n", ":", "\"", "*" };
    if (n_breakers == 0 && !breakers) {
        breakers = defaults;
        n_breakers = 4;
    }
    for (size_t i = 0; i < n_breakers; i++) {
        CHECK(breakers[i] && breakers[i][0], "DRY breaker %zu is NULL or empty", i);
        CHECK(llamac_utf8_valid(breakers[i], strlen(breakers[i]), NULL), "DRY breaker %zu is not valid UTF-8", i);
    }
    int32_t n_ctx_train = s->model->info.n_ctx_train > 0 ? s->model->info.n_ctx_train : 4096;
    struct llama_sampler *smpl =
        llama_sampler_init_dry(s->model->vocab, multiplier, base, allowed_length, last_n == -1 ? n_ctx_train : last_n,
                               (const char **)(uintptr_t)breakers, n_breakers);
    return push(s, smpl, "DRY", false, LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_logit_bias(llamac_sampler *s, const llamac_logit_bias *biases, size_t n) {
    llamac_status st = can_add(s, "logit_bias");
    if (st) {
        return st;
    }
    CHECK(n == 0 || biases, "n is %zu but biases is NULL", n);
    CHECK(n <= (size_t)INT32_MAX, "too many logit biases");
    for (size_t i = 0; i < n; i++) {
        if (!llamac__token_valid(s->model, biases[i].token)) {
            return llamac__fail(LLAMAC_E_TOKEN_RANGE, "logit bias %zu: token %d is outside the vocabulary (0..%d)", i,
                                biases[i].token, s->model->info.n_vocab - 1);
        }
        CHECK(!isnan(biases[i].bias), "logit bias %zu for token %d is NaN", i, biases[i].token);
    }
    /* llamac_logit_bias has llama_logit_bias's layout; copy anyway so the API does not depend on it. */
    llama_logit_bias *lb = llamac__calloc(n ? n : 1, sizeof *lb);
    if (!lb) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        lb[i].token = biases[i].token;
        lb[i].bias = biases[i].bias;
    }
    st = llamac__topk_note_bias(s, lb, n);
    if (st == LLAMAC_OK) {
        st = push(s, llama_sampler_init_logit_bias(s->model->info.n_vocab, (int32_t)n, lb), "logit bias", false,
                  LLAMAC__TOPK_NEUTRAL);
    }
    free(lb);
    return st;
}

/* llama.cpp's grammar parser does not log why a grammar is invalid: it prints the reason, followed by the whole
 * grammar, to stderr. The library must not print, and the reason belongs in the error message, so stderr is
 * pointed at an unlinked temporary file while llama.cpp parses. The redirection is process-wide: the lock keeps
 * our own parses from overlapping, and whatever else reaches stderr in that short window (another thread, a log
 * hook that prints) is lost. */
static pthread_mutex_t stderr_lock = PTHREAD_MUTEX_INITIALIZER;

struct stderr_capture {
    FILE *file;
    int saved_fd;
};

/* Starts the capture; on failure (no temporary file) llama.cpp's output simply goes to stderr as before. */
static void stderr_capture_begin(struct stderr_capture *c) {
    pthread_mutex_lock(&stderr_lock);
    fflush(stderr);
    c->saved_fd = -1;
    c->file = tmpfile();
    if (c->file) {
        c->saved_fd = dup(STDERR_FILENO);
        if (c->saved_fd < 0 || dup2(fileno(c->file), STDERR_FILENO) < 0) {
            if (c->saved_fd >= 0) {
                close(c->saved_fd);
            }
            c->saved_fd = -1;
            fclose(c->file);
            c->file = NULL;
        }
    }
}

/* Restores stderr and puts the parser's reason (the rest of its "error parsing grammar: " line, shortened) into
 * `why`, or "" when it printed none. */
static void stderr_capture_end(struct stderr_capture *c, char *why, size_t cap) {
    why[0] = '\0';
    if (c->file) {
        char text[512];
        fflush(stderr);
        dup2(c->saved_fd, STDERR_FILENO);
        close(c->saved_fd);
        rewind(c->file);
        size_t n = fread(text, 1, sizeof text - 1, c->file);
        text[n] = '\0';
        fclose(c->file);
        static const char marker[] = "error parsing grammar: ";
        const char *at = strstr(text, marker);
        if (at) {
            at += sizeof marker - 1;
            size_t len = strcspn(at, "\n");
            snprintf(why, cap, "%.*s%s", len > 160 ? 160 : (int)len, at, len > 160 ? "..." : "");
        }
    }
    pthread_mutex_unlock(&stderr_lock);
}

static llamac_status add_grammar(llamac_sampler *s, const char *grammar, const char *root, bool lazy,
                                 const char *const *patterns, size_t n_patterns, const llamac_token *tokens,
                                 size_t n_tokens) {
    if (!s || !grammar) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_add_grammar: NULL argument");
    }
    if (s->grammar) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the chain already has a grammar");
    }
    if (!grammar[0]) {
        return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar is empty");
    }
    if (!llamac_utf8_valid(grammar, strlen(grammar), NULL)) {
        return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar is not valid UTF-8");
    }
    CHECK(n_patterns == 0 || patterns, "n_patterns is %zu but trigger_patterns is NULL", n_patterns);
    CHECK(n_tokens == 0 || tokens, "n_tokens is %zu but trigger_tokens is NULL", n_tokens);
    if (lazy && n_patterns == 0 && n_tokens == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "a lazy grammar needs at least one trigger pattern or token");
    }
    char err[256] = "";
    for (size_t i = 0; i < n_patterns; i++) {
        if (!patterns[i]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "trigger pattern %zu is NULL", i);
        }
        if (!llamac__regex_valid(patterns[i], err, sizeof err)) {
            return llamac__fail(LLAMAC_E_GRAMMAR, "trigger pattern %zu (\"%s\") is not a valid regex: %s", i,
                                patterns[i], err);
        }
    }
    llamac_status st = llamac__tokens_check(s->model, tokens, n_tokens);
    if (st != LLAMAC_OK) {
        return st;
    }
    char parse_why[192];
    struct stderr_capture cap;
    stderr_capture_begin(&cap);
    llamac__capture_begin();
    struct llama_sampler *g = llamac__grammar_init(s->model->vocab, grammar, root ? root : "root", lazy, patterns,
                                                   n_patterns, tokens, n_tokens, err, sizeof err);
    const char *why = llamac__capture_end();
    stderr_capture_end(&cap, parse_why, sizeof parse_why);
    if (!g) {
        /* The most specific reason first: the parser's, an exception's, then llama.cpp's log. */
        const char *reason = parse_why[0] ? parse_why : err[0] ? err : why;
        return llamac__fail(LLAMAC_E_GRAMMAR, "invalid grammar: %s", reason[0] ? reason : "parse error");
    }
    s->grammar = g;
    s->grammar_lazy = lazy;
    s->count++;
    return llamac__ok();
}

llamac_status llamac_sampler_add_grammar(llamac_sampler *s, const char *grammar, const char *root) {
    return add_grammar(s, grammar, root, false, NULL, 0, NULL, 0);
}

llamac_status llamac_sampler_add_grammar_lazy(llamac_sampler *s, const char *grammar, const char *root,
                                              const char *const *trigger_patterns, size_t n_patterns,
                                              const llamac_token *trigger_tokens, size_t n_tokens) {
    return add_grammar(s, grammar, root, true, trigger_patterns, n_patterns, trigger_tokens, n_tokens);
}

llamac_status llamac_sampler_add_adaptive_p(llamac_sampler *s, float target, float decay, uint32_t seed) {
    llamac_status st = can_add(s, "adaptive_p");
    if (st) {
        return st;
    }
    CHECK(target >= 0.0f && target <= 1.0f, "adaptive-p target %g must be in [0, 1]", (double)target);
    CHECK(decay >= 0.0f && decay <= 0.99f, "adaptive-p decay %g must be in [0, 0.99]", (double)decay);
    return push(s, llama_sampler_init_adaptive_p(target, decay, seed), "adaptive-p", true, LLAMAC__TOPK_BREAKS);
}

llamac_status llamac_sampler_add_infill(llamac_sampler *s) {
    llamac_status st = can_add(s, "infill");
    return st ? st : push(s, llama_sampler_init_infill(s->model->vocab), "infill", false, LLAMAC__TOPK_BREAKS);
}

size_t llamac_sampler_count(const llamac_sampler *s) {
    return s ? s->count : 0;
}

static bool grammar_allows(llamac_sampler *s, llama_token token) {
    llama_token_data one = { token, 1.0f, 0.0f };
    llama_token_data_array arr = { &one, 1, -1, false };
    llama_sampler_apply(s->grammar, &arr);
    return arr.data[0].logit != -INFINITY;
}

/* Whether the grammar judges tokens now: not a lazy one while a reasoning budget is inside the thinking block (as
 * llama.cpp's common sampler: the thinking cannot trigger it). */
static bool grammar_active(const llamac_sampler *s) {
    if (!s->grammar) {
        return false;
    }
    if (!s->grammar_lazy || !s->budget) {
        return true;
    }
    llamac_budget_state bs = llamac__budget_state(s->budget);
    return bs == LLAMAC_BUDGET_IDLE || bs == LLAMAC_BUDGET_DONE;
}

/* The candidates from the logits; while a reasoning budget forces a token, every other one is -infinity. */
static void load_candidates(llamac_sampler *s, const float *logits, size_t n, llama_token_data_array *arr) {
    for (size_t t = 0; t < n; t++) {
        s->cur[t].id = (llama_token)t;
        s->cur[t].logit = logits[t];
        s->cur[t].p = 0.0f;
    }
    llama_token forced = s->budget ? llamac__budget_forced(s->budget) : -1;
    if (forced >= 0) {
        for (size_t t = 0; t < n; t++) {
            if (s->cur[t].id != forced) {
                s->cur[t].logit = -INFINITY;
            }
        }
    }
    arr->data = s->cur;
    arr->size = n;
    arr->selected = -1;
    arr->sorted = false;
}

static llama_token selected_or_best(const llama_token_data_array *arr) {
    if (arr->selected >= 0 && (size_t)arr->selected < arr->size) {
        return arr->data[arr->selected].id;
    }
    size_t best = 0;
    for (size_t i = 1; i < arr->size; i++) {
        if (arr->data[i].logit > arr->data[best].logit) {
            best = i;
        }
    }
    return arr->size ? arr->data[best].id : -1;
}

llamac_status llamac_sampler_sample(llamac_sampler *s, llamac_context *ctx, int32_t i, llamac_token *out) {
    if (out) {
        *out = -1;
    }
    if (!s || !ctx || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_sample: NULL argument");
    }
    if (ctx->model != s->model && ctx->model->info.n_vocab != s->model->info.n_vocab) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the sampler and the context belong to different models");
    }
    if (s->grammar_spent && grammar_active(s)) {
        return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar rejected an earlier token; reset the sampler");
    }
    const float *logits = NULL;
    size_t n_vocab = 0;
    llamac_status st = llamac_ctx_logits(ctx, i, &logits, &n_vocab);
    if (st != LLAMAC_OK) {
        return st;
    }
    llama_token_data_array arr;
    bool forcing = s->budget && llamac__budget_forced(s->budget) >= 0; /* the shortcut reads the raw logits */
    if (forcing || !llamac__topk_apply(s, logits, n_vocab, &arr)) {
        load_candidates(s, logits, n_vocab, &arr);
        llama_sampler_apply(s->chain, &arr);
    }
    llama_token tok = selected_or_best(&arr);
    if (grammar_active(s) && !grammar_allows(s, tok)) {
        /* Rejected: sample again with the grammar applied first, as llama.cpp's tools do. */
        load_candidates(s, logits, n_vocab, &arr);
        llama_sampler_apply(s->grammar, &arr);
        llama_sampler_apply(s->chain, &arr);
        tok = selected_or_best(&arr);
        if (tok < 0 || !grammar_allows(s, tok)) {
            return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar allows no token here");
        }
    }
    if (tok < 0) {
        return llamac__fail(LLAMAC_E_INTERNAL, "the sampler chain left no candidate token");
    }
    s->n_last = arr.data == s->cur ? arr.size : 0;
    st = llamac_sampler_accept(s, tok);
    if (st != LLAMAC_OK) {
        return st;
    }
    *out = tok;
    return llamac__ok();
}

size_t llamac__sampler_candidates(const llamac_sampler *s, const llama_token_data **data) {
    *data = s->cur;
    return s->n_last;
}

llamac_status llamac_sampler_accept(llamac_sampler *s, llamac_token token) {
    if (!s) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_accept: sampler is NULL");
    }
    if (!llamac__token_valid(s->model, token)) {
        return llamac__fail(LLAMAC_E_TOKEN_RANGE, "token %d is outside the vocabulary (0..%d)", token,
                            s->model->info.n_vocab - 1);
    }
    char err[256] = "";
    bool use_grammar = grammar_active(s); /* decided before the budget sees the token, as llama.cpp decides it */
    if (use_grammar) {
        if (s->grammar_spent) {
            return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar rejected an earlier token; reset the sampler");
        }
        if (!grammar_allows(s, token)) {
            return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar does not allow token %d here", token);
        }
    }
    if (s->budget) {
        size_t n_end = 0;
        const llama_token *end = llamac__budget_accept(s->budget, token, &n_end);
        /* the end tag that closed the thinking reaches a lazy grammar that did not see it: it may be part of a
         * trigger */
        for (size_t i = 0; !use_grammar && s->grammar && !s->grammar_spent && i < n_end; i++) {
            if (!llamac__sampler_accept(s->grammar, end[i], err, sizeof err)) {
                s->grammar_spent = true;
            }
        }
    }
    /* A lazy grammar awaiting its trigger allows every token, and throws when a trigger fires on text it rejects;
     * llama.cpp has emptied its state by then. */
    if (use_grammar && !llamac__sampler_accept(s->grammar, token, err, sizeof err)) {
        s->grammar_spent = true;
        return llamac__fail(LLAMAC_E_GRAMMAR, "the grammar rejected token %d: %s", token, err);
    }
    llama_sampler_accept(s->chain, token);
    return llamac__ok();
}

void llamac_sampler_reset(llamac_sampler *s) {
    if (s) {
        llama_sampler_reset(s->chain);
        if (s->grammar) {
            llama_sampler_reset(s->grammar);
            s->grammar_spent = false;
        }
        if (s->budget) {
            llamac__budget_reset(s->budget);
        }
    }
}
