/*
 * fuzz_request.c - libFuzzer target for the request parsers of `llamac serve` (untrusted JSON bodies): chat and
 * text completions (checked through the rendered and tokenized prompt with completion_request_check, without
 * generating), /tokenize, /detokenize and /apply-template, and the other dialects' generation requests (Anthropic
 * Messages, OpenAI Responses, Ollama's chat and generate, through their *_request_check), on a server object that
 * has the real model and chat template (stories260K-chatml) but no engine and no connection.
 *
 * The first byte picks the endpoint (below 0x80: the OpenAI and native ones, byte % 5; from 0x80: the other
 * dialects, (byte - 0x80) % 4), the rest is the body. Whatever the body, the reply must be a success or a client
 * error (4xx) in the dialect's error shape (OpenAI's {"error": {"message": string, "type": string, ...}},
 * Anthropic's {"type": "error", "error": {"type": string, "message": string}}, Ollama's {"error": string}): never a
 * 5xx, never a crash or a leak.
 */
#include "complete.h"
#include "fuzz_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static struct server *srv;

static void teardown(void) {
    server_shutdown(srv, 0); /* the model and template with it */
}

static void setup_once(void) {
    if (srv) {
        return;
    }
    char path[1024];
    fuzz_model_path("stories260K-chatml.gguf", path, sizeof path);
    const char *source = NULL;
    struct server_options opt = { 0 };
    opt.model_path = path;
    opt.reasoning = LLAMAC_REASONING_DEEPSEEK;
    opt.defaults.n_predict = -1;
    opt.defaults.sampling = llamac_sampling_params_default();
    struct server_backend b = { 0 };
    srv = server_create(&opt);
    if (!srv || llamac_model_load(path, NULL, &b.model) != LLAMAC_OK ||
        llamac_template_from_model(b.model, NULL, &b.tmpl) != LLAMAC_OK ||
        llamac_model_chat_template(b.model, NULL, &source) != LLAMAC_OK) {
        fprintf(stderr, "fuzz_request: %s\n", llamac_last_error());
        abort();
    }
    b.template_source = source;
    server_set_backend(srv, &b); /* the server owns the model and template now */
    srv->opt.model_path = NULL;  /* `path` goes out of scope; the model id was copied */
    atexit(teardown);
}

/* Whether `body` is an error object in the shape `shape` makes (NULL: OpenAI's). */
static bool error_shaped(error_shape_fn shape, json_t *body) {
    if (shape == anthropic_error) {
        json_t *err = json_object_get(body, "error");
        return json_is_string(json_object_get(body, "type")) && json_is_string(json_object_get(err, "type")) &&
               json_is_string(json_object_get(err, "message"));
    }
    if (shape == ollama_error) {
        return json_is_string(json_object_get(body, "error"));
    }
    json_t *err = json_object_get(body, "error");
    return json_is_string(json_object_get(err, "message")) && json_is_string(json_object_get(err, "type"));
}

/* A reply is a success, or a 4xx whose body is the dialect's error object. */
static void check_reply(const struct request *rq, bool ok) {
    if (ok && rq->status == 0) {
        return; /* a valid completion request (nothing is generated) */
    }
    if (rq->status == 200 && !rq->json && rq->text) {
        /* a reply written as text (/tokenize): it must parse as a JSON object */
        json_t *v = json_loads(rq->text, 0, NULL);
        bool object = json_is_object(v);
        json_decref(v);
        if (!object) {
            abort();
        }
        return;
    }
    if (!rq->json || rq->status < 200) {
        abort();
    }
    if (rq->status == 200) {
        if (ok && !json_is_object(rq->json)) {
            abort();
        }
        return;
    }
    if (rq->status < 400 || rq->status >= 500 || !error_shaped(rq->error_shape, rq->json)) {
        fprintf(stderr, "fuzz_request: status %u\n", rq->status);
        abort();
    }
}

/* The OpenAI and native endpoints: byte % 5 picks one; returns whether a completion request was valid. */
static bool openai_or_native(struct request *rq, uint8_t byte) {
    bool ok = true;
    switch (byte % 5) {
    case 0:
    case 1: {
        bool chat = byte % 5 == 0;
        rq->path = chat ? "/v1/chat/completions" : "/v1/completions";
        json_t *obj = request_object(rq);
        ok = obj && completion_request_check(rq, obj, chat);
        json_decref(obj);
        break;
    }
    case 2:
        rq->path = "/tokenize";
        handle_tokenize(rq);
        break;
    case 3:
        rq->path = "/detokenize";
        handle_detokenize(rq);
        break;
    default:
        rq->path = "/apply-template";
        handle_apply_template(rq);
        break;
    }
    return ok;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    setup_once();
    if (size == 0) {
        return 0;
    }
    char *body = malloc(size);
    if (!body) {
        return 0;
    }
    memcpy(body, data + 1, size - 1);
    body[size - 1] = '\0';
    struct request rq = { .s = srv, .method = "POST", .body = body, .body_len = size - 1 };
    bool ok = true;
    if (data[0] >= 0x80) {
        static const struct {
            const char *path;
            error_shape_fn shape;
        } dialects[] = { { "/v1/messages", anthropic_error },
                         { "/v1/responses", openai_error },
                         { "/api/chat", ollama_error },
                         { "/api/generate", ollama_error } };
        size_t d = (size_t)(data[0] - 0x80) % 4;
        rq.path = dialects[d].path;
        rq.error_shape = dialects[d].shape;
        json_t *obj = request_object(&rq);
        ok = obj && (d == 0   ? anthropic_request_check(&rq, obj)
                     : d == 1 ? responses_request_check(&rq, obj)
                              : ollama_request_check(&rq, obj, d == 2));
        json_decref(obj);
    } else {
        ok = openai_or_native(&rq, data[0]);
    }
    check_reply(&rq, ok);
    if (getenv("FUZZ_REQUEST_VERBOSE")) { /* to see what the corpus reaches */
        char *j = rq.json ? json_dumps(rq.json, JSON_COMPACT) : NULL;
        fprintf(stderr, "%s %u %.300s\n", rq.path, rq.status, j ? j : "(valid)");
        free(j);
    }
    json_decref(rq.json);
    free(rq.text);
    free(body);
    return 0;
}
