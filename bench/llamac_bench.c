/*
 * llamac_bench.c - `llamac-bench`: measures one model through libllamac, the way llama-bench measures llama.cpp.
 *
 * Three modes, each one process, each printing one JSON object per measurement on stdout:
 *   speed    (default) exactly the work of one `llama-bench -p P -n N -r R` run: load the model; for pp, a context of
 *            P tokens, one warmup batch, then per repetition a cleared cache and one timed decode of P tokens; for
 *            tg, a context of N tokens, one warmup token, then per repetition a cleared cache and N timed
 *            single-token decodes (no sampling). Doing the same work keeps the peak RSS of the two comparable.
 *   latency  load time and time to first token: llamac_generate_tokens on a P-token prompt, greedy, one token.
 *   samplers generation speed with each of a set of sampler chains: sample, decode the token, repeat N times.
 * Only the public API is used: the wrapper's costs are part of what is measured. Prompts are pseudo-random token
 * ids (speed does not depend on them); the first is BOS when the vocabulary has one, as in llama-bench.
 */
#include "llamac.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

struct options {
    const char *model;
    const char *mode;
    int32_t threads;
    int32_t n_prompt;
    int32_t n_gen;
    int32_t reps;
    bool warmup;
    bool verbose;
    const char *rpc; /* --rpc HOST:PORT,...: layers on ggml RPC servers (all of them, as llama-bench -ngl 99) */
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

/* xorshift32: the prompts only need to be fixed, not good. */
static uint32_t next_rand(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void fill_tokens(const llamac_model *model, llamac_token *tokens, size_t n, uint32_t *state) {
    int32_t n_vocab = llamac_vocab_n_tokens(model);
    for (size_t i = 0; i < n; i++) {
        tokens[i] = (llamac_token)(next_rand(state) % (uint32_t)n_vocab);
    }
    llamac_token bos = llamac_vocab_special(model, LLAMAC_TOKEN_BOS);
    if (n > 0 && bos >= 0) {
        tokens[0] = bos;
    }
}

/* Prints `s` as a JSON string. */
static void print_json_str(const char *s) {
    putchar('"');
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c < 0x20) {
            printf("\\u%04x", c);
        } else {
            putchar(c);
        }
    }
    putchar('"');
}

/* This program's peak RSS: VmHWM, which, unlike getrusage's figure, does not count the process that exec'd it. */
static long max_rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    struct rusage ru;
    return kib > 0 ? kib : getrusage(RUSAGE_SELF, &ru) == 0 ? ru.ru_maxrss : -1;
}

static int fail(const char *what, llamac_status st) {
    fprintf(stderr, "llamac-bench: %s: %s (%s)\n", what, llamac_last_error(), llamac_status_str(st));
    return 1;
}

/* A context as llama-bench makes one: n_ctx tokens, llama.cpp's default batch sizes, flash attention, KV types. */
static llamac_status new_ctx(llamac_model *model, const struct options *o, uint32_t n_ctx, llamac_context **out) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = n_ctx;
    cp.n_threads = o->threads;
    cp.n_threads_batch = o->threads;
    cp.allow_ctx_overflow = true; /* llama-bench does not limit n_ctx to the training context either */
    return llamac_ctx_new(model, &cp, out);
}

static void print_samples(const char *test, const struct options *o, const double *ms, int32_t n, int32_t tokens) {
    printf("{\"test\": \"%s\", \"n_prompt\": %d, \"n_gen\": %d, \"n_threads\": %d, \"samples_ms\": [", test,
           o->n_prompt, o->n_gen, o->threads);
    double sum = 0;
    for (int32_t i = 0; i < n; i++) {
        printf("%s%.4f", i ? ", " : "", ms[i]);
        sum += ms[i];
    }
    printf("]");
    if (tokens > 0 && sum > 0) {
        printf(", \"avg_ts\": %.4f", (double)tokens * n * 1000.0 / sum);
    }
    printf("}\n");
    fflush(stdout);
}

static llamac_status run_pp(llamac_context *ctx, const llamac_token *prompt, size_t n) {
    llamac_status st = llamac_ctx_decode(ctx, 0, prompt, n);
    const float *logits;
    size_t n_vocab;
    /* Reading the logits waits for the backend, as llama-bench's llama_synchronize does. */
    return st == LLAMAC_OK ? llamac_ctx_logits(ctx, -1, &logits, &n_vocab) : st;
}

static llamac_status run_tg(llamac_context *ctx, const llamac_model *model, int32_t n, uint32_t *state) {
    llamac_token tok;
    fill_tokens(model, &tok, 1, state);
    int32_t n_vocab = llamac_vocab_n_tokens(model);
    for (int32_t i = 0; i < n; i++) {
        llamac_status st = llamac_ctx_decode(ctx, 0, &tok, 1);
        const float *logits;
        size_t nv;
        if (st == LLAMAC_OK) {
            st = llamac_ctx_logits(ctx, -1, &logits, &nv);
        }
        if (st != LLAMAC_OK) {
            return st;
        }
        tok = (llamac_token)(next_rand(state) % (uint32_t)n_vocab);
    }
    return LLAMAC_OK;
}

static llamac_status load(const struct options *o, llamac_model **model) {
    /* Backends are initialised before the clock starts, as llama-bench initialises them before loading. */
    llamac_status st = llamac_backend_init();
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_model_params mp = llamac_model_params_default();
    if (o->rpc) {
        mp.rpc_servers = o->rpc;
        mp.n_gpu_layers = -1;
    }
    double t0 = now_ms();
    st = llamac_model_load(o->model, &mp, model);
    if (st == LLAMAC_OK) {
        printf("{\"test\": \"load\", \"load_ms\": %.4f}\n", now_ms() - t0);
        llamac_model_info mi;
        llamac_model_get_info(*model, &mi);
        printf("{\"test\": \"model\", \"description\": ");
        print_json_str(mi.description);
        printf(", \"size_bytes\": %llu, \"n_params\": %llu}\n", (unsigned long long)mi.size_bytes,
               (unsigned long long)mi.n_params);
    }
    return st;
}

static int mode_speed(const struct options *o) {
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    llamac_token *prompt = NULL;
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    uint32_t state = 1234567u;
    int rc = 1;
    llamac_status st = load(o, &model);
    if (st != LLAMAC_OK) {
        rc = fail("loading the model", st);
        goto done;
    }
    if (!ms) {
        goto done;
    }
    if (o->n_prompt > 0) {
        prompt = malloc((size_t)o->n_prompt * sizeof *prompt);
        if (!prompt) {
            goto done;
        }
        if ((st = new_ctx(model, o, (uint32_t)o->n_prompt, &ctx)) != LLAMAC_OK) {
            rc = fail("creating the pp context", st);
            goto done;
        }
        if (o->warmup) {
            fill_tokens(model, prompt, (size_t)o->n_prompt, &state);
            if ((st = run_pp(ctx, prompt, (size_t)o->n_prompt)) != LLAMAC_OK) {
                rc = fail("pp warmup", st);
                goto done;
            }
        }
        for (int32_t r = 0; r < o->reps; r++) {
            llamac_ctx_kv_clear(ctx);
            double t0 = now_ms();
            /* llama-bench draws the prompt inside its timed region, too. */
            fill_tokens(model, prompt, (size_t)o->n_prompt, &state);
            if ((st = run_pp(ctx, prompt, (size_t)o->n_prompt)) != LLAMAC_OK) {
                rc = fail("pp", st);
                goto done;
            }
            ms[r] = now_ms() - t0;
        }
        print_samples("pp", o, ms, o->reps, o->n_prompt);
        llamac_ctx_free(ctx);
        ctx = NULL;
    }
    if (o->n_gen > 0) {
        if ((st = new_ctx(model, o, (uint32_t)o->n_gen, &ctx)) != LLAMAC_OK) {
            rc = fail("creating the tg context", st);
            goto done;
        }
        if (o->warmup && (st = run_tg(ctx, model, 1, &state)) != LLAMAC_OK) {
            rc = fail("tg warmup", st);
            goto done;
        }
        for (int32_t r = 0; r < o->reps; r++) {
            llamac_ctx_kv_clear(ctx);
            double t0 = now_ms();
            if ((st = run_tg(ctx, model, o->n_gen, &state)) != LLAMAC_OK) {
                rc = fail("tg", st);
                goto done;
            }
            ms[r] = now_ms() - t0;
        }
        print_samples("tg", o, ms, o->reps, o->n_gen);
    }
    rc = 0;
done:
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(prompt);
    free(ms);
    printf("{\"test\": \"rss\", \"max_rss_kib\": %ld}\n", max_rss_kib());
    return rc;
}

/* Time to first token as a caller of llamac_generate_tokens sees it: from the call until it returns with one
 * greedily sampled token (the cache cleared, the prompt decoded, the sampler built and run, the text delivered). */
static int mode_latency(const struct options *o) {
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    size_t n = o->n_prompt > 0 ? (size_t)o->n_prompt : 1;
    llamac_token *prompt = malloc(n * sizeof *prompt);
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    uint32_t state = 7654321u;
    int rc = 1;
    llamac_status st = load(o, &model);
    if (st != LLAMAC_OK) {
        rc = fail("loading the model", st);
        goto done;
    }
    if (!prompt || !ms) {
        goto done;
    }
    if ((st = new_ctx(model, o, (uint32_t)n + 1, &ctx)) != LLAMAC_OK) {
        rc = fail("creating the context", st);
        goto done;
    }
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 1;    /* one token, whatever it is (an end-of-generation token counts too) */
    gp.sampling.temp = 0; /* greedy */
    for (int32_t r = o->warmup ? -1 : 0; r < o->reps; r++) {
        fill_tokens(model, prompt, n, &state);
        llamac_generate_result res;
        double t0 = now_ms();
        st = llamac_generate_tokens(ctx, prompt, n, &gp, &res);
        double t = now_ms() - t0;
        if (st != LLAMAC_OK || res.n_generated_tokens != 1) {
            rc = fail("generating", st);
            goto done;
        }
        if (r >= 0) {
            ms[r] = t;
        }
    }
    print_samples("ttft", o, ms, o->reps, 0);
    rc = 0;
done:
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(prompt);
    free(ms);
    printf("{\"test\": \"rss\", \"max_rss_kib\": %ld}\n", max_rss_kib());
    return rc;
}

/* ---- the sampler table ---- */

/* JSON text (RFC 8259), written out as GBNF; whitespace is bounded so a model cannot stall in it forever. */
static const char json_grammar[] =
    "root    ::= object\n"
    "value   ::= object | array | string | number | \"true\" | \"false\" | \"null\"\n"
    "object  ::= \"{\" ws ( member ( \",\" ws member )* )? \"}\" ws\n"
    "member  ::= string \":\" ws value\n"
    "array   ::= \"[\" ws ( value ( \",\" ws value )* )? \"]\" ws\n"
    "string  ::= \"\\\"\" ( [^\"\\\\\\x00-\\x1f] | \"\\\\\" ( [\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4} ) )* \"\\\"\" ws\n"
    "number  ::= \"-\"? ( \"0\" | [1-9] [0-9]* ) ( \".\" [0-9]+ )? ( [eE] [-+]? [0-9]+ )? ws\n"
    "ws      ::= [ \\t\\n]{0,8}\n";

enum chain_kind {
    CHAIN_GREEDY,
    CHAIN_DIST,
    CHAIN_TOP_P,
    CHAIN_MIN_P,
    CHAIN_TOP_N_SIGMA,
    CHAIN_MIROSTAT_V2,
    CHAIN_DRY,
    CHAIN_DEFAULT,
    CHAIN_GRAMMAR
};

static const struct {
    enum chain_kind kind;
    const char *name;
    const char *chain;
} chains[] = {
    { CHAIN_GREEDY, "greedy", "greedy" },
    { CHAIN_DIST, "temperature", "temp 0.8, dist" },
    { CHAIN_TOP_P, "temperature + top-p", "top-p 0.95, temp 0.8, dist" },
    { CHAIN_MIN_P, "min-p", "min-p 0.05, temp 0.8, dist" },
    { CHAIN_TOP_N_SIGMA, "top-n-sigma", "top-n-sigma 1.0, temp 0.8, dist" },
    { CHAIN_MIROSTAT_V2, "mirostat v2", "temp 0.8, mirostat v2 (tau 5, eta 0.1)" },
    { CHAIN_DRY, "DRY", "DRY (0.8, 1.75, 2, whole context), temp 0.8, dist" },
    { CHAIN_DEFAULT, "llama.cpp defaults",
      "llamac_sampling_params_default(): top-k 40, top-p 0.95, min-p 0.05, "
      "temp 0.8, dist" },
    { CHAIN_GRAMMAR, "JSON grammar", "JSON GBNF grammar + the defaults" },
};

static llamac_status make_chain(llamac_model *model, enum chain_kind kind, llamac_sampler **out) {
    const uint32_t seed = 42;
    llamac_sampler *s = NULL;
    llamac_status st = LLAMAC_OK;
    if (kind == CHAIN_DEFAULT || kind == CHAIN_GRAMMAR) {
        llamac_sampling_params sp = llamac_sampling_params_default();
        sp.seed = seed;
        sp.grammar = kind == CHAIN_GRAMMAR ? json_grammar : NULL;
        return llamac_sampler_from_params(model, &sp, out);
    }
    if ((st = llamac_sampler_new(model, &s)) != LLAMAC_OK) {
        return st;
    }
    switch (kind) {
    case CHAIN_GREEDY: st = llamac_sampler_add_greedy(s); break;
    case CHAIN_TOP_P: st = llamac_sampler_add_top_p(s, 0.95f, 1); break;
    case CHAIN_MIN_P: st = llamac_sampler_add_min_p(s, 0.05f, 1); break;
    case CHAIN_TOP_N_SIGMA: st = llamac_sampler_add_top_n_sigma(s, 1.0f); break;
    case CHAIN_DRY: st = llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, -1, NULL, 0); break;
    default: break;
    }
    if (st == LLAMAC_OK && kind != CHAIN_GREEDY) {
        st = llamac_sampler_add_temp(s, 0.8f);
    }
    if (st == LLAMAC_OK && kind == CHAIN_MIROSTAT_V2) {
        st = llamac_sampler_add_mirostat_v2(s, seed, 5.0f, 0.1f);
    } else if (st == LLAMAC_OK && kind != CHAIN_GREEDY) {
        st = llamac_sampler_add_dist(s, seed);
    }
    if (st != LLAMAC_OK) {
        llamac_sampler_free(s);
        return st;
    }
    *out = s;
    return LLAMAC_OK;
}

/* Generates o->n_gen tokens with `s` (NULL: decode only, the next token drawn at random) after a short prompt.
 * *total_ms covers sampling and decoding, *sample_ms sampling only. An end-of-generation token, or a grammar with
 * nothing left to allow, resets the chain; the generation goes on, so every chain runs for the same length. */
static llamac_status generate(llamac_context *ctx, llamac_model *model, llamac_sampler *s, const struct options *o,
                              double *total_ms, double *sample_ms) {
    llamac_token prompt[16];
    uint32_t state = 99u;
    fill_tokens(model, prompt, 16, &state);
    llamac_status st = llamac_ctx_kv_clear(ctx);
    if (s) {
        llamac_sampler_reset(s);
    }
    if (st == LLAMAC_OK) {
        st = llamac_ctx_decode(ctx, 0, prompt, 16);
    }
    *sample_ms = 0;
    double t0 = now_ms();
    for (int32_t i = 0; i < o->n_gen && st == LLAMAC_OK; i++) {
        llamac_token tok;
        if (s) {
            double ts = now_ms();
            st = llamac_sampler_sample(s, ctx, -1, &tok);
            if (st == LLAMAC_E_GRAMMAR) {
                llamac_sampler_reset(s);
                st = llamac_sampler_sample(s, ctx, -1, &tok);
            }
            *sample_ms += now_ms() - ts;
            if (st == LLAMAC_OK && llamac_vocab_is_eog(model, tok)) {
                llamac_sampler_reset(s);
            }
        } else {
            const float *logits;
            size_t nv;
            st = llamac_ctx_logits(ctx, -1, &logits, &nv);
            tok = (llamac_token)(next_rand(&state) % (uint32_t)nv);
        }
        if (st == LLAMAC_OK) {
            st = llamac_ctx_decode(ctx, 0, &tok, 1);
        }
    }
    *total_ms = now_ms() - t0;
    return st;
}

static int mode_samplers(const struct options *o) {
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    llamac_sampler *s = NULL;
    int rc = 1;
    llamac_status st = load(o, &model);
    if (st != LLAMAC_OK) {
        rc = fail("loading the model", st);
        goto done;
    }
    if ((st = new_ctx(model, o, (uint32_t)o->n_gen + 16, &ctx)) != LLAMAC_OK) {
        rc = fail("creating the context", st);
        goto done;
    }
    double total, sampling;
    /* Warm up, then the baseline: decoding alone. */
    if ((st = generate(ctx, model, NULL, o, &total, &sampling)) != LLAMAC_OK ||
        (st = generate(ctx, model, NULL, o, &total, &sampling)) != LLAMAC_OK) {
        rc = fail("decoding", st);
        goto done;
    }
    printf("{\"test\": \"sampler\", \"name\": \"none (decode only)\", \"chain\": \"\", \"n_gen\": %d, "
           "\"total_ms\": %.4f, \"sample_ms\": 0, \"avg_ts\": %.4f}\n",
           o->n_gen, total, o->n_gen * 1000.0 / total);
    for (size_t c = 0; c < sizeof chains / sizeof chains[0]; c++) {
        if ((st = make_chain(model, chains[c].kind, &s)) != LLAMAC_OK) {
            rc = fail(chains[c].name, st);
            goto done;
        }
        double best_total = INFINITY, best_sampling = INFINITY;
        for (int32_t r = 0; r < o->reps; r++) {
            if ((st = generate(ctx, model, s, o, &total, &sampling)) != LLAMAC_OK) {
                rc = fail(chains[c].name, st);
                goto done;
            }
            best_total = total < best_total ? total : best_total;
            best_sampling = sampling < best_sampling ? sampling : best_sampling;
        }
        printf("{\"test\": \"sampler\", \"name\": \"%s\", \"chain\": \"%s\", \"n_gen\": %d, \"total_ms\": %.4f, "
               "\"sample_ms\": %.4f, \"avg_ts\": %.4f}\n",
               chains[c].name, chains[c].chain, o->n_gen, best_total, best_sampling, o->n_gen * 1000.0 / best_total);
        fflush(stdout);
        llamac_sampler_free(s);
        s = NULL;
    }
    rc = 0;
done:
    llamac_sampler_free(s);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    return rc;
}

/* ---- command line ---- */

static void usage(void) {
    printf("usage: llamac-bench -m MODEL [options]\n\n"
           "Measures MODEL through libllamac and prints one JSON object per measurement.\n\n"
           "  -m, --model FILE       the GGUF model\n"
           "  --mode MODE            speed (pp and tg, as llama-bench; default), latency (load and time to first\n"
           "                         token), samplers (generation speed with each sampler chain)\n"
           "  -t, --threads N        threads (default 0: the number of physical cores)\n"
           "  -p, --n-prompt N       prompt tokens (default 512)\n"
           "  -n, --n-gen N          generated tokens (default 128)\n"
           "  -r, --repetitions N    timed repetitions (default 1)\n"
           "  --sampler-table        the same as --mode samplers\n"
           "  --no-warmup            skip the warmup runs\n"
           "  --rpc HOST:PORT,...    every layer on these ggml RPC servers (llamac rpc-server)\n"
           "  -v, --verbose          llama.cpp's log on stderr\n");
}

static bool parse_int(const char *opt, const char *s, int32_t min, int32_t *out) {
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "llamac-bench: invalid value '%s' for %s\n", s ? s : "", opt);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

static void log_to_stderr(llamac_log_level level, const char *line, void *user_data) {
    (void)level;
    (void)user_data;
    fprintf(stderr, "%s\n", line);
}

int main(int argc, char **argv) {
    struct options o = { NULL, "speed", 0, 512, 128, 1, true, false, NULL };
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "-m") == 0 || strcmp(a, "--model") == 0) {
            o.model = v;
            i++;
        } else if (strcmp(a, "--mode") == 0) {
            o.mode = v ? v : "";
            i++;
        } else if (strcmp(a, "-t") == 0 || strcmp(a, "--threads") == 0) {
            ok = parse_int(a, v, 0, &o.threads);
            i++;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--n-prompt") == 0) {
            ok = parse_int(a, v, 0, &o.n_prompt);
            i++;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-gen") == 0) {
            ok = parse_int(a, v, 0, &o.n_gen);
            i++;
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--repetitions") == 0) {
            ok = parse_int(a, v, 1, &o.reps);
            i++;
        } else if (strcmp(a, "--sampler-table") == 0) {
            o.mode = "samplers";
        } else if (strcmp(a, "--rpc") == 0) {
            o.rpc = v;
            i++;
        } else if (strcmp(a, "--no-warmup") == 0) {
            o.warmup = false;
        } else if (strcmp(a, "-v") == 0 || strcmp(a, "--verbose") == 0) {
            o.verbose = true;
        } else {
            fprintf(stderr, "llamac-bench: unknown option '%s' (see --help)\n", a);
            return 2;
        }
        if (!ok) {
            return 2;
        }
    }
    if (!o.model) {
        fprintf(stderr, "llamac-bench: no model (-m FILE)\n");
        return 2;
    }
    if (o.verbose) {
        llamac_log_set(log_to_stderr, LLAMAC_LOG_DEBUG, NULL);
    }
    if (strcmp(o.mode, "speed") == 0) {
        return mode_speed(&o);
    }
    if (strcmp(o.mode, "latency") == 0) {
        return mode_latency(&o);
    }
    if (strcmp(o.mode, "samplers") == 0) {
        if (o.n_gen < 1) {
            fprintf(stderr, "llamac-bench: the sampler table needs -n of at least 1\n");
            return 2;
        }
        return mode_samplers(&o);
    }
    fprintf(stderr, "llamac-bench: unknown mode '%s' (speed, latency or samplers)\n", o.mode);
    return 2;
}
