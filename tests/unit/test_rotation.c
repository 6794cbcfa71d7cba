/*
 * test_rotation.c - Hadamard rotation of a quantized KV cache, per context: reported correctly, and what
 * llama.cpp actually did agrees with the report (its own log line says whether it rotates K and V).
 *
 * Needs head size 64, which no shipped model has: a small llama is synthesized with the stories260K vocabulary.
 */
#include "helpers.h"

static char log_rot[64];

static void on_log(llamac_log_level level, const char *line, void *ud) {
    (void)level;
    (void)ud;
    const char *k = strstr(line, "attn_rot_k = ");
    const char *v = strstr(line, "attn_rot_v = ");
    if (k) {
        log_rot[0] = k[13];
    }
    if (v) {
        log_rot[1] = v[13];
    }
}

static llamac_model *make_model(void) {
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "llama";
    sp.vocab_from = test_model("stories260K.gguf");
    sp.n_layer = 1;
    sp.n_embd = 128;
    sp.n_head = 2; /* head size 64 */
    sp.n_head_kv = 2;
    sp.n_ff = 128;
    sp.seed = 7;
    const char *path = test_tmp("rot64.gguf");
    CHECK_OK(llamac_synth_write(path, &sp));
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &m));
    return m;
}

static void check_ctx(llamac_model *m, llamac_kv_type k, llamac_kv_type v, llamac_attn_rotation rot, bool want_k,
                      bool want_v, const char *why) {
    llamac_ctx_params cp = test_ctx_params(256);
    cp.type_k = k;
    cp.type_v = v;
    cp.flash_attn = LLAMAC_FLASH_ATTN_ON;
    cp.attn_rotation = rot;
    memset(log_rot, 0, sizeof log_rot);
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, &cp, &ctx));
    if (!ctx) {
        return;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    CHECK_INT(info.attn_rot_k, want_k);
    CHECK_INT(info.attn_rot_v, want_v);
    CHECK(strstr(info.attn_rot_why, why) != NULL);
    /* llama.cpp's own account */
    CHECK_INT(log_rot[0], want_k ? '1' : '0');
    CHECK_INT(log_rot[1], want_v ? '1' : '0');
    /* the context works: a decode gives finite logits */
    llamac_token toks[4] = { 1, 403, 407, 261 };
    CHECK_OK(llamac_ctx_decode(ctx, 0, toks, 4));
    const float *l = NULL;
    size_t n = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &l, &n));
    CHECK(n == 512 && l && l[0] == l[0]);
    llamac_ctx_free(ctx);
}

static void test_rotation_reports(void) {
    llamac_log_set(on_log, LLAMAC_LOG_DEBUG, NULL);
    llamac_model *m = make_model();
    if (!m) {
        return;
    }
    check_ctx(m, LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0, LLAMAC_ATTN_ROT_AUTO, true, true, "");
    check_ctx(m, LLAMAC_KV_Q4_0, LLAMAC_KV_Q4_0, LLAMAC_ATTN_ROT_ON, true, true, "");
    check_ctx(m, LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0, LLAMAC_ATTN_ROT_OFF, false, false, "disabled");
    check_ctx(m, LLAMAC_KV_F16, LLAMAC_KV_F16, LLAMAC_ATTN_ROT_AUTO, false, false, "not quantized");
    check_ctx(m, LLAMAC_KV_Q8_0, LLAMAC_KV_F16, LLAMAC_ATTN_ROT_AUTO, true, false, "only the K cache");
    /* the process environment decides AUTO, but not ON */
    setenv("LLAMA_ATTN_ROT_DISABLE", "1", 1);
    check_ctx(m, LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0, LLAMAC_ATTN_ROT_AUTO, false, false, "disabled");
    check_ctx(m, LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0, LLAMAC_ATTN_ROT_ON, true, true, "");
    CHECK_STR(getenv("LLAMA_ATTN_ROT_DISABLE"), "1");
    unsetenv("LLAMA_ATTN_ROT_DISABLE");
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
    llamac_model_free(m);
}

int main(void) {
    RUN(test_rotation_reports);
    TESTS_DONE();
}
