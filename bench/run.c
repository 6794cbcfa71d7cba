/*
 * run.c - `llamac-bench-run`: llamac against llama.cpp, measured in the same run, as a table.
 *
 * For every model of the set, repetitions alternate between the two sides, one process per measurement, so that
 * whatever else the machine is doing falls on both alike: llamac-bench --mode speed against llama-bench (pp and
 * tg, -r 1 each, the same -t/-p/-n and llama.cpp's default batch, ubatch, flash attention, KV types and mmap on
 * both), then llamac-bench --mode latency against llamac-bench-ref (model load and time to first token, which
 * llama-bench does not measure). The side that goes first alternates too. Both peak RSS figures are measured the
 * same way: each process is stopped as it exits and its VmHWM read (see exit_stop). A shared machine is the enemy: each
 * run waits for idle CPUs, and a run during which other processes took a share of the machine (from /proc/stat) is
 * repeated. The table gives each figure's median for llamac and llama.cpp and, against the target, the median of the
 * ratios of runs made side by side (what the machine did at the time weighs on both runs of a pair); generation speed
 * is also shown as a share of the machine's limit, memory bandwidth (llamac-bench-stream) / bytes of weights read per
 * token. A sampler table follows: generation speed through each sampler chain on one model. Everything, every run's
 * record included, also goes to JSON.
 */
#define _DEFAULT_SOURCE /* wait4, ptrace */

#include "llamac.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ptrace.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#define MAX_REPS 64
#define MAX_MODELS 8
#define MAX_SAMPLERS 16

/* ---- the figures ---- */

enum figure { FIG_PP, FIG_TG, FIG_TTFT, FIG_LOAD, FIG_RSS, N_FIGURES };
enum side { LLAMAC, LLAMACPP, N_SIDES };

static const struct {
    const char *key;
    bool higher_is_better;
    double target; /* ratio llamac / llama.cpp: at least this (higher is better) or at most */
} figures[N_FIGURES] = {
    [FIG_PP] = { "pp_tokens_per_s", true, 0.98 }, [FIG_TG] = { "tg_tokens_per_s", true, 0.98 },
    [FIG_TTFT] = { "ttft_ms", false, 1.02 },      [FIG_LOAD] = { "load_ms", false, 1.05 },
    [FIG_RSS] = { "peak_rss_mib", false, 1.05 },
};

struct samples {
    double v[MAX_REPS];
    int n;
};

struct sampler_row {
    char name[64];
    char chain[160];
    double tokens_per_s;
    double sample_ms_per_token;
};

struct model {
    char label[64];
    char path[1024];
    char description[128];
    int reps;
    bool skipped;
    char why[2400];
    double size_bytes;
    double bytes_per_token;
    struct samples s[N_SIDES][N_FIGURES];
    struct sampler_row samplers[MAX_SAMPLERS];
    int n_samplers;
    int sampler_n_gen;
    int disturbed; /* runs kept although other processes took more than max_others of the machine */
};

struct config {
    const char *bin_dir;
    const char *llama_bench;
    const char *work_dir;
    const char *out_dir;
    const char *vocab_dir;
    const char *test_models;
    const char *quantizer;
    const char *sampler_model; /* label */
    int threads;
    int n_prompt;
    int n_gen;
    int reps; /* 0: each model's own */
    int sampler_n_gen;
    double max_others;  /* share of the machine other processes may take during a run */
    int retries;        /* repeats of a disturbed run */
    double idle_wait_s; /* longest wait for a quiet machine before each run */
    bool same_libs;
    bool samplers;
    FILE *json_runs; /* every run's record, one object per line, collected into the JSON file */
    char runs_path[1100];
    char log_path[1100];
};

/* ---- small helpers ---- */

#if defined(__GNUC__)
#    define BENCH_PRINTF(a, b) __attribute__((format(printf, a, b)))
#else
#    define BENCH_PRINTF(a, b)
#endif

static void die(const char *fmt, ...) BENCH_PRINTF(1, 2);
static void note(const char *fmt, ...) BENCH_PRINTF(1, 2);

static void die(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "llamac-bench-run: ");
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
    exit(1);
}

static void note(const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    vfprintf(stderr, fmt, ap);
    fprintf(stderr, "\n");
    va_end(ap);
}

static double now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static bool file_exists(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode) && st.st_size > 0;
}

static void json_str(FILE *f, const char *s) {
    fputc('"', f);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\') {
            fprintf(f, "\\%c", c);
        } else if (c < 0x20) {
            fprintf(f, "\\u%04x", c);
        } else {
            fputc(c, f);
        }
    }
    fputc('"', f);
}

/* Finds "key": in one line of JSON; returns what follows the colon, or NULL. Enough for the flat objects that
 * llama-bench (-o jsonl) and our own programs print, one per line. */
static const char *json_find(const char *line, const char *key) {
    char pat[80];
    snprintf(pat, sizeof pat, "\"%s\"", key);
    for (const char *p = strstr(line, pat); p; p = strstr(p + 1, pat)) {
        const char *q = p + strlen(pat);
        while (*q == ' ') {
            q++;
        }
        if (*q == ':') {
            q++;
            while (*q == ' ') {
                q++;
            }
            return q;
        }
    }
    return NULL;
}

/* A number, or the first number of an array. */
static bool json_num(const char *line, const char *key, double *out) {
    const char *p = json_find(line, key);
    if (!p) {
        return false;
    }
    if (*p == '[') {
        p++;
        while (*p == ' ') {
            p++;
        }
    }
    char *end = NULL;
    double v = strtod(p, &end);
    if (end == p) {
        return false;
    }
    *out = v;
    return true;
}

static bool json_string(const char *line, const char *key, char *buf, size_t cap) {
    const char *p = json_find(line, key);
    if (!p || *p != '"' || cap == 0) {
        return false;
    }
    size_t n = 0;
    for (p++; *p && *p != '"' && n + 1 < cap; p++) {
        if (*p == '\\' && p[1]) {
            p++;
        }
        buf[n++] = *p;
    }
    buf[n] = '\0';
    return true;
}

/* The line of `out` that is the object {"test": "<test>", ...}, or NULL. Lines are NUL-separated by split(). */
static const char *find_test(const char *out, size_t len, const char *test) {
    char want[64];
    for (const char *line = out; line < out + len; line += strlen(line) + 1) {
        if (json_string(line, "test", want, sizeof want) && strcmp(want, test) == 0) {
            return line;
        }
    }
    return NULL;
}

static void split_lines(char *buf, size_t len) {
    for (size_t i = 0; i < len; i++) {
        if (buf[i] == '\n') {
            buf[i] = '\0';
        }
    }
}

static double median(const struct samples *s) {
    if (s->n == 0) {
        return 0;
    }
    double v[MAX_REPS];
    memcpy(v, s->v, (size_t)s->n * sizeof v[0]);
    for (int i = 1; i < s->n; i++) {
        for (int j = i; j > 0 && v[j] < v[j - 1]; j--) {
            double t = v[j];
            v[j] = v[j - 1];
            v[j - 1] = t;
        }
    }
    return s->n % 2 ? v[s->n / 2] : (v[s->n / 2 - 1] + v[s->n / 2]) / 2;
}

/* The best sample: the highest speed, the lowest time or memory. A second view beside the medians: most noise slows
 * a run down, but on a virtual machine a lucky run (a neighbour idle for a moment) happens too. */
static double best(enum figure f, const struct samples *s) {
    double b = 0;
    for (int i = 0; i < s->n; i++) {
        if (i == 0 || (figures[f].higher_is_better ? s->v[i] > b : s->v[i] < b)) {
            b = s->v[i];
        }
    }
    return b;
}

/* The median of the ratios a[i] / b[i] of runs made side by side: what the machine was doing at the time weighs
 * on both runs of a pair alike. */
static double paired_ratio(const struct samples *a, const struct samples *b) {
    struct samples r;
    memset(&r, 0, sizeof r);
    for (int i = 0; i < a->n && i < b->n; i++) {
        if (b->v[i] > 0) {
            r.v[r.n++] = a->v[i] / b->v[i];
        }
    }
    return median(&r);
}

/* Half the range of the samples, relative to their median. */
static double spread(const struct samples *s) {
    double lo = 0, hi = 0, m = median(s);
    for (int i = 0; i < s->n; i++) {
        lo = i == 0 || s->v[i] < lo ? s->v[i] : lo;
        hi = i == 0 || s->v[i] > hi ? s->v[i] : hi;
    }
    return m > 0 ? (hi - lo) / 2 / m : 0;
}

static void add_sample(struct samples *s, double v) {
    if (s->n < MAX_REPS) {
        s->v[s->n++] = v;
    }
}

/* ---- running a measurement ---- */

struct proc {
    int status; /* exit status, or -1 when it did not exit normally */
    long max_rss_kib;
    double wall_ms;
    double others; /* share of the machine's CPU time that other processes (or the hypervisor) took meanwhile */
    bool traced;   /* stopped at its exit: max_rss_kib is its own VmHWM */
    char *out;     /* stdout, lines NUL-separated; owned */
    size_t len;
};

/* Busy CPU time of the whole machine so far, in seconds (steal included: time the hypervisor gave elsewhere). */
static double machine_busy_s(void) {
    FILE *f = fopen("/proc/stat", "r");
    if (!f) {
        return 0;
    }
    unsigned long long v[8] = { 0 };
    int n = fscanf(f, "cpu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2], &v[3], &v[4], &v[5], &v[6],
                   &v[7]);
    fclose(f);
    if (n < 8) {
        return 0;
    }
    /* user nice system idle iowait irq softirq steal: everything but idle and iowait */
    return (double)(v[0] + v[1] + v[2] + v[5] + v[6] + v[7]) / (double)sysconf(_SC_CLK_TCK);
}

static double tv_s(struct timeval tv) {
    return (double)tv.tv_sec + (double)tv.tv_usec / 1e6;
}

/* The peak RSS of a process's current program (VmHWM in /proc/PID/status), in KiB; 0 when unknown. */
static long vm_hwm_kib(pid_t pid) {
    char path[64], line[256];
    snprintf(path, sizeof path, "/proc/%ld/status", (long)pid);
    FILE *f = fopen(path, "r");
    long kib = 0;
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "VmHWM: %ld kB", &kib) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    return kib;
}

/* Handles a stop of a traced child. The peak RSS that wait4 reports is the larger of the program's own and the
 * forked copy of this driver it replaced, so a small program would show the driver's size; instead the child is
 * stopped as it exits (PTRACE_O_TRACEEXIT), when its memory still exists, and VmHWM is read. The first stop is the
 * exec; other stops are signals, passed on. Threads are not traced, and nothing else stops the child. */
static void exit_stop(pid_t pid, int status, struct proc *p) {
    int sig = WSTOPSIG(status);
    if (status >> 8 == (SIGTRAP | (PTRACE_EVENT_EXIT << 8))) {
        p->max_rss_kib = vm_hwm_kib(pid);
        sig = 0;
    } else if (sig == SIGTRAP && !p->traced) {
        p->traced = ptrace(PTRACE_SETOPTIONS, pid, NULL, (void *)(long)PTRACE_O_TRACEEXIT) == 0;
        sig = 0;
    }
    ptrace(PTRACE_CONT, pid, NULL, (void *)(long)sig);
}

/* Runs argv (argv[0] a path) with stdout captured and stderr appended to the log; peak RSS as exit_stop says. */
static bool run_proc(const struct config *cfg, const char *const argv[], const char *ld_path, struct proc *p) {
    memset(p, 0, sizeof *p);
    FILE *log = fopen(cfg->log_path, "a");
    if (log) {
        fprintf(log, "\n$");
        for (int i = 0; argv[i]; i++) {
            fprintf(log, " %s", argv[i]);
        }
        fprintf(log, "\n");
        fclose(log);
    }
    int fds[2];
    if (pipe(fds) != 0) {
        return false;
    }
    double busy0 = machine_busy_s();
    double t0 = now_ms();
    pid_t pid = fork();
    if (pid < 0) {
        close(fds[0]);
        close(fds[1]);
        return false;
    }
    if (pid == 0) {
        dup2(fds[1], STDOUT_FILENO);
        close(fds[0]);
        close(fds[1]);
        int err = open(cfg->log_path, O_WRONLY | O_APPEND | O_CREAT, 0644);
        if (err >= 0) {
            dup2(err, STDERR_FILENO);
            close(err);
        }
        if (ld_path) {
            setenv("LD_LIBRARY_PATH", ld_path, 1);
        }
        /* Traced only to be stopped at its exit, when its peak RSS can still be read (see exit_stop). */
        ptrace(PTRACE_TRACEME, 0, NULL, NULL);
        char *args[32];
        int n = 0;
        for (; n < 31 && argv[n]; n++) {
            args[n] = strdup(argv[n]);
        }
        args[n] = NULL;
        execv(args[0], args);
        fprintf(stderr, "cannot run %s: %s\n", argv[0], strerror(errno));
        _exit(127);
    }
    close(fds[1]);
    size_t cap = 4096;
    p->out = malloc(cap);
    bool eof = false, exited = false;
    int status = 0;
    struct rusage ru;
    memset(&ru, 0, sizeof ru);
    while (!eof || !exited) {
        if (!eof) {
            struct pollfd pfd = { fds[0], POLLIN, 0 };
            if (poll(&pfd, 1, 20) > 0) {
                if (p->out && p->len + 1024 > cap) {
                    char *grown = realloc(p->out, cap * 2);
                    if (grown) {
                        p->out = grown;
                        cap *= 2;
                    }
                }
                char sink[1024];
                char *dst = p->out && p->len + 1024 <= cap ? p->out + p->len : sink;
                ssize_t n = read(fds[0], dst, dst == sink ? sizeof sink : cap - p->len - 1);
                if (n == 0 || (n < 0 && errno != EINTR && errno != EAGAIN)) {
                    eof = true;
                } else if (n > 0 && dst != sink) {
                    p->len += (size_t)n;
                }
            }
        }
        if (!exited) {
            /* Blocks only once the output has ended: the process is exiting, or stopped at its exit. */
            pid_t r = wait4(pid, &status, eof ? 0 : WNOHANG, &ru);
            if (r == pid && WIFSTOPPED(status)) {
                exit_stop(pid, status, p);
            } else if (r == pid || (r < 0 && errno != EINTR)) {
                exited = true;
            }
        }
    }
    close(fds[0]);
    p->wall_ms = now_ms() - t0;
    double others = machine_busy_s() - busy0 - tv_s(ru.ru_utime) - tv_s(ru.ru_stime);
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    p->others = others > 0 && p->wall_ms > 0 ? others / ((double)(cpus > 0 ? cpus : 1) * p->wall_ms / 1e3) : 0;
    p->status = WIFEXITED(status) ? WEXITSTATUS(status) : -1;
    if (p->max_rss_kib <= 0) {
        p->max_rss_kib = ru.ru_maxrss; /* not traced: this figure also counts the driver's pages before exec */
    }
    if (!p->out) {
        return false;
    }
    p->out[p->len] = '\0';
    split_lines(p->out, p->len);
    return p->status == 0;
}

/* One record per process for the JSON file: what ran, its exit status, peak RSS, wall time and its output. */
static void record_run(const struct config *cfg, const struct model *m, const char *side, const char *what, int rep,
                       const struct proc *p) {
    FILE *f = cfg->json_runs;
    if (!f) {
        return;
    }
    fprintf(f, "{\"model\": ");
    json_str(f, m->label);
    fprintf(f,
            ", \"side\": \"%s\", \"run\": \"%s\", \"rep\": %d, \"exit_status\": %d, \"max_rss_kib\": %ld, "
            "\"rss_from\": \"%s\", \"wall_ms\": %.1f, \"others_cpu_share\": %.3f, \"output\": [",
            side, what, rep, p->status, p->max_rss_kib, p->traced ? "VmHWM at exit" : "wait4", p->wall_ms, p->others);
    bool first = true;
    for (const char *line = p->out; p->out && line < p->out + p->len; line += strlen(line) + 1) {
        if (line[0] == '{') {
            fprintf(f, "%s%s", first ? "" : ", ", line);
            first = false;
        }
    }
    fprintf(f, "]}\n");
}

/* Waits (at most cfg->idle_wait_s) until other processes leave the machine alone: on a shared machine a run that
 * competes for the cores is mostly a measurement of the competition. */
static void wait_idle(const struct config *cfg) {
    long cpus = sysconf(_SC_NPROCESSORS_ONLN);
    bool told = false;
    for (double waited = 0; waited < cfg->idle_wait_s; waited += 0.5) {
        double b0 = machine_busy_s();
        struct timespec half = { 0, 500000000L };
        nanosleep(&half, NULL);
        double share = (machine_busy_s() - b0) / ((double)(cpus > 0 ? cpus : 1) * 0.5);
        if (share <= cfg->max_others) {
            return;
        }
        if (!told) {
            note("  (waiting for other processes to leave the CPUs: %.0f%% busy)", 100.0 * share);
            told = true;
        }
    }
}

/* Runs one measurement; a run during which other processes took more than cfg->max_others of the machine is
 * repeated, up to cfg->retries times. Every attempt is recorded. *disturbed counts the runs kept anyway. */
static bool run_measured(const struct config *cfg, const struct model *m, const char *side, const char *what, int rep,
                         const char *const argv[], const char *ld_path, struct proc *p, int *disturbed) {
    bool ok = false;
    for (int attempt = 0; attempt <= cfg->retries; attempt++) {
        if (attempt > 0) {
            free(p->out);
            note("  (%s %s: other processes took %.0f%% of the CPUs; again)", side, what, 100.0 * p->others);
        }
        wait_idle(cfg);
        ok = run_proc(cfg, argv, ld_path, p);
        record_run(cfg, m, side, what, rep, p);
        if (!ok || p->others <= cfg->max_others) {
            return ok;
        }
    }
    if (disturbed) {
        (*disturbed)++;
    }
    return ok;
}

static char *path_in(const char *dir, const char *name) {
    size_t n = strlen(dir) + strlen(name) + 2;
    char *s = malloc(n);
    if (!s) {
        die("out of memory");
    }
    snprintf(s, n, "%s/%s", dir, name);
    return s;
}

/* The directory of llama.cpp's libraries that libllamac uses (for --same-libs). */
static const char *llamac_lib_dir(void) {
    return LLAMAC_BENCH_LLAMA_LIB_DIR;
}

static bool measure_llamac_speed(const struct config *cfg, struct model *m, int rep) {
    char t[16], pp[16], tg[16];
    snprintf(t, sizeof t, "%d", cfg->threads);
    snprintf(pp, sizeof pp, "%d", cfg->n_prompt);
    snprintf(tg, sizeof tg, "%d", cfg->n_gen);
    char *exe = path_in(cfg->bin_dir, "llamac-bench");
    const char *argv[] = { exe, "-m", m->path, "--mode", "speed", "-t", t, "-p", pp, "-n", tg, "-r", "1", NULL };
    struct proc p;
    bool ok = run_measured(cfg, m, "llamac", "llamac-bench --mode speed", rep, argv, NULL, &p, &m->disturbed);
    double v;
    const char *line;
    if (ok && cfg->n_prompt > 0 && ((line = find_test(p.out, p.len, "pp")) == NULL || !json_num(line, "avg_ts", &v))) {
        ok = false;
    } else if (ok && cfg->n_prompt > 0) {
        add_sample(&m->s[LLAMAC][FIG_PP], v);
    }
    if (ok && cfg->n_gen > 0 && ((line = find_test(p.out, p.len, "tg")) == NULL || !json_num(line, "avg_ts", &v))) {
        ok = false;
    } else if (ok && cfg->n_gen > 0) {
        add_sample(&m->s[LLAMAC][FIG_TG], v);
    }
    if (ok && (line = find_test(p.out, p.len, "model")) != NULL) {
        json_string(line, "description", m->description, sizeof m->description);
        json_num(line, "size_bytes", &m->size_bytes);
    }
    if (ok) {
        add_sample(&m->s[LLAMAC][FIG_RSS], (double)p.max_rss_kib / 1024.0);
    }
    free(p.out);
    free(exe);
    return ok;
}

static bool measure_llama_bench(const struct config *cfg, struct model *m, int rep) {
    char t[16], pp[16], tg[16];
    snprintf(t, sizeof t, "%d", cfg->threads);
    snprintf(pp, sizeof pp, "%d", cfg->n_prompt);
    snprintf(tg, sizeof tg, "%d", cfg->n_gen);
    const char *argv[] = {
        cfg->llama_bench, "-m", m->path, "-t", t, "-p", pp, "-n", tg, "-r", "1", "-o", "jsonl", NULL
    };
    struct proc p;
    bool ok = run_measured(cfg, m, "llama.cpp", "llama-bench", rep, argv, cfg->same_libs ? llamac_lib_dir() : NULL, &p,
                           &m->disturbed);
    bool got_pp = cfg->n_prompt == 0, got_tg = cfg->n_gen == 0;
    for (const char *line = p.out; ok && line < p.out + p.len; line += strlen(line) + 1) {
        double np = 0, ng = 0, ts = 0;
        if (!json_num(line, "n_prompt", &np) || !json_num(line, "n_gen", &ng) || !json_num(line, "avg_ts", &ts)) {
            continue;
        }
        if (np > 0 && ng == 0) {
            add_sample(&m->s[LLAMACPP][FIG_PP], ts);
            got_pp = true;
        } else if (np == 0 && ng > 0) {
            add_sample(&m->s[LLAMACPP][FIG_TG], ts);
            got_tg = true;
        }
    }
    ok = ok && got_pp && got_tg;
    if (ok) {
        add_sample(&m->s[LLAMACPP][FIG_RSS], (double)p.max_rss_kib / 1024.0);
    }
    free(p.out);
    return ok;
}

/* The latency pair: llamac-bench or llamac-bench-ref (the same work through llama.cpp directly). */
static bool measure_latency(const struct config *cfg, struct model *m, enum side side, int rep) {
    char t[16], pp[16];
    snprintf(t, sizeof t, "%d", cfg->threads);
    snprintf(pp, sizeof pp, "%d", cfg->n_prompt > 0 ? cfg->n_prompt : 1);
    char *exe = path_in(cfg->bin_dir, side == LLAMAC ? "llamac-bench" : "llamac-bench-ref");
    const char *argv[] = { exe, "-m", m->path, "--mode", "latency", "-t", t, "-p", pp, "-r", "1", NULL };
    struct proc p;
    bool ok = run_measured(cfg, m, side == LLAMAC ? "llamac" : "llama.cpp",
                           side == LLAMAC ? "llamac-bench --mode latency" : "llamac-bench-ref --mode latency", rep,
                           argv, NULL, &p, &m->disturbed);
    const char *load = ok ? find_test(p.out, p.len, "load") : NULL;
    const char *ttft = ok ? find_test(p.out, p.len, "ttft") : NULL;
    double lv, tv;
    ok = load && ttft && json_num(load, "load_ms", &lv) && json_num(ttft, "samples_ms", &tv);
    if (ok) {
        add_sample(&m->s[side][FIG_LOAD], lv);
        add_sample(&m->s[side][FIG_TTFT], tv);
    }
    free(p.out);
    free(exe);
    return ok;
}

static bool measure_weights(const struct config *cfg, struct model *m) {
    char *exe = path_in(cfg->bin_dir, "llamac-bench-ref");
    const char *argv[] = { exe, "-m", m->path, "--mode", "weights", "-t", "1", NULL };
    struct proc p;
    bool ok = run_proc(cfg, argv, NULL, &p);
    const char *line = ok ? find_test(p.out, p.len, "weights") : NULL;
    ok = line && json_num(line, "bytes_per_token", &m->bytes_per_token);
    free(p.out);
    free(exe);
    return ok;
}

static bool measure_samplers(const struct config *cfg, struct model *m) {
    char t[16], n[16];
    snprintf(t, sizeof t, "%d", cfg->threads);
    snprintf(n, sizeof n, "%d", cfg->sampler_n_gen);
    char *exe = path_in(cfg->bin_dir, "llamac-bench");
    const char *argv[] = { exe, "-m", m->path, "--mode", "samplers", "-t", t, "-n", n, "-r", "1", NULL };
    struct proc p;
    bool ok = run_measured(cfg, m, "llamac", "llamac-bench --mode samplers", 0, argv, NULL, &p, NULL);
    char test[32];
    for (const char *line = p.out; ok && line < p.out + p.len; line += strlen(line) + 1) {
        if (!json_string(line, "test", test, sizeof test) || strcmp(test, "sampler") != 0 ||
            m->n_samplers == MAX_SAMPLERS) {
            continue;
        }
        struct sampler_row *r = &m->samplers[m->n_samplers];
        double sample_ms = 0, n_gen = 0;
        if (json_string(line, "name", r->name, sizeof r->name) &&
            json_string(line, "chain", r->chain, sizeof r->chain) && json_num(line, "avg_ts", &r->tokens_per_s) &&
            json_num(line, "sample_ms", &sample_ms) && json_num(line, "n_gen", &n_gen) && n_gen > 0) {
            r->sample_ms_per_token = sample_ms / n_gen;
            m->n_samplers++;
        }
    }
    m->sampler_n_gen = cfg->sampler_n_gen;
    free(p.out);
    free(exe);
    return ok && m->n_samplers > 0;
}

/* ---- the models ---- */

/* Synthesizes the Qwen2.5-0.5B-shaped model (cached: the same parameters always give the same bytes). */
static bool synth_model(const struct config *cfg, const char *path, llamac_synth_type type, char *why, size_t cap) {
    if (file_exists(path)) {
        return true;
    }
    char *vocab = path_in(cfg->vocab_dir, "ggml-vocab-qwen2.gguf");
    llamac_synth_params sp = llamac_synth_params_default();
    sp.like = "qwen2.5-0.5b";
    sp.type = type;
    sp.vocab_from = vocab;
    note("synthesizing %s", path);
    llamac_status st = llamac_synth_write(path, &sp);
    if (st != LLAMAC_OK) {
        snprintf(why, cap, "cannot synthesize it: %s", llamac_last_error());
    }
    free(vocab);
    return st == LLAMAC_OK;
}

/* Quantizes `src` into `dst` (cached) with llamac_quantize, or with `quantizer SRC DST TYPE` when one is named
 * (llama-quantize's positional form; llamac_quantize's output is byte-for-byte llama-quantize's anyway). */
static bool quantize_model(const struct config *cfg, const char *src, const char *dst, const char *type, char *why,
                           size_t cap) {
    if (file_exists(dst)) {
        return true;
    }
    note("quantizing %s", dst);
    if (!cfg->quantizer) {
        llamac_quantize_params qp = llamac_quantize_params_default();
        llamac_status st = llamac_ftype_from_name(type, &qp.ftype);
        if (st == LLAMAC_OK) {
            st = llamac_quantize(src, dst, &qp, NULL);
        }
        if (st != LLAMAC_OK) {
            snprintf(why, cap, "cannot quantize it: %s", llamac_last_error());
        }
        return st == LLAMAC_OK;
    }
    const char *argv[] = { cfg->quantizer, src, dst, type, NULL };
    struct proc p;
    bool ok = run_proc(cfg, argv, NULL, &p);
    free(p.out);
    if (!ok) {
        snprintf(why, cap, "%s failed (exit status %d; see %s)", cfg->quantizer, p.status, cfg->log_path);
    }
    return ok;
}

/* The standard set. Repetitions: many for the tiny model (its runs take milliseconds and the noise is relatively
 * large), few for the others (a run takes tens of seconds on two cores); even counts, so each side goes first
 * equally often. */
static int standard_set(const struct config *cfg, struct model *models) {
    int n = 0;
    struct model *m = &models[n++];
    snprintf(m->label, sizeof m->label, "stories260K");
    snprintf(m->path, sizeof m->path, "%s/stories260K.gguf", cfg->test_models);
    m->reps = 16;
    if (!file_exists(m->path)) {
        m->skipped = true;
        snprintf(m->why, sizeof m->why, "%s is missing (set LLAMAC_TEST_MODELS)", m->path);
    }

    char *f16 = path_in(cfg->work_dir, "bench-models/qwen2.5-0.5b-f16.gguf");
    m = &models[n++];
    snprintf(m->label, sizeof m->label, "qwen2.5-0.5b-shaped F16");
    snprintf(m->path, sizeof m->path, "%s", f16);
    m->reps = 4;
    m->skipped = !synth_model(cfg, f16, LLAMAC_SYNTH_F16, m->why, sizeof m->why);
    bool have_f16 = !m->skipped;

    static const struct {
        const char *type;
        const char *file;
        const char *label;
    } quants[] = {
        { "Q8_0", "bench-models/qwen2.5-0.5b-q8_0.gguf", "qwen2.5-0.5b-shaped Q8_0" },
        { "Q4_K_M", "bench-models/qwen2.5-0.5b-q4_k_m.gguf", "qwen2.5-0.5b-shaped Q4_K_M" },
    };
    for (size_t i = 0; i < sizeof quants / sizeof quants[0]; i++) {
        char *q = path_in(cfg->work_dir, quants[i].file);
        m = &models[n++];
        snprintf(m->label, sizeof m->label, "%s", quants[i].label);
        snprintf(m->path, sizeof m->path, "%s", q);
        m->reps = 4;
        if (!have_f16) {
            m->skipped = true;
            snprintf(m->why, sizeof m->why, "no F16 model to quantize");
        } else {
            m->skipped = !quantize_model(cfg, f16, q, quants[i].type, m->why, sizeof m->why);
        }
        free(q);
    }
    free(f16);
    return n;
}

/* ---- the machine ---- */

static void read_first_match(const char *file, const char *prefix, char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen(file, "r");
    if (!f) {
        return;
    }
    char line[512];
    while (fgets(line, sizeof line, f)) {
        if (strncmp(line, prefix, strlen(prefix)) == 0) {
            const char *v = line + strlen(prefix);
            while (*v == ' ' || *v == '\t' || *v == ':') {
                v++;
            }
            snprintf(buf, cap, "%s", v);
            buf[strcspn(buf, "\n")] = '\0';
            break;
        }
    }
    fclose(f);
}

static void load_average(char *buf, size_t cap) {
    buf[0] = '\0';
    FILE *f = fopen("/proc/loadavg", "r");
    if (f) {
        double a = 0, b = 0, c = 0;
        if (fscanf(f, "%lf %lf %lf", &a, &b, &c) == 3) {
            snprintf(buf, cap, "%.2f %.2f %.2f", a, b, c);
        }
        fclose(f);
    }
}

/* Physical cores: distinct (package, core) pairs; the number of online CPUs when sysfs does not say. */
static int physical_cores(void) {
    long online = sysconf(_SC_NPROCESSORS_ONLN);
    int seen[1024];
    int n = 0;
    for (long cpu = 0; cpu < online && cpu < 1024; cpu++) {
        char path[128];
        int core = -1, pkg = -1;
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/core_id", cpu);
        FILE *f = fopen(path, "r");
        if (!f) {
            return online > 0 ? (int)online : 1;
        }
        if (fscanf(f, "%d", &core) != 1) {
            core = (int)cpu;
        }
        fclose(f);
        snprintf(path, sizeof path, "/sys/devices/system/cpu/cpu%ld/topology/physical_package_id", cpu);
        f = fopen(path, "r");
        if (f) {
            if (fscanf(f, "%d", &pkg) != 1) {
                pkg = 0;
            }
            fclose(f);
        }
        int key = pkg * 4096 + core;
        bool dup = false;
        for (int i = 0; i < n; i++) {
            dup = dup || seen[i] == key;
        }
        if (!dup) {
            seen[n++] = key;
        }
    }
    return n > 0 ? n : 1;
}

struct machine {
    char cpu[256];
    char mem[64];
    long cpus;
    double copy_gbs;
    double read_gbs;
    char date[32];
    char load_before[64];
    char load_after[64];
};

/* Memory bandwidth, kept as the best seen over the whole run: it is measured before every model (after waiting for
 * a quiet machine), because on a shared machine any one measurement may fall on someone else's busy moment. */
static void measure_bandwidth(const struct config *cfg, struct machine *mc) {
    char th[16];
    snprintf(th, sizeof th, "%d", cfg->threads);
    char *exe = path_in(cfg->bin_dir, "llamac-bench-stream");
    const char *argv[] = { exe, "-t", th, NULL };
    struct proc p;
    wait_idle(cfg);
    double copy = 0, read = 0;
    if (run_proc(cfg, argv, NULL, &p) && p.len > 0 && json_num(p.out, "copy_gbs", &copy) &&
        json_num(p.out, "read_gbs", &read)) {
        mc->copy_gbs = copy > mc->copy_gbs ? copy : mc->copy_gbs;
        mc->read_gbs = read > mc->read_gbs ? read : mc->read_gbs;
    }
    free(p.out);
    free(exe);
}

static void describe_machine(struct machine *mc) {
    read_first_match("/proc/cpuinfo", "model name", mc->cpu, sizeof mc->cpu);
    char kb[64];
    read_first_match("/proc/meminfo", "MemTotal", kb, sizeof kb);
    snprintf(mc->mem, sizeof mc->mem, "%.0f GiB", strtod(kb, NULL) / 1048576.0);
    mc->cpus = sysconf(_SC_NPROCESSORS_ONLN);
    time_t t = time(NULL);
    struct tm tm;
    gmtime_r(&t, &tm);
    strftime(mc->date, sizeof mc->date, "%Y-%m-%d %H:%M UTC", &tm);
}

/* ---- output ---- */

/* The machine's limit for reading weights: the better of the two kernels, so a share is never overstated. */
static double bandwidth_gbs(const struct machine *mc) {
    return mc->copy_gbs > mc->read_gbs ? mc->copy_gbs : mc->read_gbs;
}

static const char *figure_label(enum figure f, const struct config *cfg, char *buf, size_t cap) {
    switch (f) {
    case FIG_PP: snprintf(buf, cap, "pp%d, tokens/s", cfg->n_prompt); break;
    case FIG_TG: snprintf(buf, cap, "tg%d, tokens/s", cfg->n_gen); break;
    case FIG_TTFT: snprintf(buf, cap, "time to first token, %d-token prompt, ms", cfg->n_prompt); break;
    case FIG_LOAD: snprintf(buf, cap, "model load, ms"); break;
    case FIG_RSS: snprintf(buf, cap, "peak RSS, MiB"); break;
    case N_FIGURES: buf[0] = '\0'; break;
    }
    return buf;
}

static void format_value(enum figure f, double v, char *buf, size_t cap) {
    if (v <= 0) {
        snprintf(buf, cap, "-");
    } else if (f == FIG_PP || f == FIG_TG) {
        snprintf(buf, cap, v >= 100 ? "%.0f" : "%.2f", v);
    } else {
        snprintf(buf, cap, v >= 100 ? "%.0f" : "%.1f", v);
    }
}

static bool target_met(enum figure f, double ratio) {
    return figures[f].higher_is_better ? ratio >= figures[f].target : ratio <= figures[f].target;
}

static void write_markdown(FILE *f, const struct config *cfg, const struct machine *mc, const struct model *models,
                           int n_models) {
    fprintf(f,
            "Machine: %s, %ld CPUs, %s of memory; %d threads; memory bandwidth %.1f GB/s copy, %.1f GB/s read "
            "(llamac-bench-stream, %d threads, best of the measurements before each model). llama.cpp %.7s on both "
            "sides; %s. Load average %s before, %s "
            "after.\n\n",
            mc->cpu, mc->cpus, mc->mem, cfg->threads, mc->copy_gbs, mc->read_gbs, cfg->threads, llamac_llama_commit(),
            mc->date, mc->load_before, mc->load_after);
    fprintf(f,
            "Each figure is the median of its runs; the ratio is the median of the ratios of runs made side by side, "
            "and the target is held against it. Spread: half the range of the runs, relative to the median.\n\n");
    fprintf(f,
            "| model | figure | llamac | llama.cpp | llamac / llama.cpp | best / best | spread, llamac / llama.cpp | "
            "target |\n");
    fprintf(f, "| --- | --- | ---: | ---: | ---: | ---: | ---: | --- |\n");
    for (int i = 0; i < n_models; i++) {
        const struct model *m = &models[i];
        if (m->skipped) {
            fprintf(f, "| %s | not measured: %s | | | | | | |\n", m->label, m->why);
            continue;
        }
        for (int fi = 0; fi < N_FIGURES; fi++) {
            enum figure fig = (enum figure)fi;
            const struct samples *sa = &m->s[LLAMAC][fig], *sb = &m->s[LLAMACPP][fig];
            double a = median(sa), b = median(sb), pr = paired_ratio(sa, sb);
            char label[96], va[32], vb[32], ratio[32] = "-", bratio[32] = "-", target[48];
            format_value(fig, a, va, sizeof va);
            format_value(fig, b, vb, sizeof vb);
            snprintf(target, sizeof target, "%s %.2f", figures[fig].higher_is_better ? "&ge;" : "&le;",
                     figures[fig].target);
            if (a > 0 && b > 0) {
                snprintf(ratio, sizeof ratio, "%.3f", pr);
                snprintf(bratio, sizeof bratio, "%.3f", best(fig, sa) / best(fig, sb));
                snprintf(target + strlen(target), sizeof target - strlen(target), " %s",
                         target_met(fig, pr) ? "met" : "**missed**");
            }
            if (fi == 0) {
                fprintf(f, "| %s (%.0f MiB, %d runs each", m->label, m->size_bytes / 1048576.0, sa->n);
                if (m->disturbed > 0) {
                    fprintf(f, "; %d runs disturbed by other processes", m->disturbed);
                }
                fprintf(f, ") ");
            } else {
                fprintf(f, "| ");
            }
            fprintf(f, "| %s | %s | %s | %s | %s | &plusmn;%.0f%% / &plusmn;%.0f%% | %s |\n",
                    figure_label(fig, cfg, label, sizeof label), va, vb, ratio, bratio, 100.0 * spread(sa),
                    100.0 * spread(sb), target);
            if (fig == FIG_TG && m->bytes_per_token > 0 && bandwidth_gbs(mc) > 0) {
                double limit = bandwidth_gbs(mc) * 1e9 / m->bytes_per_token;
                fprintf(f, "| | tg%d as a share of the bandwidth limit (%.1f tokens/s) | %.0f%% | %.0f%% | | | | |\n",
                        cfg->n_gen, limit, 100.0 * a / limit, 100.0 * b / limit);
            }
        }
    }
    for (int i = 0; i < n_models; i++) {
        const struct model *m = &models[i];
        if (m->n_samplers == 0) {
            continue;
        }
        fprintf(f,
                "\nSampler chains on %s (llamac; %d tokens each after a 16-token prompt; random weights give flat "
                "distributions, so the filters keep many candidates):\n\n",
                m->label, m->sampler_n_gen);
        fprintf(f, "| sampler | chain | tokens/s | sampling, ms/token | share of the time |\n"
                   "| --- | --- | ---: | ---: | ---: |\n");
        for (int s = 0; s < m->n_samplers; s++) {
            const struct sampler_row *r = &m->samplers[s];
            fprintf(f, "| %s | %s | %.2f | %.3f | %.0f%% |\n", r->name, r->chain[0] ? r->chain : "-", r->tokens_per_s,
                    r->sample_ms_per_token, r->sample_ms_per_token * r->tokens_per_s / 10.0);
        }
    }
}

static void write_json(FILE *f, const struct config *cfg, const struct machine *mc, const struct model *models,
                       int n_models) {
    fprintf(f, "{\n  \"llamac_version\": \"%s\",\n  \"llama_cpp_commit\": \"%s\",\n  \"date\": \"%s\",\n",
            llamac_version(), llamac_llama_commit(), mc->date);
    fprintf(f, "  \"machine\": {\"cpu\": ");
    json_str(f, mc->cpu);
    fprintf(f,
            ", \"cpus\": %ld, \"memory\": \"%s\", \"copy_gbs\": %.3f, \"read_gbs\": %.3f, \"load_before\": \"%s\", "
            "\"load_after\": \"%s\"},\n",
            mc->cpus, mc->mem, mc->copy_gbs, mc->read_gbs, mc->load_before, mc->load_after);
    fprintf(f,
            "  \"settings\": {\"threads\": %d, \"n_prompt\": %d, \"n_gen\": %d, \"max_others\": %.3f, \"retries\": %d, "
            "\"llama_bench\": ",
            cfg->threads, cfg->n_prompt, cfg->n_gen, cfg->max_others, cfg->retries);
    json_str(f, cfg->llama_bench);
    fprintf(f, ", \"llama_bench_libraries\": ");
    json_str(f, cfg->same_libs ? llamac_lib_dir() : "its own build's");
    fprintf(f, ", \"llamac_llama_libraries\": ");
    json_str(f, llamac_lib_dir());
    fprintf(f, "},\n  \"models\": [\n");
    for (int i = 0; i < n_models; i++) {
        const struct model *m = &models[i];
        fprintf(f, "    {\"label\": ");
        json_str(f, m->label);
        fprintf(f, ", \"path\": ");
        json_str(f, m->path);
        if (m->skipped) {
            fprintf(f, ", \"skipped\": ");
            json_str(f, m->why);
            fprintf(f, "}%s\n", i + 1 < n_models ? "," : "");
            continue;
        }
        fprintf(f, ", \"disturbed_runs\": %d, \"description\": ", m->disturbed);
        json_str(f, m->description);
        fprintf(f, ", \"size_bytes\": %.0f, \"bytes_per_token\": %.0f", m->size_bytes, m->bytes_per_token);
        for (int fi = 0; fi < N_FIGURES; fi++) {
            enum figure fig = (enum figure)fi;
            const struct samples *sa = &m->s[LLAMAC][fi], *sb = &m->s[LLAMACPP][fi];
            double a = median(sa), b = median(sb), pr = paired_ratio(sa, sb);
            fprintf(
                f,
                ",\n     \"%s\": {\"llamac\": %.4f, \"llama_cpp\": %.4f, \"ratio\": %.4f, \"llamac_best\": %.4f, "
                "\"llama_cpp_best\": %.4f, \"ratio_of_bests\": %.4f, \"llamac_spread\": %.4f, \"llama_cpp_spread\": "
                "%.4f, \"target\": \"%s %.2f\", \"met\": %s, \"llamac_samples\": [",
                figures[fi].key, a, b, pr, best(fig, sa), best(fig, sb),
                best(fig, sb) > 0 ? best(fig, sa) / best(fig, sb) : 0, spread(sa), spread(sb),
                figures[fi].higher_is_better ? ">=" : "<=", figures[fi].target,
                a > 0 && b > 0 && target_met(fig, pr) ? "true" : "false");
            for (int k = 0; k < m->s[LLAMAC][fi].n; k++) {
                fprintf(f, "%s%.4f", k ? ", " : "", m->s[LLAMAC][fi].v[k]);
            }
            fprintf(f, "], \"llama_cpp_samples\": [");
            for (int k = 0; k < m->s[LLAMACPP][fi].n; k++) {
                fprintf(f, "%s%.4f", k ? ", " : "", m->s[LLAMACPP][fi].v[k]);
            }
            fprintf(f, "]}");
        }
        if (m->bytes_per_token > 0 && bandwidth_gbs(mc) > 0) {
            double limit = bandwidth_gbs(mc) * 1e9 / m->bytes_per_token;
            fprintf(f,
                    ",\n     \"tg_bandwidth_limit_tokens_per_s\": %.4f, \"tg_share_of_limit\": {\"llamac\": %.4f, "
                    "\"llama_cpp\": %.4f}",
                    limit, median(&m->s[LLAMAC][FIG_TG]) / limit, median(&m->s[LLAMACPP][FIG_TG]) / limit);
        }
        if (m->n_samplers > 0) {
            fprintf(f, ",\n     \"samplers\": [");
            for (int s = 0; s < m->n_samplers; s++) {
                fprintf(f, "%s{\"name\": ", s ? ", " : "");
                json_str(f, m->samplers[s].name);
                fprintf(f, ", \"chain\": ");
                json_str(f, m->samplers[s].chain);
                fprintf(f, ", \"tokens_per_s\": %.4f, \"sample_ms_per_token\": %.4f}", m->samplers[s].tokens_per_s,
                        m->samplers[s].sample_ms_per_token);
            }
            fprintf(f, "]");
        }
        fprintf(f, "}%s\n", i + 1 < n_models ? "," : "");
    }
    fprintf(f, "  ],\n  \"runs\": [\n");
    FILE *runs = fopen(cfg->runs_path, "r");
    if (runs) {
        char *line = NULL;
        size_t cap = 0;
        ssize_t n;
        bool first = true;
        while ((n = getline(&line, &cap, runs)) > 0) {
            line[strcspn(line, "\n")] = '\0';
            fprintf(f, "%s    %s", first ? "" : ",\n", line);
            first = false;
        }
        free(line);
        fclose(runs);
    }
    fprintf(f, "\n  ]\n}\n");
}

/* ---- main ---- */

static void usage(void) {
    printf("usage: llamac-bench-run [options]\n\n"
           "Benchmarks llamac against llama.cpp's llama-bench on the standard set (stories260K; a synthesized\n"
           "Qwen2.5-0.5B-shaped model in F16, Q8_0 and Q4_K_M), interleaving the two, and prints a markdown table.\n\n"
           "  -t N                threads (default: physical cores)\n"
           "  -p N, -n N          prompt and generated tokens (default 512, 128)\n"
           "  -r N                repetitions per model (default: 16 for stories260K, 4 for the others)\n"
           "  --model LABEL=FILE  benchmark FILE instead of the standard set (repeatable)\n"
           "  --llama-bench FILE  llama.cpp's llama-bench (default: BUILD/reference/bin/llama-bench, made by\n"
           "                      `cmake --build BUILD --target reference-tools`)\n"
           "  --same-libs         run llama-bench on the llama.cpp libraries libllamac uses (LD_LIBRARY_PATH), to\n"
           "                      tell the wrapper's cost apart from differences between the two builds\n"
           "  --quantizer FILE    make the Q8_0 and Q4_K_M models with `FILE IN OUT TYPE` (default: llamac_quantize)\n"
           "  --no-samplers       skip the sampler table\n"
           "  --sampler-model L   the model of the sampler table (default: the F16 one)\n"
           "  --sampler-n N       tokens per sampler chain (default 32)\n"
           "  --max-others PCT    repeat a run during which other processes took more than PCT%% of the CPUs\n"
           "                      (default 5)\n"
           "  --retries N         repeats of such a run before it is kept anyway (default 2)\n"
           "  --idle-wait S       wait up to S seconds for a quiet machine before each run (default 60)\n"
           "  --out-dir DIR       where latest.json and latest.md go (default: the source tree's bench/results)\n"
           "  --work-dir DIR      synthesized models (DIR/bench-models) and the log (DIR/bench.log); default BUILD\n");
}

int main(int argc, char **argv) {
    struct config cfg;
    memset(&cfg, 0, sizeof cfg);
    cfg.bin_dir = LLAMAC_BENCH_BIN_DIR;
    cfg.work_dir = LLAMAC_BENCH_BUILD_DIR;
    cfg.out_dir = LLAMAC_BENCH_SOURCE_DIR "/bench/results";
    cfg.vocab_dir = getenv("LLAMAC_VOCAB_DIR") ? getenv("LLAMAC_VOCAB_DIR") : LLAMAC_BENCH_LLAMA_SOURCE_DIR "/models";
    cfg.test_models = getenv("LLAMAC_TEST_MODELS") && getenv("LLAMAC_TEST_MODELS")[0] ? getenv("LLAMAC_TEST_MODELS")
                                                                                      : LLAMAC_BENCH_TEST_MODELS;
    cfg.threads = physical_cores();
    cfg.n_prompt = 512;
    cfg.n_gen = 128;
    cfg.sampler_n_gen = 32;
    cfg.samplers = true;
    cfg.max_others = 0.05;
    cfg.retries = 2;
    cfg.idle_wait_s = 60;
    cfg.sampler_model = "qwen2.5-0.5b-shaped F16";
    static struct model models[MAX_MODELS];
    int n_models = 0;
    const char *custom[MAX_MODELS];
    int n_custom = 0;
    char *default_llama_bench = path_in(LLAMAC_BENCH_BUILD_DIR, "reference/bin/llama-bench");
    cfg.llama_bench = getenv("LLAMA_BENCH") ? getenv("LLAMA_BENCH") : default_llama_bench;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        const char *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool takes = true;
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            usage();
            return 0;
        } else if (strcmp(a, "--same-libs") == 0) {
            cfg.same_libs = true;
            takes = false;
        } else if (strcmp(a, "--no-samplers") == 0) {
            cfg.samplers = false;
            takes = false;
        } else if (!v) {
            die("%s needs a value (see --help)", a);
        } else if (strcmp(a, "-t") == 0) {
            cfg.threads = atoi(v);
        } else if (strcmp(a, "-p") == 0) {
            cfg.n_prompt = atoi(v);
        } else if (strcmp(a, "-n") == 0) {
            cfg.n_gen = atoi(v);
        } else if (strcmp(a, "-r") == 0) {
            cfg.reps = atoi(v);
        } else if (strcmp(a, "--model") == 0) {
            if (n_custom == MAX_MODELS || !strchr(v, '=')) {
                die("--model takes LABEL=FILE, at most %d times", MAX_MODELS);
            }
            custom[n_custom++] = v;
        } else if (strcmp(a, "--llama-bench") == 0) {
            cfg.llama_bench = v;
        } else if (strcmp(a, "--quantizer") == 0) {
            cfg.quantizer = v;
        } else if (strcmp(a, "--sampler-model") == 0) {
            cfg.sampler_model = v;
        } else if (strcmp(a, "--max-others") == 0) {
            cfg.max_others = atof(v) / 100.0;
        } else if (strcmp(a, "--retries") == 0) {
            cfg.retries = atoi(v);
        } else if (strcmp(a, "--idle-wait") == 0) {
            cfg.idle_wait_s = atof(v);
        } else if (strcmp(a, "--sampler-n") == 0) {
            cfg.sampler_n_gen = atoi(v);
        } else if (strcmp(a, "--out-dir") == 0) {
            cfg.out_dir = v;
        } else if (strcmp(a, "--work-dir") == 0) {
            cfg.work_dir = v;
        } else {
            die("unknown option '%s' (see --help)", a);
        }
        if (takes) {
            i++;
        }
    }
    if (cfg.threads < 1 || cfg.n_prompt < 1 || cfg.n_gen < 1 || cfg.reps < 0 || cfg.reps > MAX_REPS ||
        cfg.sampler_n_gen < 1 || !(cfg.max_others > 0) || cfg.retries < 0 || !(cfg.idle_wait_s >= 0)) {
        die("threads, -p, -n and --sampler-n must be at least 1, -r from 1 to %d, --max-others above 0, --retries "
            "and --idle-wait at least 0",
            MAX_REPS);
    }
    if (access(cfg.llama_bench, X_OK) != 0) {
        die("llama-bench not found at %s: build it with `cmake --build BUILD --target reference-tools` (or pass "
            "--llama-bench FILE)",
            cfg.llama_bench);
    }
    char *models_dir = path_in(cfg.work_dir, "bench-models");
    mkdir(models_dir, 0755);
    mkdir(cfg.out_dir, 0755);
    free(models_dir);
    snprintf(cfg.log_path, sizeof cfg.log_path, "%s/bench.log", cfg.work_dir);
    snprintf(cfg.runs_path, sizeof cfg.runs_path, "%s/bench-runs.jsonl", cfg.work_dir);
    FILE *truncate = fopen(cfg.log_path, "w");
    if (truncate) {
        fclose(truncate);
    }
    cfg.json_runs = fopen(cfg.runs_path, "w");

    if (n_custom > 0) {
        for (int i = 0; i < n_custom; i++) {
            struct model *m = &models[n_models++];
            const char *eq = strchr(custom[i], '=');
            /* explicit bounded copies: gcc's -Wrestrict cannot tell argv from the static models array */
            size_t label_len = (size_t)(eq - custom[i]);
            size_t path_len = strlen(eq + 1);
            label_len = label_len < sizeof m->label ? label_len : sizeof m->label - 1;
            path_len = path_len < sizeof m->path ? path_len : sizeof m->path - 1;
            memcpy(m->label, custom[i], label_len);
            m->label[label_len] = '\0';
            memcpy(m->path, eq + 1, path_len);
            m->path[path_len] = '\0';
            m->reps = 4;
            if (!file_exists(m->path)) {
                m->skipped = true;
                char why[sizeof m->why];
                snprintf(why, sizeof why, "%s is missing", m->path); /* via a copy: -Wrestrict, same object */
                memcpy(m->why, why, sizeof why);
            }
        }
        if (n_custom == 1) {
            cfg.sampler_model = models[0].label;
        }
    } else {
        n_models = standard_set(&cfg, models);
    }

    struct machine mc;
    memset(&mc, 0, sizeof mc);
    load_average(mc.load_before, sizeof mc.load_before);
    describe_machine(&mc);
    measure_bandwidth(&cfg, &mc);
    note("machine: %s, %ld CPUs; %d threads; bandwidth %.1f GB/s copy, %.1f GB/s read; load average %s", mc.cpu,
         mc.cpus, cfg.threads, mc.copy_gbs, mc.read_gbs, mc.load_before);

    bool all_ok = true;
    for (int i = 0; i < n_models; i++) {
        struct model *m = &models[i];
        if (m->skipped) {
            note("[%s] skipped: %s", m->label, m->why);
            continue;
        }
        int reps = cfg.reps > 0 ? cfg.reps : m->reps;
        if (i > 0) {
            measure_bandwidth(&cfg, &mc);
        }
        if (!measure_weights(&cfg, m)) {
            note("[%s] cannot read the weights' sizes (see %s)", m->label, cfg.log_path);
        }
        for (int r = 0; r < reps; r++) {
            /* The side that goes first alternates, so neither always runs on a cooler (or busier) machine. */
            bool ok = true;
            for (int k = 0; k < 2; k++) {
                bool llamac_turn = (k == 0) == (r % 2 == 0);
                ok = ok && (llamac_turn ? measure_llamac_speed(&cfg, m, r) : measure_llama_bench(&cfg, m, r));
            }
            for (int k = 0; k < 2; k++) {
                bool llamac_turn = (k == 0) == (r % 2 == 0);
                ok = ok && measure_latency(&cfg, m, llamac_turn ? LLAMAC : LLAMACPP, r);
            }
            if (!ok) {
                m->skipped = true;
                snprintf(m->why, sizeof m->why, "a run failed (see %s)", cfg.log_path);
                note("[%s] a run failed; see %s", m->label, cfg.log_path);
                all_ok = false;
                break;
            }
            int k = m->s[LLAMAC][FIG_PP].n - 1;
            note("[%s] %d/%d: pp %.1f / %.1f, tg %.2f / %.2f tokens/s; ttft %.1f / %.1f, load %.1f / %.1f ms; "
                 "rss %.0f / %.0f MiB (llamac / llama.cpp)",
                 m->label, r + 1, reps, m->s[LLAMAC][FIG_PP].v[k], m->s[LLAMACPP][FIG_PP].v[k],
                 m->s[LLAMAC][FIG_TG].v[k], m->s[LLAMACPP][FIG_TG].v[k], m->s[LLAMAC][FIG_TTFT].v[k],
                 m->s[LLAMACPP][FIG_TTFT].v[k], m->s[LLAMAC][FIG_LOAD].v[k], m->s[LLAMACPP][FIG_LOAD].v[k],
                 m->s[LLAMAC][FIG_RSS].v[k], m->s[LLAMACPP][FIG_RSS].v[k]);
        }
        if (!m->skipped && cfg.samplers && strcmp(m->label, cfg.sampler_model) == 0) {
            note("[%s] sampler table", m->label);
            if (!measure_samplers(&cfg, m)) {
                note("[%s] the sampler table failed; see %s", m->label, cfg.log_path);
                all_ok = false;
            }
        }
    }
    measure_bandwidth(&cfg, &mc);
    load_average(mc.load_after, sizeof mc.load_after);
    if (cfg.json_runs) {
        fclose(cfg.json_runs);
        cfg.json_runs = NULL;
    }

    char *md_path = path_in(cfg.out_dir, "latest.md");
    char *json_path = path_in(cfg.out_dir, "latest.json");
    FILE *md = fopen(md_path, "w");
    FILE *js = fopen(json_path, "w");
    if (!md || !js) {
        die("cannot write %s and %s", md_path, json_path);
    }
    write_markdown(md, &cfg, &mc, models, n_models);
    write_json(js, &cfg, &mc, models, n_models);
    fclose(md);
    fclose(js);
    write_markdown(stdout, &cfg, &mc, models, n_models);
    note("\nwrote %s and %s", md_path, json_path);
    free(md_path);
    free(json_path);
    free(default_llama_bench);
    return all_ok ? 0 : 1;
}
