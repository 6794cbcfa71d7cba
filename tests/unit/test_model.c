/*
 * test_model.c - loading models: shape and metadata, chat templates, reference counting, and every way a load can
 * fail (bad arguments, bad files, a cancelled load, invalid params).
 *
 * The files a user would really hand us are made here from the real model: truncated copies, random bytes, text
 * with a .gguf name, a GGUF magic followed by garbage. Each failure must come back with its exact status and a
 * message that names the cause.
 */
#include "helpers.h"

#include <stdint.h>
#include <sys/stat.h>
#include <sys/types.h>

#define STORIES "stories260K.gguf"
#define CHATML "stories260K-chatml.gguf"
#define REFERENCE_TEXT                                                                                                 \
    ", there was a little girl named Lily. She loved to play outside in the park. One day, she saw a big, red "        \
    "ball. She wanted to play with it,"

static bool write_file(const char *path, const void *data, size_t len) {
    FILE *f = fopen(path, "wb");
    if (!f) {
        return false;
    }
    bool ok = fwrite(data, 1, len, f) == len;
    return fclose(f) == 0 && ok;
}

static llamac_model *load(const char *name) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(name), NULL, &m));
    CHECK(m != NULL);
    return m;
}

static void test_info(void) {
    llamac_model *m = load(STORIES);
    if (!m) {
        return;
    }
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK_STR(info.architecture, "llama");
    CHECK_INT(info.n_vocab, 512);
    CHECK_INT(info.n_layer, 5);
    CHECK_INT(info.n_embd, 64);
    CHECK_INT(info.n_head, 8);
    CHECK_INT(info.n_head_kv, 4);
    CHECK_INT(info.head_dim_k, 8);
    CHECK_INT(info.head_dim_v, 8);
    CHECK_INT(info.n_ctx_train, 2048);
    CHECK(info.has_decoder);
    CHECK(!info.has_encoder);
    CHECK(!info.vocab_only);
    CHECK(info.file_type && strstr(info.file_type, "all F32") != NULL); /* llama.cpp may prefix "(guessed) " */
    CHECK(info.description && strstr(info.description, "llama") != NULL);
    /* ~293K parameters, all F32: the weights are 4 bytes each. */
    CHECK(info.n_params > 250000 && info.n_params < 350000);
    CHECK_INT(info.size_bytes, info.n_params * 4);
    CHECK(info.load_ms >= 0.0);
    CHECK_INT(llamac_vocab_n_tokens(m), 512);
    llamac_model_free(m);
}

static void test_meta(void) {
    llamac_model *m = load(STORIES);
    if (!m) {
        return;
    }
    char *v = NULL;
    CHECK_OK(llamac_model_meta(m, "general.architecture", &v));
    CHECK_STR(v, "llama");
    llamac_free(v);
    CHECK_OK(llamac_model_meta(m, "llama.context_length", &v));
    CHECK_STR(v, "2048");
    llamac_free(v);

    v = (char *)"sentinel";
    CHECK_STATUS(llamac_model_meta(m, "no.such.key", &v), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("no.such.key");
    CHECK(v == NULL);

    size_t n = llamac_model_meta_count(m);
    CHECK(n >= 10);
    size_t found = 0, same_by_name = 0;
    for (size_t i = 0; i < n; i++) {
        char *key = NULL, *val = NULL;
        CHECK_OK(llamac_model_meta_at(m, i, &key, &val));
        CHECK(key && key[0] != '\0');
        CHECK(val != NULL);
        if (key && strcmp(key, "general.architecture") == 0) {
            found++;
            CHECK_STR(val, "llama");
        }
        /* Every key the iteration yields can also be read by name, with the same value. */
        char *by_name = NULL;
        if (key) {
            CHECK_OK(llamac_model_meta(m, key, &by_name));
            if (by_name && val && strcmp(by_name, val) == 0) {
                same_by_name++;
            }
        }
        llamac_free(by_name);
        llamac_free(key);
        llamac_free(val);
    }
    CHECK_INT(found, 1);
    CHECK_INT(same_by_name, n);

    char *key = (char *)"sentinel", *val = (char *)"sentinel";
    CHECK_STATUS(llamac_model_meta_at(m, n, &key, &val), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("out of range");
    CHECK(key == NULL && val == NULL);
    llamac_model_free(m);
}

static void test_chat_template(void) {
    llamac_model *chat = load(CHATML);
    llamac_model *plain = load(STORIES);
    size_t len = 0;
    char *expected = test_read_file(test_model("stories260K-chatml.template.jinja"), &len);
    CHECK(expected != NULL && len > 0);
    if (chat && expected) {
        const char *tmpl = NULL;
        CHECK_OK(llamac_model_chat_template(chat, NULL, &tmpl));
        CHECK_STR(tmpl, expected);
        tmpl = "sentinel";
        CHECK_STATUS(llamac_model_chat_template(chat, "tool_use", &tmpl), LLAMAC_E_NOT_FOUND);
        CHECK_ERROR_HAS("tool_use");
        CHECK(tmpl == NULL);
    }
    if (plain) {
        const char *tmpl = "sentinel";
        CHECK_STATUS(llamac_model_chat_template(plain, NULL, &tmpl), LLAMAC_E_NOT_FOUND);
        CHECK_ERROR_HAS("chat template");
        CHECK(tmpl == NULL);
    }
    free(expected);
    llamac_model_free(chat);
    llamac_model_free(plain);
}

struct text_sink {
    char buf[1024];
    size_t len;
};

static bool collect(const char *text, size_t len, void *user_data) {
    struct text_sink *s = user_data;
    if (s->len + len < sizeof s->buf) {
        memcpy(s->buf + s->len, text, len);
        s->len += len;
        s->buf[s->len] = '\0';
    }
    return true;
}

/* The caller frees the model first; the context keeps it alive and still decodes and generates correctly. */
static void test_free_model_before_context(void) {
    llamac_model *m = load(STORIES);
    if (!m) {
        return;
    }
    llamac_ctx_params cp = test_ctx_params(256);
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    llamac_sampler *greedy = NULL;
    CHECK_OK(llamac_sampler_new(m, &greedy));
    CHECK_OK(llamac_sampler_add_greedy(greedy));
    llamac_model_free(m);
    if (!ctx || !greedy) {
        llamac_ctx_free(ctx);
        llamac_sampler_free(greedy);
        return;
    }

    llamac_model *alive = llamac_ctx_model(ctx);
    CHECK(alive == m);
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(alive, &info));
    CHECK_STR(info.architecture, "llama");

    llamac_token bos = llamac_vocab_special(alive, LLAMAC_TOKEN_BOS);
    CHECK_INT(bos, 1);
    CHECK_OK(llamac_ctx_decode(ctx, 0, &bos, 1));
    const float *logits = NULL;
    size_t n_vocab = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &n_vocab));
    CHECK_INT(n_vocab, 512);

    struct text_sink sink = { { 0 }, 0 };
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 48;
    gp.sampler = greedy;
    gp.on_text = collect;
    gp.user_data = &sink;
    llamac_generate_result res;
    const char *prompt = "Once upon a time";
    CHECK_OK(llamac_generate(ctx, prompt, strlen(prompt), &gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(res.n_generated_tokens, 48);
    CHECK_STR(sink.buf, REFERENCE_TEXT);

    llamac_sampler_free(greedy);
    llamac_ctx_free(ctx); /* drops the last reference: the model goes with it (checked by the sanitizer build) */
}

static void test_null_arguments(void) {
    int dummy = 0;
    llamac_model *m = (llamac_model *)&dummy;
    CHECK_STATUS(llamac_model_load(NULL, NULL, &m), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("path");
    CHECK(m == NULL);
    CHECK_STATUS(llamac_model_load(test_model(STORIES), NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("out");

    llamac_model_info info;
    CHECK_STATUS(llamac_model_get_info(NULL, &info), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("model");
    char *v = NULL;
    CHECK_STATUS(llamac_model_meta(NULL, "general.architecture", &v), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK_INT(llamac_model_meta_count(NULL), 0);
    char *k = NULL;
    CHECK_STATUS(llamac_model_meta_at(NULL, 0, &k, &v), LLAMAC_E_INVALID_ARGUMENT);
    const char *tmpl = NULL;
    CHECK_STATUS(llamac_model_chat_template(NULL, NULL, &tmpl), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("model");
    llamac_model_free(NULL);
    CHECK_INT(llamac_vocab_n_tokens(NULL), 0);

    llamac_model *real = load(STORIES);
    if (real) {
        CHECK_STATUS(llamac_model_get_info(real, NULL), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("out");
        CHECK_STATUS(llamac_model_meta(real, NULL, &v), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_model_meta(real, "general.architecture", NULL), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_model_meta_at(real, 0, NULL, &v), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_model_meta_at(real, 0, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_model_chat_template(real, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("out");
        llamac_model_free(real);
    }
}

/* A load that must fail with `expected`, with `needle` in the message, and leave *out NULL. */
static void expect_load_failure(const char *path, llamac_status expected, const char *needle) {
    int dummy = 0;
    llamac_model *m = (llamac_model *)&dummy;
    CHECK_STATUS(llamac_model_load(path, NULL, &m), expected);
    CHECK_ERROR_HAS(needle);
    CHECK(m == NULL);
    if (m && m != (llamac_model *)&dummy) {
        llamac_model_free(m);
    }
}

static void test_bad_files(void) {
    char path[1024];
    size_t size = 0;
    char *real = test_read_file(test_model(STORIES), &size);
    CHECK(real != NULL && size > 1000);
    if (!real) {
        return;
    }

    expect_load_failure(test_tmp("does-not-exist.gguf"), LLAMAC_E_IO, "No such file");

    snprintf(path, sizeof path, "%s", test_tmp("empty.gguf"));
    CHECK(write_file(path, "", 0));
    expect_load_failure(path, LLAMAC_E_IO, "empty");

    /* The header and the start of the metadata only. */
    snprintf(path, sizeof path, "%s", test_tmp("first100.gguf"));
    CHECK(write_file(path, real, 100));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "failed to read");

    /* All metadata, half of the tensor data. */
    snprintf(path, sizeof path, "%s", test_tmp("half.gguf"));
    CHECK(write_file(path, real, size / 2));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "file bounds");

    unsigned char noise[4096];
    uint32_t x = 2463534242u;
    for (size_t i = 0; i < sizeof noise; i++) {
        x ^= x << 13;
        x ^= x >> 17;
        x ^= x << 5;
        noise[i] = (unsigned char)x;
    }
    noise[0] = 0x7f; /* never "GGUF" by chance */
    snprintf(path, sizeof path, "%s", test_tmp("random.gguf"));
    CHECK(write_file(path, noise, sizeof noise));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "GGUF magic");

    snprintf(path, sizeof path, "%s", test_tmp("a-directory.gguf"));
    mkdir(path, 0755);
    expect_load_failure(path, LLAMAC_E_IO, "directory");

    const char *text = "This is not a model, only some text that happens to have a .gguf name.\n";
    snprintf(path, sizeof path, "%s", test_tmp("x.gguf"));
    CHECK(write_file(path, text, strlen(text)));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "not a GGUF file");

    /* The magic, then garbage where the version should be. */
    unsigned char fake[512];
    memcpy(fake, "GGUF", 4);
    memcpy(fake + 4, noise + 4, sizeof fake - 4);
    snprintf(path, sizeof path, "%s", test_tmp("gguf-garbage.gguf"));
    CHECK(write_file(path, fake, sizeof fake));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "version");

    /* A valid magic and version, then garbage counts and keys. */
    uint32_t version = 3;
    memcpy(fake + 4, &version, sizeof version);
    CHECK(write_file(path, fake, sizeof fake));
    expect_load_failure(path, LLAMAC_E_MODEL_LOAD, "number of tensors");

    free(real);
}

struct progress_log {
    float values[4096];
    size_t n;
    size_t stop_after; /* return false on this call (1-based); 0 never */
};

static bool on_progress(float progress, void *user_data) {
    struct progress_log *p = user_data;
    if (p->n < sizeof p->values / sizeof p->values[0]) {
        p->values[p->n] = progress;
    }
    p->n++;
    return p->stop_after == 0 || p->n < p->stop_after;
}

static void test_progress(void) {
    static struct progress_log log;
    memset(&log, 0, sizeof log);
    llamac_model_params mp = llamac_model_params_default();
    mp.progress = on_progress;
    mp.progress_user_data = &log;
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    CHECK(m != NULL);
    llamac_model_free(m);
    CHECK(log.n >= 2);
    size_t n = log.n < 4096 ? log.n : 4096;
    bool monotonic = true;
    for (size_t i = 1; i < n; i++) {
        if (log.values[i] < log.values[i - 1]) {
            monotonic = false;
        }
    }
    CHECK(monotonic);
    CHECK(n > 0 && log.values[0] >= 0.0f);
    CHECK(n > 0 && log.values[n - 1] == 1.0f);

    /* Cancelled on the first report, then on a later one. */
    for (size_t stop = 1; stop <= 2; stop++) {
        memset(&log, 0, sizeof log);
        log.stop_after = stop;
        int dummy = 0;
        m = (llamac_model *)&dummy;
        CHECK_STATUS(llamac_model_load(test_model(STORIES), &mp, &m), LLAMAC_E_CANCELLED);
        CHECK_ERROR_HAS("cancelled");
        CHECK(m == NULL);
        CHECK_INT(log.n, stop);
    }
}

static void test_vocab_only(void) {
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    if (!m) {
        return;
    }
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK(info.vocab_only);
    CHECK_INT(info.n_vocab, 512);

    /* The vocabulary works: the same tokens as the full model. */
    llamac_model *full = load(STORIES);
    const char *text = "Once upon a time";
    llamac_token *a = NULL, *b = NULL;
    size_t na = 0, nb = 0;
    CHECK_OK(llamac_tokenize(m, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &a, &na));
    if (full) {
        CHECK_OK(llamac_tokenize(full, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &b, &nb));
    }
    CHECK(na > 1 && na == nb && a && b && memcmp(a, b, na * sizeof *a) == 0);
    llamac_free(a);
    llamac_free(b);
    llamac_model_free(full);

    int dummy = 0;
    llamac_context *ctx = (llamac_context *)&dummy;
    CHECK_STATUS(llamac_ctx_new(m, NULL, &ctx), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("vocab_only");
    CHECK(ctx == NULL);
    llamac_model_free(m);
}

static void expect_params_rejected(const llamac_model_params *mp, const char *needle) {
    int dummy = 0;
    llamac_model *m = (llamac_model *)&dummy;
    CHECK_STATUS(llamac_model_load(test_model(STORIES), mp, &m), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS(needle);
    CHECK(m == NULL);
}

static void test_params_validation(void) {
    llamac_model_params mp = llamac_model_params_default();
    CHECK_INT(mp.n_gpu_layers, 0);
    CHECK(mp.use_mmap);
    CHECK(!mp.vocab_only);

    mp.n_gpu_layers = -2;
    expect_params_rejected(&mp, "n_gpu_layers -2");

    mp = llamac_model_params_default();
    mp.split_mode = (llamac_split_mode)7;
    expect_params_rejected(&mp, "split_mode 7");

    mp = llamac_model_params_default();
    mp.main_gpu = -1;
    expect_params_rejected(&mp, "main_gpu -1");

    mp = llamac_model_params_default();
    mp.n_tensor_split = 2;
    expect_params_rejected(&mp, "tensor_split is NULL");

    char long_key[201];
    memset(long_key, 'k', 200);
    long_key[200] = '\0';
    llamac_kv_override o;
    memset(&o, 0, sizeof o);
    o.key = long_key;
    o.type = LLAMAC_KV_OVERRIDE_INT;
    o.int_value = 1;
    mp = llamac_model_params_default();
    mp.kv_overrides = &o;
    mp.n_kv_overrides = 1;
    expect_params_rejected(&mp, "1 to 127 bytes");

    o.key = "";
    expect_params_rejected(&mp, "kv_overrides[0]");

    o.key = "general.name";
    o.type = LLAMAC_KV_OVERRIDE_STR;
    o.str_value = long_key;
    expect_params_rejected(&mp, "0 to 127 bytes");

    o.type = (llamac_kv_override_type)9;
    expect_params_rejected(&mp, "unknown type 9");

    mp.kv_overrides = NULL;
    expect_params_rejected(&mp, "kv_overrides is NULL");
}

static void test_kv_override(void) {
    llamac_kv_override o;
    memset(&o, 0, sizeof o);
    o.key = "llama.context_length";
    o.type = LLAMAC_KV_OVERRIDE_INT;
    o.int_value = 1024;
    llamac_model_params mp = llamac_model_params_default();
    mp.kv_overrides = &o;
    mp.n_kv_overrides = 1;
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    if (m) {
        llamac_model_info info;
        CHECK_OK(llamac_model_get_info(m, &info));
        CHECK_INT(info.n_ctx_train, 1024);
        /* The default context follows the overridden training context, and 2048 now overflows it. */
        llamac_context *ctx = NULL;
        CHECK_OK(llamac_ctx_new(m, NULL, &ctx));
        llamac_ctx_info ci;
        CHECK_OK(llamac_ctx_get_info(ctx, &ci));
        CHECK_INT(ci.n_ctx, 1024);
        llamac_ctx_free(ctx);
        llamac_ctx_params cp = llamac_ctx_params_default();
        cp.n_ctx = 2048;
        CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("1024-token training context");
        llamac_model_free(m);
    }
    /* An override of the wrong type would be ignored by llama.cpp (a warning in its log): refused up front. */
    o.type = LLAMAC_KV_OVERRIDE_STR;
    o.str_value = "1024";
    m = NULL;
    CHECK_STATUS(llamac_model_load(test_model(STORIES), &mp, &m), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(m == NULL);
    CHECK_ERROR_HAS("'llama.context_length' is stored as u32");
    o.type = LLAMAC_KV_OVERRIDE_FLOAT;
    o.float_value = 1.5;
    CHECK_STATUS(llamac_model_load(test_model(STORIES), &mp, &m), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("a float override cannot replace it");
    /* A key the file does not have is passed on (llama.cpp reads optional keys through overrides too). */
    o.key = "llama.no_such_key";
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    llamac_model_free(m);
}

static void test_tensor_overrides(void) {
    llamac_tensor_override rules[2] = { { "blk\\.[0-2]\\.", "CPU" }, { "output", "CPU" } };
    llamac_model_params mp = llamac_model_params_default();
    mp.tensor_overrides = rules;
    mp.n_tensor_overrides = 2;
    mp.no_repack = true;
    mp.no_host = true;
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    CHECK(m != NULL);
    llamac_model_free(m);

    rules[1].pattern = "blk\\.[0-";
    expect_params_rejected(&mp, "tensor_overrides[1]: 'blk\\.[0-' is not a valid regular expression");
    rules[1].pattern = NULL;
    expect_params_rejected(&mp, "tensor_overrides[1]: pattern is NULL");
    rules[1].pattern = "output";
    rules[0].buffer_type = NULL;
    expect_params_rejected(&mp, "tensor_overrides[0]: buffer_type is NULL");
    rules[0].buffer_type = "NOPE0";
    m = NULL;
    CHECK_STATUS(llamac_model_load(test_model(STORIES), &mp, &m), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("tensor_overrides[0] (blk\\.[0-2]\\.=NOPE0): no buffer type named 'NOPE0' (available: CPU");
    CHECK(m == NULL);
    mp.tensor_overrides = NULL;
    expect_params_rejected(&mp, "tensor_overrides is NULL");
    mp.tensor_overrides = rules;
    mp.n_tensor_overrides = 5000;
    expect_params_rejected(&mp, "at most 4096");
}

static void test_numa(void) {
    CHECK_STATUS(llamac_numa_init((llamac_numa)9), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("numa strategy 9");
    CHECK_OK(llamac_numa_init(LLAMAC_NUMA_DISABLED));
    CHECK_OK(llamac_numa_init(LLAMAC_NUMA_DISTRIBUTE));
    CHECK_OK(llamac_numa_init(LLAMAC_NUMA_DISTRIBUTE)); /* the same again: nothing to change */
    CHECK_STATUS(llamac_numa_init(LLAMAC_NUMA_ISOLATE), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("already distribute");
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), NULL, &m)); /* and models still load */
    llamac_model_free(m);
}

int main(void) {
    RUN(test_info);
    RUN(test_meta);
    RUN(test_chat_template);
    RUN(test_free_model_before_context);
    RUN(test_null_arguments);
    RUN(test_bad_files);
    RUN(test_progress);
    RUN(test_vocab_only);
    RUN(test_params_validation);
    RUN(test_kv_override);
    RUN(test_tensor_overrides);
    RUN(test_numa);
    TESTS_DONE();
}
