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

enum llamac__fill {
    LLAMAC__FILL_RANDOM,
    LLAMAC__FILL_ONES,
    LLAMAC__FILL_ZEROS,
    /* The copy model's tensors (llamac_synth_params.copy_period; synth_copy.c says what each holds). */
    LLAMAC__FILL_COPY_EMBD,
    LLAMAC__FILL_COPY_V,
    LLAMAC__FILL_COPY_OUT,
    LLAMAC__FILL_COPY_Q_BIAS,
    LLAMAC__FILL_COPY_K_BIAS
};

struct llamac__synth_tensor {
    char name[GGML_MAX_NAME];
    int64_t ne[4]; /* 1 for the unused dimensions (ne[1] is 1 for a vector) */
    enum ggml_type type;
    enum llamac__fill fill;
    float scale; /* random values: the file's standard deviation times this (1 unless changed after adding) */
};

/* The copy model's construction, computed once from the resolved parameters by llamac__synth_copy_plan. */
struct llamac__synth_copy {
    int32_t period; /* K: the token after position m is the one at m - K + 1 */
    int32_t head_dim, n_head, n_head_kv;
    int64_t rank;      /* a token's identity lives in the first `rank` embedding dimensions (what the values carry) */
    double rope_theta; /* the rotary base */
    double embd_std;   /* of the embeddings' first `rank` dimensions */
    double out_scale;  /* the attention output's weight: the copied embedding is added `alpha` times over */
    double key_amp;    /* amplitude of each rotary pair of the key and query biases */
};

struct llamac__synth_list {
    struct llamac__synth_tensor *items;
    size_t n, cap;
    enum ggml_type wtype;                  /* the type of matrices and embeddings */
    const struct llamac__synth_copy *copy; /* the copy fills' construction; NULL without them */
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

/* The copy construction for the resolved parameters `p` (copy_period > 0), or an error when the attention margin
 * cannot be checked or is too small (synth_copy.c). */
llamac_status llamac__synth_copy_plan(const llamac_synth_params *p, struct llamac__synth_copy *c);

/* Element `i` (flat index) of a tensor of shape `ne` filled with copy fill `fill`; `normal` is the tensor's next
 * standard-normal draw (used by the embeddings only, drawn for every element so the streams stay aligned). */
float llamac__synth_copy_value(const struct llamac__synth_copy *c, enum llamac__fill fill, const int64_t ne[4],
                               int64_t i, float normal);

#endif /* LLAMAC_SYNTH_INTERNAL_H */
