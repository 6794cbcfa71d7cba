/*
 * jinja_value.c - the values templates compute with: the arena they live in, strings that remember their pieces,
 * arrays, ordered objects, and the conversions, comparisons and repr that llama.cpp defines for them.
 *
 * Behaviour follows llama.cpp's engine exactly, quirks included (a float prints with six decimals and its trailing
 * zeros cut, 1 and true are the same object key, tojson prints floats as %g), because the rendered bytes must be
 * identical. Every recursion over a value counts its depth, so a self-containing list gives an error, not a crash.
 */
#include "text/jinja.h"

#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- arena ---- */

struct jchunk {
    struct jchunk *next;
    size_t used, cap;
    max_align_t data[];
};

#define JA_ALIGN ((size_t) _Alignof(max_align_t))
#define JA_CHUNK ((size_t)64 * 1024)

void ja_init(jarena *a, size_t limit, jfail *fail) {
    a->head = NULL;
    a->used = 0;
    a->limit = limit;
    a->fail = fail;
}

void ja_free(jarena *a) {
    struct jchunk *c = a->head;
    while (c) {
        struct jchunk *next = c->next;
        free(c);
        c = next;
    }
    a->head = NULL;
    a->used = 0;
}

static JNORETURN void ja_fail(jarena *a, llamac_status status, const char *fmt, ...) LLAMAC_PRINTF(3, 4);
static void ja_fail(jarena *a, llamac_status status, const char *fmt, ...) {
    a->fail->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(a->fail->msg, sizeof a->fail->msg, fmt, ap);
    va_end(ap);
    longjmp(a->fail->jb, 1);
}

void *ja_alloc(jarena *a, size_t size) {
    if (size > SIZE_MAX / 2) {
        ja_fail(a, LLAMAC_E_NO_MEMORY, "the template needs more memory than can be addressed (%zu bytes)", size);
    }
    size = (size + JA_ALIGN - 1) / JA_ALIGN * JA_ALIGN;
    if (size == 0) {
        size = JA_ALIGN;
    }
    if (a->limit && (a->used > a->limit || size > a->limit - a->used)) {
        ja_fail(a, LLAMAC_E_TEMPLATE, "the template needs more than %zu bytes of working memory (max_memory)",
                a->limit);
    }
    struct jchunk *c = a->head;
    if (!c || c->cap - c->used < size) {
        size_t cap = size > JA_CHUNK ? size : JA_CHUNK;
        c = malloc(sizeof *c + cap);
        if (!c) {
            ja_fail(a, LLAMAC_E_NO_MEMORY, "out of memory allocating %zu bytes for the template", cap);
        }
        c->used = 0;
        c->cap = cap;
        if (a->head && size > JA_CHUNK) {
            /* a big block gets a chunk of its own behind the current one, which stays in use */
            c->next = a->head->next;
            a->head->next = c;
        } else {
            c->next = a->head;
            a->head = c;
        }
    }
    void *p = (unsigned char *)c->data + c->used;
    c->used += size;
    a->used += size;
    memset(p, 0, size);
    return p;
}

void *ja_grow(jarena *a, const void *old, size_t n, size_t cap, size_t size) {
    if (cap && size > SIZE_MAX / 4 / cap) {
        ja_fail(a, LLAMAC_E_NO_MEMORY, "the template needs more memory than can be addressed (%zu elements)", cap);
    }
    void *p = ja_alloc(a, cap * size);
    if (n) {
        memcpy(p, old, n * size);
    }
    return p;
}

/* ---- errors ---- */

void jinja_fail_at(jfail *f, const char *src, size_t src_len, size_t pos, const char *fmt, va_list ap) {
    size_t line = 1, col = 1;
    for (size_t i = 0; i < pos && i < src_len; i++) {
        if (src[i] == '\n') {
            line++;
            col = 1;
        } else {
            col++;
        }
    }
    int w = snprintf(f->msg, sizeof f->msg, "line %zu, column %zu: ", line, col);
    size_t at = w < 0 ? 0 : (size_t)w < sizeof f->msg ? (size_t)w : sizeof f->msg - 1;
    vsnprintf(f->msg + at, sizeof f->msg - at, fmt, ap);
    f->status = LLAMAC_E_TEMPLATE;
    longjmp(f->jb, 1);
}

static JNORETURN void jerr_va(jrt *rt, size_t pos, const char *fmt, va_list ap) LLAMAC_PRINTF(3, 0);
static void jerr_va(jrt *rt, size_t pos, const char *fmt, va_list ap) {
    jinja_fail_at(rt->fail, rt->src, rt->src_len, pos, fmt, ap);
}

void jerr_at(jrt *rt, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jerr_va(rt, pos, fmt, ap);
    va_end(ap); /* not reached */
}

void jerr(jrt *rt, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jerr_va(rt, rt->pos, fmt, ap);
    va_end(ap); /* not reached */
}

void jstep(jrt *rt) {
    if (++rt->steps > rt->max_steps) {
        jerr(rt, "the template did not finish within %" PRIu64 " steps (max_steps)", rt->max_steps);
    }
}

const char *jv_type_name(jv v) {
    switch (v.t) {
    case JT_UNDEF: return "an undefined value";
    case JT_NONE: return "none";
    case JT_BOOL: return "a boolean";
    case JT_INT: return "an integer";
    case JT_FLOAT: return "a float";
    case JT_STR: return "a string";
    case JT_ARRAY: return "a list";
    case JT_TUPLE: return "a tuple";
    case JT_OBJECT: return "a mapping";
    case JT_FUNC: return "a function";
    case JT_KWARG: return "a keyword argument";
    }
    return "?";
}

/* ---- strings ---- */

void jb_init(jbuf *b, jrt *rt) {
    memset(b, 0, sizeof *b);
    b->rt = rt;
}

static void jb_reserve(jbuf *b, size_t n) {
    if (n > b->rt->max_output || b->len > b->rt->max_output - n) {
        jerr(b->rt, "a string or the output exceeds the limit of %zu bytes (max_output)", b->rt->max_output);
    }
    size_t need = b->len + n + 1;
    if (need <= b->cap) {
        return;
    }
    size_t cap = b->cap ? b->cap * 2 : 64;
    while (cap < need) {
        cap *= 2;
    }
    b->p = ja_grow(&b->rt->arena, b->p, b->len, cap, 1);
    b->cap = cap;
}

static void jb_mark(jbuf *b, size_t at) {
    if (at == 0 || (b->nb && b->b[b->nb - 1] >= at)) {
        return;
    }
    if (b->nb == b->bcap) {
        size_t cap = b->bcap ? b->bcap * 2 : 8;
        b->b = ja_grow(&b->rt->arena, b->b, b->nb, cap, sizeof *b->b);
        b->bcap = cap;
    }
    b->b[b->nb++] = at;
}

void jb_cat(jbuf *b, const char *s, size_t n) {
    jb_reserve(b, n);
    if (n) {
        memcpy(b->p + b->len, s, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
}

void jb_cats(jbuf *b, const char *s) {
    jb_cat(b, s, strlen(s));
}

void jb_add(jbuf *b, const char *s, size_t n) {
    jb_mark(b, b->len);
    jb_cat(b, s, n);
}

void jb_str(jbuf *b, const jstr *s) {
    size_t base = b->len;
    jb_reserve(b, s->len);
    jb_mark(b, base);
    for (size_t i = 0; i < s->nb; i++) {
        jb_mark(b, base + s->b[i]);
    }
    jb_cat(b, s->p, s->len);
}

void jb_printf(jbuf *b, const char *fmt, ...) {
    char tmp[128];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof tmp, fmt, ap);
    va_end(ap);
    jb_cat(b, tmp, n < 0 ? 0 : ((size_t)n < sizeof tmp ? (size_t)n : sizeof tmp - 1));
}

const jstr *jb_done(jbuf *b) {
    jstr *s = ja_alloc(&b->rt->arena, sizeof *s);
    if (!b->p) {
        jb_reserve(b, 0);
    }
    while (b->nb && b->b[b->nb - 1] >= b->len) {
        b->nb--;
    }
    s->p = b->p;
    s->len = b->len;
    s->b = b->b;
    s->nb = b->nb;
    return s;
}

void jb_insert(jbuf *b, size_t at, const jstr *s) {
    jb_reserve(b, s->len);
    size_t n = s->len, old_len = b->len;
    memmove(b->p + at + n, b->p + at, old_len - at);
    if (n) {
        memcpy(b->p + at, s->p, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    /* pieces: those before `at`, a boundary at `at`, the inserted string's, one after it, the rest shifted */
    size_t cap = b->nb + s->nb + 2;
    size_t *nbv = ja_grow(&b->rt->arena, NULL, 0, cap, sizeof *nbv);
    size_t k = 0, i = 0;
#define PUSH(x)                                                                                                        \
    do {                                                                                                               \
        size_t x_ = (x);                                                                                               \
        if (x_ > 0 && x_ < b->len && (k == 0 || nbv[k - 1] < x_)) {                                                    \
            nbv[k++] = x_;                                                                                             \
        }                                                                                                              \
    } while (0)
    for (; i < b->nb && b->b[i] < at; i++) {
        PUSH(b->b[i]);
    }
    PUSH(at);
    for (size_t j = 0; j < s->nb; j++) {
        PUSH(at + s->b[j]);
    }
    PUSH(at + n);
    for (; i < b->nb; i++) {
        PUSH(b->b[i] + n);
    }
#undef PUSH
    b->b = nbv;
    b->nb = k;
    b->bcap = cap;
}

const jstr *js_new(jrt *rt, const char *p, size_t n) {
    if (n > rt->max_output) {
        jerr(rt, "a string exceeds the limit of %zu bytes (max_output)", rt->max_output);
    }
    jstr *s = ja_alloc(&rt->arena, sizeof *s + n + 1);
    char *d = (char *)(s + 1);
    if (n) {
        memcpy(d, p, n);
    }
    d[n] = '\0';
    s->p = d;
    s->len = n;
    return s;
}

const jstr *js_cstr(jrt *rt, const char *s) {
    return js_new(rt, s, strlen(s));
}

const jstr *js_concat(jrt *rt, const jstr *a, const jstr *b) {
    jbuf buf;
    jb_init(&buf, rt);
    jb_reserve(&buf, a->len + b->len);
    jb_str(&buf, a);
    jb_str(&buf, b);
    return jb_done(&buf);
}

bool js_eq(const jstr *a, const char *s, size_t n) {
    return a->len == n && (n == 0 || memcmp(a->p, s, n) == 0);
}

bool js_eqs(const jstr *a, const char *s) {
    return js_eq(a, s, strlen(s));
}

int js_cmp(const jstr *a, const jstr *b) {
    size_t n = a->len < b->len ? a->len : b->len;
    int c = n ? memcmp(a->p, b->p, n) : 0;
    if (c != 0) {
        return c;
    }
    return a->len < b->len ? -1 : (a->len > b->len ? 1 : 0);
}

const char *js_c(jrt *rt, const jstr *s) {
    (void)rt;
    return s->p; /* every string keeps a NUL after its bytes */
}

/* ---- arrays and objects ---- */

jarr *jarr_new(jrt *rt, size_t cap) {
    jarr *a = ja_alloc(&rt->arena, sizeof *a);
    if (cap) {
        a->v = ja_grow(&rt->arena, NULL, 0, cap, sizeof *a->v);
        a->cap = cap;
    }
    return a;
}

void jarr_push(jrt *rt, jarr *a, jv v) {
    if (a->n == a->cap) {
        size_t cap = a->cap ? a->cap * 2 : 4;
        a->v = ja_grow(&rt->arena, a->v, a->n, cap, sizeof *a->v);
        a->cap = cap;
    }
    a->v[a->n++] = v;
}

jv jv_array(jarr *a) {
    jv v = { JT_ARRAY, { .a = a } };
    return v;
}

jv jv_tuple(jarr *a) {
    jv v = { JT_TUPLE, { .a = a } };
    return v;
}

jobj *jobj_new(jrt *rt) {
    jobj *o = ja_alloc(&rt->arena, sizeof *o);
    o->builtins = true;
    return o;
}

jv jv_object(jobj *o) {
    jv v = { JT_OBJECT, { .o = o } };
    return v;
}

static void check_key(jrt *rt, jv key) {
    if (!jv_immutable(key) || !jv_hashable(key)) {
        jerr(rt, "%s cannot be an object key (unhashable type)", jv_type_name(key));
    }
}

static bool find_key(jrt *rt, const jobj *o, jv key, size_t *at) {
    for (size_t i = 0; i < o->n; i++) {
        if (o->k[i].t == JT_STR && key.t == JT_STR) {
            if (o->k[i].u.s->len == key.u.s->len &&
                (key.u.s->len == 0 || memcmp(o->k[i].u.s->p, key.u.s->p, key.u.s->len) == 0)) {
                *at = i;
                return true;
            }
            continue;
        }
        if (jv_equal(rt, o->k[i], key)) {
            *at = i;
            return true;
        }
    }
    return false;
}

void jobj_set(jrt *rt, jobj *o, jv key, jv val) {
    check_key(rt, key);
    size_t at;
    if (find_key(rt, o, key, &at)) {
        o->v[at] = val;
        return;
    }
    if (o->n == o->cap) {
        size_t cap = o->cap ? o->cap * 2 : 4;
        o->k = ja_grow(&rt->arena, o->k, o->n, cap, sizeof *o->k);
        o->v = ja_grow(&rt->arena, o->v, o->n, cap, sizeof *o->v);
        o->cap = cap;
    }
    o->k[o->n] = key;
    o->v[o->n] = val;
    o->n++;
}

void jobj_set_s(jrt *rt, jobj *o, const char *key, jv val) {
    jobj_set(rt, o, jv_str(js_cstr(rt, key)), val);
}

bool jobj_get(jrt *rt, const jobj *o, jv key, jv *out) {
    check_key(rt, key);
    size_t at;
    if (!find_key(rt, o, key, &at)) {
        return false;
    }
    *out = o->v[at];
    return true;
}

bool jobj_get_s(jrt *rt, const jobj *o, const char *key, jv *out) {
    size_t n = strlen(key);
    for (size_t i = 0; i < o->n; i++) {
        if (o->k[i].t == JT_STR && js_eq(o->k[i].u.s, key, n)) {
            *out = o->v[i];
            return true;
        }
    }
    (void)rt;
    return false;
}

/* ---- numbers ---- */

/* What x86-64 gives for a double that does not fit in int64_t (the value llama.cpp's casts produce). */
static int64_t f2i(double d) {
    if (isnan(d) || d >= 9223372036854775808.0 || d < -9223372036854775808.0) {
        return INT64_MIN;
    }
    return (int64_t)d;
}

/* An integer's float value: exact, or +-infinity when the double cannot hold it exactly (as llama.cpp stores it). */
static double int_flt(int64_t i) {
    double d = (double)i;
    if (d >= 9223372036854775808.0 || d < -9223372036854775808.0 || (int64_t)d != i) {
        return i < 0 ? -INFINITY : INFINITY;
    }
    return d;
}

/* A float's integer value: truncated, 0 when not finite. */
static int64_t flt_int(double f) {
    return isfinite(f) ? f2i(f) : 0;
}

static bool numeric_like(jv v) {
    return v.t == JT_INT || v.t == JT_FLOAT || v.t == JT_BOOL;
}

static int64_t vint(jv v) {
    return v.t == JT_INT ? v.u.i : v.t == JT_FLOAT ? flt_int(v.u.f) : (v.u.b ? 1 : 0);
}

static double vflt(jv v) {
    return v.t == JT_INT ? int_flt(v.u.i) : v.t == JT_FLOAT ? v.u.f : (v.u.b ? 1.0 : 0.0);
}

double jv_as_float(jrt *rt, jv v) {
    if (!numeric_like(v)) {
        jerr(rt, "%s is not a float value", jv_type_name(v));
    }
    return vflt(v);
}

int64_t jv_as_int(jrt *rt, jv v) {
    if (!numeric_like(v)) {
        jerr(rt, "%s is not an int value", jv_type_name(v));
    }
    return vint(v);
}

int64_t jinja_f2i(double d) {
    return f2i(d);
}

bool jv_truthy(jrt *rt, jv v) {
    switch (v.t) {
    case JT_UNDEF:
    case JT_NONE: return false;
    case JT_BOOL: return v.u.b;
    case JT_INT: return v.u.i != 0;
    case JT_FLOAT: return v.u.f != 0.0;
    case JT_STR: return v.u.s->len > 0;
    case JT_ARRAY:
    case JT_TUPLE: return v.u.a->n > 0;
    case JT_OBJECT: return v.u.o->n > 0;
    case JT_FUNC:
    case JT_KWARG: break;
    }
    jerr(rt, "%s has no truth value", jv_type_name(v));
}

/* Fixes a locale's decimal comma: printf output of a double has no other comma. */
void jinja_fix_decimal_point(char *s) {
    for (; *s; s++) {
        if (*s == ',') {
            *s = '.';
        }
    }
}

/* str() of a float: std::to_string ("%f"), trailing zeros removed, one kept after the point. */
static void float_str(jbuf *b, double f) {
    char tmp[400];
    snprintf(tmp, sizeof tmp, "%f", f);
    jinja_fix_decimal_point(tmp);
    size_t n = strlen(tmp);
    while (n > 0 && tmp[n - 1] == '0') {
        n--;
    }
    if (n == 0) {
        /* only zeros: std::string::npos + 1 keeps nothing */
        jb_cat(b, "", 0);
        return;
    }
    jb_cat(b, tmp, n);
    if (tmp[n - 1] == '.') {
        jb_cat(b, "0", 1);
    }
}

static void as_string_into(jbuf *b, jv v) {
    switch (v.t) {
    case JT_INT: jb_printf(b, "%" PRId64, v.u.i); return;
    case JT_FLOAT: float_str(b, v.u.f); return;
    case JT_BOOL: jb_cats(b, v.u.b ? "True" : "False"); return;
    case JT_NONE: jb_cats(b, "None"); return;
    case JT_STR: jb_str(b, v.u.s); return;
    case JT_ARRAY:
    case JT_TUPLE:
    case JT_OBJECT: jv_repr(b, v, 0); return;
    case JT_UNDEF:
        if (v.u.hint) {
            jerr(b->rt, "'%s' is undefined (used as a string)", v.u.hint);
        }
        jerr(b->rt, "an undefined value is used as a string");
    case JT_FUNC:
    case JT_KWARG: break;
    }
    jerr(b->rt, "%s cannot be used as a string", jv_type_name(v));
}

const jstr *jv_as_string(jrt *rt, jv v) {
    if (v.t == JT_STR) {
        return v.u.s;
    }
    jbuf b;
    jb_init(&b, rt);
    as_string_into(&b, v);
    return jb_done(&b);
}

void jv_depth_check(jrt *rt, int depth) {
    if (depth > JINJA_MAX_VALUE_DEPTH) {
        jerr(rt, "a value is nested more than %d levels deep (or contains itself)", JINJA_MAX_VALUE_DEPTH);
    }
}

/* as_repr() of llama.cpp's values: how a value shows inside a list, or as a bound method's object. */
static void as_repr(jbuf *b, jv v, int depth) {
    switch (v.t) {
    case JT_STR: {
        /* a string shows its pieces, one line each */
        const jstr *s = v.u.s;
        size_t start = 0;
        for (size_t i = 0; i <= s->nb; i++) {
            size_t end = i < s->nb ? s->b[i] : s->len;
            jb_cats(b, "TMPL:  ");
            jb_cat(b, s->p + start, end - start);
            jb_cats(b, "\n");
            start = end;
        }
        return;
    }
    case JT_UNDEF:
        if (v.u.hint) {
            jb_cats(b, "Undefined (hint: '");
            jb_cats(b, v.u.hint);
            jb_cats(b, "')");
        } else {
            jb_cats(b, "Undefined");
        }
        return;
    case JT_FUNC:
        jb_cats(b, "Function<");
        jb_cats(b, v.u.fn->name ? v.u.fn->name : "");
        jb_cats(b, ">(");
        if (v.u.fn->has_self) {
            jv_depth_check(b->rt, depth + 1);
            as_repr(b, v.u.fn->self, depth + 1);
        }
        jb_cats(b, ")");
        return;
    case JT_KWARG: jb_cats(b, "KwArg"); return;
    case JT_ARRAY:
    case JT_TUPLE: {
        jv_depth_check(b->rt, depth + 1);
        bool tuple = v.t == JT_TUPLE;
        jb_cats(b, tuple ? "(" : "[");
        for (size_t i = 0; i < v.u.a->n; i++) {
            if (i) {
                jb_cats(b, ", ");
            }
            jv_repr(b, v.u.a->v[i], depth + 1);
        }
        if (tuple && v.u.a->n == 1) {
            jb_cats(b, ",");
        }
        jb_cats(b, tuple ? ")" : "]");
        return;
    }
    case JT_OBJECT:
        jv_depth_check(b->rt, depth + 1);
        jb_cats(b, "{");
        for (size_t i = 0; i < v.u.o->n; i++) {
            if (i) {
                jb_cats(b, ", ");
            }
            jv_repr(b, v.u.o->k[i], depth + 1);
            jb_cats(b, ": ");
            jv_repr(b, v.u.o->v[i], depth + 1);
        }
        jb_cats(b, "}");
        return;
    default: as_string_into(b, v); return;
    }
}

void jv_repr(jbuf *b, jv v, int depth) {
    if (v.t == JT_STR) {
        const jstr *s = v.u.s;
        if (s->len && memchr(s->p, '\'', s->len)) {
            jv_json_string(b, s->p, s->len);
        } else {
            jb_cats(b, "'");
            jb_cat(b, s->p, s->len);
            jb_cats(b, "'");
        }
        return;
    }
    as_repr(b, v, depth);
}

/* ---- equality and hashing ---- */

bool jv_immutable(jv v) {
    return v.t != JT_ARRAY && v.t != JT_OBJECT;
}

static bool hashable_d(jv v, int depth) {
    if (depth > JINJA_MAX_VALUE_DEPTH) {
        return false;
    }
    switch (v.t) {
    case JT_UNDEF:
    case JT_FUNC: return false;
    case JT_ARRAY:
    case JT_TUPLE:
        for (size_t i = 0; i < v.u.a->n; i++) {
            if (!jv_immutable(v.u.a->v[i]) || !hashable_d(v.u.a->v[i], depth + 1)) {
                return false;
            }
        }
        return true;
    case JT_OBJECT:
        for (size_t i = 0; i < v.u.o->n; i++) {
            if (!jv_immutable(v.u.o->v[i]) || !hashable_d(v.u.o->v[i], depth + 1)) {
                return false;
            }
        }
        return true;
    default: return true;
    }
}

bool jv_hashable(jv v) {
    return hashable_d(v, 0);
}

static bool equal_d(jrt *rt, jv a, jv b, int depth) {
    jv_depth_check(rt, depth);
    switch (a.t) {
    case JT_INT:
    case JT_FLOAT:
    case JT_BOOL: return numeric_like(b) && vint(a) == vint(b) && vflt(a) == vflt(b);
    case JT_STR: return b.t == JT_STR && js_cmp(a.u.s, b.u.s) == 0;
    case JT_ARRAY:
    case JT_TUPLE:
        if (b.t != a.t || !jv_hashable(a) || !jv_hashable(b) || a.u.a->n != b.u.a->n) {
            return false;
        }
        for (size_t i = 0; i < a.u.a->n; i++) {
            if (!equal_d(rt, a.u.a->v[i], b.u.a->v[i], depth + 1)) {
                return false;
            }
        }
        return true;
    case JT_OBJECT:
        if (b.t != JT_OBJECT || !jv_hashable(a) || !jv_hashable(b) || a.u.o->n != b.u.o->n) {
            return false;
        }
        for (size_t i = 0; i < a.u.o->n; i++) {
            if (!equal_d(rt, a.u.o->k[i], b.u.o->k[i], depth + 1) ||
                !equal_d(rt, a.u.o->v[i], b.u.o->v[i], depth + 1)) {
                return false;
            }
        }
        return true;
    case JT_NONE: return b.t == JT_NONE;
    case JT_UNDEF: return b.t == JT_UNDEF;
    case JT_FUNC:
        return b.t == JT_FUNC && a.u.fn->kind == b.u.fn->kind && a.u.fn->fn == b.u.fn->fn &&
               a.u.fn->node == b.u.fn->node;
    case JT_KWARG: return b.t == JT_KWARG && a.u.kw == b.u.kw;
    }
    return false;
}

bool jv_equal(jrt *rt, jv a, jv b) {
    return equal_d(rt, a, b, 0);
}

bool jv_compare(jrt *rt, jv a, jv b, jcmp op) {
    if (jv_is_num(a) && jv_is_num(b)) {
        double x = vflt(a), y = vflt(b);
        switch (op) {
        case JC_EQ: return x == y;
        case JC_GE: return x >= y;
        case JC_GT: return x > y;
        case JC_LT: return x < y;
        case JC_NE: return x != y;
        }
    }
    if ((b.t == JT_STR && jv_is_num(a)) || (a.t == JT_STR && jv_is_num(b)) || (a.t == JT_STR && b.t == JT_STR)) {
        int c = js_cmp(jv_as_string(rt, a), jv_as_string(rt, b));
        switch (op) {
        case JC_EQ: return c == 0;
        case JC_GE: return c >= 0;
        case JC_GT: return c > 0;
        case JC_LT: return c < 0;
        case JC_NE: return c != 0;
        }
    }
    if (a.t == JT_BOOL && b.t == JT_BOOL) {
        if (op == JC_EQ) {
            return a.u.b == b.u.b;
        }
        if (op == JC_NE) {
            return a.u.b != b.u.b;
        }
        jerr(rt, "booleans can only be compared for equality");
    }
    return false;
}
