/*
 * media_off.c - the multimodal API in a libllamac built without libmtmd (LLAMAC_MTMD=OFF): every call says so.
 *
 * The header is the same in every build, so a program links either way and learns at run time that this build has
 * no multimodal input (LLAMAC_E_UNSUPPORTED), as with a backend that is not compiled in.
 */
#include "media/media_internal.h"

#include <string.h>

static llamac_status off(void) {
    return llamac__fail(LLAMAC_E_UNSUPPORTED,
                        "this libllamac was built without multimodal input (configure with -DLLAMAC_MTMD=ON)");
}

llamac_status llamac_mmproj_load(llamac_model *model, const char *path, const llamac_mmproj_params *params,
                                 llamac_mmproj **out) {
    (void)model, (void)path, (void)params;
    if (out) {
        *out = NULL;
    }
    return off();
}

void llamac_mmproj_free(llamac_mmproj *proj) {
    (void)proj;
}

llamac_status llamac_mmproj_get_info(const llamac_mmproj *proj, llamac_mmproj_info *out) {
    (void)proj, (void)out;
    return off();
}

llamac_status llamac_media_from_file(llamac_mmproj *proj, const char *path, llamac_media **out) {
    (void)proj, (void)path;
    if (out) {
        *out = NULL;
    }
    return off();
}

llamac_status llamac_media_from_buffer(llamac_mmproj *proj, const void *data, size_t len, llamac_media **out) {
    (void)proj, (void)data, (void)len;
    if (out) {
        *out = NULL;
    }
    return off();
}

llamac_status llamac_media_from_rgb(llamac_mmproj *proj, uint32_t nx, uint32_t ny, const uint8_t *rgb,
                                    llamac_media **out) {
    (void)proj, (void)nx, (void)ny, (void)rgb;
    if (out) {
        *out = NULL;
    }
    return off();
}

llamac_status llamac_media_from_pcm(llamac_mmproj *proj, const float *samples, size_t n, llamac_media **out) {
    (void)proj, (void)samples, (void)n;
    if (out) {
        *out = NULL;
    }
    return off();
}

void llamac_media_free(llamac_media *media) {
    (void)media;
}

llamac_status llamac_media_get_info(const llamac_media *media, llamac_media_info *out) {
    (void)media, (void)out;
    return off();
}

llamac_status llamac_mmproj_tokenize(llamac_mmproj *proj, const char *text, size_t len, unsigned flags,
                                     llamac_media *const *media, size_t n_media, llamac_chunks **out) {
    (void)proj, (void)text, (void)len, (void)flags, (void)media, (void)n_media;
    if (out) {
        *out = NULL;
    }
    return off();
}

void llamac_chunks_free(llamac_chunks *chunks) {
    (void)chunks;
}

size_t llamac_chunks_count(const llamac_chunks *chunks) {
    (void)chunks;
    return 0;
}

size_t llamac_chunks_n_tokens(const llamac_chunks *chunks) {
    (void)chunks;
    return 0;
}

llamac_pos llamac_chunks_n_pos(const llamac_chunks *chunks) {
    (void)chunks;
    return 0;
}

llamac_status llamac_chunks_get(const llamac_chunks *chunks, size_t i, llamac_chunk_info *out) {
    (void)chunks, (void)i, (void)out;
    return off();
}

llamac_status llamac_mmproj_encode(llamac_mmproj *proj, const llamac_chunks *chunks, size_t i, float **embd,
                                   size_t *n_floats) {
    (void)proj, (void)chunks, (void)i;
    if (embd) {
        *embd = NULL;
    }
    if (n_floats) {
        *n_floats = 0;
    }
    return off();
}

llamac_status llamac_mmproj_eval(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                 const llamac_chunks *chunks, llamac_pos n_past, llamac_pos *n_past_out) {
    (void)proj, (void)ctx, (void)seq, (void)chunks, (void)n_past;
    if (n_past_out) {
        *n_past_out = 0;
    }
    return off();
}

llamac_status llamac_generate_media(llamac_context *ctx, llamac_mmproj *proj, const char *prompt, size_t len,
                                    llamac_media *const *media, size_t n_media, const llamac_generate_params *params,
                                    llamac_generate_result *result) {
    (void)ctx, (void)proj, (void)prompt, (void)len, (void)media, (void)n_media, (void)params;
    if (result) {
        memset(result, 0, sizeof *result);
    }
    return off();
}

/* What the layers above call; unreachable without a projector, which this build cannot load. */

void llamac__mmproj_ref(llamac_mmproj *proj) {
    (void)proj;
}

void llamac__mmproj_unref(llamac_mmproj *proj) {
    (void)proj;
}

void llamac__media_ref(llamac_media *media) {
    (void)media;
}

llamac_status llamac__mmproj_tokenize_parts(llamac_mmproj *proj, const struct llamac__prompt_part *parts,
                                            size_t n_parts, bool add_special, llamac_chunks **out) {
    (void)proj, (void)parts, (void)n_parts, (void)add_special;
    *out = NULL;
    return off();
}

llamac_status llamac__mmproj_eval_from(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                       const llamac_chunks *chunks, size_t first, size_t skip_tokens, llama_pos n_past,
                                       llama_pos *n_past_out) {
    (void)proj, (void)ctx, (void)seq, (void)chunks, (void)first, (void)skip_tokens, (void)n_past, (void)n_past_out;
    return off();
}

llamac_status llamac__chunks_text_tokens(const llamac_chunks *chunks, llamac_token **out, size_t *n_out) {
    (void)chunks;
    *out = NULL;
    *n_out = 0;
    return off();
}

bool llamac__chunks_end_in_text(const llamac_chunks *chunks) {
    (void)chunks;
    return false;
}

void llamac__chunks_ref(llamac_chunks *chunks) {
    (void)chunks;
}

llamac_status llamac__mmproj_eval_media(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                        const llamac_chunks *chunks, size_t i, llama_pos n_past,
                                        llama_pos *n_past_out) {
    (void)proj, (void)ctx, (void)seq, (void)chunks, (void)i;
    *n_past_out = n_past;
    return off();
}
