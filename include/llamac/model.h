/*
 * llamac/model.h - models and their vocabulary: loading, metadata, tokenizing, detokenizing, the UTF-8 stream.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_MODEL_H
#define LLAMAC_MODEL_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

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

/* Whether llama.cpp reads the tensors an architecture marks (per-layer embeddings, ...) from the file on demand
 * rather than keeping them resident (llama.cpp's -lzm / --lazy-mode); on demand needs mmap. */
typedef enum llamac_lazy_mode {
    LLAMAC_LAZY_AUTO = 0, /* on demand for such tensors larger than 4 GiB (the default) */
    LLAMAC_LAZY_OFF = 1,  /* always resident */
    LLAMAC_LAZY_ON = 2    /* always on demand */
} llamac_lazy_mode;

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

/* Places the weights whose names match a pattern in a buffer type of a device of choice (llama.cpp's -ot /
 * --override-tensor PATTERN=TYPE): the usual use keeps a Mixture-of-Experts model's expert weights in host memory,
 * { "\\.ffn_(up|down|gate)_exps", "CPU" }, while the other layers go to the GPU. For each weight the first rule whose
 * pattern matches decides. */
typedef struct llamac_tensor_override {
    const char *pattern;     /* borrowed for the load; a regular expression (ECMAScript, llama.cpp's std::regex)
                                searched for in each weight's name ("blk.3.ffn_up_exps.weight") */
    const char *buffer_type; /* borrowed for the load; the name of a device's buffer type: "CPU" (host memory), or
                                another device's, as ggml names it ("CUDA0", "RPC0[HOST:PORT]", ...) */
} llamac_tensor_override;

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
    const char *rpc_servers; /* borrowed; "HOST:PORT,..." ggml RPC servers whose devices take layers like GPUs (with
                                n_gpu_layers other than 0; see base.h); each is checked before use and registered
                                once per process. NULL: none */
    const char *devices;     /* borrowed; comma-separated device names to use (e.g. "RPC0,RPC1", "CUDA0"), or
                                "none" for the CPU only; NULL: every device */
    const llamac_tensor_override *tensor_overrides; /* borrowed for the call; n_tensor_overrides rules (at most
                                                       4096), or NULL with 0 */
    size_t n_tensor_overrides;
    bool no_repack; /* keep the weights in their file's layout instead of the CPU backend's faster repacked one
                       (llama.cpp's --no-repack); default false */
    bool no_host;   /* no host buffer for the weights, so that other buffer types may take them (llama.cpp's
                       --no-host); default false */
    llamac_lazy_mode lazy_mode; /* default LLAMAC_LAZY_AUTO */
} llamac_model_params;

/* The defaults: CPU only, mmap on, no overrides. Thread-safe. */
LLAMAC_API llamac_model_params llamac_model_params_default(void);

/* Loads a GGUF model. The path is NUL-terminated and borrowed. A shard "-00001-of-0000N.gguf" loads every shard.
 * params NULL means defaults. On success *out is caller frees with llamac_model_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL path/out, bad params), LLAMAC_E_IO (missing, unreadable, directory,
 * empty), LLAMAC_E_MODEL_LOAD (not GGUF, truncated, unsupported architecture; the message carries llama.cpp's
 * reason), LLAMAC_E_CANCELLED (the progress callback returned false), LLAMAC_E_NO_MEMORY; with rpc_servers,
 * LLAMAC_E_NETWORK (a server unreachable or not answering the RPC hello; the message names it), LLAMAC_E_UNSUPPORTED
 * (another protocol version, or a build without RPC); LLAMAC_E_NOT_FOUND (a device name or a tensor override's
 * buffer type that does not exist; the message lists those that do); LLAMAC_E_INVALID_ARGUMENT also for a tensor
 * override whose pattern is not a valid regular expression (the message gives the reason).
 * Thread-safe. */
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

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_MODEL_H */
