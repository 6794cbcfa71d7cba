/*
 * serve.c - `llamac-bench-serve`: `llamac serve` against llama-server, both measured in the same run.
 *
 * Both servers are started once on the same model with the same context, slots, threads and batch sizes (llama-server
 * with a unified KV cache, as the engine has) and stay up side by side; only one is loaded at a time, and the order
 * alternates from one measurement to the next (interleaved), so slow drifts in machine load hit both alike. For 1, 4
 * and 16 concurrent streaming clients on /v1/chat/completions (greedy, ignore_eos, fixed max_tokens, every prompt
 * unique so no prompt cache helps) it measures the aggregate generated tokens/s, time to first token p50/p99 and
 * inter-token latency p99; then the co-tenant stall: while one stream generates, a long prompt is admitted, and the
 * stream's largest gap during the admission is compared with the time of one prefill chunk. llama-batched-bench
 * gives the engine's limit (aggregate generation rate, same sequences, context and threads), measured just before
 * and just after the servers' loads at each concurrency, and each server's rate is divided by the mean of the two.
 * The compute of all three runs on CPUs of its own, everything else on the others (see "CPU placement" below).
 * Clients are libcurl, one thread each; a token is one SSE chunk carrying content, and usage
 * (stream_options.include_usage) gives the exact completion-token counts. Output: JSON on stdout and a markdown
 * table (--md).
 */
#define _GNU_SOURCE /* syscall (per-thread priority), sched_setaffinity and CPU_SET (CPU placement) */
#include "llamac.h"

#include <curl/curl.h>
#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <pthread.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#ifdef __linux__
#    include <sched.h>
#    include <sys/prctl.h>
#    include <sys/resource.h>
#    include <sys/syscall.h>
#endif
#include <sys/stat.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_CONC 8
#define MAX_CLIENTS 64
#define N_SERVERS 2

struct options {
    const char *model;
    const char *llamac;
    const char *llama_server;
    const char *batched_bench;
    const char *work_dir;
    const char *vocab_dir;
    const char *md;
    int conc[MAX_CONC];
    int n_conc;
    int slots;
    int ctx;
    int threads;
    int n_gen;
    int rounds;
    int reps;
    int n_long;
    int chunk;
    int port;
    bool place; /* compute on a CPU of its own (see placement_init) */
};

/* ---- small helpers ---- */

static void sleep_ms(long ms) {
    struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
    nanosleep(&ts, NULL);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void note(const char *fmt, ...) __attribute__((format(printf, 1, 2)));
static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fputs("bench-serve: ", stderr);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* The q-quantile (0..1) of n values, sorted in place; 0 when there are none. */
static double quantile(double *v, size_t n, double q) {
    if (n == 0) {
        return 0;
    }
    qsort(v, n, sizeof *v, cmp_double);
    size_t i = (size_t)(q * (double)(n - 1) + 0.5);
    return v[i < n ? i : n - 1];
}

struct dvec {
    double *v;
    size_t n, cap;
};

static bool dvec_push(struct dvec *d, double x) {
    if (d->n == d->cap) {
        size_t cap = d->cap ? d->cap * 2 : 256;
        double *v = realloc(d->v, cap * sizeof *v);
        if (!v) {
            return false;
        }
        d->v = v;
        d->cap = cap;
    }
    d->v[d->n++] = x;
    return true;
}

/* ---- one HTTP request, streamed or not ---- */

struct request {
    int port;
    char *body;
    bool stream;
    double t_send, t_first, t_end;
    struct dvec tok; /* arrival time of every SSE chunk with content */
    long completion_tokens, prompt_tokens;
    bool ok;
    char err[256];
    char *buf; /* unparsed bytes */
    size_t len, cap;
    volatile int n_seen;     /* content chunks so far (read by another thread to time the co-tenant) */
    volatile int stop_after; /* > 0: disconnect once this many content chunks have come (set by another thread) */
    bool stopped;            /* it was disconnected so */
};

static void request_event(struct request *r, const char *data, size_t n) {
    if (n == 6 && memcmp(data, "[DONE]", 6) == 0) {
        return;
    }
    json_error_t je;
    json_t *j = json_loadb(data, n, 0, &je);
    if (!j) {
        snprintf(r->err, sizeof r->err, "unparseable event: %.80s", data);
        return;
    }
    json_t *e = json_object_get(j, "error");
    if (e) {
        const char *m = json_string_value(json_object_get(e, "message"));
        snprintf(r->err, sizeof r->err, "error event: %.200s", m ? m : "?");
    }
    json_t *ch = json_array_get(json_object_get(j, "choices"), 0);
    json_t *msg = json_object_get(ch, r->stream ? "delta" : "message");
    const char *content = json_string_value(json_object_get(msg, "content"));
    if (r->stream && content && *content) {
        double t = now_ms();
        if (r->tok.n == 0) {
            r->t_first = t;
        }
        dvec_push(&r->tok, t);
        r->n_seen++;
    }
    json_t *u = json_object_get(j, "usage");
    if (json_is_object(u)) {
        r->completion_tokens = (long)json_integer_value(json_object_get(u, "completion_tokens"));
        r->prompt_tokens = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
    }
    json_decref(j);
}

static size_t on_data(char *p, size_t size, size_t nmemb, void *ud) {
    struct request *r = ud;
    size_t n = size * nmemb;
    if (r->stop_after > 0 && r->n_seen >= r->stop_after) {
        r->stopped = true;
        return 0; /* the client hangs up: both servers free the slot */
    }
    if (r->len + n + 1 > r->cap) {
        size_t cap = (r->len + n + 1) * 2;
        char *b = realloc(r->buf, cap);
        if (!b) {
            return 0;
        }
        r->buf = b;
        r->cap = cap;
    }
    memcpy(r->buf + r->len, p, n);
    r->len += n;
    r->buf[r->len] = '\0';
    if (!r->stream) {
        return n;
    }
    size_t start = 0;
    for (;;) {
        char *nl = memchr(r->buf + start, '\n', r->len - start);
        if (!nl) {
            break;
        }
        size_t line_end = (size_t)(nl - r->buf);
        const char *line = r->buf + start;
        size_t ll = line_end - start;
        if (ll && line[ll - 1] == '\r') {
            ll--;
        }
        if (ll > 6 && memcmp(line, "data: ", 6) == 0) {
            request_event(r, line + 6, ll - 6);
        } else if (ll > 5 && memcmp(line, "data:", 5) == 0) {
            request_event(r, line + 5, ll - 5);
        }
        start = line_end + 1;
    }
    memmove(r->buf, r->buf + start, r->len - start);
    r->len -= start;
    return n;
}

/* Runs the request to its end; r->ok says whether it gave a 200 with content (streamed) or usage. */
static void request_run(struct request *r) {
    char url[96];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/v1/chat/completions", r->port);
    CURL *h = curl_easy_init();
    struct curl_slist *hd = curl_slist_append(NULL, "Content-Type: application/json");
    if (!h || !hd) {
        snprintf(r->err, sizeof r->err, "curl init failed");
        goto done;
    }
    curl_easy_setopt(h, CURLOPT_URL, url);
    curl_easy_setopt(h, CURLOPT_HTTPHEADER, hd);
    curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
    curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_data);
    curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
    curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(h, CURLOPT_TIMEOUT, 900L);
    curl_easy_setopt(h, CURLOPT_TCP_NODELAY, 1L);
    r->t_send = now_ms();
    CURLcode rc = curl_easy_perform(h);
    r->t_end = now_ms();
    long status = 0;
    curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
    if (rc != CURLE_OK && !(rc == CURLE_WRITE_ERROR && r->stopped)) {
        snprintf(r->err, sizeof r->err, "%s", curl_easy_strerror(rc));
    } else if (status != 200) {
        snprintf(r->err, sizeof r->err, "HTTP %ld: %.200s", status, r->buf ? r->buf : "");
    } else if (!r->stream) {
        request_event(r, r->buf ? r->buf : "", r->len);
    }
    if (!r->err[0]) {
        r->ok = r->stream ? r->tok.n > 0 : r->prompt_tokens > 0;
        if (!r->ok) {
            snprintf(r->err, sizeof r->err, "no content in the response");
        }
        if (r->stream && r->completion_tokens <= 0) {
            r->completion_tokens = (long)r->tok.n; /* no usage chunk: one content chunk per token */
        }
    }
done:
    curl_slist_free_all(hd);
    curl_easy_cleanup(h);
}

static void request_clear(struct request *r) {
    free(r->body);
    free(r->tok.v);
    free(r->buf);
    memset(r, 0, sizeof *r);
}

/* A chat request body: a user message that starts with a tag unique to the request (so no prompt cache helps),
 * greedy, fixed length. */
static char *make_body(const char *tag, const char *text, int max_tokens, bool stream) {
    char *content = malloc(strlen(tag) + strlen(text) + 4);
    if (!content) {
        return NULL;
    }
    sprintf(content, "%s: %s", tag, text);
    json_t *j = json_pack("{s:s, s:[{s:s, s:s}], s:b, s:i, s:f, s:i, s:b, s:i, s:b}", "model", "bench", "messages",
                          "role", "user", "content", content, "stream", stream, "max_tokens", max_tokens, "temperature",
                          0.0, "top_k", 1, "ignore_eos", 1, "seed", 1, "cache_prompt", 1);
    free(content);
    if (!j) {
        return NULL;
    }
    if (stream) {
        json_object_set_new(j, "stream_options", json_pack("{s:b}", "include_usage", 1));
    }
    char *s = json_dumps(j, JSON_COMPACT);
    json_decref(j);
    return s;
}

/* ---- server processes ---- */

struct server {
    const char *name;
    pid_t pid;
    int port;
    char log[1024];
};

static bool server_start(struct server *s, const char **argv) {
    s->pid = fork();
    if (s->pid < 0) {
        note("fork: %s", strerror(errno));
        return false;
    }
    if (s->pid == 0) {
#ifdef __linux__
        prctl(PR_SET_PDEATHSIG, SIGTERM); /* a killed benchmark leaves no server behind */
#endif
        FILE *f = fopen(s->log, "w");
        if (f) {
            dup2(fileno(f), 1);
            dup2(fileno(f), 2);
        }
        char *const *av;
        memcpy(&av, &argv, sizeof av); /* execv's argv is not const-qualified for historical reasons */
        execv(argv[0], av);
        fprintf(stderr, "exec %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    return true;
}

static size_t discard(char *p, size_t size, size_t nmemb, void *ud) {
    (void)p;
    (void)ud;
    return size * nmemb;
}

/* Polls GET /health until it answers 200; false when the process exits or the time runs out. */
static bool server_wait(struct server *s, double timeout_ms) {
    char url[64];
    snprintf(url, sizeof url, "http://127.0.0.1:%d/health", s->port);
    double t0 = now_ms();
    while (now_ms() - t0 < timeout_ms) {
        int st;
        if (waitpid(s->pid, &st, WNOHANG) == s->pid) {
            note("%s exited while starting (status %d); see %s", s->name, st, s->log);
            s->pid = 0;
            return false;
        }
        CURL *h = curl_easy_init();
        if (!h) {
            return false;
        }
        curl_easy_setopt(h, CURLOPT_URL, url);
        curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, discard);
        curl_easy_setopt(h, CURLOPT_TIMEOUT, 5L);
        curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
        long status = 0;
        if (curl_easy_perform(h) == CURLE_OK) {
            curl_easy_getinfo(h, CURLINFO_RESPONSE_CODE, &status);
        }
        curl_easy_cleanup(h);
        if (status == 200) {
            return true;
        }
        sleep_ms(250);
    }
    note("%s: /health not ready after %.0f s; see %s", s->name, timeout_ms / 1e3, s->log);
    return false;
}

static void server_stop(struct server *s) {
    if (s->pid <= 0) {
        return;
    }
    kill(s->pid, SIGTERM);
    for (int i = 0; i < 100; i++) {
        if (waitpid(s->pid, NULL, WNOHANG) == s->pid) {
            s->pid = 0;
            return;
        }
        sleep_ms(100);
    }
    kill(s->pid, SIGKILL);
    waitpid(s->pid, NULL, 0);
    s->pid = 0;
}

/* ---- measurements ---- */

struct load_result {
    double agg_tps;    /* all completion tokens / wall time from the first request to the last response */
    double steady_tps; /* content chunks per second while every client had a stream generating */
    double ttft_p50, ttft_p99, itl_p50, itl_p99;
    long tokens;
    long prompt_tokens; /* the most any of its requests had */
    int failed;
};

struct stall_result {
    double base_itl_p50; /* the running stream's inter-token gap before the long prompt came */
    double max_gap;      /* its largest gap while the long prompt was admitted */
    double p99_gap;      /* p99 of its gaps during the admission */
    double admit_ms;     /* from sending the long prompt to its response (prefill + one token) */
    double chunk_ms;     /* admit_ms * chunk / prompt tokens: the prefill time of one chunk's worth of tokens */
    long long_tokens;
    bool ok;
};

struct client {
    const struct options *o;
    int port;
    int id;
    struct request *reqs; /* o->rounds of them */
    const char *text;
};

static int g_tag; /* unique tags for prompts across the whole run */
static pthread_mutex_t g_tag_mu = PTHREAD_MUTEX_INITIALIZER;

static int next_tag(void) {
    pthread_mutex_lock(&g_tag_mu);
    int t = ++g_tag;
    pthread_mutex_unlock(&g_tag_mu);
    return t;
}

/* The load generator is measuring apparatus: its threads run at the lowest priority, so that on a machine with few
 * cores they take CPU time the servers (and llama-batched-bench, which has no client) do not need. */
static void client_thread_nice(void) {
#ifdef __linux__
    setpriority(PRIO_PROCESS, (id_t)syscall(SYS_gettid), 19); /* per thread on Linux; best effort */
#endif
}

static void *client_main(void *arg) {
    struct client *c = arg;
    client_thread_nice();
    for (int i = 0; i < c->o->rounds; i++) {
        struct request *r = &c->reqs[i];
        char tag[32];
        snprintf(tag, sizeof tag, "request %d", next_tag());
        r->port = c->port;
        r->stream = true;
        r->body = make_body(tag, c->text, c->o->n_gen, true);
        if (!r->body) {
            snprintf(r->err, sizeof r->err, "out of memory");
            continue;
        }
        request_run(r);
    }
    return NULL;
}

static const char *short_text = "Tell me a long story about a robot who learns to paint, with many details.";

static bool run_load(const struct options *o, int port, int n_clients, struct load_result *out) {
    memset(out, 0, sizeof *out);
    struct client cl[MAX_CLIENTS];
    pthread_t th[MAX_CLIENTS];
    int started = 0, n_alloc = 0;
    for (int i = 0; i < n_clients; i++) {
        cl[i] = (struct client){ .o = o, .port = port, .id = i, .text = short_text };
        cl[i].reqs = calloc((size_t)o->rounds, sizeof *cl[i].reqs);
        if (!cl[i].reqs) {
            break;
        }
        n_alloc++;
    }
    started = n_alloc;
    for (int i = 0; i < started; i++) {
        if (pthread_create(&th[i], NULL, client_main, &cl[i]) != 0) {
            started = i;
            break;
        }
    }
    for (int i = 0; i < started; i++) {
        pthread_join(th[i], NULL);
    }
    struct dvec ttft = { 0 }, itl = { 0 };
    double t0 = 1e300, t1 = 0, w0 = 0, w1 = 1e300;
    for (int i = 0; i < started; i++) {
        double c_first = 0, c_last = 0;
        for (int k = 0; k < o->rounds; k++) {
            struct request *r = &cl[i].reqs[k];
            if (!r->ok) {
                out->failed++;
                note("request failed: %s", r->err);
                continue;
            }
            t0 = r->t_send < t0 ? r->t_send : t0;
            t1 = r->t_end > t1 ? r->t_end : t1;
            out->tokens += r->completion_tokens;
            out->prompt_tokens = r->prompt_tokens > out->prompt_tokens ? r->prompt_tokens : out->prompt_tokens;
            dvec_push(&ttft, r->t_first - r->t_send);
            for (size_t t = 1; t < r->tok.n; t++) {
                dvec_push(&itl, r->tok.v[t] - r->tok.v[t - 1]);
            }
            if (k == 0) {
                c_first = r->tok.v[0];
            }
            c_last = r->tok.v[r->tok.n - 1];
        }
        w0 = c_first > w0 ? c_first : w0;
        w1 = c_last < w1 ? c_last : w1;
    }
    long in_window = 0;
    for (int i = 0; i < started; i++) {
        for (int k = 0; k < o->rounds; k++) {
            struct request *r = &cl[i].reqs[k];
            for (size_t t = 0; r->ok && t < r->tok.n; t++) {
                in_window += r->tok.v[t] > w0 && r->tok.v[t] <= w1;
            }
        }
    }
    out->agg_tps = t1 > t0 ? (double)out->tokens / ((t1 - t0) / 1e3) : 0;
    out->steady_tps = w1 > w0 && in_window > 0 ? (double)in_window / ((w1 - w0) / 1e3) : out->agg_tps;
    out->ttft_p50 = quantile(ttft.v, ttft.n, 0.5);
    out->ttft_p99 = quantile(ttft.v, ttft.n, 0.99);
    out->itl_p50 = quantile(itl.v, itl.n, 0.5);
    out->itl_p99 = quantile(itl.v, itl.n, 0.99);
    free(ttft.v);
    free(itl.v);
    for (int i = 0; i < n_alloc; i++) {
        for (int k = 0; k < o->rounds; k++) {
            request_clear(&cl[i].reqs[k]);
        }
        free(cl[i].reqs);
    }
    return started == n_clients && out->failed == 0;
}

static void *request_thread(void *arg) {
    client_thread_nice();
    request_run(arg);
    return NULL;
}

/* A long user message of about n tokens (common words are one token each with the leading space). */
static char *long_text(int n) {
    static const char *words[] = { "the", "cat", "sat",  "on",  "a",  "mat",   "and", "then",  "it",   "went",
                                   "to",  "see", "what", "was", "in", "house", "by",  "river", "with", "old" };
    size_t cap = (size_t)n * 8 + 1;
    char *s = malloc(cap);
    if (!s) {
        return NULL;
    }
    size_t len = 0;
    uint32_t x = 12345;
    for (int i = 0; i < n; i++) {
        x = x * 1103515245u + 12345u;
        len += (size_t)snprintf(s + len, cap - len, "%s%s", i ? " " : "", words[(x >> 16) % 20]);
    }
    return s;
}

static bool run_stall(const struct options *o, int port, const char *ltext, struct stall_result *out) {
    memset(out, 0, sizeof *out);
    struct request a = { 0 }, b = { 0 };
    char tag[32];
    snprintf(tag, sizeof tag, "request %d", next_tag());
    a.port = port;
    a.stream = true;
    int a_tokens = 1024; /* it is cut short once the long prompt is in */
    a.body = make_body(tag, short_text, a_tokens, true);
    snprintf(tag, sizeof tag, "document %d", next_tag());
    b.port = port;
    b.stream = false;
    b.body = make_body(tag, ltext, 1, false);
    pthread_t ta, tb;
    bool ok = false, b_started = false;
    if (!a.body || !b.body || pthread_create(&ta, NULL, request_thread, &a) != 0) {
        goto done;
    }
    /* Let the running stream settle into steady generation first. */
    double t0 = now_ms();
    while (a.n_seen < 16 && now_ms() - t0 < 600e3 && !a.t_end) {
        sleep_ms(1);
    }
    b_started = a.n_seen >= 16 && pthread_create(&tb, NULL, request_thread, &b) == 0;
    if (b_started) {
        pthread_join(tb, NULL);
    }
    a.stop_after = a.n_seen + 16;
    pthread_join(ta, NULL);
    if (!a.ok || !b_started || !b.ok) {
        note("co-tenant run failed: %s / %s", a.err, b_started ? b.err : "the stream did not start");
        goto done;
    }
    if (a.tok.v[a.tok.n - 1] < b.t_end) {
        note("co-tenant run: the stream ended before the long prompt was admitted (raise -n)");
        goto done;
    }
    struct dvec before = { 0 }, during = { 0 };
    for (size_t t = 1; t < a.tok.n; t++) {
        double g0 = a.tok.v[t - 1], g1 = a.tok.v[t], g = g1 - g0;
        if (g1 <= b.t_send) {
            dvec_push(&before, g);
        } else if (g0 < b.t_end) {
            dvec_push(&during, g);
            out->max_gap = g > out->max_gap ? g : out->max_gap;
        }
    }
    out->base_itl_p50 = quantile(before.v, before.n, 0.5);
    out->p99_gap = quantile(during.v, during.n, 0.99);
    out->admit_ms = b.t_end - b.t_send;
    out->long_tokens = b.prompt_tokens;
    out->chunk_ms = b.prompt_tokens > 0 ? out->admit_ms * o->chunk / (double)b.prompt_tokens : 0;
    free(before.v);
    free(during.v);
    out->ok = ok = true;
done:
    request_clear(&a);
    request_clear(&b);
    return ok;
}

/* ---- CPU placement ----
 *
 * The vCPUs of a virtual machine need not be equally fast: on the 2-vCPU VM this was written on, one of them ran
 * llama-batched-bench at half the speed of the other for minutes at a time, and which one the scheduler gave to a
 * compute thread decided the outcome more than anything measured. So, with -t 1, the compute of all three —
 * llama-batched-bench, llama-server's main loop (its main thread), llamac serve's engine thread (named
 * "llamac-engine") — runs on one CPU, and everything else (connection threads, the waker, this load generator) on
 * the others. */

#ifdef __linux__
static cpu_set_t g_compute_cpus, g_other_cpus;

/* Sets up the two CPU sets, the last CPU this process may use for compute and the rest for everything else, and
 * moves the calling thread (and so the clients it starts and the servers it forks) to the rest. False, and nothing
 * changed, on a machine with one CPU. Only for -t 1: with more threads, llama.cpp's OpenMP workers compute too, and
 * nothing tells them from a server's other threads. */
static bool placement_init(void) {
    cpu_set_t all;
    if (sched_getaffinity(0, sizeof all, &all) != 0 || CPU_COUNT(&all) < 2) {
        return false;
    }
    CPU_ZERO(&g_compute_cpus);
    g_other_cpus = all;
    for (size_t cpu = CPU_SETSIZE; cpu-- > 0;) {
        if (CPU_ISSET(cpu, &all)) {
            CPU_SET(cpu, &g_compute_cpus);
            CPU_CLR(cpu, &g_other_cpus);
            break;
        }
    }
    return sched_setaffinity(0, sizeof g_other_cpus, &g_other_cpus) == 0;
}

/* Places every thread of server `pid`: the one that computes on the compute CPU, the rest on the others. The
 * compute thread is the one named `compute_comm`, or with no name given the main thread. Done before every
 * measurement, so that threads started since then are placed too. False if no compute thread was found. */
static bool place_server(pid_t pid, const char *compute_comm) {
    char dir[64];
    snprintf(dir, sizeof dir, "/proc/%d/task", (int)pid);
    DIR *d = opendir(dir);
    if (!d) {
        return false;
    }
    int found = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        char *end;
        long tid = strtol(de->d_name, &end, 10);
        if (*end || tid <= 0) {
            continue;
        }
        bool compute = tid == (long)pid;
        if (compute_comm) {
            char path[128], comm[64] = "";
            snprintf(path, sizeof path, "%s/%ld/comm", dir, tid);
            FILE *f = fopen(path, "r");
            if (f) {
                if (fgets(comm, sizeof comm, f)) {
                    comm[strcspn(comm, "\n")] = '\0';
                }
                fclose(f);
            }
            compute = strcmp(comm, compute_comm) == 0;
        }
        found += compute;
        const cpu_set_t *set = compute ? &g_compute_cpus : &g_other_cpus;
        sched_setaffinity((pid_t)tid, sizeof *set, set); /* a thread that ended meanwhile: nothing to place */
    }
    closedir(d);
    return found == 1;
}

/* Undoes the placement: every thread may run anywhere again (place_server then spreads a server's threads). */
static void placement_off(void) {
    cpu_set_t all;
    CPU_ZERO(&all);
    for (size_t cpu = 0; cpu < CPU_SETSIZE; cpu++) {
        if (CPU_ISSET(cpu, &g_compute_cpus) || CPU_ISSET(cpu, &g_other_cpus)) {
            CPU_SET(cpu, &all);
        }
    }
    g_compute_cpus = g_other_cpus = all;
    sched_setaffinity(0, sizeof all, &all);
}

/* Runs `cmd` through popen on the compute CPU: the child inherits the calling thread's CPUs. */
static FILE *popen_on_compute_cpu(const char *cmd) {
    sched_setaffinity(0, sizeof g_compute_cpus, &g_compute_cpus);
    FILE *p = popen(cmd, "r");
    sched_setaffinity(0, sizeof g_other_cpus, &g_other_cpus);
    return p;
}
#else
static bool placement_init(void) {
    return false;
}

static bool place_server(pid_t pid, const char *compute_comm) {
    (void)pid;
    (void)compute_comm;
    return false;
}

static void placement_off(void) {
}

static FILE *popen_on_compute_cpu(const char *cmd) {
    return popen(cmd, "r");
}
#endif

/* The compute thread of each server: llamac serve's engine thread by name, llama-server's main thread. */
static const char *const compute_comm[N_SERVERS] = { "llamac-engine", NULL };

/* Places both servers' threads (see place_server); if a compute thread cannot be found, turns placement off for
 * the rest of the run, so that no server computes on fewer CPUs than the other. */
static void place_servers(struct options *o, const struct server *srv) {
    if (!o->place) {
        return;
    }
    for (int s = 0; s < N_SERVERS; s++) {
        if (!place_server(srv[s].pid, compute_comm[s])) {
            note("%s: no compute thread found; CPU placement off", srv[s].name);
            o->place = false;
            placement_off();
            for (int t = 0; t < N_SERVERS; t++) {
                place_server(srv[t].pid, compute_comm[t]);
            }
            return;
        }
    }
}

/* ---- llama-batched-bench: the limit ---- */

/* Runs llama-batched-bench for n_seq sequences with npp-token prompts (as long as the servers' prompts, so that its
 * sequences attend over as many cells); returns its generation rate (speed_tg), 0 if it failed. */
static double run_batched_bench(const struct options *o, long npp, int n_seq) {
    char cmd[4096];
    snprintf(cmd, sizeof cmd,
             "'%s' -m '%s' -c %d -b 2048 -ub 512 -t %d -kvu -npp %ld -ntg %d -npl %d --output-format jsonl "
             "2>/dev/null",
             o->batched_bench, o->model, o->ctx, o->threads, npp, o->n_gen, n_seq);
    note("limit: %s", cmd);
    FILE *p = o->place ? popen_on_compute_cpu(cmd) : popen(cmd, "r");
    if (!p) {
        return 0;
    }
    char line[4096];
    double speed = 0;
    while (fgets(line, sizeof line, p)) {
        json_t *j = json_loads(line, 0, NULL);
        if (j && json_integer_value(json_object_get(j, "pl")) == n_seq) {
            speed = json_number_value(json_object_get(j, "speed_tg"));
        }
        json_decref(j);
    }
    int st = pclose(p);
    if (st != 0 || speed <= 0) {
        note("llama-batched-bench failed (status %d)", st);
        return 0;
    }
    return speed;
}

/* ---- the run ---- */

static bool file_exists(const char *p) {
    struct stat st;
    return stat(p, &st) == 0;
}

/* Synthesizes the benchmark model (cached): a qwen2 with the real Qwen2 vocabulary and chat template, 4 layers of
 * width 128, untied output so greedy text varies (its 152k-row output matrix is most of the work per token). */
static bool synth_model(const struct options *o, char *path, size_t cap) {
    snprintf(path, cap, "%s/bench-models", o->work_dir);
    mkdir(path, 0755);
    snprintf(path, cap, "%s/bench-models/serve-qwen2-4x128-f16.gguf", o->work_dir);
    if (file_exists(path)) {
        return true;
    }
    char vocab[1024];
    snprintf(vocab, sizeof vocab, "%s/ggml-vocab-qwen2.gguf", o->vocab_dir);
    llamac_synth_params sp = llamac_synth_params_default();
    sp.arch = "qwen2";
    sp.vocab_from = vocab;
    sp.name = "serve bench qwen2 4x128";
    sp.n_layer = 4;
    sp.n_embd = 128;
    sp.n_head = 2;
    sp.n_head_kv = 1;
    sp.n_ff = 512;
    sp.n_ctx_train = 4096;
    sp.untied_output = true;
    sp.type = LLAMAC_SYNTH_F16;
    note("synthesizing %s", path);
    if (llamac_synth_write(path, &sp) != LLAMAC_OK) {
        note("cannot synthesize the model: %s", llamac_last_error());
        return false;
    }
    return true;
}

static void usage(void) {
    printf("usage: llamac-bench-serve [options]\n\n"
           "`llamac serve` against llama-server on the same model, interleaved in one run: aggregate tokens/s,\n"
           "TTFT p50/p99, inter-token latency p99 for concurrent streaming clients, the co-tenant stall while a\n"
           "long prompt is admitted, and llama-batched-bench's generation rate (the limit). JSON on stdout.\n\n"
           "  -m MODEL              model (default: a 4-layer qwen2 synthesized into WORK/bench-models)\n"
           "  --llamac PATH         the llamac command (default: this build's)\n"
           "  --llama-server PATH   llama-server (default: BUILD/reference/bin/llama-server)\n"
           "  --batched-bench PATH  llama-batched-bench (default: beside llama-server)\n"
           "  --clients LIST        concurrent clients (default 1,4,16)\n"
           "  -np N                 slots of both servers (default: the largest client count)\n"
           "  -c N                  total context of both servers (default: slots x 2048)\n"
           "  -t N                  threads (default 2)\n"
           "  -n N                  tokens per request (default 64)\n"
           "  --rounds N            requests per client, one after another (default 1)\n"
           "  --reps N              repetitions of the whole interleaved set; medians reported (default 1)\n"
           "  --long N              words in the co-tenant's long prompt (about N tokens; default 1500)\n"
           "  --chunk N             prefill chunk of llamac serve (--prefill-chunk; default 512)\n"
           "  --port N              first port (default 18480; uses N and N+1)\n"
           "  --place on|off        with -t 1, compute (llama-batched-bench, llama-server's main loop, llamac\n"
           "                        serve's engine) on the last CPU, everything else on the others (default on)\n"
           "  --work-dir DIR        synthesized models and server logs (default: the build dir)\n"
           "  --md FILE             also write the markdown table there\n");
}

static bool parse_list(const char *s, struct options *o) {
    o->n_conc = 0;
    for (const char *p = s; *p;) {
        char *end;
        long v = strtol(p, &end, 10);
        if (end == p || v < 1 || v > MAX_CLIENTS || o->n_conc == MAX_CONC) {
            return false;
        }
        o->conc[o->n_conc++] = (int)v;
        p = *end == ',' ? end + 1 : end;
        if (*end && *end != ',') {
            return false;
        }
    }
    return o->n_conc > 0;
}

static bool parse_args(int argc, char **argv, struct options *o) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            exit(0);
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "llamac-bench-serve: %s: unknown option or missing value\n", a);
            return false;
        }
        const char *v = argv[++i];
        int *num = NULL;
        if (strcmp(a, "-m") == 0) {
            o->model = v;
        } else if (strcmp(a, "--llamac") == 0) {
            o->llamac = v;
        } else if (strcmp(a, "--llama-server") == 0) {
            o->llama_server = v;
        } else if (strcmp(a, "--batched-bench") == 0) {
            o->batched_bench = v;
        } else if (strcmp(a, "--work-dir") == 0) {
            o->work_dir = v;
        } else if (strcmp(a, "--md") == 0) {
            o->md = v;
        } else if (strcmp(a, "--clients") == 0) {
            if (!parse_list(v, o)) {
                fprintf(stderr, "llamac-bench-serve: --clients: expected a list like 1,4,16 (each 1..%d)\n",
                        MAX_CLIENTS);
                return false;
            }
        } else if (strcmp(a, "-np") == 0) {
            num = &o->slots;
        } else if (strcmp(a, "-c") == 0) {
            num = &o->ctx;
        } else if (strcmp(a, "-t") == 0) {
            num = &o->threads;
        } else if (strcmp(a, "-n") == 0) {
            num = &o->n_gen;
        } else if (strcmp(a, "--rounds") == 0) {
            num = &o->rounds;
        } else if (strcmp(a, "--reps") == 0) {
            num = &o->reps;
        } else if (strcmp(a, "--long") == 0) {
            num = &o->n_long;
        } else if (strcmp(a, "--chunk") == 0) {
            num = &o->chunk;
        } else if (strcmp(a, "--port") == 0) {
            num = &o->port;
        } else if (strcmp(a, "--place") == 0 && (strcmp(v, "on") == 0 || strcmp(v, "off") == 0)) {
            o->place = strcmp(v, "on") == 0;
        } else {
            fprintf(stderr, "llamac-bench-serve: unknown option %s (see --help)\n", a);
            return false;
        }
        if (num) {
            char *end;
            long n = strtol(v, &end, 10);
            if (*end || n < 1 || n > 1000000) {
                fprintf(stderr, "llamac-bench-serve: %s: expected a positive number, got '%s'\n", a, v);
                return false;
            }
            *num = (int)n;
        }
    }
    return true;
}

/* The median of the repetitions: with an even count, the mean of the two middle values (the nearest-rank quantile
 * above would take the upper one, which biased every 16-repetition figure upwards). */
static double median_of(double *v, int n) {
    if (n <= 0) {
        return 0;
    }
    qsort(v, (size_t)n, sizeof *v, cmp_double);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

#define REPS_MAX 16

struct results {
    struct load_result load[N_SERVERS][MAX_CONC][REPS_MAX];
    struct stall_result stall[N_SERVERS][REPS_MAX];
    double limit_at[MAX_CONC][REPS_MAX]; /* the limit of each repetition, 0 where it did not run */
    double limit[MAX_CONC];              /* the median of those that ran */
    bool have_limit;
};

/* The median over the repetitions of one field of the load results. */
static double load_med(const struct results *R, int s, int c, int reps, size_t off) {
    double v[REPS_MAX];
    for (int r = 0; r < reps; r++) {
        v[r] = *(const double *)((const char *)&R->load[s][c][r] + off);
    }
    return median_of(v, reps);
}

static double stall_med(const struct results *R, int s, int reps, size_t off) {
    double v[REPS_MAX];
    int n = 0;
    for (int r = 0; r < reps; r++) {
        if (R->stall[s][r].ok) {
            v[n++] = *(const double *)((const char *)&R->stall[s][r] + off);
        }
    }
    return median_of(v, n);
}

/* Ratios paired within each repetition (all streaming): llamac serve against the limit and against llama-server,
 * whose medians are steadier than ratios of medians when the machine's speed drifts between repetitions. */
struct paired {
    double vs_limit, vs_server;
    int n_limit, ahead, n;
};

static struct paired paired_of(const struct results *R, int c, int reps) {
    double lim[REPS_MAX], srv[REPS_MAX];
    struct paired p = { 0 };
    for (int r = 0; r < reps; r++) {
        double mine = R->load[0][c][r].steady_tps, theirs = R->load[1][c][r].steady_tps;
        if (R->limit_at[c][r] > 0) {
            lim[p.n_limit++] = mine / R->limit_at[c][r];
        }
        if (theirs > 0) {
            srv[p.n++] = mine / theirs;
            p.ahead += mine > theirs;
        }
    }
    p.vs_limit = p.n_limit ? median_of(lim, p.n_limit) : 0;
    p.vs_server = p.n ? median_of(srv, p.n) : 0;
    return p;
}

#define LOAD(s, c, f) load_med(R, s, c, o->reps, offsetof(struct load_result, f))
#define STALL(s, f) stall_med(R, s, o->reps, offsetof(struct stall_result, f))

static void report(const struct options *o, const struct results *R, const char *names[N_SERVERS], FILE *md) {
    json_t *root = json_object();
    json_t *cfg = json_pack("{s:s, s:i, s:i, s:i, s:i, s:i, s:i, s:i, s:i}", "model", o->model, "slots", o->slots,
                            "ctx", o->ctx, "threads", o->threads, "n_gen", o->n_gen, "rounds", o->rounds, "reps",
                            o->reps, "long_words", o->n_long, "chunk", o->chunk);
    json_object_set_new(root, "config", cfg);
    json_t *loads = json_array();
    for (int c = 0; c < o->n_conc; c++) {
        for (int s = 0; s < N_SERVERS; s++) {
            json_array_append_new(loads, json_pack("{s:s, s:i, s:f, s:f, s:f, s:f, s:f, s:f}", "server", names[s],
                                                   "clients", o->conc[c], "agg_tps", LOAD(s, c, agg_tps), "steady_tps",
                                                   LOAD(s, c, steady_tps), "ttft_p50_ms", LOAD(s, c, ttft_p50),
                                                   "ttft_p99_ms", LOAD(s, c, ttft_p99), "itl_p50_ms",
                                                   LOAD(s, c, itl_p50), "itl_p99_ms", LOAD(s, c, itl_p99)));
        }
        if (R->have_limit) {
            json_array_append_new(loads, json_pack("{s:s, s:i, s:f}", "server", "llama-batched-bench", "clients",
                                                   o->conc[c], "speed_tg", R->limit[c]));
        }
    }
    json_object_set_new(root, "load", loads);
    json_t *pairs = json_array();
    for (int c = 0; c < o->n_conc; c++) {
        struct paired p = paired_of(R, c, o->reps);
        json_array_append_new(pairs,
                              json_pack("{s:i, s:f, s:f, s:i, s:i}", "clients", o->conc[c], "vs_limit", p.vs_limit,
                                        "vs_llama_server", p.vs_server, "ahead", p.ahead, "reps", p.n));
    }
    json_object_set_new(root, "paired", pairs);
    json_t *stalls = json_array();
    for (int s = 0; s < N_SERVERS; s++) {
        json_array_append_new(stalls,
                              json_pack("{s:s, s:f, s:f, s:f, s:f, s:f, s:I}", "server", names[s], "base_itl_p50_ms",
                                        STALL(s, base_itl_p50), "max_gap_ms", STALL(s, max_gap), "p99_gap_ms",
                                        STALL(s, p99_gap), "admit_ms", STALL(s, admit_ms), "chunk_ms",
                                        STALL(s, chunk_ms), "long_tokens", (json_int_t)R->stall[s][0].long_tokens));
    }
    json_object_set_new(root, "cotenant", stalls);
    json_dumpf(root, stdout, JSON_INDENT(2));
    fputc('\n', stdout);
    json_decref(root);
    if (!md) {
        return;
    }
    fprintf(md, "| clients | server | tokens/s, wall | tokens/s, all streaming | vs llama-server, wall / streaming | "
                "vs limit, streaming | TTFT p50 / p99, ms | ITL p50 / p99, ms |\n"
                "|--:|---|--:|--:|--:|--:|--:|--:|\n");
    for (int c = 0; c < o->n_conc; c++) {
        for (int s = 0; s < N_SERVERS; s++) {
            char vs[32] = "", lim[32] = "";
            if (s == 0) {
                snprintf(vs, sizeof vs, "%.2fx / %.2fx", LOAD(0, c, agg_tps) / LOAD(1, c, agg_tps),
                         LOAD(0, c, steady_tps) / LOAD(1, c, steady_tps));
            }
            if (R->have_limit && R->limit[c] > 0) {
                snprintf(lim, sizeof lim, "%.2fx", LOAD(s, c, steady_tps) / R->limit[c]);
            }
            fprintf(md, "| %d | %s | %.1f | %.1f | %s | %s | %.0f / %.0f | %.1f / %.1f |\n", o->conc[c], names[s],
                    LOAD(s, c, agg_tps), LOAD(s, c, steady_tps), vs, lim, LOAD(s, c, ttft_p50), LOAD(s, c, ttft_p99),
                    LOAD(s, c, itl_p50), LOAD(s, c, itl_p99));
        }
        if (R->have_limit) {
            fprintf(md, "| %d | llama-batched-bench (limit) | | %.1f | | 1.00x | | |\n", o->conc[c], R->limit[c]);
        }
    }
    fprintf(md, "\nRatios paired within each repetition (all streaming), medians:\n\n"
                "| clients | llamac serve vs limit | llamac serve vs llama-server | repetitions llamac serve ahead |\n"
                "|--:|--:|--:|--:|\n");
    for (int c = 0; c < o->n_conc; c++) {
        struct paired p = paired_of(R, c, o->reps);
        fprintf(md, "| %d | %.3fx | %.2fx | %d of %d |\n", o->conc[c], p.vs_limit, p.vs_server, p.ahead, p.n);
    }
    fprintf(md,
            "\nCo-tenant stall: one stream generates while a %ld-token prompt is admitted.\n\n"
            "| server | stream ITL p50 before, ms | max gap during admission, ms | p99 gap, ms | admission, ms | "
            "one %d-token chunk, ms | max gap / chunk |\n|---|--:|--:|--:|--:|--:|--:|\n",
            R->stall[0][0].long_tokens, o->chunk);
    for (int s = 0; s < N_SERVERS; s++) {
        double chunk = STALL(s, chunk_ms);
        fprintf(md, "| %s | %.1f | %.1f | %.1f | %.0f | %.0f | %.2f |\n", names[s], STALL(s, base_itl_p50),
                STALL(s, max_gap), STALL(s, p99_gap), STALL(s, admit_ms), chunk,
                chunk > 0 ? STALL(s, max_gap) / chunk : 0);
    }
}

int main(int argc, char **argv) {
    static struct options o = { .conc = { 1, 4, 16 },
                                .n_conc = 3,
                                .threads = 2,
                                .n_gen = 64,
                                .rounds = 1,
                                .reps = 1,
                                .n_long = 1500,
                                .chunk = 512,
                                .port = 18480,
                                .place = true,
                                .llamac = LLAMAC_SERVE_BENCH_LLAMAC,
                                .work_dir = LLAMAC_SERVE_BENCH_BUILD_DIR,
                                .vocab_dir = LLAMAC_SERVE_BENCH_LLAMA_SOURCE_DIR "/models" };
    static char srv_default[1024], bb_default[1024], model_path[1024];
    static struct results R;
    int rc = 1;
    if (!parse_args(argc, argv, &o)) {
        return 2;
    }
    if (o.reps > REPS_MAX) {
        fprintf(stderr, "llamac-bench-serve: --reps: at most %d\n", REPS_MAX);
        return 2;
    }
    int max_conc = 0;
    for (int i = 0; i < o.n_conc; i++) {
        max_conc = o.conc[i] > max_conc ? o.conc[i] : max_conc;
    }
    if (!o.slots) {
        o.slots = max_conc;
    }
    if (!o.ctx) {
        o.ctx = o.slots * 2048;
    }
    if (!o.llama_server) {
        snprintf(srv_default, sizeof srv_default, "%s/reference/bin/llama-server", LLAMAC_SERVE_BENCH_BUILD_DIR);
        o.llama_server = srv_default;
    }
    if (!o.batched_bench) {
        snprintf(bb_default, sizeof bb_default, "%s", o.llama_server);
        char *slash = strrchr(bb_default, '/');
        snprintf(slash ? slash + 1 : bb_default, sizeof bb_default - (size_t)(slash ? slash + 1 - bb_default : 0),
                 "llama-batched-bench");
        o.batched_bench = bb_default;
    }
    if (!o.model) {
        if (!synth_model(&o, model_path, sizeof model_path)) {
            return 1;
        }
        o.model = model_path;
    }
    const char *bins[] = { o.llamac, o.llama_server };
    for (int i = 0; i < 2; i++) {
        if (access(bins[i], X_OK) != 0) {
            note("%s is not there or not executable (llama-server: cmake --build BUILD --target reference-tools)",
                 bins[i]);
            return 1;
        }
    }
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
        return 1;
    }
    signal(SIGPIPE, SIG_IGN);
    char *ltext = long_text(o.n_long);
    struct server srv[N_SERVERS] = { { .name = "llamac serve" }, { .name = "llama-server" } };
    const char *names[N_SERVERS] = { "llamac serve", "llama-server" };
    char np[16], ctx[16], th[16], port0[16], port1[16], chunk[16];
    snprintf(np, sizeof np, "%d", o.slots);
    snprintf(ctx, sizeof ctx, "%d", o.ctx);
    snprintf(th, sizeof th, "%d", o.threads);
    snprintf(chunk, sizeof chunk, "%d", o.chunk);
    snprintf(port0, sizeof port0, "%d", o.port);
    snprintf(port1, sizeof port1, "%d", o.port + 1);
    const char *argv0[] = { o.llamac, "serve", "-m",  o.model,           "-c",  ctx,      "-np", np,  "-t", th, "-b",
                            "2048",   "-ub",   "512", "--prefill-chunk", chunk, "--port", port0, NULL };
    const char *argv1[] = { o.llama_server, "-m",   o.model, "-c",  ctx,    "-np",    np,    "-t",         th,
                            "-b",           "2048", "-ub",   "512", "-kvu", "--port", port1, "--no-webui", NULL };
    srv[0].port = o.port;
    srv[1].port = o.port + 1;
    for (int s = 0; s < N_SERVERS; s++) {
        snprintf(srv[s].log, sizeof srv[s].log, "%s/bench-serve-%s.log", o.work_dir, s ? "llama-server" : "llamac");
    }
    if (o.place && (o.threads != 1 || !placement_init())) {
        note("CPU placement off (it needs -t 1 and a second CPU)");
        o.place = false;
    }
    if (!ltext || !server_start(&srv[0], argv0) || !server_start(&srv[1], argv1) || !server_wait(&srv[0], 600e3) ||
        !server_wait(&srv[1], 600e3)) {
        goto done;
    }
    note("both servers up (ports %d, %d); logs in %s", o.port, o.port + 1, o.work_dir);
    place_servers(&o, srv);
    if (o.place) {
        note("compute (llama-batched-bench, llama-server's main thread, llamac serve's engine thread) on the last "
             "CPU, everything else on the others");
    }
    /* Warm-up: one short request to each, so first-request costs are not measured. */
    for (int s = 0; s < N_SERVERS; s++) {
        struct load_result w;
        struct options wo = o;
        wo.rounds = 1;
        wo.n_gen = 8;
        run_load(&wo, srv[s].port, 1, &w);
    }
    bool have_bb = access(o.batched_bench, X_OK) == 0;
    if (!have_bb) {
        note("%s not found: no limit", o.batched_bench);
    }
    int turn = 0;
    long npp_at[MAX_CONC] = { 0 }; /* the servers' prompt length at each concurrency, once seen */
    for (int r = 0; r < o.reps; r++) {
        for (int c = 0; c < o.n_conc; c++) {
            /* The limit both before and after the servers' loads (from the second repetition on, when the prompt
             * length is known), the mean taken: the machine's speed drifts within seconds, and bracketing cancels
             * a steady drift. */
            double before = have_bb && npp_at[c] > 0 ? run_batched_bench(&o, npp_at[c], o.conc[c]) : 0;
            long npp = 0;
            for (int k = 0; k < N_SERVERS; k++, turn++) {
                int s = (turn / N_SERVERS + k) % N_SERVERS; /* alternate which server goes first */
                struct load_result *L = &R.load[s][c][r];
                place_servers(&o, srv);
                if (!run_load(&o, srv[s].port, o.conc[c], L)) {
                    note("%s: %d failed requests at %d clients", names[s], L->failed, o.conc[c]);
                }
                note("rep %d, %2d clients, %-12s: %.1f tok/s (all streaming %.1f), TTFT p50 %.0f ms p99 %.0f ms, "
                     "ITL p99 %.1f ms",
                     r + 1, o.conc[c], names[s], L->agg_tps, L->steady_tps, L->ttft_p50, L->ttft_p99, L->itl_p99);
                npp = L->prompt_tokens > npp ? L->prompt_tokens : npp;
            }
            npp_at[c] = npp > 0 ? npp : 32;
            double after = have_bb ? run_batched_bench(&o, npp_at[c], o.conc[c]) : 0;
            double lim = before > 0 && after > 0 ? (before + after) / 2 : after;
            if (lim > 0) {
                R.limit_at[c][r] = lim;
                note("rep %d, %2d sequences, llama-batched-bench: %.1f tok/s (before the loads %.1f, after %.1f)",
                     r + 1, o.conc[c], lim, before, after);
            }
        }
        for (int k = 0; k < N_SERVERS; k++) {
            int s = (r + k) % N_SERVERS;
            struct stall_result *S = &R.stall[s][r];
            place_servers(&o, srv);
            run_stall(&o, srv[s].port, ltext, S);
            note("rep %d, co-tenant %-12s: %ld-token prompt admitted in %.0f ms; stream gap max %.1f ms, p99 %.1f "
                 "ms (before: %.1f ms); one chunk ~%.0f ms",
                 r + 1, names[s], S->long_tokens, S->admit_ms, S->max_gap, S->p99_gap, S->base_itl_p50, S->chunk_ms);
        }
    }
    for (int s = 0; s < N_SERVERS; s++) {
        server_stop(&srv[s]);
    }
    for (int c = 0; c < o.n_conc; c++) {
        double ran[REPS_MAX];
        int n = 0;
        for (int r = 0; r < o.reps; r++) {
            if (R.limit_at[c][r] > 0) {
                ran[n++] = R.limit_at[c][r];
            }
        }
        R.have_limit |= n > 0;
        R.limit[c] = median_of(ran, n);
    }
    FILE *md = NULL;
    if (o.md && !(md = fopen(o.md, "w"))) {
        note("cannot write %s: %s", o.md, strerror(errno));
    }
    if (md) {
        fprintf(md,
                "<!-- llamac-bench-serve: %s; -np %d -c %d -t %d, %d tokens per request, %d requests per client, "
                "%d rep(s) -->\n",
                o.model, o.slots, o.ctx, o.threads, o.n_gen, o.rounds, o.reps);
    }
    report(&o, &R, names, md);
    if (md) {
        fclose(md);
    }
    rc = 0;
done:
    for (int s = 0; s < N_SERVERS; s++) {
        server_stop(&srv[s]);
    }
    free(ltext);
    curl_global_cleanup();
    return rc;
}
