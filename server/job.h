/*
 * job.h - one generation request in flight: the meeting point of the request thread that answers it and the
 * engine thread that produces its tokens.
 *
 * A job holds one choice per engine request (n choices, times the prompts of a list). The engine's callbacks add
 * text to the choices' results and, for a stream, queue raw events (a token's text and log-probabilities, a choice's
 * end) that the connection's reader turns into deltas (result.h) and has the job's dialect render: the engine
 * thread, which every stream waits for, only copies bytes. A job is reference-counted (the connection plus every
 * request the engine accepted), so whichever side finishes last frees it: the engine may outlive the connection (a
 * client that went away) and the connection may outlive the engine's interest (a finished stream still being
 * written).
 */
#ifndef LLAMAC_SERVER_JOB_H
#define LLAMAC_SERVER_JOB_H

#include "request.h"
#include "result.h"

struct choice {
    struct job *job;
    struct result r;
    uint64_t id; /* engine request id; 0 until accepted */
    bool accepted;
    bool done;
    llamac_tool_stream *tools; /* a chat stream read for reasoning / tool calls: turns text into deltas (reader) */
    /* the stream's blocks (result.h), the reader's own */
    enum delta_kind block_open;  /* TEXT, REASONING or TOOL_CALL; DELTA_START: none open */
    size_t n_blocks;             /* blocks opened so far */
    size_t block_tool;           /* the open tool call's index */
    llamac__dynbuf block_text;   /* the open block's text so far */
    char *block_id, *block_name; /* the open tool call's (malloc) */
    struct block *closed;        /* the closed blocks, in order (result.h) */
    size_t n_closed;
    /* the reader's count of the stream so far, for timings before the end (stream_timings_json) */
    llamac_engine_progress progress; /* the last PROGRESS event's (zero before one) */
    struct timespec first_token;     /* when the reader read the first token */
    int32_t n_streamed;              /* tokens read so far */
};

struct job {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs;
    struct server *s;
    llamac_engine *engine;
    llamac_model *model;
    const struct dialect *dialect; /* NULL: the caller reads the results itself (drafts) */
    /* what the response shows (from the parsed request) */
    bool stream, include_usage, logprobs;
    int top_logprobs;
    bool parse_tools;               /* a chat reply read by the tool-call parser (tools or reasoning) */
    llamac_tool_parse_params parse; /* how: format, reasoning, whether calls are read */
    char *parse_lead;               /* the job's copy of parse.lead (which points into the rendered prompt, freed
                                       with the request while the reply is still read) */
    char *parse_tools_json;         /* the job's copy of parse.tools (the request's, freed with it) */
    size_t n_per_prompt;            /* choices per prompt (the request's n) */
    bool record_tokens;             /* each result keeps its generated token ids */
    bool stream_tokens;             /* a stream has an event for every token, with its id (llama-server's native) */
    bool progress;                  /* a stream has PROGRESS events while the prompts are decoded (return_progress) */
    bool timings_per_token;         /* progress events carry timings (llama-server's timings_per_token) */
    void *dialect_data;             /* the request's (gen_request.dialect_data), freed with the job */
    void (*dialect_data_free)(void *data);
    char id[64];
    char model_id[256];
    int64_t created;
    size_t n_choices, n_done, n_accepted;
    struct choice *choices;
    /* engine thread -> reader, under the lock */
    llamac__dynbuf events; /* raw stream events not yet read (job.c) */
    bool end_queued;       /* the END event is in `events` */
    bool aborted;          /* server_shutdown: the server is going away */
    bool wake_queued;      /* on the server's stack of readers to wake at the end of the step (wake.c) */
    struct job *wake_next;
    int fd; /* the client's socket, watched for a hang-up while waiting */
    /* the reader's own (the request's thread) */
    llamac__dynbuf out; /* rendered bytes not yet handed to libmicrohttpd */
    size_t out_pos;
    bool ended;              /* the stream's last event is in `out` */
    size_t sequence;         /* the dialect's count of the events it sent (see struct dialect) */
    struct access *access;   /* where the stream's token counts go when it ends (the request's access log) */
    struct job *next, *prev; /* in the server's list */
};

/* llama-server's "timings" of a choice still streaming (timings_per_token): its prompt as the last progress event
 * told it (none without return_progress), and the tokens read so far over the time since the first (as the reader
 * read them). */
json_t *stream_timings_json(const struct job *j, size_t choice);

/* A job with n_choices choices and one reference (the connection's), rendered by `dialect` (its id has the
 * dialect's prefix); registered with the server. NULL when out of memory. */
struct job *job_new(struct server *s, struct MHD_Connection *conn, const struct dialect *dialect, size_t n_choices);

/* Drops a reference; the last one frees the job (and unregisters it). */
void job_release(struct job *j);

/* A stream: queues each choice's START (the echoed prompt of prompt i / n_per_prompt from `echo`, which may be
 * NULL or hold NULLs) before anything the engine sends. */
void job_stream_begin(struct job *j, char *const *echo);

/* Submits *er (its callbacks and user data are set here) as choice c of j, with the engine's reference on j taken
 * and the choice marked accepted on success. Returns the engine's status (the caller replies on failure). */
llamac_status job_submit(struct job *j, struct choice *c, llamac_engine_request *er);

/* Cancels every accepted choice that has not finished (a client that went away). Must not hold the lock. */
void job_cancel(struct job *j);

/* Waits until every accepted choice is done; false when the client hung up or the server stopped first (the
 * choices are then cancelled). */
bool job_wait(struct job *j);

/* A libmicrohttpd response that streams the job's events as its dialect renders them; it takes over the
 * connection's reference. When the stream ends, its token counts go to *access (may be NULL). */
struct MHD_Response *job_stream_response(struct job *j, struct access *access);

/* The token counts of the job (see struct totals). The choices must be done. */
void job_totals(const struct job *j, struct totals *t);

/* With j->lock held, on the engine thread: puts the job's reader on the list woken at the end of the engine step
 * (taking a reference until then). False when there is no such list (the caller wakes it itself). (wake.c) */
bool wake_queue(struct job *j);

#endif /* LLAMAC_SERVER_JOB_H */
