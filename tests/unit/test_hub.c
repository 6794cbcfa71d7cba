/*
 * test_hub.c - the Hugging Face Hub API without a network: settings from the environment, names, the cache as
 * huggingface_hub lays it out (built here by hand around a real model), offline pulls, listing, removal, and every
 * argument error; and, against the suite's fake Hub on loopback (tests/hub/fake_hub.js, when node is installed),
 * the progress callback: its figures, cancelling, and resuming the cancelled download. The other download cases are
 * in tests/cli/test_hub.sh. Last, the streamed requests of llamac_http_stream against a one-connection listener on
 * loopback (below): what is sent, the answer read piece by piece, and each time limit (tests/cli/
 * test_serve_cors_proxy.sh drives them through llamac serve's /cors-proxy).
 */
#define _GNU_SOURCE /* strcasestr */
#include "check.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <pthread.h>
#include <signal.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define C1 "0123456789abcdef0123456789abcdef01234567"

static char cache[1024];
static char model_sha[65];

/* cp src dst */
static bool copy_file(const char *src, const char *dst) {
    FILE *in = fopen(src, "rb"), *out = fopen(dst, "wb");
    bool ok = in && out;
    char buf[65536];
    size_t n;
    while (ok && (n = fread(buf, 1, sizeof buf, in)) > 0) {
        ok = fwrite(buf, 1, n, out) == n;
    }
    if (in) {
        fclose(in);
    }
    if (out && fclose(out) != 0) {
        ok = false;
    }
    return ok;
}

static void mkdirs(const char *path) {
    char p[1024];
    snprintf(p, sizeof p, "%s", path);
    for (char *c = p + 1; *c; c++) {
        if (*c == '/') {
            *c = '\0';
            mkdir(p, 0755);
            *c = '/';
        }
    }
    mkdir(p, 0755);
}

/* A cache with models--me--tiny-GGUF: a Q4_K_M and a Q8_0 name for the same blob (named by a fake sha, which the
 * offline path does not check), a 2-shard split under F16/, refs/main. */
static void make_cache(void) {
    snprintf(cache, sizeof cache, "%s", test_tmp("hubcache"));
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", cache);
    CHECK_INT(system(cmd), 0);
    memset(model_sha, 'a', 64);
    model_sha[64] = '\0';
    char dir[1100], path[1200], target[200];
    snprintf(dir, sizeof dir, "%s/models--me--tiny-GGUF", cache);
    snprintf(path, sizeof path, "%s/blobs", dir);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/refs", dir);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/snapshots/" C1 "/F16", dir);
    mkdirs(path);
    snprintf(path, sizeof path, "%s/blobs/%s", dir, model_sha);
    CHECK(copy_file(test_model("stories260K.gguf"), path));
    snprintf(path, sizeof path, "%s/refs/main", dir);
    FILE *f = fopen(path, "w");
    CHECK(f != NULL);
    if (f) {
        fputs(C1, f);
        fclose(f);
    }
    static const char *names[] = { "tiny-Q4_K_M.gguf", "tiny-Q8_0.gguf", "F16/tiny-F16-00001-of-00002.gguf",
                                   "F16/tiny-F16-00002-of-00002.gguf" };
    for (size_t i = 0; i < 4; i++) {
        snprintf(path, sizeof path, "%s/snapshots/" C1 "/%s", dir, names[i]);
        snprintf(target, sizeof target, "%s../../blobs/%s", strchr(names[i], '/') ? "../" : "", model_sha);
        CHECK_INT(symlink(target, path), 0);
    }
}

static llamac_hub_params offline_params(void) {
    llamac_hub_params p = llamac_hub_params_default();
    p.cache_dir = cache;
    p.offline = true;
    return p;
}

static void test_defaults_and_arguments(void) {
    llamac_hub_params p = llamac_hub_params_default();
    CHECK_INT(p.max_retries, 3);
    CHECK(!p.offline && !p.endpoint && !p.cache_dir && !p.token && !p.progress);
    llamac_hub_list *list = (llamac_hub_list *)1;
    CHECK_STATUS(llamac_hub_pull(NULL, NULL, NULL, &list), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(list == NULL);
    CHECK_STATUS(llamac_hub_pull("me/tiny-GGUF", NULL, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    static const char *bad[] = { "noslash", "a/b/c", "/name", "owner/", "own er/x", "a/../b",
                                 "a/b--c",  "-a/b",  "a/b.",  "a/b:",   "a/b:Q4 K" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(llamac_hub_pull(bad[i], NULL, NULL, &list), LLAMAC_E_INVALID_ARGUMENT);
        CHECK(list == NULL);
    }
    CHECK_ERROR_HAS("invalid quant");
    CHECK_STATUS(llamac_hub_repo_files("x", NULL, &list), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_hub_repo_files("a/b", NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_hub_cached(NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_hub_remove(NULL, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_hub_model_choices(NULL, &list), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_INT(llamac_hub_list_count(NULL), 0);
    CHECK(llamac_hub_list_get(NULL, 0) == NULL);
    llamac_hub_list_free(NULL);
    p.endpoint = "ftp://example.com";
    CHECK_STATUS(llamac_hub_pull("a/b", NULL, &p, &list), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("not an http:// or https:// URL");
}

static void test_network_errors(void) {
    llamac_hub_params p = llamac_hub_params_default();
    p.cache_dir = cache;
    p.endpoint = "http://127.0.0.1:1"; /* nothing listens on port 1 */
    llamac_hub_list *list = NULL;
    CHECK_STATUS(llamac_hub_pull("me/other-GGUF", NULL, &p, &list), LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("cannot reach the Hub at http://127.0.0.1:1");
    CHECK_STATUS(llamac_hub_repo_files("me/other-GGUF", &p, &list), LLAMAC_E_NETWORK);
    CHECK(list == NULL);
}

/* llamac_hub_download_url's refusals without a server (tests/cli/test_media.sh downloads from one: --mmproj-url):
 * NULLs, another scheme, nothing listening (the partial file is left for a resume, nothing in place), offline with
 * nothing downloaded. */
static void test_download_url_errors(void) {
    llamac_hub_params p = llamac_hub_params_default();
    p.cache_dir = cache;
    p.max_retries = 0;
    char *path = (char *)1;
    CHECK_STATUS(llamac_hub_download_url(NULL, &p, &path), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(path == NULL);
    CHECK_STATUS(llamac_hub_download_url("http://127.0.0.1:1/m.gguf", &p, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_hub_download_url("file:///etc/passwd", &p, &path), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("only http and https URLs are downloaded (file)");
    CHECK_STATUS(llamac_hub_download_url("http://127.0.0.1:1/m.gguf", &p, &path), LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("download of http://127.0.0.1:1/m.gguf stopped after 0 bytes");
    CHECK(path == NULL);
    p.offline = true;
    CHECK_STATUS(llamac_hub_download_url("http://127.0.0.1:1/m.gguf", &p, &path), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("is not in the cache");
    CHECK(path == NULL);
}

static void test_offline_pull(void) {
    llamac_hub_params p = offline_params();
    llamac_hub_list *list = NULL;
    CHECK_OK(llamac_hub_pull("me/tiny-GGUF", NULL, &p, &list));
    CHECK_INT(llamac_hub_list_count(list), 1);
    const llamac_hub_file *f = llamac_hub_list_get(list, 0);
    char want[1200];
    snprintf(want, sizeof want, "%s/models--me--tiny-GGUF/snapshots/" C1 "/tiny-Q4_K_M.gguf", cache);
    if (f) {
        CHECK_STR(f->local_path, want);
        CHECK_STR(f->repo, "me/tiny-GGUF");
        CHECK_STR(f->path, "tiny-Q4_K_M.gguf");
        CHECK_STR(f->sha256, model_sha);
        CHECK_STR(f->commit, C1);
        CHECK_INT(f->size, 1185376);
        /* the file is the model: it loads */
        llamac_model_params mp = llamac_model_params_default();
        mp.vocab_only = true;
        llamac_model *m = NULL;
        CHECK_OK(llamac_model_load(f->local_path, &mp, &m));
        llamac_model_free(m);
    }
    CHECK(llamac_hub_list_get(list, 1) == NULL);
    llamac_hub_list_free(list);

    CHECK_OK(llamac_hub_pull("me/tiny-GGUF:f16", NULL, &p, &list));
    CHECK_INT(llamac_hub_list_count(list), 2);
    if (llamac_hub_list_count(list) == 2) {
        CHECK_STR(llamac_hub_list_get(list, 0)->path, "F16/tiny-F16-00001-of-00002.gguf");
        CHECK_STR(llamac_hub_list_get(list, 1)->path, "F16/tiny-F16-00002-of-00002.gguf");
    }
    llamac_hub_list_free(list);

    CHECK_STATUS(llamac_hub_pull("me/tiny-GGUF:Q2_K", NULL, &p, &list), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("no GGUF file for quant Q2_K in me/tiny-GGUF (offline");
    CHECK_ERROR_HAS("tiny-Q4_K_M.gguf");
    CHECK_STATUS(llamac_hub_pull("me/absent", NULL, &p, &list), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("offline: me/absent is not in the cache");

    /* HF_HUB_OFFLINE and HF_HUB_CACHE are read when the params leave them out */
    llamac_hub_params env = llamac_hub_params_default();
    setenv("HF_HUB_OFFLINE", "1", 1);
    setenv("HF_HUB_CACHE", cache, 1);
    setenv("HF_HOME", "/nonexistent-hf-home", 1);
    CHECK_OK(llamac_hub_pull("me/tiny-GGUF:Q8_0", NULL, &env, &list));
    CHECK_INT(llamac_hub_list_count(list), 1);
    llamac_hub_list_free(list);
    unsetenv("HF_HUB_CACHE");
    CHECK_STATUS(llamac_hub_pull("me/tiny-GGUF:Q8_0", NULL, &env, &list), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("/nonexistent-hf-home/hub");
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_HOME");
}

static void test_listing_and_choices(void) {
    llamac_hub_params p = offline_params();
    llamac_hub_list *files = NULL, *choices = NULL, *cached = NULL;
    CHECK_OK(llamac_hub_repo_files("me/tiny-GGUF", &p, &files));
    CHECK_INT(llamac_hub_list_count(files), 4);
    CHECK_OK(llamac_hub_model_choices(files, &choices));
    CHECK_INT(llamac_hub_list_count(choices), 3); /* the second shard is not a choice */
    for (size_t i = 0; i < llamac_hub_list_count(choices); i++) {
        CHECK(strstr(llamac_hub_list_get(choices, i)->path, "00002-of") == NULL);
    }
    CHECK_OK(llamac_hub_cached(&p, &cached));
    CHECK_INT(llamac_hub_list_count(cached), 4);
    if (llamac_hub_list_count(cached) == 4) {
        CHECK_STR(llamac_hub_list_get(cached, 0)->path, "F16/tiny-F16-00001-of-00002.gguf"); /* sorted */
        CHECK_STR(llamac_hub_list_get(cached, 3)->path, "tiny-Q8_0.gguf");
    }
    llamac_hub_list_free(files);
    llamac_hub_list_free(choices);
    llamac_hub_list_free(cached);
}

static void test_remove(void) {
    llamac_hub_params p = offline_params();
    size_t n = 99;
    char blob[1200], dir[1100];
    snprintf(dir, sizeof dir, "%s/models--me--tiny-GGUF", cache);
    snprintf(blob, sizeof blob, "%s/blobs/%s", dir, model_sha);
    CHECK_OK(llamac_hub_remove("me/tiny-GGUF:F16", &p, &n));
    CHECK_INT(n, 2);
    CHECK_INT(access(blob, F_OK), 0); /* still linked from the Q4_K_M and Q8_0 names */
    CHECK_OK(llamac_hub_remove("me/tiny-GGUF:Q8_0", &p, &n));
    CHECK_INT(n, 1);
    CHECK_STATUS(llamac_hub_remove("me/tiny-GGUF:Q8_0", &p, &n), LLAMAC_E_NOT_FOUND);
    CHECK_INT(n, 0);
    CHECK_ERROR_HAS("me/tiny-GGUF:tiny-Q4_K_M.gguf");
    CHECK_OK(llamac_hub_remove("me/tiny-GGUF:Q4_K_M", &p, &n));
    CHECK(access(blob, F_OK) != 0); /* the last link went: so did the blob */
    CHECK_OK(llamac_hub_remove("me/tiny-GGUF", &p, &n));
    CHECK(access(dir, F_OK) != 0);
    CHECK_STATUS(llamac_hub_remove("me/tiny-GGUF", &p, NULL), LLAMAC_E_NOT_FOUND);
    CHECK_ERROR_HAS("the cache holds: nothing");
    llamac_hub_list *cached = NULL;
    CHECK_OK(llamac_hub_cached(&p, &cached));
    CHECK_INT(llamac_hub_list_count(cached), 0);
    llamac_hub_list_free(cached);
}

/* ---- against the fake Hub ---- */

static pid_t hub_pid = -1;
static char endpoint[64];

static bool start_fake_hub(void) {
    const char *src = getenv("LLAMAC_SOURCE_DIR");
    if (!src || system("command -v node > /dev/null 2>&1") != 0) {
        fprintf(stderr, "node or LLAMAC_SOURCE_DIR missing: skipping the download tests\n");
        return false;
    }
    static char config[1024], ports[1024], log[1024], script[1024];
    snprintf(config, sizeof config, "%s", test_tmp("fake_hub.json"));
    snprintf(ports, sizeof ports, "%s", test_tmp("fake_hub.ports"));
    snprintf(log, sizeof log, "%s", test_tmp("fake_hub.log"));
    snprintf(script, sizeof script, "%s/tests/hub/fake_hub.js", src);
    unlink(ports);
    unlink(log);
    FILE *f = fopen(config, "w");
    if (!f) {
        return false;
    }
    fprintf(f,
            "{\"repos\": {\"me/net-GGUF\": {\"commit\": \"" C1 "\", \"files\": [{\"path\": \"net-Q4_K_M.gguf\", "
            "\"src\": \"%s\", \"lfs\": true, \"mode\": \"slow\"}]}}}\n",
            test_model("stories260K.gguf"));
    fclose(f);
    hub_pid = fork();
    if (hub_pid == 0) {
        execlp("node", "node", script, config, ports, log, (char *)NULL);
        _exit(127);
    }
    for (int i = 0; i < 100; i++) {
        FILE *p = fopen(ports, "r");
        int port = 0;
        if (p && fscanf(p, "%d", &port) == 1 && port > 0) {
            fclose(p);
            snprintf(endpoint, sizeof endpoint, "http://127.0.0.1:%d", port);
            return true;
        }
        if (p) {
            fclose(p);
        }
        struct timespec pause = { 0, 100000000 };
        nanosleep(&pause, NULL);
    }
    return false;
}

static void stop_fake_hub(void) {
    if (hub_pid > 0) {
        kill(hub_pid, SIGTERM);
        waitpid(hub_pid, NULL, 0);
    }
}

struct seen {
    int calls;
    uint64_t done, total;
    uint64_t cancel_after; /* return false once done passes this (0: never) */
    bool file_ok, monotonic;
};

static bool on_progress(const char *file, uint64_t done, uint64_t total, double rate, void *user_data) {
    struct seen *s = user_data;
    s->file_ok = s->file_ok && strcmp(file, "net-Q4_K_M.gguf") == 0 && rate >= 0.0;
    s->monotonic = s->monotonic && done >= s->done;
    s->calls++;
    s->done = done;
    s->total = total;
    return !(s->cancel_after && done > s->cancel_after);
}

static void test_progress_cancel_resume(void) {
    if (hub_pid <= 0) {
        return;
    }
    llamac_hub_params p = llamac_hub_params_default();
    p.cache_dir = cache;
    p.endpoint = endpoint;
    p.token = ""; /* none, whatever the environment holds */
    p.progress = on_progress;
    struct seen s = { .cancel_after = 200000, .file_ok = true, .monotonic = true };
    p.progress_user_data = &s;
    llamac_hub_list *list = NULL;
    CHECK_STATUS(llamac_hub_pull("me/net-GGUF", NULL, &p, &list), LLAMAC_E_CANCELLED);
    CHECK_ERROR_HAS("cancelled; run again to resume");
    CHECK(list == NULL);
    CHECK(s.file_ok && s.monotonic);
    CHECK_INT(s.total, 1185376);
    /* the partial file stays for the next pull, and nothing is in the snapshot */
    char dir[1100], path[1300];
    snprintf(dir, sizeof dir, "%s/models--me--net-GGUF", cache);
    snprintf(path, sizeof path, "%s/snapshots/" C1 "/net-Q4_K_M.gguf", dir);
    CHECK(access(path, F_OK) != 0);
    llamac_hub_list *files = NULL;
    CHECK_OK(llamac_hub_repo_files("me/net-GGUF", &p, &files));
    const llamac_hub_file *remote = llamac_hub_list_get(files, 0);
    CHECK(remote != NULL && remote->local_path == NULL);
    struct stat sb;
    if (remote) {
        snprintf(path, sizeof path, "%s/blobs/%s.incomplete", dir, remote->sha256);
        CHECK(stat(path, &sb) == 0 && sb.st_size > 200000 && sb.st_size < 1185376);
    }
    uint64_t partial = (uint64_t)sb.st_size;

    struct seen again = { .file_ok = true, .monotonic = true };
    p.progress_user_data = &again;
    CHECK_OK(llamac_hub_pull("me/net-GGUF", NULL, &p, &list));
    CHECK_INT(llamac_hub_list_count(list), 1);
    CHECK(again.file_ok && again.monotonic && again.calls > 0);
    CHECK_INT(again.done, 1185376);
    CHECK_INT(again.total, 1185376);
    CHECK(access(path, F_OK) != 0); /* the partial file became the blob */
    if (remote && llamac_hub_list_count(list) == 1) {
        CHECK_STR(llamac_hub_list_get(list, 0)->sha256, remote->sha256);
        /* the server saw the resume */
        char want[64];
        snprintf(want, sizeof want, "\"range\":\"bytes=%llu-\"", (unsigned long long)partial);
        char cmd[1200];
        snprintf(cmd, sizeof cmd, "grep -q '%s' '%s'", want, test_tmp("fake_hub.log"));
        CHECK_INT(system(cmd), 0);
    }
    llamac_hub_list_free(files);
    llamac_hub_list_free(list);
}

/* ---- llamac_http_stream ---- */

/* A listener that takes one connection, keeps what the client sent up to the end of its headers and body
 * (Content-Length), and answers with `reply` (may be NULL: it answers nothing), then `later` 100 ms after it (when
 * set), then waits `hold_ms` before closing. */
struct one_shot {
    int fd;
    uint16_t port;
    const char *reply, *later;
    int hold_ms;
    char got[4096];
    pthread_t thread;
};

static void *one_shot_run(void *arg) {
    struct one_shot *o = arg;
    int c = accept(o->fd, NULL, NULL);
    if (c < 0) {
        return NULL;
    }
    size_t n = 0;
    for (;;) {
        ssize_t k = recv(c, o->got + n, sizeof o->got - 1 - n, 0);
        if (k <= 0) {
            break;
        }
        n += (size_t)k;
        o->got[n] = '\0';
        const char *end = strstr(o->got, "\r\n\r\n");
        const char *cl = strcasestr(o->got, "\r\nContent-Length: ");
        if (end && (size_t)(o->got + n - (end + 4)) >= (cl ? strtoul(cl + 18, NULL, 10) : 0)) {
            break;
        }
    }
    if (o->reply) {
        (void)!send(c, o->reply, strlen(o->reply), MSG_NOSIGNAL);
    }
    if (o->later) {
        struct timespec pause = { 0, 100 * 1000000L };
        nanosleep(&pause, NULL);
        (void)!send(c, o->later, strlen(o->later), MSG_NOSIGNAL);
    }
    struct timespec hold = { o->hold_ms / 1000, (long)(o->hold_ms % 1000) * 1000000L };
    nanosleep(&hold, NULL);
    close(c);
    return NULL;
}

static bool one_shot_start(struct one_shot *o, const char *reply, const char *later, int hold_ms) {
    memset(o, 0, sizeof *o);
    o->reply = reply;
    o->later = later;
    o->hold_ms = hold_ms;
    o->fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t len = sizeof sa;
    if (o->fd < 0 || bind(o->fd, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(o->fd, 1) != 0 ||
        getsockname(o->fd, (struct sockaddr *)&sa, &len) != 0) {
        return false;
    }
    o->port = ntohs(sa.sin_port);
    return pthread_create(&o->thread, NULL, one_shot_run, o) == 0;
}

static void one_shot_stop(struct one_shot *o) {
    pthread_join(o->thread, NULL);
    close(o->fd);
}

static int64_t ms_now(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (int64_t)t.tv_sec * 1000 + t.tv_nsec / 1000000;
}

/* Refusals before anything is sent. */
static void test_http_stream_arguments(void) {
    llamac_http_params d = llamac_http_params_default();
    CHECK_INT(d.max_bytes, 64u << 20);
    CHECK_INT(d.timeout_ms, 30000);
    CHECK_INT(d.idle_ms, 60000);
    CHECK_INT(d.max_redirects, 5);
    llamac_http_stream *s = (llamac_http_stream *)1;
    const char *url = "http://127.0.0.1:1/";
    CHECK_STATUS(llamac_http_stream_open("GET", NULL, NULL, 0, NULL, 0, NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(s == NULL);
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, NULL, NULL), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 1, NULL, 0, NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_STATUS(llamac_http_stream_open("POST", url, NULL, 0, NULL, 3, NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
    llamac_http_params p = d;
    p.idle_ms = 0;
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &p, &s), LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("max_bytes, timeout_ms and idle_ms must be above 0");
    CHECK_STATUS(llamac_http_stream_open("GET /x HTTP/1.1\r\n", url, NULL, 0, NULL, 0, NULL, &s),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("is not an HTTP method");
    static const char *bad[] = { "NoColon", ": empty name", "Sp ace: x", "X: a\r\nInjected: 1", "X: a\nb" };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_STATUS(llamac_http_stream_open("GET", url, &bad[i], 1, NULL, 0, NULL, &s), LLAMAC_E_INVALID_ARGUMENT);
        CHECK_ERROR_HAS("header line 0 is not 'Name: value'");
    }
    CHECK_STATUS(llamac_http_stream_open("GET", "file:///etc/passwd", NULL, 0, NULL, 0, NULL, &s),
                 LLAMAC_E_INVALID_ARGUMENT);
    CHECK_ERROR_HAS("only http and https URLs are fetched (file)");
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, NULL, &s), LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("cannot reach http://127.0.0.1:1/");
    CHECK(s == NULL);
    size_t n = 1;
    bool end = true;
    char buf[8];
    CHECK_STATUS(llamac_http_stream_read(NULL, buf, sizeof buf, 0, &n, &end), LLAMAC_E_INVALID_ARGUMENT);
    CHECK(n == 0 && !end);
    CHECK_INT(llamac_http_stream_status(NULL), 0);
    CHECK(!llamac_http_stream_header(NULL, 0, NULL, NULL));
    llamac_http_stream_free(NULL);
}

/* A POST: the request as it goes out (the caller's lines, an empty value, no Content-Type of curl's own, the body),
 * and the answer: status, headers in order, the body to its end. */
static void test_http_stream_exchange(void) {
    struct one_shot o;
    CHECK(one_shot_start(
        &o, "HTTP/1.1 201 Created\r\nContent-Length: 5\r\nX-One: 1\r\nMcp-Session-Id:  s-42 \r\n\r\nhello", NULL, 0));
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%u/rpc?x=1", o.port);
    const char *lines[] = { "Accept: application/json", "X-Empty:" };
    llamac_http_stream *s = NULL;
    CHECK_OK(llamac_http_stream_open("POST", url, lines, 2, "{\"a\":1}", 7, NULL, &s));
    CHECK_INT(llamac_http_stream_status(s), 201);
    const char *name, *value;
    CHECK(llamac_http_stream_header(s, 0, &name, &value));
    CHECK_STR(name, "Content-Length");
    CHECK(llamac_http_stream_header(s, 2, &name, &value));
    CHECK_STR(name, "Mcp-Session-Id");
    CHECK_STR(value, "s-42");
    CHECK(!llamac_http_stream_header(s, 3, &name, &value));
    char buf[64];
    size_t n = 0, total = 0;
    bool end = false;
    for (int i = 0; i < 50 && !end; i++) {
        CHECK_OK(llamac_http_stream_read(s, buf + total, 2, 100, &n, &end));
        CHECK(n <= 2);
        total += n;
    }
    CHECK(end);
    CHECK_INT(total, 5);
    CHECK(memcmp(buf, "hello", 5) == 0);
    CHECK_OK(llamac_http_stream_read(s, buf, sizeof buf, 0, &n, &end)); /* at the end it stays there */
    CHECK(n == 0 && end);
    llamac_http_stream_free(s);
    one_shot_stop(&o);
    CHECK(strncmp(o.got, "POST /rpc?x=1 HTTP/1.1\r\n", 24) == 0);
    CHECK(strstr(o.got, "\r\nAccept: application/json\r\n") != NULL);
    CHECK(strstr(o.got, "\r\nX-Empty:\r\n") != NULL);
    CHECK(strcasestr(o.got, "\r\nContent-Type:") == NULL);
    CHECK(strcasestr(o.got, "\r\nExpect:") == NULL);
    CHECK(strstr(o.got, "\r\n\r\n{\"a\":1}") != NULL);
}

static int asked; /* how often stop_third asked */

static bool stop_third(void *user_data) {
    (void)user_data;
    return ++asked < 3;
}

/* The time limits: no status within timeout_ms, then no body bytes for idle_ms (a read that waits less returns
 * nothing yet), and a body over max_bytes. */
static void test_http_stream_limits(void) {
    struct one_shot o;
    char url[64];
    llamac_http_params p = llamac_http_params_default();
    p.timeout_ms = 300;
    p.idle_ms = 400;
    llamac_http_stream *s = NULL;
    CHECK(one_shot_start(&o, NULL, NULL, 1500));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", o.port);
    int64_t t0 = ms_now();
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &p, &s), LLAMAC_E_TIMEOUT);
    CHECK_ERROR_HAS("no answer within 300 ms");
    int64_t ms = ms_now() - t0;
    CHECK(ms >= 290 && ms < 1200);
    one_shot_stop(&o);

    /* keep_waiting, asked (at least every 100 ms) while no answer comes, stops the wait at its third call */
    CHECK(one_shot_start(&o, NULL, NULL, 1500));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", o.port);
    llamac_http_params q = llamac_http_params_default();
    q.keep_waiting = stop_third;
    t0 = ms_now();
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &q, &s), LLAMAC_E_CANCELLED);
    CHECK_ERROR_HAS("stopped waiting for the answer");
    ms = ms_now() - t0;
    CHECK_INT(asked, 3);
    CHECK(ms < 1200); /* not the 30 s of timeout_ms */
    one_shot_stop(&o);

    CHECK(one_shot_start(&o, "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n", NULL, 1500));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", o.port);
    CHECK_OK(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &p, &s));
    char buf[16];
    size_t n = 0;
    bool end = false;
    CHECK_OK(llamac_http_stream_read(s, buf, sizeof buf, 200, &n, &end));
    CHECK(n == 3 && !end && memcmp(buf, "abc", 3) == 0);
    CHECK_OK(llamac_http_stream_read(s, buf, sizeof buf, 100, &n, &end));
    CHECK(n == 0 && !end); /* nothing yet */
    t0 = ms_now();
    llamac_status st = LLAMAC_OK;
    for (int i = 0; i < 20 && st == LLAMAC_OK; i++) {
        st = llamac_http_stream_read(s, buf, sizeof buf, 100, &n, &end);
    }
    CHECK_INT(st, LLAMAC_E_TIMEOUT);
    CHECK_ERROR_HAS("no bytes of the answer for 400 ms");
    CHECK_STATUS(llamac_http_stream_read(s, buf, sizeof buf, 100, &n, &end), LLAMAC_E_TIMEOUT); /* sticky */
    llamac_http_stream_free(s);
    one_shot_stop(&o);

    p = llamac_http_params_default();
    p.max_bytes = 4;
    CHECK(one_shot_start(&o, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", NULL, 0));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", o.port);
    CHECK_STATUS(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &p, &s), LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("the answer is larger than 4 bytes");
    one_shot_stop(&o);
    CHECK(one_shot_start(&o, "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", "hello", 0));
    snprintf(url, sizeof url, "http://127.0.0.1:%u/", o.port);
    CHECK_OK(llamac_http_stream_open("GET", url, NULL, 0, NULL, 0, &p, &s));
    st = LLAMAC_OK;
    size_t total = 0;
    for (int i = 0; i < 20 && st == LLAMAC_OK && !end; i++) {
        st = llamac_http_stream_read(s, buf, sizeof buf, 100, &n, &end);
        total += n;
    }
    CHECK_INT(st, LLAMAC_E_NETWORK);
    CHECK_ERROR_HAS("the answer is larger than 4 bytes");
    CHECK(total <= 4);
    llamac_http_stream_free(s);
    one_shot_stop(&o);
}

int main(void) {
    unsetenv("HF_HUB_OFFLINE");
    unsetenv("HF_HUB_CACHE");
    unsetenv("HF_ENDPOINT");
    make_cache();
    RUN(test_defaults_and_arguments);
    RUN(test_network_errors);
    RUN(test_download_url_errors);
    RUN(test_offline_pull);
    RUN(test_listing_and_choices);
    RUN(test_remove);
    RUN(test_http_stream_arguments);
    RUN(test_http_stream_exchange);
    RUN(test_http_stream_limits);
    make_cache();
    if (start_fake_hub()) {
        RUN(test_progress_cancel_resume);
    }
    stop_fake_hub();
    TESTS_DONE();
}
