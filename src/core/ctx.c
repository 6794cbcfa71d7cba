/*
 * ctx.c - contexts: creation with checked parameters, decoding, and access to logits and embeddings.
 *
 * Everything llama.cpp would abort on or silently mis-handle is checked before it is called: parameter ranges,
 * a KV cache that cannot fit in memory, token ids, sequence ids and positions. Attention rotation is a
 * process-wide environment switch in llama.cpp, read while a context is created; we set it per context under a
 * lock, so concurrent creations with different settings do not race.
 */
#include "internal.h"

#include <ggml.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static pthread_mutex_t env_lock = PTHREAD_MUTEX_INITIALIZER;

static const struct {
    const char *name;
    enum ggml_type type;
} kv_types[] = {
    [LLAMAC_KV_F16] = { "f16", GGML_TYPE_F16 },          [LLAMAC_KV_F32] = { "f32", GGML_TYPE_F32 },
    [LLAMAC_KV_BF16] = { "bf16", GGML_TYPE_BF16 },       [LLAMAC_KV_Q8_0] = { "q8_0", GGML_TYPE_Q8_0 },
    [LLAMAC_KV_Q4_0] = { "q4_0", GGML_TYPE_Q4_0 },       [LLAMAC_KV_Q4_1] = { "q4_1", GGML_TYPE_Q4_1 },
    [LLAMAC_KV_IQ4_NL] = { "iq4_nl", GGML_TYPE_IQ4_NL }, [LLAMAC_KV_Q5_0] = { "q5_0", GGML_TYPE_Q5_0 },
    [LLAMAC_KV_Q5_1] = { "q5_1", GGML_TYPE_Q5_1 },
};
#define N_KV_TYPES (sizeof kv_types / sizeof kv_types[0])

static int strcasecmp_ascii(const char *a, const char *b) {
    for (;; a++, b++) {
        int ca = (*a >= 'A' && *a <= 'Z') ? *a + 32 : *a;
        int cb = (*b >= 'A' && *b <= 'Z') ? *b + 32 : *b;
        if (ca != cb || ca == 0) {
            return ca - cb;
        }
    }
}

static bool kv_type_ok(llamac_kv_type t) {
    return (unsigned)t < N_KV_TYPES;
}

const char *llamac_kv_type_name(llamac_kv_type type) {
    return kv_type_ok(type) ? kv_types[type].name : NULL;
}

llamac_status llamac_kv_type_from_name(const char *name, llamac_kv_type *out) {
    if (!name || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_kv_type_from_name: NULL argument");
    }
    for (size_t i = 0; i < N_KV_TYPES; i++) {
        if (strcasecmp_ascii(name, kv_types[i].name) == 0) {
            *out = (llamac_kv_type)i;
            return llamac__ok();
        }
    }
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                        "unknown KV cache type '%s' (expected f32, f16, bf16, q8_0, q4_0, q4_1, iq4_nl, q5_0, q5_1)",
                        name);
}

llamac_ctx_params llamac_ctx_params_default(void) {
    llamac_ctx_params p;
    memset(&p, 0, sizeof p);
    p.n_ctx = 0;
    p.n_batch = 2048;
    p.n_ubatch = 512;
    p.n_seq_max = 1;
    p.flash_attn = LLAMAC_FLASH_ATTN_AUTO;
    p.type_k = LLAMAC_KV_F16;
    p.type_v = LLAMAC_KV_F16;
    p.attn_rotation = LLAMAC_ATTN_ROT_AUTO;
    p.pooling = LLAMAC_POOLING_DEFAULT;
    p.rope = llamac__rope_params_default();
    p.offload_kqv = true;
    p.op_offload = true;
    return p;
}

llamac_rope_params llamac__rope_params_default(void) {
    llamac_rope_params r;
    memset(&r, 0, sizeof r);
    r.scaling = LLAMAC_ROPE_SCALING_DEFAULT;
    r.yarn_ext_factor = -1.0f;
    r.yarn_attn_factor = -1.0f;
    r.yarn_beta_fast = -1.0f;
    r.yarn_beta_slow = -1.0f;
    return r;
}

llamac_status llamac__rope_params_check(const llamac_rope_params *r) {
    if (r->scaling < LLAMAC_ROPE_SCALING_DEFAULT || r->scaling > LLAMAC_ROPE_SCALING_YARN) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "rope.scaling %d is invalid", (int)r->scaling);
    }
    const struct {
        const char *name;
        float value;
        bool negative_ok; /* negative: the model's value */
    } nums[] = {
        { "freq_base", r->freq_base, false },
        { "freq_scale", r->freq_scale, false },
        { "yarn_ext_factor", r->yarn_ext_factor, true },
        { "yarn_attn_factor", r->yarn_attn_factor, true },
        { "yarn_beta_fast", r->yarn_beta_fast, true },
        { "yarn_beta_slow", r->yarn_beta_slow, true },
    };
    for (size_t i = 0; i < sizeof nums / sizeof nums[0]; i++) {
        if (!isfinite(nums[i].value) || (!nums[i].negative_ok && nums[i].value < 0.0f)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "rope.%s %g must be a finite number%s", nums[i].name,
                                (double)nums[i].value, nums[i].negative_ok ? "" : " >= 0");
        }
    }
    if (r->yarn_orig_ctx > (uint32_t)INT32_MAX) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "rope.yarn_orig_ctx %u is too large", r->yarn_orig_ctx);
    }
    return LLAMAC_OK;
}

/* Physical cores, as llama.cpp's tools count them; hyperthreads do not speed up matrix work. */
int32_t llamac_physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    if (online < 1) {
        return 4;
    }
    int cores = 0;
    char seen[256][64];
    for (long cpu = 0; cpu < online && cpu < 256; cpu++) {
        char path[128];
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/thread_siblings", cpu);
        FILE *f = fopen(path, "r");
        if (!f) {
            return (int32_t)online;
        }
        char sib[64] = { 0 };
        if (!fgets(sib, sizeof sib, f)) {
            sib[0] = '\0';
        }
        fclose(f);
        bool dup = false;
        for (int j = 0; j < cores; j++) {
            if (strcmp(seen[j], sib) == 0) {
                dup = true;
                break;
            }
        }
        if (!dup) {
            memcpy(seen[cores++], sib, sizeof sib);
        }
    }
    return cores > 0 ? cores : (int32_t)online;
}

static uint64_t available_memory(void) {
    FILE *f = fopen("/proc/meminfo", "r");
    if (!f) {
        return 0;
    }
    char line[256];
    unsigned long long kb = 0;
    while (fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &kb) == 1) {
            break;
        }
    }
    fclose(f);
    return (uint64_t)kb * 1024u;
}

static bool abort_relay(void *data) {
    llamac_context *ctx = data;
    if (atomic_load(&ctx->cancel)) {
        return true;
    }
    return ctx->user_abort && ctx->user_abort(ctx->user_abort_data);
}

/* Rerankers converted for llama.cpp say so in their metadata: <arch>.pooling_type = 4 (rank). */
static bool declares_rank_pooling(const llamac_model *model) {
    char key[160], val[32];
    snprintf(key, sizeof key, "%s.pooling_type", model->info.architecture);
    return llama_model_meta_val_str(model->lm, key, val, sizeof val) > 0 && strcmp(val, "4") == 0;
}

static llamac_status check_ctx_params(const llamac_model *model, const llamac_ctx_params *p, uint32_t n_ctx) {
    const llamac_model_info *mi = &model->info;
    if (mi->n_ctx_train > 0 && n_ctx > (uint32_t)mi->n_ctx_train && !p->allow_ctx_overflow) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "n_ctx %u exceeds the model's %d-token training context; set allow_ctx_overflow", n_ctx,
                            mi->n_ctx_train);
    }
    if (p->n_batch == 0 || p->n_ubatch == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_batch (%u) and n_ubatch (%u) must be at least 1", p->n_batch,
                            p->n_ubatch);
    }
    if (p->n_seq_max == 0 || p->n_seq_max > llama_max_parallel_sequences()) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_seq_max %u must be between 1 and %zu", p->n_seq_max,
                            llama_max_parallel_sequences());
    }
    /* ggml runs at most GGML_MAX_N_THREADS threads per graph (its thread pool's CPU masks are that wide) */
    if (p->n_threads < 0 || p->n_threads_batch < 0 || p->n_threads > GGML_MAX_N_THREADS ||
        p->n_threads_batch > GGML_MAX_N_THREADS) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "thread counts (%d, %d) must be 0 (auto) to %d", p->n_threads,
                            p->n_threads_batch, GGML_MAX_N_THREADS);
    }
    if (p->n_seq_max > p->n_batch) {
        /* llama.cpp reserves room for at least one output per sequence within n_batch outputs, and asserts
         * (aborts) at the first decode otherwise. */
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_seq_max (%u) cannot exceed n_batch (%u)", p->n_seq_max,
                            p->n_batch);
    }
    if (p->flash_attn < LLAMAC_FLASH_ATTN_AUTO || p->flash_attn > LLAMAC_FLASH_ATTN_ON) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "flash_attn %d is invalid", (int)p->flash_attn);
    }
    if (!kv_type_ok(p->type_k) || !kv_type_ok(p->type_v)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "KV cache type %d is invalid",
                            kv_type_ok(p->type_k) ? (int)p->type_v : (int)p->type_k);
    }
    if (ggml_is_quantized(kv_types[p->type_v].type) && p->flash_attn == LLAMAC_FLASH_ATTN_OFF) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "a quantized V cache (%s) needs flash attention; use flash_attn auto or on",
                            kv_types[p->type_v].name);
    }
    if (ggml_is_quantized(kv_types[p->type_k].type) && p->flash_attn == LLAMAC_FLASH_ATTN_OFF &&
        mi->head_dim_k % ggml_blck_size(kv_types[p->type_k].type) != 0) {
        /* With flash attention llama.cpp refuses this itself. Without it, it views each head of the cache with a
         * row size ggml cannot express: rows not divisible by the block abort, others are read with wrong strides
         * and the logits are garbage. */
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "K cache type %s stores blocks of %lld values, which do not divide the head size %d",
                            kv_types[p->type_k].name, (long long)ggml_blck_size(kv_types[p->type_k].type),
                            mi->head_dim_k);
    }
    if (p->attn_rotation < LLAMAC_ATTN_ROT_AUTO || p->attn_rotation > LLAMAC_ATTN_ROT_OFF) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "attn_rotation %d is invalid", (int)p->attn_rotation);
    }
    if (p->pooling < LLAMAC_POOLING_DEFAULT || p->pooling > LLAMAC_POOLING_RANK) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "pooling %d is invalid", (int)p->pooling);
    }
    if (p->pooling == LLAMAC_POOLING_RANK && !declares_rank_pooling(model)) {
        /* llama.cpp would run rank pooling anyway and return the first token's hidden state as a "score". */
        return llamac__fail(LLAMAC_E_UNSUPPORTED,
                            "rank pooling needs a reranker, and this %s model does not declare one (%s.pooling_type "
                            "is not rank)",
                            mi->architecture, mi->architecture);
    }
    if (p->embeddings && p->n_seq_max > 1 &&
        (p->pooling == LLAMAC_POOLING_DEFAULT || p->pooling == LLAMAC_POOLING_MEAN ||
         p->pooling == LLAMAC_POOLING_RANK)) {
        /* llama.cpp reserves its worst-case graph with min(n_ctx, n_ubatch) tokens rounded up to a multiple of
         * n_seq_max but no more outputs than before rounding; mean pooling then multiplies mismatched matrices and
         * aborts while creating the context. n_ctx as llama.cpp will round it (256s; per sequence without a unified
         * cache). */
        uint64_t ctx_tokens = ((uint64_t)n_ctx + 255) / 256 * 256;
        if (!p->kv_unified) {
            ctx_tokens = (ctx_tokens / p->n_seq_max + 255) / 256 * 256 * p->n_seq_max;
        }
        uint32_t ubatch = p->n_ubatch < p->n_batch ? p->n_ubatch : p->n_batch;
        uint32_t reserve = ubatch < ctx_tokens ? ubatch : (uint32_t)ctx_tokens;
        if (reserve % p->n_seq_max != 0) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "n_seq_max (%u) must divide the micro-batch (%u tokens, min of n_ctx, n_batch and "
                                "n_ubatch) for embeddings with mean or rank pooling",
                                p->n_seq_max, reserve);
        }
    }
    return llamac__rope_params_check(&p->rope);
}

/* The KV cache llama.cpp would allocate for a plain attention model: refuse what cannot fit in memory before
 * llama.cpp tries (and the kernel kills the process while the buffer is cleared). */
static llamac_status check_kv_memory(const llamac_model *model, const llamac_ctx_params *p, uint32_t n_ctx) {
    const llamac_model_info *mi = &model->info;
    if (!model->cpu_only || mi->n_head_kv <= 0) {
        return LLAMAC_OK;
    }
    double row_k = (double)ggml_row_size(kv_types[p->type_k].type, (int64_t)mi->head_dim_k * mi->n_head_kv);
    double row_v = (double)ggml_row_size(kv_types[p->type_v].type, (int64_t)mi->head_dim_v * mi->n_head_kv);
    double need = (row_k + row_v) * (double)mi->n_layer * (double)n_ctx;
    uint64_t avail = available_memory();
    if (avail > 0 && need > (double)avail) {
        return llamac__fail(LLAMAC_E_NO_MEMORY,
                            "n_ctx %u needs %.1f MiB of KV cache (%s/%s), more than the %.1f MiB of memory available",
                            n_ctx, need / 1048576.0, kv_types[p->type_k].name, kv_types[p->type_v].name,
                            (double)avail / 1048576.0);
    }
    return LLAMAC_OK;
}

static bool env_rotation_disabled(void) {
    const char *v = getenv("LLAMA_ATTN_ROT_DISABLE");
    return v && atoi(v) != 0;
}

static void describe_rotation(llamac_context *ctx, bool enabled) {
    const llamac_model_info *mi = &ctx->model->info;
    bool qk = ggml_is_quantized(kv_types[ctx->info.type_k].type);
    bool qv = ggml_is_quantized(kv_types[ctx->info.type_v].type);
    ctx->info.attn_rot_k = enabled && qk && mi->head_dim_k > 0 && mi->head_dim_k % 64 == 0;
    ctx->info.attn_rot_v = enabled && qv && mi->head_dim_v > 0 && mi->head_dim_v % 64 == 0;
    if (ctx->info.attn_rot_k && ctx->info.attn_rot_v) {
        ctx->attn_rot_why[0] = '\0';
    } else if (!enabled) {
        snprintf(ctx->attn_rot_why, sizeof ctx->attn_rot_why, "rotation is disabled for this context");
    } else if (!qk && !qv) {
        snprintf(ctx->attn_rot_why, sizeof ctx->attn_rot_why, "the K/V cache types (%s/%s) are not quantized",
                 kv_types[ctx->info.type_k].name, kv_types[ctx->info.type_v].name);
    } else if ((qk && mi->head_dim_k % 64 != 0) || (qv && mi->head_dim_v % 64 != 0)) {
        snprintf(ctx->attn_rot_why, sizeof ctx->attn_rot_why, "head size %d/%d is not a multiple of 64", mi->head_dim_k,
                 mi->head_dim_v);
    } else {
        snprintf(ctx->attn_rot_why, sizeof ctx->attn_rot_why, "only the %s cache is quantized", qk ? "K" : "V");
    }
    ctx->info.attn_rot_why = ctx->attn_rot_why;
}

llamac_status llamac_ctx_new(llamac_model *model, const llamac_ctx_params *params, llamac_context **out) {
    if (out) {
        *out = NULL;
    }
    if (!model || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_new: %s is NULL", model ? "out" : "model");
    }
    if (model->info.vocab_only) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the model was loaded vocab_only; it has no weights to run");
    }
    llamac_ctx_params defaults = llamac_ctx_params_default();
    const llamac_ctx_params *p = params ? params : &defaults;
    uint32_t n_ctx = p->n_ctx;
    if (n_ctx == 0) {
        n_ctx =
            model->info.n_ctx_train > 0 && model->info.n_ctx_train < 4096 ? (uint32_t)model->info.n_ctx_train : 4096;
    }
    llamac_status st = check_ctx_params(model, p, n_ctx);
    if (st == LLAMAC_OK) {
        st = check_kv_memory(model, p, n_ctx);
    }
    /* After the memory check, whose figures say more about a huge n_ctx on the CPU than this limit does. */
    if (st == LLAMAC_OK && n_ctx > (uint32_t)INT32_MAX / 2) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "n_ctx %u is too large (at most %u)", n_ctx,
                          (uint32_t)INT32_MAX / 2);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_context *ctx = llamac__calloc(1, sizeof *ctx);
    if (!ctx) {
        return LLAMAC_E_NO_MEMORY;
    }
    ctx->n_outputs = -1;
    atomic_init(&ctx->cancel, false);

    int32_t threads = p->n_threads ? p->n_threads : llamac_physical_cores();
    struct llama_context_params cp = llama_context_default_params();
    cp.n_ctx = n_ctx;
    cp.n_batch = p->n_batch;
    cp.n_ubatch = p->n_ubatch;
    cp.n_seq_max = p->n_seq_max;
    cp.n_threads = threads;
    cp.n_threads_batch = p->n_threads_batch ? p->n_threads_batch : threads;
    cp.flash_attn_type = (enum llama_flash_attn_type)p->flash_attn;
    cp.type_k = kv_types[p->type_k].type;
    cp.type_v = kv_types[p->type_v].type;
    cp.embeddings = p->embeddings;
    cp.pooling_type = (enum llama_pooling_type)p->pooling;
    cp.rope_scaling_type = (enum llama_rope_scaling_type)p->rope.scaling;
    cp.rope_freq_base = p->rope.freq_base;
    cp.rope_freq_scale = p->rope.freq_scale;
    cp.yarn_ext_factor = p->rope.yarn_ext_factor;
    cp.yarn_attn_factor = p->rope.yarn_attn_factor;
    cp.yarn_beta_fast = p->rope.yarn_beta_fast;
    cp.yarn_beta_slow = p->rope.yarn_beta_slow;
    cp.yarn_orig_ctx = p->rope.yarn_orig_ctx;
    cp.offload_kqv = p->offload_kqv;
    cp.op_offload = p->op_offload;
    cp.kv_unified = p->kv_unified;
    cp.abort_callback = abort_relay;
    cp.abort_callback_data = ctx;

    /* llama.cpp reads LLAMA_ATTN_ROT_DISABLE while building the KV cache: hold the lock across creation. */
    pthread_mutex_lock(&env_lock);
    char *saved = NULL;
    const char *env = getenv("LLAMA_ATTN_ROT_DISABLE");
    bool had_env = env != NULL;
    if (had_env) {
        saved = strdup(env);
    }
    if (p->attn_rotation == LLAMAC_ATTN_ROT_OFF) {
        setenv("LLAMA_ATTN_ROT_DISABLE", "1", 1);
    } else if (p->attn_rotation == LLAMAC_ATTN_ROT_ON) {
        unsetenv("LLAMA_ATTN_ROT_DISABLE");
    }
    bool rotation_enabled = !env_rotation_disabled();
    llamac__capture_begin();
    ctx->lc = llama_init_from_model(model->lm, cp);
    const char *why = llamac__capture_end();
    if (p->attn_rotation != LLAMAC_ATTN_ROT_AUTO) {
        if (had_env && saved) {
            setenv("LLAMA_ATTN_ROT_DISABLE", saved, 1);
        } else {
            unsetenv("LLAMA_ATTN_ROT_DISABLE");
        }
    }
    pthread_mutex_unlock(&env_lock);
    free(saved);

    if (!ctx->lc) {
        st = llamac__fail(LLAMAC_E_CONTEXT_CREATE, "cannot create a context (n_ctx %u): %s", n_ctx,
                          why[0] ? why : "llama.cpp gave no reason");
        free(ctx);
        return st;
    }
    if (llama_n_seq_max(ctx->lc) > llama_n_batch(ctx->lc)) {
        /* llama.cpp lowered n_batch (to n_ctx) below the number of sequences: the first decode would abort. */
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                          "n_seq_max (%u) cannot exceed the effective n_batch (%u, limited "
                          "by n_ctx %u)",
                          llama_n_seq_max(ctx->lc), llama_n_batch(ctx->lc), llama_n_ctx(ctx->lc));
        llama_free(ctx->lc);
        free(ctx);
        return st;
    }
    ctx->model = model;
    llamac__model_ref(model);
    ctx->scratch = llama_batch_init((int32_t)llama_n_batch(ctx->lc), 0, 1);

    llamac_ctx_info *info = &ctx->info;
    info->n_ctx = llama_n_ctx(ctx->lc);
    info->n_batch = llama_n_batch(ctx->lc);
    info->n_ubatch = llama_n_ubatch(ctx->lc);
    info->n_seq_max = llama_n_seq_max(ctx->lc);
    info->n_threads = llama_n_threads(ctx->lc);
    info->n_threads_batch = llama_n_threads_batch(ctx->lc);
    info->type_k = p->type_k;
    info->type_v = p->type_v;
    info->embeddings = p->embeddings;
    info->kv_unified = p->kv_unified;
    info->pooling = (llamac_pooling)llama_pooling_type(ctx->lc);
    describe_rotation(ctx, rotation_enabled);
    *out = ctx;
    return llamac__ok();
}

void llamac_ctx_free(llamac_context *ctx) {
    if (!ctx) {
        return;
    }
    llama_batch_free(ctx->scratch);
    llama_free(ctx->lc);
    if (ctx->applied_release) {
        ctx->applied_release(ctx->applied); /* after llama_free: llama.cpp's context points to the adapters */
    }
    llamac__model_unref(ctx->model);
    free(ctx);
}

llamac_status llamac_ctx_get_info(const llamac_context *ctx, llamac_ctx_info *out) {
    if (!ctx || !out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_get_info: %s is NULL", ctx ? "out" : "ctx");
    }
    *out = ctx->info;
    return llamac__ok();
}

llamac_model *llamac_ctx_model(const llamac_context *ctx) {
    return ctx ? ctx->model : NULL;
}

llamac_status llamac_ctx_set_abort(llamac_context *ctx, llamac_abort_fn fn, void *user_data) {
    if (!ctx) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_set_abort: ctx is NULL");
    }
    ctx->user_abort = fn;
    ctx->user_abort_data = user_data;
    return llamac__ok();
}

void llamac_ctx_cancel(llamac_context *ctx) {
    if (ctx) {
        atomic_store(&ctx->cancel, true);
    }
}

bool llamac__ctx_take_cancel(llamac_context *ctx) {
    return atomic_exchange(&ctx->cancel, false);
}

llamac_status llamac__seq_check(const llamac_context *ctx, llamac_seq_id seq, bool allow_all) {
    if (allow_all && seq == -1) {
        return LLAMAC_OK;
    }
    if (seq < 0 || (uint32_t)seq >= ctx->info.n_seq_max) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "sequence id %d is out of range (the context has %u)", seq,
                            ctx->info.n_seq_max);
    }
    return LLAMAC_OK;
}

llamac_status llamac__ctx_decode_raw(llamac_context *ctx, struct llama_batch batch, int32_t n_outputs) {
    ctx->n_outputs = -1;
    llamac__capture_begin();
    int32_t rc = llama_model_has_decoder(ctx->model->lm) ? llama_decode(ctx->lc, batch) : llama_encode(ctx->lc, batch);
    const char *why = llamac__capture_end();
    if (rc == 0) {
        ctx->n_outputs = n_outputs;
        return LLAMAC_OK;
    }
    /* A cancel request ends with the call it stopped; left pending, it would also stop the next decode. */
    if (llamac__ctx_take_cancel(ctx) || rc == 2) {
        return llamac__fail(LLAMAC_E_CANCELLED, "decoding was cancelled");
    }
    if (rc == 1) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL, "no room in the KV cache for a batch of %d tokens (n_ctx %u)%s%s",
                            batch.n_tokens, ctx->info.n_ctx, why[0] ? ": " : "", why);
    }
    return llamac__fail(LLAMAC_E_DECODE, "llama.cpp failed to decode a batch of %d tokens (code %d)%s%s",
                        batch.n_tokens, rc, why[0] ? ": " : "", why);
}

static uint32_t seq_capacity(const llamac_context *ctx) {
    return llama_n_ctx_seq(ctx->lc);
}

llamac_status llamac__ctx_decode_at(llamac_context *ctx, llamac_seq_id seq, const llamac_token *tokens, size_t n,
                                    llama_pos start, enum llamac__logits logits) {
    if (logits == LLAMAC__LOGITS_ALL && n > ctx->info.n_batch) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%zu tokens with logits exceed the batch size %u", n,
                            ctx->info.n_batch);
    }
    llamac_status st = llamac__tokens_check(ctx->model, tokens, n);
    if (st != LLAMAC_OK) {
        return st;
    }
    uint32_t cap = seq_capacity(ctx);
    if (start < 0 || (uint64_t)start + n > cap) {
        return llamac__fail(LLAMAC_E_CONTEXT_FULL,
                            "%zu tokens do not fit: sequence %d holds %d of %u positions (%u free)", n, seq, start, cap,
                            start >= 0 && (uint32_t)start < cap ? cap - (uint32_t)start : 0);
    }
    size_t chunk = ctx->info.n_batch;
    for (size_t done = 0; done < n; done += chunk) {
        size_t m = n - done < chunk ? n - done : chunk;
        struct llama_batch *b = &ctx->scratch;
        for (size_t i = 0; i < m; i++) {
            b->token[i] = tokens[done + i];
            b->pos[i] = start + (llama_pos)(done + i);
            b->n_seq_id[i] = 1;
            b->seq_id[i][0] = seq;
            b->logits[i] = logits == LLAMAC__LOGITS_ALL || (logits == LLAMAC__LOGITS_LAST && done + i == n - 1);
        }
        b->n_tokens = (int32_t)m;
        st = llamac__ctx_decode_raw(ctx, *b,
                                    logits == LLAMAC__LOGITS_ALL                     ? (int32_t)m
                                    : logits == LLAMAC__LOGITS_LAST && done + m == n ? 1
                                                                                     : 0);
        if (st != LLAMAC_OK) {
            return st;
        }
    }
    return llamac__ok();
}

llamac_status llamac_ctx_decode(llamac_context *ctx, llamac_seq_id seq, const llamac_token *tokens, size_t n) {
    if (!ctx || (!tokens && n > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_decode: NULL argument");
    }
    if (n == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_decode: no tokens to decode");
    }
    llamac_status st = llamac__seq_check(ctx, seq, false);
    if (st != LLAMAC_OK) {
        return st;
    }
    return llamac__ctx_decode_at(ctx, seq, tokens, n, llama_memory_seq_pos_max(llama_get_memory(ctx->lc), seq) + 1,
                                 LLAMAC__LOGITS_LAST);
}

llamac_status llamac__output_index(const llamac_context *ctx, int32_t i, int32_t *out) {
    if (ctx->n_outputs < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no outputs: nothing has been decoded successfully yet");
    }
    int32_t n = ctx->n_outputs;
    if (i < -n || i >= n) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "output index %d is out of range (the last decode has %d)", i,
                            n);
    }
    /* llama.cpp indexes outputs by batch position, or from the end with negative numbers; the latter needs no
     * record of where the outputs were in the batch. */
    *out = i < 0 ? i : i - n;
    return LLAMAC_OK;
}

llamac_status llamac_ctx_logits(llamac_context *ctx, int32_t i, const float **logits, size_t *n_vocab) {
    if (logits) {
        *logits = NULL;
    }
    if (n_vocab) {
        *n_vocab = 0;
    }
    if (!ctx || !logits || !n_vocab) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_logits: NULL argument");
    }
    int32_t idx = 0;
    llamac_status st = llamac__output_index(ctx, i, &idx);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac__capture_begin();
    const float *p = llama_get_logits_ith(ctx->lc, idx);
    const char *why = llamac__capture_end();
    if (!p) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no logits for output %d%s%s", i, why[0] ? ": " : "", why);
    }
    *logits = p;
    *n_vocab = (size_t)ctx->model->info.n_vocab;
    return llamac__ok();
}

static llamac_status embd_ready(const llamac_context *ctx) {
    if (!ctx->info.embeddings) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "the context was created without embeddings (set embeddings)");
    }
    return LLAMAC_OK;
}

llamac_status llamac_ctx_embeddings(llamac_context *ctx, int32_t i, const float **embd, size_t *n_embd) {
    if (embd) {
        *embd = NULL;
    }
    if (n_embd) {
        *n_embd = 0;
    }
    if (!ctx || !embd || !n_embd) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_embeddings: NULL argument");
    }
    int32_t idx = 0;
    llamac_status st = embd_ready(ctx);
    if (st == LLAMAC_OK) {
        st = llamac__output_index(ctx, i, &idx);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac__capture_begin();
    const float *p = llama_get_embeddings_ith(ctx->lc, idx);
    const char *why = llamac__capture_end();
    if (!p) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no embedding for output %d%s%s", i, why[0] ? ": " : "", why);
    }
    *embd = p;
    *n_embd = (size_t)llama_model_n_embd_out(ctx->model->lm);
    return llamac__ok();
}

llamac_status llamac_ctx_embeddings_seq(llamac_context *ctx, llamac_seq_id seq, const float **embd, size_t *n_embd) {
    if (embd) {
        *embd = NULL;
    }
    if (n_embd) {
        *n_embd = 0;
    }
    if (!ctx || !embd || !n_embd) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_ctx_embeddings_seq: NULL argument");
    }
    llamac_status st = embd_ready(ctx);
    if (st == LLAMAC_OK) {
        st = llamac__seq_check(ctx, seq, false);
    }
    if (st != LLAMAC_OK) {
        return st;
    }
    if (ctx->n_outputs < 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "no outputs: nothing has been decoded successfully yet");
    }
    if (ctx->info.pooling == LLAMAC_POOLING_NONE) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "the context does not pool (pooling none); use llamac_ctx_embeddings");
    }
    const float *p = llama_get_embeddings_seq(ctx->lc, seq);
    if (!p) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "no pooled embedding for sequence %d in the last decode", seq);
    }
    *embd = p;
    *n_embd = ctx->info.pooling == LLAMAC_POOLING_RANK ? (size_t)llama_model_n_cls_out(ctx->model->lm)
                                                       : (size_t)llama_model_n_embd_out(ctx->model->lm);
    if (*n_embd == 0) {
        *n_embd = 1;
    }
    return llamac__ok();
}
