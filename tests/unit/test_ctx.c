/*
 * test_ctx.c - contexts: parameter checks, the attention-rotation report (and its per-context environment switch
 * under concurrent creation), decoding and its error paths, output indexing, chunking, and cancellation.
 *
 * The rotation tests listen to llama.cpp's own log: it warns "attention rotation force disabled" exactly when it
 * read LLAMA_ATTN_ROT_DISABLE as set while building a KV cache. The log hook runs on the thread that created the
 * context, so a thread-local counter tells each thread what llama.cpp saw for its own contexts.
 */
#include "helpers.h"

#include <math.h>
#include <pthread.h>
#include <stdatomic.h>

#define STORIES "stories260K.gguf"
#define STORY_TEXT                                                                                                     \
    "Once upon a time, there was a little girl named Lily. She loved to play outside in the park. One day, she "       \
    "saw a big, red ball."

static _Thread_local int log_lines;        /* every line logged on this thread */
static _Thread_local int log_rot_disabled; /* llama.cpp's "attention rotation force disabled" on this thread */

static void count_log(llamac_log_level level, const char *line, void *user_data) {
    (void)level;
    (void)user_data;
    log_lines++;
    if (strstr(line, "attention rotation force disabled")) {
        log_rot_disabled++;
    }
}

static llamac_model *load(void) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), NULL, &m));
    return m;
}

/* A context with `cp`, or with test_ctx_params(0) when cp is NULL. */
static llamac_context *new_ctx(llamac_model *m, const llamac_ctx_params *cp) {
    llamac_ctx_params defaults = test_ctx_params(0);
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, cp ? cp : &defaults, &ctx));
    return ctx;
}

/* The story tokens with BOS; *n receives the count (at least 30). Caller frees with llamac_free. */
static llamac_token *story_tokens(llamac_model *m, size_t *n) {
    llamac_token *t = NULL;
    *n = 0;
    CHECK_OK(llamac_tokenize(m, STORY_TEXT, strlen(STORY_TEXT), LLAMAC_TOKENIZE_ADD_SPECIAL, &t, n));
    CHECK(*n >= 30);
    return t;
}

static float max_abs_diff(const float *a, const float *b, size_t n) {
    float worst = 0.0f;
    for (size_t i = 0; i < n; i++) {
        float d = fabsf(a[i] - b[i]);
        if (!(d <= worst)) {
            worst = d; /* also catches NaN */
        }
    }
    return worst;
}

static llamac_pos pos_max(llamac_context *ctx, llamac_seq_id seq) {
    llamac_pos p = -2;
    CHECK_OK(llamac_ctx_seq_pos_max(ctx, seq, &p));
    return p;
}

static void test_defaults(void) {
    llamac_model *m = load();
    if (!m) {
        return;
    }
    llamac_context *ctx = NULL;
    CHECK_OK(llamac_ctx_new(m, NULL, &ctx));
    if (ctx) {
        llamac_ctx_info info;
        CHECK_OK(llamac_ctx_get_info(ctx, &info));
        CHECK_INT(info.n_ctx, 2048); /* min(4096, n_ctx_train 2048) */
        CHECK_INT(info.n_batch, 2048);
        CHECK_INT(info.n_ubatch, 512);
        CHECK_INT(info.n_seq_max, 1);
        CHECK(info.n_threads > 0);
        CHECK_INT(info.n_threads_batch, info.n_threads);
        CHECK_INT(info.type_k, LLAMAC_KV_F16);
        CHECK_INT(info.type_v, LLAMAC_KV_F16);
        CHECK(!info.embeddings);
        CHECK(llamac_ctx_model(ctx) == m);
    }
    llamac_ctx_free(ctx);

    /* NULL arguments. */
    int dummy = 0;
    ctx = (llamac_context *)&dummy;
    CHECK_STATUS(llamac_ctx_new(NULL, NULL, &ctx), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("model");
    CHECK(ctx == NULL);
    CHECK_STATUS(llamac_ctx_new(m, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("out");
    llamac_ctx_info info;
    CHECK_STATUS(llamac_ctx_get_info(NULL, &info), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(llamac_ctx_model(NULL) == NULL);
    CHECK_STATUS(llamac_ctx_set_abort(NULL, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_ctx_cancel(NULL);
    llamac_ctx_free(NULL);
    llamac_model_free(m);
}

/* MemAvailable from /proc/meminfo in GiB, or 0 when unknown. */
static double available_gib(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    unsigned long long kb = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return (double)kb / 1048576.0;
}

static void expect_ctx_rejected(llamac_model *m, const llamac_ctx_params *cp, llamac_status expected,
                                const char *needle) {
    int dummy = 0;
    llamac_context *ctx = (llamac_context *)&dummy;
    CHECK_STATUS(llamac_ctx_new(m, cp, &ctx), expected);
    CHECK_ERROR_HAS(needle);
    CHECK(ctx == NULL);
    if (ctx && ctx != (llamac_context *)&dummy) {
        llamac_ctx_free(ctx);
    }
}

static void test_param_checks(void) {
    llamac_model *m = load();
    if (!m) {
        return;
    }
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.n_ctx = 4096;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "training context");
    CHECK_ERROR_HAS("4096");

    cp.allow_ctx_overflow = true;
    llamac_context *ctx = new_ctx(m, &cp);
    if (ctx) {
        llamac_ctx_info info;
        CHECK_OK(llamac_ctx_get_info(ctx, &info));
        CHECK_INT(info.n_ctx, 4096);
    }
    llamac_ctx_free(ctx);

    /* A KV cache of hundreds of GiB is refused before llama.cpp allocates (or logs) anything. 2^30 cells of
     * 5 layers x (K + V) x 4 heads x 8 x f16 is 640 GiB; UINT32_MAX cells are 2.5 TiB. The check reads the memory
     * available from /proc/meminfo, so where that is unknown, or larger, llama.cpp would really try. */
    double avail = available_gib();
    llamac_log_set(count_log, LLAMAC_LOG_DEBUG, NULL);
    log_lines = 0;
    if (avail > 0.0 && avail < 640.0) {
        cp.n_ctx = 1u << 30;
        expect_ctx_rejected(m, &cp, LLAMAC_E_NO_MEMORY, "MiB");
        CHECK_ERROR_HAS("n_ctx 1073741824 needs 655360.0 MiB of KV cache (f16/f16)");
    }
    if (avail > 0.0 && avail < 2560.0) {
        cp.n_ctx = UINT32_MAX;
        expect_ctx_rejected(m, &cp, LLAMAC_E_NO_MEMORY, "MiB of KV cache");
    }
    if (!(avail > 0.0 && avail < 640.0)) {
        fprintf(stderr, "note: %.0f GiB available; the huge-n_ctx checks were skipped\n", avail);
    }
    CHECK_INT(log_lines, 0);
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);

    cp = llamac_ctx_params_default();
    cp.n_seq_max = 0;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "n_seq_max 0");

    cp = llamac_ctx_params_default();
    cp.n_batch = 0;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "n_batch (0)");

    cp = llamac_ctx_params_default();
    cp.type_v = LLAMAC_KV_Q8_0;
    cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "needs flash attention");
    CHECK_ERROR_HAS("q8_0");

    cp = llamac_ctx_params_default();
    cp.type_k = (llamac_kv_type)9;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "KV cache type 9");

    cp = llamac_ctx_params_default();
    cp.flash_attn = (llamac_flash_attn)2;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "flash_attn 2");

    cp = llamac_ctx_params_default();
    cp.attn_rotation = (llamac_attn_rotation)3;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "attn_rotation 3");

    cp = llamac_ctx_params_default();
    cp.n_threads = -1;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "thread counts");

    cp = llamac_ctx_params_default();
    cp.rope.freq_base = -1.0f;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "rope.freq_base");

    cp = llamac_ctx_params_default();
    cp.rope.yarn_attn_factor = NAN;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "rope.yarn_attn_factor");

    cp = llamac_ctx_params_default();
    cp.rope.freq_scale = INFINITY;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "rope.freq_scale");

    cp = llamac_ctx_params_default();
    cp.rope.scaling = (llamac_rope_scaling)7;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "rope.scaling");

    cp = llamac_ctx_params_default();
    cp.rope.yarn_orig_ctx = UINT32_MAX;
    expect_ctx_rejected(m, &cp, LLAMAC_E_INVALID_ARGUMENT, "rope.yarn_orig_ctx");
    llamac_model_free(m);
}

static void test_kv_type_names(void) {
    static const char *const names[] = { "f16", "f32", "bf16", "q8_0", "q4_0", "q4_1", "iq4_nl", "q5_0", "q5_1" };
    for (int t = 0; t < 9; t++) {
        CHECK_STR(llamac_kv_type_name((llamac_kv_type)t), names[t]);
        llamac_kv_type back = (llamac_kv_type)-1;
        CHECK_OK(llamac_kv_type_from_name(names[t], &back));
        CHECK_INT(back, t);
    }
    llamac_kv_type back = LLAMAC_KV_F16;
    CHECK_OK(llamac_kv_type_from_name("Q8_0", &back)); /* names match whatever the case */
    CHECK_INT(back, LLAMAC_KV_Q8_0);
    CHECK(llamac_kv_type_name((llamac_kv_type)9) == NULL);
    CHECK(llamac_kv_type_name((llamac_kv_type)-1) == NULL);
    CHECK_STATUS(llamac_kv_type_from_name("q3_k", &back), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("'q3_k'");
    CHECK_ERROR_HAS("iq4_nl"); /* the accepted names are listed */
    CHECK_STATUS(llamac_kv_type_from_name("", &back), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_kv_type_from_name(NULL, &back), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_kv_type_from_name("f16", NULL), LLAMAC_E_INVALID_ARGUMENT);
}

/* Creates a context and checks its rotation report; returns how often llama.cpp said it saw rotation disabled. */
static int check_rotation(llamac_model *m, llamac_kv_type type, llamac_flash_attn fa, llamac_attn_rotation rot,
                          const char *why) {
    llamac_ctx_params cp = test_ctx_params(256);
    cp.type_k = type;
    cp.type_v = type;
    cp.flash_attn = fa;
    cp.attn_rotation = rot;
    int before = log_rot_disabled;
    llamac_context *ctx = new_ctx(m, &cp);
    int seen = log_rot_disabled - before;
    if (!ctx) {
        return -1;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    CHECK_INT(info.type_k, type);
    CHECK_INT(info.type_v, type);
    CHECK(!info.attn_rot_k);
    CHECK(!info.attn_rot_v);
    CHECK(info.attn_rot_why && strstr(info.attn_rot_why, why) != NULL);
    if (!(info.attn_rot_why && strstr(info.attn_rot_why, why))) {
        fprintf(stderr, "  attn_rot_why \"%s\" does not mention \"%s\"\n", info.attn_rot_why, why);
    }
    /* The context works with this cache. */
    llamac_token bos = 1;
    CHECK_OK(llamac_ctx_decode(ctx, 0, &bos, 1));
    llamac_ctx_free(ctx);
    return seen;
}

/* The same weights read as 2 query heads and 1 KV head of size 32: a head size that the quantized cache types
 * (blocks of 32) can store, but that llama.cpp does not rotate (it needs a multiple of 64). */
static llamac_model *load_head32(void) {
    llamac_kv_override o[3];
    memset(o, 0, sizeof o);
    o[0].key = "llama.attention.head_count";
    o[0].int_value = 2;
    o[1].key = "llama.attention.head_count_kv";
    o[1].int_value = 1;
    o[2].key = "llama.rope.dimension_count";
    o[2].int_value = 32;
    for (int i = 0; i < 3; i++) {
        o[i].type = LLAMAC_KV_OVERRIDE_INT;
    }
    llamac_model_params mp = llamac_model_params_default();
    mp.kv_overrides = o;
    mp.n_kv_overrides = 3;
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model(STORIES), &mp, &m));
    if (m) {
        llamac_model_info info;
        CHECK_OK(llamac_model_get_info(m, &info));
        CHECK_INT(info.n_head, 2);
        CHECK_INT(info.n_head_kv, 1);
        CHECK_INT(info.head_dim_k, 32);
        CHECK_INT(info.head_dim_v, 32);
    }
    return m;
}

static void test_rotation_report(void) {
    llamac_model *m = load();
    llamac_model *m32 = load_head32();
    if (!m || !m32) {
        llamac_model_free(m);
        llamac_model_free(m32);
        return;
    }
    llamac_log_set(count_log, LLAMAC_LOG_WARN, NULL);
    unsetenv("LLAMA_ATTN_ROT_DISABLE");
    CHECK_INT(check_rotation(m, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_AUTO, LLAMAC_ATTN_ROT_AUTO, "not quantized"), 0);
    CHECK_INT(check_rotation(m, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_OFF, LLAMAC_ATTN_ROT_ON, "not quantized"), 0);
    CHECK_INT(
        check_rotation(m, LLAMAC_KV_F32, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_AUTO, "(f32/f32) are not quantized"), 0);
    CHECK_INT(check_rotation(m, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_AUTO, LLAMAC_ATTN_ROT_OFF, "disabled"), 1);

    /* Head size 8 cannot hold a quantized cache at all: every quantized type has blocks of 32 values. */
    llamac_ctx_params cp = llamac_ctx_params_default();
    cp.type_k = LLAMAC_KV_Q8_0;
    cp.type_v = LLAMAC_KV_Q8_0;
    cp.flash_attn = LLAMAC_FLASH_ATTN_ON;
    int dummy = 0;
    llamac_context *ctx = (llamac_context *)&dummy;
    CHECK_STATUS(llamac_ctx_new(m, &cp, &ctx), LLAMAC_E_CONTEXT_CREATE);
    CHECK_ERROR_HAS("does not divide n_embd_head_k=8");
    CHECK(ctx == NULL);

    /* Head size 32: quantized, but not a multiple of 64, whatever flash attention does. */
    CHECK_INT(check_rotation(m32, LLAMAC_KV_F16, LLAMAC_FLASH_ATTN_AUTO, LLAMAC_ATTN_ROT_AUTO, "not quantized"), 0);
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_AUTO, LLAMAC_ATTN_ROT_AUTO, "multiple of 64"), 0);
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_ON, "multiple of 64"), 0);
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q4_0, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_AUTO, "head size 32"), 0);
    /* Off for one context: llama.cpp itself reports it force-disabled, and the environment is as before. */
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_OFF, "disabled"), 1);
    CHECK(getenv("LLAMA_ATTN_ROT_DISABLE") == NULL);

    /* AUTO honours the environment; ON overrides it for its context only. */
    setenv("LLAMA_ATTN_ROT_DISABLE", "1", 1);
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_AUTO, "disabled"), 1);
    CHECK_INT(check_rotation(m32, LLAMAC_KV_Q8_0, LLAMAC_FLASH_ATTN_ON, LLAMAC_ATTN_ROT_ON, "multiple of 64"), 0);
    CHECK(getenv("LLAMA_ATTN_ROT_DISABLE") && strcmp(getenv("LLAMA_ATTN_ROT_DISABLE"), "1") == 0);
    unsetenv("LLAMA_ATTN_ROT_DISABLE");
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
    llamac_model_free(m);
    llamac_model_free(m32);
}

struct rot_worker {
    llamac_model *model;
    llamac_attn_rotation rotation;
    int iterations;
    int created;
    int wrong_report; /* contexts whose attn_rot_why does not match the setting asked for */
    int wrong_llama;  /* contexts for which llama.cpp saw the opposite setting */
};

static void *rot_thread(void *arg) {
    struct rot_worker *w = arg;
    bool off = w->rotation == LLAMAC_ATTN_ROT_OFF;
    llamac_ctx_params cp = test_ctx_params(256);
    cp.type_k = LLAMAC_KV_Q8_0;
    cp.type_v = LLAMAC_KV_Q8_0;
    cp.flash_attn = LLAMAC_FLASH_ATTN_ON;
    cp.attn_rotation = w->rotation;
    for (int i = 0; i < w->iterations; i++) {
        int before = log_rot_disabled;
        llamac_context *ctx = NULL;
        if (llamac_ctx_new(w->model, &cp, &ctx) != LLAMAC_OK) {
            continue;
        }
        w->created++;
        bool saw_disabled = log_rot_disabled > before;
        if (saw_disabled != off) {
            w->wrong_llama++;
        }
        llamac_ctx_info info;
        if (llamac_ctx_get_info(ctx, &info) != LLAMAC_OK ||
            !strstr(info.attn_rot_why, off ? "disabled" : "multiple of 64")) {
            w->wrong_report++;
        }
        llamac_ctx_free(ctx);
    }
    return NULL;
}

static void run_rotation_race(llamac_model *m) {
    enum { ITERATIONS = 40 };
    struct rot_worker w[2] = {
        { m, LLAMAC_ATTN_ROT_ON, ITERATIONS, 0, 0, 0 },
        { m, LLAMAC_ATTN_ROT_OFF, ITERATIONS, 0, 0, 0 },
    };
    pthread_t th[2];
    int started = 0;
    for (int i = 0; i < 2; i++) {
        if (pthread_create(&th[i], NULL, rot_thread, &w[i]) == 0) {
            started++;
        }
    }
    CHECK_INT(started, 2);
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    for (int i = 0; i < 2; i++) {
        CHECK_INT(w[i].created, ITERATIONS);
        CHECK_INT(w[i].wrong_report, 0);
        CHECK_INT(w[i].wrong_llama, 0);
    }
}

static void test_rotation_threads(void) {
    llamac_model *m = load_head32();
    if (!m) {
        return;
    }
    llamac_log_set(count_log, LLAMAC_LOG_WARN, NULL);
    setenv("LLAMA_ATTN_ROT_DISABLE", "0", 1);
    run_rotation_race(m);
    const char *env = getenv("LLAMA_ATTN_ROT_DISABLE");
    CHECK(env != NULL);
    CHECK_STR(env, "0");

    unsetenv("LLAMA_ATTN_ROT_DISABLE");
    run_rotation_race(m);
    CHECK(getenv("LLAMA_ATTN_ROT_DISABLE") == NULL);
    llamac_log_set(NULL, LLAMAC_LOG_NONE, NULL);
    llamac_model_free(m);
}

static void test_decode_errors(void) {
    llamac_model *m = load();
    llamac_context *ctx = m ? new_ctx(m, NULL) : NULL;
    if (!ctx) {
        llamac_model_free(m);
        return;
    }
    llamac_token bad_last[] = { 1, 10, 20, 512 };
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, bad_last, 4), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("token 512 at index 3");
    CHECK_INT(pos_max(ctx, 0), -1);
    llamac_token negative[] = { -1, 10 };
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, negative, 2), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("token -1 at index 0");
    CHECK_INT(pos_max(ctx, 0), -1);

    llamac_token ok[] = { 1, 10 };
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, ok, 0), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("no tokens");
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, NULL, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_decode(NULL, 0, ok, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_decode(ctx, 1, ok, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id 1");
    CHECK_STATUS(llamac_ctx_decode(ctx, -1, ok, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("sequence id -1");
    CHECK_INT(pos_max(ctx, 0), -1);

    CHECK_OK(llamac_ctx_decode(ctx, 0, ok, 2));
    CHECK_INT(pos_max(ctx, 0), 1);
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_decode_overflow(void) {
    llamac_model *m = load();
    if (!m) {
        return;
    }
    llamac_ctx_params cp = test_ctx_params(64);
    llamac_context *ctx = new_ctx(m, &cp);
    if (!ctx) {
        llamac_model_free(m);
        return;
    }
    llamac_ctx_info info;
    CHECK_OK(llamac_ctx_get_info(ctx, &info));
    /* llama.cpp rounds the context up to a multiple of 256 cells; the report gives what was allocated. */
    CHECK_INT(info.n_ctx, 256);
    size_t n = (size_t)info.n_ctx + 1;
    llamac_token *t = calloc(n, sizeof *t);
    CHECK(t != NULL);
    if (t) {
        for (size_t i = 0; i < n; i++) {
            t[i] = (llamac_token)(1 + i % 500);
        }
        CHECK_STATUS(llamac_ctx_decode(ctx, 0, t, n), LLAMAC_E_CONTEXT_FULL);
        CHECK_ERROR_HAS("257 tokens do not fit");
        CHECK_INT(pos_max(ctx, 0), -1); /* nothing was decoded */

        /* Exactly full fits; one more does not. */
        CHECK_OK(llamac_ctx_decode(ctx, 0, t, n - 1));
        CHECK_INT(pos_max(ctx, 0), (llamac_pos)n - 2);
        CHECK_STATUS(llamac_ctx_decode(ctx, 0, t, 1), LLAMAC_E_CONTEXT_FULL);
        CHECK_ERROR_HAS("0 free");
        CHECK_INT(pos_max(ctx, 0), (llamac_pos)n - 2);
    }
    free(t);
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

static void test_output_index(void) {
    llamac_model *m = load();
    llamac_context *ctx = m ? new_ctx(m, NULL) : NULL;
    if (!ctx) {
        llamac_model_free(m);
        return;
    }
    const float *logits = (const float *)&m;
    size_t n_vocab = 7;
    CHECK_STATUS(llamac_ctx_logits(ctx, -1, &logits, &n_vocab), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("nothing has been decoded");
    CHECK(logits == NULL);
    CHECK_INT(n_vocab, 0);

    llamac_token t[] = { 1, 403, 407 };
    CHECK_OK(llamac_ctx_decode(ctx, 0, t, 3));
    CHECK_STATUS(llamac_ctx_logits(ctx, 1, &logits, &n_vocab), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("output index 1");
    CHECK_STATUS(llamac_ctx_logits(ctx, -2, &logits, &n_vocab), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("output index -2");
    CHECK_STATUS(llamac_ctx_logits(ctx, 0, NULL, &n_vocab), LLAMAC_E_INVALID_ARGUMENT);

    const float *last = NULL, *first = NULL;
    size_t n_last = 0, n_first = 0;
    CHECK_OK(llamac_ctx_logits(ctx, -1, &last, &n_last));
    CHECK_OK(llamac_ctx_logits(ctx, 0, &first, &n_first));
    CHECK_INT(n_last, 512);
    CHECK_INT(n_first, 512);
    CHECK(last && first && memcmp(last, first, 512 * sizeof(float)) == 0);
    bool finite = last != NULL;
    for (size_t i = 0; last && i < n_last; i++) {
        finite = finite && isfinite(last[i]);
    }
    CHECK(finite);

    const float *embd = (const float *)&m;
    size_t n_embd = 7;
    CHECK_STATUS(llamac_ctx_embeddings(ctx, -1, &embd, &n_embd), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("without embeddings");
    CHECK(embd == NULL);
    CHECK_INT(n_embd, 0);
    CHECK_STATUS(llamac_ctx_embeddings_seq(ctx, 0, &embd, &n_embd), LLAMAC_E_UNSUPPORTED);
    CHECK_ERROR_HAS("without embeddings");
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

/* Decodes the first 30 story tokens with the given n_batch and copies the last logits into out[512]. */
static void decode_30(llamac_model *m, uint32_t n_batch, float *out) {
    llamac_ctx_params cp = test_ctx_params(0);
    cp.n_batch = n_batch;
    cp.n_ubatch = n_batch < 512 ? n_batch : 512;
    llamac_context *ctx = new_ctx(m, &cp);
    size_t n = 0;
    llamac_token *t = story_tokens(m, &n);
    if (ctx && t && n >= 30) {
        llamac_ctx_info info;
        CHECK_OK(llamac_ctx_get_info(ctx, &info));
        CHECK_INT(info.n_batch, n_batch);
        CHECK_OK(llamac_ctx_decode(ctx, 0, t, 30));
        CHECK_INT(pos_max(ctx, 0), 29);
        const float *logits = NULL;
        size_t nv = 0;
        CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &nv));
        CHECK_INT(nv, 512);
        if (logits) {
            memcpy(out, logits, 512 * sizeof *out);
        }
    }
    llamac_free(t);
    llamac_ctx_free(ctx);
}

static void test_chunking(void) {
    llamac_model *m = load();
    if (!m) {
        return;
    }
    static float small[512], whole[512];
    for (size_t i = 0; i < 512; i++) {
        small[i] = NAN;
        whole[i] = -NAN;
    }
    decode_30(m, 8, small);
    decode_30(m, 2048, whole);
    float d = max_abs_diff(small, whole, 512);
    CHECK(d < 1e-4f);
    if (!(d < 1e-4f)) {
        fprintf(stderr, "  n_batch 8 vs 2048: max logit difference %g\n", (double)d);
    }
    llamac_model_free(m);
}

static atomic_int abort_calls;

static bool abort_always(void *user_data) {
    (void)user_data;
    atomic_fetch_add(&abort_calls, 1);
    return true;
}

static void test_cancel(void) {
    llamac_model *m = load();
    llamac_context *ctx = m ? new_ctx(m, NULL) : NULL;
    llamac_context *ref = m ? new_ctx(m, NULL) : NULL;
    size_t n = 0;
    llamac_token *t = m ? story_tokens(m, &n) : NULL;
    if (!ctx || !ref || !t) {
        goto done;
    }
    /* The reference logits. */
    const float *logits = NULL;
    size_t nv = 0;
    static float want[512];
    CHECK_OK(llamac_ctx_decode(ref, 0, t, n));
    CHECK_OK(llamac_ctx_logits(ref, -1, &logits, &nv));
    if (logits) {
        memcpy(want, logits, sizeof want);
    }

    /* An abort callback that always says stop. */
    atomic_store(&abort_calls, 0);
    CHECK_OK(llamac_ctx_set_abort(ctx, abort_always, NULL));
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, t, n), LLAMAC_E_CANCELLED);
    CHECK_ERROR_HAS("cancelled");
    CHECK(atomic_load(&abort_calls) > 0);
    CHECK_INT(pos_max(ctx, 0), -1); /* llama.cpp drops the aborted batch */
    CHECK_STATUS(llamac_ctx_logits(ctx, -1, &logits, &nv), LLAMAC_E_INVALID_ARGUMENT);

    CHECK_OK(llamac_ctx_set_abort(ctx, NULL, NULL));
    CHECK_OK(llamac_ctx_decode(ctx, 0, t, n));
    CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &nv));
    CHECK(logits && max_abs_diff(logits, want, 512) < 1e-5f);

    /* A cancel request before a decode stops that decode only. */
    CHECK_OK(llamac_ctx_kv_clear(ctx));
    llamac_ctx_cancel(ctx);
    CHECK_STATUS(llamac_ctx_decode(ctx, 0, t, n), LLAMAC_E_CANCELLED);
    CHECK_ERROR_HAS("cancelled");
    CHECK_INT(pos_max(ctx, 0), -1);
    CHECK_OK(llamac_ctx_decode(ctx, 0, t, n));
    CHECK_INT(pos_max(ctx, 0), (llamac_pos)n - 1);
    CHECK_OK(llamac_ctx_logits(ctx, -1, &logits, &nv));
    CHECK(logits && max_abs_diff(logits, want, 512) < 1e-5f);
done:
    llamac_free(t);
    llamac_ctx_free(ref);
    llamac_ctx_free(ctx);
    llamac_model_free(m);
}

int main(void) {
    RUN(test_defaults);
    RUN(test_param_checks);
    RUN(test_kv_type_names);
    RUN(test_rotation_report);
    RUN(test_rotation_threads);
    RUN(test_decode_errors);
    RUN(test_decode_overflow);
    RUN(test_output_index);
    RUN(test_chunking);
    RUN(test_cancel);
    TESTS_DONE();
}
