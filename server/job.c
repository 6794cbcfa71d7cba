/*
 * job.c - a generation in flight (see job.h): engine callbacks on one side, the connection on the other; reference
 * counts, locking, waiting, and the hand-over of a stream to libmicrohttpd. No JSON: a stream's bytes are the
 * dialect's (job->dialect->stream_event).
 *
 * The engine thread only records: a token's text goes into its choice's result and, for a stream, into `events`
 * as a raw record (choice, text, log-probabilities), which the connection's reader takes as a whole under the lock
 * and turns into deltas outside it (running the tool-call parser where the reply is read for calls). So the thread
 * every stream waits for never formats anything, and a reader formats while the engine goes on. Hang-ups are
 * noticed while waiting: every 100 ms the waiter peeks at the client's socket, and an orderly close (or an error)
 * cancels the job's engine requests at once, which frees their slots.
 */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

/* ---- lifecycle ---- */

struct job *job_new(struct server *s, struct MHD_Connection *conn, const struct dialect *dialect, size_t n_choices) {
    struct job *j = calloc(1, sizeof *j);
    if (!j) {
        return NULL;
    }
    j->choices = calloc(n_choices, sizeof *j->choices);
    if (!j->choices) {
        free(j);
        return NULL;
    }
    pthread_mutex_init(&j->lock, NULL);
    pthread_cond_init(&j->cond, NULL);
    j->refs = 1;
    j->s = s;
    j->engine = s->engine;
    j->model = s->model;
    j->dialect = dialect;
    j->n_choices = n_choices;
    j->n_per_prompt = 1;
    j->created = (int64_t)time(NULL);
    j->fd = -1;
    const union MHD_ConnectionInfo *ci = conn ? MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    if (ci) {
        j->fd = (int)ci->connect_fd;
    }
    make_id(s, dialect ? dialect->id_prefix : "job-", j->id, sizeof j->id);
    snprintf(j->model_id, sizeof j->model_id, "%s", s->model_id ? s->model_id : "");
    for (size_t i = 0; i < n_choices; i++) {
        j->choices[i].job = j;
        j->choices[i].r.index = i;
        j->choices[i].block_open = DELTA_START;
        llamac__dynbuf_init(&j->choices[i].r.text, SERVER_BUF_MAX);
        llamac__dynbuf_init(&j->choices[i].block_text, SERVER_BUF_MAX);
    }
    llamac__dynbuf_init(&j->events, SERVER_BUF_MAX);
    llamac__dynbuf_init(&j->out, SERVER_BUF_MAX);
    pthread_mutex_lock(&s->jobs_lock);
    j->next = s->jobs;
    if (s->jobs) {
        s->jobs->prev = j;
    }
    s->jobs = j;
    pthread_mutex_unlock(&s->jobs_lock);
    return j;
}

static void job_free(struct job *j) {
    struct server *s = j->s;
    pthread_mutex_lock(&s->jobs_lock);
    if (j->prev) {
        j->prev->next = j->next;
    } else if (s->jobs == j) {
        s->jobs = j->next;
    }
    if (j->next) {
        j->next->prev = j->prev;
    }
    pthread_mutex_unlock(&s->jobs_lock);
    for (size_t i = 0; i < j->n_choices; i++) {
        llamac__dynbuf_free(&j->choices[i].r.text);
        free(j->choices[i].r.lp);
        free(j->choices[i].r.error);
        free(j->choices[i].r.stop_word);
        free(j->choices[i].r.tokens);
        llamac__dynbuf_free(&j->choices[i].block_text);
        free(j->choices[i].block_id);
        free(j->choices[i].block_name);
        for (size_t k = 0; k < j->choices[i].n_closed; k++) {
            free(j->choices[i].closed[k].text);
            free(j->choices[i].closed[k].tool_id);
            free(j->choices[i].closed[k].tool_name);
        }
        free(j->choices[i].closed);
        llamac_tool_stream_free(j->choices[i].tools);
    }
    free(j->choices);
    free(j->parse_lead);
    free(j->parse_tools_json);
    if (j->dialect_data_free) {
        j->dialect_data_free(j->dialect_data);
    }
    llamac__dynbuf_free(&j->events);
    llamac__dynbuf_free(&j->out);
    pthread_mutex_destroy(&j->lock);
    pthread_cond_destroy(&j->cond);
    free(j);
}

void job_release(struct job *j) {
    if (!j) {
        return;
    }
    pthread_mutex_lock(&j->lock);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (last) {
        job_free(j);
    }
}

void jobs_abort_all(struct server *s) {
    pthread_mutex_lock(&s->jobs_lock);
    for (struct job *j = s->jobs; j; j = j->next) {
        pthread_mutex_lock(&j->lock);
        j->aborted = true;
        pthread_cond_broadcast(&j->cond);
        pthread_mutex_unlock(&j->lock);
    }
    pthread_mutex_unlock(&s->jobs_lock);
}

void job_totals(const struct job *j, struct totals *t) {
    memset(t, 0, sizeof *t);
    for (size_t i = 0; i < j->n_choices; i++) {
        const struct result *r = &j->choices[i].r;
        if (j->n_per_prompt == 0 || i % j->n_per_prompt == 0) {
            t->prompt += r->n_prompt;
            t->cached += r->usage.cached_tokens;
        }
        t->generated += r->usage.generated_tokens;
    }
}

/* ---- raw stream events (engine thread -> reader) ---- */

enum event_kind { EV_START, EV_TOKEN, EV_DONE, EV_END, EV_PROGRESS };

/* A record in job->events: this header, `len` bytes of text (EV_PROGRESS: a llamac_engine_progress), then a struct
 * token_logprob when has_lp. */
struct event {
    enum event_kind kind;
    size_t choice;
    size_t len;
    bool has_text; /* NULL text (a START without an echo) and "" differ */
    bool has_lp;
    llamac_token token; /* EV_TOKEN: the sampled token; -1: none (text released at the end) */
};

/* Queues one record; lock held. Out of memory drops it (the stream then lacks a piece, as it would have before). */
static void event_add(struct job *j, enum event_kind kind, size_t choice, const char *text, size_t len,
                      const struct token_logprob *lp, llamac_token token) {
    struct event e = { kind, choice, text ? len : 0, text != NULL, lp != NULL, token };
    llamac__dynbuf_add(&j->events, &e, sizeof e);
    llamac__dynbuf_add(&j->events, text, e.len);
    if (lp) {
        llamac__dynbuf_add(&j->events, lp, sizeof *lp);
    }
}

void job_stream_begin(struct job *j, char *const *echo) {
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n_choices; i++) {
        const char *e = echo ? echo[i / j->n_per_prompt] : NULL;
        event_add(j, EV_START, i, e, e ? strlen(e) : 0, NULL, -1);
    }
    pthread_mutex_unlock(&j->lock);
}

/* With the lock held: once every choice is accepted and done, the stream's END goes after everything else. Called
 * when a choice finishes and when one is accepted: the engine may finish a short request before its submitter
 * records the acceptance. */
static void end_if_done(struct job *j) {
    if (j->stream && !j->end_queued && j->n_done == j->n_accepted && j->n_accepted == j->n_choices) {
        event_add(j, EV_END, 0, NULL, 0, NULL, -1);
        j->end_queued = true;
        pthread_cond_broadcast(&j->cond);
    }
}

/* ---- the engine's callbacks ---- */

/* Ends a token callback: releases the job's lock and, when the token added to the stream, gets the connection
 * thread woken: at the end of the engine step when the server has a waker (wake.c: one wake-up of the engine
 * thread per step instead of one per token), else now, after the unlock (woken while the engine thread still held
 * the lock, the reader would only block again on the mutex). The job is alive: the engine's callbacks hold a
 * reference until the choice is done. Returns whether the request goes on. */
static bool token_done(struct job *j, bool wake) {
    bool keep = !j->aborted;
    wake = wake && !wake_queue(j);
    pthread_mutex_unlock(&j->lock);
    if (wake) {
        pthread_cond_broadcast(&j->cond);
    }
    return keep;
}

static void lp_fill(struct token_logprob *lp, const llamac_engine_token *t, size_t offset, int top_logprobs) {
    memset(lp, 0, sizeof *lp);
    lp->token = t->token;
    lp->logprob = t->logprob;
    lp->offset = offset;
    lp->n_top = t->n_top < (size_t)top_logprobs ? t->n_top : (size_t)top_logprobs;
    if (lp->n_top > MAX_TOP_LOGPROBS) {
        lp->n_top = MAX_TOP_LOGPROBS;
    }
    if (lp->n_top > 0) {
        memcpy(lp->top, t->top, lp->n_top * sizeof *lp->top);
    }
}

static bool job_on_token(const llamac_engine_token *t, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    struct result *r = &c->r;
    pthread_mutex_lock(&j->lock);
    size_t offset = r->text.len;
    if (t->len > 0) {
        llamac__dynbuf_add(&r->text, t->text, t->len);
    }
    if (j->record_tokens && t->token >= 0) {
        if (r->n_tokens == r->cap_tokens) {
            size_t cap = r->cap_tokens ? r->cap_tokens * 2 : 64;
            llamac_token *grown = realloc(r->tokens, cap * sizeof *grown);
            if (grown) {
                r->tokens = grown;
                r->cap_tokens = cap;
            }
        }
        if (r->n_tokens < r->cap_tokens) { /* out of memory: the list is cut short */
            r->tokens[r->n_tokens++] = t->token;
        }
    }
    if (j->stream && c->tools) {
        /* read for reasoning / tool calls: the reader parses the text; log-probabilities are not shown */
        if (t->len > 0) {
            event_add(j, EV_TOKEN, r->index, t->text, t->len, NULL, t->token);
        }
        return token_done(j, t->len > 0);
    }
    bool with_lp = j->logprobs && t->token >= 0;
    struct token_logprob lp;
    if (with_lp) {
        lp_fill(&lp, t, offset, j->top_logprobs);
    }
    if (!j->stream) {
        if (with_lp && r->n_lp == r->cap_lp) {
            size_t cap = r->cap_lp ? r->cap_lp * 2 : 64;
            struct token_logprob *grown = realloc(r->lp, cap * sizeof *grown);
            if (grown) {
                r->lp = grown;
                r->cap_lp = cap;
            }
        }
        if (with_lp && r->n_lp < r->cap_lp) {
            r->lp[r->n_lp++] = lp;
        }
        return token_done(j, false);
    }
    bool sent = t->len > 0 || with_lp || (j->stream_tokens && t->token >= 0);
    if (sent) {
        event_add(j, EV_TOKEN, r->index, t->text, t->len, with_lp ? &lp : NULL, t->token);
    }
    return token_done(j, sent);
}

static void job_on_progress(const llamac_engine_progress *p, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    pthread_mutex_lock(&j->lock);
    event_add(j, EV_PROGRESS, c->r.index, (const char *)p, sizeof *p, NULL, -1);
    token_done(j, true);
}

static void job_on_done(const llamac_engine_result *res, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    pthread_mutex_lock(&j->lock);
    c->done = true;
    c->r.finish = res->finish_reason;
    c->r.status = res->status;
    c->r.usage = res->usage;
    c->r.slot = res->slot;
    if (res->status != LLAMAC_OK) {
        c->r.error = strdup(res->error && res->error[0] ? res->error : llamac_status_str(res->status));
    } else if (j->stream && j->aborted &&
               (res->finish_reason == LLAMAC_FINISH_CALLBACK || res->finish_reason == LLAMAC_FINISH_CANCELLED)) {
        /* Ended by the shutdown (the token callback said stop once the job was aborted): the stream gets the error
         * event a stream still waiting when the grace period ends gets, not a normal finish. */
        c->r.status = LLAMAC_E_CANCELLED;
        c->r.error = strdup("the server is shutting down");
    }
    if (res->stop) {
        c->r.stop_word = strdup(res->stop);
    }
    j->n_done++;
    if (j->stream) {
        event_add(j, EV_DONE, c->r.index, NULL, 0, NULL, -1);
        end_if_done(j);
    }
    pthread_cond_broadcast(&j->cond);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (last) {
        job_free(j);
    }
}

llamac_status job_submit(struct job *j, struct choice *c, llamac_engine_request *er) {
    er->on_token = job_on_token;
    er->on_done = job_on_done;
    er->on_progress = j->progress ? job_on_progress : NULL;
    er->user_data = c;
    /* a prompt with media counts the media's tokens too */
    c->r.n_prompt = (int32_t)(er->chunks ? llamac_chunks_n_tokens(er->chunks) : er->n_prompt);
    pthread_mutex_lock(&j->lock);
    j->refs++; /* the engine's, released in job_on_done */
    pthread_mutex_unlock(&j->lock);
    uint64_t id = 0;
    llamac_status st = llamac_engine_submit(j->engine, er, &id);
    pthread_mutex_lock(&j->lock);
    if (st == LLAMAC_OK) {
        c->id = id;
        c->accepted = true;
        j->n_accepted++;
        end_if_done(j); /* the engine may have finished it already */
    } else {
        j->refs--;
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}

void job_cancel(struct job *j) {
    uint64_t ids[MAX_CHOICES];
    size_t n = 0;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n_choices && n < MAX_CHOICES; i++) {
        if (j->choices[i].accepted && !j->choices[i].done) {
            ids[n++] = j->choices[i].id;
        }
    }
    pthread_mutex_unlock(&j->lock);
    /* outside the lock: the engine thread takes it in the callbacks */
    for (size_t i = 0; i < n; i++) {
        llamac_engine_cancel(j->engine, ids[i]);
    }
}

/* ---- waiting ---- */

/* Has the client closed its end? A peek that reads EOF (or fails other than for "no data yet") says so. */
bool connection_gone(int fd) {
    if (fd < 0) {
        return false;
    }
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

void deadline_in(struct timespec *ts, long ms) {
    clock_gettime(CLOCK_REALTIME, ts);
    ts->tv_nsec += ms * 1000000L;
    ts->tv_sec += ts->tv_nsec / 1000000000L;
    ts->tv_nsec %= 1000000000L;
}

bool job_wait(struct job *j) {
    pthread_mutex_lock(&j->lock);
    while (j->n_done < j->n_accepted && !j->aborted) {
        struct timespec ts;
        deadline_in(&ts, 100);
        if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && connection_gone(j->fd)) {
            break;
        }
    }
    bool complete = j->n_done == j->n_accepted;
    pthread_mutex_unlock(&j->lock);
    if (!complete) {
        job_cancel(j);
    }
    return complete;
}

/* ---- the stream's reader (the request's thread, http.c) ---- */

struct render_ctx {
    struct job *j;
    size_t choice;
};

static void emit(struct job *j, const struct delta *d) {
    if (!j->ended) {
        j->dialect->stream_event(j, d, &j->out);
    }
    if (d->kind == DELTA_ERROR || d->kind == DELTA_END) {
        j->ended = true;
    }
}

/* Closes the choice's open block, if any: a BLOCK_STOP with the block's whole text. */
static void block_close(struct job *j, size_t choice) {
    struct choice *c = &j->choices[choice];
    if (c->block_open == DELTA_START) {
        return;
    }
    struct delta d = { .kind = DELTA_BLOCK_STOP,
                       .choice = choice,
                       .block = c->n_blocks - 1,
                       .block_kind = c->block_open,
                       .tool_index = c->block_tool,
                       .text = llamac__dynbuf_ptr(&c->block_text),
                       .len = c->block_text.len,
                       .tool_id = c->block_id,
                       .tool_name = c->block_name };
    emit(j, &d);
    struct block *grown = realloc(c->closed, (c->n_closed + 1) * sizeof *grown);
    if (grown) { /* out of memory: the block is left out of the whole output */
        c->closed = grown;
        struct block *b = &c->closed[c->n_closed++];
        b->kind = c->block_open;
        b->len = c->block_text.len;
        b->text = malloc(b->len + 1);
        if (b->text) {
            memcpy(b->text, d.text, b->len);
            b->text[b->len] = '\0';
        } else {
            b->len = 0;
        }
        b->tool_id = c->block_id;
        b->tool_name = c->block_name;
        c->block_id = c->block_name = NULL;
    }
    free(c->block_id);
    free(c->block_name);
    c->block_id = c->block_name = NULL;
    c->block_open = DELTA_START;
    llamac__dynbuf_reset(&c->block_text);
}

/* Renders `d` (a copy is annotated), opening and closing the choice's blocks around content deltas: a delta of
 * another kind than the open block's, or a tool call's first piece, closes it and opens a new one. */
static void render(struct job *j, const struct delta *in) {
    struct delta d = *in;
    bool content = d.kind == DELTA_TEXT || d.kind == DELTA_REASONING || d.kind == DELTA_TOOL_CALL;
    struct choice *c = d.choice < j->n_choices ? &j->choices[d.choice] : NULL;
    if (c && content && (d.len > 0 || d.kind == DELTA_TOOL_CALL)) {
        bool new_call = d.kind == DELTA_TOOL_CALL && (d.tool_id || d.tool_index != c->block_tool);
        if (c->block_open != d.kind || new_call) {
            block_close(j, d.choice);
            c->block_open = d.kind;
            c->block_tool = d.tool_index;
            c->block_id = d.tool_id ? strdup(d.tool_id) : NULL;
            c->block_name = d.tool_name ? strdup(d.tool_name) : NULL;
            c->n_blocks++;
            struct delta b = { .kind = DELTA_BLOCK_START,
                               .choice = d.choice,
                               .block = c->n_blocks - 1,
                               .block_kind = d.kind,
                               .tool_index = d.tool_index,
                               .tool_id = d.tool_id,
                               .tool_name = d.tool_name };
            emit(j, &b);
        }
        llamac__dynbuf_add(&c->block_text, d.text, d.len);
    }
    if (c && content) {
        d.block = c->n_blocks > 0 ? c->n_blocks - 1 : 0;
    }
    if (c && d.kind == DELTA_FINISH) {
        block_close(j, d.choice);
    }
    emit(j, &d);
}

/* One tool-parser delta as a stream delta. */
static bool tool_delta(const llamac_tool_delta *td, void *user_data) {
    struct render_ctx *rc = user_data;
    struct delta d = { .choice = rc->choice, .text = td->text ? td->text : "", .len = td->len };
    if (td->kind == LLAMAC_TOOL_DELTA_CONTENT) {
        d.kind = DELTA_TEXT;
    } else if (td->kind == LLAMAC_TOOL_DELTA_CALL) {
        d.kind = DELTA_TOOL_CALL;
        d.tool_index = td->index;
        d.tool_id = td->id;
        d.tool_name = td->name;
        rc->j->choices[rc->choice].r.has_calls = true;
    } else {
        d.kind = DELTA_REASONING;
    }
    render(rc->j, &d);
    return true;
}

/* A choice is done: an error, or the parser's last deltas and the finish. */
static void render_done(struct job *j, size_t i) {
    struct choice *c = &j->choices[i];
    struct delta d = { .choice = i };
    if (c->r.status != LLAMAC_OK || c->r.finish == LLAMAC_FINISH_NONE) {
        /* an error mid-stream is an error event, not a normal finish */
        d.kind = DELTA_ERROR;
        d.text = c->r.error ? c->r.error : "generation failed";
    } else if (c->r.finish == LLAMAC_FINISH_CANCELLED) {
        d.kind = DELTA_ERROR;
        d.text = "the request was cancelled";
    } else {
        if (c->tools) {
            struct render_ctx rc = { j, i };
            llamac_tool_stream_finish(c->tools, tool_delta, &rc);
        }
        d.kind = DELTA_FINISH;
    }
    d.len = d.text ? strlen(d.text) : 0;
    render(j, &d);
}

json_t *stream_timings_json(const struct job *j, size_t choice) {
    const struct choice *c = &j->choices[choice];
    struct result r;
    memset(&r, 0, sizeof r);
    r.usage.prompt_tokens = c->progress.n_prompt;
    r.usage.cached_tokens = c->progress.n_cached;
    r.usage.prompt_ms = c->progress.prompt_ms;
    r.usage.generated_tokens = c->n_streamed;
    if (c->n_streamed > 0) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        r.usage.generation_ms =
            (double)(now.tv_sec - c->first_token.tv_sec) * 1e3 + (double)(now.tv_nsec - c->first_token.tv_nsec) / 1e6;
    }
    return timings_json(&r);
}

/* Renders the raw events in `ev` (taken from the job) into j->out. */
static void render_events(struct job *j, const llamac__dynbuf *ev) {
    size_t at = 0;
    while (at + sizeof(struct event) <= ev->len) {
        struct event e;
        memcpy(&e, ev->p + at, sizeof e);
        at += sizeof e;
        size_t len = e.len;
        const char *text = e.has_text ? ev->p + at : NULL;
        at += len;
        struct token_logprob lp;
        if (e.has_lp) {
            memcpy(&lp, ev->p + at, sizeof lp);
            at += sizeof lp;
        }
        struct choice *c = e.choice < j->n_choices ? &j->choices[e.choice] : NULL;
        if (c && e.kind == EV_TOKEN && c->n_streamed++ == 0) {
            clock_gettime(CLOCK_MONOTONIC, &c->first_token);
        }
        if (e.kind == EV_START) {
            struct delta d = { .kind = DELTA_START, .choice = e.choice, .text = text, .len = len };
            render(j, &d);
        } else if (e.kind == EV_TOKEN && c && c->tools) {
            struct render_ctx rc = { j, e.choice };
            llamac_tool_stream_push(c->tools, text, len, tool_delta, &rc);
        } else if (e.kind == EV_TOKEN) {
            struct delta d = { .kind = DELTA_TEXT,
                               .choice = e.choice,
                               .text = text,
                               .len = len,
                               .lp = e.has_lp ? &lp : NULL,
                               .token = e.token >= 0 ? &e.token : NULL };
            render(j, &d);
        } else if (e.kind == EV_PROGRESS && c && len == sizeof(llamac_engine_progress)) {
            llamac_engine_progress pr;
            memcpy(&pr, text, sizeof pr);
            c->progress = pr;
            struct delta d = { .kind = DELTA_PROGRESS, .choice = e.choice, .progress = &pr };
            render(j, &d);
        } else if (e.kind == EV_DONE && c) {
            render_done(j, e.choice);
        } else if (e.kind == EV_END) {
            if (j->access) {
                struct totals t;
                job_totals(j, &t);
                j->access->prompt_tokens = t.prompt;
                j->access->generated_tokens = t.generated;
            }
            struct delta d = { .kind = DELTA_END };
            render(j, &d);
        }
    }
}

/* Takes the queued events (lock held) and renders them without the lock; returns with the lock held. */
static void drain(struct job *j) {
    llamac__dynbuf ev = j->events;
    llamac__dynbuf_init(&j->events, ev.max);
    pthread_mutex_unlock(&j->lock);
    render_events(j, &ev);
    llamac__dynbuf_free(&ev);
    pthread_mutex_lock(&j->lock);
}

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    struct job *j = cls;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        if (j->events.len > 0) {
            drain(j);
        }
        if (j->out_pos < j->out.len) {
            pthread_mutex_unlock(&j->lock);
            size_t n = j->out.len - j->out_pos;
            if (n > max) {
                n = max;
            }
            memcpy(out, j->out.p + j->out_pos, n);
            j->out_pos += n;
            if (j->out_pos == j->out.len) {
                llamac__dynbuf_reset(&j->out);
                j->out_pos = 0;
            }
            return (ssize_t)n;
        }
        if (j->ended) {
            pthread_mutex_unlock(&j->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (j->aborted) {
            pthread_mutex_unlock(&j->lock);
            struct delta d = { .kind = DELTA_ERROR, .text = "the server is shutting down" };
            d.len = strlen(d.text);
            render(j, &d);
            pthread_mutex_lock(&j->lock);
            continue;
        }
        struct timespec ts;
        deadline_in(&ts, 100);
        if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && connection_gone(j->fd)) {
            pthread_mutex_unlock(&j->lock);
            job_cancel(j);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void stream_free(void *cls) {
    struct job *j = cls;
    job_cancel(j); /* a client gone mid-stream frees its slots at once */
    job_release(j);
}

struct MHD_Response *job_stream_response(struct job *j, struct access *access) {
    j->access = access;
    struct MHD_Response *r = http_stream_response(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, j, stream_free);
    if (r) {
        MHD_add_response_header(r, "Content-Type", j->dialect->stream_content_type);
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    }
    return r;
}
