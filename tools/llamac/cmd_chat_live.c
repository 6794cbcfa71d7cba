/*
 * cmd_chat_live.c - `llamac chat --live`: a chat whose model reads the message while it is being typed.
 *
 * A small raw-mode line editor (line_editor.c: ANSI escapes, no curses) drives an incremental prefill
 * (llamac_prefill): the loop waits for keys with poll(), and whenever the input is idle it either hands the
 * edited text to the prefill (after --debounce-ms without keys) or decodes one small step, so a keystroke never
 * waits for more than one step. Enter adds the message and generation starts from what is already decoded. The
 * terminal's settings are restored on every exit: normal return, atexit, and the fatal signals (the handler
 * restores them with tcsetattr, which is async-signal-safe, then re-raises the signal).
 */
#include "chat_opts.h"
#include "line_editor.h"

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

/* ---- the session ---- */

struct live {
    struct cli_common *c;
    struct chat_opts *o;
    llamac_context *ctx;
    llamac_chat *chat;
    llamac_prefill *pf;
    struct line_editor ed;
    bool dirty;            /* edited since the prefill last saw the text */
    double last_edit;      /* ms */
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
    struct line_editor *e = &lv->ed;
    editor_leave(e, stdout, term_width());
    editor_history_add(e, llamac__dynbuf_ptr(&e->text), e->text.len);
    lv->t_enter = now_ms();
    lv->t_first = 0;
    lv->cancelled = false;
    llamac_status st = lv->pf ? llamac_prefill_flush(lv->pf, llamac__dynbuf_ptr(&e->text), e->text.len)
                              : llamac_chat_add(lv->chat, "user", llamac__dynbuf_ptr(&e->text), e->text.len);
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
                "\x1b[2m[first token %.0f ms after Enter | %d tokens, %.1f tokens/s | prompt: %d tokens ready at "
                "Enter, %d decoded after | edits dropped %lld prefilled tokens]\x1b[0m\r\n",
                ttft, r.gen.n_generated_tokens, r.gen.tokens_per_s, r.n_reused_tokens, r.n_decoded_tokens,
                (long long)ps.n_invalidated);
    }
    fflush(stdout);
    editor_clear(e);
    lv->dirty = true;
    lv->last_edit = 0;
}

/* Handles the keys read so far: the editor edits; Enter, Ctrl-C, Ctrl-D and Ctrl-L are the session's. */
static void handle_keys(struct live *lv) {
    struct line_editor *e = &lv->ed;
    size_t at = 0;
    while (at < lv->n_in && !lv->quit) {
        size_t used = 1;
        enum editor_key k = editor_parse_key(lv->in + at, lv->n_in - at, &used);
        if (k == EDITOR_KEY_INCOMPLETE) {
            break;
        }
        const char *bytes = (const char *)lv->in + at;
        at += used;
        if (k != EDITOR_KEY_CTRL_C) {
            lv->ctrl_c = 0;
        }
        size_t old_len = e->text.len;
        switch (k) {
        case EDITOR_KEY_CTRL_L:
            fputs("\x1b[H\x1b[2J", stdout);
            e->drawn_row = 0;
            break;
        case EDITOR_KEY_CTRL_C:
            if (++lv->ctrl_c >= 2) {
                lv->quit = true;
                break;
            }
            editor_leave(e, stdout, term_width());
            fputs("[Ctrl-C again to quit]\r\n", stdout);
            editor_clear(e);
            lv->dirty = true;
            break;
        case EDITOR_KEY_CTRL_D:
            if (e->text.len == 0) {
                lv->quit = true;
            } else {
                editor_apply(e, EDITOR_KEY_DELETE, NULL, 0);
            }
            break;
        case EDITOR_KEY_ENTER:
            if (e->text.len > 0) {
                /* keys typed ahead of the answer stay for the next message */
                memmove(lv->in, lv->in + at, lv->n_in - at);
                lv->n_in -= at;
                at = 0;
                answer(lv);
            }
            break;
        default:
            if (!editor_apply(e, k, bytes, used)) {
                editor_leave(e, stdout, term_width());
                fputs("[not added: the input holds at most 16 MiB, or memory ran out]\r\n", stdout);
            }
            break;
        }
        if (e->text.len != old_len || k == EDITOR_KEY_TEXT || k == EDITOR_KEY_CTRL_W || k == EDITOR_KEY_UP ||
            k == EDITOR_KEY_DOWN) {
            lv->dirty = true;
            lv->last_edit = now_ms();
        }
    }
    memmove(lv->in, lv->in + at, lv->n_in - at);
    lv->n_in -= at;
    if (!lv->quit) {
        editor_draw(e, stdout, term_width());
    }
}

static int live_loop(struct live *lv) {
    struct line_editor *e = &lv->ed;
    editor_draw(e, stdout, term_width());
    double incomplete_since = 0;
    while (!lv->quit) {
        double now = now_ms();
        int timeout = -1;
        bool want_update = lv->pf && lv->dirty;
        if (want_update) {
            double wait = lv->last_edit + (double)lv->o->debounce_ms - now;
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
        if (want_update && now_ms() - lv->last_edit >= (double)lv->o->debounce_ms) {
            if (llamac_prefill_update(lv->pf, llamac__dynbuf_ptr(&e->text), e->text.len) != LLAMAC_OK) {
                llamac_prefill_cancel(lv->pf); /* e.g. text the template refuses: wait for Enter to report it */
            }
            lv->dirty = false;
        } else if (lv->pf && llamac_prefill_pending(lv->pf) > 0) {
            if (llamac_prefill_step(lv->pf, NULL) != LLAMAC_OK) {
                llamac_prefill_cancel(lv->pf);
            }
        }
    }
    editor_leave(e, stdout, term_width());
    return lv->ctrl_c >= 2 ? EXIT_INTERRUPTED : EXIT_OK;
}

/* --session: the conversation and its KV cache from FILE when it exists (the system prompt given now replaces the
 * saved one). False, with the error printed, when the file cannot be used. */
static bool session_load(struct live *lv) {
    const char *path = lv->o->chat.session;
    struct stat sb;
    if (!path || stat(path, &sb) != 0) {
        return true;
    }
    const char *sys = lv->o->chat.system;
    if (llamac_chat_load(lv->chat, path) != LLAMAC_OK ||
        (sys && llamac_chat_set_system(lv->chat, sys, strlen(sys)) != LLAMAC_OK)) {
        cli_lib_error(lv->c, NULL);
        return false;
    }
    if (!lv->c->quiet) {
        fprintf(stderr, "[session %s: %zu messages]\n", path, llamac_chat_n_messages(lv->chat));
    }
    return true;
}

int cmd_chat_live(struct cli_common *c, struct chat_opts *o, llamac_chat_params *cp) {
    if (!isatty(STDIN_FILENO) || !isatty(STDOUT_FILENO)) {
        cli_error(c, "--live needs a terminal on standard input and output (use `llamac chat` for pipes)");
        return EXIT_USAGE;
    }
    int rc = EXIT_FAILURE_RUN;
    llamac_model *model = NULL;
    char *template_source = NULL;
    struct live lv;
    memset(&lv, 0, sizeof lv);
    editor_init(&lv.ed);
    lv.c = c;
    lv.o = o;
    if (!cli_chat_params(c, &o->chat, cp, &template_source) ||
        !cli_constraint_grammar(c, &o->constraint, &cp->generate.sampling.grammar)) {
        goto done;
    }
    model = cli_load_model(c, false);
    if (!model) {
        goto done;
    }
    if (!cli_sampling_check(c, model, &cp->generate.sampling)) {
        rc = EXIT_USAGE;
        goto done;
    }
    llamac_prefill_params pp = llamac_prefill_params_default();
    pp.margin = (int32_t)o->margin;
    pp.step_tokens = (int32_t)o->step_tokens;
    pp.speculate = !o->no_speculate;
    if (!cp->template_source) {
        cli_template_note(c, &o->chat, model);
    }
    if (!(lv.ctx = cli_new_context(c, model, &c->ctx))) {
        goto done;
    }
    if (llamac_chat_new(lv.ctx, cp, &lv.chat) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        goto done;
    }
    if (!session_load(&lv)) {
        goto done;
    }
    if (!o->no_prefill && llamac_prefill_new(lv.chat, &pp, &lv.pf) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        goto done;
    }
    if (!term_raw()) {
        cli_error(c, "cannot put the terminal in raw mode: %s", strerror(errno));
        goto done;
    }
    fputs("llamac chat --live: Enter sends, Alt+Enter adds a line, Ctrl-C twice or Ctrl-D quits.\r\n", stdout);
    lv.dirty = lv.pf != NULL;
    rc = live_loop(&lv);
    term_restore();
    llamac_prefill_free(lv.pf); /* what it decoded stays in the sequence, which the session file then holds */
    lv.pf = NULL;
    if (o->chat.session && llamac_chat_save(lv.chat, o->chat.session) != LLAMAC_OK) {
        cli_lib_error(c, NULL);
        rc = EXIT_FAILURE_RUN;
    }
done:
    editor_free(&lv.ed);
    llamac_prefill_free(lv.pf);
    llamac_chat_free(lv.chat);
    llamac_ctx_free(lv.ctx);
    llamac_model_free(model);
    free(template_source);
    return rc;
}
