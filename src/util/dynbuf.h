/*
 * dynbuf.h - the one growable byte buffer: capped at a size given at init, with a sticky failure (after curl's
 * dynbuf).
 *
 * Code that builds text or arrays piece by piece appends without checking each step: once an append fails (the
 * cap would be passed, or memory ran out), the buffer frees what it held and every later append is a no-op that
 * fails again, so ONE check at the end (llamac__dynbuf_error) tells whether the result is whole. The bytes are
 * always followed by a NUL that the length does not count, so a text buffer is a C string at every moment.
 *
 * libllamac, the server and the command each compile this file (libllamac hides its internal symbols), so it uses
 * nothing but the C library: callers turn a failure into their own error report.
 */
#ifndef LLAMAC_DYNBUF_H
#define LLAMAC_DYNBUF_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>

#if defined(__GNUC__)
#    define LLAMAC__DYNBUF_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#    define LLAMAC__DYNBUF_PRINTF(a, b)
#endif

/* Why appending stopped; sticky until llamac__dynbuf_reset or llamac__dynbuf_free. */
typedef enum llamac__dynbuf_err {
    LLAMAC__DYNBUF_OK = 0,
    LLAMAC__DYNBUF_TOO_BIG = 1,  /* an append would have passed the cap */
    LLAMAC__DYNBUF_NO_MEMORY = 2 /* the allocator said no */
} llamac__dynbuf_err;

/* The fields may be read (p as an array of structs built with llamac__dynbuf_grow); they change only through the
 * functions below. A zeroed struct is not ready (its cap is 0): call llamac__dynbuf_init. */
typedef struct llamac__dynbuf {
    char *p;      /* len bytes and a NUL, or NULL while nothing is allocated */
    size_t len;   /* bytes held */
    size_t alloc; /* bytes allocated (len + 1 at least, when p is set) */
    size_t max;   /* most bytes the buffer may hold */
    llamac__dynbuf_err err;
} llamac__dynbuf;

/* An empty buffer that will hold at most `max` bytes, as an initializer: llamac__dynbuf b = LLAMAC__DYNBUF(max); */
#define LLAMAC__DYNBUF(max)                                                                                            \
    { NULL, 0, 0, (max), LLAMAC__DYNBUF_OK }

/* Prepares an empty buffer that will hold at most `max` bytes. Allocates nothing. */
void llamac__dynbuf_init(llamac__dynbuf *b, size_t max);

/* Frees the bytes; the buffer is empty and usable again, with the same cap and no failure. */
void llamac__dynbuf_free(llamac__dynbuf *b);

/* Empties the buffer and clears a failure, keeping its memory for reuse. */
void llamac__dynbuf_reset(llamac__dynbuf *b);

/* Appends n bytes (data may be NULL when n is 0). False, with the buffer failed and emptied, when they do not
 * fit under the cap or memory runs out; false at once when the buffer had already failed. */
bool llamac__dynbuf_add(llamac__dynbuf *b, const void *data, size_t n);

/* Appends a NUL-terminated string / one byte / printf-formatted text. As llamac__dynbuf_add. */
bool llamac__dynbuf_adds(llamac__dynbuf *b, const char *s);
bool llamac__dynbuf_addc(llamac__dynbuf *b, char c);
bool llamac__dynbuf_addf(llamac__dynbuf *b, const char *fmt, ...) LLAMAC__DYNBUF_PRINTF(2, 3);
bool llamac__dynbuf_vaddf(llamac__dynbuf *b, const char *fmt, va_list ap) LLAMAC__DYNBUF_PRINTF(2, 0);

/* Appends n zeroed bytes and returns where they start (for building an array of structs in place), or NULL as a
 * failed append. The pointer is valid until the next append. */
void *llamac__dynbuf_grow(llamac__dynbuf *b, size_t n);

/* Fails the buffer as an append would (it is emptied; a later append fails): for a failure while producing what
 * was to be appended (e.g. out of memory in another library), so the one check at the end sees it. */
void llamac__dynbuf_fail(llamac__dynbuf *b, llamac__dynbuf_err err);

/* Shortens the buffer to its first `len` bytes (no-op when it holds fewer). */
void llamac__dynbuf_truncate(llamac__dynbuf *b, size_t len);

/* Drops the first n bytes (all when n >= len), moving the rest to the front. */
void llamac__dynbuf_drop(llamac__dynbuf *b, size_t n);

/* Hands the bytes to the caller (NUL-terminated; caller frees with free()), *len (may be NULL) their count, and
 * leaves the buffer empty. An empty buffer gives an allocated "". NULL when the buffer failed (the failure stays)
 * or the empty string cannot be allocated. */
char *llamac__dynbuf_take(llamac__dynbuf *b, size_t *len);

/* The bytes, NUL-terminated; "" while nothing is allocated. Valid until the next call that changes the buffer. */
const char *llamac__dynbuf_ptr(const llamac__dynbuf *b);
size_t llamac__dynbuf_len(const llamac__dynbuf *b);

/* LLAMAC__DYNBUF_OK, or why an append failed. */
llamac__dynbuf_err llamac__dynbuf_error(const llamac__dynbuf *b);

#endif /* LLAMAC_DYNBUF_H */
