/*
 * gguf_internal.h - what the GGUF modules (reading, quantizing, splitting) share.
 *
 * An llamac_gguf holds llama.cpp's own gguf_context for each file of a model (the first shard and the rest), plus
 * a flat table of all tensors. The split and merge writers reach into it for the gguf_contexts and the ggml tensor
 * descriptions that gguf.h's writer needs.
 */
#ifndef LLAMAC_GGUF_INTERNAL_H
#define LLAMAC_GGUF_INTERNAL_H

#include "core/internal.h"
#include "core/outfile.h"

#include <ggml.h>
#include <gguf.h>

struct llamac__shard {
    char *path;                /* NULL for a handle opened from memory */
    struct gguf_context *g;    /* llama.cpp's reading of the metadata */
    struct ggml_context *meta; /* tensor descriptions (no data) */
    uint64_t file_size;
};

struct llamac__tensor_ref {
    uint32_t shard;
    int64_t idx; /* in the shard's gguf_context */
};

struct llamac_gguf {
    uint32_t n_shards;
    struct llamac__shard *shards;
    size_t n_tensors;
    struct llamac__tensor_ref *tensors;
    llamac_gguf_info info;
};

/* ---- walk.c ---- */

enum llamac__walk_result {
    LLAMAC__WALK_OK = 0,
    LLAMAC__WALK_MALFORMED = 1, /* a field is wrong: err says which, at which offset */
    LLAMAC__WALK_NOT_GGUF = 2,  /* no GGUF magic */
    LLAMAC__WALK_IO = 3,        /* the file could not be read */
    LLAMAC__WALK_NO_MEMORY = 4
};

/* Checks the structure of a whole GGUF image, either `mem` (size bytes) or the open file `fd` (size bytes), the
 * way gguf_init_from_file reads it, plus that every tensor's data lies inside it. On the first problem says what
 * kind it is, with "FIELD at offset N: PROBLEM" in err. */
enum llamac__walk_result llamac__gguf_walk(const unsigned char *mem, int fd, uint64_t size, char *err, size_t err_cap);

/* ---- gguf.c ---- */

/* llamac_gguf_open for the GGUF modules: `what` names the file in messages ("model", "importance matrix"). */
llamac_status llamac__gguf_open(const char *path, const char *what, llamac_gguf **out);

/* The absolute offset of a tensor's data in its shard's file, and its byte size. */
uint64_t llamac__gguf_tensor_file_offset(const llamac_gguf *g, size_t i);

/* Reads `n` bytes at `offset` of an open file; false (errno set) on an error or a short file. */
bool llamac__pread_full(int fd, void *buf, size_t n, uint64_t offset);

/* ---- imatrix.c ---- */

struct llamac__imatrix_entry {
    char *name;    /* the weight's name, e.g. "blk.0.attn_q.weight" */
    float *values; /* mean squared activation per input column (per expert, for expert tensors) */
    size_t size;
};

struct llamac__imatrix {
    struct llamac__imatrix_entry *entries;
    size_t n, cap;
    char *dataset;       /* the first dataset named in the file, or NULL */
    int32_t chunk_count; /* chunks it was computed on (0 when unknown) */
};

/* Reads an importance matrix in llama-imatrix's GGUF or legacy format, as llama-quantize does, and checks that
 * every value is finite. */
llamac_status llamac__imatrix_load(const char *path, struct llamac__imatrix *out);
void llamac__imatrix_free(struct llamac__imatrix *m);

#endif /* LLAMAC_GGUF_INTERNAL_H */
