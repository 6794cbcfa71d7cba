/*
 * result.h - what a generation produced, in no API's shape: each choice's result, and the deltas a stream is made
 * of (text, reasoning, tool-call pieces, a choice's finish, the end with usage, an error). A dialect (openai.c; the
 * Anthropic, OpenAI Responses and Ollama ones beside it) renders these into its own responses and events, so the
 * job that collects them (job.c) and the runner (complete.c) know no JSON.
 */
#ifndef LLAMAC_SERVER_RESULT_H
#define LLAMAC_SERVER_RESULT_H

#include "internal.h"

#define MAX_TOP_LOGPROBS 20 /* the most top_logprobs any dialect asks for (OpenAI: 20) */

/* A growable byte buffer, NUL-terminated whenever it holds something. */
struct buf {
    char *data;
    size_t len, cap;
};

/* Appends bytes; false when out of memory. */
bool buf_add(struct buf *b, const char *data, size_t len);

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
    struct buf text;          /* every byte generated */
    struct token_logprob *lp; /* non-streaming with log-probabilities: one per token, n_lp of them */
    size_t n_lp, cap_lp;
    llamac_finish_reason finish;
    llamac_status status;      /* LLAMAC_OK, or why the generation failed */
    char *error;               /* the failure's message (malloc), or NULL */
    llamac_engine_usage usage; /* token counts and timings */
    int32_t n_prompt;          /* tokens of this choice's prompt */
    bool has_calls;            /* the text held tool calls (set by whoever parsed it) */
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
    DELTA_ERROR      /* the stream ends with an error: the message in `text` */
};

struct delta {
    enum delta_kind kind;
    size_t choice;    /* START, TEXT, REASONING, TOOL_CALL, FINISH */
    const char *text; /* TEXT, REASONING, TOOL_CALL (arguments), START (echo), ERROR (message); may be cut inside
                         a character: a dialect shows such text as "" */
    size_t len;
    const struct token_logprob *lp;  /* TEXT: the token's log-probabilities, or NULL */
    size_t tool_index;               /* TOOL_CALL */
    const char *tool_id, *tool_name; /* TOOL_CALL: on the call's first piece, else NULL */
};

struct job;
struct gen_request;

/* An API dialect's shapes. */
struct dialect {
    const char *id_prefix;           /* of response ids ("chatcmpl-") */
    const char *stream_content_type; /* "text/event-stream" */
    /* Appends the stream event(s) of `d` to `out`, framing included. Runs on the connection's thread, without the
     * job's lock; the results of done choices are complete. */
    void (*stream_event)(const struct job *j, const struct delta *d, struct buf *out);
    /* Replies with the response of a finished, non-streaming job of request `gr` (or with its failure). */
    void (*respond)(struct request *rq, struct job *j, const struct gen_request *gr);
};

#endif /* LLAMAC_SERVER_RESULT_H */
