/*
 * cli.h - what the subcommands of `llamac` share: exit codes, option parsing, model loading, output helpers.
 *
 * Flags follow llama.cpp's names wherever llama.cpp has the same option, so a command line written for
 * llama-cli or llama-server carries over. Results go to stdout, everything else (progress, logs, errors) to
 * stderr; an error is one line "llamac CMD: message".
 */
#ifndef LLAMAC_CLI_H
#define LLAMAC_CLI_H

#include "llamac.h"

#include <stdbool.h>
#include <stddef.h>

/* Exit statuses, documented in the README. */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUN = 1,  /* the work failed: model did not load, generation failed, ... */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_INTERRUPTED = 130 /* stopped by Ctrl-C */
};

/* Options every model-using command shares. */
struct cli_common {
    const char *cmd;
    const char *model_path;
    bool quiet;
    bool verbose;
    llamac_model_params model;
    llamac_ctx_params ctx;
    llamac_kv_override overrides[32];
    char override_keys[32][128];
    size_t n_overrides;
    const char *hf_repo;      /* -hf OWNER/REPO[:QUANT]: the model comes from the Hugging Face cache (cmd_pull.c) */
    const char *hf_file;      /* --hf-file: that file of the repo */
    const char *hf_token;     /* -hft: the Hub token (default: the environment's) */
    bool offline;             /* --offline: only the cache */
    char hf_model_path[4096]; /* where -hf found the model */
};

void cli_common_init(struct cli_common *c, const char *cmd);

/* Result of offering an argument to a parser. */
enum cli_parse { CLI_NOT_MINE = 0, CLI_TAKEN = 1, CLI_ERROR = -1 };

/* Tries the shared options at argv[*i]; advances *i past a value it consumes. */
enum cli_parse cli_parse_common(struct cli_common *c, int argc, char **argv, int *i);

/* Parses one --override-kv KEY=TYPE:VALUE into c->overrides (c->model.kv_overrides); prints the error. */
bool cli_parse_override(struct cli_common *c, const char *s);

/* Tries the sampling flags of `llamac run` (--temp, --top-k, ..., -s/--seed) at argv[*i] into *s. */
enum cli_parse cli_parse_sampling(struct cli_common *c, llamac_sampling_params *s, int argc, char **argv, int *i);

/* Options of both chat front ends (`llamac chat` and `llamac chat --live`): -sys/--system/--system-prompt TEXT,
 * --chat-template-file FILE, --keep-turns N (default 2), and -n/--n-predict N (into cp->generate.max_tokens). */
struct cli_chat {
    const char *system;
    const char *template_file;
    long keep_turns;
    char *template_source; /* the file read by cli_chat_apply; the caller frees it */
};

enum cli_parse cli_parse_chat(struct cli_common *c, struct cli_chat *k, llamac_chat_params *cp, int argc, char **argv,
                              int *i);

/* Puts the options into cp (reading the template file). False, the error printed, when the file cannot be read. */
bool cli_chat_apply(struct cli_common *c, struct cli_chat *k, llamac_chat_params *cp);

/* Output constraints shared by run and chat: --grammar GBNF, --grammar-file FILE, -j/--json-schema SCHEMA (inline
 * JSON, or a file path), --json-schema-file FILE, --json (any JSON object). At most one may be given. */
struct cli_constraint {
    const char *grammar;
    const char *grammar_file;
    const char *json_schema;
    const char *json_schema_file;
    bool json;
    char *owned; /* the grammar read or converted; freed by cli_constraint_free */
};

/* Tries the constraint flags at argv[*i] into *k. */
enum cli_parse cli_parse_constraint(struct cli_common *c, struct cli_constraint *k, int argc, char **argv, int *i);

/* False (the error printed) when more than one of the flags was given: a usage error. */
bool cli_constraint_check(struct cli_common *c, const struct cli_constraint *k);

/* The GBNF grammar the flags ask for into *grammar (NULL when none; owned by k, valid until cli_constraint_free).
 * Prints the error and returns false on more than one flag, an unreadable file or an invalid schema. */
bool cli_constraint_grammar(struct cli_common *c, struct cli_constraint *k, const char **grammar);

void cli_constraint_free(struct cli_constraint *k);

/* The value after option argv[*i], or NULL (with an error printed) when it is missing. */
const char *cli_value(const struct cli_common *c, int argc, char **argv, int *i);

/* Number parsers: print "invalid value" and return false on anything that is not entirely a number in range. */
bool cli_int(const struct cli_common *c, const char *opt, const char *s, long min, long max, long *out);
bool cli_float(const struct cli_common *c, const char *opt, const char *s, float *out);

/* Prints "llamac CMD: message" on stderr. */
void cli_error(const struct cli_common *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Help text for the shared options. */
void cli_print_common_help(void);

/* Installs the log hook for --verbose (llama.cpp's log on stderr). */
void cli_setup_logging(const struct cli_common *c);

/* Loads c->model_path (or $LLAMAC_MODEL) with a progress bar on a terminal (model_source.c); prints the error and
 * returns NULL on failure. */
llamac_model *cli_load_model(struct cli_common *c, bool vocab_only);

/* Downloads (or finds in the cache) c->hf_repo / c->hf_file and points c->model_path at it (model_source.c);
 * prints the error and returns false on failure. cli_load_model calls it when -hf was given. */
bool cli_hub_model(struct cli_common *c);

/* Pulls `spec`/`file` from the Hub with a download bar on a terminal, where a name that matches no file or several
 * also gets a numbered picker. On failure the message is copied into err (model_source.c). */
llamac_status cli_hub_pull(const struct cli_common *c, const char *spec, const char *file,
                           const llamac_hub_params *params, llamac_hub_list **out, char *err, size_t cap);

/* The Hub parameters the flags say (--offline, -hft). */
llamac_hub_params cli_hub_params(const struct cli_common *c);

/* "1.5 GiB" style sizes. */
void cli_human_size(double bytes, char *buf, size_t cap);

/* Reads all of a stream / a file into a NUL-terminated buffer (caller frees with free). NULL on failure, with the
 * error printed. */
char *cli_read_all(const struct cli_common *c, const char *path_or_null, size_t *len);

/* Progress bar on stderr (progress.c): drawn only when stderr is a terminal and not quiet. */
struct progress {
    const char *label;
    bool enabled;
    int last_permille;
};
void progress_init(struct progress *p, const char *label, bool quiet);
bool progress_update(float fraction, void *user_data); /* llamac_progress_fn */
void progress_done(struct progress *p);

/* Subcommands. */
int cmd_run(int argc, char **argv);
int cmd_serve(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_template(int argc, char **argv);
int cmd_synth(int argc, char **argv);
int cmd_quantize(int argc, char **argv);
int cmd_info(int argc, char **argv);
int cmd_split(int argc, char **argv);
int cmd_merge(int argc, char **argv);
int cmd_embed(int argc, char **argv);
int cmd_rerank(int argc, char **argv);
int cmd_chat(int argc, char **argv);
int cmd_chat_live(int argc, char **argv); /* cmd_chat_live.c: `llamac chat --live` */
int cmd_kv(int argc, char **argv);
int cmd_pull(int argc, char **argv);
int cmd_rm(int argc, char **argv);

#endif /* LLAMAC_CLI_H */
