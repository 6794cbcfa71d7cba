/*
 * model_hub.h - the Hugging Face cache as the server changes it: a model downloaded into it or removed from it, for
 * both APIs that do so, Ollama's /api/pull and /api/delete (ollama_hub.c) and llama-server's router's POST and
 * DELETE /models (router.c). Each dialect keeps its own requests, progress reports and replies; what happens to the
 * cache, with the server's Hub settings (--offline, -hft), and the router's list read again afterwards (so that a
 * pulled model is served at once and a removed one is gone) is here, once.
 */
#ifndef LLAMAC_SERVER_MODEL_HUB_H
#define LLAMAC_SERVER_MODEL_HUB_H

#include "internal.h"

/* The Hub parameters of the server's options: -hft's token (else the environment's). Not --offline, which is
 * for -hf at start: a download the API asks for is made, as llama-server's router makes it (Ollama's /api/pull
 * refuses itself with --offline). */
llamac_hub_params model_hub_params(const struct server *s);

/* The HTTP status of a hub failure: a name or repository that is not there 404, a refused token 403, the Hub out of
 * reach 502, a bad name 400; the server's own failure (its disk) 500. */
unsigned model_hub_status(llamac_status st);

/* Lists the repository of `spec` ("OWNER/REPO[:QUANT]") on the Hub, which tells that it exists before a download
 * starts: *files (caller frees with llamac_hub_list_free; NULL: not wanted). Not LLAMAC_OK with the reason in err
 * (cap bytes). */
llamac_status model_hub_check(const struct server *s, const char *spec, llamac_hub_list **files, char *err, size_t cap);

/* Downloads `spec` into the cache as `llamac pull` does (the quant's file, its shards, the repository's projector;
 * resumable, sha256-checked), `progress` (NULL: none) told of each file's bytes (false from it cancels the pull),
 * then, in router mode, reads the models again so that it is listed and served. *files (NULL: not wanted; caller
 * frees) lists the files. Not LLAMAC_OK with the reason in err (cap bytes): the pull's failure, or LLAMAC_E_IO when
 * the models cannot be read again. Runs on any thread; it may take long. */
llamac_status model_hub_pull(struct server *s, const char *spec, llamac_hub_progress_fn progress, void *user_data,
                             llamac_hub_list **files, char *err, size_t cap);

/* Removes `spec`'s files from the cache as `llamac rm` does (*removed: how many), then, in router mode, reads the
 * models again (whatever the removal did). The caller has unloaded the models it touches. Not LLAMAC_OK with the
 * reason in err (cap bytes): the removal's failure (LLAMAC_E_NOT_FOUND when nothing cached matches), or
 * LLAMAC_E_IO when the models cannot be read again. */
llamac_status model_hub_remove(struct server *s, const char *spec, size_t *removed, char *err, size_t cap);

#endif /* LLAMAC_SERVER_MODEL_HUB_H */
