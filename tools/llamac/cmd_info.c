/*
 * cmd_info.c - `llamac info`: what a GGUF file holds, from its metadata alone.
 *
 * Reads only the metadata and tensor table (llamac_gguf_open), so it answers at once even for a 100 GB model, and
 * a malformed file gets a precise message (the field and its byte offset) instead of a crash. The text form
 * summarises and lists every metadata key with long values shortened; --json prints everything in full, for
 * scripts; --tensors adds the tensor table.
 */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct info_opts {
    bool json;
    bool tensors;
};

static const struct cli_opt info_rows[] = {
    { .names = { "--json" },
      .set = cli_set_true,
      .offset = offsetof(struct info_opts, json),
      .help = "everything as one JSON object (metadata values in full)" },
    { .names = { "--tensors" },
      .set = cli_set_true,
      .offset = offsetof(struct info_opts, tensors),
      .help = "the tensor table as well" },
};
static const struct cli_group info_group = CLI_GROUP("Output", CLI_TARGET_COMMAND, info_rows);

static const struct cli_opt file_rows[] = {
    { .names = { "-m", "--model" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct cli_common, model_path),
      .help = "the GGUF file (also accepted as the argument)" },
};
static const struct cli_group file_group = CLI_GROUP("File", CLI_TARGET_COMMON, file_rows);

static const struct cli_group *const info_groups[] = { &info_group, &file_group, &cli_group_log, NULL };

static int info(int argc, char **argv);

const struct cli_command cli_cmd_info = {
    .name = "info",
    .summary = "what a GGUF file holds: shapes, tokenizer, metadata, tensors (reads metadata only)",
    .synopsis = "MODEL.gguf [--json] [--tensors]",
    .about = "Architecture, parameters, sizes, file type, shapes, tokenizer, chat template and every metadata key of "
             "a GGUF file (or of a split model, given its first shard), read from the metadata only.",
    .groups = info_groups,
    .run = info,
};

/* Length of the valid UTF-8 sequence at s (at most n bytes), or 0 when it is not valid. */
static size_t utf8_seq(const unsigned char *s, size_t n) {
    unsigned char c = s[0];
    size_t len = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (len == 0 || len > n || (len == 2 && c < 0xC2) || (len == 4 && c > 0xF4)) {
        return 0;
    }
    for (size_t i = 1; i < len; i++) {
        if ((s[i] & 0xC0) != 0x80) {
            return 0;
        }
    }
    if ((len == 3 && c == 0xE0 && s[1] < 0xA0) || (len == 3 && c == 0xED && s[1] >= 0xA0) ||
        (len == 4 && c == 0xF0 && s[1] < 0x90) || (len == 4 && c == 0xF4 && s[1] >= 0x90)) {
        return 0; /* overlong, surrogate, or past U+10FFFF */
    }
    return len;
}

/* A JSON string; bytes that are not valid UTF-8 become U+FFFD so the output is always valid JSON. */
static void json_str(const char *s, size_t n) {
    const unsigned char *p = (const unsigned char *)s;
    putchar('"');
    for (size_t i = 0; i < n;) {
        unsigned char c = p[i];
        if (c == '"' || c == '\\') {
            printf("\\%c", c);
        } else if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c == '\r') {
            fputs("\\r", stdout);
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\u%04x", c);
        } else if (c < 0x80) {
            putchar(c);
        } else {
            size_t k = utf8_seq(p + i, n - i);
            if (k == 0) {
                fputs("\\ufffd", stdout);
                i++;
                continue;
            }
            fwrite(p + i, 1, k, stdout);
            i += k;
            continue;
        }
        i++;
    }
    putchar('"');
}

static void json_cstr(const char *s) {
    if (s) {
        json_str(s, strlen(s));
    } else {
        fputs("null", stdout);
    }
}

/* Text form of a string: escapes, and at most `max` bytes shown. */
static void text_str(const char *s, size_t n, size_t max, bool quoted) {
    if (quoted) {
        putchar('"');
    }
    size_t shown = n < max ? n : max;
    for (size_t i = 0; i < shown; i++) {
        unsigned char c = (unsigned char)s[i];
        if (c == '\n') {
            fputs("\\n", stdout);
        } else if (c == '\t') {
            fputs("\\t", stdout);
        } else if (c == '"' && quoted) {
            fputs("\\\"", stdout);
        } else if (c < 0x20 || c == 0x7f) {
            printf("\\x%02x", c);
        } else {
            putchar(c);
        }
    }
    if (quoted) {
        putchar('"');
    }
    if (shown < n) {
        printf("... (%zu bytes)", n);
    }
}

static void print_number(const llamac_gguf_kv *kv, bool json) {
    switch (kv->type) {
    case LLAMAC_GGUF_UINT8:
    case LLAMAC_GGUF_UINT16:
    case LLAMAC_GGUF_UINT32:
    case LLAMAC_GGUF_UINT64: printf("%llu", (unsigned long long)kv->uint_value); break;
    case LLAMAC_GGUF_INT8:
    case LLAMAC_GGUF_INT16:
    case LLAMAC_GGUF_INT32:
    case LLAMAC_GGUF_INT64: printf("%lld", (long long)kv->int_value); break;
    case LLAMAC_GGUF_BOOL: fputs(kv->int_value ? "true" : "false", stdout); break;
    case LLAMAC_GGUF_FLOAT32:
    case LLAMAC_GGUF_FLOAT64:
        if (!isfinite(kv->float_value)) {
            fputs(json ? "null" : (isnan(kv->float_value) ? "nan" : kv->float_value > 0 ? "inf" : "-inf"), stdout);
        } else {
            printf(!json ? "%g" : kv->type == LLAMAC_GGUF_FLOAT32 ? "%.9g" : "%.17g", kv->float_value);
        }
        break;
    default: fputs(json ? "null" : "?", stdout); break;
    }
}

/* One value: a single one, or an array (all of it in JSON, the first elements in text). */
static void print_value(const llamac_gguf *g, size_t i, const llamac_gguf_kv *kv, bool json) {
    if (kv->type == LLAMAC_GGUF_STRING) {
        if (json) {
            json_str(kv->str_value, kv->str_len);
        } else {
            text_str(kv->str_value, kv->str_len, 100, false);
        }
        return;
    }
    if (kv->type != LLAMAC_GGUF_ARRAY) {
        print_number(kv, json);
        return;
    }
    uint64_t shown = json ? kv->n : (kv->n < 8 ? kv->n : 8);
    putchar('[');
    for (uint64_t j = 0; j < shown; j++) {
        llamac_gguf_kv e;
        if (llamac_gguf_arr_at(g, i, j, &e) != LLAMAC_OK) {
            break;
        }
        if (j) {
            fputs(", ", stdout);
        }
        if (e.type == LLAMAC_GGUF_STRING) {
            if (json) {
                json_str(e.str_value, e.str_len);
            } else {
                text_str(e.str_value, e.str_len, 40, true);
            }
        } else {
            print_number(&e, json);
        }
    }
    if (shown < kv->n) {
        printf(", ... (%llu more)", (unsigned long long)(kv->n - shown));
    }
    putchar(']');
}

static double mib(uint64_t b) {
    return (double)b / 1024.0 / 1024.0;
}

static void print_count(uint64_t n) {
    if (n >= 1000000000ull) {
        printf("%.2f B", (double)n / 1e9);
    } else if (n >= 1000000ull) {
        printf("%.2f M", (double)n / 1e6);
    } else if (n >= 1000ull) {
        printf("%.2f K", (double)n / 1e3);
    } else {
        printf("%llu", (unsigned long long)n);
    }
}

static void shape_text(const llamac_gguf_tensor *t, char *buf, size_t cap) {
    size_t n = 0;
    for (uint32_t d = 0; d < t->n_dims && n < cap; d++) {
        int w = snprintf(buf + n, cap - n, "%s%lld", d ? " x " : "", (long long)t->ne[d]);
        n += w > 0 ? (size_t)w : 0;
    }
}

static void print_text(const char *path, const llamac_gguf *g, const llamac_gguf_info *in, bool tensors) {
    printf("%-14s %s\n", "file", path);
    printf("%-14s GGUF v%u, %.2f MiB in %u file%s, metadata %llu bytes, data aligned to %u\n", "format", in->version,
           mib(in->file_size), in->n_shards, in->n_shards == 1 ? "" : "s", (unsigned long long)in->metadata_size,
           in->alignment);
    if (in->split_no > 0) {
        printf("%-14s shard %u of a split model (give the first shard for all of it)\n", "split", in->split_no + 1);
    }
    printf("%-14s %s\n", "architecture", in->architecture ? in->architecture : "(none)");
    if (in->name) {
        printf("%-14s %s\n", "name", in->name);
    }
    printf("%-14s ", "parameters");
    print_count(in->n_params);
    printf(" (%llu), %.2f MiB of tensor data, %zu tensors\n", (unsigned long long)in->n_params, mib(in->tensor_bytes),
           in->n_tensors);
    if (in->file_type >= 0) {
        printf("%-14s %s (%d)\n", "file type", in->file_type_name ? in->file_type_name : "?", in->file_type);
    }
    if (in->n_ctx_train) {
        printf("%-14s %u\n", "context", in->n_ctx_train);
    }
    if (in->n_layer) {
        printf("%-14s %u\n", "layers", in->n_layer);
    }
    if (in->n_embd) {
        printf("%-14s %u\n", "embedding", in->n_embd);
    }
    if (in->n_ff) {
        printf("%-14s %u\n", "feed-forward", in->n_ff);
    }
    if (in->n_head) {
        printf("%-14s %u, kv heads %u, head size %u (k) / %u (v)\n", "heads", in->n_head, in->n_head_kv, in->head_dim_k,
               in->head_dim_v);
    }
    if (in->n_expert) {
        printf("%-14s %u\n", "experts", in->n_expert);
    }
    if (in->tokenizer || in->n_vocab) {
        printf("%-14s %s, %u tokens\n", "tokenizer", in->tokenizer ? in->tokenizer : "?", in->n_vocab);
    }
    if (in->chat_template) {
        printf("%-14s %zu bytes: ", "chat template", strlen(in->chat_template));
        text_str(in->chat_template, strlen(in->chat_template), 60, false);
        putchar('\n');
    } else {
        printf("%-14s (none)\n", "chat template");
    }
    size_t n = llamac_gguf_kv_count(g);
    printf("\nmetadata (%zu keys):\n", n);
    for (size_t i = 0; i < n; i++) {
        llamac_gguf_kv kv;
        if (llamac_gguf_kv_at(g, i, &kv) != LLAMAC_OK) {
            continue;
        }
        char type[32];
        if (kv.type == LLAMAC_GGUF_ARRAY) {
            snprintf(type, sizeof type, "arr[%s,%llu]", llamac_gguf_type_name(kv.elem_type), (unsigned long long)kv.n);
        } else {
            snprintf(type, sizeof type, "%s", llamac_gguf_type_name(kv.type));
        }
        printf("  %-40s %-16s ", kv.key, type);
        print_value(g, i, &kv, false);
        putchar('\n');
    }
    if (!tensors) {
        return;
    }
    printf("\ntensors (%zu):\n", in->n_tensors);
    printf("  %5s  %-40s %-8s %-24s %12s %14s%s\n", "#", "name", "type", "shape", "bytes", "offset",
           in->n_shards > 1 ? "  shard" : "");
    for (size_t i = 0; i < in->n_tensors; i++) {
        llamac_gguf_tensor t;
        if (llamac_gguf_tensor_at(g, i, &t) != LLAMAC_OK) {
            continue;
        }
        char shape[96];
        shape_text(&t, shape, sizeof shape);
        printf("  %5zu  %-40s %-8s %-24s %12llu %14llu", i, t.name, t.type_name, shape, (unsigned long long)t.size,
               (unsigned long long)t.offset);
        if (in->n_shards > 1) {
            printf("  %5u", t.shard + 1);
        }
        putchar('\n');
    }
}

static void json_u(const char *key, uint64_t v, bool comma) {
    printf("  \"%s\": %llu%s\n", key, (unsigned long long)v, comma ? "," : "");
}

static void json_s(const char *key, const char *v) {
    printf("  \"%s\": ", key);
    json_cstr(v);
    printf(",\n");
}

static void print_json(const char *path, const llamac_gguf *g, const llamac_gguf_info *in, bool tensors) {
    printf("{\n");
    json_s("file", path);
    json_u("gguf_version", in->version, true);
    json_u("n_shards", in->n_shards, true);
    json_u("split_no", in->split_no, true);
    json_u("file_size", in->file_size, true);
    json_u("metadata_size", in->metadata_size, true);
    json_u("alignment", in->alignment, true);
    json_s("architecture", in->architecture);
    json_s("name", in->name);
    json_u("n_params", in->n_params, true);
    json_u("tensor_bytes", in->tensor_bytes, true);
    json_u("n_tensors", in->n_tensors, true);
    printf("  \"file_type\": %d,\n", in->file_type);
    json_s("file_type_name", in->file_type_name);
    json_u("context_length", in->n_ctx_train, true);
    json_u("n_layer", in->n_layer, true);
    json_u("n_embd", in->n_embd, true);
    json_u("n_ff", in->n_ff, true);
    json_u("n_head", in->n_head, true);
    json_u("n_head_kv", in->n_head_kv, true);
    json_u("head_dim_k", in->head_dim_k, true);
    json_u("head_dim_v", in->head_dim_v, true);
    json_u("n_expert", in->n_expert, true);
    json_s("tokenizer", in->tokenizer);
    json_u("n_vocab", in->n_vocab, true);
    json_s("chat_template", in->chat_template);
    printf("  \"metadata\": {");
    size_t n = llamac_gguf_kv_count(g);
    for (size_t i = 0; i < n; i++) {
        llamac_gguf_kv kv;
        if (llamac_gguf_kv_at(g, i, &kv) != LLAMAC_OK) {
            continue;
        }
        printf("%s\n    ", i ? "," : "");
        json_cstr(kv.key);
        printf(": ");
        print_value(g, i, &kv, true);
    }
    printf("\n  }%s\n", tensors ? "," : "");
    if (tensors) {
        printf("  \"tensors\": [");
        for (size_t i = 0; i < in->n_tensors; i++) {
            llamac_gguf_tensor t;
            if (llamac_gguf_tensor_at(g, i, &t) != LLAMAC_OK) {
                continue;
            }
            printf("%s\n    {\"name\": ", i ? "," : "");
            json_cstr(t.name);
            printf(", \"type\": \"%s\", \"shape\": [", t.type_name);
            for (uint32_t d = 0; d < t.n_dims; d++) {
                printf("%s%lld", d ? ", " : "", (long long)t.ne[d]);
            }
            printf("], \"size\": %llu, \"offset\": %llu, \"shard\": %u}", (unsigned long long)t.size,
                   (unsigned long long)t.offset, t.shard);
        }
        printf("\n  ]\n");
    }
    printf("}\n");
}

static int info(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "info");
    struct info_opts o = { 0 };
    struct cli_targets t = { .common = &c, .command = &o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_info, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "more than one MODEL given");
        return EXIT_USAGE;
    }
    const char *path = c.model_path;
    bool json = o.json, tensors = o.tensors;
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    if (!path) {
        cli_error(&c, "no model given: llamac info MODEL.gguf");
        return EXIT_USAGE;
    }
    llamac_gguf *g = NULL;
    if (llamac_gguf_open(path, &g) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        return EXIT_FAILURE_RUN;
    }
    llamac_gguf_info info;
    llamac_gguf_get_info(g, &info);
    if (json) {
        print_json(path, g, &info, tensors);
    } else {
        print_text(path, g, &info, tensors);
    }
    llamac_gguf_free(g);
    if (fflush(stdout) != 0) {
        cli_error(&c, "cannot write to standard output");
        return EXIT_FAILURE_RUN;
    }
    return EXIT_OK;
}
