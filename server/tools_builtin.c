/*
 * tools_builtin.c - llama-server's built-in agent tools (--tools): GET /tools lists them, POST /tools runs one
 * ({"tool": NAME, "params": {...}, "stream": false}), for a web UI whose model reads and writes files and runs
 * commands on the server's machine, as the server's user. Off by default: both answer 403 without --tools.
 *
 * The seven tools take and return what llama-server's take and return (names, parameters, the text the model sees
 * in plain_text_response, the same limits), so that its web UI works unchanged. A tool's own failure (no such file,
 * an edit that does not apply) is a 200 with {"error": "..."}, which the UI hands to the model; a malformed call
 * (missing or ill-typed parameter, unknown tool) is a 4xx. Files are written through a temporary file renamed over
 * the target, so a failure never leaves half a file. Paths are resolved against the x-tool-cwd header (else the
 * server's directory); commands run through tools_proc.c on the request's own thread, exec_shell_command's output
 * streamed as server-sent events with "stream": true. Only the host runtime exists: llama-server's docker, podman
 * and ssh runtimes (x-tool-runtime, --tools-runtime) are checked as it checks them, then refused.
 */
#define _GNU_SOURCE
#include "tools_builtin.h"

#include "dynbuf.h"
#include "internal.h"
#include "request.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/types.h>
#include <unistd.h>

/* llama-server's limits (server-tools.cpp at the pin). */
#define READ_MAX ((size_t)16 << 10)        /* read_file's text, unless a line range is asked for */
#define READ_BASE64_MAX ((size_t)32 << 20) /* read_file with x-resp-type: base64 */
#define SEARCH_MAX 100                     /* file_glob_search's entries */
#define GREP_MAX 100                       /* grep_search's matches */
#define EXEC_OUTPUT_MAX ((size_t)16 << 10) /* exec_shell_command's output */
#define EXEC_TIMEOUT_DEFAULT 10            /* seconds */
#define EXEC_TIMEOUT_MAX 60
#define LIST_TIMEOUT_S 15                /* one listing, git's or the walk */
#define GIT_OUTPUT_MAX ((size_t)8 << 20) /* git ls-files' output */
#define INFO_TIMEOUT_S 5                 /* get_info's uname */
#define CLIENT_CHECK_MS 250              /* while a command is quiet, how often its client is looked at */
/* llamac's own bounds, where llama-server has none. */
#define FILE_MAX ((size_t)64 << 20)      /* a file grep_search searches or edit_file edits */
#define LINE_MAX_BYTES ((size_t)1 << 20) /* of a longer line, grep_search matches and shows the start */
#define CONTEXT_MAX 100                  /* grep_search's context_lines */
#define WALK_DEPTH_MAX 256               /* directories deep */

/* Directories a listing names but never walks into: they can be enormous (llama-server's list). */
static const char *const junk_dirs[] = { ".git", ".svn",   ".hg",   "node_modules", "__pycache__", ".venv", "venv",
                                         "dist", ".cache", ".idea", ".vscode",      "build",       "target" };

/* ---- paths ---- */

/* `path` as an absolute path: a leading ~ is $HOME, a relative path is under cwd (else the server's directory);
 * "." and ".." are resolved lexically and duplicate slashes dropped. NULL when out of memory (malloc'd). */
static char *resolve(const char *cwd, const char *path) {
    llamac__dynbuf in = LLAMAC__DYNBUF(SIZE_MAX);
    const char *home = getenv("HOME");
    char here[PATH_MAX];
    if (path[0] == '~' && (path[1] == '\0' || path[1] == '/') && home && *home) {
        llamac__dynbuf_adds(&in, home);
        llamac__dynbuf_adds(&in, path + 1);
    } else if (path[0] == '/') {
        llamac__dynbuf_adds(&in, path);
    } else {
        const char *base = cwd && *cwd ? cwd : getcwd(here, sizeof here);
        if (base && base[0] != '/' && getcwd(here, sizeof here)) { /* a relative x-tool-cwd */
            llamac__dynbuf_adds(&in, here);
            llamac__dynbuf_addc(&in, '/');
        }
        llamac__dynbuf_adds(&in, base ? base : "/");
        llamac__dynbuf_addc(&in, '/');
        llamac__dynbuf_adds(&in, path);
    }
    if (llamac__dynbuf_error(&in) != LLAMAC__DYNBUF_OK) {
        llamac__dynbuf_free(&in);
        return NULL;
    }
    const char *s = llamac__dynbuf_ptr(&in);
    size_t n = llamac__dynbuf_len(&in);
    char *out = malloc(n + 2);
    if (!out) {
        llamac__dynbuf_free(&in);
        return NULL;
    }
    size_t o = 0;
    for (size_t i = 0; i < n;) {
        while (i < n && s[i] == '/') {
            i++;
        }
        size_t start = i;
        while (i < n && s[i] != '/') {
            i++;
        }
        size_t len = i - start;
        if (len == 0 || (len == 1 && s[start] == '.')) {
            continue;
        }
        if (len == 2 && s[start] == '.' && s[start + 1] == '.') {
            while (o > 0 && out[o - 1] != '/') {
                o--;
            }
            if (o > 0) {
                o--; /* the slash before the dropped segment */
            }
            continue;
        }
        out[o++] = '/';
        memcpy(out + o, s + start, len);
        o += len;
    }
    if (o == 0) {
        out[o++] = '/';
    }
    out[o] = '\0';
    llamac__dynbuf_free(&in);
    return out;
}

/* ---- glob patterns (llama-server's: * and ? within a path segment, ** across, [...] classes) ---- */

static bool class_match(const char *p, const char *end, char c) {
    bool negate = *p == '!' || *p == '^';
    if (negate) {
        p++;
    }
    bool hit = false;
    for (bool first = true; p < end; first = false) {
        if (!first && *p == ']') {
            break;
        }
        if (p + 2 < end && p[1] == '-' && p[2] != ']') {
            hit |= (unsigned char)c >= (unsigned char)p[0] && (unsigned char)c <= (unsigned char)p[2];
            p += 3;
        } else {
            hit |= c == *p;
            p++;
        }
    }
    return hit != negate;
}

static bool glob_match(const char *p, const char *s) {
    for (;;) {
        if (*p == '\0') {
            return *s == '\0';
        }
        if (p[0] == '*' && p[1] == '*') {
            const char *rest = p + 2;
            if (*rest == '/' && glob_match(rest + 1, s)) { /* "**" + "/" also matches no directory at all */
                return true;
            }
            for (;; s++) {
                if (glob_match(rest, s)) {
                    return true;
                }
                if (*s == '\0') {
                    return false;
                }
            }
        }
        if (*p == '*') {
            for (;; s++) {
                if (glob_match(p + 1, s)) {
                    return true;
                }
                if (*s == '\0' || *s == '/') {
                    return false;
                }
            }
        }
        if (*p == '[') {
            const char *end = p + 1;
            if (*end == '!' || *end == '^') {
                end++;
            }
            if (*end == ']') {
                end++;
            }
            end = strchr(end, ']');
            if (end) {
                if (*s == '\0' || *s == '/' || !class_match(p + 1, end, *s)) {
                    return false;
                }
                p = end + 1;
                s++;
                continue;
            }
        }
        if (*s == '\0' || (*p == '?' ? *s == '/' : *p != *s)) {
            return false;
        }
        p++;
        s++;
    }
}

/* llama-server's rule: a pattern without '/' matches the name at any depth; one with '/' the whole relative path,
 * anchored with "**" + "/" in front unless it starts with "**" or '/'. */
static bool path_match(const char *pattern, const char *rel) {
    if (!strchr(pattern, '/')) {
        const char *name = strrchr(rel, '/');
        return glob_match(pattern, name ? name + 1 : rel);
    }
    if (strncmp(pattern, "**", 2) == 0 || pattern[0] == '/') {
        return glob_match(pattern, rel);
    }
    char *anchored = NULL;
    if (asprintf(&anchored, "**/%s", pattern) < 0) {
        return false;
    }
    bool ok = glob_match(anchored, rel);
    free(anchored);
    return ok;
}

/* ---- listing a directory: git's view when it is in a repository (files only), else a bounded walk ---- */

enum list_kind { LIST_FILES, LIST_DIRS, LIST_ALL };

struct entry {
    char *rel; /* '/'-separated, relative to the base */
    bool dir;
};

struct listing {
    struct entry *v;
    size_t n, cap;
    bool truncated; /* the time budget ran out, or a directory could not be read */
};

static void listing_free(struct listing *l) {
    for (size_t i = 0; i < l->n; i++) {
        free(l->v[i].rel);
    }
    free(l->v);
    memset(l, 0, sizeof *l);
}

static bool listing_add(struct listing *l, const char *rel, size_t len, bool dir) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 64;
        struct entry *v = realloc(l->v, cap * sizeof *v);
        if (!v) {
            return false;
        }
        l->v = v;
        l->cap = cap;
    }
    char *copy = strndup(rel, len);
    if (!copy) {
        return false;
    }
    l->v[l->n].rel = copy;
    l->v[l->n].dir = dir;
    l->n++;
    return true;
}

static int depth_of(const char *rel, size_t len) {
    int d = 1;
    for (size_t i = 0; i < len; i++) {
        d += rel[i] == '/';
    }
    return d;
}

static bool is_junk(const char *name) {
    for (size_t i = 0; i < sizeof junk_dirs / sizeof junk_dirs[0]; i++) {
        if (strcmp(name, junk_dirs[i]) == 0) {
            return true;
        }
    }
    return false;
}

static int name_cmp(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The walk: a directory's entries (sorted by name), then its subdirectories in turn; links are listed but never
 * followed (they could lead back up), junk directories listed but not entered. False when out of memory. */
static bool walk(struct listing *l, const char *base, const char *rel, int depth, int max_depth, enum list_kind kind,
                 int64_t deadline) {
    if (server_now_ms() >= deadline || depth >= WALK_DEPTH_MAX) {
        l->truncated = true;
        return true;
    }
    char *dirpath = NULL;
    if (asprintf(&dirpath, "%s%s%s", base, *rel ? "/" : "", rel) < 0) {
        return false;
    }
    DIR *d = opendir(dirpath);
    if (!d) {
        l->truncated |= errno != EACCES; /* as llama-server, an unreadable directory is left out quietly */
        free(dirpath);
        return true;
    }
    char **names = NULL;
    size_t n = 0, cap = 0;
    bool ok = true;
    for (struct dirent *e; ok && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0) {
            continue;
        }
        if (n == cap) {
            cap = cap ? cap * 2 : 32;
            char **v = realloc(names, cap * sizeof *v);
            ok = v != NULL;
            names = v ? v : names;
        }
        if (ok) {
            names[n] = strdup(e->d_name);
            ok = names[n] != NULL;
            n += ok;
        }
    }
    closedir(d);
    qsort(names, n, sizeof *names, name_cmp);
    /* the entries of this directory first, then the walks below it */
    bool *descend = calloc(n ? n : 1, sizeof *descend);
    ok = ok && descend;
    for (size_t i = 0; ok && i < n; i++) {
        char *child = NULL, *childrel = NULL;
        if (asprintf(&child, "%s/%s", dirpath, names[i]) < 0) {
            ok = false;
            break;
        }
        struct stat st, lst;
        bool exists = stat(child, &st) == 0;
        bool link = lstat(child, &lst) == 0 && S_ISLNK(lst.st_mode);
        free(child);
        if (!exists) {
            continue;
        }
        if (asprintf(&childrel, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) {
            ok = false;
            break;
        }
        if (S_ISDIR(st.st_mode)) {
            if (kind != LIST_FILES) {
                ok = listing_add(l, childrel, strlen(childrel), true);
            }
            descend[i] = !link && !is_junk(names[i]) && (max_depth == 0 || depth + 1 < max_depth);
        } else if (S_ISREG(st.st_mode) && kind != LIST_DIRS) {
            ok = listing_add(l, childrel, strlen(childrel), false);
        }
        free(childrel);
    }
    for (size_t i = 0; ok && i < n; i++) {
        if (descend[i]) {
            char *childrel = NULL;
            if (asprintf(&childrel, "%s%s%s", rel, *rel ? "/" : "", names[i]) < 0) {
                ok = false;
                break;
            }
            ok = walk(l, base, childrel, depth + 1, max_depth, kind, deadline);
            free(childrel);
        }
    }
    for (size_t i = 0; i < n; i++) {
        free(names[i]);
    }
    free(names);
    free(descend);
    free(dirpath);
    return ok;
}

/* Runs argv to its end: its output (at most max bytes kept; the rest read and dropped) into out, *exit_code, and
 * whether it timed out or was cut. False with a message in err when it could not start. */
static bool run_command(const char *const argv[], const char *cwd, unsigned timeout_s, size_t max, llamac__dynbuf *out,
                        int *exit_code, bool *timed_out, bool *truncated, char *err, size_t cap) {
    struct tool_proc p;
    if (!tool_proc_start(&p, argv, cwd, timeout_s, err, cap)) {
        return false;
    }
    char buf[4096];
    *truncated = false;
    for (;;) {
        ssize_t n = tool_proc_read(&p, buf, sizeof buf, -1);
        if (n <= 0) {
            break;
        }
        size_t have = llamac__dynbuf_len(out), take = (size_t)n;
        if (have + take > max) {
            take = max - have;
            *truncated = true;
        }
        llamac__dynbuf_add(out, buf, take);
    }
    tool_proc_end(&p);
    *exit_code = p.exit_code;
    *timed_out = p.timed_out;
    return true;
}

/* The entries under `base` (absolute), to max_depth levels (0: all). Files come from `git ls-files` when base is in a
 * git repository (what .gitignore leaves out stays out), else from the walk. False when out of memory. */
static bool list_entries(struct listing *l, const char *base, int max_depth, enum list_kind kind) {
    memset(l, 0, sizeof *l);
    int64_t deadline = server_now_ms() + (int64_t)LIST_TIMEOUT_S * 1000;
    if (kind == LIST_FILES) {
        const char *argv[] = { "git", "ls-files", "--cached", "--others", "--exclude-standard", NULL };
        llamac__dynbuf out = LLAMAC__DYNBUF(GIT_OUTPUT_MAX);
        int code = -1;
        bool timed_out = false, cut = false;
        char err[256];
        if (run_command(argv, base, LIST_TIMEOUT_S, GIT_OUTPUT_MAX, &out, &code, &timed_out, &cut, err, sizeof err) &&
            code == 0 && !timed_out && llamac__dynbuf_error(&out) == LLAMAC__DYNBUF_OK) {
            const char *s = llamac__dynbuf_ptr(&out);
            size_t n = llamac__dynbuf_len(&out);
            bool ok = true;
            for (size_t i = 0; ok && i < n;) {
                size_t j = i;
                while (j < n && s[j] != '\n') {
                    j++;
                }
                size_t len = j - i;
                if (len && s[i + len - 1] == '\r') {
                    len--;
                }
                if (len && (max_depth == 0 || depth_of(s + i, len) <= max_depth)) {
                    char *full = NULL;
                    struct stat st;
                    if (asprintf(&full, "%s/%.*s", base, (int)len, s + i) < 0) {
                        ok = false;
                    } else if (stat(full, &st) == 0 && S_ISREG(st.st_mode)) {
                        ok = listing_add(l, s + i, len, false);
                    }
                    free(full);
                }
                i = j + 1;
            }
            l->truncated = cut;
            llamac__dynbuf_free(&out);
            if (!ok || l->n > 0) {
                return ok;
            }
            /* git lists nothing in a folder its repository ignores as a whole (a build tree): walk it instead */
        }
        llamac__dynbuf_free(&out);
    }
    return walk(l, base, "", 0, max_depth, kind, deadline);
}

/* ---- reading files ---- */

/* Valid UTF-8 for JSON: invalid bytes become U+FFFD (malloc'd, NUL-terminated; NULL when out of memory). */
static char *utf8_text(const char *s, size_t n) {
    if (llamac_utf8_valid(s, n, NULL)) {
        return strndup(s, n);
    }
    llamac_utf8_stream *u = NULL;
    if (llamac_utf8_stream_new(&u) != LLAMAC_OK) {
        return NULL;
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(SIZE_MAX);
    const char *t;
    size_t tn;
    if (llamac_utf8_stream_push(u, s, n, &t, &tn) == LLAMAC_OK) {
        llamac__dynbuf_add(&b, t, tn);
    }
    if (llamac_utf8_stream_flush(u, &t, &tn) == LLAMAC_OK) {
        llamac__dynbuf_add(&b, t, tn);
    }
    llamac_utf8_stream_free(u);
    llamac__dynbuf_addc(&b, '\0');
    return llamac__dynbuf_take(&b, NULL);
}

/* A JSON string of (s, n) made valid UTF-8. */
static json_t *text_json(const char *s, size_t n) {
    char *t = utf8_text(s, n);
    json_t *v = t ? json_string(t) : NULL;
    free(t);
    return v ? v : json_string("");
}

/* The whole file (at most max bytes) into *out; false with errno set (EFBIG: larger than max). */
static bool read_all(const char *path, size_t max, llamac__dynbuf *out) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        return false;
    }
    struct stat st;
    if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
        int e = errno;
        close(fd);
        errno = S_ISDIR(st.st_mode) ? EISDIR : e ? e : EINVAL;
        return false;
    }
    if ((uint64_t)st.st_size > max) {
        close(fd);
        errno = EFBIG;
        return false;
    }
    char buf[65536];
    for (;;) {
        ssize_t n = read(fd, buf, sizeof buf);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0 || llamac__dynbuf_len(out) + (size_t)n > max) {
            int e = n < 0 ? errno : n > 0 ? EFBIG : 0;
            close(fd);
            errno = e;
            return n == 0;
        }
        llamac__dynbuf_add(out, buf, (size_t)n);
    }
}

/* Lines of a file one at a time, a line of more than `cap` bytes cut there (the rest skipped). */
struct lines {
    int fd;
    char buf[65536];
    size_t pos, len;
    bool eof;
};

/* The next line (without its '\n') into *line; false at the end. */
static bool next_line(struct lines *lr, llamac__dynbuf *line, size_t cap) {
    llamac__dynbuf_reset(line);
    bool any = false;
    for (;;) {
        if (lr->pos == lr->len) {
            if (lr->eof) {
                return any;
            }
            ssize_t n = read(lr->fd, lr->buf, sizeof lr->buf);
            if (n < 0 && errno == EINTR) {
                continue;
            }
            if (n <= 0) {
                lr->eof = true;
                continue;
            }
            lr->pos = 0;
            lr->len = (size_t)n;
        }
        any = true;
        const char *start = lr->buf + lr->pos;
        const char *nl = memchr(start, '\n', lr->len - lr->pos);
        size_t take = nl ? (size_t)(nl - start) : lr->len - lr->pos;
        size_t room = cap - (llamac__dynbuf_len(line) < cap ? llamac__dynbuf_len(line) : cap);
        llamac__dynbuf_add(line, start, take < room ? take : room);
        lr->pos += take + (nl ? 1 : 0);
        if (nl) {
            return true;
        }
    }
}

/* ---- a tool call ---- */

struct call {
    struct request *rq;
    json_t *params;  /* borrowed */
    const char *cwd; /* x-tool-cwd; NULL: the server's directory */
    bool base64;     /* x-resp-type: base64 (read_file) */
};

/* A tool's failure as the model sees it: 200 {"error": "..."}. */
static json_t *tool_error(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static json_t *tool_error(const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    return json_pack("{s:o}", "error", text_json(msg, strlen(msg)));
}

/* A required string parameter; replies 400 when it is missing, not a string or holds a NUL (a path). */
static bool param_required(struct call *c, const char *name, bool path, const char **out) {
    *out = NULL;
    if (!field_str(c->rq, c->params, name, out)) {
        return false;
    }
    if (!*out) {
        reply_error(c->rq, 400, name, "missing_required_parameter", "params.%s is required", name);
        return false;
    }
    if (path && strlen(*out) != json_string_length(json_object_get(c->params, name))) {
        reply_error(c->rq, 400, name, "invalid_value", "params.%s must not contain a NUL character", name);
        return false;
    }
    if (path && !**out) {
        reply_error(c->rq, 400, name, "invalid_value", "params.%s must not be empty", name);
        return false;
    }
    return true;
}

static bool param_int(struct call *c, const char *name, long long min, long long max, long long *out) {
    return field_int(c->rq, c->params, name, min, max, out);
}

/* The parameter `path` resolved against the call's directory (malloc'd); NULL after replying 500. */
static char *resolved(struct call *c, const char *path) {
    char *abs = resolve(c->cwd, path);
    if (!abs) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return abs;
}

/* read_file: a file's lines (a range of them, numbered on request), at most READ_MAX bytes of text unless a range
 * is given; with x-resp-type: base64 the whole file's bytes. */
static json_t *tool_read_file(struct call *c) {
    const char *path;
    long long start = 1, end = -1;
    bool loc = false;
    if (!param_required(c, "path", true, &path) || !param_int(c, "start_line", 1, INT_MAX, &start) ||
        !param_int(c, "end_line", -1, INT_MAX, &end) || !field_bool(c->rq, c->params, "append_loc", &loc)) {
        return NULL;
    }
    char *abs = resolved(c, path);
    if (!abs) {
        return NULL;
    }
    json_t *res = NULL;
    struct stat st;
    if (stat(abs, &st) != 0) {
        res = tool_error("cannot stat file: %s (%s)", path, strerror(errno));
    } else if (!S_ISREG(st.st_mode)) {
        res = tool_error("cannot read %s: %s", path, S_ISDIR(st.st_mode) ? "it is a directory" : "not a regular file");
    } else if (c->base64) {
        llamac__dynbuf b = LLAMAC__DYNBUF(READ_BASE64_MAX);
        if ((size_t)st.st_size > READ_BASE64_MAX || !read_all(abs, READ_BASE64_MAX, &b)) {
            res = errno == EFBIG || (size_t)st.st_size > READ_BASE64_MAX
                      ? tool_error("file too large (%lld bytes, max %zu)", (long long)st.st_size, READ_BASE64_MAX)
                      : tool_error("failed to open file: %s (%s)", path, strerror(errno));
        } else {
            char *b64 = base64_encode((const unsigned char *)llamac__dynbuf_ptr(&b), llamac__dynbuf_len(&b));
            res = b64 ? json_pack("{s:s,s:I}", "base64", b64, "size_bytes", (json_int_t)llamac__dynbuf_len(&b)) : NULL;
            free(b64);
        }
        llamac__dynbuf_free(&b);
    } else if ((size_t)st.st_size > READ_MAX && end == -1) {
        res = tool_error("file too large (%lld bytes, max %zu). Use start_line/end_line to read a portion.",
                         (long long)st.st_size, READ_MAX);
    } else {
        struct lines *lr = calloc(1, sizeof *lr);
        lr->fd = lr ? open(abs, O_RDONLY | O_CLOEXEC) : -1;
        if (!lr || lr->fd < 0) {
            res = tool_error("failed to open file: %s (%s)", path, strerror(errno));
        } else {
            llamac__dynbuf text = LLAMAC__DYNBUF(SIZE_MAX), line = LLAMAC__DYNBUF(SIZE_MAX);
            for (long long n = 1; next_line(lr, &line, READ_MAX + 1); n++) {
                if (n < start) {
                    continue;
                }
                if (end != -1 && n > end) {
                    break;
                }
                char num[32] = "";
                if (loc) {
                    snprintf(num, sizeof num, "%lld\xe2\x86\x92", n); /* "12→" as llama-server numbers lines */
                }
                if (llamac__dynbuf_len(&text) + strlen(num) + llamac__dynbuf_len(&line) + 1 > READ_MAX) {
                    llamac__dynbuf_adds(&text, "[output truncated]");
                    break;
                }
                llamac__dynbuf_adds(&text, num);
                llamac__dynbuf_add(&text, llamac__dynbuf_ptr(&line), llamac__dynbuf_len(&line));
                llamac__dynbuf_addc(&text, '\n');
            }
            res = json_pack("{s:o}", "plain_text_response",
                            text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)));
            llamac__dynbuf_free(&text);
            llamac__dynbuf_free(&line);
        }
        if (lr && lr->fd >= 0) {
            close(lr->fd);
        }
        free(lr);
    }
    free(abs);
    if (!res) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return res;
}

/* The type parameter of file_glob_search. */
static bool list_kind_of(const char *type, enum list_kind *kind) {
    static const char *const names[] = { "file", "dir", "all" };
    for (int i = 0; i < 3; i++) {
        if (strcmp(type, names[i]) == 0) {
            *kind = (enum list_kind)i;
            return true;
        }
    }
    return false;
}

/* file_glob_search: the entries under a directory whose path matches `include` and not `exclude`. */
static json_t *tool_file_glob_search(struct call *c) {
    const char *path, *include = "**", *exclude = "", *type = "file";
    long long max_depth = 0, limit = SEARCH_MAX;
    if (!param_required(c, "path", true, &path) || !field_str(c->rq, c->params, "include", &include) ||
        !field_str(c->rq, c->params, "exclude", &exclude) || !field_str(c->rq, c->params, "type", &type) ||
        !param_int(c, "max_depth", LLONG_MIN, LLONG_MAX, &max_depth) ||
        !param_int(c, "limit", LLONG_MIN, LLONG_MAX, &limit)) {
        return NULL;
    }
    if (limit < 1) {
        return tool_error("invalid limit: %lld (expected 1 or more)", limit);
    }
    enum list_kind kind;
    if (!list_kind_of(type, &kind)) {
        return tool_error("invalid type: %s (expected \"file\", \"dir\" or \"all\")", type);
    }
    if (max_depth < 0) {
        max_depth = 0;
    }
    if (max_depth > WALK_DEPTH_MAX) {
        max_depth = WALK_DEPTH_MAX;
    }
    char *base = resolved(c, path);
    if (!base) {
        return NULL;
    }
    struct stat st;
    if (stat(base, &st) != 0 || !S_ISDIR(st.st_mode)) {
        free(base);
        return tool_error("path does not exist or is not a directory: %s", path);
    }
    struct listing l;
    json_t *res = NULL;
    llamac__dynbuf text = LLAMAC__DYNBUF(SIZE_MAX);
    json_t *entries = json_array();
    if (list_entries(&l, base, (int)max_depth, kind) && entries) {
        size_t total = 0;
        for (size_t i = 0; i < l.n; i++) {
            if (!path_match(include, l.v[i].rel) || (*exclude && path_match(exclude, l.v[i].rel))) {
                continue;
            }
            if (total++ < (size_t)(limit < SEARCH_MAX ? limit : SEARCH_MAX)) {
                llamac__dynbuf_addf(&text, "%s%s\n", l.v[i].rel, l.v[i].dir ? "/" : "");
                json_array_append_new(entries, json_pack("{s:o,s:s}", "path", text_json(l.v[i].rel, strlen(l.v[i].rel)),
                                                         "type", l.v[i].dir ? "dir" : "file"));
            }
        }
        size_t shown = json_array_size(entries);
        llamac__dynbuf_addf(&text, "\n---\nTotal matches: %zu\n", total);
        if (total > shown) {
            llamac__dynbuf_addf(&text,
                                "[%zu results limit reached (%zu total matches). Refine the glob pattern to narrow "
                                "the search.]\n",
                                shown, total);
        }
        if (l.truncated) {
            llamac__dynbuf_adds(&text, "[results truncated: time budget or unreadable directory]\n");
        }
        res = json_pack("{s:o,s:O,s:o}", "plain_text_response",
                        text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)), "entries", entries, "base",
                        text_json(base, strlen(base)));
    }
    json_decref(entries);
    listing_free(&l);
    llamac__dynbuf_free(&text);
    free(base);
    if (!res) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return res;
}

/* The pattern as a POSIX extended regular expression: literal (every special character escaped), or with the
 * \d and \D of the ECMAScript syntax llama-server's models write spelled as bracket expressions (glibc knows \w, \s
 * and \b already). malloc'd; NULL when out of memory. */
static char *ere_of(const char *pattern, bool literal) {
    llamac__dynbuf b = LLAMAC__DYNBUF(SIZE_MAX);
    bool in_class = false;
    for (const char *p = pattern; *p; p++) {
        if (literal) {
            if (strchr("\\^$.|?*+()[]{}", *p)) {
                llamac__dynbuf_addc(&b, '\\');
            }
            llamac__dynbuf_addc(&b, *p);
        } else if (*p == '\\' && p[1]) {
            if (!in_class && (p[1] == 'd' || p[1] == 'D')) {
                llamac__dynbuf_adds(&b, p[1] == 'd' ? "[0-9]" : "[^0-9]");
            } else if (in_class && p[1] == 'd') {
                llamac__dynbuf_adds(&b, "0-9");
            } else {
                llamac__dynbuf_add(&b, p, 2);
            }
            p++;
        } else {
            if (*p == '[' && !in_class) {
                in_class = true;
                llamac__dynbuf_addc(&b, *p);
                if (p[1] == '^') {
                    llamac__dynbuf_addc(&b, *++p);
                }
                if (p[1] == ']') {
                    llamac__dynbuf_addc(&b, *++p);
                }
                continue;
            }
            if (*p == ']' && in_class) {
                in_class = false;
            }
            llamac__dynbuf_addc(&b, *p);
        }
    }
    llamac__dynbuf_addc(&b, '\0');
    return llamac__dynbuf_take(&b, NULL);
}

/* Splits (s, n) into lines: offsets of their starts and lengths (without '\n'), as std::getline does (no empty line
 * after a final '\n'). */
static bool split_lines(const char *s, size_t n, size_t **starts, size_t **lens, size_t *count) {
    size_t cap = 64, k = 0;
    *starts = malloc(cap * sizeof **starts);
    *lens = malloc(cap * sizeof **lens);
    for (size_t i = 0; *starts && *lens && i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
        if (k == cap) {
            cap *= 2;
            size_t *a = realloc(*starts, cap * sizeof *a);
            *starts = a ? a : *starts;
            size_t *b = a ? realloc(*lens, cap * sizeof *b) : NULL;
            *lens = b ? b : *lens;
            if (!a || !b) {
                break;
            }
        }
        (*starts)[k] = i;
        (*lens)[k] = len;
        k++;
        i += len + 1;
    }
    *count = k;
    return *starts && *lens && k <= cap;
}

/* Searches one file's lines; appends what it finds to text. */
static void grep_file(const char *abs, const char *shown, const regex_t *re, long long ctx, bool numbers,
                      llamac__dynbuf *text, size_t *total, bool *limit, size_t *skipped) {
    llamac__dynbuf content = LLAMAC__DYNBUF(FILE_MAX);
    if (!read_all(abs, FILE_MAX, &content)) {
        *skipped += errno == EFBIG;
        llamac__dynbuf_free(&content);
        return;
    }
    const char *s = llamac__dynbuf_ptr(&content);
    size_t *starts = NULL, *lens = NULL, n = 0;
    if (split_lines(s ? s : "", llamac__dynbuf_len(&content), &starts, &lens, &n)) {
        for (size_t i = 0; i < n; i++) {
            if (*total >= GREP_MAX) {
                *limit = true;
                break;
            }
            regmatch_t m = { .rm_so = 0, .rm_eo = (regoff_t)(lens[i] < LINE_MAX_BYTES ? lens[i] : LINE_MAX_BYTES) };
            if (regexec(re, s + starts[i], 1, &m, REG_STARTEND) != 0) {
                continue;
            }
            size_t from = ctx > 0 && i > (size_t)ctx ? i - (size_t)ctx : ctx > 0 ? 0 : i;
            size_t to = ctx > 0 ? (i + (size_t)ctx < n ? i + (size_t)ctx : n - 1) : i;
            for (size_t j = from; j <= to; j++) {
                char sep = j == i ? ':' : '-';
                llamac__dynbuf_addf(text, "%s%c", shown, sep);
                if (numbers || ctx > 0) {
                    llamac__dynbuf_addf(text, "%zu%c", j + 1, sep);
                }
                llamac__dynbuf_add(text, s + starts[j], lens[j] < LINE_MAX_BYTES ? lens[j] : LINE_MAX_BYTES);
                llamac__dynbuf_addc(text, '\n');
            }
            if (ctx > 0) {
                llamac__dynbuf_adds(text, "--\n");
            }
            ++*total;
        }
    }
    free(starts);
    free(lens);
    llamac__dynbuf_free(&content);
}

/* grep_search: the lines of a file, or of the files under a directory (filtered by include and exclude), that match a
 * regular expression. */
static json_t *tool_grep_search(struct call *c) {
    const char *path, *pattern, *include = "**", *exclude = "";
    bool numbers = false, literal = false, icase = false;
    long long ctx = 0;
    if (!param_required(c, "path", true, &path) || !param_required(c, "pattern", false, &pattern) ||
        !field_str(c->rq, c->params, "include", &include) || !field_str(c->rq, c->params, "exclude", &exclude) ||
        !field_bool(c->rq, c->params, "return_line_numbers", &numbers) ||
        !field_bool(c->rq, c->params, "literal", &literal) || !field_bool(c->rq, c->params, "ignore_case", &icase) ||
        !param_int(c, "context_lines", LLONG_MIN, LLONG_MAX, &ctx)) {
        return NULL;
    }
    ctx = ctx < 0 ? 0 : ctx > CONTEXT_MAX ? CONTEXT_MAX : ctx;
    char *ere = ere_of(pattern, literal);
    if (!ere) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    regex_t re;
    int rc = regcomp(&re, ere, REG_EXTENDED | REG_NOSUB | (icase ? REG_ICASE : 0));
    free(ere);
    if (rc != 0) {
        char msg[256];
        regerror(rc, &re, msg, sizeof msg);
        return tool_error("invalid regex: %s", msg);
    }
    char *abs = resolved(c, path);
    if (!abs) {
        regfree(&re);
        return NULL;
    }
    json_t *res = NULL;
    struct stat st;
    llamac__dynbuf text = LLAMAC__DYNBUF(SIZE_MAX);
    size_t total = 0, skipped = 0;
    bool limit = false;
    if (stat(abs, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        res = tool_error("path does not exist: %s", path);
    } else {
        if (S_ISREG(st.st_mode)) {
            grep_file(abs, path, &re, ctx, numbers, &text, &total, &limit, &skipped);
        } else {
            struct listing l;
            if (list_entries(&l, abs, 0, LIST_FILES)) {
                for (size_t i = 0; i < l.n && !limit; i++) {
                    if (!path_match(include, l.v[i].rel) || (*exclude && path_match(exclude, l.v[i].rel))) {
                        continue;
                    }
                    char *full = NULL;
                    if (asprintf(&full, "%s/%s", abs, l.v[i].rel) >= 0) {
                        grep_file(full, l.v[i].rel, &re, ctx, numbers, &text, &total, &limit, &skipped);
                        free(full);
                    }
                }
            }
            listing_free(&l);
        }
        llamac__dynbuf_addf(&text, "\n---\nTotal matches: %zu\n", total);
        if (limit) {
            llamac__dynbuf_addf(&text, "[%d matches limit reached. Narrow the path/pattern/include to see more.]\n",
                                GREP_MAX);
        }
        if (skipped) {
            llamac__dynbuf_addf(&text, "[%zu files over %zu MiB not searched]\n", skipped, FILE_MAX >> 20);
        }
        res =
            json_pack("{s:o}", "plain_text_response", text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)));
    }
    llamac__dynbuf_free(&text);
    regfree(&re);
    free(abs);
    if (!res) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return res;
}

/* ---- writing files: a temporary file beside the target, renamed over it ---- */

/* The process's umask, read without changing it (umask(2) would race with other threads' file creation). */
static mode_t current_umask(void) {
    FILE *f = fopen("/proc/self/status", "re");
    mode_t mask = 022;
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        unsigned m;
        if (sscanf(line, "Umask: %o", &m) == 1) {
            mask = (mode_t)m;
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return mask;
}

/* mkdir -p of the directory part of abs. */
static bool make_parents(char *abs) {
    for (char *p = abs + 1; *p; p++) {
        if (*p != '/') {
            continue;
        }
        *p = '\0';
        bool ok = mkdir(abs, 0777) == 0 || errno == EEXIST;
        struct stat st;
        ok = ok && stat(abs, &st) == 0 && S_ISDIR(st.st_mode);
        if (!ok && errno == 0) {
            errno = ENOTDIR;
        }
        *p = '/';
        if (!ok) {
            return false;
        }
    }
    return true;
}

/* Writes (data, n) to abs whole or not at all; false with errno set. A link is written through (its target
 * replaced); an existing file keeps its permissions, a new one gets 0666 less the umask. */
static bool write_whole(const char *abs_in, const char *data, size_t n) {
    char *abs = strdup(abs_in);
    if (!abs) {
        return false;
    }
    struct stat st;
    if (lstat(abs, &st) == 0 && S_ISLNK(st.st_mode)) {
        char *target = realpath(abs, NULL);
        if (target) {
            free(abs);
            abs = target;
        }
    }
    bool exists = stat(abs, &st) == 0;
    if (exists && S_ISDIR(st.st_mode)) {
        free(abs);
        errno = EISDIR;
        return false;
    }
    if (!make_parents(abs)) {
        int e = errno;
        free(abs);
        errno = e;
        return false;
    }
    char *tmp = NULL;
    const char *slash = strrchr(abs, '/');
    if (asprintf(&tmp, "%.*s/.%s.XXXXXX", (int)(slash - abs), abs, slash + 1) < 0) {
        free(abs);
        errno = ENOMEM;
        return false;
    }
    int fd = mkostemp(tmp, O_CLOEXEC);
    bool ok = fd >= 0;
    ok = ok && fchmod(fd, exists ? st.st_mode & 07777 : 0666 & ~current_umask()) == 0;
    for (size_t off = 0; ok && off < n;) {
        ssize_t w = write(fd, data + off, n - off);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        ok = w > 0;
        off += ok ? (size_t)w : 0;
    }
    int e = errno;
    if (fd >= 0 && close(fd) != 0 && ok) {
        ok = false;
        e = errno;
    }
    if (ok && rename(tmp, abs) != 0) {
        ok = false;
        e = errno;
    }
    if (!ok && fd >= 0) {
        unlink(tmp);
    }
    free(tmp);
    free(abs);
    errno = e;
    return ok;
}

/* write_file: a file's whole content (the folders above it made as needed). */
static json_t *tool_write_file(struct call *c) {
    const char *path, *content;
    if (!param_required(c, "path", true, &path) || !param_required(c, "content", false, &content)) {
        return NULL;
    }
    size_t n = json_string_length(json_object_get(c->params, "content"));
    char *abs = resolved(c, path);
    if (!abs) {
        return NULL;
    }
    json_t *res = write_whole(abs, content, n)
                      ? json_pack("{s:s,s:o,s:I}", "result", "file written successfully", "path",
                                  text_json(path, strlen(path)), "bytes", (json_int_t)n)
                      : tool_error("failed to write file: %s (%s)", path, strerror(errno));
    free(abs);
    return res;
}

struct edit {
    const char *old_text, *new_text;
    size_t old_len, new_len;
    size_t index; /* in edits[] */
    size_t at;    /* where old_text is in the file */
};

static int edit_cmp(const void *a, const void *b) {
    const struct edit *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* edit_file: exact replacements, each old_text found once in the file as it is (not as earlier edits left it),
 * none overlapping another; all applied, or none. */
static json_t *tool_edit_file(struct call *c) {
    const char *path;
    if (!param_required(c, "path", true, &path)) {
        return NULL;
    }
    json_t *arr = json_object_get(c->params, "edits");
    if (!arr || json_is_null(arr)) {
        reply_error(c->rq, 400, "edits", "missing_required_parameter", "params.edits is required");
        return NULL;
    }
    if (!json_is_array(arr) || json_array_size(arr) == 0) {
        return tool_error("\"edits\" must be a non-empty array");
    }
    size_t n = json_array_size(arr);
    struct edit *edits = calloc(n, sizeof *edits);
    if (!edits) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        json_t *e = json_array_get(arr, i);
        json_t *o = json_is_object(e) ? json_object_get(e, "old_text") : NULL;
        json_t *w = json_is_object(e) ? json_object_get(e, "new_text") : NULL;
        if (!json_is_string(o) || !json_is_string(w)) {
            char param[48];
            snprintf(param, sizeof param, "edits[%zu]", i);
            reply_error(c->rq, 400, param, "invalid_type",
                        "params.edits[%zu] must be an object with the strings old_text and new_text", i);
            free(edits);
            return NULL;
        }
        edits[i] = (struct edit){
            json_string_value(o), json_string_value(w), json_string_length(o), json_string_length(w), i, 0
        };
        if (edits[i].old_len == 0) {
            free(edits);
            return tool_error("edits[%zu].old_text must not be empty", i);
        }
    }
    char *abs = resolved(c, path);
    if (!abs) {
        free(edits);
        return NULL;
    }
    json_t *res = NULL;
    llamac__dynbuf file = LLAMAC__DYNBUF(FILE_MAX), out = LLAMAC__DYNBUF(SIZE_MAX);
    if (!read_all(abs, FILE_MAX, &file)) {
        res = errno == EFBIG ? tool_error("failed to open file: %s (larger than %zu MiB)", path, FILE_MAX >> 20)
                             : tool_error("failed to open file: %s (%s)", path, strerror(errno));
        goto done;
    }
    const char *s = llamac__dynbuf_ptr(&file) ? llamac__dynbuf_ptr(&file) : "";
    size_t len = llamac__dynbuf_len(&file);
    for (size_t i = 0; i < n; i++) {
        struct edit *e = &edits[i];
        size_t count = 0;
        for (const char *p = s, *hit; (hit = memmem(p, len - (size_t)(p - s), e->old_text, e->old_len));
             p = hit + e->old_len) {
            if (count++ == 0) {
                e->at = (size_t)(hit - s);
            }
        }
        if (count == 0) {
            res = tool_error("could not find edits[%zu].old_text in %s, it must match the file's current content "
                             "exactly",
                             i, path);
            goto done;
        }
        if (count > 1) {
            res = tool_error("found %zu occurrences of edits[%zu].old_text in %s, it must be unique", count, i, path);
            goto done;
        }
    }
    qsort(edits, n, sizeof *edits, edit_cmp);
    for (size_t i = 1; i < n; i++) {
        if (edits[i - 1].at + edits[i - 1].old_len > edits[i].at) {
            res = tool_error("edits[%zu] and edits[%zu] overlap in %s; merge them into one edit or target disjoint "
                             "regions",
                             edits[i - 1].index, edits[i].index, path);
            goto done;
        }
    }
    size_t at = 0;
    for (size_t i = 0; i < n; i++) {
        llamac__dynbuf_add(&out, s + at, edits[i].at - at);
        llamac__dynbuf_add(&out, edits[i].new_text, edits[i].new_len);
        at = edits[i].at + edits[i].old_len;
    }
    llamac__dynbuf_add(&out, s + at, len - at);
    if (llamac__dynbuf_error(&out) != LLAMAC__DYNBUF_OK) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    if (llamac__dynbuf_len(&out) == len && memcmp(llamac__dynbuf_ptr(&out), s, len) == 0) {
        res = tool_error("no changes made: the replacement(s) produced identical content");
    } else if (!write_whole(abs, llamac__dynbuf_ptr(&out), llamac__dynbuf_len(&out))) {
        res = tool_error("failed to write file: %s (%s)", path, strerror(errno));
    } else {
        res = json_pack("{s:s,s:o,s:I}", "result", "file edited successfully", "path", text_json(path, strlen(path)),
                        "edits_applied", (json_int_t)n);
    }
done:
    llamac__dynbuf_free(&file);
    llamac__dynbuf_free(&out);
    free(abs);
    free(edits);
    return res;
}

/* get_info: the operating system (uname -a) and the working directory the tools use. */
static json_t *tool_get_info(struct call *c) {
    const char *argv[] = { "uname", "-a", NULL };
    llamac__dynbuf out = LLAMAC__DYNBUF(4096);
    int code = -1;
    bool timed_out = false, cut = false;
    char err[256], here[PATH_MAX];
    bool ran = run_command(argv, NULL, INFO_TIMEOUT_S, 4096, &out, &code, &timed_out, &cut, err, sizeof err);
    const char *os = "unknown";
    char *text = NULL;
    if (ran && code == 0 && !timed_out) {
        const char *s = llamac__dynbuf_ptr(&out) ? llamac__dynbuf_ptr(&out) : "";
        size_t n = llamac__dynbuf_len(&out);
        while (n && isspace((unsigned char)s[n - 1])) {
            n--;
        }
        text = utf8_text(s, n);
        os = text ? text : os;
    }
    const char *cwd = c->cwd ? c->cwd : getcwd(here, sizeof here);
    json_t *res =
        json_pack("{s:s,s:o}", "os", os, "cwd", text_json(cwd ? cwd : "unknown", strlen(cwd ? cwd : "unknown")));
    free(text);
    llamac__dynbuf_free(&out);
    return res;
}

/* ---- exec_shell_command ---- */

struct exec_args {
    const char *command;
    unsigned timeout_s;
    size_t max_output;
};

static bool exec_args(struct call *c, struct exec_args *a) {
    long long timeout = EXEC_TIMEOUT_DEFAULT, max = (long long)EXEC_OUTPUT_MAX;
    if (!param_required(c, "command", true, &a->command) || !param_int(c, "timeout", 1, LLONG_MAX, &timeout) ||
        !param_int(c, "max_output_size", 0, LLONG_MAX, &max)) {
        return false;
    }
    a->timeout_s = (unsigned)(timeout < EXEC_TIMEOUT_MAX ? timeout : EXEC_TIMEOUT_MAX);
    a->max_output = (size_t)max < EXEC_OUTPUT_MAX ? (size_t)max : EXEC_OUTPUT_MAX;
    return true;
}

/* The socket of a request's client, to notice that it has gone while a command runs (-1: not known). */
static int client_fd(struct request *rq) {
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    return ci ? (int)ci->connect_fd : -1;
}

/* "\n[exit code: N]", and why it ended early. */
static void exec_tail(llamac__dynbuf *b, const struct tool_proc *p, bool truncated) {
    if (truncated) {
        llamac__dynbuf_adds(b, "\n[output truncated]");
    }
    llamac__dynbuf_addf(b, "\n[exit code: %d]", p->exit_code);
    if (p->timed_out) {
        llamac__dynbuf_adds(b, " [exit due to timed out]");
    }
}

/* exec_shell_command: /bin/sh -c COMMAND, stdout and stderr together, within its time and output limits. */
static json_t *tool_exec_shell_command(struct call *c) {
    struct exec_args a;
    if (!exec_args(c, &a)) {
        return NULL;
    }
    const char *argv[] = { "/bin/sh", "-c", a.command, NULL };
    struct tool_proc p;
    char err[512];
    if (!tool_proc_start(&p, argv, c->cwd, a.timeout_s, err, sizeof err)) {
        return tool_error("%s", err);
    }
    llamac__dynbuf out = LLAMAC__DYNBUF(SIZE_MAX);
    bool truncated = false;
    char buf[4096];
    int fd = client_fd(c->rq);
    for (;;) { /* read past the cap: the child must not block on a full pipe */
        ssize_t n = tool_proc_read(&p, buf, sizeof buf, CLIENT_CHECK_MS);
        if (n == TOOL_PROC_AGAIN && fd >= 0 && connection_gone(fd)) {
            break; /* nobody waits for the answer: the command is killed (tool_proc_end) */
        }
        if (n == TOOL_PROC_AGAIN) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        size_t have = llamac__dynbuf_len(&out), take = (size_t)n;
        if (have + take > a.max_output) {
            take = a.max_output - have;
            truncated = true;
        }
        llamac__dynbuf_add(&out, buf, take);
    }
    tool_proc_end(&p);
    exec_tail(&out, &p, truncated);
    json_t *res =
        json_pack("{s:o}", "plain_text_response", text_json(llamac__dynbuf_ptr(&out), llamac__dynbuf_len(&out)));
    llamac__dynbuf_free(&out);
    return res;
}

/* The stream of exec_shell_command ("stream": true), as llama-server's: one event {"chunk": TEXT} per piece of
 * output as it comes, one with the exit code, then {"done": true}. Its reader runs on the request's thread. */
struct exec_stream {
    struct tool_proc p;
    int fd;                   /* the client's socket */
    llamac_utf8_stream *utf8; /* a piece may end inside a character */
    size_t sent, max_output;
    bool truncated, over;
    llamac__dynbuf pending; /* the events not yet handed over */
    size_t off;
};

static void sse_event(llamac__dynbuf *b, json_t *v) {
    char *s = v ? json_dumps(v, JSON_COMPACT) : NULL;
    json_decref(v);
    if (s) {
        llamac__dynbuf_addf(b, "data: %s\n\n", s);
    }
    free(s);
}

static void chunk_event(llamac__dynbuf *b, const char *s, size_t n) {
    if (n > 0) {
        sse_event(b, json_pack("{s:s%}", "chunk", s, n));
    }
}

static ssize_t exec_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    struct exec_stream *x = cls;
    while (x->off == llamac__dynbuf_len(&x->pending)) {
        if (x->over) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        llamac__dynbuf_reset(&x->pending);
        x->off = 0;
        char buf[4096];
        ssize_t n = tool_proc_read(&x->p, buf, sizeof buf, CLIENT_CHECK_MS);
        if (n == TOOL_PROC_AGAIN && x->fd >= 0 && connection_gone(x->fd)) {
            tool_proc_end(&x->p); /* the client has gone: the command is killed */
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
        if (n == TOOL_PROC_AGAIN) {
            continue;
        }
        const char *t;
        size_t tn;
        if (n > 0) {
            size_t take = (size_t)n;
            if (x->sent + take > x->max_output) {
                take = x->max_output - x->sent;
                x->truncated = true;
            }
            x->sent += take;
            if (take > 0 && llamac_utf8_stream_push(x->utf8, buf, take, &t, &tn) == LLAMAC_OK) {
                chunk_event(&x->pending, t, tn);
            }
            continue;
        }
        if (llamac_utf8_stream_flush(x->utf8, &t, &tn) == LLAMAC_OK) {
            chunk_event(&x->pending, t, tn);
        }
        tool_proc_end(&x->p);
        llamac__dynbuf tail = LLAMAC__DYNBUF(256);
        exec_tail(&tail, &x->p, x->truncated);
        chunk_event(&x->pending, llamac__dynbuf_ptr(&tail), llamac__dynbuf_len(&tail));
        llamac__dynbuf_free(&tail);
        sse_event(&x->pending, n < 0 ? json_pack("{s:b,s:s}", "done", 1, "error", "reading the command's output failed")
                                     : json_pack("{s:b}", "done", 1));
        x->over = true;
    }
    size_t n = llamac__dynbuf_len(&x->pending) - x->off;
    n = n < max ? n : max;
    memcpy(out, llamac__dynbuf_ptr(&x->pending) + x->off, n);
    x->off += n;
    return (ssize_t)n;
}

/* The stream is over or its client gone: the command's whole group is killed if it still runs. */
static void exec_free(void *cls) {
    struct exec_stream *x = cls;
    tool_proc_end(&x->p);
    llamac_utf8_stream_free(x->utf8);
    llamac__dynbuf_free(&x->pending);
    free(x);
}

static void exec_stream_start(struct call *c) {
    struct exec_args a;
    if (!exec_args(c, &a)) {
        return;
    }
    struct exec_stream *x = calloc(1, sizeof *x);
    if (!x || llamac_utf8_stream_new(&x->utf8) != LLAMAC_OK) {
        free(x);
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return;
    }
    llamac__dynbuf_init(&x->pending, SIZE_MAX);
    x->max_output = a.max_output;
    x->fd = client_fd(c->rq);
    const char *argv[] = { "/bin/sh", "-c", a.command, NULL };
    char err[512];
    if (!tool_proc_start(&x->p, argv, c->cwd, a.timeout_s, err, sizeof err)) {
        /* as llama-server's stream: the failure is the done event's error */
        sse_event(&x->pending, json_pack("{s:b,s:s}", "done", 1, "error", err));
        x->over = true;
        x->p.fd = -1;
    }
    struct MHD_Response *r = http_stream_response(MHD_SIZE_UNKNOWN, 4096, exec_read, x, exec_free);
    if (!r) {
        exec_free(x);
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        return;
    }
    MHD_add_response_header(r, "Content-Type", "text/event-stream");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    c->rq->response = r;
    c->rq->status = 200;
}

/* ---- the table of tools ---- */

struct tool {
    const char *name, *display_name;
    bool write;  /* permissions.write: it changes files or runs commands */
    bool stream; /* "stream": true is allowed */
    const char *description;
    const char *parameters; /* JSON Schema of params */
    json_t *(*run)(struct call *c);
};

static const struct tool tools[] = {
    { "read_file", "Read file", false, false,
      "Return the text of a file, or only the lines start_line to end_line (1-based, inclusive). With append_loc, "
      "every line starts with its number and an arrow (\"7\xe2\x86\x92...\").",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to read\"},"
      "\"start_line\":{\"type\":\"integer\",\"description\":\"The first line returned, counted from 1 (default: 1)\"},"
      "\"end_line\":{\"type\":\"integer\",\"description\":\"The last line returned (default: the file's last)\"},"
      "\"append_loc\":{\"type\":\"boolean\",\"description\":\"Begin every line with its number\"}},"
      "\"required\":[\"path\"]}",
      tool_read_file },
    { "file_glob_search", "File search", false, false,
      "List the files under a directory whose paths match a glob pattern, searching subdirectories too. Files that "
      ".gitignore excludes (inside a git repository) and bulky directories such as .git, node_modules, build and "
      "dist are left out. A pattern without '/' (\"*.cpp\") is matched against file names at any depth; a pattern "
      "with '/' against the path relative to the directory, as if it began with \"**/\" unless it begins with "
      "\"**/\" or '/'. type \"dir\" lists directories (their paths end with '/' in the text), \"all\" both; "
      "directory listings ignore .gitignore.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The directory to search\"},"
      "\"include\":{\"type\":\"string\",\"description\":\"Glob of the paths to list, e.g. \\\"*.cpp\\\" or "
      "\\\"src/**/*.cpp\\\" (default: **)\"},"
      "\"exclude\":{\"type\":\"string\",\"description\":\"Glob of the paths to leave out\"},"
      "\"type\":{\"type\":\"string\",\"description\":\"What to list: \\\"file\\\" (default), \\\"dir\\\" or "
      "\\\"all\\\"\"},"
      "\"max_depth\":{\"type\":\"integer\",\"description\":\"How many levels of subdirectories to search (default: 0, "
      "all; 1: the directory's own entries only)\"},"
      "\"limit\":{\"type\":\"integer\",\"description\":\"At most this many results, 100 at most (default: 100)\"}},"
      "\"required\":[\"path\"]}",
      tool_file_glob_search },
    { "grep_search", "Grep search", false, false,
      "Find the lines that match a regular expression in a file, or in the files under a directory (shown with their "
      "paths relative to it). Files that .gitignore excludes (inside a git repository) and bulky directories such as "
      ".git, node_modules, build and dist are skipped. include and exclude are globs: without '/' they match file "
      "names at any depth, with '/' the relative path (as if it began with \"**/\" unless it is anchored).",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file or directory to search\"},"
      "\"pattern\":{\"type\":\"string\",\"description\":\"The regular expression to find (a plain string with "
      "literal)\"},"
      "\"include\":{\"type\":\"string\",\"description\":\"Glob of the files to search (default: **)\"},"
      "\"exclude\":{\"type\":\"string\",\"description\":\"Glob of the files to skip\"},"
      "\"return_line_numbers\":{\"type\":\"boolean\",\"description\":\"Show the number of each line\"},"
      "\"literal\":{\"type\":\"boolean\",\"description\":\"Find pattern as it is written, not as a regular "
      "expression (default: false)\"},"
      "\"ignore_case\":{\"type\":\"boolean\",\"description\":\"Ignore the difference between upper and lower case "
      "(default: false)\"},"
      "\"context_lines\":{\"type\":\"integer\",\"description\":\"Lines shown before and after each match (default: "
      "0)\"}},"
      "\"required\":[\"path\",\"pattern\"]}",
      tool_grep_search },
    { "exec_shell_command", "Execute shell command", true, true,
      "Run a command with the shell and return what it printed (stdout and stderr together) and its exit code.",
      "{\"type\":\"object\",\"properties\":{"
      "\"command\":{\"type\":\"string\",\"description\":\"The shell command\"},"
      "\"timeout\":{\"type\":\"integer\",\"description\":\"Seconds before the command is killed (default 10, at most "
      "60)\"},"
      "\"max_output_size\":{\"type\":\"integer\",\"description\":\"At most this many bytes of output are returned "
      "(default 16384)\"}},"
      "\"required\":[\"command\"]}",
      tool_exec_shell_command },
    { "write_file", "Write file", true, false,
      "Replace the content of a file, or create it along with the directories it needs. edit_file changes parts of "
      "a file.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to write\"},"
      "\"content\":{\"type\":\"string\",\"description\":\"Its new content\"}},"
      "\"required\":[\"path\",\"content\"]}",
      tool_write_file },
    { "edit_file", "Edit file", true, false,
      "Change a file by replacing exact pieces of text. Each edits[].old_text must occur exactly once in the file as "
      "it is now (edits do not see each other's results) and must not overlap another edit: merge neighbouring "
      "changes into one edit. write_file replaces a whole file.",
      "{\"type\":\"object\",\"properties\":{"
      "\"path\":{\"type\":\"string\",\"description\":\"The file to change\"},"
      "\"edits\":{\"type\":\"array\",\"description\":\"The replacements, one or more\",\"items\":{\"type\":\"object\","
      "\"properties\":{"
      "\"old_text\":{\"type\":\"string\",\"description\":\"The text replaced: found exactly once in the file, not "
      "overlapping another edit\"},"
      "\"new_text\":{\"type\":\"string\",\"description\":\"The text put in its place\"}},"
      "\"required\":[\"old_text\",\"new_text\"]}}},"
      "\"required\":[\"path\",\"edits\"]}",
      tool_edit_file },
    { "get_info", "Get Runtime Info", false, false,
      "Tell the operating system (name and version) and the working directory the tools use.",
      "{\"type\":\"object\",\"properties\":{}}", tool_get_info },
};
#define N_TOOLS (sizeof tools / sizeof tools[0])

bool server_tools_parse(const char *list, unsigned *mask, char *err, size_t cap) {
    *mask = 0;
    for (const char *p = list;;) {
        size_t n = strcspn(p, ",");
        const char *name = p;
        while (n && *name == ' ') {
            name++, n--;
        }
        while (n && name[n - 1] == ' ') {
            n--;
        }
        size_t i = 0;
        if (n == 3 && strncmp(name, "all", 3) == 0) {
            *mask |= (1u << N_TOOLS) - 1;
        } else {
            for (; i < N_TOOLS && (strlen(tools[i].name) != n || strncmp(tools[i].name, name, n) != 0); i++) {
            }
            if (i == N_TOOLS) {
                llamac__dynbuf known = LLAMAC__DYNBUF(1024);
                for (size_t k = 0; k < N_TOOLS; k++) {
                    llamac__dynbuf_addf(&known, "%s%s", k ? ", " : "", tools[k].name);
                }
                snprintf(err, cap, "unknown tool \"%.*s\"; the tools are all, %s", (int)n, name,
                         llamac__dynbuf_ptr(&known) ? llamac__dynbuf_ptr(&known) : "");
                llamac__dynbuf_free(&known);
                return false;
            }
            *mask |= 1u << i;
        }
        p += strcspn(p, ",");
        if (!*p++) {
            break;
        }
    }
    return true;
}

static bool tools_enabled(struct request *rq) {
    if (rq->s->opt.tools == 0) {
        reply_error(rq, 403, NULL, "feature_disabled",
                    "this feature is disabled: start llamac serve with --tools (e.g. --tools all) for the built-in "
                    "tools");
        return false;
    }
    return true;
}

void handle_tools_get(struct request *rq) {
    if (!tools_enabled(rq)) {
        return;
    }
    json_t *list = json_array();
    for (size_t i = 0; list && i < N_TOOLS; i++) {
        if (!(rq->s->opt.tools & (1u << i))) {
            continue;
        }
        const struct tool *t = &tools[i];
        json_t *params = json_loads(t->parameters, 0, NULL);
        json_array_append_new(list, json_pack("{s:s,s:s,s:s,s:{s:b},s:b,s:{s:s,s:{s:s,s:s,s:o}}}", "display_name",
                                              t->display_name, "tool", t->name, "type", "builtin", "permissions",
                                              "write", t->write, "uses_cwd", 1, "definition", "type", "function",
                                              "function", "name", t->name, "description", t->description, "parameters",
                                              params ? params : json_object()));
    }
    if (!list) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    reply_json(rq, 200, list);
}

/* x-tool-runtime: llama-server runs the tools in a container (docker-container:ID, podman-container:ID) or on a host
 * over ssh (ssh:TARGET). A malformed one is refused as llama-server refuses it (500, its message; an id or target
 * that could pass for an option never reaches a command line); a well-formed one too, as llamac runs the tools on
 * its own machine only. False after replying. */
static bool runtime_refused(struct request *rq, const char *runtime) {
    static const char *const engines[] = { "docker", "podman" };
    for (size_t i = 0; i < 2; i++) {
        size_t n = strlen(engines[i]);
        if (strncmp(runtime, engines[i], n) != 0) {
            continue;
        }
        if (strncmp(runtime + n, "-container:", 11) == 0) {
            const char *id = runtime + n + 11;
            bool ok = isalnum((unsigned char)*id);
            for (const char *p = id; ok && *p; p++) {
                ok = isalnum((unsigned char)*p) || strchr(".-_", *p);
            }
            if (!ok) {
                reply_error(rq, 500, NULL, NULL, "invalid container id: %s", id);
                return true;
            }
            goto unsupported;
        }
        if (runtime[n] == ':') {
            reply_error(rq, 500, NULL, NULL, "tool runtime must name a running container: %s", runtime);
            return true;
        }
    }
    if (strncmp(runtime, "ssh:", 4) == 0) {
        const char *target = runtime + 4;
        bool ok = *target && *target != '-';
        for (const char *p = target; ok && *p; p++) {
            ok = isalnum((unsigned char)*p) || strchr(".-_@", *p);
        }
        if (!ok) {
            reply_error(rq, 500, NULL, NULL, "invalid ssh target: %s", target);
            return true;
        }
        goto unsupported;
    }
    reply_error(rq, 500, NULL, NULL, "unknown tool runtime: %s", runtime);
    return true;
unsupported:
    reply_error(rq, 501, NULL, "not_supported",
                "tool runtime %s: llamac serve runs the built-in tools on its own machine only (no docker, podman or "
                "ssh runtime)",
                runtime);
    return true;
}

void handle_tools_post(struct request *rq) {
    if (!tools_enabled(rq)) {
        return;
    }
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *name = NULL;
    bool stream = false;
    json_t *params = json_object_get(body, "params");
    if (!field_str(rq, body, "tool", &name) || !field_bool(rq, body, "stream", &stream)) {
        goto done;
    }
    if (!name) {
        reply_error(rq, 400, "tool", "missing_required_parameter", "'tool' is required: the name of the tool to run");
        goto done;
    }
    if (params && !json_is_null(params) && !json_is_object(params)) {
        reply_error(rq, 400, "params", "invalid_type", "'params' must be an object");
        goto done;
    }
    const char *runtime = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-tool-runtime");
    if (runtime && *runtime && runtime_refused(rq, runtime)) {
        goto done;
    }
    size_t i = 0;
    for (; i < N_TOOLS && (!(rq->s->opt.tools & (1u << i)) || strcmp(tools[i].name, name) != 0); i++) {
    }
    if (i == N_TOOLS) {
        reply_error(rq, 404, "tool", "not_found", "unknown tool \"%s\"", name);
        goto done;
    }
    if (stream && !tools[i].stream) {
        reply_error(rq, 404, "stream", "not_supported", "tool \"%s\" does not support stream = true", name);
        goto done;
    }
    const char *cwd = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-tool-cwd");
    const char *resp_type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "x-resp-type");
    json_t *none = json_object();
    /* a cwd or runtime in params is not the model's to choose: the headers (the UI's) decide */
    struct call c = { rq, params && json_is_object(params) ? params : none, cwd && *cwd ? cwd : NULL,
                      resp_type && strcmp(resp_type, "base64") == 0 };
    if (stream) {
        exec_stream_start(&c);
    } else {
        json_t *res = tools[i].run(&c);
        if (res) {
            reply_json(rq, 200, res);
        }
    }
    json_decref(none);
done:
    json_decref(body);
}
