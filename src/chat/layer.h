/*
 * layer.h - the chat layer's parts (src/chat/layer*.c): what llama-server does to a conversation between the request
 * and the Jinja engine, so that llamac_template_apply renders the prompt llama-server renders.
 *
 * A request becomes messages in one canonical shape (layer_convert.c), adapted to what the template can take; the
 * template's capabilities, family and reasoning markers are worked out once per template (layer_analyze.c); the
 * family decides how the messages reach the template and how a continued message is appended (layer.c).
 */
#ifndef LLAMAC_CHAT_LAYER_H
#define LLAMAC_CHAT_LAYER_H

#include "dynbuf.h"
#include "text/template_internal.h"

#include <jansson.h>

/* The most text one piece of the layer builds (a prompt, a joined content, a JSON dump): past any request. */
#define LAYER_TEXT_MAX ((size_t)1 << 30)

/* s without leading and trailing ASCII white space (isspace), as a new string (caller frees with free). */
char *layer_trim(const char *s, size_t n);
bool layer_has(const char *hay, size_t len, const char *needle);

/* Template families llama.cpp renders with a dedicated handler (common/chat.cpp, common_chat_try_specialized_template)
 * and the rest, handled by its differential "autoparser". */
typedef enum layer_family {
    FAMILY_GENERIC = 0,
    FAMILY_MINISTRAL3,
    FAMILY_GPT_OSS,
    FAMILY_MUSE_GLIMMER,
    FAMILY_FUNCTIONARY_V32,
    FAMILY_KIMI_K2,
    FAMILY_KIMI_K3,
    FAMILY_LING3,
    FAMILY_COHERE2MOE,
    FAMILY_LFM2,
    FAMILY_GIGACHAT_V3,
    FAMILY_MINIMAX_M3,
    FAMILY_DEEPSEEK_V32,
    FAMILY_GEMMA4,
    FAMILY_MINICPM5,
    FAMILY_QWEN3_CODER
} layer_family;

/* What is known about one template, worked out on its first use. */
typedef struct layer_info {
    bool legacy; /* a built-in template (llama-server --no-jinja): messages as checked, no adaptation or continuation */
    llamac_template *patched; /* the template with llama.cpp's two source patches, or NULL (the template itself) */
    llamac__caps caps;
    layer_family family;
    bool trim_content;      /* StepFun: message texts are trimmed before rendering */
    bool developer_stays;   /* gpt-oss: the developer role is not mapped to system */
    bool gemma4_old;        /* an older Gemma 4 template: tool results go into the assistant turn */
    bool deepseek_v4;       /* DeepSeek V4: tool results in tool-call order, a bare </think> */
    bool supports_thinking; /* enable_thinking defaults to true */
    /* generic family: add_generation_prompt changes nothing in a render (the assistant turn's start is always
     * written), so llama.cpp's generation prompt is empty and the prompt neither opens nor closes a reply's thinking
     * for its parser */
    bool no_generation_prompt;
    char *reasoning_start; /* generic family: the reasoning markers the analysis found ("" none) */
    char *reasoning_end;
    const char *think_start; /* the thinking block of a reply, as llama.cpp's parser reads it ("" none; white space */
    const char *think_end;   /* around the markers is optional); NULL for gpt-oss, read by the harmony parser */
    /* The tags of a reasoning budget, as llama.cpp's chat layer gives them (thinking_start_tag, thinking_end_tags;
     * the first end tag is forced): NULL / 0 where it gives none. Static texts or the two owned ones. */
    const char *budget_start;
    const char *budget_ends[3];
    size_t n_budget_ends;
    char *budget_start_owned, *budget_end_owned;
} layer_info;

/* The template that renders (the patched one when there is one). */
static inline const llamac_template *layer_template(const layer_info *info, const llamac_template *tmpl) {
    return info->patched ? info->patched : tmpl;
}

/* The layer's data for `tmpl`, worked out once (NULL: out of memory). Thread-safe. */
const layer_info *layer_info_get(const llamac_template *tmpl);

/* ---- rendering (layer.c) ---- */

/* What one render of the template gets, as llama.cpp's common_chat_template_direct_apply gives it. */
typedef struct layer_render {
    json_t *messages; /* borrowed; normalized to the template's content capabilities unless `raw` */
    bool raw;         /* the messages were built for this template: do not normalize them */
    json_t *tools;    /* borrowed, or NULL */
    bool add_generation_prompt;
    bool enable_thinking;
    json_t *extra;             /* borrowed object of further variables (date, kwargs), or NULL */
    json_t *additional;        /* borrowed object set after `extra`, or NULL */
    const char *bos, *eos;     /* the BOS / EOS texts; NULL: the template's */
    bool strip_bos, strip_eos; /* drop the BOS text at the start / the EOS text at the end */
    const llamac_template_inputs *limits;
} layer_render;

/* Renders; *out caller frees with free. Errors: as llamac_template_render. */
llamac_status layer_direct_apply(const layer_info *info, const llamac_template *tmpl, const layer_render *r, char **out,
                                 size_t *len);
/* What the generation prompt adds: the render with it less the common prefix of the render without it. */
llamac_status layer_generation_prompt(const layer_info *info, const llamac_template *tmpl, const layer_render *r,
                                      char **out);

/* ---- messages (layer_convert.c) ---- */

/* The continued message's texts (llama.cpp's common_chat_msg of the last message). */
typedef struct layer_continued {
    bool present;     /* the message has something (content, parts, reasoning, calls, name or id) */
    char *content;    /* its content string ("" when it has parts or none) */
    char *parts_text; /* its text parts joined with "\n\n" (render_content) */
    char *reasoning;  /* its reasoning_content, or "" */
    bool has_parts;
    bool has_tool_calls;
    const char *role; /* borrowed from the request */
} layer_continued;

void layer_continued_free(layer_continued *c);

/* Checks the messages as llama-server does and returns them in its canonical shape (role, content, reasoning_content,
 * name, tool_call_id, tool_calls with arguments as JSON text), content normalized to the template's capabilities,
 * texts trimmed when `trim`. *out is a new reference. Errors: LLAMAC_E_INVALID_ARGUMENT naming the message. */
llamac_status layer_messages(const layer_info *info, json_t *messages, json_t **out);
/* The raw last message's texts, for a continuation. */
llamac_status layer_continued_of(json_t *messages, layer_continued *out);
/* The tools as llama-server passes them (type, function: name, description, parameters), or NULL for none.
 * Errors: LLAMAC_E_INVALID_ARGUMENT naming the tool. */
llamac_status layer_tools(json_t *tools, json_t **out);
/* The adaptations that follow (in llama.cpp's order): developer to system, system folded into the next message,
 * tool-call argument strings parsed. */
llamac_status layer_adapt(const layer_info *info, json_t *messages);
/* Strings as JSON content parts and back, by the template's capabilities (a copy; new reference). */
json_t *layer_normalize(const llamac__caps *caps, json_t *messages);
/* Compact JSON text as llama.cpp's json::dump() writes it (caller frees with free). */
char *layer_dump(json_t *j);

/* ---- reasoning markers (layer_analyze.c) ---- */

/* The common prefix and suffix of two renders and what differs, cut at markers (<...> and [...]). */
typedef struct layer_diff {
    char *prefix, *suffix, *left, *right;
} layer_diff;

void layer_diff_split(const char *left, const char *right, layer_diff *out);
void layer_diff_free(layer_diff *d);

#endif /* LLAMAC_CHAT_LAYER_H */
