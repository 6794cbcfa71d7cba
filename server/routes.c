/*
 * routes.c - the small endpoints: /health, /v1/models, /tokenize, /detokenize, /apply-template, and reading a
 * chat request's conversation, which they share with chat completions and drafts (the prompt itself is the
 * library's: llamac_template_apply).
 *
 * Request and reply shapes are llama-server's, so scripts written against it keep working: /tokenize takes
 * {"content", "add_special", "parse_special", "with_pieces"} and answers {"tokens"}, /detokenize answers
 * {"content"}, /apply-template answers {"prompt"}.
 */
#include "internal.h"

#include <stdlib.h>
#include <string.h>

void server_set_backend(server *s, llamac_model *model, llamac_engine *engine, const llamac_template *tmpl,
                        const char *template_source, llamac_context *embd_ctx, bool reranking) {
    s->model = model;
    s->engine = engine;
    s->tmpl = tmpl;
    s->tool_format = llamac_tool_format_detect(template_source);
    s->embd_ctx = embd_ctx;
    s->reranking = reranking;
    const char *path = s->opt.alias ? s->opt.alias : s->opt.model_path ? s->opt.model_path : "model";
    const char *slash = s->opt.alias ? NULL : strrchr(path, '/');
    s->model_id = strdup(slash ? slash + 1 : path);
    atomic_store(&s->ready, s->model_id != NULL);
}

bool tokenize_text(struct request *rq, const char *param, const char *text, size_t len, bool add_special,
                   llamac_token **out, size_t *n) {
    unsigned flags = LLAMAC_TOKENIZE_PARSE_SPECIAL | (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u);
    llamac_status st = llamac_tokenize(rq->s->model, text, len, flags, out, n);
    if (st == LLAMAC_E_NO_MEMORY) {
        reply_error(rq, 500, param, NULL, "out of memory");
        return false;
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, 400, param, "invalid_value", "'%s': %s", param, llamac_last_error());
        return false;
    }
    return true;
}

bool chat_input_parse(struct request *rq, json_t *body, struct chat_input *ci) {
    memset(ci, 0, sizeof *ci);
    json_t *messages = json_object_get(body, "messages");
    json_t *tools = json_object_get(body, "tools");
    json_t *kwargs = json_object_get(body, "chat_template_kwargs");
    if (!messages) {
        reply_error(rq, 400, "messages", "missing_required_parameter", "'messages' is required");
        return false;
    }
    if (!json_is_array(messages) || json_array_size(messages) == 0) {
        reply_error(rq, 400, "messages", "invalid_type", "'messages' must be a non-empty array of messages");
        return false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        json_t *role = json_object_get(m, "role");
        if (!json_is_object(m) || !json_is_string(role)) {
            reply_error(rq, 400, "messages", "invalid_type", "'messages[%zu]' must be an object with a string 'role'",
                        i);
            return false;
        }
        json_t *content = json_object_get(m, "content");
        if (content && !json_is_null(content) && !json_is_string(content) && !json_is_array(content)) {
            reply_error(rq, 400, "messages", "invalid_type",
                        "'messages[%zu].content' must be a string or an array of content parts", i);
            return false;
        }
    }
    if (tools && !json_is_null(tools) && !json_is_array(tools)) {
        reply_error(rq, 400, "tools", "invalid_type", "'tools' must be an array");
        return false;
    }
    if (kwargs && !json_is_null(kwargs) && !json_is_object(kwargs)) {
        reply_error(rq, 400, "chat_template_kwargs", "invalid_type", "'chat_template_kwargs' must be an object");
        return false;
    }
    ci->add_generation_prompt = true;
    json_t *agp = json_object_get(body, "add_generation_prompt");
    if (json_is_boolean(agp)) {
        ci->add_generation_prompt = json_is_true(agp);
    }
    ci->messages = json_dumps(messages, JSON_COMPACT);
    ci->tools = json_is_array(tools) ? json_dumps(tools, JSON_COMPACT) : NULL;
    ci->kwargs = json_is_object(kwargs) ? json_dumps(kwargs, JSON_COMPACT) : NULL;
    if (!ci->messages || (json_is_array(tools) && !ci->tools) || (json_is_object(kwargs) && !ci->kwargs)) {
        chat_input_free(ci);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    return true;
}

void chat_input_free(struct chat_input *ci) {
    free(ci->messages);
    free(ci->tools);
    free(ci->kwargs);
    memset(ci, 0, sizeof *ci);
}

llamac_template_apply_params chat_input_params(const struct chat_input *ci) {
    llamac_template_apply_params p = llamac_template_apply_params_default();
    p.messages_json = ci->messages;
    p.tools_json = ci->tools;
    p.chat_template_kwargs_json = ci->kwargs;
    p.add_generation_prompt = ci->add_generation_prompt;
    return p;
}

bool chat_reply_render_error(struct request *rq, llamac_status st) {
    switch (st) {
    case LLAMAC_OK: return false;
    case LLAMAC_E_NO_MEMORY: reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error()); break;
    case LLAMAC_E_UNSUPPORTED: reply_error(rq, 400, "messages", "unsupported_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_INVALID_ARGUMENT:
        reply_error(rq, 400, "messages", "invalid_value", "%s", llamac_last_error());
        break;
    default: reply_error(rq, 400, "messages", "template_error", "%s", llamac_last_error()); break;
    }
    return true;
}

bool render_chat(struct request *rq, const struct chat_input *ci, char **out, size_t *len) {
    if (!rq->s->tmpl) {
        reply_error(rq, 400, "messages", "no_chat_template",
                    "the model has no chat template; use /v1/completions or start the server with "
                    "--chat-template-file");
        return false;
    }
    llamac_template_apply_params p = chat_input_params(ci);
    return !chat_reply_render_error(rq, llamac_template_apply(rq->s->tmpl, rq->s->model, &p, out, len));
}

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
    reply_json(rq, 200, json_pack("{s:s, s:[o]}", "object", "list", "data", model));
}

void handle_tokenize(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    const char *content = NULL;
    bool add_special = false, parse_special = true, with_pieces = false;
    llamac_token *t = NULL;
    size_t n = 0;
    json_t *c = json_object_get(body, "content");
    if (!c) {
        reply_error(rq, 400, "content", "missing_required_parameter", "'content' is required");
        goto done;
    }
    if (!field_str(rq, body, "content", &content) || !field_bool(rq, body, "add_special", &add_special) ||
        !field_bool(rq, body, "parse_special", &parse_special) || !field_bool(rq, body, "with_pieces", &with_pieces)) {
        goto done;
    }
    if (!content) {
        reply_error(rq, 400, "content", "invalid_type", "'content' must be a string");
        goto done;
    }
    unsigned flags =
        (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u) | (parse_special ? LLAMAC_TOKENIZE_PARSE_SPECIAL : 0u);
    llamac_status st = llamac_tokenize(rq->s->model, content, json_string_length(c), flags, &t, &n);
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, "content", "invalid_value", "%s", llamac_last_error());
        goto done;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        if (!with_pieces) {
            json_array_append_new(arr, json_integer(t[i]));
            continue;
        }
        char piece[256];
        size_t needed = 0;
        if (llamac_token_to_piece(rq->s->model, t[i], true, piece, sizeof piece, &needed) != LLAMAC_OK) {
            needed = 0;
        }
        json_t *p;
        if (llamac_utf8_valid(piece, needed, NULL)) {
            p = json_stringn(piece, needed);
        } else {
            /* part of a character: the bytes, as llama-server gives them */
            p = json_array();
            for (size_t k = 0; k < needed; k++) {
                json_array_append_new(p, json_integer((unsigned char)piece[k]));
            }
        }
        json_array_append_new(arr, json_pack("{s:i, s:o}", "id", (int)t[i], "piece", p));
    }
    reply_json(rq, 200, json_pack("{s:o}", "tokens", arr));
done:
    llamac_free(t);
    json_decref(body);
}

void handle_detokenize(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    llamac_token *t = NULL;
    char *text = NULL;
    size_t len = 0;
    json_t *arr = json_object_get(body, "tokens");
    if (!json_is_array(arr)) {
        reply_error(rq, 400, "tokens", arr ? "invalid_type" : "missing_required_parameter",
                    "'tokens' must be an array of token ids");
        goto done;
    }
    size_t n = json_array_size(arr);
    t = malloc((n ? n : 1) * sizeof *t);
    if (!t) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto done;
    }
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    for (size_t i = 0; i < n; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            reply_error(rq, 400, "tokens", "invalid_value", "'tokens[%zu]' must be a token id from 0 to %d", i,
                        (int)n_vocab - 1);
            goto done;
        }
        t[i] = (llamac_token)json_integer_value(v);
    }
    if (n > 0 && llamac_detokenize(rq->s->model, t, n, LLAMAC_DETOKENIZE_UNPARSE_SPECIAL, &text, &len) != LLAMAC_OK) {
        reply_error(rq, 400, "tokens", "invalid_value", "%s", llamac_last_error());
        goto done;
    }
    /* ids may end inside a character: invalid bytes become U+FFFD, as JSON needs valid text */
    json_t *content = text ? json_stringn(text, len) : json_string("");
    if (!content) {
        llamac_utf8_stream *u = NULL;
        const char *ok_text = "";
        size_t ok_len = 0;
        char *joined = NULL;
        if (llamac_utf8_stream_new(&u) == LLAMAC_OK) {
            const char *a = NULL, *b = NULL;
            size_t alen = 0, blen = 0;
            llamac_utf8_stream_push(u, text, len, &a, &alen);
            joined = malloc(alen + 8);
            if (joined) {
                memcpy(joined, a, alen);
                llamac_utf8_stream_flush(u, &b, &blen);
                if (blen <= 8) {
                    memcpy(joined + alen, b, blen);
                    ok_text = joined;
                    ok_len = alen + blen;
                }
            }
        }
        content = json_stringn(ok_text, ok_len);
        free(joined);
        llamac_utf8_stream_free(u);
    }
    reply_json(rq, 200, json_pack("{s:o}", "content", content));
done:
    free(t);
    llamac_free(text);
    json_decref(body);
}

void handle_apply_template(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    char *text = NULL;
    size_t len = 0;
    struct chat_input ci;
    if (chat_input_parse(rq, body, &ci) && render_chat(rq, &ci, &text, &len)) {
        reply_json(rq, 200, json_pack("{s:s%}", "prompt", text, len));
    }
    chat_input_free(&ci);
    llamac_free(text);
    json_decref(body);
}
