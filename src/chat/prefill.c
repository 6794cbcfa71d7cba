/*
 * prefill.c - incremental prefill: decoding a chat prompt into the session's sequence while the user types it.
 *
 * Every update renders the whole conversation with the partial message (as llamac_chat_generate will render the
 * final one) and works only with token prefixes: the sequence is trimmed at the first token that differs from the
 * new render, and what is queued is a prefix of that render. Which tokens are stable is
 * llamac_template_stable_tokens' answer (render.c: the template's text before the message, plus the typed text,
 * tokenized alone, shares with the real render exactly the tokens that cannot depend on what the template writes
 * after the message; a margin before that boundary is withheld, since the next keystroke can still merge into
 * it). Correctness never depends on these guesses: the final generation decodes from the longest common prefix of
 * the real prompt with chat->cache, so a wrong guess only costs time.
 *
 * Speculation extends the queue past the stable tokens to the whole render but its last token (the render has the
 * generation prompt, so it is the prompt llamac_chat_generate will make if Enter comes now); the steps decode the
 * stable tokens first, since the queue is a prefix. The last token is left out because the generation decodes the
 * prompt's last token again anyway to get its logits. Speculative tokens live in the same sequence as the others:
 * an update trims them like any token that no longer matches; spec_lo only tells which ones to count as
 * speculative in the statistics.
 */
#include "chat/chat_internal.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct llamac_prefill {
    llamac_chat *chat;
    llamac_prefill_params params;
    llamac_token *want; /* the queue's source: a prefix of the latest render, n_want tokens */
    size_t n_want;
    size_t n_stable; /* want[0..n_stable) are the stable tokens, the rest are speculative */
    size_t spec_lo;  /* position of the first speculative token the sequence still holds; SIZE_MAX: none */
    llamac_prefill_stats stats;
};

llamac_prefill_params llamac_prefill_params_default(void) {
    llamac_prefill_params p;
    memset(&p, 0, sizeof p);
    p.margin = 2;
    p.step_tokens = 16;
    p.speculate = true;
    return p;
}

llamac_status llamac_prefill_new(llamac_chat *chat, const llamac_prefill_params *params, llamac_prefill **out) {
    if (out) {
        *out = NULL;
    }
    if (!chat || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_prefill_new: NULL argument");
    }
    llamac_prefill_params def = llamac_prefill_params_default();
    const llamac_prefill_params *p = params ? params : &def;
    if (p->margin < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "prefill margin %d must be 0 or more", p->margin);
    }
    if (p->step_tokens < 1 || p->step_tokens > 512) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "prefill step_tokens %d must be between 1 and 512",
                            p->step_tokens);
    }
    llamac_prefill *pf = llamac__calloc(1, sizeof *pf);
    if (!pf) {
        return LLAMAC_E_NO_MEMORY;
    }
    pf->want = llamac__malloc((chat->cap_cache + 1) * sizeof *pf->want);
    if (!pf->want) {
        free(pf);
        return LLAMAC_E_NO_MEMORY;
    }
    pf->chat = chat;
    pf->params = *p;
    pf->spec_lo = SIZE_MAX;
    *out = pf;
    return llamac__ok();
}

void llamac_prefill_free(llamac_prefill *pf) {
    if (!pf) {
        return;
    }
    free(pf->want);
    free(pf);
}

/* Makes the sequence hold exactly chat->cache[0..keep): drops the rest, or everything when the memory cannot
 * drop a tail. Returns the tokens removed from the cache's record. */
static size_t trim_to(llamac_chat *chat, size_t keep) {
    llamac__chat_cache_sync(chat);
    if (keep > chat->n_cache) {
        keep = chat->n_cache;
    }
    llama_memory_t mem = llama_get_memory(chat->ctx->lc);
    if (!llama_memory_seq_rm(mem, chat->gen.seq, (llama_pos)keep, -1)) {
        llama_memory_seq_rm(mem, chat->gen.seq, -1, -1);
        keep = 0;
    }
    size_t removed = chat->n_cache - keep;
    chat->n_cache = keep;
    return removed;
}

/* trim_to, with the statistics: what is removed is wasted work, and the part of it from spec_lo on was
 * speculative. */
static void drop_to(llamac_prefill *pf, size_t keep) {
    llamac_chat *chat = pf->chat;
    llamac__chat_cache_sync(chat);
    size_t before = chat->n_cache;
    size_t removed = trim_to(chat, keep);
    if (pf->spec_lo < before) {
        size_t from = pf->spec_lo > chat->n_cache ? pf->spec_lo : chat->n_cache;
        pf->stats.n_spec_wasted += (int64_t)(before - from);
    }
    pf->stats.n_invalidated += (int64_t)removed;
    if (pf->spec_lo >= chat->n_cache) {
        pf->spec_lo = SIZE_MAX;
    }
}

llamac_status llamac_prefill_update(llamac_prefill *pf, const char *text, size_t len) {
    if (!pf || (!text && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_prefill_update: NULL argument");
    }
    if (!text) {
        text = "";
    }
    if (!llamac_utf8_valid(text, len, NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "the message typed so far is not valid UTF-8");
    }
    llamac_chat *chat = pf->chat;
    llamac_token *full = NULL;
    size_t n_full = 0, target = 0;
    llamac_status st = llamac__chat_render(chat, text, len, true, NULL, NULL, &full, &n_full);
    if (st == LLAMAC_OK) {
        st = llamac__chat_stable_tokens(chat, text, len, full, n_full, (size_t)pf->params.margin, &target);
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    pf->stats.n_updates++;
    size_t limit = chat->cap_cache > 0 ? chat->cap_cache - 1 : 0;
    if (target > limit) {
        target = limit;
    }
    size_t n_want = target;
    if (pf->params.speculate && n_full > 0 && n_full - 1 > n_want) {
        n_want = n_full - 1 < limit ? n_full - 1 : limit;
    }
    /* Drop what an edit changed; keep the rest of what matches the new render (even past the target). */
    llamac__chat_cache_sync(chat);
    drop_to(pf, llamac__chat_common_prefix(chat, full, n_full));
    memcpy(pf->want, full, n_want * sizeof *full);
    pf->n_want = n_want;
    pf->n_stable = target;
    /* Speculative tokens that still match and are now stable are no longer speculative. */
    if (pf->spec_lo != SIZE_MAX && pf->spec_lo < target) {
        pf->spec_lo = target < chat->n_cache ? target : SIZE_MAX;
    }
    st = llamac__ok();
done:
    free(full);
    return st;
}

llamac_status llamac_prefill_step(llamac_prefill *pf, size_t *n_left) {
    if (n_left) {
        *n_left = 0;
    }
    if (!pf) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_prefill_step: NULL prefill");
    }
    llamac_chat *chat = pf->chat;
    llamac__chat_cache_sync(chat);
    size_t have = llamac__chat_common_prefix(chat, pf->want, pf->n_want);
    if (have >= pf->n_want) {
        return llamac__ok();
    }
    /* Append after `have`: drop whatever the sequence holds past it (nothing, unless the sequence changed under
     * the queue). */
    drop_to(pf, have);
    have = chat->n_cache; /* less when the memory could not drop a tail */
    size_t m = pf->n_want - have;
    if (m > (size_t)pf->params.step_tokens) {
        m = (size_t)pf->params.step_tokens;
    }
    llamac_status st = llamac_ctx_decode(chat->ctx, chat->gen.seq, pf->want + have, m);
    if (st != LLAMAC_OK) {
        trim_to(chat, have);
        if (n_left) {
            *n_left = pf->n_want - have;
        }
        return st;
    }
    memcpy(chat->cache + have, pf->want + have, m * sizeof *pf->want);
    chat->n_cache = have + m;
    chat->cache_key = llamac__ctx_adapter_key(chat->ctx);
    llamac__chat_cache_mark_text(chat, have, have + m);
    pf->stats.n_decoded += (int64_t)m;
    if (have + m > pf->n_stable) {
        size_t first = have > pf->n_stable ? have : pf->n_stable;
        pf->stats.n_spec_decoded += (int64_t)(have + m - first);
        if (first < pf->spec_lo) {
            pf->spec_lo = first;
        }
    }
    if (n_left) {
        *n_left = pf->n_want - chat->n_cache;
    }
    return llamac__ok();
}

size_t llamac_prefill_pending(const llamac_prefill *pf) {
    if (!pf) {
        return 0;
    }
    size_t have = llamac__chat_common_prefix(pf->chat, pf->want, pf->n_want);
    return pf->n_want > have ? pf->n_want - have : 0;
}

void llamac_prefill_cancel(llamac_prefill *pf) {
    if (pf) {
        pf->n_want = 0;
    }
}

llamac_status llamac_prefill_flush(llamac_prefill *pf, const char *text, size_t len) {
    if (!pf || (!text && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_prefill_flush: NULL argument");
    }
    if (!text) {
        text = "";
    }
    if (!llamac_utf8_valid(text, len, NULL)) {
        return llamac__fail(LLAMAC_E_UTF8, "the message is not valid UTF-8");
    }
    llamac_chat *chat = pf->chat;
    llamac_token *full = NULL;
    size_t n_full = 0;
    /* The render with the message pending is the one llamac_chat_generate makes once it is added. */
    llamac_status st = llamac__chat_render(chat, text, len, true, NULL, NULL, &full, &n_full);
    if (st != LLAMAC_OK) {
        return st;
    }
    if ((st = llamac_chat_add(chat, "user", text, len)) != LLAMAC_OK) {
        free(full);
        return st;
    }
    llamac__chat_cache_sync(chat);
    size_t reused = llamac__chat_common_prefix(chat, full, n_full);
    /* What the sequence holds past the common prefix, llamac_chat_generate drops: wasted. */
    pf->stats.n_invalidated += (int64_t)(chat->n_cache - reused);
    if (pf->spec_lo < chat->n_cache) {
        pf->stats.n_spec_wasted += (int64_t)(chat->n_cache - (pf->spec_lo > reused ? pf->spec_lo : reused));
    }
    if (n_full > 0 && reused >= n_full) {
        reused = n_full - 1; /* the last token is decoded again: its logits start the reply */
    }
    free(full);
    if (pf->spec_lo < reused) {
        pf->stats.n_spec_used += (int64_t)(reused - pf->spec_lo);
    }
    pf->spec_lo = SIZE_MAX; /* what is in the sequence now is the prompt */
    pf->n_want = 0;
    pf->n_stable = 0;
    pf->stats.n_flushes++;
    pf->stats.n_reused += (int64_t)reused;
    pf->stats.n_remaining += (int64_t)(n_full - reused);
    pf->stats.last_reused = (int32_t)reused;
    pf->stats.last_remaining = (int32_t)(n_full - reused);
    return llamac__ok();
}

void llamac_prefill_get_stats(llamac_prefill *pf, llamac_prefill_stats *out, bool reset) {
    if (!out) {
        return;
    }
    memset(out, 0, sizeof *out);
    if (!pf) {
        return;
    }
    *out = pf->stats;
    if (reset) {
        memset(&pf->stats, 0, sizeof pf->stats);
    }
}
