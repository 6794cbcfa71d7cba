/*
 * test_kv.c - KV-cache memory figures and attention rotation, against what llama.cpp really does.
 *
 * The computed sizes must equal the bytes llama.cpp allocates (its own memory accounting) for stories260K (head
 * size 8: unquantized types only, since no quantized block fits a head) and a synthesized llama with head size 64
 * (every type), at several context sizes and sequence counts. Rotation must change the logits with a
 * quantized cache and leave them bit for bit unchanged with F16, and two threads creating contexts at once must
 * each get the rotation they asked for, which is checked by the logits they compute.
 */
#include "helpers.h"

#include <pthread.h>

static const llamac_token toks[] = { 1,   403, 407, 261, 330, 297, 260, 416, 270, 384, 263, 290, 295, 283, 328, 275,
                                     273, 268, 406, 266, 302, 309, 277, 434, 269, 282, 262, 300, 265, 287, 279, 272 };
#define N_TOKS (sizeof toks / sizeof toks[0])

static llamac_model *load(const char *path) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &m));
    return m;
}

/* A one-layer llama with head size 64, the smallest shape llama.cpp rotates. */
static llamac_model *make_head64(void) {
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "llama";
    sp.vocab_from = test_model("stories260K.gguf");
    sp.n_layer = 2;
    sp.n_embd = 128;
    sp.n_head = 2;
    sp.n_head_kv = 2;
    sp.n_ff = 128;
    sp.seed = 11;
    sp.untied_output = true;
    const char *path = test_tmp("kv64.gguf");
    CHECK_OK(llamac_synth_write(path, &sp));
    return load(path);
}

static llamac_ctx_params params(llamac_kv_type k, llamac_kv_type v, llamac_flash_attn fa, uint32_t n_ctx) {
    llamac_ctx_params cp = test_ctx_params(n_ctx);
    cp.type_k = k;
    cp.type_v = v;
    cp.flash_attn = fa;
    return cp;
}

/* Computed figures equal llama.cpp's allocation for this configuration. */
static void check_alloc(llamac_model *m, const llamac_ctx_params *cp) {
    llamac_kv_memory mem;
    CHECK_OK(llamac_kv_memory_compute(m, cp, &mem));
    CHECK(mem.usable);
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, cp, &ctx));
    if (!ctx) {
        return;
    }
    uint64_t got = 0;
    CHECK_OK(llamac_ctx_kv_allocated(ctx, &got));
    if (got != mem.total_bytes) {
        fprintf(stderr, "  %s/%s n_ctx %u n_seq %u unified %d: computed %llu, allocated %llu\n",
                llamac_kv_type_name(cp->type_k), llamac_kv_type_name(cp->type_v), cp->n_ctx, cp->n_seq_max,
                (int)cp->kv_unified, (unsigned long long)mem.total_bytes, (unsigned long long)got);
    }
    CHECK(got == mem.total_bytes && got > 0);
    CHECK_INT(mem.k_bytes + mem.v_bytes, mem.total_bytes); /* the CPU buffer needs no padding for these shapes */
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    CHECK_INT(info.n_ctx, mem.n_ctx);
    llamac_ctx_free(ctx);
}

static void test_figures_stories(void) {
    llamac_model *m = load(test_model("stories260K.gguf"));
    if (!m) {
        return;
    }
    /* head size 8 holds no quantized type (blocks of 32 values): the unquantized ones, at several sizes */
    const llamac_kv_type ks[] = { LLAMAC_KV_F16, LLAMAC_KV_F32, LLAMAC_KV_BF16 };
    const uint32_t ctxs[] = { 256, 300, 1024 };
    for (size_t i = 0; i < sizeof ks / sizeof ks[0]; i++) {
        for (size_t j = 0; j < sizeof ctxs / sizeof ctxs[0]; j++) {
            llamac_ctx_params cp = params(ks[i], ks[(i + j) % 3], LLAMAC_FLASH_ATTN_AUTO, ctxs[j]);
            check_alloc(m, &cp);
        }
    }
    /* several sequences: one stream each, or one unified stream */
    llamac_ctx_params cp = params(LLAMAC_KV_BF16, LLAMAC_KV_F32, LLAMAC_FLASH_ATTN_OFF, 1000);
    cp.n_seq_max = 3;
    check_alloc(m, &cp);
    cp.kv_unified = true;
    check_alloc(m, &cp);

    /* the arithmetic, by hand: 5 layers, 4 KV heads of 8 -> rows of 32 elements */
    llamac_kv_memory mem;
    cp = params(LLAMAC_KV_Q4_0, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_OFF, 300);
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK_INT(mem.n_ctx, 512);
    CHECK_INT(mem.n_layer, 5);
    CHECK_INT(mem.n_embd_k, 32);
    CHECK_INT(mem.k_row_bytes, 18); /* one q4_0 block: 2-byte scale + 16 bytes of nibbles */
    CHECK_INT(mem.v_row_bytes, 64);
    CHECK(mem.k_bytes_per_element == 18.0 / 32.0 && mem.v_bytes_per_element == 2.0);
    CHECK_INT(mem.bytes_per_token, (18 + 64) * 5);
    CHECK_INT(mem.total_bytes, 512ull * (18 + 64) * 5);
    cp.n_seq_max = 3; /* 512 / 3 -> 256 cells per stream, 3 streams: 768 in all */
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK_INT(mem.n_cells, 256);
    CHECK_INT(mem.n_streams, 3);
    CHECK_INT(mem.n_ctx, 768);

    /* configurations that cannot be made get their figures and the reason, and are refused: with flash attention
     * by llama.cpp, without it by llamac (llama.cpp would read 8-value heads out of 32-value blocks) */
    cp = params(LLAMAC_KV_Q4_0, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_ON, 256);
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK(!mem.usable && strstr(mem.why, "blocks of 32 values, which do not divide the head size 8"));
    CHECK(mem.total_bytes == 256ull * (18 + 64) * 5);
    llamac_context *ctx = NULL;
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_CONTEXT_CREATE);
    cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK(!mem.usable && strstr(mem.why, "do not divide the head size 8"));
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("K cache type q4_0 stores blocks of 32 values, which do not divide the head size 8");
    cp = params(LLAMAC_KV_F16, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_OFF, 256);
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK(!mem.usable && strstr(mem.why, "needs flash attention"));

    /* bad input */
    CHECK_STATUS(llamac_kv_memory_compute(NULL, NULL, &mem), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_kv_memory_compute(m, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    cp = llamac_ctx_params_default();
    cp.type_k = (llamac_kv_type)42;
    CHECK_STATUS(llamac_kv_memory_compute(m, &cp, &mem), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("42");
    cp = llamac_ctx_params_default();
    cp.n_seq_max = 0;
    CHECK_STATUS(llamac_kv_memory_compute(m, &cp, &mem), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_seq_max 0");
    uint64_t bytes = 1;
    CHECK_STATUS(llamac_ctx_kv_allocated(NULL, &bytes), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(bytes, 0);
    llamac_model_free(m);

    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *vm = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), &mp, &vm));
    CHECK_STATUS(llamac_kv_memory_compute(vm, NULL, &mem), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("vocab_only");
    llamac_model_free(vm);
}

static void test_figures_head64(void) {
    llamac_model *m = make_head64();
    if (!m) {
        return;
    }
    const llamac_kv_type pairs[][2] = {
        { LLAMAC_KV_F16, LLAMAC_KV_F16 },   { LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0 },     { LLAMAC_KV_Q4_0, LLAMAC_KV_Q4_0 },
        { LLAMAC_KV_Q5_1, LLAMAC_KV_Q4_0 }, { LLAMAC_KV_IQ4_NL, LLAMAC_KV_IQ4_NL }, { LLAMAC_KV_Q4_1, LLAMAC_KV_Q5_0 },
        { LLAMAC_KV_Q8_0, LLAMAC_KV_F16 },  { LLAMAC_KV_BF16, LLAMAC_KV_F32 },
    };
    const uint32_t ctxs[] = { 256, 768, 2048 };
    for (size_t i = 0; i < sizeof pairs / sizeof pairs[0]; i++) {
        for (size_t j = 0; j < sizeof ctxs / sizeof ctxs[0]; j++) {
            llamac_ctx_params cp = params(pairs[i][0], pairs[i][1], LLAMAC_FLASH_ATTN_ON, ctxs[j]);
            check_alloc(m, &cp);
        }
    }
    llamac_ctx_params cp = params(LLAMAC_KV_Q4_0, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, 512);
    cp.n_seq_max = 2;
    check_alloc(m, &cp);
    llamac_kv_memory mem;
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK_INT(mem.k_row_bytes, 4 * 18); /* 128 elements: four q4_0 blocks */
    CHECK_INT(mem.v_row_bytes, 4 * 34); /* four q8_0 blocks */
    CHECK_INT(mem.total_bytes, 512ull * (4 * 18 + 4 * 34) * 2);
    llamac_model_free(m);
}

/* Logits of the last of N_TOKS tokens decoded in a fresh context; false when the context cannot be made. */
static bool logits_for(llamac_model *m, const llamac_ctx_params *cp, float *out, size_t cap, llamac_ctx_info *info) {
    llamac_context *ctx = NULL;
    if (llamac_ctx_new(m, cp, &ctx) != LLAMAC_OK) {
        return false;
    }
    bool ok = llamac_ctx_decode(ctx, 0, toks, N_TOKS) == LLAMAC_OK;
    const float *l = NULL;
    size_t n = 0;
    ok = ok && llamac_ctx_logits(ctx, -1, &l, &n) == LLAMAC_OK && n == cap;
    if (ok) {
        memcpy(out, l, n * sizeof *out);
    }
    if (info) {
        /* the reason string belongs to the context: keep a copy that outlives it */
        static _Thread_local char why[8][128];
        static _Thread_local int next;
        ok = ok && llamac_ctx_get_info(ctx, info) == LLAMAC_OK;
        char *copy = why[next++ % 8];
        snprintf(copy, sizeof why[0], "%s", ok ? info->attn_rot_why : "");
        info->attn_rot_why = copy;
    }
    llamac_ctx_free(ctx);
    return ok;
}

static double max_abs_diff(const float *a, const float *b, size_t n) {
    double d = 0;
    for (size_t i = 0; i < n; i++) {
        double x = (double)a[i] - (double)b[i];
        d = x < 0 ? (-x > d ? -x : d) : (x > d ? x : d);
    }
    return d;
}

static float ref_on[512], ref_off[512];

static void test_rotation_effect(void) {
    llamac_model *m = make_head64();
    if (!m) {
        return;
    }
    static float a[512], b[512], c[512];
    llamac_ctx_info ia, ib;
    /* quantized cache: the rotation changes what is stored, so it changes the logits, but only a little */
    llamac_ctx_params cp = params(LLAMAC_KV_Q4_0, LLAMAC_KV_Q4_0, LLAMAC_FLASH_ATTN_ON, 256);
    cp.attn_rotation = LLAMAC_ATTN_ROT_ON;
    CHECK(logits_for(m, &cp, a, 512, &ia));
    CHECK(logits_for(m, &cp, c, 512, NULL));
    CHECK(memcmp(a, c, sizeof a) == 0); /* the same settings give the same bits */
    cp.attn_rotation = LLAMAC_ATTN_ROT_OFF;
    CHECK(logits_for(m, &cp, b, 512, &ib));
    CHECK(ia.attn_rot_k && ia.attn_rot_v && !ib.attn_rot_k && !ib.attn_rot_v);
    double d = max_abs_diff(a, b, 512);
    fprintf(stderr, "  q4_0 cache, rotation on vs off: max |logit difference| %.3g\n", d);
    CHECK(d > 0.0 && d < 1.0);
    memcpy(ref_on, a, sizeof a);
    memcpy(ref_off, b, sizeof b);

    /* F16 cache: nothing is rotated, so on and off give identical logits */
    cp = params(LLAMAC_KV_F16, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_ON, 256);
    cp.attn_rotation = LLAMAC_ATTN_ROT_ON;
    CHECK(logits_for(m, &cp, a, 512, &ia));
    cp.attn_rotation = LLAMAC_ATTN_ROT_OFF;
    CHECK(logits_for(m, &cp, b, 512, &ib));
    CHECK(!ia.attn_rot_k && !ib.attn_rot_k && strstr(ia.attn_rot_why, "not quantized"));
    CHECK(memcmp(a, b, sizeof a) == 0);
    llamac_model_free(m);
}

static void test_stories_rotation_inactive(void) {
    llamac_model *m = load(test_model("stories260K.gguf"));
    if (!m) {
        return;
    }
    static float a[512], b[512];
    llamac_ctx_info ia, ib;
    /* head size 8 takes only unquantized caches, which llama.cpp never rotates: asking changes nothing */
    llamac_ctx_params cp = params(LLAMAC_KV_F16, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_AUTO, 256);
    cp.attn_rotation = LLAMAC_ATTN_ROT_ON;
    CHECK(logits_for(m, &cp, a, 512, &ia));
    CHECK(!ia.attn_rot_k && !ia.attn_rot_v && strstr(ia.attn_rot_why, "not quantized"));
    cp.attn_rotation = LLAMAC_ATTN_ROT_OFF;
    CHECK(logits_for(m, &cp, b, 512, &ib));
    CHECK(memcmp(a, b, sizeof a) == 0);
    /* and the head size is why a quantized cache, rotated or not, cannot be had */
    llamac_kv_memory mem;
    cp = params(LLAMAC_KV_Q8_0, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, 256);
    CHECK_OK(llamac_kv_memory_compute(m, &cp, &mem));
    CHECK(!mem.usable && strstr(mem.why, "head size 8"));
    llamac_model_free(m);
}

struct worker {
    llamac_model *model;
    llamac_attn_rotation rot;
    int wrong;
    int failed;
};

static void *work(void *arg) {
    struct worker *w = arg;
    static _Thread_local float l[512];
    for (int i = 0; i < 6; i++) {
        llamac_ctx_params cp = params(LLAMAC_KV_Q4_0, LLAMAC_KV_Q4_0, LLAMAC_FLASH_ATTN_ON, 256);
        cp.attn_rotation = w->rot;
        llamac_ctx_info info;
        if (!logits_for(w->model, &cp, l, 512, &info)) {
            w->failed++;
            continue;
        }
        const float *want = w->rot == LLAMAC_ATTN_ROT_ON ? ref_on : ref_off;
        if (memcmp(l, want, sizeof l) != 0 || info.attn_rot_k != (w->rot == LLAMAC_ATTN_ROT_ON)) {
            w->wrong++;
        }
    }
    return NULL;
}

/* Two threads create contexts at the same time, one with rotation and one without; each must compute exactly the
 * logits of its own setting (test_rotation_effect showed that the two settings differ). */
static void test_threads(void) {
    llamac_model *m = make_head64();
    if (!m) {
        return;
    }
    struct worker w[2] = { { m, LLAMAC_ATTN_ROT_ON, 0, 0 }, { m, LLAMAC_ATTN_ROT_OFF, 0, 0 } };
    pthread_t t[2];
    for (int i = 0; i < 2; i++) {
        CHECK(pthread_create(&t[i], NULL, work, &w[i]) == 0);
    }
    for (int i = 0; i < 2; i++) {
        pthread_join(t[i], NULL);
        CHECK_INT(w[i].failed, 0);
        CHECK_INT(w[i].wrong, 0);
    }
    llamac_model_free(m);
}

/* llamac_engine_kv_memory: the cache of the context an engine creates (one unified stream for its slots), by the
 * engine's default context and by n_ctx, equal to what an engine with those parameters allocates; its errors. */
static void test_engine_kv(void) {
    llamac_model *m = load(test_model("stories260K.gguf"));
    if (!m) {
        return;
    }
    llamac_model_info mi;
    CHECK_OK(llamac_model_get_info(m, &mi));
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_slots = 3;
    ep.n_ctx = 0;
    const uint32_t sizes[] = { 0, 1000 };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++) {
        ep.n_ctx = sizes[i];
        llamac_kv_memory mem;
        CHECK_OK(llamac_engine_kv_memory(m, &ep, &mem));
        uint32_t per_slot = mi.n_ctx_train > 0 && mi.n_ctx_train < 4096 ? (uint32_t)mi.n_ctx_train : 4096;
        uint32_t want = ep.n_ctx ? ep.n_ctx : 3 * per_slot;
        CHECK_INT(mem.n_ctx, (want + 255) / 256 * 256);
        CHECK_INT(mem.n_streams, 1);
        CHECK_INT(mem.total_bytes, (uint64_t)mem.n_ctx * (64 + 64) * 5); /* f16 rows of 32, 5 layers */
        llamac_engine *e = NULL;
        CHECK_OK(llamac_engine_new(m, &ep, &e));
        llamac_engine_stats st = { 0 };
        if (e) {
            CHECK_OK(llamac_engine_get_stats(e, &st));
            CHECK_INT(st.n_ctx, mem.n_ctx);
        }
        llamac_engine_free(e);
    }
    llamac_kv_memory mem;
    CHECK_STATUS(llamac_engine_kv_memory(NULL, &ep, &mem), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_engine_kv_memory(m, &ep, NULL), LLAMAC_E_INVALID_ARGUMENT);
    ep.n_slots = 0;
    CHECK_STATUS(llamac_engine_kv_memory(m, &ep, &mem), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(strstr(llamac_last_error(), "n_slots 0") != NULL);
    llamac_model_free(m);
}

int main(void) {
    RUN(test_figures_stories);
    RUN(test_figures_head64);
    RUN(test_rotation_effect);
    RUN(test_stories_rotation_inactive);
    RUN(test_threads);
    RUN(test_engine_kv);
    TESTS_DONE();
}
