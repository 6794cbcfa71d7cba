/*
 * gen_internal.h - what the generation layer shares with the layers above it inside the library (media, chat
 * sessions): generation from a prompt whose beginning a sequence already holds, and from a prompt that something
 * else evaluates (text and media chunks).
 */
#ifndef LLAMAC_GEN_INTERNAL_H
#define LLAMAC_GEN_INTERNAL_H

#include "core/internal.h"

/* llamac_generate_tokens for a sequence that already holds the first `n_cached` tokens of `prompt` (n_cached < n;
 * 0 clears the sequence, as llamac_generate_tokens does): the rest of the sequence is removed and only
 * prompt[n_cached..n) is decoded. Each generated token that is decoded into the cache is appended to `decoded`
 * (up to decoded_cap; may be NULL), counted in *n_decoded; the last sampled token is never decoded. */
llamac_status llamac__generate_from(llamac_context *ctx, const llamac_token *prompt, size_t n, size_t n_cached,
                                    const llamac_generate_params *params, llamac_generate_result *result,
                                    llamac_token *decoded, size_t decoded_cap, size_t *n_decoded);

/* The draft side of speculative decoding (spec.c) for one generation: the parameters (borrowed) and the tokens the
 * draft model's sequence `seq` holds (0 for llamac_generate; the slot's in the engine). */
typedef struct llamac__drafter {
    const llamac_spec_params *p;
    llamac_seq_id seq;
    llamac_token *cache; /* the draft sequence's tokens, positions 0..n_cache-1 */
    size_t n_cache;
    size_t cap; /* the draft context's positions */
    /* The draft model's back-off: a decode that gave no draft, or a draft the target rejected from its first token,
     * is a miss; from the LLAMAC__DRAFT_MISSES-th miss in a row on, the model skips proposals after each miss (1, 2,
     * 4 ... LLAMAC__DRAFT_BACKOFF_MAX), so a draft that is rarely right costs a fraction of a decode per token
     * instead of one per token, while one that is right now and then keeps drafting. */
    uint32_t misses, skip;
    bool from_model; /* the last proposal came from the draft model */
    /* The most tokens a proposal may catch the draft sequence up by (decode what it lacks of the text) before the
     * model drafts; a proposal that would need more gets no model draft, and no miss. SIZE_MAX (what start sets):
     * no limit. The engine lowers it for a slot that fell behind while it could not draft (spec.c). */
    size_t catchup_max;
    llamac_batch *batch; /* for the draft context's decodes (n_batch tokens), with a draft model */
} llamac__drafter;

#define LLAMAC__DRAFT_MISSES 4
#define LLAMAC__DRAFT_BACKOFF_MAX 32

/* True when `p` asks for speculation (a draft model or n-gram lookup). */
bool llamac__spec_on(const llamac_spec_params *p);

/* Checks the parameters against the target context: ranges, a draft context that is not the target's, the draft's
 * vocabulary (llamac_model_check_draft). Errors: LLAMAC_E_INVALID_ARGUMENT, named in the message. */
llamac_status llamac__spec_check(const llamac_context *target, const llamac_spec_params *p);

/* Checks the parameters against the target context (llamac__spec_check) and clears the draft
 * sequence. Free with llamac__drafter_free, also after a failure. */
llamac_status llamac__drafter_init(llamac__drafter *d, const llamac_context *target, const llamac_spec_params *p);
/* Starts a drafter on sequence `seq` of p->draft (cleared) without checking p (the caller did: llamac__spec_check).
 * Free with llamac__drafter_free, also after a failure. Errors: LLAMAC_E_NO_MEMORY, LLAMAC_E_UNSUPPORTED. */
llamac_status llamac__drafter_start(llamac__drafter *d, const llamac_spec_params *p, llamac_seq_id seq);
/* Frees the token list and clears the draft sequence. */
void llamac__drafter_free(llamac__drafter *d);

/* Proposes up to min(max, n_max) tokens (into out) to follow the text h[0..n): the n-gram lookup's, else the draft
 * model's (unless it backs off); *n_out 0 when there is none or it is shorter than n_min. Errors: the draft
 * context's decode errors. */
llamac_status llamac__drafter_propose(llamac__drafter *d, const llamac_token *h, size_t n, llamac_token *out,
                                      size_t max, size_t *n_out);

/* One drafter's part of a round of proposals made together (llamac__drafters_propose). */
typedef struct llamac__draft_job {
    llamac__drafter *d;
    const llamac_token *h; /* the text to follow: h[0..n) */
    size_t n;
    llamac_token *out; /* room for max tokens */
    size_t max;
    struct llamac__draft_job *next; /* the round's next job, or NULL */
    size_t n_out;                   /* the proposal's length (set by the round) */
    /* spec.c's, during the round */
    size_t room, keep;
    int32_t out_i;
    llamac_token top;
    float prob;
    bool live;
    struct llamac__draft_job *next_model;
} llamac__draft_job;

/* Proposes for every job of the list `jobs` as llamac__drafter_propose does for one: n-gram lookup, else the draft
 * model (unless it backs off or catching up would take more than catchup_max tokens). The drafters whose draft model
 * drafts share one draft context (every job's d->p->draft the same, the sequences distinct): they catch up on their
 * texts in one batch (or as many as n_batch needs), then draft one position per decode for all of them. Adds the
 * draft context's decoded tokens and decodes to *n_tokens and *n_decodes. Errors: the draft context's decode errors
 * (every job drafting with the model then proposes nothing). */
llamac_status llamac__drafters_propose(llamac__draft_job *jobs, uint64_t *n_tokens, uint64_t *n_decodes);
/* Tells the drafter how its last proposal of n_drafted tokens fared: n_accepted of them were the target's own. */
void llamac__drafter_verified(llamac__drafter *d, size_t n_drafted, size_t n_accepted);
/* Evaluates a prompt into sequence `seq` after the positions the generation kept, leaving logits for its last
 * token, and sets *n_past to the position after it (where the first generated token goes). */
typedef llamac_status (*llamac__prompt_fn)(void *user_data, llamac_context *ctx, llamac_seq_id seq, llama_pos *n_past);

/* A prompt as the generation loop sees it. */
struct llamac__gen_prompt {
    llamac__prompt_fn eval;
    void *eval_data;
    llama_pos keep_pos;         /* positions of the sequence that stay (the cached beginning); 0 clears it */
    const llamac_token *accept; /* tokens fed to the sampler's history (penalties) before generating */
    size_t n_accept;
    size_t n_total;  /* tokens of the whole prompt, for the result's n_prompt_tokens */
    size_t n_decode; /* tokens this call evaluates, for the prompt speed */
    llama_pos n_pos; /* positions the whole prompt takes; it must leave room for one generated token */
};

/* Checks generation parameters as llamac_generate does (NULLs included). */
llamac_status llamac__generate_check(llamac_context *ctx, const llamac_generate_params *params);

/* The generation loop after `prompt` is evaluated: sampling, the UTF-8 and stop-string gates, limits, cancel, timings.
 * params must have passed llamac__generate_check. Generated tokens that are decoded are recorded as for
 * llamac__generate_from. */
llamac_status llamac__generate_run(llamac_context *ctx, const struct llamac__gen_prompt *prompt,
                                   const llamac_generate_params *params, llamac_generate_result *result,
                                   llamac_token *decoded, size_t decoded_cap, size_t *n_decoded);

#endif /* LLAMAC_GEN_INTERNAL_H */
