/*
 * embed.c - embeddings of many texts in few decodes, per-token embeddings, similarity helpers, and reranking.
 *
 * Texts are tokenized first, then packed greedily into decodes: each text becomes one sequence at positions 0..n-1,
 * and a decode takes sequences while they fit in min(n_batch, n_ubatch) tokens and n_seq_max sequences. A sequence
 * never spans two decodes or two micro-batches, because pooling (and a non-causal encoder's attention) must see all
 * of a text at once; sequences are independent, so the packing does not change any vector. Normalisation follows
 * llama.cpp's --embd-normalize exactly (double accumulation, then one float scale).
 */
#include "core/internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

llamac_embed_params llamac_embed_params_default(void) {
    llamac_embed_params p;
    memset(&p, 0, sizeof p);
    p.normalize = LLAMAC_EMBD_NORM_L2;
    p.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL;
    return p;
}

bool llamac_embd_normalize(const float *in, float *out, size_t n, int32_t normalize) {
    if (normalize < -1 || (!in && n > 0) || (!out && n > 0)) {
        return false;
    }
    double sum = 0.0;
    if (normalize == LLAMAC_EMBD_NORM_NONE) {
        sum = 1.0;
    } else if (normalize == LLAMAC_EMBD_NORM_MAXABS) {
        for (size_t i = 0; i < n; i++) {
            double a = fabs((double)in[i]);
            sum = a > sum ? a : sum;
        }
        sum /= 32760.0;
    } else if (normalize == LLAMAC_EMBD_NORM_L2) {
        for (size_t i = 0; i < n; i++) {
            sum += (double)(in[i] * in[i]);
        }
        sum = sqrt(sum);
    } else {
        for (size_t i = 0; i < n; i++) {
            sum += pow(fabs((double)in[i]), (double)normalize);
        }
        sum = pow(sum, 1.0 / (double)normalize);
    }
    const float scale = sum > 0.0 ? (float)(1.0 / sum) : 0.0f;
    for (size_t i = 0; i < n; i++) {
        out[i] = in[i] * scale;
    }
    return true;
}

float llamac_embd_cosine(const float *a, const float *b, size_t n) {
    if (!a || !b) {
        return 0.0f;
    }
    double ab = 0.0, aa = 0.0, bb = 0.0;
    for (size_t i = 0; i < n; i++) {
        ab += (double)(a[i] * b[i]);
        aa += (double)(a[i] * a[i]);
        bb += (double)(b[i] * b[i]);
    }
    if (aa == 0.0 || bb == 0.0) {
        return 0.0f;
    }
    return (float)(ab / (sqrt(aa) * sqrt(bb)));
}

llamac_status llamac_embd_similarity_matrix(const float *vectors, size_t n_vectors, size_t dim, float *out) {
    if (!vectors || !out || n_vectors == 0 || dim == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_embd_similarity_matrix: NULL argument or empty set");
    }
    for (size_t i = 0; i < n_vectors; i++) {
        for (size_t j = i; j < n_vectors; j++) {
            float c = llamac_embd_cosine(vectors + i * dim, vectors + j * dim, dim);
            out[i * n_vectors + j] = c;
            out[j * n_vectors + i] = c;
        }
    }
    return llamac__ok();
}

llamac_status llamac_embd_top_k(const float *query, const float *set, size_t n_set, size_t dim, size_t k, size_t *idx,
                                float *sim, size_t *n_out) {
    if (n_out) {
        *n_out = 0;
    }
    if (!query || !set || !idx || !n_out || dim == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_embd_top_k: NULL argument or dim 0");
    }
    size_t want = k < n_set ? k : n_set;
    /* Insertion into a sorted prefix: k is small in practice and the set is scanned once. */
    float *best = llamac__malloc((want ? want : 1) * sizeof *best);
    if (!best) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t have = 0;
    for (size_t r = 0; r < n_set && want > 0; r++) {
        float c = llamac_embd_cosine(query, set + r * dim, dim);
        if (have == want && !(c > best[have - 1])) {
            continue;
        }
        size_t at = have < want ? have++ : want - 1;
        while (at > 0 && c > best[at - 1]) {
            best[at] = best[at - 1];
            idx[at] = idx[at - 1];
            at--;
        }
        best[at] = c;
        idx[at] = r;
    }
    if (sim) {
        memcpy(sim, best, have * sizeof *best);
    }
    free(best);
    *n_out = have;
    return llamac__ok();
}

/* Tokens of one text, bounded to what one decode can hold. */
struct tokenized {
    llamac_token *tokens;
    size_t n;
};

static void free_tokenized(struct tokenized *t, size_t n) {
    if (t) {
        for (size_t i = 0; i < n; i++) {
            free(t[i].tokens);
        }
        free(t);
    }
}

/* The most tokens one sequence may have: it must fit in one micro-batch and in the sequence's share of the cache. */
static size_t sequence_limit(const llamac_context *ctx) {
    size_t lim = ctx->info.n_batch < ctx->info.n_ubatch ? ctx->info.n_batch : ctx->info.n_ubatch;
    size_t per_seq = llama_n_ctx_seq(ctx->lc);
    return per_seq < lim ? per_seq : lim;
}

static llamac_status fit_tokens(const llamac_context *ctx, struct tokenized *t, size_t index, bool truncate) {
    size_t lim = sequence_limit(ctx);
    if (t->n <= lim) {
        return LLAMAC_OK;
    }
    if (!truncate) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL,
                            "text %zu is %zu tokens; one sequence holds at most %zu (min of n_batch, n_ubatch and the "
                            "context per sequence); set truncate to cut it",
                            index, t->n, lim);
    }
    llamac_token last = t->tokens[t->n - 1];
    const struct llama_vocab *v = ctx->model->vocab;
    bool keep_last = last == llama_vocab_sep(v) || last == llama_vocab_eos(v);
    if (keep_last) {
        t->tokens[lim - 1] = last;
    }
    t->n = lim;
    return LLAMAC_OK;
}

static llamac_status embd_context_check(const llamac_context *ctx, bool want_pooled) {
    if (!ctx->info.embeddings) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the context was created without embeddings (set embeddings)");
    }
    if (want_pooled && ctx->info.pooling == LLAMAC_POOLING_NONE) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "the context does not pool (pooling none gives a vector per token): use "
                            "llamac_embed_tokens, or create the context with a pooling");
    }
    if (!want_pooled && ctx->info.pooling != LLAMAC_POOLING_NONE) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "per-token embeddings need a context created with pooling none");
    }
    return LLAMAC_OK;
}

static size_t pooled_dim(const llamac_context *ctx) {
    if (ctx->info.pooling == LLAMAC_POOLING_RANK) {
        uint32_t n = llama_model_n_cls_out(ctx->model->lm);
        return n ? n : 1;
    }
    return (size_t)llama_model_n_embd_out(ctx->model->lm);
}

/* A text's place in the decoding order. */
struct order_entry {
    size_t n;     /* its token count */
    size_t index; /* its position in the input */
};

static int order_cmp(const void *pa, const void *pb) {
    const struct order_entry *a = pa, *b = pb;
    if (a->n != b->n) {
        return a->n < b->n ? -1 : 1;
    }
    return a->index < b->index ? -1 : a->index > b->index;
}

/* Tokens per packed decode where all of a batch's tokens share one attention window. llama.cpp pads the KV cells a
 * decode attends over to a multiple of 256 (at least 256), and with a unified cache every token of the batch attends
 * (masked) over all of them; an encoder attends over the whole micro-batch. So a decode of N tokens costs N x
 * max(256, N) in attention: up to 256 tokens, adding texts is free, beyond it each text makes every other one
 * dearer. With short texts on a small model that term dominates (1,000 texts of about 10 tokens on stories260K: 5.2 s
 * of CPU packed 64 texts a decode, 1.5 s packed 256 tokens a decode), and on large models a 256-token batch is
 * already long enough for the weight products. */
#define PACK_WINDOW 256

/* Decodes the tokenized texts in packed batches and writes one normalised pooled row per text.
 *
 * How texts may share a decode depends on the cache. An encoder has none: llama_encode takes the batch as one
 * micro-batch, so any texts may share it. A unified KV cache is one buffer for all sequences, so any texts may share a
 * decode too, but every token then attends (masked) over all the batch's cells, at least 256: the attention costs
 * tokens x cells. With one KV stream per sequence (kv_unified off) a token attends only over its own stream (n_ctx /
 * n_seq_max cells), much cheaper for short texts; llama.cpp then splits a batch into micro-batches holding the same
 * number of tokens of each sequence, so a decode takes only texts of one length: texts go in order of token count
 * (ties in input order), and each run of one length is packed. Sequences are independent either way: the order and
 * the packing change no vector beyond rounding. */
static llamac_status run_pooled(llamac_context *ctx, const struct tokenized *t, size_t n, int32_t normalize,
                                const llamac_embed_params *p, float *out, size_t dim) {
    size_t cap = ctx->info.n_batch < ctx->info.n_ubatch ? ctx->info.n_batch : ctx->info.n_ubatch;
    bool encoder = !llama_model_has_decoder(ctx->model->lm);
    bool by_length = !encoder && !ctx->info.kv_unified && ctx->info.n_seq_max > 1;
    size_t max_seqs = encoder || ctx->info.kv_unified || by_length ? ctx->info.n_seq_max : 1;
    struct order_entry *order = llamac__malloc(n * sizeof *order);
    if (!order) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        order[i].n = t[i].n;
        order[i].index = i;
    }
    if (by_length) {
        qsort(order, n, sizeof *order, order_cmp);
    }
    struct llama_batch b = llama_batch_init((int32_t)cap, 0, 1);
    llamac_status st = LLAMAC_OK;
    size_t done = 0;
    while (done < n && st == LLAMAC_OK) {
        size_t seqs = 0, used = 0;
        /* Where the batch shares one attention window (a unified cache, an encoder), no more tokens than that window
         * needs for the first text anyway: see PACK_WINDOW. */
        size_t limit = cap;
        if (!by_length) {
            size_t first = (order[done].n + PACK_WINDOW - 1) / PACK_WINDOW * PACK_WINDOW;
            limit = first < cap ? first : cap;
        }
        b.n_tokens = 0;
        while (done + seqs < n && seqs < max_seqs && used + order[done + seqs].n <= limit &&
               (!by_length || order[done + seqs].n == order[done].n)) {
            const struct tokenized *x = &t[order[done + seqs].index];
            for (size_t k = 0; k < x->n; k++) {
                int32_t at = b.n_tokens++;
                b.token[at] = x->tokens[k];
                b.pos[at] = (llama_pos)k;
                b.n_seq_id[at] = 1;
                b.seq_id[at][0] = (llama_seq_id)seqs;
                b.logits[at] = 1;
            }
            used += x->n;
            seqs++;
        }
        llama_memory_clear(llama_get_memory(ctx->lc), true);
        st = llamac__ctx_decode_raw(ctx, b, b.n_tokens);
        for (size_t s = 0; s < seqs && st == LLAMAC_OK; s++) {
            size_t row = order[done + s].index;
            const float *e = llama_get_embeddings_seq(ctx->lc, (llama_seq_id)s);
            if (!e) {
                st = llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp returned no pooled embedding for text %zu", row);
                break;
            }
            llamac_embd_normalize(e, out + row * dim, dim, normalize);
        }
        done += seqs;
        if (st == LLAMAC_OK && p->progress && !p->progress((float)done / (float)n, p->progress_user_data)) {
            st = llamac__fail(LLAMAC_E_CANCELLED,
                              "embedding was cancelled by the progress callback after %zu of %zu "
                              "texts",
                              done, n);
        }
    }
    llama_memory_clear(llama_get_memory(ctx->lc), true);
    ctx->n_outputs = -1;
    llama_batch_free(b);
    free(order);
    return st;
}

static llamac_status tokenize_all(llamac_context *ctx, const char *const *texts, const size_t *lens, size_t n,
                                  unsigned flags, bool truncate, struct tokenized **out) {
    struct tokenized *t = llamac__calloc(n, sizeof *t);
    if (!t) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        if (!texts[i]) {
            free_tokenized(t, n);
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "text %zu is NULL", i);
        }
        size_t len = lens ? lens[i] : strlen(texts[i]);
        if (len == 0) {
            free_tokenized(t, n);
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "text %zu is empty", i);
        }
        llamac_status st = llamac_tokenize(ctx->model, texts[i], len, flags, &t[i].tokens, &t[i].n);
        if (st == LLAMAC_OK && t[i].n == 0) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "text %zu gives no tokens", i);
        }
        if (st == LLAMAC_OK) {
            st = fit_tokens(ctx, &t[i], i, truncate);
        }
        if (st != LLAMAC_OK) {
            if (st == LLAMAC_E_UTF8) {
                char msg[900];
                snprintf(msg, sizeof msg, "%s", llamac_last_error());
                llamac__fail(st, "text %zu: %s", i, msg);
            }
            free_tokenized(t, n);
            return st;
        }
    }
    *out = t;
    return LLAMAC_OK;
}

llamac_status llamac_embed(llamac_context *ctx, const char *const *texts, const size_t *lens, size_t n_texts,
                           const llamac_embed_params *params, float **out, size_t *n_embd) {
    if (out) {
        *out = NULL;
    }
    if (n_embd) {
        *n_embd = 0;
    }
    if (!ctx || !out || !n_embd || (!texts && n_texts > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_embed: NULL argument");
    }
    if (n_texts == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no texts to embed");
    }
    llamac_embed_params defaults = llamac_embed_params_default();
    const llamac_embed_params *p = params ? params : &defaults;
    if (p->normalize < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "normalize %d is invalid (-1 none, 0 max-abs, 1 L1, 2 L2, "
                            "p > 2 p-norm)",
                            p->normalize);
    }
    llamac_status st = embd_context_check(ctx, true);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct tokenized *t = NULL;
    st = tokenize_all(ctx, texts, lens, n_texts, p->tokenize_flags, p->truncate, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t dim = pooled_dim(ctx);
    float *rows = llamac__malloc(n_texts * dim * sizeof *rows);
    if (!rows) {
        free_tokenized(t, n_texts);
        return LLAMAC_E_NO_MEMORY;
    }
    st = run_pooled(ctx, t, n_texts, p->normalize, p, rows, dim);
    free_tokenized(t, n_texts);
    if (st != LLAMAC_OK) {
        free(rows);
        return st;
    }
    *out = rows;
    *n_embd = dim;
    return llamac__ok();
}

llamac_status llamac_embed_tokens(llamac_context *ctx, const char *text, size_t len, const llamac_embed_params *params,
                                  float **out, size_t *n_tokens, size_t *n_embd) {
    if (out) {
        *out = NULL;
    }
    if (n_tokens) {
        *n_tokens = 0;
    }
    if (n_embd) {
        *n_embd = 0;
    }
    if (!ctx || !text || !out || !n_tokens || !n_embd) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_embed_tokens: NULL argument");
    }
    llamac_embed_params defaults = llamac_embed_params_default();
    const llamac_embed_params *p = params ? params : &defaults;
    if (p->normalize < -1) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "normalize %d is invalid", p->normalize);
    }
    llamac_status st = embd_context_check(ctx, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    struct tokenized *t = NULL;
    const char *const texts[1] = { text };
    st = tokenize_all(ctx, texts, &len, 1, p->tokenize_flags, p->truncate, &t);
    if (st != LLAMAC_OK) {
        return st;
    }
    size_t dim = (size_t)llama_model_n_embd_out(ctx->model->lm);
    size_t n = t[0].n;
    float *rows = llamac__malloc(n * dim * sizeof *rows);
    struct llama_batch b = llama_batch_init((int32_t)n, 0, 1);
    if (!rows) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    for (size_t k = 0; k < n; k++) {
        b.token[k] = t[0].tokens[k];
        b.pos[k] = (llama_pos)k;
        b.n_seq_id[k] = 1;
        b.seq_id[k][0] = 0;
        b.logits[k] = 1;
    }
    b.n_tokens = (int32_t)n;
    llama_memory_clear(llama_get_memory(ctx->lc), true);
    st = llamac__ctx_decode_raw(ctx, b, b.n_tokens);
    for (size_t k = 0; k < n && st == LLAMAC_OK; k++) {
        const float *e = llama_get_embeddings_ith(ctx->lc, (int32_t)k);
        if (!e) {
            st = llamac__fail(LLAMAC_E_INTERNAL, "llama.cpp returned no embedding for token %zu", k);
            break;
        }
        llamac_embd_normalize(e, rows + k * dim, dim, p->normalize);
    }
    llama_memory_clear(llama_get_memory(ctx->lc), true);
    ctx->n_outputs = -1;
done:
    llama_batch_free(b);
    free_tokenized(t, 1);
    if (st != LLAMAC_OK) {
        free(rows);
        return st;
    }
    *out = rows;
    *n_tokens = n;
    *n_embd = dim;
    return llamac__ok();
}

/* The text llama.cpp builds for a (query, document) pair. */
static char *rerank_text(const llamac_model *m, const char *query, const char *doc) {
    const char *tmpl = llama_model_chat_template(m->lm, "rerank");
    size_t q = strlen(query), d = strlen(doc);
    if (tmpl) {
        size_t cap = strlen(tmpl) + 1;
        for (const char *at = tmpl; (at = strstr(at, "{")) != NULL; at++) {
            cap += q + d; /* generous: every brace could open a placeholder */
        }
        char *out = llamac__malloc(cap);
        if (!out) {
            return NULL;
        }
        size_t w = 0;
        for (const char *at = tmpl; *at;) {
            if (strncmp(at, "{query}", 7) == 0) {
                memcpy(out + w, query, q);
                w += q;
                at += 7;
            } else if (strncmp(at, "{document}", 10) == 0) {
                memcpy(out + w, doc, d);
                w += d;
                at += 10;
            } else {
                out[w++] = *at++;
            }
        }
        out[w] = '\0';
        return out;
    }
    const struct llama_vocab *v = m->vocab;
    const char *eos = llama_vocab_get_add_eos(v) ? llama_vocab_get_text(v, llama_vocab_eos(v)) : "";
    const char *sep = llama_vocab_get_add_sep(v) ? llama_vocab_get_text(v, llama_vocab_sep(v)) : "";
    size_t cap = q + d + strlen(eos) + strlen(sep) + 1;
    char *out = llamac__malloc(cap);
    if (out) {
        snprintf(out, cap, "%s%s%s%s", query, eos, sep, doc);
    }
    return out;
}

static int by_score_desc(const void *a, const void *b) {
    const llamac_rerank_result *x = a, *y = b;
    if (x->score != y->score) {
        return x->score < y->score ? 1 : -1;
    }
    return x->index < y->index ? -1 : x->index > y->index;
}

llamac_status llamac_rerank(llamac_context *ctx, const char *query, const char *const *docs, size_t n_docs,
                            size_t top_n, float **scores, llamac_rerank_result **sorted, size_t *n_sorted) {
    if (scores) {
        *scores = NULL;
    }
    if (sorted) {
        *sorted = NULL;
    }
    if (n_sorted) {
        *n_sorted = 0;
    }
    if (!ctx || !query || !scores || (!docs && n_docs > 0) || (sorted && !n_sorted)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_rerank: NULL argument");
    }
    if (n_docs == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no documents to rerank");
    }
    if (!query[0]) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the query is empty");
    }
    llamac_status st = embd_context_check(ctx, true);
    if (st != LLAMAC_OK) {
        return st;
    }
    if (ctx->info.pooling != LLAMAC_POOLING_RANK) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "reranking needs rank pooling (a reranker model with a classification head)");
    }
    char **pairs = llamac__calloc(n_docs, sizeof *pairs);
    if (!pairs) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n_docs && st == LLAMAC_OK; i++) {
        if (!docs[i] || !docs[i][0]) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "document %zu is %s", i, docs[i] ? "empty" : "NULL");
        } else if (!(pairs[i] = rerank_text(ctx->model, query, docs[i]))) {
            st = LLAMAC_E_NO_MEMORY;
        }
    }
    float *rows = NULL;
    size_t dim = 0;
    if (st == LLAMAC_OK) {
        llamac_embed_params p = llamac_embed_params_default();
        p.normalize = LLAMAC_EMBD_NORM_NONE;
        /* The separators in the pair are special-token text, as llama.cpp formats it. */
        p.tokenize_flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
        st = llamac_embed(ctx, (const char *const *)pairs, NULL, n_docs, &p, &rows, &dim);
    }
    for (size_t i = 0; i < n_docs; i++) {
        free(pairs[i]);
    }
    free(pairs);
    if (st != LLAMAC_OK) {
        return st;
    }
    float *sc = llamac__malloc(n_docs * sizeof *sc);
    llamac_rerank_result *all = sorted ? llamac__malloc(n_docs * sizeof *all) : NULL;
    if (!sc || (sorted && !all)) {
        free(sc);
        free(all);
        free(rows);
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n_docs; i++) {
        sc[i] = rows[i * dim];
        if (all) {
            all[i].index = i;
            all[i].score = sc[i];
        }
    }
    free(rows);
    if (all) {
        qsort(all, n_docs, sizeof *all, by_score_desc);
        *sorted = all;
        *n_sorted = top_n == 0 || top_n > n_docs ? n_docs : top_n;
    }
    *scores = sc;
    return llamac__ok();
}
