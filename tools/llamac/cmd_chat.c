/*
 * cmd_chat.c - `llamac chat`: a conversation with a model in the terminal, or one message per line from a pipe.
 *
 * The session (src/chat) does the work: it renders the conversation with the model's template and decodes only
 * what is new each turn. This file is the REPL around it: libedit for line editing and history, multi-line input,
 * slash commands, streaming to stdout and the timings on stderr. SIGINT only sets flags and asks the running
 * generation to stop (llamac_ctx_cancel is safe in a signal handler); the loop decides what a Ctrl-C means.
 * With a projector (--mmproj, cli_media.c), media from --image / --audio and from /image and /audio wait for the next
 * message, which carries them in front of its text (as llama-mtmd-cli's chat mode).
 */
#include "chat_opts.h"
#include "dynbuf.h"

#include <editline/readline.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <termios.h>
#include <unistd.h>

static llamac_context *volatile running_ctx;
static volatile sig_atomic_t generating;
static volatile sig_atomic_t sigints; /* Ctrl-C presses since the last line was read or the last answer ended */

static void on_sigint(int sig) {
    (void)sig;
    if (sigints < 100) {
        sigints++;
    }
    if (generating && running_ctx) {
        llamac_ctx_cancel(running_ctx);
    }
}

#define CHAT(f) offsetof(struct cli_chat, f)
#define OPTS(f) offsetof(struct chat_opts, f)

static const struct cli_opt conversation_rows[] = {
    { .names = { "-sys", "--system-prompt", "--system" },
      .arg = "TEXT",
      .set = cli_set_str,
      .offset = CHAT(system),
      .field = "system_prompt",
      .help = "the system prompt" },
    { .names = { "--keep-turns" },
      .arg = "N",
      .set = cli_set_long,
      .offset = CHAT(keep_turns),
      .min = 1,
      .max = INT32_MAX,
      .field = "keep_last_turns",
      .help = "turns kept when the context fills up (default: 2)" },
    { .names = { "--session" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = CHAT(session),
      .help = "load the conversation and its KV cache from FILE if it exists; save them there on exit" },
};
static const struct cli_group conversation_group = CLI_GROUP("Conversation", CLI_TARGET_CHAT, conversation_rows);

static const struct cli_opt live_rows[] = {
    { .names = { "--live" },
      .set = cli_set_true,
      .offset = OPTS(live),
      .help = "a terminal UI in which the model reads the message while it is typed (incremental prefill), so the "
              "answer starts right after Enter" },
    { .names = { "--debounce-ms" },
      .arg = "N",
      .set = cli_set_long,
      .offset = OPTS(debounce_ms),
      .min = 0,
      .max = 10000,
      .help = "with --live: wait N ms without keys before reading the text (default: 50)" },
    { .names = { "--prefill-margin" },
      .arg = "N",
      .set = cli_set_long,
      .offset = OPTS(margin),
      .min = 0,
      .max = 64,
      .help = "with --live: tokens withheld before the end of the text (default: 2)" },
    { .names = { "--prefill-step" },
      .arg = "N",
      .set = cli_set_long,
      .offset = OPTS(step_tokens),
      .min = 1,
      .max = 512,
      .help = "with --live: most tokens decoded between two key checks (default: 16)" },
    { .names = { "--no-prefill" },
      .set = cli_set_true,
      .offset = OPTS(no_prefill),
      .help = "with --live: decode only at Enter (for comparison)" },
    { .names = { "--no-speculate" },
      .set = cli_set_true,
      .offset = OPTS(no_speculate),
      .help = "with --live: in pauses, do not decode the end of the prompt ahead (saves idle compute)" },
};
static const struct cli_group live_group = CLI_GROUP("Live mode", CLI_TARGET_COMMAND, live_rows);

static const struct cli_group *const chat_groups[] = {
    &conversation_group, &cli_group_template,   &cli_group_generate,
    &cli_group_sampling, &cli_group_constraint, &cli_group_spec,
    &cli_group_adapters, &cli_group_media,      &live_group,
    &cli_group_model,    &cli_group_mmproj,     &cli_group_hub,
    &cli_group_load,     &cli_group_context,    &cli_group_rope,
    &cli_group_rotation, &cli_group_log,        NULL,
};

static int chat(int argc, char **argv);

const struct cli_command cli_cmd_chat = {
    .name = "chat",
    .summary = "chat in a terminal or from piped lines, reusing the KV cache; --live: the model reads as you type",
    .synopsis = "[MODEL.gguf | -m MODEL] [options]\n--live [MODEL.gguf | -m MODEL] [options]",
    .about = "Talk with a model. On a terminal: line editing and history; end a line with \\ to continue it, or "
             "enclose several lines in \"\"\" lines. Ctrl-C stops an answer; Ctrl-C twice or Ctrl-D quits. With "
             "input from a pipe each line is one user message and only the answers are written to stdout.\n"
             "Commands: /help, /clear, /system TEXT, /save FILE, /load FILE, /image FILE, /audio FILE, /quit.\n"
             "With --live the keys are: arrows (Up on the first line recalls earlier messages), Home/End, "
             "Backspace/Delete anywhere, Alt+Enter for a new line, Ctrl-W / Ctrl-U / Ctrl-K delete a word / to the "
             "line's start / to its end, Ctrl-L redraws, Ctrl-C stops an answer (twice while typing: quit), Ctrl-D "
             "on an empty line quits.",
    .groups = chat_groups,
    .run = chat,
};

static void print_commands(void) {
    fputs("  /clear        forget the conversation (the system prompt stays)\n"
          "  /system TEXT  set the system prompt (no TEXT: remove it)\n"
          "  /save FILE    save the session (messages and KV cache)\n"
          "  /load FILE    load a saved session\n"
          "  /image FILE   an image for the next message (needs --mmproj); /audio FILE likewise\n"
          "  /quit         save the --session file, if any, and quit (also Ctrl-D, or Ctrl-C twice)\n"
          "  A line ending in \\ continues on the next line; \"\"\" on a line of its own starts and ends a block.\n",
          stderr);
}

/* Where input comes from: libedit on a terminal, plain lines otherwise. */
struct input {
    bool tty;
    char *line; /* the last plain line (getline's buffer) */
    size_t cap;
};

/* One line without its newline, or NULL at the end of input or after Ctrl-C (see sigints). Caller frees. */
static char *read_line(struct input *in, const char *prompt) {
    if (in->tty) {
        char *s = readline(prompt);
        return s;
    }
    ssize_t n = getline(&in->line, &in->cap, stdin);
    if (n < 0) {
        return NULL;
    }
    while (n > 0 && (in->line[n - 1] == '\n' || in->line[n - 1] == '\r')) {
        in->line[--n] = '\0';
    }
    return strdup(in->line);
}

/* The longest message read (a message that long overflows any context anyway). */
#define CHAT_MESSAGE_MAX ((size_t)64 << 20)

enum read_result { READ_MESSAGE, READ_EOF, READ_INTERRUPT, READ_NO_MEMORY };

/* Reads one message, joining continued lines (ending in a backslash) and """ blocks with newlines. */
static enum read_result read_message(struct input *in, llamac__dynbuf *msg) {
    llamac__dynbuf_reset(msg);
    bool block = false, more = false;
    size_t lines = 0;
    for (;;) {
        char *line = read_line(in, !in->tty ? "" : (block || more) ? "... " : "> ");
        if (!line) {
            if (sigints > 0) {
                return READ_INTERRUPT;
            }
            if (lines == 0) {
                return READ_EOF;
            }
            break;
        }
        size_t n = strlen(line);
        if (strcmp(line, "\"\"\"") == 0) {
            free(line);
            if (block) {
                break;
            }
            block = true;
            continue;
        }
        more = block;
        if (!block && n > 0 && line[n - 1] == '\\') {
            n--;
            more = true;
        }
        bool ok = (lines == 0 || llamac__dynbuf_addc(msg, '\n')) && llamac__dynbuf_add(msg, line, n);
        lines++;
        free(line);
        if (!ok) {
            return READ_NO_MEMORY;
        }
        if (!more) {
            break;
        }
    }
    if (in->tty && msg->len > 0) {
        add_history(msg->p);
    }
    return READ_MESSAGE;
}

static bool write_text(const char *text, size_t len, void *user_data) {
    (void)user_data;
    return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
}

/* The projector and the media waiting for the next message. */
struct pending {
    llamac_mmproj *proj;
    llamac_media *media[CLI_MAX_MEDIA];
    size_t n;
};

static void pending_clear(struct pending *p) {
    for (size_t i = 0; i < p->n; i++) {
        llamac_media_free(p->media[i]);
    }
    p->n = 0;
}

/* Loads `path` as the next message's medium of `type` (`what` is the flag or command, for errors). */
static bool pending_add(struct cli_common *c, struct pending *p, const char *what, const char *path,
                        llamac_media_type type) {
    if (!p->proj) {
        cli_error(c, "%s needs a projector: start llamac chat with --mmproj FILE", what);
        return false;
    }
    if (p->n >= CLI_MAX_MEDIA) {
        cli_error(c, "at most %d media per message", CLI_MAX_MEDIA);
        return false;
    }
    llamac_media *m = cli_load_medium(c, p->proj, what, path, type);
    if (!m) {
        return false;
    }
    p->media[p->n++] = m;
    return true;
}

/* Adds the user's message: the waiting media first, then its text. The session keeps its own references. */
static llamac_status add_message(llamac_chat *chat, struct pending *p, const char *text, size_t len) {
    if (p->n == 0) {
        return llamac_chat_add(chat, "user", text, len);
    }
    llamac_chat_part parts[CLI_MAX_MEDIA + 1];
    memset(parts, 0, sizeof parts);
    for (size_t i = 0; i < p->n; i++) {
        parts[i].media = p->media[i];
    }
    parts[p->n].text = text;
    parts[p->n].len = len;
    llamac_status st = llamac_chat_add_parts(chat, "user", parts, p->n + 1);
    pending_clear(p);
    return st;
}

/* Handles a /command line. Returns false when the session should end. */
static bool run_command(struct cli_common *c, llamac_chat *chat, struct pending *pend, const char *line, bool *quit) {
    const char *arg = strchr(line, ' ');
    size_t name_len = arg ? (size_t)(arg - line) : strlen(line);
    while (arg && *arg == ' ') {
        arg++;
    }
    if (arg && !*arg) {
        arg = NULL;
    }
#define IS(name) (name_len == strlen(name) && strncmp(line, name, name_len) == 0)
    if (IS("/help") || IS("/?")) {
        print_commands();
    } else if (IS("/quit") || IS("/exit")) {
        *quit = true;
    } else if (IS("/clear")) {
        llamac_chat_clear(chat);
        fprintf(stderr, "[conversation cleared]\n");
    } else if (IS("/system")) {
        if (llamac_chat_set_system(chat, arg, arg ? strlen(arg) : 0) != LLAMAC_OK) {
            cli_lib_error(c, NULL);
        } else {
            fprintf(stderr, arg ? "[system prompt set]\n" : "[system prompt removed]\n");
        }
    } else if (IS("/save") || IS("/load")) {
        if (!arg) {
            cli_error(c, "%.*s needs a file name", (int)name_len, line);
        } else if ((IS("/save") ? llamac_chat_save(chat, arg) : llamac_chat_load(chat, arg)) != LLAMAC_OK) {
            cli_lib_error(c, NULL);
        } else {
            fprintf(stderr, IS("/save") ? "[saved to %s]\n" : "[loaded %s]\n", arg);
        }
    } else if (IS("/image") || IS("/audio")) {
        llamac_media_type type = IS("/image") ? LLAMAC_MEDIA_IMAGE : LLAMAC_MEDIA_AUDIO;
        if (!arg) {
            cli_error(c, "%.*s needs a file name", (int)name_len, line);
        } else if (pending_add(c, pend, type == LLAMAC_MEDIA_IMAGE ? "/image" : "/audio", arg, type) && !c->quiet) {
            fprintf(stderr, "[%s loaded: it goes with the next message]\n", arg);
        }
    } else {
        cli_error(c, "unknown command '%.*s' (/help lists them)", (int)name_len, line);
    }
#undef IS
    return true;
}

/* While an answer streams, keys typed on the terminal must not be echoed into it: echo is off until the answer
 * ends, and the terminal holds the keys (TCSANOW keeps pending input) until libedit reads them at the next prompt,
 * where they appear as typed. */
static bool hold_typeahead(struct termios *saved) {
    if (tcgetattr(STDIN_FILENO, saved) != 0) {
        return false;
    }
    struct termios t = *saved;
    t.c_lflag &= (tcflag_t)~ECHO;
    t.c_lflag |= NOFLSH; /* Ctrl-C stops the answer without discarding what was typed */
    return tcsetattr(STDIN_FILENO, TCSANOW, &t) == 0;
}

static int chat_loop(struct cli_common *c, llamac_context *ctx, llamac_chat *chat, struct pending *pend, bool tty) {
    struct input in = { tty, NULL, 0 };
    llamac__dynbuf msg = LLAMAC__DYNBUF(CHAT_MESSAGE_MAX);
    int rc = EXIT_OK;
    if (tty) {
        rl_readline_name = "llamac";
        using_history();
        fprintf(stderr, "llamac chat: /help for commands; Ctrl-C stops an answer, Ctrl-D quits.\n");
    }
    for (;;) {
        enum read_result rr = read_message(&in, &msg);
        if (rr == READ_NO_MEMORY) {
            cli_error(c, "%s",
                      llamac__dynbuf_error(&msg) == LLAMAC__DYNBUF_TOO_BIG ? "a message is longer than 64 MiB"
                                                                           : "out of memory reading input");
            rc = EXIT_FAILURE_RUN;
            break;
        }
        if (rr == READ_INTERRUPT) {
            if (sigints >= 2 || !tty) {
                rc = EXIT_INTERRUPTED;
                break;
            }
            fprintf(stderr, "\n[Ctrl-C again or Ctrl-D to quit]\n");
            continue;
        }
        if (rr == READ_EOF) {
            if (tty) {
                fputc('\n', stderr);
            }
            break;
        }
        sigints = 0;
        if (msg.len == 0) {
            continue;
        }
        if (msg.p[0] == '/' && !strchr(msg.p, '\n')) {
            bool quit = false;
            run_command(c, chat, pend, msg.p, &quit);
            if (quit) {
                break;
            }
            continue;
        }
        if (add_message(chat, pend, msg.p, msg.len) != LLAMAC_OK) {
            cli_lib_error(c, NULL);
            continue;
        }
        llamac_chat_result r;
        struct termios saved;
        bool held = tty && hold_typeahead(&saved);
        running_ctx = ctx;
        generating = 1;
        llamac_status st = llamac_chat_generate(chat, write_text, NULL, &r);
        generating = 0;
        running_ctx = NULL;
        if (held) {
            tcsetattr(STDIN_FILENO, TCSANOW, &saved);
        }
        fputc('\n', stdout);
        fflush(stdout);
        if (st != LLAMAC_OK) {
            cli_lib_error(c, NULL);
            if (!tty) {
                rc = EXIT_FAILURE_RUN;
                break;
            }
            continue;
        }
        if (r.gen.finish_reason == LLAMAC_FINISH_CALLBACK) {
            cli_error(c, "cannot write to standard output");
            rc = EXIT_FAILURE_RUN;
            break;
        }
        if (r.gen.finish_reason == LLAMAC_FINISH_CANCELLED) {
            fprintf(stderr, "[stopped]\n");
        }
        if (!c->quiet) {
            fprintf(stderr, "[%d tokens | first token %.0f ms | %.1f tokens/s | prompt: %d new, %d cached%s%s]\n",
                    r.gen.n_generated_tokens, r.gen.ttft_ms, r.gen.tokens_per_s, r.n_decoded_tokens, r.n_reused_tokens,
                    r.n_evicted_messages > 0 ? " | context full: dropped the oldest turns" : "",
                    r.gen.finish_reason == LLAMAC_FINISH_CONTEXT_FULL ? " | context full" : "");
        }
        if (sigints >= 2) {
            rc = EXIT_INTERRUPTED;
            break;
        }
        sigints = 0;
    }
    free(in.line);
    llamac__dynbuf_free(&msg);
    return rc;
}

static int chat(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "chat");
    struct chat_opts o = { .chat.keep_turns = 2, .debounce_ms = 50, .margin = 2, .step_tokens = 16 };
    llamac_chat_params cp = llamac_chat_params_default();
    cp.generate.max_tokens = 1024;
    struct cli_sampling sampling = { .params = &cp.generate.sampling };
    struct cli_generate generate = { .params = &cp.generate };
    struct cli_spec spec;
    cli_spec_init(&spec);
    struct cli_targets t = { .common = &c,
                             .sampling = &sampling,
                             .generate = &generate,
                             .constraint = &o.constraint,
                             .chat = &o.chat,
                             .spec = &spec,
                             .command = &o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_chat, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    cli_positional_model(&c, &p, true);
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (messages are typed, or piped one per line)", p.pos[0]);
        return EXIT_USAGE;
    }
    static const char *const live_only[] = { "--debounce-ms", "--prefill-margin", "--prefill-step", "--no-prefill",
                                             "--no-speculate" };
    for (size_t i = 0; !o.live && i < sizeof live_only / sizeof live_only[0]; i++) {
        if (cli_given(&p, live_only[i])) {
            cli_error(&c, "%s works with --live", live_only[i]);
            return EXIT_USAGE;
        }
    }
    if (o.live && cli_spec_given(&spec)) {
        cli_error(&c, "speculative decoding (-md, --spec-type, ...) works without --live");
        return EXIT_USAGE;
    }
    if (o.live && (c.media.mmproj || c.media.n_files > 0)) {
        cli_error(&c, "media (--mmproj, --image, --audio) work without --live");
        return EXIT_USAGE;
    }
    if (!cli_constraint_check(&c, &o.constraint) || !cli_spec_check(&c, &spec) || !cli_media_check(&c, !o.live) ||
        (o.chat.kwargs && !cli_json_object(&c, "--chat-template-kwargs", o.chat.kwargs)) ||
        !cli_template_check(&c, &o.chat) || !cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    if (o.live) {
        rc = cmd_chat_live(&c, &o, &cp);
        cli_common_close(&c);
        return rc;
    }
    bool tty = isatty(STDIN_FILENO) != 0;
    rc = EXIT_FAILURE_RUN;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    llamac_chat *chat = NULL;
    char *template_source = NULL;
    struct pending pend;
    memset(&pend, 0, sizeof pend);
    if (!cli_chat_params(&c, &o.chat, &cp, &template_source) ||
        !cli_constraint_grammar(&c, &o.constraint, &cp.generate.sampling.grammar)) {
        goto done;
    }
    model = cli_load_model(&c, false);
    if (model && !cli_sampling_check(&c, model, &cp.generate.sampling)) {
        rc = EXIT_USAGE;
        goto done;
    }
    if (!model || !cli_adapters_load(&c, &c.adapters, model) || !cli_load_mmproj(&c, model, &pend.proj)) {
        goto done;
    }
    for (size_t i = 0; i < c.media.n_files; i++) {
        bool image = c.media.types[i] == LLAMAC_MEDIA_IMAGE;
        if (!pending_add(&c, &pend, image ? "--image" : "--audio", c.media.files[i], c.media.types[i])) {
            goto done;
        }
    }
    cp.mmproj = pend.proj;
    if (!cp.template_source) {
        cli_template_note(&c, &o.chat, model);
    }
    if (!(ctx = cli_new_context(&c, model, &c.ctx)) || !cli_adapters_apply(&c, &c.adapters, ctx)) {
        goto done;
    }
    if (!cli_spec_open(&c, &spec, model, &c.ctx, &cp.generate.spec)) {
        goto done;
    }
    if (llamac_chat_new(ctx, &cp, &chat) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        goto done;
    }
    struct stat sb;
    if (o.chat.session && stat(o.chat.session, &sb) == 0) {
        if (llamac_chat_load(chat, o.chat.session) != LLAMAC_OK) {
            cli_lib_error(&c, NULL);
            goto done;
        }
        if (o.chat.system && llamac_chat_set_system(chat, o.chat.system, strlen(o.chat.system)) != LLAMAC_OK) {
            cli_lib_error(&c, NULL);
            goto done;
        }
        if (!c.quiet) {
            fprintf(stderr, "[session %s: %zu messages]\n", o.chat.session, llamac_chat_n_messages(chat));
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a Ctrl-C interrupts the read of a line */
    sigaction(SIGINT, &sa, NULL);
    rc = chat_loop(&c, ctx, chat, &pend, tty);
    signal(SIGINT, SIG_DFL);
    if (o.chat.session && llamac_chat_save(chat, o.chat.session) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        rc = EXIT_FAILURE_RUN;
    }
done:
    cli_constraint_free(&o.constraint);
    pending_clear(&pend);
    llamac_chat_free(chat);
    llamac_mmproj_free(pend.proj);
    cli_spec_close(&spec);
    llamac_ctx_free(ctx);
    cli_adapters_free(&c.adapters);
    llamac_model_free(model);
    free(template_source);
    cli_common_close(&c);
    return rc;
}
