/*
 * openai.c - the OpenAI dialect: POST /v1/chat/completions and /v1/completions. Their request fields become a
 * parsed generation request (request.h); a finished job's results and a stream's deltas (result.h) become OpenAI's
 * response objects and Server-Sent Events; a refusal becomes OpenAI's error object, which llama-server's own
 * endpoints share.
 *
 * The field names are OpenAI's plus llama-server's extensions (n_predict, grammar, json_schema, cache_prompt,
 * ignore_eos, logit_bias as pairs), so clients of either work unchanged. Every field is read here and checked by
 * the builder that takes it, before anything is submitted. Other dialects (Anthropic, OpenAI Responses, Ollama) sit
 * beside this file over the same request, result and delta types.
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
    case 501: return "not_supported_error";
    case 503: return "unavailable_error";
    default: return status >= 500 ? "server_error" : "invalid_request_error";
    }
}

json_t *openai_error(unsigned status, const char *param, const char *code, const char *message) {
    return json_pack("{s:{s:s, s:s, s:s?, s:s?}}", "error", "message", message, "type", error_type(status), "param",
                     param, "code", code);
}

/* ---- log-probabilities ---- */

/* A token's text for logprobs: its bytes as a string (invalid UTF-8 replaced) and the raw bytes; with its top
 * alternatives when `top` is given. */
static json_t *token_entry(const struct job *j, llamac_token t, float logprob, const struct token_logprob *top) {
    json_t *e = token_json(j->model, t, logprob);
    if (top) {
        json_t *arr = json_array();
        for (size_t i = 0; i < top->n_top; i++) {
            json_array_append_new(arr, token_entry(j, top->top[i].token, top->top[i].logprob, NULL));
        }
        json_object_set_new(e, "top_logprobs", arr);
    }
    return e;
}

/* Completions' logprobs shape: parallel arrays. */
static json_t *completion_logprobs_new(void) {
    return json_pack("{s:[], s:[], s:[], s:[]}", "tokens", "token_logprobs", "top_logprobs", "text_offset");
}

static void completion_logprobs_add(const struct job *j, json_t *lp, const struct token_logprob *t) {
    json_t *e = token_entry(j, t->token, t->logprob, NULL);
    json_array_append(json_object_get(lp, "tokens"), json_object_get(e, "token"));
    json_array_append_new(json_object_get(lp, "token_logprobs"), json_real((double)t->logprob));
    json_t *top = json_object();
    for (size_t i = 0; i < t->n_top; i++) {
        json_t *te = token_entry(j, t->top[i].token, t->top[i].logprob, NULL);
        json_object_set_new(top, json_string_value(json_object_get(te, "token")), json_real((double)t->top[i].logprob));
        json_decref(te);
    }
    json_array_append_new(json_object_get(lp, "top_logprobs"), top);
    json_array_append_new(json_object_get(lp, "text_offset"), json_integer((json_int_t)t->offset));
    json_decref(e);
}

/* ---- shared pieces ---- */

/* The OpenAI finish_reason of a choice ("stop", "length", "tool_calls"). */
static const char *finish_reason(const struct result *r) {
    switch (result_finish(r)) {
    case FINISH_LENGTH: return "length";
    case FINISH_TOOL_CALLS: return "tool_calls";
    default: return "stop";
    }
}

static json_t *usage_json(const struct job *j) {
    struct totals t;
    job_totals(j, &t);
    return json_pack("{s:I, s:I, s:I, s:{s:I}}", "prompt_tokens", (json_int_t)t.prompt, "completion_tokens",
                     (json_int_t)t.generated, "total_tokens", (json_int_t)(t.prompt + t.generated),
                     "prompt_tokens_details", "cached_tokens", (json_int_t)t.cached);
}

/* Appends one SSE event "data: JSON\n\n" with `event` (stolen). */
static void sse(llamac__dynbuf *out, json_t *event) {
    sse_event(out, NULL, event);
}

static json_t *chunk_new(const struct job *j, bool chat) {
    char fp[128];
    system_fingerprint(fp, sizeof fp);
    return json_pack("{s:s, s:s, s:I, s:s, s:s}", "id", j->id, "object",
                     chat ? "chat.completion.chunk" : "text_completion", "created", (json_int_t)j->created, "model",
                     j->model_id, "system_fingerprint", fp);
}

/* One streamed choice's chunk: chat {"delta": {...}}, completions {"text": ...}. `payload` and `logprobs` are
 * stolen. */
static json_t *choice_chunk(const struct job *j, bool chat, size_t index, json_t *payload, json_t *logprobs,
                            const char *finish) {
    json_t *ch = chunk_new(j, chat);
    json_t *choice = json_pack("{s:I}", "index", (json_int_t)index);
    json_object_set_new(choice, chat ? "delta" : "text", payload);
    json_object_set_new(choice, "logprobs", logprobs ? logprobs : json_null());
    json_object_set_new(choice, "finish_reason", finish ? json_string(finish) : json_null());
    json_object_set_new(ch, "choices", json_pack("[o]", choice));
    if (j->include_usage) {
        json_object_set_new(ch, "usage", json_null());
    }
    return ch;
}

/* The stream's end: the usage chunk when asked for, then [DONE]. An error is one error object, and the end. */
static bool stream_common(const struct job *j, bool chat, const struct delta *d, llamac__dynbuf *out) {
    if (d->kind == DELTA_END) {
        if (j->include_usage) {
            json_t *ch = chunk_new(j, chat);
            json_object_set_new(ch, "choices", json_array());
            json_object_set_new(ch, "usage", usage_json(j));
            if (j->n_choices == 1) {
                json_object_set_new(ch, "timings", timings_json(&j->choices[0].r));
            }
            sse(out, ch);
        }
        llamac__dynbuf_adds(out, "data: [DONE]\n\n");
        return true;
    }
    if (d->kind == DELTA_PROGRESS) {
        /* llama-server's: a chat chunk with the role and no content, a completion chunk with no text */
        json_t *ch =
            choice_chunk(j, chat, d->choice,
                         chat ? json_pack("{s:s, s:n}", "role", "assistant", "content") : json_string(""), NULL, NULL);
        json_object_set_new(ch, "prompt_progress", progress_json(d->progress));
        if (j->timings_per_token) {
            json_object_set_new(ch, "timings", progress_timings_json(d->progress));
        }
        sse(out, ch);
        return true;
    }
    if (d->kind == DELTA_ERROR) {
        json_t *e = json_pack("{s:{s:s%, s:s, s:n, s:n}}", "error", "message", d->text, d->len, "type", "server_error",
                              "param", "code");
        sse(out, e ? e : openai_error(500, NULL, NULL, "generation failed"));
        llamac__dynbuf_adds(out, "data: [DONE]\n\n"); /* the stream ends here: clients wait for [DONE] */
        return true;
    }
    return false;
}

/* ---- chat completions ---- */

static void chat_stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    if (stream_common(j, true, d, out)) {
        return;
    }
    json_t *delta = NULL, *lp = NULL;
    const char *finish = NULL;
    switch (d->kind) {
    case DELTA_START: delta = json_pack("{s:s, s:n}", "role", "assistant", "content"); break; /* as llama-server */
    case DELTA_TEXT:
        if (d->len == 0 && !d->lp) {
            /* a token whose text is held back (the first bytes of a character, a tool-call marker being read): no
             * chunk, as llama-server sends none; an empty content delta breaks clients that append or check it */
            return;
        }
        delta = json_pack("{s:o}", "content", text_json(d->text, d->len));
        if (d->lp) {
            lp = json_pack("{s:[o]}", "content", token_entry(j, d->lp->token, d->lp->logprob, d->lp));
        }
        break;
    case DELTA_REASONING:
        if (d->len == 0) {
            return; /* as an empty content delta */
        }
        delta = json_pack("{s:o}", "reasoning_content", text_json(d->text, d->len));
        break;
    case DELTA_TOOL_CALL: {
        json_t *call = json_pack("{s:I, s:{s:o}}", "index", (json_int_t)d->tool_index, "function", "arguments",
                                 text_json(d->text, d->len));
        if (d->tool_id) {
            json_object_set_new(call, "id", json_string(d->tool_id));
            json_object_set_new(call, "type", json_string("function"));
        }
        if (d->tool_name) {
            json_object_set_new(json_object_get(call, "function"), "name", json_string(d->tool_name));
        }
        delta = json_pack("{s:[o]}", "tool_calls", call);
        break;
    }
    case DELTA_FINISH:
        delta = json_object();
        finish = finish_reason(&j->choices[d->choice].r);
        break;
    default: return;
    }
    sse(out, choice_chunk(j, true, d->choice, delta, lp, finish));
}

/* The assistant message of a chat choice: with tools or reasoning, its text read into content, reasoning_content
 * and tool_calls. */
static json_t *message_of(struct job *j, struct result *r) {
    llamac_tool_message *m = result_message(j, r);
    if (!m) {
        return NULL;
    }
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    json_object_set_new(msg, "content",
                        m->content[0] || m->n_tool_calls == 0 ? text_json(m->content, strlen(m->content))
                                                              : json_null());
    if (m->reasoning_content[0]) {
        json_object_set_new(msg, "reasoning_content", text_json(m->reasoning_content, strlen(m->reasoning_content)));
    }
    if (m->n_tool_calls > 0) {
        json_t *calls = json_array();
        for (size_t i = 0; i < m->n_tool_calls; i++) {
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", m->tool_calls[i].id, "type",
                                                   "function", "function", "name", m->tool_calls[i].name, "arguments",
                                                   m->tool_calls[i].arguments));
        }
        json_object_set_new(msg, "tool_calls", calls);
    }
    llamac_tool_message_free(m);
    return msg;
}

/* A response object; with one choice, llama-server's timings of it besides. */
static json_t *response_new(const struct job *j, bool chat, json_t *choices) {
    char fp[128];
    system_fingerprint(fp, sizeof fp);
    json_t *res = json_pack("{s:s, s:s, s:I, s:s, s:s, s:o, s:o}", "id", j->id, "object",
                            chat ? "chat.completion" : "text_completion", "created", (json_int_t)j->created, "model",
                            j->model_id, "system_fingerprint", fp, "choices", choices, "usage", usage_json(j));
    if (j->n_choices == 1) {
        json_object_set_new(res, "timings", timings_json(&j->choices[0].r));
    }
    return res;
}

/* The response, with llama-server's __verbose when asked for. */
static void respond_with(struct request *rq, struct job *j, const struct gen_request *gr, json_t *res) {
    if (res && (gr->verbose || rq->s->opt.verbose) && gr->n_prompts > 0) {
        json_object_set_new(res, "__verbose",
                            verbose_json(rq->s->model, &j->choices[0].r, gr->tokens[0], gr->n_tokens[0]));
    }
    reply_json(rq, 200, res);
}

static void chat_respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    if (reply_if_failed(rq, j)) {
        return;
    }
    json_t *choices = json_array();
    for (size_t i = 0; i < j->n_choices; i++) {
        struct result *r = &j->choices[i].r;
        json_t *lp = json_null();
        if (j->logprobs) {
            json_t *content = json_array();
            for (size_t k = 0; k < r->n_lp; k++) {
                json_array_append_new(content, token_entry(j, r->lp[k].token, r->lp[k].logprob, &r->lp[k]));
            }
            lp = json_pack("{s:o}", "content", content);
        }
        json_t *message = message_of(j, r); /* before the finish reason: it sees the tool calls */
        json_array_append_new(choices, json_pack("{s:I, s:o, s:o, s:s}", "index", (json_int_t)i, "message", message,
                                                 "logprobs", lp, "finish_reason", finish_reason(r)));
    }
    respond_with(rq, j, gr, response_new(j, true, choices));
}

/* ---- completions ---- */

static void completion_stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    if (stream_common(j, false, d, out)) {
        return;
    }
    if (d->kind == DELTA_START) {
        /* the echoed prompt comes first; without echo, nothing */
        if (d->text) {
            bool valid = llamac_utf8_valid(d->text, d->len, NULL);
            sse(out,
                choice_chunk(j, false, d->choice, valid ? text_json(d->text, d->len) : json_string(""), NULL, NULL));
        }
    } else if (d->kind == DELTA_TEXT) {
        json_t *lp = NULL;
        if (d->lp) {
            lp = completion_logprobs_new();
            completion_logprobs_add(j, lp, d->lp);
        }
        sse(out, choice_chunk(j, false, d->choice, text_json(d->text, d->len), lp, NULL));
    } else if (d->kind == DELTA_FINISH) {
        sse(out, choice_chunk(j, false, d->choice, json_string(""), NULL, finish_reason(&j->choices[d->choice].r)));
    }
}

static void completion_respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    if (reply_if_failed(rq, j)) {
        return;
    }
    json_t *choices = json_array();
    for (size_t i = 0; i < j->n_choices; i++) {
        const struct result *r = &j->choices[i].r;
        json_t *lp = json_null();
        if (j->logprobs && r->n_lp > 0) {
            json_decref(lp);
            lp = completion_logprobs_new();
            for (size_t k = 0; k < r->n_lp; k++) {
                completion_logprobs_add(j, lp, &r->lp[k]);
            }
        }
        llamac__dynbuf text = LLAMAC__DYNBUF(SERVER_BUF_MAX);
        const char *echo = gr->echo[i / j->n_per_prompt];
        if (echo) {
            llamac__dynbuf_adds(&text, echo);
        }
        llamac__dynbuf_add(&text, llamac__dynbuf_ptr(&r->text), r->text.len);
        json_array_append_new(choices, json_pack("{s:o, s:I, s:o, s:s}", "text", text_json(text.p, text.len), "index",
                                                 (json_int_t)i, "logprobs", lp, "finish_reason", finish_reason(r)));
        llamac__dynbuf_free(&text);
    }
    respond_with(rq, j, gr, response_new(j, false, choices));
}

/* ---- requests ---- */

static bool only_one_constraint(struct request *rq) {
    reply_error(rq, 400, "grammar", "invalid_value", "give only one of 'grammar', 'json_schema' and 'response_format'");
    return false;
}

/* response_format, grammar and json_schema: at most one of them. */
static bool parse_constraints(struct request *rq, json_t *body, struct gen_request *gr) {
    const char *grammar = NULL;
    if (!field_str(rq, body, "grammar", &grammar)) {
        return false;
    }
    json_t *schema = json_object_get(body, "json_schema");
    const char *schema_param = "json_schema";
    bool json_object = false;
    json_t *rf = json_object_get(body, "response_format");
    if (rf && !json_is_null(rf)) {
        json_t *type = json_object_get(rf, "type");
        if (!json_is_object(rf) || !json_is_string(type)) {
            reply_error(rq, 400, "response_format", "invalid_type",
                        "'response_format' must be an object with a 'type'");
            return false;
        }
        const char *t = json_string_value(type);
        json_t *rf_schema = json_object_get(rf, "schema");
        if (strcmp(t, "json_object") == 0 && rf_schema && !json_is_null(rf_schema)) {
            /* llama-server's: a json_object with a "schema" is held to that schema */
            if (schema && !json_is_null(schema)) {
                return only_one_constraint(rq);
            }
            schema = rf_schema;
            schema_param = "response_format";
        } else if (strcmp(t, "json_object") == 0) {
            json_object = true;
        } else if (strcmp(t, "json_schema") == 0) {
            if (schema && !json_is_null(schema)) {
                return only_one_constraint(rq);
            }
            json_t *js = json_object_get(rf, "json_schema");
            schema = json_is_object(js) ? json_object_get(js, "schema") : NULL;
            schema_param = "response_format";
            if (!schema) {
                reply_error(rq, 400, "response_format", "missing_required_parameter",
                            "'response_format.json_schema.schema' is required");
                return false;
            }
        } else if (strcmp(t, "text") != 0) {
            reply_error(rq, 400, "response_format", "invalid_value",
                        "'response_format.type' must be \"text\", \"json_object\" or \"json_schema\", not \"%s\"", t);
            return false;
        }
    }
    bool has_schema = schema && !json_is_null(schema);
    if ((grammar && grammar[0]) + has_schema + json_object > 1) {
        return only_one_constraint(rq);
    }
    return gen_request_constrain(rq, gr, grammar, schema, schema_param, json_object, "response_format");
}

/* The sampling fields and limit of both OpenAI endpoints (max_completion_tokens and n_predict besides). */
static const struct sampling_names openai_names = {
    .max_tokens = "max_tokens",
    .max_tokens_min = 1,
    .temperature = "temperature",
    .top_p = "top_p",
    .top_k = "top_k",
    .min_p = "min_p",
    .seed = "seed",
    .repeat_penalty = "repeat_penalty",
    .presence_penalty = "presence_penalty",
    .frequency_penalty = "frequency_penalty",
    .stop = "stop",
    .typical_p = "typical_p",
    .xtc_probability = "xtc_probability",
    .xtc_threshold = "xtc_threshold",
    .top_n_sigma = "top_n_sigma",
    .dynatemp_range = "dynatemp_range",
    .dynatemp_exponent = "dynatemp_exponent",
    .repeat_last_n = "repeat_last_n",
    .dry_multiplier = "dry_multiplier",
    .dry_base = "dry_base",
    .dry_allowed_length = "dry_allowed_length",
    .dry_penalty_last_n = "dry_penalty_last_n",
    .mirostat = "mirostat",
    .mirostat_tau = "mirostat_tau",
    .mirostat_eta = "mirostat_eta",
};
static const struct sampling_names max_completion_tokens = { .max_tokens = "max_completion_tokens",
                                                             .max_tokens_min = 1 };
static const struct sampling_names n_predict = { .max_tokens = "n_predict", .max_tokens_min = -1 };

/* Every generation field of a chat (chat true) or completions body, checked, onto *gr (server defaults first). */
static bool parse_fields(struct request *rq, json_t *body, bool chat, struct gen_request *gr) {
    const char *model = NULL, *user = NULL;
    long long n = 1, top_logprobs = 0, n_probs = 0, n_keep = gr->er.n_keep;
    bool ignore_eos = gr->er.sampling.ignore_eos,
         cache_prompt = gr->er.cache_prompt; /* the server's --ignore-eos, --no-cache-prompt */
    if (!field_str(rq, body, "model", &model) || !field_str(rq, body, "user", &user) ||
        !gen_request_sampling(rq, gr, body, &openai_names) ||
        !gen_request_sampling(rq, gr, body, &max_completion_tokens) ||
        !gen_request_sampling(rq, gr, body, &n_predict) || !field_int(rq, body, "n", 1, MAX_N, &n) ||
        !field_bool(rq, body, "stream", &gr->stream) || !field_bool(rq, body, "ignore_eos", &ignore_eos) ||
        !field_bool(rq, body, "cache_prompt", &cache_prompt) ||
        !field_int(rq, body, "n_keep", -1, INT32_MAX, &n_keep) ||
        !field_bool(rq, body, "return_progress", &gr->return_progress) ||
        !field_bool(rq, body, "timings_per_token", &gr->timings_per_token) ||
        !field_bool(rq, body, "verbose", &gr->verbose) ||
        !request_lora(rq, json_object_get(body, "lora"), "lora", gr->lora, &gr->er.n_adapters) ||
        !gen_request_logit_bias(rq, gr, json_object_get(body, "logit_bias"), "logit_bias") ||
        !gen_request_reasoning_budget(rq, gr, body, chat) || !gen_request_samplers(rq, gr, body) ||
        !parse_constraints(rq, body, gr)) {
        return false;
    }
    gr->n = (size_t)n;
    if (chat) {
        if (!field_bool(rq, body, "logprobs", &gr->logprobs) ||
            !field_int(rq, body, "top_logprobs", 0, 20, &top_logprobs)) {
            return false;
        }
        if (top_logprobs > 0 && !gr->logprobs) {
            reply_error(rq, 400, "top_logprobs", "invalid_value", "'top_logprobs' needs 'logprobs': true");
            return false;
        }
        /* the engine computes the chosen token's logprob only with n_probs >= 1; the reply shows top_logprobs */
        n_probs = gr->logprobs ? (top_logprobs > 0 ? top_logprobs : 1) : 0;
        if (!gen_request_openai_tools(rq, gr, body, json_object_get(body, "tools"))) {
            return false;
        }
    } else {
        if (json_is_boolean(json_object_get(body, "logprobs"))) {
            reply_error(rq, 400, "logprobs", "invalid_type", "'logprobs' must be an integer from 0 to 5 (completions)");
            return false;
        }
        long long lp = -1;
        if (!field_int(rq, body, "logprobs", 0, 5, &lp) || !field_bool(rq, body, "echo", &gr->echo_prompt)) {
            return false;
        }
        gr->logprobs = lp >= 0;
        top_logprobs = lp > 0 ? lp : 0;
        n_probs = lp >= 0 ? (lp > 0 ? lp : 1) : 0;
        json_t *suffix = json_object_get(body, "suffix");
        if (suffix && !json_is_null(suffix) && !(json_is_string(suffix) && json_string_length(suffix) == 0)) {
            reply_error(rq, 400, "suffix", "unsupported_value", "'suffix' (insertion) is not supported by this server");
            return false;
        }
    }
    gr->top_logprobs = (int)top_logprobs;
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            reply_error(rq, 400, "stream_options", "invalid_type", "'stream_options' must be an object");
            return false;
        }
        if (!gr->stream) {
            reply_error(rq, 400, "stream_options", "invalid_value",
                        "'stream_options' is only allowed when 'stream' is true");
            return false;
        }
        json_t *iu = json_object_get(so, "include_usage");
        if (iu && !json_is_null(iu) && !json_is_boolean(iu)) {
            reply_error(rq, 400, "stream_options", "invalid_type", "'stream_options.include_usage' must be a boolean");
            return false;
        }
        gr->include_usage = json_is_true(iu);
    }
    gr->er.adapters = gr->er.n_adapters > 0 ? gr->lora : NULL; /* none: the server's set (POST /lora-adapters) */
    gr->er.sampling.ignore_eos = ignore_eos;
    gr->er.cache_prompt = cache_prompt;
    gr->er.n_keep = (int32_t)n_keep;
    gr->er.n_probs = (int32_t)n_probs;
    return true;
}

bool completion_request_parse(struct request *rq, json_t *body, bool chat, struct gen_request *gr) {
    if (!parse_fields(rq, body, chat, gr)) {
        return false;
    }
    if (chat) {
        struct chat_input ci;
        bool ok = chat_input_parse(rq, body, &ci) && gen_request_chat(rq, gr, &ci);
        chat_input_free(&ci);
        if (!ok) {
            return false;
        }
    } else if (!gen_request_prompts(rq, gr, json_object_get(body, "prompt"), "prompt")) {
        return false;
    }
    return gen_request_finish(rq, gr);
}

bool completion_request_check(struct request *rq, json_t *body, bool chat) {
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    bool ok = completion_request_parse(rq, body, chat, &gr);
    gen_request_free(&gr);
    return ok;
}

static bool parse_chat(struct request *rq, json_t *body, struct gen_request *gr) {
    return completion_request_parse(rq, body, true, gr);
}

static bool parse_completions(struct request *rq, json_t *body, struct gen_request *gr) {
    return completion_request_parse(rq, body, false, gr);
}

static const struct dialect openai_chat = { "chatcmpl-",  "text/event-stream", chat_stream_event,
                                            chat_respond, parse_chat,          true };
static const struct dialect openai_completions = {
    "cmpl-", "text/event-stream", completion_stream_event, completion_respond, parse_completions, true
};

void handle_chat(struct request *rq) {
    handle_generation(rq, &openai_chat);
}

/* llama-server's POST /chat/completions/input_tokens: a chat body's prompt length, {"input_tokens": N}, as the
 * template renders it with the body's tools and kwargs; nothing is generated. */
void handle_chat_input_tokens(struct request *rq) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    struct chat_input ci;
    memset(&ci, 0, sizeof ci);
    if (parse_fields(rq, body, true, &gr) && chat_input_parse(rq, body, &ci) && gen_request_chat(rq, &gr, &ci)) {
        reply_json(rq, 200, json_pack("{s:I}", "input_tokens", (json_int_t)gen_request_prompt_length(&gr, 0)));
    }
    chat_input_free(&ci);
    gen_request_free(&gr);
    json_decref(body);
}

void handle_completions(struct request *rq) {
    handle_generation(rq, &openai_completions);
}
