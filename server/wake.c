/*
 * wake.c - stream readers woken once per engine step, from a thread of the server's own.
 *
 * Each streamed token must wake the connection thread that waits for it, and a wake-up is a system call: on the
 * engine thread, which every stream waits on, one per token added up to a few percent of a step (measured: 15 µs
 * each on a virtual machine, 16 per step with 16 streams). So the token callback only notes the job, and at the end
 * of the step (the engine's on_step hook) the list goes to the waker thread with one wake-up; the waker wakes the
 * readers. A job on a list holds a reference, so it outlives a reader that hangs up meanwhile.
 */
#include "job.h"

#include <stdlib.h>

static bool grow(struct job ***list, size_t *cap, size_t need) {
    if (need <= *cap) {
        return true;
    }
    size_t n = *cap ? *cap : 16;
    while (n < need) {
        n *= 2;
    }
    struct job **p = realloc(*list, n * sizeof *p);
    if (!p) {
        return false;
    }
    *list = p;
    *cap = n;
    return true;
}

static void wake_one(struct job *j) {
    pthread_mutex_lock(&j->lock);
    j->wake_queued = false;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    job_release(j);
}

static void *waker_main(void *arg) {
    struct server *s = arg;
    thread_yield_to_engine();
    pthread_mutex_lock(&s->wake_lock);
    for (;;) {
        while (s->n_wake == 0 && !s->wake_stop) {
            pthread_cond_wait(&s->wake_cond, &s->wake_lock);
        }
        if (s->n_wake == 0) {
            break;
        }
        /* Take the list, leave the spare array for the engine thread to fill meanwhile. */
        struct job **jobs = s->wake_jobs;
        size_t n = s->n_wake, cap = s->cap_wake;
        s->wake_jobs = s->spare;
        s->cap_wake = s->cap_spare;
        s->n_wake = 0;
        pthread_mutex_unlock(&s->wake_lock);
        for (size_t i = 0; i < n; i++) {
            wake_one(jobs[i]);
        }
        pthread_mutex_lock(&s->wake_lock);
        s->spare = jobs;
        s->cap_spare = cap;
    }
    pthread_mutex_unlock(&s->wake_lock);
    return NULL;
}

void wake_start(struct server *s) {
    pthread_mutex_init(&s->wake_lock, NULL);
    pthread_cond_init(&s->wake_cond, NULL);
    s->waker_running = pthread_create(&s->waker, NULL, waker_main, s) == 0;
}

void wake_stop(struct server *s) {
    if (s->waker_running) {
        pthread_mutex_lock(&s->wake_lock);
        s->wake_stop = true;
        pthread_cond_signal(&s->wake_cond);
        pthread_mutex_unlock(&s->wake_lock);
        pthread_join(s->waker, NULL);
        s->waker_running = false;
    }
    /* The engine is gone: nothing is added any more; whatever is left is woken here. */
    for (size_t i = 0; i < s->n_step; i++) {
        wake_one(s->step_jobs[i]);
    }
    for (size_t i = 0; i < s->n_wake; i++) {
        wake_one(s->wake_jobs[i]);
    }
    free(s->step_jobs);
    free(s->wake_jobs);
    free(s->spare);
    s->step_jobs = s->wake_jobs = s->spare = NULL;
    s->n_step = s->n_wake = 0;
    pthread_cond_destroy(&s->wake_cond);
    pthread_mutex_destroy(&s->wake_lock);
}

bool wake_queue(struct job *j) {
    struct server *s = j->s;
    if (j->wake_queued) {
        return true;
    }
    if (!s->waker_running || !atomic_load(&s->step_hooked) || !grow(&s->step_jobs, &s->cap_step, s->n_step + 1)) {
        return false;
    }
    j->wake_queued = true;
    j->refs++;
    s->step_jobs[s->n_step++] = j;
    return true;
}

void server_engine_step(void *user_data) {
    struct server *s = user_data;
    atomic_store(&s->step_hooked, true);
    if (s->n_step == 0) {
        return;
    }
    pthread_mutex_lock(&s->wake_lock);
    bool handed = grow(&s->wake_jobs, &s->cap_wake, s->n_wake + s->n_step);
    if (handed) {
        for (size_t i = 0; i < s->n_step; i++) {
            s->wake_jobs[s->n_wake++] = s->step_jobs[i];
        }
        pthread_cond_signal(&s->wake_cond);
    }
    pthread_mutex_unlock(&s->wake_lock);
    if (!handed) {
        for (size_t i = 0; i < s->n_step; i++) {
            wake_one(s->step_jobs[i]);
        }
    }
    s->n_step = 0;
}
