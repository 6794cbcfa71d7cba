/*
 * line_editor.c - the multi-line input editor of `llamac chat --live` (line_editor.h).
 *
 * The buffer is edited by byte offsets that always sit on UTF-8 character boundaries; a character counts one
 * column when drawn. History works as in readline: Up on the first line of the input shows the previous message
 * (the text being typed is kept as a draft), Down on the last line goes back towards the draft.
 */
#include "line_editor.h"

#include "llamac.h"

#include <stdlib.h>
#include <string.h>

#define PROMPT "> "
#define PROMPT_COLS 2

/* ---- buffer ---- */

void editor_init(struct line_editor *e) {
    memset(e, 0, sizeof *e);
    llamac__dynbuf_init(&e->text, EDITOR_TEXT_MAX);
}

bool editor_insert(struct line_editor *e, const char *s, size_t n) {
    size_t tail = e->text.len - e->cursor;
    if (n > e->text.max - e->text.len) {
        return false; /* past the cap: the text stays as it was */
    }
    if (!llamac__dynbuf_grow(&e->text, n)) {
        llamac__dynbuf_reset(&e->text); /* out of memory: the text is gone, the editor stays usable */
        e->cursor = 0;
        return false;
    }
    memmove(e->text.p + e->cursor + n, e->text.p + e->cursor, tail);
    memcpy(e->text.p + e->cursor, s, n);
    e->cursor += n;
    return true;
}

void editor_erase(struct line_editor *e, size_t from, size_t to) {
    if (to <= from) {
        return;
    }
    memmove(e->text.p + from, e->text.p + to, e->text.len - to);
    llamac__dynbuf_truncate(&e->text, e->text.len - (to - from));
    if (e->cursor >= to) {
        e->cursor -= to - from;
    } else if (e->cursor > from) {
        e->cursor = from;
    }
}

void editor_clear(struct line_editor *e) {
    llamac__dynbuf_reset(&e->text);
    e->cursor = 0;
}

/* Replaces the whole text, the cursor at its end. */
static bool set_text(struct line_editor *e, const char *s) {
    editor_clear(e);
    return editor_insert(e, s, strlen(s));
}

static bool is_cont(char c) {
    return ((unsigned char)c & 0xC0) == 0x80;
}

size_t editor_prev_char(const struct line_editor *e, size_t at) {
    if (at == 0) {
        return 0;
    }
    at--;
    while (at > 0 && is_cont(e->text.p[at])) {
        at--;
    }
    return at;
}

size_t editor_next_char(const struct line_editor *e, size_t at) {
    if (at >= e->text.len) {
        return e->text.len;
    }
    at++;
    while (at < e->text.len && is_cont(e->text.p[at])) {
        at++;
    }
    return at;
}

size_t editor_line_start(const struct line_editor *e, size_t at) {
    while (at > 0 && e->text.p[at - 1] != '\n') {
        at--;
    }
    return at;
}

size_t editor_line_end(const struct line_editor *e, size_t at) {
    while (at < e->text.len && e->text.p[at] != '\n') {
        at++;
    }
    return at;
}

/* Characters between a and b (a <= b). */
static size_t count_chars(const struct line_editor *e, size_t a, size_t b) {
    size_t n = 0;
    for (size_t i = a; i < b; i = editor_next_char(e, i)) {
        n++;
    }
    return n;
}

static size_t advance_chars(const struct line_editor *e, size_t at, size_t n, size_t limit) {
    while (n-- > 0 && at < limit) {
        at = editor_next_char(e, at);
    }
    return at;
}

/* ---- history ---- */

void editor_history_add(struct line_editor *e, const char *text, size_t len) {
    free(e->draft);
    e->draft = NULL;
    e->browsing = e->n_history;
    if (len == 0 || (e->n_history > 0 && strlen(e->history[e->n_history - 1]) == len &&
                     memcmp(e->history[e->n_history - 1], text, len) == 0)) {
        return;
    }
    char *copy = malloc(len + 1);
    if (!copy) {
        return; /* history is a convenience: without memory, the message is simply not remembered */
    }
    memcpy(copy, text, len);
    copy[len] = '\0';
    if (e->n_history == EDITOR_HISTORY_MAX) {
        free(e->history[0]);
        memmove(e->history, e->history + 1, (EDITOR_HISTORY_MAX - 1) * sizeof e->history[0]);
        e->n_history--;
    }
    e->history[e->n_history++] = copy;
    e->browsing = e->n_history;
}

/* Shows history entry `to` (n_history: the draft), keeping the draft when browsing starts. */
static bool browse(struct line_editor *e, size_t to) {
    if (e->browsing > e->n_history) {
        e->browsing = e->n_history; /* a zeroed editor */
    }
    if (e->browsing == e->n_history && to < e->n_history) {
        free(e->draft);
        e->draft = malloc(e->text.len + 1);
        if (!e->draft) {
            return false;
        }
        memcpy(e->draft, llamac__dynbuf_ptr(&e->text), e->text.len);
        e->draft[e->text.len] = '\0';
    }
    e->browsing = to;
    return set_text(e, to < e->n_history ? e->history[to] : e->draft ? e->draft : "");
}

/* Up/down: the same column on the neighbouring line, or the neighbouring history entry from the first / last line. */
static bool vertical(struct line_editor *e, int dir) {
    size_t ls = editor_line_start(e, e->cursor);
    size_t col = count_chars(e, ls, e->cursor);
    if (e->browsing > e->n_history) {
        e->browsing = e->n_history;
    }
    if (dir < 0) {
        if (ls == 0) {
            return e->browsing > 0 ? browse(e, e->browsing - 1) : true;
        }
        size_t ps = editor_line_start(e, ls - 1);
        e->cursor = advance_chars(e, ps, col, ls - 1);
    } else {
        size_t le = editor_line_end(e, e->cursor);
        if (le >= e->text.len) {
            return e->browsing < e->n_history ? browse(e, e->browsing + 1) : true;
        }
        e->cursor = advance_chars(e, le + 1, col, editor_line_end(e, le + 1));
    }
    return true;
}

/* ---- keys ---- */

enum editor_key editor_parse_key(const unsigned char *in, size_t n, size_t *used) {
    *used = 1;
    unsigned char c = in[0];
    switch (c) {
    case '\r':
    case '\n': return EDITOR_KEY_ENTER;
    case 1: return EDITOR_KEY_HOME;
    case 2: return EDITOR_KEY_LEFT;
    case 3: return EDITOR_KEY_CTRL_C;
    case 4: return EDITOR_KEY_CTRL_D;
    case 5: return EDITOR_KEY_END;
    case 6: return EDITOR_KEY_RIGHT;
    case 8:
    case 127: return EDITOR_KEY_BACKSPACE;
    case 11: return EDITOR_KEY_CTRL_K;
    case 12: return EDITOR_KEY_CTRL_L;
    case 14: return EDITOR_KEY_DOWN;
    case 16: return EDITOR_KEY_UP;
    case 21: return EDITOR_KEY_CTRL_U;
    case 23: return EDITOR_KEY_CTRL_W;
    default: break;
    }
    if (c == 27) {
        if (n < 2) {
            return EDITOR_KEY_INCOMPLETE;
        }
        if (in[1] == '\r' || in[1] == '\n') {
            *used = 2;
            return EDITOR_KEY_NEWLINE; /* Alt+Enter */
        }
        if (in[1] != '[' && in[1] != 'O') {
            *used = 2;
            return EDITOR_KEY_NONE; /* another Alt+key */
        }
        if (n < 3) {
            return EDITOR_KEY_INCOMPLETE;
        }
        size_t i = 2;
        while (i < n && ((in[i] >= '0' && in[i] <= '9') || in[i] == ';')) {
            i++;
        }
        if (i >= n) {
            return EDITOR_KEY_INCOMPLETE;
        }
        *used = i + 1;
        int num = in[2] >= '0' && in[2] <= '9' ? atoi((const char *)in + 2) : 0;
        switch (in[i]) {
        case 'A': return EDITOR_KEY_UP;
        case 'B': return EDITOR_KEY_DOWN;
        case 'C': return EDITOR_KEY_RIGHT;
        case 'D': return EDITOR_KEY_LEFT;
        case 'H': return EDITOR_KEY_HOME;
        case 'F': return EDITOR_KEY_END;
        case '~':
            return num == 1 || num == 7   ? EDITOR_KEY_HOME
                   : num == 4 || num == 8 ? EDITOR_KEY_END
                   : num == 3             ? EDITOR_KEY_DELETE
                                          : EDITOR_KEY_NONE;
        default: return EDITOR_KEY_NONE;
        }
    }
    if (c < 32) {
        return EDITOR_KEY_NONE;
    }
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0) {
        return EDITOR_KEY_NONE;
    }
    if (n < need) {
        return EDITOR_KEY_INCOMPLETE;
    }
    *used = need;
    return llamac_utf8_valid((const char *)in, need, NULL) ? EDITOR_KEY_TEXT : EDITOR_KEY_NONE;
}

bool editor_apply(struct line_editor *e, enum editor_key k, const char *bytes, size_t n) {
    switch (k) {
    case EDITOR_KEY_TEXT: return editor_insert(e, bytes, n);
    case EDITOR_KEY_NEWLINE: return editor_insert(e, "\n", 1);
    case EDITOR_KEY_LEFT: e->cursor = editor_prev_char(e, e->cursor); break;
    case EDITOR_KEY_RIGHT: e->cursor = editor_next_char(e, e->cursor); break;
    case EDITOR_KEY_UP: return vertical(e, -1);
    case EDITOR_KEY_DOWN: return vertical(e, 1);
    case EDITOR_KEY_HOME: e->cursor = editor_line_start(e, e->cursor); break;
    case EDITOR_KEY_END: e->cursor = editor_line_end(e, e->cursor); break;
    case EDITOR_KEY_BACKSPACE: editor_erase(e, editor_prev_char(e, e->cursor), e->cursor); break;
    case EDITOR_KEY_DELETE: editor_erase(e, e->cursor, editor_next_char(e, e->cursor)); break;
    case EDITOR_KEY_CTRL_U: editor_erase(e, editor_line_start(e, e->cursor), e->cursor); break;
    case EDITOR_KEY_CTRL_K: editor_erase(e, e->cursor, editor_line_end(e, e->cursor)); break;
    case EDITOR_KEY_CTRL_W: {
        size_t s = e->cursor;
        while (s > 0 && (e->text.p[s - 1] == ' ' || e->text.p[s - 1] == '\t')) {
            s--;
        }
        while (s > 0 && e->text.p[s - 1] != ' ' && e->text.p[s - 1] != '\t' && e->text.p[s - 1] != '\n') {
            s--;
        }
        editor_erase(e, s, e->cursor);
        break;
    }
    default: break;
    }
    return true;
}

/* ---- drawing ---- */

void editor_draw(struct line_editor *e, FILE *out, int width) {
    char seq[32];
    if (e->drawn_row > 0) {
        snprintf(seq, sizeof seq, "\x1b[%dA", e->drawn_row);
        fputs(seq, out);
    }
    fputs("\r\x1b[J" PROMPT, out);
    int row = 0, col = PROMPT_COLS, cur_row = 0, cur_col = PROMPT_COLS;
    for (size_t i = 0; i <= e->text.len;) {
        if (i == e->cursor) {
            cur_row = row;
            cur_col = col;
        }
        if (i == e->text.len) {
            break;
        }
        size_t j = editor_next_char(e, i);
        if (e->text.p[i] == '\n') {
            fputs("\r\n"
                  "  ",
                  out);
            row++;
            col = PROMPT_COLS;
        } else {
            if (col >= width) {
                fputs("\r\n", out);
                row++;
                col = 0;
            }
            fwrite(e->text.p + i, 1, j - i, out);
            col++;
        }
        i = j;
    }
    if (cur_col >= width) {
        cur_row++;
        cur_col = 0;
    }
    if (col >= width) {
        fputs("\r\n", out); /* leave the pending wrap: the cursor is on the next row */
        row++;
    }
    if (row > cur_row) {
        snprintf(seq, sizeof seq, "\x1b[%dA", row - cur_row);
        fputs(seq, out);
    }
    fputs("\r", out);
    if (cur_col > 0) {
        snprintf(seq, sizeof seq, "\x1b[%dC", cur_col);
        fputs(seq, out);
    }
    e->drawn_row = cur_row;
    fflush(out);
}

void editor_leave(struct line_editor *e, FILE *out, int width) {
    size_t save = e->cursor;
    e->cursor = e->text.len;
    editor_draw(e, out, width);
    e->cursor = save;
    fputs("\r\n", out);
    e->drawn_row = 0;
    fflush(out);
}

void editor_free(struct line_editor *e) {
    llamac__dynbuf_free(&e->text);
    free(e->draft);
    for (size_t i = 0; i < e->n_history; i++) {
        free(e->history[i]);
    }
    memset(e, 0, sizeof *e);
}
