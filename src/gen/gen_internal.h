/*
 * gen_internal.h - what the generation layer shares with the layers above it inside the library (chat sessions):
 * generation from a prompt whose beginning a sequence already holds.
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
 * draft model's sequence 0 holds. */
typedef struct llamac__drafter {
    const llamac_spec_params *p;
    llamac_token *cache; /* the draft sequence's tokens, positions 0..n_cache-1 */
    size_t n_cache;
    size_t cap; /* the draft context's positions */
} llamac__drafter;

/* True when `p` asks for speculation (a draft model or n-gram lookup). */
bool llamac__spec_on(const llamac_spec_params *p);

/* Checks the parameters against the target context (ranges, the draft's vocabulary) and clears the draft
 * sequence. Free with llamac__drafter_free, also after a failure. */
llamac_status llamac__drafter_init(llamac__drafter *d, const llamac_context *target, const llamac_spec_params *p);
void llamac__drafter_free(llamac__drafter *d);

/* Proposes up to min(max, n_max) tokens (into out) to follow the text h[0..n): the n-gram lookup's, else the draft
 * model's; *n_out 0 when there is none or it is shorter than n_min. Errors: the draft context's decode errors. */
llamac_status llamac__drafter_propose(llamac__drafter *d, const llamac_token *h, size_t n, llamac_token *out,
                                      size_t max, size_t *n_out);

#endif /* LLAMAC_GEN_INTERNAL_H */
