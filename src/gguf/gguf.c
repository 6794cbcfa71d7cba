/*
 * gguf.c - GGUF metadata: open a file (or a split model's shards), read its keys, values and tensor table.
 *
 * Reading is llama.cpp's gguf.h (gguf_init_from_file with no_alloc, so tensor data is never touched). Because
 * gguf.h aborts when a getter is asked for the wrong type and explains a malformed file only vaguely, every file is
 * first checked by walk.c, which reports the field and byte offset of a problem; every getter call here is guarded
 * by a type check. The first shard of a split model brings in the other shards, found by llama.cpp's naming rule.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define SPLIT_NO "split.no"
#define SPLIT_COUNT "split.count"

const char *llamac_gguf_type_name(llamac_gguf_type type) {
    if ((int)type < 0 || type > LLAMAC_GGUF_FLOAT64) {
        return "?";
    }
    return gguf_type_name((enum gguf_type)type);
}

bool llamac__pread_full(int fd, void *buf, size_t n, uint64_t offset) {
    unsigned char *p = buf;
    while (n > 0) {
        ssize_t got = pread(fd, p, n, (off_t)offset);
        if (got < 0 && errno == EINTR) {
            continue;
        }
        if (got <= 0) {
            if (got == 0) {
                errno = EIO;
            }
            return false;
        }
        p += got;
        n -= (size_t)got;
        offset += (uint64_t)got;
    }
    return true;
}

static void shard_free(struct llamac__shard *s) {
    free(s->path);
    gguf_free(s->g);
    ggml_free(s->meta);
}

void llamac_gguf_free(llamac_gguf *gguf) {
    if (!gguf) {
        return;
    }
    for (uint32_t i = 0; i < gguf->n_shards; i++) {
        shard_free(&gguf->shards[i]);
    }
    free(gguf->shards);
    free(gguf->tensors);
    free(gguf);
}

/* Checks one image with the walker, then has llama.cpp read it. `label` names it in messages. */
static llamac_status read_one(const char *label, const unsigned char *mem, int fd, uint64_t size,
                              struct llamac__shard *out) {
    char err[600];
    if (size == 0) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' is empty (0 bytes), not a GGUF file", label);
    }
    switch (llamac__gguf_walk(mem, fd, size, err, sizeof err)) {
    case LLAMAC__WALK_OK: break;
    case LLAMAC__WALK_NOT_GGUF:
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' is not a GGUF file (%llu bytes, no GGUF magic at offset 0)",
                            label, (unsigned long long)size);
    case LLAMAC__WALK_NO_MEMORY: return llamac__fail(LLAMAC_E_NO_MEMORY, "reading '%s': %s", label, err);
    case LLAMAC__WALK_IO: return llamac__fail(LLAMAC_E_IO, "reading '%s': %s", label, err);
    case LLAMAC__WALK_MALFORMED:
    default: return llamac__fail(LLAMAC_E_MODEL_LOAD, "malformed GGUF '%s': %s", label, err);
    }
    struct gguf_init_params params = { true, &out->meta };
    llamac__capture_begin();
    out->g = mem ? gguf_init_from_buffer(mem, (size_t)size, params) : gguf_init_from_file(out->path, params);
    const char *why = llamac__capture_end();
    if (!out->g) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "malformed GGUF '%s': %s", label,
                            why[0] ? why : "llama.cpp's gguf reader refused it");
    }
    out->file_size = size;
    return LLAMAC_OK;
}

static llamac_status open_path(const char *path, const char *what, struct llamac__shard *out) {
    struct stat st;
    if (stat(path, &st) != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    }
    if (S_ISDIR(st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "cannot read %s '%s': it is a directory, not a GGUF file", what, path);
    }
    if (!S_ISREG(st.st_mode)) {
        return llamac__fail(LLAMAC_E_IO, "cannot read %s '%s': not a regular file", what, path);
    }
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot open %s '%s': %s", what, path, strerror(errno));
    }
    out->path = llamac__strndup(path, strlen(path));
    llamac_status st_ = out->path ? read_one(path, NULL, fd, (uint64_t)st.st_size, out) : LLAMAC_E_NO_MEMORY;
    close(fd);
    return st_;
}

/* An unsigned integer of any integer type; arrays of integers give their largest element. */
static bool get_uint(const struct gguf_context *g, const char *key, uint64_t *out) {
    int64_t k = gguf_find_key(g, key);
    if (k < 0) {
        return false;
    }
    enum gguf_type t = gguf_get_kv_type(g, k);
    size_t n = 1;
    const unsigned char *data = NULL;
    if (t == GGUF_TYPE_ARRAY) {
        t = gguf_get_arr_type(g, k);
        if (t == GGUF_TYPE_STRING || t == GGUF_TYPE_ARRAY) {
            return false;
        }
        n = gguf_get_arr_n(g, k);
        data = gguf_get_arr_data(g, k);
    } else if (t != GGUF_TYPE_STRING) {
        data = gguf_get_val_data(g, k);
    }
    if (!data || n == 0) {
        return false;
    }
    uint64_t best = 0;
    bool any = false;
    for (size_t i = 0; i < n; i++) {
        int64_t s = 0;
        uint64_t u = 0;
        bool is_signed = false;
        switch (t) {
        case GGUF_TYPE_UINT8: u = data[i]; break;
        case GGUF_TYPE_INT8: {
            int8_t v;
            memcpy(&v, data + i, 1);
            s = v;
            is_signed = true;
            break;
        }
        case GGUF_TYPE_UINT16: {
            uint16_t v;
            memcpy(&v, data + 2 * i, 2);
            u = v;
            break;
        }
        case GGUF_TYPE_INT16: {
            int16_t v;
            memcpy(&v, data + 2 * i, 2);
            s = v;
            is_signed = true;
            break;
        }
        case GGUF_TYPE_UINT32: {
            uint32_t v;
            memcpy(&v, data + 4 * i, 4);
            u = v;
            break;
        }
        case GGUF_TYPE_INT32: {
            int32_t v;
            memcpy(&v, data + 4 * i, 4);
            s = v;
            is_signed = true;
            break;
        }
        case GGUF_TYPE_UINT64: memcpy(&u, data + 8 * i, 8); break;
        case GGUF_TYPE_INT64:
            memcpy(&s, data + 8 * i, 8);
            is_signed = true;
            break;
        default: return false;
        }
        if (is_signed) {
            if (s < 0) {
                continue;
            }
            u = (uint64_t)s;
        }
        if (!any || u > best) {
            best = u;
        }
        any = true;
    }
    *out = best;
    return any;
}

static uint32_t get_u32(const struct gguf_context *g, const char *key) {
    uint64_t v = 0;
    return get_uint(g, key, &v) && v <= UINT32_MAX ? (uint32_t)v : 0;
}

static uint32_t get_arch_u32(const struct gguf_context *g, const char *arch, const char *suffix) {
    char key[256];
    snprintf(key, sizeof key, "%s.%s", arch, suffix);
    return get_u32(g, key);
}

static const char *get_str(const struct gguf_context *g, const char *key) {
    int64_t k = gguf_find_key(g, key);
    return k >= 0 && gguf_get_kv_type(g, k) == GGUF_TYPE_STRING ? gguf_get_val_str(g, k) : NULL;
}

/* Elements of a shape; the walker has checked that the product fits (a zero dimension makes any other size legal,
 * so multiply in unsigned arithmetic, where that cannot overflow into undefined behaviour). */
static uint64_t elements(const int64_t *ne) {
    if (ne[0] <= 0 || ne[1] <= 0 || ne[2] <= 0 || ne[3] <= 0) {
        return 0;
    }
    return (uint64_t)ne[0] * (uint64_t)ne[1] * (uint64_t)ne[2] * (uint64_t)ne[3];
}

static void fill_info(llamac_gguf *h) {
    const struct gguf_context *g = h->shards[0].g;
    llamac_gguf_info *info = &h->info;
    info->version = gguf_get_version(g);
    info->n_shards = h->n_shards;
    info->split_no = get_u32(g, SPLIT_NO);
    info->metadata_size = gguf_get_data_offset(g);
    info->alignment = (uint32_t)gguf_get_alignment(g);
    info->n_kv = (size_t)gguf_get_n_kv(g);
    info->n_tensors = h->n_tensors;
    for (uint32_t s = 0; s < h->n_shards; s++) {
        info->file_size += h->shards[s].file_size;
    }
    for (size_t i = 0; i < h->n_tensors; i++) {
        const struct gguf_context *sg = h->shards[h->tensors[i].shard].g;
        int64_t idx = h->tensors[i].idx;
        info->n_params += elements(gguf_get_tensor_ne(sg, idx));
        info->tensor_bytes += gguf_get_tensor_size(sg, idx);
    }
    info->architecture = get_str(g, "general.architecture");
    info->name = get_str(g, "general.name");
    uint64_t ft = 0;
    info->file_type = -1;
    if (get_uint(g, "general.file_type", &ft) && ft <= INT32_MAX) {
        info->file_type = (int32_t)ft;
        info->file_type_name = llama_ftype_name((enum llama_ftype)ft);
    }
    const char *arch = info->architecture;
    if (arch) {
        info->n_ctx_train = get_arch_u32(g, arch, "context_length");
        info->n_embd = get_arch_u32(g, arch, "embedding_length");
        info->n_layer = get_arch_u32(g, arch, "block_count");
        info->n_ff = get_arch_u32(g, arch, "feed_forward_length");
        info->n_head = get_arch_u32(g, arch, "attention.head_count");
        info->n_head_kv = get_arch_u32(g, arch, "attention.head_count_kv");
        if (info->n_head_kv == 0) {
            info->n_head_kv = info->n_head;
        }
        uint32_t head = info->n_head > 0 ? info->n_embd / info->n_head : 0;
        info->head_dim_k = get_arch_u32(g, arch, "attention.key_length");
        info->head_dim_v = get_arch_u32(g, arch, "attention.value_length");
        info->head_dim_k = info->head_dim_k ? info->head_dim_k : head;
        info->head_dim_v = info->head_dim_v ? info->head_dim_v : head;
        info->n_expert = get_arch_u32(g, arch, "expert_count");
    }
    info->tokenizer = get_str(g, "tokenizer.ggml.model");
    int64_t tok = gguf_find_key(g, "tokenizer.ggml.tokens");
    if (tok >= 0 && gguf_get_kv_type(g, tok) == GGUF_TYPE_ARRAY) {
        size_t n = gguf_get_arr_n(g, tok);
        info->n_vocab = n <= UINT32_MAX ? (uint32_t)n : UINT32_MAX;
    }
    info->chat_template = get_str(g, "tokenizer.chat_template");
}

static llamac_status index_tensors(llamac_gguf *h) {
    size_t n = 0;
    for (uint32_t s = 0; s < h->n_shards; s++) {
        n += (size_t)gguf_get_n_tensors(h->shards[s].g);
    }
    h->tensors = llamac__calloc(n + 1, sizeof *h->tensors);
    if (!h->tensors) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (uint32_t s = 0; s < h->n_shards; s++) {
        int64_t k = gguf_get_n_tensors(h->shards[s].g);
        for (int64_t i = 0; i < k; i++) {
            h->tensors[h->n_tensors].shard = s;
            h->tensors[h->n_tensors].idx = i;
            h->n_tensors++;
        }
    }
    return LLAMAC_OK;
}

static int cmp_names(const void *a, const void *b) {
    return strcmp(*(const char *const *)a, *(const char *const *)b);
}

/* A tensor in two shards makes a model llama.cpp refuses and a merge impossible. */
static llamac_status check_unique_tensors(const llamac_gguf *h) {
    if (h->n_shards < 2 || h->n_tensors < 2) {
        return LLAMAC_OK;
    }
    const char **names = llamac__calloc(h->n_tensors, sizeof *names);
    if (!names) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < h->n_tensors; i++) {
        names[i] = gguf_get_tensor_name(h->shards[h->tensors[i].shard].g, h->tensors[i].idx);
    }
    qsort(names, h->n_tensors, sizeof *names, cmp_names);
    llamac_status st = LLAMAC_OK;
    for (size_t i = 1; i < h->n_tensors; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD, "split model '%s': tensor '%s' is in more than one shard",
                              h->shards[0].path, names[i]);
            break;
        }
    }
    free(names);
    return st;
}

/* The split.count of a file, 0 when it is not a shard (a split.count of 1 is a whole model too). */
static llamac_status split_info(const struct llamac__shard *s, uint32_t *no, uint32_t *count) {
    *no = 0;
    *count = 0;
    int64_t k = gguf_find_key(s->g, SPLIT_COUNT);
    if (k < 0) {
        return LLAMAC_OK;
    }
    uint64_t c = 0, n = 0;
    if (!get_uint(s->g, SPLIT_COUNT, &c) || gguf_get_kv_type(s->g, k) == GGUF_TYPE_ARRAY || c > 99999) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s': %s is not a shard count from 0 to 99999", s->path, SPLIT_COUNT);
    }
    if (c > 1 && (!get_uint(s->g, SPLIT_NO, &n) || n >= c)) {
        return llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' is a shard of %llu, but its %s is missing or out of range",
                            s->path, (unsigned long long)c, SPLIT_NO);
    }
    *count = c > 1 ? (uint32_t)c : 0;
    *no = (uint32_t)n;
    return LLAMAC_OK;
}

/* Opens shards 2..n of a split model whose first shard is h->shards[0]. */
static llamac_status open_other_shards(llamac_gguf *h, uint32_t count, const char *what) {
    const char *first = h->shards[0].path;
    size_t cap = strlen(first) + 32;
    char *prefix = llamac__malloc(cap);
    char *path = llamac__malloc(cap);
    struct llamac__shard *shards = llamac__calloc(count, sizeof *shards);
    llamac_status st = LLAMAC_OK;
    if (!prefix || !path || !shards) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    shards[0] = h->shards[0];
    free(h->shards);
    h->shards = shards;
    h->n_shards = 1;
    shards = NULL;
    if (llama_split_prefix(prefix, cap, first, 0, (int)count) <= 0) {
        st = llamac__fail(LLAMAC_E_MODEL_LOAD,
                          "'%s' is shard 1 of %u, but its name does not end in \"-00001-of-%05u.gguf\", so the other "
                          "shards cannot be found",
                          first, count, count);
        goto done;
    }
    for (uint32_t i = 1; i < count; i++) {
        llama_split_path(path, cap, prefix, (int)i, (int)count);
        struct llamac__shard *s = &h->shards[i];
        st = open_path(path, what, s);
        h->n_shards = i + 1; /* so that a failure frees what was opened */
        if (st != LLAMAC_OK) {
            if (st == LLAMAC_E_IO) {
                char msg[700];
                snprintf(msg, sizeof msg, "%s", llamac_last_error());
                st = llamac__fail(LLAMAC_E_IO, "shard %u of %u of '%s' is missing or unreadable: %s", i + 1, count,
                                  first, msg);
            }
            goto done;
        }
        uint32_t no, c;
        st = split_info(s, &no, &c);
        if (st == LLAMAC_OK && (no != i || c != count)) {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' should be shard %u of %u, but says it is shard %u of %u", path,
                              i + 1, count, no + 1, c ? c : 1);
        }
        if (st != LLAMAC_OK) {
            goto done;
        }
    }
done:
    free(prefix);
    free(path);
    free(shards);
    return st;
}

llamac_status llamac__gguf_open(const char *path, const char *what, llamac_gguf **out) {
    *out = NULL;
    llamac_gguf *h = llamac__calloc(1, sizeof *h);
    struct llamac__shard *first = llamac__calloc(1, sizeof *first);
    if (!h || !first) {
        free(h);
        free(first);
        return LLAMAC_E_NO_MEMORY;
    }
    h->shards = first;
    llamac_status st = open_path(path, what, first);
    h->n_shards = 1;
    uint32_t no = 0, count = 0;
    if (st == LLAMAC_OK) {
        st = split_info(first, &no, &count);
    }
    if (st == LLAMAC_OK && count > 1 && no == 0) {
        st = open_other_shards(h, count, what);
    }
    if (st == LLAMAC_OK) {
        st = index_tensors(h);
    }
    if (st == LLAMAC_OK) {
        st = check_unique_tensors(h);
    }
    if (st != LLAMAC_OK) {
        llamac_gguf_free(h);
        return st;
    }
    fill_info(h);
    *out = h;
    return llamac__ok();
}

llamac_status llamac_gguf_open(const char *path, llamac_gguf **out) {
    if (out) {
        *out = NULL;
    }
    if (!path || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_open: %s is NULL", path ? "out" : "path");
    }
    return llamac__gguf_open(path, "GGUF file", out);
}

llamac_status llamac_gguf_open_buffer(const void *data, size_t size, llamac_gguf **out) {
    if (out) {
        *out = NULL;
    }
    if (!data || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_open_buffer: %s is NULL", data ? "out" : "data");
    }
    llamac_gguf *h = llamac__calloc(1, sizeof *h);
    struct llamac__shard *s = llamac__calloc(1, sizeof *s);
    if (!h || !s) {
        free(h);
        free(s);
        return LLAMAC_E_NO_MEMORY;
    }
    h->shards = s;
    h->n_shards = 1;
    llamac_status st = read_one("(buffer)", data, -1, size, s);
    if (st == LLAMAC_OK) {
        st = index_tensors(h);
    }
    if (st != LLAMAC_OK) {
        llamac_gguf_free(h);
        return st;
    }
    fill_info(h);
    *out = h;
    return llamac__ok();
}

llamac_status llamac_gguf_get_info(const llamac_gguf *gguf, llamac_gguf_info *out) {
    if (!gguf || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_get_info: %s is NULL", gguf ? "out" : "gguf");
    }
    *out = gguf->info;
    return llamac__ok();
}

size_t llamac_gguf_kv_count(const llamac_gguf *gguf) {
    return gguf ? (size_t)gguf_get_n_kv(gguf->shards[0].g) : 0;
}

/* Fills the value fields of *out from `size` bytes of an element of type t. */
static void scalar_from(llamac_gguf_kv *out, enum gguf_type t, const unsigned char *p) {
    switch (t) {
    case GGUF_TYPE_UINT8: out->uint_value = p[0]; break;
    case GGUF_TYPE_INT8: {
        int8_t v;
        memcpy(&v, p, 1);
        out->int_value = v;
        break;
    }
    case GGUF_TYPE_UINT16: {
        uint16_t v;
        memcpy(&v, p, 2);
        out->uint_value = v;
        break;
    }
    case GGUF_TYPE_INT16: {
        int16_t v;
        memcpy(&v, p, 2);
        out->int_value = v;
        break;
    }
    case GGUF_TYPE_UINT32: {
        uint32_t v;
        memcpy(&v, p, 4);
        out->uint_value = v;
        break;
    }
    case GGUF_TYPE_INT32: {
        int32_t v;
        memcpy(&v, p, 4);
        out->int_value = v;
        break;
    }
    case GGUF_TYPE_FLOAT32: {
        float v;
        memcpy(&v, p, 4);
        out->float_value = v;
        break;
    }
    case GGUF_TYPE_BOOL: out->int_value = p[0] != 0; break;
    case GGUF_TYPE_UINT64: memcpy(&out->uint_value, p, 8); break;
    case GGUF_TYPE_INT64: memcpy(&out->int_value, p, 8); break;
    case GGUF_TYPE_FLOAT64: memcpy(&out->float_value, p, 8); break;
    default: break;
    }
}

static size_t elem_size(enum gguf_type t) {
    switch (t) {
    case GGUF_TYPE_UINT8:
    case GGUF_TYPE_INT8:
    case GGUF_TYPE_BOOL: return 1;
    case GGUF_TYPE_UINT16:
    case GGUF_TYPE_INT16: return 2;
    case GGUF_TYPE_UINT32:
    case GGUF_TYPE_INT32:
    case GGUF_TYPE_FLOAT32: return 4;
    case GGUF_TYPE_UINT64:
    case GGUF_TYPE_INT64:
    case GGUF_TYPE_FLOAT64: return 8;
    default: return 0;
    }
}

llamac_status llamac_gguf_kv_at(const llamac_gguf *gguf, size_t i, llamac_gguf_kv *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!gguf || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_kv_at: %s is NULL", gguf ? "out" : "gguf");
    }
    const struct gguf_context *g = gguf->shards[0].g;
    size_t n = (size_t)gguf_get_n_kv(g);
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "metadata index %zu out of range (%zu entries)", i, n);
    }
    int64_t k = (int64_t)i;
    enum gguf_type t = gguf_get_kv_type(g, k);
    out->key = gguf_get_key(g, k);
    out->type = (llamac_gguf_type)t;
    out->elem_type = out->type;
    out->n = 1;
    if (t == GGUF_TYPE_ARRAY) {
        out->elem_type = (llamac_gguf_type)gguf_get_arr_type(g, k);
        out->n = gguf_get_arr_n(g, k);
    } else if (t == GGUF_TYPE_STRING) {
        out->str_value = gguf_get_val_str(g, k);
        out->str_len = strlen(out->str_value);
    } else {
        scalar_from(out, t, gguf_get_val_data(g, k));
    }
    return llamac__ok();
}

llamac_status llamac_gguf_arr_at(const llamac_gguf *gguf, size_t i, uint64_t j, llamac_gguf_kv *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!gguf || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_arr_at: %s is NULL", gguf ? "out" : "gguf");
    }
    const struct gguf_context *g = gguf->shards[0].g;
    size_t n = (size_t)gguf_get_n_kv(g);
    if (i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "metadata index %zu out of range (%zu entries)", i, n);
    }
    int64_t k = (int64_t)i;
    if (gguf_get_kv_type(g, k) != GGUF_TYPE_ARRAY) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "metadata entry %zu ('%s') is not an array", i,
                            gguf_get_key(g, k));
    }
    size_t len = gguf_get_arr_n(g, k);
    if (j >= len) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "element %llu out of range: '%s' has %zu elements",
                            (unsigned long long)j, gguf_get_key(g, k), len);
    }
    enum gguf_type t = gguf_get_arr_type(g, k);
    out->key = gguf_get_key(g, k);
    out->type = (llamac_gguf_type)t;
    out->elem_type = out->type;
    out->n = 1;
    if (t == GGUF_TYPE_STRING) {
        out->str_value = gguf_get_arr_str(g, k, (size_t)j);
        out->str_len = strlen(out->str_value);
    } else {
        const unsigned char *data = gguf_get_arr_data(g, k);
        scalar_from(out, t, data + elem_size(t) * (size_t)j);
    }
    return llamac__ok();
}

llamac_status llamac_gguf_find_key(const llamac_gguf *gguf, const char *key, size_t *index) {
    if (index) {
        *index = 0;
    }
    if (!gguf || !key || !index) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_find_key: gguf, key and index must not be NULL");
    }
    int64_t k = gguf_find_key(gguf->shards[0].g, key);
    if (k < 0) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "the file has no metadata key '%s'", key);
    }
    *index = (size_t)k;
    return llamac__ok();
}

size_t llamac_gguf_tensor_count(const llamac_gguf *gguf) {
    return gguf ? gguf->n_tensors : 0;
}

uint64_t llamac__gguf_tensor_file_offset(const llamac_gguf *g, size_t i) {
    const struct gguf_context *sg = g->shards[g->tensors[i].shard].g;
    return (uint64_t)gguf_get_data_offset(sg) + (uint64_t)gguf_get_tensor_offset(sg, g->tensors[i].idx);
}

llamac_status llamac_gguf_tensor_at(const llamac_gguf *gguf, size_t i, llamac_gguf_tensor *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!gguf || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_tensor_at: %s is NULL", gguf ? "out" : "gguf");
    }
    if (i >= gguf->n_tensors) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "tensor index %zu out of range (%zu tensors)", i,
                            gguf->n_tensors);
    }
    const struct gguf_context *g = gguf->shards[gguf->tensors[i].shard].g;
    int64_t idx = gguf->tensors[i].idx;
    enum ggml_type t = gguf_get_tensor_type(g, idx);
    const int64_t *ne = gguf_get_tensor_ne(g, idx);
    out->name = gguf_get_tensor_name(g, idx);
    out->type = (int32_t)t;
    out->type_name = ggml_type_name(t);
    out->n_dims = 1;
    for (uint32_t d = 0; d < 4; d++) {
        out->ne[d] = ne[d];
        if (ne[d] > 1) {
            out->n_dims = d + 1;
        }
    }
    out->n_elements = elements(ne);
    out->size = gguf_get_tensor_size(g, idx);
    out->offset = llamac__gguf_tensor_file_offset(gguf, i);
    out->shard = gguf->tensors[i].shard;
    return llamac__ok();
}
