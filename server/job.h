/*
 * job.h - one completion request in flight: the meeting point of the connection thread that answers it and the
 * engine thread that produces its tokens.
 *
 * A job holds one choice per engine request (n choices, times the prompts of a /v1/completions list). The engine's
 * callbacks add text to the choices and, for a stream, render Server-Sent Events into an output buffer that the
 * connection's reader drains. A job is reference-counted (the connection plus every request the engine accepted),
 * so whichever side finishes last frees it: the engine may outlive the connection (a client that went away) and
 * the connection may outlive the engine's interest (a finished stream still being written).
 */
#ifndef LLAMAC_SERVER_JOB_H
#define LLAMAC_SERVER_JOB_H

#include "internal.h"

struct buf {
    char *data;
    size_t len, cap;
};

struct choice {
    struct job *job;
    size_t index;
    uint64_t id; /* engine request id; 0 until accepted */
    bool accepted;
    bool done;
    bool first;       /* no chunk of this choice streamed yet */
    struct buf text;  /* everything generated (non-streaming responses) */
    json_t *logprobs; /* chat: the "content" array; completions: an object of parallel arrays */
    size_t text_offset;
    llamac_finish_reason finish;
    llamac_status status;
    char *error;
    llamac_engine_usage usage;
    int32_t n_prompt;          /* tokens of this choice's prompt */
    llamac_tool_stream *tools; /* streaming with tools: turns the text into content / tool-call deltas */
    bool has_calls;            /* the stream delivered a tool call */
};

enum job_kind { JOB_CHAT, JOB_COMPLETION };

struct job {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    enum job_kind kind;
    struct server *s;
    llamac_engine *engine;
    llamac_model *model;
    bool stream, include_usage, logprobs;
    int top_logprobs;
    bool parse_tools;               /* chat with tools or reasoning: output is parsed by the tool-call parser */
    llamac_tool_parse_params parse; /* how: format, reasoning, whether calls are read */
    char id[64];
    char model_id[256];
    int64_t created;
    size_t n_choices, n_done, n_accepted;
    size_t n_per_prompt; /* choices per prompt (the request's n): usage counts each prompt once */
    struct choice *choices;
    struct buf out;        /* SSE bytes not yet handed to libmicrohttpd */
    struct buf pend;       /* streamed text not yet formatted, ahead of `out` (job.c: pend_add) */
    bool wake_queued;      /* on the server's stack of readers to wake at the end of the step (wake.c) */
    struct job *wake_next; /* the next job on that stack */
    size_t out_pos;
    bool ended;              /* the stream's last event is in `out` */
    bool aborted;            /* server_stop: the server is going away */
    int fd;                  /* the client's socket, watched for a hang-up while waiting */
    struct job *next, *prev; /* in the server's list */
};

/* A job with n_choices choices and one reference (the connection's); registered with the server. NULL when out of
 * memory. */
struct job *job_new(struct server *s, struct MHD_Connection *conn, enum job_kind kind, size_t n_choices);

/* Drops a reference; the last one frees the job (and unregisters it). */
void job_release(struct job *j);

/* Appends bytes to a buffer; false when out of memory. */
bool buf_add(struct buf *b, const char *data, size_t len);

/* Appends one SSE event "data: JSON\n\n" with `event` (stolen) to the job's output. Caller holds the lock. */
void job_emit(struct job *j, json_t *event);

/* The engine callbacks; user_data is a struct choice. */
bool job_on_token(const llamac_engine_token *token, void *user_data);
void job_on_done(const llamac_engine_result *result, void *user_data);

/* Cancels every accepted choice that has not finished (a client that went away). Must not hold the lock. */
void job_cancel(struct job *j);

/* Waits until every accepted choice is done; false when the client hung up or the server stopped first (the
 * choices are then cancelled). */
bool job_wait(struct job *j);

/* A libmicrohttpd response that streams the job's events; it takes over the connection's reference. */
struct MHD_Response *job_stream_response(struct job *j);

/* Submits *er (its callbacks and user data are set here) as choice c of j, with the engine's reference on j taken
 * and the choice marked accepted on success. Returns the engine's status (the caller replies on failure). */
llamac_status job_submit(struct job *j, struct choice *c, llamac_engine_request *er);

/* The OpenAI finish_reason of a choice ("stop", "length"). */
const char *job_finish_reason(const struct choice *c);

/* The usage object of the whole job (prompt tokens counted once per distinct prompt: choices whose
 * index % n == 0). */
json_t *job_usage(struct job *j, size_t n_per_prompt);

/* With j->lock held, on the engine thread: puts the job's reader on the list woken at the end of the engine step
 * (taking a reference until then). False when there is no such list (the caller wakes it itself). */
bool wake_queue(struct job *j);

#endif /* LLAMAC_SERVER_JOB_H */
