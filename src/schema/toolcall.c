/*
 * toolcall.c - the public face of the tool-call formats: detection from a template, the complete and the streaming
 * parser, and the check of a client's history.
 *
 * The stream parser keeps all the text and, after each piece, parses it again (toolcall_parse.c only writes what
 * later bytes cannot change) and sends what grew since the last time. Re-parsing costs time linear in the output
 * per piece, which is small beside generating it, and buys the guarantee that matters: the deltas add up to
 * exactly the complete parse, because both are the same function of the same text.
 */
#include "schema/toolcall.h"
#include "core/internal.h"

#include <jansson.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* ---- the partial message ---- */

void tc_msg_init(tc_msg *m) {
    memset(m, 0, sizeof *m);
    llamac__dynbuf_init(&m->content, TC_BUF_MAX);
    llamac__dynbuf_init(&m->reasoning, TC_BUF_MAX);
}

void tc_msg_clear(tc_msg *m) {
    llamac__dynbuf_reset(&m->content);
    llamac__dynbuf_reset(&m->reasoning);
    for (size_t i = 0; i < m->n_calls; i++) {
        llamac__dynbuf_free(&m->calls[i].name);
        llamac__dynbuf_free(&m->calls[i].args);
    }
    m->n_calls = 0;
    m->oom = false;
}

void tc_msg_free(tc_msg *m) {
    tc_msg_clear(m);
    llamac__dynbuf_free(&m->content);
    llamac__dynbuf_free(&m->reasoning);
    free(m->calls);
    m->calls = NULL;
    m->cap_calls = 0;
}

tc_call *tc_msg_add_call(tc_msg *m, const char *name, size_t n) {
    if (m->oom) {
        return NULL;
    }
    if (m->n_calls == m->cap_calls) {
        size_t cap = m->cap_calls ? m->cap_calls * 2 : 4;
        tc_call *calls = realloc(m->calls, cap * sizeof *calls);
        if (!calls) {
            m->oom = true;
            return NULL;
        }
        m->calls = calls;
        m->cap_calls = cap;
    }
    tc_call *call = &m->calls[m->n_calls++];
    llamac__dynbuf_init(&call->name, TC_BUF_MAX);
    llamac__dynbuf_init(&call->args, TC_BUF_MAX);
    tc_buf_add(&call->name, name, n, &m->oom);
    return m->oom ? NULL : call;
}

/* ---- names and detection ---- */

const char *llamac_tool_format_name(llamac_tool_format format) {
    switch (format) {
    case LLAMAC_TOOL_FORMAT_GENERIC: return "generic";
    case LLAMAC_TOOL_FORMAT_HERMES: return "hermes";
    case LLAMAC_TOOL_FORMAT_LLAMA3: return "llama3";
    case LLAMAC_TOOL_FORMAT_MISTRAL: return "mistral";
    case LLAMAC_TOOL_FORMAT_QWEN3_CODER: return "qwen3-coder";
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_R1: return "deepseek-r1";
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1: return "deepseek-v3.1";
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2: return "functionary-v3.2";
    case LLAMAC_TOOL_FORMAT_COMMAND_R7B: return "command-r7b";
    case LLAMAC_TOOL_FORMAT_HARMONY: return "harmony";
    case LLAMAC_TOOL_FORMAT_MISTRAL_ARGS: return "mistral-args";
    case LLAMAC_TOOL_FORMAT_GLM: return "glm";
    case LLAMAC_TOOL_FORMAT_KIMI_K2: return "kimi-k2";
    case LLAMAC_TOOL_FORMAT_MINIMAX_M2: return "minimax-m2";
    case LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2: return "deepseek-v3.2";
    case LLAMAC_TOOL_FORMAT_SEED_OSS: return "seed-oss";
    case LLAMAC_TOOL_FORMAT_APRIEL: return "apriel";
    case LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1: return "functionary-v3.1";
    case LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2: return "firefunction-v2";
    case LLAMAC_TOOL_FORMAT_GEMMA4: return "gemma4";
    case LLAMAC_TOOL_FORMAT_LFM2: return "lfm2";
    case LLAMAC_TOOL_FORMAT_APERTUS: return "apertus";
    case LLAMAC_TOOL_FORMAT_KIMI_K3: return "kimi-k3";
    case LLAMAC_TOOL_FORMAT_NEMOTRON_V2: return "nemotron-v2";
    case LLAMAC_TOOL_FORMAT_GIGACHAT3: return "gigachat3";
    case LLAMAC_TOOL_FORMAT_MINICPM5: return "minicpm5";
    case LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS: return "command-r-plus";
    case LLAMAC_TOOL_FORMAT_MINIMAX_M3: return "minimax-m3";
    case LLAMAC_TOOL_FORMAT_GIGACHAT3_1: return "gigachat3.1";
    case LLAMAC_TOOL_FORMAT_HY3: return "hy3";
    case LLAMAC_TOOL_FORMAT_SOLAR_OPEN: return "solar-open";
    case LLAMAC_TOOL_FORMAT_MUSE: return "muse";
    }
    return "unknown";
}

static bool has(const char *src, const char *s) {
    return strstr(src, s) != NULL;
}

llamac_tool_format llamac_tool_format_detect(const char *src) {
    if (!src) {
        return LLAMAC_TOOL_FORMAT_GENERIC;
    }
    llamac__ok();
    /* The most specific markers first: several families also contain "<tool_call>". */
    if (has(src, "<|channel|>") && has(src, "<|message|>")) {
        return LLAMAC_TOOL_FORMAT_HARMONY;
    }
    if (has(src, "<atem:function_calls>") && has(src, "<|eom|>")) {
        return LLAMAC_TOOL_FORMAT_MUSE; /* Muse Glimmer: messages " to=recipient<|message|>..." like Harmony's */
    }
    if (has(src, "<|tool_call:begin|>") && has(src, "<|tool_call:name|>") && has(src, "<|tool_call:args|>")) {
        return LLAMAC_TOOL_FORMAT_SOLAR_OPEN;
    }
    if (has(src, "hy_Assistant") && has(src, "<tool_sep{}>") && has(src, "<arg_key{}>")) {
        return LLAMAC_TOOL_FORMAT_HY3; /* its markers are written '<tool_sep{}>'.format(':opensource') */
    }
    if (has(src, "<|START_ACTION|>")) {
        return LLAMAC_TOOL_FORMAT_COMMAND_R7B;
    }
    if (has(src, "<|CHATBOT_TOKEN|>") && has(src, "Action:") && has(src, "\"tool_name\"")) {
        return LLAMAC_TOOL_FORMAT_COMMAND_R_PLUS; /* the tool_use template: calls as a JSON list after "Action:" */
    }
    if (has(src, ">>>all")) {
        return LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_2;
    }
    if (has(src, "dsml_token") && has(src, "DSML") && (has(src, "function_calls") || has(src, "tool_calls"))) {
        return LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_2;
    }
    if (has(src, "tool\xe2\x96\x81"
                 "calls\xe2\x96\x81"
                 "begin")) {
        return has(src, "```json") ? LLAMAC_TOOL_FORMAT_DEEPSEEK_R1 : LLAMAC_TOOL_FORMAT_DEEPSEEK_V3_1;
    }
    if (has(src, "Tool usage guidelines:") && has(src, "<function name=\"") && has(src, "<param name=\"")) {
        return LLAMAC_TOOL_FORMAT_MINICPM5;
    }
    if (has(src, "'<|tool_call>call:'")) {
        return LLAMAC_TOOL_FORMAT_GEMMA4;
    }
    if ((has(src, "<|tool_list_start|>") && has(src, "<|tool_list_end|>")) || has(src, "List of tools: [")) {
        return LLAMAC_TOOL_FORMAT_LFM2; /* LFM2 (tool list in special tokens) and LFM2.5 (a plain list) */
    }
    if (has(src, "<|tools_prefix|>") && has(src, "<|tools_suffix|>")) {
        return LLAMAC_TOOL_FORMAT_APERTUS;
    }
    if (has(src, "<|open|>") && has(src, "<|close|>") && has(src, "<|end_of_msg|>")) {
        return LLAMAC_TOOL_FORMAT_KIMI_K3; /* its markers are its own: <|open|>tag attrs<|sep|>...<|close|>tag<|sep|> */
    }
    if (has(src, "<|tool_calls_section_begin|>") && has(src, "<|tool_call_begin|>")) {
        return LLAMAC_TOOL_FORMAT_KIMI_K2;
    }
    if (has(src, "<minimax:tool_call>") && has(src, "<invoke name=")) {
        return LLAMAC_TOOL_FORMAT_MINIMAX_M2;
    }
    if (has(src, "]<]minimax[>[") && has(src, "<tool_call>") && has(src, "<invoke name=")) {
        return LLAMAC_TOOL_FORMAT_MINIMAX_M3; /* every tag behind its namespace token */
    }
    if (has(src, "<arg_key>") && has(src, "<arg_value>")) {
        return LLAMAC_TOOL_FORMAT_GLM;
    }
    if (has(src, "<seed:tool_call>")) {
        return LLAMAC_TOOL_FORMAT_SEED_OSS;
    }
    if (has(src, "<|role_sep|>") && has(src, "<|message_sep|>") && !has(src, "<|function_call|>")) {
        return LLAMAC_TOOL_FORMAT_GIGACHAT3; /* one call, as the `function call` role's message */
    }
    if (has(src, "<|role_sep|>") && has(src, "<|message_sep|>") && has(src, "<|function_call|>")) {
        return LLAMAC_TOOL_FORMAT_GIGACHAT3_1; /* one call, after <|function_call|> in the assistant's message */
    }
    if (has(src, "<TOOLCALL>[")) {
        return LLAMAC_TOOL_FORMAT_NEMOTRON_V2;
    }
    if (has(src, "<tool_calls>[")) {
        return LLAMAC_TOOL_FORMAT_APRIEL; /* not MiniMax M1's <tool_calls> of JSON lines, which llama.cpp reads as text
                                           */
    }
    if (has(src, "<function=") && !has(src, "<parameter=")) {
        return LLAMAC_TOOL_FORMAT_FUNCTIONARY_V3_1;
    }
    if (has(src, "functools[")) {
        return LLAMAC_TOOL_FORMAT_FIREFUNCTION_V2;
    }
    if (has(src, "<tool_call>") && has(src, "<function=") && has(src, "<parameter=")) {
        return LLAMAC_TOOL_FORMAT_QWEN3_CODER;
    }
    if (has(src, "[TOOL_CALLS]")) {
        return has(src, "[ARGS]") ? LLAMAC_TOOL_FORMAT_MISTRAL_ARGS : LLAMAC_TOOL_FORMAT_MISTRAL;
    }
    if (has(src, "<tool_call>")) {
        return LLAMAC_TOOL_FORMAT_HERMES;
    }
    if (has(src, "<|python_tag|>") || (has(src, "<|start_header_id|>") && has(src, "\"parameters\""))) {
        return LLAMAC_TOOL_FORMAT_LLAMA3;
    }
    return LLAMAC_TOOL_FORMAT_GENERIC;
}

llamac_tool_parse_params llamac_tool_parse_params_default(void) {
    llamac_tool_parse_params p = {
        .format = LLAMAC_TOOL_FORMAT_GENERIC,
        .reasoning = LLAMAC_REASONING_DEEPSEEK,
        .reasoning_open = false,
        .parse_tool_calls = true,
    };
    return p;
}

/* ---- ids ---- */

/* "call_" and 24 characters from a generator seeded by the clock, the thread and a process-wide counter: unique
 * within a process, unpredictable enough for what ids are for (matching results to calls). */
static void make_id(char out[32]) {
    static atomic_ullong counter;
    static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";
    struct timespec ts;
    timespec_get(&ts, TIME_UTC);
    unsigned long long x = (unsigned long long)ts.tv_nsec ^ ((unsigned long long)ts.tv_sec << 30) ^
                           (atomic_fetch_add(&counter, 1) * 0x9E3779B97F4A7C15ull) ^ (unsigned long long)(size_t)out;
    memcpy(out, "call_", 5);
    for (int i = 0; i < 24; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out[5 + i] = alphabet[x % (sizeof alphabet - 1)];
    }
    out[29] = '\0';
}

/* ---- messages ---- */

void llamac_tool_message_free(llamac_tool_message *m) {
    if (!m) {
        return;
    }
    free(m->content);
    free(m->reasoning_content);
    for (size_t i = 0; i < m->n_tool_calls; i++) {
        free(m->tool_calls[i].id);
        free(m->tool_calls[i].name);
        free(m->tool_calls[i].arguments);
    }
    free(m->tool_calls);
    free(m);
}

static char *dup_buf(const llamac__dynbuf *b) {
    return llamac__strndup(llamac__dynbuf_ptr(b), llamac__dynbuf_len(b));
}

/* Builds a public message from `m`; ids[i] (may be NULL: new ids) names call i. */
static llamac_status to_message(const tc_msg *m, char (*ids)[32], llamac_tool_message **out) {
    *out = NULL;
    if (m->oom) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory while parsing tool calls");
    }
    llamac_tool_message *msg = llamac__calloc(1, sizeof *msg);
    if (!msg) {
        return LLAMAC_E_NO_MEMORY;
    }
    msg->content = dup_buf(&m->content);
    msg->reasoning_content = dup_buf(&m->reasoning);
    if (!msg->content || !msg->reasoning_content) {
        goto fail;
    }
    if (m->n_calls) {
        msg->tool_calls = llamac__calloc(m->n_calls, sizeof *msg->tool_calls);
        if (!msg->tool_calls) {
            goto fail;
        }
    }
    for (size_t i = 0; i < m->n_calls; i++) {
        llamac_tool_call *call = &msg->tool_calls[i];
        msg->n_tool_calls = i + 1;
        char id[32];
        if (!ids) {
            make_id(id);
        }
        call->id = llamac__strndup(ids ? ids[i] : id, strlen(ids ? ids[i] : id));
        call->name = dup_buf(&m->calls[i].name);
        call->arguments = dup_buf(&m->calls[i].args);
        if (!call->id || !call->name || !call->arguments) {
            goto fail;
        }
    }
    *out = msg;
    return llamac__ok();
fail:
    llamac_tool_message_free(msg);
    return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory while building a tool-call message");
}

static llamac_status check_params(const llamac_tool_parse_params *p, const char *fn) {
    if ((unsigned)p->format > TC_FORMAT_LAST) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: unknown tool format %d", fn, (int)p->format);
    }
    if ((unsigned)p->reasoning > LLAMAC_REASONING_DEEPSEEK) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "%s: unknown reasoning format %d", fn, (int)p->reasoning);
    }
    return LLAMAC_OK;
}

llamac_status llamac_tool_parse(const char *text, size_t len, const llamac_tool_parse_params *params,
                                llamac_tool_message **out) {
    if (out) {
        *out = NULL;
    }
    if (!out || (!text && len)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_parse: NULL argument");
    }
    llamac_tool_parse_params p = params ? *params : llamac_tool_parse_params_default();
    llamac_status st = check_params(&p, "llamac_tool_parse");
    if (st) {
        return st;
    }
    tc_msg m;
    tc_msg_init(&m);
    tc_parse(&p, text ? text : "", len, true, &m);
    st = to_message(&m, NULL, out);
    tc_msg_free(&m);
    return st;
}

/* ---- the stream ---- */

struct llamac_tool_stream {
    llamac_tool_parse_params params;
    llamac__dynbuf text;
    tc_msg cur;
    size_t sent_content, sent_reasoning;
    size_t parsed;     /* bytes of text the last step looked at */
    size_t n_heads;    /* calls whose first delta (id, name) was delivered */
    size_t n_ids;      /* calls that have an id */
    size_t *sent_args; /* per call: argument bytes delivered */
    char (*ids)[32];   /* per call */
    size_t cap_calls;
    bool finished;
    llamac_tool_message *snapshot; /* what llamac_tool_stream_message last returned */
};

llamac_status llamac_tool_stream_new(const llamac_tool_parse_params *params, llamac_tool_stream **out) {
    if (!out) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_stream_new: out is NULL");
    }
    *out = NULL;
    llamac_tool_parse_params p = params ? *params : llamac_tool_parse_params_default();
    llamac_status st = check_params(&p, "llamac_tool_stream_new");
    if (st) {
        return st;
    }
    llamac_tool_stream *s = llamac__calloc(1, sizeof *s);
    if (!s) {
        return LLAMAC_E_NO_MEMORY;
    }
    s->params = p;
    llamac__dynbuf_init(&s->text, TC_BUF_MAX);
    tc_msg_init(&s->cur);
    *out = s;
    return llamac__ok();
}

void llamac_tool_stream_free(llamac_tool_stream *s) {
    if (!s) {
        return;
    }
    llamac__dynbuf_free(&s->text);
    tc_msg_free(&s->cur);
    free(s->sent_args);
    free(s->ids);
    llamac_tool_message_free(s->snapshot);
    free(s);
}

/* Length of text[0, n) without an unfinished UTF-8 character at its end. */
static size_t whole_chars(const char *t, size_t n) {
    for (size_t back = 1; back <= 4 && back <= n; back++) {
        unsigned char c = (unsigned char)t[n - back];
        if ((c & 0xC0) == 0x80) {
            continue; /* a continuation byte: look further back for its lead */
        }
        size_t need = c < 0x80 ? 1 : (c & 0xE0) == 0xC0 ? 2 : (c & 0xF0) == 0xE0 ? 3 : (c & 0xF8) == 0xF0 ? 4 : 1;
        return need > back ? n - back : n;
    }
    return n;
}

static bool grows(const llamac__dynbuf *b, size_t sent) {
    return b->len > sent;
}

/* Gives every call of `cur` an id (and a sent-arguments count of 0) the first time it appears. */
static bool ensure_ids(llamac_tool_stream *s) {
    size_t n = s->cur.n_calls;
    if (n > s->cap_calls) {
        size_t cap = n * 2;
        size_t *sent = realloc(s->sent_args, cap * sizeof *sent);
        if (sent) {
            s->sent_args = sent;
        }
        char(*ids)[32] = realloc(s->ids, cap * sizeof *ids);
        if (ids) {
            s->ids = ids;
        }
        if (!sent || !ids) {
            s->cur.oom = true;
            return false;
        }
        s->cap_calls = cap;
    }
    for (; s->n_ids < n; s->n_ids++) {
        make_id(s->ids[s->n_ids]);
        s->sent_args[s->n_ids] = 0;
    }
    return true;
}

/* Sends what `cur` has beyond what was sent. False when the callback asked to stop or memory ran out. */
static bool send_deltas(llamac_tool_stream *s, llamac_tool_delta_fn fn, void *ud) {
    tc_msg *m = &s->cur;
    llamac_tool_delta d;
    if (grows(&m->reasoning, s->sent_reasoning)) {
        d = (llamac_tool_delta){ .kind = LLAMAC_TOOL_DELTA_REASONING,
                                 .text = m->reasoning.p + s->sent_reasoning,
                                 .len = m->reasoning.len - s->sent_reasoning };
        s->sent_reasoning = m->reasoning.len;
        if (fn && !fn(&d, ud)) {
            return false;
        }
    }
    if (grows(&m->content, s->sent_content)) {
        d = (llamac_tool_delta){ .kind = LLAMAC_TOOL_DELTA_CONTENT,
                                 .text = m->content.p + s->sent_content,
                                 .len = m->content.len - s->sent_content };
        s->sent_content = m->content.len;
        if (fn && !fn(&d, ud)) {
            return false;
        }
    }
    if (!ensure_ids(s)) {
        return false;
    }
    for (size_t i = 0; i < m->n_calls; i++) {
        const tc_call *call = &m->calls[i];
        bool head = i >= s->n_heads;
        if (!head && !grows(&call->args, s->sent_args[i])) {
            continue;
        }
        size_t from = s->sent_args[i];
        d = (llamac_tool_delta){ .kind = LLAMAC_TOOL_DELTA_CALL,
                                 .index = i,
                                 .id = head ? s->ids[i] : NULL,
                                 .name = head ? call->name.p : NULL,
                                 .text = call->args.p ? call->args.p + from : "",
                                 .len = call->args.len > from ? call->args.len - from : 0 };
        s->sent_args[i] = call->args.len > from ? call->args.len : from;
        if (head) {
            s->n_heads = i + 1;
        }
        if (fn && !fn(&d, ud)) {
            return false;
        }
    }
    return true;
}

static llamac_status stream_step(llamac_tool_stream *s, bool final, llamac_tool_delta_fn fn, void *ud) {
    size_t n = final ? s->text.len : whole_chars(llamac__dynbuf_ptr(&s->text), s->text.len);
    llamac_tool_format f = s->params.format;
    bool messages =
        f == LLAMAC_TOOL_FORMAT_KIMI_K3 || f == LLAMAC_TOOL_FORMAT_SOLAR_OPEN || f == LLAMAC_TOOL_FORMAT_MUSE;
    if (!s->params.parse_tool_calls && !messages && s->cur.content.len > 0) {
        /* Without tool calls, once content has begun everything after it is content as it stands (the think block,
         * if any, is behind; not so for the formats whose messages close - Kimi K3's response section, Solar Open's
         * and Muse's messages): append the new text instead of parsing the whole reply again at every token. */
        if (n > s->parsed) {
            tc_buf_add(&s->cur.content, s->text.p + s->parsed, n - s->parsed, &s->cur.oom);
        }
    } else {
        tc_parse(&s->params, s->text.p ? s->text.p : "", n, final, &s->cur);
    }
    s->parsed = n;
    if (s->cur.oom) {
        return llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory while parsing tool calls");
    }
    if (!send_deltas(s, fn, ud) && s->cur.oom) {
        return LLAMAC_E_NO_MEMORY;
    }
    return llamac__ok();
}

llamac_status llamac_tool_stream_push(llamac_tool_stream *s, const char *text, size_t len, llamac_tool_delta_fn fn,
                                      void *ud) {
    if (!s || (!text && len)) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_stream_push: NULL argument");
    }
    if (s->finished) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_stream_push: the stream is finished");
    }
    size_t held = s->text.len;
    if (len > 0 && !llamac__dynbuf_add(&s->text, text, len)) {
        return llamac__dynbuf_error(&s->text) == LLAMAC__DYNBUF_TOO_BIG
                   ? llamac__fail(LLAMAC_E_NO_MEMORY,
                                  "%zu bytes of output are more than a tool-call stream holds (%zu)", held + len,
                                  TC_BUF_MAX)
                   : llamac__fail(LLAMAC_E_NO_MEMORY, "out of memory holding %zu bytes of output", held + len);
    }
    return stream_step(s, false, fn, ud);
}

llamac_status llamac_tool_stream_finish(llamac_tool_stream *s, llamac_tool_delta_fn fn, void *ud) {
    if (!s) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_stream_finish: NULL stream");
    }
    if (s->finished) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_stream_finish: the stream is finished");
    }
    s->finished = true;
    return stream_step(s, true, fn, ud);
}

const llamac_tool_message *llamac_tool_stream_message(llamac_tool_stream *s) {
    if (!s) {
        return NULL;
    }
    llamac_tool_message_free(s->snapshot);
    s->snapshot = NULL;
    /* Calls not yet announced by a delta get their ids now, so the ids agree with the deltas that follow. */
    if (!ensure_ids(s)) {
        return NULL;
    }
    if (to_message(&s->cur, s->cur.n_calls ? s->ids : NULL, &s->snapshot) != LLAMAC_OK) {
        return NULL;
    }
    return s->snapshot;
}

/* ---- history ---- */

static llamac_status bad_call(size_t mi, size_t ci, const char *what) {
    return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls[%zu]%s", mi, ci, what);
}

llamac_status llamac__tool_history_check_json(struct json_t *msgs) {
    size_t mi;
    json_t *msg;
    json_error_t err;
    json_array_foreach(msgs, mi, msg) {
        json_t *calls = json_object_get(msg, "tool_calls");
        if (!json_is_object(msg) || !calls || json_is_null(calls)) {
            continue;
        }
        if (!json_is_array(calls)) {
            return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages[%zu].tool_calls is not an array", mi);
        }
        size_t ci;
        json_t *call;
        json_array_foreach(calls, ci, call) {
            json_t *fn = json_object_get(call, "function");
            json_t *name = json_object_get(fn, "name"), *args = json_object_get(fn, "arguments");
            if (!json_is_object(fn)) {
                return bad_call(mi, ci, ".function is missing or not an object");
            }
            if (!json_is_string(name) || json_string_length(name) == 0) {
                return bad_call(mi, ci, ".function.name is missing or not a non-empty string");
            }
            if (!args || json_is_object(args) ||
                (json_is_string(args) &&
                 tc_json_ws(json_string_value(args), json_string_length(args)) == json_string_length(args))) {
                continue; /* absent or empty arguments: a call without parameters */
            }
            if (!json_is_string(args)) {
                return bad_call(mi, ci, ".function.arguments is neither a JSON string nor an object");
            }
            json_t *parsed = json_loadb(json_string_value(args), json_string_length(args), 0, &err);
            bool object = json_is_object(parsed);
            json_decref(parsed);
            if (!parsed) {
                return llamac__fail(LLAMAC_E_INVALID_ARGUMENT,
                                    "messages[%zu].tool_calls[%zu].function.arguments is not valid JSON: %s at "
                                    "column %d",
                                    mi, ci, err.text, err.column);
            }
            if (!object) {
                return bad_call(mi, ci, ".function.arguments is JSON but not an object");
            }
        }
    }
    return LLAMAC_OK;
}

llamac_status llamac_tool_history_check(const char *messages_json) {
    if (!messages_json) {
        return llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "llamac_tool_history_check: messages is NULL");
    }
    json_error_t err;
    json_t *msgs = json_loads(messages_json, 0, &err);
    llamac_status st;
    if (!json_is_array(msgs)) {
        st = llamac__fail(LLAMAC_E_INVALID_ARGUMENT, "messages is not a JSON array%s%s", msgs ? "" : ": ",
                          msgs ? "" : err.text);
    } else if ((st = llamac__tool_history_check_json(msgs)) == LLAMAC_OK) {
        llamac__ok();
    }
    json_decref(msgs);
    return st;
}
