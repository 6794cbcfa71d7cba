/*
 * log.c - one log hook for llamac, llama.cpp and ggml, and capture of llama.cpp's error lines.
 *
 * llama.cpp reports why a load or context creation failed only through its log, in pieces (a line may arrive in
 * several calls, continued with GGML_LOG_LEVEL_CONT). We assemble complete lines per thread, forward them to the
 * user's hook, and, while a call is capturing, keep the warnings and errors so the call can put them into its
 * error message.
 */
#include "internal.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#define LINE_CAP 2048
#define CAPTURE_CAP 1536

static pthread_mutex_t hook_lock = PTHREAD_MUTEX_INITIALIZER;
static llamac_log_fn hook_fn;
static void *hook_data;
static llamac_log_level hook_min = LLAMAC_LOG_NONE;

/* A thread's log state: the line being assembled and what a capturing call keeps. One thread-local object, reached
 * through one pointer per call: in a shared library every access to a thread-local variable may cost a call into the
 * dynamic linker (__tls_get_addr), which per character made the hook a visible part of a model load. */
struct log_state {
    char line[LINE_CAP];
    size_t line_len;
    llamac_log_level line_level;
    bool capturing;
    char captured[CAPTURE_CAP];
    size_t captured_len;
    llamac__line_fn tap_fn;
    void *tap_data;
};

static _Thread_local struct log_state tls_state = { .line_level = LLAMAC_LOG_INFO };

static llamac_log_level map_level(enum ggml_log_level level) {
    switch (level) {
    case GGML_LOG_LEVEL_DEBUG: return LLAMAC_LOG_DEBUG;
    case GGML_LOG_LEVEL_WARN: return LLAMAC_LOG_WARN;
    case GGML_LOG_LEVEL_ERROR: return LLAMAC_LOG_ERROR;
    default: return LLAMAC_LOG_INFO;
    }
}

/* Keeps the newest lines: when the buffer is full, older text is dropped from the front. */
static void capture_line(struct log_state *st, const char *text, size_t len) {
    while (len > 0 && (text[len - 1] == ' ' || text[len - 1] == '.')) {
        len--;
    }
    if (len == 0) {
        return;
    }
    if (len > CAPTURE_CAP / 2) {
        text += len - CAPTURE_CAP / 2;
        len = CAPTURE_CAP / 2;
    }
    size_t sep = st->captured_len ? 2 : 0;
    while (st->captured_len + sep + len + 1 > CAPTURE_CAP) {
        char *cut = strstr(st->captured, "; ");
        if (!cut) {
            st->captured_len = 0;
            sep = 0;
            break;
        }
        size_t drop = (size_t)(cut - st->captured) + 2;
        memmove(st->captured, st->captured + drop, st->captured_len - drop + 1);
        st->captured_len -= drop;
    }
    if (sep) {
        memcpy(st->captured + st->captured_len, "; ", 2);
        st->captured_len += 2;
    }
    memcpy(st->captured + st->captured_len, text, len);
    st->captured_len += len;
    st->captured[st->captured_len] = '\0';
}

/* Hands a line to the user's hook, when one is set and the level passes its minimum. The hook is read under the lock
 * and called outside it, so a hook may log or change the hook itself. */
static void to_hook(llamac_log_level level, const char *line) {
    pthread_mutex_lock(&hook_lock);
    llamac_log_fn fn = hook_fn;
    void *data = hook_data;
    llamac_log_level min = hook_min;
    pthread_mutex_unlock(&hook_lock);
    if (fn && level >= min) {
        fn(level, line, data);
    }
}

static void emit_line(struct log_state *st, llamac_log_level level) {
    st->line[st->line_len] = '\0';
    if (st->capturing && level >= LLAMAC_LOG_WARN) {
        capture_line(st, st->line, st->line_len);
    }
    if (st->tap_fn) {
        st->tap_fn(level, st->line, st->tap_data);
    }
    to_hook(level, st->line);
    st->line_len = 0;
}

/* Appends llama.cpp's text to the thread's line a chunk at a time (memchr for the newlines, memcpy for what lies
 * between), emitting each complete line; a line longer than LINE_CAP - 1 bytes keeps its beginning. */
void llamac__llama_log(enum ggml_log_level level, const char *text, void *user_data) {
    (void)user_data;
    struct log_state *st = &tls_state;
    if (level != GGML_LOG_LEVEL_CONT) {
        if (st->line_len > 0) {
            emit_line(st, st->line_level);
        }
        st->line_level = map_level(level);
    }
    size_t rest = strlen(text);
    while (rest > 0) {
        const char *nl = memchr(text, '\n', rest);
        size_t chunk = nl ? (size_t)(nl - text) : rest;
        size_t room = LINE_CAP - 1 - st->line_len;
        size_t take = chunk < room ? chunk : room;
        memcpy(st->line + st->line_len, text, take);
        st->line_len += take;
        if (!nl) {
            break;
        }
        emit_line(st, st->line_level);
        text = nl + 1;
        rest -= chunk + 1;
    }
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) {
    llama_log_set(llamac__llama_log, NULL);
}

void llamac__log_install(void) {
    pthread_once(&install_once, install);
}

void llamac_log_set(llamac_log_fn fn, llamac_log_level min_level, void *user_data) {
    llamac__log_install();
    pthread_mutex_lock(&hook_lock);
    hook_fn = fn;
    hook_data = user_data;
    hook_min = min_level;
    pthread_mutex_unlock(&hook_lock);
}

void llamac__capture_begin(void) {
    llamac__log_install();
    struct log_state *st = &tls_state;
    st->capturing = true;
    st->captured_len = 0;
    st->captured[0] = '\0';
}

const char *llamac__capture_end(void) {
    struct log_state *st = &tls_state;
    if (st->line_len > 0) {
        emit_line(st, st->line_level);
    }
    st->capturing = false;
    return st->captured;
}

void llamac__tap_begin(llamac__line_fn fn, void *user_data) {
    llamac__log_install();
    struct log_state *st = &tls_state;
    st->tap_fn = fn;
    st->tap_data = user_data;
}

void llamac__tap_end(void) {
    struct log_state *st = &tls_state;
    if (st->line_len > 0) {
        emit_line(st, st->line_level);
    }
    st->tap_fn = NULL;
    st->tap_data = NULL;
}

void llamac__log(llamac_log_level level, const char *fmt, ...) {
    char buf[LINE_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    to_hook(level, buf);
}
