/*
 * model_source.c - where a command's model comes from: -m FILE, $LLAMAC_MODEL, or -hf OWNER/REPO[:QUANT] from the
 * Hugging Face cache, and loading it with a progress bar.
 *
 * The library decides which files a Hub name means and fetches them; this file adds what only a terminal has: a
 * download bar with bytes, rate and ETA, and a numbered picker when the name does not settle on one file. `llamac
 * pull` (cmd_pull.c) uses the same pieces.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* ---- the download bar ---- */

struct dl_bar {
    const atomic_bool *stop; /* set: the download is abandoned */
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

void cli_human_size(double bytes, char *buf, size_t cap) {
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
    if (b->stop && atomic_load(b->stop)) {
        return false; /* libcurl abandons the transfer */
    }
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
    cli_human_size((double)done, d, sizeof d);
    cli_human_size((double)total, tot, sizeof tot);
    cli_human_size(rate, r, sizeof r);
    if (rate > 0.0 && total > done) {
        long s = (long)((double)(total - done) / rate);
        snprintf(eta, sizeof eta, "%ld:%02ld", s / 60, s % 60);
    }
    /* "name [####....] done / total  rate/s  ETA m:ss", fitted to the terminal: the bar shrinks first (a line that
     * wraps cannot be redrawn in place), then the name, then the figures are cut */
    char tail[128];
    int tail_len = snprintf(tail, sizeof tail, "%s / %s  %s/s  ETA %s", d, total ? tot : "?", r, eta);
    int cols = cli_term_width(STDERR_FILENO);
    int room = (cols > 0 ? cols : 80) - 1;
    const char *base = strrchr(file, '/') ? strrchr(file, '/') + 1 : file;
    int name_len = (int)strlen(base) < 32 ? (int)strlen(base) : 32;
    enum { WIDTH = 20 };
    int width = room - name_len - 4 - tail_len;
    width = width > WIDTH ? WIDTH : width;
    if (width < 5) {
        width = 0;
        name_len = room - 1 - tail_len < name_len ? room - 1 - tail_len : name_len;
        name_len = name_len > 0 ? name_len : 0;
    }
    char bar[WIDTH + 1];
    int filled = total ? (int)((double)done / (double)total * width) : 0;
    for (int i = 0; i < width; i++) {
        bar[i] = i < filled ? '#' : '.';
    }
    bar[width] = '\0';
    if (width > 0) {
        fprintf(stderr, "\r\033[K%.*s [%s] %s", name_len, base, bar, tail);
    } else {
        int left = room - name_len - (name_len > 0);
        fprintf(stderr, "\r\033[K%.*s%s%.*s", name_len, base, name_len > 0 ? " " : "", left > 0 ? left : 0, tail);
    }
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
        cli_human_size((double)f->size, size, sizeof size);
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

/* On failure the message is copied into err: the picker's own calls would overwrite llamac_last_error. */
llamac_status cli_hub_pull(const struct cli_common *c, const char *spec, const char *file,
                           const llamac_hub_params *params, llamac_hub_list **out, char *err, size_t cap) {
    struct dl_bar bar = { .stop = c->stop, .enabled = !c->quiet && isatty(STDERR_FILENO) };
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

bool cli_download_url(const struct cli_common *c, const char *flag, const char *url, char **path) {
    struct dl_bar bar = { .stop = c->stop, .enabled = !c->quiet && isatty(STDERR_FILENO) };
    llamac_hub_params p = cli_hub_params(c);
    p.progress = dl_progress;
    p.progress_user_data = &bar;
    llamac_status st = llamac_hub_download_url(url, &p, path);
    dl_done(&bar);
    if (st != LLAMAC_OK && !(c->stop && atomic_load(c->stop))) {
        cli_error(c, "%s %s: %s", flag, url, llamac_last_error());
    }
    return st == LLAMAC_OK;
}

llamac_hub_params cli_hub_params(const struct cli_common *c) {
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
    llamac_hub_params p = cli_hub_params(c);
    p.want_mmproj = c->hf_want_mmproj;
    llamac_hub_list *files = NULL;
    char err[1024];
    if (cli_hub_pull(c, c->hf_repo, c->hf_file, &p, &files, err, sizeof err) != LLAMAC_OK) {
        if (!(c->stop && atomic_load(c->stop))) { /* abandoned on purpose (a signal): the caller says so */
            cli_error(c, "%s", err);
        }
        return false;
    }
    const llamac_hub_file *f = llamac_hub_list_get(files, 0);
    snprintf(c->hf_model_path, sizeof c->hf_model_path, "%s", f->local_path);
    c->model_path = c->hf_model_path;
    /* With want_mmproj the projector, if the repo has one, comes after the model and its shards. */
    c->hf_mmproj_path[0] = '\0';
    for (size_t i = 1; p.want_mmproj && i < llamac_hub_list_count(files); i++) {
        const llamac_hub_file *g = llamac_hub_list_get(files, i);
        const char *base = strrchr(g->path, '/');
        if (strstr(base ? base + 1 : g->path, "mmproj")) {
            snprintf(c->hf_mmproj_path, sizeof c->hf_mmproj_path, "%s", g->local_path);
        }
    }
    llamac_hub_list_free(files);
    return true;
}

/* Why `path` did not load, when llama.cpp's reason (a chain of its log lines) is all the library has: the checking
 * GGUF reader of `llamac info` names the field and byte offset of a malformed file, and a file without tensors is a
 * vocabulary, not a model. Falls back to the library's message when the file reads as a complete model. */
static void explain_load_failure(const struct cli_common *c, const char *path) {
    char why[2048];
    snprintf(why, sizeof why, "%s", llamac_last_error());
    llamac_gguf *g = NULL;
    if (llamac_gguf_open(path, &g) != LLAMAC_OK) {
        cli_error(c, "cannot load model: %s", llamac_last_error());
        return;
    }
    llamac_gguf_info in;
    llamac_gguf_get_info(g, &in);
    if (in.n_tensors == 0) {
        cli_error(c,
                  "cannot load model '%s': it holds only a vocabulary (%u tokens, no weights); llamac tokenize and "
                  "llamac template can use it, llamac %s needs a model",
                  path, in.n_vocab, c->cmd);
    } else {
        cli_error(c, "%s", why);
    }
    llamac_gguf_free(g);
}

const char *cli_model_path(const struct cli_common *c) {
    const char *path = c->model_path;
    if (!path || !path[0]) {
        path = getenv("LLAMAC_MODEL");
    }
    return path && path[0] ? path : NULL;
}

llamac_model *cli_load_model(struct cli_common *c, bool vocab_only) {
    if (c->hf_file && !c->hf_repo) {
        cli_error(c, "--hf-file needs -hf OWNER/REPO");
        return NULL;
    }
    if (c->hf_repo && !cli_hub_model(c)) {
        return NULL;
    }
    const char *path = cli_model_path(c);
    if (!path) {
        cli_error(c, "no model given: pass -m FILE, or MODEL.gguf as the first argument (or set LLAMAC_MODEL)");
        return NULL;
    }
    struct progress bar;
    progress_init(&bar, "loading model", c->quiet || vocab_only);
    llamac_model_params mp = c->model;
    mp.vocab_only = vocab_only;
    if (mp.rpc_servers && !c->gpu_layers_given) {
        mp.n_gpu_layers = -1; /* --rpc without -ngl: the layers go to the servers, as llama.cpp's users expect */
    } else if (mp.rpc_servers && mp.n_gpu_layers == 0) {
        cli_note(c, "-ngl 0 keeps every layer on this machine's CPU: the --rpc servers are not used");
    }
    if (vocab_only) {
        mp.rpc_servers = NULL; /* tokenizing needs no device */
        mp.tensor_overrides = NULL;
        mp.n_tensor_overrides = 0;
    } else if (llamac_numa_init((llamac_numa)c->numa) != LLAMAC_OK) {
        cli_lib_error(c, "--numa");
        return NULL;
    }
    bar.stop = c->stop;
    mp.progress = progress_update;
    mp.progress_user_data = &bar;
    llamac_model *model = NULL;
    llamac_status st = llamac_model_load(path, &mp, &model);
    progress_done(&bar);
    if (st != LLAMAC_OK && c->stop && atomic_load(c->stop)) {
        /* abandoned on purpose (a signal): the caller says so */
    } else if (st == LLAMAC_E_MODEL_LOAD) {
        explain_load_failure(c, path);
    } else if (st != LLAMAC_OK) {
        cli_lib_error(c, NULL);
    }
    return model;
}
