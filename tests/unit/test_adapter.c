/*
 * test_adapter.c - LoRA adapters and control vectors: synthesized for stories260K and for a synthesized model, loaded
 * with their metadata, applied to a context and hot-swapped between generations (scale 0 gives the base model's text
 * exactly; a scale changes it, and going back gives the first text again), and every bad file or argument refused
 * with the status and message the header documents, before llama.cpp reads it.
 *
 * Adapters are written under $LLAMAC_TEST_TMP by llamac_synth_lora_write; the synthesized model needs llama.cpp's
 * vocabularies ($LLAMAC_LLAMA_SOURCE/models), without which those parts are skipped.
 */
#include "helpers.h"

#include <math.h>
#include <sys/stat.h>

static const char *prompt = "Once upon a time";
static llamac_model *model;
static llamac_context *ctx;

/* Greedy text of 32 tokens from `c` (its sequence 0 cleared first), into k. */
static llamac_status greedy(llamac_context *c, struct test_sink *k) {
    memset(k, 0, sizeof *k);
    llamac_generate_params gp = llamac_generate_params_default();
    gp.max_tokens = 32;
    gp.sampling.temp = 0.0f;
    gp.on_text = test_on_text;
    gp.user_data = k;
    return llamac_generate(c, prompt, strlen(prompt), &gp, NULL);
}

/* Writes a LoRA adapter for `base` under the test folder; targets NULL for the default. */
static const char *lora(const char *name, const char *base, const char *targets, uint64_t seed) {
    const char *path = test_tmp(name);
    llamac_synth_lora_params p = llamac_synth_lora_params_default();
    p.base = base;
    p.targets = targets;
    p.seed = seed;
    p.init_std = 0.2f; /* large enough to change stories260K's greedy text */
    p.task_name = "stories";
    CHECK_OK(llamac_synth_lora_write(path, &p));
    return path;
}

static const char *cvec(const char *name, const char *base) {
    const char *path = test_tmp(name);
    llamac_synth_cvec_params p = llamac_synth_cvec_params_default();
    p.base = base;
    p.init_std = 0.5f;
    CHECK_OK(llamac_synth_cvec_write(path, &p));
    return path;
}

/* The first `keep` bytes of `src` into `dst`. */
static void truncate_copy(const char *src, const char *dst, size_t keep) {
    size_t len = 0;
    char *buf = test_read_file(src, &len);
    CHECK(buf && len > keep);
    FILE *f = fopen(dst, "wb");
    CHECK(f != NULL);
    if (f && buf) {
        CHECK_INT(fwrite(buf, 1, keep, f), keep);
        fclose(f);
    }
    free(buf);
}

static void test_info(void) {
    const char *path = lora("info.gguf", test_model("stories260K.gguf"), "attn_q,attn_v,ffn_down", 1);
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(model, path, &a));
    llamac_adapter_info info;
    CHECK_OK(llamac_adapter_get_info(a, &info));
    CHECK_STR(info.path, path);
    CHECK_STR(info.architecture, "llama");
    CHECK_STR(info.name, "synthetic lora");
    CHECK_STR(info.task_name, "stories");
    CHECK(info.base_model != NULL);
    CHECK(info.prompt_prefix == NULL);
    CHECK_INT(info.rank, 8);
    CHECK(info.alpha == 8.0f);
    CHECK_INT(info.n_weights, 3 * 5); /* three weights in each of the 5 blocks */
    CHECK(info.alora_invocation_tokens == NULL);
    CHECK(llamac_adapter_model(a) == model);
    /* llama.cpp's view of the metadata */
    char *v = NULL;
    CHECK_OK(llamac_adapter_meta(a, "adapter.type", &v));
    CHECK_STR(v, "lora");
    llamac_free(v);
    CHECK_STATUS(llamac_adapter_meta(a, "no.such.key", &v), LLAMAC_E_NOT_FOUND);
    CHECK(v == NULL);
    size_t n = llamac_adapter_meta_count(a);
    CHECK(n >= 5);
    bool seen_alpha = false;
    for (size_t i = 0; i < n; i++) {
        char *key = NULL, *val = NULL;
        CHECK_OK(llamac_adapter_meta_at(a, i, &key, &val));
        if (key && strcmp(key, "adapter.lora.alpha") == 0) {
            seen_alpha = val && atof(val) == 8.0;
        }
        llamac_free(key);
        llamac_free(val);
    }
    CHECK(seen_alpha);
    CHECK_STATUS(llamac_adapter_meta_at(a, n, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_adapter_free(a);
}

static void test_alora_info(void) {
    const char *path = test_tmp("alora.gguf");
    llamac_token tokens[] = { 1, 42, 7 };
    llamac_synth_lora_params p = llamac_synth_lora_params_default();
    p.base = test_model("stories260K.gguf");
    p.alora_invocation_tokens = tokens;
    p.n_alora_invocation_tokens = 3;
    CHECK_OK(llamac_synth_lora_write(path, &p));
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(model, path, &a));
    llamac_adapter_info info;
    CHECK_OK(llamac_adapter_get_info(a, &info));
    CHECK_INT(info.n_alora_invocation_tokens, 3);
    if (info.n_alora_invocation_tokens == 3) {
        CHECK_INT(info.alora_invocation_tokens[0], 1);
        CHECK_INT(info.alora_invocation_tokens[1], 42);
        CHECK_INT(info.alora_invocation_tokens[2], 7);
    }
    llamac_adapter_free(a);
    /* a token outside the vocabulary of 512 is refused when writing */
    tokens[1] = 512;
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("alora-bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("outside the base's vocabulary");
    struct stat sb;
    CHECK(stat(test_tmp("alora-bad.gguf"), &sb) != 0);
}

/* Scale 0 is the base model exactly; scale 1 changes the text; swapping back restores it; removing the set too. */
static void test_apply_and_swap(void) {
    struct test_sink base, s0, s1, again, none;
    CHECK_OK(greedy(ctx, &base));
    CHECK(base.len > 0);
    const char *path = lora("swap.gguf", test_model("stories260K.gguf"), "all", 2);
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(model, path, &a));
    llamac_adapter_scale set = { a, 0.0f };
    CHECK_OK(llamac_ctx_set_adapters(ctx, &set, 1));
    CHECK_OK(greedy(ctx, &s0));
    CHECK_STR(s0.text, base.text);
    set.scale = 1.0f;
    CHECK_OK(llamac_ctx_set_adapters(ctx, &set, 1));
    llamac_adapter_free(a); /* the context keeps it alive */
    llamac_adapter_scale got[2];
    CHECK_INT(llamac_ctx_adapters(ctx, got, 2), 1);
    CHECK(got[0].adapter == a && got[0].scale == 1.0f);
    CHECK_OK(greedy(ctx, &s1));
    CHECK(strcmp(s1.text, base.text) != 0);
    set.scale = 0.0f;
    CHECK_OK(llamac_ctx_set_adapters(ctx, &set, 1));
    CHECK_OK(greedy(ctx, &again));
    CHECK_STR(again.text, base.text);
    set.scale = 1.0f;
    CHECK_OK(llamac_ctx_set_adapters(ctx, &set, 1));
    CHECK_OK(greedy(ctx, &again));
    CHECK_STR(again.text, s1.text);
    CHECK_OK(llamac_ctx_set_adapters(ctx, NULL, 0));
    CHECK_INT(llamac_ctx_adapters(ctx, NULL, 0), 0);
    CHECK_OK(greedy(ctx, &none));
    CHECK_STR(none.text, base.text);
}

/* Two adapters at once, and a bad set leaves the set in use alone. */
static void test_set_errors(void) {
    const char *p1 = lora("one.gguf", test_model("stories260K.gguf"), NULL, 3);
    const char *p2 = lora("two.gguf", test_model("stories260K.gguf"), "ffn_up", 4);
    llamac_adapter *a = NULL, *b = NULL;
    CHECK_OK(llamac_adapter_load(model, p1, &a));
    CHECK_OK(llamac_adapter_load(model, p2, &b));
    llamac_adapter_scale set[2] = { { a, 0.5f }, { b, 1.0f } };
    CHECK_OK(llamac_ctx_set_adapters(ctx, set, 2));
    llamac_adapter_scale bad[2] = { { a, 1.0f }, { a, 1.0f } };
    CHECK_STATUS(llamac_ctx_set_adapters(ctx, bad, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("are the same");
    bad[1].adapter = b;
    bad[1].scale = NAN;
    CHECK_STATUS(llamac_ctx_set_adapters(ctx, bad, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("a finite number");
    bad[1].adapter = NULL;
    CHECK_STATUS(llamac_ctx_set_adapters(ctx, bad, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_set_adapters(ctx, NULL, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_set_adapters(NULL, set, 1), LLAMAC_E_INVALID_ARGUMENT);
    llamac_adapter_scale got[2];
    CHECK_INT(llamac_ctx_adapters(ctx, got, 2), 2);
    CHECK(got[0].adapter == a && got[0].scale == 0.5f && got[1].adapter == b);
    /* an adapter loaded for another model (a second load of the same file is another model) */
    llamac_model *other = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), NULL, &other));
    llamac_adapter *c = NULL;
    CHECK_OK(llamac_adapter_load(other, p1, &c));
    llamac_adapter_scale foreign = { c, 1.0f };
    CHECK_STATUS(llamac_ctx_set_adapters(ctx, &foreign, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("another model");
    llamac_model_free(other); /* the adapter holds the model */
    llamac_adapter_free(c);
    CHECK_OK(llamac_ctx_set_adapters(ctx, NULL, 0));
    llamac_adapter_free(a);
    llamac_adapter_free(b);
}

static void test_bad_files(void) {
    llamac_adapter *a = NULL;
    CHECK_STATUS(llamac_adapter_load(model, test_tmp("missing.gguf"), &a), LLAMAC_E_IO);
    CHECK_ERROR_HAS("missing.gguf");
    CHECK(a == NULL);
    CHECK_STATUS(llamac_adapter_load(model, test_tmp("."), &a), LLAMAC_E_IO);
    CHECK_STATUS(llamac_adapter_load(NULL, "x", &a), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_adapter_load(model, NULL, &a), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_adapter_load(model, "x", NULL), LLAMAC_E_INVALID_ARGUMENT);
    /* a model is not an adapter */
    CHECK_STATUS(llamac_adapter_load(model, test_model("stories260K.gguf"), &a), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("it is a model");
    /* not a GGUF at all */
    FILE *f = fopen(test_tmp("text.gguf"), "wb");
    CHECK(f != NULL);
    if (f) {
        fputs("this is not a gguf file, only text\n", f);
        fclose(f);
    }
    CHECK_STATUS(llamac_adapter_load(model, test_tmp("text.gguf"), &a), LLAMAC_E_MODEL_LOAD);
    /* truncated: the header whole, the tensor data cut short */
    const char *good = lora("whole.gguf", test_model("stories260K.gguf"), NULL, 5);
    struct stat sb;
    CHECK(stat(good, &sb) == 0);
    truncate_copy(good, test_tmp("truncated.gguf"), (size_t)sb.st_size - 100);
    CHECK_STATUS(llamac_adapter_load(model, test_tmp("truncated.gguf"), &a), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("truncated");
    truncate_copy(good, test_tmp("truncated-header.gguf"), 40);
    CHECK_STATUS(llamac_adapter_load(model, test_tmp("truncated-header.gguf"), &a), LLAMAC_E_MODEL_LOAD);
    /* a control vector is not a LoRA adapter, and the other way round */
    const char *cv = cvec("cvec.gguf", test_model("stories260K.gguf"));
    CHECK_STATUS(llamac_adapter_load(model, cv, &a), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("is a control vector");
    llamac_cvec *v = NULL;
    CHECK_STATUS(llamac_cvec_load(model, good, &v), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("is a LoRA adapter");
    CHECK_STATUS(llamac_cvec_load(model, test_model("stories260K.gguf"), &v), LLAMAC_E_ADAPTER);
    CHECK_STATUS(llamac_cvec_load(model, test_tmp("missing.gguf"), &v), LLAMAC_E_IO);
    CHECK(a == NULL && v == NULL);
}

/* Adapters made for other models: another architecture, another shape of the same architecture. */
static void test_other_base(void) {
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-qwen2.gguf", src ? src : "");
    struct stat sb;
    if (!src || stat(vocab, &sb) != 0) {
        fprintf(stderr, "SKIP part: no llama.cpp vocabularies\n");
        return;
    }
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "qwen2";
    sp.vocab_from = vocab;
    CHECK_OK(llamac_synth_write(test_tmp("qwen2.gguf"), &sp));
    sp.arch = "llama";
    sp.n_embd = 128;
    sp.n_layer = 5;
    CHECK_OK(llamac_synth_write(test_tmp("llama128.gguf"), &sp));
    const char *for_qwen = lora("for-qwen2.gguf", test_tmp("qwen2.gguf"), NULL, 6);
    const char *for_wide = lora("for-llama128.gguf", test_tmp("llama128.gguf"), NULL, 7);
    llamac_adapter *a = NULL;
    CHECK_STATUS(llamac_adapter_load(model, for_qwen, &a), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("is an adapter for architecture 'qwen2', but the model is llama");
    CHECK_STATUS(llamac_adapter_load(model, for_wide, &a), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("blk.0.attn_q.weight' is [64, 64, 1] in the model");
    CHECK_ERROR_HAS("made for another base model");
    const char *cv_wide = cvec("cvec-llama128.gguf", test_tmp("llama128.gguf"));
    llamac_cvec *v = NULL;
    CHECK_STATUS(llamac_cvec_load(model, cv_wide, &v), LLAMAC_E_ADAPTER);
    CHECK_ERROR_HAS("n_embd is 64");
    /* and the synthesized model takes its own adapter, scale 0 giving its own text */
    llamac_model *wide = NULL;
    llamac_context *wc = NULL;
    CHECK_OK(llamac_model_load(test_tmp("llama128.gguf"), NULL, &wide));
    llamac_ctx_params tp = test_ctx_params(0);
    CHECK_OK(llamac_ctx_new(wide, &tp, &wc));
    CHECK_OK(llamac_adapter_load(wide, for_wide, &a));
    struct test_sink base, s0, s1;
    CHECK_OK(greedy(wc, &base));
    llamac_adapter_scale set = { a, 0.0f };
    CHECK_OK(llamac_ctx_set_adapters(wc, &set, 1));
    CHECK_OK(greedy(wc, &s0));
    CHECK_STR(s0.text, base.text);
    set.scale = 1.0f;
    CHECK_OK(llamac_ctx_set_adapters(wc, &set, 1));
    CHECK_OK(greedy(wc, &s1));
    llamac_ctx_free(wc); /* before the adapter: the context's reference keeps it alive either way */
    llamac_adapter_free(a);
    llamac_model_free(wide);
}

static void test_cvec(void) {
    struct test_sink base, s0, s1, back;
    CHECK_OK(greedy(ctx, &base));
    const char *path = cvec("steer.gguf", test_model("stories260K.gguf"));
    llamac_cvec *v = NULL;
    CHECK_OK(llamac_cvec_load(model, path, &v));
    llamac_cvec_info info;
    CHECK_OK(llamac_cvec_get_info(v, &info));
    CHECK_STR(info.model_hint, "llama");
    CHECK_INT(info.n_embd, 64);
    CHECK_INT(info.n_layers, 4); /* directions 1 .. 4 of 5 layers */
    llamac_cvec_scale set = { v, 0.0f };
    CHECK_OK(llamac_ctx_set_cvec(ctx, &set, 1, 0, 0));
    CHECK_OK(greedy(ctx, &s0));
    CHECK_STR(s0.text, base.text);
    set.scale = 4.0f;
    CHECK_OK(llamac_ctx_set_cvec(ctx, &set, 1, 1, 4));
    llamac_cvec_free(v); /* llama.cpp holds a copy */
    CHECK_OK(greedy(ctx, &s1));
    CHECK(strcmp(s1.text, base.text) != 0);
    CHECK_STATUS(llamac_ctx_set_cvec(ctx, NULL, 0, 3, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("layer range 3 to 2");
    CHECK_STATUS(llamac_ctx_set_cvec(ctx, NULL, 0, 1, 6), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_ctx_set_cvec(ctx, NULL, 1, 0, 0), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_OK(greedy(ctx, &back)); /* the refused calls left the vector on */
    CHECK_STR(back.text, s1.text);
    CHECK_OK(llamac_ctx_set_cvec(ctx, NULL, 0, 0, 0));
    CHECK_OK(greedy(ctx, &back));
    CHECK_STR(back.text, base.text);
}

/* A two-turn chat on stories260K-chatml; `swap` set: the first turn at scale 0, the adapter at scale 1 for the second.
 * The second reply goes into k, the first into first. */
static void chat_two_turns(llamac_adapter **a, llamac_model *m, bool swap, const char *first_reply,
                           struct test_sink *first, struct test_sink *k, llamac_chat_result *res2) {
    llamac_context *c = NULL;
    llamac_chat *chat = NULL;
    llamac_chat_params cp = llamac_chat_params_default();
    cp.generate.max_tokens = 16;
    cp.generate.sampling.temp = 0.0f;
    llamac_ctx_params tp = test_ctx_params(0);
    CHECK_OK(llamac_ctx_new(m, &tp, &c));
    llamac_adapter_scale set = { *a, swap ? 0.0f : 1.0f };
    CHECK_OK(llamac_ctx_set_adapters(c, &set, 1));
    CHECK_OK(llamac_chat_new(c, &cp, &chat));
    if (!chat) {
        llamac_ctx_free(c);
        return;
    }
    CHECK_OK(llamac_chat_add(chat, "user", "Hello", 5));
    if (first_reply) {
        CHECK_OK(llamac_chat_add(chat, "assistant", first_reply, strlen(first_reply)));
    } else {
        memset(first, 0, sizeof *first);
        CHECK_OK(llamac_chat_generate(chat, test_on_text, first, NULL));
    }
    if (swap) {
        set.scale = 1.0f;
        CHECK_OK(llamac_ctx_set_adapters(c, &set, 1));
    }
    CHECK_OK(llamac_chat_add(chat, "user", "Tell me a story", 15));
    memset(k, 0, sizeof *k);
    CHECK_OK(llamac_chat_generate(chat, test_on_text, k, res2));
    llamac_chat_free(chat);
    llamac_ctx_free(c);
}

/* A chat session whose context changes adapters between turns computes its conversation again: the second reply
 * equals that of a session that had the adapter all along with the same history. */
static void test_chat_swap(void) {
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(test_model("stories260K-chatml.gguf"), NULL, &m));
    const char *path = lora("chat.gguf", test_model("stories260K-chatml.gguf"), "all", 8);
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(m, path, &a));
    if (!a) {
        llamac_model_free(m);
        return;
    }
    struct test_sink first, swapped, fresh, unused;
    llamac_chat_result r1, r2;
    chat_two_turns(&a, m, true, NULL, &first, &swapped, &r1);
    CHECK(first.len > 0);
    CHECK_INT(r1.n_reused_tokens, 0); /* nothing computed under scale 0 was reused */
    chat_two_turns(&a, m, false, first.text, &unused, &fresh, &r2);
    CHECK(swapped.len > 0);
    CHECK_STR(swapped.text, fresh.text);
    llamac_adapter_free(a);
    llamac_model_free(m);
}

/* An engine's first set (llamac_engine_params.adapters) is listed back and outlives the caller's reference; a bad set
 * fails the creation. */
static void test_engine_adapters(void) {
    const char *path = lora("engine.gguf", test_model("stories260K.gguf"), NULL, 10);
    llamac_adapter *a = NULL;
    CHECK_OK(llamac_adapter_load(model, path, &a));
    llamac_engine_params ep = llamac_engine_params_default();
    ep.n_threads = 1;
    llamac_adapter_scale set[2] = { { a, 0.5f }, { a, 1.0f } };
    ep.adapters = set;
    ep.n_adapters = 1;
    llamac_engine *e = NULL;
    CHECK_OK(llamac_engine_new(model, &ep, &e));
    llamac_adapter_scale got[2];
    CHECK_INT(llamac_engine_adapters(e, got, 2), 1);
    CHECK(got[0].adapter == a && got[0].scale == 0.5f);
    llamac_adapter_free(a); /* the engine's context holds it */
    llamac_engine_free(e);
    CHECK_INT(llamac_engine_adapters(NULL, got, 2), 0);
    ep.n_adapters = 2; /* the same adapter twice */
    CHECK_OK(llamac_adapter_load(model, path, &a));
    set[0].adapter = set[1].adapter = a;
    CHECK_STATUS(llamac_engine_new(model, &ep, &e), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(e == NULL);
    llamac_adapter_free(a);
}

static void test_synth_errors(void) {
    llamac_synth_lora_params p = llamac_synth_lora_params_default();
    p.base = test_model("stories260K.gguf");
    p.targets = "attn_q,no_such";
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("target 'no_such' matches no matrix");
    CHECK_ERROR_HAS("attn_q");
    p.targets = NULL;
    p.rank = 65;
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("rank 65");
    p.rank = 0;
    p.alpha = -1.0f;
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    p.alpha = 0.0f;
    p.base = test_tmp("missing.gguf");
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("bad.gguf"), &p), LLAMAC_E_IO);
    p.base = NULL;
    CHECK_STATUS(llamac_synth_lora_write(test_tmp("bad.gguf"), &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_synth_lora_write(NULL, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("path is NULL");
    CHECK_STATUS(llamac_synth_lora_write("", &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("empty path");
    llamac_synth_cvec_params cp = llamac_synth_cvec_params_default();
    CHECK_STATUS(llamac_synth_cvec_write(test_tmp("bad.gguf"), NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("llamac_synth_cvec_write: params is NULL");
    CHECK_STATUS(llamac_synth_cvec_write(test_tmp("bad.gguf"), &cp), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("no base model");
    cp.base = test_model("stories260K.gguf");
    cp.init_std = 2.0f;
    CHECK_STATUS(llamac_synth_cvec_write(test_tmp("bad.gguf"), &cp), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("init_std 2");
    struct stat sb;
    CHECK(stat(test_tmp("bad.gguf"), &sb) != 0);
    /* the same parameters give the same bytes */
    const char *x = lora("same1.gguf", test_model("stories260K.gguf"), NULL, 9);
    const char *y = lora("same2.gguf", test_model("stories260K.gguf"), NULL, 9);
    size_t lx = 0, ly = 0;
    char *bx = test_read_file(x, &lx), *by = test_read_file(y, &ly);
    CHECK(bx && by && lx == ly && memcmp(bx, by, lx) == 0);
    free(bx);
    free(by);
}

int main(void) {
    test_model_ctx("stories260K.gguf", 0, &model, &ctx); /* one thread: the test machines are shared */
    RUN(test_info);
    RUN(test_alora_info);
    RUN(test_apply_and_swap);
    RUN(test_set_errors);
    RUN(test_bad_files);
    RUN(test_other_base);
    RUN(test_cvec);
    RUN(test_chat_swap);
    RUN(test_engine_adapters);
    RUN(test_synth_errors);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    TESTS_DONE();
}
