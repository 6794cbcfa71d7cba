/*
 * hub_pull.c - from "owner/name:QUANT" to model files on disk: list the repo, pick the files, fetch what is missing.
 *
 * The listing is llama.cpp's (-hf): the main branch's commit from /api/models/{repo}/refs, then the recursive tree
 * at that commit, so every file of one pull comes from one revision. The choice of file follows llama.cpp too
 * (QUANT in the file name, default Q4_K_M then Q8_0, all shards of a split model, the nearest mmproj) except that
 * several candidates and no default is an error listing them rather than an arbitrary pick. Each blob is fetched
 * under a lock, checked against its LFS sha256 and only then renamed into place.
 */
#include "hub/hub_internal.h"

#include <ctype.h>
#include <curl/curl.h>
#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* ---- file names ---- */

struct split_info {
    size_t prefix_len; /* the name without ".gguf" and the split suffix */
    const char *tag;   /* the quant-like tag at the end of the prefix, or NULL */
    size_t tag_len;
    int index, count;
};

static bool ends_with(const char *s, const char *suffix) {
    size_t n = strlen(s), k = strlen(suffix);
    return n >= k && strcmp(s + n - k, suffix) == 0;
}

static bool digits5(const char *s) {
    for (int i = 0; i < 5; i++) {
        if (!isdigit((unsigned char)s[i])) {
            return false;
        }
    }
    return true;
}

/* Splits "dir/name-Q4_K_M-00001-of-00003.gguf" into prefix "dir/name-Q4_K_M", tag Q4_K_M, 1 of 3. */
static bool split_info(const char *path, struct split_info *si) {
    memset(si, 0, sizeof *si);
    si->index = si->count = 1;
    if (!ends_with(path, ".gguf")) {
        return false;
    }
    size_t n = strlen(path) - 5;
    if (n > 15 && path[n - 15] == '-' && digits5(path + n - 14) && strncmp(path + n - 9, "-of-", 4) == 0 &&
        digits5(path + n - 5)) {
        si->index = atoi(path + n - 14);
        si->count = atoi(path + n - 5);
        n -= 15;
    }
    si->prefix_len = n;
    size_t t = n;
    while (t > 0 && (isalnum((unsigned char)path[t - 1]) || path[t - 1] == '_')) {
        t--;
    }
    if (t > 0 && t < n && (path[t - 1] == '-' || path[t - 1] == '.')) {
        si->tag = path + t;
        si->tag_len = n - t;
    }
    return true;
}

static const char *base_name(const char *path) {
    const char *s = strrchr(path, '/');
    return s ? s + 1 : path;
}

/* A GGUF that is a model, not a projector, imatrix or draft-model sidecar (llama.cpp's list of keywords). */
static bool is_model_file(const char *path) {
    static const char *not_models[] = { "mmproj", "imatrix", "mtp-", "eagle3-", "dflash-", "dspark-" };
    if (!ends_with(path, ".gguf")) {
        return false;
    }
    const char *base = base_name(path);
    for (size_t i = 0; i < sizeof not_models / sizeof not_models[0]; i++) {
        if (strstr(base, not_models[i])) {
            return false;
        }
    }
    return true;
}

bool hub__name_has_quant(const char *path, const char *quant) {
    size_t k = strlen(quant);
    for (const char *p = path; *p; p++) {
        if (strncasecmp(p, quant, k) == 0 && (p[k] == '.' || p[k] == '-') &&
            (p == path || !isalnum((unsigned char)p[-1]))) {
            return true;
        }
    }
    return false;
}

static bool first_shard(const char *path) {
    struct split_info si;
    split_info(path, &si);
    return si.count <= 1 || si.index == 1;
}

llamac_status llamac_hub_model_choices(const llamac_hub_list *files, llamac_hub_list **out) {
    if (!files || !out) {
        if (out) {
            *out = NULL;
        }
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "files or out is NULL");
    }
    *out = NULL;
    llamac_hub_list *list = hub__list_new();
    if (!list) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < files->n; i++) {
        const llamac_hub_file *f = &files->items[i];
        if (is_model_file(f->path) && first_shard(f->path)) {
            llamac_status st = hub__list_add(list, f->repo, f->path, f->local_path, f->sha256, f->commit, f->size);
            if (st != LLAMAC_OK) {
                llamac_hub_list_free(list);
                return st;
            }
        }
    }
    *out = list;
    return llamac__ok();
}

/* "a.gguf, b.gguf, ..." of the model choices (or of every GGUF when `all`), at most ~900 bytes. */
static void describe(const llamac_hub_list *files, bool all, char *buf, size_t cap) {
    size_t used = 0;
    buf[0] = '\0';
    for (size_t i = 0; i < files->n; i++) {
        const char *p = files->items[i].path;
        if (all ? !ends_with(p, ".gguf") : !(is_model_file(p) && first_shard(p))) {
            continue;
        }
        int w = snprintf(buf + used, cap - used, "%s%s", used ? ", " : "", p);
        if (w < 0 || (size_t)w >= cap - used) {
            snprintf(buf + used, cap - used, ", ...");
            return;
        }
        used += (size_t)w;
    }
    if (used == 0) {
        snprintf(buf, cap, "no GGUF files");
    }
}

/* ---- choosing files ---- */

static llamac_status choose_primary(const llamac_hub_list *files, const char *repo, const char *quant, const char *file,
                                    bool offline, size_t *primary) {
    char have[900];
    const char *where = offline ? " (offline: only the cache was searched)" : "";
    if (file) {
        for (size_t i = 0; i < files->n; i++) {
            if (strcmp(files->items[i].path, file) == 0) {
                *primary = i;
                return LLAMAC_OK;
            }
        }
        describe(files, true, have, sizeof have);
        return llamac__fail(LLAMAC_E_NOT_FOUND, "no file '%s' in %s%s; it has: %s", file, repo, where, have);
    }
    const char *defaults[] = { "Q4_K_M", "Q8_0" };
    const char **tags = quant ? &quant : defaults;
    size_t n_tags = quant ? 1 : 2;
    for (size_t t = 0; t < n_tags; t++) {
        for (size_t i = 0; i < files->n; i++) {
            const char *p = files->items[i].path;
            if (is_model_file(p) && first_shard(p) && hub__name_has_quant(p, tags[t])) {
                *primary = i;
                return LLAMAC_OK;
            }
        }
    }
    describe(files, false, have, sizeof have);
    if (quant) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "no GGUF file for quant %s in %s%s; it has: %s", quant, repo, where,
                            have);
    }
    size_t n_models = 0, only = 0;
    for (size_t i = 0; i < files->n; i++) {
        if (is_model_file(files->items[i].path) && first_shard(files->items[i].path)) {
            n_models++;
            only = i;
        }
    }
    if (n_models == 1) {
        *primary = only;
        return LLAMAC_OK;
    }
    if (n_models == 0) {
        return llamac__fail(LLAMAC_E_NOT_FOUND, "no GGUF model file in %s%s", repo, where);
    }
    return llamac__fail(LLAMAC_E_NOT_FOUND,
                        "%s has no Q4_K_M or Q8_0 file but several others; choose one with %s:QUANT or a file "
                        "name%s: %s",
                        repo, repo, where, have);
}

/* Appends to `sel` the indexes of every shard of the model at `primary`, in order. */
static llamac_status add_shards(const llamac_hub_list *files, const char *repo, size_t primary, bool offline,
                                size_t *sel, size_t *n_sel, size_t cap) {
    const char *p = files->items[primary].path;
    struct split_info si;
    split_info(p, &si);
    if (si.count <= 1) {
        sel[(*n_sel)++] = primary;
        return LLAMAC_OK;
    }
    if ((size_t)si.count > cap - 1) {
        return llamac__fail(LLAMAC_E_UNSUPPORTED, "%s is split into %d shards; at most %zu are supported", p, si.count,
                            cap - 1);
    }
    for (int want = 1; want <= si.count; want++) {
        bool found = false;
        for (size_t i = 0; i < files->n && !found; i++) {
            struct split_info sj;
            const char *q = files->items[i].path;
            if (split_info(q, &sj) && sj.count == si.count && sj.index == want && sj.prefix_len == si.prefix_len &&
                strncmp(q, p, si.prefix_len) == 0) {
                sel[(*n_sel)++] = i;
                found = true;
            }
        }
        if (!found) {
            return llamac__fail(LLAMAC_E_NOT_FOUND, "shard %d of %d of %.*s is missing from %s%s", want, si.count,
                                (int)si.prefix_len, p, repo,
                                offline ? " in the cache (offline; run without --offline to download it)" : "");
        }
    }
    return LLAMAC_OK;
}

/* The quant bits of a name: Q4_K_M -> 4, F16 -> 16, none -> 0 (llama.cpp's closeness measure for sidecars). */
static int quant_bits(const char *path) {
    struct split_info si;
    split_info(path, &si);
    for (size_t i = 0; si.tag && i < si.tag_len; i++) {
        if (isdigit((unsigned char)si.tag[i])) {
            return atoi(si.tag + i);
        }
    }
    return 0;
}

/* The mmproj that goes with the model at `primary`: in its folder or a parent (deepest first), then the nearest in
 * quant bits. SIZE_MAX when there is none. */
static size_t best_mmproj(const llamac_hub_list *files, size_t primary) {
    const char *model = files->items[primary].path;
    size_t model_dir = (size_t)(base_name(model) - model);
    int bits = quant_bits(model);
    size_t best = SIZE_MAX, best_depth = 0;
    int best_diff = 0;
    for (size_t i = 0; i < files->n; i++) {
        const char *p = files->items[i].path;
        if (!ends_with(p, ".gguf") || !strstr(base_name(p), "mmproj")) {
            continue;
        }
        size_t dir = (size_t)(base_name(p) - p);
        if (dir > model_dir || strncmp(p, model, dir) != 0) {
            continue;
        }
        int diff = abs(quant_bits(p) - bits);
        if (best == SIZE_MAX || dir > best_depth || (dir == best_depth && diff < best_diff)) {
            best = i;
            best_depth = dir;
            best_diff = diff;
        }
    }
    return best;
}

/* ---- listing ---- */

static bool path_safe(const char *p) {
    if (!p[0] || p[0] == '/' || strchr(p, '\\') || strlen(p) > 1024) {
        return false;
    }
    for (const char *s = p; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        if (n == 0 || (n == 1 && s[0] == '.') || (n == 2 && s[0] == '.' && s[1] == '.')) {
            return false;
        }
        s += n + (e ? 1 : 0);
    }
    return true;
}

static bool commit_valid(const char *c) {
    if (strlen(c) != 40) {
        return false;
    }
    for (const char *s = c; *s; s++) {
        if (!((*s >= '0' && *s <= '9') || (*s >= 'a' && *s <= 'f'))) {
            return false;
        }
    }
    return true;
}

/* The commit main points at, from /api/models/{repo}/refs (main, else the first branch). */
static llamac_status remote_commit(const struct hub_env *env, const char *repo, char commit[41]) {
    char *url = hub__fmt("%s/api/models/%s/refs", env->endpoint, repo);
    if (!url) {
        return LLAMAC_E_NO_MEMORY;
    }
    json_t *j = NULL;
    llamac_status st = hub__api_get(env, url, repo, &j);
    free(url);
    if (st != LLAMAC_OK) {
        return st;
    }
    json_t *branches = json_object_get(j, "branches");
    const char *found = NULL;
    for (size_t i = 0; i < json_array_size(branches); i++) {
        json_t *b = json_array_get(branches, i);
        const char *name = json_string_value(json_object_get(b, "name"));
        const char *target = json_string_value(json_object_get(b, "targetCommit"));
        if (!name || !target || !commit_valid(target)) {
            continue;
        }
        if (strcmp(name, "main") == 0 || !found) {
            found = target;
            if (strcmp(name, "main") == 0) {
                break;
            }
        }
    }
    if (found) {
        memcpy(commit, found, 41);
        st = LLAMAC_OK;
    } else {
        st = llamac__fail(LLAMAC_E_NETWORK, "the Hub's refs of %s name no branch with a valid commit", repo);
    }
    json_decref(j);
    return st;
}

static llamac_status remote_files(const struct hub_env *env, const char *repo, llamac_hub_list *list) {
    char commit[41];
    llamac_status st = remote_commit(env, repo, commit);
    if (st != LLAMAC_OK) {
        return st;
    }
    char *url = hub__fmt("%s/api/models/%s/tree/%s?recursive=true", env->endpoint, repo, commit);
    char *dir = hub__repo_dir(env, repo);
    json_t *j = NULL;
    if (!url || !dir) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if ((st = hub__api_get(env, url, repo, &j)) != LLAMAC_OK) {
        goto done;
    }
    if (!json_is_array(j)) {
        st = llamac__fail(LLAMAC_E_NETWORK, "the Hub's file list of %s is not a JSON array", repo);
        goto done;
    }
    for (size_t i = 0; i < json_array_size(j) && st == LLAMAC_OK; i++) {
        json_t *item = json_array_get(j, i);
        const char *type = json_string_value(json_object_get(item, "type"));
        const char *path = json_string_value(json_object_get(item, "path"));
        if (!type || strcmp(type, "file") != 0 || !path || !path_safe(path)) {
            continue;
        }
        json_t *lfs = json_object_get(item, "lfs");
        const char *sha = json_string_value(json_object_get(lfs, "oid"));
        json_int_t size = json_integer_value(json_object_get(lfs ? lfs : item, "size"));
        if (sha && (strlen(sha) != 64 || strspn(sha, "0123456789abcdef") != 64)) {
            continue; /* not a sha256 we could check: skip rather than trust */
        }
        char *local = hub__fmt("%s/snapshots/%s/%s", dir, commit, path);
        struct stat sb;
        if (!local) {
            st = LLAMAC_E_NO_MEMORY;
            break;
        }
        st = hub__list_add(list, repo, path, stat(local, &sb) == 0 ? local : NULL, sha, commit,
                           size > 0 ? (uint64_t)size : 0);
        free(local);
    }
done:
    json_decref(j);
    free(url);
    free(dir);
    return st;
}

static llamac_status repo_files(const struct hub_env *env, const char *repo, llamac_hub_list *list) {
    if (!env->offline) {
        return remote_files(env, repo, list);
    }
    char commit[41];
    if (!hub__read_ref(env, repo, commit)) {
        return llamac__fail(LLAMAC_E_NOT_FOUND,
                            "offline: %s is not in the cache (%s has no models--%.*s--%s/refs/main); run without "
                            "--offline / HF_HUB_OFFLINE to download it",
                            repo, env->cache, (int)(strchr(repo, '/') - repo), repo, strchr(repo, '/') + 1);
    }
    return hub__snapshot_files(env, repo, commit, list);
}

llamac_status llamac_hub_repo_files(const char *repo, const llamac_hub_params *params, llamac_hub_list **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "out is NULL");
    }
    *out = NULL;
    if (!repo || !hub__repo_valid(repo)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'%s' is not a Hub repository id (expected OWNER/REPO)",
                            repo ? repo : "(null)");
    }
    struct hub_env env;
    llamac_status st = hub__env_init(&env, params);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_hub_list *list = hub__list_new();
    st = list ? repo_files(&env, repo, list) : LLAMAC_E_NO_MEMORY;
    hub__env_free(&env);
    if (st != LLAMAC_OK) {
        llamac_hub_list_free(list);
        return st;
    }
    *out = list;
    return llamac__ok();
}

/* ---- fetching one file ---- */

/* "{endpoint}/{repo}/resolve/{commit}/{path}" with each path segment escaped. */
static char *resolve_url(const struct hub_env *env, const char *repo, const char *commit, const char *path) {
    char *esc = llamac__malloc(strlen(path) * 3 + 1);
    if (!esc) {
        return NULL;
    }
    esc[0] = '\0';
    for (const char *s = path; *s;) {
        const char *e = strchr(s, '/');
        size_t n = e ? (size_t)(e - s) : strlen(s);
        char *part = curl_easy_escape(NULL, s, (int)n);
        if (!part) {
            free(esc);
            llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory escaping a URL");
            return NULL;
        }
        strcat(esc, part);
        curl_free(part);
        if (e) {
            strcat(esc, "/");
        }
        s += n + (e ? 1 : 0);
    }
    char *url = hub__fmt("%s/%s/resolve/%s/%s", env->endpoint, repo, commit, esc);
    free(esc);
    return url;
}

/* Points snapshots/<commit>/<path> at ../../blobs/<sha> (one more ../ per folder in path), atomically. */
static llamac_status link_snapshot(const char *snap, const char *path, const char *sha) {
    char *slash = strrchr(snap, '/');
    char *parent = hub__fmt("%.*s", (int)(slash - snap), snap);
    size_t depth = 0;
    for (const char *p = path; *p; p++) {
        depth += *p == '/';
    }
    char *target = llamac__malloc(depth * 3 + 80);
    char *tmp = hub__fmt("%s.tmp.%ld", snap, (long)getpid());
    llamac_status st = LLAMAC_OK;
    if (!parent || !target || !tmp) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    strcpy(target, "../../");
    for (size_t i = 0; i < depth; i++) {
        strcat(target, "../");
    }
    strcat(target, "blobs/");
    strcat(target, sha);
    if ((st = hub__mkdirs(parent)) != LLAMAC_OK) {
        goto done;
    }
    unlink(tmp);
    if (symlink(target, tmp) != 0 || rename(tmp, snap) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot link '%s' to its blob: %s", snap, strerror(errno));
        unlink(tmp);
    }
done:
    free(parent);
    free(target);
    free(tmp);
    return st;
}

static bool exists(const char *path) {
    struct stat sb;
    return stat(path, &sb) == 0;
}

/* Makes files->items[i] present in the cache and sets its local_path. */
static llamac_status fetch_file(const struct hub_env *env, const char *repo, const char *dir, llamac_hub_list *files,
                                size_t i) {
    const llamac_hub_file *f = &files->items[i];
    char *snap = hub__fmt("%s/snapshots/%s/%s", dir, f->commit, f->path);
    char *blobs = hub__fmt("%s/blobs", dir);
    char *locks = hub__fmt("%s/.locks/%s", env->cache, base_name(dir));
    char *blob = NULL, *part = NULL, *lock = NULL, *url = NULL;
    int lock_fd = -1;
    llamac_status st = LLAMAC_OK;
    if (!snap || !blobs || !locks) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if (exists(snap)) {
        st = hub__list_set_local(files, i, snap);
        goto done;
    }
    if (env->offline) {
        st = llamac__fail(LLAMAC_E_NOT_FOUND, "offline: %s of %s is not in the cache (%s)", f->path, repo, snap);
        goto done;
    }
    /* The blob's name: its LFS sha256, or for a small file stored in git, a name derived from its path until the
     * content's own sha256 is known. */
    char key[65];
    if (f->sha256[0]) {
        memcpy(key, f->sha256, 65);
    } else {
        hub__sha256(f->path, strlen(f->path), key);
    }
    blob = hub__fmt("%s/%s", blobs, key);
    part = hub__fmt("%s/%s.incomplete", blobs, key);
    lock = hub__fmt("%s/%s.lock", locks, key);
    url = resolve_url(env, repo, f->commit, f->path);
    if (!blob || !part || !lock || !url) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if ((st = hub__mkdirs(blobs)) != LLAMAC_OK || (st = hub__mkdirs(locks)) != LLAMAC_OK) {
        goto done;
    }
    lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot lock '%s': %s", lock, strerror(errno));
        goto done;
    }
    char sha[65];
    if (f->sha256[0] && exists(blob)) {
        memcpy(sha, f->sha256, 65); /* another process finished it while we waited, or a shared blob */
    } else {
        char linked[65];
        if ((st = hub__download(env, url, repo, f->path, part, f->size, linked)) != LLAMAC_OK) {
            goto done;
        }
        const char *expected = f->sha256[0] ? f->sha256 : linked;
        if (f->sha256[0] && linked[0] && strcmp(linked, f->sha256) != 0) {
            unlink(part);
            st = llamac__fail(LLAMAC_E_NETWORK,
                              "the Hub gives two sha256 values for %s of %s (file list %s, X-Linked-Etag %s); the "
                              "download was discarded",
                              f->path, repo, f->sha256, linked);
            goto done;
        }
        if ((st = hub__sha256_file(part, sha)) != LLAMAC_OK) {
            goto done;
        }
        struct stat sb;
        uint64_t got = stat(part, &sb) == 0 ? (uint64_t)sb.st_size : 0;
        if ((expected[0] && strcmp(sha, expected) != 0) || (f->size && got != f->size)) {
            unlink(part);
            st = llamac__fail(LLAMAC_E_NETWORK,
                              "sha256 mismatch for %s of %s: expected %s (%llu bytes), got %s (%llu bytes); the "
                              "download was discarded",
                              f->path, repo, expected[0] ? expected : "(none)", (unsigned long long)f->size, sha,
                              (unsigned long long)got);
            goto done;
        }
        free(blob);
        blob = hub__fmt("%s/%s", blobs, sha);
        if (!blob) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        if (rename(part, blob) != 0) {
            st = llamac__fail(LLAMAC_E_IO, "cannot move '%s' into place: %s", part, strerror(errno));
            goto done;
        }
    }
    if ((st = link_snapshot(snap, f->path, sha)) != LLAMAC_OK) {
        goto done;
    }
    st = hub__list_set_local(files, i, snap);
done:
    if (lock_fd >= 0) {
        flock(lock_fd, LOCK_UN);
        close(lock_fd);
    }
    free(snap);
    free(blobs);
    free(locks);
    free(blob);
    free(part);
    free(lock);
    free(url);
    return st;
}

llamac_status llamac_hub_pull(const char *spec, const char *file, const llamac_hub_params *params,
                              llamac_hub_list **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "out is NULL");
    }
    *out = NULL;
    if (!spec) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "spec is NULL");
    }
    enum { MAX_FILES = 258 };
    char *repo = NULL, *quant = NULL, *dir = NULL, *ref = NULL;
    llamac_hub_list *files = NULL, *result = NULL;
    size_t *sel = NULL;
    char net_error[512] = "";
    struct hub_env env;
    llamac_status st = hub__parse_spec(spec, &repo, &quant);
    if (st != LLAMAC_OK) {
        return st;
    }
    if ((st = hub__env_init(&env, params)) != LLAMAC_OK) {
        free(repo);
        free(quant);
        return st;
    }
    files = hub__list_new();
    result = hub__list_new();
    dir = hub__repo_dir(&env, repo);
    sel = llamac__calloc(MAX_FILES, sizeof *sel);
    if (!files || !result || !dir || !sel) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    st = repo_files(&env, repo, files);
    char commit[41];
    if (st == LLAMAC_E_NETWORK && hub__read_ref(&env, repo, commit)) {
        /* The Hub cannot be reached but the repo was pulled before: use the cache, as huggingface_hub and
         * llama.cpp do, and report the network error only if the cache cannot serve the request either. */
        snprintf(net_error, sizeof net_error, "%s", llamac_last_error());
        llamac__log(LLAMAC_LOG_WARN, "%s; using the cached copy of %s", net_error, repo);
        llamac_hub_list_free(files);
        files = hub__list_new();
        env.offline = true;
        st = files ? repo_files(&env, repo, files) : LLAMAC_E_NO_MEMORY;
    }
    if (st != LLAMAC_OK) {
        goto done;
    }
    size_t primary = 0, n_sel = 0;
    if ((st = choose_primary(files, repo, quant, file, env.offline, &primary)) != LLAMAC_OK) {
        goto done;
    }
    if ((st = add_shards(files, repo, primary, env.offline, sel, &n_sel, MAX_FILES)) != LLAMAC_OK) {
        goto done;
    }
    if (env.params->want_mmproj) {
        size_t mm = best_mmproj(files, primary);
        if (mm != SIZE_MAX) {
            sel[n_sel++] = mm;
        }
    }
    for (size_t k = 0; k < n_sel; k++) {
        if ((st = fetch_file(&env, repo, dir, files, sel[k])) != LLAMAC_OK) {
            goto done;
        }
        const llamac_hub_file *f = &files->items[sel[k]];
        if ((st = hub__list_add(result, f->repo, f->path, f->local_path, f->sha256, f->commit, f->size)) != LLAMAC_OK) {
            goto done;
        }
    }
    if (!env.offline) {
        ref = hub__fmt("%s/refs", dir);
        if (!ref) {
            st = LLAMAC_E_NO_MEMORY;
            goto done;
        }
        if ((st = hub__mkdirs(ref)) != LLAMAC_OK) {
            goto done;
        }
        free(ref);
        ref = hub__fmt("%s/refs/main", dir);
        if (!ref || (st = hub__write_atomic(ref, files->items[primary].commit)) != LLAMAC_OK) {
            st = ref ? st : LLAMAC_E_NO_MEMORY;
            goto done;
        }
    }
    *out = result;
    result = NULL;
    st = llamac__ok();
done:
    if (st != LLAMAC_OK && net_error[0]) {
        char cache_error[512];
        snprintf(cache_error, sizeof cache_error, "%s", llamac_last_error());
        st = llamac__fail(LLAMAC_E_NETWORK, "%s; and the cache cannot stand in: %s", net_error, cache_error);
    }
    llamac_hub_list_free(files);
    llamac_hub_list_free(result);
    free(sel);
    free(ref);
    free(dir);
    free(repo);
    free(quant);
    hub__env_free(&env);
    return st;
}
