/*
 * static.c - what `llamac serve` answers to GET and HEAD outside the API: the chat page (server/webui/), embedded in
 * the binary at build time, or the files of a folder given with --path DIR, as llama-server's flag does.
 *
 * Embedded files are stored twice, raw and gzip-compressed, each with a strong ETag from its SHA-256: a client that
 * accepts gzip gets the compressed bytes, and every client revalidates with If-None-Match (Cache-Control: no-cache;
 * a 304 costs one round trip and no body), so a new build's page is never hidden behind a stale cache. The page goes
 * out with a Content-Security-Policy that allows only this origin's own scripts, styles, images and connections: no
 * inline script, no other origin, no framing. A --path file is served only from inside the folder: no "." or ".."
 * segment, no hidden name, no symbolic link that leads out of it.
 */
#define _XOPEN_SOURCE 700 /* realpath */
#include "internal.h"

#include "assets.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

/* What the embedded page may load and run. img-src takes data: and blob: for image attachments (their previews and
 * the data: URLs sent to the model); Trusted Types make every HTML string the page inserts pass DOMPurify. */
static const char page_csp[] = "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; "
                               "font-src 'self'; connect-src 'self'; manifest-src 'self'; base-uri 'none'; "
                               "form-action 'none'; frame-ancestors 'none'; require-trusted-types-for 'script'; "
                               "trusted-types llamac dompurify";

/* The Content-Type for a file name, by its extension. */
static const char *mime_type(const char *path) {
    static const struct {
        const char *ext, *type;
    } types[] = {
        { ".html", "text/html; charset=utf-8" },
        { ".htm", "text/html; charset=utf-8" },
        { ".css", "text/css; charset=utf-8" },
        { ".js", "text/javascript; charset=utf-8" },
        { ".mjs", "text/javascript; charset=utf-8" },
        { ".json", "application/json" },
        { ".map", "application/json" },
        { ".txt", "text/plain; charset=utf-8" },
        { ".md", "text/markdown; charset=utf-8" },
        { ".svg", "image/svg+xml" },
        { ".png", "image/png" },
        { ".jpg", "image/jpeg" },
        { ".jpeg", "image/jpeg" },
        { ".gif", "image/gif" },
        { ".webp", "image/webp" },
        { ".ico", "image/x-icon" },
        { ".woff2", "font/woff2" },
        { ".woff", "font/woff" },
        { ".wasm", "application/wasm" },
    };
    const char *dot = strrchr(path, '.');
    const char *slash = strrchr(path, '/');
    if (dot && (!slash || dot > slash)) {
        for (size_t i = 0; i < sizeof types / sizeof types[0]; i++) {
            if (strcasecmp(dot, types[i].ext) == 0) {
                return types[i].type;
            }
        }
    }
    return "application/octet-stream";
}

/* Does an If-None-Match header name this ETag? Weak comparison (W/ ignored), as RFC 9110 asks for If-None-Match;
 * "*" matches any. */
static bool etag_matches(const char *header, const char *etag) {
    if (!header) {
        return false;
    }
    size_t elen = strlen(etag);
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        if (!*p) {
            break;
        }
        if (*p == '*') {
            return true;
        }
        if (strncmp(p, "W/", 2) == 0) {
            p += 2;
        }
        const char *end = p;
        if (*p == '"') {
            const char *q = strchr(p + 1, '"');
            end = q ? q + 1 : p + strlen(p);
        } else {
            while (*end && *end != ',') {
                end++;
            }
        }
        if ((size_t)(end - p) == elen && memcmp(p, etag, elen) == 0) {
            return true;
        }
        p = end;
    }
    return false;
}

/* Does an Accept-Encoding header take gzip? "gzip" (or "x-gzip", or "*") with a q-value above 0. */
static bool accepts_gzip(const char *header) {
    if (!header) {
        return false;
    }
    bool star = false;
    const char *p = header;
    while (*p) {
        while (*p == ' ' || *p == '\t' || *p == ',') {
            p++;
        }
        const char *name = p;
        while (*p && *p != ',' && *p != ';' && *p != ' ' && *p != '\t') {
            p++;
        }
        size_t n = (size_t)(p - name);
        double q = 1.0;
        while (*p && *p != ',') {
            if (*p++ != ';') {
                continue;
            }
            while (*p == ' ' || *p == '\t') {
                p++;
            }
            if ((*p == 'q' || *p == 'Q') && p[1] == '=') {
                q = strtod(p + 2, NULL);
            }
        }
        if ((n == 4 && strncasecmp(name, "gzip", 4) == 0) || (n == 6 && strncasecmp(name, "x-gzip", 6) == 0)) {
            return q > 0;
        }
        if (n == 1 && *name == '*') {
            star = q > 0;
        }
    }
    return star;
}

static const char *header(struct request *rq, const char *name) {
    return MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, name);
}

/* The reply for a file: 304 when the client's copy has this ETag, else the bytes (a response made by the caller,
 * taken over here; NULL: out of memory). */
static void reply_file(struct request *rq, struct MHD_Response *body, const char *etag, const char *type) {
    struct MHD_Response *r = body;
    rq->status = 200;
    if (etag_matches(header(rq, "If-None-Match"), etag)) {
        if (body) {
            MHD_destroy_response(body);
        }
        r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        rq->status = 304;
    }
    if (!r) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    if (rq->status == 200) {
        MHD_add_response_header(r, "Content-Type", type);
    }
    MHD_add_response_header(r, "ETag", etag);
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    MHD_add_response_header(r, "X-Content-Type-Options", "nosniff");
    rq->response = r;
}

static void serve_asset(struct request *rq, const struct webui_asset *a) {
    bool gz = a->gz_len < a->raw_len && accepts_gzip(header(rq, "Accept-Encoding"));
    const unsigned char *bytes = gz ? a->gz : a->raw;
    /* libmicrohttpd only reads a persistent buffer; its parameter is not const */
    struct MHD_Response *r =
        MHD_create_response_from_buffer(gz ? a->gz_len : a->raw_len, (void *)(uintptr_t)bytes, MHD_RESPMEM_PERSISTENT);
    reply_file(rq, r, gz ? a->etag_gz : a->etag, mime_type(a->path));
    if (!rq->response || rq->status >= 400) {
        return;
    }
    if (gz && rq->status == 200) {
        MHD_add_response_header(rq->response, "Content-Encoding", "gzip");
    }
    MHD_add_response_header(rq->response, "Vary", "Accept-Encoding");
    MHD_add_response_header(rq->response, "Content-Security-Policy", page_csp);
    MHD_add_response_header(rq->response, "Referrer-Policy", "no-referrer");
    MHD_add_response_header(rq->response, "Cross-Origin-Opener-Policy", "same-origin");
}

/* A file of --path DIR. The URL path (already %-decoded by libmicrohttpd) is checked segment by segment, then the
 * resolved file must still lie inside the folder (a symbolic link may point anywhere). */
static void serve_dir_file(struct request *rq) {
    const char *root = rq->s->static_root;
    const char *path = rq->path;
    char full[PATH_MAX], real[PATH_MAX];
    for (const char *seg = path; *seg;) {
        while (*seg == '/') {
            seg++;
        }
        size_t n = strcspn(seg, "/");
        if ((n == 1 && seg[0] == '.') || (n == 2 && seg[0] == '.' && seg[1] == '.')) {
            reply_error(rq, 400, NULL, "invalid_path", "invalid path: '.' and '..' segments are not allowed");
            return;
        }
        if (n > 0 && seg[0] == '.') {
            reply_error(rq, 404, NULL, "not_found", "no file %s", path); /* hidden files are not served */
            return;
        }
        for (size_t i = 0; i < n; i++) {
            if ((unsigned char)seg[i] < 0x20 || seg[i] == 0x7f) {
                reply_error(rq, 400, NULL, "invalid_path", "invalid path: control characters are not allowed");
                return;
            }
        }
        seg += n;
    }
    size_t plen = strlen(path);
    int w = snprintf(full, sizeof full, "%s%s%s", root, path[0] == '/' ? "" : "/", path);
    if (w < 0 || (size_t)w >= sizeof full - sizeof "/index.html") {
        reply_error(rq, 414, NULL, "uri_too_long", "the path is too long");
        return;
    }
    if (plen > 0 && path[plen - 1] == '/') {
        strcat(full, "index.html");
    }
    size_t rlen = strcmp(root, "/") == 0 ? 0 : strlen(root);
    struct stat st;
    for (int pass = 0; pass < 2; pass++) {
        if (!realpath(full, real) || strncmp(real, root, rlen) != 0 || (real[rlen] != '/' && real[rlen] != '\0') ||
            stat(real, &st) != 0) {
            reply_error(rq, 404, NULL, "not_found", "no file %s", path);
            return;
        }
        if (!S_ISDIR(st.st_mode) || pass == 1) {
            break;
        }
        /* a folder: its index.html */
        int n = snprintf(full, sizeof full, "%s/index.html", real);
        if (n < 0 || (size_t)n >= sizeof full) {
            reply_error(rq, 414, NULL, "uri_too_long", "the path is too long");
            return;
        }
    }
    if (!S_ISREG(st.st_mode)) {
        reply_error(rq, 404, NULL, "not_found", "no file %s", path);
        return;
    }
    int fd = open(real, O_RDONLY | O_CLOEXEC);
    if (fd < 0 || fstat(fd, &st) != 0) {
        reply_error(rq, errno == EACCES ? 403 : 404, NULL, "not_found", "cannot read %s", path);
        if (fd >= 0) {
            close(fd);
        }
        return;
    }
    char etag[80];
    snprintf(etag, sizeof etag, "\"%llx-%llx-%llx.%09ld\"", (unsigned long long)st.st_ino,
             (unsigned long long)st.st_size, (unsigned long long)st.st_mtim.tv_sec, (long)st.st_mtim.tv_nsec);
    struct MHD_Response *r = MHD_create_response_from_fd64((uint64_t)st.st_size, fd); /* owns fd from here */
    if (!r) {
        close(fd);
    }
    reply_file(rq, r, etag, mime_type(real));
}

static const struct webui_asset *asset_find(const char *path) {
    if (strcmp(path, "/") == 0) {
        path = "/index.html";
    }
    for (size_t i = 0; i < webui_n_assets; i++) {
        if (strcmp(webui_assets[i].path, path) == 0) {
            return &webui_assets[i];
        }
    }
    return NULL;
}

bool static_serve(struct request *rq) {
    struct server *s = rq->s;
    if (strcmp(rq->method, "GET") != 0 && strcmp(rq->method, "HEAD") != 0) {
        return false;
    }
    bool root = strcmp(rq->path, "/") == 0;
    if (s->opt.no_webui) {
        if (root) {
            reply_error(rq, 404, NULL, "not_found", "the chat page is off (--no-webui)");
        }
        return root;
    }
    if (s->static_root) {
        serve_dir_file(rq);
        return true;
    }
    const struct webui_asset *a = asset_find(rq->path);
    if (!a) {
        if (root) {
            reply_error(rq, 404, NULL, "not_found", "this llamac was built without the chat page (LLAMAC_WEBUI=OFF)");
        }
        return root;
    }
    serve_asset(rq, a);
    return true;
}

bool server_has_page(const server *s) {
    return !s->opt.no_webui && (s->static_root || webui_n_assets > 0);
}

bool static_init(struct server *s, char *err, size_t cap) {
    if (!s->opt.static_dir) {
        return true;
    }
    char real[PATH_MAX];
    struct stat st;
    if (!realpath(s->opt.static_dir, real) || stat(real, &st) != 0) {
        snprintf(err, cap, "--path %s: %s", s->opt.static_dir, strerror(errno));
        return false;
    }
    if (!S_ISDIR(st.st_mode)) {
        snprintf(err, cap, "--path %s: not a directory", s->opt.static_dir);
        return false;
    }
    s->static_root = strdup(real);
    if (!s->static_root) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    return true;
}
