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

static void split_usage(void) {
    printf("usage: llamac split [--split-max-size N(K|M|G) | --split-max-tensors N] IN.gguf OUT_PREFIX\n\n"
           "Writes IN (a GGUF, or the first shard of a split model) as OUT_PREFIX-00001-of-0000N.gguf, ..., byte for\n"
           "byte what llama-gguf-split --split writes: all metadata in the first shard, split.* keys in each. A\n"
           "trailing .gguf of OUT_PREFIX is dropped. Every llamac command (and llama.cpp) loads the first shard.\n\n"
           "  --split-max-size N(K|M|G)   at most this much tensor data per shard (decimal units: 2G = 2e9 bytes)\n"
           "  --split-max-tensors N       at most N tensors per shard (default 128)\n"
           "  -q, --quiet                 no progress bar and no summary\n");
}

static void merge_usage(void) {
    printf("usage: llamac merge FIRST_SHARD OUT.gguf\n\n"
           "Merges the shards of a split model (FIRST_SHARD is its -00001-of-0000N.gguf) into one file, byte for byte\n"
           "what llama-gguf-split --merge writes. The shards are checked first (names, numbers, no tensor twice).\n\n"
           "  -q, --quiet                 no progress bar and no summary\n");
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

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

int cmd_split(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "split");
    llamac_split_params p = llamac_split_params_default();
    const char *pos[2] = { NULL, NULL };
    int n_pos = 0;
    bool by_size = false, by_tensors = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v;
        long n;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            split_usage();
            return EXIT_OK;
        } else if (strcmp(a, "--split-max-size") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !parse_size(&c, v, &p.max_bytes)) {
                return EXIT_USAGE;
            }
            by_size = true;
        } else if (strcmp(a, "--split-max-tensors") == 0) {
            if (!(v = cli_value(&c, argc, argv, &i)) || !cli_int(&c, a, v, 1, INT32_MAX, &n)) {
                return EXIT_USAGE;
            }
            p.max_tensors = (int32_t)n;
            by_tensors = true;
        } else if (strcmp(a, "--split") == 0) {
            continue; /* llama-gguf-split's default operation */
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            c.quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac split --help)", a);
            return EXIT_USAGE;
        } else if (n_pos >= 2) {
            cli_error(&c, "too many arguments: expected IN.gguf OUT_PREFIX");
            return EXIT_USAGE;
        } else {
            pos[n_pos++] = a;
        }
    }
    if (by_size && by_tensors) {
        cli_error(&c, "give --split-max-size or --split-max-tensors, not both");
        return EXIT_USAGE;
    }
    if (n_pos != 2) {
        cli_error(&c, "expected IN.gguf OUT_PREFIX (see llamac split --help)");
        return EXIT_USAGE;
    }
    struct progress bar;
    progress_init(&bar, "splitting", c.quiet);
    p.progress = on_progress;
    p.progress_user_data = &bar;
    uint32_t n_shards = 0;
    signal(SIGINT, on_sigint);
    llamac_status st = llamac_gguf_split(pos[0], pos[1], &p, &n_shards);
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

int cmd_merge(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "merge");
    const char *pos[2] = { NULL, NULL };
    int n_pos = 0;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            merge_usage();
            return EXIT_OK;
        } else if (strcmp(a, "--merge") == 0) {
            continue; /* llama-gguf-split's spelling */
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            c.quiet = true;
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac merge --help)", a);
            return EXIT_USAGE;
        } else if (n_pos >= 2) {
            cli_error(&c, "too many arguments: expected FIRST_SHARD OUT.gguf");
            return EXIT_USAGE;
        } else {
            pos[n_pos++] = a;
        }
    }
    if (n_pos != 2) {
        cli_error(&c, "expected FIRST_SHARD OUT.gguf (see llamac merge --help)");
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
