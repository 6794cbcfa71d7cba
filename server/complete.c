/*
 * complete.c - running a parsed generation request (request.h) on the engine, whatever dialect it came in: one
 * engine request per choice, then a stream handed to the connection or, when every choice is done, the dialect's
 * response. Nothing here knows a field name or a response shape. Every generation endpoint runs the same course
 * (handle_generation): the body, the engine check, the dialect's parse, generate.
 *
 * How a chat reply is read is decided here too, since every dialect shows it the same way: with tools, into
 * content and tool calls; with --reasoning-format deepseek (the default), <think>...</think> into reasoning also
 * without tools.
 */
#include "complete.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void reply_submit_error(struct request *rq, llamac_status st, const char *prompt_param) {
    switch (st) {
    case LLAMAC_E_BUSY:
        rq->retry_after = 1;
        reply_error(rq, 503, NULL, "server_busy", "every slot is busy and the queue is full; retry later");
        break;
    case LLAMAC_E_CONTEXT_FULL:
        /* llama-server's words first, which its clients look for */
        reply_error(rq, 400, prompt_param, "context_length_exceeded",
                    "the request exceeds the available context size: %s", llamac_last_error());
        break;
    case LLAMAC_E_GRAMMAR: reply_error(rq, 400, "grammar", "invalid_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_UTF8: reply_error(rq, 400, "stop", "invalid_value", "%s", llamac_last_error()); break;
    case LLAMAC_E_NO_MEMORY:
    case LLAMAC_E_INTERNAL: reply_error(rq, 500, NULL, NULL, "%s", llamac_last_error()); break;
    default: reply_error(rq, 400, NULL, "invalid_value", "%s", llamac_last_error()); break;
    }
}

/* How a chat reply is read: as llama-server reads it for this template and prompt (llamac_template_parse_params:
 * the template's format and thinking markers, the thinking block open or already closed by the prompt), with tool
 * calls when tools are offered. Without tools and with --reasoning-format none the text is left as it is. */
static void set_parse(const struct server *s, const struct gen_request *gr, struct job *j) {
    llamac_tool_parse_params pp = llamac_tool_parse_params_default();
    const llamac_template *tmpl = gr->tmpl ? gr->tmpl : s->tmpl; /* the one that rendered the prompt */
    pp.format = tmpl && tmpl == s->tmpl_tools ? s->tool_format_tools : s->tool_format;
    pp.reasoning = s->opt.reasoning;
    pp.parse_tool_calls = gr->tools;
    if (tmpl && gr->chat_prompt &&
        llamac_template_parse_params(tmpl, gr->chat_prompt, gr->tools, s->opt.reasoning, &pp) != LLAMAC_OK) {
        pp.think_start = pp.think_end = ""; /* out of memory: the reply stays as it is */
    }
    if (pp.lead) { /* it points into the prompt, which goes with the request; the reply is read after that */
        j->parse_lead = strdup(pp.lead);
        pp.lead = j->parse_lead; /* out of memory: NULL, the lead is left out */
    }
    if (gr->tools_json) { /* the offered tools type the values of XML-ish calls by their schemas */
        j->parse_tools_json = strdup(gr->tools_json);
        pp.tools = j->parse_tools_json; /* out of memory: NULL, values typed as they read */
    }
    j->parse = pp;
    j->parse_tools = gr->tools || pp.reasoning != LLAMAC_REASONING_NONE;
}

/* A forced call (tool_choice required or named) where the prompt left the thinking block open: the grammar lets the
 * model finish its thinking first, else the call would be written inside it and read as reasoning. On failure
 * replies and returns false. */
static bool forced_call_after_thinking(struct request *rq, struct gen_request *gr, const struct job *j) {
    llamac_tool_grammar *g = gr->tool_grammar;
    if (!g || !g->grammar || g->lazy || gr->er.sampling.grammar != g->grammar || !j->parse.reasoning_open ||
        !j->parse.think_end) {
        return true;
    }
    llamac_status st = llamac_tool_grammar_after_thinking(g, j->parse.think_end);
    if (st != LLAMAC_OK) {
        reply_error(rq, st == LLAMAC_E_NO_MEMORY ? 500 : 400, "tools", "invalid_value", "%s", llamac_last_error());
        return false;
    }
    gr->er.sampling.grammar = g->grammar;
    return true;
}

enum finish result_finish(const struct result *r) {
    switch (r->finish) {
    case LLAMAC_FINISH_LENGTH:
    case LLAMAC_FINISH_CONTEXT_FULL: return FINISH_LENGTH;
    default: break;
    }
    if (r->has_calls) {
        return FINISH_TOOL_CALLS;
    }
    return r->finish == LLAMAC_FINISH_STOP && r->stop_word ? FINISH_STOP_WORD : FINISH_END;
}

llamac_tool_message *result_message(const struct job *j, struct result *r) {
    llamac_tool_parse_params plain = llamac_tool_parse_params_default();
    plain.reasoning = LLAMAC_REASONING_NONE;
    plain.parse_tool_calls = false;
    const char *text = llamac__dynbuf_ptr(&r->text);
    llamac_tool_message *m = NULL;
    if (llamac_tool_parse(text, r->text.len, j->parse_tools ? &j->parse : &plain, &m) != LLAMAC_OK) {
        return NULL;
    }
    if (m->n_tool_calls > 0) {
        r->has_calls = true;
    }
    return m;
}

bool reply_if_failed(struct request *rq, const struct job *j) {
    for (size_t i = 0; i < j->n_choices; i++) {
        const struct result *r = &j->choices[i].r;
        if (r->status == LLAMAC_E_GRAMMAR) {
            /* the request's grammar left no token the model can produce (one that matches nothing, or a dead end):
             * the client's to fix, as an invalid grammar is */
            reply_error(rq, 400, "grammar", "invalid_value", "the grammar allows no text the model can produce: %s",
                        r->error ? r->error : "no token fits");
            return true;
        }
        if (r->status != LLAMAC_OK || r->finish == LLAMAC_FINISH_NONE) {
            reply_error(rq, 500, NULL, NULL, "generation failed: %s", r->error ? r->error : "unknown error");
            return true;
        }
    }
    return false;
}

llamac_tool_message *reply_message(struct request *rq, struct job *j) {
    if (reply_if_failed(rq, j)) {
        return NULL;
    }
    llamac_tool_message *m = result_message(j, &j->choices[0].r);
    if (!m) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
    }
    return m;
}

/* Submits choice i; on failure replies (see reply_submit_error) and returns false. */
static bool submit_choice(struct request *rq, struct job *j, const struct gen_request *gr, size_t i) {
    size_t pi = i / gr->n;
    llamac_engine_request er = gr->er;
    er.prompt = gr->tokens[pi];
    er.n_prompt = gr->n_tokens[pi];
    er.chunks = gr->chunks[pi]; /* a prompt with media: the engine takes its own reference */
    if (gr->n > 1 && er.sampling.seed != UINT32_MAX) {
        er.sampling.seed += (uint32_t)(i % gr->n); /* the n choices differ, reproducibly */
    }
    llamac_status st = job_submit(j, &j->choices[i], &er);
    if (st != LLAMAC_OK) {
        reply_submit_error(rq, st, gr->prompt_param);
    }
    json_t *err = json_object_get(rq->json, "error");
    if (st == LLAMAC_E_CONTEXT_FULL && j->dialect && j->dialect->llama_errors && err) {
        /* llama-server's error type and counts, which its clients read (the code stays OpenAI's) */
        llamac_engine_stats es = { 0 };
        llamac_engine_get_stats(j->engine, &es);
        json_object_set_new(err, "type", json_string("exceed_context_size_error"));
        json_object_set_new(err, "n_prompt_tokens", json_integer((json_int_t)er.n_prompt));
        json_object_set_new(err, "n_ctx", json_integer((json_int_t)es.n_ctx_slot));
    }
    return st == LLAMAC_OK;
}

void generate(struct request *rq, struct gen_request *gr, const struct dialect *d) {
    struct server *s = rq->s;
    size_t n_choices = gr->n_prompts * gr->n;
    struct job *j = job_new(s, rq->conn, d, n_choices);
    if (!j) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return;
    }
    j->stream = gr->stream;
    j->include_usage = gr->include_usage;
    j->logprobs = gr->logprobs;
    j->top_logprobs = gr->top_logprobs;
    j->n_per_prompt = gr->n;
    j->record_tokens = gr->record_tokens;
    j->stream_tokens = gr->stream_tokens;
    j->progress = gr->stream && gr->return_progress;
    j->timings_per_token = gr->timings_per_token;
    j->dialect_data = gr->dialect_data;
    j->dialect_data_free = gr->dialect_data_free;
    gr->dialect_data = NULL;
    gr->dialect_data_free = NULL;
    if (gr->chat_prompt) {
        set_parse(s, gr, j);
        if (!forced_call_after_thinking(rq, gr, j)) {
            goto done;
        }
    }
    if (gr->stream && j->parse_tools) {
        for (size_t i = 0; i < n_choices; i++) {
            if (llamac_tool_stream_new(&j->parse, &j->choices[i].tools) != LLAMAC_OK) {
                reply_error(rq, 500, NULL, NULL, "out of memory");
                goto done;
            }
        }
    }
    if (gr->stream) {
        job_stream_begin(j, gr->echo); /* the role (chat) or the echoed prompt comes first, before any token */
    }
    for (size_t i = 0; i < n_choices; i++) {
        if (!submit_choice(rq, j, gr, i)) {
            job_cancel(j);
            goto done;
        }
    }
    if (gr->stream) {
        struct MHD_Response *r = job_stream_response(j, rq->access);
        if (!r) {
            job_cancel(j);
            reply_error(rq, 500, NULL, NULL, "out of memory");
            goto done;
        }
        rq->response = r;
        rq->status = 200;
        j = NULL; /* the response holds the connection's reference now */
        goto done;
    }
    if (!job_wait(j)) {
        reply_error(rq, 503, NULL, "cancelled", "the request was cancelled");
        goto done;
    }
    if (rq->access) {
        struct totals t;
        job_totals(j, &t);
        rq->access->prompt_tokens = t.prompt;
        rq->access->generated_tokens = t.generated;
    }
    d->respond(rq, j, gr);
done:
    job_release(j);
}

void handle_generation(struct request *rq, const struct dialect *d) {
    json_t *body = request_object(rq);
    if (!body) {
        return;
    }
    struct gen_request gr;
    gen_request_init(&gr, rq->s);
    if (!rq->s->engine) {
        reply_error(rq, 501, NULL, "not_supported", "this server does not generate text (embedding model)");
    } else if (d->parse(rq, body, &gr)) {
        generate(rq, &gr, d);
    }
    gen_request_free(&gr);
    json_decref(body);
}
