/*
 * mmproj_check.c - a projector file checked with gguf before libmtmd reads it.
 *
 * libmtmd trusts its file more than a library can afford to: gguf's getters abort the process (GGML_ASSERT) when a
 * key has another type than the one asked for, the loader takes many tensors as optional that a graph then uses
 * unconditionally (an "mlp" projector without mm.2.weight is a null dereference), and the Whisper graph asserts at
 * encode time that its position table covers the window. So the file is read here first, with llamac's checking
 * GGUF reader: every key libmtmd may read must have the type it reads it as (the table below lists every key the
 * pinned clip.cpp loader reads, with its getter), the encoders' hyperparameters must be sound, and for the projector
 * types llamac knows (mlp, gemma3, qwen2vl_merger, ultravox), every tensor the graph uses must be there with the shape
 * the graph needs. Projector types llamac does not know pass with the generic checks; their tensors are libmtmd's
 * affair.
 */
#include "media/media_internal.h"

#include "gguf/gguf_internal.h"

#include <stdio.h>
#include <string.h>

enum kind { K_U32, K_I32, K_F32, K_BOOL, K_STR, K_ARR_F32, K_ARR_I32 };

/* Every key clip.cpp's loader reads at the pin, with the getter it reads it with ("clip.%s." keys once for each of
 * "vision", "audio" and "gen.audio"). */
static const struct {
    const char *key;
    enum kind kind;
} keys[] = {
    { "general.name", K_STR },
    { "general.description", K_STR },
    { "clip.projector_type", K_STR },
    { "clip.has_vision_encoder", K_BOOL },
    { "clip.has_audio_encoder", K_BOOL },
    { "clip.has_gen_audio_encoder", K_BOOL },
    { "clip.use_gelu", K_BOOL },
    { "clip.use_silu", K_BOOL },
    { "clip.minicpmv_version", K_I32 },
    { "clip.minicpmv_query_num", K_U32 },
    { "clip.%s.projector_type", K_STR },
    { "clip.%s.embedding_length", K_U32 },
    { "clip.%s.feed_forward_length", K_U32 },
    { "clip.%s.block_count", K_U32 },
    { "clip.%s.projection_dim", K_U32 },
    { "clip.%s.attention.head_count", K_U32 },
    { "clip.%s.attention.head_count_kv", K_U32 },
    { "clip.%s.attention.head_dim", K_U32 },
    { "clip.%s.attention.layer_norm_epsilon", K_F32 },
    { "clip.%s.feature_layer", K_ARR_I32 },
    { "clip.vision.image_size", K_U32 },
    { "clip.vision.patch_size", K_U32 },
    { "clip.vision.image_mean", K_ARR_F32 },
    { "clip.vision.image_std", K_ARR_F32 },
    { "clip.vision.image_grid_pinpoints", K_ARR_I32 },
    { "clip.vision.mm_patch_merge_type", K_STR },
    { "clip.vision.image_min_pixels", K_U32 },
    { "clip.vision.image_max_pixels", K_U32 },
    { "clip.vision.preproc_min_tiles", K_U32 },
    { "clip.vision.preproc_max_tiles", K_U32 },
    { "clip.vision.preproc_image_size", K_U32 },
    { "clip.vision.projector.scale_factor", K_U32 },
    { "clip.vision.projector.query_side", K_U32 },
    { "clip.vision.projector.window_side", K_U32 },
    { "clip.vision.projector.spatial_offsets", K_ARR_I32 },
    { "clip.vision.spatial_merge_size", K_U32 },
    { "clip.vision.n_wa_pattern", K_U32 },
    { "clip.vision.wa_layer_indexes", K_ARR_I32 },
    { "clip.vision.wa_pattern_mode", K_ARR_I32 },
    { "clip.vision.window_size", K_U32 },
    { "clip.vision.expert_used_count", K_U32 },
    { "clip.vision.sam.block_count", K_U32 },
    { "clip.vision.sam.head_count", K_U32 },
    { "clip.vision.sam.embedding_length", K_U32 },
    { "clip.audio.num_mel_bins", K_U32 },
    { "clip.audio.projector.stack_factor", K_U32 },
    { "clip.audio.subsampling_factor", K_U32 },
    { "clip.audio.chunk_size", K_U32 },
    { "clip.audio.conv_kernel_size", K_U32 },
    { "clip.audio.max_pos_emb", K_U32 },
    { "clip.audio.projector.window_size", K_U32 },
    { "clip.audio.projector.downsample_rate", K_U32 },
    { "clip.audio.projector.head_count", K_U32 },
    { "clip.audio.rvq.num_quantizers", K_U32 },
    { "clip.audio.rvq.codebook_size", K_ARR_I32 },
    { "clip.audio.wa_pattern_mode", K_ARR_I32 },
    { "clip.audio.window_size", K_U32 },
    { "clip.audio.local_block_count", K_U32 },
    { "clip.audio.local_group_size", K_U32 },
    { "clip.gen.audio.model_variant", K_STR },
};

static const char *kind_name(enum kind k) {
    switch (k) {
    case K_U32: return "u32";
    case K_I32: return "i32";
    case K_F32: return "f32";
    case K_BOOL: return "bool";
    case K_STR: return "a string";
    case K_ARR_F32: return "an array of f32";
    case K_ARR_I32: return "an array of i32";
    }
    return "?";
}

static const char *type_name(const struct gguf_context *g, int64_t k, char *buf, size_t cap) {
    enum gguf_type t = gguf_get_kv_type(g, k);
    if (t == GGUF_TYPE_ARRAY) {
        snprintf(buf, cap, "an array of %s", gguf_type_name(gguf_get_arr_type(g, k)));
    } else {
        snprintf(buf, cap, "%s", gguf_type_name(t));
    }
    return buf;
}

static bool has_kind(const struct gguf_context *g, int64_t k, enum kind want) {
    enum gguf_type t = gguf_get_kv_type(g, k);
    switch (want) {
    case K_U32: return t == GGUF_TYPE_UINT32;
    case K_I32: return t == GGUF_TYPE_INT32;
    case K_F32: return t == GGUF_TYPE_FLOAT32;
    case K_BOOL: return t == GGUF_TYPE_BOOL;
    case K_STR: return t == GGUF_TYPE_STRING;
    case K_ARR_F32: return t == GGUF_TYPE_ARRAY && gguf_get_arr_type(g, k) == GGUF_TYPE_FLOAT32;
    case K_ARR_I32: return t == GGUF_TYPE_ARRAY && gguf_get_arr_type(g, k) == GGUF_TYPE_INT32;
    }
    return false;
}

struct check {
    const char *path;
    struct gguf_context *g;
    struct ggml_context *meta;
    int32_t n_embd_text;
};

static llamac_status check_key_types(const struct check *c) {
    static const char *const modalities[] = { "vision", "audio", "gen.audio" };
    char key[128], got[64];
    for (size_t i = 0; i < sizeof keys / sizeof keys[0]; i++) {
        const char *hole = strstr(keys[i].key, "%s");
        size_t n = hole ? 3 : 1;
        for (size_t m = 0; m < n; m++) {
            if (hole) {
                snprintf(key, sizeof key, "%.*s%s%s", (int)(hole - keys[i].key), keys[i].key, modalities[m], hole + 2);
            } else {
                snprintf(key, sizeof key, "%s", keys[i].key);
            }
            int64_t k = gguf_find_key(c->g, key);
            if (k >= 0 && !has_kind(c->g, k, keys[i].kind)) {
                return llamac__fail(LLAMAC_E_MODEL_LOAD,
                                    "projector '%s': key '%s' is %s, but libmtmd reads it as %s (it would abort)",
                                    c->path, key, type_name(c->g, k, got, sizeof got), kind_name(keys[i].kind));
            }
        }
    }
    return LLAMAC_OK;
}

/* ---- values (their types are checked by now) ---- */

static bool get_bool(const struct gguf_context *g, const char *key) {
    int64_t k = gguf_find_key(g, key);
    return k >= 0 && gguf_get_val_bool(g, k);
}

/* A u32 key of `modality` ("clip.vision.<suffix>"), or -1 when absent. */
static int64_t get_u32(const struct gguf_context *g, const char *modality, const char *suffix) {
    char key[128];
    snprintf(key, sizeof key, "clip.%s.%s", modality, suffix);
    int64_t k = gguf_find_key(g, key);
    return k >= 0 ? (int64_t)gguf_get_val_u32(g, k) : -1;
}

static size_t arr_n(const struct gguf_context *g, const char *key) {
    int64_t k = gguf_find_key(g, key);
    return k >= 0 ? gguf_get_arr_n(g, k) : 0;
}

/* ---- tensors ---- */

static const struct ggml_tensor *tensor(const struct check *c, const char *name) {
    return ggml_get_tensor(c->meta, name);
}

static const char *shape_str(const struct ggml_tensor *t, char *buf, size_t cap) {
    int n = ggml_n_dims(t);
    size_t len = (size_t)snprintf(buf, cap, "[");
    for (int i = 0; i < n && len < cap; i++) {
        len += (size_t)snprintf(buf + len, cap - len, "%s%lld", i ? ", " : "", (long long)t->ne[i]);
    }
    if (len < cap) {
        snprintf(buf + len, cap - len, "]");
    }
    return buf;
}

/* Dimension `d` of a required tensor: -1 in `ne` means any size, -2 means "at least ne_min[d]". */
#define ANY (-1)

/* Checks that tensor `name` exists (when `required`) and has exactly the sizes in ne (ANY for a free dimension,
 * 0 for "1 or absent"); *out receives it (NULL when absent and optional). */
static llamac_status need(const struct check *c, const char *name, bool required, int64_t ne0, int64_t ne1, int64_t ne2,
                          int64_t ne3, const struct ggml_tensor **out) {
    const struct ggml_tensor *t = tensor(c, name);
    if (out) {
        *out = t;
    }
    if (!t) {
        return required ? llamac__fail(LLAMAC_E_MODEL_LOAD,
                                       "projector '%s' has no tensor '%s', which libmtmd's graph uses unconditionally",
                                       c->path, name)
                        : LLAMAC_OK;
    }
    const int64_t want[4] = { ne0, ne1, ne2, ne3 };
    for (int d = 0; d < 4; d++) {
        if (want[d] != ANY && t->ne[d] != (want[d] == 0 ? 1 : want[d])) {
            char got[96];
            return llamac__fail(LLAMAC_E_MODEL_LOAD,
                                "projector '%s': tensor '%s' has shape %s, but dimension %d must be %lld", c->path,
                                name, shape_str(t, got, sizeof got), d, (long long)(want[d] == 0 ? 1 : want[d]));
        }
    }
    return LLAMAC_OK;
}

/* Shape of one encoder, read from its keys. */
struct enc {
    const char *modality; /* "vision" or "audio" */
    const char *prefix;   /* "v" or "a" */
    const char *projector;
    int64_t n_embd, n_head, n_head_kv, d_head, n_ff, n_layer;
};

#define MAX_ENC_LAYERS 4096
#define MAX_ENC_EMBD (1 << 20)

static llamac_status read_enc(const struct check *c, const char *modality, const char *prefix, const char *projector,
                              struct enc *e) {
    memset(e, 0, sizeof *e);
    e->modality = modality;
    e->prefix = prefix;
    e->projector = projector;
    e->n_embd = get_u32(c->g, modality, "embedding_length");
    e->n_head = get_u32(c->g, modality, "attention.head_count");
    e->n_layer = get_u32(c->g, modality, "block_count");
    e->n_ff = get_u32(c->g, modality, "feed_forward_length");
    int64_t kv = get_u32(c->g, modality, "attention.head_count_kv");
    int64_t hd = get_u32(c->g, modality, "attention.head_dim");
    if (e->n_embd < 1 || e->n_embd > MAX_ENC_EMBD) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.%s.embedding_length %lld is %s", c->path,
                            modality, (long long)e->n_embd, e->n_embd < 0 ? "missing" : "out of range");
    }
    if (e->n_head < 1 || e->n_head > e->n_embd) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.%s.attention.head_count %lld is %s", c->path,
                            modality, (long long)e->n_head, e->n_head < 0 ? "missing" : "out of range");
    }
    if (e->n_layer < 0 || e->n_layer > MAX_ENC_LAYERS) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.%s.block_count %lld is %s (at most %d)", c->path,
                            modality, (long long)e->n_layer, e->n_layer < 0 ? "missing" : "out of range",
                            MAX_ENC_LAYERS);
    }
    e->n_head_kv = kv > 0 ? kv : e->n_head;
    if (hd > 0) {
        e->d_head = hd;
    } else if (e->n_embd % e->n_head != 0) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.%s.attention.head_count %lld does not divide embedding_length %lld "
                            "(and no head_dim is given)",
                            c->path, modality, (long long)e->n_head, (long long)e->n_embd);
    } else {
        e->d_head = e->n_embd / e->n_head;
    }
    if (e->n_head_kv < 1 || e->n_head % e->n_head_kv != 0) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.%s.attention.head_count_kv %lld does not divide head_count %lld",
                            c->path, modality, (long long)e->n_head_kv, (long long)e->n_head);
    }
    return LLAMAC_OK;
}

/* The transformer blocks of a ViT / Whisper encoder as build_vit and the LLaVA graph use them: Q, K, V and output
 * projections, two layer norms, a feed-forward pair (up and down, in either order: old conversions swapped them).
 * build_vit (SigLIP, Whisper) has grouped-query attention (`gqa`); the LLaVA graph gives K and V n_head heads.
 * Whisper's graph asserts its norms' and Q/V biases and the absence of a K bias. */
static llamac_status check_blocks(const struct check *c, const struct enc *e, bool gqa, bool whisper) {
    const int64_t E = e->n_embd, q_out = e->n_head * e->d_head;
    const int64_t kv_out = gqa ? e->n_head_kv * e->d_head : q_out;
    char name[GGML_MAX_NAME + 16];
    llamac_status st;
    for (int64_t il = 0; il < e->n_layer; il++) {
#define BLK(suffix) (snprintf(name, sizeof name, "%s.blk.%lld.%s", e->prefix, (long long)il, suffix), name)
        const struct ggml_tensor *up = NULL, *down = NULL;
        if ((st = need(c, BLK("attn_q.weight"), true, E, q_out, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_k.weight"), true, E, kv_out, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_v.weight"), true, E, kv_out, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_out.weight"), true, q_out, E, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_q.bias"), whisper, q_out, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_v.bias"), whisper, kv_out, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("attn_out.bias"), false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("ln1.weight"), whisper, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("ln1.bias"), whisper, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("ln2.weight"), whisper, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("ln2.bias"), whisper, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, BLK("ffn_up.weight"), true, E, ANY, 0, 0, &up)) != LLAMAC_OK ||
            (st = need(c, BLK("ffn_down.weight"), true, ANY, ANY, 0, 0, &down)) != LLAMAC_OK) {
            return st;
        }
        if (whisper && tensor(c, BLK("attn_k.bias"))) {
            return llamac__fail(LLAMAC_E_MODEL_LOAD,
                                "projector '%s' has tensor '%s', but a Whisper encoder's key projection has no bias "
                                "(libmtmd's graph asserts it)",
                                c->path, name);
        }
        if (!whisper && tensor(c, BLK("attn_k.bias")) &&
            (st = need(c, BLK("attn_k.bias"), false, kv_out, 0, 0, 0, NULL)) != LLAMAC_OK) {
            return st;
        }
        /* up [E, F] and down [F, E]; or, in old conversions, the two swapped (libmtmd swaps them back). */
        int64_t F = up->ne[1];
        bool fine = (down->ne[0] == F && down->ne[1] == E) || (up->ne[1] == E && down->ne[0] == E);
        if (!fine) {
            char a[96], b[96];
            return llamac__fail(LLAMAC_E_MODEL_LOAD,
                                "projector '%s': block %lld's feed-forward tensors do not fit together (ffn_up %s, "
                                "ffn_down %s, width %lld)",
                                c->path, (long long)il, shape_str(up, a, sizeof a), shape_str(down, b, sizeof b),
                                (long long)E);
        }
#undef BLK
    }
    return LLAMAC_OK;
}

/* What every fixed-size vision encoder needs: an image of at least one patch, the normalisation, blocks. */
static llamac_status check_image_keys(const struct check *c, const struct enc *e, int64_t *image, int64_t *patch) {
    *image = get_u32(c->g, "vision", "image_size");
    *patch = get_u32(c->g, "vision", "patch_size");
    if (*patch < 1 || *image < *patch || *image > 8192) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.vision.image_size %lld and patch_size %lld do not make an image of "
                            "at least one patch (image_size at most 8192)",
                            c->path, (long long)*image, (long long)*patch);
    }
    if (arr_n(c->g, "clip.vision.image_mean") < 3 || arr_n(c->g, "clip.vision.image_std") < 3) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.vision.image_mean and image_std need 3 values each (one per "
                            "colour)",
                            c->path);
    }
    if (e->n_layer < 1) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': the vision encoder has no blocks", c->path);
    }
    return LLAMAC_OK;
}

/* The vision side of an "mlp" projector: CLIP ViT + LLaVA projection (or, with mm.3, its normed variant). */
static llamac_status check_mlp(const struct check *c, const struct enc *e) {
    const int64_t E = e->n_embd;
    int64_t image = 0, patch = 0;
    const struct ggml_tensor *cls = NULL, *pos = NULL;
    llamac_status st;
    if ((st = check_image_keys(c, e, &image, &patch)) != LLAMAC_OK ||
        (st = need(c, "v.patch_embd.weight", true, patch, patch, 3, E, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.class_embd", false, E, 0, 0, 0, &cls)) != LLAMAC_OK ||
        (st = need(c, "v.position_embd.weight", true, E, ANY, 0, 0, &pos)) != LLAMAC_OK ||
        (st = need(c, "v.patch_embd.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.pre_ln.weight", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.pre_ln.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.post_ln.weight", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.post_ln.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    int64_t side = image / patch, n_pos = side * side + (cls ? 1 : 0);
    if (pos->ne[1] < n_pos) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': tensor 'v.position_embd.weight' has %lld positions, but a %lldx%lld image "
                            "in %lldx%lld patches needs %lld",
                            c->path, (long long)pos->ne[1], (long long)image, (long long)image, (long long)patch,
                            (long long)patch, (long long)n_pos);
    }
    if ((st = check_blocks(c, e, false, false)) != LLAMAC_OK) {
        return st;
    }
    /* The features: the encoder's width, or several layers' stacked when feature layers are named. */
    size_t n_feat = arr_n(c->g, "clip.vision.feature_layer");
    const int64_t in = E * (int64_t)(n_feat > 1 ? n_feat : 1), T = c->n_embd_text;
    const struct ggml_tensor *mm0 = NULL;
    if ((st = need(c, "mm.0.weight", true, in, ANY, 0, 0, &mm0)) != LLAMAC_OK ||
        (st = need(c, "mm.0.bias", true, mm0->ne[1], 0, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    if (tensor(c, "mm.3.weight")) { /* the normed variant: linear, norm, GELU, linear, norm */
        const struct ggml_tensor *mm3 = NULL;
        if ((st = need(c, "mm.1.weight", true, mm0->ne[1], 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, "mm.1.bias", true, mm0->ne[1], 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, "mm.3.weight", true, mm0->ne[1], T, 0, 0, &mm3)) != LLAMAC_OK ||
            (st = need(c, "mm.3.bias", true, T, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, "mm.4.weight", true, T, 0, 0, 0, NULL)) != LLAMAC_OK ||
            (st = need(c, "mm.4.bias", true, T, 0, 0, 0, NULL)) != LLAMAC_OK) {
            return st;
        }
        return LLAMAC_OK;
    }
    if ((st = need(c, "mm.2.weight", true, mm0->ne[1], T, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.2.bias", true, T, 0, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    return LLAMAC_OK;
}

/* A "gemma3" projector: SigLIP ViT (build_vit, which adds the position table to the patches as it is, so it must
 * have exactly one row per patch), then average pooling, an RMS norm and the projection. */
static llamac_status check_gemma3(const struct check *c, const struct enc *e) {
    const int64_t E = e->n_embd, T = c->n_embd_text;
    int64_t image = 0, patch = 0;
    llamac_status st = check_image_keys(c, e, &image, &patch);
    if (st != LLAMAC_OK) {
        return st;
    }
    int64_t side = image / patch, merge = get_u32(c->g, "vision", "projector.scale_factor");
    merge = merge < 0 ? 4 : merge; /* libmtmd's default for Gemma 3 */
    if (merge < 1 || merge > side) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.vision.projector.scale_factor %lld pools more than the %lld patches "
                            "per side of the image (no token would be left)",
                            c->path, (long long)merge, (long long)side);
    }
    if ((st = need(c, "v.patch_embd.weight", true, patch, patch, 3, E, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.patch_embd.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.position_embd.weight", true, E, side * side, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.pre_ln.weight", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.post_ln.weight", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.post_ln.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = check_blocks(c, e, true, false)) != LLAMAC_OK ||
        (st = need(c, "mm.soft_emb_norm.weight", true, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.input_projection.weight", true, T, E, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    return LLAMAC_OK;
}

/* A "qwen2vl_merger" projector: Qwen2-VL's ViT, whose graph adds the Q, K and V biases unconditionally, asserts there
 * is no patch bias nor class embedding, and concatenates 2 x 2 patches for the merger. */
static llamac_status check_qwen2vl(const struct check *c, const struct enc *e) {
    const int64_t E = e->n_embd, T = c->n_embd_text;
    int64_t patch = get_u32(c->g, "vision", "patch_size"), merge = get_u32(c->g, "vision", "spatial_merge_size");
    if (patch < 1 || patch > 8192) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.vision.patch_size %lld is %s", c->path,
                            (long long)patch, patch < 0 ? "missing" : "out of range");
    }
    if (merge >= 0 && merge != 2) {
        return llamac__fail(
            LLAMAC_E_MODEL_LOAD,
            "projector '%s': clip.vision.spatial_merge_size %lld: libmtmd's Qwen2-VL graph merges 2 x 2 "
            "patches",
            c->path, (long long)merge);
    }
    if (e->d_head % 4 != 0 || e->n_head_kv != e->n_head) {
        return llamac__fail(
            LLAMAC_E_MODEL_LOAD,
            "projector '%s': the vision encoder's head size %lld must be divisible by 4 and its K/V heads "
            "(%lld) equal its heads (%lld)",
            c->path, (long long)e->d_head, (long long)e->n_head_kv, (long long)e->n_head);
    }
    if (arr_n(c->g, "clip.vision.image_mean") < 3 || arr_n(c->g, "clip.vision.image_std") < 3) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': clip.vision.image_mean and image_std need 3 values each", c->path);
    }
    if (tensor(c, "v.patch_embd.bias") || tensor(c, "v.class_embd")) {
        return llamac__fail(
            LLAMAC_E_MODEL_LOAD,
            "projector '%s' has a patch bias or a class embedding, which libmtmd's Qwen2-VL graph asserts "
            "it has not",
            c->path);
    }
    char name[GGML_MAX_NAME + 16];
    const struct ggml_tensor *mm0 = NULL;
    llamac_status st;
    if ((st = need(c, "v.patch_embd.weight", true, patch, patch, 3, E, NULL)) != LLAMAC_OK ||
        (st = need(c, "v.patch_embd.weight.1", true, patch, patch, 3, E, NULL)) != LLAMAC_OK ||
        (st = check_blocks(c, e, false, false)) != LLAMAC_OK) {
        return st;
    }
    for (int64_t il = 0; il < e->n_layer; il++) {
        static const char *const biases[] = { "attn_q.bias", "attn_k.bias", "attn_v.bias" };
        for (size_t k = 0; k < 3; k++) {
            snprintf(name, sizeof name, "v.blk.%lld.%s", (long long)il, biases[k]);
            if ((st = need(c, name, true, E, 0, 0, 0, NULL)) != LLAMAC_OK) {
                return st;
            }
        }
    }
    if ((st = need(c, "mm.0.weight", true, 4 * E, ANY, 0, 0, &mm0)) != LLAMAC_OK ||
        (st = need(c, "mm.0.bias", true, mm0->ne[1], 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.2.weight", true, mm0->ne[1], T, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.2.bias", true, T, 0, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    return LLAMAC_OK;
}

/* Whisper's window: 30 seconds of 10 ms mel frames, halved by the strided convolution. */
#define WHISPER_POSITIONS 1500

/* The audio side of an "ultravox" projector: Whisper encoder, stacked frames, RMS norm, SwiGLU, RMS norm, linear. */
static llamac_status check_ultravox(const struct check *c, const struct enc *e) {
    const int64_t E = e->n_embd, T = c->n_embd_text;
    int64_t n_mel = get_u32(c->g, "audio", "num_mel_bins");
    int64_t stack = get_u32(c->g, "audio", "projector.stack_factor");
    if (n_mel < 1 || n_mel > 256) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.audio.num_mel_bins %lld is %s (1 to 256)",
                            c->path, (long long)n_mel, n_mel < 0 ? "missing" : "out of range");
    }
    if (stack < 1 || stack > 4096) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': clip.audio.projector.stack_factor %lld is %s",
                            c->path, (long long)stack, stack < 0 ? "missing" : "out of range (1 to 4096)");
    }
    if (e->n_layer < 1) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "projector '%s': the audio encoder has no blocks", c->path);
    }
    const struct ggml_tensor *k1 = NULL, *pos = NULL, *mlp1 = NULL;
    llamac_status st;
    if ((st = need(c, "a.conv1d.1.weight", true, ANY, n_mel, E, 0, &k1)) != LLAMAC_OK ||
        (st = need(c, "a.conv1d.1.bias", true, 1, E, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "a.conv1d.2.weight", true, k1->ne[0], E, E, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "a.conv1d.2.bias", true, 1, E, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "a.position_embd.weight", true, E, ANY, 0, 0, &pos)) != LLAMAC_OK ||
        (st = need(c, "a.post_ln.weight", false, E, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "a.post_ln.bias", false, E, 0, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    if (k1->ne[0] % 2 != 1) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': tensor 'a.conv1d.1.weight' has a kernel of %lld, which must be odd",
                            c->path, (long long)k1->ne[0]);
    }
    if (pos->ne[1] < WHISPER_POSITIONS) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': tensor 'a.position_embd.weight' has %lld positions, but a 30-second "
                            "window needs %d (libmtmd asserts it when encoding)",
                            c->path, (long long)pos->ne[1], WHISPER_POSITIONS);
    }
    if ((st = check_blocks(c, e, true, true)) != LLAMAC_OK) {
        return st;
    }
    const int64_t stacked = E * stack;
    if ((st = need(c, "mm.a.norm_pre.weight", true, stacked, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.a.mlp.1.weight", true, stacked, ANY, 0, 0, &mlp1)) != LLAMAC_OK) {
        return st;
    }
    if (mlp1->ne[1] % 2 != 0) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s': tensor 'mm.a.mlp.1.weight' has %lld outputs; SwiGLU needs an even number",
                            c->path, (long long)mlp1->ne[1]);
    }
    const int64_t H = mlp1->ne[1] / 2;
    if ((st = need(c, "mm.a.norm_mid.weight", true, H, 0, 0, 0, NULL)) != LLAMAC_OK ||
        (st = need(c, "mm.a.mlp.2.weight", true, H, T, 0, 0, NULL)) != LLAMAC_OK) {
        return st;
    }
    return LLAMAC_OK;
}

/* The projector type of one encoder: clip.projector_type, or clip.<modality>.projector_type in a file with both. */
static void projector_type(const struct gguf_context *g, const char *modality, char *out, size_t cap) {
    char key[64];
    snprintf(key, sizeof key, "clip.%s.projector_type", modality);
    int64_t k = gguf_find_key(g, "clip.projector_type");
    if (k < 0) {
        k = gguf_find_key(g, key);
    }
    snprintf(out, cap, "%s", k >= 0 ? gguf_get_val_str(g, k) : "");
}

static llamac_status check_encoder(const struct check *c, const char *modality, const char *prefix, char *type,
                                   size_t type_cap) {
    projector_type(c->g, modality, type, type_cap);
    if (!type[0]) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "projector '%s' has a %s encoder but no projector type (clip.projector_type or "
                            "clip.%s.projector_type)",
                            c->path, modality, modality);
    }
    struct enc e;
    llamac_status st = read_enc(c, modality, prefix, type, &e);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (strcmp(modality, "vision") == 0 && strcmp(type, "mlp") == 0) {
        return check_mlp(c, &e);
    }
    if (strcmp(modality, "vision") == 0 && strcmp(type, "gemma3") == 0) {
        return check_gemma3(c, &e);
    }
    if (strcmp(modality, "vision") == 0 && strcmp(type, "qwen2vl_merger") == 0) {
        return check_qwen2vl(c, &e);
    }
    if (strcmp(modality, "audio") == 0 && strcmp(type, "ultravox") == 0) {
        return check_ultravox(c, &e);
    }
    return LLAMAC_OK; /* a projector type llamac does not know: the generic checks only */
}

llamac_status llamac__mmproj_check(const char *path, int32_t n_embd_text, struct llamac__mmproj_facts *out) {
    memset(out, 0, sizeof *out);
    llamac_gguf *gguf = NULL;
    llamac_status st = llamac__gguf_open(path, "projector", &gguf);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct check c = { path, gguf->shards[0].g, gguf->shards[0].meta, n_embd_text };
    if ((st = check_key_types(&c)) != LLAMAC_OK) {
        goto done;
    }
    out->vision = get_bool(c.g, "clip.has_vision_encoder");
    out->audio = get_bool(c.g, "clip.has_audio_encoder");
    if (!out->vision && !out->audio) {
        st = llamac__fail(LLAMAC_E_MODEL_LOAD,
                          "projector '%s' has neither a vision nor an audio encoder (clip.has_vision_encoder and "
                          "clip.has_audio_encoder are false or missing)",
                          path);
        goto done;
    }
    if (out->vision &&
        (st = check_encoder(&c, "vision", "v", out->vision_projector, sizeof out->vision_projector)) != LLAMAC_OK) {
        goto done;
    }
    if (out->audio &&
        (st = check_encoder(&c, "audio", "a", out->audio_projector, sizeof out->audio_projector)) != LLAMAC_OK) {
        goto done;
    }
done:
    llamac_gguf_free(gguf);
    return st;
}
