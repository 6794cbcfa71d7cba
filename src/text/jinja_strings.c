/*
 * jinja_strings.c - the methods and filters of strings: case, strip, split, replace, format, int/float, slicing,
 * indent.
 *
 * Byte-wise and ASCII-only where llama.cpp is (upper(), title(), length counts bytes). A string remembers the pieces
 * it was joined from: capitalize and title work on each piece, and strip, upper and lower keep them.
 */
#include "text/jinja_builtins.h"

#include <errno.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>

static char upper(char c) {
    return c >= 'a' && c <= 'z' ? (char)(c - 32) : c;
}

static char lower(char c) {
    return c >= 'A' && c <= 'Z' ? (char)(c + 32) : c;
}

/* A string with the same pieces as `s` and the bytes `p` (same length). */
static jv same_pieces(jrt *rt, const jstr *s, const char *p) {
    jstr *r = ja_alloc(&rt->arena, sizeof *r);
    *r = *s;
    r->p = p;
    return jv_str(r);
}

static char *copy_bytes(jrt *rt, const jstr *s) {
    char *p = ja_alloc(&rt->arena, s->len + 1);
    if (s->len) {
        memcpy(p, s->p, s->len);
    }
    return p;
}

static jv b_str_upper(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    const jstr *s = a->v[0].u.s;
    char *p = copy_bytes(rt, s);
    for (size_t i = 0; i < s->len; i++) {
        p[i] = upper(p[i]);
    }
    return same_pieces(rt, s, p);
}

static jv b_str_lower(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    const jstr *s = a->v[0].u.s;
    char *p = copy_bytes(rt, s);
    for (size_t i = 0; i < s->len; i++) {
        p[i] = lower(p[i]);
    }
    return same_pieces(rt, s, p);
}

/* capitalize and title apply to each piece of the string on its own, as in llama.cpp. */
static jv b_str_capitalize(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    const jstr *s = a->v[0].u.s;
    char *p = copy_bytes(rt, s);
    size_t start = 0;
    for (size_t k = 0; k <= s->nb; k++) {
        size_t end = k < s->nb ? s->b[k] : s->len;
        for (size_t i = start; i < end; i++) {
            p[i] = i == start ? upper(p[i]) : lower(p[i]);
        }
        start = end;
    }
    return same_pieces(rt, s, p);
}

static jv b_str_title(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    const jstr *s = a->v[0].u.s;
    char *p = copy_bytes(rt, s);
    size_t start = 0;
    for (size_t k = 0; k <= s->nb; k++) {
        size_t end = k < s->nb ? s->b[k] : s->len;
        bool next_upper = true;
        for (size_t i = start; i < end; i++) {
            if (jbi_is_space((unsigned char)p[i])) {
                next_upper = true;
            } else if (next_upper) {
                p[i] = upper(p[i]);
                next_upper = false;
            } else {
                p[i] = lower(p[i]);
            }
        }
        start = end;
    }
    return same_pieces(rt, s, p);
}

/* strip / lstrip / rstrip: whitespace, or any of the bytes of `chars`. Pieces that remain keep their bounds. */
static jv strip(jrt *rt, const jargs *a, bool left, bool right) {
    const jstr *s = a->v[0].u.s;
    jv chars_v = jargs_kw_or_pos(a, "chars", 1);
    const jstr *chars = chars_v.t == JT_UNDEF ? NULL : jv_as_string(rt, chars_v);
    size_t start = 0, end = s->len;
#define STRIPPED(c)                                                                                                    \
    (chars ? (chars->len && memchr(chars->p, (c), chars->len) != NULL) : jbi_is_space((unsigned char)(c)))
    if (left) {
        while (start < end && STRIPPED(s->p[start])) {
            start++;
        }
    }
    if (right) {
        while (end > start && STRIPPED(s->p[end - 1])) {
            end--;
        }
    }
#undef STRIPPED
    jstr *r = ja_alloc(&rt->arena, sizeof *r);
    r->p = s->p + start;
    r->len = end - start;
    size_t *b = s->nb ? ja_alloc(&rt->arena, s->nb * sizeof *b) : NULL;
    for (size_t k = 0; k < s->nb; k++) {
        if (s->b[k] > start && s->b[k] < end) {
            b[r->nb++] = s->b[k] - start;
        }
    }
    r->b = b;
    /* keep the NUL-after-the-bytes invariant */
    if (end < s->len) {
        char *p = ja_alloc(&rt->arena, r->len + 1);
        if (r->len) {
            memcpy(p, r->p, r->len);
        }
        r->p = p;
    }
    return jv_str(r);
}

static jv b_str_strip(jrt *rt, const jargs *a) {
    jv v = jbi_arg(rt, a, 0);
    if (v.t != JT_STR) {
        jerr(rt, "strip() applies to a string, got %s", jv_type_name(v));
    }
    return strip(rt, a, true, true);
}

static jv b_str_lstrip(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return strip(rt, a, true, false);
}

static jv b_str_rstrip(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return strip(rt, a, false, true);
}

static jv b_str_length(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return jv_int((int64_t)a->v[0].u.s->len);
}

static jv b_str_startswith(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jbi_need_kind(rt, a, 0, K_STR);
    jbi_need_kind(rt, a, 1, K_STR);
    const jstr *s = a->v[0].u.s, *x = a->v[1].u.s;
    return jv_bool(s->len >= x->len && (x->len == 0 || memcmp(s->p, x->p, x->len) == 0));
}

static jv b_str_endswith(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jbi_need_kind(rt, a, 0, K_STR);
    jbi_need_kind(rt, a, 1, K_STR);
    const jstr *s = a->v[0].u.s, *x = a->v[1].u.s;
    return jv_bool(s->len >= x->len && (x->len == 0 || memcmp(s->p + s->len - x->len, x->p, x->len) == 0));
}

const char *jbi_find_bytes(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn > hn) {
        return NULL;
    }
    for (size_t i = 0; i + nn <= hn; i++) {
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) {
            return h + i;
        }
    }
    return NULL;
}

static const char *rfind_bytes(const char *h, size_t hn, const char *n, size_t nn) {
    if (nn > hn) {
        return NULL;
    }
    for (size_t i = hn - nn + 1; i-- > 0;) {
        if (h[i] == n[0] && memcmp(h + i, n, nn) == 0) {
            return h + i;
        }
    }
    return NULL;
}

/* split / rsplit: the separator defaults to one space (llama.cpp does not split on runs of whitespace). */
static jv split(jrt *rt, const jargs *a, bool from_right) {
    jbi_need(rt, a, 1, 3);
    jv in = jbi_arg(rt, a, 0);
    if (in.t != JT_STR) {
        jerr(rt, "%s() applies to a string, got %s", jbi_fname(a), jv_type_name(in));
    }
    const jstr *d = a->n > 1 ? jv_as_string(rt, a->v[1]) : js_cstr(rt, " ");
    if (d->len == 0) {
        jerr(rt, "%s(): empty separator", jbi_fname(a));
    }
    int64_t maxsplit = a->n > 2 ? jv_as_int(rt, a->v[2]) : -1;
    jarr *out = jarr_new(rt, 4);
    const char *p = in.u.s->p;
    size_t len = in.u.s->len;
    while (maxsplit != 0) {
        jstep(rt);
        const char *hit = from_right ? rfind_bytes(p, len, d->p, d->len) : jbi_find_bytes(p, len, d->p, d->len);
        if (!hit) {
            break;
        }
        if (from_right) {
            size_t at = (size_t)(hit - p);
            jarr_push(rt, out, jv_str(js_new(rt, hit + d->len, len - at - d->len)));
            len = at;
        } else {
            jarr_push(rt, out, jv_str(js_new(rt, p, (size_t)(hit - p))));
            len -= (size_t)(hit - p) + d->len;
            p = hit + d->len;
        }
        maxsplit--;
    }
    jarr_push(rt, out, jv_str(js_new(rt, p, len)));
    if (from_right) {
        for (size_t i = 0, j = out->n - 1; i < j; i++, j--) {
            jv t = out->v[i];
            out->v[i] = out->v[j];
            out->v[j] = t;
        }
    }
    return jv_array(out);
}

static jv b_str_split(jrt *rt, const jargs *a) {
    return split(rt, a, false);
}

static jv b_str_rsplit(jrt *rt, const jargs *a) {
    return split(rt, a, true);
}

static jv b_str_replace(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 3, 999);
    jbi_need_kind(rt, a, 0, K_STR);
    jbi_need_kind(rt, a, 1, K_STR);
    jbi_need_kind(rt, a, 2, K_STR);
    const jstr *s = a->v[0].u.s, *old = a->v[1].u.s, *rep = a->v[2].u.s;
    int64_t count = a->n > 3 ? jv_as_int(rt, a->v[3]) : -1;
    if (count > 0) {
        jerr(rt, "unsupported: replace() with a count");
    }
    if (js_cmp(old, rep) == 0) {
        return jv_str(js_new(rt, s->p, s->len));
    }
    jbuf b;
    jb_init(&b, rt);
    if (old->len == 0) {
        jb_cat(&b, rep->p, rep->len);
        for (size_t i = 0; i < s->len; i++) {
            jstep(rt);
            jb_cat(&b, s->p + i, 1);
            jb_cat(&b, rep->p, rep->len);
        }
    } else {
        size_t i = 0;
        while (i < s->len) {
            const char *hit = jbi_find_bytes(s->p + i, s->len - i, old->p, old->len);
            if (!hit) {
                break;
            }
            jstep(rt);
            size_t at = (size_t)(hit - s->p);
            jb_cat(&b, s->p + i, at - i);
            jb_cat(&b, rep->p, rep->len);
            i = at + old->len;
        }
        jb_cat(&b, s->p + i, s->len - i);
    }
    b.nb = 0;
    return jv_str(jb_done(&b));
}

/* "...{}...".format(a, b): only bare {} placeholders, as llama.cpp. */
static jv b_str_format(jrt *rt, const jargs *a) {
    jv in = jbi_arg(rt, a, 0);
    if (in.t != JT_STR) {
        jerr(rt, "format() applies to a string, got %s", jv_type_name(in));
    }
    const jstr *s = in.u.s;
    jbuf b;
    jb_init(&b, rt);
    size_t lit = 0, next_arg = 1;
    for (size_t i = 0; i < s->len; i++) {
        if (s->p[i] != '{') {
            continue;
        }
        if (i + 1 >= s->len || s->p[i + 1] != '}') {
            jerr(rt, "unsupported: format() only takes {} placeholders");
        }
        if (i > lit) {
            jb_add(&b, s->p + lit, i - lit);
        }
        jb_str(&b, jv_as_string(rt, jbi_arg(rt, a, next_arg++)));
        i++;
        lit = i + 1;
    }
    if (s->len > lit) {
        jb_add(&b, s->p + lit, s->len - lit);
    }
    return jv_str(jb_done(&b));
}

/* int(string): std::stoi semantics (leading space, sign, base prefixes, stops at the first bad character, must fit
 * in 32 bits); anything unparsable gives the default (0). */
static jv b_str_int(jrt *rt, const jargs *a) {
    jv in = jbi_arg(rt, a, 0);
    jv def = jargs_kw_or_pos(a, "default", 1);
    jv base_v = jargs_kw_or_pos(a, "base", 2);
    int64_t base = base_v.t == JT_UNDEF ? 10 : jv_as_int(rt, base_v);
    if (base != 0 && (base < 2 || base > 36)) {
        jerr(rt, "int(): base must be 0 or between 2 and 36");
    }
    if (in.t != JT_STR) {
        jerr(rt, "int() applies to a string here, got %s", jv_type_name(in));
    }
    const char *s = js_c(rt, in.u.s);
    char *end = NULL;
    errno = 0;
    long v = strtol(s, &end, (int)base);
    if (end == s || errno == ERANGE || v < INT_MIN || v > INT_MAX) {
        return jv_int(def.t == JT_UNDEF ? 0 : jv_as_int(rt, def));
    }
    return jv_int((int64_t)v);
}

static jv b_str_float(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    jv def = jargs_kw_or_pos(a, "default", 1);
    const char *s = js_c(rt, a->v[0].u.s);
    char *end = NULL;
    errno = 0;
    double v = strtod(s, &end);
    if (end == s || errno == ERANGE) {
        return jv_float(def.t == JT_UNDEF ? 0.0 : jv_as_float(rt, def));
    }
    return jv_float(v);
}

static jv b_str_string(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return a->v[0];
}

/* Python's slice bounds for a sequence of `len` items; calls `take` for each index in order. */
void jbi_slice(jrt *rt, const jargs *a, int64_t len, take_fn take, void *ud) {
    jbi_need(rt, a, 1, 4);
    jbi_need(rt, a, 2, 999);
    jbi_need_kind(rt, a, 1, K_INT);
    int64_t start, stop, step;
    if (a->n == 2) {
        start = jv_as_int(rt, a->v[1]);
        stop = jv_as_int(rt, jv_undef(NULL));
        step = 1;
    } else {
        start = jv_as_int(rt, a->v[1]);
        stop = jv_as_int(rt, a->v[2]);
        step = a->n > 3 ? jv_as_int(rt, a->v[3]) : 1;
    }
    if (step == 0) {
        jerr(rt, "slice step cannot be zero");
    }
    int64_t lo, hi;
    if (step > 0) {
        lo = start < 0 ? (len + start > 0 ? len + start : 0) : (start < len ? start : len);
        hi = stop < 0 ? (len + stop > 0 ? len + stop : 0) : (stop < len ? stop : len);
        for (int64_t i = lo; i < hi; i += step) {
            jstep(rt);
            if (i >= 0 && i < len) {
                take(rt, ud, i);
            }
            if (i > INT64_MAX - step) {
                break;
            }
        }
    } else {
        lo = start < 0 ? (len + start > 0 ? len + start : 0) : (start < len - 1 ? start : len - 1);
        hi = stop < -1 ? (len + stop > -1 ? len + stop : -1) : (stop < len - 1 ? stop : len - 1);
        for (int64_t i = lo; i > hi; i += step) {
            jstep(rt);
            if (i >= 0 && i < len) {
                take(rt, ud, i);
            }
            if (i < INT64_MIN - step) {
                break;
            }
        }
    }
}

typedef struct str_slice {
    jbuf out;
    const jstr *s;
} str_slice;

static void take_str_byte(jrt *rt, void *ud, int64_t i) {
    str_slice *ss = ud;
    (void)rt;
    jb_cat(&ss->out, ss->s->p + i, 1);
}

static jv b_str_slice(jrt *rt, const jargs *a) {
    jbi_need_kind(rt, a, 0, K_STR);
    str_slice ss;
    jb_init(&ss.out, rt);
    ss.s = a->v[0].u.s;
    jbi_slice(rt, a, (int64_t)ss.s->len, take_str_byte, &ss);
    return jv_str(jb_done(&ss.out));
}

static jv b_str_safe(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return a->v[0];
}

/* indent(width=4, first=false, blank=false), line by line as std::getline splits. */
static jv b_str_indent(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 4);
    jv in = jbi_arg(rt, a, 0);
    jv width = jargs_kw_or_pos(a, "width", 1);
    bool first = jv_truthy(rt, jargs_kw_or_pos(a, "first", 2));
    bool blank = jv_truthy(rt, jargs_kw_or_pos(a, "blank", 3));
    if (in.t != JT_STR) {
        jerr(rt, "indent() applies to a string, got %s", jv_type_name(in));
    }
    const jstr *ind;
    if (width.t == JT_INT) {
        if (width.u.i < 0 || (uint64_t)width.u.i > rt->max_output) {
            jerr(rt, "indent(): width %lld is out of range", (long long)width.u.i);
        }
        char *sp = ja_alloc(&rt->arena, (size_t)width.u.i + 1);
        memset(sp, ' ', (size_t)width.u.i);
        ind = js_new(rt, sp, (size_t)width.u.i);
    } else if (width.t == JT_STR) {
        ind = width.u.s;
    } else {
        ind = js_cstr(rt, "    ");
    }
    const jstr *s = in.u.s;
    jbuf b;
    jb_init(&b, rt);
    size_t i = 0;
    while (i < s->len) {
        jstep(rt);
        const char *nl = memchr(s->p + i, '\n', s->len - i);
        size_t end = nl ? (size_t)(nl - s->p) : s->len;
        if (b.len) {
            jb_cat(&b, "\n", 1);
        }
        if (b.len == 0 ? first : (end > i || blank)) {
            jb_cat(&b, ind->p, ind->len);
        }
        jb_cat(&b, s->p + i, end - i);
        i = nl ? end + 1 : end;
    }
    if (s->len && s->p[s->len - 1] == '\n') {
        jb_cat(&b, "\n", 1);
        if (blank) {
            jb_cat(&b, ind->p, ind->len);
        }
    }
    b.nb = 0;
    return jv_str(jb_done(&b));
}

const jbi jinja_str_methods[] = {
    { "capitalize", b_str_capitalize },
    { "default", jbi_default },
    { "endswith", b_str_endswith },
    { "float", b_str_float },
    { "format", b_str_format },
    { "indent", b_str_indent },
    { "int", b_str_int },
    { "join", jbi_not_implemented },
    { "length", b_str_length },
    { "lower", b_str_lower },
    { "lstrip", b_str_lstrip },
    { "replace", b_str_replace },
    { "rsplit", b_str_rsplit },
    { "rstrip", b_str_rstrip },
    { "safe", b_str_safe },
    { "slice", b_str_slice },
    { "split", b_str_split },
    { "startswith", b_str_startswith },
    { "string", b_str_string },
    { "strip", b_str_strip },
    { "title", b_str_title },
    { "tojson", jbi_tojson },
    { "upper", b_str_upper },
    { NULL, NULL },
};
