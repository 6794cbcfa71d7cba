/*
 * guard.h - C entry points of guard.cpp, which catches the C++ exceptions llama.cpp can throw through its C API.
 *
 * Kept apart from internal.h so that the C++ file does not see C11 atomics.
 */
#ifndef LLAMAC_GUARD_H
#define LLAMAC_GUARD_H

#include <llama.h>
#include <stdbool.h>
#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* llama_sampler_init_grammar / _lazy_patterns with exceptions turned into NULL and a message in `err`. */
struct llama_sampler *llamac__grammar_init(const struct llama_vocab *vocab, const char *grammar, const char *root,
                                           bool lazy, const char *const *patterns, size_t n_patterns,
                                           const llama_token *tokens, size_t n_tokens, char *err, size_t err_cap);

/* True when `pattern` compiles as the std::regex llama.cpp will build from it; otherwise the reason in `err`. */
bool llamac__regex_valid(const char *pattern, char *err, size_t err_cap);

/* llama_sampler_accept with exceptions caught; false (and the reason in `err`) when it threw. */
bool llamac__sampler_accept(struct llama_sampler *smpl, llama_token token, char *err, size_t err_cap);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_GUARD_H */
