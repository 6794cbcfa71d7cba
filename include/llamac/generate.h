/*
 * llamac/generate.h - sampling and generation: sampler chains, llama.cpp's default chain from parameters, and one call
 * from a prompt to streamed text.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_GENERATE_H
#define LLAMAC_GENERATE_H

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Sampling
 * ------------------------------------------------------------------------------------------------------------- */

/* A sampler chain: filters applied in the order added, ending in a selecting sampler (greedy, dist, mirostat,
 * adaptive-p). A grammar, wherever it is added, is applied first, so a selected token always satisfies it. */
typedef struct llamac_sampler llamac_sampler;

/* Creates an empty chain for `model` (borrowed; the chain holds a reference). *out is caller frees with
 * llamac_sampler_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_new(llamac_model *model, llamac_sampler **out);

/* Frees a chain and drops its model reference. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_sampler_free(llamac_sampler *sampler);

/* The chain adders below each validate their parameters (the message names the bad one) and return
 * LLAMAC_E_INVALID_ARGUMENT without changing the chain when one is out of range. Adding after a selecting sampler
 * is an error. All: one thread per handle. */

/* Picks the most likely token. */
LLAMAC_API llamac_status llamac_sampler_add_greedy(llamac_sampler *s);
/* Samples from the distribution with a seeded generator (seed UINT32_MAX: a random seed). */
LLAMAC_API llamac_status llamac_sampler_add_dist(llamac_sampler *s, uint32_t seed);
/* Keeps the k most likely tokens; k <= 0 keeps all. */
LLAMAC_API llamac_status llamac_sampler_add_top_k(llamac_sampler *s, int32_t k);
/* Nucleus: keeps the smallest set whose probability reaches p, 0 < p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_top_p(llamac_sampler *s, float p, size_t min_keep);
/* Keeps tokens with probability >= p * the top probability, 0 <= p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_min_p(llamac_sampler *s, float p, size_t min_keep);
/* Locally typical sampling, 0 < p <= 1. */
LLAMAC_API llamac_status llamac_sampler_add_typical(llamac_sampler *s, float p, size_t min_keep);
/* Temperature t >= 0 (0: keeps only the most likely token). */
LLAMAC_API llamac_status llamac_sampler_add_temp(llamac_sampler *s, float t);
/* Dynamic temperature in [t - delta, t + delta] by entropy, exponent > 0. */
LLAMAC_API llamac_status llamac_sampler_add_temp_ext(llamac_sampler *s, float t, float delta, float exponent);
/* Exclude Top Choices: with probability p, drops the tokens above threshold t except the least likely of them. */
LLAMAC_API llamac_status llamac_sampler_add_xtc(llamac_sampler *s, float p, float t, size_t min_keep, uint32_t seed);
/* Keeps tokens within n standard deviations of the top logit, n > 0. */
LLAMAC_API llamac_status llamac_sampler_add_top_n_sigma(llamac_sampler *s, float n);
/* Mirostat 1.0 (selecting). tau > 0 target surprise, eta > 0 learning rate, m > 0 tokens for the estimate. */
LLAMAC_API llamac_status llamac_sampler_add_mirostat(llamac_sampler *s, uint32_t seed, float tau, float eta, int32_t m);
/* Mirostat 2.0 (selecting). */
LLAMAC_API llamac_status llamac_sampler_add_mirostat_v2(llamac_sampler *s, uint32_t seed, float tau, float eta);
/* Repetition (repeat > 0, 1 = off), frequency and presence penalties over the last `last_n` tokens (-1: the
 * whole context, 0: off). */
LLAMAC_API llamac_status llamac_sampler_add_penalties(llamac_sampler *s, int32_t last_n, float repeat, float freq,
                                                      float present);
/* DRY repetition penalty; `breakers` (borrowed, NUL-terminated strings) end repeated sequences; NULL with
 * n_breakers 0 uses llama.cpp's defaults ("\n", ":", "\"", "*"), non-NULL with n_breakers 0 none. */
LLAMAC_API llamac_status llamac_sampler_add_dry(llamac_sampler *s, float multiplier, float base, int32_t allowed_length,
                                                int32_t last_n, const char *const *breakers, size_t n_breakers);
/* Adds `bias` to token logits; -INFINITY bans a token. Token ids are checked. */
typedef struct llamac_logit_bias {
    llamac_token token;
    float bias;
} llamac_logit_bias;
LLAMAC_API llamac_status llamac_sampler_add_logit_bias(llamac_sampler *s, const llamac_logit_bias *biases, size_t n);
/* Constrains output to a GBNF grammar (NUL-terminated, borrowed) starting at rule `root` (NULL: "root").
 * Errors: LLAMAC_E_GRAMMAR with llama.cpp's parse error. At most one grammar per chain. */
LLAMAC_API llamac_status llamac_sampler_add_grammar(llamac_sampler *s, const char *grammar, const char *root);
/* A lazy grammar: free text until a trigger (a regex over the output so far, matched from the start, or a trigger
 * token) appears; from there the grammar constrains. Patterns are checked (an invalid regex is LLAMAC_E_GRAMMAR).
 */
LLAMAC_API llamac_status llamac_sampler_add_grammar_lazy(llamac_sampler *s, const char *grammar, const char *root,
                                                         const char *const *trigger_patterns, size_t n_patterns,
                                                         const llamac_token *trigger_tokens, size_t n_tokens);
/* Adaptive-p (selecting): favours tokens near probability `target` (0..1), EMA `decay` in [0, 0.99]. */
LLAMAC_API llamac_status llamac_sampler_add_adaptive_p(llamac_sampler *s, float target, float decay, uint32_t seed);
/* Fill-in-the-middle helper sampler (use after top-k / top-p). */
LLAMAC_API llamac_status llamac_sampler_add_infill(llamac_sampler *s);

/* A reasoning budget (llama.cpp's --reasoning-budget): how many tokens a thinking model may think for. The tags and
 * texts are tokenized as llama.cpp tokenizes them (special tokens parsed, nothing added). */
typedef struct llamac_reasoning_budget {
    int32_t tokens;          /* -1 (default): unlimited; 0: the thinking ends at once; N > 0: N tokens */
    const char *message;     /* forced before the end tag when the budget is spent (e.g. "Enough thinking."); NULL or
                                "" (default): none. Borrowed */
    const char *start;       /* the template's thinking start tag, e.g. "<think>"; NULL (default): no budget */
    const char *const *ends; /* its end tags (a natural end of the thinking); the first is the one forced. Borrowed */
    size_t n_ends;
    const char *prefill; /* what the prompt already wrote of the reply (e.g. "<think>\n", where the template opens
                            the thinking block for the model), seen as if generated: a start tag in it starts the
                            count, and its tokens after the tag count. NULL (default): none. Borrowed */
} llamac_reasoning_budget;

/* Adds a reasoning budget, llama.cpp's reasoning-budget sampler: it watches the tokens for `start` (a token sequence,
 * as tokenized); from there it counts the tokens of the thinking block, and when budget->tokens have been produced
 * (and the last one completes its UTF-8 character) it forces the message and the first end tag, token by token
 * (every other logit -infinity, applied before the chain), then passes everything through until another start tag
 * opens a new block with a fresh budget. An end tag produced by the model ends the count. It applies before every
 * other sampler; while it counts, forces or waits, a lazy grammar is neither applied nor fed (the thinking cannot
 * trigger a tool call), and the end tag that closes the block is fed to it afterwards. llamac_sampler_reset returns
 * it to where `prefill` left it. budget->tokens -1 keeps only that effect on a lazy grammar (llama.cpp adds it then).
 * Everything *budget points to is borrowed for the call. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, tokens < -1, an
 * empty start or end tag, n_ends 0, a second budget; the message names it), LLAMAC_E_UTF8, LLAMAC_E_NO_MEMORY. One
 * thread per handle. */
LLAMAC_API llamac_status llamac_sampler_add_reasoning_budget(llamac_sampler *s, const llamac_reasoning_budget *budget);

/* Where a reasoning budget stands (llama.cpp's states). */
typedef enum llamac_budget_state {
    LLAMAC_BUDGET_NONE = -1,    /* the chain has no reasoning budget */
    LLAMAC_BUDGET_IDLE = 0,     /* waiting for the start tag */
    LLAMAC_BUDGET_COUNTING = 1, /* inside the thinking block, counting */
    LLAMAC_BUDGET_FORCING = 2,  /* spent: forcing the message and the end tag */
    LLAMAC_BUDGET_WAITING = 3,  /* spent inside a UTF-8 character: waiting for its last byte */
    LLAMAC_BUDGET_DONE = 4      /* the block ended; passes through until a new start tag */
} llamac_budget_state;

/* The state of the chain's reasoning budget (LLAMAC_BUDGET_NONE for NULL or a chain without one). One thread per
 * handle. */
LLAMAC_API llamac_budget_state llamac_sampler_budget_state(const llamac_sampler *s);

/* Number of samplers in the chain (the grammar and a reasoning budget count as one each). One thread per handle. */
LLAMAC_API size_t llamac_sampler_count(const llamac_sampler *s);

/* Samples a token from output `i` of the last decode on `ctx` and accepts it into the chain's history.
 * A chain without a selecting sampler selects greedily. When the samplers ahead of the chain's first top-k leave the
 * logits as they are (logit biases, neutral penalties), its k best are taken straight from the logits rather than
 * from an n_vocab candidate array (same tokens, same order; 10-20x faster on a large vocabulary); and when the
 * samplers after it only ever leave the best candidate chosen (temperature 0 or greedy, behind top-p, min-p, typical
 * 1, an XTC that cannot fire, top-n-sigma), only the best is taken (same token, same random numbers drawn). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (i out of range, no decode, a context of another model). One thread per handle (sampler and
 * context). */
LLAMAC_API llamac_status llamac_sampler_sample(llamac_sampler *s, llamac_context *ctx, int32_t i, llamac_token *out);

/* Feeds a token to the chain's history (penalties, grammar state) without sampling, e.g. for prompt tokens.
 * Errors: LLAMAC_E_TOKEN_RANGE, LLAMAC_E_GRAMMAR (the grammar does not allow this token; the chain is unchanged,
 * except when the token fires a lazy grammar's trigger pattern and the grammar rejects the text replayed from the
 * trigger on: that grammar then allows nothing until llamac_sampler_reset). One thread per handle. */
LLAMAC_API llamac_status llamac_sampler_accept(llamac_sampler *s, llamac_token token);

/* Resets history, grammar state and a reasoning budget (to where its prefill left it). One thread per handle. */
LLAMAC_API void llamac_sampler_reset(llamac_sampler *s);

/* The samplers whose order a chain built from llamac_sampling_params can choose (llamac_sampling_params.samplers;
 * llama.cpp's --samplers and --sampler-seq). Each is configured by its fields of llamac_sampling_params; the
 * comment gives its name and its letter. */
typedef enum llamac_sampler_type {
    LLAMAC_SAMPLER_PENALTIES = 1,   /* "penalties", 'e': repetition, frequency and presence penalties */
    LLAMAC_SAMPLER_DRY = 2,         /* "dry", 'd' (added only when dry_multiplier is not 0) */
    LLAMAC_SAMPLER_TOP_N_SIGMA = 3, /* "top_n_sigma", 's' (added only when top_n_sigma > 0) */
    LLAMAC_SAMPLER_TOP_K = 4,       /* "top_k", 'k' */
    LLAMAC_SAMPLER_TYPICAL_P = 5,   /* "typ_p", 'y' */
    LLAMAC_SAMPLER_TOP_P = 6,       /* "top_p", 'p' */
    LLAMAC_SAMPLER_MIN_P = 7,       /* "min_p", 'm' */
    LLAMAC_SAMPLER_XTC = 8,         /* "xtc", 'x' */
    LLAMAC_SAMPLER_TEMPERATURE = 9, /* "temperature", 't' (with the dynamic temperature settings) */
    LLAMAC_SAMPLER_INFILL = 10,     /* "infill", 'i': llamac_sampler_add_infill */
    LLAMAC_SAMPLER_ADAPTIVE_P = 11  /* "adaptive_p", 'a': accepted, no effect. llama.cpp makes the chain end in
                                       adaptive-p rather than dist; with llama.cpp's default target (-1, the only one
                                       llamac has) adaptive-p samples exactly as dist does */
} llamac_sampler_type;

/* The type named `name` (NUL-terminated, borrowed), as llama.cpp reads --samplers: the names above, any case, also
 * with '-' for '_' ("top-k") or without it ("topk"), and "nucleus" (top_p), "temp" (temperature), "typ" (typ_p).
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULL, or an unknown name; the message names it and lists the known ones; llama.cpp
 * only warns and leaves it out). Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_type_from_name(const char *name, llamac_sampler_type *out);

/* The type of letter `c` (--sampler-seq: "edskypmxt" is the default order). Errors: LLAMAC_E_INVALID_ARGUMENT (an
 * unknown letter; the message names it and lists the known ones). Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_type_from_char(char c, llamac_sampler_type *out);

/* The canonical name of `type` ("top_k"), a static string; NULL for a value that is not a llamac_sampler_type.
 * Thread-safe. */
LLAMAC_API const char *llamac_sampler_type_name(llamac_sampler_type type);

/* Everyday sampling settings, mapped onto a chain in llama.cpp's default order (logit biases, penalties, DRY,
 * top-n-sigma, top-k, typical, top-p, min-p, XTC, temperature, then dist; or temperature + mirostat) or in the order
 * `samplers` chooses, with an optional grammar, lazy or not. temp <= 0 is greedy. llamac_generate, chat sessions and
 * the engine all build their chain from these with llamac_sampler_from_params, so each setting means the same
 * everywhere. */
typedef struct llamac_sampling_params {
    uint32_t seed;                    /* UINT32_MAX: random */
    float temp;                       /* default 0.8 */
    float dynatemp_range;             /* default 0 (off) */
    float dynatemp_exponent;          /* default 1 */
    int32_t top_k;                    /* default 40; <= 0 off */
    float top_p;                      /* default 0.95; 1 off */
    float min_p;                      /* default 0.05; 0 off */
    float typical_p;                  /* default 1 (off) */
    float xtc_probability;            /* default 0 (off) */
    float xtc_threshold;              /* default 0.1 */
    float top_n_sigma;                /* default -1 (off) */
    int32_t penalty_last_n;           /* default 64 */
    float penalty_repeat;             /* default 1 (off) */
    float penalty_freq;               /* default 0 */
    float penalty_present;            /* default 0 */
    float dry_multiplier;             /* default 0 (off) */
    float dry_base;                   /* default 1.75 */
    int32_t dry_allowed_length;       /* default 2 */
    int32_t dry_last_n;               /* default 64; -1: the whole context */
    int32_t mirostat;                 /* 0 off (default), 1 or 2 */
    float mirostat_tau;               /* default 5 */
    float mirostat_eta;               /* default 0.1 */
    const char *grammar;              /* GBNF (rule "root"), borrowed, NULL for none */
    bool grammar_lazy;                /* the grammar applies only from a trigger on (default false) */
    const char *const *trigger_words; /* borrowed literal words: the grammar starts where one appears */
    size_t n_trigger_words;
    const char *const *trigger_patterns; /* borrowed regexes matched against the whole output from its start; the
                                            grammar starts at the first capture group (as
                                            llamac_sampler_add_grammar_lazy) */
    size_t n_trigger_patterns;
    const llamac_token *trigger_tokens; /* borrowed tokens that start the grammar */
    size_t n_trigger_tokens;
    const llamac_logit_bias *logit_bias; /* borrowed */
    size_t n_logit_bias;
    bool ignore_eos; /* end-of-generation tokens get logit bias -inf, so they are never sampled and the text runs
                        to another limit (llama.cpp's --ignore-eos; default false) */
    llamac_reasoning_budget reasoning_budget; /* added (llamac_sampler_add_reasoning_budget) when it has a start tag
                                                 and end tags and its tokens are >= 0 or the grammar is lazy, as
                                                 llama.cpp adds it; llamac_template_reasoning_budget fills the tags
                                                 from a chat template (default: tokens -1, no tags) */
    const llamac_sampler_type *samplers;      /* the order of the samplers between the logit biases and the selecting
                                                 one (dist), each as often as it appears; borrowed. Default: llama.cpp's
                                                 order, as above (a static array), as is NULL; non-NULL with n_samplers
                                                 0: none, dist alone. Mirostat ignores it (as llama.cpp does) */
    size_t n_samplers;
    const char *const *dry_sequence_breakers; /* borrowed, each non-empty UTF-8; default: llama.cpp's ("\n", ":",
                                                 "\"", "*"; a static array), as is NULL; non-NULL with
                                                 n_dry_sequence_breakers 0: none */
    size_t n_dry_sequence_breakers;
} llamac_sampling_params;

/* llama.cpp's defaults, as listed above. Thread-safe. */
LLAMAC_API llamac_sampling_params llamac_sampling_params_default(void);

/* Builds a chain from `params` (NULL: defaults); everything it points to is borrowed for the call. *out is caller
 * frees with llamac_sampler_free. Errors: as the adders; LLAMAC_E_INVALID_ARGUMENT also for a count whose array is
 * NULL, triggers without grammar_lazy, grammar_lazy without a grammar, a NULL or empty trigger word, a NULL trigger
 * pattern, a samplers[i] that is not a llamac_sampler_type, a NULL, empty or non-UTF-8 DRY sequence breaker (the
 * message names it); LLAMAC_E_GRAMMAR for a grammar or trigger pattern that does not parse.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_sampler_from_params(llamac_model *model, const llamac_sampling_params *params,
                                                    llamac_sampler **out);

/* ---------------------------------------------------------------------------------------------------------------
 * Generation
 * ------------------------------------------------------------------------------------------------------------- */

/* Receives generated text: `len` bytes of whole UTF-8 characters (never half of one, never any part of a stop
 * string), borrowed for the call. Runs on the thread that called llamac_generate. Return false to stop. May call
 * llamac functions on other handles and llamac_ctx_cancel. */
typedef bool (*llamac_text_fn)(const char *text, size_t len, void *user_data);

typedef enum llamac_finish_reason {
    LLAMAC_FINISH_NONE = 0,        /* the call failed */
    LLAMAC_FINISH_EOG = 1,         /* the model produced an end-of-generation token */
    LLAMAC_FINISH_LENGTH = 2,      /* max_tokens reached */
    LLAMAC_FINISH_STOP = 3,        /* a stop string appeared */
    LLAMAC_FINISH_CALLBACK = 4,    /* the text callback returned false */
    LLAMAC_FINISH_CANCELLED = 5,   /* llamac_ctx_cancel() */
    LLAMAC_FINISH_CONTEXT_FULL = 6 /* the context filled up */
} llamac_finish_reason;

/* Name of a finish reason ("eog", "length", "stop", ...). Thread-safe. */
LLAMAC_API const char *llamac_finish_reason_str(llamac_finish_reason reason);

/* ---------------------------------------------------------------------------------------------------------------
 * Speculative decoding
 *
 * A draft source proposes up to n_max tokens to follow the text so far; the target model evaluates the last token
 * and the whole draft in ONE batch (one read of its weights for several tokens) and then samples each position in
 * turn with the usual chain: while its own sample equals the drafted token, that token is accepted and its KV entry
 * kept; at the first difference the target's sample is taken instead and the KV entries of the rejected drafts are
 * removed. Every token is therefore the target's own sample, drawn with the same chain state and the same random
 * numbers as without speculation: greedy output is byte-identical, sampled output follows the same distribution
 * (with a fixed seed, the same text), and grammars, stop strings, penalties and limits apply unchanged.
 *
 * Two sources, usable together (the n-gram lookup is tried first; the draft model when it finds nothing):
 * - a draft model: a smaller model sharing the target's vocabulary (llamac_model_check_draft), decoded in a context
 *   of its own, proposing its greedy continuation while its top token's probability stays at least p_min. A draft
 *   model that misses four times in a row (no token as probable as p_min, or a draft rejected from its first token)
 *   backs off: it skips the next 1, 2, 4, ... up to 32 chances to draft after each further miss, and drafts at every
 *   chance again once a draft of it is accepted, so a draft that is rarely right costs little;
 * - n-gram lookup over the prompt and the output (prompt-lookup decoding): the tokens that followed the latest
 *   earlier occurrence of the last ngram_max..ngram_min tokens. It needs no second model and pays off when the
 *   output copies the input (editing code, summarising, extraction).
 * ------------------------------------------------------------------------------------------------------------- */

#define LLAMAC_SPEC_MAX_DRAFT 64 /* most tokens one draft may hold */

typedef struct llamac_spec_params {
    llamac_context *draft; /* a context of the draft model (borrowed; another context than the target's); its
                              sequence 0 is cleared and used. NULL: no draft model */
    bool ngram;            /* n-gram lookup over the prompt and the output (default false) */
    int32_t n_max;         /* most tokens per draft, 1..LLAMAC_SPEC_MAX_DRAFT (default 16; llama.cpp's
                              --spec-draft-n-max) */
    int32_t n_min;         /* a shorter draft is not verified, 0..n_max (default 0; --spec-draft-n-min) */
    float p_min;           /* the draft model stops drafting when its most likely token is less probable than this,
                              0..1 (default 0.75; --spec-draft-p-min) */
    int32_t ngram_max;     /* longest n-gram looked up, ngram_min..16 (default 3) */
    int32_t ngram_min;     /* shortest n-gram looked up, 1..ngram_max (default 2) */
} llamac_spec_params;

/* Speculation off (no draft model, no n-gram lookup), the other fields at their defaults. Thread-safe. */
LLAMAC_API llamac_spec_params llamac_spec_params_default(void);

/* Checks that `draft` can draft for `target` as llama.cpp checks it: the same vocabulary type, the same BOS and EOS
 * tokens and whether they are added, at most 128 tokens difference in size, and the same text for every token id
 * from 5 up to the smaller size. Both borrowed. Errors: LLAMAC_E_INVALID_ARGUMENT (a NULL, or the first difference
 * found, named in the message with both sides' values). Thread-safe. */
LLAMAC_API llamac_status llamac_model_check_draft(const llamac_model *target, const llamac_model *draft);

typedef struct llamac_generate_params {
    int32_t max_tokens;      /* -1: until the context is full (default 256) */
    const char *const *stop; /* borrowed stop strings (NUL-terminated, non-empty) */
    size_t n_stop;
    llamac_sampling_params sampling; /* the chain to build (llamac_sampler_from_params) when `sampler` is NULL;
                                        sampling.ignore_eos bans end-of-generation tokens */
    llamac_sampler *sampler;         /* borrowed chain to use instead; reset before use. An end-of-generation token
                                        it samples ends the text (add a logit bias of -INFINITY to ban them) */
    unsigned tokenize_flags;         /* for a text prompt; default LLAMAC_TOKENIZE_ADD_SPECIAL */
    llamac_seq_id seq;               /* the sequence to use (default 0); it is cleared first */
    llamac_text_fn on_text;          /* NULL: text is not delivered (counts only) */
    void *user_data;
    llamac_spec_params spec; /* speculative decoding (default off: llamac_spec_params_default()) */
} llamac_generate_params;

/* Defaults as listed above. Thread-safe. */
LLAMAC_API llamac_generate_params llamac_generate_params_default(void);

typedef struct llamac_generate_result {
    llamac_finish_reason finish_reason;
    int32_t n_prompt_tokens;
    int32_t n_generated_tokens;
    double load_ms;       /* the model's load time */
    double prompt_ms;     /* time to evaluate the prompt */
    double ttft_ms;       /* from the call to the first generated token */
    double generation_ms; /* from the first generated token to the end */
    double prompt_tokens_per_s;
    double tokens_per_s; /* generation speed (after the first token) */
    int32_t n_drafted;   /* speculative decoding: tokens drafted and verified (0 without speculation) */
    int32_t n_accepted;  /* drafted tokens the target accepted (n_accepted / n_drafted: the acceptance rate) */
} llamac_generate_result;

/* Generates from a text prompt (len bytes of UTF-8, borrowed; an empty prompt is allowed when the model adds a
 * BOS) into `params->on_text`. The sequence `params->seq` is cleared first. *result (may be NULL) is filled even
 * when the generation stops early. With params->spec on, drafts are verified as described under "Speculative
 * decoding"; a spec parameter out of range, a draft context that is the target's, or a draft model whose
 * vocabulary differs (llamac_model_check_draft) is LLAMAC_E_INVALID_ARGUMENT before anything is decoded; the draft
 * context is used on the calling thread. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8, LLAMAC_E_CONTEXT_FULL (the
 * prompt does not fit: the message gives both sizes), LLAMAC_E_DECODE, LLAMAC_E_GRAMMAR, and the sampler errors.
 * Stopping by a stop string, the limit, the callback or llamac_ctx_cancel() is success (see finish_reason).
 * One thread per handle (context, draft context and sampler). */
LLAMAC_API llamac_status llamac_generate(llamac_context *ctx, const char *prompt, size_t len,
                                         const llamac_generate_params *params, llamac_generate_result *result);

/* As llamac_generate, from prompt tokens (borrowed). */
LLAMAC_API llamac_status llamac_generate_tokens(llamac_context *ctx, const llamac_token *prompt, size_t n,
                                                const llamac_generate_params *params, llamac_generate_result *result);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_GENERATE_H */
