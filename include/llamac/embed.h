/*
 * llamac/embed.h - embeddings and reranking over a context, and the vector arithmetic that goes with them.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_EMBED_H
#define LLAMAC_EMBED_H

#include "context.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Embeddings and reranking
 * ------------------------------------------------------------------------------------------------------------- */

/* Normalisation of embedding vectors, with the meanings of llama.cpp's --embd-normalize: any value p > 2 is the
 * p-norm. */
enum {
    LLAMAC_EMBD_NORM_NONE = -1,
    LLAMAC_EMBD_NORM_MAXABS = 0, /* scaled so the largest component is 32760 (the int16 range) */
    LLAMAC_EMBD_NORM_L1 = 1,
    LLAMAC_EMBD_NORM_L2 = 2 /* unit length (the default) */
};

typedef struct llamac_embed_params {
    int32_t normalize;           /* LLAMAC_EMBD_NORM_*, or p > 2 for the p-norm (default L2) */
    bool truncate;               /* cut a text longer than fits (keeping its final SEP/EOS); default false: an error */
    unsigned tokenize_flags;     /* default LLAMAC_TOKENIZE_ADD_SPECIAL */
    llamac_progress_fn progress; /* called after each batch with the fraction of texts done; false cancels */
    void *progress_user_data;
} llamac_embed_params;

/* The defaults above. Thread-safe. */
LLAMAC_API llamac_embed_params llamac_embed_params_default(void);

/* Embeds `n_texts` texts (texts[i] is lens[i] bytes of UTF-8, or NUL-terminated when `lens` is NULL; all borrowed)
 * with a context created with embeddings = true and a pooling other than none. Texts are packed by sequence, up to
 * n_seq_max texts and min(n_batch, n_ubatch) tokens per decode (a text never spans two decodes). With a unified KV
 * cache (kv_unified), or an encoder model, in which every token of a decode attends over the whole decode's cells,
 * a decode takes at most 256 tokens (or its first text, rounded up to 256): the cells llama.cpp attends over anyway.
 * Without one, each sequence has its own KV stream and llama.cpp splits a batch into equal tokens per sequence, so a
 * decode takes only texts of the same token count (texts go in order of length; rows stay in input order). With
 * flash attention on, the CPU kernels round differently for different batch shapes (about 2e-4 on unit vectors);
 * with it off, packing changes no component by more than about 2e-5. *out receives n_texts rows of *n_embd floats
 * (caller frees with llamac_free); for rank pooling a row holds the classifier outputs. The context's KV cache is
 * cleared. Errors: LLAMAC_E_INVALID_ARGUMENT
 * (NULLs, no texts, an empty text — the message gives its index — or pooling none: use llamac_embed_tokens),
 * LLAMAC_E_UNSUPPORTED (a context without embeddings), LLAMAC_E_UTF8, LLAMAC_E_CONTEXT_FULL (a text longer than one
 * decode can hold and truncate is off: index and sizes in the message), LLAMAC_E_CANCELLED, LLAMAC_E_DECODE. One thread
 * per handle. */
LLAMAC_API llamac_status llamac_embed(llamac_context *ctx, const char *const *texts, const size_t *lens, size_t n_texts,
                                      const llamac_embed_params *params, float **out, size_t *n_embd);

/* Per-token embeddings of one text, with a context created with embeddings = true and pooling none. *out receives
 * *n_tokens rows of *n_embd floats (caller frees with llamac_free). Errors: as llamac_embed. One thread per
 * handle. */
LLAMAC_API llamac_status llamac_embed_tokens(llamac_context *ctx, const char *text, size_t len,
                                             const llamac_embed_params *params, float **out, size_t *n_tokens,
                                             size_t *n_embd);

/* Normalises `n` floats of `in` into `out` (may be the same array) as `normalize` says. Returns false for an
 * invalid mode (< -1). Thread-safe. */
LLAMAC_API bool llamac_embd_normalize(const float *in, float *out, size_t n, int32_t normalize);

/* Cosine similarity of two vectors of `n` floats (borrowed); 0 when either is all zeros. Thread-safe. */
LLAMAC_API float llamac_embd_cosine(const float *a, const float *b, size_t n);

/* The n_vectors x n_vectors cosine-similarity matrix of row-major `vectors` (n_vectors rows of `dim` floats) into
 * `out` (n_vectors * n_vectors floats, caller-allocated). Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_embd_similarity_matrix(const float *vectors, size_t n_vectors, size_t dim, float *out);

/* The `k` rows of `set` (n_set rows of `dim` floats) most similar (cosine) to `query`, best first: their indices in
 * idx[0..k) and similarities in sim[0..k) (both caller-allocated with room for min(k, n_set) entries; sim may be
 * NULL). Returns the number written in *n_out. Errors: LLAMAC_E_INVALID_ARGUMENT. Thread-safe. */
LLAMAC_API llamac_status llamac_embd_top_k(const float *query, const float *set, size_t n_set, size_t dim, size_t k,
                                           size_t *idx, float *sim, size_t *n_out);

/* One reranked document. */
typedef struct llamac_rerank_result {
    size_t index; /* position of the document in the input */
    float score;  /* the classifier's raw score (higher is more relevant) */
} llamac_rerank_result;

/* Scores each of `n_docs` documents (NUL-terminated, borrowed) against `query` with a reranker (a context with
 * embeddings = true and rank pooling). The pair is formatted as llama.cpp does: the model's "rerank" chat template
 * ({query}, {document}) when it has one, else query, EOS, SEP, document. *scores receives n_docs scores in input
 * order; *sorted (may be NULL) the min(top_n, n_docs) best, highest first (top_n 0: all). Both caller frees with
 * llamac_free. Errors: as llamac_embed, plus LLAMAC_E_UNSUPPORTED (the context does not use rank pooling). One
 * thread per handle. */
LLAMAC_API llamac_status llamac_rerank(llamac_context *ctx, const char *query, const char *const *docs, size_t n_docs,
                                       size_t top_n, float **scores, llamac_rerank_result **sorted, size_t *n_sorted);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_EMBED_H */
