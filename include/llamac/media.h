/*
 * llamac/media.h - multimodal input: a projector (mmproj) beside a text model, images and audio, prompts that mix
 * text and media, evaluated into a context sequence and generated from.
 *
 * All of it runs on llama.cpp's libmtmd: decoding (stb_image, miniaudio), preprocessing and the encoders are
 * libmtmd's. What llamac adds is what libmtmd leaves to its caller, and it is sharp: a projector file is checked with
 * gguf before libmtmd reads it (a key of the wrong type, a missing tensor or a short position table would abort the
 * process there), images are capped by the dimensions in their header before anything is decoded, audio too short to
 * encode is refused, only the image and audio formats listed below reach libmtmd (never its video path, which starts
 * ffprobe), C++ exceptions are caught, and encoding is serialised per projector (libmtmd's encoder keeps its output in
 * the projector; tokenizing needs no lock).
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_MEDIA_H
#define LLAMAC_MEDIA_H

#include "generate.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Projectors
 * ------------------------------------------------------------------------------------------------------------- */

/* A multimodal projector (llama.cpp's "mmproj" GGUF: a vision and/or audio encoder and the projection into the text
 * model's embeddings), bound to the text model it was loaded for. */
typedef struct llamac_mmproj llamac_mmproj;

/* Where the encoder runs. */
typedef enum llamac_mmproj_offload {
    LLAMAC_MMPROJ_OFFLOAD_AUTO = 0, /* on a GPU when the text model has layers on one (n_gpu_layers != 0), else CPU */
    LLAMAC_MMPROJ_OFFLOAD_ON = 1,   /* on the first GPU when there is one (llama.cpp's default) */
    LLAMAC_MMPROJ_OFFLOAD_OFF = 2   /* on the CPU (llama.cpp's --no-mmproj-offload) */
} llamac_mmproj_offload;

typedef struct llamac_mmproj_params {
    llamac_mmproj_offload offload; /* default AUTO */
    int32_t n_threads;             /* encoder threads; 0 = the number of physical cores (default) */
    llamac_flash_attn flash_attn;  /* the encoder's attention (default AUTO, as llama.cpp) */
    const char *marker;            /* the text that stands for one medium in a prompt (NUL-terminated, borrowed,
                                      copied; 1 to 64 bytes of UTF-8); NULL: libmtmd's "<__media__>" */
    int32_t image_min_tokens;      /* for projectors with a dynamic resolution: the fewest tokens per image; 0 = the
                                      projector's own (llama.cpp's --image-min-tokens) */
    int32_t image_max_tokens;      /* the most tokens per image; 0 = the projector's own (--image-max-tokens) */
    int32_t batch_max_tokens;      /* most output tokens libmtmd encodes in one batch; 0 = libmtmd's (1024) */
    bool warmup;                   /* run one encode while loading, so the first image is not slower (default true,
                                      as llama.cpp) */
    uint32_t max_image_side;       /* images wider or taller than this are refused from their header, before
                                      decoding (default 16384) */
    uint64_t max_image_pixels;     /* images with more pixels are refused likewise (default 67108864: 8192 x 8192) */
    uint64_t max_media_bytes;      /* files and buffers larger than this are refused (default 268435456: 256 MiB) */
    double max_audio_seconds;      /* longer audio is refused after decoding (default 3600) */
    llamac_progress_fn progress;   /* load progress; NULL: none. Return false to cancel (LLAMAC_E_CANCELLED) */
    void *progress_user_data;
} llamac_mmproj_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_mmproj_params llamac_mmproj_params_default(void);

/* Loads the projector `path` (NUL-terminated, borrowed) for `model` (borrowed; the projector holds a reference, so
 * the model may be freed first). The file is checked before libmtmd opens it: that it is a GGUF file, that every
 * clip.* key libmtmd reads has the type libmtmd reads it as, that it has a vision or an audio encoder, and for each
 * encoder that its shape is sound (head count dividing the width, patch and image sizes) and, for the projector
 * types llamac knows (the LLaVA-style "mlp", "ultravox" audio), that every tensor libmtmd's graph uses is there with
 * the shape it needs: position embeddings long enough for the image or the 30-second audio window, a projection
 * into exactly the model's n_embd. Projector types llamac does not know get the generic checks only.
 * params NULL means defaults. *out is caller frees with llamac_mmproj_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a parameter out of range, an empty marker), LLAMAC_E_IO (missing,
 * unreadable, a directory), LLAMAC_E_MODEL_LOAD (not GGUF, malformed, a key of the wrong type, no encoder, a missing
 * or misshapen tensor, a projection that does not match the model's n_embd; the message names the key or tensor,
 * what was found and what is needed; libmtmd's own reason when it refuses the file), LLAMAC_E_UNSUPPORTED (a
 * vocab-only model, or a build of libllamac without libmtmd), LLAMAC_E_CANCELLED, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_mmproj_load(llamac_model *model, const char *path, const llamac_mmproj_params *params,
                                            llamac_mmproj **out);

/* Releases the caller's reference. The projector stays alive until the last chunks and chat sessions using it are
 * freed. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_mmproj_free(llamac_mmproj *proj);

typedef struct llamac_mmproj_info {
    bool vision;                  /* takes images */
    bool audio;                   /* takes audio */
    int32_t audio_sample_rate;    /* Hz that audio is resampled to (16000 for Whisper encoders); 0 without audio */
    int32_t n_embd;               /* width of the embeddings it produces: the text model's n_embd */
    bool mrope;                   /* the text model uses M-RoPE: a medium advances positions by its n_pos, not its
                                     token count */
    bool non_causal;              /* images are decoded with non-causal attention, all of an image in one ubatch */
    const char *vision_projector; /* projector type of the vision encoder ("mlp", "gemma3", ...), NULL without;
                                     owned by the projector, valid until it is freed */
    const char *audio_projector;  /* projector type of the audio encoder ("ultravox", ...), NULL without; as above */
    const char *marker;           /* the media marker; owned as above */
} llamac_mmproj_info;

/* Describes the projector. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_mmproj_get_info(const llamac_mmproj *proj, llamac_mmproj_info *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Media
 * ------------------------------------------------------------------------------------------------------------- */

/* One image or one audio clip, decoded. Its id is the sha256 of the bytes it came from (of the file, of the buffer,
 * or of the pixels or samples), 64 lowercase hex digits: equal ids mean equal input, so a cache can match media by
 * id. A medium does not depend on the projector it was made with once made, but audio is resampled to that
 * projector's rate, and it can only be used with projectors of that rate. */
typedef struct llamac_media llamac_media;

typedef enum llamac_media_type { LLAMAC_MEDIA_IMAGE = 1, LLAMAC_MEDIA_AUDIO = 2 } llamac_media_type;

/* Decodes an image or audio file (path NUL-terminated, borrowed) with libmtmd's helpers. Accepted: PNG, JPEG, GIF
 * (its first frame), BMP images; WAV, MP3, FLAC audio. The format is recognised from the file's first bytes, never
 * its name; an image's width and height are read from its header and checked against the projector's limits before
 * it is decoded. Audio is decoded to mono at the projector's sample rate and must last at least 10 ms.
 * *out is caller frees with llamac_media_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_IO (missing, unreadable, a directory), LLAMAC_E_MEDIA (empty,
 * larger than max_media_bytes, a format not listed above (WebP, video, ...), an image larger than max_image_side or
 * max_image_pixels, a header or data that cannot be decoded, audio shorter than 10 ms or longer than
 * max_audio_seconds; the message says which, with the numbers), LLAMAC_E_UNSUPPORTED (an image for a projector
 * without vision, audio for one without audio), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_media_from_file(llamac_mmproj *proj, const char *path, llamac_media **out);

/* As llamac_media_from_file, from `len` bytes of an image or audio file in memory (borrowed for the call).
 * Errors: as llamac_media_from_file, without LLAMAC_E_IO. Thread-safe. */
LLAMAC_API llamac_status llamac_media_from_buffer(llamac_mmproj *proj, const void *data, size_t len,
                                                  llamac_media **out);

/* Limits of llamac_media_fetch. */
typedef struct llamac_media_fetch_params {
    size_t max_bytes;       /* the most bytes the answer may have (default 10485760: 10 MiB, llama-server's) */
    uint32_t timeout_ms;    /* the whole fetch, connecting and redirects included (default 10000, llama-server's) */
    uint32_t max_redirects; /* redirects followed, each to http or https only (default 5) */
} llamac_media_fetch_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_media_fetch_params llamac_media_fetch_params_default(void);

/* Downloads the bytes of a remote medium (an http or https URL, NUL-terminated, borrowed) with libcurl, for
 * llamac_media_from_buffer: an answer larger than max_bytes is stopped as soon as it passes it (or refused from its
 * Content-Length), one that takes longer than timeout_ms is abandoned, and nothing but http and https is fetched,
 * redirects included. No credentials are sent. params NULL means defaults. *data (caller frees with llamac_free) and
 * *len receive the body.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, max_bytes or timeout_ms 0, a URL that is not http(s), a redirect to
 * another scheme), LLAMAC_E_MEDIA (larger than max_bytes), LLAMAC_E_NETWORK (unreachable, too slow, more than
 * max_redirects redirects, an HTTP status other than 2xx; the message names the URL and what happened),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_media_fetch(const char *url, const llamac_media_fetch_params *params, void **data,
                                            size_t *len);

/* An image from `nx` x `ny` pixels of 8-bit RGB (borrowed, copied; nx * ny * 3 bytes, row by row). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (NULLs, a zero size), LLAMAC_E_MEDIA (beyond the projector's image limits),
 * LLAMAC_E_UNSUPPORTED (no vision), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_media_from_rgb(llamac_mmproj *proj, uint32_t nx, uint32_t ny, const uint8_t *rgb,
                                               llamac_media **out);

/* An audio clip from `n` mono samples in [-1, 1] at the projector's sample rate (borrowed, copied). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_MEDIA (shorter than 10 ms, longer than max_audio_seconds, a sample that
 * is not finite), LLAMAC_E_UNSUPPORTED (no audio), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_media_from_pcm(llamac_mmproj *proj, const float *samples, size_t n, llamac_media **out);

/* Releases the caller's reference; chunks and chat sessions that hold the medium keep it alive. NULL is a no-op.
 * Thread-safe. */
LLAMAC_API void llamac_media_free(llamac_media *media);

typedef struct llamac_media_info {
    llamac_media_type type;
    uint32_t nx, ny;     /* image size in pixels; 0 for audio */
    uint64_t n_samples;  /* audio samples at sample_rate; 0 for images */
    int32_t sample_rate; /* audio: Hz; 0 for images */
    const char *id;      /* sha256 hex; owned by the medium, valid until it is freed */
    const char *format;  /* "png", "jpeg", "gif", "bmp", "wav", "mp3", "flac", "rgb" or "pcm"; owned likewise */
} llamac_media_info;

/* Describes a medium. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_media_get_info(const llamac_media *media, llamac_media_info *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Prompts with media
 * ------------------------------------------------------------------------------------------------------------- */

/* A prompt of text and media, tokenized: a list of chunks, each text tokens or one encoded unit of a medium (an
 * image, or 30 seconds of audio). Media chunks are what libmtmd makes of the medium: its token count depends on
 * the projector (16 for a 32x32 image in 8x8 patches), and projectors that wrap an image in marker text
 * ("<start_of_image>") add text chunks around it. */
typedef struct llamac_chunks llamac_chunks;

typedef enum llamac_chunk_type {
    LLAMAC_CHUNK_TEXT = 0,
    LLAMAC_CHUNK_IMAGE = 1,
    LLAMAC_CHUNK_AUDIO = 2
} llamac_chunk_type;

/* Tokenizes `len` bytes of UTF-8 `text` (borrowed) in which each occurrence of the projector's marker stands for the
 * next of the `n_media` media (borrowed; the chunks keep what they need). `flags`: LLAMAC_TOKENIZE_ADD_SPECIAL adds
 * the BOS as the model asks, LLAMAC_TOKENIZE_PARSE_SPECIAL turns special-token text into special tokens.
 * *out is caller frees with llamac_chunks_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, unknown flags, a marker count that is not n_media; the message gives
 * both), LLAMAC_E_UTF8, LLAMAC_E_UNSUPPORTED (an image for a projector without vision, audio without audio, audio of
 * another sample rate), LLAMAC_E_MEDIA (libmtmd could not preprocess a medium), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_mmproj_tokenize(llamac_mmproj *proj, const char *text, size_t len, unsigned flags,
                                                llamac_media *const *media, size_t n_media, llamac_chunks **out);

/* Releases the caller's reference to chunks; an engine request that holds them (llamac_engine_request.chunks) keeps
 * them until it ends. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_chunks_free(llamac_chunks *chunks);

/* Number of chunks; 0 for NULL. Thread-safe (reads only). */
LLAMAC_API size_t llamac_chunks_count(const llamac_chunks *chunks);

/* Tokens of all chunks (the KV cells they take); 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_chunks_n_tokens(const llamac_chunks *chunks);

/* Positions all chunks advance a sequence by: n_tokens, except with M-RoPE, where a medium advances by its n_pos.
 * 0 for NULL. Thread-safe. */
LLAMAC_API llamac_pos llamac_chunks_n_pos(const llamac_chunks *chunks);

typedef struct llamac_chunk_info {
    llamac_chunk_type type;
    size_t n_tokens;
    llamac_pos n_pos;
    const llamac_token *tokens; /* text chunks: the n_tokens tokens; NULL for media. Owned by the chunks, valid until
                                   they are freed */
    const char *id;             /* media chunks: the medium's id; NULL for text. Owned likewise */
} llamac_chunk_info;

/* Describes chunk `i`. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, i out of range). Thread-safe. */
LLAMAC_API llamac_status llamac_chunks_get(const llamac_chunks *chunks, size_t i, llamac_chunk_info *out);

/* Encodes media chunk `i` of `chunks` (made by this projector) and returns its embeddings: n_tokens rows of n_embd
 * floats. *embd is caller frees with llamac_free; *n_floats (may be NULL) receives n_tokens * n_embd. Encodes of one
 * projector run one at a time. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, i out of range, a text chunk, chunks of
 * another projector), LLAMAC_E_DECODE (libmtmd's encoder failed; its reason in the message), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_mmproj_encode(llamac_mmproj *proj, const llamac_chunks *chunks, size_t i, float **embd,
                                              size_t *n_floats);

/* Evaluates `chunks` (made by this projector for ctx's model) into sequence `seq` of `ctx`, starting at position
 * `n_past`: text chunks are decoded in n_batch pieces, media chunks encoded and their embeddings decoded at the
 * positions libmtmd gives (with M-RoPE, 2-D positions, the medium advancing by n_pos; for projectors that need it,
 * with non-causal attention over the whole image, which then must fit in one ubatch). Logits are kept for the last
 * token when the last chunk is text. n_past -1 means the sequence's end (its largest position + 1), right for
 * models without M-RoPE; with M-RoPE pass the *n_past_out of the previous call. *n_past_out (may be NULL) receives
 * the position after the last chunk. llamac_ctx_cancel stops it between and during decodes.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, seq out of range, chunks of another projector or model, n_past < -1, an
 * image of more tokens than n_batch or, for non-causal projectors, than n_ubatch: the message says which to raise),
 * LLAMAC_E_CONTEXT_FULL (the chunks do not fit: nothing is decoded; the message gives the sizes), LLAMAC_E_DECODE,
 * LLAMAC_E_CANCELLED. On an error after some chunks were evaluated, those stay in the cache. One thread per context;
 * the projector may be shared. */
LLAMAC_API llamac_status llamac_mmproj_eval(llamac_mmproj *proj, llamac_context *ctx, llamac_seq_id seq,
                                            const llamac_chunks *chunks, llamac_pos n_past, llamac_pos *n_past_out);

/* llamac_generate from a prompt of text and media: `len` bytes of UTF-8 `prompt` (borrowed) with one marker per
 * medium, `n_media` media (borrowed), tokenized with params->tokenize_flags. The sequence params->seq is cleared
 * first; the prompt's last chunk must be text (the reply starts from its logits). Sampling penalties see the
 * prompt's text tokens. result->n_prompt_tokens counts every token, media included.
 * Errors: those of llamac_mmproj_tokenize and llamac_mmproj_eval, LLAMAC_E_INVALID_ARGUMENT (also: a prompt that
 * ends with a medium), LLAMAC_E_CONTEXT_FULL (the prompt does not fit with room for one more token),
 * LLAMAC_E_UNSUPPORTED (params->spec asks for speculative decoding, which drafts from tokens only, as llama-server
 * refuses it with media), and those of llamac_generate. One thread per handle (context and sampler); the projector may
 * be shared. */
LLAMAC_API llamac_status llamac_generate_media(llamac_context *ctx, llamac_mmproj *proj, const char *prompt, size_t len,
                                               llamac_media *const *media, size_t n_media,
                                               const llamac_generate_params *params, llamac_generate_result *result);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_MEDIA_H */
