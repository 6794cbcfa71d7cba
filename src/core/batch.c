/*
 * batch.c - multi-sequence batches with explicit positions, checked against the context before decoding.
 *
 * A llama_batch trusts its contents; llama.cpp aborts or corrupts its cache on an out-of-range token, sequence or
 * position. The wrapper records capacity, refuses to overflow it, and llamac_ctx_decode_batch validates every
 * entry against the context before llama.cpp sees the batch.
 */
#include "internal.h"

#include <stdlib.h>

struct llamac_batch {
    struct llama_batch b;
    size_t capacity;
    size_t max_seqs;
    int32_t n_outputs;
};

llamac_status llamac_batch_new(size_t capacity, size_t max_seqs_per_token, llamac_batch **out) {
    if (out) {
        *out = NULL;
    }
    if (!out || capacity == 0 || max_seqs_per_token == 0 || capacity > (size_t)INT32_MAX || max_seqs_per_token > 4096) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "llamac_batch_new: capacity (%zu) and max_seqs_per_token (%zu) must be positive", capacity,
                            max_seqs_per_token);
    }
    llamac_batch *batch = llamac__calloc(1, sizeof *batch);
    if (!batch) {
        return LLAMAC_E_NO_MEMORY;
    }
    batch->b = llama_batch_init((int32_t)capacity, 0, (int32_t)max_seqs_per_token);
    if (!batch->b.token) {
        free(batch);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory for a batch of %zu tokens", capacity);
    }
    batch->capacity = capacity;
    batch->max_seqs = max_seqs_per_token;
    *out = batch;
    return llamac__ok();
}

void llamac_batch_free(llamac_batch *batch) {
    if (batch) {
        llama_batch_free(batch->b);
        free(batch);
    }
}

void llamac_batch_clear(llamac_batch *batch) {
    if (batch) {
        batch->b.n_tokens = 0;
        batch->n_outputs = 0;
    }
}

size_t llamac_batch_size(const llamac_batch *batch) {
    return batch ? (size_t)batch->b.n_tokens : 0;
}

llamac_status llamac_batch_add(llamac_batch *batch, llamac_token token, llamac_pos pos, const llamac_seq_id *seqs,
                               size_t n_seqs, bool output) {
    if (!batch || !seqs) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_batch_add: NULL argument");
    }
    if (pos < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "position %d is negative", pos);
    }
    if (n_seqs == 0 || n_seqs > batch->max_seqs) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "a token needs 1 to %zu sequences; got %zu", batch->max_seqs,
                            n_seqs);
    }
    if ((size_t)batch->b.n_tokens >= batch->capacity) {
        return llamac__fail(LLAMAC_E_BUFFER_TOO_SMALL, "the batch is full (%zu tokens)", batch->capacity);
    }
    int32_t i = batch->b.n_tokens;
    batch->b.token[i] = token;
    batch->b.pos[i] = pos;
    batch->b.n_seq_id[i] = (int32_t)n_seqs;
    for (size_t s = 0; s < n_seqs; s++) {
        batch->b.seq_id[i][s] = seqs[s];
    }
    batch->b.logits[i] = output ? 1 : 0;
    batch->n_outputs += output ? 1 : 0;
    batch->b.n_tokens++;
    return llamac__ok();
}

llamac_status llamac_ctx_decode_batch(llamac_context *ctx, const llamac_batch *batch) {
    if (!ctx || !batch) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_decode_batch: NULL argument");
    }
    const struct llama_batch *b = &batch->b;
    if (b->n_tokens == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the batch is empty");
    }
    if ((uint32_t)b->n_tokens > ctx->info.n_batch) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the batch has %d tokens; the context takes at most n_batch %u",
                            b->n_tokens, ctx->info.n_batch);
    }
    uint32_t cap = llama_n_ctx_seq(ctx->lc);
    for (int32_t i = 0; i < b->n_tokens; i++) {
        if (!llamac__token_valid(ctx->model, b->token[i])) {
            return llamac__fail(LLAMAC_E_TOKEN_RANGE, "batch entry %d: token %d is outside the vocabulary (0..%d)", i,
                                b->token[i], ctx->model->info.n_vocab - 1);
        }
        if ((uint32_t)b->pos[i] >= cap) {
            return llamac__fail(LLAMAC_E_CONTEXT_FULL, "batch entry %d: position %d is past the context (%u)", i,
                                b->pos[i], cap);
        }
        for (int32_t s = 0; s < b->n_seq_id[i]; s++) {
            if (b->seq_id[i][s] < 0 || (uint32_t)b->seq_id[i][s] >= ctx->info.n_seq_max) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                    "batch entry %d: sequence id %d is out of range (the context has %u)", i,
                                    b->seq_id[i][s], ctx->info.n_seq_max);
            }
        }
        /* llama.cpp can put a token into several sequences only with a unified KV cache; without one, each
         * sequence has a stream of its own and such a batch fails as if the cache were full. */
        if (b->n_seq_id[i] > 1 && !ctx->info.kv_unified) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "batch entry %d is in %d sequences; each sequence has a KV stream of its own, so a "
                                "token can be in one only (decode a shared prefix once, then llamac_ctx_seq_cp)",
                                i, b->n_seq_id[i]);
        }
    }
    llamac_status st = llamac__ctx_decode_raw(ctx, *b, batch->n_outputs);
    return st == LLAMAC_OK ? llamac__ok() : st;
}
