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

static void usage(void) {
    printf("usage: llamac tokenize -m MODEL [--no-bos] [--parse-special] [--pieces] [TEXT | text on stdin]\n\n"
           "  --no-bos          do not add the model's BOS/EOS tokens\n"
           "  --parse-special   turn special-token text (e.g. <|im_end|>) into special tokens\n"
           "  --pieces          print [id, \"piece\"] pairs instead of bare ids\n\n");
    cli_print_common_help();
}

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

int cmd_tokenize(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "tokenize");
    bool add_special = true, parse_special = false, pieces = false;
    const char *text = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = cli_parse_common(&c, argc, argv, &i);
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return EXIT_OK;
        } else if (strcmp(a, "--no-bos") == 0) {
            add_special = false;
        } else if (strcmp(a, "--parse-special") == 0) {
            parse_special = true;
        } else if (strcmp(a, "--pieces") == 0) {
            pieces = true;
        } else if (strcmp(a, "-p") == 0 || strcmp(a, "--prompt") == 0) {
            if (!(text = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac tokenize --help)", a);
            return EXIT_USAGE;
        } else if (text) {
            cli_error(&c, "more than one TEXT given; quote the text as one argument");
            return EXIT_USAGE;
        } else {
            text = a;
        }
    }
    cli_setup_logging(&c);
    char *owned = NULL;
    size_t len = 0;
    if (text) {
        len = strlen(text);
    } else {
        owned = cli_read_all(&c, NULL, &len);
        if (!owned) {
            return EXIT_FAILURE_RUN;
        }
        text = owned;
    }
    llamac_model *model = cli_load_model(&c, true);
    if (!model) {
        free(owned);
        return EXIT_FAILURE_RUN;
    }
    unsigned flags =
        (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u) | (parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    llamac_token *tokens = NULL;
    size_t n = 0;
    int rc = EXIT_OK;
    if (llamac_tokenize(model, text, len, flags, &tokens, &n) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
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
    return rc;
}
