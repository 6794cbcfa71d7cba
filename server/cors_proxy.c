/*
 * cors_proxy.c - llama-server's /cors-proxy (--ui-mcp-proxy): GET or POST /cors-proxy?url=URL sends the request on
 * to URL and streams the answer back, so that a web page (llama-server's web UI, calling MCP servers) can reach a
 * server that does not allow its origin. Off by default, as in llama-server: it fetches any URL this server can
 * reach, for whoever may call this server.
 *
 * Only what the client names goes to the target: its headers x-llama-server-proxy-header-NAME: VALUE become NAME:
 * VALUE, and nothing else of its own (its Authorization, X-Api-Key and Cookie are this server's, never the
 * target's). The answer's status, headers (less the connection's own and CORS) and body come back as they arrive,
 * server-sent events too, through libllamac's one HTTP client (llamac_http_stream, the hub's libcurl), under a size
 * cap, a redirect limit and --timeout for the answer's headers and for each pause in its body.
 */
#include "internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PROXY_PREFIX "x-llama-server-proxy-header-"
#define PROXY_MAX_HEADERS 64
#define PROXY_MAX_BYTES ((size_t)64 << 20) /* the answer's body */
#define PROXY_MAX_REDIRECTS 5
#define PROXY_WAIT_MS 200 /* a read waits this long for bytes, so that a client gone is noticed soon */

/* The client's headers to forward, as "Name: value" lines (owned). */
struct forward {
    char *lines[PROXY_MAX_HEADERS];
    size_t n;
    bool too_many, no_memory;
    char bad[64]; /* a named header that cannot be sent: its name (cut short) */
};

/* An HTTP header name is a token: letters, digits and !#$%&'*+-.^_`|~ (RFC 9110). */
static bool token(const char *name) {
    static const char extra[] = "!#$%&'*+-.^_`|~";
    for (const char *c = name; *c; c++) {
        if (!((*c >= 'a' && *c <= 'z') || (*c >= 'A' && *c <= 'Z') || (*c >= '0' && *c <= '9') || strchr(extra, *c))) {
            return false;
        }
    }
    return *name != '\0';
}

/* Headers the target gets from the proxy itself (its host, the body's length) or that would change the body's
 * bytes (a compressed answer): not forwarded even when named, as in llama-server. */
static bool own_header(const char *name) {
    static const char *const own[] = { "host", "content-length", "transfer-encoding", "accept-encoding", "connection" };
    for (size_t i = 0; i < sizeof own / sizeof own[0]; i++) {
        if (strcasecmp(name, own[i]) == 0) {
            return true;
        }
    }
    return false;
}

static enum MHD_Result collect(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    struct forward *f = cls;
    size_t k = sizeof PROXY_PREFIX - 1;
    if (!key || strncasecmp(key, PROXY_PREFIX, k) != 0 || !key[k] || own_header(key + k)) {
        return MHD_YES;
    }
    if (!token(key + k)) {
        snprintf(f->bad, sizeof f->bad, "%s", key + k);
        return MHD_NO;
    }
    if (f->n == PROXY_MAX_HEADERS) {
        f->too_many = true;
        return MHD_NO;
    }
    size_t len = strlen(key + k) + strlen(value ? value : "") + 3;
    char *line = malloc(len);
    if (!line) {
        f->no_memory = true;
        return MHD_NO;
    }
    snprintf(line, len, "%s: %s", key + k, value ? value : "");
    f->lines[f->n++] = line;
    return MHD_YES;
}

/* Headers of the answer that belong to the connection it came on, or that this server sets itself (its CORS, its
 * Server and Date), are not passed on (llama-server leaves out the same); nor is Set-Cookie, which would set a cookie
 * of this server's origin, not the target's (and the client's cookies never go to the target). */
static bool passed_back(const char *name) {
    static const char *const not_passed[] = { "connection", "keep-alive", "transfer-encoding", "content-length",
                                              "server",     "date",       "proxy-connection",  "upgrade",
                                              "trailer",    "te",         "set-cookie" };
    if (strncasecmp(name, "access-control-", 15) == 0) {
        return false;
    }
    for (size_t i = 0; i < sizeof not_passed / sizeof not_passed[0]; i++) {
        if (strcasecmp(name, not_passed[i]) == 0) {
            return false;
        }
    }
    return true;
}

struct proxied {
    struct server *s;
    llamac_http_stream *stream;
};

static ssize_t proxied_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct proxied *p = cls;
    size_t n = 0;
    bool end = false;
    if (llamac_http_stream_read(p->stream, buf, max, PROXY_WAIT_MS, &n, &end) != LLAMAC_OK) {
        server_log(p->s, LLAMAC_LOG_WARN, "/cors-proxy: the answer was cut off: %s", llamac_last_error());
        return MHD_CONTENT_READER_END_WITH_ERROR;
    }
    return n > 0 ? (ssize_t)n : end ? MHD_CONTENT_READER_END_OF_STREAM : 0;
}

static void proxied_free(void *cls) {
    struct proxied *p = cls;
    llamac_http_stream_free(p->stream);
    free(p);
}

/* The request's client is still there, and the server is not stopping: the proxy keeps waiting for the target. */
struct waiting {
    struct server *s;
    int fd;
};

static bool keep_waiting(void *user_data) {
    const struct waiting *w = user_data;
    return !atomic_load(&w->s->stopping) && !connection_gone(w->fd);
}

/* True when the target URL carries a user name or password (scheme://user:pass@host/...): refused, as llama-server
 * does, since the target's credentials are to be sent as a named header. */
static bool has_userinfo(const char *url) {
    const char *host = strstr(url, "://");
    if (!host) {
        return false;
    }
    host += 3;
    size_t n = strcspn(host, "/?#");
    return memchr(host, '@', n) != NULL;
}

void handle_cors_proxy(struct request *rq) {
    struct server *s = rq->s;
    if (!s->opt.ui_mcp_proxy) {
        reply_error(rq, 403, NULL, "feature_disabled",
                    "this feature is disabled: /cors-proxy forwards requests only with --ui-mcp-proxy");
        return;
    }
    const char *url = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "url");
    if (!url || !*url) {
        reply_error(rq, 400, "url", NULL, "/cors-proxy needs the target as ?url=http://HOST/PATH (or https)");
        return;
    }
    if (has_userinfo(url)) {
        reply_error(rq, 400, "url", NULL,
                    "a user name or password in the target URL is not supported: send the target's credentials as "
                    "the header " PROXY_PREFIX "authorization");
        return;
    }
    struct forward f = { 0 };
    MHD_get_connection_values(rq->conn, MHD_HEADER_KIND, collect, &f);
    llamac_http_stream *stream = NULL;
    llamac_status st = LLAMAC_OK;
    if (f.no_memory) {
        st = LLAMAC_E_NO_MEMORY;
        reply_error(rq, 500, NULL, NULL, "out of memory");
    } else if (f.bad[0]) {
        st = LLAMAC_E_INVALID_ARGUMENT;
        reply_error(rq, 400, NULL, NULL, "'%s' (of " PROXY_PREFIX "%s) is not a header name", f.bad, f.bad);
    } else if (f.too_many) {
        st = LLAMAC_E_INVALID_ARGUMENT;
        reply_error(rq, 400, NULL, NULL, "more than %d " PROXY_PREFIX "* headers", PROXY_MAX_HEADERS);
    } else {
        llamac_http_params p = llamac_http_params_default();
        p.max_bytes = PROXY_MAX_BYTES;
        p.timeout_ms = s->opt.timeout_s * 1000u;
        p.idle_ms = s->opt.timeout_s * 1000u;
        p.max_redirects = PROXY_MAX_REDIRECTS;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        struct waiting w = { s, ci ? (int)ci->connect_fd : -1 };
        p.keep_waiting = keep_waiting;
        p.user_data = &w;
        st = llamac_http_stream_open(rq->method, url, (const char *const *)f.lines, f.n, rq->body, rq->body_len, &p,
                                     &stream);
        if (st != LLAMAC_OK) {
            unsigned status = st == LLAMAC_E_INVALID_ARGUMENT ? 400
                              : st == LLAMAC_E_TIMEOUT        ? 504
                              : st == LLAMAC_E_NO_MEMORY      ? 500
                              : st == LLAMAC_E_CANCELLED      ? 503 /* the client is gone, or the server stops */
                                                              : 502;
            reply_error(rq, status, status == 400 ? "url" : NULL, "proxy_error", "%s", llamac_last_error());
        }
    }
    for (size_t i = 0; i < f.n; i++) {
        free(f.lines[i]);
    }
    if (st != LLAMAC_OK) {
        return;
    }
    int status = llamac_http_stream_status(stream);
    bool no_body = strcmp(rq->method, "HEAD") == 0 || status == 204 || status == 304 || status < 200;
    struct proxied *p = no_body ? NULL : malloc(sizeof *p);
    struct MHD_Response *r = NULL;
    if (no_body) {
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
    } else if (p) {
        p->s = s;
        p->stream = stream;
        r = http_stream_response(MHD_SIZE_UNKNOWN, 16 << 10, proxied_read, p, proxied_free);
    }
    if (!r) {
        free(p);
        llamac_http_stream_free(stream);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    const char *name, *value;
    for (size_t i = 0; llamac_http_stream_header(stream, i, &name, &value); i++) {
        if (passed_back(name)) {
            MHD_add_response_header(r, name, value);
        }
    }
    if (no_body) {
        llamac_http_stream_free(stream);
    }
    rq->response = r;
    rq->status = (unsigned)status;
}
