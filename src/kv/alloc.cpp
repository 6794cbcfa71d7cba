/*
 * alloc.cpp - the bytes llama.cpp really allocated for a context's KV cache, read from its own accounting.
 *
 * llama.cpp logs its KV buffer size only in MiB with two decimals; the exact figure is in
 * llama_get_memory_breakdown(), a C++ function of its staging header (src/llama-ext.h, not installed with the
 * library), which maps each buffer type to the model, context (memory) and compute bytes on it. This file is
 * compiled with that header when llama.cpp's source tree is known at configure time; otherwise it says so.
 */
#include "kv_internal.h"

#include <cstdio>
#include <exception>

#ifdef LLAMAC_HAVE_LLAMA_EXT
#    include "llama-ext.h"
#endif

static void put(char *err, size_t cap, const char *what) {
    if (err && cap) {
        std::snprintf(err, cap, "%s", what);
    }
}

extern "C" bool llamac__kv_allocated(const struct llama_context *lc, uint64_t *bytes, char *err, size_t err_cap) {
    *bytes = 0;
#ifdef LLAMAC_HAVE_LLAMA_EXT
    try {
        uint64_t sum = 0;
        for (const auto &entry : llama_get_memory_breakdown(lc)) {
            sum += entry.second.context;
        }
        *bytes = sum;
        return true;
    } catch (const std::exception &e) {
        put(err, err_cap, e.what());
    } catch (...) {
        put(err, err_cap, "unknown error");
    }
    return false;
#else
    (void)lc;
    put(err, err_cap,
        "this build of libllamac has no access to llama.cpp's memory accounting (configure it with llama.cpp's "
        "source tree, which has src/llama-ext.h)");
    return false;
#endif
}
