/*
 * jinja_json.c - tojson: values as JSON text, laid out exactly as llama.cpp's engine writes them.
 *
 * Not a general JSON writer (reading JSON is jansson's job): it reproduces one output format byte for byte, with
 * its choices (", " between items on one line, "," and newlines when indented, floats as %g, keys in insertion
 * order, ensure_ascii as a pass over the finished text that escapes what lies inside strings).
 */
#include "text/jinja.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

void jv_json_string(jbuf *b, const char *s, size_t n) {
    jb_cat(b, "\"", 1);
    size_t run = 0; /* bytes copied as they are, flushed in one piece */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)s[i];
        const char *esc = NULL;
        char u[8];
        switch (c) {
        case '"': esc = "\\\""; break;
        case '\\': esc = "\\\\"; break;
        case '\b': esc = "\\b"; break;
        case '\f': esc = "\\f"; break;
        case '\n': esc = "\\n"; break;
        case '\r': esc = "\\r"; break;
        case '\t': esc = "\\t"; break;
        default:
            if (c < 0x20) {
                snprintf(u, sizeof u, "\\u%04x", c);
                esc = u;
            }
        }
        if (esc) {
            jb_cat(b, s + i - run, run);
            run = 0;
            jb_cats(b, esc);
        } else {
            run++;
        }
    }
    jb_cat(b, s + n - run, run);
    jb_cat(b, "\"", 1);
}

typedef struct json_fmt {
    int indent;
    const jstr *item_sep, *key_sep;
} json_fmt;

static void json_indent(jbuf *b, const json_fmt *f, int lvl) {
    if (f->indent > 0) {
        for (long i = 0; i < (long)lvl * f->indent; i++) {
            jb_cat(b, " ", 1);
        }
    }
}

static void json_value(jbuf *b, jv v, int lvl, const json_fmt *f) {
    jv_depth_check(b->rt, lvl);
    jstep(b->rt);
    const char *nl = f->indent >= 0 ? "\n" : "";
    switch (v.t) {
    case JT_NONE:
    case JT_UNDEF: jb_cats(b, "null"); return;
    case JT_BOOL: jb_cats(b, v.u.b ? "true" : "false"); return;
    case JT_INT: jb_printf(b, "%" PRId64, v.u.i); return;
    case JT_FLOAT: {
        char tmp[64];
        snprintf(tmp, sizeof tmp, "%g", v.u.f);
        jinja_fix_decimal_point(tmp);
        jb_cats(b, tmp);
        return;
    }
    case JT_STR: jv_json_string(b, v.u.s->p, v.u.s->len); return;
    case JT_ARRAY:
    case JT_TUPLE: {
        jb_cats(b, "[");
        size_t n = v.u.a->n;
        if (n) {
            jb_cats(b, nl);
            for (size_t i = 0; i < n; i++) {
                json_indent(b, f, lvl + 1);
                json_value(b, v.u.a->v[i], lvl + 1, f);
                if (i + 1 < n) {
                    jb_cat(b, f->item_sep->p, f->item_sep->len);
                }
                jb_cats(b, nl);
            }
            json_indent(b, f, lvl);
        }
        jb_cats(b, "]");
        return;
    }
    case JT_OBJECT: {
        jb_cats(b, "{");
        size_t n = v.u.o->n;
        if (n) {
            jb_cats(b, nl);
            for (size_t i = 0; i < n; i++) {
                json_indent(b, f, lvl + 1);
                const jstr *k = jv_as_string(b->rt, v.u.o->k[i]);
                jv_json_string(b, k->p, k->len);
                jb_cat(b, f->key_sep->p, f->key_sep->len);
                json_value(b, v.u.o->v[i], lvl + 1, f);
                if (i + 1 < n) {
                    jb_cat(b, f->item_sep->p, f->item_sep->len);
                }
                jb_cats(b, nl);
            }
            json_indent(b, f, lvl);
        }
        jb_cats(b, "}");
        return;
    }
    case JT_FUNC:
    case JT_KWARG: jb_cats(b, "null"); return;
    }
}

/* One UTF-8 sequence at s[i..n): its code point and length, or 0 when it is not a whole valid sequence (lenient as
 * llama.cpp's parser: overlong forms and surrogates pass). */
static size_t utf8_seq(const unsigned char *s, size_t i, size_t n, uint32_t *cp) {
    unsigned char c = s[i];
    size_t len;
    uint32_t v;
    if (!(c & 0x40)) {
        return 0;
    } else if (!(c & 0x20)) {
        len = 2;
        v = c & 0x1fu;
    } else if (!(c & 0x10)) {
        len = 3;
        v = c & 0x0fu;
    } else if (!(c & 0x08)) {
        len = 4;
        v = c & 0x07u;
    } else {
        return 0;
    }
    for (size_t k = 1; k < len; k++) {
        if (i + k >= n || (s[i + k] & 0xc0) != 0x80) {
            return 0;
        }
        v = (v << 6) | (s[i + k] & 0x3fu);
    }
    *cp = v;
    return len;
}

/* ensure_ascii: inside JSON strings, every non-ASCII character becomes \uXXXX (a surrogate pair above U+FFFF), and
 * each byte that is not part of a valid sequence becomes \ufffd. */
static const jstr *json_ascii(jrt *rt, const jstr *in) {
    jbuf b;
    jb_init(&b, rt);
    const unsigned char *s = (const unsigned char *)in->p;
    size_t n = in->len;
    bool in_string = false, escaped = false;
    for (size_t i = 0; i < n;) {
        unsigned char c = s[i];
        if (!in_string || escaped || c < 0x80) {
            jb_cat(&b, (const char *)&s[i], 1);
            if (!in_string) {
                in_string = c == '"';
            } else if (escaped) {
                escaped = false;
            } else if (c == '\\') {
                escaped = true;
            } else if (c == '"') {
                in_string = false;
            }
            i++;
            continue;
        }
        uint32_t cp = 0;
        size_t len = utf8_seq(s, i, n, &cp);
        if (!len) {
            jb_cats(&b, "\\ufffd");
            i++;
            continue;
        }
        if (cp <= 0xFFFF) {
            jb_printf(&b, "\\u%04x", (unsigned)cp);
        } else {
            cp -= 0x10000;
            jb_printf(&b, "\\u%04x\\u%04x", (unsigned)(0xD800 + ((cp >> 10) & 0x3FF)),
                      (unsigned)(0xDC00 + (cp & 0x3FF)));
        }
        i += len;
    }
    return jb_done(&b);
}

const jstr *jv_to_json(jrt *rt, jv v, int indent, const jstr *item_sep, const jstr *key_sep, bool ensure_ascii) {
    jbuf b;
    jb_init(&b, rt);
    json_fmt f = { indent, item_sep, key_sep };
    json_value(&b, v, 0, &f);
    b.nb = 0; /* JSON output is one piece */
    const jstr *s = jb_done(&b);
    return ensure_ascii ? json_ascii(rt, s) : s;
}
