/*
 * memory.c - the KV cache (llama.cpp's "memory") by sequence: clear, remove, copy, keep, shift, positions.
 *
 * Thin checked wrappers: sequence ids and ranges are validated here because llama.cpp asserts on some of them,
 * and a removal the memory cannot perform (partial removal on recurrent models) is reported, not ignored.
 */
#include "internal.h"

static llamac_status range_check(llamac_pos p0, llamac_pos p1) {
    if (p0 < -1 || p1 < -1 || (p0 >= 0 && p1 >= 0 && p1 < p0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "position range [%d, %d) is invalid", p0, p1);
    }
    return LLAMAC_OK;
}

llamac_status llamac_ctx_kv_clear(llamac_context *ctx) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_kv_clear: ctx is NULL");
    }
    llama_memory_clear(llama_get_memory(ctx->lc), true);
    ctx->n_outputs = -1;
    return llamac__ok();
}

llamac_status llamac_ctx_seq_rm(llamac_context *ctx, llamac_seq_id seq, llamac_pos p0, llamac_pos p1) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_seq_rm: ctx is NULL");
    }
    llamac_status st = llamac__seq_check(ctx, seq, true);
    if (st == LLAMAC_OK) {
        st = range_check(p0, p1);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    if (!llama_memory_seq_rm(llama_get_memory(ctx->lc), seq, p0, p1)) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the model's memory cannot remove positions [%d, %d) of sequence %d",
                            p0, p1, seq);
    }
    return llamac__ok();
}

llamac_status llamac_ctx_seq_cp(llamac_context *ctx, llamac_seq_id src, llamac_seq_id dst, llamac_pos p0,
                                llamac_pos p1) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_seq_cp: ctx is NULL");
    }
    llamac_status st = llamac__seq_check(ctx, src, false);
    if (st == LLAMAC_OK) {
        st = llamac__seq_check(ctx, dst, false);
    }
    if (st == LLAMAC_OK) {
        st = range_check(p0, p1);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    llama_pos lo = p0 < 0 ? 0 : p0;
    llama_pos hi = p1 < 0 ? INT32_MAX : p1;
    if (src == dst || hi <= lo) {
        return llamac__ok();
    }
    llama_memory_t mem = llama_get_memory(ctx->lc);
    if (ctx->info.kv_unified) {
        /* One buffer for all sequences: the cells are shared, any range can be copied. */
        llama_memory_seq_cp(mem, src, dst, p0, p1);
        return llamac__ok();
    }
    /* Each sequence has a KV stream of its own, and llama.cpp copies between streams only whole sequences: it
     * asserts on a partial range, and would copy everything for one ending at 0. */
    llama_pos src_min = llama_memory_seq_pos_min(mem, src);
    llama_pos src_max = llama_memory_seq_pos_max(mem, src);
    if (src_max >= 0 && (lo > src_min || hi <= src_max)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "cannot copy [%d, %d) of sequence %d (positions %d..%d): only a whole sequence can be "
                            "copied into another; pass p0 -1 and p1 -1",
                            p0, p1, src, src_min, src_max);
    }
    llama_memory_seq_cp(mem, src, dst, -1, -1);
    return llamac__ok();
}

llamac_status llamac_ctx_seq_keep(llamac_context *ctx, llamac_seq_id seq) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_seq_keep: ctx is NULL");
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    /* llama.cpp's seq_keep clears only the KV stream of `seq`, and each sequence has a stream of its own unless the
     * cache is unified; removing every other sequence works for any memory layout. */
    llama_memory_t mem = llama_get_memory(ctx->lc);
    for (uint32_t s = 0; s < ctx->info.n_seq_max; s++) {
        if ((llamac_seq_id)s != seq) {
            llama_memory_seq_rm(mem, (llama_seq_id)s, -1, -1);
        }
    }
    return llamac__ok();
}

llamac_status llamac_ctx_seq_add(llamac_context *ctx, llamac_seq_id seq, llamac_pos p0, llamac_pos p1,
                                 llamac_pos delta) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_seq_add: ctx is NULL");
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st == LLAMAC_OK) {
        st = range_check(p0, p1);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    if (!llama_memory_can_shift(llama_get_memory(ctx->lc))) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the model's memory cannot shift positions");
    }
    llama_memory_seq_add(llama_get_memory(ctx->lc), seq, p0, p1, delta);
    return llamac__ok();
}

static llamac_status pos_query(llamac_context *ctx, llamac_seq_id seq, llamac_pos *out, bool max) {
    if (out) {
        *out = -1;
    }
    if (!ctx || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_seq_pos_%s: NULL argument", max ? "max" : "min");
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    llama_memory_t mem = llama_get_memory(ctx->lc);
    *out = max ? llama_memory_seq_pos_max(mem, seq) : llama_memory_seq_pos_min(mem, seq);
    return llamac__ok();
}

llamac_status llamac_ctx_seq_pos_min(llamac_context *ctx, llamac_seq_id seq, llamac_pos *out) {
    return pos_query(ctx, seq, out, false);
}

llamac_status llamac_ctx_seq_pos_max(llamac_context *ctx, llamac_seq_id seq, llamac_pos *out) {
    return pos_query(ctx, seq, out, true);
}
