/*
 * error.c - status strings, the thread-local last-error message, and allocation helpers.
 *
 * Every failing call leaves one sentence in a thread-local buffer, so concurrent callers never see each other's
 * errors and no call has to allocate to report one. Successful public calls clear it.
 */
#include "internal.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define LLAMAC_ERROR_CAP 1024

static _Thread_local char last_error[LLAMAC_ERROR_CAP];

const char *llamac_status_str(llamac_status status) {
    switch (status) {
    case LLAMAC_OK: return "ok";
    case LLAMAC_E_INVALID_ARGUMENT: return "invalid argument";
    case LLAMAC_E_NO_MEMORY: return "out of memory";
    case LLAMAC_E_IO: return "I/O error";
    case LLAMAC_E_MODEL_LOAD: return "model load failed";
    case LLAMAC_E_CONTEXT_CREATE: return "context creation failed";
    case LLAMAC_E_TOKEN_RANGE: return "token id out of range";
    case LLAMAC_E_CONTEXT_FULL: return "context full";
    case LLAMAC_E_DECODE: return "decode failed";
    case LLAMAC_E_CANCELLED: return "cancelled";
    case LLAMAC_E_GRAMMAR: return "invalid grammar";
    case LLAMAC_E_STATE: return "invalid state";
    case LLAMAC_E_UNSUPPORTED: return "unsupported";
    case LLAMAC_E_UTF8: return "invalid UTF-8";
    case LLAMAC_E_NOT_FOUND: return "not found";
    case LLAMAC_E_BUFFER_TOO_SMALL: return "buffer too small";
    case LLAMAC_E_INTERNAL: return "internal error";
    case LLAMAC_E_TEMPLATE: return "chat template error";
    case LLAMAC_E_SCHEMA: return "invalid or unsupported JSON schema";
    case LLAMAC_E_NETWORK: return "network error";
    case LLAMAC_E_AUTH: return "access denied";
    case LLAMAC_E_BUSY: return "busy";
    case LLAMAC_E_ADAPTER: return "unusable adapter";
    case LLAMAC_E_MEDIA: return "bad media";
    case LLAMAC_E_TIMEOUT: return "timed out";
    }
    return "unknown status";
}

const char *llamac_last_error(void) {
    return last_error;
}

llamac_status llamac__fail(llamac_status status, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(last_error, sizeof last_error, fmt, ap);
    va_end(ap);
    return status;
}

llamac_status llamac__ok(void) {
    last_error[0] = '\0';
    return LLAMAC_OK;
}

void llamac_free(void *ptr) {
    free(ptr);
}

void *llamac__malloc(size_t size) {
    void *p = malloc(size ? size : 1);
    if (!p) {
        llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory allocating %zu bytes", size);
    }
    return p;
}

void *llamac__calloc(size_t n, size_t size) {
    void *p = calloc(n ? n : 1, size ? size : 1);
    if (!p) {
        llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory allocating %zu x %zu bytes", n, size);
    }
    return p;
}

char *llamac__strndup(const char *s, size_t len) {
    char *p = llamac__malloc(len + 1);
    if (p) {
        memcpy(p, s, len);
        p[len] = '\0';
    }
    return p;
}

double llamac__now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}
