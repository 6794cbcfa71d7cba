/*
 * apply.c - the LoRA set a context decodes with, and the keys that name what its KV cells were computed under.
 *
 * llama.cpp keeps the set as raw pointers in the context, so the context holds a reference on every adapter it
 * applies (released when it applies another set or is freed, through the hook core calls). A set is checked whole
 * before llama.cpp sees it; a bad one leaves the set in use untouched.
 */
#include "adapter/adapter_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

llamac_status llamac__adapter_set_check(const llamac_model *model, const llamac_adapter_scale *set, size_t n,
                                        const char *fn) {
    if (n > 0 && !set) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: the set is NULL but has %zu entries", fn, n);
    }
    for (size_t i = 0; i < n; i++) {
        const llamac_adapter *a = set[i].adapter;
        if (!a) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: adapter %zu is NULL", fn, i);
        }
        if (a->model != model) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: adapter %zu ('%s') was loaded for another model", fn, i,
                                a->path);
        }
        if (!isfinite(set[i].scale)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "%s: adapter %zu ('%s') has scale %g; a finite number is "
                                "needed",
                                fn, i, a->path, (double)set[i].scale);
        }
        for (size_t j = 0; j < i; j++) {
            if (set[j].adapter == a) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: adapters %zu and %zu are the same ('%s')", fn, j, i,
                                    a->path);
            }
        }
    }
    return LLAMAC_OK;
}

llamac_status llamac__adapter_set_copy(const llamac_adapter_scale *set, size_t n, llamac_adapter_scale **out) {
    *out = NULL;
    if (n == 0) {
        return LLAMAC_OK;
    }
    llamac_adapter_scale *copy = llamac__malloc(n * sizeof *copy);
    if (!copy) {
        return LLAMAC_E_NO_MEMORY;
    }
    memcpy(copy, set, n * sizeof *copy);
    for (size_t i = 0; i < n; i++) {
        llamac__adapter_ref(copy[i].adapter);
    }
    *out = copy;
    return LLAMAC_OK;
}

void llamac__adapter_set_release(llamac_adapter_scale *set, size_t n) {
    for (size_t i = 0; i < n; i++) {
        llamac__adapter_unref(set[i].adapter);
    }
    free(set);
}

/* ---- keys ---- */

/* One step of a 64-bit mix (the finaliser of MurmurHash3), folding `v` into `h`. */
static uint64_t fold(uint64_t h, uint64_t v) {
    h ^= v + 0x9e3779b97f4a7c15ull + (h << 6) + (h >> 2);
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    return h;
}

uint64_t llamac__lora_key(const llamac_adapter_scale *set, size_t n) {
    /* Order-free: the sum of each entry's own hash. */
    uint64_t sum = 0;
    for (size_t i = 0; i < n; i++) {
        if (set[i].scale == 0.0f) {
            continue; /* -0 too */
        }
        uint32_t bits;
        memcpy(&bits, &set[i].scale, sizeof bits);
        sum += fold(fold(0x6c6f7261ull, set[i].adapter->id), bits);
    }
    return sum;
}

static uint64_t combine(uint64_t lora_key, uint64_t cvec_key) {
    return lora_key == 0 && cvec_key == 0 ? 0 : fold(fold(1, lora_key), cvec_key);
}

uint64_t llamac__ctx_adapter_key(const llamac_context *ctx) {
    const struct llamac__applied *ap = ctx->applied;
    return ap ? combine(ap->lora_key, ap->cvec_key) : 0;
}

uint64_t llamac__ctx_adapter_key_with(const llamac_context *ctx, const llamac_adapter_scale *set, size_t n) {
    const struct llamac__applied *ap = ctx->applied;
    return combine(llamac__lora_key(set, n), ap ? ap->cvec_key : 0);
}

/* ---- the context's set ---- */

static void applied_release(struct llamac__applied *ap) {
    if (ap) {
        llamac__adapter_set_release(ap->set, ap->n);
        free(ap);
    }
}

struct llamac__applied *llamac__ctx_applied(llamac_context *ctx) {
    if (!ctx->applied) {
        ctx->applied = llamac__calloc(1, sizeof *ctx->applied);
        ctx->applied_release = applied_release;
    }
    return ctx->applied;
}

llamac_status llamac_ctx_set_adapters(llamac_context *ctx, const llamac_adapter_scale *set, size_t n) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_set_adapters: ctx is NULL");
    }
    llamac_status st = llamac__adapter_set_check(ctx->model, set, n, "llamac_ctx_set_adapters");
    if (st != LLAMAC_OK) {
        return st;
    }
    struct llamac__applied *ap = llamac__ctx_applied(ctx);
    llamac_adapter_scale *copy = NULL;
    struct llama_adapter_lora **las = n ? llamac__malloc(n * sizeof *las) : NULL;
    float *scales = n ? llamac__malloc(n * sizeof *scales) : NULL;
    if (!ap || (n && (!las || !scales)) || (st = llamac__adapter_set_copy(set, n, &copy)) != LLAMAC_OK) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        las[i] = set[i].adapter->la;
        scales[i] = set[i].scale;
    }
    llama_set_adapters_lora(ctx->lc, las, n, scales);
    llamac__adapter_set_release(ap->set, ap->n);
    ap->set = copy;
    ap->n = n;
    ap->lora_key = llamac__lora_key(set, n);
    st = llamac__ok();
done:
    free(las);
    free(scales);
    return st;
}

size_t llamac_ctx_adapters(const llamac_context *ctx, llamac_adapter_scale *out, size_t cap) {
    const struct llamac__applied *ap = ctx ? ctx->applied : NULL;
    size_t n = ap ? ap->n : 0;
    if (out && n > 0) {
        memcpy(out, ap->set, (n < cap ? n : cap) * sizeof *out);
    }
    return n;
}
