/*
 * completion.c - llama-server's native completion API: POST /completion (and /completions, which llama-server
 * routes to it too) and GET /props, in llama-server's shapes, so that its clients and its own test suite work
 * unchanged.
 *
 * A request is parsed by the OpenAI completions parser (llama-server's /completion takes the same sampling fields and
 * prompts as its /v1/completions), then the native fields on top: n_probs (post_sampling_probs: the probabilities
 * after the sampling chain, shown as "prob"), return_tokens, response_fields. The
 * answer is llama-server's: content, tokens, stop_type (eos / word / limit), stopping_word, truncated, timings,
 * generation_settings, completion_probabilities; a list of prompts answers a list. A stream sends one event per
 * token, with the token's id, and a last event with stop: true and everything the answer has; with return_progress,
 * prompt_progress events first.
 */
#include "complete.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* What a native response shows beyond the results (the job's dialect_data). */
struct native {
    bool return_tokens;
    bool post_sampling; /* probabilities after the sampling chain: "prob" / "top_probs" instead of log ones */
    int n_probs;
    json_t *response_fields;   /* array of "a/b" paths, or NULL: everything */
    json_t *settings;          /* generation_settings */
    char *prompt[MAX_PROMPTS]; /* each prompt's text, special tokens shown (malloc) */
    size_t n_prompts;
};

static void native_free(void *data) {
    struct native *n = data;
    if (!n) {
        return;
    }
    json_decref(n->response_fields);
    json_decref(n->settings);
    for (size_t i = 0; i < n->n_prompts; i++) {
        free(n->prompt[i]);
    }
    free(n);
}

/* ---- pieces of a response ---- */

/* llama-server's stop_type. */
static const char *stop_type(const struct result *r) {
    switch (r->finish) {
    case LLAMAC_FINISH_EOG: return "eos";
    case LLAMAC_FINISH_STOP: return "word";
    case LLAMAC_FINISH_LENGTH:
    case LLAMAC_FINISH_CONTEXT_FULL: return "limit";
    default: return "none";
    }
}

/* One token as llama-server shows it: its id besides text, bytes and log-probability; with post_sampling_probs,
 * the probability itself ("prob"). */
static json_t *id_token_json(const struct job *j, llamac_token t, float logprob) {
    const struct native *n = j->dialect_data;
    json_t *e = token_json(j->model, t, logprob);
    json_object_set_new(e, "id", json_integer(t));
    if (n->post_sampling) {
        json_object_del(e, "logprob");
        json_object_set_new(e, "prob", json_real(exp((double)logprob)));
    }
    return e;
}

/* A generated token with its n_probs most likely alternatives. */
static json_t *probs_json(const struct job *j, const struct token_logprob *lp) {
    const struct native *n = j->dialect_data;
    json_t *e = id_token_json(j, lp->token, lp->logprob);
    json_t *top = json_array();
    for (size_t i = 0; i < lp->n_top; i++) {
        json_array_append_new(top, id_token_json(j, lp->top[i].token, lp->top[i].logprob));
    }
    json_object_set_new(e, n->post_sampling ? "top_probs" : "top_logprobs", top);
    return e;
}

/* Keeps the response_fields of `res` (stolen), each under its "a/b" path as one key, as llama-server does. */
static json_t *select_fields(json_t *res, const json_t *fields) {
    if (!fields) {
        return res;
    }
    json_t *out = json_object();
    size_t i;
    json_t *f;
    json_array_foreach(fields, i, f) {
        const char *path = json_string_value(f);
        char part[256];
        json_t *v = res;
        for (const char *p = path; v && p;) {
            const char *slash = strchr(p, '/');
            size_t len = slash ? (size_t)(slash - p) : strlen(p);
            snprintf(part, sizeof part, "%.*s", (int)len, p);
            v = json_object_get(v, part);
            p = slash ? slash + 1 : NULL;
        }
        if (v) {
            json_object_set(out, path, v);
        }
    }
    json_decref(res);
    return out;
}

/* The final object of choice i: the answer of a non-streamed request, the last event of a stream. */
static json_t *final_json(const struct job *j, size_t i) {
    const struct native *n = j->dialect_data;
    const struct result *r = &j->choices[i].r;
    json_t *tokens = json_array();
    for (size_t k = 0; n->return_tokens && k < r->n_tokens; k++) {
        json_array_append_new(tokens, json_integer(r->tokens[k]));
    }
    const char *text = j->stream ? "" : llamac__dynbuf_ptr(&r->text);
    size_t len = j->stream ? 0 : r->text.len;
    const char *prompt = n->prompt[i / j->n_per_prompt];
    json_t *res =
        json_pack("{s:I, s:o, s:o, s:i, s:b, s:s, s:i, s:i, s:O, s:s, s:b, s:b, s:s, s:s, s:i, s:o}", "index",
                  (json_int_t)i, "content", text_json(text, len), "tokens", tokens, "id_slot", (int)r->slot, "stop", 1,
                  "model", j->model_id, "tokens_predicted", (int)r->usage.generated_tokens, "tokens_evaluated",
                  (int)r->n_prompt, "generation_settings", n->settings, "prompt", prompt ? prompt : "", "has_new_line",
                  memchr(llamac__dynbuf_ptr(&r->text), '\n', r->text.len) != NULL, "truncated",
                  r->finish == LLAMAC_FINISH_CONTEXT_FULL || r->usage.discarded_tokens > 0, "stop_type", stop_type(r),
                  "stopping_word", r->stop_word ? r->stop_word : "", "tokens_cached",
                  (int)(r->n_prompt + r->usage.generated_tokens), "timings", timings_json(r));
    if (!j->stream && n->n_probs > 0) {
        json_t *probs = json_array();
        for (size_t k = 0; k < r->n_lp; k++) {
            json_array_append_new(probs, probs_json(j, &r->lp[k]));
        }
        json_object_set_new(res, "completion_probabilities", probs);
    }
    return select_fields(res, n->response_fields);
}

/* ---- the dialect ---- */

static void native_stream_event(struct job *j, const struct delta *d, llamac__dynbuf *out) {
    const struct native *n = j->dialect_data;
    if (d->kind == DELTA_TEXT) {
        json_t *ev = json_pack("{s:I, s:o, s:[], s:b, s:i}", "index", (json_int_t)d->choice, "content",
                               text_json(d->text, d->len), "tokens", "stop", 0, "id_slot", -1);
        if (d->token) {
            json_array_append_new(json_object_get(ev, "tokens"), json_integer(*d->token));
        }
        if (d->lp && n->n_probs > 0) {
            json_object_set_new(ev, "completion_probabilities", json_pack("[o]", probs_json(j, d->lp)));
        }
        sse_event(out, NULL, ev);
    } else if (d->kind == DELTA_PROGRESS) {
        json_t *ev = json_pack("{s:I, s:s, s:[], s:b, s:i, s:i, s:i, s:o}", "index", (json_int_t)d->choice, "content",
                               "", "tokens", "stop", 0, "id_slot", -1, "tokens_predicted", 0, "tokens_evaluated",
                               (int)d->progress->n_prompt, "prompt_progress", progress_json(d->progress));
        if (j->timings_per_token) {
            json_object_set_new(ev, "timings", progress_timings_json(d->progress));
        }
        sse_event(out, NULL, ev);
    } else if (d->kind == DELTA_FINISH) {
        sse_event(out, NULL, final_json(j, d->choice));
    } else if (d->kind == DELTA_ERROR) {
        sse_event(out, NULL, openai_error(500, NULL, NULL, d->text ? d->text : "generation failed"));
    }
    /* START, END: nothing (llama-server's native stream has no [DONE]) */
}

static void native_respond(struct request *rq, struct job *j, const struct gen_request *gr) {
    if (reply_if_failed(rq, j)) {
        return;
    }
    if (j->n_choices == 1 && gr->n_prompts == 1) {
        reply_json(rq, 200, final_json(j, 0));
        return;
    }
    json_t *arr = json_array();
    for (size_t i = 0; i < j->n_choices; i++) {
        json_array_append_new(arr, final_json(j, i));
    }
    reply_json(rq, 200, arr);
}

/* ---- requests ---- */

/* generation_settings as llama-server shows them: the sampling the request runs with, under llama-server's names;
 * ignore_eos shows as its -inf biases on the end-of-generation tokens (null in JSON). */
static json_t *settings_json(struct request *rq, const struct gen_request *gr, int n_probs, bool post_sampling) {
    const llamac_sampling_params *sp = &gr->er.sampling;
    json_t *bias = json_array();
    for (size_t i = 0; i < sp->n_logit_bias; i++) {
        float b = sp->logit_bias[i].bias;
        json_array_append_new(bias, json_pack("{s:o, s:i}", "bias", isfinite(b) ? json_real(b) : json_null(), "token",
                                              (int)sp->logit_bias[i].token));
    }
    if (sp->ignore_eos) {
        int32_t n_vocab = llamac_vocab_n_tokens(rq->s->model);
        for (llamac_token t = 0; t < n_vocab; t++) {
            if (llamac_vocab_is_eog(rq->s->model, t)) {
                json_array_append_new(bias, json_pack("{s:n, s:i}", "bias", "token", (int)t));
            }
        }
    }
    json_t *s = json_pack("{s:I, s:f, s:f, s:f, s:i, s:f, s:f, s:f, s:f, s:f, s:f, s:i, s:f, s:f, s:f}", "seed",
                          (json_int_t)sp->seed, "temperature", (double)sp->temp, "dynatemp_range",
                          (double)sp->dynatemp_range, "dynatemp_exponent", (double)sp->dynatemp_exponent, "top_k",
                          (int)sp->top_k, "top_p", (double)sp->top_p, "min_p", (double)sp->min_p, "top_n_sigma",
                          (double)sp->top_n_sigma, "xtc_probability", (double)sp->xtc_probability, "xtc_threshold",
                          (double)sp->xtc_threshold, "typical_p", (double)sp->typical_p, "repeat_last_n",
                          (int)sp->penalty_last_n, "repeat_penalty", (double)sp->penalty_repeat, "presence_penalty",
                          (double)sp->penalty_present, "frequency_penalty", (double)sp->penalty_freq);
    json_t *more =
        json_pack("{s:f, s:f, s:i, s:i, s:i, s:f, s:f, s:f, s:f, s:i, s:i, s:b, s:b, s:i, s:o, s:s, s:b}",
                  "dry_multiplier", (double)sp->dry_multiplier, "dry_base", (double)sp->dry_base, "dry_allowed_length",
                  (int)sp->dry_allowed_length, "dry_penalty_last_n", (int)sp->dry_last_n, "mirostat", (int)sp->mirostat,
                  "mirostat_tau", (double)sp->mirostat_tau, "mirostat_eta", (double)sp->mirostat_eta, "adaptive_target",
                  -1.0, "adaptive_decay", 0.9, "max_tokens", (int)gr->er.max_tokens, "n_predict",
                  (int)gr->er.max_tokens, "ignore_eos", sp->ignore_eos, "stream", gr->stream, "n_probs", n_probs,
                  "logit_bias", bias, "grammar", sp->grammar ? sp->grammar : "", "post_sampling_probs", post_sampling);
    json_object_update(s, more);
    json_decref(more);
    /* the chain's order and DRY breakers, as llama-server shows them (NULL: the library's defaults) */
    llamac_sampling_params defaults = llamac_sampling_params_default();
    const llamac_sampler_type *order = sp->samplers ? sp->samplers : defaults.samplers;
    size_t n_order = sp->samplers ? sp->n_samplers : defaults.n_samplers;
    const char *const *breakers =
        sp->dry_sequence_breakers ? sp->dry_sequence_breakers : defaults.dry_sequence_breakers;
    size_t n_breakers = sp->dry_sequence_breakers ? sp->n_dry_sequence_breakers : defaults.n_dry_sequence_breakers;
    json_t *names = json_array(), *brk = json_array();
    for (size_t i = 0; i < n_order; i++) {
        json_array_append_new(names, json_string(llamac_sampler_type_name(order[i])));
    }
    for (size_t i = 0; i < n_breakers; i++) {
        json_array_append_new(brk, json_string(breakers[i]));
    }
    json_object_set_new(s, "samplers", names);
    json_object_set_new(s, "dry_sequence_breakers", brk);
    return s;
}

/* The native fields on top of the OpenAI completions parse, into *n. */
static bool parse_native(struct request *rq, json_t *body, struct gen_request *gr, struct native *n) {
    long long n_probs = 0, id_slot = -1;
    double adaptive = -1;
    bool backend_sampling = false; /* accepted: llamac samples on the CPU, with the same results */
    if (!field_int(rq, body, "n_probs", 0, MAX_TOP_LOGPROBS, &n_probs) ||
        !field_bool(rq, body, "return_tokens", &n->return_tokens) ||
        !field_bool(rq, body, "post_sampling_probs", &n->post_sampling) ||
        !field_bool(rq, body, "backend_sampling", &backend_sampling) ||
        !field_num(rq, body, "adaptive_target", -INFINITY, INFINITY, &adaptive) ||
        !field_int(rq, body, "id_slot", INT32_MIN, INT32_MAX, &id_slot)) {
        return false;
    }
    gr->er.post_sampling_probs = n->post_sampling;
    if (adaptive >= 0) {
        reply_error(rq, 400, "adaptive_target", "unsupported_value",
                    "'adaptive_target' is not supported: llamac has no adaptive-p sampler");
        return false;
    }
    llamac_engine_stats st = { 0 };
    llamac_engine_get_stats(rq->s->engine, &st);
    if (id_slot < -1 || id_slot >= (long long)st.n_slots) {
        reply_error(rq, 400, "id_slot", "invalid_value", "'id_slot' is %lld; it must be -1 (any) or from 0 to %u",
                    id_slot, st.n_slots - 1);
        return false;
    }
    gr->er.slot = (int32_t)id_slot;
    json_t *rf = json_object_get(body, "response_fields");
    if (rf && !json_is_null(rf)) {
        size_t i;
        json_t *f;
        bool ok = json_is_array(rf);
        json_array_foreach(rf, i, f) {
            ok &= json_is_string(f);
        }
        if (!ok) {
            reply_error(rq, 400, "response_fields", "invalid_type", "'response_fields' must be an array of strings");
            return false;
        }
        n->response_fields = json_array_size(rf) > 0 ? json_incref(rf) : NULL;
    }
    n->n_probs = (int)n_probs;
    if (n_probs > 0) {
        gr->logprobs = true;
        gr->top_logprobs = (int)n_probs;
        gr->er.n_probs = (int32_t)n_probs;
    }
    gr->record_tokens = n->return_tokens || gr->stream;
    gr->stream_tokens = true;
    return true;
}

/* The text of each prompt, special tokens shown ("<s> Once upon a time"), as llama-server's "prompt". */
static bool prompt_texts(struct request *rq, const struct gen_request *gr, struct native *n) {
    for (size_t i = 0; i < gr->n_prompts; i++) {
        n->prompt[i] = prompt_text(rq->s->model, gr->tokens[i], gr->n_tokens[i]);
        n->n_prompts = i + 1;
        if (!n->prompt[i]) {
            reply_error(rq, 400, "prompt", "invalid_value", "%s", llamac_last_error());
            return false;
        }
    }
    return true;
}

/* The OpenAI completion fields, then llama-server's own, keeping what the response shows for the job. */
static bool parse_run(struct request *rq, json_t *body, struct gen_request *gr) {
    struct native *n = calloc(1, sizeof *n);
    if (!n) {
        reply_error(rq, 500, NULL, NULL, "out of memory");
        return false;
    }
    gr->dialect_data = n;
    gr->dialect_data_free = native_free;
    if (!completion_request_parse(rq, body, false, gr) || !parse_native(rq, body, gr, n) || !prompt_texts(rq, gr, n)) {
        return false;
    }
    /* as llama-server: a request's n_predict wins over the server's -n, which -1 (or none) leaves in force */
    if (gr->er.max_tokens < 0) {
        gr->er.max_tokens = rq->s->opt.defaults.n_predict;
    }
    n->settings = settings_json(rq, gr, n->n_probs, n->post_sampling);
    return true;
}

static const struct dialect native_dialect = { "cmpl-",        "text/event-stream", native_stream_event,
                                               native_respond, parse_run,           true };

void handle_native_completion(struct request *rq) {
    handle_generation(rq, &native_dialect);
}

/* ---- /props ---- */

void handle_props(struct request *rq) {
    struct server *s = rq->s;
    llamac_engine_stats st = { 0 };
    if (s->engine) {
        llamac_engine_get_stats(s->engine, &st);
    }
    struct gen_request gr;
    gen_request_init(&gr, s);
    json_t *params = settings_json(rq, &gr, 0, false);
    gen_request_free(&gr);
    char fingerprint[128];
    system_fingerprint(fingerprint, sizeof fingerprint);
    llamac_mmproj_info pi = { 0 };
    if (s->mmproj) {
        llamac_mmproj_get_info(s->mmproj, &pi);
    }
    reply_json(rq, 200,
               json_pack("{s:{s:I, s:o}, s:I, s:s, s:s, s:{s:b, s:b, s:b}, s:s, s:s, s:b}",
                         "default_generation_settings", "n_ctx", (json_int_t)st.n_ctx_slot, "params", params,
                         "total_slots", (json_int_t)st.n_slots, "model_path",
                         s->opt.model_path ? s->opt.model_path : "", "model_alias", s->model_id ? s->model_id : "",
                         "modalities", "vision", (int)pi.vision, "video", 0, "audio", (int)pi.audio, "media_marker",
                         s->marker, "build_info", fingerprint, "is_sleeping", 0));
}

/* llama-server's POST /props: with --props it answers {"success": true}, as llama-server's does (it changes no
 * property either); without, 501 with llama-server's message. */
void handle_props_post(struct request *rq) {
    if (!rq->s->opt.props) {
        reply_error(rq, 501, NULL, "not_supported",
                    "This server does not support changing global properties. Start it with `--props`");
        return;
    }
    reply_json(rq, 200, json_pack("{s:b}", "success", 1));
}
