/*
 * options.h - declarative option tables: one table per command drives both the parser and --help.
 *
 * A command is data (struct cli_command): a synopsis, a paragraph and a list of option groups. Groups every
 * model-using command shares (model, context, sampling, logging, ...) are defined once in cli.c and listed by each
 * command that takes them, so a flag is spelled and means the same everywhere. Each row holds an option's metadata
 * (every spelling, the value's name, its help, the library field it sets) and a setter; the parser finds an argument
 * by name in the command's groups and calls the setter with the address of the field the row names. --help, the
 * machine-readable listing (`llamac help --options CMD`) and the man pages (`llamac help --man [CMD]`) are printed from
 * the same rows, so the parser and the documentation cannot disagree.
 *
 * Adding a flag to a command:
 *   1. a field for it in the group's target (for serve: struct serve_opts, or the server_options / engine params
 *      inside it; for a command's own flags: its *_opts struct);
 *   2. one row in the group: every spelling in llama.cpp's order (common/arg.cpp), the value's name (NULL for a
 *      switch), one sentence of help with the default, a setter (cli_set_str, cli_set_i32 with .min/.max,
 *      cli_set_float, cli_set_true, cli_set_choice with .choices, ...) and .offset = offsetof(target, field); a value
 *      that needs more than a number, a word or a string gets a small setter of its own beside the table; .field
 *      names the library params field it sets, when library messages name it;
 *   3. a flag several commands take goes into a shared group in cli.c (listed by each command) instead, so that it
 *      is defined once. tests/cli/test_cli_flags.sh then checks the new spelling in every command that lists it
 *      (add a case to its `sample` function if the value's name is new), and --help shows it.
 */
#ifndef LLAMAC_CLI_OPTIONS_H
#define LLAMAC_CLI_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

struct cli_parser;
struct cli_opt;

/* Stores an option: `field` is the address the row names (its group's target plus the row's offset), `value` the
 * argument (NULL for a switch). Prints the error (naming p->name, the flag as typed) and returns false on a bad
 * value. */
typedef bool (*cli_setter)(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);

/* One accepted word of a choice option and the int it stores. */
struct cli_choice {
    const char *name;
    int value;
};

#define CLI_MAX_NAMES 5

struct cli_opt {
    const char *names[CLI_MAX_NAMES]; /* every spelling; llama.cpp's order (short first) where llama.cpp has it */
    const char *arg;                  /* the value's name in help ("N", "FILE"); NULL: a switch that takes none */
    const char *help;                 /* what it does, with the default; wrapped when printed */
    cli_setter set;
    size_t offset;                    /* of the field within the group's target */
    long min, max;                    /* integer setters: the accepted range */
    const struct cli_choice *choices; /* cli_set_choice: the words, ended by a { NULL } entry */
    const char *field;                /* the library's name for what it sets ("n_ctx"), so that a library message
                                         reaching the user can be told in this flag (cli_lib_error); or NULL */
};

/* What a group's offsets are relative to: the command hands one object of each kind it uses to cli_parse. */
enum cli_target {
    CLI_TARGET_COMMON,     /* struct cli_common */
    CLI_TARGET_SAMPLING,   /* llamac_sampling_params (struct cli_sampling's params) */
    CLI_TARGET_GENERATE,   /* struct cli_generate */
    CLI_TARGET_CONSTRAINT, /* struct cli_constraint */
    CLI_TARGET_CHAT,       /* struct cli_chat */
    CLI_TARGET_PROMPT,     /* struct cli_prompt */
    CLI_TARGET_SPEC,       /* struct cli_spec */
    CLI_TARGET_COMMAND     /* the command's own options struct */
};

struct cli_group {
    const char *title;
    enum cli_target target;
    const struct cli_opt *opts;
    size_t n_opts;
};

#define CLI_GROUP(title, target, rows)                                                                                 \
    { title, target, rows, sizeof rows / sizeof rows[0] }

struct cli_command {
    const char *name;
    const char *summary;                   /* one line, for `llamac --help` */
    const char *synopsis;                  /* after "usage: llamac NAME "; each '\n' starts another usage line */
    const char *about;                     /* paragraphs before the options; NULL: none */
    const struct cli_group *const *groups; /* NULL-terminated */
    const char *notes;                     /* text after the options; NULL: none */
    int (*run)(int argc, char **argv);
};

/* The commands, in the order `llamac --help` lists them (main.c). */
extern const struct cli_command *const cli_commands[];

struct cli_common;
struct cli_sampling;
struct cli_generate;
struct cli_constraint;
struct cli_chat;
struct cli_prompt;
struct cli_spec;

/* The objects a command's groups write into; NULL for kinds the command does not use. */
struct cli_targets {
    struct cli_common *common; /* always: errors name its command */
    struct cli_sampling *sampling;
    struct cli_generate *generate;
    struct cli_constraint *constraint;
    struct cli_chat *chat;
    struct cli_prompt *prompt;
    struct cli_spec *spec;
    void *command;
};

#define CLI_MAX_SEEN 128

struct cli_parser {
    const struct cli_command *cmd;
    struct cli_targets t;
    const char *name; /* the option being set, as typed (for messages) */
    const struct cli_opt *seen[CLI_MAX_SEEN];
    size_t n_seen;
    char **pos; /* the positional arguments in order (they are moved to the front of argv) */
    int n_pos;
    bool help;   /* -h/--help was given */
    bool done;   /* a setter printed what was asked (--version): the parse ends with EXIT_OK */
    char **argv; /* the command line, and the index of the argument after the current option's value: a setter */
    int argc;    /* whose option takes a second value reads it with cli_next_value */
    int next;
};

/* Parses argv[1..argc) with cmd's table into the targets; positional arguments go to p->pos. Returns -1 to go on,
 * EXIT_OK after printing --help, EXIT_USAGE after printing an error. "--" ends the options; "--name=value" is
 * accepted for options that take a value. With LLAMAC_PARSE_ONLY=1 in the environment it returns EXIT_OK after a
 * successful parse, so that tests can check every flag of every command without running any. */
int cli_parse(struct cli_parser *p, const struct cli_command *cmd, const struct cli_targets *t, int argc, char **argv);

/* For a setter whose option takes two values (llama.cpp's --control-vector-layer-range START END): the argument after
 * the first value, which the parser then skips; NULL (with the error printed) when there is none. */
const char *cli_next_value(struct cli_parser *p, const struct cli_opt *o);

/* Whether the option that `name` spells was given. */
bool cli_given(const struct cli_parser *p, const char *name);

/* The row `name` spells in cmd's table, or NULL. */
const struct cli_opt *cli_find(const struct cli_command *cmd, const char *name);

/* The command's --help, generated from its table. */
void cli_print_help(const struct cli_command *cmd, FILE *out);

/* One line per option, tab-separated: group title, names (comma-separated), value name ("" for a switch), help.
 * For tests and generated documentation. */
void cli_print_options(const struct cli_command *cmd, FILE *out);

/* The command's man page (roff, section 1: llamac-NAME) from the same rows as --help; `version` goes in its
 * footer. */
void cli_print_man(const struct cli_command *cmd, const char *version, FILE *out);

/* The llamac(1) page: the commands of `cmds` (NULL-terminated) with their summaries, pointing to their pages. */
void cli_print_man_index(const struct cli_command *const *cmds, const char *version, FILE *out);

/* Setters for plain fields. Integers are range-checked with the row's min and max. */
bool cli_set_true(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_false(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_ignored(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
/* Refuses the flag: an error naming it, with its help text as the reason (llama-server's flags llamac does not offer).
 */
bool cli_set_refused(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_str(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_i32(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_u32(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_i64(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_long(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_unsigned(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_size(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_float(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_choice(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value); /* an int */

#endif /* LLAMAC_CLI_OPTIONS_H */
