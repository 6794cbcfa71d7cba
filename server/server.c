/*
 * server.c - the server's life (server.h): start, the backend handed over, and the one shutdown that orders the
 * teardown; the server's log.
 *
 * The order of the teardown is what makes it safe, so it is written once, here: connections stop being accepted
 * and requests in flight get a grace period on the running engine; the jobs still waiting are ended and every
 * connection is closed, while the engine still runs (a request's thread may be waiting on it); then the engine
 * is freed, whose last callbacks reach jobs that are reference-counted and leave the server's list as they finish;
 * only then what the engine used (the model) and the server itself.
 */
#include "internal.h"
#include "router.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void server_log(const struct server *s, llamac_log_level level, const char *fmt, ...) {
    if (!s->opt.log) {
        return;
    }
    char line[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    s->opt.log(level, line, s->opt.log_user_data);
}

void make_id(struct server *s, const char *prefix, char *buf, size_t cap) {
    unsigned long long n = atomic_fetch_add(&s->next_id, 1);
    snprintf(buf, cap, "%s%llx%06llx", prefix, (unsigned long long)s->started, n);
}

struct server *server_create(const struct server_options *opt) {
    struct server *s = calloc(1, sizeof *s);
    if (!s) {
        return NULL;
    }
    s->opt = *opt;
    if (!s->opt.host) {
        s->opt.host = "127.0.0.1";
    }
    s->started = (int64_t)time(NULL);
    pthread_mutex_init(&s->embd_lock, NULL);
    pthread_mutex_init(&s->jobs_lock, NULL);
    wake_start(s);
    return s;
}

server *server_start(const struct server_options *opt, char *err, size_t cap) {
    struct server *s = server_create(opt);
    if (!s) {
        snprintf(err, cap, "out of memory");
        return NULL;
    }
    if (!static_init(s, err, cap) || !http_start(s, err, cap)) {
        server_shutdown(s, 0);
        return NULL;
    }
    return s;
}

uint16_t server_port(const server *s) {
    return s->port;
}

/* What a slot's context can take, in bytes of prompt text and in messages: a token covers at most the longest piece
 * of the vocabulary (twice that, and 4 KiB more, leave room for a tokenizer's normalisation), and a message takes at
 * least one token. */
static void request_budget(struct server *s) {
    llamac_engine_stats st = { 0 };
    if (!s->engine || llamac_engine_get_stats(s->engine, &st) != LLAMAC_OK || st.n_ctx_slot == 0) {
        return;
    }
    size_t longest = 1;
    int32_t n_vocab = llamac_vocab_n_tokens(s->model);
    for (int32_t t = 0; t < n_vocab; t++) {
        char piece[8];
        size_t needed = 0;
        llamac_token_to_piece(s->model, t, true, piece, sizeof piece, &needed); /* needed: the whole piece's size */
        longest = needed > longest ? needed : longest;
    }
    s->prompt_bytes_max = (size_t)st.n_ctx_slot * longest * 2 + 4096;
    s->messages_max = st.n_ctx_slot;
}

json_t *list_json(const char *list) {
    json_t *arr = json_array();
    for (const char *p = list; p && *p;) {
        size_t n = strcspn(p, ",");
        const char *a = p, *z = p + n;
        while (a < z && *a == ' ') {
            a++;
        }
        while (z > a && z[-1] == ' ') {
            z--;
        }
        if (z > a) {
            json_array_append_new(arr, json_stringn(a, (size_t)(z - a)));
        }
        p += n + (p[n] == ',');
    }
    return arr;
}

void server_set_backend(server *s, const struct server_backend *b) {
    s->backend = *b;
    s->backend.template_source = NULL; /* read here only */
    s->model = b->model;
    s->engine = b->engine;
    s->tmpl = b->tmpl;
    s->tool_format = llamac_tool_format_detect(b->template_source);
    s->tmpl_tools = b->tmpl_tools;
    s->tool_format_tools =
        b->tmpl_tools ? llamac_tool_format_detect(llamac_template_source(b->tmpl_tools, NULL)) : s->tool_format;
    s->embd_ctx = b->embd_ctx;
    s->reranking = b->reranking;
    request_budget(s);
    s->mmproj = b->mmproj;
    llamac_mmproj_info pi;
    if (b->mmproj && llamac_mmproj_get_info(b->mmproj, &pi) == LLAMAC_OK) {
        snprintf(s->marker, sizeof s->marker, "%s", pi.marker);
    }
    /* an alias list names the model by its first alias in byte order, as llama-server's (a sorted set) */
    json_t *aliases = list_json(s->opt.alias);
    const char *first = NULL;
    size_t i;
    json_t *v;
    json_array_foreach(aliases, i, v) {
        if (!first || strcmp(json_string_value(v), first) < 0) {
            first = json_string_value(v);
        }
    }
    const char *path = first ? first : s->opt.model_path ? s->opt.model_path : "model";
    const char *slash = first ? NULL : strrchr(path, '/');
    s->model_id = strdup(slash ? slash + 1 : path);
    json_decref(aliases);
    atomic_store(&s->ready, s->model_id != NULL);
}

size_t server_shutdown(server *s, unsigned grace_ms) {
    if (!s) {
        return 0;
    }
    size_t left = http_quiesce(s, grace_ms); /* no new connections; requests in flight finish on the engine */
    atomic_store(&s->stopping, true);
    jobs_abort_all(s); /* what still waits on the engine gets its error or 503 */
    if (left > 0) {
        http_settle(s, 1000); /* ...and has a moment to send it: a stream ends with its error event (and [DONE]) */
    }
    router_stop(s); /* router mode: the children end, and with them the responses forwarded from them */
    http_stop(s);   /* every connection closed, while the engine still runs */
    llamac_engine_free(s->backend.engine);
    wake_stop(s);                          /* after the engine: nothing pushes any more; what is left is woken */
    llamac_mmproj_free(s->backend.mmproj); /* after the engine, whose requests held chunks of it */
    llamac_ctx_free(s->backend.embd_ctx);
    llamac_template_free(s->backend.tmpl);
    llamac_template_free(s->backend.tmpl_tools);
    llamac_model_free(s->backend.model);
    router_free(s);
    pthread_mutex_destroy(&s->embd_lock);
    pthread_mutex_destroy(&s->jobs_lock);
    free(s->model_id);
    free(s->static_root);
    free(s);
    return left;
}
