/*
 * llamac/gguf.h - GGUF files without a context: metadata and tensors, quantization, split and merge, and synthetic test
 * models.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_GGUF_H
#define LLAMAC_GGUF_H

#include "model.h"

#ifdef __cplusplus
extern "C" {
#endif

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
    const char *arch;       /* "llama", "qwen2", "qwen3", "bert" or "qwen2vl" (qwen2 with M-RoPE: the rotary pairs
                               split a quarter for time, the rest halved between height and width, as Qwen2-VL's
                               16/24/24 of 64); see llamac_synth_arch_name; [the preset's,
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
    float rope_theta;       /* RoPE base frequency [10000; qwen 1000000]; not for bert */
    float norm_eps;         /* RMS-norm epsilon [1e-5; qwen 1e-6], bert: layer-norm epsilon [1e-12] */
    int32_t n_cls_out;      /* bert only: > 0 adds a classification head with this many outputs and makes the
                               model a reranker (pooling rank); [0: an embedding model, pooling mean] */
    bool untied_output;     /* decoders: write a separate output.weight instead of reusing token_embd; [false,
                               as all the presets]. Tied, random weights make greedy decoding repeat the last
                               token; untied, they give varied text */
    uint64_t seed;          /* [0] */
    float init_std;         /* standard deviation of the random weights, at most 1; [0.02] */
    llamac_synth_type type; /* [LLAMAC_SYNTH_F32] */
    int32_t copy_period;    /* > 0: a copy model instead of random weights (qwen2 only, tied output): its greedy
                               continuation repeats the input with this period K, the token after position m being
                               the one at m - K + 1 (give K = the length of a block in the prompt and it copies the
                               block again and again), for n-gram speculation benchmarks. Same tensors, shapes and
                               types as the random model, so the same cost per token. At most n_ctx_train; the
                               first layer's attention picks the position by its Q/K biases and the rotary
                               embedding, its values carry the token (embeddings live in the first
                               head_dim * n_head_kv dimensions); [0: random weights] */
    float copy_noise;       /* with copy_period: the later layers' attention output and ffn_down matrices are random
                               with this fraction of init_std (the other matrices as usual), so they perturb the
                               logits and a model cut to its first layers (--layers of the same synthesis) agrees
                               with the full one on most tokens, not all; from 0 to 1; [0: those matrices are zero
                               and every layer after the first adds nothing] */
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

/* What llamac_synth_lora_write makes: a LoRA adapter for a base model (a synthesized or a real one) with seeded random
 * matrices, as convert_lora_to_gguf.py lays one out: general.type "adapter", the base's general.architecture,
 * adapter.type "lora", adapter.lora.alpha, general.base_model.count 1 and general.base_model.0.name (the base's
 * general.name), and for each adapted weight W [in, out] of the base "W.lora_a" [in, rank] and "W.lora_b"
 * [rank, out] (token_embd.weight: [rank, n_vocab] and [rank, n_embd]), in the base's tensor order. Both matrices are
 * drawn like synthesized weights (llamac_synth_params' `init_std`), so the adapter changes the output from the first
 * token on. Strings are borrowed and NUL-terminated; 0/NULL fields take the default in brackets. */
typedef struct llamac_synth_lora_params {
    const char *base;          /* the base model's GGUF (a split model's first shard); required */
    const char *targets;       /* comma-separated weights to adapt, named without "blk.N." and ".weight" ("attn_q",
                                  "ffn_down", ...; "token_embd" and "output" for those); "all" adapts every matrix of
                                  the blocks; every name must match a matrix of the base [attn_q,attn_v] */
    int32_t rank;              /* [8] */
    float alpha;               /* adapter.lora.alpha [rank, so that scale 1 adds B*A as it is] */
    uint64_t seed;             /* [0] */
    float init_std;            /* standard deviation of both matrices, at most 1 [0.02] */
    llamac_synth_type type;    /* of the matrices [LLAMAC_SYNTH_F32] */
    const char *name;          /* general.name ["synthetic lora"] */
    const char *task_name;     /* adapter.lora.task_name [none] */
    const char *prompt_prefix; /* adapter.lora.prompt_prefix [none] */
    const llamac_token *alora_invocation_tokens; /* makes it an activated LoRA: adapter.alora.invocation_tokens
                                                    [none]; each id must be in the base's vocabulary */
    size_t n_alora_invocation_tokens;
} llamac_synth_lora_params;

/* All fields 0/NULL. Thread-safe. */
LLAMAC_API llamac_synth_lora_params llamac_synth_lora_params_default(void);

/* Writes the adapter described by `params` to `path` (NUL-terminated, borrowed) through a temporary file renamed
 * into place; the same parameters and base give the same bytes. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, no base,
 * rank outside 1 .. the smallest dimension of an adapted weight, init_std or alpha not finite and positive, a target
 * that matches no matrix of the base (the message lists the ones it has), an invocation token outside the
 * vocabulary), LLAMAC_E_IO, LLAMAC_E_MODEL_LOAD (the base is not a readable GGUF), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_synth_lora_write(const char *path, const llamac_synth_lora_params *params);

/* What llamac_synth_cvec_write makes: a control vector for a base model, as llama.cpp's cvector-generator writes one:
 * general.architecture "controlvector", controlvector.model_hint (the base's architecture),
 * controlvector.layer_count, and one F32 direction of n_embd values per layer "direction.1" ..
 * "direction.{n_layer - 1}", approximately normal with standard deviation init_std. */
typedef struct llamac_synth_cvec_params {
    const char *base; /* the base model's GGUF; required */
    uint64_t seed;    /* [0] */
    float init_std;   /* at most 1 [0.02] */
} llamac_synth_cvec_params;

/* All fields 0/NULL. Thread-safe. */
LLAMAC_API llamac_synth_cvec_params llamac_synth_cvec_params_default(void);

/* Writes the control vector described by `params` to `path`, as llamac_synth_lora_write writes an adapter.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, no base, init_std out of range, a base with fewer than 2 layers),
 * LLAMAC_E_IO, LLAMAC_E_MODEL_LOAD, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_synth_cvec_write(const char *path, const llamac_synth_cvec_params *params);
/* What llamac_synth_mmproj_write makes: a multimodal projector for a text model, as llama.cpp's converters write an
 * "mmproj" GGUF, with seeded random weights (the same generator and rules as llamac_synth_params: norm weights 1,
 * norm biases 0, everything else approximately normal with standard deviation init_std). Numbers left at 0 take the
 * small default in brackets.
 *   vision: a CLIP ViT (class embedding, learned positions, pre-norm, GELU-quick MLP blocks) whose second-to-last
 *           block feeds a LLaVA-style "mlp" projector (mm.0, GELU, mm.2) into the text model's n_embd; images are
 *           resized to image_size and cut into patch_size patches, one token each ((32 / 8)^2 = 16 by default),
 *           with CLIP's image_mean / image_std. With vision_projector "gemma3": a SigLIP ViT (patch bias, GELU,
 *           post-norm) whose patches are average-pooled n_merge x n_merge, RMS-normed and projected (Gemma 3's
 *           projector: libmtmd decodes its images with non-causal attention), (32 / 8 / 2)^2 = 4 tokens by default.
 *           With "qwen2vl": Qwen2-VL's ViT (2-D rotary positions, images at their own aspect ratio, 2 x 2 patches
 *           merged into a token), for a qwen2vl text model: with M-RoPE, an image of w x h tokens advances the
 *           sequence by max(w, h) positions.
 *   audio:  a Whisper-style encoder (two 1-D convolutions over n_mel_bins mel channels, the second with stride 2,
 *           1500 learned positions: one 30-second window) with an "ultravox" projector (frames stacked by
 *           stack_factor, RMS norm, SwiGLU, RMS norm, projection): 375 tokens per 30 seconds by default.
 * Both together make one file with two encoders. */
typedef struct llamac_synth_mmproj_params {
    bool vision;                  /* a vision encoder [true in llamac_synth_mmproj_params_default] */
    bool audio;                   /* an audio encoder [false] */
    const char *vision_projector; /* "mlp", "gemma3" or "qwen2vl" ["mlp"] */
    int32_t n_merge;              /* gemma3: patches pooled per side into one token [2] */
    const char *text_model; /* a GGUF text model (borrowed path) whose embedding width the projection targets, read
                               from its metadata; or set n_embd_text */
    int32_t n_embd_text;    /* the width to project to [the text model's n_embd] */
    int32_t n_embd;         /* encoder width [32] */
    int32_t n_head;         /* encoder heads; must divide n_embd [4] */
    int32_t n_layer;        /* encoder blocks [2] */
    int32_t n_ff;           /* encoder feed-forward size [4 * n_embd] */
    int32_t image_size;     /* [32]; a multiple of patch_size */
    int32_t patch_size;     /* [8] */
    int32_t n_mel_bins;     /* [80] */
    int32_t stack_factor;   /* audio frames stacked per projected token [4] */
    uint64_t seed;          /* [0] */
    float init_std;         /* [0.02], at most 1 */
    llamac_synth_type type; /* matrices and convolution kernels [LLAMAC_SYNTH_F32] */
} llamac_synth_mmproj_params;

/* A vision projector, all else 0 / NULL. Thread-safe. */
LLAMAC_API llamac_synth_mmproj_params llamac_synth_mmproj_params_default(void);

/* Writes the projector described by `params` to `path` (NUL-terminated, borrowed), through a temporary file that is
 * renamed into place; the same parameters always give the same bytes. The result loads in libmtmd with the text
 * model (llamac_mmproj_load). Errors: LLAMAC_E_INVALID_ARGUMENT (path or params NULL, neither vision nor audio, no
 * text model and no n_embd_text, a value out of range or a shape the encoder cannot have; the message names it),
 * LLAMAC_E_IO (the text model cannot be opened, the output cannot be written), LLAMAC_E_MODEL_LOAD (the text model is
 * not a GGUF file or has no embedding_length), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_synth_mmproj_write(const char *path, const llamac_synth_mmproj_params *params);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_GGUF_H */
