/*
 * test_vocab.c - tokenize, detokenize, token pieces and special tokens, on the real stories260K vocabulary.
 *
 * The expected ids are those llama.cpp's own tokenizer gives for this SentencePiece vocabulary of 512 tokens;
 * special ids are read from the model's metadata rather than assumed. Error paths check the status and that the
 * message names the offending offset, index or size.
 */
#include "check.h"

static llamac_model *model;

static void load(void) {
    llamac_model_params mp = llamac_model_params_default();
    CHECK_OK(llamac_model_load(test_model("stories260K.gguf"), &mp, &model));
    if (!model) {
        fprintf(stderr, "cannot load the test model: %s\n", llamac_last_error());
        exit(1);
    }
}

/* Tokenizes a NUL-terminated string and compares with the expected ids. */
static void expect_tokens(const char *text, unsigned flags, const llamac_token *want, size_t n_want, int line) {
    llamac_token *toks = NULL;
    size_t n = 0;
    llamac_status st = llamac_tokenize(model, text, strlen(text), flags, &toks, &n);
    bool same = st == LLAMAC_OK && n == n_want && (n == 0 || memcmp(toks, want, n * sizeof *toks) == 0);
    if (same) {
        check_passed++;
    } else {
        check_failed++;
        fprintf(stderr, "%s:%d: tokenize(\"%s\", %u) gave %s, %zu tokens:", __FILE__, line, text, flags,
                llamac_status_str(st), n);
        for (size_t i = 0; i < n; i++) {
            fprintf(stderr, " %d", toks[i]);
        }
        fprintf(stderr, "\n");
    }
    llamac_free(toks);
}
#define EXPECT_TOKENS(text, flags, ...)                                                                                \
    do {                                                                                                               \
        static const llamac_token want_[] = { __VA_ARGS__ };                                                           \
        expect_tokens(text, flags, want_, sizeof want_ / sizeof want_[0], __LINE__);                                   \
    } while (0)

static llamac_token meta_token(const char *key) {
    char *value = NULL;
    llamac_status st = llamac_model_meta(model, key, &value);
    CHECK_OK(st);
    long id = value ? strtol(value, NULL, 10) : -1;
    llamac_free(value);
    return (llamac_token)id;
}

static void test_special_tokens(void) {
    /* The ids come from the GGUF metadata, and llama.cpp's SentencePiece conventions put them at 1 and 2. */
    llamac_token bos = meta_token("tokenizer.ggml.bos_token_id");
    llamac_token eos = meta_token("tokenizer.ggml.eos_token_id");
    CHECK_INT(llamac_vocab_special(model, LLAMAC_TOKEN_BOS), bos);
    CHECK_INT(llamac_vocab_special(model, LLAMAC_TOKEN_EOS), eos);
    CHECK_INT(bos, 1);
    CHECK_INT(eos, 2);
    CHECK_INT(llamac_vocab_n_tokens(model), 512);
    CHECK_INT(llamac_vocab_n_tokens(NULL), 0);
    /* This vocabulary has no FIM tokens; an unknown kind and a NULL model give -1. */
    CHECK_INT(llamac_vocab_special(model, LLAMAC_TOKEN_FIM_PRE), -1);
    CHECK_INT(llamac_vocab_special(model, (llamac_special_token)99), -1);
    CHECK_INT(llamac_vocab_special(NULL, LLAMAC_TOKEN_BOS), -1);
    /* Every id reported is inside the vocabulary. */
    for (int k = LLAMAC_TOKEN_BOS; k <= LLAMAC_TOKEN_FIM_SEP; k++) {
        llamac_token t = llamac_vocab_special(model, (llamac_special_token)k);
        CHECK(t == -1 || (t >= 0 && t < 512));
    }
}

static void test_eog_and_control(void) {
    llamac_token eos = llamac_vocab_special(model, LLAMAC_TOKEN_EOS);
    llamac_token bos = llamac_vocab_special(model, LLAMAC_TOKEN_BOS);
    CHECK(llamac_vocab_is_eog(model, eos));
    CHECK(!llamac_vocab_is_eog(model, bos));
    CHECK(!llamac_vocab_is_eog(model, 403));
    CHECK(!llamac_vocab_is_eog(model, -5));
    CHECK(!llamac_vocab_is_eog(model, 512));
    CHECK(!llamac_vocab_is_eog(NULL, eos));
    CHECK(llamac_vocab_is_control(model, bos));
    CHECK(llamac_vocab_is_control(model, eos));
    CHECK(!llamac_vocab_is_control(model, 403));
    CHECK(!llamac_vocab_is_control(model, -1));
    CHECK(!llamac_vocab_is_control(model, 100000));
}

static void test_tokenize_known_ids(void) {
    EXPECT_TOKENS("Once upon a time", LLAMAC_TOKENIZE_ADD_SPECIAL, 1, 403, 407, 261, 378);
    EXPECT_TOKENS("Once upon a time", 0, 403, 407, 261, 378);
    EXPECT_TOKENS("", LLAMAC_TOKENIZE_ADD_SPECIAL, 1);
    /* Characters outside the 512 pieces fall back to byte tokens. */
    EXPECT_TOKENS("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z", 0, 261, 485, 503, 243, 162, 155, 131, 451);

    /* The text need not be NUL-terminated: only `len` bytes are read. */
    llamac_token *toks = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(model, "Once upon a time, there", 9, 0, &toks, &n));
    CHECK_INT(n, 2);
    CHECK(n == 2 && toks[0] == 403 && toks[1] == 407);
    llamac_free(toks);

    /* No text and no BOS: zero tokens and a NULL array, which is not an error. */
    toks = (llamac_token *)&n;
    CHECK_OK(llamac_tokenize(model, "", 0, 0, &toks, &n));
    CHECK_INT(n, 0);
    CHECK(toks == NULL);
    CHECK_OK(llamac_tokenize(model, NULL, 0, 0, &toks, &n));
    CHECK_INT(n, 0);
}

static bool contains(const llamac_token *toks, size_t n, llamac_token t) {
    for (size_t i = 0; i < n; i++) {
        if (toks[i] == t) {
            return true;
        }
    }
    return false;
}

static void test_parse_special(void) {
    llamac_token eos = llamac_vocab_special(model, LLAMAC_TOKEN_EOS);
    llamac_token *toks = NULL;
    size_t n = 0;
    /* User text that looks like a special token stays text... */
    CHECK_OK(llamac_tokenize(model, "</s>", 4, 0, &toks, &n));
    CHECK(n > 1);
    CHECK(!contains(toks, n, eos));
    llamac_free(toks);
    /* ...unless the caller asks for special tokens to be parsed. */
    CHECK_OK(llamac_tokenize(model, "</s>", 4, LLAMAC_TOKENIZE_PARSE_SPECIAL, &toks, &n));
    CHECK_INT(n, 1);
    CHECK(contains(toks, n, eos));
    llamac_free(toks);
    CHECK_OK(
        llamac_tokenize(model, "Once</s>", 8, LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL, &toks, &n));
    CHECK(n >= 3 && toks[0] == 1 && toks[n - 1] == eos);
    llamac_free(toks);
}

static void test_tokenize_errors(void) {
    llamac_token *toks = (llamac_token *)&toks;
    size_t n = 7;
    CHECK_STATUS(llamac_tokenize(model, "Once\xC3(", 6, 0, &toks, &n), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("offset 4");
    CHECK(toks == NULL);
    CHECK_INT(n, 0);
    CHECK_STATUS(llamac_tokenize(model, "\xED\xA0\x80", 3, LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("offset 0");
    /* A character cut short by `len` is invalid too. */
    CHECK_STATUS(llamac_tokenize(model, "ab\xE2\x82\xAC", 4, 0, &toks, &n), LLAMAC_E_UTF8);
    CHECK_ERROR_HAS("offset 2");

    CHECK_STATUS(llamac_tokenize(NULL, "a", 1, 0, &toks, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK_STATUS(llamac_tokenize(model, NULL, 1, 0, &toks, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_tokenize(model, "a", 1, 0, NULL, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_tokenize(model, "a", 1, 0, &toks, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_tokenize(model, "a", 1, 0x10, &toks, &n), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("0x10");
}

static void test_detokenize(void) {
    static const char text[] = "Once upon a time, there was a little girl named Lily. She loved to play outside.";
    llamac_token *toks = NULL;
    size_t n = 0;
    char *out = NULL;
    size_t len = 0;

    /* Without specials the text comes back exactly (SentencePiece's added leading space is removed). */
    CHECK_OK(llamac_tokenize(model, text, strlen(text), 0, &toks, &n));
    CHECK_OK(llamac_detokenize(model, toks, n, 0, &out, &len));
    CHECK_STR(out, text);
    CHECK_INT(len, strlen(text));
    llamac_free(out);
    llamac_free(toks);

    /* With BOS: REMOVE_SPECIAL drops it, UNPARSE_SPECIAL renders it as text. */
    CHECK_OK(llamac_tokenize(model, text, strlen(text), LLAMAC_TOKENIZE_ADD_SPECIAL, &toks, &n));
    CHECK(n > 0 && toks[0] == 1);
    CHECK_OK(llamac_detokenize(model, toks, n, LLAMAC_DETOKENIZE_REMOVE_SPECIAL, &out, &len));
    CHECK(out && strstr(out, text) != NULL && strncmp(out, "<s>", 3) != 0);
    llamac_free(out);
    CHECK_OK(llamac_detokenize(model, toks, n, LLAMAC_DETOKENIZE_UNPARSE_SPECIAL, &out, &len));
    CHECK(out && strncmp(out, "<s>", 3) == 0 && strstr(out, text) != NULL);
    CHECK_INT(len, out ? strlen(out) : 0);
    llamac_free(out);
    llamac_free(toks);

    /* Multi-byte characters, through byte-fallback tokens. */
    static const char utf8[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
    CHECK_OK(llamac_tokenize(model, utf8, strlen(utf8), 0, &toks, &n));
    CHECK_OK(llamac_detokenize(model, toks, n, 0, &out, &len));
    CHECK_STR(out, utf8);
    llamac_free(out);
    /* The bytes are llama.cpp's: half a character stays half a character. */
    CHECK_OK(llamac_detokenize(model, toks, 3, 0, &out, &len));
    CHECK_INT(len, 6);
    CHECK(out && memcmp(out, "a\xC3\xA9\xE2\x82\xAC", 6) == 0);
    llamac_free(out);
    CHECK_OK(llamac_detokenize(model, toks, 4, 0, &out, &len));
    CHECK_INT(len, 7);
    CHECK(out && (unsigned char)out[6] == 0xF0);
    CHECK(!llamac_utf8_valid(out, len, NULL));
    llamac_free(out);
    llamac_free(toks);

    /* Zero tokens: an empty, NUL-terminated string. */
    CHECK_OK(llamac_detokenize(model, NULL, 0, 0, &out, &len));
    CHECK(out && out[0] == '\0');
    CHECK_INT(len, 0);
    llamac_free(out);
}

static void test_detokenize_errors(void) {
    static const llamac_token bad[] = { 403, 407, 512, 261 };
    char *out = (char *)&out;
    size_t len = 9;
    CHECK_STATUS(llamac_detokenize(model, bad, 4, 0, &out, &len), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("index 2");
    CHECK_ERROR_HAS("512");
    CHECK(out == NULL);
    CHECK_INT(len, 0);
    static const llamac_token negative[] = { -1 };
    CHECK_STATUS(llamac_detokenize(model, negative, 1, 0, &out, &len), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("index 0");
    CHECK_ERROR_HAS("-1");
    CHECK_STATUS(llamac_detokenize(model, NULL, 3, 0, &out, &len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_detokenize(NULL, bad, 1, 0, &out, &len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_detokenize(model, bad, 1, 0, NULL, &len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_detokenize(model, bad, 1, 0x8, &out, &len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("0x8");
}

static void test_token_to_piece(void) {
    char buf[16];
    size_t needed = 0;
    /* Token 403 is " Once": 5 bytes. One byte of room is too small, and *needed says how much is. */
    CHECK_STATUS(llamac_token_to_piece(model, 403, false, buf, 1, &needed), LLAMAC_E_BUFFER_TOO_SMALL);
    CHECK_INT(needed, 5);
    CHECK_ERROR_HAS("5 bytes");
    /* Measuring with no buffer at all. */
    CHECK_STATUS(llamac_token_to_piece(model, 403, false, NULL, 0, &needed), LLAMAC_E_BUFFER_TOO_SMALL);
    CHECK_INT(needed, 5);
    /* Exactly enough room. */
    memset(buf, 'x', sizeof buf);
    CHECK_OK(llamac_token_to_piece(model, 403, false, buf, 5, &needed));
    CHECK_INT(needed, 5);
    CHECK(memcmp(buf, " Once", 5) == 0);
    CHECK(buf[5] == 'x'); /* no NUL written */

    /* A control token is empty as text and "<s>" when rendered. */
    CHECK_OK(llamac_token_to_piece(model, 1, false, buf, sizeof buf, &needed));
    CHECK_INT(needed, 0);
    CHECK_OK(llamac_token_to_piece(model, 1, true, buf, sizeof buf, &needed));
    CHECK_INT(needed, 3);
    CHECK(memcmp(buf, "<s>", 3) == 0);
    /* A byte-fallback token is one byte, possibly half a character. */
    CHECK_OK(llamac_token_to_piece(model, 243, false, buf, sizeof buf, &needed));
    CHECK_INT(needed, 1);
    CHECK(buf[0] == (char)0xF0);

    /* Every token of the vocabulary renders, with its size reported. */
    int mismatches = 0;
    for (llamac_token t = 0; t < 512; t++) {
        char piece[64];
        size_t m = 0;
        if (llamac_token_to_piece(model, t, false, piece, sizeof piece, &m) != LLAMAC_OK || m > sizeof piece) {
            mismatches++;
        }
    }
    CHECK_INT(mismatches, 0);

    CHECK_STATUS(llamac_token_to_piece(model, 512, false, buf, sizeof buf, &needed), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("512");
    CHECK_INT(needed, 0);
    CHECK_STATUS(llamac_token_to_piece(model, -3, false, buf, sizeof buf, &needed), LLAMAC_E_TOKEN_RANGE);
    CHECK_ERROR_HAS("-3");
    CHECK_STATUS(llamac_token_to_piece(model, 403, false, NULL, 4, &needed), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_token_to_piece(model, 403, false, buf, sizeof buf, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_token_to_piece(NULL, 403, false, buf, sizeof buf, &needed), LLAMAC_E_INVALID_ARGUMENT);
}

static void test_large_text(void) {
    /* 200 KB of story text: the token array is sized automatically, and the text comes back unchanged. */
    static const char line[] = "Once upon a time, there was a little girl named Lily. She loved to play outside. ";
    size_t line_len = strlen(line);
    size_t reps = 200 * 1024 / line_len + 1;
    size_t len = reps * line_len - 1; /* without the final space */
    char *text = malloc(len + 1);
    CHECK(text != NULL);
    if (!text) {
        return;
    }
    for (size_t i = 0; i < reps; i++) {
        memcpy(text + i * line_len, line, line_len);
    }
    text[len] = '\0';
    CHECK(len >= 200 * 1024);

    llamac_token *toks = NULL;
    size_t n = 0;
    CHECK_OK(llamac_tokenize(model, text, len, 0, &toks, &n));
    size_t per_line = 0;
    llamac_token *one = NULL;
    CHECK_OK(llamac_tokenize(model, line, line_len - 1, 0, &one, &per_line));
    llamac_free(one);
    /* Every line after the first starts with a space that joins its first word, so counts are per line. */
    CHECK(n >= reps * (per_line - 1) && n <= reps * (per_line + 1));

    char *out = NULL;
    size_t out_len = 0;
    CHECK_OK(llamac_detokenize(model, toks, n, 0, &out, &out_len));
    CHECK_INT(out_len, len);
    CHECK(out && out_len == len && memcmp(out, text, len) == 0);
    llamac_free(out);
    llamac_free(toks);
    free(text);
}

int main(void) {
    load();
    RUN(test_special_tokens);
    RUN(test_eog_and_control);
    RUN(test_tokenize_known_ids);
    RUN(test_parse_special);
    RUN(test_tokenize_errors);
    RUN(test_detokenize);
    RUN(test_detokenize_errors);
    RUN(test_token_to_piece);
    RUN(test_large_text);
    llamac_model_free(model);
    TESTS_DONE();
}
