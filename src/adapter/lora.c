/*
 * lora.c - LoRA adapters: loading one for a model, checked against the model first, and its metadata.
 *
 * llama.cpp checks an adapter as it loads it, but aborts on a metadata value of the wrong type, reports the rest only
 * in its log, and never names the shapes that disagree. So the file is first read with llamac's GGUF reader (every
 * offset checked, a truncated file named as such), its kind, architecture and metadata types are checked, and every
 * lora_a/lora_b pair is matched against the model's own tensor table, read from the model's file: the same rules
 * llama.cpp applies, with both shapes in the message. Only a file that passes reaches llama_adapter_lora_init.
 */
#include "adapter/adapter_internal.h"
#include "gguf/gguf_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static atomic_uint_fast64_t next_id = 1;

uint64_t llamac__adapter_next_id(void) {
    return (uint64_t)atomic_fetch_add(&next_id, 1);
}

/* ---- metadata of the file, read with type checks (gguf.h aborts on a getter of the wrong type) ---- */

/* A string value, or NULL when the key is absent; LLAMAC_E_ADAPTER when it is there with another type. */
static llamac_status meta_str(const llamac_gguf *g, const char *file, const char *key, const char **out) {
    size_t i;
    llamac_gguf_kv kv;
    *out = NULL;
    if (llamac_gguf_find_key(g, key, &i) != LLAMAC_OK) {
        return llamac__ok();
    }
    llamac_gguf_kv_at(g, i, &kv);
    if (kv.type != LLAMAC_GGUF_STRING) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s': %s is a %s, not a string", file, key,
                            llamac_gguf_type_name(kv.type));
    }
    *out = kv.str_value;
    return LLAMAC_OK;
}

/* general.type "adapter", adapter.type "lora", the model's architecture; a control vector or a model named so. */
static llamac_status check_kind(const llamac_gguf *g, const char *file, const llamac_model *model) {
    const char *type, *arch, *atype;
    llamac_status st;
    if ((st = meta_str(g, file, "general.type", &type)) != LLAMAC_OK ||
        (st = meta_str(g, file, "general.architecture", &arch)) != LLAMAC_OK ||
        (st = meta_str(g, file, "adapter.type", &atype)) != LLAMAC_OK) {
        return st;
    }
    if (arch && strcmp(arch, "controlvector") == 0) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is a control vector, not a LoRA adapter (load it as one)", file);
    }
    if (!type || strcmp(type, "adapter") != 0) {
        /* Models written before general.type existed are known by their hyperparameters. */
        char key[128];
        size_t i;
        snprintf(key, sizeof key, "%s.block_count", arch ? arch : "");
        bool model_file = type ? strcmp(type, "model") == 0 : arch && llamac_gguf_find_key(g, key, &i) == LLAMAC_OK;
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is not an adapter: general.type is %s%s%s, not 'adapter'%s", file,
                            type ? "'" : "", type ? type : "missing", type ? "'" : "",
                            model_file ? " (it is a model)" : "");
    }
    if (!atype || strcmp(atype, "lora") != 0) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is a%s%s%s adapter, not a LoRA adapter (adapter.type 'lora')", file,
                            atype ? " '" : "n untyped", atype ? atype : "", atype ? "'" : "");
    }
    if (!arch || strcmp(arch, model->architecture) != 0) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s' is an adapter for %s%s%s, but the model is %s", file,
                            arch ? "architecture '" : "no architecture (general.architecture is missing)",
                            arch ? arch : "", arch ? "'" : "", model->architecture);
    }
    return LLAMAC_OK;
}

/* adapter.lora.alpha an f32 (0 when absent), adapter.alora.invocation_tokens an array of u32 token ids. */
static llamac_status check_values(const llamac_gguf *g, const char *file, const llamac_model *model, float *alpha) {
    size_t i;
    llamac_gguf_kv kv;
    *alpha = 0.0f;
    if (llamac_gguf_find_key(g, "adapter.lora.alpha", &i) == LLAMAC_OK) {
        llamac_gguf_kv_at(g, i, &kv);
        if (kv.type != LLAMAC_GGUF_FLOAT32) {
            return llamac__fail(LLAMAC_E_ADAPTER, "'%s': adapter.lora.alpha is a %s, not an f32", file,
                                llamac_gguf_type_name(kv.type));
        }
        *alpha = (float)kv.float_value;
    }
    if (llamac_gguf_find_key(g, "adapter.alora.invocation_tokens", &i) != LLAMAC_OK) {
        return LLAMAC_OK;
    }
    llamac_gguf_kv_at(g, i, &kv);
    if (kv.type != LLAMAC_GGUF_ARRAY || kv.elem_type != LLAMAC_GGUF_UINT32) {
        return llamac__fail(LLAMAC_E_ADAPTER, "'%s': adapter.alora.invocation_tokens is a %s, not an array of u32",
                            file, llamac_gguf_type_name(kv.type == LLAMAC_GGUF_ARRAY ? kv.elem_type : kv.type));
    }
    for (uint64_t j = 0; j < kv.n; j++) {
        llamac_gguf_kv el;
        llamac_gguf_arr_at(g, i, j, &el);
        if (el.uint_value >= (uint64_t)model->info.n_vocab) {
            return llamac__fail(LLAMAC_E_ADAPTER,
                                "'%s': aLoRA invocation token %llu (element %llu) is outside the model's vocabulary "
                                "of %d",
                                file, (unsigned long long)el.uint_value, (unsigned long long)j, model->info.n_vocab);
        }
    }
    return LLAMAC_OK;
}

/* ---- tensors: pairs, matched against the model's table ---- */

struct half {
    const char *base; /* the adapted weight's name: the tensor's name less its suffix (not NUL-terminated there) */
    size_t len;
    bool is_b;
    llamac_gguf_tensor t;
};

static int cmp_half(const void *x, const void *y) {
    const struct half *a = x, *b = y;
    size_t n = a->len < b->len ? a->len : b->len;
    int c = memcmp(a->base, b->base, n);
    if (c != 0) {
        return c;
    }
    if (a->len != b->len) {
        return a->len < b->len ? -1 : 1;
    }
    return (int)a->is_b - (int)b->is_b;
}

static bool ends_with(const char *s, size_t len, const char *suffix) {
    size_t k = strlen(suffix);
    return len >= k && memcmp(s + len - k, suffix, k) == 0;
}

/* The model's tensors sorted by name, for bsearch. */
struct table {
    llamac_gguf_tensor *t;
    size_t n;
};

static int cmp_tensor(const void *x, const void *y) {
    return strcmp(((const llamac_gguf_tensor *)x)->name, ((const llamac_gguf_tensor *)y)->name);
}

static llamac_status table_read(const llamac_gguf *mg, struct table *out) {
    out->n = llamac_gguf_tensor_count(mg);
    out->t = llamac__calloc(out->n ? out->n : 1, sizeof *out->t);
    if (!out->t) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < out->n; i++) {
        llamac_gguf_tensor_at(mg, i, &out->t[i]);
    }
    qsort(out->t, out->n, sizeof *out->t, cmp_tensor);
    return LLAMAC_OK;
}

static const llamac_gguf_tensor *table_find(const struct table *tb, const char *name) {
    llamac_gguf_tensor key;
    memset(&key, 0, sizeof key);
    key.name = name;
    return bsearch(&key, tb->t, tb->n, sizeof *tb->t, cmp_tensor);
}

#define SHAPE_FMT "[%lld, %lld, %lld]"
#define SHAPE(t) (long long)(t)->ne[0], (long long)(t)->ne[1], (long long)(t)->ne[2]

/* One complete pair against the weight `w` it adapts: llama.cpp's rules (lora_a [in, rank], lora_b [rank, out]; for
 * the token embeddings lora_a [rank, n_vocab] and lora_b [rank, n_embd]), and matching expert counts, on which ggml
 * would otherwise abort while decoding. */
static llamac_status check_pair(const char *file, const char *name, const llamac_gguf_tensor *w,
                                const llamac_gguf_tensor *a, const llamac_gguf_tensor *b) {
    bool embd = ends_with(name, strlen(name), "token_embd.weight");
    bool ok = embd ? w->ne[0] == b->ne[1] && w->ne[1] == a->ne[1] && a->ne[0] == b->ne[0]
                   : w->ne[0] == a->ne[0] && w->ne[1] == b->ne[1] && a->ne[1] == b->ne[0];
    ok = ok && a->ne[2] == w->ne[2] && b->ne[2] == w->ne[2] && a->ne[3] == 1 && b->ne[3] == 1;
    if (ok) {
        return LLAMAC_OK;
    }
    return llamac__fail(LLAMAC_E_ADAPTER,
                        "'%s': '%s' is " SHAPE_FMT " in the model, but the adapter's lora_a is " SHAPE_FMT
                        " and lora_b " SHAPE_FMT " (expected %s; made for another base model?)",
                        file, name, SHAPE(w), SHAPE(a), SHAPE(b),
                        embd ? "lora_a [rank, n_vocab] and lora_b [rank, n_embd]"
                             : "lora_a [in, rank] and lora_b [rank, out] of the weight's [in, out]");
}

/* Sorts the adapter's lora_a/lora_b tensors by the weight they adapt and checks each pair. */
static llamac_status check_halves(const char *file, struct half *h, size_t n, const struct table *tb,
                                  llamac_adapter *ad) {
    char name[GGML_MAX_NAME + 1];
    qsort(h, n, sizeof *h, cmp_half);
    for (size_t i = 0; i < n; i++) {
        bool paired = i + 1 < n && h[i].len == h[i + 1].len && memcmp(h[i].base, h[i + 1].base, h[i].len) == 0;
        if (!paired) {
            return llamac__fail(LLAMAC_E_ADAPTER, "'%s': tensor '%s' has no %s to pair with", file, h[i].t.name,
                                h[i].is_b ? "lora_a" : "lora_b");
        }
        snprintf(name, sizeof name, "%.*s", (int)h[i].len, h[i].base);
        const llamac_gguf_tensor *w = table_find(tb, name);
        if (!w) {
            return llamac__fail(LLAMAC_E_ADAPTER,
                                "'%s': tensor '%s' adapts '%s', which the model does not have (made for another "
                                "base model?)",
                                file, h[i].t.name, name);
        }
        llamac_status st = check_pair(file, name, w, &h[i].t, &h[i + 1].t);
        if (st != LLAMAC_OK) {
            return st;
        }
        int64_t rank = h[i + 1].t.ne[0];
        ad->rank = rank > ad->rank ? (int32_t)rank : ad->rank;
        ad->n_weights++;
        i++;
    }
    return LLAMAC_OK;
}

static llamac_status check_tensors(const llamac_gguf *g, const char *file, const llamac_gguf *mg, llamac_adapter *ad) {
    size_t n = llamac_gguf_tensor_count(g), k = 0;
    struct half *h = llamac__calloc(n ? n : 1, sizeof *h);
    struct table tb = { NULL, 0 };
    llamac_status st = h ? table_read(mg, &tb) : LLAMAC_E_NO_MEMORY;
    for (size_t i = 0; i < n && st == LLAMAC_OK; i++) {
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(g, i, &t);
        size_t len = strlen(t.name);
        if (ends_with(t.name, len, "_norm.weight")) {
            continue; /* llama.cpp skips norm vectors */
        }
        if (!ends_with(t.name, len, ".lora_a") && !ends_with(t.name, len, ".lora_b")) {
            st = llamac__fail(LLAMAC_E_ADAPTER, "'%s': tensor '%s' is neither a .lora_a nor a .lora_b matrix", file,
                              t.name);
            break;
        }
        h[k].base = t.name;
        h[k].len = len - strlen(".lora_a");
        h[k].is_b = t.name[len - 1] == 'b';
        h[k].t = t;
        k++;
    }
    if (st == LLAMAC_OK) {
        st = check_halves(file, h, k, &tb, ad);
    }
    free(tb.t);
    free(h);
    return st;
}

/* ---- loading ---- */

static char *dup_or_null(const char *s) {
    return s ? llamac__strndup(s, strlen(s)) : NULL;
}

/* The strings of the info, from the checked file; false when out of memory. */
static bool take_strings(llamac_adapter *ad, const llamac_gguf *g, const char *path) {
    const char *name, *base, *task, *prefix;
    meta_str(g, path, "general.name", &name);
    meta_str(g, path, "general.base_model.0.name", &base);
    meta_str(g, path, "adapter.lora.task_name", &task);
    meta_str(g, path, "adapter.lora.prompt_prefix", &prefix);
    llamac__ok();
    ad->path = dup_or_null(path);
    ad->architecture = dup_or_null(ad->model->architecture);
    ad->name = dup_or_null(name);
    ad->base_model = dup_or_null(base);
    ad->task_name = dup_or_null(task);
    ad->prompt_prefix = dup_or_null(prefix);
    return ad->path && ad->architecture && (!name || ad->name) && (!base || ad->base_model) &&
           (!task || ad->task_name) && (!prefix || ad->prompt_prefix);
}

static void adapter_destroy(llamac_adapter *ad) {
    if (!ad) {
        return;
    }
    llama_adapter_lora_free(ad->la);
    llamac__model_unref(ad->model);
    free(ad->path);
    free(ad->architecture);
    free(ad->name);
    free(ad->base_model);
    free(ad->task_name);
    free(ad->prompt_prefix);
    free(ad->alora);
    free(ad);
}

/* Has llama.cpp load the checked file, and copies the aLoRA invocation tokens it parsed. */
static llamac_status llama_load(llamac_adapter *ad) {
    llamac__capture_begin();
    ad->la = llama_adapter_lora_init(ad->model->lm, ad->path);
    const char *why = llamac__capture_end();
    if (!ad->la) {
        return llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp refused LoRA adapter '%s': %s", ad->path,
                            why[0] ? why : "no reason given");
    }
    uint64_t n = llama_adapter_get_alora_n_invocation_tokens(ad->la);
    if (n > 0) {
        if (!(ad->alora = llamac__malloc((size_t)n * sizeof *ad->alora))) {
            return LLAMAC_E_NO_MEMORY;
        }
        memcpy(ad->alora, llama_adapter_get_alora_invocation_tokens(ad->la), (size_t)n * sizeof *ad->alora);
        ad->n_alora = (size_t)n;
    }
    return LLAMAC_OK;
}

llamac_status llamac_adapter_load(llamac_model *model, const char *path, llamac_adapter **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_adapter_load: %s is NULL",
                            !model  ? "model"
                            : !path ? "path"
                                    : "out");
    }
    if (model->info.vocab_only) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "cannot apply LoRA adapter '%s' to a vocab-only model", path);
    }
    llamac_gguf *g = NULL, *mg = NULL;
    llamac_adapter *ad = llamac__calloc(1, sizeof *ad);
    llamac_status st = ad ? llamac__gguf_open(path, "LoRA adapter", &g) : LLAMAC_E_NO_MEMORY;
    if (st != LLAMAC_OK) {
        goto fail;
    }
    atomic_init(&ad->refs, 1);
    llamac__model_ref(model);
    ad->model = model;
    ad->id = llamac__adapter_next_id();
    if ((st = check_kind(g, path, model)) != LLAMAC_OK ||
        (st = check_values(g, path, model, &ad->alpha)) != LLAMAC_OK ||
        (st = llamac__gguf_open(model->path, "model", &mg)) != LLAMAC_OK ||
        (st = check_tensors(g, path, mg, ad)) != LLAMAC_OK) {
        goto fail;
    }
    if (!take_strings(ad, g, path)) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory loading LoRA adapter '%s'", path);
        goto fail;
    }
    if ((st = llama_load(ad)) != LLAMAC_OK) {
        goto fail;
    }
    llamac_gguf_free(g);
    llamac_gguf_free(mg);
    *out = ad;
    return llamac__ok();
fail:
    llamac_gguf_free(g);
    llamac_gguf_free(mg);
    adapter_destroy(ad);
    return st;
}

void llamac__adapter_ref(llamac_adapter *adapter) {
    atomic_fetch_add(&adapter->refs, 1);
}

void llamac__adapter_unref(llamac_adapter *adapter) {
    if (adapter && atomic_fetch_sub(&adapter->refs, 1) == 1) {
        adapter_destroy(adapter);
    }
}

void llamac_adapter_free(llamac_adapter *adapter) {
    llamac__adapter_unref(adapter);
}

llamac_model *llamac_adapter_model(const llamac_adapter *adapter) {
    return adapter ? adapter->model : NULL;
}

llamac_status llamac_adapter_get_info(const llamac_adapter *adapter, llamac_adapter_info *out) {
    if (!adapter || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_adapter_get_info: %s is NULL",
                            adapter ? "out" : "adapter");
    }
    memset(out, 0, sizeof *out);
    out->path = adapter->path;
    out->architecture = adapter->architecture;
    out->name = adapter->name;
    out->base_model = adapter->base_model;
    out->task_name = adapter->task_name;
    out->prompt_prefix = adapter->prompt_prefix;
    out->alpha = adapter->alpha;
    out->rank = adapter->rank;
    out->n_weights = adapter->n_weights;
    out->alora_invocation_tokens = adapter->alora;
    out->n_alora_invocation_tokens = adapter->n_alora;
    return llamac__ok();
}

/* ---- metadata through llama.cpp's own strings ---- */

/* Key `key` (i < 0) or the key or value of entry i, of any length, through llama.cpp's (buf, size) getters. */
static char *adapter_meta_dup(const struct llama_adapter_lora *la, const char *key, int32_t i, bool want_key) {
    char small[256];
    int32_t n = key        ? llama_adapter_meta_val_str(la, key, small, sizeof small)
                : want_key ? llama_adapter_meta_key_by_index(la, i, small, sizeof small)
                           : llama_adapter_meta_val_str_by_index(la, i, small, sizeof small);
    if (n < 0 || (size_t)n < sizeof small) {
        return n < 0 ? NULL : llamac__strndup(small, (size_t)n);
    }
    char *big = llamac__malloc((size_t)n + 1);
    if (big) {
        if (key) {
            llama_adapter_meta_val_str(la, key, big, (size_t)n + 1);
        } else if (want_key) {
            llama_adapter_meta_key_by_index(la, i, big, (size_t)n + 1);
        } else {
            llama_adapter_meta_val_str_by_index(la, i, big, (size_t)n + 1);
        }
    }
    return big;
}

llamac_status llamac_adapter_meta(const llamac_adapter *adapter, const char *key, char **out) {
    if (out) {
        *out = NULL;
    }
    if (!adapter || !key || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_adapter_meta: NULL argument");
    }
    if (llama_adapter_meta_val_str(adapter->la, key, NULL, 0) < 0) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "adapter '%s' has no metadata key '%s'", adapter->path, key);
    }
    *out = adapter_meta_dup(adapter->la, key, -1, false);
    return *out ? llamac__ok() : LLAMAC_E_NO_MEMORY;
}

size_t llamac_adapter_meta_count(const llamac_adapter *adapter) {
    int32_t n = adapter ? llama_adapter_meta_count(adapter->la) : 0;
    return n > 0 ? (size_t)n : 0;
}

llamac_status llamac_adapter_meta_at(const llamac_adapter *adapter, size_t i, char **key, char **value) {
    if (key) {
        *key = NULL;
    }
    if (value) {
        *value = NULL;
    }
    if (!adapter || i >= llamac_adapter_meta_count(adapter)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_adapter_meta_at: %s",
                            adapter ? "index out of range" : "adapter is NULL");
    }
    if ((key && !(*key = adapter_meta_dup(adapter->la, NULL, (int32_t)i, true))) ||
        (value && !(*value = adapter_meta_dup(adapter->la, NULL, (int32_t)i, false)))) {
        if (key) {
            free(*key);
            *key = NULL;
        }
        return LLAMAC_E_NO_MEMORY;
    }
    return llamac__ok();
}
