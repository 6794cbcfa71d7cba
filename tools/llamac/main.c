/*
 * main.c - the `llamac` command: finds the subcommand and hands it the rest of the command line.
 *
 * Every subcommand lives in its own cmd_*.c file with the signature int cmd_x(int argc, char **argv), where
 * argv[0] is the subcommand's name. This file only dispatches and answers --version and --help.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

static const struct {
    const char *name;
    int (*fn)(int argc, char **argv);
    const char *summary;
} commands[] = {
    { "run", cmd_run, "complete a prompt (single shot), streaming the text to stdout" },
    { "chat", cmd_chat, "chat with a model in a terminal (or from piped lines), reusing the KV cache" },
    { "serve", cmd_serve, "an OpenAI-compatible HTTP server (chat, completions, embeddings) with continuous batching" },
    { "tokenize", cmd_tokenize, "print the token ids of a text as a JSON array" },
    { "template", cmd_template, "print the prompt a chat template makes of a conversation (JSON messages)" },
    { "embed", cmd_embed, "embedding vectors of texts (json, array, or a cosine-similarity table)" },
    { "rerank", cmd_rerank, "score documents against a query with a reranker model" },
    { "kv", cmd_kv, "KV-cache memory per cache type, and with --quality the accuracy each type costs" },
    { "quantize", cmd_quantize, "quantize a model to a smaller type (byte-for-byte llama-quantize's output)" },
    { "info", cmd_info, "what a GGUF file holds: shapes, tokenizer, metadata, tensors (reads metadata only)" },
    { "split", cmd_split, "split a model into shards compatible with llama-gguf-split" },
    { "merge", cmd_merge, "merge the shards of a split model into one file" },
    { "pull", cmd_pull, "download a GGUF model from the Hugging Face Hub (OWNER/REPO[:QUANT]); --list: the cache" },
    { "rm", cmd_rm, "remove a model downloaded with pull from the Hugging Face cache" },
    { "synth", cmd_synth, "write a GGUF model of a chosen architecture and shape with seeded random weights" },
};

static void print_version(void) {
    printf("llamac %s\n", llamac_version());
    printf("llama.cpp %s\n", llamac_llama_commit());
    printf("backends:");
    size_t n = llamac_backend_count();
    for (size_t i = 0; i < n; i++) {
        printf(" %s", llamac_backend_name(i));
    }
    printf("\n");
}

static void print_help(void) {
    printf("usage: llamac COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        printf("  %-10s %s\n", commands[i].name, commands[i].summary);
    }
    printf("\n  llamac COMMAND --help   options of a command\n"
           "  llamac --version        versions and compiled backends\n");
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help();
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        print_version();
        return EXIT_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        if (argc >= 3) {
            for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
                if (strcmp(argv[2], commands[i].name) == 0) {
                    char *sub[] = { argv[2], "--help", NULL };
                    return commands[i].fn(2, sub);
                }
            }
        }
        print_help();
        return EXIT_OK;
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++) {
        if (strcmp(name, commands[i].name) == 0) {
            return commands[i].fn(argc - 1, argv + 1);
        }
    }
    fprintf(stderr, "llamac: unknown command '%s' (see llamac --help)\n", name);
    return EXIT_USAGE;
}
