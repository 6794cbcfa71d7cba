/*
 * textout.c - the text-out path (see textout.h): UTF-8 gate, stop-string filter, hold-back, final release.
 *
 * The filter appends each gated piece to `hold`, releases the text before the earliest stop string (and ends), or
 * else everything but the longest tail that is a proper prefix of some stop string. Released bytes stay at the
 * front of `hold` until the next call, so the caller reads them in place: no copy out, no allocation per token
 * once the buffer has grown. With no stop strings the gate's own output is released as it is, without holding.
 */
#include "text/textout.h"

#include <stdlib.h>
#include <string.h>

/* Room for what is held (less than the longest stop string) plus one gated push (each byte may become U+FFFD). */
#define HOLD_SLACK (3 * (LLAMAC__TEXTOUT_MAX_PUSH + 4) + 1)

llamac_status llamac__stops_check(const char *const *stop, size_t n, const char *field) {
    if (n > 0 && !stop) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s is %zu but stop is NULL", field, n);
    }
    for (size_t i = 0; i < n; i++) {
        if (!stop[i] || !stop[i][0]) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "stop string %zu is NULL or empty", i);
        }
        if (!llamac_utf8_valid(stop[i], strlen(stop[i]), NULL)) {
            return llamac__fail(LLAMAC_E_UTF8, "stop string %zu is not valid UTF-8", i);
        }
    }
    return LLAMAC_OK;
}

llamac_status llamac__stops_copy(const char *const *stop, size_t n, llamac__stops *out) {
    memset(out, 0, sizeof *out);
    llamac_status st = llamac__stops_check(stop, n, "n_stop");
    if (st != LLAMAC_OK || n == 0) {
        return st;
    }
    out->str = llamac__calloc(n, sizeof *out->str);
    out->len = llamac__calloc(n, sizeof *out->len);
    if (!out->str || !out->len) {
        return LLAMAC_E_NO_MEMORY;
    }
    for (size_t i = 0; i < n; i++) {
        out->len[i] = strlen(stop[i]);
        out->str[i] = llamac__strndup(stop[i], out->len[i]);
        if (!out->str[i]) {
            return LLAMAC_E_NO_MEMORY;
        }
        out->n = i + 1;
        out->longest = out->len[i] > out->longest ? out->len[i] : out->longest;
    }
    return LLAMAC_OK;
}

void llamac__stops_free(llamac__stops *s) {
    if (s->str) {
        for (size_t i = 0; i < s->n; i++) {
            free(s->str[i]);
        }
    }
    free(s->str);
    free(s->len);
    memset(s, 0, sizeof *s);
}

llamac_status llamac__textout_init(llamac__textout *t) {
    memset(t, 0, sizeof *t);
    llamac__dynbuf_init(&t->hold, HOLD_SLACK);
    return llamac_utf8_stream_new(&t->utf8);
}

void llamac__textout_free(llamac__textout *t) {
    llamac_utf8_stream_free(t->utf8);
    llamac__dynbuf_free(&t->hold);
    memset(t, 0, sizeof *t);
}

void llamac__textout_begin(llamac__textout *t, const llamac__stops *stops) {
    size_t cap = (stops ? stops->longest : 0) + HOLD_SLACK;
    if (t->hold.max != cap) {
        llamac__dynbuf_free(&t->hold);
        llamac__dynbuf_init(&t->hold, cap);
    } else {
        llamac__dynbuf_reset(&t->hold);
    }
    const char *unused;
    size_t n;
    llamac_utf8_stream_flush(t->utf8, &unused, &n); /* forgets an unfinished character; cannot fail after init */
    t->stops = stops && stops->n > 0 ? stops : NULL;
    t->released = 0;
    t->ended = false;
}

/* The first occurrence of needle (m > 0 bytes) in hay (n bytes), or NULL. */
static const char *find_bytes(const char *hay, size_t n, const char *needle, size_t m) {
    if (m > n) {
        return NULL;
    }
    const char *end = hay + (n - m) + 1;
    for (const char *p = hay; (p = memchr(p, needle[0], (size_t)(end - p))) != NULL; p++) {
        if (memcmp(p, needle, m) == 0) {
            return p;
        }
    }
    return NULL;
}

/* Length of the longest tail of text[0..n) that is a proper prefix of some stop string. */
static size_t partial_stop(const llamac__stops *s, const char *text, size_t n) {
    size_t best = 0;
    for (size_t i = 0; i < s->n; i++) {
        size_t m = s->len[i];
        size_t max = m - 1 < n ? m - 1 : n;
        for (size_t k = max; k > best; k--) {
            if (memcmp(text + n - k, s->str[i], k) == 0) {
                best = k;
                break;
            }
        }
    }
    return best;
}

/* Filters gated text: releases what cannot be part of a stop string (everything, when `final`). */
static llamac_status filter(llamac__textout *t, const char *text, size_t n, bool final, llamac__textout_piece *out) {
    if (!t->stops) {
        out->text = text;
        out->len = n;
        return LLAMAC_OK;
    }
    if (!llamac__dynbuf_add(&t->hold, text, n)) {
        return llamac__dynbuf_error(&t->hold) == LLAMAC__DYNBUF_NO_MEMORY
                   ? llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory holding generated text")
                   : llamac__fail(LLAMAC_E_INTERNAL, "held text passed its cap of %zu bytes", t->hold.max);
    }
    const char *h = llamac__dynbuf_ptr(&t->hold);
    size_t hl = llamac__dynbuf_len(&t->hold);
    const char *first = NULL;
    for (size_t i = 0; i < t->stops->n; i++) {
        const char *at = find_bytes(h, hl, t->stops->str[i], t->stops->len[i]);
        if (at && (!first || at < first)) {
            first = at;
            out->stop = t->stops->str[i];
        }
    }
    out->text = h;
    if (first) {
        out->len = (size_t)(first - h);
        t->released = hl; /* the stop string and what follows it go too */
        t->ended = true;
        return LLAMAC_OK;
    }
    out->len = final ? hl : hl - partial_stop(t->stops, h, hl);
    t->released = out->len;
    return LLAMAC_OK;
}

static void start_call(llamac__textout *t, llamac__textout_piece *out) {
    out->text = "";
    out->len = 0;
    out->stop = NULL;
    llamac__dynbuf_drop(&t->hold, t->released);
    t->released = 0;
}

llamac_status llamac__textout_push(llamac__textout *t, const char *bytes, size_t len, llamac__textout_piece *out) {
    if (len > LLAMAC__TEXTOUT_MAX_PUSH) {
        out->text = "";
        out->len = 0;
        out->stop = NULL;
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                            "a token's text of %zu bytes is more than the text-out path takes at once (%d)", len,
                            LLAMAC__TEXTOUT_MAX_PUSH);
    }
    start_call(t, out);
    if (t->ended) {
        return LLAMAC_OK;
    }
    const char *text;
    size_t n;
    llamac_status st = llamac_utf8_stream_push(t->utf8, bytes, len, &text, &n);
    return st != LLAMAC_OK ? st : filter(t, text, n, false, out);
}

llamac_status llamac__textout_finish(llamac__textout *t, llamac__textout_piece *out) {
    start_call(t, out);
    if (t->ended) {
        return LLAMAC_OK;
    }
    t->ended = true;
    const char *text;
    size_t n;
    llamac_status st = llamac_utf8_stream_flush(t->utf8, &text, &n);
    return st != LLAMAC_OK ? st : filter(t, text, n, true, out);
}
