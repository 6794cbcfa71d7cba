/*
 * model.c - loading models, their metadata, and reference counting.
 *
 * llama.cpp aborts or merely logs on many bad files, so the file is checked first (exists, is a regular file, is
 * not empty, starts with the GGUF magic) and llama.cpp's log is captured during the load so its reason for a
 * failure ends up in llamac_last_error(). A model is reference-counted: contexts and samplers hold references,
 * so freeing in any order is safe.
 */
#include "internal.h"

#include <errno.h>
#include <gguf.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

llamac_model_params llamac_model_params_default(void) {
    llamac_model_params p;
    memset(&p, 0, sizeof p);
    p.n_gpu_layers = 0;
    p.split_mode = LLAMAC_SPLIT_LAYER;
    p.use_mmap = true;
    return p;
}

static llamac_status check_model_file(const char *path) {
    struct stat st;
    if (stat(path, &st) != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open model '%s': %s", path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "cannot load model '%s': it is a directory, not a GGUF file", path);
    }
    if (!S_ISREG(st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "cannot load model '%s': not a regular file", path);
    }
    if (st.st_size == 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot load model '%s': the file is empty", path);
    }
    FILE *f = fopen(path, "rb");
    if (!f) {
        return llamac__fail(LLAMAC_E_IO, "cannot open model '%s': %s", path, strerror(errno));
    }
    unsigned char magic[4] = { 0 };
    size_t got = fread(magic, 1, sizeof magic, f);
    fclose(f);
    if (got < 4 || memcmp(magic, "GGUF", 4) != 0) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD,
                            "cannot load model '%s': not a GGUF file (%lld bytes, no GGUF magic at offset 0)", path,
                            (long long)st.st_size);
    }
    return LLAMAC_OK;
}

static llamac_status check_params(const llamac_model_params *p) {
    if (p->n_gpu_layers < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_gpu_layers %d is invalid (use -1 for all, 0 for none)",
                            p->n_gpu_layers);
    }
    if (p->split_mode < LLAMAC_SPLIT_NONE || p->split_mode > LLAMAC_SPLIT_ROW) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "split_mode %d is invalid", (int)p->split_mode);
    }
    if (p->main_gpu < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "main_gpu %d is negative", p->main_gpu);
    }
    if (p->n_tensor_split > 0 && !p->tensor_split) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_tensor_split is %zu but tensor_split is NULL",
                            p->n_tensor_split);
    }
    if (p->n_tensor_split > llama_max_devices()) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tensor_split has %zu entries; this build supports %zu devices",
                            p->n_tensor_split, llama_max_devices());
    }
    for (size_t i = 0; i < p->n_tensor_split; i++) {
        if (!(p->tensor_split[i] >= 0.0f)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tensor_split[%zu] must be a non-negative number", i);
        }
    }
    if (p->lazy_mode < LLAMAC_LAZY_AUTO || p->lazy_mode > LLAMAC_LAZY_ON) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "lazy_mode %d is invalid", (int)p->lazy_mode);
    }
    if (p->n_tensor_overrides > 0 && !p->tensor_overrides) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_tensor_overrides is %zu but tensor_overrides is NULL",
                            p->n_tensor_overrides);
    }
    if (p->n_tensor_overrides > llama_max_tensor_buft_overrides()) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu tensor_overrides; llama.cpp takes at most %zu",
                            p->n_tensor_overrides, llama_max_tensor_buft_overrides());
    }
    for (size_t i = 0; i < p->n_tensor_overrides; i++) {
        const llamac_tensor_override *o = &p->tensor_overrides[i];
        char why[256];
        if (!o->pattern || !o->buffer_type) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tensor_overrides[%zu]: %s is NULL", i,
                                o->pattern ? "buffer_type" : "pattern");
        }
        if (!llamac__regex_valid(o->pattern, why, sizeof why)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "tensor_overrides[%zu]: '%.200s' is not a valid regular expression: %s", i, o->pattern,
                                why);
        }
    }
    return llamac__kv_overrides_check(p->kv_overrides, p->n_kv_overrides);
}

llamac_status llamac__kv_overrides_check(const llamac_kv_override *overrides, size_t n) {
    if (n > 0 && !overrides) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_kv_overrides is %zu but kv_overrides is NULL", n);
    }
    for (size_t i = 0; i < n; i++) {
        const llamac_kv_override *o = &overrides[i];
        if (!o->key || !o->key[0] || strlen(o->key) >= 128) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "kv_overrides[%zu]: key must be 1 to 127 bytes", i);
        }
        if (o->type < LLAMAC_KV_OVERRIDE_INT || o->type > LLAMAC_KV_OVERRIDE_STR) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "kv_overrides[%zu] ('%s'): unknown type %d", i, o->key,
                                (int)o->type);
        }
        if (o->type == LLAMAC_KV_OVERRIDE_STR && (!o->str_value || strlen(o->str_value) >= 128)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "kv_overrides[%zu] ('%s'): string must be 0 to 127 bytes", i,
                                o->key);
        }
    }
    return LLAMAC_OK;
}

static const char *override_type_name(llamac_kv_override_type t) {
    switch (t) {
    case LLAMAC_KV_OVERRIDE_INT: return "int";
    case LLAMAC_KV_OVERRIDE_FLOAT: return "float";
    case LLAMAC_KV_OVERRIDE_BOOL: return "bool";
    case LLAMAC_KV_OVERRIDE_STR: return "str";
    }
    return "?";
}

static bool override_fits(llamac_kv_override_type t, enum gguf_type g) {
    switch (t) {
    case LLAMAC_KV_OVERRIDE_INT:
        return g == GGUF_TYPE_UINT8 || g == GGUF_TYPE_INT8 || g == GGUF_TYPE_UINT16 || g == GGUF_TYPE_INT16 ||
               g == GGUF_TYPE_UINT32 || g == GGUF_TYPE_INT32 || g == GGUF_TYPE_UINT64 || g == GGUF_TYPE_INT64;
    case LLAMAC_KV_OVERRIDE_FLOAT: return g == GGUF_TYPE_FLOAT32 || g == GGUF_TYPE_FLOAT64;
    case LLAMAC_KV_OVERRIDE_BOOL: return g == GGUF_TYPE_BOOL;
    case LLAMAC_KV_OVERRIDE_STR: return g == GGUF_TYPE_STRING;
    }
    return false;
}

/* llama.cpp ignores an override whose type does not match the key in the file (it only logs a warning), so the
 * caller would silently get the original value: check the types against the file's metadata first. */
static llamac_status check_override_types(const char *path, const llamac_model_params *p) {
    if (p->n_kv_overrides == 0) {
        return LLAMAC_OK;
    }
    struct gguf_init_params gp = { true, NULL };
    llamac__capture_begin();
    struct gguf_context *g = gguf_init_from_file(path, gp);
    const char *why = llamac__capture_end();
    if (!g) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "cannot load model '%s': %s", path,
                            why[0] ? why : "invalid GGUF metadata");
    }
    llamac_status st = LLAMAC_OK;
    for (size_t i = 0; i < p->n_kv_overrides && st == LLAMAC_OK; i++) {
        const llamac_kv_override *o = &p->kv_overrides[i];
        int64_t k = gguf_find_key(g, o->key);
        if (k >= 0 && !override_fits(o->type, gguf_get_kv_type(g, k))) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                              "kv_overrides[%zu]: '%s' is stored as %s in the model; a %s override cannot replace it",
                              i, o->key, gguf_type_name(gguf_get_kv_type(g, k)), override_type_name(o->type));
        }
    }
    gguf_free(g);
    return st;
}

bool llamac__progress_relay(float progress, void *user_data) {
    struct llamac__progress *r = user_data;
    if (!r->fn(progress, r->user_data)) {
        r->cancelled = true;
        return false;
    }
    return true;
}

/* One of llama.cpp's (buf, size) metadata getters: the value of `key`, or (key NULL) the key or the value at i. */
static int32_t meta_get(const struct llama_model *lm, const char *key, int32_t i, bool want_key, char *buf,
                        size_t size) {
    if (key) {
        return llama_model_meta_val_str(lm, key, buf, size);
    }
    return want_key ? llama_model_meta_key_by_index(lm, i, buf, size)
                    : llama_model_meta_val_str_by_index(lm, i, buf, size);
}

/* Reads a metadata string of any length through meta_get: a small buffer first, an exact one when it is longer. */
static char *meta_dup(const struct llama_model *lm, const char *key, int32_t i, bool want_key) {
    char small[256];
    int32_t n = meta_get(lm, key, i, want_key, small, sizeof small);
    if (n < 0) {
        return NULL;
    }
    if ((size_t)n < sizeof small) {
        return llamac__strndup(small, (size_t)n);
    }
    char *big = llamac__malloc((size_t)n + 1);
    if (big) {
        meta_get(lm, key, i, want_key, big, (size_t)n + 1);
    }
    return big;
}

static char *meta_dup_by_key(const struct llama_model *lm, const char *key) {
    return meta_dup(lm, key, 0, false);
}

static char *meta_dup_at(const struct llama_model *lm, int32_t i, bool want_key) {
    return meta_dup(lm, NULL, i, want_key);
}

static int32_t meta_int(const struct llama_model *lm, const char *arch, const char *suffix, int32_t fallback) {
    char key[160];
    char val[64];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    if (llama_model_meta_val_str(lm, key, val, sizeof val) <= 0) {
        return fallback;
    }
    char *end = NULL;
    long v = strtol(val, &end, 10);
    return (end && *end == '\0' && v > 0 && v < INT32_MAX) ? (int32_t)v : fallback;
}

static uint64_t fnv1a(uint64_t h, const void *data, size_t len) {
    const unsigned char *p = data;
    for (size_t i = 0; i < len; i++) {
        h ^= p[i];
        h *= 1099511628211ull;
    }
    return h;
}

/* A fingerprint over everything that makes a saved state meaningful: all metadata and the weights' shape. */
static uint64_t model_fingerprint(const llamac_model *m) {
    uint64_t h = 14695981039346656037ull;
    int32_t n = llama_model_meta_count(m->lm);
    for (int32_t i = 0; i < n; i++) {
        char *k = meta_dup_at(m->lm, i, true);
        char *v = meta_dup_at(m->lm, i, false);
        if (k) {
            h = fnv1a(h, k, strlen(k) + 1);
        }
        if (v) {
            h = fnv1a(h, v, strlen(v) + 1);
        }
        free(k);
        free(v);
    }
    h = fnv1a(h, &m->info.n_params, sizeof m->info.n_params);
    h = fnv1a(h, &m->info.size_bytes, sizeof m->info.size_bytes);
    return h;
}

static llamac_status fill_info(llamac_model *m, bool vocab_only) {
    struct llama_model *lm = m->lm;
    char buf[256];
    m->architecture = meta_dup_by_key(lm, "general.architecture");
    if (!m->architecture) {
        m->architecture = llamac__strndup("unknown", 7);
    }
    int32_t n = llama_model_desc(lm, buf, sizeof buf);
    m->description = llamac__strndup(buf, n > 0 ? strnlen(buf, sizeof buf) : 0);
    const char *ft = llama_ftype_name(llama_model_ftype(lm));
    m->file_type = llamac__strndup(ft ? ft : "", ft ? strlen(ft) : 0);
    if (!m->architecture || !m->description || !m->file_type) {
        return LLAMAC_E_NO_MEMORY;
    }
    llamac_model_info *info = &m->info;
    info->architecture = m->architecture;
    info->description = m->description;
    info->file_type = m->file_type;
    info->n_params = llama_model_n_params(lm);
    info->size_bytes = llama_model_size(lm);
    info->n_ctx_train = llama_model_n_ctx_train(lm);
    info->n_embd = llama_model_n_embd(lm);
    info->n_layer = llama_model_n_layer(lm);
    /* llama.cpp aborts when asked for head counts of a model without layers (vocab-only). */
    info->n_head = info->n_layer > 0 ? llama_model_n_head(lm) : 0;
    info->n_head_kv = info->n_layer > 0 ? llama_model_n_head_kv(lm) : 0;
    int32_t head_default = info->n_head > 0 ? info->n_embd / info->n_head : 0;
    info->head_dim_k = meta_int(lm, m->architecture, "attention.key_length", head_default);
    info->head_dim_v = meta_int(lm, m->architecture, "attention.value_length", head_default);
    info->n_vocab = llama_vocab_n_tokens(m->vocab);
    info->has_encoder = llama_model_has_encoder(lm);
    info->has_decoder = llama_model_has_decoder(lm);
    info->vocab_only = vocab_only;
    m->fingerprint = model_fingerprint(m);
    return LLAMAC_OK;
}

static void model_destroy(llamac_model *m) {
    if (!m) {
        return;
    }
    llama_model_free(m->lm);
    free(m->architecture);
    free(m->description);
    free(m->file_type);
    free(m->path);
    free(m);
}

enum { LLAMAC_MAX_DEVICES = 64 };

llamac_status llamac_model_load(const char *path, const llamac_model_params *params, llamac_model **out) {
    if (out) {
        *out = NULL;
    }
    if (!path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_load: %s is NULL", path ? "out" : "path");
    }
    llamac_model_params defaults = llamac_model_params_default();
    const llamac_model_params *p = params ? params : &defaults;
    llamac_status st = check_params(p);
    if (st != LLAMAC_OK) {
        return st;
    }
    st = check_model_file(path);
    if (st == LLAMAC_OK) {
        st = check_override_types(path, p);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac__backend_ensure();
    double t0 = llamac__now_ms();
    if (p->rpc_servers) {
        st = llamac__rpc_add_servers(p->rpc_servers);
        if (st != LLAMAC_OK) {
            return st;
        }
    }

    struct llama_model_params lp = llama_model_default_params();
    ggml_backend_dev_t no_devices[1] = { NULL };
    ggml_backend_dev_t devices[LLAMAC_MAX_DEVICES + 1] = { NULL };
    if (p->n_gpu_layers == 0) {
        lp.devices = no_devices; /* 0 really means CPU only: no GPU buffers, no offloaded ops */
    } else if (p->devices) {
        size_t n_devices = 0;
        if (strcmp(p->devices, "none") != 0) {
            st = llamac__parse_devices(p->devices, devices, LLAMAC_MAX_DEVICES, &n_devices);
            if (st != LLAMAC_OK) {
                return st;
            }
        }
        devices[n_devices] = NULL; /* "none": no device but the CPU */
        lp.devices = devices;
    }
    lp.n_gpu_layers = p->n_gpu_layers;
    lp.split_mode = (enum llama_split_mode)p->split_mode;
    lp.main_gpu = p->main_gpu;
    if (p->use_mmap) {
        lp.load_mode = p->use_mlock ? LLAMA_LOAD_MODE_MMAP_MLOCK : LLAMA_LOAD_MODE_AUTO;
    } else {
        lp.load_mode = p->use_mlock ? LLAMA_LOAD_MODE_MLOCK : LLAMA_LOAD_MODE_NONE;
    }
    lp.check_tensors = p->check_tensors;
    lp.vocab_only = p->vocab_only;
    lp.use_extra_bufts = !p->no_repack;
    lp.no_host = p->no_host;
    lp.lazy_mode = p->lazy_mode == LLAMAC_LAZY_ON    ? LLAMA_LAZY_MODE_ON
                   : p->lazy_mode == LLAMAC_LAZY_OFF ? LLAMA_LAZY_MODE_OFF
                                                     : LLAMA_LAZY_MODE_AUTO;

    float *split = NULL;
    struct llama_model_kv_override *kvo = NULL;
    struct llama_model_tensor_buft_override *bufts = NULL;
    llamac_model *m = NULL;
    if (p->n_tensor_overrides > 0) {
        bufts = llamac__calloc(p->n_tensor_overrides + 1, sizeof *bufts); /* ends with a NULL pattern */
        if (!bufts) {
            goto fail_nomem;
        }
        for (size_t i = 0; i < p->n_tensor_overrides; i++) {
            bufts[i].pattern = p->tensor_overrides[i].pattern;
            st = llamac__buffer_type(p->tensor_overrides[i].buffer_type, &bufts[i].buft);
            if (st != LLAMAC_OK) {
                char why[512];
                snprintf(why, sizeof why, "%s", llamac_last_error());
                st = llamac__fail(st, "tensor_overrides[%zu] (%.200s=%.100s): %s", i, p->tensor_overrides[i].pattern,
                                  p->tensor_overrides[i].buffer_type, why);
                goto fail;
            }
        }
        lp.tensor_buft_overrides = bufts;
    }
    if (p->n_tensor_split > 0) {
        split = llamac__calloc(llama_max_devices(), sizeof *split);
        if (!split) {
            goto fail_nomem;
        }
        memcpy(split, p->tensor_split, p->n_tensor_split * sizeof *split);
        lp.tensor_split = split;
    }
    if (p->n_kv_overrides > 0) {
        kvo = llamac__calloc(p->n_kv_overrides + 1, sizeof *kvo);
        if (!kvo) {
            goto fail_nomem;
        }
        for (size_t i = 0; i < p->n_kv_overrides; i++) {
            const llamac_kv_override *o = &p->kv_overrides[i];
            snprintf(kvo[i].key, sizeof kvo[i].key, "%s", o->key);
            switch (o->type) {
            case LLAMAC_KV_OVERRIDE_INT:
                kvo[i].tag = LLAMA_KV_OVERRIDE_TYPE_INT;
                kvo[i].val_i64 = o->int_value;
                break;
            case LLAMAC_KV_OVERRIDE_FLOAT:
                kvo[i].tag = LLAMA_KV_OVERRIDE_TYPE_FLOAT;
                kvo[i].val_f64 = o->float_value;
                break;
            case LLAMAC_KV_OVERRIDE_BOOL:
                kvo[i].tag = LLAMA_KV_OVERRIDE_TYPE_BOOL;
                kvo[i].val_bool = o->bool_value;
                break;
            case LLAMAC_KV_OVERRIDE_STR:
                kvo[i].tag = LLAMA_KV_OVERRIDE_TYPE_STR;
                snprintf(kvo[i].val_str, sizeof kvo[i].val_str, "%s", o->str_value);
                break;
            }
        }
        lp.kv_overrides = kvo;
    }
    struct llamac__progress relay = { p->progress, p->progress_user_data, false };
    if (p->progress) {
        lp.progress_callback = llamac__progress_relay;
        lp.progress_callback_user_data = &relay;
    }

    m = llamac__calloc(1, sizeof *m);
    if (!m) {
        goto fail_nomem;
    }
    llamac__capture_begin();
    m->lm = llama_model_load_from_file(path, lp);
    const char *why = llamac__capture_end();
    if (!m->lm) {
        if (relay.cancelled) {
            st = llamac__fail(LLAMAC_E_CANCELLED, "loading model '%s' was cancelled by the progress callback", path);
        } else {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD, "cannot load model '%s': %s", path,
                              why[0] ? why : "llama.cpp gave no reason");
        }
        goto fail;
    }
    m->vocab = llama_model_get_vocab(m->lm);
    if (!(m->path = llamac__strndup(path, strlen(path)))) {
        goto fail_nomem;
    }
    m->cpu_only = p->n_gpu_layers == 0;
    atomic_init(&m->refs, 1);
    if (fill_info(m, p->vocab_only) != LLAMAC_OK) {
        goto fail_nomem;
    }
    m->info.load_ms = llamac__now_ms() - t0;
    free(split);
    free(kvo);
    free(bufts);
    *out = m;
    return llamac__ok();

fail_nomem:
    st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory loading model '%s'", path);
fail:
    model_destroy(m);
    free(split);
    free(kvo);
    free(bufts);
    return st;
}

void llamac__model_ref(llamac_model *model) {
    atomic_fetch_add(&model->refs, 1);
}

void llamac__model_unref(llamac_model *model) {
    if (model && atomic_fetch_sub(&model->refs, 1) == 1) {
        model_destroy(model);
    }
}

void llamac_model_free(llamac_model *model) {
    llamac__model_unref(model);
}

llamac_status llamac_model_get_info(const llamac_model *model, llamac_model_info *out) {
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_get_info: %s is NULL", model ? "out" : "model");
    }
    *out = model->info;
    return llamac__ok();
}

llamac_status llamac_model_meta(const llamac_model *model, const char *key, char **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !key || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_meta: model, key and out must not be NULL");
    }
    if (llama_model_meta_val_str(model->lm, key, NULL, 0) < 0) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "the model has no metadata key '%s'", key);
    }
    *out = meta_dup_by_key(model->lm, key);
    return *out ? llamac__ok() : LLAMAC_E_NO_MEMORY;
}

size_t llamac_model_meta_count(const llamac_model *model) {
    if (!model) {
        return 0;
    }
    int32_t n = llama_model_meta_count(model->lm);
    return n > 0 ? (size_t)n : 0;
}

llamac_status llamac_model_meta_at(const llamac_model *model, size_t i, char **key, char **value) {
    if (key) {
        *key = NULL;
    }
    if (value) {
        *value = NULL;
    }
    if (!model || !key || !value) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_meta_at: model, key and value must not be NULL");
    }
    size_t n = llamac_model_meta_count(model);
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "metadata index %zu out of range (%zu keys)", i, n);
    }
    *key = meta_dup_at(model->lm, (int32_t)i, true);
    *value = meta_dup_at(model->lm, (int32_t)i, false);
    if (!*key || !*value) {
        free(*key);
        free(*value);
        *key = NULL;
        *value = NULL;
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading metadata entry %zu", i);
    }
    return llamac__ok();
}

llamac_status llamac_model_chat_template(const llamac_model *model, const char *name, const char **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_chat_template: %s is NULL",
                            model ? "out" : "model");
    }
    const char *tmpl = llama_model_chat_template(model->lm, name);
    if (!tmpl) {
        if (name) {
            return llamac__fail(LLAMAC_E_NOT_FOUND, "the model has no chat template named '%s'", name);
        }
        return llamac__fail(LLAMAC_E_NOT_FOUND, "the model has no chat template (tokenizer.chat_template)");
    }
    *out = tmpl;
    return llamac__ok();
}
