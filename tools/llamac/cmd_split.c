/*
 * cmd_split.c - `llamac split` and `llamac merge`: shards compatible with llama.cpp's llama-gguf-split.
 *
 * Thin shells over llamac_gguf_split and llamac_gguf_merge, with llama-gguf-split's flag names and size units
 * (M and G are decimal: 2G is 2,000,000,000 bytes). The files are byte-for-byte what llama-gguf-split writes.
 * Nothing appears under an output name until every output file is complete; Ctrl-C cancels (exit 130).
 */
#include "cli.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static volatile sig_atomic_t interrupted;

static void on_sigint(int sig) {
    (void)sig;
    interrupted = 1;
}

static bool on_progress(float fraction, void *user_data) {
    progress_update(fraction, user_data);
    return !interrupted;
}

/* "2G", "500M", "100K" (decimal units, as llama-gguf-split's M and G) or a plain number of bytes. */
static bool parse_size(const struct cli_common *c, const char *s, uint64_t *out) {
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    uint64_t unit = 1;
    if (end && (*end == 'K' || *end == 'k')) {
        unit = 1000;
        end++;
    } else if (end && (*end == 'M' || *end == 'm')) {
        unit = 1000 * 1000;
        end++;
    } else if (end && (*end == 'G' || *end == 'g')) {
        unit = 1000 * 1000 * 1000;
        end++;
    }
    if (errno || end == s || *end != '\0' || s[0] == '-' || v == 0 || v > UINT64_MAX / unit) {
        cli_error(c, "invalid value '%s' for --split-max-size (expected a positive size such as 500M or 2G)", s);
        return false;
    }
    *out = (uint64_t)v * unit;
    return true;
}

static bool set_size(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    return parse_size(p->t.common, value, field);
}

static const struct cli_opt split_rows[] = {
    { .names = { "--split-max-size" },
      .arg = "N(K|M|G)",
      .set = set_size,
      .offset = offsetof(llamac_split_params, max_bytes),
      .help = "at most this much tensor data per shard (decimal units: 2G = 2e9 bytes)" },
    { .names = { "--split-max-tensors" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = offsetof(llamac_split_params, max_tensors),
      .min = 1,
      .max = INT32_MAX,
      .help = "at most N tensors per shard (default: 128)" },
    { .names = { "--split" }, .set = cli_set_ignored, .help = "accepted: llama-gguf-split's default operation" },
};
static const struct cli_group split_group =
    CLI_GROUP("Split (llama-gguf-split's names)", CLI_TARGET_COMMAND, split_rows);
static const struct cli_opt merge_rows[] = {
    { .names = { "--merge" }, .set = cli_set_ignored, .help = "accepted: llama-gguf-split's spelling of merge" },
};
static const struct cli_group merge_group =
    CLI_GROUP("Merge (llama-gguf-split's names)", CLI_TARGET_COMMON, merge_rows);

static const struct cli_group *const split_groups[] = { &split_group, &cli_group_log, NULL };
static const struct cli_group *const merge_groups[] = { &merge_group, &cli_group_log, NULL };

static int split(int argc, char **argv);
static int merge(int argc, char **argv);

const struct cli_command cli_cmd_split = {
    .name = "split",
    .summary = "split a model into shards compatible with llama-gguf-split",
    .synopsis = "[--split-max-size N(K|M|G) | --split-max-tensors N] IN.gguf OUT_PREFIX",
    .about = "Writes IN (a GGUF, or the first shard of a split model) as OUT_PREFIX-00001-of-0000N.gguf, ..., byte "
             "for byte what llama-gguf-split --split writes: all metadata in the first shard, split.* keys in each. "
             "A trailing .gguf of OUT_PREFIX is dropped. Every llamac command (and llama.cpp) loads the first "
             "shard. -q also drops the summary.",
    .groups = split_groups,
    .run = split,
};

const struct cli_command cli_cmd_merge = {
    .name = "merge",
    .summary = "merge the shards of a split model into one file",
    .synopsis = "FIRST_SHARD OUT.gguf",
    .about = "Merges the shards of a split model (FIRST_SHARD is its -00001-of-0000N.gguf) into one file, byte for "
             "byte what llama-gguf-split --merge writes. The shards are checked first (names, numbers, no tensor "
             "twice). -q also drops the summary.",
    .groups = merge_groups,
    .run = merge,
};

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static int split(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "split");
    llamac_split_params sp = llamac_split_params_default();
    struct cli_targets t = { .common = &c, .command = &sp };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_split, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    bool by_size = cli_given(&p, "--split-max-size"), by_tensors = cli_given(&p, "--split-max-tensors");
    char **pos = p.pos;
    int n_pos = p.n_pos;
    if (by_size && by_tensors) {
        cli_error(&c, "give --split-max-size or --split-max-tensors, not both");
        return EXIT_USAGE;
    }
    if (n_pos != 2) {
        cli_error(&c, "%s: expected IN.gguf OUT_PREFIX (see llamac split --help)",
                  n_pos > 2 ? "too many arguments" : "too few arguments");
        return EXIT_USAGE;
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    struct progress bar;
    progress_init(&bar, "splitting", c.quiet);
    sp.progress = on_progress;
    sp.progress_user_data = &bar;
    uint32_t n_shards = 0;
    signal(SIGINT, on_sigint);
    llamac_status st = llamac_gguf_split(pos[0], pos[1], &sp, &n_shards);
    signal(SIGINT, SIG_DFL);
    progress_done(&bar);
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s",
                  st == LLAMAC_E_CANCELLED && interrupted ? "interrupted; nothing was written" : llamac_last_error());
        return st == LLAMAC_E_CANCELLED && interrupted ? EXIT_INTERRUPTED : EXIT_FAILURE_RUN;
    }
    if (!c.quiet) {
        size_t len = strlen(pos[1]);
        char *prefix = strdup(pos[1]);
        if (prefix && len > 5 && strcmp(prefix + len - 5, ".gguf") == 0) {
            prefix[len - 5] = '\0';
        }
        printf("split %s into %u shard%s:\n", pos[0], n_shards, n_shards == 1 ? "" : "s");
        for (uint32_t s = 0; prefix && s < n_shards; s++) {
            char *path = NULL;
            if (llamac_split_path(prefix, s, n_shards, &path) == LLAMAC_OK) {
                printf("  %s  %.2f MiB\n", path, (double)file_size(path) / 1024.0 / 1024.0);
            }
            llamac_free(path);
        }
        free(prefix);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
}

static int merge(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "merge");
    struct cli_targets t = { .common = &c };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_merge, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    char **pos = p.pos;
    int n_pos = p.n_pos;
    if (n_pos != 2) {
        cli_error(&c, "%s: expected FIRST_SHARD OUT.gguf (see llamac merge --help)",
                  n_pos > 2 ? "too many arguments" : "too few arguments");
        return EXIT_USAGE;
    }
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    struct progress bar;
    progress_init(&bar, "merging", c.quiet);
    signal(SIGINT, on_sigint);
    llamac_status st = llamac_gguf_merge(pos[0], pos[1], on_progress, &bar);
    signal(SIGINT, SIG_DFL);
    progress_done(&bar);
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s",
                  st == LLAMAC_E_CANCELLED && interrupted ? "interrupted; nothing was written" : llamac_last_error());
        return st == LLAMAC_E_CANCELLED && interrupted ? EXIT_INTERRUPTED : EXIT_FAILURE_RUN;
    }
    if (!c.quiet) {
        printf("merged %s into %s (%.2f MiB)\n", pos[0], pos[1], (double)file_size(pos[1]) / 1024.0 / 1024.0);
    }
    return fflush(stdout) == 0 ? EXIT_OK : EXIT_FAILURE_RUN;
}
