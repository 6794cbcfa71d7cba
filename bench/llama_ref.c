/*
 * llama_ref.c - `llamac-bench-ref`: the reference side for what llama-bench does not measure, through llama.cpp's
 * C API directly (llama.h, gguf.h; no llamac).
 *
 * llama-bench reports prompt and generation speed only. Model load time and time to first token are measured here
 * by doing, with plain llama.cpp calls, the same work llamac-bench --mode latency does through llamac: load the
 * model (backends initialised first), then per repetition clear the cache, decode a P-token prompt as one batch,
 * build a greedy sampler, sample one token and turn it into text. --mode speed repeats llama-bench's pp/tg loop
 * with the same calls, to tell the cost of llamac's wrapper apart from differences in llama-bench's own set-up.
 * --mode weights prints the bytes of weights one generated token reads, from the GGUF's tensor list.
 * Output: one JSON object per measurement on stdout, with the same keys as llamac-bench.
 */
#include <ggml.h>
#include <gguf.h>
#include <llama.h>

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
};

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static uint32_t next_rand(uint32_t *state) {
    uint32_t x = *state;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    *state = x;
    return x;
}

static void fill_tokens(const struct llama_vocab *vocab, llama_token *tokens, size_t n, uint32_t *state) {
    int32_t n_vocab = llama_vocab_n_tokens(vocab);
    for (size_t i = 0; i < n; i++) {
        tokens[i] = (llama_token)(next_rand(state) % (uint32_t)n_vocab);
    }
    if (n > 0 && llama_vocab_bos(vocab) >= 0) {
        tokens[0] = llama_vocab_bos(vocab);
    }
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

static void quiet_log(enum ggml_log_level level, const char *text, void *user_data) {
    (void)level;
    (void)text;
    (void)user_data;
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

/* The model as llamac loads it for the CPU: default parameters, mmap, no GPU devices. */
static struct llama_model *load(const struct options *o) {
    llama_backend_init();
    struct llama_model_params mp = llama_model_default_params();
    ggml_backend_dev_t no_devices[1] = { NULL };
    mp.devices = no_devices;
    mp.n_gpu_layers = 0;
    double t0 = now_ms();
    struct llama_model *model = llama_model_load_from_file(o->model, mp);
    if (model) {
        printf("{\"test\": \"load\", \"load_ms\": %.4f}\n", now_ms() - t0);
    } else {
        fprintf(stderr, "llamac-bench-ref: cannot load '%s'\n", o->model);
    }
    return model;
}

static struct llama_context *new_ctx(struct llama_model *model, const struct options *o, uint32_t n_ctx) {
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_threads = o->threads;
    cp.n_threads_batch = o->threads;
    struct llama_context *ctx = llama_init_from_model(model, cp);
    if (!ctx) {
        fprintf(stderr, "llamac-bench-ref: cannot create a context of %u tokens\n", n_ctx);
    }
    return ctx;
}

static bool decode_pp(struct llama_context *ctx, const struct llama_vocab *vocab, llama_token *prompt, size_t n,
                      uint32_t *state) {
    fill_tokens(vocab, prompt, n, state);
    bool ok = llama_decode(ctx, llama_batch_get_one(prompt, (int32_t)n)) == 0;
    llama_synchronize(ctx);
    return ok;
}

static bool decode_tg(struct llama_context *ctx, const struct llama_vocab *vocab, int32_t n, uint32_t *state) {
    llama_token tok;
    fill_tokens(vocab, &tok, 1, state);
    for (int32_t i = 0; i < n; i++) {
        if (llama_decode(ctx, llama_batch_get_one(&tok, 1)) != 0) {
            return false;
        }
        llama_synchronize(ctx);
        tok = (llama_token)(next_rand(state) % (uint32_t)llama_vocab_n_tokens(vocab));
    }
    return true;
}

static int mode_speed(const struct options *o) {
    struct llama_model *model = load(o);
    struct llama_context *ctx = NULL;
    llama_token *prompt = calloc((size_t)o->n_prompt + 1, sizeof *prompt);
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    uint32_t state = 1234567u;
    int rc = 1;
    if (!model || !prompt || !ms) {
        goto done;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    if (o->n_prompt > 0) {
        if (!(ctx = new_ctx(model, o, (uint32_t)o->n_prompt))) {
            goto done;
        }
        if (o->warmup && !decode_pp(ctx, vocab, prompt, (size_t)o->n_prompt, &state)) {
            goto done;
        }
        for (int32_t r = 0; r < o->reps; r++) {
            llama_memory_clear(llama_get_memory(ctx), false);
            double t0 = now_ms();
            if (!decode_pp(ctx, vocab, prompt, (size_t)o->n_prompt, &state)) {
                goto done;
            }
            ms[r] = now_ms() - t0;
        }
        print_samples("pp", o, ms, o->reps, o->n_prompt);
        llama_free(ctx);
        ctx = NULL;
    }
    if (o->n_gen > 0) {
        if (!(ctx = new_ctx(model, o, (uint32_t)o->n_gen))) {
            goto done;
        }
        if (o->warmup && !decode_tg(ctx, vocab, 1, &state)) {
            goto done;
        }
        for (int32_t r = 0; r < o->reps; r++) {
            llama_memory_clear(llama_get_memory(ctx), false);
            double t0 = now_ms();
            if (!decode_tg(ctx, vocab, o->n_gen, &state)) {
                goto done;
            }
            ms[r] = now_ms() - t0;
        }
        print_samples("tg", o, ms, o->reps, o->n_gen);
    }
    rc = 0;
done:
    if (rc != 0) {
        fprintf(stderr, "llamac-bench-ref: decoding failed\n");
    }
    llama_free(ctx);
    llama_model_free(model);
    free(prompt);
    free(ms);
    printf("{\"test\": \"rss\", \"max_rss_kib\": %ld}\n", max_rss_kib());
    return rc;
}

static int mode_latency(const struct options *o) {
    struct llama_model *model = load(o);
    struct llama_context *ctx = NULL;
    size_t n = o->n_prompt > 0 ? (size_t)o->n_prompt : 1;
    llama_token *prompt = calloc(n, sizeof *prompt);
    double *ms = calloc((size_t)o->reps, sizeof *ms);
    uint32_t state = 7654321u;
    int rc = 1;
    if (!model || !prompt || !ms || !(ctx = new_ctx(model, o, (uint32_t)n + 1))) {
        goto done;
    }
    const struct llama_vocab *vocab = llama_model_get_vocab(model);
    for (int32_t r = o->warmup ? -1 : 0; r < o->reps; r++) {
        fill_tokens(vocab, prompt, n, &state);
        double t0 = now_ms();
        llama_memory_seq_rm(llama_get_memory(ctx), 0, -1, -1);
        if (llama_decode(ctx, llama_batch_get_one(prompt, (int32_t)n)) != 0) {
            fprintf(stderr, "llamac-bench-ref: decoding failed\n");
            goto done;
        }
        struct llama_sampler *smpl = llama_sampler_chain_init(llama_sampler_chain_default_params());
        llama_sampler_chain_add(smpl, llama_sampler_init_greedy());
        llama_token tok = llama_sampler_sample(smpl, ctx, -1);
        char piece[256];
        int32_t len = llama_token_to_piece(vocab, tok, piece, sizeof piece, 0, false);
        llama_sampler_free(smpl);
        double t = now_ms() - t0;
        if (len < 0) {
            goto done;
        }
        if (r >= 0) {
            ms[r] = t;
        }
    }
    print_samples("ttft", o, ms, o->reps, 0);
    rc = 0;
done:
    llama_free(ctx);
    llama_model_free(model);
    free(prompt);
    free(ms);
    printf("{\"test\": \"rss\", \"max_rss_kib\": %ld}\n", max_rss_kib());
    return rc;
}

/* Bytes of weights a generated token reads: every tensor, except that the token embedding contributes one row
 * when the model has a separate output matrix (with tied embeddings the output projection reads all of it). */
static int mode_weights(const struct options *o) {
    struct ggml_context *meta = NULL;
    struct gguf_init_params gp = { true, &meta };
    struct gguf_context *g = gguf_init_from_file(o->model, gp);
    if (!g) {
        fprintf(stderr, "llamac-bench-ref: cannot read '%s' as GGUF\n", o->model);
        return 1;
    }
    double total = 0, per_token = 0;
    bool untied = ggml_get_tensor(meta, "output.weight") != NULL;
    for (int64_t i = 0; i < gguf_get_n_tensors(g); i++) {
        const char *name = gguf_get_tensor_name(g, i);
        struct ggml_tensor *t = ggml_get_tensor(meta, name);
        double bytes = (double)ggml_nbytes(t);
        total += bytes;
        if (untied && strcmp(name, "token_embd.weight") == 0) {
            bytes = (double)ggml_row_size(t->type, t->ne[0]);
        }
        per_token += bytes;
    }
    printf("{\"test\": \"weights\", \"bytes\": %.0f, \"bytes_per_token\": %.0f, \"tied_embeddings\": %s}\n", total,
           per_token, untied ? "false" : "true");
    gguf_free(g);
    ggml_free(meta);
    return 0;
}

static bool parse_int(const char *opt, const char *s, int32_t min, int32_t *out) {
    char *end = NULL;
    long v = s ? strtol(s, &end, 10) : 0;
    if (!s || end == s || *end != '\0' || v < min || v > 1000000) {
        fprintf(stderr, "llamac-bench-ref: invalid value '%s' for %s\n", s ? s : "", opt);
        return false;
    }
    *out = (int32_t)v;
    return true;
}

int main(int argc, char **argv) {
    struct options o = { NULL, "latency", 0, 512, 128, 1, true };
    bool verbose = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: llamac-bench-ref -m MODEL [--mode latency|speed|weights] [-t N] [-p N] [-n N] [-r N]\n"
                   "                        [--no-warmup] [-v]\n"
                   "The reference measurements, through llama.cpp's C API directly (see llamac-bench).\n");
            return 0;
        } else if (strcmp(a, "-m") == 0) {
            o.model = v;
            i++;
        } else if (strcmp(a, "--mode") == 0) {
            o.mode = v ? v : "";
            i++;
        } else if (strcmp(a, "-t") == 0) {
            ok = parse_int(a, v, 1, &o.threads);
            i++;
        } else if (strcmp(a, "-p") == 0) {
            ok = parse_int(a, v, 0, &o.n_prompt);
            i++;
        } else if (strcmp(a, "-n") == 0) {
            ok = parse_int(a, v, 0, &o.n_gen);
            i++;
        } else if (strcmp(a, "-r") == 0) {
            ok = parse_int(a, v, 1, &o.reps);
            i++;
        } else if (strcmp(a, "--no-warmup") == 0) {
            o.warmup = false;
        } else if (strcmp(a, "-v") == 0) {
            verbose = true;
        } else {
            fprintf(stderr, "llamac-bench-ref: unknown option '%s'\n", a);
            return 2;
        }
        if (!ok) {
            return 2;
        }
    }
    if (!o.model) {
        fprintf(stderr, "llamac-bench-ref: no model (-m FILE)\n");
        return 2;
    }
    if (o.threads == 0) {
        fprintf(stderr, "llamac-bench-ref: give the thread count (-t N)\n");
        return 2;
    }
    if (!verbose) {
        llama_log_set(quiet_log, NULL);
    }
    if (strcmp(o.mode, "weights") == 0) {
        return mode_weights(&o);
    }
    if (strcmp(o.mode, "speed") == 0) {
        return mode_speed(&o);
    }
    if (strcmp(o.mode, "latency") == 0) {
        return mode_latency(&o);
    }
    fprintf(stderr, "llamac-bench-ref: unknown mode '%s'\n", o.mode);
    return 2;
}
