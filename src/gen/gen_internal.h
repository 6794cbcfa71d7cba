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

#endif /* LLAMAC_GEN_INTERNAL_H */
