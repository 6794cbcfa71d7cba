/*
 * jinja_builtins.h - what the files of built-ins share: the tables that map names to functions, and the argument
 * checks every built-in makes the way llama.cpp makes them (the object a method applies to counts as argument 0).
 */
#ifndef LLAMAC_JINJA_BUILTINS_H
#define LLAMAC_JINJA_BUILTINS_H

#include "text/jinja.h"

typedef struct jbi {
    const char *name;
    jbuiltin_fn fn;
} jbi;

/* The method tables of strings (jinja_strings.c), lists and mappings (jinja_lists.c); NULL-terminated. */
extern const jbi jinja_str_methods[];
extern const jbi jinja_list_methods[];
extern const jbi jinja_map_methods[];

typedef enum kind { K_STR, K_INT, K_FLOAT, K_BOOL, K_ARR, K_OBJ } kind;

/* The function's name for messages. */
const char *jbi_fname(const jargs *a);
/* The argument count (the object a method applies to included) must be in [min, max]. */
void jbi_need(jrt *rt, const jargs *a, size_t min, size_t max);
/* Argument i, when present, must be of kind k. */
void jbi_need_kind(jrt *rt, const jargs *a, size_t i, kind k);
/* llama.cpp's ensure_vals<T>(): at least one argument, the first of kind k. */
void jbi_need1(jrt *rt, const jargs *a, kind k);
/* Positional argument i, or an error. */
jv jbi_arg(jrt *rt, const jargs *a, size_t i);
jv jbi_empty_array(jrt *rt);
bool jbi_is_space(unsigned char c);

/* Shared by several types: default(), tojson(), and what llama.cpp leaves unimplemented. */
jv jbi_default(jrt *rt, const jargs *a);
jv jbi_tojson(jrt *rt, const jargs *a);
jv jbi_not_implemented(jrt *rt, const jargs *a);

/* The first occurrence of n (nn > 0 bytes) in h, or NULL. */
const char *jbi_find_bytes(const char *h, size_t hn, const char *n, size_t nn);
/* Python's slice of a sequence of `len` items by the start/stop/step in a->v[1..3]: calls `take` for each index. */
typedef void (*take_fn)(jrt *rt, void *ud, int64_t i);
void jbi_slice(jrt *rt, const jargs *a, int64_t len, take_fn take, void *ud);
/* The tuple (k, v). */
jv jbi_pair(jrt *rt, jv k, jv v);

#endif /* LLAMAC_JINJA_BUILTINS_H */
