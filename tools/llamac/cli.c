/*
 * cli.c - what the subcommands share: the option groups every model-using command lists, the setters behind them,
 * messages in the command's own flags, logging, and input reading.
 *
 * A group is a table (options.h): a flag is defined once here and every command that lists the group accepts it
 * with the same spelling, the same value check and the same meaning. Library messages name params fields
 * ("n_ctx", "flash_attn"); the rows record which field each flag sets, so cli_lib_error can tell the user the flag
 * instead.
 */
#include "cli.h"
#include "dynbuf.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

void cli_common_init(struct cli_common *c, const char *cmd) {
    memset(c, 0, sizeof *c);
    c->cmd = cmd;
    c->verbosity = -1;
    c->model = llamac_model_params_default();
    c->ctx = llamac_ctx_params_default();
    c->media.params = llamac_mmproj_params_default();
    c->log = stderr;
}

void cli_common_close(struct cli_common *c) {
    if (c->log && c->log != stderr) {
        llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
        fclose(c->log);
    }
    c->log = stderr;
}

/* ---- messages ---- */

void cli_error(const struct cli_common *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "llamac %s: ", c->cmd);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static void vsay(const struct cli_common *c, const char *kind, const char *fmt, va_list ap) {
    if (c->quiet) {
        return;
    }
    fprintf(stderr, "llamac %s: %s: ", c->cmd, kind);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
}

void cli_warn(const struct cli_common *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(c, "warning", fmt, ap);
    va_end(ap);
}

void cli_note(const struct cli_common *c, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsay(c, "note", fmt, ap);
    va_end(ap);
}

static bool ident_char(char ch) {
    return (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') || ch == '_';
}

/* The flag of the command's table whose library field (a name or a phrase, "n_ctx", "repeat penalty") starts at s
 * as whole words, the longest such; *len receives the field's length. NULL when none does. */
static const char *flag_for_field(const struct cli_command *cmd, const char *s, size_t *len) {
    const char *flag = NULL;
    *len = 0;
    for (size_t g = 0; cmd && cmd->groups[g]; g++) {
        for (size_t i = 0; i < cmd->groups[g]->n_opts; i++) {
            const char *f = cmd->groups[g]->opts[i].field;
            size_t n = f ? strlen(f) : 0;
            if (n > *len && strncmp(s, f, n) == 0 && !ident_char(s[n])) {
                flag = cmd->groups[g]->opts[i].names[0];
                *len = n;
            }
        }
    }
    return flag;
}

void cli_lib_error(const struct cli_common *c, const char *prefix) {
    const char *msg = llamac_last_error();
    fprintf(stderr, "llamac %s: ", c->cmd);
    if (prefix) {
        fprintf(stderr, "%s: ", prefix);
    }
    for (const char *s = msg; *s;) {
        size_t len = 0;
        const char *flag = s == msg || !ident_char(s[-1]) ? flag_for_field(c->spec, s, &len) : NULL;
        if (flag) {
            fputs(flag, stderr);
            s += len;
        } else {
            fputc(*s++, stderr);
        }
    }
    fputc('\n', stderr);
}

/* ---- logging ---- */

/* The least severe level the flags ask for; LLAMAC_LOG_NONE: no log. llama.cpp's -lv scale: 0 generic output only,
 * 1 errors, 2 warnings, 3 info, 4 trace, 5 debug. */
static llamac_log_level log_threshold(const struct cli_common *c) {
    if (c->log_disable) {
        return LLAMAC_LOG_NONE;
    }
    if (c->verbose) {
        return LLAMAC_LOG_DEBUG;
    }
    if (c->verbosity >= 0) {
        return c->verbosity >= 5   ? LLAMAC_LOG_DEBUG
               : c->verbosity >= 3 ? LLAMAC_LOG_INFO
               : c->verbosity == 2 ? LLAMAC_LOG_WARN
               : c->verbosity == 1 ? LLAMAC_LOG_ERROR
                                   : LLAMAC_LOG_NONE;
    }
    return c->log_file ? LLAMAC_LOG_INFO : LLAMAC_LOG_NONE;
}

bool cli_log_enabled(const struct cli_common *c, llamac_log_level level) {
    return level >= log_threshold(c) && log_threshold(c) != LLAMAC_LOG_NONE;
}

static void write_log_line(FILE *out, llamac_log_level level, const char *line) {
    static const char *names[] = { "", "debug", "info", "warn", "error" };
    fprintf(out, "[%s] %s\n", level >= 1 && level <= 4 ? names[level] : "log", line);
    fflush(out);
}

void cli_log(const struct cli_common *c, llamac_log_level level, const char *fmt, ...) {
    if (!cli_log_enabled(c, level)) {
        return;
    }
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    write_log_line(c->log ? c->log : stderr, level, line);
}

static void library_log(llamac_log_level level, const char *line, void *user_data) {
    write_log_line(user_data, level, line);
}

bool cli_setup_logging(struct cli_common *c) {
    if (c->log_file && !c->log_disable) {
        FILE *f = fopen(c->log_file, "a");
        if (!f) {
            cli_error(c, "--log-file: cannot open '%s': %s", c->log_file, strerror(errno));
            return false;
        }
        c->log = f;
    }
    llamac_log_level min = log_threshold(c);
    if (min != LLAMAC_LOG_NONE) {
        llamac_log_set(library_log, min, c->log);
    }
    return true;
}

/* ---- numbers ---- */

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

/* --override-kv KEY=TYPE:VALUE, TYPE one of int, float, bool, str (llama.cpp's spelling). */
bool cli_parse_override(struct cli_common *c, const char *s) {
    if (c->n_overrides >= CLI_MAX_OVERRIDES) {
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
        if (strlen(val) >= sizeof c->override_strs[0]) {
            cli_error(c, "--override-kv string value is longer than 127 bytes");
            return false;
        }
        o->type = LLAMAC_KV_OVERRIDE_STR;
        o->str_value = strcpy(c->override_strs[c->n_overrides], val);
    } else {
        cli_error(c, "invalid type in --override-kv '%s' (expected int, float, bool or str)", s);
        return false;
    }
    c->n_overrides++;
    c->model.kv_overrides = c->overrides;
    c->model.n_kv_overrides = c->n_overrides;
    return true;
}

/* ---- setters of the shared flags ---- */

void cli_print_version(void) {
    printf("llamac %s\n", llamac_version());
    printf("llama.cpp %s\n", llamac_llama_commit());
    printf("backends:");
    size_t n = llamac_backend_count();
    for (size_t i = 0; i < n; i++) {
        printf(" %s", llamac_backend_name(i));
    }
    printf("\n");
}

static bool set_version(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    (void)value;
    cli_print_version();
    p->done = true;
    return true;
}

static bool set_help(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    (void)value;
    p->help = true;
    return true;
}

/* -t / -tb: -1 or 0 mean llamac's choice (stored as 0). */
bool cli_set_threads(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!cli_int(p->t.common, p->name, value, o->min, o->max, &n)) {
        return false;
    }
    *(int32_t *)field = n < 0 ? 0 : (int32_t)n;
    if (field == &p->t.common->ctx.n_threads) {
        p->t.common->threads_given = n > 0;
    }
    return true;
}

bool cli_set_gpu_layers(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (strcmp(value, "all") == 0 || strcmp(value, "auto") == 0) {
        n = -1;
    } else if (!cli_int(p->t.common, p->name, value, o->min, o->max, &n)) {
        return false;
    }
    *(int32_t *)field = (int32_t)n;
    p->t.common->gpu_layers_given = true;
    return true;
}

/* -ts / --tensor-split: llama.cpp's proportions per device, "3,1" or "3/1". */
static bool set_tensor_split(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    struct cli_common *c = p->t.common;
    size_t n = 0;
    for (const char *s = value;;) {
        char *end = NULL;
        errno = 0;
        float v = strtof(s, &end);
        if (end == s || errno || !(v >= 0.0f) || n == CLI_MAX_SPLIT || (*end != ',' && *end != '/' && *end)) {
            cli_error(c, "%s: '%s' is not a list of non-negative proportions such as 3,1 (at most %d)", p->name, value,
                      CLI_MAX_SPLIT);
            return false;
        }
        c->split[n++] = v;
        if (!*end) {
            break;
        }
        s = end + 1;
    }
    c->model.tensor_split = c->split;
    c->model.n_tensor_split = n;
    return true;
}

static const struct cli_choice numa_modes[] = { { "distribute", LLAMAC_NUMA_DISTRIBUTE },
                                                { "isolate", LLAMAC_NUMA_ISOLATE },
                                                { "numactl", LLAMAC_NUMA_NUMACTL },
                                                { NULL, 0 } };

static const struct cli_choice lazy_modes[] = {
    { "auto", LLAMAC_LAZY_AUTO }, { "on", LLAMAC_LAZY_ON }, { "off", LLAMAC_LAZY_OFF }, { NULL, 0 }
};

/* --list-devices: the devices llamac can use, as llama.cpp lists them, and the parse ends. */
static bool set_list_devices(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    (void)value;
    printf("Available devices:\n");
    size_t shown = 0;
    for (size_t i = 0; i < llamac_device_count(); i++) {
        llamac_device_info d;
        if (llamac_device_get(i, &d) == LLAMAC_OK && d.type != LLAMAC_DEVICE_CPU) {
            printf("  %s: %s (%zu MiB, %zu MiB free)\n", d.name, d.description, d.memory_total / (1024 * 1024),
                   d.memory_free / (1024 * 1024));
            shown++;
        }
    }
    if (shown == 0) {
        printf("  (none)\n");
    }
    p->done = true;
    return true;
}

static const struct cli_choice rope_scalings[] = { { "none", LLAMAC_ROPE_SCALING_NONE },
                                                   { "linear", LLAMAC_ROPE_SCALING_LINEAR },
                                                   { "yarn", LLAMAC_ROPE_SCALING_YARN },
                                                   { NULL, 0 } };

static const struct cli_choice split_modes[] = {
    { "none", LLAMAC_SPLIT_NONE }, { "layer", LLAMAC_SPLIT_LAYER }, { "row", LLAMAC_SPLIT_ROW }, { NULL, 0 }
};

/* -lm / --load-mode, llama.cpp's words for mmap and mlock together. */
static bool set_load_mode(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    llamac_model_params *m = &p->t.common->model;
    if (strcmp(value, "auto") == 0 || strcmp(value, "mmap") == 0) {
        m->use_mmap = true;
        m->use_mlock = false;
    } else if (strcmp(value, "none") == 0) {
        m->use_mmap = m->use_mlock = false;
    } else if (strcmp(value, "mlock") == 0) {
        m->use_mmap = false;
        m->use_mlock = true;
    } else if (strcmp(value, "mmap+mlock") == 0) {
        m->use_mmap = m->use_mlock = true;
    } else {
        cli_error(p->t.common, "invalid value '%s' for %s (expected auto, none, mmap, mlock or mmap+mlock)", value,
                  p->name);
        return false;
    }
    return true;
}

/* Adds one tensor placement rule, its pattern the `len` bytes at `pattern` and its buffer type `type`, copied into
 * c->tensor_text. */
static bool add_tensor_rule(struct cli_parser *p, const char *pattern, size_t len, const char *type) {
    struct cli_common *c = p->t.common;
    size_t type_len = strlen(type);
    if (c->model.n_tensor_overrides >= CLI_MAX_TENSOR_RULES ||
        c->tensor_text_used + len + type_len + 2 > sizeof c->tensor_text) {
        cli_error(c,
                  "%s: too many tensor overrides (-ot, -cmoe, -ncmoe and -ncffn together: at most %d rules and "
                  "%d bytes of patterns)",
                  p->name, CLI_MAX_TENSOR_RULES, CLI_TENSOR_TEXT);
        return false;
    }
    char *at = c->tensor_text + c->tensor_text_used;
    memcpy(at, pattern, len);
    at[len] = '\0';
    memcpy(at + len + 1, type, type_len + 1);
    c->tensor_text_used += len + type_len + 2;
    llamac_tensor_override *r = &c->tensor_rules[c->model.n_tensor_overrides++];
    r->pattern = at;
    r->buffer_type = at + len + 1;
    c->model.tensor_overrides = c->tensor_rules;
    return true;
}

/* -ot PATTERN=TYPE,...: llama.cpp's syntax (a pattern cannot hold ','; TYPE is a device's buffer type, "CPU", ...). */
static bool set_tensor_override(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    for (const char *s = value;;) {
        size_t len = strcspn(s, ",");
        const char *eq = memchr(s, '=', len);
        if (!eq || eq + 1 == s + len) {
            cli_error(p->t.common, "%s: '%.*s' is not PATTERN=BUFFER_TYPE (e.g. '\\.ffn_.*_exps=CPU')", p->name,
                      (int)len, s);
            return false;
        }
        char type[128];
        size_t type_len = (size_t)(s + len - (eq + 1));
        if (type_len >= sizeof type) {
            cli_error(p->t.common, "%s: buffer type '%.*s' is too long", p->name, (int)type_len, eq + 1);
            return false;
        }
        memcpy(type, eq + 1, type_len);
        type[type_len] = '\0';
        if (!add_tensor_rule(p, s, (size_t)(eq - s), type)) {
            return false;
        }
        if (!s[len]) {
            return true;
        }
        s += len + 1;
    }
}

/* llama.cpp's patterns for the expert weights of a Mixture-of-Experts layer and the dense FFN weights of a layer
 * (common/common.h: LLM_FFN_EXPS_REGEX, LLM_FFN_DENSE_REGEX). */
#define FFN_EXPS_PATTERN "\\.ffn_(up|down|gate|gate_up)_(ch|)exps"
#define FFN_DENSE_PATTERN "\\.ffn_(up|down|gate)\\."

/* -cmoe: every layer's expert weights in host memory. */
static bool set_cpu_moe(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    (void)value;
    return add_tensor_rule(p, FFN_EXPS_PATTERN, strlen(FFN_EXPS_PATTERN), "CPU");
}

/* -ncmoe N / -ncffn N: those of the first N layers, one rule per layer as llama.cpp makes them. */
static bool set_n_cpu_ffn(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)field;
    long n;
    if (!cli_int(p->t.common, p->name, value, o->min, o->max, &n)) {
        return false;
    }
    const char *ffn = strcmp(o->names[0], "-ncffn") == 0 ? FFN_DENSE_PATTERN : FFN_EXPS_PATTERN;
    for (long i = 0; i < n; i++) {
        char pattern[96];
        int len = snprintf(pattern, sizeof pattern, "blk\\.%ld%s", i, ffn);
        if (len < 0 || !add_tensor_rule(p, pattern, (size_t)len, "CPU")) {
            return false;
        }
    }
    return true;
}

/* --rope-scale N: the context stretched N times, llama.cpp's rope_freq_scale = 1/N. */
static bool set_rope_scale(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    float n;
    if (!cli_float(p->t.common, p->name, value, &n)) {
        return false;
    }
    if (!(n > 0.0f) || !isfinite(1.0f / n)) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected a factor above 0, e.g. 2 for twice the context)",
                  value, p->name);
        return false;
    }
    *(float *)field = 1.0f / n;
    return true;
}

/* A float that must not be negative (--rope-freq-base, --rope-freq-scale: 0 is the model's value). */
static bool set_nonneg_float(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    float v;
    if (!cli_float(p->t.common, p->name, value, &v)) {
        return false;
    }
    if (v < 0.0f) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected a number >= 0; 0: the model's)", value, p->name);
        return false;
    }
    *(float *)field = v;
    return true;
}

bool cli_set_kv_type(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    if (llamac_kv_type_from_name(value, (llamac_kv_type *)field) != LLAMAC_OK) {
        cli_error(p->t.common, "%s: %s", p->name, llamac_last_error());
        return false;
    }
    return true;
}

bool cli_set_override(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return cli_parse_override(p->t.common, value);
}

/* llama.cpp's --override-kv of a model: KEY=TYPE:VALUE items separated by commas, an item in double quotes when it
 * holds one ("" a quote inside), as its parse_csv_row reads them. */
static bool set_override_list(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    char item[512];
    size_t n = 0;
    bool quoted = false;
    for (const char *s = value;; s++) {
        if (*s == '"' && !quoted && n == 0) {
            quoted = true;
            continue;
        }
        if (*s == '"' && quoted) {
            if (s[1] != '"') {
                quoted = false;
                continue;
            }
            s++; /* "" inside quotes: one quote */
        } else if ((*s == ',' && !quoted) || *s == '\0') {
            item[n] = '\0';
            if (!cli_parse_override(p->t.common, item)) {
                return false;
            }
            if (*s == '\0') {
                return true;
            }
            n = 0;
            continue;
        }
        if (n + 1 >= sizeof item) {
            cli_error(p->t.common, "%s: an item of '%.100s...' is longer than %zu bytes", p->name, value,
                      sizeof item - 1);
            return false;
        }
        item[n++] = *s;
    }
}

static bool set_verbosity(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    return cli_int(p->t.common, p->name, value, o->min, o->max, (long *)field);
}

static bool set_quiet(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)value;
    *(bool *)field = true;
    p->t.common->quiet = true;
    return true;
}

static bool set_stop(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    struct cli_generate *g = p->t.generate;
    if (!value[0] || g->n_stops >= sizeof g->stops / sizeof g->stops[0]) {
        cli_error(p->t.common, "%s must be non-empty (and at most 64 of them)", p->name);
        return false;
    }
    g->stops[g->n_stops++] = value;
    g->params->stop = g->stops;
    g->params->n_stop = g->n_stops;
    return true;
}

/* -l TOKEN(+|-)BIAS, BIAS a number or inf. */
static bool set_logit_bias(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    struct cli_sampling *s = p->t.sampling;
    if (s->n_biases >= sizeof s->biases / sizeof s->biases[0]) {
        cli_error(p->t.common, "too many %s options (at most 64)", p->name);
        return false;
    }
    char *end = NULL;
    errno = 0;
    long tok = strtol(value, &end, 10);
    if (errno || end == value || (*end != '+' && *end != '-') || tok < 0 || tok > INT32_MAX) {
        cli_error(p->t.common, "invalid %s '%s' (expected TOKEN+BIAS or TOKEN-BIAS, e.g. 15043+1 or 15043-inf)",
                  p->name, value);
        return false;
    }
    float bias;
    if (strcmp(end + 1, "inf") == 0) {
        bias = INFINITY;
    } else if (!cli_float(p->t.common, p->name, end + 1, &bias)) {
        return false;
    }
    s->biases[s->n_biases].token = (llamac_token)tok;
    s->biases[s->n_biases].bias = *end == '-' ? -bias : bias;
    s->n_biases++;
    s->params->logit_bias = s->biases;
    s->params->n_logit_bias = s->n_biases;
    return true;
}

/* --samplers NAMES (';'-separated, as llama.cpp's; empty parts are skipped, so "" leaves dist alone) and
 * --sampler-seq LETTERS: the order of the chain's samplers (llamac_sampling_params.samplers); the last one given
 * wins. */
static bool sampler_order(struct cli_parser *p, const char *value, bool letters) {
    struct cli_sampling *s = p->t.sampling;
    size_t n = 0, cap = sizeof s->order / sizeof s->order[0];
    for (const char *at = value; *at;) {
        size_t len = letters ? 1 : strcspn(at, ";");
        if (len > 0) {
            char name[64];
            snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : sizeof name - 1), at);
            llamac_status st = n == cap  ? LLAMAC_E_INVALID_ARGUMENT
                               : letters ? llamac_sampler_type_from_char(*at, &s->order[n])
                                         : llamac_sampler_type_from_name(name, &s->order[n]);
            if (st != LLAMAC_OK) {
                cli_error(p->t.common, "%s '%s': %s", p->name, value,
                          n == cap ? "more than 64 samplers" : llamac_last_error());
                return false;
            }
            n++;
        }
        at += len + (at[len] == ';');
    }
    s->params->samplers = s->order;
    s->params->n_samplers = n;
    return true;
}

static bool set_samplers(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return sampler_order(p, value, false);
}

static bool set_sampler_seq(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    return sampler_order(p, value, true);
}

/* Replaces the escapes of llama.cpp's string_process_escapes (\n \r \t \' \" \\ \xHH) in `in` into `out`
 * (room for strlen(in) + 1). */
static void unescape(const char *in, char *out) {
    static const char from[] = "nrt'\"\\", to[] = "\n\r\t'\"\\";
    for (; *in; in++) {
        const char *k = in[0] == '\\' && in[1] ? strchr(from, in[1]) : NULL;
        if (k) {
            *out++ = to[k - from];
            in++;
        } else if (in[0] == '\\' && in[1] == 'x' && isxdigit((unsigned char)in[2]) && isxdigit((unsigned char)in[3])) {
            char hex[3] = { in[2], in[3], '\0' };
            *out++ = (char)strtol(hex, NULL, 16);
            in += 3;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

/* --dry-sequence-breaker STRING (repeatable): the first one replaces llama.cpp's default breakers; "none" clears
 * them all. Escapes are processed as llama.cpp does (so '\n' is a newline). */
static bool set_dry_breaker(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    struct cli_sampling *s = p->t.sampling;
    if (!s->params->dry_sequence_breakers || strcmp(value, "none") == 0) {
        s->n_breakers = 0;
        s->breaker_used = 0;
    }
    s->params->dry_sequence_breakers = s->breakers;
    s->params->n_dry_sequence_breakers = s->n_breakers;
    if (strcmp(value, "none") == 0) {
        return true;
    }
    size_t len = strlen(value);
    if (!value[0] || s->n_breakers == sizeof s->breakers / sizeof s->breakers[0] ||
        len >= sizeof s->breaker_text - s->breaker_used) {
        cli_error(p->t.common, "%s must be non-empty (and at most 64 of them, 4 KiB in all)", p->name);
        return false;
    }
    char *text = s->breaker_text + s->breaker_used;
    unescape(value, text);
    s->breaker_used += strlen(text) + 1;
    s->breakers[s->n_breakers++] = text;
    s->params->n_dry_sequence_breakers = s->n_breakers;
    return true;
}

/* -s: -1 (or the largest value) is a random seed. */
static bool set_seed(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!cli_int(p->t.common, p->name, value, o->min, o->max, &n)) {
        return false;
    }
    *(uint32_t *)field = n < 0 ? UINT32_MAX : (uint32_t)n;
    return true;
}

/* ---- the shared groups ---- */

#define COMMON(f) offsetof(struct cli_common, f)
#define SAMPLING(f) offsetof(llamac_sampling_params, f)

static const struct cli_choice on_off_auto_fa[] = {
    { "on", LLAMAC_FLASH_ATTN_ON }, { "off", LLAMAC_FLASH_ATTN_OFF }, { "auto", LLAMAC_FLASH_ATTN_AUTO }, { NULL, 0 }
};
static const struct cli_choice on_off_auto_rot[] = {
    { "on", LLAMAC_ATTN_ROT_ON }, { "off", LLAMAC_ATTN_ROT_OFF }, { "auto", LLAMAC_ATTN_ROT_AUTO }, { NULL, 0 }
};

static const struct cli_opt model_rows[] = {
    { .names = { "-m", "--model" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = COMMON(model_path),
      .help = "the GGUF model (also accepted as the first argument, MODEL.gguf; default: $LLAMAC_MODEL)" },
    { .names = { "-hf", "-hfr", "--hf-repo" },
      .arg = "OWNER/REPO[:QUANT]",
      .set = cli_set_str,
      .offset = COMMON(hf_repo),
      .help = "the model from the Hugging Face Hub, downloaded into its cache (default quant Q4_K_M; see llamac "
              "pull --help)" },
    { .names = { "-hff", "--hf-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = COMMON(hf_file),
      .help = "that file of the -hf repository" },
};
const struct cli_group cli_group_model = CLI_GROUP("Model", CLI_TARGET_COMMON, model_rows);

static const struct cli_opt hub_rows[] = {
    { .names = { "-hft", "--hf-token" },
      .arg = "TOKEN",
      .set = cli_set_str,
      .offset = COMMON(hf_token),
      .help = "Hugging Face access token (default: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, $HF_HOME/token)" },
    { .names = { "--offline" },
      .set = cli_set_true,
      .offset = COMMON(offline),
      .help = "use only the Hugging Face cache, no network (also HF_HUB_OFFLINE=1)" },
};
const struct cli_group cli_group_hub = CLI_GROUP("Hugging Face Hub", CLI_TARGET_COMMON, hub_rows);

static const struct cli_opt load_rows[] = {
    { .names = { "-ngl", "--gpu-layers", "--n-gpu-layers" },
      .arg = "N",
      .set = cli_set_gpu_layers,
      .offset = COMMON(model.n_gpu_layers),
      .min = -1,
      .max = INT32_MAX,
      .field = "n_gpu_layers",
      .help = "layers on the GPU: a number, or auto / all (default: 0, CPU only)" },
    { .names = { "--rpc" },
      .arg = "SERVERS",
      .set = cli_set_str,
      .offset = COMMON(model.rpc_servers),
      .field = "rpc_servers",
      .help = "comma-separated HOST:PORT of ggml RPC servers (llamac rpc-server) whose devices take layers as "
              "GPUs do (then -ngl defaults to all)" },
    { .names = { "-dev", "--device" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = COMMON(model.devices),
      .field = "devices",
      .help = "comma-separated devices to use (e.g. RPC0,RPC1; none: the CPU only; default: all)" },
    { .names = { "-ts", "--tensor-split" },
      .arg = "N0,N1,...",
      .set = set_tensor_split,
      .field = "tensor_split",
      .help = "share of the layers for each device, e.g. 3,1 (default: in proportion to free memory)" },
    { .names = { "-sm", "--split-mode" },
      .arg = "none|layer|row",
      .set = cli_set_choice,
      .choices = split_modes,
      .offset = COMMON(model.split_mode),
      .field = "split_mode",
      .help = "how several devices share the model (default: layer)" },
    { .names = { "-lm", "--load-mode" },
      .arg = "MODE",
      .set = set_load_mode,
      .help = "auto (mmap), none, mmap, mlock or mmap+mlock (default: auto)" },
    { .names = { "--no-mmap" },
      .set = cli_set_false,
      .offset = COMMON(model.use_mmap),
      .field = "use_mmap",
      .help = "read the model into memory instead of mapping it (as -lm none)" },
    { .names = { "--mlock" },
      .set = cli_set_true,
      .offset = COMMON(model.use_mlock),
      .field = "use_mlock",
      .help = "keep the model in RAM (no swapping)" },
    { .names = { "--check-tensors" },
      .set = cli_set_true,
      .offset = COMMON(model.check_tensors),
      .help = "check the tensor data for invalid values while loading" },
    { .names = { "--override-kv" },
      .arg = "KEY=TYPE:VALUE,...",
      .set = set_override_list,
      .field = "kv_overrides",
      .help = "override model metadata (TYPE int, float, bool or str); several comma-separated, an item in double "
              "quotes when its value holds a comma; repeatable" },
    { .names = { "-ot", "--override-tensor" },
      .arg = "PATTERN=TYPE,...",
      .set = set_tensor_override,
      .field = "tensor_overrides",
      .help = "put the weights whose names match PATTERN (a regular expression) in buffer type TYPE: CPU (host "
              "memory) or a device's (CUDA0, ...); the first matching rule decides; repeatable" },
    { .names = { "-cmoe", "--cpu-moe" },
      .set = set_cpu_moe,
      .help = "keep every Mixture-of-Experts expert weight in host memory (as -ot '" FFN_EXPS_PATTERN "=CPU')" },
    { .names = { "-ncmoe", "--n-cpu-moe" },
      .arg = "N",
      .set = set_n_cpu_ffn,
      .min = 0,
      .max = CLI_MAX_TENSOR_RULES,
      .help = "keep the expert weights of the first N layers in host memory" },
    { .names = { "-ncffn", "--n-cpu-ffn" },
      .arg = "N",
      .set = set_n_cpu_ffn,
      .min = 0,
      .max = CLI_MAX_TENSOR_RULES,
      .help = "keep the dense FFN weights of the first N layers in host memory (for MoE experts: -ncmoe)" },
    { .names = { "--repack" },
      .set = cli_set_false,
      .offset = COMMON(model.no_repack),
      .help = "repack weights into the CPU backend's faster layouts where it has them (the default)" },
    { .names = { "-nr", "--no-repack" },
      .set = cli_set_true,
      .offset = COMMON(model.no_repack),
      .field = "no_repack",
      .help = "keep the weights in the file's layout" },
    { .names = { "--no-host" },
      .set = cli_set_true,
      .offset = COMMON(model.no_host),
      .field = "no_host",
      .help = "no host buffer for the weights, so that other buffer types may take them" },
    { .names = { "-mg", "--main-gpu" },
      .arg = "INDEX",
      .set = cli_set_i32,
      .offset = COMMON(model.main_gpu),
      .min = 0,
      .max = 1023,
      .field = "main_gpu",
      .help = "the GPU for the whole model with -sm none, or for intermediate results and the KV cache with -sm row "
              "(default: 0)" },
    { .names = { "-lzm", "--lazy-mode" },
      .arg = "auto|on|off",
      .set = cli_set_choice,
      .choices = lazy_modes,
      .offset = COMMON(model.lazy_mode),
      .help = "read the tensors the architecture marks (per-layer embeddings, ...) from the file on demand: on, "
              "auto (those larger than 4 GiB; the default) or off (always resident); on demand needs mmap" },
    { .names = { "--list-devices" },
      .set = set_list_devices,
      .help = "list the devices other than the CPU (GPUs, ...) with their memory, and exit" },
    { .names = { "--numa" },
      .arg = "distribute|isolate|numactl",
      .set = cli_set_choice,
      .choices = numa_modes,
      .offset = COMMON(numa),
      .help = "on a machine with several NUMA nodes: distribute (threads over every node), isolate (only the node "
              "the process started on) or numactl (the CPUs numactl gives); drop the page cache first if the model "
              "was read without it" },
};
const struct cli_group cli_group_load = CLI_GROUP("Model loading", CLI_TARGET_COMMON, load_rows);

static const struct cli_opt context_rows[] = {
    { .names = { "-c", "--ctx-size" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = COMMON(ctx.n_ctx),
      .min = 0,
      .max = INT32_MAX / 2,
      .field = "n_ctx",
      .help = "context size in tokens (default 0: 4096 or the model's training context, whichever is less; "
              "larger than the training context works with a warning)" },
    { .names = { "-b", "--batch-size" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = COMMON(ctx.n_batch),
      .min = 1,
      .max = INT32_MAX / 2,
      .field = "n_batch",
      .help = "logical batch size (default: 2048)" },
    { .names = { "-ub", "--ubatch-size" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = COMMON(ctx.n_ubatch),
      .min = 1,
      .max = INT32_MAX / 2,
      .field = "n_ubatch",
      .help = "physical batch size (default: 512)" },
    { .names = { "-t", "--threads" },
      .arg = "N",
      .set = cli_set_threads,
      .offset = COMMON(ctx.n_threads),
      .min = -1,
      .max = 512, /* ggml's GGML_MAX_N_THREADS */
      .field = "n_threads",
      .help = "threads for generation (default -1: the physical cores, fewer while other processes keep them "
              "busy: llama.cpp's threads wait for each other by spinning, so an oversubscribed machine runs "
              "many times slower)" },
    { .names = { "-tb", "--threads-batch" },
      .arg = "N",
      .set = cli_set_threads,
      .offset = COMMON(ctx.n_threads_batch),
      .min = -1,
      .max = 512, /* ggml's GGML_MAX_N_THREADS */
      .field = "n_threads_batch",
      .help = "threads for prompt processing (default: as --threads)" },
    { .names = { "-fa", "--flash-attn" },
      .arg = "on|off|auto",
      .set = cli_set_choice,
      .offset = COMMON(ctx.flash_attn),
      .choices = on_off_auto_fa,
      .field = "flash_attn",
      .help = "flash attention (default: auto)" },
    { .names = { "-ctk", "--cache-type-k" },
      .arg = "TYPE",
      .set = cli_set_kv_type,
      .offset = COMMON(ctx.type_k),
      .field = "type_k",
      .help = "K cache type: f16 (default), f32, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0 or q5_1" },
    { .names = { "-ctv", "--cache-type-v" },
      .arg = "TYPE",
      .set = cli_set_kv_type,
      .offset = COMMON(ctx.type_v),
      .field = "type_v",
      .help = "V cache type, as -ctk (a quantized V cache needs flash attention)" },
    { .names = { "-kvo", "--kv-offload" },
      .set = cli_set_true,
      .offset = COMMON(ctx.offload_kqv),
      .help = "keep the KV cache on the GPU with the layers offloaded there (the default)" },
    { .names = { "-nkvo", "--no-kv-offload" },
      .set = cli_set_false,
      .offset = COMMON(ctx.offload_kqv),
      .field = "offload_kqv",
      .help = "keep the KV cache in host memory" },
    { .names = { "--op-offload" },
      .set = cli_set_true,
      .offset = COMMON(ctx.op_offload),
      .help = "run operations on weights in host memory on the GPU when that is faster (the default)" },
    { .names = { "--no-op-offload" },
      .set = cli_set_false,
      .offset = COMMON(ctx.op_offload),
      .field = "op_offload",
      .help = "run operations on weights in host memory on the CPU" },
    { .names = { "--swa-full" },
      .set = cli_set_ignored,
      .help = "accepted, no effect: llamac always gives sliding-window layers a full-size cache, so that every cached "
              "token stays reusable (llama-server's default is the smaller window-sized cache)" },
    { .names = { "-dt", "--defrag-thold" },
      .arg = "N",
      .set = cli_set_ignored,
      .help = "accepted, no effect: llama.cpp deprecated it (its KV cache needs no defragmentation)" },
};
const struct cli_group cli_group_context = CLI_GROUP("Context", CLI_TARGET_COMMON, context_rows);

static const struct cli_opt rope_rows[] = {
    { .names = { "--rope-scaling" },
      .arg = "none|linear|yarn",
      .set = cli_set_choice,
      .choices = rope_scalings,
      .offset = COMMON(ctx.rope.scaling),
      .field = "rope.scaling",
      .help = "RoPE scaling method (default: the model's, else linear)" },
    { .names = { "--rope-scale" },
      .arg = "N",
      .set = set_rope_scale,
      .offset = COMMON(ctx.rope.freq_scale),
      .help = "RoPE context scaling: stretches the context N times (--rope-freq-scale 1/N)" },
    { .names = { "--rope-freq-base" },
      .arg = "N",
      .set = set_nonneg_float,
      .offset = COMMON(ctx.rope.freq_base),
      .field = "rope.freq_base",
      .help = "RoPE base frequency, as NTK-aware scaling sets it (default 0: the model's)" },
    { .names = { "--rope-freq-scale" },
      .arg = "N",
      .set = set_nonneg_float,
      .offset = COMMON(ctx.rope.freq_scale),
      .field = "rope.freq_scale",
      .help = "RoPE frequency scaling factor: stretches the context 1/N times (default 0: the model's)" },
    { .names = { "--yarn-orig-ctx" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = COMMON(ctx.rope.yarn_orig_ctx),
      .min = 0,
      .max = INT32_MAX,
      .field = "rope.yarn_orig_ctx",
      .help = "YaRN: the model's original context size (default 0: its training context)" },
    { .names = { "--yarn-ext-factor" },
      .arg = "N",
      .set = cli_set_float,
      .offset = COMMON(ctx.rope.yarn_ext_factor),
      .field = "rope.yarn_ext_factor",
      .help = "YaRN: extrapolation mix factor, 0 for full interpolation (default -1: 1 with yarn scaling, else 0)" },
    { .names = { "--yarn-attn-factor" },
      .arg = "N",
      .set = cli_set_float,
      .offset = COMMON(ctx.rope.yarn_attn_factor),
      .field = "rope.yarn_attn_factor",
      .help = "YaRN: attention magnitude scale (default -1: the model's)" },
    { .names = { "--yarn-beta-slow" },
      .arg = "N",
      .set = cli_set_float,
      .offset = COMMON(ctx.rope.yarn_beta_slow),
      .field = "rope.yarn_beta_slow",
      .help = "YaRN: high correction dimension, or alpha (default -1: the model's)" },
    { .names = { "--yarn-beta-fast" },
      .arg = "N",
      .set = cli_set_float,
      .offset = COMMON(ctx.rope.yarn_beta_fast),
      .field = "rope.yarn_beta_fast",
      .help = "YaRN: low correction dimension, or beta (default -1: the model's)" },
};
const struct cli_group cli_group_rope = CLI_GROUP("RoPE scaling", CLI_TARGET_COMMON, rope_rows);

static const struct cli_opt rotation_rows[] = {
    { .names = { "--attn-rot" },
      .arg = "on|off|auto",
      .set = cli_set_choice,
      .offset = COMMON(ctx.attn_rotation),
      .choices = on_off_auto_rot,
      .field = "attn_rotation",
      .help = "Hadamard rotation of a quantized KV cache (default: auto, llama.cpp's choice)" },
};
const struct cli_group cli_group_rotation = CLI_GROUP("KV-cache rotation", CLI_TARGET_COMMON, rotation_rows);

static const struct cli_opt sequences_rows[] = {
    { .names = { "-np", "--parallel" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = COMMON(ctx.n_seq_max),
      .min = 1,
      .max = 256,
      .field = "n_seq_max",
      .help = "sequences of the context (embed and rerank: texts per decode, by default up to 64 that divide the "
              "batch, or up to 256 KV streams for short texts; kv: default 1)" },
};
const struct cli_group cli_group_sequences = CLI_GROUP("Sequences", CLI_TARGET_COMMON, sequences_rows);

static const struct cli_opt prompt_rows[] = {
    { .names = { "-p", "--prompt" },
      .arg = "TEXT",
      .set = cli_set_str,
      .offset = offsetof(struct cli_prompt, text),
      .help = "the prompt (default: standard input)" },
    { .names = { "-f", "--file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct cli_prompt, file),
      .help = "read the prompt from FILE" },
    { .names = { "--no-bos" },
      .set = cli_set_true,
      .offset = offsetof(struct cli_prompt, no_bos),
      .help = "do not add the model's BOS token (nor other special tokens it adds) to the prompt" },
    { .names = { "--parse-special" },
      .set = cli_set_true,
      .offset = offsetof(struct cli_prompt, parse_special),
      .help = "turn special-token text in the prompt (e.g. <|im_end|>) into special tokens (default: plain text)" },
};
const struct cli_group cli_group_prompt = CLI_GROUP("Prompt", CLI_TARGET_PROMPT, prompt_rows);

static const struct cli_opt generate_rows[] = {
    { .names = { "-n", "--predict", "--n-predict" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = offsetof(llamac_generate_params, max_tokens),
      .min = -1,
      .max = INT32_MAX,
      .field = "max_tokens",
      .help = "tokens to generate at most (run: 256, chat: 1024 per answer; -1: until the context is full)" },
    { .names = { "-r", "--reverse-prompt", "--stop" },
      .arg = "TEXT",
      .set = set_stop,
      .help = "stop before TEXT, which is not printed (repeatable)" },
};
const struct cli_group cli_group_generate = CLI_GROUP("Generation", CLI_TARGET_GENERATE, generate_rows);

#define FLOAT_ROW(n1, n2, arg_, f, phrase, help_)                                                                      \
    { .names = { n1, n2 }, .arg = arg_, .set = cli_set_float, .offset = SAMPLING(f), .field = phrase, .help = help_ }
#define INT_ROW(n1, arg_, f, lo, hi, phrase, help_)                                                                    \
    {                                                                                                                  \
        .names = { n1 }, .arg = arg_, .set = cli_set_i32, .offset = SAMPLING(f), .min = lo, .max = hi,                 \
        .field = phrase, .help = help_                                                                                 \
    }

static const struct cli_opt sampling_rows[] = {
    FLOAT_ROW("--temp", "--temperature", "T", temp, "temperature", "temperature (default: 0.8; 0: greedy)"),
    INT_ROW("--top-k", "N", top_k, 0, INT32_MAX, "top_k", "top-k sampling (default: 40; 0: off)"),
    FLOAT_ROW("--top-p", NULL, "P", top_p, "top_p", "top-p sampling (default: 0.95; 1: off)"),
    FLOAT_ROW("--min-p", NULL, "P", min_p, "min_p", "min-p sampling (default: 0.05; 0: off)"),
    FLOAT_ROW("--typical", "--typical-p", "P", typical_p, "typical_p", "locally typical sampling (default: 1, off)"),
    FLOAT_ROW("--xtc-probability", NULL, "P", xtc_probability, "xtc probability",
              "XTC: chance of removing the top tokens (default: 0, off)"),
    FLOAT_ROW("--xtc-threshold", NULL, "T", xtc_threshold, "xtc threshold",
              "XTC: probability a token needs to be removed (default: 0.1)"),
    FLOAT_ROW("--top-nsigma", "--top-n-sigma", "N", top_n_sigma, "top_n_sigma",
              "top-n-sigma sampling (default: -1, off)"),
    FLOAT_ROW("--dynatemp-range", NULL, "R", dynatemp_range, "dynamic temperature range",
              "dynamic temperature range (default: 0, off)"),
    FLOAT_ROW("--dynatemp-exp", NULL, "E", dynatemp_exponent, "dynamic temperature exponent",
              "dynamic temperature exponent (default: 1)"),
    INT_ROW("--repeat-last-n", "N", penalty_last_n, -1, INT32_MAX, "penalty last_n",
            "tokens the penalties look back on (default: 64; 0: off, -1: the context)"),
    FLOAT_ROW("--repeat-penalty", NULL, "P", penalty_repeat, "repeat penalty",
              "penalty for repeated tokens (default: 1, off)"),
    FLOAT_ROW("--presence-penalty", NULL, "P", penalty_present, "presence penalty",
              "presence penalty (default: 0, off)"),
    FLOAT_ROW("--frequency-penalty", NULL, "P", penalty_freq, "frequency penalty",
              "frequency penalty (default: 0, off)"),
    FLOAT_ROW("--dry-multiplier", NULL, "M", dry_multiplier, "DRY multiplier", "DRY sampling (default: 0, off)"),
    FLOAT_ROW("--dry-base", NULL, "B", dry_base, "DRY base", "DRY base (default: 1.75)"),
    INT_ROW("--dry-allowed-length", "N", dry_allowed_length, 0, INT32_MAX, "DRY allowed length",
            "DRY: longest repetition without penalty (default: 2)"),
    INT_ROW("--dry-penalty-last-n", "N", dry_last_n, -1, INT32_MAX, "DRY last_n",
            "DRY: tokens looked back on (default: 64; -1: the context)"),
    { .names = { "--dry-sequence-breaker" },
      .arg = "STRING",
      .set = set_dry_breaker,
      .help = "a DRY sequence breaker (repeatable; escapes such as \\n processed): the first replaces the default "
              "breakers ('\\n', ':', '\"', '*'); \"none\" clears them" },
    { .names = { "--samplers" },
      .arg = "SAMPLERS",
      .set = set_samplers,
      .help = "the samplers in the order they apply, separated by ';' (default: "
              "penalties;dry;top_n_sigma;top_k;typ_p;top_p;min_p;xtc;temperature; also infill, adaptive_p)" },
    { .names = { "--sampler-seq", "--sampling-seq" },
      .arg = "SEQUENCE",
      .set = set_sampler_seq,
      .help = "the same as letters (default: edskypmxt; also i, a)" },
    INT_ROW("--mirostat", "N", mirostat, 0, 2, "mirostat", "Mirostat sampling: 0 off (default), 1 or 2"),
    FLOAT_ROW("--mirostat-lr", NULL, "ETA", mirostat_eta, "mirostat eta", "Mirostat learning rate (default: 0.1)"),
    FLOAT_ROW("--mirostat-ent", NULL, "TAU", mirostat_tau, "mirostat tau", "Mirostat target entropy (default: 5)"),
    { .names = { "--ignore-eos" },
      .set = cli_set_true,
      .offset = SAMPLING(ignore_eos),
      .help = "never sample end-of-generation tokens (as llama.cpp's --ignore-eos)" },
    INT_ROW("--reasoning-budget", "N", reasoning_budget.tokens, -1, INT32_MAX, "reasoning budget",
            "tokens a thinking model may think for, counted after the chat template's thinking start tag: -1 "
            "unlimited (default), 0 ends the thinking at once; then the end tag is forced"),
    { .names = { "--reasoning-budget-message" },
      .arg = "TEXT",
      .set = cli_set_str,
      .offset = SAMPLING(reasoning_budget.message),
      .help = "text forced before the thinking end tag when the reasoning budget is spent (default: none)" },
    { .names = { "-l", "--logit-bias" },
      .arg = "TOKEN(+|-)BIAS",
      .set = set_logit_bias,
      .field = "logit bias",
      .help = "change a token's likelihood, e.g. 15043+1 or 15043-inf (repeatable)" },
    { .names = { "-s", "--seed" },
      .arg = "N",
      .set = set_seed,
      .offset = SAMPLING(seed),
      .min = -1,
      .max = UINT32_MAX,
      .help = "random seed (default: -1, random)" },
};
const struct cli_group cli_group_sampling =
    CLI_GROUP("Sampling (llama.cpp's defaults)", CLI_TARGET_SAMPLING, sampling_rows);

#define CONSTRAINT(f) offsetof(struct cli_constraint, f)
static const struct cli_opt constraint_rows[] = {
    { .names = { "--grammar" },
      .arg = "GBNF",
      .set = cli_set_str,
      .offset = CONSTRAINT(grammar),
      .help = "constrain the output to a GBNF grammar" },
    { .names = { "--grammar-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = CONSTRAINT(grammar_file),
      .help = "the same, read from FILE" },
    { .names = { "-j", "--json-schema" },
      .arg = "SCHEMA",
      .set = cli_set_str,
      .offset = CONSTRAINT(json_schema),
      .help = "constrain the output to JSON valid under a JSON Schema, given inline (text starting with '{', or "
              "true) or as the path of a file" },
    { .names = { "-jf", "--json-schema-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = CONSTRAINT(json_schema_file),
      .help = "the same, read from FILE" },
    { .names = { "--json" },
      .set = cli_set_true,
      .offset = CONSTRAINT(json),
      .help = "constrain the output to a JSON object (at most one of these five)" },
};
const struct cli_group cli_group_constraint = CLI_GROUP("Structured output", CLI_TARGET_CONSTRAINT, constraint_rows);

static const struct cli_choice thinking_modes[] = {
    { "on", LLAMAC_THINKING_ON }, { "off", LLAMAC_THINKING_OFF }, { "auto", LLAMAC_THINKING_AUTO }, { NULL, 0 }
};

static const struct cli_opt template_rows[] = {
    { .names = { "--chat-template-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = offsetof(struct cli_chat, template_file),
      .field = "template_source",
      .help = "a Jinja chat template to use instead of the model's" },
    { .names = { "--chat-template" },
      .arg = "NAME|TEXT",
      .set = cli_set_str,
      .offset = offsetof(struct cli_chat, template_name),
      .field = "template_name",
      .help = "one of llama.cpp's built-in chat formats instead of the model's template (chatml, llama3, mistral-v7, "
              "gemma, ...; a wrong name's error lists them all), rendered as llama-server --no-jinja renders it: "
              "roles and text only, no tools; or, as llama-server takes it, a Jinja template's own text (a value "
              "with a blank or a '{')" },
    { .names = { "--chat-template-kwargs" },
      .arg = "JSON",
      .set = cli_set_str,
      .offset = offsetof(struct cli_chat, kwargs),
      .field = "template_kwargs_json",
      .help = "extra template variables as a JSON object, e.g. '{\"enable_thinking\":false}'" },
    { .names = { "-rea", "--reasoning" },
      .arg = "on|off|auto",
      .set = cli_set_choice,
      .offset = offsetof(struct cli_chat, thinking),
      .choices = thinking_modes,
      .field = "thinking",
      .help = "whether a thinking template thinks (enable_thinking; default: auto, where the template has a thinking "
              "section), as llama-server's --reasoning; a request's chat_template_kwargs or reasoning_effort win" },
    { .names = { "--jinja" },
      .set = cli_set_true,
      .offset = offsetof(struct cli_chat, jinja),
      .help = "accepted for llama.cpp command lines: templates are always rendered with Jinja" },
    { .names = { "--no-jinja" },
      .set = cli_set_ignored,
      .help = "accepted for llama.cpp command lines (llama-server's test suite passes it): templates are still "
              "rendered with Jinja, where llama.cpp would use its built-in formats" },
};
const struct cli_group cli_group_template = CLI_GROUP("Chat template", CLI_TARGET_CHAT, template_rows);

static const struct cli_opt log_rows[] = {
    { .names = { "-h", "--help", "--usage" }, .set = set_help, .help = "this help" },
    { .names = { "--version" },
      .set = set_version,
      .help = "llamac's version, the llama.cpp commit it was built with and its backends (as llamac --version)" },
    { .names = { "-q", "--quiet" },
      .set = cli_set_true,
      .offset = COMMON(quiet),
      .help = "no progress bar, notes or status lines on stderr (errors still)" },
    { .names = { "-v", "--verbose", "--log-verbose" },
      .set = cli_set_true,
      .offset = COMMON(verbose),
      .help = "the log at every level (llama.cpp's and llamac's: timings, choices made) on stderr, or --log-file" },
    { .names = { "-lv", "--verbosity", "--log-verbosity" },
      .arg = "N",
      .set = set_verbosity,
      .offset = COMMON(verbosity),
      .min = 0,
      .max = 1000,
      .help = "log messages up to level N: 1 errors, 2 warnings, 3 info, 4 and 5 debug (llama.cpp's scale; "
              "default: no log)" },
    { .names = { "--log-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = COMMON(log_file),
      .help = "append the log to FILE instead of stderr (at level 3 unless -v or -lv says otherwise)" },
    { .names = { "--log-disable" },
      .set = set_quiet,
      .offset = COMMON(log_disable),
      .help = "no log at all, and as -q nothing but errors on stderr" },
};
const struct cli_group cli_group_log = CLI_GROUP("Output and logging", CLI_TARGET_COMMON, log_rows);

/* ---- model path, context preparation ---- */

static bool ends_with_gguf(const char *s) {
    size_t n = strlen(s);
    return n > 5 && (strcmp(s + n - 5, ".gguf") == 0 || strcmp(s + n - 5, ".GGUF") == 0);
}

void cli_positional_model(struct cli_common *c, struct cli_parser *p, bool only_model) {
    if ((c->model_path && c->model_path[0]) || c->hf_repo || p->n_pos == 0 ||
        (!only_model && !ends_with_gguf(p->pos[0]))) {
        return;
    }
    c->model_path = p->pos[0];
    memmove(p->pos, p->pos + 1, (size_t)(p->n_pos - 1) * sizeof *p->pos);
    p->n_pos--;
}

/* Threads when -t was not given. llamac's default is the physical cores, but llama.cpp's threads wait for each other
 * by spinning: when other processes already keep CPUs busy, a thread that loses its CPU stalls all the others, and
 * a generation ran 100 times slower than with -t 1 on a loaded 2-core machine. So when the physical cores plus the
 * CPUs the 1-minute load average says are busy exceed the CPUs, use only the idle ones (at least one). */
static int32_t threads_for_load(const struct cli_common *c) {
    int32_t cores = llamac_physical_cores();
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    double load = 0;
    FILE *f = fopen("/proc/loadavg", "r");
    bool have_load = f && fscanf(f, "%lf", &load) == 1;
    if (f) {
        fclose(f);
    }
    long busy = have_load ? lround(load) : 0;
    if (cpus < 1 || cores + busy <= cpus) {
        return 0; /* llamac's default: the physical cores */
    }
    int32_t n = cpus - busy >= 1 ? (int32_t)(cpus - busy) : 1;
    n = n < cores ? n : cores;
    cli_log(c, LLAMAC_LOG_INFO,
            "llamac %s: load average %.2f on %ld CPUs: %d thread%s instead of %d (pass -t to choose; llama.cpp's "
            "threads spin while they wait for each other, so a busy machine runs many times slower with too many)",
            c->cmd, load, cpus, n, n == 1 ? "" : "s", cores);
    return n;
}

void cli_prepare_context(struct cli_common *c, const llamac_model *model, llamac_ctx_params *p) {
    if (!c->threads_given && p->n_threads == 0) {
        p->n_threads = threads_for_load(c);
    }
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    if (c->threads_given && cpus > 0 && p->n_threads > cpus) {
        cli_warn(c,
                 "-t %d is more threads than the %ld CPUs: llama.cpp's threads spin while they wait for each other, "
                 "so generation runs many times slower (-t -1 picks the physical cores)",
                 p->n_threads, cpus);
    }
    llamac_model_info mi;
    if (llamac_model_get_info(model, &mi) == LLAMAC_OK && mi.n_ctx_train > 0 && p->n_ctx > (uint32_t)mi.n_ctx_train &&
        !p->allow_ctx_overflow) {
        /* as llama.cpp: allowed, with a warning */
        cli_warn(c, "-c %u is larger than the model's training context (%d tokens): text past it may lose coherence",
                 p->n_ctx, mi.n_ctx_train);
        p->allow_ctx_overflow = true;
    }
}

bool cli_sampling_check(const struct cli_common *c, llamac_model *model, const llamac_sampling_params *sp) {
    llamac_sampler *s = NULL;
    llamac_status st = llamac_sampler_from_params(model, sp, &s);
    llamac_sampler_free(s);
    if (st == LLAMAC_E_INVALID_ARGUMENT || st == LLAMAC_E_TOKEN_RANGE) { /* a value, or an -l token id */
        cli_lib_error(c, NULL);
        return false;
    }
    return true; /* anything else (a grammar) is reported where it is used, as before */
}

llamac_context *cli_new_context(struct cli_common *c, llamac_model *model, llamac_ctx_params *p) {
    cli_prepare_context(c, model, p);
    llamac_context *ctx = NULL;
    if (llamac_ctx_new(model, p, &ctx) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        return NULL;
    }
    return ctx;
}

int cli_term_width(int fd) {
    struct winsize ws;
    if (isatty(fd) && ioctl(fd, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0) {
        return ws.ws_col;
    }
    return 0;
}

char *cli_read_all(const struct cli_common *c, const char *path, size_t *len) {
    FILE *f = path ? fopen(path, "rb") : stdin;
    if (!f) {
        cli_error(c, "cannot open '%s': %s", path, strerror(errno));
        return NULL;
    }
    llamac__dynbuf buf = LLAMAC__DYNBUF(CLI_READ_MAX);
    bool tty = !path && isatty(STDIN_FILENO);
    bool read_failed = false;
    char chunk[16384];
    for (;;) {
        size_t got;
        if (tty) {
            /* A terminal delivers a line at a time; a read that ends without a newline was ended by Ctrl-D, which
             * then ends the input (stdio would wait for a second Ctrl-D). */
            ssize_t r = read(STDIN_FILENO, chunk, sizeof chunk);
            if (r < 0 && errno == EINTR) {
                continue;
            }
            read_failed = r < 0;
            got = r > 0 ? (size_t)r : 0;
        } else {
            got = fread(chunk, 1, sizeof chunk, f);
            read_failed = got == 0 && ferror(f) != 0;
        }
        if (got == 0 || !llamac__dynbuf_add(&buf, chunk, got)) {
            break;
        }
        if (tty && chunk[got - 1] != '\n') {
            fputc('\n', stderr); /* what follows (a progress bar, the output) starts below the typed text */
            break;
        }
    }
    if (path) {
        fclose(f);
    }
    const char *what = path ? path : "standard input";
    if (read_failed) {
        cli_error(c, "cannot read %s%s%s", path ? "'" : "", what, path ? "'" : "");
    } else if (llamac__dynbuf_error(&buf) == LLAMAC__DYNBUF_TOO_BIG) {
        cli_error(c, "%s%s%s is larger than 1 GiB", path ? "'" : "", what, path ? "'" : "");
    } else if (llamac__dynbuf_error(&buf) != LLAMAC__DYNBUF_OK) {
        cli_error(c, "out of memory reading %s%s%s", path ? "'" : "", what, path ? "'" : "");
    }
    char *text = read_failed ? NULL : llamac__dynbuf_take(&buf, len);
    llamac__dynbuf_free(&buf);
    return text;
}

llamac_pooling cli_embedding_pooling(struct cli_common *c, llamac_model *model, llamac_pooling requested) {
    if (requested != LLAMAC_POOLING_DEFAULT) {
        return requested;
    }
    /* What the model's metadata (and llama.cpp's per-architecture default) says, from a small context */
    llamac_ctx_params p = llamac_ctx_params_default();
    p.n_ctx = 256;
    p.n_batch = p.n_ubatch = 256;
    p.n_threads = 1;
    p.embeddings = true;
    p.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    llamac_context *probe = NULL;
    llamac_ctx_info info;
    bool none = llamac_ctx_new(model, &p, &probe) == LLAMAC_OK && llamac_ctx_get_info(probe, &info) == LLAMAC_OK &&
                info.pooling == LLAMAC_POOLING_NONE;
    llamac_ctx_free(probe);
    if (!none) {
        return LLAMAC_POOLING_DEFAULT;
    }
    cli_note(c, "the model does not pool its token vectors (a generative model): using mean pooling, as other tools "
                "do (--pooling none gives one vector per token, --pooling last the last token's)");
    return LLAMAC_POOLING_MEAN;
}

/* Is --chat-template's value a template's own text rather than a built-in format's name? As llama-server takes it:
 * a name has no blanks and no Jinja markup, so a value with either is the text itself. */
static bool template_value_is_text(const char *value) {
    return strpbrk(value, " \t\r\n{") != NULL;
}

/* The template --chat-template names or holds, into *out; false (printed) when it is neither a built-in format nor a
 * template that parses. */
static bool template_from_value(const struct cli_common *c, const char *value, llamac_template **out) {
    llamac_status st = template_value_is_text(value) ? llamac_template_new(value, strlen(value), out)
                                                     : llamac_template_builtin(value, out);
    if (st != LLAMAC_OK) {
        cli_error(c, "--chat-template: %s", llamac_last_error());
        return false;
    }
    return true;
}

bool cli_template_check(const struct cli_common *c, const struct cli_chat *k) {
    if (k->template_file && k->template_name) {
        cli_error(c, "give at most one of --chat-template and --chat-template-file");
        return false;
    }
    llamac_template *t = NULL;
    if (k->template_name && !template_from_value(c, k->template_name, &t)) {
        return false;
    }
    llamac_template_free(t);
    return true;
}

bool cli_template_from_flags(struct cli_common *c, const struct cli_chat *k, llamac_template **out) {
    *out = NULL;
    if (k->template_name) {
        return template_from_value(c, k->template_name, out);
    }
    if (!k->template_file) {
        return true;
    }
    size_t len = 0;
    char *src = cli_read_all(c, k->template_file, &len);
    if (!src) {
        return false;
    }
    if (llamac_template_new(src, len, out) != LLAMAC_OK) {
        cli_error(c, "--chat-template-file %s: %s", k->template_file, llamac_last_error());
    }
    free(src);
    return *out != NULL;
}

void cli_template_note(const struct cli_common *c, const struct cli_chat *k, const llamac_model *model) {
    const char *own = NULL;
    if (!k->template_file && !k->template_name && llamac_model_chat_template(model, NULL, &own) != LLAMAC_OK &&
        llamac_model_chat_template(model, "tool_use", &own) != LLAMAC_OK) {
        cli_note(c, "the model has no chat template: using ChatML, as llama-server does (--chat-template-file FILE "
                    "chooses another)");
    }
}

bool cli_json_object(const struct cli_common *c, const char *flag, const char *text) {
    json_error_t err;
    json_t *v = json_loads(text, JSON_REJECT_DUPLICATES, &err);
    bool ok = json_is_object(v);
    if (!v) {
        cli_error(c, "%s: invalid JSON at line %d, column %d: %s", flag, err.line, err.column, err.text);
    } else if (!ok) {
        cli_error(c, "%s: expected a JSON object, e.g. '{\"enable_thinking\": false}'", flag);
    }
    json_decref(v);
    return ok;
}

bool cli_chat_params(struct cli_common *c, const struct cli_chat *k, llamac_chat_params *cp, char **owned) {
    *owned = NULL;
    if (k->template_file) {
        size_t len = 0;
        if (!(*owned = cli_read_all(c, k->template_file, &len))) {
            return false;
        }
        cp->template_source = *owned;
    }
    if (k->template_name && template_value_is_text(k->template_name)) {
        cp->template_source = k->template_name; /* --chat-template TEXT: the template itself */
    } else {
        cp->template_name = k->template_name;
    }
    cp->system_prompt = k->system;
    cp->template_kwargs_json = k->kwargs;
    cp->thinking = (llamac_thinking)k->thinking;
    if (k->keep_turns > 0) {
        cp->keep_last_turns = (int32_t)k->keep_turns;
    }
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
