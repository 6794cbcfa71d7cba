/*
 * cmd_serve.c - `llamac serve`: an OpenAI-compatible HTTP server (server/) over the multi-sequence engine.
 *
 * Flags are llama-server's, so a script that starts llama-server can start llamac instead. The server listens
 * first and answers /health with 503 while the model loads; the URL is printed once it is ready. SIGINT and
 * SIGTERM are taken by sigwait on the main thread (every other thread has them blocked): the server stops
 * accepting, lets requests in flight finish for a bounded grace period, and the command exits 0.
 */
#include "cli.h"
#include "router.h"
#include "server.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define MAX_KEYS 64
#define MAX_STOPS 16 /* a request's stop strings at most (server/request.h's MAX_STOP) */

struct serve_opts {
    struct server_options so;
    llamac_engine_params ep;
    struct cli_chat chat; /* --chat-template-file, --chat-template-kwargs, --jinja */
    const char *keys[MAX_KEYS];
    char *key_lists[MAX_KEYS]; /* copies of the --api-key values the keys point into */
    size_t n_key_lists;
    char *key_file_data;
    const char *ssl_key_file, *ssl_cert_file; /* --ssl-key-file, --ssl-cert-file */
    char *ssl_key, *ssl_cert;                 /* their PEM texts */
    bool embedding, reranking;
    bool lora_init_without_apply; /* the --lora adapters load at scale 0 */
    bool no_cache_idle_slots;     /* --no-cache-idle-slots: idle slots' caches stay in the KV cache (no parking) */
    int pooling;                  /* llamac_pooling */
    unsigned grace_s;
    /* router mode (no model given): llama-server's flags */
    const char *models_dir, *models_preset;
    unsigned models_max;
    bool no_models_autoload;
    int32_t sleep_idle_s; /* -1 (llama-server's "off") or 0: never */
    bool memory_check;    /* --memory-check (the router gives it to its children) */
    /* llama-server's defaults of request fields */
    const char *stops[MAX_STOPS]; /* -r, as given; escapes processed after parsing (stop_texts) unless --no-escape */
    char *stop_texts[MAX_STOPS];
    size_t n_stops;
    bool no_escape;
    const char *reasoning_effort;     /* --reasoning-effort; NULL: the template's default */
    struct cli_constraint constraint; /* --grammar, --grammar-file, -j, -jf */
    int reasoning_preserve;           /* --reasoning-preserve 1, --no-reasoning-preserve 0; -1: not given */
    char *kwargs;                     /* --chat-template-kwargs with those two merged in (json_dumps) */
    /* the server's log lines */
    bool log_prefix, log_timestamps;
    struct timespec started;
    struct cli_common *common;
};

/* Adds the keys of `list` (separated by commas or line breaks, blanks around them dropped). A list that holds no key
 * at all is refused: an empty --api-key or a key file of blank lines must not start a server without authentication
 * (issue 30). `flag` and `value` name the list in the message. */
static bool add_keys(struct cli_common *c, struct serve_opts *o, char *list, const char *flag, const char *value) {
    size_t before = o->so.n_api_keys;
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
    if (o->so.n_api_keys == before) {
        cli_error(c,
                  "%s '%s' holds no key (keys are separated by %s; blanks are dropped): an empty key would "
                  "leave the server open to anyone",
                  flag, value, strcmp(flag, "--api-key-file") == 0 ? "line breaks or commas" : "commas");
        return false;
    }
    return true;
}

static bool set_api_key(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    struct serve_opts *o = p->t.command;
    char *copy = o->n_key_lists < MAX_KEYS ? strdup(value) : NULL;
    if (!copy) {
        cli_error(p->t.common, "too many %s options (at most %d)", p->name, MAX_KEYS);
        return false;
    }
    o->key_lists[o->n_key_lists++] = copy;
    return add_keys(p->t.common, o, copy, p->name, value);
}

/* The server's log, as the common log flags say: warnings and errors on stderr (but with --log-disable), and in the
 * --log-file as well; the access lines (INFO) and those of the polled endpoints (DEBUG) where -v, -lv or
 * --log-file ask for their level. Runs on the server's threads; each line is one stdio call. */
static void serve_log(llamac_log_level level, const char *line, void *user_data) {
    const struct serve_opts *o = user_data;
    const struct cli_common *c = o->common;
    FILE *log = c->log ? c->log : stderr;
    /* --log-timestamps: minutes.seconds.milliseconds.microseconds since the start, as llama.cpp's log shows them;
     * --log-prefix: the level's letter */
    char head[48] = "";
    size_t at = 0;
    if (o->log_timestamps) {
        struct timespec now;
        clock_gettime(CLOCK_MONOTONIC, &now);
        long long us = (now.tv_sec - o->started.tv_sec) * 1000000LL + (now.tv_nsec - o->started.tv_nsec) / 1000;
        at += (size_t)snprintf(head, sizeof head, "%d.%02d.%03d.%03d ", (int)(us / 60000000), (int)(us / 1000000 % 60),
                               (int)(us / 1000 % 1000), (int)(us % 1000));
    }
    if (o->log_prefix && at < sizeof head) {
        char letter = level >= LLAMAC_LOG_ERROR  ? 'E'
                      : level >= LLAMAC_LOG_WARN ? 'W'
                      : level >= LLAMAC_LOG_INFO ? 'I'
                                                 : 'D';
        snprintf(head + at, sizeof head - at, "%c ", letter);
    }
    if (level >= LLAMAC_LOG_WARN) {
        const char *kind = level >= LLAMAC_LOG_ERROR ? "error" : "warning";
        if (!c->log_disable) {
            fprintf(stderr, "%sllamac serve: %s: %s\n", head, kind, line);
        }
        if (log != stderr && cli_log_enabled(c, level)) {
            fprintf(log, "%sllamac serve: %s: %s\n", head, kind, line);
            fflush(log);
        }
    } else if (cli_log_enabled(c, level)) {
        fprintf(log, "%sllamac serve: %s\n", head, line);
        fflush(log);
    }
}

static bool set_api_key_file(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    struct serve_opts *o = p->t.command;
    size_t len;
    free(o->key_file_data);
    return (o->key_file_data = cli_read_all(p->t.common, value, &len)) &&
           add_keys(p->t.common, o, o->key_file_data, p->name, value);
}

/* The PEM text of --ssl-key-file / --ssl-cert-file `flag`'s file `path` into *pem; false with the error printed. */
static bool read_pem(struct cli_common *c, const char *flag, const char *path, char **pem) {
    size_t len;
    *pem = cli_read_all(c, path, &len);
    if (*pem && (len == 0 || memchr(*pem, '\0', len) || !strstr(*pem, "-----BEGIN "))) {
        cli_error(c, "%s '%s' is not a PEM file (-----BEGIN ...)", flag, path);
        return false;
    }
    return *pem != NULL;
}

static bool set_port(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    long n;
    if (!cli_int(p->t.common, p->name, value, opt->min, opt->max, &n)) {
        return false;
    }
    *(uint16_t *)field = (uint16_t)n;
    return true;
}

static bool set_share(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    float f;
    if (!cli_float(p->t.common, p->name, value, &f)) {
        return false;
    }
    if (!(f >= 0.0f && f <= 1.0f)) {
        cli_error(p->t.common, "invalid value '%s' for %s (expected a number from 0 to 1)", value, p->name);
        return false;
    }
    *(float *)field = f;
    return true;
}

/* The signal watcher: the one thread that takes SIGINT and SIGTERM (every other has them blocked), from before the
 * model loads, so that a signal during a download or a load stops them (through cli_common.stop) rather than waiting
 * for them to end. */
struct sigwatch {
    sigset_t sigs;
    pthread_t thread;
    bool started;
    atomic_bool got;
    int sig;
};

static void *sigwatch_run(void *arg) {
    struct sigwatch *w = arg;
    int sig = 0;
    while (sigwait(&w->sigs, &sig) != 0) {
    }
    w->sig = sig;
    atomic_store(&w->got, true);
    return NULL;
}

/* Waits for the signal (or, on an error path, sends the watcher one to end it). */
static void sigwatch_join(struct sigwatch *w, bool wait) {
    if (!w->started) {
        return;
    }
    if (!wait && !atomic_load(&w->got)) {
        pthread_kill(w->thread, SIGTERM); /* blocked here too: it stays pending for the watcher's sigwait */
    }
    pthread_join(w->thread, NULL);
    w->started = false;
}

#define SO(f) offsetof(struct serve_opts, so.f)
#define EP(f) offsetof(struct serve_opts, ep.f)
#define OPT(f) offsetof(struct serve_opts, f)

static const struct cli_choice poolings[] = { { "none", LLAMAC_POOLING_NONE }, { "mean", LLAMAC_POOLING_MEAN },
                                              { "cls", LLAMAC_POOLING_CLS },   { "last", LLAMAC_POOLING_LAST },
                                              { "rank", LLAMAC_POOLING_RANK }, { NULL, 0 } };
static const struct cli_choice reasoning_formats[] = { { "deepseek", LLAMAC_REASONING_DEEPSEEK },
                                                       { "auto", LLAMAC_REASONING_DEEPSEEK },
                                                       { "none", LLAMAC_REASONING_NONE },
                                                       { NULL, 0 } };

/* llama-server's flags, in its names. A new one is a row here (and a field of server_options or the engine's
 * params, which the row's offset names); a value that is more than a number, a word or a string gets a setter. */
/* -fit on|off: llama-server fits -c and -ngl to the free device memory unless off; llamac never does. */
static bool set_fit(struct cli_parser *p, const struct cli_opt *o, void *field, const char *value) {
    (void)o;
    (void)field;
    if (strcmp(value, "off") == 0) {
        return true;
    }
    cli_error(p->t.common,
              "%s %s: llamac serve does not fit -c and -ngl to the free device memory (only %s off is accepted); give "
              "them, and --memory-check refuses to start when they do not fit",
              p->name, value, p->name);
    return false;
}

/* --tools LIST|all: the built-in agent tools (server_tools_parse). */
static bool set_tools(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    struct serve_opts *o = p->t.command;
    char err[512];
    if (!server_tools_parse(value, &o->so.tools, err, sizeof err)) {
        cli_error(p->t.common, "%s %s: %s", p->name, value, err);
        return false;
    }
    return true;
}

/* -ag/--agent: every built-in tool and /cors-proxy, as llama-server's; -no-ag/--no-agent: neither. */
static bool set_agent(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    (void)value;
    struct serve_opts *o = p->t.command;
    bool on = strcmp(p->name, "-ag") == 0 || strcmp(p->name, "--agent") == 0;
    o->so.tools = 0;
    o->so.ui_mcp_proxy = on;
    if (on) {
        char err[512];
        (void)server_tools_parse("all", &o->so.tools, err, sizeof err); /* a known list: never fails */
    }
    return true;
}

/* -r TEXT: a stop string of every request that gives none (llama-server's antiprompt); its escapes are processed
 * after parsing (process_escapes), unless --no-escape. */
static bool set_reverse_prompt(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)field;
    struct serve_opts *o = p->t.command;
    if (!value[0] || o->n_stops >= MAX_STOPS) {
        cli_error(p->t.common, "%s must be non-empty (and at most %d of them)", p->name, MAX_STOPS);
        return false;
    }
    o->stops[o->n_stops++] = value;
    return true;
}

/* llama.cpp's escapes, in place: \n \r \t \' \" \\ and \xHH; any other backslash stays as written. */
static void process_escapes(char *text) {
    char *out = text;
    for (const char *in = text; *in; in++) {
        char c = in[0] == '\\' ? in[1] : '\0';
        char hex[3] = { c == 'x' ? in[2] : '\0', c == 'x' && in[2] ? in[3] : '\0', '\0' };
        if (c == 'n' || c == 'r' || c == 't') {
            *out++ = c == 'n' ? '\n' : c == 'r' ? '\r' : '\t';
            in++;
        } else if (c == '\'' || c == '"' || c == '\\') {
            *out++ = c;
            in++;
        } else if (c == 'x' && isxdigit((unsigned char)hex[0]) && isxdigit((unsigned char)hex[1]) &&
                   strtol(hex, NULL, 16) != 0) {
            *out++ = (char)strtol(hex, NULL, 16);
            in += 3;
        } else {
            *out++ = *in;
        }
    }
    *out = '\0';
}

/* A flag of llama-server's whose only value llamac serve honours is the one that turns its feature off (llama-server's
 * default): that value is accepted, any other refused with the row's help as the reason. Off are: with the row's
 * choices, the words of value 0; else the numbers <= 0 (< 0 where the row's min is 1: 0 is a value that turns it on).
 */
static bool set_off_only(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)field;
    bool off;
    if (opt->choices) { /* words */
        const struct cli_choice *ch = opt->choices;
        while (ch->name && strcmp(ch->name, value) != 0) {
            ch++;
        }
        if (!ch->name) {
            cli_error(p->t.common, "invalid value '%s' for %s (expected %s)", value, p->name, opt->arg);
            return false;
        }
        off = ch->value == 0;
    } else {
        float f;
        if (!cli_float(p->t.common, p->name, value, &f)) {
            return false;
        }
        off = opt->min == 1 ? f < 0.0f : f <= 0.0f;
    }
    if (!off) {
        cli_error(p->t.common, "%s %s: %s", p->name, value, opt->help);
    }
    return off;
}

static const struct cli_choice log_colors[] = { { "off", 0 },  { "disabled", 0 }, { "false", 0 }, { "0", 0 },
                                                { "auto", 0 }, { "-1", 0 },       { "on", 1 },    { "enabled", 1 },
                                                { "true", 1 }, { "1", 1 },        { NULL, 0 } };

/* --api-prefix: a path without the trailing slash, as llama-server's. */
static bool set_api_prefix(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    size_t n = strlen(value);
    if (n > 0 && (value[0] != '/' || value[n - 1] == '/' || strpbrk(value, "?#% "))) {
        cli_error(p->t.common, "%s '%s': give a path that starts with '/' and does not end with one, e.g. /llm",
                  p->name, value);
        return false;
    }
    *(const char **)field = n > 0 ? value : NULL;
    return true;
}

/* --reasoning-effort LEVEL: "default" keeps the template's. */
static bool set_reasoning_effort(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    if (!value[0]) {
        cli_error(p->t.common, "%s needs a level (e.g. low, medium, high), or default", p->name);
        return false;
    }
    *(const char **)field = strcmp(value, "default") == 0 ? NULL : value;
    return true;
}

static bool set_preserve(struct cli_parser *p, const struct cli_opt *opt, void *field, const char *value) {
    (void)opt;
    (void)value;
    *(int *)field = strncmp(p->name, "--no-", 5) != 0;
    return true;
}

static const struct cli_opt server_rows[] = {
    { .names = { "--host" },
      .arg = "ADDR",
      .set = cli_set_str,
      .offset = SO(host),
      .help = "address to listen on, or a comma-separated list of them, all on one port (default: 127.0.0.1)" },
    { .names = { "--port" },
      .arg = "N",
      .set = set_port,
      .offset = SO(port),
      .min = 0,
      .max = 65535,
      .help = "port (default: 8080; 0: any free port, printed at start)" },
    { .names = { "-np", "--parallel" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = EP(n_slots),
      .min = 1,
      .max = 256,
      .field = "n_slots",
      .help = "slots: requests decoded together (default: 4); -c is shared by the slots" },
    { .names = { "-n", "--predict", "--n-predict" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SO(defaults.n_predict),
      .min = -1,
      .max = INT32_MAX,
      .help = "max_tokens when a request gives none (default: -1, until the slot is full)" },
    { .names = { "--api-key" },
      .arg = "KEY",
      .set = set_api_key,
      .help = "require this key (Authorization: Bearer KEY) on everything but /health; repeat it or give a "
              "comma-separated list for several keys" },
    { .names = { "--api-key-file" }, .arg = "FILE", .set = set_api_key_file, .help = "keys, one per line" },
    { .names = { "--ssl-key-file" },
      .arg = "FNAME",
      .set = cli_set_str,
      .offset = OPT(ssl_key_file),
      .help = "serve HTTPS with this PEM private key (with --ssl-cert-file)" },
    { .names = { "--ssl-cert-file" },
      .arg = "FNAME",
      .set = cli_set_str,
      .offset = OPT(ssl_cert_file),
      .help = "serve HTTPS with this PEM certificate (chain) (with --ssl-key-file)" },
    { .names = { "--embedding", "--embeddings" },
      .set = cli_set_true,
      .offset = OPT(embedding),
      .help = "serve /v1/embeddings (from a second context of the same model)" },
    { .names = { "--rerank", "--reranking" },
      .set = cli_set_true,
      .offset = OPT(reranking),
      .help = "serve /v1/rerank (a reranker model; rank pooling)" },
    { .names = { "--pooling" },
      .arg = "none|mean|cls|last|rank",
      .set = cli_set_choice,
      .offset = OPT(pooling),
      .choices = poolings,
      .help = "pooling of the embedding context (default: the model's)" },
    { .names = { "-a", "--alias" },
      .arg = "NAME",
      .set = cli_set_str,
      .offset = SO(alias),
      .help = "model id reported by /v1/models and in responses (default: the -hf repository as given, else the "
              "model file's name); a comma-separated list gives aliases, the first in byte order being the id" },
    { .names = { "--tags" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = SO(tags),
      .help = "the model's tags, comma-separated, listed by /v1/models (informational)" },
    { .names = { "--reasoning-format" },
      .arg = "FORMAT",
      .set = cli_set_choice,
      .offset = SO(reasoning),
      .choices = reasoning_formats,
      .help = "deepseek (default; auto is the same): <think>...</think> goes to message.reasoning_content; none: "
              "it stays in content" },
    { .names = { "--metrics" },
      .set = cli_set_true,
      .offset = SO(metrics),
      .help = "enable GET /metrics (Prometheus text)" },
    { .names = { "--slots" }, .set = cli_set_true, .offset = SO(slots), .help = "enable GET /slots" },
    { .names = { "--no-slots" },
      .set = cli_set_false,
      .offset = SO(slots),
      .help = "disable GET /slots (the default)" },
    { .names = { "--lora-init-without-apply" },
      .set = cli_set_true,
      .offset = OPT(lora_init_without_apply),
      .help = "load the --lora adapters at scale 0 (listed by GET /lora-adapters; set them with POST "
              "/lora-adapters or a request's lora field)" },
    { .names = { "--cors-origins" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = SO(cors_origins),
      .help = "origins whose web pages may call the server from a browser (CORS): comma-separated, \"localhost\" for "
              "pages on localhost, 127.0.0.1 or [::1] at any port, * for every origin (the default, as llama-server's: "
              "without --api-key any page a browser opens can then use the server); '' for none" },
    { .names = { "--cors-methods" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = SO(cors_methods),
      .help = "Access-Control-Allow-Methods of a CORS preflight (default: GET, POST, DELETE, OPTIONS)" },
    { .names = { "--cors-headers" },
      .arg = "LIST",
      .set = cli_set_str,
      .offset = SO(cors_headers),
      .help = "Access-Control-Allow-Headers of a CORS preflight (default: *)" },
    { .names = { "--cors-credentials" },
      .set = cli_set_false,
      .offset = SO(cors_no_credentials),
      .help =
          "a CORS preflight allows credentials, and --cors-origins * answers with the page's origin (the default)" },
    { .names = { "--no-cors-credentials" },
      .set = cli_set_true,
      .offset = SO(cors_no_credentials),
      .help = "a CORS preflight does not allow credentials, and --cors-origins * answers *" },
    { .names = { "-to", "--timeout" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = SO(timeout_s),
      .min = 1,
      .max = 86400,
      .help = "seconds an idle connection is kept (default: 600)" },
    { .names = { "--request-timeout" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = SO(request_timeout_s),
      .min = 0,
      .max = 86400,
      .help = "seconds a new connection has to send its whole request (line, headers, body; a body's bytes add time "
              "at 64 KiB/s), and a kept-alive one --timeout from its last response; what trickles in does not push "
              "the deadline back (default: 30; 0: none)" },
    { .names = { "--max-body" },
      .arg = "N",
      .set = cli_set_size,
      .offset = SO(max_body),
      .min = 1,
      .max = 1L << 30,
      .help = "largest request body in bytes (default: 4194304)" },
    { .names = { "--max-connections" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = SO(max_connections),
      .min = 1,
      .max = 65536,
      .help = "concurrent connections (default: 8192, within what ulimit -n allows)" },
    { .names = { "--max-connections-per-client" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = SO(max_connections_per_client),
      .min = 1,
      .max = 65536,
      .help = "concurrent connections from one client address (default: half of --max-connections), so that one "
              "client cannot take every connection" },
    { .names = { "--max-queue" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = EP(max_queued),
      .min = 0,
      .max = 1 << 20,
      .help = "requests waiting for a slot before 503 (default: 64)" },
    { .names = { "--prefill-chunk" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = EP(n_prefill_chunk),
      .min = 1,
      .max = 1 << 20,
      .help = "prompt tokens per engine step (default: 512)" },
    { .names = { "-sps", "--slot-prompt-similarity" },
      .arg = "F",
      .set = set_share,
      .offset = EP(slot_similarity),
      .help = "share of a prompt a slot's cache must match for the request to take that slot rather than the "
              "least recently used (default: 0.1)" },
    { .names = { "-cram", "--cache-ram" },
      .arg = "MIB",
      .set = cli_set_i64,
      .offset = EP(park_limit_mib),
      .min = -1,
      .max = INT32_MAX,
      .help = "host memory for idle slots' caches, parked out of the KV cache while other slots work (default: "
              "8192; -1: no limit, 0: never park)" },
    { .names = { "--grace" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = OPT(grace_s),
      .min = 0,
      .max = 3600,
      .help = "seconds to let requests finish on SIGINT/SIGTERM (default: 10)" },
    { .names = { "--no-ui", "--no-webui" }, .set = cli_set_true, .offset = SO(no_webui), .help = "no chat page at /" },
    { .names = { "--ui", "--webui" },
      .set = cli_set_false,
      .offset = SO(no_webui),
      .help = "the chat page at / (the default)" },
    { .names = { "--path" },
      .arg = "DIR",
      .set = cli_set_str,
      .offset = SO(static_dir),
      .help = "serve DIR's files at / instead of the chat page (no hidden files, nothing outside DIR)" },
    { .names = { "-kvu", "--kv-unified" },
      .set = cli_set_true,
      .offset = EP(kv_unified),
      .field = "kv_unified",
      .help = "each slot may fill the whole -c (up to the model's training context) instead of -c / -np; the slots "
              "share the cells, and requests fail with \"the context size has been exceeded\" when they run out" },
    { .names = { "-no-kvu", "--no-kv-unified" },
      .set = cli_set_false,
      .offset = EP(kv_unified),
      .help = "each slot holds at most -c / -np tokens (the default; the KV buffer is one either way)" },
    { .names = { "--context-shift" },
      .set = cli_set_true,
      .offset = EP(context_shift),
      .field = "context_shift",
      .help = "when a request fills its slot, drop half of its tokens after the first --keep and go on" },
    { .names = { "--no-context-shift" },
      .set = cli_set_false,
      .offset = EP(context_shift),
      .help = "a request that fills its slot ends there, truncated (the default)" },
    { .names = { "--keep" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SO(defaults.n_keep),
      .min = -1,
      .max = INT32_MAX,
      .help = "with --context-shift: prompt tokens kept when the context shifts, besides the BOS (default: 0; -1: "
              "the whole prompt); a request's n_keep overrides it" },
    { .names = { "--slot-save-path" },
      .arg = "DIR",
      .set = cli_set_str,
      .offset = SO(slot_save_path),
      .help = "enable POST /slots/N?action=save|restore|erase, with their files in DIR (an existing directory)" },
    { .names = { "--cache-idle-slots" },
      .set = cli_set_false,
      .offset = OPT(no_cache_idle_slots),
      .help = "move idle slots' caches out of the KV cache while others work, within --cache-ram (the default)" },
    { .names = { "--no-cache-idle-slots" },
      .set = cli_set_true,
      .offset = OPT(no_cache_idle_slots),
      .help = "leave idle slots' caches in the KV cache (as --cache-ram 0)" },
    { .names = { "-bs", "--backend-sampling" },
      .set = cli_set_ignored,
      .help = "accepted, no effect: llamac samples on the CPU, which gives the same tokens and probabilities" },
    { .names = { "--spec-draft-backend-sampling", "--no-spec-draft-backend-sampling" },
      .set = cli_set_ignored,
      .help = "accepted, no effect: llamac samples drafts on the CPU, which gives the same tokens" },
    { .names = { "--perf", "--no-perf" },
      .set = cli_set_ignored,
      .help = "accepted, no effect: they switch llama.cpp's internal performance counters, which llama-server's "
              "replies do not report either; llamac measures the timings of its replies and /metrics itself" },
    { .names = { "-e", "--escape" },
      .set = cli_set_false,
      .offset = OPT(no_escape),
      .help = "process the escapes \\n, \\r, \\t, \\', \\\", \\\\ and \\xHH in -r's stop strings (the default)" },
    { .names = { "--no-escape" },
      .set = cli_set_true,
      .offset = OPT(no_escape),
      .help = "take -r's stop strings as written" },
    { .names = { "-r", "--reverse-prompt" },
      .arg = "PROMPT",
      .set = set_reverse_prompt,
      .help = "a stop string of every request that gives none (repeatable, at most 16), as llama-server's" },
    { .names = { "--grammar" },
      .arg = "GRAMMAR",
      .set = cli_set_str,
      .offset = OPT(constraint.grammar),
      .help = "a GBNF grammar constraining every request that gives no grammar, json_schema, response_format or "
              "tools (checked at start)" },
    { .names = { "--grammar-file" },
      .arg = "FNAME",
      .set = cli_set_str,
      .offset = OPT(constraint.grammar_file),
      .help = "the same, read from FNAME" },
    { .names = { "-j", "--json-schema" },
      .arg = "SCHEMA",
      .set = cli_set_str,
      .offset = OPT(constraint.json_schema),
      .help = "the same as --grammar, for JSON valid under this JSON Schema (text starting with '{', or true; else the "
              "path of a file); at most one of these four" },
    { .names = { "-jf", "--json-schema-file" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = OPT(constraint.json_schema_file),
      .help = "the same, read from FILE" },
    { .names = { "--cache-prompt" },
      .set = cli_set_false,
      .offset = SO(defaults.no_cache_prompt),
      .help = "a request reuses the cached prefix of its slot unless it sets cache_prompt false (the default)" },
    { .names = { "--no-cache-prompt" },
      .set = cli_set_true,
      .offset = SO(defaults.no_cache_prompt),
      .help = "a request decodes its whole prompt again unless it sets cache_prompt true" },
    { .names = { "--cache-reuse" },
      .arg = "N",
      .set = set_off_only,
      .help = "accepted: 0, llama-server's default (llamac serve reuses the cached prefix of a slot's prompt; it does "
              "not shift chunks of the KV cache to reuse them, so a chunk size above 0 is refused)" },
    { .names = { "--props" },
      .set = cli_set_true,
      .offset = SO(props),
      .help = "POST /props answers {\"success\": true}, as llama-server's (no property changes); without it 501" },
    { .names = { "--api-prefix" },
      .arg = "PREFIX",
      .set = set_api_prefix,
      .offset = SO(api_prefix),
      .help = "serve every endpoint and the page under this path (e.g. /llm: /llm/v1/chat/completions); other paths "
              "answer 404" },
    { .names = { "--reuse-port" },
      .set = cli_set_true,
      .offset = SO(reuse_port),
      .help = "listen with SO_REUSEPORT, so that several servers may listen on one port (the kernel spreads the "
              "connections)" },
    { .names = { "--reasoning-effort" },
      .arg = "LEVEL",
      .set = set_reasoning_effort,
      .offset = OPT(reasoning_effort),
      .help = "the chat template's reasoning_effort variable (e.g. low, medium, high) for requests that do not set "
              "one; default: the template's" },
    { .names = { "--reasoning-preserve" },
      .set = set_preserve,
      .offset = OPT(reasoning_preserve),
      .help = "the chat template's preserve_reasoning variable true (templates that can keep every turn's reasoning "
              "in the history)" },
    { .names = { "--no-reasoning-preserve" },
      .set = set_preserve,
      .offset = OPT(reasoning_preserve),
      .help = "the chat template's preserve_reasoning variable false" },
    { .names = { "--prefill-assistant" },
      .set = cli_set_false,
      .offset = SO(no_prefill_assistant),
      .help = "a conversation ending with an assistant message continues that message (the default)" },
    { .names = { "--no-prefill-assistant" },
      .set = cli_set_true,
      .offset = SO(no_prefill_assistant),
      .help = "a conversation's last assistant message is a whole turn, answered by a new one" },
    { .names = { "-sp", "--special" },
      .set = cli_set_true,
      .offset = EP(special),
      .help = "special tokens' text (e.g. <|im_end|>) is part of the generated text (default: they produce none)" },
    { .names = { "--embd-normalize" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = SO(embd_normalize),
      .min = -1,
      .max = INT32_MAX,
      .help = "normalisation of /v1/embeddings' vectors when a request gives no embd_normalize: -1 none, 0 max "
              "absolute (int16 range), 1 taxicab, 2 euclidean (default), > 2 p-norm" },
    { .names = { "--log-prefix" },
      .set = cli_set_true,
      .offset = OPT(log_prefix),
      .help = "the server's log lines begin with their level's letter (E, W, I, D)" },
    { .names = { "--no-log-prefix" },
      .set = cli_set_false,
      .offset = OPT(log_prefix),
      .help = "no level letter (the default)" },
    { .names = { "--log-timestamps" },
      .set = cli_set_true,
      .offset = OPT(log_timestamps),
      .help = "the server's log lines begin with the time since the start (minutes.seconds.ms.us, as llama.cpp's)" },
    { .names = { "--no-log-timestamps" },
      .set = cli_set_false,
      .offset = OPT(log_timestamps),
      .help = "no time (the default)" },
    { .names = { "--log-colors" },
      .arg = "on|off|auto",
      .set = set_off_only,
      .choices = log_colors,
      .help = "accepted: off and auto (llamac serve's log lines are never colored, so on is refused)" },
    { .names = { "--sse-ping-interval" },
      .arg = "N",
      .set = set_off_only,
      .help = "accepted: -1 (or 0), no pings (llamac serve sends no SSE comment pings while a stream waits; a "
              "request's return_progress streams the prompt's progress instead), so N > 0 is refused" },
    { .names = { "--adaptive-target" },
      .arg = "N",
      .set = set_off_only,
      .min = 1,
      .help = "accepted: a negative value, adaptive-p off, llama-server's default (llamac has no adaptive-p sampler, "
              "so a target from 0 to 1 is refused)" },
    { .names = { "--adaptive-decay" },
      .arg = "N",
      .set = cli_set_ignored,
      .help = "accepted, no effect: it tunes adaptive-p (--adaptive-target), which llamac does not have" },
    { .names = { "-ctxcp", "--ctx-checkpoints", "--swa-checkpoints" },
      .arg = "N",
      .set = set_off_only,
      .help = "accepted: 0 (llamac serve makes no context checkpoints, llama-server's copies of a slot's cache "
              "taken so that a SWA or recurrent model's prompt can be reused from an earlier point; N > 0 is "
              "refused)" },
    { .names = { "-cms", "--checkpoint-min-step" },
      .arg = "N",
      .set = cli_set_ignored,
      .help = "accepted, no effect: the spacing of context checkpoints, which llamac serve does not make (see "
              "-ctxcp)" },
    { .names = { "--no-log-jsonl" },
      .set = cli_set_ignored,
      .help = "accepted: the log is text lines (always so; --log-jsonl is refused)" },
    { .names = { "--no-skip-chat-parsing" },
      .set = cli_set_ignored,
      .help = "accepted: replies are parsed for reasoning and tool calls (the default; --skip-chat-parsing is "
              "refused)" },
    { .names = { "--no-warmup" },
      .set = cli_set_ignored,
      .help = "accepted, no effect: llamac serve runs no warm-up decode (what --no-warmup asks of llama-server)" },
    { .names = { "--media-path" },
      .arg = "DIR",
      .set = cli_set_str,
      .offset = SO(media_path),
      .help = "a folder that image_url parts may name files of (file://NAME); without it file:// URLs are refused" },
    { .names = { "--models-dir" },
      .arg = "DIR",
      .set = cli_set_str,
      .offset = OPT(models_dir),
      .help = "router mode (no -m): serve the GGUF models of DIR (a file, or a folder with a model, its shards and a "
              "projector), besides the Hugging Face cache's; each is loaded in a child process when a request names "
              "it" },
    { .names = { "--models-preset" },
      .arg = "FILE",
      .set = cli_set_str,
      .offset = OPT(models_preset),
      .help = "router mode: llama-server's INI file of models and their flags ([NAME] with model = FILE or hf-repo "
              "= OWNER/REPO, and options by their names without dashes; [*] for every model)" },
    { .names = { "--models-max" },
      .arg = "N",
      .set = cli_set_unsigned,
      .offset = OPT(models_max),
      .min = 0,
      .max = 1024,
      .help = "router mode: models loaded at once; the least recently used idle one is unloaded to make room "
              "(default: 4; 0: no limit)" },
    { .names = { "--models-autoload" },
      .set = cli_set_false,
      .offset = OPT(no_models_autoload),
      .help = "router mode: a request naming an unloaded model loads it (the default)" },
    { .names = { "--no-models-autoload" },
      .set = cli_set_true,
      .offset = OPT(no_models_autoload),
      .help = "router mode: only POST /models/load loads a model; requests for another answer 400" },
    { .names = { "--sleep-idle-seconds" },
      .arg = "N",
      .set = cli_set_i32,
      .offset = OPT(sleep_idle_s),
      .min = -1,
      .max = 1 << 30,
      .help = "unload a model nobody used for N seconds (default: -1, never): in router mode that model, with -m the "
              "server's (it sleeps: its process ends, and the next request starts it again)" },
    { .names = { "--memory-check" },
      .set = cli_set_true,
      .offset = OPT(memory_check),
      .help = "before allocating the slots' KV cache, refuse to start (exit 75) when the model's weights and that "
              "cache (at -c and -np) exceed the memory available now (/proc/meminfo MemAvailable); router mode "
              "gives it to every model" },
    { .names = { "--remote-media" },
      .set = cli_set_true,
      .offset = SO(remote_media),
      .help = "fetch the http(s) URLs of image_url parts (at most 10 MiB each, 5 redirects, http and https only); "
              "without it they are refused with a 400, as with --no-remote-media (the default)" },
    { .names = { "--no-remote-media" },
      .set = cli_set_false,
      .offset = SO(remote_media),
      .help = "refuse http(s) media URLs (the default)" },
    { .names = { "--remote-media-timeout" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = SO(remote_media_timeout_s),
      .min = 1,
      .max = 3600,
      .help = "seconds for the whole fetch of one remote medium, connecting and redirects included (default: 10, "
              "llama-server's)" },
    { .names = { "--tools" },
      .arg = "all|NAME,...",
      .set = set_tools,
      .help = "the built-in agent tools of llama-server's web UI, served by GET and POST /tools (without this flag "
              "both answer 403): comma-separated names of read_file, file_glob_search, grep_search, "
              "exec_shell_command, write_file, edit_file, get_info, or all. They read and write files and run "
              "commands as the server's user: never on an untrusted network, and with --api-key. --cors-origins "
              "defaults to localhost with them" },
    { .names = { "-cb", "--cont-batching" },
      .set = cli_set_ignored,
      .help = "accepted (batching is always continuous)" },
    { .names = { "--ui-mcp-proxy", "--webui-mcp-proxy" },
      .set = cli_set_true,
      .offset = SO(ui_mcp_proxy),
      .help =
          "experimental, llama-server's: GET and POST /cors-proxy?url=URL forward to URL (http or https) and stream "
          "its answer back, for a web page's MCP client; only the headers sent as "
          "x-llama-server-proxy-header-NAME go on, as NAME (at most 64 MiB back, 5 redirects, --timeout for the "
          "answer and each pause in it). It fetches any URL the server can reach: do not enable it on an "
          "untrusted network. Without it /cors-proxy answers 403 (the default)" },
    { .names = { "--no-ui-mcp-proxy", "--no-webui-mcp-proxy" },
      .set = cli_set_false,
      .offset = SO(ui_mcp_proxy),
      .help = "/cors-proxy answers 403 (the default)" },
    { .names = { "-ag", "--agent" },
      .set = set_agent,
      .help = "llama-server's shorthand for --tools all and --ui-mcp-proxy: the built-in agent tools and /cors-proxy "
              "(--cors-origins defaults to localhost with them); never on an untrusted network" },
    { .names = { "-no-ag", "--no-agent" },
      .set = set_agent,
      .help = "no /cors-proxy and no built-in tools (the default; as llama-server's, it also undoes an earlier "
              "--tools and --ui-mcp-proxy)" },
    { .names = { "--spec-batch-max" },
      .arg = "N",
      .set = cli_set_u32,
      .offset = EP(spec_batch_max),
      .min = 0,
      .max = 65536,
      .field = "spec_batch_max",
      .help = "speculative decoding under load: a step drafts only while its generating slots' tokens, drafts "
              "included, stay within N (default: 16; 0: never draft)" },
    { .names = { "-fit", "--fit" },
      .arg = "off|on",
      .set = set_fit,
      .help = "accepted: off, what llamac always does (llama-server's default, on, adjusts -c and -ngl to the free "
              "device memory; llamac does not, so on is refused: give -c and -ngl, and --memory-check refuses to "
              "start when they do not fit)" },
    { .names = { "--threads-http" },
      .arg = "N",
      .set = cli_set_ignored,
      .help = "accepted (libmicrohttpd's two epoll threads serve every connection, and a request runs on its own "
              "thread)" },
};
static const struct cli_group server_group =
    CLI_GROUP("Server (llama-server's names)", CLI_TARGET_COMMAND, server_rows);

/* llama-server's flags for what llamac serve does not offer: each is refused with its reason (the help text). */
#define AFFINITY                                                                                                       \
    "llamac does not set the CPU affinity, priority or polling of llama.cpp's threads (ggml's defaults hold): run "    \
    "llamac serve under taskset or numactl for affinity, nice or chrt for priority"

static const struct cli_opt refused_rows[] = {
    { .names = { "--tools-runtime" },
      .arg = "OPTION",
      .set = cli_set_refused,
      .help = "llamac serve runs the built-in tools (--tools) on its own machine only: llama-server's docker, podman "
              "and ssh runtimes are not offered (run llamac serve itself in the container or on the host instead)" },
    { .names = { "--mcp-servers-config" },
      .arg = "PATH",
      .set = cli_set_refused,
      .help = "llamac serve starts no MCP servers: llama-server's run commands of a configuration file for its web "
              "UI's tools" },
    { .names = { "--mcp-servers-json" },
      .arg = "JSON",
      .set = cli_set_refused,
      .help = "llamac serve starts no MCP servers (see --mcp-servers-config)" },
    { .names = { "-dr", "--docker-repo" },
      .arg = "REPO",
      .set = cli_set_refused,
      .help = "llamac downloads models from the Hugging Face Hub only (-hf REPO[:QUANT])" },
    { .names = { "-cl", "--cache-list" },
      .set = cli_set_refused,
      .help = "llamac pull --list lists the models in the Hub cache" },
    { .names = { "--completion-bash" }, .set = cli_set_refused, .help = "llamac prints no shell completion script" },
    { .names = { "--embd-gemma-default", "--vision-gemma-4b-default", "--vision-gemma-12b-default" },
      .set = cli_set_refused,
      .help = "llamac has no model presets that download models: give the model with -hf REPO[:QUANT] (and its "
              "settings as flags)" },
    { .names = { "--fim-qwen-1.5b-default", "--fim-qwen-3b-default", "--fim-qwen-7b-default",
                 "--fim-qwen-30b-default" },
      .set = cli_set_refused,
      .help = "llamac has no model presets that download models (see --embd-gemma-default)" },
    { .names = { "--fim-qwen-7b-spec", "--fim-qwen-14b-spec", "--gpt-oss-20b-default", "--gpt-oss-120b-default" },
      .set = cli_set_refused,
      .help = "llamac has no model presets that download models (see --embd-gemma-default)" },
    { .names = { "-fitt", "--fit-target" },
      .arg = "MiB0,MiB1,MiB2,...",
      .set = cli_set_refused,
      .help = "llamac serve does not fit -c and -ngl to the free device memory (see -fit)" },
    { .names = { "-fitc", "--fit-ctx" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac serve does not fit -c and -ngl to the free device memory (see -fit)" },
    { .names = { "--warmup" },
      .set = cli_set_refused,
      .help = "llamac serve runs no warm-up decode: the first request pays llama.cpp's first-use costs (see "
              "--no-warmup)" },
    { .names = { "-nocb", "--no-cont-batching" },
      .set = cli_set_refused,
      .help = "llamac serve always batches continuously: its slots decode together in each step" },
    { .names = { "-C", "--cpu-mask" }, .arg = "M", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "-Cr", "--cpu-range" }, .arg = "lo-hi", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--cpu-strict" }, .arg = "<0|1>", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--prio" }, .arg = "N", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--poll" }, .arg = "<0...100>", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "-Cb", "--cpu-mask-batch" }, .arg = "M", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "-Crb", "--cpu-range-batch" }, .arg = "lo-hi", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--cpu-strict-batch" }, .arg = "<0|1>", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--prio-batch" }, .arg = "N", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--poll-batch" }, .arg = "<0|1>", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--spec-draft-cpu-mask", "-Cd", "--cpu-mask-draft" },
      .arg = "M",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-cpu-range", "-Crd", "--cpu-range-draft" },
      .arg = "lo-hi",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-cpu-strict", "--cpu-strict-draft" },
      .arg = "<0|1>",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-prio", "--prio-draft" }, .arg = "N", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--spec-draft-poll", "--poll-draft" }, .arg = "<0|1>", .set = cli_set_refused, .help = AFFINITY },
    { .names = { "--spec-draft-cpu-mask-batch", "-Cbd", "--cpu-mask-batch-draft" },
      .arg = "M",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-cpu-strict-batch", "--cpu-strict-batch-draft" },
      .arg = "<0|1>",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-prio-batch", "--prio-batch-draft" },
      .arg = "N",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-poll-batch", "--poll-batch-draft" },
      .arg = "<0|1>",
      .set = cli_set_refused,
      .help = AFFINITY },
    { .names = { "--spec-draft-threads-batch", "-tbd", "--threads-batch-draft" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "-td sets the draft model's threads for its prompts and its drafts alike" },
    { .names = { "--spec-draft-device", "-devd", "--device-draft" },
      .arg = "<dev1,dev2,..>",
      .set = cli_set_refused,
      .help = "the draft model uses the devices -dev names, with -ngld of its layers on them" },
    { .names = { "--spec-draft-override-tensor", "-otd", "--override-tensor-draft" },
      .arg = "<tensor name pattern>=<buffer type>,...",
      .set = cli_set_refused,
      .help = "the draft model's weights are placed by -ngld alone (-ot, -cmoe and -ncmoe place the target model's)" },
    { .names = { "--spec-draft-cpu-moe", "-cmoed", "--cpu-moe-draft" }, .set = cli_set_refused, .help = "see -otd" },
    { .names = { "--spec-draft-n-cpu-moe", "--spec-draft-ncmoe", "-ncmoed", "--n-cpu-moe-draft" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "see -otd" },
    { .names = { "--spec-ngram-mod-n-min" },
      .arg = "N",
      .set = cli_set_refused,
      .help =
          "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not ngram-mod" },
    { .names = { "--spec-ngram-mod-n-max" },
      .arg = "N",
      .set = cli_set_refused,
      .help =
          "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not ngram-mod" },
    { .names = { "--spec-ngram-mod-n-match" },
      .arg = "N",
      .set = cli_set_refused,
      .help =
          "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not ngram-mod" },
    { .names = { "--spec-ngram-map-k-size-n" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-map-k-size-m" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-map-k-min-hits" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-map-k4v-size-n" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-map-k4v-size-m" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-map-k4v-min-hits" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's speculative decoding has the types draft-simple and ngram-simple (--spec-type), not "
              "ngram-map-k or ngram-map-k4v" },
    { .names = { "--spec-ngram-simple-size-m" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's ngram-simple is set by --spec-ngram-size-n and --spec-draft-n-max / --spec-draft-n-min only" },
    { .names = { "--spec-ngram-simple-min-hits" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac's ngram-simple is set by --spec-ngram-size-n and --spec-draft-n-max / --spec-draft-n-min only" },
    { .names = { "--spec-ngram-size-m" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llama.cpp removed it too, for the size-m of each n-gram type (llama-server's "
              "--spec-ngram-simple-size-m, ...)" },
    { .names = { "--spec-ngram-min-hits" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llama.cpp removed it too, for the min-hits of each n-gram type (llama-server's "
              "--spec-ngram-simple-min-hits, ...)" },
    { .names = { "-lcs", "--lookup-cache-static" },
      .arg = "FNAME",
      .set = cli_set_refused,
      .help = "llamac has no lookup-cache speculation; --spec-type ngram-simple looks n-grams up in the prompt and "
              "output" },
    { .names = { "-lcd", "--lookup-cache-dynamic" }, .arg = "FNAME", .set = cli_set_refused, .help = "see -lcs" },
    { .names = { "--spec-synth-len" },
      .arg = "L",
      .set = cli_set_refused,
      .help = "llamac has no synthetic draft acceptance (llama.cpp's is for benchmarking only)" },
    { .names = { "--spec-synth-rates" }, .arg = "P0,P1,...", .set = cli_set_refused, .help = "see --spec-synth-len" },
    { .names = { "--spec-draft-p-split", "--draft-p-split" },
      .arg = "P",
      .set = cli_set_refused,
      .help = "llamac drafts one sequence per slot, no tree of drafts to split" },
    { .names = { "-mu", "--model-url" },
      .arg = "MODEL_URL",
      .set = cli_set_refused,
      .help = "llamac downloads models from the Hugging Face Hub only (-hf REPO[:QUANT]); download the file yourself "
              "and give it with -m" },
    { .names = { "--log-jsonl" },
      .set = cli_set_refused,
      .help = "llamac serve's log is text lines (one per request, with its status, tokens and time)" },
    { .names = { "--log-prompts-dir" },
      .arg = "PATH",
      .set = cli_set_refused,
      .help = "llamac serve writes no prompt files; -v puts each request's rendered prompt into its reply "
              "(__verbose), and POST /apply-template renders a conversation" },
    { .names = { "--kv-unified-per-slot" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac serve gives each slot -c / -np tokens, or with -kvu up to the whole -c; set -c (and -np) for "
              "the size" },
    { .names = { "--spm-infill" },
      .set = cli_set_refused,
      .help = "llamac serve has no /infill endpoint (fill-in-the-middle)" },
    { .names = { "-mmdev", "--mmproj-device" },
      .arg = "DEVICE",
      .set = cli_set_refused,
      .help = "the projector runs on the GPU when there is one, or on the CPU with --no-mmproj-offload (llama-server's "
              "-mmdev none); no other device is chosen" },
    { .names = { "--mtmd-batch-max-tokens" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac serve encodes each image as llama.cpp's mtmd library does by default; it has no setting for "
              "the image tokens per batch" },
    { .names = { "--video-fps" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac serve takes images and audio, not video" },
    { .names = { "--video-timestamp-interval" },
      .arg = "N",
      .set = cli_set_refused,
      .help = "llamac serve takes images and audio, not video" },
    { .names = { "--video-ffmpeg-dir" },
      .arg = "DIR",
      .set = cli_set_refused,
      .help = "llamac serve takes images and audio, not video (and runs no ffmpeg)" },
    { .names = { "--ui-config", "--webui-config" },
      .arg = "JSON",
      .set = cli_set_refused,
      .help = "llamac serve's chat page is its own, not llama-server's web UI, and takes no settings (--path serves "
              "a page of your own)" },
    { .names = { "--ui-config-file", "--webui-config-file" },
      .arg = "PATH",
      .set = cli_set_refused,
      .help = "see --ui-config" },
    { .names = { "--skip-chat-parsing" },
      .set = cli_set_refused,
      .help = "llamac serve always parses replies for tool calls when a request offers tools; --reasoning-format none "
              "leaves the reasoning in the content" },
    { .names = { "--spec-default" },
      .set = cli_set_refused,
      .help = "it turns on ngram-mod, which llamac does not have; --spec-type ngram-simple is llamac's speculation "
              "without a draft model" },
};
static const struct cli_group refused_group =
    CLI_GROUP("llama-server's, refused (llamac serve does not offer these)", CLI_TARGET_COMMAND, refused_rows);

static const struct cli_group *const serve_groups[] = {
    &server_group,       &refused_group,
    &cli_group_template, &cli_group_sampling,
    &cli_group_spec,     &cli_group_adapters,
    &cli_group_model,    &cli_group_mmproj,
    &cli_group_hub,      &cli_group_load,
    &cli_group_context,  &cli_group_rope,
    &cli_group_log,      NULL,
};

static int serve(int argc, char **argv);

const struct cli_command cli_cmd_serve = {
    .name = "serve",
    .summary = "an OpenAI-compatible HTTP server (chat, completions, embeddings) with continuous batching",
    .synopsis = "[MODEL.gguf | -m MODEL] [options]",
    .about = "An OpenAI-compatible server: /v1/chat/completions, /v1/completions, /v1/embeddings, /v1/rerank, "
             "/v1/models, /health, /tokenize, /detokenize, /apply-template, /metrics, /slots; a chat page at /. -c is "
             "the context "
             "shared by the slots, each getting -c / -np (default: slots x min(4096, the model's training "
             "context)); the sampling flags are the defaults of requests that do not set them.",
    .groups = serve_groups,
    .run = serve,
};

/* The chat template, as llama-server picks it: --chat-template-file's or --chat-template's, else the model's (ChatML
 * when it has none). *failed is set when a file given cannot be used (a usage error); a model template that does not
 * parse is a warning: chat requests then answer 400. */
/* The template the flags name, else the model's (llamac_template_for_model); and into *tools the model's tool_use
 * variant when it has one besides its default, for requests with tools (llama-server's chat layer switches to it). */
static llamac_template *load_template(struct cli_common *c, struct serve_opts *o, llamac_model *model, bool *failed,
                                      llamac_template **tools) {
    llamac_template *t = NULL;
    *tools = NULL;
    *failed = !cli_template_from_flags(c, &o->chat, &t);
    if (*failed || t) {
        return t;
    }
    cli_template_note(c, &o->chat, model);
    if (llamac_template_for_model(model, false, &t) != LLAMAC_OK) {
        fprintf(stderr, "llamac serve: warning: the model's chat template cannot be used: %s\n", llamac_last_error());
    }
    const char *dflt = NULL, *tool_use = NULL;
    if (t && llamac_model_chat_template(model, NULL, &dflt) == LLAMAC_OK && dflt[0] &&
        llamac_model_chat_template(model, "tool_use", &tool_use) == LLAMAC_OK && tool_use[0] &&
        llamac_template_for_model(model, true, tools) != LLAMAC_OK) {
        fprintf(stderr, "llamac serve: warning: the model's tool_use chat template cannot be used: %s\n",
                llamac_last_error());
    }
    return t;
}

/* The marker that stands for a medium in prompts, as llama-server makes it: LLAMA_MEDIA_MARKER when set (a marker
 * pinned for reproducible prompts), else random per process ("<__media_" 32 random letters "__>"), so that no user
 * text can pass for one. */
static void media_marker(char *buf, size_t cap) {
    const char *env = getenv("LLAMA_MEDIA_MARKER");
    if (env && env[0] && strlen(env) < cap && strlen(env) <= 64) {
        snprintf(buf, cap, "%s", env);
        return;
    }
    static const char letters[] = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789";
    unsigned char r[24] = { 0 };
    FILE *f = fopen("/dev/urandom", "rb");
    size_t got = f ? fread(r, 1, sizeof r, f) : 0;
    if (f) {
        fclose(f);
    }
    unsigned seed = (unsigned)time(NULL) ^ (unsigned)getpid();
    char rnd[sizeof r + 1];
    for (size_t i = 0; i < sizeof r; i++) {
        unsigned v = i < got ? r[i] : (unsigned)rand_r(&seed);
        rnd[i] = letters[v % (sizeof letters - 1)];
    }
    rnd[sizeof r] = '\0';
    snprintf(buf, cap, "<__media_%s__>", rnd);
}

/* --media-path must name a folder. */
static bool media_path_check(struct cli_common *c, const char *dir) {
    struct stat st;
    if (dir && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        cli_error(c, "--media-path %s: not a folder", dir);
        return false;
    }
    return true;
}

/* The flags of the router itself, which its children do not get: what listens, authenticates and limits HTTP, the
 * router's options, and the log file (the children's lines reach it through the router). */
static const char *const router_only[] = { "--host",
                                           "--port",
                                           "--api-key",
                                           "--api-key-file",
                                           "--models-dir",
                                           "--models-preset",
                                           "--models-max",
                                           "--models-autoload",
                                           "--no-models-autoload",
                                           "--sleep-idle-seconds",
                                           "--cors-origins",
                                           "--tools",
                                           "--tools-runtime",
                                           "--path",
                                           "--no-webui",
                                           "--webui",
                                           "--alias",
                                           "--tags",
                                           "--timeout",
                                           "--request-timeout",
                                           "--max-body",
                                           "--max-connections",
                                           "--max-connections-per-client",
                                           "--grace",
                                           "--log-file",
                                           "--threads-http",
                                           "--ssl-key-file",
                                           "--ssl-cert-file",
                                           "--model",
                                           "--hf-repo",
                                           "--hf-file",
                                           "--mmproj",
                                           "--api-prefix",
                                           NULL };

static bool is_router_only(const struct cli_opt *o) {
    for (size_t i = 0; i < CLI_MAX_NAMES && o->names[i]; i++) {
        for (size_t k = 0; router_only[k]; k++) {
            if (strcmp(o->names[i], router_only[k]) == 0) {
                return true;
            }
        }
    }
    return false;
}

/* A --models-preset key as the child's flag (router_options.flag): "--KEY", else "-KEY", when llamac serve has it
 * and it is not the router's. */
static bool preset_flag(const char *key, char *flag, size_t cap, bool *takes_value) {
    for (int dashes = 2; dashes >= 1; dashes--) {
        snprintf(flag, cap, "%s%s", dashes == 2 ? "--" : "-", key);
        const struct cli_opt *o = cli_find(&cli_cmd_serve, flag);
        if (o) {
            *takes_value = o->arg != NULL;
            return !is_router_only(o);
        }
    }
    return false;
}

/* The command line's flags that every child gets: all but the router's own (argv as cli_parse read it). */
static const char **child_args(int argc, char **argv, size_t *n) {
    const char **out = calloc((size_t)argc + 1, sizeof *out);
    *n = 0;
    for (int i = 1; out && i < argc; i++) {
        const char *a = argv[i];
        size_t len = a[0] == '-' && a[1] == '-' ? strcspn(a, "=") : strlen(a);
        char name[64];
        snprintf(name, sizeof name, "%.*s", (int)(len < sizeof name ? len : 0), a);
        const struct cli_opt *o = a[0] == '-' ? cli_find(&cli_cmd_serve, name) : NULL;
        bool value_follows = o && o->arg && a[len] != '=' && i + 1 < argc;
        if (o && is_router_only(o)) {
            i += value_follows;
            continue;
        }
        out[(*n)++] = a;
        if (value_follows) {
            out[(*n)++] = argv[++i];
        }
    }
    return out;
}

/* The "listening on" lines (a --host list gives one per address) and where a browser finds the page. */
static void print_listening(server *srv, const struct serve_opts *o) {
    char host[256];
    for (const char *h = o->so.host; *h;) {
        size_t n = strcspn(h, ",");
        snprintf(host, sizeof host, "%.*s", (int)n, h);
        char *start = host + strspn(host, " "), *end = start + strlen(start);
        while (end > start && end[-1] == ' ') {
            *--end = '\0';
        }
        bool v6 = strchr(start, ':') != NULL;
        const char *scheme = o->so.tls_key ? "https" : "http";
        fprintf(stderr, "llamac serve: listening on %s://%s%s%s:%u\n", scheme, v6 ? "[" : "", start, v6 ? "]" : "",
                (unsigned)server_port(srv));
        if (server_has_page(srv) && h == o->so.host) {
            /* a browser cannot open the "any address" forms: the loopback address of the same family can */
            const char *page_host = strcmp(start, "0.0.0.0") == 0 ? "127.0.0.1"
                                    : strcmp(start, "::") == 0    ? "::1"
                                                                  : start;
            fprintf(stderr, "llamac serve: open %s://%s%s%s:%u/ in a browser to %s\n", scheme, v6 ? "[" : "", page_host,
                    v6 ? "]" : "", (unsigned)server_port(srv), o->so.static_dir ? "see --path's files" : "chat");
        }
        h += n + (h[n] == ',');
    }
}

/* --reasoning-effort and --reasoning-preserve, as llama-server sets them: the template variables reasoning_effort and
 * preserve_reasoning, over those of --chat-template-kwargs (already checked to be an object) in o->kwargs. */
static bool merge_kwargs(struct cli_common *c, struct serve_opts *o) {
    if (!o->reasoning_effort && o->reasoning_preserve < 0) {
        return true;
    }
    json_t *kw = o->chat.kwargs ? json_loads(o->chat.kwargs, 0, NULL) : json_object();
    bool ok = kw && (!o->reasoning_effort ||
                     json_object_set_new(kw, "reasoning_effort", json_string(o->reasoning_effort)) == 0);
    ok = ok && (o->reasoning_preserve < 0 ||
                json_object_set_new(kw, "preserve_reasoning", json_boolean(o->reasoning_preserve)) == 0);
    o->kwargs = ok ? json_dumps(kw, JSON_COMPACT) : NULL;
    json_decref(kw);
    if (!o->kwargs) {
        cli_error(c, "out of memory");
        return false;
    }
    return true;
}

/* The grammar of --grammar, --grammar-file, -j or -jf, checked against the model at start, so that a bad one is the
 * command line's error rather than every request's. */
static bool grammar_check(struct cli_common *c, const struct serve_opts *o, llamac_model *model) {
    if (!o->so.defaults.grammar) {
        return true;
    }
    llamac_sampling_params sp = o->so.defaults.sampling;
    sp.grammar = o->so.defaults.grammar;
    llamac_sampler *smp = NULL;
    llamac_status st = llamac_sampler_from_params(model, &sp, &smp);
    llamac_sampler_free(smp);
    if (st == LLAMAC_OK) {
        return true;
    }
    const struct cli_constraint *k = &o->constraint;
    cli_error(c, "%s: %s",
              k->grammar            ? "--grammar"
              : k->grammar_file     ? "--grammar-file"
              : k->json_schema_file ? "--json-schema-file"
                                    : "--json-schema",
              llamac_last_error());
    return false;
}

/* --memory-check: whether the model's weights and the engine's KV cache fit the memory available now (MemAvailable of
 * /proc/meminfo; where it cannot be read, or the cache is one llamac_engine_kv_memory does not compute, the check
 * passes on what it knows). Says why not, with every figure. */
static bool memory_fits(struct cli_common *c, llamac_model *model, const llamac_engine_params *ep) {
    llamac_model_info mi;
    llamac_model_get_info(model, &mi);
    llamac_kv_memory kv;
    uint64_t kv_bytes = llamac_engine_kv_memory(model, ep, &kv) == LLAMAC_OK ? kv.total_bytes : 0;
    unsigned long long avail_kib = 0;
    FILE *f = fopen("/proc/meminfo", "r");
    char line[256];
    while (f && fgets(line, sizeof line, f)) {
        if (sscanf(line, "MemAvailable: %llu kB", &avail_kib) == 1) {
            break;
        }
    }
    if (f) {
        fclose(f);
    }
    uint64_t need = mi.size_bytes + kv_bytes, avail = (uint64_t)avail_kib * 1024;
    if (avail == 0 || need <= avail) {
        return true;
    }
    const double mib = 1024.0 * 1024.0;
    cli_error(c,
              "not enough memory for this model now: it needs %.0f MiB (weights %.0f MiB, KV cache %.0f MiB for a "
              "%u-token context over %u slots), and %.0f MiB are available (MemAvailable)",
              (double)need / mib, (double)mi.size_bytes / mib, (double)kv_bytes / mib, kv.n_ctx, ep->n_slots,
              (double)avail / mib);
    return false;
}

/* The default of --cors-origins, llama-server's: kept as this object so that an explicit --cors-origins '*' can be
 * told from it (--tools changes only the default). */
static const char cors_default[] = "*";

static int serve(int argc, char **argv) {
    struct cli_common c;
    cli_common_init(&c, "serve");
    struct serve_opts o;
    memset(&o, 0, sizeof o);
    o.ep = llamac_engine_params_default();
    o.so.host = "127.0.0.1";
    o.so.port = 8080;
    o.so.cors_origins = cors_default; /* llama-server's (the README's "Security" says what it allows) */
    o.so.max_body = 4u << 20;
    o.so.timeout_s = 600;
    o.so.request_timeout_s = 30;
    o.so.max_connections = 8192;
    o.so.max_header = 64 * 1024;
    o.so.defaults.n_predict = -1;
    o.so.reasoning = LLAMAC_REASONING_DEEPSEEK;
    o.so.defaults.sampling = llamac_sampling_params_default();
    o.so.log = serve_log;
    o.so.log_user_data = &o;
    o.common = &c;
    clock_gettime(CLOCK_MONOTONIC, &o.started);
    o.so.embd_normalize = LLAMAC_EMBD_NORM_L2;
    o.reasoning_preserve = -1;
    o.pooling = LLAMAC_POOLING_DEFAULT;
    o.grace_s = 10;
    o.models_max = 4;
    o.sleep_idle_s = -1;
    const char **kids = NULL; /* router mode: the children's flags */
    llamac_model *model = NULL;
    llamac_template *tmpl = NULL, *tmpl_tools = NULL;
    llamac_engine *engine = NULL;
    llamac_context *embd = NULL;
    llamac_mmproj *mmproj = NULL;
    server *srv = NULL;
    struct sigwatch watch = { 0 }; /* started below, joined at done */
    struct cli_sampling sampling = { .params = &o.so.defaults.sampling };
    struct cli_spec spec;
    cli_spec_init(&spec);
    struct cli_targets t = { .common = &c, .sampling = &sampling, .chat = &o.chat, .command = &o, .spec = &spec };
    struct cli_parser p;
    int rc = cli_parse(&p, &cli_cmd_serve, &t, argc, argv);
    if (rc >= 0) {
        goto done;
    }
    cli_positional_model(&c, &p, true);
    if (o.so.tools && o.so.cors_origins == cors_default) {
        /* llama-server's: with tools that touch this machine, only pages on it may call the server, unless
         * --cors-origins says otherwise (any value of it, even '*', is the user's: compared by pointer) */
        o.so.cors_origins = "localhost";
    }
    rc = EXIT_USAGE;
    if (p.n_pos > 0) {
        cli_error(&c, "unexpected argument '%s' (see llamac serve --help)", p.pos[0]);
        goto done;
    }
    if (o.embedding && o.reranking) {
        cli_error(&c, "--embedding and --reranking exclude each other");
        goto done;
    }
    if (c.adapters.n_lora > 0 && o.reranking) {
        cli_error(&c, "--lora applies to generation; --reranking serves none");
        goto done;
    }
    if (c.adapters.n_cvec > 0 && o.reranking) {
        cli_error(&c, "--control-vector applies to generation; --reranking serves none");
        goto done;
    }
    if ((o.chat.kwargs && !cli_json_object(&c, "--chat-template-kwargs", o.chat.kwargs)) ||
        !cli_template_check(&c, &o.chat) || !cli_media_check(&c, true) || !media_path_check(&c, o.so.media_path)) {
        goto done;
    }
    if (o.so.slot_save_path) {
        struct stat dir;
        bool found = stat(o.so.slot_save_path, &dir) == 0;
        if (!found || !S_ISDIR(dir.st_mode)) {
            cli_error(&c, "--slot-save-path '%s': %s", o.so.slot_save_path,
                      !found ? strerror(errno) : "not a directory");
            goto done;
        }
    }
    for (size_t i = 0; i < o.n_stops; i++) {
        if (!(o.stop_texts[i] = strdup(o.stops[i]))) {
            cli_error(&c, "out of memory");
            goto done;
        }
        if (!o.no_escape) {
            process_escapes(o.stop_texts[i]);
        }
        if (!o.stop_texts[i][0]) {
            cli_error(&c, "-r '%s' is empty once its escapes are processed", o.stops[i]);
            goto done;
        }
    }
    o.so.defaults.stop = (const char *const *)o.stop_texts;
    o.so.defaults.n_stop = o.n_stops;
    if (!cli_constraint_grammar(&c, &o.constraint, &o.so.defaults.grammar) || !merge_kwargs(&c, &o)) {
        goto done;
    }
    if (!o.ssl_key_file != !o.ssl_cert_file) {
        cli_error(&c, "%s needs %s as well (HTTPS takes a private key and its certificate)",
                  o.ssl_key_file ? "--ssl-key-file" : "--ssl-cert-file",
                  o.ssl_key_file ? "--ssl-cert-file" : "--ssl-key-file");
        goto done;
    }
    if (o.ssl_key_file && (!read_pem(&c, "--ssl-key-file", o.ssl_key_file, &o.ssl_key) ||
                           !read_pem(&c, "--ssl-cert-file", o.ssl_cert_file, &o.ssl_cert))) {
        goto done;
    }
    o.so.tls_key = o.ssl_key;
    o.so.tls_cert = o.ssl_cert;
    if (!cli_spec_check(&c, &spec)) {
        goto done;
    }
    o.so.defaults.spec = spec.params; /* the draft model, if any, is the engine's (loaded below) */
    o.so.defaults.spec_draft = cli_spec_wants_model(&spec);
    if (o.no_cache_idle_slots) {
        o.ep.park_limit_mib = 0;
    }
    /* no model given: router mode, as llama-server without -m */
    bool router = !cli_model_path(&c) && !c.hf_repo;
    if (!router && (o.models_dir || o.models_preset)) {
        cli_error(&c, "%s is for router mode (llamac serve without -m or -hf, serving many models)",
                  o.models_dir ? "--models-dir" : "--models-preset");
        goto done;
    }
    /* -m with --sleep-idle-seconds: the model runs in a child process of the server, which sleeps by ending it */
    bool sleeper = !router && o.sleep_idle_s > 0;
    unsigned sleep_s = o.sleep_idle_s > 0 ? (unsigned)o.sleep_idle_s : 0;
    if (!cli_setup_logging(&c)) {
        goto done;
    }
    rc = EXIT_FAILURE_RUN;
    o.so.api_keys = o.keys;
    o.so.model_path = cli_model_path(&c);
    if (!o.so.alias && c.hf_repo) {
        o.so.alias = c.hf_repo; /* llama-server's model name with -hf: the repository as given */
    }
    o.so.chat_template_kwargs = o.kwargs ? o.kwargs : o.chat.kwargs;
    o.so.verbose = c.verbose; /* as llama-server's --verbose: __verbose in the OpenAI responses */
    o.so.thinking = (llamac_thinking)o.chat.thinking;
    o.so.hub_offline = c.offline; /* Ollama's /api/pull and /api/delete */
    o.so.hub_token = c.hf_token;

    /* Every thread started from here on inherits the blocked signals; only the watcher's sigwait takes them. */
    sigemptyset(&watch.sigs);
    sigaddset(&watch.sigs, SIGINT);
    sigaddset(&watch.sigs, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &watch.sigs, NULL);
    signal(SIGPIPE, SIG_IGN);
    atomic_init(&watch.got, false);
    watch.started = pthread_create(&watch.thread, NULL, sigwatch_run, &watch) == 0;
    if (!watch.started) {
        cli_error(&c, "cannot start the signal thread");
        goto done;
    }
    c.stop = &watch.got;

    char err[512];
    if (router || sleeper) {
        char exe[PATH_MAX];
        ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
        size_t n_kids = 0;
        kids = child_args(argc, argv, &n_kids);
        if (n <= 0 || !kids) {
            cli_error(&c, "router mode: cannot find the llamac binary to run the models with (/proc/self/exe)");
            goto done;
        }
        exe[n] = '\0';
        struct router_options ro = { .models_dir = o.models_dir,
                                     .models_preset = o.models_preset,
                                     .cache = true,
                                     .models_max = o.models_max,
                                     .autoload = !o.no_models_autoload,
                                     .sleep_idle_s = sleep_s,
                                     .exe = exe,
                                     .args = kids,
                                     .n_args = n_kids,
                                     .flag = preset_flag };
        if (sleeper) {
            ro.single_model = cli_model_path(&c);
            ro.single_hf = ro.single_model ? NULL : c.hf_repo;
            ro.single_alias = o.so.alias;
        }
        if (!(srv = router_start(&o.so, &ro, err, sizeof err))) {
            cli_error(&c, "%s", err);
            goto done;
        }
        if (sleeper) {
            fprintf(stderr,
                    "llamac serve: the model runs in a child process, which ends after %u idle seconds "
                    "(sleeping) and starts again for the next request\n",
                    sleep_s);
        } else {
            fprintf(stderr,
                    "llamac serve: router mode: the models of %s%sthe Hugging Face cache are loaded when a request "
                    "names them (GET /v1/models lists them)\n",
                    o.models_dir ? o.models_dir : "", o.models_dir ? " and " : "");
        }
        print_listening(srv, &o);
        goto serving;
    }
    if (!(srv = server_start(&o.so, err, sizeof err))) {
        cli_error(&c, "%s", err);
        goto done;
    }
    /* the port is open already: /health answers 503 while the model downloads (-hf) and loads */
    fprintf(stderr, "llamac serve: loading the model; port %u answers /health with 503 until it is ready\n",
            (unsigned)server_port(srv));
    bool quiet = c.quiet;
    c.quiet = true; /* no progress bar: the server's stderr is a log */
    model = cli_load_model(&c, false);
    c.quiet = quiet;
    if (!model && atomic_load(&watch.got)) {
        fprintf(stderr, "llamac serve: %s while the model was %s: stopped\n",
                watch.sig == SIGINT ? "SIGINT" : "SIGTERM", c.model_path ? "loading" : "downloading");
        rc = EXIT_OK;
        goto done;
    }
    if (!model) {
        goto done;
    }
    if (!cli_sampling_check(&c, model, &o.so.defaults.sampling) || !grammar_check(&c, &o, model)) {
        rc = EXIT_USAGE;
        goto done;
    }
    bool tmpl_failed = false;
    tmpl = load_template(&c, &o, model, &tmpl_failed, &tmpl_tools);
    if (tmpl_failed) {
        goto done;
    }
    llamac_ctx_params threads = c.ctx;
    threads.n_ctx = 0; /* the slots' context is checked below */
    cli_prepare_context(&c, model, &threads);
    llamac_model_info mi;
    llamac_model_get_info(model, &mi);
    if (o.ep.kv_unified && c.ctx.n_ctx > 0 && mi.n_ctx_train > 0 && c.ctx.n_ctx > (uint32_t)mi.n_ctx_train) {
        cli_warn(&c, "--kv-unified: a slot holds at most the model's training context (%d tokens) of -c %u",
                 mi.n_ctx_train, c.ctx.n_ctx);
    } else if (c.ctx.n_ctx > 0 && mi.n_ctx_train > 0 && c.ctx.n_ctx / o.ep.n_slots > (uint32_t)mi.n_ctx_train) {
        cli_warn(&c,
                 "a slot's context (-c %u / -np %u = %u) is larger than the model's training context (%d "
                 "tokens): text past it may lose coherence",
                 c.ctx.n_ctx, o.ep.n_slots, c.ctx.n_ctx / o.ep.n_slots, mi.n_ctx_train);
        o.ep.allow_ctx_overflow = true;
    }
    if (!cli_adapters_load(&c, &c.adapters, model)) {
        goto done;
    }
    char marker[64];
    media_marker(marker, sizeof marker);
    c.media.params.marker = marker;
    c.quiet = true;
    bool loaded = cli_load_mmproj(&c, model, &mmproj);
    c.quiet = quiet;
    if (!loaded) {
        goto done;
    }
    llamac_adapter_scale set[CLI_MAX_ADAPTERS];
    for (size_t k = 0; k < c.adapters.n_lora; k++) {
        set[k].adapter = c.adapters.loaded[k];
        set[k].scale = o.lora_init_without_apply ? 0.0f : c.adapters.lora[k].scale;
    }
    o.ep.adapters = set;
    o.ep.n_adapters = c.adapters.n_lora;
    llamac_cvec_scale cset[CLI_MAX_ADAPTERS];
    for (size_t k = 0; k < c.adapters.n_cvec; k++) {
        cset[k].cvec = c.adapters.cvecs[k];
        cset[k].scale = c.adapters.cvec[k].scale;
    }
    o.ep.cvecs = cset;
    o.ep.n_cvecs = c.adapters.n_cvec;
    o.ep.cvec_layer_start = c.adapters.layer_start;
    o.ep.cvec_layer_end = c.adapters.layer_end;
    o.ep.n_ctx = c.ctx.n_ctx;
    o.ep.n_batch = c.ctx.n_batch;
    o.ep.n_ubatch = c.ctx.n_ubatch;
    o.ep.n_threads = threads.n_threads;
    o.ep.n_threads_batch = c.ctx.n_threads_batch;
    o.ep.type_k = c.ctx.type_k;
    o.ep.type_v = c.ctx.type_v;
    o.ep.flash_attn = c.ctx.flash_attn;
    o.ep.rope = c.ctx.rope;
    o.ep.offload_kqv = c.ctx.offload_kqv;
    o.ep.op_offload = c.ctx.op_offload;
    if (o.so.defaults.spec_draft) {
        if (!cli_spec_load_model(&c, &spec, model)) {
            goto done;
        }
        o.ep.draft_model = spec.model; /* the engine's draft context holds it */
        o.ep.draft_n_ctx = spec.n_ctx;
        o.ep.draft_n_threads = spec.n_threads;
        o.ep.draft_type_k = spec.type_k;
        o.ep.draft_type_v = spec.type_v;
    }
    o.ep.on_step = server_engine_step; /* stream readers are woken once per step */
    o.ep.step_user_data = srv;
    if (!o.reranking && o.memory_check && !memory_fits(&c, model, &o.ep)) {
        rc = EXIT_NO_MEMORY;
        goto done;
    }
    if (!o.reranking && llamac_engine_new(model, &o.ep, &engine) != LLAMAC_OK) {
        cli_lib_error(&c, NULL);
        goto done;
    }
    if (o.embedding || o.reranking) {
        llamac_ctx_params cp = c.ctx;
        cp.n_ctx = 0;
        cp.embeddings = true;
        cp.kv_unified = true;
        cp.pooling = o.reranking ? LLAMAC_POOLING_RANK : cli_embedding_pooling(&c, model, (llamac_pooling)o.pooling);
        cp.n_ubatch = cp.n_batch;
        cp.n_seq_max = cp.n_batch < 64 ? cp.n_batch : 64; /* flash attention as -fa (auto), as llama-server */
        if (llamac_ctx_new(model, &cp, &embd) != LLAMAC_OK) {
            cli_lib_error(&c, "embedding context");
            goto done;
        }
    }
    struct server_backend backend = { model, engine,      tmpl,   tmpl ? llamac_template_source(tmpl, NULL) : NULL,
                                      embd,  o.reranking, mmproj, tmpl_tools };
    server_set_backend(srv, &backend); /* the server owns them now */
    mmproj = NULL;
    model = NULL;
    engine = NULL;
    tmpl = NULL;
    tmpl_tools = NULL;
    embd = NULL;
    print_listening(srv, &o);

serving:
    sigwatch_join(&watch, true);
    fprintf(stderr, "llamac serve: %s: no new connections; letting requests in flight finish (up to %u s)\n",
            watch.sig == SIGINT ? "SIGINT" : "SIGTERM", o.grace_s);
    size_t left = server_shutdown(srv, o.grace_s * 1000u);
    srv = NULL;
    if (left > 0) {
        fprintf(stderr, "llamac serve: %zu request(s) were still running after the grace period; ended them\n", left);
    }
    rc = EXIT_OK;
done:
    sigwatch_join(&watch, false);
    server_shutdown(srv, 0); /* the backend it owns included */
    llamac_engine_free(engine);
    llamac_ctx_free(embd);
    llamac_mmproj_free(mmproj);
    llamac_template_free(tmpl);
    llamac_template_free(tmpl_tools);
    cli_adapters_free(&c.adapters);
    llamac_model_free(model);
    cli_spec_close(&spec); /* the draft model: the engine's context holds its own reference */
    for (size_t i = 0; i < o.n_key_lists; i++) {
        free(o.key_lists[i]);
    }
    free(o.key_file_data);
    for (size_t i = 0; i < o.n_stops; i++) {
        free(o.stop_texts[i]);
    }
    free(o.kwargs);
    cli_constraint_free(&o.constraint);
    free(o.ssl_key);
    free(o.ssl_cert);
    free(kids);
    cli_common_close(&c);
    return rc;
}
