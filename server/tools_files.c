/*
 * tools_files.c - the built-in file tools of --tools: read_file, file_glob_search, grep_search, write_file and
 * edit_file, with llama-server's parameters, results, messages and limits.
 *
 * A tool's own failure (no such file, an edit that does not apply, a bad pattern) is its result, {"error": ...},
 * which the web UI hands to the model; a malformed call is a 400 (tools_builtin.c's readers). Text that reaches
 * JSON is made valid UTF-8 first: files may hold anything.
 */
#define _GNU_SOURCE
#include "tools_builtin.h"

#include "request.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* llama-server's limits (server-tools.cpp at the pin). */
#define READ_MAX ((size_t)16 << 10)        /* read_file's text, unless a line range is asked for */
#define READ_BASE64_MAX ((size_t)32 << 20) /* read_file with x-resp-type: base64 */
#define SEARCH_MAX 100                     /* file_glob_search's entries */
#define GREP_MAX 100                       /* grep_search's matches */
/* llamac's own bounds, where llama-server has none. */
#define FILE_MAX ((size_t)64 << 20)      /* a file grep_search searches or edit_file edits */
#define LINE_MAX_BYTES ((size_t)1 << 20) /* of a longer line, grep_search matches and shows the start */
#define CONTEXT_MAX 100                  /* grep_search's context_lines */
#define GREP_TIME_S 30                   /* one grep_search, at most (then what it found so far) */

/* read_file: a file's lines (a range of them, numbered on request), at most READ_MAX bytes of text unless a range
 * is given; with x-resp-type: base64 the whole file's bytes. */
json_t *tool_read_file(struct call *c) {
    const char *path;
    long long start = 1, end = -1;
    bool loc = false;
    if (!tool_param_required(c, "path", true, &path) || !tool_param_int(c, "start_line", 1, INT_MAX, &start) ||
        !tool_param_int(c, "end_line", -1, INT_MAX, &end) || !field_bool(c->rq, c->params, "append_loc", &loc)) {
        return NULL;
    }
    char *abs = tool_resolved(c, path);
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
        if ((size_t)st.st_size > READ_BASE64_MAX || !tools_read_all(abs, READ_BASE64_MAX, &b)) {
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
        if (lr) {
            lr->fd = open(abs, O_RDONLY | O_CLOEXEC);
        }
        if (!lr || lr->fd < 0) {
            res = tool_error("failed to open file: %s (%s)", path, strerror(errno));
        } else {
            llamac__dynbuf text = LLAMAC__DYNBUF(SIZE_MAX), line = LLAMAC__DYNBUF(SIZE_MAX);
            for (long long n = 1; tools_next_line(lr, &line, READ_MAX + 1); n++) {
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
                            tools_text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)));
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
json_t *tool_file_glob_search(struct call *c) {
    const char *path, *include = "**", *exclude = "", *type = "file";
    long long max_depth = 0, limit = SEARCH_MAX;
    if (!tool_param_required(c, "path", true, &path) || !field_str(c->rq, c->params, "include", &include) ||
        !field_str(c->rq, c->params, "exclude", &exclude) || !field_str(c->rq, c->params, "type", &type) ||
        !tool_param_int(c, "max_depth", LLONG_MIN, LLONG_MAX, &max_depth) ||
        !tool_param_int(c, "limit", LLONG_MIN, LLONG_MAX, &limit)) {
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
    char *base = tool_resolved(c, path);
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
    if (tools_list(&l, base, (int)max_depth, kind) && entries) {
        size_t total = 0;
        for (size_t i = 0; i < l.n; i++) {
            if (!tools_path_match(include, l.v[i].rel) || (*exclude && tools_path_match(exclude, l.v[i].rel))) {
                continue;
            }
            if (total++ < (size_t)(limit < SEARCH_MAX ? limit : SEARCH_MAX)) {
                llamac__dynbuf_addf(&text, "%s%s\n", l.v[i].rel, l.v[i].dir ? "/" : "");
                json_array_append_new(entries,
                                      json_pack("{s:o,s:s}", "path", tools_text_json(l.v[i].rel, strlen(l.v[i].rel)),
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
                        tools_text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)), "entries", entries,
                        "base", tools_text_json(base, strlen(base)));
    }
    json_decref(entries);
    tools_list_free(&l);
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

/* A line of a file: where it starts and its length (without its '\n'). */
struct span {
    size_t at, len;
};

/* Splits (s, n) into lines as std::getline does (no empty line after a final '\n'): *count of them, malloc'd; NULL
 * when out of memory. */
static struct span *split_lines(const char *s, size_t n, size_t *count) {
    size_t cap = 64, k = 0;
    struct span *v = malloc(cap * sizeof *v);
    if (!v) {
        return NULL;
    }
    for (size_t i = 0; i < n;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t len = nl ? (size_t)(nl - (s + i)) : n - i;
        if (k == cap) {
            struct span *w = realloc(v, 2 * cap * sizeof *v);
            if (!w) {
                free(v);
                return NULL;
            }
            v = w;
            cap *= 2;
        }
        v[k++] = (struct span){ i, len };
        i += len + 1;
    }
    *count = k;
    return v;
}

/* A grep_search in progress. */
struct grep {
    const regex_t *re;
    long long ctx; /* context_lines */
    bool numbers;  /* return_line_numbers */
    llamac__dynbuf *text;
    size_t total, skipped; /* matches; files over FILE_MAX */
    bool limit;            /* GREP_MAX matches found: the search stops */
    bool late;             /* GREP_TIME_S passed: the search stops */
    int64_t deadline;
};

/* Searches one file's lines; appends what it finds to the text. */
static void grep_file(struct grep *g, const char *abs, const char *shown) {
    const regex_t *re = g->re;
    long long ctx = g->ctx;
    bool numbers = g->numbers;
    llamac__dynbuf *text = g->text;
    size_t *total = &g->total, *skipped = &g->skipped;
    bool *limit = &g->limit;
    if (server_now_ms() >= g->deadline) {
        g->late = true;
        return;
    }
    llamac__dynbuf content = LLAMAC__DYNBUF(FILE_MAX);
    if (!tools_read_all(abs, FILE_MAX, &content)) {
        *skipped += errno == EFBIG;
        llamac__dynbuf_free(&content);
        return;
    }
    const char *s = llamac__dynbuf_ptr(&content);
    size_t n = 0;
    struct span *lines = split_lines(s ? s : "", llamac__dynbuf_len(&content), &n);
    if (lines) {
        for (size_t i = 0; i < n; i++) {
            if (*total >= GREP_MAX) {
                *limit = true;
                break;
            }
            if (i % 256 == 255 && server_now_ms() >= g->deadline) {
                g->late = true; /* a slow pattern (backreferences) or a huge tree: what was found so far */
                break;
            }
            regmatch_t m = { .rm_so = 0,
                             .rm_eo = (regoff_t)(lines[i].len < LINE_MAX_BYTES ? lines[i].len : LINE_MAX_BYTES) };
            if (regexec(re, s + lines[i].at, 1, &m, REG_STARTEND) != 0) {
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
                llamac__dynbuf_add(text, s + lines[j].at,
                                   lines[j].len < LINE_MAX_BYTES ? lines[j].len : LINE_MAX_BYTES);
                llamac__dynbuf_addc(text, '\n');
            }
            if (ctx > 0) {
                llamac__dynbuf_adds(text, "--\n");
            }
            ++*total;
        }
    }
    free(lines);
    llamac__dynbuf_free(&content);
}

/* grep_search: the lines of a file, or of the files under a directory (filtered by include and exclude), that match a
 * regular expression. */
json_t *tool_grep_search(struct call *c) {
    const char *path, *pattern, *include = "**", *exclude = "";
    bool numbers = false, literal = false, icase = false;
    long long ctx = 0;
    if (!tool_param_required(c, "path", true, &path) || !tool_param_required(c, "pattern", false, &pattern) ||
        !field_str(c->rq, c->params, "include", &include) || !field_str(c->rq, c->params, "exclude", &exclude) ||
        !field_bool(c->rq, c->params, "return_line_numbers", &numbers) ||
        !field_bool(c->rq, c->params, "literal", &literal) || !field_bool(c->rq, c->params, "ignore_case", &icase) ||
        !tool_param_int(c, "context_lines", LLONG_MIN, LLONG_MAX, &ctx)) {
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
    char *abs = tool_resolved(c, path);
    if (!abs) {
        regfree(&re);
        return NULL;
    }
    json_t *res = NULL;
    struct stat st;
    llamac__dynbuf text = LLAMAC__DYNBUF(SIZE_MAX);
    struct grep g = { &re, ctx, numbers, &text, 0, 0, false, false, server_now_ms() + GREP_TIME_S * 1000 };
    if (stat(abs, &st) != 0 || (!S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode))) {
        res = tool_error("path does not exist: %s", path);
    } else {
        if (S_ISREG(st.st_mode)) {
            grep_file(&g, abs, path);
        } else {
            struct listing l;
            if (tools_list(&l, abs, 0, LIST_FILES)) {
                for (size_t i = 0; i < l.n && !g.limit && !g.late; i++) {
                    if (!tools_path_match(include, l.v[i].rel) || (*exclude && tools_path_match(exclude, l.v[i].rel))) {
                        continue;
                    }
                    char *full = NULL;
                    if (asprintf(&full, "%s/%s", abs, l.v[i].rel) >= 0) {
                        grep_file(&g, full, l.v[i].rel);
                        free(full);
                    }
                }
            }
            tools_list_free(&l);
        }
        llamac__dynbuf_addf(&text, "\n---\nTotal matches: %zu\n", g.total);
        if (g.limit) {
            llamac__dynbuf_addf(&text, "[%d matches limit reached. Narrow the path/pattern/include to see more.]\n",
                                GREP_MAX);
        }
        if (g.skipped) {
            llamac__dynbuf_addf(&text, "[%zu files over %zu MiB not searched]\n", g.skipped, FILE_MAX >> 20);
        }
        if (g.late) {
            llamac__dynbuf_addf(&text, "[search stopped after %d s. Narrow the path/pattern/include to see more.]\n",
                                GREP_TIME_S);
        }
        res = json_pack("{s:o}", "plain_text_response",
                        tools_text_json(llamac__dynbuf_ptr(&text), llamac__dynbuf_len(&text)));
    }
    llamac__dynbuf_free(&text);
    regfree(&re);
    free(abs);
    if (!res) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
    }
    return res;
}

/* write_file: a file's whole content (the folders above it made as needed). */
json_t *tool_write_file(struct call *c) {
    const char *path, *content;
    if (!tool_param_required(c, "path", true, &path) || !tool_param_required(c, "content", false, &content)) {
        return NULL;
    }
    size_t n = json_string_length(json_object_get(c->params, "content"));
    char *abs = tool_resolved(c, path);
    if (!abs) {
        return NULL;
    }
    json_t *res = tools_write_whole(abs, content, n)
                      ? json_pack("{s:s,s:o,s:I}", "result", "file written successfully", "path",
                                  tools_text_json(path, strlen(path)), "bytes", (json_int_t)n)
                      : tool_error("failed to write file: %s (%s)", path, strerror(errno));
    free(abs);
    return res;
}

struct edit {
    const char *old_text, *new_text;
    size_t old_len, new_len;
    size_t index;         /* in edits[] */
    llamac__dynbuf loose; /* old_text evened out (loose) */
    const char *needle;   /* what is looked for: old_text, or its loose form when some edit needs the loose match */
    size_t needle_len;
    size_t at; /* where the needle is in the file (or in its loose form) */
};

static int edit_cmp(const void *a, const void *b) {
    const struct edit *x = a, *y = b;
    return x->at < y->at ? -1 : x->at > y->at;
}

/* ---- edit_file's loose match, llama-server's: a model often gets trailing blanks or typographic quotes, dashes and
 * spaces wrong. An old_text not in the file as it is is looked for with both evened out, line by line, and the lines
 * an edit does not touch keep their bytes. ---- */

/* (s, n) evened out into out: each line ('\n'-separated, so lines stay where they are) without its trailing blanks
 * (space, tab, CR), then typographic single and double quotes, dashes, the minus sign and special spaces as ASCII. */
static void loose(const char *s, size_t n, llamac__dynbuf *out) {
    for (size_t i = 0;;) {
        const char *nl = memchr(s + i, '\n', n - i);
        size_t end = nl ? (size_t)(nl - s) : n, e = end;
        while (e > i && (s[e - 1] == ' ' || s[e - 1] == '\t' || s[e - 1] == '\r')) {
            e--;
        }
        for (size_t k = i; k < e;) {
            unsigned a = (unsigned char)s[k], b = k + 1 < e ? (unsigned char)s[k + 1] : 0u,
                     c = k + 2 < e ? (unsigned char)s[k + 2] : 0u;
            char r = 0;
            size_t w = 3;
            if (a == 0xE2 && b == 0x80 && c >= 0x98 && c <= 0x9B) {
                r = '\'';
            } else if (a == 0xE2 && b == 0x80 && c >= 0x9C && c <= 0x9F) {
                r = '"';
            } else if ((a == 0xE2 && b == 0x80 && c >= 0x90 && c <= 0x95) || (a == 0xE2 && b == 0x88 && c == 0x92)) {
                r = '-';
            } else if ((a == 0xE2 && b == 0x80 && ((c >= 0x82 && c <= 0x8A) || c == 0xAF)) ||
                       (a == 0xE2 && b == 0x81 && c == 0x9F) || (a == 0xE3 && b == 0x80 && c == 0x80)) {
                r = ' ';
            } else if (a == 0xC2 && b == 0xA0) {
                r = ' ';
                w = 2;
            }
            llamac__dynbuf_addc(out, r ? r : s[k]);
            k += r ? w : 1;
        }
        if (!nl) {
            break;
        }
        llamac__dynbuf_addc(out, '\n');
        i = end + 1;
    }
}

/* Non-overlapping occurrences of (nd, nn) in (h, hn); *first the first one's offset. */
static size_t occurrences(const char *h, size_t hn, const char *nd, size_t nn, size_t *first) {
    size_t count = 0;
    for (const char *p = h, *hit; nn && (hit = memmem(p, hn - (size_t)(p - h), nd, nn)); p = hit + nn) {
        if (count++ == 0 && first) {
            *first = (size_t)(hit - h);
        }
    }
    return count;
}

/* The end of line i of (s, n) (split_lines' spans), its '\n' included. */
static size_t line_end(const struct span *v, size_t i, size_t n) {
    return v[i].at + v[i].len < n ? v[i].at + v[i].len + 1 : n;
}

/* The lines of (base, bn) that edits[i, j) touch, [first, last), written out with the edits made. */
static void loose_group(const char *base, size_t bn, const struct span *bl, size_t first, size_t last,
                        const struct edit *edits, size_t i, size_t j, llamac__dynbuf *out) {
    size_t at = bl[first].at, end = line_end(bl, last - 1, bn);
    for (size_t k = i; k < j; k++) {
        llamac__dynbuf_add(out, base + at, edits[k].at - at);
        llamac__dynbuf_add(out, edits[k].new_text, edits[k].new_len);
        at = edits[k].at + edits[k].needle_len;
    }
    llamac__dynbuf_add(out, base + at, end - at);
}

/* The edits (sorted, disjoint, found in `base`, the loose form of `orig`) applied, into out: the lines an edit
 * touches (edits whose lines overlap make one group) come from base with the edits made, every other line from orig
 * as it was. False when out of memory. */
static bool apply_loose(const char *orig, size_t on, const char *base, size_t bn, const struct edit *edits, size_t n,
                        llamac__dynbuf *out) {
    size_t no = 0, nb = 0;
    struct span *ol = split_lines(orig, on, &no), *bl = split_lines(base, bn, &nb);
    bool ok = ol && bl && nb > 0;
    size_t next = 0;                      /* the first original line not yet out */
    size_t gi = 0, gfirst = 0, glast = 0; /* the group being gathered: edits [gi, k), lines [gfirst, glast) */
    for (size_t k = 0; ok && k <= n; k++) {
        size_t first = nb, last = nb;
        if (k < n) {
            for (first = 0; first < nb && line_end(bl, first, bn) <= edits[k].at; first++) {
            }
            for (last = first; last + 1 < nb && line_end(bl, last, bn) < edits[k].at + edits[k].needle_len; last++) {
            }
            last++;
            if (first >= nb) {
                ok = false;
                break;
            }
            if (k > gi && first < glast) { /* overlaps the group: joins it */
                glast = last > glast ? last : glast;
                continue;
            }
        }
        if (k > gi) { /* the group before this edit is complete */
            for (; next < gfirst && next < no; next++) {
                llamac__dynbuf_add(out, orig + ol[next].at, line_end(ol, next, on) - ol[next].at);
            }
            loose_group(base, bn, bl, gfirst, glast, edits, gi, k, out);
            next = glast;
        }
        gi = k, gfirst = first, glast = last;
    }
    for (; ok && next < no; next++) {
        llamac__dynbuf_add(out, orig + ol[next].at, line_end(ol, next, on) - ol[next].at);
    }
    free(ol);
    free(bl);
    return ok && llamac__dynbuf_error(out) == LLAMAC__DYNBUF_OK;
}

/* edit_file: replacements, each old_text found once in the file as it is (not as earlier edits left it), or else
 * loosely (above), none overlapping another; all applied, or none. */
json_t *tool_edit_file(struct call *c) {
    const char *path;
    if (!tool_param_required(c, "path", true, &path)) {
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
        edits[i] = (struct edit){ .old_text = json_string_value(o),
                                  .new_text = json_string_value(w),
                                  .old_len = json_string_length(o),
                                  .new_len = json_string_length(w),
                                  .index = i,
                                  .loose = LLAMAC__DYNBUF(SIZE_MAX) };
        if (edits[i].old_len == 0) {
            free(edits);
            return tool_error("edits[%zu].old_text must not be empty", i);
        }
    }
    char *abs = tool_resolved(c, path);
    if (!abs) {
        free(edits);
        return NULL;
    }
    json_t *res = NULL;
    llamac__dynbuf file = LLAMAC__DYNBUF(FILE_MAX), file_loose = LLAMAC__DYNBUF(SIZE_MAX),
                   out = LLAMAC__DYNBUF(SIZE_MAX);
    if (!tools_read_all(abs, FILE_MAX, &file)) {
        res = errno == EFBIG ? tool_error("failed to open file: %s (larger than %zu MiB)", path, FILE_MAX >> 20)
                             : tool_error("failed to open file: %s (%s)", path, strerror(errno));
        goto done;
    }
    const char *s = llamac__dynbuf_ptr(&file) ? llamac__dynbuf_ptr(&file) : "";
    size_t len = llamac__dynbuf_len(&file);
    loose(s, len, &file_loose);
    const char *ls = llamac__dynbuf_ptr(&file_loose) ? llamac__dynbuf_ptr(&file_loose) : "";
    size_t llen = llamac__dynbuf_len(&file_loose);
    bool any_loose = false;
    for (size_t i = 0; i < n; i++) {
        struct edit *e = &edits[i];
        loose(e->old_text, e->old_len, &e->loose);
        size_t nl = llamac__dynbuf_len(&e->loose);
        if (occurrences(s, len, e->old_text, e->old_len, NULL) == 0) {
            if (nl == 0 || occurrences(ls, llen, llamac__dynbuf_ptr(&e->loose), nl, NULL) == 0) {
                res = tool_error("could not find edits[%zu].old_text in %s, it must match the file's current "
                                 "content exactly",
                                 i, path);
                goto done;
            }
            any_loose = true;
        }
    }
    for (size_t i = 0; i < n; i++) { /* unique even loosely: a duplicate that differs in blanks counts */
        struct edit *e = &edits[i];
        size_t nl = llamac__dynbuf_len(&e->loose);
        size_t count = nl ? occurrences(ls, llen, llamac__dynbuf_ptr(&e->loose), nl, NULL) : 0;
        if (count > 1) {
            res = tool_error("found %zu occurrences of edits[%zu].old_text in %s, it must be unique", count, i, path);
            goto done;
        }
        e->needle = any_loose ? llamac__dynbuf_ptr(&e->loose) : e->old_text;
        e->needle_len = any_loose ? nl : e->old_len;
        if (occurrences(any_loose ? ls : s, any_loose ? llen : len, e->needle, e->needle_len, &e->at) == 0) {
            res = tool_error("could not find edits[%zu].old_text in %s, it must match the file's current content "
                             "exactly",
                             i, path);
            goto done;
        }
    }
    qsort(edits, n, sizeof *edits, edit_cmp);
    for (size_t i = 1; i < n; i++) {
        if (edits[i - 1].at + edits[i - 1].needle_len > edits[i].at) {
            res = tool_error("edits[%zu] and edits[%zu] overlap in %s; merge them into one edit or target disjoint "
                             "regions",
                             edits[i - 1].index, edits[i].index, path);
            goto done;
        }
    }
    if (any_loose) {
        apply_loose(s, len, ls, llen, edits, n, &out);
    } else {
        size_t at = 0;
        for (size_t i = 0; i < n; i++) {
            llamac__dynbuf_add(&out, s + at, edits[i].at - at);
            llamac__dynbuf_add(&out, edits[i].new_text, edits[i].new_len);
            at = edits[i].at + edits[i].old_len;
        }
        llamac__dynbuf_add(&out, s + at, len - at);
    }
    if (llamac__dynbuf_error(&out) != LLAMAC__DYNBUF_OK) {
        reply_error(c->rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    if (llamac__dynbuf_len(&out) == len && memcmp(llamac__dynbuf_ptr(&out), s, len) == 0) {
        res = tool_error("no changes made: the replacement(s) produced identical content");
    } else if (!tools_write_whole(abs, llamac__dynbuf_ptr(&out), llamac__dynbuf_len(&out))) {
        res = tool_error("failed to write file: %s (%s)", path, strerror(errno));
    } else {
        res = json_pack("{s:s,s:o,s:I}", "result", "file edited successfully", "path",
                        tools_text_json(path, strlen(path)), "edits_applied", (json_int_t)n);
    }
done:
    llamac__dynbuf_free(&file);
    llamac__dynbuf_free(&file_loose);
    llamac__dynbuf_free(&out);
    for (size_t i = 0; i < n; i++) {
        llamac__dynbuf_free(&edits[i].loose);
    }
    free(abs);
    free(edits);
    return res;
}
