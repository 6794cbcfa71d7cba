/*
 * quantize.c - llamac_quantize: llama.cpp's llama_model_quantize, checked first and written safely.
 *
 * The quantization itself is llama.cpp's, so the output is byte-identical to llama-quantize's. What llamac adds:
 *   - Checks before any work. llama.cpp throws (or, in ggml, aborts the process) on many inputs halfway through a
 *     run: an invalid regex, a quantized input without allow_requantize, a low-bit type without importance data, a
 *     forced type whose block size does not divide a tensor's rows. Parameters are checked directly; the rest is
 *     checked against llama.cpp's own plan, obtained by running it in dry-run mode first (cheap: no tensor data is
 *     read), so the checks can never disagree with what llama.cpp would choose.
 *   - Progress and cancel. llama_model_quantize has no callback, but it logs one line per tensor ("[  12/ 201]
 *     name ..."); the calling thread's log lines are tapped (log.c) to report progress by bytes. To cancel, the
 *     tap makes the temporary output's file descriptor read-only (dup2), so llama.cpp's next write fails and it
 *     stops cleanly within one tensor; the temporary file is then removed.
 *   - A temporary output renamed into place only when complete (outfile.c).
 * The plan is read from the dry run's log lines, whose format belongs to the pinned llama.cpp: if it ever changes,
 * quantization fails with LLAMAC_E_INTERNAL rather than guessing (and the fidelity tests show it).
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- names ---- */

struct ftype_entry {
    const char *name;
    llamac_ftype ftype;
    enum ggml_type type; /* the file type's default tensor type */
};

/* llama-quantize's list and order; its aliases Q3_K, Q4_K and Q5_K are read by llamac_ftype_from_name only. */
static const struct ftype_entry ftypes[] = {
    { "Q1_0", LLAMAC_FTYPE_Q1_0, GGML_TYPE_Q1_0 },
    { "Q2_0", LLAMAC_FTYPE_Q2_0, GGML_TYPE_Q2_0 },
    { "Q4_0", LLAMAC_FTYPE_Q4_0, GGML_TYPE_Q4_0 },
    { "Q4_1", LLAMAC_FTYPE_Q4_1, GGML_TYPE_Q4_1 },
    { "MXFP4_MOE", LLAMAC_FTYPE_MXFP4_MOE, GGML_TYPE_MXFP4 },
    { "Q5_0", LLAMAC_FTYPE_Q5_0, GGML_TYPE_Q5_0 },
    { "Q5_1", LLAMAC_FTYPE_Q5_1, GGML_TYPE_Q5_1 },
    { "IQ2_XXS", LLAMAC_FTYPE_IQ2_XXS, GGML_TYPE_IQ2_XXS },
    { "IQ2_XS", LLAMAC_FTYPE_IQ2_XS, GGML_TYPE_IQ2_XS },
    { "IQ2_S", LLAMAC_FTYPE_IQ2_S, GGML_TYPE_IQ2_XS },
    { "IQ2_M", LLAMAC_FTYPE_IQ2_M, GGML_TYPE_IQ2_S },
    { "IQ1_S", LLAMAC_FTYPE_IQ1_S, GGML_TYPE_IQ1_S },
    { "IQ1_M", LLAMAC_FTYPE_IQ1_M, GGML_TYPE_IQ1_M },
    { "TQ1_0", LLAMAC_FTYPE_TQ1_0, GGML_TYPE_TQ1_0 },
    { "TQ2_0", LLAMAC_FTYPE_TQ2_0, GGML_TYPE_TQ2_0 },
    { "Q2_K", LLAMAC_FTYPE_Q2_K, GGML_TYPE_Q2_K },
    { "Q2_K_S", LLAMAC_FTYPE_Q2_K_S, GGML_TYPE_Q2_K },
    { "IQ3_XXS", LLAMAC_FTYPE_IQ3_XXS, GGML_TYPE_IQ3_XXS },
    { "IQ3_S", LLAMAC_FTYPE_IQ3_S, GGML_TYPE_IQ3_S },
    { "IQ3_M", LLAMAC_FTYPE_IQ3_M, GGML_TYPE_IQ3_S },
    { "IQ3_XS", LLAMAC_FTYPE_IQ3_XS, GGML_TYPE_IQ3_S },
    { "Q3_K_S", LLAMAC_FTYPE_Q3_K_S, GGML_TYPE_Q3_K },
    { "Q3_K_M", LLAMAC_FTYPE_Q3_K_M, GGML_TYPE_Q3_K },
    { "Q3_K_L", LLAMAC_FTYPE_Q3_K_L, GGML_TYPE_Q3_K },
    { "IQ4_NL", LLAMAC_FTYPE_IQ4_NL, GGML_TYPE_IQ4_NL },
    { "IQ4_XS", LLAMAC_FTYPE_IQ4_XS, GGML_TYPE_IQ4_XS },
    { "Q4_K_S", LLAMAC_FTYPE_Q4_K_S, GGML_TYPE_Q4_K },
    { "Q4_K_M", LLAMAC_FTYPE_Q4_K_M, GGML_TYPE_Q4_K },
    { "Q5_K_S", LLAMAC_FTYPE_Q5_K_S, GGML_TYPE_Q5_K },
    { "Q5_K_M", LLAMAC_FTYPE_Q5_K_M, GGML_TYPE_Q5_K },
    { "Q6_K", LLAMAC_FTYPE_Q6_K, GGML_TYPE_Q6_K },
    { "Q8_0", LLAMAC_FTYPE_Q8_0, GGML_TYPE_Q8_0 },
    { "F16", LLAMAC_FTYPE_F16, GGML_TYPE_F16 },
    { "BF16", LLAMAC_FTYPE_BF16, GGML_TYPE_BF16 },
    { "F32", LLAMAC_FTYPE_F32, GGML_TYPE_F32 },
    { "COPY", LLAMAC_FTYPE_COPY, GGML_TYPE_COUNT },
};
#define N_FTYPES (sizeof ftypes / sizeof ftypes[0])

static const struct {
    const char *name;
    llamac_ftype ftype;
} ftype_aliases[] = { { "Q3_K", LLAMAC_FTYPE_Q3_K_M },
                      { "Q4_K", LLAMAC_FTYPE_Q4_K_M },
                      { "Q5_K", LLAMAC_FTYPE_Q5_K_M } };

/* The types ggml_quantize_chunk can write: the only legal targets (anything else aborts in ggml). */
static const llamac_tensor_type target_types[] = {
    LLAMAC_TYPE_F32,    LLAMAC_TYPE_F16,    LLAMAC_TYPE_BF16,    LLAMAC_TYPE_Q1_0,  LLAMAC_TYPE_Q2_0,
    LLAMAC_TYPE_Q4_0,   LLAMAC_TYPE_Q4_1,   LLAMAC_TYPE_Q5_0,    LLAMAC_TYPE_Q5_1,  LLAMAC_TYPE_Q8_0,
    LLAMAC_TYPE_MXFP4,  LLAMAC_TYPE_NVFP4,  LLAMAC_TYPE_Q2_K,    LLAMAC_TYPE_Q3_K,  LLAMAC_TYPE_Q4_K,
    LLAMAC_TYPE_Q5_K,   LLAMAC_TYPE_Q6_K,   LLAMAC_TYPE_TQ1_0,   LLAMAC_TYPE_TQ2_0, LLAMAC_TYPE_IQ2_XXS,
    LLAMAC_TYPE_IQ2_XS, LLAMAC_TYPE_IQ2_S,  LLAMAC_TYPE_IQ3_XXS, LLAMAC_TYPE_IQ3_S, LLAMAC_TYPE_IQ1_S,
    LLAMAC_TYPE_IQ1_M,  LLAMAC_TYPE_IQ4_NL, LLAMAC_TYPE_IQ4_XS,
};
#define N_TARGETS (sizeof target_types / sizeof target_types[0])

_Static_assert(LLAMAC_TYPE_Q2_0 == (int)GGML_TYPE_Q2_0 && LLAMAC_TYPE_MXFP4 == (int)GGML_TYPE_MXFP4 &&
                   LLAMAC_TYPE_TQ1_0 == (int)GGML_TYPE_TQ1_0 && LLAMAC_TYPE_BF16 == (int)GGML_TYPE_BF16 &&
                   LLAMAC_TYPE_IQ1_M == (int)GGML_TYPE_IQ1_M && LLAMAC_TYPE_IQ4_XS == (int)GGML_TYPE_IQ4_XS,
               "llamac_tensor_type follows ggml_type");
_Static_assert(LLAMAC_FTYPE_Q2_0 == (int)LLAMA_FTYPE_MOSTLY_Q2_0 &&
                   LLAMAC_FTYPE_TQ1_0 == (int)LLAMA_FTYPE_MOSTLY_TQ1_0 &&
                   LLAMAC_FTYPE_BF16 == (int)LLAMA_FTYPE_MOSTLY_BF16 &&
                   LLAMAC_FTYPE_MXFP4_MOE == (int)LLAMA_FTYPE_MOSTLY_MXFP4_MOE,
               "llamac_ftype follows llama_ftype");

static bool iequal(const char *a, const char *b) {
    for (; *a && *b; a++, b++) {
        char x = *a >= 'a' && *a <= 'z' ? (char)(*a - 32) : *a;
        char y = *b >= 'a' && *b <= 'z' ? (char)(*b - 32) : *b;
        if (x != y) {
            return false;
        }
    }
    return *a == *b;
}

static const struct ftype_entry *ftype_find(llamac_ftype f) {
    for (size_t i = 0; i < N_FTYPES; i++) {
        if (ftypes[i].ftype == f) {
            return &ftypes[i];
        }
    }
    return NULL;
}

size_t llamac_ftype_count(void) {
    return N_FTYPES;
}

llamac_status llamac_ftype_at(size_t i, llamac_ftype *out) {
    if (!out || i >= N_FTYPES) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ftype_at: %s",
                            out ? "index out of range" : "out is NULL");
    }
    *out = ftypes[i].ftype;
    return llamac__ok();
}

const char *llamac_ftype_name(llamac_ftype ftype) {
    const struct ftype_entry *e = ftype_find(ftype);
    return e ? e->name : NULL;
}

const char *llamac_ftype_describe(llamac_ftype ftype) {
    if (ftype == LLAMAC_FTYPE_COPY) {
        return "copy";
    }
    return ftype_find(ftype) ? llama_ftype_name((enum llama_ftype)ftype) : NULL;
}

llamac_status llamac_ftype_from_name(const char *name, llamac_ftype *out) {
    if (!name || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ftype_from_name: %s is NULL", name ? "out" : "name");
    }
    for (size_t i = 0; i < N_FTYPES; i++) {
        if (iequal(name, ftypes[i].name)) {
            *out = ftypes[i].ftype;
            return llamac__ok();
        }
    }
    for (size_t i = 0; i < sizeof ftype_aliases / sizeof ftype_aliases[0]; i++) {
        if (iequal(name, ftype_aliases[i].name)) {
            *out = ftype_aliases[i].ftype;
            return llamac__ok();
        }
    }
    char *end = NULL;
    long v = name[0] >= '0' && name[0] <= '9' ? strtol(name, &end, 10) : -1;
    if (end && *end == '\0' && v >= 0 && v < 1000 && ftype_find((llamac_ftype)v)) {
        *out = (llamac_ftype)v;
        return llamac__ok();
    }
    char list[512];
    size_t n = 0;
    for (size_t i = 0; i < N_FTYPES && n < sizeof list; i++) {
        int w = snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", ftypes[i].name);
        n += w > 0 ? (size_t)w : 0;
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown quantization type '%s' (valid: %s)", name, list);
}

const char *llamac_tensor_type_name(int32_t type) {
    if (type < 0 || type >= GGML_TYPE_COUNT || ggml_blck_size((enum ggml_type)type) == 0) {
        return NULL;
    }
    return ggml_type_name((enum ggml_type)type);
}

static bool is_target(int32_t t) {
    for (size_t i = 0; i < N_TARGETS; i++) {
        if ((int32_t)target_types[i] == t) {
            return true;
        }
    }
    return false;
}

llamac_status llamac_tensor_type_from_name(const char *name, llamac_tensor_type *out) {
    if (!name || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tensor_type_from_name: %s is NULL",
                            name ? "out" : "name");
    }
    for (size_t i = 0; i < N_TARGETS; i++) {
        if (iequal(name, ggml_type_name((enum ggml_type)target_types[i]))) {
            *out = target_types[i];
            return llamac__ok();
        }
    }
    char list[512];
    size_t n = 0;
    for (size_t i = 0; i < N_TARGETS && n < sizeof list; i++) {
        int w =
            snprintf(list + n, sizeof list - n, "%s%s", i ? ", " : "", ggml_type_name((enum ggml_type)target_types[i]));
        n += w > 0 ? (size_t)w : 0;
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tensor type '%s' (valid: %s)", name, list);
}

llamac_quantize_params llamac_quantize_params_default(void) {
    llamac_quantize_params p;
    memset(&p, 0, sizeof p);
    p.ftype = LLAMAC_FTYPE_Q8_0;
    p.quantize_output = true;
    p.output_type = LLAMAC_TYPE_DEFAULT;
    p.token_embedding_type = LLAMAC_TYPE_DEFAULT;
    return p;
}

void llamac_quantize_report_free(llamac_quantize_report *report) {
    if (!report) {
        return;
    }
    for (size_t i = 0; i < report->n_tensors; i++) {
        free((char *)(uintptr_t)report->tensors[i].name);
    }
    free((void *)(uintptr_t)report->tensors);
    free(report);
}

/* ---- the plan, read from llama.cpp's dry run ---- */

struct plan_entry {
    char name[GGML_MAX_NAME];
    enum ggml_type from, to;
    size_t in_index; /* the input tensor it comes from */
};

struct run {
    const llamac_gguf *in;
    const int32_t *prune; /* sorted, unique */
    size_t n_prune;
    /* dry run */
    bool dry;
    struct plan_entry *plan;
    size_t n_plan, cap_plan;
    bool pending;    /* the last entry waits for its "size = " line */
    int n_announced; /* n of "[i/n]" */
    size_t n_fallback;
    bool bad_log;
    char bad_line[160];
    char error[600]; /* llama.cpp's "failed to quantize: ..." */
    /* real run */
    uint64_t *before; /* before[i]: input bytes of plan entries 0..i-1 */
    llamac_progress_fn progress;
    void *user_data;
    bool cancelled;
    const char *const *out_tmps; /* the temporary outputs llama.cpp writes */
    size_t n_out_tmps;
};

/* The old layer of a (renumbered) layer of the output: pruned layers are gone, the rest move down. */
static int32_t old_layer(const struct run *r, int32_t layer) {
    int32_t old = layer;
    for (size_t i = 0; i < r->n_prune && r->prune[i] <= old; i++) {
        old++;
    }
    return old;
}

/* The input name of an output tensor name (as llama.cpp's remap_imatrix). Into buf (GGML_MAX_NAME + 16). */
static const char *input_name(const struct run *r, const char *name, char *buf, size_t cap) {
    int layer, used = 0;
    if (r->n_prune == 0 || sscanf(name, "blk.%d.%n", &layer, &used) != 1 || used == 0) {
        return name;
    }
    snprintf(buf, cap, "blk.%d.%s", (int)old_layer(r, layer), name + used);
    return buf;
}

static size_t find_input(const llamac_gguf *g, const char *name) {
    for (size_t i = 0; i < g->n_tensors; i++) {
        if (strcmp(gguf_get_tensor_name(g->shards[g->tensors[i].shard].g, g->tensors[i].idx), name) == 0) {
            return i;
        }
    }
    return SIZE_MAX;
}

static bool type_by_name(const char *s, size_t len, enum ggml_type *out) {
    for (int t = 0; t < GGML_TYPE_COUNT; t++) {
        const char *n = llamac_tensor_type_name(t);
        if (n && strlen(n) == len && strncmp(n, s, len) == 0) {
            *out = (enum ggml_type)t;
            return true;
        }
    }
    return false;
}

static void bad_log(struct run *r, const char *line) {
    if (!r->bad_log) {
        r->bad_log = true;
        snprintf(r->bad_line, sizeof r->bad_line, "%s", line);
    }
}

/* "[  12/  48] blk.1.attn_q.weight           - [    64,    64,     1,     1], type =    f32, " */
static void plan_start(struct run *r, const char *line, int n) {
    if (r->pending) {
        bad_log(r, line);
    }
    const char *name = strchr(line, ']');
    const char *dash = name ? strstr(name, " - [") : NULL;
    const char *type = dash ? strstr(dash, "type = ") : NULL;
    if (!type) {
        bad_log(r, line);
        return;
    }
    name += 2;
    size_t len = (size_t)(dash - name);
    while (len > 0 && name[len - 1] == ' ') {
        len--;
    }
    type += 7;
    while (*type == ' ') {
        type++;
    }
    const char *comma = strchr(type, ',');
    if (r->n_plan == r->cap_plan) {
        size_t cap = r->cap_plan ? r->cap_plan * 2 : 256;
        struct plan_entry *p = realloc(r->plan, cap * sizeof *p);
        if (!p) {
            bad_log(r, "(out of memory)");
            return;
        }
        r->plan = p;
        r->cap_plan = cap;
    }
    struct plan_entry *e = &r->plan[r->n_plan];
    if (len >= sizeof e->name || !comma || !type_by_name(type, (size_t)(comma - type), &e->from)) {
        bad_log(r, line);
        return;
    }
    memcpy(e->name, name, len);
    e->name[len] = '\0';
    char buf[GGML_MAX_NAME + 16];
    e->in_index = find_input(r->in, input_name(r, e->name, buf, sizeof buf));
    if (e->in_index == SIZE_MAX) {
        bad_log(r, line);
        return;
    }
    r->n_plan++;
    r->n_announced = n;
    r->pending = true;
}

/* "size =     0.02 MiB ->     0.00 MiB (q8_0)" or "size =    0.000 MiB" */
static void plan_size(struct run *r, const char *line) {
    struct plan_entry *e = &r->plan[r->n_plan - 1];
    r->pending = false;
    if (!strstr(line, " -> ")) {
        e->to = e->from;
        return;
    }
    const char *open = strrchr(line, '(');
    const char *close = open ? strchr(open, ')') : NULL;
    if (!close || !type_by_name(open + 1, (size_t)(close - open - 1), &e->to)) {
        bad_log(r, line);
    }
}

/* Makes the temporary outputs' open descriptors read-only, so that llama.cpp's next write fails and it stops. */
static void break_outputs(const struct run *r) {
    long max = sysconf(_SC_OPEN_MAX);
    max = max < 0 || max > 65536 ? 65536 : max;
    for (size_t k = 0; k < r->n_out_tmps; k++) {
        struct stat target;
        if (stat(r->out_tmps[k], &target) != 0) {
            continue;
        }
        int ro = open(r->out_tmps[k], O_RDONLY | O_CLOEXEC);
        if (ro < 0) {
            continue;
        }
        for (int fd = 0; fd < (int)max; fd++) {
            struct stat st;
            if (fd != ro && fstat(fd, &st) == 0 && st.st_dev == target.st_dev && st.st_ino == target.st_ino) {
                dup2(ro, fd);
            }
        }
        close(ro);
    }
}

static void on_line(llamac_log_level level, const char *line, void *user_data) {
    struct run *r = user_data;
    const char *failed = level == LLAMAC_LOG_ERROR ? strstr(line, "failed to quantize: ") : NULL;
    if (failed) {
        snprintf(r->error, sizeof r->error, "%s", failed + 20);
        return;
    }
    int i, n;
    bool announce = line[0] == '[' && sscanf(line, "[%d/%d]", &i, &n) == 2 && i >= 1 && i <= n;
    if (r->dry) {
        if (strstr(line, "-> falling back to")) {
            r->n_fallback++;
        } else if (announce) {
            plan_start(r, line, n);
        } else if (r->pending && strncmp(line, "size = ", 7) == 0) {
            plan_size(r, line);
        }
        return;
    }
    if (!announce || r->cancelled || !r->progress) {
        return;
    }
    size_t k = (size_t)i - 1 < r->n_plan ? (size_t)i - 1 : r->n_plan;
    float f = r->before[r->n_plan] ? (float)((double)r->before[k] / (double)r->before[r->n_plan]) : 0.0f;
    if (!r->progress(f, r->user_data)) {
        r->cancelled = true;
        break_outputs(r);
    }
}

/* ---- checks ---- */

static bool is_token_embd(const char *name) {
    return strcmp(name, "token_embd.weight") == 0 || strcmp(name, "per_layer_token_embd.weight") == 0;
}

/* llama.cpp's rule for tensors it refuses to make without importance data. */
static bool requires_imatrix(const char *name, enum ggml_type t, llamac_ftype ftype) {
    if (is_token_embd(name) || strcmp(name, "output.weight") == 0) {
        return false;
    }
    switch (t) {
    case GGML_TYPE_IQ3_XXS:
    case GGML_TYPE_IQ2_XXS:
    case GGML_TYPE_IQ2_XS:
    case GGML_TYPE_IQ2_S:
    case GGML_TYPE_IQ1_M:
    case GGML_TYPE_IQ1_S: return true;
    case GGML_TYPE_Q2_K: return ftype == LLAMAC_FTYPE_Q2_K_S;
    default: return false;
    }
}

static const struct llamac__imatrix_entry *imatrix_find(const struct llamac__imatrix *m, const char *name) {
    for (size_t i = 0; m && i < m->n; i++) {
        if (strcmp(m->entries[i].name, name) == 0) {
            return &m->entries[i];
        }
    }
    return NULL;
}

static llamac_status check_params(const llamac_quantize_params *p, bool have_out) {
    if (!ftype_find(p->ftype)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "ftype %d is not a quantization type", (int)p->ftype);
    }
    if (!have_out && !p->dry_run) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_quantize: out is NULL (allowed only for a dry run)");
    }
    if (p->n_threads < 0 || p->n_threads > 4096) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_threads %d is out of range (0: all cores, up to 4096)",
                            p->n_threads);
    }
    if (p->output_type != LLAMAC_TYPE_DEFAULT && !is_target(p->output_type)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "output_type %d is not a type quantization can write",
                            (int)p->output_type);
    }
    if (p->token_embedding_type != LLAMAC_TYPE_DEFAULT && !is_target(p->token_embedding_type)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "token_embedding_type %d is not a type quantization can write",
                            (int)p->token_embedding_type);
    }
    if (p->n_tensor_types > 0 && !p->tensor_types) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_tensor_types is %zu but tensor_types is NULL",
                            p->n_tensor_types);
    }
    for (size_t i = 0; i < p->n_tensor_types; i++) {
        const llamac_tensor_type_override *o = &p->tensor_types[i];
        char why[256];
        if (!o->pattern || !o->pattern[0]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tensor_types[%zu]: the pattern is empty", i);
        }
        if (!is_target(o->type)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "tensor_types[%zu] ('%s'): type %d is not a type quantization can write", i, o->pattern,
                                (int)o->type);
        }
        if (!llamac__regex_valid(o->pattern, why, sizeof why)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "tensor_types[%zu]: '%s' is not a valid regular expression: %s", i, o->pattern, why);
        }
    }
    const struct ftype_entry *fe = ftype_find(p->ftype);
    if (p->ftype == LLAMAC_FTYPE_COPY) {
        const char *ignored = p->n_tensor_types                                ? "tensor_types"
                              : p->output_type != LLAMAC_TYPE_DEFAULT          ? "output_type"
                              : p->token_embedding_type != LLAMAC_TYPE_DEFAULT ? "token_embedding_type"
                              : p->pure                                        ? "pure"
                              : p->imatrix                                     ? "imatrix"
                                                                               : NULL;
        if (ignored) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "COPY copies every tensor unchanged, so %s would have no effect; drop it or choose a "
                                "quantization type",
                                ignored);
        }
    } else if (p->n_tensor_types > 0 && !ggml_is_quantized(fe->type)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "tensor_types apply only when the file type quantizes; llama.cpp ignores them for %s",
                            fe->name);
    }
    if (p->n_prune_layers > 0 && !p->prune_layers) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_prune_layers is %zu but prune_layers is NULL",
                            p->n_prune_layers);
    }
    for (size_t i = 0; i < p->n_prune_layers; i++) {
        if (p->prune_layers[i] < 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "prune_layers[%zu] is %d; layers count from 0", i,
                                p->prune_layers[i]);
        }
    }
    llamac_status st = llamac__kv_overrides_check(p->kv_overrides, p->n_kv_overrides);
    if (st != LLAMAC_OK) {
        return st;
    }
    /* what only quantization refuses: the keys of the file's layout, and integers its u32 cannot hold */
    for (size_t i = 0; i < p->n_kv_overrides; i++) {
        const llamac_kv_override *o = &p->kv_overrides[i];
        if (strcmp(o->key, GGUF_KEY_GENERAL_ALIGNMENT) == 0 || strncmp(o->key, "split.", 6) == 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "kv_overrides[%zu]: '%s' describes the file's layout and cannot be overridden", i,
                                o->key);
        }
        if (o->type == LLAMAC_KV_OVERRIDE_INT &&
            (o->int_value < -(int64_t)UINT32_MAX || o->int_value > (int64_t)UINT32_MAX)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "kv_overrides[%zu] ('%s'): %lld does not fit the u32 that quantization writes", i,
                                o->key, (long long)o->int_value);
        }
    }
    return LLAMAC_OK;
}

static int cmp_i32(const void *a, const void *b) {
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

/* Sorted, unique pruned layers, checked against the model's layer count. Caller frees *out. */
static llamac_status prune_list(const llamac_quantize_params *p, const llamac_gguf *in, int32_t **out, size_t *n) {
    *out = NULL;
    *n = 0;
    if (p->n_prune_layers == 0) {
        return LLAMAC_OK;
    }
    uint32_t n_layer = in->info.n_layer;
    if (n_layer == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "cannot prune layers: the model does not say how many it has "
                                                       "(no ARCH.block_count)");
    }
    int32_t *list = llamac__malloc((p->n_prune_layers + 1) * sizeof *list);
    if (!list) {
        return LLAMAC_E_NO_MEMORY;
    }
    memcpy(list, p->prune_layers, p->n_prune_layers * sizeof *list);
    qsort(list, p->n_prune_layers, sizeof *list, cmp_i32);
    size_t k = 0;
    for (size_t i = 0; i < p->n_prune_layers; i++) {
        if (k == 0 || list[k - 1] != list[i]) {
            list[k++] = list[i];
        }
    }
    if ((uint32_t)list[k - 1] >= n_layer) {
        llamac_status st =
            llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "cannot prune layer %d: the model has %u layers (0 to %u)",
                         list[k - 1], n_layer, n_layer - 1);
        free(list);
        return st;
    }
    if (k == n_layer) {
        free(list);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "pruning all %u layers would leave an empty model", n_layer);
    }
    list[k] = -1; /* llama.cpp's terminator */
    *out = list;
    *n = k;
    return LLAMAC_OK;
}

/* Checks llama.cpp's plan for what it would refuse, or abort on, halfway through the real run. */
static llamac_status check_plan(const struct run *r, const llamac_quantize_params *p,
                                const struct llamac__imatrix *im) {
    for (size_t i = 0; i < r->n_plan; i++) {
        const struct plan_entry *e = &r->plan[i];
        if (e->from == e->to) {
            continue;
        }
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(r->in, e->in_index, &t);
        const char *from = ggml_type_name(e->from), *to = ggml_type_name(e->to);
        if (ggml_is_quantized(e->from) && !p->allow_requantize) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "tensor '%s' is already quantized (%s); converting it to %s needs allow_requantize "
                                "(--allow-requantize), and quality suffers",
                                e->name, from, to);
        }
        if (e->from != GGML_TYPE_F32 && e->from != GGML_TYPE_F16 && e->from != GGML_TYPE_BF16 &&
            (!ggml_is_quantized(e->from) || !ggml_get_type_traits(e->from)->to_float)) {
            return llamac__fail(LLAMAC_E_UNSUPPORTED, "tensor '%s' is %s, which llama.cpp cannot convert to %s",
                                e->name, from, to);
        }
        int64_t blck = ggml_blck_size(e->to);
        if (t.ne[0] % blck != 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "tensor '%s' has rows of %lld elements; %s stores blocks of %lld, so it cannot hold "
                                "them (llama.cpp would abort; choose another output or token embedding type)",
                                e->name, (long long)t.ne[0], to, (long long)blck);
        }
        char buf[GGML_MAX_NAME + 16];
        const struct llamac__imatrix_entry *ie = imatrix_find(im, input_name(r, e->name, buf, sizeof buf));
        bool usable = ie && ie->size == (size_t)t.ne[0] * (size_t)t.ne[2];
        if (ie && !usable && !is_token_embd(e->name)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "the importance matrix has %zu values for '%s', which needs %lld: it was computed for "
                                "another model",
                                ie->size, e->name, (long long)t.ne[0] * (long long)t.ne[2]);
        }
        bool needs = requires_imatrix(e->name, e->to, p->ftype) || ggml_quantize_requires_imatrix(e->to);
        if (needs && !usable) {
            if (!im) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                    "%s needs an importance matrix: tensor '%s' becomes %s; pass one (imatrix, "
                                    "--imatrix FILE from llama-imatrix)",
                                    llamac_ftype_name(p->ftype), e->name, to);
            }
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "the importance matrix has no data for '%s', which becomes %s and cannot be made "
                                "without it",
                                e->name, to);
        }
    }
    return LLAMAC_OK;
}

/* ---- running llama.cpp ---- */

/* The llama.cpp parameters, and the arrays they point to. */
struct llama_args {
    struct llama_model_quantize_params lp;
    struct llama_model_kv_override *kv;
    struct llama_model_tensor_override *tt;
    struct llama_model_imatrix_data *im;
};

static void args_free(struct llama_args *a) {
    free(a->kv);
    free(a->tt);
    free(a->im);
}

static llamac_status args_build(struct llama_args *a, const llamac_quantize_params *p, const int32_t *prune,
                                const struct llamac__imatrix *im) {
    memset(a, 0, sizeof *a);
    struct llama_model_quantize_params *lp = &a->lp;
    *lp = llama_model_quantize_default_params();
    lp->nthread = p->n_threads;
    lp->ftype = p->ftype == LLAMAC_FTYPE_COPY ? LLAMA_FTYPE_ALL_F32 : (enum llama_ftype)p->ftype;
    lp->only_copy = p->ftype == LLAMAC_FTYPE_COPY;
    lp->output_tensor_type = p->output_type == LLAMAC_TYPE_DEFAULT ? GGML_TYPE_COUNT : (enum ggml_type)p->output_type;
    lp->token_embedding_type =
        p->token_embedding_type == LLAMAC_TYPE_DEFAULT ? GGML_TYPE_COUNT : (enum ggml_type)p->token_embedding_type;
    lp->allow_requantize = p->allow_requantize;
    lp->quantize_output_tensor = p->quantize_output;
    lp->pure = p->pure;
    lp->keep_split = p->keep_split;
    lp->prune_layers = prune;

    /* kv overrides: the caller's, then what llama-quantize records about an importance matrix, in its order */
    size_t n_kv = p->n_kv_overrides + (im ? 4 : 0);
    a->kv = llamac__calloc(n_kv + 1, sizeof *a->kv);
    if (!a->kv) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t k = 0;
    for (size_t i = 0; i < p->n_kv_overrides; i++, k++) {
        const llamac_kv_override *o = &p->kv_overrides[i];
        struct llama_model_kv_override *d = &a->kv[k];
        snprintf(d->key, sizeof d->key, "%s", o->key);
        switch (o->type) {
        case LLAMAC_KV_OVERRIDE_INT:
            d->tag = LLAMA_KV_OVERRIDE_TYPE_INT;
            d->val_i64 = o->int_value;
            break;
        case LLAMAC_KV_OVERRIDE_FLOAT:
            d->tag = LLAMA_KV_OVERRIDE_TYPE_FLOAT;
            d->val_f64 = o->float_value;
            break;
        case LLAMAC_KV_OVERRIDE_BOOL:
            d->tag = LLAMA_KV_OVERRIDE_TYPE_BOOL;
            d->val_bool = o->bool_value;
            break;
        case LLAMAC_KV_OVERRIDE_STR:
            d->tag = LLAMA_KV_OVERRIDE_TYPE_STR;
            snprintf(d->val_str, sizeof d->val_str, "%s", o->str_value);
            break;
        }
    }
    if (im) {
        struct llama_model_kv_override *d = &a->kv[k++];
        snprintf(d->key, sizeof d->key, "quantize.imatrix.file");
        d->tag = LLAMA_KV_OVERRIDE_TYPE_STR;
        snprintf(d->val_str, sizeof d->val_str, "%s", p->imatrix);
        if (im->dataset) {
            d = &a->kv[k++];
            snprintf(d->key, sizeof d->key, "quantize.imatrix.dataset");
            d->tag = LLAMA_KV_OVERRIDE_TYPE_STR;
            snprintf(d->val_str, sizeof d->val_str, "%s", im->dataset);
        }
        d = &a->kv[k++];
        snprintf(d->key, sizeof d->key, "quantize.imatrix.entries_count");
        d->tag = LLAMA_KV_OVERRIDE_TYPE_INT;
        d->val_i64 = (int64_t)im->n;
        if (im->chunk_count > 0) {
            d = &a->kv[k++];
            snprintf(d->key, sizeof d->key, "quantize.imatrix.chunks_count");
            d->tag = LLAMA_KV_OVERRIDE_TYPE_INT;
            d->val_i64 = im->chunk_count;
        }
    }
    lp->kv_overrides = k > 0 ? a->kv : NULL;

    if (p->n_tensor_types > 0) {
        a->tt = llamac__calloc(p->n_tensor_types + 1, sizeof *a->tt);
        if (!a->tt) {
            return LLAMAC_E_NO_MEMORY;
        }
        for (size_t i = 0; i < p->n_tensor_types; i++) {
            a->tt[i].pattern = p->tensor_types[i].pattern;
            a->tt[i].type = (enum ggml_type)p->tensor_types[i].type;
        }
        a->tt[p->n_tensor_types].type = GGML_TYPE_COUNT;
        lp->tt_overrides = a->tt;
    }
    if (im) {
        a->im = llamac__calloc(im->n + 1, sizeof *a->im);
        if (!a->im) {
            return LLAMAC_E_NO_MEMORY;
        }
        for (size_t i = 0; i < im->n; i++) {
            a->im[i].name = im->entries[i].name;
            a->im[i].data = im->entries[i].values;
            a->im[i].size = im->entries[i].size;
        }
        lp->imatrix = a->im;
    }
    return LLAMAC_OK;
}

/* Runs llama_model_quantize with the log tap; on failure sets the error from what llama.cpp said. */
static llamac_status run_llama(struct run *r, const char *in, const char *out, const struct llama_args *a,
                               const char *out_label) {
    llamac__backend_ensure();
    llamac__capture_begin();
    llamac__tap_begin(on_line, r);
    errno = 0;
    uint32_t rc = llama_model_quantize(in, out ? out : "", &a->lp);
    int err = errno;
    llamac__tap_end();
    const char *captured = llamac__capture_end();
    if (rc == 0 && !r->cancelled) {
        return LLAMAC_OK;
    }
    if (r->cancelled) {
        return llamac__fail(LLAMAC_E_CANCELLED,
                            "quantizing '%s' was cancelled by the progress callback; nothing "
                            "was written",
                            in);
    }
    const char *why = r->error[0] ? r->error : captured[0] ? captured : "llama.cpp gave no reason";
    if (strstr(why, "iostream") || strstr(why, "basic_ios") || strstr(why, "failbit")) {
        bool sys = err == ENOSPC || err == EFBIG || err == EIO || err == EROFS || err == EDQUOT || err == EBADF;
        return llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", out_label,
                            sys ? strerror(err) : "a write failed (the disk may be full)");
    }
    if (strstr(why, "unknown model architecture")) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "llama.cpp cannot quantize '%s': %s", in, why);
    }
    return llamac__fail(LLAMAC_E_MODEL_LOAD, "llama.cpp could not quantize '%s': %s", in, why);
}

/* Input tensors that survive pruning: what the plan must list. */
static size_t kept_tensors(const struct run *r) {
    size_t n = 0;
    for (size_t i = 0; i < r->in->n_tensors; i++) {
        const char *name = gguf_get_tensor_name(r->in->shards[r->in->tensors[i].shard].g, r->in->tensors[i].idx);
        int layer;
        bool pruned = false;
        if (r->n_prune > 0 && sscanf(name, "blk.%d.", &layer) == 1) {
            for (size_t k = 0; k < r->n_prune; k++) {
                pruned = pruned || r->prune[k] == layer;
            }
        }
        n += pruned ? 0 : 1;
    }
    return n;
}

/* Output shards llama.cpp writes with keep_split: one per input shard that still holds a tensor. */
static uint32_t out_shard_count(const struct run *r) {
    uint32_t n = 0;
    for (size_t i = 0; i < r->n_plan; i++) {
        uint32_t s = r->in->tensors[r->plan[i].in_index].shard + 1;
        n = s > n ? s : n;
    }
    return n ? n : 1;
}

static llamac_status make_report(const struct run *r, llamac_quantize_report **out) {
    llamac_quantize_report *rep = llamac__calloc(1, sizeof *rep);
    llamac_quantize_tensor *t = rep ? llamac__calloc(r->n_plan + 1, sizeof *t) : NULL;
    if (!t) {
        free(rep);
        return LLAMAC_E_NO_MEMORY;
    }
    rep->tensors = t;
    for (size_t i = 0; i < r->n_plan; i++) {
        const struct plan_entry *e = &r->plan[i];
        llamac_gguf_tensor in;
        llamac_gguf_tensor_at(r->in, e->in_index, &in);
        t[i].name = llamac__strndup(e->name, strlen(e->name));
        if (!t[i].name) {
            llamac_quantize_report_free(rep);
            return LLAMAC_E_NO_MEMORY;
        }
        rep->n_tensors = i + 1;
        t[i].type_from = (int32_t)e->from;
        t[i].type_to = (int32_t)e->to;
        memcpy(t[i].ne, in.ne, sizeof t[i].ne);
        t[i].size_from = in.size;
        t[i].size_to = e->to == e->from ? in.size
                                        : (uint64_t)in.ne[1] * (uint64_t)in.ne[2] * (uint64_t)in.ne[3] *
                                              ggml_row_size(e->to, in.ne[0]);
        rep->n_params += in.n_elements;
        rep->size_from += t[i].size_from;
        rep->size_to += t[i].size_to;
    }
    rep->file_size_from = r->in->info.file_size;
    rep->n_fallback = r->n_fallback;
    *out = rep;
    return LLAMAC_OK;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

llamac_status llamac_quantize(const char *in, const char *out, const llamac_quantize_params *params,
                              llamac_quantize_report **report) {
    double t0 = llamac__now_ms();
    if (report) {
        *report = NULL;
    }
    if (!in) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_quantize: in is NULL");
    }
    llamac_quantize_params defaults = llamac_quantize_params_default();
    const llamac_quantize_params *p = params ? params : &defaults;
    llamac_status st = check_params(p, out != NULL);
    if (st != LLAMAC_OK) {
        return st;
    }

    llamac_gguf *g = NULL;
    int32_t *prune = NULL;
    size_t n_prune = 0;
    struct llamac__imatrix im;
    bool have_im = false;
    struct llama_args args;
    memset(&args, 0, sizeof args);
    struct run r;
    memset(&r, 0, sizeof r);
    const char **inputs = NULL;
    char *prefix = NULL;
    struct llamac__outfile reserve = LLAMAC__OUTFILE_INIT;
    struct llamac__outfile *shards = NULL;
    char **shard_tmps = NULL;
    uint32_t n_out = 1;
    llamac_quantize_report *rep = NULL;

    st = llamac__gguf_open(in, "model", &g);
    if (st != LLAMAC_OK) {
        goto done;
    }
    for (uint32_t s = 0; s < g->n_shards; s++) {
        if (gguf_get_alignment(g->shards[s].g) != GGUF_DEFAULT_ALIGNMENT) {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD,
                              "'%s' aligns its tensor data to %zu bytes; llama.cpp's quantizer writes %d-byte "
                              "alignment only and would produce a broken file",
                              g->shards[s].path, gguf_get_alignment(g->shards[s].g), GGUF_DEFAULT_ALIGNMENT);
            goto done;
        }
    }
    st = prune_list(p, g, &prune, &n_prune);
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (p->imatrix) {
        st = llamac__imatrix_load(p->imatrix, &im);
        if (st != LLAMAC_OK) {
            goto done;
        }
        have_im = true;
    }
    inputs = llamac__calloc(g->n_shards, sizeof *inputs);
    if (!inputs) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    for (uint32_t s = 0; s < g->n_shards; s++) {
        inputs[s] = g->shards[s].path;
    }
    if (out && !p->dry_run) {
        prefix = p->keep_split && strlen(out) > 5 && strcmp(out + strlen(out) - 5, ".gguf") == 0
                     ? llamac__strndup(out, strlen(out) - 5)
                     : llamac__strndup(out, strlen(out));
        if (!prefix) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        st = llamac__output_check(prefix, inputs, g->n_shards); /* directory, and (no keep_split) not an input */
        if (st != LLAMAC_OK) {
            goto done;
        }
    }
    st = args_build(&args, p, prune, have_im ? &im : NULL);
    if (st != LLAMAC_OK) {
        goto done;
    }

    /* llama.cpp's plan: a dry run with the same parameters. */
    r.in = g;
    r.prune = prune;
    r.n_prune = n_prune;
    r.dry = true;
    args.lp.dry_run = true;
    st = run_llama(&r, in, NULL, &args, in);
    if (st != LLAMAC_OK) {
        goto done;
    }
    size_t expected = kept_tensors(&r);
    if (r.bad_log || r.pending || r.n_plan != expected || (size_t)r.n_announced != g->n_tensors) {
        st = llamac__fail(LLAMAC_E_INTERNAL,
                          "could not follow llama.cpp's quantization plan for '%s' (%zu of %zu tensors read%s%s)", in,
                          r.n_plan, expected, r.bad_log ? "; unexpected log line: " : "", r.bad_line);
        goto done;
    }
    st = check_plan(&r, p, have_im ? &im : NULL);
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (p->dry_run) {
        st = make_report(&r, &rep);
        goto done;
    }

    /* The real run, into a temporary file (or, with keep_split, temporary shards) beside the output. */
    n_out = p->keep_split ? out_shard_count(&r) : 1;
    shards = llamac__calloc(n_out, sizeof *shards);
    shard_tmps = llamac__calloc(n_out + 1, sizeof *shard_tmps);
    r.before = llamac__calloc(r.n_plan + 1, sizeof *r.before);
    if (!shards || !shard_tmps || !r.before) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    for (uint32_t s = 0; s < n_out; s++) {
        shards[s] = (struct llamac__outfile)LLAMAC__OUTFILE_INIT;
    }
    for (size_t i = 0; i < r.n_plan; i++) {
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(g, r.plan[i].in_index, &t);
        r.before[i + 1] = r.before[i] + t.size;
    }
    st = llamac__out_reserve(&reserve, prefix);
    for (uint32_t s = 0; s < n_out && st == LLAMAC_OK; s++) {
        /* with keep_split, llama.cpp names the shards after the path it is given: the reserved temporary name */
        if (p->keep_split) {
            char *final_path = NULL, *tmp = NULL;
            st = llamac_split_path(prefix, s, n_out, &final_path);
            if (st == LLAMAC_OK) {
                st = llamac__output_check(final_path, inputs, g->n_shards);
            }
            if (st == LLAMAC_OK) {
                st = llamac_split_path(reserve.tmp, s, n_out, &tmp);
            }
            shards[s].path = final_path;
            shards[s].tmp = tmp;
        } else {
            /* the reservation's path: the output, or the target of the link it names (core/outfile.c) */
            shards[s].path = llamac__strndup(reserve.path, strlen(reserve.path));
            shards[s].tmp = llamac__strndup(reserve.tmp, strlen(reserve.tmp));
            st = shards[s].path && shards[s].tmp ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
        }
        shard_tmps[s] = shards[s].tmp;
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (!p->keep_split) {
        /* the reservation is the output itself: keep the file, let the shard own its removal */
        free(reserve.tmp);
        reserve.tmp = NULL;
    }
    r.dry = false;
    r.progress = p->progress;
    r.user_data = p->progress_user_data;
    r.out_tmps = (const char *const *)shard_tmps;
    r.n_out_tmps = n_out;
    args.lp.dry_run = false;
    st = run_llama(&r, in, p->keep_split ? reserve.tmp : shards[0].tmp, &args, out);
    for (uint32_t s = 0; s < n_out && st == LLAMAC_OK; s++) {
        st = llamac__out_finish(&shards[s]);
    }
    for (uint32_t s = 0; s < n_out && st == LLAMAC_OK; s++) {
        st = llamac__out_commit(&shards[s]);
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (p->progress) {
        p->progress(1.0f, p->progress_user_data);
    }
    st = make_report(&r, &rep);
    if (st == LLAMAC_OK) {
        rep->n_shards_to = n_out;
        for (uint32_t s = 0; s < n_out; s++) {
            rep->file_size_to += file_size(shards[s].path);
        }
    }
done:
    for (uint32_t s = 0; shards && s < n_out; s++) {
        llamac__out_discard(&shards[s]);
    }
    llamac__out_discard(&reserve);
    free(shards);
    free(shard_tmps);
    free(r.plan);
    free(r.before);
    args_free(&args);
    if (have_im) {
        llamac__imatrix_free(&im);
    }
    free(prune);
    free(inputs);
    free(prefix);
    llamac_gguf_free(g);
    if (st != LLAMAC_OK) {
        llamac_quantize_report_free(rep);
        return st;
    }
    if (rep) {
        rep->n_shards_to = rep->n_shards_to ? rep->n_shards_to : (p->dry_run ? 0 : 1);
        rep->ms = llamac__now_ms() - t0;
    }
    if (report) {
        *report = rep;
    } else {
        llamac_quantize_report_free(rep);
    }
    return llamac__ok();
}
