/*
 * engine_step.c - the engine's worker thread: admission, one batch per step, sampling, and text out.
 *
 * Each step decodes ONE batch: the pending token of every generating slot first, then prompt chunks of the slots
 * still prefilling (oldest request first) up to the per-step budget. The generating slots are therefore never left
 * out of a step, and a long prompt costs each of them at most one chunk of extra latency per token. A medium in a
 * prompt is evaluated on its own before the batch (libmtmd encodes it and decodes its embeddings into the slot's
 * sequence), one per slot and step; the prompt's text around it goes into the batches as any prompt's. Callbacks run
 * with the engine lock released, so they may cancel or submit; only this thread touches the context and the slots.
 *
 * The exception is LoRA: llama.cpp applies one adapter set to the whole context (not per sequence), so a step holds
 * only the slots whose requests share the set of the slot that has waited longest (step_leader), and the context's set
 * is switched to it first when it differs; slots with other sets wait for a later step, their turns alternating.
 * A switch costs llama.cpp a new graph (about as much as a one-token step of a 0.5B model), so a set keeps the
 * context for ENG_SET_TURN steps in a row while its slots have work before the others get their turn.
 */
#include "engine/engine_internal.h"
#include "media/media_internal.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Refreshes the snapshot other threads read. Call with the lock held. */
static void publish(llamac_engine *e, struct eng_slot *s) {
    s->pub.state = s->state;
    s->pub.n_cached = (uint32_t)s->n_cache;
    s->pub.request_id = s->req ? s->req->id : 0;
    s->pub.n_prompt = s->req ? (int32_t)s->req->n_prompt : 0;
    size_t done = s->req ? (s->n_cache < s->req->n_prompt ? s->n_cache : s->req->n_prompt) : 0;
    s->pub.n_prompt_done = (int32_t)done;
    s->pub.n_generated = s->n_generated;
    s->pub.requests_served = s->served;
    s->pub.parked = s->parked != NULL;
    (void)e;
}

static void publish_all(llamac_engine *e) {
    pthread_mutex_lock(&e->lock);
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        publish(e, &e->slots[i]);
    }
    pthread_mutex_unlock(&e->lock);
}

/* Runs the completion callback of a request that never got a slot, then frees it. Lock not held. */
static void finish_unslotted(llamac_engine *e, struct eng_request *q) {
    llamac_engine_result res;
    memset(&res, 0, sizeof res);
    res.request_id = q->id;
    res.slot = -1;
    res.finish_reason = LLAMAC_FINISH_CANCELLED;
    res.status = LLAMAC_OK;
    res.error = "";
    res.usage.prompt_tokens = (int32_t)q->n_prompt;
    res.usage.queue_ms = llamac__now_ms() - q->t_submit;
    pthread_mutex_lock(&e->lock);
    e->stats.requests_finished++;
    e->stats.requests_cancelled++;
    pthread_mutex_unlock(&e->lock);
    if (q->on_done) {
        q->on_done(&res, q->user_data);
    }
    llamac__eng_request_free(q);
}

/* Ends the slot's request: completion callback, then the slot goes idle (its cache stays). Lock not held. */
static void finish_slot(llamac_engine *e, struct eng_slot *s, llamac_finish_reason reason, llamac_status status,
                        const char *error, const char *stop) {
    struct eng_request *q = s->req;
    double now = llamac__now_ms();
    llamac_engine_result res;
    memset(&res, 0, sizeof res);
    res.request_id = q->id;
    res.slot = s->id;
    res.finish_reason = status == LLAMAC_OK ? reason : LLAMAC_FINISH_NONE;
    res.status = status;
    /* A copy: the message may be this thread's last error, which the callback's own llamac calls would replace. */
    char message[512];
    snprintf(message, sizeof message, "%s", error ? error : "");
    res.error = message;
    res.stop = stop;
    llamac_engine_usage *u = &res.usage;
    u->prompt_tokens = (int32_t)q->n_prompt;
    u->cached_tokens = s->n_reused;
    u->generated_tokens = s->n_generated;
    u->discarded_tokens = s->n_discarded;
    u->draft_tokens = s->n_drafted;
    u->draft_accepted = s->n_accepted;
    u->queue_ms = s->t_start - q->t_submit;
    if (s->t_prompt_end > 0) {
        u->prompt_ms = s->t_prompt_end - s->t_start;
        int32_t decoded = u->prompt_tokens - u->cached_tokens;
        u->prompt_tokens_per_s = u->prompt_ms > 0 ? decoded * 1000.0 / u->prompt_ms : 0;
    }
    if (s->t_first > 0) {
        u->generation_ms = now - s->t_first;
        u->tokens_per_s =
            s->n_generated > 1 && u->generation_ms > 0 ? (double)(s->n_generated - 1) * 1000.0 / u->generation_ms : 0;
    }
    if (s->spec_on) {
        llamac__drafter_free(&s->drafter);
        s->spec_on = false;
    }
    /* The slot is idle before the callback runs, so that whoever the callback wakes sees it free. */
    pthread_mutex_lock(&e->lock);
    s->req = NULL;
    s->state = LLAMAC_SLOT_IDLE;
    s->has_pending = false;
    s->out_index = -1;
    s->served++;
    s->last_used = ++e->lru_clock;
    e->stats.requests_finished++;
    if (reason == LLAMAC_FINISH_CANCELLED && status == LLAMAC_OK) {
        e->stats.requests_cancelled++;
    }
    e->n_active--;
    publish(e, s);
    pthread_cond_broadcast(&e->idle);
    pthread_mutex_unlock(&e->lock);
    if (q->on_done) {
        q->on_done(&res, q->user_data);
    }
    llamac__eng_request_free(q);
}

/* The common prefix of the slot's cache and q's prompt, `lcp` tokens by comparing tokens, cut to the first medium of
 * the prompt within it that the cache does not hold whole at the same place with the same id. */
static size_t media_prefix(const struct eng_slot *s, const struct eng_request *q, size_t lcp) {
    for (size_t k = 0; k < q->n_media && q->media[k].start < lcp; k++) {
        const struct eng_media *m = &q->media[k];
        bool same = false;
        for (size_t j = 0; j < s->n_media && !same; j++) {
            const struct eng_media *c = &s->media[j];
            same =
                c->start == m->start && c->n == m->n && c->n_pos == m->n_pos && m->id[0] && strcmp(c->id, m->id) == 0;
        }
        if (!same || m->start + m->n > lcp) {
            return m->start;
        }
    }
    return lcp;
}

/* The reusable prefix of the slot's cache for q: none when the cells were computed under other adapters. */
static size_t reusable(const struct eng_slot *s, const struct eng_request *q) {
    if (!q->cache_prompt || s->cache_key != q->key) {
        return 0;
    }
    return media_prefix(s, q, llamac__common_prefix(s->cache, s->n_cache, q->prompt, q->n_prompt));
}

/* The medium of q's prompt that starts at `pos`, or NULL; *text (may be NULL) receives the number of text tokens
 * from pos to the next medium or the prompt's end. */
static const struct eng_media *media_at(const struct eng_request *q, size_t pos, size_t *text) {
    size_t next = q->n_prompt;
    const struct eng_media *here = NULL;
    for (size_t k = 0; k < q->n_media; k++) {
        if (q->media[k].start == pos) {
            here = &q->media[k];
        }
        if (q->media[k].start >= pos && q->media[k].start < next) {
            next = q->media[k].start;
        }
    }
    if (text) {
        *text = next - pos;
    }
    return here;
}

/* Picks the idle slot for `q`: the one it names (NULL while that one is busy), else the longest cached prefix, ties
 * to the least recently used. Lock held. */
static struct eng_slot *pick_slot(llamac_engine *e, const struct eng_request *q, size_t *lcp) {
    if (q->slot >= 0) {
        struct eng_slot *s = &e->slots[q->slot];
        if (s->req) {
            return NULL;
        }
        *lcp = reusable(s, q);
        return s;
    }
    struct eng_slot *best = NULL, *lru = NULL;
    size_t best_lcp = 0, lru_lcp = 0;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        if (s->req) {
            continue;
        }
        size_t n = reusable(s, q);
        if (!best || n > best_lcp || (n == best_lcp && s->last_used < best->last_used)) {
            best = s;
            best_lcp = n;
        }
        if (!lru || s->last_used < lru->last_used) {
            lru = s;
            lru_lcp = n;
        }
    }
    /* A match that is only a small part of the prompt (a shared system prompt) does not claim a slot whose cache
     * another conversation may come back for: the least recently used slot takes the request instead. */
    if (best && (double)best_lcp < (double)e->params.slot_similarity * (double)q->n_prompt) {
        best = lru;
        best_lcp = lru_lcp;
    }
    *lcp = best_lcp;
    return best;
}

/* Moves queued requests into idle slots. Lock held. */
static void admit(llamac_engine *e) {
    while (e->queue_head) {
        size_t lcp = 0;
        struct eng_slot *s = pick_slot(e, e->queue_head, &lcp);
        if (!s) {
            return;
        }
        struct eng_request *q = e->queue_head;
        e->queue_head = q->next;
        if (!e->queue_head) {
            e->queue_tail = NULL;
        }
        q->next = NULL;
        e->n_queued--;
        e->n_active++;
        s->req = q;
        s->fresh = true;
        s->lcp = lcp;
        s->state = LLAMAC_SLOT_PREFILL;
        s->n_generated = 0;
        s->n_reused = 0;
        s->last_step = 0; /* a newcomer's set goes first, once */
        s->n_discarded = 0;
        s->n_drafted = 0;
        s->n_accepted = 0;
        s->t_start = llamac__now_ms();
        s->t_prompt_end = 0;
        s->t_first = 0;
        publish(e, s);
    }
    e->stats.n_queued = e->n_queued;
}

/* Tells the slot's request how far its prompt is. Lock not held. */
static void progress(struct eng_slot *s) {
    struct eng_request *q = s->req;
    if (!q->on_progress) {
        return;
    }
    llamac_engine_progress p;
    memset(&p, 0, sizeof p);
    p.request_id = q->id;
    p.n_prompt = (int32_t)q->n_prompt;
    p.n_cached = s->n_reused;
    p.n_processed = (int32_t)(s->n_cache < q->n_prompt ? s->n_cache : q->n_prompt);
    p.prompt_ms = s->t_prompt_step > 0 ? s->t_prompt_step - s->t_start : 0.0;
    q->on_progress(&p, q->user_data);
}

/* Prepares a newly assigned slot: keeps the reusable prefix of its cache, drops the rest, resets the gates. */
static void prepare(llamac_engine *e, struct eng_slot *s) {
    struct eng_request *q = s->req;
    size_t keep = s->lcp;
    if (keep >= q->n_prompt) {
        keep = q->n_prompt - 1; /* decode the last prompt token again: its logits start the generation */
    }
    /* The record is the request's from here on: the prefix kept holds its media at the same places (media_prefix),
     * so positions in it are the same under either record. Without it neither the positions after a medium nor the
     * media the cache holds would be known. */
    if (!llamac__eng_media_record(s, q)) {
        llamac__eng_park_drop(e, s);
        llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
        s->n_cache = 0;
        s->fresh = false;
        finish_slot(e, s, LLAMAC_FINISH_NONE, LLAMAC_E_NO_MEMORY, "out of memory for the slot's record of the media",
                    NULL);
        return;
    }
    if (keep == 0) {
        llamac__eng_park_drop(e, s);
    } else if (!llamac__eng_unpark(e, s)) {
        keep = 0;
    }
    s->park_refused = 0;
    /* A memory that cannot cut a sequence short (recurrent), or one that has already dropped the start of it (a
     * sliding window), cannot serve a prefix: start from nothing. */
    llamac_pos pos_min = -1;
    if (llamac_ctx_seq_rm(e->ctx, s->id, llamac__eng_pos(s, keep), -1) != LLAMAC_OK ||
        (keep > 0 && (llamac_ctx_seq_pos_min(e->ctx, s->id, &pos_min) != LLAMAC_OK || pos_min > 0))) {
        keep = 0;
        llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
    }
    s->n_cache = keep;
    s->cache_key = q->key;
    s->n_reused = (int32_t)keep;
    memcpy(s->cache + keep, q->prompt + keep, (q->n_prompt - keep) * sizeof *s->cache);
    s->has_pending = false;
    s->out_index = -1;
    s->n_draft = 0;
    /* A medium's tokens are stand-ins, nothing to draft from: such a prompt is served without drafts. */
    s->spec_on = llamac__spec_on(&q->spec) && q->n_media == 0;
    if (s->spec_on && llamac__drafter_start(&s->drafter, &q->spec, s->id) != LLAMAC_OK) {
        llamac__drafter_free(&s->drafter); /* no memory for the draft's token list: served without drafts */
        s->spec_on = false;
    }
    llamac__textout_begin(&s->text, &q->stops);
    /* Penalties see the prompt, as in llamac_generate; the grammar does not. */
    for (size_t i = 0; i < q->n_prompt; i++) {
        if (q->prompt[i] >= 0) { /* not a medium's stand-in */
            llama_sampler_accept(q->sampler->chain, q->prompt[i]);
        }
    }
    s->fresh = false;
    s->t_prompt_step = 0;
    pthread_mutex_lock(&e->lock);
    e->stats.cached_tokens += keep;
    publish(e, s);
    pthread_mutex_unlock(&e->lock);
    progress(s);
}

/* Offers `token` with value `v` to the best-first list top[0..*have), which keeps the n highest. */
static void top_offer(llamac_token_prob *top, int32_t *have, int32_t n, llamac_token token, float v) {
    if (*have == n && (n == 0 || v <= top[n - 1].logprob)) {
        return;
    }
    int32_t j = *have < n ? (*have)++ : n - 1;
    while (j > 0 && top[j - 1].logprob < v) {
        top[j] = top[j - 1];
        j--;
    }
    top[j].token = token;
    top[j].logprob = v;
}

/* The log-probabilities of the distribution the sampling chain left (post_sampling_probs): the chosen token's and
 * the n most likely of the candidates whose probability is above 0. */
static size_t post_sampling_logprobs(struct eng_slot *s, llamac_token chosen, float *chosen_lp) {
    const llama_token_data *c = NULL;
    size_t n_cand = llamac__sampler_candidates(s->req->sampler, &c);
    float max = -INFINITY;
    for (size_t i = 0; i < n_cand; i++) {
        max = c[i].logit > max ? c[i].logit : max;
    }
    *chosen_lp = 0;
    if (n_cand == 0 || !isfinite(max)) {
        return 0;
    }
    double sum = 0;
    for (size_t i = 0; i < n_cand; i++) {
        sum += exp((double)(c[i].logit - max));
    }
    double lse = (double)max + log(fmax(sum, 1.0)); /* sum >= 1: the maximum adds exp(0) */
    int32_t have = 0;
    for (size_t i = 0; i < n_cand; i++) {
        double lp = (double)c[i].logit - lse;
        if (exp(lp) > 0.0) { /* a probability that is 0 in double is no candidate */
            top_offer(s->top, &have, s->req->n_probs, c[i].id, (float)lp);
        }
        if (c[i].id == chosen) {
            *chosen_lp = (float)lp;
        }
    }
    return (size_t)have;
}

/* Fills the log-probabilities of output `i`: the chosen token's and the n most likely. */
static size_t logprobs(llamac_engine *e, struct eng_slot *s, int32_t i, llamac_token chosen, float *chosen_lp) {
    const float *lg = NULL;
    size_t n_vocab = 0;
    int32_t n = s->req->n_probs;
    if (llamac_ctx_logits(e->ctx, i, &lg, &n_vocab) != LLAMAC_OK || n_vocab == 0) {
        *chosen_lp = 0;
        return 0;
    }
    float max = lg[0];
    for (size_t t = 1; t < n_vocab; t++) {
        max = lg[t] > max ? lg[t] : max;
    }
    double sum = 0;
    for (size_t t = 0; t < n_vocab; t++) {
        sum += exp((double)(lg[t] - max));
    }
    float lse = max + (float)log(fmax(sum, 1.0)); /* sum >= 1 (the maximum adds exp(0)); fmax says so to cppcheck */
    int32_t have = 0;
    for (size_t t = 0; t < n_vocab; t++) {
        top_offer(s->top, &have, n, (llamac_token)t, lg[t]);
    }
    for (int32_t j = 0; j < have; j++) {
        s->top[j].logprob -= lse;
    }
    *chosen_lp = chosen >= 0 && (size_t)chosen < n_vocab ? lg[chosen] - lse : 0;
    return (size_t)have;
}

/* Delivers released text (and the token's details) to the token callback. Returns its verdict. */
static bool deliver(struct eng_slot *s, uint64_t step, llamac_token tok, const char *text, size_t len, float lp,
                    size_t n_top) {
    struct eng_request *q = s->req;
    if (!q->on_token) {
        return true;
    }
    llamac_engine_token t;
    memset(&t, 0, sizeof t);
    t.request_id = q->id;
    t.token = tok;
    t.index = tok >= 0 ? s->n_generated - 1 : -1;
    t.step = step;
    t.text = len ? text : "";
    t.len = len;
    if (n_top > 0) {
        t.logprob = lp;
        t.top = s->top;
        t.n_top = n_top;
    }
    return q->on_token(&t, q->user_data);
}

/* Ends the request for `reason` (EOG, LENGTH, CONTEXT_FULL) after releasing what the text-out path still holds;
 * a stop string that this completes makes it STOP, a callback that refuses the text CALLBACK. */
static void finish_text(llamac_engine *e, struct eng_slot *s, uint64_t step, llamac_finish_reason reason) {
    llamac__textout_piece piece;
    llamac_status st = llamac__textout_finish(&s->text, &piece);
    if (st != LLAMAC_OK) {
        finish_slot(e, s, reason, st, llamac_last_error(), NULL);
        return;
    }
    if (piece.len > 0 && !deliver(s, step, -1, piece.text, piece.len, 0, 0)) {
        finish_slot(e, s, LLAMAC_FINISH_CALLBACK, LLAMAC_OK, NULL, NULL);
        return;
    }
    finish_slot(e, s, piece.stop ? LLAMAC_FINISH_STOP : reason, LLAMAC_OK, NULL, piece.stop);
}

/* Makes room in a full slot (context_shift), as llama-server shifts: keeps the first n_keep tokens of the prompt
 * (and the BOS the model starts with), drops half of the tokens after them and moves the rest down. False when
 * nothing can be dropped or the memory refused (the slot's cache is then emptied). */
static bool shift_context(llamac_engine *e, struct eng_slot *s) {
    const struct eng_request *q = s->req;
    int32_t keep =
        q->n_keep < 0 ? (int32_t)q->n_prompt : q->n_keep + (llama_vocab_get_add_bos(e->model->vocab) ? 1 : 0);
    int32_t cap = (int32_t)e->n_ctx_slot - 4;
    keep = keep < cap ? keep : cap;
    keep = keep > 0 ? keep : 0;
    int32_t left = (int32_t)s->n_cache - keep;
    int32_t discard = left / 2;
    if (discard > left - 1) {
        discard = left - 1;
    }
    if (discard <= 0 || s->n_media > 0) {
        return false; /* media: their cells and records stay where they are (llama-server shifts no media either) */
    }
    if (llamac_ctx_seq_rm(e->ctx, s->id, keep, keep + discard) != LLAMAC_OK ||
        llamac_ctx_seq_add(e->ctx, s->id, keep + discard, (llamac_pos)s->n_cache, -discard) != LLAMAC_OK) {
        llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
        s->n_cache = 0;
        return false;
    }
    memmove(s->cache + keep, s->cache + keep + discard, (s->n_cache - (size_t)(keep + discard)) * sizeof *s->cache);
    s->n_cache -= (size_t)discard;
    s->n_discarded += discard;
    return true;
}

/* Samples output `i`, passes the token's text through the gates and decides whether the request goes on: true
 * when it does, the token pending. Runs the callbacks (lock not held). */
static bool sample_one(llamac_engine *e, struct eng_slot *s, int32_t i, uint64_t step) {
    struct eng_request *q = s->req;
    llamac_token tok = -1;
    llamac_status st = llamac_sampler_sample(q->sampler, e->ctx, i, &tok);
    if (st != LLAMAC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "sampling failed: %s", llamac_last_error());
        finish_slot(e, s, LLAMAC_FINISH_NONE, st, msg, NULL);
        return false;
    }
    float lp = 0;
    size_t n_top = q->n_probs == 0          ? 0
                   : q->post_sampling_probs ? post_sampling_logprobs(s, tok, &lp)
                                            : logprobs(e, s, i, tok, &lp);
    if (s->n_generated == 0) {
        s->t_first = llamac__now_ms();
        s->state = LLAMAC_SLOT_GENERATING;
    }
    s->n_generated++;
    pthread_mutex_lock(&e->lock);
    e->stats.generated_tokens++;
    pthread_mutex_unlock(&e->lock);
    if (llamac_vocab_is_eog(e->model, tok)) {
        finish_text(e, s, step, LLAMAC_FINISH_EOG);
        return false;
    }
    char bytes[256];
    size_t need = 0;
    llamac__textout_piece piece;
    st = llamac_token_to_piece(e->model, tok, e->params.special, bytes, sizeof bytes, &need);
    if (st == LLAMAC_OK) {
        st = llamac__textout_push(&s->text, bytes, need, &piece);
    }
    if (st != LLAMAC_OK) {
        finish_slot(e, s, LLAMAC_FINISH_NONE, st, llamac_last_error(), NULL);
        return false;
    }
    bool keep_going = deliver(s, step, tok, piece.text, piece.len, lp, n_top);
    if (piece.stop) {
        finish_slot(e, s, LLAMAC_FINISH_STOP, LLAMAC_OK, NULL, piece.stop);
        return false;
    }
    if (!keep_going) {
        finish_slot(e, s, LLAMAC_FINISH_CALLBACK, LLAMAC_OK, NULL, NULL);
        return false;
    }
    /* As llama-server: the request ends when the token just sampled would fill the slot's context (it is not
     * decoded), unless the context shifts to make room. */
    llamac_finish_reason end = LLAMAC_FINISH_NONE;
    if (q->max_tokens >= 0 && s->n_generated >= q->max_tokens) {
        end = LLAMAC_FINISH_LENGTH;
    } else if (s->n_cache + 1 >= e->n_ctx_slot && !(e->params.context_shift && shift_context(e, s))) {
        end = LLAMAC_FINISH_CONTEXT_FULL;
    }
    if (end != LLAMAC_FINISH_NONE) {
        finish_text(e, s, step, end);
        return false;
    }
    s->pending = tok;
    s->has_pending = true;
    return true;
}

/* Samples the slot's outputs of this step: the one after its last token, then, while the target's own sample equals
 * the drafted token (whose KV entry the batch decoded), the one after that token, as llamac_generate accepts a
 * draft (spec.c proposes). The KV entries of the rejected drafts are removed, so the sequence holds what it would
 * without speculation (the last sampled token not decoded). Runs the callbacks (lock not held). */
static void sample_slot(llamac_engine *e, struct eng_slot *s, uint64_t step) {
    int32_t out = s->out_index;
    size_t n_draft = s->n_draft, k = 0;
    s->out_index = -1;
    s->n_draft = 0;
    while (sample_one(e, s, out + (int32_t)k, step) && k < n_draft && s->pending == s->draft[k]) {
        s->cache[s->n_cache++] = s->pending;
        s->has_pending = false;
        s->n_accepted++;
        k++;
        pthread_mutex_lock(&e->lock); /* counted before a later token's completion callback runs */
        e->stats.draft_accepted++;
        pthread_mutex_unlock(&e->lock);
    }
    if (n_draft > 0) {
        llamac__drafter_verified(&s->drafter, n_draft, k);
        llamac_ctx_seq_rm(e->ctx, s->id, (llamac_pos)s->n_cache, -1);
    }
}

/* Whether the slot has tokens to decode: a sampled token, or prompt left. */
static bool has_work(const struct eng_slot *s) {
    return s->req && (s->has_pending || (s->state == LLAMAC_SLOT_PREFILL && s->n_cache < s->req->n_prompt));
}

/* Steps a LoRA set keeps the context in a row while other sets wait. Switching sets every step (the turns of the
 * sets taken one step each) cost a third of the throughput of four streams at three scales on the Qwen2.5-0.5B-shaped
 * model (bench/lora.sh: 0.68x the streams sharing one set, llama-server 0.89x, which serves the first slot's set
 * until its request ends and so starves the others); a turn of 8 steps pays a switch per 8 and still bounds a
 * waiting set's delay to 8 steps per other set in use. */
#define ENG_SET_TURN 8

/* The slot whose adapter set this step serves: while the set the context has was applied fewer than ENG_SET_TURN
 * steps ago and one of its slots has work, that slot; else, of the slots with work, the one decoded longest ago
 * (ties: the oldest request). Each step moves the slots it serves to the back, so the sets in use take turns and none
 * is starved; with one set in use (the usual case) every slot is served at every step. NULL when no slot has work. */
static struct eng_slot *step_leader(llamac_engine *e) {
    struct eng_slot *best = NULL;
    bool in_turn = e->applied_steps < ENG_SET_TURN;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        if (!has_work(s)) {
            continue;
        }
        if (in_turn && s->req->key == e->applied_key) {
            return s;
        }
        if (!best || s->last_step < best->last_step ||
            (s->last_step == best->last_step && s->req->id < best->req->id)) {
            best = s;
        }
    }
    return best;
}

/* Makes the leader's adapter set the context's, unless it is already. False (the leader's request failed) when
 * llama.cpp's set cannot be changed. */
static bool switch_adapters(llamac_engine *e, struct eng_slot *leader) {
    const struct eng_request *q = leader->req;
    if (q->key == e->applied_key) {
        e->applied_steps++;
        return true;
    }
    llamac_status st = llamac_ctx_set_adapters(e->ctx, q->adapters, q->n_adapters);
    if (st != LLAMAC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "applying the request's LoRA adapters failed: %s", llamac_last_error());
        finish_slot(e, leader, LLAMAC_FINISH_NONE, st, msg, NULL);
        return false;
    }
    e->applied_key = q->key;
    e->applied_steps = 1;
    pthread_mutex_lock(&e->lock);
    e->stats.adapter_swaps++;
    pthread_mutex_unlock(&e->lock);
    return true;
}

/* The prefilling slot of adapter key `key` with the oldest request that has not yet been given tokens in this step
 * and whose prompt goes on with text, or NULL; *text: the text tokens up to its next medium or its prompt's end. */
static struct eng_slot *next_prefill(llamac_engine *e, uint64_t key, size_t *text) {
    struct eng_slot *best = NULL;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        if (!s->req || s->req->key != key || s->state != LLAMAC_SLOT_PREFILL || s->n_in_batch != 0 ||
            s->n_cache >= s->req->n_prompt || (best && s->req->id > best->req->id)) {
            continue;
        }
        size_t n = 0;
        media_at(s->req, s->n_cache, &n);
        if (n > 0) { /* else a medium comes next (prefill_media) */
            best = s;
            *text = n;
        }
    }
    return best;
}

bool llamac__eng_abort(void *user_data) {
    llamac_engine *e = user_data;
    if (atomic_load(&e->cancel_epoch) == e->decode_epoch) {
        return false; /* the common case, every graph node: no lock */
    }
    bool stop = false;
    pthread_mutex_lock(&e->lock);
    stop = e->stop_now;
    for (uint32_t i = 0; i < e->params.n_slots && !stop; i++) {
        const struct eng_slot *s = &e->slots[i];
        stop = s->req && s->n_in_batch > 0 && s->req->cancelled;
    }
    pthread_mutex_unlock(&e->lock);
    return stop;
}

/* Drops the caches of the idle slots that hold cells of the KV cache (kv_unified: their room goes to the busy
 * ones, as llama-server clears idle slots when the cache is full). Returns whether any cell was freed. */
static bool evict_idle(llamac_engine *e) {
    bool freed = false;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        if (!s->req && !s->parked && s->n_cache > 0) {
            llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
            s->n_cache = 0;
            s->park_refused = 0;
            freed = true;
        }
    }
    return freed;
}

/* Evaluates the medium at the next prompt position of each prefilling slot of adapter key `key` (the context's set:
 * a medium's embeddings go through the adapted layers too), on its own (libmtmd encodes it and decodes its
 * embeddings into the slot's sequence), one per slot: the generating slots wait for these encodes, as for a
 * step's batch. A failure ends the slot's request; a cancel (the abort callback sees only the slot whose medium is
 * decoding: it alone is "in the batch" meanwhile) leaves the slot as it was, for the loop to reap. Returns the tokens
 * evaluated. */
static size_t prefill_media(llamac_engine *e, uint64_t key) {
    size_t done = 0;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        e->slots[i].n_in_batch = 0; /* the previous step's batch is done */
    }
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        const struct eng_media *m;
        if (!s->req || s->req->key != key || s->state != LLAMAC_SLOT_PREFILL || s->n_cache >= s->req->n_prompt ||
            !(m = media_at(s->req, s->n_cache, NULL))) {
            continue;
        }
        llama_pos next = 0, at = llamac__eng_pos(s, s->n_cache);
        s->n_in_batch = m->n;
        llamac_status st =
            llamac__mmproj_eval_media(s->req->chunks->proj, e->ctx, s->id, s->req->chunks, m->chunk, at, &next);
        s->n_in_batch = 0;
        if (st == LLAMAC_E_CANCELLED) {
            llamac_ctx_seq_rm(e->ctx, s->id, at, -1);
            continue;
        }
        if (st != LLAMAC_OK) {
            char msg[512];
            snprintf(msg, sizeof msg, "evaluating a medium failed: %s", llamac_last_error());
            llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
            s->n_cache = 0;
            s->n_media = 0;
            finish_slot(e, s, LLAMAC_FINISH_NONE, st, msg, NULL);
            continue;
        }
        s->n_cache += m->n;
        done += m->n;
    }
    return done;
}

/* The tokens the slot's draft model may catch up on before it drafts (llamac__drafter.catchup_max): at the slot's
 * first chance to draft, its prompt (and the token after it), as any speculation pays at the start; later, no more
 * than the request may still generate. A slot that the batch-width policy kept from drafting has fed the draft
 * model nothing meanwhile, and catching up its whole text for the last few tokens of a request (the end of a burst
 * of streams, the stragglers drafting while the batch narrows) costs the draft model a prefill of every stream's
 * text and can save at most those few steps. */
static size_t catchup_max(const llamac_engine *e, const struct eng_slot *s) {
    if (s->n_generated <= 1) {
        return SIZE_MAX;
    }
    const struct eng_request *q = s->req;
    if (q->max_tokens >= 0) {
        return (size_t)(q->max_tokens - s->n_generated);
    }
    return e->n_ctx_slot > s->n_cache ? e->n_ctx_slot - s->n_cache : 0;
}

/* The tokens this step's generating slots (of adapter key `key`) may draft in all: the room left in
 * spec_batch_max after a token for each slot with work, the prefilling ones included (each generates within a few
 * steps, and its prompt chunk already widens the batch: at the start of a burst of streams the first to finish its
 * prompt does not draft while the others' prompts go in), and at most half of the batch's room beyond a token per
 * slot (prompt chunks keep the rest). 0 when no generating slot has speculation on. */
static size_t draft_room(const llamac_engine *e, uint64_t key) {
    size_t width = 0;
    bool drafting = false;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        const struct eng_slot *s = &e->slots[i];
        if (s->req && s->req->key == key && has_work(s)) {
            width++;
            drafting = drafting || (s->has_pending && s->spec_on);
        }
    }
    size_t room = drafting && e->params.spec_batch_max > width ? e->params.spec_batch_max - width : 0;
    size_t spare = (e->n_batch - e->params.n_slots) / 2;
    return room < spare ? room : spare;
}

/* The most tokens the slot may draft in this step: never past what the request may still generate or its context
 * holds (the token after the last draft comes from the same decode and must fit, without a context shift). */
static size_t draft_cap(const llamac_engine *e, const struct eng_slot *s) {
    const struct eng_request *q = s->req;
    if (s->n_cache + 3 > e->n_ctx_slot) {
        return 0;
    }
    size_t cap = e->n_ctx_slot - s->n_cache - 3;
    if (q->max_tokens >= 0) {
        size_t left = (size_t)(q->max_tokens - s->n_generated) - 1; /* the pending token was not the last */
        cap = cap < left ? cap : left;
    }
    return cap;
}

/* Whether the slot drafts in this step's batch of adapter key `key`, if there is room. */
static bool drafts_in(const struct eng_slot *s, uint64_t key) {
    return s->req && s->has_pending && s->req->key == key && s->spec_on;
}

/* Drafts the tokens to follow the pending token of each of this step's slots with speculation on (spec.c's
 * proposals over its prompt and output, made together: each decode of the draft model holds the tokens of every
 * slot drafting with it), `room` tokens shared equally among them, the remainder to the first from `first` on
 * (which goes round the slots from step to step). Sets every slot's n_draft (0: none). */
static void draft_slots(llamac_engine *e, uint64_t key, size_t room, uint32_t first) {
    size_t n_spec = 0;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        e->slots[i].n_draft = 0;
        e->slots[i].job.d = NULL;
        n_spec += drafts_in(&e->slots[i], key);
    }
    if (room == 0 || n_spec == 0) {
        return;
    }
    size_t share = room / n_spec, extra = room % n_spec;
    llamac__draft_job *jobs = NULL, **tail = &jobs;
    for (uint32_t k = 0; k < e->params.n_slots; k++) {
        struct eng_slot *s = &e->slots[(first + k) % e->params.n_slots];
        if (!drafts_in(s, key)) {
            continue;
        }
        size_t max = share + (extra > 0), cap = draft_cap(e, s);
        extra -= extra > 0;
        max = max < cap ? max : cap;
        if (max == 0) {
            continue;
        }
        s->cache[s->n_cache] = s->pending; /* the text to draft from ends with it (the cache has a spare entry) */
        s->drafter.catchup_max = catchup_max(e, s);
        llamac__draft_job *j = &s->job;
        memset(j, 0, sizeof *j);
        j->d = &s->drafter;
        j->h = s->cache;
        j->n = s->n_cache + 1;
        j->out = s->draft;
        j->max = max;
        *tail = j;
        tail = &j->next;
    }
    uint64_t tokens = 0, decodes = 0;
    if (jobs) {
        llamac__drafters_propose(jobs, &tokens, &decodes); /* a draft that fails is no draft (n_out 0) */
    }
    if (decodes > 0) {
        pthread_mutex_lock(&e->lock);
        e->stats.draft_model_tokens += tokens;
        e->stats.draft_decodes += decodes;
        pthread_mutex_unlock(&e->lock);
    }
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        s->n_draft = s->job.d ? s->job.n_out : 0;
    }
}

/* Builds and decodes one batch, then samples every slot that has an output in it. */
static void step(llamac_engine *e) {
    llamac_batch_clear(e->batch);
    struct eng_slot *leader = step_leader(e);
    if (!leader || !switch_adapters(e, leader)) {
        return;
    }
    uint64_t key = leader->req->key;
    double tm = llamac__now_ms();
    size_t n_media_tokens = prefill_media(e, key);
    if (n_media_tokens > 0) {
        double ms = llamac__now_ms() - tm;
        pthread_mutex_lock(&e->lock);
        e->stats.prompt_tokens += n_media_tokens;
        e->stats.busy_ms += ms;
        e->stats.prompt_ms += ms;
        pthread_mutex_unlock(&e->lock);
    }
    int32_t n_out = 0;
    size_t n_prompt_tokens = 0;
    /* The policy under load: drafts only while the slots' tokens, drafts included, stay within spec_batch_max. */
    size_t room = draft_room(e, key);
    /* With drafting room, who drafts first goes round the slots from step to step. */
    uint32_t first = room > 0 ? (uint32_t)(e->stats.steps % e->params.n_slots) : 0;
    draft_slots(e, key, room, first);
    for (uint32_t j = 0; j < e->params.n_slots; j++) {
        struct eng_slot *s = &e->slots[(first + j) % e->params.n_slots];
        s->n_in_batch = 0;
        s->out_index = -1;
        if (s->req && s->has_pending && s->req->key == key) {
            /* the pending token, then its draft, each with an output to verify it by */
            llamac_seq_id seq = s->id;
            llamac_pos at = llamac__eng_pos(s, s->n_cache); /* drafts only without media: their positions follow */
            llamac_batch_add(e->batch, s->pending, at, &seq, 1, true);
            for (size_t d = 0; d < s->n_draft; d++) {
                llamac_batch_add(e->batch, s->draft[d], at + 1 + (llamac_pos)d, &seq, 1, true);
            }
            s->n_in_batch = 1 + s->n_draft;
            s->out_index = n_out;
            n_out += 1 + (int32_t)s->n_draft;
        }
    }
    size_t budget = e->chunk, text = 0;
    size_t free_batch = e->n_batch - llamac_batch_size(e->batch);
    budget = budget < free_batch ? budget : free_batch; /* what the drafts left of the batch */
    struct eng_slot *s;
    while (budget > 0 && (s = next_prefill(e, key, &text)) != NULL) {
        size_t left = s->req->n_prompt - s->n_cache;
        size_t take = text < budget ? text : budget;
        llamac_seq_id seq = s->id;
        llamac_pos pos = llamac__eng_pos(s, s->n_cache); /* text up to the next medium: a position per token */
        for (size_t j = 0; j < take; j++) {
            size_t at = s->n_cache + j;
            llamac_batch_add(e->batch, s->req->prompt[at], pos + (llamac_pos)j, &seq, 1, at + 1 == s->req->n_prompt);
        }
        s->n_in_batch = take;
        if (take == left) {
            s->out_index = n_out++;
        }
        budget -= take;
        n_prompt_tokens += take;
    }
    if (llamac_batch_size(e->batch) == 0) {
        return;
    }
    uint32_t n_busy = 0, n_tokens_max = 0;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        if (e->slots[i].req) {
            n_busy++;
            uint32_t held = (uint32_t)(e->slots[i].n_cache + e->slots[i].n_in_batch);
            n_tokens_max = held > n_tokens_max ? held : n_tokens_max;
        }
    }
    double t0 = llamac__now_ms();
    llamac_status st = llamac_ctx_decode_batch(e->ctx, e->batch);
    if (st == LLAMAC_E_CONTEXT_FULL && e->params.kv_unified && evict_idle(e)) {
        st = llamac_ctx_decode_batch(e->ctx, e->batch); /* the idle slots' cells are free now */
    }
    if (st == LLAMAC_E_CANCELLED) {
        /* A request in the batch was cancelled (or the engine stops): llama.cpp dropped the ubatch it stopped in,
         * the ubatches before it stay. Every slot's sequence goes back to what it held before this step; the
         * cancelled are finished by the loop, the others decode the same tokens again in the next step. */
        for (uint32_t i = 0; i < e->params.n_slots; i++) {
            s = &e->slots[i];
            if (s->req && s->n_in_batch > 0) {
                llamac_ctx_seq_rm(e->ctx, s->id, llamac__eng_pos(s, s->n_cache), -1);
                s->n_in_batch = 0;
                s->n_draft = 0;
            }
        }
        return;
    }
    uint64_t step_no;
    pthread_mutex_lock(&e->lock);
    step_no = ++e->stats.steps;
    e->stats.prompt_tokens += n_prompt_tokens;
    e->stats.busy_slot_steps += n_busy;
    if (n_tokens_max > e->stats.n_tokens_max) {
        e->stats.n_tokens_max = n_tokens_max;
    }
    pthread_mutex_unlock(&e->lock);
    if (st != LLAMAC_OK) {
        char msg[512];
        if (st == LLAMAC_E_CONTEXT_FULL && e->params.kv_unified) {
            /* llama-server's words, which its clients look for */
            snprintf(msg, sizeof msg,
                     "the context size has been exceeded: the slots' tokens fill the KV cache (n_ctx %u shared by "
                     "%u slots with kv_unified)",
                     e->n_ctx, e->params.n_slots);
        } else {
            snprintf(msg, sizeof msg, "decoding failed: %s", llamac_last_error());
        }
        for (uint32_t i = 0; i < e->params.n_slots; i++) {
            s = &e->slots[i];
            if (s->req && s->n_in_batch > 0) {
                llamac_ctx_seq_rm(e->ctx, s->id, -1, -1);
                s->n_cache = 0;
                finish_slot(e, s, LLAMAC_FINISH_NONE, st, msg, NULL);
            }
        }
        return;
    }
    double t1 = llamac__now_ms();
    uint64_t n_drafts = 0, n_draft_tokens = 0;
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        s = &e->slots[i];
        if (!s->req || s->n_in_batch == 0) {
            continue;
        }
        s->last_step = step_no;
        if (s->has_pending) {
            s->cache[s->n_cache++] = s->pending;
            s->has_pending = false;
            s->n_drafted += (int32_t)s->n_draft; /* the drafts after it are in the KV cache, to be verified */
            n_drafts += s->n_draft > 0;
            n_draft_tokens += s->n_draft;
        } else {
            s->n_cache += s->n_in_batch; /* the prompt tokens are already in s->cache */
            s->t_prompt_step = t1;
            if (s->out_index >= 0) {
                s->t_prompt_end = t1;
            }
        }
    }
    pthread_mutex_lock(&e->lock); /* before the completion callbacks */
    e->stats.drafts += n_drafts;
    e->stats.draft_tokens += n_draft_tokens;
    pthread_mutex_unlock(&e->lock);
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        s = &e->slots[i];
        if (s->req && s->n_in_batch > 0 && s->t_prompt_step == t1) {
            progress(s); /* before the first token's callback */
        }
    }
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        s = &e->slots[i];
        if (s->req && s->out_index >= 0) {
            sample_slot(e, s, step_no);
        }
    }
    double t2 = llamac__now_ms();
    pthread_mutex_lock(&e->lock);
    e->stats.busy_ms += t2 - t0;
    if (n_prompt_tokens > 0) {
        e->stats.prompt_ms += t1 - t0;
    }
    pthread_mutex_unlock(&e->lock);
}

void llamac__eng_release_retired(llamac_engine *e) {
    while (e->retired) {
        struct eng_retired *r = e->retired;
        e->retired = r->next;
        pthread_mutex_unlock(&e->lock);
        llamac__adapter_set_release(r->set, r->n);
        free(r);
        pthread_mutex_lock(&e->lock);
    }
}

void *llamac__eng_main(void *arg) {
    llamac_engine *e = arg;
    pthread_mutex_lock(&e->lock);
    for (;;) {
        llamac__eng_release_retired(e);
        if (e->stop_now) {
            /* Shutdown past its grace: everything still here is cancelled. */
            while (e->queue_head) {
                struct eng_request *q = e->queue_head;
                e->queue_head = q->next;
                q->next = e->dropped;
                e->dropped = q;
                e->n_dropped++;
                e->n_queued--;
            }
            e->queue_tail = NULL;
            for (uint32_t i = 0; i < e->params.n_slots; i++) {
                if (e->slots[i].req) {
                    e->slots[i].req->cancelled = true;
                }
            }
        }
        while (e->dropped) {
            struct eng_request *q = e->dropped;
            e->dropped = q->next;
            pthread_mutex_unlock(&e->lock);
            finish_unslotted(e, q);
            pthread_mutex_lock(&e->lock);
            e->n_dropped--;
        }
        for (uint32_t i = 0; i < e->params.n_slots; i++) {
            struct eng_slot *s = &e->slots[i];
            if (s->req && s->req->cancelled) {
                pthread_mutex_unlock(&e->lock);
                finish_slot(e, s, LLAMAC_FINISH_CANCELLED, LLAMAC_OK, NULL, NULL);
                pthread_mutex_lock(&e->lock);
            }
        }
        llamac__eng_run_actions(e, e->stop_now);
        if (!e->stop_now) {
            admit(e);
        }
        if (e->n_active == 0) {
            pthread_cond_broadcast(&e->idle);
            if (e->stop_now) {
                break;
            }
            if (!e->dropped && !e->queue_head && !e->retired && !e->actions) {
                pthread_cond_wait(&e->wake, &e->lock);
            }
            continue;
        }
        /* Cancels before this point were reaped above; any later one (until the step's decode ends) changes the
         * epoch, so the abort callback looks at the flags (taken after the batch is built, a cancel in between
         * would decode the whole chunk for a request already gone). */
        e->decode_epoch = atomic_load(&e->cancel_epoch);
        pthread_mutex_unlock(&e->lock);
        for (uint32_t i = 0; i < e->params.n_slots; i++) {
            struct eng_slot *s = &e->slots[i];
            if (s->req && s->fresh) {
                prepare(e, s);
            }
        }
        llamac__eng_park_idle(e);
        step(e);
        publish_all(e);
        if (e->params.on_step) {
            e->params.on_step(e->params.step_user_data);
        }
        pthread_mutex_lock(&e->lock);
    }
    pthread_mutex_unlock(&e->lock);
    return NULL;
}
