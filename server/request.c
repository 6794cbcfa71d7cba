/*
 * request.c - request parsing (see request.h): field readers, a chat's conversation, and the parsed generation
 * request with its builders.
 *
 * Every value is checked here, before anything reaches the engine, and every refusal names the field it came from,
 * so a bad request never costs a slot. What the library checks itself (a grammar, a stop string, the prompt's
 * length) is checked at submit, and complete.c names the field for those.
 */
#include "request.h"

#include <float.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* ---- field readers ---- */

json_t *request_object(struct request *rq) {
    json_error_t e;
    if (rq->body_len == 0) {
        reply_error(rq, 400, NULL, "invalid_json", "the request body is empty; expected a JSON object");
        return NULL;
    }
    json_t *v = json_loadb(rq->body, rq->body_len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &e);
    if (!v) {
        reply_error(rq, 400, NULL, "invalid_json", "invalid JSON at line %d, column %d: %s", e.line, e.column, e.text);
        return NULL;
    }
    if (!json_is_object(v)) {
        json_decref(v);
        reply_error(rq, 400, NULL, "invalid_json", "the request body must be a JSON object");
        return NULL;
    }
    return v;
}

bool field_bool(struct request *rq, json_t *obj, const char *name, bool *out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        return true;
    }
    if (!json_is_boolean(v)) {
        reply_error(rq, 400, name, "invalid_type", "'%s' must be a boolean", name);
        return false;
    }
    *out = json_is_true(v);
    return true;
}

bool field_int(struct request *rq, json_t *obj, const char *name, long long min, long long max, long long *out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        return true;
    }
    if (!json_is_integer(v)) {
        reply_error(rq, 400, name, "invalid_type", "'%s' must be an integer", name);
        return false;
    }
    long long n = json_integer_value(v);
    if (n < min || n > max) {
        reply_error(rq, 400, name, "invalid_value", "'%s' is %lld; it must be from %lld to %lld", name, n, min, max);
        return false;
    }
    *out = n;
    return true;
}

bool field_num(struct request *rq, json_t *obj, const char *name, double min, double max, double *out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        return true;
    }
    if (!json_is_number(v)) {
        reply_error(rq, 400, name, "invalid_type", "'%s' must be a number", name);
        return false;
    }
    double d = json_number_value(v);
    if (!(d >= min && d <= max)) {
        reply_error(rq, 400, name, "invalid_value", "'%s' is %g; it must be from %g to %g", name, d, min, max);
        return false;
    }
    *out = d;
    return true;
}

bool field_str(struct request *rq, json_t *obj, const char *name, const char **out) {
    json_t *v = json_object_get(obj, name);
    if (!v || json_is_null(v)) {
        return true;
    }
    if (!json_is_string(v)) {
        reply_error(rq, 400, name, "invalid_type", "'%s' must be a string", name);
        return false;
    }
    *out = json_string_value(v);
    return true;
}

bool tokenize_text(struct request *rq, const char *param, const char *text, size_t len, bool add_special,
                   llamac_token **out, size_t *n) {
    size_t max = rq->s->prompt_bytes_max;
    if (max > 0 && len > max && len > REQUEST_CHEAP_BYTES) {
        /* cannot fit a slot whatever its tokens, and too long to count them cheaply: refused before the tokenizer's
         * work and memory */
        reply_error(rq, 400, param, "context_length_exceeded",
                    "the request exceeds the available context size: '%s' has %zu bytes, more than a slot's context "
                    "can hold in any tokenization (%zu bytes)",
                    param, len, max);
        return false;
    }
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

/* ---- a chat's conversation ---- */

/* A request's template variables: the server's --chat-template-kwargs, each key overridden by the request's own
 * chat_template_kwargs (NULL: none; caller frees with free). */
static char *chat_kwargs(const struct server *s, json_t *kwargs) {
    if (!s->opt.chat_template_kwargs) {
        return json_is_object(kwargs) ? json_dumps(kwargs, JSON_COMPACT) : NULL;
    }
    json_t *merged = json_loads(s->opt.chat_template_kwargs, 0, NULL);
    if (json_is_object(merged) && json_is_object(kwargs)) {
        json_object_update(merged, kwargs);
    }
    char *out = json_is_object(merged) ? json_dumps(merged, JSON_COMPACT) : NULL;
    json_decref(merged);
    return out;
}

/* Whether a JSON string holds a NUL, which no prompt can carry (the template engine reads C strings). */
static bool has_nul(json_t *str) {
    return json_is_string(str) && strlen(json_string_value(str)) != json_string_length(str);
}

/* One message of a conversation, checked before it reaches the chat layer: a known role, content where the role
 * needs it, string ids, no NUL in its text. Every refusal names the message. */
static bool message_check(struct request *rq, const char *param, size_t i, json_t *m) {
    static const char *const roles[] = { "system", "developer", "user", "assistant", "tool", "function", "ipython" };
    json_t *role = json_object_get(m, "role");
    if (!json_is_object(m) || !json_is_string(role)) {
        reply_error(rq, 400, param, "invalid_type", "'%s[%zu]' must be an object with a string 'role'", param, i);
        return false;
    }
    const char *r = json_string_value(role);
    bool known = false;
    for (size_t k = 0; k < sizeof roles / sizeof roles[0] && !known; k++) {
        known = strcmp(r, roles[k]) == 0;
    }
    if (!known) {
        reply_error(rq, 400, param, "invalid_value",
                    "'%s[%zu].role' must be \"system\", \"developer\", \"user\", \"assistant\" or \"tool\", not "
                    "\"%.64s\"",
                    param, i, r);
        return false;
    }
    json_t *content = json_object_get(m, "content");
    if (content && !json_is_null(content) && !json_is_string(content) && !json_is_array(content)) {
        reply_error(rq, 400, param, "invalid_type", "'%s[%zu].content' must be a string or an array of content parts",
                    param, i);
        return false;
    }
    if ((!content || json_is_null(content)) && strcmp(r, "assistant") != 0 && strcmp(r, "function") != 0) {
        reply_error(rq, 400, param, "missing_required_parameter", "'%s[%zu].content' is required for a %s message",
                    param, i, r);
        return false;
    }
    bool nul = has_nul(content);
    size_t k;
    json_t *part;
    json_array_foreach(json_is_array(content) ? content : NULL, k, part) {
        nul = nul || has_nul(json_object_get(part, "text"));
    }
    if (nul) {
        reply_error(rq, 400, param, "invalid_value",
                    "'%s[%zu].content' holds a NUL character (\\u0000), which a prompt "
                    "cannot hold",
                    param, i);
        return false;
    }
    static const char *const ids[] = { "tool_call_id", "name" };
    for (size_t f = 0; f < sizeof ids / sizeof ids[0]; f++) {
        json_t *v = json_object_get(m, ids[f]);
        if (v && !json_is_null(v) && !json_is_string(v)) {
            reply_error(rq, 400, param, "invalid_type", "'%s[%zu].%s' must be a string", param, i, ids[f]);
            return false;
        }
    }
    return true;
}

bool chat_input_set(struct request *rq, struct chat_input *ci, json_t *messages, json_t *tools, json_t *kwargs,
                    const char *param, bool allow_empty) {
    memset(ci, 0, sizeof *ci);
    if (!messages) {
        reply_error(rq, 400, param, "missing_required_parameter", "'%s' is required", param);
        return false;
    }
    if (!json_is_array(messages) || (json_array_size(messages) == 0 && !allow_empty)) {
        reply_error(rq, 400, param, "invalid_type", "'%s' must be a non-empty array of messages", param);
        return false;
    }
    /* A small body is rendered and tokenized whatever it holds, so that a conversation over the context is refused
     * with its counts (by the engine, at submit); a large one that cannot fit is refused before that work. */
    bool cheap = rq->body_len <= REQUEST_CHEAP_BYTES;
    if (!cheap && rq->s->messages_max > 0 && json_array_size(messages) > rq->s->messages_max) {
        /* every message takes a token at least: refused before the template renders them all */
        reply_error(rq, 400, param, "context_length_exceeded",
                    "the request exceeds the available context size: %zu messages cannot fit a slot's context of %zu "
                    "tokens",
                    json_array_size(messages), rq->s->messages_max);
        return false;
    }
    size_t i, text_bytes = 0;
    json_t *m;
    json_array_foreach(messages, i, m) {
        if (!message_check(rq, param, i, m)) {
            return false;
        }
        json_t *content = json_object_get(m, "content"), *part;
        size_t k;
        text_bytes += json_string_length(content);
        json_array_foreach(json_is_array(content) ? content : NULL, k, part) {
            text_bytes += json_string_length(json_object_get(part, "text"));
        }
    }
    if (!cheap && rq->s->prompt_bytes_max > 0 && text_bytes > rq->s->prompt_bytes_max) {
        /* the rendered prompt holds all of it: refused before the template renders it */
        reply_error(rq, 400, param, "context_length_exceeded",
                    "the request exceeds the available context size: the messages hold %zu bytes of text, more than a "
                    "slot's context can hold in any tokenization (%zu bytes)",
                    text_bytes, rq->s->prompt_bytes_max);
        return false;
    }
    if (tools && !json_is_null(tools) && !json_is_array(tools)) {
        reply_error(rq, 400, "tools", "invalid_type", "'tools' must be an array");
        return false;
    }
    if (kwargs && !json_is_null(kwargs) && !json_is_object(kwargs)) {
        reply_error(rq, 400, "chat_template_kwargs", "invalid_type", "'chat_template_kwargs' must be an object");
        return false;
    }
    json_t *rendered = chat_input_media(rq, ci, messages, param);
    if (!rendered) {
        return false;
    }
    ci->add_generation_prompt = true;
    ci->thinking = rq->s->opt.thinking;
    ci->prefill_assistant = !rq->s->opt.no_prefill_assistant;
    ci->param = param;
    ci->messages = json_dumps(rendered, JSON_COMPACT);
    json_decref(rendered);
    ci->tools = json_is_array(tools) ? json_dumps(tools, JSON_COMPACT) : NULL;
    ci->kwargs = chat_kwargs(rq->s, kwargs);
    bool want_kwargs = json_is_object(kwargs) || rq->s->opt.chat_template_kwargs;
    if (!ci->messages || (json_is_array(tools) && !ci->tools) || (want_kwargs && !ci->kwargs)) {
        chat_input_free(ci);
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    return true;
}

bool chat_input_parse(struct request *rq, json_t *body, struct chat_input *ci) {
    if (!chat_input_set(rq, ci, json_object_get(body, "messages"), json_object_get(body, "tools"),
                        json_object_get(body, "chat_template_kwargs"), "messages", false)) {
        return false;
    }
    /* the scalar fields as the library reads a request body (llama.cpp's reading of continue_final_message) */
    static const char *const fields[] = { "add_generation_prompt", "continue_final_message", "reasoning_effort" };
    json_t *small = json_pack("{s:[]}", "messages");
    for (size_t i = 0; small && i < sizeof fields / sizeof fields[0]; i++) {
        json_t *v = json_object_get(body, fields[i]);
        if (v && json_object_set(small, fields[i], v) != 0) {
            json_decref(small);
            small = NULL;
        }
    }
    char *text = small ? json_dumps(small, JSON_COMPACT) : NULL, *keep = NULL;
    json_decref(small);
    llamac_template_apply_params p = chat_input_params(ci);
    bool ok = text && llamac_template_apply_params_from_json(text, &p, &keep) == LLAMAC_OK;
    free(text);
    if (ok) {
        ci->add_generation_prompt = p.add_generation_prompt;
        ci->continue_final_message = p.continue_final_message;
        ok = !p.reasoning_effort || (ci->reasoning_effort = strdup(p.reasoning_effort));
    }
    llamac_free(keep);
    if (!ok) {
        chat_input_free(ci);
        reply_error(rq, 500, NULL, NULL, "out of memory");
    }
    return ok;
}

bool chat_input_thinking(struct request *rq, struct chat_input *ci, int enable, const char *effort) {
    if (enable < 0 && !effort) {
        return true;
    }
    json_t *kw = ci->kwargs ? json_loads(ci->kwargs, 0, NULL) : json_object();
    bool ok = kw != NULL;
    if (ok && enable >= 0 && !json_object_get(kw, "enable_thinking")) {
        ok = json_object_set_new(kw, "enable_thinking", json_boolean(enable)) == 0;
    }
    if (ok && effort && !json_object_get(kw, "reasoning_effort")) {
        ok = json_object_set_new(kw, "reasoning_effort", json_string(effort)) == 0;
    }
    char *text = ok ? json_dumps(kw, JSON_COMPACT) : NULL;
    json_decref(kw);
    if (!text) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    free(ci->kwargs);
    ci->kwargs = text;
    return true;
}

void chat_input_free(struct chat_input *ci) {
    for (size_t i = 0; i < ci->n_media; i++) {
        llamac_media_free(ci->media[i]);
    }
    free(ci->messages);
    free(ci->tools);
    free(ci->kwargs);
    free(ci->reasoning_effort);
    memset(ci, 0, sizeof *ci);
}

llamac_template_apply_params chat_input_params(const struct chat_input *ci) {
    llamac_template_apply_params p = llamac_template_apply_params_default();
    p.messages_json = ci->messages;
    p.tools_json = ci->tools;
    p.chat_template_kwargs_json = ci->kwargs;
    p.add_generation_prompt = ci->add_generation_prompt;
    p.prefill_assistant = ci->prefill_assistant;
    p.continue_final_message = ci->continue_final_message;
    p.reasoning_effort = ci->reasoning_effort;
    p.thinking = ci->thinking;
    return p;
}

bool chat_reply_render_error(struct request *rq, const struct chat_input *ci, llamac_status st) {
    const char *param = ci->param ? ci->param : "messages";
    switch (st) {
    case LLAMAC_OK: return false;
    case LLAMAC_E_NO_MEMORY: reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error()); break;
    case LLAMAC_E_UNSUPPORTED: reply_error(rq, 400, param, "unsupported_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_INVALID_ARGUMENT: reply_error(rq, 400, param, "invalid_value", "%s", llamac_last_error()); break;
    default: reply_error(rq, 400, param, "template_error", "%s", llamac_last_error()); break;
    }
    return true;
}

const llamac_template *chat_template(const struct server *s, const struct chat_input *ci) {
    bool tools = ci->tools && strcmp(ci->tools, "[]") != 0;
    return tools && s->tmpl_tools ? s->tmpl_tools : s->tmpl;
}

bool render_chat(struct request *rq, const struct chat_input *ci, char **out, size_t *len) {
    if (!rq->s->tmpl) {
        reply_error(rq, 400, "messages", "no_chat_template",
                    "the model has no chat template; use /v1/completions or start the server with "
                    "--chat-template-file");
        return false;
    }
    llamac_template_apply_params p = chat_input_params(ci);
    return !chat_reply_render_error(rq, ci,
                                    llamac_template_apply(chat_template(rq->s, ci), rq->s->model, &p, out, len));
}

/* ---- the parsed generation request ---- */

void gen_request_init(struct gen_request *gr, const struct server *s) {
    memset(gr, 0, sizeof *gr);
    gr->er = llamac_engine_request_default();
    gr->er.sampling = s->opt.defaults.sampling;
    gr->er.max_tokens = s->opt.defaults.n_predict;
    gr->er.n_keep = s->opt.defaults.n_keep;
    gr->er.spec = s->opt.defaults.spec;
    gr->er.spec_draft = s->opt.defaults.spec_draft;
    gr->er.cache_prompt = !s->opt.defaults.no_cache_prompt;
    gr->er.stop = gr->stop;
    gr->n = 1;
    gr->prompt_param = "prompt";
}

void gen_request_free(struct gen_request *gr) {
    for (size_t i = 0; i < MAX_PROMPTS; i++) {
        llamac_chunks_free(gr->chunks[i]);
    }
    for (size_t i = 0; i < gr->n_prompts; i++) {
        if (gr->tokens_malloced[i]) {
            free(gr->tokens[i]);
        } else {
            llamac_free(gr->tokens[i]);
        }
        free(gr->echo[i]);
    }
    llamac_free(gr->chat_prompt);
    free(gr->bias);
    llamac_free(gr->grammar);
    llamac_tool_grammar_free(gr->tool_grammar);
    free(gr->tools_json);
    if (gr->dialect_data_free) {
        gr->dialect_data_free(gr->dialect_data);
    }
    memset(gr, 0, sizeof *gr);
}

/* Field `name` of `obj` (NULL: the dialect has none), a number from `min` (above it when `above`) to `max`, onto
 * *out; absent or null keeps *out. False after replying 400. */
static bool sampling_float(struct request *rq, json_t *obj, const char *name, double min, bool above, double max,
                           float *out) {
    double d = *out;
    if (!name || !field_num(rq, obj, name, min, max, &d)) {
        return !name;
    }
    if (above && json_is_number(json_object_get(obj, name)) && !(d > min)) {
        reply_error(rq, 400, name, "invalid_value", "'%s' is %g; it must be above %g and at most %g", name, d, min,
                    max);
        return false;
    }
    *out = (float)d;
    return true;
}

/* The same for an integer field. */
static bool sampling_int(struct request *rq, json_t *obj, const char *name, long long min, long long max,
                         int32_t *out) {
    long long v = *out;
    if (!name || !field_int(rq, obj, name, min, max, &v)) {
        return !name;
    }
    *out = (int32_t)v;
    return true;
}

/* The sampler settings beyond the everyday ones (struct sampling_names), each checked as the library checks it. */
static bool sampling_more(struct request *rq, json_t *obj, const struct sampling_names *n, llamac_sampling_params *sp) {
    double base = sp->dry_base;
    if (!sampling_float(rq, obj, n->typical_p, 0, true, 1, &sp->typical_p) ||
        !sampling_float(rq, obj, n->xtc_probability, 0, false, 1, &sp->xtc_probability) ||
        !sampling_float(rq, obj, n->xtc_threshold, 0, false, 1, &sp->xtc_threshold) ||
        !sampling_float(rq, obj, n->top_n_sigma, -FLT_MAX, false, FLT_MAX, &sp->top_n_sigma) ||
        !sampling_float(rq, obj, n->dynatemp_range, 0, false, FLT_MAX, &sp->dynatemp_range) ||
        !sampling_float(rq, obj, n->dynatemp_exponent, 0, true, FLT_MAX, &sp->dynatemp_exponent) ||
        !sampling_int(rq, obj, n->repeat_last_n, -1, INT32_MAX, &sp->penalty_last_n) ||
        !sampling_float(rq, obj, n->dry_multiplier, 0, false, FLT_MAX, &sp->dry_multiplier) ||
        (n->dry_base && !field_num(rq, obj, n->dry_base, -FLT_MAX, FLT_MAX, &base)) ||
        !sampling_int(rq, obj, n->dry_allowed_length, 0, INT32_MAX, &sp->dry_allowed_length) ||
        !sampling_int(rq, obj, n->dry_penalty_last_n, -1, INT32_MAX, &sp->dry_last_n) ||
        !sampling_int(rq, obj, n->mirostat, 0, 2, &sp->mirostat) ||
        !sampling_float(rq, obj, n->mirostat_tau, 0, true, FLT_MAX, &sp->mirostat_tau) ||
        !sampling_float(rq, obj, n->mirostat_eta, 0, true, FLT_MAX, &sp->mirostat_eta)) {
        return false;
    }
    if (base >= 1) { /* llama-server keeps the server's base for one below 1 */
        sp->dry_base = (float)base;
    }
    return true;
}

bool gen_request_sampling(struct request *rq, struct gen_request *gr, json_t *obj, const struct sampling_names *n) {
    if (!json_is_object(obj)) {
        return true;
    }
    llamac_sampling_params *sp = &gr->er.sampling;
    long long max_tokens = -1, seed = -1, top_k = sp->top_k;
    double temp = sp->temp, top_p = sp->top_p, min_p = sp->min_p, presence = sp->penalty_present,
           frequency = sp->penalty_freq, repeat = sp->penalty_repeat;
    long long max_min = n->max_tokens_min < 0 ? INT32_MIN : n->max_tokens_min;
    if ((n->max_tokens && !field_int(rq, obj, n->max_tokens, max_min, INT32_MAX, &max_tokens)) ||
        (n->temperature && !field_num(rq, obj, n->temperature, 0, 100, &temp)) ||
        (n->top_p && !field_num(rq, obj, n->top_p, 0, 1, &top_p)) ||
        (n->top_k && !field_int(rq, obj, n->top_k, 0, INT32_MAX, &top_k)) ||
        (n->min_p && !field_num(rq, obj, n->min_p, 0, 1, &min_p)) ||
        (n->seed && !field_int(rq, obj, n->seed, INT64_MIN, INT64_MAX, &seed)) ||
        (n->repeat_penalty && !field_num(rq, obj, n->repeat_penalty, 0, 100, &repeat)) ||
        (n->presence_penalty && !field_num(rq, obj, n->presence_penalty, -2, 2, &presence)) ||
        (n->frequency_penalty && !field_num(rq, obj, n->frequency_penalty, -2, 2, &frequency)) ||
        (n->stop && !gen_request_stop(rq, gr, json_object_get(obj, n->stop), n->stop)) ||
        !sampling_more(rq, obj, n, sp)) {
        return false;
    }
    if (n->max_tokens && json_is_integer(json_object_get(obj, n->max_tokens))) {
        gr->er.max_tokens = max_tokens < 0 ? -1 : (int32_t)max_tokens;
    }
    if (n->seed && json_is_integer(json_object_get(obj, n->seed))) {
        sp->seed = seed < 0 ? UINT32_MAX : (uint32_t)seed;
    }
    sp->temp = (float)temp;
    sp->top_p = (float)top_p;
    sp->top_k = (int32_t)top_k;
    sp->min_p = (float)min_p;
    sp->penalty_present = (float)presence;
    sp->penalty_freq = (float)frequency;
    sp->penalty_repeat = (float)repeat;
    return gen_request_spec(rq, gr, obj);
}

bool gen_request_spec(struct request *rq, struct gen_request *gr, json_t *obj) {
    llamac_spec_params *p = &gr->er.spec;
    long long n_max = p->n_max, n_min = p->n_min;
    double p_min = p->p_min;
    if (!field_int(rq, obj, "speculative.n_max", 1, LLAMAC_SPEC_MAX_DRAFT, &n_max) ||
        !field_int(rq, obj, "speculative.n_min", 0, LLAMAC_SPEC_MAX_DRAFT, &n_min) ||
        !field_num(rq, obj, "speculative.p_min", 0, 1, &p_min)) {
        return false;
    }
    if (n_min > n_max) {
        reply_error(rq, 400, "speculative.n_min", "invalid_value",
                    "'speculative.n_min' (%lld) must not exceed 'speculative.n_max' (%lld)", n_min, n_max);
        return false;
    }
    p->n_max = (int32_t)n_max;
    p->n_min = (int32_t)n_min;
    p->p_min = (float)p_min;
    return true;
}

bool gen_request_samplers(struct request *rq, struct gen_request *gr, json_t *body) {
    llamac_sampling_params *sp = &gr->er.sampling;
    json_t *v = json_object_get(body, "samplers");
    if (v && !json_is_null(v)) {
        size_t n = json_is_string(v) ? json_string_length(v) : json_array_size(v);
        if ((!json_is_string(v) && !json_is_array(v)) || n > MAX_SAMPLERS) {
            reply_error(rq, 400, "samplers", "invalid_type",
                        "'samplers' must be an array of sampler names or a string of sampler letters, at most %d",
                        MAX_SAMPLERS);
            return false;
        }
        for (size_t i = 0; i < n; i++) {
            json_t *name = json_array_get(v, i);
            if (json_is_array(v) && !json_is_string(name)) {
                reply_error(rq, 400, "samplers", "invalid_type", "'samplers[%zu]' must be a string", i);
                return false;
            }
            llamac_status st = json_is_string(v)
                                   ? llamac_sampler_type_from_char(json_string_value(v)[i], &gr->samplers[i])
                                   : llamac_sampler_type_from_name(json_string_value(name), &gr->samplers[i]);
            if (st != LLAMAC_OK) {
                if (json_is_string(v)) {
                    reply_error(rq, 400, "samplers", "invalid_value", "'samplers': %s", llamac_last_error());
                } else {
                    reply_error(rq, 400, "samplers", "invalid_value", "'samplers[%zu]': %s", i, llamac_last_error());
                }
                return false;
            }
        }
        sp->samplers = gr->samplers;
        sp->n_samplers = n;
    }
    v = json_object_get(body, "dry_sequence_breakers");
    if (v && !json_is_null(v)) {
        if (!json_is_array(v) || json_array_size(v) == 0 || json_array_size(v) > MAX_SAMPLERS) {
            reply_error(rq, 400, "dry_sequence_breakers", "invalid_type",
                        "'dry_sequence_breakers' must be a non-empty array of at most %d strings", MAX_SAMPLERS);
            return false;
        }
        size_t i;
        json_t *b;
        json_array_foreach(v, i, b) {
            if (!json_is_string(b) || json_string_length(b) == 0 || has_nul(b)) {
                reply_error(rq, 400, "dry_sequence_breakers", "invalid_value",
                            "'dry_sequence_breakers[%zu]' must be a non-empty string without NUL", i);
                return false;
            }
            gr->dry_breakers[i] = json_string_value(b);
        }
        sp->dry_sequence_breakers = gr->dry_breakers;
        sp->n_dry_sequence_breakers = json_array_size(v);
    }
    return true;
}

bool gen_request_stop(struct request *rq, struct gen_request *gr, json_t *v, const char *param) {
    if (!v || json_is_null(v)) {
        return true;
    }
    if (json_is_string(v)) {
        if (json_string_length(v) > 0) {
            gr->stop[gr->er.n_stop++] = json_string_value(v);
        }
        return true;
    }
    if (!json_is_array(v) || json_array_size(v) > MAX_STOP) {
        reply_error(rq, 400, param, "invalid_type", "'%s' must be a string or an array of at most %d strings", param,
                    MAX_STOP);
        return false;
    }
    size_t i;
    json_t *s;
    json_array_foreach(v, i, s) {
        if (!json_is_string(s)) {
            reply_error(rq, 400, param, "invalid_type", "'%s[%zu]' must be a string", param, i);
            return false;
        }
        if (json_string_length(s) > 0) {
            gr->stop[gr->er.n_stop++] = json_string_value(s);
        }
    }
    return true;
}

/* Appends `bias` for `token` to gr->bias (grown as needed); false when out of memory. */
static bool bias_add(struct gen_request *gr, size_t *cap, llamac_token token, float bias) {
    size_t n = gr->er.sampling.n_logit_bias;
    if (n == *cap) {
        size_t grown_cap = *cap ? *cap * 2 : 16;
        llamac_logit_bias *grown = realloc(gr->bias, grown_cap * sizeof *grown);
        if (!grown) {
            return false;
        }
        gr->bias = grown;
        *cap = grown_cap;
    }
    gr->bias[n].token = token;
    gr->bias[n].bias = bias;
    gr->er.sampling.logit_bias = gr->bias;
    gr->er.sampling.n_logit_bias = n + 1;
    return true;
}

/* One entry of a logit bias: `key` a token id (an integer, or its decimal text in an object's key) or a text whose
 * every token gets the bias (as llama-server does); `val` the bias, false to ban. */
static bool bias_entry(struct request *rq, struct gen_request *gr, size_t *cap, const char *param, json_t *key,
                       json_t *val) {
    float bias;
    if (json_is_false(val)) {
        bias = -INFINITY;
    } else if (json_is_number(val) && json_number_value(val) >= -100 && json_number_value(val) <= 100) {
        bias = (float)json_number_value(val);
    } else {
        reply_error(rq, 400, param, "invalid_value", "'%s': a bias must be a number from -100 to 100 or false", param);
        return false;
    }
    long long id = -1;
    const char *text = json_string_value(key);
    if (text) {
        char *end = NULL;
        id = strtoll(text, &end, 10);
        if (end == text || *end != '\0') {
            id = -1;
        } else {
            text = NULL;
        }
    } else {
        id = json_integer_value(key);
    }
    if (text) {
        llamac_token *t = NULL;
        size_t n = 0;
        if (!tokenize_text(rq, param, text, json_string_length(key), false, &t, &n)) {
            return false;
        }
        bool ok = true;
        for (size_t i = 0; i < n && ok; i++) {
            ok = bias_add(gr, cap, t[i], bias);
        }
        llamac_free(t);
        if (!ok) {
            reply_error(rq, 500, NULL, NULL, "out of memory");
        }
        return ok;
    }
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    if (id < 0 || id >= n_vocab) {
        reply_error(rq, 400, param, "invalid_value", "'%s' token id %lld is not in the vocabulary (0 to %d)", param, id,
                    (int)n_vocab - 1);
        return false;
    }
    if (!bias_add(gr, cap, (llamac_token)id, bias)) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    return true;
}

bool gen_request_logit_bias(struct request *rq, struct gen_request *gr, json_t *lb, const char *param) {
    if (!lb || json_is_null(lb)) {
        return true;
    }
    if (!json_is_object(lb) && !json_is_array(lb)) {
        reply_error(rq, 400, param, "invalid_type", "'%s' must be an object mapping token ids to biases", param);
        return false;
    }
    size_t cap = 0;
    if (json_is_object(lb)) {
        const char *key;
        json_t *val;
        json_object_foreach(lb, key, val) {
            char *end = NULL;
            (void)strtoll(key, &end, 10);
            if (end != key && *end == '\0' && !(key[0] == '-' || (key[0] >= '0' && key[0] <= '9'))) {
                /* " 5" or "+5": strtoll reads a number, but is the text " 5" meant? A token id is digits alone. */
                reply_error(rq, 400, param, "invalid_value",
                            "'%s' key \"%s\" is ambiguous: a token id is written in digits alone; to bias a text, "
                            "use the array form [[\"%s\", bias]]",
                            param, key, key);
                return false;
            }
            json_t *k = json_string(key);
            bool ok = k && bias_entry(rq, gr, &cap, param, k, val);
            json_decref(k);
            if (!ok) {
                if (!k) {
                    reply_error(rq, 500, NULL, NULL, "out of memory");
                }
                return false;
            }
        }
        return true;
    }
    size_t i;
    json_t *v;
    json_array_foreach(lb, i, v) {
        json_t *key = json_array_get(v, 0);
        if (!json_is_array(v) || json_array_size(v) != 2 || !(json_is_integer(key) || json_is_string(key))) {
            reply_error(rq, 400, param, "invalid_type", "'%s[%zu]' must be [token id or text, bias]", param, i);
            return false;
        }
        if (!bias_entry(rq, gr, &cap, param, key, json_array_get(v, 1))) {
            return false;
        }
    }
    return true;
}

bool gen_request_constrain(struct request *rq, struct gen_request *gr, const char *grammar, json_t *schema,
                           const char *schema_param, bool json_object, const char *json_object_param) {
    if (grammar && grammar[0]) {
        gr->er.sampling.grammar = grammar;
        return true;
    }
    llamac_status st = LLAMAC_OK;
    if (schema && !json_is_null(schema)) {
        if (!json_is_object(schema) && !json_is_boolean(schema)) {
            reply_error(rq, 400, schema_param, "invalid_type", "the JSON schema must be an object");
            return false;
        }
        char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        st = text ? llamac_json_schema_to_grammar(text, strlen(text), NULL, &gr->grammar) : LLAMAC_E_NO_MEMORY;
        free(text);
    } else if (json_object) {
        st = llamac_json_grammar(NULL, &gr->grammar);
    } else {
        return true;
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, json_object ? json_object_param : schema_param,
                    "invalid_value", "%s", llamac_last_error());
        return false;
    }
    gr->er.sampling.grammar = gr->grammar;
    return true;
}

bool gen_request_tools(struct request *rq, struct gen_request *gr, json_t *tools, llamac_tool_choice choice,
                       const char *name, bool parallel, const char *choice_param) {
    if (!json_is_array(tools) || json_array_size(tools) == 0 || choice == LLAMAC_TOOL_CHOICE_NONE) {
        return true;
    }
    if (gr->er.sampling.grammar) {
        reply_error(rq, 400, "tools", "invalid_value", "'tools' cannot be combined with a grammar or a JSON schema");
        return false;
    }
    char *tj = json_dumps(tools, JSON_COMPACT);
    /* with tools, the tool_use variant renders the prompt when there is one: its format is the one the model writes */
    llamac_tool_format format = rq->s->tmpl_tools ? rq->s->tool_format_tools : rq->s->tool_format;
    llamac_status st =
        tj ? llamac_tool_grammar_build(format, tj, choice, name, parallel, &gr->tool_grammar) : LLAMAC_E_NO_MEMORY;
    if (st != LLAMAC_OK) {
        free(tj);
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, name ? choice_param : "tools", "invalid_value", "%s",
                    llamac_last_error());
        return false;
    }
    free(gr->tools_json);
    gr->tools_json = tj;
    llamac_tool_grammar *g = gr->tool_grammar;
    if (g->grammar) {
        gr->er.sampling.grammar = g->grammar;
        gr->er.sampling.grammar_lazy = g->lazy;
        gr->er.sampling.trigger_patterns = (const char *const *)g->trigger_patterns;
        gr->er.sampling.n_trigger_patterns = g->n_trigger_patterns;
    }
    gr->tools = true;
    return true;
}

bool openai_tool_choice(struct request *rq, json_t *body, llamac_tool_choice *choice, const char **name,
                        bool *parallel) {
    *choice = LLAMAC_TOOL_CHOICE_AUTO;
    *name = NULL;
    *parallel = true;
    if (!field_bool(rq, body, "parallel_tool_calls", parallel)) {
        return false;
    }
    json_t *tc = json_object_get(body, "tool_choice");
    if (json_is_string(tc)) {
        const char *v = json_string_value(tc);
        if (strcmp(v, "none") == 0) {
            *choice = LLAMAC_TOOL_CHOICE_NONE;
        } else if (strcmp(v, "required") == 0) {
            *choice = LLAMAC_TOOL_CHOICE_REQUIRED;
        } else if (strcmp(v, "auto") != 0) {
            reply_error(rq, 400, "tool_choice", "invalid_value",
                        "'tool_choice' must be \"none\", \"auto\", \"required\" or a named function, not \"%s\"", v);
            return false;
        }
    } else if (json_is_object(tc)) {
        /* Chat Completions: {"type": "function", "function": {"name"}}; Responses: {"type": "function", "name"} */
        json_t *fn = json_object_get(tc, "function");
        *name = json_string_value(json_object_get(fn ? fn : tc, "name"));
        if (!*name) {
            reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice.%s' must be a string",
                        fn ? "function.name" : "name");
            return false;
        }
        *choice = LLAMAC_TOOL_CHOICE_NAMED;
    } else if (tc && !json_is_null(tc)) {
        reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice' must be a string or an object");
        return false;
    }
    return true;
}

bool gen_request_openai_tools(struct request *rq, struct gen_request *gr, json_t *body, json_t *tools) {
    llamac_tool_choice choice;
    const char *name;
    bool parallel;
    if (!openai_tool_choice(rq, body, &choice, &name, &parallel)) {
        return false;
    }
    if (!json_is_array(tools) || json_array_size(tools) == 0) {
        /* the fields are checked with or without tools; a choice that needs a tool needs tools */
        if (choice == LLAMAC_TOOL_CHOICE_REQUIRED || choice == LLAMAC_TOOL_CHOICE_NAMED) {
            reply_error(rq, 400, "tool_choice", "invalid_value", "'tool_choice' %s needs 'tools'",
                        choice == LLAMAC_TOOL_CHOICE_NAMED ? "naming a function" : "\"required\"");
            return false;
        }
        return true;
    }
    return gen_request_tools(rq, gr, tools, choice, name, parallel, "tool_choice");
}

bool tools_to_openai(struct request *rq, json_t *tools, const struct tool_shape *shape, json_t **out) {
    *out = NULL;
    if (!tools || json_is_null(tools)) {
        return true;
    }
    if (!json_is_array(tools)) {
        reply_error(rq, 400, "tools", "invalid_type", "'tools' must be an array");
        return false;
    }
    json_t *oai = json_array();
    size_t i;
    json_t *t;
    json_array_foreach(tools, i, t) {
        const char *type = json_string_value(json_object_get(t, "type"));
        const char *name = json_string_value(json_object_get(t, "name"));
        json_t *schema = json_object_get(t, shape->schema_key);
        if (type ? strcmp(type, shape->type) != 0 : !shape->type_optional) {
            reply_error(rq, 400, "tools", "unsupported_value",
                        "'tools[%zu]' is of type \"%s\": this server runs no %s, only %s", i, type ? type : "(none)",
                        shape->others, shape->runs);
            json_decref(oai);
            return false;
        }
        if (!name && shape->schema_optional) {
            reply_error(rq, 400, "tools", "invalid_value", "'tools[%zu].name' must be a string", i);
            json_decref(oai);
            return false;
        }
        if (!name || (!shape->schema_optional && !json_is_object(schema))) {
            reply_error(rq, 400, "tools", "invalid_value", "'tools[%zu]' needs a string 'name' and an object '%s'", i,
                        shape->schema_key);
            json_decref(oai);
            return false;
        }
        json_t *fn = json_pack("{s:s, s:o}", "name", name, "parameters",
                               json_is_object(schema) ? json_incref(schema) : json_pack("{s:s}", "type", "object"));
        json_t *desc = json_object_get(t, "description");
        if (json_is_string(desc)) {
            json_object_set(fn, "description", desc);
        }
        json_array_append_new(oai, json_pack("{s:s, s:o}", "type", "function", "function", fn));
    }
    *out = oai;
    return true;
}

/* Prompt k from `len` bytes of text holding the server's marker once for each of the n media (borrowed), tokenized
 * as tokenize_text tokenizes (special tokens parsed) into chunks; tokens[k] gets their text tokens. */
static bool media_prompt(struct request *rq, struct gen_request *gr, size_t k, const char *param, const char *text,
                         size_t len, bool add_special, llamac_media *const *media, size_t n) {
    unsigned flags = LLAMAC_TOKENIZE_PARSE_SPECIAL | (add_special ? LLAMAC_TOKENIZE_ADD_SPECIAL : 0u);
    llamac_status st = llamac_mmproj_tokenize(rq->s->mmproj, text, len, flags, media, n, &gr->chunks[k]);
    if (st == LLAMAC_E_NO_MEMORY) {
        reply_error(rq, 500, param, NULL, "out of memory");
        return false;
    }
    if (st == LLAMAC_E_MEDIA) {
        reply_error(rq, 400, param, "invalid_value", "Failed to load image or audio file: %s", llamac_last_error());
        return false;
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, 400, param, "invalid_value", "'%s': %s", param, llamac_last_error());
        return false;
    }
    size_t count = llamac_chunks_count(gr->chunks[k]), nt = 0;
    llamac_token *t = malloc((llamac_chunks_n_tokens(gr->chunks[k]) + 1) * sizeof *t);
    if (!t) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < count; i++) {
        llamac_chunk_info info;
        if (llamac_chunks_get(gr->chunks[k], i, &info) == LLAMAC_OK && info.type == LLAMAC_CHUNK_TEXT) {
            memcpy(t + nt, info.tokens, info.n_tokens * sizeof *t);
            nt += info.n_tokens;
        }
    }
    gr->tokens[k] = t;
    gr->n_tokens[k] = nt;
    gr->tokens_malloced[k] = true;
    return true;
}

void gen_request_set_budget(struct gen_request *gr, long long tokens) {
    if (tokens != -1) {
        gr->er.sampling.reasoning_budget.tokens = (int32_t)tokens;
    }
}

bool gen_request_reasoning_budget(struct request *rq, struct gen_request *gr, json_t *body, bool chat) {
    long long tokens = -1, thinking = -1;
    const char *message = NULL;
    llamac_reasoning_budget *rb = &gr->er.sampling.reasoning_budget;
    if (!field_int(rq, body, "reasoning_budget_tokens", -1, INT32_MAX, &tokens) ||
        (chat && !field_int(rq, body, "thinking_budget_tokens", -1, INT32_MAX, &thinking)) ||
        !field_str(rq, body, "reasoning_budget_message", &message)) {
        return false;
    }
    gen_request_set_budget(gr, tokens != -1 ? tokens : thinking);
    if (message) {
        rb->message = message;
    }
    if (chat) {
        return true;
    }
    const char *start = NULL, *end = NULL;
    json_t *ends = json_object_get(body, "reasoning_budget_end_tags");
    if (!field_str(rq, body, "reasoning_budget_start_tag", &start) ||
        !field_str(rq, body, "reasoning_budget_end_tag", &end)) {
        return false;
    }
    size_t n = 0;
    if (ends && !json_is_null(ends)) {
        size_t i;
        json_t *e;
        if (!json_is_array(ends) || json_array_size(ends) > MAX_STOP) {
            reply_error(rq, 400, "reasoning_budget_end_tags", "invalid_type",
                        "'reasoning_budget_end_tags' must be an array of at most %d strings", MAX_STOP);
            return false;
        }
        json_array_foreach(ends, i, e) {
            if (!json_is_string(e)) {
                reply_error(rq, 400, "reasoning_budget_end_tags", "invalid_type",
                            "'reasoning_budget_end_tags[%zu]' must be a string", i);
                return false;
            }
            if (json_string_length(e) > 0) { /* empty tags are left out, as llama-server leaves them */
                gr->budget_ends[n++] = json_string_value(e);
            }
        }
    } else if (end && end[0]) {
        gr->budget_ends[n++] = end;
    }
    if (start && start[0] && n > 0) {
        rb->start = start;
        rb->ends = gr->budget_ends;
        rb->n_ends = n;
    }
    return true;
}

size_t gen_request_prompt_length(const struct gen_request *gr, size_t k) {
    return gr->chunks[k] ? llamac_chunks_n_tokens(gr->chunks[k]) : gr->n_tokens[k];
}

bool gen_request_chat(struct request *rq, struct gen_request *gr, const struct chat_input *ci) {
    size_t len = 0;
    gr->prompt_param = ci->param ? ci->param : "messages";
    if (!render_chat(rq, ci, &gr->chat_prompt, &len)) {
        return false;
    }
    /* the thinking tags of the template, and the thinking block the prompt opened (the budget's tokens and message
     * come from the request or the server) */
    gr->tmpl = chat_template(rq->s, ci);
    if (llamac_template_reasoning_budget(gr->tmpl, gr->chat_prompt, &gr->er.sampling.reasoning_budget) != LLAMAC_OK) {
        reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error());
        return false;
    }
    if (ci->n_media > 0) {
        gr->n_prompts = 1; /* owns what media_prompt made, also when it fails */
        return media_prompt(rq, gr, 0, gr->prompt_param, gr->chat_prompt, len, true, ci->media, ci->n_media);
    }
    if (!tokenize_text(rq, gr->prompt_param, gr->chat_prompt, len, true, &gr->tokens[0], &gr->n_tokens[0])) {
        return false;
    }
    gr->n_prompts = 1;
    return true;
}

bool request_token_ids(struct request *rq, json_t *arr, const char *param, llamac_token **out, size_t *n) {
    size_t len = json_array_size(arr);
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    llamac_token *t = malloc((len ? len : 1) * sizeof *t);
    if (!t) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    for (size_t i = 0; i < len; i++) {
        json_t *v = json_array_get(arr, i);
        if (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) >= n_vocab) {
            free(t);
            reply_error(rq, 400, param, "invalid_value", "'%s' token %zu must be a token id from 0 to %d", param, i,
                        (int)n_vocab - 1);
            return false;
        }
        t[i] = (llamac_token)json_integer_value(v);
    }
    *out = t;
    *n = len;
    return true;
}

/* The text of prompt k to echo: as given, or its token ids as text without the BOS the model adds. */
static bool echo_text(struct request *rq, struct gen_request *gr, size_t k, json_t *v, const char *param) {
    if (json_is_string(v)) {
        gr->echo[k] = strdup(json_string_value(v));
    } else {
        char *text = NULL;
        size_t len = 0;
        if (llamac_detokenize(rq->s->model, gr->tokens[k], gr->n_tokens[k],
                              LLAMAC_DETOKENIZE_REMOVE_SPECIAL | LLAMAC_DETOKENIZE_UNPARSE_SPECIAL, &text,
                              &len) != LLAMAC_OK) {
            reply_error(rq, 400, param, "invalid_value", "%s", llamac_last_error());
            return false;
        }
        gr->echo[k] = strdup(text ? text : "");
        llamac_free(text);
    }
    if (!gr->echo[k]) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    return true;
}

/* A prompt mixing strings and token ids ([12, "text", 34]) into *out (malloc): the strings tokenized, the model's
 * BOS added only when the first element is a string (as llama-server does). */
static bool mixed_tokens(struct request *rq, json_t *arr, const char *param, llamac_token **out, size_t *n) {
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    llamac_token *all = NULL;
    size_t len = 0, cap = 0;
    size_t i;
    json_t *v;
    json_array_foreach(arr, i, v) {
        llamac_token *t = NULL, one = 0;
        size_t nt = 0;
        if (json_is_string(v)) {
            if (!tokenize_text(rq, param, json_string_value(v), json_string_length(v), i == 0, &t, &nt)) {
                free(all);
                return false;
            }
        } else if (json_is_integer(v) && json_integer_value(v) >= 0 && json_integer_value(v) < n_vocab) {
            one = (llamac_token)json_integer_value(v);
            nt = 1;
        } else {
            free(all);
            reply_error(rq, 400, param, "invalid_value", "'%s[%zu]' must be a string or a token id from 0 to %d", param,
                        i, (int)n_vocab - 1);
            return false;
        }
        if (len + nt > cap) {
            size_t grown_cap = (len + nt) * 2;
            llamac_token *grown = realloc(all, grown_cap * sizeof *grown);
            if (!grown) {
                llamac_free(t);
                free(all);
                reply_error(rq, 500, NULL, NULL, "out of memory");
                return false;
            }
            all = grown;
            cap = grown_cap;
        }
        memcpy(all + len, t ? t : &one, nt * sizeof *all);
        len += nt;
        llamac_free(t);
    }
    *out = all;
    *n = len;
    return true;
}

/* Prompt k of llama-server's {"prompt_string": text, "multimodal_data": [base64, ...]}: the text holds the server's
 * marker (/props "media_marker") once for each medium. */
static bool multimodal_prompt(struct request *rq, struct gen_request *gr, size_t k, const char *param, json_t *text,
                              json_t *data) {
    if (!rq->s->mmproj) {
        reply_error(rq, 400, param, "unsupported_value",
                    "'%s' has multimodal_data, but this server has no multimodal projector", param);
        return false;
    }
    if (!json_is_array(data) || json_array_size(data) > MAX_MEDIA) {
        reply_error(rq, 400, param, "invalid_type", "'multimodal_data' must be an array of at most %d base64 strings",
                    MAX_MEDIA);
        return false;
    }
    llamac_media *media[MAX_MEDIA] = { NULL };
    size_t n = 0;
    bool ok = true;
    size_t i;
    json_t *e;
    json_array_foreach(data, i, e) {
        if (!json_is_string(e)) {
            reply_error(rq, 400, param, "invalid_type", "'multimodal_data[%zu]' must be a base64 string", i);
            ok = false;
            break;
        }
        char where[64];
        snprintf(where, sizeof where, "%s.multimodal_data[%zu]", param, i);
        if (!(ok = media_from_url(rq, param, where, json_string_value(e), json_string_length(e), 0, &media[n]))) {
            break;
        }
        n++;
    }
    gr->n_prompts++; /* owns what media_prompt made, also when it fails */
    ok = ok && media_prompt(rq, gr, k, param, json_string_value(text), json_string_length(text), true, media, n);
    for (size_t j = 0; j < n; j++) {
        llamac_media_free(media[j]);
    }
    if (ok && gr->echo_prompt && !(gr->echo[k] = strdup(json_string_value(text)))) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    return ok;
}

bool gen_request_add_prompt(struct request *rq, struct gen_request *gr, json_t *v, const char *param) {
    gr->prompt_param = param;
    if (gr->n_prompts >= MAX_PROMPTS) {
        reply_error(rq, 400, param, "invalid_value", "'%s' may hold at most %d prompts", param, MAX_PROMPTS);
        return false;
    }
    size_t k = gr->n_prompts;
    if (json_is_object(v)) {
        /* llama-server's {"prompt_string": ..., "multimodal_data": [...]} */
        json_t *data = json_object_get(v, "multimodal_data");
        v = json_object_get(v, "prompt_string");
        if (!json_is_string(v)) {
            reply_error(rq, 400, param, "invalid_type", "a prompt object in '%s' needs a string 'prompt_string'",
                        param);
            return false;
        }
        if (data && !json_is_null(data)) {
            return multimodal_prompt(rq, gr, k, param, v, data);
        }
    }
    bool ids = json_is_array(v), mixed = false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        mixed |= json_is_string(e);
        ids &= json_is_integer(e);
    }
    if (json_is_string(v)) {
        if (!tokenize_text(rq, param, json_string_value(v), json_string_length(v), true, &gr->tokens[k],
                           &gr->n_tokens[k])) {
            return false;
        }
    } else if (json_is_array(v) && (ids || mixed)) {
        if (!(mixed ? mixed_tokens(rq, v, param, &gr->tokens[k], &gr->n_tokens[k])
                    : request_token_ids(rq, v, param, &gr->tokens[k], &gr->n_tokens[k]))) {
            return false;
        }
        gr->tokens_malloced[k] = true;
    } else {
        reply_error(rq, 400, param, "invalid_type",
                    "'%s' must be a string, token ids, strings and token ids mixed, an object with a "
                    "'prompt_string', or an array of these",
                    param);
        return false;
    }
    gr->n_prompts++;
    if (gr->n_tokens[k] == 0) {
        reply_error(rq, 400, param, "invalid_value", "'%s' %zu is empty", param, k);
        return false;
    }
    return !gr->echo_prompt || echo_text(rq, gr, k, v, param);
}

bool gen_request_prompts(struct request *rq, struct gen_request *gr, json_t *v, const char *param) {
    if (!v || json_is_null(v)) {
        reply_error(rq, 400, param, "missing_required_parameter", "'%s' is required", param);
        return false;
    }
    bool has_id = false;
    size_t i;
    json_t *e;
    json_array_foreach(v, i, e) {
        has_id |= json_is_integer(e);
    }
    if (!json_is_array(v) || has_id) {
        return gen_request_add_prompt(rq, gr, v, param);
    }
    if (json_array_size(v) == 0) {
        reply_error(rq, 400, param, "invalid_value", "'%s' must not be empty", param);
        return false;
    }
    json_array_foreach(v, i, e) {
        if (!gen_request_add_prompt(rq, gr, e, param)) {
            return false;
        }
    }
    return true;
}

bool gen_request_finish(struct request *rq, struct gen_request *gr) {
    size_t n_choices = gr->n_prompts * gr->n;
    if (n_choices > MAX_CHOICES) {
        reply_error(rq, 400, "n", "invalid_value", "%zu prompts times n = %zu is more than %d choices", gr->n_prompts,
                    gr->n, MAX_CHOICES);
        return false;
    }
    /* the server's defaults for what the request left out, as llama-server's: its stop strings (-r) when the request
     * has none, its grammar (--grammar, --json-schema, ...) when the request constrains nothing and offers no tools */
    const struct server_defaults *d = &rq->s->opt.defaults;
    if (gr->er.n_stop == 0) {
        for (size_t i = 0; i < d->n_stop && i < MAX_STOP; i++) {
            gr->stop[gr->er.n_stop++] = d->stop[i];
        }
    }
    if (!gr->er.sampling.grammar && !gr->tool_grammar && !gr->tools) {
        gr->er.sampling.grammar = d->grammar;
    }
    return true;
}
