/*
 * router.h - router mode (`llamac serve` without -m): many models behind one port, each run on demand as a child
 * `llamac serve -m FILE` on a loopback port of its own, requests forwarded to it by their "model" field.
 *
 * What the router serves (router_models.c finds it): the GGUF models of --models-dir (a file, or a folder holding a
 * model, its split shards and a projector), the models of the Hugging Face cache (OWNER/REPO:QUANT, as llama-server
 * names them) and the sections of a --models-preset INI file (llama-server's format: per-model flags). The child
 * processes, their life (loading, loaded, failed, unloaded), the least-recently-used eviction and the forwarding are
 * router.c's. The server's HTTP plumbing (http.c: auth, limits, CORS, the access log) is the same in both modes.
 * The same machinery runs `-m FILE --sleep-idle-seconds S`: one model in a child, which ends when the server sleeps.
 */
#ifndef LLAMAC_SERVER_ROUTER_H
#define LLAMAC_SERVER_ROUTER_H

#include "internal.h"

#include <stdint.h>

/* What a model's GGUF header, and its projector's, say about it: read when the models are found (router_models.c,
 * router_facts_read), never by loading the model; GET /v1/models (capabilities, meta) and Ollama's /api/tags
 * (details) are written from it. */
struct router_facts {
    bool read;          /* the model's header was read; when false (a broken file, a preset's hf-repo) all is 0 */
    char *architecture; /* general.architecture, or NULL */
    int32_t file_type;  /* general.file_type (an llamac_ftype), -1 when absent */
    uint64_t n_params;  /* elements of all tensors (every shard) */
    uint64_t n_bytes;   /* bytes of all tensors' data (llama.cpp's model size) */
    uint32_t n_vocab, n_ctx_train, n_embd;
    bool embedding; /* ARCH.pooling_type names a pooling (mean, cls, last): an embedding model */
    bool rerank;    /* pooling rank, or a classification head (cls.output.weight): a reranker */
    bool vision;    /* the projector has a vision encoder (clip.has_vision_encoder) */
    bool audio;     /* the projector has an audio encoder (clip.has_audio_encoder) */
};

/* The facts of the model file `path` (NULL: none) and the projector `mmproj` (NULL: none) into *out (caller frees
 * with router_facts_free); a file that cannot be read leaves its part empty. False only when out of memory. */
bool router_facts_read(const char *path, const char *mmproj, struct router_facts *out);
void router_facts_free(struct router_facts *f);

/* A copy of `from` into *to (caller frees with router_facts_free); false when out of memory. */
bool router_facts_copy(struct router_facts *to, const struct router_facts *from);

/* One model the router can serve, as found (router_models.c). */
struct router_source {
    char *name;    /* the id a request names it by */
    char *aliases; /* comma-separated other names (a preset's alias =), or NULL */
    char *path;    /* the model file (a split model's first shard); NULL when `hf` names it */
    char *hf;      /* a preset's hf-repo: the child is started with -hf VALUE; NULL otherwise */
    char *mmproj;  /* a projector beside it (or a preset's mmproj =), or NULL */
    char **args;   /* a preset's other flags, as command-line words for the child ("--ctx-size", "512", ...) */
    size_t n_args;
    const char *source;        /* "models_dir", "cache" or "preset" (llama-server's words) */
    uint64_t size;             /* bytes of the model's files (0 when not known: hf) */
    struct router_facts facts; /* what its header says */
    /* a preset's router-only keys (router.c reads them with the model's flags) */
    bool load_on_startup;    /* load-on-startup: loaded as the router starts, before any request */
    bool stop_timeout_set;   /* stop-timeout: its child is killed this many seconds after it is asked to exit */
    unsigned stop_timeout_s; /* (0: killed at once); else the router's default */
};

/* The option a --models-preset key names, as llama-server's preset parser reads it: an option's name without its
 * dashes ("ctx-size", "c") as it is, an environment-style name as the option it stands for ("LLAMA_ARG_CTX_SIZE":
 * "ctx-size", "LLAMA_ARG_N_PARALLEL": "parallel", "HF_TOKEN": "hf-token"), into name (cap bytes). True when the key
 * was an environment-style name. */
bool router_preset_key(const char *key, char *name, size_t cap);

/* Everything available: the models of `dir` (NULL: none), of the Hugging Face cache (cache: true), then of the
 * preset file `preset` (NULL: none; a section named as a model found before adds its flags to that model, "[*]"
 * gives flags to every model). On success *out (caller frees with router_sources_free) holds *n models in that
 * order, one per name. False with a message in err (cap bytes): a folder that cannot be read, a preset file that
 * cannot be read or does not parse (its line), a preset section that names no model. */
bool router_sources_find(const char *dir, bool cache, const char *preset, struct router_source **out, size_t *n,
                         char *err, size_t cap);
void router_sources_free(struct router_source *list, size_t n);

/* How the router runs (cmd_serve.c fills it in from llama-server's flags). */
struct router_options {
    const char *models_dir;    /* --models-dir, or NULL */
    const char *models_preset; /* --models-preset, or NULL */
    bool cache;                /* the Hugging Face cache's models are listed (always, as llama-server) */
    unsigned models_max;       /* --models-max: models loaded at once; 0: no limit */
    bool autoload;             /* a request naming an unloaded model loads it (not --no-models-autoload) */
    unsigned sleep_idle_s;     /* --sleep-idle-seconds: a model idle this long is unloaded; 0: never */
    const char *exe;           /* the llamac binary the children run */
    const char *const *args;   /* the generation flags every child gets (borrowed; -c, -np, -t, --chat-template-file
                                  ...), before a preset's own */
    size_t n_args;
    /* A preset key (an option's name without its dashes: "ctx-size", "c") as the child's flag ("--ctx-size", "-c"),
     * into flag (cap bytes), *takes_value telling whether a value follows it; false for a name llamac serve does not
     * have or one the router sets itself (host, port, API keys, the router's own options). */
    bool (*flag)(const char *key, char *flag, size_t cap, bool *takes_value);
    /* Single-model mode (-m or -hf with --sleep-idle-seconds): the one model (a file, else a -hf spec) and its
     * --alias list (NULL: the file's name). It loads at start, sleeps (its child exits) after sleep_idle_s idle
     * seconds, and wakes for the next request; /health, /props (is_sleeping) and /v1/models answer while it
     * sleeps. NULL for router mode. */
    const char *single_model, *single_hf, *single_alias;
};

/* Starts a server in router mode: listening as server_start does, ready at once (no model of its own). The options
 * are borrowed and must outlive the server. NULL with a message in err on failure (as server_start, or what
 * router_sources_find says). server_shutdown ends it and every child. */
server *router_start(const struct server_options *so, const struct router_options *ro, char *err, size_t cap);

/* http.c: in router mode, every API request goes here once it is authorized (route: the matched route's handler,
 * NULL for none). It answers the router's own endpoints and forwards the rest to the model's child. */
void router_answer(struct request *rq, void (*route)(struct request *rq));

/* server_shutdown: ends every child (SIGTERM, then SIGKILL after a few seconds), so that the connections forwarding
 * to them end, before the connections are closed; router_free then frees what is left. */
void router_stop(struct server *s);
void router_free(struct server *s);

/* What Ollama's endpoints in router mode (router_ollama.c, ollama_hub.c) read and change of the router, each call
 * under its lock (the functions below need a server in router mode, or in single-model mode with sleep). */
struct router_entry {
    char *name;                /* the model's id */
    char *path;                /* its file, or NULL (a preset's hf-repo, single-model mode's -hf) */
    const char *source;        /* as router_source.source ("model" in single-model mode) */
    uint64_t size;             /* as router_source.size */
    struct router_facts facts; /* as router_source.facts */
    bool loaded;               /* its child serves */
    uint16_t port;             /* then the child's port */
    int64_t expires_ms;        /* then when it is unloaded unless used meanwhile: unix time in ms; INT64_MAX: never */
};

/* The listed models, in the list's order, into *out (caller frees with router_entries_free) and *n. False when out
 * of memory. */
bool router_entries(struct server *s, struct router_entry **out, size_t *n);
void router_entries_free(struct router_entry *list, size_t n);

/* Single-model mode (-m with --sleep-idle-seconds), rather than router mode. */
bool router_is_single(struct server *s);

/* The id of the listed model that `name` names as requests name models (an id, an alias, an Ollama name) into id
 * (cap bytes); in single-model mode the one model, whatever the name. False when none does. */
bool router_find(struct server *s, const char *name, char *id, size_t cap);

/* Unloads model `id` now and returns once its process has exited (nothing when it is not running). */
void router_unload_now(struct server *s, const char *id);

/* Reads the folder, cache and preset again, as GET /models?reload=1 does (single-model mode: nothing to read).
 * False with a message in err (cap bytes). */
bool router_rescan(struct server *s, char *err, size_t cap);

/* GET `path` of the child listening on `port`: the JSON of a 200 answer (caller frees with json_decref), else NULL. */
json_t *router_child_get(struct server *s, uint16_t port, const char *path);

#endif /* LLAMAC_SERVER_ROUTER_H */
