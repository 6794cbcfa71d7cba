/*
 * jinja_eval.c - runs the syntax tree: statements write into an output buffer, expressions compute values.
 *
 * llama.cpp collects each statement's value and joins them at the end; writing straight into the buffer gives the
 * same bytes as long as a statement interrupted by {% break %} or {% continue %} takes back what it wrote, which is
 * what exec_stmt does. Loops and macros get scopes of their own, as in llama.cpp (a macro sees the variables of the
 * place it is called from). Every entry counts a step and a level, so no template can run forever or overflow the
 * stack.
 */
#include "text/jinja.h"

#include <math.h>
#include <string.h>

typedef enum jsig { SIG_NONE = 0, SIG_BREAK, SIG_CONTINUE } jsig;

static jsig exec_block(jrt *rt, jnode *const *list, size_t n, jscope *scope, jbuf *out);
static jv eval(jrt *rt, const jnode *n, jscope *scope);

/* ---- scopes ---- */

jscope *jscope_new(jrt *rt, jscope *parent) {
    jscope *s = ja_alloc(&rt->arena, sizeof *s);
    s->parent = parent;
    return s;
}

void jscope_set(jrt *rt, jscope *s, const jstr *name, jv v) {
    for (size_t i = 0; i < s->n; i++) {
        if (js_cmp(s->vars[i].name, name) == 0) {
            s->vars[i].v = v;
            return;
        }
    }
    if (s->n == s->cap) {
        size_t cap = s->cap ? s->cap * 2 : 8;
        s->vars = ja_grow(&rt->arena, s->vars, s->n, cap, sizeof *s->vars);
        s->cap = cap;
    }
    s->vars[s->n].name = name;
    s->vars[s->n].v = v;
    s->n++;
}

void jscope_set_s(jrt *rt, jscope *s, const char *name, jv v) {
    jscope_set(rt, s, js_cstr(rt, name), v);
}

bool jscope_get(const jscope *s, const char *name, size_t len, jv *out) {
    for (; s; s = s->parent) {
        for (size_t i = 0; i < s->n; i++) {
            if (js_eq(s->vars[i].name, name, len)) {
                *out = s->vars[i].v;
                return true;
            }
        }
    }
    return false;
}

/* ---- arguments ---- */

jv jargs_pos(jrt *rt, const jargs *a, size_t i) {
    if (i < a->n) {
        return a->v[i];
    }
    jerr(rt, "%s expected at least %zu arguments, got %zu", a->name ? a->name : "function", i + 1, a->n);
}

jv jargs_kw_or_pos(const jargs *a, const char *key, size_t i) {
    size_t klen = strlen(key);
    for (size_t k = 0; k < a->n; k++) {
        if (a->v[k].t == JT_KWARG && js_eq(a->v[k].u.kw->key, key, klen)) {
            if (a->v[k].u.kw->v.t != JT_UNDEF) {
                return a->v[k].u.kw->v;
            }
            break;
        }
    }
    if (i < a->n && a->v[i].t != JT_KWARG) {
        return a->v[i];
    }
    return jv_undef(NULL);
}

static void enter(jrt *rt) {
    jstep(rt);
    if (++rt->depth > JINJA_MAX_EVAL_DEPTH) {
        jerr(rt, "the template nests evaluation more than %d levels deep", JINJA_MAX_EVAL_DEPTH);
    }
}

/* ---- output ---- */

/* Appends a statement's value as llama.cpp joins results: strings and numbers as text, lists item by item,
 * everything else (none, undefined, objects, functions) as nothing. */
static void gather(jrt *rt, jbuf *out, jv v, int depth) {
    switch (v.t) {
    case JT_STR: jb_str(out, v.u.s); return;
    case JT_INT:
    case JT_FLOAT:
    case JT_BOOL: jb_str(out, jv_as_string(rt, v)); return;
    case JT_ARRAY:
    case JT_TUPLE:
        if (depth > JINJA_MAX_VALUE_DEPTH) {
            jerr(rt, "a list to print is nested more than %d levels deep (or contains itself)", JINJA_MAX_VALUE_DEPTH);
        }
        for (size_t i = 0; i < v.u.a->n; i++) {
            gather(rt, out, v.u.a->v[i], depth + 1);
        }
        return;
    default: return;
    }
}

/* A statement's value goes into the output; a list waits until its block ends (see jpending). */
static void emit(jrt *rt, jbuf *out, jv v) {
    if (!jv_is_arr(v)) {
        gather(rt, out, v, 0);
        return;
    }
    if (out->npend == out->pcap) {
        size_t cap = out->pcap ? out->pcap * 2 : 4;
        out->pend = ja_grow(&rt->arena, out->pend, out->npend, cap, sizeof *out->pend);
        out->pcap = cap;
    }
    out->pend[out->npend].at = out->len;
    out->pend[out->npend].v = v;
    out->npend++;
}

/* A block ends: the lists its statements printed since `mark` become text, as they are now. */
static void settle(jrt *rt, jbuf *out, size_t mark) {
    while (out->npend > 0 && out->pend[out->npend - 1].at >= mark) {
        jpending p = out->pend[--out->npend];
        jbuf tmp;
        jb_init(&tmp, rt);
        gather(rt, &tmp, p.v, 0);
        jb_insert(out, p.at, jb_done(&tmp));
    }
}

/* Runs statements into a fresh string (a macro body, a set block, a filter block). */
static jsig capture(jrt *rt, jnode *const *list, size_t n, jscope *scope, const jstr **res) {
    jbuf buf;
    jb_init(&buf, rt);
    jsig sig = exec_block(rt, list, n, scope, &buf);
    settle(rt, &buf, 0);
    *res = jb_done(&buf);
    return sig;
}

/* ---- functions ---- */

static jv func_value(jrt *rt, jfunc_kind kind, const char *name, const jnode *node, jscope *scope) {
    jfunc *f = ja_alloc(&rt->arena, sizeof *f);
    f->kind = kind;
    f->name = name;
    f->node = node;
    f->scope = scope;
    jv v = { JT_FUNC, { .fn = f } };
    return v;
}

/* Binds a macro's (or caller's) parameters as llama.cpp does: parameter i takes keyword argument name, else
 * positional argument i, when the call has at least i+1 arguments of any kind; otherwise its default. */
static void bind_params(jrt *rt, const char *name, jnode *const *params, size_t np, const jargs *args, jscope *target) {
    for (size_t i = 0; i < np; i++) {
        const jnode *p = params[i];
        rt->pos = p->pos;
        const jnode *id = p->k == N_KWARG ? p->a : p;
        if (id->k != N_IDENT) {
            jerr(rt, "parameter %zu of '%s' is not a name", i + 1, name);
        }
        if (i < args->n) {
            jscope_set(rt, target, id->str, jargs_kw_or_pos(args, id->str->p, i));
        } else if (p->k == N_KWARG) {
            jscope_set(rt, target, id->str, eval(rt, p->b, args->scope));
        } else {
            jerr(rt, "not enough arguments for '%s': parameter '%s' has no value", name, id->str->p);
        }
    }
}

jv jinja_invoke(jrt *rt, jv fnv, jargs *args) {
    const jfunc *f = fnv.u.fn;
    if (f->has_self) {
        jv *v = ja_grow(&rt->arena, NULL, 0, args->n + 1, sizeof *v);
        v[0] = f->self;
        if (args->n) {
            memcpy(v + 1, args->v, args->n * sizeof *v);
        }
        args->v = v;
        args->n++;
    }
    args->name = f->name;
    if (f->kind == JF_BUILTIN) {
        return f->fn(rt, args);
    }
    if (++rt->call_depth > JINJA_MAX_CALL_DEPTH) {
        jerr(rt, "macro calls are nested more than %d levels deep (endless recursion?)", JINJA_MAX_CALL_DEPTH);
    }
    const jnode *node = f->node;
    jscope *scope = jscope_new(rt, f->kind == JF_MACRO ? args->scope : f->scope);
    bind_params(rt, f->name, node->list2, node->n2, args, scope);
    const jstr *res;
    if (capture(rt, node->list, node->n, scope, &res) != SIG_NONE) {
        jerr_at(rt, node->pos, "{%% break %%} or {%% continue %%} cannot leave the body of '%s' (unsupported)",
                f->name);
    }
    rt->call_depth--;
    return jv_str(res);
}

static void eval_args(jrt *rt, jnode *const *list, size_t n, jscope *scope, jargs *out) {
    out->v = n ? ja_grow(&rt->arena, NULL, 0, n, sizeof *out->v) : NULL;
    out->n = n;
    out->scope = scope;
    out->name = NULL;
    for (size_t i = 0; i < n; i++) {
        out->v[i] = eval(rt, list[i], scope);
    }
}

/* ---- expressions ---- */

static const char *node_name(const jnode *n) {
    if (n->k == N_IDENT) {
        return n->str->p;
    }
    if (n->k == N_MEMBER && !n->flag && n->b->k == N_IDENT) {
        return n->b->str->p;
    }
    return NULL;
}

static jv eval_call(jrt *rt, const jnode *n, jscope *scope) {
    jargs args;
    eval_args(rt, n->list, n->n, scope, &args);
    jv callee = eval(rt, n->a, scope);
    rt->pos = n->pos;
    if (callee.t != JT_FUNC) {
        const char *name = node_name(n->a);
        if (name) {
            jerr(rt, "'%s' is not a function (it is %s)", name, jv_type_name(callee));
        }
        jerr(rt, "calling %s, which is not a function", jv_type_name(callee));
    }
    return jinja_invoke(rt, callee, &args);
}

/* A built-in method of `self` looked up by name (undefined when it has none), counted as a use of `self`. */
static jv method(jrt *rt, jv self, const char *name, size_t len) {
    jstat_use_named(rt, self, name, len);
    bool found = false;
    jv m = jinja_builtin_method(rt, self, name, len, &found);
    return found ? m : jv_undef(name);
}

/* obj[key] once the key is known: an item, else a built-in method of that name. */
static jv member_lookup(jrt *rt, jv obj, jv key) {
    switch (obj.t) {
    case JT_OBJECT: {
        const jstr *name = jv_as_string(rt, key);
        jv v;
        if (jobj_get(rt, obj.u.o, key, &v) && v.t != JT_UNDEF) {
            return v;
        }
        return method(rt, obj, name->p, name->len);
    }
    case JT_ARRAY:
    case JT_TUPLE:
    case JT_STR:
        if (key.t == JT_INT) {
            int64_t i = key.u.i;
            if (obj.t == JT_STR) {
                if (i >= 0 && (uint64_t)i < obj.u.s->len) {
                    return jv_str(js_new(rt, obj.u.s->p + i, 1));
                }
            } else {
                int64_t size = (int64_t)obj.u.a->n;
                if (i < 0) {
                    i += size;
                }
                if (i >= 0 && i < size) {
                    return obj.u.a->v[i];
                }
            }
            return jv_undef("object_property");
        }
        if (key.t == JT_STR) {
            return method(rt, obj, key.u.s->p, key.u.s->len);
        }
        jerr(rt, "%s cannot index %s", jv_type_name(key), jv_type_name(obj));
    default:
        if (key.t != JT_STR) {
            jerr(rt, "%s cannot index %s", jv_type_name(key), jv_type_name(obj));
        }
        return method(rt, obj, key.u.s->p, key.u.s->len);
    }
}

static jv eval_member(jrt *rt, const jnode *n, jscope *scope) {
    jv obj = eval(rt, n->a, scope);
    const jnode *prop = n->b;
    jv key;
    rt->pos = n->pos;
    if (n->flag) {
        if (prop->k == N_SLICE) {
            int64_t size = jv_is_arr(obj) ? (int64_t)obj.u.a->n : obj.t == JT_STR ? (int64_t)obj.u.s->len : 0;
            jv step = prop->c ? eval(rt, prop->c, scope) : jv_int(1);
            bool back = jv_as_int(rt, step) < 0;
            jv start = prop->a ? eval(rt, prop->a, scope) : jv_int(back ? size - 1 : 0);
            jv stop = prop->b ? eval(rt, prop->b, scope) : jv_int(back ? -1 : size);
            rt->pos = n->pos;
            jstat_use_named(rt, obj, "slice", 5);
            bool found = false;
            jv fn = jinja_builtin_method(rt, obj, "slice", 5, &found);
            if (!found) {
                jerr(rt, "%s cannot be sliced", jv_type_name(obj));
            }
            jv argv[3] = { start, stop, step };
            jargs args = { argv, 3, scope, NULL };
            return jinja_invoke(rt, fn, &args);
        }
        key = eval(rt, prop, scope);
        rt->pos = n->pos;
    } else if (prop->k == N_INT) {
        if (prop->i < 0) {
            jerr(rt, "an attribute index cannot be negative");
        }
        key = jv_int(prop->i);
    } else {
        if (prop->k != N_IDENT) {
            jerr(rt, "expected an attribute name after '.'");
        }
        /* obj.name is a built-in method first (as in Jinja2: {"items": 1}.items is the method) */
        jstat_use_named(rt, obj, prop->str->p, prop->str->len);
        bool found = false;
        jv m = jinja_builtin_method(rt, obj, prop->str->p, prop->str->len, &found);
        if (found) {
            return m;
        }
        key = jv_str(prop->str);
    }
    if (key.t == JT_UNDEF) {
        return jv_undef("object_property");
    }
    if (!jv_hashable(key)) {
        jerr(rt, "%s cannot be used as an index or key", jv_type_name(key));
    }
    if (obj.t == JT_UNDEF) {
        return jv_undef("object_property");
    }
    jv val = member_lookup(rt, obj, key);
    jstat_use(rt, val, 0);
    jstat_use(rt, obj, key.t == JT_INT ? JSTAT_ARRAY_ACCESS : key.t == JT_STR ? JSTAT_OBJECT_ACCESS : 0);
    return val;
}

static jv apply_filter(jrt *rt, const jnode *f, jv input, jscope *scope) {
    const jnode *id = f;
    jargs args = { NULL, 0, scope, NULL };
    if (f->k == N_CALL) {
        id = f->a;
        if (id->k != N_IDENT) {
            jerr_at(rt, f->pos, "a filter must be a name");
        }
        eval_args(rt, f->list, f->n, scope, &args);
    } else if (f->k != N_IDENT) {
        jerr_at(rt, f->pos, "a filter must be a name");
    }
    const char *name = id->str->p;
    static const char *const aliases[][2] = {
        { "count", "length" }, { "d", "default" }, { "e", "escape" }, { "trim", "strip" }
    };
    for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++) {
        if (strcmp(name, aliases[i][0]) == 0) {
            name = aliases[i][1];
        }
    }
    rt->pos = f->pos;
    if (f->k == N_IDENT && input.t != JT_UNDEF && input.t != JT_STR) {
        static const char *const text_filters[] = { "capitalize", "lower", "replace",  "strip",
                                                    "title",      "upper", "wordcount" };
        for (size_t i = 0; i < sizeof text_filters / sizeof text_filters[0]; i++) {
            if (strcmp(name, text_filters[i]) == 0) {
                input = jv_str(jv_as_string(rt, input));
            }
        }
    }
    jstat_use_named(rt, input, name, strlen(name));
    bool found = false;
    jv fn = jinja_builtin_method(rt, input, name, strlen(name), &found);
    if (!found) {
        jerr(rt, "unknown filter '%s' for %s", name, jv_type_name(input));
    }
    return jinja_invoke(rt, fn, &args);
}

static jv eval_test(jrt *rt, const jnode *n, jscope *scope) {
    jv input = eval(rt, n->a, scope);
    const jnode *t = n->b, *id = t;
    jargs args = { NULL, 0, scope, NULL };
    size_t extra = 0;
    if (t->k == N_CALL) {
        id = t->a;
        extra = t->n;
    }
    if (id->k != N_IDENT) {
        jerr_at(rt, t->pos, "a test after 'is' must be a name");
    }
    args.v = ja_grow(&rt->arena, NULL, 0, extra + 1, sizeof *args.v);
    args.v[0] = input;
    args.n = 1;
    for (size_t i = 0; i < extra; i++) {
        args.v[args.n++] = eval(rt, t->list[i], scope);
    }
    rt->pos = n->pos;
    jbuiltin_fn fn = jinja_builtin_test(id->str->p, id->str->len);
    if (!fn) {
        jerr(rt, "unknown test '%s'", id->str->p);
    }
    jstat_use(rt, input, js_eqs(id->str, "string") ? JSTAT_TEST_IS_STRING : 0);
    args.name = id->str->p;
    jv res = fn ? fn(rt, &args) : jv_undef(NULL);
    return n->flag ? jv_bool(!jv_truthy(rt, res)) : res;
}

static bool contains(jrt *rt, jv needle, jv hay) {
    jv argv[2] = { needle, hay };
    jargs args = { argv, 2, NULL, "in" };
    jbuiltin_fn fn = jinja_builtin_test("in", 2);
    return jv_truthy(rt, fn(rt, &args));
}

/* null or undefined joined to a string with + or ~ counts as "" (llama.cpp's workaround). */
static bool concat_null(jrt *rt, jv l, jv r, jv *out) {
    bool lnull = l.t == JT_NONE || l.t == JT_UNDEF, rnull = r.t == JT_NONE || r.t == JT_UNDEF;
    if ((lnull && r.t == JT_STR) || (rnull && l.t == JT_STR)) {
        jbuf b;
        jb_init(&b, rt);
        if (!lnull) {
            jb_str(&b, l.u.s);
        }
        if (!rnull) {
            jb_str(&b, r.u.s);
        }
        *out = jv_str(jb_done(&b));
        return true;
    }
    return false;
}

static jv eval_binary(jrt *rt, const jnode *n, jscope *scope) {
    jop op = n->op;
    jv l = eval(rt, n->a, scope);
    if (op == OP_AND) {
        return jv_truthy(rt, l) ? eval(rt, n->b, scope) : l;
    }
    if (op == OP_OR) {
        return jv_truthy(rt, l) ? l : eval(rt, n->b, scope);
    }
    jv r = eval(rt, n->b, scope);
    rt->pos = n->pos;
    if (op == OP_EQ) {
        return jv_bool(jv_equal(rt, l, r));
    }
    if (op == OP_NE) {
        return jv_bool(!jv_equal(rt, l, r));
    }
    bool in = op == OP_IN || op == OP_NOTIN;
    jv res;
    if (l.t == JT_UNDEF || r.t == JT_UNDEF) {
        if (r.t == JT_UNDEF && in) {
            return jv_bool(op == OP_NOTIN);
        }
        if ((op == OP_ADD || op == OP_CONCAT) && concat_null(rt, l, r, &res)) {
            return res;
        }
        const char *name = l.t == JT_UNDEF ? l.u.hint : r.u.hint;
        if (name) {
            jerr(rt, "'%s' is undefined (operator %s)", name, jop_name(op));
        }
        jerr(rt, "operator %s on an undefined value", jop_name(op));
    }
    if (l.t == JT_NONE || r.t == JT_NONE) {
        if (r.t != JT_NONE && in) {
            bool m = contains(rt, l, r);
            return jv_bool(op == OP_IN ? m : !m);
        }
        if ((op == OP_ADD || op == OP_CONCAT) && concat_null(rt, l, r, &res)) {
            return res;
        }
        jerr(rt, "operator %s on none (null)", jop_name(op));
    }
    if (jv_is_num(l) && jv_is_num(r)) {
        double a = jv_as_float(rt, l), b = jv_as_float(rt, r);
        bool fl = l.t == JT_FLOAT || r.t == JT_FLOAT;
        switch (op) {
        case OP_ADD:
        case OP_SUB:
        case OP_MUL: {
            double v = op == OP_ADD ? a + b : op == OP_SUB ? a - b : a * b;
            return fl ? jv_float(v) : jv_int(jinja_f2i(v));
        }
        case OP_DIV: return jv_float(a / b);
        case OP_MOD: {
            double v = fmod(a, b);
            return fl ? jv_float(v) : jv_int(jinja_f2i(v));
        }
        case OP_LT: return jv_bool(a < b);
        case OP_GT: return jv_bool(a > b);
        case OP_GE: return jv_bool(a >= b);
        case OP_LE: return jv_bool(a <= b);
        default: break;
        }
    }
    if (jv_is_arr(l) && jv_is_arr(r)) {
        if (op == OP_ADD) {
            jarr *a = jarr_new(rt, l.u.a->n + r.u.a->n);
            for (size_t i = 0; i < l.u.a->n; i++) {
                jarr_push(rt, a, l.u.a->v[i]);
            }
            for (size_t i = 0; i < r.u.a->n; i++) {
                jarr_push(rt, a, r.u.a->v[i]);
            }
            return jv_array(a);
        }
    } else if (jv_is_arr(r) && in) {
        bool m = contains(rt, l, r);
        return jv_bool(op == OP_IN ? m : !m);
    }
    if ((l.t == JT_STR || r.t == JT_STR) && (op == OP_CONCAT || op == OP_ADD)) {
        return jv_str(js_concat(rt, jv_as_string(rt, l), jv_as_string(rt, r)));
    }
    if (op == OP_MUL && ((l.t == JT_STR && r.t == JT_INT) || (l.t == JT_INT && r.t == JT_STR))) {
        const jstr *s = l.t == JT_STR ? l.u.s : r.u.s;
        int64_t times = l.t == JT_INT ? l.u.i : r.u.i;
        jbuf b;
        jb_init(&b, rt);
        if (times > 0 && s->len > 0) {
            if ((uint64_t)times > rt->max_output / s->len) {
                jerr(rt, "repeating a string %lld times exceeds the limit of %zu bytes (max_output)", (long long)times,
                     rt->max_output);
            }
            for (int64_t i = 0; i < times; i++) {
                jstep(rt);
                jb_str(&b, s);
            }
        }
        return jv_str(jb_done(&b));
    }
    if (l.t == JT_STR && r.t == JT_STR && in) {
        bool m = contains(rt, l, r);
        return jv_bool(op == OP_IN ? m : !m);
    }
    if (r.t == JT_OBJECT && in) {
        bool m = contains(rt, l, r);
        return jv_bool(op == OP_IN ? m : !m);
    }
    jerr(rt, "operator %s is not defined between %s and %s", jop_name(op), jv_type_name(l), jv_type_name(r));
}

static jv eval_unary(jrt *rt, const jnode *n, jscope *scope) {
    jv v = eval(rt, n->a, scope);
    rt->pos = n->pos;
    switch (n->op) {
    case OP_NOT: return jv_bool(!jv_truthy(rt, v));
    case OP_NEG:
        if (v.t == JT_INT) {
            return jv_int((int64_t)(0u - (uint64_t)v.u.i));
        }
        if (v.t == JT_FLOAT) {
            return jv_float(-v.u.f);
        }
        jerr(rt, "unary - needs a number, got %s", jv_type_name(v));
    default:
        if (jv_is_num(v)) {
            return v;
        }
        jerr(rt, "unary + needs a number, got %s", jv_type_name(v));
    }
}

static jv eval(jrt *rt, const jnode *n, jscope *scope) {
    enter(rt);
    rt->pos = n->pos;
    jv r;
    switch (n->k) {
    case N_TEXT:
    case N_STR: r = jv_str(n->str); break;
    case N_INT: r = jv_int(n->i); break;
    case N_FLOAT: r = jv_float(n->f); break;
    case N_IDENT:
        if (jscope_get(scope, n->str->p, n->str->len, &r) && r.t != JT_UNDEF) {
            jstat_use(rt, r, 0);
            break;
        }
        if (!jinja_builtin_global(rt, n->str->p, n->str->len, &r)) {
            r = jv_undef(n->str->p);
        }
        break;
    case N_ARRAY:
    case N_TUPLE: {
        jarr *a = jarr_new(rt, n->n);
        for (size_t i = 0; i < n->n; i++) {
            jarr_push(rt, a, eval(rt, n->list[i], scope));
        }
        r = n->k == N_ARRAY ? jv_array(a) : jv_tuple(a);
        break;
    }
    case N_OBJECT: {
        jobj *o = jobj_new(rt);
        for (size_t i = 0; i < n->n; i++) {
            jv k = eval(rt, n->list[i], scope);
            jv v = eval(rt, n->list2[i], scope);
            rt->pos = n->list[i]->pos;
            jobj_set(rt, o, k, v);
        }
        r = jv_object(o);
        break;
    }
    case N_MEMBER: r = eval_member(rt, n, scope); break;
    case N_CALL: r = eval_call(rt, n, scope); break;
    case N_BINARY: r = eval_binary(rt, n, scope); break;
    case N_UNARY: r = eval_unary(rt, n, scope); break;
    case N_FILTER: r = apply_filter(rt, n->b, eval(rt, n->a, scope), scope); break;
    case N_TEST: r = eval_test(rt, n, scope); break;
    case N_SELECT: r = jv_truthy(rt, eval(rt, n->b, scope)) ? eval(rt, n->a, scope) : jv_undef(NULL); break;
    case N_TERNARY: r = jv_truthy(rt, eval(rt, n->a, scope)) ? eval(rt, n->b, scope) : eval(rt, n->c, scope); break;
    case N_KWARG: {
        if (n->a->k != N_IDENT) {
            jerr(rt, "a keyword argument needs a name before '='");
        }
        jkwarg *kw = ja_alloc(&rt->arena, sizeof *kw);
        kw->key = n->a->str;
        kw->v = eval(rt, n->b, scope);
        r.t = JT_KWARG;
        r.u.kw = kw;
        break;
    }
    case N_SPREAD: jerr(rt, "unsupported: argument unpacking with *");
    case N_SLICE: jerr(rt, "a slice is only allowed inside [ ]");
    case N_BLANK:
    case N_COMMENT:
    case N_NOOP: r = jv_undef(NULL); break;
    default: jerr(rt, "a statement cannot be used as a value");
    }
    rt->depth--;
    return r;
}

/* ---- statements ---- */

static void bind_loop_var(jrt *rt, const jnode *var, jv item, bool object_keys, jscope *scope) {
    if (var->k == N_IDENT) {
        jscope_set(rt, scope, var->str, object_keys ? item.u.a->v[0] : item);
        return;
    }
    for (size_t j = 0; j < var->n; j++) {
        if (var->list[j]->k != N_IDENT) {
            jerr_at(rt, var->list[j]->pos, "a loop variable must be a name");
        }
        jscope_set(rt, scope, var->list[j]->str, item.u.a->v[j]);
    }
}

/* The loop object's keys, in llama.cpp's order; shared by every iteration (strings are never modified). */
#define LOOP_KEYS 9
#define JS_LIT(s)                                                                                                      \
    { s, sizeof(s) - 1, NULL, 0 }
static const jstr loop_keys[LOOP_KEYS] = { JS_LIT("index"),     JS_LIT("index0"),   JS_LIT("revindex"),
                                           JS_LIT("revindex0"), JS_LIT("first"),    JS_LIT("last"),
                                           JS_LIT("length"),    JS_LIT("previtem"), JS_LIT("nextitem") };
static const jstr loop_name = JS_LIT("loop");

static jsig exec_for(jrt *rt, const jnode *n, jscope *outer, jbuf *out) {
    jscope *scope = jscope_new(rt, outer);
    const jnode *iter = n->b, *test = NULL;
    if (iter->k == N_SELECT) {
        test = iter->b;
        iter = iter->a;
    }
    jv seq = eval(rt, iter, scope);
    rt->pos = n->pos;
    jstat_use(rt, seq, JSTAT_ARRAY_ACCESS);
    if (seq.t == JT_UNDEF) {
        seq = jv_array(jarr_new(rt, 0));
    }
    if (!jv_is_arr(seq) && seq.t != JT_OBJECT) {
        jerr(rt, "a for loop needs a list or a mapping, got %s", jv_type_name(seq));
    }
    jstat_use(rt, seq, seq.t == JT_OBJECT ? JSTAT_OBJECT_ACCESS : JSTAT_ARRAY_ACCESS);
    const jnode *var = n->a;
    if (var->k != N_IDENT && var->k != N_TUPLE) {
        jerr(rt, "a loop variable must be a name or names");
    }
    bool keys = seq.t == JT_OBJECT && var->k == N_IDENT;
    size_t count = seq.t == JT_OBJECT ? seq.u.o->n : seq.u.a->n;
    jv *items = ja_grow(&rt->arena, NULL, 0, count ? count : 1, sizeof *items);
    for (size_t i = 0; i < count; i++) {
        if (seq.t == JT_OBJECT) {
            jarr *pair = jarr_new(rt, 2);
            jarr_push(rt, pair, seq.u.o->k[i]);
            jarr_push(rt, pair, seq.u.o->v[i]);
            items[i] = jv_tuple(pair);
        } else {
            items[i] = seq.u.a->v[i];
        }
    }
    /* the items that pass the loop filter (all of them without one) */
    jv *kept = items;
    size_t nkept = 0;
    if (test) {
        kept = ja_grow(&rt->arena, NULL, 0, count ? count : 1, sizeof *kept);
    }
    for (size_t i = 0; i < count; i++) {
        jstep(rt);
        if (var->k == N_TUPLE) {
            if (!jv_is_arr(items[i])) {
                jerr_at(rt, n->pos, "cannot unpack %s into loop variables", jv_type_name(items[i]));
            }
            if (items[i].u.a->n != var->n) {
                jerr_at(rt, n->pos, "too %s items to unpack (%zu values, %zu names)",
                        var->n > items[i].u.a->n ? "few" : "many", items[i].u.a->n, var->n);
            }
        }
        if (test) {
            jscope *ls = jscope_new(rt, scope);
            bind_loop_var(rt, var, items[i], keys, ls);
            if (!jv_truthy(rt, eval(rt, test, ls))) {
                continue;
            }
        }
        kept[nkept++] = items[i];
    }
    /* every iteration's loop object shares one key array: a key added to one copies it first (jobj_set) */
    jv *loop_k = ja_grow(&rt->arena, NULL, 0, LOOP_KEYS, sizeof *loop_k);
    for (size_t k = 0; k < LOOP_KEYS; k++) {
        loop_k[k] = jv_str(&loop_keys[k]);
    }
    bool none_done = true;
    for (size_t i = 0; i < nkept; i++) {
        jstep(rt);
        jobj *loop = jobj_new(rt);
        loop->builtins = false;
        loop->cap = LOOP_KEYS;
        loop->n = LOOP_KEYS;
        loop->k = loop_k;
        loop->v = ja_grow(&rt->arena, NULL, 0, LOOP_KEYS, sizeof *loop->v);
        /* previtem / nextitem show what the loop variable is: the key when iterating a mapping by keys */
        jv prev = i > 0 ? (keys ? kept[i - 1].u.a->v[0] : kept[i - 1]) : jv_undef("previtem");
        jv next = i + 1 < nkept ? (keys ? kept[i + 1].u.a->v[0] : kept[i + 1]) : jv_undef("nextitem");
        jv vals[LOOP_KEYS] = { jv_int((int64_t)i + 1),
                               jv_int((int64_t)i),
                               jv_int((int64_t)(nkept - i)),
                               jv_int((int64_t)(nkept - i - 1)),
                               jv_bool(i == 0),
                               jv_bool(i == nkept - 1),
                               jv_int((int64_t)nkept),
                               prev,
                               next };
        memcpy(loop->v, vals, sizeof vals);
        jscope_set(rt, scope, &loop_name, jv_object(loop));
        bind_loop_var(rt, var, kept[i], keys, scope);
        jsig sig = exec_block(rt, n->list, n->n, scope, out);
        if (sig == SIG_CONTINUE) {
            continue;
        }
        if (sig == SIG_BREAK) {
            break;
        }
        /* as in llama.cpp, only a pass that finishes without break/continue counts as an iteration */
        none_done = false;
    }
    if (none_done) {
        return exec_block(rt, n->list2, n->n2, outer, out);
    }
    return SIG_NONE;
}

static jsig exec_set(jrt *rt, const jnode *n, jscope *scope) {
    jv v;
    if (n->b) {
        v = eval(rt, n->b, scope);
    } else {
        const jstr *s;
        jsig sig = capture(rt, n->list, n->n, scope, &s);
        if (sig != SIG_NONE) {
            return sig;
        }
        v = jv_str(s);
    }
    const jnode *t = n->a;
    rt->pos = n->pos;
    if (t->k == N_IDENT) {
        jscope_set(rt, scope, t->str, v);
    } else if (t->k == N_TUPLE) {
        if (!jv_is_arr(v)) {
            jerr(rt, "cannot unpack %s in {%% set %%}", jv_type_name(v));
        }
        if (v.u.a->n != t->n) {
            jerr(rt, "too %s items to unpack in {%% set %%} (%zu values, %zu names)", t->n > v.u.a->n ? "few" : "many",
                 v.u.a->n, t->n);
        }
        for (size_t i = 0; i < t->n; i++) {
            if (t->list[i]->k != N_IDENT) {
                jerr(rt, "{%% set %%} can only unpack into names");
            }
            jscope_set(rt, scope, t->list[i]->str, v.u.a->v[i]);
        }
    } else if (t->k == N_MEMBER) {
        if (t->flag) {
            jerr(rt, "{%% set %%} cannot assign to obj[key]; use a namespace attribute");
        }
        if (t->b->k != N_IDENT) {
            jerr(rt, "{%% set %%} needs an attribute name after '.'");
        }
        jv obj = eval(rt, t->a, scope);
        rt->pos = n->pos;
        if (obj.t != JT_OBJECT) {
            jerr(rt, "{%% set %%} cannot assign an attribute of %s", jv_type_name(obj));
        }
        jobj_set(rt, obj.u.o, jv_str(t->b->str), v);
    } else {
        jerr(rt, "{%% set %%} cannot assign to this expression");
    }
    return SIG_NONE;
}

static void exec_callblock(jrt *rt, const jnode *n, jscope *scope, jbuf *out) {
    const jnode *call = n->a;
    jv callee = eval(rt, call->a, scope);
    rt->pos = n->pos;
    if (callee.t != JT_FUNC) {
        jerr(rt, "'%s' in {%% call %%} is not a macro (it is %s)", call->a->str->p, jv_type_name(callee));
    }
    jscope *call_scope = jscope_new(rt, scope);
    jscope_set_s(rt, call_scope, "caller", func_value(rt, JF_CALLER, "caller", n, scope));
    jargs args;
    eval_args(rt, call->list, call->n, scope, &args);
    args.scope = call_scope;
    emit(rt, out, jinja_invoke(rt, callee, &args));
}

static jsig exec_stmt(jrt *rt, const jnode *n, jscope *scope, jbuf *out) {
    enter(rt);
    rt->pos = n->pos;
    size_t mark = out->len, mark_nb = out->nb;
    jsig sig = SIG_NONE;
    switch (n->k) {
    case N_TEXT: jb_add(out, n->str->p, n->str->len); break;
    case N_COMMENT:
    case N_NOOP: break;
    case N_IF:
        sig = jv_truthy(rt, eval(rt, n->a, scope)) ? exec_block(rt, n->list, n->n, scope, out)
                                                   : exec_block(rt, n->list2, n->n2, scope, out);
        break;
    case N_FOR: sig = exec_for(rt, n, scope, out); break;
    case N_BREAK: rt->depth--; return SIG_BREAK;
    case N_CONTINUE: rt->depth--; return SIG_CONTINUE;
    case N_SET: sig = exec_set(rt, n, scope); break;
    case N_MACRO:
        if (n->a->k != N_IDENT) {
            jerr(rt, "a macro name must be a name");
        }
        jscope_set(rt, scope, n->a->str, func_value(rt, JF_MACRO, n->a->str->p, n, NULL));
        break;
    case N_CALLBLOCK: exec_callblock(rt, n, scope, out); break;
    case N_FILTERBLOCK: {
        const jstr *s;
        sig = capture(rt, n->list, n->n, scope, &s);
        if (sig == SIG_NONE) {
            emit(rt, out, apply_filter(rt, n->a, jv_str(s), scope));
        }
        break;
    }
    default: emit(rt, out, eval(rt, n, scope)); break;
    }
    if (sig != SIG_NONE) {
        /* an interrupted statement adds nothing (llama.cpp drops its partial result with the exception) */
        out->len = mark;
        out->nb = mark_nb;
        while (out->npend > 0 && out->pend[out->npend - 1].at >= mark) {
            out->npend--;
        }
        if (out->p) {
            out->p[mark] = '\0';
        }
    } else if (n->k == N_IF || n->k == N_FOR) {
        settle(rt, out, mark);
    }
    rt->depth--;
    return sig;
}

static jsig exec_block(jrt *rt, jnode *const *list, size_t n, jscope *scope, jbuf *out) {
    for (size_t i = 0; i < n; i++) {
        jsig sig = exec_stmt(rt, list[i], scope, out);
        if (sig != SIG_NONE) {
            return sig; /* rt->pos stays at the break / continue */
        }
    }
    return SIG_NONE;
}

const jstr *jinja_render(jrt *rt, const jprog *prog, jscope *globals) {
    jbuf out;
    jb_init(&out, rt);
    if (exec_block(rt, prog->body, prog->n, globals, &out) != SIG_NONE) {
        jerr(rt, "{%% break %%} or {%% continue %%} outside a loop");
    }
    settle(rt, &out, 0);
    return jb_done(&out);
}
