/*
 * router.c - router mode (router.h): each model runs as a child `llamac serve -m FILE` on a loopback port of its own,
 * started when a request names it and ended when it is evicted, idle or unloaded; requests are forwarded to it and
 * its responses streamed back as they come (SSE and NDJSON alike: the router copies bytes, it parses no response).
 *
 * Why child processes (README, "Many models"): every endpoint of the single-model server works unchanged behind the
 * router, a model that crashes or leaks takes nothing else down, and unloading is the child's exit, which gives its
 * memory back to the system for certain. Starting one costs the process start and the load from the page cache.
 *
 * One lock and one condition guard the models' states; every change is broadcast, and whoever waits (a request for
 * a model that loads, a request waiting for room under --models-max, an unload) re-reads the states after waking.
 * Room under --models-max goes to the waiting models in the order their first requests came (rmodel.in_line).
 * Children are started by the monitor thread only: their death signal (PR_SET_PDEATHSIG) follows the thread that
 * forked them, and a request's thread ends with its request. A reader thread per child relays its log lines
 * and learns from "listening on" that the child is ready; at end of file it reaps the child.
 */
#define _GNU_SOURCE
#include "router.h"
#include "complete.h"
#include "dynbuf.h"
#include "model_hub.h"
#include "ollama.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/prctl.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define KILL_AFTER_MS 5000  /* a child that has not exited this long after SIGTERM gets SIGKILL */
#define MONITOR_TICK_MS 100 /* the monitor's look at idle models and overdue exits */
#define EXIT_NO_MEMORY 75   /* a child's --memory-check refusal (the command's exit status) */
#define NO_MEMORY_RETRY_S 10
#define EVENTS_KEPT 256        /* /models/sse: a listener that falls further behind misses the oldest */
#define SSE_KEEPALIVE_MS 15000 /* /models/sse: a comment line after this long without an event */
#define PROGRESS_EVERY_MS 100  /* download_progress events at most this often per download */
#define KEY_FD 3               /* the child reads its API key from this descriptor, a pipe from the router */
#define KEY_FILE "/dev/fd/3"

enum mstate { M_UNLOADED, M_LOADING, M_LOADED, M_UNLOADING, M_FAILED };
static const char *const state_name[] = { "unloaded", "loading", "loaded", "unloading", "failed" };

struct rmodel {
    struct router_source src;
    char **flags; /* the preset's options as the child's flags */
    size_t n_flags;
    bool listed; /* still in the list (a reload may drop it; it is kept until the router ends) */
    enum mstate state;
    bool spawn_pending; /* LOADING, for the monitor to start */
    pid_t pid;
    uint16_t port;
    pthread_t reader;
    bool reader_joinable;
    unsigned wanted;         /* requests that hold it or wait for it: never evicted while > 0 */
    int64_t last_used_ms;    /* monotonic */
    int64_t kill_at_ms;      /* UNLOADING: SIGKILL from then on */
    unsigned attempts;       /* loads started */
    int exit_code;           /* of the last child (-SIGNAL when killed by one) */
    bool no_memory;          /* the last load was refused by the child's --memory-check */
    char last_error[512];    /* the child's last error line, or why it could not start */
    json_t *props, *listing; /* single-model mode: the child's /props and /v1/models, answered while it sleeps */
    bool keep_set;           /* an Ollama request's keep_alive set its idle time (acquire) ... */
    int64_t keep_ms;         /* ... to this many ms (< 0: never unloaded); else --sleep-idle-seconds applies */
    char *metrics;           /* single-model mode: the child's /metrics as it went to sleep (--metrics), or NULL */
    bool metrics_told;       /* that snapshot was answered once: its throughput gauges are 0 from then on */
    bool was_loaded;         /* it has been loaded once (single-model mode: /health is 503 until then) */
    uint64_t in_line;        /* its place in the line for room under --models-max (0: not in it); its requests,
                                however many, share the place its first one took */
    struct rmodel *next;
};

/* A download that POST /models started: a thread of its own running llamac_hub_pull, its progress told to the
 * /models/sse listeners; listed (status "downloading") until it ends. Kept, done, until the router ends. */
struct download {
    struct router *r;
    char *name; /* "OWNER/REPO[:QUANT]", as asked */
    pthread_t thread;
    bool done;             /* the thread has finished (it is joined when the router ends) */
    bool cancel;           /* DELETE /models of it, or the router ends: the pull stops at its next progress call */
    int64_t last_note_ms;  /* of the last download_progress event */
    struct download *next; /* r->downloads */
};

struct router {
    struct server *s;
    struct router_options opt;
    pthread_mutex_t lock;
    pthread_cond_t cond; /* CLOCK_MONOTONIC */
    struct rmodel *models;
    struct rmodel *single; /* single-model mode (-m with --sleep-idle-seconds): the one model, asleep when unloaded */
    bool stopping;
    pthread_t monitor;
    bool monitor_running;
    char key[33]; /* the children's API key: only the router talks to them */
    /* GET /models/sse: the last EVENTS_KEPT events ("data: {...}\n\n"), event i at events[i % EVENTS_KEPT] */
    char *events[EVENTS_KEPT];
    uint64_t n_events;
    struct download *downloads; /* POST /models: the downloads into the Hugging Face cache, running or done */
    uint64_t places;            /* places given in the line for room under --models-max */
};

static void wait_ms(struct router *r, int64_t ms) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    ts.tv_sec += ms / 1000;
    ts.tv_nsec += (ms % 1000) * 1000000;
    if (ts.tv_nsec >= 1000000000) {
        ts.tv_sec++;
        ts.tv_nsec -= 1000000000;
    }
    pthread_cond_timedwait(&r->cond, &r->lock, &ts);
}

static bool running(const struct rmodel *m) {
    return m->state == M_LOADING || m->state == M_LOADED || m->state == M_UNLOADING;
}

/* The listed model named `name`, by its id or one of its aliases (lock held). */
static struct rmodel *lookup(struct router *r, const char *name) {
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (m->listed && strcmp(m->src.name, name) == 0) {
            return m;
        }
    }
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (!m->listed || !m->src.aliases) {
            continue;
        }
        json_t *aliases = list_json(m->src.aliases);
        size_t k;
        json_t *a;
        bool hit = false;
        json_array_foreach(aliases, k, a) {
            hit |= strcmp(json_string_value(a), name) == 0;
        }
        json_decref(aliases);
        if (hit) {
            return m;
        }
    }
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (m->listed && ollama_name_is(name, m->src.name)) { /* "stories:latest", "hf.co/OWNER/REPO:q8_0" */
            return m;
        }
    }
    return NULL;
}

/* ---- /models/sse events ---- */

/* Sends an event to the listeners of GET /models/sse (lock held): {"model", "event", "data"} as llama-server's
 * (data stolen; NULL for none). An event that cannot be made for want of memory is lost. */
static void notify(struct router *r, const char *event, const char *model, json_t *data) {
    json_t *o = json_pack("{s:s, s:s}", "model", model, "event", event);
    if (o && data) {
        json_object_set_new(o, "data", data);
    } else {
        json_decref(data);
    }
    char *text = o ? json_dumps(o, JSON_COMPACT) : NULL;
    json_decref(o);
    char *line = NULL;
    if (!text || asprintf(&line, "data: %s\n\n", text) < 0) {
        line = NULL;
    }
    free(text);
    if (!line) {
        return;
    }
    size_t slot = (size_t)(r->n_events % EVENTS_KEPT);
    free(r->events[slot]);
    r->events[slot] = line;
    r->n_events++;
    pthread_cond_broadcast(&r->cond);
}

/* A model's new state (lock held), told to the /models/sse listeners as llama-server's status_change. */
static void set_state(struct router *r, struct rmodel *m, enum mstate state) {
    m->state = state;
    json_t *data = json_pack("{s:s}", "status", state_name[state]);
    if (data && (state == M_UNLOADED || state == M_FAILED)) {
        json_object_set_new(data, "exit_code", json_integer(m->exit_code));
    }
    notify(r, "status_change", m->src.name, data);
}

/* ---- children ---- */

/* How long `m`'s child has to exit once asked before it is killed: its preset's stop-timeout, else KILL_AFTER_MS. */
static int64_t stop_timeout_ms(const struct rmodel *m) {
    return m->src.stop_timeout_set ? (int64_t)m->src.stop_timeout_s * 1000 : KILL_AFTER_MS;
}

/* Asks a running child to exit (lock held); the monitor kills it if it has not after stop_timeout_ms (a
 * stop-timeout of 0: killed at once). A keep_alive belonged to the model as loaded: its next load starts from the
 * default again. */
static void begin_unload(struct router *r, struct rmodel *m) {
    m->keep_set = false;
    if (m->state == M_LOADING && m->spawn_pending) {
        m->spawn_pending = false;
        set_state(r, m, M_UNLOADED);
    } else if (m->state == M_LOADED || m->state == M_LOADING) {
        set_state(r, m, M_UNLOADING);
        m->kill_at_ms = server_now_ms() + stop_timeout_ms(m);
        kill(m->pid, stop_timeout_ms(m) == 0 ? SIGKILL : SIGTERM);
    }
    pthread_cond_broadcast(&r->cond);
}

static bool send_all(int fd, const char *p, size_t n) {
    while (n > 0) {
        ssize_t w = send(fd, p, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR) {
            continue;
        }
        if (w <= 0) {
            return false;
        }
        p += w;
        n -= (size_t)w;
    }
    return true;
}

/* A connection to a child's port on loopback; -1 when it cannot be made. */
static int child_connect(uint16_t port) {
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    struct sockaddr_in sa = { 0 };
    sa.sin_family = AF_INET;
    sa.sin_port = htons(port);
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) != 0) {
        close(fd);
        fd = -1;
    }
    return fd;
}

/* GET `path` of a child: the body of a 200 answer (caller frees), else NULL. */
static char *child_get(const struct router *r, uint16_t port, const char *path) {
    int fd = child_connect(port);
    char head[256];
    int n = snprintf(head, sizeof head, "GET %s HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\n\r\n", path,
                     r->key);
    llamac__dynbuf in;
    llamac__dynbuf_init(&in, (size_t)4 << 20);
    if (fd >= 0 && n > 0 && (size_t)n < sizeof head && send_all(fd, head, (size_t)n)) {
        char buf[4096];
        ssize_t got;
        while ((got = recv(fd, buf, sizeof buf, 0)) > 0 || (got < 0 && errno == EINTR)) {
            if (got > 0 && !llamac__dynbuf_add(&in, buf, (size_t)got)) {
                break;
            }
        }
    }
    if (fd >= 0) {
        close(fd);
    }
    char *body = NULL;
    const char *all = llamac__dynbuf_ptr(&in);
    const char *start = all ? strstr(all, "\r\n\r\n") : NULL;
    unsigned status = 0;
    if (start && sscanf(all, "HTTP/%*d.%*d %u", &status) == 1 && status == 200) {
        body = strdup(start + 4);
    }
    llamac__dynbuf_free(&in);
    return body;
}

/* GET `path` of a child: the JSON of a 200 answer, else NULL. */
static json_t *child_get_json(const struct router *r, uint16_t port, const char *path) {
    char *body = child_get(r, port, path);
    json_t *v = body ? json_loads(body, 0, NULL) : NULL;
    free(body);
    return v;
}

struct reader_arg {
    struct router *r;
    struct rmodel *m;
    int fd;
    pid_t pid;
};

/* The child's stderr: each line to the router's log (its errors and warnings as such), "listening on" marks it
 * loaded; at end of file the child is reaped and its state settled. */
static void *reader_run(void *arg) {
    struct reader_arg a = *(struct reader_arg *)arg;
    free(arg);
    struct router *r = a.r;
    struct rmodel *m = a.m;
    FILE *in = fdopen(a.fd, "r");
    char *line = NULL;
    size_t cap = 0;
    ssize_t len;
    while (in && (len = getline(&line, &cap, in)) > 0) {
        while (len > 0 && (line[len - 1] == '\n' || line[len - 1] == '\r')) {
            line[--len] = '\0';
        }
        bool own = strncmp(line, "llamac serve: ", 14) == 0; /* the command's line, not a log line of the library */
        const char *text = own ? line + 14 : line;
        llamac_log_level level = LLAMAC_LOG_INFO;
        const char *said = text; /* without its level, which the router's log line gives */
        if (strncmp(text, "error: ", 7) == 0) {
            level = LLAMAC_LOG_ERROR;
            said = text + 7;
        } else if (strncmp(text, "warning: ", 9) == 0) {
            level = LLAMAC_LOG_WARN;
            said = text + 9;
        }
        /* the command's errors have no level word: the last line it wrote before it failed is why */
        bool why = own && level != LLAMAC_LOG_WARN && strncmp(text, "note: ", 6) != 0 &&
                   strncmp(text, "loading the model;", 18) != 0;
        const char *port = strncmp(text, "listening on http://", 20) == 0 ? strrchr(text, ':') : NULL;
        uint16_t ready = 0;
        pthread_mutex_lock(&r->lock);
        if (why) {
            snprintf(m->last_error, sizeof m->last_error, "%s", said);
        }
        if (port && m->pid == a.pid && m->state == M_LOADING) {
            ready = m->port = (uint16_t)strtoul(port + 1, NULL, 10);
            m->was_loaded = true;
            set_state(r, m, M_LOADED);
            m->last_used_ms = server_now_ms();
            pthread_cond_broadcast(&r->cond);
        }
        pthread_mutex_unlock(&r->lock);
        server_log(r->s, level, "model %s: %s", m->src.name, said);
        if (ready && r->single == m) {
            /* what /props and /v1/models answer while the model sleeps: the child's own, as it is now */
            json_t *props = child_get_json(r, ready, "/props");
            json_t *listing = child_get_json(r, ready, "/v1/models");
            pthread_mutex_lock(&r->lock);
            if (props) {
                json_decref(m->props);
                m->props = props;
            }
            if (listing) {
                json_decref(m->listing);
                m->listing = listing;
            }
            pthread_mutex_unlock(&r->lock);
        }
    }
    free(line);
    if (in) {
        fclose(in);
    } else {
        close(a.fd);
    }
    int status = 0;
    while (waitpid(a.pid, &status, 0) < 0 && errno == EINTR) {
    }
    pthread_mutex_lock(&r->lock);
    m->exit_code = WIFEXITED(status) ? WEXITSTATUS(status) : WIFSIGNALED(status) ? -WTERMSIG(status) : -1;
    bool asked = m->state == M_UNLOADING;
    m->no_memory = m->state == M_LOADING && m->exit_code == EXIT_NO_MEMORY;
    bool failed = m->state == M_LOADING || (!asked && m->exit_code != 0);
    if (failed) {
        if (!m->last_error[0] || m->state != M_LOADING || m->exit_code < 0) {
            if (m->exit_code < 0) {
                snprintf(m->last_error, sizeof m->last_error, "its process was killed by signal %d", -m->exit_code);
            } else {
                snprintf(m->last_error, sizeof m->last_error, "its process exited with status %d", m->exit_code);
            }
        }
        set_state(r, m, M_FAILED);
    } else {
        set_state(r, m, M_UNLOADED);
    }
    m->pid = 0;
    m->port = 0;
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (failed) {
        server_log(r->s, LLAMAC_LOG_WARN, "model %s: its server ended (exit status %d): %s", m->src.name, m->exit_code,
                   m->last_error);
    } else {
        server_log(r->s, LLAMAC_LOG_INFO, "model %s: %s (exit status %d)", m->src.name,
                   asked ? "unloaded" : "its server ended", m->exit_code);
    }
    return NULL;
}

/* Starts the child of a model marked LOADING (monitor thread, lock held). Its command line: the router's
 * generation flags, the model, the preset's flags, then what makes it the router's: loopback, any free port, the
 * router's key (through a pipe, see KEY_FD), the model's name as its id, no chat page, no grace at exit (the router
 * gave requests theirs). */
static void spawn(struct router *r, struct rmodel *m) {
    m->spawn_pending = false;
    m->last_error[0] = '\0';
    if (m->reader_joinable) {
        pthread_join(m->reader, NULL); /* the last child's reader, done since it settled the state */
        m->reader_joinable = false;
    }
    size_t n = 0, cap = r->opt.n_args + m->n_flags + 24;
    const char **argv = calloc(cap, sizeof *argv);
    int fds[2] = { -1, -1 }, keys[2] = { -1, -1 };
    struct reader_arg *ra = malloc(sizeof *ra);
    if (!argv || !ra || pipe2(fds, O_CLOEXEC) != 0 || pipe2(keys, O_CLOEXEC) != 0) {
        snprintf(m->last_error, sizeof m->last_error, "cannot start its process: %s", strerror(errno ? errno : ENOMEM));
        goto fail;
    }
    /* The child's API key goes through a pipe it inherits as KEY_FD (--api-key-file /dev/fd/3), not on its command
     * line, which every local user can read (/proc/PID/cmdline): the key, then end of file. */
    char key_line[sizeof r->key + 1];
    int key_len = snprintf(key_line, sizeof key_line, "%s\n", r->key);
    bool key_sent = write(keys[1], key_line, (size_t)key_len) == key_len;
    close(keys[1]);
    keys[1] = -1;
    if (!key_sent) {
        snprintf(m->last_error, sizeof m->last_error, "cannot start its process: cannot pass its key: %s",
                 strerror(errno));
        goto fail;
    }
    argv[n++] = "llamac"; /* the flags of the router's own command line, then the model's */
    argv[n++] = "serve";
    for (size_t i = 0; i < r->opt.n_args; i++) {
        argv[n++] = r->opt.args[i];
    }
    argv[n++] = m->src.path ? "-m" : "-hf";
    argv[n++] = m->src.path ? m->src.path : m->src.hf;
    if (m->src.mmproj) {
        argv[n++] = "--mmproj";
        argv[n++] = m->src.mmproj;
    }
    for (size_t i = 0; i < m->n_flags; i++) {
        argv[n++] = m->flags[i];
    }
    const char *tail[] = { "--host",    "127.0.0.1",  "--port",  "0", "--api-key-file", KEY_FILE, "--alias",
                           m->src.name, "--no-webui", "--grace", "0", "--memory-check" };
    for (size_t i = 0; i < sizeof tail / sizeof tail[0]; i++) {
        argv[n++] = tail[i];
    }
    argv[n] = NULL;
    char **exec_argv = calloc(n + 1, sizeof *exec_argv); /* execv's type for the same pointers */
    if (!exec_argv) {
        snprintf(m->last_error, sizeof m->last_error, "cannot start its process: out of memory");
        goto fail;
    }
    memcpy(exec_argv, argv, (n + 1) * sizeof *argv);
    sigset_t none;
    sigemptyset(&none);
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid == 0) {
        /* only async-signal-safe calls from here to exec */
        dup2(fds[1], 2);
        int null = open("/dev/null", O_RDWR);
        if (null >= 0) {
            dup2(null, 0);
            dup2(null, 1);
        }
        if (keys[0] == KEY_FD) {
            fcntl(KEY_FD, F_SETFD, 0); /* kept across exec */
        } else {
            dup2(keys[0], KEY_FD);
        }
        prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (getppid() != parent) {
            _exit(1);
        }
        sigprocmask(SIG_SETMASK, &none, NULL); /* the router's threads block SIGINT and SIGTERM; the child must not */
        execv(r->opt.exe, exec_argv);
        static const char msg[] = "llamac serve: error: cannot run the llamac binary\n";
        ssize_t w = write(2, msg, sizeof msg - 1);
        (void)w;
        _exit(127);
    }
    free(exec_argv);
    if (pid < 0) {
        snprintf(m->last_error, sizeof m->last_error, "cannot start its process: %s", strerror(errno));
        goto fail;
    }
    close(fds[1]);
    fds[1] = -1;
    close(keys[0]);
    keys[0] = -1;
    m->pid = pid;
    *ra = (struct reader_arg){ r, m, fds[0], pid };
    if (pthread_create(&m->reader, NULL, reader_run, ra) != 0) {
        kill(pid, SIGKILL);
        waitpid(pid, NULL, 0);
        m->pid = 0;
        snprintf(m->last_error, sizeof m->last_error, "cannot start the thread that watches its process");
        ra = NULL;
        goto fail;
    }
    m->reader_joinable = true;
    server_log(r->s, LLAMAC_LOG_INFO, "model %s: loading (pid %d)", m->src.name, (int)pid);
    free(argv);
    return;
fail:
    for (int i = 0; i < 2; i++) {
        if (keys[i] >= 0) {
            close(keys[i]);
        }
    }
    if (fds[0] >= 0) {
        close(fds[0]);
    }
    if (fds[1] >= 0) {
        close(fds[1]);
    }
    free(ra);
    free(argv);
    m->exit_code = -1;
    set_state(r, m, M_FAILED);
    pthread_cond_broadcast(&r->cond);
}

/* When loaded model `m` is unloaded if nobody uses it (monotonic ms; INT64_MAX: never): its last use plus the idle
 * time an Ollama request's keep_alive gave it, else --sleep-idle-seconds (lock held). */
static int64_t idle_deadline(const struct router *r, const struct rmodel *m) {
    int64_t idle = m->keep_set ? m->keep_ms : r->opt.sleep_idle_s > 0 ? (int64_t)r->opt.sleep_idle_s * 1000 : -1;
    return idle < 0 ? INT64_MAX : m->last_used_ms + idle;
}

/* Whether `m` is loaded and nobody used it for its idle time (lock held). */
static bool idle(const struct router *r, const struct rmodel *m, int64_t now) {
    return m->state == M_LOADED && m->wanted == 0 && now >= idle_deadline(r, m);
}

/* Single-model mode with --metrics, as the model goes to sleep (monitor, lock held; left while the child is
 * asked): its /metrics as they are now, which GET /metrics answers while it sleeps, as llama-server's snapshot. */
static void snapshot_metrics(struct router *r, struct rmodel *m) {
    uint16_t port = m->port;
    pthread_mutex_unlock(&r->lock);
    char *text = child_get(r, port, "/metrics");
    pthread_mutex_lock(&r->lock);
    if (text && m->state == M_LOADED && m->port == port) {
        free(m->metrics);
        m->metrics = text;
        m->metrics_told = false;
    } else {
        free(text);
    }
}

/* The monitor: starts the children asked for, unloads models idle for --sleep-idle-seconds (or their keep_alive),
 * kills children that do not exit when asked. */
static void *monitor_run(void *arg) {
    struct router *r = arg;
    pthread_mutex_lock(&r->lock);
    for (;;) {
        int64_t now = server_now_ms();
        bool busy = false;
        for (struct rmodel *m = r->models; m; m = m->next) {
            if (m->spawn_pending && !r->stopping) {
                spawn(r, m);
            }
            if (idle(r, m, now) && m == r->single && r->s->opt.metrics) {
                snapshot_metrics(r, m); /* leaves the lock a moment: the state is read again below */
            }
            if (idle(r, m, server_now_ms())) {
                server_log(r->s, LLAMAC_LOG_INFO, "model %s: idle for %lld ms, unloading", m->src.name,
                           (long long)(server_now_ms() - m->last_used_ms));
                begin_unload(r, m);
            }
            if (m->state == M_UNLOADING && now >= m->kill_at_ms && m->pid > 0) {
                kill(m->pid, SIGKILL);
                m->kill_at_ms = now + KILL_AFTER_MS;
            }
            busy |= running(m);
        }
        if (r->stopping && !busy) {
            break;
        }
        wait_ms(r, MONITOR_TICK_MS);
    }
    pthread_mutex_unlock(&r->lock);
    return NULL;
}

/* ---- getting a model ready for a request ---- */

/* Models running (loading, loaded or on their way out, which still hold their memory). */
static unsigned n_running(const struct router *r) {
    unsigned n = 0;
    for (const struct rmodel *m = r->models; m; m = m->next) {
        n += running(m);
    }
    return n;
}

/* The least recently used loaded model nobody holds or waits for, other than `except`; NULL when none. */
static struct rmodel *lru_idle(struct router *r, const struct rmodel *except) {
    struct rmodel *best = NULL;
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (m != except && m->state == M_LOADED && m->wanted == 0 && (!best || m->last_used_ms < best->last_used_ms)) {
            best = m;
        }
    }
    return best;
}

/* Whether `m` comes first among the models whose requests wait for room under --models-max (lock held): room is
 * given in the order the models' first requests came. One not in the line comes after all those in it. */
static bool first_in_line(const struct router *r, const struct rmodel *m) {
    for (const struct rmodel *o = r->models; o; o = o->next) {
        if (o != m && o->in_line && (!m->in_line || o->in_line < m->in_line)) {
            return false;
        }
    }
    return true;
}

/* Gets `m` loaded for a request, which then holds it (m->wanted) until release(); `touch` (a POST, as llama-server
 * counts use) makes it the most recently used, now and when released. Loads it when autoload (or
 * `force`) allows, first unloading the least recently used idle model when --models-max are running, or waiting
 * for one to become idle. False after replying: not loaded and no autoload (400), the load failed (500, with the
 * child's error), the router is stopping (503). A model whose earlier load failed is tried again. */
static bool acquire(struct request *rq, struct router *r, struct rmodel *m, bool force, bool touch) {
    pthread_mutex_lock(&r->lock);
    m->wanted++;
    bool tried = false;
    unsigned seen = m->attempts;
    for (;;) {
        if (r->stopping) {
            m->wanted--;
            m->in_line = 0;
            pthread_mutex_unlock(&r->lock);
            reply_error(rq, 503, NULL, "shutting_down", "the server is shutting down");
            return false;
        }
        if (m->state == M_LOADED) {
            if (touch) {
                m->last_used_ms = server_now_ms();
            }
            if (rq->keep_alive.asked) {
                /* Ollama's keep_alive: how long the model stays loaded once idle (0: as soon as its requests end;
                 * < 0: never); none given: --sleep-idle-seconds (or never) again */
                m->keep_set = rq->keep_alive.given;
                m->keep_ms = rq->keep_alive.ms;
            }
            pthread_mutex_unlock(&r->lock);
            return true;
        }
        if (m->state == M_LOADING || m->state == M_UNLOADING) {
            wait_ms(r, 1000);
            continue;
        }
        if (m->state == M_FAILED && (tried || m->attempts != seen)) {
            char why[sizeof m->last_error];
            snprintf(why, sizeof why, "%s", m->last_error);
            bool no_memory = m->no_memory;
            m->wanted--;
            pthread_cond_broadcast(&r->cond);
            pthread_mutex_unlock(&r->lock);
            if (no_memory) {
                rq->retry_after = NO_MEMORY_RETRY_S;
                reply_error(rq, 503, "model", "insufficient_memory", "model '%s' cannot be loaded now: %s", m->src.name,
                            why);
            } else {
                reply_error(rq, 500, "model", "model_load_failed", "model '%s' failed to load: %s", m->src.name, why);
            }
            return false;
        }
        if (!r->opt.autoload && !force) {
            m->wanted--;
            pthread_mutex_unlock(&r->lock);
            reply_error(rq, 400, "model", "model_not_loaded",
                        "model '%s' is not loaded (the server runs with --no-models-autoload: POST /models/load)",
                        m->src.name);
            return false;
        }
        if (r->opt.models_max > 0 && (n_running(r) >= r->opt.models_max || !first_in_line(r, m))) {
            if (!m->in_line) {
                m->in_line = ++r->places;
            }
            bool room = n_running(r) < r->opt.models_max;
            struct rmodel *victim = !room && first_in_line(r, m) ? lru_idle(r, m) : NULL;
            if (victim) {
                server_log(r->s, LLAMAC_LOG_INFO, "model %s: unloading to make room for %s (--models-max %u)",
                           victim->src.name, m->src.name, r->opt.models_max);
                begin_unload(r, victim);
            }
            wait_ms(r, 1000);
            continue;
        }
        m->in_line = 0;
        set_state(r, m, M_LOADING);
        m->spawn_pending = true;
        m->attempts++;
        tried = true;
        pthread_cond_broadcast(&r->cond); /* the monitor starts it */
    }
}

static void release(struct router *r, struct rmodel *m, bool touch) {
    pthread_mutex_lock(&r->lock);
    m->wanted--;
    if (touch) {
        m->last_used_ms = server_now_ms();
    }
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
}

/* ---- forwarding ---- */

/* A response being streamed from a child to the client. */
struct forward {
    struct router *r;
    struct rmodel *m;
    bool touch; /* a POST: the model counts as used when it ends (release) */
    int fd;
    char *buf; /* what was read past the child's headers */
    size_t len, off;
};

static ssize_t forward_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct forward *f = cls;
    if (f->off < f->len) {
        size_t n = f->len - f->off < max ? f->len - f->off : max;
        memcpy(buf, f->buf + f->off, n);
        f->off += n;
        return (ssize_t)n;
    }
    for (;;) {
        ssize_t n = recv(f->fd, buf, max, 0);
        if (n > 0) {
            return n;
        }
        if (n == 0) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (errno != EINTR) {
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void forward_free(void *cls) {
    struct forward *f = cls;
    close(f->fd);
    release(f->r, f->m, f->touch);
    free(f->buf);
    free(f);
}

struct query {
    llamac__dynbuf *out;
    bool first;
};

static void percent_encode(llamac__dynbuf *out, const char *s) {
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if ((c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || strchr("-_.~", c)) {
            llamac__dynbuf_add(out, s, 1);
        } else {
            char hex[4];
            snprintf(hex, sizeof hex, "%%%02X", c);
            llamac__dynbuf_add(out, hex, 3);
        }
    }
}

static enum MHD_Result add_query_arg(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    struct query *q = cls;
    llamac__dynbuf_add(q->out, q->first ? "?" : "&", 1);
    q->first = false;
    percent_encode(q->out, key);
    if (value) {
        llamac__dynbuf_add(q->out, "=", 1);
        percent_encode(q->out, value);
    }
    return MHD_YES;
}

/* The value of header `name` in the child's header block (NUL-terminated lines), copied into buf; false if absent. */
static bool header_value(const char *head, const char *name, char *buf, size_t cap) {
    size_t n = strlen(name);
    for (const char *p = strstr(head, "\r\n"); p; p = strstr(p, "\r\n")) {
        p += 2;
        if (strncasecmp(p, name, n) == 0 && p[n] == ':') {
            const char *v = p + n + 1;
            while (*v == ' ') {
                v++;
            }
            size_t len = strcspn(v, "\r\n");
            snprintf(buf, cap, "%.*s", (int)len, v);
            return true;
        }
    }
    return false;
}

/* Forwards the request to `m`'s child (held by the caller, released here when it fails, else when the response
 * ends) and replies with the child's response, streamed. */
static void forward(struct request *rq, struct router *r, struct rmodel *m) {
    pthread_mutex_lock(&r->lock);
    uint16_t port = m->port;
    pthread_mutex_unlock(&r->lock);
    llamac__dynbuf head;
    llamac__dynbuf_init(&head, (size_t)1 << 20);
    struct forward *f = calloc(1, sizeof *f);
    int fd = child_connect(port);
    if (!f || fd < 0) {
        goto gone;
    }
    /* HTTP/1.0: the child's response then ends when its connection closes, never chunked */
    llamac__dynbuf_adds(&head, rq->method);
    llamac__dynbuf_addc(&head, ' ');
    llamac__dynbuf_adds(&head, rq->path);
    struct query q = { &head, true };
    MHD_get_connection_values(rq->conn, MHD_GET_ARGUMENT_KIND, add_query_arg, &q);
    const char *type = MHD_lookup_connection_value(rq->conn, MHD_HEADER_KIND, "Content-Type");
    llamac__dynbuf_addf(&head,
                        " HTTP/1.0\r\nHost: 127.0.0.1\r\nAuthorization: Bearer %s\r\nContent-Length: %zu\r\n"
                        "Content-Type: %.100s\r\n\r\n",
                        r->key, rq->body_len, type ? type : "application/json");
    if (llamac__dynbuf_error(&head) != LLAMAC__DYNBUF_OK ||
        !send_all(fd, llamac__dynbuf_ptr(&head), llamac__dynbuf_len(&head)) ||
        (rq->body_len && !send_all(fd, rq->body, rq->body_len))) {
        goto gone;
    }
    /* the child's status line and headers */
    size_t cap = 16384, len = 0;
    char *buf = malloc(cap + 1);
    char *end = NULL;
    while (buf && len < cap) {
        ssize_t n = recv(fd, buf + len, cap - len, 0);
        if (n < 0 && errno == EINTR) {
            continue;
        }
        if (n <= 0) {
            break;
        }
        len += (size_t)n;
        buf[len] = '\0';
        if ((end = strstr(buf, "\r\n\r\n"))) {
            break;
        }
    }
    unsigned status = 0;
    if (!end || sscanf(buf, "HTTP/%*d.%*d %u", &status) != 1 || status < 100 || status > 599) {
        free(buf);
        goto gone;
    }
    end[2] = '\0'; /* the header block, each line ending in \r\n */
    char value[256];
    f->r = r;
    f->m = m;
    f->touch = strcmp(rq->method, "POST") == 0;
    f->fd = fd;
    f->buf = buf;
    f->off = (size_t)(end + 4 - buf);
    f->len = len;
    uint64_t size = MHD_SIZE_UNKNOWN;
    if (header_value(buf, "Content-Length", value, sizeof value)) {
        size = strtoull(value, NULL, 10);
    }
    struct MHD_Response *resp = http_stream_response(size, 16384, forward_read, f, forward_free);
    if (!resp) {
        free(buf);
        f->buf = NULL;
        goto gone;
    }
    static const char *const copied[] = { "Content-Type", "Allow", "Cache-Control", "Content-Disposition" };
    for (size_t i = 0; i < sizeof copied / sizeof copied[0]; i++) {
        if (header_value(buf, copied[i], value, sizeof value)) {
            MHD_add_response_header(resp, copied[i], value);
        }
    }
    if (header_value(buf, "Retry-After", value, sizeof value)) {
        rq->retry_after = (unsigned)strtoul(value, NULL, 10);
    }
    rq->response = resp;
    rq->status = status;
    llamac__dynbuf_free(&head);
    return;
gone:
    if (fd >= 0) {
        close(fd);
    }
    free(f);
    llamac__dynbuf_free(&head);
    release(r, m, strcmp(rq->method, "POST") == 0);
    rq->retry_after = 1;
    reply_error(rq, 503, "model", "model_unavailable", "model '%s' is not reachable (its server ended); try again",
                m->src.name);
}

/* ---- the router's own endpoints ---- */

/* Whether the child of `m` gets switch `a` (or its other spelling `b`): from the router's command line or the
 * preset. */
static bool child_switch(const struct router *r, const struct rmodel *m, const char *a, const char *b) {
    for (size_t i = 0; i < r->opt.n_args; i++) {
        if (strcmp(r->opt.args[i], a) == 0 || strcmp(r->opt.args[i], b) == 0) {
            return true;
        }
    }
    for (size_t i = 0; i < m->n_flags; i++) {
        if (strcmp(m->flags[i], a) == 0 || strcmp(m->flags[i], b) == 0) {
            return true;
        }
    }
    return false;
}

/* What GET /v1/models says a model can do, from its header (router_facts) and its child's switches, without
 * loading it: "capabilities" in the single-model server's words (completion, embedding, rerank, multimodal) and
 * llama-server's router's "architecture" (input and output modalities), and "meta" from the header under the
 * single-model server's names. A model whose header is not at hand (a file that cannot be read, a preset's hf-repo)
 * has only what its switches say. */
static void add_capabilities(json_t *o, const struct router *r, const struct rmodel *m) {
    const struct router_facts *f = &m->src.facts;
    bool rerank = child_switch(r, m, "--rerank", "--reranking") || f->rerank;
    bool embedding = !rerank && (child_switch(r, m, "--embedding", "--embeddings") || f->embedding);
    json_t *caps = json_array(), *input = json_pack("[s]", "text");
    if (f->read && !rerank && !f->embedding) {
        json_array_append_new(caps, json_string("completion"));
    }
    if (embedding) {
        json_array_append_new(caps, json_string("embedding"));
    }
    if (rerank) {
        json_array_append_new(caps, json_string("rerank"));
    }
    if (f->vision || f->audio) {
        json_array_append_new(caps, json_string("multimodal"));
    }
    if (f->vision) {
        json_array_append_new(input, json_string("image"));
    }
    if (f->audio) {
        json_array_append_new(input, json_string("audio"));
    }
    json_object_set_new(o, "capabilities", caps);
    json_object_set_new(o, "architecture",
                        json_pack("{s:o, s:[s]}", "input_modalities", input, "output_modalities", "text"));
    if (f->read) {
        json_object_set_new(o, "meta",
                            json_pack("{s:I, s:I, s:I, s:I, s:I}", "n_vocab", (json_int_t)f->n_vocab, "n_ctx_train",
                                      (json_int_t)f->n_ctx_train, "n_params", (json_int_t)f->n_params, "size",
                                      (json_int_t)f->n_bytes, "n_embd", (json_int_t)f->n_embd));
    }
}

static json_t *model_json(const struct router *r, const struct rmodel *m) {
    json_t *status = json_pack("{s:s}", "value", state_name[m->state]);
    if (m->state == M_FAILED) {
        json_object_set_new(status, "failed", json_true());
        json_object_set_new(status, "exit_code", json_integer(m->exit_code));
        json_object_set_new(status, "error", json_string(m->last_error));
    }
    json_t *o = json_pack("{s:s, s:o, s:s, s:s, s:I, s:o, s:s, s:I, s:b}", "id", m->src.name, "aliases",
                          list_json(m->src.aliases), "object", "model", "owned_by", "llamac", "created",
                          (json_int_t)r->s->started, "status", status, "source", m->src.source, "size",
                          (json_int_t)m->src.size, "can_remove", strcmp(m->src.source, "cache") == 0);
    if (m->src.path) {
        json_object_set_new(o, "path", json_string(m->src.path));
    }
    add_capabilities(o, r, m);
    return o;
}

static void reload(struct request *rq, struct router *r);
static bool reload_models(struct router *r, char *err, size_t cap);

static void handle_list(struct request *rq, struct router *r) {
    const char *again = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "reload");
    if (again && *again && strcmp(again, "0") != 0 && strcmp(again, "false") != 0) {
        reload(rq, r);
        if (rq->status) {
            return;
        }
    }
    json_t *data = json_array();
    pthread_mutex_lock(&r->lock);
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (m->listed) {
            json_array_append_new(data, model_json(r, m));
        }
    }
    for (struct download *d = r->downloads; d; d = d->next) { /* POST /models: listed while it downloads */
        if (!d->done) {
            json_array_append_new(data,
                                  json_pack("{s:s, s:s, s:s, s:I, s:{s:s}, s:s, s:b}", "id", d->name, "object", "model",
                                            "owned_by", "llamac", "created", (json_int_t)r->s->started, "status",
                                            "value", "downloading", "source", "cache", "can_remove", 1));
        }
    }
    pthread_mutex_unlock(&r->lock);
    reply_json(rq, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void handle_router_props(struct request *rq, struct router *r) {
    char fingerprint[128];
    system_fingerprint(fingerprint, sizeof fingerprint);
    reply_json(rq, 200,
               json_pack("{s:s, s:I, s:b, s:s, s:s, s:{s:{}, s:i}, s:s, s:b}", "role", "router", "max_instances",
                         (json_int_t)r->opt.models_max, "models_autoload", r->opt.autoload, "model_alias", "llamac",
                         "model_path", "none", "default_generation_settings", "params", "n_ctx", 0, "build_info",
                         fingerprint, "is_sleeping", 0));
}

/* The model a request names: its body's "model" (Ollama's older "name" too), else the query's ?model=. NULL after
 * replying: a body that is not a JSON object, no model named (400). */
static const char *requested_model(struct request *rq, json_t **body) {
    *body = NULL;
    const char *name = NULL;
    bool json_body = rq->body_len > 0 && strcmp(rq->method, "POST") == 0;
    if (json_body) {
        if (!(*body = request_object(rq))) {
            return NULL;
        }
        json_t *v = json_object_get(*body, "model");
        if (!json_is_string(v) && rq->error_shape == ollama_error) {
            v = json_object_get(*body, "name");
        }
        if (v && !json_is_null(v) && !json_is_string(v)) {
            reply_error(rq, 400, "model", "invalid_type", "'model' must be a string");
            return NULL;
        }
        name = json_string_value(v);
    }
    if (!name || !*name) {
        name = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "model");
    }
    if (!name || !*name) {
        reply_error(rq, 400, "model", "model_missing",
                    "model name is missing from the request (router mode: name "
                    "one of GET /v1/models in the request's \"model\")");
        return NULL;
    }
    return name;
}

/* A listed model by the name a request gives; NULL after replying with `status` (llama-server: 400 for requests,
 * 404 for POST /models/load). */
static struct rmodel *named_model(struct request *rq, struct router *r, const char *name, unsigned status) {
    pthread_mutex_lock(&r->lock);
    struct rmodel *m = lookup(r, name);
    pthread_mutex_unlock(&r->lock);
    if (!m) {
        reply_error(rq, status, "model", "model_not_found", "model '%s' not found (GET /v1/models lists them)", name);
    }
    return m;
}

/* Whether this is router mode, whose own endpoints these are (/models/load, /models/unload, POST and DELETE /models,
 * /models/sse); else replies 404. */
static bool router_only(struct request *rq) {
    struct router *r = rq->s->router;
    if (!r || r->single) {
        reply_error(rq, 404, NULL, "not_found", "%s %s: only in router mode (llamac serve without -m)", rq->method,
                    rq->path);
        return false;
    }
    return true;
}

static void load_or_unload(struct request *rq, bool load) {
    if (!router_only(rq)) {
        return;
    }
    struct router *r = rq->s->router;
    json_t *body = NULL;
    const char *name = requested_model(rq, &body);
    struct rmodel *m = name ? named_model(rq, r, name, load ? 404 : 400) : NULL;
    if (!m) {
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&r->lock);
    bool is_running = running(m) && m->state != M_UNLOADING;
    pthread_mutex_unlock(&r->lock);
    if (load) {
        if (is_running) {
            reply_error(rq, 400, "model", "model_running", "model '%s' is already running", m->src.name);
        } else if (acquire(rq, r, m, true, false)) {
            release(r, m, false);
            reply_json(rq, 200, json_pack("{s:b}", "success", 1));
        }
        json_decref(body);
        return;
    }
    if (!is_running) {
        reply_error(rq, 400, "model", "model_not_running", "model '%s' is not running", m->src.name);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&r->lock);
    begin_unload(r, m);
    while (running(m)) { /* until its process is gone: its memory is the system's again */
        wait_ms(r, 1000);
    }
    pthread_mutex_unlock(&r->lock);
    reply_json(rq, 200, json_pack("{s:b}", "success", 1));
    json_decref(body);
}

void handle_models_load(struct request *rq) {
    load_or_unload(rq, true);
}

void handle_models_unload(struct request *rq) {
    load_or_unload(rq, false);
}

/* ---- downloads into the Hugging Face cache (POST /models) and removals from it (DELETE /models) ---- */

/* The running download of `name` (lock held), or NULL. */
static struct download *downloading(struct router *r, const char *name) {
    for (struct download *d = r->downloads; d; d = d->next) {
        if (!d->done && strcmp(d->name, name) == 0) {
            return d;
        }
    }
    return NULL;
}

static bool download_progress(const char *file, uint64_t done, uint64_t total, double bytes_per_sec, void *user_data) {
    (void)bytes_per_sec;
    struct download *d = user_data;
    struct router *r = d->r;
    int64_t now = server_now_ms();
    pthread_mutex_lock(&r->lock);
    if (done == total || now - d->last_note_ms >= PROGRESS_EVERY_MS) {
        d->last_note_ms = now;
        notify(r, "download_progress", d->name,
               json_pack("{s:{s:{s:I, s:I}}}", "progress", file, "done", (json_int_t)done, "total", (json_int_t)total));
    }
    bool go_on = !d->cancel && !r->stopping;
    pthread_mutex_unlock(&r->lock);
    return go_on;
}

/* The download's thread: the pull (the model, its shards and a projector), then the list read again so that the
 * model is there, then download_finished (or download_failed with the reason) to the /models/sse listeners. */
static void *download_run(void *arg) {
    struct download *d = arg;
    struct router *r = d->r;
    char why[1024] = "";
    llamac_status st = model_hub_pull(r->s, d->name, download_progress, d, NULL, why, sizeof why);
    pthread_mutex_lock(&r->lock);
    d->done = true;
    notify(r, st == LLAMAC_OK ? "download_finished" : "download_failed", d->name,
           st == LLAMAC_OK ? NULL : json_pack("{s:s}", "error", why));
    pthread_mutex_unlock(&r->lock);
    if (st == LLAMAC_OK) {
        server_log(r->s, LLAMAC_LOG_INFO, "model %s: downloaded into the Hugging Face cache", d->name);
    } else {
        server_log(r->s, LLAMAC_LOG_WARN, "model %s: the download failed: %s", d->name, why);
    }
    return NULL;
}

/* The "model" of a POST /models body, or the ?model= of DELETE /models; NULL after replying 400. */
static const char *hub_spec(struct request *rq, json_t **body) {
    const char *name = requested_model(rq, body);
    if (name && (!strchr(name, '/') || strchr(name, ' '))) {
        reply_error(rq, 400, "model", "invalid_model",
                    "'%s' is not a Hugging Face model: name it OWNER/REPO or OWNER/REPO:QUANT", name);
        return NULL;
    }
    return name;
}

void handle_models_download(struct request *rq) {
    if (!router_only(rq)) {
        return;
    }
    struct router *r = rq->s->router;
    json_t *body = NULL;
    const char *name = hub_spec(rq, &body);
    if (!name) {
        json_decref(body);
        return;
    }
    /* the repository must exist (a typo is the client's error now, not an event later) */
    char why[1024];
    llamac_status st = model_hub_check(rq->s, name, NULL, why, sizeof why);
    if (st != LLAMAC_OK) {
        unsigned status = model_hub_status(st);
        reply_error(rq, status == 500 ? 400 : status, "model", "download_refused", "cannot download '%s': %s", name,
                    why);
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&r->lock);
    bool exists = lookup(r, name) != NULL, busy = downloading(r, name) != NULL;
    struct download *d = exists || busy || r->stopping ? NULL : calloc(1, sizeof *d);
    if (d) {
        d->r = r;
        d->name = strdup(name);
        if (!d->name || pthread_create(&d->thread, NULL, download_run, d) != 0) {
            free(d->name);
            free(d);
            d = NULL;
        } else {
            d->next = r->downloads;
            r->downloads = d;
        }
    }
    pthread_mutex_unlock(&r->lock);
    if (exists || busy) {
        reply_error(rq, 400, "model", exists ? "model_exists" : "model_downloading",
                    exists ? "model '%s' already exists" : "model '%s' is being downloaded already", name);
    } else if (r->stopping) {
        reply_error(rq, 503, NULL, "shutting_down", "the server is shutting down");
    } else if (!d) {
        reply_error(rq, 500, NULL, NULL, "cannot start the download: out of memory");
    } else {
        server_log(r->s, LLAMAC_LOG_INFO, "model %s: downloading into the Hugging Face cache", name);
        reply_json(rq, 200, json_pack("{s:b}", "success", 1));
    }
    json_decref(body);
}

void handle_models_remove(struct request *rq) {
    if (!router_only(rq)) {
        return;
    }
    struct router *r = rq->s->router;
    json_t *body = NULL;
    const char *name = requested_model(rq, &body);
    if (!name) {
        json_decref(body);
        return;
    }
    pthread_mutex_lock(&r->lock);
    struct download *d = downloading(r, name);
    struct rmodel *m = d ? NULL : lookup(r, name);
    bool cached = m && strcmp(m->src.source, "cache") == 0;
    if (d) { /* stopped at its next progress call; what it fetched stays, to be removed below */
        d->cancel = true;
        while (!d->done) {
            wait_ms(r, 1000);
        }
    } else if (cached) { /* no request finds it from now on; its child, if any, ends */
        m->listed = false;
        begin_unload(r, m);
        while (running(m)) {
            wait_ms(r, 1000);
        }
    }
    char spec[512]; /* the cache's name of it (a request may have named an alias) */
    snprintf(spec, sizeof spec, "%s", d ? d->name : m && cached ? m->src.name : name);
    pthread_mutex_unlock(&r->lock);
    if (!d && !m) {
        reply_error(rq, 404, "model", "model_not_found", "model '%s' not found (GET /v1/models lists them)", name);
        json_decref(body);
        return;
    }
    if (!d && !cached) {
        reply_error(rq, 400, "model", "model_not_removable",
                    "model '%s' is not removable: it is not in the Hugging Face cache (source %s)", name,
                    m->src.source);
        json_decref(body);
        return;
    }
    size_t n = 0;
    char err[1024] = "";
    llamac_status st = model_hub_remove(rq->s, spec, &n, err, sizeof err);
    if (st != LLAMAC_OK && !(d && st == LLAMAC_E_NOT_FOUND)) { /* a cancelled download may have left nothing */
        reply_error(rq, 500, "model", "remove_failed", "cannot remove '%s' from the Hugging Face cache: %s", name, err);
    } else {
        pthread_mutex_lock(&r->lock);
        notify(r, "model_remove", name, NULL);
        pthread_mutex_unlock(&r->lock);
        server_log(r->s, LLAMAC_LOG_INFO, "model %s: removed from the Hugging Face cache (%zu files)", name, n);
        reply_json(rq, 200, json_pack("{s:b}", "success", 1));
    }
    json_decref(body);
}

/* ---- GET /models/sse ---- */

/* A listener of /models/sse: the events from the one it subscribed at, each as it comes. */
struct listener {
    struct router *r;
    uint64_t next; /* the number of the next event to send */
    char *pending; /* an event being sent */
    size_t len, off;
};

static ssize_t sse_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct listener *l = cls;
    struct router *r = l->r;
    if (l->off == l->len) {
        free(l->pending);
        l->pending = NULL;
        l->off = l->len = 0;
        pthread_mutex_lock(&r->lock);
        int64_t until = server_now_ms() + SSE_KEEPALIVE_MS;
        while (!r->stopping && l->next == r->n_events && server_now_ms() < until) {
            wait_ms(r, until - server_now_ms());
        }
        bool stop = r->stopping;
        if (l->next + EVENTS_KEPT < r->n_events) { /* fallen behind: the oldest are gone */
            l->next = r->n_events - EVENTS_KEPT;
        }
        if (!stop && l->next < r->n_events) {
            l->pending = strdup(r->events[l->next % EVENTS_KEPT]);
            l->next++;
        } else if (!stop) {
            l->pending = strdup(": keep-alive\n\n"); /* a comment: a client that has gone is found out */
        }
        pthread_mutex_unlock(&r->lock);
        if (stop || !l->pending) {
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        l->len = strlen(l->pending);
    }
    size_t n = l->len - l->off < max ? l->len - l->off : max;
    memcpy(buf, l->pending + l->off, n);
    l->off += n;
    return (ssize_t)n;
}

static void sse_free(void *cls) {
    struct listener *l = cls;
    free(l->pending);
    free(l);
}

void handle_models_sse(struct request *rq) {
    if (!router_only(rq)) {
        return;
    }
    struct router *r = rq->s->router;
    struct listener *l = calloc(1, sizeof *l);
    if (!l) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    l->r = r;
    pthread_mutex_lock(&r->lock);
    l->next = r->n_events; /* from now on */
    pthread_mutex_unlock(&r->lock);
    struct MHD_Response *resp = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 4096, sse_read, l, sse_free);
    if (!resp) {
        free(l);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    MHD_add_response_header(resp, "Content-Type", "text/event-stream");
    MHD_add_response_header(resp, "Cache-Control", "no-cache");
    rq->response = resp;
    rq->status = 200;
}

/* The throughput gauges of llama-server's /metrics, averaged over the time since the last scrape: 0 in a snapshot
 * answered once already, since nothing runs while the model sleeps. */
static const char *const rate_gauges[] = { "llamacpp:prompt_tokens_seconds ", "llamacpp:predicted_tokens_seconds " };

/* A copy of the /metrics text `snapshot` with the rate gauges at 0 (NULL when out of memory). */
static char *metrics_at_rest(const char *snapshot) {
    llamac__dynbuf out;
    llamac__dynbuf_init(&out, (size_t)1 << 20);
    for (const char *line = snapshot; *line;) {
        size_t len = strcspn(line, "\n");
        const char *gauge = NULL;
        for (size_t i = 0; i < sizeof rate_gauges / sizeof rate_gauges[0]; i++) {
            if (strncmp(line, rate_gauges[i], strlen(rate_gauges[i])) == 0) {
                gauge = rate_gauges[i];
            }
        }
        if (gauge) {
            llamac__dynbuf_addf(&out, "%s0.000", gauge);
        } else {
            llamac__dynbuf_add(&out, line, len);
        }
        line += len;
        if (*line == '\n') {
            llamac__dynbuf_addc(&out, '\n');
            line++;
        }
    }
    char *text = llamac__dynbuf_error(&out) == LLAMAC__DYNBUF_OK ? strdup(llamac__dynbuf_ptr(&out)) : NULL;
    llamac__dynbuf_free(&out);
    return text;
}

/* Single-model mode, GET /metrics while the model sleeps: the snapshot taken as it went to sleep (its rate gauges at
 * 0 after the first time), without waking it. False when there is none (the request then wakes the model). */
static bool sleeping_metrics(struct request *rq, struct router *r, struct rmodel *m) {
    pthread_mutex_lock(&r->lock);
    bool have = m->state != M_LOADED && m->metrics;
    char *text = !have ? NULL : m->metrics_told ? metrics_at_rest(m->metrics) : strdup(m->metrics);
    if (have) {
        m->metrics_told = true;
    }
    pthread_mutex_unlock(&r->lock);
    if (have && !text) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
    } else if (text) {
        rq->text = text;
        rq->content_type = "text/plain; version=0.0.4; charset=utf-8";
        rq->start_time_header = true;
        rq->status = 200;
    }
    return have;
}

/* Single-model mode's GET /health: 503 until the model has loaded once (as the single-model server while it loads
 * at start; with the reason when that load failed), then 200, asleep or not. */
static void single_health(struct request *rq, struct router *r) {
    struct rmodel *m = r->single;
    pthread_mutex_lock(&r->lock);
    bool up = m->was_loaded;
    bool failed = m->state == M_FAILED;
    char why[sizeof m->last_error];
    snprintf(why, sizeof why, "%s", m->last_error);
    pthread_mutex_unlock(&r->lock);
    if (up) {
        handle_health(rq);
        return;
    }
    rq->retry_after = 1;
    if (failed) {
        reply_error(rq, 503, NULL, "model_load_failed", "the model failed to load: %s", why);
    } else {
        reply_error(rq, 503, NULL, "loading", "the model is loading");
    }
}

/* Single-model mode: the one model, whatever a request names (as the single-model server); while it sleeps,
 * /props (is_sleeping true), /v1/models and /metrics are answered from what its child said, and anything else wakes
 * it. */
static void single_answer(struct request *rq, struct router *r, void (*route)(struct request *rq)) {
    struct rmodel *m = r->single;
    if (route == handle_metrics && sleeping_metrics(rq, r, m)) {
        return;
    }
    if (route == handle_props || route == handle_models) {
        pthread_mutex_lock(&r->lock);
        bool awake = m->state == M_LOADED;
        json_t *cached = route == handle_props ? m->props : m->listing;
        json_t *copy = awake || !cached ? NULL : json_deep_copy(cached);
        pthread_mutex_unlock(&r->lock);
        if (copy) {
            if (route == handle_props) {
                json_object_set_new(copy, "is_sleeping", json_true());
            }
            reply_json(rq, 200, copy);
            return;
        }
        if (!awake) {
            rq->retry_after = 1;
            reply_error(rq, 503, NULL, "loading", "the model is loading");
            return;
        }
    }
    if (acquire(rq, r, m, true, strcmp(rq->method, "POST") == 0)) {
        forward(rq, r, m);
    }
}

void router_answer(struct request *rq, void (*route)(struct request *rq)) {
    struct router *r = rq->s->router;
    if (rq->error_shape == ollama_error && route != handle_ollama_version && router_ollama_answer(rq, route)) {
        return; /* Ollama's listings, pull, delete and keep_alive (router_ollama.c) */
    }
    if (route == handle_tools_get || route == handle_tools_post) {
        route(rq); /* the router's own (--tools): they need no model */
        return;
    }
    if (r->single && route == handle_health) {
        single_health(rq, r);
        return;
    }
    if (route == handle_cors_proxy) {
        route(rq); /* the router's own (no model's): it forwards to a URL, not to a child */
        return;
    }
    if (r->single && route != handle_ollama_version && route != handle_models_load && route != handle_models_unload &&
        route != handle_models_download && route != handle_models_remove && route != handle_models_sse) {
        single_answer(rq, r, route);
        return;
    }
    if (route == handle_health || route == handle_models_load || route == handle_models_unload ||
        route == handle_models_download || route == handle_models_remove || route == handle_models_sse ||
        route == handle_ollama_version) {
        route(rq);
        return;
    }
    if (route == handle_models) {
        handle_list(rq, r);
        return;
    }
    if (route == handle_props && !MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "model")) {
        handle_router_props(rq, r);
        return;
    }
    json_t *body = NULL;
    const char *name = requested_model(rq, &body);
    struct rmodel *m = name ? named_model(rq, r, name, 400) : NULL;
    json_decref(body); /* name is not used past here */
    if (m && acquire(rq, r, m, false, strcmp(rq->method, "POST") == 0)) {
        forward(rq, r, m);
    }
}

/* ---- the router's life ---- */

/* A preset's switch value: *on true or false; false for a value that is neither. */
static bool switch_value(const char *value, bool *on) {
    static const char *const yes[] = { "1", "true", "on", "yes", "enabled" }, *const no[] = { "0", "false", "off", "no",
                                                                                              "disabled" };
    for (size_t i = 0; i < sizeof yes / sizeof yes[0]; i++) {
        if (strcasecmp(value, yes[i]) == 0 || strcasecmp(value, no[i]) == 0) {
            *on = strcasecmp(value, yes[i]) == 0;
            return true;
        }
    }
    return false;
}

/* A preset key of the router's own (llama-server's preset-only options): load-on-startup, stop-timeout; false for
 * any other key. *bad true (with the message in err) for a value it cannot take or a key llamac cannot honour. */
static bool router_key(const struct router_options *o, struct rmodel *m, const char *written, const char *name,
                       const char *value, bool *bad, char *err, size_t cap) {
    *bad = false;
    if (strcmp(name, "load-on-startup") == 0) {
        *bad = !switch_value(value, &m->src.load_on_startup);
        if (*bad) {
            snprintf(err, cap, "--models-preset %s: '%s' of [%s] is a switch: give true or false, not '%s'",
                     o->models_preset, written, m->src.name, value);
        }
        return true;
    }
    if (strcmp(name, "stop-timeout") == 0) {
        char *end = NULL;
        errno = 0;
        unsigned long v = strtoul(value, &end, 10);
        *bad = !*value || *end || errno || value[0] == '-' || v > 86400;
        if (*bad) {
            snprintf(err, cap, "--models-preset %s: '%s' of [%s] is whole seconds (0 to 86400), not '%s'",
                     o->models_preset, written, m->src.name, value);
        }
        m->src.stop_timeout_set = true;
        m->src.stop_timeout_s = (unsigned)v;
        return true;
    }
    if (strcmp(name, "dedup-cache-models") == 0) {
        *bad = true;
        snprintf(err, cap,
                 "--models-preset %s: '%s' of [%s] is not supported by llamac's router (a cache model and a preset "
                 "naming its file are listed as two models)",
                 o->models_preset, written, m->src.name);
        return true;
    }
    return false;
}

/* The preset's options of `src` as the child's flags (via opt.flag), its keys read as llama-server's preset parser
 * reads them (router_preset_key; a switch given false as its --no- form when there is one), and the router's own
 * keys into m->src; false with a message in err naming the section and the key for an option llamac serve does not
 * have, one the router sets itself, or a value it cannot take. */
static bool preset_flags(const struct router_options *o, struct rmodel *m, char *err, size_t cap) {
    m->flags = calloc(m->src.n_args + 1, sizeof *m->flags);
    if (!m->flags) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    for (size_t i = 0; i + 1 < m->src.n_args; i += 2) {
        const char *key = m->src.args[i], *value = m->src.args[i + 1];
        char name[128], flag[160];
        bool takes_value = false, bad = false;
        bool env = router_preset_key(key, name, sizeof name);
        if (router_key(o, m, key, name, value, &bad, err, cap)) {
            if (bad) {
                return false;
            }
            continue;
        }
        if (!o->flag || !o->flag(name, flag, sizeof flag, &takes_value)) {
            snprintf(err, cap,
                     "--models-preset %s: option '%s'%s%s%s of [%s] is not an option of llamac serve, or one the "
                     "router sets itself",
                     o->models_preset, key, env ? " (--" : "", env ? name : "", env ? ")" : "", m->src.name);
            return false;
        }
        if (!takes_value) {
            bool on = false;
            if (!switch_value(value, &on)) {
                snprintf(err, cap, "--models-preset %s: option '%s' of [%s] is a switch: give true or false, not '%s'",
                         o->models_preset, key, m->src.name, value);
                return false;
            }
            char negated[sizeof name + 3];
            snprintf(negated, sizeof negated, "no-%s", name);
            bool no_form = !on && strncmp(name, "no-", 3) != 0 && o->flag(negated, flag, sizeof flag, &takes_value) &&
                           !takes_value; /* false: its --no- form, as llama-server sets a switch off */
            if ((on || no_form) && !(m->flags[m->n_flags++] = strdup(flag))) {
                snprintf(err, cap, "out of memory");
                return false;
            }
            continue;
        }
        if (!(m->flags[m->n_flags++] = strdup(flag)) || !(m->flags[m->n_flags++] = strdup(value))) {
            snprintf(err, cap, "out of memory");
            return false;
        }
    }
    return true;
}

static void rmodel_free(struct rmodel *m) {
    router_facts_free(&m->src.facts);
    free(m->src.name);
    free(m->src.aliases);
    free(m->src.path);
    free(m->src.hf);
    free(m->src.mmproj);
    for (size_t k = 0; k < m->src.n_args; k++) {
        free(m->src.args[k]);
    }
    free(m->src.args);
    for (size_t k = 0; k < m->n_flags; k++) {
        free(m->flags[k]);
    }
    free(m->flags);
    json_decref(m->props);
    json_decref(m->listing);
    free(m->metrics);
    free(m);
}

/* The models as found now (lock not held: the list is built aside); NULL with a message in err. */
static struct rmodel *find_models(const struct router_options *o, char *err, size_t cap) {
    struct router_source *src = NULL;
    size_t n = 0;
    if (!router_sources_find(o->models_dir, o->cache, o->models_preset, &src, &n, err, cap)) {
        return NULL;
    }
    struct rmodel *head = NULL, **tail = &head;
    bool ok = true;
    for (size_t i = 0; i < n; i++) {
        struct rmodel *m = ok ? calloc(1, sizeof *m) : NULL;
        if (!m) {
            ok = false; /* the sources not moved are freed below */
            continue;
        }
        m->src = src[i];
        memset(&src[i], 0, sizeof src[i]);
        m->listed = true;
        *tail = m;
        tail = &m->next;
        if (!preset_flags(o, m, err, cap)) {
            ok = false;
        }
    }
    router_sources_free(src, n); /* what was not moved (zeroed entries free nothing) */
    if (!ok) {
        if (!err[0]) {
            snprintf(err, cap, "out of memory");
        }
        while (head) {
            struct rmodel *next = head->next;
            rmodel_free(head);
            head = next;
        }
        return NULL;
    }
    if (!head) {
        head = calloc(1, sizeof *head); /* an empty list: one unlisted placeholder, so that NULL means failure */
        if (head) {
            head->src.name = strdup("");
            head->src.source = "none";
            if (!head->src.name) {
                free(head);
                head = NULL;
                snprintf(err, cap, "out of memory");
            }
        }
    }
    return head;
}

/* GET /models?reload=1: the folder, cache and preset read again. */
static void reload(struct request *rq, struct router *r) {
    char err[512] = "";
    if (!reload_models(r, err, sizeof err)) {
        reply_error(rq, 500, NULL, "reload_failed", "cannot reload the models: %s", err);
    }
}

/* The folder, cache and preset read again (GET /models?reload=1, Ollama's pull and delete; after a download or a
 * removal): a model still listed keeps its child; one no longer listed is unloaded (and kept, unlisted, until the
 * router ends: a request may hold it). False with a message in err (cap bytes) when they cannot be read; the list is
 * then as it was. */
static bool reload_models(struct router *r, char *err, size_t cap) {
    err[0] = '\0';
    struct rmodel *fresh = find_models(&r->opt, err, cap);
    if (!fresh) {
        return false;
    }
    pthread_mutex_lock(&r->lock);
    for (struct rmodel *m = r->models; m; m = m->next) {
        m->listed = false;
    }
    struct rmodel **tail = &r->models;
    while (*tail) {
        tail = &(*tail)->next;
    }
    while (fresh) {
        struct rmodel *next = fresh->next;
        fresh->next = NULL;
        struct rmodel *old = NULL;
        for (struct rmodel *m = r->models; m && fresh->src.name[0]; m = m->next) {
            if (strcmp(m->src.name, fresh->src.name) == 0) {
                old = m;
            }
        }
        if (!fresh->src.name[0] || fresh->state != M_UNLOADED) {
            rmodel_free(fresh);
        } else if (old) {
            /* the same name: the new description (used at its next start), the running child kept */
            struct router_source s = old->src;
            char **flags = old->flags;
            size_t n_flags = old->n_flags;
            old->src = fresh->src;
            old->flags = fresh->flags;
            old->n_flags = fresh->n_flags;
            old->listed = true;
            fresh->src = s;
            /* the old name string stays: readers of m->src.name (the log, messages) hold no lock */
            char *name = old->src.name;
            old->src.name = fresh->src.name;
            fresh->src.name = name;
            fresh->flags = flags;
            fresh->n_flags = n_flags;
            rmodel_free(fresh);
        } else {
            *tail = fresh;
            tail = &fresh->next;
        }
        fresh = next;
    }
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (!m->listed && running(m) && m->state != M_UNLOADING) {
            begin_unload(r, m);
        }
    }
    notify(r, "models_reload", "*", NULL);
    pthread_mutex_unlock(&r->lock);
    return true;
}

/* Single-model mode's one model, named as the single-model server names it (its alias list, else the file name),
 * to be loaded at once (a server starts with its model loaded; it sleeps when idle). */
static struct rmodel *single_model(const struct router_options *o, char *err, size_t cap) {
    struct rmodel *m = calloc(1, sizeof *m);
    const char *src = o->single_model ? o->single_model : o->single_hf;
    const char *slash = o->single_model ? strrchr(src, '/') : NULL;
    const char *name = o->single_alias ? o->single_alias : slash ? slash + 1 : src;
    if (m) {
        m->src.name = strdup(name);
        m->src.path = o->single_model ? strdup(o->single_model) : NULL;
        m->src.hf = o->single_hf && !o->single_model ? strdup(o->single_hf) : NULL;
        m->src.source = "model";
        m->listed = true;
        m->state = M_LOADING;
        m->spawn_pending = true;
        m->attempts = 1;
    }
    if (!m || !m->src.name || (!m->src.path && !m->src.hf) ||
        !router_facts_read(m->src.path, NULL, &m->src.facts)) { /* for Ollama's /api/tags while it sleeps */
        if (m) {
            rmodel_free(m);
        }
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    return m;
}

/* The preset's load-on-startup models marked for the monitor to start (before the server answers a request); false
 * with a message in err when there are more than --models-max of them, as llama-server refuses. */
static bool load_on_startup(struct router *r, char *err, size_t cap) {
    unsigned n = 0;
    for (struct rmodel *m = r->models; m; m = m->next) {
        n += m->listed && m->src.load_on_startup;
    }
    if (r->opt.models_max > 0 && n > r->opt.models_max) {
        snprintf(err, cap, "--models-preset %s: %u models have load-on-startup, more than --models-max %u",
                 r->opt.models_preset, n, r->opt.models_max);
        return false;
    }
    for (struct rmodel *m = r->models; m; m = m->next) {
        if (m->listed && m->src.load_on_startup) {
            m->state = M_LOADING;
            m->spawn_pending = true;
            m->attempts = 1;
            m->last_used_ms = server_now_ms();
        }
    }
    return true;
}

/* Frees a router that no server owns yet, or whose children have all ended (router_free). */
static void router_destroy(struct router *r) {
    while (r->downloads) { /* each stops at its next progress call (r->stopping) */
        struct download *next = r->downloads->next;
        pthread_join(r->downloads->thread, NULL);
        free(r->downloads->name);
        free(r->downloads);
        r->downloads = next;
    }
    for (size_t i = 0; i < EVENTS_KEPT; i++) {
        free(r->events[i]);
    }
    while (r->models) {
        struct rmodel *next = r->models->next;
        if (r->models->reader_joinable) {
            pthread_join(r->models->reader, NULL);
        }
        rmodel_free(r->models);
        r->models = next;
    }
    pthread_mutex_destroy(&r->lock);
    pthread_cond_destroy(&r->cond);
    free(r);
}

server *router_start(const struct server_options *so, const struct router_options *ro, char *err, size_t cap) {
    struct router *r = calloc(1, sizeof *r);
    if (!r) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    r->opt = *ro;
    pthread_mutex_init(&r->lock, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&r->cond, &ca);
    pthread_condattr_destroy(&ca);
    err[0] = '\0';
    if (ro->single_model || ro->single_hf) {
        r->models = single_model(ro, err, cap);
        r->single = r->models;
    } else if ((r->models = find_models(ro, err, cap)) && !load_on_startup(r, err, cap)) {
        router_destroy(r);
        return NULL;
    }
    unsigned char rnd[16] = { 0 };
    FILE *f = r->models ? fopen("/dev/urandom", "rb") : NULL;
    size_t got = f ? fread(rnd, 1, sizeof rnd, f) : 0;
    if (f) {
        fclose(f);
    }
    struct server *s = got == sizeof rnd ? server_create(so) : NULL;
    if (!s) {
        if (r->models) {
            snprintf(err, cap, got == sizeof rnd ? "out of memory" : "cannot read /dev/urandom for the children's key");
        }
        router_destroy(r);
        return NULL;
    }
    for (size_t i = 0; i < sizeof rnd; i++) {
        snprintf(r->key + 2 * i, 3, "%02x", rnd[i]);
    }
    s->router = r;
    r->s = s;
    s->model_id = strdup("router");
    if (!static_init(s, err, cap) || !http_start(s, err, cap)) {
        server_shutdown(s, 0); /* the router with it */
        return NULL;
    }
    r->monitor_running = pthread_create(&r->monitor, NULL, monitor_run, r) == 0;
    if (!r->monitor_running) {
        snprintf(err, cap, "cannot start the router's monitor thread");
        server_shutdown(s, 0);
        return NULL;
    }
    atomic_store(&s->ready, true);
    return s;
}

void router_stop(struct server *s) {
    struct router *r = s->router;
    if (!r) {
        return;
    }
    pthread_mutex_lock(&r->lock);
    r->stopping = true;
    for (struct rmodel *m = r->models; m; m = m->next) {
        begin_unload(r, m);
    }
    if (r->monitor_running) {
        while (n_running(r) > 0) { /* the monitor kills what does not exit in time */
            wait_ms(r, 1000);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

void router_free(struct server *s) {
    struct router *r = s->router;
    if (!r) {
        return;
    }
    router_stop(s);
    pthread_mutex_lock(&r->lock);
    pthread_cond_broadcast(&r->cond);
    pthread_mutex_unlock(&r->lock);
    if (r->monitor_running) {
        pthread_join(r->monitor, NULL);
    }
    router_destroy(r);
    s->router = NULL;
}

/* ---- for Ollama's endpoints (router_ollama.c) ---- */

bool router_entries(struct server *s, struct router_entry **out, size_t *n) {
    struct router *r = s->router;
    *out = NULL;
    *n = 0;
    pthread_mutex_lock(&r->lock);
    size_t count = 0;
    for (struct rmodel *m = r->models; m; m = m->next) {
        count += m->listed;
    }
    struct router_entry *list = calloc(count + 1, sizeof *list);
    bool ok = list != NULL;
    struct timespec real;
    clock_gettime(CLOCK_REALTIME, &real);
    int64_t real_ms = (int64_t)real.tv_sec * 1000 + real.tv_nsec / 1000000, mono_ms = server_now_ms();
    for (struct rmodel *m = r->models; m && ok; m = m->next) {
        if (!m->listed) {
            continue;
        }
        struct router_entry *e = &list[(*n)++];
        e->name = strdup(m->src.name);
        e->path = m->src.path ? strdup(m->src.path) : NULL;
        e->source = m->src.source;
        e->size = m->src.size;
        bool facts = router_facts_copy(&e->facts, &m->src.facts);
        e->loaded = m->state == M_LOADED;
        e->port = m->port;
        int64_t due = idle_deadline(r, m);
        e->expires_ms = due == INT64_MAX ? INT64_MAX : real_ms + (due - mono_ms);
        ok = e->name && (!m->src.path || e->path) && facts;
    }
    pthread_mutex_unlock(&r->lock);
    if (!ok) {
        router_entries_free(list, *n);
        *n = 0;
        return false;
    }
    *out = list;
    return true;
}

void router_entries_free(struct router_entry *list, size_t n) {
    for (size_t i = 0; list && i < n; i++) {
        free(list[i].name);
        free(list[i].path);
        router_facts_free(&list[i].facts);
    }
    free(list);
}

bool router_is_single(struct server *s) {
    return s->router->single != NULL;
}

bool router_find(struct server *s, const char *name, char *id, size_t cap) {
    struct router *r = s->router;
    pthread_mutex_lock(&r->lock);
    struct rmodel *m = r->single ? r->single : name ? lookup(r, name) : NULL;
    if (m) {
        snprintf(id, cap, "%s", m->src.name);
    }
    pthread_mutex_unlock(&r->lock);
    return m != NULL;
}

void router_unload_now(struct server *s, const char *id) {
    struct router *r = s->router;
    pthread_mutex_lock(&r->lock);
    struct rmodel *m = lookup(r, id);
    while (m && running(m)) {
        if (m->wanted == 0 && m->state != M_UNLOADING) {
            server_log(s, LLAMAC_LOG_INFO, "model %s: unloading (keep_alive 0, or a delete)", m->src.name);
            begin_unload(r, m);
        }
        wait_ms(r, 1000); /* until the requests it serves end, then until its process is gone */
    }
    pthread_mutex_unlock(&r->lock);
}

bool router_rescan(struct server *s, char *err, size_t cap) {
    err[0] = '\0';
    return s->router->single || reload_models(s->router, err, cap);
}

json_t *router_child_get(struct server *s, uint16_t port, const char *path) {
    return child_get_json(s->router, port, path);
}
