/*
 * media_guard.h - C entry points of media_guard.cpp, which calls libmtmd with its C++ exceptions caught.
 *
 * libmtmd's C functions are C++ underneath: some catch their own exceptions, others (bitmap creation, the helpers
 * that decode files and decode image chunks) let std::bad_alloc and friends escape, which would terminate a C
 * caller. Every call that allocates goes through one of these wrappers instead; a failure comes back as a code with
 * the exception's text. Kept apart from media_internal.h so that the C++ file sees no C11 atomics.
 */
#ifndef LLAMAC_MEDIA_GUARD_H
#define LLAMAC_MEDIA_GUARD_H

#include <mtmd-helper.h>
#include <mtmd.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* What went wrong in a guarded call. */
enum llamac__guard_kind {
    LLAMAC__GUARD_OK = 0,
    LLAMAC__GUARD_FAILED = 1,    /* libmtmd returned an error (its reason is in its log) */
    LLAMAC__GUARD_NO_MEMORY = 2, /* std::bad_alloc (or std::length_error from a size it could not hold) */
    LLAMAC__GUARD_EXCEPTION = 3  /* another exception: `what` holds its text */
};

struct llamac__guard {
    enum llamac__guard_kind kind;
    int code;       /* libmtmd's return code, for LLAMAC__GUARD_FAILED */
    char what[256]; /* the exception's text */
};

mtmd_context *llamac__mtmd_init(const char *path, const struct llama_model *model, struct mtmd_context_params params,
                                struct llamac__guard *g);

/* mtmd_helper_bitmap_init_from_buf, never reaching its video path (ffmpeg is looked for where there is none). */
mtmd_bitmap *llamac__mtmd_bitmap_from_buf(const mtmd_context *ctx, const unsigned char *buf, size_t len,
                                          struct llamac__guard *g);

mtmd_bitmap *llamac__mtmd_bitmap_rgb(uint32_t nx, uint32_t ny, const unsigned char *rgb, struct llamac__guard *g);
mtmd_bitmap *llamac__mtmd_bitmap_pcm(size_t n, const float *samples, struct llamac__guard *g);
bool llamac__mtmd_bitmap_set_id(mtmd_bitmap *bitmap, const char *id, struct llamac__guard *g);

/* mtmd_tokenize_from_parts (parts as libmtmd takes them). */
int32_t llamac__mtmd_tokenize(const mtmd_context *ctx, mtmd_input_chunks *out, const mtmd_input_part *const *parts,
                              size_t n_parts, bool add_special, struct llamac__guard *g);

/* mtmd_encode_chunk, then the n_floats of its output copied into `out`. The caller serialises calls per context. */
bool llamac__mtmd_encode(mtmd_context *ctx, const mtmd_input_chunk *chunk, float *out, size_t n_floats,
                         struct llamac__guard *g);

/* mtmd_helper_decode_image_chunk. */
bool llamac__mtmd_decode_media(mtmd_context *ctx, struct llama_context *lctx, const mtmd_input_chunk *chunk,
                               float *embd, llama_pos n_past, llama_seq_id seq, int32_t n_batch, llama_pos *new_n_past,
                               struct llamac__guard *g);

/* mtmd_input_chunk_copy. */
mtmd_input_chunk *llamac__mtmd_chunk_copy(const mtmd_input_chunk *chunk, struct llamac__guard *g);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_MEDIA_GUARD_H */
