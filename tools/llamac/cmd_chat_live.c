/*
 * cmd_chat_live.c - `llamac chat --live`: a chat whose model reads the message while it is being typed.
 *
 * A small raw-mode line editor (termios and ANSI escapes, no curses) drives an incremental prefill
 * (llamac_prefill): the loop waits for keys with poll(), and whenever the input is idle it either hands the
 * edited text to the prefill (after --debounce-ms without keys) or decodes one small step, so a keystroke never
 * waits for more than one step. Enter adds the message and generation starts from what is already decoded. The
 * terminal's settings are restored on every exit: normal return, atexit, and the fatal signals (the handler
 * restores them with tcsetattr, which is async-signal-safe, then re-raises the signal).
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

/* ---- the terminal ---- */

static struct termios saved_termios;
static volatile sig_atomic_t raw_on;
static llamac_context *volatile live_ctx;
static volatile sig_atomic_t live_generating;

static void term_restore(void) {
    if (raw_on) {
        tcsetattr(STDIN_FILENO, TCSAFLUSH, &saved_termios);
        raw_on = 0;
    }
}

static void on_fatal(int sig) {
    if (sig == SIGINT && live_generating && live_ctx) {
        llamac_ctx_cancel(live_ctx); /* a SIGINT sent from outside during an answer stops the answer */
        return;
    }
    term_restore();
    signal(sig, SIG_DFL);
    raise(sig);
}

static bool term_raw(void) {
    if (tcgetattr(STDIN_FILENO, &saved_termios) != 0) {
        return false;
    }
    struct termios t = saved_termios;
    t.c_iflag &= (tcflag_t) ~(BRKINT | ICRNL | INPCK | ISTRIP | IXON);
    t.c_cflag |= CS8;
    t.c_lflag &= (tcflag_t) ~(ECHO | ICANON | IEXTEN | ISIG); /* Ctrl-C arrives as a byte */
    t.c_cc[VMIN] = 1;
    t.c_cc[VTIME] = 0;
    if (tcsetattr(STDIN_FILENO, TCSAFLUSH, &t) != 0) {
        return false;
    }
    raw_on = 1;
    static const int sigs[] = { SIGINT, SIGTERM, SIGHUP, SIGQUIT, SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_fatal;
    sigemptyset(&sa.sa_mask);
    for (size_t i = 0; i < sizeof sigs / sizeof sigs[0]; i++) {
        sigaction(sigs[i], &sa, NULL);
    }
    atexit(term_restore);
    return true;
}

static int term_width(void) {
    struct winsize ws;
    if (ioctl(STDOUT_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 4) {
        return ws.ws_col;
    }
    return 80;
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1000.0 + (double)ts.tv_nsec / 1e6;
}

/* ---- the line editor ---- */

#define PROMPT "> "
#define PROMPT_COLS 2

struct editor {
    char *buf;
    size_t len;
    size_t cap;
    size_t cursor;    /* byte offset, always at a character boundary */
    int drawn_row;    /* the row of the terminal cursor within the drawn input, after the last draw */
    bool dirty;       /* edited since the prefill last saw the text */
    double last_edit; /* ms */
};

static bool ed_insert(struct editor *e, const char *s, size_t n) {
    if (e->len + n + 1 > e->cap) {
        size_t cap = e->cap ? e->cap * 2 : 256;
        while (cap < e->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(e->buf, cap);
        if (!p) {
            return false;
        }
        e->buf = p;
        e->cap = cap;
    }
    memmove(e->buf + e->cursor + n, e->buf + e->cursor, e->len - e->cursor);
    memcpy(e->buf + e->cursor, s, n);
    e->len += n;
    e->cursor += n;
    e->buf[e->len] = '\0';
    return true;
}

static void ed_erase(struct editor *e, size_t from, size_t to) {
    if (to <= from) {
        return;
    }
    memmove(e->buf + from, e->buf + to, e->len - to);
    e->len -= to - from;
    if (e->cursor >= to) {
        e->cursor -= to - from;
    } else if (e->cursor > from) {
        e->cursor = from;
    }
    if (e->buf) {
        e->buf[e->len] = '\0';
    }
}

static bool is_cont(char c) {
    return ((unsigned char)c & 0xC0) == 0x80;
}

static size_t prev_char(const struct editor *e, size_t at) {
    if (at == 0) {
        return 0;
    }
    at--;
    while (at > 0 && is_cont(e->buf[at])) {
        at--;
    }
    return at;
}

static size_t next_char(const struct editor *e, size_t at) {
    if (at >= e->len) {
        return e->len;
    }
    at++;
    while (at < e->len && is_cont(e->buf[at])) {
        at++;
    }
    return at;
}

static size_t line_start(const struct editor *e, size_t at) {
    while (at > 0 && e->buf[at - 1] != '\n') {
        at--;
    }
    return at;
}

static size_t line_end(const struct editor *e, size_t at) {
    while (at < e->len && e->buf[at] != '\n') {
        at++;
    }
    return at;
}

/* Characters between a and b (a <= b). */
static size_t count_chars(const struct editor *e, size_t a, size_t b) {
    size_t n = 0;
    for (size_t i = a; i < b; i = next_char(e, i)) {
        n++;
    }
    return n;
}

static size_t advance_chars(const struct editor *e, size_t at, size_t n, size_t limit) {
    while (n-- > 0 && at < limit) {
        at = next_char(e, at);
    }
    return at;
}

/* Up/down: the same column on the neighbouring line. */
static void ed_vertical(struct editor *e, int dir) {
    size_t ls = line_start(e, e->cursor);
    size_t col = count_chars(e, ls, e->cursor);
    if (dir < 0) {
        if (ls == 0) {
            return;
        }
        size_t ps = line_start(e, ls - 1);
        e->cursor = advance_chars(e, ps, col, ls - 1);
    } else {
        size_t le = line_end(e, e->cursor);
        if (le >= e->len) {
            return;
        }
        e->cursor = advance_chars(e, le + 1, col, line_end(e, le + 1));
    }
}

/* Redraws the input: from the start of what was drawn before, the prompt and the text (continuation lines
 * indented), then puts the cursor where it belongs. Characters are taken as one column wide. */
static void ed_draw(struct editor *e) {
    int width = term_width();
    char seq[32];
    if (e->drawn_row > 0) {
        snprintf(seq, sizeof seq, "\x1b[%dA", e->drawn_row);
        fputs(seq, stdout);
    }
    fputs("\r\x1b[J" PROMPT, stdout);
    int row = 0, col = PROMPT_COLS, cur_row = 0, cur_col = PROMPT_COLS;
    for (size_t i = 0; i <= e->len;) {
        if (i == e->cursor) {
            cur_row = row;
            cur_col = col;
        }
        if (i == e->len) {
            break;
        }
        size_t j = next_char(e, i);
        if (e->buf[i] == '\n') {
            fputs("\r\n"
                  "  ",
                  stdout);
            row++;
            col = PROMPT_COLS;
        } else {
            if (col >= width) {
                fputs("\r\n", stdout);
                row++;
                col = 0;
            }
            fwrite(e->buf + i, 1, j - i, stdout);
            col++;
        }
        i = j;
    }
    if (cur_col >= width) {
        cur_row++;
        cur_col = 0;
    }
    if (col >= width) {
        fputs("\r\n", stdout); /* leave the pending wrap: the cursor is on the next row */
        row++;
    }
    if (row > cur_row) {
        snprintf(seq, sizeof seq, "\x1b[%dA", row - cur_row);
        fputs(seq, stdout);
    }
    fputs("\r", stdout);
    if (cur_col > 0) {
        snprintf(seq, sizeof seq, "\x1b[%dC", cur_col);
        fputs(seq, stdout);
    }
    e->drawn_row = cur_row;
    fflush(stdout);
}

/* Moves the terminal cursor below the drawn input, for output that follows it. */
static void ed_leave(struct editor *e) {
    size_t save = e->cursor;
    e->cursor = e->len;
    ed_draw(e);
    e->cursor = save;
    fputs("\r\n", stdout);
    e->drawn_row = 0;
    fflush(stdout);
}

/* ---- keys ---- */

enum key {
    KEY_NONE,
    KEY_TEXT,
    KEY_ENTER,
    KEY_NEWLINE,
    KEY_LEFT,
    KEY_RIGHT,
    KEY_UP,
    KEY_DOWN,
    KEY_HOME,
    KEY_END,
    KEY_BACKSPACE,
    KEY_DELETE,
    KEY_CTRL_C,
    KEY_CTRL_D,
    KEY_CTRL_W,
    KEY_CTRL_U,
    KEY_CTRL_K,
    KEY_CTRL_L,
    KEY_INCOMPLETE
};

/* Decodes one key from in[0..n); *used is the bytes it took. KEY_INCOMPLETE: more bytes are needed. */
static enum key parse_key(const unsigned char *in, size_t n, size_t *used) {
    *used = 1;
    unsigned char c = in[0];
    switch (c) {
    case '\r':
    case '\n': return KEY_ENTER;
    case 1: return KEY_HOME;
    case 2: return KEY_LEFT;
    case 3: return KEY_CTRL_C;
    case 4: return KEY_CTRL_D;
    case 5: return KEY_END;
    case 6: return KEY_RIGHT;
    case 8:
    case 127: return KEY_BACKSPACE;
    case 11: return KEY_CTRL_K;
    case 12: return KEY_CTRL_L;
    case 14: return KEY_DOWN;
    case 16: return KEY_UP;
    case 21: return KEY_CTRL_U;
    case 23: return KEY_CTRL_W;
    default: break;
    }
    if (c == 27) {
        if (n < 2) {
            return KEY_INCOMPLETE;
        }
        if (in[1] == '\r' || in[1] == '\n') {
            *used = 2;
            return KEY_NEWLINE; /* Alt+Enter */
        }
        if (in[1] != '[' && in[1] != 'O') {
            *used = 2;
            return KEY_NONE; /* another Alt+key */
        }
        if (n < 3) {
            return KEY_INCOMPLETE;
        }
        size_t i = 2;
        while (i < n && ((in[i] >= '0' && in[i] <= '9') || in[i] == ';')) {
            i++;
        }
        if (i >= n) {
            return KEY_INCOMPLETE;
        }
        *used = i + 1;
        int num = in[2] >= '0' && in[2] <= '9' ? atoi((const char *)in + 2) : 0;
        switch (in[i]) {
        case 'A': return KEY_UP;
        case 'B': return KEY_DOWN;
        case 'C': return KEY_RIGHT;
        case 'D': return KEY_LEFT;
        case 'H': return KEY_HOME;
        case 'F': return KEY_END;
        case '~':
            return num == 1 || num == 7 ? KEY_HOME : num == 4 || num == 8 ? KEY_END : num == 3 ? KEY_DELETE : KEY_NONE;
        default: return KEY_NONE;
        }
    }
    if (c < 32) {
        return KEY_NONE;
    }
    size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 0;
    if (need == 0) {
        return KEY_NONE;
    }
    if (n < need) {
        return KEY_INCOMPLETE;
    }
    *used = need;
    return llamac_utf8_valid((const char *)in, need, NULL) ? KEY_TEXT : KEY_NONE;
}

/* ---- the session ---- */

struct live_opts {
    struct cli_chat chat;
    const char *session_cache;
    long debounce_ms;
    long margin;
    long step_tokens;
    bool no_prefill;
    bool no_speculate;
};

struct live {
    struct cli_common *c;
    struct live_opts *o;
    llamac_context *ctx;
    llamac_chat *chat;
    llamac_prefill *pf;
    struct editor ed;
    unsigned char in[256]; /* keys read and not handled yet */
    size_t n_in;
    int ctrl_c; /* Ctrl-C presses in a row while typing */
    bool quit;
    /* during an answer */
    double t_enter;
    double t_first;
    bool cancelled;
};

/* Reads what stdin has, waiting at most timeout_ms (-1: forever). Returns false at the end of input. */
static bool read_input(struct live *lv, int timeout_ms) {
    struct pollfd p = { STDIN_FILENO, POLLIN, 0 };
    int r = poll(&p, 1, timeout_ms);
    if (r <= 0) {
        return true;
    }
    if (lv->n_in >= sizeof lv->in) {
        return true;
    }
    ssize_t n = read(STDIN_FILENO, lv->in + lv->n_in, sizeof lv->in - lv->n_in);
    if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
        return false;
    }
    if (n > 0) {
        lv->n_in += (size_t)n;
    }
    return true;
}

static bool on_answer_text(const char *text, size_t len, void *user_data) {
    struct live *lv = user_data;
    if (lv->t_first == 0) {
        lv->t_first = now_ms();
    }
    for (size_t i = 0; i < len; i++) {
        if (text[i] == '\n') {
            fputc('\r', stdout); /* raw mode: no CR added on output either (OPOST stays, but be explicit) */
        }
        fputc(text[i], stdout);
    }
    fflush(stdout);
    /* Ctrl-C while answering: stop. Other keys typed meanwhile stay queued for the editor. */
    if (read_input(lv, 0)) {
        for (size_t i = 0; i < lv->n_in; i++) {
            if (lv->in[i] == 3) {
                lv->cancelled = true;
                memmove(lv->in + i, lv->in + i + 1, lv->n_in - i - 1);
                lv->n_in--;
                return false;
            }
        }
    }
    return !lv->cancelled;
}

static void answer(struct live *lv) {
    struct editor *e = &lv->ed;
    ed_leave(e);
    lv->t_enter = now_ms();
    lv->t_first = 0;
    lv->cancelled = false;
    llamac_status st = lv->pf ? llamac_prefill_flush(lv->pf, e->buf ? e->buf : "", e->len)
                              : llamac_chat_add(lv->chat, "user", e->buf ? e->buf : "", e->len);
    if (st != LLAMAC_OK) {
        fprintf(stdout, "[error: %s]\r\n", llamac_last_error());
        return;
    }
    llamac_chat_result r;
    live_ctx = lv->ctx;
    live_generating = 1;
    st = llamac_chat_generate(lv->chat, on_answer_text, lv, &r);
    live_generating = 0;
    live_ctx = NULL;
    fputs("\r\n", stdout);
    if (st != LLAMAC_OK) {
        fprintf(stdout, "[error: %s]\r\n", llamac_last_error());
    } else {
        if (lv->cancelled || r.gen.finish_reason == LLAMAC_FINISH_CANCELLED) {
            fputs("[stopped]\r\n", stdout);
        }
        double ttft = lv->t_first > 0 ? lv->t_first - lv->t_enter : 0;
        llamac_prefill_stats ps;
        llamac_prefill_get_stats(lv->pf, &ps, false);
        fprintf(stdout,
                "\x1b[2m[first token %.0f ms after Enter | %.1f tokens/s | %d tokens | prompt: %d decoded at "
                "Enter, %d ready | prefill wasted %lld]\x1b[0m\r\n",
                ttft, r.gen.tokens_per_s, r.gen.n_generated_tokens, r.n_decoded_tokens, r.n_reused_tokens,
                (long long)ps.n_invalidated);
    }
    fflush(stdout);
    e->len = e->cursor = 0;
    if (e->buf) {
        e->buf[0] = '\0';
    }
    e->dirty = true;
    e->last_edit = 0;
}

/* Handles the keys read so far. */
static void handle_keys(struct live *lv) {
    struct editor *e = &lv->ed;
    size_t at = 0;
    while (at < lv->n_in && !lv->quit) {
        size_t used = 1;
        enum key k = parse_key(lv->in + at, lv->n_in - at, &used);
        if (k == KEY_INCOMPLETE) {
            break;
        }
        const char *bytes = (const char *)lv->in + at;
        at += used;
        if (k != KEY_CTRL_C) {
            lv->ctrl_c = 0;
        }
        size_t old_len = e->len;
        switch (k) {
        case KEY_TEXT: ed_insert(e, bytes, used); break;
        case KEY_NEWLINE: ed_insert(e, "\n", 1); break;
        case KEY_LEFT: e->cursor = prev_char(e, e->cursor); break;
        case KEY_RIGHT: e->cursor = next_char(e, e->cursor); break;
        case KEY_UP: ed_vertical(e, -1); break;
        case KEY_DOWN: ed_vertical(e, 1); break;
        case KEY_HOME: e->cursor = line_start(e, e->cursor); break;
        case KEY_END: e->cursor = line_end(e, e->cursor); break;
        case KEY_BACKSPACE: ed_erase(e, prev_char(e, e->cursor), e->cursor); break;
        case KEY_DELETE: ed_erase(e, e->cursor, next_char(e, e->cursor)); break;
        case KEY_CTRL_U: ed_erase(e, line_start(e, e->cursor), e->cursor); break;
        case KEY_CTRL_K: ed_erase(e, e->cursor, line_end(e, e->cursor)); break;
        case KEY_CTRL_W: {
            size_t s = e->cursor;
            while (s > 0 && (e->buf[s - 1] == ' ' || e->buf[s - 1] == '\t')) {
                s--;
            }
            while (s > 0 && e->buf[s - 1] != ' ' && e->buf[s - 1] != '\t' && e->buf[s - 1] != '\n') {
                s--;
            }
            ed_erase(e, s, e->cursor);
            break;
        }
        case KEY_CTRL_L:
            fputs("\x1b[H\x1b[2J", stdout);
            e->drawn_row = 0;
            break;
        case KEY_CTRL_C:
            if (++lv->ctrl_c >= 2) {
                lv->quit = true;
                break;
            }
            ed_leave(e);
            fputs("[Ctrl-C again to quit]\r\n", stdout);
            e->len = e->cursor = 0;
            e->dirty = true;
            break;
        case KEY_CTRL_D:
            if (e->len == 0) {
                lv->quit = true;
            } else {
                ed_erase(e, e->cursor, next_char(e, e->cursor));
            }
            break;
        case KEY_ENTER:
            if (e->len > 0) {
                /* keys typed ahead of the answer stay for the next message */
                memmove(lv->in, lv->in + at, lv->n_in - at);
                lv->n_in -= at;
                at = 0;
                answer(lv);
            }
            break;
        default: break;
        }
        if (e->len != old_len || k == KEY_TEXT || k == KEY_CTRL_W) {
            e->dirty = true;
            e->last_edit = now_ms();
        }
    }
    memmove(lv->in, lv->in + at, lv->n_in - at);
    lv->n_in -= at;
    if (!lv->quit) {
        ed_draw(e);
    }
}

static int live_loop(struct live *lv) {
    struct editor *e = &lv->ed;
    ed_draw(e);
    double incomplete_since = 0;
    while (!lv->quit) {
        double now = now_ms();
        int timeout = -1;
        bool want_update = lv->pf && e->dirty;
        if (want_update) {
            double wait = e->last_edit + (double)lv->o->debounce_ms - now;
            timeout = wait > 0 ? (int)wait + 1 : 0;
        } else if (lv->pf && llamac_prefill_pending(lv->pf) > 0) {
            timeout = 0;
        }
        if (lv->n_in > 0) {
            timeout = 30; /* an unfinished escape sequence: a lone ESC if nothing follows */
        }
        size_t before = lv->n_in;
        if (!read_input(lv, timeout)) {
            break;
        }
        if (lv->n_in > before) {
            incomplete_since = 0;
            handle_keys(lv);
            continue;
        }
        if (lv->n_in > 0) {
            if (incomplete_since == 0) {
                incomplete_since = now_ms();
            } else if (now_ms() - incomplete_since > 25) {
                lv->n_in = 0; /* drop the lone ESC */
                incomplete_since = 0;
            }
            continue;
        }
        /* Idle: feed the prefill, or decode one step. */
        if (want_update && now_ms() - e->last_edit >= (double)lv->o->debounce_ms) {
            if (llamac_prefill_update(lv->pf, e->buf ? e->buf : "", e->len) != LLAMAC_OK) {
                llamac_prefill_cancel(lv->pf); /* e.g. text the template refuses: wait for Enter to report it */
            }
            e->dirty = false;
        } else if (lv->pf && llamac_prefill_pending(lv->pf) > 0) {
            if (llamac_prefill_step(lv->pf, NULL) != LLAMAC_OK) {
                llamac_prefill_cancel(lv->pf);
            }
        }
    }
    ed_leave(e);
    return lv->ctrl_c >= 2 ? EXIT_INTERRUPTED : EXIT_OK;
}

static void usage(void) {
    printf("usage: llamac chat --live -m MODEL [options]\n\n"
           "Chat in a terminal while the model reads the message as it is typed (incremental prefill), so the\n"
           "answer starts right after Enter. Keys: arrows, Home/End, Backspace/Delete anywhere, Alt+Enter for a\n"
           "new line, Ctrl-W / Ctrl-U / Ctrl-K delete a word / to the line's start / to its end, Ctrl-L redraws,\n"
           "Ctrl-C stops an answer (twice while typing: quit), Ctrl-D on an empty line quits.\n\n"
           "Options:\n"
           "  --system-prompt TEXT      the system prompt (also --system)\n"
           "  --chat-template-file F    use this Jinja chat template instead of the model's\n"
           "  --session-cache FILE      keep the system prompt's KV state in FILE: loaded at start when it\n"
           "                            matches, written after decoding it otherwise\n"
           "  --keep-turns N            turns kept when the context fills up (default: 2)\n"
           "  --debounce-ms N           wait N ms without keys before reading the text (default: 50)\n"
           "  --prefill-margin N        tokens withheld before the end of the text (default: 2)\n"
           "  --prefill-step N          most tokens decoded between two key checks (default: 16)\n"
           "  --no-prefill              decode only at Enter (for comparison)\n"
           "  --no-speculate            in pauses, do not decode the end of the prompt ahead (saves idle compute)\n"
           "  --kv-type T               K and V cache type (f16, q8_0, q4_0, ...; as -ctk and -ctv together)\n"
           "  --rotation on|off         rotation of a quantized KV cache (as --attn-rot)\n"
           "  -n, --n-predict N         most tokens per answer (default: 1024)\n"
           "Sampling flags are those of `llamac chat`.\n\n");
    cli_print_common_help();
}

/* --session-cache: load the system prompt's state, or decode it and save it. */
static void session_cache(struct live *lv) {
    const char *path = lv->o->session_cache;
    struct stat sb;
    if (stat(path, &sb) == 0) {
        if (llamac_chat_load(lv->chat, path) == LLAMAC_OK) {
            llamac_chat_clear(lv->chat); /* only the system prompt's state is wanted */
            const char *sys = lv->o->chat.system;
            if (llamac_chat_set_system(lv->chat, sys, sys ? strlen(sys) : 0) == LLAMAC_OK) {
                if (!lv->c->quiet) {
                    fprintf(stderr, "[session cache %s loaded]\n", path);
                }
                return;
            }
        }
        fprintf(stderr, "[session cache %s not used: %s]\n", path, llamac_last_error());
    }
    if (!lv->pf) {
        return;
    }
    size_t left = 1;
    llamac_status st = llamac_prefill_update(lv->pf, "", 0);
    while (st == LLAMAC_OK && left > 0) {
        st = llamac_prefill_step(lv->pf, &left);
    }
    if (st != LLAMAC_OK || llamac_chat_save(lv->chat, path) != LLAMAC_OK) {
        fprintf(stderr, "[session cache %s not written: %s]\n", path, llamac_last_error());
    } else if (!lv->c->quiet) {
        fprintf(stderr, "[session cache %s written]\n", path);
    }
}

int cmd_chat_live(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "chat --live");
    struct live_opts o;
    memset(&o, 0, sizeof o);
    o.chat.keep_turns = 2;
    o.debounce_ms = 50;
    o.margin = 2;
    o.step_tokens = 16;
    llamac_chat_params cp = llamac_chat_params_default();
    cp.generate.max_tokens = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "--live") == 0) {
            continue;
        }
        enum cli_parse r = cli_parse_common(&c, argc, argv, &i);
        if (r == CLI_NOT_MINE) {
            r = cli_parse_sampling(&c, &cp.generate.sampling, argc, argv, &i);
        }
        if (r == CLI_NOT_MINE) {
            r = cli_parse_chat(&c, &o.chat, &cp, argc, argv, &i);
        }
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        const char *v = NULL;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (strcmp(a, "--session-cache") == 0) {
            if (!(o.session_cache = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--debounce-ms") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, 0, 10000, &o.debounce_ms)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--prefill-margin") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, 0, 64, &o.margin)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--prefill-step") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, 1, 512, &o.step_tokens)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--no-prefill") == 0) {
            o.no_prefill = true;
        } else if (strcmp(a, "--no-speculate") == 0) {
            o.no_speculate = true;
        } else if (strcmp(a, "--kv-type") == 0) {
            llamac_kv_type t;
            if (!(v = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
            if (llamac_kv_type_from_name(v, &t) != LLAMAC_OK) {
                cli_error(&c, "%s: %s", a, llamac_last_error());
                return EXIT_USAGE;
            }
            c.ctx.type_k = c.ctx.type_v = t;
        } else if (strcmp(a, "--rotation") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
            if (strcmp(v, "on") == 0) {
                c.ctx.attn_rotation = LLAMAC_ATTN_ROT_ON;
            } else if (strcmp(v, "off") == 0) {
                c.ctx.attn_rotation = LLAMAC_ATTN_ROT_OFF;
            } else {
                cli_error(&c, "invalid value '%s' for %s (expected on or off)", v, a);
                return EXIT_USAGE;
            }
        } else {
            cli_error(&c, "unknown option '%s' (see llamac chat --live --help)", a);
            return EXIT_USAGE;
        }
    }
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_error(&c, "--live needs a terminal on standard input and output (use `llamac chat` for pipes)");
        return EXIT_USAGE;
    }
    cli_setup_logging(&c);
    int rc = EXIT_FAILURE_RUN;
    llamac_model *model = NULL;
    struct live lv;
    memset(&lv, 0, sizeof lv);
    lv.c = &c;
    lv.o = &o;
    if (!cli_chat_apply(&c, &o.chat, &cp)) {
        goto done;
    }
    model = cli_load_model(&c, false);
    if (!model) {
        goto done;
    }
    llamac_prefill_params pp = llamac_prefill_params_default();
    pp.margin = (int32_t)o.margin;
    pp.step_tokens = (int32_t)o.step_tokens;
    pp.speculate = !o.no_speculate;
    if (llamac_ctx_new(model, &c.ctx, &lv.ctx) != LLAMAC_OK || llamac_chat_new(lv.ctx, &cp, &lv.chat) != LLAMAC_OK ||
        (!o.no_prefill && llamac_prefill_new(lv.chat, &pp, &lv.pf) != LLAMAC_OK)) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    if (o.session_cache) {
        session_cache(&lv);
    }
    if (!term_raw()) {
        cli_error(&c, "cannot put the terminal in raw mode: %s", strerror(errno));
        goto done;
    }
    fputs("llamac chat --live: Enter sends, Alt+Enter adds a line, Ctrl-C twice or Ctrl-D quits.\r\n", stdout);
    lv.ed.dirty = lv.pf != NULL;
    rc = live_loop(&lv);
    term_restore();
done:
    free(lv.ed.buf);
    llamac_prefill_free(lv.pf);
    llamac_chat_free(lv.chat);
    llamac_ctx_free(lv.ctx);
    llamac_model_free(model);
    free(o.chat.template_source);
    return rc;
}
