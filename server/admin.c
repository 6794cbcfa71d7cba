/*
 * admin.c - the endpoints that look after the server rather than use the model: GET /health (503 while the model
 * loads), /v1/models, /metrics (Prometheus text, llama-server's metric names) and /slots (the engine's slots).
 *
 * /metrics and /slots are off unless the server was started with --metrics / --slots (http.c answers 501 then).
 * They read the engine's statistics, which the engine publishes at the end of each step, so they never wait for it.
 * GET /lora-adapters lists the LoRA adapters the server was started with and the scales that requests naming none
 * decode with; POST /lora-adapters changes those scales for the requests that come after it (the engine keeps each
 * request's set for its life, and never batches or reuses KV cells across sets).
 */
#include "request.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

void handle_health(struct request *rq) {
    if (!atomic_load(&rq->s->ready)) {
        rq->retry_after = 1;
        reply_error(rq, 503, NULL, "loading", "the model is loading");
        return;
    }
    reply_json(rq, 200, json_pack("{s:s}", "status", "ok"));
}

void handle_models(struct request *rq) {
    struct server *s = rq->s;
    llamac_model_info mi;
    llamac_model_get_info(s->model, &mi);
    json_t *model = json_pack("{s:s, s:s, s:I, s:s, s:{s:i, s:i, s:I, s:I, s:i}}", "id", s->model_id, "object", "model",
                              "created", (json_int_t)s->started, "owned_by", "llamac", "meta", "n_vocab",
                              (int)mi.n_vocab, "n_ctx_train", (int)mi.n_ctx_train, "n_params", (json_int_t)mi.n_params,
                              "size", (json_int_t)mi.size_bytes, "n_embd", (int)mi.n_embd);
    json_object_set_new(model, "aliases", list_json(s->opt.alias));
    json_object_set_new(model, "tags", list_json(s->opt.tags));
    /* llama-server's Ollama-style list beside OpenAI's, whose capabilities say whether media are taken; OpenAI's
     * entry has them too (not llama-server's: the chat page reads them there to offer its image button) */
    json_t *caps = s->mmproj ? json_pack("[s, s]", "completion", "multimodal") : json_pack("[s]", "completion");
    json_object_set(model, "capabilities", caps);
    json_t *models = json_pack("[{s:s, s:s, s:s, s:o}]", "name", s->model_id, "model", s->model_id, "type", "model",
                               "capabilities", caps);
    reply_json(rq, 200, json_pack("{s:o, s:s, s:[o]}", "models", models, "object", "list", "data", model));
}

void handle_metrics(struct request *rq) {
    struct server *s = rq->s;
    llamac_engine_stats st = { 0 };
    if (s->engine) {
        llamac_engine_get_stats(s->engine, &st);
    }
    char *out = malloc(8192);
    if (!out) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
#define METRICS_FORMAT                                                                                                 \
    "# HELP llamacpp:prompt_tokens_total Number of prompt tokens processed.\n"                                         \
    "# TYPE llamacpp:prompt_tokens_total counter\n"                                                                    \
    "llamacpp:prompt_tokens_total %llu\n"                                                                              \
    "# HELP llamacpp:prompt_tokens_cached_total Prompt tokens reused from a cache (not decoded).\n"                    \
    "# TYPE llamacpp:prompt_tokens_cached_total counter\n"                                                             \
    "llamacpp:prompt_tokens_cached_total %llu\n"                                                                       \
    "# HELP llamacpp:prompt_seconds_total Prompt process time\n"                                                       \
    "# TYPE llamacpp:prompt_seconds_total counter\n"                                                                   \
    "llamacpp:prompt_seconds_total %.3f\n"                                                                             \
    "# HELP llamacpp:tokens_predicted_total Number of generation tokens processed.\n"                                  \
    "# TYPE llamacpp:tokens_predicted_total counter\n"                                                                 \
    "llamacpp:tokens_predicted_total %llu\n"                                                                           \
    "# HELP llamacpp:tokens_predicted_seconds_total Predict process time\n"                                            \
    "# TYPE llamacpp:tokens_predicted_seconds_total counter\n"                                                         \
    "llamacpp:tokens_predicted_seconds_total %.3f\n"                                                                   \
    "# HELP llamacpp:n_decode_total Total number of llama_decode() calls\n"                                            \
    "# TYPE llamacpp:n_decode_total counter\n"                                                                         \
    "llamacpp:n_decode_total %llu\n"                                                                                   \
    "# HELP llamacpp:n_tokens_max Largest observed sequence length (prompt + generation)\n"                            \
    "# TYPE llamacpp:n_tokens_max counter\n"                                                                           \
    "llamacpp:n_tokens_max %u\n"                                                                                       \
    "# HELP llamacpp:spec_decode_num_draft_tokens_total Speculative: Total draft tokens generated\n"                   \
    "# TYPE llamacpp:spec_decode_num_draft_tokens_total counter\n"                                                     \
    "llamacpp:spec_decode_num_draft_tokens_total %llu\n"                                                               \
    "# HELP llamacpp:spec_decode_num_accepted_tokens_total Speculative: Total draft tokens accepted by the target "    \
    "model\n"                                                                                                          \
    "# TYPE llamacpp:spec_decode_num_accepted_tokens_total counter\n"                                                  \
    "llamacpp:spec_decode_num_accepted_tokens_total %llu\n"                                                            \
    "# HELP llamacpp:spec_decode_num_drafts_total Speculative: Total speculative decoding verification steps\n"        \
    "# TYPE llamacpp:spec_decode_num_drafts_total counter\n"                                                           \
    "llamacpp:spec_decode_num_drafts_total %llu\n"                                                                     \
    "# HELP llamacpp:prompt_tokens_seconds Average prompt throughput in tokens/s.\n"                                   \
    "# TYPE llamacpp:prompt_tokens_seconds gauge\n"                                                                    \
    "llamacpp:prompt_tokens_seconds %.3f\n"                                                                            \
    "# HELP llamacpp:predicted_tokens_seconds Average generation throughput in tokens/s.\n"                            \
    "# TYPE llamacpp:predicted_tokens_seconds gauge\n"                                                                 \
    "llamacpp:predicted_tokens_seconds %.3f\n"                                                                         \
    "# HELP llamacpp:n_busy_slots_per_decode Average number of busy slots per llama_decode() call\n"                   \
    "# TYPE llamacpp:n_busy_slots_per_decode gauge\n"                                                                  \
    "llamacpp:n_busy_slots_per_decode %.3f\n"                                                                          \
    "# HELP llamacpp:requests_processing Number of requests processing.\n"                                             \
    "# TYPE llamacpp:requests_processing gauge\n"                                                                      \
    "llamacpp:requests_processing %u\n"                                                                                \
    "# HELP llamacpp:requests_deferred Number of requests deferred.\n"                                                 \
    "# TYPE llamacpp:requests_deferred gauge\n"                                                                        \
    "llamacpp:requests_deferred %u\n"                                                                                  \
    "# HELP llamac:requests_total Requests accepted by the engine.\n"                                                  \
    "# TYPE llamac:requests_total counter\n"                                                                           \
    "llamac:requests_total %llu\n"                                                                                     \
    "# HELP llamac:requests_rejected_total Requests refused because the queue was full.\n"                             \
    "# TYPE llamac:requests_rejected_total counter\n"                                                                  \
    "llamac:requests_rejected_total %llu\n"                                                                            \
    "# HELP llamac:requests_cancelled_total Requests cancelled (client gone, shutdown).\n"                             \
    "# TYPE llamac:requests_cancelled_total counter\n"                                                                 \
    "llamac:requests_cancelled_total %llu\n"                                                                           \
    "# HELP llamac:cached_tokens_total Prompt tokens reused from the prompt cache.\n"                                  \
    "# TYPE llamac:cached_tokens_total counter\n"                                                                      \
    "llamac:cached_tokens_total %llu\n"                                                                                \
    "# HELP llamac:slots Slots of the engine.\n"                                                                       \
    "# TYPE llamac:slots gauge\n"                                                                                      \
    "llamac:slots %u\n"
    double gen_s = (st.busy_ms - st.prompt_ms) / 1000.0;
    /* embedding requests decode prompts too (on their own context): counted in as llama-server counts them */
    unsigned long long embd_tokens = atomic_load(&s->embd_tokens), embd_decodes = atomic_load(&s->embd_decodes);
    snprintf(out, 8192, METRICS_FORMAT, (unsigned long long)st.prompt_tokens + embd_tokens,
             (unsigned long long)st.cached_tokens, st.prompt_ms / 1000.0, (unsigned long long)st.generated_tokens,
             gen_s, (unsigned long long)st.steps + embd_decodes, st.n_tokens_max, (unsigned long long)st.draft_tokens,
             (unsigned long long)st.draft_accepted, (unsigned long long)st.drafts,
             st.prompt_ms > 0 ? (double)st.prompt_tokens / (st.prompt_ms / 1000.0) : 0.0,
             gen_s > 0 ? (double)st.generated_tokens / gen_s : 0.0,
             st.steps > 0 ? (double)st.busy_slot_steps / (double)st.steps : 0.0, st.n_processing, st.n_queued,
             (unsigned long long)st.requests_submitted, (unsigned long long)st.requests_rejected,
             (unsigned long long)st.requests_cancelled, (unsigned long long)st.cached_tokens, st.n_slots);
#undef METRICS_FORMAT
    rq->text = out;
    rq->content_type = "text/plain; version=0.0.4; charset=utf-8";
    rq->start_time_header = true;
    rq->status = 200;
}

void handle_slots(struct request *rq) {
    struct server *s = rq->s;
    json_t *arr = json_array();
    llamac_engine_stats st = { 0 };
    if (s->engine) {
        llamac_engine_get_stats(s->engine, &st);
    }
    for (uint32_t i = 0; i < st.n_slots; i++) {
        llamac_engine_slot sl;
        if (llamac_engine_slot_get(s->engine, i, &sl) != LLAMAC_OK) {
            continue;
        }
        json_array_append_new(arr, json_pack("{s:i, s:s, s:b, s:I, s:I, s:b, s:I, s:i, s:i, s:i, s:I}", "id",
                                             (int)sl.id, "state", llamac_slot_state_name(sl.state), "is_processing",
                                             sl.state != LLAMAC_SLOT_IDLE, "n_ctx", (json_int_t)sl.n_ctx, "n_cached",
                                             (json_int_t)sl.n_cached, "parked", sl.parked, "id_task",
                                             (json_int_t)sl.request_id, "n_prompt_tokens", (int)sl.n_prompt,
                                             "n_prompt_tokens_processed", (int)sl.n_prompt_done, "n_decoded",
                                             (int)sl.n_generated, "requests_served", (json_int_t)sl.requests_served));
    }
    reply_json(rq, 200, arr);
}

/* ---- POST /slots/N?action=save|restore|erase (llama-server's, with --slot-save-path) ---- */

/* A file name a client may give: one name inside --slot-save-path, nothing that leads out of it or that a file system
 * would change (llama-server's rules): 1 to 255 bytes of UTF-8, no control characters, none of / \ : * ? " < > |, no
 * "..", no leading or trailing space, no trailing dot. */
static bool slot_filename_ok(const char *name) {
    size_t n = strlen(name);
    if (n == 0 || n > 255 || !llamac_utf8_valid(name, n, NULL) || strstr(name, "..") || name[0] == ' ' ||
        name[n - 1] == ' ' || name[n - 1] == '.') {
        return false;
    }
    for (const unsigned char *p = (const unsigned char *)name; *p; p++) {
        if (*p < 0x20 || *p == 0x7f || strchr("/\\:*?\"<>|", *p)) {
            return false;
        }
    }
    return true;
}

/* The engine's message with the server's directory left out (a client knows only the file name). */
static void reply_slot_error(struct request *rq, unsigned status, const char *path, const char *name) {
    const char *msg = llamac_last_error();
    const char *at = strstr(msg, path);
    if (at) {
        reply_error(rq, status, NULL, status == 400 ? "invalid_request_error" : NULL, "%.*s%s%s", (int)(at - msg), msg,
                    name, at + strlen(path));
    } else {
        reply_error(rq, status, NULL, status == 400 ? "invalid_request_error" : NULL, "%s", msg);
    }
}

void handle_slots_action(struct request *rq) {
    struct server *s = rq->s;
    if (!s->opt.slot_save_path) {
        reply_error(rq, 501, NULL, "not_supported",
                    "this server does not support slot actions; start it with --slot-save-path DIR");
        return;
    }
    if (!s->engine) {
        reply_error(rq, 501, NULL, "not_supported", "this server does not generate text: it has no slots");
        return;
    }
    const char *id = rq->path + strlen("/slots/");
    char *end = NULL;
    long slot = strtol(id, &end, 10);
    llamac_engine_stats st = { 0 };
    llamac_engine_get_stats(s->engine, &st);
    if (!*id || *end || slot < 0 || slot >= (long)st.n_slots) {
        reply_error(rq, 400, "id_slot", "invalid_value", "no slot '%s': the slots are 0 to %u", id, st.n_slots - 1);
        return;
    }
    const char *action = MHD_lookup_connection_value(rq->conn, MHD_GET_ARGUMENT_KIND, "action");
    if (action && strcmp(action, "erase") == 0) {
        size_t n = 0;
        if (llamac_engine_slot_erase(s->engine, (uint32_t)slot, &n) != LLAMAC_OK) {
            reply_error(rq, 503, NULL, "unavailable", "%s", llamac_last_error());
            return;
        }
        reply_json(rq, 200, json_pack("{s:i, s:I}", "id_slot", (int)slot, "n_erased", (json_int_t)n));
        return;
    }
    bool save = action && strcmp(action, "save") == 0;
    if (!save && !(action && strcmp(action, "restore") == 0)) {
        reply_error(rq, 400, "action", "invalid_value", "'action' must be save, restore or erase");
        return;
    }
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *name = NULL;
    char *path = NULL;
    if (!field_str(rq, body, "filename", &name)) {
        goto done;
    }
    if (!name || !slot_filename_ok(name)) {
        reply_error(rq, 400, "filename", "invalid_value",
                    "'filename' must be a file name inside --slot-save-path: 1 to 255 bytes of UTF-8 without / \\ "
                    ": * ? \" < > |, control characters or \"..\", not starting or ending with a space or ending "
                    "with a dot");
        goto done;
    }
    size_t dlen = strlen(s->opt.slot_save_path);
    size_t cap = dlen + strlen(name) + 2;
    path = malloc(cap);
    if (!path) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    snprintf(path, cap, "%s%s%s", s->opt.slot_save_path, dlen && s->opt.slot_save_path[dlen - 1] == '/' ? "" : "/",
             name);
    size_t n = 0, bytes = 0;
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    llamac_status rc = save ? llamac_engine_slot_save(s->engine, (uint32_t)slot, path, &n, &bytes)
                            : llamac_engine_slot_restore(s->engine, (uint32_t)slot, path, &n, &bytes);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double ms = (double)(t1.tv_sec - t0.tv_sec) * 1e3 + (double)(t1.tv_nsec - t0.tv_nsec) / 1e6;
    if (rc != LLAMAC_OK) {
        /* as llama-server: a file that cannot be restored is the client's error, one that cannot be saved ours */
        reply_slot_error(rq, rc == LLAMAC_E_BUSY ? 503 : save ? 500 : 400, path, name);
        goto done;
    }
    reply_json(rq, 200,
               json_pack("{s:i, s:s, s:I, s:I, s:{s:f}}", "id_slot", (int)slot, "filename", name,
                         save ? "n_saved" : "n_restored", (json_int_t)n, save ? "n_written" : "n_read",
                         (json_int_t)bytes, "timings", save ? "save_ms" : "restore_ms", ms));
done:
    free(path);
    json_decref(body);
}

/* ---- LoRA adapters: loaded at startup (--lora, --lora-scaled), listed and rescaled as llama-server does ---- */

void handle_lora_adapters_get(struct request *rq) {
    llamac_adapter_scale set[MAX_LORA];
    size_t n = llamac_engine_adapters(rq->s->engine, set, MAX_LORA);
    json_t *arr = json_array();
    for (size_t i = 0; arr && i < n && i < MAX_LORA; i++) {
        llamac_adapter_info info;
        llamac_adapter_get_info(set[i].adapter, &info);
        json_t *e = json_pack("{s:I, s:s, s:f, s:s, s:s}", "id", (json_int_t)i, "path", info.path, "scale",
                              (double)set[i].scale, "task_name", info.task_name ? info.task_name : "", "prompt_prefix",
                              info.prompt_prefix ? info.prompt_prefix : "");
        if (e && info.n_alora_invocation_tokens > 0) {
            json_t *toks = json_array();
            for (size_t k = 0; toks && k < info.n_alora_invocation_tokens; k++) {
                json_array_append_new(toks, json_integer(info.alora_invocation_tokens[k]));
            }
            json_object_set_new(e, "alora_invocation_tokens", toks);
        }
        json_array_append_new(arr, e);
    }
    reply_json(rq, 200, arr);
}

bool request_lora(struct request *rq, json_t *v, const char *param, llamac_adapter_scale *set, size_t *n_set) {
    *n_set = 0;
    if (!v || json_is_null(v)) {
        return true;
    }
    size_t n = llamac_engine_adapters(rq->s->engine, set, MAX_LORA);
    n = n < MAX_LORA ? n : MAX_LORA;
    float want[MAX_LORA] = { 0 }; /* llama-server's rule: an adapter the list leaves out is at scale 0 */
    if (!json_is_array(v)) {
        reply_error(rq, 400, param, "invalid_type", "'%s' must be an array of objects with 'id' and 'scale' fields",
                    param);
        return false;
    }
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        json_t *id = json_object_get(e, "id"), *scale = json_object_get(e, "scale");
        if (!json_is_object(e) || !json_is_integer(id) || !json_is_number(scale) ||
            !(fabs(json_number_value(scale)) <= FLT_MAX)) {
            reply_error(rq, 400, param, "invalid_value",
                        "'%s' entry %zu must be an object with an integer 'id' and a finite number 'scale' (a float)",
                        param, i);
            return false;
        }
        json_int_t k = json_integer_value(id);
        if (k < 0 || (size_t)k >= n) {
            reply_error(rq, 400, param, "invalid_value", "'%s' entry %zu: no LoRA adapter has id %lld (%zu loaded)",
                        param, i, (long long)k, n);
            return false;
        }
        want[k] = (float)json_number_value(scale);
    }
    for (size_t k = 0; k < n; k++) {
        set[k].scale = want[k];
    }
    *n_set = n;
    return true;
}

void handle_lora_adapters_post(struct request *rq) {
    json_error_t err;
    json_t *body = rq->body_len ? json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES, &err) : NULL;
    if (!body) {
        reply_error(rq, 400, NULL, "invalid_json", "the body must be a JSON array of {\"id\", \"scale\"} objects");
        return;
    }
    llamac_adapter_scale set[MAX_LORA];
    size_t n = 0;
    if (request_lora(rq, body, "body", set, &n)) {
        if (n > 0 && llamac_engine_set_adapters(rq->s->engine, set, n) != LLAMAC_OK) {
            reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error());
        } else {
            reply_json(rq, 200, json_pack("{s:b}", "success", 1));
        }
    }
    json_decref(body);
}
