/*
 * media_internal.h - the multimodal objects (projector, medium, chunks) as the files of src/media and the layers above
 * them (chat sessions, the engine) reach them.
 *
 * A projector owns libmtmd's context and a reference to its text model (libmtmd keeps the model's vocabulary);
 * media and chunks are reference-counted so that a conversation can hold them. Encoding goes through the
 * projector's lock: libmtmd's encoder writes its output into the context.
 */
#ifndef LLAMAC_MEDIA_INTERNAL_H
#define LLAMAC_MEDIA_INTERNAL_H

#include "core/internal.h"

#include <pthread.h>

#ifdef LLAMAC_HAVE_MTMD
#    include "media/media_guard.h"
#else
typedef struct mtmd_context mtmd_context;
typedef struct mtmd_bitmap mtmd_bitmap;
typedef struct mtmd_input_chunks mtmd_input_chunks;
#endif

#define LLAMAC__MEDIA_ID_LEN 64 /* sha256 in hex */

struct llamac_mmproj {
    mtmd_context *mctx;
    llamac_model *model; /* a reference */
    atomic_int refs;
    pthread_mutex_t encode_lock;
    llamac_mmproj_info info;
    char *marker;
    char vision_projector[64];
    char audio_projector[64];
    uint32_t max_image_side;
    uint64_t max_image_pixels;
    uint64_t max_media_bytes;
    double max_audio_seconds;
};

/* Checks parameters as llamac_mmproj_load does (mmproj_params.c). */
llamac_status llamac__mmproj_check_params(const llamac_mmproj_params *p);

void llamac__mmproj_ref(llamac_mmproj *proj);
void llamac__mmproj_unref(llamac_mmproj *proj);

struct llamac_media {
    mtmd_bitmap *bitmap;
    atomic_int refs;
    llamac_media_info info;
    char id[LLAMAC__MEDIA_ID_LEN + 1];
};

void llamac__media_ref(llamac_media *media);

struct llamac_chunks {
    mtmd_input_chunks *chunks;
    llamac_mmproj *proj; /* a reference */
    atomic_int refs;     /* the caller's, and each engine request's holding the chunks (llamac__chunks_ref) */
    size_t n_tokens;
    llamac_pos n_pos;
};

/* ---- prompts with media (chunks.c) ---- */

/* One piece of a prompt: text (tokenized with or without special-token parsing) or a medium. */
struct llamac__prompt_part {
    const char *text;
    size_t len;
    bool parse_special;
    llamac_media *media;
};

/* Tokenizes the parts in order (adjacent text parts are tokenized apart and joined into one chunk), with a BOS
 * first when `add_special` and the model asks for one. */
llamac_status llamac__mmproj_tokenize_parts(llamac_mmproj *proj, const struct llamac__prompt_part *parts,
                                            size_t n_parts, bool add_special, llamac_chunks **out);

/* Evaluates chunks[first..] into `seq` from position n_past, skipping the first `skip_tokens` tokens of chunk
 * `first` when it is text (the part of it the sequence already holds); logits for the last token when the last chunk
 * is text. *n_past_out: the position after the last chunk. Checks as llamac_mmproj_eval. */
llamac_status llamac__mmproj_eval_from(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                       const llamac_chunks *chunks, size_t first, size_t skip_tokens, llama_pos n_past,
                                       llama_pos *n_past_out);

/* Evaluates media chunk `i` alone into `seq` at position n_past (the engine's prefill, which decodes the text
 * between media in its own batches): checked as llamac_mmproj_eval checks chunks i.. (the projector and model, an
 * image that needs one ubatch, the room for the rest of the prompt), encoded under the projector's lock, decoded.
 * *n_past_out: the position after it. */
llamac_status llamac__mmproj_eval_media(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                        const llamac_chunks *chunks, size_t i, llama_pos n_past, llama_pos *n_past_out);

/* Another reference to chunks (released with llamac_chunks_free). */
void llamac__chunks_ref(llamac_chunks *chunks);

/* Number of non-overlapping occurrences of `marker` (mlen bytes, > 0) in text. */
size_t llamac__count_marker(const char *text, size_t len, const char *marker, size_t mlen);

/* The text tokens of all chunks in order (for the sampler's penalties). *out is caller frees with free(). */
llamac_status llamac__chunks_text_tokens(const llamac_chunks *chunks, llamac_token **out, size_t *n_out);

/* True when the last chunk is text (its logits start a reply). */
bool llamac__chunks_end_in_text(const llamac_chunks *chunks);

/* ---- the projector's check before libmtmd reads it (mmproj_check.c) ---- */

/* What the check learned about the file. */
struct llamac__mmproj_facts {
    bool vision, audio;
    char vision_projector[64]; /* "" without vision */
    char audio_projector[64];
};

/* Checks the projector file `path` for a text model of width `n_embd_text` (see llamac_mmproj_load). */
llamac_status llamac__mmproj_check(const char *path, int32_t n_embd_text, struct llamac__mmproj_facts *out);

/* ---- recognising media (media_probe.c) ---- */

enum llamac__media_format {
    LLAMAC__FMT_UNKNOWN = 0,
    LLAMAC__FMT_PNG,
    LLAMAC__FMT_JPEG,
    LLAMAC__FMT_GIF,
    LLAMAC__FMT_BMP,
    LLAMAC__FMT_WAV,
    LLAMAC__FMT_MP3,
    LLAMAC__FMT_FLAC
};

struct llamac__media_probe {
    enum llamac__media_format format;
    const char *name; /* "png", ... */
    bool audio;
    uint32_t width; /* images: from the header */
    uint32_t height;
    double seconds; /* audio: from the header, -1 when the format does not record it */
};

/* Recognises an image or audio file from its first bytes and reads what its header says (dimensions, duration).
 * LLAMAC_E_MEDIA naming the problem for anything else (an unknown or refused format, a truncated header). */
llamac_status llamac__media_probe(const unsigned char *buf, size_t len, struct llamac__media_probe *out);

#endif /* LLAMAC_MEDIA_INTERNAL_H */
