/*
 * check.h - the test harness: each test file is one ctest executable made of small TEST functions.
 *
 * A check records a failure with file:line and the values involved and lets the test continue, so one run shows
 * every broken assertion. main() (from RUN_TESTS) returns non-zero when any check failed, or 77 (ctest's skip
 * code) when a required model file is missing.
 */
#ifndef LLAMAC_CHECK_H
#define LLAMAC_CHECK_H

#include "llamac.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int check_failed;
static int check_passed;

#define CHECK(cond)                                                                                                    \
    do {                                                                                                               \
        if (cond) {                                                                                                    \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: CHECK(%s) failed\n", __FILE__, __LINE__, #cond);                                   \
        }                                                                                                              \
    } while (0)

#define CHECK_INT(a, b)                                                                                                \
    do {                                                                                                               \
        long long check_a_ = (long long)(a), check_b_ = (long long)(b);                                                \
        if (check_a_ == check_b_) {                                                                                    \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed: %lld != %lld\n", __FILE__, __LINE__, #a, #b, check_a_, check_b_); \
        }                                                                                                              \
    } while (0)

#define CHECK_STR(a, b)                                                                                                \
    do {                                                                                                               \
        const char *check_a_ = (a), *check_b_ = (b);                                                                   \
        if (check_a_ && check_b_ && strcmp(check_a_, check_b_) == 0) {                                                 \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: %s == %s failed:\n  got      \"%s\"\n  expected \"%s\"\n", __FILE__, __LINE__, #a, \
                    #b, check_a_ ? check_a_ : "(null)", check_b_ ? check_b_ : "(null)");                               \
        }                                                                                                              \
    } while (0)

/* A call must return `expected`; on mismatch the last error message is shown. */
#define CHECK_STATUS(call, expected)                                                                                   \
    do {                                                                                                               \
        llamac_status check_s_ = (call);                                                                               \
        if (check_s_ == (expected)) {                                                                                  \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: %s returned %s, expected %s (last error: %s)\n", __FILE__, __LINE__, #call,        \
                    llamac_status_str(check_s_), llamac_status_str(expected), llamac_last_error());                    \
        }                                                                                                              \
    } while (0)

#define CHECK_OK(call) CHECK_STATUS(call, LLAMAC_OK)

/* The last error message must contain `needle`. */
#define CHECK_ERROR_HAS(needle)                                                                                        \
    do {                                                                                                               \
        const char *check_e_ = llamac_last_error();                                                                    \
        if (strstr(check_e_, (needle))) {                                                                              \
            check_passed++;                                                                                            \
        } else {                                                                                                       \
            check_failed++;                                                                                            \
            fprintf(stderr, "%s:%d: last error \"%s\" does not mention \"%s\"\n", __FILE__, __LINE__, check_e_,        \
                    (needle));                                                                                         \
        }                                                                                                              \
    } while (0)

/* Path of a file in the test model directory ($LLAMAC_TEST_MODELS); exits with 77 (skip) when it is missing. */
static inline const char *test_model(const char *name) {
    static char paths[8][1024];
    static int next;
    const char *dir = getenv("LLAMAC_TEST_MODELS");
    char *p = paths[next++ % 8];
    snprintf(p, sizeof paths[0], "%s/%s", dir && dir[0] ? dir : "../shared/models", name);
    FILE *f = fopen(p, "rb");
    if (!f) {
        fprintf(stderr, "SKIP: test model %s not found\n", p);
        exit(77);
    }
    fclose(f);
    return p;
}

/* The whole of a file as a NUL-terminated string (free), *len (may be NULL) its size; NULL when it cannot be read. */
static inline char *test_read_file(const char *path, size_t *len) {
    FILE *f = fopen(path, "rb");
    if (!f) {
        return NULL;
    }
    char *buf = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n >= 0 && fseek(f, 0, SEEK_SET) == 0 && (buf = malloc((size_t)n + 1)) &&
        fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    fclose(f);
    if (buf) {
        buf[n] = '\0';
        if (len) {
            *len = (size_t)n;
        }
    }
    return buf;
}

static inline int test_cmp_names_(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

/* The reference outputs in `dir`: the names ending in ".txt" or ".err" that contain `must_contain` ("" for all),
 * sorted, as a malloc'd array of *n malloc'd names (free each, then the array). NULL with *n = 0 when the directory
 * cannot be read or memory runs out; an empty directory gives a non-NULL array with *n = 0. */
static inline char **test_list_references(const char *dir, const char *must_contain, size_t *n) {
    *n = 0;
    DIR *d = opendir(dir);
    if (!d) {
        return NULL;
    }
    size_t cap = 64;
    char **names = malloc(cap * sizeof *names);
    struct dirent *e;
    while (names && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l <= 4 || !strstr(e->d_name, must_contain) ||
            (strcmp(e->d_name + l - 4, ".txt") != 0 && strcmp(e->d_name + l - 4, ".err") != 0)) {
            continue;
        }
        char *copy = strdup(e->d_name);
        if (*n == cap) {
            cap *= 2;
            char **bigger = realloc(names, cap * sizeof *names);
            if (!bigger) {
                free(copy);
                copy = NULL;
            } else {
                names = bigger;
            }
        }
        if (!copy) {
            while (*n) {
                free(names[--*n]);
            }
            free(names);
            names = NULL;
            break;
        }
        names[(*n)++] = copy;
    }
    closedir(d);
    if (names) {
        qsort(names, *n, sizeof *names, test_cmp_names_);
    }
    return names;
}

/* A scratch path under the test's working directory (ctest runs each test in its own build folder). */
static inline const char *test_tmp(const char *name) {
    static char paths[8][1024];
    static int next;
    char *p = paths[next++ % 8];
    const char *dir = getenv("LLAMAC_TEST_TMP");
    snprintf(p, sizeof paths[0], "%s/%s", dir && dir[0] ? dir : ".", name);
    return p;
}

#define RUN(test)                                                                                                      \
    do {                                                                                                               \
        int check_before_ = check_failed;                                                                              \
        test();                                                                                                        \
        fprintf(stderr, "%s %s\n", check_failed == check_before_ ? "ok  " : "FAIL", #test);                            \
    } while (0)

#define TESTS_DONE()                                                                                                   \
    do {                                                                                                               \
        fprintf(stderr, "%d checks passed, %d failed\n", check_passed, check_failed);                                  \
        return check_failed ? 1 : 0;                                                                                   \
    } while (0)

#endif /* LLAMAC_CHECK_H */
