/*
 * test_spec.c - speculative decoding in llamac_generate on stories260K: the output is the output without
 * speculation (greedy, sampled with a seed, with stop strings and a grammar), drafts are really verified and
 * rejected, the KV cache after a rejected draft is the cache of a run without one, and bad settings are refused.
 *
 * Drafts: the same model in a second context (accepts everything), a layer-skip draft made from it at run time
 * (llamac_quantize keeping 4 of its 5 layers: a real, partly wrong draft), and n-gram lookup. A model synthesized
 * over another vocabulary must be refused.
 */
#include "helpers.h"

#include <math.h>

static llamac_model *model, *skip_model;
static llamac_context *ctx, *self_ctx, *skip_ctx;

static void setup(void) {
    const char *stories = test_model("stories260K.gguf");
    const char *skip_path = test_tmp("stories-skip.gguf");
    CHECK_OK(test_skip_draft(skip_path));
    llamac_ctx_params cp = test_ctx_params(1024);
    CHECK_OK(llamac_model_load(stories, NULL, &model));
    CHECK_OK(llamac_model_load(skip_path, NULL, &skip_model));
    if (model && skip_model) {
        CHECK_OK(llamac_ctx_new(model, &cp, &ctx));
        CHECK_OK(llamac_ctx_new(model, &cp, &self_ctx));
        CHECK_OK(llamac_ctx_new(skip_model, &cp, &skip_ctx));
    }
    if (!ctx || !self_ctx || !skip_ctx) {
        fprintf(stderr, "cannot set up: %s\n", llamac_last_error());
        exit(1);
    }
}

struct sink {
    char text[16384];
    size_t len;
};

static bool on_text(const char *s, size_t len, void *user_data) {
    struct sink *k = user_data;
    if (k->len + len < sizeof k->text) {
        memcpy(k->text + k->len, s, len);
        k->len += len;
        k->text[k->len] = '\0';
    }
    return true;
}

/* Generates from `prompt` with `p` (its callback replaced) into *k. */
static llamac_status gen(const char *prompt, llamac_generate_params p, struct sink *k, llamac_generate_result *res) {
    memset(k, 0, sizeof *k);
    p.on_text = on_text;
    p.user_data = k;
    return llamac_generate(ctx, prompt, strlen(prompt), &p, res);
}

static llamac_generate_params greedy(int32_t max_tokens) {
    llamac_generate_params p = llamac_generate_params_default();
    p.max_tokens = max_tokens;
    p.sampling.temp = 0;
    return p;
}

/* A story that repeats itself: n-gram lookup finds long matches in it. */
static const char copy_prompt[] = "Tom had a red ball. Tom had a red ball and a big dog. Tom had a red ball and a big "
                                  "dog. Tom had a red ball and";

enum source { SELF, SKIP, NGRAM, SKIP_NGRAM };
static const char *source_name[] = { "self", "skip", "ngram", "skip+ngram" };

static llamac_spec_params spec_of(enum source s, int32_t n_max) {
    llamac_spec_params sp = llamac_spec_params_default();
    sp.n_max = n_max;
    sp.p_min = 0; /* draft whatever the draft model believes: more rejections to verify */
    sp.draft = s == SELF ? self_ctx : s == SKIP || s == SKIP_NGRAM ? skip_ctx : NULL;
    sp.ngram = s == NGRAM || s == SKIP_NGRAM;
    return sp;
}

/* Greedy output is byte-identical with every draft source and length; drafts are made and verified, and the
 * layer-skip draft gets some accepted and some rejected. */
static void test_greedy_identical(void) {
    const char *prompts[] = { "Once upon a time", copy_prompt };
    int32_t lengths[] = { 1, 3, 8, 16 };
    for (size_t pi = 0; pi < 2; pi++) {
        struct sink base, spec;
        llamac_generate_result r0, r1;
        CHECK_OK(gen(prompts[pi], greedy(160), &base, &r0));
        CHECK_INT(r0.n_drafted, 0);
        for (int s = SELF; s <= SKIP_NGRAM; s++) {
            for (size_t li = 0; li < 4; li++) {
                llamac_generate_params p = greedy(160);
                p.spec = spec_of((enum source)s, lengths[li]);
                CHECK_OK(gen(prompts[pi], p, &spec, &r1));
                if (strcmp(base.text, spec.text) != 0 || r0.n_generated_tokens != r1.n_generated_tokens) {
                    fprintf(stderr, "prompt %zu, %s draft, n_max %d: the text differs\n  %s\n  %s\n", pi,
                            source_name[s], lengths[li], base.text, spec.text);
                }
                CHECK_STR(spec.text, base.text);
                CHECK_INT(r1.n_generated_tokens, r0.n_generated_tokens);
                CHECK_INT(r1.finish_reason, r0.finish_reason);
                CHECK(r1.n_accepted <= r1.n_drafted);
                if (s == SELF) {
                    CHECK(r1.n_drafted > 0);
                    CHECK_INT(r1.n_accepted, r1.n_drafted); /* the model drafting for itself is always right */
                }
                if (s == SKIP && lengths[li] >= 3) {
                    CHECK(r1.n_accepted > 0);
                    CHECK(r1.n_accepted < r1.n_drafted); /* a real draft: some rejected */
                }
                if (s == NGRAM && pi == 1) {
                    CHECK(r1.n_accepted > 0);
                }
            }
        }
    }
}

/* Sampling: each token is the target's own sample, drawn with the same chain and random numbers, so the output
 * follows the target's distribution. (A seeded run usually gives the very same text, but not always: a batch of
 * drafted tokens is evaluated with other kernels than a single token, and logits that differ in the last bits
 * can move a sample across a boundary.) Two-sample check over 3-token continuations at temperature 1: the total
 * variation distance between the texts sampled with and without speculation stays within what two runs without
 * speculation differ by, where accepting drafted tokens unverified would pull the text towards the draft's. */
#define N_SAMPLES 300
static int sample_texts(llamac_spec_params sp, uint32_t seed0, char texts[][48], int32_t *drafted) {
    struct sink k;
    llamac_generate_result r;
    llamac_generate_params p = llamac_generate_params_default();
    p.max_tokens = 3;
    p.sampling.temp = 1.0f;
    p.sampling.top_k = 0;
    p.sampling.top_p = 1.0f;
    p.sampling.min_p = 0.0f;
    p.spec = sp;
    *drafted = 0;
    for (uint32_t i = 0; i < N_SAMPLES; i++) {
        p.sampling.seed = seed0 + i;
        if (gen("Once upon a time, there was a", p, &k, &r) != LLAMAC_OK) {
            return -1;
        }
        *drafted += r.n_drafted;
        size_t len = k.len < 47 ? k.len : 47;
        memcpy(texts[i], k.text, len);
        texts[i][len] = '\0';
    }
    return 0;
}

static double tv_distance(char a[][48], char b[][48]) {
    double tv = 0;
    for (int side = 0; side < 2; side++) {
        char(*x)[48] = side ? b : a;
        for (int i = 0; i < N_SAMPLES; i++) {
            bool seen = false;
            for (int j = 0; j < i && !seen; j++) {
                seen = strcmp(x[j], x[i]) == 0;
            }
            bool in_other = false;
            for (int j = 0; j < N_SAMPLES && side == 1 && !in_other; j++) {
                in_other = strcmp(a[j], x[i]) == 0;
            }
            if (seen || in_other) {
                continue; /* each text once; texts in both samples are counted from the first */
            }
            int ca = 0, cb = 0;
            for (int j = 0; j < N_SAMPLES; j++) {
                ca += strcmp(a[j], x[i]) == 0;
                cb += strcmp(b[j], x[i]) == 0;
            }
            tv += fabs((double)(ca - cb)) / N_SAMPLES;
        }
    }
    return tv / 2;
}

static void test_sampled_distribution(void) {
    static char base[N_SAMPLES][48], base2[N_SAMPLES][48], spec[N_SAMPLES][48];
    int32_t d0, d1, d2;
    llamac_spec_params off = llamac_spec_params_default();
    llamac_spec_params sp = spec_of(SKIP, 3);
    CHECK_INT(sample_texts(off, 1, base, &d0), 0);
    CHECK_INT(sample_texts(off, 1 + N_SAMPLES, base2, &d1), 0);
    CHECK_INT(sample_texts(sp, 1 + 2 * N_SAMPLES, spec, &d2), 0);
    CHECK(d2 > 0);
    double noise = tv_distance(base, base2), tv = tv_distance(base, spec);
    fprintf(stderr, "total variation: without/without %.3f, without/with speculation %.3f\n", noise, tv);
    CHECK(tv < 0.05 + 1.5 * noise);
}

/* Stop strings and a grammar end and shape the text exactly as without speculation. */
static void test_stop_and_grammar(void) {
    const char *stops[] = { "red ball" };
    struct sink base, spec;
    llamac_generate_result r0, r1;
    llamac_generate_params p = greedy(200);
    p.stop = stops;
    p.n_stop = 1;
    CHECK_OK(gen("Once upon a time", p, &base, &r0));
    CHECK_INT(r0.finish_reason, LLAMAC_FINISH_STOP);
    for (int s = SELF; s <= SKIP_NGRAM; s++) {
        p.spec = spec_of((enum source)s, 8);
        CHECK_OK(gen("Once upon a time", p, &spec, &r1));
        CHECK_STR(spec.text, base.text);
        CHECK_INT(r1.finish_reason, LLAMAC_FINISH_STOP);
    }
    /* a grammar that allows only lower-case words: the draft proposes capitals and punctuation it must reject */
    p = greedy(60);
    p.sampling.grammar = "root ::= [a-z ]+";
    CHECK_OK(gen("Once upon a time", p, &base, &r0));
    CHECK(base.len > 0 && strspn(base.text, "abcdefghijklmnopqrstuvwxyz ") == base.len);
    for (int s = SELF; s <= SKIP_NGRAM; s++) {
        p.spec = spec_of((enum source)s, 8);
        CHECK_OK(gen("Once upon a time", p, &spec, &r1));
        CHECK_STR(spec.text, base.text);
    }
}

/* Greedy continuation of the sequence: decodes `first` onto it, then n greedy tokens into out. */
static void continue_greedy(llamac_token first, llamac_token *out, int n) {
    llamac_token tok = first;
    for (int i = 0; i < n; i++) {
        CHECK_OK(llamac_ctx_decode(ctx, 0, &tok, 1));
        const float *lg = NULL;
        size_t nv = 0;
        CHECK_OK(llamac_ctx_logits(ctx, -1, &lg, &nv));
        size_t best = 0;
        for (size_t t = 1; lg && t < nv; t++) {
            best = lg[t] > lg[best] ? t : best;
        }
        out[i] = tok = (llamac_token)best;
    }
}

/* After a generation whose drafts were partly rejected, the sequence holds what a run without speculation leaves
 * (prompt and every generated token but the last), so what follows it agrees. */
static void test_kv_after_rejection(void) {
    llamac_token *prompt = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(model, "Once upon a time", 16, LLAMAC_TOKENIZE_ADD_SPECIAL, &prompt, &n));
    llamac_token next[2][24];
    llamac_pos end[2] = { 0, 0 };
    for (int run = 0; run < 2; run++) {
        llamac_generate_params p = greedy(37);
        if (run == 1) {
            p.spec = spec_of(SKIP, 5);
        }
        llamac_generate_result r;
        CHECK_OK(llamac_generate_tokens(ctx, prompt, n, &p, &r));
        if (run == 1) {
            CHECK(r.n_drafted > r.n_accepted);
        }
        CHECK_OK(llamac_ctx_seq_pos_max(ctx, 0, &end[run]));
        continue_greedy(13, next[run], 24); /* an arbitrary next token, then greedy */
    }
    CHECK_INT(end[0], (llamac_pos)n + 36 - 1);
    CHECK_INT(end[1], end[0]);
    CHECK(memcmp(next[0], next[1], sizeof next[0]) == 0);
    llamac_free(prompt);
}

/* Settings out of range, the target's own context as its draft, and a draft of another vocabulary are refused
 * before anything is decoded, with a message that names the problem. */
static void test_errors(void) {
    struct sink k;
    llamac_generate_params p = greedy(8);
    p.spec = spec_of(NGRAM, 0);
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.n_max 0");
    p.spec = spec_of(NGRAM, LLAMAC_SPEC_MAX_DRAFT + 1);
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.n_max");
    p.spec = spec_of(SKIP, 4);
    p.spec.n_min = 5;
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.n_min 5");
    p.spec = spec_of(SKIP, 4);
    p.spec.p_min = 1.5f;
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("spec.p_min");
    p.spec = spec_of(NGRAM, 4);
    p.spec.ngram_min = 0;
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("ngram_min");
    p.spec = spec_of(SKIP, 4);
    p.spec.draft = ctx;
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("target's own context");
    CHECK_STATUS(llamac_model_check_draft(model, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_OK(llamac_model_check_draft(model, skip_model));

    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    if (!src || !src[0]) {
        fprintf(stderr, "skip the other-vocabulary checks: LLAMAC_LLAMA_SOURCE is not set\n");
        return;
    }
    /* a model over llama 3's BPE vocabulary: another vocabulary type */
    const char *path = test_tmp("bpe-draft.gguf");
    CHECK_OK(test_synth_bpe(src, path));
    llamac_model *bpe = NULL;
    llamac_context *bpe_ctx = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &bpe));
    llamac_ctx_params cp = test_ctx_params(256);
    if (bpe) {
        CHECK_OK(llamac_ctx_new(bpe, &cp, &bpe_ctx));
    }
    p.spec = spec_of(SKIP, 4);
    p.spec.draft = bpe_ctx;
    CHECK_STATUS(gen("Once", p, &k, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("another type");
    CHECK_INT(k.len, 0);
    /* a SentencePiece vocabulary (the same type) of 32000 tokens against stories' 512 */
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/models/ggml-vocab-llama-spm.gguf", src);
    llamac_model_params mp = llamac_model_params_default();
    mp.vocab_only = true;
    llamac_model *spm = NULL;
    CHECK_OK(llamac_model_load(vocab, &mp, &spm));
    CHECK_STATUS(llamac_model_check_draft(model, spm), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("32000 tokens, the target's 512");
    llamac_model_free(spm);
    llamac_ctx_free(bpe_ctx);
    llamac_model_free(bpe);
}

/* A draft that is always wrong (random weights over stories' vocabulary) backs off: after each draft the target
 * rejects from its first token the draft model skips 1, 2, 4 ... up to 32 proposals, so it drafts for a few of the
 * 160 steps instead of every one (without the back-off: 4 tokens a step, over 600), and the output stays the
 * target's. The model drafting for itself is always right and never backs off. */
static void test_backoff(void) {
    const char *path = test_tmp("random-draft.gguf");
    CHECK_OK(test_random_draft(path));
    llamac_model *rnd = NULL;
    llamac_context *rnd_ctx = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &rnd));
    llamac_ctx_params cp = test_ctx_params(1024);
    if (rnd) {
        CHECK_OK(llamac_ctx_new(rnd, &cp, &rnd_ctx));
    }
    if (!rnd_ctx) {
        llamac_model_free(rnd);
        return;
    }
    struct sink base, spec;
    llamac_generate_result r0, r1;
    CHECK_OK(gen("Once upon a time", greedy(160), &base, &r0));
    llamac_generate_params p = greedy(160);
    p.spec = spec_of(SKIP, 4);
    p.spec.draft = rnd_ctx;
    CHECK_OK(gen("Once upon a time", p, &spec, &r1));
    CHECK_STR(spec.text, base.text);
    CHECK(r1.n_drafted > 0);
    CHECK(r1.n_drafted <= 4 * 16); /* at most 16 drafts of 4 in 160 steps */
    if (r1.n_drafted > 4 * 16) {
        fprintf(stderr, "the random draft drafted %d tokens (%d accepted) in %d steps\n", r1.n_drafted, r1.n_accepted,
                r1.n_generated_tokens);
    }
    p.spec = spec_of(SELF, 4);
    CHECK_OK(gen("Once upon a time", p, &spec, &r1));
    CHECK_STR(spec.text, base.text);
    CHECK(r1.n_drafted >= r1.n_generated_tokens / 2); /* a draft of 4 at nearly every step, all accepted */
    llamac_ctx_free(rnd_ctx);
    llamac_model_free(rnd);
}

int main(void) {
    setup();
    RUN(test_greedy_identical);
    RUN(test_sampled_distribution);
    RUN(test_stop_and_grammar);
    RUN(test_kv_after_rejection);
    RUN(test_errors);
    RUN(test_backoff);
    llamac_ctx_free(ctx);
    llamac_ctx_free(self_ctx);
    llamac_ctx_free(skip_ctx);
    llamac_model_free(model);
    llamac_model_free(skip_model);
    TESTS_DONE();
}
