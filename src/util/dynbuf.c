/*
 * dynbuf.c - the capped growable buffer with a sticky failure (see dynbuf.h).
 *
 * Growth doubles the allocation (from 64 bytes) and stops at the cap plus the NUL, so appending n bytes one at a
 * time costs O(n) copies in all. A failure frees the bytes at once: what was built is incomplete and of no use,
 * and a buffer that hit its cap should not keep holding the memory until the caller gets around to freeing it.
 */
#include "dynbuf.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define DYNBUF_FIRST 64

void llamac__dynbuf_init(llamac__dynbuf *b, size_t max) {
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->max = max;
    b->err = LLAMAC__DYNBUF_OK;
}

void llamac__dynbuf_free(llamac__dynbuf *b) {
    free(b->p);
    llamac__dynbuf_init(b, b->max);
}

void llamac__dynbuf_reset(llamac__dynbuf *b) {
    b->len = 0;
    b->err = LLAMAC__DYNBUF_OK;
    if (b->p) {
        b->p[0] = '\0';
    }
}

static bool fail(llamac__dynbuf *b, llamac__dynbuf_err err) {
    free(b->p);
    b->p = NULL;
    b->len = 0;
    b->alloc = 0;
    b->err = err;
    return false;
}

/* Makes room for n more bytes and the NUL. */
static bool room(llamac__dynbuf *b, size_t n) {
    if (b->err != LLAMAC__DYNBUF_OK) {
        return false;
    }
    if (n > b->max || b->len > b->max - n) {
        return fail(b, LLAMAC__DYNBUF_TOO_BIG);
    }
    size_t need = b->len + n + 1; /* wraps to 0 only when the cap is SIZE_MAX and is reached */
    if (need == 0) {
        return fail(b, LLAMAC__DYNBUF_TOO_BIG);
    }
    if (need <= b->alloc) {
        return true;
    }
    size_t limit = b->max < SIZE_MAX ? b->max + 1 : SIZE_MAX;
    size_t alloc = b->alloc ? b->alloc : DYNBUF_FIRST;
    while (alloc < need) {
        alloc = alloc > limit / 2 ? limit : alloc * 2;
    }
    if (alloc > limit) {
        alloc = limit;
    }
    char *p = realloc(b->p, alloc);
    if (!p) {
        return fail(b, LLAMAC__DYNBUF_NO_MEMORY);
    }
    b->p = p;
    b->alloc = alloc;
    return true;
}

void llamac__dynbuf_fail(llamac__dynbuf *b, llamac__dynbuf_err err) {
    if (b->err == LLAMAC__DYNBUF_OK) {
        fail(b, err == LLAMAC__DYNBUF_OK ? LLAMAC__DYNBUF_NO_MEMORY : err);
    }
}

bool llamac__dynbuf_add(llamac__dynbuf *b, const void *data, size_t n) {
    if (!room(b, n)) {
        return false;
    }
    if (n > 0) {
        memcpy(b->p + b->len, data, n);
    }
    b->len += n;
    b->p[b->len] = '\0';
    return true;
}

bool llamac__dynbuf_adds(llamac__dynbuf *b, const char *s) {
    return llamac__dynbuf_add(b, s, strlen(s));
}

bool llamac__dynbuf_addc(llamac__dynbuf *b, char c) {
    return llamac__dynbuf_add(b, &c, 1);
}

bool llamac__dynbuf_vaddf(llamac__dynbuf *b, const char *fmt, va_list ap) {
    if (b->err != LLAMAC__DYNBUF_OK) {
        return false;
    }
    va_list again;
    va_copy(again, ap);
    char small[256];
    int n = vsnprintf(small, sizeof small, fmt, ap);
    bool ok;
    if (n < 0) {
        ok = fail(b, LLAMAC__DYNBUF_NO_MEMORY); /* vsnprintf fails only on an encoding error or EOVERFLOW */
    } else if ((size_t)n < sizeof small) {
        ok = llamac__dynbuf_add(b, small, (size_t)n);
    } else if ((ok = room(b, (size_t)n))) {
        vsnprintf(b->p + b->len, (size_t)n + 1, fmt, again);
        b->len += (size_t)n;
    }
    va_end(again);
    return ok;
}

bool llamac__dynbuf_addf(llamac__dynbuf *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    bool ok = llamac__dynbuf_vaddf(b, fmt, ap);
    va_end(ap);
    return ok;
}

void *llamac__dynbuf_grow(llamac__dynbuf *b, size_t n) {
    if (!room(b, n)) {
        return NULL;
    }
    char *at = b->p + b->len;
    memset(at, 0, n + 1);
    b->len += n;
    return at;
}

void llamac__dynbuf_truncate(llamac__dynbuf *b, size_t len) {
    if (len < b->len) {
        b->len = len;
        b->p[len] = '\0';
    }
}

void llamac__dynbuf_drop(llamac__dynbuf *b, size_t n) {
    if (n == 0 || !b->p) {
        return;
    }
    if (n >= b->len) {
        b->len = 0;
    } else {
        memmove(b->p, b->p + n, b->len - n);
        b->len -= n;
    }
    b->p[b->len] = '\0';
}

char *llamac__dynbuf_take(llamac__dynbuf *b, size_t *len) {
    if (len) {
        *len = 0;
    }
    if (b->err != LLAMAC__DYNBUF_OK) {
        return NULL;
    }
    char *p = b->p;
    if (!p && !(p = calloc(1, 1))) {
        return NULL;
    }
    if (len) {
        *len = b->len;
    }
    llamac__dynbuf_init(b, b->max);
    return p;
}

const char *llamac__dynbuf_ptr(const llamac__dynbuf *b) {
    return b->p ? b->p : "";
}

size_t llamac__dynbuf_len(const llamac__dynbuf *b) {
    return b->len;
}

llamac__dynbuf_err llamac__dynbuf_error(const llamac__dynbuf *b) {
    return b->err;
}
