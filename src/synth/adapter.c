/*
 * adapter.c - synthetic LoRA adapters and control vectors for a base model, with seeded random values.
 *
 * The adapter and control-vector paths need test files made for a given model, and the test machines download
 * nothing. The base model is read with llamac's GGUF reader (metadata and tensor table only, so a real multi-GB model
 * costs nothing), the chosen weights are matched by their short name ("attn_q" for every blk.N.attn_q.weight), and
 * the file is laid out as llama.cpp's own converters lay it out; the values come from synth_write.c's seeded writer,
 * so the same parameters and base give the same bytes.
 */
#include "gguf/gguf_internal.h"
#include "synth/synth_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DEFAULT_RANK 8
#define DEFAULT_TARGETS "attn_q,attn_v"
#define DEFAULT_STD 0.02f
#define MAX_TARGETS 64

llamac_synth_lora_params llamac_synth_lora_params_default(void) {
    llamac_synth_lora_params p;
    memset(&p, 0, sizeof p);
    return p;
}

llamac_synth_cvec_params llamac_synth_cvec_params_default(void) {
    llamac_synth_cvec_params p;
    memset(&p, 0, sizeof p);
    return p;
}

static llamac_status take_std(float given, float *out) {
    if (!isfinite(given) || given < 0.0f || given > 1.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "init_std %g must be from 0 to 1 (0 means %g)", (double)given,
                            (double)DEFAULT_STD);
    }
    *out = given > 0.0f ? given : DEFAULT_STD;
    return LLAMAC_OK;
}

/* Opens the base model's GGUF; a missing `base` is the caller's mistake. */
static llamac_status open_base(const char *base, llamac_gguf **g, llamac_gguf_info *info) {
    if (!base || !base[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no base model: set base to the model's GGUF file");
    }
    llamac_status st = llamac__gguf_open(base, "base model", g);
    if (st == LLAMAC_OK) {
        llamac_gguf_get_info(*g, info);
        if (!info->architecture) {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD, "base model '%s' has no general.architecture", base);
        }
    }
    return st;
}

/* An adapter file in the making, as both writers make one: the base model it is for, the tensors it will hold
 * (listed first, so the list never grows), and the GGUF they are registered in. */
struct adapter_file {
    llamac_gguf *base;
    llamac_gguf_info bi;
    struct gguf_context *out;
    struct llamac__synth_list l;
};

/* Checks a writer's arguments (`fn` names it) and empties *af, for open_base(&af->base, &af->bi) and
 * adapter_file_alloc; adapter_file_free, also after failing. */
static llamac_status adapter_file_init(struct adapter_file *af, const char *fn, const char *path, const void *params) {
    memset(af, 0, sizeof *af);
    if (!path || !path[0] || !params) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: %s", fn,
                            !params ? "params is NULL"
                            : path  ? "empty path"
                                    : "path is NULL");
    }
    return LLAMAC_OK;
}

/* Room for `cap` tensors whose matrices are of `wtype`, and the empty GGUF; `what` names the file. */
static llamac_status adapter_file_alloc(struct adapter_file *af, size_t cap, enum ggml_type wtype, const char *what) {
    af->l.cap = cap;
    af->l.wtype = wtype;
    if (!(af->l.items = llamac__calloc(cap ? cap : 1, sizeof *af->l.items)) || !(af->out = gguf_init_empty())) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory describing the %s", what);
    }
    return LLAMAC_OK;
}

/* Registers the listed tensors and writes the file with seeded values of standard deviation `std`. */
static llamac_status adapter_file_write(struct adapter_file *af, const char *path, uint64_t seed, float std) {
    llamac_status st = llamac__synth_register(af->out, &af->l);
    if (st == LLAMAC_OK) {
        st = llamac__synth_write_file(path, af->out, &af->l, seed, std);
    }
    return st == LLAMAC_OK ? llamac__ok() : st;
}

static void adapter_file_free(struct adapter_file *af) {
    free(af->l.items);
    gguf_free(af->out);
    llamac_gguf_free(af->base);
}

/* ---- which weights a LoRA adapts ---- */

struct targets {
    char names[MAX_TARGETS][GGML_MAX_NAME];
    bool matched[MAX_TARGETS];
    size_t n;
    bool all;
};

static llamac_status parse_targets(const char *spec, struct targets *t) {
    memset(t, 0, sizeof *t);
    spec = spec && spec[0] ? spec : DEFAULT_TARGETS;
    if (strcmp(spec, "all") == 0) {
        t->all = true;
        return LLAMAC_OK;
    }
    for (const char *p = spec;;) {
        const char *comma = strchr(p, ',');
        size_t len = comma ? (size_t)(comma - p) : strlen(p);
        if (len == 0 || len >= GGML_MAX_NAME) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "targets '%s': %s", spec,
                                len ? "a name is too long" : "an empty name (expected e.g. attn_q,attn_v)");
        }
        if (t->n == MAX_TARGETS) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "targets '%s': more than %d names", spec, MAX_TARGETS);
        }
        memcpy(t->names[t->n], p, len);
        t->names[t->n++][len] = '\0';
        if (!comma) {
            return LLAMAC_OK;
        }
        p = comma + 1;
    }
}

/* The short name of a weight ("attn_q" for blk.3.attn_q.weight, "output" for output.weight) into `out`; false for a
 * tensor that is not a 2-D ".weight". *in_block tells whether it belongs to a block. */
static bool short_name(const llamac_gguf_tensor *t, char *out, bool *in_block) {
    const char *n = t->name;
    size_t len = strlen(n);
    if (t->n_dims != 2 || len < 8 || strcmp(n + len - 7, ".weight") != 0) {
        return false;
    }
    *in_block = strncmp(n, "blk.", 4) == 0;
    if (*in_block) {
        n += 4;
        while (*n >= '0' && *n <= '9') {
            n++;
        }
        if (*n++ != '.') {
            return false;
        }
    }
    size_t k = strlen(n) - 7;
    memcpy(out, n, k);
    out[k] = '\0';
    return k > 0;
}

static bool wanted(struct targets *t, const char *name, bool in_block) {
    if (t->all) {
        return in_block;
    }
    for (size_t i = 0; i < t->n; i++) {
        if (strcmp(t->names[i], name) == 0) {
            t->matched[i] = true;
            return true;
        }
    }
    return false;
}

/* "attn_q, attn_k, ...": the distinct short names of the base's block matrices, for the error message. */
static const char *block_names(const llamac_gguf *g) {
    static _Thread_local char buf[512];
    char seen[32][GGML_MAX_NAME];
    size_t n_seen = 0, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < llamac_gguf_tensor_count(g) && n_seen < 32; i++) {
        llamac_gguf_tensor t;
        bool in_block, dup = false;
        llamac_gguf_tensor_at(g, i, &t);
        if (!short_name(&t, seen[n_seen], &in_block) || !in_block) {
            continue;
        }
        for (size_t j = 0; j < n_seen && !dup; j++) {
            dup = strcmp(seen[j], seen[n_seen]) == 0;
        }
        int w = dup ? 0 : snprintf(buf + len, sizeof buf - len, "%s%s", len ? ", " : "", seen[n_seen]);
        if (w < 0 || (size_t)w >= sizeof buf - len) {
            break;
        }
        len += (size_t)w;
        n_seen += !dup;
    }
    return buf;
}

/* Lists lora_a/lora_b for each wanted weight, checking the rank against its shape. */
static llamac_status lora_tensors(const llamac_gguf *g, const char *base, struct targets *tg, int32_t rank,
                                  struct llamac__synth_list *l) {
    for (size_t i = 0; i < llamac_gguf_tensor_count(g); i++) {
        llamac_gguf_tensor t;
        char name[GGML_MAX_NAME];
        bool in_block;
        llamac_gguf_tensor_at(g, i, &t);
        if (!short_name(&t, name, &in_block) || !wanted(tg, name, in_block)) {
            continue;
        }
        if (strlen(t.name) + strlen(".lora_a") >= GGML_MAX_NAME) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'%s' is too long a name for its LoRA tensors", t.name);
        }
        if (rank > t.ne[0] || rank > t.ne[1]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "rank %d is more than '%s' of base model '%s' allows (it is "
                                "[%lld, %lld])",
                                rank, t.name, base, (long long)t.ne[0], (long long)t.ne[1]);
        }
        bool embd = strcmp(t.name, "token_embd.weight") == 0;
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, l->wtype, embd ? rank : t.ne[0], embd ? t.ne[1] : rank, "%s.lora_a",
                          t.name);
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, l->wtype, rank, embd ? t.ne[0] : t.ne[1], "%s.lora_b", t.name);
    }
    for (size_t i = 0; i < tg->n; i++) {
        if (!tg->matched[i]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "target '%s' matches no matrix of base model '%s' (its blocks have: %s)", tg->names[i],
                                base, block_names(g));
        }
    }
    return LLAMAC_OK;
}

static llamac_status lora_meta(struct gguf_context *out, const llamac_synth_lora_params *p, const llamac_gguf_info *bi,
                               int32_t rank) {
    float alpha = p->alpha > 0.0f ? p->alpha : (float)rank;
    gguf_set_val_str(out, "general.architecture", bi->architecture);
    gguf_set_val_str(out, "general.type", "adapter");
    gguf_set_val_str(out, "general.name", p->name ? p->name : "synthetic lora");
    if (bi->name) {
        gguf_set_val_u32(out, "general.base_model.count", 1);
        gguf_set_val_str(out, "general.base_model.0.name", bi->name);
    }
    gguf_set_val_str(out, "adapter.type", "lora");
    gguf_set_val_f32(out, "adapter.lora.alpha", alpha);
    if (p->task_name) {
        gguf_set_val_str(out, "adapter.lora.task_name", p->task_name);
    }
    if (p->prompt_prefix) {
        gguf_set_val_str(out, "adapter.lora.prompt_prefix", p->prompt_prefix);
    }
    if (p->n_alora_invocation_tokens > 0) {
        for (size_t i = 0; i < p->n_alora_invocation_tokens; i++) {
            llamac_token tok = p->alora_invocation_tokens[i];
            if (tok < 0 || (uint32_t)tok >= bi->n_vocab) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                    "aLoRA invocation token %d (element %zu) is outside the base's vocabulary of %u",
                                    tok, i, bi->n_vocab);
            }
        }
        gguf_set_arr_data(out, "adapter.alora.invocation_tokens", GGUF_TYPE_UINT32, p->alora_invocation_tokens,
                          p->n_alora_invocation_tokens);
    }
    return LLAMAC_OK;
}

static llamac_status lora_check(const llamac_synth_lora_params *p, float *std) {
    if (p->rank < 0 || p->rank > 65536) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "rank %d is out of range (1 to 65536; 0 means %d)", p->rank,
                            DEFAULT_RANK);
    }
    if (!isfinite(p->alpha) || p->alpha < 0.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "alpha %g must be a positive number (0 means the rank)",
                            (double)p->alpha);
    }
    if (p->type != LLAMAC_SYNTH_F32 && p->type != LLAMAC_SYNTH_F16) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "type %d is not F32 (0) or F16 (1)", (int)p->type);
    }
    if (p->n_alora_invocation_tokens > 0 && !p->alora_invocation_tokens) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_alora_invocation_tokens is %zu but the tokens are NULL",
                            p->n_alora_invocation_tokens);
    }
    return take_std(p->init_std, std);
}

llamac_status llamac_synth_lora_write(const char *path, const llamac_synth_lora_params *params) {
    float std = DEFAULT_STD;
    struct targets tg = { 0 };
    struct adapter_file af;
    llamac_status st = adapter_file_init(&af, "llamac_synth_lora_write", path, params);
    if (st == LLAMAC_OK) {
        st = lora_check(params, &std);
    }
    if (st == LLAMAC_OK) {
        st = parse_targets(params->targets, &tg);
    }
    if (st == LLAMAC_OK) {
        st = open_base(params->base, &af.base, &af.bi);
    }
    const int32_t rank = params && params->rank ? params->rank : DEFAULT_RANK;
    if (st == LLAMAC_OK) {
        st = adapter_file_alloc(&af, 2 * llamac_gguf_tensor_count(af.base),
                                params->type == LLAMAC_SYNTH_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32, "adapter");
    }
    if (st == LLAMAC_OK && (st = lora_tensors(af.base, params->base, &tg, rank, &af.l)) == LLAMAC_OK &&
        (st = lora_meta(af.out, params, &af.bi, rank)) == LLAMAC_OK) {
        st = adapter_file_write(&af, path, params->seed, std);
    }
    adapter_file_free(&af);
    return st;
}

/* ---- control vectors ---- */

llamac_status llamac_synth_cvec_write(const char *path, const llamac_synth_cvec_params *params) {
    float std = DEFAULT_STD;
    struct adapter_file af;
    llamac_status st = adapter_file_init(&af, "llamac_synth_cvec_write", path, params);
    if (st == LLAMAC_OK) {
        st = take_std(params->init_std, &std);
    }
    if (st == LLAMAC_OK) {
        st = open_base(params->base, &af.base, &af.bi);
    }
    if (st == LLAMAC_OK && (af.bi.n_layer < 2 || af.bi.n_embd == 0)) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                          "base model '%s' has %u layers of n_embd %u; a control vector needs 2 layers or more",
                          params->base, af.bi.n_layer, af.bi.n_embd);
    }
    if (st == LLAMAC_OK &&
        (st = adapter_file_alloc(&af, af.bi.n_layer - 1, GGML_TYPE_F32, "control vector")) == LLAMAC_OK) {
        for (uint32_t il = 1; il < af.bi.n_layer; il++) {
            llamac__synth_add(&af.l, LLAMAC__FILL_RANDOM, GGML_TYPE_F32, af.bi.n_embd, 1, "direction.%u", il);
        }
        gguf_set_val_str(af.out, "general.architecture", "controlvector");
        gguf_set_val_str(af.out, "controlvector.model_hint", af.bi.architecture);
        gguf_set_val_i32(af.out, "controlvector.layer_count", (int32_t)(af.bi.n_layer - 1));
        st = adapter_file_write(&af, path, params->seed, std);
    }
    adapter_file_free(&af);
    return st;
}
