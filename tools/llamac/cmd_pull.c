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
        cli_human_size((double)f->size, size, sizeof size);
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
        cli_human_size((double)f->size, size, sizeof size);
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
