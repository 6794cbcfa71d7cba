/*
 * draft.c - POST /v1/drafts: incremental prefill over HTTP. A client posts the conversation with the user's message
 * as typed so far; the server decodes the part of its prompt that further typing cannot change into a slot's KV
 * cache, so that the final /v1/chat/completions of the same conversation finds it there (the engine's prompt cache
 * picks the slot with the longest common prefix) and decodes only the last few tokens.
 *
 * The stable part is found as src/chat/prefill.c finds it: a second render with the last message replaced by a
 * sentinel gives the template's text before the message; that text plus the typed text, tokenized alone, shares
 * with the real render only tokens that do not depend on what the template writes after the message. Two more
 * tokens are withheld, since the next keystroke can still merge into them. A draft is an ordinary engine request
 * for that prefix that generates one token (which is not decoded, so the cache holds exactly the prefix): it needs
 * nothing new from the engine, and correctness never depends on it, because the final request matches tokens.
 */
#include "job.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DRAFT_MARGIN 2 /* tokens withheld before the stable boundary */

/* The request body with the last message's content replaced by `sentinel`, or NULL after replying 400 when the last
 * message is not a user message with string content. The caller frees the result with json_decref. */
static json_t *sentinel_body(struct request *rq, json_t *body, const char *sentinel, const char **typed,
                             size_t *typed_len) {
    json_t *messages = json_object_get(body, "messages");
    size_t n = json_array_size(messages);
    json_t *last = n ? json_array_get(messages, n - 1) : NULL;
    const char *role = json_string_value(json_object_get(last, "role"));
    json_t *content = json_object_get(last, "content");
    if (!role || strcmp(role, "user") != 0 || !json_is_string(content)) {
        reply_error(rq, 400, "messages", "invalid_value",
                    "a draft's last message must be the user message being typed, with string 'content'");
        return NULL;
    }
    *typed = json_string_value(content);
    *typed_len = json_string_length(content);
    json_t *copy = json_deep_copy(body);
    json_t *cm = copy ? json_object_get(copy, "messages") : NULL;
    json_t *cl = cm ? json_array_get(cm, n - 1) : NULL;
    if (!cl || json_object_set_new(cl, "content", json_string(sentinel)) != 0) {
        json_decref(copy);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return NULL;
    }
    return copy;
}

static size_t common_prefix(const llamac_token *a, size_t na, const llamac_token *b, size_t nb) {
    size_t n = na < nb ? na : nb, i = 0;
    while (i < n && a[i] == b[i]) {
        i++;
    }
    return i;
}

/* The number of leading tokens of `full` (the real render's tokens) that further typing cannot change, margin
 * included; false after replying with the client's error. */
static bool stable_tokens(struct request *rq, json_t *body, const llamac_token *full, size_t n_full, size_t *out) {
    char sentinel[64];
    snprintf(sentinel, sizeof sentinel, "[[llamac-draft:%016llx]]",
             (unsigned long long)atomic_fetch_add(&rq->s->next_id, 1) * 0x9E3779B97F4A7C15ull);
    const char *typed = NULL;
    size_t typed_len = 0;
    char *rs = NULL, *prefix = NULL;
    llamac_token *pre = NULL;
    size_t rs_len = 0, n_pre = 0;
    bool ok = false;
    *out = 0;
    json_t *sb = sentinel_body(rq, body, sentinel, &typed, &typed_len);
    if (!sb || !render_chat(rq, sb, &rs, &rs_len)) {
        goto done;
    }
    const char *at = strstr(rs, sentinel);
    if (!at) {
        ok = true; /* a template that rewrites the message: nothing counts as stable */
        goto done;
    }
    size_t n_before = (size_t)(at - rs);
    prefix = malloc(n_before + typed_len + 1);
    if (!prefix) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    memcpy(prefix, rs, n_before);
    memcpy(prefix + n_before, typed, typed_len);
    prefix[n_before + typed_len] = '\0';
    if (!tokenize_text(rq, "messages", prefix, n_before + typed_len, true, &pre, &n_pre)) {
        goto done;
    }
    size_t stable = common_prefix(pre, n_pre, full, n_full);
    *out = stable > DRAFT_MARGIN ? stable - DRAFT_MARGIN : 0;
    ok = true;
done:
    json_decref(sb);
    llamac_free(rs);
    free(prefix);
    llamac_free(pre);
    return ok;
}

/* Decodes prompt[0..n) into a slot (one engine request generating one token) and waits for it; false after
 * replying. */
static bool decode_prefix(struct request *rq, struct job *j, const llamac_token *prompt, size_t n) {
    struct choice *c = &j->choices[0];
    llamac_engine_request er = llamac_engine_request_default();
    er.prompt = prompt;
    er.n_prompt = n;
    er.max_tokens = 1;
    llamac_status st = job_submit(j, c, &er);
    if (st != LLAMAC_OK) {
        reply_submit_error(rq, j, st);
        return false;
    }
    if (!job_wait(j)) {
        reply_error(rq, 503, NULL, "cancelled", "the request was cancelled");
        return false;
    }
    if (c->status != LLAMAC_OK || c->finish == LLAMAC_FINISH_NONE || c->finish == LLAMAC_FINISH_CANCELLED) {
        reply_error(rq, 500, NULL, NULL, "draft prefill failed: %s", c->error ? c->error : "cancelled");
        return false;
    }
    return true;
}

void handle_drafts(struct request *rq) {
    struct server *s = rq->s;
    llamac_token *full = NULL;
    size_t n_full = 0, n_stable = 0;
    char *text = NULL;
    size_t len = 0;
    struct job *j = NULL;
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    if (!s->engine) {
        reply_error(rq, 501, NULL, "not_supported", "this server does not generate text (embedding model)");
        goto done;
    }
    /* the same checks as the final request, so that a draft of a bad request fails as that request will */
    if (!completion_request_check(rq, body, true)) {
        goto done;
    }
    /* a draft is the start of a conversation whose last (user) message is still being typed */
    if (!render_chat(rq, body, &text, &len) || !tokenize_text(rq, "messages", text, len, true, &full, &n_full) ||
        !stable_tokens(rq, body, full, n_full, &n_stable)) {
        goto done;
    }
    int32_t cached = 0;
    if (n_stable > 0) {
        j = job_new(s, rq->conn, JOB_CHAT, 1);
        if (!j) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
            goto done;
        }
        make_id(s, "draft-", j->id, sizeof j->id);
        if (!decode_prefix(rq, j, full, n_stable)) {
            goto done;
        }
        pthread_mutex_lock(&j->lock);
        cached = j->choices[0].usage.cached_tokens;
        pthread_mutex_unlock(&j->lock);
    }
    char id[64];
    if (j) {
        snprintf(id, sizeof id, "%s", j->id);
    } else {
        make_id(s, "draft-", id, sizeof id);
    }
    reply_json(rq, 200,
               json_pack("{s:s, s:s, s:I, s:s, s:I, s:I, s:I, s:I}", "id", id, "object", "chat.completion.draft",
                         "created", (json_int_t)time(NULL), "model", s->model_id, "prompt_tokens", (json_int_t)n_stable,
                         "cached_tokens", (json_int_t)cached, "decoded_tokens", (json_int_t)n_stable - cached,
                         "pending_tokens", (json_int_t)(n_full - n_stable)));
done:
    job_release(j);
    llamac_free(full);
    llamac_free(text);
    json_decref(body);
}
