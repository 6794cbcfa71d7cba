/*
 * llamac/engine.h - the multi-sequence engine: slots on one context, continuous batching with a per-step prefill
 * budget, a prompt cache and parked caches; what `llamac serve` runs on, usable without HTTP.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_ENGINE_H
#define LLAMAC_ENGINE_H

#include "adapter.h" /* llamac_adapter_scale: a slot's adapters */
#include "generate.h"
#include "media.h" /* llamac_chunks: prompts with media */

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Multi-sequence engine
 * ------------------------------------------------------------------------------------------------------------- */
/* Called on the engine thread at the end of every step, after that step's token callbacks: a place to do once per
 * step what the callbacks would otherwise do once per token (such as waking the threads that stream the tokens). */
typedef void (*llamac_engine_step_fn)(void *user_data);

/* A multi-sequence engine: n_slots requests share ONE context and are decoded together by a worker thread the
 * engine owns (named "llamac-engine" on Linux, for top -H, perf, or placing it on a CPU). Every step decodes one
 * batch holding the next token of every generating slot plus prompt chunks of slots still prefilling, at most
 * `n_prefill_chunk` prompt tokens per step, so a long prompt delays the other streams by at most one chunk per step
 * (continuous batching). A new request goes to the idle slot whose KV cache
 * shares the longest prefix with its prompt (ties: the least recently used; a prefix shorter than slot_similarity of
 * the prompt: the least recently used slot) and reuses that slot's prefix (prompt cache).
 *
 * The KV cache is unified (one buffer shared by all sequences, as llama-server's default): without it llama.cpp
 * gives each sequence a stream of its own and splits a multi-sequence batch into equal-length per-sequence
 * micro-batches, so a batch mixing a prompt chunk with single generation tokens would be cut into many small
 * decodes. Each slot is limited to n_ctx / n_slots positions, so the slots together never overflow the cache (unless
 * kv_unified lets each use the whole context).
 *
 * llama.cpp's attention spans the cache up to its highest cell in use, whichever sequences own the cells, so the
 * prompt caches of idle slots would slow every step of the busy ones. While any slot is busy, an idle slot's cache
 * is therefore parked: copied to host memory and removed from the KV cache (up to park_limit_mib in all; beyond it,
 * caches stay). A request that reuses a parked prefix copies it back first; reuse and cached_tokens are unchanged.
 *
 * LoRA adapters: each request decodes with a set of adapters and scales of its own (llamac_engine_request's
 * `adapters`, by default the engine's set when it is submitted, see llamac_engine_set_adapters). llama.cpp applies
 * one set to a whole context, so a step decodes only slots whose sets are equal (the same adapters at the same
 * non-zero scales), switching the context's set between steps when the next step needs another (a hot swap,
 * nothing reloaded). Which set a step serves goes round fairly: the busy slot that has waited longest since it was
 * last decoded decides, so every set in use advances at least once in as many steps as there are sets, and a
 * minority set is never starved. Slots sharing one set are still batched together, so requests with one set (the
 * usual case) cost nothing more. KV cells are reused (prompt cache, parked caches) only by a request with the set
 * that computed them.
 *
 * Callbacks (token, completion, on_step) run on the engine thread, one at a time. They may call llamac_engine_submit,
 * llamac_engine_cancel, llamac_engine_get_stats, llamac_engine_slot_get and functions on other handles; they must not
 * call llamac_engine_shutdown or llamac_engine_free, and should return quickly: while one runs, every stream waits. */
typedef struct llamac_engine llamac_engine;

typedef struct llamac_engine_params {
    uint32_t n_slots;         /* sequences decoded together (llama-server's -np; default 4, 1..256) */
    uint32_t n_ctx;           /* total context shared by the slots, each slot getting n_ctx / n_slots (llama-server's
                                 -c); 0 = n_slots * min(4096, the model's training context) */
    uint32_t n_batch;         /* most tokens one step decodes (default 2048) */
    uint32_t n_ubatch;        /* physical batch (default 512) */
    uint32_t n_prefill_chunk; /* prompt tokens per step over all prefilling slots (default 512; clamped so that
                                 n_slots + n_prefill_chunk <= n_batch) */
    uint32_t max_queued;      /* requests waiting for a slot beyond the n_slots being served; past it submit is
                                 LLAMAC_E_BUSY (default 64; 0: none wait) */
    int32_t n_threads;        /* generation threads; 0 = the number of physical cores */
    int32_t n_threads_batch;  /* prompt threads; 0 = n_threads */
    llamac_kv_type type_k;    /* default F16 */
    llamac_kv_type type_v;    /* default F16; a quantized V cache needs flash attention */
    llamac_flash_attn flash_attn; /* default AUTO */
    llamac_rope_params rope;      /* RoPE scaling of the slots' context (default: the model's); checked as
                                     llamac_ctx_new checks it */
    bool offload_kqv;             /* as llamac_ctx_params.offload_kqv (default true) */
    bool op_offload;              /* as llamac_ctx_params.op_offload (default true) */
    bool special;            /* special tokens' text (e.g. <|im_end|>) is part of the generated text (llama-server's
                                -sp); default false: they produce no text */
    bool allow_ctx_overflow; /* allow a slot context beyond the model's training context (default false) */
    int64_t park_limit_mib;  /* host memory for parked slot caches (see above), in MiB: default 8192 (llama-server's
                                --cache-ram), -1 no limit, 0 never park */
    float slot_similarity;   /* the longest cached prefix picks the slot only if it is at least this share of the
                                prompt; otherwise the least recently used idle slot is taken, so that a request
                                sharing little (a system prompt) leaves the others' caches alone (llama-server's
                                --slot-prompt-similarity; default 0.1, 0 = always the longest prefix) */
    bool kv_unified;         /* each slot may hold up to the whole n_ctx (capped at the model's training context
                                unless allow_ctx_overflow) rather than n_ctx / n_slots, the slots competing for the
                                cache's cells: llama-server's --kv-unified. A step that finds no free cell first drops
                                the idle slots' caches from the KV cache; if that is not enough, its requests fail with
                                LLAMAC_E_CONTEXT_FULL ("the context size has been exceeded"). Default false */
    bool context_shift;      /* a request that fills its slot's context goes on: half of its tokens after the first
                                n_keep (see the request) are dropped from the cache and the rest moved down, as
                                llama-server's --context-shift does; with max_tokens -1 it then generates until an
                                end-of-generation token, a stop string or a cancel. Needs a memory whose positions can
                                shift (llamac_engine_new: LLAMAC_E_UNSUPPORTED otherwise). Default false: the request
                                ends with LLAMAC_FINISH_CONTEXT_FULL when the next token would not fit */

    uint32_t spec_batch_max; /* speculative decoding under load: a step drafts for its generating slots (requests with
                                spec on) only while a token for each slot with work (prefilling slots included: they
                                generate within a few steps) and the drafts stay within this many tokens, shared
                                equally among the drafting slots, so that a wide batch (many streams, where one decode
                                already reads the weights for many tokens) is not made wider by guesses (default 16; 0:
                                never draft). A slot kept from drafting feeds the draft model nothing; when it may
                                draft again, the draft model catches up on its text only if the request may still
                                generate as many tokens (or at its first token: its prompt) */
    /* Speculative decoding with a draft model: a smaller model sharing this one's vocabulary (checked at creation as
     * llamac_model_check_draft checks; borrowed for llamac_engine_new, the engine's draft context holds a reference),
     * decoded in a context of its own with one sequence per slot, for the requests that ask for it
     * (llamac_engine_request.spec_draft), with `rope` as the slots' context has it (as llama-server's). NULL: none
     * (default) */
    llamac_model *draft_model;
    uint32_t draft_n_ctx;          /* the draft context: 0 = the engine's n_ctx and a draft's room per slot */
    int32_t draft_n_threads;       /* 0 = n_threads */
    llamac_kv_type draft_type_k;   /* default F16 */
    llamac_kv_type draft_type_v;   /* default F16 */
    llamac_engine_step_fn on_step; /* may be NULL */
    void *step_user_data;
    /* The engine's first set of LoRA adapters (loaded for the engine's model) with their scales: what requests that
     * name no set of their own decode with, until llamac_engine_set_adapters replaces it. Borrowed for
     * llamac_engine_new (the engine holds a reference on each); NULL with 0: none. Checked as
     * llamac_ctx_set_adapters checks. */
    const llamac_adapter_scale *adapters;
    size_t n_adapters;
    /* A control vector every request decodes with (llama-server's --control-vector flags, which apply to the whole
     * server): the sum of the scaled vectors of `cvecs` (loaded for the engine's model), on layers cvec_layer_start to
     * cvec_layer_end (0 for either: llama.cpp's default). Borrowed for llamac_engine_new (the context keeps the sum);
     * NULL with 0: none. Checked as llamac_ctx_set_cvec checks. */
    const llamac_cvec_scale *cvecs;
    size_t n_cvecs;
    int32_t cvec_layer_start, cvec_layer_end;
} llamac_engine_params;

/* The defaults described above. Thread-safe. */
LLAMAC_API llamac_engine_params llamac_engine_params_default(void);

/* A token and its log-probability. */
typedef struct llamac_token_prob {
    llamac_token token;
    float logprob; /* natural log of the probability: of the softmax of the raw logits, before any sampler; with the
                      request's post_sampling_probs, of the distribution the token was drawn from */
} llamac_token_prob;

/* What the token callback receives for one generated token. */
typedef struct llamac_engine_token {
    uint64_t request_id;
    llamac_token token; /* the sampled token; -1 for the final call that releases held-back text at the end */
    int32_t index;      /* 0-based index of the token among the generated ones (-1 for the final call) */
    uint64_t step;      /* the engine step whose decode produced this token's logits */
    const char *text;   /* output text released now: whole UTF-8 characters, never any part of a stop string;
                           may be empty (held back) or hold text of earlier tokens. Owned by the engine, valid
                           during the callback */
    size_t len;
    float logprob;                /* the token's log-probability; 0 when n_probs is 0 */
    const llamac_token_prob *top; /* the n_top most likely tokens, most likely first (NULL when n_probs is 0);
                                     owned by the engine, valid during the callback */
    size_t n_top;
} llamac_engine_token;

/* Receives each generated token (see llamac_engine_token) except an end-of-generation token that ends the request
 * (the token completing a stop string comes with the text before the stop string); then, if text is still held
 * back when the request ends other than by a stop string, one final call with token -1. Runs on the engine thread.
 * Return false to end the request (finish reason LLAMAC_FINISH_CALLBACK). */
typedef bool (*llamac_engine_token_fn)(const llamac_engine_token *token, void *user_data);

/* Token counts and timings of a finished request. */
typedef struct llamac_engine_usage {
    int32_t prompt_tokens;    /* tokens in the prompt */
    int32_t cached_tokens;    /* prompt tokens reused from the slot's KV cache (not decoded again) */
    int32_t generated_tokens; /* tokens sampled, an end-of-generation token included */
    double queue_ms;          /* from submit to getting a slot */
    double prompt_ms;         /* from getting a slot to the end of the prompt's decode */
    double generation_ms;     /* from the first generated token to the end */
    double prompt_tokens_per_s;
    double tokens_per_s;      /* generation speed after the first token */
    int32_t discarded_tokens; /* tokens dropped from the slot's cache by context shifts (context_shift) */
    int32_t draft_tokens;     /* speculative decoding: drafted tokens verified (llama-server's timings.draft_n) */
    int32_t draft_accepted;   /* of which the target accepted (timings.draft_n_accepted) */
} llamac_engine_usage;

/* What the completion callback receives. */
typedef struct llamac_engine_result {
    uint64_t request_id;
    int32_t slot;                       /* the slot that served it; -1 when it never got one */
    llamac_finish_reason finish_reason; /* EOG, LENGTH (max_tokens), STOP, CALLBACK, CANCELLED (llamac_engine_cancel
                                           or shutdown), CONTEXT_FULL (the slot's context filled up); NONE when the
                                           request failed */
    llamac_status status;               /* LLAMAC_OK, or why the request failed (e.g. LLAMAC_E_DECODE) */
    const char *error;                  /* the failure's message, "" on success; owned by the engine, valid during
                                           the callback */
    const char *stop;                   /* the stop string that ended it (finish STOP), else NULL; owned by the engine,
                                           valid during the callback */
    llamac_engine_usage usage;
} llamac_engine_result;

/* Receives the end of a request. Called exactly once for every request that llamac_engine_submit accepted, after
 * its last token callback; the engine never uses the request's user_data afterwards. Runs on the engine thread. */
typedef void (*llamac_engine_done_fn)(const llamac_engine_result *result, void *user_data);

/* How far a request's prompt is (llama-server's prompt_progress). */
typedef struct llamac_engine_progress {
    uint64_t request_id;
    int32_t n_prompt;    /* tokens in the prompt */
    int32_t n_cached;    /* of which were reused from the slot's cache */
    int32_t n_processed; /* of which are in the cache now, reused or decoded: n_cached first, n_prompt last */
    double prompt_ms;    /* from getting a slot to the end of the last step that decoded some of the prompt; 0
                            before the first */
} llamac_engine_progress;

/* Receives a request's progress through its prompt: once when it gets a slot (nothing decoded yet), then after every
 * engine step that decoded a chunk of its prompt, the last one before its first token callback. Runs on the engine
 * thread. */
typedef void (*llamac_engine_progress_fn)(const llamac_engine_progress *progress, void *user_data);

/* One request. Everything it points to is borrowed for the llamac_engine_submit call (copied). */
typedef struct llamac_engine_request {
    const llamac_token *prompt; /* prompt tokens (the caller renders templates and tokenizes) */
    size_t n_prompt;
    llamac_sampling_params sampling; /* seed, temperature, top-k/p, min-p, penalties, logit bias, grammar (lazy
                                        or not), ignore_eos: the chain is built as llamac_sampler_from_params builds
                                        it; default llamac_sampling_params_default() */
    int32_t max_tokens;              /* -1: until the slot's context is full (default -1) */
    const char *const *stop;         /* stop strings (NUL-terminated, non-empty UTF-8); output ends before the first */
    size_t n_stop;
    int32_t n_probs;   /* top log-probabilities per generated token, 0..LLAMAC_ENGINE_MAX_PROBS (default 0) */
    bool cache_prompt; /* reuse a cached prefix (default true); false decodes the whole prompt again */
    int32_t slot;      /* the slot to run on, 0..n_slots-1 (llama-server's id_slot), reusing that slot's cache; the
                          request waits while it is busy, and requests queued behind it wait too (first come, first
                          served). -1: the engine picks (default) */
    const llamac_adapter_scale *adapters; /* the LoRA adapters (loaded for the engine's model) and scales this request
                                             decodes with; adapters at scale 0 change nothing. NULL with 0: the
                                             engine's set at submit (llamac_engine_set_adapters), kept for the
                                             request's life; non-NULL with 0: no adapters. Borrowed for the call (the
                                             request holds a reference on each) (default NULL, 0) */
    size_t n_adapters;
    bool post_sampling_probs; /* with n_probs: the probabilities of the distribution the token was drawn from, after
                                 the sampling chain (top-k, top-p, min-p, temperature, ...), only candidates left
                                 with a probability above 0, instead of the model's before sampling (default false;
                                 llama-server's post_sampling_probs) */
    int32_t n_keep; /* with the engine's context_shift: prompt tokens kept at the start of the slot's cache when
                       its context shifts, besides the BOS the model starts with (as llama-server counts it); -1:
                       the whole prompt; at most the slot's context less 4 (default 0) */
    llamac_engine_token_fn on_token;       /* may be NULL */
    llamac_engine_done_fn on_done;         /* may be NULL */
    llamac_engine_progress_fn on_progress; /* may be NULL */
    void *user_data;
    /* A prompt of text and media in place of prompt / n_prompt (which are then ignored): chunks made by
     * llamac_mmproj_tokenize with a projector of the engine's model (borrowed for the call; the request keeps a
     * reference of its own until it ends). Its text is decoded in the engine's batches like any prompt; each medium
     * is encoded (encodes of one projector one at a time) and decoded into the slot's sequence on its own, at most
     * one per slot and step. The prompt cache matches media by id: a prompt that repeats the media of a slot's
     * cache at the same places reuses them (usage.cached_tokens counts their tokens). The prompt must end with text.
     * Tokens are counted as tokens (prompt_tokens, cached_tokens, the slot's context) and placed at the model's
     * positions: with M-RoPE (Qwen2-VL) an image of w x h tokens advances them by max(w, h), as
     * llamac_mmproj_eval does. NULL: a token prompt (default). */
    llamac_chunks *chunks;
    /* Speculative decoding for this request, as llamac_generate does it (see "Speculative decoding" in generate.h):
     * n-gram lookup over the slot's prompt and output (spec.ngram, ngram_min/max), up to n_max tokens per draft, none
     * shorter than n_min, verified in the step's batch with the other slots' tokens and prompt chunks; the rejected
     * drafts' KV cells are removed. Output is the same as without (greedy: byte-identical). A draft model
     * (spec_draft below) decodes in the engine's own draft context: spec.draft must be NULL (LLAMAC_E_UNSUPPORTED
     * otherwise); the drafting slots' decodes of it are batched (one for their catch-ups, then one per draft
     * position). A prompt with media is served without drafts. Drafts are made only while the step's batch is
     * narrow (llamac_engine_params.spec_batch_max). Default llamac_spec_params_default(): off */
    llamac_spec_params spec;
    bool spec_draft; /* the engine's draft model drafts (when n-gram lookup, if on, finds nothing), its greedy guess
                        while its top token is at least spec.p_min probable; LLAMAC_E_INVALID_ARGUMENT when the engine
                        has none (default false) */
} llamac_engine_request;

#define LLAMAC_ENGINE_MAX_PROBS 100

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_engine_request llamac_engine_request_default(void);

/* Creates an engine over `model` (borrowed; the engine holds a reference) with its context and worker thread.
 * params NULL means defaults. *out is caller frees with llamac_engine_free. Errors: LLAMAC_E_INVALID_ARGUMENT (a
 * parameter out of range, named in the message), the errors of llamac_ctx_new, LLAMAC_E_NO_MEMORY,
 * LLAMAC_E_INTERNAL (the thread could not be started). Thread-safe. */
LLAMAC_API llamac_status llamac_engine_new(llamac_model *model, const llamac_engine_params *params,
                                           llamac_engine **out);

/* The KV cache llamac_engine_new(model, params) would allocate (its context: n_ctx, or n_slots times the smaller of
 * 4096 and the training context; one unified cache for the slots), computed without allocating, as
 * llamac_kv_memory_compute does (NULL params: defaults). What a caller checks against the memory it has before
 * creating the engine. Errors: those of llamac_engine_new's parameter checks (LLAMAC_E_INVALID_ARGUMENT), and of
 * llamac_kv_memory_compute (LLAMAC_E_UNSUPPORTED for a cache it does not compute). Thread-safe. */
LLAMAC_API llamac_status llamac_engine_kv_memory(const llamac_model *model, const llamac_engine_params *params,
                                                 llamac_kv_memory *out);

/* Stops accepting requests, lets the queued and running ones finish for up to `grace_ms` milliseconds, cancels
 * what is left (finish reason CANCELLED), and joins the worker thread. Later calls return at once. Thread-safe,
 * but not from a callback. */
LLAMAC_API void llamac_engine_shutdown(llamac_engine *engine, uint32_t grace_ms);

/* Shuts down with no grace (llamac_engine_shutdown(engine, 0)) and frees the engine. NULL is a no-op. Not from a
 * callback; no other call on the engine may be running or follow. */
LLAMAC_API void llamac_engine_free(llamac_engine *engine);

/* Queues a request; *id (may be NULL) receives its id (never 0). Everything is checked here, before the request is
 * accepted: the prompt is non-empty, its tokens are in the vocabulary and it is shorter than a slot's context (with
 * chunks: made for the engine's model, ending with text: LLAMAC_E_INVALID_ARGUMENT), the sampling parameters,
 * grammar and triggers are valid, its adapters are checked as llamac_ctx_set_adapters checks them. Errors (the
 * request is then not accepted and no callback runs): LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TOKEN_RANGE,
 * LLAMAC_E_CONTEXT_FULL (the message gives the prompt's token count and the slot's context), LLAMAC_E_GRAMMAR,
 * LLAMAC_E_UTF8 (a stop string), LLAMAC_E_BUSY (n_slots + max_queued requests are already in the engine, or it is
 * shutting down), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_submit(llamac_engine *engine, const llamac_engine_request *request,
                                              uint64_t *id);

/* As llamac_engine_submit, with the prompt given as text (len bytes of UTF-8, borrowed) tokenized with
 * `tokenize_flags` (LLAMAC_TOKENIZE_*); request->prompt is ignored. Errors: as llamac_engine_submit and
 * llamac_tokenize. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_submit_text(llamac_engine *engine, const char *text, size_t len,
                                                   unsigned tokenize_flags, const llamac_engine_request *request,
                                                   uint64_t *id);

/* Cancels request `id`: a queued request leaves the queue, a running one frees its slot before the next step (the
 * KV cache of what it decoded stays for prompt reuse). Its completion callback then runs on the engine thread with
 * finish reason CANCELLED. Errors: LLAMAC_E_NOT_FOUND (no such request, or it has already finished or been
 * cancelled), LLAMAC_E_INVALID_ARGUMENT. Thread-safe (also from a callback). */
LLAMAC_API llamac_status llamac_engine_cancel(llamac_engine *engine, uint64_t id);

typedef enum llamac_slot_state {
    LLAMAC_SLOT_IDLE = 0,
    LLAMAC_SLOT_PREFILL = 1,   /* decoding its prompt */
    LLAMAC_SLOT_GENERATING = 2 /* producing tokens */
} llamac_slot_state;

/* Name of a slot state ("idle", "prefill", "generating"), or NULL for an unknown value. Thread-safe. */
LLAMAC_API const char *llamac_slot_state_name(llamac_slot_state state);

/* One slot, as /slots shows it (a snapshot taken at the end of the last step). */
typedef struct llamac_engine_slot {
    int32_t id; /* also its sequence id in the context */
    llamac_slot_state state;
    uint32_t n_ctx;           /* the slot's context: n_ctx / n_slots */
    uint32_t n_cached;        /* tokens in its KV cache (kept after a request for prompt reuse) */
    uint64_t request_id;      /* the request it serves; 0 when idle */
    int32_t n_prompt;         /* that request's prompt tokens */
    int32_t n_prompt_done;    /* of which are in the cache (reused or decoded) */
    int32_t n_generated;      /* tokens generated so far */
    uint64_t requests_served; /* requests this slot has finished */
    bool parked;              /* its cache is parked in host memory (see llamac_engine_params) */
} llamac_engine_slot;

/* Fills *out with slot `i` (0 <= i < n_slots). Errors: LLAMAC_E_INVALID_ARGUMENT (i out of range, NULLs).
 * Thread-safe. */
LLAMAC_API llamac_status llamac_engine_slot_get(llamac_engine *engine, uint32_t i, llamac_engine_slot *out);

/* A slot's cache in a file, as llama-server's POST /slots/N?action=save|restore writes and reads it: llama.cpp's
 * sequence state file (llama_state_seq_save_file) whose token list is llama-server's packed form (-1, version 1,
 * the count, the tokens, no media), so files move between the two servers; a plain token list (older
 * llama-server files) is read too. These wait while the slot serves a request (requests queued for it go after),
 * then run on the engine thread between two steps; not from a callback. Thread-safe. */

/* Writes slot `slot`'s cache to `path`, owner-only (0600: it holds a conversation), through a temporary file beside
 * it that is renamed over `path` only when complete. *n_tokens (may be NULL) gets the tokens saved, *n_bytes (may be
 * NULL) the file's size. Errors: LLAMAC_E_INVALID_ARGUMENT (slot out of range, NULLs), LLAMAC_E_IO (the file cannot
 * be written), LLAMAC_E_BUSY (the engine is shutting down). */
LLAMAC_API llamac_status llamac_engine_slot_save(llamac_engine *engine, uint32_t slot, const char *path,
                                                 size_t *n_tokens, size_t *n_bytes);

/* Replaces slot `slot`'s cache with the one in `path` (written by llamac_engine_slot_save or llama-server for the
 * same model), so that a request whose prompt starts with those tokens reuses them. *n_tokens / *n_bytes (may be
 * NULL) get the tokens restored and the bytes read. On failure the slot's cache is empty. Errors:
 * LLAMAC_E_INVALID_ARGUMENT (slot out of range, NULLs), LLAMAC_E_IO (no such file, not a regular file),
 * LLAMAC_E_STATE (not a sequence state of this model, more tokens than the slot holds, a token list that does not
 * match the state, media chunks), LLAMAC_E_BUSY (the engine is shutting down). */
LLAMAC_API llamac_status llamac_engine_slot_restore(llamac_engine *engine, uint32_t slot, const char *path,
                                                    size_t *n_tokens, size_t *n_bytes);

/* Empties slot `slot`'s cache (parked or not); *n_tokens (may be NULL) gets the tokens it held. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_BUSY (the engine is shutting down). */
LLAMAC_API llamac_status llamac_engine_slot_erase(llamac_engine *engine, uint32_t slot, size_t *n_tokens);

/* Counters since the engine was created, for /metrics. */
typedef struct llamac_engine_stats {
    uint32_t n_slots;
    uint32_t n_ctx;              /* the whole context */
    uint32_t n_ctx_slot;         /* per slot */
    uint32_t n_processing;       /* requests holding a slot now */
    uint32_t n_queued;           /* requests waiting for a slot now */
    uint64_t requests_submitted; /* accepted by submit */
    uint64_t requests_rejected;  /* refused with LLAMAC_E_BUSY */
    uint64_t requests_finished;  /* completion callbacks run, whatever the reason */
    uint64_t requests_cancelled; /* of which ended CANCELLED */
    uint64_t prompt_tokens;      /* prompt tokens decoded (cached ones excluded) */
    uint64_t cached_tokens;      /* prompt tokens reused from a cache */
    uint64_t generated_tokens;   /* tokens sampled */
    uint64_t steps;              /* decodes run */
    double busy_ms;              /* time spent in steps (decode and sampling) */
    double prompt_ms;            /* of which in steps holding prompt tokens */
    uint64_t slots_parked;       /* idle slot caches moved to host memory */
    uint64_t slots_restored;     /* parked caches put back for a request that reused them */
    uint64_t busy_slot_steps;    /* over the decodes run, the sum of the slots holding a request (divided by steps:
                                    the average batch width, llama-server's n_busy_slots_per_decode) */
    uint32_t n_tokens_max;       /* the most tokens a slot's sequence has held (prompt and generated) */
    uint64_t adapter_swaps;      /* steps that switched the context's LoRA set (requests with different sets) */
    uint64_t draft_tokens;       /* speculative decoding: drafted tokens verified */
    uint64_t draft_accepted;     /* of which the target accepted */
    uint64_t drafts;             /* drafts verified (a slot's draft in a step) */
    uint64_t draft_model_tokens; /* tokens the draft model decoded (llamac_engine_params.draft_model): the slots' text
                                    it caught up on and the tokens it drafted */
    uint64_t draft_decodes;      /* the draft context's decodes (each holds the tokens of every slot drafting) */
} llamac_engine_stats;

/* Fills *out. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_engine_get_stats(llamac_engine *engine, llamac_engine_stats *out);

/* Makes `set` (n entries, borrowed; NULL with 0: none) the LoRA adapters and scales of the requests submitted from
 * now on that name no set of their own (llama-server's POST /lora-adapters). Requests already queued or running keep
 * the set they were submitted with. The engine holds a reference on each adapter. Errors: as llamac_ctx_set_adapters
 * (NULLs, an adapter of another model, one adapter twice, a scale that is not finite; the set in use is then kept),
 * LLAMAC_E_NO_MEMORY. Thread-safe (also from a callback). */
LLAMAC_API llamac_status llamac_engine_set_adapters(llamac_engine *engine, const llamac_adapter_scale *set, size_t n);

/* The engine's set (llamac_engine_params.adapters or the last llamac_engine_set_adapters), entries of scale 0
 * included, in the order given: writes min(n, cap) entries to `out` (may be NULL when cap is 0) and returns n. The
 * adapters are owned by the engine, valid until its set is replaced or it is freed. 0 for NULL. Thread-safe. */
LLAMAC_API size_t llamac_engine_adapters(llamac_engine *engine, llamac_adapter_scale *out, size_t cap);

/* The model the engine runs. Owned by the engine, valid until it is freed. Thread-safe. */
LLAMAC_API llamac_model *llamac_engine_model(const llamac_engine *engine);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_ENGINE_H */
