/*
 * adapter_internal.h - what the adapter modules (lora.c, cvec.c, apply.c) share with chat sessions and the engine.
 *
 * Every KV cell is computed under some set of adapters. A 64-bit key names that set - the LoRA adapters with a
 * non-zero scale and their scales, and the control vector applied - so that whatever reuses cells (a chat session's
 * cache, the engine's prompt cache) reuses them only under the key they were computed with. Key 0 is the base model.
 * Adapters are named in keys by an id unique in the process, never by their address, which a later load may reuse.
 */
#ifndef LLAMAC_ADAPTER_INTERNAL_H
#define LLAMAC_ADAPTER_INTERNAL_H

#include "core/internal.h"

struct llamac_adapter {
    atomic_int refs;
    uint64_t id;         /* unique in the process; what keys name it by */
    llamac_model *model; /* a reference */
    struct llama_adapter_lora *la;
    char *path;
    char *architecture;
    char *name;
    char *base_model;
    char *task_name;
    char *prompt_prefix;
    float alpha;
    int32_t rank;
    size_t n_weights;
    llamac_token *alora; /* aLoRA invocation tokens, NULL for a plain LoRA */
    size_t n_alora;
};

struct llamac_cvec {
    uint64_t id;         /* unique in the process */
    llamac_model *model; /* a reference */
    char *path;
    char *model_hint;
    int32_t n_embd;
    int32_t n_layers; /* data holds directions for layers 1 .. n_layers */
    float *data;      /* n_layers * n_embd values, layer 1 first (llama.cpp's layout) */
};

/* What a context applies (core/internal.h's llamac_context.applied). */
struct llamac__applied {
    llamac_adapter_scale *set; /* a reference on each adapter */
    size_t n;
    uint64_t lora_key; /* llamac__lora_key of `set` */
    uint64_t cvec_key; /* 0: no control vector */
};

/* The record of what `ctx` applies, created on first use (NULL when out of memory). */
struct llamac__applied *llamac__ctx_applied(llamac_context *ctx);

/* A new id for an adapter or control vector. Thread-safe. */
uint64_t llamac__adapter_next_id(void);

void llamac__adapter_ref(llamac_adapter *adapter);
void llamac__adapter_unref(llamac_adapter *adapter);

/* Checks a set for use with `model`: NULLs, adapters of another model, one adapter twice, scales that are not finite.
 * `fn` names the caller in messages. */
llamac_status llamac__adapter_set_check(const llamac_model *model, const llamac_adapter_scale *set, size_t n,
                                        const char *fn);

/* A copy of `set` holding a reference on each adapter (*out NULL when n is 0), and its release. */
llamac_status llamac__adapter_set_copy(const llamac_adapter_scale *set, size_t n, llamac_adapter_scale **out);
void llamac__adapter_set_release(llamac_adapter_scale *set, size_t n);

/* The key of a LoRA set alone: entries of scale 0 left out (llama.cpp leaves them out), the rest in any order. */
uint64_t llamac__lora_key(const llamac_adapter_scale *set, size_t n);

/* The key of the cells `ctx` computes now; and the key it would compute with the LoRA set `set` in place of its own
 * (its control vector kept). */
uint64_t llamac__ctx_adapter_key(const llamac_context *ctx);
uint64_t llamac__ctx_adapter_key_with(const llamac_context *ctx, const llamac_adapter_scale *set, size_t n);

#endif /* LLAMAC_ADAPTER_INTERNAL_H */
