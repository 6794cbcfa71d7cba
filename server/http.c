/*
 * http.c - HTTP plumbing over libmicrohttpd: the listening socket, connections and their limits, routing,
 * authentication, CORS, turning a handler's reply into a response, and the access log.
 *
 * libmicrohttpd's epoll threads (a few, not one per connection) read and write every connection, so an idle or slow
 * connection costs a socket and a few KiB, not a thread. A request runs on a thread of its own once it has arrived
 * (dispatch), its connection suspended meanwhile, so a handler may block while the engine works; a stream's reader,
 * which blocks waiting for tokens, runs on that thread too and hands its bytes to the connection through a buffer
 * (struct relay), the connection suspended while there are none. A request must arrive whole within a deadline
 * that its bytes cannot push back (struct conn, the watchdog), so a client that trickles cannot hold a connection.
 * A body is gathered in full (up to --max-body, else 413) before the handler runs; the rest of a body over the limit
 * is read and dropped up to a bound (DRAIN_MAX) so that the client reads the 413, and one declared larger than the
 * bound is refused before any of it is read. Requests whose framing is ambiguous (framing_check) are refused before
 * their body too. The listening socket is opened here rather than by libmicrohttpd, so that a port in use is
 * reported as such. When a request's response is done (a stream's too), one access line goes to the server's log.
 */
#define _GNU_SOURCE
#include "complete.h"
#include "dynbuf.h"
#include "router.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

/* A body declared larger than --max-body is still read (and dropped) up to this many bytes, or --max-body when that
 * is larger, so that a client that sends its whole body before it reads (Node's fetch, and the openai npm client
 * over it) gets the 413 rather than a broken pipe; a larger one is answered at once and the connection closed. */
#define DRAIN_MAX ((size_t)16 << 20)

/* The longest URI (path and query) a request may have, as cpp-httplib's (llama-server's) limit. */
#define URI_MAX ((size_t)8192)

/* libmicrohttpd's polling threads (each an epoll loop over its share of the connections): two, so that one busy
 * with a TLS handshake or a large write leaves the other to answer. */
#define POLL_THREADS 2u

/* The body's bytes push a request's deadline back at this rate (bytes per second), so that a large body on a slow
 * but honest link arrives; a client trickling a byte a second gains nothing. */
#define BODY_RATE_MIN 65536

/* One connection, from its opening to its closing (libmicrohttpd's socket context): when its request must have
 * arrived. */
struct conn {
    unsigned magic; /* CONN_MAGIC: what libmicrohttpd hands back is ours */
    struct conn *prev, *next;
    int fd;
    int64_t deadline_ms; /* CLOCK_MONOTONIC; 0: none (its request has arrived and is being answered) */
};
#define CONN_MAGIC 0x636f6e6eu

/* The server's HTTP state (s->http), under `lock`: the open connections, whose deadlines the watchdog enforces by
 * shutting their sockets down (libmicrohttpd then closes them as it would a client's hang-up), and the request
 * threads still running, which http_stop waits for (a suspended connection must be resumed before its daemon stops). */
struct http {
    pthread_mutex_t lock;
    pthread_cond_t workers_done; /* a request thread ended */
    pthread_cond_t wake;         /* the watchdog is to stop */
    struct conn *conns;
    size_t n_conns;
    size_t n_workers;    /* request threads running */
    atomic_bool closing; /* http_stop: streams stop waiting for clients that do not read */
    bool stop;           /* the watchdog ends */
    pthread_t watchdog;
    bool watchdog_running;
};

/* Per-request state between the calls of the access handler, until the request is completed and its thread (if it
 * had one) has ended: whichever is last frees it (refs). */
struct pending {
    atomic_int refs;
    llamac__dynbuf body; /* capped at --max-body */
    bool too_large;
    size_t drained; /* body bytes dropped after too_large */
    /* a request refused for its framing before its body is read (framing_check) */
    unsigned refuse_status;
    const char *refuse_code;
    char refuse_msg[160];
    bool counted;      /* dispatched: counts in in_flight until the response is done */
    struct conn *conn; /* its connection's deadline; NULL: none */
    /* the reply, filled in here or on the request's thread (dispatch) */
    struct request rq;
    const char *allowed;  /* the methods of the path, for a 405's Allow */
    bool dispatched;      /* the request runs on a thread of its own */
    atomic_bool answered; /* ...which has filled in rq */
    void (*fn)(struct request *rq);
    bool router; /* fn goes through router_answer */
    /* the access log line */
    struct timespec start;
    char method[16];
    char *path;
    char client[INET6_ADDRSTRLEN];
    unsigned status;
    bool quiet; /* a polled endpoint: logged at DEBUG */
    struct access access;
};

static void pending_release(struct pending *p) {
    if (atomic_fetch_sub(&p->refs, 1) == 1) {
        free(p->path);
        llamac__dynbuf_free(&p->body);
        free(p);
    }
}

int64_t server_now_ms(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How much of a body over --max-body is read and dropped before the 413 (DRAIN_MAX). */
static size_t drain_max(const struct server *s) {
    return s->opt.max_body > DRAIN_MAX ? s->opt.max_body : DRAIN_MAX;
}

enum route_flags {
    ROUTE_PUBLIC = 1 << 0,  /* no API key needed */
    ROUTE_METRICS = 1 << 1, /* only with --metrics */
    ROUTE_SLOTS = 1 << 2,   /* only with --slots */
    ROUTE_LOADING = 1 << 3, /* answers while the model loads */
    ROUTE_PREFIX = 1 << 4,  /* the path is a prefix (a parameter follows: /slots/N) */
    ROUTE_INLINE = 1 << 5   /* never blocks: answered on the polling thread, with no thread of its own */
};

/* error_shape: the error object of the route's dialect (OpenAI's for llama-server's native endpoints too). */
static const struct route {
    const char *path;
    const char *method;
    void (*fn)(struct request *rq);
    unsigned flags;
    error_shape_fn error_shape;
} routes[] = {
    { "/health", "GET", handle_health, ROUTE_PUBLIC | ROUTE_LOADING | ROUTE_INLINE, openai_error },
    { "/v1/health", "GET", handle_health, ROUTE_PUBLIC | ROUTE_LOADING | ROUTE_INLINE, openai_error },
    { "/v1/chat/completions", "POST", handle_chat, 0, openai_error },
    { "/v1/drafts", "POST", handle_drafts, 0, openai_error },
    { "/chat/completions", "POST", handle_chat, 0, openai_error },
    { "/chat/completions/input_tokens", "POST", handle_chat_input_tokens, 0, openai_error },
    { "/v1/chat/completions/input_tokens", "POST", handle_chat_input_tokens, 0, openai_error },
    { "/cors-proxy", "GET", handle_cors_proxy, 0, openai_error },
    { "/cors-proxy", "POST", handle_cors_proxy, 0, openai_error },
    { "/tools", "GET", handle_tools_get, ROUTE_LOADING, openai_error },   /* --tools; needs no model */
    { "/tools", "POST", handle_tools_post, ROUTE_LOADING, openai_error }, /* --tools; needs no model */
    { "/v1/completions", "POST", handle_completions, 0, openai_error },
    { "/completion", "POST", handle_native_completion, 0, openai_error },
    { "/completions", "POST", handle_native_completion, 0, openai_error }, /* llama-server's, as in llama-server */
    { "/v1/embeddings", "POST", handle_embeddings, 0, openai_error },
    { "/embeddings", "POST", handle_embeddings, 0, openai_error },
    { "/v1/rerank", "POST", handle_rerank, 0, openai_error },
    { "/rerank", "POST", handle_rerank, 0, openai_error },
    { "/v1/models", "GET", handle_models, 0, openai_error },
    { "/models", "GET", handle_models, 0, openai_error },
    { "/models/load", "POST", handle_models_load, 0, openai_error },     /* router mode */
    { "/models/unload", "POST", handle_models_unload, 0, openai_error }, /* router mode */
    { "/models", "POST", handle_models_download, 0, openai_error },      /* router mode */
    { "/models", "DELETE", handle_models_remove, 0, openai_error },      /* router mode */
    { "/models/sse", "GET", handle_models_sse, 0, openai_error },        /* router mode */
    { "/tokenize", "POST", handle_tokenize, 0, openai_error },
    { "/detokenize", "POST", handle_detokenize, 0, openai_error },
    { "/apply-template", "POST", handle_apply_template, 0, openai_error },
    { "/metrics", "GET", handle_metrics, ROUTE_METRICS, openai_error },
    { "/slots", "GET", handle_slots, ROUTE_SLOTS, openai_error },
    { "/slots/", "POST", handle_slots_action, ROUTE_PREFIX, openai_error },
    { "/props", "GET", handle_props, 0, openai_error },
    { "/props", "POST", handle_props_post, 0, openai_error },
    { "/lora-adapters", "GET", handle_lora_adapters_get, 0, openai_error },
    { "/lora-adapters", "POST", handle_lora_adapters_post, 0, openai_error },
    /* Anthropic Messages */
    { "/v1/messages", "POST", handle_anthropic_messages, 0, anthropic_error },
    { "/v1/messages/count_tokens", "POST", handle_anthropic_count_tokens, 0, anthropic_error },
    /* OpenAI Responses */
    { "/v1/responses", "POST", handle_responses, 0, openai_error },
    { "/responses", "POST", handle_responses, 0, openai_error },
    { "/v1/responses/input_tokens", "POST", handle_responses_input_tokens, 0, openai_error },
    { "/responses/input_tokens", "POST", handle_responses_input_tokens, 0, openai_error },
    /* Ollama */
    { "/api/chat", "POST", handle_ollama_chat, 0, ollama_error },
    { "/api/generate", "POST", handle_ollama_generate, 0, ollama_error },
    { "/api/embed", "POST", handle_ollama_embed, 0, ollama_error },
    { "/api/embeddings", "POST", handle_ollama_embeddings, 0, ollama_error },
    { "/api/tags", "GET", handle_ollama_tags, 0, ollama_error },
    { "/api/show", "POST", handle_ollama_show, 0, ollama_error },
    { "/api/ps", "GET", handle_ollama_ps, 0, ollama_error },
    { "/api/version", "GET", handle_ollama_version, 0, ollama_error },
    { "/api/pull", "POST", handle_ollama_pull, 0, ollama_error },
    { "/api/delete", "DELETE", handle_ollama_delete, 0, ollama_error },
};

void reply_error(struct request *rq, unsigned status, const char *param, const char *code, const char *fmt, ...) {
    char msg[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(msg, sizeof msg, fmt, ap);
    va_end(ap);
    /* a message may quote client bytes (a JSON parse error does) or be cut inside a character: JSON needs UTF-8 */
    if (!llamac_utf8_valid(msg, strlen(msg), NULL)) {
        for (char *p = msg; *p; p++) {
            if ((unsigned char)*p >= 0x80) {
                *p = '?';
            }
        }
    }
    reply_json(rq, status, (rq->error_shape ? rq->error_shape : openai_error)(status, param, code, msg));
}

void reply_json(struct request *rq, unsigned status, json_t *json) {
    json_decref(rq->json);
    rq->json = json;
    rq->status = status;
}

/* ----------------------------------------------------------------------------------------------------------- */

/* Compares without an early exit, so the time taken does not reveal how much of a key matched. */
static bool key_equal(const char *a, size_t alen, const char *b) {
    size_t blen = strlen(b);
    unsigned char diff = (unsigned char)(alen != blen);
    for (size_t i = 0; i < alen; i++) {
        diff |= (unsigned char)(a[i] ^ b[i % (blen ? blen : 1)]);
    }
    return diff == 0 && blen > 0;
}

static bool authorized(struct server *s, struct MHD_Connection *conn) {
    if (s->opt.n_api_keys == 0) {
        return true;
    }
    const char *key = NULL;
    const char *h = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Authorization");
    if (h && strncasecmp(h, "Bearer ", 7) == 0) {
        key = h + 7;
        while (*key == ' ') {
            key++;
        }
    } else {
        key = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "X-Api-Key");
    }
    if (!key) {
        return false;
    }
    bool ok = false;
    for (size_t i = 0; i < s->opt.n_api_keys; i++) {
        ok |= key_equal(key, strlen(key), s->opt.api_keys[i]);
    }
    return ok;
}

/* Is the Origin's host localhost, 127.0.0.1 or [::1] (any scheme and port)? An origin is scheme://host[:port], with
 * no user part or path; anything else is not a local one. */
static bool origin_is_local(const char *origin) {
    const char *host = strstr(origin, "://");
    if (!host) {
        return false;
    }
    host += 3;
    size_t n;
    if (*host == '[') {
        host++;
        n = strcspn(host, "]");
        if (host[n] != ']' || (host[n + 1] != '\0' && host[n + 1] != ':')) {
            return false;
        }
    } else {
        n = strcspn(host, ":/@?#");
        if (host[n] != '\0' && host[n] != ':') {
            return false;
        }
    }
    return (n == 9 && strncasecmp(host, "localhost", 9) == 0) || (n == 9 && strncmp(host, "127.0.0.1", 9) == 0) ||
           (n == 3 && strncmp(host, "::1", 3) == 0);
}

/* The value for Access-Control-Allow-Origin, or NULL when CORS is off or the origin is not allowed: llama-server's
 * policy. "*" answers every origin: the Origin itself, as llama-server answers with credentials allowed, else "*";
 * "localhost" any origin on this machine; other entries one origin each, compared exactly. */
static const char *cors_origin(struct server *s, struct MHD_Connection *conn) {
    const char *list = s->opt.cors_origins;
    const char *origin = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Origin");
    if (!list || !origin) {
        return NULL;
    }
    size_t olen = strlen(origin);
    const char *p = list;
    while (*p) {
        const char *end = strchr(p, ',');
        size_t n = end ? (size_t)(end - p) : strlen(p);
        while (n && *p == ' ') {
            p++, n--;
        }
        while (n && p[n - 1] == ' ') {
            n--;
        }
        if (n == 1 && *p == '*') {
            return s->opt.cors_no_credentials ? "*" : origin;
        }
        if ((n == olen && strncmp(p, origin, n) == 0) ||
            (n == 9 && strncmp(p, "localhost", 9) == 0 && origin_is_local(origin))) {
            return origin;
        }
        if (!end) {
            break;
        }
        p = end + 1;
    }
    return NULL;
}

static enum MHD_Result send_reply(struct server *s, struct request *rq) {
    struct MHD_Response *r = rq->response;
    if (!r) {
        char *data = NULL;
        size_t len = 0;
        const char *type = "application/json";
        if (rq->json) {
            data = json_dumps(rq->json, JSON_COMPACT | JSON_ENSURE_ASCII);
            len = data ? strlen(data) : 0;
        } else if (rq->text) {
            data = rq->text;
            rq->text = NULL;
            len = strlen(data);
            type = rq->content_type ? rq->content_type : "text/plain; charset=utf-8";
        }
        if (!data) {
            static char oom[] = "{\"error\":{\"message\":\"out of memory\",\"type\":\"server_error\","
                                "\"param\":null,\"code\":null}}";
            r = MHD_create_response_from_buffer(sizeof oom - 1, oom, MHD_RESPMEM_PERSISTENT);
            rq->status = 500;
        } else {
            r = MHD_create_response_from_buffer(len, data, MHD_RESPMEM_MUST_FREE);
        }
        if (!r) {
            free(data);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", type);
    }
    if (rq->retry_after) {
        char buf[32];
        snprintf(buf, sizeof buf, "%u", rq->retry_after);
        MHD_add_response_header(r, "Retry-After", buf);
    }
    if (rq->status == 401) {
        MHD_add_response_header(r, "WWW-Authenticate", "Bearer");
    }
    if (rq->start_time_header) {
        char buf[32];
        snprintf(buf, sizeof buf, "%lld", (long long)s->started);
        MHD_add_response_header(r, "Process-Start-Time-Unix", buf);
    }
    const char *origin = cors_origin(s, rq->conn);
    if (origin) {
        MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
        MHD_add_response_header(r, "Vary", "Origin");
    }
    MHD_add_response_header(r, "Server", "llamac");
    enum MHD_Result ok = MHD_queue_response(rq->conn, rq->status ? rq->status : 200, r);
    MHD_destroy_response(r);
    rq->response = NULL;
    return ok;
}

static void request_clear(struct request *rq) {
    json_decref(rq->json);
    free(rq->text);
    if (rq->response) {
        MHD_destroy_response(rq->response);
    }
}

/* ---- request threads, and the streams they feed ---- */

/* A stream's bytes on their way from its reader (on the request's thread, where it may block) to libmicrohttpd
 * (on a polling thread, where nothing may block), through a buffer of RELAY_CAP bytes. When the buffer is empty the
 * polling side suspends the connection and the request's thread resumes it with the next bytes; when it is full
 * the request's thread waits for the client to read. Two references: libmicrohttpd's response (relay_free) and the
 * pump; the reader's free callback runs once, on whichever side ends first. */
#define RELAY_CAP ((size_t)64 << 10)
#define RELAY_CHUNK ((size_t)16 << 10)

struct relay {
    pthread_mutex_t lock;
    pthread_cond_t room; /* the polling side took bytes, or let go */
    MHD_ContentReaderCallback read;
    void *cls;
    MHD_ContentReaderFreeCallback free_cls;
    bool cls_freed;
    struct MHD_Connection *conn;
    char buf[RELAY_CAP];
    size_t off, len;  /* bytes not yet taken: buf[off, len) */
    uint64_t pos;     /* the reader's position */
    bool eof, failed; /* the reader ended, or failed (or the server stops) */
    bool gone;        /* libmicrohttpd let go of the response: done, or the client went away */
    bool suspended;   /* the connection waits for bytes, suspended */
    int refs;
};

/* The relay a handler on this thread made (http_stream_response), for its thread to pump; and whether this thread
 * is a request's. */
static _Thread_local struct relay *tl_relay;
static _Thread_local bool tl_request_thread;

static void relay_free_cls(struct relay *r) {
    pthread_mutex_lock(&r->lock);
    bool run = !r->cls_freed;
    r->cls_freed = true;
    pthread_mutex_unlock(&r->lock);
    if (run && r->free_cls) {
        r->free_cls(r->cls);
    }
}

static void relay_release(struct relay *r) {
    pthread_mutex_lock(&r->lock);
    bool last = --r->refs == 0;
    pthread_mutex_unlock(&r->lock);
    if (last) {
        relay_free_cls(r);
        pthread_mutex_destroy(&r->lock);
        pthread_cond_destroy(&r->room);
        free(r);
    }
}

/* libmicrohttpd's side: what the buffer holds, else the end, else nothing yet (the connection is suspended until
 * the pump has more). */
static ssize_t relay_read(void *cls, uint64_t pos, char *out, size_t max) {
    (void)pos;
    struct relay *r = cls;
    pthread_mutex_lock(&r->lock);
    ssize_t n;
    if (r->off < r->len) {
        size_t k = r->len - r->off < max ? r->len - r->off : max;
        memcpy(out, r->buf + r->off, k);
        r->off += k;
        if (r->off == r->len) {
            r->off = r->len = 0;
        }
        pthread_cond_signal(&r->room);
        n = (ssize_t)k;
    } else if (r->failed) {
        n = MHD_CONTENT_READER_END_WITH_ERROR;
    } else if (r->eof) {
        n = MHD_CONTENT_READER_END_OF_STREAM;
    } else {
        r->suspended = true; /* the pump resumes it, after taking the lock */
        MHD_suspend_connection(r->conn);
        n = 0;
    }
    pthread_mutex_unlock(&r->lock);
    return n;
}

static void relay_free(void *cls) {
    struct relay *r = cls;
    if (tl_relay == r) {
        tl_relay = NULL; /* destroyed by the handler that made it */
    }
    pthread_mutex_lock(&r->lock);
    r->gone = true;
    pthread_cond_signal(&r->room);
    pthread_mutex_unlock(&r->lock);
    relay_release(r);
}

struct MHD_Response *http_stream_response(uint64_t size, size_t block, MHD_ContentReaderCallback read, void *cls,
                                          MHD_ContentReaderFreeCallback free_cls) {
    if (!tl_request_thread) { /* not from a request's thread: libmicrohttpd calls the reader itself */
        return MHD_create_response_from_callback(size, block, read, cls, free_cls);
    }
    struct relay *r = calloc(1, sizeof *r);
    if (!r) {
        return NULL;
    }
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->room, NULL);
    r->read = read;
    r->cls = cls;
    r->free_cls = free_cls;
    r->refs = 1;
    struct MHD_Response *resp = MHD_create_response_from_callback(size, block, relay_read, r, relay_free);
    if (!resp) {
        r->cls_freed = true; /* the caller still owns cls */
        relay_release(r);
        return NULL;
    }
    tl_relay = r;
    return resp;
}

/* The request thread's side: runs the reader into the buffer until the stream ends, the client is gone, or the
 * server stops; resumes the connection whenever it waits for what was just read. */
static void relay_pump(struct http *h, struct relay *r) {
    char chunk[RELAY_CHUNK];
    for (;;) {
        pthread_mutex_lock(&r->lock);
        while (!r->gone && r->len - r->off > RELAY_CAP - RELAY_CHUNK && !atomic_load(&h->closing)) {
            struct timespec ts;
            deadline_in(&ts, 100);
            pthread_cond_timedwait(&r->room, &r->lock, &ts);
        }
        bool stop = r->gone || atomic_load(&h->closing);
        pthread_mutex_unlock(&r->lock);
        ssize_t n = stop ? MHD_CONTENT_READER_END_WITH_ERROR : r->read(r->cls, r->pos, chunk, sizeof chunk);
        pthread_mutex_lock(&r->lock);
        if (n > 0) {
            if (r->off > 0) {
                memmove(r->buf, r->buf + r->off, r->len - r->off);
                r->len -= r->off;
                r->off = 0;
            }
            memcpy(r->buf + r->len, chunk, (size_t)n);
            r->len += (size_t)n;
            r->pos += (uint64_t)n;
        } else if (n == MHD_CONTENT_READER_END_OF_STREAM) {
            r->eof = true;
        } else if (n < 0) {
            r->failed = true;
        }
        bool wake = r->suspended && !r->gone; /* a suspended connection is not let go of before it is resumed */
        r->suspended = false;
        bool end = r->eof || r->failed || r->gone;
        pthread_mutex_unlock(&r->lock);
        if (wake) {
            MHD_resume_connection(r->conn);
        }
        if (end) {
            break;
        }
        if (n == 0) { /* a reader with nothing yet that did not wait: do not spin */
            struct timespec ts = { 0, 5 * 1000 * 1000 };
            nanosleep(&ts, NULL);
        }
    }
    relay_free_cls(r); /* a client gone mid-stream frees its slots at once (job.c's stream_free) */
    relay_release(r);
}

static void worker_end(struct http *h) {
    pthread_mutex_lock(&h->lock);
    h->n_workers--;
    pthread_cond_broadcast(&h->workers_done);
    pthread_mutex_unlock(&h->lock);
}

/* A request's own thread: runs its handler (which may wait for the engine, a child, a download), hands the reply
 * to the connection by resuming it, then pumps the reply's stream, if it is one. */
static void *request_thread(void *arg) {
    struct pending *p = arg;
    struct server *s = p->rq.s;
    thread_yield_to_engine();
    tl_request_thread = true;
    if (p->router) {
        router_answer(&p->rq, p->fn); /* its own endpoints, or the model's child */
    } else {
        p->fn(&p->rq);
    }
    struct relay *r = tl_relay;
    tl_relay = NULL;
    if (r && p->rq.response) {
        pthread_mutex_lock(&r->lock);
        r->refs++; /* the pump's */
        r->conn = p->rq.conn;
        pthread_mutex_unlock(&r->lock);
    } else {
        r = NULL;
    }
    struct MHD_Connection *conn = p->rq.conn;
    atomic_store(&p->answered, true);
    MHD_resume_connection(conn); /* answer() sends the reply on the polling thread */
    if (r) {
        relay_pump(s->http, r);
    }
    pending_release(p);
    worker_end(s->http);
    return NULL;
}

/* Runs fn (through the router when `router`) on a thread of its own, the connection suspended until it has
 * replied. No thread to be had: 503. */
static void dispatch(struct server *s, struct pending *p, void (*fn)(struct request *rq), bool router) {
    struct http *h = s->http;
    p->fn = fn;
    p->router = router;
    p->dispatched = true;
    atomic_fetch_add(&p->refs, 1);
    pthread_mutex_lock(&h->lock);
    h->n_workers++;
    pthread_mutex_unlock(&h->lock);
    MHD_suspend_connection(p->rq.conn);
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    pthread_t t;
    int rc = pthread_create(&t, &attr, request_thread, p);
    pthread_attr_destroy(&attr);
    if (rc != 0) {
        worker_end(h);
        atomic_fetch_sub(&p->refs, 1);
        p->rq.retry_after = 1;
        reply_error(&p->rq, 503, NULL, "server_busy", "the server could not start a thread for the request (%s)",
                    strerror(rc));
        atomic_store(&p->answered, true);
        MHD_resume_connection(p->rq.conn);
    }
}

/* Sends the reply in rq (filled in by a handler) and lets go of it. */
static enum MHD_Result reply_send(struct server *s, struct pending *p, struct request *rq) {
    if (rq->status == 405 && p->allowed && !rq->response) {
        /* add Allow via a built response */
        char *data = json_dumps(rq->json, JSON_COMPACT);
        struct MHD_Response *r =
            data ? MHD_create_response_from_buffer(strlen(data), data, MHD_RESPMEM_MUST_FREE) : NULL;
        if (!r) {
            free(data);
            request_clear(rq);
            return MHD_NO;
        }
        MHD_add_response_header(r, "Content-Type", "application/json");
        MHD_add_response_header(r, "Allow", p->allowed);
        rq->response = r;
    }
    p->status = rq->status ? rq->status : 200;
    enum MHD_Result ok = send_reply(s, rq);
    request_clear(rq);
    memset(rq, 0, sizeof *rq);
    return ok;
}

/* Answers a request that has arrived (or is refused before its body): refusals and /health here, on the polling
 * thread; a handler or the router on a thread of the request's own (dispatch), after which libmicrohttpd calls
 * again and the reply it left is sent. */
static enum MHD_Result answer(struct server *s, struct MHD_Connection *conn, const char *url, const char *method,
                              struct pending *p) {
    struct request *rq = &p->rq;
    if (p->dispatched) {
        return atomic_load(&p->answered) ? reply_send(s, p, rq) : MHD_YES;
    }
    memset(rq, 0, sizeof *rq);
    rq->s = s;
    rq->conn = conn;
    rq->method = method;
    /* --api-prefix: the endpoints and the page are under it; anything else is not found */
    size_t n_prefix = s->opt.api_prefix ? strlen(s->opt.api_prefix) : 0;
    const char *asked = url; /* as the client wrote it, for messages */
    bool outside = false;
    if (n_prefix > 0) {
        outside = strncmp(url, s->opt.api_prefix, n_prefix) != 0 || (url[n_prefix] != '/' && url[n_prefix] != '\0');
        url = outside ? "" : url[n_prefix] ? url + n_prefix : "/";
    }
    rq->path = url;
    rq->body = llamac__dynbuf_ptr(&p->body);
    rq->body_len = llamac__dynbuf_len(&p->body);
    rq->access = &p->access;
    const struct route *route = NULL;
    const char *allowed = NULL;
    for (size_t i = 0; i < sizeof routes / sizeof routes[0]; i++) {
        bool prefix = routes[i].flags & ROUTE_PREFIX;
        if (prefix ? strncmp(routes[i].path, url, strlen(routes[i].path)) == 0 : strcmp(routes[i].path, url) == 0) {
            allowed = routes[i].method;
            if (strcmp(routes[i].method, method) == 0 || (strcmp(method, "HEAD") == 0 && routes[i].method[0] == 'G')) {
                route = &routes[i];
                break;
            }
        }
    }
    p->allowed = allowed;
    if (strcmp(method, "OPTIONS") == 0 && allowed && s->opt.cors_origins) {
        /* CORS preflight */
        struct MHD_Response *r = MHD_create_response_from_buffer(0, NULL, MHD_RESPMEM_PERSISTENT);
        if (!r) {
            return MHD_NO;
        }
        const char *origin = cors_origin(s, conn);
        if (origin) { /* llama-server's answer; an origin it does not allow learns nothing */
            MHD_add_response_header(r, "Access-Control-Allow-Origin", origin);
            MHD_add_response_header(r, "Vary", "Origin");
            MHD_add_response_header(r, "Access-Control-Allow-Credentials",
                                    s->opt.cors_no_credentials ? "false" : "true");
            MHD_add_response_header(r, "Access-Control-Allow-Methods",
                                    s->opt.cors_methods ? s->opt.cors_methods : "GET, POST, DELETE, OPTIONS");
            MHD_add_response_header(r, "Access-Control-Allow-Headers", s->opt.cors_headers ? s->opt.cors_headers : "*");
            MHD_add_response_header(r, "Access-Control-Max-Age", "86400");
        }
        enum MHD_Result ok = MHD_queue_response(conn, 200, r);
        MHD_destroy_response(r);
        p->status = 200;
        return ok;
    }
    if (route) {
        rq->error_shape = route->error_shape;
        p->quiet = route->fn == handle_health || route->fn == handle_models || route->fn == handle_metrics ||
                   route->fn == handle_slots;
    }
    if (p->refuse_status) {
        reply_error(rq, p->refuse_status, NULL, p->refuse_code, "%s", p->refuse_msg);
    } else if (route && (route->flags & ROUTE_METRICS) && !s->opt.metrics) {
        reply_error(rq, 501, NULL, "not_supported", "the /metrics endpoint is off; start the server with --metrics");
    } else if (route && (route->flags & ROUTE_SLOTS) && !s->opt.slots) {
        reply_error(rq, 501, NULL, "not_supported", "the /slots endpoint is off; start the server with --slots");
    } else if (!allowed) {
        if (outside || !static_serve(rq)) { /* the chat page, or --path files */
            reply_error(rq, 404, NULL, "not_found", "no endpoint %s %s", method, asked);
        }
    } else if (!route) {
        reply_error(rq, 405, NULL, "method_not_allowed", "%s %s is not allowed; use %s", method, asked, allowed);
    } else if (!(route->flags & ROUTE_PUBLIC) && !authorized(s, conn)) {
        reply_error(rq, 401, NULL, "invalid_api_key", "invalid or missing API key");
    } else if (p->too_large) {
        reply_error(rq, 413, NULL, "request_too_large",
                    "the request body is larger than the server's limit of %zu bytes", s->opt.max_body);
    } else if (atomic_load(&s->stopping) && !(route->flags & ROUTE_LOADING)) {
        reply_error(rq, 503, NULL, "shutting_down", "the server is shutting down");
    } else if (s->router) {
        dispatch(s, p, route->fn, true);
        return MHD_YES;
    } else if (!atomic_load(&s->ready) && !(route->flags & ROUTE_LOADING)) {
        rq->retry_after = 1;
        reply_error(rq, 503, NULL, "loading", "the model is loading");
    } else if (route->flags & ROUTE_INLINE) {
        route->fn(rq);
    } else {
        dispatch(s, p, route->fn, false);
        return MHD_YES;
    }
    return reply_send(s, p, rq);
}

/* Starts the access record of a request: when, what, from whom. */
static void pending_begin(struct pending *p, struct MHD_Connection *conn, const char *url, const char *method) {
    clock_gettime(CLOCK_MONOTONIC, &p->start);
    snprintf(p->method, sizeof p->method, "%s", method);
    p->path = strdup(url);
    p->access.prompt_tokens = p->access.generated_tokens = -1;
    snprintf(p->client, sizeof p->client, "-");
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CLIENT_ADDRESS);
    const struct sockaddr *sa = ci ? ci->client_addr : NULL;
    if (sa && sa->sa_family == AF_INET) {
        inet_ntop(AF_INET, &((const struct sockaddr_in *)(const void *)sa)->sin_addr, p->client, sizeof p->client);
    } else if (sa && sa->sa_family == AF_INET6) {
        inet_ntop(AF_INET6, &((const struct sockaddr_in6 *)(const void *)sa)->sin6_addr, p->client, sizeof p->client);
    }
}

/* The access line, as llama-server's "done request: METHOD PATH CLIENT STATUS", with the tokens of a generation and
 * the time from the request's first byte to its response's last. */
static void access_log(const struct server *s, const struct pending *p, enum MHD_RequestTerminationCode code) {
    if (!s->opt.log || !p->status) {
        return;
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    double ms = (double)(now.tv_sec - p->start.tv_sec) * 1e3 + (double)(now.tv_nsec - p->start.tv_nsec) / 1e6;
    char tokens[96] = "";
    if (p->access.prompt_tokens >= 0) {
        snprintf(tokens, sizeof tokens, " prompt_tokens=%lld generated_tokens=%lld", p->access.prompt_tokens,
                 p->access.generated_tokens);
    }
    server_log(s, p->quiet ? LLAMAC_LOG_DEBUG : LLAMAC_LOG_INFO, "done request: %s %s %s %u%s time_ms=%.1f%s",
               p->method, p->path ? p->path : "?", p->client, p->status, tokens, ms,
               code == MHD_REQUEST_TERMINATED_COMPLETED_OK ? "" : " (connection closed before the response ended)");
}

/* What framing_check counts over the request's headers. */
struct framing {
    unsigned n_length;    /* Content-Length headers */
    const char *length;   /* the first one's value */
    bool lengths_differ;  /* a later one says something else */
    const char *transfer; /* Transfer-Encoding, if any */
    unsigned n_transfer;  /* Transfer-Encoding headers */
    bool host;            /* a Host header */
};

static enum MHD_Result count_framing(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    struct framing *f = cls;
    if (strcasecmp(key, "Content-Length") == 0) {
        if (f->n_length++ == 0) {
            f->length = value ? value : "";
        } else if (strcmp(f->length, value ? value : "") != 0) {
            f->lengths_differ = true;
        }
    } else if (strcasecmp(key, "Transfer-Encoding") == 0) {
        f->n_transfer++;
        f->transfer = value;
    } else if (strcasecmp(key, "Host") == 0) {
        f->host = true;
    }
    return MHD_YES;
}

/* Refuses a request whose framing a proxy in front could read differently (request smuggling) or that libmicrohttpd
 * would wait on forever: two different Content-Lengths (400), a Transfer-Encoding other than chunked (501), both
 * Transfer-Encoding and Content-Length (400), HTTP/1.1 without Host (400, as RFC 9112 requires). The refusal is
 * answered before the body is read, in the API's error shape (answer), and the connection is then closed. */
static bool framing_check(struct MHD_Connection *conn, const char *version, struct pending *p) {
    struct framing f = { 0 };
    MHD_get_connection_values(conn, MHD_HEADER_KIND, count_framing, &f);
    const char *why = NULL;
    unsigned status = 400;
    if (f.lengths_differ) {
        why = "the request has Content-Length headers that disagree";
    } else if (f.n_transfer > 1 || (f.transfer && strcasecmp(f.transfer, "chunked") != 0)) {
        status = 501;
        snprintf(p->refuse_msg, sizeof p->refuse_msg,
                 "Transfer-Encoding '%.40s' is not supported; send the body with Content-Length or chunked",
                 f.n_transfer > 1 ? "(several)" : f.transfer);
    } else if (f.transfer && f.n_length > 0) {
        why = "the request has both Transfer-Encoding and Content-Length";
    } else if (!f.host && version && strcmp(version, MHD_HTTP_VERSION_1_1) == 0) {
        why = "an HTTP/1.1 request needs a Host header";
    } else {
        return true;
    }
    if (why) {
        snprintf(p->refuse_msg, sizeof p->refuse_msg, "%s", why);
    }
    p->refuse_status = status;
    p->refuse_code = status == 501 ? "not_supported" : "bad_request";
    return false;
}

/* The connection's deadline (struct conn): `ms` from now, pushed back by `add_ms`, or none (0); under the lock. */
static void conn_deadline(struct server *s, struct conn *c, int64_t ms, int64_t add_ms) {
    if (!c || !s->http) {
        return;
    }
    pthread_mutex_lock(&s->http->lock);
    if (add_ms) {
        c->deadline_ms += c->deadline_ms ? add_ms : 0;
    } else {
        c->deadline_ms = ms ? server_now_ms() + ms : 0;
    }
    pthread_mutex_unlock(&s->http->lock);
}

/* What size_check counts: the query's bytes. */
static enum MHD_Result count_query(void *cls, enum MHD_ValueKind kind, const char *key, const char *value) {
    (void)kind;
    *(size_t *)cls += strlen(key) + (value ? strlen(value) + 1 : 0) + 1;
    return MHD_YES;
}

/* Refuses, in the API's error shape, a request whose URI (path and query) is over URI_MAX bytes (414) or whose
 * request line and headers are over half of the connection's memory (431). What does not fit that memory at all
 * (max_header, with libmicrohttpd's bookkeeping: a record per header and query argument, a Cookie header twice)
 * never reaches us: libmicrohttpd 0.9.75 queues its own 414/431 with a fixed HTML page, and no callback runs first
 * that could queue another (README "Reliability"). A larger max_header would not help: libmicrohttpd zeroes the
 * whole pool after each request, so every kept-alive connection holds all of it resident. */
static bool size_check(const struct server *s, struct MHD_Connection *conn, const char *url, struct pending *p) {
    size_t uri = strlen(url);
    MHD_get_connection_values(conn, MHD_GET_ARGUMENT_KIND, count_query, &uri);
    const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_REQUEST_HEADER_SIZE);
    size_t head = ci ? ci->header_size : 0;
    if (uri > URI_MAX) {
        p->refuse_status = 414;
        p->refuse_code = "uri_too_long";
        snprintf(p->refuse_msg, sizeof p->refuse_msg, "the request's URI is %zu bytes, over the limit of %zu", uri,
                 (size_t)URI_MAX);
    } else if (head > s->opt.max_header / 2) {
        p->refuse_status = 431;
        p->refuse_code = "headers_too_large";
        snprintf(p->refuse_msg, sizeof p->refuse_msg,
                 "the request's line and headers are %zu bytes, over the limit of %zu", head, s->opt.max_header / 2);
    } else {
        return true;
    }
    return false;
}

static enum MHD_Result on_access(void *cls, struct MHD_Connection *conn, const char *url, const char *method,
                                 const char *version, const char *upload, size_t *upload_size, void **state) {
    struct server *s = cls;
    struct pending *p = *state;
    if (!p) {
        p = calloc(1, sizeof *p);
        if (!p) {
            return MHD_NO;
        }
        atomic_init(&p->refs, 1);
        llamac__dynbuf_init(&p->body, s->opt.max_body);
        *state = p;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
        struct conn *c = ci ? ci->socket_context : NULL;
        p->conn = c && c->magic == CONN_MAGIC ? c : NULL;
        pending_begin(p, conn, url, method);
        bool refuse = !size_check(s, conn, url, p) || !framing_check(conn, version, p);
        const char *cl = MHD_lookup_connection_value(conn, MHD_HEADER_KIND, "Content-Length");
        if (!refuse && cl) {
            char *end = NULL;
            unsigned long long n = strtoull(cl, &end, 10);
            if (end != cl && n > s->opt.max_body) {
                p->too_large = true;
                /* past the drain bound: refuse before reading the body; libmicrohttpd then closes the connection */
                refuse = n > drain_max(s);
            }
        }
        if (refuse) {
            p->counted = true;
            atomic_fetch_add(&s->in_flight, 1);
            return answer(s, conn, url, method, p);
        }
        return MHD_YES;
    }
    if (*upload_size) {
        /* the body's bytes buy time at BODY_RATE_MIN */
        conn_deadline(s, p->conn, 0, (int64_t)(*upload_size * 1000 / BODY_RATE_MIN) + 1);
        if (!p->too_large) {
            if (!llamac__dynbuf_add(&p->body, upload, *upload_size)) {
                if (llamac__dynbuf_error(&p->body) != LLAMAC__DYNBUF_TOO_BIG) {
                    return MHD_NO;
                }
                p->too_large = true; /* the buffer let go of what it held */
            }
        } else {
            p->drained += *upload_size;
            if (p->drained > drain_max(s)) {
                return MHD_NO; /* a body without end (chunked): no answer can be read; close */
            }
        }
        *upload_size = 0;
        return MHD_YES;
    }
    if (p->dispatched) {
        return answer(s, conn, url, method, p); /* its thread's reply, once there is one */
    }
    if (p->counted) {
        return MHD_YES; /* already answered (an early 413) */
    }
    conn_deadline(s, p->conn, 0, 0); /* it has arrived */
    p->counted = true;
    atomic_fetch_add(&s->in_flight, 1);
    return answer(s, conn, url, method, p);
}

static void on_completed(void *cls, struct MHD_Connection *conn, void **state, enum MHD_RequestTerminationCode code) {
    (void)conn;
    struct server *s = cls;
    struct pending *p = *state;
    if (p) {
        access_log(s, p, code);
        if (p->counted) {
            atomic_fetch_sub(&s->in_flight, 1);
        }
        /* kept alive: the next request must have arrived within --timeout (idle time included) */
        if (code == MHD_REQUEST_TERMINATED_COMPLETED_OK && s->opt.request_timeout_s) {
            conn_deadline(s, p->conn, (int64_t)s->opt.timeout_s * 1000, 0);
        }
        *state = NULL;
        pending_release(p);
    }
}

/* libmicrohttpd's connection notices: a connection opened (its request must arrive within --request-timeout) or
 * closed. */
static void on_connection(void *cls, struct MHD_Connection *conn, void **socket_context,
                          enum MHD_ConnectionNotificationCode code) {
    struct server *s = cls;
    struct http *h = s->http;
    if (code == MHD_CONNECTION_NOTIFY_STARTED) {
        struct conn *c = calloc(1, sizeof *c);
        if (!c) {
            return; /* no deadline for it */
        }
        c->magic = CONN_MAGIC;
        const union MHD_ConnectionInfo *ci = MHD_get_connection_info(conn, MHD_CONNECTION_INFO_CONNECTION_FD);
        c->fd = ci ? (int)ci->connect_fd : -1;
        pthread_mutex_lock(&h->lock);
        c->deadline_ms = s->opt.request_timeout_s ? server_now_ms() + (int64_t)s->opt.request_timeout_s * 1000 : 0;
        c->next = h->conns;
        if (h->conns) {
            h->conns->prev = c;
        }
        h->conns = c;
        h->n_conns++;
        pthread_mutex_unlock(&h->lock);
        *socket_context = c;
    } else if (code == MHD_CONNECTION_NOTIFY_CLOSED && *socket_context) {
        struct conn *c = *socket_context;
        pthread_mutex_lock(&h->lock);
        if (c->prev) {
            c->prev->next = c->next;
        } else {
            h->conns = c->next;
        }
        if (c->next) {
            c->next->prev = c->prev;
        }
        h->n_conns--;
        pthread_mutex_unlock(&h->lock);
        c->magic = 0;
        free(c);
        *socket_context = NULL;
    }
}

/* Closes, four times a second, the connections whose request has not arrived by its deadline: their sockets are shut
 * down, which libmicrohttpd takes as the client's hang-up (it closes them; the fd stays valid until it has told
 * on_connection, under the same lock). */
static void *watchdog(void *arg) {
    struct server *s = arg;
    struct http *h = s->http;
    pthread_mutex_lock(&h->lock);
    while (!h->stop) {
        int64_t now = server_now_ms();
        size_t cut = 0;
        for (struct conn *c = h->conns; c; c = c->next) {
            if (c->deadline_ms && now >= c->deadline_ms) {
                if (c->fd >= 0) {
                    shutdown(c->fd, SHUT_RDWR);
                }
                c->deadline_ms = 0;
                cut++;
            }
        }
        if (cut) {
            pthread_mutex_unlock(&h->lock);
            server_log(s, LLAMAC_LOG_DEBUG, "closed %zu connections whose request had not arrived in time", cut);
            pthread_mutex_lock(&h->lock);
        }
        struct timespec ts;
        deadline_in(&ts, 250);
        pthread_cond_timedwait(&h->wake, &h->lock, &ts);
    }
    pthread_mutex_unlock(&h->lock);
    return NULL;
}

/* ----------------------------------------------------------------------------------------------------------- */

static bool is_loopback(const struct sockaddr *sa) {
    if (sa->sa_family == AF_INET) {
        const struct sockaddr_in *in = (const struct sockaddr_in *)(const void *)sa;
        return (ntohl(in->sin_addr.s_addr) >> 24) == 127;
    }
    if (sa->sa_family == AF_INET6) {
        const struct sockaddr_in6 *in6 = (const struct sockaddr_in6 *)(const void *)sa;
        return IN6_IS_ADDR_LOOPBACK(&in6->sin6_addr);
    }
    return false;
}

/* A listening socket on `ai` (host, port: for messages); -1 with a message that names the address and port (and
 * what to do) in err. */
static int listen_on(const struct addrinfo *ai, const char *host, unsigned port, bool reuse_port, char *err,
                     size_t cap) {
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) {
        snprintf(err, cap, "cannot listen on %s port %u: %s", host, port, strerror(errno));
        return -1;
    }
    int one = 1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one); /* as libmicrohttpd does */
    if (reuse_port) { /* --reuse-port: other sockets with it may bind the same port (the kernel spreads connections) */
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
    }
    if (ai->ai_family == AF_INET6) {
        setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
    }
    if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0) {
        int e = errno;
        close(fd);
        if (e == EADDRINUSE) {
            snprintf(err, cap,
                     "cannot listen on %s port %u: the address is already in use (another server?); choose another "
                     "--port, or --port 0 for any free one",
                     host, port);
        } else if (e == EADDRNOTAVAIL) {
            snprintf(err, cap, "cannot listen on %s port %u: %s is not an address of this machine (see --host)", host,
                     port, host);
        } else if (e == EACCES) {
            snprintf(err, cap,
                     "cannot listen on %s port %u: permission denied (ports below 1024 need privileges; --port 0 "
                     "picks any free one)",
                     host, port);
        } else {
            snprintf(err, cap, "cannot listen on %s port %u: %s", host, port, strerror(e));
        }
        return -1;
    }
    fcntl(fd, F_SETFL, fcntl(fd, F_GETFL, 0) | O_NONBLOCK);
    return fd;
}

/* Listens on `host` at s->port (0: any free port, which becomes s->port) and starts a daemon on it. */
static bool serve_on(struct server *s, const char *host, char *err, size_t cap) {
    struct addrinfo *ai = NULL;
    struct addrinfo hints = { 0 };
    hints.ai_family = AF_UNSPEC;
    hints.ai_socktype = SOCK_STREAM;
    hints.ai_flags = AI_PASSIVE | AI_NUMERICSERV;
    char port[16];
    snprintf(port, sizeof port, "%u", (unsigned)s->port);
    int gai = getaddrinfo(host, port, &hints, &ai);
    if (gai != 0 || !ai) {
        snprintf(err, cap, "cannot resolve --host '%s': %s", host, gai_strerror(gai));
        return false;
    }
    if (!is_loopback(ai->ai_addr) && s->opt.n_api_keys == 0) {
        server_log(s, LLAMAC_LOG_WARN,
                   "listening on non-loopback address %s without an API key; anyone who can reach it can use the "
                   "server (set --api-key)",
                   host);
    }
    int fd = listen_on(ai, host, s->port, s->opt.reuse_port, err, cap);
    /* epoll (no FD_SETSIZE bound, and a connection costs nothing while idle); suspended connections wait for their
     * request threads (dispatch) and streams (struct relay) */
    unsigned flags = MHD_USE_EPOLL_INTERNAL_THREAD | MHD_ALLOW_SUSPEND_RESUME | MHD_USE_ITC;
    if (ai->ai_family == AF_INET6) {
        flags |= MHD_USE_IPv6;
    }
    freeaddrinfo(ai);
    if (fd < 0) {
        return false;
    }
    struct sockaddr_storage bound;
    socklen_t len = sizeof bound;
    if (s->port == 0 && getsockname(fd, (struct sockaddr *)&bound, &len) == 0) {
        s->port = ntohs(bound.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&bound)->sin6_port
                                                    : ((struct sockaddr_in *)&bound)->sin_port);
    }
    /* one client address gets at most part of the connections, so that the others (and /health) still find some */
    unsigned per_client = s->opt.max_connections_per_client;
    if (per_client == 0) {
        per_client = s->opt.max_connections > 1 ? s->opt.max_connections / 2 : 1;
    }
    /* libmicrohttpd reads the PEM texts (its option items take them as void *) */
    struct MHD_OptionItem tls[] = {
        { MHD_OPTION_HTTPS_MEM_KEY, 0, (void *)(uintptr_t)s->opt.tls_key },
        { MHD_OPTION_HTTPS_MEM_CERT, 0, (void *)(uintptr_t)s->opt.tls_cert },
        { MHD_OPTION_END, 0, NULL },
    };
    if (s->opt.tls_key) {
        if (MHD_is_feature_supported(MHD_FEATURE_TLS) != MHD_YES) {
            close(fd);
            snprintf(err, cap, "--ssl-key-file: this libmicrohttpd was built without TLS");
            return false;
        }
        flags |= MHD_USE_TLS;
    } else {
        tls[0].option = MHD_OPTION_END;
    }
    struct MHD_Daemon *d = MHD_start_daemon(
        flags, 0, NULL, NULL, on_access, s, MHD_OPTION_LISTEN_SOCKET, (MHD_socket)fd, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, s, MHD_OPTION_NOTIFY_CONNECTION, on_connection, s, MHD_OPTION_CONNECTION_TIMEOUT,
        (unsigned)s->opt.timeout_s, MHD_OPTION_CONNECTION_LIMIT, (unsigned)s->opt.max_connections,
        MHD_OPTION_PER_IP_CONNECTION_LIMIT, per_client, MHD_OPTION_CONNECTION_MEMORY_LIMIT, s->opt.max_header,
        MHD_OPTION_THREAD_POOL_SIZE, POLL_THREADS, MHD_OPTION_ARRAY, tls, MHD_OPTION_END);
    if (!d) {
        close(fd);
        if (s->opt.tls_key) {
            snprintf(err, cap,
                     "cannot serve HTTPS on %s port %u: libmicrohttpd (GnuTLS) refused --ssl-key-file / "
                     "--ssl-cert-file (not a key and its certificate, or a key protected by a passphrase)",
                     host, (unsigned)s->port);
        } else {
            snprintf(err, cap, "cannot serve on %s port %u: libmicrohttpd could not start", host, (unsigned)s->port);
        }
        return false;
    }
    s->daemon[s->n_daemons++] = d;
    return true;
}

/* Raises the soft limit on open files to the hard one (each connection is a file), and keeps --max-connections
 * within what it allows, with room for the model's files, the children's pipes and the like. */
static void fd_budget(struct server *s) {
    struct rlimit rl;
    if (getrlimit(RLIMIT_NOFILE, &rl) != 0) {
        return;
    }
    if (rl.rlim_cur < rl.rlim_max) {
        struct rlimit want = { rl.rlim_max, rl.rlim_max };
        if (setrlimit(RLIMIT_NOFILE, &want) == 0) {
            rl.rlim_cur = rl.rlim_max;
        }
    }
    const rlim_t reserve = 256;
    rlim_t room = rl.rlim_cur > reserve * 2 ? rl.rlim_cur - reserve : rl.rlim_cur / 2;
    if (rl.rlim_cur != RLIM_INFINITY && s->opt.max_connections > room) {
        server_log(s, LLAMAC_LOG_WARN,
                   "--max-connections %u: this process may open only %llu files (ulimit -n); serving at most %llu "
                   "connections",
                   s->opt.max_connections, (unsigned long long)rl.rlim_cur, (unsigned long long)room);
        s->opt.max_connections = (unsigned)room;
    }
}

bool http_start(struct server *s, char *err, size_t cap) {
    struct http *h = calloc(1, sizeof *h);
    if (!h) {
        snprintf(err, cap, "out of memory");
        return false;
    }
    pthread_mutex_init(&h->lock, NULL);
    pthread_cond_init(&h->workers_done, NULL);
    pthread_cond_init(&h->wake, NULL);
    s->http = h;
    if (pthread_create(&h->watchdog, NULL, watchdog, s) != 0) {
        snprintf(err, cap, "cannot start a thread");
        http_stop(s);
        return false;
    }
    h->watchdog_running = true;
    fd_budget(s);
    /* --host is an address or a comma-separated list of them (llama-server's), all served on one port: the first
     * one picks it when --port is 0 */
    const char *list = s->opt.host;
    s->port = s->opt.port;
    for (const char *p = list; *p;) {
        const char *comma = strchr(p, ',');
        size_t n = comma ? (size_t)(comma - p) : strlen(p);
        while (n > 0 && *p == ' ') {
            p++, n--;
        }
        while (n > 0 && p[n - 1] == ' ') {
            n--;
        }
        char host[256];
        if (n == 0 || n >= sizeof host) {
            snprintf(err, cap, "--host '%s': %s", list, n ? "an address is too long" : "an empty address in the list");
            http_stop(s);
            return false;
        }
        memcpy(host, p, n);
        host[n] = '\0';
        if (n > 5 && strcmp(host + n - 5, ".sock") == 0) {
            snprintf(err, cap, "--host '%s': UNIX sockets are not supported by llamac serve; give IP addresses", host);
            http_stop(s);
            return false;
        }
        if (s->n_daemons == SERVER_MAX_HOSTS) {
            snprintf(err, cap, "--host '%s': at most %d addresses", list, SERVER_MAX_HOSTS);
            http_stop(s);
            return false;
        }
        if (!serve_on(s, host, err, cap)) {
            http_stop(s);
            return false;
        }
        if (!comma) {
            break;
        }
        p = comma + 1;
    }
    if (s->n_daemons == 0) {
        snprintf(err, cap, "--host '%s': no address to listen on", list);
        return false;
    }
    if (s->opt.n_api_keys == 0 && s->opt.cors_origins && strchr(s->opt.cors_origins, '*')) {
        server_log(
            s, LLAMAC_LOG_WARN,
            "no API key is set and CORS allows every origin (llama-server's default): any web page that a "
            "browser opens on a machine that reaches this server can use it and read its replies; set --api-key, "
            "or --cors-origins localhost to allow only pages served from this machine");
    }
    if (s->opt.ui_mcp_proxy) {
        server_log(
            s, LLAMAC_LOG_WARN,
            "--ui-mcp-proxy: /cors-proxy fetches any URL this server can reach (on this machine and its network) "
            "for whoever may call this server%s",
            s->opt.n_api_keys == 0 ? ", and no API key is set" : "");
    }
    if (s->opt.tools) {
        server_log(s, LLAMAC_LOG_WARN,
                   "the built-in tools are on (--tools): %s can read and write files and run commands here as this "
                   "server's user (POST /tools); never expose it to an untrusted network",
                   s->opt.n_api_keys ? "a client with the API key" : "any client that reaches this server");
    }
    return true;
}

size_t http_settle(struct server *s, unsigned ms) {
    for (unsigned waited = 0; waited < ms && atomic_load(&s->in_flight) > 0; waited += 20) {
        struct timespec ts = { 0, 20 * 1000 * 1000 };
        nanosleep(&ts, NULL);
    }
    long n = atomic_load(&s->in_flight);
    return n > 0 ? (size_t)n : 0;
}

size_t http_quiesce(struct server *s, unsigned grace_ms) {
    atomic_store(&s->stopping, true);
    for (size_t i = 0; i < s->n_daemons; i++) {
        MHD_socket fd = MHD_quiesce_daemon(s->daemon[i]);
        if (fd != MHD_INVALID_SOCKET) {
            close(fd);
        }
    }
    return http_settle(s, grace_ms);
}

void http_stop(struct server *s) {
    struct http *h = s->http;
    if (h) {
        /* every request thread ends first: their connections are suspended (jobs_abort_all and router_stop have
         * ended what they wait for; a stream whose client does not read gives up) */
        atomic_store(&h->closing, true);
        pthread_mutex_lock(&h->lock);
        while (h->n_workers > 0) {
            struct timespec ts;
            deadline_in(&ts, 100);
            pthread_cond_timedwait(&h->workers_done, &h->lock, &ts);
        }
        pthread_mutex_unlock(&h->lock);
    }
    for (size_t i = 0; i < s->n_daemons; i++) {
        MHD_stop_daemon(s->daemon[i]);
        s->daemon[i] = NULL;
    }
    s->n_daemons = 0;
    if (h) {
        if (h->watchdog_running) {
            pthread_mutex_lock(&h->lock);
            h->stop = true;
            pthread_cond_signal(&h->wake);
            pthread_mutex_unlock(&h->lock);
            pthread_join(h->watchdog, NULL);
        }
        pthread_mutex_destroy(&h->lock);
        pthread_cond_destroy(&h->workers_done);
        pthread_cond_destroy(&h->wake);
        free(h);
        s->http = NULL;
    }
}
