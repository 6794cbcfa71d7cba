/*
 * main.c - the `llamac` command: finds the subcommand and hands it the rest of the command line.
 *
 * Every subcommand lives in its own cmd_*.c file with the signature int cmd_x(int argc, char **argv), where
 * argv[0] is the subcommand's name, and describes its options as a table (options.h). This file only dispatches,
 * answers --version and --help, and prints a command's table for tools (`llamac help --options COMMAND`) and the
 * man pages the build installs (`llamac help --man [COMMAND]`), all from the same tables.
 */
#include "cli.h"

#include <stdio.h>
#include <string.h>

const struct cli_command *const cli_commands[] = {
    &cli_cmd_run,
    &cli_cmd_chat,
    &cli_cmd_serve,
    &cli_cmd_tokenize,
    &cli_cmd_template,
    &cli_cmd_embed,
    &cli_cmd_rerank,
    &cli_cmd_kv,
    &cli_cmd_quantize,
    &cli_cmd_info,
    &cli_cmd_split,
    &cli_cmd_merge,
    &cli_cmd_pull,
    &cli_cmd_rm,
    &cli_cmd_synth,
    &cli_cmd_rpc_server,
    NULL,
};

static void print_help(void) {
    printf("usage: llamac COMMAND [options]\n\ncommands:\n");
    for (size_t i = 0; cli_commands[i]; i++) {
        printf("  %-10s %s\n", cli_commands[i]->name, cli_commands[i]->summary);
    }
    printf("\n  llamac COMMAND --help            options of a command\n"
           "  llamac help --options COMMAND    the same as a table (group, names, value, help; tab-separated)\n"
           "  llamac help --man [COMMAND]      the man page of llamac or of a command (roff)\n"
           "  llamac --version                 versions and compiled backends\n");
}

static const struct cli_command *find_command(const char *name) {
    for (size_t i = 0; cli_commands[i]; i++) {
        if (strcmp(name, cli_commands[i]->name) == 0) {
            return cli_commands[i];
        }
    }
    return NULL;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        print_help();
        return EXIT_USAGE;
    }
    const char *name = argv[1];
    if (strcmp(name, "--version") == 0 || strcmp(name, "version") == 0) {
        cli_print_version();
        return EXIT_OK;
    }
    if (strcmp(name, "--help") == 0 || strcmp(name, "-h") == 0 || strcmp(name, "help") == 0) {
        bool table = argc >= 3 && strcmp(argv[2], "--options") == 0;
        bool man = argc >= 3 && strcmp(argv[2], "--man") == 0;
        int first = 2 + (table || man);
        const char *topic = argc > first ? argv[first] : NULL;
        const struct cli_command *cmd = topic ? find_command(topic) : NULL;
        if (topic && !cmd) {
            fprintf(stderr, "llamac: unknown command '%s' (see llamac --help)\n", topic);
            return EXIT_USAGE;
        }
        if (argc > first + 1) {
            fprintf(stderr, "llamac: help takes one command, not '%s'\n", argv[first + 1]);
            return EXIT_USAGE;
        }
        if (table && !cmd) {
            fprintf(stderr, "llamac: help --options needs a command, e.g. llamac help --options run\n");
            return EXIT_USAGE;
        }
        if (table) {
            cli_print_options(cmd, stdout);
        } else if (man && cmd) {
            cli_print_man(cmd, llamac_version(), stdout);
        } else if (man) {
            cli_print_man_index(cli_commands, llamac_version(), stdout);
        } else if (cmd) {
            cli_print_help(cmd, stdout);
        } else {
            print_help();
        }
        return EXIT_OK;
    }
    const struct cli_command *cmd = find_command(name);
    if (cmd) {
        return cmd->run(argc - 1, argv + 1);
    }
    fprintf(stderr, "llamac: unknown command '%s' (see llamac --help)\n", name);
    return EXIT_USAGE;
}
