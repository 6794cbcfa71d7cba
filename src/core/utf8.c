/*
 * utf8.c - UTF-8 validation and the streaming gate that never lets half a character through.
 *
 * Tokens are byte sequences, and a token boundary can fall inside a character. The stream keeps at most three
 * bytes of an unfinished character between pushes and emits only whole, valid characters; bytes that can never
 * form a character are replaced by U+FFFD so that what a callback receives is always valid UTF-8.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

/* Length of the valid UTF-8 sequence at s[0..avail), 0 when invalid, or -needed when it is a valid but
 * unfinished prefix. Rejects overlong forms, surrogates and code points past U+10FFFF. */
static int seq_len(const unsigned char *s, size_t avail) {
    unsigned char c = s[0];
    int n;
    unsigned char lo = 0x80, hi = 0xBF;
    if (c < 0x80) {
        return 1;
    } else if (c >= 0xC2 && c <= 0xDF) {
        n = 2;
    } else if (c >= 0xE0 && c <= 0xEF) {
        n = 3;
        if (c == 0xE0) {
            lo = 0xA0;
        } else if (c == 0xED) {
            hi = 0x9F;
        }
    } else if (c >= 0xF0 && c <= 0xF4) {
        n = 4;
        if (c == 0xF0) {
            lo = 0x90;
        } else if (c == 0xF4) {
            hi = 0x8F;
        }
    } else {
        return 0;
    }
    for (int i = 1; i < n; i++) {
        if ((size_t)i >= avail) {
            return -n;
        }
        unsigned char b = s[i];
        if (i == 1 ? (b < lo || b > hi) : (b < 0x80 || b > 0xBF)) {
            return 0;
        }
    }
    return n;
}

bool llamac_utf8_valid(const char *text, size_t len, size_t *bad_offset) {
    if (!text && len > 0) {
        if (bad_offset) {
            *bad_offset = 0;
        }
        return false;
    }
    const unsigned char *s = (const unsigned char *)text;
    size_t i = 0;
    while (i < len) {
        if (s[i] < 0x80) {
            i++;
            continue;
        }
        int n = seq_len(s + i, len - i);
        if (n <= 0) {
            if (bad_offset) {
                *bad_offset = i;
            }
            return false;
        }
        i += (size_t)n;
    }
    return true;
}

struct llamac_utf8_stream {
    unsigned char pending[4];
    size_t n_pending;
    char *out;
    size_t out_cap;
    unsigned char *in; /* staging: pending bytes followed by the new input */
    size_t in_cap;
};

llamac_status llamac_utf8_stream_new(llamac_utf8_stream **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_utf8_stream_new: out is NULL");
    }
    *out = llamac__calloc(1, sizeof **out);
    return *out ? llamac__ok() : LLAMAC_E_NO_MEMORY;
}

void llamac_utf8_stream_free(llamac_utf8_stream *stream) {
    if (stream) {
        free(stream->out);
        free(stream->in);
        free(stream);
    }
}

static bool reserve(llamac_utf8_stream *st, size_t need) {
    if (need <= st->out_cap) {
        return true;
    }
    size_t cap = st->out_cap ? st->out_cap : 64;
    while (cap < need) {
        cap *= 2;
    }
    char *p = realloc(st->out, cap);
    if (!p) {
        llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory in the UTF-8 stream (%zu bytes)", need);
        return false;
    }
    st->out = p;
    st->out_cap = cap;
    return true;
}

static const char replacement[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

/* Decodes `len` bytes of `s` into st->out starting at *w; an unfinished tail goes to st->pending. */
static void decode_into(llamac_utf8_stream *st, const unsigned char *s, size_t len, size_t *w) {
    size_t i = 0;
    while (i < len) {
        int n = seq_len(s + i, len - i);
        if (n > 0) {
            memcpy(st->out + *w, s + i, (size_t)n);
            *w += (size_t)n;
            i += (size_t)n;
        } else if (n < 0) {
            st->n_pending = len - i;
            memcpy(st->pending, s + i, st->n_pending);
            return;
        } else {
            memcpy(st->out + *w, replacement, 3);
            *w += 3;
            i++;
        }
    }
}

llamac_status llamac_utf8_stream_push(llamac_utf8_stream *stream, const char *bytes, size_t len, const char **text,
                                      size_t *text_len) {
    if (text) {
        *text = NULL;
    }
    if (text_len) {
        *text_len = 0;
    }
    if (!stream || !text || !text_len || (!bytes && len > 0)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_utf8_stream_push: NULL argument");
    }
    /* Stage the unfinished bytes and the new input together, then decode; the worst case turns every byte into
     * U+FFFD (3 bytes), plus a NUL. */
    size_t total = stream->n_pending + len;
    if (total > (SIZE_MAX - 1) / 4) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "UTF-8 stream input of %zu bytes is too large", len);
    }
    if (total > stream->in_cap) {
        size_t cap = stream->in_cap ? stream->in_cap : 64;
        while (cap < total) {
            cap *= 2;
        }
        unsigned char *p = realloc(stream->in, cap);
        if (!p) {
            return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory in the UTF-8 stream (%zu bytes)", cap);
        }
        stream->in = p;
        stream->in_cap = cap;
    }
    if (!reserve(stream, total * 3 + 1)) {
        return LLAMAC_E_NO_MEMORY;
    }
    if (stream->n_pending > 0) {
        memcpy(stream->in, stream->pending, stream->n_pending);
    }
    if (len > 0) {
        memcpy(stream->in + stream->n_pending, bytes, len);
    }
    stream->n_pending = 0;
    size_t w = 0;
    decode_into(stream, stream->in, total, &w);
    stream->out[w] = '\0';
    *text = stream->out;
    *text_len = w;
    return llamac__ok();
}

llamac_status llamac_utf8_stream_flush(llamac_utf8_stream *stream, const char **text, size_t *text_len) {
    if (text) {
        *text = NULL;
    }
    if (text_len) {
        *text_len = 0;
    }
    if (!stream || !text || !text_len) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_utf8_stream_flush: NULL argument");
    }
    if (!reserve(stream, 4)) {
        return LLAMAC_E_NO_MEMORY;
    }
    size_t w = 0;
    if (stream->n_pending > 0) {
        memcpy(stream->out, replacement, 3);
        w = 3;
        stream->n_pending = 0;
    }
    stream->out[w] = '\0';
    *text = stream->out;
    *text_len = w;
    return llamac__ok();
}
