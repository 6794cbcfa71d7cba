/*
 * json_schema_regex.c - translates a JSON Schema "pattern" (an ECMA-262 regex) into a GBNF expression over the JSON
 * text of a string.
 *
 * A pattern describes the decoded string, while the grammar sees its JSON spelling, so every character the regex
 * matches is emitted in the spelling JSON gives it (raw, or \" \\ \n ... \u001f for the characters that must be
 * escaped). Like JSON Schema, a pattern matches anywhere unless anchored: an alternative without a leading ^ may be
 * preceded by any characters, one without a trailing $ followed by any. Features with no grammar equivalent
 * (lookaround, backreferences, word boundaries, anchors in the middle) are refused with the offset, never
 * approximated silently; a repetition of something that can match nothing is refused too, because llama.cpp's
 * grammar parser rejects the left recursion it would create.
 */
#include "schema/json_schema_internal.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define REGEX_MAX_DEPTH 64
/* llama.cpp copies a repeated expression once per repetition; past this many elements after expansion a pattern
 * is refused, so that a schema cannot make the grammar parser build millions of rules. */
#define REGEX_MAX_EXPANDED 100000

typedef struct rx {
    const llamac__js_regex_in *in;
    const unsigned char *s;
    size_t n;
    size_t i;
    int depth;
    char *why;
    size_t why_cap;
    bool failed;
} rx;

static bool rx_fail(rx *r, const char *what) {
    if (!r->failed) {
        snprintf(r->why, r->why_cap, "%s at offset %zu", what, r->i);
        r->failed = true;
    }
    return false;
}

static bool at_end(const rx *r) {
    return r->i >= r->n;
}

static int peek(const rx *r) {
    return at_end(r) ? -1 : r->s[r->i];
}

/* Decodes one UTF-8 code point at the cursor (the schema text was validated as UTF-8 by jansson). */
static uint32_t next_cp(rx *r) {
    unsigned char c = r->s[r->i++];
    if (c < 0x80) {
        return c;
    }
    int extra = c >= 0xF0 ? 3 : c >= 0xE0 ? 2 : 1;
    uint32_t cp = c & (c >= 0xF0 ? 0x07u : c >= 0xE0 ? 0x0Fu : 0x1Fu);
    for (int k = 0; k < extra && !at_end(r); k++) {
        cp = (cp << 6) | (r->s[r->i++] & 0x3Fu);
    }
    return cp;
}

static int hex_value(int c) {
    if (c >= '0' && c <= '9') {
        return c - '0';
    }
    if (c >= 'a' && c <= 'f') {
        return c - 'a' + 10;
    }
    if (c >= 'A' && c <= 'F') {
        return c - 'A' + 10;
    }
    return -1;
}

static bool read_hex(rx *r, int digits, uint32_t *out) {
    uint32_t v = 0;
    for (int k = 0; k < digits; k++) {
        int h = at_end(r) ? -1 : hex_value(r->s[r->i]);
        if (h < 0) {
            return rx_fail(r, "malformed hexadecimal escape");
        }
        v = v * 16 + (uint32_t)h;
        r->i++;
    }
    *out = v;
    return true;
}

static void add_class(llamac__jsset *set, int which) {
    switch (which) {
    case 'd': llamac__jsset_add(set, '0', '9'); break;
    case 'w':
        llamac__jsset_add(set, '0', '9');
        llamac__jsset_add(set, 'A', 'Z');
        llamac__jsset_add(set, '_', '_');
        llamac__jsset_add(set, 'a', 'z');
        break;
    default: /* 's': ECMA-262 WhiteSpace and LineTerminator */
        llamac__jsset_add(set, 0x09, 0x0D);
        llamac__jsset_add(set, 0x20, 0x20);
        llamac__jsset_add(set, 0xA0, 0xA0);
        llamac__jsset_add(set, 0x1680, 0x1680);
        llamac__jsset_add(set, 0x2000, 0x200A);
        llamac__jsset_add(set, 0x2028, 0x2029);
        llamac__jsset_add(set, 0x202F, 0x202F);
        llamac__jsset_add(set, 0x205F, 0x205F);
        llamac__jsset_add(set, 0x3000, 0x3000);
        llamac__jsset_add(set, 0xFEFF, 0xFEFF);
        break;
    }
}

/* An escape after '\\' (the cursor is past the backslash). Sets *cp for one character, or fills *set for a class
 * escape (returns with *is_set true). */
static bool parse_escape(rx *r, bool in_class, uint32_t *cp, llamac__jsset *set, bool *is_set) {
    *is_set = false;
    if (at_end(r)) {
        return rx_fail(r, "trailing backslash");
    }
    int c = r->s[r->i];
    switch (c) {
    case 'd':
    case 'w':
    case 's':
    case 'D':
    case 'W':
    case 'S': {
        r->i++;
        memset(set, 0, sizeof *set);
        add_class(set, c | 0x20);
        if (c < 'a') {
            llamac__jsset_negate(set);
        }
        *is_set = true;
        return true;
    }
    case 't':
        r->i++;
        *cp = '\t';
        return true;
    case 'n':
        r->i++;
        *cp = '\n';
        return true;
    case 'r':
        r->i++;
        *cp = '\r';
        return true;
    case 'v':
        r->i++;
        *cp = 0x0B;
        return true;
    case 'f':
        r->i++;
        *cp = 0x0C;
        return true;
    case '0':
        r->i++;
        if (!at_end(r) && r->s[r->i] >= '0' && r->s[r->i] <= '9') {
            return rx_fail(r, "octal escapes are not supported");
        }
        *cp = 0;
        return true;
    case 'x': r->i++; return read_hex(r, 2, cp);
    case 'u': {
        r->i++;
        if (peek(r) == '{') {
            return rx_fail(r, "\\u{...} escapes are not supported");
        }
        if (!read_hex(r, 4, cp)) {
            return false;
        }
        /* A surrogate pair written as two escapes is one character. */
        if (*cp >= 0xD800 && *cp <= 0xDBFF && r->i + 6 <= r->n && r->s[r->i] == '\\' && r->s[r->i + 1] == 'u') {
            size_t save = r->i;
            uint32_t low = 0;
            r->i += 2;
            if (read_hex(r, 4, &low) && low >= 0xDC00 && low <= 0xDFFF) {
                *cp = 0x10000 + ((*cp - 0xD800) << 10) + (low - 0xDC00);
            } else {
                r->failed = false;
                r->i = save;
            }
        }
        return true;
    }
    case 'c':
        r->i++;
        if (at_end(r) || !((r->s[r->i] | 0x20) >= 'a' && (r->s[r->i] | 0x20) <= 'z')) {
            return rx_fail(r, "malformed \\c escape");
        }
        *cp = (uint32_t)(r->s[r->i++] % 32);
        return true;
    case 'b':
        if (in_class) {
            r->i++;
            *cp = 0x08;
            return true;
        }
        return rx_fail(r, "word boundaries (\\b) are not supported");
    case 'B': return rx_fail(r, "word boundaries (\\B) are not supported");
    case 'k': return rx_fail(r, "named backreferences are not supported");
    case 'p':
    case 'P': return rx_fail(r, "Unicode property escapes are not supported");
    default:
        if (c >= '1' && c <= '9') {
            return rx_fail(r, "backreferences are not supported");
        }
        if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z')) {
            return rx_fail(r, "unknown escape");
        }
        *cp = next_cp(r); /* an escaped punctuation character or any other: itself */
        return true;
    }
}

/* A class after '['. */
static bool parse_class(rx *r, llamac__jsset *out) {
    memset(out, 0, sizeof *out);
    bool negate = false;
    if (peek(r) == '^') {
        negate = true;
        r->i++;
    }
    for (;;) {
        if (at_end(r)) {
            return rx_fail(r, "unterminated character class");
        }
        if (r->s[r->i] == ']') {
            r->i++;
            break;
        }
        uint32_t lo = 0;
        bool is_set = false;
        llamac__jsset sub;
        if (r->s[r->i] == '\\') {
            r->i++;
            if (!parse_escape(r, true, &lo, &sub, &is_set)) {
                return false;
            }
        } else {
            lo = next_cp(r);
        }
        if (is_set) {
            for (size_t k = 0; k < sub.n; k++) {
                llamac__jsset_add(out, sub.lo[k], sub.hi[k]);
            }
            continue;
        }
        uint32_t hi = lo;
        if (peek(r) == '-' && r->i + 1 < r->n && r->s[r->i + 1] != ']') {
            r->i++;
            if (r->s[r->i] == '\\') {
                r->i++;
                if (!parse_escape(r, true, &hi, &sub, &is_set)) {
                    return false;
                }
                if (is_set) {
                    return rx_fail(r, "a class escape cannot end a range");
                }
            } else {
                hi = next_cp(r);
            }
            if (hi < lo) {
                return rx_fail(r, "range out of order in character class");
            }
        }
        llamac__jsset_add(out, lo, hi);
    }
    if (negate) {
        llamac__jsset_negate(out);
    }
    return true;
}

static bool parse_alternatives(rx *r, llamac__dynbuf *out, bool *nullable, bool top, size_t *cost);

/* Reads {m}, {m,} or {m,n} at the cursor ('{' included). */
static bool parse_braces(rx *r, size_t *min, size_t *max, bool *unbounded) {
    size_t j = r->i + 1;
    size_t vals[2] = { 0, 0 };
    int n_vals = 0;
    bool comma = false, digits = false;
    while (j < r->n && r->s[j] != '}') {
        unsigned char c = r->s[j];
        if (c >= '0' && c <= '9') {
            if (vals[n_vals] > 100000000) {
                return rx_fail(r, "repetition count too large");
            }
            vals[n_vals] = vals[n_vals] * 10 + (size_t)(c - '0');
            digits = true;
        } else if (c == ',' && !comma && digits) {
            comma = true;
            n_vals = 1;
            digits = false;
        } else {
            return rx_fail(r, "malformed {m,n} repetition");
        }
        j++;
    }
    if (j >= r->n || (!digits && !comma)) {
        return rx_fail(r, "malformed {m,n} repetition");
    }
    *min = vals[0];
    *unbounded = comma && !digits;
    *max = comma ? (digits ? vals[1] : 0) : vals[0];
    if (!*unbounded && *max < *min) {
        return rx_fail(r, "repetition bounds out of order");
    }
    r->i = j + 1;
    return true;
}

/* One atom into `atom`; a single literal character is returned in *lit (with *is_lit) for merging. */
static bool parse_atom(rx *r, llamac__dynbuf *atom, bool *nullable, bool *is_lit, uint32_t *lit, size_t *cost) {
    *nullable = false;
    *cost = 1;
    *is_lit = false;
    int c = peek(r);
    llamac__jsset set;
    if (c == '(') {
        r->i++;
        if (peek(r) == '?') {
            if (r->i + 1 < r->n && r->s[r->i + 1] == ':') {
                r->i += 2;
            } else if (r->i + 2 < r->n && r->s[r->i + 1] == '<' && r->s[r->i + 2] != '=' && r->s[r->i + 2] != '!') {
                /* A named group matches like a plain one. */
                while (!at_end(r) && r->s[r->i] != '>') {
                    r->i++;
                }
                if (at_end(r)) {
                    return rx_fail(r, "unterminated group name");
                }
                r->i++;
            } else {
                return rx_fail(r, "lookaround and inline flags are not supported");
            }
        }
        if (++r->depth > REGEX_MAX_DEPTH) {
            return rx_fail(r, "groups nested too deeply");
        }
        llamac__dynbuf_adds(atom, "(");
        if (!parse_alternatives(r, atom, nullable, false, cost)) {
            return false;
        }
        r->depth--;
        if (peek(r) != ')') {
            return rx_fail(r, "unbalanced parenthesis");
        }
        r->i++;
        llamac__dynbuf_adds(atom, ")");
        return true;
    }
    if (c == '[') {
        r->i++;
        if (!parse_class(r, &set)) {
            return false;
        }
        if (!llamac__jsset_emit(&set, atom, r->in->char_rule)) {
            return rx_fail(r, "a character class that matches nothing");
        }
        return true;
    }
    if (c == '.') {
        r->i++;
        memset(&set, 0, sizeof set);
        llamac__jsset_add(&set, 0, 0x10FFFF);
        if (!r->in->dotall) {
            llamac__jsset_negate(&set);
            llamac__jsset_add(&set, 0, 0x09);
            llamac__jsset_add(&set, 0x0B, 0x0C);
            llamac__jsset_add(&set, 0x0E, 0x10FFFF);
        }
        llamac__jsset_emit(&set, atom, r->in->char_rule);
        return true;
    }
    if (c == '*' || c == '+' || c == '?' || c == '{') {
        return rx_fail(r, "nothing to repeat");
    }
    if (c == '^' || c == '$') {
        return rx_fail(r, "anchors are only supported at the start and end of the pattern");
    }
    uint32_t cp = 0;
    if (c == '\\') {
        r->i++;
        bool is_set = false;
        if (!parse_escape(r, false, &cp, &set, &is_set)) {
            return false;
        }
        if (is_set) {
            llamac__jsset_emit(&set, atom, r->in->char_rule);
            return true;
        }
    } else {
        cp = next_cp(r);
    }
    *is_lit = true;
    *lit = cp;
    llamac__dynbuf_adds(atom, "\"");
    llamac__js_lit_cp(atom, cp);
    llamac__dynbuf_adds(atom, "\"");
    return true;
}

/* A sequence up to '|', ')' or the end. At the top level, a leading '^' and a trailing '$' anchor it. */
static bool parse_sequence(rx *r, llamac__dynbuf *out, bool *nullable, bool top, size_t *cost) {
    *cost = 0;
    bool anchored_start = false, anchored_end = false;
    if (top && peek(r) == '^') {
        anchored_start = true;
        r->i++;
    }
    if (top && !anchored_start) {
        llamac__dynbuf_addf(out, "%s* ", r->in->char_rule);
    }
    *nullable = true;
    bool open_lit = false, any = false;
    llamac__dynbuf atom = LLAMAC__DYNBUF(LLAMAC__JS_MAX_OUTPUT);
    while (!at_end(r) && peek(r) != '|' && peek(r) != ')') {
        if (top && peek(r) == '$' && (r->i + 1 == r->n || r->s[r->i + 1] == '|')) {
            anchored_end = true;
            r->i++;
            break;
        }
        bool atom_nullable = false, is_lit = false;
        uint32_t lit = 0;
        llamac__dynbuf_truncate(&atom, 0);
        if (atom.p) {
            atom.p[0] = '\0';
        }
        size_t atom_cost = 0;
        if (!parse_atom(r, &atom, &atom_nullable, &is_lit, &lit, &atom_cost)) {
            llamac__dynbuf_free(&atom);
            return false;
        }
        int q = peek(r);
        if (q == '*' || q == '+' || q == '?' || q == '{') {
            size_t min = 0, max = 0;
            bool unbounded = false;
            if (q == '{') {
                if (!parse_braces(r, &min, &max, &unbounded)) {
                    llamac__dynbuf_free(&atom);
                    return false;
                }
            } else {
                r->i++;
                min = q == '+' ? 1 : 0;
                max = 1;
                unbounded = q != '?';
            }
            if (peek(r) == '?') {
                r->i++; /* lazy: the same language */
            }
            if (max > LLAMAC__JS_REP_CAP) {
                unbounded = true;
            }
            if (min > LLAMAC__JS_REP_CAP) {
                min = LLAMAC__JS_REP_CAP;
            }
            size_t copies = unbounded ? (min > 1 ? min : 1) : max;
            *cost += atom_cost * copies;
            if (*cost > REGEX_MAX_EXPANDED) {
                llamac__dynbuf_free(&atom);
                return rx_fail(r, "the pattern's repetitions expand to too large a grammar");
            }
            if (unbounded && atom_nullable) {
                llamac__dynbuf_free(&atom);
                return rx_fail(r, "repeating an expression that can match the empty string");
            }
            if (open_lit) {
                llamac__dynbuf_adds(out, "\"");
                open_lit = false;
            }
            if (!unbounded && max == 0) {
                continue; /* {0} or {0,0}: matches the empty string */
            }
            llamac__dynbuf_adds(out, any ? " (" : "(");
            llamac__dynbuf_add(out, atom.p, atom.len);
            if (unbounded) {
                llamac__dynbuf_addf(out, ")%s", min == 0 ? "*" : min == 1 ? "+" : "");
                if (min > 1) {
                    llamac__dynbuf_addf(out, "{%zu,}", min);
                }
            } else if (min == 0 && max == 1) {
                llamac__dynbuf_adds(out, ")?");
            } else if (min == max) {
                llamac__dynbuf_addf(out, "){%zu}", min);
            } else {
                llamac__dynbuf_addf(out, "){%zu,%zu}", min, max);
            }
            any = true;
            if (min > 0 && !atom_nullable) {
                *nullable = false;
            }
            continue;
        }
        *cost += atom_cost;
        if (*cost > REGEX_MAX_EXPANDED) {
            llamac__dynbuf_free(&atom);
            return rx_fail(r, "the pattern's repetitions expand to too large a grammar");
        }
        if (is_lit) {
            if (!open_lit) {
                llamac__dynbuf_adds(out, any ? " \"" : "\"");
                open_lit = true;
            }
            llamac__js_lit_cp(out, lit);
        } else {
            if (open_lit) {
                llamac__dynbuf_adds(out, "\"");
                open_lit = false;
            }
            if (any) {
                llamac__dynbuf_adds(out, " ");
            }
            llamac__dynbuf_add(out, atom.p, atom.len);
        }
        any = true;
        if (!atom_nullable) {
            *nullable = false;
        }
    }
    llamac__dynbuf_free(&atom);
    if (open_lit) {
        llamac__dynbuf_adds(out, "\"");
    }
    if (!any) {
        llamac__dynbuf_adds(out, "\"\"");
    }
    if (top && !anchored_end) {
        llamac__dynbuf_addf(out, " %s*", r->in->char_rule);
    }
    if (top && peek(r) == ')') {
        return rx_fail(r, "unbalanced parenthesis");
    }
    return true;
}

static bool parse_alternatives(rx *r, llamac__dynbuf *out, bool *nullable, bool top, size_t *cost) {
    *nullable = false;
    *cost = 0;
    for (;;) {
        bool seq_nullable = false;
        size_t seq_cost = 0;
        if (!parse_sequence(r, out, &seq_nullable, top, &seq_cost)) {
            return false;
        }
        *cost += seq_cost;
        if (*cost > REGEX_MAX_EXPANDED) {
            return rx_fail(r, "the pattern's repetitions expand to too large a grammar");
        }
        *nullable = *nullable || seq_nullable;
        if (peek(r) != '|') {
            return true;
        }
        r->i++;
        llamac__dynbuf_adds(out, " | ");
    }
}

bool llamac__js_regex(const llamac__js_regex_in *in, llamac__dynbuf *out, size_t *expanded, char *why, size_t cap) {
    rx r;
    memset(&r, 0, sizeof r);
    r.in = in;
    r.s = (const unsigned char *)in->pattern;
    r.n = strlen(in->pattern);
    r.why = why;
    r.why_cap = cap;
    bool nullable = false;
    size_t cost = 0;
    llamac__dynbuf_adds(out, "\"\\\"\" (");
    if (!parse_alternatives(&r, out, &nullable, true, &cost)) {
        return false;
    }
    llamac__dynbuf_adds(out, ") \"\\\"\"");
    *expanded = cost;
    return true;
}
