/*
 * test_line_editor.c - the input editor of `llamac chat --live` (tools/llamac/line_editor.c), without a terminal:
 * bytes to keys, keys to text and cursor, history with Up and Down, and the escape sequences a redraw writes.
 */
#include "check.h"

#include "../tools/llamac/line_editor.h"

/* Feeds `bytes` through the key parser and the editor, as the live chat does (keys it leaves to the caller, such as
 * Enter, are skipped). Returns the number of keys. */
static int type(struct line_editor *e, const char *bytes) {
    const unsigned char *in = (const unsigned char *)bytes;
    size_t n = strlen(bytes), at = 0;
    int keys = 0;
    while (at < n) {
        size_t used = 0;
        enum editor_key k = editor_parse_key(in + at, n - at, &used);
        CHECK(k != EDITOR_KEY_INCOMPLETE);
        if (k == EDITOR_KEY_INCOMPLETE) {
            break;
        }
        CHECK(editor_apply(e, k, bytes + at, used));
        at += used;
        keys++;
    }
    return keys;
}

static const char *text(const struct line_editor *e) {
    return llamac__dynbuf_ptr(&e->text);
}

static void test_keys(void) {
    size_t used = 0;
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b[A", 3, &used), EDITOR_KEY_UP);
    CHECK_INT(used, 3);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b[3~x", 5, &used), EDITOR_KEY_DELETE);
    CHECK_INT(used, 4);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1bOH", 3, &used), EDITOR_KEY_HOME);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b[1;5C", 6, &used), EDITOR_KEY_RIGHT);
    CHECK_INT(used, 6);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b\r", 2, &used), EDITOR_KEY_NEWLINE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b", 1, &used), EDITOR_KEY_INCOMPLETE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b[", 2, &used), EDITOR_KEY_INCOMPLETE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x1b[1;", 4, &used), EDITOR_KEY_INCOMPLETE);
    /* a character split across reads waits for its other bytes; an invalid one is dropped */
    CHECK_INT(editor_parse_key((const unsigned char *)"\xc3", 1, &used), EDITOR_KEY_INCOMPLETE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\xc3\xa9", 2, &used), EDITOR_KEY_TEXT);
    CHECK_INT(used, 2);
    CHECK_INT(editor_parse_key((const unsigned char *)"\xc3(", 2, &used), EDITOR_KEY_NONE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\xff", 1, &used), EDITOR_KEY_NONE);
    CHECK_INT(editor_parse_key((const unsigned char *)"\r", 1, &used), EDITOR_KEY_ENTER);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x03", 1, &used), EDITOR_KEY_CTRL_C);
    CHECK_INT(editor_parse_key((const unsigned char *)"\x7f", 1, &used), EDITOR_KEY_BACKSPACE);
}

static void test_editing(void) {
    struct line_editor e;
    editor_init(&e);
    /* "Hello wrld", three left, "o", End: "Hello world" */
    type(&e, "Hello wrld\x1b[D\x1b[D\x1b[Do\x1b[F");
    CHECK_STR(text(&e), "Hello world");
    CHECK_INT(e.cursor, e.text.len);
    /* Ctrl-W removes the last word and the blanks before the cursor */
    type(&e, "  \x17");
    CHECK_STR(text(&e), "Hello ");
    /* multi-byte characters move and delete whole */
    type(&e, "caf\xc3\xa9!\x1b[D\x7f");
    CHECK_STR(text(&e), "Hello caf!");
    CHECK_INT(e.cursor, strlen("Hello caf"));
    type(&e, "\x1b[3~"); /* Delete */
    CHECK_STR(text(&e), "Hello caf");
    /* Home, Ctrl-K; Alt+Enter makes a second line; Ctrl-U clears to the line's start */
    type(&e, "\x01\x0b"
             "first\x1b\rsecond");
    CHECK_STR(text(&e), "first\nsecond");
    type(&e, "\x15");
    CHECK_STR(text(&e), "first\n");
    /* Up keeps the column on the previous line, Down comes back */
    type(&e, "abc\x1b[A");
    CHECK_INT(e.cursor, 3);
    type(&e, "\x1b[B");
    CHECK_INT(e.cursor, strlen("first\nabc"));
    editor_clear(&e);
    CHECK_STR(text(&e), "");
    CHECK_INT(e.cursor, 0);
    editor_free(&e);
}

static void test_history(void) {
    struct line_editor e;
    editor_init(&e);
    type(&e, "\x1b[A"); /* no history: nothing happens */
    CHECK_STR(text(&e), "");
    editor_history_add(&e, "one", 3);
    editor_history_add(&e, "two\nlines", 9);
    editor_history_add(&e, "two\nlines", 9); /* a repeat is not added */
    editor_history_add(&e, "", 0);
    CHECK_INT(e.n_history, 2);
    type(&e, "draft");
    type(&e, "\x1b[A"); /* the last message, the cursor at its end */
    CHECK_STR(text(&e), "two\nlines");
    type(&e, "\x1b[A"); /* on its second line: Up moves to the first line */
    CHECK_STR(text(&e), "two\nlines");
    CHECK_INT(e.cursor, 3);
    type(&e, "\x1b[A"); /* from the first line: the message before */
    CHECK_STR(text(&e), "one");
    type(&e, "\x1b[A"); /* the oldest stays */
    CHECK_STR(text(&e), "one");
    type(&e, "\x1b[B"); /* Down: the newer message, then from its last line the draft */
    CHECK_STR(text(&e), "two\nlines");
    type(&e, "\x1b[B");
    CHECK_STR(text(&e), "draft");
    type(&e, "\x1b[B"); /* past the draft: nothing */
    CHECK_STR(text(&e), "draft");
    /* Ctrl-P / Ctrl-N are Up and Down */
    type(&e, "\x10");
    CHECK_STR(text(&e), "two\nlines");
    editor_free(&e);
    /* the oldest entries go when the history is full */
    for (int i = 0; i < EDITOR_HISTORY_MAX + 5; i++) {
        char msg[16];
        int n = snprintf(msg, sizeof msg, "m%d", i);
        editor_history_add(&e, msg, (size_t)n);
    }
    CHECK_INT(e.n_history, EDITOR_HISTORY_MAX);
    CHECK_STR(e.history[0], "m5");
    editor_free(&e);
}

/* What one redraw writes, as a string (caller frees). */
static char *draw(struct line_editor *e, int width) {
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    editor_draw(e, f, width);
    fclose(f);
    return out;
}

static void test_draw(void) {
    struct line_editor e;
    editor_init(&e);
    type(&e, "hello\x1b[D");
    char *s = draw(&e, 80);
    CHECK_STR(s, "\r\x1b[J> hello\r\x1b[6C"); /* the cursor on the 'o' */
    free(s);
    /* a second line is indented under the prompt; the next draw starts from the first row */
    type(&e, "\x1b[F\x1b\rworld");
    s = draw(&e, 80);
    CHECK_STR(s, "\r\x1b[J> hello\r\n  world\r\x1b[7C");
    free(s);
    CHECK_INT(e.drawn_row, 1);
    /* wrapping at the width: 8 columns hold the prompt and 6 characters */
    editor_clear(&e);
    e.drawn_row = 0;
    type(&e, "abcdefgh");
    s = draw(&e, 8);
    CHECK_STR(s, "\r\x1b[J> abcdef\r\ngh\r\x1b[2C");
    free(s);
    editor_free(&e);
}

/* The input stops at EDITOR_TEXT_MAX: an insert past it is refused and the text stays as it was. */
static void test_cap(void) {
    struct line_editor e;
    editor_init(&e);
    char *big = malloc(EDITOR_TEXT_MAX);
    CHECK(big != NULL);
    if (!big) {
        return;
    }
    memset(big, 'x', EDITOR_TEXT_MAX);
    type(&e, "abc\x1b[D");
    CHECK(!editor_insert(&e, big, EDITOR_TEXT_MAX - 2));
    CHECK_STR(text(&e), "abc");
    CHECK_INT(e.cursor, 2);
    CHECK(editor_insert(&e, big, EDITOR_TEXT_MAX - 3)); /* exactly full */
    CHECK_INT(e.text.len, EDITOR_TEXT_MAX);
    CHECK_INT(e.cursor, EDITOR_TEXT_MAX - 1);
    CHECK(e.text.p[0] == 'a' && e.text.p[1] == 'b' && e.text.p[2] == 'x' && e.text.p[EDITOR_TEXT_MAX - 1] == 'c');
    CHECK(!editor_apply(&e, EDITOR_KEY_TEXT, "y", 1));
    CHECK_INT(e.text.len, EDITOR_TEXT_MAX);
    editor_erase(&e, 0, 1); /* room for one again */
    CHECK(editor_apply(&e, EDITOR_KEY_TEXT, "y", 1));
    CHECK_INT(e.text.len, EDITOR_TEXT_MAX);
    free(big);
    editor_free(&e);
}

int main(void) {
    RUN(test_keys);
    RUN(test_cap);
    RUN(test_editing);
    RUN(test_history);
    RUN(test_draw);
    TESTS_DONE();
}
