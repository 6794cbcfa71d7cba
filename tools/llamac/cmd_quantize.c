/*
 * cmd_quantize.c - `llamac quantize`: a model to a smaller type, byte-for-byte what llama-quantize writes.
 *
 * A thin shell over llamac_quantize with llama-quantize's flag names, so a command line written for one works for
 * the other. The output name, when omitted, is derived from the input ("model-f16.gguf" -> "model-Q4_K_M.gguf",
 * beside it). stdout gets the result (sizes before and after and the time, or the --dry-run table); stderr the
 * progress bar and errors. Ctrl-C cancels cleanly: nothing is written and the exit status is 130.
 */
#include "cli.h"

#include <ctype.h>
#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_TENSOR_TYPES 256
#define MAX_PRUNE 4096

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static int list_types(void) {
    printf("%-10s %4s  %s\n", "TYPE", "id", "llama.cpp's name");
    for (size_t i = 0; i < llamac_ftype_count(); i++) {
        llamac_ftype f;
        llamac_ftype_at(i, &f);
        if (f == LLAMAC_FTYPE_COPY) {
            printf("%-10s %4s  %s\n", "COPY", "", "copy every tensor unchanged");
            continue;
        }
        printf("%-10s %4d  %s\n", llamac_ftype_name(f), (int)f, llamac_ftype_describe(f));
    }
    printf("\naliases: Q3_K = Q3_K_M, Q4_K = Q4_K_M, Q5_K = Q5_K_M; a type may also be given by its id\n");
    return EXIT_OK;
}

struct quant_opts {
    llamac_quantize_params p;
    llamac_tensor_type_override types[MAX_TENSOR_TYPES];
    char *patterns[MAX_TENSOR_TYPES]; /* owned copies, lowercased */
    size_t n_types;
    int32_t prune[MAX_PRUNE];
    size_t n_prune;
    bool list;
};

/* PATTERN=TYPE, split at the first '=' and the pattern lowercased, as llama-quantize reads it. */
static bool add_tensor_type(const struct cli_common *c, struct quant_opts *o, const char *s) {
    const char *eq = strchr(s, '=');
    if (!eq || eq == s || !eq[1]) {
        cli_error(c, "invalid --tensor-type '%s' (expected PATTERN=TYPE, e.g. output=f16)", s);
        return false;
    }
    if (o->n_types >= MAX_TENSOR_TYPES) {
        cli_error(c, "too many --tensor-type entries (at most %d)", MAX_TENSOR_TYPES);
        return false;
    }
    llamac_tensor_type t;
    if (llamac_tensor_type_from_name(eq + 1, &t) != LLAMAC_OK) {
        cli_error(c, "--tensor-type '%s': %s", s, llamac_last_error());
        return false;
    }
    size_t len = (size_t)(eq - s);
    char *pat = malloc(len + 1);
    if (!pat) {
        cli_error(c, "out of memory");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        pat[i] = (char)tolower((unsigned char)s[i]);
    }
    pat[len] = '\0';
    o->patterns[o->n_types] = pat;
    o->types[o->n_types].pattern = pat;
    o->types[o->n_types].type = t;
    o->n_types++;
    return true;
}

static bool add_tensor_type_file(const struct cli_common *c, struct quant_opts *o, const char *path) {
    size_t len = 0;
    char *text = cli_read_all(c, path, &len);
    if (!text) {
        return false;
    }
    bool ok = true;
    for (char *tok = strtok(text, " \t\r\n"); tok && ok; tok = strtok(NULL, " \t\r\n")) {
        ok = add_tensor_type(c, o, tok);
    }
    free(text);
    return ok;
}

/* "28-31", "0,5,7-9": layer numbers and inclusive ranges. */
static bool parse_prune(const struct cli_common *c, struct quant_opts *o, const char *s) {
    const char *p = s;
    while (*p) {
        char *end = NULL;
        errno = 0;
        long a = strtol(p, &end, 10), b;
        if (end == p || errno || a < 0 || a > INT32_MAX || (*p < '0' || *p > '9')) {
            goto bad;
        }
        b = a;
        p = end;
        if (*p == '-') {
            p++;
            if (*p < '0' || *p > '9') {
                goto bad;
            }
            b = strtol(p, &end, 10);
            if (errno || b < a || b > INT32_MAX) {
                goto bad;
            }
            p = end;
        }
        if ((size_t)(b - a) + o->n_prune >= MAX_PRUNE) {
            cli_error(c, "--prune-layers '%s' names too many layers (at most %d)", s, MAX_PRUNE);
            return false;
        }
        for (long l = a; l <= b; l++) {
            o->prune[o->n_prune++] = (int32_t)l;
        }
        if (*p == ',') {
            p++;
            if (!*p) {
                goto bad;
            }
        } else if (*p) {
            goto bad;
        }
    }
    if (o->n_prune == 0) {
        goto bad;
    }
    return true;
bad:
    cli_error(c, "invalid --prune-layers '%s' (expected layer numbers and ranges, e.g. 28-31 or 0,5,7-9)", s);
    return false;
}

static bool parse_type_flag(const struct cli_common *c, const char *opt, const char *v, llamac_tensor_type *out) {
    if (llamac_tensor_type_from_name(v, out) != LLAMAC_OK) {
        cli_error(c, "%s: %s", opt, llamac_last_error());
        return false;
    }
    return true;
}

static bool set_tensor_type(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return add_tensor_type(p->t.common, p->t.command, value);
}

static bool set_tensor_type_file(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return add_tensor_type_file(p->t.common, p->t.command, value);
}

static bool set_prune(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return parse_prune(p->t.common, p->t.command, value);
}

static bool set_type(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return parse_type_flag(p->t.common, p->name, value, field);
}

#define QP(f) offsetof(struct quant_opts, p.f)

/* llama-quantize's flags, in its names. */
static const struct cli_opt quantize_rows[] = {
    { .names = { "--list-types" },
      .set = cli_set_true,
      .offset = offsetof(struct quant_opts, list),
      .help = "the quantization types, then exit" },
    { .names = { "--dry-run" },
      .set = cli_set_true,
      .offset = QP(dry_run),
      .help = "print the size per tensor type and the total; write nothing" },
    { .names = { "--tensor-type" },
      .arg = "PATTERN=TYPE",
      .set = set_tensor_type,
      .help = "tensors whose name matches the regex PATTERN become TYPE (repeatable; e.g. output=f16, "
              "'blk\\..*\\.ffn_down=q6_K'); PATTERN is lowercased" },
    { .names = { "--tensor-type-file" },
      .arg = "FILE",
      .set = set_tensor_type_file,
      .help = "PATTERN=TYPE entries separated by spaces or newlines" },
    { .names = { "--prune-layers" },
      .arg = "LIST",
      .set = set_prune,
      .help = "drop layers and renumber the rest, e.g. 28-31 or 0,5,7-9" },
    { .names = { "--imatrix" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = QP(imatrix),
      .help = "importance matrix from llama-imatrix (GGUF or legacy .dat)" },
    { .names = { "--output-tensor-type" },
      .arg = "TYPE",
      .set = set_type,
      .offset = QP(output_type),
      .help = "type of output.weight (a tensor type such as q8_0, f16)" },
    { .names = { "--token-embedding-type" },
      .arg = "TYPE",
      .set = set_type,
      .offset = QP(token_embedding_type),
      .help = "type of token_embd.weight" },
    { .names = { "--leave-output-tensor" },
      .set = cli_set_false,
      .offset = QP(quantize_output),
      .help = "keep output.weight as it is" },
    { .names = { "--allow-requantize" },
      .set = cli_set_true,
      .offset = QP(allow_requantize),
      .help = "requantize tensors that are already quantized (quality suffers)" },
    { .names = { "--pure" },
      .set = cli_set_true,
      .offset = QP(pure),
      .help = "no mixture: every quantizable tensor gets TYPE's own tensor type" },
    { .names = { "--keep-split" },
      .set = cli_set_true,
      .offset = QP(keep_split),
      .help = "as many output shards as the input (OUT is then a prefix)" },
    { .names = { "-t", "--nthread", "--threads" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = QP(n_threads),
      .min = 0,
      .max = 4096,
      .help = "threads (default: all cores; the output does not depend on it)" },
};
static const struct cli_group quantize_group =
    CLI_GROUP("Quantization (llama-quantize's names)", CLI_TARGET_COMMAND, quantize_rows);

static const struct cli_opt metadata_rows[] = {
    { .names = { "--override-kv" },
      .arg = "KEY=TYPE:VALUE",
      .set = cli_set_override,
      .help = "set metadata in the output (TYPE int, stored as u32, float, stored as f32, bool or str; repeatable)" },
};
static const struct cli_group metadata_group = CLI_GROUP("Metadata", CLI_TARGET_COMMON, metadata_rows);

static const struct cli_group *const quantize_groups[] = { &quantize_group, &metadata_group, &cli_group_log, NULL };

static int quantize(int argc, char **argv);

const struct cli_command cli_cmd_quantize = {
    .name = "quantize",
    .summary = "quantize a model to a smaller type (byte-for-byte llama-quantize's output)",
    .synopsis = "[options] IN.gguf [OUT.gguf] TYPE\n--list-types",
    .about = "Quantizes IN (a GGUF, or the first shard of a split model) to TYPE with llama.cpp's quantizer: the "
             "output is byte-for-byte what llama-quantize writes. OUT defaults to IN's name with TYPE in place of "
             "its type (model-f16.gguf -> model-Q4_K_M.gguf), beside IN. OUT is written to a temporary file and "
             "renamed when complete: a failure, a full disk or Ctrl-C never leaves a partial OUT, and IN is never "
             "written. -q also drops the summary.",
    .groups = quantize_groups,
    .run = quantize,
};

static bool ends_with_ci(const char *s, size_t len, const char *suffix) {
    size_t k = strlen(suffix);
    if (len < k) {
        return false;
    }
    for (size_t i = 0; i < k; i++) {
        if (tolower((unsigned char)s[len - k + i]) != tolower((unsigned char)suffix[i])) {
            return false;
        }
    }
    return true;
}

/* "-00001-of-00003" */
static bool is_shard_suffix(const char *s) {
    for (int i = 0; i < 15; i++) {
        bool digit = (i >= 1 && i <= 5) || i >= 10;
        if (digit ? !isdigit((unsigned char)s[i]) : s[i] != "-00000-of-00000"[i]) {
            return false;
        }
    }
    return true;
}

/* IN's name with TYPE in place of its type: strips ".gguf", a shard suffix "-00001-of-00003" and a trailing type
 * ("-f16", ".Q8_0", "_bf16"), then appends "-TYPE.gguf" (no ".gguf" with --keep-split: a prefix). Caller frees. */
static char *derive_output(const char *in, const char *type, bool keep_split) {
    size_t len = strlen(in);
    if (ends_with_ci(in, len, ".gguf")) {
        len -= 5;
    }
    if (len > 15 && is_shard_suffix(in + len - 15)) {
        len -= 15;
    }
    const char *base = strrchr(in, '/');
    size_t base_at = base ? (size_t)(base - in) + 1 : 0;
    for (size_t i = 0; i < llamac_ftype_count(); i++) {
        llamac_ftype f;
        llamac_ftype_at(i, &f);
        const char *name = llamac_ftype_name(f);
        size_t k = strlen(name);
        if (len > base_at + k + 1 && ends_with_ci(in, len, name) && strchr("-._", in[len - k - 1])) {
            len -= k + 1;
            break;
        }
    }
    size_t cap = len + strlen(type) + 8;
    char *out = malloc(cap);
    if (out) {
        snprintf(out, cap, "%.*s-%s%s", (int)len, in, type, keep_split ? "" : ".gguf");
    }
    return out;
}

static double mib(uint64_t bytes) {
    return (double)bytes / 1024.0 / 1024.0;
}

static int cmp_str(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* The --dry-run table: tensors, bytes before and after, per output tensor type. */
static void print_plan(const char *in, const char *type, const llamac_quantize_report *r) {
    const char *names[64] = { NULL };
    size_t n = 0;
    for (size_t i = 0; i < r->n_tensors; i++) {
        const char *t = llamac_tensor_type_name(r->tensors[i].type_to);
        bool seen = false;
        for (size_t k = 0; k < n; k++) {
            seen = seen || strcmp(names[k], t) == 0;
        }
        if (!seen && n < 64) {
            names[n++] = t;
        }
    }
    qsort(names, n, sizeof *names, cmp_str);
    printf("dry run: %s as %s (nothing written)\n", in, type);
    printf("  %-8s %8s %14s %14s\n", "type", "tensors", "before", "after");
    for (size_t k = 0; k < n; k++) {
        size_t count = 0;
        uint64_t from = 0, to = 0;
        for (size_t i = 0; i < r->n_tensors; i++) {
            if (strcmp(llamac_tensor_type_name(r->tensors[i].type_to), names[k]) == 0) {
                count++;
                from += r->tensors[i].size_from;
                to += r->tensors[i].size_to;
            }
        }
        printf("  %-8s %8zu %10.2f MiB %10.2f MiB\n", names[k], count, mib(from), mib(to));
    }
    printf("  %-8s %8zu %10.2f MiB %10.2f MiB  (%.2f -> %.2f bits per weight)\n", "total", r->n_tensors,
           mib(r->size_from), mib(r->size_to), r->n_params ? (double)r->size_from * 8.0 / (double)r->n_params : 0.0,
           r->n_params ? (double)r->size_to * 8.0 / (double)r->n_params : 0.0);
    if (r->n_fallback) {
        printf("  %zu tensor%s cannot hold the type's blocks and fall back to another type\n", r->n_fallback,
               r->n_fallback == 1 ? "" : "s");
    }
}

static void print_result(const char *in, const char *out, const char *type, const llamac_quantize_report *r) {
    printf("quantized %s to %s as %s\n", in, out, type);
    printf("  before  %10.2f MiB file, %10.2f MiB of tensors, %6.2f bits per weight\n", mib(r->file_size_from),
           mib(r->size_from), r->n_params ? (double)r->size_from * 8.0 / (double)r->n_params : 0.0);
    printf("  after   %10.2f MiB file, %10.2f MiB of tensors, %6.2f bits per weight%s\n", mib(r->file_size_to),
           mib(r->size_to), r->n_params ? (double)r->size_to * 8.0 / (double)r->n_params : 0.0,
           r->n_shards_to > 1 ? " (all shards)" : "");
    printf("  time    %.1f ms, %zu tensors", r->ms, r->n_tensors);
    if (r->n_fallback) {
        printf(", %zu fell back to another type (row size)", r->n_fallback);
    }
    printf("\n");
}

struct progress_relay {
    struct progress bar;
};

static bool on_progress(float fraction, void *user_data) {
    struct progress_relay *r = user_data;
    progress_update(fraction, &r->bar);
    return !interrupted;
}

static int quantize(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "quantize");
    struct quant_opts *o = calloc(1, sizeof *o);
    if (!o) {
        cli_error(&c, "out of memory");
        return EXIT_FAILURE_RUN;
    }
    o->p = llamac_quantize_params_default();
    char *derived = NULL;
    llamac_quantize_report *report = NULL;
    struct cli_targets t = { .common = &c, .command = o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_quantize, &t, argc, argv);
    if (rc >= 0) {
        goto done;
    }
    rc = EXIT_USAGE;
    if (o->list) {
        rc = list_types();
        goto done;
    }
    if (p.n_pos < 2 || p.n_pos > 3) {
        cli_error(&c, "%s: expected IN.gguf [OUT.gguf] TYPE (see llamac quantize --help)",
                  p.n_pos > 3 ? "too many arguments" : "too few arguments");
        goto done;
    }
    const char *in = p.pos[0];
    const char *type_arg = p.pos[p.n_pos - 1];
    const char *out = p.n_pos == 3 ? p.pos[1] : NULL;
    if (llamac_ftype_from_name(type_arg, &o->p.ftype) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    const char *type = llamac_ftype_name(o->p.ftype);
    if (!out && !o->p.dry_run) {
        derived = derive_output(in, type, o->p.keep_split);
        if (!derived) {
            cli_error(&c, "out of memory");
            rc = EXIT_FAILURE_RUN;
            goto done;
        }
        out = derived;
    }
    o->p.tensor_types = o->types;
    o->p.n_tensor_types = o->n_types;
    o->p.prune_layers = o->prune;
    o->p.n_prune_layers = o->n_prune;
    o->p.kv_overrides = c.overrides;
    o->p.n_kv_overrides = c.n_overrides;
    if (!cli_setup_logging(&c)) {
        goto done;
    }

    struct progress_relay relay;
    progress_init(&relay.bar, "quantizing", c.quiet || o->p.dry_run);
    o->p.progress = on_progress;
    o->p.progress_user_data = &relay;
    signal(SIGINT, on_sigint);
    llamac_status st = llamac_quantize(in, o->p.dry_run ? NULL : out, &o->p, &report);
    signal(SIGINT, SIG_DFL);
    progress_done(&relay.bar);
    if (st == LLAMAC_E_CANCELLED && interrupted) {
        cli_error(&c, "interrupted; nothing was written");
        rc = EXIT_INTERRUPTED;
        goto done;
    }
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        rc = EXIT_FAILURE_RUN;
        goto done;
    }
    if (o->p.dry_run) {
        print_plan(in, type, report);
    } else if (!c.quiet) {
        print_result(in, out, type, report);
    }
    rc = EXIT_OK;
    if (fflush(stdout) != 0) {
        cli_error(&c, "cannot write to standard output");
        rc = EXIT_FAILURE_RUN;
    }
done:
    llamac_quantize_report_free(report);
    for (size_t i = 0; i < o->n_types; i++) {
        free(o->patterns[i]);
    }
    free(o);
    free(derived);
    cli_common_close(&c);
    return rc;
}
