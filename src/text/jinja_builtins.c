/*
 * jinja_builtins.c - finding a built-in: the tables by type, the tests, the global functions, and the built-ins of
 * numbers, booleans, none and undefined.
 *
 * As in llama.cpp, a filter and a method are the same thing: `x | upper` and `x.upper()` both look `upper` up in the
 * table of x's type and call it with x first. Each function checks its arguments the way llama.cpp does, so a call
 * llama.cpp rejects is an error here too, and one it accepts gives the same result; what llama.cpp leaves
 * unimplemented (join on a string, unique, replace with a count, ...) is an error naming it.
 */
#include "text/jinja_builtins.h"

#include <string.h>

static const char *kind_name(kind k) {
    static const char *names[] = { "a string", "an integer", "a float", "a boolean", "a list", "a mapping" };
    return names[k];
}

static bool is_kind(jv v, kind k) {
    switch (k) {
    case K_STR: return v.t == JT_STR;
    case K_INT: return v.t == JT_INT;
    case K_FLOAT: return v.t == JT_FLOAT;
    case K_BOOL: return v.t == JT_BOOL;
    case K_ARR: return jv_is_arr(v);
    case K_OBJ: return v.t == JT_OBJECT;
    }
    return false;
}

const char *jbi_fname(const jargs *a) {
    return a->name ? a->name : "function";
}

/* The argument count (the object a method applies to included) must be in [min, max]. */
void jbi_need(jrt *rt, const jargs *a, size_t min, size_t max) {
    if (a->n < min || a->n > max) {
        jerr(rt, "'%s' got %zu arguments (counting the value it applies to), expected %zu to %zu", jbi_fname(a), a->n,
             min, max);
    }
}

void jbi_need_kind(jrt *rt, const jargs *a, size_t i, kind k) {
    if (i < a->n && !is_kind(a->v[i], k)) {
        jerr(rt, "'%s' expected %s as argument %zu, got %s", jbi_fname(a), kind_name(k), i, jv_type_name(a->v[i]));
    }
}

/* llama.cpp's ensure_vals<T>(): at least one argument, the first of type k. */
void jbi_need1(jrt *rt, const jargs *a, kind k) {
    jbi_need(rt, a, 1, 999);
    jbi_need_kind(rt, a, 0, k);
}

jv jbi_arg(jrt *rt, const jargs *a, size_t i) {
    return jargs_pos(rt, a, i);
}

jv jbi_empty_array(jrt *rt) {
    return jv_array(jarr_new(rt, 0));
}

static jv empty_string(jrt *rt) {
    return jv_str(js_new(rt, "", 0));
}

bool jbi_is_space(unsigned char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

/* ---- shared by several types ---- */

jv jbi_default(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 3);
    bool check_bool = jv_truthy(rt, jargs_kw_or_pos(a, "boolean", 2));
    jv v = a->v[0];
    bool missing = check_bool ? !jv_truthy(rt, v) : (v.t == JT_UNDEF || v.t == JT_NONE);
    return missing ? a->v[1] : v;
}

jv jbi_tojson(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 5);
    jstat_use_deep(rt, a->v[0]);
    jv ascii = jargs_kw_or_pos(a, "ensure_ascii", 1);
    jv indent_v = jargs_kw_or_pos(a, "indent", 2);
    jv seps = jargs_kw_or_pos(a, "separators", 3);
    jv sort = jargs_kw_or_pos(a, "sort_keys", 4);
    int indent = -1;
    if (indent_v.t == JT_INT) {
        indent = (int)(int32_t)(uint32_t)(uint64_t)indent_v.u.i;
    }
    if (jv_truthy(rt, sort)) {
        jerr(rt, "tojson(sort_keys=true) is not supported");
    }
    bool ensure_ascii = jv_truthy(rt, ascii);
    const jstr *item_sep = js_cstr(rt, indent < 0 ? ", " : ",");
    const jstr *key_sep = js_cstr(rt, ": ");
    if (jv_is_arr(seps)) {
        if (seps.u.a->n > 0) {
            item_sep = jv_as_string(rt, seps.u.a->v[0]);
        }
        if (seps.u.a->n > 1) {
            key_sep = jv_as_string(rt, seps.u.a->v[1]);
        }
    }
    return jv_str(jv_to_json(rt, jbi_arg(rt, a, 0), indent, item_sep, key_sep, ensure_ascii));
}

static jv b_empty_string(jrt *rt, const jargs *a) {
    (void)a;
    return empty_string(rt);
}

static jv b_empty_array(jrt *rt, const jargs *a) {
    (void)a;
    return jbi_empty_array(rt);
}

static jv b_undefined(jrt *rt, const jargs *a) {
    (void)rt;
    (void)a;
    return jv_undef(NULL);
}

static jv b_zero(jrt *rt, const jargs *a) {
    (void)rt;
    (void)a;
    return jv_int(0);
}

static jv b_none_string(jrt *rt, const jargs *a) {
    (void)a;
    return jv_str(js_cstr(rt, "None"));
}

static JNORETURN void not_implemented(jrt *rt, const jargs *a) {
    jerr(rt, "unsupported: '%s' is not implemented for %s", jbi_fname(a), a->n ? jv_type_name(a->v[0]) : "a value");
}

jv jbi_not_implemented(jrt *rt, const jargs *a) {
    not_implemented(rt, a);
}

/* ---- numbers and booleans ---- */

static jv b_int_abs(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_INT);
    int64_t v = a->v[0].u.i;
    return jv_int(v < 0 ? (int64_t)(0u - (uint64_t)v) : v);
}

static jv b_int_int(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_INT);
    return a->v[0];
}

static jv b_int_float(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_INT);
    return jv_float((double)a->v[0].u.i);
}

static jv b_float_abs(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_FLOAT);
    double v = a->v[0].u.f;
    return jv_float(v < 0.0 ? -v : v);
}

static jv b_float_int(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_FLOAT);
    return jv_int(jinja_f2i(a->v[0].u.f));
}

static jv b_float_float(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_FLOAT);
    return a->v[0];
}

static jv b_bool_int(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_BOOL);
    return jv_int(a->v[0].u.b ? 1 : 0);
}

static jv b_bool_float(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_BOOL);
    return jv_float(a->v[0].u.b ? 1.0 : 0.0);
}

static jv b_bool_string(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_BOOL);
    return jv_str(js_cstr(rt, a->v[0].u.b ? "True" : "False"));
}

static const jbi int_methods[] = {
    { "abs", b_int_abs },   { "default", jbi_default }, { "float", b_int_float }, { "int", b_int_int },
    { "safe", jbi_tojson }, { "string", jbi_tojson },   { "tojson", jbi_tojson }, { NULL, NULL },
};

static const jbi float_methods[] = {
    { "abs", b_float_abs }, { "default", jbi_default }, { "float", b_float_float }, { "int", b_float_int },
    { "safe", jbi_tojson }, { "string", jbi_tojson },   { "tojson", jbi_tojson },   { NULL, NULL },
};

static const jbi bool_methods[] = {
    { "default", jbi_default },  { "float", b_bool_float }, { "int", b_bool_int }, { "safe", b_bool_string },
    { "string", b_bool_string }, { "tojson", jbi_tojson },  { NULL, NULL },
};

static const jbi none_methods[] = {
    { "default", jbi_default },  { "items", b_empty_array },      { "map", b_empty_array },
    { "reject", b_empty_array }, { "rejectattr", b_empty_array }, { "safe", b_none_string },
    { "select", b_empty_array }, { "selectattr", b_empty_array }, { "string", b_none_string },
    { "tojson", jbi_tojson },    { "unique", b_empty_array },     { NULL, NULL },
};

static const jbi undef_methods[] = {
    { "capitalize", b_empty_string },
    { "default", jbi_default },
    { "first", b_undefined },
    { "items", b_empty_array },
    { "join", b_empty_string },
    { "last", b_undefined },
    { "length", b_zero },
    { "list", b_empty_array },
    { "lower", b_empty_string },
    { "map", b_empty_array },
    { "max", b_undefined },
    { "min", b_undefined },
    { "reject", b_empty_array },
    { "rejectattr", b_empty_array },
    { "replace", b_empty_string },
    { "reverse", b_empty_array },
    { "safe", b_empty_string },
    { "select", b_empty_array },
    { "selectattr", b_empty_array },
    { "sort", b_empty_array },
    { "string", b_empty_string },
    { "strip", b_empty_string },
    { "sum", b_zero },
    { "title", b_empty_string },
    { "truncate", b_empty_string },
    { "unique", b_empty_array },
    { "upper", b_empty_string },
    { "wordcount", b_zero },
    { NULL, NULL },
};

static const jbi *find(const jbi *table, const char *name, size_t len) {
    for (; table->name; table++) {
        if (strlen(table->name) == len && memcmp(table->name, name, len) == 0) {
            return table;
        }
    }
    return NULL;
}

jv jinja_builtin_method(jrt *rt, jv self, const char *name, size_t len, bool *found) {
    const jbi *table = NULL;
    switch (self.t) {
    case JT_UNDEF: table = undef_methods; break;
    case JT_NONE: table = none_methods; break;
    case JT_BOOL: table = bool_methods; break;
    case JT_INT: table = int_methods; break;
    case JT_FLOAT: table = float_methods; break;
    case JT_STR: table = jinja_str_methods; break;
    case JT_ARRAY:
    case JT_TUPLE: table = jinja_list_methods; break;
    case JT_OBJECT: table = self.u.o->builtins ? jinja_map_methods : NULL; break;
    case JT_FUNC:
    case JT_KWARG: jerr(rt, "%s has no attributes, methods or filters", jv_type_name(self));
    }
    const jbi *b = table ? find(table, name, len) : NULL;
    *found = b != NULL;
    if (!b) {
        return jv_undef(NULL);
    }
    jfunc *f = ja_alloc(&rt->arena, sizeof *f);
    f->kind = JF_BUILTIN;
    f->name = b->name;
    f->fn = b->fn;
    f->has_self = true;
    f->self = self;
    jv v = { JT_FUNC, { .fn = f } };
    return v;
}

/* ---- tests ---- */

static jv t_type(jrt *rt, const jargs *a, bool ok) {
    jbi_need(rt, a, 1, 999);
    return jv_bool(ok);
}

static jv t_boolean(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_BOOL);
}
static jv t_callable(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_FUNC);
}
static jv t_string(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_STR);
}
static jv t_integer(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_INT);
}
static jv t_float(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_FLOAT);
}
static jv t_number(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && jv_is_num(a->v[0]));
}
static jv t_iterable(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && (jv_is_arr(a->v[0]) || a->v[0].t == JT_STR || a->v[0].t == JT_UNDEF));
}
static jv t_mapping(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_OBJECT);
}
static jv t_none(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_NONE);
}
static jv t_defined(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t != JT_UNDEF);
}
static jv t_undefined(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_UNDEF);
}
static jv t_false(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_BOOL && !a->v[0].u.b);
}
static jv t_true(jrt *rt, const jargs *a) {
    return t_type(rt, a, a->n && a->v[0].t == JT_BOOL && a->v[0].u.b);
}

static jv t_odd(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_INT);
    return jv_bool(a->v[0].u.i % 2 != 0);
}

static jv t_even(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_INT);
    return jv_bool(a->v[0].u.i % 2 == 0);
}

static jv t_divisibleby(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jbi_need_kind(rt, a, 0, K_INT);
    jbi_need_kind(rt, a, 1, K_INT);
    int64_t d = a->v[1].u.i;
    if (d == 0) {
        jerr(rt, "divisibleby(0): division by zero");
    }
    if (d == -1) {
        return jv_bool(true);
    }
    return jv_bool(d != 0 && a->v[0].u.i % d == 0);
}

static bool all_case(const jstr *s, bool want_upper) {
    for (size_t i = 0; i < s->len; i++) {
        char c = s->p[i];
        if (want_upper ? (c >= 'a' && c <= 'z') : (c >= 'A' && c <= 'Z')) {
            return false;
        }
    }
    return true;
}

static jv t_lower(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return jv_bool(all_case(a->v[0].u.s, false));
}

static jv t_upper(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return jv_bool(all_case(a->v[0].u.s, true));
}

static jv t_compare(jrt *rt, const jargs *a, jcmp op) {
    jbi_need(rt, a, 2, 2);
    return jv_bool(jv_compare(rt, a->v[0], a->v[1], op));
}

static jv t_eq(jrt *rt, const jargs *a) {
    return t_compare(rt, a, JC_EQ);
}
static jv t_ne(jrt *rt, const jargs *a) {
    return t_compare(rt, a, JC_NE);
}
static jv t_ge(jrt *rt, const jargs *a) {
    return t_compare(rt, a, JC_GE);
}
static jv t_gt(jrt *rt, const jargs *a) {
    return t_compare(rt, a, JC_GT);
}
static jv t_lt(jrt *rt, const jargs *a) {
    return t_compare(rt, a, JC_LT);
}

static jv t_in(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jv needle = a->v[0], hay = a->v[1];
    switch (hay.t) {
    case JT_UNDEF: return jv_bool(false);
    case JT_ARRAY:
    case JT_TUPLE:
        for (size_t i = 0; i < hay.u.a->n; i++) {
            jstep(rt);
            if (jv_equal(rt, needle, hay.u.a->v[i])) {
                return jv_bool(true);
            }
        }
        return jv_bool(false);
    case JT_STR:
        if (needle.t != JT_STR) {
            jerr(rt, "'in' a string needs a string on the left, got %s", jv_type_name(needle));
        }
        return jv_bool(needle.u.s->len == 0 ||
                       jbi_find_bytes(hay.u.s->p, hay.u.s->len, needle.u.s->p, needle.u.s->len) != NULL);
    case JT_OBJECT: {
        jv v;
        return jv_bool(jobj_get(rt, hay.u.o, needle, &v));
    }
    default: jerr(rt, "'in' needs a list, string or mapping on the right, got %s", jv_type_name(hay));
    }
}

static jv t_test(jrt *rt, const jargs *a);

static jv t_not_implemented(jrt *rt, const jargs *a) {
    jerr(rt, "unsupported: the test '%s' is not implemented", jbi_fname(a));
}

static const jbi tests[] = {
    { "boolean", t_boolean },
    { "callable", t_callable },
    { "defined", t_defined },
    { "divisibleby", t_divisibleby },
    { "eq", t_eq },
    { "equalto", t_eq },
    { "escaped", t_not_implemented },
    { "even", t_even },
    { "false", t_false },
    { "filter", t_not_implemented },
    { "float", t_float },
    { "ge", t_ge },
    { "greaterthan", t_gt },
    { "gt", t_gt },
    { "in", t_in },
    { "integer", t_integer },
    { "iterable", t_iterable },
    { "lessthan", t_lt },
    { "lower", t_lower },
    { "lt", t_lt },
    { "mapping", t_mapping },
    { "ne", t_ne },
    { "none", t_none },
    { "number", t_number },
    { "odd", t_odd },
    { "sameas", t_not_implemented },
    { "sequence", t_iterable },
    { "string", t_string },
    { "test", t_test },
    { "true", t_true },
    { "undefined", t_undefined },
    { "upper", t_upper },
    { NULL, NULL },
};

static jv t_test(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    return jv_bool(find(tests, a->v[0].u.s->p, a->v[0].u.s->len) != NULL);
}

jbuiltin_fn jinja_builtin_test(const char *name, size_t len) {
    const jbi *b = find(tests, name, len);
    return b ? b->fn : NULL;
}

/* ---- global functions ---- */

static jv g_raise_exception(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    jerr(rt, "raise_exception: %s", a->v[0].u.s->p);
}

static jv g_namespace(jrt *rt, const jargs *a) {
    jobj *o = jobj_new(rt);
    for (size_t i = 0; i < a->n; i++) {
        if (a->v[i].t != JT_KWARG) {
            jerr(rt, "namespace() takes only name=value arguments");
        }
        jobj_set(rt, o, jv_str(a->v[i].u.kw->key), a->v[i].u.kw->v);
    }
    return jv_object(o);
}

static jv g_strftime_now(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_STR);
    struct tm tm;
    time_t now = rt->now;
    char buf[100];
    /* the format is the template's: strftime only reads it */
#if defined(__GNUC__)
#    pragma GCC diagnostic push
#    pragma GCC diagnostic ignored "-Wformat-nonliteral"
#endif
    bool ok = localtime_r(&now, &tm) && strftime(buf, sizeof buf, js_c(rt, a->v[0].u.s), &tm) != 0;
#if defined(__GNUC__)
#    pragma GCC diagnostic pop
#endif
    if (!ok) {
        jerr(rt, "strftime_now: failed to format the time with '%s'", a->v[0].u.s->p);
    }
    return jv_str(js_cstr(rt, buf));
}

static jv g_range(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 3);
    jbi_need_kind(rt, a, 0, K_INT);
    int64_t start = 0, stop, step = 1;
    if (a->n == 1) {
        stop = a->v[0].u.i;
    } else {
        start = a->v[0].u.i;
        stop = jv_as_int(rt, a->v[1]);
        if (a->n == 3) {
            step = jv_as_int(rt, a->v[2]);
        }
    }
    if (step == 0) {
        jerr(rt, "range(): step must not be zero");
    }
    jarr *out = jarr_new(rt, 0);
    for (int64_t i = start; step > 0 ? i < stop : i > stop; i += step) {
        jstep(rt);
        jarr_push(rt, out, jv_int(i));
        if (step > 0 ? i > INT64_MAX - step : i < INT64_MIN - step) {
            break;
        }
    }
    return jv_array(out);
}

static const jbi globals[] = {
    { "namespace", g_namespace }, { "raise_exception", g_raise_exception },
    { "range", g_range },         { "strftime_now", g_strftime_now },
    { "tojson", jbi_tojson },     { NULL, NULL },
};

bool jinja_builtin_global(jrt *rt, const char *name, size_t len, jv *out) {
    const jbi *b = find(globals, name, len);
    if (!b && len > 8 && memcmp(name, "test_is_", 8) == 0) {
        b = find(tests, name + 8, len - 8);
    }
    if (!b) {
        return false;
    }
    jfunc *f = ja_alloc(&rt->arena, sizeof *f);
    f->kind = JF_BUILTIN;
    f->name = b->name;
    f->fn = b->fn;
    out->t = JT_FUNC;
    out->u.fn = f;
    return true;
}
