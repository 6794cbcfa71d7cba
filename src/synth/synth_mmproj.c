/*
 * synth_mmproj.c - synthetic multimodal projectors: the mmproj GGUF llama.cpp's converters write for a LLaVA-style,
 * Gemma 3 or Qwen2-VL vision encoder and for an Ultravox audio encoder, with seeded random weights.
 *
 * The keys and tensors are the ones libmtmd's loader reads for the "mlp", "gemma3", "qwen2vl_merger" and "ultravox"
 * projector types (clip.* keys
 * of the types it reads them as; v.* and a.* encoder tensors; mm.* projections), shaped as its graphs use them, so
 * the file loads and encodes in the pinned libmtmd exactly as a converted model would. The generator and the writer
 * are the text models' (synth_write.c): same parameters, same bytes.
 */
#include "synth/synth_internal.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_EMBD 8192
#define MAX_HEADS 256
#define MAX_LAYERS 64
#define MAX_FF 65536
#define MAX_IMAGE_SIZE 2048 /* libmtmd's own cap is 8192 */
#define MAX_MEL_BINS 256    /* libmtmd refuses more */
#define MAX_STACK 64
#define AUDIO_POSITIONS 1500 /* one 30-second window: 3000 mel frames, halved by the second convolution */
#define LAYER_NORM_EPS 1e-5f
#define DEFAULT_STD 0.02f

llamac_synth_mmproj_params llamac_synth_mmproj_params_default(void) {
    llamac_synth_mmproj_params p;
    memset(&p, 0, sizeof p);
    p.vision = true;
    p.type = LLAMAC_SYNTH_F32;
    return p;
}

/* An integer field: the caller's value if set, else `fallback`; within [1, max]. */
static llamac_status take(const char *field, int32_t given, int32_t fallback, int32_t max, int32_t *out) {
    int32_t v = given ? given : fallback;
    if (v < 1 || v > max) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s %d is out of range (1 to %d; 0 means the default)", field, v,
                            max);
    }
    *out = v;
    return LLAMAC_OK;
}

/* The text model's embedding width, from its metadata. */
static llamac_status text_width(const char *path, int32_t *out) {
    llamac_gguf *g = NULL;
    llamac_status st = llamac_gguf_open(path, &g);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_gguf_info info;
    llamac_gguf_get_info(g, &info);
    llamac_gguf_free(g);
    if (info.n_embd == 0 || info.n_embd > MAX_EMBD * 8) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "text model '%s' has no usable embedding_length (%u)", path,
                            info.n_embd);
    }
    *out = (int32_t)info.n_embd;
    return LLAMAC_OK;
}

/* Every default filled in and every value checked, before any file is touched. */
static llamac_status resolve(const llamac_synth_mmproj_params *in, llamac_synth_mmproj_params *p) {
    *p = *in;
    if (!in->vision && !in->audio) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "nothing to write: set vision, audio or both");
    }
    p->vision_projector = in->vision_projector ? in->vision_projector : "mlp";
    bool gemma3 = strcmp(p->vision_projector, "gemma3") == 0, qwen2vl = strcmp(p->vision_projector, "qwen2vl") == 0;
    if (!gemma3 && !qwen2vl && strcmp(p->vision_projector, "mlp") != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "vision projector '%s' is not mlp, gemma3 or qwen2vl",
                            p->vision_projector);
    }
    if (!gemma3 && in->n_merge != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_merge %d applies to the gemma3 projector only", in->n_merge);
    }
    if (in->type != LLAMAC_SYNTH_F32 && in->type != LLAMAC_SYNTH_F16) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "weight type %d is not F32 (0) or F16 (1)", (int)in->type);
    }
    if (isnan(in->init_std) || in->init_std < 0.0f || in->init_std > 1.0f) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "init_std %g is not between 0 (the default) and 1",
                            (double)in->init_std);
    }
    p->init_std = in->init_std > 0.0f ? in->init_std : DEFAULT_STD;
    llamac_status st;
    if (in->n_embd_text < 0 || (in->n_embd_text == 0 && (!in->text_model || !in->text_model[0]))) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "no width to project to: give the text model (text_model) or n_embd_text (got %d)",
                            in->n_embd_text);
    }
    if (in->n_embd_text == 0 && (st = text_width(in->text_model, &p->n_embd_text)) != LLAMAC_OK) {
        return st;
    }
    if ((st = take("n_embd_text", p->n_embd_text, 0, MAX_EMBD * 8, &p->n_embd_text)) != LLAMAC_OK ||
        (st = take("n_embd", in->n_embd, 32, MAX_EMBD, &p->n_embd)) != LLAMAC_OK ||
        (st = take("n_head", in->n_head, 4, MAX_HEADS, &p->n_head)) != LLAMAC_OK ||
        (st = take("n_layer", in->n_layer, 2, MAX_LAYERS, &p->n_layer)) != LLAMAC_OK ||
        (st = take("n_ff", in->n_ff, 4 * p->n_embd, MAX_FF, &p->n_ff)) != LLAMAC_OK ||
        (st = take("image_size", in->image_size, 32, MAX_IMAGE_SIZE, &p->image_size)) != LLAMAC_OK ||
        (st = take("patch_size", in->patch_size, 8, MAX_IMAGE_SIZE, &p->patch_size)) != LLAMAC_OK ||
        (st = take("n_mel_bins", in->n_mel_bins, 80, MAX_MEL_BINS, &p->n_mel_bins)) != LLAMAC_OK ||
        (st = take("stack_factor", in->stack_factor, 4, MAX_STACK, &p->stack_factor)) != LLAMAC_OK ||
        (st = take("n_merge", in->n_merge, gemma3 ? 2 : 1, MAX_IMAGE_SIZE, &p->n_merge)) != LLAMAC_OK) {
        return st;
    }
    if (p->vision && gemma3 && p->image_size / p->patch_size < p->n_merge) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_merge %d is more than the %d patches per side of a %d-pixel image in %d-pixel patches",
                            p->n_merge, p->image_size / p->patch_size, p->image_size, p->patch_size);
    }
    if (p->n_embd % p->n_head != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_head %d does not divide n_embd %d", p->n_head, p->n_embd);
    }
    if (p->vision && p->image_size % p->patch_size != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "patch_size %d does not divide image_size %d", p->patch_size,
                            p->image_size);
    }
    if (p->vision && qwen2vl && (p->n_embd / p->n_head) % 4 != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the qwen2vl encoder's 2-D rotary positions need a head size divisible by 4, not %d",
                            p->n_embd / p->n_head);
    }
    if (p->vision && !gemma3 && !qwen2vl && p->n_layer < 2) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "a LLaVA-style vision encoder needs at least 2 blocks (it takes the second-to-last), not "
                            "%d",
                            p->n_layer);
    }
    return LLAMAC_OK;
}

static void add(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, int64_t ne0, int64_t ne1,
                int64_t ne2, int64_t ne3, const char *fmt, ...) LLAMAC_PRINTF(8, 9);

static void add(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, int64_t ne0, int64_t ne1,
                int64_t ne2, int64_t ne3, const char *fmt, ...) {
    const int64_t ne[4] = { ne0, ne1, ne2, ne3 };
    va_list ap;
    va_start(ap, fmt);
    llamac__synth_addv(l, fill, type, ne, fmt, ap);
    va_end(ap);
}

#define F32 GGML_TYPE_F32

/* A layer norm `name` of width n: weight 1, bias 0. */
static void norm(struct llamac__synth_list *l, int64_t n, const char *name) {
    add(l, LLAMAC__FILL_ONES, F32, n, 1, 1, 1, "%s.weight", name);
    add(l, LLAMAC__FILL_ZEROS, F32, n, 1, 1, 1, "%s.bias", name);
}

/* The pre-norm transformer blocks both encoders share (prefix "v" or "a"); Whisper's key projection has no bias. */
static void blocks(struct llamac__synth_list *l, enum ggml_type w, const llamac_synth_mmproj_params *p,
                   const char *prefix, bool k_bias) {
    const int64_t e = p->n_embd, ff = p->n_ff;
    static const char *const attn[] = { "attn_q", "attn_k", "attn_v", "attn_out" };
    char name[GGML_MAX_NAME];
    for (int32_t i = 0; i < p->n_layer; i++) {
        for (size_t k = 0; k < sizeof attn / sizeof attn[0]; k++) {
            add(l, LLAMAC__FILL_RANDOM, w, e, e, 1, 1, "%s.blk.%d.%s.weight", prefix, i, attn[k]);
            if (k != 1 || k_bias) {
                add(l, LLAMAC__FILL_RANDOM, F32, e, 1, 1, 1, "%s.blk.%d.%s.bias", prefix, i, attn[k]);
            }
        }
        snprintf(name, sizeof name, "%s.blk.%d.ln1", prefix, i);
        norm(l, e, name);
        snprintf(name, sizeof name, "%s.blk.%d.ln2", prefix, i);
        norm(l, e, name);
        add(l, LLAMAC__FILL_RANDOM, w, e, ff, 1, 1, "%s.blk.%d.ffn_up.weight", prefix, i);
        add(l, LLAMAC__FILL_RANDOM, F32, ff, 1, 1, 1, "%s.blk.%d.ffn_up.bias", prefix, i);
        add(l, LLAMAC__FILL_RANDOM, w, ff, e, 1, 1, "%s.blk.%d.ffn_down.weight", prefix, i);
        add(l, LLAMAC__FILL_RANDOM, F32, e, 1, 1, 1, "%s.blk.%d.ffn_down.bias", prefix, i);
    }
}

/* CLIP ViT + LLaVA "mlp" projector. */
static void vision_tensors(struct llamac__synth_list *l, enum ggml_type w, const llamac_synth_mmproj_params *p) {
    const int64_t e = p->n_embd, t = p->n_embd_text, ps = p->patch_size;
    const int64_t side = p->image_size / p->patch_size;
    add(l, LLAMAC__FILL_RANDOM, F32, e, 1, 1, 1, "v.class_embd");
    add(l, LLAMAC__FILL_RANDOM, w, ps, ps, 3, e, "v.patch_embd.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, e, side * side + 1, 1, 1, "v.position_embd.weight");
    norm(l, e, "v.pre_ln");
    blocks(l, w, p, "v", true);
    add(l, LLAMAC__FILL_RANDOM, w, e, t, 1, 1, "mm.0.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, t, 1, 1, 1, "mm.0.bias");
    add(l, LLAMAC__FILL_RANDOM, w, t, t, 1, 1, "mm.2.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, t, 1, 1, 1, "mm.2.bias");
}

/* SigLIP ViT + Gemma 3's projector (average pooling, RMS norm, projection). */
static void gemma3_tensors(struct llamac__synth_list *l, enum ggml_type w, const llamac_synth_mmproj_params *p) {
    const int64_t e = p->n_embd, t = p->n_embd_text, ps = p->patch_size;
    const int64_t side = p->image_size / p->patch_size;
    add(l, LLAMAC__FILL_RANDOM, w, ps, ps, 3, e, "v.patch_embd.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, e, 1, 1, 1, "v.patch_embd.bias");
    add(l, LLAMAC__FILL_RANDOM, F32, e, side * side, 1, 1, "v.position_embd.weight");
    blocks(l, w, p, "v", true);
    norm(l, e, "v.post_ln");
    add(l, LLAMAC__FILL_ONES, F32, e, 1, 1, 1, "mm.soft_emb_norm.weight");
    add(l, LLAMAC__FILL_RANDOM, w, t, e, 1, 1, "mm.input_projection.weight");
}

/* Qwen2-VL's ViT (two patch embeddings, one per frame of a pair; 2-D rotary positions instead of a table) and its
 * merger: 2 x 2 patches concatenated, then two linear layers with a GELU between. */
static void qwen2vl_tensors(struct llamac__synth_list *l, enum ggml_type w, const llamac_synth_mmproj_params *p) {
    const int64_t e = p->n_embd, t = p->n_embd_text, ps = p->patch_size;
    add(l, LLAMAC__FILL_RANDOM, w, ps, ps, 3, e, "v.patch_embd.weight");
    add(l, LLAMAC__FILL_RANDOM, w, ps, ps, 3, e, "v.patch_embd.weight.1");
    blocks(l, w, p, "v", true);
    add(l, LLAMAC__FILL_RANDOM, w, 4 * e, 4 * e, 1, 1, "mm.0.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, 4 * e, 1, 1, 1, "mm.0.bias");
    add(l, LLAMAC__FILL_RANDOM, w, 4 * e, t, 1, 1, "mm.2.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, t, 1, 1, 1, "mm.2.bias");
}

/* Whisper encoder + Ultravox projector (its SwiGLU halves mlp.1's 2 * n_embd_text outputs). */
static void audio_tensors(struct llamac__synth_list *l, enum ggml_type w, const llamac_synth_mmproj_params *p) {
    const int64_t e = p->n_embd, t = p->n_embd_text, stacked = (int64_t)p->n_embd * p->stack_factor;
    add(l, LLAMAC__FILL_RANDOM, w, 3, p->n_mel_bins, e, 1, "a.conv1d.1.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, 1, e, 1, 1, "a.conv1d.1.bias");
    add(l, LLAMAC__FILL_RANDOM, w, 3, e, e, 1, "a.conv1d.2.weight");
    add(l, LLAMAC__FILL_RANDOM, F32, 1, e, 1, 1, "a.conv1d.2.bias");
    add(l, LLAMAC__FILL_RANDOM, F32, e, AUDIO_POSITIONS, 1, 1, "a.position_embd.weight");
    blocks(l, w, p, "a", false);
    norm(l, e, "a.post_ln");
    add(l, LLAMAC__FILL_ONES, F32, stacked, 1, 1, 1, "mm.a.norm_pre.weight");
    add(l, LLAMAC__FILL_RANDOM, w, stacked, 2 * t, 1, 1, "mm.a.mlp.1.weight");
    add(l, LLAMAC__FILL_ONES, F32, t, 1, 1, 1, "mm.a.norm_mid.weight");
    add(l, LLAMAC__FILL_RANDOM, w, t, t, 1, 1, "mm.a.mlp.2.weight");
}

static void set_u32(struct gguf_context *g, const char *modality, const char *suffix, int32_t v) {
    char key[128];
    snprintf(key, sizeof key, "clip.%s.%s", modality, suffix);
    gguf_set_val_u32(g, key, (uint32_t)v);
}

/* The clip.* hyperparameters of one encoder ("vision" or "audio"). */
static void encoder_meta(struct gguf_context *g, const char *modality, const llamac_synth_mmproj_params *p) {
    set_u32(g, modality, "embedding_length", p->n_embd);
    set_u32(g, modality, "feed_forward_length", p->n_ff);
    set_u32(g, modality, "block_count", p->n_layer);
    set_u32(g, modality, "projection_dim", p->n_embd_text);
    set_u32(g, modality, "attention.head_count", p->n_head);
    char key[128];
    snprintf(key, sizeof key, "clip.%s.attention.layer_norm_epsilon", modality);
    gguf_set_val_f32(g, key, LAYER_NORM_EPS);
}

static void build_meta(struct gguf_context *g, const llamac_synth_mmproj_params *p) {
    /* CLIP's normalisation, as the LLaVA converters write it; SigLIP's. */
    static const float clip_mean[3] = { 0.48145466f, 0.4578275f, 0.40821073f };
    static const float clip_std[3] = { 0.26862954f, 0.26130258f, 0.27577711f };
    static const float siglip[3] = { 0.5f, 0.5f, 0.5f };
    const bool gemma3 = strcmp(p->vision_projector, "gemma3") == 0;
    /* libmtmd's name of the projector type */
    const char *vtype = strcmp(p->vision_projector, "qwen2vl") == 0 ? "qwen2vl_merger" : p->vision_projector;
    char name[64];
    snprintf(name, sizeof name, "synthetic mmproj (%s%s%s)", p->vision ? p->vision_projector : "",
             p->vision && p->audio ? " + " : "", p->audio ? "ultravox" : "");
    gguf_set_val_str(g, "general.architecture", "clip");
    gguf_set_val_str(g, "general.name", name);
    gguf_set_val_u32(g, "general.file_type", p->type == LLAMAC_SYNTH_F16 ? 1u : 0u);
    gguf_set_val_bool(g, "clip.has_vision_encoder", p->vision);
    gguf_set_val_bool(g, "clip.has_audio_encoder", p->audio);
    if (p->vision && p->audio) {
        gguf_set_val_str(g, "clip.vision.projector_type", vtype);
        gguf_set_val_str(g, "clip.audio.projector_type", "ultravox");
    } else {
        gguf_set_val_str(g, "clip.projector_type", p->vision ? vtype : "ultravox");
    }
    if (p->vision) {
        encoder_meta(g, "vision", p);
        gguf_set_val_u32(g, "clip.vision.image_size", (uint32_t)p->image_size);
        gguf_set_val_u32(g, "clip.vision.patch_size", (uint32_t)p->patch_size);
        gguf_set_arr_data(g, "clip.vision.image_mean", GGUF_TYPE_FLOAT32, gemma3 ? siglip : clip_mean, 3);
        gguf_set_arr_data(g, "clip.vision.image_std", GGUF_TYPE_FLOAT32, gemma3 ? siglip : clip_std, 3);
        if (gemma3) {
            gguf_set_val_bool(g, "clip.use_gelu", true);
            gguf_set_val_u32(g, "clip.vision.projector.scale_factor", (uint32_t)p->n_merge);
        }
    }
    if (p->audio) {
        encoder_meta(g, "audio", p);
        gguf_set_val_u32(g, "clip.audio.num_mel_bins", (uint32_t)p->n_mel_bins);
        gguf_set_val_u32(g, "clip.audio.projector.stack_factor", (uint32_t)p->stack_factor);
    }
}

/* Tensors per encoder block (Q, K, V, output with biases, two norms with biases, two FFN matrices with biases). */
#define TENSORS_PER_BLOCK 16
#define TENSORS_OUTSIDE_BLOCKS 24

llamac_status llamac_synth_mmproj_write(const char *path, const llamac_synth_mmproj_params *params) {
    if (!path || !path[0] || !params) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_synth_mmproj_write: %s",
                            !params ? "NULL params"
                            : path  ? "empty path"
                                    : "NULL path");
    }
    llamac_synth_mmproj_params p;
    llamac_status st = resolve(params, &p);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct gguf_context *g = gguf_init_empty();
    struct llamac__synth_list l = { 0 };
    size_t n_enc = (size_t)p.vision + (size_t)p.audio;
    l.cap = n_enc * (TENSORS_OUTSIDE_BLOCKS + TENSORS_PER_BLOCK * (size_t)p.n_layer);
    if (!g || !(l.items = llamac__calloc(l.cap, sizeof *l.items))) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory describing the projector");
        goto done;
    }
    build_meta(g, &p);
    const enum ggml_type w = p.type == LLAMAC_SYNTH_F16 ? GGML_TYPE_F16 : GGML_TYPE_F32;
    if (p.vision && strcmp(p.vision_projector, "gemma3") == 0) {
        gemma3_tensors(&l, w, &p);
    } else if (p.vision && strcmp(p.vision_projector, "qwen2vl") == 0) {
        qwen2vl_tensors(&l, w, &p);
    } else if (p.vision) {
        vision_tensors(&l, w, &p);
    }
    if (p.audio) {
        audio_tensors(&l, w, &p);
    }
    if ((st = llamac__synth_register(g, &l)) == LLAMAC_OK) {
        st = llamac__synth_write_file(path, g, &l, p.seed, p.init_std);
    }
done:
    free(l.items);
    gguf_free(g);
    return st == LLAMAC_OK ? llamac__ok() : st;
}
