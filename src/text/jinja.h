/*
 * jinja.h - the chat-template engine's internals: values, the syntax tree, and the entry points of the lexer,
 * parser, evaluator and built-ins that chat_template.c ties together.
 *
 * The engine implements the subset of Jinja2 that Hugging Face chat templates use, with the behaviour of llama.cpp's
 * own engine (common/jinja), which is the reference it is tested against byte for byte. Two choices shape the code:
 * everything a render allocates comes from one arena that is freed when the render ends, and an error unwinds with
 * longjmp to the call that started the work. So no function in between owns anything, none can leak, and none needs
 * a cleanup path; every recursion counts its depth and every buffer has a cap.
 */
#ifndef LLAMAC_JINJA_H
#define LLAMAC_JINJA_H

#include "core/internal.h"

#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Functions that unwind with longjmp never return. */
#define JNORETURN _Noreturn

/* ---- limits that do not depend on the caller ---- */

#define JINJA_MAX_PARSE_DEPTH 200 /* nesting of expressions and blocks while parsing */
#define JINJA_MAX_EVAL_DEPTH 1000 /* nesting of evaluation, macro calls included */
#define JINJA_MAX_CALL_DEPTH 100  /* macros calling macros */
#define JINJA_MAX_VALUE_DEPTH 256 /* nesting of arrays and objects in JSON input, repr, tojson and comparisons */

/* ---- failure: where an error unwinds to, and its message ---- */

typedef struct jfail {
    jmp_buf jb;
    llamac_status status;
    char msg[1024];
} jfail;

/* ---- arena ---- */

struct jchunk;
typedef struct jarena {
    struct jchunk *head;
    size_t used;  /* bytes handed out, chunk overhead included */
    size_t limit; /* 0: no limit */
    jfail *fail;  /* where an exhausted arena unwinds to */
} jarena;

void ja_init(jarena *a, size_t limit, jfail *fail);
void ja_free(jarena *a);
/* Zeroed memory, aligned for any type; never NULL (unwinds with LLAMAC_E_TEMPLATE / LLAMAC_E_NO_MEMORY). */
void *ja_alloc(jarena *a, size_t size);
/* A copy of `n` elements of `size` bytes into a block of `cap` elements (cap >= n). */
void *ja_grow(jarena *a, const void *old, size_t n, size_t cap, size_t size);

/* ---- values ---- */

typedef enum jtype {
    JT_UNDEF = 0,
    JT_NONE,
    JT_BOOL,
    JT_INT,
    JT_FLOAT,
    JT_STR,
    JT_ARRAY,
    JT_TUPLE,
    JT_OBJECT,
    JT_FUNC,
    JT_KWARG
} jtype;

/* An immutable byte string. Like llama.cpp's, a string remembers the pieces it was joined from ("parts"): capitalize
 * and title work on each piece. `b` holds the offsets where pieces meet, strictly inside (0, len), ascending. */
typedef struct jstr {
    const char *p;
    size_t len;
    const size_t *b;
    size_t nb;
} jstr;

struct jarr;
struct jobj;
struct jfunc;
struct jkwarg;

typedef struct jv {
    jtype t;
    union {
        bool b;
        int64_t i;
        double f;
        const jstr *s;
        struct jarr *a; /* JT_ARRAY and JT_TUPLE */
        struct jobj *o;
        const struct jfunc *fn;
        const struct jkwarg *kw;
        const char *hint; /* JT_UNDEF: the name that was looked up, or NULL */
    } u;
} jv;

typedef struct jarr {
    jv *v;
    size_t n, cap;
} jarr;

/* An ordered mapping; keys are any hashable value, compared as llama.cpp compares them (1, 1.0 and true are one
 * key). `builtins` is false for the loop object, which has no methods. */
typedef struct jobj {
    jv *k;
    jv *v;
    size_t n, cap;
    bool builtins;
} jobj;

struct jrt;
struct jnode;
struct jscope;

/* Arguments of a call: positional values and keyword arguments (JT_KWARG) in the order written. For a method or a
 * filter, v[0] is the object it applies to. */
typedef struct jargs {
    jv *v;
    size_t n;
    struct jscope *scope; /* the scope of the call, where a macro's default arguments are evaluated */
    const char *name;     /* for error messages */
} jargs;

typedef jv (*jbuiltin_fn)(struct jrt *rt, const jargs *a);

typedef enum jfunc_kind { JF_BUILTIN, JF_MACRO, JF_CALLER } jfunc_kind;

typedef struct jfunc {
    jfunc_kind kind;
    const char *name;
    jbuiltin_fn fn; /* JF_BUILTIN */
    bool has_self;  /* a bound method: self is prepended to the arguments */
    jv self;
    const struct jnode *node; /* JF_MACRO: the macro statement; JF_CALLER: the call block */
    struct jscope *scope;     /* JF_CALLER: the scope the call block was written in */
} jfunc;

typedef struct jkwarg {
    const jstr *key;
    jv v;
} jkwarg;

/* ---- variables ---- */

typedef struct jvar {
    const jstr *name;
    jv v;
} jvar;

/* A scope sees its parent's variables; assignments go into the innermost scope. (llama.cpp copies the variables
 * into each new scope; since a parent never changes while a child is in use, looking through to it is the same.) */
typedef struct jscope {
    struct jscope *parent;
    jvar *vars;
    size_t n, cap;
} jscope;

/* ---- usage statistics (capability probing) ---- */

/* What a render did with a few watched values, as llama.cpp records it while it probes a template's capabilities
 * (common/jinja/caps.cpp): whether the value was used at all (looked up, indexed, iterated, filtered, tested,
 * serialised) and some of the operations applied to it. Values are watched by identity (the string, array or
 * object), which the engine keeps when a value is passed around, as llama.cpp's shared values do. */
#define JSTAT_TEST_IS_STRING 1u /* `x is string` */
#define JSTAT_SELECTATTR 2u     /* x|selectattr(...) or x.selectattr */
#define JSTAT_ARRAY_ACCESS 4u   /* x[0], for ... in x */
#define JSTAT_OBJECT_ACCESS 8u  /* x.key, x['key'], for ... in x over a mapping */
#define JSTAT_MAX_WATCH 8

typedef struct jwatch {
    const void *id; /* the jstr, jarr or jobj watched; NULL: nothing (the path did not resolve) */
    bool used;
    unsigned ops;
} jwatch;

typedef struct jstats {
    jwatch w[JSTAT_MAX_WATCH];
    size_t n;
} jstats;

/* ---- the render state ---- */

typedef struct jrt {
    jfail *fail;
    jarena arena;
    const char *src; /* the normalised template source, for line numbers */
    size_t src_len;
    size_t pos; /* source offset of the construct being evaluated, for errors raised by built-ins */
    uint64_t steps, max_steps;
    size_t max_output;
    int depth, call_depth;
    time_t now;
    jstats *stats; /* NULL unless probing */
} jrt;

/* Records a use of `v` (and the operation `op`, 0 for none) when probing; free otherwise. `op_name` is the name of a
 * built-in applied to `v` (a filter, method or "test_is_<name>"), of which the probes care about two. */
void jstat_record(jrt *rt, jv v, unsigned op);
void jstat_record_name(jrt *rt, jv v, const char *op_name, size_t len);
/* A use of `v` and of everything it contains (tojson and string serialise the whole value). */
void jstat_record_deep(jrt *rt, jv v, int depth);
static inline void jstat_use(jrt *rt, jv v, unsigned op) {
    if (rt->stats) {
        jstat_record(rt, v, op);
    }
}
static inline void jstat_use_named(jrt *rt, jv v, const char *op_name, size_t len) {
    if (rt->stats) {
        jstat_record_name(rt, v, op_name, len);
    }
}
static inline void jstat_use_deep(jrt *rt, jv v) {
    if (rt->stats) {
        jstat_record_deep(rt, v, 0);
    }
}

/* Unwinds the render with LLAMAC_E_TEMPLATE and "line L, column C: message" for source offset `pos`. */
JNORETURN void jerr_at(jrt *rt, size_t pos, const char *fmt, ...) LLAMAC_PRINTF(3, 4);
/* As jerr_at at rt->pos. */
JNORETURN void jerr(jrt *rt, const char *fmt, ...) LLAMAC_PRINTF(2, 3);
/* Counts one unit of work; unwinds when the step limit is reached. */
void jstep(jrt *rt);

/* Value constructors. */
static inline jv jv_undef(const char *hint) {
    jv v = { JT_UNDEF, { .hint = hint } };
    return v;
}
static inline jv jv_none(void) {
    jv v = { JT_NONE, { .i = 0 } };
    return v;
}
static inline jv jv_bool(bool b) {
    jv v = { JT_BOOL, { .b = b } };
    return v;
}
static inline jv jv_int(int64_t i) {
    jv v = { JT_INT, { .i = i } };
    return v;
}
static inline jv jv_float(double f) {
    jv v = { JT_FLOAT, { .f = f } };
    return v;
}
static inline jv jv_str(const jstr *s) {
    jv v = { JT_STR, { .s = s } };
    return v;
}
static inline bool jv_is_num(jv v) {
    return v.t == JT_INT || v.t == JT_FLOAT;
}
static inline bool jv_is_arr(jv v) {
    return v.t == JT_ARRAY || v.t == JT_TUPLE;
}

const char *jv_type_name(jv v);

/* What makes a value this value rather than an equal one: its string, array or object; NULL for the others. */
static inline const void *jv_identity(jv v) {
    switch (v.t) {
    case JT_STR: return v.u.s;
    case JT_ARRAY:
    case JT_TUPLE: return v.u.a;
    case JT_OBJECT: return v.u.o;
    default: return NULL;
    }
}

/* ---- strings (jinja_value.c) ---- */

/* A list printed by a statement, waiting to be turned into text: llama.cpp joins the values of a block's statements
 * when the block ends, so a list shows the items it has then, after any later append() or pop(). */
typedef struct jpending {
    size_t at; /* where its text goes */
    jv v;
} jpending;

/* A growable string with pieces, capped at rt->max_output bytes, with the lists still to print. */
typedef struct jbuf {
    jrt *rt;
    char *p;
    size_t len, cap;
    size_t *b;
    size_t nb, bcap;
    jpending *pend;
    size_t npend, pcap;
} jbuf;

void jb_init(jbuf *b, jrt *rt);
/* Appends bytes as one new piece. */
void jb_add(jbuf *b, const char *s, size_t n);
/* Appends bytes to the current piece. */
void jb_cat(jbuf *b, const char *s, size_t n);
void jb_cats(jbuf *b, const char *s);
/* Appends a string with its pieces. */
void jb_str(jbuf *b, const jstr *s);
void jb_printf(jbuf *b, const char *fmt, ...) LLAMAC_PRINTF(2, 3);
const jstr *jb_done(jbuf *b);
/* Inserts a string (with its pieces) at byte `at`. */
void jb_insert(jbuf *b, size_t at, const jstr *s);

const jstr *js_new(jrt *rt, const char *s, size_t n);
const jstr *js_cstr(jrt *rt, const char *s);
const jstr *js_concat(jrt *rt, const jstr *a, const jstr *b);
bool js_eq(const jstr *a, const char *s, size_t n);
bool js_eqs(const jstr *a, const char *s);
/* Compares as std::string does (bytes, unsigned). */
int js_cmp(const jstr *a, const jstr *b);
/* A NUL-terminated copy in the arena. */
const char *js_c(jrt *rt, const jstr *s);

/* ---- arrays and objects (jinja_value.c) ---- */

jarr *jarr_new(jrt *rt, size_t cap);
void jarr_push(jrt *rt, jarr *a, jv v);
jv jv_array(jarr *a);
jv jv_tuple(jarr *a);
jobj *jobj_new(jrt *rt);
jv jv_object(jobj *o);
/* Inserts or replaces (keeping the first key's position and the original key). Unwinds on an unhashable key. */
void jobj_set(jrt *rt, jobj *o, jv key, jv val);
void jobj_set_s(jrt *rt, jobj *o, const char *key, jv val);
/* The value for `key`, or false when absent. Unwinds on an unhashable key. */
bool jobj_get(jrt *rt, const jobj *o, jv key, jv *out);
bool jobj_get_s(jrt *rt, const jobj *o, const char *key, jv *out);

/* ---- conversions and comparisons (jinja_value.c) ---- */

/* A double converted to int64_t as llama.cpp's casts do on x86-64: out of range or NaN gives INT64_MIN. */
int64_t jinja_f2i(double d);
double jv_as_float(jrt *rt, jv v);
int64_t jv_as_int(jrt *rt, jv v);
bool jv_truthy(jrt *rt, jv v);
/* str(): numbers as llama.cpp prints them, arrays and objects as their repr. Unwinds for undefined, functions. */
const jstr *jv_as_string(jrt *rt, jv v);
/* Appends repr(v) as used inside arrays and objects: strings quoted. */
void jv_repr(jbuf *b, jv v, int depth);
/* llama.cpp's `==` (a.equivalent(b)). */
bool jv_equal(jrt *rt, jv a, jv b);
bool jv_hashable(jv v);
bool jv_immutable(jv v);

typedef enum jcmp { JC_EQ, JC_GE, JC_GT, JC_LT, JC_NE } jcmp;
/* llama.cpp's value_compare: numbers as numbers, strings (and strings against numbers) as text, booleans for ==/!=
 * only; anything else is false. */
bool jv_compare(jrt *rt, jv a, jv b, jcmp op);

/* Unwinds when a recursion over a value passes JINJA_MAX_VALUE_DEPTH (a deep or self-containing value). */
void jv_depth_check(jrt *rt, int depth);
/* Turns a locale's decimal comma in printf output back into a point. */
void jinja_fix_decimal_point(char *s);

/* ---- JSON output (jinja_json.c) ---- */

/* tojson: indent < 0 is one line. */
const jstr *jv_to_json(jrt *rt, jv v, int indent, const jstr *item_sep, const jstr *key_sep, bool ensure_ascii);
/* Appends a JSON string literal (bytes >= 0x80 as they are). */
void jv_json_string(jbuf *b, const char *s, size_t n);

/* ---- sorting (jinja_sort.c) ---- */

/* Sorts with the exact sequence of comparisons of libstdc++'s std::sort, so ties come out in the same order as in
 * llama.cpp. `less` may unwind. */
typedef bool (*jless_fn)(jrt *rt, const jv *a, const jv *b, void *ud);
void jsort(jrt *rt, jv *v, size_t n, jless_fn less, void *ud);

/* ---- syntax tree (jinja_parse.c) ---- */

typedef enum jnk {
    N_TEXT, /* str */
    N_COMMENT,
    N_NOOP,
    N_STR,     /* str */
    N_INT,     /* i */
    N_FLOAT,   /* f */
    N_IDENT,   /* str */
    N_ARRAY,   /* list */
    N_TUPLE,   /* list */
    N_OBJECT,  /* list: keys, list2: values (n == n2) */
    N_MEMBER,  /* a: object, b: property, flag: computed (obj[expr]) */
    N_CALL,    /* a: callee, list: arguments */
    N_BINARY,  /* op, a, b */
    N_UNARY,   /* op, a */
    N_FILTER,  /* a: operand, b: filter (N_IDENT or N_CALL) */
    N_TEST,    /* a: operand, b: test (N_IDENT or N_CALL), flag: negated */
    N_SELECT,  /* a if b (no else) */
    N_TERNARY, /* a: condition, b: if true, c: if false */
    N_SLICE,   /* a: start, b: stop, c: step (each may be NULL) */
    N_KWARG,   /* a: key (N_IDENT), b: value */
    N_SPREAD,  /* *a */
    N_BLANK,   /* obj[] */
    N_IF,      /* a: test, list: body, list2: else */
    N_FOR,     /* a: loop variable(s), b: iterable, list: body, list2: else */
    N_BREAK,
    N_CONTINUE,
    N_SET,        /* a: target, b: value (NULL: list is the block body) */
    N_MACRO,      /* a: name, list2: parameters, list: body */
    N_CALLBLOCK,  /* a: the N_CALL, list2: caller parameters, list: body */
    N_FILTERBLOCK /* a: filter, list: body */
} jnk;

typedef enum jop {
    OP_NONE = 0,
    OP_ADD,
    OP_SUB,
    OP_CONCAT,
    OP_MUL,
    OP_DIV,
    OP_MOD,
    OP_EQ,
    OP_NE,
    OP_LT,
    OP_GT,
    OP_LE,
    OP_GE,
    OP_AND,
    OP_OR,
    OP_IN,
    OP_NOTIN,
    OP_NOT,
    OP_NEG,
    OP_POS
} jop;

const char *jop_name(jop op);

typedef struct jnode {
    jnk k;
    jop op;
    bool flag;
    size_t pos; /* offset of the node's first token in the normalised source */
    struct jnode *a, *b, *c;
    struct jnode **list;
    size_t n;
    struct jnode **list2;
    size_t n2;
    const jstr *str;
    int64_t i;
    double f;
} jnode;

/* A parsed template: the normalised source and the statements, all in `arena`. */
typedef struct jprog {
    jarena arena;
    char *src;
    size_t src_len;
    jnode **body;
    size_t n;
} jprog;

/* Lexes and parses `source` into `prog` (whose arena the caller initialised). Unwinds through prog->arena.fail with
 * LLAMAC_E_TEMPLATE and "line L, column C: message" on a syntax error. */
void jinja_parse(jprog *prog, const char *source, size_t len);

/* Unwinds through `f` with LLAMAC_E_TEMPLATE and "line L, column C: message" for offset `pos` of `src`: the one
 * way the lexer, the parser and the renderer report an error in the template. */
JNORETURN void jinja_fail_at(jfail *f, const char *src, size_t src_len, size_t pos, const char *fmt, va_list ap)
    LLAMAC_PRINTF(5, 0);

/* ---- lexer (jinja_lex.c) ---- */

typedef enum jtok_type {
    T_EOF,
    T_TEXT,
    T_NUMBER,
    T_STRING,
    T_IDENT,
    T_EQUALS,
    T_LPAREN,
    T_RPAREN,
    T_OPEN_STMT,
    T_CLOSE_STMT,
    T_OPEN_EXPR,
    T_CLOSE_EXPR,
    T_LBRACKET,
    T_RBRACKET,
    T_LBRACE,
    T_RBRACE,
    T_COMMA,
    T_DOT,
    T_COLON,
    T_PIPE,
    T_ADD_OP, /* + - ~ */
    T_MUL_OP, /* * / % */
    T_CMP_OP, /* < > <= >= == != */
    T_UNARY_OP,
    T_COMMENT
} jtok_type;

typedef struct jtok {
    jtok_type t;
    const char *v; /* NUL-terminated, in the arena */
    size_t len;
    size_t pos;
} jtok;

/* Normalises line endings of `source` (CRLF and CR to LF, one trailing newline dropped) into prog->src and splits
 * it into tokens, applying Hugging Face's whitespace control (trim_blocks, lstrip_blocks, and the '-' markers) the
 * way llama.cpp does. */
void jinja_lex(jprog *prog, const char *source, size_t len, jtok **toks, size_t *n);

/* ---- evaluation (jinja_eval.c) ---- */

jscope *jscope_new(jrt *rt, jscope *parent);
void jscope_set(jrt *rt, jscope *s, const jstr *name, jv v);
void jscope_set_s(jrt *rt, jscope *s, const char *name, jv v);
/* Looks a name up through the scopes; false when it is not set. */
bool jscope_get(const jscope *s, const char *name, size_t len, jv *out);

/* Renders the program into *out (allocated in rt's arena). */
const jstr *jinja_render(jrt *rt, const jprog *prog, jscope *globals);

/* Calls a function value with arguments (used by the evaluator and by call blocks). */
jv jinja_invoke(jrt *rt, jv fn, jargs *args);

/* ---- built-ins (jinja_builtins.c) ---- */

/* The method or filter `name` of `self`'s type bound to `self`, or an undefined value when the type has none.
 * Unwinds for functions and keyword arguments, which have no built-ins at all. */
jv jinja_builtin_method(jrt *rt, jv self, const char *name, size_t len, bool *found);
/* A global function (raise_exception, namespace, range, strftime_now, tojson, test_is_*). */
bool jinja_builtin_global(jrt *rt, const char *name, size_t len, jv *out);
/* The test `name` ("defined", "string", ...), or NULL. */
jbuiltin_fn jinja_builtin_test(const char *name, size_t len);

/* Positional argument `i`, or unwinds with "NAME expected at least N arguments". */
jv jargs_pos(jrt *rt, const jargs *a, size_t i);
/* Keyword argument `key`, else positional `i` when that is not a keyword argument, else undefined. */
jv jargs_kw_or_pos(const jargs *a, const char *key, size_t i);

#endif /* LLAMAC_JINJA_H */
