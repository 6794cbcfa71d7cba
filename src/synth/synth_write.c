/*
 * synth_write.c - generating a synthetic file's tensors into it: the seeded generator, the tensor list, the writer.
 *
 * Each tensor draws from its own generator, seeded from the seed and the tensor's name, which makes the bytes a
 * function of the parameters alone and lets a smaller file share tensors with a larger one. Values are generated in
 * small chunks straight into the file, so a 1 GB model never sits in memory. A temporary file beside the target is
 * renamed into place only when everything was written.
 */
#include "synth/synth_internal.h"

#include <assert.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the seeded generator ---- */

/* xoshiro256** (Blackman and Vigna), seeded through splitmix64 as its authors recommend. */
struct rng {
    uint64_t s[4];
};

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static uint64_t rotl(uint64_t x, int k) {
    return (x << k) | (x >> (64 - k));
}

static uint64_t rng_next(struct rng *r) {
    uint64_t *s = r->s;
    const uint64_t result = rotl(s[1] * 5, 7) * 9;
    const uint64_t t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 45);
    return result;
}

/* One stream per tensor: the seed mixed with an FNV-1a hash of the name. */
static void rng_seed(struct rng *r, uint64_t seed, const char *name) {
    uint64_t h = 14695981039346656037ull;
    for (const unsigned char *c = (const unsigned char *)name; *c; c++) {
        h = (h ^ *c) * 1099511628211ull;
    }
    uint64_t x = seed ^ h;
    for (int i = 0; i < 4; i++) {
        r->s[i] = splitmix64(&x);
    }
}

/* Approximately normal with standard deviation `std`: four uniform 16-bit draws from one 64-bit output, summed
 * (mean 2, variance 1/3 once scaled to (0, 1)), centred and scaled by sqrt(3). Only exact integer steps and one
 * rounding per operation, so every IEEE-754 machine computes the same values. */
static float rng_normal(struct rng *r, double std) {
    uint64_t v = rng_next(r);
    uint32_t sum =
        (uint32_t)(v & 0xffff) + (uint32_t)((v >> 16) & 0xffff) + (uint32_t)((v >> 32) & 0xffff) + (uint32_t)(v >> 48);
    double centred = ((double)sum + 2.0) / 65536.0 - 2.0;
    return (float)(centred * 1.7320508075688772 * std);
}

/* ---- the tensor list ---- */

void llamac__synth_addv(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, const int64_t ne[4],
                        const char *fmt, va_list ap) {
    assert(l->n < l->cap);
    if (l->n >= l->cap) {
        return;
    }
    struct llamac__synth_tensor *t = &l->items[l->n++];
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    memcpy(t->ne, ne, sizeof t->ne);
    t->type = type;
    t->fill = fill;
}

void llamac__synth_add(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, int64_t ne0,
                       int64_t ne1, const char *fmt, ...) {
    const int64_t ne[4] = { ne0, ne1, 1, 1 };
    va_list ap;
    va_start(ap, fmt);
    llamac__synth_addv(l, fill, ne1 > 1 ? type : GGML_TYPE_F32, ne, fmt, ap);
    va_end(ap);
}

llamac_status llamac__synth_register(struct gguf_context *g, const struct llamac__synth_list *l) {
    struct ggml_init_params ip = { .mem_size = (l->n + 1) * ggml_tensor_overhead(),
                                   .mem_buffer = NULL,
                                   .no_alloc = true };
    struct ggml_context *ctx = ggml_init(ip);
    if (!ctx) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory describing %zu tensors", l->n);
    }
    for (size_t i = 0; i < l->n; i++) {
        const struct llamac__synth_tensor *t = &l->items[i];
        struct ggml_tensor *gt = ggml_new_tensor_4d(ctx, t->type, t->ne[0], t->ne[1], t->ne[2], t->ne[3]);
        ggml_set_name(gt, t->name);
        gguf_add_tensor(g, gt); /* copies the description */
    }
    ggml_free(ctx);
    return LLAMAC_OK;
}

/* ---- writing ---- */

#define CHUNK 4096

static bool pad_to(FILE *f, uint64_t *written, uint64_t target) {
    static const char zeros[256];
    while (*written < target) {
        size_t k = target - *written < sizeof zeros ? (size_t)(target - *written) : sizeof zeros;
        if (fwrite(zeros, 1, k, f) != k) {
            return false;
        }
        *written += k;
    }
    return true;
}

static void fill_values(float *vals, size_t n, enum llamac__fill fill, struct rng *r, double std) {
    for (size_t i = 0; i < n; i++) {
        vals[i] = fill == LLAMAC__FILL_RANDOM ? rng_normal(r, std) : fill == LLAMAC__FILL_ONES ? 1.0f : 0.0f;
    }
}

/* Generates one tensor's values in chunks and writes them in its type. */
static bool write_tensor(FILE *f, const struct llamac__synth_tensor *t, uint64_t seed, double std, uint64_t *written) {
    float vals[CHUNK];
    ggml_fp16_t half[CHUNK];
    struct rng r;
    rng_seed(&r, seed, t->name);
    const int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    for (int64_t done = 0; done < n;) {
        size_t k = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        fill_values(vals, k, t->fill, &r, std);
        const void *src = vals;
        size_t bytes = k * sizeof(float);
        if (t->type == GGML_TYPE_F16) {
            ggml_fp32_to_fp16_row(vals, half, (int64_t)k);
            src = half;
            bytes = k * sizeof(ggml_fp16_t);
        }
        if (fwrite(src, 1, bytes, f) != bytes) {
            return false;
        }
        *written += bytes;
        done += (int64_t)k;
    }
    return true;
}

/* The header (metadata and tensor descriptions, padded), then each tensor at the offset gguf assigned it, each
 * padded to the alignment as gguf's own writer does. */
static bool write_all(FILE *f, const struct gguf_context *g, const void *meta, size_t meta_size,
                      const struct llamac__synth_list *l, uint64_t seed, double std) {
    if (fwrite(meta, 1, meta_size, f) != meta_size) {
        return false;
    }
    uint64_t written = meta_size;
    for (size_t i = 0; i < l->n; i++) {
        uint64_t at = meta_size + gguf_get_tensor_offset(g, (int64_t)i);
        if (!pad_to(f, &written, at) || !write_tensor(f, &l->items[i], seed, std, &written)) {
            return false;
        }
    }
    uint64_t align = gguf_get_alignment(g);
    return pad_to(f, &written, (written + align - 1) / align * align);
}

/* Writes into "<path>.tmp.XXXXXX" and renames it to `path`; on any failure the temporary file is removed. */
llamac_status llamac__synth_write_file(const char *path, const char *what, const struct gguf_context *g,
                                       const struct llamac__synth_list *l, uint64_t seed, double std) {
    size_t meta_size = gguf_get_meta_size(g);
    size_t plen = strlen(path);
    void *meta = llamac__malloc(meta_size);
    char *tmp = meta ? llamac__malloc(plen + 16) : NULL;
    llamac_status st = LLAMAC_E_NO_MEMORY;
    if (!tmp) {
        goto done;
    }
    gguf_get_meta_data(g, meta);
    snprintf(tmp, plen + 16, "%s.tmp.XXXXXX", path);
    int fd = mkstemp(tmp);
    if (fd < 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot create a temporary file beside '%s': %s", path, strerror(errno));
        goto done;
    }
    (void)fchmod(fd, S_IRUSR | S_IWUSR | S_IRGRP | S_IROTH); /* mkstemp makes 0600; a model is shared 0644 */
    FILE *f = fdopen(fd, "wb");
    if (!f) {
        int err = errno;
        close(fd);
        unlink(tmp);
        st = llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", tmp, strerror(err));
        goto done;
    }
    errno = 0;
    bool ok = write_all(f, g, meta, meta_size, l, seed, std);
    int err = errno;
    ok = fflush(f) == 0 && ok;
    ok = fsync(fileno(f)) == 0 && ok;
    ok = fclose(f) == 0 && ok;
    if (!ok) {
        unlink(tmp);
        st = llamac__fail(LLAMAC_E_IO, "cannot write the %s to '%s': %s", what, path, strerror(err ? err : EIO));
        goto done;
    }
    if (rename(tmp, path) != 0) {
        err = errno;
        unlink(tmp);
        st = llamac__fail(LLAMAC_E_IO, "cannot move the %s into '%s': %s", what, path, strerror(err));
        goto done;
    }
    st = LLAMAC_OK;
done:
    free(tmp);
    free(meta);
    return st;
}
