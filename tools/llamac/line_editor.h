/*
 * line_editor.h - the multi-line input editor of `llamac chat --live`: keys in, a UTF-8 buffer and its drawing out.
 *
 * A raw-mode terminal delivers bytes; editor_parse_key turns them into keys (escape sequences, Alt+Enter, whole
 * UTF-8 characters), editor_apply edits the buffer (the cursor always sits on a character boundary) and recalls
 * history with Up and Down, and editor_draw redraws the input in place with ANSI escapes, wrapping at the terminal's
 * width. Nothing here reads the terminal or decodes a model, so every part is tested on its own
 * (tests/unit/test_line_editor.c).
 */
#ifndef LLAMAC_LINE_EDITOR_H
#define LLAMAC_LINE_EDITOR_H

#include "dynbuf.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

enum editor_key {
    EDITOR_KEY_NONE,
    EDITOR_KEY_TEXT, /* one whole UTF-8 character */
    EDITOR_KEY_ENTER,
    EDITOR_KEY_NEWLINE, /* Alt+Enter */
    EDITOR_KEY_LEFT,
    EDITOR_KEY_RIGHT,
    EDITOR_KEY_UP,
    EDITOR_KEY_DOWN,
    EDITOR_KEY_HOME,
    EDITOR_KEY_END,
    EDITOR_KEY_BACKSPACE,
    EDITOR_KEY_DELETE,
    EDITOR_KEY_CTRL_C,
    EDITOR_KEY_CTRL_D,
    EDITOR_KEY_CTRL_W,
    EDITOR_KEY_CTRL_U,
    EDITOR_KEY_CTRL_K,
    EDITOR_KEY_CTRL_L,
    EDITOR_KEY_INCOMPLETE /* more bytes are needed to tell */
};

#define EDITOR_HISTORY_MAX 100

/* The longest input the editor holds (an insert past it is refused). */
#define EDITOR_TEXT_MAX ((size_t)16 << 20)

/* Ready after editor_init; read the text as text.p (NULL while empty: llamac__dynbuf_ptr gives "") and text.len. */
struct line_editor {
    llamac__dynbuf text;               /* the input, NUL-terminated */
    size_t cursor;                     /* byte offset, always at a character boundary */
    int drawn_row;                     /* the row of the terminal cursor within the drawn input, after the last draw */
    char *history[EDITOR_HISTORY_MAX]; /* sent messages, oldest first */
    size_t n_history;
    size_t browsing; /* index into history while Up/Down browse it; n_history: the draft being typed */
    char *draft;     /* the text typed before browsing started */
};

/* Prepares an empty editor with no history. */
void editor_init(struct line_editor *e);

/* Decodes one key from in[0..n); *used receives the bytes it took. */
enum editor_key editor_parse_key(const unsigned char *in, size_t n, size_t *used);

/* Applies an editing key (text, newline, cursor moves, deletions, Up/Down with history); `bytes`/`n` are the key's
 * bytes for EDITOR_KEY_TEXT. Enter, Ctrl-C, Ctrl-D and Ctrl-L are the caller's: they change nothing here. Returns
 * false only when an insert failed (see editor_insert). */
bool editor_apply(struct line_editor *e, enum editor_key k, const char *bytes, size_t n);

/* Inserts text at the cursor. False when the text would pass EDITOR_TEXT_MAX (nothing changes) or memory ran out
 * (the text is emptied). */
bool editor_insert(struct line_editor *e, const char *s, size_t n);

/* Removes bytes [from, to) (character boundaries), keeping the cursor on the same text. */
void editor_erase(struct line_editor *e, size_t from, size_t to);

/* Empties the buffer (history stays). */
void editor_clear(struct line_editor *e);

/* Adds a sent message to the history (an empty one or a repeat of the last is not added) and stops browsing. */
void editor_history_add(struct line_editor *e, const char *text, size_t len);

/* Character navigation on the buffer. */
size_t editor_prev_char(const struct line_editor *e, size_t at);
size_t editor_next_char(const struct line_editor *e, size_t at);
size_t editor_line_start(const struct line_editor *e, size_t at);
size_t editor_line_end(const struct line_editor *e, size_t at);

/* Redraws the input on `out`, `width` columns wide: from the start of what was drawn before, the prompt "> " and
 * the text (continuation lines indented), then puts the cursor where it belongs. Characters count one column. */
void editor_draw(struct line_editor *e, FILE *out, int width);

/* Moves the terminal cursor below the drawn input, for output that follows it. */
void editor_leave(struct line_editor *e, FILE *out, int width);

/* Frees the buffer and history; editor_init makes it usable again. */
void editor_free(struct line_editor *e);

#endif /* LLAMAC_LINE_EDITOR_H */
