/*
 * hub_internal.h - what the Hugging Face Hub files of libllamac share: the resolved settings, the file list, the
 * HTTP calls, the cache paths and a small sha256.
 *
 * The cache is huggingface_hub's own layout, so every function here speaks in its terms: a repo folder
 * models--OWNER--NAME holding blobs/<sha256>, snapshots/<commit>/<path> (relative links to the blobs) and
 * refs/main (the commit main pointed at when we last looked).
 */
#ifndef LLAMAC_HUB_INTERNAL_H
#define LLAMAC_HUB_INTERNAL_H

#include "core/internal.h"

#include <stddef.h>
#include <stdint.h>

/* ---- settings (hub_cache.c) ---- */

/* The parameters with the environment filled in. Strings are owned here; hub__env_free releases them. */
struct hub_env {
    char *endpoint; /* no trailing slash */
    char *cache;    /* the hub cache directory */
    char *token;    /* NULL when there is none */
    bool offline;
    int max_retries;
    const llamac_hub_params *params;
};

llamac_status hub__env_init(struct hub_env *env, const llamac_hub_params *params);
void hub__env_free(struct hub_env *env);

/* Splits "owner/name[:QUANT]" into a checked repo id and quant (NULL when none); both caller frees with free. */
llamac_status hub__parse_spec(const char *spec, char **repo, char **quant);

/* True for a repo id huggingface_hub accepts: OWNER/NAME of [A-Za-z0-9._-], no "--" or ".." and no leading or
 * trailing '-' or '.'. */
bool hub__repo_valid(const char *repo);

/* "<cache>/models--OWNER--NAME"; caller frees with free. NULL (E_NO_MEMORY) on failure. */
char *hub__repo_dir(const struct hub_env *env, const char *repo);

/* printf into a new string; caller frees with free. NULL (E_NO_MEMORY) on failure. */
char *hub__fmt(const char *fmt, ...) LLAMAC_PRINTF(1, 2);

/* mkdir -p. */
llamac_status hub__mkdirs(const char *path);

/* Writes `text` to `path` through a temporary file and a rename. */
llamac_status hub__write_atomic(const char *path, const char *text);

/* Reads refs/main of a repo into commit[41]; false when absent or malformed. */
bool hub__read_ref(const struct hub_env *env, const char *repo, char commit[41]);

/* Lists the files of snapshots/<commit> of `repo` into `list` (local_path set). */
llamac_status hub__snapshot_files(const struct hub_env *env, const char *repo, const char *commit,
                                  llamac_hub_list *list);

/* True when `path` carries `quant` followed by '.' or '-' and not preceded by a letter or digit (case-insensitive):
 * llama.cpp's match of a quant in a file name (hub_pull.c). */
bool hub__name_has_quant(const char *path, const char *quant);

/* ---- the file list (hub_cache.c) ---- */

struct llamac_hub_list {
    llamac_hub_file *items;
    size_t n, cap;
};

llamac_hub_list *hub__list_new(void);

/* Appends a copy of the strings (local_path, sha256, commit may be NULL). */
llamac_status hub__list_add(llamac_hub_list *list, const char *repo, const char *path, const char *local_path,
                            const char *sha256, const char *commit, uint64_t size);

/* Sets item i's local_path to a copy of `path`. */
llamac_status hub__list_set_local(llamac_hub_list *list, size_t i, const char *path);

/* ---- HTTP (hub_http.c) ---- */

/* GETs a Hub API URL and parses the JSON answer; *out is caller frees with json_decref. `repo` names the
 * repository in error messages. */
struct json_t;
llamac_status hub__api_get(const struct hub_env *env, const char *url, const char *repo, struct json_t **out);

/* Downloads `url` into `dest` (appending to what is there with a Range request, retrying dropped transfers).
 * `linked_etag` (65 bytes) receives the X-Linked-Etag sha256 when the server sent one, else "". `repo` NULL: a URL
 * that is not a Hub file (error messages name the URL, not a repository). */
llamac_status hub__download(const struct hub_env *env, const char *url, const char *repo, const char *file,
                            const char *dest, uint64_t size, char linked_etag[65]);

/* True for an http or https URL; `scheme` (cap bytes) receives its scheme, or "not a URL". */
bool hub__is_http_url(const char *url, char *scheme, size_t cap);

/* GETs an http or https URL into `body` (reset first; its cap is the most bytes accepted), following at most
 * `max_redirects` redirects, each to http or https only, all within `timeout_ms` (connecting included). No token is
 * sent: this is for URLs that are not the Hub's (remote media). The caller frees `body` either way.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (not http(s), or a redirect elsewhere), LLAMAC_E_MEDIA (larger than the cap),
 * LLAMAC_E_NETWORK (unreachable, too slow, too many redirects, an HTTP status other than 2xx), LLAMAC_E_NO_MEMORY. */
struct llamac__dynbuf;
llamac_status hub__http_get(const char *url, uint32_t timeout_ms, uint32_t max_redirects, struct llamac__dynbuf *body);

/* ---- sha256 (sha256.c) ---- */

/* The sha256 of a file as 64 lowercase hex digits. */
llamac_status hub__sha256_file(const char *path, char hex[65]);

/* The sha256 of a buffer. */
void hub__sha256(const void *data, size_t len, char hex[65]);

#endif /* LLAMAC_HUB_INTERNAL_H */
