/*
 * sampler_params.c - llamac_sampling_params: the one way every part of the library builds a sampler chain.
 *
 * llamac_generate, chat sessions and the serving engine all build their chain here, so a setting means the same
 * everywhere: llama.cpp's default sampler order (or the one the parameters choose), its logit biases with the
 * vocabulary's suppressed tokens and (for ignore_eos, as llama.cpp's --ignore-eos) its end-of-generation tokens banned,
 * and a grammar that is lazy when asked, its trigger words turned into one pattern. Chat sessions keep their settings
 * past the call that gave them, so a deep copy of the parameters lives here too, beside the checks that make copying
 * safe.
 */
#include "internal.h"

#include <math.h>
#include <stdalign.h>
#include <stdlib.h>
#include <string.h>

/* llama.cpp's default order of the samplers between the logit biases and dist, and its DRY sequence breakers
 * (common_params_sampling). */
static const llamac_sampler_type default_order[] = {
    LLAMAC_SAMPLER_PENALTIES, LLAMAC_SAMPLER_DRY,       LLAMAC_SAMPLER_TOP_N_SIGMA,
    LLAMAC_SAMPLER_TOP_K,     LLAMAC_SAMPLER_TYPICAL_P, LLAMAC_SAMPLER_TOP_P,
    LLAMAC_SAMPLER_MIN_P,     LLAMAC_SAMPLER_XTC,       LLAMAC_SAMPLER_TEMPERATURE,
};
static const char *const default_breakers[] = { "\n", ":", "\"", "*" };

llamac_sampling_params llamac_sampling_params_default(void) {
    llamac_sampling_params p;
    memset(&p, 0, sizeof p);
    p.seed = UINT32_MAX;
    p.temp = 0.8f;
    p.dynatemp_range = 0.0f;
    p.dynatemp_exponent = 1.0f;
    p.top_k = 40;
    p.top_p = 0.95f;
    p.min_p = 0.05f;
    p.typical_p = 1.0f;
    p.xtc_probability = 0.0f;
    p.xtc_threshold = 0.1f;
    p.top_n_sigma = -1.0f;
    p.penalty_last_n = 64;
    p.penalty_repeat = 1.0f;
    p.dry_base = 1.75f;
    p.dry_allowed_length = 2;
    p.dry_last_n = 64;
    p.mirostat_tau = 5.0f;
    p.mirostat_eta = 0.1f;
    p.reasoning_budget.tokens = -1;
    p.samplers = default_order;
    p.n_samplers = sizeof default_order / sizeof default_order[0];
    p.dry_sequence_breakers = default_breakers;
    p.n_dry_sequence_breakers = sizeof default_breakers / sizeof default_breakers[0];
    return p;
}

llamac_status llamac__sampling_check(const llamac_sampling_params *p, const char *prefix) {
    bool any_trigger = p->n_trigger_words || p->n_trigger_patterns || p->n_trigger_tokens;
    if (!p->grammar_lazy && any_trigger) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "grammar triggers are given but %sgrammar_lazy is false",
                            prefix);
    }
    if (p->grammar_lazy && !p->grammar) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sgrammar_lazy is set but there is no grammar", prefix);
    }
    if ((p->n_trigger_words && !p->trigger_words) || (p->n_trigger_patterns && !p->trigger_patterns) ||
        (p->n_trigger_tokens && !p->trigger_tokens)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "a trigger count is non-zero but its array is NULL");
    }
    for (size_t i = 0; i < p->n_trigger_words; i++) {
        if (!p->trigger_words[i] || !p->trigger_words[i][0]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "trigger word %zu is NULL or empty", i);
        }
    }
    for (size_t i = 0; i < p->n_trigger_patterns; i++) {
        if (!p->trigger_patterns[i]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "trigger pattern %zu is NULL", i);
        }
    }
    if (p->n_logit_bias > 0 && !p->logit_bias) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sn_logit_bias is %zu but logit_bias is NULL", prefix,
                            p->n_logit_bias);
    }
    if (p->n_samplers > 0 && !p->samplers) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sn_samplers is %zu but samplers is NULL", prefix,
                            p->n_samplers);
    }
    for (size_t i = 0; i < p->n_samplers; i++) {
        if (!llamac_sampler_type_name(p->samplers[i])) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%ssamplers[%zu] is %d, not a llamac_sampler_type", prefix,
                                i, (int)p->samplers[i]);
        }
    }
    if (p->n_dry_sequence_breakers > 0 && !p->dry_sequence_breakers) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "%sn_dry_sequence_breakers is %zu but dry_sequence_breakers is NULL", prefix,
                            p->n_dry_sequence_breakers);
    }
    for (size_t i = 0; i < p->n_dry_sequence_breakers; i++) {
        const char *b = p->dry_sequence_breakers[i];
        if (!b || !b[0] || !llamac_utf8_valid(b, strlen(b), NULL)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sdry_sequence_breakers[%zu] is %s", prefix, i,
                                !b      ? "NULL"
                                : !b[0] ? "empty"
                                        : "not valid UTF-8");
        }
    }
    const llamac_reasoning_budget *rb = &p->reasoning_budget;
    if (rb->tokens < -1) {
        return llamac__fail(
            LLAMAC_E_INVALID_ARGUMENT,
            "%sreasoning_budget.tokens %d must be -1 (unlimited), 0 (no thinking) or a number of tokens", prefix,
            rb->tokens);
    }
    if (rb->n_ends > 0 && !rb->ends) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sreasoning_budget.n_ends is %zu but ends is NULL", prefix,
                            rb->n_ends);
    }
    for (size_t i = 0; i < rb->n_ends; i++) {
        if (!rb->ends[i]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%sreasoning_budget.ends[%zu] is NULL", prefix, i);
        }
    }
    return LLAMAC_OK;
}

/* ---- the deep copy ---- */

/* Bytes of `n` items of `size`, rounded up so that what follows stays aligned for pointers. */
static size_t span(size_t n, size_t size) {
    size_t a = alignof(max_align_t);
    return (n * size + a - 1) / a * a;
}

/* Takes `bytes` from the block at *at. */
static void *place(char **at, size_t bytes) {
    void *p = *at;
    *at += bytes;
    return p;
}

static char *place_str(char **at, const char *s) {
    size_t n = strlen(s) + 1;
    return memcpy(place(at, n), s, n);
}

llamac_status llamac__sampling_copy(const llamac_sampling_params *src, const char *prefix, llamac_sampling_params *dst,
                                    void **block) {
    *block = NULL;
    llamac_status st = llamac__sampling_check(src, prefix);
    if (st != LLAMAC_OK) {
        return st;
    }
    const llamac_reasoning_budget *rb = &src->reasoning_budget;
    size_t size = span(src->n_trigger_words, sizeof(char *)) + span(src->n_trigger_patterns, sizeof(char *)) +
                  span(rb->n_ends, sizeof(char *)) + span(src->n_logit_bias, sizeof(llamac_logit_bias)) +
                  span(src->n_trigger_tokens, sizeof(llamac_token)) +
                  span(src->n_dry_sequence_breakers, sizeof(char *)) +
                  span(src->n_samplers, sizeof(llamac_sampler_type));
    size_t text = src->grammar ? strlen(src->grammar) + 1 : 0;
    const char *rb_texts[] = { rb->message, rb->start, rb->prefill };
    for (size_t i = 0; i < 3; i++) {
        text += rb_texts[i] ? strlen(rb_texts[i]) + 1 : 0;
    }
    for (size_t i = 0; i < rb->n_ends; i++) {
        text += strlen(rb->ends[i]) + 1;
    }
    for (size_t i = 0; i < src->n_trigger_words; i++) {
        text += strlen(src->trigger_words[i]) + 1;
    }
    for (size_t i = 0; i < src->n_trigger_patterns; i++) {
        text += strlen(src->trigger_patterns[i]) + 1;
    }
    for (size_t i = 0; i < src->n_dry_sequence_breakers; i++) {
        text += strlen(src->dry_sequence_breakers[i]) + 1;
    }
    char *at = llamac__malloc(size + text);
    if (!at) {
        return LLAMAC_E_NO_MEMORY;
    }
    *block = at;
    *dst = *src;
    /* Pointer arrays first, then 4-byte items, then text, each run aligned as the next needs. */
    const char **words = place(&at, span(src->n_trigger_words, sizeof(char *)));
    const char **patterns = place(&at, span(src->n_trigger_patterns, sizeof(char *)));
    const char **ends = place(&at, span(rb->n_ends, sizeof(char *)));
    const char **breakers = place(&at, span(src->n_dry_sequence_breakers, sizeof(char *)));
    llamac_logit_bias *bias = place(&at, span(src->n_logit_bias, sizeof *bias));
    llamac_token *tokens = place(&at, span(src->n_trigger_tokens, sizeof *tokens));
    llamac_sampler_type *order = place(&at, span(src->n_samplers, sizeof *order));
    if (src->n_samplers) {
        memcpy(order, src->samplers, src->n_samplers * sizeof *order);
    }
    if (src->n_logit_bias) {
        memcpy(bias, src->logit_bias, src->n_logit_bias * sizeof *bias);
    }
    if (src->n_trigger_tokens) {
        memcpy(tokens, src->trigger_tokens, src->n_trigger_tokens * sizeof *tokens);
    }
    for (size_t i = 0; i < src->n_trigger_words; i++) {
        words[i] = place_str(&at, src->trigger_words[i]);
    }
    for (size_t i = 0; i < src->n_trigger_patterns; i++) {
        patterns[i] = place_str(&at, src->trigger_patterns[i]);
    }
    for (size_t i = 0; i < rb->n_ends; i++) {
        ends[i] = place_str(&at, rb->ends[i]);
    }
    for (size_t i = 0; i < src->n_dry_sequence_breakers; i++) {
        breakers[i] = place_str(&at, src->dry_sequence_breakers[i]);
    }
    /* NULL stays NULL (the defaults); an empty list stays empty (none), pointing at the block */
    dst->dry_sequence_breakers = src->dry_sequence_breakers ? breakers : NULL;
    dst->samplers = src->samplers ? order : NULL;
    dst->reasoning_budget.ends = rb->n_ends ? ends : NULL;
    dst->reasoning_budget.message = rb->message ? place_str(&at, rb->message) : NULL;
    dst->reasoning_budget.start = rb->start ? place_str(&at, rb->start) : NULL;
    dst->reasoning_budget.prefill = rb->prefill ? place_str(&at, rb->prefill) : NULL;
    dst->grammar = src->grammar ? place_str(&at, src->grammar) : NULL;
    dst->trigger_words = src->n_trigger_words ? words : NULL;
    dst->trigger_patterns = src->n_trigger_patterns ? patterns : NULL;
    dst->logit_bias = src->n_logit_bias ? bias : NULL;
    dst->trigger_tokens = src->n_trigger_tokens ? tokens : NULL;
    return LLAMAC_OK;
}

/* ---- building the chain ---- */

/* The logit biases of the chain: the caller's, the end-of-generation tokens banned for ignore_eos (as llama.cpp's
 * common_init adds them), then the vocabulary's suppressed tokens. */
static llamac_status add_biases(llamac_sampler *s, const llamac_sampling_params *p) {
    const struct llama_vocab *vocab = s->model->vocab;
    int32_t n_vocab = s->model->info.n_vocab;
    int32_t n_suppress = 0;
    const llama_token *suppress = llama_vocab_get_suppress_tokens(vocab, &n_suppress);
    size_t n_eog = 0;
    if (p->ignore_eos) {
        for (llama_token t = 0; t < n_vocab; t++) {
            n_eog += llama_vocab_is_eog(vocab, t);
        }
    }
    size_t n = p->n_logit_bias + n_eog + (size_t)(n_suppress > 0 ? n_suppress : 0);
    if (n == 0) {
        return LLAMAC_OK;
    }
    llamac_logit_bias *all = llamac__calloc(n, sizeof *all);
    if (!all) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t k = 0;
    if (p->n_logit_bias) {
        memcpy(all, p->logit_bias, p->n_logit_bias * sizeof *all);
        k = p->n_logit_bias;
    }
    for (llama_token t = 0; n_eog > 0 && t < n_vocab; t++) {
        if (llama_vocab_is_eog(vocab, t)) {
            all[k].token = t;
            all[k++].bias = -INFINITY;
        }
    }
    for (int32_t i = 0; i < n_suppress; i++) {
        all[k].token = suppress[i];
        all[k++].bias = -INFINITY;
    }
    llamac_status st = llamac_sampler_add_logit_bias(s, all, k);
    free(all);
    return st;
}

/* Escapes regex metacharacters of `word` into `out` (room for 2 * strlen + 1). */
static void regex_escape(const char *word, char *out) {
    for (; *word; word++) {
        if (strchr(".^$|()*+?[]{}\\", *word)) {
            *out++ = '\\';
        }
        *out++ = *word;
    }
    *out = '\0';
}

/* One pattern for every trigger word: anything, then the first word (where the grammar starts), then anything. */
static llamac_status words_pattern(const char *const *words, size_t n, char **out) {
    size_t need = 32;
    for (size_t i = 0; i < n; i++) {
        need += 2 * strlen(words[i]) + 1;
    }
    char *p = llamac__malloc(need);
    if (!p) {
        return LLAMAC_E_NO_MEMORY;
    }
    strcpy(p, "[\\s\\S]*?(");
    for (size_t i = 0; i < n; i++) {
        if (i) {
            strcat(p, "|");
        }
        regex_escape(words[i], p + strlen(p));
    }
    strcat(p, ")[\\s\\S]*");
    *out = p;
    return LLAMAC_OK;
}

/* The grammar, lazy (its trigger patterns, one more for the trigger words, and its trigger tokens) or not. */
static llamac_status add_grammar(llamac_sampler *s, const llamac_sampling_params *p) {
    if (!p->grammar_lazy) {
        return llamac_sampler_add_grammar(s, p->grammar, "root");
    }
    size_t n_patterns = p->n_trigger_patterns + (p->n_trigger_words ? 1 : 0);
    const char **patterns = NULL;
    char *word_pattern = NULL;
    llamac_status st = LLAMAC_OK;
    if (n_patterns) {
        patterns = llamac__calloc(n_patterns, sizeof *patterns);
        if (!patterns) {
            return LLAMAC_E_NO_MEMORY;
        }
        for (size_t i = 0; i < p->n_trigger_patterns; i++) {
            patterns[i] = p->trigger_patterns[i];
        }
        if (p->n_trigger_words) {
            st = words_pattern(p->trigger_words, p->n_trigger_words, &word_pattern);
            patterns[n_patterns - 1] = word_pattern;
        }
    }
    if (st == LLAMAC_OK) {
        st = llamac_sampler_add_grammar_lazy(s, p->grammar, "root", patterns, n_patterns, p->trigger_tokens,
                                             p->n_trigger_tokens);
    }
    free(word_pattern);
    free(patterns);
    return st;
}

/* Adds the sampler of `type`, configured by *p. DRY and top-n-sigma at their neutral values are left out (llama.cpp
 * adds them as no-ops); adaptive-p at llama.cpp's default target is dist, which ends the chain anyway. */
static llamac_status add_type(llamac_sampler *s, const llamac_sampling_params *p, llamac_sampler_type type) {
    switch (type) {
    case LLAMAC_SAMPLER_PENALTIES:
        return llamac_sampler_add_penalties(s, p->penalty_last_n, p->penalty_repeat, p->penalty_freq,
                                            p->penalty_present);
    case LLAMAC_SAMPLER_DRY:
        return p->dry_multiplier == 0.0f
                   ? LLAMAC_OK
                   : llamac_sampler_add_dry(s, p->dry_multiplier, p->dry_base, p->dry_allowed_length, p->dry_last_n,
                                            p->dry_sequence_breakers, p->n_dry_sequence_breakers);
    case LLAMAC_SAMPLER_TOP_N_SIGMA:
        return p->top_n_sigma > 0.0f ? llamac_sampler_add_top_n_sigma(s, p->top_n_sigma) : LLAMAC_OK;
    case LLAMAC_SAMPLER_TOP_K: return llamac_sampler_add_top_k(s, p->top_k);
    case LLAMAC_SAMPLER_TYPICAL_P: return llamac_sampler_add_typical(s, p->typical_p, 0);
    case LLAMAC_SAMPLER_TOP_P: return llamac_sampler_add_top_p(s, p->top_p, 0);
    case LLAMAC_SAMPLER_MIN_P: return llamac_sampler_add_min_p(s, p->min_p, 0);
    case LLAMAC_SAMPLER_XTC: return llamac_sampler_add_xtc(s, p->xtc_probability, p->xtc_threshold, 0, p->seed);
    case LLAMAC_SAMPLER_TEMPERATURE:
        return llamac_sampler_add_temp_ext(s, p->temp > 0 ? p->temp : 0.0f, p->dynatemp_range, p->dynatemp_exponent);
    case LLAMAC_SAMPLER_INFILL: return llamac_sampler_add_infill(s);
    case LLAMAC_SAMPLER_ADAPTIVE_P: return LLAMAC_OK;
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "sampler type %d is not a llamac_sampler_type", (int)type);
}

/* llama.cpp's common sampler: bias, then the samplers in their order (default: penalties, DRY, top-n-sigma, top-k,
 * typical, top-p, min-p, XTC, temperature), then dist; mirostat replaces all but bias with temperature + mirostat. */
static llamac_status build_chain(llamac_sampler *s, const llamac_sampling_params *p) {
    llamac_status st = llamac__sampling_check(p, "");
    if (st || (st = add_biases(s, p))) {
        return st;
    }
    if (p->grammar && (st = add_grammar(s, p))) {
        return st;
    }
    /* as llama.cpp's common sampler: with the template's tags, for a budget, or to keep a lazy grammar out of the
     * thinking */
    const llamac_reasoning_budget *rb = &p->reasoning_budget;
    if (rb->start && rb->n_ends > 0 && (rb->tokens >= 0 || (p->grammar && p->grammar_lazy)) &&
        (st = llamac_sampler_add_reasoning_budget(s, rb))) {
        return st;
    }
    if (p->mirostat == 1 || p->mirostat == 2) {
        if ((st = llamac_sampler_add_temp(s, p->temp > 0 ? p->temp : 0.0f))) {
            return st;
        }
        return p->mirostat == 1 ? llamac_sampler_add_mirostat(s, p->seed, p->mirostat_tau, p->mirostat_eta, 100)
                                : llamac_sampler_add_mirostat_v2(s, p->seed, p->mirostat_tau, p->mirostat_eta);
    }
    if (p->mirostat != 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "mirostat %d must be 0, 1 or 2", p->mirostat);
    }
    const llamac_sampler_type *order = p->samplers ? p->samplers : default_order;
    size_t n_order = p->samplers ? p->n_samplers : sizeof default_order / sizeof default_order[0];
    for (size_t i = 0; i < n_order; i++) {
        if ((st = add_type(s, p, order[i]))) {
            return st;
        }
    }
    return llamac_sampler_add_dist(s, p->seed);
}

llamac_status llamac_sampler_from_params(llamac_model *model, const llamac_sampling_params *params,
                                         llamac_sampler **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_sampler_from_params: out is NULL");
    }
    *out = NULL;
    llamac_sampler *s = NULL;
    llamac_status st = llamac_sampler_new(model, &s);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_sampling_params defaults = llamac_sampling_params_default();
    st = build_chain(s, params ? params : &defaults);
    if (st != LLAMAC_OK) {
        llamac_sampler_free(s);
        return st;
    }
    *out = s;
    return llamac__ok();
}
