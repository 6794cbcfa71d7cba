/*
 * test_dynbuf.c - the capped growable buffer (src/util/dynbuf.c), linked in as libllamac, the server and the
 * command link it.
 *
 * The cap is exact (a buffer may hold precisely `max` bytes, never one more), a failure is sticky (every later
 * append fails and nothing is kept), and the bytes are a C string at every moment.
 */
#include "check.h"
#include "dynbuf.h"

#include <stdint.h>

/* test_out_of_memory asks for more than any allocator gives; under ASan (make test-sanitize) malloc must then return
 * NULL, as it does in a normal build, instead of ending the process. */
const char *__asan_default_options(void);
const char *__asan_default_options(void) {
    return "allocator_may_return_null=1";
}

static void test_append_and_grow(void) {
    llamac__dynbuf b;
    llamac__dynbuf_init(&b, 1 << 20);
    CHECK_STR(llamac__dynbuf_ptr(&b), "");
    CHECK_INT(llamac__dynbuf_len(&b), 0);
    CHECK(llamac__dynbuf_add(&b, NULL, 0));
    CHECK(llamac__dynbuf_adds(&b, "hello"));
    CHECK(llamac__dynbuf_addc(&b, ' '));
    CHECK(llamac__dynbuf_addf(&b, "%s %d", "world", 42));
    CHECK_STR(llamac__dynbuf_ptr(&b), "hello world 42");
    CHECK_INT(llamac__dynbuf_len(&b), 14);
    /* Byte by byte far past the first allocation: the content is exact and NUL-terminated throughout. */
    for (int i = 0; i < 5000; i++) {
        if (!llamac__dynbuf_addc(&b, (char)('a' + i % 26))) {
            CHECK(false);
            break;
        }
    }
    CHECK_INT(llamac__dynbuf_len(&b), 5014);
    const char *p = llamac__dynbuf_ptr(&b);
    CHECK(p[5013] == (char)('a' + 4999 % 26));
    CHECK(p[5014] == '\0');
    CHECK(b.alloc >= 5015 && b.alloc <= 2 * 5015);
    /* Formatted text longer than the formatting scratch space. */
    char big[1000];
    memset(big, 'x', sizeof big - 1);
    big[sizeof big - 1] = '\0';
    llamac__dynbuf_reset(&b);
    CHECK(llamac__dynbuf_addf(&b, "<%s>", big));
    CHECK_INT(llamac__dynbuf_len(&b), 1001);
    CHECK(llamac__dynbuf_ptr(&b)[1000] == '>');
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_OK);
    llamac__dynbuf_free(&b);
    CHECK_STR(llamac__dynbuf_ptr(&b), "");
}

static void test_cap_is_exact_and_sticky(void) {
    llamac__dynbuf b;
    llamac__dynbuf_init(&b, 10);
    CHECK(llamac__dynbuf_adds(&b, "0123456789")); /* exactly the cap */
    CHECK_INT(llamac__dynbuf_len(&b), 10);
    CHECK(b.alloc == 11);
    CHECK(!llamac__dynbuf_addc(&b, 'x')); /* one past it */
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_TOO_BIG);
    /* Failed: emptied, and every later append fails too, even one that would fit. */
    CHECK_INT(llamac__dynbuf_len(&b), 0);
    CHECK_STR(llamac__dynbuf_ptr(&b), "");
    CHECK(!llamac__dynbuf_adds(&b, "a"));
    CHECK(!llamac__dynbuf_addf(&b, "%d", 1));
    CHECK(llamac__dynbuf_grow(&b, 1) == NULL);
    CHECK(llamac__dynbuf_take(&b, NULL) == NULL);
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_TOO_BIG);
    /* A reset clears the failure. */
    llamac__dynbuf_reset(&b);
    CHECK(llamac__dynbuf_adds(&b, "ok"));
    CHECK_STR(llamac__dynbuf_ptr(&b), "ok");
    /* A formatted append that would pass the cap fails the same way. */
    CHECK(!llamac__dynbuf_addf(&b, "%0300d", 7));
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_TOO_BIG);
    llamac__dynbuf_free(&b);
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_OK);

    /* A size whose sum with what is held overflows size_t is too big, not a wrapped small allocation. */
    llamac__dynbuf_init(&b, SIZE_MAX);
    CHECK(llamac__dynbuf_adds(&b, "abc"));
    CHECK(!llamac__dynbuf_add(&b, "", SIZE_MAX - 1));
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_TOO_BIG);
    llamac__dynbuf_free(&b);
}

static void test_initializer_and_fail(void) {
    llamac__dynbuf b = LLAMAC__DYNBUF(4);
    CHECK(llamac__dynbuf_adds(&b, "abcd"));
    CHECK(!llamac__dynbuf_adds(&b, "e"));
    llamac__dynbuf_free(&b);
    /* A failure from outside the buffer (say, a library that could not allocate what was to be appended). */
    CHECK(llamac__dynbuf_adds(&b, "ab"));
    llamac__dynbuf_fail(&b, LLAMAC__DYNBUF_NO_MEMORY);
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_NO_MEMORY);
    CHECK_INT(llamac__dynbuf_len(&b), 0);
    CHECK(!llamac__dynbuf_adds(&b, "c"));
    llamac__dynbuf_fail(&b, LLAMAC__DYNBUF_TOO_BIG); /* the first failure is the one reported */
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_NO_MEMORY);
    llamac__dynbuf_free(&b);
    /* A zero cap holds nothing: even the empty append succeeds, one byte does not. */
    llamac__dynbuf z = LLAMAC__DYNBUF(0);
    CHECK(llamac__dynbuf_add(&z, NULL, 0));
    CHECK(!llamac__dynbuf_addc(&z, 'x'));
    llamac__dynbuf_free(&z);
}

static void test_out_of_memory(void) {
    /* A cap the allocator cannot satisfy: the append fails as out of memory, not as too big, and nothing leaks. */
    llamac__dynbuf b;
    llamac__dynbuf_init(&b, SIZE_MAX / 2);
    CHECK(llamac__dynbuf_adds(&b, "abc"));
    CHECK(llamac__dynbuf_grow(&b, SIZE_MAX / 4) == NULL);
    CHECK_INT(llamac__dynbuf_error(&b), LLAMAC__DYNBUF_NO_MEMORY);
    CHECK(!llamac__dynbuf_adds(&b, "d"));
    CHECK_INT(llamac__dynbuf_len(&b), 0);
    llamac__dynbuf_free(&b);
}

static void test_edit_and_take(void) {
    llamac__dynbuf b;
    llamac__dynbuf_init(&b, 100);
    size_t len = 99;
    char *empty = llamac__dynbuf_take(&b, &len); /* nothing appended yet: an allocated "" */
    CHECK(empty && empty[0] == '\0');
    CHECK_INT(len, 0);
    free(empty);
    CHECK(llamac__dynbuf_adds(&b, "stop-string"));
    llamac__dynbuf_drop(&b, 5);
    CHECK_STR(llamac__dynbuf_ptr(&b), "string");
    llamac__dynbuf_truncate(&b, 3);
    CHECK_STR(llamac__dynbuf_ptr(&b), "str");
    llamac__dynbuf_truncate(&b, 50); /* longer than held: nothing changes */
    CHECK_STR(llamac__dynbuf_ptr(&b), "str");
    llamac__dynbuf_drop(&b, 10);
    CHECK_STR(llamac__dynbuf_ptr(&b), "");
    CHECK(llamac__dynbuf_adds(&b, "taken"));
    char *t = llamac__dynbuf_take(&b, &len);
    CHECK_STR(t, "taken");
    CHECK_INT(len, 5);
    free(t);
    CHECK_INT(llamac__dynbuf_len(&b), 0); /* empty again, and usable */
    CHECK(llamac__dynbuf_adds(&b, "again"));
    CHECK_STR(llamac__dynbuf_ptr(&b), "again");
    llamac__dynbuf_free(&b);

    /* An array of structs built in place. */
    struct pair {
        int a;
        double b;
    };
    llamac__dynbuf arr;
    llamac__dynbuf_init(&arr, 1000 * sizeof(struct pair));
    for (int i = 0; i < 1000; i++) {
        struct pair *p = llamac__dynbuf_grow(&arr, sizeof *p);
        CHECK(p && p->a == 0 && p->b == 0.0);
        if (p) {
            p->a = i;
            p->b = i * 0.5;
        }
    }
    CHECK(llamac__dynbuf_grow(&arr, sizeof(struct pair)) == NULL); /* the 1001st passes the cap */
    CHECK_INT(llamac__dynbuf_error(&arr), LLAMAC__DYNBUF_TOO_BIG);
    llamac__dynbuf_free(&arr);
    llamac__dynbuf_init(&arr, 1000 * sizeof(struct pair));
    for (int i = 0; i < 10; i++) {
        struct pair *p = llamac__dynbuf_grow(&arr, sizeof *p);
        if (p) {
            p->a = i;
        }
    }
    const struct pair *all = (const struct pair *)(const void *)arr.p;
    CHECK_INT(llamac__dynbuf_len(&arr) / sizeof *all, 10);
    CHECK_INT(all[9].a, 9);
    llamac__dynbuf_free(&arr);
}

int main(void) {
    RUN(test_append_and_grow);
    RUN(test_cap_is_exact_and_sticky);
    RUN(test_initializer_and_fail);
    RUN(test_out_of_memory);
    RUN(test_edit_and_take);
    TESTS_DONE();
}
