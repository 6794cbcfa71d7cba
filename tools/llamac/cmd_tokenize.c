/*
 * cmd_tokenize.c - `llamac tokenize`: the token ids of a text, as a JSON array on stdout.
 *
 * Loads only the vocabulary, so it is instant even on large models. Like llama.cpp's tokenizer, it adds the
 * model's BOS (unless --no-bos); unlike a chat prompt, special-token text stays plain text unless
 * --parse-special is given.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct tokenize_opts {
    bool pieces;
};

static const struct cli_opt output_rows[] = {
    { .names = { "--pieces" },
      .set = cli_set_true,
      .offset = offsetof(struct tokenize_opts, pieces),
      .help = "print [id, \"piece\"] pairs instead of bare ids" },
};
static const struct cli_group output_group = CLI_GROUP("Output", CLI_TARGET_COMMAND, output_rows);

static const struct cli_group *const tokenize_groups[] = {
    &cli_group_prompt, &output_group, &cli_group_model, &cli_group_hub, &cli_group_log, NULL,
};

static int tokenize(int argc, char **argv);

const struct cli_command cli_cmd_tokenize = {
    .name = "tokenize",
    .summary = "print the token ids of a text as a JSON array",
    .synopsis = "[MODEL.gguf | -m MODEL] [--no-bos] [--parse-special] [--pieces]\n"
                "[MODEL.gguf | -m MODEL] [options] [TEXT | -p TEXT | -f FILE | text on stdin]",
    .about = "Tokenizes with the model's vocabulary alone (the weights are not loaded), adding its BOS token as "
             "llama.cpp's tokenizer does.",
    .groups = tokenize_groups,
    .run = tokenize,
};

static void print_json_string(const char *s, size_t n) {
    putchar('"');
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch == '"' || ch == '\\') {
            printf("\\%c", ch);
        } else if (ch == '\n') {
            fputs("\\n", stdout);
        } else if (ch == '\t') {
            fputs("\\t", stdout);
        } else if (ch == '\r') {
            fputs("\\r", stdout);
        } else if (ch < 0x20) {
            printf("\\u%04x", ch);
        } else {
            putchar(ch);
        }
    }
    putchar('"');
}

static int tokenize(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "tokenize");
    struct cli_prompt pr = { 0 };
    struct tokenize_opts o = { 0 };
    struct cli_targets t = { .common = &c, .prompt = &pr, .command = &o };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_tokenize, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    cli_positional_model(&c, &p, false);
    const char *text = pr.text;
    if (p.n_pos > 1 || (p.n_pos == 1 && (pr.text || pr.file))) {
        cli_error(&c, "more than one TEXT given; quote the text as one argument");
        return EXIT_USAGE;
    }
    if (pr.text && pr.file) {
        cli_error(&c, "give the text with -p or -f, not both");
        return EXIT_USAGE;
    }
    if (p.n_pos == 1) {
        text = p.pos[0];
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    bool add_special = !pr.no_bos, parse_special = pr.parse_special, pieces = o.pieces;
    char *owned = NULL;
    size_t len = 0;
    if (text) {
        len = strlen(text);
    } else {
        owned = cli_read_all(&c, pr.file, &len);
        if (!owned) {
            cli_common_close(&c);
            return EXIT_FAILURE_RUN;
        }
        text = owned;
    }
    llamac_model *model = cli_load_model(&c, true);
    if (!model) {
        free(owned);
        cli_common_close(&c);
        return EXIT_FAILURE_RUN;
    }
    unsigned flags =
        (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u) | (parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    llamac_token *tokens = NULL;
    size_t n = 0;
    rc = EXIT_OK;
    if (llamac_tokenize(model, text, len, flags, &tokens, &n) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        rc = EXIT_FAILURE_RUN;
    } else {
        putchar('[');
        for (size_t i = 0; i < n; i++) {
            if (i) {
                fputs(", ", stdout);
            }
            if (pieces) {
                char piece[256];
                size_t need = 0;
                llamac_token_to_piece(model, tokens[i], true, piece, sizeof piece, &need);
                printf("[%d, ", tokens[i]);
                size_t plen = need <= sizeof piece ? need : 0;
                if (llamac_utf8_valid(piece, plen, NULL)) {
                    print_json_string(piece, plen);
                } else {
                    /* part of a character: show the bytes as llama.cpp's byte tokens are written */
                    char hex[sizeof piece * 6 + 1];
                    size_t w = 0;
                    for (size_t k = 0; k < plen; k++) {
                        w += (size_t)snprintf(hex + w, sizeof hex - w, "<0x%02X>", (unsigned char)piece[k]);
                    }
                    print_json_string(hex, w);
                }
                putchar(']');
            } else {
                printf("%d", tokens[i]);
            }
        }
        puts("]");
        if (fflush(stdout) != 0) {
            cli_error(&c, "cannot write to standard output");
            rc = EXIT_FAILURE_RUN;
        }
    }
    llamac_free(tokens);
    llamac_model_free(model);
    free(owned);
    cli_common_close(&c);
    return rc;
}
