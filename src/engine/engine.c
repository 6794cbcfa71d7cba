/*
 * engine.c - the multi-sequence engine's public face: creation, submission, cancellation, introspection, shutdown.
 *
 * Everything a request could get wrong is checked here, on the caller's thread, before the request is accepted:
 * the prompt against the vocabulary and the slot's context, the sampling chain and grammar (built here, so a bad
 * grammar is the submitter's error, not a failure in the middle of a stream). The worker thread (engine_step.c)
 * then only schedules, decodes and samples.
 */
#define _GNU_SOURCE /* pthread_setname_np */
#include "engine/engine_internal.h"
#include "media/media_internal.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

llamac_engine_params llamac_engine_params_default(void) {
    llamac_engine_params p;
    memset(&p, 0, sizeof p);
    p.n_slots = 4;
    p.n_ctx = 0;
    p.n_batch = 2048;
    p.n_ubatch = 512;
    p.n_prefill_chunk = 512;
    p.park_limit_mib = 8192;
    p.slot_similarity = 0.1f;
    p.max_queued = 64;
    p.type_k = LLAMAC_KV_F16;
    p.type_v = LLAMAC_KV_F16;
    p.flash_attn = LLAMAC_FLASH_ATTN_AUTO;
    p.rope = llamac__rope_params_default();
    p.offload_kqv = true;
    p.op_offload = true;
    p.spec_batch_max = 16;
    p.draft_type_k = LLAMAC_KV_F16;
    p.draft_type_v = LLAMAC_KV_F16;
    return p;
}

llamac_engine_request llamac_engine_request_default(void) {
    llamac_engine_request r;
    memset(&r, 0, sizeof r);
    r.sampling = llamac_sampling_params_default();
    r.max_tokens = -1;
    r.cache_prompt = true;
    r.slot = -1;
    r.spec = llamac_spec_params_default();
    return r;
}

const char *llamac_slot_state_name(llamac_slot_state state) {
    switch (state) {
    case LLAMAC_SLOT_IDLE: return "idle";
    case LLAMAC_SLOT_PREFILL: return "prefill";
    case LLAMAC_SLOT_GENERATING: return "generating";
    }
    return NULL;
}

void llamac__eng_request_free(struct eng_request *req) {
    if (!req) {
        return;
    }
    free(req->prompt);
    llamac__adapter_set_release(req->adapters, req->n_adapters);
    free(req->media);
    llamac_chunks_free(req->chunks);
    llamac_sampler_free(req->sampler);
    llamac__stops_free(&req->stops);
    free(req);
}

/* The draft model's context (speculative decoding): one sequence per slot, room for each slot's context and a
 * draft, the draft's own threads and KV types, the slots' RoPE scaling. Its vocabulary must be the target's. */
static llamac_status draft_new(llamac_engine *e, const llamac_engine_params *p) {
    llamac_status st = llamac_model_check_draft(e->model, p->draft_model);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = p->draft_n_ctx ? p->draft_n_ctx : e->n_ctx + p->n_slots * (LLAMAC_SPEC_MAX_DRAFT + 1);
    cp.n_batch = p->n_batch;
    cp.n_ubatch = p->n_ubatch;
    cp.n_seq_max = p->n_slots;
    cp.n_threads = p->draft_n_threads ? p->draft_n_threads : p->n_threads;
    cp.n_threads_batch = p->draft_n_threads ? p->draft_n_threads : p->n_threads_batch;
    cp.type_k = p->draft_type_k;
    cp.type_v = p->draft_type_v;
    cp.flash_attn = p->flash_attn;
    cp.rope = p->rope; /* the slots' RoPE/YaRN settings, as llama-server gives its draft context the target's */
    cp.kv_unified = true;
    cp.allow_ctx_overflow = true;
    st = llamac_ctx_new(p->draft_model, &cp, &e->draft);
    if (st != LLAMAC_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", llamac_last_error());
        return llamac__fail(st, "the draft model's context: %s", msg);
    }
    return LLAMAC_OK;
}

static void slot_free(struct eng_slot *s) {
    free(s->parked);
    free(s->cache);
    free(s->media);
    free(s->top);
    llamac__textout_free(&s->text);
}

static void engine_release(llamac_engine *e) {
    if (!e) {
        return;
    }
    if (e->slots) {
        for (uint32_t i = 0; i < e->params.n_slots; i++) {
            slot_free(&e->slots[i]);
        }
        free(e->slots);
    }
    llamac_batch_free(e->batch);
    llamac__adapter_set_release(e->adapters, e->n_adapters);
    pthread_mutex_lock(&e->lock);
    llamac__eng_release_retired(e);
    pthread_mutex_unlock(&e->lock);
    llamac_ctx_free(e->draft);
    llamac_ctx_free(e->ctx);
    pthread_mutex_destroy(&e->lock);
    pthread_mutex_destroy(&e->shutdown_lock);
    pthread_cond_destroy(&e->wake);
    pthread_cond_destroy(&e->idle);
    pthread_cond_destroy(&e->acted);
    free(e);
}

/* Checks the parameters; *n_ctx gets the whole context to create. */
static llamac_status check_params(const llamac_model *model, const llamac_engine_params *p, uint32_t *n_ctx) {
    if (p->n_slots == 0 || p->n_slots > 256) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_slots %u must be between 1 and 256", p->n_slots);
    }
    if (p->n_batch < p->n_slots + 1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_batch %u must exceed n_slots %u (one token per slot plus a prompt chunk)", p->n_batch,
                            p->n_slots);
    }
    if (p->n_prefill_chunk == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_prefill_chunk must be at least 1");
    }
    if (!(p->slot_similarity >= 0.0f && p->slot_similarity <= 1.0f)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "slot_similarity %g must be between 0 and 1",
                            (double)p->slot_similarity);
    }
    if (p->park_limit_mib < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "park_limit_mib %lld must be -1 (no limit), 0 (off) or more",
                            (long long)p->park_limit_mib);
    }
    if (p->max_queued > 1000000) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_queued %u is too large (at most 1000000)", p->max_queued);
    }
    int32_t train = model->info.n_ctx_train;
    uint32_t per_slot_default = train > 0 && train < 4096 ? (uint32_t)train : 4096;
    uint32_t total = p->n_ctx ? p->n_ctx : per_slot_default * p->n_slots;
    if (p->n_ctx > 0 && p->n_ctx / p->n_slots < 2) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_ctx %u leaves fewer than 2 tokens to each of %u slots",
                            p->n_ctx, p->n_slots);
    }
    /* with kv_unified a slot is capped at the training context instead (llamac_engine_new), as llama-server caps it */
    if (train > 0 && total / p->n_slots > (uint32_t)train && !p->allow_ctx_overflow && !p->kv_unified) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "a slot's context (n_ctx %u / %u slots = %u) exceeds the model's %d-token training "
                            "context; set allow_ctx_overflow",
                            total, p->n_slots, total / p->n_slots, train);
    }
    *n_ctx = total;
    return LLAMAC_OK;
}

/* The caller's parameters (NULL: the defaults) into *p, checked; *n_ctx gets the whole context to create. */
static llamac_status resolve_params(const llamac_model *model, const llamac_engine_params *params,
                                    llamac_engine_params *p, uint32_t *n_ctx) {
    *p = params ? *params : llamac_engine_params_default();
    *n_ctx = 0;
    return check_params(model, p, n_ctx);
}

/* The context an engine creates for its slots (checked parameters; n_ctx from check_params). */
static llamac_ctx_params engine_ctx_params(const llamac_engine_params *p, uint32_t n_ctx) {
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = n_ctx;
    cp.n_batch = p->n_batch;
    cp.n_ubatch = p->n_ubatch;
    cp.n_seq_max = p->n_slots;
    cp.n_threads = p->n_threads;
    cp.n_threads_batch = p->n_threads_batch;
    cp.type_k = p->type_k;
    cp.type_v = p->type_v;
    cp.flash_attn = p->flash_attn;
    cp.rope = p->rope;
    cp.offload_kqv = p->offload_kqv;
    cp.op_offload = p->op_offload;
    cp.kv_unified = true;
    cp.allow_ctx_overflow = true; /* the per-slot limit was checked (check_params); the total may exceed training */
    return cp;
}

llamac_status llamac_engine_kv_memory(const llamac_model *model, const llamac_engine_params *params,
                                      llamac_kv_memory *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_kv_memory: NULL argument");
    }
    llamac_engine_params p;
    uint32_t n_ctx;
    llamac_status st = resolve_params(model, params, &p, &n_ctx);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_ctx_params cp = engine_ctx_params(&p, n_ctx);
    return llamac_kv_memory_compute(model, &cp, out);
}

llamac_status llamac_engine_new(llamac_model *model, const llamac_engine_params *params, llamac_engine **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_new: NULL argument");
    }
    llamac_engine_params p;
    uint32_t n_ctx;
    llamac_status st = resolve_params(model, params, &p, &n_ctx);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_engine *e = llamac__calloc(1, sizeof *e);
    if (!e) {
        return LLAMAC_E_NO_MEMORY;
    }
    pthread_mutex_init(&e->lock, NULL);
    pthread_mutex_init(&e->shutdown_lock, NULL);
    pthread_cond_init(&e->wake, NULL);
    pthread_cond_init(&e->idle, NULL);
    pthread_cond_init(&e->acted, NULL);
    e->params = p;
    e->next_id = 1;
    e->accepting = true;
    atomic_init(&e->cancel_epoch, 0u);

    llamac_ctx_params cp = engine_ctx_params(&p, n_ctx);
    st = llamac_ctx_new(model, &cp, &e->ctx);
    if (st != LLAMAC_OK ||
        (p.n_adapters > 0 && (st = llamac_ctx_set_adapters(e->ctx, p.adapters, p.n_adapters)) != LLAMAC_OK) ||
        (p.n_cvecs > 0 &&
         (st = llamac_ctx_set_cvec(e->ctx, p.cvecs, p.n_cvecs, p.cvec_layer_start, p.cvec_layer_end)) != LLAMAC_OK) ||
        (st = llamac__adapter_set_copy(p.adapters, p.n_adapters, &e->adapters)) != LLAMAC_OK) {
        goto fail;
    }
    e->n_adapters = p.n_adapters;
    e->applied_key = llamac__lora_key(p.adapters, p.n_adapters);
    e->params.adapters = NULL; /* borrowed for this call only: the engine holds them */
    e->params.n_adapters = 0;
    e->params.cvecs = NULL; /* likewise: the context holds their sum */
    e->params.n_cvecs = 0;
    e->model = llamac_ctx_model(e->ctx);
    llamac_ctx_set_abort(e->ctx, llamac__eng_abort, e); /* a cancel stops the decode in progress */
    llamac_ctx_info info;
    st = llamac_ctx_get_info(e->ctx, &info);
    if (st != LLAMAC_OK) {
        goto fail;
    }
    e->n_ctx = info.n_ctx;
    e->n_ctx_slot = p.kv_unified ? info.n_ctx : info.n_ctx / p.n_slots;
    int32_t train = model->info.n_ctx_train;
    if (p.kv_unified && train > 0 && e->n_ctx_slot > (uint32_t)train && !p.allow_ctx_overflow) {
        e->n_ctx_slot = (uint32_t)train;
    }
    if (p.context_shift && !llama_memory_can_shift(llama_get_memory(e->ctx->lc))) {
        st = llamac__fail(LLAMAC_E_UNSUPPORTED, "context_shift: this model's memory cannot shift positions");
        goto fail;
    }
    e->n_batch = info.n_batch;
    if (e->n_batch < p.n_slots + 1) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the effective n_batch %u must exceed n_slots %u", e->n_batch,
                          p.n_slots);
        goto fail;
    }
    e->chunk = p.n_prefill_chunk < e->n_batch - p.n_slots ? p.n_prefill_chunk : e->n_batch - p.n_slots;
    st = llamac_batch_new(e->n_batch, 1, &e->batch);
    if (st != LLAMAC_OK) {
        goto fail;
    }
    e->slots = llamac__calloc(p.n_slots, sizeof *e->slots);
    if (!e->slots) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    for (uint32_t i = 0; i < p.n_slots; i++) {
        struct eng_slot *s = &e->slots[i];
        s->id = (int32_t)i;
        s->out_index = -1;
        s->cache = llamac__calloc((size_t)e->n_ctx_slot + 1, sizeof *s->cache);
        s->top = llamac__calloc(LLAMAC_ENGINE_MAX_PROBS, sizeof *s->top);
        if (!s->cache || !s->top) {
            st = LLAMAC_E_NO_MEMORY;
            goto fail;
        }
        st = llamac__textout_init(&s->text);
        if (st != LLAMAC_OK) {
            goto fail;
        }
        s->pub.id = s->id;
        s->pub.n_ctx = e->n_ctx_slot;
    }
    if (p.draft_model && (st = draft_new(e, &p)) != LLAMAC_OK) {
        goto fail;
    }
    e->params.draft_model = NULL; /* borrowed for this call only: the draft context holds it */
    if (p.park_limit_mib != 0) {
        llamac__log(LLAMAC_LOG_DEBUG,
                    "engine: idle slots' caches are parked in host memory while other slots work "
                    "(park_limit_mib %lld; llama-server's cached idle slots: __TEST_TAG_CACHE_IDLE_SLOTS_ENABLED__)",
                    (long long)p.park_limit_mib);
    }
    e->stats.n_slots = p.n_slots;
    e->stats.n_ctx = e->n_ctx;
    e->stats.n_ctx_slot = e->n_ctx_slot;
    if (pthread_create(&e->thread, NULL, llamac__eng_main, e) != 0) {
        st = llamac__fail(LLAMAC_E_INTERNAL, "cannot start the engine thread");
        goto fail;
    }
#ifdef __linux__
    /* Named before this returns, for top -H, perf, or placing it on a CPU (bench/serve.c does); best effort. */
    pthread_setname_np(e->thread, "llamac-engine");
#endif
    e->thread_started = true;
    *out = e;
    return llamac__ok();
fail:
    engine_release(e);
    return st;
}

static struct timespec deadline_after(uint32_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    ts.tv_sec += (time_t)(ms / 1000);
    ts.tv_nsec += (long)(ms % 1000) * 1000000L;
    if (ts.tv_nsec >= 1000000000L) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000L;
    }
    return ts;
}

void llamac_engine_shutdown(llamac_engine *engine, uint32_t grace_ms) {
    if (!engine) {
        return;
    }
    llamac_engine *e = engine;
    pthread_mutex_lock(&e->shutdown_lock);
    if (e->shut) {
        pthread_mutex_unlock(&e->shutdown_lock);
        return;
    }
    pthread_mutex_lock(&e->lock);
    e->accepting = false;
    pthread_cond_broadcast(&e->wake);
    struct timespec until = deadline_after(grace_ms);
    while (grace_ms > 0 && e->n_queued + e->n_active + e->n_dropped > 0) {
        if (pthread_cond_timedwait(&e->idle, &e->lock, &until) == ETIMEDOUT) {
            break;
        }
    }
    e->stop_now = true;
    atomic_fetch_add(&e->cancel_epoch, 1u);
    pthread_cond_broadcast(&e->wake);
    pthread_mutex_unlock(&e->lock);
    if (e->thread_started) {
        pthread_join(e->thread, NULL);
    }
    e->shut = true;
    pthread_mutex_unlock(&e->shutdown_lock);
}

void llamac_engine_free(llamac_engine *engine) {
    if (!engine) {
        return;
    }
    llamac_engine_shutdown(engine, 0);
    engine_release(engine);
}

llamac_model *llamac_engine_model(const llamac_engine *engine) {
    return engine ? engine->model : NULL;
}

/* The stand-in of a medium's tokens in prompts and caches: negative (no vocabulary token), from the first 28 bits of
 * its id, so that two media rarely share one (their ids are compared in full anyway). */
static llamac_token media_token(const char *id) {
    uint32_t h = 0;
    for (size_t i = 0; i < 7 && id[i]; i++) {
        char c = id[i];
        h = h * 16 + (uint32_t)(c >= 'a' ? c - 'a' + 10 : c >= 'A' ? c - 'A' + 10 : c - '0') % 16;
    }
    return -1 - (llamac_token)h;
}

/* The prompt of a request with media: text tokens and media stand-ins, and where the media are (their indices and
 * the model's positions). */
static llamac_status chunks_prompt(const llamac_engine *e, llamac_chunks *chunks, struct eng_request *q) {
    if (chunks->proj->model != e->model) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the chunks were made by a projector of another model");
    }
    if (!llamac__chunks_end_in_text(chunks)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the prompt ends with a medium; generation starts from the logits of text after it");
    }
    size_t n = llamac_chunks_n_tokens(chunks), count = llamac_chunks_count(chunks), n_media = 0;
    q->prompt = llamac__malloc((n ? n : 1) * sizeof *q->prompt);
    q->media = llamac__calloc(count ? count : 1, sizeof *q->media);
    if (!q->prompt || !q->media) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t at = 0;
    llamac_pos pos = 0;
    for (size_t i = 0; i < count; i++) {
        llamac_chunk_info ci;
        llamac_chunks_get(chunks, i, &ci);
        if (ci.type == LLAMAC_CHUNK_TEXT) {
            memcpy(q->prompt + at, ci.tokens, ci.n_tokens * sizeof *q->prompt);
        } else {
            struct eng_media *m = &q->media[n_media++];
            m->start = at;
            m->n = ci.n_tokens;
            m->chunk = i;
            m->pos = pos;
            m->n_pos = ci.n_pos;
            snprintf(m->id, sizeof m->id, "%s", ci.id ? ci.id : "");
            llamac_token t = media_token(m->id);
            for (size_t k = 0; k < ci.n_tokens; k++) {
                q->prompt[at + k] = t;
            }
        }
        at += ci.n_tokens;
        pos += ci.type == LLAMAC_CHUNK_TEXT ? (llamac_pos)ci.n_tokens : ci.n_pos;
    }
    q->n_prompt = at;
    q->n_media = n_media;
    q->chunks = chunks;
    llamac__chunks_ref(chunks);
    return LLAMAC_OK;
}

/* The prompt's length and what a request asks beyond its prompt (a prompt with media: once it is laid out). */
static llamac_status check_options(const llamac_engine *e, const llamac_engine_request *r, size_t n_prompt) {
    if (n_prompt == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the prompt is empty");
    }
    if (n_prompt >= e->n_ctx_slot && e->params.kv_unified) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL,
                            "the prompt is %zu tokens; a slot's context holds %u (n_ctx %u shared by the slots, "
                            "kv_unified), with room for at least one more to generate",
                            n_prompt, e->n_ctx_slot, e->n_ctx);
    }
    if (n_prompt >= e->n_ctx_slot) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL,
                            "the prompt is %zu tokens; a slot's context holds %u (n_ctx %u / %u slots), with room for "
                            "at least one more to generate",
                            n_prompt, e->n_ctx_slot, e->n_ctx, e->params.n_slots);
    }
    if (r->max_tokens < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "max_tokens %d must be -1 (no limit) or more", r->max_tokens);
    }
    if (r->slot < -1 || r->slot >= (int32_t)e->params.n_slots) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "slot %d must be -1 (any) or from 0 to %u", r->slot,
                            e->params.n_slots - 1);
    }
    if (r->n_keep < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_keep %d must be -1 (the whole prompt) or more", r->n_keep);
    }
    if (r->n_probs < 0 || r->n_probs > LLAMAC_ENGINE_MAX_PROBS) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_probs %d must be between 0 and %d", r->n_probs,
                            LLAMAC_ENGINE_MAX_PROBS);
    }
    if (r->spec.draft) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "spec.draft: the engine decodes a draft model in its own context "
                                                  "(llamac_engine_params.draft_model, asked for with spec_draft)");
    }
    if (r->spec_draft && !e->draft) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec_draft: the engine has no draft model");
    }
    llamac_status st = llamac__spec_check(e->ctx, &r->spec); /* the draft model was checked at creation */
    if (st != LLAMAC_OK) {
        return st;
    }
    st = llamac__adapter_set_check(e->model, r->adapters, r->n_adapters, "llamac_engine_submit");
    if (st != LLAMAC_OK) {
        return st;
    }
    return llamac__stops_check(r->stop, r->n_stop, "n_stop");
}

static llamac_status check_request(const llamac_engine *e, const llamac_engine_request *r) {
    if (r->chunks) {
        return LLAMAC_OK; /* checked once chunks_prompt has laid it out */
    }
    if (r->n_prompt > 0 && !r->prompt) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_prompt is %zu but prompt is NULL", r->n_prompt);
    }
    llamac_status st = check_options(e, r, r->n_prompt);
    return st == LLAMAC_OK ? llamac__tokens_check(e->model, r->prompt, r->n_prompt) : st;
}

static llamac_status make_request(llamac_engine *e, const llamac_engine_request *r, struct eng_request **out) {
    *out = NULL;
    llamac_status st = check_request(e, r);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct eng_request *q = llamac__calloc(1, sizeof *q);
    if (!q) {
        return LLAMAC_E_NO_MEMORY;
    }
    if (r->chunks) {
        st = chunks_prompt(e, r->chunks, q);
    } else if (!(q->prompt = llamac__malloc(r->n_prompt * sizeof *q->prompt))) {
        st = LLAMAC_E_NO_MEMORY;
    } else {
        memcpy(q->prompt, r->prompt, r->n_prompt * sizeof *q->prompt);
        q->n_prompt = r->n_prompt;
    }
    if (st == LLAMAC_OK && r->chunks) {
        st = check_options(e, r, q->n_prompt);
    }
    if (st != LLAMAC_OK) {
        goto fail;
    }
    st = llamac__stops_copy(r->stop, r->n_stop, &q->stops);
    if (st != LLAMAC_OK) {
        goto fail;
    }
    st = llamac_sampler_from_params(e->model, &r->sampling, &q->sampler);
    if (st != LLAMAC_OK) {
        goto fail;
    }
    if (r->adapters || r->n_adapters > 0) {
        st = llamac__adapter_set_copy(r->adapters, r->n_adapters, &q->adapters);
        q->n_adapters = r->n_adapters;
    } else {
        pthread_mutex_lock(&e->lock);
        st = llamac__adapter_set_copy(e->adapters, e->n_adapters, &q->adapters);
        q->n_adapters = e->n_adapters;
        pthread_mutex_unlock(&e->lock);
    }
    if (st != LLAMAC_OK) {
        q->n_adapters = 0;
        goto fail;
    }
    q->key = llamac__lora_key(q->adapters, q->n_adapters);
    q->max_tokens = r->max_tokens;
    q->n_probs = r->n_probs;
    q->cache_prompt = r->cache_prompt;
    q->slot = r->slot;
    q->post_sampling_probs = r->post_sampling_probs;
    q->n_keep = r->n_keep;
    q->spec = r->spec;
    q->spec.draft = r->spec_draft ? e->draft : NULL;
    q->on_token = r->on_token;
    q->on_done = r->on_done;
    q->on_progress = r->on_progress;
    q->user_data = r->user_data;
    *out = q;
    return LLAMAC_OK;
fail:
    llamac__eng_request_free(q);
    return st;
}

llamac_status llamac_engine_submit(llamac_engine *engine, const llamac_engine_request *request, uint64_t *id) {
    if (id) {
        *id = 0;
    }
    if (!engine || !request) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_submit: NULL argument");
    }
    llamac_engine *e = engine;
    struct eng_request *q = NULL;
    llamac_status st = make_request(e, request, &q);
    if (st != LLAMAC_OK) {
        return st;
    }
    pthread_mutex_lock(&e->lock);
    if (!e->accepting) {
        e->stats.requests_rejected++;
        pthread_mutex_unlock(&e->lock);
        llamac__eng_request_free(q);
        return llamac__fail(LLAMAC_E_BUSY, "the engine is shutting down");
    }
    uint32_t capacity = e->params.n_slots + e->params.max_queued;
    if (e->n_queued + e->n_active >= capacity) {
        uint32_t active = e->n_active, queued = e->n_queued;
        e->stats.requests_rejected++;
        pthread_mutex_unlock(&e->lock);
        llamac__eng_request_free(q);
        return llamac__fail(LLAMAC_E_BUSY, "%u requests are running and %u queued (queue limit %u); try again later",
                            active, queued, e->params.max_queued);
    }
    q->id = e->next_id++;
    q->t_submit = llamac__now_ms();
    if (e->queue_tail) {
        e->queue_tail->next = q;
    } else {
        e->queue_head = q;
    }
    e->queue_tail = q;
    e->n_queued++;
    e->stats.requests_submitted++;
    e->stats.n_queued = e->n_queued;
    if (id) {
        *id = q->id;
    }
    pthread_cond_signal(&e->wake);
    pthread_mutex_unlock(&e->lock);
    return llamac__ok();
}

llamac_status llamac_engine_submit_text(llamac_engine *engine, const char *text, size_t len, unsigned tokenize_flags,
                                        const llamac_engine_request *request, uint64_t *id) {
    if (id) {
        *id = 0;
    }
    if (!engine || !request || (!text && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_submit_text: NULL argument");
    }
    if (tokenize_flags & ~(unsigned)(LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "unknown tokenize flags 0x%x", tokenize_flags);
    }
    llamac_token *tokens = NULL;
    size_t n = 0;
    llamac_status st = llamac_tokenize(engine->model, text ? text : "", len, tokenize_flags, &tokens, &n);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_engine_request r = *request;
    r.prompt = tokens;
    r.n_prompt = n;
    st = llamac_engine_submit(engine, &r, id);
    llamac_free(tokens);
    return st;
}

llamac_status llamac_engine_cancel(llamac_engine *engine, uint64_t id) {
    if (!engine || id == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_cancel: NULL engine or id 0");
    }
    llamac_engine *e = engine;
    pthread_mutex_lock(&e->lock);
    struct eng_request *prev = NULL;
    for (struct eng_request *q = e->queue_head; q; prev = q, q = q->next) {
        if (q->id == id) {
            if (prev) {
                prev->next = q->next;
            } else {
                e->queue_head = q->next;
            }
            if (e->queue_tail == q) {
                e->queue_tail = prev;
            }
            e->n_queued--;
            e->stats.n_queued = e->n_queued;
            q->cancelled = true;
            q->next = e->dropped;
            e->dropped = q;
            e->n_dropped++;
            pthread_cond_signal(&e->wake);
            pthread_mutex_unlock(&e->lock);
            return llamac__ok();
        }
    }
    for (uint32_t i = 0; i < e->params.n_slots; i++) {
        struct eng_request *q = e->slots[i].req;
        if (q && q->id == id && !q->cancelled) {
            q->cancelled = true;
            atomic_fetch_add(&e->cancel_epoch, 1u); /* the decode in progress may stop for it */
            pthread_cond_signal(&e->wake);
            pthread_mutex_unlock(&e->lock);
            return llamac__ok();
        }
    }
    pthread_mutex_unlock(&e->lock);
    return llamac__fail(LLAMAC_E_NOT_FOUND, "no running or queued request has id %llu", (unsigned long long)id);
}

llamac_status llamac_engine_slot_get(llamac_engine *engine, uint32_t i, llamac_engine_slot *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!engine || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_slot_get: NULL argument");
    }
    if (i >= engine->params.n_slots) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "slot %u does not exist (the engine has %u)", i,
                            engine->params.n_slots);
    }
    pthread_mutex_lock(&engine->lock);
    *out = engine->slots[i].pub;
    pthread_mutex_unlock(&engine->lock);
    return llamac__ok();
}

llamac_status llamac_engine_set_adapters(llamac_engine *engine, const llamac_adapter_scale *set, size_t n) {
    if (!engine) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_set_adapters: engine is NULL");
    }
    llamac_status st = llamac__adapter_set_check(engine->model, set, n, "llamac_engine_set_adapters");
    llamac_adapter_scale *copy = NULL;
    if (st != LLAMAC_OK || (st = llamac__adapter_set_copy(set, n, &copy)) != LLAMAC_OK) {
        return st;
    }
    struct eng_retired *r = llamac__calloc(1, sizeof *r);
    if (!r) {
        llamac__adapter_set_release(copy, n);
        return LLAMAC_E_NO_MEMORY;
    }
    pthread_mutex_lock(&engine->lock);
    r->set = engine->adapters;
    r->n = engine->n_adapters;
    r->next = engine->retired;
    engine->retired = r;
    engine->adapters = copy;
    engine->n_adapters = n;
    pthread_cond_signal(&engine->wake);
    pthread_mutex_unlock(&engine->lock);
    return llamac__ok();
}

size_t llamac_engine_adapters(llamac_engine *engine, llamac_adapter_scale *out, size_t cap) {
    if (!engine) {
        return 0;
    }
    pthread_mutex_lock(&engine->lock);
    size_t n = engine->n_adapters;
    if (out && n > 0) {
        memcpy(out, engine->adapters, (n < cap ? n : cap) * sizeof *out);
    }
    pthread_mutex_unlock(&engine->lock);
    return n;
}

llamac_status llamac_engine_get_stats(llamac_engine *engine, llamac_engine_stats *out) {
    if (out) {
        memset(out, 0, sizeof *out);
    }
    if (!engine || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_engine_get_stats: NULL argument");
    }
    pthread_mutex_lock(&engine->lock);
    *out = engine->stats;
    out->n_processing = engine->n_active;
    out->n_queued = engine->n_queued;
    pthread_mutex_unlock(&engine->lock);
    return llamac__ok();
}
