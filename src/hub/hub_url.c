/*
 * hub_url.c - a file from a plain http(s) URL (llama.cpp's --model-url / --mmproj-url), kept in the Hub cache
 * folder's urls/ so that the next run finds it: one file per URL, named by the URL's sha256 and its last path
 * segment, downloaded with the Hub's resuming transfer (hub_http.c) into NAME.incomplete under a lock and renamed
 * into place when whole.
 */
#include "hub/hub_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

/* The URL's last path segment (no query or fragment), with bytes other than [A-Za-z0-9._-] as '_'; "download"
 * when it has none. */
static void url_name(const char *url, char *name, size_t cap) {
    const char *p = strstr(url, "://");
    p = p ? p + 3 : url;
    size_t end = strcspn(p, "?#");
    const char *last = NULL;
    for (size_t i = 0; i < end; i++) {
        if (p[i] == '/') {
            last = p + i + 1;
        }
    }
    size_t n = 0;
    if (last) {
        for (const char *c = last; c < p + end && n + 1 < cap && n < 96; c++) {
            bool ok = (*c >= 'A' && *c <= 'Z') || (*c >= 'a' && *c <= 'z') || (*c >= '0' && *c <= '9') || *c == '.' ||
                      *c == '_' || *c == '-';
            name[n++] = ok ? *c : '_';
        }
    }
    name[n] = '\0';
    if (n == 0 || strspn(name, ".") == n) {
        snprintf(name, cap, "download");
    }
}

llamac_status llamac_hub_download_url(const char *url, const llamac_hub_params *params, char **path) {
    if (path) {
        *path = NULL;
    }
    if (!url || !path) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_hub_download_url: url and path must not be NULL");
    }
    char scheme[32];
    if (!hub__is_http_url(url, scheme, sizeof scheme)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: only http and https URLs are downloaded (%s)", url, scheme);
    }
    struct hub_env env;
    llamac_status st = hub__env_init(&env, params);
    if (st != LLAMAC_OK) {
        return st;
    }
    char name[128], hash[65];
    url_name(url, name, sizeof name);
    hub__sha256(url, strlen(url), hash);
    char *dir = hub__fmt("%s/urls", env.cache);
    char *dest = dir ? hub__fmt("%s/%.16s-%s", dir, hash, name) : NULL;
    char *part = dest ? hub__fmt("%s.incomplete", dest) : NULL;
    char *lock = dest ? hub__fmt("%s.lock", dest) : NULL;
    int lock_fd = -1;
    struct stat sb;
    if (!part || !lock) {
        st = LLAMAC_E_NO_MEMORY;
        goto done;
    }
    if (stat(dest, &sb) == 0 && S_ISREG(sb.st_mode)) {
        goto done; /* downloaded before */
    }
    if (env.offline) {
        st = llamac__fail(LLAMAC_E_NOT_FOUND, "%s is not in the cache (%s) and the Hub settings say offline", url, dir);
        goto done;
    }
    if ((st = hub__mkdirs(dir)) != LLAMAC_OK) {
        goto done;
    }
    lock_fd = open(lock, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
    if (lock_fd < 0 || flock(lock_fd, LOCK_EX) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot lock '%s': %s", lock, strerror(errno));
        goto done;
    }
    if (stat(dest, &sb) == 0 && S_ISREG(sb.st_mode)) {
        goto done; /* another process finished it while we waited */
    }
    char etag[65];
    st = hub__download(&env, url, NULL, url, part, 0, etag);
    if (st == LLAMAC_OK && rename(part, dest) != 0) {
        st = llamac__fail(LLAMAC_E_IO, "cannot rename '%s' to '%s': %s", part, dest, strerror(errno));
    }
    if (st == LLAMAC_E_NOT_FOUND || st == LLAMAC_E_AUTH) {
        unlink(part); /* an error page, not a partial file to resume */
    }
done:
    if (lock_fd >= 0) {
        flock(lock_fd, LOCK_UN);
        close(lock_fd);
    }
    if (st == LLAMAC_OK) {
        *path = dest;
        dest = NULL;
    }
    free(dir);
    free(dest);
    free(part);
    free(lock);
    hub__env_free(&env);
    return st;
}
