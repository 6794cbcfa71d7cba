/*
 * test_synth.c - synthetic models: llamac_synth_write's files load in llama.cpp with the shape asked for, generate
 * (decoders) or embed and rerank (bert), carry the vocabulary and chat template over, are byte-for-byte
 * reproducible, hold the documented weight distribution, and every invalid parameter is refused with a precise
 * message and no file left behind.
 *
 * The vocabularies are the real ones llama.cpp ships in its source tree ($LLAMAC_LLAMA_SOURCE/models); without a
 * source tree the test is skipped. Models are small (2 layers, n_embd 64) and written under $LLAMAC_TEST_TMP, where
 * they are reused by the next run unless the test binary (so libllamac) is newer than them.
 */
#include "helpers.h"

#include <dirent.h>
#include <gguf.h>
#include <math.h>
#include <stdint.h>
#include <sys/stat.h>

#define VOCAB_LLAMA "ggml-vocab-llama-bpe.gguf"
#define VOCAB_QWEN2 "ggml-vocab-qwen2.gguf"
#define VOCAB_BERT "ggml-vocab-bert-bge.gguf"

/* Path of one of llama.cpp's vocabularies; exits with 77 (skip) without a llama.cpp source tree. */
static const char *vocab(const char *file) {
    static char paths[4][1024];
    static int next;
    const char *dir = getenv("LLAMAC_LLAMA_SOURCE");
    if (!dir || !dir[0]) {
        fprintf(stderr, "SKIP: LLAMAC_LLAMA_SOURCE is not set (no llama.cpp source tree for its vocabularies)\n");
        exit(77);
    }
    char *p = paths[next++ % 4];
    snprintf(p, sizeof paths[0], "%s/models/%s", dir, file);
    struct stat sb;
    if (stat(p, &sb) != 0) {
        fprintf(stderr, "SKIP: vocabulary %s not found\n", p);
        exit(77);
    }
    return p;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Writes `p` to `name` under the test directory, unless a copy newer than this test binary is already there. */
static const char *synth(const char *name, const llamac_synth_params *p) {
    const char *path = test_tmp(name);
    struct stat model, self;
    if (stat(path, &model) == 0 && stat("/proc/self/exe", &self) == 0 && model.st_mtime > self.st_mtime) {
        return path;
    }
    CHECK_OK(llamac_synth_write(path, p));
    return path;
}

static llamac_synth_params tiny(const char *arch, const char *vocab_file) {
    llamac_synth_params p = llamac_synth_params_default();
    p.arch = arch;
    p.vocab_from = vocab(vocab_file);
    return p;
}

static llamac_model *load(const char *path) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &m));
    return m;
}

/* 1 when the files have the same bytes, 0 when they differ, -1 when one cannot be read. */
static int same_bytes(const char *a, const char *b) {
    size_t na, nb;
    char *da = test_read_file(a, &na), *db = test_read_file(b, &nb);
    int r = !da || !db ? -1 : na == nb && memcmp(da, db, na) == 0;
    free(da);
    free(db);
    return r;
}

/* The values of an F32 tensor of a GGUF file (caller frees), read with gguf.h. */
static float *tensor_f32(const char *path, const char *name, size_t *n) {
    struct gguf_init_params ip = { .no_alloc = true, .ctx = NULL };
    struct gguf_context *g = gguf_init_from_file(path, ip);
    float *vals = NULL;
    *n = 0;
    int64_t id = g ? gguf_find_tensor(g, name) : -1;
    FILE *f = fopen(path, "rb");
    if (id >= 0 && f && gguf_get_tensor_type(g, id) == GGML_TYPE_F32) {
        size_t bytes = gguf_get_tensor_size(g, id);
        vals = malloc(bytes);
        long at = (long)(gguf_get_data_offset(g) + gguf_get_tensor_offset(g, id));
        if (vals && fseek(f, at, SEEK_SET) == 0 && fread(vals, 1, bytes, f) == bytes) {
            *n = bytes / sizeof(float);
        } else {
            free(vals);
            vals = NULL;
        }
    }
    if (f) {
        fclose(f);
    }
    gguf_free(g);
    return vals;
}

static int tensor_type(const char *path, const char *name) {
    struct gguf_init_params ip = { .no_alloc = true, .ctx = NULL };
    struct gguf_context *g = gguf_init_from_file(path, ip);
    int64_t id = g ? gguf_find_tensor(g, name) : -1;
    int type = id >= 0 ? (int)gguf_get_tensor_type(g, id) : -1;
    gguf_free(g);
    return type;
}

/* |x| without libm (the tests link only libllamac). */
static double absd(double x) {
    return x < 0.0 ? -x : x;
}

static bool all_finite(const float *v, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i])) {
            return false;
        }
    }
    return n > 0;
}

/* Nothing named `name`, and no temporary file "<name>.tmp.*", is left in the test directory. */
static bool nothing_left(const char *name) {
    const char *dir = getenv("LLAMAC_TEST_TMP");
    DIR *d = opendir(dir && dir[0] ? dir : ".");
    if (!d) {
        return false;
    }
    bool clean = true;
    size_t len = strlen(name);
    struct dirent *e;
    while ((e = readdir(d)) != NULL) {
        if (strncmp(e->d_name, name, len) == 0) {
            clean = false;
        }
    }
    closedir(d);
    return clean;
}

static void test_lists(void) {
    CHECK_INT(llamac_synth_arch_count(), 5);
    CHECK_STR(llamac_synth_arch_name(0), "llama");
    CHECK_STR(llamac_synth_arch_name(1), "qwen2");
    CHECK_STR(llamac_synth_arch_name(2), "qwen3");
    CHECK_STR(llamac_synth_arch_name(3), "bert");
    CHECK_STR(llamac_synth_arch_name(4), "qwen2vl");
    CHECK(llamac_synth_arch_name(5) == NULL);
    CHECK_INT(llamac_synth_preset_count(), 4);
    CHECK_STR(llamac_synth_preset_name(0), "qwen2.5-0.5b");
    CHECK_STR(llamac_synth_preset_name(1), "qwen3-0.6b");
    CHECK_STR(llamac_synth_preset_name(2), "llama-3.2-1b");
    CHECK_STR(llamac_synth_preset_name(3), "bge-small");
    CHECK(llamac_synth_preset_name(4) == NULL);
    CHECK_STR(llamac_synth_default_vocab("llama"), VOCAB_LLAMA);
    CHECK_STR(llamac_synth_default_vocab("qwen3"), VOCAB_QWEN2);
    CHECK_STR(llamac_synth_default_vocab("bert"), VOCAB_BERT);
    CHECK(llamac_synth_default_vocab("gpt5") == NULL);
    CHECK(llamac_synth_default_vocab(NULL) == NULL);
}

struct shape {
    const char *arch;
    int32_t n_layer, n_embd, n_head, n_head_kv, head_dim, n_ff, n_ctx_train;
    float rope_theta, norm_eps;
};

static void check_shape(const llamac_synth_params *p, const struct shape *s) {
    CHECK_STR(p->arch, s->arch);
    CHECK_INT(p->n_layer, s->n_layer);
    CHECK_INT(p->n_embd, s->n_embd);
    CHECK_INT(p->n_head, s->n_head);
    CHECK_INT(p->n_head_kv, s->n_head_kv);
    CHECK_INT(p->head_dim, s->head_dim);
    CHECK_INT(p->n_ff, s->n_ff);
    CHECK_INT(p->n_ctx_train, s->n_ctx_train);
    CHECK(p->rope_theta == s->rope_theta);
    CHECK(p->norm_eps == s->norm_eps);
}

/* The presets hold the real models' config.json values; explicit fields override them; defaults fill the rest. */
static void test_resolve(void) {
    static const struct shape want[] = {
        { "qwen2", 24, 896, 14, 2, 64, 4864, 32768, 1000000.0f, 1e-6f },
        { "qwen3", 28, 1024, 16, 8, 128, 3072, 40960, 1000000.0f, 1e-6f },
        { "llama", 16, 2048, 32, 8, 64, 8192, 131072, 500000.0f, 1e-5f },
        { "bert", 12, 384, 12, 12, 32, 1536, 512, 0.0f, 1e-12f },
    };
    for (size_t i = 0; i < 4; i++) {
        llamac_synth_params in = llamac_synth_params_default(), out;
        in.like = llamac_synth_preset_name(i);
        CHECK_OK(llamac_synth_resolve(&in, &out));
        check_shape(&out, &want[i]);
        CHECK(out.init_std == 0.02f);
        CHECK_INT(out.type, LLAMAC_SYNTH_F32);
        char name[64];
        snprintf(name, sizeof name, "synthetic %s", in.like);
        CHECK_STR(out.name, name);
    }

    llamac_synth_params in = llamac_synth_params_default(), out;
    in.like = "qwen2.5-0.5b";
    in.n_layer = 1;
    in.n_ff = 128;
    in.name = "mine";
    CHECK_OK(llamac_synth_resolve(&in, &out));
    const struct shape over = { "qwen2", 1, 896, 14, 2, 64, 128, 32768, 1000000.0f, 1e-6f };
    check_shape(&out, &over);
    CHECK_STR(out.name, "mine");

    /* No preset: the architecture's small defaults. */
    CHECK_OK(llamac_synth_resolve(NULL, &out));
    const struct shape llama = { "llama", 2, 64, 4, 4, 16, 256, 2048, 10000.0f, 1e-5f };
    check_shape(&out, &llama);
    CHECK_STR(out.name, "synthetic llama");
    in = llamac_synth_params_default();
    in.arch = "bert";
    CHECK_OK(llamac_synth_resolve(&in, &out));
    const struct shape bert = { "bert", 2, 64, 4, 4, 16, 256, 512, 0.0f, 1e-12f };
    check_shape(&out, &bert);
    in.arch = "qwen3";
    in.n_embd = 96;
    in.n_head = 6;
    CHECK_OK(llamac_synth_resolve(&in, &out));
    const struct shape qwen3 = { "qwen3", 2, 96, 6, 6, 16, 384, 2048, 1000000.0f, 1e-6f };
    check_shape(&out, &qwen3);
    CHECK_STR(llamac_last_error(), "");
}

/* Weights of a decoder: every tensor of the file, so n_params tells that nothing is missing or extra. */
static uint64_t decoder_params(const llamac_synth_params *p, int64_t n_vocab, bool qkv_bias, bool qk_norm) {
    int64_t e = p->n_embd, q = (int64_t)p->head_dim * p->n_head, kv = (int64_t)p->head_dim * p->n_head_kv;
    int64_t layer = e + e * q + 2 * e * kv + q * e + e + 3 * e * p->n_ff;
    layer += qkv_bias ? q + 2 * kv : 0;
    layer += qk_norm ? 2 * p->head_dim : 0;
    return (uint64_t)(n_vocab * e * (p->untied_output ? 2 : 1) + e + p->n_layer * layer);
}

struct sink {
    size_t bytes;
};

static bool on_text(const char *text, size_t len, void *user_data) {
    (void)text;
    ((struct sink *)user_data)->bytes += len;
    return true;
}

/* Loads, checks the shape llama.cpp reports against the parameters (as resolved; test_resolve checks that step),
 * and generates 8 greedy tokens with finite logits. */
static void check_decoder(const char *path, const llamac_synth_params *in, int32_t n_vocab, bool qkv_bias, bool qk_norm,
                          const char *file_type) {
    llamac_synth_params r;
    const llamac_synth_params *p = &r;
    CHECK_OK(llamac_synth_resolve(in, &r));
    llamac_model *m = load(path);
    if (!m) {
        return;
    }
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK_STR(info.architecture, p->arch);
    CHECK_STR(info.file_type, file_type);
    CHECK_INT(info.n_layer, p->n_layer);
    CHECK_INT(info.n_embd, p->n_embd);
    CHECK_INT(info.n_head, p->n_head);
    CHECK_INT(info.n_head_kv, p->n_head_kv);
    CHECK_INT(info.head_dim_k, p->head_dim);
    CHECK_INT(info.head_dim_v, p->head_dim);
    CHECK_INT(info.n_ctx_train, p->n_ctx_train);
    CHECK_INT(info.n_vocab, n_vocab);
    CHECK_INT(info.n_params, decoder_params(p, n_vocab, qkv_bias, qk_norm));
    CHECK(info.has_decoder);
    char *name = NULL;
    CHECK_OK(llamac_model_meta(m, "general.name", &name));
    char want[64];
    snprintf(want, sizeof want, "synthetic %s", p->arch);
    CHECK_STR(name, want);
    llamac_free(name);

    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 256;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    llamac_token *toks = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(m, "Hello world", 11, LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n));
    CHECK(n >= 2);
    if (ctx && n > 0) {
        CHECK_OK(llamac_ctx_decode(ctx, 0, toks, n));
        const float *logits = NULL;
        size_t nv = 0;
        CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &nv));
        CHECK_INT(nv, n_vocab);
        CHECK(all_finite(logits, nv));
        CHECK(logits && logits[0] != logits[1]);

        struct sink k = { 0 };
        llamac_generate_params gp = test_greedy_params(8, on_text, &k);
        gp.sampling.ignore_eos = true;
        llamac_generate_result res;
        CHECK_OK(llamac_generate(ctx, "Hello world", 11, &gp, &res));
        CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
        CHECK_INT(res.n_prompt_tokens, n);
        CHECK_INT(res.n_generated_tokens, 8);
        CHECK(k.bytes > 0);
    }
    llamac_free(toks);
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_llama(void) {
    llamac_synth_params p = tiny("llama", VOCAB_LLAMA);
    p.n_head_kv = 2;
    p.untied_output = true;
    p.seed = 1;
    const char *path = synth("llama.gguf", &p);
    CHECK_STR(llamac_last_error(), "");
    CHECK_INT(tensor_type(path, "output.weight"), GGML_TYPE_F32);
    check_decoder(path, &p, 128256, false, false, "all F32");
}

static void test_qwen2(void) {
    llamac_synth_params p = tiny("qwen2", VOCAB_QWEN2);
    p.n_head_kv = 2;
    p.n_ctx_train = 1024;
    p.type = LLAMAC_SYNTH_F16;
    const char *path = synth("qwen2-f16.gguf", &p);
    /* Matrices take the weight type; vectors (norms, biases) stay F32; the output reuses token_embd. */
    CHECK_INT(tensor_type(path, "token_embd.weight"), GGML_TYPE_F16);
    CHECK_INT(tensor_type(path, "blk.1.attn_q.weight"), GGML_TYPE_F16);
    CHECK_INT(tensor_type(path, "blk.1.attn_q.bias"), GGML_TYPE_F32);
    CHECK_INT(tensor_type(path, "output_norm.weight"), GGML_TYPE_F32);
    CHECK_INT(tensor_type(path, "output.weight"), -1);
    check_decoder(path, &p, 151936, true, false, "F16");
}

/* qwen2vl: qwen2 with M-RoPE, whose rotary sections (time, height, width) split head_dim / 2 = 8 pairs 2 / 3 / 3. */
static void test_qwen2vl(void) {
    llamac_synth_params p = tiny("qwen2vl", VOCAB_QWEN2);
    p.n_head_kv = 2;
    p.n_ctx_train = 1024;
    p.untied_output = true;
    const char *path = synth("qwen2vl.gguf", &p);
    struct gguf_init_params ip = { .no_alloc = true, .ctx = NULL };
    struct gguf_context *g = gguf_init_from_file(path, ip);
    int64_t k = g ? gguf_find_key(g, "qwen2vl.rope.dimension_sections") : -1;
    CHECK(k >= 0 && gguf_get_arr_type(g, k) == GGUF_TYPE_INT32 && gguf_get_arr_n(g, k) == 4);
    if (k >= 0) {
        const int32_t *v = gguf_get_arr_data(g, k);
        CHECK(v[0] == 2 && v[1] == 3 && v[2] == 3 && v[3] == 0);
    }
    gguf_free(g);
    check_decoder(path, &p, 151936, true, false, "all F32");
}

/* qwen3 may have heads wider than n_embd / n_head (Qwen3-0.6B: 16 x 128 over 1024). */
static void test_qwen3(void) {
    llamac_synth_params p = tiny("qwen3", VOCAB_QWEN2);
    p.n_head_kv = 2;
    p.head_dim = 32;
    p.n_ff = 96;
    p.type = LLAMAC_SYNTH_F16;
    const char *path = synth("qwen3-f16.gguf", &p);
    CHECK_INT(tensor_type(path, "blk.0.attn_q_norm.weight"), GGML_TYPE_F32);
    check_decoder(path, &p, 151936, false, true, "F16");
}

/* The tokenizer and the chat template are the vocabulary file's: same template text, same token ids. */
static void test_vocab_carried_over(void) {
    llamac_synth_params p = tiny("qwen2", VOCAB_QWEN2);
    p.n_head_kv = 2;
    p.n_ctx_train = 1024;
    p.type = LLAMAC_SYNTH_F16;
    llamac_model *m = load(synth("qwen2-f16.gguf", &p));
    llamac_model_params vp = llamac_model_params_default();
    vp.vocab_only = true;
    llamac_model *src = NULL;
    CHECK_OK(llamac_model_load(vocab(VOCAB_QWEN2), &vp, &src));
    if (m && src) {
        const char *t1 = NULL, *t2 = NULL;
        CHECK_OK(llamac_model_chat_template(m, NULL, &t1));
        CHECK_OK(llamac_model_chat_template(src, NULL, &t2));
        CHECK(t1 && strstr(t1, "<|im_start|>") != NULL);
        CHECK_STR(t1, t2);
        const char *text = "<|im_start|>user\nHello, world! 123<|im_end|>";
        llamac_token *a = NULL, *b = NULL;
        size_t na = 0, nb = 0;
        unsigned flags = LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL;
        CHECK_OK(llamac_tokenize(m, text, strlen(text), flags, &a, &na));
        CHECK_OK(llamac_tokenize(src, text, strlen(text), flags, &b, &nb));
        CHECK_INT(na, nb);
        CHECK(na == nb && na > 0 && memcmp(a, b, na * sizeof *a) == 0);
        CHECK_INT(a ? a[0] : -1, 151644); /* <|im_start|> */
        CHECK_INT(llamac_vocab_special(m, LLAMAC_TOKEN_EOS), llamac_vocab_special(src, LLAMAC_TOKEN_EOS));
        llamac_free(a);
        llamac_free(b);
    }
    llamac_model_free(src);
    llamac_model_free(m);

    /* llama-bpe has no template, so neither has the model. */
    p = tiny("llama", VOCAB_LLAMA);
    p.n_head_kv = 2;
    p.untied_output = true;
    p.seed = 1;
    m = load(synth("llama.gguf", &p));
    const char *tmpl = NULL;
    CHECK_STATUS(llamac_model_chat_template(m, NULL, &tmpl), LLAMAC_E_NOT_FOUND);
    llamac_model_free(m);
}

/* The pooled embedding of `text`, copied into out[cap]; returns its length. */
static size_t embed(llamac_context *ctx, llamac_model *m, const char *text, float *out, size_t cap) {
    llamac_token *toks = NULL;
    size_t n = 0, n_out = 0;
    CHECK_OK(llamac_tokenize(m, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n));
    CHECK_OK(llamac_ctx_kv_clear(ctx));
    if (n > 0 && llamac_ctx_decode(ctx, 0, toks, n) == LLAMAC_OK) {
        const float *e = NULL;
        CHECK_OK(llamac_ctx_embeddings_seq(ctx, 0, &e, &n_out));
        if (e && n_out <= cap) {
            memcpy(out, e, n_out * sizeof *e);
        }
    } else {
        CHECK(false);
    }
    llamac_free(toks);
    return n_out;
}

static void test_bert_embeddings(void) {
    llamac_synth_params p = tiny("bert", VOCAB_BERT);
    const char *path = synth("bert.gguf", &p);
    CHECK_INT(tensor_type(path, "position_embd.weight"), GGML_TYPE_F32);
    llamac_model *m = load(path);
    if (!m) {
        return;
    }
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK_STR(info.architecture, "bert");
    CHECK_INT(info.n_layer, 2);
    CHECK_INT(info.n_embd, 64);
    CHECK_INT(info.n_head, 4);
    CHECK_INT(info.n_ctx_train, 512);
    CHECK_INT(info.n_vocab, 30522);
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.embeddings = true;
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    if (ctx) {
        llamac_ctx_info ci;
        CHECK_OK(llamac_ctx_get_info(ctx, &ci));
        CHECK_INT(ci.pooling, LLAMAC_POOLING_MEAN);
        float a[64], b[64];
        CHECK_INT(embed(ctx, m, "hello world", a, 64), 64);
        CHECK_INT(embed(ctx, m, "a different sentence", b, 64), 64);
        CHECK(all_finite(a, 64) && all_finite(b, 64));
        double diff = 0.0, norm = 0.0;
        for (int i = 0; i < 64; i++) {
            diff += absd((double)a[i] - b[i]);
            norm += (double)a[i] * a[i];
        }
        CHECK(norm > 0.0);
        CHECK(diff > 0.0);
    }
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

/* With a classification head bert is a reranker: pooling rank, n_cls_out scores per sequence. */
static void test_bert_rerank(void) {
    for (int32_t n_cls = 1; n_cls <= 3; n_cls += 2) {
        llamac_synth_params p = tiny("bert", VOCAB_BERT);
        p.n_cls_out = n_cls;
        p.type = LLAMAC_SYNTH_F16;
        llamac_model *m = load(synth(n_cls == 1 ? "bert-rank1.gguf" : "bert-rank3.gguf", &p));
        if (!m) {
            continue;
        }
        char *labels = NULL;
        CHECK_OK(llamac_model_meta(m, "bert.pooling_type", &labels));
        CHECK_STR(labels, "4");
        llamac_free(labels);
        llamac_ctx_params cp = llamac_ctx_params_default();
        cp.embeddings = true;
        llamac_context *ctx = NULL;
        CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
        if (ctx) {
            llamac_ctx_info ci;
            CHECK_OK(llamac_ctx_get_info(ctx, &ci));
            CHECK_INT(ci.pooling, LLAMAC_POOLING_RANK);
            float score[8];
            CHECK_INT(embed(ctx, m, "what is a panda? [SEP] a bear", score, 8), n_cls);
            CHECK(all_finite(score, (size_t)n_cls));
        }
        llamac_ctx_free(ctx);
        llamac_model_free(m);
    }
}

/* --like fills the real shape; written with one layer, a small FFN and the smallest vocabulary (bert's 30522
 * tokens; the tokenizer does not depend on the architecture) to keep the file at ~60 MB instead of ~1 GB. */
static void test_like_file(void) {
    llamac_synth_params p = llamac_synth_params_default();
    p.like = "qwen2.5-0.5b";
    p.vocab_from = vocab(VOCAB_BERT);
    p.n_layer = 1;
    p.n_ff = 128;
    p.type = LLAMAC_SYNTH_F16;
    llamac_model *m = load(synth("like-qwen2.5-0.5b.gguf", &p));
    if (!m) {
        return;
    }
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK_STR(info.architecture, "qwen2");
    CHECK_INT(info.n_layer, 1);
    CHECK_INT(info.n_embd, 896);
    CHECK_INT(info.n_head, 14);
    CHECK_INT(info.n_head_kv, 2);
    CHECK_INT(info.head_dim_k, 64);
    CHECK_INT(info.n_ctx_train, 32768);
    char *v = NULL;
    CHECK_OK(llamac_model_meta(m, "qwen2.feed_forward_length", &v));
    CHECK_STR(v, "128");
    llamac_free(v);
    CHECK_OK(llamac_model_meta(m, "qwen2.rope.freq_base", &v));
    CHECK(v && atof(v) == 1000000.0);
    llamac_free(v);
    CHECK_OK(llamac_model_meta(m, "general.name", &v));
    CHECK_STR(v, "synthetic qwen2.5-0.5b");
    llamac_free(v);
    llamac_model_free(m);
}

/* Index of the first tokenizer.* key, -1 when there is none. */
static int64_t first_tokenizer_key(const struct gguf_context *g) {
    for (int64_t i = 0; i < gguf_get_n_kv(g); i++) {
        if (strncmp(gguf_get_key(g, i), "tokenizer.", 10) == 0) {
            return i;
        }
    }
    return -1;
}

/* Same parameters, same bytes; another seed, other weights; a shared layer has the same weights whatever the
 * depth; the metadata is ours in a fixed order, then the vocabulary's tokenizer keys in its order. */
static void test_deterministic(void) {
    llamac_synth_params p = tiny("bert", VOCAB_BERT); /* the smallest vocabulary: these files are not cached */
    p.n_layer = 1;
    p.type = LLAMAC_SYNTH_F16;
    const char *a = test_tmp("det-a.gguf"), *b = test_tmp("det-b.gguf"), *c = test_tmp("det-c.gguf");
    const char *deep = test_tmp("det-deep.gguf");
    CHECK_OK(llamac_synth_write(a, &p));
    CHECK_OK(llamac_synth_write(b, &p));
    CHECK_INT(same_bytes(a, b), 1);
    p.seed = 7;
    CHECK_OK(llamac_synth_write(c, &p));
    CHECK_INT(same_bytes(a, c), 0);
    struct stat sa, sc;
    CHECK(stat(a, &sa) == 0 && stat(c, &sc) == 0 && sa.st_size == sc.st_size);
    p.type = LLAMAC_SYNTH_F32;
    CHECK_OK(llamac_synth_write(c, &p));
    p.n_layer = 2;
    CHECK_OK(llamac_synth_write(deep, &p));
    size_t n1 = 0, n2 = 0;
    float *l1 = tensor_f32(c, "blk.0.ffn_up.weight", &n1), *l2 = tensor_f32(deep, "blk.0.ffn_up.weight", &n2);
    CHECK_INT(n1, 64 * 256);
    CHECK(n1 == n2 && l1 && l2 && memcmp(l1, l2, n1 * sizeof *l1) == 0);
    free(l1);
    free(l2);

    struct gguf_init_params ip = { .no_alloc = true, .ctx = NULL };
    struct gguf_context *g = gguf_init_from_file(a, ip), *v = gguf_init_from_file(vocab(VOCAB_BERT), ip);
    CHECK(g && v);
    if (g && v) {
        CHECK_STR(gguf_get_key(g, 0), "general.architecture");
        CHECK_STR(gguf_get_key(g, 1), "general.name");
        CHECK_STR(gguf_get_key(g, 2), "general.file_type");
        CHECK_INT(gguf_get_val_u32(g, 2), 1); /* LLAMA_FTYPE_MOSTLY_F16 */
        int64_t first = first_tokenizer_key(g), vfirst = first_tokenizer_key(v);
        CHECK(first > 0 && vfirst >= 0);
        int64_t n_tok = gguf_get_n_kv(v) - vfirst;
        CHECK_INT(gguf_get_n_kv(g) - first, n_tok);
        for (int64_t i = 0; first > 0 && vfirst >= 0 && i < n_tok && i + first < gguf_get_n_kv(g); i++) {
            CHECK_STR(gguf_get_key(g, first + i), gguf_get_key(v, vfirst + i));
        }
        CHECK_INT(gguf_find_key(g, "bert.vocab_size") < first, 1);
    }
    gguf_free(g);
    gguf_free(v);
}

/* The documented distribution: normal-like with std init_std, bounded by 3.47 std; norm weights 1. */
static void test_distribution(void) {
    llamac_synth_params p = tiny("bert", VOCAB_BERT);
    const char *path = synth("bert.gguf", &p);
    size_t n = 0;
    float *w = tensor_f32(path, "blk.0.ffn_up.weight", &n);
    CHECK_INT(n, 64 * 256);
    double sum = 0.0, sq = 0.0, max = 0.0;
    for (size_t i = 0; w && i < n; i++) {
        sum += w[i];
        sq += (double)w[i] * w[i];
        max = absd(w[i]) > max ? absd(w[i]) : max;
    }
    double mean = n ? sum / (double)n : 1.0, var = n ? sq / (double)n - mean * mean : 0.0;
    CHECK(absd(mean) < 0.001);
    CHECK(var > 0.019 * 0.019 && var < 0.021 * 0.021); /* std within 5% of 0.02 */
    CHECK(max > 0.04 && max <= 3.47 * 0.02);
    free(w);
    float *norm = tensor_f32(path, "blk.1.layer_output_norm.weight", &n);
    CHECK_INT(n, 64);
    for (size_t i = 0; norm && i < n; i++) {
        CHECK(norm[i] == 1.0f);
    }
    free(norm);
    float *bias = tensor_f32(path, "blk.1.layer_output_norm.bias", &n);
    CHECK_INT(n, 64);
    for (size_t i = 0; bias && i < n; i++) {
        CHECK(bias[i] == 0.0f);
    }
    free(bias);
}

/* An invalid parameter: the status, a message naming the cause, and no file (not even a temporary one). */
static void expect_invalid(const llamac_synth_params *p, const char *needle) {
    CHECK_STATUS(llamac_synth_write(test_tmp("bad.gguf"), p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS(needle);
    CHECK(nothing_left("bad.gguf"));
}

static void test_invalid_params(void) {
    llamac_synth_params p = tiny("gpt5", VOCAB_LLAMA);
    expect_invalid(&p, "unknown architecture 'gpt5' (supported: llama, qwen2, qwen3, bert, qwen2vl)");
    p = tiny("llama", VOCAB_LLAMA);
    p.like = "gpt-4";
    expect_invalid(&p, "unknown preset 'gpt-4' (known: qwen2.5-0.5b, qwen3-0.6b, llama-3.2-1b, bge-small)");
    p = tiny("llama", VOCAB_LLAMA);
    p.n_embd = 100;
    p.n_head = 3;
    expect_invalid(&p, "n_embd 100 is not divisible by n_head 3");
    p = tiny("qwen2", VOCAB_QWEN2);
    p.head_dim = 32;
    expect_invalid(&p, "qwen2 needs head_dim * n_head == n_embd, but 32 * 4 = 128 and n_embd is 64");
    p = tiny("bert", VOCAB_BERT);
    p.n_embd = 60;
    p.n_head = 4;
    p.head_dim = 16;
    expect_invalid(&p, "bert needs head_dim * n_head == n_embd, but 16 * 4 = 64 and n_embd is 60");
    p = tiny("llama", VOCAB_LLAMA);
    p.n_head_kv = 3;
    expect_invalid(&p, "n_head 4 is not a multiple of n_head_kv 3");
    p = tiny("llama", VOCAB_LLAMA);
    p.n_embd = 60;
    expect_invalid(&p, "head_dim 15 must be even for llama's rotary embeddings");
    p = tiny("bert", VOCAB_BERT);
    p.n_head_kv = 2;
    expect_invalid(&p, "bert has no grouped-query attention: n_head_kv 2 must equal n_head 4");
    p = tiny("qwen3", VOCAB_QWEN2);
    p.n_cls_out = 2;
    expect_invalid(&p, "n_cls_out 2: a classification head is only supported for bert, not qwen3");
    p = tiny("bert", VOCAB_BERT);
    p.rope_theta = 10000.0f;
    expect_invalid(&p, "rope_theta 10000 does not apply to bert");
    p = tiny("bert", VOCAB_BERT);
    p.untied_output = true;
    expect_invalid(&p, "untied_output does not apply to bert");
    p = tiny("llama", VOCAB_LLAMA);
    p.n_layer = -1;
    expect_invalid(&p, "n_layer -1 is negative");
    p.n_layer = 513;
    expect_invalid(&p, "n_layer 513 is out of range (1 to 512)");
    p = tiny("llama", VOCAB_LLAMA);
    p.init_std = 2.0f;
    expect_invalid(&p, "init_std 2 is more than 1");
    p = tiny("llama", VOCAB_LLAMA);
    p.norm_eps = NAN;
    expect_invalid(&p, "norm_eps nan must be a positive finite number");
    p = tiny("llama", VOCAB_LLAMA);
    p.type = (llamac_synth_type)7;
    expect_invalid(&p, "weight type 7 is not F32 (0) or F16 (1)");
    p = tiny("qwen2", VOCAB_QWEN2);
    p.vocab_from = NULL;
    expect_invalid(&p, "no vocabulary: set vocab_from to a GGUF with a tokenizer (for qwen2, llama.cpp's "
                       "models/ggml-vocab-qwen2.gguf)");

    p = tiny("llama", VOCAB_LLAMA);
    CHECK_STATUS(llamac_synth_write(NULL, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL path");
    CHECK_STATUS(llamac_synth_write("", &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("empty path");
    CHECK_STATUS(llamac_synth_resolve(&p, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL argument");
}

/* Vocabulary files a user could really pass, and outputs that cannot be written. */
/* ---- the copy model (copy_period) ---- */

#define COPY_K 13

/* Qwen2.5-0.5B's head geometry (head size 64, two KV heads, rotary base 1e6) at a quarter of its width. */
static llamac_synth_params copy_params(void) {
    llamac_synth_params p = tiny("qwen2", VOCAB_QWEN2);
    p.n_embd = 256;
    p.n_head = 4;
    p.n_head_kv = 2;
    p.n_ff = 512;
    p.n_ctx_train = 4096;
    p.type = LLAMAC_SYNTH_F16;
    p.copy_period = COPY_K;
    return p;
}

/* The first layer's attention scores, computed here from the biases in the file (the weights are zero, so a query
 * or key is its bias turned by its position, pairs (j, j + d/2) by pos * base^(-2j/d) as llama.cpp's NEOX rotary
 * embedding turns them): query m = n_ctx - 1 against every key n <= m. The copied position m - K + 1 must win, and
 * by ATTN_GAP (32) logits over every other offset the context allows. */
static void test_copy_attention(void) {
    llamac_synth_params in = copy_params(), p;
    CHECK_OK(llamac_synth_resolve(&in, &p));
    const char *path = synth("copy.gguf", &in);
    size_t nq = 0, nk = 0;
    float *bq = tensor_f32(path, "blk.0.attn_q.bias", &nq), *bk = tensor_f32(path, "blk.0.attn_k.bias", &nk);
    const int32_t d = p.head_dim, half = d / 2, group = p.n_head / p.n_head_kv;
    const size_t want_q = (size_t)d * (size_t)p.n_head, want_k = (size_t)d * (size_t)p.n_head_kv;
    CHECK_INT(nq, want_q);
    CHECK_INT(nk, want_k);
    if (!bq || !bk || nq != want_q || nk != want_k) {
        free(bq);
        free(bk);
        return;
    }
    const int32_t m = p.n_ctx_train - 1;
    double *score = malloc(sizeof *score * (size_t)p.n_ctx_train);
    for (int32_t h = 0; score && h < p.n_head; h++) {
        const float *q = bq + (size_t)h * (size_t)d, *k = bk + (size_t)(h / group) * (size_t)d;
        for (int32_t n = 0; n <= m; n++) {
            double s = 0.0;
            for (int32_t j = 0; j < half; j++) {
                double f = pow(p.rope_theta, -2.0 * j / d), am = f * m, an = f * n;
                double q0 = q[j] * cos(am) - q[j + half] * sin(am), q1 = q[j] * sin(am) + q[j + half] * cos(am);
                double k0 = k[j] * cos(an) - k[j + half] * sin(an), k1 = k[j] * sin(an) + k[j + half] * cos(an);
                s += q0 * k0 + q1 * k1;
            }
            score[m - n] = s / sqrt((double)d);
        }
        int32_t best = 0;
        double other = -INFINITY;
        for (int32_t off = 0; off <= m; off++) {
            best = score[off] > score[best] ? off : best;
            other = off != COPY_K - 1 && score[off] > other ? score[off] : other;
        }
        CHECK_INT(best, COPY_K - 1);
        double gap = score[COPY_K - 1] - other;
        if (h == 0) {
            fprintf(stderr, "copy model: the copied offset %d leads every other of 0..%d by %.2f logits\n", COPY_K - 1,
                    m, gap);
        }
        CHECK(gap >= 31.9);
    }
    free(score);
    free(bq);
    free(bk);
}

/* Greedy decoding, token by token, of `prompt` and `n` more: each chosen token must be the one K back in the
 * sequence so far (the continuation repeats the last K tokens). Returns how many matched. */
static int copy_run(const char *path, const char *prompt, int n) {
    llamac_model *model = load(path);
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 512;
    llamac_context *ctx = NULL;
    llamac_token *toks = NULL, seq[512];
    size_t n_prompt = 0;
    int matched = 0;
    if (!model || llamac_ctx_new(model, &cp, &ctx) != LLAMAC_OK ||
        llamac_tokenize(model, prompt, strlen(prompt), LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n_prompt) != LLAMAC_OK) {
        CHECK(!"model, context and prompt");
        goto done;
    }
    CHECK(n_prompt >= COPY_K && n_prompt + (size_t)n <= 512);
    memcpy(seq, toks, n_prompt * sizeof *seq);
    CHECK_OK(llamac_ctx_decode(ctx, 0, seq, n_prompt));
    for (size_t len = n_prompt; len < n_prompt + (size_t)n; len++) {
        const float *logits = NULL;
        size_t nv = 0;
        if (llamac_ctx_logits(ctx, -1, &logits, &nv) != LLAMAC_OK) {
            break;
        }
        llamac_token best = 0;
        for (size_t t = 1; t < nv; t++) {
            best = logits[t] > logits[best] ? (llamac_token)t : best;
        }
        matched += best == seq[len - COPY_K];
        seq[len] = best;
        if (llamac_ctx_decode(ctx, 0, &seq[len], 1) != LLAMAC_OK) {
            break;
        }
    }
done:
    llamac_free(toks);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    return matched;
}

/* The copy model continues any prompt with period K, as written (F16) and through Q4_K_M (quantized matrices, f32
 * biases), for 96 tokens, more than seven periods. */
static void test_copy_generate(void) {
    llamac_synth_params p = copy_params();
    const char *path = synth("copy.gguf", &p);
    const char *prompt = "The quick brown fox jumps over the lazy dog, then naps in the warm sun by the river.";
    CHECK_INT(copy_run(path, prompt, 96), 96);
    const char *q4 = test_tmp("copy-q4_k_m.gguf");
    llamac_quantize_params qp = llamac_quantize_params_default();
    qp.ftype = LLAMAC_FTYPE_Q4_K_M;
    CHECK_OK(llamac_quantize(path, q4, &qp, NULL));
    CHECK_INT(tensor_type(q4, "blk.0.attn_q.bias"), GGML_TYPE_F32);
    CHECK_INT(tensor_type(q4, "blk.0.attn_k.bias"), GGML_TYPE_F32);
    CHECK_INT(tensor_type(q4, "blk.0.attn_q.weight"), GGML_TYPE_Q4_K);
    CHECK_INT(copy_run(q4, prompt, 96), 96);
    CHECK_INT(copy_run(q4, "def f(x):\n    return x * 2 + 1\n\ndef g(y):\n    return y - 3\n", 96), 96);
}

/* copy_noise: the later layers' attention output and ffn_down are random with that fraction of init_std, the rest
 * of them as in a random model; the first layer's FFN stays silent; without noise the later layers are silent. */
static double rms_of(const float *v, size_t n) {
    double s = 0.0;
    for (size_t i = 0; i < n; i++) {
        s += (double)v[i] * v[i];
    }
    return n ? sqrt(s / (double)n) : -1.0;
}

static void test_copy_noise(void) {
    llamac_synth_params p = tiny("qwen2", VOCAB_QWEN2);
    p.copy_period = 5;
    p.copy_noise = 0.25f;
    const char *path = synth("copy-noise.gguf", &p);
    const struct {
        const char *name;
        double rms;
    } want[] = { { "blk.0.ffn_down.weight", 0.0 },      { "blk.1.ffn_down.weight", 0.005 },
                 { "blk.1.attn_output.weight", 0.005 }, { "blk.1.ffn_up.weight", 0.02 },
                 { "blk.1.attn_q.weight", 0.02 },       { "blk.0.attn_q.weight", 0.0 } };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        size_t n = 0;
        float *v = tensor_f32(path, want[i].name, &n);
        double r = rms_of(v, n);
        if (absd(r - want[i].rms) > 0.05 * want[i].rms + 1e-12) {
            fprintf(stderr, "%s: rms %g, expected %g\n", want[i].name, r, want[i].rms);
            CHECK(!"copy_noise scales the later layers' output matrices");
        }
        free(v);
    }
    p.copy_noise = 0.0f;
    const char *silent = synth("copy-silent.gguf", &p);
    size_t n = 0;
    float *v = tensor_f32(silent, "blk.1.attn_output.weight", &n);
    CHECK(n > 0 && rms_of(v, n) == 0.0);
    free(v);
}

static void test_copy_invalid(void) {
    llamac_synth_params p = copy_params();
    p.copy_period = -1;
    expect_invalid(&p, "copy_period -1 is negative (0 means random weights)");
    p = copy_params();
    p.copy_period = 4097;
    expect_invalid(&p, "copy_period 4097 is more than n_ctx_train 4096");
    p = tiny("llama", VOCAB_LLAMA);
    p.copy_period = 8;
    expect_invalid(&p, "which only qwen2 has (not llama)");
    p = tiny("qwen2vl", VOCAB_QWEN2);
    p.copy_period = 8;
    expect_invalid(&p, "which only qwen2 has (not qwen2vl)");
    p = copy_params();
    p.untied_output = true;
    expect_invalid(&p, "copy_period: a copy model reads its logits through the tied token embeddings");
    p = copy_params();
    p.copy_noise = 1.5f;
    expect_invalid(&p, "copy_noise 1.5 is out of range (0 to 1)");
    p = tiny("qwen2", VOCAB_QWEN2);
    p.copy_noise = 0.5f;
    expect_invalid(&p, "copy_noise 0.5 applies to a copy model only (set copy_period)");
    /* One rotary pair (head size 2) recurs: offsets near multiples of 2 pi score almost as high. */
    p = tiny("qwen2", VOCAB_QWEN2);
    p.n_embd = 8;
    p.n_head = 4;
    p.n_head_kv = 4;
    p.copy_period = 3;
    expect_invalid(&p, "hardly tell offset 2 from the others within n_ctx_train 2048");
}

static void test_bad_files(void) {
    llamac_synth_params p = tiny("llama", VOCAB_LLAMA);
    p.vocab_from = test_tmp("no-such-vocab.gguf");
    CHECK_STATUS(llamac_synth_write(test_tmp("bad.gguf"), &p), LLAMAC_E_IO);
    CHECK_ERROR_HAS("cannot open vocabulary");
    CHECK_ERROR_HAS("No such file or directory");
    CHECK(nothing_left("bad.gguf"));

    p.vocab_from = getenv("LLAMAC_TEST_TMP") ? getenv("LLAMAC_TEST_TMP") : ".";
    CHECK_STATUS(llamac_synth_write(test_tmp("bad.gguf"), &p), LLAMAC_E_IO);
    CHECK_ERROR_HAS("is not a regular file");

    const char *text = test_tmp("vocab.txt");
    FILE *f = fopen(text, "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a GGUF file\n", f);
        fclose(f);
    }
    p.vocab_from = text;
    CHECK_STATUS(llamac_synth_write(test_tmp("bad.gguf"), &p), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("is not a valid GGUF file");
    CHECK(nothing_left("bad.gguf"));

    /* A well-formed GGUF with one key and no tokenizer: magic, version 3, 0 tensors, 1 key. */
    const char *notok = test_tmp("no-tokens.gguf");
    f = fopen(notok, "wb");
    CHECK(f != NULL);
    if (f) {
        uint32_t version = 3, type = 8;
        int64_t n_tensors = 0, n_kv = 1;
        uint64_t klen = 20, vlen = 5;
        fwrite("GGUF", 1, 4, f);
        fwrite(&version, sizeof version, 1, f);
        fwrite(&n_tensors, sizeof n_tensors, 1, f);
        fwrite(&n_kv, sizeof n_kv, 1, f);
        fwrite(&klen, sizeof klen, 1, f);
        fwrite("general.architecture", 1, 20, f);
        fwrite(&type, sizeof type, 1, f);
        fwrite(&vlen, sizeof vlen, 1, f);
        fwrite("llama", 1, 5, f);
        fclose(f);
    }
    p.vocab_from = notok;
    CHECK_STATUS(llamac_synth_write(test_tmp("bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("has no tokens (no tokenizer.ggml.tokens string array)");
    CHECK(nothing_left("bad.gguf"));

    /* Outputs: a folder that does not exist, and a path that is a directory. */
    p = tiny("llama", VOCAB_LLAMA);
    p.n_layer = 1;
    CHECK_STATUS(llamac_synth_write(test_tmp("no-such-dir/out.gguf"), &p), LLAMAC_E_IO);
    CHECK_ERROR_HAS("cannot create a temporary file beside");
    const char *dir = test_tmp("out-is-a-dir.gguf");
    mkdir(dir, 0755);
    CHECK_STATUS(llamac_synth_write(dir, &p), LLAMAC_E_IO);
    CHECK_ERROR_HAS("it is a directory; only a regular file or a new path is replaced");
    CHECK(exists(dir));
    DIR *d = opendir(getenv("LLAMAC_TEST_TMP") ? getenv("LLAMAC_TEST_TMP") : ".");
    struct dirent *e;
    int tmp_files = 0;
    while (d && (e = readdir(d)) != NULL) {
        tmp_files += strstr(e->d_name, ".tmp.") != NULL;
    }
    if (d) {
        closedir(d);
    }
    CHECK_INT(tmp_files, 0);
}

int main(void) {
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
    vocab(VOCAB_LLAMA); /* skips the whole test without llama.cpp's source tree */
    RUN(test_lists);
    RUN(test_resolve);
    RUN(test_llama);
    RUN(test_qwen2);
    RUN(test_qwen2vl);
    RUN(test_qwen3);
    RUN(test_vocab_carried_over);
    RUN(test_bert_embeddings);
    RUN(test_bert_rerank);
    RUN(test_like_file);
    RUN(test_deterministic);
    RUN(test_distribution);
    RUN(test_invalid_params);
    RUN(test_bad_files);
    RUN(test_copy_attention);
    RUN(test_copy_generate);
    RUN(test_copy_noise);
    RUN(test_copy_invalid);
    TESTS_DONE();
}
