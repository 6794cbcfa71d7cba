/*
 * engine.c - `llamac-bench-engine`: the multi-sequence engine against its own limit, measured in the same run.
 *
 * For each number of concurrent streams N (-np list), two measurements on identical contexts (N sequences, unified
 * KV cache, the same n_ctx, batch and threads):
 *   limit   what llama-batched-bench measures: N prompts decoded, then steps of one N-token batch, no sampling;
 *           aggregate generation rate = N * n_gen / generation time.
 *   engine  N greedy requests submitted at once to an llamac_engine with N slots (ignore_eos, n_gen tokens each);
 *           aggregate rate over the window in which all N streams are generating, time to first token p50/p99, and
 *           inter-token latency p99, from per-token timestamps taken in the token callback.
 * Then the co-tenant stall: N-1 streams generate while a long prompt (--long tokens) is submitted; the co-tenants'
 * largest inter-token gap during its prefill is compared with the time of one step holding a full prefill chunk.
 * Output: one JSON object per measurement on stdout; a summary line with the ratios on stderr.
 */
#include "llamac.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define MAX_STREAMS 64
#define MAX_TOKENS 4096

struct options {
    const char *model;
    int32_t np[16];
    int n_np;
    int32_t n_prompt;
    int32_t n_gen;
    int32_t threads;
    int32_t chunk;
    int32_t n_long;
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n values, sorted in place. */
static double quantile(double *v, size_t n, double q) {
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

/* A prompt of n tokens, different for each stream so that no prefix is shared. */
static void make_prompt(const llamac_model *model, int stream, llamac_token *out, int32_t n) {
    int32_t n_vocab = llamac_vocab_n_tokens(model);
    llamac_token bos = llamac_vocab_special(model, LLAMAC_TOKEN_BOS);
    uint32_t x = 2654435761u * (uint32_t)(stream + 1);
    for (int32_t i = 0; i < n; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        out[i] = (llamac_token)(x % (uint32_t)(n_vocab > 300 ? 300 : n_vocab)) + (n_vocab > 400 ? 100 : 0);
    }
    if (bos >= 0) {
        out[0] = bos;
    }
}

static uint32_t ctx_size(const struct options *o, int32_t np) {
    uint32_t per = (uint32_t)(o->n_prompt + o->n_gen + 16);
    if ((uint32_t)o->n_long + 8 > per) {
        per = (uint32_t)o->n_long + 8;
    }
    return per * (uint32_t)np;
}

/* ---- the limit: batched decode without an engine ---- */

static int run_limit(llamac_model *model, const struct options *o, int32_t np, double *rate) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = ctx_size(o, np);
    cp.n_seq_max = (uint32_t)np;
    cp.n_threads = o->threads;
    cp.kv_unified = true;
    cp.allow_ctx_overflow = true;
    llamac_context *ctx = NULL;
    llamac_batch *batch = NULL;
    llamac_token *prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
    int rc = 1;
    if (!prompt || llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK ||
        llamac_batch_new((size_t)(np > o->n_prompt ? np : o->n_prompt), 1, &batch) != LLAMAC_OK) {
        fprintf(stderr, "limit: %s\n", llamac_last_error());
        goto done;
    }
    for (int32_t s = 0; s < np; s++) {
        make_prompt(model, s, prompt, o->n_prompt);
        llamac_batch_clear(batch);
        for (int32_t i = 0; i < o->n_prompt; i++) {
            llamac_batch_add(batch, prompt[i], i, &s, 1, i == o->n_prompt - 1);
        }
        if (llamac_ctx_decode_batch(ctx, batch) != LLAMAC_OK) {
            fprintf(stderr, "limit: %s\n", llamac_last_error());
            goto done;
        }
    }
    double t0 = now_ms();
    for (int32_t g = 0; g < o->n_gen; g++) {
        llamac_batch_clear(batch);
        for (int32_t s = 0; s < np; s++) {
            llamac_batch_add(batch, prompt[1], o->n_prompt + g, &s, 1, true);
        }
        if (llamac_ctx_decode_batch(ctx, batch) != LLAMAC_OK) {
            fprintf(stderr, "limit: %s\n", llamac_last_error());
            goto done;
        }
    }
    *rate = (double)np * o->n_gen * 1000.0 / (now_ms() - t0);
    rc = 0;
done:
    free(prompt);
    llamac_batch_free(batch);
    llamac_ctx_free(ctx);
    return rc;
}

/* ---- the engine ---- */

struct stream {
    double t_submit;
    double t[MAX_TOKENS];
    int n;
    bool done;
};

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;

static bool on_token(const llamac_engine_token *t, void *user_data) {
    struct stream *s = user_data;
    pthread_mutex_lock(&mu);
    if (t->token >= 0 && s->n < MAX_TOKENS) {
        s->t[s->n++] = now_ms();
    }
    pthread_mutex_unlock(&mu);
    return true;
}

static void on_done(const llamac_engine_result *r, void *user_data) {
    struct stream *s = user_data;
    if (r->status != LLAMAC_OK) {
        fprintf(stderr, "request failed: %s\n", r->error);
    }
    pthread_mutex_lock(&mu);
    s->done = true;
    pthread_cond_broadcast(&cv);
    pthread_mutex_unlock(&mu);
}

static llamac_engine *engine_new(llamac_model *model, const struct options *o, int32_t np) {
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = (uint32_t)np;
    ep.n_ctx = ctx_size(o, np);
    ep.n_threads = o->threads;
    ep.n_prefill_chunk = (uint32_t)o->chunk;
    ep.allow_ctx_overflow = true;
    llamac_engine *e = NULL;
    if (llamac_engine_new(model, &ep, &e) != LLAMAC_OK) {
        fprintf(stderr, "engine: %s\n", llamac_last_error());
    }
    return e;
}

static int submit(llamac_engine *e, const llamac_model *model, int stream_no, int32_t n_prompt, int32_t n_gen,
                  struct stream *s) {
    llamac_token *prompt = malloc((size_t)n_prompt * sizeof *prompt);
    if (!prompt) {
        return 1;
    }
    make_prompt(model, stream_no, prompt, n_prompt);
    llamac_engine_request r = llamac_engine_request_default();
    r.prompt = prompt;
    r.n_prompt = (size_t)n_prompt;
    r.sampling.temp = 0.0f;
    r.max_tokens = n_gen;
    r.sampling.ignore_eos = true;
    r.cache_prompt = false;
    r.on_token = on_token;
    r.on_done = on_done;
    r.user_data = s;
    s->t_submit = now_ms();
    llamac_status st = llamac_engine_submit(e, &r, NULL);
    free(prompt);
    if (st != LLAMAC_OK) {
        fprintf(stderr, "submit: %s\n", llamac_last_error());
        return 1;
    }
    return 0;
}

static void wait_all(struct stream *s, int n) {
    pthread_mutex_lock(&mu);
    for (int i = 0; i < n; i++) {
        while (!s[i].done) {
            pthread_cond_wait(&cv, &mu);
        }
    }
    pthread_mutex_unlock(&mu);
}

static int run_engine(llamac_model *model, const struct options *o, int32_t np, double *rate, double *ttft50,
                      double *ttft99, double *itl99) {
    static struct stream s[MAX_STREAMS];
    memset(s, 0, sizeof s);
    llamac_engine *e = engine_new(model, o, np);
    if (!e) {
        return 1;
    }
    for (int i = 0; i < np; i++) {
        if (submit(e, model, i, o->n_prompt, o->n_gen, &s[i])) {
            llamac_engine_free(e);
            return 1;
        }
    }
    wait_all(s, np);
    llamac_engine_free(e);
    /* The window in which every stream generates: from the last first token to the first last token. */
    double from = 0, to = 1e300;
    double *ttft = calloc((size_t)np, sizeof *ttft);
    double *itl = calloc((size_t)np * MAX_TOKENS, sizeof *itl);
    size_t n_itl = 0;
    for (int i = 0; i < np; i++) {
        if (s[i].n < 2) {
            free(ttft);
            free(itl);
            return 1;
        }
        from = s[i].t[0] > from ? s[i].t[0] : from;
        to = s[i].t[s[i].n - 1] < to ? s[i].t[s[i].n - 1] : to;
        ttft[i] = s[i].t[0] - s[i].t_submit;
        for (int k = 1; k < s[i].n; k++) {
            itl[n_itl++] = s[i].t[k] - s[i].t[k - 1];
        }
    }
    size_t in_window = 0;
    for (int i = 0; i < np; i++) {
        for (int k = 0; k < s[i].n; k++) {
            in_window += s[i].t[k] > from && s[i].t[k] <= to;
        }
    }
    *rate = to > from ? (double)in_window * 1000.0 / (to - from) : 0;
    *ttft50 = quantile(ttft, (size_t)np, 0.5);
    *ttft99 = quantile(ttft, (size_t)np, 0.99);
    *itl99 = quantile(itl, n_itl, 0.99);
    free(ttft);
    free(itl);
    return 0;
}

/* Co-tenants generate while a long prompt arrives: their largest gap during its prefill, and one chunk's step. */
static int run_stall(llamac_model *model, const struct options *o, int32_t np, double *max_gap, double *chunk_ms) {
    static struct stream s[MAX_STREAMS];
    memset(s, 0, sizeof s);
    int32_t co = np - 1;
    llamac_engine *e = engine_new(model, o, np);
    if (!e) {
        return 1;
    }
    int32_t n_gen = o->n_gen * 4 > MAX_TOKENS ? MAX_TOKENS : o->n_gen * 4;
    for (int i = 0; i < co; i++) {
        submit(e, model, i, o->n_prompt, n_gen, &s[i]);
    }
    /* Wait until every co-tenant generates, then admit the long prompt. */
    for (;;) {
        int ready = 0;
        pthread_mutex_lock(&mu);
        for (int i = 0; i < co; i++) {
            ready += s[i].n >= 4;
        }
        pthread_mutex_unlock(&mu);
        if (ready == co) {
            break;
        }
        struct timespec ts = { 0, 200000 };
        nanosleep(&ts, NULL);
    }
    struct stream *lp = &s[co];
    submit(e, model, 999, o->n_long, 1, lp);
    wait_all(s, np);
    llamac_engine_stats st;
    llamac_engine_get_stats(e, &st);
    llamac_engine_free(e);
    double from = lp->t_submit, to = lp->t[0];
    *max_gap = 0;
    for (int i = 0; i < co; i++) {
        for (int k = 1; k < s[i].n; k++) {
            if (s[i].t[k] > from && s[i].t[k - 1] < to) {
                double gap = s[i].t[k] - s[i].t[k - 1];
                *max_gap = gap > *max_gap ? gap : *max_gap;
            }
        }
    }
    /* One chunk's step: the prefill's time over its steps (every one of them held a full chunk but the last). */
    int32_t steps = (o->n_long + o->chunk - 1) / o->chunk;
    *chunk_ms = (to - from) / steps;
    return 0;
}

static int parse_list(const char *s, int32_t *out, int cap) {
    int n = 0;
    while (*s && n < cap) {
        char *end = NULL;
        out[n++] = (int32_t)strtol(s, &end, 10);
        if (end == s) {
            return 0;
        }
        s = *end == ',' ? end + 1 : end;
    }
    return n;
}

int main(int argc, char **argv) {
    struct options o = { NULL, { 1, 4, 16 }, 3, 32, 64, 2, 128, 512 };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!v) {
            fprintf(stderr, "%s needs a value\n", a);
            return 2;
        }
        if (!strcmp(a, "-m")) {
            o.model = v;
        } else if (!strcmp(a, "-np")) {
            o.n_np = parse_list(v, o.np, 16);
        } else if (!strcmp(a, "-p")) {
            o.n_prompt = atoi(v);
        } else if (!strcmp(a, "-n")) {
            o.n_gen = atoi(v);
        } else if (!strcmp(a, "-t")) {
            o.threads = atoi(v);
        } else if (!strcmp(a, "--chunk")) {
            o.chunk = atoi(v);
        } else if (!strcmp(a, "--long")) {
            o.n_long = atoi(v);
        } else {
            fprintf(stderr, "unknown option %s\n", a);
            return 2;
        }
        i++;
    }
    if (!o.model || o.n_prompt < 2 || o.n_gen < 2 || o.n_gen > MAX_TOKENS || o.chunk < 1 || o.n_long < 2) {
        fprintf(stderr, "usage: llamac-bench-engine -m MODEL [-np 1,4,16] [-p 32] [-n 64] [-t 2] [--chunk 128] "
                        "[--long 512]\n");
        return 2;
    }
    llamac_model *model = NULL;
    if (llamac_model_load(o.model, NULL, &model) != LLAMAC_OK) {
        fprintf(stderr, "%s\n", llamac_last_error());
        return 1;
    }
    int rc = 0;
    for (int k = 0; k < o.n_np; k++) {
        int32_t np = o.np[k];
        if (np < 1 || np > MAX_STREAMS) {
            fprintf(stderr, "-np %d: 1 to %d\n", np, MAX_STREAMS);
            rc = 2;
            break;
        }
        double limit = 0, rate = 0, t50 = 0, t99 = 0, i99 = 0;
        if (run_limit(model, &o, np, &limit) || run_engine(model, &o, np, &rate, &t50, &t99, &i99)) {
            rc = 1;
            break;
        }
        printf("{\"np\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"threads\": %d, \"limit_tokens_per_s\": %.2f, "
               "\"engine_tokens_per_s\": %.2f, \"ratio\": %.3f, \"ttft_p50_ms\": %.2f, \"ttft_p99_ms\": %.2f, "
               "\"itl_p99_ms\": %.2f}\n",
               np, o.n_prompt, o.n_gen, o.threads, limit, rate, limit > 0 ? rate / limit : 0, t50, t99, i99);
        fprintf(stderr, "np %2d: engine %.1f t/s = %.3f x its limit (%.1f t/s); ttft p50 %.1f ms; itl p99 %.2f ms\n",
                np, rate, limit > 0 ? rate / limit : 0, limit, t50, i99);
        if (np >= 2) {
            double gap = 0, chunk_ms = 0;
            if (run_stall(model, &o, np, &gap, &chunk_ms)) {
                rc = 1;
                break;
            }
            printf("{\"np\": %d, \"long_prompt\": %d, \"chunk\": %d, \"cotenant_max_gap_ms\": %.2f, "
                   "\"chunk_step_ms\": %.2f, \"gap_over_chunk\": %.3f}\n",
                   np, o.n_long, o.chunk, gap, chunk_ms, chunk_ms > 0 ? gap / chunk_ms : 0);
            fprintf(stderr,
                    "np %2d: co-tenant max gap %.2f ms while a %d-token prompt was admitted; one chunk step "
                    "%.2f ms (%.2fx)\n",
                    np, gap, o.n_long, chunk_ms, chunk_ms > 0 ? gap / chunk_ms : 0);
        }
        fflush(stdout);
    }
    llamac_model_free(model);
    return rc;
}
