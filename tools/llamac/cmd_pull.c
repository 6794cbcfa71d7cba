/*
 * cmd_pull.c - `llamac pull` and `llamac rm`: GGUF models from the Hugging Face Hub into huggingface_hub's cache,
 * and the -hf option every model-loading command shares (cli_hub_model).
 *
 * The library decides which files a name means and fetches them; this file adds what only a terminal has: a
 * download bar with bytes, rate and ETA, and a numbered picker when the name does not settle on one file.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the download bar ---- */

struct dl_bar {
    bool enabled;
    double last;        /* when it was last drawn */
    uint64_t last_done; /* what it showed then */
    bool drawn;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* "1.5 GiB" style sizes. */
static void human(double bytes, char *buf, size_t cap) {
    static const char *units[] = { "B", "KiB", "MiB", "GiB", "TiB" };
    int u = 0;
    while (bytes >= 1024.0 && u < 4) {
        bytes /= 1024.0;
        u++;
    }
    snprintf(buf, cap, u == 0 ? "%.0f %s" : "%.1f %s", bytes, units[u]);
}

static bool dl_progress(const char *file, uint64_t done, uint64_t total, double rate, void *user_data) {
    struct dl_bar *b = user_data;
    if (!b->enabled) {
        return true;
    }
    double t = now_s();
    if (b->drawn && (done == b->last_done || (t - b->last < 0.1 && done != total))) {
        return true;
    }
    b->last = t;
    b->last_done = done;
    b->drawn = true;
    char d[32], tot[32], r[32], eta[32] = "--:--";
    human((double)done, d, sizeof d);
    human((double)total, tot, sizeof tot);
    human(rate, r, sizeof r);
    if (rate > 0.0 && total > done) {
        long s = (long)((double)(total - done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    }
    enum { WIDTH = 20 };
    char bar[WIDTH + 1];
    int filled = total ? (int)((double)done / (double)total * WIDTH) : 0;
    for (int i = 0; i < WIDTH; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[WIDTH] = '\0';
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    fprintf(stderr, "\r\033[K%.32s [%s] %s / %s  %s/s  ETA %s", base, bar, d, total ? tot : "?", r, eta);
    fflush(stderr);
    return true;
}

static void dl_done(struct dl_bar *b) {
    if (b->enabled && b->drawn) {
        fprintf(stderr, "\r\033[K");
        fflush(stderr);
    }
}

/* ---- pulling with a picker ---- */

static bool interactive(void) {
    return isatty(STDIN_FILENO) && isatty(STDERR_FILENO);
}

/* Offers the repo's model files when `spec` did not settle on one; returns the chosen path (caller frees) or NULL. */
static char *pick(const struct cli_common *c, const char *spec, const llamac_hub_params *p) {
    char repo[256];
    snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
    llamac_hub_list *files = NULL, *choices = NULL;
    char *chosen = NULL;
    if (llamac_hub_repo_files(repo, p, &files) != LLAMAC_OK || llamac_hub_model_choices(files, &choices) != LLAMAC_OK ||
        llamac_hub_list_count(choices) == 0) {
        goto done;
    }
    size_t n = llamac_hub_list_count(choices);
    fprintf(stderr, "%s: choose a file:\n", repo);
    for (size_t i = 0; i < n; i++) {
        const llamac_hub_file *f = llamac_hub_list_get(choices, i);
        char size[32];
        human((double)f->size, size, sizeof size);
        fprintf(stderr, "  %2zu) %-60s %10s%s\n", i + 1, f->path, size, f->local_path ? "  (cached)" : "");
    }
    fprintf(stderr, "number (Enter to cancel): ");
    fflush(stderr);
    char line[64];
    long k = 0;
    if (fgets(line, sizeof line, stdin)) {
        line[strcspn(line, "\r\n")] = '\0';
        if (line[0] && cli_int(c, "choice", line, 1, (long)n, &k)) {
            chosen = strdup(llamac_hub_list_get(choices, (size_t)k - 1)->path);
        }
    }
done:
    llamac_hub_list_free(files);
    llamac_hub_list_free(choices);
    return chosen;
}

/* Pulls `spec`/`file`; on a terminal, a name that matches no file or several gets the picker. On failure the
 * message is copied into err (the picker's own calls would overwrite llamac_last_error). */
static llamac_status pull(const struct cli_common *c, const char *spec, const char *file,
                          const llamac_hub_params *params, llamac_hub_list **out, char *err, size_t cap) {
    struct dl_bar bar = { .enabled = !c->quiet && isatty(STDERR_FILENO) };
    llamac_hub_params with_bar = *params;
    with_bar.progress = dl_progress;
    with_bar.progress_user_data = &bar;
    const llamac_hub_params *p = &with_bar;
    llamac_status st = llamac_hub_pull(spec, file, p, out);
    dl_done(&bar);
    snprintf(err, cap, "%s", st == LLAMAC_OK ? "" : llamac_last_error());
    if (st == LLAMAC_E_NOT_FOUND && !file && interactive()) {
        fprintf(stderr, "llamac %s: %s\n", c->cmd, err);
        char *chosen = pick(c, spec, p);
        if (!chosen) {
            snprintf(err, cap, "no file chosen");
            return st;
        }
        char repo[256];
        snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
        st = llamac_hub_pull(repo, chosen, p, out);
        dl_done(&bar);
        snprintf(err, cap, "%s", st == LLAMAC_OK ? "" : llamac_last_error());
        free(chosen);
    }
    return st;
}

static llamac_hub_params hub_params(const struct cli_common *c) {
    llamac_hub_params p = llamac_hub_params_default();
    p.offline = c->offline;
    p.token = c->hf_token;
    return p;
}

bool cli_hub_model(struct cli_common *c) {
    if (c->model_path && c->model_path[0]) {
        cli_error(c, "pass either -m FILE or -hf OWNER/REPO[:QUANT], not both");
        return false;
    }
    llamac_hub_params p = hub_params(c);
    llamac_hub_list *files = NULL;
    char err[1024];
    if (pull(c, c->hf_repo, c->hf_file, &p, &files, err, sizeof err) != LLAMAC_OK) {
        cli_error(c, "%s", err);
        return false;
    }
    const llamac_hub_file *f = llamac_hub_list_get(files, 0);
    snprintf(c->hf_model_path, sizeof c->hf_model_path, "%s", f->local_path);
    c->model_path = c->hf_model_path;
    llamac_hub_list_free(files);
    return true;
}

/* ---- llamac pull ---- */

static void pull_usage(void) {
    printf("usage: llamac pull OWNER/REPO[:QUANT] [FILE] [options]\n"
           "       llamac pull --list [OWNER/REPO]\n\n"
           "Downloads a GGUF model from the Hugging Face Hub into huggingface_hub's cache ($HF_HUB_CACHE, else\n"
           "$HF_HOME/hub, else ~/.cache/huggingface/hub) and prints the local path of each file, model first.\n"
           "QUANT picks the file by name (default Q4_K_M, then Q8_0); FILE names one exactly. Every shard of a\n"
           "split model is fetched. Interrupted downloads resume; each file is checked against its sha256.\n\n"
           "options:\n"
           "  --list              without a repo: what the cache holds (repo, file, size);\n"
           "                      with one: the repo's files (cached ones marked)\n"
           "  --mmproj            also fetch the repo's multimodal projector (mmproj*.gguf)\n"
           "  --offline           use only the cache (also HF_HUB_OFFLINE=1)\n"
           "  -hft, --hf-token T  access token (default: $HF_TOKEN, $HUGGING_FACE_HUB_TOKEN, $HF_HOME/token)\n"
           "  -q, --quiet         no progress bar\n\n"
           "environment: HF_ENDPOINT (default https://huggingface.co), HF_HOME, HF_HUB_CACHE, HF_TOKEN\n");
}

static int list_cached(const struct cli_common *c, const llamac_hub_params *p) {
    llamac_hub_list *list = NULL;
    if (llamac_hub_cached(p, &list) != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return EXIT_FAILURE_RUN;
    }
    for (size_t i = 0; i < llamac_hub_list_count(list); i++) {
        const llamac_hub_file *f = llamac_hub_list_get(list, i);
        char size[32];
        human((double)f->size, size, sizeof size);
        printf("%s\t%s\t%s\n", f->repo, f->path, size);
    }
    llamac_hub_list_free(list);
    return EXIT_OK;
}

static int list_repo(const struct cli_common *c, const char *spec, const llamac_hub_params *p) {
    char repo[256];
    snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
    llamac_hub_list *list = NULL;
    if (llamac_hub_repo_files(repo, p, &list) != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return EXIT_FAILURE_RUN;
    }
    for (size_t i = 0; i < llamac_hub_list_count(list); i++) {
        const llamac_hub_file *f = llamac_hub_list_get(list, i);
        char size[32];
        human((double)f->size, size, sizeof size);
        printf("%s\t%s\t%s\n", f->path, size, f->local_path ? "cached" : "-");
    }
    llamac_hub_list_free(list);
    return EXIT_OK;
}

int cmd_pull(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "pull");
    const char *spec = NULL, *file = NULL;
    bool list = false, mmproj = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            pull_usage();
            return EXIT_OK;
        }
        if (strcmp(a, "--list") == 0) {
            list = true;
        } else if (strcmp(a, "--mmproj") == 0) {
            mmproj = true;
        } else if (strcmp(a, "-q") == 0 || strcmp(a, "--quiet") == 0) {
            c.quiet = true;
        } else if (strcmp(a, "--offline") == 0) {
            c.offline = true;
        } else if (strcmp(a, "-hft") == 0 || strcmp(a, "--hf-token") == 0) {
            if (!(c.hf_token = cli_value(&c, argc, argv, &i))) {
                return EXIT_USAGE;
            }
        } else if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac pull --help)", a);
            return EXIT_USAGE;
        } else if (!spec) {
            spec = a;
        } else if (!file) {
            file = a;
        } else {
            cli_error(&c, "unexpected argument '%s' (see llamac pull --help)", a);
            return EXIT_USAGE;
        }
    }
    llamac_hub_params p = hub_params(&c);
    p.want_mmproj = mmproj;
    if (list) {
        return spec ? list_repo(&c, spec, &p) : list_cached(&c, &p);
    }
    if (!spec) {
        cli_error(&c, "expected OWNER/REPO[:QUANT] (see llamac pull --help)");
        return EXIT_USAGE;
    }
    llamac_hub_list *files = NULL;
    char err[1024];
    llamac_status st = pull(&c, spec, file, &p, &files, err, sizeof err);
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s", err);
        return st == LLAMAC_E_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAILURE_RUN;
    }
    for (size_t i = 0; i < llamac_hub_list_count(files); i++) {
        printf("%s\n", llamac_hub_list_get(files, i)->local_path);
    }
    llamac_hub_list_free(files);
    return EXIT_OK;
}

/* ---- llamac rm ---- */

int cmd_rm(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "rm");
    const char *spec = NULL;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            printf("usage: llamac rm OWNER/REPO[:QUANT]\n\n"
                   "Removes a model from the Hugging Face cache: the whole repository, or with QUANT only the\n"
                   "files of that quant (every shard) and the blobs nothing else links to. See llamac pull --list.\n");
            return EXIT_OK;
        }
        if (a[0] == '-' && a[1] != '\0') {
            cli_error(&c, "unknown option '%s' (see llamac rm --help)", a);
            return EXIT_USAGE;
        }
        if (spec) {
            cli_error(&c, "unexpected argument '%s' (see llamac rm --help)", a);
            return EXIT_USAGE;
        }
        spec = a;
    }
    if (!spec) {
        cli_error(&c, "expected OWNER/REPO[:QUANT] (see llamac rm --help)");
        return EXIT_USAGE;
    }
    llamac_hub_params p = hub_params(&c);
    size_t n = 0;
    llamac_status st = llamac_hub_remove(spec, &p, &n);
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        return st == LLAMAC_E_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAILURE_RUN;
    }
    fprintf(stderr, "removed %zu file%s of %s\n", n, n == 1 ? "" : "s", spec);
    return EXIT_OK;
}
