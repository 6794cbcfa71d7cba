/*
 * template_internal.h - what the chat layer (src/chat) needs from chat templates beyond the public API: rendering
 * with variables given as one JSON object, the usage of watched values (capability probing), the template's source,
 * BOS/EOS texts and rules, and a place to keep what the layer works out about a template once.
 */
#ifndef LLAMAC_TEMPLATE_INTERNAL_H
#define LLAMAC_TEMPLATE_INTERNAL_H

#include "text/jinja.h"

#include <jansson.h>

typedef struct llamac__render_opts {
    const llamac_template_inputs *limits; /* max_output, max_memory, max_steps and now; NULL: defaults */
    const char *const *watch; /* values to watch, by path from a variable: "messages/1/tool_calls/0/function" */
    size_t n_watch;           /* at most JSTAT_MAX_WATCH */
    jwatch *watched;          /* out: what the render did with each (n_watch of them), even when it failed */
} llamac__render_opts;

/* Renders with one variable per key of `vars` (borrowed), set in key order; keys holding the same JSON value (the
 * same json_t) become the same template value. opts may be NULL. *out is caller frees with free. Errors: as
 * llamac_template_render. Thread-safe. */
llamac_status llamac__template_render_vars(const llamac_template *tmpl, json_t *vars, const llamac__render_opts *opts,
                                           char **out, size_t *len);

/* Parses `source` with the BOS/EOS texts and rules of `like`. */
llamac_status llamac__template_new_like(const llamac_template *like, const char *source, size_t len,
                                        llamac_template **out);

/* The source as the engine normalised it (line endings; a final newline dropped), owned by the template. */
const char *llamac__template_source(const llamac_template *tmpl, size_t *len);
/* The source as it was given. */
const char *llamac__template_raw_source(const llamac_template *tmpl, size_t *len);
const char *llamac__template_bos(const llamac_template *tmpl);
const char *llamac__template_eos(const llamac_template *tmpl);
/* The name of a built-in template (llamac_template_builtin), or NULL for a Jinja template. */
const char *llamac__template_builtin(const llamac_template *tmpl);
/* The text of a special token of `model` as llama.cpp's chat code passes it to templates (special tokens rendered),
 * or "" for LLAMA_TOKEN_NULL; caller frees with free (NULL: out of memory). */
char *llamac__token_text(const llamac_model *model, llama_token tok);
/* llama.cpp's fallback template for a model that has none: ChatML. */
extern const char llamac__chatml_source[];

/* Parses one JSON input of a render (`what` names it in errors: "tools: invalid JSON at line 1, column 2: ...",
 * "tools must be a JSON array") into *out (json_decref); NULL text: *out NULL and LLAMAC_OK. */
llamac_status llamac__template_load_json(const char *text, const char *what, bool want_array, json_t **out);

/* The chat layer's data for this template: made by make(tmpl, arg) on the first call (under the template's lock;
 * make must not call this function for the same template), freed with free_fn when the template is freed. NULL when
 * make returns NULL, which is retried next time. Thread-safe. */
void *llamac__template_attachment(const llamac_template *tmpl, void *(*make)(const llamac_template *tmpl, void *arg),
                                  void *arg, void (*free_fn)(void *));

/* What a template can take, found as llama.cpp finds it (common/jinja/caps.cpp): by rendering probe conversations
 * and watching what the template does with them. */
typedef struct llamac__caps {
    bool string_content;      /* content given as a string is rendered */
    bool typed_content;       /* content given as an array of typed parts is rendered */
    bool system_role;         /* a system message's content is used */
    bool tools;               /* the tools are described to the model */
    bool tool_calls;          /* an assistant's tool_calls are rendered */
    bool parallel_tool_calls; /* a second tool call in one message is rendered */
    bool object_arguments;    /* tool-call arguments are read as an object (not a JSON string) */
    bool preserve_reasoning;  /* reasoning_content of earlier turns is kept when asked to */
    bool reasoning_effort;    /* reasoning_effort is used */
} llamac__caps;

/* The limits of the renders that probe a template (capabilities, reasoning markers): tight, since their
 * conversations are tiny, and the same whoever asks first. */
extern const llamac_template_inputs llamac__probe_limits;

/* Probes `tmpl`; probe renders that fail only tell what the template cannot take. Thread-safe. */
void llamac__template_probe_caps(const llamac_template *tmpl, llamac__caps *out);

#endif /* LLAMAC_TEMPLATE_INTERNAL_H */
