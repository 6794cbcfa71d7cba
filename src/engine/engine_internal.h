/*
 * engine_internal.h - what the multi-sequence engine's files share: requests, slots and the engine itself.
 *
 * Ownership is simple on purpose: the submitting thread builds a request (prompt copy, sampler, stop strings) and
 * hands it to the engine under its lock; from then on only the engine thread touches it, until the completion
 * callback has run and it is freed. Slots belong to the engine thread; what other threads may read of them is a
 * snapshot (`pub`) refreshed under the lock.
 */
#ifndef LLAMAC_ENGINE_INTERNAL_H
#define LLAMAC_ENGINE_INTERNAL_H

#include "adapter/adapter_internal.h"
#include "core/internal.h"
#include "gen/gen_internal.h"
#include "text/textout.h"

#include <pthread.h>

/* A medium of a prompt: where its tokens are and which it is. In the prompt and the slot's cache its tokens are
 * stand-ins (LLAMAC__ENG_MEDIA_TOKEN of its id), so that a prefix comparison of tokens stops at a different medium;
 * the ids are compared in full before a medium is reused. */
struct eng_media {
    size_t start, n;       /* its tokens' indices in the prompt */
    size_t chunk;          /* its chunk in the request's chunks */
    llamac_pos pos, n_pos; /* the model's position of its first token, and the positions it advances by (n, except
                              with M-RoPE: max(w, h) for an image of w x h tokens); see llamac__eng_pos */
    char id[65];           /* the medium's id (sha256 hex); "" matches nothing */
};

struct eng_request {
    uint64_t id;
    llamac_token *prompt; /* with media: their stand-ins */
    size_t n_prompt;
    llamac_chunks *chunks; /* a prompt with media: a reference; NULL for a token prompt */
    struct eng_media *media;
    size_t n_media;
    llamac_sampler *sampler;
    int32_t max_tokens;
    llamac__stops stops;
    int32_t n_probs;
    bool cache_prompt;
    int32_t slot;                   /* -1: any */
    llamac_adapter_scale *adapters; /* the LoRA set it decodes with (a reference on each), NULL with 0: none */
    size_t n_adapters;
    uint64_t key; /* llamac__lora_key of the set: what its KV cells are computed under */
    bool post_sampling_probs;
    int32_t n_keep;          /* -1: the whole prompt */
    llamac_spec_params spec; /* speculative decoding; draft: the engine's draft context or NULL */
    llamac_engine_token_fn on_token;
    llamac_engine_done_fn on_done;
    llamac_engine_progress_fn on_progress;
    void *user_data;
    double t_submit;
    bool cancelled; /* under the engine lock */
    struct eng_request *next;
};

/* Frees a request and everything it owns. NULL is a no-op. */
void llamac__eng_request_free(struct eng_request *req);

/* A LoRA set the engine's set no longer is, released on the engine thread: the release may free an adapter, which
 * llama.cpp does not allow while a context of the model decodes. */
struct eng_retired {
    llamac_adapter_scale *set;
    size_t n;
    struct eng_retired *next;
};

/* Releases the retired sets. Lock held; the lock is released while they are freed. */
void llamac__eng_release_retired(llamac_engine *e);

/* A slot file action (engine_slots.c), queued by the caller's thread, which waits for the engine thread to run it
 * while the slot is idle. */
enum eng_action_kind { ENG_SLOT_SAVE, ENG_SLOT_RESTORE, ENG_SLOT_ERASE };
struct eng_action {
    enum eng_action_kind kind;
    uint32_t slot;
    const char *path; /* borrowed from the waiting caller */
    bool done;        /* under the engine lock */
    llamac_status status;
    char error[768];
    size_t n_tokens, n_bytes;
    struct eng_action *next;
};

struct eng_slot {
    int32_t id; /* = sequence id */
    llamac_slot_state state;
    struct eng_request *req; /* set and cleared under the engine lock */
    bool fresh;              /* assigned, its cache not yet prepared */
    llamac_token *cache;     /* the tokens whose KV the sequence holds, positions 0..n_cache-1 */
    size_t n_cache;
    uint64_t cache_key;      /* the adapter key the cached cells (parked ones too) were computed under */
    struct eng_media *media; /* the media among them (the last request's), for reuse by id */
    size_t n_media, cap_media;
    size_t lcp; /* common prefix with the assigned request's prompt, found at assignment */
    int32_t n_reused;
    int32_t n_generated;
    int32_t n_discarded;  /* tokens dropped by context shifts */
    size_t n_in_batch;    /* tokens this step's batch holds for the slot */
    int32_t out_index;    /* output of this step's batch to sample from, -1: none */
    llamac_token pending; /* sampled, to be decoded in the next step */
    bool has_pending;
    bool spec_on;                              /* the request drafts (spec on, a text-only prompt) */
    llamac__drafter drafter;                   /* its draft source (spec.c), while spec_on */
    llamac__draft_job job;                     /* its part of the step's drafting round (d NULL: none) */
    llamac_token draft[LLAMAC_SPEC_MAX_DRAFT]; /* drafted tokens in this step's batch after `pending` */
    size_t n_draft;
    int32_t n_drafted, n_accepted; /* the request's drafted tokens and those accepted (usage) */
    uint64_t last_used;
    uint64_t last_step;     /* the step that last decoded tokens of the slot: who waited longest picks the set */
    llamac__textout text;   /* the request's text-out path (UTF-8 gate, stop strings), reused by every request */
    llamac_token_prob *top; /* LLAMAC_ENGINE_MAX_PROBS entries */
    double t_start, t_prompt_end, t_first;
    double t_prompt_step; /* the end of the last step that decoded some of the prompt (0: none yet) */
    uint64_t served;
    llamac_engine_slot pub; /* snapshot for other threads, under the engine lock */
    void *parked;           /* the sequence's state while it is out of the KV cache (engine_park.c), or NULL */
    size_t parked_size;
    size_t park_refused; /* n_cache when parking last failed, so it is not tried again at every step */
};

struct llamac_engine {
    llamac_context *ctx;
    llamac_model *model;
    llamac_context *draft; /* the draft model's context (a sequence per slot), or NULL (engine thread only) */
    llamac_engine_params params;
    uint32_t n_ctx;      /* whole context, as llama.cpp sized it */
    uint32_t n_ctx_slot; /* per slot */
    uint32_t chunk;      /* prompt tokens per step */
    uint32_t n_batch;
    uint64_t applied_key;   /* the key of the LoRA set the context decodes with now (engine thread only) */
    uint32_t applied_steps; /* steps decoded in a row with applied_key (engine thread only; engine_step.c) */
    struct eng_slot *slots;
    llamac_batch *batch;

    pthread_t thread;
    bool thread_started;
    pthread_mutex_t shutdown_lock; /* serialises llamac_engine_shutdown */
    bool shut;                     /* the thread has been joined */

    pthread_mutex_t lock; /* guards everything below */
    pthread_cond_t wake;  /* work arrived, a cancel, or shutdown */
    pthread_cond_t idle;  /* a request finished */
    struct eng_request *queue_head, *queue_tail;
    uint32_t n_queued;
    uint32_t n_active;           /* requests holding a slot */
    struct eng_request *dropped; /* cancelled while queued: completion pending on the engine thread */
    struct eng_action *actions;  /* slot file actions waiting for their slot to be idle */
    pthread_cond_t acted;        /* an action is done */
    uint32_t n_dropped;
    uint64_t next_id;
    bool accepting;
    bool stop_now;
    uint64_t lru_clock;
    llamac_adapter_scale *adapters; /* the set for requests that name none (a reference on each) */
    size_t n_adapters;
    struct eng_retired *retired; /* sets it replaced, to release on the engine thread */
    llamac_engine_stats stats;
    size_t parked_bytes; /* engine thread only */
    /* Bumped (lock held) by a cancel of a request in a slot and by shutdown, so that the decode in progress can stop
     * between ggml's graph nodes instead of after the whole chunk (llamac__eng_abort); decode_epoch is its value
     * when the loop last reaped the cancelled, before the step (engine thread only). */
    atomic_uint cancel_epoch;
    unsigned decode_epoch;
};

/* Where a slot's tokens sit (engine_pos.c). The engine indexes a slot's tokens by its cache (the prompt's indices, then
 * the generated tokens'); llama.cpp places them at the model's positions. Those are the indices, except after a
 * medium that advances positions by fewer than its tokens (M-RoPE: an image of w x h tokens takes max(w, h)
 * positions). Every index the engine hands llama.cpp as a position (batch positions, cuts of the sequence) goes
 * through llamac__eng_pos, which reads the slot's media record: the media of the request whose prompt the cache
 * begins with (the prefix a later request reuses holds the same media at the same places, compared by id). */

/* Makes q's media the slot's record. False out of memory (the record is then empty). */
bool llamac__eng_media_record(struct eng_slot *s, const struct eng_request *q);

/* The position of the token at index `i` of the slot's cache: i less the positions the recorded media before it save.
 * Inside a medium (where the engine never cuts): its first position plus i's offset in it, or with M-RoPE its first
 * position (libmtmd lays out the 2-D ones from there). */
llamac_pos llamac__eng_pos(const struct eng_slot *s, size_t i);

/* Parks the caches of idle slots (engine_park.c). Engine thread, lock not held. */
void llamac__eng_park_idle(llamac_engine *e);
/* Puts a parked slot's sequence back into the KV cache; false when llama.cpp could not (the sequence is then
 * empty). True at once for a slot that is not parked. Engine thread, lock not held. */
bool llamac__eng_unpark(llamac_engine *e, struct eng_slot *s);
/* Forgets a parked state. */
void llamac__eng_park_drop(llamac_engine *e, struct eng_slot *s);

/* The engine context's abort callback (a llamac_abort_fn): true when a request in the batch being decoded was
 * cancelled since the decode began, or the engine is shutting down. Runs on a llama.cpp compute thread. */
bool llamac__eng_abort(void *user_data);

/* Runs the queued slot actions whose slot is idle (engine_slots.c); with shutdown, fails them all. Engine thread,
 * lock held (released while an action runs). */
void llamac__eng_run_actions(llamac_engine *e, bool shutdown);

/* The worker thread's body. */
void *llamac__eng_main(void *arg);

#endif /* LLAMAC_ENGINE_INTERNAL_H */
