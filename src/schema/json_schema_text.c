/*
 * json_schema_text.c - GBNF text helpers for the JSON Schema converter: the JSON spelling of code points, code-point
 * sets, and integer ranges.
 *
 * Integer ranges are built digit by digit: numbers of each length are split into a common prefix, a digit range
 * and free tails, so [min, max] becomes an expression with no leading zeros and no number outside the range.
 */
#include "schema/json_schema_internal.h"

#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A code point as a GBNF escape usable both in literals and in classes. */
static void gbnf_escape_cp(llamac__dynbuf *b, uint32_t cp) {
    if (cp < 0x100) {
        llamac__dynbuf_addf(b, "\\x%02X", (unsigned)cp);
    } else if (cp < 0x10000) {
        llamac__dynbuf_addf(b, "\\u%04X", (unsigned)cp);
    } else {
        llamac__dynbuf_addf(b, "\\U%08X", (unsigned)cp);
    }
}

/* Printable ASCII that a GBNF string literal can hold as itself. */
static bool plain_ascii(uint32_t cp) {
    return cp >= 0x20 && cp <= 0x7E && cp != '"' && cp != '\\';
}

void llamac__js_lit_cp(llamac__dynbuf *b, uint32_t cp) {
    static const char short_esc[] = { 'b', 't', 'n', 0, 'f', 'r' }; /* 0x08..0x0D; 0x0B has none */
    if (cp == '"') {
        llamac__dynbuf_adds(b, "\\\\\\\""); /* JSON \" */
    } else if (cp == '\\') {
        llamac__dynbuf_adds(b, "\\\\\\\\"); /* JSON \\ */
    } else if (cp < 0x20) {
        if (cp >= 0x08 && cp <= 0x0D && short_esc[cp - 0x08]) {
            llamac__dynbuf_addf(b, "\\\\%c", short_esc[cp - 0x08]);
        } else {
            llamac__dynbuf_addf(b, "\\\\u%04x", (unsigned)cp);
        }
    } else if (plain_ascii(cp)) {
        char c = (char)cp;
        llamac__dynbuf_add(b, &c, 1);
    } else {
        gbnf_escape_cp(b, cp);
    }
}

void llamac__js_lit_text(llamac__dynbuf *b, const char *s, size_t len) {
    const unsigned char *u = (const unsigned char *)s;
    size_t i = 0;
    while (i < len) {
        uint32_t cp = u[i++];
        if (cp >= 0x80) {
            int extra = cp >= 0xF0 ? 3 : cp >= 0xE0 ? 2 : 1;
            cp &= cp >= 0xF0 ? 0x07u : cp >= 0xE0 ? 0x0Fu : 0x1Fu;
            for (int k = 0; k < extra && i < len; k++) {
                cp = (cp << 6) | (u[i++] & 0x3Fu);
            }
        }
        if (cp == '"') {
            llamac__dynbuf_adds(b, "\\\"");
        } else if (cp == '\\') {
            llamac__dynbuf_adds(b, "\\\\");
        } else if (plain_ascii(cp)) {
            char c = (char)cp;
            llamac__dynbuf_add(b, &c, 1);
        } else {
            gbnf_escape_cp(b, cp);
        }
    }
}

void llamac__js_class_cp(llamac__dynbuf *b, uint32_t cp) {
    if ((cp >= 'a' && cp <= 'z') || (cp >= 'A' && cp <= 'Z') || (cp >= '0' && cp <= '9')) {
        char c = (char)cp;
        llamac__dynbuf_add(b, &c, 1);
    } else {
        gbnf_escape_cp(b, cp);
    }
}

/* ---- code-point sets ---- */

void llamac__jsset_add(llamac__jsset *s, uint32_t lo, uint32_t hi) {
    if (lo > hi) {
        return;
    }
    /* Insert keeping order, then merge overlapping or adjacent ranges. */
    size_t i = 0;
    while (i < s->n && s->lo[i] < lo) {
        i++;
    }
    if (s->n == sizeof s->lo / sizeof s->lo[0]) {
        /* Full: widen the nearest range instead (a superset keeps the grammar from rejecting valid text). */
        s->overflow = true;
        size_t j = i < s->n ? i : s->n - 1;
        s->lo[j] = lo < s->lo[j] ? lo : s->lo[j];
        s->hi[j] = hi > s->hi[j] ? hi : s->hi[j];
    } else {
        memmove(s->lo + i + 1, s->lo + i, (s->n - i) * sizeof s->lo[0]);
        memmove(s->hi + i + 1, s->hi + i, (s->n - i) * sizeof s->hi[0]);
        s->lo[i] = lo;
        s->hi[i] = hi;
        s->n++;
    }
    size_t w = 0;
    for (size_t r = 0; r < s->n; r++) {
        if (w > 0 && s->lo[r] <= s->hi[w - 1] + 1) {
            if (s->hi[r] > s->hi[w - 1]) {
                s->hi[w - 1] = s->hi[r];
            }
        } else {
            s->lo[w] = s->lo[r];
            s->hi[w] = s->hi[r];
            w++;
        }
    }
    s->n = w;
}

void llamac__jsset_negate(llamac__jsset *s) {
    llamac__jsset out;
    memset(&out, 0, sizeof out);
    uint32_t next = 0;
    for (size_t i = 0; i < s->n; i++) {
        if (s->lo[i] > next) {
            llamac__jsset_add(&out, next, s->lo[i] - 1);
        }
        next = s->hi[i] + 1;
    }
    if (next <= 0x10FFFF) {
        llamac__jsset_add(&out, next, 0x10FFFF);
    }
    out.overflow = s->overflow;
    *s = out;
}

static bool set_has(const llamac__jsset *s, uint32_t cp) {
    for (size_t i = 0; i < s->n; i++) {
        if (cp >= s->lo[i] && cp <= s->hi[i]) {
            return true;
        }
    }
    return false;
}

bool llamac__jsset_emit(const llamac__jsset *s, llamac__dynbuf *b, const char *char_rule) {
    /* Characters that JSON writes raw: everything but '"', '\\' and the controls. */
    llamac__jsset raw;
    memset(&raw, 0, sizeof raw);
    for (size_t i = 0; i < s->n; i++) {
        uint32_t lo = s->lo[i], hi = s->hi[i];
        if (lo < 0x20) {
            lo = 0x20;
        }
        if (lo <= '"' && hi >= '"') {
            llamac__jsset_add(&raw, lo, '"' - 1);
            lo = '"' + 1;
        }
        if (lo <= '\\' && hi >= '\\') {
            llamac__jsset_add(&raw, lo, '\\' - 1);
            lo = '\\' + 1;
        }
        llamac__jsset_add(&raw, lo, hi);
    }
    uint32_t specials[34];
    size_t n_special = 0;
    for (uint32_t cp = 0; cp < 0x20; cp++) {
        if (set_has(s, cp)) {
            specials[n_special++] = cp;
        }
    }
    if (set_has(s, '"')) {
        specials[n_special++] = '"';
    }
    if (set_has(s, '\\')) {
        specials[n_special++] = '\\';
    }
    if (raw.n == 0 && n_special == 0) {
        return false;
    }
    bool first = true;
    llamac__dynbuf_adds(b, "(");
    if (raw.n > 0) {
        llamac__dynbuf_adds(b, "[");
        for (size_t i = 0; i < raw.n; i++) {
            llamac__js_class_cp(b, raw.lo[i]);
            if (raw.hi[i] != raw.lo[i]) {
                llamac__dynbuf_adds(b, "-");
                llamac__js_class_cp(b, raw.hi[i]);
            }
        }
        llamac__dynbuf_adds(b, "]");
        first = false;
    }
    if (n_special == 34) {
        /* Every special character: any escape sequence (\u spellings of other characters too: a superset). */
        llamac__dynbuf_addf(b, "%s\"\\\\\" ([\"\\\\/bfnrt] | \"u\" [0-9a-fA-F]{4})", first ? "" : " | ");
        (void)char_rule;
    } else {
        for (size_t i = 0; i < n_special; i++) {
            llamac__dynbuf_adds(b, first ? "\"" : " | \"");
            llamac__js_lit_cp(b, specials[i]);
            llamac__dynbuf_adds(b, "\"");
            first = false;
        }
    }
    llamac__dynbuf_adds(b, ")");
    return true;
}

/* ---- integer ranges ---- */

static void digit_class(llamac__dynbuf *b, char from, char to) {
    if (from == to) {
        llamac__dynbuf_addf(b, "\"%c\"", from);
    } else {
        llamac__dynbuf_addf(b, "[%c-%c]", from, to);
    }
}

static void any_digits(llamac__dynbuf *b, size_t n) {
    if (n == 1) {
        llamac__dynbuf_adds(b, " [0-9]");
    } else if (n > 1) {
        llamac__dynbuf_addf(b, " [0-9]{%zu}", n);
    }
}

static bool all_char(const char *s, size_t n, char c) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] != c) {
            return false;
        }
    }
    return true;
}

/* Numbers written with exactly n digits from a to b (same length, a <= b), as one parenthesised expression. */
static void same_length(llamac__dynbuf *b, const char *lo, const char *hi, size_t n) {
    if (n == 0) {
        return;
    }
    if (lo[0] == hi[0]) {
        llamac__dynbuf_addf(b, "\"%c\"", lo[0]);
        if (n > 1) {
            llamac__dynbuf_adds(b, " ");
            same_length(b, lo + 1, hi + 1, n - 1);
        }
        return;
    }
    bool lo_zeros = all_char(lo + 1, n - 1, '0'), hi_nines = all_char(hi + 1, n - 1, '9');
    llamac__dynbuf_adds(b, "(");
    char mid_from = lo_zeros ? lo[0] : (char)(lo[0] + 1);
    char mid_to = hi_nines ? hi[0] : (char)(hi[0] - 1);
    bool need_sep = false;
    if (!lo_zeros) {
        llamac__dynbuf_addf(b, "\"%c\" ", lo[0]);
        char nines[24];
        memset(nines, '9', n - 1);
        same_length(b, lo + 1, nines, n - 1);
        need_sep = true;
    }
    if (mid_from <= mid_to) {
        if (need_sep) {
            llamac__dynbuf_adds(b, " | ");
        }
        digit_class(b, mid_from, mid_to);
        any_digits(b, n - 1);
        need_sep = true;
    }
    if (!hi_nines) {
        if (need_sep) {
            llamac__dynbuf_adds(b, " | ");
        }
        llamac__dynbuf_addf(b, "\"%c\" ", hi[0]);
        char zeros[24];
        memset(zeros, '0', n - 1);
        same_length(b, zeros, hi + 1, n - 1);
    }
    llamac__dynbuf_adds(b, ")");
}

/* Non-negative integers in [lo, hi] (hi_inf: no upper bound), as alternatives appended after `sep`. */
static void unsigned_range(llamac__dynbuf *b, uint64_t lo, uint64_t hi, bool hi_inf) {
    char los[24], his[24];
    snprintf(los, sizeof los, "%" PRIu64, lo);
    snprintf(his, sizeof his, "%" PRIu64, hi);
    size_t nlo = strlen(los), nhi = hi_inf ? nlo : strlen(his);
    bool first = true;
    for (size_t d = nlo; d <= nhi; d++) {
        char a[24], z[24];
        if (d == nlo) {
            memcpy(a, los, nlo + 1);
        } else {
            a[0] = '1';
            memset(a + 1, '0', d - 1);
            a[d] = '\0';
        }
        if (!hi_inf && d == nhi) {
            memcpy(z, his, nhi + 1);
        } else {
            memset(z, '9', d);
            z[d] = '\0';
        }
        llamac__dynbuf_adds(b, first ? "" : " | ");
        same_length(b, a, z, d);
        first = false;
    }
    if (hi_inf) {
        llamac__dynbuf_addf(b, " | [1-9] [0-9]{%zu,}", nlo);
    }
}

void llamac__js_int_range(llamac__dynbuf *b, bool has_min, int64_t min, bool has_max, int64_t max) {
    bool first = true;
    llamac__dynbuf_adds(b, "(");
    /* Negative part: magnitudes from max(1, -max) to -min. */
    if (!has_min || min < 0) {
        uint64_t mag_lo = (has_max && max < 0) ? (uint64_t)(-(max + 1)) + 1 : 1;
        uint64_t mag_hi = has_min ? (uint64_t)(-(min + 1)) + 1 : 0;
        llamac__dynbuf_adds(b, "\"-\" (");
        unsigned_range(b, mag_lo, mag_hi, !has_min);
        llamac__dynbuf_adds(b, ")");
        first = false;
    }
    if (!has_max || max >= 0) {
        uint64_t lo = (has_min && min > 0) ? (uint64_t)min : 0;
        llamac__dynbuf_adds(b, first ? "" : " | ");
        unsigned_range(b, lo, has_max ? (uint64_t)max : 0, !has_max);
        if (lo == 0) {
            llamac__dynbuf_adds(b, " | \"-0\""); /* JSON's negative zero is the integer 0 */
        }
    }
    llamac__dynbuf_adds(b, ")");
}
