/*
 * wake.c - stream readers woken once per engine step, from a thread of the server's own.
 *
 * Each streamed token must wake the request thread that waits for it, and a wake-up is a system call: on the
 * engine thread, which every stream waits on, one per token added up to a few percent of a step (measured: 15 µs
 * each on a virtual machine, 16 per step with 16 streams). So the token callback only pushes the job on a lock-free
 * stack, and the waker thread takes the whole stack and wakes the readers. While tokens keep coming the waker polls
 * the stack (a short sleep between looks, sized from the time between steps), so the engine thread makes no system
 * call for it at all: even one wake-up per step, of a thread on another CPU, cost the engine thread about 50 µs on
 * a virtual machine, 2 % of a 4-stream step. Once nothing has come for a while it sleeps on a semaphore, which the
 * engine thread posts at the end of a step that pushed (the engine's on_step hook). No lock is shared with the
 * waker: the engine thread must never wait for it (it runs as a batch thread, and may be off its core). A job on
 * the stack holds a reference, so it outlives a reader that hangs up meanwhile. The threads that wait on the engine
 * (connections, the waker) also make way for it in the scheduler (thread_yield_to_engine).
 */
#define _GNU_SOURCE
#include "job.h"

#include <errno.h>
#include <sched.h>
#include <time.h>

void thread_yield_to_engine(void) {
#ifdef SCHED_BATCH
    static _Thread_local bool done;
    if (!done) {
        done = true;
        struct sched_param sp = { 0 };
        pthread_setschedparam(pthread_self(), SCHED_BATCH, &sp);
    }
#endif
}

static void wake_one(struct job *j) {
    pthread_mutex_lock(&j->lock);
    j->wake_queued = false;
    pthread_cond_broadcast(&j->cond);
    pthread_mutex_unlock(&j->lock);
    job_release(j);
}

/* Wakes every job taken off the stack. */
static void wake_list(struct job *j) {
    while (j) {
        struct job *next = j->wake_next;
        wake_one(j);
        j = next;
    }
}

/* Between looks at the stack while polling: an eighth of the time between steps that push (a running average of
 * the time between finding the stack non-empty, each sample at most POLL_GAP_CAP_US), within POLL_MIN_US and
 * POLL_MAX_US. Polling stops after POLL_IDLE_US without anything pushed: a model whose steps take longer costs the
 * waker at most POLL_IDLE_US / POLL_MAX_US looks per step, and its engine thread one semaphore post. */
#define POLL_MIN_US 50
#define POLL_MAX_US 1000
#define POLL_IDLE_US 20000
#define POLL_GAP_CAP_US 40000

static int64_t now_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000000 + ts.tv_nsec / 1000;
}

static void sleep_us(int64_t us) {
    struct timespec ts = { .tv_sec = 0, .tv_nsec = (long)us * 1000 };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR) {
    }
}

static void *waker_main(void *arg) {
    struct server *s = arg;
    thread_yield_to_engine();
    int64_t last = now_us(), gap = POLL_MIN_US * 8;
    for (;;) {
        struct job *list = atomic_exchange(&s->wake_head, NULL);
        int64_t t = now_us();
        if (list) {
            wake_list(list);
            int64_t since = t - last < POLL_GAP_CAP_US ? t - last : POLL_GAP_CAP_US;
            gap = (7 * gap + since) / 8;
            last = t;
        }
        if (atomic_load(&s->wake_stop)) {
            break;
        }
        if (t - last < POLL_IDLE_US) {
            int64_t pause = gap / 8;
            sleep_us(pause < POLL_MIN_US ? POLL_MIN_US : pause > POLL_MAX_US ? POLL_MAX_US : pause);
            continue;
        }
        /* Nothing for a while: sleep until a step pushes. Announced before the last look at the stack, and the
         * engine thread pushes before it looks at the announcement: one of the two sees the other. */
        atomic_store(&s->waker_asleep, true);
        if (!atomic_load(&s->wake_head) && !atomic_load(&s->wake_stop)) {
            while (sem_wait(&s->wake_sem) != 0 && errno == EINTR) {
            }
        }
        atomic_store(&s->waker_asleep, false);
    }
    return NULL;
}

void wake_start(struct server *s) {
    atomic_init(&s->wake_head, NULL);
    atomic_init(&s->waker_asleep, false);
    if (sem_init(&s->wake_sem, 0, 0) != 0) {
        return;
    }
    s->waker_running = pthread_create(&s->waker, NULL, waker_main, s) == 0;
    if (!s->waker_running) {
        sem_destroy(&s->wake_sem);
    }
}

void wake_stop(struct server *s) {
    if (s->waker_running) {
        atomic_store(&s->wake_stop, true);
        sem_post(&s->wake_sem);
        pthread_join(s->waker, NULL);
        s->waker_running = false;
        sem_destroy(&s->wake_sem);
    }
    /* The engine is gone: nothing is pushed any more; whatever is left is woken here. */
    wake_list(atomic_exchange(&s->wake_head, NULL));
}

bool wake_queue(struct job *j) {
    struct server *s = j->s;
    if (j->wake_queued) {
        return true;
    }
    if (!s->waker_running || !atomic_load(&s->step_hooked)) {
        return false;
    }
    j->wake_queued = true;
    j->refs++;
    struct job *head = atomic_load(&s->wake_head);
    do {
        j->wake_next = head;
    } while (!atomic_compare_exchange_weak(&s->wake_head, &head, j));
    s->wake_pending = true;
    return true;
}

void server_engine_step(void *user_data) {
    struct server *s = user_data;
    atomic_store(&s->step_hooked, true);
    if (s->wake_pending) {
        s->wake_pending = false;
        if (atomic_load(&s->waker_asleep)) {
            sem_post(&s->wake_sem);
        }
    }
}
