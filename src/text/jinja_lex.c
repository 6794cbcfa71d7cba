/*
 * jinja_lex.c - splits a template into text and the tokens inside {{ }}, {% %} and {# #}.
 *
 * Whitespace control is decided here, as in llama.cpp (which follows huggingface.js): chat templates are rendered
 * with trim_blocks and lstrip_blocks on, so the newline after a block or comment tag is dropped and the spaces
 * before one are stripped up to the start of its line; a '-' inside a tag strips all whitespace on that side. The
 * rules below reproduce llama.cpp's lexer exactly, including its edge cases, because they decide the output bytes.
 */
#include "text/jinja.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

typedef struct lexer {
    jprog *prog;
    const char *s; /* normalised source, NUL-terminated */
    size_t n;
    size_t pos;
    jtok *toks;
    size_t ntok, cap;
    size_t braces; /* depth of { } inside the current expression, where "}}" closes a literal, not the tag */
} lexer;

static bool is_space(char c) {
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static bool is_word(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static JNORETURN void lex_fail(lexer *lx, size_t pos, const char *fmt, ...) LLAMAC_PRINTF(3, 4);
static void lex_fail(lexer *lx, size_t pos, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    jinja_fail_at(lx->prog->arena.fail, lx->s, lx->n, pos, fmt, ap);
    va_end(ap); /* not reached */
}

/* The byte at pos + k, or '\0' past the end (the source keeps a NUL there). */
static char at(const lexer *lx, size_t k) {
    return lx->pos + k < lx->n ? lx->s[lx->pos + k] : '\0';
}

/* llama.cpp's next_pos_is: the byte k ahead is one of `set` (never true for the last byte of the source). */
static bool next_is(const lexer *lx, const char *set, size_t k) {
    if (lx->pos + k >= lx->n) {
        return false;
    }
    return memchr(set, lx->s[lx->pos + k], strlen(set)) != NULL;
}

static void push(lexer *lx, jtok_type t, const char *v, size_t len, size_t pos) {
    if (lx->ntok == lx->cap) {
        size_t cap = lx->cap ? lx->cap * 2 : 64;
        lx->toks = ja_grow(&lx->prog->arena, lx->toks, lx->ntok, cap, sizeof *lx->toks);
        lx->cap = cap;
    }
    char *copy = ja_alloc(&lx->prog->arena, len + 1);
    if (len) {
        memcpy(copy, v, len);
    }
    lx->toks[lx->ntok].t = t;
    lx->toks[lx->ntok].v = copy;
    lx->toks[lx->ntok].len = len;
    lx->toks[lx->ntok].pos = pos;
    lx->ntok++;
}

static jtok_type last_type(const lexer *lx, jtok_type if_none) {
    return lx->ntok ? lx->toks[lx->ntok - 1].t : if_none;
}

/* A string literal's body up to the closing quote, with backslash escapes resolved. */
static void lex_string(lexer *lx, char quote) {
    size_t start = lx->pos;
    lx->pos++;
    char *buf = ja_alloc(&lx->prog->arena, lx->n - lx->pos + 1);
    size_t len = 0;
    while (true) {
        if (lx->pos >= lx->n) {
            lex_fail(lx, start, "unterminated string literal");
        }
        char c = lx->s[lx->pos];
        if (c == quote) {
            break;
        }
        if (c == '\\') {
            lx->pos++;
            if (lx->pos >= lx->n) {
                lex_fail(lx, lx->pos, "unexpected end of template after a backslash");
            }
            char e = lx->s[lx->pos++];
            static const char from[] = "ntrbfv\\'\"", to[] = "\n\t\r\b\f\v\\'\"";
            const char *k = memchr(from, e, sizeof from - 1);
            if (k) {
                buf[len++] = to[k - from];
                continue;
            }
            char esc[2] = { e, '\0' };
            lex_fail(lx, lx->pos, "unknown escape sequence \\%s in a string literal", esc);
        }
        buf[len++] = c;
        lx->pos++;
    }
    lx->pos++; /* the closing quote */
    push(lx, T_STRING, buf, len, start);
}

static void lex_digits(lexer *lx) {
    while (lx->pos < lx->n && is_digit(lx->s[lx->pos])) {
        lx->pos++;
    }
}

/* Digits, then a fraction only when a digit follows the point. */
static void lex_number_body(lexer *lx) {
    lex_digits(lx);
    if (at(lx, 0) == '.' && lx->pos + 1 < lx->n && is_digit(lx->s[lx->pos + 1])) {
        lx->pos++;
        lex_digits(lx);
    }
}

/* Text up to the next tag, with trim_blocks / lstrip_blocks / '-' applied. Returns true when a token was added. */
static bool lex_text(lexer *lx) {
    size_t p = lx->pos;
    bool rstrip_prev = false, drop_newline = false;
    if (p > 3) {
        char c0 = lx->s[p - 3], c1 = lx->s[p - 2], c2 = lx->s[p - 1];
        rstrip_prev = c0 == '-' && (c1 == '%' || c1 == '}' || c1 == '#') && c2 == '}';
        drop_newline = (c1 == '#' || c1 == '%' || c1 == '-') && c2 == '}';
    }
    size_t start = lx->pos, end = start;
    while (lx->pos < lx->n && !(lx->s[lx->pos] == '{' && next_is(lx, "%{#", 1))) {
        end = ++lx->pos;
    }
    /* lstrip_blocks: spaces before a block or comment tag go, back to the start of their line */
    if (at(lx, 0) == '{' && next_is(lx, "%#-", 1)) {
        size_t cur = end;
        while (cur > start) {
            char c = lx->s[cur - 1];
            if (cur == 1) {
                end = 0;
                break;
            }
            if (c == '\n') {
                end = cur;
                break;
            }
            if (!is_space(c)) {
                break;
            }
            cur--;
        }
    }
    const char *t = lx->s + start;
    size_t len = end - start;
    if (drop_newline && len && t[0] == '\n') {
        t++;
        len--;
    }
    if (rstrip_prev) {
        while (len && (t[0] == ' ' || t[0] == '\t' || t[0] == '\r' || t[0] == '\n')) {
            t++;
            len--;
        }
    }
    if (at(lx, 0) == '{' && next_is(lx, "{%#", 1) && next_is(lx, "-", 2)) {
        while (len && (t[len - 1] == ' ' || t[len - 1] == '\t' || t[len - 1] == '\r' || t[len - 1] == '\n')) {
            len--;
        }
    }
    if (len == 0) {
        return false;
    }
    push(lx, T_TEXT, t, len, start);
    return true;
}

static const struct {
    const char *seq;
    jtok_type t;
} symbols[] = {
    { "{%-", T_OPEN_STMT }, { "-%}", T_CLOSE_STMT }, { "{{-", T_OPEN_EXPR }, { "-}}", T_CLOSE_EXPR },
    { "{%", T_OPEN_STMT },  { "%}", T_CLOSE_STMT },  { "{{", T_OPEN_EXPR },  { "}}", T_CLOSE_EXPR },
    { "(", T_LPAREN },      { ")", T_RPAREN },       { "{", T_LBRACE },      { "}", T_RBRACE },
    { "[", T_LBRACKET },    { "]", T_RBRACKET },     { ",", T_COMMA },       { ".", T_DOT },
    { ":", T_COLON },       { "|", T_PIPE },         { "<=", T_CMP_OP },     { ">=", T_CMP_OP },
    { "==", T_CMP_OP },     { "!=", T_CMP_OP },      { "<", T_CMP_OP },      { ">", T_CMP_OP },
    { "+", T_ADD_OP },      { "-", T_ADD_OP },       { "~", T_ADD_OP },      { "*", T_MUL_OP },
    { "/", T_MUL_OP },      { "%", T_MUL_OP },       { "=", T_EQUALS },
};

static void normalise(jprog *prog, const char *source, size_t len) {
    char *s = ja_alloc(&prog->arena, len + 1);
    size_t n = 0;
    for (size_t i = 0; i < len; i++) {
        if (source[i] == '\r') {
            if (i + 1 < len && source[i + 1] == '\n') {
                continue;
            }
            s[n++] = '\n';
        } else {
            s[n++] = source[i];
        }
    }
    if (len && source[len - 1] == '\n') {
        n--;
    }
    s[n] = '\0';
    prog->src = s;
    prog->src_len = n;
}

void jinja_lex(jprog *prog, const char *source, size_t len, jtok **toks, size_t *ntoks) {
    normalise(prog, source, len);
    lexer lx = { prog, prog->src, prog->src_len, 0, NULL, 0, 0, 0 };
    while (lx.pos < lx.n) {
        jtok_type last = last_type(&lx, T_CLOSE_STMT);
        if (last == T_CLOSE_STMT || last == T_CLOSE_EXPR || last == T_COMMENT) {
            if (lex_text(&lx)) {
                continue;
            }
        }
        char ch = at(&lx, 0);
        if (ch == '{' && next_is(&lx, "#", 1)) {
            size_t start = lx.pos;
            lx.pos += 2;
            size_t body = lx.pos;
            while (!(at(&lx, 0) == '#' && next_is(&lx, "}", 1))) {
                if (lx.pos + 2 >= lx.n) {
                    lex_fail(&lx, lx.pos, "missing end of comment tag #}");
                }
                lx.pos++;
            }
            push(&lx, T_COMMENT, lx.s + body, lx.pos - body, start);
            lx.pos += 2;
            continue;
        }
        if (ch == '-' && (last == T_OPEN_EXPR || last == T_OPEN_STMT)) {
            lx.pos++;
            if (lx.pos >= lx.n) {
                break;
            }
        }
        while (lx.pos < lx.n && is_space(lx.s[lx.pos])) {
            lx.pos++;
        }
        if (lx.pos >= lx.n) {
            break;
        }
        ch = lx.s[lx.pos];
        bool closing = ch == '-' && next_is(&lx, "%}", 1);
        if (!closing && (ch == '-' || ch == '+')) {
            jtok_type prev = last_type(&lx, T_EOF);
            if (prev == T_TEXT || prev == T_EOF) {
                char c[2] = { ch, '\0' };
                lex_fail(&lx, lx.pos, "unexpected character '%s'", c);
            }
            if (prev != T_IDENT && prev != T_NUMBER && prev != T_STRING && prev != T_RPAREN && prev != T_RBRACKET) {
                /* a sign: "-1" is one number, "- x" a unary operator */
                size_t start = lx.pos++;
                lex_number_body(&lx);
                push(&lx, lx.pos > start + 1 ? T_NUMBER : T_UNARY_OP, lx.s + start, lx.pos - start, start);
                continue;
            }
        }
        bool matched = false;
        for (size_t i = 0; i < sizeof symbols / sizeof symbols[0]; i++) {
            size_t sl = strlen(symbols[i].seq);
            if (symbols[i].t == T_CLOSE_EXPR && sl == 2 && lx.braces > 0) {
                continue;
            }
            if (lx.pos + sl <= lx.n && memcmp(lx.s + lx.pos, symbols[i].seq, sl) == 0) {
                push(&lx, symbols[i].t, symbols[i].seq, sl, lx.pos);
                if (symbols[i].t == T_OPEN_EXPR) {
                    lx.braces = 0;
                } else if (symbols[i].t == T_LBRACE) {
                    lx.braces++;
                } else if (symbols[i].t == T_RBRACE) {
                    lx.braces--; /* wraps when unbalanced, as llama.cpp's size_t does */
                }
                lx.pos += sl;
                matched = true;
                break;
            }
        }
        if (matched) {
            continue;
        }
        if (ch == '\'' || ch == '"') {
            lex_string(&lx, ch);
            continue;
        }
        size_t start = lx.pos;
        if (is_digit(ch)) {
            lex_number_body(&lx);
            push(&lx, T_NUMBER, lx.s + start, lx.pos - start, start);
            continue;
        }
        if (is_word(ch)) {
            while (lx.pos < lx.n && is_word(lx.s[lx.pos])) {
                lx.pos++;
            }
            push(&lx, T_IDENT, lx.s + start, lx.pos - start, start);
            continue;
        }
        char c[8];
        if ((unsigned char)ch >= 0x80 || (unsigned char)ch < 0x20) {
            snprintf(c, sizeof c, "\\x%02x", (unsigned char)ch);
        } else {
            c[0] = ch;
            c[1] = '\0';
        }
        lex_fail(&lx, lx.pos, "unexpected character '%s' inside a tag", c);
    }
    *toks = lx.toks;
    *ntoks = lx.ntok;
}
