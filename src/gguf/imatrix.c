/*
 * imatrix.c - reading importance matrices, as llama-quantize reads them, for llamac_quantize.
 *
 * An importance matrix (from llama-imatrix) weighs each input column of each weight matrix by how much it matters
 * on real text; the low-bit quantizers use it. Two formats exist: GGUF (tensors NAME.in_sum2 and NAME.counts, plus
 * imatrix.* metadata) and the legacy .dat (a packed list of names and floats). Both are turned into the same mean
 * values llama-quantize computes (sums divided by counts, per expert), with the same float arithmetic, so a
 * quantization with an importance matrix is byte-identical to llama-quantize's. Unlike llama-quantize, which can
 * read past a bad .dat file's data or divide by a zero count, every length and count is checked first.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

void llamac__imatrix_free(struct llamac__imatrix *m) {
    for (size_t i = 0; i < m->n; i++) {
        free(m->entries[i].name);
        free(m->entries[i].values);
    }
    free(m->entries);
    free(m->dataset);
    memset(m, 0, sizeof *m);
}

/* Adds (or, for a name seen before, replaces: a later entry wins, as in llama-quantize's map) an entry. */
static struct llamac__imatrix_entry *entry_for(struct llamac__imatrix *m, const char *name, size_t len) {
    for (size_t i = 0; i < m->n; i++) {
        if (strlen(m->entries[i].name) == len && memcmp(m->entries[i].name, name, len) == 0) {
            free(m->entries[i].values);
            m->entries[i].values = NULL;
            m->entries[i].size = 0;
            return &m->entries[i];
        }
    }
    if (m->n == m->cap) {
        size_t cap = m->cap ? m->cap * 2 : 64;
        struct llamac__imatrix_entry *e = realloc(m->entries, cap * sizeof *e);
        if (!e) {
            llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading an importance matrix");
            return NULL;
        }
        m->entries = e;
        m->cap = cap;
    }
    struct llamac__imatrix_entry *e = &m->entries[m->n];
    memset(e, 0, sizeof *e);
    e->name = llamac__strndup(name, len);
    if (!e->name) {
        return NULL;
    }
    m->n++;
    return e;
}

/* ---- the legacy format: i32 n; n x { i32 len, name, i32 ncall, i32 nval, f32[nval] }; [i32 chunks, i32 len,
 * dataset] ---- */

struct cursor {
    const unsigned char *p;
    size_t size, pos;
};

static bool cur_i32(struct cursor *c, int32_t *v) {
    if (c->size - c->pos < 4) {
        return false;
    }
    memcpy(v, c->p + c->pos, 4);
    c->pos += 4;
    return true;
}

static llamac_status load_legacy(const char *path, const unsigned char *data, size_t size, struct llamac__imatrix *m) {
    struct cursor c = { data, size, 0 };
    int32_t n_entries = 0;
    if (!cur_i32(&c, &n_entries) || n_entries < 1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "importance matrix '%s' is neither GGUF nor a legacy .dat file with entries", path);
    }
    for (int32_t i = 0; i < n_entries; i++) {
        size_t at = c.pos;
        int32_t len = 0, ncall = 0, nval = 0;
        if (!cur_i32(&c, &len) || len < 0 || (size_t)len > c.size - c.pos) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "importance matrix '%s': entry %d at offset %zu: the name length runs past the end of "
                                "the file",
                                path, i, at);
        }
        const char *name = (const char *)c.p + c.pos;
        size_t name_len = strnlen(name, (size_t)len); /* llama-quantize keeps the name up to a NUL */
        c.pos += (size_t)len;
        if (!cur_i32(&c, &ncall) || !cur_i32(&c, &nval) || nval < 1) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "importance matrix '%s': entry %d ('%.*s') at offset %zu: no value count", path, i,
                                (int)name_len, name, at);
        }
        if ((size_t)nval > (c.size - c.pos) / 4) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "importance matrix '%s': entry %d ('%.*s'): %d values run past the end of the file",
                                path, i, (int)name_len, name, nval);
        }
        struct llamac__imatrix_entry *e = entry_for(m, name, name_len);
        float *values = e ? llamac__malloc((size_t)nval * sizeof *values) : NULL;
        if (!values) {
            return LLAMAC_E_NO_MEMORY;
        }
        memcpy(values, c.p + c.pos, (size_t)nval * 4);
        c.pos += (size_t)nval * 4;
        /* the file holds means times the call count; llama-quantize divides by it again (int64 to float) */
        int64_t calls = ncall;
        if (calls > 0) {
            for (int32_t j = 0; j < nval; j++) {
                values[j] = values[j] / (float)calls;
            }
        }
        e->values = values;
        e->size = (size_t)nval;
    }
    int32_t chunks = 0, len = 0;
    if (cur_i32(&c, &chunks)) {
        m->chunk_count = chunks;
        if (cur_i32(&c, &len) && len > 0 && (size_t)len <= c.size - c.pos) {
            const char *ds = (const char *)c.p + c.pos;
            m->dataset = llamac__strndup(ds, strnlen(ds, (size_t)len));
            if (!m->dataset) {
                return LLAMAC_E_NO_MEMORY;
            }
        }
    }
    return LLAMAC_OK;
}

/* ---- the GGUF format ---- */

static bool ends_with(const char *s, const char *suffix, size_t *stem) {
    size_t n = strlen(s), k = strlen(suffix);
    if (n <= k || strcmp(s + n - k, suffix) != 0) {
        return false;
    }
    *stem = n - k;
    return true;
}

/* Reads a whole F32 tensor's data into *out (caller frees). */
static llamac_status read_f32(const llamac_gguf *g, int fd, size_t i, float **out, size_t *n) {
    llamac_gguf_tensor t;
    llamac_gguf_tensor_at(g, i, &t);
    *n = (size_t)t.n_elements;
    *out = llamac__malloc(*n * sizeof **out);
    if (!*out) {
        return LLAMAC_E_NO_MEMORY;
    }
    if (!llamac__pread_full(fd, *out, *n * sizeof **out, t.offset)) {
        free(*out);
        *out = NULL;
        return llamac__fail(LLAMAC_E_IO, "cannot read tensor '%s' of the importance matrix: %s", t.name,
                            strerror(errno));
    }
    return LLAMAC_OK;
}

static llamac_status u32_key(const char *path, const llamac_gguf *g, const char *key, bool *present, int32_t *out) {
    int64_t k = gguf_find_key(g->shards[0].g, key);
    *present = k >= 0;
    if (k < 0) {
        return LLAMAC_OK;
    }
    if (gguf_get_kv_type(g->shards[0].g, k) != GGUF_TYPE_UINT32) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "importance matrix '%s': %s must be a u32", path, key);
    }
    uint32_t v = gguf_get_val_u32(g->shards[0].g, k);
    *out = v > INT32_MAX ? INT32_MAX : (int32_t)v;
    return LLAMAC_OK;
}

static llamac_status load_gguf(const char *path, struct llamac__imatrix *m) {
    llamac_gguf *g = NULL;
    llamac_status st = llamac__gguf_open(path, "importance matrix", &g);
    if (st != LLAMAC_OK) {
        return st;
    }
    int fd = -1;
    const struct gguf_context *ctx = g->shards[0].g;
    if (g->n_tensors == 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "importance matrix '%s' has no data", path);
        goto done;
    }
    int64_t ds = gguf_find_key(ctx, "imatrix.datasets");
    bool has_count = false, has_size = false;
    int32_t chunk_size = 0;
    st = u32_key(path, g, "imatrix.chunk_count", &has_count, &m->chunk_count);
    if (st == LLAMAC_OK) {
        st = u32_key(path, g, "imatrix.chunk_size", &has_size, &chunk_size);
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (ds < 0 || !has_count || !has_size) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                          "importance matrix '%s' lacks the imatrix.datasets, imatrix.chunk_count and "
                          "imatrix.chunk_size metadata that llama-imatrix writes",
                          path);
        goto done;
    }
    if (gguf_get_kv_type(ctx, ds) == GGUF_TYPE_ARRAY && gguf_get_arr_type(ctx, ds) == GGUF_TYPE_STRING &&
        gguf_get_arr_n(ctx, ds) > 0) {
        const char *first = gguf_get_arr_str(ctx, ds, 0);
        m->dataset = llamac__strndup(first, strlen(first));
        if (!m->dataset) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
    }
    /* Pair NAME.in_sum2 with NAME.counts. */
    fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot open importance matrix '%s': %s", path, strerror(errno));
        goto done;
    }
    for (size_t i = 0; i < g->n_tensors; i++) {
        llamac_gguf_tensor t;
        llamac_gguf_tensor_at(g, i, &t);
        size_t stem;
        if (!ends_with(t.name, ".in_sum2", &stem)) {
            continue;
        }
        size_t j = 0;
        for (; j < g->n_tensors; j++) {
            llamac_gguf_tensor u;
            llamac_gguf_tensor_at(g, j, &u);
            size_t ustem;
            if (ends_with(u.name, ".counts", &ustem) && ustem == stem && memcmp(u.name, t.name, stem) == 0) {
                break;
            }
        }
        if (j == g->n_tensors) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "importance matrix '%s': '%s' has no matching .counts", path,
                              t.name);
            goto done;
        }
        llamac_gguf_tensor u;
        llamac_gguf_tensor_at(g, j, &u);
        if (t.type != LLAMAC_TYPE_F32 || u.type != LLAMAC_TYPE_F32) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "importance matrix '%s': '%.*s' sums and counts must be F32",
                              path, (int)stem, t.name);
            goto done;
        }
        size_t nval = 0, ncounts = 0;
        float *sv = NULL, *cv = NULL;
        st = read_f32(g, fd, i, &sv, &nval);
        if (st == LLAMAC_OK) {
            st = read_f32(g, fd, j, &cv, &ncounts);
        }
        struct llamac__imatrix_entry *e = st == LLAMAC_OK ? entry_for(m, t.name, stem) : NULL;
        if (!e) {
            free(sv);
            free(cv);
            st = st == LLAMAC_OK ? LLAMAC_E_NO_MEMORY : st;
            goto done;
        }
        if (ncounts == 0 || nval % ncounts != 0) {
            free(sv);
            free(cv);
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                              "importance matrix '%s': '%.*s' has %zu sums for %zu counts (not a multiple)", path,
                              (int)stem, t.name, nval, ncounts);
            goto done;
        }
        /* mean per expert: sums / count, the count rounded to an integer first, as llama-quantize does */
        size_t ne0 = nval / ncounts;
        for (size_t x = 0; x < ncounts; x++) {
            float c = cv[x];
            float count = isfinite(c) && fabsf(c) < 9.0e18f ? (float)llroundf(c) : c;
            for (size_t y = 0; y < ne0; y++) {
                sv[x * ne0 + y] = count > 0.0f ? sv[x * ne0 + y] / count : 1.0f;
            }
        }
        free(cv);
        e->values = sv;
        e->size = nval;
    }
    if (m->n == 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "importance matrix '%s' has no NAME.in_sum2 tensors", path);
    }
done:
    if (fd >= 0) {
        close(fd);
    }
    llamac_gguf_free(g);
    return st;
}

llamac_status llamac__imatrix_load(const char *path, struct llamac__imatrix *m) {
    memset(m, 0, sizeof *m);
    FILE *f = fopen(path, "rb");
    if (!f) {
        return llamac__fail(LLAMAC_E_IO, "cannot open importance matrix '%s': %s", path, strerror(errno));
    }
    struct stat st_;
    if (fstat(fileno(f), &st_) != 0 || !S_ISREG(st_.st_mode)) {
        fclose(f);
        return llamac__fail(LLAMAC_E_IO, "cannot read importance matrix '%s': not a regular file", path);
    }
    unsigned char magic[4] = { 0 };
    size_t got = fread(magic, 1, 4, f);
    llamac_status st;
    if (got == 4 && memcmp(magic, "GGUF", 4) == 0) {
        fclose(f);
        st = load_gguf(path, m);
    } else {
        size_t size = (size_t)st_.st_size;
        unsigned char *data = llamac__malloc(size);
        st = data ? LLAMAC_OK : LLAMAC_E_NO_MEMORY;
        if (data && (fseek(f, 0, SEEK_SET) != 0 || fread(data, 1, size, f) != size)) {
            st = llamac__fail(LLAMAC_E_IO, "cannot read importance matrix '%s'", path);
        }
        fclose(f);
        if (st == LLAMAC_OK) {
            st = load_legacy(path, data, size, m);
        }
        free(data);
    }
    if (st != LLAMAC_OK) {
        llamac__imatrix_free(m);
        return st;
    }
    for (size_t i = 0; i < m->n; i++) {
        for (size_t j = 0; j < m->entries[i].size; j++) {
            if (!isfinite(m->entries[i].values[j])) {
                st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                  "importance matrix '%s': entry '%s' holds a value that is not finite (%g)", path,
                                  m->entries[i].name, (double)m->entries[i].values[j]);
                llamac__imatrix_free(m);
                return st;
            }
        }
    }
    return LLAMAC_OK;
}
