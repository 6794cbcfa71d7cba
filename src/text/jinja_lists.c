/*
 * jinja_lists.c - the methods and filters of lists and mappings: first/last/length, slicing, select/reject, map,
 * join, append/pop, sort/reverse/min/max; get/keys/values/items, dictsort.
 *
 * Lists are shared by reference (append() changes the list for everyone holding it, as in Python); sort and
 * dictsort order ties exactly as llama.cpp's std::sort does (jinja_sort.c).
 */
#include "text/jinja_builtins.h"

#include <string.h>

static jv b_arr_list(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    jarr *src = a->v[0].u.a, *out = jarr_new(rt, src->n);
    for (size_t i = 0; i < src->n; i++) {
        jarr_push(rt, out, src->v[i]);
    }
    return jv_array(out);
}

static jv b_arr_first(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    jarr *v = a->v[0].u.a;
    return v->n ? v->v[0] : jv_undef(NULL);
}

static jv b_arr_last(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    jarr *v = a->v[0].u.a;
    return v->n ? v->v[v->n - 1] : jv_undef(NULL);
}

static jv b_arr_length(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    return jv_int((int64_t)a->v[0].u.a->n);
}

typedef struct arr_slice {
    jarr *out;
    const jarr *src;
} arr_slice;

static void take_item(jrt *rt, void *ud, int64_t i) {
    arr_slice *as = ud;
    jarr_push(rt, as->out, as->src->v[i]);
}

static jv b_arr_slice(jrt *rt, const jargs *a) {
    jbi_need_kind(rt, a, 0, K_ARR);
    jbi_need(rt, a, 1, 4);
    jbi_need(rt, a, 2, 999);
    arr_slice as = { jarr_new(rt, 0), a->v[0].u.a };
    jbi_slice(rt, a, (int64_t)as.src->n, take_item, &as);
    return a->v[0].t == JT_TUPLE ? jv_tuple(as.out) : jv_array(as.out);
}

/* An item's attribute for select/map/sort: a missing key is `def`. */
static jv attr_of(jrt *rt, jv item, jv attr, jv def) {
    jv v;
    if (jobj_get(rt, item.u.o, attr, &v)) {
        return v;
    }
    return def;
}

static jv select_items(jrt *rt, const jargs *a, bool reject) {
    jbi_need(rt, a, 2, 4);
    jbi_need(rt, a, 2, 999);
    jbi_need_kind(rt, a, 0, K_ARR);
    jbi_need_kind(rt, a, 1, K_STR);
    jarr *src = a->v[0].u.a, *out = jarr_new(rt, 0);
    jv attribute = a->v[1];
    jbuiltin_fn test = NULL;
    jv test_arg = jv_undef(NULL);
    if (a->n >= 3) {
        const jstr *name = jv_as_string(rt, a->v[a->n == 3 ? 1 : 2]);
        test = jinja_builtin_test(name->p, name->len);
        if (!test) {
            jerr(rt, "%s: unknown test '%s'", jbi_fname(a), name->p);
        }
        test_arg = a->v[a->n - 1];
    }
    for (size_t i = 0; i < src->n; i++) {
        jstep(rt);
        jv item = src->v[i];
        bool keep;
        if (a->n == 3) {
            jv targs[2] = { item, test_arg };
            jargs ta = { targs, 2, a->scope, NULL };
            keep = jv_truthy(rt, test(rt, &ta));
        } else {
            if (item.t != JT_OBJECT) {
                jerr(rt, "%s: an item is %s, not a mapping", jbi_fname(a), jv_type_name(item));
            }
            jv v = attr_of(rt, item, attribute, jv_undef(NULL));
            if (a->n == 2) {
                keep = jv_truthy(rt, v);
            } else {
                jv targs[2] = { v, test_arg };
                jargs ta = { targs, 2, a->scope, NULL };
                keep = jv_truthy(rt, test(rt, &ta));
            }
        }
        if (keep != reject) {
            jarr_push(rt, out, item);
        }
    }
    return jv_array(out);
}

static jv b_arr_select(jrt *rt, const jargs *a) {
    return select_items(rt, a, false);
}

static jv b_arr_reject(jrt *rt, const jargs *a) {
    return select_items(rt, a, true);
}

static jv b_arr_join(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 3);
    jv in = jbi_arg(rt, a, 0);
    if (!jv_is_arr(in)) {
        jerr(rt, "join() applies to a list, got %s", jv_type_name(in));
    }
    jv d = jargs_kw_or_pos(a, "d", 1);
    jv attr = jargs_kw_or_pos(a, "attribute", 2);
    if (attr.t != JT_UNDEF && attr.t != JT_STR && attr.t != JT_INT) {
        jerr(rt, "join(): attribute must be a string or an integer");
    }
    const jstr *delim = d.t == JT_UNDEF ? js_new(rt, "", 0) : jv_as_string(rt, d);
    jbuf b;
    jb_init(&b, rt);
    jarr *src = in.u.a;
    for (size_t i = 0; i < src->n; i++) {
        jstep(rt);
        jv item = src->v[i];
        if (attr.t == JT_INT && jv_is_arr(item)) {
            int64_t k = attr.u.i, n = (int64_t)item.u.a->n;
            if (k < 0) {
                k += n;
            }
            if (k < 0 || k >= n) {
                jerr(rt, "join(): index %lld is out of range for a list of %lld", (long long)attr.u.i, (long long)n);
            }
            item = item.u.a->v[k];
        } else if (attr.t == JT_STR && item.t == JT_OBJECT) {
            jv v;
            if (!jobj_get(rt, item.u.o, attr, &v)) {
                jerr(rt, "join(): an item has no key '%s'", attr.u.s->p);
            }
            item = v;
        }
        if (item.t != JT_STR && item.t != JT_INT && item.t != JT_FLOAT) {
            jerr(rt, "join() can only join strings and numbers, got %s", jv_type_name(item));
        }
        const jstr *s = jv_as_string(rt, item);
        jb_cat(&b, s->p, s->len);
        if (i + 1 < src->n) {
            jb_cat(&b, delim->p, delim->len);
        }
    }
    b.nb = 0;
    return jv_str(jb_done(&b));
}

static jv b_arr_string(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    jstat_use_deep(rt, a->v[0]);
    return jv_str(jv_as_string(rt, a->v[0]));
}

static jv b_arr_map(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jv in = jbi_arg(rt, a, 0);
    if (!jv_is_arr(in)) {
        jerr(rt, "map() applies to a list, got %s", jv_type_name(in));
    }
    if (a->v[1].t != JT_KWARG) {
        jerr(rt, "unsupported: map() with a filter name; only map(attribute=...) is implemented");
    }
    jv attr = jargs_kw_or_pos(a, "attribute", 1);
    if (attr.t != JT_STR && attr.t != JT_INT) {
        jerr(rt, "map(): attribute must be a string or an integer");
    }
    jv def = jv_undef(NULL);
    for (size_t k = 0; k < a->n; k++) {
        if (a->v[k].t == JT_KWARG && js_eqs(a->v[k].u.kw->key, "default")) {
            def = a->v[k].u.kw->v;
            break;
        }
    }
    jarr *src = in.u.a, *out = jarr_new(rt, src->n);
    for (size_t i = 0; i < src->n; i++) {
        jstep(rt);
        jv item = src->v[i], v = def;
        if (attr.t == JT_INT) {
            if (jv_is_arr(item)) {
                int64_t k = attr.u.i, n = (int64_t)item.u.a->n;
                if (k < 0) {
                    k += n;
                }
                if (k >= 0 && k < n) {
                    v = item.u.a->v[k];
                }
            }
        } else if (item.t == JT_OBJECT) {
            v = attr_of(rt, item, attr, def);
        }
        jarr_push(rt, out, v);
    }
    return in.t == JT_TUPLE ? jv_tuple(out) : jv_array(out);
}

static jv b_arr_append(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 999);
    jv in = jbi_arg(rt, a, 0);
    if (!jv_is_arr(in)) {
        jerr(rt, "append() applies to a list, got %s", jv_type_name(in));
    }
    if (in.t == JT_TUPLE) {
        jerr(rt, "append(): a tuple cannot be modified");
    }
    jarr_push(rt, in.u.a, a->v[1]);
    return in;
}

static jv b_arr_pop(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 2);
    jbi_need1(rt, a, K_ARR);
    int64_t i = a->n == 2 ? jv_as_int(rt, a->v[1]) : -1;
    jarr *v = a->v[0].u.a;
    if (a->v[0].t == JT_TUPLE) {
        jerr(rt, "pop(): a tuple cannot be modified");
    }
    if (i < 0) {
        i += (int64_t)v->n;
    }
    if (i < 0 || i >= (int64_t)v->n) {
        jerr(rt, "pop(): index %lld is out of range for a list of %zu", (long long)i, v->n);
    }
    jv r = v->v[i];
    memmove(&v->v[i], &v->v[i + 1], (v->n - (size_t)i - 1) * sizeof *v->v);
    v->n--;
    return r;
}

typedef struct sort_by {
    jv attr;
    jcmp op;
} sort_by;

static bool sort_less(jrt *rt, const jv *x, const jv *y, void *ud) {
    const sort_by *sb = ud;
    jv a = *x, b = *y;
    if (sb->attr.t != JT_UNDEF) {
        if (sb->attr.t == JT_INT && jv_is_arr(a) && jv_is_arr(b)) {
            int64_t k = sb->attr.u.i;
            int64_t na = (int64_t)a.u.a->n, nb = (int64_t)b.u.a->n;
            int64_t ka = k < 0 ? k + na : k, kb = k < 0 ? k + nb : k;
            if (ka < 0 || ka >= na || kb < 0 || kb >= nb) {
                jerr(rt, "sort(): index %lld is out of range", (long long)k);
            }
            a = a.u.a->v[ka];
            b = b.u.a->v[kb];
        } else if (sb->attr.t != JT_INT && a.t == JT_OBJECT && b.t == JT_OBJECT) {
            jv va, vb;
            if (!jobj_get(rt, a.u.o, sb->attr, &va) || !jobj_get(rt, b.u.o, sb->attr, &vb)) {
                jerr(rt, "sort(): an item has no attribute %s", jv_as_string(rt, sb->attr)->p);
            }
            a = va;
            b = vb;
        } else {
            jerr(rt, "sort(): cannot compare the attribute of %s and %s", jv_type_name(a), jv_type_name(b));
        }
    }
    return jv_compare(rt, a, b, sb->op);
}

static jv b_arr_sort(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 1, 4);
    jv in = jbi_arg(rt, a, 0);
    if (!jv_is_arr(in)) {
        jerr(rt, "sort() applies to a list, got %s", jv_type_name(in));
    }
    bool reverse = jv_truthy(rt, jargs_kw_or_pos(a, "reverse", 1));
    sort_by sb = { jargs_kw_or_pos(a, "attribute", 3), reverse ? JC_GT : JC_LT };
    jarr *out = jarr_new(rt, in.u.a->n);
    for (size_t i = 0; i < in.u.a->n; i++) {
        jarr_push(rt, out, in.u.a->v[i]);
    }
    jsort(rt, out->v, out->n, sort_less, &sb);
    return in.t == JT_TUPLE ? jv_tuple(out) : jv_array(out);
}

static jv b_arr_reverse(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_ARR);
    jarr *src = a->v[0].u.a, *out = jarr_new(rt, src->n);
    for (size_t i = src->n; i-- > 0;) {
        jarr_push(rt, out, src->v[i]);
    }
    return a->v[0].t == JT_TUPLE ? jv_tuple(out) : jv_array(out);
}

static jv min_max(jrt *rt, const jargs *a, jcmp op) {
    jbi_need(rt, a, 1, 4);
    jbi_need1(rt, a, K_ARR);
    if (jargs_kw_or_pos(a, "attribute", 2).t != JT_UNDEF) {
        jerr(rt, "unsupported: %s() with an attribute", jbi_fname(a));
    }
    jarr *v = a->v[0].u.a;
    if (!v->n) {
        return jv_undef(NULL);
    }
    jv best = v->v[0];
    for (size_t i = 1; i < v->n; i++) {
        jstep(rt);
        if (jv_compare(rt, v->v[i], best, op)) {
            best = v->v[i];
        }
    }
    return best;
}

static jv b_arr_min(jrt *rt, const jargs *a) {
    return min_max(rt, a, JC_LT);
}

static jv b_arr_max(jrt *rt, const jargs *a) {
    return min_max(rt, a, JC_GT);
}

const jbi jinja_list_methods[] = {
    { "append", b_arr_append },
    { "default", jbi_default },
    { "first", b_arr_first },
    { "join", b_arr_join },
    { "last", b_arr_last },
    { "length", b_arr_length },
    { "list", b_arr_list },
    { "map", b_arr_map },
    { "max", b_arr_max },
    { "min", b_arr_min },
    { "pop", b_arr_pop },
    { "reject", b_arr_reject },
    { "rejectattr", b_arr_reject },
    { "reverse", b_arr_reverse },
    { "select", b_arr_select },
    { "selectattr", b_arr_select },
    { "slice", b_arr_slice },
    { "sort", b_arr_sort },
    { "string", b_arr_string },
    { "tojson", jbi_tojson },
    { "unique", jbi_not_implemented },
    { NULL, NULL },
};

/* ---- mappings ---- */

static jv b_obj_get(jrt *rt, const jargs *a) {
    jbi_need(rt, a, 2, 3);
    if (a->v[0].t != JT_OBJECT) {
        jerr(rt, "get() applies to a mapping, got %s", jv_type_name(a->v[0]));
    }
    if (a->v[1].t != JT_STR) {
        jerr(rt, "get(): the key must be a string, got %s", jv_type_name(a->v[1]));
    }
    jv v;
    if (jobj_get(rt, a->v[0].u.o, a->v[1], &v)) {
        return v;
    }
    return a->n == 3 ? a->v[2] : jv_none();
}

static jv b_obj_keys(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_OBJ);
    jobj *o = a->v[0].u.o;
    jarr *out = jarr_new(rt, o->n);
    for (size_t i = 0; i < o->n; i++) {
        jarr_push(rt, out, o->k[i]);
    }
    return jv_array(out);
}

static jv b_obj_values(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_OBJ);
    jobj *o = a->v[0].u.o;
    jarr *out = jarr_new(rt, o->n);
    for (size_t i = 0; i < o->n; i++) {
        jarr_push(rt, out, o->v[i]);
    }
    return jv_array(out);
}

jv jbi_pair(jrt *rt, jv k, jv v) {
    jarr *t = jarr_new(rt, 2);
    jarr_push(rt, t, k);
    jarr_push(rt, t, v);
    return jv_tuple(t);
}

static jv b_obj_items(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_OBJ);
    jobj *o = a->v[0].u.o;
    jarr *out = jarr_new(rt, o->n);
    for (size_t i = 0; i < o->n; i++) {
        jarr_push(rt, out, jbi_pair(rt, o->k[i], o->v[i]));
    }
    return jv_array(out);
}

static jv b_obj_string(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_OBJ);
    jstat_use_deep(rt, a->v[0]);
    return jv_str(jv_as_string(rt, a->v[0]));
}

static jv b_obj_length(jrt *rt, const jargs *a) {
    jbi_need1(rt, a, K_OBJ);
    return jv_int((int64_t)a->v[0].u.o->n);
}

typedef struct dictsort_by {
    size_t field; /* 0: key, 1: value */
    jcmp op;
} dictsort_by;

static bool dictsort_less(jrt *rt, const jv *x, const jv *y, void *ud) {
    const dictsort_by *d = ud;
    return jv_compare(rt, x->u.a->v[d->field], y->u.a->v[d->field], d->op);
}

/* dictsort gives a mapping in the new order (llama.cpp's), not a list of pairs. */
static jv b_obj_dictsort(jrt *rt, const jargs *a) {
    jv in = jbi_arg(rt, a, 0);
    jv by = jargs_kw_or_pos(a, "by", 2);
    bool reverse = jv_truthy(rt, jargs_kw_or_pos(a, "reverse", 3));
    dictsort_by d = { (by.t == JT_STR && js_eqs(by.u.s, "value")) ? 1u : 0u, reverse ? JC_GT : JC_LT };
    jobj *src = in.u.o;
    jv *pairs = ja_grow(&rt->arena, NULL, 0, src->n ? src->n : 1, sizeof *pairs);
    for (size_t i = 0; i < src->n; i++) {
        pairs[i] = jbi_pair(rt, src->k[i], src->v[i]);
    }
    jsort(rt, pairs, src->n, dictsort_less, &d);
    jobj *out = jobj_new(rt);
    out->k = ja_grow(&rt->arena, NULL, 0, src->n ? src->n : 1, sizeof *out->k);
    out->v = ja_grow(&rt->arena, NULL, 0, src->n ? src->n : 1, sizeof *out->v);
    out->cap = src->n ? src->n : 1;
    for (size_t i = 0; i < src->n; i++) {
        out->k[i] = pairs[i].u.a->v[0];
        out->v[i] = pairs[i].u.a->v[1];
    }
    out->n = src->n;
    return jv_object(out);
}

const jbi jinja_map_methods[] = {
    { "dictsort", b_obj_dictsort }, { "get", b_obj_get },
    { "items", b_obj_items },       { "join", jbi_not_implemented },
    { "keys", b_obj_keys },         { "length", b_obj_length },
    { "string", b_obj_string },     { "tojson", jbi_tojson },
    { "values", b_obj_values },     { NULL, NULL },
};
