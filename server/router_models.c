/*
 * router_models.c - what router mode can serve (router.h): the models of --models-dir, of the Hugging Face cache and
 * of a --models-preset INI file, each under the name a user knows it by, as llama-server's router names them.
 *
 * --models-dir: a GGUF file is a model named by its file name without .gguf (a projector or a speculative draft
 * beside it is not one; of a split model, the first shard stands for it); a folder is a model named by the folder,
 * holding its model file or shards, and optionally a projector (mmproj in the name). The cache: OWNER/REPO:QUANT, the
 * quant being the last [-.] word of the file name, upper-cased (files without one are left out, as llama-server
 * does). The preset file: llama-server's INI; its keys are option names without their dashes (ctx-size, c, ...) or
 * llama-server's environment names of them (LLAMA_ARG_CTX_SIZE), which the router turns into the child's flags
 * (router.c checks them at start), and the router's own per-model keys (load-on-startup, stop-timeout).
 *
 * Each model's GGUF header, and its projector's, are read once as the models are found (router_facts: metadata and
 * the tensor table, never the weights), so that the listings say what each can do without loading it.
 */
#define _GNU_SOURCE
#include "router.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* ---- what a model's header says (router_facts) ---- */

/* An unsigned integer or bool metadata value of `g` named `key`; false when absent or of another type. */
static bool meta_uint(const llamac_gguf *g, const char *key, uint64_t *out) {
    size_t i = 0;
    llamac_gguf_kv kv;
    if (llamac_gguf_find_key(g, key, &i) != LLAMAC_OK || llamac_gguf_kv_at(g, i, &kv) != LLAMAC_OK ||
        kv.type == LLAMAC_GGUF_ARRAY || kv.type == LLAMAC_GGUF_STRING || kv.type == LLAMAC_GGUF_FLOAT32 ||
        kv.type == LLAMAC_GGUF_FLOAT64) {
        return false;
    }
    bool is_signed = kv.type == LLAMAC_GGUF_INT8 || kv.type == LLAMAC_GGUF_INT16 || kv.type == LLAMAC_GGUF_INT32 ||
                     kv.type == LLAMAC_GGUF_INT64 || kv.type == LLAMAC_GGUF_BOOL;
    if (is_signed && kv.int_value < 0) {
        return false;
    }
    *out = is_signed ? (uint64_t)kv.int_value : kv.uint_value;
    return true;
}

/* The model's part: its header's numbers, and what its pooling type or a classification head makes of it. */
static bool model_facts(const char *path, struct router_facts *out) {
    llamac_gguf *g = NULL;
    llamac_gguf_info gi;
    if (llamac_gguf_open(path, &g) != LLAMAC_OK || llamac_gguf_get_info(g, &gi) != LLAMAC_OK) {
        llamac_gguf_free(g);
        return true; /* unreadable: nothing known (its load fails with the reason) */
    }
    out->read = true;
    out->file_type = gi.file_type;
    out->n_params = gi.n_params;
    out->n_bytes = gi.tensor_bytes;
    out->n_vocab = gi.n_vocab;
    out->n_ctx_train = gi.n_ctx_train;
    out->n_embd = gi.n_embd;
    bool ok = true;
    if (gi.architecture) {
        out->architecture = strdup(gi.architecture);
        ok = out->architecture != NULL;
        char key[256];
        uint64_t pooling = 0;
        snprintf(key, sizeof key, "%s.pooling_type", gi.architecture);
        if (meta_uint(g, key, &pooling)) {
            out->rerank = pooling == LLAMAC_POOLING_RANK;
            out->embedding = pooling != LLAMAC_POOLING_NONE && pooling != LLAMAC_POOLING_RANK;
        }
    }
    for (size_t i = 0; i < llamac_gguf_tensor_count(g) && !out->rerank; i++) {
        llamac_gguf_tensor t;
        if (llamac_gguf_tensor_at(g, i, &t) == LLAMAC_OK && strcmp(t.name, "cls.output.weight") == 0) {
            out->rerank = true; /* a classification head: llama.cpp ranks with it */
            out->embedding = false;
        }
    }
    llamac_gguf_free(g);
    return ok;
}

/* The projector's part: its encoders, as its header declares them. Read here rather than with libmtmd's
 * mtmd_get_cap_from_file, whose loader asserts (ends the process) on a malformed file, which would take the router
 * down for one bad file in a folder. */
static void projector_facts(const char *mmproj, struct router_facts *out) {
    llamac_gguf *g = NULL;
    if (llamac_gguf_open(mmproj, &g) != LLAMAC_OK) {
        return;
    }
    uint64_t v = 0;
    out->vision = meta_uint(g, "clip.has_vision_encoder", &v) && v;
    v = 0;
    out->audio = meta_uint(g, "clip.has_audio_encoder", &v) && v;
    llamac_gguf_free(g);
}

bool router_facts_read(const char *path, const char *mmproj, struct router_facts *out) {
    memset(out, 0, sizeof *out);
    out->file_type = -1;
    if (path && !model_facts(path, out)) {
        router_facts_free(out);
        return false;
    }
    if (mmproj) {
        projector_facts(mmproj, out);
    }
    return true;
}

void router_facts_free(struct router_facts *f) {
    free(f->architecture);
    f->architecture = NULL;
}

bool router_facts_copy(struct router_facts *to, const struct router_facts *from) {
    *to = *from;
    to->architecture = from->architecture ? strdup(from->architecture) : NULL;
    return !from->architecture || to->architecture;
}

/* ---- the models found ---- */

void router_sources_free(struct router_source *list, size_t n) {
    for (size_t i = 0; list && i < n; i++) {
        struct router_source *m = &list[i];
        router_facts_free(&m->facts);
        free(m->name);
        free(m->aliases);
        free(m->path);
        free(m->hf);
        free(m->mmproj);
        for (size_t k = 0; k < m->n_args; k++) {
            free(m->args[k]);
        }
        free(m->args);
    }
    free(list);
}

struct found {
    struct router_source *list;
    size_t n, cap;
};

static struct router_source *find(struct found *f, const char *name) {
    for (size_t i = 0; i < f->n; i++) {
        if (strcmp(f->list[i].name, name) == 0) {
            return &f->list[i];
        }
    }
    return NULL;
}

/* A new model named `name` (NULL when out of memory, or when the name is taken: the first source wins). */
static struct router_source *add(struct found *f, const char *name, const char *source, bool *oom) {
    if (find(f, name)) {
        return NULL;
    }
    if (f->n == f->cap) {
        size_t cap = f->cap ? f->cap * 2 : 16;
        struct router_source *l = realloc(f->list, cap * sizeof *l);
        if (!l) {
            *oom = true;
            return NULL;
        }
        f->list = l;
        f->cap = cap;
    }
    struct router_source *m = &f->list[f->n];
    memset(m, 0, sizeof *m);
    m->name = strdup(name);
    if (!m->name) {
        *oom = true;
        return NULL;
    }
    m->source = source;
    f->n++;
    return m;
}

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

/* A companion file, not a model: a projector or a speculative draft (llama-server's prefixes). */
static bool is_companion(const char *file) {
    return strstr(file, "mmproj") || strncmp(file, "mtp-", 4) == 0 || strncmp(file, "dspark-", 7) == 0 ||
           strncmp(file, "dflash-", 7) == 0;
}

/* The shard number of a split model's file name ("...-00002-of-00003.gguf": 2; *count 3), 0 when not split. */
static int shard_of(const char *file, int *count) {
    size_t n = strlen(file);
    if (n < 5 + 15 || !ends_with(file, ".gguf")) {
        return 0;
    }
    const char *p = file + n - 5 - 15; /* "-00001-of-00003" */
    int idx = 0, cnt = 0;
    if (p[0] != '-' || strncmp(p + 6, "-of-", 4) != 0 || sscanf(p + 1, "%5d", &idx) != 1 ||
        sscanf(p + 10, "%5d", &cnt) != 1) {
        return 0;
    }
    for (int k = 1; k <= 5; k++) {
        if (!isdigit((unsigned char)p[k]) || !isdigit((unsigned char)p[k + 9])) {
            return 0;
        }
    }
    *count = cnt;
    return idx;
}

static uint64_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (uint64_t)st.st_size : 0;
}

static char *join(const char *dir, const char *name) {
    char *p = NULL;
    return asprintf(&p, "%s/%s", dir, name) < 0 ? NULL : p;
}

static int by_name(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The entries of `dir` (no hidden ones), sorted; NULL with errno set when it cannot be read. */
static char **list_dir(const char *dir, size_t *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        return NULL;
    }
    char **names = NULL;
    size_t cap = 0;
    for (struct dirent *e; (e = readdir(d));) {
        if (e->d_name[0] == '.') {
            continue;
        }
        if (*n == cap) {
            cap = cap ? cap * 2 : 32;
            char **l = realloc(names, cap * sizeof *l);
            if (!l) {
                break;
            }
            names = l;
        }
        if (!(names[*n] = strdup(e->d_name))) {
            break;
        }
        (*n)++;
    }
    closedir(d);
    if (!names) {
        names = calloc(1, sizeof *names);
    }
    if (names) {
        qsort(names, *n, sizeof *names, by_name);
    }
    return names;
}

static void free_names(char **names, size_t n) {
    for (size_t i = 0; names && i < n; i++) {
        free(names[i]);
    }
    free(names);
}

/* A folder of --models-dir: the model (its file, or its first shard; every shard's size counts) and a projector. */
static bool scan_folder(struct found *f, const char *dir, const char *name, bool *oom) {
    size_t n = 0;
    char **names = list_dir(dir, &n);
    if (!names) {
        return true; /* unreadable: not a model */
    }
    const char *model = NULL, *mmproj = NULL;
    uint64_t size = 0;
    for (size_t i = 0; i < n; i++) {
        if (!ends_with(names[i], ".gguf")) {
            continue;
        }
        int count = 0, shard = shard_of(names[i], &count);
        if (strstr(names[i], "mmproj")) {
            mmproj = mmproj ? mmproj : names[i];
        } else if (!is_companion(names[i])) {
            if (shard <= 1 && (!model || shard == 1)) {
                model = names[i];
            }
            char *p = join(dir, names[i]);
            size += p ? file_size(p) : 0;
            free(p);
        }
    }
    bool ok = true;
    if (model) {
        struct router_source *m = add(f, name, "models_dir", oom);
        if (m) {
            m->path = join(dir, model);
            m->mmproj = mmproj ? join(dir, mmproj) : NULL;
            m->size = size;
            ok = m->path && (!mmproj || m->mmproj);
        }
    }
    free_names(names, n);
    return ok && !*oom;
}

static bool scan_dir(struct found *f, const char *dir, bool *oom, char *err, size_t cap) {
    size_t n = 0;
    char **names = list_dir(dir, &n);
    if (!names) {
        snprintf(err, cap, "--models-dir %s: %s", dir, strerror(errno));
        return false;
    }
    for (size_t i = 0; i < n && !*oom; i++) {
        char *path = join(dir, names[i]);
        struct stat st;
        if (!path || stat(path, &st) != 0) {
            *oom = !path;
            free(path);
            continue;
        }
        if (S_ISDIR(st.st_mode)) {
            scan_folder(f, path, names[i], oom);
        } else if (ends_with(names[i], ".gguf") && !is_companion(names[i])) {
            int count = 0, shard = shard_of(names[i], &count);
            if (shard <= 1) {
                char *name = strndup(names[i], strlen(names[i]) - 5);
                struct router_source *m = name ? add(f, name, "models_dir", oom) : NULL;
                *oom |= !name;
                if (m) {
                    m->path = path;
                    path = NULL;
                    m->size = (uint64_t)st.st_size;
                    for (int k = 2; k <= count; k++) { /* the other shards of a split model */
                        char *other = NULL;
                        int plen = (int)(strlen(m->path) - 19); /* without "00001-of-0000N.gguf" */
                        if (asprintf(&other, "%.*s%05d-of-%05d.gguf", plen, m->path, k, count) > 0) {
                            m->size += file_size(other);
                            free(other);
                        }
                    }
                }
                free(name);
            }
        }
        free(path);
    }
    free_names(names, n);
    return true;
}

/* The quant of a cached file's name, as llama-server reads it: the last word after '-' or '.' in the name without
 * ".gguf" and a split suffix, upper-cased; "" when there is none. */
static void quant_of(const char *path, char *buf, size_t cap) {
    buf[0] = '\0';
    const char *file = strrchr(path, '/');
    file = file ? file + 1 : path;
    size_t n = strlen(file) - 5; /* ".gguf" */
    int count = 0;
    if (shard_of(file, &count)) {
        n -= 15;
    }
    size_t end = n, start = n;
    while (start > 0 && (isalnum((unsigned char)file[start - 1]) || file[start - 1] == '_')) {
        start--;
    }
    if (start == 0 || start == end || (file[start - 1] != '-' && file[start - 1] != '.') || end - start >= cap) {
        return;
    }
    for (size_t i = start; i < end; i++) {
        buf[i - start] = (char)toupper((unsigned char)file[i]);
    }
    buf[end - start] = '\0';
}

static bool scan_cache(struct found *f, bool *oom) {
    llamac_hub_params hp = llamac_hub_params_default();
    llamac_hub_list *cached = NULL, *models = NULL;
    if (llamac_hub_cached(&hp, &cached) != LLAMAC_OK || llamac_hub_model_choices(cached, &models) != LLAMAC_OK) {
        llamac_hub_list_free(cached);
        return true; /* no cache: nothing from it */
    }
    for (size_t i = 0; i < llamac_hub_list_count(models) && !*oom; i++) {
        const llamac_hub_file *mf = llamac_hub_list_get(models, i);
        char quant[32], name[512];
        quant_of(mf->path, quant, sizeof quant);
        if (!quant[0] || !mf->local_path || snprintf(name, sizeof name, "%s:%s", mf->repo, quant) >= (int)sizeof name) {
            continue;
        }
        struct router_source *m = add(f, name, "cache", oom);
        if (!m) {
            continue;
        }
        m->path = strdup(mf->local_path);
        *oom |= !m->path;
        /* its shards' sizes, and a projector of the same repository and revision */
        const char *slash = strrchr(mf->path, '/');
        size_t dirlen = slash ? (size_t)(slash - mf->path) : 0;
        int count = 0;
        size_t stem = strlen(mf->path) - (shard_of(mf->path, &count) ? 20 : 5);
        for (size_t k = 0; k < llamac_hub_list_count(cached); k++) {
            const llamac_hub_file *cf = llamac_hub_list_get(cached, k);
            if (strcmp(cf->repo, mf->repo) != 0 || strcmp(cf->commit, mf->commit) != 0 || !cf->local_path) {
                continue;
            }
            if (strncmp(cf->path, mf->path, stem) == 0 && ends_with(cf->path, ".gguf")) {
                m->size += cf->size;
            } else if (!m->mmproj && strstr(cf->path, "mmproj") && ends_with(cf->path, ".gguf") &&
                       strncmp(cf->path, mf->path, dirlen) == 0) {
                m->mmproj = strdup(cf->local_path);
                *oom |= !m->mmproj;
            }
        }
    }
    llamac_hub_list_free(models);
    llamac_hub_list_free(cached);
    return true;
}

/* ---- the preset file ---- */

static bool add_arg(struct router_source *m, const char *word, bool *oom) {
    char **a = realloc(m->args, (m->n_args + 1) * sizeof *a);
    if (!a) {
        *oom = true;
        return false;
    }
    m->args = a;
    if (!(a[m->n_args] = strdup(word))) {
        *oom = true;
        return false;
    }
    m->n_args++;
    return true;
}

/* llama-server's environment names whose option is not the name after LLAMA_ARG_, lower-cased with '-' for '_'
 * (LLAMA_ARG_CTX_SIZE is ctx-size, but LLAMA_ARG_BATCH is batch-size): the pin's common/arg.cpp, each name with
 * the long option it is set_env of. */
static const char *const env_names[][2] = {
    { "LLAMA_ARG_BATCH", "batch-size" },
    { "LLAMA_ARG_UBATCH", "ubatch-size" },
    { "LLAMA_ARG_CHECKPOINT_MIN_SPACING_NT", "checkpoint-min-step" },
    { "LLAMA_ARG_ROPE_SCALING_TYPE", "rope-scaling" },
    { "LLAMA_ARG_N_PARALLEL", "parallel" },
    { "LLAMA_ARG_FIT_ESTIMATE", "fit-print" },
    { "LLAMA_ARG_STATIC_PATH", "path" },
    { "LLAMA_ARG_ENDPOINT_METRICS", "metrics" },
    { "LLAMA_ARG_ENDPOINT_PROPS", "props" },
    { "LLAMA_ARG_ENDPOINT_SLOTS", "slots" },
    { "LLAMA_ARG_THINK", "reasoning-format" },
    { "LLAMA_ARG_THINK_BUDGET", "reasoning-budget" },
    { "LLAMA_ARG_THINK_BUDGET_MESSAGE", "reasoning-budget-message" },
    { "LLAMA_ARG_SPEC_DRAFT_HF_REPO", "spec-draft-hf" },
    { "LLAMA_ARG_SPEC_DRAFT_CACHE_TYPE_K", "spec-draft-type-k" },
    { "LLAMA_ARG_SPEC_DRAFT_CACHE_TYPE_V", "spec-draft-type-v" },
    { "HF_TOKEN", "hf-token" },
    { "LLAMA_API_KEY", "api-key" },
};

bool router_preset_key(const char *key, char *name, size_t cap) {
    for (size_t i = 0; i < sizeof env_names / sizeof env_names[0]; i++) {
        if (strcmp(key, env_names[i][0]) == 0) {
            snprintf(name, cap, "%s", env_names[i][1]);
            return true;
        }
    }
    static const char prefix[] = "LLAMA_ARG_";
    bool env = strncmp(key, prefix, sizeof prefix - 1) == 0 && key[sizeof prefix - 1];
    snprintf(name, cap, "%s", env ? key + sizeof prefix - 1 : key);
    for (char *c = name; env && *c; c++) {
        *c = *c == '_' ? '-' : (char)tolower((unsigned char)*c);
    }
    return env;
}

/* A key = value of a section: model, hf-repo (and its spellings), mmproj and alias say what the model is; any other
 * key is an option for its child, kept as "key" "value" words (router.c turns the key into the flag). Keys are read
 * as router_preset_key reads them. */
static bool preset_key(struct router_source *m, const char *written, const char *value, bool *oom) {
    char key[128];
    router_preset_key(written, key, sizeof key);
    char **slot = NULL;
    if (strcmp(key, "model") == 0 || strcmp(key, "m") == 0) {
        slot = &m->path;
    } else if (strcmp(key, "hf-repo") == 0 || strcmp(key, "hf") == 0 || strcmp(key, "hfr") == 0) {
        slot = &m->hf;
    } else if (strcmp(key, "mmproj") == 0) {
        slot = &m->mmproj;
    } else if (strcmp(key, "alias") == 0 || strcmp(key, "a") == 0) {
        slot = &m->aliases;
    }
    if (slot) {
        free(*slot);
        *slot = strdup(value);
        *oom |= !*slot;
        if (slot == &m->path) {
            free(m->hf);
            m->hf = NULL;
            m->size = file_size(value);
        } else if (slot == &m->hf) {
            free(m->path);
            m->path = NULL;
            m->size = 0;
        }
        return !*oom;
    }
    return add_arg(m, written, oom) && add_arg(m, value, oom);
}

static char *trim(char *s) {
    while (*s == ' ' || *s == '\t') {
        s++;
    }
    size_t n = strlen(s);
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t' || s[n - 1] == '\r' || s[n - 1] == '\n')) {
        s[--n] = '\0';
    }
    return s;
}

/* Reads the preset file: "[*]" flags for every model, other sections a model each (a new one, or flags for one
 * found in the folder or the cache). */
static bool read_preset(struct found *f, const char *path, bool *oom, char *err, size_t cap) {
    FILE *in = fopen(path, "r");
    if (!in) {
        snprintf(err, cap, "--models-preset %s: %s", path, strerror(errno));
        return false;
    }
    struct router_source global = { 0 };
    bool ok = true;
    size_t section = SIZE_MAX; /* index into f->list; SIZE_MAX: none yet, or [*] when in_global */
    bool in_global = false, in_section = false;
    char line[4096];
    for (unsigned lineno = 1; ok && fgets(line, sizeof line, in); lineno++) {
        char *s = trim(line);
        if (!*s || *s == ';' || *s == '#') {
            continue;
        }
        if (*s == '[') {
            char *close = strchr(s, ']');
            if (!close) {
                snprintf(err, cap, "--models-preset %s, line %u: a section header without ']'", path, lineno);
                ok = false;
                break;
            }
            *close = '\0';
            char *name = trim(s + 1);
            in_section = true;
            in_global = strcmp(name, "*") == 0;
            if (!in_global) {
                struct router_source *m = find(f, name);
                if (!m) {
                    m = add(f, name, "preset", oom);
                }
                if (!m) {
                    ok = false;
                    break;
                }
                section = (size_t)(m - f->list);
            }
            continue;
        }
        char *eq = strchr(s, '=');
        if (!eq) {
            snprintf(err, cap, "--models-preset %s, line %u: expected KEY = VALUE or [SECTION]", path, lineno);
            ok = false;
            break;
        }
        *eq = '\0';
        char *key = trim(s), *value = trim(eq + 1);
        char *comment = strpbrk(value, ";#"); /* an end-of-line comment after blanks, as llama-server's grammar */
        if (comment && comment > value && (comment[-1] == ' ' || comment[-1] == '\t')) {
            *comment = '\0';
            value = trim(value);
        }
        bool ident = isalpha((unsigned char)key[0]) || key[0] == '_';
        for (const char *k = key; *k; k++) {
            ident &= isalnum((unsigned char)*k) || *k == '_' || *k == '-' || *k == '.';
        }
        if (!ident) {
            snprintf(err, cap, "--models-preset %s, line %u: '%s' is not an option name", path, lineno, key);
            ok = false;
            break;
        }
        if (strcmp(key, "version") == 0) {
            continue; /* reserved by llama-server */
        }
        if (!in_section || in_global) {
            ok = add_arg(&global, key, oom) && add_arg(&global, value, oom);
        } else {
            ok = preset_key(&f->list[section], key, value, oom);
        }
    }
    fclose(in);
    for (size_t i = 0; ok && i < f->n; i++) {
        struct router_source *m = &f->list[i];
        if (!m->path && !m->hf) {
            snprintf(err, cap, "--models-preset %s: [%s] names no model (give model = FILE or hf-repo = OWNER/REPO)",
                     path, m->name);
            ok = false;
        }
        /* [*]'s flags come first, so that a model's own win (the child's parser keeps the last) */
        if (ok && global.n_args) {
            char **a = malloc((global.n_args + m->n_args) * sizeof *a);
            bool fine = a != NULL;
            for (size_t k = 0; fine && k < global.n_args; k++) {
                fine = (a[k] = strdup(global.args[k])) != NULL;
                if (!fine) {
                    for (size_t j = 0; j < k; j++) {
                        free(a[j]);
                    }
                }
            }
            if (!fine) {
                free(a);
                *oom = true;
                ok = false;
                break;
            }
            if (m->n_args) { /* a section without flags of its own has none (NULL) */
                memcpy(a + global.n_args, m->args, m->n_args * sizeof *a);
            }
            free(m->args);
            m->args = a;
            m->n_args += global.n_args;
        }
    }
    for (size_t k = 0; k < global.n_args; k++) {
        free(global.args[k]);
    }
    free(global.args);
    return ok;
}

bool router_sources_find(const char *dir, bool cache, const char *preset, struct router_source **out, size_t *n,
                         char *err, size_t cap) {
    struct found f = { 0 };
    bool oom = false;
    bool ok = (!dir || scan_dir(&f, dir, &oom, err, cap)) && (!cache || scan_cache(&f, &oom)) &&
              (!preset || read_preset(&f, preset, &oom, err, cap));
    for (size_t i = 0; ok && !oom && i < f.n; i++) { /* each model's header, once the preset has said its files */
        oom = !router_facts_read(f.list[i].path, f.list[i].mmproj, &f.list[i].facts);
    }
    if (oom) {
        snprintf(err, cap, "out of memory while listing the models");
        ok = false;
    }
    if (!ok) {
        router_sources_free(f.list, f.n);
        *out = NULL;
        *n = 0;
        return false;
    }
    *out = f.list;
    *n = f.n;
    return true;
}
