/*
 * hub_http.c - the two kinds of request the Hub takes: a JSON API call and a file download, over libcurl.
 *
 * Redirects are followed here, one hop at a time, rather than by curl, so that the rule "the token goes only to
 * the Hub" is ours to enforce: the Authorization header is added to a request only when its scheme, host and port
 * are the endpoint's. Downloads append to a partial file with a Range request and retry a dropped transfer.
 * A third kind, a capped GET of any http(s) URL without a token (hub__http_get), fetches remote media; a fourth, a
 * request of any method whose answer is read piece by piece as it comes (llamac_http_stream, llamac serve's
 * /cors-proxy), drives curl's multi interface from the reader's calls, so that no thread of its own is needed and a
 * reader that stops waiting (its client gone) stops the transfer.
 */
#include "dynbuf.h"
#include "hub/hub_internal.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

enum { MAX_HOPS = 10 };
#define API_BODY_CAP ((size_t)64 << 20)

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc = CURLE_OK;

static void curl_init_once(void) {
    curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

static llamac_status curl_ready(void) {
    pthread_once(&curl_once, curl_init_once);
    if (curl_init_rc != CURLE_OK) {
        return llamac__fail(LLAMAC_E_NETWORK, "libcurl could not be initialised: %s", curl_easy_strerror(curl_init_rc));
    }
    return LLAMAC_OK;
}

/* True when `url` has the endpoint's scheme, host and port: only then may it see the token. */
static bool same_origin(const char *url, const char *endpoint) {
    CURLU *a = curl_url(), *b = curl_url();
    bool same = false;
    char *sa = NULL, *sb = NULL, *ha = NULL, *hb = NULL, *pa = NULL, *pb = NULL;
    if (a && b && curl_url_set(a, CURLUPART_URL, url, 0) == CURLUE_OK &&
        curl_url_set(b, CURLUPART_URL, endpoint, 0) == CURLUE_OK &&
        curl_url_get(a, CURLUPART_SCHEME, &sa, 0) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_SCHEME, &sb, 0) == CURLUE_OK &&
        curl_url_get(a, CURLUPART_HOST, &ha, 0) == CURLUE_OK && curl_url_get(b, CURLUPART_HOST, &hb, 0) == CURLUE_OK &&
        curl_url_get(a, CURLUPART_PORT, &pa, CURLU_DEFAULT_PORT) == CURLUE_OK &&
        curl_url_get(b, CURLUPART_PORT, &pb, CURLU_DEFAULT_PORT) == CURLUE_OK) {
        same = strcasecmp(sa, sb) == 0 && strcasecmp(ha, hb) == 0 && strcmp(pa, pb) == 0;
    }
    curl_free(sa);
    curl_free(sb);
    curl_free(ha);
    curl_free(hb);
    curl_free(pa);
    curl_free(pb);
    curl_url_cleanup(a);
    curl_url_cleanup(b);
    return same;
}

/* What one request brought back besides the body. */
struct reply {
    char linked_etag[65]; /* X-Linked-Etag, quotes removed, when it is a sha256 */
    char error_code[64];  /* X-Error-Code (RepoNotFound, GatedRepo, ...) */
    char error_msg[256];  /* X-Error-Message */
};

/* Copies a header's value (after "Name:"), trimmed and without quotes or a W/ prefix, into dst. */
static void header_value(const char *v, size_t n, char *dst, size_t cap) {
    while (n > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        n--;
    }
    while (n > 0 && (v[n - 1] == '\r' || v[n - 1] == '\n' || v[n - 1] == ' ')) {
        n--;
    }
    if (n >= 2 && v[0] == 'W' && v[1] == '/') {
        v += 2;
        n -= 2;
    }
    if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
        v++;
        n -= 2;
    }
    if (n >= cap) {
        n = cap - 1;
    }
    memcpy(dst, v, n);
    dst[n] = '\0';
}

static size_t on_header(char *buf, size_t size, size_t nitems, void *user) {
    struct reply *r = user;
    size_t n = size * nitems;
    static const struct {
        const char *name;
        size_t off, cap;
    } wanted[] = {
        { "x-linked-etag:", offsetof(struct reply, linked_etag), sizeof(((struct reply *)0)->linked_etag) },
        { "x-error-code:", offsetof(struct reply, error_code), sizeof(((struct reply *)0)->error_code) },
        { "x-error-message:", offsetof(struct reply, error_msg), sizeof(((struct reply *)0)->error_msg) },
    };
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        memset(r, 0, sizeof *r); /* a new response (after 100 Continue, say) */
        return n;
    }
    for (size_t i = 0; i < sizeof wanted / sizeof wanted[0]; i++) {
        size_t k = strlen(wanted[i].name);
        if (n > k && strncasecmp(buf, wanted[i].name, k) == 0) {
            header_value(buf + k, n - k, (char *)r + wanted[i].off, wanted[i].cap);
        }
    }
    return n;
}

static CURL *new_request(const struct hub_env *env, const char *url, struct curl_slist **headers, const char *accept,
                         const char *range) {
    CURL *h = curl_easy_init();
    if (!h) {
        llamac__fail(LLAMAC_E_NO_MEMORY, "libcurl could not create a request");
        return NULL;
    }
    *headers = NULL;
    char line[1024];
    if (env && env->token && same_origin(url, env->endpoint)) {
        snprintf(line, sizeof line, "Authorization: Bearer %s", env->token);
        *headers = curl_slist_append(*headers, line);
    }
    if (accept) {
        snprintf(line, sizeof line, "Accept: %s", accept);
        *headers = curl_slist_append(*headers, line);
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, *headers);
    curl_easy_setopt(h, CURLOPT_USERAGENT, "llamac/" LLAMAC_VERSION_STRING);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, 0L);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT, 30L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 60L);
    if (range) {
        curl_easy_setopt(h, CURLOPT_RANGE, range);
    }
    return h;
}

/* The status for an HTTP error answer from the Hub about `repo`. */
static llamac_status http_error(const struct hub_env *env, long code, const struct reply *r, const char *repo,
                                const char *what) {
    if (!repo) { /* a plain URL (llamac_hub_download_url), not the Hub's */
        return llamac__fail(code == 404                  ? LLAMAC_E_NOT_FOUND
                            : code == 401 || code == 403 ? LLAMAC_E_AUTH
                                                         : LLAMAC_E_NETWORK,
                            "%s answered HTTP %ld", what, code);
    }
    if (strcmp(r->error_code, "RepoNotFound") == 0 || code == 404) {
        if (strcmp(r->error_code, "EntryNotFound") == 0 || strcmp(r->error_code, "RevisionNotFound") == 0) {
            return llamac__fail(LLAMAC_E_NOT_FOUND, "%s not found in %s on %s (HTTP %ld%s%s)", what, repo,
                                env->endpoint, code, r->error_msg[0] ? ": " : "", r->error_msg);
        }
        return llamac__fail(LLAMAC_E_NOT_FOUND,
                            "repository %s not found on %s (HTTP %ld); check the name, or set HF_TOKEN if it is a "
                            "private repository of yours",
                            repo, env->endpoint, code);
    }
    if (code == 401 || code == 403 || strcmp(r->error_code, "GatedRepo") == 0) {
        return llamac__fail(LLAMAC_E_AUTH,
                            "%s is gated or private and the Hub refused access (HTTP %ld%s%s): request access at "
                            "%s/%s and set HF_TOKEN (or HUGGING_FACE_HUB_TOKEN, or log in to write $HF_HOME/token) "
                            "to a token that has it%s",
                            repo, code, r->error_msg[0] ? ": " : "", r->error_msg, env->endpoint, repo,
                            env->token ? " (a token was sent)" : " (no token was sent)");
    }
    return llamac__fail(LLAMAC_E_NETWORK, "the Hub answered HTTP %ld for %s of %s%s%s", code, what, repo,
                        r->error_msg[0] ? ": " : "", r->error_msg);
}

/* Runs a prepared request and frees it (and its headers): *code is the HTTP status, *next (caller frees) the
 * redirect's target for a 3xx answer, else NULL. */
static CURLcode perform_hop(CURL *h, struct curl_slist *headers, long *code, char **next) {
    CURLcode rc = curl_easy_perform(h);
    *code = 0;
    *next = NULL;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
    if (rc == CURLE_OK && *code >= 300 && *code < 400) {
        char *loc = NULL;
        curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
        *next = loc ? hub__fmt("%s", loc) : NULL;
    }
    curl_easy_cleanup(h);
    curl_slist_free_all(headers);
    return rc;
}

/* ---- API calls ---- */

/* Collects a response body (a dynbuf capped below API_BODY_CAP); refusing bytes makes curl stop with an error. */
static size_t on_body(char *buf, size_t size, size_t nitems, void *user) {
    size_t n = size * nitems;
    return llamac__dynbuf_add(user, buf, n) ? n : 0;
}

llamac_status hub__api_get(const struct hub_env *env, const char *url, const char *repo, json_t **out) {
    *out = NULL;
    llamac_status st = curl_ready();
    if (st != LLAMAC_OK) {
        return st;
    }
    char *cur = hub__fmt("%s", url);
    llamac__dynbuf body = LLAMAC__DYNBUF(API_BODY_CAP - 1);
    for (int hop = 0; cur && hop < MAX_HOPS; hop++) {
        struct curl_slist *headers = NULL;
        struct reply r = { 0 };
        CURL *h = new_request(env, cur, &headers, "application/json", NULL);
        if (!h) {
            st = LLAMAC_E_NO_MEMORY;
            break;
        }
        llamac__dynbuf_reset(&body);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, &body);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &r);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 300L);
        long code = 0;
        char *next = NULL;
        CURLcode rc = perform_hop(h, headers, &code, &next);
        if (rc != CURLE_OK) {
            llamac__dynbuf_err kept = llamac__dynbuf_error(&body);
            st = kept == LLAMAC__DYNBUF_TOO_BIG
                     ? llamac__fail(LLAMAC_E_NETWORK, "the Hub's answer to %s is larger than 64 MiB", cur)
                 : kept == LLAMAC__DYNBUF_NO_MEMORY
                     ? llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading the Hub's answer to %s", cur)
                     : llamac__fail(LLAMAC_E_NETWORK, "cannot reach the Hub at %s: %s", env->endpoint,
                                    curl_easy_strerror(rc));
            break;
        }
        if (next) {
            free(cur);
            cur = next;
            continue;
        }
        if (code != 200) {
            st = http_error(env, code, &r, repo, "the file list");
            break;
        }
        json_error_t jerr;
        *out = json_loadb(llamac__dynbuf_ptr(&body), llamac__dynbuf_len(&body), 0, &jerr);
        st = *out ? LLAMAC_OK
                  : llamac__fail(LLAMAC_E_NETWORK, "the Hub's answer to %s is not JSON: %s (line %d)", cur, jerr.text,
                                 jerr.line);
        free(cur);
        cur = NULL;
        llamac__dynbuf_free(&body);
        return st;
    }
    if (st == LLAMAC_OK) {
        st = cur ? llamac__fail(LLAMAC_E_NETWORK, "more than %d redirects for %s", MAX_HOPS, url) : LLAMAC_E_NO_MEMORY;
    }
    free(cur);
    llamac__dynbuf_free(&body);
    return st;
}

/* ---- downloads ---- */

struct transfer {
    const struct hub_env *env;
    const char *file;
    CURL *h;
    FILE *out;
    uint64_t offset; /* bytes in the file before this request */
    uint64_t size;   /* expected total, 0 when unknown */
    long code;       /* the response code, read at the first body byte */
    bool io_error;
    bool cancelled;
    struct timespec t0;
};

static size_t on_file(char *buf, size_t size, size_t nitems, void *user) {
    struct transfer *t = user;
    size_t n = size * nitems;
    if (t->code == 0) {
        curl_easy_getinfo(t->h, CURLINFO_RESPONSE_CODE, &t->code);
        if (t->code == 200 && t->offset > 0) {
            /* The server ignored the Range: start over. */
            if (fflush(t->out) != 0 || ftruncate(fileno(t->out), 0) != 0 || fseek(t->out, 0, SEEK_SET) != 0) {
                t->io_error = true;
                return 0;
            }
            t->offset = 0;
        }
    }
    if (t->code != 200 && t->code != 206) {
        return n; /* an error page or a redirect's body */
    }
    if (fwrite(buf, 1, n, t->out) != n) {
        t->io_error = true;
        return 0;
    }
    return n;
}

static int on_progress(void *user, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal, curl_off_t ulnow) {
    (void)ultotal;
    (void)ulnow;
    struct transfer *t = user;
    const llamac_hub_params *p = t->env->params;
    if (!p->progress || (t->code != 0 && t->code != 200 && t->code != 206)) {
        return 0;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double secs = (double)(now.tv_sec - t->t0.tv_sec) + (double)(now.tv_nsec - t->t0.tv_nsec) * 1e-9;
    double rate = secs > 0.0 ? (double)dlnow / secs : 0.0;
    uint64_t total = t->size ? t->size : (dltotal > 0 ? t->offset + (uint64_t)dltotal : 0);
    if (!p->progress(t->file, t->offset + (uint64_t)dlnow, total, rate, p->progress_user_data)) {
        t->cancelled = true;
        return 1;
    }
    return 0;
}

/* One attempt: the request chain from `url` through its redirects, appending to t->out. */
static CURLcode fetch_once(const struct hub_env *env, const char *url, struct transfer *t, struct reply *r, long *code,
                           llamac_status *st) {
    char *cur = hub__fmt("%s", url);
    CURLcode rc = CURLE_OK;
    *st = LLAMAC_OK;
    for (int hop = 0; hop < MAX_HOPS; hop++) {
        if (!cur) {
            *st = LLAMAC_E_NO_MEMORY;
            return CURLE_OUT_OF_MEMORY;
        }
        char range[48];
        snprintf(range, sizeof range, "%llu-", (unsigned long long)t->offset);
        struct curl_slist *headers = NULL;
        CURL *h = new_request(env, cur, &headers, NULL, t->offset > 0 ? range : NULL);
        if (!h) {
            free(cur);
            *st = LLAMAC_E_NO_MEMORY;
            return CURLE_OUT_OF_MEMORY;
        }
        struct reply hop_reply = { 0 };
        t->h = h;
        t->code = 0;
        clock_gettime(CLOCK_MONOTONIC, &t->t0);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_file);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, t);
        curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_header);
        curl_easy_setopt(h, CURLOPT_HEADERDATA, &hop_reply);
        curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
        curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, on_progress);
        curl_easy_setopt(h, CURLOPT_XFERINFODATA, t);
        rc = curl_easy_perform(h);
        curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, code);
        if (hop_reply.linked_etag[0]) {
            memcpy(r->linked_etag, hop_reply.linked_etag, sizeof r->linked_etag);
        }
        memcpy(r->error_code, hop_reply.error_code, sizeof r->error_code);
        memcpy(r->error_msg, hop_reply.error_msg, sizeof r->error_msg);
        char *next = NULL;
        if (rc == CURLE_OK && *code >= 300 && *code < 400) {
            char *loc = NULL;
            curl_easy_getinfo(h, CURLINFO_REDIRECT_URL, &loc);
            next = loc ? hub__fmt("%s", loc) : NULL;
        }
        curl_easy_cleanup(h);
        curl_slist_free_all(headers);
        t->h = NULL;
        if (!next) {
            free(cur);
            return rc;
        }
        free(cur);
        cur = next;
    }
    free(cur);
    *st = llamac__fail(LLAMAC_E_NETWORK, "more than %d redirects for %s", MAX_HOPS, url);
    return CURLE_TOO_MANY_REDIRECTS;
}

static uint64_t file_size(FILE *f) {
    struct stat sb;
    return fflush(f) == 0 && fstat(fileno(f), &sb) == 0 ? (uint64_t)sb.st_size : 0;
}

llamac_status hub__download(const struct hub_env *env, const char *url, const char *repo, const char *file,
                            const char *dest, uint64_t size, char linked_etag[65]) {
    linked_etag[0] = '\0';
    llamac_status st = curl_ready();
    if (st != LLAMAC_OK) {
        return st;
    }
    FILE *out = fopen(dest, "ab");
    if (!out) {
        return llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", dest, strerror(errno));
    }
    struct reply r = { 0 };
    int attempt = 0;
    for (;;) {
        struct transfer t = { .env = env, .file = file, .out = out, .size = size };
        t.offset = file_size(out);
        if (size > 0 && t.offset == size) {
            break; /* complete from an earlier run; the sha256 check decides */
        }
        if (size > 0 && t.offset > size) {
            if (ftruncate(fileno(out), 0) != 0) {
                st = llamac__fail(LLAMAC_E_IO, "cannot truncate '%s': %s", dest, strerror(errno));
                break;
            }
            t.offset = 0;
        }
        long code = 0;
        CURLcode rc = fetch_once(env, url, &t, &r, &code, &st);
        if (st != LLAMAC_OK) {
            break;
        }
        if (t.cancelled) {
            st = llamac__fail(LLAMAC_E_CANCELLED, "download of %s cancelled; run again to resume", file);
            break;
        }
        if (t.io_error) {
            st = llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", dest, strerror(errno));
            break;
        }
        if (rc == CURLE_OK && (code == 200 || code == 206)) {
            break;
        }
        if (rc == CURLE_OK && code == 416) {
            /* The partial file is not a prefix the server can continue: start over once. */
            if (ftruncate(fileno(out), 0) != 0 || ++attempt > env->max_retries) {
                st = llamac__fail(LLAMAC_E_NETWORK, "the server refused to resume %s (HTTP 416)", file);
                break;
            }
            continue;
        }
        if (rc == CURLE_OK && code < 500) {
            st = http_error(env, code, &r, repo, file);
            break;
        }
        if (++attempt > env->max_retries) {
            uint64_t have = file_size(out);
            st = rc == CURLE_OK
                     ? (repo ? llamac__fail(LLAMAC_E_NETWORK, "the Hub answered HTTP %ld for %s of %s (tried %d times)",
                                            code, file, repo, attempt)
                             : llamac__fail(LLAMAC_E_NETWORK, "%s answered HTTP %ld (tried %d times)", url, code,
                                            attempt))
                     : llamac__fail(LLAMAC_E_NETWORK,
                                    "download of %s stopped after %llu bytes (tried %d times): %s; run again to "
                                    "resume",
                                    file, (unsigned long long)have, attempt, curl_easy_strerror(rc));
            break;
        }
        llamac__log(LLAMAC_LOG_WARN, "download of %s interrupted (%s); resuming", file,
                    rc == CURLE_OK ? "server error" : curl_easy_strerror(rc));
    }
    if (fclose(out) != 0 && st == LLAMAC_OK) {
        st = llamac__fail(LLAMAC_E_IO, "cannot write '%s': %s", dest, strerror(errno));
    }
    if (st == LLAMAC_OK) {
        size_t n = strlen(r.linked_etag);
        bool hex = n == 64;
        for (size_t i = 0; hex && i < n; i++) {
            char c = r.linked_etag[i];
            hex = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f');
        }
        if (hex) {
            memcpy(linked_etag, r.linked_etag, 65);
        }
    }
    return st;
}

/* ---- capped GETs (remote media) ---- */

bool hub__is_http_url(const char *url, char *scheme_out, size_t cap) {
    CURLU *u = curl_url();
    char *scheme = NULL;
    bool ok = u && curl_url_set(u, CURLUPART_URL, url, CURLU_NON_SUPPORT_SCHEME) == CURLUE_OK &&
              curl_url_get(u, CURLUPART_SCHEME, &scheme, 0) == CURLUE_OK;
    snprintf(scheme_out, cap, "%s", ok ? scheme : "not a URL");
    ok = ok && (strcasecmp(scheme, "http") == 0 || strcasecmp(scheme, "https") == 0);
    curl_free(scheme);
    curl_url_cleanup(u);
    return ok;
}

/* Ready to fetch `url`: libcurl initialised, and an http or https URL (else LLAMAC_E_INVALID_ARGUMENT). */
static llamac_status http_url_ready(const char *url) {
    llamac_status st = curl_ready();
    if (st != LLAMAC_OK) {
        return st;
    }
    char scheme[32];
    if (!hub__is_http_url(url, scheme, sizeof scheme)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: only http and https URLs are fetched (%s)", url, scheme);
    }
    return LLAMAC_OK;
}

/* Nothing but http and https, for the request and any redirect curl follows. */
static void http_only(CURL *h) {
#if LIBCURL_VERSION_NUM >= 0x075500
    curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, "http,https");
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS_STR, "http,https");
#else
    curl_easy_setopt(h, CURLOPT_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
    curl_easy_setopt(h, CURLOPT_REDIR_PROTOCOLS, (long)(CURLPROTO_HTTP | CURLPROTO_HTTPS));
#endif
}

static double elapsed_ms(const struct timespec *t0) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (double)(now.tv_sec - t0->tv_sec) * 1e3 + (double)(now.tv_nsec - t0->tv_nsec) * 1e-6;
}

llamac_status hub__http_get(const char *url, uint32_t timeout_ms, uint32_t max_redirects, llamac__dynbuf *body) {
    llamac_status st = http_url_ready(url);
    if (st != LLAMAC_OK) {
        return st;
    }
    char scheme[32];
    struct timespec t0;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    char *cur = hub__fmt("%s", url);
    for (uint32_t hop = 0; cur; hop++) {
        double left = (double)timeout_ms - elapsed_ms(&t0);
        if (left < 1.0) {
            st = llamac__fail(LLAMAC_E_NETWORK, "%s: no answer within %u ms", url, timeout_ms);
            break;
        }
        struct curl_slist *headers = NULL;
        CURL *h = new_request(NULL, cur, &headers, NULL, NULL);
        if (!h) {
            st = LLAMAC_E_NO_MEMORY;
            break;
        }
        llamac__dynbuf_reset(body);
        http_only(h);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
        curl_easy_setopt(h, CURLOPT_WRITEDATA, body);
        curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, (long)left);
        curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)left);
        curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)body->max);
        long code = 0;
        char *next = NULL;
        CURLcode rc = perform_hop(h, headers, &code, &next);
        llamac__dynbuf_err kept = llamac__dynbuf_error(body);
        if (rc == CURLE_FILESIZE_EXCEEDED || kept == LLAMAC__DYNBUF_TOO_BIG) {
            st = llamac__fail(LLAMAC_E_MEDIA, "%s: the answer is larger than %zu bytes", url, body->max);
            break;
        }
        if (kept == LLAMAC__DYNBUF_NO_MEMORY) {
            st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading %s", url);
            break;
        }
        if (rc == CURLE_OPERATION_TIMEDOUT) {
            st = llamac__fail(LLAMAC_E_NETWORK, "%s: no whole answer within %u ms", url, timeout_ms);
            break;
        }
        if (rc == CURLE_UNSUPPORTED_PROTOCOL) {
            st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: only http and https URLs are fetched", cur);
            break;
        }
        if (rc != CURLE_OK) {
            st = llamac__fail(LLAMAC_E_NETWORK, "cannot fetch %s: %s", cur, curl_easy_strerror(rc));
            break;
        }
        if (code >= 300 && code < 400) {
            if (!next) {
                st = llamac__fail(LLAMAC_E_NETWORK, "%s answered HTTP %ld without a Location", cur, code);
                break;
            }
            if (hop >= max_redirects) {
                st = llamac__fail(LLAMAC_E_NETWORK, "%s: more than %u redirects", url, max_redirects);
                free(next);
                break;
            }
            if (!hub__is_http_url(next, scheme, sizeof scheme)) {
                st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s redirects to %s: only http and https URLs are fetched",
                                  cur, next);
                free(next);
                break;
            }
            free(cur);
            cur = next;
            continue;
        }
        free(next);
        if (code < 200 || code >= 300) {
            st = llamac__fail(LLAMAC_E_NETWORK, "%s answered HTTP %ld", cur, code);
            break;
        }
        free(cur);
        return LLAMAC_OK;
    }
    if (!cur && st == LLAMAC_OK) {
        st = llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory fetching %s", url);
    }
    free(cur);
    llamac__dynbuf_free(body);
    return st;
}

/* ---- streamed requests (llamac serve's /cors-proxy) ---- */

enum { STREAM_MAX_HEADERS = 64 };

struct llamac_http_stream {
    CURLM *multi;
    CURL *h;
    struct curl_slist *lines;
    char *url; /* for messages */
    llamac_http_params p;
    llamac__dynbuf pending; /* body bytes come and not yet read */
    struct {
        char *name, *value;
    } head[STREAM_MAX_HEADERS]; /* the final answer's headers */
    size_t n_head;
    uint64_t received; /* body bytes so far */
    long code;
    bool head_done; /* the final answer's status and headers have come */
    bool location;  /* the answer being read has a Location */
    bool too_big;   /* its body passed max_bytes */
    bool done;      /* the transfer ended, with `result` */
    bool cancelled; /* keep_waiting said stop */
    CURLcode result;
    llamac_status failed; /* sticky: a read failed */
    char failed_msg[512];
    int64_t last_ms; /* when the last body bytes (or the headers) came */
    char errbuf[CURL_ERROR_SIZE];
};

static int64_t mono_ms(void) {
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    return (int64_t)now.tv_sec * 1000 + now.tv_nsec / 1000000;
}

llamac_http_params llamac_http_params_default(void) {
    return (
        llamac_http_params){ .max_bytes = (size_t)64 << 20, .timeout_ms = 30000, .idle_ms = 60000, .max_redirects = 5 };
}

static void stream_clear_head(llamac_http_stream *s) {
    for (size_t i = 0; i < s->n_head; i++) {
        free(s->head[i].name);
        free(s->head[i].value);
    }
    s->n_head = 0;
}

/* Header lines of every answer on the way (interim 1xx, followed redirects, the final one): the final answer's are
 * kept. Its end is the blank line after a status that is neither interim nor a redirect that curl follows. */
static size_t on_stream_header(char *buf, size_t size, size_t nitems, void *user) {
    llamac_http_stream *s = user;
    size_t n = size * nitems;
    if (s->head_done) {
        return n; /* trailers */
    }
    if (n >= 5 && strncmp(buf, "HTTP/", 5) == 0) {
        stream_clear_head(s);
        s->location = false;
        return n;
    }
    if (n <= 2 && (buf[0] == '\r' || buf[0] == '\n')) {
        long code = 0;
        curl_easy_getinfo(s->h, CURLINFO_RESPONSE_CODE, &code);
        bool interim = code >= 100 && code < 200;
        bool followed = s->p.max_redirects > 0 && s->location && code >= 300 && code < 400 && code != 304;
        if (!interim && !followed) {
            s->head_done = true;
            s->code = code;
            s->last_ms = mono_ms();
        }
        return n;
    }
    const char *colon = memchr(buf, ':', n);
    if (!colon || colon == buf) {
        return n;
    }
    size_t klen = (size_t)(colon - buf);
    const char *v = colon + 1;
    size_t vlen = n - klen - 1;
    while (vlen > 0 && (*v == ' ' || *v == '\t')) {
        v++;
        vlen--;
    }
    while (vlen > 0 && (v[vlen - 1] == '\r' || v[vlen - 1] == '\n' || v[vlen - 1] == ' ' || v[vlen - 1] == '\t')) {
        vlen--;
    }
    if (klen == 8 && strncasecmp(buf, "location", 8) == 0) {
        s->location = true;
    }
    if (s->n_head < STREAM_MAX_HEADERS) {
        char *name = strndup(buf, klen), *value = strndup(v, vlen);
        if (!name || !value) {
            free(name);
            free(value);
            return 0; /* curl stops: out of memory */
        }
        s->head[s->n_head].name = name;
        s->head[s->n_head].value = value;
        s->n_head++;
    }
    return n;
}

static size_t on_stream_body(char *buf, size_t size, size_t nitems, void *user) {
    llamac_http_stream *s = user;
    size_t n = size * nitems;
    if (!s->head_done) {
        return n; /* a followed redirect's page */
    }
    if (n > s->p.max_bytes - s->received) {
        s->too_big = true;
        return 0;
    }
    if (!llamac__dynbuf_add(&s->pending, buf, n)) {
        return 0;
    }
    s->received += n;
    s->last_ms = mono_ms();
    return n;
}

/* Runs the transfer until `enough` holds, it ends, or the monotonic time `deadline` (ms) passes; with `ask`, also
 * until keep_waiting says stop (asked every 100 ms). */
static void stream_drive(llamac_http_stream *s, bool (*enough)(const llamac_http_stream *s), int64_t deadline,
                         bool ask) {
    while (!s->done && !enough(s)) {
        int running = 0;
        CURLMcode mc = curl_multi_perform(s->multi, &running);
        CURLMsg *msg;
        int left;
        while ((msg = curl_multi_info_read(s->multi, &left))) {
            if (msg->msg == CURLMSG_DONE) {
                s->done = true;
                s->result = msg->data.result;
            }
        }
        if (mc != CURLM_OK && !s->done) {
            s->done = true;
            s->result = CURLE_OUT_OF_MEMORY;
            snprintf(s->errbuf, sizeof s->errbuf, "%s", curl_multi_strerror(mc));
        }
        if (s->done || enough(s)) {
            break;
        }
        int64_t wait = deadline - mono_ms();
        if (wait <= 0) {
            break;
        }
        if (ask && s->p.keep_waiting && !s->p.keep_waiting(s->p.user_data)) {
            s->cancelled = true;
            break;
        }
        int most = ask && s->p.keep_waiting ? 100 : 1000;
        curl_multi_poll(s->multi, NULL, 0, wait > most ? most : (int)wait, NULL);
    }
}

static bool have_head(const llamac_http_stream *s) {
    return s->head_done;
}

static bool have_bytes(const llamac_http_stream *s) {
    return llamac__dynbuf_len(&s->pending) > 0;
}

/* The status for a transfer that ended with `rc`. */
static llamac_status stream_error(llamac_http_stream *s, CURLcode rc) {
    const char *detail = s->errbuf[0] ? s->errbuf : curl_easy_strerror(rc);
    if (s->too_big || rc == CURLE_FILESIZE_EXCEEDED) {
        return llamac__fail(LLAMAC_E_NETWORK, "%s: the answer is larger than %zu bytes", s->url, s->p.max_bytes);
    }
    if (llamac__dynbuf_error(&s->pending) == LLAMAC__DYNBUF_NO_MEMORY) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory reading %s", s->url);
    }
    switch (rc) {
    case CURLE_UNSUPPORTED_PROTOCOL:
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: only http and https URLs are fetched (%s)", s->url, detail);
    case CURLE_TOO_MANY_REDIRECTS:
        return llamac__fail(LLAMAC_E_NETWORK, "%s: more than %u redirects", s->url, s->p.max_redirects);
    case CURLE_OPERATION_TIMEDOUT:
        return llamac__fail(LLAMAC_E_TIMEOUT, "%s: no answer within %u ms (%s)", s->url, s->p.timeout_ms, detail);
    case CURLE_OUT_OF_MEMORY: return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory fetching %s", s->url);
    case CURLE_COULDNT_RESOLVE_HOST:
    case CURLE_COULDNT_CONNECT: return llamac__fail(LLAMAC_E_NETWORK, "cannot reach %s: %s", s->url, detail);
    default: return llamac__fail(LLAMAC_E_NETWORK, "%s: %s", s->url, detail);
    }
}

/* A method is a token of letters (GET, POST, PROPFIND); a header line a token name, a colon and a value without CR,
 * LF or NUL. */
static bool method_ok(const char *m) {
    size_t n = 0;
    for (; m[n]; n++) {
        if (!((m[n] >= 'A' && m[n] <= 'Z') || (m[n] >= 'a' && m[n] <= 'z'))) {
            return false;
        }
    }
    return n > 0 && n <= 32;
}

static bool header_line_ok(const char *line, bool *has_type, bool *has_agent) {
    const char *colon = strchr(line, ':');
    if (!colon || colon == line || strpbrk(line, "\r\n")) {
        return false;
    }
    for (const char *c = line; c < colon; c++) {
        if ((unsigned char)*c <= ' ' || (unsigned char)*c >= 0x7f || strchr("()<>@,;:\\\"/[]?={}", *c)) {
            return false;
        }
    }
    size_t k = (size_t)(colon - line);
    *has_type |= k == 12 && strncasecmp(line, "content-type", 12) == 0;
    *has_agent |= k == 10 && strncasecmp(line, "user-agent", 10) == 0;
    return true;
}

void llamac_http_stream_free(llamac_http_stream *s) {
    if (!s) {
        return;
    }
    if (s->h) {
        curl_multi_remove_handle(s->multi, s->h);
        curl_easy_cleanup(s->h);
    }
    curl_multi_cleanup(s->multi);
    curl_slist_free_all(s->lines);
    stream_clear_head(s);
    llamac__dynbuf_free(&s->pending);
    free(s->url);
    free(s);
}

/* Appends a header line to curl's list: "Name:" with nothing after it becomes "Name;", curl's way of sending an
 * empty value ("Name:" alone would remove its own header of that name). */
static bool add_line(struct curl_slist **list, const char *line) {
    const char *colon = strchr(line, ':');
    const char *v = colon + 1;
    while (*v == ' ' || *v == '\t') {
        v++;
    }
    char *copy = NULL;
    if (!*v) {
        copy = hub__fmt("%.*s;", (int)(colon - line), line);
        if (!copy) {
            return false;
        }
        line = copy;
    }
    struct curl_slist *grown = curl_slist_append(*list, line);
    free(copy);
    if (!grown) {
        return false;
    }
    *list = grown;
    return true;
}

llamac_status llamac_http_stream_open(const char *method, const char *url, const char *const *headers, size_t n_headers,
                                      const void *body, size_t body_len, const llamac_http_params *params,
                                      llamac_http_stream **out) {
    if (out) {
        *out = NULL;
    }
    if (!method || !url || !out || (n_headers > 0 && !headers) || (body_len > 0 && !body)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "llamac_http_stream_open: method, url and out must not be NULL, nor headers and body "
                            "when they have a length");
    }
    llamac_http_params p = params ? *params : llamac_http_params_default();
    if (p.max_bytes == 0 || p.timeout_ms == 0 || p.idle_ms == 0) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "llamac_http_stream_open: max_bytes, timeout_ms and idle_ms must be above 0");
    }
    if (!method_ok(method)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "'%.40s' is not an HTTP method (a word of letters)", method);
    }
    bool has_type = false, has_agent = false;
    for (size_t i = 0; i < n_headers; i++) {
        if (!headers[i] || !header_line_ok(headers[i], &has_type, &has_agent)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                "header line %zu is not 'Name: value' (a name of token characters, and no CR or LF)",
                                i);
        }
    }
    llamac_status st = http_url_ready(url);
    if (st != LLAMAC_OK) {
        return st;
    }
    llamac_http_stream *s = calloc(1, sizeof *s);
    if (!s) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory fetching %s", url);
    }
    s->p = p;
    llamac__dynbuf_init(&s->pending, p.max_bytes);
    s->url = hub__fmt("%s", url);
    s->multi = curl_multi_init();
    s->h = s->url && s->multi ? new_request(NULL, url, &s->lines, NULL, NULL) : NULL;
    bool ok = s->h != NULL;
    for (size_t i = 0; ok && i < n_headers; i++) {
        ok = add_line(&s->lines, headers[i]);
    }
    /* "Name:" alone removes a header of curl's own: a form's Content-Type with a body, unless the caller gave one,
     * and the Expect: 100-continue wait before a large one */
    static const char *const removed[] = { "Content-Type:", "Expect:" };
    for (size_t i = has_type ? 1 : 0; ok && i < sizeof removed / sizeof removed[0]; i++) {
        struct curl_slist *grown = curl_slist_append(s->lines, removed[i]);
        ok = grown != NULL;
        s->lines = grown ? grown : s->lines;
    }
    if (!ok) {
        llamac_http_stream_free(s);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory fetching %s", url);
    }
    CURL *h = s->h;
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, s->lines);
    if (has_agent) {
        curl_easy_setopt(h, CURLOPT_USERAGENT, NULL);
    }
    curl_easy_setopt(h, CURLOPT_ERRORBUFFER, s->errbuf);
    http_only(h);
    curl_easy_setopt(h, CURLOPT_FOLLOWLOCATION, p.max_redirects > 0 ? 1L : 0L);
    curl_easy_setopt(h, CURLOPT_MAXREDIRS, (long)p.max_redirects);
    curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, (long)p.timeout_ms);
    curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, 0L); /* idle_ms is ours: a quiet event stream is not a failure */
    curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)p.max_bytes);
    curl_easy_setopt(h, CURLOPT_HEADERFUNCTION, on_stream_header);
    curl_easy_setopt(h, CURLOPT_HEADERDATA, s);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_stream_body);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, s);
    if (strcmp(method, "HEAD") == 0) {
        curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
    } else if (strcmp(method, "POST") == 0) {
        curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
        curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, body_len > 0 ? (const char *)body : "");
    } else if (strcmp(method, "GET") != 0) {
        curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, method);
        if (body_len > 0) {
            curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)body_len);
            curl_easy_setopt(h, CURLOPT_COPYPOSTFIELDS, (const char *)body);
        }
    }
    if (curl_multi_add_handle(s->multi, h) != CURLM_OK) {
        llamac_http_stream_free(s);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "libcurl could not start a request to %s", url);
    }
    stream_drive(s, have_head, mono_ms() + p.timeout_ms, true);
    if (s->done && s->result != CURLE_OK) {
        st = stream_error(s, s->result);
    } else if (s->cancelled && !s->head_done) {
        st = llamac__fail(LLAMAC_E_CANCELLED, "%s: stopped waiting for the answer (keep_waiting)", url);
    } else if (!s->head_done) {
        st = llamac__fail(LLAMAC_E_TIMEOUT, "%s: no answer within %u ms", url, p.timeout_ms);
    }
    if (st != LLAMAC_OK) {
        llamac_http_stream_free(s);
        return st;
    }
    *out = s;
    return LLAMAC_OK;
}

int llamac_http_stream_status(const llamac_http_stream *s) {
    return s ? (int)s->code : 0;
}

bool llamac_http_stream_header(const llamac_http_stream *s, size_t i, const char **name, const char **value) {
    if (!s || i >= s->n_head) {
        return false;
    }
    if (name) {
        *name = s->head[i].name;
    }
    if (value) {
        *value = s->head[i].value;
    }
    return true;
}

llamac_status llamac_http_stream_read(llamac_http_stream *s, void *buf, size_t cap, uint32_t wait_ms, size_t *n,
                                      bool *end) {
    if (n) {
        *n = 0;
    }
    if (end) {
        *end = false;
    }
    if (!s || !buf || !n || !end) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_http_stream_read: stream, buf, n and end must not be "
                                                       "NULL");
    }
    if (s->failed != LLAMAC_OK) {
        return llamac__fail(s->failed, "%s", s->failed_msg);
    }
    if (!have_bytes(s) && !s->done) {
        int64_t now = mono_ms();
        int64_t idle_end = s->last_ms + (int64_t)s->p.idle_ms;
        int64_t deadline = now + (int64_t)wait_ms < idle_end ? now + (int64_t)wait_ms : idle_end;
        stream_drive(s, have_bytes, deadline, false);
        if (!have_bytes(s) && !s->done && mono_ms() >= idle_end) {
            s->failed = llamac__fail(LLAMAC_E_TIMEOUT, "%s: no bytes of the answer for %u ms", s->url, s->p.idle_ms);
        }
    }
    if (s->failed == LLAMAC_OK && !have_bytes(s) && s->done && s->result != CURLE_OK) {
        s->failed = stream_error(s, s->result);
    }
    if (s->failed != LLAMAC_OK) {
        snprintf(s->failed_msg, sizeof s->failed_msg, "%s", llamac_last_error());
        return s->failed;
    }
    size_t k = llamac__dynbuf_len(&s->pending);
    k = k < cap ? k : cap;
    memcpy(buf, llamac__dynbuf_ptr(&s->pending), k);
    llamac__dynbuf_drop(&s->pending, k);
    *n = k;
    *end = s->done && !have_bytes(s);
    return LLAMAC_OK;
}
