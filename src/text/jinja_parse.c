/*
 * jinja_parse.c - turns the tokens into a syntax tree: statements ({% if %}, {% for %}, {% set %}, {% macro %},
 * {% call %}, {% filter %}, ...) and expressions with Jinja's precedence.
 *
 * A recursive-descent parser with one function per precedence level, as in llama.cpp, whose grammar it follows
 * (filters bind tighter than tests, which bind tighter than * / %, and 'in' shares the level of comparisons). Every
 * function that can recurse counts the nesting, so a template of ten thousand '(' is an error, not a stack overflow.
 */
#include "text/jinja.h"

#include <errno.h>
#include <locale.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct parser {
    jprog *prog;
    jtok *t;
    size_t n;
    size_t cur;
    int depth;
} parser;

static const jtok eof_tok = { T_EOF, "", 0, 0 };

static JNORETURN void pfail(parser *p, size_t pos, const char *fmt, ...) LLAMAC_PRINTF(3, 4);
static void pfail(parser *p, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jinja_fail_at(p->prog->arena.fail, p->prog->src, p->prog->src_len, pos, fmt, ap);
    va_end(ap); /* not reached */
}

static const jtok *peek(const parser *p, size_t k) {
    return p->cur + k < p->n ? &p->t[p->cur + k] : &eof_tok;
}

static size_t here(const parser *p) {
    return p->cur < p->n ? p->t[p->cur].pos : p->prog->src_len;
}

/* How a token shows in an error message. */
static const char *shown(const jtok *t) {
    return t->t == T_EOF ? "the end of the template" : t->t == T_TEXT ? "text" : t->v;
}

static const jtok *next(parser *p) {
    if (p->cur >= p->n) {
        pfail(p, p->prog->src_len, "unexpected end of the template");
    }
    return &p->t[p->cur++];
}

static bool is(const parser *p, jtok_type t) {
    return peek(p, 0)->t == t;
}

static bool is_ident(const parser *p, const char *name) {
    const jtok *t = peek(p, 0);
    return t->t == T_IDENT && strcmp(t->v, name) == 0;
}

static void expect(parser *p, jtok_type t, const char *what) {
    const jtok *got = peek(p, 0);
    if (got->t != t) {
        pfail(p, here(p), "expected %s, got '%s'", what, shown(got));
    }
    p->cur++;
}

static void expect_ident(parser *p, const char *name) {
    if (!is_ident(p, name)) {
        pfail(p, here(p), "expected '%s', got '%s'", name, shown(peek(p, 0)));
    }
    p->cur++;
}

/* {% name %} where name is one of the NULL-terminated `names`. */
static bool is_statement(const parser *p, const char *const *names) {
    if (peek(p, 0)->t != T_OPEN_STMT || peek(p, 1)->t != T_IDENT) {
        return false;
    }
    for (; *names; names++) {
        if (strcmp(peek(p, 1)->v, *names) == 0) {
            return true;
        }
    }
    return false;
}

static void enter(parser *p) {
    if (++p->depth > JINJA_MAX_PARSE_DEPTH) {
        pfail(p, here(p), "the template nests expressions or blocks more than %d levels deep", JINJA_MAX_PARSE_DEPTH);
    }
}

static void leave(parser *p) {
    p->depth--;
}

static jnode *mk(parser *p, jnk k, size_t tok) {
    jnode *n = ja_alloc(&p->prog->arena, sizeof *n);
    n->k = k;
    n->pos = tok < p->n ? p->t[tok].pos : p->prog->src_len;
    return n;
}

static const jstr *pstr(parser *p, const char *s, size_t len) {
    jstr *str = ja_alloc(&p->prog->arena, sizeof *str + len + 1);
    char *d = (char *)(str + 1);
    if (len) {
        memcpy(d, s, len);
    }
    d[len] = '\0';
    str->p = d;
    str->len = len;
    return str;
}

/* A growable list of nodes. */
typedef struct nlist {
    jnode **v;
    size_t n, cap;
} nlist;

static void nl_push(parser *p, nlist *l, jnode *node) {
    if (l->n == l->cap) {
        size_t cap = l->cap ? l->cap * 2 : 4;
        l->v = ja_grow(&p->prog->arena, l->v, l->n, cap, sizeof *l->v);
        l->cap = cap;
    }
    l->v[l->n++] = node;
}

static jnode *parse_any(parser *p);
static jnode *parse_expression(parser *p);
static jnode *parse_primary(parser *p);
static jnode *parse_call(parser *p, jnode *callee);

/* Statements up to (not including) {% one-of-names %}. */
static void parse_body(parser *p, const char *const *names, jnode ***out, size_t *n) {
    nlist l = { 0 };
    while (!is_statement(p, names)) {
        if (p->cur >= p->n) {
            pfail(p, p->prog->src_len, "unexpected end of the template: missing {%% %s %%}", names[0]);
        }
        nl_push(p, &l, parse_any(p));
    }
    *out = l.v;
    *n = l.n;
}

/* {% endname %} */
static void parse_end(parser *p, const char *name) {
    expect(p, T_OPEN_STMT, "{%");
    expect_ident(p, name);
    expect(p, T_CLOSE_STMT, "%}");
}

/* ---- expressions, lowest precedence first ---- */

static jnode *parse_sequence(parser *p, bool primary) {
    size_t start = p->cur;
    jnode *first = primary ? parse_primary(p) : parse_expression(p);
    if (!is(p, T_COMMA)) {
        return first;
    }
    nlist l = { 0 };
    nl_push(p, &l, first);
    while (is(p, T_COMMA)) {
        p->cur++;
        nl_push(p, &l, primary ? parse_primary(p) : parse_expression(p));
    }
    jnode *t = mk(p, N_TUPLE, start);
    t->list = l.v;
    t->n = l.n;
    return t;
}

static jnode *parse_or(parser *p);

static jnode *parse_if_expr(parser *p) {
    enter(p);
    jnode *a = parse_or(p);
    if (is_ident(p, "if")) {
        size_t start = p->cur++;
        jnode *test = parse_or(p);
        if (is_ident(p, "else")) {
            size_t at = p->cur++;
            jnode *t = mk(p, N_TERNARY, at);
            t->a = test;
            t->b = a;
            t->c = parse_if_expr(p);
            a = t;
        } else {
            jnode *s = mk(p, N_SELECT, start);
            s->a = a;
            s->b = test;
            a = s;
        }
    }
    leave(p);
    return a;
}

static jnode *parse_expression(parser *p) {
    return parse_if_expr(p);
}

static jnode *binary(parser *p, size_t at, jop op, jnode *a, jnode *b) {
    jnode *n = mk(p, N_BINARY, at);
    n->op = op;
    n->a = a;
    n->b = b;
    return n;
}

static jnode *parse_and(parser *p);
static jnode *parse_not(parser *p);
static jnode *parse_comparison(parser *p);
static jnode *parse_additive(parser *p);
static jnode *parse_multiplicative(parser *p);
static jnode *parse_test(parser *p);
static jnode *parse_filter(parser *p);
static jnode *parse_unary(parser *p);

static jnode *parse_or(parser *p) {
    jnode *left = parse_and(p);
    while (is_ident(p, "or")) {
        size_t at = p->cur++;
        left = binary(p, at, OP_OR, left, parse_and(p));
    }
    return left;
}

static jnode *parse_and(parser *p) {
    jnode *left = parse_not(p);
    while (is_ident(p, "and")) {
        size_t at = p->cur++;
        left = binary(p, at, OP_AND, left, parse_not(p));
    }
    return left;
}

static jnode *parse_not(parser *p) {
    if (is_ident(p, "not")) {
        enter(p);
        size_t at = p->cur++;
        jnode *n = mk(p, N_UNARY, at);
        n->op = OP_NOT;
        n->a = parse_not(p);
        leave(p);
        return n;
    }
    return parse_comparison(p);
}

static jop cmp_op(const char *v) {
    if (strcmp(v, "==") == 0) {
        return OP_EQ;
    }
    if (strcmp(v, "!=") == 0) {
        return OP_NE;
    }
    if (strcmp(v, "<") == 0) {
        return OP_LT;
    }
    if (strcmp(v, ">") == 0) {
        return OP_GT;
    }
    if (strcmp(v, "<=") == 0) {
        return OP_LE;
    }
    return OP_GE;
}

static jnode *parse_comparison(parser *p) {
    jnode *left = parse_additive(p);
    while (true) {
        size_t at = p->cur;
        jop op;
        if (is_ident(p, "not") && peek(p, 1)->t == T_IDENT && strcmp(peek(p, 1)->v, "in") == 0) {
            op = OP_NOTIN;
            p->cur += 2;
        } else if (is_ident(p, "in")) {
            op = OP_IN;
            p->cur++;
        } else if (is(p, T_CMP_OP)) {
            op = cmp_op(next(p)->v);
        } else {
            break;
        }
        left = binary(p, at, op, left, parse_additive(p));
    }
    return left;
}

static jnode *parse_additive(parser *p) {
    jnode *left = parse_multiplicative(p);
    while (is(p, T_ADD_OP)) {
        size_t at = p->cur;
        const char *v = next(p)->v;
        jop op = v[0] == '+' ? OP_ADD : v[0] == '-' ? OP_SUB : OP_CONCAT;
        left = binary(p, at, op, left, parse_multiplicative(p));
    }
    return left;
}

static jnode *parse_multiplicative(parser *p) {
    jnode *left = parse_test(p);
    while (is(p, T_MUL_OP)) {
        size_t at = p->cur;
        const char *v = next(p)->v;
        jop op = v[0] == '*' ? OP_MUL : v[0] == '/' ? OP_DIV : OP_MOD;
        left = binary(p, at, op, left, parse_test(p));
    }
    return left;
}

static jnode *parse_test(parser *p) {
    jnode *operand = parse_filter(p);
    while (is_ident(p, "is")) {
        size_t at = p->cur++;
        bool negate = false;
        if (is_ident(p, "not")) {
            p->cur++;
            negate = true;
        }
        jnode *test = parse_primary(p);
        if (is(p, T_LPAREN)) {
            test = parse_call(p, test);
        }
        jnode *n = mk(p, N_TEST, at);
        n->a = operand;
        n->b = test;
        n->flag = negate;
        operand = n;
    }
    return operand;
}

static jnode *parse_filter(parser *p) {
    jnode *operand = parse_unary(p);
    while (is(p, T_PIPE)) {
        size_t at = p->cur++;
        jnode *filter = parse_primary(p);
        if (is(p, T_LPAREN)) {
            filter = parse_call(p, filter);
        }
        jnode *n = mk(p, N_FILTER, at);
        n->a = operand;
        n->b = filter;
        operand = n;
    }
    return operand;
}

static jnode *parse_member(parser *p, jnode *object);

static jnode *parse_unary(parser *p) {
    if (is(p, T_UNARY_OP)) {
        enter(p);
        size_t at = p->cur;
        const char *v = next(p)->v;
        jnode *n = mk(p, N_UNARY, at);
        n->op = v[0] == '-' ? OP_NEG : OP_POS;
        n->a = parse_unary(p);
        leave(p);
        return n;
    }
    jnode *member = parse_member(p, parse_primary(p));
    return is(p, T_LPAREN) ? parse_call(p, member) : member;
}

/* ( args ): positional, name=value, *spread; commas optional as in llama.cpp. */
static void parse_args(parser *p, jnode ***out, size_t *n) {
    expect(p, T_LPAREN, "'('");
    nlist l = { 0 };
    while (!is(p, T_RPAREN)) {
        jnode *arg;
        if (is(p, T_MUL_OP) && strcmp(peek(p, 0)->v, "*") == 0) {
            size_t at = p->cur++;
            arg = mk(p, N_SPREAD, at);
            arg->a = parse_expression(p);
        } else {
            arg = parse_expression(p);
            if (is(p, T_EQUALS)) {
                size_t at = p->cur++;
                jnode *kw = mk(p, N_KWARG, at);
                kw->a = arg;
                kw->b = parse_expression(p);
                arg = kw;
            }
        }
        nl_push(p, &l, arg);
        if (is(p, T_COMMA)) {
            p->cur++;
        }
    }
    expect(p, T_RPAREN, "')'");
    *out = l.v;
    *n = l.n;
}

static jnode *parse_call(parser *p, jnode *callee) {
    enter(p);
    size_t at = p->cur;
    jnode *call = mk(p, N_CALL, at);
    call->a = callee;
    parse_args(p, &call->list, &call->n);
    jnode *member = parse_member(p, call);
    jnode *r = is(p, T_LPAREN) ? parse_call(p, member) : member;
    leave(p);
    return r;
}

/* Inside [ ]: an index, or a slice start:stop:step with any part left out. */
static jnode *parse_subscript(parser *p) {
    size_t start = p->cur;
    jnode *parts[3] = { NULL, NULL, NULL };
    size_t n = 0;
    bool slice = false;
    jnode *first = NULL;
    while (!is(p, T_RBRACKET)) {
        jnode *e = NULL;
        if (is(p, T_COLON)) {
            p->cur++;
            slice = true;
        } else {
            e = parse_expression(p);
            if (is(p, T_COLON)) {
                p->cur++;
                slice = true;
            }
        }
        if (n == 0) {
            first = e;
        }
        if (n < 3) {
            parts[n] = e;
        }
        n++;
    }
    if (slice) {
        jnode *s = mk(p, N_SLICE, start);
        s->a = parts[0];
        s->b = parts[1];
        s->c = parts[2];
        return s;
    }
    if (n == 0) {
        return mk(p, N_BLANK, start);
    }
    return first;
}

static jnode *parse_member(parser *p, jnode *object) {
    size_t start = p->cur;
    while (is(p, T_DOT) || is(p, T_LBRACKET)) {
        bool computed = next(p)->t == T_LBRACKET;
        jnode *prop;
        if (computed) {
            enter(p);
            prop = parse_subscript(p);
            expect(p, T_RBRACKET, "']'");
            leave(p);
        } else {
            prop = parse_primary(p);
        }
        jnode *m = mk(p, N_MEMBER, start);
        m->a = object;
        m->b = prop;
        m->flag = computed;
        object = m;
    }
    return object;
}

/* strtod with '.' as the decimal point whatever the process locale says. */
static double parse_double(const char *s) {
    const char *dp = localeconv()->decimal_point;
    if (!dp || (dp[0] == '.' && dp[1] == '\0') || strlen(s) > 400) {
        return strtod(s, NULL);
    }
    char buf[512];
    size_t w = 0, dl = strlen(dp);
    for (; *s && w + dl + 1 < sizeof buf; s++) {
        if (*s == '.') {
            memcpy(buf + w, dp, dl);
            w += dl;
        } else {
            buf[w++] = *s;
        }
    }
    buf[w] = '\0';
    return strtod(buf, NULL);
}

static jnode *parse_primary(parser *p) {
    size_t at = p->cur;
    const jtok *t = next(p);
    switch (t->t) {
    case T_NUMBER: {
        if (strchr(t->v, '.')) {
            jnode *n = mk(p, N_FLOAT, at);
            n->f = parse_double(t->v);
            return n;
        }
        errno = 0;
        char *end = NULL;
        long long v = strtoll(t->v, &end, 10);
        if (errno != 0 || end == t->v || *end != '\0') {
            pfail(p, t->pos, "integer literal %s is out of range", t->v);
        }
        jnode *n = mk(p, N_INT, at);
        n->i = (int64_t)v;
        return n;
    }
    case T_STRING: {
        /* adjacent literals join: 'a' 'b' is 'ab' */
        size_t len = t->len, k = p->cur;
        while (k < p->n && p->t[k].t == T_STRING) {
            len += p->t[k++].len;
        }
        char *buf = ja_alloc(&p->prog->arena, len + 1);
        memcpy(buf, t->v, t->len);
        size_t w = t->len;
        while (is(p, T_STRING)) {
            const jtok *more = next(p);
            memcpy(buf + w, more->v, more->len);
            w += more->len;
        }
        jnode *n = mk(p, N_STR, at);
        n->str = pstr(p, buf, len);
        return n;
    }
    case T_IDENT: {
        jnode *n = mk(p, N_IDENT, at);
        n->str = pstr(p, t->v, t->len);
        return n;
    }
    case T_LPAREN: {
        jnode *e = parse_sequence(p, false);
        expect(p, T_RPAREN, "')'");
        return e;
    }
    case T_LBRACKET: {
        enter(p);
        nlist l = { 0 };
        while (!is(p, T_RBRACKET)) {
            nl_push(p, &l, parse_expression(p));
            if (is(p, T_COMMA)) {
                p->cur++;
            }
        }
        p->cur++;
        jnode *n = mk(p, N_ARRAY, at);
        n->list = l.v;
        n->n = l.n;
        leave(p);
        return n;
    }
    case T_LBRACE: {
        enter(p);
        nlist keys = { 0 }, vals = { 0 };
        while (!is(p, T_RBRACE)) {
            nl_push(p, &keys, parse_expression(p));
            expect(p, T_COLON, "':'");
            nl_push(p, &vals, parse_expression(p));
            if (is(p, T_COMMA)) {
                p->cur++;
            }
        }
        p->cur++;
        jnode *n = mk(p, N_OBJECT, at);
        n->list = keys.v;
        n->n = keys.n;
        n->list2 = vals.v;
        n->n2 = vals.n;
        leave(p);
        return n;
    }
    default: pfail(p, t->pos, "unexpected '%s' in an expression", shown(t));
    }
}

/* ---- statements ---- */

static jnode *parse_if(parser *p, size_t at) {
    enter(p);
    jnode *n = mk(p, N_IF, at);
    n->a = parse_expression(p);
    expect(p, T_CLOSE_STMT, "%}");
    static const char *const stops[] = { "endif", "elif", "else", NULL };
    parse_body(p, stops, &n->list, &n->n);
    if (is_statement(p, (const char *const[]){ "elif", NULL })) {
        size_t at2 = p->cur;
        p->cur += 2;
        n->list2 = ja_alloc(&p->prog->arena, sizeof *n->list2);
        n->list2[0] = parse_if(p, at2);
        n->n2 = 1;
    } else if (is_statement(p, (const char *const[]){ "else", NULL })) {
        p->cur += 2;
        expect(p, T_CLOSE_STMT, "%}");
        static const char *const end[] = { "endif", NULL };
        parse_body(p, end, &n->list2, &n->n2);
    }
    leave(p);
    return n;
}

static jnode *parse_for(parser *p, size_t at) {
    jnode *n = mk(p, N_FOR, at);
    n->a = parse_sequence(p, true);
    if (!is_ident(p, "in")) {
        pfail(p, here(p), "expected 'in' in a for loop, got '%s'", shown(peek(p, 0)));
    }
    p->cur++;
    n->b = parse_expression(p);
    expect(p, T_CLOSE_STMT, "%} (loop filters and 'recursive' are limited to 'for x in y if cond')");
    static const char *const stops[] = { "endfor", "else", NULL };
    parse_body(p, stops, &n->list, &n->n);
    if (is_statement(p, (const char *const[]){ "else", NULL })) {
        p->cur += 2;
        expect(p, T_CLOSE_STMT, "%}");
        static const char *const end[] = { "endfor", NULL };
        parse_body(p, end, &n->list2, &n->n2);
    }
    return n;
}

static jnode *parse_set(parser *p, size_t at) {
    jnode *n = mk(p, N_SET, at);
    n->a = parse_sequence(p, false);
    if (is(p, T_EQUALS)) {
        p->cur++;
        n->b = parse_sequence(p, false);
    } else {
        expect(p, T_CLOSE_STMT, "'=' or %}");
        static const char *const end[] = { "endset", NULL };
        parse_body(p, end, &n->list, &n->n);
        expect(p, T_OPEN_STMT, "{%");
        expect_ident(p, "endset");
    }
    expect(p, T_CLOSE_STMT, "%}");
    return n;
}

static jnode *parse_statement(parser *p) {
    expect(p, T_OPEN_STMT, "{%");
    if (peek(p, 0)->t != T_IDENT) {
        pfail(p, here(p), "expected a statement name after {%%, got '%s'", shown(peek(p, 0)));
    }
    size_t at = p->cur;
    const char *name = next(p)->v;
    jnode *n;
    if (strcmp(name, "set") == 0) {
        n = parse_set(p, at);
    } else if (strcmp(name, "if") == 0) {
        n = parse_if(p, at);
        parse_end(p, "endif");
    } else if (strcmp(name, "macro") == 0) {
        n = mk(p, N_MACRO, at);
        n->a = parse_primary(p);
        parse_args(p, &n->list2, &n->n2);
        expect(p, T_CLOSE_STMT, "%}");
        static const char *const end[] = { "endmacro", NULL };
        parse_body(p, end, &n->list, &n->n);
        parse_end(p, "endmacro");
    } else if (strcmp(name, "for") == 0) {
        n = parse_for(p, at);
        parse_end(p, "endfor");
    } else if (strcmp(name, "break") == 0 || strcmp(name, "continue") == 0) {
        expect(p, T_CLOSE_STMT, "%}");
        n = mk(p, name[0] == 'b' ? N_BREAK : N_CONTINUE, at);
    } else if (strcmp(name, "call") == 0) {
        n = mk(p, N_CALLBLOCK, at);
        if (is(p, T_LPAREN)) {
            parse_args(p, &n->list2, &n->n2);
        }
        jnode *callee = parse_primary(p);
        if (callee->k != N_IDENT) {
            pfail(p, callee->pos, "{%% call %%} needs a macro name");
        }
        jnode *call = mk(p, N_CALL, at);
        call->a = callee;
        parse_args(p, &call->list, &call->n);
        n->a = call;
        expect(p, T_CLOSE_STMT, "%}");
        static const char *const end[] = { "endcall", NULL };
        parse_body(p, end, &n->list, &n->n);
        parse_end(p, "endcall");
    } else if (strcmp(name, "filter") == 0) {
        n = mk(p, N_FILTERBLOCK, at);
        jnode *f = parse_primary(p);
        if (f->k == N_IDENT && is(p, T_LPAREN)) {
            f = parse_call(p, f);
        }
        n->a = f;
        expect(p, T_CLOSE_STMT, "%}");
        static const char *const end[] = { "endfilter", NULL };
        parse_body(p, end, &n->list, &n->n);
        parse_end(p, "endfilter");
    } else if (strcmp(name, "generation") == 0 || strcmp(name, "endgeneration") == 0) {
        /* transformers' assistant-mask markers: no output; the token after the name is skipped unchecked */
        n = mk(p, N_NOOP, at);
        p->cur++;
    } else {
        pfail(p, p->t[at].pos, "unknown or unsupported statement {%% %s %%}", name);
    }
    return n;
}

static jnode *parse_any(parser *p) {
    enter(p);
    size_t at = p->cur;
    const jtok *t = peek(p, 0);
    jnode *n;
    switch (t->t) {
    case T_COMMENT:
        p->cur++;
        n = mk(p, N_COMMENT, at);
        break;
    case T_TEXT:
        p->cur++;
        n = mk(p, N_TEXT, at);
        n->str = pstr(p, t->v, t->len);
        break;
    case T_OPEN_STMT: n = parse_statement(p); break;
    case T_OPEN_EXPR:
        p->cur++;
        n = parse_expression(p);
        expect(p, T_CLOSE_EXPR, "}}");
        break;
    default: pfail(p, here(p), "unexpected '%s' outside a tag", shown(t));
    }
    leave(p);
    return n;
}

const char *jop_name(jop op) {
    static const char *names[] = { "",  "+",  "-",  "~",   "*",  "/",  "%",      "==",  "!=", "<",
                                   ">", "<=", ">=", "and", "or", "in", "not in", "not", "-",  "+" };
    return (size_t)op < sizeof names / sizeof names[0] ? names[op] : "?";
}

void jinja_parse(jprog *prog, const char *source, size_t len) {
    jtok *toks = NULL;
    size_t ntok = 0;
    jinja_lex(prog, source, len, &toks, &ntok);
    parser p = { prog, toks, ntok, 0, 0 };
    nlist body = { 0 };
    while (p.cur < p.n) {
        nl_push(&p, &body, parse_any(&p));
    }
    prog->body = body.v;
    prog->n = body.n;
}
