/*
 * complete.h - running a parsed generation request on the engine (complete.c), for every dialect, and what the
 * dialects and endpoints share besides: OpenAI's error shape, the default of every route.
 */
#ifndef LLAMAC_SERVER_COMPLETE_H
#define LLAMAC_SERVER_COMPLETE_H

#include "job.h"

/* Runs *gr (parsed and checked) on the engine and replies in dialect d: a stream (rq->response) or, once every
 * choice is done, d->respond. Replies with the error when the engine refuses a choice. */
void generate(struct request *rq, struct gen_request *gr, const struct dialect *d);

/* A generation endpoint in dialect d, from the body to the reply: the body as a JSON object, 501 on a server that
 * does not generate (an embedding model), d->parse, then generate(). */
void handle_generation(struct request *rq, const struct dialect *d);

/* Replies for an engine submit that failed with `st`: 503 + Retry-After for a full queue, 400 naming the field for
 * a prompt that does not fit (`prompt_param`), a bad grammar or stop string, 500 for a failure of the server. */
void reply_submit_error(struct request *rq, llamac_status st, const char *prompt_param);

/* OpenAI's error object (openai.c): {"error": {"message", "type" (from the status), "param", "code"}}. */
json_t *openai_error(unsigned status, const char *param, const char *code, const char *message);

/* The error objects of the other dialects: Anthropic's {"type": "error", "error": {"type", "message"}}
 * (anthropic.c), Ollama's {"error": message} (ollama.c). The Responses API's are OpenAI's. */
json_t *anthropic_error(unsigned status, const char *param, const char *code, const char *message);
json_t *ollama_error(unsigned status, const char *param, const char *code, const char *message);

/* As completion_request_check, for a Messages body (anthropic.c), a Responses body (responses.c), an Ollama chat
 * (chat true) or generate body (ollama.c). */
bool anthropic_request_check(struct request *rq, json_t *body);
bool responses_request_check(struct request *rq, json_t *body);
bool ollama_request_check(struct request *rq, json_t *body, bool chat);

/* A chat (chat true) or completions body into *gr (gen_request_init'ed by the caller; gen_request_free, also after
 * failing), as the OpenAI endpoints read it; false after replying. llama-server's /completion (completion.c) reads
 * its body with it too (chat false), then its own fields. (openai.c) */
bool completion_request_parse(struct request *rq, json_t *body, bool chat, struct gen_request *gr);

/* Parses and checks a chat (chat true) or completions request body exactly as the OpenAI endpoints do, up to the
 * rendered and tokenized prompts, without generating. Needs only what server_set_backend gave (the model, the
 * template), no engine and no connection (rq->conn may be NULL), so it runs without a listening server
 * (tests/fuzz/fuzz_request.c). Returns true for a valid request; otherwise rq holds the error reply. (openai.c) */
bool completion_request_check(struct request *rq, json_t *body, bool chat);

#endif /* LLAMAC_SERVER_COMPLETE_H */
