/*
 * job.c - a completion request in flight (see job.h): engine callbacks on one side, the connection on the other.
 *
 * The engine thread renders stream events itself, under the job's lock, so the reader only copies bytes. Hang-ups
 * are noticed while waiting: every 100 ms the waiter peeks at the client's socket, and an orderly close (or an
 * error) cancels the job's engine requests at once, which frees their slots.
 */
#include "job.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>

bool buf_add(struct buf *b, const char *data, size_t len) {
    if (b->len + len + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + len + 1) {
            cap *= 2;
        }
        char *grown = realloc(b->data, cap);
        if (!grown) {
            return false;
        }
        b->data = grown;
        b->cap = cap;
    }
    memcpy(b->data + b->len, data, len);
    b->len += len;
    b->data[b->len] = '\0';
    return true;
}

struct job *job_new(struct server *s, struct MHD_Connection *conn, enum job_kind kind, size_t n_choices) {
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
    j->kind = kind;
    j->s = s;
    j->engine = s->engine;
    j->model = s->model;
    j->n_choices = n_choices;
    j->created = (int64_t)time(NULL);
    j->fd = -1;
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (ci) {
        j->fd = (int)ci->connect_fd;
    }
    make_id(s, kind == JOB_CHAT ? "chatcmpl-" : "cmpl-", j->id, sizeof j->id);
    snprintf(j->model_id, sizeof j->model_id, "%s", s->model_id);
    for (size_t i = 0; i < n_choices; i++) {
        j->choices[i].job = j;
        j->choices[i].index = i;
        j->choices[i].first = true;
    }
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
    if (s) {
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
    }
    for (size_t i = 0; i < j->n_choices; i++) {
        free(j->choices[i].text.data);
        free(j->choices[i].error);
        llamac_tool_stream_free(j->choices[i].tools);
        json_decref(j->choices[i].logprobs);
    }
    free(j->choices);
    free(j->out.data);
    free(j->pend.data);
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

static void pend_flush(struct job *j);

/* Appends one SSE event (stolen) after everything queued before it. */
static void emit_raw(struct job *j, json_t *event) {
    char *text = event ? json_dumps(event, JSON_COMPACT) : NULL;
    json_decref(event);
    if (text) {
        buf_add(&j->out, "data: ", 6);
        buf_add(&j->out, text, strlen(text));
        buf_add(&j->out, "\n\n", 2);
        free(text);
    }
}

const char *job_finish_reason(const struct choice *c) {
    if (c->has_calls && (c->finish == LLAMAC_FINISH_EOG || c->finish == LLAMAC_FINISH_STOP)) {
        return "tool_calls";
    }
    switch (c->finish) {
    case LLAMAC_FINISH_LENGTH:
    case LLAMAC_FINISH_CONTEXT_FULL: return "length";
    default: return "stop";
    }
}

void job_emit(struct job *j, json_t *event) {
    pend_flush(j);
    emit_raw(j, event);
}

/* A token's text for logprobs: its bytes as a string (invalid UTF-8 replaced) and the raw bytes. */
static json_t *token_entry(struct job *j, llamac_token t, float logprob, bool with_top, const llamac_token_prob *top,
                           size_t n_top) {
    char piece[256];
    size_t n = 0;
    if (llamac_token_to_piece(j->model, t, false, piece, sizeof piece, &n) != LLAMAC_OK) {
        n = 0;
    }
    json_t *bytes = json_array();
    for (size_t i = 0; i < n; i++) {
        json_array_append_new(bytes, json_integer((unsigned char)piece[i]));
    }
    json_t *str = json_stringn(piece, n);
    if (!str) {
        str = json_string("\xef\xbf\xbd"); /* part of a character */
    }
    json_t *e = json_pack("{s:o, s:f, s:o}", "token", str, "logprob", (double)logprob, "bytes", bytes);
    if (with_top) {
        json_t *arr = json_array();
        for (size_t i = 0; i < n_top && i < (size_t)j->top_logprobs; i++) {
            json_array_append_new(arr, token_entry(j, top[i].token, top[i].logprob, false, NULL, 0));
        }
        json_object_set_new(e, "top_logprobs", arr);
    }
    return e;
}

/* Completions' logprobs shape: parallel arrays. */
static json_t *completion_logprobs_new(void) {
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

static void completion_logprobs_add(struct job *j, json_t *lp, const llamac_engine_token *t, size_t offset) {
    json_t *e = token_entry(j, t->token, t->logprob, false, NULL, 0);
    json_array_append(json_object_get(lp, "tokens"), json_object_get(e, "token"));
    json_array_append_new(json_object_get(lp, "token_logprobs"), json_real((double)t->logprob));
    json_t *top = json_object();
    for (size_t i = 0; i < t->n_top && i < (size_t)j->top_logprobs; i++) {
        json_t *te = token_entry(j, t->top[i].token, t->top[i].logprob, false, NULL, 0);
        json_object_set_new(top, json_string_value(json_object_get(te, "token")), json_real((double)t->top[i].logprob));
        json_decref(te);
    }
    json_array_append_new(json_object_get(lp, "top_logprobs"), top);
    json_array_append_new(json_object_get(lp, "text_offset"), json_integer((json_int_t)offset));
    json_decref(e);
}

static json_t *chunk_new(struct job *j) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", j->id, "object",
                     j->kind == JOB_CHAT ? "chat.completion.chunk" : "text_completion", "created",
                     (json_int_t)j->created, "model", j->model_id);
}

/* One streamed choice's chunk: chat {"delta": {...}}, completions {"text": ...}. `delta` is stolen. */
static json_t *choice_chunk(struct job *j, const struct choice *c, json_t *delta_or_text, json_t *logprobs,
                            const char *finish) {
    json_t *ch = chunk_new(j);
    json_t *choice = json_pack("{s:I}", "index", (json_int_t)c->index);
    json_object_set_new(choice, j->kind == JOB_CHAT ? "delta" : "text", delta_or_text);
    json_object_set_new(choice, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(ch, "choices", json_pack("[o]", choice));
    if (j->include_usage) {
        json_object_set_new(ch, "usage", json_null());
    }
    return ch;
}

static void emit_choice(struct job *j, struct choice *c, json_t *delta_or_text, json_t *logprobs, const char *finish) {
    job_emit(j, choice_chunk(j, c, delta_or_text, logprobs, finish));
}

/* A piece of streamed text as a choice's payload: chat {"content": text}, completions the text itself. */
static json_t *content_payload(const struct job *j, const char *text, size_t len) {
    json_t *piece = json_stringn(text ? text : "", len);
    if (!piece) {
        piece = json_string(""); /* part of a character */
    }
    return j->kind == JOB_CHAT ? json_pack("{s:o}", "content", piece) : piece;
}

/* Streamed text waits in j->pend as (choice index, length, bytes) until the connection thread takes it or another
 * event must follow it: the engine thread, which every stream waits for, only copies the bytes, and each token's
 * chunk is built and serialised on the connection's thread. The bytes sent are the same. Lock held. */
static void pend_add(struct job *j, const struct choice *c, const char *text, size_t len) {
    size_t head[2] = { c->index, len };
    buf_add(&j->pend, (const char *)head, sizeof head);
    buf_add(&j->pend, text, len);
}

/* Formats every pending piece into j->out, in order. Lock held. */
static void pend_flush(struct job *j) {
    size_t at = 0;
    while (at + 2 * sizeof(size_t) <= j->pend.len) {
        size_t head[2];
        memcpy(head, j->pend.data + at, sizeof head);
        at += sizeof head;
        json_t *payload = content_payload(j, j->pend.data + at, head[1]);
        at += head[1];
        emit_raw(j, choice_chunk(j, &j->choices[head[0]], payload, NULL, NULL));
    }
    j->pend.len = 0;
}

/* One tool-parser delta as a chat chunk (stream with tools). */
static bool emit_tool_delta(const llamac_tool_delta *d, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    if (d->kind == LLAMAC_TOOL_DELTA_CONTENT) {
        pend_add(j, c, d->text ? d->text : "", d->len);
        return true;
    }
    json_t *text = json_stringn(d->text ? d->text : "", d->len);
    if (!text) {
        text = json_string("");
    }
    json_t *delta;
    if (d->kind == LLAMAC_TOOL_DELTA_CALL) {
        json_t *call = json_pack("{s:I, s:{s:o}}", "index", (json_int_t)d->index, "function", "arguments", text);
        if (d->id) {
            json_object_set_new(call, "id", json_string(d->id));
            json_object_set_new(call, "type", json_string("function"));
        }
        if (d->name) {
            json_object_set_new(json_object_get(call, "function"), "name", json_string(d->name));
        }
        delta = json_pack("{s:[o]}", "tool_calls", call);
        c->has_calls = true;
    } else {
        delta = json_pack("{s:o}", "reasoning_content", text);
    }
    emit_choice(j, c, delta, NULL, NULL);
    return true;
}

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

bool job_on_token(const llamac_engine_token *t, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    pthread_mutex_lock(&j->lock);
    bool wake = false;
    if (j->stream && c->tools) {
        if (t->len > 0) {
            buf_add(&c->text, t->text, t->len);
            llamac_tool_stream_push(c->tools, t->text, t->len, emit_tool_delta, c);
            wake = true;
        }
        return token_done(j, wake);
    }
    bool with_lp = j->logprobs && t->token >= 0;
    size_t offset = c->text_offset;
    if (t->len > 0) {
        buf_add(&c->text, t->text, t->len);
        c->text_offset += t->len;
    }
    if (with_lp) {
        if (j->kind == JOB_CHAT) {
            if (!c->logprobs) {
                c->logprobs = json_array();
            }
            if (!j->stream) {
                json_array_append_new(c->logprobs, token_entry(j, t->token, t->logprob, true, t->top, t->n_top));
            }
        } else if (!j->stream) {
            if (!c->logprobs) {
                c->logprobs = completion_logprobs_new();
            }
            completion_logprobs_add(j, c->logprobs, t, offset);
        }
    }
    if (j->stream && !with_lp && t->len > 0) {
        pend_add(j, c, t->text, t->len);
        c->first = false;
        wake = true;
    } else if (j->stream && (t->len > 0 || with_lp)) {
        json_t *lp = NULL;
        if (with_lp && j->kind == JOB_CHAT) {
            lp = json_pack("{s:[o]}", "content", token_entry(j, t->token, t->logprob, true, t->top, t->n_top));
        } else if (with_lp) {
            lp = completion_logprobs_new();
            completion_logprobs_add(j, lp, t, offset);
        }
        emit_choice(j, c, content_payload(j, t->text, t->len), lp, NULL);
        c->first = false;
        wake = true;
    }
    return token_done(j, wake);
}

static json_t *error_event(const char *message, const char *type) {
    return json_pack("{s:{s:s, s:s, s:n, s:n}}", "error", "message", message, "type", type, "param", "code");
}

json_t *job_usage(struct job *j, size_t n_per_prompt) {
    json_int_t prompt = 0, cached = 0, completion = 0;
    for (size_t i = 0; i < j->n_choices; i++) {
        const struct choice *c = &j->choices[i];
        if (n_per_prompt == 0 || i % n_per_prompt == 0) {
            prompt += c->n_prompt;
            cached += c->usage.cached_tokens;
        }
        completion += c->usage.generated_tokens;
    }
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", prompt, "completion_tokens", completion,
                     "total_tokens", prompt + completion, "prompt_tokens_details", "cached_tokens", cached);
}

/* With j->lock held: when every choice is accepted and done, ends a stream (usage chunk, [DONE]). Called when a
 * choice finishes and when one is accepted: the engine may finish a short request before its submitter records
 * the acceptance. */
static void job_stream_end_if_done(struct job *j) {
    if (j->stream && !j->ended && j->n_done == j->n_accepted && j->n_accepted == j->n_choices) {
        if (j->include_usage) {
            json_t *ch = chunk_new(j);
            json_object_set_new(ch, "choices", json_array());
            json_object_set_new(ch, "usage", job_usage(j, j->n_per_prompt));
            job_emit(j, ch);
        }
        pend_flush(j);
        buf_add(&j->out, "data: [DONE]\n\n", 14);
        j->ended = true;
        pthread_cond_broadcast(&j->cond);
    }
}

void job_on_done(const llamac_engine_result *r, void *user_data) {
    struct choice *c = user_data;
    struct job *j = c->job;
    pthread_mutex_lock(&j->lock);
    c->done = true;
    c->finish = r->finish_reason;
    c->status = r->status;
    c->usage = r->usage;
    if (r->status != LLAMAC_OK) {
        c->error = strdup(r->error && r->error[0] ? r->error : llamac_status_str(r->status));
    }
    j->n_done++;
    if (j->stream && !j->ended) {
        if (r->status != LLAMAC_OK || r->finish_reason == LLAMAC_FINISH_NONE) {
            /* an error mid-stream is an error event, not a normal finish */
            job_emit(j, error_event(c->error ? c->error : "generation failed", "server_error"));
            j->ended = true;
        } else if (r->finish_reason == LLAMAC_FINISH_CANCELLED) {
            job_emit(j, error_event("the request was cancelled", "server_error"));
            j->ended = true;
        } else {
            if (c->tools) {
                llamac_tool_stream_finish(c->tools, emit_tool_delta, c);
            }
            json_t *payload = j->kind == JOB_CHAT ? json_object() : json_string("");
            emit_choice(j, c, payload, NULL, job_finish_reason(c));
        }
        job_stream_end_if_done(j);
    }
    pthread_cond_broadcast(&j->cond);
    bool last = --j->refs == 0;
    pthread_mutex_unlock(&j->lock);
    if (last) {
        job_free(j);
    }
}

void job_cancel(struct job *j) {
    uint64_t ids[64];
    size_t n = 0;
    pthread_mutex_lock(&j->lock);
    for (size_t i = 0; i < j->n_choices && n < 64; i++) {
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

/* Has the client closed its end? A peek that reads EOF (or fails other than for "no data yet") says so. */
static bool client_gone(int fd) {
    if (fd < 0) {
        return false;
    }
    char b;
    ssize_t n = recv(fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
    return n == 0 || (n < 0 && errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR);
}

static void deadline_in(struct timespec *ts, long ms) {
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
        if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && client_gone(j->fd)) {
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

static ssize_t stream_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    struct job *j = cls;
    pthread_mutex_lock(&j->lock);
    for (;;) {
        pend_flush(j);
        if (j->out_pos < j->out.len) {
            size_t n = j->out.len - j->out_pos;
            if (n > max) {
                n = max;
            }
            memcpy(out, j->out.data + j->out_pos, n);
            j->out_pos += n;
            if (j->out_pos == j->out.len) {
                j->out.len = j->out_pos = 0;
            }
            pthread_mutex_unlock(&j->lock);
            return (ssize_t)n;
        }
        if (j->ended) {
            pthread_mutex_unlock(&j->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        if (j->aborted) {
            job_emit(j, error_event("the server is shutting down", "server_error"));
            j->ended = true;
            continue;
        }
        struct timespec ts;
        deadline_in(&ts, 100);
        if (pthread_cond_timedwait(&j->cond, &j->lock, &ts) == ETIMEDOUT && client_gone(j->fd)) {
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

struct MHD_Response *job_stream_response(struct job *j) {
    struct MHD_Response *r =
        MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, stream_read, j, stream_free);
    if (r) {
        MHD_add_response_header(r, "Content-Type", "text/event-stream");
        MHD_add_response_header(r, "Cache-Control", "no-cache");
        MHD_add_response_header(r, "X-Accel-Buffering", "no");
    }
    return r;
}

llamac_status job_submit(struct job *j, struct choice *c, llamac_engine_request *er) {
    er->on_token = job_on_token;
    er->on_done = job_on_done;
    er->user_data = c;
    c->n_prompt = (int32_t)er->n_prompt;
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
        job_stream_end_if_done(j); /* the engine may have finished it already */
    } else {
        j->refs--;
    }
    pthread_mutex_unlock(&j->lock);
    return st;
}
