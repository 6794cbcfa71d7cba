/*
 * split.c - splitting a model into shards and merging shards back, compatible with llama-gguf-split.
 *
 * The output must be byte-for-byte what llama-gguf-split writes, so the metadata is built with the same gguf.h
 * calls in the same order (gguf_set_* moves a key it sets to the end, so order matters), and tensor data is laid
 * out as it does: each tensor padded with zeros to GGUF's default 32-byte alignment. What differs is how: inputs are
 * checked before anything is written (names, shard numbers, duplicate tensors, alignment), every shard goes to a
 * temporary file, and the shards are renamed into place only when all of them are complete.
 */
#include "gguf/gguf_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define SPLIT_NO "split.no"
#define SPLIT_COUNT "split.count"
#define SPLIT_TENSORS "split.tensors.count"
#define ALIGN GGUF_DEFAULT_ALIGNMENT
#define COPY_CHUNK ((size_t)16 << 20)

llamac_split_params llamac_split_params_default(void) {
    llamac_split_params p;
    memset(&p, 0, sizeof p);
    p.max_tensors = 128;
    return p;
}

llamac_status llamac_split_path(const char *prefix, uint32_t i, uint32_t n, char **out) {
    if (out) {
        *out = NULL;
    }
    if (!prefix || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_split_path: %s is NULL", prefix ? "out" : "prefix");
    }
    if (n == 0 || n > 99999 || i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "shard %u of %u is out of range (1 to 99999 shards)", i + 1, n);
    }
    size_t cap = strlen(prefix) + 32;
    char *buf = llamac__malloc(cap);
    if (!buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    llama_split_path(buf, cap, prefix, (int)i, (int)n);
    *out = buf;
    return llamac__ok();
}

static uint64_t pad(uint64_t n) {
    return (n + ALIGN - 1) / ALIGN * ALIGN;
}

/* A copy of `prefix` without a trailing ".gguf". */
static char *strip_gguf(const char *prefix) {
    size_t n = strlen(prefix);
    if (n > 5 && strcmp(prefix + n - 5, ".gguf") == 0) {
        n -= 5;
    }
    return llamac__strndup(prefix, n);
}

/* llama-gguf-split writes 32-byte alignment whatever general.alignment says; refuse what it would write wrongly. */
static llamac_status check_alignment(const llamac_gguf *g) {
    for (uint32_t s = 0; s < g->n_shards; s++) {
        size_t a = gguf_get_alignment(g->shards[s].g);
        if (a != ALIGN) {
            return llamac__fail(LLAMAC_E_MODEL_LOAD,
                                "'%s' aligns its tensor data to %zu bytes; llama-gguf-split's format has %d-byte "
                                "alignment only",
                                g->shards[s].path, a, ALIGN);
        }
    }
    return LLAMAC_OK;
}

static struct ggml_tensor *tensor_desc(const llamac_gguf *g, size_t i) {
    const struct llamac__shard *s = &g->shards[g->tensors[i].shard];
    return ggml_get_tensor(s->meta, gguf_get_tensor_name(s->g, g->tensors[i].idx));
}

/* Copies the model's tensors and their data: shared by split and merge. */
struct copier {
    const llamac_gguf *in;
    int *fds; /* one per input shard */
    unsigned char *buf;
    uint64_t done, total;
    llamac_progress_fn progress;
    void *user_data;
};

static llamac_status copier_open(struct copier *c, const llamac_gguf *in, llamac_progress_fn progress, void *ud) {
    memset(c, 0, sizeof *c);
    c->in = in;
    c->progress = progress;
    c->user_data = ud;
    c->total = in->info.tensor_bytes;
    c->fds = llamac__calloc(in->n_shards, sizeof *c->fds);
    c->buf = llamac__malloc(COPY_CHUNK);
    if (!c->fds || !c->buf) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (uint32_t s = 0; s < in->n_shards; s++) {
        c->fds[s] = -1;
    }
    for (uint32_t s = 0; s < in->n_shards; s++) {
        c->fds[s] = open(in->shards[s].path, O_RDONLY | O_CLOEXEC);
        if (c->fds[s] < 0) {
            return llamac__fail(LLAMAC_E_IO, "cannot open '%s': %s", in->shards[s].path, strerror(errno));
        }
    }
    return LLAMAC_OK;
}

static void copier_close(struct copier *c) {
    for (uint32_t s = 0; c->fds && s < c->in->n_shards; s++) {
        if (c->fds[s] >= 0) {
            close(c->fds[s]);
        }
    }
    free(c->fds);
    free(c->buf);
}

/* Writes tensor i's data (and its padding) to `out`. */
static llamac_status copy_tensor(struct copier *c, size_t i, struct llamac__outfile *out) {
    const llamac_gguf *in = c->in;
    uint32_t shard = in->tensors[i].shard;
    uint64_t off = llamac__gguf_tensor_file_offset(in, i);
    size_t n = gguf_get_tensor_size(in->shards[shard].g, in->tensors[i].idx);
    for (size_t done = 0; done < n;) {
        size_t k = n - done < COPY_CHUNK ? n - done : COPY_CHUNK;
        if (!llamac__pread_full(c->fds[shard], c->buf, k, off + done)) {
            return llamac__fail(LLAMAC_E_IO, "cannot read tensor '%s' from '%s': %s",
                                gguf_get_tensor_name(in->shards[shard].g, in->tensors[i].idx), in->shards[shard].path,
                                strerror(errno));
        }
        llamac_status st = llamac__out_write(out, c->buf, k);
        if (st != LLAMAC_OK) {
            return st;
        }
        done += k;
        c->done += k;
        if (c->progress && !c->progress(c->total ? (float)((double)c->done / (double)c->total) : 1.0f, c->user_data)) {
            return llamac__fail(LLAMAC_E_CANCELLED, "cancelled by the progress callback; nothing was written");
        }
    }
    return llamac__out_zeros(out, (size_t)(pad(n) - n));
}

/* Writes the metadata of `ctx` (which describes the tensors that follow). */
static llamac_status write_meta(const struct gguf_context *ctx, struct llamac__outfile *out) {
    size_t n = gguf_get_meta_size(ctx);
    void *meta = llamac__malloc(n);
    if (!meta) {
        return LLAMAC_E_NO_MEMORY;
    }
    gguf_get_meta_data(ctx, meta);
    llamac_status st = llamac__out_write(out, meta, n);
    free(meta);
    return st;
}

/* The input paths, for the never-overwrite-an-input check. */
static const char **input_paths(const llamac_gguf *g) {
    const char **paths = llamac__calloc(g->n_shards, sizeof *paths);
    for (uint32_t s = 0; paths && s < g->n_shards; s++) {
        paths[s] = g->shards[s].path;
    }
    return paths;
}

/* One shard being planned: its metadata context and the range [first, last) of input tensors it holds. */
struct plan_shard {
    struct gguf_context *ctx;
    size_t first, last;
};

static struct gguf_context *new_shard_ctx(const llamac_gguf *in, size_t index) {
    struct gguf_context *ctx = gguf_init_empty();
    if (!ctx) {
        return NULL;
    }
    if (index == 0) {
        gguf_set_kv(ctx, in->shards[0].g); /* all metadata goes into the first shard */
    }
    gguf_set_val_u16(ctx, SPLIT_NO, (uint16_t)index);
    gguf_set_val_u16(ctx, SPLIT_COUNT, 0); /* set below, once the count is known */
    gguf_set_val_i32(ctx, SPLIT_TENSORS, (int32_t)in->n_tensors);
    return ctx;
}

static llamac_status check_split_params(const llamac_split_params *p) {
    if (p->max_bytes == 0 && p->max_tensors < 1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_tensors %d must be at least 1 (or give max_bytes)",
                            p->max_tensors);
    }
    return LLAMAC_OK;
}

llamac_status llamac_gguf_split(const char *in, const char *out_prefix, const llamac_split_params *params,
                                uint32_t *n_shards) {
    if (n_shards) {
        *n_shards = 0;
    }
    if (!in || !out_prefix) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_split: %s is NULL", in ? "out_prefix" : "in");
    }
    llamac_split_params defaults = llamac_split_params_default();
    const llamac_split_params *p = params ? params : &defaults;
    llamac_status st = check_split_params(p);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_gguf *g = NULL;
    char *prefix = NULL;
    const char **inputs = NULL;
    struct plan_shard *plan = NULL;
    size_t n_plan = 0;
    struct llamac__outfile *outs = NULL;
    struct copier copier;
    memset(&copier, 0, sizeof copier);
    st = llamac__gguf_open(in, "model", &g);
    if (st != LLAMAC_OK) {
        goto done;
    }
    st = check_alignment(g);
    if (st != LLAMAC_OK) {
        goto done;
    }
    if (g->n_tensors > INT32_MAX) {
        st = llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' has %zu tensors, more than a split model can count", in,
                          g->n_tensors);
        goto done;
    }
    prefix = strip_gguf(out_prefix);
    inputs = input_paths(g);
    plan = llamac__calloc(g->n_tensors + 1, sizeof *plan);
    if (!prefix || !inputs || !plan) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }

    /* The plan, as llama-gguf-split makes it: a new shard when the next tensor would pass max_bytes (counting only
     * padded tensor data) or every max_tensors tensors. */
    uint64_t current = 0;
    plan[0].ctx = new_shard_ctx(g, 0);
    n_plan = 1;
    for (size_t i = 0; i < g->n_tensors; i++) {
        struct ggml_tensor *t = tensor_desc(g, i);
        uint64_t bytes = pad(ggml_nbytes(t));
        bool new_shard = p->max_bytes > 0 ? current + bytes > p->max_bytes && i > plan[n_plan - 1].first
                                          : i > 0 && i % (size_t)p->max_tensors == 0;
        if (new_shard) {
            plan[n_plan - 1].last = i;
            plan[n_plan].ctx = new_shard_ctx(g, n_plan);
            plan[n_plan].first = i;
            n_plan++;
            current = bytes;
        } else {
            current += bytes;
        }
        if (!plan[n_plan - 1].ctx) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory planning the shards");
            goto done;
        }
        gguf_add_tensor(plan[n_plan - 1].ctx, t);
    }
    if (!plan[n_plan - 1].ctx) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory planning the shards");
        goto done;
    }
    plan[n_plan - 1].last = g->n_tensors;
    if (n_plan > UINT16_MAX) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "these limits make %zu shards; a split model has at most %u",
                          n_plan, UINT16_MAX);
        goto done;
    }
    for (size_t s = 0; s < n_plan; s++) {
        gguf_set_val_u16(plan[s].ctx, SPLIT_COUNT, (uint16_t)n_plan);
    }

    outs = llamac__calloc(n_plan, sizeof *outs);
    if (!outs) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    for (size_t s = 0; s < n_plan; s++) {
        outs[s] = (struct llamac__outfile)LLAMAC__OUTFILE_INIT;
    }
    for (size_t s = 0; s < n_plan && st == LLAMAC_OK; s++) {
        char *path = NULL;
        st = llamac_split_path(prefix, (uint32_t)s, (uint32_t)n_plan, &path);
        if (st == LLAMAC_OK) {
            st = llamac__output_check(path, inputs, g->n_shards);
        }
        if (st == LLAMAC_OK) {
            st = llamac__out_open(&outs[s], path);
        }
        free(path);
    }
    if (st == LLAMAC_OK) {
        st = copier_open(&copier, g, p->progress, p->progress_user_data);
    }
    for (size_t s = 0; s < n_plan && st == LLAMAC_OK; s++) {
        st = write_meta(plan[s].ctx, &outs[s]);
        for (size_t i = plan[s].first; i < plan[s].last && st == LLAMAC_OK; i++) {
            st = copy_tensor(&copier, i, &outs[s]);
        }
        if (st == LLAMAC_OK) {
            st = llamac__out_finish(&outs[s]);
        }
    }
    for (size_t s = 0; s < n_plan && st == LLAMAC_OK; s++) {
        st = llamac__out_commit(&outs[s]);
    }
    if (st == LLAMAC_OK && n_shards) {
        *n_shards = (uint32_t)n_plan;
    }
done:
    copier_close(&copier);
    for (size_t s = 0; outs && s < n_plan; s++) {
        llamac__out_discard(&outs[s]);
    }
    for (size_t s = 0; plan && s < n_plan; s++) {
        gguf_free(plan[s].ctx);
    }
    free(outs);
    free(plan);
    free(inputs);
    free(prefix);
    llamac_gguf_free(g);
    return st == LLAMAC_OK ? llamac__ok() : st;
}

llamac_status llamac_gguf_merge(const char *first_shard, const char *out, llamac_progress_fn progress,
                                void *user_data) {
    if (!first_shard || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_gguf_merge: %s is NULL",
                            first_shard ? "out" : "first_shard");
    }
    llamac_gguf *g = NULL;
    const char **inputs = NULL;
    struct gguf_context *first_kv = NULL, *ctx = NULL;
    struct llamac__outfile o = LLAMAC__OUTFILE_INIT;
    struct copier copier;
    memset(&copier, 0, sizeof copier);
    llamac_status st = llamac__gguf_open(first_shard, "shard", &g);
    if (st != LLAMAC_OK) {
        goto done;
    }
    const struct gguf_context *g0 = g->shards[0].g;
    int64_t k = gguf_find_key(g0, SPLIT_COUNT);
    if (k < 0) {
        st = llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' is not a shard of a split model (it has no %s)", first_shard,
                          SPLIT_COUNT);
        goto done;
    }
    if (g->info.split_no != 0) {
        st = llamac__fail(LLAMAC_E_MODEL_LOAD, "'%s' is shard %u of a split model; merge from the first shard",
                          first_shard, g->info.split_no + 1);
        goto done;
    }
    if (g->n_shards == 1) {
        /* split.count 1 (or 0): llama-gguf-split still requires the shard name */
        char prefix[4096];
        if (llama_split_prefix(prefix, sizeof prefix, first_shard, 0, 1) <= 0) {
            st = llamac__fail(LLAMAC_E_MODEL_LOAD,
                              "'%s' is a one-shard split model, but its name does not end in "
                              "\"-00001-of-00001.gguf\"",
                              first_shard);
            goto done;
        }
    }
    st = check_alignment(g);
    if (st != LLAMAC_OK) {
        goto done;
    }
    inputs = input_paths(g);
    first_kv = gguf_init_empty();
    ctx = gguf_init_empty();
    if (!inputs || !first_kv || !ctx) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    /* The first shard's metadata with split.count 0, so that the merged file is not taken for a shard. */
    gguf_set_kv(first_kv, g0);
    gguf_set_val_u16(first_kv, SPLIT_COUNT, 0);
    gguf_set_kv(ctx, first_kv);
    for (size_t i = 0; i < g->n_tensors; i++) {
        gguf_add_tensor(ctx, tensor_desc(g, i));
    }
    st = llamac__output_check(out, inputs, g->n_shards);
    if (st == LLAMAC_OK) {
        st = llamac__out_open(&o, out);
    }
    if (st == LLAMAC_OK) {
        st = copier_open(&copier, g, progress, user_data);
    }
    if (st == LLAMAC_OK) {
        st = write_meta(ctx, &o);
    }
    for (size_t i = 0; i < g->n_tensors && st == LLAMAC_OK; i++) {
        st = copy_tensor(&copier, i, &o);
    }
    if (st == LLAMAC_OK) {
        st = llamac__out_finish(&o);
    }
    if (st == LLAMAC_OK) {
        st = llamac__out_commit(&o);
    }
done:
    copier_close(&copier);
    llamac__out_discard(&o);
    gguf_free(first_kv);
    gguf_free(ctx);
    free(inputs);
    llamac_gguf_free(g);
    return st == LLAMAC_OK ? llamac__ok() : st;
}
