/*
 * synth_internal.h - what the synthetic-file writers share (synth.c for models, adapter.c for LoRA adapters and
 * control vectors, synth_mmproj.c for multimodal projectors): a list of tensors with how to fill each, and the writer
 * that generates their seeded values straight into a file that appears complete or not at all (synth_write.c).
 */
#ifndef LLAMAC_SYNTH_INTERNAL_H
#define LLAMAC_SYNTH_INTERNAL_H

#include "core/internal.h"

#include <ggml.h>
#include <gguf.h>
#include <stdarg.h>

enum llamac__fill { LLAMAC__FILL_RANDOM, LLAMAC__FILL_ONES, LLAMAC__FILL_ZEROS };

struct llamac__synth_tensor {
    char name[GGML_MAX_NAME];
    int64_t ne[4]; /* 1 for the unused dimensions (ne[1] is 1 for a vector) */
    enum ggml_type type;
    enum llamac__fill fill;
};

struct llamac__synth_list {
    struct llamac__synth_tensor *items;
    size_t n, cap;
    enum ggml_type wtype; /* the type of matrices and embeddings */
};

/* Adds a tensor named by `fmt`. Vectors are always F32 (llama.cpp's norms and biases expect it); a matrix gets
 * `type`. The list is sized before it is filled, so it never grows: a call past `cap` is ignored (and asserted). */
void llamac__synth_add(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, int64_t ne0,
                       int64_t ne1, const char *fmt, ...) LLAMAC_PRINTF(6, 7);

/* Adds a tensor of shape `ne` (four dimensions, e.g. a convolution kernel) with exactly `type`, named by `fmt` with
 * `ap` as its arguments (the projector writer's vectors may be F16 where libmtmd expects it). Past `cap` as above. */
void llamac__synth_addv(struct llamac__synth_list *l, enum llamac__fill fill, enum ggml_type type, const int64_t ne[4],
                        const char *fmt, va_list ap) LLAMAC_PRINTF(5, 0);

/* Registers the list's tensors (shape and type only) with `g`, in order. */
llamac_status llamac__synth_register(struct gguf_context *g, const struct llamac__synth_list *l);

/* Writes `g`'s header and then each tensor's values, drawn from its own xoshiro256** stream seeded by `seed` and its
 * name (random ones approximately normal with standard deviation `std`), into a temporary file beside `path` renamed
 * into place when complete (core/outfile.c: only a regular file or a new path is replaced). */
llamac_status llamac__synth_write_file(const char *path, const struct gguf_context *g,
                                       const struct llamac__synth_list *l, uint64_t seed, double std);

#endif /* LLAMAC_SYNTH_INTERNAL_H */
