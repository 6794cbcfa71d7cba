/*
 * cmd_chat.c - `llamac chat`: a conversation with a model in the terminal, or one message per line from a pipe.
 *
 * The session (src/chat) does the work: it renders the conversation with the model's template and decodes only
 * what is new each turn. This file is the REPL around it: libedit for line editing and history, multi-line input,
 * slash commands, streaming to stdout and the timings on stderr. SIGINT only sets flags and asks the running
 * generation to stop (llamac_ctx_cancel is safe in a signal handler); the loop decides what a Ctrl-C means.
 */
#include "cli.h"

#include <editline/readline.h>
#include <errno.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
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

static void usage(void) {
    printf("usage: llamac chat -m MODEL [options]\n\n"
           "Talk with a model. On a terminal: line editing and history; end a line with \\ to continue it, or\n"
           "enclose several lines in \"\"\" lines. Ctrl-C stops an answer; Ctrl-C twice or Ctrl-D quits. With input\n"
           "from a pipe each line is one user message and only the answers are written to stdout.\n\n"
           "Chat:\n"
           "  --system TEXT             the system prompt\n"
           "  --chat-template-file F    use this Jinja chat template instead of the model's\n"
           "  --chat-template-kwargs J  extra template variables as a JSON object, e.g. '{\"enable_thinking\":false}'\n"
           "  --session FILE            load the session from FILE if it exists; save it there on exit\n"
           "  --keep-turns N            turns kept when the context fills up (default: 2)\n"
           "  -n, --n-predict N         most tokens per answer (default: 1024; -1: until the context is full)\n"
           "Commands: /help, /clear, /system TEXT, /save FILE, /load FILE, /quit\n"
           "Sampling (llama.cpp's defaults, as `llamac run`):\n"
           "  --temp T (0.8; 0 = greedy)  --top-k N (40)  --top-p P (0.95)  --min-p P (0.05)  --typical P (1)\n"
           "  --xtc-probability P (0)  --xtc-threshold T (0.1)  --top-nsigma N (-1 = off)\n"
           "  --dynatemp-range R (0)  --dynatemp-exp E (1)\n"
           "  --repeat-last-n N (64)  --repeat-penalty P (1)  --presence-penalty P (0)  --frequency-penalty P (0)\n"
           "  --dry-multiplier M (0)  --dry-base B (1.75)  --dry-allowed-length N (2)  --dry-penalty-last-n N (64)\n"
           "  --mirostat 0|1|2  --mirostat-lr ETA (0.1)  --mirostat-ent TAU (5)\n"
           "  -s, --seed N              random seed (default: random)\n"
           "Structured output (every answer):\n"
           "  --grammar GBNF  --grammar-file FILE   constrain the answers to a GBNF grammar\n"
           "  -j, --json-schema SCHEMA  JSON valid under a JSON Schema (inline, or the path of a file)\n"
           "  --json-schema-file FILE   the same, read from FILE\n"
           "  --json                    any JSON object\n\n");
    cli_print_common_help();
}

static void print_commands(void) {
    fputs("  /clear        forget the conversation (the system prompt stays)\n"
          "  /system TEXT  set the system prompt (no TEXT: remove it)\n"
          "  /save FILE    save the session (messages and KV cache)\n"
          "  /load FILE    load a saved session\n"
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

/* A growable string. */
struct text {
    char *s;
    size_t len;
    size_t cap;
};

static bool text_add(struct text *t, const char *s, size_t n) {
    if (t->len + n + 1 > t->cap) {
        size_t cap = t->cap ? t->cap * 2 : 256;
        while (cap < t->len + n + 1) {
            cap *= 2;
        }
        char *p = realloc(t->s, cap);
        if (!p) {
            return false;
        }
        t->s = p;
        t->cap = cap;
    }
    memcpy(t->s + t->len, s, n);
    t->len += n;
    t->s[t->len] = '\0';
    return true;
}

enum read_result { READ_MESSAGE, READ_EOF, READ_INTERRUPT, READ_NO_MEMORY };

/* Reads one message, joining continued lines (ending in a backslash) and """ blocks with newlines. */
static enum read_result read_message(struct input *in, struct text *msg) {
    msg->len = 0;
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
        bool ok = (lines == 0 || text_add(msg, "\n", 1)) && text_add(msg, line, n);
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
        add_history(msg->s);
    }
    return READ_MESSAGE;
}

static bool write_text(const char *text, size_t len, void *user_data) {
    (void)user_data;
    return fwrite(text, 1, len, stdout) == len && fflush(stdout) == 0;
}

struct chat_opts {
    struct cli_chat chat;
    const char *kwargs;
    const char *session;
    struct cli_constraint constraint;
};

/* Handles a /command line. Returns false when the session should end. */
static bool run_command(struct cli_common *c, llamac_chat *chat, const char *line, bool *quit) {
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
            cli_error(c, "%s", llamac_last_error());
        } else {
            fprintf(stderr, arg ? "[system prompt set]\n" : "[system prompt removed]\n");
        }
    } else if (IS("/save") || IS("/load")) {
        if (!arg) {
            cli_error(c, "%.*s needs a file name", (int)name_len, line);
        } else if ((IS("/save") ? llamac_chat_save(chat, arg) : llamac_chat_load(chat, arg)) != LLAMAC_OK) {
            cli_error(c, "%s", llamac_last_error());
        } else {
            fprintf(stderr, IS("/save") ? "[saved to %s]\n" : "[loaded %s]\n", arg);
        }
    } else {
        cli_error(c, "unknown command '%.*s' (/help lists them)", (int)name_len, line);
    }
#undef IS
    return true;
}

static int chat_loop(struct cli_common *c, llamac_context *ctx, llamac_chat *chat, bool tty) {
    struct input in = { tty, NULL, 0 };
    struct text msg = { NULL, 0, 0 };
    int rc = EXIT_OK;
    if (tty) {
        rl_readline_name = "llamac";
        using_history();
        fprintf(stderr, "llamac chat: /help for commands; Ctrl-C stops an answer, Ctrl-D quits.\n");
    }
    for (;;) {
        enum read_result rr = read_message(&in, &msg);
        if (rr == READ_NO_MEMORY) {
            cli_error(c, "out of memory reading input");
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
        if (msg.s[0] == '/' && !strchr(msg.s, '\n')) {
            bool quit = false;
            run_command(c, chat, msg.s, &quit);
            if (quit) {
                break;
            }
            continue;
        }
        if (llamac_chat_add(chat, "user", msg.s, msg.len) != LLAMAC_OK) {
            cli_error(c, "%s", llamac_last_error());
            continue;
        }
        llamac_chat_result r;
        running_ctx = ctx;
        generating = 1;
        llamac_status st = llamac_chat_generate(chat, write_text, NULL, &r);
        generating = 0;
        running_ctx = NULL;
        fputc('\n', stdout);
        fflush(stdout);
        if (st != LLAMAC_OK) {
            cli_error(c, "%s", llamac_last_error());
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
    free(msg.s);
    return rc;
}

int cmd_chat(int argc, char **argv) {
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--live") == 0) {
            return cmd_chat_live(argc, argv); /* the incremental-prefill terminal UI (cmd_chat_live.c) */
        }
    }
    struct cli_common c;
    cli_common_init(&c, "chat");
    struct chat_opts o;
    memset(&o, 0, sizeof o);
    o.chat.keep_turns = 2;
    llamac_chat_params cp = llamac_chat_params_default();
    cp.generate.max_tokens = 1024;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = cli_parse_common(&c, argc, argv, &i);
        if (r == CLI_NOT_MINE) {
            r = cli_parse_sampling(&c, &cp.generate.sampling, argc, argv, &i);
        }
        if (r == CLI_NOT_MINE) {
            r = cli_parse_chat(&c, &o.chat, &cp, argc, argv, &i);
        }
        if (r == CLI_NOT_MINE) {
            r = cli_parse_constraint(&c, &o.constraint, argc, argv, &i);
        }
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (strcmp(a, "--chat-template-kwargs") == 0) {
            if (!(o.kwargs = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--session") == 0) {
            if (!(o.session = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else {
            cli_error(&c, "unknown option '%s' (see llamac chat --help)", a);
            return EXIT_USAGE;
        }
    }
    if (!cli_constraint_check(&c, &o.constraint)) {
        return EXIT_USAGE;
    }
    cli_setup_logging(&c);
    bool tty = isatty(STDIN_FILENO) != 0;
    int rc = EXIT_FAILURE_RUN;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    llamac_chat *chat = NULL;
    if (!cli_chat_apply(&c, &o.chat, &cp)) {
        goto done;
    }
    cp.template_kwargs_json = o.kwargs;
    if (!cli_constraint_grammar(&c, &o.constraint, &cp.generate.sampling.grammar)) {
        goto done;
    }
    model = cli_load_model(&c, false);
    if (!model) {
        goto done;
    }
    if (llamac_ctx_new(model, &c.ctx, &ctx) != LLAMAC_OK || llamac_chat_new(ctx, &cp, &chat) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    struct stat sb;
    if (o.session && stat(o.session, &sb) == 0) {
        if (llamac_chat_load(chat, o.session) != LLAMAC_OK) {
            cli_error(&c, "%s", llamac_last_error());
            goto done;
        }
        if (o.chat.system && llamac_chat_set_system(chat, o.chat.system, strlen(o.chat.system)) != LLAMAC_OK) {
            cli_error(&c, "%s", llamac_last_error());
            goto done;
        }
        if (!c.quiet) {
            fprintf(stderr, "[session %s: %zu messages]\n", o.session, llamac_chat_n_messages(chat));
        }
    }
    signal(SIGPIPE, SIG_IGN);
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_sigint;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = 0; /* no SA_RESTART: a Ctrl-C interrupts the read of a line */
    sigaction(SIGINT, &sa, NULL);
    rc = chat_loop(&c, ctx, chat, tty);
    signal(SIGINT, SIG_DFL);
    if (o.session && llamac_chat_save(chat, o.session) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        rc = EXIT_FAILURE_RUN;
    }
done:
    cli_constraint_free(&o.constraint);
    llamac_chat_free(chat);
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(o.chat.template_source);
    return rc;
}
