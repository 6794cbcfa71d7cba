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

/* Largest divisor of `n` that is at most `cap` (at least 1). */
static uint32_t divisor_at_most(uint32_t n, uint32_t cap) {
    uint32_t d = cap < n ? cap : n;
    while (d > 1 && n % d != 0) {
        d--;
    }
    return d ? d : 1;
}

/* The context an embedding job wants, unless the user set the sizes. */
static void embedding_context(struct cli_common *c, const struct cli_parser *p) {
    bool ubatch_set = cli_given(p, "-ub"), parallel_set = cli_given(p, "-np");
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
    /* Flash attention stays as -fa says: auto by default, as in llama-embedding and llama-server, so that the vectors
     * are theirs (to about 1e-9 on a synthesized BERT; -fa off moves them by up to 3e-6). The price: with flash
     * attention the CPU kernels round a little differently for each batch shape, so a text's vector can depend on
     * the texts batched with it by about 1e-7; -fa off makes it independent of them. */
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

struct embed_opts {
    int pooling;        /* llamac_pooling */
    long normalize;     /* --normalize */
    const char *format; /* json, array, table (embed); text, json (rerank) */
    bool truncate;
    const char *query; /* rerank */
    long top_n;        /* rerank */
};

#define OPTS(f) offsetof(struct embed_opts, f)

static const struct cli_choice poolings[] = { { "none", LLAMAC_POOLING_NONE }, { "mean", LLAMAC_POOLING_MEAN },
                                              { "cls", LLAMAC_POOLING_CLS },   { "last", LLAMAC_POOLING_LAST },
                                              { "rank", LLAMAC_POOLING_RANK }, { NULL, 0 } };

static bool set_format(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    bool rerank = p->cmd == &cli_cmd_rerank;
    if (rerank ? strcmp(value, "text") != 0 && strcmp(value, "json") != 0
               : strcmp(value, "json") != 0 && strcmp(value, "array") != 0 && strcmp(value, "table") != 0) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected %s)", value, p->name,
                  rerank ? "text or json" : "json, array or table");
        return false;
    }
    *(const char **)field = value;
    return true;
}

static const struct cli_opt embed_rows[] = {
    { .names = { "--pooling" },
      .arg = "none|mean|cls|last|rank",
      .set = cli_set_choice,
      .offset = OPTS(pooling),
      .choices = poolings,
      .help = "how token vectors make a text's vector (default: the model's; mean for a model that does not pool, "
              "such as a generative model)" },
    { .names = { "--normalize", "--embd-normalize" },
      .arg = "N",
      .set = cli_set_long,
      .offset = OPTS(normalize),
      .min = -1,
      .max = 1000,
      .help = "-1 none, 0 max-abs (int16), 1 L1, 2 L2 (default), >2 p-norm" },
    { .names = { "--format", "--embd-output-format" },
      .arg = "json|array|table",
      .set = set_format,
      .offset = OPTS(format),
      .help = "json: an array with one array per text (default); array: one vector per line; table: the "
              "cosine-similarity matrix of the texts. With --pooling none each text gives one vector per token: "
              "json nests them one level deeper, array prints them one per line, a blank line between texts" },
    { .names = { "--truncate" },
      .set = cli_set_true,
      .offset = OPTS(truncate),
      .field = "truncate",
      .help = "cut texts longer than fits instead of failing" },
};
static const struct cli_group embed_group = CLI_GROUP("Embeddings", CLI_TARGET_COMMAND, embed_rows);

static const struct cli_opt rerank_rows[] = {
    { .names = { "--query" },
      .arg = "TEXT",
      .set = cli_set_str,
      .offset = OPTS(query),
      .help = "the query the documents are scored against (required)" },
    { .names = { "--top-n" },
      .arg = "N",
      .set = cli_set_long,
      .offset = OPTS(top_n),
      .min = 0,
      .max = 1000000,
      .help = "print only the N best documents (default: 0, all)" },
    { .names = { "--format" },
      .arg = "text|json",
      .set = set_format,
      .offset = OPTS(format),
      .help = "text: \"index<TAB>score<TAB>document\" lines (default); json: an array of {\"index\", \"score\"} "
              "objects" },
};
static const struct cli_group rerank_group = CLI_GROUP("Reranking", CLI_TARGET_COMMAND, rerank_rows);

static const struct cli_group *const embed_groups[] = {
    &embed_group,    &cli_group_sequences, &cli_group_model, &cli_group_hub,
    &cli_group_load, &cli_group_context,   &cli_group_log,   NULL,
};
static const struct cli_group *const rerank_groups[] = {
    &rerank_group,   &cli_group_sequences, &cli_group_model, &cli_group_hub,
    &cli_group_load, &cli_group_context,   &cli_group_log,   NULL,
};

static int embed(int argc, char **argv);
static int rerank(int argc, char **argv);

const struct cli_command cli_cmd_embed = {
    .name = "embed",
    .summary = "embedding vectors of texts (json, array, or a cosine-similarity table)",
    .synopsis = "[MODEL.gguf | -m MODEL] [--pooling P] [--normalize N] [--format json|array|table]\n"
                "[MODEL.gguf | -m MODEL] [options] [TEXT ... | one text per line on stdin]",
    .about = "Embeds each text with the model. Flash attention is off unless -fa is given, so that a vector does not "
             "depend on the texts it was batched with.",
    .groups = embed_groups,
    .run = embed,
};

const struct cli_command cli_cmd_rerank = {
    .name = "rerank",
    .summary = "score documents against a query with a reranker model",
    .synopsis = "[MODEL.gguf | -m MODEL] --query Q [--top-n N] [--format text|json]\n"
                "[MODEL.gguf | -m MODEL] --query Q [options] [DOC ... | one per line on stdin]",
    .about = "Scores each document against the query with a reranker model (rank pooling) and prints them best "
             "first.",
    .groups = rerank_groups,
    .run = rerank,
};

/* Parses embed's or rerank's command line; returns -1 to go on, else the exit status. */
static int parse_job(const struct cli_command *cmd, struct cli_common *c, struct embed_opts *o, struct cli_parser *p,
                     int argc, char **argv, struct texts *t) {
    struct cli_targets targets = { .common = c, .command = o };
    int rc = cli_parse(p, cmd, &targets, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    cli_positional_model(c, p, false);
    for (int i = 0; i < p->n_pos; i++) {
        if (!add_text(t, p->pos[i])) {
            cli_error(c, "out of memory");
            return EXIT_FAILURE_RUN;
        }
    }
    return cli_setup_logging(c) ? -1 : EXIT_USAGE;
}

static int embed(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "embed");
    struct texts t = { 0 };
    llamac_embed_params ep = llamac_embed_params_default();
    struct embed_opts o = { .pooling = LLAMAC_POOLING_DEFAULT, .normalize = ep.normalize, .format = "json" };
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    float *vectors = NULL;
    struct cli_parser p;
    int rc = parse_job(&cli_cmd_embed, &c, &o, &p, argc, argv, &t);
    if (rc >= 0) {
        goto done;
    }
    const char *format = o.format;
    c.ctx.pooling = (llamac_pooling)o.pooling;
    ep.normalize = (int32_t)o.normalize;
    ep.truncate = o.truncate;
    rc = EXIT_FAILURE_RUN;
    if (t.n == 0 && !read_lines(&c, &t)) {
        goto done;
    }
    if (t.n == 0) {
        cli_error(&c, "no texts to embed: give them as arguments or one per line on stdin");
        goto done;
    }
    embedding_context(&c, &p);
    if (!(model = cli_load_model(&c, false))) {
        goto done;
    }
    c.ctx.pooling = cli_embedding_pooling(&c, model, c.ctx.pooling);
    cli_prepare_context(&c, model, &c.ctx);
    uint32_t unified_np = c.ctx.n_seq_max;
    if (c.ctx.pooling != LLAMAC_POOLING_NONE && use_streams(&c, model, &t, ep.tokenize_flags, cli_given(&p, "-np")) &&
        llamac_ctx_new(model, &c.ctx, &ctx) != LLAMAC_OK) {
        c.ctx.kv_unified = true;
        c.ctx.n_seq_max = unified_np;
        ctx = NULL;
    }
    if (!ctx && !(ctx = cli_new_context(&c, model, &c.ctx))) {
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
        /* One vector per token (--pooling none): json nests each text's vectors one level deeper, array prints
         * them one per line with a blank line between texts; a similarity table needs one vector per text. */
        if (strcmp(format, "table") == 0) {
            progress_done(&bar);
            cli_error(&c, "--format table needs one vector per text; --pooling none gives one per token");
            goto done;
        }
        if (strcmp(format, "json") == 0) {
            putchar('[');
        }
        for (size_t k = 0; k < t.n; k++) {
            size_t n_tok = 0;
            if (llamac_embed_tokens(ctx, t.items[k], strlen(t.items[k]), &ep, &vectors, &n_tok, &dim) != LLAMAC_OK) {
                progress_done(&bar);
                cli_lib_error(&c, NULL);
                goto done;
            }
            bool json = strcmp(format, "json") == 0;
            if (json) {
                printf("%s[", k ? "," : "");
            } else if (k) {
                putchar('\n');
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
            cli_lib_error(&c, NULL);
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
    cli_common_close(&c);
    return rc;
}

static int rerank(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "rerank");
    struct texts t = { 0 };
    struct embed_opts o = { .format = "text" };
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    float *scores = NULL;
    llamac_rerank_result *sorted = NULL;
    struct cli_parser p;
    int rc = parse_job(&cli_cmd_rerank, &c, &o, &p, argc, argv, &t);
    if (rc >= 0) {
        goto done;
    }
    rc = EXIT_USAGE;
    const char *query = o.query, *format = o.format;
    size_t top_n = (size_t)o.top_n;
    if (!query) {
        cli_error(&c, "--query is required");
        goto done;
    }
    rc = EXIT_FAILURE_RUN;
    if (t.n == 0 && !read_lines(&c, &t)) {
        goto done;
    }
    if (t.n == 0) {
        cli_error(&c, "no documents to rerank: give them as arguments or one per line on stdin");
        goto done;
    }
    c.ctx.pooling = LLAMAC_POOLING_RANK;
    embedding_context(&c, &p);
    if (!(model = cli_load_model(&c, false)) || !(ctx = cli_new_context(&c, model, &c.ctx))) {
        goto done;
    }
    size_t n_sorted = 0;
    if (llamac_rerank(ctx, query, (const char *const *)t.items, t.n, top_n, &scores, &sorted, &n_sorted) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
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
    cli_common_close(&c);
    return rc;
}
