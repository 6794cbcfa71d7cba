/*
 * stream.c - `llamac-bench-stream`: this machine's memory bandwidth, the limit of token generation on a CPU.
 *
 * A STREAM-like measurement: two arrays far larger than the caches (256 MiB each by default), split into one
 * contiguous slice per thread, each slice first touched by the thread that uses it. "copy" is STREAM's kernel
 * (b[i] = a[i]; bytes read + bytes written, as STREAM counts them); "read" sums an array (bytes read), which is
 * what generating a token does to the weights. The read kernel walks four parts of its slice at once: one
 * sequential stream per core does not keep enough requests in flight to reach the memory's limit (on a 2-core
 * EPYC VM it reads 16 GB/s where four streams read 25), and a matrix-vector product over many rows does not
 * either. Each kernel runs several times and the best time counts, as in STREAM.
 * Prints one JSON object: {"threads", "bytes", "copy_gbs", "read_gbs"} (GB = 1e9 bytes).
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

enum kernel { KERNEL_INIT, KERNEL_COPY, KERNEL_READ };

struct slice {
    uint64_t *a;
    uint64_t *b;
    size_t n;
    enum kernel kernel;
    uint64_t sum;
};

static double now_s(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void *run_slice(void *arg) {
    struct slice *s = arg;
    uint64_t *restrict a = s->a;
    uint64_t *restrict b = s->b;
    size_t n = s->n;
    switch (s->kernel) {
    case KERNEL_INIT:
        for (size_t i = 0; i < n; i++) {
            a[i] = i;
            b[i] = 0;
        }
        break;
    case KERNEL_COPY:
        for (size_t i = 0; i < n; i++) {
            b[i] = a[i];
        }
        break;
    case KERNEL_READ: {
        /* Integer sums may be reordered, so the compiler can vectorise this loop. */
        size_t q = n / 4;
        uint64_t s0 = 0, s1 = 0, s2 = 0, s3 = 0;
        for (size_t i = 0; i < q; i++) {
            s0 += a[i];
            s1 += a[q + i];
            s2 += a[2 * q + i];
            s3 += a[3 * q + i];
        }
        for (size_t i = 4 * q; i < n; i++) {
            s0 += a[i];
        }
        s->sum = s0 + s1 + s2 + s3;
        break;
    }
    }
    return NULL;
}

/* Runs `kernel` over the arrays on `threads` threads; returns the wall time in seconds, or -1. */
static double run(struct slice *slices, pthread_t *tids, int threads, enum kernel kernel) {
    for (int t = 0; t < threads; t++) {
        slices[t].kernel = kernel;
    }
    double t0 = now_s();
    for (int t = 1; t < threads; t++) {
        if (pthread_create(&tids[t], NULL, run_slice, &slices[t]) != 0) {
            return -1;
        }
    }
    run_slice(&slices[0]);
    for (int t = 1; t < threads; t++) {
        pthread_join(tids[t], NULL);
    }
    return now_s() - t0;
}

int main(int argc, char **argv) {
    long threads = sysconf(_SC_NPROCESSORS_ONLN);
    long mib = 256;
    int times = 10;
    for (int i = 1; i < argc; i++) {
        const char *v = i + 1 < argc ? argv[i + 1] : "";
        if (strcmp(argv[i], "-t") == 0) {
            threads = strtol(v, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "--mib") == 0) {
            mib = strtol(v, NULL, 10);
            i++;
        } else if (strcmp(argv[i], "-r") == 0) {
            times = (int)strtol(v, NULL, 10);
            i++;
        } else {
            printf("usage: llamac-bench-stream [-t THREADS] [--mib MIB per array (256)] [-r RUNS (10)]\n");
            return strcmp(argv[i], "-h") == 0 || strcmp(argv[i], "--help") == 0 ? 0 : 2;
        }
    }
    if (threads < 1 || threads > 1024 || mib < 1 || mib > 65536 || times < 1) {
        fprintf(stderr, "llamac-bench-stream: invalid thread count, size or run count\n");
        return 2;
    }
    size_t n = (size_t)mib * 1024 * 1024 / sizeof(uint64_t);
    uint64_t *a = malloc(n * sizeof *a);
    uint64_t *b = malloc(n * sizeof *b);
    struct slice *slices = calloc((size_t)threads, sizeof *slices);
    pthread_t *tids = calloc((size_t)threads, sizeof *tids);
    if (!a || !b || !slices || !tids) {
        fprintf(stderr, "llamac-bench-stream: out of memory for 2 x %ld MiB\n", mib);
        return 1;
    }
    size_t per = n / (size_t)threads;
    for (long t = 0; t < threads; t++) {
        slices[t].a = a + (size_t)t * per;
        slices[t].b = b + (size_t)t * per;
        slices[t].n = t == threads - 1 ? n - (size_t)t * per : per;
    }
    int nt = (int)threads;
    double best_copy = 1e30, best_read = 1e30;
    uint64_t check = 0;
    if (run(slices, tids, nt, KERNEL_INIT) < 0) {
        fprintf(stderr, "llamac-bench-stream: cannot start threads\n");
        return 1;
    }
    for (int r = 0; r < times; r++) {
        double c = run(slices, tids, nt, KERNEL_COPY);
        double s = run(slices, tids, nt, KERNEL_READ);
        if (c < 0 || s < 0) {
            fprintf(stderr, "llamac-bench-stream: cannot start threads\n");
            return 1;
        }
        best_copy = c < best_copy ? c : best_copy;
        best_read = s < best_read ? s : best_read;
        for (long t = 0; t < threads; t++) {
            check += slices[t].sum;
        }
    }
    double bytes = (double)(n * sizeof *a);
    printf("{\"threads\": %ld, \"bytes\": %.0f, \"copy_gbs\": %.3f, \"read_gbs\": %.3f, \"check\": %llu}\n", threads,
           bytes, 2.0 * bytes / best_copy / 1e9, bytes / best_read / 1e9, (unsigned long long)(check & 0xffff));
    free(a);
    free(b);
    free(slices);
    free(tids);
    return 0;
}
