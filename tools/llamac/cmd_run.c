/*
 * cmd_run.c - `llamac run`: single-shot completion of a prompt, streamed to stdout.
 *
 * stdout carries only the generated text, so `llamac run ... > out.txt` captures exactly the completion; the
 * progress bar, logs, timings and errors go to stderr. Ctrl-C cancels the generation cleanly (what was generated
 * stays on stdout) and exits with 130.
 */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <math.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static llamac_context *volatile running_ctx;
static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
    if (running_ctx) {
        llamac_ctx_cancel(running_ctx);
    }
}

static void usage(void) {
    printf("usage: llamac run -m MODEL [-p PROMPT | -f FILE | prompt on stdin] [options]\n\n"
           "Generation:\n"
           "  -p, --prompt TEXT         the prompt\n"
           "  -f, --file FILE           read the prompt from FILE\n"
           "  -n, --n-predict N         tokens to generate (default: 256; -1: until the context is full)\n"
           "  -r, --reverse-prompt S, --stop S   stop before S (repeatable); S is not printed\n"
           "  --ignore-eos              never sample end-of-generation tokens (as llama.cpp's --ignore-eos)\n"
           "  --no-bos                  do not add the model's BOS token to the prompt\n"
           "  --parse-special           parse special-token text in the prompt (off: user text stays text)\n"
           "Sampling (llama.cpp's defaults):\n"
           "  --temp T (0.8; 0 = greedy)  --top-k N (40)  --top-p P (0.95)  --min-p P (0.05)  --typical P (1)\n"
           "  --xtc-probability P (0)  --xtc-threshold T (0.1)  --top-nsigma N (-1 = off)\n"
           "  --dynatemp-range R (0)  --dynatemp-exp E (1)\n"
           "  --repeat-last-n N (64)  --repeat-penalty P (1)  --presence-penalty P (0)  --frequency-penalty P (0)\n"
           "  --dry-multiplier M (0)  --dry-base B (1.75)  --dry-allowed-length N (2)  --dry-penalty-last-n N (64)\n"
           "  --mirostat 0|1|2  --mirostat-lr ETA (0.1)  --mirostat-ent TAU (5)\n"
           "  -l, --logit-bias TOKEN(+|-)BIAS   e.g. 15043+1 or 15043-inf (repeatable)\n"
           "  --grammar GBNF  --grammar-file FILE   constrain the output to a GBNF grammar\n"
           "  -j, --json-schema SCHEMA  constrain the output to JSON valid under a JSON Schema, given inline\n"
           "                            (text starting with '{', or true) or as the path of a file\n"
           "  --json-schema-file FILE   the same, read from FILE\n"
           "  --json                    constrain the output to a JSON object\n"
           "  -s, --seed N              random seed (default: random)\n\n");
    cli_print_common_help();
}

struct run_opts {
    const char *prompt;
    const char *prompt_file;
    struct cli_constraint constraint; /* --grammar, --grammar-file, --json-schema, --json-schema-file, --json */
    const char *stops[64];
    size_t n_stops;
    llamac_logit_bias biases[64];
    size_t n_biases;
    bool no_bos;
    bool parse_special;
};

static bool parse_bias(struct cli_common *c, struct run_opts *o, const char *s) {
    if (o->n_biases >= sizeof o->biases / sizeof o->biases[0]) {
        cli_error(c, "too many --logit-bias options (at most 64)");
        return false;
    }
    char *end = NULL;
    errno = 0;
    long tok = strtol(s, &end, 10);
    if (errno || end == s || (*end != '+' && *end != '-') || tok < 0 || tok > INT32_MAX) {
        cli_error(c, "invalid --logit-bias '%s' (expected TOKEN+BIAS or TOKEN-BIAS)", s);
        return false;
    }
    float bias;
    if (strcmp(end + 1, "inf") == 0) {
        bias = INFINITY;
    } else if (!cli_float(c, "--logit-bias", end + 1, &bias)) {
        return false;
    }
    o->biases[o->n_biases].token = (llamac_token)tok;
    o->biases[o->n_biases].bias = *end == '-' ? -bias : bias;
    o->n_biases++;
    return true;
}

static bool write_text(const char *text, size_t len, void *user_data) {
    (void)user_data;
    if (fwrite(text, 1, len, stdout) != len || fflush(stdout) != 0) {
        return false; /* stdout closed (e.g. a pipe reader exited): stop generating */
    }
    return true;
}

int cmd_run(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "run");
    struct run_opts o;
    memset(&o, 0, sizeof o);
    llamac_generate_params gp = llamac_generate_params_default();
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = cli_parse_common(&c, argc, argv, &i);
        if (r == CLI_NOT_MINE) {
            r = cli_parse_sampling(&c, &gp.sampling, argc, argv, &i);
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
        const char *v = NULL;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            if (!(o.prompt = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "-f") == 0 || strcmp(a, "--file") == 0) {
            if (!(o.prompt_file = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0 || strcmp(a, "--predict") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, -1, INT32_MAX, &n)) {
                return EXIT_USAGE;
            }
            gp.max_tokens = (int32_t)n;
        } else if (strcmp(a, "-r") == 0 || strcmp(a, "--reverse-prompt") == 0 || strcmp(a, "--stop") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
            if (!v[0] || o.n_stops >= sizeof o.stops / sizeof o.stops[0]) {
                cli_error(&c, "%s must be non-empty (and at most 64 of them)", a);
                return EXIT_USAGE;
            }
            o.stops[o.n_stops++] = v;
        } else if (strcmp(a, "-l") == 0 || strcmp(a, "--logit-bias") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !parse_bias(&c, &o, v)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--ignore-eos") == 0) {
            gp.sampling.ignore_eos = true;
        } else if (strcmp(a, "--no-bos") == 0) {
            o.no_bos = true;
        } else if (strcmp(a, "--parse-special") == 0) {
            o.parse_special = true;
        } else {
            cli_error(&c, "unknown option '%s' (see llamac run --help)", a);
            return EXIT_USAGE;
        }
    }
    if (o.prompt && o.prompt_file) {
        cli_error(&c, "give the prompt with -p or -f, not both");
        return EXIT_USAGE;
    }
    if (!cli_constraint_check(&c, &o.constraint)) {
        return EXIT_USAGE;
    }
    cli_setup_logging(&c);

    int rc = EXIT_FAILURE_RUN;
    char *prompt_buf = NULL;
    llamac_model *model = NULL;
    llamac_context *ctx = NULL;
    size_t prompt_len = 0;
    if (o.prompt) {
        prompt_len = strlen(o.prompt);
    } else {
        prompt_buf = cli_read_all(&c, o.prompt_file, &prompt_len);
        if (!prompt_buf) {
            goto done;
        }
        o.prompt = prompt_buf;
    }
    if (!cli_constraint_grammar(&c, &o.constraint, &gp.sampling.grammar)) {
        goto done;
    }
    gp.sampling.logit_bias = o.biases;
    gp.sampling.n_logit_bias = o.n_biases;
    gp.stop = o.stops;
    gp.n_stop = o.n_stops;
    gp.tokenize_flags =
        (o.no_bos ? 0u : LLAMAC_TOKENIZE_ADD_SPECIAL) | (o.parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    gp.on_text = write_text;

    model = cli_load_model(&c, false);
    if (!model) {
        goto done;
    }
    if (llamac_ctx_new(model, &c.ctx, &ctx) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    signal(SIGPIPE, SIG_IGN);
    running_ctx = ctx;
    signal(SIGINT, on_sigint);
    llamac_generate_result res;
    llamac_status st = llamac_generate(ctx, o.prompt, prompt_len, &gp, &res);
    signal(SIGINT, SIG_DFL);
    running_ctx = NULL;
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    if (c.verbose) {
        fprintf(stderr,
                "\nllamac run: finish %s | load %.1f ms | prompt %d tokens in %.1f ms (%.1f tok/s) | first token "
                "%.1f ms | %d tokens generated at %.1f tok/s\n",
                llamac_finish_reason_str(res.finish_reason), res.load_ms, res.n_prompt_tokens, res.prompt_ms,
                res.prompt_tokens_per_s, res.ttft_ms, res.n_generated_tokens, res.tokens_per_s);
    }
    if (res.finish_reason == LLAMAC_FINISH_CALLBACK) {
        cli_error(&c, "cannot write to standard output");
        goto done;
    }
    rc = interrupted ? EXIT_INTERRUPTED : EXIT_OK;
done:
    llamac_ctx_free(ctx);
    llamac_model_free(model);
    free(prompt_buf);
    cli_constraint_free(&o.constraint);
    return rc;
}
