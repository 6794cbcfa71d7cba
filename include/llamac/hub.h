/*
 * llamac/hub.h - the Hugging Face Hub: listing a repository, resumable verified downloads into huggingface_hub's cache,
 * and the cached models; and plain HTTP requests through the same client, their answers streamed.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_HUB_H
#define LLAMAC_HUB_H

#include "base.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Hugging Face Hub
 * ------------------------------------------------------------------------------------------------------------- */
/* Download progress of one file: its path in the repo, bytes done and total (0 when unknown), and the current rate
 * in bytes per second. Return false to cancel the pull (LLAMAC_E_CANCELLED; the partial file stays, to be resumed).
 * Runs on the thread that called llamac_hub_pull; must not call llamac_hub_* functions. */
typedef bool (*llamac_hub_progress_fn)(const char *file, uint64_t done, uint64_t total, double bytes_per_sec,
                                       void *user_data);

/* Where the Hub calls read and write. Zero/NULL fields take the environment's value, as huggingface_hub does. */
typedef struct llamac_hub_params {
    const char *endpoint;  /* Hub URL; NULL: $HF_ENDPOINT, else https://huggingface.co */
    const char *cache_dir; /* NULL: $HF_HUB_CACHE, else $HF_HOME/hub, else ~/.cache/huggingface/hub */
    const char *token;     /* NULL: $HF_TOKEN, else $HUGGING_FACE_HUB_TOKEN, else the file $HF_HOME/token; "" for
                              none. Sent only to the endpoint's host, never to the hosts it redirects to. */
    bool offline;          /* use only the cache (also when $HF_HUB_OFFLINE is 1/true/yes) */
    bool want_mmproj;      /* llamac_hub_pull also fetches the repo's multimodal projector (mmproj*.gguf), if any */
    int max_retries;       /* a dropped download is resumed (Range request) this many times (default 3) */
    llamac_hub_progress_fn progress; /* called during downloads; NULL for none */
    void *progress_user_data;
} llamac_hub_params;

/* Defaults: everything from the environment, max_retries 3. Thread-safe. */
LLAMAC_API llamac_hub_params llamac_hub_params_default(void);

/* One file of a Hub repository, remote or cached. */
typedef struct llamac_hub_file {
    const char *repo;       /* "owner/name" */
    const char *path;       /* path inside the repository, e.g. "model-Q4_K_M.gguf" */
    const char *local_path; /* the file in the cache (snapshots/<commit>/<path>); NULL when not downloaded */
    const char *sha256;     /* the LFS sha256 (64 hex digits), "" for a file stored without LFS */
    const char *commit;     /* the revision the file belongs to (40 hex digits) */
    uint64_t size;          /* bytes */
} llamac_hub_file;

/* A list of files; owned by the caller, freed with llamac_hub_list_free. */
typedef struct llamac_hub_list llamac_hub_list;

/* Number of files in `list` (0 for NULL). Thread-safe. */
LLAMAC_API size_t llamac_hub_list_count(const llamac_hub_list *list);

/* File `i` of `list`, or NULL when out of range; owned by the list, valid until llamac_hub_list_free. Thread-safe.
 */
LLAMAC_API const llamac_hub_file *llamac_hub_list_get(const llamac_hub_list *list, size_t i);

/* Frees a list. NULL is a no-op. Not thread-safe (no other use of the list at the same time). */
LLAMAC_API void llamac_hub_list_free(llamac_hub_list *list);

/* Lists every file of repository `repo` ("owner/name", borrowed) at its main branch: GET
 * {endpoint}/api/models/{repo}/refs, then .../tree/{commit}?recursive=true, as llama.cpp does. Offline, the list
 * is what the cache holds for refs/main. *out is caller frees with llamac_hub_list_free.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a malformed repo id), LLAMAC_E_AUTH (401/403: gated or private; the
 * message says to request access and set HF_TOKEN), LLAMAC_E_NOT_FOUND (no such repository; offline: nothing
 * cached), LLAMAC_E_NETWORK (unreachable, dropped, other HTTP errors, a malformed answer), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_hub_repo_files(const char *repo, const llamac_hub_params *params,
                                               llamac_hub_list **out);

/* The model files of a repository listing that a quant could name: every GGUF that is not an mmproj, imatrix or
 * draft-model file, split models by their first shard only, in listing order; what a picker offers. *out is caller
 * frees with llamac_hub_list_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_hub_model_choices(const llamac_hub_list *files, llamac_hub_list **out);

/* Downloads (or finds in the cache) the model named by `spec`, "owner/name[:QUANT]" (borrowed): the GGUF file
 * `file` when not NULL, else the one whose name carries QUANT (case-insensitive; default Q4_K_M, then Q8_0, then
 * the repo's only model file), with every shard of a split model (-00001-of-0000N.gguf) and, with want_mmproj, the
 * best-matching mmproj file. Downloads resume an earlier partial file (blobs/<sha>.incomplete) with a Range
 * request, are checked against the LFS sha256 (X-Linked-Etag) before the atomic rename into blobs/, and hold a
 * lock (.locks/) so that concurrent pulls of one file wait for each other. *out lists the model's shards in order,
 * then the mmproj; every local_path is set. Caller frees with llamac_hub_list_free. When the Hub cannot be
 * reached but the repo is in the cache (refs/main), the cache answers instead, as with offline set.
 * Errors: those of llamac_hub_repo_files; LLAMAC_E_NOT_FOUND (no file for QUANT, or several candidates and no
 * default: the message lists the quants that exist; offline: names what the cache lacks), LLAMAC_E_NETWORK (also
 * a sha256 mismatch: nothing is kept), LLAMAC_E_IO (the cache cannot be written), LLAMAC_E_CANCELLED.
 * Thread-safe (separate processes and threads may pull the same file). */
LLAMAC_API llamac_status llamac_hub_pull(const char *spec, const char *file, const llamac_hub_params *params,
                                         llamac_hub_list **out);

/* Downloads the file at `url` (http or https, NUL-terminated, borrowed; llama.cpp's --model-url and --mmproj-url),
 * or finds it where an earlier call put it: the cache folder's urls/<first 16 hex digits of the URL's sha256>-<the
 * URL's last path segment>. The download resumes an earlier partial file (NAME.incomplete) with a Range request,
 * follows redirects, sends the token only to the endpoint's host, and holds a lock (NAME.lock) so that concurrent
 * downloads of one URL wait for each other; the file is renamed into place when whole. There is no checksum to
 * check it against, and a file once downloaded is not fetched again (remove it to refresh it). *path is the file's
 * path, caller frees with llamac_free. params NULL means defaults (want_mmproj is not used).
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, not an http(s) URL), LLAMAC_E_NOT_FOUND (HTTP 404, or not downloaded
 * yet while offline), LLAMAC_E_AUTH (HTTP 401 or 403), LLAMAC_E_NETWORK (unreachable, another HTTP error, a
 * dropped transfer after max_retries resumptions: the partial file stays, to be resumed), LLAMAC_E_IO (the cache
 * cannot be written), LLAMAC_E_CANCELLED (the progress callback; the partial file stays), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_hub_download_url(const char *url, const llamac_hub_params *params, char **path);

/* Lists every file in the cache's snapshots, all repositories, sorted by repo and path (size of the blob it links
 * to). *out is caller frees with llamac_hub_list_free (empty when nothing is cached).
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_hub_cached(const llamac_hub_params *params, llamac_hub_list **out);

/* Removes from the cache what `spec` ("owner/name[:QUANT]", borrowed) names: the whole repository without QUANT,
 * else the snapshot files whose name carries QUANT (every shard) and the blobs no other snapshot still links to.
 * *n_removed (may be NULL) counts the snapshot files removed.
 * Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NOT_FOUND (nothing cached matches; the message lists what is),
 * LLAMAC_E_IO. Not thread-safe with a pull of the same repository. */
LLAMAC_API llamac_status llamac_hub_remove(const char *spec, const llamac_hub_params *params, size_t *n_removed);

/* ---------------------------------------------------------------------------------------------------------------
 * Plain HTTP requests (the hub's libcurl client; llamac serve's /cors-proxy)
 * ------------------------------------------------------------------------------------------------------------- */
/* Asked while a streamed request waits for its answer's status and headers, about every 100 ms, on the thread that
 * called llamac_http_stream_open: return false to stop waiting (LLAMAC_E_CANCELLED), e.g. when whoever wanted the
 * answer has gone. It must not call llamac_http_stream_* functions. */
typedef bool (*llamac_http_wait_fn)(void *user_data);

/* Limits of a streamed request. */
typedef struct llamac_http_params {
    size_t max_bytes;       /* the most body bytes of the answer read; a longer answer fails (default 64 MiB) */
    uint32_t timeout_ms;    /* until the answer's status and headers have come, connecting and redirects included
                               (default 30000) */
    uint32_t idle_ms;       /* the longest wait for the body's next bytes (default 60000); there is no limit on the
                               whole transfer, so that a stream (server-sent events) may last */
    uint32_t max_redirects; /* redirects followed, each to http or https only (default 5; 0: a 3xx is the answer) */
    llamac_http_wait_fn keep_waiting; /* NULL (the default): wait until timeout_ms */
    void *user_data;                  /* for keep_waiting */
} llamac_http_params;

/* The defaults above. Thread-safe. */
LLAMAC_API llamac_http_params llamac_http_params_default(void);

/* A request in flight whose answer's status and headers have come; its body is read piece by piece. */
typedef struct llamac_http_stream llamac_http_stream;

/* Sends `method` (GET, HEAD, POST, or another token of letters) to an http or https `url` with the `n_headers`
 * header lines of `headers` ("Name: value" each; "Name:" sends an empty value) and `body_len` bytes of `body` (may be
 * NULL when body_len is 0), and waits until the answer's status and headers have come. Nothing else is added but
 * Host, User-Agent (llamac/VERSION, unless given) and Accept (any, unless given), and the Content-Length of a body;
 * Content-Type only when given. The answer's body is not decoded (give no Accept-Encoding to get it plain). Redirects
 * are followed up to max_redirects (a POST answered 301, 302 or 303 becomes a GET, as browsers do; Authorization and
 * Cookie lines go to the first host only). All strings borrowed for the call; params NULL means defaults. *out is
 * caller frees with llamac_http_stream_free; whatever the status code (4xx and 5xx included) the answer is returned.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a malformed method or header line, a CR or LF in one, not an http(s)
 * URL, a redirect elsewhere), LLAMAC_E_NETWORK (the host does not resolve, refuses the connection, the connection
 * drops, too many redirects, an answer longer than max_bytes by its Content-Length), LLAMAC_E_TIMEOUT (no status and
 * headers within timeout_ms), LLAMAC_E_CANCELLED (keep_waiting said stop), LLAMAC_E_NO_MEMORY. Thread-safe (one thread
 * per stream afterwards). */
LLAMAC_API llamac_status llamac_http_stream_open(const char *method, const char *url, const char *const *headers,
                                                 size_t n_headers, const void *body, size_t body_len,
                                                 const llamac_http_params *params, llamac_http_stream **out);

/* The answer's HTTP status code (200, 204, 404, ...). One thread per stream. */
LLAMAC_API int llamac_http_stream_status(const llamac_http_stream *stream);

/* The answer's header `i` (from 0, in the order they came; the first 64): *name and *value are owned by the stream,
 * valid until it is freed. False past the last one. One thread per stream. */
LLAMAC_API bool llamac_http_stream_header(const llamac_http_stream *stream, size_t i, const char **name,
                                          const char **value);

/* Reads the answer's next body bytes into buf (cap bytes at most): *n is how many came (0 when none came within
 * wait_ms: the body goes on; ask again), *end true once the whole body has been read. The answer's bytes are never
 * decoded or changed.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_NETWORK (the connection dropped, the body passed max_bytes),
 * LLAMAC_E_TIMEOUT (no bytes for idle_ms), LLAMAC_E_NO_MEMORY; every later call fails again. One thread per
 * stream. */
LLAMAC_API llamac_status llamac_http_stream_read(llamac_http_stream *stream, void *buf, size_t cap, uint32_t wait_ms,
                                                 size_t *n, bool *end);

/* Ends the request (closing its connection when the body was not read to its end) and frees the stream. NULL is a
 * no-op. One thread per stream. */
LLAMAC_API void llamac_http_stream_free(llamac_http_stream *stream);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_HUB_H */
