/*
 * synth_write.c - generating a synthetic file's tensors into it: the seeded generator, the tensor list, the writer.
 *
 * Each tensor draws from its own generator, seeded from the seed and the tensor's name, which makes the bytes a
 * function of the parameters alone and lets a smaller file share tensors with a larger one. Values are generated in
 * small chunks straight into the file, so a 1 GB model never sits in memory. A temporary file beside the target is
 * renamed into place only when everything was written.
 */
#include "core/outfile.h"
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
    t->scale = 1.0f;
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

static llamac_status pad_to(struct llamac__outfile *o, uint64_t *written, uint64_t target) {
    llamac_status st = llamac__out_zeros(o, (size_t)(target - *written));
    *written = target;
    return st;
}

/* Values `first` .. `first + n - 1` of tensor `t` (flat indices). */
static void fill_values(float *vals, size_t n, int64_t first, const struct llamac__synth_tensor *t,
                        const struct llamac__synth_copy *copy, struct rng *r, double std) {
    for (size_t i = 0; i < n; i++) {
        switch (t->fill) {
        case LLAMAC__FILL_RANDOM: vals[i] = rng_normal(r, std * t->scale); break;
        case LLAMAC__FILL_ONES: vals[i] = 1.0f; break;
        case LLAMAC__FILL_ZEROS: vals[i] = 0.0f; break;
        default:
            assert(copy);
            vals[i] =
                copy ? llamac__synth_copy_value(copy, t->fill, t->ne, first + (int64_t)i, rng_normal(r, 1.0)) : 0.0f;
            break;
        }
    }
}

/* Generates one tensor's values in chunks and writes them in its type. */
static llamac_status write_tensor(struct llamac__outfile *o, const struct llamac__synth_tensor *t,
                                  const struct llamac__synth_copy *copy, uint64_t seed, double std, uint64_t *written) {
    float vals[CHUNK];
    ggml_fp16_t half[CHUNK];
    struct rng r;
    rng_seed(&r, seed, t->name);
    const int64_t n = t->ne[0] * t->ne[1] * t->ne[2] * t->ne[3];
    for (int64_t done = 0; done < n;) {
        size_t k = n - done < CHUNK ? (size_t)(n - done) : CHUNK;
        fill_values(vals, k, done, t, copy, &r, std);
        const void *src = vals;
        size_t bytes = k * sizeof(float);
        if (t->type == GGML_TYPE_F16) {
            ggml_fp32_to_fp16_row(vals, half, (int64_t)k);
            src = half;
            bytes = k * sizeof(ggml_fp16_t);
        }
        llamac_status st = llamac__out_write(o, src, bytes);
        if (st != LLAMAC_OK) {
            return st;
        }
        *written += bytes;
        done += (int64_t)k;
    }
    return LLAMAC_OK;
}

/* The header (metadata and tensor descriptions, padded), then each tensor at the offset gguf assigned it, each
 * padded to the alignment as gguf's own writer does. */
static llamac_status write_all(struct llamac__outfile *o, const struct gguf_context *g, const void *meta,
                               size_t meta_size, const struct llamac__synth_list *l, uint64_t seed, double std) {
    llamac_status st = llamac__out_write(o, meta, meta_size);
    uint64_t written = meta_size;
    for (size_t i = 0; st == LLAMAC_OK && i < l->n; i++) {
        uint64_t at = meta_size + gguf_get_tensor_offset(g, (int64_t)i);
        if ((st = pad_to(o, &written, at)) == LLAMAC_OK) {
            st = write_tensor(o, &l->items[i], l->copy, seed, std, &written);
        }
    }
    uint64_t align = gguf_get_alignment(g);
    return st == LLAMAC_OK ? pad_to(o, &written, (written + align - 1) / align * align) : st;
}

/* Writes through core/outfile.c: beside `path`, renamed into place when complete; on any failure nothing is left. */
llamac_status llamac__synth_write_file(const char *path, const struct gguf_context *g,
                                       const struct llamac__synth_list *l, uint64_t seed, double std) {
    size_t meta_size = gguf_get_meta_size(g);
    void *meta = llamac__malloc(meta_size);
    struct llamac__outfile o = LLAMAC__OUTFILE_INIT;
    llamac_status st = LLAMAC_E_NO_MEMORY;
    if (!meta) {
        goto done;
    }
    gguf_get_meta_data(g, meta);
    if ((st = llamac__out_open(&o, path)) == LLAMAC_OK &&
        (st = write_all(&o, g, meta, meta_size, l, seed, std)) == LLAMAC_OK &&
        (st = llamac__out_finish(&o)) == LLAMAC_OK) {
        st = llamac__out_commit(&o);
    }
done:
    llamac__out_discard(&o);
    free(meta);
    return st;
}
