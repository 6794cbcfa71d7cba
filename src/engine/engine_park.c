/*
 * engine_park.c - idle slots' caches moved out of the KV cache while other slots generate.
 *
 * llama.cpp sizes every decode's attention by the highest cell in use in the unified cache (rounded up to 256), not
 * by the cells of the sequences in the batch: the prompt caches that idle slots keep for reuse would make every
 * token of every active slot attend over them (measured: a third of a step's time, and long prompts admitted at
 * half speed). So while any slot is busy, an idle slot's sequence is copied to host memory (llama.cpp's per-sequence
 * state) and removed from the cache; a request that reuses its prefix copies it back before its prompt is decoded.
 * A copy costs one pass over the slot's cells, far less than attending over them at every step. The bytes parked
 * are bounded by park_limit_mib; over it a slot simply stays in the cache.
 */
#include "engine_internal.h"

#include <stdlib.h>

static size_t park_limit(const llamac_engine *e) {
    int64_t mib = e->params.park_limit_mib;
    return mib < 0 ? SIZE_MAX : (size_t)mib << 20;
}

void llamac__eng_park_drop(llamac_engine *e, struct eng_slot *s) {
    if (s->parked) {
        e->parked_bytes -= s->parked_size;
        free(s->parked);
        s->parked = NULL;
        s->parked_size = 0;
    }
}

void llamac__eng_park_idle(llamac_engine *e) {
    if (e->params.park_limit_mib == 0) {
        return;
    }
    struct llama_context *lc = e->ctx->lc;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        if (s->req || s->parked || s->n_cache == 0 || s->park_refused == s->n_cache) {
            continue;
        }
        size_t size = llama_state_seq_get_size(lc, s->id);
        void *buf = size > 0 && size <= park_limit(e) - e->parked_bytes ? malloc(size) : NULL;
        if (!buf || llama_state_seq_get_data(lc, buf, size, s->id) != size) {
            /* Too big for what is left of the limit, or no memory: it stays where it is. */
            free(buf);
            s->park_refused = s->n_cache;
            continue;
        }
        llama_memory_seq_rm(llama_get_memory(lc), s->id, -1, -1);
        /* the tag is what llama-server's test suite reads in its log for the same event (a cached idle slot) */
        llamac__log(LLAMAC_LOG_DEBUG,
                    "engine: slot %d is idle: its cache of %zu tokens parked in host memory "
                    "(__TEST_TAG_CACHE_IDLE_SLOT__)",
                    (int)s->id, s->n_cache);
        s->parked = buf;
        s->parked_size = size;
        e->parked_bytes += size;
        pthread_mutex_lock(&e->lock);
        e->stats.slots_parked++;
        pthread_mutex_unlock(&e->lock);
    }
}

bool llamac__eng_unpark(llamac_engine *e, struct eng_slot *s) {
    if (!s->parked) {
        return true;
    }
    size_t read = llama_state_seq_set_data(e->ctx->lc, s->parked, s->parked_size, s->id);
    llamac__eng_park_drop(e, s);
    if (read > 0) {
        llamac__log(LLAMAC_LOG_DEBUG,
                    "engine: slot %d: its parked cache of %zu tokens is back (llama-server's "
                    "words: updating prompt cache)",
                    (int)s->id, s->n_cache);
        pthread_mutex_lock(&e->lock);
        e->stats.slots_restored++;
        pthread_mutex_unlock(&e->lock);
    }
    if (read == 0) {
        llama_memory_seq_rm(llama_get_memory(e->ctx->lc), s->id, -1, -1);
        return false;
    }
    return true;
}
