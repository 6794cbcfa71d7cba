/*
 * internal.h - what the modules of libllamac share and callers never see.
 *
 * The opaque structs are defined here so that core and engine modules can reach the llama.cpp handles they wrap.
 * Every llamac__ function follows the public conventions: it returns an llamac_status and sets the thread-local
 * error message through llamac__fail() on failure.
 */
#ifndef LLAMAC_INTERNAL_H
#define LLAMAC_INTERNAL_H

#include "llamac.h"

#include <llama.h>
#include <stdatomic.h>

#if defined(__GNUC__)
#    define LLAMAC_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#    define LLAMAC_PRINTF(a, b)
#endif

/* ---- errors (error.c) ---- */

/* Records `status` with a formatted message as this thread's last error, and returns `status`. */
llamac_status llamac__fail(llamac_status status, const char *fmt, ...) LLAMAC_PRINTF(2, 3);

/* Clears this thread's last error; returns LLAMAC_OK. */
llamac_status llamac__ok(void);

/* Allocation helpers that never return NULL silently: they set LLAMAC_E_NO_MEMORY on failure. */
void *llamac__malloc(size_t size);
void *llamac__calloc(size_t n, size_t size);
char *llamac__strndup(const char *s, size_t len);

/* ---- logging (log.c) ---- */

/* Installs llamac's hook into llama.cpp/ggml logging once. Thread-safe. */
void llamac__log_install(void);

/* The log callback llamac installs into llama.cpp (and libmtmd): assembles lines, captures, forwards to the hook. */
void llamac__llama_log(enum ggml_log_level level, const char *text, void *user_data);

/* Starts capturing llama.cpp's warnings and errors logged on this thread. */
void llamac__capture_begin(void);

/* Stops capturing and returns the captured lines (the last ones if there were many) joined with "; ", or "" when
 * nothing was captured. Owned by this thread, valid until the next capture on it. */
const char *llamac__capture_end(void);

/* Sends every complete line llama.cpp or ggml logs on this thread, whatever its level, to `fn` as well (as the
 * hook gets it) until llamac__tap_end; how a call follows llama.cpp's progress when it has no callback for it. */
typedef void (*llamac__line_fn)(llamac_log_level level, const char *line, void *user_data);
void llamac__tap_begin(llamac__line_fn fn, void *user_data);
void llamac__tap_end(void);

/* Logs a line of llamac's own through the hook. */
void llamac__log(llamac_log_level level, const char *fmt, ...) LLAMAC_PRINTF(2, 3);

/* ---- backend (backend.c) ---- */

/* Initialises llama.cpp's backends once per process (independent of the public reference count). */
void llamac__backend_ensure(void);
/* Registers the ggml RPC servers of a "HOST:PORT,..." list as devices, each checked first (rpc.c). Thread-safe. */
llamac_status llamac__rpc_add_servers(const char *list);
/* The names of the devices, comma-separated, into buf (truncated to cap). */
void llamac__device_names(char *buf, size_t cap);
/* The buffer type of a registered device named `name` ("CPU", "CUDA0", ...), as llama.cpp's -ot names them; sets
 * LLAMAC_E_NOT_FOUND listing the names there are. */
llamac_status llamac__buffer_type(const char *name, ggml_backend_buffer_type_t *out);
/* The devices of a "NAME,NAME" list into out (at most cap; *n_out of them); an unknown name is LLAMAC_E_NOT_FOUND
 * with the known ones listed. */
llamac_status llamac__parse_devices(const char *names, ggml_backend_dev_t *out, size_t cap, size_t *n_out);

#include "guard.h"

/* ---- objects ---- */

struct llamac_model {
    struct llama_model *lm;
    const struct llama_vocab *vocab;
    atomic_int refs;
    llamac_model_info info;
    char *architecture;
    char *description;
    char *file_type;
    char *path;           /* the file it was loaded from (a split model's first shard), for the GGUF readers */
    uint64_t fingerprint; /* identifies the model for saved states */
    bool cpu_only;        /* loaded with n_gpu_layers 0: everything lives in host memory */
};

/* A load's progress on its way to the caller's callback, remembering whether the caller asked to cancel (llama.cpp's
 * and libmtmd's loads then fail without saying why). llamac__progress_relay takes a struct llamac__progress. */
struct llamac__progress {
    llamac_progress_fn fn;
    void *user_data;
    bool cancelled;
};
bool llamac__progress_relay(float progress, void *user_data);

/* Takes / drops a reference. Dropping the last frees the model. */
void llamac__model_ref(llamac_model *model);
void llamac__model_unref(llamac_model *model);

/* Checks KV overrides as model loading and quantization both take them: an array when n > 0, keys of 1 to 127
 * bytes, a known type, strings of 0 to 127 bytes. Sets LLAMAC_E_INVALID_ARGUMENT naming the first bad one. */
llamac_status llamac__kv_overrides_check(const llamac_kv_override *overrides, size_t n);

/* The RoPE parameters that take every value from the model (llamac_ctx_params_default's and the engine's), and
 * their check (LLAMAC_E_INVALID_ARGUMENT naming the field). */
llamac_rope_params llamac__rope_params_default(void);
llamac_status llamac__rope_params_check(const llamac_rope_params *r);

/* True when `token` is a valid id of the model's vocabulary. */
bool llamac__token_valid(const llamac_model *model, llamac_token token);

/* Checks every id in `tokens`; sets LLAMAC_E_TOKEN_RANGE naming the first bad one. */
llamac_status llamac__tokens_check(const llamac_model *model, const llamac_token *tokens, size_t n);

/* The candidates the sampling chain left at the sampler's last llamac_sampler_sample, in `cur` (valid until the next
 * sample): the distribution the token was drawn from, their logits as the chain left them (scaled by the
 * temperature; filtered out ones gone). 0 before the first sample. */
size_t llamac__sampler_candidates(const llamac_sampler *s, const llama_token_data **data);

/* Length of the longest common prefix of two token sequences: how much of a KV cache holding one can serve the
 * other (chat sessions, incremental prefill, the engine's prompt cache, the stable part of a partial message). */
size_t llamac__common_prefix(const llamac_token *a, size_t na, const llamac_token *b, size_t nb);

struct llamac_context {
    struct llama_context *lc;
    llamac_model *model;
    llamac_ctx_info info;
    char attn_rot_why[128];
    int32_t n_outputs;  /* outputs of the last decode; -1 before any decode */
    atomic_bool cancel; /* set by llamac_ctx_cancel, consumed by the running call */
    llamac_abort_fn user_abort;
    void *user_abort_data;
    struct llama_batch scratch; /* one reusable batch of n_batch tokens for llamac_ctx_decode */
    /* What src/adapter applied to this context (LoRA adapters with their scales, a control vector). Core does not
     * know adapters: it only hands `applied` to `applied_release` when the context is freed. NULL: none applied. */
    struct llamac__applied *applied;
    void (*applied_release)(struct llamac__applied *applied);
};

/* Returns and clears the cancel request. */
bool llamac__ctx_take_cancel(llamac_context *ctx);

/* Decodes a llama_batch after all checks; maps llama.cpp's return codes onto statuses and records n_outputs. */
llamac_status llamac__ctx_decode_raw(llamac_context *ctx, struct llama_batch batch, int32_t n_outputs);

/* Which outputs a decode keeps: none, the last token's, or every token's (output i is tokens[i]; n at most n_batch). */
enum llamac__logits { LLAMAC__LOGITS_NONE, LLAMAC__LOGITS_LAST, LLAMAC__LOGITS_ALL };

/* Decodes `n` tokens (n > 0, seq checked) into `seq` at positions start, start + 1, ... in n_batch pieces, after
 * checking the token ids and that they fit, keeping the outputs `logits` names. */
llamac_status llamac__ctx_decode_at(llamac_context *ctx, llamac_seq_id seq, const llamac_token *tokens, size_t n,
                                    llama_pos start, enum llamac__logits logits);

/* Checks a sequence id against the context. */
llamac_status llamac__seq_check(const llamac_context *ctx, llamac_seq_id seq, bool allow_all);

/* Checks a logits/embeddings output index; *out is the form llama.cpp takes (negative, from the end). */
llamac_status llamac__output_index(const llamac_context *ctx, int32_t i, int32_t *out);

struct llamac_sampler {
    struct llama_sampler *chain;
    struct llama_sampler *grammar; /* separate from the chain and applied before it; owned here */
    bool grammar_spent;            /* llama.cpp threw while accepting a token: the grammar has no state left, and
                                      using it before a reset would abort */
    llamac_model *model;
    bool has_selector;     /* the chain ends in a sampler that picks a token */
    size_t count;          /* samplers added, the grammar included */
    llama_token_data *cur; /* n_vocab candidates, reused by every sample */
    size_t n_last;         /* candidates left in `cur` by the chain at the last sample (llamac__sampler_candidates) */
    /* Top-k from the logits (sampler.c): where the chain stands, the k, and the chain index after the top-k. */
    int fast_state;
    int32_t fast_k;
    int32_t fast_after;
    int fast_greedy; /* what the samplers after the top-k make of it: open, greedy (the best survives alone), no */
    /* The logit biases ahead of that top-k, in the order added; their tokens sorted and unique, the entry's index
     * among them, the biased value of each, and a bitmap of the biased tokens. */
    llama_logit_bias *fast_bias;
    size_t n_fast_bias;
    llama_token *fast_bias_tok;
    size_t n_fast_bias_tok;
    size_t *fast_bias_slot;
    float *fast_bias_val;
    uint8_t *fast_biased;
    bool grammar_lazy;             /* the grammar waits for a trigger */
    struct llamac__budget *budget; /* the reasoning budget, applied before the chain and the grammar; or NULL */
};

/* ---- the reasoning budget (core/sampler_budget.c) ---- */

/* Frees a budget (NULL: no-op). */
void llamac__budget_free(struct llamac__budget *b);
/* Back to the state its prefill left it in. */
void llamac__budget_reset(struct llamac__budget *b);
/* Its state, a llamac_budget_state. */
llamac_budget_state llamac__budget_state(const struct llamac__budget *b);
/* The token it forces now, or -1 when it forces none. */
llama_token llamac__budget_forced(const struct llamac__budget *b);
/* Feeds a token the chain selected (or a prefill token). Returns the end tag that has just closed the block (its
 * tokens, *n of them) when this token closed it, else NULL. */
const llama_token *llamac__budget_accept(struct llamac__budget *b, llama_token token, size_t *n);

/* ---- sampling parameters (core/sampler_params.c) ---- */

/* Checks what llamac_sampler_from_params cannot check by building: every count with its array, triggers only with
 * grammar_lazy, grammar_lazy only with a grammar, no NULL or empty trigger word, no NULL trigger pattern. `prefix`
 * goes before the field names in messages ("" or "sampling."). Errors: LLAMAC_E_INVALID_ARGUMENT. */
llamac_status llamac__sampling_check(const llamac_sampling_params *p, const char *prefix);

/* Checks *src (as llamac__sampling_check) and copies it into *dst with everything it points to (grammar, biases,
 * triggers) in one allocation, *block, which the caller frees with free() and must keep while *dst is used.
 * Errors: as the check, LLAMAC_E_NO_MEMORY. */
llamac_status llamac__sampling_copy(const llamac_sampling_params *src, const char *prefix, llamac_sampling_params *dst,
                                    void **block);

/* ---- the top-k shortcut of sampler chains (core/sampler_topk.c) ---- */

#define LLAMAC__TOPK_BREAKS (-1) /* a sampler that changes the candidates in a way the shortcut cannot follow */
#define LLAMAC__TOPK_NEUTRAL 0   /* a sampler that leaves the candidates as they are */
/* After the top-k these tell whether the chain only ever picks the best candidate, so that a top-k of one does: */
#define LLAMAC__TOPK_KEEPS_BEST (-2) /* changes the candidates, keeps the best, draws no count-dependent randomness */
#define LLAMAC__TOPK_TAKES_BEST (-3) /* leaves the best candidate alone (the others at -inf, or it is selected) */
#define LLAMAC__TOPK_DRAWS (-4)      /* draws from the candidates: one random number, whatever their count */

/* Records the sampler just added as the chain's n_chain-th: `what` is one of the LLAMAC__TOPK_ codes above (all
 * but NEUTRAL break the shortcut when they come before the top-k), or k > 0 for a top-k sampler. */
void llamac__topk_note(llamac_sampler *s, int32_t what, int32_t n_chain);
/* Records logit biases about to be added to the chain (copied). LLAMAC_E_NO_MEMORY on failure. */
llamac_status llamac__topk_note_bias(llamac_sampler *s, const llama_logit_bias *b, size_t n);
/* When the chain begins with neutral samplers and biases followed by a top-k, fills *arr with the k best
 * candidates of `logits` and applies the rest of the chain to it, returning true; false otherwise (nothing done). */
bool llamac__topk_apply(llamac_sampler *s, const float *logits, size_t n_vocab, llama_token_data_array *arr);
void llamac__topk_free(llamac_sampler *s);

/* Monotonic time in milliseconds. */
double llamac__now_ms(void);

#endif /* LLAMAC_INTERNAL_H */
