/*
 * guard.cpp - the only C++ in libllamac: catches the exceptions llama.cpp throws through its C API.
 *
 * A C caller cannot catch a C++ exception; one that escapes llama.cpp into C code terminates the process. The
 * grammar parser compiles trigger patterns with std::regex, and grammar acceptance throws on a token the grammar
 * cannot take; these wrappers turn both into ordinary error returns.
 */
#include "guard.h"

#include <cstdio>
#include <exception>
#include <regex>

static void put(char *err, size_t cap, const char *what) {
    if (err && cap) {
        std::snprintf(err, cap, "%s", what);
    }
}

extern "C" bool llamac__regex_valid(const char *pattern, char *err, size_t err_cap) {
    try {
        std::regex re(pattern);
        (void)re;
        return true;
    } catch (const std::exception &e) {
        put(err, err_cap, e.what());
    } catch (...) {
        put(err, err_cap, "unknown error");
    }
    return false;
}

extern "C" struct llama_sampler *llamac__grammar_init(const struct llama_vocab *vocab, const char *grammar,
                                                      const char *root, bool lazy, const char *const *patterns,
                                                      size_t n_patterns, const llama_token *tokens, size_t n_tokens,
                                                      char *err, size_t err_cap) {
    try {
        if (!lazy) {
            return llama_sampler_init_grammar(vocab, grammar, root);
        }
        return llama_sampler_init_grammar_lazy_patterns(vocab, grammar, root, const_cast<const char **>(patterns),
                                                        n_patterns, tokens, n_tokens);
    } catch (const std::exception &e) {
        put(err, err_cap, e.what());
    } catch (...) {
        put(err, err_cap, "unknown error");
    }
    return nullptr;
}

extern "C" bool llamac__sampler_accept(struct llama_sampler *smpl, llama_token token, char *err, size_t err_cap) {
    try {
        llama_sampler_accept(smpl, token);
        return true;
    } catch (const std::exception &e) {
        put(err, err_cap, e.what());
    } catch (...) {
        put(err, err_cap, "unknown error");
    }
    return false;
}
