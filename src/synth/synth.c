/*
 * synth.c - synthetic GGUF models: a real architecture's metadata and tensors, with seeded random weights.
 *
 * Tests and benchmarks need models of a chosen architecture and shape without downloading any, and llama.cpp must
 * load them exactly as it loads a converted model. Three steps shape this file. The parameters are resolved (preset,
 * explicit fields, architecture defaults) and validated before any file is touched. The metadata - ours in a fixed
 * order, then the tokenizer keys of a vocabulary GGUF in that file's order - and the tensor list go into a
 * gguf_context, which produces the header. The tensor data is then generated in small chunks straight into the
 * file by synth_write.c, each tensor from its own generator seeded from the seed and the tensor's name, so the bytes
 * are a function of the parameters alone.
 */
#include "synth/synth_internal.h"

#include <ggml.h>
#include <gguf.h>

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- architectures and presets ---- */

struct arch_desc {
    const char *name;
    const char *vocab_file;   /* the vocabulary llama.cpp ships for it in models/ */
    const char *default_name; /* general.name when none is given */
    bool encoder;             /* bert: learned positions, layer norms with biases, biases everywhere, pooling */
    bool qkv_bias;            /* qwen2: biases on Q, K and V */
    bool qk_norm;             /* qwen3: an RMS norm on each head of Q and K */
    bool q_is_embd;           /* Q and the attention output are n_embd wide, so head_dim * n_head == n_embd */
    int32_t n_ctx_train;
    bool mrope;       /* qwen2vl: M-RoPE, with the rotary dimensions split into sections (time, height, width) */
    float rope_theta; /* 0 for bert, which has no RoPE */
    float norm_eps;
};

static const struct arch_desc archs[] = {
    { "llama", "ggml-vocab-llama-bpe.gguf", "synthetic llama", false, false, false, false, 2048, false, 10000.0f,
      1e-5f },
    { "qwen2", "ggml-vocab-qwen2.gguf", "synthetic qwen2", false, true, false, true, 2048, false, 1000000.0f, 1e-6f },
    { "qwen3", "ggml-vocab-qwen2.gguf", "synthetic qwen3", false, false, true, false, 2048, false, 1000000.0f, 1e-6f },
    { "bert", "ggml-vocab-bert-bge.gguf", "synthetic bert", true, false, false, true, 512, false, 0.0f, 1e-12f },
    { "qwen2vl", "ggml-vocab-qwen2.gguf", "synthetic qwen2vl", false, true, false, true, 2048, true, 1000000.0f,
      1e-6f },
};
#define N_ARCHS (sizeof archs / sizeof archs[0])

/* The hyperparameters of real models (their config.json), not their weights. */
struct preset {
    const char *name;
    const char *arch;
    const char *default_name;
    int32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    float rope_theta, norm_eps;
};

static const struct preset presets[] = {
    { "qwen2.5-0.5b", "qwen2", "synthetic qwen2.5-0.5b", 24, 896, 14, 2, 64, 4864, 32768, 1000000.0f, 1e-6f },
    { "qwen3-0.6b", "qwen3", "synthetic qwen3-0.6b", 28, 1024, 16, 8, 128, 3072, 40960, 1000000.0f, 1e-6f },
    { "llama-3.2-1b", "llama", "synthetic llama-3.2-1b", 16, 2048, 32, 8, 64, 8192, 131072, 500000.0f, 1e-5f },
    { "bge-small", "bert", "synthetic bge-small", 12, 384, 12, 12, 32, 1536, 512, 0.0f, 1e-12f },
};
#define N_PRESETS (sizeof presets / sizeof presets[0])

/* Limits that keep every size computation far from overflow; real models stay well inside them. */
#define MAX_LAYERS 512 /* llama.cpp's LLAMA_MAX_LAYERS */
#define MAX_EMBD 65536
#define MAX_HEADS 1024
#define MAX_HEAD_DIM 4096
#define MAX_FF (1 << 20)
#define MAX_CTX (1 << 24)
#define MAX_CLS_OUT 65536
#define DEFAULT_STD 0.02f

llamac_synth_params llamac_synth_params_default(void) {
    llamac_synth_params p;
    memset(&p, 0, sizeof p);
    p.type = LLAMAC_SYNTH_F32;
    return p;
}

size_t llamac_synth_arch_count(void) {
    return N_ARCHS;
}

const char *llamac_synth_arch_name(size_t i) {
    return i < N_ARCHS ? archs[i].name : NULL;
}

static const struct arch_desc *find_arch(const char *name) {
    for (size_t i = 0; name && i < N_ARCHS; i++) {
        if (strcmp(archs[i].name, name) == 0) {
            return &archs[i];
        }
    }
    return NULL;
}

const char *llamac_synth_default_vocab(const char *arch) {
    const struct arch_desc *a = find_arch(arch);
    return a ? a->vocab_file : NULL;
}

size_t llamac_synth_preset_count(void) {
    return N_PRESETS;
}

const char *llamac_synth_preset_name(size_t i) {
    return i < N_PRESETS ? presets[i].name : NULL;
}

static const struct preset *find_preset(const char *name) {
    for (size_t i = 0; name && i < N_PRESETS; i++) {
        if (strcmp(presets[i].name, name) == 0) {
            return &presets[i];
        }
    }
    return NULL;
}

/* "a, b, c": the names of the architectures or of the presets, for error messages. */
static const char *known_names(bool of_presets) {
    static _Thread_local char buf[256];
    size_t n = of_presets ? N_PRESETS : N_ARCHS, len = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        const char *name = of_presets ? presets[i].name : archs[i].name;
        int w = snprintf(buf + len, sizeof buf - len, "%s%s", i ? ", " : "", name);
        if (w < 0 || (size_t)w >= sizeof buf - len) {
            break;
        }
        len += (size_t)w;
    }
    return buf;
}

/* ---- resolving and validating the parameters ---- */

/* An integer field: the caller's value if set, else the preset's, else `fallback`; within [1, max]. */
static llamac_status take_int(const char *field, int32_t given, int32_t from_preset, int32_t fallback, int32_t max,
                              int32_t *out) {
    if (given < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s %d is negative (0 means the preset's or the default)", field,
                            given);
    }
    int32_t v = given ? given : from_preset ? from_preset : fallback;
    if (v < 1 || v > max) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s %d is out of range (1 to %d)", field, v, max);
    }
    *out = v;
    return LLAMAC_OK;
}

/* A positive finite float field, chosen like take_int. */
static llamac_status take_float(const char *field, float given, float from_preset, float fallback, float *out) {
    if (isnan(given) || isinf(given) || given < 0.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s %g must be a positive finite number (0 means the default)",
                            field, (double)given);
    }
    *out = given > 0.0f ? given : from_preset > 0.0f ? from_preset : fallback;
    return LLAMAC_OK;
}

static llamac_status resolve_sizes(const llamac_synth_params *in, const struct preset *ps, llamac_synth_params *p) {
    const struct preset none = { 0 };
    const struct preset *s = ps ? ps : &none;
    llamac_status st;
    if ((st = take_int("n_layer", in->n_layer, s->n_layer, 2, MAX_LAYERS, &p->n_layer)) != LLAMAC_OK ||
        (st = take_int("n_embd", in->n_embd, s->n_embd, 64, MAX_EMBD, &p->n_embd)) != LLAMAC_OK ||
        (st = take_int("n_head", in->n_head, s->n_head, 4, MAX_HEADS, &p->n_head)) != LLAMAC_OK) {
        return st;
    }
    if (in->head_dim == 0 && s->head_dim == 0 && p->n_embd % p->n_head != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_embd %d is not divisible by n_head %d; give head_dim to choose the head size", p->n_embd,
                            p->n_head);
    }
    if ((st = take_int("n_head_kv", in->n_head_kv, s->n_head_kv, p->n_head, MAX_HEADS, &p->n_head_kv)) != LLAMAC_OK ||
        (st = take_int("head_dim", in->head_dim, s->head_dim, p->n_embd / p->n_head, MAX_HEAD_DIM, &p->head_dim)) !=
            LLAMAC_OK ||
        (st = take_int("n_ff", in->n_ff, s->n_ff, 4 * p->n_embd, MAX_FF, &p->n_ff)) != LLAMAC_OK) {
        return st;
    }
    return LLAMAC_OK;
}

/* The rules llama.cpp's graphs for these architectures rely on (several of them it only asserts). */
static llamac_status check_shape(const struct arch_desc *a, const llamac_synth_params *p) {
    if (p->n_head % p->n_head_kv != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_head %d is not a multiple of n_head_kv %d", p->n_head,
                            p->n_head_kv);
    }
    if (a->q_is_embd && (int64_t)p->head_dim * p->n_head != p->n_embd) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "%s needs head_dim * n_head == n_embd, but %d * %d = %lld and n_embd is %d", a->name,
                            p->head_dim, p->n_head, (long long)p->head_dim * p->n_head, p->n_embd);
    }
    if (a->encoder && p->n_head_kv != p->n_head) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "bert has no grouped-query attention: n_head_kv %d must equal n_head %d", p->n_head_kv,
                            p->n_head);
    }
    if (!a->encoder && p->head_dim % 2 != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "head_dim %d must be even for %s's rotary embeddings",
                            p->head_dim, a->name);
    }
    return LLAMAC_OK;
}

/* Options that exist for one family only are errors elsewhere, not silently ignored. */
static llamac_status check_family(const struct arch_desc *a, const llamac_synth_params *in) {
    if (in->n_cls_out < 0 || in->n_cls_out > MAX_CLS_OUT) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_cls_out %d is out of range (0 to %d)", in->n_cls_out,
                            MAX_CLS_OUT);
    }
    if (!a->encoder && in->n_cls_out > 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_cls_out %d: a classification head is only supported for bert, not %s", in->n_cls_out,
                            a->name);
    }
    if (a->encoder && in->rope_theta != 0.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "rope_theta %g does not apply to bert, which has learned position embeddings",
                            (double)in->rope_theta);
    }
    if (a->encoder && in->untied_output) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "untied_output does not apply to bert, which has no output "
                                                       "matrix");
    }
    if (in->type != LLAMAC_SYNTH_F32 && in->type != LLAMAC_SYNTH_F16) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "weight type %d is not F32 (0) or F16 (1)", (int)in->type);
    }
    return LLAMAC_OK;
}

/* The copy model (synth_copy.c): its own rules, then its attention margin over the resolved context. */
static llamac_status check_copy(const struct arch_desc *a, const llamac_synth_params *p) {
    if (isnan(p->copy_noise) || p->copy_noise < 0.0f || p->copy_noise > 1.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "copy_noise %g is out of range (0 to 1)", (double)p->copy_noise);
    }
    if (p->copy_period < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "copy_period %d is negative (0 means random weights)",
                            p->copy_period);
    }
    if (p->copy_period == 0) {
        return p->copy_noise > 0.0f
                   ? llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                  "copy_noise %g applies to a copy model only (set copy_period)", (double)p->copy_noise)
                   : LLAMAC_OK;
    }
    if (!a->qkv_bias || a->mrope) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "copy_period: a copy model is built from Q/K/V biases added before the rotary embedding, "
                            "which only qwen2 has (not %s)",
                            a->name);
    }
    if (p->untied_output) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "copy_period: a copy model reads its logits through the tied token embeddings; drop "
                            "untied_output");
    }
    if (p->copy_period > p->n_ctx_train) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "copy_period %d is more than n_ctx_train %d", p->copy_period,
                            p->n_ctx_train);
    }
    struct llamac__synth_copy c;
    return llamac__synth_copy_plan(p, &c);
}

llamac_status llamac_synth_resolve(const llamac_synth_params *params, llamac_synth_params *out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_synth_resolve: NULL argument");
    }
    llamac_synth_params in = params ? *params : llamac_synth_params_default();
    const struct preset *ps = NULL;
    if (in.like && !(ps = find_preset(in.like))) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown preset '%s' (known: %s)", in.like, known_names(true));
    }
    const char *arch = in.arch ? in.arch : ps ? ps->arch : "llama";
    const struct arch_desc *a = find_arch(arch);
    if (!a) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown architecture '%s' (supported: %s)", arch,
                            known_names(false));
    }
    llamac_synth_params p = in;
    p.arch = a->name;
    p.name = in.name ? in.name : ps ? ps->default_name : a->default_name;
    llamac_status st = check_family(a, &in);
    if (st == LLAMAC_OK) {
        st = resolve_sizes(&in, ps, &p);
    }
    if (st == LLAMAC_OK) {
        st = take_int("n_ctx_train", in.n_ctx_train, ps ? ps->n_ctx_train : 0, a->n_ctx_train, MAX_CTX, &p.n_ctx_train);
    }
    if (st == LLAMAC_OK && !a->encoder) {
        st = take_float("rope_theta", in.rope_theta, ps ? ps->rope_theta : 0.0f, a->rope_theta, &p.rope_theta);
    }
    if (st == LLAMAC_OK) {
        st = take_float("norm_eps", in.norm_eps, ps ? ps->norm_eps : 0.0f, a->norm_eps, &p.norm_eps);
    }
    if (st == LLAMAC_OK) {
        st = take_float("init_std", in.init_std, 0.0f, DEFAULT_STD, &p.init_std);
    }
    if (st == LLAMAC_OK && p.init_std > 1.0f) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "init_std %g is more than 1", (double)p.init_std);
    }
    if (st == LLAMAC_OK) {
        st = check_shape(a, &p);
    }
    if (st == LLAMAC_OK) {
        st = check_copy(a, &p);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    *out = p;
    return llamac__ok();
}

/* Tensors per layer at most (bert: Q, K, V, output, two FFN matrices, their biases and two norms with biases). */
#define MAX_TENSORS_PER_LAYER 16
#define MAX_GLOBAL_TENSORS 10

/* A copy model's later layers write into the residual damped by copy_noise: the tensor just added, if random. */
static void damp(struct llamac__synth_list *l, const llamac_synth_params *p, int32_t il) {
    struct llamac__synth_tensor *t = l->n ? &l->items[l->n - 1] : NULL;
    if (p->copy_period && il > 0 && t && t->fill == LLAMAC__FILL_RANDOM) {
        t->scale = p->copy_noise;
    }
}

/* The fill of a copy model's tensor in layer `il` (synth_copy.c), or `usual` when the construction leaves it. */
static enum llamac__fill copy_fill(const llamac_synth_params *p, int32_t il, enum llamac__fill in_first,
                                   bool later_noise, enum llamac__fill usual) {
    if (!p->copy_period) {
        return usual;
    }
    if (il == 0) {
        return in_first;
    }
    return later_noise && p->copy_noise == 0.0f ? LLAMAC__FILL_ZEROS : usual;
}

static void decoder_tensors(struct llamac__synth_list *l, const llamac_synth_params *p, const struct arch_desc *a,
                            int64_t n_vocab) {
    const enum ggml_type w = l->wtype, f32 = GGML_TYPE_F32;
    const enum llamac__fill R = LLAMAC__FILL_RANDOM, Z = LLAMAC__FILL_ZEROS;
    const int64_t e = p->n_embd, ff = p->n_ff;
    const int64_t q = (int64_t)p->head_dim * p->n_head, kv = (int64_t)p->head_dim * p->n_head_kv;
    llamac__synth_add(l, p->copy_period ? LLAMAC__FILL_COPY_EMBD : R, w, e, n_vocab, "token_embd.weight");
    llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "output_norm.weight");
    if (p->untied_output) {
        llamac__synth_add(l, R, w, e, n_vocab, "output.weight");
    }
    for (int32_t i = 0; i < p->n_layer; i++) {
        llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "blk.%d.attn_norm.weight", i);
        llamac__synth_add(l, copy_fill(p, i, Z, false, R), w, e, q, "blk.%d.attn_q.weight", i);
        llamac__synth_add(l, copy_fill(p, i, Z, false, R), w, e, kv, "blk.%d.attn_k.weight", i);
        llamac__synth_add(l, copy_fill(p, i, LLAMAC__FILL_COPY_V, false, R), w, e, kv, "blk.%d.attn_v.weight", i);
        if (a->qkv_bias) {
            llamac__synth_add(l, copy_fill(p, i, LLAMAC__FILL_COPY_Q_BIAS, false, R), f32, q, 1, "blk.%d.attn_q.bias",
                              i);
            llamac__synth_add(l, copy_fill(p, i, LLAMAC__FILL_COPY_K_BIAS, false, R), f32, kv, 1, "blk.%d.attn_k.bias",
                              i);
            llamac__synth_add(l, copy_fill(p, i, Z, false, R), f32, kv, 1, "blk.%d.attn_v.bias", i);
        }
        if (a->qk_norm) {
            llamac__synth_add(l, LLAMAC__FILL_ONES, f32, p->head_dim, 1, "blk.%d.attn_q_norm.weight", i);
            llamac__synth_add(l, LLAMAC__FILL_ONES, f32, p->head_dim, 1, "blk.%d.attn_k_norm.weight", i);
        }
        llamac__synth_add(l, copy_fill(p, i, LLAMAC__FILL_COPY_OUT, true, R), w, q, e, "blk.%d.attn_output.weight", i);
        damp(l, p, i);
        llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "blk.%d.ffn_norm.weight", i);
        llamac__synth_add(l, R, w, e, ff, "blk.%d.ffn_gate.weight", i);
        llamac__synth_add(l, R, w, e, ff, "blk.%d.ffn_up.weight", i);
        llamac__synth_add(l, copy_fill(p, i, Z, true, R), w, ff, e, "blk.%d.ffn_down.weight", i);
        damp(l, p, i);
    }
}

/* A BERT encoder: token, token-type and learned position embeddings with a layer norm, post-norm layers with
 * biases everywhere, and for a reranker the classification head (a dense layer, then n_cls_out outputs). */
static void bert_tensors(struct llamac__synth_list *l, const llamac_synth_params *p, int64_t n_vocab, int64_t n_types) {
    const enum ggml_type w = l->wtype, f32 = GGML_TYPE_F32;
    const int64_t e = p->n_embd, ff = p->n_ff;
    llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, e, n_vocab, "token_embd.weight");
    llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, e, n_types, "token_types.weight");
    llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, e, p->n_ctx_train, "position_embd.weight");
    llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "token_embd_norm.weight");
    llamac__synth_add(l, LLAMAC__FILL_ZEROS, f32, e, 1, "token_embd_norm.bias");
    if (p->n_cls_out > 0) {
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, e, e, "cls.weight");
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, e, 1, "cls.bias");
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, e, p->n_cls_out, "cls.output.weight");
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, p->n_cls_out, 1, "cls.output.bias");
    }
    static const char *const attn[] = { "attn_q", "attn_k", "attn_v", "attn_output" };
    for (int32_t i = 0; i < p->n_layer; i++) {
        for (size_t k = 0; k < sizeof attn / sizeof attn[0]; k++) {
            llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, e, e, "blk.%d.%s.weight", i, attn[k]);
            llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, e, 1, "blk.%d.%s.bias", i, attn[k]);
        }
        llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "blk.%d.attn_output_norm.weight", i);
        llamac__synth_add(l, LLAMAC__FILL_ZEROS, f32, e, 1, "blk.%d.attn_output_norm.bias", i);
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, e, ff, "blk.%d.ffn_up.weight", i);
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, ff, 1, "blk.%d.ffn_up.bias", i);
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, w, ff, e, "blk.%d.ffn_down.weight", i);
        llamac__synth_add(l, LLAMAC__FILL_RANDOM, f32, e, 1, "blk.%d.ffn_down.bias", i);
        llamac__synth_add(l, LLAMAC__FILL_ONES, f32, e, 1, "blk.%d.layer_output_norm.weight", i);
        llamac__synth_add(l, LLAMAC__FILL_ZEROS, f32, e, 1, "blk.%d.layer_output_norm.bias", i);
    }
}

/* ---- the vocabulary ---- */

struct vocab {
    struct gguf_context *g;
    int64_t n_tokens;
    uint32_t n_token_types; /* tokenizer.ggml.token_type_count; 0 when the file has none */
};

static llamac_status vocab_check(struct vocab *v, const char *path) {
    int64_t k = gguf_find_key(v->g, "tokenizer.ggml.tokens");
    if (k < 0 || gguf_get_kv_type(v->g, k) != GGUF_TYPE_ARRAY || gguf_get_arr_type(v->g, k) != GGUF_TYPE_STRING ||
        gguf_get_arr_n(v->g, k) == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "vocabulary '%s' has no tokens (no tokenizer.ggml.tokens string array)", path);
    }
    if (gguf_get_arr_n(v->g, k) > INT32_MAX) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "vocabulary '%s' has %zu tokens, more than llama.cpp allows",
                            path, gguf_get_arr_n(v->g, k));
    }
    v->n_tokens = (int64_t)gguf_get_arr_n(v->g, k);
    k = gguf_find_key(v->g, "tokenizer.ggml.model");
    if (k < 0 || gguf_get_kv_type(v->g, k) != GGUF_TYPE_STRING) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "vocabulary '%s' does not name its tokenizer (no tokenizer.ggml.model string)", path);
    }
    k = gguf_find_key(v->g, "tokenizer.ggml.token_type_count");
    if (k >= 0) {
        if (gguf_get_kv_type(v->g, k) != GGUF_TYPE_UINT32 || gguf_get_val_u32(v->g, k) == 0 ||
            gguf_get_val_u32(v->g, k) > 1024) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "vocabulary '%s' has an invalid tokenizer.ggml.token_type_count (a u32 from 1 to "
                                "1024 is expected)",
                                path);
        }
        v->n_token_types = gguf_get_val_u32(v->g, k);
    }
    return LLAMAC_OK;
}

/* Reads only the metadata of `path`; the file may be a whole model as well as a vocab-only GGUF. */
static llamac_status vocab_open(const char *path, struct vocab *v) {
    struct stat sb;
    if (stat(path, &sb) != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open vocabulary '%s': %s", path, strerror(errno));
    }
    if (!S_ISREG(sb.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "vocabulary '%s' is not a regular file", path);
    }
    struct gguf_init_params ip = { .no_alloc = true, .ctx = NULL };
    llamac__capture_begin();
    v->g = gguf_init_from_file(path, ip);
    const char *why = llamac__capture_end();
    if (!v->g) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "vocabulary '%s' is not a valid GGUF file%s%s", path,
                            why[0] ? ": " : "", why);
    }
    return vocab_check(v, path);
}

static llamac_status copy_array(struct gguf_context *dst, const struct gguf_context *src, int64_t i, const char *key) {
    enum gguf_type t = gguf_get_arr_type(src, i);
    size_t n = gguf_get_arr_n(src, i);
    if (t == GGUF_TYPE_STRING) {
        const char **strs = llamac__calloc(n, sizeof *strs);
        if (!strs) {
            return LLAMAC_E_NO_MEMORY;
        }
        for (size_t j = 0; j < n; j++) {
            strs[j] = gguf_get_arr_str(src, i, j);
        }
        gguf_set_arr_str(dst, key, strs, n);
        free(strs);
        return LLAMAC_OK;
    }
    if (t == GGUF_TYPE_ARRAY || t >= GGUF_TYPE_COUNT) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "vocabulary key '%s' is an array of %s, which cannot be copied",
                            key, gguf_type_name(t));
    }
    gguf_set_arr_data(dst, key, t, gguf_get_arr_data(src, i), n);
    return LLAMAC_OK;
}

/* Copies key `i` of `src` with its own type (gguf.h's getters abort on a type mismatch, so each is switched on). */
static llamac_status copy_key(struct gguf_context *dst, const struct gguf_context *src, int64_t i) {
    const char *key = gguf_get_key(src, i);
    switch (gguf_get_kv_type(src, i)) {
    case GGUF_TYPE_UINT8: gguf_set_val_u8(dst, key, gguf_get_val_u8(src, i)); break;
    case GGUF_TYPE_INT8: gguf_set_val_i8(dst, key, gguf_get_val_i8(src, i)); break;
    case GGUF_TYPE_UINT16: gguf_set_val_u16(dst, key, gguf_get_val_u16(src, i)); break;
    case GGUF_TYPE_INT16: gguf_set_val_i16(dst, key, gguf_get_val_i16(src, i)); break;
    case GGUF_TYPE_UINT32: gguf_set_val_u32(dst, key, gguf_get_val_u32(src, i)); break;
    case GGUF_TYPE_INT32: gguf_set_val_i32(dst, key, gguf_get_val_i32(src, i)); break;
    case GGUF_TYPE_FLOAT32: gguf_set_val_f32(dst, key, gguf_get_val_f32(src, i)); break;
    case GGUF_TYPE_BOOL: gguf_set_val_bool(dst, key, gguf_get_val_bool(src, i)); break;
    case GGUF_TYPE_STRING: gguf_set_val_str(dst, key, gguf_get_val_str(src, i)); break;
    case GGUF_TYPE_UINT64: gguf_set_val_u64(dst, key, gguf_get_val_u64(src, i)); break;
    case GGUF_TYPE_INT64: gguf_set_val_i64(dst, key, gguf_get_val_i64(src, i)); break;
    case GGUF_TYPE_FLOAT64: gguf_set_val_f64(dst, key, gguf_get_val_f64(src, i)); break;
    case GGUF_TYPE_ARRAY: return copy_array(dst, src, i, key);
    default:
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "vocabulary key '%s' has an unknown type %d", key,
                            (int)gguf_get_kv_type(src, i));
    }
    return LLAMAC_OK;
}

/* Every tokenizer.* key (tokens, scores, types, merges, special ids and flags, chat templates), in file order. */
static llamac_status copy_tokenizer(struct gguf_context *dst, const struct gguf_context *src) {
    static const char prefix[] = "tokenizer.";
    for (int64_t i = 0; i < gguf_get_n_kv(src); i++) {
        if (strncmp(gguf_get_key(src, i), prefix, sizeof prefix - 1) == 0) {
            llamac_status st = copy_key(dst, src, i);
            if (st != LLAMAC_OK) {
                return st;
            }
        }
    }
    return LLAMAC_OK;
}

/* ---- metadata ---- */

static void set_u32(struct gguf_context *g, const char *arch, const char *suffix, uint32_t v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_set_val_u32(g, key, v);
}

static void set_f32(struct gguf_context *g, const char *arch, const char *suffix, float v) {
    char key[128];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    gguf_set_val_f32(g, key, v);
}

/* bert.classifier.output_labels: "LABEL_0", "LABEL_1", ...; llama.cpp takes n_cls_out from their count. */
#define LABEL_CAP 24

static llamac_status set_labels(struct gguf_context *g, const char *arch, int32_t n) {
    char key[128];
    snprintf(key, sizeof key, "%s.classifier.output_labels", arch);
    const char **ptrs = llamac__calloc((size_t)n, sizeof *ptrs);
    char *text = llamac__calloc((size_t)n, LABEL_CAP);
    if (!ptrs || !text) {
        free(ptrs);
        free(text);
        return LLAMAC_E_NO_MEMORY;
    }
    for (int32_t i = 0; i < n; i++) {
        char *label = text + (size_t)i * LABEL_CAP;
        snprintf(label, LABEL_CAP, "LABEL_%d", i);
        ptrs[i] = label;
    }
    gguf_set_arr_str(g, key, ptrs, (size_t)n);
    free(ptrs);
    free(text);
    return LLAMAC_OK;
}

static llamac_status build_meta(struct gguf_context *g, const llamac_synth_params *p, const struct arch_desc *a,
                                const struct vocab *v) {
    const char *an = a->name;
    gguf_set_val_str(g, "general.architecture", an);
    gguf_set_val_str(g, "general.name", p->name);
    gguf_set_val_u32(g, "general.file_type",
                     (uint32_t)(p->type == LLAMAC_SYNTH_F16 ? LLAMA_FTYPE_MOSTLY_F16 : LLAMA_FTYPE_ALL_F32));
    set_u32(g, an, "vocab_size", (uint32_t)v->n_tokens);
    set_u32(g, an, "block_count", (uint32_t)p->n_layer);
    set_u32(g, an, "context_length", (uint32_t)p->n_ctx_train);
    set_u32(g, an, "embedding_length", (uint32_t)p->n_embd);
    set_u32(g, an, "feed_forward_length", (uint32_t)p->n_ff);
    set_u32(g, an, "attention.head_count", (uint32_t)p->n_head);
    set_u32(g, an, "attention.head_count_kv", (uint32_t)p->n_head_kv);
    set_u32(g, an, "attention.key_length", (uint32_t)p->head_dim);
    set_u32(g, an, "attention.value_length", (uint32_t)p->head_dim);
    if (a->encoder) {
        set_f32(g, an, "attention.layer_norm_epsilon", p->norm_eps);
        char key[128];
        snprintf(key, sizeof key, "%s.attention.causal", an);
        gguf_set_val_bool(g, key, false);
        set_u32(g, an, "pooling_type",
                (uint32_t)(p->n_cls_out > 0 ? LLAMA_POOLING_TYPE_RANK : LLAMA_POOLING_TYPE_MEAN));
        if (p->n_cls_out > 0) {
            llamac_status st = set_labels(g, an, p->n_cls_out);
            if (st != LLAMAC_OK) {
                return st;
            }
        }
    } else {
        if (a->mrope) {
            /* Qwen2-VL's split of the rotary pairs (16, 24, 24 of 64): a quarter for time, the rest halved. */
            const int32_t pairs = p->head_dim / 2, t = pairs / 4, h = (pairs - t) / 2;
            const int32_t sections[4] = { t, h, pairs - t - h, 0 };
            char key[128];
            snprintf(key, sizeof key, "%s.rope.dimension_sections", an);
            gguf_set_arr_data(g, key, GGUF_TYPE_INT32, sections, 4);
        }
        set_u32(g, an, "rope.dimension_count", (uint32_t)p->head_dim);
        set_f32(g, an, "rope.freq_base", p->rope_theta);
        set_f32(g, an, "attention.layer_norm_rms_epsilon", p->norm_eps);
    }
    llamac_status st = copy_tokenizer(g, v->g);
    if (st == LLAMAC_OK && a->encoder && v->n_token_types == 0) {
        gguf_set_val_u32(g, "tokenizer.ggml.token_type_count", 2); /* BERT's sentence A and B */
    }
    return st;
}

/* Lists the architecture's tensors and registers them (shape and type only) with the gguf_context. */
static llamac_status build_tensors(struct gguf_context *g, struct llamac__synth_list *l, const llamac_synth_params *p,
                                   const struct arch_desc *a, const struct vocab *v) {
    l->cap = MAX_GLOBAL_TENSORS + MAX_TENSORS_PER_LAYER * (size_t)p->n_layer;
    l->items = llamac__calloc(l->cap, sizeof *l->items);
    if (!l->items) {
        return LLAMAC_E_NO_MEMORY;
    }
    l->wtype = p->type == LLAMAC_SYNTH_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    if (a->encoder) {
        bert_tensors(l, p, v->n_tokens, v->n_token_types ? v->n_token_types : 2);
    } else {
        decoder_tensors(l, p, a, v->n_tokens);
    }
    return llamac__synth_register(g, l);
}

llamac_status llamac_synth_write(const char *path, const llamac_synth_params *params) {
    if (!path || !path[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_synth_write: %s path", path ? "empty" : "NULL");
    }
    llamac_synth_params p;
    llamac_status st = llamac_synth_resolve(params, &p);
    if (st != LLAMAC_OK) {
        return st;
    }
    const struct arch_desc *a = find_arch(p.arch);
    if (!p.vocab_from || !p.vocab_from[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "no vocabulary: set vocab_from to a GGUF with a tokenizer (for %s, llama.cpp's "
                            "models/%s)",
                            a->name, a->vocab_file);
    }
    struct vocab v = { 0 };
    struct gguf_context *g = NULL;
    struct llamac__synth_list l = { 0 };
    st = vocab_open(p.vocab_from, &v);
    if (st == LLAMAC_OK && !(g = gguf_init_empty())) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory creating the GGUF metadata");
    }
    if (st == LLAMAC_OK) {
        st = build_meta(g, &p, a, &v);
    }
    struct llamac__synth_copy copy;
    if (st == LLAMAC_OK && p.copy_period) {
        st = llamac__synth_copy_plan(&p, &copy);
        l.copy = &copy;
    }
    if (st == LLAMAC_OK) {
        st = build_tensors(g, &l, &p, a, &v);
    }
    if (st == LLAMAC_OK) {
        st = llamac__synth_write_file(path, g, &l, p.seed, p.init_std);
    }
    free(l.items);
    gguf_free(g);
    gguf_free(v.g);
    return st == LLAMAC_OK ? llamac__ok() : st;
}
