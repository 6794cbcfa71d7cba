/*
 * llamac/adapter.h - LoRA adapters and control vectors: loaded for one model and checked against it before llama.cpp
 * reads them, their metadata, and the set applied to a context, whose scales may change between requests.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_ADAPTER_H
#define LLAMAC_ADAPTER_H

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * LoRA adapters
 * ------------------------------------------------------------------------------------------------------------- */

/* A LoRA adapter (a GGUF with general.type "adapter" and adapter.type "lora", as llama.cpp's convert_lora_to_gguf.py
 * and `llamac synth --lora` write it) loaded for one model. Its weights live beside the model's; any number of
 * contexts of that model may apply it, each with its own scale. */
typedef struct llamac_adapter llamac_adapter;

/* Loads the LoRA adapter at `path` (NUL-terminated, borrowed) for `model` (borrowed; the adapter holds a reference,
 * so the model may be freed first). Before llama.cpp reads it, the file is checked as a GGUF (every offset against
 * the file's size, so a truncated file is named as such) and against the model: general.type "adapter",
 * adapter.type "lora", the model's architecture, every tensor a complete `NAME.lora_a` / `NAME.lora_b` pair for a
 * weight NAME the model has, shaped for it (lora_a [in, rank], lora_b [rank, out]; for token_embd.weight the
 * transposed pair llama.cpp expects), and metadata of the types llama.cpp reads. The message names the file, the
 * tensor or key, and both shapes or values. *out is caller frees with llamac_adapter_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_UNSUPPORTED (a vocab-only model), LLAMAC_E_IO (missing,
 * unreadable, a directory), LLAMAC_E_MODEL_LOAD (not GGUF, malformed or truncated; the field and byte offset or the
 * tensor in the message), LLAMAC_E_ADAPTER (a model, a control vector or another adapter type; another architecture;
 * a tensor the model lacks, of another shape, without its pair or with another suffix), LLAMAC_E_NO_MEMORY,
 * LLAMAC_E_INTERNAL (llama.cpp refused it anyway; its reason in the message). Loading changes the graph size llama.cpp
 * reserves for every context of the model: not thread-safe with decodes on contexts of the same model. */
LLAMAC_API llamac_status llamac_adapter_load(llamac_model *model, const char *path, llamac_adapter **out);

/* Releases the caller's reference. A context that applies the adapter keeps it alive until it applies another set or
 * is freed, so any free order is safe. NULL is a no-op. Not thread-safe with decodes on contexts of its model. */
LLAMAC_API void llamac_adapter_free(llamac_adapter *adapter);

/* What an adapter file says about itself. Strings are owned by the adapter, valid until it is freed; NULL when the
 * file does not give them. */
typedef struct llamac_adapter_info {
    const char *path;          /* as given to llamac_adapter_load */
    const char *architecture;  /* general.architecture (the model's) */
    const char *name;          /* general.name */
    const char *base_model;    /* general.base_model.0.name: the model it was trained on */
    const char *task_name;     /* adapter.lora.task_name */
    const char *prompt_prefix; /* adapter.lora.prompt_prefix */
    float alpha;               /* adapter.lora.alpha; 0 when absent. A weight's delta B*A is multiplied by
                                  scale * alpha / rank, or by scale alone when alpha is 0 */
    int32_t rank;              /* the rank of its pairs (the largest, when they differ) */
    size_t n_weights;          /* model weights it adapts (lora_a/lora_b pairs) */
    const llamac_token *alora_invocation_tokens; /* an activated LoRA (aLoRA): the tokens whose last occurrence in a
                                                    prompt starts the part it applies to; NULL for a plain LoRA.
                                                    Owned by the adapter */
    size_t n_alora_invocation_tokens;
} llamac_adapter_info;

/* Fills *out. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs). Thread-safe. */
LLAMAC_API llamac_status llamac_adapter_get_info(const llamac_adapter *adapter, llamac_adapter_info *out);

/* The model an adapter was loaded for. Owned by the adapter, valid until it is freed. Thread-safe. */
LLAMAC_API llamac_model *llamac_adapter_model(const llamac_adapter *adapter);

/* Reads a metadata value of the adapter file as a string (key NUL-terminated, borrowed; arrays are left out, as
 * llama.cpp leaves them out). *out is caller frees with llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_NOT_FOUND, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_adapter_meta(const llamac_adapter *adapter, const char *key, char **out);

/* Number of metadata values llamac_adapter_meta_at reads (arrays left out). 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_adapter_meta_count(const llamac_adapter *adapter);

/* Metadata entry `i` (0 .. llamac_adapter_meta_count - 1). *key and *value are caller frees with llamac_free (either
 * may be NULL when not wanted). Errors: LLAMAC_E_INVALID_ARGUMENT (NULL adapter, i out of range),
 * LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_adapter_meta_at(const llamac_adapter *adapter, size_t i, char **key, char **value);

/* One adapter of a set, with its scale (1.0: as trained; 0: no effect at all). */
typedef struct llamac_adapter_scale {
    llamac_adapter *adapter; /* borrowed by the call that takes the set */
    float scale;
} llamac_adapter_scale;

/* Makes `set` (n entries, borrowed; NULL with n 0 removes every adapter) the LoRA adapters `ctx` decodes with from
 * its next decode on, replacing the set it had: a hot swap, nothing is reloaded. The context holds a reference on
 * each adapter it applies. An adapter with scale 0 changes nothing, exactly: the output equals the base model's.
 * Tokens already in the KV cache keep what they were computed with; a chat session sees the change and computes its
 * conversation again rather than reuse them (a session loaded with llamac_chat_load is taken as computed under the
 * set in use when it is loaded). Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, an adapter
 * loaded for another model, the same adapter twice, a scale that is not finite; the entry's index in the message;
 * the set in use is then kept), LLAMAC_E_NO_MEMORY. One thread per handle (and see llamac_adapter_load). */
LLAMAC_API llamac_status llamac_ctx_set_adapters(llamac_context *ctx, const llamac_adapter_scale *set, size_t n);

/* The set `ctx` decodes with, entries of scale 0 included, in the order given: writes min(n, cap) entries to `out`
 * (may be NULL when cap is 0; the adapters are owned by the context, valid until it applies another set) and returns
 * n. 0 for NULL ctx. One thread per handle. */
LLAMAC_API size_t llamac_ctx_adapters(const llamac_context *ctx, llamac_adapter_scale *out, size_t cap);

/* ---------------------------------------------------------------------------------------------------------------
 * Control vectors
 * ------------------------------------------------------------------------------------------------------------- */

/* A control vector: one direction of n_embd values per layer from layer 1 on, added to the layer's output
 * (llama.cpp's cvector-generator writes them: general.architecture "controlvector", tensors direction.1, ...). */
typedef struct llamac_cvec llamac_cvec;

/* Loads the control vector at `path` (NUL-terminated, borrowed) for `model` (borrowed; the vector holds a
 * reference). Checked first, as llamac_adapter_load checks an adapter: a GGUF whole and well-formed, not a model or
 * adapter (general.architecture "controlvector" or none), controlvector.model_hint (when given) the model's
 * architecture, every tensor named direction.N with 1 <= N < the model's layer count, F32, one dimension of the
 * model's n_embd, at least one. *out is caller frees with llamac_cvec_free.
 * Errors: as llamac_adapter_load, without LLAMAC_E_INTERNAL. Thread-safe. */
LLAMAC_API llamac_status llamac_cvec_load(llamac_model *model, const char *path, llamac_cvec **out);

/* Releases the vector. A context that applies it keeps applying it (llama.cpp holds a copy of the values), so any
 * free order is safe. NULL is a no-op. Thread-safe. */
LLAMAC_API void llamac_cvec_free(llamac_cvec *cvec);

typedef struct llamac_cvec_info {
    const char *path;       /* as given; owned by the vector, valid until it is freed */
    const char *model_hint; /* controlvector.model_hint, or NULL; owned likewise */
    int32_t n_embd;
    int32_t n_layers; /* the highest layer it has a direction for (layers without one get zeros) */
} llamac_cvec_info;

/* Fills *out. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs). Thread-safe. */
LLAMAC_API llamac_status llamac_cvec_get_info(const llamac_cvec *cvec, llamac_cvec_info *out);

/* One control vector of a set, with its scale (the strength: its directions are multiplied by it). */
typedef struct llamac_cvec_scale {
    llamac_cvec *cvec; /* borrowed by the call that takes the set */
    float scale;
} llamac_cvec_scale;

/* Makes the sum of the scaled vectors of `set` (n entries, borrowed; NULL with n 0 removes the control vector) the
 * control vector `ctx` decodes with from its next decode on, applied to layers layer_start to layer_end (inclusive;
 * 0 for either means llama.cpp's default: 1 and the model's layer count). Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a
 * vector loaded for another model, a scale that is not finite, a layer range outside 1 .. the layer count or
 * reversed; the vector in use is then kept), LLAMAC_E_NO_MEMORY, LLAMAC_E_INTERNAL (llama.cpp refused it). One
 * thread per handle. */
LLAMAC_API llamac_status llamac_ctx_set_cvec(llamac_context *ctx, const llamac_cvec_scale *set, size_t n,
                                             int32_t layer_start, int32_t layer_end);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_ADAPTER_H */
