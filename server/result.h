/*
 * result.h - what a generation produced, in no API's shape: each choice's result, and the deltas a stream is made
 * of (text, reasoning, tool-call pieces, a choice's finish, the end with usage, an error). A dialect (openai.c,
 * anthropic.c, responses.c, ollama.c) renders these into its own responses and events, so the job that collects
 * them (job.c) and the runner (complete.c) know no JSON.
 *
 * A streamed reply is also a sequence of blocks - reasoning, text, each tool call - since Anthropic's content blocks
 * and the Responses API's output items are that: job.c opens and closes them around the deltas (BLOCK_START,
 * BLOCK_STOP, with the block's whole text at its stop), so no dialect keeps that state itself.
 */
#ifndef LLAMAC_SERVER_RESULT_H
#define LLAMAC_SERVER_RESULT_H

#include "dynbuf.h"
#include "internal.h"

#define MAX_TOP_LOGPROBS 20 /* the most top_logprobs any dialect asks for (OpenAI: 20) */

/* The server's growable buffers (results, stream events, rendered bytes) are the tree's one buffer, dynbuf.h, each
 * capped at SERVER_BUF_MAX: far above any reply a context can produce, so the cap only guards against a runaway. A
 * buffer that failed (out of memory) holds nothing and takes nothing more until it is reset. */
#define SERVER_BUF_MAX ((size_t)1 << 30)

/* One generated token's log-probabilities (when the request asked for them). */
struct token_logprob {
    llamac_token token;
    float logprob;
    size_t offset; /* where the text released with the token starts in the choice's text */
    size_t n_top;  /* the most likely tokens, most likely first */
    llamac_token_prob top[MAX_TOP_LOGPROBS];
};

/* One choice's result, complete once its generation is done. */
struct result {
    size_t index;
    llamac__dynbuf text;      /* every byte generated */
    struct token_logprob *lp; /* non-streaming with log-probabilities: one per token, n_lp of them */
    size_t n_lp, cap_lp;
    llamac_finish_reason finish;
    llamac_status status;      /* LLAMAC_OK, or why the generation failed */
    char *error;               /* the failure's message (malloc), or NULL */
    llamac_engine_usage usage; /* token counts and timings */
    int32_t n_prompt;          /* tokens of this choice's prompt */
    int32_t slot;              /* the engine slot that served it (-1: none) */
    char *stop_word;           /* the stop string that ended it (malloc), or NULL */
    llamac_token *tokens;      /* the generated token ids when the request asked for them (malloc), n_tokens */
    size_t n_tokens, cap_tokens;
    bool has_calls; /* the text held tool calls (set by whoever parsed it) */
};

/* Why a choice ended, as every dialect tells it (result_finish). */
enum finish {
    FINISH_END,       /* the model ended its turn */
    FINISH_STOP_WORD, /* a stop string (result.stop_word) */
    FINISH_LENGTH,    /* max_tokens, or the slot's context was full */
    FINISH_TOOL_CALLS /* the model ended with tool calls */
};

/* Token counts of a whole job: prompt tokens once per distinct prompt (choices whose index % n_per_prompt == 0),
 * generated tokens of every choice. */
struct totals {
    long long prompt, cached, generated;
};

enum delta_kind {
    DELTA_START,     /* a choice's stream begins (a chat's role; a completion's echoed prompt in `text`, may be NULL) */
    DELTA_TEXT,      /* generated text (a chat's content), with the token's log-probabilities when asked */
    DELTA_REASONING, /* reasoning text */
    DELTA_TOOL_CALL, /* a piece of a tool call's arguments; the call's first piece has its id and name */
    DELTA_FINISH,    /* a choice is done: its result has the finish reason */
    DELTA_END,       /* every choice is done: usage, then the end of the stream */
    DELTA_ERROR,     /* the stream ends with an error: the message in `text` */
    DELTA_BLOCK_START, /* a block opens (before its first TEXT, REASONING or TOOL_CALL delta): `block_kind`, and a
                          tool call's id and name */
    DELTA_BLOCK_STOP,  /* the block closes (before the next one opens, and before FINISH): its whole text (a tool
                          call's arguments) in `text` */
    DELTA_PROGRESS     /* how far the choice's prompt is (`progress`), with the request's return_progress */
};

struct delta {
    enum delta_kind kind;
    size_t choice;    /* START, TEXT, REASONING, TOOL_CALL, FINISH */
    const char *text; /* TEXT, REASONING, TOOL_CALL (arguments), START (echo), ERROR (message); may be cut inside
                         a character: a dialect shows such text as "" */
    size_t len;
    const struct token_logprob *lp;  /* TEXT: the token's log-probabilities, or NULL */
    const llamac_token *token;       /* TEXT: the sampled token (with job.stream_tokens), or NULL */
    size_t tool_index;               /* TOOL_CALL */
    const char *tool_id, *tool_name; /* TOOL_CALL: on the call's first piece, else NULL; BLOCK_START and
                                        BLOCK_STOP of a call */
    size_t block;                    /* TEXT, REASONING, TOOL_CALL, BLOCK_*: the block's index in the choice (0, 1,
                                        ...); a TEXT delta with no text opens no block and has the last one's */
    enum delta_kind block_kind;      /* BLOCK_*: TEXT, REASONING or TOOL_CALL */
    const llamac_engine_progress *progress; /* PROGRESS */
};

struct job;
struct gen_request;

/* An API dialect's shapes. */
struct dialect {
    const char *id_prefix;           /* of response ids ("chatcmpl-") */
    const char *stream_content_type; /* "text/event-stream" */
    /* Appends the stream event(s) of `d` to `out`, framing included. Runs on the request's thread, without the
     * job's lock; the results of done choices are complete. It may count its events in j->sequence. */
    void (*stream_event)(struct job *j, const struct delta *d, llamac__dynbuf *out);
    /* Replies with the response of a finished, non-streaming job of request `gr` (or with its failure). */
    void (*respond)(struct request *rq, struct job *j, const struct gen_request *gr);
    /* Reads a request body into *gr (gen_request_init'ed) for generate(); what it allocates into gr->dialect_data
     * is freed with gr. False when it replied itself: a refusal, or an answer that needs no generation. (NULL where
     * no endpoint reads requests in this dialect.) */
    bool (*parse)(struct request *rq, json_t *body, struct gen_request *gr);
    /* llama-server's own error details: a prompt over the context is an exceed_context_size_error with its
     * n_prompt_tokens and n_ctx (its native API and OpenAI endpoints; the other dialects keep their own shapes) */
    bool llama_errors;
};

/* A closed block of a streamed choice (job.c keeps them, in order, for a dialect that shows the whole output at
 * the end: the Responses API's response.completed). */
struct block {
    enum delta_kind kind; /* TEXT, REASONING or TOOL_CALL */
    char *text;           /* the whole text (a tool call's arguments), malloc */
    size_t len;
    char *tool_id, *tool_name; /* TOOL_CALL, malloc */
};

/* ---- writing responses (render.c): what every dialect's writer shares ---- */

/* Generated text as a JSON string; "" when it ends inside a character (NULL text: ""). */
json_t *text_json(const char *text, size_t len);

/* Appends one Server-Sent Event: "event: EVENT\n" when `event` is given, then "data: JSON\n\n"; `data` is stolen
 * (NULL: nothing). */
void sse_event(llamac__dynbuf *out, const char *event, json_t *data);

/* Appends `data` (stolen) as one line of newline-delimited JSON (Ollama's streams). */
void ndjson_line(llamac__dynbuf *out, json_t *data);

/* The system_fingerprint of OpenAI responses and llama-server's build_info, in llama-server's shape
 * "b<build>-<commit>": llamac's version and the llama.cpp commit it runs ("b0.1.0-de3ff815"). */
void system_fingerprint(char *buf, size_t cap);

/* llama-server's "timings" of a finished choice: prompt tokens decoded (prompt_n; cache_n reused), generated
 * (predicted_n), times and rates; the generation rate is over the decode steps after the first token, which comes
 * from the prompt's last batch. */
json_t *timings_json(const struct result *r);

/* A prompt's text with its special tokens shown ("<s> Once upon a time"), as llama-server's "prompt" (malloc; NULL
 * when out of memory or the ids do not detokenize, with llamac's error set). */
char *prompt_text(llamac_model *model, const llamac_token *tokens, size_t n);

/* llama-server's "__verbose" of an OpenAI response (a request's "verbose", or a server started with -v): the prompt as
 * the model saw it (special tokens shown), a choice's text, its token counts and timings. */
json_t *verbose_json(llamac_model *model, const struct result *r, const llamac_token *prompt, size_t n_prompt);

/* llama-server's "prompt_progress" of a stream event: {"total", "cache", "processed", "time_ms"}. */
json_t *progress_json(const llamac_engine_progress *p);

/* The "timings" of a progress event (timings_per_token): the prompt so far, nothing generated yet. */
json_t *progress_timings_json(const llamac_engine_progress *p);

/* A token's log-probability entry: {"token" (its text; U+FFFD when it is part of a character), "logprob", "bytes"}. */
json_t *token_json(llamac_model *model, llamac_token t, float logprob);

/* A tool call's arguments (JSON object text) as a JSON object; {} when they are not one. */
json_t *arguments_json(const char *arguments);

/* Why the choice ended (its tool calls must have been read: result_message or the stream). */
enum finish result_finish(const struct result *r);

/* The assistant message of a choice's text: with tools or reasoning read into content, reasoning_content and tool
 * calls (r->has_calls set when there are calls), else all content. Caller frees with llamac_tool_message_free; NULL
 * when out of memory. (complete.c) */
llamac_tool_message *result_message(const struct job *j, struct result *r);

/* Replies with the failure of a generation, when a choice failed (the whole request fails): 400 naming "grammar"
 * when the request's grammar allowed no token, else 500; returns whether it replied. (complete.c) */
bool reply_if_failed(struct request *rq, const struct job *j);

/* The assistant message of a finished one-choice job (the dialects with no `n`), as result_message reads it; NULL
 * after replying with the generation's failure or out of memory. (complete.c) */
llamac_tool_message *reply_message(struct request *rq, struct job *j);

#endif /* LLAMAC_SERVER_RESULT_H */
