/*
 * test_embed.c - embeddings and reranking: vectors equal llama.cpp's llama-embedding (references in
 * tests/reference/embed, from scripts/gen-reference.sh) within 1e-5 per component, whether texts are embedded
 * one per call or many per batch; the helpers; and every error a caller can cause.
 *
 * The BERT models are synthesized here with the same parameters the reference script gives `llamac synth`
 * (seeds 11 and 12, 2 layers, n_embd 64, 4 heads, bert-bge vocabulary), so they are the same bytes.
 */
#include "helpers.h"

#include <math.h>

#define MAX_VECS 16
#define MAX_DIM 512

struct ref {
    float v[MAX_VECS][MAX_DIM];
    size_t dim[MAX_VECS];
    size_t n;
};

static bool load_ref(const char *name, struct ref *r) {
    char path[1024];
    snprintf(path, sizeof path, "%s/tests/reference/embed/%s.txt", getenv("LLAMAC_SOURCE_DIR"), name);
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "missing reference %s\n", path);
        return false;
    }
    memset(r, 0, sizeof *r);
    static char line[1 << 16];
    while (r->n < MAX_VECS && fgets(line, sizeof line, f)) {
        char *p = line, *end;
        size_t d = 0;
        for (;;) {
            float x = strtof(p, &end);
            if (end == p || d >= MAX_DIM) {
                break;
            }
            r->v[r->n][d++] = x;
            p = end;
        }
        r->dim[r->n++] = d;
    }
    fclose(f);
    return r->n > 0;
}

/* How far a vector may be from llama.cpp's: the references were written on one CPU, and another one's SIMD kernels
 * sum in another order (measured: 3.7e-5 on an unnormalized vector with AVX2 only, against references written with
 * AVX-512); a wrong pooling, position or normalization differs by far more. */
#define REF_TOLERANCE 1e-4f

static float max_diff(const float *a, const float *b, size_t n) {
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) {
            worst = d;
        }
    }
    return worst;
}

static llamac_model *bert_model(uint64_t seed, int32_t cls_out, const char *file) {
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    if (!src || !src[0]) {
        return NULL;
    }
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-bert-bge.gguf", src);
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "bert";
    sp.vocab_from = vocab;
    sp.n_layer = 2;
    sp.n_embd = 64;
    sp.n_head = 4;
    sp.seed = seed;
    sp.n_cls_out = cls_out;
    const char *path = test_tmp(file);
    CHECK_OK(llamac_synth_write(path, &sp));
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &m));
    return m;
}

static llamac_context *embd_ctx_kv(llamac_model *m, llamac_pooling pooling, uint32_t n_seq, bool unified) {
    llamac_ctx_params cp = test_ctx_params(512);
    cp.embeddings = true;
    cp.pooling = pooling;
    cp.n_seq_max = n_seq;
    cp.kv_unified = unified;
    cp.n_batch = 512;
    cp.n_ubatch = 512;
    /* flash attention auto, as the references (llama-embedding) and llamac embed: batch shapes move vectors ~1e-7 */
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    return ctx;
}

static llamac_context *embd_ctx(llamac_model *m, llamac_pooling pooling, uint32_t n_seq) {
    return embd_ctx_kv(m, pooling, n_seq, true);
}

/* Splits "a|b|c" into texts (in place). */
static size_t split(char *s, char sep, const char **out, size_t cap) {
    size_t n = 0;
    while (s && n < cap) {
        out[n++] = s;
        char *at = strchr(s, sep);
        if (at) {
            *at = '\0';
        }
        s = at ? at + 1 : NULL;
    }
    return n;
}

static void check_case(const char *name, llamac_model *m, llamac_pooling pooling, int32_t normalize, char *texts) {
    struct ref ref;
    CHECK(load_ref(name, &ref));
    const char *t[MAX_VECS];
    size_t n = split(texts, '|', t, MAX_VECS);
    CHECK_INT(n, ref.n);
    llamac_embed_params ep = llamac_embed_params_default();
    ep.normalize = normalize;
    /* many texts per decode, and one text per decode (n_seq_max 1): both equal llama.cpp's vectors; last, many
     * sequences in one KV stream each (texts then decoded grouped by length) */
    for (int pass = 0; pass < 3; pass++) {
        uint32_t n_seq = pass == 1 ? 1 : 8;
        llamac_context *ctx = embd_ctx_kv(m, pooling, n_seq, pass < 2);
        float *v = NULL;
        size_t dim = 0;
        CHECK_OK(llamac_embed(ctx, t, NULL, n, &ep, &v, &dim));
        for (size_t i = 0; v && i < n && i < ref.n; i++) {
            CHECK(ref.dim[i] >= dim);
            float d = max_diff(v + i * dim, ref.v[i], dim);
            if (!(d <= REF_TOLERANCE)) {
                fprintf(stderr, "  %s text %zu (n_seq_max %u%s): max difference %g\n", name, i, n_seq,
                        pass == 2 ? ", a stream per sequence" : "", (double)d);
            }
            CHECK(d <= REF_TOLERANCE);
        }
        llamac_free(v);
        llamac_ctx_free(ctx);
    }
}

static void test_fidelity_stories(void) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &m));
    char a[] = "Once upon a time|The little dog ran to the park|Lily saw a big red ball|Hello";
    check_case("stories-mean", m, LLAMAC_POOLING_MEAN, LLAMAC_EMBD_NORM_L2, a);
    char b[] = "Once upon a time|She was happy";
    check_case("stories-last-raw", m, LLAMAC_POOLING_LAST, LLAMAC_EMBD_NORM_NONE, b);
    llamac_model_free(m);
}

static void test_fidelity_bert(void) {
    llamac_model *m = bert_model(11, 0, "bert.gguf");
    if (!m) {
        fprintf(stderr, "  (no llama.cpp source: BERT cases skipped)\n");
        return;
    }
    char a[] = "The quick brown fox|jumps over the lazy dog|A completely different sentence about databases";
    check_case("bert-default", m, LLAMAC_POOLING_DEFAULT, LLAMAC_EMBD_NORM_L2, a);
    char b[] = "The quick brown fox|Hello world";
    check_case("bert-cls-l1", m, LLAMAC_POOLING_CLS, LLAMAC_EMBD_NORM_L1, b);
    llamac_model_free(m);
}

static void test_rerank(void) {
    llamac_model *m = bert_model(12, 1, "bert-rerank.gguf");
    if (!m) {
        return;
    }
    struct ref ref;
    CHECK(load_ref("bert-rerank", &ref));
    const char *docs[] = { "The giant panda is a bear species endemic to China.", "Paris is the capital of France.",
                           "hi" };
    llamac_context *ctx = embd_ctx(m, LLAMAC_POOLING_RANK, 4);
    float *scores = NULL;
    llamac_rerank_result *sorted = NULL;
    size_t n_sorted = 0;
    CHECK_OK(llamac_rerank(ctx, "what is a panda?", docs, 3, 2, &scores, &sorted, &n_sorted));
    CHECK_INT(n_sorted, 2);
    for (size_t i = 0; scores && i < 3; i++) {
        CHECK(fabsf(scores[i] - ref.v[i][0]) <= 1e-5f);
    }
    if (sorted && scores) {
        CHECK(sorted[0].score >= sorted[1].score);
        CHECK(scores[sorted[0].index] == sorted[0].score);
        /* the best is not beaten by the one left out */
        for (size_t i = 0; i < 3; i++) {
            CHECK(scores[i] <= sorted[0].score);
        }
    }
    llamac_free(scores);
    llamac_free(sorted);
    /* rerank needs rank pooling; embedding the pair text directly gives the same numbers */
    llamac_context *plain = embd_ctx(m, LLAMAC_POOLING_CLS, 1);
    CHECK_STATUS(llamac_rerank(plain, "q", docs, 1, 0, &scores, NULL, NULL), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("rank pooling");
    CHECK_STATUS(llamac_rerank(ctx, "", docs, 1, 0, &scores, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("query is empty");
    const char *bad[] = { "ok", "" };
    CHECK_STATUS(llamac_rerank(ctx, "q", bad, 2, 0, &scores, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("document 1 is empty");
    CHECK_STATUS(llamac_rerank(ctx, "q", docs, 0, 0, &scores, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(scores == NULL);
    llamac_ctx_free(plain);
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_batching_many_texts(void) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &m));
    enum { N = 100 };
    static char buf[N][48];
    const char *t[N];
    for (int i = 0; i < N; i++) {
        snprintf(buf[i], sizeof buf[i], "Story number %d was about a %s", i, i % 2 ? "cat" : "big red ball");
        t[i] = buf[i];
    }
    llamac_context *many = embd_ctx(m, LLAMAC_POOLING_MEAN, 16);
    /* a KV stream per sequence: texts are decoded grouped by token count (the texts here have several lengths),
     * and each vector must still land in its input row */
    llamac_context *streams = embd_ctx_kv(m, LLAMAC_POOLING_MEAN, 16, false);
    llamac_context *one = embd_ctx(m, LLAMAC_POOLING_MEAN, 1);
    float *all = NULL, *grouped = NULL, *single = NULL;
    size_t dim = 0, dim_g = 0, dim1 = 0;
    CHECK_OK(llamac_embed(many, t, NULL, N, NULL, &all, &dim));
    CHECK_INT(dim, 64);
    CHECK_OK(llamac_embed(streams, t, NULL, N, NULL, &grouped, &dim_g));
    CHECK_INT(dim_g, 64);
    float worst = 0.0f, worst_g = 0.0f;
    for (int i = 0; all && grouped && i < N; i++) {
        CHECK_OK(llamac_embed(one, &t[i], NULL, 1, NULL, &single, &dim1));
        if (single) {
            float d = max_diff(all + (size_t)i * dim, single, dim);
            worst = d > worst ? d : worst;
            d = max_diff(grouped + (size_t)i * dim, single, dim);
            worst_g = d > worst_g ? d : worst_g;
        }
        llamac_free(single);
    }
    /* float32 matrix products round differently for different batch shapes, and how much depends on the CPU's
     * kernels: measured 1.1e-5 on these vectors with AVX-512, 2.3e-4 with AVX2 only (an AMD EPYC); a vector in the
     * wrong row differs by tenths */
    if (!(worst <= 5e-4f) || !(worst_g <= 5e-4f)) {
        fprintf(stderr, "  one at a time vs packed: max difference %g, vs grouped by length: %g\n", (double)worst,
                (double)worst_g);
    }
    CHECK(worst <= 5e-4f);
    CHECK(worst_g <= 5e-4f);
    llamac_free(all);
    llamac_free(grouped);
    llamac_ctx_free(streams);
    llamac_ctx_free(many);
    llamac_ctx_free(one);
    llamac_model_free(m);
}

static void test_tokens_and_errors(void) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &m));
    const char *t[] = { "Once upon a time", "", "x" };
    float *v = (float *)1;
    size_t dim = 7, n_tok = 0;

    llamac_context *plain = NULL;
    CHECK_OK(llamac_ctx_new(m, NULL, &plain));
    CHECK_STATUS(llamac_embed(plain, t, NULL, 1, NULL, &v, &dim), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("without embeddings");
    CHECK(v == NULL && dim == 0);
    llamac_ctx_free(plain);

    llamac_context *ctx = embd_ctx(m, LLAMAC_POOLING_MEAN, 4);
    CHECK_STATUS(llamac_embed(ctx, t, NULL, 0, NULL, &v, &dim), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("no texts");
    CHECK_STATUS(llamac_embed(ctx, t, NULL, 3, NULL, &v, &dim), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("text 1 is empty");
    size_t lens[] = { 3, 1 };
    const char *badutf[] = { "abc", "\xff" };
    CHECK_STATUS(llamac_embed(ctx, badutf, lens, 2, NULL, &v, &dim), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("text 1");
    llamac_embed_params ep = llamac_embed_params_default();
    ep.normalize = -2;
    CHECK_STATUS(llamac_embed(ctx, t, NULL, 1, &ep, &v, &dim), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_embed_tokens(ctx, t[0], strlen(t[0]), NULL, &v, &n_tok, &dim), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("pooling none");
    llamac_ctx_free(ctx);

    /* a text longer than one decode: an error by default, cut when asked */
    llamac_ctx_params cp = test_ctx_params(0);
    cp.embeddings = true;
    cp.pooling = LLAMAC_POOLING_MEAN;
    cp.n_batch = 16;
    cp.n_ubatch = 16;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    const char *longer[] = { "Once upon a time there was a little girl named Lily who loved to play in the park" };
    CHECK_STATUS(llamac_embed(ctx, longer, NULL, 1, NULL, &v, &dim), LLAMAC_E_CONTEXT_FULL);
    CHECK_ERROR_HAS("text 0 is");
    CHECK_ERROR_HAS("at most 16");
    ep = llamac_embed_params_default();
    ep.truncate = true;
    CHECK_OK(llamac_embed(ctx, longer, NULL, 1, &ep, &v, &dim));
    CHECK_INT(dim, 64);
    llamac_free(v);
    llamac_ctx_free(ctx);

    /* contexts llama.cpp would accept and then misuse: refused at creation */
    cp = llamac_ctx_params_default();
    cp.embeddings = true;
    cp.pooling = LLAMAC_POOLING_RANK;
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_UNSUPPORTED); /* stories260K is no reranker */
    CHECK_ERROR_HAS("llama.pooling_type is not rank");
    CHECK(ctx == NULL);
    cp.pooling = LLAMAC_POOLING_MEAN;
    cp.n_batch = 8;
    cp.n_seq_max = 16; /* llama.cpp aborts at the first decode when outputs cannot cover every sequence */
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_seq_max (16) cannot exceed n_batch (8)");
    cp.n_batch = 2048;
    cp.n_ubatch = 2048;
    cp.n_seq_max = 24; /* llama.cpp's graph reservation for mean pooling aborts when it does not divide n_ubatch */
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_seq_max (24) must divide the micro-batch (2048 tokens");
    cp.n_ubatch = 2040;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    llamac_ctx_free(ctx);

    /* per-token vectors */
    ctx = embd_ctx(m, LLAMAC_POOLING_NONE, 1);
    CHECK_OK(llamac_embed_tokens(ctx, t[0], strlen(t[0]), NULL, &v, &n_tok, &dim));
    CHECK_INT(n_tok, 5); /* BOS + 4 */
    CHECK_INT(dim, 64);
    for (size_t i = 0; v && i < n_tok; i++) {
        double s = 0;
        for (size_t k = 0; k < dim; k++) {
            s += (double)(v[i * dim + k] * v[i * dim + k]);
        }
        CHECK(fabs(s - 1.0) < 1e-4);
    }
    llamac_free(v);
    CHECK_STATUS(llamac_embed(ctx, t, NULL, 1, NULL, &v, &dim), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("pooling none");
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_helpers(void) {
    const float a[4] = { 3, -4, 0, 0 }, b[4] = { -3, 4, 0, 0 }, c[4] = { 0, 0, 1, 0 }, z[4] = { 0 };
    float out[4];
    CHECK(llamac_embd_normalize(a, out, 4, LLAMAC_EMBD_NORM_L2));
    CHECK(fabsf(out[0] - 0.6f) < 1e-7f && fabsf(out[1] + 0.8f) < 1e-7f);
    CHECK(llamac_embd_normalize(a, out, 4, LLAMAC_EMBD_NORM_L1));
    CHECK(fabsf(out[0] - 3.0f / 7.0f) < 1e-7f);
    CHECK(llamac_embd_normalize(a, out, 4, LLAMAC_EMBD_NORM_MAXABS));
    CHECK(fabsf(out[1] + 32760.0f) < 1e-2f);
    CHECK(llamac_embd_normalize(a, out, 4, 3));
    CHECK(fabsf(out[0] - 3.0f / cbrtf(91.0f)) < 1e-6f);
    CHECK(llamac_embd_normalize(z, out, 4, LLAMAC_EMBD_NORM_L2));
    CHECK(out[0] == 0.0f);
    CHECK(!llamac_embd_normalize(a, out, 4, -2));
    CHECK(fabsf(llamac_embd_cosine(a, b, 4) + 1.0f) < 1e-6f);
    CHECK(fabsf(llamac_embd_cosine(a, c, 4)) < 1e-6f);
    CHECK(llamac_embd_cosine(a, z, 4) == 0.0f);
    float set[3 * 4] = { 0, 0, 1, 0, 3, -4, 0, 0, 3, -4, 1, 0 };
    float m[9];
    CHECK_OK(llamac_embd_similarity_matrix(set, 3, 4, m));
    CHECK(fabsf(m[0] - 1.0f) < 1e-6f && fabsf(m[4] - 1.0f) < 1e-6f && m[1] == m[3]);
    size_t idx[3];
    float sim[3];
    size_t got = 0;
    CHECK_OK(llamac_embd_top_k(a, set, 3, 4, 2, idx, sim, &got));
    CHECK_INT(got, 2);
    CHECK_INT(idx[0], 1);
    CHECK_INT(idx[1], 2);
    CHECK(sim[0] >= sim[1]);
    CHECK_OK(llamac_embd_top_k(a, set, 3, 4, 10, idx, NULL, &got));
    CHECK_INT(got, 3);
    CHECK_INT(idx[2], 0);
    CHECK_STATUS(llamac_embd_top_k(NULL, set, 3, 4, 2, idx, sim, &got), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_embd_similarity_matrix(set, 0, 4, m), LLAMAC_E_INVALID_ARGUMENT);
}

int main(void) {
    RUN(test_helpers);
    RUN(test_fidelity_stories);
    RUN(test_fidelity_bert);
    RUN(test_rerank);
    RUN(test_batching_many_texts);
    RUN(test_tokens_and_errors);
    TESTS_DONE();
}
