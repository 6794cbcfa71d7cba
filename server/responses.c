/*
 * responses.c - the OpenAI Responses dialect: POST /v1/responses (and /responses), for the newer OpenAI clients.
 *
 * Stateless: the server keeps no responses, so `store: true`, `previous_response_id`, `conversation` and
 * `background` are refused with a 400 that says so, rather than accepted and forgotten. `input` (a string, or
 * items: messages, function_call, function_call_output, reasoning) and `instructions` become the OpenAI-format
 * conversation the library renders; tools, tool_choice, text.format, reasoning and the sampling fields go to the
 * same parsed generation request as every dialect (request.h). The reply is a response object whose output items
 * are the reply's blocks in order (reasoning, message, function_call); streamed, the Responses events
 * (response.created, response.output_item.added, response.output_text.delta,
 * response.function_call_arguments.delta, ..., response.completed), each with its sequence_number; with
 * llama-server's return_progress, response.in_progress events with its prompt_progress, and with its
 * timings_per_token, timings on the text deltas (response.completed always has the reply's). Errors have OpenAI's
 * shape.
 */
#include "complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- responses ---- */

/* What a response object echoes of its request. */
struct echo {
    json_t *tools, *tool_choice, *text, *reasoning, *instructions, *metadata;
    double temperature, top_p;
    long long max_output_tokens;
    bool parallel_tool_calls;
};

/* The output item of a block: `index` makes its id (the job's id after "resp_", then the index). */
static json_t *item_json(const struct job *j, size_t index, enum delta_kind kind, const char *text, size_t len,
                         const char *call_id, const char *name, const char *status) {
    char id[96];
    const char *base = j->id + strlen("resp_");
    if (kind == DELTA_TOOL_CALL) {
        snprintf(id, sizeof id, "fc_%s_%zu", base, index);
        return json_pack("{s:s, s:s, s:s, s:s, s:s, s:o}", "id", id, "type", "function_call", "status", status,
                         "call_id", call_id ? call_id : "", "name", name ? name : "", "arguments",
                         text_json(text, len));
    }
    if (kind == DELTA_REASONING) {
        snprintf(id, sizeof id, "rs_%s_%zu", base, index);
        return json_pack("{s:s, s:s, s:s, s:[], s:[{s:s, s:o}]}", "id", id, "type", "reasoning", "status", status,
                         "summary", "content", "type", "reasoning_text", "text", text_json(text, len));
    }
    snprintf(id, sizeof id, "msg_%s_%zu", base, index);
    json_t *content = json_array();
    if (text) {
        json_array_append_new(content, json_pack("{s:s, s:o, s:[], s:[]}", "type", "output_text", "text",
                                                 text_json(text, len), "annotations", "logprobs"));
    }
    return json_pack("{s:s, s:s, s:s, s:s, s:o}", "id", id, "type", "message", "status", status, "role", "assistant",
                     "content", content);
}

static json_t *usage_json(const struct job *j) {
    struct totals t;
    job_totals(j, &t);
    return json_pack("{s:I, s:{s:I}, s:I, s:{s:I}, s:I}", "input_tokens", (json_int_t)t.prompt, "input_tokens_details",
                     "cached_tokens", (json_int_t)t.cached, "output_tokens", (json_int_t)t.generated,
                     "output_tokens_details", "reasoning_tokens", (json_int_t)0, "total_tokens",
                     (json_int_t)(t.prompt + t.generated));
}

/* The response object: `status` "in_progress", "completed" or "incomplete"; `output` stolen (NULL: []). */
static json_t *response_json(const struct job *j, const char *status, json_t *output) {
    const struct echo *e = j->dialect_data;
    json_t *r = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:n, s:n, s:b, s:b}", "id", j->id, "object", "response",
                          "created_at", (json_int_t)j->created, "status", status, "model", j->model_id, "output",
                          output ? output : json_array(), "error", "previous_response_id", "store", 0,
                          "parallel_tool_calls", e ? e->parallel_tool_calls : true);
    if (strcmp(status, "incomplete") == 0) {
        json_object_set_new(r, "incomplete_details", json_pack("{s:s}", "reason", "max_output_tokens"));
    } else {
        json_object_set_new(r, "incomplete_details", json_null());
    }
    if (e) {
        json_object_set_new(r, "instructions", e->instructions ? json_incref(e->instructions) : json_null());
        json_object_set_new(r, "metadata", e->metadata ? json_incref(e->metadata) : json_object());
        json_object_set_new(r, "tools", e->tools ? json_incref(e->tools) : json_array());
        json_object_set_new(r, "tool_choice", e->tool_choice ? json_incref(e->tool_choice) : json_string("auto"));
        json_object_set_new(r, "text",
                            e->text ? json_incref(e->text) : json_pack("{s:{s:s}}", "format", "type", "text"));
        json_object_set_new(r, "reasoning",
                            e->reasoning ? json_incref(e->reasoning) : json_pack("{s:n, s:n}", "effort", "summary"));
        json_object_set_new(r, "temperature", json_real(e->temperature));
        json_object_set_new(r, "top_p", json_real(e->top_p));
        json_object_set_new(r, "max_output_tokens",
                            e->max_output_tokens > 0 ? json_integer(e->max_output_tokens) : json_null());
    }
    if (strcmp(status, "in_progress") != 0) {
        json_object_set_new(r, "usage", usage_json(j));
        json_object_set_new(r, "completed_at", json_integer((json_int_t)time(NULL)));
    } else {
        json_object_set_new(r, "usage", json_null());
    }
    return r;
}

static const char *final_status(const struct result *r) {
    return result_finish(r) == FINISH_LENGTH ? "incomplete" : "completed";
}

static void respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    (void)gr;
    struct result *r = &j->choices[0].r;
    llamac_tool_message *m = reply_message(rq, j);
    if (!m) {
        return;
    }
    json_t *output = json_array();
    size_t n = 0;
    if (m->reasoning_content[0]) {
        json_array_append_new(output, item_json(j, n++, DELTA_REASONING, m->reasoning_content,
                                                strlen(m->reasoning_content), NULL, NULL, "completed"));
    }
    if (m->content[0] || (m->n_tool_calls == 0 && n == 0)) { /* an empty reply is one empty message */
        json_array_append_new(output,
                              item_json(j, n++, DELTA_TEXT, m->content, strlen(m->content), NULL, NULL, "completed"));
    }
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        const llamac_tool_call *c = &m->tool_calls[i];
        json_array_append_new(output, item_json(j, n++, DELTA_TOOL_CALL, c->arguments, strlen(c->arguments), c->id,
                                                c->name, "completed"));
    }
    llamac_tool_message_free(m);
    reply_json(rq, 200, response_json(j, final_status(r), output));
}

/* One event: `data` (stolen) gets its type and sequence number. */
static void event(struct job *j, llamac__dynbuf *out, const char *type, json_t *data) {
    json_object_set_new(data, "type", json_string(type));
    json_object_set_new(data, "sequence_number", json_integer((json_int_t)j->sequence++));
    sse_event(out, type, data);
}

/* The id an item has in the events (as item_json gives it). */
static void item_id(const struct job *j, const struct delta *d, char *id, size_t cap) {
    const char *prefix = d->block_kind == DELTA_TOOL_CALL ? "fc" : d->block_kind == DELTA_REASONING ? "rs" : "msg";
    snprintf(id, cap, "%s_%s_%zu", prefix, j->id + strlen("resp_"), d->block);
}

static void block_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    char id[96];
    struct delta b = *d;
    if (d->kind == DELTA_TEXT || d->kind == DELTA_REASONING || d->kind == DELTA_TOOL_CALL) {
        b.block_kind = d->kind;
    }
    item_id(j, &b, id, sizeof id);
    json_int_t at = (json_int_t)d->block;
    switch (d->kind) {
    case DELTA_BLOCK_START:
        event(j, out, "response.output_item.added",
              json_pack("{s:I, s:o}", "output_index", at, "item",
                        item_json(j, d->block, d->block_kind, d->block_kind == DELTA_TEXT ? NULL : "", 0, d->tool_id,
                                  d->tool_name, "in_progress")));
        if (d->block_kind == DELTA_TEXT) {
            event(j, out, "response.content_part.added",
                  json_pack("{s:s, s:I, s:i, s:{s:s, s:s, s:[]}}", "item_id", id, "output_index", at, "content_index",
                            0, "part", "type", "output_text", "text", "", "annotations"));
        }
        break;
    case DELTA_TEXT:
        if (d->len > 0) {
            json_t *ev = json_pack("{s:s, s:I, s:i, s:o, s:[]}", "item_id", id, "output_index", at, "content_index", 0,
                                   "delta", text_json(d->text, d->len), "logprobs");
            if (j->timings_per_token) { /* llama-server's */
                json_object_set_new(ev, "timings", stream_timings_json(j, d->choice));
            }
            event(j, out, "response.output_text.delta", ev);
        }
        break;
    case DELTA_REASONING:
        event(j, out, "response.reasoning_text.delta",
              json_pack("{s:s, s:I, s:i, s:o}", "item_id", id, "output_index", at, "content_index", 0, "delta",
                        text_json(d->text, d->len)));
        break;
    case DELTA_TOOL_CALL:
        if (d->len > 0) {
            event(j, out, "response.function_call_arguments.delta",
                  json_pack("{s:s, s:I, s:o}", "item_id", id, "output_index", at, "delta", text_json(d->text, d->len)));
        }
        break;
    case DELTA_BLOCK_STOP: {
        if (d->block_kind == DELTA_TEXT) {
            event(j, out, "response.output_text.done",
                  json_pack("{s:s, s:I, s:i, s:o, s:[]}", "item_id", id, "output_index", at, "content_index", 0, "text",
                            text_json(d->text, d->len), "logprobs"));
            event(j, out, "response.content_part.done",
                  json_pack("{s:s, s:I, s:i, s:{s:s, s:o, s:[]}}", "item_id", id, "output_index", at, "content_index",
                            0, "part", "type", "output_text", "text", text_json(d->text, d->len), "annotations"));
        } else if (d->block_kind == DELTA_REASONING) {
            event(j, out, "response.reasoning_text.done",
                  json_pack("{s:s, s:I, s:i, s:o}", "item_id", id, "output_index", at, "content_index", 0, "text",
                            text_json(d->text, d->len)));
        } else {
            event(j, out, "response.function_call_arguments.done",
                  json_pack("{s:s, s:I, s:o, s:s}", "item_id", id, "output_index", at, "arguments",
                            text_json(d->text, d->len), "name", d->tool_name ? d->tool_name : ""));
        }
        event(j, out, "response.output_item.done",
              json_pack("{s:I, s:o}", "output_index", at, "item",
                        item_json(j, d->block, d->block_kind, d->text, d->len, d->tool_id, d->tool_name, "completed")));
        break;
    }
    default: break;
    }
}

static void stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    switch (d->kind) {
    case DELTA_START:
        event(j, out, "response.created", json_pack("{s:o}", "response", response_json(j, "in_progress", NULL)));
        event(j, out, "response.in_progress", json_pack("{s:o}", "response", response_json(j, "in_progress", NULL)));
        break;
    case DELTA_END: {
        const struct choice *c = &j->choices[0];
        json_t *output = json_array();
        for (size_t i = 0; i < c->n_closed; i++) {
            const struct block *b = &c->closed[i];
            json_array_append_new(output,
                                  item_json(j, i, b->kind, b->text, b->len, b->tool_id, b->tool_name, "completed"));
        }
        const char *status = final_status(&c->r);
        /* with llama-server's timings of the whole reply */
        event(j, out, strcmp(status, "completed") == 0 ? "response.completed" : "response.incomplete",
              json_pack("{s:o, s:o}", "response", response_json(j, status, output), "timings", timings_json(&c->r)));
        break;
    }
    case DELTA_PROGRESS: {
        /* llama-server's return_progress: an in_progress event per chunk of the prompt decoded */
        json_t *ev = json_pack("{s:o, s:o}", "response", response_json(j, "in_progress", NULL), "prompt_progress",
                               progress_json(d->progress));
        if (j->timings_per_token) {
            json_object_set_new(ev, "timings", progress_timings_json(d->progress));
        }
        event(j, out, "response.in_progress", ev);
        break;
    }
    case DELTA_ERROR: {
        json_t *r = response_json(j, "failed", NULL);
        json_object_set_new(
            r, "error",
            json_pack("{s:s, s:s%}", "code", "server_error", "message", d->text ? d->text : "", d->text ? d->len : 0));
        event(j, out, "response.failed", json_pack("{s:o}", "response", r));
        break;
    }
    default: block_event(j, d, out); break;
    }
}

static void echo_free(void *p) {
    struct echo *e = p;
    if (e) {
        json_decref(e->tools);
        json_decref(e->tool_choice);
        json_decref(e->text);
        json_decref(e->reasoning);
        json_decref(e->instructions);
        json_decref(e->metadata);
        free(e);
    }
}

/* ---- requests: input items as the conversation the library renders ---- */

/* Content parts of an input message as OpenAI chat parts (input_text / output_text into text parts). */
static json_t *convert_parts(struct request *rq, json_t *content, const char *where) {
    if (json_is_string(content)) {
        return json_incref(content);
    }
    if (!json_is_array(content)) {
        reply_error(rq, 400, "input", "invalid_type", "'%s.content' must be a string or an array of content parts",
                    where);
        return NULL;
    }
    json_t *parts = json_array();
    size_t i;
    json_t *p;
    json_array_foreach(content, i, p) {
        const char *type = json_string_value(json_object_get(p, "type"));
        json_t *text = json_object_get(p, "text");
        if (type && (strcmp(type, "input_text") == 0 || strcmp(type, "output_text") == 0) && json_is_string(text)) {
            json_array_append_new(parts, json_pack("{s:s, s:O}", "type", "text", "text", text));
        } else if (type && strcmp(type, "refusal") == 0 && json_is_string(json_object_get(p, "refusal"))) {
            json_array_append_new(parts,
                                  json_pack("{s:s, s:O}", "type", "text", "text", json_object_get(p, "refusal")));
        } else if (type && strcmp(type, "input_image") == 0 && rq->s->mmproj &&
                   json_is_string(json_object_get(p, "image_url"))) {
            /* {"type": "input_image", "image_url": "data:..."}: read where every dialect's media are read */
            json_array_append_new(parts, json_pack("{s:s, s:{s:O}}", "type", "image_url", "image_url", "url",
                                                   json_object_get(p, "image_url")));
        } else {
            bool media = type && (strcmp(type, "input_image") == 0 || strcmp(type, "input_file") == 0 ||
                                  strcmp(type, "input_audio") == 0);
            reply_error(rq, 400, "input", media ? "unsupported_value" : "invalid_value", "'%s.content[%zu]' %s%s%s",
                        where, i,
                        media ? "is of type \"" : "must be an input_text or output_text part with a string 'text'",
                        media ? type : "", media ? "\": media input is not supported by this server" : "");
            json_decref(parts);
            return NULL;
        }
    }
    return parts;
}

/* The last message of `out` when it is the assistant's (calls and reasoning join it), else a new one. */
static json_t *assistant_tail(json_t *out) {
    json_t *last = json_array_get(out, json_array_size(out) - 1);
    const char *role = json_string_value(json_object_get(last, "role"));
    if (last && role && strcmp(role, "assistant") == 0) {
        return last;
    }
    json_t *m = json_pack("{s:s, s:s}", "role", "assistant", "content", "");
    json_array_append_new(out, m);
    return m;
}

static bool convert_item(struct request *rq, json_t *item, size_t index, json_t *out) {
    char where[48];
    snprintf(where, sizeof where, "input[%zu]", index);
    if (!json_is_object(item)) {
        reply_error(rq, 400, "input", "invalid_type", "'%s' must be an object", where);
        return false;
    }
    const char *type = json_string_value(json_object_get(item, "type"));
    const char *role = json_string_value(json_object_get(item, "role"));
    if (role && (!type || strcmp(type, "message") == 0)) {
        bool known = strcmp(role, "user") == 0 || strcmp(role, "system") == 0 || strcmp(role, "developer") == 0 ||
                     strcmp(role, "assistant") == 0;
        if (!known) {
            reply_error(rq, 400, "input", "invalid_value",
                        "'%s.role' must be \"user\", \"assistant\", \"system\" or \"developer\", not \"%s\"", where,
                        role);
            return false;
        }
        json_t *content = convert_parts(rq, json_object_get(item, "content"), where);
        if (!content) {
            return false;
        }
        json_array_append_new(
            out, json_pack("{s:s, s:o}", "role", strcmp(role, "developer") == 0 ? "system" : role, "content", content));
        return true;
    }
    if (type && strcmp(type, "function_call") == 0) {
        const char *call_id = json_string_value(json_object_get(item, "call_id"));
        const char *name = json_string_value(json_object_get(item, "name"));
        const char *args = json_string_value(json_object_get(item, "arguments"));
        if (!call_id || !name || !args) {
            reply_error(rq, 400, "input", "invalid_value",
                        "'%s' (function_call) needs string 'call_id', 'name' and 'arguments'", where);
            return false;
        }
        json_t *m = assistant_tail(out);
        json_t *calls = json_object_get(m, "tool_calls");
        if (!calls) {
            calls = json_array();
            json_object_set_new(m, "tool_calls", calls);
        }
        json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", call_id, "type", "function",
                                               "function", "name", name, "arguments", args));
        return true;
    }
    if (type && strcmp(type, "function_call_output") == 0) {
        const char *call_id = json_string_value(json_object_get(item, "call_id"));
        json_t *output = json_object_get(item, "output");
        json_t *content = call_id && output ? convert_parts(rq, output, where) : NULL;
        if (!content) {
            if (!call_id || !output) {
                reply_error(rq, 400, "input", "invalid_value",
                            "'%s' (function_call_output) needs a string 'call_id' and an 'output'", where);
            }
            return false;
        }
        json_array_append_new(
            out, json_pack("{s:s, s:s, s:o}", "role", "tool", "tool_call_id", call_id, "content", content));
        return true;
    }
    if (type && strcmp(type, "reasoning") == 0) {
        /* its text ("content", else the "summary") becomes the reasoning of the assistant turn it belongs to */
        json_t *parts = json_object_get(item, "content");
        if (!json_is_array(parts) || json_array_size(parts) == 0) {
            parts = json_object_get(item, "summary");
        }
        llamac__dynbuf text = LLAMAC__DYNBUF(SERVER_BUF_MAX);
        size_t i;
        json_t *p;
        json_array_foreach(parts, i, p) {
            json_t *t = json_object_get(p, "text");
            if (json_is_string(t)) {
                llamac__dynbuf_add(&text, json_string_value(t), json_string_length(t));
            }
        }
        if (text.len > 0) {
            json_object_set_new(assistant_tail(out), "reasoning_content", text_json(text.p, text.len));
        }
        llamac__dynbuf_free(&text);
        return true;
    }
    reply_error(rq, 400, "input", "unsupported_value",
                "'%s' is of type \"%s\": this server takes messages, function_call, function_call_output and reasoning "
                "items",
                where, type ? type : "(none)");
    return false;
}

/* Responses tools ({type: "function", name, description, parameters}), as tools_to_openai converts them. */
static const struct tool_shape tool_shape = { .type = "function",
                                              .others = "built-in tools",
                                              .runs = "functions",
                                              .schema_key = "parameters",
                                              .schema_optional = true };

/* What a stateless server refuses rather than forgets. */
static bool refuse_state(struct request *rq, json_t *body) {
    bool store = false, background = false;
    if (!field_bool(rq, body, "store", &store) || !field_bool(rq, body, "background", &background)) {
        return false;
    }
    const char *param = store ? "store" : background ? "background" : NULL;
    json_t *prev = json_object_get(body, "previous_response_id");
    json_t *conv = json_object_get(body, "conversation");
    if (!param && prev && !json_is_null(prev)) {
        param = "previous_response_id";
    }
    if (!param && conv && !json_is_null(conv)) {
        param = "conversation";
    }
    if (param) {
        reply_error(rq, 400, param, "unsupported_value",
                    "'%s': this server keeps no responses (stateless); send the whole conversation as 'input', with "
                    "'store' false or left out",
                    param);
        return false;
    }
    return true;
}

/* tool_choice: "auto" | "none" | "required" | {"type": "function", "name"}. */
static bool parse_tools(struct request *rq, json_t *body, struct gen_request *gr, json_t *tools) {
    llamac_tool_choice choice;
    const char *name;
    bool parallel;
    return openai_tool_choice(rq, body, &choice, &name, &parallel) &&
           gen_request_tools(rq, gr, tools, choice, name, parallel, "tool_choice");
}

/* text.format: {"type": "text" | "json_object" | "json_schema" (with "schema")}. */
static bool parse_format(struct request *rq, json_t *body, struct gen_request *gr) {
    json_t *text = json_object_get(body, "text");
    if (!text || json_is_null(text)) {
        return true;
    }
    json_t *format = json_object_get(text, "format");
    if (!json_is_object(text) || (format && !json_is_null(format) && !json_is_object(format))) {
        reply_error(rq, 400, "text", "invalid_type", "'text' must be an object whose 'format' is an object");
        return false;
    }
    const char *type = json_string_value(json_object_get(format, "type"));
    if (!format || json_is_null(format) || (type && strcmp(type, "text") == 0)) {
        return true;
    }
    if (type && strcmp(type, "json_object") == 0) {
        return gen_request_constrain(rq, gr, NULL, NULL, "text.format", true, "text.format");
    }
    if (type && strcmp(type, "json_schema") == 0) {
        json_t *schema = json_object_get(format, "schema");
        if (!schema) {
            reply_error(rq, 400, "text.format", "missing_required_parameter", "'text.format.schema' is required");
            return false;
        }
        return gen_request_constrain(rq, gr, NULL, schema, "text.format", false, "text.format");
    }
    reply_error(rq, 400, "text.format", "invalid_value",
                "'text.format.type' must be \"text\", \"json_object\" or \"json_schema\"");
    return false;
}

static const struct sampling_names responses_names = {
    .max_tokens = "max_output_tokens",
    .max_tokens_min = 1,
    .temperature = "temperature",
    .top_p = "top_p",
};

/* The conversation: instructions, then input (a string or items). */
static bool parse_conversation(struct request *rq, json_t *body, struct chat_input *ci, json_t *tools) {
    memset(ci, 0, sizeof *ci);
    json_t *input = json_object_get(body, "input");
    json_t *instructions = json_object_get(body, "instructions");
    if (!input || json_is_null(input)) {
        reply_error(rq, 400, "input", "missing_required_parameter", "'input' is required");
        return false;
    }
    if (instructions && !json_is_null(instructions) && !json_is_string(instructions)) {
        reply_error(rq, 400, "instructions", "invalid_type", "'instructions' must be a string");
        return false;
    }
    json_t *oai = json_array();
    bool ok = true;
    if (json_is_string(instructions)) {
        json_array_append_new(oai, json_pack("{s:s, s:O}", "role", "system", "content", instructions));
    }
    if (json_is_string(input)) {
        json_array_append_new(oai, json_pack("{s:s, s:O}", "role", "user", "content", input));
    } else if (json_is_array(input)) {
        size_t i;
        json_t *item;
        json_array_foreach(input, i, item) {
            if (!(ok = convert_item(rq, item, i, oai))) {
                break;
            }
        }
    } else {
        reply_error(rq, 400, "input", "invalid_type", "'input' must be a string or an array of items");
        ok = false;
    }
    ok = ok && chat_input_set(rq, ci, oai, tools, json_object_get(body, "chat_template_kwargs"), "input", false);
    json_decref(oai);
    json_t *reasoning = json_object_get(body, "reasoning");
    if (ok && reasoning && !json_is_null(reasoning)) {
        json_t *effort = json_object_get(reasoning, "effort");
        if (!json_is_object(reasoning) || (effort && !json_is_null(effort) && !json_is_string(effort))) {
            reply_error(rq, 400, "reasoning", "invalid_type", "'reasoning' must be an object with a string 'effort'");
            return false;
        }
        const char *e = json_string_value(effort);
        ok = chat_input_thinking(rq, ci, e && strcmp(e, "none") == 0 ? 0 : -1, e);
    }
    return ok;
}

static bool parse(struct request *rq, json_t *body, struct gen_request *gr, struct echo *e) {
    const char *model = NULL;
    json_t *tools = NULL;
    if (!field_str(rq, body, "model", &model) || !refuse_state(rq, body) ||
        !gen_request_sampling(rq, gr, body, &responses_names) || !field_bool(rq, body, "stream", &gr->stream) ||
        !field_bool(rq, body, "return_progress", &gr->return_progress) ||
        !field_bool(rq, body, "timings_per_token", &gr->timings_per_token) ||
        !gen_request_reasoning_budget(rq, gr, body, true) || !parse_format(rq, body, gr) ||
        !tools_to_openai(rq, json_object_get(body, "tools"), &tool_shape, &tools)) {
        return false;
    }
    struct chat_input ci = { 0 };
    bool ok = parse_tools(rq, body, gr, tools) && parse_conversation(rq, body, &ci, tools) &&
              gen_request_chat(rq, gr, &ci) && gen_request_finish(rq, gr);
    chat_input_free(&ci);
    if (ok && e) {
        e->tools = json_incref(json_object_get(body, "tools"));
        e->tool_choice = json_incref(json_object_get(body, "tool_choice"));
        e->text = json_incref(json_object_get(body, "text"));
        e->reasoning = json_incref(json_object_get(body, "reasoning"));
        e->instructions = json_incref(json_object_get(body, "instructions"));
        e->metadata = json_incref(json_object_get(body, "metadata"));
        e->temperature = gr->er.sampling.temp;
        e->top_p = gr->er.sampling.top_p;
        e->max_output_tokens = gr->er.max_tokens;
        e->parallel_tool_calls = !json_is_false(json_object_get(body, "parallel_tool_calls"));
    }
    json_decref(tools);
    return ok;
}

bool responses_request_check(struct request *rq, json_t *body) {
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    bool ok = parse(rq, body, &gr, NULL);
    gen_request_free(&gr);
    return ok;
}

/* parse, keeping what the response echoes for the job. */
static bool parse_echoed(struct request *rq, json_t *body, struct gen_request *gr) {
    struct echo *e = calloc(1, sizeof *e);
    if (!e) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    gr->dialect_data = e;
    gr->dialect_data_free = echo_free;
    return parse(rq, body, gr, e);
}

static const struct dialect responses = { "resp_", "text/event-stream", stream_event, respond, parse_echoed, false };

void handle_responses(struct request *rq) {
    handle_generation(rq, &responses);
}

/* POST /v1/responses/input_tokens (llama-server's): the prompt a Responses body's instructions, input and tools come
 * to, as the template renders it, in tokens; nothing is generated. */
void handle_responses_input_tokens(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    struct chat_input ci = { 0 };
    json_t *tools = NULL;
    if (tools_to_openai(rq, json_object_get(body, "tools"), &tool_shape, &tools) && parse_tools(rq, body, &gr, tools) &&
        parse_conversation(rq, body, &ci, tools) && gen_request_chat(rq, &gr, &ci)) {
        reply_json(rq, 200,
                   json_pack("{s:s, s:I}", "object", "response.input_tokens", "input_tokens",
                             (json_int_t)gen_request_prompt_length(&gr, 0)));
    }
    chat_input_free(&ci);
    json_decref(tools);
    gen_request_free(&gr);
    json_decref(body);
}
