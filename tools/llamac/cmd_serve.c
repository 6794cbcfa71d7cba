/*
 * cmd_serve.c - `llamac serve`: an OpenAI-compatible HTTP server (server/) over the multi-sequence engine.
 *
 * Flags are llama-server's, so a script that starts llama-server can start llamac instead. The server listens
 * first and answers /health with 503 while the model loads; the URL is printed once it is ready. SIGINT and
 * SIGTERM are taken by sigwait on the main thread (every other thread has them blocked): the server stops
 * accepting, lets requests in flight finish for a bounded grace period, and the command exits 0.
 */
#include "cli.h"
#include "server.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_KEYS 64

struct serve_opts {
    struct server_options so;
    llamac_engine_params ep;
    const char *keys[MAX_KEYS];
    char *key_file_data;
    const char *chat_template_file;
    bool embedding, reranking;
    llamac_pooling pooling;
    unsigned grace_s;
};

static void serve_usage(void) {
    printf("usage: llamac serve -m MODEL [options]\n\n"
           "An OpenAI-compatible server: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/rerank,\n"
           "/v1/models, /health, /tokenize, /detokenize, /apply-template, /metrics, /slots.\n\n"
           "Server options (llama-server's names):\n"
           "  --host ADDR               address to listen on (default 127.0.0.1)\n"
           "  --port N                  port (default 8080; 0: any free port, printed at start)\n"
           "  -np, --parallel N         slots: requests decoded together (default 4)\n"
           "  -c, --ctx-size N          context shared by the slots, each getting N / slots (default: slots x\n"
           "                            min(4096, the model's training context))\n"
           "  -n, --n-predict N         max_tokens when a request gives none (default -1: until the slot is full)\n"
           "  --temp T, --top-k N, --top-p P, --min-p P, --repeat-penalty R, -s/--seed N\n"
           "                            sampling defaults for requests that do not set them\n"
           "  --api-key KEY             require this key (Authorization: Bearer KEY) on everything but /health;\n"
           "                            repeat it or give a comma-separated list for several keys\n"
           "  --api-key-file FILE       keys, one per line\n"
           "  --embedding, --embeddings serve /v1/embeddings (from a second context of the same model)\n"
           "  --reranking, --rerank     serve /v1/rerank (a reranker model; rank pooling)\n"
           "  --pooling none|mean|cls|last|rank   pooling of the embedding context (default: the model's)\n"
           "  --chat-template-file FILE a Jinja chat template to use instead of the model's\n"
           "  --jinja                   accepted for compatibility (templates are always rendered with Jinja)\n"
           "  --alias NAME              model id reported by /v1/models and in responses (default: the -hf\n"
           "                            repository as given, else the model file's name)\n"
           "  --reasoning-format F      deepseek (default): <think>...</think> goes to message.reasoning_content;\n"
           "                            none: it stays in content\n"
           "  --metrics                 enable GET /metrics (Prometheus text)\n"
           "  --slots / --no-slots      enable / disable GET /slots (default: off)\n"
           "  --cors-origins LIST       allow cross-origin requests from these origins (comma-separated, or *)\n"
           "  --timeout N, -to N        seconds an idle connection is kept (default 600)\n"
           "  --max-body N              largest request body in bytes (default 4194304)\n"
           "  --max-connections N       concurrent connections (default 256)\n"
           "  --max-queue N             requests waiting for a slot before 503 (default 64)\n"
           "  --prefill-chunk N         prompt tokens per engine step (default 512)\n"
           "  -sps, --slot-prompt-similarity F  share of a prompt a slot's cache must match for the request to\n"
           "                            take that slot rather than the least recently used (default 0.1)\n"
           "  -cram, --cache-ram N      MiB of host memory for idle slots' caches, parked out of the KV cache\n"
           "                            while other slots work (default 8192, -1 no limit, 0 never park)\n"
           "  --grace N                 seconds to let requests finish on SIGINT/SIGTERM (default 10)\n"
           "  --no-webui, --no-ui       accepted (there is no web UI)\n\n");
    cli_print_common_help();
}

static bool add_keys(struct cli_common *c, struct serve_opts *o, char *list) {
    for (char *save = NULL, *k = strtok_r(list, ",\n\r", &save); k; k = strtok_r(NULL, ",\n\r", &save)) {
        while (*k == ' ' || *k == '\t') {
            k++;
        }
        size_t n = strlen(k);
        while (n && (k[n - 1] == ' ' || k[n - 1] == '\t')) {
            k[--n] = '\0';
        }
        if (!*k) {
            continue;
        }
        if (o->so.n_api_keys >= MAX_KEYS) {
            cli_error(c, "too many API keys (at most %d)", MAX_KEYS);
            return false;
        }
        o->keys[o->so.n_api_keys++] = k;
    }
    return true;
}

static bool parse_pool(const struct cli_common *c, const char *v, llamac_pooling *out) {
    static const char *names[] = { "none", "mean", "cls", "last", "rank" };
    for (int i = 0; i < 5; i++) {
        if (strcmp(v, names[i]) == 0) {
            *out = (llamac_pooling)i;
            return true;
        }
    }
    cli_error(c, "invalid --pooling '%s' (expected none, mean, cls, last or rank)", v);
    return false;
}

/* The server's log: warnings always, a line per request (INFO) with -v. */
static void serve_log(llamac_log_level level, const char *line, void *user_data) {
    const struct cli_common *c = user_data;
    if (level >= LLAMAC_LOG_WARN) {
        fprintf(stderr, "llamac serve: %s: %s\n", level >= LLAMAC_LOG_ERROR ? "error" : "warning", line);
    } else if (level == LLAMAC_LOG_INFO && c->verbose) {
        fprintf(stderr, "llamac serve: %s\n", line);
    }
}

/* Parses the command line; returns -1 to go on, else the exit status. */
static int parse(struct cli_common *c, struct serve_opts *o, int argc, char **argv, char **key_lists, size_t *n_lists) {
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        enum cli_parse r = cli_parse_common(c, argc, argv, &i);
        if (r == CLI_ERROR) {
            return EXIT_USAGE;
        }
        if (r == CLI_TAKEN) {
            continue;
        }
        const char *v = NULL;
        long n;
        float f;
#define VAL()                                                                                                          \
    do {                                                                                                               \
        if (!(v = cli_value(c, argc, argv, &i))) {                                                                     \
            return EXIT_USAGE;                                                                                         \
        }                                                                                                              \
    } while (0)
#define INT(lo, hi)                                                                                                    \
    do {                                                                                                               \
        VAL();                                                                                                         \
        if (!cli_int(c, a, v, lo, hi, &n)) {                                                                           \
            return EXIT_USAGE;                                                                                         \
        }                                                                                                              \
    } while (0)
#define FLT()                                                                                                          \
    do {                                                                                                               \
        VAL();                                                                                                         \
        if (!cli_float(c, a, v, &f)) {                                                                                 \
            return EXIT_USAGE;                                                                                         \
        }                                                                                                              \
    } while (0)
        if (strcmp(a, "-h") == 0 || strcmp(a, "--help") == 0) {
            serve_usage();
            return EXIT_OK;
        } else if (strcmp(a, "--host") == 0) {
            VAL();
            o->so.host = v;
        } else if (strcmp(a, "--port") == 0) {
            INT(0, 65535);
            o->so.port = (uint16_t)n;
        } else if (strcmp(a, "-np") == 0 || strcmp(a, "--parallel") == 0) {
            INT(1, 256);
            o->ep.n_slots = (uint32_t)n;
        } else if (strcmp(a, "-n") == 0 || strcmp(a, "--n-predict") == 0 || strcmp(a, "--predict") == 0) {
            INT(-1, INT32_MAX);
            o->so.defaults.n_predict = (int32_t)n;
        } else if (strcmp(a, "--temp") == 0) {
            FLT();
            o->so.defaults.sampling.temp = f;
        } else if (strcmp(a, "--top-k") == 0) {
            INT(0, INT32_MAX);
            o->so.defaults.sampling.top_k = (int32_t)n;
        } else if (strcmp(a, "--top-p") == 0) {
            FLT();
            o->so.defaults.sampling.top_p = f;
        } else if (strcmp(a, "--min-p") == 0) {
            FLT();
            o->so.defaults.sampling.min_p = f;
        } else if (strcmp(a, "--repeat-penalty") == 0) {
            FLT();
            o->so.defaults.sampling.penalty_repeat = f;
        } else if (strcmp(a, "-s") == 0 || strcmp(a, "--seed") == 0) {
            INT(-1, UINT32_MAX - 1L);
            o->so.defaults.sampling.seed = n < 0 ? UINT32_MAX : (uint32_t)n;
        } else if (strcmp(a, "--api-key") == 0) {
            VAL();
            if (*n_lists >= MAX_KEYS || !(key_lists[(*n_lists)++] = strdup(v)) ||
                !add_keys(c, o, key_lists[*n_lists - 1])) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--api-key-file") == 0) {
            VAL();
            size_t len;
            free(o->key_file_data);
            if (!(o->key_file_data = cli_read_all(c, v, &len)) || !add_keys(c, o, o->key_file_data)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--embedding") == 0 || strcmp(a, "--embeddings") == 0) {
            o->embedding = true;
        } else if (strcmp(a, "--reranking") == 0 || strcmp(a, "--rerank") == 0) {
            o->reranking = true;
        } else if (strcmp(a, "--pooling") == 0) {
            VAL();
            if (!parse_pool(c, v, &o->pooling)) {
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--chat-template-file") == 0) {
            VAL();
            o->chat_template_file = v;
        } else if (strcmp(a, "--jinja") == 0 || strcmp(a, "--no-webui") == 0 || strcmp(a, "--no-ui") == 0 ||
                   strcmp(a, "--cont-batching") == 0 || strcmp(a, "-cb") == 0) {
            /* accepted: always so */
        } else if (strcmp(a, "--alias") == 0 || strcmp(a, "-a") == 0) {
            VAL();
            o->so.alias = v;
        } else if (strcmp(a, "--reasoning-format") == 0) {
            VAL();
            if (strcmp(v, "none") == 0) {
                o->so.reasoning = LLAMAC_REASONING_NONE;
            } else if (strcmp(v, "deepseek") == 0 || strcmp(v, "auto") == 0) {
                o->so.reasoning = LLAMAC_REASONING_DEEPSEEK;
            } else {
                cli_error(c, "--reasoning-format: expected none or deepseek, not '%s'", v);
                return EXIT_USAGE;
            }
        } else if (strcmp(a, "--metrics") == 0) {
            o->so.metrics = true;
        } else if (strcmp(a, "--slots") == 0) {
            o->so.slots = true;
        } else if (strcmp(a, "--no-slots") == 0) {
            o->so.slots = false;
        } else if (strcmp(a, "--cors-origins") == 0) {
            VAL();
            o->so.cors_origins = v;
        } else if (strcmp(a, "--timeout") == 0 || strcmp(a, "-to") == 0) {
            INT(1, 86400);
            o->so.timeout_s = (unsigned)n;
        } else if (strcmp(a, "--max-body") == 0) {
            INT(1, 1L << 30);
            o->so.max_body = (size_t)n;
        } else if (strcmp(a, "--max-connections") == 0) {
            INT(1, 65536);
            o->so.max_connections = (unsigned)n;
        } else if (strcmp(a, "--max-queue") == 0) {
            INT(0, 1 << 20);
            o->ep.max_queued = (uint32_t)n;
        } else if (strcmp(a, "--prefill-chunk") == 0) {
            INT(1, 1 << 20);
            o->ep.n_prefill_chunk = (uint32_t)n;
        } else if (strcmp(a, "--slot-prompt-similarity") == 0 || strcmp(a, "-sps") == 0) {
            FLT();
            if (!(f >= 0.0f && f <= 1.0f)) {
                cli_error(c, "%s: expected a number from 0 to 1, not '%s'", a, v);
                return EXIT_USAGE;
            }
            o->ep.slot_similarity = f;
        } else if (strcmp(a, "--cache-ram") == 0 || strcmp(a, "-cram") == 0) {
            INT(-1, INT32_MAX);
            o->ep.park_limit_mib = n;
        } else if (strcmp(a, "--grace") == 0) {
            INT(0, 3600);
            o->grace_s = (unsigned)n;
        } else if (strcmp(a, "--threads-http") == 0) {
            VAL(); /* accepted: one thread per connection */
        } else {
            cli_error(c, "unknown option '%s' (see llamac serve --help)", a);
            return EXIT_USAGE;
        }
#undef VAL
#undef INT
#undef FLT
    }
    if (o->embedding && o->reranking) {
        cli_error(c, "--embedding and --reranking exclude each other");
        return EXIT_USAGE;
    }
    return -1;
}

/* The chat template and its source (*source: the file's text, caller frees with free, or NULL when the model's is
 * used: then *model_source points into the model). */
static llamac_template *load_template(struct cli_common *c, struct serve_opts *o, llamac_model *model, bool *failed,
                                      char **source, const char **model_source) {
    llamac_template *t = NULL;
    *failed = false;
    *source = NULL;
    *model_source = NULL;
    if (o->chat_template_file) {
        size_t len = 0;
        char *src = cli_read_all(c, o->chat_template_file, &len);
        if (!src) {
            *failed = true;
            return NULL;
        }
        if (llamac_template_new(src, len, &t) != LLAMAC_OK) {
            cli_error(c, "--chat-template-file %s: %s", o->chat_template_file, llamac_last_error());
            *failed = true;
            free(src);
            return NULL;
        }
        *source = src;
        return t;
    }
    llamac_model_chat_template(model, NULL, model_source);
    llamac_status st = llamac_template_from_model(model, NULL, &t);
    if (st == LLAMAC_E_NOT_FOUND) {
        if (!c->quiet) {
            fprintf(stderr, "llamac serve: the model has no chat template: /v1/chat/completions answers 400 (use "
                            "/v1/completions, or --chat-template-file)\n");
        }
    } else if (st != LLAMAC_OK) {
        fprintf(stderr, "llamac serve: warning: the model's chat template cannot be used: %s\n", llamac_last_error());
    }
    return t;
}

int cmd_serve(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "serve");
    struct serve_opts o;
    memset(&o, 0, sizeof o);
    o.ep = llamac_engine_params_default();
    o.so.host = "127.0.0.1";
    o.so.port = 8080;
    o.so.max_body = 4u << 20;
    o.so.timeout_s = 600;
    o.so.max_connections = 256;
    o.so.max_header = 64 * 1024;
    o.so.defaults.n_predict = -1;
    o.so.reasoning = LLAMAC_REASONING_DEEPSEEK;
    o.so.defaults.sampling = llamac_sampling_params_default();
    o.so.log = serve_log;
    o.so.log_user_data = &c;
    o.pooling = LLAMAC_POOLING_DEFAULT;
    o.grace_s = 10;
    char *key_lists[MAX_KEYS];
    size_t n_lists = 0;
    llamac_model *model = NULL;
    llamac_template *tmpl = NULL;
    char *tmpl_source = NULL;
    llamac_engine *engine = NULL;
    llamac_context *embd = NULL;
    server *srv = NULL;
    int rc = parse(&c, &o, argc, argv, key_lists, &n_lists);
    if (rc >= 0) {
        goto done;
    }
    rc = EXIT_FAILURE_RUN;
    o.so.api_keys = o.keys;
    o.so.model_path = c.model_path ? c.model_path : getenv("LLAMAC_MODEL");
    if (!o.so.alias && c.hf_repo) {
        o.so.alias = c.hf_repo; /* llama-server's model name with -hf: the repository as given */
    }
    cli_setup_logging(&c);

    /* Every thread started from here on inherits the blocked signals; only sigwait below takes them. */
    sigset_t sigs;
    sigemptyset(&sigs);
    sigaddset(&sigs, SIGINT);
    sigaddset(&sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &sigs, NULL);
    signal(SIGPIPE, SIG_IGN);

    char err[512];
    if (!(srv = server_start(&o.so, err, sizeof err))) {
        cli_error(&c, "%s", err);
        goto done;
    }
    /* the port is open already: /health answers 503 while the model downloads (-hf) and loads */
    fprintf(stderr, "llamac serve: loading the model; port %u answers /health with 503 until it is ready\n",
            (unsigned)server_port(srv));
    c.quiet = true; /* no progress bar: the server's stderr is a log */
    if (!(model = cli_load_model(&c, false))) {
        goto done;
    }
    bool tmpl_failed = false;
    const char *model_source = NULL;
    tmpl = load_template(&c, &o, model, &tmpl_failed, &tmpl_source, &model_source);
    if (tmpl_failed) {
        goto done;
    }
    o.ep.n_ctx = c.ctx.n_ctx;
    o.ep.n_batch = c.ctx.n_batch;
    o.ep.n_ubatch = c.ctx.n_ubatch;
    o.ep.n_threads = c.ctx.n_threads;
    o.ep.n_threads_batch = c.ctx.n_threads_batch;
    o.ep.type_k = c.ctx.type_k;
    o.ep.type_v = c.ctx.type_v;
    o.ep.flash_attn = c.ctx.flash_attn;
    o.ep.on_step = server_engine_step; /* stream readers are woken once per step */
    o.ep.step_user_data = srv;
    if (!o.reranking && llamac_engine_new(model, &o.ep, &engine) != LLAMAC_OK) {
        cli_error(&c, "%s", llamac_last_error());
        goto done;
    }
    if (o.embedding || o.reranking) {
        llamac_ctx_params cp = c.ctx;
        cp.n_ctx = 0;
        cp.embeddings = true;
        cp.kv_unified = true;
        cp.pooling = o.reranking ? LLAMAC_POOLING_RANK : o.pooling;
        cp.n_ubatch = cp.n_batch;
        cp.n_seq_max = cp.n_batch < 64 ? cp.n_batch : 64;
        cp.flash_attn = LLAMAC_FLASH_ATTN_OFF;
        if (llamac_ctx_new(model, &cp, &embd) != LLAMAC_OK) {
            cli_error(&c, "embedding context: %s", llamac_last_error());
            goto done;
        }
    }
    struct server_backend backend = {
        model, engine, tmpl, tmpl_source ? tmpl_source : model_source, embd, o.reranking
    };
    server_set_backend(srv, &backend); /* the server owns them now */
    model = NULL;
    engine = NULL;
    tmpl = NULL;
    embd = NULL;
    const char *host = o.so.host;
    bool v6 = strchr(host, ':') != NULL;
    fprintf(stderr, "llamac serve: listening on http://%s%s%s:%u\n", v6 ? "[" : "", host, v6 ? "]" : "",
            (unsigned)server_port(srv));

    int sig = 0;
    while (sigwait(&sigs, &sig) != 0) {
    }
    fprintf(stderr, "llamac serve: %s: no new connections; letting requests in flight finish (up to %u s)\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", o.grace_s);
    size_t left = server_shutdown(srv, o.grace_s * 1000u);
    srv = NULL;
    if (left > 0) {
        fprintf(stderr, "llamac serve: %zu request(s) were still running after the grace period; ended them\n", left);
    }
    rc = EXIT_OK;
done:
    server_shutdown(srv, 0); /* the backend it owns included */
    llamac_engine_free(engine);
    llamac_ctx_free(embd);
    llamac_template_free(tmpl);
    free(tmpl_source);
    llamac_model_free(model);
    for (size_t i = 0; i < n_lists; i++) {
        free(key_lists[i]);
    }
    free(o.key_file_data);
    return rc;
}
