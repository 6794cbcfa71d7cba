/*
 * internal.h - what the server's files share: the server object, one HTTP request being answered, replies and the
 * server's log.
 *
 * The files, by concern (README, "Layout"): server.c (the server's life: start, backend, shutdown, log), http.c
 * (libmicrohttpd: listening, bodies, routing, auth, CORS, the access log), request.c (request parsing: field
 * readers and the parsed generation request), job.c (a generation in flight: reference counts, locking, waiting,
 * the hand-over to a streaming response; no JSON), complete.c (running a parsed request on the engine), openai.c
 * (the OpenAI dialect: its request fields, response and stream shapes, errors), anthropic.c, responses.c and
 * ollama.c (the Anthropic Messages, OpenAI Responses and Ollama dialects beside it; ollama_hub.c: Ollama's pull and
 * delete over the Hugging Face cache, which model_hub.c does for it and for the router's /models), render.c (what their
 * writers share), completion.c (llama-server's native completion API and /props), native.c (llama-server's /tokenize,
 * /detokenize, /apply-template), media.c (images and audio in requests), cors_proxy.c (/cors-proxy), draft.c, embed.c,
 * admin.c (/health, /v1/models, /metrics, /slots), wake.c (waking stream readers), static.c (what GET answers outside
 * the API: the embedded chat page, or --path DIR's files), router.c and router_models.c (router mode, router.h: many
 * models, each in a child process; router_ollama.c: Ollama's listings and keep_alive over them), tools_builtin.c,
 * tools_files.c, tools_fs.c and tools_proc.c (llama-server's built-in agent tools, --tools: GET and POST /tools).
 *
 * A handler gets a `struct request` with the whole body and fills in its reply: a status and a JSON value, a text
 * body, or a ready-made libmicrohttpd response (a stream). Every client mistake becomes a 4xx through reply_error,
 * in the error shape of the route's dialect, naming the field when there is one; 5xx is kept for failures of the
 * server itself.
 */
#ifndef LLAMAC_SERVER_INTERNAL_H
#define LLAMAC_SERVER_INTERNAL_H

#include "server.h"

#include <jansson.h>
#include <microhttpd.h>
#include <pthread.h>
#include <semaphore.h>
#include <stdatomic.h>

#define SERVER_MAX_HOSTS 8 /* addresses in --host's list */

struct http; /* http.c's state: connections, their deadlines, the request threads */

struct server {
    struct server_options opt;
    struct http *http;
    struct MHD_Daemon *daemon[SERVER_MAX_HOSTS]; /* one per --host address */
    size_t n_daemons;
    uint16_t port;
    atomic_bool ready;
    atomic_bool stopping;
    atomic_long in_flight; /* requests dispatched whose response is not yet finished */
    atomic_ullong next_id; /* for response ids */
    /* embedding requests' share of /metrics (the engine counts generation's): prompt tokens, and llama_decode calls */
    atomic_ullong embd_tokens, embd_decodes;
    int64_t started; /* unix time, the "created" of the model */
    /* set by server_set_backend; owned from then on (server_shutdown frees them) */
    struct server_backend backend;
    llamac_model *model;   /* = backend.model, and so on: the names every handler uses */
    llamac_engine *engine; /* NULL: no generation endpoints */
    const llamac_template *tmpl;
    llamac_tool_format tool_format;       /* how the model writes tool calls (from its template) */
    const llamac_template *tmpl_tools;    /* renders requests with tools when set (server_backend.tmpl_tools) */
    llamac_tool_format tool_format_tools; /* its tool-call format */
    llamac_context *embd_ctx;
    llamac_mmproj *mmproj;     /* NULL: no media input */
    char marker[96];           /* the projector's media marker ("" without one) */
    pthread_mutex_t embd_lock; /* one embedding job at a time on embd_ctx */
    bool reranking;
    char *model_id;
    /* the request budget, derived from the context at server_set_backend (0: no engine, no limit): a prompt text of
     * more bytes cannot fit a slot, nor a conversation of more messages; refused before any work (issue 30) unless
     * the work is cheap (REQUEST_CHEAP_BYTES), so that the refusal can give the exact counts */
    size_t prompt_bytes_max;
    size_t messages_max;
    char *static_root;     /* opt.static_dir resolved (static.c); freed by server_shutdown */
    struct router *router; /* router mode (router.c): no model of its own, requests go to the models' children */
    /* jobs waiting on the engine, so that server_shutdown can end them */
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

/* A server object that does not listen yet (server_start then calls http_start); tests/fuzz/fuzz_request.c uses it
 * as it is. NULL when out of memory. */
struct server *server_create(const struct server_options *opt);

/* The entries of a comma-separated list (--alias, --tags), trimmed, empty ones left out, as a JSON array of strings;
 * NULL gives []. (server.c) */
json_t *list_json(const char *list);

/* One line to the server's log (server_options.log; nothing without one). */
void server_log(const struct server *s, llamac_log_level level, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 3, 4)))
#endif
    ;

/* The libmicrohttpd daemons (http.c), one per address of --host's comma-separated list, all on one port: listens on
 * the options' addresses and port (false with a message in err); stops accepting while requests finish
 * (http_quiesce: the number still in flight after grace_ms); waits up to ms for the requests in flight to end
 * (http_settle: the number left); closes every connection (http_stop). */
bool http_start(struct server *s, char *err, size_t cap);

/* A response whose body `read` produces (libmicrohttpd's content reader contract: at most `max` bytes from `pos`, or
 * MHD_CONTENT_READER_END_OF_STREAM / _END_WITH_ERROR), for a handler that answers with a stream. `read` may block
 * (waiting for tokens, for a child's bytes): it runs on the request's own thread, which passes what it returns on to
 * the connection through a buffer, so that no connection waits for another's stream. `free_cls` runs once, on that
 * thread or libmicrohttpd's, when the stream is over or the client gone. NULL when out of memory (nothing is freed).
 * Thread-safe. */
struct MHD_Response *http_stream_response(uint64_t size, size_t block, MHD_ContentReaderCallback read, void *cls,
                                          MHD_ContentReaderFreeCallback free_cls);
size_t http_quiesce(struct server *s, unsigned grace_ms);
size_t http_settle(struct server *s, unsigned ms);
void http_stop(struct server *s);

/* Makes the calling thread (a request's, the waker) SCHED_BATCH on Linux, once: a batch thread never preempts the
 * running one when it wakes up, so a token's reader, woken while the engine thread decodes the next step, takes the
 * other core or waits for the engine's time slice instead of interrupting it (measured with 16 streams on 2 cores:
 * the engine thread waited for its core 6 % of its running time before, 3-4 % after). Its share of the CPU is as
 * before. Elsewhere, a no-op. (wake.c) */
void thread_yield_to_engine(void);

/* The waker thread (wake.c): started with the server, stopped when it is freed (after the engine). */
void wake_start(struct server *s);
void wake_stop(struct server *s);

/* The body of an error reply in a dialect's shape: `param` and `code` may be NULL. */
typedef json_t *(*error_shape_fn)(unsigned status, const char *param, const char *code, const char *message);

struct request {
    struct server *s;
    struct MHD_Connection *conn;
    const char *method;
    const char *path;
    const char *body; /* NUL-terminated */
    size_t body_len;
    error_shape_fn error_shape; /* the route's dialect; NULL: OpenAI's */
    /* the reply */
    unsigned status;
    json_t *json; /* owned; sent as application/json */
    char *text;   /* owned (malloc); sent with content_type */
    const char *content_type;
    struct MHD_Response *response; /* a ready response (streams); takes precedence */
    unsigned retry_after;          /* seconds, for 503 */
    bool start_time_header;        /* Process-Start-Time-Unix: the server's start (llama-server's, on /metrics) */
    /* router mode: an Ollama request's keep_alive, applied to its model once the request holds it (router.c), so
     * that a keep_alive 0 cannot unload the loaded model the request is about to use */
    struct {
        bool asked; /* an Ollama chat, generate or embed request: what follows applies */
        bool given; /* keep_alive was in the body (else the model gets --sleep-idle-seconds back) */
        int64_t ms; /* its duration (0: unload as the request ends; < 0: never) */
    } keep_alive;
    /* for the access log line: tokens of a generation (a stream fills them in when it ends, see job.h) */
    struct access *access;
};

/* What the access log line of a request reports besides method, path and status (http.c owns it; a streaming job
 * fills it in on the request's thread when its stream ends). */
struct access {
    long long prompt_tokens, generated_tokens; /* -1: not a generation */
};

/* Replies with an error in the route's shape (OpenAI's by default). `param` names the offending field (NULL for
 * none); `code` is a short string (NULL: null). */
void reply_error(struct request *rq, unsigned status, const char *param, const char *code, const char *fmt, ...)
#if defined(__GNUC__)
    __attribute__((format(printf, 5, 6)))
#endif
    ;

/* Replies with `json` (stolen). */
void reply_json(struct request *rq, unsigned status, json_t *json);

/* A unique id with a prefix ("chatcmpl-", "cmpl-"): prefix, the start time and a counter. */
void make_id(struct server *s, const char *prefix, char *buf, size_t cap);

/* Handlers (the routes are in http.c). */
void handle_chat(struct request *rq);                   /* openai.c */
void handle_chat_input_tokens(struct request *rq);      /* openai.c */
void handle_responses_input_tokens(struct request *rq); /* responses.c */
void handle_cors_proxy(struct request *rq);             /* cors_proxy.c: /cors-proxy (--ui-mcp-proxy) */
void handle_completions(struct request *rq);            /* openai.c */
void handle_embeddings(struct request *rq);             /* embed.c */
void handle_rerank(struct request *rq);                 /* embed.c */
void handle_health(struct request *rq);                 /* admin.c */
void handle_models(struct request *rq);                 /* admin.c */
void handle_metrics(struct request *rq);                /* admin.c */
void handle_slots(struct request *rq);                  /* admin.c */
void handle_slots_action(struct request *rq);           /* admin.c: POST /slots/N?action=save|restore|erase */
void handle_lora_adapters_get(struct request *rq);      /* admin.c */
void handle_lora_adapters_post(struct request *rq);     /* admin.c */
void handle_tokenize(struct request *rq);               /* native.c */
void handle_detokenize(struct request *rq);             /* native.c */
void handle_apply_template(struct request *rq);         /* native.c */
void handle_drafts(struct request *rq);                 /* draft.c: incremental prefill over HTTP */
void handle_native_completion(struct request *rq);      /* completion.c: llama-server's POST /completion */
void handle_props(struct request *rq);                  /* completion.c: GET /props */
void handle_props_post(struct request *rq);             /* completion.c: POST /props (with --props) */
void handle_anthropic_messages(struct request *rq);     /* anthropic.c: POST /v1/messages */
void handle_anthropic_count_tokens(struct request *rq); /* anthropic.c: POST /v1/messages/count_tokens */
void handle_responses(struct request *rq);              /* responses.c: POST /v1/responses */
void handle_ollama_chat(struct request *rq);            /* ollama.c: POST /api/chat */
void handle_ollama_generate(struct request *rq);        /* ollama.c: POST /api/generate */
void handle_ollama_embed(struct request *rq);           /* ollama.c: POST /api/embed */
void handle_ollama_embeddings(struct request *rq);      /* ollama.c: POST /api/embeddings (the older shape) */
void handle_ollama_tags(struct request *rq);            /* ollama.c: GET /api/tags */
void handle_ollama_show(struct request *rq);            /* ollama.c: POST /api/show */
void handle_ollama_ps(struct request *rq);              /* ollama.c: GET /api/ps */
void handle_ollama_version(struct request *rq);         /* ollama.c: GET /api/version */
void handle_ollama_pull(struct request *rq);            /* ollama_hub.c: POST /api/pull */
void handle_ollama_delete(struct request *rq);          /* ollama_hub.c: DELETE /api/delete */
void handle_models_load(struct request *rq);            /* router.c: POST /models/load (router mode) */
void handle_models_unload(struct request *rq);          /* router.c: POST /models/unload (router mode) */
void handle_models_download(struct request *rq);        /* router.c: POST /models (router mode) */
void handle_models_remove(struct request *rq);          /* router.c: DELETE /models (router mode) */
void handle_models_sse(struct request *rq);             /* router.c: GET /models/sse (router mode) */
void handle_tools_get(struct request *rq);              /* tools_builtin.c: GET /tools (with --tools) */
void handle_tools_post(struct request *rq);             /* tools_builtin.c: POST /tools (with --tools) */

/* (data, n) in standard base64, NUL-terminated (malloc'd); NULL when out of memory. (embed.c) */
char *base64_encode(const unsigned char *data, size_t n);

/* A `lora` list (llama-server's [{"id": N, "scale": F}, ...], ids as GET /lora-adapters lists them; adapters it
 * leaves out are at scale 0, as llama-server reads it) as the whole set of the server's adapters with those scales:
 * set[0 .. *n) (set has MAX_LORA entries; the adapters are owned by the engine). An absent or null list leaves *n 0.
 * Replies 400 naming `param` (not a list, an entry without an integer id or a finite scale, an unknown id) and returns
 * false (admin.c). */
#define MAX_LORA 64
bool request_lora(struct request *rq, json_t *v, const char *param, llamac_adapter_scale *set, size_t *n);

/* static.c: GET and HEAD outside the API: the chat page embedded at build time, or the files of --path DIR.
 * static_init resolves the folder once (server_start; false with a message in err when it is not one). static_serve
 * replies and returns true when the path is its to answer, false to leave the reply (404) to the caller (http.c). */
bool static_init(struct server *s, char *err, size_t cap);
bool static_serve(struct request *rq);

/* Whether the client of a connection (its socket `fd`; -1: not known, false) has hung up, without reading what it
 * sent (job.c). */
bool connection_gone(int fd);

/* CLOCK_MONOTONIC in milliseconds (http.c). */
int64_t server_now_ms(void);

/* The CLOCK_REALTIME time `ms` from now, for pthread_cond_timedwait (job.c). */
void deadline_in(struct timespec *ts, long ms);

/* Ends every job still waiting (job.c; server_shutdown). */
void jobs_abort_all(struct server *s);

#endif /* LLAMAC_SERVER_INTERNAL_H */
