/*
 * fuzz_tools.c - libFuzzer target for what the built-in agent tools (--tools) read from a client or a model before
 * touching a file: glob patterns (file_glob_search's and grep_search's include and exclude) and paths (resolved
 * against the x-tool-cwd folder).
 *
 * The input is a pattern or path, a NUL, then a relative path. Invariants: matching ends (in O(pattern x path)
 * steps: libFuzzer's timeout catches an exponential one) and is repeatable; a name without glob characters matches
 * itself at any depth; a resolved path is absolute and normal (no empty, "." or ".." segment) and resolves to itself.
 */
#include "tools_builtin.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_normal(const char *r) {
    if (r[0] != '/' || strstr(r, "//") || strstr(r, "/./") || strstr(r, "/../")) {
        abort();
    }
    size_t n = strlen(r);
    if ((n >= 2 && strcmp(r + n - 2, "/.") == 0) || (n >= 3 && strcmp(r + n - 3, "/..") == 0) ||
        (n > 1 && r[n - 1] == '/')) {
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size > 4096) {
        return 0;
    }
    char *buf = malloc(size + 2);
    if (!buf) {
        return 0;
    }
    memcpy(buf, data, size);
    buf[size] = buf[size + 1] = '\0';
    const char *pattern = buf;
    const char *rel = buf + strlen(buf) + 1 <= buf + size ? buf + strlen(buf) + 1 : "";

    bool a = tools_path_match(pattern, rel), b = tools_path_match(pattern, rel);
    if (a != b) {
        abort();
    }
    if (*pattern && !strpbrk(pattern, "*?[/") && !tools_path_match(pattern, pattern)) {
        abort(); /* a plain name matches itself */
    }
    char *r = tools_resolve("/base/dir", pattern);
    if (r) {
        check_normal(r);
        char *again = tools_resolve(NULL, r);
        if (again && strcmp(again, r) != 0) {
            abort();
        }
        free(again);
    }
    free(r);
    free(buf);
    return 0;
}
