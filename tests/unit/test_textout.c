/*
 * test_textout.c - the text-out path (src/text/textout.c) on its own: UTF-8 gate, stop strings, hold-back, finish.
 *
 * The module is internal (libllamac hides it), so this test is built from its sources and those it uses (UTF-8,
 * errors) rather than linked against the library; test_generate, test_engine and test_chat check it in place.
 * Besides the cases a model rarely produces (a stop string split over many pieces, overlapping stop strings, a
 * partial match that comes to nothing, invalid bytes, a huge piece), one check compares random chunkings of random
 * text with the definition: the text up to the first stop string, whatever the pieces.
 */
#include "text/textout.h"

#include "check.h"

#include <stdint.h>

/* What a text-out path released, all pieces together. */
struct sink {
    char buf[1 << 18];
    size_t len;
    const char *stop;
    int pieces;
    bool overflow;
};

static void take(struct sink *k, const llamac__textout_piece *p) {
    CHECK(p->text != NULL);
    if (p->len > 0) {
        CHECK(llamac_utf8_valid(p->text, p->len, NULL));
        if (k->len + p->len >= sizeof k->buf) {
            k->overflow = true;
            return;
        }
        memcpy(k->buf + k->len, p->text, p->len);
        k->len += p->len;
        k->buf[k->len] = '\0';
        k->pieces++;
    }
    if (p->stop) {
        CHECK(k->stop == NULL); /* one stop string per text */
        k->stop = p->stop;
    }
}

static void push(llamac__textout *t, struct sink *k, const char *bytes, size_t n) {
    llamac__textout_piece p;
    CHECK_OK(llamac__textout_push(t, bytes, n, &p));
    take(k, &p);
}

static void pushs(llamac__textout *t, struct sink *k, const char *s) {
    push(t, k, s, strlen(s));
}

static void finish(llamac__textout *t, struct sink *k) {
    llamac__textout_piece p;
    CHECK_OK(llamac__textout_finish(t, &p));
    take(k, &p);
}

/* A new text with stop strings `list` (copied into *stops, whose earlier copies are freed first). */
static void setup(llamac__textout *t, llamac__stops *stops, const char *const *list, size_t n, struct sink *k) {
    memset(k, 0, sizeof *k);
    llamac__stops_free(stops);
    CHECK_OK(llamac__stops_copy(list, n, stops));
    llamac__textout_begin(t, stops);
}

static void test_no_stops(void) {
    llamac__textout t;
    CHECK_OK(llamac__textout_init(&t));
    struct sink k;
    memset(&k, 0, sizeof k);
    llamac__textout_begin(&t, NULL);
    pushs(&t, &k, "caf");
    push(&t, &k, "\xC3", 1); /* half of é: held by the UTF-8 gate */
    CHECK_STR(k.buf, "caf");
    push(&t, &k, "\xA9!", 2);
    CHECK_STR(k.buf, "caf\xC3\xA9!");
    push(&t, &k, "\xE2\x82", 2); /* an unfinished € at the end comes out as U+FFFD */
    finish(&t, &k);
    CHECK_STR(k.buf, "caf\xC3\xA9!\xEF\xBF\xBD");
    CHECK(k.stop == NULL);
    /* After finish nothing more comes out until the next text. */
    pushs(&t, &k, "late");
    finish(&t, &k);
    CHECK_STR(k.buf, "caf\xC3\xA9!\xEF\xBF\xBD");
    llamac__textout_free(&t);
}

static void test_stop_split_over_many_pushes(void) {
    static const char *const list[] = { "<|im_end|>" };
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));
    setup(&t, &stops, list, 1, &k);
    const char *text = "Hello there<|im_end|>and after";
    for (const char *c = text; *c; c++) {
        push(&t, &k, c, 1);
        /* Never any part of the stop string, at any moment. */
        CHECK(strchr(k.buf, '<') == NULL);
    }
    CHECK_STR(k.buf, "Hello there");
    CHECK_STR(k.stop, "<|im_end|>");
    CHECK(k.stop == stops.str[0]); /* the caller's copy, to report which one ended the text */
    /* The text is over: later pushes and the finish release nothing. */
    pushs(&t, &k, "more");
    finish(&t, &k);
    CHECK_STR(k.buf, "Hello there");

    /* The held part is released as soon as it stops looking like the stop string. */
    llamac__textout_begin(&t, &stops);
    memset(&k, 0, sizeof k);
    pushs(&t, &k, "a <|im");
    CHECK_STR(k.buf, "a ");
    pushs(&t, &k, "_en");
    CHECK_STR(k.buf, "a ");
    pushs(&t, &k, "d|");
    CHECK_STR(k.buf, "a ");
    pushs(&t, &k, "x");
    CHECK_STR(k.buf, "a <|im_end|x");
    CHECK(k.stop == NULL);
    llamac__textout_free(&t);
    llamac__stops_free(&stops);
}

static void test_overlapping_stops(void) {
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));

    /* The earliest stop string in the text wins, whichever comes first in the list. */
    static const char *const a[] = { "cd", "abcd" };
    setup(&t, &stops, a, 2, &k);
    pushs(&t, &k, "xabcdy");
    CHECK_STR(k.buf, "x");
    CHECK_STR(k.stop, "abcd");
    llamac__stops_free(&stops);

    /* Two starting at the same place: the first in the list. */
    static const char *const b[] = { "abc", "ab" };
    setup(&t, &stops, b, 2, &k);
    pushs(&t, &k, "-abc");
    CHECK_STR(k.buf, "-");
    CHECK_STR(k.stop, "abc");
    /* But a shorter one that completes first ends the text before a longer one can. */
    setup(&t, &stops, b, 2, &k);
    pushs(&t, &k, "-a");
    pushs(&t, &k, "b");
    CHECK_STR(k.buf, "-");
    CHECK_STR(k.stop, "ab");
    llamac__stops_free(&stops);

    /* A stop string that overlaps itself: "aab" inside "aaab" is found although the first "aa" was a false start. */
    static const char *const c[] = { "aab" };
    setup(&t, &stops, c, 1, &k);
    pushs(&t, &k, "a");
    pushs(&t, &k, "a");
    CHECK_STR(k.buf, "");
    pushs(&t, &k, "a");
    CHECK_STR(k.buf, "a"); /* only the longest tail that can still become "aab" is held */
    pushs(&t, &k, "b");
    CHECK_STR(k.buf, "a");
    CHECK_STR(k.stop, "aab");
    llamac__stops_free(&stops);

    /* Held back for the longer of two prefixes, released by the one that does not complete. */
    static const char *const d[] = { "xyz", "yw" };
    setup(&t, &stops, d, 2, &k);
    pushs(&t, &k, "1xy");
    CHECK_STR(k.buf, "1");
    pushs(&t, &k, "w");
    CHECK_STR(k.buf, "1x");
    CHECK_STR(k.stop, "yw");
    llamac__stops_free(&stops);
    llamac__textout_free(&t);
}

static void test_partial_match_then_not(void) {
    static const char *const list[] = { "STOP" };
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));
    setup(&t, &stops, list, 1, &k);
    pushs(&t, &k, "ST");
    pushs(&t, &k, "O");
    CHECK_STR(k.buf, "");
    pushs(&t, &k, "a");
    CHECK_STR(k.buf, "STOa");
    pushs(&t, &k, "STO");
    pushs(&t, &k, "STOP");
    CHECK_STR(k.buf, "STOaSTO");
    CHECK_STR(k.stop, "STOP");

    /* Finish releases a tail held for a stop string that never came. */
    setup(&t, &stops, list, 1, &k);
    pushs(&t, &k, "the end ST");
    CHECK_STR(k.buf, "the end ");
    finish(&t, &k);
    CHECK_STR(k.buf, "the end ST");
    CHECK(k.stop == NULL);
    CHECK_INT(k.pieces, 2);
    llamac__stops_free(&stops);
    llamac__textout_free(&t);
}

static void test_invalid_utf8(void) {
    static const char *const list[] = { "\xEF\xBF\xBD"
                                        "end" }; /* U+FFFD then "end" */
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));
    setup(&t, &stops, list, 1, &k);
    /* A byte that can never start a character becomes U+FFFD; the stop string can match it. */
    push(&t, &k, "ok\xFF", 3);
    CHECK_STR(k.buf, "ok");
    pushs(&t, &k, "en");
    CHECK_STR(k.buf, "ok");
    pushs(&t, &k, "d!");
    CHECK_STR(k.buf, "ok");
    CHECK(k.stop == stops.str[0]);

    /* A character cut short by another character: each of its bytes becomes U+FFFD, in the next piece. */
    setup(&t, &stops, list, 1, &k);
    push(&t, &k, "\xE2\x82", 2);
    CHECK_STR(k.buf, "");
    push(&t, &k, "A", 1);
    CHECK_STR(k.buf, "\xEF\xBF\xBD\xEF\xBF\xBD"
                     "A");
    /* An unfinished character at the end comes out as U+FFFD on finish (a prefix of the stop string, released
     * because "end" can no longer come). */
    setup(&t, &stops, list, 1, &k);
    pushs(&t, &k, "x");
    push(&t, &k, "\xF0\x9F", 2);
    finish(&t, &k);
    CHECK_STR(k.buf, "x\xEF\xBF\xBD");
    CHECK(k.stop == NULL);
    llamac__stops_free(&stops);

    static const char *const only[] = { "\xEF\xBF\xBD" };
    /* That U+FFFD completes a stop string on finish: the text ends by it. */
    setup(&t, &stops, only, 1, &k);
    pushs(&t, &k, "x");
    push(&t, &k, "\xF0\x9F", 2);
    finish(&t, &k);
    CHECK_STR(k.buf, "x");
    CHECK(k.stop == stops.str[0]);
    llamac__stops_free(&stops);
    llamac__textout_free(&t);
}

static void test_huge_push(void) {
    static const char *const list[] = { "<stop>" };
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));
    setup(&t, &stops, list, 1, &k);
    size_t n = LLAMAC__TEXTOUT_MAX_PUSH;
    char *big = malloc(n + 1);
    if (!big) {
        CHECK(false);
        return;
    }
    memset(big, 'z', n);
    /* The largest piece, its last bytes the start of the stop string the next piece completes. */
    memcpy(big + n - 3, "<st", 3);
    pushs(&t, &k, "a<");
    push(&t, &k, big, n);
    CHECK_INT(k.len, n - 1); /* "a<" and the z's, the last "<st" held */
    /* One byte more is refused and changes nothing: the held "<st" still completes the stop string. */
    llamac__textout_piece p;
    CHECK_STATUS(llamac__textout_push(&t, big, n + 1, &p), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("65537 bytes");
    CHECK_INT(p.len, 0);
    pushs(&t, &k, "op>tail");
    CHECK_INT(k.len, n - 1);
    CHECK_STR(k.stop, "<stop>");
    CHECK(!k.overflow);

    /* Every byte invalid: each becomes U+FFFD (three bytes), so the piece comes out three times as long. */
    setup(&t, &stops, list, 1, &k);
    memset(big, 0xFF, n);
    push(&t, &k, big, n);
    CHECK_INT(k.len, 3 * n);
    finish(&t, &k);
    CHECK_INT(k.len, 3 * n);
    free(big);
    llamac__stops_free(&stops);
    llamac__textout_free(&t);
}

static void test_begin_resets(void) {
    static const char *const list[] = { "###" };
    llamac__textout t;
    llamac__stops stops = { 0 };
    struct sink k;
    CHECK_OK(llamac__textout_init(&t));
    setup(&t, &stops, list, 1, &k);
    pushs(&t, &k, "a##");
    push(&t, &k, "\xC3", 1);
    CHECK_STR(k.buf, "a"); /* "##" held, then the start of a character */
    pushs(&t, &k, "#");
    CHECK_STR(k.buf, "a##\xEF\xBF\xBD"); /* the broken character broke the match; the last "#" is held */
    /* A new text forgets the held bytes and an unfinished character; a text without stop strings reuses it. */
    pushs(&t, &k, "#");
    push(&t, &k, "\xC3", 1);
    memset(&k, 0, sizeof k);
    llamac__textout_begin(&t, NULL);
    pushs(&t, &k, "A#");
    finish(&t, &k);
    CHECK_STR(k.buf, "A#");
    setup(&t, &stops, list, 1, &k);
    pushs(&t, &k, "##");
    llamac__stops_free(&stops);
    static const char *const other[] = { "!" };
    setup(&t, &stops, other, 1, &k);
    pushs(&t, &k, "#!");
    CHECK_STR(k.buf, "#");
    CHECK_STR(k.stop, "!");
    llamac__stops_free(&stops);
    llamac__textout_free(&t);
}

static void test_stops_check(void) {
    static const char *const good[] = { "a", "\xC3\xA9" };
    static const char *const empty[] = { "a", "" };
    static const char *const null[] = { NULL };
    static const char *const bad[] = { "ok", "\xC3" };
    CHECK_OK(llamac__stops_check(NULL, 0, "n_stop"));
    CHECK_OK(llamac__stops_check(good, 2, "n_stop"));
    CHECK_STATUS(llamac__stops_check(NULL, 2, "generate.n_stop"), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(llamac_last_error(), "generate.n_stop is 2 but stop is NULL");
    CHECK_STATUS(llamac__stops_check(empty, 2, "n_stop"), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(llamac_last_error(), "stop string 1 is NULL or empty");
    CHECK_STATUS(llamac__stops_check(null, 1, "n_stop"), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STR(llamac_last_error(), "stop string 0 is NULL or empty");
    CHECK_STATUS(llamac__stops_check(bad, 2, "n_stop"), LLAMAC_E_UTF8);
    CHECK_STR(llamac_last_error(), "stop string 1 is not valid UTF-8");
    llamac__stops s;
    CHECK_STATUS(llamac__stops_copy(bad, 2, &s), LLAMAC_E_UTF8);
    CHECK_INT(s.n, 0);
    llamac__stops_free(&s);
    CHECK_OK(llamac__stops_copy(good, 2, &s));
    CHECK_INT(s.n, 2);
    CHECK_INT(s.longest, 2);
    CHECK(s.str[0] != good[0]); /* copies */
    CHECK_STR(s.str[1], "\xC3\xA9");
    llamac__stops_free(&s);
    llamac__stops_free(&s); /* twice is harmless */
    CHECK_OK(llamac__stops_copy(NULL, 0, &s));
    CHECK_INT(s.n, 0);
    llamac__stops_free(&s);
}

/* ---- random chunkings against the definition ---- */

static uint32_t rng = 2463534242u;
static uint32_t next(void) {
    rng ^= rng << 13;
    rng ^= rng >> 17;
    rng ^= rng << 5;
    return rng;
}

static void random_string(char *out, size_t n) {
    static const char *const alphabet[] = { "a", "b", "c", "\xC3\xA9" };
    out[0] = '\0';
    for (size_t i = 0; i < n; i++) {
        strcat(out, alphabet[next() % 4]);
    }
}

static void test_random_chunkings(void) {
    llamac__textout t;
    CHECK_OK(llamac__textout_init(&t));
    int mismatches = 0;
    for (int round = 0; round < 3000; round++) {
        /* Stop strings none of which contains another: then the first to complete is also the first to start, and
         * the output cannot depend on how the text is cut. */
        char s0[32], s1[32], text[512];
        random_string(s0, 1 + next() % 4);
        do {
            random_string(s1, 1 + next() % 4);
        } while (strstr(s0, s1) || strstr(s1, s0));
        random_string(text, next() % 60);
        const char *const list[] = { s0, s1 };
        size_t n_stop = 1 + next() % 2;
        const char *first = NULL, *which = NULL;
        for (size_t i = 0; i < n_stop; i++) {
            const char *at = strstr(text, list[i]);
            if (at && (!first || at < first)) {
                first = at;
                which = list[i];
            }
        }
        size_t want = first ? (size_t)(first - text) : strlen(text);
        llamac__stops stops = { 0 };
        struct sink k;
        setup(&t, &stops, list, n_stop, &k);
        size_t len = strlen(text);
        for (size_t i = 0; i < len && !k.stop;) {
            size_t n = 1 + next() % 5;
            n = n > len - i ? len - i : n;
            push(&t, &k, text + i, n);
            i += n;
            /* What came out so far is always a prefix of the answer. */
            if (k.len > want || memcmp(k.buf, text, k.len) != 0) {
                mismatches++;
                break;
            }
        }
        finish(&t, &k);
        if (k.len != want || memcmp(k.buf, text, want) != 0 ||
            (which ? !k.stop || strcmp(k.stop, which) != 0 : k.stop != NULL)) {
            mismatches++;
            if (mismatches < 5) {
                fprintf(stderr, "text \"%s\" stops \"%s\" \"%s\" (%zu): got \"%s\"\n", text, s0, s1, n_stop, k.buf);
            }
        }
        llamac__stops_free(&stops);
    }
    CHECK_INT(mismatches, 0);
    llamac__textout_free(&t);
}

int main(void) {
    RUN(test_no_stops);
    RUN(test_stop_split_over_many_pushes);
    RUN(test_overlapping_stops);
    RUN(test_partial_match_then_not);
    RUN(test_invalid_utf8);
    RUN(test_huge_push);
    RUN(test_begin_resets);
    RUN(test_stops_check);
    RUN(test_random_chunkings);
    TESTS_DONE();
}
