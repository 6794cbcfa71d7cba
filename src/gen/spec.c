/*
 * spec.c - the draft side of speculative decoding: checking a draft model against the target, and proposing the
 * tokens the target is asked to verify (n-gram lookup in the text so far, then a draft model's greedy guess).
 *
 * The drafter only proposes; whoever verifies (llamac_generate's loop) samples every token with the target's own
 * chain, so a bad draft costs time, never correctness. The draft model's sequence is kept in step with the text by
 * token comparison, like the engine's prompt cache: each proposal decodes only what the draft sequence lacks. The
 * engine proposes for all its drafting slots at once (llamac__drafters_propose): their draft sequences share one
 * context, so one batch holds every catch-up and one decode per draft position every token drafted next.
 */
#include "gen/gen_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#define VOCAB_CHECK_START 5 /* token ids below this (control tokens) may differ, as llama.cpp allows */
#define VOCAB_MAX_DIFF 128  /* most tokens the two vocabularies' sizes may differ by, as llama.cpp allows */
#define NGRAM_LIMIT 16
#define PROB_CUT 25.0f /* logits below the top token's that the draft probability leaves out */

llamac_spec_params llamac_spec_params_default(void) {
    llamac_spec_params p;
    memset(&p, 0, sizeof p);
    p.n_max = 16;
    p.n_min = 0;
    p.p_min = 0.75f;
    p.ngram_max = 3;
    p.ngram_min = 2;
    return p;
}

llamac_status llamac_model_check_draft(const llamac_model *target, const llamac_model *draft) {
    if (!target || !draft) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_model_check_draft: NULL argument");
    }
    const struct llama_vocab *vt = target->vocab, *vd = draft->vocab;
    int tt = (int)llama_vocab_type(vt), td = (int)llama_vocab_type(vd);
    if (tt != td) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the draft model's vocabulary is of another type (%d) than the target's (%d)", td, tt);
    }
    if (llama_vocab_get_add_bos(vt) != llama_vocab_get_add_bos(vd) ||
        (llama_vocab_get_add_bos(vt) && llama_vocab_bos(vt) != llama_vocab_bos(vd))) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the draft model's BOS token differs from the target's (draft: id %d, %s; target: id %d, "
                            "%s)",
                            llama_vocab_bos(vd), llama_vocab_get_add_bos(vd) ? "added" : "not added",
                            llama_vocab_bos(vt), llama_vocab_get_add_bos(vt) ? "added" : "not added");
    }
    if (llama_vocab_get_add_eos(vt) != llama_vocab_get_add_eos(vd) ||
        (llama_vocab_get_add_eos(vt) && llama_vocab_eos(vt) != llama_vocab_eos(vd))) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the draft model's EOS token differs from the target's (draft: id %d, %s; target: id %d, "
                            "%s)",
                            llama_vocab_eos(vd), llama_vocab_get_add_eos(vd) ? "added" : "not added",
                            llama_vocab_eos(vt), llama_vocab_get_add_eos(vt) ? "added" : "not added");
    }
    int32_t nt = llama_vocab_n_tokens(vt), nd = llama_vocab_n_tokens(vd);
    if (abs(nt - nd) > VOCAB_MAX_DIFF) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the draft model's vocabulary has %d tokens, the target's %d: they may differ by at most "
                            "%d",
                            nd, nt, VOCAB_MAX_DIFF);
    }
    int32_t n = nt < nd ? nt : nd;
    for (int32_t i = VOCAB_CHECK_START; i < n; i++) {
        const char *a = llama_vocab_get_text(vt, i), *b = llama_vocab_get_text(vd, i);
        if (strcmp(a ? a : "", b ? b : "") != 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "the draft model's vocabulary differs from the target's: token %d is '%.40s' in the "
                                "draft, '%.40s' in the target",
                                i, b ? b : "", a ? a : "");
        }
    }
    return llamac__ok();
}

llamac_status llamac__spec_check(const llamac_context *target, const llamac_spec_params *p) {
    if (p->n_max < 1 || p->n_max > LLAMAC_SPEC_MAX_DRAFT) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec.n_max %d must be from 1 to %d (tokens per draft)",
                            p->n_max, LLAMAC_SPEC_MAX_DRAFT);
    }
    if (p->n_min < 0 || p->n_min > p->n_max) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec.n_min %d must be from 0 to spec.n_max (%d)", p->n_min,
                            p->n_max);
    }
    if (!(p->p_min >= 0.0f && p->p_min <= 1.0f)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec.p_min %g must be from 0 to 1", (double)p->p_min);
    }
    if (p->ngram && (p->ngram_min < 1 || p->ngram_max < p->ngram_min || p->ngram_max > NGRAM_LIMIT)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "spec.ngram_min %d and spec.ngram_max %d must satisfy 1 <= ngram_min <= ngram_max <= %d",
                            p->ngram_min, p->ngram_max, NGRAM_LIMIT);
    }
    if (p->draft == target) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the draft context is the target's own context; give the draft model a context of its own");
    }
    if (p->draft) {
        if (p->draft->info.embeddings) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the draft context computes embeddings, not logits");
        }
        return llamac_model_check_draft(target->model, p->draft->model);
    }
    return llamac__ok();
}

bool llamac__spec_on(const llamac_spec_params *p) {
    return p->draft != NULL || p->ngram;
}

llamac_status llamac__drafter_init(llamac__drafter *d, const llamac_context *target, const llamac_spec_params *p) {
    memset(d, 0, sizeof *d);
    llamac_status st = llamac__spec_check(target, p);
    return st == LLAMAC_OK ? llamac__drafter_start(d, p, 0) : st;
}

llamac_status llamac__drafter_start(llamac__drafter *d, const llamac_spec_params *p, llamac_seq_id seq) {
    memset(d, 0, sizeof *d);
    d->p = p;
    d->seq = seq;
    d->catchup_max = SIZE_MAX;
    if (p->draft) {
        d->cap = llama_n_ctx_seq(p->draft->lc);
        d->cache = malloc(d->cap * sizeof *d->cache);
        if (!d->cache || llamac_batch_new(p->draft->info.n_batch, 1, &d->batch) != LLAMAC_OK) {
            free(d->cache);
            d->cache = NULL;
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory for the draft model's token list and batch");
        }
        if (!llama_memory_seq_rm(llama_get_memory(p->draft->lc), seq, -1, -1)) {
            free(d->cache);
            d->cache = NULL;
            llamac_batch_free(d->batch);
            d->batch = NULL;
            return llamac__fail(LLAMAC_E_UNSUPPORTED, "the draft model's memory cannot be cleared");
        }
    }
    return llamac__ok();
}

void llamac__drafter_free(llamac__drafter *d) {
    if (d->cache && d->p && d->p->draft) {
        llama_memory_seq_rm(llama_get_memory(d->p->draft->lc), d->seq, -1, -1); /* its cells go back to the others */
    }
    free(d->cache);
    d->cache = NULL;
    llamac_batch_free(d->batch);
    d->batch = NULL;
}

/* The tokens that followed the latest earlier occurrence of the text's last ngram_max..ngram_min tokens. */
static size_t ngram_draft(const llamac_spec_params *p, const llamac_token *h, size_t n, llamac_token *out, size_t max) {
    for (size_t sz = (size_t)p->ngram_max; sz >= (size_t)p->ngram_min; sz--) {
        if (n < sz + 1) {
            continue;
        }
        const llamac_token *pat = h + n - sz;
        for (size_t j = n - sz; j-- > 0;) {
            if (memcmp(h + j, pat, sz * sizeof *h) == 0) {
                size_t from = j + sz, k = n - from < max ? n - from : max;
                memcpy(out, h + from, k * sizeof *out);
                return k;
            }
        }
    }
    return 0;
}

/* The most likely token of output i of the draft context's last decode and its probability. */
static llamac_status draft_top(llamac_context *dc, int32_t i, llamac_token *tok, float *prob) {
    const float *lg = NULL;
    size_t nv = 0;
    llamac_status st = llamac_ctx_logits(dc, i, &lg, &nv);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t best = 0;
    for (size_t t = 1; t < nv; t++) {
        best = lg[t] > lg[best] ? t : best;
    }
    /* The softmax's denominator over the tokens within PROB_CUT logits of the top one: exp() of every logit of a
     * 150k vocabulary took 1.7 ms per drafted token on a 2-core build machine, half as long as a small draft's whole
     * decode (~3 ms), while the tokens left out weigh at most nv * e^-PROB_CUT of the top one (2e-6 for 150k). */
    const float cut = lg[best] - PROB_CUT;
    double sum = 0;
    for (size_t t = 0; t < nv; t++) {
        sum += lg[t] > cut ? exp((double)(lg[t] - lg[best])) : 0.0;
    }
    *tok = (llamac_token)best;
    *prob = (float)(1.0 / fmax(sum, 1.0));
    return LLAMAC_OK;
}

/* What the draft sequence keeps of the text h[0..n) (n >= 1): the prefix it shares with it, but not the last token,
 * which is decoded again for its logits. */
static size_t draft_keep(const llamac__drafter *d, const llamac_token *h, size_t n) {
    size_t keep = llamac__common_prefix(d->cache, d->n_cache, h, n);
    return keep < n ? keep : n - 1;
}

/* A batch of the draft context shared by the jobs drafting with the model in a round. */
struct draft_round {
    llamac_context *dc;
    llamac_batch *b;
    llamac__draft_job *head; /* the jobs drafting with the model (next_model) */
    int32_t n_out;           /* outputs in the batch */
    uint64_t *n_tokens, *n_decodes;
};

/* Decodes the round's batch and reads the top token of each output it held into its job. */
static llamac_status round_decode(struct draft_round *r) {
    size_t n = llamac_batch_size(r->b);
    if (n == 0) {
        return LLAMAC_OK;
    }
    *r->n_tokens += n;
    (*r->n_decodes)++;
    llamac_status st = llamac_ctx_decode_batch(r->dc, r->b);
    llamac_batch_clear(r->b);
    r->n_out = 0;
    for (llamac__draft_job *j = r->head; j; j = j->next_model) {
        if (j->out_i >= 0 && st == LLAMAC_OK) {
            st = draft_top(r->dc, j->out_i, &j->top, &j->prob);
        }
        j->out_i = -1;
    }
    return st;
}

/* Adds token t at position pos of j's sequence to the round's batch, decoding the batch first when it is full. */
static llamac_status round_add(struct draft_round *r, llamac__draft_job *j, llamac_token t, size_t pos, bool output) {
    llamac_status st = LLAMAC_OK;
    if (llamac_batch_size(r->b) >= r->dc->info.n_batch && (st = round_decode(r)) != LLAMAC_OK) {
        return st;
    }
    llamac_seq_id seq = j->d->seq;
    if ((st = llamac_batch_add(r->b, t, (llamac_pos)pos, &seq, 1, output)) == LLAMAC_OK && output) {
        j->out_i = r->n_out++;
    }
    return st;
}

/* The draft model's greedy continuations for the jobs from `head` on (next_model), each while its top probability
 * stays at least its p_min: first every sequence catches up on what it lacks of its text (one batch, or as many as
 * n_batch needs), then one decode per draft position holds the next token of every sequence still drafting. */
static llamac_status model_drafts(struct draft_round *r) {
    llama_memory_t mem = llama_get_memory(r->dc->lc);
    llamac_status st = LLAMAC_OK;
    for (llamac__draft_job *j = r->head; j && st == LLAMAC_OK; j = j->next_model) {
        llamac__drafter *d = j->d;
        if (!llama_memory_seq_rm(mem, d->seq, (llama_pos)j->keep, -1)) {
            return llamac__fail(LLAMAC_E_UNSUPPORTED, "the draft model's memory cannot drop positions from %zu on",
                                j->keep);
        }
        d->n_cache = j->keep;
        for (size_t i = j->keep; i < j->n && st == LLAMAC_OK; i++) {
            st = round_add(r, j, j->h[i], i, i + 1 == j->n);
        }
    }
    if (st != LLAMAC_OK || (st = round_decode(r)) != LLAMAC_OK) {
        return st;
    }
    for (llamac__draft_job *j = r->head; j; j = j->next_model) {
        memcpy(j->d->cache + j->keep, j->h + j->keep, (j->n - j->keep) * sizeof *j->h);
        j->d->n_cache = j->n;
        j->live = true;
    }
    for (bool any = true; any;) {
        any = false;
        for (llamac__draft_job *j = r->head; j; j = j->next_model) {
            if (!j->live || j->prob < j->d->p->p_min) {
                j->live = false;
                continue;
            }
            j->out[j->n_out++] = j->top;
            if (j->n_out >= j->room) {
                j->live = false;
                continue;
            }
            if ((st = round_add(r, j, j->top, j->d->n_cache, true)) != LLAMAC_OK) {
                return st;
            }
            j->d->cache[j->d->n_cache++] = j->top;
            any = true;
        }
        if (any && (st = round_decode(r)) != LLAMAC_OK) {
            return st;
        }
    }
    return LLAMAC_OK;
}

llamac_status llamac__drafters_propose(llamac__draft_job *jobs, uint64_t *n_tokens, uint64_t *n_decodes) {
    struct draft_round r;
    memset(&r, 0, sizeof r);
    r.n_tokens = n_tokens;
    r.n_decodes = n_decodes;
    llamac__draft_job **tail = &r.head;
    for (llamac__draft_job *j = jobs; j; j = j->next) {
        llamac__drafter *d = j->d;
        j->n_out = 0;
        j->out_i = -1;
        j->live = false;
        j->next_model = NULL;
        j->room = j->max < (size_t)d->p->n_max ? j->max : (size_t)d->p->n_max;
        d->from_model = false;
        if (j->room == 0 || j->n == 0) {
            continue;
        }
        if (d->p->ngram) {
            j->n_out = ngram_draft(d->p, j->h, j->n, j->out, j->room);
        }
        if (j->n_out > 0 || !d->p->draft) {
            continue;
        }
        if (d->skip > 0) {
            d->skip--;
            continue;
        }
        if (j->n + j->room >= d->cap) {
            continue; /* the draft's context is full: no draft, the target goes on alone */
        }
        j->keep = draft_keep(d, j->h, j->n);
        if (j->n - j->keep > d->catchup_max) {
            continue; /* the catch-up would cost more than the drafts could save: no draft, no miss */
        }
        d->from_model = true;
        r.dc = d->p->draft;
        r.b = r.b ? r.b : d->batch;
        *tail = j;
        tail = &j->next_model;
    }
    llamac_status st = r.head ? model_drafts(&r) : LLAMAC_OK;
    for (llamac__draft_job *j = jobs; j; j = j->next) {
        llamac__drafter *d = j->d;
        if (st != LLAMAC_OK && d->from_model) {
            /* what the failed decodes left in the sequence is unknown: the next proposal catches up from nothing */
            llama_memory_seq_rm(llama_get_memory(r.dc->lc), d->seq, -1, -1);
            d->n_cache = 0;
            j->n_out = 0;
            continue;
        }
        if (j->n_out < (size_t)d->p->n_min) {
            j->n_out = 0;
        }
        if (d->from_model && j->n_out == 0) {
            llamac__drafter_verified(d, 1, 0); /* a decode that gave no draft: as a rejected one */
        }
    }
    return st;
}

llamac_status llamac__drafter_propose(llamac__drafter *d, const llamac_token *h, size_t n, llamac_token *out,
                                      size_t max, size_t *n_out) {
    llamac__draft_job j;
    memset(&j, 0, sizeof j);
    j.d = d;
    j.h = h;
    j.n = n;
    j.out = out;
    j.max = max;
    uint64_t tokens = 0, decodes = 0;
    llamac_status st = llamac__drafters_propose(&j, &tokens, &decodes);
    *n_out = j.n_out;
    return st;
}

void llamac__drafter_verified(llamac__drafter *d, size_t n_drafted, size_t n_accepted) {
    if (!d->from_model || n_drafted == 0) {
        return; /* n-gram lookup costs no decode: it never backs off */
    }
    if (n_accepted > 0) {
        d->misses = 0;
        return;
    }
    if (++d->misses >= LLAMAC__DRAFT_MISSES) {
        uint32_t k = d->misses - LLAMAC__DRAFT_MISSES;
        d->skip = k >= 5 ? LLAMAC__DRAFT_BACKOFF_MAX : 1u << k; /* 1, 2, 4, 8, 16, then 32 */
    }
}
