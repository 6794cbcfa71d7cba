/*
 * complete.c - POST /v1/chat/completions and /v1/completions: a request body becomes engine requests, and their
 * results become OpenAI's response objects or event stream.
 *
 * gen_params_from_json is the one place that maps request fields onto the engine's request (sampling, limits,
 * stop strings, logprobs); constraints_from_json is where output constraints (llama-server's "grammar", and later
 * "json_schema" / response_format, issue #7) join it. Every field is checked before anything is submitted, so a
 * bad request never reaches the engine.
 */
#include "job.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MAX_STOP 16
#define MAX_N 16
#define MAX_PROMPTS 64
#define MAX_CHOICES 64 /* engine requests of one HTTP request (job_cancel's bound) */

struct gen_params {
    llamac_engine_request er;
    const char *stop[MAX_STOP]; /* borrowed from the request body */
    llamac_logit_bias *bias;    /* malloc */
    char *grammar;              /* converted from a JSON schema (llamac_free) */
    llamac_tool_grammar *tool_grammar;
    bool parse_tools; /* chat with tools (and tool_choice not "none"): output parsed into tool_calls */
    long long n;
    bool stream, include_usage, logprobs, echo;
    long long top_logprobs;
};

static void gen_params_free(struct gen_params *gp) {
    free(gp->bias);
    llamac_free(gp->grammar);
    llamac_tool_grammar_free(gp->tool_grammar);
}

static bool parse_stop(struct request *rq, json_t *body, struct gen_params *gp) {
    json_t *stop = json_object_get(body, "stop");
    if (!stop || json_is_null(stop)) {
        return true;
    }
    if (json_is_string(stop)) {
        if (json_string_length(stop) > 0) {
            gp->stop[gp->er.n_stop++] = json_string_value(stop);
        }
        return true;
    }
    if (!json_is_array(stop) || json_array_size(stop) > MAX_STOP) {
        reply_error(rq, 400, "stop", "invalid_type", "'stop' must be a string or an array of at most %d strings",
                    MAX_STOP);
        return false;
    }
    size_t i;
    json_t *v;
    json_array_foreach(stop, i, v) {
        if (!json_is_string(v)) {
            reply_error(rq, 400, "stop", "invalid_type", "'stop[%zu]' must be a string", i);
            return false;
        }
        if (json_string_length(v) > 0) {
            gp->stop[gp->er.n_stop++] = json_string_value(v);
        }
    }
    return true;
}

/* logit_bias: OpenAI's {"token id": bias} object, or llama-server's [[id, bias], ...] (bias false bans). */
static bool parse_logit_bias(struct request *rq, json_t *body, struct gen_params *gp) {
    json_t *lb = json_object_get(body, "logit_bias");
    if (!lb || json_is_null(lb)) {
        return true;
    }
    if (!json_is_object(lb) && !json_is_array(lb)) {
        reply_error(rq, 400, "logit_bias", "invalid_type",
                    "'logit_bias' must be an object mapping token ids to biases");
        return false;
    }
    size_t n = json_is_object(lb) ? json_object_size(lb) : json_array_size(lb);
    gp->bias = calloc(n ? n : 1, sizeof *gp->bias);
    if (!gp->bias) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
    size_t k = 0;
    const char *key;
    json_t *v;
    void *iter = json_is_object(lb) ? json_object_iter(lb) : NULL;
    for (size_t i = 0; i < n; i++) {
        long long id;
        json_t *val;
        if (json_is_object(lb)) {
            key = json_object_iter_key(iter);
            val = json_object_iter_value(iter);
            iter = json_object_iter_next(lb, iter);
            char *end = NULL;
            id = strtoll(key, &end, 10);
            if (end == key || *end != '\0') {
                reply_error(rq, 400, "logit_bias", "invalid_value", "'logit_bias' key '%s' is not a token id", key);
                return false;
            }
        } else {
            v = json_array_get(lb, i);
            if (!json_is_array(v) || json_array_size(v) != 2 || !json_is_integer(json_array_get(v, 0))) {
                reply_error(rq, 400, "logit_bias", "invalid_type", "'logit_bias[%zu]' must be [token id, bias]", i);
                return false;
            }
            id = json_integer_value(json_array_get(v, 0));
            val = json_array_get(v, 1);
        }
        if (id < 0 || id >= n_vocab) {
            reply_error(rq, 400, "logit_bias", "invalid_value",
                        "'logit_bias' token id %lld is not in the vocabulary "
                        "(0 to %d)",
                        id, (int)n_vocab - 1);
            return false;
        }
        float bias;
        if (json_is_false(val)) {
            bias = -INFINITY;
        } else if (json_is_number(val) && json_number_value(val) >= -100 && json_number_value(val) <= 100) {
            bias = (float)json_number_value(val);
        } else {
            reply_error(rq, 400, "logit_bias", "invalid_value",
                        "'logit_bias' for token %lld must be a number from -100 to 100", id);
            return false;
        }
        gp->bias[k].token = (llamac_token)id;
        gp->bias[k].bias = bias;
        k++;
    }
    gp->er.sampling.logit_bias = gp->bias;
    gp->er.sampling.n_logit_bias = k;
    return true;
}

/* Output constraints onto gp->er.sampling.grammar (*grammar_out owns a converted grammar: llamac_free): llama-server's
 * "grammar" (GBNF, checked by the engine at submit) and "json_schema", and OpenAI's response_format ("text",
 * "json_object", or "json_schema" with json_schema.schema), converted with the JSON Schema converter (issue #7). */
static bool constraints_from_json(struct request *rq, json_t *body, struct gen_params *gp) {
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
        if (strcmp(t, "json_object") == 0) {
            json_object = true;
        } else if (strcmp(t, "json_schema") == 0) {
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
        reply_error(rq, 400, "grammar", "invalid_value",
                    "give only one of 'grammar', 'json_schema' and 'response_format'");
        return false;
    }
    if (grammar && grammar[0]) {
        gp->er.sampling.grammar = grammar;
        return true;
    }
    llamac_status st = LLAMAC_OK;
    if (has_schema) {
        if (!json_is_object(schema) && !json_is_boolean(schema)) {
            reply_error(rq, 400, schema_param, "invalid_type", "the JSON schema must be an object");
            return false;
        }
        char *text = json_dumps(schema, JSON_COMPACT | JSON_ENCODE_ANY);
        st = text ? llamac_json_schema_to_grammar(text, strlen(text), NULL, &gp->grammar) : LLAMAC_E_NO_MEMORY;
        free(text);
    } else if (json_object) {
        st = llamac_json_grammar(NULL, &gp->grammar);
    }
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, json_object ? "response_format" : schema_param,
                    "invalid_value", "%s", llamac_last_error());
        return false;
    }
    gp->er.sampling.grammar = gp->grammar;
    return true;
}

/* Tools (chat): the grammar that makes a call valid in the model's format (lazy for tool_choice "auto": it applies
 * from the call's opening marker on), and the parser for the reply. The tools themselves reach the template in
 * render_chat. */
static bool tools_from_json(struct request *rq, json_t *body, struct gen_params *gp) {
    json_t *tools = json_object_get(body, "tools");
    if (!json_is_array(tools) || json_array_size(tools) == 0) {
        return true;
    }
    llamac_tool_choice choice = LLAMAC_TOOL_CHOICE_AUTO;
    const char *name = NULL;
    bool parallel = true;
    if (!field_bool(rq, body, "parallel_tool_calls", &parallel)) {
        return false;
    }
    json_t *tc = json_object_get(body, "tool_choice");
    if (json_is_string(tc)) {
        const char *v = json_string_value(tc);
        if (strcmp(v, "none") == 0) {
            choice = LLAMAC_TOOL_CHOICE_NONE;
        } else if (strcmp(v, "required") == 0) {
            choice = LLAMAC_TOOL_CHOICE_REQUIRED;
        } else if (strcmp(v, "auto") != 0) {
            reply_error(rq, 400, "tool_choice", "invalid_value",
                        "'tool_choice' must be \"none\", \"auto\", \"required\" or a named function, not \"%s\"", v);
            return false;
        }
    } else if (json_is_object(tc)) {
        json_t *fn = json_object_get(tc, "function");
        name = json_string_value(json_object_get(fn, "name"));
        if (!name) {
            reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice.function.name' must be a string");
            return false;
        }
        choice = LLAMAC_TOOL_CHOICE_NAMED;
    } else if (tc && !json_is_null(tc)) {
        reply_error(rq, 400, "tool_choice", "invalid_type", "'tool_choice' must be a string or an object");
        return false;
    }
    if (choice == LLAMAC_TOOL_CHOICE_NONE) {
        return true;
    }
    if (gp->er.sampling.grammar) {
        reply_error(rq, 400, "tools", "invalid_value", "'tools' cannot be combined with a grammar or a JSON schema");
        return false;
    }
    char *tj = json_dumps(tools, JSON_COMPACT);
    llamac_status st = tj ? llamac_tool_grammar_build(rq->s->tool_format, tj, choice, name, parallel, &gp->tool_grammar)
                          : LLAMAC_E_NO_MEMORY;
    free(tj);
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, name ? "tool_choice" : "tools", "invalid_value", "%s",
                    llamac_last_error());
        return false;
    }
    llamac_tool_grammar *g = gp->tool_grammar;
    if (g->grammar) {
        gp->er.sampling.grammar = g->grammar;
        gp->er.grammar_lazy = g->lazy;
        gp->er.trigger_patterns = (const char *const *)g->trigger_patterns;
        gp->er.n_trigger_patterns = g->n_trigger_patterns;
    }
    gp->parse_tools = true;
    return true;
}

/* The request→engine conversion: every generation field, checked, onto gp (server defaults first). */
static bool gen_params_from_json(struct request *rq, json_t *body, bool chat, struct gen_params *gp) {
    struct server *s = rq->s;
    memset(gp, 0, sizeof *gp);
    gp->er = llamac_engine_request_default();
    gp->er.sampling = s->opt.defaults.sampling;
    gp->er.max_tokens = s->opt.defaults.n_predict;
    gp->er.stop = gp->stop;
    gp->n = 1;
    const char *model = NULL, *user = NULL;
    long long max_tokens = -2, seed = -2, top_k = gp->er.sampling.top_k, n_probs = 0;
    double temp = gp->er.sampling.temp, top_p = gp->er.sampling.top_p, min_p = gp->er.sampling.min_p;
    double presence = gp->er.sampling.penalty_present, frequency = gp->er.sampling.penalty_freq;
    double repeat = gp->er.sampling.penalty_repeat;
    bool ignore_eos = false, cache_prompt = true;
    if (!field_str(rq, body, "model", &model) || !field_str(rq, body, "user", &user) ||
        !field_int(rq, body, "max_tokens", 1, INT32_MAX, &max_tokens) ||
        !field_int(rq, body, "max_completion_tokens", 1, INT32_MAX, &max_tokens) ||
        !field_int(rq, body, "n_predict", -1, INT32_MAX, &max_tokens) ||
        !field_num(rq, body, "temperature", 0, 100, &temp) || !field_num(rq, body, "top_p", 0, 1, &top_p) ||
        !field_int(rq, body, "top_k", 0, INT32_MAX, &top_k) || !field_num(rq, body, "min_p", 0, 1, &min_p) ||
        !field_num(rq, body, "presence_penalty", -2, 2, &presence) ||
        !field_num(rq, body, "frequency_penalty", -2, 2, &frequency) ||
        !field_num(rq, body, "repeat_penalty", 0, 100, &repeat) ||
        !field_int(rq, body, "seed", INT64_MIN, INT64_MAX, &seed) || !field_int(rq, body, "n", 1, MAX_N, &gp->n) ||
        !field_bool(rq, body, "stream", &gp->stream) || !field_bool(rq, body, "ignore_eos", &ignore_eos) ||
        !field_bool(rq, body, "cache_prompt", &cache_prompt) || !parse_stop(rq, body, gp) ||
        !parse_logit_bias(rq, body, gp) || !constraints_from_json(rq, body, gp)) {
        return false;
    }
    if (chat) {
        gp->top_logprobs = 0;
        if (!field_bool(rq, body, "logprobs", &gp->logprobs) ||
            !field_int(rq, body, "top_logprobs", 0, 20, &gp->top_logprobs)) {
            return false;
        }
        if (gp->top_logprobs > 0 && !gp->logprobs) {
            reply_error(rq, 400, "top_logprobs", "invalid_value", "'top_logprobs' needs 'logprobs': true");
            return false;
        }
        /* the engine computes the chosen token's logprob only with n_probs >= 1; the reply shows top_logprobs */
        n_probs = gp->logprobs ? (gp->top_logprobs > 0 ? gp->top_logprobs : 1) : 0;
        if (!tools_from_json(rq, body, gp)) {
            return false;
        }
    } else {
        if (json_is_boolean(json_object_get(body, "logprobs"))) {
            reply_error(rq, 400, "logprobs", "invalid_type", "'logprobs' must be an integer from 0 to 5 (completions)");
            return false;
        }
        long long lp = -1;
        if (!field_int(rq, body, "logprobs", 0, 5, &lp) || !field_bool(rq, body, "echo", &gp->echo)) {
            return false;
        }
        gp->logprobs = lp >= 0;
        gp->top_logprobs = lp > 0 ? lp : 0;
        n_probs = lp >= 0 ? (lp > 0 ? lp : 1) : 0;
        json_t *suffix = json_object_get(body, "suffix");
        if (suffix && !json_is_null(suffix) && !(json_is_string(suffix) && json_string_length(suffix) == 0)) {
            reply_error(rq, 400, "suffix", "unsupported_value", "'suffix' (insertion) is not supported by this server");
            return false;
        }
    }
    json_t *so = json_object_get(body, "stream_options");
    if (so && !json_is_null(so)) {
        if (!json_is_object(so)) {
            reply_error(rq, 400, "stream_options", "invalid_type", "'stream_options' must be an object");
            return false;
        }
        if (!gp->stream) {
            reply_error(rq, 400, "stream_options", "invalid_value",
                        "'stream_options' is only allowed when 'stream' is true");
            return false;
        }
        json_t *iu = json_object_get(so, "include_usage");
        if (iu && !json_is_null(iu) && !json_is_boolean(iu)) {
            reply_error(rq, 400, "stream_options", "invalid_type", "'stream_options.include_usage' must be a boolean");
            return false;
        }
        gp->include_usage = json_is_true(iu);
    }
    if (max_tokens != -2) {
        gp->er.max_tokens = (int32_t)max_tokens;
    }
    if (seed != -2) {
        gp->er.sampling.seed = seed < 0 ? UINT32_MAX : (uint32_t)seed;
    }
    gp->er.sampling.temp = (float)temp;
    gp->er.sampling.top_p = (float)top_p;
    gp->er.sampling.top_k = (int32_t)top_k;
    gp->er.sampling.min_p = (float)min_p;
    gp->er.sampling.penalty_present = (float)presence;
    gp->er.sampling.penalty_freq = (float)frequency;
    gp->er.sampling.penalty_repeat = (float)repeat;
    gp->er.ignore_eos = ignore_eos;
    gp->er.cache_prompt = cache_prompt;
    gp->er.n_probs = (int32_t)n_probs;
    return true;
}

/* Replies for a submit the engine refused: 503 + Retry-After for a full queue, 400 (naming the field) for a prompt
 * that does not fit, a bad grammar or stop string, 500 for a failure of the server itself. */
void reply_submit_error(struct request *rq, const struct job *j, llamac_status st) {
    switch (st) {
    case LLAMAC_E_BUSY:
        rq->retry_after = 1;
        reply_error(rq, 503, NULL, "server_busy", "every slot is busy and the queue is full; retry later");
        break;
    case LLAMAC_E_CONTEXT_FULL:
        reply_error(rq, 400, "messages", "context_length_exceeded", "%s", llamac_last_error());
        if (j->kind == JOB_COMPLETION) {
            json_object_set_new(json_object_get(rq->json, "error"), "param", json_string("prompt"));
        }
        break;
    case LLAMAC_E_GRAMMAR: reply_error(rq, 400, "grammar", "invalid_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_UTF8: reply_error(rq, 400, "stop", "invalid_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_NO_MEMORY:
    case LLAMAC_E_INTERNAL: reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error()); break;
    default: reply_error(rq, 400, NULL, "invalid_value", "%s", llamac_last_error()); break;
    }
}

/* Submits choice i; on failure replies (see reply_submit_error) and returns false. */
static bool submit_choice(struct request *rq, struct job *j, struct gen_params *gp, size_t i,
                          const llamac_token *prompt, size_t n_prompt) {
    llamac_engine_request er = gp->er;
    er.prompt = prompt;
    er.n_prompt = n_prompt;
    if (gp->n > 1 && er.sampling.seed != UINT32_MAX) {
        er.sampling.seed += (uint32_t)(i % (size_t)gp->n); /* the n choices differ, reproducibly */
    }
    llamac_status st = job_submit(j, &j->choices[i], &er);
    if (st != LLAMAC_OK) {
        reply_submit_error(rq, j, st);
    }
    return st == LLAMAC_OK;
}

/* The prompts of a request: for chat one rendered prompt; for completions a string, a list of strings, a list of
 * token ids, or a list of such lists. */
struct prompts {
    llamac_token *tokens[MAX_PROMPTS];
    size_t n_tokens[MAX_PROMPTS];
    char *text[MAX_PROMPTS]; /* the prompt's text, for echo (llamac_free, or free when text_malloced) */
    bool text_malloced[MAX_PROMPTS];
    size_t n;
};

static void prompts_free(struct prompts *p) {
    for (size_t i = 0; i < p->n; i++) {
        llamac_free(p->tokens[i]);
        if (p->text_malloced[i]) {
            free(p->text[i]);
        } else {
            llamac_free(p->text[i]);
        }
    }
}

static bool token_list(struct request *rq, json_t *arr, llamac_token **out, size_t *n) {
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
            reply_error(rq, 400, "prompt", "invalid_value", "'prompt' token %zu must be a token id from 0 to %d", i,
                        (int)n_vocab - 1);
            return false;
        }
        t[i] = (llamac_token)json_integer_value(v);
    }
    /* malloc'ed, unlike tokenize's output: the caller records that (run's `malloced`) */
    *out = t;
    *n = len;
    return true;
}

static bool add_prompt(struct request *rq, struct prompts *p, json_t *v, bool *malloced) {
    if (p->n >= MAX_PROMPTS) {
        reply_error(rq, 400, "prompt", "invalid_value", "'prompt' may hold at most %d prompts", MAX_PROMPTS);
        return false;
    }
    size_t k = p->n;
    if (json_is_string(v)) {
        if (!tokenize_text(rq, "prompt", json_string_value(v), json_string_length(v), true, &p->tokens[k],
                           &p->n_tokens[k])) {
            return false;
        }
        p->text[k] = NULL;
        malloced[k] = false;
    } else if (json_is_array(v)) {
        if (!token_list(rq, v, &p->tokens[k], &p->n_tokens[k])) {
            return false;
        }
        malloced[k] = true;
    } else {
        reply_error(rq, 400, "prompt", "invalid_type",
                    "'prompt' must be a string, an array of strings, or an array of token ids");
        return false;
    }
    p->n++;
    if (p->n_tokens[k] == 0) {
        reply_error(rq, 400, "prompt", "invalid_value", "'prompt' %zu is empty", k);
        return false;
    }
    return true;
}

static bool completion_prompts(struct request *rq, json_t *body, struct prompts *p, bool *malloced) {
    json_t *prompt = json_object_get(body, "prompt");
    if (!prompt || json_is_null(prompt)) {
        reply_error(rq, 400, "prompt", "missing_required_parameter", "'prompt' is required");
        return false;
    }
    if (json_is_array(prompt) && json_array_size(prompt) > 0 && !json_is_integer(json_array_get(prompt, 0))) {
        size_t i;
        json_t *v;
        json_array_foreach(prompt, i, v) {
            if (!add_prompt(rq, p, v, malloced)) {
                return false;
            }
        }
        return true;
    }
    return add_prompt(rq, p, prompt, malloced);
}

static json_t *message_of(struct job *j, struct choice *c) {
    const char *text = c->text.data ? c->text.data : "";
    llamac_tool_message *m = NULL;
    if (!j->parse_tools || llamac_tool_parse(text, c->text.len, &j->parse, &m) != LLAMAC_OK) {
        json_t *content = json_stringn(text, c->text.len);
        return json_pack("{s:s, s:o}", "role", "assistant", "content", content ? content : json_string(""));
    }
    json_t *msg = json_pack("{s:s}", "role", "assistant");
    json_object_set_new(msg, "content", m->content[0] || m->n_tool_calls == 0 ? json_string(m->content) : json_null());
    if (m->reasoning_content[0]) {
        json_object_set_new(msg, "reasoning_content", json_string(m->reasoning_content));
    }
    if (m->n_tool_calls > 0) {
        json_t *calls = json_array();
        for (size_t i = 0; i < m->n_tool_calls; i++) {
            json_array_append_new(calls, json_pack("{s:s, s:s, s:{s:s, s:s}}", "id", m->tool_calls[i].id, "type",
                                                   "function", "function", "name", m->tool_calls[i].name, "arguments",
                                                   m->tool_calls[i].arguments));
        }
        json_object_set_new(msg, "tool_calls", calls);
        c->has_calls = true;
    }
    llamac_tool_message_free(m);
    return msg;
}

/* How a chat reply is read: with tools, into content and tool_calls; with --reasoning-format deepseek (the default),
 * <think>...</think> into reasoning_content also without tools - open from the start when the rendered prompt ends
 * inside a thinking block (a template that opens it for the model). Harmony and Command R7B replies are all markers,
 * so their calls are read in any case. */
static void set_parse(struct server *s, const struct gen_params *gp, const char *prompt, struct job *j) {
    llamac_tool_parse_params pp = llamac_tool_parse_params_default();
    pp.format = s->tool_format;
    pp.reasoning = s->opt.reasoning;
    pp.parse_tool_calls =
        gp->parse_tools || pp.format == LLAMAC_TOOL_FORMAT_HARMONY || pp.format == LLAMAC_TOOL_FORMAT_COMMAND_R7B;
    if (pp.reasoning != LLAMAC_REASONING_NONE && prompt) {
        size_t n = strlen(prompt);
        while (n > 0 && (prompt[n - 1] == '\n' || prompt[n - 1] == ' ' || prompt[n - 1] == '\r')) {
            n--;
        }
        pp.reasoning_open = n >= 7 && memcmp(prompt + n - 7, "<think>", 7) == 0;
    }
    j->parse = pp;
    j->parse_tools = gp->parse_tools || pp.reasoning != LLAMAC_REASONING_NONE;
}

static void reply_result(struct request *rq, struct job *j, struct prompts *p) {
    for (size_t i = 0; i < j->n_choices; i++) {
        struct choice *c = &j->choices[i];
        if (c->status != LLAMAC_OK || c->finish == LLAMAC_FINISH_NONE) {
            reply_error(rq, 500, NULL, NULL, "generation failed: %s", c->error ? c->error : "unknown error");
            return;
        }
    }
    json_t *choices = json_array();
    for (size_t i = 0; i < j->n_choices; i++) {
        struct choice *c = &j->choices[i];
        json_t *lp = c->logprobs ? json_incref(c->logprobs) : json_null();
        if (j->kind == JOB_CHAT) {
            if (c->logprobs) {
                json_decref(lp);
                lp = json_pack("{s:O}", "content", c->logprobs);
            } else if (j->logprobs) {
                json_decref(lp);
                lp = json_pack("{s:[]}", "content");
            }
            json_t *message = message_of(j, c); /* before the finish reason: it sees the tool calls */
            json_array_append_new(choices, json_pack("{s:I, s:o, s:o, s:s}", "index", (json_int_t)i, "message", message,
                                                     "logprobs", lp, "finish_reason", job_finish_reason(c)));
        } else {
            struct buf text = { 0 };
            size_t pi = i / (size_t)j->n_per_prompt;
            if (p && p->text[pi]) {
                buf_add(&text, p->text[pi], strlen(p->text[pi]));
            }
            buf_add(&text, c->text.data ? c->text.data : "", c->text.len);
            json_t *t = json_stringn(text.data ? text.data : "", text.len);
            free(text.data);
            json_array_append_new(choices,
                                  json_pack("{s:o, s:I, s:o, s:s}", "text", t ? t : json_string(""), "index",
                                            (json_int_t)i, "logprobs", lp, "finish_reason", job_finish_reason(c)));
        }
    }
    json_t *out =
        json_pack("{s:s, s:s, s:I, s:s, s:o, s:o}", "id", j->id, "object",
                  j->kind == JOB_CHAT ? "chat.completion" : "text_completion", "created", (json_int_t)j->created,
                  "model", j->model_id, "choices", choices, "usage", job_usage(j, j->n_per_prompt));
    reply_json(rq, 200, out);
}

/* Everything a chat (chat true) or completions request asks for, checked: the generation parameters into *gp (which
 * the caller frees with gen_params_free, also on failure), the tokenized prompts into *p (prompts_free; `malloced`
 * marks token lists from the body) and the rendered chat prompt into *text (llamac_free). Needs the model and template
 * only - no engine, no connection. Returns false after replying with the client's error. */
static bool prepare(struct request *rq, json_t *body, bool chat, struct gen_params *gp, struct prompts *p,
                    bool *malloced, char **text) {
    struct server *s = rq->s;
    if (!gen_params_from_json(rq, body, chat, gp)) {
        return false;
    }
    if (chat) {
        size_t len = 0;
        struct chat_input ci;
        bool ok = chat_input_parse(rq, body, &ci) && render_chat(rq, &ci, text, &len) &&
                  tokenize_text(rq, "messages", *text, len, true, &p->tokens[0], &p->n_tokens[0]);
        chat_input_free(&ci);
        if (!ok) {
            return false;
        }
        p->n = 1;
    } else if (!completion_prompts(rq, body, p, malloced)) {
        return false;
    }
    if (gp->echo) {
        /* the prompt as given; token ids as their text without the BOS the model adds */
        for (size_t i = 0; i < p->n; i++) {
            size_t len;
            json_t *given = json_object_get(body, "prompt");
            if (json_is_array(given) && !json_is_integer(json_array_get(given, 0))) {
                given = json_array_get(given, i);
            }
            if (json_is_string(given)) {
                p->text[i] = strdup(json_string_value(given));
                p->text_malloced[i] = true;
                if (!p->text[i]) {
                    reply_error(rq, 500, NULL, NULL, "out of memory");
                    return false;
                }
                continue;
            }
            if (llamac_detokenize(s->model, p->tokens[i], p->n_tokens[i],
                                  LLAMAC_DETOKENIZE_REMOVE_SPECIAL | LLAMAC_DETOKENIZE_UNPARSE_SPECIAL, &p->text[i],
                                  &len) != LLAMAC_OK) {
                reply_error(rq, 400, "prompt", "invalid_value", "%s", llamac_last_error());
                return false;
            }
        }
    }
    size_t n_choices = p->n * (size_t)gp->n;
    if (n_choices > MAX_CHOICES) {
        reply_error(rq, 400, "n", "invalid_value", "%zu prompts times n = %lld is more than %d choices", p->n, gp->n,
                    MAX_CHOICES);
        return false;
    }
    return true;
}

bool completion_request_check(struct request *rq, json_t *body, bool chat) {
    struct gen_params gp;
    struct prompts p = { 0 };
    bool malloced[MAX_PROMPTS] = { 0 };
    char *text = NULL;
    bool ok = prepare(rq, body, chat, &gp, &p, malloced, &text);
    gen_params_free(&gp);
    for (size_t i = 0; i < p.n; i++) {
        if (malloced[i]) {
            free(p.tokens[i]);
            p.tokens[i] = NULL;
        }
    }
    prompts_free(&p);
    llamac_free(text);
    return ok;
}

static void run(struct request *rq, json_t *body, bool chat) {
    struct server *s = rq->s;
    struct gen_params gp;
    struct prompts p = { 0 };
    bool malloced[MAX_PROMPTS] = { 0 };
    struct job *j = NULL;
    char *text = NULL;
    if (!s->engine) {
        reply_error(rq, 501, NULL, "not_supported", "this server does not generate text (embedding model)");
        goto done;
    }
    if (!prepare(rq, body, chat, &gp, &p, malloced, &text)) {
        goto free_gp;
    }
    size_t n_choices = p.n * (size_t)gp.n;
    j = job_new(s, rq->conn, chat ? JOB_CHAT : JOB_COMPLETION, n_choices);
    if (!j) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        goto free_gp;
    }
    j->stream = gp.stream;
    j->include_usage = gp.include_usage;
    j->logprobs = gp.logprobs;
    j->top_logprobs = (int)gp.top_logprobs;
    j->n_per_prompt = (size_t)gp.n;
    if (chat) {
        set_parse(s, &gp, text, j);
    }
    if (gp.stream && j->parse_tools) {
        for (size_t i = 0; i < n_choices; i++) {
            if (llamac_tool_stream_new(&j->parse, &j->choices[i].tools) != LLAMAC_OK) {
                reply_error(rq, 500, NULL, NULL, "out of memory");
                goto free_gp;
            }
        }
    }
    if (gp.stream) {
        /* the role (chat) or the echoed prompt (completions) comes first, before any token */
        pthread_mutex_lock(&j->lock);
        for (size_t i = 0; i < n_choices; i++) {
            json_t *ch = json_pack("{s:s, s:s, s:I, s:s}", "id", j->id, "object",
                                   chat ? "chat.completion.chunk" : "text_completion", "created",
                                   (json_int_t)j->created, "model", j->model_id);
            json_t *choice = json_pack("{s:I}", "index", (json_int_t)i);
            if (chat) {
                json_object_set_new(choice, "delta", json_pack("{s:s, s:s}", "role", "assistant", "content", ""));
            } else {
                const char *echo = p.text[i / (size_t)gp.n];
                json_object_set_new(choice, "text",
                                    json_string(echo && llamac_utf8_valid(echo, strlen(echo), NULL) ? echo : ""));
            }
            json_object_set_new(choice, "logprobs", json_null());
            json_object_set_new(choice, "finish_reason", json_null());
            json_object_set_new(ch, "choices", json_pack("[o]", choice));
            if (gp.include_usage) {
                json_object_set_new(ch, "usage", json_null());
            }
            if (chat || p.text[i / (size_t)gp.n]) {
                job_emit(j, ch);
            } else {
                json_decref(ch);
            }
        }
        pthread_mutex_unlock(&j->lock);
    }
    for (size_t i = 0; i < n_choices; i++) {
        size_t pi = i / (size_t)gp.n;
        if (!submit_choice(rq, j, &gp, i, p.tokens[pi], p.n_tokens[pi])) {
            job_cancel(j);
            goto free_gp;
        }
    }
    if (gp.stream) {
        struct MHD_Response *r = job_stream_response(j);
        if (!r) {
            job_cancel(j);
            reply_error(rq, 500, NULL, NULL, "out of memory");
            goto free_gp;
        }
        rq->response = r;
        rq->status = 200;
        j = NULL; /* the response holds the connection's reference now */
        goto free_gp;
    }
    if (!job_wait(j)) {
        reply_error(rq, 503, NULL, "cancelled", "the request was cancelled");
        goto free_gp;
    }
    reply_result(rq, j, &p);
free_gp:
    gen_params_free(&gp);
done:
    job_release(j);
    for (size_t i = 0; i < p.n; i++) {
        if (malloced[i]) {
            free(p.tokens[i]);
            p.tokens[i] = NULL;
        }
    }
    prompts_free(&p);
    llamac_free(text);
}

void handle_chat(struct request *rq) {
    json_t *body = request_object(rq);
    if (body) {
        run(rq, body, true);
        json_decref(body);
    }
}

void handle_completions(struct request *rq) {
    json_t *body = request_object(rq);
    if (body) {
        run(rq, body, false);
        json_decref(body);
    }
}
