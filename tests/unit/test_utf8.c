/*
 * test_utf8.c - llamac_utf8_valid and the streaming UTF-8 gate.
 *
 * The validator must reject every form the standard forbids (overlong, surrogates, past U+10FFFF, stray and
 * missing continuation bytes) and point at the first bad byte. The stream is checked the way generation uses it:
 * text cut at every byte position must come out whole, and no chunk may ever hold half a character.
 */
#include "check.h"

/* "aé€😀z": one character each of 1, 2, 3 and 4 bytes, then one more ASCII byte. */
static const char sample[] = "a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98\x80z";
#define SAMPLE_LEN (sizeof sample - 1)

static const char fffd[] = "\xEF\xBF\xBD";

static bool valid_at(const char *s, size_t len, size_t *bad) {
    *bad = (size_t)-1;
    return llamac_utf8_valid(s, len, bad);
}

static void test_valid_characters(void) {
    size_t bad;
    CHECK(valid_at("", 0, &bad));
    CHECK(llamac_utf8_valid(NULL, 0, NULL));
    CHECK(valid_at("a", 1, &bad));
    CHECK(valid_at("\x7F", 1, &bad));
    CHECK(valid_at("a\0b", 3, &bad));             /* NUL is a character like any other when the length is explicit */
    CHECK(valid_at("\xC2\x80", 2, &bad));         /* U+0080, the smallest 2-byte form */
    CHECK(valid_at("\xC3\xA9", 2, &bad));         /* é */
    CHECK(valid_at("\xDF\xBF", 2, &bad));         /* U+07FF */
    CHECK(valid_at("\xE0\xA0\x80", 3, &bad));     /* U+0800, the smallest 3-byte form */
    CHECK(valid_at("\xE2\x82\xAC", 3, &bad));     /* € */
    CHECK(valid_at("\xED\x9F\xBF", 3, &bad));     /* U+D7FF, just below the surrogates */
    CHECK(valid_at("\xEE\x80\x80", 3, &bad));     /* U+E000, just above them */
    CHECK(valid_at("\xEF\xBF\xBF", 3, &bad));     /* U+FFFF */
    CHECK(valid_at("\xF0\x90\x80\x80", 4, &bad)); /* U+10000, the smallest 4-byte form */
    CHECK(valid_at("\xF0\x9F\x98\x80", 4, &bad)); /* 😀 */
    CHECK(valid_at("\xF4\x8F\xBF\xBF", 4, &bad)); /* U+10FFFF, the last code point */
    CHECK(valid_at(sample, SAMPLE_LEN, &bad));
    CHECK_INT(bad, (size_t)-1); /* untouched on success */
    /* The length is honoured: a valid prefix of a longer invalid buffer is valid. */
    CHECK(valid_at("ab\xFF", 2, &bad));
}

/* `s` (len bytes) must be invalid with the first bad byte at `offset`. */
static void expect_invalid(const char *s, size_t len, size_t offset, int line) {
    size_t bad = (size_t)-1;
    bool ok = llamac_utf8_valid(s, len, &bad);
    if (ok || bad != offset) {
        fprintf(stderr, "%s:%d: expected invalid at offset %zu, got %s at %zu\n", __FILE__, line, offset,
                ok ? "valid" : "invalid", bad);
        check_failed++;
    } else {
        check_passed++;
    }
}
#define EXPECT_INVALID(lit, offset) expect_invalid(lit, sizeof(lit) - 1, offset, __LINE__)

static void test_invalid_sequences(void) {
    EXPECT_INVALID("\xC0\x80", 0);         /* overlong NUL */
    EXPECT_INVALID("\xC1\xBF", 0);         /* overlong U+007F */
    EXPECT_INVALID("ab\xE0\x80\x80", 2);   /* overlong 3-byte NUL */
    EXPECT_INVALID("\xE0\x9F\xBF", 0);     /* overlong U+07FF */
    EXPECT_INVALID("\xF0\x80\x80\x80", 0); /* overlong 4-byte NUL */
    EXPECT_INVALID("\xF0\x8F\xBF\xBF", 0); /* overlong U+FFFF */
    EXPECT_INVALID("x\xED\xA0\x80", 1);    /* U+D800, a high surrogate */
    EXPECT_INVALID("\xED\xBF\xBF", 0);     /* U+DFFF, a low surrogate */
    EXPECT_INVALID("\xF4\x90\x80\x80", 0); /* U+110000 */
    EXPECT_INVALID("\xF5\x80\x80\x80", 0); /* lead byte past F4 */
    EXPECT_INVALID("\xFF", 0);
    EXPECT_INVALID("\xFE", 0);
    EXPECT_INVALID("abc\x80", 3);      /* stray continuation byte */
    EXPECT_INVALID("\xC3\xA9\xA9", 2); /* a continuation byte too many */
    EXPECT_INVALID("abc\xC3", 3);      /* truncated at the end: 2-byte */
    EXPECT_INVALID("abc\xE2\x82", 3);  /* truncated at the end: 3-byte */
    EXPECT_INVALID("\xF0\x9F\x98", 0); /* truncated at the end: 4-byte */
    EXPECT_INVALID("\xE2\x82z", 0);    /* truncated in the middle */
    EXPECT_INVALID("\xC3(", 0);        /* lead byte followed by ASCII */
    EXPECT_INVALID("a\xC3\xA9\xE2\x82\xACz\x80", 7);
    /* Truncating the sample inside a character makes it invalid at that character's first byte. */
    EXPECT_INVALID("a\xC3", 1);
    EXPECT_INVALID("a\xC3\xA9\xE2\x82", 3);
    EXPECT_INVALID("a\xC3\xA9\xE2\x82\xAC\xF0\x9F\x98", 6);
    /* NULL text with a length is invalid at offset 0; a NULL bad_offset is allowed. */
    size_t bad = 99;
    CHECK(!llamac_utf8_valid(NULL, 5, &bad));
    CHECK_INT(bad, 0);
    CHECK(!llamac_utf8_valid("\xFF", 1, NULL));
}

/* A stream output accumulator: every chunk must be valid UTF-8 on its own. */
struct sink {
    char buf[256];
    size_t len;
    int bad_chunks;
};

static void sink_add(struct sink *k, const char *text, size_t len) {
    if (!llamac_utf8_valid(text, len, NULL)) {
        k->bad_chunks++;
    }
    if (k->len + len < sizeof k->buf) {
        memcpy(k->buf + k->len, text, len);
        k->len += len;
    }
    k->buf[k->len] = '\0';
}

static void push(llamac_utf8_stream *st, struct sink *k, const char *bytes, size_t len) {
    const char *text = NULL;
    size_t text_len = 99;
    CHECK_OK(llamac_utf8_stream_push(st, bytes, len, &text, &text_len));
    CHECK(text != NULL);
    if (text) {
        sink_add(k, text, text_len);
    }
}

static void flush(llamac_utf8_stream *st, struct sink *k) {
    const char *text = NULL;
    size_t text_len = 99;
    CHECK_OK(llamac_utf8_stream_flush(st, &text, &text_len));
    CHECK(text != NULL);
    if (text) {
        sink_add(k, text, text_len);
    }
}

static void test_stream_split_everywhere(void) {
    for (size_t cut = 0; cut <= SAMPLE_LEN; cut++) {
        llamac_utf8_stream *st = NULL;
        CHECK_OK(llamac_utf8_stream_new(&st));
        struct sink k = { .len = 0 };
        push(st, &k, sample, cut);
        push(st, &k, sample + cut, SAMPLE_LEN - cut);
        flush(st, &k);
        CHECK_INT(k.bad_chunks, 0);
        CHECK_INT(k.len, SAMPLE_LEN);
        CHECK(memcmp(k.buf, sample, SAMPLE_LEN) == 0);
        llamac_utf8_stream_free(st);
    }
}

static void test_stream_byte_by_byte(void) {
    llamac_utf8_stream *st = NULL;
    CHECK_OK(llamac_utf8_stream_new(&st));
    struct sink k = { .len = 0 };
    size_t nonempty = 0;
    for (size_t i = 0; i < SAMPLE_LEN; i++) {
        size_t before = k.len;
        push(st, &k, sample + i, 1);
        if (k.len > before) {
            nonempty++;
        }
    }
    flush(st, &k);
    CHECK_INT(k.bad_chunks, 0);
    CHECK_INT(k.len, SAMPLE_LEN);
    CHECK(memcmp(k.buf, sample, SAMPLE_LEN) == 0);
    CHECK_INT(nonempty, 5); /* one chunk per character, each when its last byte arrives */

    /* The three unfinished prefixes of 😀 give no output, its last byte gives all four bytes. */
    const char *text = NULL;
    size_t text_len = 0;
    for (size_t i = 0; i < 3; i++) {
        CHECK_OK(llamac_utf8_stream_push(st, "\xF0\x9F\x98\x80" + i, 1, &text, &text_len));
        CHECK_INT(text_len, 0);
    }
    CHECK_OK(llamac_utf8_stream_push(st, "\x80", 1, &text, &text_len));
    CHECK_INT(text_len, 4);
    CHECK(text && memcmp(text, "\xF0\x9F\x98\x80", 4) == 0);
    llamac_utf8_stream_free(st);
}

static void test_stream_invalid_bytes(void) {
    llamac_utf8_stream *st = NULL;
    CHECK_OK(llamac_utf8_stream_new(&st));

    /* A stray continuation byte becomes U+FFFD and decoding carries on. */
    struct sink k = { .len = 0 };
    push(st, &k, "a\x80z", 3);
    CHECK_STR(k.buf, "a\xEF\xBF\xBDz");

    /* Every forbidden form is replaced; the text around it survives. */
    const char *bad[] = { "\xC0\x80", "\xED\xA0\x80", "\xF4\x90\x80\x80", "\xFF", "\xE0\x80\x80" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct sink b = { .len = 0 };
        push(st, &b, "<", 1);
        push(st, &b, bad[i], strlen(bad[i]));
        push(st, &b, ">", 1);
        flush(st, &b);
        CHECK_INT(b.bad_chunks, 0);
        CHECK(b.len >= 5 && b.buf[0] == '<' && b.buf[b.len - 1] == '>');
        CHECK(strstr(b.buf, fffd) != NULL);
        CHECK(llamac_utf8_valid(b.buf, b.len, NULL));
    }

    /* An unfinished character broken off by ASCII in the next push: replaced, then the ASCII comes through. */
    struct sink c = { .len = 0 };
    push(st, &c, "x\xE2\x82", 3);
    CHECK_STR(c.buf, "x");
    push(st, &c, "y\xC3\xA9", 3);
    CHECK_INT(c.bad_chunks, 0);
    CHECK(strncmp(c.buf, "x\xEF\xBF\xBD", 4) == 0);
    CHECK(c.len >= 7 && memcmp(c.buf + c.len - 3, "y\xC3\xA9", 3) == 0);
    llamac_utf8_stream_free(st);
}

static void test_stream_flush(void) {
    llamac_utf8_stream *st = NULL;
    CHECK_OK(llamac_utf8_stream_new(&st));
    const char *text = NULL;
    size_t text_len = 99;

    /* Nothing pending: an empty, NUL-terminated result. */
    CHECK_OK(llamac_utf8_stream_flush(st, &text, &text_len));
    CHECK_INT(text_len, 0);
    CHECK(text && text[0] == '\0');

    /* An unfinished 4-byte character at the end comes out as one U+FFFD. */
    CHECK_OK(llamac_utf8_stream_push(st, "ok\xF0\x9F\x98", 5, &text, &text_len));
    CHECK_INT(text_len, 2);
    CHECK(text && memcmp(text, "ok", 2) == 0);
    CHECK_OK(llamac_utf8_stream_flush(st, &text, &text_len));
    CHECK_INT(text_len, 3);
    CHECK(text && memcmp(text, fffd, 3) == 0);

    /* The stream is reusable, with nothing left over from before the flush. */
    CHECK_OK(llamac_utf8_stream_push(st, "\x80", 0, &text, &text_len));
    CHECK_INT(text_len, 0);
    CHECK_OK(llamac_utf8_stream_push(st, "\xC3\xA9", 2, &text, &text_len));
    CHECK_INT(text_len, 2);
    CHECK(text && memcmp(text, "\xC3\xA9", 2) == 0);
    CHECK_OK(llamac_utf8_stream_flush(st, &text, &text_len));
    CHECK_INT(text_len, 0);
    llamac_utf8_stream_free(st);
}

static void test_stream_large(void) {
    /* 64 KiB of the sample in one push, then cut into 7-byte pieces: the output is the input, byte for byte. */
    size_t reps = 65536 / SAMPLE_LEN;
    size_t n = reps * SAMPLE_LEN;
    char *in = malloc(n);
    char *out = malloc(n);
    CHECK(in && out);
    if (!in || !out) {
        free(in);
        free(out);
        return;
    }
    for (size_t i = 0; i < reps; i++) {
        memcpy(in + i * SAMPLE_LEN, sample, SAMPLE_LEN);
    }
    llamac_utf8_stream *st = NULL;
    CHECK_OK(llamac_utf8_stream_new(&st));
    const char *text = NULL;
    size_t text_len = 0;
    CHECK_OK(llamac_utf8_stream_push(st, in, n, &text, &text_len));
    CHECK_INT(text_len, n);
    CHECK(text && memcmp(text, in, n) == 0);

    size_t w = 0;
    int invalid = 0;
    for (size_t i = 0; i < n; i += 7) {
        size_t m = n - i < 7 ? n - i : 7;
        CHECK_OK(llamac_utf8_stream_push(st, in + i, m, &text, &text_len));
        invalid += !llamac_utf8_valid(text, text_len, NULL);
        if (w + text_len <= n) {
            memcpy(out + w, text, text_len);
        }
        w += text_len;
    }
    CHECK_OK(llamac_utf8_stream_flush(st, &text, &text_len));
    CHECK_INT(text_len, 0);
    CHECK_INT(invalid, 0);
    CHECK_INT(w, n);
    CHECK(w == n && memcmp(out, in, n) == 0);
    llamac_utf8_stream_free(st);
    free(in);
    free(out);
}

static void test_stream_null_arguments(void) {
    CHECK_STATUS(llamac_utf8_stream_new(NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    llamac_utf8_stream_free(NULL);

    llamac_utf8_stream *st = NULL;
    CHECK_OK(llamac_utf8_stream_new(&st));
    CHECK_STR(llamac_last_error(), "");
    const char *text = "unset";
    size_t text_len = 99;
    CHECK_STATUS(llamac_utf8_stream_push(NULL, "a", 1, &text, &text_len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK(text == NULL);
    CHECK_INT(text_len, 0);
    CHECK_STATUS(llamac_utf8_stream_push(st, NULL, 3, &text, &text_len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK_STATUS(llamac_utf8_stream_push(st, "a", 1, NULL, &text_len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_utf8_stream_push(st, "a", 1, &text, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_utf8_stream_flush(NULL, &text, &text_len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("NULL");
    CHECK_STATUS(llamac_utf8_stream_flush(st, NULL, &text_len), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_utf8_stream_flush(st, &text, NULL), LLAMAC_E_INVALID_ARGUMENT);

    /* NULL bytes with length 0 is an empty push, and the failed calls above left nothing behind. */
    CHECK_OK(llamac_utf8_stream_push(st, NULL, 0, &text, &text_len));
    CHECK_INT(text_len, 0);
    CHECK_STR(llamac_last_error(), "");
    CHECK_OK(llamac_utf8_stream_push(st, "\xE2\x82\xAC", 3, &text, &text_len));
    CHECK_INT(text_len, 3);
    llamac_utf8_stream_free(st);
}

int main(void) {
    RUN(test_valid_characters);
    RUN(test_invalid_sequences);
    RUN(test_stream_split_everywhere);
    RUN(test_stream_byte_by_byte);
    RUN(test_stream_invalid_bytes);
    RUN(test_stream_flush);
    RUN(test_stream_large);
    RUN(test_stream_null_arguments);
    TESTS_DONE();
}
