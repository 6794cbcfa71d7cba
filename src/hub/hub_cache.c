/*
 * hub_cache.c - the huggingface_hub cache on disk: where it is, what it holds, and removing from it.
 *
 * The layout is huggingface_hub's so that files it downloaded are reused and ours are visible to it:
 * <cache>/models--OWNER--NAME/{blobs/<sha256>, snapshots/<commit>/<path> -> ../../blobs/<sha256>, refs/main}.
 * Settings come from the same environment variables, read once per call into a struct hub_env.
 */
#include "hub/hub_internal.h"

#include <dirent.h>
#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- the list ---- */

llamac_hub_list *hub__list_new(void) {
    return llamac__calloc(1, sizeof(llamac_hub_list));
}

/* Frees a string the public struct shows as const but the list owns. */
static void free_owned(const char *s) {
    void *p;
    memcpy(&p, &s, sizeof p);
    free(p);
}

static char *dup_or_null(const char *s) {
    return s ? llamac__strndup(s, strlen(s)) : NULL;
}

llamac_status hub__list_add(llamac_hub_list *list, const char *repo, const char *path, const char *local_path,
                            const char *sha256, const char *commit, uint64_t size) {
    if (list->n == list->cap) {
        size_t cap = list->cap ? list->cap * 2 : 16;
        llamac_hub_file *items = realloc(list->items, cap * sizeof *items);
        if (!items) {
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory listing files");
        }
        list->items = items;
        list->cap = cap;
    }
    llamac_hub_file *f = &list->items[list->n];
    memset(f, 0, sizeof *f);
    f->repo = dup_or_null(repo);
    f->path = dup_or_null(path);
    f->local_path = dup_or_null(local_path);
    f->sha256 = dup_or_null(sha256 ? sha256 : "");
    f->commit = dup_or_null(commit ? commit : "");
    f->size = size;
    list->n++;
    if (!f->repo || !f->path || (local_path && !f->local_path) || !f->sha256 || !f->commit) {
        return LLAMAC_E_NO_MEMORY;
    }
    return LLAMAC_OK;
}

llamac_status hub__list_set_local(llamac_hub_list *list, size_t i, const char *path) {
    char *copy = llamac__strndup(path, strlen(path));
    if (!copy) {
        return LLAMAC_E_NO_MEMORY;
    }
    free_owned(list->items[i].local_path);
    list->items[i].local_path = copy;
    return LLAMAC_OK;
}

size_t llamac_hub_list_count(const llamac_hub_list *list) {
    return list ? list->n : 0;
}

const llamac_hub_file *llamac_hub_list_get(const llamac_hub_list *list, size_t i) {
    return list && i < list->n ? &list->items[i] : NULL;
}

void llamac_hub_list_free(llamac_hub_list *list) {
    if (!list) {
        return;
    }
    for (size_t i = 0; i < list->n; i++) {
        free_owned(list->items[i].repo);
        free_owned(list->items[i].path);
        free_owned(list->items[i].local_path);
        free_owned(list->items[i].sha256);
        free_owned(list->items[i].commit);
    }
    free(list->items);
    free(list);
}

/* ---- settings ---- */

llamac_hub_params llamac_hub_params_default(void) {
    llamac_hub_params p;
    memset(&p, 0, sizeof p);
    p.max_retries = 3;
    return p;
}

char *hub__fmt(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) {
        llamac__fail(LLAMAC_E_INTERNAL, "cannot format a string");
        return NULL;
    }
    char *s = llamac__malloc((size_t)n + 1);
    if (!s) {
        return NULL;
    }
    va_start(ap, fmt);
    vsnprintf(s, (size_t)n + 1, fmt, ap);
    va_end(ap);
    return s;
}

static const char *env_nonempty(const char *name) {
    const char *v = getenv(name);
    return v && v[0] ? v : NULL;
}

/* $HF_HOME, else ~/.cache/huggingface (XDG_CACHE_HOME respected as huggingface_hub does). */
static char *hf_home(void) {
    const char *v = env_nonempty("HF_HOME");
    if (v) {
        return hub__fmt("%s", v);
    }
    const char *xdg = env_nonempty("XDG_CACHE_HOME");
    if (xdg) {
        return hub__fmt("%s/huggingface", xdg);
    }
    const char *home = env_nonempty("HOME");
    return hub__fmt("%s/.cache/huggingface", home ? home : ".");
}

/* The token file's first line without surrounding white space, or NULL. */
static char *read_token_file(const char *path) {
    FILE *f = fopen(path, "r");
    if (!f) {
        return NULL;
    }
    char buf[512];
    char *line = fgets(buf, sizeof buf, f);
    fclose(f);
    if (!line) {
        return NULL;
    }
    size_t n = strlen(line);
    while (n > 0 && (line[n - 1] == '\n' || line[n - 1] == '\r' || line[n - 1] == ' ' || line[n - 1] == '\t')) {
        line[--n] = '\0';
    }
    while (*line == ' ' || *line == '\t') {
        line++;
    }
    return line[0] ? hub__fmt("%s", line) : NULL;
}

static bool truthy(const char *v) {
    return v &&
           (strcmp(v, "1") == 0 || strcasecmp(v, "true") == 0 || strcasecmp(v, "yes") == 0 || strcasecmp(v, "on") == 0);
}

llamac_status hub__env_init(struct hub_env *env, const llamac_hub_params *params) {
    memset(env, 0, sizeof *env);
    llamac_status st = LLAMAC_E_NO_MEMORY;
    static const llamac_hub_params zero = { .max_retries = 3 };
    env->params = params ? params : &zero;
    env->max_retries = env->params->max_retries < 0 ? 0 : env->params->max_retries;
    char *home = hf_home();
    if (!home) {
        goto fail;
    }
    const char *ep = env->params->endpoint ? env->params->endpoint : env_nonempty("HF_ENDPOINT");
    env->endpoint = hub__fmt("%s", ep ? ep : "https://huggingface.co");
    if (!env->endpoint) {
        goto fail;
    }
    size_t n = strlen(env->endpoint);
    while (n > 0 && env->endpoint[n - 1] == '/') {
        env->endpoint[--n] = '\0';
    }
    if (strncmp(env->endpoint, "http://", 7) != 0 && strncmp(env->endpoint, "https://", 8) != 0) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "Hub endpoint '%s' is not an http:// or https:// URL",
                          env->endpoint);
        goto fail;
    }
    if (env->params->cache_dir && env->params->cache_dir[0]) {
        env->cache = hub__fmt("%s", env->params->cache_dir);
    } else if (env_nonempty("HF_HUB_CACHE")) {
        env->cache = hub__fmt("%s", env_nonempty("HF_HUB_CACHE"));
    } else {
        env->cache = hub__fmt("%s/hub", home);
    }
    if (!env->cache) {
        goto fail;
    }
    if (env->params->token) {
        env->token = env->params->token[0] ? hub__fmt("%s", env->params->token) : NULL;
    } else if (env_nonempty("HF_TOKEN")) {
        env->token = hub__fmt("%s", env_nonempty("HF_TOKEN"));
    } else if (env_nonempty("HUGGING_FACE_HUB_TOKEN")) {
        env->token = hub__fmt("%s", env_nonempty("HUGGING_FACE_HUB_TOKEN"));
    } else {
        char *file = hub__fmt("%s/token", home);
        env->token = file ? read_token_file(file) : NULL;
        free(file);
    }
    for (const char *t = env->token; t && *t; t++) {
        if ((unsigned char)*t < 0x20 || *t == 0x7f) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "the Hub token contains a control character");
            goto fail;
        }
    }
    env->offline = env->params->offline || truthy(getenv("HF_HUB_OFFLINE"));
    free(home);
    return llamac__ok();
fail:
    free(home);
    hub__env_free(env);
    return st;
}

void hub__env_free(struct hub_env *env) {
    free(env->endpoint);
    free(env->cache);
    free(env->token);
    memset(env, 0, sizeof *env);
}

/* ---- names ---- */

static bool name_valid(const char *s, size_t n) {
    if (n == 0 || n > 96 || s[0] == '-' || s[0] == '.' || s[n - 1] == '-' || s[n - 1] == '.') {
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        char c = s[i];
        bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-' || c == '_' ||
                  c == '.';
        if (!ok || (i > 0 && ((c == '-' && s[i - 1] == '-') || (c == '.' && s[i - 1] == '.')))) {
            return false;
        }
    }
    return true;
}

bool hub__repo_valid(const char *repo) {
    const char *slash = strchr(repo, '/');
    return slash && name_valid(repo, (size_t)(slash - repo)) && name_valid(slash + 1, strlen(slash + 1));
}

llamac_status hub__parse_spec(const char *spec, char **repo, char **quant) {
    *repo = NULL;
    *quant = NULL;
    const char *colon = strchr(spec, ':');
    size_t rlen = colon ? (size_t)(colon - spec) : strlen(spec);
    char *r = llamac__strndup(spec, rlen);
    if (!r) {
        return LLAMAC_E_NO_MEMORY;
    }
    if (!hub__repo_valid(r)) {
        free(r);
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "'%s' is not a Hub model name (expected OWNER/REPO or OWNER/REPO:QUANT, e.g. "
                            "ggml-org/gemma-3-1b-it-GGUF:Q4_K_M)",
                            spec);
    }
    if (colon) {
        const char *q = colon + 1;
        bool ok = q[0] != '\0' && strlen(q) < 64;
        for (const char *c = q; ok && *c; c++) {
            ok = (*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || *c == '_' ||
                 *c == '-' || *c == '.';
        }
        if (!ok) {
            free(r);
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "invalid quant '%s' in '%s' (expected a name like Q4_K_M, Q8_0 or F16)", q, spec);
        }
        *quant = llamac__strndup(q, strlen(q));
        if (!*quant) {
            free(r);
            return LLAMAC_E_NO_MEMORY;
        }
    }
    *repo = r;
    return LLAMAC_OK;
}

char *hub__repo_dir(const struct hub_env *env, const char *repo) {
    const char *slash = strchr(repo, '/');
    return hub__fmt("%s/models--%.*s--%s", env->cache, (int)(slash - repo), repo, slash + 1);
}

/* ---- files ---- */

llamac_status hub__mkdirs(const char *path) {
    char *p = hub__fmt("%s", path);
    if (!p) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (char *c = p + 1;; c++) {
        if (*c == '/' || *c == '\0') {
            char saved = *c;
            *c = '\0';
            if (mkdir(p, 0755) != 0 && errno != EEXIST) {
                llamac_status st = llamac__fail(LLAMAC_E_IO, "cannot create directory '%s': %s", p, strerror(errno));
                free(p);
                return st;
            }
            *c = saved;
            if (saved == '\0') {
                break;
            }
        }
    }
    free(p);
    return LLAMAC_OK;
}

llamac_status hub__write_atomic(const char *path, const char *text) {
    char *tmp = hub__fmt("%s.tmp.%ld", path, (long)getpid());
    if (!tmp) {
        return LLAMAC_E_NO_MEMORY;
    }
    FILE *f = fopen(tmp, "w");
    bool ok = f && fputs(text, f) >= 0;
    if (f && fclose(f) != 0) {
        ok = false;
    }
    if (!ok || rename(tmp, path) != 0) {
        llamac_status st = llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", path, strerror(errno));
        unlink(tmp);
        free(tmp);
        return st;
    }
    free(tmp);
    return LLAMAC_OK;
}

static bool is_hex(const char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f'))) {
            return false;
        }
    }
    return s[n] == '\0';
}

bool hub__read_ref(const struct hub_env *env, const char *repo, char commit[41]) {
    char *dir = hub__repo_dir(env, repo);
    char *path = dir ? hub__fmt("%s/refs/main", dir) : NULL;
    FILE *f = path ? fopen(path, "r") : NULL;
    free(dir);
    free(path);
    if (!f) {
        return false;
    }
    char buf[64] = { 0 };
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == ' ')) {
        buf[--n] = '\0';
    }
    if (n != 40 || !is_hex(buf, 40)) {
        return false;
    }
    memcpy(commit, buf, 41);
    return true;
}

/* Adds the files under dir/rel (recursively) to list. */
static llamac_status walk_snapshot(const char *repo, const char *commit, const char *root, const char *rel,
                                   llamac_hub_list *list, int depth) {
    char *dir = rel[0] ? hub__fmt("%s/%s", root, rel) : hub__fmt("%s", root);
    if (!dir) {
        return LLAMAC_E_NO_MEMORY;
    }
    DIR *d = opendir(dir);
    if (!d) {
        free(dir);
        return LLAMAC_OK;
    }
    llamac_status st = LLAMAC_OK;
    struct dirent *e;
    while (st == LLAMAC_OK && (e = readdir(d)) != NULL) {
        if (e->d_name[0] == '.') {
            continue;
        }
        char *full = hub__fmt("%s/%s", dir, e->d_name);
        char *sub = rel[0] ? hub__fmt("%s/%s", rel, e->d_name) : hub__fmt("%s", e->d_name);
        struct stat sb;
        if (!full || !sub) {
            st = LLAMAC_E_NO_MEMORY;
        } else if (stat(full, &sb) != 0) {
            /* a dangling link: its blob was removed; not a usable file */
        } else if (S_ISDIR(sb.st_mode)) {
            if (depth < 16) {
                st = walk_snapshot(repo, commit, root, sub, list, depth + 1);
            }
        } else if (S_ISREG(sb.st_mode)) {
            char target[4096];
            ssize_t n = readlink(full, target, sizeof target - 1);
            const char *sha = "";
            if (n > 0) {
                target[n] = '\0';
                const char *base = strrchr(target, '/');
                base = base ? base + 1 : target;
                if (strlen(base) == 64 && is_hex(base, 64)) {
                    sha = base;
                }
            }
            st = hub__list_add(list, repo, sub, full, sha, commit, (uint64_t)sb.st_size);
        }
        free(full);
        free(sub);
    }
    closedir(d);
    free(dir);
    return st;
}

llamac_status hub__snapshot_files(const struct hub_env *env, const char *repo, const char *commit,
                                  llamac_hub_list *list) {
    char *dir = hub__repo_dir(env, repo);
    char *snap = dir ? hub__fmt("%s/snapshots/%s", dir, commit) : NULL;
    llamac_status st = snap ? walk_snapshot(repo, commit, snap, "", list, 0) : LLAMAC_E_NO_MEMORY;
    free(dir);
    free(snap);
    return st;
}

static int cmp_files(const void *a, const void *b) {
    const llamac_hub_file *x = a, *y = b;
    int c = strcmp(x->repo, y->repo);
    return c ? c : strcmp(x->path, y->path);
}

/* "models--OWNER--NAME" -> "OWNER/NAME", or NULL when the folder is not a model repo. */
static char *repo_from_dir(const char *name) {
    if (strncmp(name, "models--", 8) != 0) {
        return NULL;
    }
    const char *sep = strstr(name + 8, "--");
    if (!sep) {
        return NULL;
    }
    char *repo = hub__fmt("%.*s/%s", (int)(sep - (name + 8)), name + 8, sep + 2);
    if (repo && !hub__repo_valid(repo)) {
        free(repo);
        return NULL;
    }
    return repo;
}

/* Adds every snapshot file of one repo folder (all its commits). */
static llamac_status cached_repo(const struct hub_env *env, const char *repo, llamac_hub_list *list) {
    char *dir = hub__repo_dir(env, repo);
    char *snaps = dir ? hub__fmt("%s/snapshots", dir) : NULL;
    free(dir);
    if (!snaps) {
        return LLAMAC_E_NO_MEMORY;
    }
    DIR *d = opendir(snaps);
    llamac_status st = LLAMAC_OK;
    struct dirent *e;
    while (d && st == LLAMAC_OK && (e = readdir(d)) != NULL) {
        if (strlen(e->d_name) == 40 && is_hex(e->d_name, 40)) {
            st = hub__snapshot_files(env, repo, e->d_name, list);
        }
    }
    if (d) {
        closedir(d);
    }
    free(snaps);
    return st;
}

llamac_status llamac_hub_cached(const llamac_hub_params *params, llamac_hub_list **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "out is NULL");
    }
    *out = NULL;
    struct hub_env env;
    llamac_status st = hub__env_init(&env, params);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_hub_list *list = hub__list_new();
    if (!list) {
        hub__env_free(&env);
        return LLAMAC_E_NO_MEMORY;
    }
    DIR *d = opendir(env.cache);
    struct dirent *e;
    while (d && st == LLAMAC_OK && (e = readdir(d)) != NULL) {
        char *repo = repo_from_dir(e->d_name);
        if (repo) {
            st = cached_repo(&env, repo, list);
            free(repo);
        }
    }
    if (d) {
        closedir(d);
    }
    hub__env_free(&env);
    if (st != LLAMAC_OK) {
        llamac_hub_list_free(list);
        return st;
    }
    if (list->n > 1) {
        qsort(list->items, list->n, sizeof list->items[0], cmp_files);
    }
    *out = list;
    return llamac__ok();
}

/* ---- removal ---- */

static llamac_status remove_tree(const char *path) {
    struct stat sb;
    if (lstat(path, &sb) != 0) {
        return LLAMAC_OK;
    }
    if (S_ISDIR(sb.st_mode)) {
        DIR *d = opendir(path);
        if (!d) {
            return llamac__fail(LLAMAC_E_IO, "cannot open '%s': %s", path, strerror(errno));
        }
        llamac_status st = LLAMAC_OK;
        struct dirent *e;
        while (st == LLAMAC_OK && (e = readdir(d)) != NULL) {
            if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
                continue;
            }
            char *sub = hub__fmt("%s/%s", path, e->d_name);
            st = sub ? remove_tree(sub) : LLAMAC_E_NO_MEMORY;
            free(sub);
        }
        closedir(d);
        if (st == LLAMAC_OK && rmdir(path) != 0) {
            st = llamac__fail(LLAMAC_E_IO, "cannot remove '%s': %s", path, strerror(errno));
        }
        return st;
    }
    if (unlink(path) != 0) {
        return llamac__fail(LLAMAC_E_IO, "cannot remove '%s': %s", path, strerror(errno));
    }
    return LLAMAC_OK;
}

/* The names of what `list` holds, comma-separated, at most ~1 KiB; caller frees with free. */
static char *names_of(const llamac_hub_list *list) {
    char buf[1024] = "";
    size_t used = 0;
    for (size_t i = 0; i < list->n && used + 8 < sizeof buf; i++) {
        int w =
            snprintf(buf + used, sizeof buf - used, "%s%s:%s", i ? ", " : "", list->items[i].repo, list->items[i].path);
        if (w < 0 || (size_t)w >= sizeof buf - used) {
            snprintf(buf + used, sizeof buf - used, ", ...");
            break;
        }
        used += (size_t)w;
    }
    return hub__fmt("%s", list->n ? buf : "nothing");
}

llamac_status llamac_hub_remove(const char *spec, const llamac_hub_params *params, size_t *n_removed) {
    if (n_removed) {
        *n_removed = 0;
    }
    if (!spec) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec is NULL");
    }
    char *repo = NULL, *quant = NULL, *dir = NULL, *listing = NULL;
    llamac_hub_list *cached = NULL, *others = NULL;
    struct hub_env env;
    llamac_status st = hub__parse_spec(spec, &repo, &quant);
    if (st != LLAMAC_OK) {
        return st;
    }
    st = hub__env_init(&env, params);
    if (st != LLAMAC_OK) {
        free(repo);
        free(quant);
        return st;
    }
    cached = hub__list_new();
    others = hub__list_new();
    dir = hub__repo_dir(&env, repo);
    if (!cached || !others || !dir) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    if ((st = cached_repo(&env, repo, cached)) != LLAMAC_OK) {
        goto fail;
    }
    size_t removed = 0;
    struct stat sb;
    if (!quant) {
        if (stat(dir, &sb) != 0) {
            goto not_found;
        }
        if ((st = remove_tree(dir)) != LLAMAC_OK) {
            goto fail;
        }
        removed = cached->n;
        char *lock = hub__fmt("%s/.locks/%s", env.cache, strrchr(dir, '/') + 1);
        if (lock) {
            remove_tree(lock);
        }
        free(lock);
    } else {
        for (size_t i = 0; i < cached->n; i++) {
            const llamac_hub_file *f = &cached->items[i];
            if (!hub__name_has_quant(f->path, quant)) {
                continue;
            }
            char *link = hub__fmt("%s/snapshots/%s/%s", dir, f->commit, f->path);
            if (!link) {
                st = LLAMAC_E_NO_MEMORY;
                goto fail;
            }
            int rc = unlink(link);
            free(link);
            if (rc != 0) {
                st = llamac__fail(LLAMAC_E_IO, "cannot remove '%s': %s", f->local_path, strerror(errno));
                goto fail;
            }
            removed++;
        }
        if (removed == 0) {
            goto not_found;
        }
        /* Blobs still linked from a remaining snapshot stay; the others go. */
        if ((st = cached_repo(&env, repo, others)) != LLAMAC_OK) {
            goto fail;
        }
        for (size_t i = 0; i < cached->n; i++) {
            const llamac_hub_file *f = &cached->items[i];
            if (!hub__name_has_quant(f->path, quant) || !f->sha256[0]) {
                continue;
            }
            bool used = false;
            for (size_t j = 0; j < others->n && !used; j++) {
                used = strcmp(others->items[j].sha256, f->sha256) == 0;
            }
            char *blob = used ? NULL : hub__fmt("%s/blobs/%s", dir, f->sha256);
            if (blob) {
                unlink(blob);
            }
            free(blob);
        }
    }
    if (n_removed) {
        *n_removed = removed;
    }
    st = llamac__ok();
    goto done;
not_found:
    llamac_hub_list_free(cached);
    cached = NULL;
    if (llamac_hub_cached(params, &cached) != LLAMAC_OK) {
        st = LLAMAC_E_NO_MEMORY;
        goto fail;
    }
    listing = names_of(cached);
    st = llamac__fail(LLAMAC_E_NOT_FOUND, "nothing cached matches '%s' (in %s); the cache holds: %s", spec, env.cache,
                      listing ? listing : "?");
fail:
done:
    free(listing);
    llamac_hub_list_free(cached);
    llamac_hub_list_free(others);
    free(dir);
    free(repo);
    free(quant);
    hub__env_free(&env);
    return st;
}
