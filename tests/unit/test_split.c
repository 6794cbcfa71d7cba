/*
 * test_split.c - a model split into GGUF shards loads from its first shard, with all of them, and generates
 * exactly what the single file generates; a missing shard is a clear error.
 *
 * The shards are made here with ggml's gguf API the way llama.cpp's gguf-split lays them out: every shard carries
 * split.no / split.count / split.tensors.count, the first also all the model's metadata.
 */
#include "check.h"

#include <ggml.h>
#include <gguf.h>
#include <unistd.h>

static bool write_shards(const char *model, const char *prefix, int n_shards) {
    struct ggml_context *data = NULL;
    struct gguf_init_params ip = { false, &data };
    struct gguf_context *src = gguf_init_from_file(model, ip);
    if (!src) {
        return false;
    }
    int64_t n = gguf_get_n_tensors(src);
    bool ok = true;
    for (int s = 0; s < n_shards && ok; s++) {
        struct gguf_context *out = gguf_init_empty();
        if (s == 0) {
            gguf_set_kv(out, src);
        }
        gguf_set_val_u16(out, "split.no", (uint16_t)s);
        gguf_set_val_u16(out, "split.count", (uint16_t)n_shards);
        gguf_set_val_i32(out, "split.tensors.count", (int32_t)n);
        for (int64_t t = s; t < n; t += n_shards) {
            gguf_add_tensor(out, ggml_get_tensor(data, gguf_get_tensor_name(src, t)));
        }
        char path[1100];
        snprintf(path, sizeof path, "%.1000s-%05d-of-%05d.gguf", prefix, s + 1, n_shards);
        ok = gguf_write_to_file(out, path, false);
        gguf_free(out);
    }
    gguf_free(src);
    ggml_free(data);
    return ok;
}

struct text {
    char buf[4096];
    size_t len;
};

static bool collect(const char *t, size_t n, void *ud) {
    struct text *x = ud;
    if (x->len + n < sizeof x->buf) {
        memcpy(x->buf + x->len, t, n);
        x->len += n;
        x->buf[x->len] = '\0';
    }
    return true;
}

static void greedy(const char *path, struct text *out) {
    llamac_model *m = NULL;
    llamac_context *ctx = NULL;
    memset(out, 0, sizeof *out);
    CHECK_OK(llamac_model_load(path, NULL, &m));
    CHECK_OK(llamac_ctx_new(m, NULL, &ctx));
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 48;
    gp.sampling.temp = 0.0f;
    gp.on_text = collect;
    gp.user_data = out;
    CHECK_OK(llamac_generate(ctx, "Once upon a time", 16, &gp, NULL));
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_split_loads_every_shard(void) {
    const char *model = test_model("stories260K.gguf");
    char prefix[1024];
    snprintf(prefix, sizeof prefix, "%s", test_tmp("stories-split"));
    CHECK(write_shards(model, prefix, 3));
    char first[1100];
    snprintf(first, sizeof first, "%.1000s-00001-of-00003.gguf", prefix);

    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(first, NULL, &m));
    llamac_model_info info;
    CHECK_OK(llamac_model_get_info(m, &info));
    CHECK_INT(info.n_layer, 5);
    CHECK(info.n_params > 250000);
    llamac_model_free(m);

    struct text whole, split;
    greedy(model, &whole);
    greedy(first, &split);
    CHECK(whole.len > 100);
    CHECK_STR(split.buf, whole.buf);

    /* a missing shard: a clear error, not a crash */
    char third[1100];
    snprintf(third, sizeof third, "%.1000s-00003-of-00003.gguf", prefix);
    CHECK(unlink(third) == 0);
    CHECK_STATUS(llamac_model_load(first, NULL, &m), LLAMAC_E_MODEL_LOAD);
    CHECK(m == NULL);
    CHECK_ERROR_HAS("cannot load model");
    CHECK_ERROR_HAS("00003-of-00003");
}

int main(void) {
    RUN(test_split_loads_every_shard);
    TESTS_DONE();
}
