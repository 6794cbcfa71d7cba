/*
 * cvec.c - control vectors: loading one for a model, checked against it, and the sum of a scaled set applied to a
 * context's layers.
 *
 * llama.cpp's C API takes a control vector as plain floats (n_embd per layer from layer 1 on); reading the file is
 * left to its common library, which only logs what it refuses. Here the file is read with llamac's GGUF reader and
 * each direction.N tensor is checked against the model (layer in range, F32, n_embd values) before a value is read.
 * A context always gets a buffer covering every layer: llama.cpp leaves the layers a shorter buffer does not reach
 * as they were, so a vector applied after a longer one would otherwise keep part of the old one.
 */
#include "adapter/adapter_internal.h"
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static llamac_status check_kind(const llamac_gguf *g, const char *file, const llamac_model *model, const char **hint) {
    size_t i;
    llamac_gguf_kv kv;
    const char *arch = NULL, *type = NULL;
    *hint = NULL;
    if (llamac_gguf_find_key(g, "general.architecture", &i) == LLAMAC_OK && llamac_gguf_kv_at(g, i, &kv) == LLAMAC_OK &&
        kv.type == LLAMAC_GGUF_STRING) {
        arch = kv.str_value;
    }
    if (llamac_gguf_find_key(g, "general.type", &i) == LLAMAC_OK && llamac_gguf_kv_at(g, i, &kv) == LLAMAC_OK &&
        kv.type == LLAMAC_GGUF_STRING) {
        type = kv.str_value;
    }
    if (type && strcmp(type, "adapter") == 0) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is a LoRA adapter, not a control vector (load it as one)", file);
    }
    if (arch && strcmp(arch, "controlvector") != 0) {
        return llamac__fail(LLAMAC_E_ADAPTER,
                            "'%s' is not a control vector: general.architecture is '%s', not 'controlvector'%s", file,
                            arch, type && strcmp(type, "model") == 0 ? " (it is a model)" : "");
    }
    if (llamac_gguf_find_key(g, "controlvector.model_hint", &i) == LLAMAC_OK) {
        llamac_gguf_kv_at(g, i, &kv);
        if (kv.type != LLAMAC_GGUF_STRING) {
            return llamac__fail(LLAMAC_E_ADAPTER, "'%s': controlvector.model_hint is a %s, not a string", file,
                                llamac_gguf_type_name(kv.type));
        }
        if (strcmp(kv.str_value, model->architecture) != 0) {
            return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is a control vector for %s, but the model is %s", file,
                                kv.str_value, model->architecture);
        }
        *hint = kv.str_value;
    }
    return LLAMAC_OK;
}

/* The layer of a tensor named "direction.N" (N a decimal number without sign or leading zeros), or -1. */
static long direction_layer(const char *name) {
    static const char prefix[] = "direction.";
    if (strncmp(name, prefix, sizeof prefix - 1) != 0) {
        return -1;
    }
    const char *d = name + sizeof prefix - 1;
    if (d[0] < '0' || d[0] > '9' || (d[0] == '0' && d[1] != '\0') || strlen(d) > 6) {
        return -1;
    }
    long v = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9') {
            return -1;
        }
        v = v * 10 + (*d - '0');
    }
    return v;
}

/* Every tensor a direction for a layer 1 .. n_layer - 1 of n_embd F32 values; *n_layers the highest layer. */
static llamac_status check_tensors(const llamac_gguf *g, const char *file, const llamac_model *model,
                                   int32_t *n_layers) {
    size_t n = llamac_gguf_tensor_count(g);
    const int32_t n_layer = model->info.n_layer, n_embd = model->info.n_embd;
    *n_layers = 0;
    if (n == 0) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' has no direction tensors", file);
    }
    for (size_t i = 0; i < n; i++) {
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(g, i, &t);
        long il = direction_layer(t.name);
        if (il < 0) {
            return llamac__fail(LLAMAC_E_ADAPTER, "'%s': tensor '%s' is not named direction.N (N a layer number)", file,
                                t.name);
        }
        if (il < 1 || il >= n_layer) {
            return llamac__fail(LLAMAC_E_ADAPTER,
                                "'%s': tensor '%s' is for layer %ld, but the model's layers with a control vector are "
                                "1 to %d (made for another model?)",
                                file, t.name, il, n_layer - 1);
        }
        if (t.type != GGML_TYPE_F32 || t.n_elements != (uint64_t)t.ne[0]) {
            return llamac__fail(LLAMAC_E_ADAPTER,
                                "'%s': tensor '%s' is a %u-dimensional %s tensor, not a vector of f32", file, t.name,
                                t.n_dims, t.type_name);
        }
        if (t.ne[0] != n_embd) {
            return llamac__fail(LLAMAC_E_ADAPTER,
                                "'%s': tensor '%s' has %lld values, but the model's n_embd is %d (made for another "
                                "model?)",
                                file, t.name, (long long)t.ne[0], n_embd);
        }
        *n_layers = (int32_t)il > *n_layers ? (int32_t)il : *n_layers;
    }
    return LLAMAC_OK;
}

/* Reads every direction into cv->data (zeros for the layers without one). */
static llamac_status read_data(const llamac_gguf *g, llamac_cvec *cv) {
    size_t per = (size_t)cv->n_embd;
    if (!(cv->data = llamac__calloc((size_t)cv->n_layers * per, sizeof *cv->data))) {
        return LLAMAC_E_NO_MEMORY;
    }
    int fd = open(cv->path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open control vector '%s': %s", cv->path, strerror(errno));
    }
    llamac_status st = LLAMAC_OK;
    for (size_t i = 0; i < llamac_gguf_tensor_count(g) && st == LLAMAC_OK; i++) {
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(g, i, &t);
        float *dst = cv->data + (size_t)(direction_layer(t.name) - 1) * per;
        if (!llamac__pread_full(fd, dst, per * sizeof *dst, llamac__gguf_tensor_file_offset(g, i))) {
            st = llamac__fail(LLAMAC_E_IO, "cannot read tensor '%s' of control vector '%s': %s", t.name, cv->path,
                              strerror(errno));
        }
    }
    close(fd);
    for (size_t i = 0; st == LLAMAC_OK && i < (size_t)cv->n_layers * per; i++) {
        if (!isfinite(cv->data[i])) {
            st = llamac__fail(LLAMAC_E_ADAPTER, "'%s': direction.%zu holds a value that is not finite", cv->path,
                              i / per + 1);
        }
    }
    return st;
}

void llamac_cvec_free(llamac_cvec *cvec) {
    if (!cvec) {
        return;
    }
    llamac__model_unref(cvec->model);
    free(cvec->path);
    free(cvec->model_hint);
    free(cvec->data);
    free(cvec);
}

llamac_status llamac_cvec_load(llamac_model *model, const char *path, llamac_cvec **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_cvec_load: %s is NULL",
                            !model  ? "model"
                            : !path ? "path"
                                    : "out");
    }
    if (model->info.vocab_only) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "cannot apply control vector '%s' to a vocab-only model", path);
    }
    llamac_gguf *g = NULL;
    const char *hint = NULL;
    llamac_cvec *cv = llamac__calloc(1, sizeof *cv);
    llamac_status st = cv ? llamac__gguf_open(path, "control vector", &g) : LLAMAC_E_NO_MEMORY;
    if (st != LLAMAC_OK) {
        goto fail;
    }
    llamac__model_ref(model);
    cv->model = model;
    cv->id = llamac__adapter_next_id();
    cv->n_embd = model->info.n_embd;
    if ((st = check_kind(g, path, model, &hint)) != LLAMAC_OK ||
        (st = check_tensors(g, path, model, &cv->n_layers)) != LLAMAC_OK) {
        goto fail;
    }
    cv->path = llamac__strndup(path, strlen(path));
    cv->model_hint = hint ? llamac__strndup(hint, strlen(hint)) : NULL;
    if (!cv->path || (hint && !cv->model_hint)) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    if ((st = read_data(g, cv)) != LLAMAC_OK) {
        goto fail;
    }
    llamac_gguf_free(g);
    *out = cv;
    return llamac__ok();
fail:
    llamac_gguf_free(g);
    llamac_cvec_free(cv);
    return st;
}

llamac_status llamac_cvec_get_info(const llamac_cvec *cvec, llamac_cvec_info *out) {
    if (!cvec || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_cvec_get_info: %s is NULL", cvec ? "out" : "cvec");
    }
    out->path = cvec->path;
    out->model_hint = cvec->model_hint;
    out->n_embd = cvec->n_embd;
    out->n_layers = cvec->n_layers;
    return llamac__ok();
}

/* ---- applying ---- */

static llamac_status check_set(const llamac_context *ctx, const llamac_cvec_scale *set, size_t n, int32_t *start,
                               int32_t *end) {
    const int32_t n_layer = ctx->model->info.n_layer;
    if (n > 0 && !set) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_set_cvec: the set is NULL but has %zu entries", n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!set[i].cvec) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_set_cvec: control vector %zu is NULL", i);
        }
        if (set[i].cvec->model != ctx->model) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "llamac_ctx_set_cvec: control vector %zu ('%s') was loaded for another model", i,
                                set[i].cvec->path);
        }
        if (!isfinite(set[i].scale)) {
            return llamac__fail(
                LLAMAC_E_INVALID_ARGUMENT,
                "llamac_ctx_set_cvec: control vector %zu ('%s') has scale %g; a finite number is needed", i,
                set[i].cvec->path, (double)set[i].scale);
        }
    }
    *start = *start == 0 ? 1 : *start;
    *end = *end == 0 ? n_layer : *end;
    if (*start < 1 || *end < *start || *end > n_layer) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "control vector layer range %d to %d is not within the model's layers 1 to %d", *start,
                            *end, n_layer);
    }
    return LLAMAC_OK;
}

static uint64_t cvec_key(const llamac_cvec_scale *set, size_t n, int32_t start, int32_t end) {
    uint64_t h = 0x63766563ull ^ ((uint64_t)(uint32_t)start << 32 | (uint32_t)end);
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &set[i].scale, sizeof bits);
        h = (h ^ set[i].cvec->id) * 0x100000001b3ull;
        h = (h ^ bits) * 0x100000001b3ull;
    }
    return h ? h : 1;
}

llamac_status llamac_ctx_set_cvec(llamac_context *ctx, const llamac_cvec_scale *set, size_t n, int32_t layer_start,
                                  int32_t layer_end) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_set_cvec: ctx is NULL");
    }
    llamac_status st = check_set(ctx, set, n, &layer_start, &layer_end);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct llamac__applied *ap = llamac__ctx_applied(ctx);
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        any = any || set[i].scale != 0.0f;
    }
    const int32_t n_embd = ctx->model->info.n_embd, n_layer = ctx->model->info.n_layer;
    size_t len = n_layer > 1 ? (size_t)(n_layer - 1) * (size_t)n_embd : 1;
    float *sum = any ? llamac__calloc(len, sizeof *sum) : NULL;
    if (!ap || (any && !sum)) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n && any; i++) {
        const llamac_cvec *cv = set[i].cvec;
        for (size_t k = 0; k < (size_t)cv->n_layers * (size_t)n_embd; k++) {
            sum[k] += set[i].scale * cv->data[k];
        }
    }
    /* Every scale 0 (or none): no control vector, so the output is the base model's exactly. */
    llamac__capture_begin();
    int32_t rc = llama_set_adapter_cvec(ctx->lc, sum, any ? len : 0, n_embd, layer_start, layer_end);
    const char *why = llamac__capture_end();
    free(sum);
    if (rc != 0) {
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp refused the control vector: %s",
                            why[0] ? why : "no reason given");
    }
    ap->cvec_key = any ? cvec_key(set, n, layer_start, layer_end) : 0;
    return llamac__ok();
}
