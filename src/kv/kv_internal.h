/*
 * kv_internal.h - what the KV-cache module shares between its C and C++ halves.
 *
 * llama.cpp reports the bytes it allocated for a context's memory only through its staging C++ API
 * (llama_get_memory_breakdown in src/llama-ext.h); alloc.cpp reads it and hands the sum to C.
 */
#ifndef LLAMAC_KV_INTERNAL_H
#define LLAMAC_KV_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct llama_context;

/* Sets *bytes to the bytes llama.cpp allocated for the memory (KV cache) of `lc`, summed over its buffers, and
 * returns true; false (with err filled) when this build cannot read that figure or llama.cpp threw. */
bool llamac__kv_allocated(const struct llama_context *lc, uint64_t *bytes, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_KV_INTERNAL_H */
