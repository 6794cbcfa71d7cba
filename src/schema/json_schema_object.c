/*
 * json_schema_object.c - objects and arrays for the JSON Schema converter.
 *
 * An object's members come in the order of "properties": the grammar picks the first member present (any optional
 * one up to the first required one), then a chain of "rest" rules lists the members after it, each behind a comma
 * and optional or not, then any additional members, whose keys are kept apart from the declared ones by a trie of
 * their spellings. Arrays are a tuple (prefixItems) followed by a bounded or unbounded repetition of the item rule;
 * the items from minItems on nest as optional groups, so every count between minItems and maxItems is possible.
 */
#include "schema/json_schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A trie over the JSON spellings of property names, for "a key that is none of these". */
typedef struct trie_node {
    uint32_t cp;
    int child, next; /* first child, next sibling; -1 none */
    bool end;
} trie_node;

typedef struct trie {
    trie_node *nodes;
    size_t n, cap;
} trie;

static int trie_add_child(trie *t, int parent, uint32_t cp) {
    for (int k = t->nodes[parent].child; k >= 0; k = t->nodes[k].next) {
        if (t->nodes[k].cp == cp) {
            return k;
        }
    }
    if (t->n == t->cap) {
        size_t cap = t->cap * 2;
        trie_node *nn = realloc(t->nodes, cap * sizeof *nn);
        if (!nn) {
            return -1;
        }
        t->nodes = nn;
        t->cap = cap;
    }
    trie_node *nd = &t->nodes[t->n];
    nd->cp = cp;
    nd->child = -1;
    nd->next = t->nodes[parent].child;
    nd->end = false;
    t->nodes[parent].child = (int)t->n;
    return (int)t->n++;
}

static void trie_emit(const trie *t, int node, llamac__dynbuf *b, const char *ch) {
    llamac__dynbuf_adds(b, "(");
    bool first = true;
    for (int k = t->nodes[node].child; k >= 0; k = t->nodes[k].next) {
        llamac__dynbuf_adds(b, first ? "[" : " | [");
        llamac__js_class_cp(b, t->nodes[k].cp);
        llamac__dynbuf_adds(b, "] ");
        trie_emit(t, k, b, ch);
        first = false;
    }
    /* A character that leaves every name: then anything may follow. */
    llamac__dynbuf_addf(b, "%s[^\\x22\\x5C\\x00-\\x1F", first ? "" : " | ");
    for (int k = t->nodes[node].child; k >= 0; k = t->nodes[k].next) {
        llamac__js_class_cp(b, t->nodes[k].cp);
    }
    llamac__dynbuf_addf(b, "] %s* | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4}) %s*)", ch, ch);
    if (!t->nodes[node].end) {
        llamac__dynbuf_adds(b, "?");
    }
}

/* A JSON string that is none of `names` (their escaped spellings). Names with an escape are only excluded up to
 * the escape: keys that share their prefix and continue with an escape stay allowed (a superset). */
static char *not_strings(llamac__jsconv *c, json_t *names) {
    const char *ch = llamac__js_prim(c, P_CHAR);
    if (!ch) {
        return NULL;
    }
    trie t = { malloc(64 * sizeof(trie_node)), 1, 64 };
    if (!t.nodes) {
        return llamac__js_oom(c);
    }
    t.nodes[0] = (trie_node){ 0, -1, -1, false };
    for (size_t i = 0; i < json_array_size(names); i++) {
        const unsigned char *p = (const unsigned char *)json_string_value(json_array_get(names, i));
        int node = 0;
        bool escaped = false;
        size_t depth = 0;
        while (*p && node >= 0) {
            uint32_t cp = *p++;
            if (cp >= 0x80) {
                int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : 1;
                cp &= cp >= 0xF0 ? 0x07u : cp >= 0xE0 ? 0x0Fu : 0x1Fu;
                for (int k = 0; k < extra && *p; k++) {
                    cp = (cp << 6) | (*p++ & 0x3Fu);
                }
            }
            if (cp < 0x20 || cp == '"' || cp == '\\' || ++depth > 200) {
                escaped = true;
                break;
            }
            node = trie_add_child(&t, node, cp);
        }
        if (node < 0) {
            free(t.nodes);
            return llamac__js_oom(c);
        }
        if (!escaped) {
            t.nodes[node].end = true;
        }
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    llamac__dynbuf_adds(&b, "\"\\\"\" ");
    trie_emit(&t, 0, &b, ch);
    llamac__dynbuf_adds(&b, " \"\\\"\"");
    free(t.nodes);
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

typedef struct member {
    char *kv; /* rule name of `"key" space ":" space value space` */
    bool required;
} member;

bool llamac__js_names_has(json_t *names, const char *key) {
    for (size_t i = 0; i < json_array_size(names); i++) {
        if (strcmp(json_string_value(json_array_get(names, i)), key) == 0) {
            return true;
        }
    }
    return false;
}

/* The kv rule for one member. */
static char *kv_rule(llamac__jsconv *c, const char *key, const char *value_expr, const char *hint) {
    const char *sp = llamac__js_prim(c, P_SPACE);
    json_t *k = json_string(key);
    char *kt = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
    json_decref(k);
    if (!sp || !kt) {
        free(kt);
        return sp ? llamac__js_oom(c) : NULL;
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    llamac__dynbuf_adds(&b, "\"");
    llamac__js_lit_text(&b, kt, strlen(kt));
    llamac__dynbuf_addf(&b, "\" %s \":\" %s ", sp, sp);
    llamac__dynbuf_adds(&b, value_expr);
    llamac__dynbuf_addf(&b, " %s", sp);
    free(kt);
    char *h = llamac__js_hint(c, hint, key);
    char *h2 = h ? llamac__js_hint(c, h, "kv") : NULL;
    char *name = h2 ? llamac__js_add_rule(c, h2, llamac__js_take(c, &b)) : NULL;
    llamac__dynbuf_free(&b);
    free(h);
    free(h2);
    return name;
}

char *llamac__js_visit_object(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint) {
    json_t *props = json_object_get(s, "properties");
    json_t *req = json_object_get(s, "required");
    json_t *addl = json_object_get(s, "additionalProperties");
    if (props && !json_is_object(props)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "properties at %s/properties must be an object", ptr);
    }
    if (req && !json_is_array(req)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "required at %s/required must be an array of strings", ptr);
    }
    for (size_t i = 0; i < json_array_size(req); i++) {
        if (!json_is_string(json_array_get(req, i))) {
            return llamac__js_fail(c, LLAMAC_E_SCHEMA, "required at %s/required/%zu must be a string", ptr, i);
        }
    }
    if (addl && !json_is_object(addl) && !json_is_boolean(addl)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA,
                               "additionalProperties at %s/additionalProperties must be a schema or a boolean", ptr);
    }
    bool addl_none = json_is_false(addl);
    json_t *addl_schema = json_is_object(addl) ? addl : NULL;
    if (json_object_get(s, "patternProperties")) {
        /* Keys matching a pattern escape additionalProperties; without checking patterns, allow any extra key. */
        addl_none = false;
        addl_schema = NULL;
    }
    if (json_object_size(props) == 0 && json_array_size(req) == 0 && !addl_none && !addl_schema) {
        const char *o = llamac__js_prim(c, P_OBJECT);
        return o ? llamac__js_strdup(c, o) : NULL;
    }
    const char *sp = llamac__js_prim(c, P_SPACE);
    if (!sp) {
        return NULL;
    }
    c->container_depth++;
    size_t cap = json_object_size(props) + json_array_size(req) + 1;
    member *m = calloc(cap, sizeof *m);
    json_t *names = json_array();
    char *out = NULL, *addl_kv = NULL;
    size_t n = 0;
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    if (!m || !names) {
        llamac__js_oom(c);
        goto done;
    }
    const char *key;
    json_t *sub;
    json_object_foreach(props, key, sub) {
        bool required = llamac__js_names_has(req, key);
        json_array_append_new(names, json_string(key));
        if (json_is_false(sub)) {
            if (required) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "property \"%.100s\" at %s is required but its schema is false",
                                key, ptr);
                goto done;
            }
            continue;
        }
        char *sptr = llamac__js_ptr(c, ptr, "properties");
        char *pptr = sptr ? llamac__js_ptr(c, sptr, key) : NULL;
        char *h = pptr ? llamac__js_hint(c, hint, key) : NULL;
        char *expr = h ? llamac__js_visit(c, sub, pptr, h) : NULL;
        free(sptr);
        free(pptr);
        free(h);
        if (!expr) {
            goto done;
        }
        m[n].kv = kv_rule(c, key, expr, hint);
        free(expr);
        if (!m[n].kv) {
            goto done;
        }
        m[n++].required = required;
    }
    /* Required names without a declared schema take additionalProperties' schema. */
    for (size_t i = 0; i < json_array_size(req); i++) {
        const char *rk = json_string_value(json_array_get(req, i));
        if (llamac__js_names_has(names, rk)) {
            continue;
        }
        if (addl_none) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA,
                            "required property \"%.100s\" at %s/required is not allowed by additionalProperties: false",
                            rk, ptr);
            goto done;
        }
        json_array_append_new(names, json_string(rk));
        char *expr = NULL;
        if (addl_schema) {
            char *aptr = llamac__js_ptr(c, ptr, "additionalProperties");
            char *h = aptr ? llamac__js_hint(c, hint, rk) : NULL;
            expr = h ? llamac__js_visit(c, addl_schema, aptr, h) : NULL;
            free(aptr);
            free(h);
        } else {
            const char *v = llamac__js_prim(c, P_VALUE);
            expr = v ? llamac__js_strdup(c, v) : NULL;
        }
        if (!expr) {
            goto done;
        }
        m[n].kv = kv_rule(c, rk, expr, hint);
        free(expr);
        if (!m[n].kv) {
            goto done;
        }
        m[n++].required = true;
    }
    if (!addl_none) {
        char *expr = NULL;
        if (addl_schema) {
            char *aptr = llamac__js_ptr(c, ptr, "additionalProperties");
            char *h = aptr ? llamac__js_hint(c, hint, "additional-value") : NULL;
            expr = h ? llamac__js_visit(c, addl_schema, aptr, h) : NULL;
            free(aptr);
            free(h);
        } else {
            const char *v = llamac__js_prim(c, P_VALUE);
            expr = v ? llamac__js_strdup(c, v) : NULL;
        }
        char *keyexpr = NULL;
        if (expr) {
            if (json_array_size(names) > 0) {
                keyexpr = not_strings(c, names);
            } else {
                const char *st = llamac__js_prim(c, P_STRING);
                keyexpr = st ? llamac__js_strdup(c, st) : NULL;
            }
        }
        if (!keyexpr) {
            free(expr);
            goto done;
        }
        llamac__dynbuf kb = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
        llamac__dynbuf_addf(&kb, "%s %s \":\" %s %s %s", keyexpr, sp, sp, expr, sp);
        free(keyexpr);
        free(expr);
        char *h = llamac__js_hint(c, hint, "additional-kv");
        addl_kv = h ? llamac__js_add_rule(c, h, llamac__js_take(c, &kb)) : NULL;
        llamac__dynbuf_free(&kb);
        free(h);
        if (!addl_kv) {
            goto done;
        }
    }
    /* rest[i] (i >= 1): members i.. after a first one, each preceded by a comma; named rules built from the end
     * (rest[n] is the additional members' repetition, inline). */
    char **rest = calloc(n + 1, sizeof *rest);
    if (!rest) {
        llamac__js_oom(c);
        goto done;
    }
    if (addl_kv) {
        llamac__dynbuf rb = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
        llamac__dynbuf_addf(&rb, "(\",\" %s %s)*", sp, addl_kv);
        rest[n] = llamac__js_take(c, &rb);
        if (!rest[n]) {
            llamac__js_oom(c);
        }
    }
    for (size_t i = n; i-- > 1 && c->status == LLAMAC_OK;) {
        llamac__dynbuf rb = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
        llamac__dynbuf_addf(&rb, "%s\",\" %s %s%s", m[i].required ? "" : "(", sp, m[i].kv, m[i].required ? "" : ")?");
        if (rest[i + 1]) {
            llamac__dynbuf_addf(&rb, " %s", rest[i + 1]);
        }
        char *h = llamac__js_hint(c, hint, "rest");
        rest[i] = h ? llamac__js_add_rule(c, h, llamac__js_take(c, &rb)) : NULL;
        llamac__dynbuf_free(&rb);
        free(h);
    }
    /* The first member present is any optional one up to and including the first required one. */
    bool any_required = false;
    llamac__dynbuf_adds(&b, "\"{\" ");
    llamac__dynbuf_adds(&b, sp);
    llamac__dynbuf_adds(&b, " (");
    size_t alts = 0;
    for (size_t i = 0; i < n && c->status == LLAMAC_OK; i++) {
        llamac__dynbuf_addf(&b, "%s%s", alts++ ? " | " : "", m[i].kv);
        if (rest[i + 1]) {
            llamac__dynbuf_addf(&b, " %s", rest[i + 1]);
        }
        if (m[i].required) {
            any_required = true;
            break;
        }
    }
    if (!any_required && addl_kv) {
        llamac__dynbuf_addf(&b, "%s%s %s", alts++ ? " | " : "", addl_kv, rest[n]);
    }
    llamac__dynbuf_adds(&b, any_required ? ") \"}\"" : ")? \"}\"");
    if (alts == 0) {
        /* No member can appear: only the empty object. */
        llamac__dynbuf_free(&b);
        llamac__dynbuf_addf(&b, "\"{\" %s \"}\"", sp);
    }
    for (size_t i = 0; i <= n; i++) {
        free(rest[i]);
    }
    free(rest);
    if (c->status == LLAMAC_OK) {
        out = llamac__js_take(c, &b);
        if (!out) {
            llamac__js_oom(c);
        }
    }
done:
    c->container_depth--;
    llamac__dynbuf_free(&b);
    for (size_t i = 0; i < n; i++) {
        free(m[i].kv);
    }
    free(m);
    free(addl_kv);
    json_decref(names);
    return out;
}

/* The expression of an array item schema, or NULL with *none set for `false`. */
static char *item_expr(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint, bool *none) {
    *none = json_is_false(s);
    if (*none) {
        return NULL;
    }
    if (!s || json_is_true(s)) {
        const char *v = llamac__js_prim(c, P_VALUE);
        return v ? llamac__js_strdup(c, v) : NULL;
    }
    return llamac__js_visit(c, s, ptr, hint);
}

char *llamac__js_visit_array(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint) {
    json_t *prefix = json_object_get(s, "prefixItems");
    json_t *items = json_object_get(s, "items");
    json_t *rest_schema = items;
    const char *rest_key = "items";
    if (json_is_array(items) && !prefix) {
        /* Draft 4-2019: "items" as an array is the tuple, "additionalItems" the rest. */
        prefix = items;
        rest_schema = json_object_get(s, "additionalItems");
        rest_key = "additionalItems";
    }
    if (prefix && !json_is_array(prefix)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "prefixItems at %s/prefixItems must be an array", ptr);
    }
    if (rest_schema && !json_is_object(rest_schema) && !json_is_boolean(rest_schema)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s must be a schema", rest_key, ptr, rest_key);
    }
    size_t min = 0, max = 0;
    bool has_min = false, has_max = false;
    if (!llamac__js_count(c, s, "minItems", ptr, &min, &has_min) ||
        !llamac__js_count(c, s, "maxItems", ptr, &max, &has_max)) {
        return NULL;
    }
    size_t k = json_array_size(prefix);
    bool unbounded = !has_max;
    if (json_is_false(rest_schema) && (unbounded || max > k)) {
        unbounded = false;
        max = k;
    }
    if (!unbounded && min > max) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "minItems %zu > maxItems %zu at %s: no array is valid", min, max,
                               ptr);
    }
    if (k == 0 && !json_is_object(rest_schema) && min == 0 && unbounded) {
        const char *a = llamac__js_prim(c, P_ARRAY);
        return a ? llamac__js_strdup(c, a) : NULL;
    }
    const char *sp = llamac__js_prim(c, P_SPACE);
    if (!sp) {
        return NULL;
    }
    if (!unbounded && max > LLAMAC__JS_REP_CAP + k) {
        unbounded = true;
    }
    if (min > LLAMAC__JS_REP_CAP + k) {
        min = LLAMAC__JS_REP_CAP + k;
    }
    if (!unbounded && max < k) {
        k = max; /* prefix items past maxItems cannot appear */
    }
    c->container_depth++;
    char **pe = calloc(k + 1, sizeof *pe);
    char *rest = NULL, *out = NULL;
    bool rest_none = false;
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    if (!pe) {
        llamac__js_oom(c);
        goto done;
    }
    for (size_t i = 0; i < k; i++) {
        json_t *ps = json_array_get(prefix, i);
        char *iptr = llamac__js_ptr_index(c, ptr, json_object_get(s, "prefixItems") ? "prefixItems" : "items", i);
        char tmp[32];
        snprintf(tmp, sizeof tmp, "tuple-%zu", i);
        char *h = iptr ? llamac__js_hint(c, hint, tmp) : NULL;
        bool none = false;
        pe[i] = h ? item_expr(c, ps, iptr, h, &none) : NULL;
        free(iptr);
        free(h);
        if (none) {
            /* A prefix item that can be nothing caps the array before it. */
            if (min > i) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "prefixItems at %s/prefixItems/%zu is false but minItems needs it",
                                ptr, i);
                goto done;
            }
            k = i;
            unbounded = false;
            max = i;
            break;
        }
        if (!pe[i]) {
            goto done;
        }
    }
    if (unbounded || max > k) {
        char *rptr = llamac__js_ptr(c, ptr, rest_key);
        char *h = rptr ? llamac__js_hint(c, hint, "item") : NULL;
        rest = h ? item_expr(c, rest_schema, rptr, h, &rest_none) : NULL;
        free(rptr);
        if (rest && strpbrk(rest, " ()\"[|")) {
            /* Repeated below: a rule reference keeps llama.cpp from copying the whole expression per repetition. */
            char *name = llamac__js_add_rule(c, h, rest);
            rest = name;
        }
        free(h);
        if (!rest && !rest_none) {
            goto done;
        }
        if (rest_none) {
            unbounded = false;
            max = k;
            if (min > max) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "minItems %zu at %s needs more items than the schema allows", min,
                                ptr);
                goto done;
            }
        }
    }
    /* Item j (0-based) is present only if the array is longer than j: items from minItems on are optional, each
     * optional group nesting everything after it. */
    size_t total_max = unbounded ? (size_t)-1 : max;
    llamac__dynbuf_addf(&b, "\"[\" %s", sp);
    size_t opened = 0, j = 0;
    for (; j < k && j < total_max; j++) {
        bool optional = j >= min;
        llamac__dynbuf_adds(&b, optional ? " (" : " ");
        opened += optional;
        if (j > 0) {
            llamac__dynbuf_addf(&b, "\",\" %s ", sp);
        }
        llamac__dynbuf_addf(&b, "%s %s", pe[j], sp);
    }
    if (rest && j < total_max) {
        size_t r_min = min > j ? min - j : 0;
        size_t r_max = unbounded ? (size_t)-1 : total_max - j;
        if (j == 0) {
            /* No tuple: the first item has no comma before it. */
            bool optional = r_min == 0;
            llamac__dynbuf_adds(&b, optional ? " (" : " ");
            opened += optional;
            llamac__dynbuf_addf(&b, "%s %s", rest, sp);
            r_min = r_min > 0 ? r_min - 1 : 0;
            r_max = unbounded ? r_max : r_max - 1;
        }
        if (unbounded || r_max > 0) {
            llamac__dynbuf_addf(&b, " (\",\" %s %s %s)", sp, rest, sp);
            if (unbounded) {
                if (r_min <= 1) {
                    llamac__dynbuf_adds(&b, r_min == 0 ? "*" : "+");
                } else {
                    llamac__dynbuf_addf(&b, "{%zu,}", r_min);
                }
            } else if (r_min == 0 && r_max == 1) {
                llamac__dynbuf_adds(&b, "?");
            } else {
                llamac__dynbuf_addf(&b, "{%zu,%zu}", r_min, r_max);
            }
        }
    }
    for (size_t o = 0; o < opened; o++) {
        llamac__dynbuf_adds(&b, ")?");
    }
    llamac__dynbuf_adds(&b, " \"]\"");
    out = llamac__js_take(c, &b);
    if (!out) {
        llamac__js_oom(c);
    }
done:
    c->container_depth--;
    llamac__dynbuf_free(&b);
    for (size_t i = 0; pe && i <= k; i++) {
        free(pe[i]);
    }
    free(pe);
    free(rest);
    return out;
}
