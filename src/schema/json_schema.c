/*
 * json_schema.c - JSON Schema to GBNF: a grammar whose sentences are the JSON texts valid under a schema.
 *
 * The converter walks the schema once, turning each subschema into a GBNF expression; named rules are made for
 * object members, $ref targets (so recursive schemas become recursive rules) and the shared primitives (string,
 * number, ...), which are emitted only when used. The design rule is soundness over tightness: wherever a keyword
 * cannot be expressed exactly, the grammar accepts a superset (ignored keywords, allOf merged keyword by keyword,
 * oneOf as anyOf) and never a subset, with two documented exceptions that fix JSON's free choices: properties come
 * in schema order and whitespace is bounded. What cannot be enforced at all (a remote $ref, an unsupported regex)
 * is an LLAMAC_E_SCHEMA naming the keyword and its JSON pointer.
 */
#include "schema/json_schema_internal.h"

#include <ctype.h>
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef llamac__jsconv conv;

#define MAX_DEPTH 96
#define MAX_WORK 50000
#define MAX_RULES 20000
#define MAX_NAME 80
#define MAX_PATTERN_ELEMENTS 1000000 /* all patterns of a schema together, once llama.cpp expands them */

static const char *const prim_names[P_COUNT] = {
    "space", "value", "object", "array",     "string",      "char",        "number",           "integer", "boolean",
    "null",  "date",  "time",   "date-time", "date-string", "time-string", "date-time-string", "uuid",
};

/* Rule bodies; %s stands for the names of the primitives listed in prim_deps, in order. */
static const char *const prim_bodies[P_COUNT] = {
    "| \" \" | \"\\n\"{1,2} [ \\t]{0,20}",
    "%s | %s | %s | %s | %s | %s",
    "\"{\" %s ( %s %s \":\" %s %s %s ( \",\" %s %s %s \":\" %s %s %s )* )? \"}\"",
    "\"[\" %s ( %s %s ( \",\" %s %s %s )* )? \"]\"",
    "\"\\\"\" %s* \"\\\"\"",
    "[^\"\\\\\\x00-\\x1F] | \"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})",
    "%s (\".\" [0-9]+)? ([eE] [-+]? [0-9]+)?",
    "\"-\"? (\"0\" | [1-9] [0-9]*)",
    "\"true\" | \"false\"",
    "\"null\"",
    "[0-9]{4} \"-\" (\"0\" [1-9] | \"1\" [0-2]) \"-\" (\"0\" [1-9] | [12] [0-9] | \"3\" [01])",
    "([01] [0-9] | \"2\" [0-3]) \":\" [0-5] [0-9] \":\" ([0-5] [0-9] | \"60\") (\".\" [0-9]+)? ([zZ] | [-+] ([01] "
    "[0-9] | \"2\" [0-3]) \":\" [0-5] [0-9])",
    "%s [tT] %s",
    "\"\\\"\" %s \"\\\"\"",
    "\"\\\"\" %s \"\\\"\"",
    "\"\\\"\" %s \"\\\"\"",
    "\"\\\"\" [0-9a-fA-F]{8} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{4} \"-\" [0-9a-fA-F]{12} "
    "\"\\\"\"",
};

/* The primitives each body refers to, in the order of its %s; -1 ends. */
static const int prim_deps[P_COUNT][14] = {
    [P_SPACE] = { -1 },
    [P_VALUE] = { P_OBJECT, P_ARRAY, P_STRING, P_NUMBER, P_BOOLEAN, P_NULL, -1 },
    [P_OBJECT] = { P_SPACE, P_STRING, P_SPACE, P_SPACE, P_VALUE, P_SPACE, P_SPACE, P_STRING, P_SPACE, P_SPACE, P_VALUE,
                   P_SPACE, -1 },
    [P_ARRAY] = { P_SPACE, P_VALUE, P_SPACE, P_SPACE, P_VALUE, P_SPACE, -1 },
    [P_STRING] = { P_CHAR, -1 },
    [P_CHAR] = { -1 },
    [P_NUMBER] = { P_INTEGER, -1 },
    [P_INTEGER] = { -1 },
    [P_BOOLEAN] = { -1 },
    [P_NULL] = { -1 },
    [P_DATE] = { -1 },
    [P_TIME] = { -1 },
    [P_DATE_TIME] = { P_DATE, P_TIME, -1 },
    [P_DATE_STRING] = { P_DATE, -1 },
    [P_TIME_STRING] = { P_TIME, -1 },
    [P_DATE_TIME_STRING] = { P_DATE_TIME, -1 },
    [P_UUID] = { -1 },
};

static const struct {
    const char *name;
    int bit;
} type_names[] = {
    { "object", T_OBJECT },   { "array", T_ARRAY },     { "string", T_STRING }, { "number", T_NUMBER },
    { "integer", T_INTEGER }, { "boolean", T_BOOLEAN }, { "null", T_NULL },
};

char *llamac__js_fail(conv *c, llamac_status st, const char *fmt, ...) {
    if (c->status == LLAMAC_OK) {
        char msg[1024];
        va_list ap;
        va_start(ap, fmt);
        vsnprintf(msg, sizeof msg, fmt, ap);
        va_end(ap);
        c->status = llamac__fail(st, "%s", msg);
    }
    return NULL;
}

char *llamac__js_oom(conv *c) {
    return llamac__js_fail(c, LLAMAC_E_NO_MEMORY, "out of memory while converting the JSON Schema");
}

char *llamac__js_take(conv *c, llamac__dynbuf *b) {
    char *s = llamac__dynbuf_take(b, NULL);
    if (!s) {
        return llamac__dynbuf_error(b) == LLAMAC__DYNBUF_TOO_BIG
                   ? llamac__js_fail(c, LLAMAC_E_SCHEMA, "the grammar for this schema exceeds %u bytes",
                                     (unsigned)LLAMAC__JS_MAX_OUTPUT)
                   : llamac__js_oom(c);
    }
    return s;
}

char *llamac__js_strdup(conv *c, const char *s) {
    char *p = llamac__strndup(s, strlen(s));
    if (!p) {
        llamac__js_oom(c);
    }
    return p;
}

/* ---- rules ---- */

static size_t name_hash(const char *s) {
    size_t h = 1469598103934665603ull & (size_t)-1;
    for (; *s; s++) {
        h = (h ^ (unsigned char)*s) * 1099511628211ull;
    }
    return h;
}

static bool name_taken(const conv *c, const char *name) {
    if (!c->hash_cap) {
        return false;
    }
    for (size_t i = name_hash(name) & (c->hash_cap - 1);; i = (i + 1) & (c->hash_cap - 1)) {
        if (!c->hash[i]) {
            return false;
        }
        if (strcmp(c->rules[c->hash[i] - 1].name, name) == 0) {
            return true;
        }
    }
}

static bool hash_insert(conv *c, size_t idx) {
    if ((c->n_rules + 1) * 2 > c->hash_cap) {
        size_t cap = c->hash_cap ? c->hash_cap * 2 : 256;
        size_t *h = calloc(cap, sizeof *h);
        if (!h) {
            return false;
        }
        free(c->hash);
        c->hash = h;
        c->hash_cap = cap;
        for (size_t r = 0; r < c->n_rules; r++) {
            if (r == idx) {
                continue;
            }
            size_t i = name_hash(c->rules[r].name) & (cap - 1);
            while (h[i]) {
                i = (i + 1) & (cap - 1);
            }
            h[i] = r + 1;
        }
    }
    size_t i = name_hash(c->rules[idx].name) & (c->hash_cap - 1);
    while (c->hash[i]) {
        i = (i + 1) & (c->hash_cap - 1);
    }
    c->hash[i] = idx + 1;
    return true;
}

/* Adds a rule named after `hint` (made unique, prefixed) with `body` (taken; may be NULL to reserve the name).
 * Returns its index, or (size_t)-1 on failure. `raw_name` skips the prefix (the root rule). */
static size_t add_rule_named(conv *c, const char *hint, char *body, bool raw_name) {
    if (c->status != LLAMAC_OK) {
        free(body);
        return (size_t)-1;
    }
    if (c->n_rules >= MAX_RULES) {
        free(body);
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "the schema needs more than %d grammar rules", MAX_RULES);
        return (size_t)-1;
    }
    char base[MAX_NAME + 8];
    size_t n = 0;
    if (raw_name) {
        snprintf(base, sizeof base, "%s", hint);
        n = strlen(base);
        hint = "";
    } else {
        for (const char *p = c->prefix; *p && n < MAX_NAME / 2; p++) {
            base[n++] = *p;
        }
    }
    bool dash = n > 0 && base[n - 1] == '-';
    for (const char *p = hint; *p && n < MAX_NAME; p++) {
        char ch = *p;
        bool ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9');
        if (ok) {
            base[n++] = ch;
            dash = false;
        } else if (!dash && n > 0) {
            base[n++] = '-';
            dash = true;
        }
    }
    while (n > 0 && base[n - 1] == '-' && !raw_name && hint[0]) {
        n--;
    }
    if (n == 0) {
        memcpy(base, "r", 2);
        n = 1;
    }
    base[n] = '\0';
    char name[MAX_NAME + 32];
    snprintf(name, sizeof name, "%s", base);
    for (unsigned k = 1; name_taken(c, name); k++) {
        snprintf(name, sizeof name, "%s-%u", base, k);
    }
    if (c->n_rules == c->cap_rules) {
        size_t cap = c->cap_rules ? c->cap_rules * 2 : 64;
        llamac__jsrule *r = realloc(c->rules, cap * sizeof *r);
        if (!r) {
            free(body);
            llamac__js_oom(c);
            return (size_t)-1;
        }
        c->rules = r;
        c->cap_rules = cap;
    }
    char *nm = llamac__js_strdup(c, name);
    if (!nm) {
        free(body);
        return (size_t)-1;
    }
    c->rules[c->n_rules].name = nm;
    c->rules[c->n_rules].body = body;
    c->n_rules++;
    if (!hash_insert(c, c->n_rules - 1)) {
        llamac__js_oom(c);
        return (size_t)-1;
    }
    return c->n_rules - 1;
}

/* Adds a rule and returns a copy of its name (caller frees), NULL on failure. */
char *llamac__js_add_rule(conv *c, const char *hint, char *body) {
    if (!body) {
        return c->status == LLAMAC_OK ? llamac__js_oom(c) : NULL;
    }
    size_t idx = add_rule_named(c, hint, body, false);
    return idx == (size_t)-1 ? NULL : llamac__js_strdup(c, c->rules[idx].name);
}

/* The name of primitive `p` (owned by the rule table), emitting it and its dependencies on first use. */
const char *llamac__js_prim(conv *c, enum prim p) {
    if (c->prim_rule[p]) {
        return c->rules[c->prim_rule[p] - 1].name;
    }
    size_t idx = add_rule_named(c, prim_names[p], NULL, false);
    if (idx == (size_t)-1) {
        return NULL;
    }
    c->prim_rule[p] = (int)idx + 1;
    const char *dep[14] = { 0 };
    for (int k = 0; prim_deps[p][k] >= 0; k++) {
        dep[k] = llamac__js_prim(c, (enum prim)prim_deps[p][k]);
        if (!dep[k]) {
            return NULL;
        }
    }
    /* Bodies are written with the plain names; substitute the emitted (prefixed) ones. */
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    const char *fmt = prim_bodies[p];
    int k = 0;
    for (const char *s = fmt; *s; s++) {
        if (s[0] == '%' && s[1] == 's') {
            llamac__dynbuf_adds(&b, dep[k++]);
            s++;
        } else {
            llamac__dynbuf_add(&b, s, 1);
        }
    }
    char *body = llamac__js_take(c, &b);
    if (!body) {
        llamac__js_oom(c);
        return NULL;
    }
    c->rules[idx].body = body;
    return c->rules[idx].name;
}

/* ---- JSON pointers ---- */

/* parent + "/" + key with ~ and / escaped. Caller frees; NULL on failure. */
char *llamac__js_ptr(conv *c, const char *parent, const char *key) {
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    llamac__dynbuf_adds(&b, parent);
    llamac__dynbuf_adds(&b, "/");
    for (const char *p = key; *p; p++) {
        if (*p == '~') {
            llamac__dynbuf_adds(&b, "~0");
        } else if (*p == '/') {
            llamac__dynbuf_adds(&b, "~1");
        } else {
            llamac__dynbuf_add(&b, p, 1);
        }
    }
    char *s = llamac__js_take(c, &b);
    if (!s) {
        llamac__js_oom(c);
    }
    return s;
}

char *llamac__js_ptr_index(conv *c, const char *parent, const char *key, size_t i) {
    char tmp[64];
    snprintf(tmp, sizeof tmp, "%zu", i);
    char *a = llamac__js_ptr(c, parent, key);
    if (!a) {
        return NULL;
    }
    char *b = llamac__js_ptr(c, a, tmp);
    free(a);
    return b;
}

char *llamac__js_hint(conv *c, const char *hint, const char *part) {
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    if (hint[0]) {
        llamac__dynbuf_adds(&b, hint);
        llamac__dynbuf_adds(&b, "-");
    }
    llamac__dynbuf_add(&b, part, strlen(part) > 40 ? 40 : strlen(part));
    char *s = llamac__js_take(c, &b);
    if (!s) {
        llamac__js_oom(c);
    }
    return s;
}

/* Resolves a local reference ("#", "#/a/b" with ~0 ~1 and %XX escapes) against the root. */
json_t *llamac__js_resolve_ref(conv *c, const char *ref, const char *ptr) {
    if (ref[0] != '#') {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref \"%.200s\" at %s: only local references (\"#/...\") are supported",
                        ref, ptr[0] ? ptr : "/");
        return NULL;
    }
    if (ref[1] != '\0' && ref[1] != '/') {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref \"%.200s\" at %s: anchors are not supported, only JSON pointers", ref,
                        ptr[0] ? ptr : "/");
        return NULL;
    }
    json_t *node = c->root;
    const char *p = ref + 1;
    while (*p == '/') {
        p++;
        char key[512];
        size_t n = 0;
        while (*p && *p != '/') {
            char ch = *p++;
            if (ch == '~' && (*p == '0' || *p == '1')) {
                ch = *p++ == '0' ? '~' : '/';
            } else if (ch == '%' && p[0] && p[1] && isxdigit((unsigned char)p[0]) && isxdigit((unsigned char)p[1])) {
                char hx[3] = { p[0], p[1], 0 };
                ch = (char)strtol(hx, NULL, 16);
                p += 2;
            }
            if (n + 1 >= sizeof key) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref at %s: a pointer segment is too long", ptr[0] ? ptr : "/");
                return NULL;
            }
            key[n++] = ch;
        }
        key[n] = '\0';
        json_t *next = NULL;
        if (json_is_object(node)) {
            next = json_object_get(node, key);
        } else if (json_is_array(node)) {
            char *end = NULL;
            unsigned long i = strtoul(key, &end, 10);
            if (n > 0 && *end == '\0' && key[0] != '-') {
                next = json_array_get(node, i);
            }
        }
        if (!next) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref \"%.200s\" at %s does not resolve", ref, ptr[0] ? ptr : "/");
            return NULL;
        }
        node = next;
    }
    return node;
}

/* ---- keyword readers ---- */

bool llamac__js_count(conv *c, json_t *s, const char *key, const char *ptr, size_t *out, bool *present) {
    json_t *v = json_object_get(s, key);
    *present = v != NULL;
    if (!v) {
        return true;
    }
    double d = json_is_number(v) ? json_number_value(v) : -1.0;
    if (!json_is_number(v) || d < 0 || d != floor(d)) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s must be a non-negative integer", key, ptr, key);
        return false;
    }
    *out = d > 1e15 ? (size_t)1e15 : (size_t)d;
    return true;
}

bool llamac__js_parse_types(conv *c, json_t *s, const char *ptr, int *mask) {
    json_t *t = json_object_get(s, "type");
    *mask = 0;
    if (!t) {
        *mask = T_ALL;
        return true;
    }
    size_t n = json_is_array(t) ? json_array_size(t) : 1;
    for (size_t i = 0; i < n; i++) {
        json_t *one = json_is_array(t) ? json_array_get(t, i) : t;
        if (!json_is_string(one)) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "type at %s/type must be a string or an array of strings", ptr);
            return false;
        }
        int bit = 0;
        for (size_t k = 0; k < sizeof type_names / sizeof type_names[0]; k++) {
            if (strcmp(json_string_value(one), type_names[k].name) == 0) {
                bit = type_names[k].bit;
            }
        }
        if (!bit) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "unknown type \"%.100s\" at %s/type", json_string_value(one), ptr);
            return false;
        }
        *mask |= bit;
    }
    if (*mask == 0) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "type at %s/type is an empty list: no value is valid", ptr);
        return false;
    }
    if (*mask & T_NUMBER) {
        *mask |= T_INTEGER;
    }
    return true;
}

json_t *llamac__js_type_list(int mask) {
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < sizeof type_names / sizeof type_names[0]; i++) {
        if ((mask & type_names[i].bit) && !(type_names[i].bit == T_INTEGER && (mask & T_NUMBER))) {
            json_array_append_new(arr, json_string(type_names[i].name));
        }
    }
    if (json_array_size(arr) == 0) {
        json_decref(arr);
        return NULL;
    }
    return arr;
}

static int value_type(json_t *v) {
    switch (json_typeof(v)) {
    case JSON_OBJECT: return T_OBJECT;
    case JSON_ARRAY: return T_ARRAY;
    case JSON_STRING: return T_STRING;
    case JSON_INTEGER: return T_INTEGER | T_NUMBER;
    case JSON_REAL: {
        double d = json_real_value(v);
        return d == floor(d) ? (T_INTEGER | T_NUMBER) : T_NUMBER;
    }
    case JSON_TRUE:
    case JSON_FALSE: return T_BOOLEAN;
    default: return T_NULL;
    }
}

/* ---- constants ---- */

static void emit_const(conv *c, json_t *v, llamac__dynbuf *b) {
    const char *sp = llamac__js_prim(c, P_SPACE);
    if (!sp) {
        llamac__dynbuf_fail(b, LLAMAC__DYNBUF_NO_MEMORY);
        return;
    }
    if (json_is_object(v)) {
        llamac__dynbuf_addf(b, "\"{\" %s", sp);
        const char *key;
        json_t *item;
        bool first = true;
        json_object_foreach(v, key, item) {
            json_t *k = json_string(key);
            char *kt = k ? json_dumps(k, JSON_ENCODE_ANY) : NULL;
            json_decref(k);
            if (!kt) {
                llamac__dynbuf_fail(b, LLAMAC__DYNBUF_NO_MEMORY);
                return;
            }
            if (!first) {
                llamac__dynbuf_addf(b, " \",\" %s", sp);
            }
            llamac__dynbuf_adds(b, " \"");
            llamac__js_lit_text(b, kt, strlen(kt));
            free(kt);
            llamac__dynbuf_addf(b, "\" %s \":\" %s ", sp, sp);
            emit_const(c, item, b);
            llamac__dynbuf_addf(b, " %s", sp);
            first = false;
        }
        llamac__dynbuf_adds(b, " \"}\"");
    } else if (json_is_array(v)) {
        llamac__dynbuf_addf(b, "\"[\" %s", sp);
        for (size_t i = 0; i < json_array_size(v); i++) {
            if (i > 0) {
                llamac__dynbuf_addf(b, " \",\" %s", sp);
            }
            llamac__dynbuf_adds(b, " ");
            emit_const(c, json_array_get(v, i), b);
            llamac__dynbuf_addf(b, " %s", sp);
        }
        llamac__dynbuf_adds(b, " \"]\"");
    } else {
        char *t = json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT | JSON_REAL_PRECISION(17));
        if (!t) {
            llamac__dynbuf_fail(b, LLAMAC__DYNBUF_NO_MEMORY);
            return;
        }
        llamac__dynbuf_adds(b, "\"");
        llamac__js_lit_text(b, t, strlen(t));
        llamac__dynbuf_adds(b, "\"");
        free(t);
    }
}

/* enum/const: the constants whose type the schema's type allows. */
static char *visit_enum(conv *c, json_t *s, const char *ptr, int types) {
    json_t *e = json_object_get(s, "enum");
    json_t *k = json_object_get(s, "const");
    if (e && !json_is_array(e)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "enum at %s/enum must be an array", ptr);
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    size_t n = 0;
    llamac__dynbuf_adds(&b, "(");
    size_t count = k ? 1 : json_array_size(e);
    for (size_t i = 0; i < count; i++) {
        json_t *v = k ? k : json_array_get(e, i);
        if (!(value_type(v) & types)) {
            continue;
        }
        if (k && e) {
            /* const and enum together: const must be one of the enum's values. */
            bool found = false;
            for (size_t j = 0; j < json_array_size(e); j++) {
                found = found || json_equal(json_array_get(e, j), v);
            }
            if (!found) {
                continue;
            }
        }
        if (n++ > 0) {
            llamac__dynbuf_adds(&b, " | ");
        }
        emit_const(c, v, &b);
    }
    llamac__dynbuf_adds(&b, ")");
    if (n == 0) {
        llamac__dynbuf_free(&b);
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s: no value matches the schema's type",
                               k ? "const" : "enum", ptr, k ? "const" : "enum");
    }
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

/* ---- strings ---- */

static char *visit_string(conv *c, json_t *s, const char *ptr) {
    json_t *pattern = json_object_get(s, "pattern");
    json_t *format = json_object_get(s, "format");
    if (pattern && !json_is_string(pattern)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "pattern at %s/pattern must be a string", ptr);
    }
    if (pattern) {
        const char *ch = llamac__js_prim(c, P_CHAR);
        if (!ch) {
            return NULL;
        }
        llamac__js_regex_in in = { json_string_value(pattern), ch, c->dotall };
        llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
        char why[256] = "";
        size_t expanded = 0;
        if (llamac__js_regex(&in, &b, &expanded, why, sizeof why)) {
            c->pattern_elements += expanded;
            if (c->pattern_elements > MAX_PATTERN_ELEMENTS) {
                llamac__dynbuf_free(&b);
                return llamac__js_fail(c, LLAMAC_E_SCHEMA,
                                       "the patterns of the schema (the last at %s/pattern) expand to too "
                                       "large a grammar",
                                       ptr);
            }
            char *out = llamac__js_take(c, &b);
            return out ? out : llamac__js_oom(c);
        }
        llamac__dynbuf_free(&b);
        if (!c->relax_patterns) {
            return llamac__js_fail(c, LLAMAC_E_SCHEMA, "pattern \"%.200s\" at %s/pattern cannot be enforced: %s",
                                   json_string_value(pattern), ptr, why);
        }
        const char *str = llamac__js_prim(c, P_STRING);
        return str ? llamac__js_strdup(c, str) : NULL;
    }
    if (json_is_string(format)) {
        const char *f = json_string_value(format);
        enum prim p = P_COUNT;
        if (strcmp(f, "date") == 0) {
            p = P_DATE_STRING;
        } else if (strcmp(f, "time") == 0) {
            p = P_TIME_STRING;
        } else if (strcmp(f, "date-time") == 0) {
            p = P_DATE_TIME_STRING;
        } else if (strcmp(f, "uuid") == 0) {
            p = P_UUID;
        }
        if (p != P_COUNT) {
            const char *name = llamac__js_prim(c, p);
            return name ? llamac__js_strdup(c, name) : NULL;
        }
    }
    size_t min = 0, max = 0;
    bool has_min = false, has_max = false;
    if (!llamac__js_count(c, s, "minLength", ptr, &min, &has_min) ||
        !llamac__js_count(c, s, "maxLength", ptr, &max, &has_max)) {
        return NULL;
    }
    if (has_min && has_max && min > max) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "minLength %zu > maxLength %zu at %s: no string is valid", min, max,
                               ptr);
    }
    if (min == 0 && (!has_max || max > LLAMAC__JS_REP_CAP)) {
        const char *str = llamac__js_prim(c, P_STRING);
        return str ? llamac__js_strdup(c, str) : NULL;
    }
    const char *ch = llamac__js_prim(c, P_CHAR);
    if (!ch) {
        return NULL;
    }
    if (min > LLAMAC__JS_REP_CAP) {
        min = LLAMAC__JS_REP_CAP;
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    if (has_max && max <= LLAMAC__JS_REP_CAP) {
        llamac__dynbuf_addf(&b, "\"\\\"\" %s{%zu,%zu} \"\\\"\"", ch, min, max);
    } else {
        llamac__dynbuf_addf(&b, "\"\\\"\" %s{%zu,} \"\\\"\"", ch, min);
    }
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

/* ---- integers ---- */

/* Reads a bound; *exclusive from the draft-4 boolean form. Returns false on a malformed value. */
static bool read_bound(conv *c, json_t *s, const char *ptr, bool lower, bool *has, double *val, bool *exact_int,
                       int64_t *ival) {
    const char *inc = lower ? "minimum" : "maximum";
    const char *exc = lower ? "exclusiveMinimum" : "exclusiveMaximum";
    json_t *vi = json_object_get(s, inc), *ve = json_object_get(s, exc);
    *has = false;
    if (vi && !json_is_number(vi)) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s must be a number", inc, ptr, inc);
        return false;
    }
    if (ve && !json_is_number(ve) && !json_is_boolean(ve)) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s must be a number (or a boolean, draft 4)", exc, ptr, exc);
        return false;
    }
    /* The tightest integer bound implied by the inclusive and the exclusive keyword. */
    for (int pass = 0; pass < 2; pass++) {
        json_t *v = pass == 0 ? vi : ve;
        if (!v || json_is_boolean(v)) {
            continue;
        }
        bool exclusive = pass == 1 || (pass == 0 && json_is_true(ve));
        double d = json_number_value(v);
        double b;
        if (lower) {
            b = exclusive ? floor(d) + 1 : ceil(d);
        } else {
            b = exclusive ? ceil(d) - 1 : floor(d);
        }
        bool is_int = json_is_integer(v);
        int64_t bi = 0;
        if (is_int) {
            json_int_t x = json_integer_value(v);
            if (exclusive && ((lower && x == INT64_MAX) || (!lower && x == INT64_MIN))) {
                is_int = false;
            } else {
                bi = exclusive ? (lower ? x + 1 : x - 1) : x;
            }
        }
        if (!*has || (lower ? b > *val : b < *val)) {
            *has = true;
            *val = b;
            *exact_int = is_int;
            *ival = bi;
        }
    }
    return true;
}

static char *visit_integer(conv *c, json_t *s, const char *ptr) {
    bool has_lo = false, has_hi = false, lo_int = false, hi_int = false;
    double lo = 0, hi = 0;
    int64_t ilo = 0, ihi = 0;
    if (!read_bound(c, s, ptr, true, &has_lo, &lo, &lo_int, &ilo) ||
        !read_bound(c, s, ptr, false, &has_hi, &hi, &hi_int, &ihi)) {
        return NULL;
    }
    /* Bounds past the 64-bit range: an open side beyond it is no bound at all; a closed side beyond it cannot be
     * written as a range of 64-bit integers, which the converter refuses. */
    const double lim = 9.2e18;
    if (has_lo && !lo_int) {
        if (lo > lim) {
            return llamac__js_fail(c, LLAMAC_E_SCHEMA, "the integer minimum at %s is beyond the 64-bit range", ptr);
        }
        has_lo = lo >= -lim;
        ilo = has_lo ? (int64_t)lo : 0;
    }
    if (has_hi && !hi_int) {
        if (hi < -lim) {
            return llamac__js_fail(c, LLAMAC_E_SCHEMA, "the integer maximum at %s is beyond the 64-bit range", ptr);
        }
        has_hi = hi <= lim;
        ihi = has_hi ? (int64_t)hi : 0;
    }
    if (!has_lo && !has_hi) {
        const char *name = llamac__js_prim(c, P_INTEGER);
        return name ? llamac__js_strdup(c, name) : NULL;
    }
    if (has_lo && has_hi && ilo > ihi) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "integer bounds at %s leave no value (minimum %lld > maximum %lld)",
                               ptr, (long long)ilo, (long long)ihi);
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    llamac__js_int_range(&b, has_lo, ilo, has_hi, ihi);
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

/* ---- the visitor ---- */

static char *visit_ref(conv *c, json_t *ref, const char *ptr) {
    if (!json_is_string(ref)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref at %s/$ref must be a string", ptr);
    }
    const char *r = json_string_value(ref);
    for (size_t i = 0; i < c->n_refs; i++) {
        if (strcmp(c->refs[i].ref, r) == 0) {
            if (!c->refs[i].done && c->refs[i].container_depth == c->container_depth) {
                return llamac__js_fail(c, LLAMAC_E_SCHEMA,
                                       "$ref \"%.200s\" at %s refers to itself without an enclosing object or array", r,
                                       ptr);
            }
            return llamac__js_strdup(c, c->rules[c->refs[i].rule].name);
        }
    }
    json_t *target = llamac__js_resolve_ref(c, r, ptr);
    if (!target) {
        return NULL;
    }
    if (c->n_refs == c->cap_refs) {
        size_t cap = c->cap_refs ? c->cap_refs * 2 : 16;
        llamac__jsref *m = realloc(c->refs, cap * sizeof *m);
        if (!m) {
            return llamac__js_oom(c);
        }
        c->refs = m;
        c->cap_refs = cap;
    }
    char hint[120];
    snprintf(hint, sizeof hint, "ref-%.100s", r[1] == '/' ? r + 2 : "root");
    size_t idx = add_rule_named(c, hint, NULL, false);
    char *rcopy = llamac__js_strdup(c, r);
    if (idx == (size_t)-1 || !rcopy) {
        free(rcopy);
        return NULL;
    }
    size_t mi = c->n_refs++;
    c->refs[mi] = (llamac__jsref){ rcopy, idx, c->container_depth, false };
    /* The target's pointer is the reference's fragment. */
    char *body = llamac__js_visit(c, target, r + 1, hint);
    if (!body) {
        return NULL;
    }
    c->rules[idx].body = body;
    c->refs[mi].done = true;
    return llamac__js_strdup(c, c->rules[idx].name);
}

static char *visit_alternatives(conv *c, json_t *alts, const char *ptr, const char *key, const char *hint) {
    if (!json_is_array(alts) || json_array_size(alts) == 0) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s must be a non-empty array", key, ptr, key);
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    size_t n = 0;
    llamac__dynbuf_adds(&b, "(");
    for (size_t i = 0; i < json_array_size(alts); i++) {
        json_t *alt = json_array_get(alts, i);
        if (json_is_false(alt)) {
            continue;
        }
        char *aptr = llamac__js_ptr_index(c, ptr, key, i);
        char tmp[32];
        snprintf(tmp, sizeof tmp, "%zu", i);
        char *h = aptr ? llamac__js_hint(c, hint, tmp) : NULL;
        char *e = h ? llamac__js_visit(c, alt, aptr, h) : NULL;
        free(aptr);
        free(h);
        if (!e) {
            llamac__dynbuf_free(&b);
            return NULL;
        }
        llamac__dynbuf_addf(&b, "%s", n++ ? " | " : "");
        llamac__dynbuf_adds(&b, e);
        free(e);
    }
    llamac__dynbuf_adds(&b, ")");
    if (n == 0) {
        llamac__dynbuf_free(&b);
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s: every alternative is false", key, ptr, key);
    }
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

static char *visit_types(conv *c, json_t *s, const char *ptr, const char *hint, int types) {
    bool specific = false;
    static const char *const specific_keys[] = {
        "properties", "required",         "additionalProperties",
        "items",      "prefixItems",      "minItems",
        "maxItems",   "minLength",        "maxLength",
        "pattern",    "format",           "minimum",
        "maximum",    "exclusiveMinimum", "exclusiveMaximum",
    };
    for (size_t i = 0; i < sizeof specific_keys / sizeof specific_keys[0]; i++) {
        specific = specific || json_object_get(s, specific_keys[i]) != NULL;
    }
    if (types == T_ALL && !specific) {
        const char *v = llamac__js_prim(c, P_VALUE);
        return v ? llamac__js_strdup(c, v) : NULL;
    }
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    size_t n = 0;
    static const int order[] = { T_OBJECT, T_ARRAY, T_STRING, T_NUMBER, T_INTEGER, T_BOOLEAN, T_NULL };
    for (size_t i = 0; i < sizeof order / sizeof order[0] && c->status == LLAMAC_OK; i++) {
        int t = order[i];
        if (!(types & t) || (t == T_INTEGER && (types & T_NUMBER))) {
            continue;
        }
        char *e = NULL;
        const char *pn = NULL;
        switch (t) {
        case T_OBJECT: e = llamac__js_visit_object(c, s, ptr, hint); break;
        case T_ARRAY: e = llamac__js_visit_array(c, s, ptr, hint); break;
        case T_STRING: e = visit_string(c, s, ptr); break;
        case T_INTEGER: e = visit_integer(c, s, ptr); break;
        case T_NUMBER: pn = llamac__js_prim(c, P_NUMBER); break;
        case T_BOOLEAN: pn = llamac__js_prim(c, P_BOOLEAN); break;
        default: pn = llamac__js_prim(c, P_NULL); break;
        }
        if (pn) {
            e = llamac__js_strdup(c, pn);
        }
        if (!e) {
            break;
        }
        llamac__dynbuf_adds(&b, n++ ? " | " : "(");
        llamac__dynbuf_adds(&b, e);
        free(e);
    }
    llamac__dynbuf_adds(&b, ")");
    if (c->status != LLAMAC_OK) {
        llamac__dynbuf_free(&b);
        return NULL;
    }
    char *out = llamac__js_take(c, &b);
    return out ? out : llamac__js_oom(c);
}

char *llamac__js_visit(conv *c, json_t *s, const char *ptr, const char *hint) {
    if (c->status != LLAMAC_OK) {
        return NULL;
    }
    if (++c->work > MAX_WORK) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA,
                               "the schema is too large to convert (more than %d subschemas visited)", MAX_WORK);
    }
    if (c->depth >= MAX_DEPTH) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "the schema nests deeper than %d levels at %s", MAX_DEPTH, ptr);
    }
    if (json_is_true(s)) {
        const char *v = llamac__js_prim(c, P_VALUE);
        return v ? llamac__js_strdup(c, v) : NULL;
    }
    if (json_is_false(s)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "the schema at %s is false: no value is valid", ptr[0] ? ptr : "/");
    }
    if (!json_is_object(s)) {
        return llamac__js_fail(c, LLAMAC_E_SCHEMA, "the schema at %s must be an object or a boolean",
                               ptr[0] ? ptr : "/");
    }
    c->depth++;
    char *out = NULL;
    json_t *ref = json_object_get(s, "$ref");
    json_t *all = json_object_get(s, "allOf");
    json_t *any = json_object_get(s, "anyOf");
    json_t *one = json_object_get(s, "oneOf");
    static const char *const unsupported[] = { "$dynamicRef", "$recursiveRef" };
    for (size_t i = 0; i < 2; i++) {
        if (json_object_get(s, unsupported[i])) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s/%s is not supported", unsupported[i], ptr, unsupported[i]);
            goto done;
        }
    }
    if (ref && llamac__js_count_constraints(s, "$ref", NULL, NULL) == 0) {
        out = visit_ref(c, ref, ptr);
    } else if (!ref && !all && (any || one) && !(any && one) &&
               llamac__js_count_constraints(s, any ? "anyOf" : "oneOf", NULL, NULL) == 0) {
        out = visit_alternatives(c, any ? any : one, ptr, any ? "anyOf" : "oneOf", hint);
    } else if (ref || all || any || one) {
        json_t *merged = llamac__js_merge(c, s, ptr);
        if (merged) {
            out = llamac__js_visit(c, merged, ptr, hint);
            json_decref(merged);
        }
    } else {
        int types = 0;
        if (llamac__js_parse_types(c, s, ptr, &types)) {
            if (json_object_get(s, "enum") || json_object_get(s, "const")) {
                out = visit_enum(c, s, ptr, types);
            } else {
                out = visit_types(c, s, ptr, hint, types);
            }
        }
    }
done:
    c->depth--;
    if (!out && c->status == LLAMAC_OK) {
        llamac__js_oom(c);
    }
    return out;
}

/* ---- public API ---- */

llamac_json_schema_params llamac_json_schema_params_default(void) {
    llamac_json_schema_params p;
    memset(&p, 0, sizeof p);
    p.root_rule = "root";
    return p;
}

static bool valid_rule_name(const char *s, bool allow_empty) {
    if (!s || (!allow_empty && !*s) || strlen(s) > 64) {
        return false;
    }
    for (; *s; s++) {
        if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') || (*s >= '0' && *s <= '9') || *s == '-')) {
            return false;
        }
    }
    return true;
}

static void conv_free(conv *c) {
    for (size_t i = 0; i < c->n_rules; i++) {
        free(c->rules[i].name);
        free(c->rules[i].body);
    }
    free(c->rules);
    free(c->hash);
    for (size_t i = 0; i < c->n_refs; i++) {
        free(c->refs[i].ref);
    }
    free(c->refs);
}

/* Shared by both entry points: `schema` NULL converts "any object". */
static llamac_status convert(json_t *schema, const llamac_json_schema_params *params, char **out_gbnf) {
    llamac_json_schema_params p = params ? *params : llamac_json_schema_params_default();
    const char *root_name = p.root_rule ? p.root_rule : "root";
    const char *prefix = p.rule_prefix ? p.rule_prefix : "";
    if (!valid_rule_name(root_name, false)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "root_rule \"%.80s\" is not a rule name (letters, digits and '-', at most 64)", root_name);
    }
    if (!valid_rule_name(prefix, true)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "rule_prefix \"%.80s\" is not a rule name prefix (letters, digits and '-', at most 64)",
                            prefix);
    }
    conv c;
    memset(&c, 0, sizeof c);
    c.root = schema;
    c.prefix = prefix;
    c.dotall = p.dotall;
    c.relax_patterns = p.relax_patterns;
    char *body = NULL;
    size_t root_idx = add_rule_named(&c, root_name, NULL, true);
    if (root_idx != (size_t)-1) {
        if (schema) {
            body = llamac__js_visit(&c, schema, "", "");
        } else {
            const char *o = llamac__js_prim(&c, P_OBJECT);
            body = o ? llamac__js_strdup(&c, o) : NULL;
        }
    }
    if (!body) {
        if (c.status == LLAMAC_OK) {
            llamac__js_oom(&c);
        }
        llamac_status st = c.status;
        conv_free(&c);
        return st;
    }
    c.rules[root_idx].body = body;
    llamac__dynbuf b = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    for (size_t i = 0; i < c.n_rules; i++) {
        llamac__dynbuf_adds(&b, c.rules[i].name);
        llamac__dynbuf_adds(&b, " ::= ");
        llamac__dynbuf_adds(&b, c.rules[i].body ? c.rules[i].body : "\"\"");
        llamac__dynbuf_adds(&b, "\n");
    }
    char *text = llamac__js_take(&c, &b);
    llamac_status st = c.status;
    conv_free(&c);
    if (!text) {
        return st;
    }
    *out_gbnf = text;
    return llamac__ok();
}

llamac_status llamac__json_schema_to_grammar_json(json_t *schema, const llamac_json_schema_params *params,
                                                  char **out_gbnf) {
    if (out_gbnf) {
        *out_gbnf = NULL;
    }
    if (!schema || !out_gbnf) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac__json_schema_to_grammar_json: NULL argument");
    }
    if (!json_is_object(schema) && !json_is_boolean(schema)) {
        return llamac__fail(LLAMAC_E_SCHEMA, "a JSON Schema must be an object or a boolean");
    }
    return convert(schema, params, out_gbnf);
}

llamac_status llamac_json_schema_to_grammar(const char *schema, size_t len, const llamac_json_schema_params *params,
                                            char **out_gbnf) {
    if (out_gbnf) {
        *out_gbnf = NULL;
    }
    if (!schema || !out_gbnf) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_json_schema_to_grammar: NULL %s",
                            schema ? "out_gbnf" : "schema");
    }
    size_t bad = 0;
    if (!llamac_utf8_valid(schema, len, &bad)) {
        return llamac__fail(LLAMAC_E_UTF8, "the JSON Schema is not valid UTF-8 (byte %zu)", bad);
    }
    json_error_t err;
    json_t *root = json_loadb(schema, len, JSON_DECODE_ANY | JSON_REJECT_DUPLICATES, &err);
    if (!root) {
        if (strstr(err.text, "\\u0000")) {
            return llamac__fail(LLAMAC_E_SCHEMA,
                                "the JSON Schema has \\u0000 in a string (line %d, column %d), which is "
                                "not supported",
                                err.line, err.column);
        }
        return llamac__fail(LLAMAC_E_SCHEMA, "the JSON Schema is not valid JSON: %s (line %d, column %d)", err.text,
                            err.line, err.column);
    }
    if (!json_is_object(root) && !json_is_boolean(root)) {
        json_decref(root);
        return llamac__fail(LLAMAC_E_SCHEMA, "a JSON Schema must be an object or a boolean");
    }
    llamac_status st = convert(root, params, out_gbnf);
    json_decref(root);
    return st;
}

llamac_status llamac_json_grammar(const llamac_json_schema_params *params, char **out_gbnf) {
    if (out_gbnf) {
        *out_gbnf = NULL;
    }
    if (!out_gbnf) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_json_grammar: NULL out_gbnf");
    }
    return convert(NULL, params, out_gbnf);
}
