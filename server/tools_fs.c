/*
 * tools_fs.c - what the built-in file tools stand on: paths resolved against the call's folder, llama-server's glob
 * rules, listings (git's view inside a repository, else a bounded walk), files read whole or line by line, and
 * files written whole or not at all.
 *
 * A listing never follows a link (it could lead back up) nor enters a bulky folder, and stops at its time budget; a
 * write goes to a temporary file beside the target, renamed over it, so that a reader (or a crash) never sees half
 * a file.
 */
#define _GNU_SOURCE
#include "tools_builtin.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#define LIST_TIMEOUT_S 15                /* one listing, git's or the walk (llama-server's) */
#define GIT_OUTPUT_MAX ((size_t)8 << 20) /* git ls-files' output (llama-server's) */

/* Folders a listing names but never walks into: they can be enormous (llama-server's list). */
static const char *const junk_dirs[] = { ".git", ".svn",   ".hg",   "node_modules", "__pycache__", ".venv", "venv",
                                         "dist", ".cache", ".idea", ".vscode",      "build",       "target" };

/* ---- paths ---- */

/* `path` as an absolute path: a leading ~ is $HOME, a relative path is under cwd (else the server's directory);
 * "." and ".." are resolved lexically and duplicate slashes dropped. NULL when out of memory (malloc'd). */
char *tools_resolve(const char *cwd, const char *path) {
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

/* One match: the pattern and the text, and the (pattern, text) positions already known not to match, so that
 * patterns with several stars ("*a*a*a*a*b", a web page's or a model's) take O(pattern x text) steps, not an
 * exponential number. */
struct glob {
    const char *p0, *s0;
    size_t slen;
    unsigned char *failed; /* a bit per (pattern, text) position pair; NULL: no memo (one star at most) */
};

static bool glob_at(struct glob *g, const char *p, const char *s);

static bool glob_try(struct glob *g, const char *p, const char *s) {
    if (!g->failed) {
        return glob_at(g, p, s);
    }
    size_t bit = (size_t)(p - g->p0) * (g->slen + 1) + (size_t)(s - g->s0);
    if (g->failed[bit / 8] & (1u << (bit % 8))) {
        return false;
    }
    bool ok = glob_at(g, p, s);
    if (!ok) {
        g->failed[bit / 8] |= (unsigned char)(1u << (bit % 8));
    }
    return ok;
}

static bool glob_at(struct glob *g, const char *p, const char *s) {
    for (;;) {
        if (*p == '\0') {
            return *s == '\0';
        }
        if (p[0] == '*' && p[1] == '*') {
            const char *rest = p + 2;
            if (*rest == '/' && glob_try(g, rest + 1, s)) { /* "**" + "/" also matches no directory at all */
                return true;
            }
            for (;; s++) {
                if (glob_try(g, rest, s)) {
                    return true;
                }
                if (*s == '\0') {
                    return false;
                }
            }
        }
        if (*p == '*') {
            for (;; s++) {
                if (glob_try(g, p + 1, s)) {
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

static bool glob_match(const char *pattern, const char *text) {
    struct glob g = { pattern, text, strlen(text), NULL };
    size_t stars = 0, plen = strlen(pattern);
    for (const char *c = pattern; *c; c++) {
        stars += *c == '*';
    }
    if (stars > 1) {
        size_t bits = (plen + 1) * (g.slen + 1);
        g.failed = calloc(bits / 8 + 1, 1);
        if (!g.failed) {
            return false;
        }
    }
    bool ok = glob_at(&g, pattern, text);
    free(g.failed);
    return ok;
}

/* llama-server's rule: a pattern without '/' matches the name at any depth; one with '/' the whole relative path,
 * anchored with "**" + "/" in front unless it starts with "**" or '/'. */
bool tools_path_match(const char *pattern, const char *rel) {
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

void tools_list_free(struct listing *l) {
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
    if (n > 1) {
        qsort(names, n, sizeof *names, name_cmp);
    }
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
bool tools_run(const char *const argv[], const char *cwd, unsigned timeout_s, size_t max, llamac__dynbuf *out,
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
bool tools_list(struct listing *l, const char *base, int max_depth, enum list_kind kind) {
    memset(l, 0, sizeof *l);
    int64_t deadline = server_now_ms() + (int64_t)LIST_TIMEOUT_S * 1000;
    if (kind == LIST_FILES) {
        const char *argv[] = { "git", "ls-files", "--cached", "--others", "--exclude-standard", NULL };
        llamac__dynbuf out = LLAMAC__DYNBUF(GIT_OUTPUT_MAX);
        int code = -1;
        bool timed_out = false, cut = false;
        char err[256];
        if (tools_run(argv, base, LIST_TIMEOUT_S, GIT_OUTPUT_MAX, &out, &code, &timed_out, &cut, err, sizeof err) &&
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
char *tools_utf8(const char *s, size_t n) {
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
json_t *tools_text_json(const char *s, size_t n) {
    char *t = tools_utf8(s, n);
    json_t *v = t ? json_string(t) : NULL;
    free(t);
    return v ? v : json_string("");
}

/* The whole file (at most max bytes) into *out; false with errno set (EFBIG: larger than max). */
bool tools_read_all(const char *path, size_t max, llamac__dynbuf *out) {
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

/* The next line (without its '\n') into *line; false at the end. */
bool tools_next_line(struct lines *lr, llamac__dynbuf *line, size_t cap) {
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
bool tools_write_whole(const char *abs_in, const char *data, size_t n) {
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
