/*
 * request.h - request parsing: the checked readers of JSON request fields, a chat's conversation as the library
 * renders it, and the parsed generation request that every API dialect fills in from its own body and the runner
 * (complete.c) submits: the prompt(s) (a rendered conversation or completion prompts), sampling, constraints,
 * tools, limits and what the response shows.
 *
 * The builders take values, not bodies: a dialect reads its own field names (OpenAI's "stop", Anthropic's
 * "stop_sequences") and hands what it found to the one piece that checks and converts it. A reader that refuses a
 * value replies 400 naming `param` and returns false.
 */
#ifndef LLAMAC_SERVER_REQUEST_H
#define LLAMAC_SERVER_REQUEST_H

#include "internal.h"

#define MAX_STOP 16
#define MAX_N 16
#define MAX_PROMPTS 64
#define MAX_CHOICES 64  /* engine requests of one HTTP request (job_cancel's bound) */
#define MAX_MEDIA 64    /* images and audio clips in one conversation or prompt */
#define MAX_SAMPLERS 64 /* a request's samplers (their order) and DRY sequence breakers */

/* Parses the body as a JSON object; on failure replies 400 (with the line and column) and returns NULL. The
 * caller frees the result with json_decref. */
json_t *request_object(struct request *rq);

/* Checked field readers: an absent field or null leaves *out untouched and returns true; a field of the wrong type
 * or out of range replies 400 naming the field and returns false. */
bool field_bool(struct request *rq, json_t *obj, const char *name, bool *out);
bool field_int(struct request *rq, json_t *obj, const char *name, long long min, long long max, long long *out);
bool field_num(struct request *rq, json_t *obj, const char *name, double min, double max, double *out);
bool field_str(struct request *rq, json_t *obj, const char *name, const char **out);

/* A JSON array of token ids (each checked against the vocabulary) into *out (free); replies 400 naming `param`. */
bool request_token_ids(struct request *rq, json_t *arr, const char *param, llamac_token **out, size_t *n);

/* What is cheap enough to do for a request that cannot fit a slot, so that its refusal can say by how much (the
 * engine's context_length_exceeded, with llama-server's n_prompt_tokens and n_ctx): a body of at most this many bytes
 * is rendered whatever its count of messages, and a prompt text of at most this many bytes is tokenized. llama.cpp's
 * tokenizers take tens of bytes of memory per byte of text, so this stays within issue 30's 64 MiB per request; past
 * it, and past the request budget (server.prompt_bytes_max, messages_max), a request is refused before the work. */
#define REQUEST_CHEAP_BYTES ((size_t)128 * 1024)

/* Tokens of the text of a JSON string (parse_special as llama-server's prompts do) into *out (llamac_free);
 * replies 400 naming `param` on invalid input, and without tokenizing a text over both the request budget and
 * REQUEST_CHEAP_BYTES. */
bool tokenize_text(struct request *rq, const char *param, const char *text, size_t len, bool add_special,
                   llamac_token **out, size_t *n);

/* ---- a chat's conversation ---- */

/* A conversation as the library renders it (llamac_template_apply): OpenAI-format JSON texts, owned (free). */
struct chat_input {
    char *messages;
    char *tools;  /* NULL: none */
    char *kwargs; /* chat_template_kwargs; NULL: none */
    bool add_generation_prompt;
    llamac_continuation continue_final_message; /* the request's continue_final_message (OpenAI chat bodies) */
    char *reasoning_effort;                     /* the request's reasoning_effort; NULL: none */
    llamac_thinking thinking;                   /* the server's --reasoning */
    bool prefill_assistant; /* a last assistant message is continued (not with the server's --no-prefill-assistant) */
    const char *param;      /* the body's field the conversation came from ("messages", "input"), for errors; static */
    llamac_media *media[MAX_MEDIA]; /* the media of the messages' image_url / input_audio parts, in order (owned) */
    size_t n_media;
};

/* Reads "messages", "tools", "chat_template_kwargs", "add_generation_prompt", "continue_final_message" and
 * "reasoning_effort" of an OpenAI-shaped request object into *ci (chat_input_free, also after failing), checking
 * their shape; the last three as llama-server reads them (llamac_template_apply_params_from_json). */
bool chat_input_parse(struct request *rq, json_t *body, struct chat_input *ci);

/* *ci from OpenAI-format values a dialect built or read (borrowed; tools and kwargs may be NULL), checking their
 * shape as chat_input_parse does: a non-empty array of messages with string roles (empty allowed with allow_empty),
 * `param` naming where they came from. Generation prompt on; the server's --chat-template-kwargs and --reasoning
 * apply. Every dialect builds its conversation here. chat_input_free, also after failing. */
bool chat_input_set(struct request *rq, struct chat_input *ci, json_t *messages, json_t *tools, json_t *kwargs,
                    const char *param, bool allow_empty);

/* ---- media (media.c) ---- */

/* The medium of a media URL (`len` bytes; a data: URI with base64, bare base64, a file:// URL under --media-path)
 * made with the server's projector; `type` is what the request says it is (0: either). Replies 400 naming `param` with
 * llama-server's message when the server has no projector for it, the URL is malformed or not base64, the file is
 * not allowed or missing, the bytes are not an image or audio the projector takes (500 only when out of memory); the
 * message starts with `where`, the medium's place in the body ("messages[1].content[0]"). */
bool media_from_url(struct request *rq, const char *param, const char *where, const char *url, size_t len,
                    llamac_media_type type, llamac_media **out);

/* The media of OpenAI-format `messages` (image_url and input_audio content parts) into ci->media, and the messages
 * as they are rendered (a new reference: json_decref): a message with media has its content as one string with the
 * server's marker for each medium (llama-server's join); `messages` itself is left as it is. NULL after replying
 * (`param` names the messages' field). chat_input_set calls it. */
json_t *chat_input_media(struct request *rq, struct chat_input *ci, json_t *messages, const char *param);

/* Whether a thinking template thinks (`enable`: 1 on, 0 off, -1 as the template likes) and how hard (`effort`, e.g.
 * "low", or NULL), as the dialects ask for it (Anthropic's `thinking`, the Responses API's `reasoning`, Ollama's
 * `think`): the one place these reach the template, today as the chat_template_kwargs enable_thinking and
 * reasoning_effort (a kwarg the client set itself wins). */
bool chat_input_thinking(struct request *rq, struct chat_input *ci, int enable, const char *effort);
void chat_input_free(struct chat_input *ci);

/* The library's parameters for *ci (borrowed: ci must outlive them). */
llamac_template_apply_params chat_input_params(const struct chat_input *ci);

/* Replies for a failed llamac_template_apply / llamac_template_stable_tokens of *ci (`st` not LLAMAC_OK): 400
 * naming the field it came from, 500 when out of memory. Returns whether it replied. */
bool chat_reply_render_error(struct request *rq, const struct chat_input *ci, llamac_status st);

/* The template that renders *ci: the model's tool_use variant when the conversation offers tools and the server has
 * one (as llama-server's chat layer picks it), else the server's template (NULL: none). */
const llamac_template *chat_template(const struct server *s, const struct chat_input *ci);

/* Renders the prompt of *ci with the server's template (chat_template) into *out (llamac_free); replies 400 on
 * failure (a server without a chat template too). */
bool render_chat(struct request *rq, const struct chat_input *ci, char **out, size_t *len);

/* ---- the parsed generation request ---- */

struct gen_request {
    /* the prompts: one rendered conversation (chat) or up to MAX_PROMPTS completion prompts */
    size_t n_prompts;
    llamac_token *tokens[MAX_PROMPTS];  /* a prompt with media: its text tokens (for echo and counts) */
    size_t n_tokens[MAX_PROMPTS];       /* the count of tokens[] (with media: the text tokens only) */
    llamac_chunks *chunks[MAX_PROMPTS]; /* a prompt with media (llamac_chunks_free), else NULL */
    bool tokens_malloced[MAX_PROMPTS];  /* given as ids in the body (free), else tokenized (llamac_free) */
    char *echo[MAX_PROMPTS];            /* the prompt's text to echo (malloc), or NULL */
    char *chat_prompt;                  /* chat: the rendered conversation (llamac_free); NULL for completions */
    const llamac_template *tmpl;        /* chat: the template that rendered it (the server's) */
    const char *prompt_param;           /* the field the prompt came from, for errors ("messages", "prompt") */
    /* sampling, constraints and limits, as the engine takes them; its pointers go to the fields below and into the
     * request body, which must outlive the request */
    llamac_engine_request er;
    const char *stop[MAX_STOP];
    const char *budget_ends[MAX_STOP];          /* a completion's reasoning_budget_end_tags (er.sampling points here) */
    llamac_adapter_scale lora[MAX_LORA];        /* the request's `lora` (er.adapters points here when it has one) */
    llamac_logit_bias *bias;                    /* malloc */
    llamac_sampler_type samplers[MAX_SAMPLERS]; /* the request's `samplers` (er.sampling points here) */
    const char *dry_breakers[MAX_SAMPLERS];     /* its `dry_sequence_breakers` (into the body; er.sampling too) */
    char *grammar;                              /* converted from a JSON schema (llamac_free) */
    llamac_tool_grammar *tool_grammar;
    bool tools;       /* tools offered (tool_choice not "none"): the reply is read for tool calls */
    char *tools_json; /* those tools as JSON text (free), which type the values of the XML-ish formats' calls */
    /* what the response shows */
    size_t n; /* choices per prompt */
    bool stream, include_usage, logprobs, echo_prompt;
    int top_logprobs;
    bool record_tokens;     /* the results keep the generated token ids (Ollama's `context`) */
    bool stream_tokens;     /* a stream has a delta for every token, with its id (llama-server's /completion) */
    bool return_progress;   /* a stream tells how far the prompt is (llama-server's prompt_progress) */
    bool timings_per_token; /* progress events carry timings */
    bool verbose;           /* the response carries llama-server's __verbose */
    /* what a dialect's writer needs of the request besides (e.g. what a response object echoes): owned, freed with
     * dialect_data_free; generate() hands it to the job */
    void *dialect_data;
    void (*dialect_data_free)(void *data);
};

/* Empty, with the server's defaults (sampling, max_tokens), one choice per prompt. */
void gen_request_init(struct gen_request *gr, const struct server *s);
void gen_request_free(struct gen_request *gr);

/* The names a dialect gives the sampling fields and the output limit that the dialects share (NULL: the dialect has
 * no such field). Each is read from one object, checked (the field named in a refusal) and set on the request. */
struct sampling_names {
    const char *max_tokens;
    long long max_tokens_min; /* the least value allowed; a negative value means no limit */
    const char *temperature, *top_p, *top_k, *min_p, *seed, *repeat_penalty, *presence_penalty, *frequency_penalty;
    const char *stop; /* see gen_request_stop */
    /* llama-server's further sampler settings (ranges as the library takes them; dry_base below 1 keeps the
     * server's, as llama-server does) */
    const char *typical_p, *xtc_probability, *xtc_threshold, *top_n_sigma, *dynatemp_range, *dynatemp_exponent,
        *repeat_last_n, *dry_multiplier, *dry_base, *dry_allowed_length, *dry_penalty_last_n, *mirostat, *mirostat_tau,
        *mirostat_eta;
};

/* Reads the fields `names` names from `obj` (NULL or not an object: nothing) onto *gr. */
/* A request's speculative.n_max, speculative.n_min and speculative.p_min (llama-server's /completion names; 1..64,
 * 0..n_max, 0..1) into gr->er.spec, which holds the server's settings; whether to speculate stays the server's
 * choice (--spec-type). False after replying 400. gen_request_sampling calls it. */
bool gen_request_spec(struct request *rq, struct gen_request *gr, json_t *obj);
bool gen_request_sampling(struct request *rq, struct gen_request *gr, json_t *obj, const struct sampling_names *names);

/* The reasoning budget of a request, llama-server's fields: "reasoning_budget_tokens" (or "thinking_budget_tokens";
 * -1, the default, keeps the server's --reasoning-budget) and "reasoning_budget_message". A chat's thinking tags
 * come from the template (gen_request_chat); a completion (chat false) names its own, "reasoning_budget_start_tag"
 * and "reasoning_budget_end_tags" (or one "reasoning_budget_end_tag"), without which no budget applies. */
bool gen_request_reasoning_budget(struct request *rq, struct gen_request *gr, json_t *body, bool chat);

/* llama-server's sampler fields: "samplers", the order of the chain (an array of names as --samplers takes them, or
 * a string of letters as --sampler-seq), and "dry_sequence_breakers" (a non-empty array of non-empty strings, in
 * place of the server's). An unknown name or letter is a 400 naming it (llama-server leaves it out). */
bool gen_request_samplers(struct request *rq, struct gen_request *gr, json_t *body);

/* A reasoning budget of `tokens` (-1: the server's --reasoning-budget), as the dialects without llama-server's fields
 * ask for one (Anthropic's thinking.budget_tokens). */
void gen_request_set_budget(struct gen_request *gr, long long tokens);

/* Stop strings: a string or an array of at most MAX_STOP strings (empty ones are ignored); `v` may be NULL. */
bool gen_request_stop(struct request *rq, struct gen_request *gr, json_t *v, const char *param);

/* Token biases: OpenAI's {"token id": bias} object or llama-server's [[id, bias], ...]; in place of an id, a text
 * whose every token gets the bias (llama-server's [["text", bias]] and {"text": bias}); bias false bans. */
bool gen_request_logit_bias(struct request *rq, struct gen_request *gr, json_t *v, const char *param);

/* Output constraints, at most one: a GBNF grammar (checked by the engine at submit), a JSON schema (converted;
 * an object or a boolean) or any JSON object (`json_object`). Arguments NULL / false: none. */
bool gen_request_constrain(struct request *rq, struct gen_request *gr, const char *grammar, json_t *schema,
                           const char *schema_param, bool json_object, const char *json_object_param);

/* Tools offered (an OpenAI-format array; NULL or empty: none): the grammar that makes a call valid in the model's
 * format (lazy for `auto`: it applies from the call's opening marker on) and the reply read for tool calls. A
 * named choice names the function; `param` names what a bad name is reported against. */
bool gen_request_tools(struct request *rq, struct gen_request *gr, json_t *tools, llamac_tool_choice choice,
                       const char *name, bool parallel, const char *choice_param);

/* The body's "tool_choice" ("none", "auto", "required", or a named function: Chat Completions' {"type": "function",
 * "function": {"name"}} or Responses' {"type": "function", "name"}) and "parallel_tool_calls" (default true), checked
 * (a 400 naming the field); OpenAI's dialects share it. */
bool openai_tool_choice(struct request *rq, json_t *body, llamac_tool_choice *choice, const char **name,
                        bool *parallel);

/* OpenAI's tool fields: `tools` (an OpenAI-format array; NULL or empty: none) with the body's "tool_choice"
 * ("none", "auto", "required" or {"type": "function", "function": {"name"}}) and "parallel_tool_calls", as
 * gen_request_tools takes them (OpenAI's chat; Ollama's chat, where tool_choice is llamac's extension). Both fields
 * are checked with or without tools; "required" or a named choice without tools is a 400. */
bool gen_request_openai_tools(struct request *rq, struct gen_request *gr, json_t *body, json_t *tools);

/* A dialect's flat tool definitions, {"type", "name", "description", <schema>} (Anthropic's, the Responses
 * API's), differ from OpenAI's {"type": "function", "function": {...}} in these. */
struct tool_shape {
    const char *type;       /* the one "type" this server runs */
    bool type_optional;     /* an absent "type" is that one */
    const char *others;     /* what the other types are, for the error ("server tools") */
    const char *runs;       /* what this server runs, for the error ("custom tools") */
    const char *schema_key; /* where the parameters' JSON schema is ("input_schema", "parameters") */
    bool schema_optional;   /* no object there: {"type": "object"} */
};

/* `tools` (NULL or null: none, *out NULL) in `shape` as an OpenAI-format array into *out (json_decref); replies
 * 400 naming "tools" for a definition that is not an array, of another type, or lacks its name or schema. */
bool tools_to_openai(struct request *rq, json_t *tools, const struct tool_shape *shape, json_t **out);

/* The prompt of a chat: *ci rendered with the server's template and tokenized (a prompt over the context is
 * reported against ci->param). */
bool gen_request_chat(struct request *rq, struct gen_request *gr, const struct chat_input *ci);

/* The length of prompt `k` in the model's positions: its text tokens, and with media each medium's tokens (what the
 * token-counting endpoints answer, as llama-server counts them). */
size_t gen_request_prompt_length(const struct gen_request *gr, size_t k);

/* One more completion prompt: a string (tokenized), an array of token ids, an array mixing strings and token ids
 * (concatenated; BOS only before a leading string) or llama-server's {"prompt_string": ...}; `param` names the
 * field. */
bool gen_request_add_prompt(struct request *rq, struct gen_request *gr, json_t *v, const char *param);

/* The prompts of a completions field (llama-server's rules, for /completion and /v1/completions alike): one prompt
 * (a string, token ids or a mix, an object), or an array of such prompts, each a choice. */
bool gen_request_prompts(struct request *rq, struct gen_request *gr, json_t *v, const char *param);

/* Checks what the request adds up to (prompts × n within MAX_CHOICES). */
bool gen_request_finish(struct request *rq, struct gen_request *gr);

/* ---- embeddings (embed.c), for every dialect that has them ---- */

struct embeddings {
    float *vec; /* n vectors of dim floats (llamac_free) */
    size_t n, dim;
    long long tokens; /* tokens of all the texts */
};

/* Embeds the texts of field `name` of `body` (a string, an array of strings, token ids or arrays of them) with the
 * server's embedding context; replies 501 without one (or a reranking one) and 400 for a bad input. */
bool embed_inputs(struct request *rq, json_t *body, const char *name, const llamac_embed_params *ep,
                  struct embeddings *e);
void embeddings_free(struct embeddings *e);

/* Vector i as a JSON array of numbers. */
json_t *embedding_json(const struct embeddings *e, size_t i);

#endif /* LLAMAC_SERVER_REQUEST_H */
