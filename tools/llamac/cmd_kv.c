/*
 * cmd_kv.c - `llamac kv`: what each KV-cache type costs in memory for the model at hand, and with --quality what
 * it costs in accuracy.
 *
 * The memory table is computed, not measured: llamac_kv_memory_compute applies llama.cpp's sizing rules to the
 * model's shape, so contexts far larger than this machine's memory can be priced. The quality report
 * (cmd_kv_quality.c) runs the model for real. --json writes both; --plot draws the quality as SVG (cmd_kv_plot.c)
 * or PNG (cmd_kv_png.c).
 */
#include "kv_report.h"

#include <ctype.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define KV_MAX_CTX 16

/* Whether s ends with suffix (compared without case: FILE.PNG is a PNG). */
static bool has_suffix(const char *s, const char *suffix) {
    size_t n = strlen(s), m = strlen(suffix);
    if (n <= m) {
        return false;
    }
    for (size_t i = 0; i < m; i++) {
        if (tolower((unsigned char)s[n - m + i]) != tolower((unsigned char)suffix[i])) {
            return false;
        }
    }
    return true;
}

struct kv_opts {
    const char *types;
    const char *ctx_list;
    const char *json_path;
    const char *plot_path;
    struct kv_quality_opts q;
};

#define OPTS(f) offsetof(struct kv_opts, f)

static const struct cli_opt memory_rows[] = {
    { .names = { "--ctx" },
      .arg = "N,N,...",
      .set = cli_set_str,
      .offset = OPTS(ctx_list),
      .help = "context sizes for the memory table (default: 2048,32768)" },
    { .names = { "--types" },
      .arg = "T,T,...",
      .set = cli_set_str,
      .offset = OPTS(types),
      .help = "cache types; T is one type for K and V (q8_0) or a K/V pair (q8_0/q4_0) (default: "
              "f16,q8_0,q5_1,q5_0,q4_1,q4_0,iq4_nl)" },
};
static const struct cli_group memory_group = CLI_GROUP("Memory", CLI_TARGET_COMMAND, memory_rows);

static const struct cli_opt sequence_rows[] = {
    { .names = { "-kvu", "--kv-unified" },
      .set = cli_set_true,
      .offset = offsetof(struct cli_common, ctx.kv_unified),
      .field = "kv_unified",
      .help = "one KV stream shared by all sequences" },
};
static const struct cli_group sequence_group = CLI_GROUP("KV streams", CLI_TARGET_COMMON, sequence_rows);

static const struct cli_opt quality_rows[] = {
    { .names = { "--quality" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = OPTS(q.text_path),
      .help = "perplexity, KL divergence and greedy divergence on the text in FILE (-c sets the tokens per "
              "perplexity chunk, default 512; the text needs twice that)" },
    { .names = { "-p", "--prompt" },
      .arg = "TEXT",
      .set = cli_set_str,
      .offset = OPTS(q.prompt),
      .help = "with --quality: prompt of the greedy generations (default: \"Once upon a time\")" },
    { .names = { "--chunks" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = OPTS(q.max_chunks),
      .min = 1,
      .max = INT32_MAX,
      .help = "with --quality: evaluate at most N chunks (default: all)" },
    { .names = { "-n", "--predict", "--n-predict" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = OPTS(q.n_predict),
      .min = 1,
      .max = 4096,
      .help = "with --quality: tokens generated greedily (default: 64)" },
    { .names = { "--json" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = OPTS(json_path),
      .help = "write the tables as JSON to FILE (- for standard output)" },
    { .names = { "--plot" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = OPTS(plot_path),
      .help = "with --quality: draw the KL divergence per type as a bar chart, SVG or PNG by the extension "
              "(FILE.svg, FILE.png)" },
};
static const struct cli_group quality_group = CLI_GROUP("Quality", CLI_TARGET_COMMAND, quality_rows);

static const struct cli_group *const kv_groups[] = {
    &memory_group,  &cli_group_sequences, &sequence_group,    &quality_group, &cli_group_model,
    &cli_group_hub, &cli_group_load,      &cli_group_context, &cli_group_log, NULL,
};

static int kv(int argc, char **argv);

const struct cli_command cli_cmd_kv = {
    .name = "kv",
    .summary = "KV-cache memory per cache type, and with --quality the accuracy each type costs",
    .synopsis = "[MODEL.gguf | -m MODEL] [--ctx N,N,...] [--types T,T,...] [-np N] [--kv-unified] [-fa MODE]\n"
                "[MODEL.gguf | -m MODEL] --quality FILE.txt [-c CHUNK] [--types ...] [-p TEXT] [-n N]\n"
                "[MODEL.gguf | -m MODEL] --quality FILE.txt [--json FILE] [--plot FILE.svg|FILE.png]",
    .about = "KV-cache memory per cache type, computed from the model's shape without allocating, and with "
             "--quality the accuracy each type costs, measured against an F16 cache with Hadamard rotation on and "
             "off.",
    .groups = kv_groups,
    .run = kv,
};

static bool parse_type(const struct cli_common *c, const char *s, size_t len, llamac_kv_type *out) {
    char name[32];
    if (len == 0 || len >= sizeof name) {
        cli_error(c, "invalid cache type '%.*s'", (int)len, s);
        return false;
    }
    memcpy(name, s, len);
    name[len] = '\0';
    if (llamac_kv_type_from_name(name, out) != LLAMAC_OK) {
        cli_error(c, "--types: %s", llamac_last_error());
        return false;
    }
    return true;
}

/* "f16,q8_0,q8_0/q4_0" -> configurations. */
static bool parse_types(const struct cli_common *c, const char *list, struct kv_config *cfg, size_t *n) {
    *n = 0;
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t len = end ? (size_t)(end - p) : strlen(p);
        if (*n == KV_MAX_CONFIGS) {
            cli_error(c, "--types: at most %d configurations", KV_MAX_CONFIGS);
            return false;
        }
        struct kv_config *k = &cfg[*n];
        const char *slash = memchr(p, '/', len);
        if (slash) {
            if (!parse_type(c, p, (size_t)(slash - p), &k->k) ||
                !parse_type(c, slash + 1, len - (size_t)(slash - p) - 1, &k->v)) {
                return false;
            }
        } else if (!parse_type(c, p, len, &k->k)) {
            return false;
        } else {
            k->v = k->k;
        }
        if (k->k == k->v) {
            snprintf(k->label, sizeof k->label, "%s", llamac_kv_type_name(k->k));
        } else {
            snprintf(k->label, sizeof k->label, "%s/%s", llamac_kv_type_name(k->k), llamac_kv_type_name(k->v));
        }
        (*n)++;
        p = end ? end + 1 : p + len;
    }
    if (*n == 0) {
        cli_error(c, "--types: no types given");
        return false;
    }
    return true;
}

static bool parse_ctx_list(const struct cli_common *c, const char *list, uint32_t *ctx, size_t *n) {
    *n = 0;
    char buf[256];
    if (strlen(list) >= sizeof buf) {
        cli_error(c, "--ctx: list too long");
        return false;
    }
    snprintf(buf, sizeof buf, "%s", list);
    for (char *save = NULL, *tok = strtok_r(buf, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        long v;
        if (*n == KV_MAX_CTX) {
            cli_error(c, "--ctx: at most %d sizes", KV_MAX_CTX);
            return false;
        }
        if (!cli_int(c, "--ctx", tok, 1, INT32_MAX / 2, &v)) {
            return false;
        }
        ctx[(*n)++] = (uint32_t)v;
    }
    if (*n == 0) {
        cli_error(c, "--ctx: no sizes given");
        return false;
    }
    return true;
}

static void fmt_bytes(char *out, size_t cap, double b) {
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (b >= 1024.0 && u < 4) {
        b /= 1024.0;
        u++;
    }
    if (u == 0) {
        snprintf(out, cap, "%.0f B", b);
    } else {
        snprintf(out, cap, "%.2f %s", b, units[u]);
    }
}

/* Whether llama.cpp rotates this model's cache for a quantized type, as one line. */
static void rotation_line(const llamac_model_info *mi, char *out, size_t cap) {
    if (mi->head_dim_k % 64 == 0 && mi->head_dim_v % 64 == 0) {
        snprintf(out, cap,
                 "rotation: active for quantized types (head size %d is a multiple of 64); F16/BF16/F32 are never "
                 "rotated",
                 mi->head_dim_k);
    } else if (mi->head_dim_k % 64 == 0 || mi->head_dim_v % 64 == 0) {
        snprintf(out, cap, "rotation: active only for the %s cache (head sizes %d/%d)",
                 mi->head_dim_k % 64 == 0 ? "K" : "V", mi->head_dim_k, mi->head_dim_v);
    } else {
        snprintf(out, cap,
                 "rotation: inactive for every type: head size %d is not a multiple of 64 (llama.cpp rotates "
                 "only such heads)",
                 mi->head_dim_k);
    }
}

/* The memory table; also fills `json` (an array) when it is not NULL. */
static bool memory_table(const struct cli_common *c, llamac_model *model, const struct kv_config *cfg, size_t n_cfg,
                         const uint32_t *ctxs, size_t n_ctx, json_t *json) {
    llamac_model_info mi;
    llamac_model_get_info(model, &mi);
    char rot[200];
    rotation_line(&mi, rot, sizeof rot);
    printf("KV cache of %s (%s): %d layers, %d KV heads, head size %d (K) / %d (V); %u sequence%s%s\n", c->model_path,
           mi.architecture, mi.n_layer, mi.n_head_kv, mi.head_dim_k, mi.head_dim_v, c->ctx.n_seq_max,
           c->ctx.n_seq_max == 1 ? "" : "s", c->ctx.kv_unified ? ", unified" : "");
    printf("%s\n\n", rot);

    /* F16 at each size: the reference for saving and ratio */
    uint64_t f16_total[KV_MAX_CTX];
    for (size_t j = 0; j < n_ctx; j++) {
        llamac_ctx_params p = c->ctx;
        p.n_ctx = ctxs[j];
        p.type_k = p.type_v = LLAMAC_KV_F16;
        llamac_kv_memory m;
        if (llamac_kv_memory_compute(model, &p, &m) != LLAMAC_OK) {
            cli_lib_error(c, NULL);
            return false;
        }
        f16_total[j] = m.total_bytes;
    }
    printf("%-18s %9s %9s %10s", "type (K/V)", "K B/elem", "V B/elem", "per token");
    for (size_t j = 0; j < n_ctx; j++) {
        char h[32];
        snprintf(h, sizeof h, "ctx %u", ctxs[j]);
        printf(" %12s", h);
    }
    printf(" %8s %6s\n", "saving", "ratio");
    char notes[KV_MAX_CONFIGS][200];
    size_t n_notes = 0;
    for (size_t i = 0; i < n_cfg; i++) {
        json_t *row = json ? json_object() : NULL;
        json_t *sizes = json ? json_array() : NULL;
        llamac_kv_memory m = { 0 };
        double ratio = 0;
        for (size_t j = 0; j < n_ctx; j++) {
            llamac_ctx_params p = c->ctx;
            p.n_ctx = ctxs[j];
            p.type_k = cfg[i].k;
            p.type_v = cfg[i].v;
            if (llamac_kv_memory_compute(model, &p, &m) != LLAMAC_OK) {
                /* this type cannot hold the model's rows at all: say so and go on with the others */
                printf("%-18s %s\n", cfg[i].label, llamac_last_error());
                if (row) {
                    json_object_set_new(row, "type_k", json_string(llamac_kv_type_name(cfg[i].k)));
                    json_object_set_new(row, "type_v", json_string(llamac_kv_type_name(cfg[i].v)));
                    json_object_set_new(row, "usable", json_false());
                    json_object_set_new(row, "why", json_string(llamac_last_error()));
                    json_array_append_new(json, row);
                    row = NULL;
                }
                json_decref(sizes);
                sizes = NULL;
                break;
            }
            if (j == 0) {
                char tok[32];
                fmt_bytes(tok, sizeof tok, (double)m.bytes_per_token);
                printf("%-18s %9.4f %9.4f %10s", cfg[i].label, m.k_bytes_per_element, m.v_bytes_per_element, tok);
                ratio = (double)f16_total[0] / (double)m.total_bytes;
            }
            char sz[32];
            fmt_bytes(sz, sizeof sz, (double)m.total_bytes);
            printf(" %12s", sz);
            if (sizes) {
                json_array_append_new(sizes, json_pack("{s:I,s:I,s:I,s:I}", "n_ctx", (json_int_t)m.n_ctx, "bytes",
                                                       (json_int_t)m.total_bytes, "k_bytes", (json_int_t)m.k_bytes,
                                                       "v_bytes", (json_int_t)m.v_bytes));
            }
        }
        if (ratio == 0) {
            continue; /* the row was printed as an error */
        }
        char saving[16];
        snprintf(saving, sizeof saving, "%.1f%%", 100.0 * (1.0 - 1.0 / ratio));
        printf(" %8s %5.2fx%s\n", saving, ratio, m.usable ? "" : " *");
        if (!m.usable) {
            snprintf(notes[n_notes++], sizeof notes[0], "%s: %s", cfg[i].label, m.why);
        }
        if (row) {
            json_object_set_new(row, "type_k", json_string(llamac_kv_type_name(cfg[i].k)));
            json_object_set_new(row, "type_v", json_string(llamac_kv_type_name(cfg[i].v)));
            json_object_set_new(row, "k_bytes_per_element", json_real(m.k_bytes_per_element));
            json_object_set_new(row, "v_bytes_per_element", json_real(m.v_bytes_per_element));
            json_object_set_new(row, "bytes_per_token", json_integer((json_int_t)m.bytes_per_token));
            json_object_set_new(row, "sizes", sizes);
            json_object_set_new(row, "ratio_vs_f16", json_real(ratio));
            json_object_set_new(row, "usable", json_boolean(m.usable));
            json_object_set_new(row, "why", json_string(m.why));
            json_array_append_new(json, row);
        }
    }
    printf("\nsaving and ratio are against an F16 cache of the same size. Sizes are what llama.cpp allocates for\n"
           "the KV cache alone (weights and compute buffers come on top).\n");
    for (size_t i = 0; i < n_notes; i++) {
        printf("* cannot be created: %s\n", notes[i]);
    }
    return true;
}

/* A JSON string of generated text, which may hold bytes that are not UTF-8: those become U+FFFD. */
static json_t *json_text(const char *s) {
    size_t len = strlen(s);
    if (llamac_utf8_valid(s, len, NULL)) {
        return json_stringn(s, len);
    }
    llamac_utf8_stream *u = NULL;
    const char *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    json_t *out = NULL;
    if (llamac_utf8_stream_new(&u) == LLAMAC_OK && llamac_utf8_stream_push(u, s, len, &a, &na) == LLAMAC_OK) {
        char *joined = malloc(na + 16);
        if (joined) {
            memcpy(joined, a, na);
            if (llamac_utf8_stream_flush(u, &b, &nb) == LLAMAC_OK && nb <= 16) {
                memcpy(joined + na, b, nb);
                out = json_stringn(joined, na + nb);
            }
            free(joined);
        }
    }
    llamac_utf8_stream_free(u);
    return out ? out : json_string("");
}

static json_t *quality_json(const struct kv_quality *q, size_t n, size_t n_scored, double base_ppl,
                            const char *base_text, const struct kv_quality_opts *o) {
    json_t *rows = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *r = json_object();
        json_object_set_new(r, "type_k", json_string(llamac_kv_type_name(q[i].config->k)));
        json_object_set_new(r, "type_v", json_string(llamac_kv_type_name(q[i].config->v)));
        json_object_set_new(r, "rotation", json_string(q[i].rotation ? "on" : "off"));
        json_object_set_new(r, "rotated", json_boolean(q[i].rotated));
        if (q[i].skipped) {
            json_object_set_new(r, "skipped", json_string(q[i].why));
        } else {
            json_object_set_new(r, "ppl", json_real(q[i].ppl));
            json_object_set_new(r, "mean_kld", json_real(q[i].kld));
            json_object_set_new(r, "max_kld", json_real(q[i].kld_max));
            json_object_set_new(r, "same_top", json_real(q[i].same_top));
            json_object_set_new(r, "diverge_char",
                                q[i].diverge_char < 0 ? json_null() : json_integer(q[i].diverge_char));
            json_object_set_new(r, "diverge_token",
                                q[i].diverge_token < 0 ? json_null() : json_integer(q[i].diverge_token));
            json_object_set_new(r, "text", json_text(q[i].text ? q[i].text : ""));
            if (!q[i].rotated && q[i].why[0]) {
                json_object_set_new(r, "rotation_inactive", json_string(q[i].why));
            }
        }
        json_array_append_new(rows, r);
    }
    json_t *doc = json_object();
    json_object_set_new(doc, "text_file", json_text(o->text_path));
    json_object_set_new(doc, "chunk", json_integer(o->chunk));
    json_object_set_new(doc, "scored_tokens", json_integer((json_int_t)n_scored));
    json_object_set_new(doc, "f16_ppl", json_real(base_ppl));
    json_object_set_new(doc, "f16_text", json_text(base_text ? base_text : ""));
    json_object_set_new(doc, "prompt", json_text(o->prompt));
    json_object_set_new(doc, "n_predict", json_integer(o->n_predict));
    json_object_set_new(doc, "results", rows);
    return doc;
}

static bool write_json(const struct cli_common *c, const char *path, json_t *doc) {
    size_t flags = JSON_INDENT(2) | JSON_REAL_PRECISION(10);
    if (strcmp(path, "-") == 0) {
        if (json_dumpf(doc, stdout, flags) != 0) {
            cli_error(c, "cannot write JSON to stdout");
            return false;
        }
        putchar('\n');
        return true;
    }
    if (json_dump_file(doc, path, flags) != 0) {
        cli_error(c, "cannot write '%s'", path);
        return false;
    }
    return true;
}

static int kv(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "kv");
    c.ctx.n_ctx = 0;
    struct kv_opts o = { .types = "f16,q8_0,q5_1,q5_0,q4_1,q4_0,iq4_nl",
                         .ctx_list = "2048,32768",
                         .q = { NULL, "Once upon a time", 64, 512, 0 } };
    struct cli_targets t = { .common = &c, .command = &o };
    struct cli_parser p;
    int status = cli_parse(&p, &cli_cmd_kv, &t, argc, argv);
    if (status >= 0) {
        return status;
    }
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac kv --help)", p.pos[0]);
        return EXIT_USAGE;
    }
    const char *types = o.types, *ctx_list = o.ctx_list, *json_path = o.json_path, *plot_path = o.plot_path;
    struct kv_quality_opts qo = o.q;
    struct kv_config cfg[KV_MAX_CONFIGS];
    size_t n_cfg = 0, n_ctx = 0;
    uint32_t ctxs[KV_MAX_CTX];
    if (!parse_types(&c, types, cfg, &n_cfg) || !parse_ctx_list(&c, ctx_list, ctxs, &n_ctx)) {
        return EXIT_USAGE;
    }
    if (plot_path && !qo.text_path) {
        cli_error(&c, "--plot draws the --quality results; give --quality FILE");
        return EXIT_USAGE;
    }
    bool plot_png = plot_path && has_suffix(plot_path, ".png");
    if (plot_path && !plot_png && !has_suffix(plot_path, ".svg")) {
        cli_error(&c, "--plot writes SVG or PNG, chosen by the extension; give FILE.svg or FILE.png, not '%s'",
                  plot_path);
        return EXIT_USAGE;
    }
    if (qo.text_path && c.ctx.n_ctx != 0) {
        qo.chunk = c.ctx.n_ctx;
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    llamac_model *model = cli_load_model(&c, false);
    if (!model) {
        cli_common_close(&c);
        return EXIT_FAILURE_RUN;
    }
    c.model_path = cli_model_path(&c); /* where cli_load_model found it */
    cli_prepare_context(&c, model, &c.ctx);
    int rc = EXIT_FAILURE_RUN;
    json_t *doc = json_object();
    json_t *mem = json_array();
    struct kv_quality *q = NULL;
    char *base_text = NULL;
    size_t n_q = 0;
    if (!memory_table(&c, model, cfg, n_cfg, ctxs, n_ctx, json_path ? mem : NULL)) {
        json_decref(mem);
        goto done;
    }
    json_object_set_new(doc, "model", json_text(c.model_path));
    json_object_set_new(doc, "memory", mem);
    if (qo.text_path) {
        n_q = 2 * n_cfg;
        q = calloc(n_q, sizeof *q);
        size_t n_scored = 0;
        double base_ppl = 0;
        if (!q) {
            cli_error(&c, "out of memory");
            goto done;
        }
        printf("\n");
        if (!kv_quality_run(&c, model, cfg, n_cfg, &qo, q, &n_scored, &base_ppl, &base_text)) {
            goto done;
        }
        json_object_set_new(doc, "quality", quality_json(q, n_q, n_scored, base_ppl, base_text, &qo));
        if (plot_path) {
            char title[512];
            snprintf(title, sizeof title, "KL divergence from an F16 KV cache: %s on %s", c.model_path, qo.text_path);
            if (!(plot_png ? kv_plot_png : kv_plot_svg)(&c, plot_path, title, q, n_q)) {
                goto done;
            }
        }
    }
    if (json_path && !write_json(&c, json_path, doc)) {
        goto done;
    }
    rc = EXIT_OK;
done:
    for (size_t i = 0; i < n_q; i++) {
        free(q[i].text);
    }
    free(q);
    free(base_text);
    json_decref(doc);
    llamac_model_free(model);
    cli_common_close(&c);
    return rc;
}
