/*
 * fuzz_toolcall.c - libFuzzer target for the tool-call parsers: model output is untrusted bytes.
 *
 * The first byte picks the format (low nibble; 15 with bits 6-7 picks 15-18, 14 with bits 6-7 = 1-3 picks 19-21, 13
 * and 12 with bits 6-7 = 2-3 pick 22-23 and 24-25, 11 with bits 6-7 = 1-3 picks 26-28), the reasoning handling (bit 4:
 * none, bit 5: thinking already open) and a cut position for a two-piece stream (bits 6-7, scaled); the rest is the
 * output. Invariants checked: parsing never fails, every call's arguments are a JSON object (checked through
 * llamac_tool_history_check), and the stream - fed one byte at a time, and in two pieces - adds up to exactly the
 * complete parse. Each output is read twice: without tools, and with tools whose schemas type the XML-ish families'
 * values.
 */
#include "llamac.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct sum {
    char *content, *reasoning, *args[64];
    size_t n_content, n_reasoning, n_args[64];
    size_t n_calls;
    bool bad;
} sum;

static void grow(char **dst, size_t *n, const char *s, size_t len) {
    char *p = realloc(*dst, *n + len + 1);
    if (!p) {
        abort();
    }
    memcpy(p + *n, s, len);
    *n += len;
    p[*n] = '\0';
    *dst = p;
}

static void grow_s(char **dst, size_t *n, const char *s) {
    grow(dst, n, s, strlen(s));
}

static bool on_delta(const llamac_tool_delta *d, void *ud) {
    sum *s = ud;
    if (d->kind == LLAMAC_TOOL_DELTA_CONTENT) {
        grow(&s->content, &s->n_content, d->text, d->len);
    } else if (d->kind == LLAMAC_TOOL_DELTA_REASONING) {
        grow(&s->reasoning, &s->n_reasoning, d->text, d->len);
    } else if (d->index < 64) {
        if (d->index == s->n_calls) {
            s->bad |= !d->id || !d->name;
            s->n_calls++;
        } else {
            s->bad |= d->index > s->n_calls || d->id || d->name;
        }
        grow(&s->args[d->index], &s->n_args[d->index], d->text, d->len);
    }
    return true;
}

static void sum_free(sum *s) {
    free(s->content);
    free(s->reasoning);
    for (size_t i = 0; i < 64; i++) {
        free(s->args[i]);
    }
}

static bool same(const char *a, size_t n, const char *b) {
    return strlen(b) == n && (n == 0 || memcmp(a, b, n) == 0);
}

/* Streams text in pieces of `piece` bytes (0: two pieces cut at `cut`) and compares with the message. */
static void check_stream(const llamac_tool_parse_params *p, const char *text, size_t len, size_t piece, size_t cut,
                         const llamac_tool_message *m) {
    llamac_tool_stream *st = NULL;
    if (llamac_tool_stream_new(p, &st) != LLAMAC_OK) {
        abort();
    }
    sum s;
    memset(&s, 0, sizeof s);
    if (piece) {
        for (size_t i = 0; i < len; i += piece) {
            if (llamac_tool_stream_push(st, text + i, len - i < piece ? len - i : piece, on_delta, &s) != LLAMAC_OK) {
                abort();
            }
        }
    } else if (llamac_tool_stream_push(st, text, cut, on_delta, &s) != LLAMAC_OK ||
               llamac_tool_stream_push(st, text + cut, len - cut, on_delta, &s) != LLAMAC_OK) {
        abort();
    }
    if (llamac_tool_stream_finish(st, on_delta, &s) != LLAMAC_OK) {
        abort();
    }
    bool ok = !s.bad && same(s.content, s.n_content, m->content) &&
              same(s.reasoning, s.n_reasoning, m->reasoning_content) && s.n_calls == m->n_tool_calls;
    for (size_t i = 0; ok && i < s.n_calls && i < 64; i++) {
        ok = same(s.args[i], s.n_args[i], m->tool_calls[i].arguments);
    }
    if (!ok) {
        fprintf(stderr, "fuzz_toolcall: the stream (pieces of %zu, cut %zu) differs from the complete parse\n", piece,
                cut);
        abort();
    }
    sum_free(&s);
    llamac_tool_stream_free(st);
}

/* Appends `s` as a JSON string literal. */
static void json_str(char **dst, size_t *n, const char *s) {
    grow(dst, n, "\"", 1);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        char esc[8];
        if (c == '"' || c == '\\') {
            esc[0] = '\\', esc[1] = (char)c;
            grow(dst, n, esc, 2);
        } else if (c < 0x20) {
            snprintf(esc, sizeof esc, "\\u%04x", c);
            grow(dst, n, esc, 6);
        } else {
            grow(dst, n, (const char *)&c, 1);
        }
    }
    grow(dst, n, "\"", 1);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* The tools of the second reading: typed parameters under names the corpus's calls use. */
static const char TOOLS[] =
    "[{\"type\":\"function\",\"function\":{\"name\":\"get_weather\",\"parameters\":{\"type\":\"object\","
    "\"properties\":{\"city\":{\"type\":\"string\"},\"days\":{\"type\":\"integer\"},\"unit\":{\"enum\":[\"c\",1]},"
    "\"m\":{\"type\":[\"string\",\"number\"]},\"a\":{}}}}},{\"type\":\"function\",\"function\":{\"name\":\"f\","
    "\"parameters\":{\"type\":\"object\",\"properties\":{\"a\":{\"type\":\"string\"},\"b\":{\"type\":\"boolean\"}}}}}]";

/* Reads `text` with `p` (`first`: the input's first byte, which places the cut) and checks the invariants. */
static void one(const llamac_tool_parse_params *p, const char *text, size_t len, uint8_t first) {
    llamac_tool_message *m = NULL;
    if (llamac_tool_parse(text, len, p, &m) != LLAMAC_OK) {
        abort();
    }
    /* Arguments are JSON objects: the history check parses them as a server would. */
    if (m->n_tool_calls && llamac_utf8_valid(text, len, NULL)) {
        char *h = NULL;
        size_t hn = 0;
        grow_s(&h, &hn, "[{\"role\":\"assistant\",\"tool_calls\":[");
        for (size_t i = 0; i < m->n_tool_calls; i++) {
            grow_s(&h, &hn,
                   i ? ",{\"function\":{\"name\":\"f\",\"arguments\":"
                     : "{\"function\":{\"name\":\"f\",\"arguments\":");
            json_str(&h, &hn, m->tool_calls[i].arguments);
            grow_s(&h, &hn, "}}");
        }
        grow_s(&h, &hn, "]}]");
        if (llamac_tool_history_check(h) != LLAMAC_OK) {
            fprintf(stderr, "fuzz_toolcall: arguments are not a JSON object: %s\n", llamac_last_error());
            abort();
        }
        free(h);
    }
    check_stream(p, text, len, 1, 0, m);
    check_stream(p, text, len, 0, len * ((size_t)(first >> 6)) / 4, m);
    llamac_tool_message_free(m);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 1 || size > 4096) {
        return 0;
    }
    llamac_tool_parse_params p = llamac_tool_parse_params_default();
    unsigned format = data[0] & 0x0F;
    unsigned high = (unsigned)(data[0] >> 6);
    p.format = (llamac_tool_format)(format == 15                ? 15u + high
                                    : format == 14 && high >= 1 ? 18u + high
                                    : format == 13 && high >= 2 ? 20u + high
                                    : format == 12 && high >= 2 ? 22u + high
                                    : format == 11 && high >= 1 ? 25u + high
                                    : format == 10 && high >= 1 ? 28u + high
                                                                : format);
    if (p.format > LLAMAC_TOOL_FORMAT_MUSE) {
        p.format = LLAMAC_TOOL_FORMAT_HERMES;
    }
    p.reasoning = (data[0] & 0x10) ? LLAMAC_REASONING_NONE : LLAMAC_REASONING_DEEPSEEK;
    p.reasoning_open = (data[0] & 0x20) != 0;
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    if (memchr(text, '\0', len)) {
        return 0; /* the message's strings are NUL-terminated: text with NUL bytes cannot be compared exactly */
    }
    one(&p, text, len, data[0]);
    p.tools = TOOLS;
    one(&p, text, len, data[0]);
    p.think_ends_at_call = true; /* (a call marker ends the thinking too: Qwen 3.5, Ling 3) */
    one(&p, text, len, data[0]);
    return 0;
}
