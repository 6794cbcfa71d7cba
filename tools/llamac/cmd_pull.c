/*
 * cmd_pull.c - `llamac pull` and `llamac rm`: GGUF models from the Hugging Face Hub into huggingface_hub's cache.
 *
 * The library decides which files a name means and fetches them; the download bar and the picker are shared with
 * the -hf option of the other commands (model_source.c). This file lists, pulls and removes.
 */
#include "cli.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- llamac pull ---- */

struct pull_opts {
    bool list;
    bool mmproj;
};

static const struct cli_opt pull_rows[] = {
    { .names = { "--list" },
      .set = cli_set_true,
      .offset = offsetof(struct pull_opts, list),
      .help = "without a repo: what the cache holds (repo, file, size); with one: the repo's files (cached ones "
              "marked)" },
    { .names = { "--mmproj" },
      .set = cli_set_true,
      .offset = offsetof(struct pull_opts, mmproj),
      .help = "also fetch the repo's multimodal projector (mmproj*.gguf)" },
};
static const struct cli_group pull_group = CLI_GROUP("Pull", CLI_TARGET_COMMAND, pull_rows);

static const struct cli_group *const pull_groups[] = { &pull_group, &cli_group_hub, &cli_group_log, NULL };
static const struct cli_group *const rm_groups[] = { &cli_group_log, NULL };

static int pull(int argc, char **argv);
static int rm(int argc, char **argv);

const struct cli_command cli_cmd_pull = {
    .name = "pull",
    .summary = "download a GGUF model from the Hugging Face Hub (OWNER/REPO[:QUANT]); --list: the cache",
    .synopsis = "OWNER/REPO[:QUANT] [FILE] [options]\n--list [OWNER/REPO]",
    .about = "Downloads a GGUF model from the Hugging Face Hub into huggingface_hub's cache ($HF_HUB_CACHE, else "
             "$HF_HOME/hub, else ~/.cache/huggingface/hub) and prints the local path of each file, model first. "
             "QUANT picks the file by name (default Q4_K_M, then Q8_0); FILE names one exactly. Every shard of a "
             "split model is fetched. Interrupted downloads resume; each file is checked against its sha256.",
    .groups = pull_groups,
    .notes = "Environment: HF_ENDPOINT (default https://huggingface.co), HF_HOME, HF_HUB_CACHE, HF_TOKEN.",
    .run = pull,
};

const struct cli_command cli_cmd_rm = {
    .name = "rm",
    .summary = "remove a model downloaded with pull from the Hugging Face cache",
    .synopsis = "OWNER/REPO[:QUANT]",
    .about = "Removes a model from the Hugging Face cache: the whole repository, or with QUANT only the files of "
             "that quant (every shard) and the blobs nothing else links to. See llamac pull --list.",
    .groups = rm_groups,
    .run = rm,
};

static int list_cached(const struct cli_common *c, const llamac_hub_params *p) {
    llamac_hub_list *list = NULL;
    if (llamac_hub_cached(p, &list) != LLAMAC_OK) {
        cli_error(c, "%s", llamac_last_error());
        return EXIT_FAILURE_RUN;
    }
    for (size_t i = 0; i < llamac_hub_list_count(list); i++) {
        const llamac_hub_file *f = llamac_hub_list_get(list, i);
        char size[32];
        cli_human_size((double)f->size, size, sizeof size);
        printf("%s\t%s\t%s\n", f->repo, f->path, size);
    }
    if (llamac_hub_list_count(list) == 0 && !c->quiet) {
        fprintf(stderr, "llamac pull: the Hugging Face cache holds no GGUF models (llamac pull OWNER/REPO[:QUANT] "
                        "downloads one)\n");
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
        cli_human_size((double)f->size, size, sizeof size);
        printf("%s\t%s\t%s\n", f->path, size, f->local_path ? "cached" : "-");
    }
    llamac_hub_list_free(list);
    return EXIT_OK;
}

static int pull(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "pull");
    struct pull_opts o = { 0 };
    struct cli_targets t = { .common = &c, .command = &o };
    struct cli_parser parser;
    int rc = cli_parse(&parser, &cli_cmd_pull, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (parser.n_pos > 2) {
        cli_error(&c, "unexpected argument '%s' (see llamac pull --help)", parser.pos[2]);
        return EXIT_USAGE;
    }
    const char *spec = parser.n_pos > 0 ? parser.pos[0] : NULL, *file = parser.n_pos > 1 ? parser.pos[1] : NULL;
    bool list = o.list, mmproj = o.mmproj;
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    llamac_hub_params p = cli_hub_params(&c);
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
    llamac_status st = cli_hub_pull(&c, spec, file, &p, &files, err, sizeof err);
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

static int rm(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "rm");
    struct cli_targets t = { .common = &c };
    struct cli_parser parser;
    int rc = cli_parse(&parser, &cli_cmd_rm, &t, argc, argv);
    if (rc >= 0) {
        return rc;
    }
    if (parser.n_pos > 1) {
        cli_error(&c, "unexpected argument '%s' (see llamac rm --help)", parser.pos[1]);
        return EXIT_USAGE;
    }
    const char *spec = parser.n_pos > 0 ? parser.pos[0] : NULL;
    if (!cli_setup_logging(&c)) {
        return EXIT_USAGE;
    }
    if (!spec) {
        cli_error(&c, "expected OWNER/REPO[:QUANT] (see llamac rm --help)");
        return EXIT_USAGE;
    }
    llamac_hub_params p = cli_hub_params(&c);
    size_t n = 0;
    llamac_status st = llamac_hub_remove(spec, &p, &n);
    if (st != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        return st == LLAMAC_E_INVALID_ARGUMENT ? EXIT_USAGE : EXIT_FAILURE_RUN;
    }
    fprintf(stderr, "removed %zu file%s of %s\n", n, n == 1 ? "" : "s", spec);
    return EXIT_OK;
}
