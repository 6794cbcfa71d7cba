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

static _Thread_local char line[LINE_CAP];
static _Thread_local size_t line_len;
static _Thread_local llamac_log_level line_level = LLAMAC_LOG_INFO;
static _Thread_local bool capturing;
static _Thread_local char captured[CAPTURE_CAP];
static _Thread_local size_t captured_len;
static _Thread_local llamac__line_fn tap_fn;
static _Thread_local void *tap_data;

static llamac_log_level map_level(enum ggml_log_level level) {
    switch (level) {
    case GGML_LOG_LEVEL_DEBUG: return LLAMAC_LOG_DEBUG;
    case GGML_LOG_LEVEL_WARN: return LLAMAC_LOG_WARN;
    case GGML_LOG_LEVEL_ERROR: return LLAMAC_LOG_ERROR;
    default: return LLAMAC_LOG_INFO;
    }
}

/* Keeps the newest lines: when the buffer is full, older text is dropped from the front. */
static void capture_line(const char *text, size_t len) {
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
    size_t sep = captured_len ? 2 : 0;
    while (captured_len + sep + len + 1 > CAPTURE_CAP) {
        char *cut = strstr(captured, "; ");
        if (!cut) {
            captured_len = 0;
            sep = 0;
            break;
        }
        size_t drop = (size_t)(cut - captured) + 2;
        memmove(captured, captured + drop, captured_len - drop + 1);
        captured_len -= drop;
    }
    if (sep) {
        memcpy(captured + captured_len, "; ", 2);
        captured_len += 2;
    }
    memcpy(captured + captured_len, text, len);
    captured_len += len;
    captured[captured_len] = '\0';
}

static void emit_line(llamac_log_level level) {
    line[line_len] = '\0';
    if (capturing && level >= LLAMAC_LOG_WARN) {
        capture_line(line, line_len);
    }
    if (tap_fn) {
        tap_fn(level, line, tap_data);
    }
    pthread_mutex_lock(&hook_lock);
    llamac_log_fn fn = hook_fn;
    void *data = hook_data;
    llamac_log_level min = hook_min;
    pthread_mutex_unlock(&hook_lock);
    if (fn && level >= min) {
        fn(level, line, data);
    }
    line_len = 0;
}

static void on_llama_log(enum ggml_log_level level, const char *text, void *user_data) {
    (void)user_data;
    if (level != GGML_LOG_LEVEL_CONT) {
        if (line_len > 0) {
            emit_line(line_level);
        }
        line_level = map_level(level);
    }
    for (const char *p = text; *p; p++) {
        if (*p == '\n') {
            emit_line(line_level);
        } else if (line_len + 1 < LINE_CAP) {
            line[line_len++] = *p;
        }
    }
}

static pthread_once_t install_once = PTHREAD_ONCE_INIT;

static void install(void) {
    llama_log_set(on_llama_log, NULL);
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
    capturing = true;
    captured_len = 0;
    captured[0] = '\0';
}

const char *llamac__capture_end(void) {
    if (line_len > 0) {
        emit_line(line_level);
    }
    capturing = false;
    return captured;
}

void llamac__tap_begin(llamac__line_fn fn, void *user_data) {
    llamac__log_install();
    tap_fn = fn;
    tap_data = user_data;
}

void llamac__tap_end(void) {
    if (line_len > 0) {
        emit_line(line_level);
    }
    tap_fn = NULL;
    tap_data = NULL;
}

void llamac__log(llamac_log_level level, const char *fmt, ...) {
    char buf[LINE_CAP];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof buf, fmt, ap);
    va_end(ap);
    pthread_mutex_lock(&hook_lock);
    llamac_log_fn fn = hook_fn;
    void *data = hook_data;
    llamac_log_level min = hook_min;
    pthread_mutex_unlock(&hook_lock);
    if (fn && level >= min) {
        fn(level, buf, data);
    }
}
