/*
 * embed.c - POST /v1/embeddings and /v1/rerank on the embedding context, and the embedding of a request's texts
 * that Ollama's /api/embed shares (embed_inputs).
 *
 * Embeddings do not go through the engine: they run on their own context (created with --embedding or
 * --reranking), one request at a time under a lock, with llamac_embed packing the texts of a request into as few
 * decodes as it can. The vectors are L2-normalised, as OpenAI's are (llama-server's --embd-normalize and a request's
 * embd_normalize choose another norm, or none); encoding_format "base64" sends the
 * little-endian float32 bytes, which is what the official SDKs ask for by default.
 */
#include "request.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_INPUTS 2048

char *base64_encode(const unsigned char *data, size_t n) {
    static const char tbl[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    char *out = malloc((n + 2) / 3 * 4 + 1);
    if (!out) {
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)data[i] << 16;
        if (i + 1 < n) {
            v |= (unsigned)data[i + 1] << 8;
        }
        if (i + 2 < n) {
            v |= data[i + 2];
        }
        out[o++] = tbl[(v >> 18) & 63];
        out[o++] = tbl[(v >> 12) & 63];
        out[o++] = i + 1 < n ? tbl[(v >> 6) & 63] : '=';
        out[o++] = i + 2 < n ? tbl[v & 63] : '=';
    }
    out[o] = '\0';
    return out;
}

/* The texts of "input" (a string or an array of strings; token-id arrays are turned back into text). */
static bool input_texts(struct request *rq, json_t *body, const char *name, const char ***texts, size_t **lens,
                        char ***owned, size_t *n) {
    json_t *in = json_object_get(body, name);
    if (!in || json_is_null(in)) {
        reply_error(rq, 400, name, "missing_required_parameter", "'%s' is required", name);
        return false;
    }
    /* a list of inputs, unless it is one input given as token ids */
    bool list = json_is_array(in) && !json_is_integer(json_array_get(in, 0));
    size_t count = list ? json_array_size(in) : 1;
    if (count == 0 || count > MAX_INPUTS) {
        reply_error(rq, 400, name, "invalid_value", "'%s' must hold from 1 to %d inputs", name, MAX_INPUTS);
        return false;
    }
    *texts = calloc(count, sizeof **texts);
    *lens = calloc(count, sizeof **lens);
    *owned = calloc(count, sizeof **owned);
    if (!*texts || !*lens || !*owned) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    *n = count;
    for (size_t i = 0; i < count; i++) {
        json_t *v = list ? json_array_get(in, i) : in;
        if (json_is_string(v)) {
            if (json_string_length(v) == 0) {
                reply_error(rq, 400, name, "invalid_value", "'%s[%zu]' is empty", name, i);
                return false;
            }
            (*texts)[i] = json_string_value(v);
            (*lens)[i] = json_string_length(v);
            continue;
        }
        if (!json_is_array(v) || json_array_size(v) == 0) {
            reply_error(rq, 400, name, "invalid_type",
                        "'%s' must be a string, an array of strings, or an array of token ids", name);
            return false;
        }
        llamac_token *t = NULL;
        size_t nt = 0;
        if (!request_token_ids(rq, v, name, &t, &nt)) {
            return false;
        }
        size_t len = 0;
        llamac_status st = llamac_detokenize(rq->s->model, t, nt, 0, &(*owned)[i], &len);
        free(t);
        if (st != LLAMAC_OK) {
            reply_error(rq, 400, name, "invalid_value", "%s", llamac_last_error());
            return false;
        }
        (*texts)[i] = (*owned)[i];
        (*lens)[i] = len;
    }
    return true;
}

static void free_inputs(const char **texts, size_t *lens, char **owned, size_t n) {
    for (size_t i = 0; owned && i < n; i++) {
        llamac_free(owned[i]);
    }
    free((void *)texts);
    free(lens);
    free(owned);
}

static long long count_tokens(struct server *s, const char *const *texts, const size_t *lens, size_t n) {
    long long total = 0;
    for (size_t i = 0; i < n; i++) {
        llamac_token *t = NULL;
        size_t nt = 0;
        if (llamac_tokenize(s->model, texts[i], lens[i], LLAMAC_TOKENIZE_ADD_SPECIAL, &t, &nt) == LLAMAC_OK) {
            total += (long long)nt;
        }
        llamac_free(t);
    }
    return total;
}

static void embed_error(struct request *rq, const char *param, llamac_status st) {
    unsigned status = st == LLAMAC_E_NO_MEMORY || st == LLAMAC_E_DECODE || st == LLAMAC_E_INTERNAL ? 500 : 400;
    reply_error(rq, status, param, st == LLAMAC_E_CONTEXT_FULL ? "context_length_exceeded" : "invalid_value", "%s",
                llamac_last_error());
}

static bool count_decode(float fraction, void *user_data) {
    (void)fraction;
    (*(unsigned long long *)user_data)++;
    return true;
}

bool embed_inputs(struct request *rq, json_t *body, const char *name, const llamac_embed_params *ep,
                  struct embeddings *e) {
    struct server *s = rq->s;
    memset(e, 0, sizeof *e);
    if (!s->embd_ctx || s->reranking) {
        reply_error(rq, 501, NULL, "not_supported",
                    s->reranking ? "this server was started with --reranking; use /v1/rerank"
                                 : "embeddings are off; start the server with --embedding");
        return false;
    }
    const char **texts = NULL;
    size_t *lens = NULL, n = 0;
    char **owned = NULL;
    bool ok = input_texts(rq, body, name, &texts, &lens, &owned, &n);
    if (ok) {
        llamac_embed_params counted = *ep; /* the progress callback runs once per decode: counted for /metrics */
        unsigned long long decodes = 0;
        counted.progress = count_decode;
        counted.progress_user_data = &decodes;
        pthread_mutex_lock(&s->embd_lock);
        llamac_status st = llamac_embed(s->embd_ctx, texts, lens, n, &counted, &e->vec, &e->dim);
        pthread_mutex_unlock(&s->embd_lock);
        ok = st == LLAMAC_OK;
        atomic_fetch_add(&s->embd_decodes, decodes);
        if (ok) {
            e->n = n;
            e->tokens = count_tokens(s, texts, lens, n);
            atomic_fetch_add(&s->embd_tokens, (unsigned long long)e->tokens);
        } else {
            embed_error(rq, name, st);
        }
    }
    free_inputs(texts, lens, owned, n);
    return ok;
}

void embeddings_free(struct embeddings *e) {
    llamac_free(e->vec);
    memset(e, 0, sizeof *e);
}

void handle_embeddings(struct request *rq) {
    struct server *s = rq->s;
    struct embeddings em = { 0 };
    const char *format = "float";
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *model = NULL;
    if (!field_str(rq, body, "model", &model) || !field_str(rq, body, "encoding_format", &format)) {
        goto done;
    }
    if (strcmp(format, "float") != 0 && strcmp(format, "base64") != 0) {
        reply_error(rq, 400, "encoding_format", "invalid_value", "'encoding_format' must be \"float\" or \"base64\"");
        goto done;
    }
    json_t *dims = json_object_get(body, "dimensions");
    if (dims && !json_is_null(dims)) {
        reply_error(rq, 400, "dimensions", "unsupported_value", "'dimensions' is not supported by this model");
        goto done;
    }
    llamac_embed_params ep = llamac_embed_params_default();
    long long norm = rq->s->opt.embd_normalize; /* --embd-normalize; a request's embd_normalize, as llama-server's */
    if (!field_int(rq, body, "embd_normalize", -1, INT32_MAX, &norm)) {
        goto done;
    }
    ep.normalize = (int32_t)norm;
    if (!embed_inputs(rq, body, "input", &ep, &em)) {
        goto done;
    }
    json_t *data = json_array();
    for (size_t i = 0; i < em.n; i++) {
        json_t *e;
        if (strcmp(format, "base64") == 0) {
            /* little-endian float32, as the SDKs decode it (every supported host is little-endian) */
            char *b64 = base64_encode((const unsigned char *)(em.vec + i * em.dim), em.dim * sizeof(float));
            e = b64 ? json_string(b64) : json_null();
            free(b64);
        } else {
            e = embedding_json(&em, i);
        }
        json_array_append_new(
            data, json_pack("{s:s, s:I, s:o}", "object", "embedding", "index", (json_int_t)i, "embedding", e));
    }
    reply_json(rq, 200,
               json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data, "model", s->model_id, "usage",
                         "prompt_tokens", (json_int_t)em.tokens, "total_tokens", (json_int_t)em.tokens));
done:
    embeddings_free(&em);
    json_decref(body);
}

json_t *embedding_json(const struct embeddings *e, size_t i) {
    json_t *v = json_array();
    for (size_t k = 0; k < e->dim; k++) {
        json_array_append_new(v, json_real((double)e->vec[i * e->dim + k]));
    }
    return v;
}

void handle_rerank(struct request *rq) {
    struct server *s = rq->s;
    const char **texts = NULL;
    size_t *lens = NULL, n = 0;
    char **owned = NULL;
    float *scores = NULL;
    llamac_rerank_result *sorted = NULL;
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    if (!s->embd_ctx || !s->reranking) {
        reply_error(rq, 501, NULL, "not_supported", "reranking is off; start the server with --reranking");
        goto done;
    }
    const char *query = NULL, *model = NULL;
    long long top_n = 0;
    bool return_text = false;
    if (!field_str(rq, body, "model", &model) || !field_str(rq, body, "query", &query) ||
        !field_int(rq, body, "top_n", 0, MAX_INPUTS, &top_n) ||
        !field_bool(rq, body, "return_documents", &return_text)) {
        goto done;
    }
    if (!query) {
        reply_error(rq, 400, "query", "missing_required_parameter", "'query' is required");
        goto done;
    }
    json_t *d = json_object_get(body, "documents");
    if (!json_is_array(d) || json_array_size(d) == 0) {
        reply_error(rq, 400, "documents", d ? "invalid_type" : "missing_required_parameter",
                    "'documents' must be a non-empty array of strings");
        goto done;
    }
    if (!input_texts(rq, body, "documents", &texts, &lens, &owned, &n)) {
        goto done;
    }
    /* llamac_rerank takes NUL-terminated documents: the JSON strings are (a NUL inside would cut them short, so
     * refuse those). */
    for (size_t i = 0; i < n; i++) {
        if (strlen(texts[i]) != lens[i]) {
            reply_error(rq, 400, "documents", "invalid_value", "'documents[%zu]' contains a NUL character", i);
            goto done;
        }
    }
    size_t n_sorted = 0;
    pthread_mutex_lock(&s->embd_lock);
    llamac_status st = llamac_rerank(s->embd_ctx, query, texts, n, (size_t)top_n, &scores, &sorted, &n_sorted);
    pthread_mutex_unlock(&s->embd_lock);
    if (st != LLAMAC_OK) {
        embed_error(rq, "documents", st);
        goto done;
    }
    json_t *results = json_array();
    for (size_t i = 0; i < n_sorted; i++) {
        json_t *r =
            json_pack("{s:I, s:f}", "index", (json_int_t)sorted[i].index, "relevance_score", (double)sorted[i].score);
        if (return_text) {
            json_object_set_new(r, "document", json_pack("{s:s}", "text", texts[sorted[i].index]));
        }
        json_array_append_new(results, r);
    }
    long long tokens = count_tokens(s, texts, lens, n);
    reply_json(rq, 200,
               json_pack("{s:s, s:s, s:o, s:{s:I, s:I}}", "object", "list", "model", s->model_id, "results", results,
                         "usage", "prompt_tokens", (json_int_t)tokens, "total_tokens", (json_int_t)tokens));
done:
    llamac_free(scores);
    llamac_free(sorted);
    free_inputs(texts, lens, owned, n);
    json_decref(body);
}
