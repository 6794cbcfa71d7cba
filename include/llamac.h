/*
 * llamac.h - a safe C11 library over llama.cpp.
 *
 * This header is the specification of libllamac. Every object is an opaque handle with a paired create/free;
 * every fallible function returns an llamac_status and leaves a precise message in llamac_last_error(); nothing a
 * caller can pass makes the library abort, exit or print. Results come back through `out` parameters, which are
 * set to NULL/0 when a call fails.
 *
 * Ownership words used below:
 *   "borrowed"                       - the library only reads it during the call (or as stated);
 *   "caller frees with X"            - the caller owns the result and releases it with X;
 *   "owned by Y, valid until Z"      - the library owns it; do not free it.
 * Thread-safety words: "thread-safe", "one thread per handle", "not thread-safe".
 *
 * Text is UTF-8 throughout. Text passed in is (const char *s, size_t len) unless a function says NUL-terminated.
 */
#ifndef LLAMAC_H
#define LLAMAC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#if defined(_WIN32) && defined(LLAMAC_SHARED)
#    ifdef LLAMAC_BUILD
#        define LLAMAC_API __declspec(dllexport)
#    else
#        define LLAMAC_API __declspec(dllimport)
#    endif
#elif defined(__GNUC__)
#    define LLAMAC_API __attribute__((visibility("default")))
#else
#    define LLAMAC_API
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Versions
 * ------------------------------------------------------------------------------------------------------------- */

#define LLAMAC_VERSION_MAJOR 0
#define LLAMAC_VERSION_MINOR 1
#define LLAMAC_VERSION_PATCH 0
#define LLAMAC_VERSION_STRING "0.1.0"

/* The llamac version as "MAJOR.MINOR.PATCH". Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_version(void);

/* The llama.cpp commit (40 hex digits) this library was built against. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_llama_commit(void);

/* Number of ggml backends compiled in or loaded (CPU always; CUDA, Vulkan, BLAS, RPC when built with them).
 * Initialises the backends if needed. Thread-safe. */
LLAMAC_API size_t llamac_backend_count(void);

/* Name of backend `i` ("CPU", "CUDA", ...), or NULL when `i` is out of range. Owned by the library, valid until
 * the process ends. Thread-safe. */
LLAMAC_API const char *llamac_backend_name(size_t i);

/* ---------------------------------------------------------------------------------------------------------------
 * Status codes and errors
 * ------------------------------------------------------------------------------------------------------------- */

/* Status codes. Explicit numbers; append-only across versions. */
typedef enum llamac_status {
    LLAMAC_OK = 0,
    LLAMAC_E_INVALID_ARGUMENT = 1,  /* a NULL, a bad length, a value out of its documented range */
    LLAMAC_E_NO_MEMORY = 2,         /* an allocation failed, or a request exceeds the memory available */
    LLAMAC_E_IO = 3,                /* a file could not be opened, read or written */
    LLAMAC_E_MODEL_LOAD = 4,        /* the file is not a model llama.cpp can load */
    LLAMAC_E_CONTEXT_CREATE = 5,    /* llama.cpp refused to create a context with these parameters */
    LLAMAC_E_TOKEN_RANGE = 6,       /* a token id outside the vocabulary */
    LLAMAC_E_CONTEXT_FULL = 7,      /* input does not fit in the context / positions past n_ctx */
    LLAMAC_E_DECODE = 8,            /* llama.cpp failed to evaluate a batch */
    LLAMAC_E_CANCELLED = 9,         /* a callback or llamac_ctx_cancel() stopped the work */
    LLAMAC_E_GRAMMAR = 10,          /* a GBNF grammar or trigger pattern is invalid */
    LLAMAC_E_STATE = 11,            /* a saved state is corrupt or belongs to another model */
    LLAMAC_E_UNSUPPORTED = 12,      /* the model or build cannot do this (e.g. embeddings on a vocab-only model) */
    LLAMAC_E_UTF8 = 13,             /* text is not valid UTF-8 */
    LLAMAC_E_NOT_FOUND = 14,        /* a metadata key, template or item does not exist */
    LLAMAC_E_BUFFER_TOO_SMALL = 15, /* the caller's buffer cannot hold the result; the needed size is returned */
    LLAMAC_E_INTERNAL = 16,         /* llama.cpp reported an error we could not classify */
    LLAMAC_E_TEMPLATE = 17,         /* a chat template has a syntax error, raised an exception, used something
                                       unsupported or exceeded a limit; the message names the template line */
    LLAMAC_E_SCHEMA = 18,           /* a JSON Schema is invalid or uses a keyword that cannot be enforced */
    LLAMAC_E_NETWORK = 19,          /* a download failed: host unreachable, connection dropped, HTTP error */
    LLAMAC_E_AUTH = 20,             /* a server refused access: gated or private repository, bad token */
    LLAMAC_E_BUSY = 21              /* a queue or every slot is full; try again later */
} llamac_status;

/* A short constant description of a status ("invalid argument"). Unknown values give "unknown status".
 * Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_status_str(llamac_status status);

/* The message of the last failed call on this thread: what failed and the value that caused it. Empty string
 * when the last call succeeded or nothing has failed yet. Owned by the library, valid until the next llamac call
 * on this thread. Thread-safe (the message is thread-local). */
LLAMAC_API const char *llamac_last_error(void);

/* Releases memory that the library handed to the caller ("caller frees with llamac_free"). NULL is a no-op.
 * Thread-safe. */
LLAMAC_API void llamac_free(void *ptr);

/* ---------------------------------------------------------------------------------------------------------------
 * Logging
 * ------------------------------------------------------------------------------------------------------------- */

typedef enum llamac_log_level {
    LLAMAC_LOG_DEBUG = 1,
    LLAMAC_LOG_INFO = 2,
    LLAMAC_LOG_WARN = 3,
    LLAMAC_LOG_ERROR = 4,
    LLAMAC_LOG_NONE = 5 /* as a minimum level: nothing is delivered */
} llamac_log_level;

/* Receives one complete log line (no trailing newline), from llamac, llama.cpp or ggml. Runs on whichever thread
 * logged, possibly several at once; it must not call back into llamac. `line` is borrowed for the call. */
typedef void (*llamac_log_fn)(llamac_log_level level, const char *line, void *user_data);

/* Installs the log hook. The library is silent by default (no hook). Lines below `min_level` are dropped.
 * Pass fn = NULL to go silent again. llama.cpp's reasons for a failed load are captured into llamac_last_error()
 * whatever the hook. Thread-safe. */
LLAMAC_API void llamac_log_set(llamac_log_fn fn, llamac_log_level min_level, void *user_data);

/* ---------------------------------------------------------------------------------------------------------------
 * Backend and devices
 * ------------------------------------------------------------------------------------------------------------- */

/* Initialises llama.cpp's backends. Reference-counted and idempotent: every successful call is paired with one
 * llamac_backend_free(). Loading a model initialises the backends by itself, so calling this is optional.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_backend_init(void);

/* Drops one reference taken by llamac_backend_init(). Extra calls are no-ops. Thread-safe. */
LLAMAC_API void llamac_backend_free(void);

typedef enum llamac_device_type {
    LLAMAC_DEVICE_CPU = 0,
    LLAMAC_DEVICE_GPU = 1,
    LLAMAC_DEVICE_IGPU = 2,
    LLAMAC_DEVICE_ACCEL = 3,
    LLAMAC_DEVICE_OTHER = 4
} llamac_device_type;

typedef struct llamac_device_info {
    const char *name;        /* e.g. "CPU", "CUDA0"; owned by the library, valid until the process ends */
    const char *description; /* e.g. the processor or GPU model; owned as `name` */
    llamac_device_type type;
    size_t memory_free;  /* bytes; 0 when unknown */
    size_t memory_total; /* bytes; 0 when unknown */
} llamac_device_info;

/* Number of devices (CPU included). Thread-safe. */
LLAMAC_API size_t llamac_device_count(void);

/* Describes device `i` into *out. Errors: LLAMAC_E_INVALID_ARGUMENT (out NULL, i out of range). Thread-safe. */
LLAMAC_API llamac_status llamac_device_get(size_t i, llamac_device_info *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Models
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct llamac_model llamac_model;
typedef int32_t llamac_token;
typedef int32_t llamac_pos;
typedef int32_t llamac_seq_id;

/* Load progress, 0.0 to 1.0. Runs on the loading thread. Return false to cancel the load (the load then fails
 * with LLAMAC_E_CANCELLED). Must not call back into llamac. */
typedef bool (*llamac_progress_fn)(float progress, void *user_data);

typedef enum llamac_split_mode {
    LLAMAC_SPLIT_NONE = 0,  /* the whole model on main_gpu */
    LLAMAC_SPLIT_LAYER = 1, /* layers and KV spread over the GPUs (default) */
    LLAMAC_SPLIT_ROW = 2    /* rows split across GPUs where the backend supports it */
} llamac_split_mode;

typedef enum llamac_kv_override_type {
    LLAMAC_KV_OVERRIDE_INT = 0,
    LLAMAC_KV_OVERRIDE_FLOAT = 1,
    LLAMAC_KV_OVERRIDE_BOOL = 2,
    LLAMAC_KV_OVERRIDE_STR = 3
} llamac_kv_override_type;

/* Overrides one metadata key while loading (as llama.cpp's --override-kv). Keys and strings are at most 127
 * bytes. */
typedef struct llamac_kv_override {
    const char *key; /* borrowed, NUL-terminated */
    llamac_kv_override_type type;
    int64_t int_value;
    double float_value;
    bool bool_value;
    const char *str_value; /* borrowed, NUL-terminated */
} llamac_kv_override;

typedef struct llamac_model_params {
    int32_t n_gpu_layers;         /* layers to offload; 0 = CPU only (default, no GPU used at all); -1 = all */
    llamac_split_mode split_mode; /* how to use several GPUs */
    int32_t main_gpu;             /* GPU index for LLAMAC_SPLIT_NONE */
    const float *tensor_split;    /* borrowed; proportion per GPU, n_tensor_split entries, or NULL */
    size_t n_tensor_split;
    bool use_mmap;                          /* default true */
    bool use_mlock;                         /* default false */
    bool check_tensors;                     /* validate tensor data while loading; default false */
    bool vocab_only;                        /* load only the vocabulary (tokenize without weights) */
    const llamac_kv_override *kv_overrides; /* borrowed for the call; n_kv_overrides entries */
    size_t n_kv_overrides;
    llamac_progress_fn progress; /* NULL: no progress reports */
    void *progress_user_data;
} llamac_model_params;

/* The defaults: CPU only, mmap on, no overrides. Thread-safe. */
LLAMAC_API llamac_model_params llamac_model_params_default(void);

/* Loads a GGUF model. The path is NUL-terminated and borrowed. A shard "-00001-of-0000N.gguf" loads every shard.
 * params NULL means defaults. On success *out is caller frees with llamac_model_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL path/out, bad params), LLAMAC_E_IO (missing, unreadable, directory,
 * empty), LLAMAC_E_MODEL_LOAD (not GGUF, truncated, unsupported architecture; the message carries llama.cpp's
 * reason), LLAMAC_E_CANCELLED (the progress callback returned false), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_model_load(const char *path, const llamac_model_params *params, llamac_model **out);

/* Releases the caller's reference. The model stays alive until the last context using it is freed, so any free
 * order is safe. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_model_free(llamac_model *model);

typedef struct llamac_model_info {
    const char *architecture; /* "llama", "qwen2", "bert", ...; owned by the model, valid until it is freed */
    const char *description;  /* llama.cpp's one-line description, e.g. "llama ?B all F32"; owned as above */
    const char *file_type;    /* e.g. "Q8_0", "all F32"; owned as above */
    uint64_t n_params;
    uint64_t size_bytes; /* bytes of weights */
    int32_t n_ctx_train;
    int32_t n_embd;
    int32_t n_layer;
    int32_t n_head;
    int32_t n_head_kv;
    int32_t head_dim_k; /* key head size (n_embd / n_head unless the GGUF says otherwise) */
    int32_t head_dim_v;
    int32_t n_vocab;
    bool has_encoder;
    bool has_decoder;
    bool vocab_only;
    double load_ms; /* wall time of llamac_model_load */
} llamac_model_info;

/* Fills *out with the model's shape. Errors: LLAMAC_E_INVALID_ARGUMENT. One thread per handle (reads only, so in
 * practice thread-safe). */
LLAMAC_API llamac_status llamac_model_get_info(const llamac_model *model, llamac_model_info *out);

/* Reads a metadata value as a string (any type; arrays are summarised). `key` is NUL-terminated, borrowed.
 * *out is caller frees with llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NOT_FOUND. Thread-safe. */
LLAMAC_API llamac_status llamac_model_meta(const llamac_model *model, const char *key, char **out);

/* Number of metadata keys. 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_model_meta_count(const llamac_model *model);

/* Key and value (as strings) of metadata entry `i`. *key and *value are caller frees with llamac_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, i out of range). Thread-safe. */
LLAMAC_API llamac_status llamac_model_meta_at(const llamac_model *model, size_t i, char **key, char **value);

/* The chat template stored in the model: `name` NULL for the default ("tokenizer.chat_template"), or a named
 * variant such as "tool_use". *out is owned by the model, valid until it is freed.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NOT_FOUND (the model has no such template). Thread-safe. */
LLAMAC_API llamac_status llamac_model_chat_template(const llamac_model *model, const char *name, const char **out);

/* ---------------------------------------------------------------------------------------------------------------
 * Vocabulary and text
 * ------------------------------------------------------------------------------------------------------------- */

typedef enum llamac_special_token {
    LLAMAC_TOKEN_BOS = 0,
    LLAMAC_TOKEN_EOS = 1,
    LLAMAC_TOKEN_EOT = 2,
    LLAMAC_TOKEN_SEP = 3,
    LLAMAC_TOKEN_PAD = 4,
    LLAMAC_TOKEN_NL = 5,
    LLAMAC_TOKEN_MASK = 6,
    LLAMAC_TOKEN_FIM_PRE = 7,
    LLAMAC_TOKEN_FIM_SUF = 8,
    LLAMAC_TOKEN_FIM_MID = 9,
    LLAMAC_TOKEN_FIM_PAD = 10,
    LLAMAC_TOKEN_FIM_REP = 11,
    LLAMAC_TOKEN_FIM_SEP = 12
} llamac_special_token;

/* The id of a special token, or -1 when the vocabulary has none (or the arguments are invalid). Thread-safe. */
LLAMAC_API llamac_token llamac_vocab_special(const llamac_model *model, llamac_special_token which);

/* Vocabulary size; 0 for NULL. Thread-safe. */
LLAMAC_API int32_t llamac_vocab_n_tokens(const llamac_model *model);

/* True when `token` ends generation (EOS, EOT, ...). False for out-of-range ids. Thread-safe. */
LLAMAC_API bool llamac_vocab_is_eog(const llamac_model *model, llamac_token token);

/* True when `token` is a control token. False for out-of-range ids. Thread-safe. */
LLAMAC_API bool llamac_vocab_is_control(const llamac_model *model, llamac_token token);

/* Tokenize flags. Both are off for user text; they are separate, explicit choices. */
enum {
    LLAMAC_TOKENIZE_ADD_SPECIAL = 1u << 0,  /* add BOS/EOS as the model's metadata asks */
    LLAMAC_TOKENIZE_PARSE_SPECIAL = 1u << 1 /* turn special-token text such as "<|im_end|>" into special tokens */
};

/* Tokenizes `len` bytes of UTF-8 `text` (need not be NUL-terminated; borrowed). The output is sized
 * automatically: *tokens is caller frees with llamac_free (NULL when *n_tokens is 0).
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8 (invalid UTF-8; the message gives the byte offset),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tokenize(const llamac_model *model, const char *text, size_t len, unsigned flags,
                                         llamac_token **tokens, size_t *n_tokens);

/* Detokenize flags. */
enum {
    LLAMAC_DETOKENIZE_REMOVE_SPECIAL = 1u << 0, /* drop a leading BOS / trailing EOS the model adds */
    LLAMAC_DETOKENIZE_UNPARSE_SPECIAL = 1u << 1 /* render special tokens as their text */
};

/* Turns tokens back into text. *text is NUL-terminated, caller frees with llamac_free; *len excludes the NUL.
 * The bytes are exactly llama.cpp's (they may end in an incomplete UTF-8 sequence if the tokens do).
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TOKEN_RANGE (the message names the index and id). Thread-safe. */
LLAMAC_API llamac_status llamac_detokenize(const llamac_model *model, const llamac_token *tokens, size_t n_tokens,
                                           unsigned flags, char **text, size_t *len);

/* The bytes of one token, written into (buf, cap) without a NUL; *needed receives the piece's length.
 * `special` renders special tokens as text. A piece may be part of a UTF-8 character.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TOKEN_RANGE, LLAMAC_E_BUFFER_TOO_SMALL (nothing useful in buf;
 * *needed tells the size). Thread-safe. */
LLAMAC_API llamac_status llamac_token_to_piece(const llamac_model *model, llamac_token token, bool special, char *buf,
                                               size_t cap, size_t *needed);

/* Checks that (text, len) is valid UTF-8. Returns true when it is; otherwise false and, when `bad_offset` is not
 * NULL, the offset of the first invalid byte. Thread-safe. */
LLAMAC_API bool llamac_utf8_valid(const char *text, size_t len, size_t *bad_offset);

/* A streaming UTF-8 gate: bytes go in in any pieces; only whole characters come out. Invalid bytes become U+FFFD.
 */
typedef struct llamac_utf8_stream llamac_utf8_stream;

/* Creates a stream. *out is caller frees with llamac_utf8_stream_free. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_utf8_stream_new(llamac_utf8_stream **out);

/* Frees a stream. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_utf8_stream_free(llamac_utf8_stream *stream);

/* Pushes (bytes, len) and returns in (*text, *text_len) the complete characters now available (possibly none).
 * *text is owned by the stream, valid until the next call on it. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_utf8_stream_push(llamac_utf8_stream *stream, const char *bytes, size_t len,
                                                 const char **text, size_t *text_len);

/* Ends the stream: an incomplete trailing sequence comes out as U+FFFD. Output as for _push. The stream can be
 * reused afterwards. One thread per handle. */
LLAMAC_API llamac_status llamac_utf8_stream_flush(llamac_utf8_stream *stream, const char **text, size_t *text_len);

/* ---------------------------------------------------------------------------------------------------------------
 * Contexts
 * ------------------------------------------------------------------------------------------------------------- */

typedef struct llamac_context llamac_context;

typedef enum llamac_flash_attn {
    LLAMAC_FLASH_ATTN_AUTO = -1,
    LLAMAC_FLASH_ATTN_OFF = 0,
    LLAMAC_FLASH_ATTN_ON = 1
} llamac_flash_attn;

/* KV-cache element types: the ones llama.cpp accepts for its cache. */
typedef enum llamac_kv_type {
    LLAMAC_KV_F16 = 0,
    LLAMAC_KV_F32 = 1,
    LLAMAC_KV_BF16 = 2,
    LLAMAC_KV_Q8_0 = 3,
    LLAMAC_KV_Q4_0 = 4,
    LLAMAC_KV_Q4_1 = 5,
    LLAMAC_KV_IQ4_NL = 6,
    LLAMAC_KV_Q5_0 = 7,
    LLAMAC_KV_Q5_1 = 8
} llamac_kv_type;

/* Name of a KV type ("f16", "q8_0", ...), or NULL for an unknown value. Thread-safe. */
LLAMAC_API const char *llamac_kv_type_name(llamac_kv_type type);

/* Parses a KV type name as llama.cpp's -ctk/-ctv take it. Errors: LLAMAC_E_INVALID_ARGUMENT (the message lists the
 * accepted names). Thread-safe. */
LLAMAC_API llamac_status llamac_kv_type_from_name(const char *name, llamac_kv_type *out);

/* Hadamard rotation of Q/K/V before a quantized KV cache stores them (llama.cpp applies it when the cache type is
 * quantized and the head size is a multiple of 64). */
typedef enum llamac_attn_rotation {
    LLAMAC_ATTN_ROT_AUTO = 0, /* llama.cpp's choice (honours LLAMA_ATTN_ROT_DISABLE in the environment) */
    LLAMAC_ATTN_ROT_ON = 1,   /* on wherever llama.cpp can apply it, whatever the environment says */
    LLAMAC_ATTN_ROT_OFF = 2   /* off for this context */
} llamac_attn_rotation;

typedef enum llamac_pooling {
    LLAMAC_POOLING_DEFAULT = -1, /* what the model's metadata says */
    LLAMAC_POOLING_NONE = 0,
    LLAMAC_POOLING_MEAN = 1,
    LLAMAC_POOLING_CLS = 2,
    LLAMAC_POOLING_LAST = 3,
    LLAMAC_POOLING_RANK = 4
} llamac_pooling;

typedef enum llamac_rope_scaling {
    LLAMAC_ROPE_SCALING_DEFAULT = -1,
    LLAMAC_ROPE_SCALING_NONE = 0,
    LLAMAC_ROPE_SCALING_LINEAR = 1,
    LLAMAC_ROPE_SCALING_YARN = 2
} llamac_rope_scaling;

typedef struct llamac_ctx_params {
    uint32_t n_ctx;          /* tokens of context; 0 = min(4096, the model's training context). llama.cpp rounds
                                it up to a multiple of 256: llamac_ctx_get_info reports the size in use */
    uint32_t n_batch;        /* most tokens one decode call submits (default 2048) */
    uint32_t n_ubatch;       /* physical batch (default 512) */
    uint32_t n_seq_max;      /* number of sequences (default 1) */
    int32_t n_threads;       /* generation threads; 0 = the number of physical cores */
    int32_t n_threads_batch; /* prompt threads; 0 = n_threads */
    llamac_flash_attn flash_attn;
    llamac_kv_type type_k; /* default F16 */
    llamac_kv_type type_v; /* default F16; a quantized V cache needs flash attention */
    llamac_attn_rotation attn_rotation;
    bool embeddings;        /* produce embeddings (default false) */
    llamac_pooling pooling; /* for embeddings */
    llamac_rope_scaling rope_scaling;
    float rope_freq_base;    /* 0 = from the model */
    float rope_freq_scale;   /* 0 = from the model */
    bool allow_ctx_overflow; /* allow n_ctx beyond the model's training context */
    bool offload_kqv;        /* keep the KV cache on the GPU when layers are offloaded (default true) */
    bool kv_unified;         /* one KV buffer shared by all sequences (default false, as llama.cpp): sequences can
                                then share cells (a token in several sequences, partial llamac_ctx_seq_cp) */
} llamac_ctx_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_ctx_params llamac_ctx_params_default(void);

/* Creates a context for `model` (borrowed; the context holds a reference, so the model may be freed first).
 * params NULL means defaults. *out is caller frees with llamac_ctx_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (a parameter out of range, named in the message; also, for embeddings with mean
 * or rank pooling, an n_seq_max that does not divide min(n_ctx, n_batch, n_ubatch), on which llama.cpp would abort),
 * LLAMAC_E_UNSUPPORTED (vocab-only model), LLAMAC_E_NO_MEMORY (the KV cache would not fit in available memory; the
 * message gives both figures), LLAMAC_E_CONTEXT_CREATE (llama.cpp's reason in the message). Thread-safe (several
 * threads may create contexts at once, with different rotation settings). */
LLAMAC_API llamac_status llamac_ctx_new(llamac_model *model, const llamac_ctx_params *params, llamac_context **out);

/* Frees a context and drops its model reference. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_ctx_free(llamac_context *ctx);

typedef struct llamac_ctx_info {
    uint32_t n_ctx;
    uint32_t n_batch;
    uint32_t n_ubatch;
    uint32_t n_seq_max;
    int32_t n_threads;
    int32_t n_threads_batch;
    llamac_kv_type type_k;
    llamac_kv_type type_v;
    bool embeddings;
    llamac_pooling pooling; /* resolved pooling */
    bool kv_unified;
    bool attn_rot_k;          /* is the K cache rotated */
    bool attn_rot_v;          /* is the V cache rotated */
    const char *attn_rot_why; /* why rotation is off ("K/V types are not quantized", "head size 8 is not a
                                 multiple of 64", "disabled for this context", ...); "" when on. Owned by the
                                 context, valid until it is freed. */
} llamac_ctx_info;

/* Describes the context. Errors: LLAMAC_E_INVALID_ARGUMENT. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_get_info(const llamac_context *ctx, llamac_ctx_info *out);

/* The model a context uses. Owned by the context, valid until it is freed. One thread per handle. */
LLAMAC_API llamac_model *llamac_ctx_model(const llamac_context *ctx);

/* Called during decoding; return true to abort the decode. Runs on a llama.cpp compute thread. Must not call
 * back into llamac. */
typedef bool (*llamac_abort_fn)(void *user_data);

/* Installs (or, with fn NULL, removes) an abort callback for decodes on this context. An aborted decode fails with
 * LLAMAC_E_CANCELLED. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_set_abort(llamac_context *ctx, llamac_abort_fn fn, void *user_data);

/* Asks the generation or decode running on `ctx` to stop as soon as possible; if none is running, the next one
 * stops at once. The request is consumed when that call returns. Thread-safe (may be called from any thread
 * while another thread uses the context). */
LLAMAC_API void llamac_ctx_cancel(llamac_context *ctx);

/* Appends `n` tokens (borrowed) to sequence `seq` at its current end and evaluates them, in n_batch-sized chunks.
 * Logits are kept for the last token. Errors: LLAMAC_E_INVALID_ARGUMENT (n 0, seq out of range),
 * LLAMAC_E_TOKEN_RANGE, LLAMAC_E_CONTEXT_FULL (the sequence would pass n_ctx; nothing is decoded),
 * LLAMAC_E_CANCELLED, LLAMAC_E_DECODE. On an error after some chunks were evaluated, those chunks stay in the
 * cache; llamac_ctx_seq_pos_max tells how far. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_decode(llamac_context *ctx, llamac_seq_id seq, const llamac_token *tokens,
                                           size_t n);

/* A batch of tokens for several sequences at explicit positions. */
typedef struct llamac_batch llamac_batch;

/* Creates a batch that holds up to `capacity` tokens, each in up to `max_seqs_per_token` sequences.
 * *out is caller frees with llamac_batch_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_batch_new(size_t capacity, size_t max_seqs_per_token, llamac_batch **out);

/* Frees a batch. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_batch_free(llamac_batch *batch);

/* Empties a batch for reuse. One thread per handle. */
LLAMAC_API void llamac_batch_clear(llamac_batch *batch);

/* Number of tokens in the batch. One thread per handle. */
LLAMAC_API size_t llamac_batch_size(const llamac_batch *batch);

/* Adds a token at position `pos` of the `n_seqs` sequences in `seqs` (borrowed); `output` asks for its logits or
 * embedding. Errors: LLAMAC_E_INVALID_ARGUMENT (negative pos, no sequences, too many sequences),
 * LLAMAC_E_BUFFER_TOO_SMALL (the batch is full). Token ids and sequence ids are checked against the context at
 * decode time. One thread per handle. */
LLAMAC_API llamac_status llamac_batch_add(llamac_batch *batch, llamac_token token, llamac_pos pos,
                                          const llamac_seq_id *seqs, size_t n_seqs, bool output);

/* Evaluates a batch. Everything is checked first: token ids, sequence ids (< n_seq_max), positions (< n_ctx),
 * the batch size (<= n_batch), and one sequence per token unless the cache is unified (kv_unified; otherwise each
 * sequence has a KV stream of its own: decode a shared prefix once and copy it with llamac_ctx_seq_cp). Output i (in
 * order of the tokens marked `output`) can then be read with llamac_ctx_logits / llamac_ctx_embeddings. Errors: as
 * llamac_ctx_decode. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_decode_batch(llamac_context *ctx, const llamac_batch *batch);

/* The logits of output `i` of the last decode (negative counts from the end: -1 is the last). *logits has
 * *n_vocab floats, owned by the context, valid until the next decode. Errors: LLAMAC_E_INVALID_ARGUMENT (no
 * decode yet, i out of range, an embeddings-only context). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_logits(llamac_context *ctx, int32_t i, const float **logits, size_t *n_vocab);

/* The embedding of output `i` (no pooling), or of sequence `seq` when pooled: use llamac_ctx_embeddings_seq.
 * *embd has *n_embd floats, owned by the context, valid until the next decode. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_UNSUPPORTED (the context was created without embeddings). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_embeddings(llamac_context *ctx, int32_t i, const float **embd, size_t *n_embd);

/* The pooled embedding of sequence `seq` after the last decode. Errors: as llamac_ctx_embeddings, plus
 * LLAMAC_E_NOT_FOUND (no pooled output for that sequence). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_embeddings_seq(llamac_context *ctx, llamac_seq_id seq, const float **embd,
                                                   size_t *n_embd);

/* ---------------------------------------------------------------------------------------------------------------
 * Memory (KV cache) and state
 * ------------------------------------------------------------------------------------------------------------- */

/* Empties the KV cache of every sequence. Errors: LLAMAC_E_INVALID_ARGUMENT. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_kv_clear(llamac_context *ctx);

/* Removes positions [p0, p1) of `seq` (seq -1: every sequence; p0 -1: from 0; p1 -1: to the end).
 * Errors: LLAMAC_E_INVALID_ARGUMENT (ranges, seq), LLAMAC_E_UNSUPPORTED (a partial removal the model's memory
 * cannot do, e.g. recurrent). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_seq_rm(llamac_context *ctx, llamac_seq_id seq, llamac_pos p0, llamac_pos p1);

/* Copies positions [p0, p1) of `src` into `dst`. With a unified KV cache (kv_unified) the cells are shared and
 * any range can be copied. Otherwise each sequence has a KV stream of its own and llama.cpp copies only whole
 * sequences between streams: [p0, p1) must then cover every position `src` holds (-1, -1 does), and the copy
 * replaces what `dst` held. An empty range, or src == dst, changes nothing. Errors: LLAMAC_E_INVALID_ARGUMENT (ids,
 * ranges, a partial copy without a unified cache). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_seq_cp(llamac_context *ctx, llamac_seq_id src, llamac_seq_id dst, llamac_pos p0,
                                           llamac_pos p1);

/* Removes every sequence but `seq`. Errors: LLAMAC_E_INVALID_ARGUMENT. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_seq_keep(llamac_context *ctx, llamac_seq_id seq);

/* Adds `delta` to the positions [p0, p1) of `seq` (context shifting). Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_UNSUPPORTED (the model's memory cannot shift). One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_seq_add(llamac_context *ctx, llamac_seq_id seq, llamac_pos p0, llamac_pos p1,
                                            llamac_pos delta);

/* Smallest / largest position held for `seq`, -1 when the sequence is empty. Errors: LLAMAC_E_INVALID_ARGUMENT.
 * One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_seq_pos_min(llamac_context *ctx, llamac_seq_id seq, llamac_pos *out);
LLAMAC_API llamac_status llamac_ctx_seq_pos_max(llamac_context *ctx, llamac_seq_id seq, llamac_pos *out);

/* Serialises the whole context state (KV cache, last outputs) together with `tokens` (borrowed, may be NULL when
 * n_tokens is 0, e.g. the tokens the cache holds) and a fingerprint of the model. *data is caller frees with
 * llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_state_get(llamac_context *ctx, const llamac_token *tokens, size_t n_tokens,
                                              void **data, size_t *size);

/* Restores a state made by llamac_ctx_state_get. The data is validated first (magic, version, checksum, model
 * fingerprint, context size); on any error the context is left exactly as it was. When `tokens` is not NULL,
 * *tokens receives the saved tokens (caller frees with llamac_free) and *n_tokens their count.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_STATE (the message says what does not match). One thread per
 * handle. */
LLAMAC_API llamac_status llamac_ctx_state_set(llamac_context *ctx, const void *data, size_t size, llamac_token **tokens,
                                              size_t *n_tokens);

/* As llamac_ctx_state_get, written to `path` (NUL-terminated, borrowed) through a temporary file that is renamed
 * into place, so a failed save never leaves a partial file. Errors: as _get, plus LLAMAC_E_IO. One thread per
 * handle. */
LLAMAC_API llamac_status llamac_ctx_state_save_file(llamac_context *ctx, const char *path, const llamac_token *tokens,
                                                    size_t n_tokens);

/* As llamac_ctx_state_set, reading `path`. Errors: as _set, plus LLAMAC_E_IO. One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_state_load_file(llamac_context *ctx, const char *path, llamac_token **tokens,
                                                    size_t *n_tokens);

/* ---------------------------------------------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------------------------------------------- */

/* A sampler chain: filters applied in the order added, ending in a selecting sampler (greedy, dist, mirostat,
 * adaptive-p). A grammar, wherever it is added, is applied first, so a selected token always satisfies it. */
typedef struct llamac_sampler llamac_sampler;

/* Creates an empty chain for `model` (borrowed; the chain holds a reference). *out is caller frees with
 * llamac_sampler_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_new(llamac_model *model, llamac_sampler **out);

/* Frees a chain and drops its model reference. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_sampler_free(llamac_sampler *sampler);

/* The chain adders below each validate their parameters (the message names the bad one) and return
 * LLAMAC_E_INVALID_ARGUMENT without changing the chain when one is out of range. Adding after a selecting sampler
 * is an error. All: one thread per handle. */

/* Picks the most likely token. */
LLAMAC_API llamac_status llamac_sampler_add_greedy(llamac_sampler *s);
/* Samples from the distribution with a seeded generator (seed UINT32_MAX: a random seed). */
LLAMAC_API llamac_status llamac_sampler_add_dist(llamac_sampler *s, uint32_t seed);
/* Keeps the k most likely tokens; k <= 0 keeps all. */
LLAMAC_API llamac_status llamac_sampler_add_top_k(llamac_sampler *s, int32_t k);
/* Nucleus: keeps the smallest set whose probability reaches p, 0 < p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_top_p(llamac_sampler *s, float p, size_t min_keep);
/* Keeps tokens with probability >= p * the top probability, 0 <= p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_min_p(llamac_sampler *s, float p, size_t min_keep);
/* Locally typical sampling, 0 < p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_typical(llamac_sampler *s, float p, size_t min_keep);
/* Temperature t >= 0 (0: keeps only the most likely token). */
LLAMAC_API llamac_status llamac_sampler_add_temp(llamac_sampler *s, float t);
/* Dynamic temperature in [t - delta, t + delta] by entropy, exponent > 0. */
LLAMAC_API llamac_status llamac_sampler_add_temp_ext(llamac_sampler *s, float t, float delta, float exponent);
/* Exclude Top Choices: with probability p, drops the tokens above threshold t except the least likely of them. */
LLAMAC_API llamac_status llamac_sampler_add_xtc(llamac_sampler *s, float p, float t, size_t min_keep, uint32_t seed);
/* Keeps tokens within n standard deviations of the top logit, n > 0. */
LLAMAC_API llamac_status llamac_sampler_add_top_n_sigma(llamac_sampler *s, float n);
/* Mirostat 1.0 (selecting). tau > 0 target surprise, eta > 0 learning rate, m > 0 tokens for the estimate. */
LLAMAC_API llamac_status llamac_sampler_add_mirostat(llamac_sampler *s, uint32_t seed, float tau, float eta, int32_t m);
/* Mirostat 2.0 (selecting). */
LLAMAC_API llamac_status llamac_sampler_add_mirostat_v2(llamac_sampler *s, uint32_t seed, float tau, float eta);
/* Repetition (repeat > 0, 1 = off), frequency and presence penalties over the last `last_n` tokens (-1: the
 * whole context, 0: off). */
LLAMAC_API llamac_status llamac_sampler_add_penalties(llamac_sampler *s, int32_t last_n, float repeat, float freq,
                                                      float present);
/* DRY repetition penalty; `breakers` (borrowed, NUL-terminated strings) end repeated sequences; NULL with
 * n_breakers 0 uses llama.cpp's defaults ("\n", ":", "\"", "*"). */
LLAMAC_API llamac_status llamac_sampler_add_dry(llamac_sampler *s, float multiplier, float base, int32_t allowed_length,
                                                int32_t last_n, const char *const *breakers, size_t n_breakers);
/* Adds `bias` to token logits; -INFINITY bans a token. Token ids are checked. */
typedef struct llamac_logit_bias {
    llamac_token token;
    float bias;
} llamac_logit_bias;
LLAMAC_API llamac_status llamac_sampler_add_logit_bias(llamac_sampler *s, const llamac_logit_bias *biases, size_t n);
/* Constrains output to a GBNF grammar (NUL-terminated, borrowed) starting at rule `root` (NULL: "root").
 * Errors: LLAMAC_E_GRAMMAR with llama.cpp's parse error. At most one grammar per chain. */
LLAMAC_API llamac_status llamac_sampler_add_grammar(llamac_sampler *s, const char *grammar, const char *root);
/* A lazy grammar: free text until a trigger (a regex over the output so far, matched from the start, or a trigger
 * token) appears; from there the grammar constrains. Patterns are checked (an invalid regex is LLAMAC_E_GRAMMAR).
 */
LLAMAC_API llamac_status llamac_sampler_add_grammar_lazy(llamac_sampler *s, const char *grammar, const char *root,
                                                         const char *const *trigger_patterns, size_t n_patterns,
                                                         const llamac_token *trigger_tokens, size_t n_tokens);
/* Adaptive-p (selecting): favours tokens near probability `target` (0..1), EMA `decay` in [0, 0.99]. */
LLAMAC_API llamac_status llamac_sampler_add_adaptive_p(llamac_sampler *s, float target, float decay, uint32_t seed);
/* Fill-in-the-middle helper sampler (use after top-k / top-p). */
LLAMAC_API llamac_status llamac_sampler_add_infill(llamac_sampler *s);

/* Number of samplers in the chain (the grammar counts as one). One thread per handle. */
LLAMAC_API size_t llamac_sampler_count(const llamac_sampler *s);

/* Samples a token from output `i` of the last decode on `ctx` and accepts it into the chain's history.
 * A chain without a selecting sampler selects greedily. When the samplers ahead of the chain's first top-k leave the
 * logits as they are (logit biases, neutral penalties), its k best are taken straight from the logits rather than
 * from an n_vocab candidate array (same tokens, same order; 10-20x faster on a large vocabulary); and when the
 * samplers after it only ever leave the best candidate chosen (temperature 0 or greedy, behind top-p, min-p, typical
 * 1, an XTC that cannot fire, top-n-sigma), only the best is taken (same token, same random numbers drawn). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (i out of range, no decode, a context of another model). One thread per handle (sampler and
 * context). */
LLAMAC_API llamac_status llamac_sampler_sample(llamac_sampler *s, llamac_context *ctx, int32_t i, llamac_token *out);

/* Feeds a token to the chain's history (penalties, grammar state) without sampling, e.g. for prompt tokens.
 * Errors: LLAMAC_E_TOKEN_RANGE, LLAMAC_E_GRAMMAR (the grammar does not allow this token; the chain is unchanged,
 * except when the token fires a lazy grammar's trigger pattern and the grammar rejects the text replayed from the
 * trigger on: that grammar then allows nothing until llamac_sampler_reset). One thread per handle. */
LLAMAC_API llamac_status llamac_sampler_accept(llamac_sampler *s, llamac_token token);

/* Resets history and grammar state. One thread per handle. */
LLAMAC_API void llamac_sampler_reset(llamac_sampler *s);

/* Everyday sampling settings, mapped onto a chain in llama.cpp's default order (penalties, DRY, top-n-sigma,
 * top-k, typical, top-p, min-p, XTC, temperature, then dist; or temperature + mirostat). temp <= 0 is greedy. */
typedef struct llamac_sampling_params {
    uint32_t seed;                       /* UINT32_MAX: random */
    float temp;                          /* default 0.8 */
    float dynatemp_range;                /* default 0 (off) */
    float dynatemp_exponent;             /* default 1 */
    int32_t top_k;                       /* default 40; <= 0 off */
    float top_p;                         /* default 0.95; 1 off */
    float min_p;                         /* default 0.05; 0 off */
    float typical_p;                     /* default 1 (off) */
    float xtc_probability;               /* default 0 (off) */
    float xtc_threshold;                 /* default 0.1 */
    float top_n_sigma;                   /* default -1 (off) */
    int32_t penalty_last_n;              /* default 64 */
    float penalty_repeat;                /* default 1 (off) */
    float penalty_freq;                  /* default 0 */
    float penalty_present;               /* default 0 */
    float dry_multiplier;                /* default 0 (off) */
    float dry_base;                      /* default 1.75 */
    int32_t dry_allowed_length;          /* default 2 */
    int32_t dry_last_n;                  /* default 64; -1: the whole context */
    int32_t mirostat;                    /* 0 off (default), 1 or 2 */
    float mirostat_tau;                  /* default 5 */
    float mirostat_eta;                  /* default 0.1 */
    const char *grammar;                 /* GBNF, borrowed, NULL for none */
    const llamac_logit_bias *logit_bias; /* borrowed */
    size_t n_logit_bias;
} llamac_sampling_params;

/* llama.cpp's defaults, as listed above. Thread-safe. */
LLAMAC_API llamac_sampling_params llamac_sampling_params_default(void);

/* Builds a chain from `params` (NULL: defaults). *out is caller frees with llamac_sampler_free.
 * Errors: as the adders. Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_from_params(llamac_model *model, const llamac_sampling_params *params,
                                                    llamac_sampler **out);

/* ---------------------------------------------------------------------------------------------------------------
 * Generation
 * ------------------------------------------------------------------------------------------------------------- */

/* Receives generated text: `len` bytes of whole UTF-8 characters (never half of one, never any part of a stop
 * string), borrowed for the call. Runs on the thread that called llamac_generate. Return false to stop. May call
 * llamac functions on other handles and llamac_ctx_cancel. */
typedef bool (*llamac_text_fn)(const char *text, size_t len, void *user_data);

typedef enum llamac_finish_reason {
    LLAMAC_FINISH_NONE = 0,        /* the call failed */
    LLAMAC_FINISH_EOG = 1,         /* the model produced an end-of-generation token */
    LLAMAC_FINISH_LENGTH = 2,      /* max_tokens reached */
    LLAMAC_FINISH_STOP = 3,        /* a stop string appeared */
    LLAMAC_FINISH_CALLBACK = 4,    /* the text callback returned false */
    LLAMAC_FINISH_CANCELLED = 5,   /* llamac_ctx_cancel() */
    LLAMAC_FINISH_CONTEXT_FULL = 6 /* the context filled up */
} llamac_finish_reason;

/* Name of a finish reason ("eog", "length", "stop", ...). Thread-safe. */
LLAMAC_API const char *llamac_finish_reason_str(llamac_finish_reason reason);

typedef struct llamac_generate_params {
    int32_t max_tokens;      /* -1: until the context is full (default 256) */
    const char *const *stop; /* borrowed stop strings (NUL-terminated, non-empty) */
    size_t n_stop;
    llamac_sampling_params sampling; /* used when `sampler` is NULL */
    llamac_sampler *sampler;         /* borrowed chain to use instead; reset before use */
    unsigned tokenize_flags;         /* for a text prompt; default LLAMAC_TOKENIZE_ADD_SPECIAL */
    llamac_seq_id seq;               /* the sequence to use (default 0); it is cleared first */
    bool ignore_eog;                 /* keep going past end-of-generation tokens */
    llamac_text_fn on_text;          /* NULL: text is not delivered (counts only) */
    void *user_data;
} llamac_generate_params;

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_generate_params llamac_generate_params_default(void);

typedef struct llamac_generate_result {
    llamac_finish_reason finish_reason;
    int32_t n_prompt_tokens;
    int32_t n_generated_tokens;
    double load_ms;       /* the model's load time */
    double prompt_ms;     /* time to evaluate the prompt */
    double ttft_ms;       /* from the call to the first generated token */
    double generation_ms; /* from the first generated token to the end */
    double prompt_tokens_per_s;
    double tokens_per_s; /* generation speed (after the first token) */
} llamac_generate_result;

/* Generates from a text prompt (len bytes of UTF-8, borrowed; an empty prompt is allowed when the model adds a
 * BOS) into `params->on_text`. The sequence `params->seq` is cleared first. *result (may be NULL) is filled even
 * when the generation stops early. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8, LLAMAC_E_CONTEXT_FULL (the
 * prompt does not fit: the message gives both sizes), LLAMAC_E_DECODE, LLAMAC_E_GRAMMAR, and the sampler errors.
 * Stopping by a stop string, the limit, the callback or llamac_ctx_cancel() is success (see finish_reason).
 * One thread per handle (context and sampler). */
LLAMAC_API llamac_status llamac_generate(llamac_context *ctx, const char *prompt, size_t len,
                                         const llamac_generate_params *params, llamac_generate_result *result);

/* As llamac_generate, from prompt tokens (borrowed). */
LLAMAC_API llamac_status llamac_generate_tokens(llamac_context *ctx, const llamac_token *prompt, size_t n,
                                                const llamac_generate_params *params, llamac_generate_result *result);

/* ---------------------------------------------------------------------------------------------------------------
 * Embeddings and reranking
 * ------------------------------------------------------------------------------------------------------------- */

/* Normalisation of embedding vectors, with the meanings of llama.cpp's --embd-normalize: any value p > 2 is the
 * p-norm. */
enum {
    LLAMAC_EMBD_NORM_NONE = -1,
    LLAMAC_EMBD_NORM_MAXABS = 0, /* scaled so the largest component is 32760 (the int16 range) */
    LLAMAC_EMBD_NORM_L1 = 1,
    LLAMAC_EMBD_NORM_L2 = 2 /* unit length (the default) */
};

typedef struct llamac_embed_params {
    int32_t normalize;           /* LLAMAC_EMBD_NORM_*, or p > 2 for the p-norm (default L2) */
    bool truncate;               /* cut a text longer than fits (keeping its final SEP/EOS); default false: an error */
    unsigned tokenize_flags;     /* default LLAMAC_TOKENIZE_ADD_SPECIAL */
    llamac_progress_fn progress; /* called after each batch with the fraction of texts done; false cancels */
    void *progress_user_data;
} llamac_embed_params;

/* The defaults above. Thread-safe. */
LLAMAC_API llamac_embed_params llamac_embed_params_default(void);

/* Embeds `n_texts` texts (texts[i] is lens[i] bytes of UTF-8, or NUL-terminated when `lens` is NULL; all borrowed)
 * with a context created with embeddings = true and a pooling other than none. Texts are packed by sequence, up to
 * n_seq_max texts and min(n_batch, n_ubatch) tokens per decode (a text never spans two decodes). With a unified KV
 * cache (kv_unified), or an encoder model, in which every token of a decode attends over the whole decode's cells,
 * a decode takes at most 256 tokens (or its first text, rounded up to 256): the cells llama.cpp attends over anyway.
 * Without one, each sequence has its own KV stream and llama.cpp splits a batch into equal tokens per sequence, so a
 * decode takes only texts of the same token count (texts go in order of length; rows stay in input order). With
 * flash attention on, the CPU kernels round differently for different batch shapes (about 2e-4 on unit vectors);
 * with it off, packing changes no component by more than about 2e-5. *out receives n_texts rows of *n_embd floats
 * (caller frees with llamac_free); for rank pooling a row holds the classifier outputs. The context's KV cache is
 * cleared. Errors: LLAMAC_E_INVALID_ARGUMENT
 * (NULLs, no texts, an empty text — the message gives its index — or pooling none: use llamac_embed_tokens),
 * LLAMAC_E_UNSUPPORTED (a context without embeddings), LLAMAC_E_UTF8, LLAMAC_E_CONTEXT_FULL (a text longer than one
 * decode can hold and truncate is off: index and sizes in the message), LLAMAC_E_CANCELLED, LLAMAC_E_DECODE. One thread
 * per handle. */
LLAMAC_API llamac_status llamac_embed(llamac_context *ctx, const char *const *texts, const size_t *lens, size_t n_texts,
                                      const llamac_embed_params *params, float **out, size_t *n_embd);

/* Per-token embeddings of one text, with a context created with embeddings = true and pooling none. *out receives
 * *n_tokens rows of *n_embd floats (caller frees with llamac_free). Errors: as llamac_embed. One thread per
 * handle. */
LLAMAC_API llamac_status llamac_embed_tokens(llamac_context *ctx, const char *text, size_t len,
                                             const llamac_embed_params *params, float **out, size_t *n_tokens,
                                             size_t *n_embd);

/* Normalises `n` floats of `in` into `out` (may be the same array) as `normalize` says. Returns false for an
 * invalid mode (< -1). Thread-safe. */
LLAMAC_API bool llamac_embd_normalize(const float *in, float *out, size_t n, int32_t normalize);

/* Cosine similarity of two vectors of `n` floats (borrowed); 0 when either is all zeros. Thread-safe. */
LLAMAC_API float llamac_embd_cosine(const float *a, const float *b, size_t n);

/* The n_vectors x n_vectors cosine-similarity matrix of row-major `vectors` (n_vectors rows of `dim` floats) into
 * `out` (n_vectors * n_vectors floats, caller-allocated). Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_embd_similarity_matrix(const float *vectors, size_t n_vectors, size_t dim, float *out);

/* The `k` rows of `set` (n_set rows of `dim` floats) most similar (cosine) to `query`, best first: their indices in
 * idx[0..k) and similarities in sim[0..k) (both caller-allocated with room for min(k, n_set) entries; sim may be
 * NULL). Returns the number written in *n_out. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_embd_top_k(const float *query, const float *set, size_t n_set, size_t dim, size_t k,
                                           size_t *idx, float *sim, size_t *n_out);

/* One reranked document. */
typedef struct llamac_rerank_result {
    size_t index; /* position of the document in the input */
    float score;  /* the classifier's raw score (higher is more relevant) */
} llamac_rerank_result;

/* Scores each of `n_docs` documents (NUL-terminated, borrowed) against `query` with a reranker (a context with
 * embeddings = true and rank pooling). The pair is formatted as llama.cpp does: the model's "rerank" chat template
 * ({query}, {document}) when it has one, else query, EOS, SEP, document. *scores receives n_docs scores in input
 * order; *sorted (may be NULL) the min(top_n, n_docs) best, highest first (top_n 0: all). Both caller frees with
 * llamac_free. Errors: as llamac_embed, plus LLAMAC_E_UNSUPPORTED (the context does not use rank pooling). One
 * thread per handle. */
LLAMAC_API llamac_status llamac_rerank(llamac_context *ctx, const char *query, const char *const *docs, size_t n_docs,
                                       size_t top_n, float **scores, llamac_rerank_result **sorted, size_t *n_sorted);

/* ---------------------------------------------------------------------------------------------------------------
 * GGUF files: metadata, quantization, split and merge
 * ------------------------------------------------------------------------------------------------------------- */

/* A GGUF file's metadata and tensor table, read without the tensor data. */
typedef struct llamac_gguf llamac_gguf;

/* Types of metadata values, numbered as in the GGUF format. */
typedef enum llamac_gguf_type {
    LLAMAC_GGUF_UINT8 = 0,
    LLAMAC_GGUF_INT8 = 1,
    LLAMAC_GGUF_UINT16 = 2,
    LLAMAC_GGUF_INT16 = 3,
    LLAMAC_GGUF_UINT32 = 4,
    LLAMAC_GGUF_INT32 = 5,
    LLAMAC_GGUF_FLOAT32 = 6,
    LLAMAC_GGUF_BOOL = 7,
    LLAMAC_GGUF_STRING = 8,
    LLAMAC_GGUF_ARRAY = 9,
    LLAMAC_GGUF_UINT64 = 10,
    LLAMAC_GGUF_INT64 = 11,
    LLAMAC_GGUF_FLOAT64 = 12
} llamac_gguf_type;

/* GGUF's short name of a value type ("u32", "str", "arr", ...), or "?" for an unknown value. Owned by the library,
 * valid forever. Thread-safe. */
LLAMAC_API const char *llamac_gguf_type_name(llamac_gguf_type type);

/* Opens a GGUF file (path NUL-terminated, borrowed) and reads its metadata and tensor table, never the tensor data,
 * so it takes the same time on a 100 MB and a 100 GB model. The first shard of a split model ("-00001-of-0000N.gguf")
 * brings in the tensor tables of the other shards, which must sit beside it. Every count, length and offset in the
 * file is checked against the file's size before it is trusted (the file may be hostile); a malformed file is
 * reported with the field and its byte offset, e.g. "malformed GGUF 'x.gguf': metadata entry 3 ('general.name')
 * value at offset 152: string length 4294967296 is more than the 3848 bytes left in the file". A file that ends
 * before the last tensor's data does is reported as truncated, naming the tensor. The file is never modified.
 * *out is caller frees with llamac_gguf_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_IO (missing, a directory, unreadable, a missing shard),
 * LLAMAC_E_MODEL_LOAD (not GGUF, malformed, truncated, inconsistent shards), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_open(const char *path, llamac_gguf **out);

/* As llamac_gguf_open, from `size` bytes in memory holding a whole GGUF file (borrowed for the call; the handle
 * keeps what it needs). Shards are not followed. Errors: as llamac_gguf_open, without LLAMAC_E_IO. Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_open_buffer(const void *data, size_t size, llamac_gguf **out);

/* Releases the handle. NULL is a no-op. One thread per handle (no other call may use it meanwhile). */
LLAMAC_API void llamac_gguf_free(llamac_gguf *gguf);

/* What a GGUF file says about itself. Numbers that the file does not give are 0; strings it does not give are
 * NULL. All strings are owned by the handle, valid until llamac_gguf_free. */
typedef struct llamac_gguf_info {
    uint32_t version;           /* GGUF format version (2 or 3) */
    uint32_t n_shards;          /* files of a split model, 1 otherwise */
    uint32_t split_no;          /* split.no of the file that was opened (0 for the first shard or a whole file) */
    uint64_t file_size;         /* bytes, all shards */
    uint64_t metadata_size;     /* bytes before the tensor data (first file) */
    uint32_t alignment;         /* of the tensor data: general.alignment or 32 */
    size_t n_kv;                /* metadata entries (first file) */
    size_t n_tensors;           /* all shards */
    uint64_t n_params;          /* elements of all tensors */
    uint64_t tensor_bytes;      /* bytes of tensor data, without padding */
    const char *architecture;   /* general.architecture */
    const char *name;           /* general.name */
    int32_t file_type;          /* general.file_type (an llamac_ftype), -1 when absent */
    const char *file_type_name; /* llama.cpp's name of file_type, e.g. "Q4_K - Medium"; NULL when absent */
    uint32_t n_ctx_train;       /* ARCH.context_length */
    uint32_t n_embd;            /* ARCH.embedding_length */
    uint32_t n_layer;           /* ARCH.block_count */
    uint32_t n_ff;              /* ARCH.feed_forward_length (the largest, when given per layer) */
    uint32_t n_head;            /* ARCH.attention.head_count (the largest, when given per layer) */
    uint32_t n_head_kv;         /* ARCH.attention.head_count_kv, else n_head */
    uint32_t head_dim_k;        /* ARCH.attention.key_length, else n_embd / n_head */
    uint32_t head_dim_v;        /* ARCH.attention.value_length, else n_embd / n_head */
    uint32_t n_expert;          /* ARCH.expert_count */
    const char *tokenizer;      /* tokenizer.ggml.model, e.g. "llama", "gpt2" */
    uint32_t n_vocab;           /* elements of tokenizer.ggml.tokens */
    const char *chat_template;  /* tokenizer.chat_template */
} llamac_gguf_info;

/* Fills *out. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs). Thread-safe (reads only). */
LLAMAC_API llamac_status llamac_gguf_get_info(const llamac_gguf *gguf, llamac_gguf_info *out);

/* One metadata entry, or one element of an array entry. */
typedef struct llamac_gguf_kv {
    const char *key;            /* owned by the handle, valid until llamac_gguf_free */
    llamac_gguf_type type;      /* LLAMAC_GGUF_ARRAY for an array */
    llamac_gguf_type elem_type; /* the type of an array's elements; equal to `type` for a single value */
    uint64_t n;                 /* elements of an array; 1 for a single value */
    int64_t int_value;          /* the value of a signed integer (i8 .. i64) or a bool (0 or 1) */
    uint64_t uint_value;        /* the value of an unsigned integer (u8 .. u64) */
    double float_value;         /* the value of an f32 or f64 */
    const char *str_value;      /* a string (NUL-terminated, owned by the handle); NULL for other types */
    size_t str_len;
} llamac_gguf_kv;

/* Number of metadata entries (of the first file). 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_gguf_kv_count(const llamac_gguf *gguf);

/* Entry `i` into *out; an array's elements are read with llamac_gguf_arr_at. Errors: LLAMAC_E_INVALID_ARGUMENT
 * (NULLs, i out of range). Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_kv_at(const llamac_gguf *gguf, size_t i, llamac_gguf_kv *out);

/* Element `j` of array entry `i`, as a single value of the array's element type (key: the array's).
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, i or j out of range, entry i is not an array). Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_arr_at(const llamac_gguf *gguf, size_t i, uint64_t j, llamac_gguf_kv *out);

/* The index of metadata key `key` (NUL-terminated, borrowed) into *index. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_NOT_FOUND. Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_find_key(const llamac_gguf *gguf, const char *key, size_t *index);

/* One tensor of the table. */
typedef struct llamac_gguf_tensor {
    const char *name;      /* owned by the handle, valid until llamac_gguf_free */
    int32_t type;          /* ggml type number (an llamac_tensor_type for the types quantization writes) */
    const char *type_name; /* ggml's name of the type, e.g. "f32", "q4_K"; owned by the library */
    uint32_t n_dims;
    int64_t ne[4]; /* elements per dimension; 1 beyond n_dims */
    uint64_t n_elements;
    uint64_t size;   /* bytes of data */
    uint64_t offset; /* byte offset of the data in its file */
    uint32_t shard;  /* which file of a split model holds it, from 0 */
} llamac_gguf_tensor;

/* Number of tensors (all shards). 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_gguf_tensor_count(const llamac_gguf *gguf);

/* Tensor `i` (in file order, shard after shard) into *out. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_tensor_at(const llamac_gguf *gguf, size_t i, llamac_gguf_tensor *out);

/* Model file types (llama.cpp's llama_ftype numbers): what llamac_quantize makes. The name in a comment is what
 * llamac_ftype_name gives and llamac_ftype_from_name reads (llama-quantize's names). */
typedef enum llamac_ftype {
    LLAMAC_FTYPE_F32 = 0,        /* "F32" */
    LLAMAC_FTYPE_F16 = 1,        /* "F16" */
    LLAMAC_FTYPE_Q4_0 = 2,       /* "Q4_0" */
    LLAMAC_FTYPE_Q4_1 = 3,       /* "Q4_1" */
    LLAMAC_FTYPE_Q8_0 = 7,       /* "Q8_0" */
    LLAMAC_FTYPE_Q5_0 = 8,       /* "Q5_0" */
    LLAMAC_FTYPE_Q5_1 = 9,       /* "Q5_1" */
    LLAMAC_FTYPE_Q2_K = 10,      /* "Q2_K" */
    LLAMAC_FTYPE_Q3_K_S = 11,    /* "Q3_K_S" */
    LLAMAC_FTYPE_Q3_K_M = 12,    /* "Q3_K_M" (also read as "Q3_K") */
    LLAMAC_FTYPE_Q3_K_L = 13,    /* "Q3_K_L" */
    LLAMAC_FTYPE_Q4_K_S = 14,    /* "Q4_K_S" */
    LLAMAC_FTYPE_Q4_K_M = 15,    /* "Q4_K_M" (also read as "Q4_K") */
    LLAMAC_FTYPE_Q5_K_S = 16,    /* "Q5_K_S" */
    LLAMAC_FTYPE_Q5_K_M = 17,    /* "Q5_K_M" (also read as "Q5_K") */
    LLAMAC_FTYPE_Q6_K = 18,      /* "Q6_K" */
    LLAMAC_FTYPE_IQ2_XXS = 19,   /* "IQ2_XXS" */
    LLAMAC_FTYPE_IQ2_XS = 20,    /* "IQ2_XS" */
    LLAMAC_FTYPE_Q2_K_S = 21,    /* "Q2_K_S" */
    LLAMAC_FTYPE_IQ3_XS = 22,    /* "IQ3_XS" */
    LLAMAC_FTYPE_IQ3_XXS = 23,   /* "IQ3_XXS" */
    LLAMAC_FTYPE_IQ1_S = 24,     /* "IQ1_S" */
    LLAMAC_FTYPE_IQ4_NL = 25,    /* "IQ4_NL" */
    LLAMAC_FTYPE_IQ3_S = 26,     /* "IQ3_S" */
    LLAMAC_FTYPE_IQ3_M = 27,     /* "IQ3_M" */
    LLAMAC_FTYPE_IQ2_S = 28,     /* "IQ2_S" */
    LLAMAC_FTYPE_IQ2_M = 29,     /* "IQ2_M" */
    LLAMAC_FTYPE_IQ4_XS = 30,    /* "IQ4_XS" */
    LLAMAC_FTYPE_IQ1_M = 31,     /* "IQ1_M" */
    LLAMAC_FTYPE_BF16 = 32,      /* "BF16" */
    LLAMAC_FTYPE_TQ1_0 = 36,     /* "TQ1_0" */
    LLAMAC_FTYPE_TQ2_0 = 37,     /* "TQ2_0" */
    LLAMAC_FTYPE_MXFP4_MOE = 38, /* "MXFP4_MOE" */
    LLAMAC_FTYPE_Q1_0 = 40,      /* "Q1_0" */
    LLAMAC_FTYPE_Q2_0 = 41,      /* "Q2_0" */
    LLAMAC_FTYPE_COPY = 1000     /* "COPY": every tensor copied unchanged (llama.cpp's only_copy) */
} llamac_ftype;

/* Number of file types, and file type `i` (0 <= i < count, in llama-quantize's order) into *out.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (out NULL, i out of range). Thread-safe. */
LLAMAC_API size_t llamac_ftype_count(void);
LLAMAC_API llamac_status llamac_ftype_at(size_t i, llamac_ftype *out);

/* Reads a file type from its name (case-insensitive: "q4_k_m", "Q4_K", "COPY") or its number ("15").
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs; an unknown name: the message lists the valid ones). Thread-safe. */
LLAMAC_API llamac_status llamac_ftype_from_name(const char *name, llamac_ftype *out);

/* The name of a file type ("Q4_K_M"), or NULL for a value that is not one. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_ftype_name(llamac_ftype ftype);

/* llama.cpp's description of a file type ("Q4_K - Medium"; "copy" for LLAMAC_FTYPE_COPY), or NULL for a value
 * that is not one. Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_ftype_describe(llamac_ftype ftype);

/* Tensor types that quantization can write (ggml's type numbers). LLAMAC_TYPE_DEFAULT leaves the choice to the
 * file type. */
typedef enum llamac_tensor_type {
    LLAMAC_TYPE_DEFAULT = -1,
    LLAMAC_TYPE_F32 = 0,
    LLAMAC_TYPE_F16 = 1,
    LLAMAC_TYPE_Q4_0 = 2,
    LLAMAC_TYPE_Q4_1 = 3,
    LLAMAC_TYPE_Q5_0 = 6,
    LLAMAC_TYPE_Q5_1 = 7,
    LLAMAC_TYPE_Q8_0 = 8,
    LLAMAC_TYPE_Q2_K = 10,
    LLAMAC_TYPE_Q3_K = 11,
    LLAMAC_TYPE_Q4_K = 12,
    LLAMAC_TYPE_Q5_K = 13,
    LLAMAC_TYPE_Q6_K = 14,
    LLAMAC_TYPE_IQ2_XXS = 16,
    LLAMAC_TYPE_IQ2_XS = 17,
    LLAMAC_TYPE_IQ3_XXS = 18,
    LLAMAC_TYPE_IQ1_S = 19,
    LLAMAC_TYPE_IQ4_NL = 20,
    LLAMAC_TYPE_IQ3_S = 21,
    LLAMAC_TYPE_IQ2_S = 22,
    LLAMAC_TYPE_IQ4_XS = 23,
    LLAMAC_TYPE_IQ1_M = 29,
    LLAMAC_TYPE_BF16 = 30,
    LLAMAC_TYPE_TQ1_0 = 34,
    LLAMAC_TYPE_TQ2_0 = 35,
    LLAMAC_TYPE_MXFP4 = 39,
    LLAMAC_TYPE_NVFP4 = 40,
    LLAMAC_TYPE_Q1_0 = 41,
    LLAMAC_TYPE_Q2_0 = 42
} llamac_tensor_type;

/* Reads a tensor type from ggml's name, case-insensitive ("q6_K", "Q6_K", "bf16").
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs; a name that is not a type quantization can write: the message lists
 * them). Thread-safe. */
LLAMAC_API llamac_status llamac_tensor_type_from_name(const char *name, llamac_tensor_type *out);

/* ggml's name of any ggml type number (quantizable or not, e.g. "q4_K", "i32"), or NULL for a number that names no
 * type. Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_tensor_type_name(int32_t type);

/* A per-tensor type: every tensor whose name contains a match of `pattern` (an ECMAScript regular expression, as
 * std::regex_search in llama.cpp; "output", "blk\\..*\\.ffn_down") becomes `type`, instead of what the file type's
 * mixture chooses. The first matching override wins. It applies only when the file type quantizes (not F32, F16,
 * BF16, COPY), and, as in llama.cpp, a shape the type cannot hold falls back to a related type. */
typedef struct llamac_tensor_type_override {
    const char *pattern; /* NUL-terminated, borrowed for the call */
    llamac_tensor_type type;
} llamac_tensor_type_override;

typedef struct llamac_quantize_params {
    llamac_ftype ftype;             /* default LLAMAC_FTYPE_Q8_0 */
    int32_t n_threads;              /* 0 (default): one per hardware thread; the output does not depend on it */
    bool allow_requantize;          /* quantize tensors that are already quantized (quality suffers); false */
    bool quantize_output;           /* false keeps output.weight as it is (--leave-output-tensor); true */
    bool pure;                      /* every quantizable tensor the file type's own type, no mixture; false */
    bool keep_split;                /* as many output shards as the input has (see llamac_quantize); false */
    bool dry_run;                   /* plan and size only, write nothing (out may be NULL); false */
    const char *imatrix;            /* importance matrix file (llama-imatrix's GGUF or legacy .dat), or NULL;
                                       borrowed, NUL-terminated; its path is recorded in the output's
                                       quantize.imatrix.file as llama-quantize records it */
    llamac_tensor_type output_type; /* output.weight; LLAMAC_TYPE_DEFAULT (default): the mixture's choice */
    llamac_tensor_type token_embedding_type;         /* token_embd.weight; LLAMAC_TYPE_DEFAULT (default) */
    const llamac_tensor_type_override *tensor_types; /* borrowed for the call; n_tensor_types entries */
    size_t n_tensor_types;
    const int32_t *prune_layers; /* layers to drop (the rest are renumbered), any order; borrowed */
    size_t n_prune_layers;
    const llamac_kv_override *kv_overrides; /* metadata to set in the output, borrowed; as llama-quantize writes
                                               them, an int is stored as u32 (its absolute value) and a float as f32 */
    size_t n_kv_overrides;
    llamac_progress_fn progress; /* fraction of the input's tensor bytes done, called as each tensor starts
                                    and with 1.0 at the end; return false to cancel (the call then fails
                                    with LLAMAC_E_CANCELLED within one tensor and writes nothing); runs on
                                    the calling thread; must not call back into llamac. NULL: none */
    void *progress_user_data;
} llamac_quantize_params;

/* The defaults listed above. Thread-safe. */
LLAMAC_API llamac_quantize_params llamac_quantize_params_default(void);

/* One tensor of a quantization. */
typedef struct llamac_quantize_tensor {
    const char *name;  /* the name in the output (pruning renumbers layers); owned by the report */
    int32_t type_from; /* ggml type numbers: see llamac_tensor_type_name */
    int32_t type_to;
    int64_t ne[4];
    uint64_t size_from; /* bytes */
    uint64_t size_to;   /* bytes */
} llamac_quantize_tensor;

/* What a quantization did (or, for a dry run, would do). */
typedef struct llamac_quantize_report {
    size_t n_tensors;
    const llamac_quantize_tensor *tensors; /* in the order they are written; owned by the report */
    uint64_t n_params;                     /* elements of the output's tensors */
    uint64_t size_from;                    /* bytes of tensor data read (pruned layers excluded) */
    uint64_t size_to;                      /* bytes of tensor data written */
    uint64_t file_size_from;               /* the input, all shards */
    uint64_t file_size_to;                 /* the output, all shards; 0 for a dry run */
    uint32_t n_shards_to;                  /* output files (1 unless keep_split) */
    size_t n_fallback;                     /* tensors whose shape forced a type other than the mixture's */
    double ms;                             /* wall time of the call */
} llamac_quantize_report;

/* Quantizes the model `in` (a GGUF, or the first shard of a split model) to `out` with llama.cpp's
 * llama_model_quantize, so the output is byte-for-byte what llama-quantize writes for the same input and options.
 * Everything is checked before any work starts: the file types and tensor types, the patterns (compiled), the
 * pruned layers against the model's layer count, the kv overrides, the importance matrix (read and checked for
 * finite values and sizes), the output directory, and, from llama.cpp's own plan of every tensor's type (a dry run),
 * the combinations llama.cpp would refuse or abort on halfway: a quantized input without allow_requantize, a type
 * that needs an importance matrix without one (IQ1/IQ2/IQ3_XXS mixtures, Q2_K_S), a forced type whose block size
 * does not divide a tensor's rows. The output is written to a temporary file beside `out` ("OUT.tmp.XXXXXX") that
 * is renamed into place only when complete, so a failure, a full disk or a cancel never leaves a partial `out`, and
 * `in` is only read; `out` may not be `in` (compared by file identity, not by name). An existing `out` is replaced.
 * With keep_split, `out` is a prefix (a trailing ".gguf" is dropped) and the shards are "OUT-0000i-of-0000N.gguf".
 * Both paths are NUL-terminated and borrowed; params NULL means defaults. *report (report may be NULL) is caller
 * frees with llamac_quantize_report_free, and NULL on failure.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a bad parameter or combination: the message names it and the value),
 * LLAMAC_E_IO (input missing, output directory missing, out is in, a write failed: the message has the system's
 * reason, e.g. "No space left on device"), LLAMAC_E_MODEL_LOAD (malformed or truncated input, or llama.cpp refused
 * it; its reason in the message), LLAMAC_E_UNSUPPORTED (an input llama.cpp cannot quantize, e.g. an unknown
 * architecture), LLAMAC_E_CANCELLED, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_quantize(const char *in, const char *out, const llamac_quantize_params *params,
                                         llamac_quantize_report **report);

/* Releases a report. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_quantize_report_free(llamac_quantize_report *report);

typedef struct llamac_split_params {
    uint64_t max_bytes;          /* > 0: a shard ends before its tensor data (each tensor padded to 32 bytes) would pass
                                    this many bytes, as llama-gguf-split --split-max-size (2G is 2000000000); 0 (default):
                                    split by max_tensors */
    int32_t max_tensors;         /* when max_bytes is 0: tensors per shard; default 128, llama-gguf-split's */
    llamac_progress_fn progress; /* fraction of the tensor bytes written; return false to cancel; NULL: none */
    void *progress_user_data;
} llamac_split_params;

/* max_bytes 0, max_tensors 128, no progress. Thread-safe. */
LLAMAC_API llamac_split_params llamac_split_params_default(void);

/* Splits the model `in` into shards "PREFIX-00001-of-0000N.gguf", ... beside each other, byte-for-byte what
 * llama-gguf-split --split writes: all metadata in the first shard, then split.no, split.count and
 * split.tensors.count in every shard, tensors in file order, data aligned to 32 bytes. One difference: a first
 * tensor larger than max_bytes gets a shard of its own where llama-gguf-split refuses. `in` may itself be the first
 * shard of a split model. A trailing ".gguf" of `out_prefix` is dropped. Each shard goes to a temporary file; all
 * are renamed into place only when every one is complete. *n_shards (may be NULL) receives the number written.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, max_tensors < 1 with max_bytes 0, more than 65535 shards),
 * LLAMAC_E_IO (unreadable input, a write failed, an output that is an input), LLAMAC_E_MODEL_LOAD (malformed input; an
 * alignment other than 32, which llama-gguf-split cannot write), LLAMAC_E_CANCELLED, LLAMAC_E_NO_MEMORY. Thread-safe.
 */
LLAMAC_API llamac_status llamac_gguf_split(const char *in, const char *out_prefix, const llamac_split_params *params,
                                           uint32_t *n_shards);

/* Merges a split model, given its first shard, into one file `out`, byte-for-byte what llama-gguf-split --merge
 * writes: the first shard's metadata with split.count set to 0, then every shard's tensors in order. The shards are
 * checked first: their names, split.no and split.count, no tensor twice. Written through a temporary file renamed
 * into place; an existing `out` is replaced, but never a shard. Paths NUL-terminated, borrowed. progress as in
 * llamac_split_params (may be NULL). Errors: as llamac_gguf_split, and LLAMAC_E_MODEL_LOAD for a file that is not
 * the first shard of a split model. Thread-safe. */
LLAMAC_API llamac_status llamac_gguf_merge(const char *first_shard, const char *out, llamac_progress_fn progress,
                                           void *user_data);

/* The path of shard `i` (from 0) of `n`: "PREFIX-0000{i+1}-of-0000{n}.gguf" (prefix NUL-terminated, borrowed).
 * *out is caller frees with llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, i >= n, n > 99999),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_split_path(const char *prefix, uint32_t i, uint32_t n, char **out);

/* ---------------------------------------------------------------------------------------------------------------
 * Chat templates
 * ------------------------------------------------------------------------------------------------------------- */

/* A chat template: the Jinja source a model carries (tokenizer.chat_template) turned into a prompt for a
 * conversation. llamac renders the real template with its own engine for the Jinja2 subset Hugging Face templates
 * use, with the behaviour of llama.cpp's engine (common/jinja), byte for byte: no template is guessed or replaced.
 * Rendering is bounded: output size, working memory, evaluation steps and nesting (100 macro calls deep, 1000
 * levels of evaluation; about 1 MiB of stack) have limits, and exceeding one is an error, never a crash. */
typedef struct llamac_template llamac_template;

/* Parses `len` bytes of UTF-8 template source (borrowed; need not be NUL-terminated). BOS/EOS default to "".
 * *out is caller frees with llamac_template_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_UTF8,
 * LLAMAC_E_TEMPLATE (a syntax error: "chat template line 3, column 7: expected %}, got 'foo'"), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_template_new(const char *source, size_t len, llamac_template **out);

/* Parses the chat template stored in `model` (borrowed; not referenced afterwards): `name` NULL for the default,
 * or a variant such as "tool_use" (NUL-terminated, borrowed). The model's BOS and EOS token texts become the
 * template's bos_token and eos_token (as llama.cpp passes them; "" when the vocabulary has none). *out is caller
 * frees with llamac_template_free. Errors: as llamac_template_new, plus LLAMAC_E_NOT_FOUND (no such template; there
 * is no fallback to another template). Thread-safe. */
LLAMAC_API llamac_status llamac_template_from_model(const llamac_model *model, const char *name, llamac_template **out);

/* Frees a template. NULL is a no-op. One thread per handle (no render may be running on it). */
LLAMAC_API void llamac_template_free(llamac_template *tmpl);

/* What a render gets. The JSON texts are NUL-terminated and borrowed for the call. The template sees, in this order:
 * messages, tools (only when tools_json is given), bos_token, eos_token, add_generation_prompt, then each key of
 * kwargs_json, which may replace any of those. Messages are rendered as given: OpenAI-format content strings,
 * tool_calls with "arguments" as an object or a string, whatever the template expects. */
typedef struct llamac_template_inputs {
    const char *messages_json;  /* required: a JSON array of messages, e.g. [{"role":"user","content":"Hi"}] */
    const char *tools_json;     /* a JSON array of tools (OpenAI format), or NULL */
    const char *kwargs_json;    /* a JSON object of extra variables, e.g. {"enable_thinking": false}, or NULL */
    bool add_generation_prompt; /* end with the start of an assistant turn (default true) */
    const char *bos_token;      /* NULL: the template's (the model's BOS text, or "") */
    const char *eos_token;      /* NULL: the template's */
    int64_t now;                /* the time strftime_now() formats, in seconds since the epoch, shown in the local
                                   time zone; 0 (default): the current time */
    size_t max_output;          /* bytes the output, or any string made while rendering, may reach; 0: 64 MiB */
    size_t max_memory;          /* bytes of working memory; 0: 1 GiB */
    uint64_t max_steps;         /* evaluation steps (a bound on time); 0: 100 million */
} llamac_template_inputs;

/* The defaults above (messages_json NULL, which a render needs set). Thread-safe. */
LLAMAC_API llamac_template_inputs llamac_template_inputs_default(void);

/* Renders the prompt: *out is NUL-terminated, caller frees with llamac_free; *len (may be NULL) excludes the NUL.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, JSON that does not parse or is not an array / object; the message gives
 * the line and column), LLAMAC_E_UTF8 (bos/eos text), LLAMAC_E_TEMPLATE (raise_exception in the template, an
 * unknown filter or test, a type error, an unsupported construct, a limit, output that is not valid UTF-8; the
 * message names the template line and column and the construct: "chat template line 7, column 12:
 * raise_exception: System role not supported"), LLAMAC_E_NO_MEMORY. Thread-safe (any number of threads may render
 * the same template at once). */
LLAMAC_API llamac_status llamac_template_render(const llamac_template *tmpl, const llamac_template_inputs *in,
                                                char **out, size_t *len);

/* ---------------------------------------------------------------------------------------------------------------
 * Synthetic models
 * ------------------------------------------------------------------------------------------------------------- */

/* Weight types llamac_synth_write can write. Matrices and embeddings take this type; 1-D tensors (norms, biases)
 * and bert's position and token-type embeddings are always F32, as llama.cpp's converters write them. */
typedef enum llamac_synth_type { LLAMAC_SYNTH_F32 = 0, LLAMAC_SYNTH_F16 = 1 } llamac_synth_type;

/* What llamac_synth_write makes: a complete GGUF of a real architecture with seeded random weights, for tests and
 * benchmarks. Every number left at 0 (and every pointer left NULL) takes the value of the preset named in `like`,
 * or, without a preset, the architecture's small default given in brackets; a field that is set overrides the
 * preset. All strings are borrowed and NUL-terminated.
 *
 * Weights: each tensor has its own xoshiro256** stream, seeded by splitmix64 from `seed` and the tensor's name, so
 * the file depends only on these parameters, and the layers a smaller model shares with a larger one are equal.
 * Matrices, embeddings and biases are approximately normal with standard deviation `init_std` (the sum of four
 * uniform 16-bit draws, centred and scaled to unit variance, so bounded by +-3.47 std); norm weights are 1 and
 * norm biases 0. With the default 0.02 every forward pass gives finite logits and embeddings. */
typedef struct llamac_synth_params {
    const char *arch;       /* "llama", "qwen2", "qwen3" or "bert" (see llamac_synth_arch_name); [the preset's,
                               else "llama"] */
    const char *like;       /* a preset (see llamac_synth_preset_name), e.g. "qwen2.5-0.5b"; [none] */
    const char *vocab_from; /* a GGUF whose tokenizer.* metadata (tokens, merges, special ids, chat templates) is
                               copied, e.g. llama.cpp's models/ggml-vocab-qwen2.gguf; required by _write */
    const char *name;       /* general.name; ["synthetic " + the preset or architecture] */
    int32_t n_layer;        /* [2] */
    int32_t n_embd;         /* [64] */
    int32_t n_head;         /* [4] */
    int32_t n_head_kv;      /* [n_head]; must divide n_head; bert: equal to n_head */
    int32_t head_dim;       /* [n_embd / n_head]; even for the rotary archs; qwen2 and bert need
                               head_dim * n_head == n_embd */
    int32_t n_ff;           /* feed-forward size [4 * n_embd] */
    int32_t n_ctx_train;    /* training context [2048; bert 512] */
    float rope_theta;       /* RoPE base frequency [10000; qwen2, qwen3 1000000]; not for bert */
    float norm_eps;         /* RMS-norm epsilon [1e-5; qwen2, qwen3 1e-6], bert: layer-norm epsilon [1e-12] */
    int32_t n_cls_out;      /* bert only: > 0 adds a classification head with this many outputs and makes the
                               model a reranker (pooling rank); [0: an embedding model, pooling mean] */
    bool untied_output;     /* decoders: write a separate output.weight instead of reusing token_embd; [false,
                               as all the presets]. Tied, random weights make greedy decoding repeat the last
                               token; untied, they give varied text */
    uint64_t seed;          /* [0] */
    float init_std;         /* standard deviation of the random weights, at most 1; [0.02] */
    llamac_synth_type type; /* [LLAMAC_SYNTH_F32] */
} llamac_synth_params;

/* All fields 0/NULL (so: a 2-layer, 64-wide llama unless a preset is named), F32, seed 0. Thread-safe. */
LLAMAC_API llamac_synth_params llamac_synth_params_default(void);

/* Number of architectures llamac_synth_write can write. Thread-safe. */
LLAMAC_API size_t llamac_synth_arch_count(void);

/* Name of architecture `i` ("llama", ...), or NULL when `i` is out of range. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_synth_arch_name(size_t i);

/* File name of the vocabulary llama.cpp ships for an architecture in its source tree's models/ folder
 * ("ggml-vocab-llama-bpe.gguf" for llama, "ggml-vocab-qwen2.gguf" for qwen2 and qwen3, "ggml-vocab-bert-bge.gguf"
 * for bert), or NULL for an unknown architecture. Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_synth_default_vocab(const char *arch);

/* Number of presets. Thread-safe. */
LLAMAC_API size_t llamac_synth_preset_count(void);

/* Name of preset `i` ("qwen2.5-0.5b", "qwen3-0.6b", "llama-3.2-1b", "bge-small"), or NULL when `i` is out of
 * range. A preset copies the hyperparameters of that model family's real model (not its weights; llama 3.2's
 * RoPE frequency scaling is not reproduced). Owned by the library, valid forever. Thread-safe. */
LLAMAC_API const char *llamac_synth_preset_name(size_t i);

/* Resolves `params` (NULL: defaults) as llamac_synth_write would: the preset, then the explicit fields, then the
 * defaults, and validates the shape, so *out has every field filled in (arch and name point to library-owned
 * strings or to the caller's, which stay borrowed; vocab_from is passed through unchecked).
 * Errors: LLAMAC_E_INVALID_ARGUMENT (out NULL, an unknown preset or architecture, a value out of range or a shape
 * the architecture cannot have; the message names the field and the values). Thread-safe. */
LLAMAC_API llamac_status llamac_synth_resolve(const llamac_synth_params *params, llamac_synth_params *out);

/* Writes the synthetic model described by `params` to `path` (NUL-terminated, borrowed), through a temporary file
 * beside it that is renamed into place, so a failed call never leaves a partial file. The same parameters always
 * give the same bytes (no clock, no addresses). The metadata is llamac's own in a fixed order followed by the
 * vocabulary's tokenizer.* keys in that file's order.
 * Errors: as llamac_synth_resolve, plus LLAMAC_E_INVALID_ARGUMENT (path NULL, no vocab_from, a vocabulary without
 * tokens), LLAMAC_E_IO (the vocabulary cannot be opened, the output cannot be written), LLAMAC_E_MODEL_LOAD (the
 * vocabulary is not a GGUF file; llama.cpp's reason in the message), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_synth_write(const char *path, const llamac_synth_params *params);

/* ---------------------------------------------------------------------------------------------------------------
 * Chat sessions
 * ------------------------------------------------------------------------------------------------------------- */
/* A chat session: a conversation (system prompt, turns, tool calls and results) bound to one sequence of a
 * context. Each llamac_chat_generate renders the whole conversation with the real chat template, tokenizes it and
 * decodes only the tokens after the longest common prefix with what the sequence already holds, so the system
 * prompt and earlier turns are evaluated once. Text inside messages never becomes special tokens ("<|im_end|>"
 * typed by a user stays plain text); only the template's own markers do. Generation stops at the vocabulary's
 * end-of-generation tokens and at the template's end-of-turn text (e.g. "<|im_end|>"). When the next prompt plus a
 * reserve for the reply no longer fits, the oldest turns are evicted (the system prompt and the last
 * keep_last_turns turns stay) instead of failing. The session uses its sequence exclusively: do not decode into it
 * while the session lives. */
typedef struct llamac_chat llamac_chat;

typedef struct llamac_chat_params {
    /* The system prompt, NUL-terminated, borrowed for the call (copied); NULL: none. */
    const char *system_prompt;
    /* Jinja source, NUL-terminated, borrowed (copied); NULL: the model's default template. */
    const char *template_source;
    /* A JSON object of extra template variables, e.g. {"enable_thinking":false}; borrowed (copied); NULL: none. */
    const char *template_kwargs_json;
    /* A JSON array of tools (OpenAI format) offered to the model; borrowed (copied); NULL: none. */
    const char *tools_json;
    /* Turns (a user message and what follows it) kept when the context fills; >= 1, default 2. */
    int32_t keep_last_turns;
    /* Room kept free for the reply when deciding to evict; 0 (default): max_tokens, at most half the context (a
     * quarter when max_tokens is -1). */
    int32_t reserve_tokens;
    /* max_tokens, stop strings, sampling (copied), sampler (borrowed: must outlive the session), ignore_eog, and
     * seq: the session's sequence. tokenize_flags, on_text and user_data are not used. */
    llamac_generate_params generate;
} llamac_chat_params;

/* Defaults: no system prompt, the model's template, keep_last_turns 2, llamac_generate_params_default() (seq 0,
 * 256 tokens). Thread-safe. */
LLAMAC_API llamac_chat_params llamac_chat_params_default(void);

/* Creates a session on sequence params->generate.seq of `ctx` (borrowed: it must outlive the session). The
 * sequence is not touched until the first generation (which reuses nothing it did not decode itself). params NULL
 * means defaults. *out is caller frees with llamac_chat_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a value out
 * of range, kwargs/tools JSON that does not parse), LLAMAC_E_UTF8, LLAMAC_E_NOT_FOUND (no template given and the
 * model has none), LLAMAC_E_TEMPLATE (the template does not parse or cannot render a simple conversation),
 * LLAMAC_E_NO_MEMORY. One thread per handle (the context's). */
LLAMAC_API llamac_status llamac_chat_new(llamac_context *ctx, const llamac_chat_params *params, llamac_chat **out);

/* Frees a session. The KV cache of its sequence is left as it is. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_chat_free(llamac_chat *chat);

/* Appends a message with `role` ("user", "assistant" or "tool"; NUL-terminated, borrowed) and `len` bytes of UTF-8
 * `content` (borrowed, copied). Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, another role), LLAMAC_E_UTF8,
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_add(llamac_chat *chat, const char *role, const char *content, size_t len);

/* Appends one OpenAI-format message given as a JSON object (NUL-terminated, borrowed), e.g. an assistant message
 * with "tool_calls" or a tool result {"role":"tool","tool_call_id":"c1","content":"..."}. "role" must be "user",
 * "assistant" or "tool"; "content" a string or null (content-part arrays are not supported). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (not JSON, not an object, a bad role or content; the message says which),
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_add_json(llamac_chat *chat, const char *message_json);

/* Sets (or, with text NULL, removes) the system prompt: `len` bytes of UTF-8, borrowed, copied. The next
 * generation re-evaluates the conversation from the first token that changed. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_UTF8, LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_set_system(llamac_chat *chat, const char *text, size_t len);

/* Removes every message but the system prompt. The cached tokens stay, so the system prompt is not evaluated
 * again. One thread per handle. */
LLAMAC_API void llamac_chat_clear(llamac_chat *chat);

/* Number of messages, the system prompt included. 0 for NULL. One thread per handle. */
LLAMAC_API size_t llamac_chat_n_messages(const llamac_chat *chat);

/* The conversation as an OpenAI-format JSON array of messages (the system prompt first, when set). *out is
 * NUL-terminated, caller frees with llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. One thread
 * per handle. */
LLAMAC_API llamac_status llamac_chat_messages_json(const llamac_chat *chat, char **out);

/* The prompt the next llamac_chat_generate would evaluate: the conversation rendered with the generation prompt
 * (text: *text NUL-terminated, *len may be NULL; tokens: as tokenized for the model, BOS included when the model
 * adds one). Either out pair may be NULL. Outputs are caller frees with llamac_free. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TEMPLATE, LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_prompt(llamac_chat *chat, char **text, size_t *len, llamac_token **tokens,
                                            size_t *n_tokens);

/* What a llamac_chat_generate did. */
typedef struct llamac_chat_result {
    llamac_generate_result gen; /* as llamac_generate: finish reason, timings; gen.n_prompt_tokens is the whole
                                   rendered prompt */
    int32_t n_reused_tokens;    /* prompt tokens that were already in the KV cache */
    int32_t n_decoded_tokens;   /* prompt tokens evaluated by this call (n_prompt_tokens - n_reused_tokens) */
    int32_t n_evicted_messages; /* messages dropped to make room, this call */
} llamac_chat_result;

/* Generates the assistant's reply to the conversation (whose last message must be from the user or a tool),
 * streaming it through `on_text` (may be NULL; runs on this thread, as for llamac_generate) and appending it to the
 * conversation as an assistant message, even when stopped early (a cancelled reply keeps what was generated).
 * *result (may be NULL) is filled even when the call fails. Errors: LLAMAC_E_INVALID_ARGUMENT (no user or tool
 * message to answer), LLAMAC_E_TEMPLATE, LLAMAC_E_CONTEXT_FULL (even the system prompt and the last turn do not
 * fit), LLAMAC_E_DECODE, and the errors of llamac_generate; on an error the conversation is unchanged but turns
 * may have been evicted. Stopping at the end of the turn, the limit, the callback or llamac_ctx_cancel() is
 * success. One thread per handle (context and sampler). */
LLAMAC_API llamac_status llamac_chat_generate(llamac_chat *chat, llamac_text_fn on_text, void *user_data,
                                              llamac_chat_result *result);

/* Saves the conversation and its sequence's KV cache to `path` (NUL-terminated, borrowed), through a temporary
 * file renamed into place. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_IO, LLAMAC_E_NO_MEMORY. One thread per
 * handle. */
LLAMAC_API llamac_status llamac_chat_save(llamac_chat *chat, const char *path);

/* Restores a session saved by llamac_chat_save (messages, system prompt, KV cache), so the next turn decodes only
 * the new message. Everything is validated first (magic, version, checksum, the model's fingerprint, the context
 * size, the messages); on any error the session and the context are left exactly as they were. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_IO, LLAMAC_E_STATE (another model, a corrupt or truncated file; the message
 * says which), LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_load(llamac_chat *chat, const char *path);

/* ---------------------------------------------------------------------------------------------------------------
 * Incremental prefill
 * ------------------------------------------------------------------------------------------------------------- */
/* Incremental prefill: while a user types a message, the conversation plus the partial message is decoded into
 * the chat session's sequence, so that pressing Enter leaves only the last few tokens (and the template's
 * generation prompt) for llamac_chat_generate. Each update renders the partial message through the real template,
 * trims the sequence from the first token that changed (an edit), and queues the tokens that are stable: those
 * before the end of the message's text, less a margin (BPE can still merge the last tokens with the next
 * character); without speculation (below), nothing of the template's text after the message is decoded early. Decoding
 * happens in bounded steps (llamac_prefill_step) so a UI thread never waits long; the result is exact: the
 * session's reply is the one a non-incremental turn on the same final prompt gives, since the final generation
 * decodes from the longest common prefix of the real prompt with what the sequence holds.
 * Speculation (on by default): once the stable tokens are decoded (the user paused), the steps go on with the rest
 * of the render as if the message were final (the margin tokens, the template's text after the message and the
 * generation prompt), all but its last token, into the same sequence. If Enter comes with that text, the
 * generation decodes only the prompt's last token (one single-token step); if the user types again, the
 * speculative tokens that changed are trimmed like any edit and counted as wasted. */
typedef struct llamac_prefill llamac_prefill;

typedef struct llamac_prefill_params {
    int32_t margin;      /* tokens withheld before the end of the message's text; >= 0, default 2 */
    int32_t step_tokens; /* most tokens one llamac_prefill_step decodes; 1..512, default 16 */
    bool speculate;      /* after the stable tokens, queue the rest of the prompt but its last token; default true */
} llamac_prefill_params;

/* Defaults: margin 2, step_tokens 16, speculate true. Thread-safe. */
LLAMAC_API llamac_prefill_params llamac_prefill_params_default(void);

/* Creates a prefill bound to `chat` (borrowed: it must outlive the prefill, which decodes into its sequence).
 * params NULL means defaults. *out is caller frees with llamac_prefill_free. Errors: LLAMAC_E_INVALID_ARGUMENT
 * (NULLs, a value out of range), LLAMAC_E_NO_MEMORY. One thread per handle (the chat's). */
LLAMAC_API llamac_status llamac_prefill_new(llamac_chat *chat, const llamac_prefill_params *params,
                                            llamac_prefill **out);

/* Frees a prefill; what it decoded stays in the chat's sequence (the next generation reuses what still matches).
 * NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_prefill_free(llamac_prefill *pf);

/* The message typed so far is `len` bytes of UTF-8 `text` (borrowed). Renders the conversation with it as a user
 * message, removes from the sequence every token from the first one that no longer matches, and queues the stable
 * tokens for llamac_prefill_step. Decodes nothing itself (only the template render and tokenization run). Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8 (text, or text cut inside a character), LLAMAC_E_TEMPLATE,
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_prefill_update(llamac_prefill *pf, const char *text, size_t len);

/* Decodes up to step_tokens queued tokens into the chat's sequence. *n_left (may be NULL) is set to the tokens
 * still queued afterwards (0: caught up). llamac_ctx_cancel() stops the step (LLAMAC_E_CANCELLED; the tokens of
 * the stopped batch are dropped and stay queued). Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_CANCELLED,
 * LLAMAC_E_CONTEXT_FULL, LLAMAC_E_DECODE. One thread per handle. */
LLAMAC_API llamac_status llamac_prefill_step(llamac_prefill *pf, size_t *n_left);

/* Tokens queued and not decoded yet (with speculation, the speculative ones included). 0 for NULL. One thread
 * per handle. */
LLAMAC_API size_t llamac_prefill_pending(const llamac_prefill *pf);

/* Drops the queue (a cancel): decoded tokens stay in the sequence. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_prefill_cancel(llamac_prefill *pf);

/* Enter: adds `text` (`len` bytes of UTF-8, borrowed, copied) to the chat as the user message and empties the
 * queue, so that llamac_chat_generate decodes only what the sequence does not hold yet. Records in the statistics
 * how many of the final prompt's tokens are already decoded. Errors: as llamac_chat_add, LLAMAC_E_TEMPLATE. One
 * thread per handle. */
LLAMAC_API llamac_status llamac_prefill_flush(llamac_prefill *pf, const char *text, size_t len);

/* What a prefill did since it was created (or its statistics were reset). */
typedef struct llamac_prefill_stats {
    int64_t n_updates;      /* llamac_prefill_update calls */
    int64_t n_decoded;      /* tokens decoded by llamac_prefill_step (speculative ones included) */
    int64_t n_invalidated;  /* tokens removed from the sequence because an edit changed them (wasted work) */
    int64_t n_spec_decoded; /* of n_decoded, the speculative tokens (past the stable ones) */
    int64_t n_spec_wasted;  /* of n_invalidated, speculative tokens */
    int64_t n_spec_used;    /* over the flushes: speculative tokens that the final prompt used */
    int64_t n_flushes;      /* llamac_prefill_flush calls */
    int64_t n_reused;       /* over the flushes: tokens of the final prompt already in the sequence at Enter */
    int64_t n_remaining;    /* over the flushes: tokens of the final prompt left for llamac_chat_generate */
    int32_t last_reused;    /* the last flush's n_reused */
    int32_t last_remaining; /* the last flush's n_remaining */
} llamac_prefill_stats;

/* Fills *out (all zero for NULL pf). With `reset`, zeroes the counters afterwards. One thread per handle. */
LLAMAC_API void llamac_prefill_get_stats(llamac_prefill *pf, llamac_prefill_stats *out, bool reset);

/* ---------------------------------------------------------------------------------------------------------------
 * JSON Schema to grammar
 * ------------------------------------------------------------------------------------------------------------- */
/* JSON Schema -> GBNF. A schema (JSON text) becomes a GBNF grammar whose sentences are JSON texts valid under the
 * schema, for llamac_sampler_add_grammar. Enforced: type (one or a list), properties, required,
 * additionalProperties (boolean or schema), items, prefixItems (and draft-4 items arrays with additionalItems),
 * minItems/maxItems, enum, const, anyOf/oneOf/allOf, $ref to local JSON pointers ("#", "#/$defs/x",
 * "#/definitions/x", ...; recursive schemas become recursive rules), minLength/maxLength, pattern, format (date,
 * time, date-time, uuid), integer minimum/maximum/exclusiveMinimum/exclusiveMaximum.
 * Patterns are ECMA-262 as JSON Schema says (unanchored unless ^ and $ are given): literals, escapes (\d \w \s
 * \D \W \S \t \n \xHH \uHHHH ...), ".", classes with ranges and negation, groups ((...), (?:...), named),
 * alternation and the quantifiers ? * + {m} {m,} {m,n} (lazy forms too).
 * A grammar never rejects a valid instance, except for the choices a grammar must make: properties come in the
 * order of "properties", then additional ones; whitespace between tokens is llama.cpp's (none, one space, or one or
 * two newlines followed by up to 20 spaces/tabs); strings under pattern/format/enum/const use JSON's shortest
 * escapes; integers are written without fraction or exponent. A schema without "type" allows every type, each
 * constrained by the keywords that apply to it.
 * Relaxed (the grammar accepts a superset): oneOf is anyOf; allOf is merged keyword by keyword; number bounds,
 * multipleOf, uniqueItems, min/maxProperties, not, if/then/else, dependent*, contains, propertyNames and unknown
 * formats are ignored; patternProperties allows any additional key; lengths and counts above 256 are unbounded.
 * Refused with LLAMAC_E_SCHEMA, the message naming the keyword and its JSON pointer (e.g. "/properties/a/pattern"):
 * remote and anchor $refs, $dynamicRef, a $ref cycle without an object or array in between, patterns outside the
 * subset (lookaround, backreferences, \b, inner anchors, repeating what can match the empty string), \u0000 in
 * strings, and schemas that no value satisfies (false, minItems > maxItems, disjoint allOf types, ...). */

/* Options of the converter. */
typedef struct llamac_json_schema_params {
    const char *root_rule;   /* name of the rule matching an instance (borrowed; NULL: "root"); letters, digits and
                                '-' only. It is NOT prefixed with rule_prefix. */
    const char *rule_prefix; /* prepended to every other rule name (borrowed; NULL or "": none); letters, digits,
                                '-'. Use distinct prefixes to embed several schemas in one larger grammar. */
    bool dotall;             /* pattern "." also matches newlines (default false, like llama.cpp) */
    bool relax_patterns;     /* a pattern outside the supported regex subset accepts any string instead of failing
                                with LLAMAC_E_SCHEMA (default false; llama.cpp relaxes) */
} llamac_json_schema_params;

/* Default converter options: root rule "root", no prefix, dotall and relax_patterns false. Thread-safe. */
LLAMAC_API llamac_json_schema_params llamac_json_schema_params_default(void);

/* Converts the JSON Schema `schema` (`len` bytes of UTF-8 JSON, borrowed) into GBNF rules. *out_gbnf is a
 * NUL-terminated grammar, caller frees with llamac_free; it defines params->root_rule (default "root") and rules
 * named with params->rule_prefix, one per line, so it can be used alone or appended to a larger grammar that
 * refers to the root rule. The root rule matches the value alone, without whitespace before or after it.
 * `params` NULL means defaults.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL schema/out, a bad rule name), LLAMAC_E_UTF8, LLAMAC_E_SCHEMA (not JSON,
 * not an object/boolean, an unsupported or contradictory keyword; the message names it with its JSON pointer; a
 * schema that no instance can satisfy, e.g. false, minItems > maxItems, is also LLAMAC_E_SCHEMA),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_json_schema_to_grammar(const char *schema, size_t len,
                                                       const llamac_json_schema_params *params, char **out_gbnf);

/* A grammar for any JSON object (llamac run --json; response_format json_object), in the same form as
 * llamac_json_schema_to_grammar's output. *out_gbnf: caller frees with llamac_free. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_json_grammar(const llamac_json_schema_params *params, char **out_gbnf);

/* Tool calls.
 *
 * Models write tool calls in a format of their family's own (Hermes `<tool_call>{...}</tool_call>`, Mistral
 * `[TOOL_CALLS][...]`, ...). The format is detected from the chat template's source; the parser turns output into
 * an OpenAI-shaped message (content, reasoning_content, tool_calls) and never fails on what a model writes: text that
 * is not a well-formed call stays content. The stream parser does the same piece by piece, as OpenAI deltas, and
 * the concatenated deltas always equal the complete parse. A grammar forces a valid call for the offered tools. */

/* Tool-call formats. Explicit numbers; append-only. */
typedef enum llamac_tool_format {
    LLAMAC_TOOL_FORMAT_GENERIC = 0,     /* {"tool_calls":[{"name":..,"arguments":..}]} / {"response":..} */
    LLAMAC_TOOL_FORMAT_HERMES = 1,      /* Hermes 2/3, Qwen 2.5/3: <tool_call>{"name","arguments"}</tool_call> */
    LLAMAC_TOOL_FORMAT_LLAMA3 = 2,      /* Llama 3.x: {"name":..,"parameters":..} or <|python_tag|> */
    LLAMAC_TOOL_FORMAT_MISTRAL = 3,     /* Mistral Nemo: [TOOL_CALLS][{"name","arguments","id"}] */
    LLAMAC_TOOL_FORMAT_QWEN3_CODER = 4, /* <tool_call><function=f><parameter=p>v</parameter></function>... */
    LLAMAC_TOOL_FORMAT_DEEPSEEK_R1 = 5, /* <｜tool▁call▁begin｜>function<｜tool▁sep｜>name\n```json\n{}\n``` */
    LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1 = 6, /* <｜tool▁call▁begin｜>name<｜tool▁sep｜>{...}<｜tool▁call▁end｜> */
    LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2 = 7, /* >>>name\n{...} (the prompt ends in ">>>"), >>>all\ntext */
    LLAMAC_TOOL_FORMAT_COMMAND_R7B = 8,      /* <|START_ACTION|>[{"tool_name","parameters"}]<|END_ACTION|> */
    LLAMAC_TOOL_FORMAT_HARMONY = 9,          /* gpt-oss: <|channel|>commentary to=functions.f<|message|>{}<|call|> */
    LLAMAC_TOOL_FORMAT_MISTRAL_ARGS = 10     /* Mistral Small 3.2, Devstral, Ministral: [TOOL_CALLS]name[ARGS]{..} */
} llamac_tool_format;

/* Name of a format ("hermes", "llama3", ...); "unknown" for other values. Owned by the library, valid forever.
 * Thread-safe. */
LLAMAC_API const char *llamac_tool_format_name(llamac_tool_format format);

/* The format a model with this chat template writes tool calls in, found from markers in the template's source
 * (NUL-terminated, borrowed; NULL or a template without tool support gives LLAMAC_TOOL_FORMAT_GENERIC).
 * Never fails. Thread-safe. */
LLAMAC_API llamac_tool_format llamac_tool_format_detect(const char *template_source);

/* What happens to a model's thinking (<think>...</think>, Harmony's analysis channel, Command R's thinking). */
typedef enum llamac_reasoning_format {
    LLAMAC_REASONING_NONE = 0,    /* left in content, markers included */
    LLAMAC_REASONING_DEEPSEEK = 1 /* moved to reasoning_content, markers removed (llama.cpp's "deepseek") */
} llamac_reasoning_format;

/* How llamac_tool_parse and the stream read output. */
typedef struct llamac_tool_parse_params {
    llamac_tool_format format;         /* default GENERIC */
    llamac_reasoning_format reasoning; /* default DEEPSEEK */
    bool reasoning_open;   /* the prompt ended inside the thinking block (a template that opens <think> for the
                              model): output is reasoning until </think>. Default false */
    bool parse_tool_calls; /* false: only <think> reasoning is read, the rest is content (tool_choice "none";
                              keep true for harmony and command-r7b, whose replies are all markers). Default true */
} llamac_tool_parse_params;

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_tool_parse_params llamac_tool_parse_params_default(void);

/* One call: `id` is "call_" and 24 random alphanumerics, `arguments` a JSON object as text. All NUL-terminated. */
typedef struct llamac_tool_call {
    char *id;
    char *name;
    char *arguments;
} llamac_tool_call;

/* A parsed assistant message (from llamac_tool_parse: caller frees with llamac_tool_message_free). Strings are
 * NUL-terminated, never NULL (empty when absent); tool_calls is NULL when n_tool_calls is 0. */
typedef struct llamac_tool_message {
    char *content;
    char *reasoning_content;
    llamac_tool_call *tool_calls;
    size_t n_tool_calls;
} llamac_tool_message;

/* Frees a message and its strings. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_tool_message_free(llamac_tool_message *message);

/* Parses a complete model output (len bytes, borrowed) into *out, caller frees with llamac_tool_message_free.
 * Whatever the text, this succeeds: a call is recognised once its name is known and its arguments open; arguments
 * cut short (max_tokens) or broken are closed where they stop - after the last complete member, or inside a string
 * value - so they are a JSON object whenever the text is UTF-8, and the text after the break is content; anything
 * that never became a call is content, byte for byte.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL text with len > 0, NULL out, an unknown format or reasoning value),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_parse(const char *text, size_t len, const llamac_tool_parse_params *params,
                                           llamac_tool_message **out);

/* A streamed piece of an assistant message, shaped as OpenAI's chat.completion.chunk delta. */
typedef enum llamac_tool_delta_kind {
    LLAMAC_TOOL_DELTA_CONTENT = 0,   /* text: a piece of content */
    LLAMAC_TOOL_DELTA_REASONING = 1, /* text: a piece of reasoning_content */
    LLAMAC_TOOL_DELTA_CALL = 2       /* a piece of tool call `index`: id and name in its first delta, then text:
                                        a piece of its arguments (may be empty in the first delta) */
} llamac_tool_delta_kind;

typedef struct llamac_tool_delta {
    llamac_tool_delta_kind kind;
    size_t index;     /* the call's position in tool_calls (CALL only) */
    const char *id;   /* the call's id in its first delta, else NULL */
    const char *name; /* the call's name in its first delta, else NULL */
    const char *text; /* not NUL-terminated; whole UTF-8 characters */
    size_t len;
} llamac_tool_delta;

/* Receives one delta; everything in it is borrowed for the call. Runs on the thread that pushes; it must not use
 * the stream. Return false to stop the push early: the deltas not yet delivered come with the next push or finish
 * (a finish stopped this way drops them). */
typedef bool (*llamac_tool_delta_fn)(const llamac_tool_delta *delta, void *user_data);

typedef struct llamac_tool_stream llamac_tool_stream;

/* Creates a stream parser (params NULL: defaults). *out is caller frees with llamac_tool_stream_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_stream_new(const llamac_tool_parse_params *params, llamac_tool_stream **out);

/* Frees a stream. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_tool_stream_free(llamac_tool_stream *stream);

/* Feeds the next len bytes of output (borrowed; any cut, even inside a character) and delivers the deltas now
 * decided to `fn` (may be NULL). Text that might start a call marker is held back until it is decided; in the
 * generic format a reply that starts with '{' is decided only at the end. Each push parses all the text so far
 * again (linear in its length), so the deltas always add up to the complete parse.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL stream, NULL text with len > 0, push after finish), LLAMAC_E_NO_MEMORY.
 * One thread per handle. */
LLAMAC_API llamac_status llamac_tool_stream_push(llamac_tool_stream *stream, const char *text, size_t len,
                                                 llamac_tool_delta_fn fn, void *user_data);

/* Ends the output: delivers the remaining deltas; afterwards the concatenated deltas equal
 * llamac_tool_stream_message(), which equals llamac_tool_parse() of all the text (ids aside).
 * Errors: as push. One thread per handle. */
LLAMAC_API llamac_status llamac_tool_stream_finish(llamac_tool_stream *stream, llamac_tool_delta_fn fn,
                                                   void *user_data);

/* The message so far (after finish: the final one), with the ids the deltas carry. Owned by the stream, valid
 * until the next push, finish, llamac_tool_stream_message or free. NULL for a NULL stream or when out of memory.
 * One thread per handle. */
LLAMAC_API const llamac_tool_message *llamac_tool_stream_message(llamac_tool_stream *stream);

/* OpenAI tool_choice. */
typedef enum llamac_tool_choice {
    LLAMAC_TOOL_CHOICE_AUTO = 0,     /* text or calls; the grammar is lazy (applies from a trigger) */
    LLAMAC_TOOL_CHOICE_NONE = 1,     /* no calls: no grammar */
    LLAMAC_TOOL_CHOICE_REQUIRED = 2, /* at least one call of any offered tool */
    LLAMAC_TOOL_CHOICE_NAMED = 3     /* a call of the one named tool */
} llamac_tool_choice;

/* A grammar that makes output a valid call in a format. */
typedef struct llamac_tool_grammar {
    char *grammar;           /* GBNF with root "root"; NULL when no grammar applies (tool_choice none) */
    bool lazy;               /* apply with llamac_sampler_add_grammar_lazy and the patterns below */
    char **trigger_patterns; /* regexes over the output so far, as llamac_sampler_add_grammar_lazy takes them */
    size_t n_trigger_patterns;
} llamac_tool_grammar;

/* Frees a grammar. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_tool_grammar_free(llamac_tool_grammar *grammar);

/* Builds the grammar for `tools_json` (borrowed, NUL-terminated: an OpenAI "tools" array of
 * {"type":"function","function":{"name","description","parameters"}}), `choice` (`name`: the tool for
 * LLAMAC_TOOL_CHOICE_NAMED, else ignored, borrowed) and `parallel` (several calls allowed). Arguments are any JSON
 * object. *out is caller frees with llamac_tool_grammar_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (tools not a JSON array of functions with names - the message names the index;
 * a named tool that is not offered; no tools with choice required/named), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_tool_grammar_build(llamac_tool_format format, const char *tools_json,
                                                   llamac_tool_choice choice, const char *name, bool parallel,
                                                   llamac_tool_grammar **out);

/* Checks a chat history (borrowed, NUL-terminated OpenAI "messages" JSON array) before it reaches a template:
 * every assistant tool call has a function name and its arguments are a string holding a JSON object (or an
 * object). Errors: LLAMAC_E_INVALID_ARGUMENT naming the message index and what is wrong ("messages[3].tool_calls[0]
 * .function.arguments is not valid JSON: ..."). Thread-safe. */
LLAMAC_API llamac_status llamac_tool_history_check(const char *messages_json);

/* ---------------------------------------------------------------------------------------------------------------
 * Multi-sequence engine
 * ------------------------------------------------------------------------------------------------------------- */
/* Called on the engine thread at the end of every step, after that step's token callbacks: a place to do once per
 * step what the callbacks would otherwise do once per token (such as waking the threads that stream the tokens). */
typedef void (*llamac_engine_step_fn)(void *user_data);

/* A multi-sequence engine: n_slots requests share ONE context and are decoded together by a worker thread the
 * engine owns (named "llamac-engine" on Linux, for top -H, perf, or placing it on a CPU). Every step decodes one
 * batch holding the next token of every generating slot plus prompt chunks of slots still prefilling, at most
 * `n_prefill_chunk` prompt tokens per step, so a long prompt delays the other streams by at most one chunk per step
 * (continuous batching). A new request goes to the idle slot whose KV cache
 * shares the longest prefix with its prompt (ties: the least recently used; a prefix shorter than slot_similarity of
 * the prompt: the least recently used slot) and reuses that slot's prefix (prompt cache).
 *
 * The KV cache is unified (one buffer shared by all sequences, as llama-server's default): without it llama.cpp
 * gives each sequence a stream of its own and splits a multi-sequence batch into equal-length per-sequence
 * micro-batches, so a batch mixing a prompt chunk with single generation tokens would be cut into many small
 * decodes. Each slot is limited to n_ctx / n_slots positions, so the slots together never overflow the cache.
 *
 * llama.cpp's attention spans the cache up to its highest cell in use, whichever sequences own the cells, so the
 * prompt caches of idle slots would slow every step of the busy ones. While any slot is busy, an idle slot's cache
 * is therefore parked: copied to host memory and removed from the KV cache (up to park_limit_mib in all; beyond it,
 * caches stay). A request that reuses a parked prefix copies it back first; reuse and cached_tokens are unchanged.
 *
 * Callbacks (token, completion, on_step) run on the engine thread, one at a time. They may call llamac_engine_submit,
 * llamac_engine_cancel, llamac_engine_get_stats, llamac_engine_slot_get and functions on other handles; they must not
 * call llamac_engine_shutdown or llamac_engine_free, and should return quickly: while one runs, every stream waits. */
typedef struct llamac_engine llamac_engine;

typedef struct llamac_engine_params {
    uint32_t n_slots;         /* sequences decoded together (llama-server's -np; default 4, 1..256) */
    uint32_t n_ctx;           /* total context shared by the slots, each slot getting n_ctx / n_slots (llama-server's
                                 -c); 0 = n_slots * min(4096, the model's training context) */
    uint32_t n_batch;         /* most tokens one step decodes (default 2048) */
    uint32_t n_ubatch;        /* physical batch (default 512) */
    uint32_t n_prefill_chunk; /* prompt tokens per step over all prefilling slots (default 512; clamped so that
                                 n_slots + n_prefill_chunk <= n_batch) */
    uint32_t max_queued;      /* requests waiting for a slot beyond the n_slots being served; past it submit is
                                 LLAMAC_E_BUSY (default 64; 0: none wait) */
    int32_t n_threads;        /* generation threads; 0 = the number of physical cores */
    int32_t n_threads_batch;  /* prompt threads; 0 = n_threads */
    llamac_kv_type type_k;    /* default F16 */
    llamac_kv_type type_v;    /* default F16; a quantized V cache needs flash attention */
    llamac_flash_attn flash_attn; /* default AUTO */
    bool allow_ctx_overflow;      /* allow a slot context beyond the model's training context (default false) */
    int64_t park_limit_mib; /* host memory for parked slot caches (see above), in MiB: default 8192 (llama-server's
                               --cache-ram), -1 no limit, 0 never park */
    float slot_similarity;  /* the longest cached prefix picks the slot only if it is at least this share of the
                               prompt; otherwise the least recently used idle slot is taken, so that a request
                               sharing little (a system prompt) leaves the others' caches alone (llama-server's
                               --slot-prompt-similarity; default 0.1, 0 = always the longest prefix) */
    llamac_engine_step_fn on_step; /* may be NULL */
    void *step_user_data;
} llamac_engine_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_engine_params llamac_engine_params_default(void);

/* A token and its log-probability. */
typedef struct llamac_token_prob {
    llamac_token token;
    float logprob; /* natural log of the probability (softmax of the raw logits, before any sampler) */
} llamac_token_prob;

/* What the token callback receives for one generated token. */
typedef struct llamac_engine_token {
    uint64_t request_id;
    llamac_token token; /* the sampled token; -1 for the final call that releases held-back text at the end */
    int32_t index;      /* 0-based index of the token among the generated ones (-1 for the final call) */
    uint64_t step;      /* the engine step whose decode produced this token's logits */
    const char *text;   /* output text released now: whole UTF-8 characters, never any part of a stop string;
                           may be empty (held back) or hold text of earlier tokens. Owned by the engine, valid
                           during the callback */
    size_t len;
    float logprob;                /* the token's log-probability; 0 when n_probs is 0 */
    const llamac_token_prob *top; /* the n_top most likely tokens, most likely first (NULL when n_probs is 0);
                                     owned by the engine, valid during the callback */
    size_t n_top;
} llamac_engine_token;

/* Receives each generated token (see llamac_engine_token) except an end-of-generation token that ends the request
 * (the token completing a stop string comes with the text before the stop string); then, if text is still held
 * back when the request ends other than by a stop string, one final call with token -1. Runs on the engine thread.
 * Return false to end the request (finish reason LLAMAC_FINISH_CALLBACK). */
typedef bool (*llamac_engine_token_fn)(const llamac_engine_token *token, void *user_data);

/* Token counts and timings of a finished request. */
typedef struct llamac_engine_usage {
    int32_t prompt_tokens;    /* tokens in the prompt */
    int32_t cached_tokens;    /* prompt tokens reused from the slot's KV cache (not decoded again) */
    int32_t generated_tokens; /* tokens sampled, an end-of-generation token included */
    double queue_ms;          /* from submit to getting a slot */
    double prompt_ms;         /* from getting a slot to the end of the prompt's decode */
    double generation_ms;     /* from the first generated token to the end */
    double prompt_tokens_per_s;
    double tokens_per_s; /* generation speed after the first token */
} llamac_engine_usage;

/* What the completion callback receives. */
typedef struct llamac_engine_result {
    uint64_t request_id;
    int32_t slot;                       /* the slot that served it; -1 when it never got one */
    llamac_finish_reason finish_reason; /* EOG, LENGTH (max_tokens), STOP, CALLBACK, CANCELLED (llamac_engine_cancel
                                           or shutdown), CONTEXT_FULL (the slot's context filled up); NONE when the
                                           request failed */
    llamac_status status;               /* LLAMAC_OK, or why the request failed (e.g. LLAMAC_E_DECODE) */
    const char *error;                  /* the failure's message, "" on success; owned by the engine, valid during
                                           the callback */
    const char *stop;                   /* the stop string that ended it (finish STOP), else NULL; owned by the engine,
                                           valid during the callback */
    llamac_engine_usage usage;
} llamac_engine_result;

/* Receives the end of a request. Called exactly once for every request that llamac_engine_submit accepted, after
 * its last token callback; the engine never uses the request's user_data afterwards. Runs on the engine thread. */
typedef void (*llamac_engine_done_fn)(const llamac_engine_result *result, void *user_data);

/* One request. Everything it points to is borrowed for the llamac_engine_submit call (copied). */
typedef struct llamac_engine_request {
    const llamac_token *prompt; /* prompt tokens (the caller renders templates and tokenizes) */
    size_t n_prompt;
    llamac_sampling_params sampling;  /* seed, temperature, top-k/p, min-p, penalties, logit bias, grammar (GBNF,
                                         rule "root"); default llamac_sampling_params_default() */
    bool grammar_lazy;                /* the grammar applies only from a trigger on (default false) */
    const char *const *trigger_words; /* literal words: the grammar starts where one appears in the output */
    size_t n_trigger_words;
    const char *const *trigger_patterns; /* regexes matched against the whole output from its start; the grammar
                                            starts at the first capture group (as llamac_sampler_add_grammar_lazy) */
    size_t n_trigger_patterns;
    const llamac_token *trigger_tokens; /* tokens that start the grammar */
    size_t n_trigger_tokens;
    int32_t max_tokens;      /* -1: until the slot's context is full (default -1) */
    const char *const *stop; /* stop strings (NUL-terminated, non-empty UTF-8); output ends before the first */
    size_t n_stop;
    bool ignore_eos;   /* end-of-generation tokens are banned (logit bias -inf), as llama-server does */
    int32_t n_probs;   /* top log-probabilities per generated token, 0..LLAMAC_ENGINE_MAX_PROBS (default 0) */
    bool cache_prompt; /* reuse a cached prefix (default true); false decodes the whole prompt again */
    llamac_engine_token_fn on_token; /* may be NULL */
    llamac_engine_done_fn on_done;   /* may be NULL */
    void *user_data;
} llamac_engine_request;

#define LLAMAC_ENGINE_MAX_PROBS 100

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_engine_request llamac_engine_request_default(void);

/* Creates an engine over `model` (borrowed; the engine holds a reference) with its context and worker thread.
 * params NULL means defaults. *out is caller frees with llamac_engine_free. Errors: LLAMAC_E_INVALID_ARGUMENT (a
 * parameter out of range, named in the message), the errors of llamac_ctx_new, LLAMAC_E_NO_MEMORY,
 * LLAMAC_E_INTERNAL (the thread could not be started). Thread-safe. */
LLAMAC_API llamac_status llamac_engine_new(llamac_model *model, const llamac_engine_params *params,
                                           llamac_engine **out);

/* Stops accepting requests, lets the queued and running ones finish for up to `grace_ms` milliseconds, cancels
 * what is left (finish reason CANCELLED), and joins the worker thread. Later calls return at once. Thread-safe,
 * but not from a callback. */
LLAMAC_API void llamac_engine_shutdown(llamac_engine *engine, uint32_t grace_ms);

/* Shuts down with no grace (llamac_engine_shutdown(engine, 0)) and frees the engine. NULL is a no-op. Not from a
 * callback; no other call on the engine may be running or follow. */
LLAMAC_API void llamac_engine_free(llamac_engine *engine);

/* Queues a request; *id (may be NULL) receives its id (never 0). Everything is checked here, before the request is
 * accepted: the prompt is non-empty, its tokens are in the vocabulary and it is shorter than a slot's context, the
 * sampling parameters, grammar and triggers are valid. Errors (the request is then not accepted and no callback
 * runs): LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TOKEN_RANGE, LLAMAC_E_CONTEXT_FULL (the message gives the prompt's
 * token count and the slot's context), LLAMAC_E_GRAMMAR, LLAMAC_E_UTF8 (a stop string), LLAMAC_E_BUSY (n_slots +
 * max_queued requests are already in the engine, or it is shutting down), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_submit(llamac_engine *engine, const llamac_engine_request *request,
                                              uint64_t *id);

/* As llamac_engine_submit, with the prompt given as text (len bytes of UTF-8, borrowed) tokenized with
 * `tokenize_flags` (LLAMAC_TOKENIZE_*); request->prompt is ignored. Errors: as llamac_engine_submit and
 * llamac_tokenize. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_submit_text(llamac_engine *engine, const char *text, size_t len,
                                                   unsigned tokenize_flags, const llamac_engine_request *request,
                                                   uint64_t *id);

/* Cancels request `id`: a queued request leaves the queue, a running one frees its slot before the next step (the
 * KV cache of what it decoded stays for prompt reuse). Its completion callback then runs on the engine thread with
 * finish reason CANCELLED. Errors: LLAMAC_E_NOT_FOUND (no such request, or it has already finished or been
 * cancelled), LLAMAC_E_INVALID_ARGUMENT. Thread-safe (also from a callback). */
LLAMAC_API llamac_status llamac_engine_cancel(llamac_engine *engine, uint64_t id);

typedef enum llamac_slot_state {
    LLAMAC_SLOT_IDLE = 0,
    LLAMAC_SLOT_PREFILL = 1,   /* decoding its prompt */
    LLAMAC_SLOT_GENERATING = 2 /* producing tokens */
} llamac_slot_state;

/* Name of a slot state ("idle", "prefill", "generating"), or NULL for an unknown value. Thread-safe. */
LLAMAC_API const char *llamac_slot_state_name(llamac_slot_state state);

/* One slot, as /slots shows it (a snapshot taken at the end of the last step). */
typedef struct llamac_engine_slot {
    int32_t id; /* also its sequence id in the context */
    llamac_slot_state state;
    uint32_t n_ctx;           /* the slot's context: n_ctx / n_slots */
    uint32_t n_cached;        /* tokens in its KV cache (kept after a request for prompt reuse) */
    uint64_t request_id;      /* the request it serves; 0 when idle */
    int32_t n_prompt;         /* that request's prompt tokens */
    int32_t n_prompt_done;    /* of which are in the cache (reused or decoded) */
    int32_t n_generated;      /* tokens generated so far */
    uint64_t requests_served; /* requests this slot has finished */
    bool parked;              /* its cache is parked in host memory (see llamac_engine_params) */
} llamac_engine_slot;

/* Fills *out with slot `i` (0 <= i < n_slots). Errors: LLAMAC_E_INVALID_ARGUMENT (i out of range, NULLs).
 * Thread-safe. */
LLAMAC_API llamac_status llamac_engine_slot_get(llamac_engine *engine, uint32_t i, llamac_engine_slot *out);

/* Counters since the engine was created, for /metrics. */
typedef struct llamac_engine_stats {
    uint32_t n_slots;
    uint32_t n_ctx;              /* the whole context */
    uint32_t n_ctx_slot;         /* per slot */
    uint32_t n_processing;       /* requests holding a slot now */
    uint32_t n_queued;           /* requests waiting for a slot now */
    uint64_t requests_submitted; /* accepted by submit */
    uint64_t requests_rejected;  /* refused with LLAMAC_E_BUSY */
    uint64_t requests_finished;  /* completion callbacks run, whatever the reason */
    uint64_t requests_cancelled; /* of which ended CANCELLED */
    uint64_t prompt_tokens;      /* prompt tokens decoded (cached ones excluded) */
    uint64_t cached_tokens;      /* prompt tokens reused from a cache */
    uint64_t generated_tokens;   /* tokens sampled */
    uint64_t steps;              /* decodes run */
    double busy_ms;              /* time spent in steps (decode and sampling) */
    double prompt_ms;            /* of which in steps holding prompt tokens */
    uint64_t slots_parked;       /* idle slot caches moved to host memory */
    uint64_t slots_restored;     /* parked caches put back for a request that reused them */
} llamac_engine_stats;

/* Fills *out. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_get_stats(llamac_engine *engine, llamac_engine_stats *out);

/* The model the engine runs. Owned by the engine, valid until it is freed. Thread-safe. */
LLAMAC_API llamac_model *llamac_engine_model(const llamac_engine *engine);

/* ---------------------------------------------------------------------------------------------------------------
 * KV cache memory
 * ------------------------------------------------------------------------------------------------------------- */
/* What the KV cache of a context takes, computed from the model's shape and ggml's block geometry (ggml_row_size:
 * a quantized type stores blocks of 32 elements in ggml_type_size bytes) without allocating anything, as llama.cpp
 * sizes its cache: n_ctx rounded up to a multiple of 256; without a unified cache, one stream of
 * round_up(n_ctx / n_seq_max, 256) cells per sequence; one K and one V tensor per layer. Computed for models whose
 * layers all have the same plain attention cache (llama, qwen2, qwen3, mistral, phi, ...); sliding-window,
 * recurrent, hybrid, MLA and encoder-only models are refused. */
typedef struct llamac_kv_memory {
    uint32_t n_ctx;             /* the context size llama.cpp will use (llamac_ctx_info.n_ctx) */
    uint32_t n_cells;           /* cells per stream */
    uint32_t n_streams;         /* 1 with a unified cache, else n_seq_max */
    int32_t n_layer;            /* layers with a K and a V cache */
    int64_t n_embd_k;           /* elements of one K row (one token, one layer): head_dim_k * n_head_kv */
    int64_t n_embd_v;           /* elements of one V row */
    double k_bytes_per_element; /* ggml_type_size / ggml_blck_size: 2 for f16, 1.0625 for q8_0, 0.5625 for q4_0 */
    double v_bytes_per_element;
    uint64_t k_row_bytes;     /* bytes of one K row: ggml_row_size(type_k, n_embd_k) */
    uint64_t v_row_bytes;     /* bytes of one V row */
    uint64_t bytes_per_token; /* (k_row_bytes + v_row_bytes) * n_layer */
    uint64_t k_bytes;         /* the whole K cache: k_row_bytes * n_cells * n_streams * n_layer */
    uint64_t v_bytes;         /* the whole V cache */
    uint64_t total_bytes;     /* what llama.cpp allocates in host memory: each layer's K and V tensor padded to the
                                 CPU buffer's alignment (on a GPU, its buffer's alignment applies instead) */
    bool usable;              /* false when llamac_ctx_new would refuse this configuration; see why */
    char why[160];            /* why not usable ("K cache type q4_0 stores blocks of 32 values, which do not divide
                                 the head size 8"); "" when usable */
} llamac_kv_memory;

/* Computes the KV-cache figures of the context llamac_ctx_new(model, params) would create: params supplies n_ctx
 * (0: the same default), n_seq_max, kv_unified, type_k, type_v and flash_attn (NULL: defaults). Allocates nothing.
 * A configuration llamac_ctx_new would refuse still gets its figures, with usable false and the reason in why.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a parameter out of range), LLAMAC_E_UNSUPPORTED (vocab-only model, a
 * model without a KV cache or with one this computation does not cover, a row length the type's block size does
 * not divide; the message says which). Thread-safe. */
LLAMAC_API llamac_status llamac_kv_memory_compute(const llamac_model *model, const llamac_ctx_params *params,
                                                  llamac_kv_memory *out);

/* The bytes llama.cpp actually allocated for the KV cache of `ctx` (all its buffers, on every device), as its
 * memory accounting reports them. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_UNSUPPORTED (this build of
 * libllamac was made without llama.cpp's source tree, whose staging header declares that accounting).
 * One thread per handle. */
LLAMAC_API llamac_status llamac_ctx_kv_allocated(const llamac_context *ctx, uint64_t *bytes);

/* ---------------------------------------------------------------------------------------------------------------
 * Hugging Face Hub
 * ------------------------------------------------------------------------------------------------------------- */
/* Download progress of one file: its path in the repo, bytes done and total (0 when unknown), and the current rate
 * in bytes per second. Return false to cancel the pull (LLAMAC_E_CANCELLED; the partial file stays, to be resumed).
 * Runs on the thread that called llamac_hub_pull; must not call llamac_hub_* functions. */
typedef bool (*llamac_hub_progress_fn)(const char *file, uint64_t done, uint64_t total, double bytes_per_sec,
                                       void *user_data);

/* Where the Hub calls read and write. Zero/NULL fields take the environment's value, as huggingface_hub does. */
typedef struct llamac_hub_params {
    const char *endpoint;  /* Hub URL; NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *cache_dir; /* NULL: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub */
    const char *token;     /* NULL: $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the file $HF_HOME/token; "" for
                              none. Sent only to the endpoint's host, never to the hosts it redirects to. */
    bool offline;          /* use only the cache (also when $HF_HUB_OFFLINE is 1/true/yes) */
    bool want_mmproj;      /* llamac_hub_pull also fetches the repo's multimodal projector (mmproj*.gguf), if any */
    int max_retries;       /* a dropped download is resumed (Range request) this many times (default 3) */
    llamac_hub_progress_fn progress; /* called during downloads; NULL for none */
    void *progress_user_data;
} llamac_hub_params;

/* Defaults: everything from the environment, max_retries 3. Thread-safe. */
LLAMAC_API llamac_hub_params llamac_hub_params_default(void);

/* One file of a Hub repository, remote or cached. */
typedef struct llamac_hub_file {
    const char *repo;       /* "owner/name" */
    const char *path;       /* path inside the repository, e.g. "model-Q4_K_M.gguf" */
    const char *local_path; /* the file in the cache (snapshots/<commit>/<path>); NULL when not downloaded */
    const char *sha256;     /* the LFS sha256 (64 hex digits), "" for a file stored without LFS */
    const char *commit;     /* the revision the file belongs to (40 hex digits) */
    uint64_t size;          /* bytes */
} llamac_hub_file;

/* A list of files; owned by the caller, freed with llamac_hub_list_free. */
typedef struct llamac_hub_list llamac_hub_list;

/* Number of files in `list` (0 for NULL). Thread-safe. */
LLAMAC_API size_t llamac_hub_list_count(const llamac_hub_list *list);

/* File `i` of `list`, or NULL when out of range; owned by the list, valid until llamac_hub_list_free. Thread-safe.
 */
LLAMAC_API const llamac_hub_file *llamac_hub_list_get(const llamac_hub_list *list, size_t i);

/* Frees a list. NULL is a no-op. Not thread-safe (no other use of the list at the same time). */
LLAMAC_API void llamac_hub_list_free(llamac_hub_list *list);

/* Lists every file of repository `repo` ("owner/name", borrowed) at its main branch: GET
 * {endpoint}/api/models/{repo}/refs, then .../tree/{commit}?recursive=true, as llama.cpp does. Offline, the list
 * is what the cache holds for refs/main. *out is caller frees with llamac_hub_list_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a malformed repo id), LLAMAC_E_AUTH (401/403: gated or private; the
 * message says to request access and set HF_TOKEN), LLAMAC_E_NOT_FOUND (no such repository; offline: nothing
 * cached), LLAMAC_E_NETWORK (unreachable, dropped, other HTTP errors, a malformed answer), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_hub_repo_files(const char *repo, const llamac_hub_params *params,
                                               llamac_hub_list **out);

/* The model files of a repository listing that a quant could name: every GGUF that is not an mmproj, imatrix or
 * draft-model file, split models by their first shard only, in listing order; what a picker offers. *out is caller
 * frees with llamac_hub_list_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_hub_model_choices(const llamac_hub_list *files, llamac_hub_list **out);

/* Downloads (or finds in the cache) the model named by `spec`, "owner/name[:QUANT]" (borrowed): the GGUF file
 * `file` when not NULL, else the one whose name carries QUANT (case-insensitive; default Q4_K_M, then Q8_0, then
 * the repo's only model file), with every shard of a split model (-00001-of-0000N.gguf) and, with want_mmproj, the
 * best-matching mmproj file. Downloads resume an earlier partial file (blobs/<sha>.incomplete) with a Range
 * request, are checked against the LFS sha256 (X-Linked-Etag) before the atomic rename into blobs/, and hold a
 * lock (.locks/) so that concurrent pulls of one file wait for each other. *out lists the model's shards in order,
 * then the mmproj; every local_path is set. Caller frees with llamac_hub_list_free. When the Hub cannot be
 * reached but the repo is in the cache (refs/main), the cache answers instead, as with offline set.
 * Errors: those of llamac_hub_repo_files; LLAMAC_E_NOT_FOUND (no file for QUANT, or several candidates and no
 * default: the message lists the quants that exist; offline: names what the cache lacks), LLAMAC_E_NETWORK (also
 * a sha256 mismatch: nothing is kept), LLAMAC_E_IO (the cache cannot be written), LLAMAC_E_CANCELLED.
 * Thread-safe (separate processes and threads may pull the same file). */
LLAMAC_API llamac_status llamac_hub_pull(const char *spec, const char *file, const llamac_hub_params *params,
                                         llamac_hub_list **out);

/* Lists every file in the cache's snapshots, all repositories, sorted by repo and path (size of the blob it links
 * to). *out is caller frees with llamac_hub_list_free (empty when nothing is cached).
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_hub_cached(const llamac_hub_params *params, llamac_hub_list **out);

/* Removes from the cache what `spec` ("owner/name[:QUANT]", borrowed) names: the whole repository without QUANT,
 * else the snapshot files whose name carries QUANT (every shard) and the blobs no other snapshot still links to.
 * *n_removed (may be NULL) counts the snapshot files removed.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NOT_FOUND (nothing cached matches; the message lists what is),
 * LLAMAC_E_IO. Not thread-safe with a pull of the same repository. */
LLAMAC_API llamac_status llamac_hub_remove(const char *spec, const llamac_hub_params *params, size_t *n_removed);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_H */
