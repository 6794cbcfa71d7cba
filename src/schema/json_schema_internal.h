/*
 * json_schema_internal.h - shared pieces of the JSON Schema to GBNF converter (json_schema*.c).
 *
 * The converter writes GBNF text into growable buffers (dynbuf, capped at LLAMAC__JS_MAX_OUTPUT) whose only failure
 * is running out of memory or past the cap, which is remembered in the buffer and checked once at the end, so the
 * emitting code stays linear.
 * Every grammar fragment is about JSON *text*: a regex or a constant describes decoded string content, and the
 * emitters here turn each code point into the spelling it has inside a JSON string.
 */
#ifndef LLAMAC_JSON_SCHEMA_INTERNAL_H
#define LLAMAC_JSON_SCHEMA_INTERNAL_H

#include "core/internal.h"
#include "dynbuf.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Largest grammar the converter produces, and the repetition count above which {m,n} bounds are relaxed (a
 * larger max becomes unbounded, a larger min is lowered): llama.cpp expands repetitions into copies. */
#define LLAMAC__JS_MAX_OUTPUT (8u << 20)
#define LLAMAC__JS_REP_CAP 256

/* Appends, inside a GBNF string literal, the JSON-string spelling of code point `cp` (shortest escape). */
void llamac__js_lit_cp(llamac__dynbuf *b, uint32_t cp);
/* Appends `len` bytes of UTF-8 text, escaped for the inside of a GBNF string literal (the text itself, e.g. JSON
 * text that is already spelled out). */
void llamac__js_lit_text(llamac__dynbuf *b, const char *s, size_t len);
/* Appends `cp` as a GBNF character-class endpoint. */
void llamac__js_class_cp(llamac__dynbuf *b, uint32_t cp);

/* A set of code points as sorted, disjoint, non-adjacent ranges. */
typedef struct llamac__jsset {
    uint32_t lo[64];
    uint32_t hi[64];
    size_t n;
    bool overflow; /* more ranges than fit: the set was widened (a superset) */
} llamac__jsset;

void llamac__jsset_add(llamac__jsset *s, uint32_t lo, uint32_t hi);
void llamac__jsset_negate(llamac__jsset *s);
/* Appends a parenthesised GBNF expression matching the JSON-string spelling of one code point of the set
 * (raw characters, and the escapes of '"', '\\' and control characters in it). Nothing for an empty set;
 * returns false then. */
bool llamac__jsset_emit(const llamac__jsset *s, llamac__dynbuf *b, const char *char_rule);

/* Appends a GBNF expression for the integers in [min, max]; has_min/has_max false means unbounded on that side.
 * Requires min <= max when both are set. */
void llamac__js_int_range(llamac__dynbuf *b, bool has_min, int64_t min, bool has_max, int64_t max);

/* The result of translating a regex: the GBNF expression of the whole JSON string (quotes included). */
typedef struct llamac__js_regex_in {
    const char *pattern;   /* NUL-terminated UTF-8 */
    const char *char_rule; /* name of the rule matching any one JSON string character */
    bool dotall;
} llamac__js_regex_in;

/* Translates `pattern` into a GBNF expression appended to `out`; *expanded receives the number of grammar elements
 * llama.cpp will make of it once repetitions are copied out. On failure returns false and writes the reason (e.g.
 * "lookaround and inline flags are not supported at offset 1") into why[cap]. */
bool llamac__js_regex(const llamac__js_regex_in *in, llamac__dynbuf *out, size_t *expanded, char *why, size_t cap);

/* llamac_json_schema_to_grammar for a schema already parsed with jansson (borrowed; $refs resolve against it), for
 * the library's own callers (tool-call grammars, the server). */
llamac_status llamac__json_schema_to_grammar_json(json_t *schema, const llamac_json_schema_params *params,
                                                  char **out_gbnf);

/* ---- the converter (json_schema.c), shared with json_schema_object.c and json_schema_merge.c ---- */

typedef struct llamac__jsconv llamac__jsconv;

/* JSON Schema type bits. Number includes integer. */
enum {
    T_OBJECT = 1,
    T_ARRAY = 2,
    T_STRING = 4,
    T_NUMBER = 8,
    T_INTEGER = 16,
    T_BOOLEAN = 32,
    T_NULL = 64,
    T_ALL = 127
};

/* Primitive rules, emitted on first use. */
enum prim {
    P_SPACE,
    P_VALUE,
    P_OBJECT,
    P_ARRAY,
    P_STRING,
    P_CHAR,
    P_NUMBER,
    P_INTEGER,
    P_BOOLEAN,
    P_NULL,
    P_DATE,
    P_TIME,
    P_DATE_TIME,
    P_DATE_STRING,
    P_TIME_STRING,
    P_DATE_TIME_STRING,
    P_UUID,
    P_COUNT
};

typedef struct llamac__jsrule {
    char *name;
    char *body; /* NULL while a $ref target is being converted */
} llamac__jsrule;

typedef struct llamac__jsref {
    char *ref;
    size_t rule;
    int container_depth; /* containers entered when its conversion began */
    bool done;
} llamac__jsref;

struct llamac__jsconv {
    json_t *root;
    const char *prefix;
    bool dotall;
    bool relax_patterns;
    llamac__jsrule *rules;
    size_t n_rules, cap_rules;
    size_t *hash; /* open addressing over rule names: index + 1, 0 empty */
    size_t hash_cap;
    llamac__jsref *refs;
    size_t n_refs, cap_refs;
    int prim_rule[P_COUNT]; /* index + 1 in rules, 0 when not emitted yet */
    int depth;
    int container_depth;
    size_t work;
    size_t pattern_elements;
    llamac_status status;
};

/* Records the first error of a conversion (later ones are dropped) and returns NULL. */
char *llamac__js_fail(llamac__jsconv *c, llamac_status st, const char *fmt, ...) LLAMAC_PRINTF(3, 4);
char *llamac__js_oom(llamac__jsconv *c);
/* Takes the text out of a buffer; NULL when it failed, with the failure recorded (past LLAMAC__JS_MAX_OUTPUT:
 * LLAMAC_E_SCHEMA naming the cap; else out of memory). */
char *llamac__js_take(llamac__jsconv *c, llamac__dynbuf *b);
/* The type bits of s's "type" (T_ALL when absent); false (with the error recorded) when malformed. */
bool llamac__js_parse_types(llamac__jsconv *c, json_t *s, const char *ptr, int *mask);
/* The "type" value naming the bits of mask (a new reference), NULL when none. */
json_t *llamac__js_type_list(int mask);
/* The schema a local $ref points to (borrowed from the document), or NULL with the error recorded. */
json_t *llamac__js_resolve_ref(llamac__jsconv *c, const char *ref, const char *ptr);
bool llamac__js_names_has(json_t *names, const char *key);

/* The number of keywords of s that constrain instances, other than a, b and c (each may be NULL). */
size_t llamac__js_count_constraints(json_t *s, const char *a, const char *b, const char *c);
/* The merged form of a schema whose allOf/anyOf/oneOf/$ref combine with other keywords: one schema, or an anyOf of
 * merged schemas. A new reference (caller decrefs), or NULL with the error recorded. */
json_t *llamac__js_merge(llamac__jsconv *c, json_t *s, const char *ptr);

/* A copy of s (caller frees), NULL with the error recorded. */
char *llamac__js_strdup(llamac__jsconv *c, const char *s);
/* The name of primitive p (owned by the rule table), emitting it and what it uses on first use. */
const char *llamac__js_prim(llamac__jsconv *c, enum prim p);
/* Adds a rule named after hint (unique, prefixed) with body (taken); returns a copy of its name (caller frees). */
char *llamac__js_add_rule(llamac__jsconv *c, const char *hint, char *body);
/* JSON pointer parent/key and parent/key/i, and rule-name hint hint-part (caller frees). */
char *llamac__js_ptr(llamac__jsconv *c, const char *parent, const char *key);
char *llamac__js_ptr_index(llamac__jsconv *c, const char *parent, const char *key, size_t i);
char *llamac__js_hint(llamac__jsconv *c, const char *hint, const char *part);
/* A non-negative integer keyword; *present false when absent. False with the error recorded when malformed. */
bool llamac__js_count(llamac__jsconv *c, json_t *s, const char *key, const char *ptr, size_t *out, bool *present);
/* The GBNF expression of subschema s at JSON pointer ptr (caller frees), NULL with the error recorded. */
char *llamac__js_visit(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint);
/* The object and array alternatives of a schema (json_schema_object.c). */
char *llamac__js_visit_object(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint);
char *llamac__js_visit_array(llamac__jsconv *c, json_t *s, const char *ptr, const char *hint);

#endif /* LLAMAC_JSON_SCHEMA_INTERNAL_H */
