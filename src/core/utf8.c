/*
 * utf8.c - UTF-8 validation and the streaming gate that never lets half a character through.
 *
 * Tokens are byte sequences, and a token boundary can fall inside a character. The stream keeps at most three
 * bytes of an unfinished character between pushes and emits only whole, valid characters; bytes that can never
 * form a character are replaced by U+FFFD so that what a callback receives is always valid UTF-8. Its buffers are
 * dynbufs that keep their memory, so a push allocates nothing once they have grown.
 */
#include "dynbuf.h"
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

/* Input beyond this is refused: its output (up to three bytes per input byte, as U+FFFD) must fit a size_t. */
#define STREAM_IN_MAX ((SIZE_MAX - 1) / 4)

struct llamac_utf8_stream {
    unsigned char pending[4];
    size_t n_pending;
    llamac__dynbuf in;  /* staging when bytes are pending: those bytes followed by the new input */
    llamac__dynbuf out; /* the whole characters of the last call */
};

llamac_status llamac_utf8_stream_new(llamac_utf8_stream **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_utf8_stream_new: out is NULL");
    }
    *out = llamac__calloc(1, sizeof **out);
    if (!*out) {
        return LLAMAC_E_NO_MEMORY;
    }
    llamac__dynbuf_init(&(*out)->in, STREAM_IN_MAX);
    llamac__dynbuf_init(&(*out)->out, 3 * STREAM_IN_MAX + 3);
    return llamac__ok();
}

void llamac_utf8_stream_free(llamac_utf8_stream *stream) {
    if (stream) {
        llamac__dynbuf_free(&stream->in);
        llamac__dynbuf_free(&stream->out);
        free(stream);
    }
}

static const char replacement[3] = { (char)0xEF, (char)0xBF, (char)0xBD };

/* Appends the whole characters of s[0..len) to st->out (U+FFFD for bytes that start none), a run of valid ones at
 * a time; an unfinished tail goes to st->pending. */
static void decode_into(llamac_utf8_stream *st, const unsigned char *s, size_t len) {
    size_t i = 0, run = 0;
    while (i < len) {
        int n = s[i] < 0x80 ? 1 : seq_len(s + i, len - i);
        if (n > 0) {
            i += (size_t)n;
            continue;
        }
        llamac__dynbuf_add(&st->out, s + run, i - run);
        if (n < 0) {
            st->n_pending = len - i;
            memcpy(st->pending, s + i, st->n_pending);
            return;
        }
        llamac__dynbuf_add(&st->out, replacement, 3);
        run = ++i;
    }
    llamac__dynbuf_add(&st->out, s + run, i - run);
}

static llamac_status stream_result(llamac_utf8_stream *st, size_t n, const char **text, size_t *text_len) {
    if (llamac__dynbuf_error(&st->in) || llamac__dynbuf_error(&st->out)) {
        llamac__dynbuf_reset(&st->in);
        llamac__dynbuf_reset(&st->out);
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory in the UTF-8 stream (%zu bytes)", n);
    }
    *text = llamac__dynbuf_ptr(&st->out);
    *text_len = llamac__dynbuf_len(&st->out);
    return llamac__ok();
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
    size_t total = stream->n_pending + len;
    if (total > STREAM_IN_MAX) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "UTF-8 stream input of %zu bytes is too large", len);
    }
    llamac__dynbuf_reset(&stream->out);
    const unsigned char *in = (const unsigned char *)bytes;
    if (stream->n_pending > 0) {
        /* Stage the unfinished bytes and the new input together; without them the input is decoded in place. */
        llamac__dynbuf_reset(&stream->in);
        llamac__dynbuf_add(&stream->in, stream->pending, stream->n_pending);
        llamac__dynbuf_add(&stream->in, bytes, len);
        in = (const unsigned char *)llamac__dynbuf_ptr(&stream->in);
        if (llamac__dynbuf_error(&stream->in)) {
            return stream_result(stream, total, text, text_len);
        }
        stream->n_pending = 0;
    }
    decode_into(stream, in, total);
    return stream_result(stream, total, text, text_len);
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
    llamac__dynbuf_reset(&stream->out);
    if (stream->n_pending > 0) {
        llamac__dynbuf_add(&stream->out, replacement, 3);
        stream->n_pending = 0;
    }
    return stream_result(stream, 3, text, text_len);
}
