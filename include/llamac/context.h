/*
 * llamac/context.h - contexts over a model: decoding, batches, logits and embeddings, KV-cache sequences, state save
 * and restore, and the KV cache's memory computed without allocating.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_CONTEXT_H
#define LLAMAC_CONTEXT_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    LLAMAC_ROPE_SCALING_DEFAULT = -1, /* what the model's metadata says (linear when it says nothing) */
    LLAMAC_ROPE_SCALING_NONE = 0,
    LLAMAC_ROPE_SCALING_LINEAR = 1,
    LLAMAC_ROPE_SCALING_YARN = 2
} llamac_rope_scaling;

/* RoPE scaling: how positions beyond the training context are stretched (llama.cpp's --rope-* and --yarn-* flags).
 * Every field's default takes the model's own value; llamac_ctx_params_default and llamac_engine_params_default fill
 * them in. Checked by llamac_ctx_new: every number must be finite, freq_base, freq_scale and yarn_orig_ctx not
 * negative (LLAMAC_E_INVALID_ARGUMENT, naming the field as "rope.FIELD"). */
typedef struct llamac_rope_params {
    llamac_rope_scaling scaling; /* default LLAMAC_ROPE_SCALING_DEFAULT */
    float freq_base;             /* base frequency (theta); 0 = from the model */
    float freq_scale;            /* position scale: 0.25 stretches the context 4 times; 0 = from the model */
    float yarn_ext_factor;       /* YaRN extrapolation mix (0 = full interpolation); negative = from the model (1 with
                                    YaRN scaling, else 0) */
    float yarn_attn_factor;      /* YaRN attention magnitude scale; negative = from the model */
    float yarn_beta_fast;        /* YaRN low correction dimension; negative = from the model */
    float yarn_beta_slow;        /* YaRN high correction dimension; negative = from the model */
    uint32_t yarn_orig_ctx;      /* YaRN original context size; 0 = the model's training context */
} llamac_rope_params;

typedef struct llamac_ctx_params {
    uint32_t n_ctx;          /* tokens of context; 0 = min(4096, the model's training context). llama.cpp rounds
                                it up to a multiple of 256: llamac_ctx_get_info reports the size in use */
    uint32_t n_batch;        /* most tokens one decode call submits (default 2048) */
    uint32_t n_ubatch;       /* physical batch (default 512) */
    uint32_t n_seq_max;      /* number of sequences (default 1) */
    int32_t n_threads;       /* generation threads, at most 512 (ggml's limit); 0 = the number of physical cores */
    int32_t n_threads_batch; /* prompt threads, at most 512; 0 = n_threads */
    llamac_flash_attn flash_attn;
    llamac_kv_type type_k; /* default F16 */
    llamac_kv_type type_v; /* default F16; a quantized V cache needs flash attention */
    llamac_attn_rotation attn_rotation;
    bool embeddings;         /* produce embeddings (default false) */
    llamac_pooling pooling;  /* for embeddings */
    llamac_rope_params rope; /* RoPE scaling (default: the model's) */
    bool allow_ctx_overflow; /* allow n_ctx beyond the model's training context */
    bool offload_kqv;        /* keep the KV cache on the GPU when layers are offloaded (default true) */
    bool op_offload;         /* run operations on host-resident weights on the GPU when that is faster (llama.cpp's
                                --op-offload; default true) */
    bool kv_unified;         /* one KV buffer shared by all sequences (default false, as llama.cpp): sequences can
                                then share cells (a token in several sequences, partial llamac_ctx_seq_cp) */
    /* A model with sliding-window attention always gets a full-size cache for its window layers (llama.cpp's C API
     * default, llama-server's --swa-full), so that every cached token stays usable for prefix reuse. */
} llamac_ctx_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_ctx_params llamac_ctx_params_default(void);

/* The number of threads n_threads = 0 stands for: the machine's physical cores (hyperthreads do not speed up
 * matrix work), counted as llama.cpp's tools count them. Thread-safe. */
LLAMAC_API int32_t llamac_physical_cores(void);

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

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_CONTEXT_H */
