/*
 * server.h - the HTTP server behind `llamac serve`: OpenAI-compatible endpoints over libmicrohttpd.
 *
 * The server listens as soon as it is created, answering /health with 503 while the model loads; the command
 * then loads the model, creates the engine and hands them over with server_set_backend, after which the server owns
 * them. libmicrohttpd's polling threads read and write every connection; a request runs on a thread of its own once
 * it has arrived (http.c), and generation runs on the engine's own
 * thread and reaches a connection through a job (job.c). server_shutdown ends it all in the one order that is safe.
 * Nothing here prints: every line goes to the log function in the options.
 */
#ifndef LLAMAC_SERVER_H
#define LLAMAC_SERVER_H

#include "llamac.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct server server;

/* Request defaults a client may override per request (llama-server's command-line defaults). */
struct server_defaults {
    int32_t n_predict; /* max_tokens when a request gives none; -1: until the slot's context is full */
    int32_t n_keep;    /* tokens kept when the context shifts (--keep; see llamac_engine_request.n_keep) */
    llamac_sampling_params sampling;
    llamac_spec_params spec; /* speculative decoding (--spec-type, --spec-draft-n-max, ...; draft NULL); a request's
                                speculative.n_max/n_min/p_min change its copy */
    bool spec_draft;         /* the engine's draft model (-md) drafts */
    bool no_cache_prompt;    /* --no-cache-prompt: a request without cache_prompt decodes its whole prompt again */
    const char *grammar;     /* --grammar, --json-schema, ...: the GBNF of a request that gives no grammar, schema,
                                response_format nor tools (NULL: none) */
    const char *const *stop; /* -r: the stop strings of a request that gives none (llama-server's antiprompt) */
    size_t n_stop;
};

struct server_options {
    const char *host;            /* address to bind (default 127.0.0.1) */
    uint16_t port;               /* 0: any free port (the bound one is in server_port) */
    const char *const *api_keys; /* accepted keys (borrowed); none: no authentication */
    size_t n_api_keys;
    /* CORS, llama-server's policy: cors_origins is a comma-separated list of origins (compared exactly), "*" for any
     * (the Origin is reflected unless cors_no_credentials) or "localhost" for any origin whose host is localhost,
     * 127.0.0.1 or [::1]; NULL: no CORS headers. A preflight (OPTIONS) from an allowed origin gets 200 with
     * cors_methods (NULL: "GET, POST, DELETE, OPTIONS"), cors_headers (NULL: "*") and Allow-Credentials. */
    const char *cors_origins;
    const char *cors_methods;
    const char *cors_headers;
    bool cors_no_credentials; /* --no-cors-credentials: Allow-Credentials false, and "*" answers "*" */
    /* --tools: the built-in agent tools GET and POST /tools offer (server_tools_parse's mask); 0: none, and both
     * answer 403. They read and write files and run commands as the server's user. */
    unsigned tools;
    bool metrics;              /* GET /metrics */
    bool slots;                /* GET /slots */
    bool props;                /* POST /props answers {"success": true} (llama-server's --props); else 501 */
    bool reuse_port;           /* --reuse-port: SO_REUSEPORT, so that several servers may listen on the port */
    const char *api_prefix;    /* --api-prefix: every endpoint and the page are under this path ("/v1x"; no trailing
                                  slash); a path outside it is a 404. NULL: none */
    bool no_prefill_assistant; /* --no-prefill-assistant: a conversation's last assistant message is a whole turn */
    int32_t embd_normalize;    /* /v1/embeddings' normalisation (llamac_embed_params.normalize; llama-server's
                                  --embd-normalize; llamac serve sets 2, L2) */
    bool verbose;              /* -v: every OpenAI response carries llama-server's __verbose (the prompt as rendered) */
    const char *slot_save_path; /* POST /slots/N?action=save|restore|erase: their files' directory; NULL: off */
    const char *alias;          /* model id in /v1/models and responses; NULL: the model file's name. A comma-separated
                                   list (llama-server's): all are the model's aliases, the first in byte order its id */
    const char *tags;           /* --tags: comma-separated, listed by /v1/models (informational); NULL: none */
    const char *model_path;
    bool no_webui;          /* --no-webui: no chat page at / */
    const char *static_dir; /* --path: this folder's files at / instead of the embedded chat page; NULL: the page */
    const char *media_path; /* --media-path: the folder file:// media URLs are read from; NULL: they are refused */
    bool remote_media;      /* --remote-media: http(s) media URLs are fetched (llamac_media_fetch); false: refused */
    uint32_t remote_media_timeout_s;   /* the whole fetch of one remote medium in seconds; 0: llamac_media_fetch's 10 */
    bool ui_mcp_proxy;                 /* --ui-mcp-proxy: GET and POST /cors-proxy?url=URL forward to URL (cors_proxy.c,
                                          waiting timeout_s for the answer and each pause in it); false: 403 */
    llamac_reasoning_format reasoning; /* <think> to reasoning_content (DEEPSEEK, the default) or left in (NONE) */
    const char *chat_template_kwargs;  /* a JSON object of template variables for every chat request (a request's
                                          chat_template_kwargs override them key by key); NULL: none */
    llamac_thinking thinking;          /* whether a thinking template thinks (--reasoning; default AUTO) */
    size_t max_body;                   /* largest request body in bytes */
    unsigned timeout_s;                /* idle connection timeout */
    unsigned request_timeout_s;        /* a request must have arrived whole (line, headers, body) this many seconds
                                          after its connection opened, or on a kept-alive one timeout_s after the
                                          previous response; the body's bytes add time at 64 KiB/s. A slow client
                                          cannot push it back byte by byte. 0: no deadline */
    unsigned max_connections;          /* concurrent connections */
    unsigned max_connections_per_client; /* of them from one client address; 0: half of max_connections */
    size_t max_header;                   /* bytes of memory per connection for the request line and headers */
    const char *tls_key, *tls_cert;      /* PEM texts: serve HTTPS (libmicrohttpd over GnuTLS); NULL: plain HTTP */
    struct server_defaults defaults;
    /* The Hugging Face Hub for Ollama's /api/pull and /api/delete: hub_offline (--offline) turns pulls off;
     * hub_token (-hft) is the token (NULL: the environment's, as llamac_hub_params). */
    bool hub_offline;
    const char *hub_token;
    /* The server's log: warnings, and one INFO line per request when it is done (the access log: "done request: POST
     * /v1/chat/completions 127.0.0.1 200 prompt_tokens=12 generated_tokens=30 time_ms=84.1"; DEBUG for the polled
     * endpoints /health, /v1/models, /metrics and /slots, which llama-server leaves out of its log). Runs on any
     * of the server's threads, possibly several at once; `line` has no newline and is borrowed for the call. NULL:
     * nothing is logged. */
    llamac_log_fn log;
    void *log_user_data;
};

/* --tools' list (llama-server's: comma-separated tool names, or "all") as server_options.tools' mask. False with
 * a message naming the unknown tool and the known ones in err (cap bytes). Thread-safe. (tools_builtin.c) */
bool server_tools_parse(const char *list, unsigned *mask, char *err, size_t cap);

/* Starts listening with the options (borrowed; strings must outlive the server). Every endpoint but /health answers
 * 503 until server_set_backend. Returns NULL with a message in err (cap bytes) on failure, e.g. "cannot listen on
 * 127.0.0.1 port 8080: the address is already in use (another server?); choose another --port, or --port 0 for any
 * free one". */
server *server_start(const struct server_options *opt, char *err, size_t cap);

/* The port the server listens on. */
uint16_t server_port(const server *s);

/* Does GET / give a page: the embedded chat page (not --no-webui, not a build without it) or --path's folder? */
bool server_has_page(const server *s);

/* What generation and embeddings use. The server owns all of it from server_set_backend on (server_shutdown frees
 * it): the model, the engine (NULL: no generation endpoints), a projector (NULL: no media), the chat template (NULL:
 * chat completions answer 400),
 * an embedding context (NULL: /v1/embeddings and /rerank answer 501), which is used with rank pooling for /rerank
 * when `reranking`. The template's source is only read during the call (it tells the model's tool-call format; may
 * be NULL). */
struct server_backend {
    llamac_model *model;
    llamac_engine *engine;
    llamac_template *tmpl;
    const char *template_source;
    llamac_context *embd_ctx;
    bool reranking;
    llamac_mmproj *mmproj;       /* the projector for images and audio in requests (its marker stands for a medium in
                                    prompts); NULL: requests with media answer 400 */
    llamac_template *tmpl_tools; /* the model's tool_use variant, for requests with tools (as llama-server's chat
                                    layer picks it); NULL: `tmpl` renders them too */
};

/* Hands the backend over (see struct server_backend) and marks the server ready. */
void server_set_backend(server *s, const struct server_backend *backend);

/* The engine's on_step hook (llamac_engine_params.on_step, user data: the server): wakes the readers of the streams
 * that got tokens in the step, from a thread of the server's own, so that the engine thread makes one wake-up call
 * per step rather than one per token. Without it, readers are woken at each token. */
void server_engine_step(void *user_data);

/* Ends the server, in order: stops accepting connections and lets requests in flight finish on the engine for up
 * to grace_ms; ends the jobs still waiting (their clients get an error event or a 503) and closes every connection;
 * frees the engine (its last callbacks still reach the jobs); then the embedding context, template, model and the
 * server. Returns the number of requests still in flight when the grace period ran out (they were ended). NULL is
 * a no-op (returns 0). */
size_t server_shutdown(server *s, unsigned grace_ms);

#endif /* LLAMAC_SERVER_H */
