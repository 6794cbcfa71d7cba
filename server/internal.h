/*
 * internal.h - what the server's files share: the server object, one request being answered, error replies and
 * the checked readers of JSON request fields.
 *
 * A handler gets a `struct request` with the whole body and fills in its reply: a status and a JSON value, a text
 * body, or a ready-made libmicrohttpd response (a stream). Every client mistake becomes a 4xx in OpenAI's error
 * shape through reply_error, naming the field when there is one; 5xx is kept for failures of the server itself.
 */
#ifndef LLAMAC_SERVER_INTERNAL_H
#define LLAMAC_SERVER_INTERNAL_H

#include "server.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

struct server {
    struct server_options opt;
    struct MHD_Daemon *daemon;
    uint16_t port;
    atomic_bool ready;
    atomic_bool stopping;
    atomic_long in_flight; /* requests dispatched whose response is not yet finished */
    atomic_ullong next_id; /* for response ids */
    int64_t started;       /* unix time, the "created" of the model */
    /* set by server_set_backend */
    llamac_model *model;
    llamac_engine *engine;
    const llamac_template *tmpl;
    llamac_tool_format tool_format; /* how the model writes tool calls (from its template) */
    llamac_context *embd_ctx;
    pthread_mutex_t embd_lock; /* one embedding job at a time on embd_ctx */
    bool reranking;
    char *model_id;
    /* jobs waiting on the engine, so that server_stop can end them */
    pthread_mutex_t jobs_lock;
    struct job *jobs;
    /* waking stream readers once per engine step (wake.c) */
    atomic_bool step_hooked;         /* the engine calls server_engine_step */
    _Atomic(struct job *) wake_head; /* jobs whose readers are to be woken (a stack through job.wake_next) */
    bool wake_pending;               /* pushed during this step; engine thread only */
    sem_t wake_sem;                  /* posted at the end of a step that pushed, while the waker sleeps on it */
    atomic_bool waker_asleep;        /* the waker sleeps on wake_sem (else it polls wake_head) */
    atomic_bool wake_stop;
    pthread_t waker;
    bool waker_running;
};

/* Makes the calling thread (a connection's, the waker) SCHED_BATCH on Linux, once: a batch thread never preempts the
 * running one when it wakes up, so a token's reader, woken while the engine thread decodes the next step, takes the
 * other core or waits for the engine's time slice instead of interrupting it (measured with 16 streams on 2 cores:
 * the engine thread waited for its core 6 % of its running time before, 3-4 % after). Its share of the CPU is as
 * before. Elsewhere, a no-op. */
void thread_yield_to_engine(void);

/* The waker thread (wake.c): started with the server, stopped when it is freed (after the engine). */
void wake_start(struct server *s);
void wake_stop(struct server *s);

struct request {
    struct server *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated */
    size_t body_len;
    /* the reply */
    unsigned status;
    json_t *json; /* owned; sent as application/json */
    char *text;   /* owned (malloc); sent with content_type */
    const char *content_type;
    struct MHD_Response *response; /* a ready response (streams); takes precedence */
    unsigned retry_after;          /* seconds, for 503 */
};

/* Replies with OpenAI's error shape. `param` names the offending field (NULL for none); `code` is a short string
 * (NULL: null). The type is chosen from the status. */
void reply_error(struct request *rq, unsigned status, const char *param, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Replies with `json` (stolen). */
void reply_json(struct request *rq, unsigned status, json_t *json);

/* Parses the body as a JSON object; on failure replies 400 (with the line and column) and returns NULL. The
 * caller frees the result with json_decref. */
json_t *request_object(struct request *rq);

/* Checked field readers: an absent field or null leaves *out untouched and returns true; a field of the wrong type
 * or out of range replies 400 naming the field and returns false. */
bool field_bool(struct request *rq, json_t *obj, const char *name, bool *out);
bool field_int(struct request *rq, json_t *obj, const char *name, long long min, long long max, long long *out);
bool field_num(struct request *rq, json_t *obj, const char *name, double min, double max, double *out);
bool field_str(struct request *rq, json_t *obj, const char *name, const char **out);

/* A unique id with a prefix ("chatcmpl-", "cmpl-"): prefix, the start time and a counter. */
void make_id(struct server *s, const char *prefix, char *buf, size_t cap);

/* Tokens of the text of a JSON string (parse_special as llama-server's prompts do) into *out (llamac_free);
 * replies 400 naming `param` on invalid input. */
bool tokenize_text(struct request *rq, const char *param, const char *text, size_t len, bool add_special,
                   llamac_token **out, size_t *n);

/* Handlers (routes in http.c). */
void handle_chat(struct request *rq);
void handle_completions(struct request *rq);
void handle_embeddings(struct request *rq);
void handle_rerank(struct request *rq);
void handle_models(struct request *rq);
void handle_health(struct request *rq);
void handle_tokenize(struct request *rq);
void handle_detokenize(struct request *rq);
void handle_apply_template(struct request *rq);
void handle_metrics(struct request *rq);
void handle_slots(struct request *rq);
void handle_drafts(struct request *rq); /* draft.c: incremental prefill over HTTP */

/* A chat request's conversation as the library renders it (llamac_template_apply): JSON texts, owned (free). */
struct chat_input {
    char *messages;
    char *tools;  /* NULL: none */
    char *kwargs; /* chat_template_kwargs; NULL: none */
    bool add_generation_prompt;
};

/* Reads "messages", "tools", "chat_template_kwargs" and "add_generation_prompt" of a request object into *ci
 * (chat_input_free, also after failing), checking their shape; replies 400 and returns false on a bad one. */
bool chat_input_parse(struct request *rq, json_t *body, struct chat_input *ci);
void chat_input_free(struct chat_input *ci);

/* The library's parameters for *ci (borrowed: ci must outlive them). */
llamac_template_apply_params chat_input_params(const struct chat_input *ci);

/* Replies for a failed llamac_template_apply / llamac_template_stable_tokens (`st` not LLAMAC_OK): 400 naming
 * "messages", 500 when out of memory. Returns whether it replied. */
bool chat_reply_render_error(struct request *rq, llamac_status st);

/* Renders the chat prompt of *ci with the server's template into *out (llamac_free); replies 400 on failure (a
 * server without a chat template too). */
bool render_chat(struct request *rq, const struct chat_input *ci, char **out, size_t *len);

/* Parses and checks a chat (chat true) or completions request body exactly as handle_chat / handle_completions do,
 * up to the rendered and tokenized prompts, without generating. Needs only what server_set_backend gave (the
 * model, the template), no engine and no connection (rq->conn may be NULL), so it runs without a listening server
 * (tests/fuzz/fuzz_request.c). Returns true for a valid request; otherwise rq holds the OpenAI error reply. */
bool completion_request_check(struct request *rq, json_t *body, bool chat);

/* Replies for an engine submit that failed with `st` (complete.c): 503 + Retry-After, or 400 naming the field. */
struct job;
void reply_submit_error(struct request *rq, const struct job *j, llamac_status st);

/* Ends every job still waiting (server_stop). */
void jobs_abort_all(struct server *s);

#endif /* LLAMAC_SERVER_INTERNAL_H */
