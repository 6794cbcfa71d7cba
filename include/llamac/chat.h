/*
 * llamac/chat.h - conversations: chat templates (llamac's Jinja engine), conversations rendered into prompts as
 * llama-server renders them, chat sessions that reuse the KV cache each turn, and incremental prefill while a user
 * types.
 *
 * One part of the llamac API; programs include <llamac.h>, which includes every part in layer order.
 */
#ifndef LLAMAC_CHAT_H
#define LLAMAC_CHAT_H

#include "media.h"

#ifdef __cplusplus
extern "C" {
#endif

/* ---------------------------------------------------------------------------------------------------------------
 * Chat templates
 * ------------------------------------------------------------------------------------------------------------- */

/* A chat template: the Jinja source a model carries (tokenizer.chat_template) turned into a prompt for a
 * conversation. llamac renders the real template with its own engine for the Jinja2 subset Hugging Face templates
 * use, with the behaviour of llama.cpp's engine (common/jinja), byte for byte: no template is guessed or replaced.
 * Rendering is bounded: output size, working memory, evaluation steps and nesting (100 macro calls deep, 1000
 * levels of evaluation; about 1 MiB of stack) have limits, and exceeding one is an error, never a crash. */
typedef struct llamac_template llamac_template;

/* Parses `len` bytes of UTF-8 template source (borrowed; need not be NUL-terminated). BOS/EOS default to "".
 * *out is caller frees with llamac_template_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_UTF8,
 * LLAMAC_E_TEMPLATE (a syntax error: "chat template line 3, column 7: expected %}, got 'foo'"), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_template_new(const char *source, size_t len, llamac_template **out);

/* Parses the chat template stored in `model` (borrowed; not referenced afterwards): `name` NULL for the default,
 * or a variant such as "tool_use" (NUL-terminated, borrowed). The model's BOS and EOS token texts become the
 * template's bos_token and eos_token (as llama.cpp passes them; "" when the vocabulary has none). *out is caller
 * frees with llamac_template_free. Errors: as llamac_template_new, plus LLAMAC_E_NOT_FOUND (no such template; there
 * is no fallback to another template). Thread-safe. */
LLAMAC_API llamac_status llamac_template_from_model(const llamac_model *model, const char *name, llamac_template **out);

/* The template llama-server uses for `model` (borrowed): the model's default template; its "tool_use" variant when
 * `tools` is true and the model has one (also when it has no default); and ChatML when the model has no template at
 * all. *out is caller frees with llamac_template_free. Errors: as llamac_template_from_model, except that a missing
 * template is not one. Thread-safe. */
LLAMAC_API llamac_status llamac_template_for_model(const llamac_model *model, bool tools, llamac_template **out);

/* One of llama.cpp's built-in chat formats by name (NUL-terminated, borrowed: "chatml", "llama3", "mistral-v7",
 * ...; llama_chat_builtin_templates lists them), rendered by llama.cpp's llama_chat_apply_template as llama-server
 * renders with --no-jinja: messages' roles and text only (content parts joined), no tools, no template variables.
 * *out is caller frees with llamac_template_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_NOT_FOUND
 * (not a built-in name; the message lists them), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_template_builtin(const char *name, llamac_template **out);

/* The Jinja source `tmpl` (borrowed) was made from, as given: NUL-terminated, owned by the template (valid until
 * llamac_template_free); *len (may be NULL) excludes the NUL. "" for a built-in template and for NULL. What
 * llama-server reports as its chat_template, and what tool-call formats are detected from. Thread-safe. */
LLAMAC_API const char *llamac_template_source(const llamac_template *tmpl, size_t *len);

/* Frees a template. NULL is a no-op. One thread per handle (no render may be running on it). */
LLAMAC_API void llamac_template_free(llamac_template *tmpl);

/* What a render gets. The JSON texts are NUL-terminated and borrowed for the call. The template sees, in this order:
 * messages, tools (only when tools_json is given), bos_token, eos_token, add_generation_prompt, then each key of
 * kwargs_json, which may replace any of those. Messages are rendered as given: OpenAI-format content strings,
 * tool_calls with "arguments" as an object or a string, whatever the template expects. For the prompt llama-server
 * makes of a conversation use llamac_template_apply, which adapts the conversation first. */
typedef struct llamac_template_inputs {
    const char *messages_json;  /* required: a JSON array of messages, e.g. [{"role":"user","content":"Hi"}] */
    const char *tools_json;     /* a JSON array of tools (OpenAI format), or NULL */
    const char *kwargs_json;    /* a JSON object of extra variables, e.g. {"enable_thinking": false}, or NULL */
    bool add_generation_prompt; /* end with the start of an assistant turn (default true) */
    const char *bos_token;      /* NULL: the template's (the model's BOS text, or "") */
    const char *eos_token;      /* NULL: the template's */
    int64_t now;                /* the time strftime_now() formats, in seconds since the epoch, shown in the local
                                   time zone; 0 (default): the current time */
    size_t max_output;          /* bytes the output, or any string made while rendering, may reach; 0: 64 MiB */
    size_t max_memory;          /* bytes of working memory; 0: 1 GiB */
    uint64_t max_steps;         /* evaluation steps (a bound on time); 0: 100 million */
} llamac_template_inputs;

/* The defaults above (messages_json NULL, which a render needs set). Thread-safe. */
LLAMAC_API llamac_template_inputs llamac_template_inputs_default(void);

/* Renders the prompt: *out is NUL-terminated, caller frees with llamac_free; *len (may be NULL) excludes the NUL.
 * Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, JSON that does not parse or is not an array / object; the message gives
 * the line and column; a built-in template, which only llamac_template_apply renders), LLAMAC_E_UTF8 (bos/eos
 * text), LLAMAC_E_TEMPLATE (raise_exception in the template, an unknown filter or test, a type error, an
 * unsupported construct, a limit, output that is not valid UTF-8; the message names the template line and column
 * and the construct: "chat template line 7, column 12: raise_exception: System role not supported"),
 * LLAMAC_E_NO_MEMORY. Thread-safe (any number of threads may render the same template at once). */
LLAMAC_API llamac_status llamac_template_render(const llamac_template *tmpl, const llamac_template_inputs *in,
                                                char **out, size_t *len);

/* What a template can take, found as llama.cpp finds it (by rendering probe conversations and watching what the
 * template does with them); llama-server reports the same as chat_template_caps in /props. */
typedef struct llamac_template_caps {
    bool string_content;      /* content as a string is rendered */
    bool typed_content;       /* content as an array of typed parts ({"type":"text","text":...}) is rendered */
    bool system_role;         /* a system message is used */
    bool tools;               /* the tools offered are described to the model */
    bool tool_calls;          /* an assistant's tool calls are rendered */
    bool parallel_tool_calls; /* more than one call in a message is rendered */
    bool object_arguments;    /* tool-call arguments are read as an object, not a JSON string */
    bool preserve_reasoning;  /* reasoning of earlier turns can be kept in the prompt */
    bool reasoning_effort;    /* the template reads reasoning_effort */
    bool thinking;            /* the template has a thinking section: enable_thinking defaults to true */
} llamac_template_caps;

/* Fills *out (all false on error, and for a built-in template). The probes run once per template, on first use of
 * this function or of llamac_template_apply. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_template_get_caps(const llamac_template *tmpl, llamac_template_caps *out);

/* ---------------------------------------------------------------------------------------------------------------
 * Conversations into prompts
 * ------------------------------------------------------------------------------------------------------------- */
/* llamac_template_apply is the one place a conversation becomes a prompt: `llamac template`, chat sessions,
 * incremental prefill and every endpoint of `llamac serve` that renders a conversation (/apply-template, chat
 * completions, drafts) call it. It is llama-server's chat layer (llama.cpp's common/chat.cpp), between the request
 * and the template, and its result is byte for byte the prompt of llama-server's /apply-template:
 *   1. the messages are checked and reshaped as llama-server reads them (content null becomes "", every message
 *      gets the same keys in the same order, tools their OpenAI shape); a refusal names the message;
 *   2. they are adapted to what the template can take (llamac_template_get_caps): tool-call argument strings (what
 *      every OpenAI SDK sends) parsed into objects where the template reads objects, a system message folded into
 *      the next message where there is no system role, developer mapped to system, content parts joined with "\n"
 *      or strings made parts; a media part (image_url, input_audio, file) is refused: this layer renders text
 *      only (media reach a prompt through chat sessions, llamac_chat_add_parts);
 *   3. the template is rendered with messages, tools (only when there are some), bos_token and eos_token (the
 *      model's texts, whatever the template's origin), add_generation_prompt, llama-server's extra context (today's
 *      date as datetime and date_string, enable_thinking, preserve_reasoning, reasoning_effort) and each key of
 *      chat_template_kwargs; templates llama.cpp handles as families (gpt-oss, Ministral, DeepSeek V3.2/V4, Gemma 4,
 *      Kimi, Qwen3-Coder, ...) get their messages as llama.cpp gives them;
 *   4. a conversation ending with an assistant message is continued rather than answered (llama-server's
 *      continue_final_message and assistant prefill);
 *   5. the model's BOS text is dropped from the start of the render when tokenizing adds a BOS token, and its EOS
 *      text from the end when tokenizing adds an EOS token, as llama.cpp does, so that llamac_tokenize with
 *      LLAMAC_TOKENIZE_ADD_SPECIAL | LLAMAC_TOKENIZE_PARSE_SPECIAL gives llama-server's prompt tokens.
 * The parameters are JSON in, as a request carries them; set the struct up with llamac_template_apply_params_default,
 * whose values are llama-server's defaults. */

/* How a conversation that ends with an assistant message goes on (llama-server's continue_final_message). */
typedef enum llamac_continuation {
    LLAMAC_CONTINUE_NONE = 0,     /* answered with a new assistant turn (but see prefill_assistant) */
    LLAMAC_CONTINUE_AUTO = 1,     /* the reasoning when the message has nothing else, the content otherwise */
    LLAMAC_CONTINUE_CONTENT = 2,  /* the message's content (its reasoning is closed first) */
    LLAMAC_CONTINUE_REASONING = 3 /* the message's reasoning */
} llamac_continuation;

/* Whether a reasoning ("thinking") template thinks: llama-server's --reasoning on|off|auto. */
typedef enum llamac_thinking {
    LLAMAC_THINKING_AUTO = 0, /* enable_thinking true where the template has a thinking section */
    LLAMAC_THINKING_ON = 1,   /* enable_thinking true */
    LLAMAC_THINKING_OFF = 2   /* enable_thinking false */
} llamac_thinking;

typedef struct llamac_template_apply_params {
    const char *messages_json; /* required: a JSON array of OpenAI-format messages, NUL-terminated, borrowed */
    const char *tools_json;    /* a JSON array of tools (OpenAI format), or NULL; an empty array is no tools */
    const char *chat_template_kwargs_json; /* a JSON object of extra template variables, e.g.
                                              {"enable_thinking": false}, or NULL; its enable_thinking (a boolean)
                                              overrides `thinking` */
    bool add_generation_prompt;            /* end with the start of an assistant turn (default true) */
    int64_t now; /* the time strftime_now() and the date context show, in seconds since the epoch, in the local time
                    zone; 0 (default): the current time */
    llamac_continuation continue_final_message; /* default LLAMAC_CONTINUE_NONE */
    bool prefill_assistant;       /* a conversation ending with an assistant message continues it (default true, as
                                     llama-server without --no-prefill-assistant) */
    llamac_thinking thinking;     /* default LLAMAC_THINKING_AUTO */
    const char *reasoning_effort; /* the request's reasoning_effort, NUL-terminated, borrowed, or NULL; "none" turns
                                     thinking off, another value reaches the template as reasoning_effort */
} llamac_template_apply_params;

/* The defaults above (messages_json NULL, which a call needs set). Thread-safe. */
LLAMAC_API llamac_template_apply_params llamac_template_apply_params_default(void);

/* Reads the fields of an OpenAI-shaped chat request body (`body_json`: a JSON object, NUL-terminated, borrowed) that
 * llamac_template_apply takes, as llama-server reads them from a /apply-template or chat-completions body:
 * "messages", "tools" and "chat_template_kwargs" (as JSON texts; null is absent), "add_generation_prompt" (a
 * boolean), "continue_final_message" (true: auto, "content", "reasoning_content"; anything else: none) and
 * "reasoning_effort" (a string). The other fields of *params are left as they are. The texts *params points to are
 * in *keep, caller frees with llamac_free after the last use of *params. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs,
 * not a JSON object, no "messages"), LLAMAC_E_NO_MEMORY. Thread-safe. */
LLAMAC_API llamac_status llamac_template_apply_params_from_json(const char *body_json,
                                                                llamac_template_apply_params *params, char **keep);

/* Renders the conversation of `params` with `tmpl` (borrowed) for `model` (borrowed; only its vocabulary is read:
 * a vocab-only model will do; NULL: the template's own BOS/EOS texts and nothing dropped) into *out (NUL-terminated,
 * caller frees with llamac_free; *len may be NULL and excludes the NUL). Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs,
 * JSON that does not parse or has the wrong type, and what llama-server refuses, the message naming it:
 * "messages[2]: all non-assistant messages must contain 'content'", "messages[1].tool_calls[0].function.arguments
 * is not valid JSON (...)", both add_generation_prompt and a continuation, a continued message with tool calls, a
 * string enable_thinking), LLAMAC_E_UNSUPPORTED (a media content part: "messages[1].content[1] is of type
 * \"image_url\": ..."), LLAMAC_E_UTF8, LLAMAC_E_TEMPLATE (as llamac_template_render), LLAMAC_E_NO_MEMORY.
 * Thread-safe. */
LLAMAC_API llamac_status llamac_template_apply(const llamac_template *tmpl, const llamac_model *model,
                                               const llamac_template_apply_params *params, char **out, size_t *len);

/* How many leading `tokens` of a conversation whose last message is still being typed stay when more text is typed
 * at the end of that message: those before the end of the typed text, less `margin`. `tokens` (borrowed, n_tokens
 * of them) are the caller's tokenization of llamac_template_apply's result for the same `params`; the last message
 * of params->messages_json is the one being typed and must have string content. The template's text before the
 * message is found by rendering again with the message replaced by a sentinel; that text plus the typed text,
 * tokenized alone, shares with `tokens` only tokens that do not depend on what the template writes after the
 * message. `margin` more are withheld, since the next keystroke can still merge into the last tokens ("wor" + "d"):
 * 2 is the usual margin, and with 0 the count is the boundary itself, not a promise. *n_stable is 0 when the
 * template does not show the message's text as given (it rewrites it). Incremental prefill and the server's
 * /v1/drafts decode exactly these tokens early. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, no last message with
 * string content), the errors of llamac_template_apply, and of llamac_tokenize. Thread-safe. */
LLAMAC_API llamac_status llamac_template_stable_tokens(const llamac_template *tmpl, const llamac_model *model,
                                                       const llamac_template_apply_params *params,
                                                       const llamac_token *tokens, size_t n_tokens, size_t margin,
                                                       size_t *n_stable);

/* ---------------------------------------------------------------------------------------------------------------
 * Chat sessions
 * ------------------------------------------------------------------------------------------------------------- */
/* A chat session: a conversation (system prompt, turns, tool calls and results) bound to one sequence of a
 * context. Each llamac_chat_generate renders the whole conversation with the real chat template, tokenizes it and
 * decodes only the tokens after the longest common prefix with what the sequence already holds, so the system
 * prompt and earlier turns are evaluated once. Text inside messages never becomes special tokens ("<|im_end|>"
 * typed by a user stays plain text); only the template's own markers do. Generation stops at the vocabulary's
 * end-of-generation tokens and at the template's end-of-turn text (e.g. "<|im_end|>"). When the next prompt plus a
 * reserve for the reply no longer fits, the oldest turns are evicted (the system prompt and the last
 * keep_last_turns turns stay) instead of failing. The session uses its sequence exclusively: do not decode into it
 * while the session lives. */
typedef struct llamac_chat llamac_chat;

typedef struct llamac_chat_params {
    /* The system prompt, NUL-terminated, borrowed for the call (copied); NULL: none. */
    const char *system_prompt;
    /* Jinja source, NUL-terminated, borrowed (copied); NULL: the template llama-server would use
     * (llamac_template_for_model: the model's, its tool_use variant with tools, ChatML when it has none). */
    const char *template_source;
    /* One of llama.cpp's built-in chat formats by name ("chatml", "llama3", ...: llamac_template_builtin), used when
     * template_source is NULL; borrowed for the call. NULL: the model's template as above. */
    const char *template_name;
    /* A JSON object of extra template variables, e.g. {"enable_thinking":false}; borrowed (copied); NULL: none. */
    const char *template_kwargs_json;
    /* Whether a thinking template thinks (llama-server's --reasoning; default LLAMAC_THINKING_AUTO); an
     * enable_thinking in template_kwargs_json wins. */
    llamac_thinking thinking;
    /* A JSON array of tools (OpenAI format) offered to the model; borrowed (copied); NULL: none. */
    const char *tools_json;
    /* Turns (a user message and what follows it) kept when the context fills; >= 1, default 2. */
    int32_t keep_last_turns;
    /* Room kept free for the reply when deciding to evict; 0 (default): max_tokens, at most half the context (a
     * quarter when max_tokens is -1). */
    int32_t reserve_tokens;
    /* max_tokens, stop strings, sampling (copied with everything it points to; ignore_eos included), sampler
     * and spec.draft (borrowed: must outlive the session), spec (speculative decoding, as llamac_generate), and
     * seq: the session's sequence. tokenize_flags, on_text and user_data are not used. */
    llamac_generate_params generate;
    /* A projector of the context's model, for user messages with images or audio (llamac_chat_add_parts); the
     * session holds a reference. NULL (default): text only. */
    llamac_mmproj *mmproj;
} llamac_chat_params;

/* Defaults: no system prompt, the model's template, keep_last_turns 2, llamac_generate_params_default() (seq 0,
 * 256 tokens). Thread-safe. */
LLAMAC_API llamac_chat_params llamac_chat_params_default(void);

/* Creates a session on sequence params->generate.seq of `ctx` (borrowed: it must outlive the session). The
 * sequence is not touched until the first generation (which reuses nothing it did not decode itself). params NULL
 * means defaults. *out is caller frees with llamac_chat_free. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a value out
 * of range, kwargs/tools JSON that does not parse), LLAMAC_E_UTF8, LLAMAC_E_TEMPLATE (the template does not parse or
 * cannot render a simple conversation), LLAMAC_E_NOT_FOUND (template_name is not a built-in format; the message lists
 * them), LLAMAC_E_NO_MEMORY. One thread per handle (the context's). */
LLAMAC_API llamac_status llamac_chat_new(llamac_context *ctx, const llamac_chat_params *params, llamac_chat **out);

/* Frees a session. The KV cache of its sequence is left as it is. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_chat_free(llamac_chat *chat);

/* Appends a message with `role` ("user", "assistant" or "tool"; NUL-terminated, borrowed) and `len` bytes of UTF-8
 * `content` (borrowed, copied). Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, another role), LLAMAC_E_UTF8,
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_add(llamac_chat *chat, const char *role, const char *content, size_t len);

/* Appends one OpenAI-format message given as a JSON object (NUL-terminated, borrowed), e.g. an assistant message
 * with "tool_calls" or a tool result {"role":"tool","tool_call_id":"c1","content":"..."}. "role" must be "user",
 * "assistant" or "tool"; "content" a string or null (content-part arrays are not supported). Errors:
 * LLAMAC_E_INVALID_ARGUMENT (not JSON, not an object, a bad role or content; the message says which),
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_add_json(llamac_chat *chat, const char *message_json);

/* One part of a message with media: text (`len` bytes of UTF-8, borrowed, copied) or a medium (the session keeps a
 * reference), never both. */
typedef struct llamac_chat_part {
    const char *text;
    size_t len;
    llamac_media *media;
} llamac_chat_part;

/* Appends a user message made of `n` parts: text and media in their order, e.g. an image and a question about it. The
 * session's projector (llamac_chat_params.mmproj) must take each medium. The template sees each medium as the
 * session's marker (a string unique to the session, as llama-server's random marker), which the prompt is split at:
 * text never passes for a medium, and a message added with llamac_chat_add that holds the marker is refused. The
 * prompt's text is tokenized as for text messages and the media by libmtmd, so a turn with an image is the prompt
 * llama-mtmd-cli evaluates; a later turn reuses every whole medium and token the sequence already holds. Sessions with
 * media cannot be saved (llamac_chat_save: LLAMAC_E_UNSUPPORTED), tokenized (llamac_chat_prompt gives their text
 * only) or prefilled. Errors: LLAMAC_E_INVALID_ARGUMENT (NULLs, a role other than "user", a part with both or
 * neither, text holding the marker), LLAMAC_E_UTF8, LLAMAC_E_UNSUPPORTED (no projector, or a medium it does not
 * take), LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_add_parts(llamac_chat *chat, const char *role, const llamac_chat_part *parts,
                                               size_t n);

/* Sets (or, with text NULL, removes) the system prompt: `len` bytes of UTF-8, borrowed, copied. The next
 * generation re-evaluates the conversation from the first token that changed. Errors: LLAMAC_E_INVALID_ARGUMENT,
 * LLAMAC_E_UTF8, LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_set_system(llamac_chat *chat, const char *text, size_t len);

/* Removes every message but the system prompt. The cached tokens stay, so the system prompt is not evaluated
 * again. One thread per handle. */
LLAMAC_API void llamac_chat_clear(llamac_chat *chat);

/* Number of messages, the system prompt included. 0 for NULL. One thread per handle. */
LLAMAC_API size_t llamac_chat_n_messages(const llamac_chat *chat);

/* The conversation as an OpenAI-format JSON array of messages (the system prompt first, when set). *out is
 * NUL-terminated, caller frees with llamac_free. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_NO_MEMORY. One thread
 * per handle. */
LLAMAC_API llamac_status llamac_chat_messages_json(const llamac_chat *chat, char **out);

/* The prompt the next llamac_chat_generate would evaluate: the conversation rendered with the generation prompt
 * (text: *text NUL-terminated, *len may be NULL; tokens: as tokenized for the model, BOS included when the model
 * adds one). Either out pair may be NULL. Outputs are caller frees with llamac_free. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_TEMPLATE, LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_prompt(llamac_chat *chat, char **text, size_t *len, llamac_token **tokens,
                                            size_t *n_tokens);

/* What a llamac_chat_generate did. */
typedef struct llamac_chat_result {
    llamac_generate_result gen; /* as llamac_generate: finish reason, timings; gen.n_prompt_tokens is the whole
                                   rendered prompt */
    int32_t n_reused_tokens;    /* prompt tokens that were already in the KV cache */
    int32_t n_decoded_tokens;   /* prompt tokens evaluated by this call (n_prompt_tokens - n_reused_tokens) */
    int32_t n_evicted_messages; /* messages dropped to make room, this call */
} llamac_chat_result;

/* Generates the assistant's reply to the conversation (whose last message must be from the user or a tool),
 * streaming it through `on_text` (may be NULL; runs on this thread, as for llamac_generate) and appending it to the
 * conversation as an assistant message, even when stopped early (a cancelled reply keeps what was generated).
 * *result (may be NULL) is filled even when the call fails. Errors: LLAMAC_E_INVALID_ARGUMENT (no user or tool
 * message to answer), LLAMAC_E_TEMPLATE, LLAMAC_E_CONTEXT_FULL (even the system prompt and the last turn do not
 * fit), LLAMAC_E_DECODE, and the errors of llamac_generate; on an error the conversation is unchanged but turns
 * may have been evicted. Stopping at the end of the turn, the limit, the callback or llamac_ctx_cancel() is
 * success. One thread per handle (context and sampler). */
LLAMAC_API llamac_status llamac_chat_generate(llamac_chat *chat, llamac_text_fn on_text, void *user_data,
                                              llamac_chat_result *result);

/* Saves the conversation and its sequence's KV cache to `path` (NUL-terminated, borrowed), through a temporary
 * file renamed into place. Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_IO, LLAMAC_E_NO_MEMORY. One thread per
 * handle. */
LLAMAC_API llamac_status llamac_chat_save(llamac_chat *chat, const char *path);

/* Restores a session saved by llamac_chat_save (messages, system prompt, KV cache), so the next turn decodes only
 * the new message. Everything is validated first (magic, version, checksum, the model's fingerprint, the context
 * size, the messages); on any error the session and the context are left exactly as they were. Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_IO, LLAMAC_E_STATE (another model, a corrupt or truncated file; the message
 * says which), LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_chat_load(llamac_chat *chat, const char *path);

/* ---------------------------------------------------------------------------------------------------------------
 * Incremental prefill
 * ------------------------------------------------------------------------------------------------------------- */
/* Incremental prefill: while a user types a message, the conversation plus the partial message is decoded into
 * the chat session's sequence, so that pressing Enter leaves only the last few tokens (and the template's
 * generation prompt) for llamac_chat_generate. Each update renders the partial message through the real template,
 * trims the sequence from the first token that changed (an edit), and queues the tokens that are stable: those
 * before the end of the message's text, less a margin (BPE can still merge the last tokens with the next
 * character); without speculation (below), nothing of the template's text after the message is decoded early. Decoding
 * happens in bounded steps (llamac_prefill_step) so a UI thread never waits long; the result is exact: the
 * session's reply is the one a non-incremental turn on the same final prompt gives, since the final generation
 * decodes from the longest common prefix of the real prompt with what the sequence holds.
 * Speculation (on by default): once the stable tokens are decoded (the user paused), the steps go on with the rest
 * of the render as if the message were final (the margin tokens, the template's text after the message and the
 * generation prompt), all but its last token, into the same sequence. If Enter comes with that text, the
 * generation decodes only the prompt's last token (one single-token step); if the user types again, the
 * speculative tokens that changed are trimmed like any edit and counted as wasted. */
typedef struct llamac_prefill llamac_prefill;

typedef struct llamac_prefill_params {
    int32_t margin;      /* tokens withheld before the end of the message's text; >= 0, default 2 */
    int32_t step_tokens; /* most tokens one llamac_prefill_step decodes; 1..512, default 16 */
    bool speculate;      /* after the stable tokens, queue the rest of the prompt but its last token; default true */
} llamac_prefill_params;

/* Defaults: margin 2, step_tokens 16, speculate true. Thread-safe. */
LLAMAC_API llamac_prefill_params llamac_prefill_params_default(void);

/* Creates a prefill bound to `chat` (borrowed: it must outlive the prefill, which decodes into its sequence).
 * params NULL means defaults. *out is caller frees with llamac_prefill_free. Errors: LLAMAC_E_INVALID_ARGUMENT
 * (NULLs, a value out of range), LLAMAC_E_NO_MEMORY. One thread per handle (the chat's). */
LLAMAC_API llamac_status llamac_prefill_new(llamac_chat *chat, const llamac_prefill_params *params,
                                            llamac_prefill **out);

/* Frees a prefill; what it decoded stays in the chat's sequence (the next generation reuses what still matches).
 * NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_prefill_free(llamac_prefill *pf);

/* The message typed so far is `len` bytes of UTF-8 `text` (borrowed). Renders the conversation with it as a user
 * message, removes from the sequence every token from the first one that no longer matches, and queues the stable
 * tokens for llamac_prefill_step. Decodes nothing itself (only the template render and tokenization run). Errors:
 * LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_UTF8 (text, or text cut inside a character), LLAMAC_E_TEMPLATE,
 * LLAMAC_E_NO_MEMORY. One thread per handle. */
LLAMAC_API llamac_status llamac_prefill_update(llamac_prefill *pf, const char *text, size_t len);

/* Decodes up to step_tokens queued tokens into the chat's sequence. *n_left (may be NULL) is set to the tokens
 * still queued afterwards (0: caught up). llamac_ctx_cancel() stops the step (LLAMAC_E_CANCELLED; the tokens of
 * the stopped batch are dropped and stay queued). Errors: LLAMAC_E_INVALID_ARGUMENT, LLAMAC_E_CANCELLED,
 * LLAMAC_E_CONTEXT_FULL, LLAMAC_E_DECODE. One thread per handle. */
LLAMAC_API llamac_status llamac_prefill_step(llamac_prefill *pf, size_t *n_left);

/* Tokens queued and not decoded yet (with speculation, the speculative ones included). 0 for NULL. One thread
 * per handle. */
LLAMAC_API size_t llamac_prefill_pending(const llamac_prefill *pf);

/* Drops the queue (a cancel): decoded tokens stay in the sequence. NULL is a no-op. One thread per handle. */
LLAMAC_API void llamac_prefill_cancel(llamac_prefill *pf);

/* Enter: adds `text` (`len` bytes of UTF-8, borrowed, copied) to the chat as the user message and empties the
 * queue, so that llamac_chat_generate decodes only what the sequence does not hold yet. Records in the statistics
 * how many of the final prompt's tokens are already decoded. Errors: as llamac_chat_add, LLAMAC_E_TEMPLATE. One
 * thread per handle. */
LLAMAC_API llamac_status llamac_prefill_flush(llamac_prefill *pf, const char *text, size_t len);

/* What a prefill did since it was created (or its statistics were reset). */
typedef struct llamac_prefill_stats {
    int64_t n_updates;      /* llamac_prefill_update calls */
    int64_t n_decoded;      /* tokens decoded by llamac_prefill_step (speculative ones included) */
    int64_t n_invalidated;  /* tokens removed from the sequence because an edit changed them (wasted work) */
    int64_t n_spec_decoded; /* of n_decoded, the speculative tokens (past the stable ones) */
    int64_t n_spec_wasted;  /* of n_invalidated, speculative tokens */
    int64_t n_spec_used;    /* over the flushes: speculative tokens that the final prompt used */
    int64_t n_flushes;      /* llamac_prefill_flush calls */
    int64_t n_reused;       /* over the flushes: tokens of the final prompt already in the sequence at Enter */
    int64_t n_remaining;    /* over the flushes: tokens of the final prompt left for llamac_chat_generate */
    int32_t last_reused;    /* the last flush's n_reused */
    int32_t last_remaining; /* the last flush's n_remaining */
} llamac_prefill_stats;

/* Fills *out (all zero for NULL pf). With `reset`, zeroes the counters afterwards. One thread per handle. */
LLAMAC_API void llamac_prefill_get_stats(llamac_prefill *pf, llamac_prefill_stats *out, bool reset);

#ifdef __cplusplus
}
#endif

#endif /* LLAMAC_CHAT_H */
