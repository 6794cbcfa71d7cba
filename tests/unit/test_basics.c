/*
 * test_basics.c - versions, status strings, the last-error contract, backends and devices, and the log hook.
 */
#include "check.h"

#include <llama.h>
#include <pthread.h>

static void test_versions(void) {
    CHECK_STR(llamac_version(), LLAMAC_VERSION_STRING);
    char want[32];
    snprintf(want, sizeof want, "%d.%d.%d", LLAMAC_VERSION_MAJOR, LLAMAC_VERSION_MINOR, LLAMAC_VERSION_PATCH);
    CHECK_STR(llamac_version(), want);
    CHECK(strncmp(llamac_llama_commit(), "de3ff81", 7) == 0);
}

static void test_status_strings(void) {
    CHECK_STR(llamac_status_str(LLAMAC_OK), "ok");
    CHECK_STR(llamac_status_str(LLAMAC_E_INVALID_ARGUMENT), "invalid argument");
    CHECK_STR(llamac_status_str(LLAMAC_E_CONTEXT_FULL), "context full");
    CHECK_STR(llamac_status_str(LLAMAC_E_MEDIA), "bad media");
    CHECK_STR(llamac_status_str(LLAMAC_E_TIMEOUT), "timed out");
    CHECK_STR(llamac_status_str((llamac_status)999), "unknown status");
    /* every defined status has its own text */
    for (int a = 0; a <= LLAMAC_E_TIMEOUT; a++) {
        CHECK(strcmp(llamac_status_str((llamac_status)a), "unknown status") != 0);
        for (int b = a + 1; b <= LLAMAC_E_TIMEOUT; b++) {
            CHECK(strcmp(llamac_status_str((llamac_status)a), llamac_status_str((llamac_status)b)) != 0);
        }
    }
}

static void *other_thread(void *arg) {
    (void)arg;
    /* a fresh thread has no error, whatever another thread did */
    return (void *)(llamac_last_error()[0] == '\0' ? (void *)1 : NULL);
}

static void test_last_error_is_per_thread_and_cleared(void) {
    llamac_model *m = (llamac_model *)&m; /* never dereferenced: the NULL path fails first */
    CHECK_STATUS(llamac_model_load(NULL, NULL, &m), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(m == NULL); /* out is set to NULL on failure */
    CHECK_ERROR_HAS("path");
    pthread_t t;
    void *ok = NULL;
    pthread_create(&t, NULL, other_thread, NULL);
    pthread_join(t, &ok);
    CHECK(ok != NULL);
    CHECK_ERROR_HAS("path"); /* still this thread's */
    llamac_device_info info;
    CHECK_OK(llamac_device_get(0, &info));
    CHECK_STR(llamac_last_error(), ""); /* a successful call clears it */
}

static void test_backends_and_devices(void) {
    CHECK_OK(llamac_backend_init());
    CHECK_OK(llamac_backend_init()); /* reference-counted */
    size_t n = llamac_backend_count();
    CHECK(n >= 1);
    bool has_cpu = false;
    for (size_t i = 0; i < n; i++) {
        const char *name = llamac_backend_name(i);
        CHECK(name != NULL);
        if (name && strcmp(name, "CPU") == 0) {
            has_cpu = true;
        }
    }
    CHECK(has_cpu);
    CHECK(llamac_backend_name(n) == NULL);
    size_t nd = llamac_device_count();
    CHECK(nd >= 1);
    llamac_device_info info;
    bool cpu_dev = false;
    for (size_t i = 0; i < nd; i++) {
        CHECK_OK(llamac_device_get(i, &info));
        CHECK(info.name && info.name[0]);
        if (info.type == LLAMAC_DEVICE_CPU) {
            cpu_dev = true;
            CHECK(info.memory_total > 0);
        }
    }
    CHECK(cpu_dev);
    CHECK_STATUS(llamac_device_get(nd, &info), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("out of range");
    CHECK_STATUS(llamac_device_get(0, NULL), LLAMAC_E_INVALID_ARGUMENT);
    llamac_backend_free();
    llamac_backend_free();
    llamac_backend_free(); /* extra frees are no-ops */
    CHECK(llamac_backend_count() >= 1);
}

struct log_seen {
    int lines;
    int below_min;
    bool saw_loader;
    bool newline_inside;
};

static void on_log(llamac_log_level level, const char *line, void *user_data) {
    struct log_seen *s = user_data;
    s->lines++;
    if (level < LLAMAC_LOG_INFO) {
        s->below_min++;
    }
    if (strstr(line, "llama_model_loader") || strstr(line, "print_info")) {
        s->saw_loader = true;
    }
    if (strchr(line, '\n')) {
        s->newline_inside = true;
    }
}

static void test_log_hook(void) {
    const char *path = test_model("stories260K.gguf");
    struct log_seen seen = { 0 };
    llamac_log_set(on_log, LLAMAC_LOG_INFO, &seen);
    llamac_model *m = NULL;
    CHECK_OK(llamac_model_load(path, NULL, &m));
    llamac_model_free(m);
    CHECK(seen.lines > 10); /* llama.cpp's load log arrives through the hook */
    CHECK(seen.saw_loader);
    CHECK_INT(seen.below_min, 0); /* debug lines are filtered out */
    CHECK(!seen.newline_inside);  /* one complete line per call */

    struct log_seen quiet = { 0 };
    llamac_log_set(on_log, LLAMAC_LOG_ERROR, &quiet);
    CHECK_OK(llamac_model_load(path, NULL, &m));
    llamac_model_free(m);
    CHECK_INT(quiet.lines, 0); /* a successful load logs no errors */

    llamac_log_set(NULL, LLAMAC_LOG_DEBUG, NULL);
    struct log_seen none = { 0 };
    CHECK_OK(llamac_model_load(path, NULL, &m));
    llamac_model_free(m);
    CHECK_INT(none.lines, 0);

    /* the reason for a failed load reaches the error message even with no hook installed */
    FILE *f = fopen(test_tmp("half.gguf"), "wb");
    FILE *src = fopen(path, "rb");
    char buf[4096];
    size_t got = fread(buf, 1, sizeof buf, src);
    fwrite(buf, 1, got, f);
    fclose(src);
    fclose(f);
    CHECK_STATUS(llamac_model_load(test_tmp("half.gguf"), NULL, &m), LLAMAC_E_MODEL_LOAD);
    CHECK_ERROR_HAS("cannot load model");
    CHECK(strlen(llamac_last_error()) > strlen("cannot load model '") + strlen(test_tmp("half.gguf")) + 10);
}

struct log_lines {
    int n;
    llamac_log_level level[8];
    char text[8][2100];
};

static void keep_line(llamac_log_level level, const char *line, void *user_data) {
    struct log_lines *s = user_data;
    if (s->n < 8) {
        s->level[s->n] = level;
        snprintf(s->text[s->n], sizeof s->text[s->n], "%s", line);
    }
    s->n++;
}

/* llama.cpp's text in pieces, fed straight to the callback llamac installed: lines are assembled across calls and
 * split at every newline, a new message ends a pending line, and a line longer than the buffer keeps its start. */
static void test_log_line_assembly(void) {
    struct log_lines got = { 0 };
    llamac_log_set(keep_line, LLAMAC_LOG_DEBUG, &got);
    ggml_log_callback cb = NULL;
    void *cb_data = NULL;
    llama_log_get(&cb, &cb_data);
    CHECK(cb != NULL);
    if (!cb) {
        return;
    }
    cb(GGML_LOG_LEVEL_INFO, "abc", cb_data);
    cb(GGML_LOG_LEVEL_CONT, "def\nghi\n", cb_data);
    cb(GGML_LOG_LEVEL_WARN, "pending", cb_data);
    cb(GGML_LOG_LEVEL_ERROR, "\nlast", cb_data);
    static char longer[5001];
    memset(longer, 'x', 5000);
    longer[0] = 'A';
    cb(GGML_LOG_LEVEL_INFO, longer, cb_data);
    cb(GGML_LOG_LEVEL_CONT, "tail\n", cb_data);
    llamac_log_set(NULL, LLAMAC_LOG_DEBUG, NULL);
    CHECK_INT(got.n, 6);
    CHECK_STR(got.text[0], "abcdef");
    CHECK_STR(got.text[1], "ghi");
    CHECK(got.level[1] == LLAMAC_LOG_INFO);
    CHECK_STR(got.text[2], "pending"); /* ended by the next message, with its own level */
    CHECK(got.level[2] == LLAMAC_LOG_WARN);
    CHECK_STR(got.text[3], "");
    CHECK(got.level[3] == LLAMAC_LOG_ERROR);
    CHECK_STR(got.text[4], "last"); /* ended by the next message */
    CHECK_INT(strlen(got.text[5]), 2047);
    CHECK(got.text[5][0] == 'A' && got.text[5][2046] == 'x');
    CHECK(got.level[5] == LLAMAC_LOG_INFO);
}

int main(void) {
    RUN(test_versions);
    RUN(test_status_strings);
    RUN(test_last_error_is_per_thread_and_cleared);
    RUN(test_backends_and_devices);
    RUN(test_log_hook);
    RUN(test_log_line_assembly);
    TESTS_DONE();
}
