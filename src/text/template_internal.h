/*
 * template_internal.h - chat-template rendering for the chat layer (src/chat/render.c), which holds the
 * conversation as parsed JSON already and would otherwise print it only for the renderer to parse it again.
 */
#ifndef LLAMAC_TEMPLATE_INTERNAL_H
#define LLAMAC_TEMPLATE_INTERNAL_H

#include "core/internal.h"

#include <jansson.h>

/* llamac_template_render with the JSON inputs parsed: `messages` (an array), `tools` (an array or NULL) and
 * `kwargs` (an object or NULL) are borrowed; in->messages_json, tools_json and kwargs_json are not read. Same
 * outputs and errors. */
llamac_status llamac__template_render_json(const llamac_template *tmpl, const llamac_template_inputs *in,
                                           json_t *messages, json_t *tools, json_t *kwargs, char **out, size_t *len);

/* Parses one JSON input of a render (`what` names it in errors: "tools: invalid JSON at line 1, column 2: ...",
 * "tools must be a JSON array") into *out (json_decref); NULL text: *out NULL and LLAMAC_OK. */
llamac_status llamac__template_load_json(const char *text, const char *what, bool want_array, json_t **out);

#endif /* LLAMAC_TEMPLATE_INTERNAL_H */
