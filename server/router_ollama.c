/*
 * router_ollama.c - Ollama's API over the router's models (ollama.h): /api/tags lists every model the router can
 * serve, /api/ps the ones whose child runs, and a request's keep_alive sets how long its model stays loaded once
 * idle, as Ollama's does; `{"model": M, "keep_alive": 0}` without messages or prompt unloads M at once (what
 * `ollama stop` sends). Everything else of Ollama's API reaches the model's child, which is the single-model server.
 *
 * The router's state is read and changed through router.h's functions, under its lock; a model that is not loaded
 * is described from its GGUF header as the router read it (router_facts: what /api/tags shows without loading it,
 * as GET /v1/models does), a loaded one by its child's /api/ps (its context length), with the router's own expiry.
 */
#define _GNU_SOURCE
#include "ollama.h"
#include "router.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

/* Ollama's expires_at of a model that stays: far in the future, as Ollama writes it. */
#define NEVER "2318-01-01T00:00:00Z"

static json_int_t file_size(const struct router_entry *e) {
    struct stat st;
    if (e->size > 0) {
        return (json_int_t)e->size;
    }
    return e->path && stat(e->path, &st) == 0 ? (json_int_t)st.st_size : 0;
}

/* An entry of /api/tags: every model, described from its file (its header as the router read it, router_facts). */
static json_t *tags_entry(struct request *rq, const struct router_entry *e) {
    (void)rq;
    char name[512], digest[80];
    ollama_name(e->name, name, sizeof name);
    ollama_digest_of(e->path, digest, sizeof digest);
    const char *quant = e->facts.file_type >= 0 ? llamac_ftype_name((llamac_ftype)e->facts.file_type) : NULL;
    return json_pack("{s:s, s:s, s:o, s:I, s:s, s:o}", "name", name, "model", name, "modified_at",
                     ollama_mtime_json(e->path), "size", file_size(e), "digest", digest, "details",
                     ollama_details(e->facts.architecture, e->facts.n_params, quant));
}

/* An entry of /api/ps: a loaded model, as its child describes itself (size, digest, details, context length), with
 * the router's name and expiry; NULL for a model not loaded (or gone since). */
static json_t *ps_entry(struct request *rq, const struct router_entry *e) {
    json_t *child = e->loaded ? router_child_get(rq->s, e->port, "/api/ps") : NULL;
    json_t *m = json_incref(json_array_get(json_object_get(child, "models"), 0));
    json_decref(child);
    if (!json_is_object(m)) {
        json_decref(m);
        return NULL;
    }
    char name[512];
    ollama_name(e->name, name, sizeof name);
    json_object_set_new(m, "name", json_string(name));
    json_object_set_new(m, "model", json_string(name));
    if (e->expires_ms == INT64_MAX) {
        json_object_set_new(m, "expires_at", json_string(NEVER));
    } else {
        struct timespec ts = { (time_t)(e->expires_ms / 1000), (long)(e->expires_ms % 1000) * 1000000L };
        json_object_set_new(m, "expires_at", ollama_time_json(&ts));
    }
    return m;
}

/* Replies {"models": [...]} with entry()'s object of each of the router's models (NULL: left out). */
static void list_models(struct request *rq, json_t *(*entry)(struct request *rq, const struct router_entry *e)) {
    struct router_entry *list = NULL;
    size_t n = 0;
    if (!router_entries(rq->s, &list, &n)) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    json_t *models = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = entry(rq, &list[i]);
        if (o) {
            json_array_append_new(models, o);
        }
    }
    router_entries_free(list, n);
    reply_json(rq, 200, json_pack("{s:o}", "models", models));
}

/* Whether a chat or generate body asks for nothing to be generated (a load, or with keep_alive 0 an unload). */
static bool nothing_to_generate(json_t *body, bool chat) {
    if (chat) {
        json_t *messages = json_object_get(body, "messages");
        return !messages || json_is_null(messages) || (json_is_array(messages) && json_array_size(messages) == 0);
    }
    json_t *prompt = json_object_get(body, "prompt");
    return !prompt || json_is_null(prompt) || (json_is_string(prompt) && json_string_length(prompt) == 0);
}

/* A request naming a model: Ollama's 404 for a name the router does not have; its keep_alive applied to the model
 * (chat, generate, embed, embeddings); an unload at once. True when it answered. */
static bool named(struct request *rq, void (*route)(struct request *rq)) {
    json_t *body = json_loads(rq->body ? rq->body : "", 0, NULL);
    const char *name = json_string_value(json_object_get(body, "model"));
    if (!name || !*name) {
        name = json_string_value(json_object_get(body, "name")); /* Ollama's older field */
    }
    if (!json_is_object(body) || !name || !*name) {
        json_decref(body); /* the router answers what is wrong with it */
        return false;
    }
    char id[512];
    bool single = router_is_single(rq->s);
    if (!router_find(rq->s, name, id, sizeof id) || (single && !ollama_name_is(name, id))) {
        if (single) {
            json_decref(body); /* the sleeping server's child answers as the single-model server does */
            return false;
        }
        reply_error(rq, 404, "model", "model_not_found", "model '%s' not found", name);
        json_decref(body);
        return true;
    }
    bool answered = false;
    if (route != handle_ollama_show) {
        bool given = false;
        int64_t ms = -1;
        bool chat = route == handle_ollama_chat;
        if (!ollama_keep_alive(rq, body, &given, &ms)) {
            answered = true;
        } else if (given && ms == 0 && (chat || route == handle_ollama_generate) && nothing_to_generate(body, chat)) {
            router_unload_now(rq->s, id);
            ollama_reply_done(rq, name, chat, "unload");
            answered = true;
        } else {
            /* applied once the request holds its model (router.c's acquire): set now, a keep_alive 0 would let the
             * monitor unload the loaded model before the request takes it, and the reload would not keep it */
            rq->keep_alive.asked = true;
            rq->keep_alive.given = given;
            rq->keep_alive.ms = ms;
        }
    }
    json_decref(body);
    return answered;
}

bool router_ollama_answer(struct request *rq, void (*route)(struct request *rq)) {
    if (route == handle_ollama_tags || route == handle_ollama_ps) {
        list_models(rq, route == handle_ollama_tags ? tags_entry : ps_entry);
        return true;
    }
    if (route == handle_ollama_pull || route == handle_ollama_delete) {
        route(rq); /* the Hugging Face cache, in the router's process (ollama_hub.c) */
        return true;
    }
    if (route == handle_ollama_chat || route == handle_ollama_generate || route == handle_ollama_embed ||
        route == handle_ollama_embeddings || route == handle_ollama_show) {
        return named(rq, route);
    }
    return false;
}
