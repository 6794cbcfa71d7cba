/*
 * ollama.h - what the files of Ollama's API share: ollama.c (the endpoints of the single-model server), ollama_hub.c
 * (/api/pull and /api/delete over the Hugging Face cache, in both modes) and router_ollama.c (/api/tags, /api/ps and
 * keep_alive over the router's models).
 *
 * Models are named as Ollama names them, NAME:TAG: a model's id with ":latest" when it has no tag of its own, and
 * "hf.co/OWNER/REPO:QUANT" (or "huggingface.co/...") for the Hugging Face models, which llamac knows as
 * OWNER/REPO:QUANT.
 */
#ifndef LLAMAC_SERVER_OLLAMA_H
#define LLAMAC_SERVER_OLLAMA_H

#include "internal.h"

#include <stdint.h>
#include <time.h>

/* Ollama's name of the model with id `id`: the id, with ":latest" when it has no tag, into buf (cap bytes). */
void ollama_name(const char *id, char *buf, size_t cap);

/* Whether a request's `name` names the model with id `id` as an Ollama client would: the id itself, its Ollama name
 * (":latest" added), or with a "hf.co/" or "huggingface.co/" prefix; the tag compared without regard to case (a
 * quant's "q8_0" is "Q8_0"). */
bool ollama_name_is(const char *name, const char *id);

/* Ollama's name of a Hugging Face model as the hub's spec "OWNER/REPO[:QUANT]" into spec (cap bytes): the prefix
 * "hf.co/" or "huggingface.co/" dropped, a tag "latest" meaning no quant. False for a name that is not
 * OWNER/REPO[:TAG] (Ollama's own library names, "llama3.2:1b"). */
bool ollama_hub_spec(const char *name, char *spec, size_t cap);

/* keep_alive of a request body: a Go duration ("5m", "1h30m", "-1m", "0") or a number of seconds; negative keeps
 * the model loaded for good. *given: the body has one (not null); *ms: the time in milliseconds, -1 for ever.
 * False after replying 400 for a malformed value. */
bool ollama_keep_alive(struct request *rq, json_t *body, bool *given, int64_t *ms);

/* Ollama's `details` of a model: format gguf, its architecture as family, its parameter count written as Ollama
 * writes it ("8.0B"), its quantization ("Q4_K_M", "F32"; NULL: ""). */
json_t *ollama_details(const char *arch, uint64_t n_params, const char *quant);

/* A time as Ollama writes it: RFC 3339 with nanoseconds, UTC. */
json_t *ollama_time_json(const struct timespec *ts);

/* A model file's modification time as ollama_time_json (now when it cannot be read). */
json_t *ollama_mtime_json(const char *path);

/* The sha256 of a model file that is a Hugging Face cache blob (blobs/<sha256>, through the snapshot's link), 64 hex
 * digits as /api/tags shows a digest, into buf (cap bytes); else "". */
void ollama_digest_of(const char *path, char *buf, size_t cap);

/* The reply to a chat (chat true) or generate without messages or prompt: {"model", "created_at", "message" or
 * "response", "done": true, "done_reason": why} ("load", or "unload" for a keep_alive of 0). */
void ollama_reply_done(struct request *rq, const char *model, bool chat, const char *why);

/* Router mode (router_ollama.c), called by router_answer for every request in Ollama's shape before it forwards
 * one: answers /api/tags, /api/ps (the router's models), /api/pull and /api/delete, and a chat or generate that
 * only unloads (keep_alive 0, nothing to generate); applies a generation request's keep_alive to its model. True
 * when it answered; false to let the router forward the request as usual. */
bool router_ollama_answer(struct request *rq, void (*route)(struct request *rq));

#endif /* LLAMAC_SERVER_OLLAMA_H */
