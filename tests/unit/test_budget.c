/*
 * test_budget.c - the reasoning budget (llamac_sampler_add_reasoning_budget, llamac_sampling_params.reasoning_budget):
 * its checks, and its effect on real greedy generation, token by token.
 *
 * stories260K has no thinking template, so the tests name their own tags in its vocabulary and open the "thinking"
 * with the prefill, as a template that writes "<think>\n" into the prompt does. The expected tokens are computed, not
 * written down: the model's own greedy tokens up to the budget, then the tokenized message and end tag, exactly.
 */
#include "helpers.h"

static llamac_model *model;
static llamac_context *ctx;

static const llamac_token prompt[] = { 1, 403, 407, 261, 378 }; /* <s> Once upon a time */

/* SentencePiece writes a word's space into its token ("Lily" is the token " Lily"), so the tags carry none; the start
 * tag is the BOS token, which generation never produces, so only the prefill opens the "thinking". */
static const char *const end_tags[] = { "Lily", "ball" };

static llamac_reasoning_budget budget_of(int32_t tokens, const char *message) {
    llamac_reasoning_budget rb = { 0 };
    rb.tokens = tokens;
    rb.message = message;
    rb.start = "<s>";
    rb.ends = end_tags;
    rb.n_ends = 2;
    rb.prefill = "<s>";
    return rb;
}

/* Decodes the prompt and generates n tokens greedily with `s` (the greedy chain when s is NULL) into out. */
static void run(llamac_sampler *s, llamac_token *out, size_t n) {
    llamac_sampler *own = NULL;
    if (!s) {
        CHECK_OK(llamac_sampler_new(model, &own));
        s = own;
    }
    CHECK_OK(llamac_ctx_kv_clear(ctx));
    CHECK_OK(llamac_ctx_decode(ctx, 0, prompt, sizeof prompt / sizeof *prompt));
    for (size_t i = 0; i < n; i++) {
        out[i] = -1;
        CHECK_OK(llamac_sampler_sample(s, ctx, -1, &out[i]));
        if (out[i] < 0 || llamac_ctx_decode(ctx, 0, &out[i], 1) != LLAMAC_OK) {
            break;
        }
    }
    llamac_sampler_free(own);
}

static size_t tokens_of(const char *text, llamac_token *out, size_t cap) {
    llamac_token *t = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_PARSE_SPECIAL, &t, &n));
    CHECK(n <= cap);
    memcpy(out, t, (n < cap ? n : cap) * sizeof *t);
    llamac_free(t);
    return n;
}

static void test_checks(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_NONE);
    CHECK_INT(llamac_sampler_budget_state(NULL), LLAMAC_BUDGET_NONE);
    llamac_reasoning_budget rb = budget_of(4, NULL);
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(NULL, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("budget is NULL");
    rb.tokens = -2;
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("-2");
    rb = budget_of(4, NULL);
    rb.start = "";
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("start tag is empty");
    rb.start = NULL;
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    rb = budget_of(4, NULL);
    rb.n_ends = 0;
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("no thinking end tag");
    static const char *const bad_ends[] = { "Lily", "" };
    rb = budget_of(4, NULL);
    rb.ends = bad_ends;
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("end tag 1 is empty");
    rb = budget_of(4, "\xff");
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_UTF8);
    CHECK_INT(llamac_sampler_count(s), 0);
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_NONE);

    /* without a prefill it waits for the start tag; a prefill holding it starts the count (0: forcing at once) */
    rb = budget_of(4, NULL);
    rb.prefill = NULL;
    CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
    CHECK_INT(llamac_sampler_count(s), 1);
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_IDLE);
    CHECK_STATUS(llamac_sampler_add_reasoning_budget(s, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("already has a reasoning budget");
    llamac_sampler_free(s);
    CHECK_OK(llamac_sampler_new(model, &s));
    rb = budget_of(4, NULL);
    CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_COUNTING);
    llamac_sampler_free(s);
    CHECK_OK(llamac_sampler_new(model, &s));
    rb = budget_of(0, NULL);
    CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_FORCING);
    llamac_sampler_free(s);

    /* the parameters: tokens below -1, ends NULL with a count, a NULL end */
    llamac_sampling_params sp = llamac_sampling_params_default();
    CHECK_INT(sp.reasoning_budget.tokens, -1);
    CHECK(sp.reasoning_budget.start == NULL && sp.reasoning_budget.n_ends == 0);
    sp.reasoning_budget.tokens = -5;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("reasoning_budget.tokens -5");
    sp.reasoning_budget = budget_of(3, NULL);
    sp.reasoning_budget.ends = NULL;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("ends is NULL");
    CHECK(s == NULL);
}

/* Budget N: the model's own N tokens of thinking, then the message and the first end tag forced, token by token. */
static void test_forces_after_budget(void) {
    llamac_token free_run[24], msg[16], end[8], got[24];
    run(NULL, free_run, 24);
    size_t n_msg = tokens_of("Time is up.", msg, 16);
    size_t n_end = tokens_of(end_tags[0], end, 8);
    CHECK(n_msg > 0 && n_end > 0);
    for (int32_t budget = 0; budget <= 6; budget += 3) {
        llamac_sampler *s = NULL;
        llamac_reasoning_budget rb = budget_of(budget, "Time is up.");
        CHECK_OK(llamac_sampler_new(model, &s));
        CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
        size_t total = (size_t)budget + n_msg + n_end;
        run(s, got, total);
        CHECK(memcmp(got, free_run, (size_t)budget * sizeof *got) == 0);
        CHECK(memcmp(got + budget, msg, n_msg * sizeof *got) == 0);
        CHECK(memcmp(got + budget + n_msg, end, n_end * sizeof *got) == 0);
        CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_DONE);
        /* a reset returns to where the prefill left it: the same tokens again */
        llamac_token again[24];
        llamac_sampler_reset(s);
        CHECK_INT(llamac_sampler_budget_state(s), budget == 0 ? LLAMAC_BUDGET_FORCING : LLAMAC_BUDGET_COUNTING);
        run(s, again, total);
        CHECK(memcmp(again, got, total * sizeof *got) == 0);
        llamac_sampler_free(s);
    }
}

/* Unlimited (-1) changes nothing; an end tag the model writes itself ends the count, and nothing is forced. */
static void test_unlimited_and_natural_end(void) {
    llamac_token free_run[24], got[24], lily[4];
    run(NULL, free_run, 24);
    llamac_sampler *s = NULL;
    llamac_reasoning_budget rb = budget_of(-1, "Time is up.");
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
    run(s, got, 24);
    CHECK(memcmp(got, free_run, sizeof got) == 0);
    llamac_sampler_free(s);

    /* the free run names Lily within its first tokens: a budget larger than that never fires */
    size_t n_lily = tokens_of(end_tags[0], lily, 4);
    size_t at = 0;
    for (size_t i = 0; i + n_lily <= 24 && !at; i++) {
        if (memcmp(free_run + i, lily, n_lily * sizeof *lily) == 0) {
            at = i + n_lily;
        }
    }
    CHECK(at > 0 && at < 20);
    rb = budget_of((int32_t)at + 2, "Time is up.");
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_reasoning_budget(s, &rb));
    run(s, got, 24);
    CHECK(memcmp(got, free_run, sizeof got) == 0);
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_DONE);
    llamac_sampler_free(s);
}

/* Through llamac_sampling_params and llamac_generate: the message appears verbatim in the text after the budget. */
static void test_from_params_text(void) {
    struct test_sink free_text = { 0 }, text = { 0 };
    llamac_generate_params gp = llamac_generate_params_default();
    gp.sampling.temp = 0;
    gp.max_tokens = 4;
    gp.on_text = test_on_text;
    gp.user_data = &free_text;
    static const char p[] = "Once upon a time";
    CHECK_OK(llamac_generate(ctx, p, strlen(p), &gp, NULL));
    gp.user_data = &text;
    gp.max_tokens = 16;
    gp.sampling.reasoning_budget = budget_of(4, "Time is up.");
    llamac_generate_result res;
    CHECK_OK(llamac_generate(ctx, p, strlen(p), &gp, &res));
    char want[4200];
    snprintf(want, sizeof want, "%s Time is up. Lily", free_text.text);
    CHECK(strncmp(text.text, want, strlen(want)) == 0);
    if (strncmp(text.text, want, strlen(want)) != 0) {
        fprintf(stderr, "got \"%s\", want it to start with \"%s\"\n", text.text, want);
    }
    /* a budget without tags is not added (no template told them); tokens -1 without a lazy grammar neither */
    llamac_sampler *s = NULL;
    gp.sampling.reasoning_budget.start = NULL;
    CHECK_OK(llamac_sampler_from_params(model, &gp.sampling, &s));
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_NONE);
    llamac_sampler_free(s);
    gp.sampling.reasoning_budget = budget_of(-1, NULL);
    CHECK_OK(llamac_sampler_from_params(model, &gp.sampling, &s));
    CHECK_INT(llamac_sampler_budget_state(s), LLAMAC_BUDGET_NONE);
    llamac_sampler_free(s);
}

/* A template of llama.cpp's models/templates, or NULL (with a note) when the source tree is not at hand. */
static llamac_template *template_named(const char *name) {
    const char *src = getenv("LLAMAC_LLAMA_SOURCE");
    if (!src || !src[0]) {
        fprintf(stderr, "skip %s: LLAMAC_LLAMA_SOURCE is not set\n", name);
        return NULL;
    }
    char path[2300];
    snprintf(path, sizeof path, "%s/models/templates/%s.jinja", src, name);
    size_t len = 0;
    char *text = test_read_file(path, &len);
    CHECK(text != NULL);
    llamac_template *t = NULL;
    if (text) {
        CHECK_OK(llamac_template_new(text, len, &t));
    }
    free(text);
    return t;
}

/* The tags llama-server's chat layer gives a template, and the thinking block a prompt leaves open. */
static void test_template_tags(void) {
    llamac_reasoning_budget rb = { 0 };
    CHECK_STATUS(llamac_template_reasoning_budget(NULL, "", &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("tmpl is NULL");
    llamac_template *t = template_named("Qwen-Qwen3-0.6B");
    if (!t) {
        return;
    }
    CHECK_STATUS(llamac_template_reasoning_budget(t, NULL, &rb), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_template_reasoning_budget(t, "", NULL), LLAMAC_E_INVALID_ARGUMENT);
    rb.tokens = 7;
    rb.message = "m";
    CHECK_OK(llamac_template_reasoning_budget(t, "<|im_start|>assistant\n", &rb));
    CHECK_STR(rb.start, "<think>");
    CHECK_INT(rb.n_ends, 1);
    CHECK_STR(rb.n_ends ? rb.ends[0] : NULL, "</think>");
    CHECK(rb.prefill == NULL);
    CHECK(rb.tokens == 7 && rb.message && strcmp(rb.message, "m") == 0); /* left as they were */
    static const char opened[] = "<|im_start|>user\nhi<|im_end|>\n<|im_start|>assistant\n<think>\nfirst";
    CHECK_OK(llamac_template_reasoning_budget(t, opened, &rb));
    CHECK_STR(rb.prefill, "<think>\nfirst");
    CHECK(rb.prefill == opened + strlen(opened) - strlen("<think>\nfirst"));
    CHECK_OK(llamac_template_reasoning_budget(t, "<|im_start|>assistant\n<think>\n\n</think>\n\n", &rb));
    CHECK(rb.prefill == NULL && rb.start != NULL);
    llamac_template_free(t);

    /* QwQ opens the block for the model: the rendered prompt's "<think>\n" is the prefill */
    if ((t = template_named("Qwen-QwQ-32B"))) {
        llamac_template_apply_params ap = llamac_template_apply_params_default();
        ap.messages_json = "[{\"role\":\"user\",\"content\":\"hi\"}]";
        char *rendered = NULL;
        CHECK_OK(llamac_template_apply(t, model, &ap, &rendered, NULL));
        CHECK_OK(llamac_template_reasoning_budget(t, rendered ? rendered : "", &rb));
        CHECK_STR(rb.start, "<think>");
        CHECK_STR(rb.prefill, "<think>\n");
        llamac_free(rendered);
        llamac_template_free(t);
    }
    /* RWKV World's render is the same with and without add_generation_prompt: llama.cpp's generation prompt is
     * empty, so the "<think>" the prompt ends with is no prefill */
    if ((t = template_named("llama-cpp-rwkv-world"))) {
        CHECK_OK(llamac_template_reasoning_budget(t, "User: hi\n\nAssistant: <think>", &rb));
        CHECK_STR(rb.start, "<think>");
        CHECK(rb.prefill == NULL);
        llamac_template_free(t);
    }
    /* the families' own tags: Qwen3.5 (Qwen3-Coder's format) forces "\n</think>" and also ends at a call */
    if ((t = template_named("Qwen3.5-4B"))) {
        CHECK_OK(llamac_template_reasoning_budget(t, "", &rb));
        CHECK_STR(rb.start, "<think>");
        CHECK_INT(rb.n_ends, 3);
        CHECK_STR(rb.n_ends == 3 ? rb.ends[0] : NULL, "\n</think>");
        CHECK_STR(rb.n_ends == 3 ? rb.ends[2] : NULL, "<tool_call>");
        llamac_template_free(t);
    }
    if ((t = template_named("openai-gpt-oss-120b"))) {
        CHECK_OK(llamac_template_reasoning_budget(t, "<|start|>assistant", &rb));
        CHECK_STR(rb.start, "<|channel|>analysis<|message|>");
        CHECK_STR(rb.n_ends ? rb.ends[0] : NULL, "<|end|>");
        llamac_template_free(t);
    }
    if ((t = template_named("deepseek-ai-DeepSeek-V3.2"))) {
        CHECK_OK(llamac_template_reasoning_budget(t, "", &rb));
        CHECK_INT(rb.n_ends, 2);
        CHECK_STR(rb.n_ends == 2 ? rb.ends[1] : NULL, "<\xef\xbd\x9c"
                                                      "DSML\xef\xbd\x9c"
                                                      "function_calls>");
        llamac_template_free(t);
    }
    /* no thinking section, or a built-in format: no tags, so no budget */
    if ((t = template_named("meta-llama-Llama-3.1-8B-Instruct"))) {
        CHECK_OK(llamac_template_reasoning_budget(t, "<think>", &rb));
        CHECK(rb.start == NULL && rb.ends == NULL && rb.n_ends == 0 && rb.prefill == NULL);
        llamac_template_free(t);
    }
    CHECK_OK(llamac_template_builtin("chatml", &t));
    CHECK_OK(llamac_template_reasoning_budget(t, "<think>", &rb));
    CHECK(rb.start == NULL && rb.n_ends == 0);
    llamac_template_free(t);
}

int main(void) {
    test_model_ctx("stories260K.gguf", 256, &model, &ctx);
    RUN(test_checks);
    RUN(test_forces_after_budget);
    RUN(test_unlimited_and_natural_end);
    RUN(test_from_params_text);
    RUN(test_template_tags);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    TESTS_DONE();
}
