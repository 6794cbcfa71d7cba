/*
 * options.c - the parser and help printer over a command's option table (options.h).
 *
 * Lookup is a linear scan of the command's rows: a command has at most a few hundred spellings and the scan runs
 * once per argument, so a hash would buy nothing. A name no row has is an error that says where the flag does
 * belong when another command takes it, or what it is now called when llamac renamed it.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

/* ---- lookup ---- */

static bool row_has(const struct cli_opt *o, const char *name, size_t len) {
    for (size_t k = 0; k < CLI_MAX_NAMES && o->names[k]; k++) {
        if (strlen(o->names[k]) == len && strncmp(o->names[k], name, len) == 0) {
            return true;
        }
    }
    return false;
}

static const struct cli_opt *find_row(const struct cli_command *cmd, const char *name, size_t len,
                                      const struct cli_group **group) {
    for (size_t g = 0; cmd->groups[g]; g++) {
        for (size_t i = 0; i < cmd->groups[g]->n_opts; i++) {
            if (row_has(&cmd->groups[g]->opts[i], name, len)) {
                if (group) {
                    *group = cmd->groups[g];
                }
                return &cmd->groups[g]->opts[i];
            }
        }
    }
    return NULL;
}

const struct cli_opt *cli_find(const struct cli_command *cmd, const char *name) {
    return find_row(cmd, name, strlen(name), NULL);
}

const char *cli_next_value(struct cli_parser *p, const struct cli_opt *o) {
    if (!p->argv || p->next >= p->argc) {
        cli_error(p->t.common, "option %s needs two values (%s)", p->name, o->arg);
        return NULL;
    }
    return p->argv[p->next++];
}

bool cli_given(const struct cli_parser *p, const char *name) {
    const struct cli_opt *o = cli_find(p->cmd, name);
    for (size_t i = 0; o && i < p->n_seen; i++) {
        if (p->seen[i] == o) {
            return true;
        }
    }
    return false;
}

/* The object a group's offsets are relative to. */
static void *target_base(const struct cli_parser *p, enum cli_target target) {
    switch (target) {
    case CLI_TARGET_COMMON: return p->t.common;
    case CLI_TARGET_SAMPLING: return p->t.sampling ? (void *)p->t.sampling->params : NULL;
    case CLI_TARGET_GENERATE: return p->t.generate ? (void *)p->t.generate->params : NULL;
    case CLI_TARGET_CONSTRAINT: return p->t.constraint;
    case CLI_TARGET_CHAT: return p->t.chat;
    case CLI_TARGET_PROMPT: return p->t.prompt;
    case CLI_TARGET_SPEC: return p->t.spec;
    case CLI_TARGET_COMMAND: return p->t.command;
    }
    return NULL;
}

/* ---- unknown options ---- */

/* Spellings llamac used before it settled on llama.cpp's, and what to type now. */
static const struct {
    const char *old;
    const char *now;
} renamed[] = {
    { "--kv-type", "-ctk TYPE -ctv TYPE" },
    { "--rotation", "--attn-rot" },
    { "--session-cache", "--session" },
};

static void unknown_option(struct cli_parser *p, const char *arg) {
    size_t len = strcspn(arg, "=");
    for (size_t i = 0; i < sizeof renamed / sizeof renamed[0]; i++) {
        if (strlen(renamed[i].old) == len && strncmp(arg, renamed[i].old, len) == 0) {
            cli_error(p->t.common, "unknown option '%.*s': it is now %s (see llamac %s --help)", (int)len, arg,
                      renamed[i].now, p->cmd->name);
            return;
        }
    }
    char others[256] = "";
    size_t n_others = 0, at = 0;
    for (size_t c = 0; cli_commands[c]; c++) {
        if (cli_commands[c] != p->cmd && find_row(cli_commands[c], arg, len, NULL) && at < sizeof others) {
            int w = snprintf(others + at, sizeof others - at, "%s%s", n_others ? ", " : "", cli_commands[c]->name);
            at += w > 0 ? (size_t)w : 0;
            n_others++;
        }
    }
    if (n_others > 0) {
        cli_error(p->t.common, "unknown option '%.*s' for %s (%s %s it; see llamac %s --help)", (int)len, arg,
                  p->cmd->name, others, n_others == 1 ? "takes" : "take", p->cmd->name);
    } else {
        cli_error(p->t.common, "unknown option '%.*s' (see llamac %s --help)", (int)len, arg, p->cmd->name);
    }
}

/* A negative number is a positional argument (a text), not an option. */
static bool is_number(const char *s) {
    return s[0] == '-' && s[1] >= '0' && s[1] <= '9';
}

/* ---- parsing ---- */

int cli_parse(struct cli_parser *p, const struct cli_command *cmd, const struct cli_targets *t, int argc, char **argv) {
    memset(p, 0, sizeof *p);
    p->cmd = cmd;
    p->t = *t;
    p->pos = argv + 1;
    p->t.common->spec = cmd;
    bool options_done = false;
    for (int i = 1; i < argc; i++) {
        char *a = argv[i];
        if (options_done || a[0] != '-' || a[1] == '\0' || is_number(a)) {
            p->pos[p->n_pos++] = a; /* never past i: at most one slot per argument read */
            continue;
        }
        if (strcmp(a, "--") == 0) {
            options_done = true;
            continue;
        }
        size_t len = strlen(a);
        const char *inline_value = NULL;
        if (a[1] == '-' && strchr(a, '=')) {
            len = (size_t)(strchr(a, '=') - a);
            inline_value = a + len + 1;
        }
        const struct cli_group *g = NULL;
        const struct cli_opt *o = find_row(cmd, a, len, &g);
        char dashed[64];
        if (!o && a[1] == '-' && len < sizeof dashed && memchr(a, '_', len)) {
            /* as llama.cpp's parser: an underscore in a long option's name is a dash (--backend_sampling) */
            for (size_t k = 0; k < len; k++) {
                dashed[k] = a[k] == '_' ? '-' : a[k];
            }
            o = find_row(cmd, dashed, len, &g);
        }
        if (!o) {
            unknown_option(p, a);
            return EXIT_USAGE;
        }
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)len, a);
        p->name = name;
        const char *value = NULL;
        if (o->arg) {
            if (inline_value) {
                value = inline_value;
            } else if (i + 1 < argc) {
                value = argv[++i];
            } else {
                cli_error(p->t.common, "option %s needs a value (%s)", name, o->arg);
                return EXIT_USAGE;
            }
        } else if (inline_value) {
            cli_error(p->t.common, "option %s takes no value", name);
            return EXIT_USAGE;
        }
        void *base = target_base(p, g->target);
        if (!base) {
            cli_error(p->t.common, "option %s: internal error: no target for its group '%s'", name, g->title);
            return EXIT_FAILURE_RUN;
        }
        p->argv = argv;
        p->argc = argc;
        p->next = i + 1;
        if (!o->set(p, o, (char *)base + o->offset, value)) {
            return EXIT_USAGE;
        }
        i = p->next - 1;
        if (p->help) {
            cli_print_help(cmd, stdout);
            return EXIT_OK;
        }
        if (p->done) {
            return EXIT_OK;
        }
        bool seen = false;
        for (size_t k = 0; k < p->n_seen; k++) {
            seen = seen || p->seen[k] == o;
        }
        if (!seen && p->n_seen < CLI_MAX_SEEN) {
            p->seen[p->n_seen++] = o;
        }
        p->name = NULL;
    }
    /* The flag tests (tests/cli/test_cli_flags.sh) ask every command to parse every flag and stop there. */
    const char *parse_only = getenv("LLAMAC_PARSE_ONLY");
    return parse_only && parse_only[0] == '1' ? EXIT_OK : -1;
}

/* ---- setters ---- */

static bool parse_long(struct cli_parser *p, const struct cli_opt *o, const char *s, long *out) {
    return cli_int(p->t.common, p->name, s, o->min, o->max, out);
}

bool cli_set_true(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)p;
    (void)o;
    (void)value;
    *(bool *)field = true;
    return true;
}

bool cli_set_false(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)p;
    (void)o;
    (void)value;
    *(bool *)field = false;
    return true;
}

bool cli_set_ignored(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)p;
    (void)o;
    (void)field;
    (void)value;
    return true;
}

bool cli_set_refused(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)field;
    (void)value;
    cli_error(p->t.common, "%s is llama-server's, not offered by llamac %s: %s", p->name, p->cmd->name, o->help);
    return false;
}

bool cli_set_str(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)p;
    (void)o;
    *(const char **)field = value;
    return true;
}

bool cli_set_i32(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!parse_long(p, o, value, &n)) {
        return false;
    }
    *(int32_t *)field = (int32_t)n;
    return true;
}

bool cli_set_u32(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!parse_long(p, o, value, &n)) {
        return false;
    }
    *(uint32_t *)field = (uint32_t)n;
    return true;
}

bool cli_set_i64(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!parse_long(p, o, value, &n)) {
        return false;
    }
    *(int64_t *)field = (int64_t)n;
    return true;
}

bool cli_set_long(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    return parse_long(p, o, value, (long *)field);
}

bool cli_set_unsigned(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!parse_long(p, o, value, &n)) {
        return false;
    }
    *(unsigned *)field = (unsigned)n;
    return true;
}

bool cli_set_size(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    long n;
    if (!parse_long(p, o, value, &n)) {
        return false;
    }
    *(size_t *)field = (size_t)n;
    return true;
}

bool cli_set_float(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return cli_float(p->t.common, p->name, value, (float *)field);
}

bool cli_set_choice(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    char words[256] = "";
    size_t at = 0;
    for (const struct cli_choice *c = o->choices; c->name; c++) {
        if (strcmp(c->name, value) == 0) {
            *(int *)field = c->value;
            return true;
        }
        bool last = !c[1].name;
        int w = snprintf(words + at, sizeof words - at, "%s%s%s",
                         c == o->choices ? ""
                         : last          ? " or "
                                         : ", ",
                         c->name, "");
        at = w > 0 && (size_t)w < sizeof words - at ? at + (size_t)w : at;
    }
    cli_error(p->t.common, "invalid value '%s' for %s (expected %s)", value, p->name, words);
    return false;
}

/* ---- help ---- */

enum { HELP_WIDTH = 112, HELP_COLUMN = 32 };

/* Prints `text` word-wrapped from column `col` (the cursor is there now) to HELP_WIDTH, continuation lines indented
 * to `indent`; '\n' in the text starts a new line. */
static void print_wrapped(FILE *out, const char *text, int col, int indent) {
    const char *s = text;
    while (*s) {
        if (*s == '\n') {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
            s++;
            continue;
        }
        size_t word = strcspn(s, " \n");
        if (col > indent && col + 1 + (int)word > HELP_WIDTH) {
            fprintf(out, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', out);
            col++;
        }
        fwrite(s, 1, word, out);
        col += (int)word;
        s += word;
        while (*s == ' ') {
            s++;
        }
    }
    fputc('\n', out);
}

static int print_names(FILE *out, const struct cli_opt *o) {
    int col = fprintf(out, "  ");
    for (size_t k = 0; k < CLI_MAX_NAMES && o->names[k]; k++) {
        col += fprintf(out, "%s%s", k ? ", " : "", o->names[k]);
    }
    if (o->arg) {
        col += fprintf(out, " %s", o->arg);
    }
    return col;
}

void cli_print_help(const struct cli_command *cmd, FILE *out) {
    const char *s = cmd->synopsis;
    bool first = true;
    while (s) {
        const char *nl = strchr(s, '\n');
        int n = nl ? (int)(nl - s) : (int)strlen(s);
        fprintf(out, "%s llamac %s %.*s\n", first ? "usage:" : "      ", cmd->name, n, s);
        first = false;
        s = nl ? nl + 1 : NULL;
    }
    if (cmd->about) {
        fputc('\n', out);
        print_wrapped(out, cmd->about, 0, 0);
    }
    for (size_t g = 0; cmd->groups[g]; g++) {
        fprintf(out, "\n%s:\n", cmd->groups[g]->title);
        for (size_t i = 0; i < cmd->groups[g]->n_opts; i++) {
            const struct cli_opt *o = &cmd->groups[g]->opts[i];
            int col = print_names(out, o);
            if (col + 2 > HELP_COLUMN) {
                fprintf(out, "\n%*s", HELP_COLUMN, "");
            } else {
                fprintf(out, "%*s", HELP_COLUMN - col, "");
            }
            print_wrapped(out, o->help, HELP_COLUMN, HELP_COLUMN);
        }
    }
    if (cmd->notes) {
        fputc('\n', out);
        print_wrapped(out, cmd->notes, 0, 0);
    }
}

void cli_print_options(const struct cli_command *cmd, FILE *out) {
    for (size_t g = 0; cmd->groups[g]; g++) {
        for (size_t i = 0; i < cmd->groups[g]->n_opts; i++) {
            const struct cli_opt *o = &cmd->groups[g]->opts[i];
            fprintf(out, "%s\t", cmd->groups[g]->title);
            for (size_t k = 0; k < CLI_MAX_NAMES && o->names[k]; k++) {
                fprintf(out, "%s%s", k ? "," : "", o->names[k]);
            }
            fprintf(out, "\t%s\t", o->arg ? o->arg : "");
            for (const char *h = o->help; *h; h++) {
                fputc(*h == '\n' || *h == '\t' ? ' ' : *h, out);
            }
            fputc('\n', out);
        }
    }
}

/* ---- man pages ---- */

/* Writes text for roff: a backslash is \e, every '-' is \- (a minus, so that no line breaks inside a flag and copied
 * text is ASCII), and a line never starts with '.' or '\'' (a request). '\n' in the text breaks the line. */
static void man_text(FILE *out, const char *text) {
    bool line_start = true;
    for (const char *s = text; *s; s++) {
        if (line_start && (*s == '.' || *s == '\'')) {
            fputs("\\&", out);
        }
        line_start = false;
        if (*s == '\\') {
            fputs("\\e", out);
        } else if (*s == '-') {
            fputs("\\-", out);
        } else if (*s == '\n') {
            fputs("\n.br\n", out);
            line_start = true;
        } else {
            fputc(*s, out);
        }
    }
}

/* The page's header and NAME section; `name` is the page's name ("llamac-serve"). */
static void man_head(FILE *out, const char *name, const char *summary, const char *version) {
    fputs(".TH \"", out);
    for (const char *s = name; *s; s++) {
        fputc(*s >= 'a' && *s <= 'z' ? *s - 'a' + 'A' : *s, out);
    }
    /* not hyphenated, not justified: flags in the text stay whole */
    fprintf(out, "\" 1 \"\" \"llamac %s\" \"llamac manual\"\n.nh\n.ad l\n.SH NAME\n", version);
    man_text(out, name);
    fputs(" \\- ", out);
    man_text(out, summary);
    fputc('\n', out);
}

void cli_print_man(const struct cli_command *cmd, const char *version, FILE *out) {
    char page[64];
    snprintf(page, sizeof page, "llamac-%s", cmd->name);
    man_head(out, page, cmd->summary, version);
    fputs(".SH SYNOPSIS\n.nf\n", out);
    for (const char *s = cmd->synopsis; s;) {
        const char *nl = strchr(s, '\n');
        fprintf(out, "\\fBllamac %s\\fR ", cmd->name);
        char line[512];
        snprintf(line, sizeof line, "%.*s", nl ? (int)(nl - s) : (int)strlen(s), s);
        man_text(out, line);
        fputc('\n', out);
        s = nl ? nl + 1 : NULL;
    }
    fputs(".fi\n", out);
    if (cmd->about) {
        fputs(".SH DESCRIPTION\n", out);
        man_text(out, cmd->about);
        fputc('\n', out);
    }
    fputs(".SH OPTIONS\n", out);
    for (size_t g = 0; cmd->groups[g]; g++) {
        fputs(".SS \"", out);
        man_text(out, cmd->groups[g]->title);
        fputs("\"\n", out);
        for (size_t i = 0; i < cmd->groups[g]->n_opts; i++) {
            const struct cli_opt *o = &cmd->groups[g]->opts[i];
            fputs(".TP\n", out);
            for (size_t k = 0; k < CLI_MAX_NAMES && o->names[k]; k++) {
                fprintf(out, "%s\\fB", k ? ", " : "");
                man_text(out, o->names[k]);
                fputs("\\fR", out);
            }
            if (o->arg) {
                fputs(" \\fI", out);
                man_text(out, o->arg);
                fputs("\\fR", out);
            }
            fputc('\n', out);
            man_text(out, o->help);
            fputc('\n', out);
        }
    }
    if (cmd->notes) {
        fputs(".SH NOTES\n", out);
        man_text(out, cmd->notes);
        fputc('\n', out);
    }
    fputs(".SH SEE ALSO\n\\fBllamac\\fR(1)\n", out);
}

void cli_print_man_index(const struct cli_command *const *cmds, const char *version, FILE *out) {
    man_head(out, "llamac", "run, serve, convert and inspect GGUF language models (llama.cpp)", version);
    fputs(
        ".SH SYNOPSIS\n.nf\n\\fBllamac\\fR \\fICOMMAND\\fR [options]\n\\fBllamac\\fR \\fICOMMAND\\fR \\-\\-help\n"
        "\\fBllamac help \\-\\-options\\fR \\fICOMMAND\\fR\n\\fBllamac \\-\\-version\\fR\n.fi\n"
        ".SH DESCRIPTION\nEach command has its own page, \\fBllamac\\-\\fR\\fICOMMAND\\fR(1), generated from the same "
        "option table as its \\-\\-help. \\fBllamac help \\-\\-options\\fR \\fICOMMAND\\fR prints that table "
        "(group, names, value, help; tab\\-separated); \\fBllamac \\-\\-version\\fR the versions and compiled "
        "backends.\n.SH COMMANDS\n",
        out);
    for (size_t i = 0; cmds[i]; i++) {
        fputs(".TP\n\\fB", out);
        man_text(out, cmds[i]->name);
        fputs("\\fR\n", out);
        man_text(out, cmds[i]->summary);
        fprintf(out, " (\\fBllamac\\-");
        man_text(out, cmds[i]->name);
        fputs("\\fR(1))\n", out);
    }
    fputs(".SH SEE ALSO\n", out);
    for (size_t i = 0; cmds[i]; i++) {
        fputs(i ? ",\n\\fBllamac\\-" : "\\fBllamac\\-", out);
        man_text(out, cmds[i]->name);
        fputs("\\fR(1)", out);
    }
    fputc('\n', out);
}
