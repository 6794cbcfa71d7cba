/*
 * toolcall_json.c - an incremental JSON scanner for tool-call arguments, and the append the parsers share.
 *
 * A model's arguments arrive a few bytes at a time and may stop anywhere (max_tokens) or go wrong. The scanner
 * says whether a value is complete, and also how much of an unfinished one can already be sent to a client: the
 * longest prefix that becomes valid JSON when only closing quotes and brackets are appended. Keys, numbers and
 * literals are never split, so a prefix never ends between a key and its value.
 */
#include "schema/toolcall.h"

#include <stdlib.h>
#include <string.h>

void tc_buf_add(llamac__dynbuf *b, const char *s, size_t n, bool *oom) {
    if (n > 0 && !*oom && !llamac__dynbuf_add(b, s, n)) {
        *oom = true;
    }
}

size_t tc_json_ws(const char *s, size_t n) {
    size_t i = 0;
    while (i < n && (s[i] == ' ' || s[i] == '\t' || s[i] == '\n' || s[i] == '\r')) {
        i++;
    }
    return i;
}

enum {
    ST_VALUE,     /* a value must come */
    ST_ARR_FIRST, /* after '[': a value or ']' */
    ST_OBJ_FIRST, /* after '{': a key or '}' */
    ST_OBJ_KEY,   /* after ',' in an object: a key */
    ST_OBJ_COLON, /* after a key */
    ST_AFTER,     /* after a member value: ',' or the closer */
    ST_STR,       /* inside a string */
    ST_STR_ESC,   /* after a backslash */
    ST_STR_U,     /* inside \uXXXX */
    ST_NUM,       /* inside a number (sub-state in num) */
    ST_LIT        /* inside true/false/null */
};

/* Number sub-states; the ones marked "end" may end the number. */
enum { N_SIGN, N_ZERO /* end */, N_INT /* end */, N_DOT, N_FRAC /* end */, N_E, N_ESIGN, N_EXP /* end */ };

static bool num_can_end(int num) {
    return num == N_ZERO || num == N_INT || num == N_FRAC || num == N_EXP;
}

static bool is_digit(char c) {
    return c >= '0' && c <= '9';
}

static bool is_hex(char c) {
    return is_digit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* The number sub-state after c, or -1 when c cannot continue the number. */
static int num_next(int num, char c) {
    bool digit = is_digit(c);
    switch (num) {
    case N_SIGN: return c == '0' ? N_ZERO : digit ? N_INT : -1;
    case N_ZERO:
    case N_INT:
        if (c == '.') {
            return N_DOT;
        }
        if (c == 'e' || c == 'E') {
            return N_E;
        }
        return num == N_INT && digit ? N_INT : -1;
    case N_DOT: return digit ? N_FRAC : -1;
    case N_FRAC: return c == 'e' || c == 'E' ? N_E : digit ? N_FRAC : -1;
    case N_E: return c == '+' || c == '-' ? N_ESIGN : digit ? N_EXP : -1;
    case N_ESIGN:
    case N_EXP: return digit ? N_EXP : -1;
    }
    return -1;
}

/* Advances the number sub-state by c; false (state unchanged) when c cannot continue the number. */
static bool num_step(int *num, char c) {
    int next = num_next(*num, c);
    if (next < 0) {
        return false;
    }
    *num = next;
    return true;
}

typedef struct scan {
    char stack[TC_JSON_MAX_DEPTH];
    int depth;
    size_t safe;
    int safe_depth;
    bool safe_in_string;
} scan;

static void mark_safe(scan *sc, size_t at, bool in_string) {
    sc->safe = at;
    sc->safe_depth = sc->depth;
    sc->safe_in_string = in_string;
}

static void write_closers(const scan *sc, char *closers) {
    size_t k = 0;
    if (sc->safe > 0) {
        if (sc->safe_in_string) {
            closers[k++] = '"';
        }
        for (int d = sc->safe_depth - 1; d >= 0; d--) {
            closers[k++] = sc->stack[d] == '{' ? '}' : ']';
        }
    }
    closers[k] = '\0';
}

int tc_json_scan(const char *s, size_t n, size_t *end, size_t *safe, char *closers) {
    scan sc = { .depth = 0 };
    int st = ST_VALUE, num = N_SIGN;
    bool key = false;
    const char *lit = NULL;
    size_t lit_i = 0;
    int hex = 0;
    unsigned code = 0;
    bool want_low = false; /* after a \u escape of a high surrogate */
    int result = TC_JSON_PARTIAL;
    size_t i = 0;
    *end = 0;
    for (; i < n; i++) {
        char c = s[i];
        bool ws = c == ' ' || c == '\t' || c == '\n' || c == '\r';
        bool value_done = false;
        if (st == ST_NUM) {
            if (num_step(&num, c)) {
                continue;
            }
            if (!num_can_end(num)) {
                goto invalid;
            }
            /* The number ended just before c; c is looked at again as what follows a value. */
            if (sc.depth == 0) {
                *end = i;
                result = TC_JSON_COMPLETE;
                goto done;
            }
            mark_safe(&sc, i, false);
            st = ST_AFTER;
        }
        switch (st) {
        case ST_VALUE:
        case ST_ARR_FIRST:
            if (ws && i > 0) {
                break;
            }
            if (st == ST_ARR_FIRST && c == ']') {
                sc.depth--;
                value_done = true;
            } else if (c == '"') {
                st = ST_STR;
                key = false;
                mark_safe(&sc, i + 1, true);
            } else if (c == '{' || c == '[') {
                if (sc.depth == TC_JSON_MAX_DEPTH) {
                    goto invalid;
                }
                sc.stack[sc.depth++] = c;
                mark_safe(&sc, i + 1, false);
                st = c == '{' ? ST_OBJ_FIRST : ST_ARR_FIRST;
            } else if (c == '-' || is_digit(c)) {
                st = ST_NUM;
                num = N_SIGN;
                if (c != '-') {
                    num_step(&num, c);
                }
            } else if (c == 't' || c == 'f' || c == 'n') {
                st = ST_LIT;
                lit = c == 't' ? "true" : c == 'f' ? "false" : "null";
                lit_i = 1;
            } else {
                goto invalid;
            }
            break;
        case ST_OBJ_FIRST:
        case ST_OBJ_KEY:
            if (ws) {
                break;
            }
            if (c == '"') {
                st = ST_STR;
                key = true;
            } else if (st == ST_OBJ_FIRST && c == '}') {
                sc.depth--;
                value_done = true;
            } else {
                goto invalid;
            }
            break;
        case ST_OBJ_COLON:
            if (ws) {
                break;
            }
            if (c != ':') {
                goto invalid;
            }
            st = ST_VALUE;
            break;
        case ST_AFTER:
            if (ws) {
                break;
            }
            if (c == ',') {
                st = sc.stack[sc.depth - 1] == '{' ? ST_OBJ_KEY : ST_VALUE;
            } else if ((c == '}' && sc.stack[sc.depth - 1] == '{') || (c == ']' && sc.stack[sc.depth - 1] == '[')) {
                sc.depth--;
                value_done = true;
            } else {
                goto invalid;
            }
            break;
        case ST_STR:
            if (want_low) {
                if (c != '\\') {
                    goto invalid; /* a high surrogate must be followed by a low one */
                }
                st = ST_STR_ESC;
            } else if (c == '"') {
                if (key) {
                    st = ST_OBJ_COLON;
                } else {
                    value_done = true;
                }
            } else if (c == '\\') {
                st = ST_STR_ESC;
            } else if ((unsigned char)c < 0x20) {
                goto invalid;
            } else if (!key) {
                mark_safe(&sc, i + 1, true);
            }
            break;
        case ST_STR_ESC:
            if (c == 'u') {
                st = ST_STR_U;
                hex = 0;
                code = 0;
            } else if (!want_low && c != '\0' && strchr("\"\\/bfnrt", c)) {
                st = ST_STR;
                if (!key) {
                    mark_safe(&sc, i + 1, true);
                }
            } else {
                goto invalid;
            }
            break;
        case ST_STR_U:
            if (!is_hex(c)) {
                goto invalid;
            }
            code = code * 16 + (unsigned)(is_digit(c) ? c - '0' : (c | 0x20) - 'a' + 10);
            if (++hex == 4) {
                /* Escaped UTF-16 surrogates must pair up: strict parsers refuse lone ones. */
                bool low = code >= 0xDC00 && code <= 0xDFFF, high = code >= 0xD800 && code <= 0xDBFF;
                if (low != want_low) {
                    goto invalid;
                }
                want_low = high;
                st = ST_STR;
                if (!key && !want_low) {
                    mark_safe(&sc, i + 1, true);
                }
            }
            break;
        case ST_LIT:
            if (c != lit[lit_i]) {
                goto invalid;
            }
            if (lit[++lit_i] == '\0') {
                value_done = true;
            }
            break;
        default: goto invalid;
        }
        if (value_done) {
            if (sc.depth == 0) {
                *end = i + 1;
                result = TC_JSON_COMPLETE;
                goto done;
            }
            mark_safe(&sc, i + 1, false);
            st = ST_AFTER;
        }
    }
    goto done;
invalid:
    *end = i;
    result = TC_JSON_INVALID;
done:
    if (result == TC_JSON_COMPLETE) {
        sc.safe = *end;
        sc.safe_depth = 0;
        sc.safe_in_string = false;
    }
    *safe = sc.safe;
    write_closers(&sc, closers);
    return result;
}

void tc_json_quote(llamac__dynbuf *b, const char *s, size_t n, bool *oom) {
    static const char hex[] = "0123456789abcdef";
    tc_buf_add(b, "\"", 1, oom);
    for (size_t i = 0; i < n;) {
        unsigned char c = (unsigned char)s[i];
        if (c == '"' || c == '\\') {
            char esc[2] = { '\\', (char)c };
            tc_buf_add(b, esc, 2, oom);
            i++;
        } else if (c == '\n' || c == '\t' || c == '\r') {
            char esc[2] = { '\\', c == '\n' ? 'n' : c == '\t' ? 't' : 'r' };
            tc_buf_add(b, esc, 2, oom);
            i++;
        } else if (c < 0x20) {
            char esc[6] = { '\\', 'u', '0', '0', hex[c >> 4], hex[c & 15] };
            tc_buf_add(b, esc, 6, oom);
            i++;
        } else if (c < 0x80) {
            tc_buf_add(b, s + i, 1, oom);
            i++;
        } else {
            size_t k = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2;
            if (k <= n - i && llamac_utf8_valid(s + i, k, NULL)) {
                tc_buf_add(b, s + i, k, oom);
                i += k;
            } else {
                tc_buf_add(b, "\xef\xbf\xbd", 3, oom); /* U+FFFD for a byte that starts no character */
                i++;
            }
        }
    }
    tc_buf_add(b, "\"", 1, oom);
}
