/*
 * ollama_hub.c - Ollama's /api/pull and /api/delete over the Hugging Face cache: a pull downloads a model as
 * `llamac pull` does (resumable, sha256-checked, the repository's projector too, as Ollama pulls a vision model's),
 * a delete removes it as `llamac rm` does; both through model_hub.h, which the router's POST and DELETE /models
 * use too, so that only the requests, the progress objects and the replies are Ollama's here. Names are Ollama's for
 * Hugging Face models: hf.co/OWNER/REPO:QUANT, huggingface.co/..., or OWNER/REPO[:QUANT] (ollama.h).
 *
 * A pull streams Ollama's progress objects ("pulling manifest", one "pulling <digest>" per file with total and
 * completed, "verifying sha256 digest", "writing manifest", "success") from a thread of its own, while the
 * connection's thread writes them out; the repository is listed before the stream starts, so that a missing
 * repository or a refused token gets its own status rather than an error line in a 200 stream. A client that goes
 * away cancels the download (its partial file stays for the next pull to resume, as Ollama's and huggingface_hub's
 * do; nothing is linked into the cache until a file is whole and checked). In router mode the cache is read again
 * afterwards, so the model is listed and served at once; a delete unloads the model first. Models the user gave
 * (-m, --models-dir, a preset) are never removed.
 */
#define _GNU_SOURCE
#include "dynbuf.h"
#include "model_hub.h"
#include "ollama.h"
#include "request.h"
#include "result.h"
#include "router.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#define PROGRESS_EVERY_MS 100 /* at most one progress object per file this often */

/* The model a body names ("model", or Ollama's older "name"); NULL after replying. */
static const char *body_model(struct request *rq, json_t *body) {
    const char *name = NULL;
    if (!field_str(rq, body, "model", &name) || (!name && !field_str(rq, body, "name", &name))) {
        return NULL;
    }
    if (!name || !*name) {
        reply_error(rq, 400, "model", "missing_required_parameter", "model is required");
        return NULL;
    }
    return name;
}

/* ---- pull ---- */

/* A pull in progress: its NDJSON lines, written by the pulling thread and read by the connection's. */
struct pull {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    int refs; /* the pulling thread and the response */
    llamac__dynbuf out;
    size_t out_pos;
    bool ended;
    atomic_bool cancel;
    pthread_t thread; /* the pulling thread, joined when the response ends (it uses the server) */
    bool started;
    int fd; /* the client's socket, watched for a hang-up */
    struct server *s;
    char spec[512];
    json_t *digests; /* the repository's files: path -> sha256 */
    llamac_hub_list *files;
    llamac_status st;
    char error[1024];
    /* the progress object last written */
    char file[512];
    int64_t last_ms;
};

static void pull_release(struct pull *p) {
    pthread_mutex_lock(&p->lock);
    bool last = --p->refs == 0;
    pthread_mutex_unlock(&p->lock);
    if (last) {
        llamac__dynbuf_free(&p->out);
        json_decref(p->digests);
        llamac_hub_list_free(p->files);
        pthread_mutex_destroy(&p->lock);
        pthread_cond_destroy(&p->cond);
        free(p);
    }
}

/* One object onto the stream (stolen). */
static void emit(struct pull *p, json_t *o) {
    pthread_mutex_lock(&p->lock);
    ndjson_line(&p->out, o);
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
}

static json_t *file_progress(const char *sha, const char *path, uint64_t total, uint64_t done) {
    char status[96], digest[80];
    snprintf(status, sizeof status, "pulling %.12s", sha && *sha ? sha : path);
    snprintf(digest, sizeof digest, "sha256:%s", sha ? sha : "");
    return json_pack("{s:s, s:s, s:I, s:I}", "status", status, "digest", digest, "total", (json_int_t)total,
                     "completed", (json_int_t)done);
}

static bool on_progress(const char *file, uint64_t done, uint64_t total, double rate, void *user_data) {
    (void)rate;
    struct pull *p = user_data;
    if (atomic_load(&p->cancel) || (p->fd >= 0 && connection_gone(p->fd))) {
        atomic_store(&p->cancel, true);
        return false;
    }
    int64_t t = server_now_ms();
    bool fresh = strcmp(file, p->file) != 0;
    if (fresh || (total > 0 && done == total) || t - p->last_ms >= PROGRESS_EVERY_MS) {
        snprintf(p->file, sizeof p->file, "%s", file);
        p->last_ms = t;
        emit(p, file_progress(json_string_value(json_object_get(p->digests, file)), file, total, done));
    }
    return true;
}

/* Lists the repository (Ollama's manifest), into p->digests; false after replying with the Hub's refusal. */
static bool pull_manifest(struct request *rq, struct pull *p) {
    llamac_hub_list *list = NULL;
    char err[1024];
    llamac_status st = model_hub_check(rq->s, p->spec, &list, err, sizeof err);
    if (st != LLAMAC_OK) {
        reply_error(rq, model_hub_status(st), "model", NULL, "pull model manifest: %s", err);
        llamac_hub_list_free(list);
        return false;
    }
    p->digests = json_object();
    for (size_t i = 0; i < llamac_hub_list_count(list); i++) {
        const llamac_hub_file *f = llamac_hub_list_get(list, i);
        json_object_set_new(p->digests, f->path, json_string(f->sha256 ? f->sha256 : ""));
    }
    llamac_hub_list_free(list);
    return true;
}

/* The pull itself (the pulling thread, or the connection's without a stream): every object onto p->out; p->st and
 * p->error tell how it ended. */
static void pull_run(struct pull *p) {
    emit(p, json_pack("{s:s}", "status", "pulling manifest"));
    p->st = model_hub_pull(p->s, p->spec, on_progress, p, &p->files, p->error, sizeof p->error);
    if (p->st != LLAMAC_OK) {
        if (atomic_load(&p->cancel)) {
            snprintf(p->error, sizeof p->error, "the pull was cancelled: the client went away");
        }
        server_log(p->s, LLAMAC_LOG_WARN, "pull of %s: %s", p->spec, p->error);
        return;
    }
    /* every file whole, those the cache held already too */
    for (size_t i = 0; i < llamac_hub_list_count(p->files); i++) {
        const llamac_hub_file *f = llamac_hub_list_get(p->files, i);
        emit(p, file_progress(f->sha256, f->path, f->size, f->size));
    }
    emit(p, json_pack("{s:s}", "status", "verifying sha256 digest")); /* llamac_hub_pull checked each file */
    emit(p, json_pack("{s:s}", "status", "writing manifest"));        /* the router's list was read again */
    server_log(p->s, LLAMAC_LOG_INFO, "pulled %s into the Hugging Face cache", p->spec);
}

static void *pull_main(void *arg) {
    struct pull *p = arg;
    pull_run(p);
    emit(p, p->st == LLAMAC_OK ? json_pack("{s:s}", "status", "success") : json_pack("{s:s}", "error", p->error));
    pthread_mutex_lock(&p->lock);
    p->ended = true;
    pthread_cond_broadcast(&p->cond);
    pthread_mutex_unlock(&p->lock);
    pull_release(p);
    return NULL;
}

static ssize_t pull_read(void *cls, uint64_t pos, char *buf, size_t max) {
    (void)pos;
    struct pull *p = cls;
    pthread_mutex_lock(&p->lock);
    for (;;) {
        size_t len = llamac__dynbuf_len(&p->out);
        if (p->out_pos < len) {
            size_t n = len - p->out_pos < max ? len - p->out_pos : max;
            memcpy(buf, llamac__dynbuf_ptr(&p->out) + p->out_pos, n);
            p->out_pos += n;
            pthread_mutex_unlock(&p->lock);
            return (ssize_t)n;
        }
        if (p->ended) {
            pthread_mutex_unlock(&p->lock);
            return MHD_CONTENT_READER_END_OF_STREAM;
        }
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_nsec += 100 * 1000000L;
        ts.tv_sec += ts.tv_nsec / 1000000000L;
        ts.tv_nsec %= 1000000000L;
        if (pthread_cond_timedwait(&p->cond, &p->lock, &ts) == ETIMEDOUT && connection_gone(p->fd)) {
            atomic_store(&p->cancel, true);
            pthread_mutex_unlock(&p->lock);
            return MHD_CONTENT_READER_END_WITH_ERROR;
        }
    }
}

static void pull_free(void *cls) {
    struct pull *p = cls;
    atomic_store(&p->cancel, true); /* a client gone mid-pull cancels the download ... */
    if (p->started) {
        pthread_join(p->thread, NULL); /* ... which ends at its next progress call, before the server may end */
    }
    pull_release(p);
}

void handle_ollama_pull(struct request *rq) {
    struct server *s = rq->s;
    json_t *body = request_object(rq);
    const char *name = body ? body_model(rq, body) : NULL;
    bool stream = true;
    struct pull *p = NULL;
    if (!name || !field_bool(rq, body, "stream", &stream)) {
        goto done;
    }
    if (s->opt.hub_offline) {
        reply_error(rq, 501, NULL, "not_supported",
                    "/api/pull is off: the server runs with --offline (only the Hugging Face cache is used)");
        goto done;
    }
    p = calloc(1, sizeof *p);
    if (!p) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    pthread_mutex_init(&p->lock, NULL);
    pthread_cond_init(&p->cond, NULL);
    llamac__dynbuf_init(&p->out, (size_t)16 << 20);
    p->refs = 1;
    p->s = s;
    p->fd = -1;
    const union MHD_ConnectionInfo *ci =
        rq->conn ? MHD_get_connection_info(rq->conn, MHD_CONNECTION_INFO_CONNECTION_FD) : NULL;
    if (ci) {
        p->fd = (int)ci->connect_fd;
    }
    if (!ollama_hub_spec(name, p->spec, sizeof p->spec)) {
        reply_error(
            rq, 400, "model", "invalid_model_name",
            "cannot pull '%s': llamac pulls GGUF models from the Hugging Face Hub, named hf.co/OWNER/REPO[:QUANT] "
            "(or OWNER/REPO[:QUANT])",
            name);
        goto done;
    }
    if (!pull_manifest(rq, p)) {
        goto done;
    }
    if (!stream) { /* on this thread; the answer is the last object, as Ollama's */
        pull_run(p);
        if (p->st == LLAMAC_OK) {
            reply_json(rq, 200, json_pack("{s:s}", "status", "success"));
        } else {
            reply_error(rq, model_hub_status(p->st), "model", NULL, "%s", p->error);
        }
        goto done;
    }
    p->refs = 2;
    struct MHD_Response *r = MHD_create_response_from_callback(MHD_SIZE_UNKNOWN, 16 * 1024, pull_read, p, pull_free);
    p->started = r && pthread_create(&p->thread, NULL, pull_main, p) == 0;
    if (!p->started) {
        if (r) {
            MHD_destroy_response(r); /* pull_free: one reference */
        } else {
            p->refs = 1;
        }
        reply_error(rq, 500, NULL, NULL, "cannot start the pull");
        goto done;
    }
    MHD_add_response_header(r, "Content-Type", "application/x-ndjson");
    MHD_add_response_header(r, "Cache-Control", "no-cache");
    rq->response = r;
    rq->status = 200;
    p = NULL; /* the pulling thread's and the response's now */
done:
    if (p) {
        pull_release(p);
    }
    json_decref(body);
}

/* ---- delete ---- */

/* Whether the file at `path` lies in the cache folder of `repo` ("models--OWNER--NAME"), through its links. */
static bool in_repo(const char *path, const char *repo) {
    char real[PATH_MAX], needle[600];
    int n = snprintf(needle, sizeof needle, "/models--%.*s--%s/", (int)strcspn(repo, "/"), repo,
                     strchr(repo, '/') ? strchr(repo, '/') + 1 : "");
    return path && n > 0 && (size_t)n < sizeof needle && realpath(path, real) && strstr(real, needle) != NULL;
}

/* Where a model the user gave comes from, as the option that named it. */
static const char *given_by(const char *source) {
    return strcmp(source, "models_dir") == 0 ? "--models-dir"
           : strcmp(source, "preset") == 0   ? "the --models-preset file"
                                             : "the server's command line (-m or -hf)";
}

/* Whether router entry `e` is what a delete of `name` (spec: its hub spec, "" when it has none) touches: a cache
 * model of that quant (or, without one, of that repository), or a model the user gave that has that name or whose
 * file lies in the repository's cache folder. */
static bool touched(const struct router_entry *e, const char *name, const char *spec) {
    char repo[512];
    snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
    if (strcmp(e->source, "cache") != 0) {
        return ollama_name_is(name, e->name) || (repo[0] && in_repo(e->path, repo));
    }
    if (strchr(spec, ':')) {
        return strcasecmp(e->name, spec) == 0;
    }
    return repo[0] && strncmp(e->name, repo, strlen(repo)) == 0 && e->name[strlen(repo)] == ':';
}

/* Router mode: refuses (403, false after replying) a delete that would remove a model the user gave, else unloads
 * the cache models it removes. */
static bool router_prepare_delete(struct request *rq, const char *name, const char *spec) {
    struct server *s = rq->s;
    struct router_entry *list = NULL;
    size_t n = 0;
    if (!router_entries(s, &list, &n)) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    bool ok = true;
    for (size_t i = 0; i < n && ok; i++) {
        if (strcmp(list[i].source, "cache") != 0 && touched(&list[i], name, spec)) {
            reply_error(rq, 403, "model", "model_not_removable",
                        "model '%s' is served from %s: its files are yours, and the API does not remove them",
                        list[i].name, given_by(list[i].source));
            ok = false;
        }
    }
    for (size_t i = 0; i < n && ok; i++) {
        if (touched(&list[i], name, spec)) {
            router_unload_now(s, list[i].name);
        }
    }
    router_entries_free(list, n);
    return ok;
}

void handle_ollama_delete(struct request *rq) {
    struct server *s = rq->s;
    json_t *body = request_object(rq);
    const char *name = body ? body_model(rq, body) : NULL;
    char spec[512] = "";
    if (!name) {
        json_decref(body);
        return;
    }
    bool is_spec = ollama_hub_spec(name, spec, sizeof spec);
    if (!is_spec) {
        spec[0] = '\0';
    }
    char repo[512];
    snprintf(repo, sizeof repo, "%.*s", (int)strcspn(spec, ":"), spec);
    if (s->router) {
        if (!router_prepare_delete(rq, name, spec)) {
            json_decref(body);
            return;
        }
    } else if (ollama_name_is(name, s->model_id ? s->model_id : "model") ||
               (repo[0] && in_repo(s->opt.model_path, repo))) {
        reply_error(rq, 403, "model", "model_not_removable",
                    "model '%s' is the model this server serves: stop the server to remove its files", name);
        json_decref(body);
        return;
    }
    if (!is_spec) {
        reply_error(rq, 404, "model", "model_not_found", "model '%s' not found", name);
        json_decref(body);
        return;
    }
    size_t removed = 0;
    char err[1024];
    llamac_status st = model_hub_remove(s, spec, &removed, err, sizeof err);
    if (st == LLAMAC_E_NOT_FOUND || st == LLAMAC_E_INVALID_ARGUMENT) {
        reply_error(rq, 404, "model", "model_not_found", "model '%s' not found", name);
    } else if (st != LLAMAC_OK) {
        reply_error(rq, 500, "model", NULL, "cannot remove '%s': %s", name, err);
    } else {
        server_log(s, LLAMAC_LOG_INFO, "removed %zu file%s of %s from the Hugging Face cache", removed,
                   removed == 1 ? "" : "s", spec);
        rq->status = 200; /* Ollama's answer: 200, no body */
        rq->text = strdup("");
        rq->content_type = "application/json";
    }
    json_decref(body);
}
