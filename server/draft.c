/*
 * draft.c - POST /v1/drafts: incremental prefill over HTTP. A client posts the conversation with the user's message
 * as typed so far; the server decodes the part of its prompt that further typing cannot change into a slot's KV
 * cache, so that the final /v1/chat/completions of the same conversation finds it there (the engine's prompt cache
 * picks the slot with the longest common prefix) and decodes only the last few tokens.
 *
 * The stable part is the library's answer, as for incremental prefill in a chat session
 * (llamac_template_stable_tokens), with the usual margin of two tokens. A draft is an ordinary engine request
 * for that prefix that generates one token (which is not decoded, so the cache holds exactly the prefix): it needs
 * nothing new from the engine, and correctness never depends on it, because the final request matches tokens.
 */
#include "complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DRAFT_MARGIN 2 /* tokens withheld before the stable boundary */

/* A draft's conversation ends with the user message being typed, as text; false after replying 400. */
static bool typing_user(struct request *rq, json_t *body) {
    json_t *messages = json_object_get(body, "messages");
    size_t n = json_array_size(messages);
    json_t *last = n ? json_array_get(messages, n - 1) : NULL;
    const char *role = json_string_value(json_object_get(last, "role"));
    if (!role || strcmp(role, "user") != 0 || !json_is_string(json_object_get(last, "content"))) {
        reply_error(rq, 400, "messages", "invalid_value",
                    "a draft's last message must be the user message being typed, with string 'content'");
        return false;
    }
    return true;
}

/* The number of leading tokens of `full` (the prompt's tokens) that further typing cannot change, the margin
 * withheld; false after replying with the client's error. */
static bool stable_tokens(struct request *rq, const struct chat_input *ci, const llamac_token *full, size_t n_full,
                          size_t *out) {
    llamac_template_apply_params p = chat_input_params(ci);
    return !chat_reply_render_error(
        rq, ci,
        llamac_template_stable_tokens(chat_template(rq->s, ci), rq->s->model, &p, full, n_full, DRAFT_MARGIN, out));
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
        reply_submit_error(rq, st, "messages");
        return false;
    }
    if (!job_wait(j)) {
        reply_error(rq, 503, NULL, "cancelled", "the request was cancelled");
        return false;
    }
    if (c->r.status != LLAMAC_OK || c->r.finish == LLAMAC_FINISH_NONE || c->r.finish == LLAMAC_FINISH_CANCELLED) {
        reply_error(rq, 500, NULL, NULL, "draft prefill failed: %s", c->r.error ? c->r.error : "cancelled");
        return false;
    }
    return true;
}

/* Drafts prefill text: a conversation with media is prefilled by its request (the chunks are made there). */
static bool text_only(struct request *rq, const struct chat_input *ci) {
    if (ci->n_media > 0) {
        reply_error(rq, 400, "messages", "unsupported_value",
                    "drafts prefill text only; a conversation with images or audio is prefilled by its request");
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
    struct chat_input ci = { 0 };
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
    if (!chat_input_parse(rq, body, &ci) || !text_only(rq, &ci) || !render_chat(rq, &ci, &text, &len) ||
        !typing_user(rq, body) || !tokenize_text(rq, "messages", text, len, true, &full, &n_full) ||
        !stable_tokens(rq, &ci, full, n_full, &n_stable)) {
        goto done;
    }
    int32_t cached = 0;
    if (n_stable > 0) {
        j = job_new(s, rq->conn, NULL, 1);
        if (!j) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
            goto done;
        }
        make_id(s, "draft-", j->id, sizeof j->id);
        if (!decode_prefix(rq, j, full, n_stable)) {
            goto done;
        }
        pthread_mutex_lock(&j->lock);
        cached = j->choices[0].r.usage.cached_tokens;
        if (rq->access) {
            rq->access->prompt_tokens = (long long)n_stable;
            rq->access->generated_tokens = j->choices[0].r.usage.generated_tokens;
        }
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
    chat_input_free(&ci);
    llamac_free(full);
    llamac_free(text);
    json_decref(body);
}
