/*
 * test_sampler.c - sampler chains: parameter checks, chain rules, grammars, and their effect on real generation.
 *
 * Every adder is called once with good values and once with each bad one; a bad call must leave the chain as it
 * was and name the parameter. Grammars are checked for llama.cpp's own reasons and for the failures that would
 * otherwise throw or abort inside llama.cpp. The effect of a chain is measured on stories260K's generation.
 */
#include "helpers.h"

#include <fcntl.h>
#include <math.h>
#include <sys/stat.h>
#include <unistd.h>

static llamac_model *model;
static llamac_context *ctx;

static void setup(void) {
    test_model_ctx("stories260K.gguf", 256, &model, &ctx);
}

/* Generated text collected from the callback. */
struct text {
    char buf[4096];
    size_t len;
    int chunks;
};

static bool collect(const char *s, size_t len, void *user_data) {
    struct text *t = user_data;
    if (t->len + len < sizeof t->buf) {
        memcpy(t->buf + t->len, s, len);
        t->len += len;
    }
    t->buf[t->len] = '\0';
    t->chunks++;
    return true;
}

static const char prompt[] = "Once upon a time";

/* At most max_tokens tokens into t, with the default sampling (gen_params) or greedy (greedy_params). */
static llamac_generate_params gen_params(struct text *t, int32_t max_tokens) {
    memset(t, 0, sizeof *t);
    return test_gen_params(max_tokens, collect, t);
}

static llamac_generate_params greedy_params(struct text *t, int32_t max_tokens) {
    memset(t, 0, sizeof *t);
    return test_greedy_params(max_tokens, collect, t);
}

static llamac_status generate(const llamac_generate_params *gp, llamac_generate_result *res) {
    return llamac_generate(ctx, prompt, strlen(prompt), gp, res);
}

/* The token whose piece is exactly `piece`, or -1. The search runs from the top so that a merged piece wins over
 * the byte-fallback token (<0x2C> and "," are both ","). */
static llamac_token token_of(const char *piece) {
    size_t want = strlen(piece);
    for (llamac_token t = llamac_vocab_n_tokens(model) - 1; t >= 0; t--) {
        char buf[64];
        size_t n = 0;
        if (llamac_token_to_piece(model, t, false, buf, sizeof buf, &n) == LLAMAC_OK && n == want &&
            memcmp(buf, piece, n) == 0) {
            return t;
        }
    }
    return -1;
}

static void test_adders_valid(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_INT(llamac_sampler_count(s), 0);
    static const char *const breakers[] = { "\n", "." };
    llamac_logit_bias lb[] = { { 5, 1.5f }, { 6, -INFINITY } };
    size_t want = 0;
#define ADD(call)                                                                                                      \
    do {                                                                                                               \
        CHECK_OK(call);                                                                                                \
        CHECK_INT(llamac_sampler_count(s), ++want);                                                                    \
    } while (0)
    ADD(llamac_sampler_add_logit_bias(s, lb, 2));
    ADD(llamac_sampler_add_penalties(s, 64, 1.1f, 0.1f, 0.1f));
    ADD(llamac_sampler_add_penalties(s, -1, 1.0f, 0.0f, 0.0f));
    ADD(llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, -1, NULL, 0));
    ADD(llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, 64, breakers, 2));
    ADD(llamac_sampler_add_top_n_sigma(s, 1.5f));
    ADD(llamac_sampler_add_top_k(s, 40));
    ADD(llamac_sampler_add_top_k(s, 0));
    ADD(llamac_sampler_add_typical(s, 1.0f, 1));
    ADD(llamac_sampler_add_top_p(s, 0.95f, 1));
    ADD(llamac_sampler_add_top_p(s, 1.0f, 0));
    ADD(llamac_sampler_add_min_p(s, 0.05f, 1));
    ADD(llamac_sampler_add_min_p(s, 0.0f, 1));
    ADD(llamac_sampler_add_xtc(s, 0.5f, 0.1f, 1, 7));
    ADD(llamac_sampler_add_temp_ext(s, 0.8f, 0.2f, 1.0f));
    ADD(llamac_sampler_add_temp(s, 0.8f));
    ADD(llamac_sampler_add_temp(s, 0.0f));
    ADD(llamac_sampler_add_infill(s));
    ADD(llamac_sampler_add_grammar(s, "root ::= [a-z ]+", NULL));
    ADD(llamac_sampler_add_dist(s, 42));
    llamac_sampler_free(s);

    /* Each selecting sampler ends a chain of its own. */
    for (int which = 0; which < 4; which++) {
        CHECK_OK(llamac_sampler_new(model, &s));
        want = 0;
        ADD(llamac_sampler_add_top_k(s, 10));
        switch (which) {
        case 0: ADD(llamac_sampler_add_greedy(s)); break;
        case 1: ADD(llamac_sampler_add_mirostat(s, 1, 5.0f, 0.1f, 100)); break;
        case 2: ADD(llamac_sampler_add_mirostat_v2(s, 1, 5.0f, 0.1f)); break;
        default: ADD(llamac_sampler_add_adaptive_p(s, 0.5f, 0.9f, 1)); break;
        }
        llamac_sampler_free(s);
    }
#undef ADD
    llamac_sampler_free(NULL);
}

static void test_every_selector_generates(void) {
    /* Every filter in llama.cpp's order, ended by each selecting sampler in turn, drives a real generation. */
    for (int which = 0; which < 5; which++) {
        llamac_sampler *s = NULL;
        CHECK_OK(llamac_sampler_new(model, &s));
        CHECK_OK(llamac_sampler_add_penalties(s, 64, 1.1f, 0.1f, 0.1f));
        CHECK_OK(llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, -1, NULL, 0));
        CHECK_OK(llamac_sampler_add_top_n_sigma(s, 2.0f));
        CHECK_OK(llamac_sampler_add_top_k(s, 40));
        CHECK_OK(llamac_sampler_add_typical(s, 0.9f, 1));
        CHECK_OK(llamac_sampler_add_top_p(s, 0.9f, 1));
        CHECK_OK(llamac_sampler_add_min_p(s, 0.05f, 1));
        CHECK_OK(llamac_sampler_add_xtc(s, 0.5f, 0.1f, 1, 3));
        CHECK_OK(llamac_sampler_add_temp_ext(s, 0.8f, 0.3f, 1.0f));
        switch (which) {
        case 0: CHECK_OK(llamac_sampler_add_greedy(s)); break;
        case 1: CHECK_OK(llamac_sampler_add_dist(s, 5)); break;
        case 2: CHECK_OK(llamac_sampler_add_mirostat(s, 5, 5.0f, 0.1f, 100)); break;
        case 3: CHECK_OK(llamac_sampler_add_mirostat_v2(s, 5, 5.0f, 0.1f)); break;
        default: CHECK_OK(llamac_sampler_add_adaptive_p(s, 0.5f, 0.9f, 5)); break;
        }
        CHECK_INT(llamac_sampler_count(s), 10);
        struct text t;
        llamac_generate_params gp = gen_params(&t, 24);
        gp.sampler = s;
        llamac_generate_result res;
        CHECK_OK(generate(&gp, &res));
        CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
        CHECK_INT(res.n_generated_tokens, 24);
        CHECK(t.len > 0);
        CHECK(llamac_utf8_valid(t.buf, t.len, NULL));
        llamac_sampler_free(s);
    }
}

static void test_adders_invalid(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_top_k(s, 40));
#define BAD(call, needle)                                                                                              \
    do {                                                                                                               \
        CHECK_STATUS(call, LLAMAC_E_INVALID_ARGUMENT);                                                                 \
        CHECK_ERROR_HAS(needle);                                                                                       \
        CHECK_INT(llamac_sampler_count(s), 1);                                                                         \
    } while (0)
    BAD(llamac_sampler_add_top_p(s, 0.0f, 1), "top_p 0");
    BAD(llamac_sampler_add_top_p(s, 1.5f, 1), "top_p 1.5");
    BAD(llamac_sampler_add_top_p(s, NAN, 1), "top_p");
    BAD(llamac_sampler_add_min_p(s, 2.0f, 1), "min_p 2");
    BAD(llamac_sampler_add_min_p(s, -0.1f, 1), "min_p");
    BAD(llamac_sampler_add_typical(s, 0.0f, 1), "typical_p 0");
    BAD(llamac_sampler_add_temp(s, -1.0f), "temperature -1");
    BAD(llamac_sampler_add_temp(s, INFINITY), "temperature");
    BAD(llamac_sampler_add_temp_ext(s, 0.8f, 0.2f, 0.0f), "exponent 0");
    BAD(llamac_sampler_add_temp_ext(s, 0.8f, -0.2f, 1.0f), "range -0.2");
    BAD(llamac_sampler_add_xtc(s, 2.0f, 0.1f, 1, 1), "xtc probability 2");
    BAD(llamac_sampler_add_xtc(s, 0.5f, 1.5f, 1, 1), "xtc threshold 1.5");
    BAD(llamac_sampler_add_top_n_sigma(s, 0.0f), "top_n_sigma 0");
    BAD(llamac_sampler_add_mirostat(s, 1, 0.0f, 0.1f, 100), "tau 0");
    BAD(llamac_sampler_add_mirostat(s, 1, 5.0f, 0.0f, 100), "eta 0");
    BAD(llamac_sampler_add_mirostat(s, 1, 5.0f, 0.1f, 0), "m 0");
    BAD(llamac_sampler_add_mirostat_v2(s, 1, 0.0f, 0.1f), "tau 0");
    BAD(llamac_sampler_add_penalties(s, 64, 0.0f, 0.0f, 0.0f), "repeat penalty 0");
    BAD(llamac_sampler_add_penalties(s, -2, 1.0f, 0.0f, 0.0f), "last_n -2");
    BAD(llamac_sampler_add_penalties(s, 64, 1.0f, NAN, 0.0f), "frequency");
    BAD(llamac_sampler_add_dry(s, 0.8f, 0.5f, 2, -1, NULL, 0), "DRY base 0.5");
    BAD(llamac_sampler_add_dry(s, -1.0f, 1.75f, 2, -1, NULL, 0), "DRY multiplier -1");
    BAD(llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, -1, NULL, 2), "breakers is NULL");
    static const char *const empty_breaker[] = { "" };
    BAD(llamac_sampler_add_dry(s, 0.8f, 1.75f, 2, -1, empty_breaker, 1), "breaker 0");
    BAD(llamac_sampler_add_adaptive_p(s, 0.5f, 1.5f, 1), "decay 1.5");
    BAD(llamac_sampler_add_adaptive_p(s, 1.5f, 0.5f, 1), "target 1.5");
    BAD(llamac_sampler_add_logit_bias(s, NULL, 3), "biases is NULL");
#undef BAD
    llamac_sampler_free(s);
    /* NULL chains and outputs. */
    CHECK_STATUS(llamac_sampler_add_greedy(NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK_STATUS(llamac_sampler_add_top_p(NULL, 0.9f, 1), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_new(NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_ERROR_HAS("model");
    CHECK_STATUS(llamac_sampler_new(model, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(llamac_sampler_count(NULL), 0);
}

static void test_logit_bias_range(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    llamac_logit_bias lb[] = { { 5, 1.0f }, { 9999, -INFINITY } };
    CHECK_STATUS(llamac_sampler_add_logit_bias(s, lb, 2), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("9999");
    CHECK_ERROR_HAS("bias 1");
    lb[1].token = -1;
    CHECK_STATUS(llamac_sampler_add_logit_bias(s, lb, 2), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("-1");
    lb[1].token = 511; /* the last id is fine */
    lb[1].bias = NAN;
    CHECK_STATUS(llamac_sampler_add_logit_bias(s, lb, 2), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NaN");
    CHECK_INT(llamac_sampler_count(s), 0);
    lb[1].bias = -INFINITY;
    CHECK_OK(llamac_sampler_add_logit_bias(s, lb, 2));
    CHECK_INT(llamac_sampler_count(s), 1);
    llamac_sampler_free(s);
}

static void test_nothing_after_selector(void) {
    for (int which = 0; which < 4; which++) {
        llamac_sampler *s = NULL;
        CHECK_OK(llamac_sampler_new(model, &s));
        switch (which) {
        case 0: CHECK_OK(llamac_sampler_add_greedy(s)); break;
        case 1: CHECK_OK(llamac_sampler_add_dist(s, 1)); break;
        case 2: CHECK_OK(llamac_sampler_add_mirostat(s, 1, 5.0f, 0.1f, 100)); break;
        default: CHECK_OK(llamac_sampler_add_mirostat_v2(s, 1, 5.0f, 0.1f)); break;
        }
        CHECK_INT(llamac_sampler_count(s), 1);
        CHECK_STATUS(llamac_sampler_add_top_k(s, 40), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("top_k");
        CHECK_ERROR_HAS("already ends");
        CHECK_STATUS(llamac_sampler_add_temp(s, 0.5f), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_sampler_add_greedy(s), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STATUS(llamac_sampler_add_dist(s, 3), LLAMAC_E_INVALID_ARGUMENT);
        static const llamac_logit_bias lb = { 5, 1.0f };
        CHECK_STATUS(llamac_sampler_add_logit_bias(s, &lb, 1), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_INT(llamac_sampler_count(s), 1);
        /* A grammar is not part of the chain's order: it is applied first wherever it is added. */
        CHECK_OK(llamac_sampler_add_grammar(s, "root ::= \"a\"", NULL));
        CHECK_INT(llamac_sampler_count(s), 2);
        llamac_sampler_free(s);
    }
}

/* Adding `grammar` must fail with LLAMAC_E_GRAMMAR and a message that contains `needle`. */
static void expect_bad_grammar(const char *grammar, const char *root, const char *needle, int line) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    llamac_status st = llamac_sampler_add_grammar(s, grammar, root);
    const char *msg = llamac_last_error();
    if (st != LLAMAC_E_GRAMMAR || !strstr(msg, needle)) {
        check_failed++;
        fprintf(stderr, "%s:%d: grammar '%s' gave %s \"%s\", expected invalid grammar mentioning \"%s\"\n", __FILE__,
                line, grammar, llamac_status_str(st), msg, needle);
    } else {
        check_passed++;
    }
    CHECK_INT(llamac_sampler_count(s), 0);
    llamac_sampler_free(s);
}
#define EXPECT_BAD_GRAMMAR(grammar, root, needle) expect_bad_grammar(grammar, root, needle, __LINE__)

static void test_grammar_invalid(void) {
    /* llama.cpp's parser reasons: a string that never ends, a missing "::=", a rule never defined. */
    EXPECT_BAD_GRAMMAR("root ::= \"yes", NULL, "unexpected end of input");
    EXPECT_BAD_GRAMMAR("root \"yes\"", NULL, "expecting ::=");
    EXPECT_BAD_GRAMMAR("root ::= answer", NULL, "answer");
    /* Left recursion, and a start rule that does not exist. */
    EXPECT_BAD_GRAMMAR("root ::= root \"a\" | \"a\"", NULL, "left recursion");
    EXPECT_BAD_GRAMMAR("start ::= \"a\"", NULL, "'root'");
    EXPECT_BAD_GRAMMAR("root ::= \"a\"", "nope", "'nope'");
    EXPECT_BAD_GRAMMAR("", NULL, "empty");
    EXPECT_BAD_GRAMMAR("root ::= \"\xC3\"", NULL, "UTF-8");
    /* The same grammar with its real start rule is fine. */
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_grammar(s, "start ::= \"a\"", "start"));
    CHECK_STR(llamac_last_error(), "");
    /* A second grammar on the same chain. */
    CHECK_STATUS(llamac_sampler_add_grammar(s, "root ::= \"b\"", NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("already has a grammar");
    CHECK_INT(llamac_sampler_count(s), 1);
    CHECK_STATUS(llamac_sampler_add_grammar(s, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_sampler_free(s);
    CHECK_STATUS(llamac_sampler_add_grammar(NULL, "root ::= \"a\"", NULL), LLAMAC_E_INVALID_ARGUMENT);
}

static void test_grammar_error_is_silent(void) {
    /* llama.cpp's parser prints its reason and the grammar to stderr; the library must not let that through. */
    const char *path = test_tmp("grammar-stderr.txt");
    fflush(stderr);
    int saved = dup(STDERR_FILENO);
    int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
    CHECK(saved >= 0 && fd >= 0);
    if (saved < 0 || fd < 0) {
        return;
    }
    dup2(fd, STDERR_FILENO);
    close(fd);
    llamac_sampler *s = NULL;
    llamac_status st_new = llamac_sampler_new(model, &s);
    llamac_status st_syntax = llamac_sampler_add_grammar(s, "root ::= \"yes", NULL);
    llamac_status st_undefined = llamac_sampler_add_grammar(s, "root ::= answer", NULL);
    llamac_status st_recursion = llamac_sampler_add_grammar(s, "root ::= root \"a\" | \"a\"", NULL);
    llamac_sampler_free(s);
    fflush(stderr);
    dup2(saved, STDERR_FILENO);
    close(saved);
    CHECK_OK(st_new);
    CHECK_INT(st_syntax, LLAMAC_E_GRAMMAR);
    CHECK_INT(st_undefined, LLAMAC_E_GRAMMAR);
    CHECK_INT(st_recursion, LLAMAC_E_GRAMMAR);
    struct stat sb;
    CHECK(stat(path, &sb) == 0);
    CHECK_INT(sb.st_size, 0);
    /* stderr works again afterwards (this line reaches the test log). */
    fprintf(stderr, "stderr restored\n");
}

static void test_grammar_lazy(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    /* std::regex throws on "("; that must come back as an error, not end the process. */
    static const char *const bad[] = { "yes", "(" };
    CHECK_STATUS(llamac_sampler_add_grammar_lazy(s, "root ::= \"yes\"", NULL, bad, 2, NULL, 0), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("trigger pattern 1");
    CHECK_ERROR_HAS("\"(\"");
    CHECK_INT(llamac_sampler_count(s), 0);
    /* No trigger at all, a NULL pattern, a trigger token out of range, a bad grammar behind good triggers. */
    CHECK_STATUS(llamac_sampler_add_grammar_lazy(s, "root ::= \"yes\"", NULL, NULL, 0, NULL, 0),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("trigger");
    static const char *const null_pattern[] = { NULL };
    CHECK_STATUS(llamac_sampler_add_grammar_lazy(s, "root ::= \"yes\"", NULL, null_pattern, 1, NULL, 0),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("pattern 0");
    static const llamac_token bad_token[] = { 600 };
    CHECK_STATUS(llamac_sampler_add_grammar_lazy(s, "root ::= \"yes\"", NULL, NULL, 0, bad_token, 1),
                 LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("600");
    static const char *const good[] = { "[\\s\\S]*answer:" };
    CHECK_STATUS(llamac_sampler_add_grammar_lazy(s, "root ::= root \"a\" | \"a\"", NULL, good, 1, NULL, 0),
                 LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("left recursion");
    CHECK_INT(llamac_sampler_count(s), 0);
    /* Valid: patterns and tokens. */
    static const llamac_token trig[] = { 2 };
    CHECK_OK(llamac_sampler_add_grammar_lazy(s, "root ::= \"yes\"", NULL, good, 1, trig, 1));
    CHECK_INT(llamac_sampler_count(s), 1);
    llamac_sampler_free(s);
}

/* Generates greedily with a lazy grammar triggered by `pattern`, into `t`. */
static llamac_status generate_lazy(const char *pattern, struct text *t, llamac_generate_result *res) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    const char *const patterns[] = { pattern };
    CHECK_OK(llamac_sampler_add_grammar_lazy(s, "root ::= \"named Bob.\"", NULL, patterns, 1, NULL, 0));
    CHECK_OK(llamac_sampler_add_greedy(s));
    llamac_generate_params gp = gen_params(t, 40);
    gp.sampler = s;
    llamac_status st = generate(&gp, res);
    llamac_sampler_free(s);
    return st;
}

static void test_grammar_lazy_generation(void) {
    /* Free text until "named" appears (greedy: ", there was a little girl named"), then the grammar takes over
     * from the trigger's capture group and the model must write " Bob." where it would write " Lily.". */
    struct text t;
    llamac_generate_result res;
    CHECK_OK(generate_lazy("[\\s\\S]*?(named)[\\s\\S]*", &t, &res));
    CHECK_STR(t.buf, ", there was a little girl named Bob.");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);

    /* A trigger that completes only inside the next token (" Lily" after "named "): llama.cpp replays " Lily"
     * into the grammar, which rejects it. That is an error naming the token, not a crash (llama.cpp throws). */
    CHECK_STATUS(generate_lazy("[\\s\\S]*?(named )[\\s\\S]*", &t, &res), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("token 317");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK_STR(t.buf, ", there was a little girl named");

    /* The same through llamac_sampler_accept: the grammar is spent, and a reset makes it usable again. */
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    const char *const patterns[] = { "[\\s\\S]*?(named )[\\s\\S]*" };
    CHECK_OK(llamac_sampler_add_grammar_lazy(s, "root ::= \"named Bob.\"", NULL, patterns, 1, NULL, 0));
    static const llamac_token story[] = { 261, 376, 298, 315, 421, 395 }; /* " a little girl named" */
    for (size_t i = 0; i < sizeof story / sizeof story[0]; i++) {
        CHECK_OK(llamac_sampler_accept(s, story[i]));
    }
    CHECK_STATUS(llamac_sampler_accept(s, 317), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("317");
    /* llama.cpp left the grammar without state; using it now would abort inside llama.cpp. */
    CHECK_STATUS(llamac_sampler_accept(s, 261), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("reset");
    llamac_token tok = 0;
    CHECK_STATUS(llamac_sampler_sample(s, ctx, -1, &tok), LLAMAC_E_GRAMMAR); /* ctx holds the last generation */
    CHECK_ERROR_HAS("reset");
    CHECK_INT(tok, -1);
    llamac_sampler_reset(s);
    CHECK_OK(llamac_sampler_accept(s, 261));
    llamac_sampler_free(s);

    /* The context is fine afterwards. */
    CHECK_OK(generate_lazy("[\\s\\S]*?(named)[\\s\\S]*", &t, &res));
    CHECK_STR(t.buf, ", there was a little girl named Bob.");
}

static void test_grammar_constrains_generation(void) {
    static const float temps[] = { 0.0f, 0.8f, 1.5f };
    for (size_t ti = 0; ti < sizeof temps / sizeof temps[0]; ti++) {
        for (uint32_t seed = 1; seed <= 4; seed++) {
            struct text t;
            llamac_generate_params gp = gen_params(&t, 32);
            gp.sampling.grammar = "root ::= \"yes\" | \"no\"";
            gp.sampling.temp = temps[ti];
            gp.sampling.seed = seed;
            gp.sampling.top_k = 0;
            gp.sampling.min_p = 0.0f;
            llamac_generate_result res;
            CHECK_OK(generate(&gp, &res));
            if (strcmp(t.buf, "yes") != 0 && strcmp(t.buf, "no") != 0) {
                check_failed++;
                fprintf(stderr, "%s:%d: temp %g seed %u: grammar output \"%s\" is neither yes nor no\n", __FILE__,
                        __LINE__, (double)temps[ti], seed, t.buf);
            } else {
                check_passed++;
            }
            CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);
        }
    }
    /* An invalid grammar in the params fails the call before anything is generated. */
    struct text t;
    llamac_generate_params gp = gen_params(&t, 8);
    gp.sampling.grammar = "root ::= (";
    llamac_generate_result res;
    CHECK_STATUS(generate(&gp, &res), LLAMAC_E_GRAMMAR);
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_NONE);
    CHECK_INT(t.len, 0);
}

static void test_accept_forbidden(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_grammar(s, "root ::= \"yes\" | \"no\"", NULL));
    CHECK_OK(llamac_sampler_add_greedy(s));
    llamac_token n = token_of("n");
    llamac_token o = token_of("o");
    llamac_token eos = llamac_vocab_special(model, LLAMAC_TOKEN_EOS);
    CHECK(n >= 0 && o >= 0);
    /* " a" and EOS are not allowed at the start (llama.cpp would throw, or abort on EOS). */
    CHECK_STATUS(llamac_sampler_accept(s, 261), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("261");
    CHECK_STATUS(llamac_sampler_accept(s, eos), LLAMAC_E_GRAMMAR);
    CHECK_STATUS(llamac_sampler_accept(s, o), LLAMAC_E_GRAMMAR);
    CHECK_STATUS(llamac_sampler_accept(s, 512), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("512");
    /* The refusals left the grammar where it was: "n", "o", then the end are accepted. */
    CHECK_OK(llamac_sampler_accept(s, n));
    CHECK_STATUS(llamac_sampler_accept(s, n), LLAMAC_E_GRAMMAR);
    CHECK_OK(llamac_sampler_accept(s, o));
    CHECK_STATUS(llamac_sampler_accept(s, o), LLAMAC_E_GRAMMAR);
    CHECK_OK(llamac_sampler_accept(s, eos));
    /* Reset returns the grammar to its start. */
    llamac_sampler_reset(s);
    CHECK_STATUS(llamac_sampler_accept(s, o), LLAMAC_E_GRAMMAR);
    CHECK_OK(llamac_sampler_accept(s, n));
    CHECK_STATUS(llamac_sampler_accept(NULL, n), LLAMAC_E_INVALID_ARGUMENT);
    llamac_sampler_reset(NULL);
    llamac_sampler_free(s);
}

static void test_sample_directly(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    llamac_token tok = 7;
    /* Nothing decoded yet on a fresh context. */
    llamac_context *fresh = NULL;
    llamac_ctx_params cp = test_ctx_params(64);
    CHECK_OK(llamac_ctx_new(model, &cp, &fresh));
    CHECK_STATUS(llamac_sampler_sample(s, fresh, -1, &tok), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("decode");
    CHECK_INT(tok, -1);

    /* An empty chain selects greedily: after "Once upon a time" the most likely token is ",". */
    static const llamac_token p[] = { 1, 403, 407, 261, 378 };
    CHECK_OK(llamac_ctx_decode(fresh, 0, p, 5));
    CHECK_OK(llamac_sampler_sample(s, fresh, -1, &tok));
    CHECK_INT(tok, 432);
    CHECK_OK(llamac_sampler_sample(s, fresh, 0, &tok));
    CHECK_INT(tok, 432);
    CHECK_STATUS(llamac_sampler_sample(s, fresh, 1, &tok), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("index 1");
    CHECK_STATUS(llamac_sampler_sample(s, fresh, -1, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_sample(s, NULL, -1, &tok), LLAMAC_E_INVALID_ARGUMENT);

    /* A grammar that only allows "no" overrides the model's choice. */
    CHECK_OK(llamac_sampler_add_grammar(s, "root ::= \"no\"", NULL));
    CHECK_OK(llamac_sampler_sample(s, fresh, -1, &tok));
    char piece[16];
    size_t n = 0;
    CHECK_OK(llamac_token_to_piece(model, tok, false, piece, sizeof piece, &n));
    CHECK(n >= 1 && n <= 2 && memcmp(piece, "no", n) == 0);
    llamac_ctx_free(fresh);
    llamac_sampler_free(s);
}

static void test_seeded_dist(void) {
    struct text a, b;
    llamac_generate_params gp = gen_params(&a, 32);
    gp.sampling.seed = 1234;
    CHECK_OK(generate(&gp, NULL));
    gp = gen_params(&b, 32);
    gp.sampling.seed = 1234;
    CHECK_OK(generate(&gp, NULL));
    CHECK(a.len > 0);
    CHECK_STR(a.buf, b.buf);

    /* Different seeds: not all the same text. */
    static char texts[5][4096];
    int distinct = 0;
    for (uint32_t seed = 0; seed < 5; seed++) {
        struct text t;
        gp = gen_params(&t, 32);
        gp.sampling.seed = seed + 1;
        gp.sampling.temp = 1.0f;
        CHECK_OK(generate(&gp, NULL));
        memcpy(texts[seed], t.buf, t.len + 1);
        bool seen = false;
        for (uint32_t k = 0; k < seed; k++) {
            seen = seen || strcmp(texts[k], texts[seed]) == 0;
        }
        distinct += !seen;
    }
    CHECK(distinct >= 2);
}

static void test_greedy_chain_equals_temp0(void) {
    struct text a, b;
    llamac_generate_params gp = greedy_params(&a, 48);
    llamac_generate_result ra, rb;
    CHECK_OK(generate(&gp, &ra));

    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_greedy(s));
    gp = gen_params(&b, 48);
    gp.sampler = s;
    gp.sampling.temp = 1.5f; /* ignored: the chain is used instead */
    CHECK_OK(generate(&gp, &rb));
    CHECK(a.len > 0);
    CHECK_STR(b.buf, a.buf);
    CHECK_INT(rb.n_generated_tokens, ra.n_generated_tokens);
    CHECK_INT(rb.finish_reason, ra.finish_reason);
    CHECK(strncmp(a.buf, ", there was", 11) == 0);
    llamac_sampler_free(s);
}

static void test_logit_bias_changes_output(void) {
    /* Greedy continues "Once upon a time" with ","; banning "," changes the first token and removes every comma. */
    llamac_token comma = token_of(",");
    CHECK_INT(comma, 432);
    struct text t;
    llamac_generate_params gp = greedy_params(&t, 48);
    llamac_logit_bias ban = { comma, -INFINITY };
    gp.sampling.logit_bias = &ban;
    gp.sampling.n_logit_bias = 1;
    CHECK_OK(generate(&gp, NULL));
    CHECK(t.len > 0 && t.buf[0] != ',');
    CHECK(strchr(t.buf, ',') == NULL);

    /* The same through a chain of its own. */
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_new(model, &s));
    CHECK_OK(llamac_sampler_add_logit_bias(s, &ban, 1));
    CHECK_OK(llamac_sampler_add_greedy(s));
    struct text u;
    gp = gen_params(&u, 48);
    gp.sampler = s;
    CHECK_OK(generate(&gp, NULL));
    CHECK_STR(u.buf, t.buf);
    llamac_sampler_free(s);

    /* An out-of-range bias in the params is refused by generate. */
    llamac_logit_bias bad = { 700, 1.0f };
    gp = gen_params(&u, 8);
    gp.sampling.logit_bias = &bad;
    gp.sampling.n_logit_bias = 1;
    CHECK_STATUS(generate(&gp, NULL), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("700");
}

/* The chain's samplers from top-k on, after `lead` (logit biases, neutral penalties). */
static void add_tail(llamac_sampler *s, int32_t k, float temp, uint32_t seed) {
    CHECK_OK(llamac_sampler_add_penalties(s, 64, 1.0f, 0.0f, 0.0f));
    CHECK_OK(llamac_sampler_add_top_k(s, k));
    CHECK_OK(llamac_sampler_add_typical(s, 0.95f, 1));
    CHECK_OK(llamac_sampler_add_top_p(s, 0.9f, 1));
    CHECK_OK(llamac_sampler_add_min_p(s, 0.02f, 1));
    CHECK_OK(llamac_sampler_add_temp_ext(s, temp, 0.0f, 1.0f));
    CHECK_OK(llamac_sampler_add_dist(s, seed));
}

/* Generates from a fixed prompt with two chains side by side: the number of steps (of n) at which both picked the
 * same token, stopping at the first difference; *commas counts the fast chain's `comma` tokens. */
static int same_tokens(llamac_sampler *fast, llamac_sampler *full, int n, llamac_token comma, int *commas) {
    CHECK_OK(llamac_ctx_seq_rm(ctx, 0, -1, -1));
    static const llamac_token p[] = { 1, 403, 407, 261, 378 };
    CHECK_OK(llamac_ctx_decode(ctx, 0, p, 5));
    int same = 0;
    for (int step = 0; step < n; step++) {
        llamac_token a = -1, b = -1;
        CHECK_OK(llamac_sampler_sample(fast, ctx, -1, &a));
        CHECK_OK(llamac_sampler_sample(full, ctx, -1, &b));
        same += a == b;
        *commas += a == comma;
        if (a != b || llamac_ctx_decode(ctx, 0, &a, 1) != LLAMAC_OK) { /* past an end token too */
            break;
        }
    }
    return same;
}

/* A chain that starts with neutral samplers and a top-k takes its k best straight from the logits
 * (core/sampler_topk.c). The same chain behind a top-k over the whole vocabulary (which only sorts, and turns the
 * shortcut off) must pick the same token at every step, greedy and random, with and without biases. */
static void test_topk_shortcut_matches_full_chain(void) {
    int32_t n_vocab = llamac_vocab_n_tokens(model);
    llamac_token comma = token_of(",");
    const llamac_logit_bias biases[] = { { comma, -INFINITY }, { 300, 4.0f }, { 77, 2.5f }, { 300, -1.5f } };
    static const struct {
        int32_t k;
        float temp;
        size_t n_bias;
    } cases[] = { { 1, 0.0f, 0 }, { 40, 0.0f, 0 }, { 40, 0.8f, 0 }, { 40, 1.5f, 4 }, { 5, 1.0f, 1 }, { 64, 2.0f, 4 } };
    for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
        llamac_sampler *fast = NULL, *full = NULL;
        CHECK_OK(llamac_sampler_new(model, &fast));
        CHECK_OK(llamac_sampler_new(model, &full));
        if (cases[c].n_bias) {
            CHECK_OK(llamac_sampler_add_logit_bias(fast, biases, cases[c].n_bias));
            CHECK_OK(llamac_sampler_add_logit_bias(full, biases, cases[c].n_bias));
        }
        CHECK_OK(llamac_sampler_add_top_k(full, n_vocab));
        add_tail(fast, cases[c].k, cases[c].temp, 100 + (uint32_t)c);
        add_tail(full, cases[c].k, cases[c].temp, 100 + (uint32_t)c);
        int commas = 0;
        CHECK_INT(same_tokens(fast, full, 96, comma, &commas), 96);
        if (cases[c].n_bias) {
            CHECK_INT(commas, 0);
        }
        llamac_sampler_free(fast);
        llamac_sampler_free(full);
    }
}

/* The tail of a greedy-shortcut case (see test_topk_greedy_matches_full_chain), after the top-k. */
static void add_greedy_case(llamac_sampler *s, int c, llamac_token ban) {
    const llamac_logit_bias b = { ban, -INFINITY };
    CHECK_OK(llamac_sampler_add_top_k(s, 40));
    switch (c) {
    case 0: /* every sampler that keeps the best, then temperature 0: greedy */
        CHECK_OK(llamac_sampler_add_typical(s, 1.0f, 1));
        CHECK_OK(llamac_sampler_add_top_p(s, 0.9f, 1));
        CHECK_OK(llamac_sampler_add_min_p(s, 0.05f, 1));
        CHECK_OK(llamac_sampler_add_xtc(s, 0.0f, 0.1f, 1, 7));
        CHECK_OK(llamac_sampler_add_xtc(s, 1.0f, 0.6f, 1, 7));
        CHECK_OK(llamac_sampler_add_top_n_sigma(s, 1.5f));
        CHECK_OK(llamac_sampler_add_temp(s, 0.5f));
        CHECK_OK(llamac_sampler_add_temp_ext(s, 0.0f, 0.0f, 1.0f));
        CHECK_OK(llamac_sampler_add_dist(s, 11));
        break;
    case 1: /* the greedy selector */
        CHECK_OK(llamac_sampler_add_top_p(s, 0.5f, 1));
        CHECK_OK(llamac_sampler_add_greedy(s));
        break;
    case 2: /* XTC that fires: it drops the best candidates, drawing a random number each time */
        CHECK_OK(llamac_sampler_add_xtc(s, 1.0f, 0.05f, 1, 7));
        CHECK_OK(llamac_sampler_add_temp(s, 0.0f));
        CHECK_OK(llamac_sampler_add_dist(s, 11));
        break;
    case 3: /* a bias after the top-k that bans what greedy picks most */
        CHECK_OK(llamac_sampler_add_logit_bias(s, &b, 1));
        CHECK_OK(llamac_sampler_add_temp(s, 0.0f));
        CHECK_OK(llamac_sampler_add_dist(s, 11));
        break;
    case 4: /* typical below 1 may drop the most probable token */
        CHECK_OK(llamac_sampler_add_typical(s, 0.2f, 1));
        CHECK_OK(llamac_sampler_add_temp(s, 0.0f));
        CHECK_OK(llamac_sampler_add_dist(s, 11));
        break;
    default: /* a dynamic temperature, which is not 0 everywhere */
        CHECK_OK(llamac_sampler_add_temp_ext(s, 0.0f, 1.5f, 1.0f));
        CHECK_OK(llamac_sampler_add_dist(s, 11));
        break;
    }
}

/* Chains that only ever pick the best candidate take a top-k of one from the logits (core/sampler_topk.c); chains
 * that look alike but may not pick the best keep their k. Either way the token at every step must be the one the
 * same chain picks behind a top-k over the whole vocabulary (shortcut off). */
static void test_topk_greedy_matches_full_chain(void) {
    int32_t n_vocab = llamac_vocab_n_tokens(model);
    llamac_token comma = token_of(",");
    for (int c = 0; c < 6; c++) {
        llamac_sampler *fast = NULL, *full = NULL;
        CHECK_OK(llamac_sampler_new(model, &fast));
        CHECK_OK(llamac_sampler_new(model, &full));
        CHECK_OK(llamac_sampler_add_top_k(full, n_vocab));
        add_greedy_case(fast, c, comma);
        add_greedy_case(full, c, comma);
        int commas = 0;
        CHECK_INT(same_tokens(fast, full, 96, comma, &commas), 96);
        if (c == 3) {
            CHECK_INT(commas, 0);
        }
        llamac_sampler_free(fast);
        llamac_sampler_free(full);
    }
}

static void test_mirostat(void) {
    llamac_sampling_params sp = llamac_sampling_params_default();
    llamac_sampler *s = (llamac_sampler *)&sp;
    sp.mirostat = 3;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("mirostat 3");
    CHECK(s == NULL);
    sp.mirostat = -1;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    sp.mirostat = 2;
    sp.mirostat_tau = 0.0f;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("tau 0");

    for (int32_t m = 1; m <= 2; m++) {
        sp = llamac_sampling_params_default();
        sp.mirostat = m;
        CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
        CHECK_INT(llamac_sampler_count(s), 2); /* temperature + mirostat */
        llamac_sampler_free(s);

        struct text t;
        llamac_generate_params gp = gen_params(&t, 24);
        gp.sampling.mirostat = m;
        gp.sampling.seed = 99;
        llamac_generate_result res;
        CHECK_OK(generate(&gp, &res));
        CHECK(res.n_generated_tokens > 0);
        CHECK(res.finish_reason == LLAMAC_FINISH_LENGTH || res.finish_reason == LLAMAC_FINISH_EOG);
        CHECK(t.len > 0);
        CHECK(llamac_utf8_valid(t.buf, t.len, NULL));
    }
    struct text t;
    llamac_generate_params gp = gen_params(&t, 8);
    gp.sampling.mirostat = 3;
    CHECK_STATUS(generate(&gp, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("mirostat 3");
}

static void test_from_params(void) {
    llamac_sampler *s = NULL;
    CHECK_OK(llamac_sampler_from_params(model, NULL, &s));
    /* penalties, top-k, typical, top-p, min-p, xtc, temperature, dist */
    CHECK_INT(llamac_sampler_count(s), 8);
    llamac_sampler_free(s);
    llamac_sampling_params sp = llamac_sampling_params_default();
    sp.top_p = 0.0f;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("top_p 0");
    sp = llamac_sampling_params_default();
    sp.dry_multiplier = 0.8f;
    sp.top_n_sigma = 1.0f;
    sp.grammar = "root ::= [a-z]+";
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 11);
    llamac_sampler_free(s);
    CHECK_STATUS(llamac_sampler_from_params(NULL, NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_from_params(model, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
}

/* Every check of the parameters a chain cannot check by building, with the message a caller sees. */
static void test_from_params_checks(void) {
    llamac_sampler *s = (llamac_sampler *)&s;
    const char *const words[] = { "girl", "" };
    const char *const patterns[] = { NULL };
    const llamac_token tokens[] = { 1 };
    struct {
        const char *grammar;
        bool lazy;
        const char *const *words;
        size_t n_words;
        const char *const *patterns;
        size_t n_patterns;
        const llamac_token *tokens;
        size_t n_tokens;
        size_t n_bias;
        const char *message;
    } cases[] = {
        { "root ::= \"a\"", false, words, 1, NULL, 0, NULL, 0, 0,
          "grammar triggers are given but grammar_lazy is false" },
        { "root ::= \"a\"", false, NULL, 0, NULL, 0, tokens, 1, 0,
          "grammar triggers are given but grammar_lazy is false" },
        { NULL, true, words, 1, NULL, 0, NULL, 0, 0, "grammar_lazy is set but there is no grammar" },
        { "root ::= \"a\"", true, NULL, 1, NULL, 0, NULL, 0, 0, "a trigger count is non-zero but its array is NULL" },
        { "root ::= \"a\"", true, NULL, 0, NULL, 2, NULL, 0, 0, "a trigger count is non-zero but its array is NULL" },
        { "root ::= \"a\"", true, NULL, 0, NULL, 0, NULL, 3, 0, "a trigger count is non-zero but its array is NULL" },
        { "root ::= \"a\"", true, words, 2, NULL, 0, NULL, 0, 0, "trigger word 1 is NULL or empty" },
        { "root ::= \"a\"", true, NULL, 0, patterns, 1, NULL, 0, 0, "trigger pattern 0 is NULL" },
        { NULL, false, NULL, 0, NULL, 0, NULL, 0, 2, "n_logit_bias is 2 but logit_bias is NULL" },
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        llamac_sampling_params sp = llamac_sampling_params_default();
        sp.grammar = cases[i].grammar;
        sp.grammar_lazy = cases[i].lazy;
        sp.trigger_words = cases[i].words;
        sp.n_trigger_words = cases[i].n_words;
        sp.trigger_patterns = cases[i].patterns;
        sp.n_trigger_patterns = cases[i].n_patterns;
        sp.trigger_tokens = cases[i].tokens;
        sp.n_trigger_tokens = cases[i].n_tokens;
        sp.n_logit_bias = cases[i].n_bias;
        CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STR(llamac_last_error(), cases[i].message);
        CHECK(s == NULL);
        /* llamac_generate builds its chain the same way, and fails the same way before generating anything. */
        struct text t;
        llamac_generate_params gp = gen_params(&t, 8);
        gp.sampling = sp;
        CHECK_STATUS(generate(&gp, NULL), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_STR(llamac_last_error(), cases[i].message);
        CHECK_INT(t.len, 0);
    }
    /* What only building finds: a trigger pattern that is not a regex, a trigger token out of range. */
    llamac_sampling_params sp = llamac_sampling_params_default();
    sp.grammar = "root ::= \"a\"";
    sp.grammar_lazy = true;
    const char *const bad_regex[] = { "(unclosed" };
    sp.trigger_patterns = bad_regex;
    sp.n_trigger_patterns = 1;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("trigger pattern 0");
    const llamac_token out_of_range[] = { 100000 };
    sp.n_trigger_patterns = 0;
    sp.trigger_tokens = out_of_range;
    sp.n_trigger_tokens = 1;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_TOKEN_RANGE);
    /* A lazy grammar with a trigger token only, and one with words, patterns and tokens together: one grammar. */
    sp.trigger_tokens = tokens;
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 9);
    llamac_sampler_free(s);
    const char *const good_regex[] = { "[\\s\\S]*?(named)[\\s\\S]*" };
    sp.trigger_words = words;
    sp.n_trigger_words = 1;
    sp.trigger_patterns = good_regex;
    sp.n_trigger_patterns = 1;
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 9);
    llamac_sampler_free(s);
}

/* A lazy grammar from sampling parameters, through llamac_generate: free text until a trigger word, then the
 * grammar (the engine builds its chain from the same parameters; test_engine gets the same text). */
static void test_lazy_grammar_from_params(void) {
    struct text t;
    llamac_generate_params gp = greedy_params(&t, 40);
    gp.sampling.grammar = "root ::= \"girl named Tom.\"";
    gp.sampling.grammar_lazy = true;
    const char *const words[] = { "gi(r)l" }; /* escaped into a literal: it never appears, the grammar never starts */
    gp.sampling.trigger_words = words;
    gp.sampling.n_trigger_words = 1;
    llamac_generate_result res;
    CHECK_OK(generate(&gp, &res));
    CHECK(strncmp(t.buf, ", there was a little girl named Lily.", 37) == 0);
    const char *const girl[] = { "x+", "girl" };
    gp = greedy_params(&t, 40);
    gp.sampling.grammar = "root ::= \"girl named Tom.\"";
    gp.sampling.grammar_lazy = true;
    gp.sampling.trigger_words = girl;
    gp.sampling.n_trigger_words = 2;
    CHECK_OK(generate(&gp, &res));
    CHECK_STR(t.buf, ", there was a little girl named Tom.");
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);
}

/* ignore_eos bans the end-of-generation tokens, as llama.cpp's --ignore-eos: a bias that makes the end of text the
 * model's first choice ends it at once, and with ignore_eos the same token can never be chosen. */
static void test_ignore_eos(void) {
    llamac_token eos = -1;
    for (llamac_token t = 0; t < llamac_vocab_n_tokens(model); t++) {
        if (llamac_vocab_is_eog(model, t)) {
            eos = t;
            break;
        }
    }
    CHECK(eos >= 0);
    llamac_logit_bias favour = { eos, 100.0f };
    struct text t;
    llamac_generate_params gp = greedy_params(&t, 12);
    gp.sampling.logit_bias = &favour;
    gp.sampling.n_logit_bias = 1;
    llamac_generate_result res;
    CHECK_OK(generate(&gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_EOG);
    CHECK_INT(res.n_generated_tokens, 1);
    CHECK_INT(t.len, 0);
    gp.sampling.ignore_eos = true;
    CHECK_OK(generate(&gp, &res));
    CHECK_INT(res.finish_reason, LLAMAC_FINISH_LENGTH);
    CHECK_INT(res.n_generated_tokens, 12);
    CHECK(strncmp(t.buf, ", there was a little girl", 25) == 0); /* the rest of the ranking is as without the bias */
    /* The ban is one logit bias per end-of-generation token, ahead of the rest of the chain. */
    llamac_sampler *s = NULL;
    gp.sampling.n_logit_bias = 0;
    CHECK_OK(llamac_sampler_from_params(model, &gp.sampling, &s));
    CHECK_INT(llamac_sampler_count(s), 9); /* logit bias, then the default 8 */
    llamac_sampler_free(s);
    /* A finished grammar allows only the end of text, which ignore_eos bans: no token is left, and the call says
     * so instead of sampling a token the grammar forbids. */
    gp = gen_params(&t, 8);
    gp.sampling.grammar = "root ::= \"yes\" | \"no\"";
    gp.sampling.seed = 3;
    gp.sampling.ignore_eos = true;
    CHECK_STATUS(generate(&gp, &res), LLAMAC_E_GRAMMAR);
    CHECK_ERROR_HAS("the grammar allows no token here");
    CHECK(strcmp(t.buf, "yes") == 0 || strcmp(t.buf, "no") == 0);
}

static void test_defaults(void) {
    /* llama.cpp's common_params_sampling defaults, as the header lists them. */
    llamac_sampling_params p = llamac_sampling_params_default();
    CHECK_INT(p.seed, UINT32_MAX);
    CHECK(p.temp == 0.8f);
    CHECK(p.dynatemp_range == 0.0f);
    CHECK(p.dynatemp_exponent == 1.0f);
    CHECK_INT(p.top_k, 40);
    CHECK(p.top_p == 0.95f);
    CHECK(p.min_p == 0.05f);
    CHECK(p.typical_p == 1.0f);
    CHECK(p.xtc_probability == 0.0f);
    CHECK(p.xtc_threshold == 0.1f);
    CHECK(p.top_n_sigma == -1.0f);
    CHECK_INT(p.penalty_last_n, 64);
    CHECK(p.penalty_repeat == 1.0f);
    CHECK(p.penalty_freq == 0.0f);
    CHECK(p.penalty_present == 0.0f);
    CHECK(p.dry_multiplier == 0.0f);
    CHECK(p.dry_base == 1.75f);
    CHECK_INT(p.dry_allowed_length, 2);
    CHECK_INT(p.dry_last_n, 64); /* dry_penalty_last_n in common.h at the pinned commit */
    CHECK_INT(p.mirostat, 0);
    CHECK(p.mirostat_tau == 5.0f);
    CHECK(p.mirostat_eta == 0.1f);
    CHECK(p.grammar == NULL);
    CHECK(p.logit_bias == NULL);
    CHECK_INT(p.n_logit_bias, 0);
    CHECK(!p.grammar_lazy && !p.ignore_eos);
    CHECK(p.trigger_words == NULL && p.trigger_patterns == NULL && p.trigger_tokens == NULL);
    CHECK_INT(p.n_trigger_words + p.n_trigger_patterns + p.n_trigger_tokens, 0);
}

/* Sampler names and letters as llama.cpp's --samplers and --sampler-seq read them; unknown ones are refused. */
static void test_sampler_names(void) {
    static const struct {
        const char *name;
        char letter;
        llamac_sampler_type type;
    } known[] = {
        { "penalties", 'e', LLAMAC_SAMPLER_PENALTIES },
        { "dry", 'd', LLAMAC_SAMPLER_DRY },
        { "top_n_sigma", 's', LLAMAC_SAMPLER_TOP_N_SIGMA },
        { "top_k", 'k', LLAMAC_SAMPLER_TOP_K },
        { "typ_p", 'y', LLAMAC_SAMPLER_TYPICAL_P },
        { "top_p", 'p', LLAMAC_SAMPLER_TOP_P },
        { "min_p", 'm', LLAMAC_SAMPLER_MIN_P },
        { "xtc", 'x', LLAMAC_SAMPLER_XTC },
        { "temperature", 't', LLAMAC_SAMPLER_TEMPERATURE },
        { "infill", 'i', LLAMAC_SAMPLER_INFILL },
        { "adaptive_p", 'a', LLAMAC_SAMPLER_ADAPTIVE_P },
    };
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++) {
        llamac_sampler_type t = 0;
        CHECK_OK(llamac_sampler_type_from_name(known[i].name, &t));
        CHECK_INT(t, known[i].type);
        t = 0;
        CHECK_OK(llamac_sampler_type_from_char(known[i].letter, &t));
        CHECK_INT(t, known[i].type);
        CHECK_STR(llamac_sampler_type_name(known[i].type), known[i].name);
    }
    /* llama.cpp's other spellings */
    static const struct {
        const char *name;
        llamac_sampler_type type;
    } aliases[] = { { "top-k", LLAMAC_SAMPLER_TOP_K },          { "TOPK", LLAMAC_SAMPLER_TOP_K },
                    { "Min-P", LLAMAC_SAMPLER_MIN_P },          { "nucleus", LLAMAC_SAMPLER_TOP_P },
                    { "temp", LLAMAC_SAMPLER_TEMPERATURE },     { "typ", LLAMAC_SAMPLER_TYPICAL_P },
                    { "topnsigma", LLAMAC_SAMPLER_TOP_N_SIGMA } };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        llamac_sampler_type t = 0;
        CHECK_OK(llamac_sampler_type_from_name(aliases[i].name, &t));
        CHECK_INT(t, aliases[i].type);
    }
    llamac_sampler_type t = LLAMAC_SAMPLER_DRY;
    CHECK_STATUS(llamac_sampler_type_from_name("top_q", &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("unknown sampler \"top_q\"");
    CHECK_ERROR_HAS("penalties, dry");
    CHECK_STATUS(llamac_sampler_type_from_name("top__k", &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_type_from_name("", &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_type_from_name(NULL, &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_sampler_type_from_char('z', &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("unknown sampler letter 'z'");
    CHECK_STATUS(llamac_sampler_type_from_char('\n', &t), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("0x0a");
    CHECK_INT(t, LLAMAC_SAMPLER_DRY); /* untouched by the failures */
    CHECK(llamac_sampler_type_name((llamac_sampler_type)0) == NULL);
    CHECK(llamac_sampler_type_name((llamac_sampler_type)99) == NULL);

    /* the defaults: llama.cpp's order and DRY breakers */
    llamac_sampling_params p = llamac_sampling_params_default();
    static const char *const order[] = { "penalties", "dry",   "top_n_sigma", "top_k",      "typ_p",
                                         "top_p",     "min_p", "xtc",         "temperature" };
    CHECK_INT(p.n_samplers, 9);
    for (size_t i = 0; i < p.n_samplers && i < 9; i++) {
        CHECK_STR(llamac_sampler_type_name(p.samplers[i]), order[i]);
    }
    CHECK_INT(p.n_dry_sequence_breakers, 4);
    CHECK_STR(p.dry_sequence_breakers[0], "\n");
    CHECK_STR(p.dry_sequence_breakers[3], "*");
}

/* Greedy text of `max_tokens` with *sp, into t. */
static void generate_with(const llamac_sampling_params *sp, struct text *t, int32_t max_tokens) {
    llamac_generate_params gp = gen_params(t, max_tokens);
    gp.sampling = *sp;
    CHECK_OK(generate(&gp, NULL));
    CHECK(t->len > 0);
}

/* The order chooses the chain: what it holds, and what it samples. */
static void test_sampler_order(void) {
    llamac_sampler *s = NULL;
    llamac_sampling_params sp = llamac_sampling_params_default();
    const llamac_sampler_type top_k_only[] = { LLAMAC_SAMPLER_TOP_K };
    sp.samplers = top_k_only;
    sp.n_samplers = 1;
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 2); /* top-k, dist */
    llamac_sampler_free(s);
    sp.n_samplers = 0; /* none: dist alone */
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 1);
    llamac_sampler_free(s);
    sp.samplers = NULL; /* NULL: the default order */
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 8);
    llamac_sampler_free(s);
    const llamac_sampler_type twice[] = { LLAMAC_SAMPLER_TOP_K, LLAMAC_SAMPLER_INFILL, LLAMAC_SAMPLER_TOP_K,
                                          LLAMAC_SAMPLER_ADAPTIVE_P };
    sp.samplers = twice;
    sp.n_samplers = 4;
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 4); /* top-k, infill, top-k, dist (adaptive-p at target -1 is dist) */
    llamac_sampler_free(s);

    /* temperature alone at 0 is greedy, whatever else is set */
    struct text greedy, a, b, c;
    sp = llamac_sampling_params_default();
    sp.temp = 0.0f;
    generate_with(&sp, &greedy, 32);
    const llamac_sampler_type temp_only[] = { LLAMAC_SAMPLER_TEMPERATURE };
    sp = llamac_sampling_params_default();
    sp.samplers = temp_only;
    sp.n_samplers = 1;
    sp.temp = 0.0f;
    sp.top_k = 5;
    sp.min_p = 0.5f;
    sp.seed = 7;
    generate_with(&sp, &a, 32);
    CHECK_STR(a.buf, greedy.buf);

    /* top-k 1 before XTC (always firing) keeps the best token, so the text is greedy; after it, XTC has removed the
     * best tokens first and top-k keeps the best of what is left: another text, the same every time */
    const llamac_sampler_type k_first[] = { LLAMAC_SAMPLER_TOP_K, LLAMAC_SAMPLER_XTC };
    const llamac_sampler_type k_last[] = { LLAMAC_SAMPLER_XTC, LLAMAC_SAMPLER_TOP_K };
    sp = llamac_sampling_params_default();
    sp.top_k = 1;
    sp.xtc_probability = 1.0f;
    sp.xtc_threshold = 0.05f;
    sp.seed = 3;
    sp.samplers = k_first;
    sp.n_samplers = 2;
    generate_with(&sp, &a, 32);
    CHECK_STR(a.buf, greedy.buf);
    sp.samplers = k_last;
    generate_with(&sp, &b, 32);
    CHECK(strcmp(b.buf, greedy.buf) != 0);
    sp.seed = 4;
    generate_with(&sp, &c, 32);
    CHECK_STR(c.buf, b.buf);

    /* mirostat ignores the order, as llama.cpp */
    sp.mirostat = 2;
    sp.samplers = top_k_only;
    sp.n_samplers = 1;
    CHECK_OK(llamac_sampler_from_params(model, &sp, &s));
    CHECK_INT(llamac_sampler_count(s), 2); /* temperature, mirostat */
    llamac_sampler_free(s);
}

/* DRY sequence breakers: chosen ones change what DRY penalises; none is allowed; bad ones are refused. */
static void test_dry_breakers(void) {
    struct text deflt, none, same;
    llamac_sampling_params sp = llamac_sampling_params_default();
    sp.temp = 0.0f;
    sp.dry_multiplier = 3.0f;
    sp.dry_allowed_length = 1;
    generate_with(&sp, &deflt, 64);
    const char *const defaults[] = { "\n", ":", "\"", "*" };
    sp.dry_sequence_breakers = defaults;
    sp.n_dry_sequence_breakers = 4;
    generate_with(&sp, &same, 64);
    CHECK_STR(same.buf, deflt.buf);
    /* every letter a breaker: no repeated sequence is longer than one token's text, so DRY never fires */
    static const char *const letters[] = { "a", "e", "i", "o", "u", " ", "t", "h", "s", "n", "r", "d", "l" };
    struct text plain, broken;
    llamac_sampling_params off = sp;
    off.dry_multiplier = 0.0f;
    generate_with(&off, &plain, 64);
    CHECK(strcmp(plain.buf, deflt.buf) != 0); /* DRY changes the greedy text with its default breakers */
    sp.dry_sequence_breakers = letters;
    sp.n_dry_sequence_breakers = sizeof letters / sizeof letters[0];
    generate_with(&sp, &broken, 64);
    CHECK(strcmp(broken.buf, deflt.buf) != 0);
    sp.n_dry_sequence_breakers = 0; /* none */
    generate_with(&sp, &none, 64);

    llamac_sampler *s = (llamac_sampler *)&s;
    const char *const empty[] = { "" };
    const char *const bad_utf8[] = { "\xff" };
    const char *const null_one[] = { NULL };
    sp.dry_sequence_breakers = empty;
    sp.n_dry_sequence_breakers = 1;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("dry_sequence_breakers[0] is empty");
    CHECK(s == NULL);
    sp.dry_sequence_breakers = bad_utf8;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("dry_sequence_breakers[0] is not valid UTF-8");
    sp.dry_sequence_breakers = null_one;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("dry_sequence_breakers[0] is NULL");
    sp.dry_sequence_breakers = NULL;
    sp.n_dry_sequence_breakers = 2;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_dry_sequence_breakers is 2 but dry_sequence_breakers is NULL");
    sp = llamac_sampling_params_default();
    const llamac_sampler_type bad[] = { LLAMAC_SAMPLER_TOP_K, (llamac_sampler_type)42 };
    sp.samplers = bad;
    sp.n_samplers = 2;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("samplers[1] is 42, not a llamac_sampler_type");
    sp.samplers = NULL;
    CHECK_STATUS(llamac_sampler_from_params(model, &sp, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("n_samplers is 2 but samplers is NULL");
}

int main(void) {
    setup();
    RUN(test_adders_valid);
    RUN(test_every_selector_generates);
    RUN(test_adders_invalid);
    RUN(test_logit_bias_range);
    RUN(test_nothing_after_selector);
    RUN(test_grammar_invalid);
    RUN(test_grammar_error_is_silent);
    RUN(test_grammar_lazy);
    RUN(test_grammar_lazy_generation);
    RUN(test_grammar_constrains_generation);
    RUN(test_accept_forbidden);
    RUN(test_sample_directly);
    RUN(test_seeded_dist);
    RUN(test_greedy_chain_equals_temp0);
    RUN(test_logit_bias_changes_output);
    RUN(test_topk_shortcut_matches_full_chain);
    RUN(test_topk_greedy_matches_full_chain);
    RUN(test_mirostat);
    RUN(test_from_params);
    RUN(test_from_params_checks);
    RUN(test_lazy_grammar_from_params);
    RUN(test_ignore_eos);
    RUN(test_defaults);
    RUN(test_sampler_names);
    RUN(test_sampler_order);
    RUN(test_dry_breakers);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    TESTS_DONE();
}
