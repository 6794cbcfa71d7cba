/*
 * json_schema_merge.c - allOf for the JSON Schema converter: the schemas of an allOf (and a $ref or anyOf beside
 * other keywords) merged into one schema, keyword by keyword.
 *
 * A grammar cannot intersect languages, so allOf is rewritten: types intersect, properties merge recursively (as an
 * allOf of the two), required lists unite, bounds take the tighter value, enums intersect, and anyOf/oneOf lists
 * are distributed over the rest (A and (B or C) = (A and B) or (A and C)). Where two components disagree in a way
 * that cannot be merged (two patterns), the first stands: the result accepts a superset, never a subset.
 */
#include "schema/json_schema_internal.h"

#include <string.h>

static const char *const constraint_keys[] = {
    "type",
    "properties",
    "required",
    "additionalProperties",
    "patternProperties",
    "items",
    "prefixItems",
    "additionalItems",
    "minItems",
    "maxItems",
    "enum",
    "const",
    "minLength",
    "maxLength",
    "pattern",
    "format",
    "minimum",
    "maximum",
    "exclusiveMinimum",
    "exclusiveMaximum",
    "anyOf",
    "oneOf",
    "allOf",
    "$ref",
};

static bool is_constraint(const char *key) {
    for (size_t i = 0; i < sizeof constraint_keys / sizeof constraint_keys[0]; i++) {
        if (strcmp(key, constraint_keys[i]) == 0) {
            return true;
        }
    }
    return false;
}

size_t llamac__js_count_constraints(json_t *s, const char *a, const char *b2, const char *b3) {
    size_t n = 0;
    const char *key;
    json_t *v;
    json_object_foreach(s, key, v) {
        if (is_constraint(key) && strcmp(key, a) != 0 && (!b2 || strcmp(key, b2) != 0) &&
            (!b3 || strcmp(key, b3) != 0)) {
            n++;
        }
    }
    return n;
}

static json_t *all_of2(json_t *a, json_t *b) {
    json_t *o = json_object();
    json_t *arr = json_array();
    json_array_append(arr, a);
    json_array_append(arr, b);
    json_object_set_new(o, "allOf", arr);
    return o;
}

static void merge_minmax(json_t *acc, const char *key, json_t *v, bool take_max) {
    json_t *cur = json_object_get(acc, key);
    if (!json_is_number(cur) || !json_is_number(v)) {
        return;
    }
    double a = json_number_value(cur), b = json_number_value(v);
    if (take_max ? b > a : b < a) {
        json_object_set(acc, key, v);
    }
}

/* Merges one component's keywords (no $ref/allOf/anyOf/oneOf) into acc. */
static bool merge_keys(llamac__jsconv *c, json_t *acc, json_t *comp, const char *ptr) {
    /* Normalise: const -> enum, draft-4 boolean exclusive bounds -> numeric ones. */
    json_t *cp = json_copy(comp);
    if (!cp) {
        llamac__js_oom(c);
        return false;
    }
    if (json_object_get(cp, "const")) {
        json_t *e = json_array();
        json_array_append(e, json_object_get(cp, "const"));
        json_object_del(cp, "const");
        json_t *old = json_object_get(cp, "enum");
        if (json_is_array(old)) {
            /* Both: keep const if it is in the enum, else nothing. */
            bool found = false;
            for (size_t i = 0; i < json_array_size(old); i++) {
                found = found || json_equal(json_array_get(old, i), json_array_get(e, 0));
            }
            if (!found) {
                json_array_clear(e);
            }
        }
        json_object_set_new(cp, "enum", e);
    }
    for (int pass = 0; pass < 2; pass++) {
        const char *exc = pass ? "exclusiveMaximum" : "exclusiveMinimum";
        const char *inc = pass ? "maximum" : "minimum";
        json_t *ev = json_object_get(cp, exc);
        if (json_is_boolean(ev)) {
            json_t *iv = json_object_get(cp, inc);
            if (json_is_true(ev) && iv) {
                json_object_set(cp, exc, iv);
                json_object_del(cp, inc);
            } else {
                json_object_del(cp, exc);
            }
        }
    }
    const char *key;
    json_t *v;
    bool ok = true;
    json_object_foreach(cp, key, v) {
        if (strcmp(key, "$ref") == 0 || strcmp(key, "allOf") == 0 || strcmp(key, "anyOf") == 0 ||
            strcmp(key, "oneOf") == 0) {
            continue;
        }
        json_t *cur = json_object_get(acc, key);
        if (!cur) {
            json_object_set(acc, key, v);
            continue;
        }
        if (strcmp(key, "type") == 0) {
            json_t *ta = json_object(), *tb = json_object();
            json_object_set(ta, "type", cur);
            json_object_set(tb, "type", v);
            int ma = 0, mb = 0;
            ok = llamac__js_parse_types(c, ta, ptr, &ma) && llamac__js_parse_types(c, tb, ptr, &mb);
            json_decref(ta);
            json_decref(tb);
            if (!ok) {
                break;
            }
            json_t *arr = llamac__js_type_list(ma & mb);
            if (!arr) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "allOf at %s: the types of its schemas do not intersect", ptr);
                ok = false;
                break;
            }
            json_object_set_new(acc, "type", arr);
        } else if (strcmp(key, "properties") == 0 && json_is_object(cur) && json_is_object(v)) {
            json_t *merged = json_copy(cur);
            const char *pk;
            json_t *pv;
            json_object_foreach(v, pk, pv) {
                json_t *old = json_object_get(merged, pk);
                if (old) {
                    json_object_set_new(merged, pk, all_of2(old, pv));
                } else {
                    json_object_set(merged, pk, pv);
                }
            }
            json_object_set_new(acc, "properties", merged);
        } else if (strcmp(key, "required") == 0 && json_is_array(cur) && json_is_array(v)) {
            json_t *merged = json_copy(cur);
            for (size_t i = 0; i < json_array_size(v); i++) {
                json_t *r = json_array_get(v, i);
                if (json_is_string(r) && !llamac__js_names_has(merged, json_string_value(r))) {
                    json_array_append(merged, r);
                }
            }
            json_object_set_new(acc, "required", merged);
        } else if (strcmp(key, "additionalProperties") == 0 || strcmp(key, "items") == 0) {
            if (json_is_false(v) || json_is_true(cur)) {
                json_object_set(acc, key, v);
            } else if (json_is_object(cur) && json_is_object(v)) {
                json_object_set_new(acc, key, all_of2(cur, v));
            }
        } else if (strcmp(key, "enum") == 0 && json_is_array(cur) && json_is_array(v)) {
            json_t *inter = json_array();
            for (size_t i = 0; i < json_array_size(cur); i++) {
                for (size_t j = 0; j < json_array_size(v); j++) {
                    if (json_equal(json_array_get(cur, i), json_array_get(v, j))) {
                        json_array_append(inter, json_array_get(cur, i));
                        break;
                    }
                }
            }
            json_object_set_new(acc, "enum", inter);
        } else if (strcmp(key, "minItems") == 0 || strcmp(key, "minLength") == 0 || strcmp(key, "minimum") == 0 ||
                   strcmp(key, "exclusiveMinimum") == 0) {
            merge_minmax(acc, key, v, true);
        } else if (strcmp(key, "maxItems") == 0 || strcmp(key, "maxLength") == 0 || strcmp(key, "maximum") == 0 ||
                   strcmp(key, "exclusiveMaximum") == 0) {
            merge_minmax(acc, key, v, false);
        }
        /* Anything else: the first component's value stands (a superset of both). */
    }
    json_decref(cp);
    return ok;
}

/* Adds a component of an allOf to the accumulated schema; anyOf/oneOf lists go to `groups`. */
static bool add_component(llamac__jsconv *c, json_t *acc, json_t *groups, json_t *comp, const char *ptr, int depth) {
    if (depth > 32) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "allOf/$ref at %s nest too deeply (a $ref cycle?)", ptr);
        return false;
    }
    if (json_is_true(comp)) {
        return true;
    }
    if (json_is_false(comp)) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "allOf at %s contains false: no value is valid", ptr);
        return false;
    }
    if (!json_is_object(comp)) {
        llamac__js_fail(c, LLAMAC_E_SCHEMA, "allOf at %s: a schema must be an object or a boolean", ptr);
        return false;
    }
    json_t *ref = json_object_get(comp, "$ref");
    if (ref) {
        if (!json_is_string(ref)) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "$ref at %s must be a string", ptr);
            return false;
        }
        json_t *target = llamac__js_resolve_ref(c, json_string_value(ref), ptr);
        if (!target || !add_component(c, acc, groups, target, ptr, depth + 1)) {
            return false;
        }
    }
    json_t *all = json_object_get(comp, "allOf");
    if (all) {
        if (!json_is_array(all) || json_array_size(all) == 0) {
            llamac__js_fail(c, LLAMAC_E_SCHEMA, "allOf at %s must be a non-empty array", ptr);
            return false;
        }
        for (size_t i = 0; i < json_array_size(all); i++) {
            if (!add_component(c, acc, groups, json_array_get(all, i), ptr, depth + 1)) {
                return false;
            }
        }
    }
    static const char *const alt_keys[] = { "anyOf", "oneOf" };
    for (int k = 0; k < 2; k++) {
        json_t *alts = json_object_get(comp, alt_keys[k]);
        if (alts) {
            if (!json_is_array(alts) || json_array_size(alts) == 0) {
                llamac__js_fail(c, LLAMAC_E_SCHEMA, "%s at %s must be a non-empty array", alt_keys[k], ptr);
                return false;
            }
            json_array_append(groups, alts);
        }
    }
    return merge_keys(c, acc, comp, ptr);
}

/* The merged form of a schema whose allOf/anyOf/$ref keywords combine with others: anyOf lists are distributed
 * over the rest, so the result is one schema or an anyOf of merged schemas. Caller decrefs. */
json_t *llamac__js_merge(llamac__jsconv *c, json_t *s, const char *ptr) {
    json_t *acc = json_object(), *groups = json_array();
    json_t *out = NULL;
    if (!acc || !groups) {
        llamac__js_oom(c);
        goto done;
    }
    if (!add_component(c, acc, groups, s, ptr, 0)) {
        goto done;
    }
    if (json_array_size(groups) == 0) {
        out = json_incref(acc);
        goto done;
    }
    json_t *first = json_array_get(groups, 0);
    json_t *alts = json_array();
    for (size_t i = 0; i < json_array_size(first); i++) {
        json_t *parts = json_array();
        json_array_append(parts, acc);
        json_array_append(parts, json_array_get(first, i));
        for (size_t g = 1; g < json_array_size(groups); g++) {
            json_t *o = json_object();
            json_object_set(o, "anyOf", json_array_get(groups, g));
            json_array_append_new(parts, o);
        }
        json_t *one = json_object();
        json_object_set_new(one, "allOf", parts);
        json_array_append_new(alts, one);
    }
    out = json_object();
    json_object_set_new(out, "anyOf", alts);
done:
    json_decref(acc);
    json_decref(groups);
    return out;
}
