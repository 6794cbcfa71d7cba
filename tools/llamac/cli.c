/*
 * cli.c - shared option parsing, model loading and input reading for the subcommands.
 *
 * Each subcommand offers every argument to cli_parse_common first and handles only its own flags, so the shared
 * flags are spelled and checked the same way everywhere.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void cli_common_init(struct cli_common *c, const char *cmd) {
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->model = llamac_model_params_default();
    c->ctx = llamac_ctx_params_default();
}

void cli_error(const struct cli_common *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "llamac %s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

const char *cli_value(const struct cli_common *c, int argc, char **argv, int *i) {
    if (*i + 1 >= argc) {
        cli_error(c, "option %s needs a value", argv[*i]);
        return NULL;
    }
    *i += 1;
    return argv[*i];
}

bool cli_int(const struct cli_common *c, const char *opt, const char *s, long min, long max, long *out) {
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, 10);
    if (errno != 0 || end == s || *end != '\0' || v < min || v > max) {
        cli_error(c, "invalid value '%s' for %s (expected an integer from %ld to %ld)", s, opt, min, max);
        return false;
    }
    *out = v;
    return true;
}

bool cli_float(const struct cli_common *c, const char *opt, const char *s, float *out) {
    char *end = NULL;
    errno = 0;
    float v = strtof(s, &end);
    if (errno != 0 || end == s || *end != '\0' || !isfinite(v)) {
        cli_error(c, "invalid value '%s' for %s (expected a number)", s, opt);
        return false;
    }
    *out = v;
    return true;
}

static bool is(const char *arg, const char *a, const char *b) {
    return strcmp(arg, a) == 0 || (b && strcmp(arg, b) == 0);
}

/* --override-kv KEY=TYPE:VALUE, TYPE one of int, float, bool, str (llama.cpp's spelling). */
static bool parse_override(struct cli_common *c, const char *s) {
    if (c->n_overrides >= sizeof c->overrides / sizeof c->overrides[0]) {
        cli_error(c, "too many --override-kv options (at most 32)");
        return false;
    }
    const char *eq = strchr(s, '=');
    const char *colon = eq ? strchr(eq, ':') : NULL;
    if (!eq || !colon || eq == s) {
        cli_error(c, "invalid --override-kv '%s' (expected KEY=TYPE:VALUE, TYPE int, float, bool or str)", s);
        return false;
    }
    llamac_kv_override *o = &c->overrides[c->n_overrides];
    memset(o, 0, sizeof *o);
    char *key = c->override_keys[c->n_overrides];
    size_t klen = (size_t)(eq - s);
    if (klen >= sizeof c->override_keys[0]) {
        cli_error(c, "--override-kv key is longer than 127 bytes");
        return false;
    }
    memcpy(key, s, klen);
    key[klen] = '\0';
    o->key = key;
    const char *type = eq + 1;
    size_t tlen = (size_t)(colon - type);
    const char *val = colon + 1;
    long iv;
    float fv;
    if (tlen == 3 && strncmp(type, "int", 3) == 0) {
        if (!cli_int(c, "--override-kv", val, LONG_MIN, LONG_MAX, &iv)) {
            return false;
        }
        o->type = LLAMAC_KV_OVERRIDE_INT;
        o->int_value = iv;
    } else if (tlen == 5 && strncmp(type, "float", 5) == 0) {
        if (!cli_float(c, "--override-kv", val, &fv)) {
            return false;
        }
        o->type = LLAMAC_KV_OVERRIDE_FLOAT;
        o->float_value = fv;
    } else if (tlen == 4 && strncmp(type, "bool", 4) == 0) {
        if (strcmp(val, "true") != 0 && strcmp(val, "false") != 0) {
            cli_error(c, "invalid bool '%s' in --override-kv (expected true or false)", val);
            return false;
        }
        o->type = LLAMAC_KV_OVERRIDE_BOOL;
        o->bool_value = strcmp(val, "true") == 0;
    } else if (tlen == 3 && strncmp(type, "str", 3) == 0) {
        o->type = LLAMAC_KV_OVERRIDE_STR;
        o->str_value = val;
    } else {
        cli_error(c, "invalid type in --override-kv '%s' (expected int, float, bool or str)", s);
        return false;
    }
    c->n_overrides++;
    c->model.kv_overrides = c->overrides;
    c->model.n_kv_overrides = c->n_overrides;
    return true;
}

bool cli_parse_override(struct cli_common *c, const char *s) {
    return parse_override(c, s);
}

enum cli_parse cli_parse_common(struct cli_common *c, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char *v;
    long n;
#define VALUE()                                                                                                        \
    do {                                                                                                               \
        if (!(v = cli_value(c, argc, argv, i))) {                                                                      \
            return CLI_ERROR;                                                                                          \
        }                                                                                                              \
    } while (0)
    if (is(a, "-m", "--model")) {
        VALUE();
        c->model_path = v;
    } else if (is(a, "-hf", "-hfr") || is(a, "--hf-repo", NULL)) {
        VALUE();
        c->hf_repo = v;
    } else if (is(a, "-hff", "--hf-file")) {
        VALUE();
        c->hf_file = v;
    } else if (is(a, "-hft", "--hf-token")) {
        VALUE();
        c->hf_token = v;
    } else if (is(a, "--offline", NULL)) {
        c->offline = true;
    } else if (is(a, "-c", "--ctx-size")) {
        VALUE();
        if (!cli_int(c, a, v, 0, INT32_MAX / 2, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_ctx = (uint32_t)n;
    } else if (is(a, "-b", "--batch-size")) {
        VALUE();
        if (!cli_int(c, a, v, 1, INT32_MAX / 2, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_batch = (uint32_t)n;
    } else if (is(a, "-ub", "--ubatch-size")) {
        VALUE();
        if (!cli_int(c, a, v, 1, INT32_MAX / 2, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_ubatch = (uint32_t)n;
    } else if (is(a, "-t", "--threads")) {
        VALUE();
        if (!cli_int(c, a, v, -1, 1024, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_threads = n < 0 ? 0 : (int32_t)n;
    } else if (is(a, "-tb", "--threads-batch")) {
        VALUE();
        if (!cli_int(c, a, v, -1, 1024, &n)) {
            return CLI_ERROR;
        }
        c->ctx.n_threads_batch = n < 0 ? 0 : (int32_t)n;
    } else if (is(a, "-ngl", "--n-gpu-layers") || is(a, "--gpu-layers", NULL)) {
        VALUE();
        if (strcmp(v, "all") == 0 || strcmp(v, "auto") == 0) {
            c->model.n_gpu_layers = -1;
        } else if (!cli_int(c, a, v, -1, INT32_MAX, &n)) {
            return CLI_ERROR;
        } else {
            c->model.n_gpu_layers = (int32_t)n;
        }
    } else if (is(a, "-fa", "--flash-attn")) {
        VALUE();
        if (strcmp(v, "on") == 0) {
            c->ctx.flash_attn = LLAMAC_FLASH_ATTN_ON;
        } else if (strcmp(v, "off") == 0) {
            c->ctx.flash_attn = LLAMAC_FLASH_ATTN_OFF;
        } else if (strcmp(v, "auto") == 0) {
            c->ctx.flash_attn = LLAMAC_FLASH_ATTN_AUTO;
        } else {
            cli_error(c, "invalid value '%s' for %s (expected on, off or auto)", v, a);
            return CLI_ERROR;
        }
    } else if (is(a, "-ctk", "--cache-type-k") || is(a, "-ctv", "--cache-type-v")) {
        VALUE();
        llamac_kv_type t;
        if (llamac_kv_type_from_name(v, &t) != LLAMAC_OK) {
            cli_error(c, "%s: %s", a, llamac_last_error());
            return CLI_ERROR;
        }
        if (is(a, "-ctk", "--cache-type-k")) {
            c->ctx.type_k = t;
        } else {
            c->ctx.type_v = t;
        }
    } else if (is(a, "--attn-rot", NULL)) {
        VALUE();
        if (strcmp(v, "on") == 0) {
            c->ctx.attn_rotation = LLAMAC_ATTN_ROT_ON;
        } else if (strcmp(v, "off") == 0) {
            c->ctx.attn_rotation = LLAMAC_ATTN_ROT_OFF;
        } else if (strcmp(v, "auto") == 0) {
            c->ctx.attn_rotation = LLAMAC_ATTN_ROT_AUTO;
        } else {
            cli_error(c, "invalid value '%s' for %s (expected on, off or auto)", v, a);
            return CLI_ERROR;
        }
    } else if (is(a, "--no-mmap", NULL)) {
        c->model.use_mmap = false;
    } else if (is(a, "--mlock", NULL)) {
        c->model.use_mlock = true;
    } else if (is(a, "--check-tensors", NULL)) {
        c->model.check_tensors = true;
    } else if (is(a, "--override-kv", NULL)) {
        VALUE();
        if (!parse_override(c, v)) {
            return CLI_ERROR;
        }
    } else if (is(a, "-q", "--quiet") || is(a, "--log-disable", NULL)) {
        c->quiet = true;
    } else if (is(a, "-v", "--verbose")) {
        c->verbose = true;
    } else {
        return CLI_NOT_MINE;
    }
#undef VALUE
    return CLI_TAKEN;
}

void cli_print_common_help(void) {
    fputs("Model and context options (llama.cpp's names):\n"
          "  -m, --model FILE          GGUF model (default: $LLAMAC_MODEL)\n"
          "  -hf, --hf-repo OWNER/REPO[:QUANT]   model from the Hugging Face Hub, downloaded into its cache\n"
          "                            (default quant Q4_K_M; see llamac pull --help)\n"
          "  -hff, --hf-file FILE      that file of the -hf repo; -hft, --hf-token TOKEN; --offline (cache only)\n"
          "  -c, --ctx-size N          context size in tokens (default: 4096 or the model's, whichever is less)\n"
          "  -b, --batch-size N        logical batch size (default: 2048)\n"
          "  -ub, --ubatch-size N      physical batch size (default: 512)\n"
          "  -t, --threads N           threads (default: physical cores)\n"
          "  -tb, --threads-batch N    threads for prompt processing (default: --threads)\n"
          "  -ngl, --n-gpu-layers N    layers on the GPU: a number, or all (default: 0, CPU only)\n"
          "  -fa, --flash-attn on|off|auto   flash attention (default: auto)\n"
          "  -ctk, --cache-type-k T    K cache type: f16, f32, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1\n"
          "  -ctv, --cache-type-v T    V cache type (quantized V needs flash attention)\n"
          "  --attn-rot on|off|auto    Hadamard rotation of a quantized KV cache (default: auto)\n"
          "  --no-mmap, --mlock, --check-tensors\n"
          "  --override-kv KEY=TYPE:VALUE   override model metadata (TYPE int, float, bool, str)\n"
          "  -q, --quiet               no progress bar\n"
          "  -v, --verbose             llama.cpp's log and timings on stderr\n",
          stdout);
}

static void log_to_stderr(llamac_log_level level, const char *line, void *user_data) {
    (void)user_data;
    static const char *names[] = { "", "debug", "info", "warn", "error" };
    fprintf(stderr, "[%s] %s\n", level >= 1 && level <= 4 ? names[level] : "log", line);
}

void cli_setup_logging(const struct cli_common *c) {
    if (c->verbose) {
        llamac_log_set(log_to_stderr, LLAMAC_LOG_INFO, NULL);
    }
}

char *cli_read_all(const struct cli_common *c, const char *path, size_t *len) {
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error(c, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    size_t cap = 4096, n = 0;
    char *buf = malloc(cap);
    bool failed = buf == NULL;
    while (!failed) {
        if (n + 1 >= cap) {
            char *bigger = cap < SIZE_MAX / 2 ? realloc(buf, cap * 2) : NULL;
            if (!bigger) {
                failed = true;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + n, 1, cap - n - 1, f);
        n += got;
        if (got == 0) {
            failed = ferror(f) != 0;
            break;
        }
    }
    if (path) {
        fclose(f);
    }
    if (failed) {
        free(buf);
        cli_error(c, "cannot read %s%s%s", path ? "'" : "standard input", path ? path : "", path ? "'" : "");
        return NULL;
    }
    buf[n] = '\0';
    *len = n;
    return buf;
}

enum cli_parse cli_parse_sampling(struct cli_common *c, llamac_sampling_params *s, int argc, char **argv, int *i) {
    static const struct {
        const char *name;
        const char *alias;
        size_t offset;
    } floats[] = {
        { "--temp", NULL, offsetof(llamac_sampling_params, temp) },
        { "--top-p", NULL, offsetof(llamac_sampling_params, top_p) },
        { "--min-p", NULL, offsetof(llamac_sampling_params, min_p) },
        { "--typical", "--typical-p", offsetof(llamac_sampling_params, typical_p) },
        { "--xtc-probability", NULL, offsetof(llamac_sampling_params, xtc_probability) },
        { "--xtc-threshold", NULL, offsetof(llamac_sampling_params, xtc_threshold) },
        { "--top-nsigma", "--top-n-sigma", offsetof(llamac_sampling_params, top_n_sigma) },
        { "--dynatemp-range", NULL, offsetof(llamac_sampling_params, dynatemp_range) },
        { "--dynatemp-exp", NULL, offsetof(llamac_sampling_params, dynatemp_exponent) },
        { "--repeat-penalty", NULL, offsetof(llamac_sampling_params, penalty_repeat) },
        { "--presence-penalty", NULL, offsetof(llamac_sampling_params, penalty_present) },
        { "--frequency-penalty", NULL, offsetof(llamac_sampling_params, penalty_freq) },
        { "--dry-multiplier", NULL, offsetof(llamac_sampling_params, dry_multiplier) },
        { "--dry-base", NULL, offsetof(llamac_sampling_params, dry_base) },
        { "--mirostat-lr", NULL, offsetof(llamac_sampling_params, mirostat_eta) },
        { "--mirostat-ent", NULL, offsetof(llamac_sampling_params, mirostat_tau) },
    };
    static const struct {
        const char *name;
        long min;
        long max;
        size_t offset;
    } ints[] = {
        { "--top-k", 0, INT32_MAX, offsetof(llamac_sampling_params, top_k) },
        { "--repeat-last-n", -1, INT32_MAX, offsetof(llamac_sampling_params, penalty_last_n) },
        { "--dry-allowed-length", 0, INT32_MAX, offsetof(llamac_sampling_params, dry_allowed_length) },
        { "--dry-penalty-last-n", -1, INT32_MAX, offsetof(llamac_sampling_params, dry_last_n) },
        { "--mirostat", 0, 2, offsetof(llamac_sampling_params, mirostat) },
    };
    const char *a = argv[*i];
    for (size_t k = 0; k < sizeof floats / sizeof floats[0]; k++) {
        if (strcmp(a, floats[k].name) == 0 || (floats[k].alias && strcmp(a, floats[k].alias) == 0)) {
            const char *v = cli_value(c, argc, argv, i);
            float f;
            if (!v || !cli_float(c, a, v, &f)) {
                return CLI_ERROR;
            }
            memcpy((char *)s + floats[k].offset, &f, sizeof f);
            return CLI_TAKEN;
        }
    }
    for (size_t k = 0; k < sizeof ints / sizeof ints[0]; k++) {
        if (strcmp(a, ints[k].name) == 0) {
            const char *v = cli_value(c, argc, argv, i);
            long n;
            if (!v || !cli_int(c, a, v, ints[k].min, ints[k].max, &n)) {
                return CLI_ERROR;
            }
            int32_t n32 = (int32_t)n;
            memcpy((char *)s + ints[k].offset, &n32, sizeof n32);
            return CLI_TAKEN;
        }
    }
    if (strcmp(a, "-s") == 0 || strcmp(a, "--seed") == 0) {
        const char *v = cli_value(c, argc, argv, i);
        long n;
        if (!v || !cli_int(c, a, v, -1, UINT32_MAX, &n)) {
            return CLI_ERROR;
        }
        s->seed = n < 0 ? UINT32_MAX : (uint32_t)n;
        return CLI_TAKEN;
    }
    return CLI_NOT_MINE;
}

enum cli_parse cli_parse_constraint(struct cli_common *c, struct cli_constraint *k, int argc, char **argv, int *i) {
    const char *a = argv[*i];
    const char **slot = NULL;
    if (strcmp(a, "--grammar") == 0) {
        slot = &k->grammar;
    } else if (strcmp(a, "--grammar-file") == 0) {
        slot = &k->grammar_file;
    } else if (strcmp(a, "-j") == 0 || strcmp(a, "--json-schema") == 0) {
        slot = &k->json_schema;
    } else if (strcmp(a, "--json-schema-file") == 0) {
        slot = &k->json_schema_file;
    } else if (strcmp(a, "--json") == 0) {
        k->json = true;
        return CLI_TAKEN;
    } else {
        return CLI_NOT_MINE;
    }
    return (*slot = cli_value(c, argc, argv, i)) ? CLI_TAKEN : CLI_ERROR;
}

enum cli_parse cli_parse_chat(struct cli_common *c, struct cli_chat *k, llamac_chat_params *cp, int argc, char **argv,
                              int *i) {
    const char *a = argv[*i], *v = NULL;
    long n = 0;
    if (strcmp(a, "--system") == 0 || strcmp(a, "-sys") == 0 || strcmp(a, "--system-prompt") == 0) {
        return (k->system = cli_value(c, argc, argv, i)) ? CLI_TAKEN : CLI_ERROR;
    }
    if (strcmp(a, "--chat-template-file") == 0) {
        return (k->template_file = cli_value(c, argc, argv, i)) ? CLI_TAKEN : CLI_ERROR;
    }
    if (strcmp(a, "--keep-turns") == 0) {
        return (v = cli_value(c, argc, argv, i)) && cli_int(c, a, v, 1, INT32_MAX, &k->keep_turns) ? CLI_TAKEN
                                                                                                   : CLI_ERROR;
    }
    if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0 || strcmp(a, "--predict") == 0) {
        if (!(v = cli_value(c, argc, argv, i)) || !cli_int(c, a, v, -1, INT32_MAX, &n)) {
            return CLI_ERROR;
        }
        cp->generate.max_tokens = (int32_t)n;
        return CLI_TAKEN;
    }
    return CLI_NOT_MINE;
}

bool cli_chat_apply(struct cli_common *c, struct cli_chat *k, llamac_chat_params *cp) {
    if (k->template_file) {
        size_t len = 0;
        if (!(k->template_source = cli_read_all(c, k->template_file, &len))) {
            return false;
        }
        cp->template_source = k->template_source;
    }
    cp->system_prompt = k->system;
    cp->keep_last_turns = (int32_t)k->keep_turns;
    return true;
}

/* --json-schema's value is inline JSON when it starts (after blanks) with '{' or is a boolean schema; else a path. */
static bool schema_is_inline(const char *v) {
    size_t lead = strspn(v, " \t\r\n");
    return v[lead] == '{' || strcmp(v + lead, "true") == 0 || strcmp(v + lead, "false") == 0;
}

bool cli_constraint_check(struct cli_common *c, const struct cli_constraint *k) {
    if ((k->grammar != NULL) + (k->grammar_file != NULL) + (k->json_schema != NULL) + (k->json_schema_file != NULL) +
            k->json >
        1) {
        cli_error(c, "give at most one of --grammar, --grammar-file, --json-schema, --json-schema-file, --json");
        return false;
    }
    return true;
}

bool cli_constraint_grammar(struct cli_common *c, struct cli_constraint *k, const char **grammar) {
    *grammar = NULL;
    if (!cli_constraint_check(c, k)) {
        return false;
    }
    size_t len = 0;
    if (k->grammar) {
        *grammar = k->grammar;
        return true;
    }
    if (k->grammar_file) {
        if (!(k->owned = cli_read_all(c, k->grammar_file, &len))) {
            return false;
        }
        *grammar = k->owned;
        return true;
    }
    if (!k->json && !k->json_schema && !k->json_schema_file) {
        return true;
    }
    const char *flag = k->json ? "--json" : k->json_schema_file ? "--json-schema-file" : "--json-schema";
    const char *path = k->json_schema_file;
    if (k->json_schema && !schema_is_inline(k->json_schema)) {
        path = k->json_schema;
    }
    char *buf = NULL, *out = NULL;
    llamac_status st;
    if (k->json) {
        st = llamac_json_grammar(NULL, &out);
    } else {
        const char *text = k->json_schema;
        if (path) {
            if (!(buf = cli_read_all(c, path, &len))) {
                return false;
            }
            text = buf;
        } else {
            len = strlen(text);
        }
        st = llamac_json_schema_to_grammar(text, len, NULL, &out);
    }
    free(buf);
    if (st != LLAMAC_OK) {
        cli_error(c, "%s: %s", flag, llamac_last_error());
        return false;
    }
    /* the converter's result is freed with llamac_free; keep one owner kind: copy it */
    k->owned = strdup(out);
    llamac_free(out);
    if (!k->owned) {
        cli_error(c, "out of memory");
        return false;
    }
    *grammar = k->owned;
    return true;
}

void cli_constraint_free(struct cli_constraint *k) {
    free(k->owned);
    k->owned = NULL;
}
