/*
 * cli.h - what the subcommands of `llamac` share: exit codes, the option groups, model loading, output helpers.
 *
 * Flags follow llama.cpp's names wherever llama.cpp has the same option, so a command line written for
 * llama-cli or llama-server carries over. Each command describes its options as a table (options.h) made of the
 * shared groups below plus its own rows. Results go to stdout, everything else (progress, logs, errors) to stderr;
 * an error is one line "llamac CMD: message" that names the command's flags, never the library's fields.
 */
#ifndef LLAMAC_CLI_H
#define LLAMAC_CLI_H

#include "llamac.h"
#include "options.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

/* Exit statuses, documented in the README. */
enum {
    EXIT_OK = 0,
    EXIT_FAILURE_RUN = 1,  /* the work failed: model did not load, generation failed, ... */
    EXIT_USAGE = 2,        /* bad command line */
    EXIT_NO_MEMORY = 75,   /* serve --memory-check: the model does not fit the memory available now (sysexits'
                              EX_TEMPFAIL: it may later) */
    EXIT_INTERRUPTED = 130 /* stopped by Ctrl-C */
};

#define CLI_MAX_OVERRIDES 32
#define CLI_MAX_TENSOR_RULES 1024   /* -ot rules, -cmoe's and -ncmoe's / -ncffn's one per layer included */
#define CLI_TENSOR_TEXT (64 * 1024) /* bytes for their patterns and buffer type names */
#define CLI_MAX_SPLIT 16            /* -ts entries (ggml RPC takes at most 16 servers) */

/* LoRA adapters and control vectors (cli_adapter.c): --lora, --lora-scaled, --control-vector, --control-vector-scaled
 * and --control-vector-layer-range (cli_group_adapters), as llama.cpp's; serve adds --lora-init-without-apply. */
#define CLI_MAX_ADAPTERS 16
struct cli_adapter_file {
    const char *path; /* points into the command line */
    float scale;
};
struct cli_adapters {
    struct cli_adapter_file lora[CLI_MAX_ADAPTERS], cvec[CLI_MAX_ADAPTERS];
    size_t n_lora, n_cvec;
    int32_t layer_start, layer_end; /* 0: llama.cpp's default */
    llamac_adapter *loaded[CLI_MAX_ADAPTERS];
    llamac_cvec *cvecs[CLI_MAX_ADAPTERS];
};

/* The multimodal options (cli_media.c), as llama-mtmd-cli and llama-server name them: the projector (--mmproj FILE,
 * or the one -hf found; --no-mmproj: none), --no-mmproj-offload, --image-min-tokens N,
 * --image-max-tokens N (cli_group_mmproj: run, chat, serve), and --image FILE / --audio FILE (repeatable; the media in
 * their order; cli_group_media: run, chat). */
#define CLI_MAX_MEDIA 64
struct cli_media {
    const char *mmproj;     /* --mmproj */
    const char *mmproj_url; /* --mmproj-url */
    bool no_mmproj;         /* --no-mmproj */
    llamac_mmproj_params params;
    const char *files[CLI_MAX_MEDIA];
    llamac_media_type types[CLI_MAX_MEDIA];
    size_t n_files;
};

/* Options every command shares (model source, loading, context, logging); the target of CLI_TARGET_COMMON. */
struct cli_common {
    const char *cmd;                /* the command's name, for messages */
    const struct cli_command *spec; /* its option table (set by cli_parse), to name flags in messages */
    const char *model_path;         /* -m, or the first positional MODEL.gguf */
    bool quiet;                     /* -q, --log-disable: no progress bar, notes or status lines */
    bool verbose;                   /* -v: the log at every level */
    long verbosity;                 /* -lv N (llama.cpp's scale 0-5); -1: not given */
    const char *log_file;           /* --log-file: the log goes there instead of stderr */
    bool log_disable;               /* --log-disable */
    bool threads_given;             /* -t was given (else cli_prepare_context picks a count) */
    bool gpu_layers_given;          /* -ngl was given (else --rpc means all layers) */
    const atomic_bool *stop;        /* NULL, or set (by another thread: a signal) to abandon a download or a load */
    float split[CLI_MAX_SPLIT];     /* -ts, pointed to by model.tensor_split */
    llamac_model_params model;
    llamac_ctx_params ctx;
    llamac_kv_override overrides[CLI_MAX_OVERRIDES];
    char override_keys[CLI_MAX_OVERRIDES][128];
    char override_strs[CLI_MAX_OVERRIDES][128]; /* their string values */
    size_t n_overrides;
    /* -ot, -cmoe, -ncmoe, -ncffn in their order (pointed to by model.tensor_overrides), their text in tensor_text */
    llamac_tensor_override tensor_rules[CLI_MAX_TENSOR_RULES];
    char tensor_text[CLI_TENSOR_TEXT];
    size_t tensor_text_used;
    int numa;                     /* --numa: a llamac_numa, set by cli_load_model before it loads */
    const char *hf_repo;          /* -hf OWNER/REPO[:QUANT]: the model comes from the Hugging Face cache */
    const char *hf_file;          /* --hf-file: that file of the repo */
    const char *hf_token;         /* -hft: the Hub token (default: the environment's) */
    bool offline;                 /* --offline: only the cache */
    char hf_model_path[4096];     /* where -hf found the model */
    bool hf_want_mmproj;          /* -hf also fetches the repo's projector (cli_media_check decides) */
    char hf_mmproj_path[4096];    /* where -hf found it; "" when the repo has none */
    FILE *log;                    /* where cli_log writes: stderr, or the --log-file (cli_setup_logging opens it) */
    struct cli_adapters adapters; /* --lora, --control-vector, ... (cli_group_adapters) */
    struct cli_media media;       /* --mmproj, --image, ... (cli_group_mmproj, cli_group_media) */
};

void cli_common_init(struct cli_common *c, const char *cmd);

/* Sampling flags (--temp, --top-k, ..., --ignore-eos, -l, -s): the target of CLI_TARGET_SAMPLING writes into
 * *params. */
struct cli_sampling {
    llamac_sampling_params *params;
    llamac_logit_bias biases[64]; /* -l/--logit-bias, pointed to by params->logit_bias */
    size_t n_biases;
    llamac_sampler_type order[64]; /* --samplers / --sampler-seq, pointed to by params->samplers */
    const char *breakers[64];      /* --dry-sequence-breaker (escapes processed, in breaker_text), pointed to by
                                      params->dry_sequence_breakers */
    size_t n_breakers;
    char breaker_text[4096];
    size_t breaker_used;
};

/* Generation flags (-n, -r): CLI_TARGET_GENERATE writes into *params. */
struct cli_generate {
    llamac_generate_params *params;
    const char *stops[64]; /* -r/--reverse-prompt, pointed to by params->stop */
    size_t n_stops;
};

/* Output constraints shared by run and chat: --grammar GBNF, --grammar-file FILE, -j/--json-schema SCHEMA (inline
 * JSON, or a file path), -jf/--json-schema-file FILE, --json (any JSON object). At most one may be given. */
struct cli_constraint {
    const char *grammar;
    const char *grammar_file;
    const char *json_schema;
    const char *json_schema_file;
    bool json;
    char *owned; /* the grammar read or converted; freed by cli_constraint_free */
};

/* Chat template and conversation flags (chat, serve, template): --chat-template-file, --chat-template-kwargs,
 * --reasoning, --jinja, and for chat -sys, --keep-turns, --session. */
struct cli_chat {
    const char *system;
    const char *template_file;
    const char *template_name; /* --chat-template: one of llama.cpp's built-in formats, or a template's text */
    const char *kwargs;
    const char *session;
    long keep_turns;
    int thinking; /* --reasoning: a llamac_thinking */
    bool jinja;
};

/* The prompt of run and tokenize: -p TEXT, -f FILE, --no-bos, --parse-special. */
struct cli_prompt {
    const char *text;
    const char *file;
    bool no_bos;
    bool parse_special;
};

/* Speculative decoding of run, chat and serve (cli_spec.c), the target of CLI_TARGET_SPEC: -md/--model-draft FILE,
 * -hfd REPO, --spec-type LIST, --spec-draft-n-max/-n-min/-p-min, --spec-ngram-size-n, -ngld, -cd, -td, -ctkd, -ctvd,
 * with llama.cpp's older aliases. */
struct cli_spec {
    const char *model_path;
    const char *hf_repo; /* -hfd OWNER/REPO[:QUANT]: the draft model from the Hub (model_path then points at hf_path) */
    char hf_path[4096];
    bool want_draft; /* --spec-type named draft-simple */
    bool type_given; /* --spec-type was given */
    int32_t n_gpu_layers;
    uint32_t n_ctx;                /* 0: the target's */
    int32_t n_threads;             /* 0: the target's */
    llamac_kv_type type_k, type_v; /* the draft's KV cache (default F16, as llama.cpp's) */
    llamac_spec_params params;
    int32_t ngram_min;   /* --spec-ngram-size-n-min (0: not given, n-grams of exactly --spec-ngram-size-n tokens) */
    llamac_model *model; /* opened by cli_spec_open */
    llamac_context *ctx;
};

void cli_spec_init(struct cli_spec *k);
/* False (the error printed) for contradictory flags: a usage error. */
bool cli_spec_check(struct cli_common *c, const struct cli_spec *k);
/* Whether any speculative-decoding flag was given. */
bool cli_spec_given(const struct cli_spec *k);
/* Loads the draft model (refusing one whose vocabulary is not `target`'s) and its context, like the target's
 * `target_cp` unless -cd/-td say otherwise, and fills *out; false with the error printed. */
bool cli_spec_open(struct cli_common *c, struct cli_spec *k, llamac_model *target, const llamac_ctx_params *target_cp,
                   llamac_spec_params *out);
/* Whether the flags ask for the draft model (-md, unless --spec-type leaves draft-simple out). */
bool cli_spec_wants_model(const struct cli_spec *k);
/* Loads the draft model into k->model (its -ngld), refusing one whose vocabulary is not `target`'s; false with the
 * error printed. cli_spec_open calls it; serve, which gives the model to its engine, too. */
bool cli_spec_load_model(struct cli_common *c, struct cli_spec *k, llamac_model *target);
void cli_spec_close(struct cli_spec *k);

/* The shared groups, in the order commands list them. */
extern const struct cli_group cli_group_adapters; /* --lora, --lora-scaled, --control-vector[-scaled], ... */
extern const struct cli_group cli_group_mmproj;   /* --mmproj, --no-mmproj, --no-mmproj-offload, ... (cli_media.c) */
extern const struct cli_group cli_group_media;    /* --image, --audio (cli_media.c) */
extern const struct cli_group cli_group_model;    /* -m, -hf, -hff */
extern const struct cli_group cli_group_hub;      /* -hft, --offline */
extern const struct cli_group cli_group_load;     /* -ngl, -lm, --no-mmap, --mlock, --check-tensors, --override-kv, -ot,
                                                     -cmoe, -ncmoe, --numa, ... */
extern const struct cli_group cli_group_context;  /* -c, -b, -ub, -t, -tb, -fa, -ctk, -ctv, -nkvo, ... */
extern const struct cli_group cli_group_rope;     /* --rope-scaling, --rope-scale, --rope-freq-*, --yarn-* */
extern const struct cli_group cli_group_rotation; /* --attn-rot */
extern const struct cli_group cli_group_sequences;  /* -np (embed, rerank, kv; serve has its own: slots) */
extern const struct cli_group cli_group_prompt;     /* -p, -f, --no-bos, --parse-special */
extern const struct cli_group cli_group_generate;   /* -n, -r */
extern const struct cli_group cli_group_sampling;   /* --temp ... --ignore-eos, -l, -s */
extern const struct cli_group cli_group_constraint; /* --grammar, --grammar-file, -j, -jf, --json */
extern const struct cli_group cli_group_spec;       /* -md, --spec-type, --spec-draft-*, -ngld, -cd, -td (cli_spec.c) */
extern const struct cli_group cli_group_template;   /* --chat-template-file, --chat-template-kwargs, --reasoning, ... */
extern const struct cli_group cli_group_log;        /* -h, -q, -v, -lv, --log-file, --log-disable */

/* Loads every adapter file for `model`; false (the library's error printed, naming the file) when one is refused. */
bool cli_adapters_load(struct cli_common *c, struct cli_adapters *a, llamac_model *model);

/* Applies the loaded set to `ctx`; false with the error printed. */
bool cli_adapters_apply(struct cli_common *c, const struct cli_adapters *a, llamac_context *ctx);

void cli_adapters_free(struct cli_adapters *a);

/* Parses one --override-kv KEY=TYPE:VALUE into c->overrides (c->model.kv_overrides); prints the error. */
bool cli_parse_override(struct cli_common *c, const char *s);

/* The setter of --override-kv (a row of a CLI_TARGET_COMMON group), for commands that list it in their own group. */
bool cli_set_override(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);

/* Setters of -t/-tb (-1 or 0: llamac's choice, stored as 0; -t marks threads_given) and -ngl (a count, or all / auto
 * for every layer), for rows of other groups that take the same values (-td, -ngld). */
bool cli_set_threads(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
bool cli_set_gpu_layers(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);
/* Setter of -ctk/-ctv (a KV-cache type by name), for rows of other groups that take the same values (-ctkd, -ctvd). */
bool cli_set_kv_type(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value);

/* False (the error printed) when more than one of the flags was given: a usage error. */
bool cli_constraint_check(struct cli_common *c, const struct cli_constraint *k);

/* The GBNF grammar the flags ask for into *grammar (NULL when none; owned by k, valid until cli_constraint_free).
 * Prints the error and returns false on more than one flag, an unreadable file or an invalid schema. */
bool cli_constraint_grammar(struct cli_common *c, struct cli_constraint *k, const char **grammar);

void cli_constraint_free(struct cli_constraint *k);

/* Loads the projector the flags name (--mmproj, else -hf's) for model into *out: NULL when there is
 * none and no media were asked for. False, with the error printed, when it does not load or media need one that is
 * not there. */
bool cli_load_mmproj(struct cli_common *c, llamac_model *model, llamac_mmproj **out);

/* False (the error printed) when the multimodal flags contradict each other: a usage error. Else decides whether -hf
 * fetches the repo's projector (c->hf_want_mmproj): when media were given, or `always` (chat and serve, where media may
 * come later), and neither --mmproj nor --no-mmproj was. */
bool cli_media_check(struct cli_common *c, bool always);

/* Loads one medium from `path`, which must be of `type` (`flag` names the option or command in errors). NULL, with
 * the error printed, on failure. */
llamac_media *cli_load_medium(const struct cli_common *c, llamac_mmproj *proj, const char *flag, const char *path,
                              llamac_media_type type);
/* Number parsers: print "invalid value" and return false on anything that is not entirely a number in range. */
bool cli_int(const struct cli_common *c, const char *opt, const char *s, long min, long max, long *out);
bool cli_float(const struct cli_common *c, const char *opt, const char *s, float *out);

/* Prints "llamac CMD: message" on stderr. */
void cli_error(const struct cli_common *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* Prints "llamac CMD: prefix: <llamac_last_error()>" (prefix may be NULL), with the names of library fields that
 * the command has a flag for ("n_ctx", "flash_attn") replaced by the flag ("-c", "-fa"): a library message that
 * reaches a command-line user speaks in flags. */
void cli_lib_error(const struct cli_common *c, const char *prefix);

/* "llamac CMD: warning: ..." / "llamac CMD: note: ..." on stderr, unless -q or --log-disable. */
void cli_warn(const struct cli_common *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;
void cli_note(const struct cli_common *c, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 2, 3)))
#endif
    ;

/* A line of log (timings, decisions) at `level`: written to the log (stderr, or --log-file) when -v, -lv or
 * --log-file asked for that level. */
void cli_log(const struct cli_common *c, llamac_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* Whether cli_log writes lines of `level`. */
bool cli_log_enabled(const struct cli_common *c, llamac_log_level level);

/* Opens --log-file and installs the library's log hook as -v / -lv / --log-file ask. False (the error printed) when
 * the log file cannot be opened. Call once, after parsing; cli_common_close closes the file. */
bool cli_setup_logging(struct cli_common *c);
void cli_common_close(struct cli_common *c);

/* Takes the first positional argument as the model when no -m or -hf was given and the command takes one model:
 * always when `only_model` (the command takes no other positional arguments), else when it ends in ".gguf". Removes
 * it from p->pos. */
void cli_positional_model(struct cli_common *c, struct cli_parser *p, bool only_model);

/* Loads c->model_path (or -hf, or $LLAMAC_MODEL) with a progress bar on a terminal (model_source.c). On failure it
 * prints what is wrong with the file (the GGUF analysis of `llamac info`, or that the file holds only a vocabulary)
 * and returns NULL. */
llamac_model *cli_load_model(struct cli_common *c, bool vocab_only);

/* The model file the command will load (-m, the -hf download, or $LLAMAC_MODEL), or NULL. */
const char *cli_model_path(const struct cli_common *c);

/* Downloads (or finds in the cache) c->hf_repo / c->hf_file and points c->model_path at it (model_source.c); prints
 * the error and returns false on failure. cli_load_model calls it when -hf was given. */
bool cli_hub_model(struct cli_common *c);

/* Pulls `spec`/`file` from the Hub with a download bar; on a terminal a name that matches no file or several gets a
 * numbered picker. On failure the message is copied into err (model_source.c). */
llamac_status cli_hub_pull(const struct cli_common *c, const char *spec, const char *file,
                           const llamac_hub_params *params, llamac_hub_list **out, char *err, size_t cap);

/* Downloads `url` (or finds the earlier download: llamac_hub_download_url) with a download bar; *path caller frees
 * with llamac_free. Prints the error, naming `flag`, and returns false on failure (model_source.c). */
bool cli_download_url(const struct cli_common *c, const char *flag, const char *url, char **path);

/* The Hub parameters the flags say (--offline, -hft). */
llamac_hub_params cli_hub_params(const struct cli_common *c);

/* llamac's version, the llama.cpp commit and the compiled backends on stdout (llamac --version, CMD --version). */
void cli_print_version(void);

/* "1.5 GiB" style sizes. */
void cli_human_size(double bytes, char *buf, size_t cap);

/* Fills in what the flags leave to llamac for a context of `model`: the thread count when -t was not given (fewer
 * than the physical cores on a machine busy with other work, see cli.c), and allow_ctx_overflow with a warning when
 * -c is larger than the model's training context (as llama.cpp does). */
void cli_prepare_context(struct cli_common *c, const llamac_model *model, llamac_ctx_params *p);

/* Checks the sampling flags against the loaded model with the library's own sampler (the ranges live there): a
 * value it refuses (--top-p 1.5, --min-p 2, --repeat-penalty -1, a token outside the vocabulary) is printed as a
 * flag's error, and the command exits EXIT_USAGE like for any invalid value, before it does any work. */
bool cli_sampling_check(const struct cli_common *c, llamac_model *model, const llamac_sampling_params *sp);

/* llamac_ctx_new after cli_prepare_context; prints the error in the command's flags and returns NULL on failure. */
llamac_context *cli_new_context(struct cli_common *c, llamac_model *model, llamac_ctx_params *p);

/* False (the error printed: a usage error) when both --chat-template and --chat-template-file are given, or
 * --chat-template names no built-in format (the message lists them). */
bool cli_template_check(const struct cli_common *c, const struct cli_chat *k);

/* The template the flags name into *out (caller frees with llamac_template_free): --chat-template's built-in
 * format or --chat-template-file's Jinja; *out NULL when they name none. False with the error printed. */
bool cli_template_from_flags(struct cli_common *c, const struct cli_chat *k, llamac_template **out);

/* A note on stderr when the flags give no template and the model has none, so that the library's fallback (ChatML,
 * as llama-server's: llamac_template_for_model) is not a surprise. */
void cli_template_note(const struct cli_common *c, const struct cli_chat *k, const llamac_model *model);

/* Checks that `text`, the value of `flag`, is a JSON object; prints the error when it is not. */
bool cli_json_object(const struct cli_common *c, const char *flag, const char *text);

/* Puts the chat flags into cp: the system prompt, --keep-turns, --chat-template-kwargs, and --chat-template-file's
 * text (into *owned, which the caller frees with free). False, with the error printed, when the file cannot be
 * read. */
bool cli_chat_params(struct cli_common *c, const struct cli_chat *k, llamac_chat_params *cp, char **owned);

/* Pooling for an embedding context: `requested` (--pooling), else the model's own (LLAMAC_POOLING_DEFAULT), except
 * that a model that does not pool (a generative model) gets mean pooling with a note on stderr, as other tools do for
 * decoder models: one vector per text, which is what `embed` prints and /v1/embeddings answers. */
llamac_pooling cli_embedding_pooling(struct cli_common *c, llamac_model *model, llamac_pooling requested);

/* The most bytes cli_read_all reads (a prompt or input that long overflows any context anyway). */
#define CLI_READ_MAX ((size_t)1 << 30)

/* Reads all of a stream / a file into a NUL-terminated buffer (caller frees with free). NULL on failure (cannot
 * read, larger than CLI_READ_MAX, out of memory), with the error printed. Standard input on a terminal ends at one
 * Ctrl-D, even in the middle of a line. */
char *cli_read_all(const struct cli_common *c, const char *path_or_null, size_t *len);

/* Columns of the terminal on `fd`, or 0 when it is not a terminal. */
int cli_term_width(int fd);

/* Progress bar on stderr (progress.c): drawn only when stderr is a terminal and not quiet, never wider than the
 * terminal. */
struct progress {
    const char *label;
    bool enabled;
    int last_permille;
    const atomic_bool *stop; /* set: progress_update answers "stop" (the load is abandoned); NULL: never */
};
void progress_init(struct progress *p, const char *label, bool quiet);
bool progress_update(float fraction, void *user_data); /* llamac_progress_fn */
void progress_done(struct progress *p);

/* Their tables. */
extern const struct cli_command cli_cmd_run, cli_cmd_chat, cli_cmd_serve, cli_cmd_tokenize, cli_cmd_template,
    cli_cmd_embed, cli_cmd_rerank, cli_cmd_kv, cli_cmd_quantize, cli_cmd_info, cli_cmd_split, cli_cmd_merge,
    cli_cmd_pull, cli_cmd_rm, cli_cmd_synth, cli_cmd_rpc_server;

#endif /* LLAMAC_CLI_H */
