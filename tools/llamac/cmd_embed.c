/*
 * cmd_embed.c - `llamac embed` and `llamac rerank`: embedding vectors and reranking scores on stdout.
 *
 * Texts come from the command line or, one per line, from stdin. The context is made for the job: embeddings on,
 * many sequences and n_ubatch = n_batch, so that the library can pack many texts into each decode; for `embed`, a KV
 * stream per sequence when every text fits one (see use_streams), a unified KV cache otherwise.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct texts {
    char **items;
    size_t n;
    char *buffer; /* stdin content the items point into */
};

static bool add_text(struct texts *t, char *s) {
    char **grown = realloc(t->items, (t->n + 1) * sizeof *grown);
    if (!grown) {
        return false;
    }
    t->items = grown;
    t->items[t->n++] = s;
    return true;
}

/* One text per non-empty line of stdin. */
static bool read_lines(const struct cli_common *c, struct texts *t) {
    size_t len = 0;
    t->buffer = cli_read_all(c, NULL, &len);
    if (!t->buffer) {
        return false;
    }
    char *line = t->buffer;
    while (line && *line) {
        char *nl = strchr(line, '\n');
        if (nl) {
            *nl = '\0';
        }
        size_t n = strlen(line);
        if (n > 0 && line[n - 1] == '\r') {
            line[--n] = '\0';
        }
        if (n > 0 && !add_text(t, line)) {
            cli_error(c, "out of memory");
            return false;
        }
        line = nl ? nl + 1 : NULL;
    }
    return true;
}

static bool parse_pooling(const struct cli_common *c, const char *v, llamac_pooling *out) {
    static const struct {
        const char *name;
        llamac_pooling p;
    } names[] = { { "none", LLAMAC_POOLING_NONE },
                  { "mean", LLAMAC_POOLING_MEAN },
                  { "cls", LLAMAC_POOLING_CLS },
                  { "last", LLAMAC_POOLING_LAST },
                  { "rank", LLAMAC_POOLING_RANK } };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        if (strcmp(v, names[i].name) == 0) {
            *out = names[i].p;
            return true;
        }
    }
    cli_error(c, "invalid --pooling '%s' (expected none, mean, cls, last or rank)", v);
    return false;
}

/* Largest divisor of `n` that is at most `cap` (at least 1). */
static uint32_t divisor_at_most(uint32_t n, uint32_t cap) {
    uint32_t d = cap < n ? cap : n;
    while (d > 1 && n % d != 0) {
        d--;
    }
    return d ? d : 1;
}

/* The context an embedding job wants, unless the user set the sizes. */
static void embedding_context(struct cli_common *c, bool ubatch_set, bool parallel_set, bool fa_set) {
    c->ctx.embeddings = true;
    c->ctx.kv_unified = true;
    if (!ubatch_set) {
        c->ctx.n_ubatch = c->ctx.n_batch;
    }
    if (!parallel_set) {
        /* At most 64 sequences, and a number that divides the micro-batch: llama.cpp cannot reserve its graph for
         * mean pooling otherwise (llamac_ctx_new refuses such a context). */
        uint32_t ub = c->ctx.n_ubatch < c->ctx.n_batch ? c->ctx.n_ubatch : c->ctx.n_batch;
        c->ctx.n_seq_max = divisor_at_most(ub, 64);
    }
    if (!fa_set) {
        /* With flash attention the CPU kernels round differently for each batch shape; without it, a text's
         * vector does not depend on what it was batched with (to about 1e-5). */
        c->ctx.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    }
}

/* Short texts embed fastest in a KV stream each (kv_unified off): a token then attends over its own stream's 256
 * cells rather than over a whole packed batch, and the library packs all texts of one length into one decode (see
 * llamac_embed), so there are few decodes too. That needs every text to fit a stream (256 tokens; longer texts keep
 * the unified cache) and memory for n_seq_max streams: without -np, as many streams (up to 256, llama.cpp's limit) as
 * fit in 256 MiB of F16 KV cache. Returns whether it switched; the caller falls back to the unified cache when the
 * context cannot be made. */
static bool use_streams(struct cli_common *c, llamac_model *model, const struct texts *t, unsigned flags,
                        bool parallel_set) {
    enum { STREAM_CELLS = 256, MAX_STREAMS = 256 };
    const double budget = 256.0 * 1024 * 1024;
    for (size_t i = 0; i < t->n; i++) {
        llamac_token *tok = NULL;
        size_t n = 0;
        llamac_status st = llamac_tokenize(model, t->items[i], strlen(t->items[i]), flags, &tok, &n);
        llamac_free(tok);
        if (st != LLAMAC_OK || n > STREAM_CELLS) {
            return false; /* the embedding itself reports a bad text */
        }
    }
    llamac_model_info mi;
    llamac_model_get_info(model, &mi);
    uint32_t ub = c->ctx.n_ubatch < c->ctx.n_batch ? c->ctx.n_ubatch : c->ctx.n_batch;
    uint32_t np = c->ctx.n_seq_max;
    if (!parallel_set) {
        double cell = (double)mi.n_layer * mi.n_head_kv * (mi.head_dim_k + mi.head_dim_v) * 2.0;
        double fit = cell > 0 ? budget / (cell * STREAM_CELLS) : MAX_STREAMS;
        np = fit >= MAX_STREAMS ? MAX_STREAMS : (uint32_t)fit;
        np = divisor_at_most(ub, np);
    }
    if (np < 2) {
        return false;
    }
    c->ctx.kv_unified = false;
    c->ctx.n_seq_max = np;
    return true;
}

static llamac_context *open_context(struct cli_common *c, llamac_model *model) {
    llamac_context *ctx = NULL;
    if (llamac_ctx_new(model, &c->ctx, &ctx) != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return NULL;
    }
    return ctx;
}

static void print_vector(const float *v, size_t n, bool json, int32_t normalize) {
    if (json) {
        putchar('[');
    }
    for (size_t i = 0; i < n; i++) {
        if (i) {
            fputs(json ? "," : " ", stdout);
        }
        printf(normalize == LLAMAC_EMBD_NORM_MAXABS ? "%.0f" : "%.9g", (double)v[i]);
    }
    if (json) {
        putchar(']');
    }
}

/* Shared flags of embed and rerank; returns CLI_NOT_MINE for anything else. */
static enum cli_parse parse_job(struct cli_common *c, int argc, char **argv, int *i, bool *ubatch_set,
                                bool *parallel_set, bool *fa_set) {
    const char *a = argv[*i];
    if (strcmp(a, "-ub") == 0 || strcmp(a, "--ubatch-size") == 0) {
        *ubatch_set = true;
    }
    if (strcmp(a, "-fa") == 0 || strcmp(a, "--flash-attn") == 0) {
        *fa_set = true;
    }
    if (strcmp(a, "-np") == 0 || strcmp(a, "--parallel") == 0) {
        const char *v = cli_value(c, argc, argv, i);
        long n;
        if (!v || !cli_int(c, a, v, 1, 256, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_seq_max = (uint32_t)n;
        *parallel_set = true;
        return CLI_TAKEN;
    }
    return cli_parse_common(c, argc, argv, i);
}

static void embed_usage(void) {
    printf("usage: llamac embed -m MODEL [--pooling P] [--normalize N] [--format json|array|table] [--truncate]\n"
           "                    [TEXT ... | one text per line on stdin]\n\n"
           "  --pooling none|mean|cls|last|rank   default: the model's\n"
           "  --normalize N, --embd-normalize N   -1 none, 0 max-abs (int16), 1 L1, 2 L2 (default), >2 p-norm\n"
           "  --format json|array|table           json: an array of arrays (default); array: one vector per line;\n"
           "                                      table: the cosine-similarity matrix of the inputs\n"
           "  --truncate                          cut texts longer than fits instead of failing\n"
           "  -np, --parallel N                   texts per decode (default 64)\n"
           "  Flash attention is off unless -fa is given, so a vector does not depend on its batch.\n\n");
    cli_print_common_help();
}

int cmd_embed(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "embed");
    struct texts t = { 0 };
    llamac_embed_params ep = llamac_embed_params_default();
    const char *format = "json";
    bool ubatch_set = false, parallel_set = false, fa_set = false;
    int rc = EXIT_USAGE;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    float *vectors = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = parse_job(&c, argc, argv, &i, &ubatch_set, &parallel_set, &fa_set);
        if (r == CLI_ERROR) {
            goto done;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        const char *v;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            embed_usage();
            rc = EXIT_OK;
            goto done;
        } else if (strcmp(a, "--pooling") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !parse_pooling(&c, v, &c.ctx.pooling)) {
                goto done;
            }
        } else if (strcmp(a, "--normalize") == 0 || strcmp(a, "--embd-normalize") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, -1, 1000, &n)) {
                goto done;
            }
            ep.normalize = (int32_t)n;
        } else if (strcmp(a, "--format") == 0 || strcmp(a, "--embd-output-format") == 0) {
            if (!(format = cli_value(&c, argc, argv, &i))) {
                goto done;
            }
            if (strcmp(format, "json") != 0 && strcmp(format, "array") != 0 && strcmp(format, "table") != 0) {
                cli_error(&c, "invalid --format '%s' (expected json, array or table)", format);
                goto done;
            }
        } else if (strcmp(a, "--truncate") == 0) {
            ep.truncate = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac embed --help)", a);
            goto done;
        } else if (!add_text(&t, argv[i])) {
            cli_error(&c, "out of memory");
            goto done;
        }
    }
    rc = EXIT_FAILURE_RUN;
    cli_setup_logging(&c);
    if (t.n == 0 && !read_lines(&c, &t)) {
        goto done;
    }
    if (t.n == 0) {
        cli_error(&c, "no texts to embed: give them as arguments or one per line on stdin");
        goto done;
    }
    embedding_context(&c, ubatch_set, parallel_set, fa_set);
    if (!(model = cli_load_model(&c, false))) {
        goto done;
    }
    uint32_t unified_np = c.ctx.n_seq_max;
    if (c.ctx.pooling != LLAMAC_POOLING_NONE && use_streams(&c, model, &t, ep.tokenize_flags, parallel_set) &&
        llamac_ctx_new(model, &c.ctx, &ctx) != LLAMAC_OK) {
        c.ctx.kv_unified = true;
        c.ctx.n_seq_max = unified_np;
        ctx = NULL;
    }
    if (!ctx && !(ctx = open_context(&c, model))) {
        goto done;
    }
    struct progress bar;
    progress_init(&bar, "embedding", c.quiet || t.n < 64);
    ep.progress = progress_update;
    ep.progress_user_data = &bar;
    llamac_ctx_info info;
    llamac_ctx_get_info(ctx, &info);
    size_t dim = 0;
    if (info.pooling == LLAMAC_POOLING_NONE) {
        /* One vector per token: print each text's tokens as a nested array. */
        if (strcmp(format, "table") == 0) {
            progress_done(&bar);
            cli_error(&c, "--format table needs pooled vectors (not --pooling none)");
            goto done;
        }
        if (strcmp(format, "json") == 0) {
            putchar('[');
        }
        for (size_t k = 0; k < t.n; k++) {
            size_t n_tok = 0;
            if (llamac_embed_tokens(ctx, t.items[k], strlen(t.items[k]), &ep, &vectors, &n_tok, &dim) != LLAMAC_OK) {
                progress_done(&bar);
                cli_error(&c, "%s", llamac_last_error());
                goto done;
            }
            bool json = strcmp(format, "json") == 0;
            if (json) {
                printf("%s[", k ? "," : "");
            }
            for (size_t j = 0; j < n_tok; j++) {
                if (json && j) {
                    putchar(',');
                }
                print_vector(vectors + j * dim, dim, json, ep.normalize);
                if (!json) {
                    putchar('\n');
                }
            }
            if (json) {
                putchar(']');
            }
            llamac_free(vectors);
            vectors = NULL;
        }
        if (strcmp(format, "json") == 0) {
            puts("]");
        }
        progress_done(&bar);
    } else {
        llamac_status st = llamac_embed(ctx, (const char *const *)t.items, NULL, t.n, &ep, &vectors, &dim);
        progress_done(&bar);
        if (st != LLAMAC_OK) {
            cli_error(&c, "%s", llamac_last_error());
            goto done;
        }
        if (strcmp(format, "table") == 0) {
            float *sim = malloc(t.n * t.n * sizeof *sim);
            if (!sim || llamac_embd_similarity_matrix(vectors, t.n, dim, sim) != LLAMAC_OK) {
                free(sim);
                cli_error(&c, "cannot compute the similarity matrix");
                goto done;
            }
            printf("cosine similarity matrix:\n\n");
            for (size_t j = 0; j < t.n; j++) {
                printf("%8.8s ", t.items[j]);
            }
            putchar('\n');
            for (size_t r = 0; r < t.n; r++) {
                for (size_t j = 0; j < t.n; j++) {
                    printf("%8.2f ", (double)sim[r * t.n + j]);
                }
                printf("%.40s\n", t.items[r]);
            }
            free(sim);
        } else {
            bool json = strcmp(format, "json") == 0;
            if (json) {
                putchar('[');
            }
            for (size_t r = 0; r < t.n; r++) {
                if (json && r) {
                    putchar(',');
                }
                print_vector(vectors + r * dim, dim, json, ep.normalize);
                if (!json) {
                    putchar('\n');
                }
            }
            if (json) {
                puts("]");
            }
        }
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
done:
    llamac_free(vectors);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(t.items);
    free(t.buffer);
    return rc;
}

static void rerank_usage(void) {
    printf("usage: llamac rerank -m MODEL --query Q [--top-n N] [--format text|json] [DOC ... | one per line on stdin]"
           "\n\n"
           "  Scores each document against the query with a reranker model (rank pooling) and prints them best\n"
           "  first: \"index<TAB>score<TAB>document\" lines, or a JSON array of {\"index\", \"score\"} objects.\n\n");
    cli_print_common_help();
}

int cmd_rerank(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "rerank");
    struct texts t = { 0 };
    const char *query = NULL, *format = "text";
    size_t top_n = 0;
    bool ubatch_set = false, parallel_set = false, fa_set = false;
    int rc = EXIT_USAGE;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    float *scores = NULL;
    llamac_rerank_result *sorted = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = parse_job(&c, argc, argv, &i, &ubatch_set, &parallel_set, &fa_set);
        if (r == CLI_ERROR) {
            goto done;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        const char *v;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            rerank_usage();
            rc = EXIT_OK;
            goto done;
        } else if (strcmp(a, "--query") == 0 || strcmp(a, "-q") == 0) {
            if (!(query = cli_value(&c, argc, argv, &i))) {
                goto done;
            }
        } else if (strcmp(a, "--top-n") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, 0, 1000000, &n)) {
                goto done;
            }
            top_n = (size_t)n;
        } else if (strcmp(a, "--format") == 0) {
            if (!(format = cli_value(&c, argc, argv, &i))) {
                goto done;
            }
            if (strcmp(format, "text") != 0 && strcmp(format, "json") != 0) {
                cli_error(&c, "invalid --format '%s' (expected text or json)", format);
                goto done;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac rerank --help)", a);
            goto done;
        } else if (!add_text(&t, argv[i])) {
            cli_error(&c, "out of memory");
            goto done;
        }
    }
    if (!query) {
        cli_error(&c, "--query is required");
        goto done;
    }
    rc = EXIT_FAILURE_RUN;
    cli_setup_logging(&c);
    if (t.n == 0 && !read_lines(&c, &t)) {
        goto done;
    }
    if (t.n == 0) {
        cli_error(&c, "no documents to rerank: give them as arguments or one per line on stdin");
        goto done;
    }
    c.ctx.pooling = LLAMAC_POOLING_RANK;
    embedding_context(&c, ubatch_set, parallel_set, fa_set);
    if (!(model = cli_load_model(&c, false)) || !(ctx = open_context(&c, model))) {
        goto done;
    }
    size_t n_sorted = 0;
    if (llamac_rerank(ctx, query, (const char *const *)t.items, t.n, top_n, &scores, &sorted, &n_sorted) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    bool json = strcmp(format, "json") == 0;
    if (json) {
        putchar('[');
    }
    for (size_t k = 0; k < n_sorted; k++) {
        if (json) {
            printf("%s{\"index\":%zu,\"score\":%.9g}", k ? "," : "", sorted[k].index, (double)sorted[k].score);
        } else {
            printf("%zu\t%.6f\t%s\n", sorted[k].index, (double)sorted[k].score, t.items[sorted[k].index]);
        }
    }
    if (json) {
        puts("]");
    }
    rc = fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
done:
    llamac_free(scores);
    llamac_free(sorted);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(t.items);
    free(t.buffer);
    return rc;
}
