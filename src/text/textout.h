/*
 * textout.h - the text-out path: token bytes in, text a caller may show out (UTF-8 gate, stop strings, hold-back).
 *
 * Everything that turns sampled tokens into text goes through here: llamac_generate (and so chat sessions) and
 * the serving engine. A token's bytes pass the UTF-8 gate (never half a character), then the stop-string filter,
 * which holds back any tail that could still become a stop string, so no part of a stop string is ever released
 * even when it is split over many tokens. At the end, what is held is released unless a stop string completed.
 */
#ifndef LLAMAC_TEXTOUT_H
#define LLAMAC_TEXTOUT_H

#include "core/internal.h"
#include "dynbuf.h"

/* The most bytes one push takes: a token's text is a few hundred bytes at most. */
#define LLAMAC__TEXTOUT_MAX_PUSH (64 * 1024)

/* Stop strings, checked and copied once (a request keeps them until it ends). */
typedef struct llamac__stops {
    char **str;  /* n NUL-terminated copies */
    size_t *len; /* their lengths */
    size_t n;
    size_t longest; /* the longest length, 0 when n is 0 */
} llamac__stops;

/* Checks n stop strings as a caller gives them: `stop` is NULL only when n is 0, and each string is non-NULL,
 * non-empty and valid UTF-8. `field` names the count in the message ("n_stop", "generate.n_stop"). Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8. */
llamac_status llamac__stops_check(const char *const *stop, size_t n, const char *field);

/* Checks (as llamac__stops_check with field "n_stop") and copies n stop strings into *out, which the caller frees
 * with llamac__stops_free (also after a failure). Errors: as the check, LLAMAC_E_NO_MEMORY. */
llamac_status llamac__stops_copy(const char *const *stop, size_t n, llamac__stops *out);

/* Frees the copies; *s is then empty (n 0) and may be freed again. */
void llamac__stops_free(llamac__stops *s);

/* One text-out path. Not thread-safe: one thread at a time (the generating one). */
typedef struct llamac__textout {
    llamac_utf8_stream *utf8;   /* the UTF-8 gate */
    llamac__dynbuf hold;        /* text that could still be the start of a stop string, then what was released */
    const llamac__stops *stops; /* borrowed from begin on; NULL: none */
    size_t released;            /* bytes at the front of `hold` handed out by the last call, dropped by the next */
    bool ended;                 /* a stop string completed, or finish ran: nothing more comes out until begin */
} llamac__textout;

/* What one push or finish releases. */
typedef struct llamac__textout_piece {
    const char *text; /* whole UTF-8 characters, no part of a stop string; owned by the text-out path, valid until
                         its next call; never NULL */
    size_t len;
    const char *stop; /* the stop string that completed (the text is over; what followed it is dropped), else NULL;
                         borrowed from the stops given to begin */
} llamac__textout_piece;

/* Prepares *t (then call begin before each text). Free with llamac__textout_free, also after a failure. Errors:
 * LLAMAC_E_NO_MEMORY. */
llamac_status llamac__textout_init(llamac__textout *t);
void llamac__textout_free(llamac__textout *t);

/* Starts a new text with `stops` (borrowed until the next begin; NULL or empty: none), dropping whatever the last
 * one still held. Memory is kept for reuse, so a text costs no allocation once buffers have grown. */
void llamac__textout_begin(llamac__textout *t, const llamac__stops *stops);

/* Passes len bytes of a token's text (at most LLAMAC__TEXTOUT_MAX_PUSH) through the gate and the filter; *out gets
 * what can be released now (possibly nothing) and the stop string if one completed. After a stop string, pushes
 * release nothing. Errors: LLAMAC_E_INVALID_ARGUMENT (too many bytes; nothing changes), LLAMAC_E_NO_MEMORY (the
 * text is then broken: later calls fail until begin). */
llamac_status llamac__textout_push(llamac__textout *t, const char *bytes, size_t len, llamac__textout_piece *out);

/* Ends the text: releases everything still held (an unfinished character as U+FFFD), up to a stop string that this
 * completes. Releases nothing after a stop string or a finish. Errors: LLAMAC_E_NO_MEMORY. */
llamac_status llamac__textout_finish(llamac__textout *t, llamac__textout_piece *out);

#endif /* LLAMAC_TEXTOUT_H */
