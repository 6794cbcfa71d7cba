/*
 * anthropic.c - the Anthropic Messages dialect: POST /v1/messages and /v1/messages/count_tokens, for the clients
 * and coding agents that speak Anthropic's API (the official SDKs among them).
 *
 * A Messages body becomes the OpenAI-format conversation the library renders (system prompt first, content blocks
 * into text parts, tool_use blocks into tool calls, tool_result blocks into tool messages, thinking blocks into
 * reasoning_content), then the same parsed generation request as every dialect (request.h). Results come back as
 * Anthropic's message object and its event stream: message_start, ping, content_block_start / _delta / _stop per
 * block (thinking, text, each tool_use; job.c opens and closes them), message_delta with the stop reason and usage,
 * message_stop. Errors have Anthropic's shape, {"type": "error", "error": {"type", "message"}}.
 */
#include "complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- errors ---- */

static const char *error_type(unsigned status) {
    switch (status) {
    case 401: return "authentication_error";
    case 403: return "permission_error";
    case 404: return "not_found_error";
    case 413: return "request_too_large";
    case 429: return "rate_limit_error";
    case 503: return "overloaded_error";
    default: return status >= 500 ? "api_error" : "invalid_request_error";
    }
}

json_t *anthropic_error(unsigned status, const char *param, const char *code, const char *message) {
    (void)param;
    (void)code;
    return json_pack("{s:s, s:{s:s, s:s}}", "type", "error", "error", "type", error_type(status), "message", message);
}

/* ---- responses ---- */

static const char *stop_reason(const struct result *r) {
    switch (result_finish(r)) {
    case FINISH_LENGTH: return "max_tokens";
    case FINISH_TOOL_CALLS: return "tool_use";
    case FINISH_STOP_WORD: return "stop_sequence";
    default: return "end_turn";
    }
}

static json_t *stop_sequence(const struct result *r) {
    return result_finish(r) == FINISH_STOP_WORD ? json_string(r->stop_word) : json_null();
}

/* Anthropic counts the prompt tokens read from the cache apart from input_tokens. */
static json_t *usage_json(const struct job *j) {
    struct totals t;
    job_totals(j, &t);
    return json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)(t.prompt - t.cached),
                     "cache_creation_input_tokens", (json_int_t)0, "cache_read_input_tokens", (json_int_t)t.cached,
                     "output_tokens", (json_int_t)t.generated);
}

static json_t *message_new(const struct job *j, json_t *content) {
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", j->id, "type", "message", "role", "assistant", "model",
                     j->model_id, "content", content);
}

static json_t *tool_use_block(const char *id, const char *name, json_t *input) {
    return json_pack("{s:s, s:s, s:s, s:o}", "type", "tool_use", "id", id, "name", name, "input", input);
}

static void respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    (void)gr;
    struct result *r = &j->choices[0].r;
    llamac_tool_message *m = reply_message(rq, j);
    if (!m) {
        return;
    }
    json_t *content = json_array();
    if (m->reasoning_content[0]) {
        json_array_append_new(content, json_pack("{s:s, s:o, s:s}", "type", "thinking", "thinking",
                                                 text_json(m->reasoning_content, strlen(m->reasoning_content)),
                                                 "signature", ""));
    }
    if (m->content[0]) {
        json_array_append_new(
            content, json_pack("{s:s, s:o}", "type", "text", "text", text_json(m->content, strlen(m->content))));
    }
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        const llamac_tool_call *c = &m->tool_calls[i];
        json_array_append_new(content, tool_use_block(c->id, c->name, arguments_json(c->arguments)));
    }
    llamac_tool_message_free(m);
    json_t *msg = message_new(j, content);
    json_object_set_new(msg, "stop_reason", json_string(stop_reason(r)));
    json_object_set_new(msg, "stop_sequence", stop_sequence(r));
    json_object_set_new(msg, "usage", usage_json(j));
    reply_json(rq, 200, msg);
}

static void event(llamac__dynbuf *out, const char *type, json_t *data) {
    json_object_set_new(data, "type", json_string(type));
    sse_event(out, type, data);
}

static void block_delta(llamac__dynbuf *out, size_t index, json_t *delta) {
    event(out, "content_block_delta", json_pack("{s:I, s:o}", "index", (json_int_t)index, "delta", delta));
}

static void stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    const struct result *r = &j->choices[0].r;
    switch (d->kind) {
    case DELTA_START: {
        json_t *msg = message_new(j, json_array());
        json_object_set_new(msg, "stop_reason", json_null());
        json_object_set_new(msg, "stop_sequence", json_null());
        json_object_set_new(msg, "usage",
                            json_pack("{s:I, s:I, s:I, s:I}", "input_tokens", (json_int_t)r->n_prompt,
                                      "cache_creation_input_tokens", (json_int_t)0, "cache_read_input_tokens",
                                      (json_int_t)0, "output_tokens", (json_int_t)0));
        event(out, "message_start", json_pack("{s:o}", "message", msg));
        event(out, "ping", json_object());
        break;
    }
    case DELTA_BLOCK_START: {
        json_t *block;
        if (d->block_kind == DELTA_TOOL_CALL) {
            block = tool_use_block(d->tool_id ? d->tool_id : "", d->tool_name ? d->tool_name : "", json_object());
        } else if (d->block_kind == DELTA_REASONING) {
            block = json_pack("{s:s, s:s, s:s}", "type", "thinking", "thinking", "", "signature", "");
        } else {
            block = json_pack("{s:s, s:s}", "type", "text", "text", "");
        }
        event(out, "content_block_start",
              json_pack("{s:I, s:o}", "index", (json_int_t)d->block, "content_block", block));
        break;
    }
    case DELTA_TEXT:
        if (d->len > 0) {
            block_delta(out, d->block,
                        json_pack("{s:s, s:o}", "type", "text_delta", "text", text_json(d->text, d->len)));
        }
        break;
    case DELTA_REASONING:
        block_delta(out, d->block,
                    json_pack("{s:s, s:o}", "type", "thinking_delta", "thinking", text_json(d->text, d->len)));
        break;
    case DELTA_TOOL_CALL:
        if (d->len > 0) {
            block_delta(
                out, d->block,
                json_pack("{s:s, s:o}", "type", "input_json_delta", "partial_json", text_json(d->text, d->len)));
        }
        break;
    case DELTA_BLOCK_STOP:
        if (d->block_kind == DELTA_REASONING) {
            /* Anthropic's clients expect a signature before a thinking block closes; a local model has none */
            block_delta(out, d->block, json_pack("{s:s, s:s}", "type", "signature_delta", "signature", ""));
        }
        event(out, "content_block_stop", json_pack("{s:I}", "index", (json_int_t)d->block));
        break;
    case DELTA_END: {
        json_t *usage = usage_json(j);
        event(out, "message_delta",
              json_pack("{s:{s:s, s:o}, s:o}", "delta", "stop_reason", stop_reason(r), "stop_sequence",
                        stop_sequence(r), "usage", usage));
        event(out, "message_stop", json_object());
        break;
    }
    case DELTA_ERROR:
        sse_event(out, "error", anthropic_error(500, NULL, NULL, d->text ? d->text : "generation failed"));
        break;
    default: break;
    }
}

/* ---- requests: Anthropic's conversation as the library renders it ---- */

/* The text of a block array's text blocks (a system prompt, a tool result), joined as llama-server joins them;
 * false after replying when a block is not text (`what` names the place). */
static bool text_blocks(struct request *rq, json_t *blocks, const char *what, llamac__dynbuf *out) {
    size_t i;
    json_t *b;
    json_array_foreach(blocks, i, b) {
        const char *type = json_string_value(json_object_get(b, "type"));
        json_t *text = json_object_get(b, "text");
        if (!type || strcmp(type, "text") != 0 || !json_is_string(text)) {
            bool image = type && strcmp(type, "image") == 0;
            reply_error(rq, 400, what, "invalid_value", "'%s[%zu]' %s", what, i,
                        image ? "is an image: image input is not supported by this server (no multimodal model)"
                              : "must be a text block {\"type\": \"text\", \"text\": string}");
            return false;
        }
        if (!llamac__dynbuf_add(out, json_string_value(text), json_string_length(text))) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
            return false;
        }
    }
    return true;
}

/* A tool_result block as a tool message. */
static json_t *tool_result(struct request *rq, json_t *b, const char *where) {
    const char *id = json_string_value(json_object_get(b, "tool_use_id"));
    if (!id) {
        reply_error(rq, 400, "messages", "invalid_value", "'%s.tool_use_id' must be a string", where);
        return NULL;
    }
    json_t *c = json_object_get(b, "content");
    llamac__dynbuf text = LLAMAC__DYNBUF(SERVER_BUF_MAX);
    if (json_is_string(c)) {
        llamac__dynbuf_add(&text, json_string_value(c), json_string_length(c));
    } else if (json_is_array(c)) {
        char what[96];
        snprintf(what, sizeof what, "%s.content", where);
        if (!text_blocks(rq, c, what, &text)) {
            llamac__dynbuf_free(&text);
            return NULL;
        }
    } else if (c && !json_is_null(c)) {
        reply_error(rq, 400, "messages", "invalid_type", "'%s.content' must be a string or an array of blocks", where);
        return NULL;
    }
    json_t *m =
        json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id", id, "content", text_json(text.p, text.len));
    llamac__dynbuf_free(&text);
    return m;
}

/* An image block ({"source": {"type": "base64", "media_type", "data"}} or {"type": "url", "url"}) as an OpenAI
 * image_url part, which the server's projector reads where every dialect's media are read (chat_input_set). */
static json_t *image_part(struct request *rq, json_t *b, const char *where) {
    json_t *src = json_object_get(b, "source");
    const char *type = json_string_value(json_object_get(src, "type"));
    const char *media_type = json_string_value(json_object_get(src, "media_type"));
    const char *data = json_string_value(json_object_get(src, "data"));
    const char *url = json_string_value(json_object_get(src, "url"));
    if (type && strcmp(type, "base64") == 0 && media_type && data) {
        llamac__dynbuf u = LLAMAC__DYNBUF(SIZE_MAX / 2);
        llamac__dynbuf_addf(&u, "data:%s;base64,", media_type);
        llamac__dynbuf_adds(&u, data);
        char *s = llamac__dynbuf_take(&u, NULL);
        json_t *part = s ? json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", s) : NULL;
        free(s);
        if (!part) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
        }
        return part;
    }
    if (type && strcmp(type, "url") == 0 && url) {
        return json_pack("{s:s, s:{s:s}}", "type", "image_url", "image_url", "url", url);
    }
    reply_error(rq, 400, "messages", "invalid_value",
                "'%s.source' must be {\"type\": \"base64\", \"media_type\", \"data\"} or {\"type\": \"url\", \"url\"}",
                where);
    return NULL;
}

/* One Anthropic message into OpenAI-format messages appended to `out`: its tool results (as tool messages) first,
 * then the message with its text parts, tool calls and reasoning. */
static bool convert_message(struct request *rq, json_t *msg, size_t index, json_t *out) {
    const char *role = json_string_value(json_object_get(msg, "role"));
    if (!json_is_object(msg) || !role || (strcmp(role, "user") != 0 && strcmp(role, "assistant") != 0)) {
        reply_error(rq, 400, "messages", "invalid_value",
                    "'messages[%zu]' must be an object whose 'role' is \"user\" or \"assistant\"", index);
        return false;
    }
    json_t *content = json_object_get(msg, "content");
    if (json_is_string(content)) {
        json_array_append_new(out, json_pack("{s:s, s:O}", "role", role, "content", content));
        return true;
    }
    if (!json_is_array(content)) {
        reply_error(rq, 400, "messages", "invalid_type",
                    "'messages[%zu].content' must be a string or an array of content blocks", index);
        return false;
    }
    json_t *parts = json_array(), *calls = json_array(), *results = json_array();
    llamac__dynbuf reasoning = LLAMAC__DYNBUF(SERVER_BUF_MAX);
    bool ok = true;
    size_t k;
    json_t *b;
    json_array_foreach(content, k, b) {
        char where[64];
        snprintf(where, sizeof where, "messages[%zu].content[%zu]", index, k);
        const char *type = json_string_value(json_object_get(b, "type"));
        if (!type) {
            reply_error(rq, 400, "messages", "invalid_type", "'%s' must be a content block with a string 'type'",
                        where);
            ok = false;
        } else if (strcmp(type, "text") == 0) {
            json_t *text = json_object_get(b, "text");
            ok = json_is_string(text);
            if (ok) {
                json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "text", text));
            } else {
                reply_error(rq, 400, "messages", "invalid_type", "'%s.text' must be a string", where);
            }
        } else if (strcmp(type, "thinking") == 0) {
            json_t *t = json_object_get(b, "thinking");
            ok = json_is_string(t) && llamac__dynbuf_add(&reasoning, json_string_value(t), json_string_length(t));
            if (!ok) {
                reply_error(rq, 400, "messages", "invalid_type", "'%s.thinking' must be a string", where);
            }
        } else if (strcmp(type, "redacted_thinking") == 0) {
            /* encrypted reasoning of another model: nothing a local template can show */
        } else if (strcmp(type, "tool_use") == 0) {
            const char *id = json_string_value(json_object_get(b, "id"));
            const char *name = json_string_value(json_object_get(b, "name"));
            json_t *input = json_object_get(b, "input");
            char *args = json_is_object(input) ? json_dumps(input, JSON_COMPACT) : NULL;
            ok = id && name && args;
            if (ok) {
                json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", id, "type", "function",
                                                       "function", "name", name, "arguments", args));
            } else {
                reply_error(rq, 400, "messages", "invalid_value",
                            "'%s' must have a string 'id', a string 'name' and an object 'input'", where);
            }
            free(args);
        } else if (strcmp(type, "tool_result") == 0) {
            json_t *m = tool_result(rq, b, where);
            ok = m != NULL;
            json_array_append_new(results, m);
        } else if (strcmp(type, "image") == 0 && rq->s->mmproj) {
            json_t *part = image_part(rq, b, where);
            ok = part != NULL;
            json_array_append_new(parts, part);
        } else if (strcmp(type, "image") == 0) {
            reply_error(rq, 400, "messages", "unsupported_value",
                        "'%s' is an image: image input is not supported by this server (no multimodal model)", where);
            ok = false;
        } else {
            reply_error(rq, 400, "messages", "unsupported_value",
                        "'%s' is of type \"%s\", which this server does not take", where, type);
            ok = false;
        }
        if (!ok) {
            break;
        }
    }
    if (ok) {
        json_array_extend(out, results);
        if (json_array_size(parts) > 0 || json_array_size(calls) > 0 || reasoning.len > 0) {
            json_t *m = json_pack("{s:s}", "role", role);
            json_object_set_new(m, "content", json_array_size(parts) > 0 ? json_incref(parts) : json_string(""));
            if (json_array_size(calls) > 0) {
                json_object_set(m, "tool_calls", calls);
            }
            if (reasoning.len > 0) {
                json_object_set_new(m, "reasoning_content", text_json(reasoning.p, reasoning.len));
            }
            json_array_append_new(out, m);
        }
    }
    json_decref(parts);
    json_decref(calls);
    json_decref(results);
    llamac__dynbuf_free(&reasoning);
    return ok;
}

/* Anthropic tools ({name, description, input_schema}), as tools_to_openai converts them. */
static const struct tool_shape tool_shape = { .type = "custom",
                                              .type_optional = true,
                                              .others = "server tools",
                                              .runs = "custom tools",
                                              .schema_key = "input_schema" };

/* The system prompt, the messages, the tools and `thinking` of a body as the conversation to render. */
static bool parse_conversation(struct request *rq, json_t *body, struct chat_input *ci, json_t **tools_out) {
    memset(ci, 0, sizeof *ci);
    *tools_out = NULL;
    json_t *messages = json_object_get(body, "messages");
    if (!json_is_array(messages)) {
        reply_error(rq, 400, "messages", messages ? "invalid_type" : "missing_required_parameter",
                    "'messages' must be an array of messages");
        return false;
    }
    json_t *oai = json_array();
    bool ok = true;
    json_t *system = json_object_get(body, "system");
    if (json_is_string(system)) {
        json_array_append_new(oai, json_pack("{s:s, s:O}", "role", "system", "content", system));
    } else if (json_is_array(system)) {
        llamac__dynbuf text = LLAMAC__DYNBUF(SERVER_BUF_MAX);
        ok = text_blocks(rq, system, "system", &text);
        if (ok) {
            json_array_append_new(oai,
                                  json_pack("{s:s, s:o}", "role", "system", "content", text_json(text.p, text.len)));
        }
        llamac__dynbuf_free(&text);
    } else if (system && !json_is_null(system)) {
        reply_error(rq, 400, "system", "invalid_type", "'system' must be a string or an array of text blocks");
        ok = false;
    }
    size_t i;
    json_t *m;
    json_array_foreach(messages, i, m) {
        if (!ok) {
            break;
        }
        ok = convert_message(rq, m, i, oai);
    }
    json_t *tools = NULL;
    ok = ok && tools_to_openai(rq, json_object_get(body, "tools"), &tool_shape, &tools);
    ok = ok && chat_input_set(rq, ci, oai, tools, json_object_get(body, "chat_template_kwargs"), "messages", true);
    json_decref(oai);
    /* thinking: {"type": "enabled", "budget_tokens": N} | {"type": "disabled"} | {"type": "adaptive"} */
    json_t *th = json_object_get(body, "thinking");
    if (ok && th && !json_is_null(th)) {
        const char *type = json_string_value(json_object_get(th, "type"));
        bool on = type && (strcmp(type, "enabled") == 0 || strcmp(type, "adaptive") == 0);
        if (!type || (!on && strcmp(type, "disabled") != 0)) {
            reply_error(rq, 400, "thinking", "invalid_value",
                        "'thinking.type' must be \"enabled\", \"adaptive\" or \"disabled\"");
            ok = false;
        } else {
            ok = chat_input_thinking(rq, ci, on ? 1 : 0, NULL);
        }
    }
    if (ok) {
        *tools_out = tools;
    } else {
        json_decref(tools);
    }
    return ok;
}

/* tool_choice: {"type": "auto" | "any" | "tool" (with "name") | "none", "disable_parallel_tool_use"}. */
static bool parse_tool_choice(struct request *rq, json_t *body, struct gen_request *gr, json_t *tools) {
    json_t *tc = json_object_get(body, "tool_choice");
    llamac_tool_choice choice = LLAMAC_TOOL_CHOICE_AUTO;
    const char *name = NULL;
    bool parallel = true;
    if (tc && !json_is_null(tc)) {
        const char *type = json_string_value(json_object_get(tc, "type"));
        json_t *dp = json_object_get(tc, "disable_parallel_tool_use");
        if (json_is_boolean(dp)) {
            parallel = !json_is_true(dp);
        }
        if (!type) {
            reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice' must be an object with a string 'type'");
            return false;
        } else if (strcmp(type, "any") == 0) {
            choice = LLAMAC_TOOL_CHOICE_REQUIRED;
        } else if (strcmp(type, "none") == 0) {
            choice = LLAMAC_TOOL_CHOICE_NONE;
        } else if (strcmp(type, "tool") == 0) {
            choice = LLAMAC_TOOL_CHOICE_NAMED;
            name = json_string_value(json_object_get(tc, "name"));
            if (!name) {
                reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice.name' must be a string");
                return false;
            }
        } else if (strcmp(type, "auto") != 0) {
            reply_error(rq, 400, "tool_choice", "invalid_value",
                        "'tool_choice.type' must be \"auto\", \"any\", \"tool\" or \"none\", not \"%s\"", type);
            return false;
        }
    }
    return gen_request_tools(rq, gr, tools, choice, name, parallel, "tool_choice");
}

static const struct sampling_names anthropic_names = {
    .max_tokens = "max_tokens",
    .max_tokens_min = 1,
    .temperature = "temperature",
    .top_p = "top_p",
    .top_k = "top_k",
    .stop = "stop_sequences",
};

/* A Messages body into *gr (initialised by the caller; gen_request_free, also after failing); false after
 * replying. */
/* `model` is required, as Anthropic's API requires it (any name: the server has one model). */
static bool require_model(struct request *rq, json_t *body) {
    const char *model = NULL;
    if (!field_str(rq, body, "model", &model)) {
        return false;
    }
    if (!model) {
        reply_error(rq, 400, "model", "missing_required_parameter", "model: Field required");
        return false;
    }
    return true;
}

static bool parse(struct request *rq, json_t *body, struct gen_request *gr) {
    json_t *metadata = json_object_get(body, "metadata");
    if (!require_model(rq, body) || !gen_request_sampling(rq, gr, body, &anthropic_names) ||
        !field_bool(rq, body, "stream", &gr->stream)) {
        return false;
    }
    if (metadata && !json_is_null(metadata) && !json_is_object(metadata)) {
        reply_error(rq, 400, "metadata", "invalid_type", "'metadata' must be an object");
        return false;
    }
    /* thinking enabled: its budget_tokens (10000 when absent, as llama-server) is the reasoning budget; the type is
     * checked with the conversation */
    json_t *th = json_object_get(body, "thinking");
    const char *th_type = json_string_value(json_object_get(th, "type"));
    if (th_type && strcmp(th_type, "enabled") == 0) {
        long long budget = 10000;
        if (!field_int(rq, th, "budget_tokens", 0, INT32_MAX, &budget)) {
            return false;
        }
        gen_request_set_budget(gr, budget);
    }
    struct chat_input ci;
    json_t *tools = NULL;
    bool ok = parse_conversation(rq, body, &ci, &tools) && parse_tool_choice(rq, body, gr, tools) &&
              gen_request_chat(rq, gr, &ci) && gen_request_finish(rq, gr);
    chat_input_free(&ci);
    json_decref(tools);
    return ok;
}

bool anthropic_request_check(struct request *rq, json_t *body) {
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    bool ok = parse(rq, body, &gr);
    gen_request_free(&gr);
    return ok;
}

static const struct dialect anthropic = { "msg_", "text/event-stream", stream_event, respond, parse, false };

void handle_anthropic_messages(struct request *rq) {
    handle_generation(rq, &anthropic);
}

void handle_anthropic_count_tokens(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    struct chat_input ci;
    json_t *tools = NULL;
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    memset(&ci, 0, sizeof ci);
    const char *model = NULL; /* optional here, as llama-server's (a sleeping server's token counts name none) */
    if (field_str(rq, body, "model", &model) && parse_conversation(rq, body, &ci, &tools) &&
        gen_request_chat(rq, &gr, &ci)) {
        reply_json(rq, 200, json_pack("{s:I}", "input_tokens", (json_int_t)gen_request_prompt_length(&gr, 0)));
    }
    chat_input_free(&ci);
    json_decref(tools);
    gen_request_free(&gr);
    json_decref(body);
}
