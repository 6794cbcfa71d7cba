/*
 * size.c - KV-cache sizes for a model and a context configuration, computed without allocating, and the figure
 * llama.cpp really allocated for a context.
 *
 * The computation follows how llama.cpp builds its cache (src/llama-context.cpp pads the context, then
 * src/llama-kv-cache.cpp makes one [n_embd_gqa, n_cells, n_streams] tensor for K and one for V per layer in a
 * backend buffer whose tensors are padded to its alignment), using ggml's own geometry functions, so a type's
 * block layout is never restated here. Models whose layers differ in what they cache are refused rather than
 * estimated: a figure that is only approximately right is not offered.
 */
#include "core/internal.h"
#include "kv/kv_internal.h"

#include <ggml-backend.h>
#include <ggml.h>
#include <stdio.h>
#include <string.h>

static bool kv_ggml_type(llamac_kv_type t, enum ggml_type *out) {
    switch (t) {
    case LLAMAC_KV_F16: *out = GGML_TYPE_F16; return true;
    case LLAMAC_KV_F32: *out = GGML_TYPE_F32; return true;
    case LLAMAC_KV_BF16: *out = GGML_TYPE_BF16; return true;
    case LLAMAC_KV_Q8_0: *out = GGML_TYPE_Q8_0; return true;
    case LLAMAC_KV_Q4_0: *out = GGML_TYPE_Q4_0; return true;
    case LLAMAC_KV_Q4_1: *out = GGML_TYPE_Q4_1; return true;
    case LLAMAC_KV_IQ4_NL: *out = GGML_TYPE_IQ4_NL; return true;
    case LLAMAC_KV_Q5_0: *out = GGML_TYPE_Q5_0; return true;
    case LLAMAC_KV_Q5_1: *out = GGML_TYPE_Q5_1; return true;
    }
    return false;
}

static uint32_t pad_to(uint32_t n, uint32_t multiple) {
    return (n + multiple - 1) / multiple * multiple;
}

/* True when the metadata key ARCH.SUFFIX exists; *is_array tells whether its value is an array (per-layer
 * values). */
static bool meta_has(const llamac_model *model, const char *suffix, bool *is_array) {
    char key[192], val[16];
    snprintf(key, sizeof key, "%s.%s", model->info.architecture, suffix);
    int32_t n = llama_model_meta_val_str(model->lm, key, val, sizeof val);
    if (is_array) {
        *is_array = n > 0 && (val[0] == '[' || strncmp(val, "arr", 3) == 0);
    }
    return n >= 0;
}

/* The cache shapes this file can compute: every layer the same plain K/V cache. */
static llamac_status check_model(const llamac_model *model) {
    const llamac_model_info *mi = &model->info;
    const char *arch = mi->architecture;
    if (mi->vocab_only) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the model was loaded vocab_only; its shape is unknown");
    }
    if (!mi->has_decoder || llama_model_is_diffusion(model->lm) || mi->n_head_kv <= 0) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "this %s model has no KV cache (llama.cpp keeps none for it)", arch);
    }
    if (llama_model_is_recurrent(model->lm) || llama_model_is_hybrid(model->lm)) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "this %s model keeps recurrent state, whose size is not computed here; create a context "
                            "and use llamac_ctx_kv_allocated",
                            arch);
    }
    if (llama_model_n_swa(model->lm) > 0) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "this %s model uses sliding-window attention (window %d), whose smaller per-layer caches "
                            "are not computed here; create a context and use llamac_ctx_kv_allocated",
                            arch, llama_model_n_swa(model->lm));
    }
    bool arr_kv = false, arr_k = false, arr_v = false;
    meta_has(model, "attention.head_count_kv", &arr_kv);
    meta_has(model, "attention.key_length", &arr_k);
    meta_has(model, "attention.value_length", &arr_v);
    if (arr_kv || arr_k || arr_v || meta_has(model, "attention.kv_lora_rank", NULL) ||
        llama_model_n_layer_nextn(model->lm) > 0) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "the layers of this %s model do not all cache the same K/V rows (per-layer head counts, "
                            "latent attention or prediction layers); create a context and use llamac_ctx_kv_allocated",
                            arch);
    }
    return LLAMAC_OK;
}

/* What context creation refuses for these types: llama.cpp itself (a quantized V without flash attention; with
 * flash attention, a head size the type's block does not divide), or llamac_ctx_new (the same head sizes without
 * flash attention, which llama.cpp would read with wrong strides). */
static void check_usable(const llamac_model *model, const llamac_ctx_params *p, enum ggml_type tk, enum ggml_type tv,
                         llamac_kv_memory *out) {
    const llamac_model_info *mi = &model->info;
    out->why[0] = '\0';
    if (ggml_is_quantized(tv) && p->flash_attn == LLAMAC_FLASH_ATTN_OFF) {
        snprintf(out->why, sizeof out->why, "a quantized V cache (%s) needs flash attention",
                 llamac_kv_type_name(p->type_v));
    } else if (ggml_is_quantized(tk) && mi->head_dim_k % ggml_blck_size(tk) != 0) {
        snprintf(out->why, sizeof out->why,
                 "K cache type %s stores blocks of %lld values, which do not divide the head size %d",
                 llamac_kv_type_name(p->type_k), (long long)ggml_blck_size(tk), mi->head_dim_k);
    } else if (ggml_is_quantized(tv) && mi->head_dim_v % ggml_blck_size(tv) != 0) {
        snprintf(out->why, sizeof out->why,
                 "V cache type %s stores blocks of %lld values, which do not divide the head size %d",
                 llamac_kv_type_name(p->type_v), (long long)ggml_blck_size(tv), mi->head_dim_v);
    }
    out->usable = out->why[0] == '\0';
}

llamac_status llamac_kv_memory_compute(const llamac_model *model, const llamac_ctx_params *params,
                                       llamac_kv_memory *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_kv_memory_compute: %s is NULL", model ? "out" : "model");
    }
    llamac_ctx_params defaults = llamac_ctx_params_default();
    const llamac_ctx_params *p = params ? params : &defaults;
    enum ggml_type tk = GGML_TYPE_F16, tv = GGML_TYPE_F16;
    if (!kv_ggml_type(p->type_k, &tk) || !kv_ggml_type(p->type_v, &tv)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "KV cache type %d is invalid",
                            kv_ggml_type(p->type_k, &tk) ? (int)p->type_v : (int)p->type_k);
    }
    if (p->n_seq_max == 0 || p->n_seq_max > llama_max_parallel_sequences()) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_seq_max %u must be between 1 and %zu", p->n_seq_max,
                            llama_max_parallel_sequences());
    }
    if (p->flash_attn < LLAMAC_FLASH_ATTN_AUTO || p->flash_attn > LLAMAC_FLASH_ATTN_ON) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "flash_attn %d is invalid", (int)p->flash_attn);
    }
    if (p->n_ctx > (uint32_t)INT32_MAX / 2) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_ctx %u is too large (at most %u)", p->n_ctx,
                            (uint32_t)INT32_MAX / 2);
    }
    llamac_status st = check_model(model);
    if (st != LLAMAC_OK) {
        return st;
    }
    const llamac_model_info *mi = &model->info;
    int64_t n_embd_k = (int64_t)mi->head_dim_k * mi->n_head_kv;
    int64_t n_embd_v = (int64_t)mi->head_dim_v * mi->n_head_kv;
    if (n_embd_k <= 0 || n_embd_v <= 0 || n_embd_k % ggml_blck_size(tk) != 0 || n_embd_v % ggml_blck_size(tv) != 0) {
        bool k_bad = n_embd_k <= 0 || n_embd_k % ggml_blck_size(tk) != 0;
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "a %s row of %lld elements cannot be stored as %s (blocks of %lld)",
                            k_bad ? "K" : "V", (long long)(k_bad ? n_embd_k : n_embd_v),
                            llamac_kv_type_name(k_bad ? p->type_k : p->type_v),
                            (long long)ggml_blck_size(k_bad ? tk : tv));
    }

    /* The context size as llama_init_from_model settles it (llamac_ctx_new picks the same default). */
    uint32_t n_ctx = p->n_ctx;
    if (n_ctx == 0) {
        n_ctx = mi->n_ctx_train > 0 && mi->n_ctx_train < 4096 ? (uint32_t)mi->n_ctx_train : 4096;
    }
    n_ctx = pad_to(n_ctx, 256);
    uint32_t cells = n_ctx, streams = 1;
    if (!p->kv_unified) {
        cells = pad_to(n_ctx / p->n_seq_max, 256);
        if (cells == 0) {
            cells = 256;
        }
        streams = p->n_seq_max;
        n_ctx = cells * streams;
    }

    out->n_ctx = n_ctx;
    out->n_cells = cells;
    out->n_streams = streams;
    out->n_layer = mi->n_layer;
    out->n_embd_k = n_embd_k;
    out->n_embd_v = n_embd_v;
    out->k_bytes_per_element = (double)ggml_type_size(tk) / (double)ggml_blck_size(tk);
    out->v_bytes_per_element = (double)ggml_type_size(tv) / (double)ggml_blck_size(tv);
    out->k_row_bytes = ggml_row_size(tk, n_embd_k);
    out->v_row_bytes = ggml_row_size(tv, n_embd_v);
    out->bytes_per_token = (out->k_row_bytes + out->v_row_bytes) * (uint64_t)mi->n_layer;
    uint64_t k_tensor = out->k_row_bytes * cells * streams;
    uint64_t v_tensor = out->v_row_bytes * cells * streams;
    out->k_bytes = k_tensor * (uint64_t)mi->n_layer;
    out->v_bytes = v_tensor * (uint64_t)mi->n_layer;
    uint64_t align = ggml_backend_buft_get_alignment(ggml_backend_cpu_buffer_type());
    if (align == 0) {
        align = 1;
    }
    uint64_t k_padded = (k_tensor + align - 1) / align * align;
    uint64_t v_padded = (v_tensor + align - 1) / align * align;
    out->total_bytes = (k_padded + v_padded) * (uint64_t)mi->n_layer;
    check_usable(model, p, tk, tv, out);
    return llamac__ok();
}

llamac_status llamac_ctx_kv_allocated(const llamac_context *ctx, uint64_t *bytes) {
    if (bytes) {
        *bytes = 0;
    }
    if (!ctx || !bytes) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_kv_allocated: %s is NULL", ctx ? "bytes" : "ctx");
    }
    char err[256] = { 0 };
    if (!llamac__kv_allocated(ctx->lc, bytes, err, sizeof err)) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "cannot read the KV cache allocation: %s", err);
    }
    return llamac__ok();
}
